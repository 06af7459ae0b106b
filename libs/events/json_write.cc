// The hand-written JSON encoder for CallEvent (AppendJsonEvent). Its output
// is byte-for-byte what google::protobuf::util::MessageToJsonString writes
// with default options, including protobuf's string escaping (which escapes
// '<', '>', U+2028 and other invisible code points as \uXXXX).

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/strings/numbers.h"
#include "events/events.h"
#include "events/time_text.h"
#include "tidewatch/v1/events.pb.h"

namespace tidewatch::events {
namespace {

using ::google::protobuf::Duration;
using ::tidewatch::v1::CallEvent;

// 0: copy as is; 1: ASCII needing an escape; 2: first byte of a non-ASCII
// sequence (checked by code point).
constexpr std::array<uint8_t, 256> kByteClass = [] {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    if (c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == 0x7F) {
      t[c] = 1;
    } else if (c >= 0x80) {
      t[c] = 2;
    }
  }
  return t;
}();

// Code points protobuf's JSON writer escapes as \uXXXX besides ASCII ones:
// C1 controls and format/invisible characters.
bool NeedsUnicodeEscape(uint32_t cp) {
  return (cp >= 0x80 && cp <= 0x9F) || cp == 0xAD || (cp >= 0x600 && cp <= 0x603) || cp == 0x6DD ||
         cp == 0x70F || cp == 0x17B4 || cp == 0x17B5 || (cp >= 0x200B && cp <= 0x200F) ||
         (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2060 && cp <= 0x2064) ||
         (cp >= 0x206A && cp <= 0x206F) || cp == 0xFEFF || (cp >= 0xFFF9 && cp <= 0xFFFB) ||
         (cp >= 0x1D173 && cp <= 0x1D17A) || cp == 0xE0001 || (cp >= 0xE0020 && cp <= 0xE007F);
}

void AppendU16Escape(uint32_t unit, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  char buf[6] = {'\\',
                 'u',
                 kHex[(unit >> 12) & 0xF],
                 kHex[(unit >> 8) & 0xF],
                 kHex[(unit >> 4) & 0xF],
                 kHex[unit & 0xF]};
  out.append(buf, 6);
}

// Decodes the UTF-8 sequence at p; returns its length and sets `cp`, or 0
// when it is not valid UTF-8.
int DecodeUtf8(const unsigned char* p, const unsigned char* end, uint32_t& cp) {
  const unsigned char c = p[0];
  const auto cont = [&](int i) { return p + i < end && (p[i] & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF && cont(1)) {
    cp = ((c & 0x1Fu) << 6) | (p[1] & 0x3Fu);
    return 2;
  }
  if (c >= 0xE0 && c <= 0xEF && cont(1) && cont(2)) {
    if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] > 0x9F)) return 0;
    cp = ((c & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4 && cont(1) && cont(2) && cont(3)) {
    if ((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] > 0x8F)) return 0;
    cp = ((c & 0x07u) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) | (p[3] & 0x3Fu);
    return 4;
  }
  return 0;
}

void AppendString(std::string_view s, std::string& out) {
  out += '"';
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* const end = p + s.size();
  const auto* run = p;
  while (p < end) {
    const uint8_t cls = kByteClass[*p];
    if (cls == 0) {
      ++p;
      continue;
    }
    out.append(reinterpret_cast<const char*>(run), static_cast<size_t>(p - run));
    if (cls == 1) {
      switch (*p) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          AppendU16Escape(*p, out);
      }
      ++p;
    } else {
      uint32_t cp;
      const int len = DecodeUtf8(p, end, cp);
      if (len == 0) {
        AppendU16Escape(0xFFFD, out);  // invalid UTF-8: the replacement character
        ++p;
      } else {
        if (!NeedsUnicodeEscape(cp)) {
          out.append(reinterpret_cast<const char*>(p), static_cast<size_t>(len));
        } else if (cp < 0x10000) {
          AppendU16Escape(cp, out);
        } else {
          AppendU16Escape(0xD800 + ((cp - 0x10000) >> 10), out);
          AppendU16Escape(0xDC00 + ((cp - 0x10000) & 0x3FF), out);
        }
        p += len;
      }
    }
    run = p;
  }
  out.append(reinterpret_cast<const char*>(run), static_cast<size_t>(p - run));
  out += '"';
}

