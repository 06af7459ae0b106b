// Asterisk queue_log lines -> CallEvents.
//
// app_queue writes one line per queue event to queue_log:
//   time|callid|queuename|agent|event|data1|data2|...
// (Unix seconds; the channel's uniqueid or "NONE"; the queue or "NONE"; the
// member interface or "NONE"; the event name; event-specific data). This
// file parses such lines (ParseQueueLogLine) and maps them onto the
// CallEvent contract (QueueLogMapper) with a LineMap naming the line id of
// each queue. The mapping, field by field, is in docs/integrations.md:
//
//   ENTERQUEUE|url|callerid|position        queued{caller_key = HMAC(callerid)}
//     (the caller id counted from the end: a '|' in the URL adds fields)
//   CONNECT|holdtime|bridgedchan|ringtime   answered{agent_id, wait = holdtime}
//   ABANDON|position|origpos|waittime       abandoned{wait}
//     (a negative holdtime / waittime, which Asterisk writes after the
//     clock stepped back, leaves wait out: MapResult::wait_dropped)
//   EXITWITHTIMEOUT|position|origpos|wait   left_queue{TIMEOUT}
//   EXITWITHKEY|key|position|origpos|wait   left_queue{EXIT_KEY}, or
//                                           callback_requested for the
//                                           line map's callback_exit_keys
//   EXITEMPTY|position|origpos|waittime     left_queue{EMPTY}
//   WITHDRAW|position|origpos|waittime|info left_queue{TRANSFER}
//     (AMI QueueWithdrawCaller, Asterisk 16.25+ / 18.11+ / 19.3+: the caller
//     is sent back to the dialplan; not a hang-up, so not abandoned)
//   COMPLETEAGENT / COMPLETECALLER|holdtime|calltime|origpos
//                                           completed{agent_id, talk}
//   TRANSFER|exten|context|holdtime|calltime|origpos, BLINDTRANSFER (same),
//   ATTENDEDTRANSFER|...|holdtime|calltime|origpos
//                                           completed{agent_id, talk}
//   ADDMEMBER / UNPAUSE                     agent_state{AVAILABLE}
//   REMOVEMEMBER                            agent_state{LOGGED_OUT}
//   PAUSE                                   agent_state{AWAY}
//   RINGNOANSWER, RINGCANCELED, QUEUESTART, CONFIGRELOAD, PAUSEALL, ...
//                                           ignored (counted by event name)
//
//   ASSIGN_OR_RETURN(LineMap map, LoadLineMapFile("lines.yaml"));
//   QueueLogMapper mapper(map, hasher);
//   v1::CallEvent event;
//   MapResult r = mapper.Map(line_text, byte_offset, event);
//   switch (r.outcome) { case MapOutcome::kEvent: publish(event); ... }
//
// Privacy: a MapResult's message never quotes a field that could hold a
// caller number (see ShowField); the raw caller id is hashed and dropped.
//
// callid and agent bytes that are not valid UTF-8 (a member name in
// Latin-1, say) are written as %XX (Utf8Safe) in call_id, agent_id and
// event_id: proto3 strings must be UTF-8, and the same line always gives
// the same ids.
#ifndef TIDEWATCH_LIBS_QUEUELOG_QUEUE_LOG_H_
#define TIDEWATCH_LIBS_QUEUELOG_QUEUE_LOG_H_

#include <array>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "queuelog/caller_hasher.h"
#include "tidewatch/v1/events.pb.h"

