#include "event_input.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "events/json_lines.h"

namespace tidewatch::tidectl {

absl::StatusOr<int64_t> ReadEventFile(
    const std::string& path, const std::string& command, bool quiet, events::RejectCounter& rejects,
    absl::FunctionRef<absl::Status(const tidewatch::v1::CallEvent&)> on_event) {
  FILE* in = stdin;
  if (path != "-") {
    in = std::fopen(path.c_str(), "rb");
    if (in == nullptr) {
      return absl::NotFoundError(absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
    }
  }
  events::JsonLinesReader reader(in);
  tidewatch::v1::CallEvent event;
  const bool tty = isatty(STDERR_FILENO);
  const absl::Time started = absl::Now();
  int64_t records = 0;
  int64_t shown_errors = 0;
  constexpr int64_t kMaxShownErrors = 20;
  events::JsonLinesReader::Line record;
  absl::Status stopped;
  while (reader.Next(record)) {
    ++records;
    events::RejectReason reason = events::RejectReason::kBadJson;
    absl::Status s = record.too_long
                         ? absl::InvalidArgumentError("record longer than 1 MiB: not a CallEvent")
                         : events::ParseJsonEvent(record.text, event, &reason);
    if (!s.ok()) {
      rejects.Add(reason);
      if (!quiet && shown_errors++ < kMaxShownErrors) {
        std::cerr << path << ":" << record.number << ": " << s.message() << "\n";
      }
      continue;
    }
    stopped = on_event(event);
    if (!stopped.ok()) break;
    if (!quiet && records % 1000000 == 0) {
      double secs = absl::ToDoubleSeconds(absl::Now() - started);
      std::fprintf(stderr, "%s%s: %lld records, %.0f/s%s", tty ? "\r" : "", command.c_str(),
                   static_cast<long long>(records), records / std::max(secs, 1e-9),
                   tty ? "" : "\n");
    }
  }
  const absl::Status read_status = reader.status();
  if (in != stdin) std::fclose(in);
  if (!stopped.ok()) return stopped;
  if (!read_status.ok()) {
    return absl::DataLossError(absl::StrCat("reading ", path, ": ", read_status.message()));
  }
  if (!quiet && tty && records >= 1000000) std::fputs("\n", stderr);
  if (!quiet && shown_errors > kMaxShownErrors) {
    std::cerr << "tidectl " << command << ": " << shown_errors - kMaxShownErrors
              << " more bad records not shown\n";
  }
  return records;
}

std::string SetAsideSection(const std::map<std::string, int64_t>& counts) {
  std::string out;
  if (counts.empty()) absl::StrAppend(&out, "  (none)\n");
  for (const auto& [k, v] : counts) absl::StrAppend(&out, absl::StrFormat("  %-20s %d\n", k, v));
  return out;
}

}  // namespace tidewatch::tidectl
