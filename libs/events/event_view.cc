// CallEventView, ViewOf, the plain-encoding decoder and EventDecoder.
//
// The decoder reads the protobuf wire format directly (see
// https://protobuf.dev/programming-guides/encoding/). It only has to be
// right about what it accepts: whatever it is unsure of it declines, and
// EventDecoder hands those bytes to protobuf's own parser.

#include "events/event_view.h"

#include <climits>
#include <cstdint>
#include <string_view>

#include "absl/status/status.h"
#include "common/proto_time.h"
#include "events/events.h"
#include "events/utf8.h"
#include "tidewatch/v1/events.pb.h"

namespace tidewatch::events {
namespace {

using ::tidewatch::v1::CallEvent;

// Wire types.
constexpr uint32_t kVarint = 0;
constexpr uint32_t kFixed64 = 1;
constexpr uint32_t kLengthDelimited = 2;
constexpr uint32_t kFixed32 = 5;

// A cursor over one message's bytes. Every read returns false where the
// plain decoder declines: truncated or oversized values, and varints of
// ten bytes (negative numbers, rare in events, left to protobuf).
class WireReader {
 public:
  explicit WireReader(std::string_view bytes)
      : p_(reinterpret_cast<const unsigned char*>(bytes.data())), end_(p_ + bytes.size()) {}

  bool done() const { return p_ == end_; }

