// Command-line parsing shared by tidewatch's Abseil-flags services
// (tidewatchd, tide-sim, queuelog-bridge).
//
// Abseil flag names cannot contain '-', but the docs spell multi-word flags
// with dashes (--queue-log-out); and Abseil's --help lists the flags of the
// file named like the program, which for these services is "main.cc". So:
//
//   int main(int argc, char** argv) {
//     ParseServiceFlags(argc, argv, "what it does.\n  tide-sim --scenario FILE ...",
//                       "tide-sim/main.cc");
//     ...
//   }
#ifndef TIDEWATCH_SERVICES_COMMON_SERVICE_FLAGS_H_
#define TIDEWATCH_SERVICES_COMMON_SERVICE_FLAGS_H_

#include <string>
#include <string_view>
#include <vector>

namespace tidewatch {

// `args` (the arguments after the program name) with '-' in flag names read as '_'
// ("--queue-log-out=x" becomes
// "--queue_log_out=x"; "-from-start" becomes "-from_start"). Values after
// '=', arguments that do not start with '-', and everything from "--" on
// are left as they are.
std::vector<std::string> UnderscoreFlagNames(std::vector<std::string> args);

// Sets the usage message, makes --help list the flags defined in files
// whose path contains `main_file` (e.g. "tide-sim/main.cc"), and parses
// argv with UnderscoreFlagNames() applied. Exits the process on bad flags
// or --help, as absl::ParseCommandLine does.
void ParseServiceFlags(int argc, char** argv, std::string_view usage, std::string_view main_file);

}  // namespace tidewatch

#endif  // TIDEWATCH_SERVICES_COMMON_SERVICE_FLAGS_H_
