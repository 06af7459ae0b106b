// Decoding, validating and encoding CallEvents.
//
// Two wire forms carry the same CallEvent (proto/tidewatch/v1/events.proto):
// binary protobuf (the Kafka value) and JSON lines (the protobuf JSON
// mapping, one object per line: replay files, simulator output, JSON
// ingest). Both decoders apply the same validation, and a record that fails
// yields an InvalidArgument status whose message names the problem, plus a
// RejectReason for counting. Bad records are counted and skipped by callers,
// never fatal.
//
//   tidewatch::v1::CallEvent event;
//   RejectReason reason;
//   absl::Status s = ParseJsonEvent(line, event, &reason);
//   if (!s.ok()) { rejects.Add(reason); log(s); continue; }
//
// The JSON codec is hand-written for speed (replay must sustain hundreds of
// thousands of events per second); tests hold it to protobuf's own JSON
// mapping.
#ifndef TIDEWATCH_LIBS_EVENTS_EVENTS_H_
#define TIDEWATCH_LIBS_EVENTS_EVENTS_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "tidewatch/v1/events.pb.h"

namespace tidewatch::events {

// Why a record was set aside. The names (RejectReasonName) are stable: they
// are metric label values and JSON keys.
enum class RejectReason {
  kBadJson,           // not a JSON object / syntax error / wrong value type
  kBadProtobuf,       // binary bytes that do not parse as a CallEvent
  kUnknownField,      // a JSON key that is not part of CallEvent
  kUnknownKind,       // no kind (queued, answered, ...) or an unknown one
  kMissingEventId,
  kMissingLineId,
  kMissingCallId,     // every kind but agent_state needs a call_id
  kMissingEventTime,
  kNegativeDuration,  // wait, talk or wrap below zero
  kAbsurdTimestamp,   // event_time before 2000-01-01 or after 2100-01-01
  kBadValue,          // e.g. an enum value out of range, bad id characters
};
inline constexpr int kNumRejectReasons = 11;

// Stable snake_case name, e.g. "missing_line_id".
std::string_view RejectReasonName(RejectReason reason);

// Semantic checks shared by every decoder: ids present, a kind set,
// event_time present and plausible, durations non-negative, enums known.
absl::Status ValidateEvent(const tidewatch::v1::CallEvent& event,
                           RejectReason* reason = nullptr);

// Parses one JSON object (one line of a JSON-lines file, without the
// newline) into `out` (cleared first) and validates it. Accepts what
// protobuf's JSON parser accepts for CallEvent: lowerCamel or original field
// names, RFC 3339 timestamps, "1.5s" durations, enum names or numbers.
absl::Status ParseJsonEvent(std::string_view json, tidewatch::v1::CallEvent& out,
                            RejectReason* reason = nullptr);

// Parses binary protobuf bytes into `out` and validates it.
absl::Status ParseBinaryEvent(std::string_view bytes, tidewatch::v1::CallEvent& out,
                              RejectReason* reason = nullptr);

// Appends the canonical JSON form of `event` (protobuf JSON mapping,
// lowerCamel names, no whitespace, no trailing newline) to `out`.
// Byte-stable: the same event always gives the same bytes.
void AppendJsonEvent(const tidewatch::v1::CallEvent& event, std::string& out);

// Event time as absl::Time (InfinitePast when unset).
absl::Time EventTime(const tidewatch::v1::CallEvent& event);

// Counts set-aside records by reason.
class RejectCounter {
 public:
  void Add(RejectReason reason) { ++counts_[static_cast<int>(reason)]; }
  int64_t count(RejectReason reason) const { return counts_[static_cast<int>(reason)]; }
  int64_t total() const;
  // Non-zero counts by name, sorted by name.
  std::map<std::string, int64_t> ByName() const;

 private:
  int64_t counts_[kNumRejectReasons] = {};
};

}  // namespace tidewatch::events

#endif  // TIDEWATCH_LIBS_EVENTS_EVENTS_H_
