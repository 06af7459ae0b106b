// A CallEvent as plain values and string views, and a decoder of binary
// CallEvents into it that allocates nothing.
//
// The engine reads events through CallEventView: tidewatchd decodes each
// Kafka record into a view that refers to the record's own bytes (no
// message, no string copies, no sub-message allocations), and code holding
// a tidewatch::v1::CallEvent passes ViewOf(event), which refers to the
// message's strings. A view is valid as long as what it refers to.
//
//   events::EventDecoder decoder;
//   events::CallEventView view;
//   events::RejectReason reason;
//   absl::Status s = decoder.Parse(record.value, view, &reason);
//   if (s.ok()) engine.Apply(view);   // record.value and decoder alive
//   ...
//   decoder.Reset();  // once the views of a batch are done with
//
// EventDecoder::Parse gives exactly what protobuf's parser and
// ValidateEvent give (tests compare them on random and mutated bytes):
// bytes in the plain encoding every protobuf writer produces (known fields
// once each with their wire types, unknown fields of the wire types 0, 1, 2
// and 5, valid UTF-8) are decoded directly; anything else (a field repeated
// as a message, which protobuf merges; groups; malformed bytes) is handed
// to protobuf's parser, into a message the decoder keeps until Reset.
#ifndef TIDEWATCH_LIBS_EVENTS_EVENT_VIEW_H_
#define TIDEWATCH_LIBS_EVENTS_EVENT_VIEW_H_

#include <cstdint>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "google/protobuf/arena.h"
#include "tidewatch/v1/events.pb.h"

namespace tidewatch::events {

enum class RejectReason;

// A google.protobuf.Timestamp or Duration's two fields, as on the wire.
struct SecondsNanos {
  int64_t seconds = 0;
  int32_t nanos = 0;

  // As absl::Time since the Unix epoch / as absl::Duration.
  absl::Time ToTime() const;
  absl::Duration ToDuration() const;
  friend bool operator==(const SecondsNanos&, const SecondsNanos&) = default;
};

// The fields of a CallEvent (proto/tidewatch/v1/events.proto), flattened:
// the kind's fields sit next to the common ones, and only those of `kind`
// are meaningful (the others stay at their defaults). Strings refer to
// storage the view does not own.
struct CallEventView {
  using Kind = tidewatch::v1::CallEvent::KindCase;

  std::string_view event_id;
  std::string_view line_id;
  std::string_view call_id;
  std::string_view source;
  bool has_event_time = false;
  SecondsNanos event_time;
  Kind kind = tidewatch::v1::CallEvent::KIND_NOT_SET;

  // queued
  std::string_view caller_key;
  int32_t priority = 0;
  // answered, completed, agent_state
  std::string_view agent_id;
  // answered, abandoned
  bool has_wait = false;
  SecondsNanos wait;
  // left_queue
  int32_t left_queue_reason = 0;
  // completed
  bool has_talk = false;
  SecondsNanos talk;
  bool has_wrap = false;
  SecondsNanos wrap;
  bool has_resolved_first_time = false;
  bool resolved_first_time = false;
  // agent_state
  int32_t agent_status = 0;
  int32_t agent_origin = 0;

  friend bool operator==(const CallEventView&, const CallEventView&) = default;
};

// A view of `event`'s fields (valid while `event` is alive and unchanged).
CallEventView ViewOf(const tidewatch::v1::CallEvent& event);

// The fast path of EventDecoder::Parse: decodes `bytes` into `out` when
// they are in the plain encoding (see the file comment) and returns true;
// returns false otherwise, leaving `out` unspecified. Does not validate.
bool DecodePlainBinaryEvent(std::string_view bytes, CallEventView& out);

// Decodes and validates binary CallEvents into views; see the file comment.
// Not thread-safe; one per thread.
class EventDecoder {
 public:
  EventDecoder() = default;
  EventDecoder(const EventDecoder&) = delete;
  EventDecoder& operator=(const EventDecoder&) = delete;

  // Decodes `bytes` into `out` and validates it, as ParseBinaryEvent does
  // (the same statuses and reasons). On success `out` refers to `bytes` or
  // to a message kept by this decoder: both must outlive its use, the
  // message until the next Reset.
  absl::Status Parse(std::string_view bytes, CallEventView& out, RejectReason* reason = nullptr);

  // Frees the messages of the bytes protobuf decoded since the last Reset
  // (views of them become invalid).
  void Reset() {
    if (used_arena_) arena_.Reset();
    used_arena_ = false;
  }
  // Records decoded by protobuf's parser since construction (plain bytes
  // never are).
  int64_t protobuf_decodes() const { return protobuf_decodes_; }

 private:
  google::protobuf::Arena arena_;
  bool used_arena_ = false;
  int64_t protobuf_decodes_ = 0;
};

}  // namespace tidewatch::events

#endif  // TIDEWATCH_LIBS_EVENTS_EVENT_VIEW_H_