// Writes the members of one JSON object.
class ObjectWriter {
 public:
  explicit ObjectWriter(std::string& out) : out_(out) { out_ += '{'; }
  ~ObjectWriter() { out_ += '}'; }
  ObjectWriter(const ObjectWriter&) = delete;
  ObjectWriter& operator=(const ObjectWriter&) = delete;

  // `key` is the member's name in quotes followed by a colon: "\"eventId\":".
  std::string& Key(std::string_view key) {
    if (!first_) out_ += ',';
    first_ = false;
    out_.append(key);
    return out_;
  }

  void String(std::string_view key, const std::string& value) {
    if (!value.empty()) AppendString(value, Key(key));
  }

  void Int(std::string_view key, int32_t value) {
    if (value == 0) return;
    char buf[16];
    char* end = absl::numbers_internal::FastIntToBuffer(value, buf);
    Key(key).append(buf, static_cast<size_t>(end - buf));
  }

  // An enum by name, or by number when `name` is empty (unknown value).
  void Enum(std::string_view key, int value, const std::string& name) {
    if (value == 0) return;
    if (name.empty()) {
      Int(key, value);
      return;
    }
    std::string& out = Key(key);
    out += '"';
    out += name;
    out += '"';
  }

  void DurationMember(std::string_view key, const Duration& d) {
    std::string& out = Key(key);
    out += '"';
    internal::AppendDuration(d.seconds(), d.nanos(), out);
    out += '"';
  }

 private:
  std::string& out_;
  bool first_ = true;
};

}  // namespace

void AppendJsonEvent(const CallEvent& event, std::string& out) {
  ObjectWriter w(out);
  w.String("\"eventId\":", event.event_id());
  w.String("\"lineId\":", event.line_id());
  w.String("\"callId\":", event.call_id());
  if (event.has_event_time()) {
    std::string& o = w.Key("\"eventTime\":");
    o += '"';
    internal::AppendTimestamp(event.event_time().seconds(), event.event_time().nanos(), o);
    o += '"';
  }
  w.String("\"source\":", event.source());
  switch (event.kind_case()) {
    case CallEvent::kQueued: {
      const v1::Queued& m = event.queued();
      ObjectWriter k(w.Key("\"queued\":"));
      k.String("\"callerKey\":", m.caller_key());
      k.Int("\"priority\":", m.priority());
      break;
    }
    case CallEvent::kAnswered: {
      const v1::Answered& m = event.answered();
      ObjectWriter k(w.Key("\"answered\":"));
      k.String("\"agentId\":", m.agent_id());
      if (m.has_wait()) k.DurationMember("\"wait\":", m.wait());
      break;
    }
    case CallEvent::kAbandoned: {
      const v1::Abandoned& m = event.abandoned();
      ObjectWriter k(w.Key("\"abandoned\":"));
      if (m.has_wait()) k.DurationMember("\"wait\":", m.wait());
      break;
    }
    case CallEvent::kCallbackRequested:
      w.Key("\"callbackRequested\":") += "{}";
      break;
    case CallEvent::kLeftQueue: {
      const v1::LeftQueue& m = event.left_queue();
      ObjectWriter k(w.Key("\"leftQueue\":"));
      k.Enum("\"reason\":", m.reason(), v1::LeftQueueReason_Name(m.reason()));
      break;
    }
    case CallEvent::kCompleted: {
      const v1::Completed& m = event.completed();
      ObjectWriter k(w.Key("\"completed\":"));
      k.String("\"agentId\":", m.agent_id());
      if (m.has_talk()) k.DurationMember("\"talk\":", m.talk());
      if (m.has_wrap()) k.DurationMember("\"wrap\":", m.wrap());
      if (m.has_resolved_first_time()) {
        k.Key("\"resolvedFirstTime\":") += m.resolved_first_time() ? "true" : "false";
      }
      break;
    }
    case CallEvent::kAgentState: {
      const v1::AgentState& m = event.agent_state();
      ObjectWriter k(w.Key("\"agentState\":"));
      k.String("\"agentId\":", m.agent_id());
      k.Enum("\"state\":", m.state(), v1::AgentStatus_Name(m.state()));
      k.Enum("\"origin\":", m.origin(), v1::AgentOrigin_Name(m.origin()));
      break;
    }
    case CallEvent::KIND_NOT_SET:
      break;
  }
}

std::string JsonEvent(const CallEvent& event) {
  std::string out;
  AppendJsonEvent(event, out);
  return out;
}

}  // namespace tidewatch::events
