// ValidateEvent, ParseBinaryEvent, EventTime and RejectCounter. The view
// decoder lives in event_view.cc, the JSON codec in json_parse.cc and
// json_write.cc.

#include "events/events.h"

#include <climits>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/proto_time.h"
#include "events/time_text.h"
#include "tidewatch/v1/events.pb.h"

namespace tidewatch::events {
namespace {

using internal::Av;
using internal::Quote;
using ::tidewatch::v1::CallEvent;

constexpr int64_t kNanosPerSecond = 1000000000;

absl::Status Reject(RejectReason* out, RejectReason reason, std::string message) {
  if (out != nullptr) *out = reason;
  return absl::InvalidArgumentError(std::move(message));
}

std::string_view KindName(CallEvent::KindCase kind) {
  switch (kind) {
    case CallEvent::kQueued:
      return "queued";
    case CallEvent::kAnswered:
      return "answered";
    case CallEvent::kAbandoned:
      return "abandoned";
    case CallEvent::kCallbackRequested:
      return "callback_requested";
    case CallEvent::kLeftQueue:
      return "left_queue";
    case CallEvent::kCompleted:
      return "completed";
    case CallEvent::kAgentState:
      return "agent_state";
    case CallEvent::KIND_NOT_SET:
      break;
  }
  return "none";
}

bool IsLineIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

std::string FormatDuration(const SecondsNanos& d) {
  std::string out;
  internal::AppendDuration(d.seconds, d.nanos, out);
  return out;
}

// A set Duration field: well formed, non-negative, at most kMaxEventDuration.
absl::Status CheckDuration(const SecondsNanos& d, std::string_view path, RejectReason* reason) {
  const int64_t s = d.seconds;
  const int32_t n = d.nanos;
  if (n <= -kNanosPerSecond || n >= kNanosPerSecond || (s > 0 && n < 0) || (s < 0 && n > 0)) {
    return Reject(reason, RejectReason::kBadValue,
                  absl::StrCat(Av(path), " is not a valid duration (seconds ", s, ", nanos ", n,
                               ": nanos must be within +-999999999 and share the sign)"));
  }
  if (s < 0 || n < 0) {
    return Reject(reason, RejectReason::kNegativeDuration,
                  absl::StrCat(Av(path), " is negative (", FormatDuration(d), ")"));
  }
  const int64_t max_s = absl::ToInt64Seconds(kMaxEventDuration);
  if (s > max_s || (s == max_s && n > 0)) {
    return Reject(reason, RejectReason::kBadValue,
                  absl::StrCat(Av(path), " is ", FormatDuration(d), ", longer than the limit of ",
                               absl::FormatDuration(kMaxEventDuration), " (", max_s, "s)"));
  }
  return absl::OkStatus();
}

template <typename IsValid>
absl::Status CheckEnum(int value, IsValid is_valid, std::string_view path, RejectReason* reason) {
  if (is_valid(value)) return absl::OkStatus();
  return Reject(reason, RejectReason::kBadValue,
                absl::StrCat(Av(path), " has unknown value ", value));
}

}  // namespace

std::string_view RejectReasonName(RejectReason reason) {
  switch (reason) {
    case RejectReason::kBadJson:
      return "bad_json";
    case RejectReason::kBadProtobuf:
      return "bad_protobuf";
    case RejectReason::kUnknownField:
      return "unknown_field";
    case RejectReason::kUnknownKind:
      return "unknown_kind";
    case RejectReason::kMissingEventId:
      return "missing_event_id";
    case RejectReason::kMissingLineId:
      return "missing_line_id";
    case RejectReason::kMissingCallId:
      return "missing_call_id";
    case RejectReason::kMissingEventTime:
      return "missing_event_time";
    case RejectReason::kNegativeDuration:
      return "negative_duration";
    case RejectReason::kAbsurdTimestamp:
      return "absurd_timestamp";
    case RejectReason::kBadValue:
      return "bad_value";
  }
  return "unknown";
}

absl::Status ValidateEvent(const CallEvent& event, RejectReason* reason) {
  return ValidateEvent(ViewOf(event), reason);
}

absl::Status ValidateEvent(const CallEventView& event, RejectReason* reason) {
  const CallEvent::KindCase kind = event.kind;
  if (kind == CallEvent::KIND_NOT_SET) {
    return Reject(reason, RejectReason::kUnknownKind,
                  "no kind: an event needs exactly one of queued, answered, abandoned, "
                  "callback_requested, left_queue, completed, agent_state");
  }
  if (event.event_id.empty()) {
    return Reject(reason, RejectReason::kMissingEventId, "missing event_id");
  }
  const std::string_view line_id = event.line_id;
  if (line_id.empty()) return Reject(reason, RejectReason::kMissingLineId, "missing line_id");
  if (line_id.size() > static_cast<size_t>(kMaxLineIdLength)) {
    return Reject(reason, RejectReason::kBadValue,
                  absl::StrCat("line_id is ", line_id.size(), " bytes long, more than ",
                               kMaxLineIdLength, ": ", Quote(line_id, 40)));
  }
  for (size_t i = 0; i < line_id.size(); ++i) {
    if (!IsLineIdChar(line_id[i])) {
      return Reject(reason, RejectReason::kBadValue,
                    absl::StrCat("line_id ", Quote(line_id), " has a character outside ",
                                 "[A-Za-z0-9._-] at byte ", i + 1));
    }
  }
  if (event.call_id.empty() && kind != CallEvent::kAgentState) {
    return Reject(reason, RejectReason::kMissingCallId,
                  absl::StrCat("missing call_id (every kind but agent_state needs one; this is ",
                               Av(KindName(kind)), ")"));
  }
  if (!event.has_event_time) {
    return Reject(reason, RejectReason::kMissingEventTime, "missing event_time");
  }
  const int64_t seconds = event.event_time.seconds;
  const int32_t nanos = event.event_time.nanos;
  if (nanos < 0 || nanos >= kNanosPerSecond) {
    return Reject(reason, RejectReason::kBadValue,
                  absl::StrCat("event_time has nanos ", nanos, ", outside [0, 999999999]"));
  }
  if (seconds < kMinEventTimeUnixSeconds || seconds >= kMaxEventTimeUnixSeconds) {
    std::string text;
    internal::AppendTimestamp(seconds, nanos, text);
    return Reject(reason, RejectReason::kAbsurdTimestamp,
                  absl::StrCat("event_time ", text, " is outside 2000-01-01..2100-01-01"));
  }
  switch (kind) {
    case CallEvent::kQueued:
    case CallEvent::kCallbackRequested:
    case CallEvent::KIND_NOT_SET:
      break;
    case CallEvent::kAnswered:
      if (event.has_wait) return CheckDuration(event.wait, "answered.wait", reason);
      break;
    case CallEvent::kAbandoned:
      if (event.has_wait) return CheckDuration(event.wait, "abandoned.wait", reason);
      break;
    case CallEvent::kLeftQueue:
      return CheckEnum(event.left_queue_reason, v1::LeftQueueReason_IsValid, "left_queue.reason",
                       reason);
    case CallEvent::kCompleted:
      if (event.has_talk) {
        if (absl::Status s = CheckDuration(event.talk, "completed.talk", reason); !s.ok()) {
          return s;
        }
      }
      if (event.has_wrap) return CheckDuration(event.wrap, "completed.wrap", reason);
      break;
    case CallEvent::kAgentState:
      if (event.agent_id.empty()) {
        return Reject(reason, RejectReason::kBadValue, "missing agent_state.agent_id");
      }
      if (absl::Status s =
              CheckEnum(event.agent_status, v1::AgentStatus_IsValid, "agent_state.state", reason);
          !s.ok()) {
        return s;
      }
      if (event.agent_status == v1::AGENT_STATUS_UNSPECIFIED) {
        return Reject(reason, RejectReason::kBadValue,
                      "agent_state.state is unspecified (expected AGENT_STATUS_LOGGED_OUT, "
                      "AGENT_STATUS_AVAILABLE, AGENT_STATUS_ON_CALL, AGENT_STATUS_WRAP_UP or "
                      "AGENT_STATUS_AWAY)");
      }
      return CheckEnum(event.agent_origin, v1::AgentOrigin_IsValid, "agent_state.origin", reason);
  }
  return absl::OkStatus();
}

absl::Status ParseBinaryEvent(std::string_view bytes, CallEvent& out, RejectReason* reason) {
  if (bytes.size() > static_cast<size_t>(INT_MAX) ||
      !out.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    out.Clear();
    return Reject(
        reason, RejectReason::kBadProtobuf,
        absl::StrCat("not a CallEvent protobuf: ", bytes.size(), " bytes that do not decode"));
  }
  return ValidateEvent(out, reason);
}

absl::Time EventTime(const CallEvent& event) {
  return event.has_event_time() ? FromProto(event.event_time()) : absl::InfinitePast();
}

absl::Time EventTime(const CallEventView& event) {
  return event.has_event_time ? event.event_time.ToTime() : absl::InfinitePast();
}

int64_t RejectCounter::total() const {
  int64_t sum = 0;
  for (int64_t c : counts_) sum += c;
  return sum;
}

std::map<std::string, int64_t> RejectCounter::ByName() const {
  std::map<std::string, int64_t> out;
  for (int i = 0; i < kNumRejectReasons; ++i) {
    if (counts_[i] != 0) {
      out.emplace(std::string(RejectReasonName(static_cast<RejectReason>(i))), counts_[i]);
    }
  }
  return out;
}

}  // namespace tidewatch::events
