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
// mapping. Messages never carry the whole record: callers prefix the
// record's position (file:line or topic/partition/offset), and any value
// quoted in a message is cut to about 120 bytes.
//
// Reading a JSON-lines file line by line: see events/json_lines.h.
#ifndef TIDEWATCH_LIBS_EVENTS_EVENTS_H_
#define TIDEWATCH_LIBS_EVENTS_EVENTS_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "events/event_view.h"
#include "tidewatch/v1/events.pb.h"

namespace tidewatch::events {

// Why a record was set aside. The names (RejectReasonName) are stable: they
// are metric label values and JSON keys.
enum class RejectReason {
  kBadJson,       // not a JSON object / syntax error / wrong value type
  kBadProtobuf,   // binary bytes that do not parse as a CallEvent
  kUnknownField,  // a JSON key that is not part of CallEvent
  kUnknownKind,   // no kind (queued, answered, ...) or an unknown one
  kMissingEventId,
  kMissingLineId,
  kMissingCallId,  // every kind but agent_state needs a call_id
  kMissingEventTime,
  kNegativeDuration,  // wait, talk or wrap below zero
  kAbsurdTimestamp,   // event_time before 2000-01-01 or after 2100-01-01
  kBadValue,          // e.g. an enum value out of range, bad id characters
};
inline constexpr int kNumRejectReasons = 11;

// Stable snake_case name, e.g. "missing_line_id".
std::string_view RejectReasonName(RejectReason reason);

// Limits enforced by ValidateEvent.
//
// line_id becomes a metric label: 1..kMaxLineIdLength characters of
// [A-Za-z0-9._-].
inline constexpr int kMaxLineIdLength = 128;
// answered.wait, abandoned.wait, completed.talk and completed.wrap must lie
// in [0, kMaxEventDuration].
inline constexpr absl::Duration kMaxEventDuration = absl::Hours(7 * 24);
// event_time must lie in [kMinEventTimeUnixSeconds, kMaxEventTimeUnixSeconds):
// 2000-01-01T00:00:00Z (inclusive) to 2100-01-01T00:00:00Z (exclusive).
inline constexpr int64_t kMinEventTimeUnixSeconds = 946684800;
inline constexpr int64_t kMaxEventTimeUnixSeconds = 4102444800;

// Semantic checks shared by every decoder, in this order: exactly one kind
// set (kUnknownKind); event_id, line_id present and line_id well formed;
// call_id present for every kind but agent_state; event_time present and
// within [2000-01-01, 2100-01-01); durations valid, non-negative and at most
// kMaxEventDuration; enum values known; agent_state has an agent_id and a
// specified state. Returns the first problem found.
absl::Status ValidateEvent(const tidewatch::v1::CallEvent& event, RejectReason* reason = nullptr);
// The same checks on a view (the same statuses).
absl::Status ValidateEvent(const CallEventView& event, RejectReason* reason = nullptr);

// Parses one JSON object (one line of a JSON-lines file, without the
// newline) into `out` (cleared first) and validates it. Accepts what
// protobuf's JSON parser accepts for CallEvent: lowerCamel or original field
// names, RFC 3339 timestamps, "1.5s" durations, enum names or numbers.
//
// Reuse one `out` across calls: its string buffers and submessages are
// recycled, so a replay loop does not allocate per record. On failure
// `out` is left empty.
//
// In detail (all of this matches google::protobuf::util::JsonStringToMessage
// of protobuf 3.21, which the tests check case by case and on random
// mutations):
// - whitespace (space, \t, \n, \v, \f, \r) between tokens; `null` as any
//   field's value means "leave unset" (it does not clear an earlier value);
//   a repeated key sets the field again (last wins);
// - strings: \" \\ \/ \b \f \n \r \t \uXXXX escapes (surrogate pairs
//   combined; a lone surrogate is an error), must be valid UTF-8; protobuf's
//   leniencies are kept: 'single-quoted' strings and keys, unquoted
//   identifier keys, a trailing comma before '}', \v for a vertical tab and
//   any other unknown escape `\x` meaning `x`;
// - int32 fields: JSON numbers with an integral value (1, 1.0, 1e2) or
//   decimal strings ("5", "+5", "-0");
// - enums: the value's name, its number (any int32, checked later by
//   ValidateEvent) or the number of a known value as a string ("2");
// - bool: true/false, or a string true/t/yes/y/1/false/f/no/n/0 (any case);
// - Timestamp: "YYYY-MM-DDThh:mm:ss[.f{1,}](Z|+hh:mm|-hh:mm)" (fraction
//   digits after the ninth are ignored; like protobuf, an embedded \u0000
//   ends the text), or {"seconds":..,"nanos":..};
// - Duration: "[-]S[.fffffffff]s" with |S| <= 315576000000 (more fraction
//   digits only if they are zeros), or {"seconds":..,"nanos":..}.
// Where protobuf has a bug we do not copy it: a duration's seconds above
// 2^64 - 1 wrap around in protobuf, here they are rejected.
// Rejections: a syntax error, a wrong value type or a malformed
// timestamp/duration/number is kBadJson; a key that is not a field is
// kUnknownField; two kinds set is kUnknownKind; an unknown enum name is
// kBadValue; then everything ValidateEvent checks.
absl::Status ParseJsonEvent(std::string_view json, tidewatch::v1::CallEvent& out,
                            RejectReason* reason = nullptr);

// ParseJsonEvent without ValidateEvent: only syntax, field names, value
// types and "at most one kind" are checked. For tools that inspect or
// convert records as they are, and for tests.
absl::Status DecodeJsonEvent(std::string_view json, tidewatch::v1::CallEvent& out,
                             RejectReason* reason = nullptr);

// Parses binary protobuf bytes into `out` and validates it. Unknown fields
// (from a newer schema) are kept; an unknown kind is kUnknownKind. (To
// decode without a message: EventDecoder, event_view.h.)
absl::Status ParseBinaryEvent(std::string_view bytes, tidewatch::v1::CallEvent& out,
                              RejectReason* reason = nullptr);

// Appends the canonical JSON form of `event` (protobuf JSON mapping,
// lowerCamel names, no whitespace, no trailing newline) to `out`.
// Byte-stable: the same event always gives the same bytes.
//
// Fields come in field-number order; empty strings, zero numbers and zero
// enums are omitted, set messages are always written (a zero wait is
// "0s"); timestamps are RFC 3339 in UTC with 0, 3, 6 or 9 fraction digits,
// durations like "1.500s", enums by name (an unknown number as a number).
// For every event that passes ValidateEvent (and every event protobuf can
// print) the bytes equal google::protobuf::util::MessageToJsonString's.
// Events protobuf cannot print (a timestamp outside years 1..9999, a
// duration with nanos out of range, invalid UTF-8) still give well-formed
// JSON: values are normalised and invalid UTF-8 becomes U+FFFD.
void AppendJsonEvent(const tidewatch::v1::CallEvent& event, std::string& out);

// AppendJsonEvent into a new string.
std::string JsonEvent(const tidewatch::v1::CallEvent& event);

// Event time as absl::Time (InfinitePast when unset).
absl::Time EventTime(const tidewatch::v1::CallEvent& event);
absl::Time EventTime(const CallEventView& event);

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