  // A varint of at most `max_bytes` bytes (nine: 63 bits).
  bool Varint(uint64_t& v, int max_bytes = 9) {
    // The common one-byte case first.
    if (p_ < end_ && *p_ < 0x80) {
      v = *p_++;
      return true;
    }
    v = 0;
    for (int shift = 0; shift < 7 * max_bytes; shift += 7) {
      if (p_ == end_) return false;
      const unsigned char b = *p_++;
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (b < 0x80) return true;
    }
    return false;
  }
  // A field's tag: its number (at least 1) and wire type. Tags of more than
  // two bytes (field numbers above 2047, none of CallEvent's) are declined:
  // protobuf limits their form in ways not worth copying.
  bool Tag(uint32_t& field, uint32_t& wire_type) {
    uint64_t tag;
    if (!Varint(tag, 2) || (tag >> 3) == 0) return false;
    field = static_cast<uint32_t>(tag >> 3);
    wire_type = static_cast<uint32_t>(tag & 7);
    return true;
  }
  // A length-delimited field's bytes (a length of at most four bytes: 256
  // MiB).
  bool Bytes(std::string_view& out) {
    uint64_t n;
    if (!Varint(n, 4) || n > static_cast<uint64_t>(end_ - p_)) return false;
    out = std::string_view(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return true;
  }
  // A proto3 string field: its bytes, which must be well-formed UTF-8
  // (events/utf8.h: what protobuf requires).
  bool String(std::string_view& out) { return Bytes(out) && IsValidUtf8(out); }
  // Skips a field of an unknown number (groups and reserved wire types are
  // declined).
  bool Skip(uint32_t wire_type) {
    uint64_t v;
    std::string_view s;
    switch (wire_type) {
      case kVarint:
        return Varint(v);
      case kFixed64:
        return Advance(8);
      case kLengthDelimited:
        return Bytes(s);
      case kFixed32:
        return Advance(4);
      default:
        return false;
    }
  }

 private:
  bool Advance(size_t n) {
    if (static_cast<size_t>(end_ - p_) < n) return false;
    p_ += n;
    return true;
  }

  const unsigned char* p_;
  const unsigned char* end_;
};

// Decodes a message field (`wire_type` must be length-delimited), calling
// `on_field(reader, field, wire_type)` for each of its fields, which reads
// or skips it and returns false to decline.
template <typename OnField>
bool Message(WireReader& outer, uint32_t wire_type, OnField on_field) {
  std::string_view bytes;
  if (wire_type != kLengthDelimited || !outer.Bytes(bytes)) return false;
  WireReader r(bytes);
  while (!r.done()) {
    uint32_t field, type;
    if (!r.Tag(field, type) || !on_field(r, field, type)) return false;
  }
  return true;
}

// Reads an int32 or enum field (varint, truncated to 32 bits as protobuf
// does).
bool Int32(WireReader& r, uint32_t wire_type, int32_t& out) {
  uint64_t v;
  if (wire_type != kVarint || !r.Varint(v)) return false;
  out = static_cast<int32_t>(static_cast<uint32_t>(v));
  return true;
}

// A google.protobuf.Timestamp or Duration.
bool SecondsNanosMessage(WireReader& r, uint32_t wire_type, SecondsNanos& out) {
  return Message(r, wire_type, [&out](WireReader& m, uint32_t field, uint32_t type) {
    uint64_t v;
    switch (field) {
      case 1:
        if (type != kVarint || !m.Varint(v)) return false;
        out.seconds = static_cast<int64_t>(v);
        return true;
      case 2:
        return Int32(m, type, out.nanos);
      default:
        return m.Skip(type);
    }
  });
}

// A string field (wire type checked).
bool StringField(WireReader& r, uint32_t wire_type, std::string_view& out) {
  return wire_type == kLengthDelimited && r.String(out);
}

// A message field that may appear once: a second occurrence would be merged
// by protobuf, which the plain decoder declines.
bool Once(bool& seen) {
  if (seen) return false;
  seen = true;
  return true;
}

// The fields of the oneof `kind`'s member `kind`.
bool KindMessage(WireReader& r, uint32_t wire_type, CallEvent::KindCase kind, CallEventView& out) {
  bool wait_seen = false, talk_seen = false, wrap_seen = false;
  return Message(r, wire_type, [&](WireReader& m, uint32_t field, uint32_t type) {
    switch (kind) {
      case CallEvent::kQueued:
        if (field == 1) return StringField(m, type, out.caller_key);
        if (field == 2) return Int32(m, type, out.priority);
        break;
      case CallEvent::kAnswered:
        if (field == 1) return StringField(m, type, out.agent_id);
        if (field == 2) {
          out.has_wait = true;
          return Once(wait_seen) && SecondsNanosMessage(m, type, out.wait);
        }
        break;
      case CallEvent::kAbandoned:
        if (field == 1) {
          out.has_wait = true;
          return Once(wait_seen) && SecondsNanosMessage(m, type, out.wait);
        }
        break;
      case CallEvent::kLeftQueue:
        if (field == 1) return Int32(m, type, out.left_queue_reason);
        break;
      case CallEvent::kCompleted:
        switch (field) {
          case 1:
            return StringField(m, type, out.agent_id);
          case 2:
            out.has_talk = true;
            return Once(talk_seen) && SecondsNanosMessage(m, type, out.talk);
          case 3:
            out.has_wrap = true;
            return Once(wrap_seen) && SecondsNanosMessage(m, type, out.wrap);
          case 4: {
            uint64_t v;
            if (type != kVarint || !m.Varint(v)) return false;
            out.has_resolved_first_time = true;
            out.resolved_first_time = v != 0;
            return true;
          }
        }
        break;
      case CallEvent::kAgentState:
        if (field == 1) return StringField(m, type, out.agent_id);
        if (field == 2) return Int32(m, type, out.agent_status);
        if (field == 3) return Int32(m, type, out.agent_origin);
        break;
      case CallEvent::kCallbackRequested:
      case CallEvent::KIND_NOT_SET:
        break;
    }
    return m.Skip(type);
  });
}

}  // namespace

absl::Time SecondsNanos::ToTime() const { return TimeFromSecondsNanos(seconds, nanos); }

absl::Duration SecondsNanos::ToDuration() const { return DurationFromSecondsNanos(seconds, nanos); }

CallEventView ViewOf(const CallEvent& event) {
  auto sn = [](const auto& m) { return SecondsNanos{m.seconds(), m.nanos()}; };
  CallEventView v;
  v.event_id = event.event_id();
  v.line_id = event.line_id();
  v.call_id = event.call_id();
  v.source = event.source();
  v.has_event_time = event.has_event_time();
  if (v.has_event_time) v.event_time = sn(event.event_time());
  v.kind = event.kind_case();
  switch (v.kind) {
    case CallEvent::kQueued:
      v.caller_key = event.queued().caller_key();
      v.priority = event.queued().priority();
      break;
    case CallEvent::kAnswered:
      v.agent_id = event.answered().agent_id();
      v.has_wait = event.answered().has_wait();
      if (v.has_wait) v.wait = sn(event.answered().wait());
      break;
    case CallEvent::kAbandoned:
      v.has_wait = event.abandoned().has_wait();
      if (v.has_wait) v.wait = sn(event.abandoned().wait());
      break;
    case CallEvent::kLeftQueue:
      v.left_queue_reason = event.left_queue().reason();
      break;
    case CallEvent::kCompleted: {
      const v1::Completed& c = event.completed();
      v.agent_id = c.agent_id();
      v.has_talk = c.has_talk();
      if (v.has_talk) v.talk = sn(c.talk());
      v.has_wrap = c.has_wrap();
      if (v.has_wrap) v.wrap = sn(c.wrap());
      v.has_resolved_first_time = c.has_resolved_first_time();
      v.resolved_first_time = c.resolved_first_time();
      break;
    }
    case CallEvent::kAgentState:
      v.agent_id = event.agent_state().agent_id();
      v.agent_status = event.agent_state().state();
      v.agent_origin = event.agent_state().origin();
      break;
    case CallEvent::kCallbackRequested:
    case CallEvent::KIND_NOT_SET:
      break;
  }
  return v;
}

bool DecodePlainBinaryEvent(std::string_view bytes, CallEventView& out) {
  out = CallEventView{};
  if (bytes.size() > static_cast<size_t>(INT_MAX)) return false;
  WireReader r(bytes);
  while (!r.done()) {
    uint32_t field, type;
    if (!r.Tag(field, type)) return false;
    bool ok;
    switch (field) {
      case 1:
        ok = StringField(r, type, out.event_id);
        break;
      case 2:
        ok = StringField(r, type, out.line_id);
        break;
      case 3:
        ok = StringField(r, type, out.call_id);
        break;
      case 4:
        ok = Once(out.has_event_time) && SecondsNanosMessage(r, type, out.event_time);
        break;
      case 5:
        ok = StringField(r, type, out.source);
        break;
      case CallEvent::kQueued:
      case CallEvent::kAnswered:
      case CallEvent::kAbandoned:
      case CallEvent::kCallbackRequested:
      case CallEvent::kLeftQueue:
      case CallEvent::kCompleted:
      case CallEvent::kAgentState:
        // One kind, once: protobuf merges a repeated one and replaces one
        // kind by another.
        if (out.kind != CallEvent::KIND_NOT_SET) return false;
        out.kind = static_cast<CallEvent::KindCase>(field);
        ok = KindMessage(r, type, out.kind, out);
        break;
      default:
        ok = r.Skip(type);
        break;
    }
    if (!ok) return false;
  }
  return true;
}

absl::Status EventDecoder::Parse(std::string_view bytes, CallEventView& out, RejectReason* reason) {
  if (!DecodePlainBinaryEvent(bytes, out)) {
    ++protobuf_decodes_;
    used_arena_ = true;
    auto* event = google::protobuf::Arena::CreateMessage<CallEvent>(&arena_);
    absl::Status s = ParseBinaryEvent(bytes, *event, reason);
    out = ViewOf(*event);
    return s;
  }
  return ValidateEvent(out, reason);
}

}  // namespace tidewatch::events
