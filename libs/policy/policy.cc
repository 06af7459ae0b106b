#include "policy/policy.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "policy/compile.h"
#include "policy/diagnostics.h"
#include "policy/yaml_mapper.h"

namespace tidewatch::policy {
namespace {

// Larger than any real policy; guards against being pointed at a wrong file.
constexpr size_t kMaxPolicyFileBytes = 16 << 20;

absl::Status ErrorsToStatus(std::string_view source_name, const std::vector<PolicyError>& errors) {
  return absl::InvalidArgumentError(FormatPolicyErrors(source_name, errors));
}

}  // namespace

std::string PolicyError::ToString(std::string_view source_name) const {
  std::string out;
  if (line > 0) {
    absl::StrAppend(&out, internal::ToAbsl(source_name), ":", line, ":", column, ": ");
  } else if (path.empty() && !source_name.empty()) {
    absl::StrAppend(&out, internal::ToAbsl(source_name), ": ");
  }
  if (!path.empty()) absl::StrAppend(&out, path, ": ");
  absl::StrAppend(&out, message);
  return out;
}

std::string FormatPolicyErrors(std::string_view source_name,
                               const std::vector<PolicyError>& errors) {
  return absl::StrJoin(errors, "\n", [source_name](std::string* out, const PolicyError& error) {
    absl::StrAppend(out, error.ToString(source_name));
  });
}

absl::Status ParsePolicyYaml(std::string_view yaml_text, std::string_view source_name,
                             tidewatch::v1::Policy* out, std::vector<PolicyError>* errors) {
  internal::SourceMap source_map;
  internal::Diagnostics diag(&source_map);
  out->Clear();
  internal::MapPolicyYaml(internal::ToAbsl(yaml_text), out, &source_map, &diag);
  std::vector<PolicyError> found = diag.Take();
  absl::Status status = found.empty() ? absl::OkStatus() : ErrorsToStatus(source_name, found);
  if (errors != nullptr) *errors = std::move(found);
  return status;
}

absl::Status LoadPolicyYamlDetailed(std::string_view yaml_text, std::string_view source_name,
                                    CompiledPolicy* out, std::vector<PolicyError>* errors) {
  internal::SourceMap source_map;
  internal::Diagnostics diag(&source_map);
  tidewatch::v1::Policy proto;
  CompiledPolicy scratch;
  if (internal::MapPolicyYaml(internal::ToAbsl(yaml_text), &proto, &source_map, &diag)) {
    internal::CompileChecked(proto, &diag, out != nullptr ? out : &scratch);
  }
  std::vector<PolicyError> found = diag.Take();
  absl::Status status = found.empty() ? absl::OkStatus() : ErrorsToStatus(source_name, found);
  if (errors != nullptr) *errors = std::move(found);
  return status;
}

absl::StatusOr<CompiledPolicy> LoadPolicyYaml(std::string_view yaml_text,
                                              std::string_view source_name) {
  CompiledPolicy compiled;
  absl::Status status = LoadPolicyYamlDetailed(yaml_text, source_name, &compiled, nullptr);
  if (!status.ok()) return status;
  return compiled;
}

absl::StatusOr<CompiledPolicy> LoadPolicyFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadPolicyFile(path);
  if (!text.ok()) return text.status();
  return LoadPolicyYaml(*text, path);
}

absl::StatusOr<std::string> ReadPolicyFile(const std::string& path) {
  struct Closer {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  std::unique_ptr<std::FILE, Closer> file(std::fopen(path.c_str(), "rb"));
  if (file == nullptr) {
    const int error = errno;
    const std::string message =
        absl::StrCat("cannot read policy file ", path, ": ", std::strerror(error));
    if (error == ENOENT) return absl::NotFoundError(message);
    if (error == EACCES) return absl::PermissionDeniedError(message);
    return absl::UnavailableError(message);
  }
  std::string text;
  char buffer[1 << 16];
  while (true) {
    const size_t n = std::fread(buffer, 1, sizeof(buffer), file.get());
    text.append(buffer, n);
    if (text.size() > kMaxPolicyFileBytes) {
      return absl::InvalidArgumentError(absl::StrCat("policy file ", path, " is larger than ",
                                                     kMaxPolicyFileBytes >> 20,
                                                     " MiB; is it the right file?"));
    }
    if (n < sizeof(buffer)) break;
  }
  if (std::ferror(file.get())) {
    const int error = errno;
    return absl::UnavailableError(
        absl::StrCat("cannot read policy file ", path, ": ", std::strerror(error)));
  }
  return text;
}

absl::Status CompilePolicyDetailed(const tidewatch::v1::Policy& policy, CompiledPolicy* out,
                                   std::vector<PolicyError>* errors) {
  internal::Diagnostics diag(nullptr);
  CompiledPolicy scratch;
  internal::CompileChecked(policy, &diag, out != nullptr ? out : &scratch);
  std::vector<PolicyError> found = diag.Take();
  absl::Status status = found.empty() ? absl::OkStatus() : ErrorsToStatus("", found);
  if (errors != nullptr) *errors = std::move(found);
  return status;
}

absl::StatusOr<CompiledPolicy> CompilePolicy(const tidewatch::v1::Policy& policy) {
  CompiledPolicy compiled;
  absl::Status status = CompilePolicyDetailed(policy, &compiled, nullptr);
  if (!status.ok()) return status;
  return compiled;
}

}  // namespace tidewatch::policy