namespace tidewatch::queuelog {

// One queue_log line split into its fields (views into the line).
struct QueueLogLine {
  static constexpr int kMaxData = 8;
  int64_t time = 0;  // Unix seconds
  std::string_view callid;
  std::string_view queue;
  std::string_view agent;
  std::string_view event;
  std::array<std::string_view, kMaxData> data{};
  int data_count = 0;  // data fields present (extra ones beyond kMaxData are dropped)
  // All the data fields as written, '|' included (everything after the
  // event's '|'; empty when there are none): for fields counted from the
  // end, which data[] may have dropped.
  std::string_view data_text;
};

// Why a line was skipped. Names (SkipReasonName) are stable metric labels.
enum class SkipReason {
  kTooFewFields,   // fewer than 5 pipe-separated fields
  kBadTime,        // time is not Unix seconds in 2000..2100
  kUnknownEvent,   // an event name this mapper does not know
  kUnmappedQueue,  // a mapped event on a queue the line map does not name
  kMissingCallId,  // a call event with an empty or "NONE" callid
  kMissingAgent,   // a member or answer event without an agent
  kBadNumber,      // a hold/wait/talk field that is not whole seconds
  kMissingData,    // fewer data fields than the event needs
  kInvalidEvent,   // the mapped CallEvent fails ValidateEvent
  kTooLong,        // longer than the reader's line limit
};
inline constexpr int kNumSkipReasons = 10;
std::string_view SkipReasonName(SkipReason reason);

// Splits `line` (without its newline). Fails with InvalidArgument and sets
// `reason` to kTooFewFields or kBadTime.
absl::Status ParseQueueLogLine(std::string_view line, QueueLogLine& out, SkipReason* reason);

// `text` with each byte that is not part of well-formed UTF-8 written as %XX
// (upper-case hex); `text` itself (no copy) when it is all well-formed, else
// a view of `storage`, which holds the escaped copy. Well-formed is
// events::IsValidUtf8 (events/utf8.h), what the event decoders accept, so
// the result always decodes.
std::string_view Utf8Safe(std::string_view text, std::string& storage);

// A value quoted in a log message, or "(withheld)" when it might be
// personal data: longer than 40 bytes, or containing 5 or more digits in a
// row (could be a telephone number).
std::string ShowField(std::string_view value);

// How queue names become line ids, and the other per-site choices. Loaded
// from YAML:
//
//   queues:                 # queue name -> tidewatch line id (required)
//     council-tax: revenues
//     benefits-q: benefits
//   source: asterisk        # CallEvent.source (default "asterisk")
//   callback_exit_keys: ["1"]  # EXITWITHKEY digits that mean "call me back"
//   default_agent_origin: csc  # csc | back_office | peripatetic | casual
//   agent_origins:          # member-interface prefix -> origin (longest wins)
//     "Local/bo-": back_office
struct LineMap {
  std::map<std::string, std::string, std::less<>> queues;
  std::string source = "asterisk";
  std::set<std::string, std::less<>> callback_exit_keys;
  tidewatch::v1::AgentOrigin default_agent_origin = tidewatch::v1::AGENT_ORIGIN_CSC;
  std::map<std::string, tidewatch::v1::AgentOrigin, std::less<>> agent_origins;

  // The origin for a member interface.
  tidewatch::v1::AgentOrigin OriginFor(std::string_view agent) const;
};

// Parses a line map; errors name the key (and YAML line) at fault.
absl::StatusOr<LineMap> ParseLineMap(std::string_view yaml, std::string_view source_name);
absl::StatusOr<LineMap> LoadLineMapFile(const std::string& path);
// The YAML form of `map` (ParseLineMap(LineMapToYaml(m)) == m).
std::string LineMapToYaml(const LineMap& map);

// What Map did with a line.
enum class MapOutcome {
  kEvent,    // `out` holds a valid CallEvent to publish
  kIgnored,  // a known event that carries nothing for tidewatch (counted)
  kSkipped,  // malformed or unmappable: `reason` and `message` say why
};

// Map's verdict on one line.
struct MapResult {
  MapOutcome outcome = MapOutcome::kSkipped;
  SkipReason reason = SkipReason::kTooFewFields;
  // The event name for kIgnored (e.g. "RINGNOANSWER"), empty otherwise.
  std::string_view ignored_event;
  // For kEvent: the line's holdtime / waittime was negative (Asterisk
  // computes it from the wall clock, which can step back), so the event has
  // no wait (it is optional); `message` says so. Counted in
  // MapCounters::wait_dropped.
  bool wait_dropped = false;
  // For kSkipped (and wait_dropped): what was wrong, without personal data.
  std::string message;
};

// Maps queue_log lines onto CallEvents. Stateless between lines, so lines
// may be re-mapped after a restart and give identical events.
class QueueLogMapper {
 public:
  // `map` and `hasher` must outlive the mapper.
  QueueLogMapper(const LineMap& map, const CallerHasher& hasher);

  // Maps one line (without newline). `position` is the line's byte offset
  // in its file; event ids are "ql-<time>-<position>-<callid or agent>",
  // so the same line at the same place always gives the same id.
  MapResult Map(std::string_view line, uint64_t position, tidewatch::v1::CallEvent& out) const;

 private:
  const LineMap& map_;
  const CallerHasher& hasher_;
};

// Counts what the mapper did, for logs and metrics.
struct MapCounters {
  int64_t lines = 0;
  int64_t events = 0;
  int64_t wait_dropped = 0;  // events published without their (negative) wait
  std::array<int64_t, kNumSkipReasons> skipped{};
  std::map<std::string, int64_t, std::less<>> ignored;  // by event name

  void Add(const MapResult& r);
  int64_t skipped_total() const;
  // "lines=.. events=.. ignored{RINGNOANSWER=3} skipped{bad_time=1}", then
  // " wait_dropped=.." when some were.
  std::string ToString() const;
};

}  // namespace tidewatch::queuelog

#endif  // TIDEWATCH_LIBS_QUEUELOG_QUEUE_LOG_H_
