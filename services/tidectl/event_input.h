// Reading a JSON-lines CallEvent file for tidectl's commands (replay,
// publish), so every command validates and reports bad records the same
// way: each is counted by reason and reported on stderr as
// "FILE:LINE: reason" (the first 20, then how many more), and skipped.
//
//   events::RejectCounter rejects;
//   absl::StatusOr<int64_t> n = ReadEventFile(path, "replay", quiet, rejects,
//       [&](const v1::CallEvent& e) { engine.Apply(e); return absl::OkStatus(); });
//   if (!n.ok()) { std::cerr << "tidectl replay: " << n.status().message(); return 1; }
#ifndef TIDEWATCH_SERVICES_TIDECTL_EVENT_INPUT_H_
#define TIDEWATCH_SERVICES_TIDECTL_EVENT_INPUT_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "events/events.h"
#include "tidewatch/v1/events.pb.h"

namespace tidewatch::tidectl {

// Reads `path` ('-' for stdin); calls `on_event` with each valid event in
// order (an error from it stops the reading and is returned). `command`
// names the progress lines ("replay: 1000000 records, ..."). Returns the
// number of records read (valid or not); an error when the file cannot be
// opened or read.
absl::StatusOr<int64_t> ReadEventFile(
    const std::string& path, const std::string& command, bool quiet, events::RejectCounter& rejects,
    absl::FunctionRef<absl::Status(const tidewatch::v1::CallEvent&)> on_event);

// The "Set aside" table section: one "  reason  count" line per reason, or
// "  (none)".
std::string SetAsideSection(const std::map<std::string, int64_t>& counts);

}  // namespace tidewatch::tidectl

#endif  // TIDEWATCH_SERVICES_TIDECTL_EVENT_INPUT_H_
