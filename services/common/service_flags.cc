#include "service_flags.h"

#include <algorithm>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"

namespace tidewatch {

std::vector<std::string> UnderscoreFlagNames(std::vector<std::string> args) {
  for (std::string& a : args) {
    if (a == "--") break;
    if (a.rfind("-", 0) != 0) continue;
    const size_t dashes = a.rfind("--", 0) == 0 ? 2 : 1;
    const size_t end = std::min(a.find('='), a.size());
    for (size_t j = dashes; j < end; ++j) {
      if (a[j] == '-') a[j] = '_';
    }
  }
  return args;
}

void ParseServiceFlags(int argc, char** argv, std::string_view usage, std::string_view main_file) {
  absl::SetProgramUsageMessage(absl::string_view(usage.data(), usage.size()));
  absl::FlagsUsageConfig config;
  config.contains_help_flags = [file = std::string(main_file)](absl::string_view path) {
    return absl::StrContains(path, file);
  };
  config.contains_helpshort_flags = config.contains_help_flags;
  absl::SetFlagsUsageConfig(config);
  std::vector<std::string> args =
      UnderscoreFlagNames(std::vector<std::string>(argv + std::min(argc, 1), argv + argc));
  std::string program = argc > 0 ? argv[0] : "";
  std::vector<char*> rewritten = {program.data()};
  for (std::string& a : args) rewritten.push_back(a.data());
  absl::ParseCommandLine(static_cast<int>(rewritten.size()), rewritten.data());
}

}  // namespace tidewatch
