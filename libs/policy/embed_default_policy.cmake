# Generates a C++ source holding a text file as a raw string literal.
# Run by the build (see CMakeLists.txt) as:
#   cmake -DINPUT=file.yaml -DTEMPLATE=x.cc.in -DOUTPUT=x.cc -P embed_default_policy.cmake
# configure_file() only rewrites OUTPUT when its content changes.
foreach(_var INPUT TEMPLATE OUTPUT)
  if(NOT DEFINED ${_var})
    message(FATAL_ERROR "embed_default_policy.cmake: ${_var} is not set")
  endif()
endforeach()

set(EMBED_DELIMITER "tw_policy_yaml")  # at most 16 characters
file(READ "${INPUT}" EMBED_TEXT)
string(FIND "${EMBED_TEXT}" ")${EMBED_DELIMITER}\"" _clash)
if(NOT _clash EQUAL -1)
  message(FATAL_ERROR "${INPUT} contains the raw string delimiter )${EMBED_DELIMITER}\"")
endif()
configure_file("${TEMPLATE}" "${OUTPUT}" @ONLY)
