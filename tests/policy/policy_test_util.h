// Helpers shared by the libs/policy tests: load a YAML snippet and look for
// one error by path, line and message text.
//
//   ExpectError(kYaml, "defaults.tiers[0].sustain", LineOf(kYaml, "sustain: -1m"), "negative");
#ifndef TIDEWATCH_TESTS_POLICY_POLICY_TEST_UTIL_H_
#define TIDEWATCH_TESTS_POLICY_POLICY_TEST_UTIL_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "policy/policy.h"

namespace tidewatch::policy::testing {

inline constexpr char kSource[] = "test.yaml";

// 1-based line of the first occurrence of `needle` in `text`; 0 if absent.
inline int LineOf(std::string_view text, std::string_view needle) {
  const size_t pos = text.find(needle);
  if (pos == std::string_view::npos) return 0;
  int line = 1;
  for (size_t i = 0; i < pos; ++i) line += text[i] == '\n';
  return line;
}

// The error lines of loading `yaml` (empty if it loaded).
inline std::vector<std::string> ErrorLines(std::string_view yaml) {
  absl::StatusOr<CompiledPolicy> policy = LoadPolicyYaml(yaml, kSource);
  if (policy.ok()) return {};
  EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument);
  std::string message(policy.status().message());
  return absl::StrSplit(message, '\n');
}

// Loading `yaml` fails with an error line "test.yaml:LINE:COL: PATH: ..."
// whose message contains `text`.
inline ::testing::AssertionResult HasError(std::string_view yaml, std::string_view path, int line,
                                           std::string_view text) {
  if (line <= 0) return ::testing::AssertionFailure() << "bad expected line " << line;
  const std::vector<std::string> lines = ErrorLines(yaml);
  const std::string prefix = absl::StrCat(kSource, ":", line, ":");
  const std::string at_path = absl::StrCat(": ", std::string(path), ": ");
  for (const std::string& l : lines) {
    const bool path_ok = path.empty() ? l.find(": ", prefix.size()) != std::string::npos
                                      : l.find(at_path) != std::string::npos;
    if (l.rfind(prefix, 0) == 0 && path_ok && l.find(text) != std::string::npos) {
      return ::testing::AssertionSuccess();
    }
  }
  auto failure = ::testing::AssertionFailure();
  failure << "no error at " << prefix << " path '" << path << "' containing '" << text
          << "'; errors were:";
  if (lines.empty()) failure << " (none: the policy loaded)";
  for (const std::string& l : lines) failure << "\n  " << l;
  return failure;
}

}  // namespace tidewatch::policy::testing

#endif  // TIDEWATCH_TESTS_POLICY_POLICY_TEST_UTIL_H_
