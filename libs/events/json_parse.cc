// The hand-written JSON decoder for CallEvent (DecodeJsonEvent and
// ParseJsonEvent). One pass over the bytes, no intermediate DOM: the schema
// is fixed, so every key is looked up in the current message's field table
// and its value is decoded straight into the proto. The schema is at most
// three objects deep (event -> kind -> duration), so the parser never
// recurses further whatever the input; an unknown key ends the parse.
//
// What is accepted, and how, follows google::protobuf::util::
// JsonStringToMessage (protobuf 3.21) for this message; see events.h.

#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/charconv.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "events/events.h"
#include "events/time_text.h"
#include "events/utf8.h"
#include "tidewatch/v1/events.pb.h"

namespace tidewatch::events {
namespace {

using ::google::protobuf::Duration;
using ::google::protobuf::Timestamp;
using internal::Av;
using internal::Quote;
using ::tidewatch::v1::CallEvent;

// Every field of every message the decoder knows.
enum class F : uint8_t {
  kUnknown,
  // CallEvent
  kEventId,
  kLineId,
  kCallId,
  kEventTime,
  kSource,
  kQueued,
  kAnswered,
  kAbandoned,
  kCallbackRequested,
  kLeftQueue,
  kCompleted,
  kAgentState,
  // Kinds
  kCallerKey,
  kPriority,
  kAgentId,
  kWait,
  kReason,
  kTalk,
  kWrap,
  kResolvedFirstTime,
  kState,
  kOrigin,
  // Timestamp and Duration in object form
  kSeconds,
  kNanos,
};

// A field's JSON (lowerCamel) and proto (snake_case) names.
struct FieldName {
  std::string_view json;
  std::string_view proto;
  F id;
};

using Fields = std::span<const FieldName>;

constexpr FieldName kCallEventFields[] = {
    {"eventId", "event_id", F::kEventId},
    {"lineId", "line_id", F::kLineId},
    {"callId", "call_id", F::kCallId},
    {"eventTime", "event_time", F::kEventTime},
    {"source", "source", F::kSource},
    {"queued", "queued", F::kQueued},
    {"answered", "answered", F::kAnswered},
    {"abandoned", "abandoned", F::kAbandoned},
    {"callbackRequested", "callback_requested", F::kCallbackRequested},
    {"leftQueue", "left_queue", F::kLeftQueue},
    {"completed", "completed", F::kCompleted},
    {"agentState", "agent_state", F::kAgentState},
};
constexpr FieldName kQueuedFields[] = {
    {"callerKey", "caller_key", F::kCallerKey},
    {"priority", "priority", F::kPriority},
};
constexpr FieldName kAnsweredFields[] = {
    {"agentId", "agent_id", F::kAgentId},
    {"wait", "wait", F::kWait},
};
constexpr FieldName kAbandonedFields[] = {
    {"wait", "wait", F::kWait},
};
constexpr std::span<const FieldName> kCallbackRequestedFields;
constexpr FieldName kLeftQueueFields[] = {
    {"reason", "reason", F::kReason},
};
constexpr FieldName kCompletedFields[] = {
    {"agentId", "agent_id", F::kAgentId},
    {"talk", "talk", F::kTalk},
    {"wrap", "wrap", F::kWrap},
    {"resolvedFirstTime", "resolved_first_time", F::kResolvedFirstTime},
};
constexpr FieldName kAgentStateFields[] = {
    {"agentId", "agent_id", F::kAgentId},
    {"state", "state", F::kState},
    {"origin", "origin", F::kOrigin},
};
constexpr FieldName kSecondsNanosFields[] = {
    {"seconds", "seconds", F::kSeconds},
    {"nanos", "nanos", F::kNanos},
};

inline bool Matches(std::string_view key, std::string_view name) {
  return key.size() == name.size() && key[0] == name[0] &&
         std::memcmp(key.data(), name.data(), key.size()) == 0;
}

// Finds `key` in `fields`, starting with the entry after the previous match
// (`hint`): canonical JSON lists the fields in table order, so the first
// comparison usually hits.
inline F Lookup(Fields fields, std::string_view key, size_t& hint) {
  const size_t n = fields.size();
  for (size_t i = 0; i < n; ++i) {
    size_t j = hint + i;
    if (j >= n) j -= n;
    const FieldName& f = fields[j];
    if (Matches(key, f.json) || Matches(key, f.proto)) {
      hint = j + 1;
      return f.id;
    }
  }
  return F::kUnknown;
}

inline F Lookup(Fields fields, std::string_view key) {
  size_t hint = 0;
  return Lookup(fields, key, hint);
}

// Lower-cases ASCII and drops '_' and '-', for "did you mean" hints.
std::string Fold(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '_' || c == '-') continue;
    out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return out;
}

inline bool IsWs(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }
inline bool IsIdentStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$';
}
inline bool IsIdentChar(char c) { return IsIdentStart(c) || IsDigit(c); }

// Bytes a string's fast path copies as they are: ASCII other than quotes
// and backslash.
constexpr std::array<bool, 256> kPlainStringByte = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 0x80; ++c) t[c] = c != '"' && c != '\'' && c != '\\';
  return t;
}();

// Nonzero iff one of the 8 bytes of `w` is '"', '\'', '\\' or non-ASCII; its
// lowest set bit is in the (little-endian) first such byte.
inline uint64_t SpecialStringBytes(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHighs = 0x8080808080808080ULL;
  const auto zero_bytes = [](uint64_t v) { return (v - kOnes) & ~v & kHighs; };
  return zero_bytes(w ^ (kOnes * '"')) | zero_bytes(w ^ (kOnes * '\'')) |
         zero_bytes(w ^ (kOnes * '\\')) | (w & kHighs);
}

void AppendUtf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// A JSON number token. Integral tokens (no fraction, no exponent) that fit
// int64 are kept exactly; everything else as a double.
struct Number {
  bool integral = false;
  int64_t i = 0;
  double d = 0;
  std::string_view text;
};

// An integral JSON number value converted to T (int32_t or int64_t), as
// protobuf does: the value must be integral and in range ("1.0" and "1e2"
// are integers).
template <typename T>
bool NumberTo(const Number& n, T& out) {
  if (n.integral) {
    if (n.i < std::numeric_limits<T>::min() || n.i > std::numeric_limits<T>::max()) return false;
    out = static_cast<T>(n.i);
    return true;
  }
  // -2^k and 2^k are exact doubles; the upper bound is exclusive.
  constexpr double kLow = static_cast<double>(std::numeric_limits<T>::min());
  constexpr double kHigh = -kLow;
  if (!(n.d >= kLow && n.d < kHigh) || n.d != std::trunc(n.d)) return false;
  out = static_cast<T>(n.d);
  return true;
}

// A decimal integer in a JSON string ("5", "+5", "-0"), as protobuf's
// safe_strto32/64: optional sign, digits only.
template <typename T>
bool StringTo(std::string_view s, T& out) {
  bool negative = false;
  if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return false;
  const uint64_t limit = negative ? static_cast<uint64_t>(std::numeric_limits<T>::max()) + 1
                                  : static_cast<uint64_t>(std::numeric_limits<T>::max());
  uint64_t v = 0;
  for (char c : s) {
    if (!IsDigit(c)) return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
    if (v > limit) return false;
  }
  out = negative ? static_cast<T>(-static_cast<int64_t>(v - 1) - 1) : static_cast<T>(v);
  return true;
}

// Case-insensitive match of protobuf's safe_strtob words.
bool StringToBool(std::string_view s, bool& out) {
  const std::string f = Fold(s);
  if (s.size() != f.size()) return false;  // '_' or '-' in it
  if (f == "true" || f == "t" || f == "yes" || f == "y" || f == "1") {
    out = true;
    return true;
  }
  if (f == "false" || f == "f" || f == "no" || f == "n" || f == "0") {
    out = false;
    return true;
  }
  return false;
}

// One of the schema's enums, through its generated functions.
struct EnumType {
  bool (*is_valid)(int);
  const std::string& (*name)(int);
  int min;
  int max;
};

const EnumType kLeftQueueReasonEnum = {
    [](int v) { return v1::LeftQueueReason_IsValid(v); },
    [](int v) -> const std::string& { return v1::LeftQueueReason_Name(v); },
    v1::LeftQueueReason_MIN, v1::LeftQueueReason_MAX};
const EnumType kAgentStatusEnum = {
    [](int v) { return v1::AgentStatus_IsValid(v); },
    [](int v) -> const std::string& { return v1::AgentStatus_Name(v); }, v1::AgentStatus_MIN,
    v1::AgentStatus_MAX};
const EnumType kAgentOriginEnum = {
    [](int v) { return v1::AgentOrigin_IsValid(v); },
    [](int v) -> const std::string& { return v1::AgentOrigin_Name(v); }, v1::AgentOrigin_MIN,
    v1::AgentOrigin_MAX};

bool EnumFromName(const EnumType& type, std::string_view name, int& out) {
  for (int v = type.min; v <= type.max; ++v) {
    if (type.is_valid(v) && type.name(v) == name) {
      out = v;
      return true;
    }
  }
  return false;
}

std::string EnumNames(const EnumType& type) {
  std::string out;
  for (int v = type.min; v <= type.max; ++v) {
    if (type.is_valid(v)) absl::StrAppend(&out, out.empty() ? "" : ", ", type.name(v));
  }
  return out;
}

class Parser {
 public:
  explicit Parser(std::string_view json)
      : begin_(json.data()), p_(json.data()), end_(json.data() + json.size()) {}

  // Decodes the input into `out`. On success `out` holds exactly the
  // decoded event; on failure it is partly written (the caller clears it).
  bool Parse(CallEvent& out) {
    // Like out.Clear(), but the string buffers, event_time and a kind of the
    // same type as before stay allocated for reuse: no malloc/free per record
    // in a replay loop. What the input does not set is cleared afterwards.
    out.clear_event_id();
    out.clear_line_id();
    out.clear_call_id();
    out.clear_source();
    if (const auto* reflection = out.GetReflection(); !reflection->GetUnknownFields(out).empty()) {
      reflection->MutableUnknownFields(&out)->Clear();  // from a binary parse
    }
    if (!ParseEvent(out)) return false;
    if (!time_seen_) out.clear_event_time();
    if (kind_ == F::kUnknown) out.clear_kind();
    return true;
  }

  const absl::Status& status() const { return status_; }
  RejectReason reason() const { return reason_; }

 private:
  bool ParseEvent(CallEvent& out) {
    SkipWs();
    if (p_ == end_) return Fail(RejectReason::kBadJson, "empty record: expected a JSON object");
    if (*p_ != '{') return SyntaxError("expected a JSON object '{...}'");
    if (!ParseObject([&](std::string_view key) { return EventMember(key, out); })) return false;
    SkipWs();
    if (p_ != end_) return SyntaxError("unexpected text after the JSON object");
    return true;
  }

  // ---- Errors -------------------------------------------------------------

  bool Fail(RejectReason reason, std::string message) {
    reason_ = reason;
    status_ = absl::InvalidArgumentError(std::move(message));
    return false;
  }

  // A syntax error at `at` (default: the current position).
  bool SyntaxError(std::string_view what, const char* at = nullptr) {
    if (at == nullptr) at = p_;
    std::string message = absl::StrCat("bad JSON at byte ", at - begin_ + 1, ": ", Av(what));
    if (at >= end_) {
      absl::StrAppend(&message, " (the record ends there)");
    } else {
      absl::StrAppend(&message, " near ", Quote(std::string_view(at, end_ - at), 24));
    }
    return Fail(RejectReason::kBadJson, std::move(message));
  }

  // A value of the wrong JSON type for `path` at the current position.
  bool TypeError(std::string_view path, std::string_view expected) {
    std::string got;
    if (p_ >= end_) return SyntaxError("expected a value");
    switch (*p_) {
      case '"':
      case '\'':
        got = "a string";
        break;
      case '{':
        got = "an object";
        break;
      case '[':
        got = "an array";
        break;
      case 't':
      case 'f':
      case 'n': {
        std::string_view rest(p_, end_ - p_);
        for (std::string_view lit : {"true", "false", "null"}) {
          if (rest.substr(0, lit.size()) == lit) got = lit;
        }
        if (got.empty()) return SyntaxError("expected a value");
        break;
      }
      default:
        if (*p_ == '-' || IsDigit(*p_)) {
          const char* q = p_;
          while (q < end_ && q - p_ < 32 &&
                 (IsDigit(*q) || *q == '-' || *q == '+' || *q == '.' || *q == 'e' || *q == 'E')) {
            ++q;
          }
          got = absl::StrCat("the number ", absl::string_view(p_, q - p_));
        } else {
          return SyntaxError("expected a value");
        }
    }
    return Fail(RejectReason::kBadJson,
                absl::StrCat(Av(path), ": expected ", Av(expected), ", got ", got));
  }

  bool UnknownField(std::string_view key, std::string_view where, Fields fields) {
    std::string message = absl::StrCat("unknown field ", Quote(key, 64));
    if (!where.empty()) absl::StrAppend(&message, " in ", Av(where));
    const std::string folded = Fold(key);
    for (const FieldName& f : fields) {
      if (Fold(f.json) == folded) {
        absl::StrAppend(&message, " (did you mean \"", Av(f.json), "\"?)");
        return Fail(RejectReason::kUnknownField, std::move(message));
      }
    }
    if (where.empty()) {
      // A kind's field written at the top level?
      static constexpr std::pair<std::string_view, Fields> kKinds[] = {
          {"queued", kQueuedFields},       {"answered", kAnsweredFields},
          {"abandoned", kAbandonedFields}, {"left_queue", kLeftQueueFields},
          {"completed", kCompletedFields}, {"agent_state", kAgentStateFields},
      };
      for (const auto& [kind, kind_fields] : kKinds) {
        if (Lookup(kind_fields, key) != F::kUnknown) {
          absl::StrAppend(&message, " (it belongs inside the kind object, e.g. \"", Av(kind),
                          "\")");
          break;
        }
      }
    } else {
      absl::StrAppend(&message, " (expected one of");
      const char* sep = " ";
      for (const FieldName& f : fields) {
        absl::StrAppend(&message, sep, "\"", Av(f.json), "\"");
        sep = ", ";
      }
      absl::StrAppend(&message, fields.empty() ? " no fields)" : ")");
    }
    return Fail(RejectReason::kUnknownField, std::move(message));
  }

  // ---- Tokens -------------------------------------------------------------

  void SkipWs() {
    while (p_ < end_ && IsWs(*p_)) ++p_;
  }

  bool At(char c) const { return p_ < end_ && *p_ == c; }
  bool AtQuote() const { return p_ < end_ && (*p_ == '"' || *p_ == '\''); }

  // Consumes `null` if it is next.
  bool ConsumeNull() {
    if (end_ - p_ >= 4 && p_[0] == 'n' && p_[1] == 'u' && p_[2] == 'l' && p_[3] == 'l') {
      p_ += 4;
      return true;
    }
    return false;
  }

  // Reads a string starting at the quote under p_. `value` views either the
  // input (no escapes) or `buf` (decoded).
  bool ReadString(std::string_view& value, std::string& buf) {
    const char* const open = p_;
    const char quote = *p_++;
    const char* const start = p_;
    if constexpr (std::endian::native == std::endian::little) {
      // Eight bytes at a time up to the first quote, backslash or non-ASCII
      // byte.
      while (end_ - p_ >= 8) {
        uint64_t w;
        std::memcpy(&w, p_, 8);
        if (const uint64_t special = SpecialStringBytes(w); special != 0) {
          p_ += __builtin_ctzll(special) >> 3;
          break;
        }
        p_ += 8;
      }
    }
    while (p_ < end_) {
      const auto c = static_cast<unsigned char>(*p_);
      if (kPlainStringByte[c]) {
        ++p_;
        continue;
      }
      if (c == static_cast<unsigned char>(quote)) {
        value = std::string_view(start, p_ - start);
        ++p_;
        return true;
      }
      break;
    }
    // Slow path: escapes, non-ASCII, or the other quote character.
    buf.assign(start, p_ - start);
    while (p_ < end_) {
      const auto c = static_cast<unsigned char>(*p_);
      if (c == static_cast<unsigned char>(quote)) {
        ++p_;
        value = buf;
        return true;
      }
      if (c == '\\') {
        if (!ReadEscape(buf)) return false;
      } else if (c >= 0x80) {
        const int len = Utf8SequenceLength(reinterpret_cast<const unsigned char*>(p_),
                                           reinterpret_cast<const unsigned char*>(end_));
        if (len == 0) return SyntaxError("invalid UTF-8 in a string");
        buf.append(p_, len);
        p_ += len;
      } else {
        buf += static_cast<char>(c);
        ++p_;
      }
    }
    return SyntaxError("unterminated string", open);
  }

  bool ReadHex4(uint32_t& out) {
    if (end_ - p_ < 4) return SyntaxError("bad \\u escape: expected 4 hex digits", p_ - 2);
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = p_[i];
      v <<= 4;
      if (c >= '0' && c <= '9') {
        v |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        v |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        v |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return SyntaxError("bad \\u escape: expected 4 hex digits", p_ - 2);
      }
    }
    p_ += 4;
    out = v;
    return true;
  }

  // Decodes the escape under p_ (at the backslash) into `buf`.
  bool ReadEscape(std::string& buf) {
    const char* const at = p_;
    ++p_;
    if (p_ >= end_) return SyntaxError("unterminated string", at);
    const char c = *p_++;
    switch (c) {
      case 'b':
        buf += '\b';
        return true;
      case 'f':
        buf += '\f';
        return true;
      case 'n':
        buf += '\n';
        return true;
      case 'r':
        buf += '\r';
        return true;
      case 't':
        buf += '\t';
        return true;
      case 'v':  // not JSON, but protobuf's parser reads it as a vertical tab
        buf += '\v';
        return true;
      case 'u': {
        uint32_t cp = 0;
        if (!ReadHex4(cp)) return false;
        if (cp >= 0xDC00 && cp <= 0xDFFF) {
          return SyntaxError("a \\u escape is a lone low surrogate", at);
        }
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') {
            return SyntaxError("a high surrogate \\u escape is not followed by a low one", at);
          }
          p_ += 2;
          uint32_t low = 0;
          if (!ReadHex4(low)) return false;
          if (low < 0xDC00 || low > 0xDFFF) {
            return SyntaxError("a high surrogate \\u escape is not followed by a low one", at);
          }
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
        AppendUtf8(cp, buf);
        return true;
      }
      default:
        if (static_cast<unsigned char>(c) >= 0x80) {
          --p_;  // "\é": the backslash is dropped, the character checked as UTF-8
        } else {
          buf += c;  // \" \\ \/ \' and, like protobuf, any other "\x" as "x"
        }
        return true;
    }
  }

  // Reads an object key: a quoted string or a bare identifier.
  bool ReadKey(std::string_view& key) {
    if (AtQuote()) return ReadString(key, key_buf_);
    if (p_ < end_ && IsIdentStart(*p_)) {
      const char* start = p_;
      while (p_ < end_ && IsIdentChar(*p_)) ++p_;
      key = std::string_view(start, p_ - start);
      if (key == "true" || key == "false" || key == "null") {
        return SyntaxError("expected an object key", start);
      }
      return true;
    }
    return SyntaxError("expected an object key or '}'");
  }

  bool ReadNumber(Number& n) {
    const char* const start = p_;
    if (*p_ == '-') ++p_;
    if (p_ >= end_ || !IsDigit(*p_)) return SyntaxError("bad number", start);
    const char* const digits = p_;
    if (*p_ == '0' && p_ + 1 < end_ && IsDigit(p_[1])) {
      return SyntaxError("numbers must not have leading zeros", start);
    }
    while (p_ < end_ && IsDigit(*p_)) ++p_;
    bool integral = true;
    if (p_ < end_ && *p_ == '.') {
      integral = false;
      ++p_;
      while (p_ < end_ && IsDigit(*p_)) ++p_;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      integral = false;
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ >= end_ || !IsDigit(*p_)) return SyntaxError("bad number", start);
      while (p_ < end_ && IsDigit(*p_)) ++p_;
    }
    n.text = std::string_view(start, p_ - start);
    if (integral) {
      if (p_ - digits <= 18) {
        int64_t v = 0;
        for (const char* q = digits; q < p_; ++q) v = v * 10 + (*q - '0');
        n.integral = true;
        n.i = start == digits ? v : -v;
        return true;
      }
      if (absl::SimpleAtoi(Av(n.text), &n.i)) {
        n.integral = true;
        return true;
      }
    }
    n.integral = false;
    const absl::from_chars_result r = absl::from_chars(start, p_, n.d);
    if (r.ptr != p_) return SyntaxError("bad number", start);
    if (r.ec == std::errc::result_out_of_range) {
      if (std::fabs(n.d) > 1) return SyntaxError("number out of range", start);
      n.d = 0;  // underflow, as protobuf
    }
    return true;
  }

  // ---- Objects ------------------------------------------------------------

  // Parses the object under p_ ('{'), calling member(key) with p_ at each
  // value; member must consume the value.
  template <typename Member>
  bool ParseObject(Member&& member) {
    ++p_;
    SkipWs();
    if (At('}')) {
      ++p_;
      return true;
    }
    for (;;) {
      std::string_view key;
      if (!ReadKey(key)) return false;
      SkipWs();
      if (!At(':')) return SyntaxError(absl::StrCat("expected ':' after key ", Quote(key, 64)));
      ++p_;
      SkipWs();
      if (p_ >= end_) return SyntaxError("expected a value");
      if (!member(key)) return false;
      SkipWs();
      if (At(',')) {
        ++p_;
        SkipWs();
        if (At('}')) {  // a trailing comma, which protobuf accepts
          ++p_;
          return true;
        }
        continue;
      }
      if (At('}')) {
        ++p_;
        return true;
      }
      return SyntaxError("expected ',' or '}' after a value");
    }
  }

  // ---- Values -------------------------------------------------------------

  bool StringValue(std::string* dst, std::string_view path) {
    if (AtQuote()) {
      std::string_view v;
      if (!ReadString(v, str_buf_)) return false;
      dst->assign(v.data(), v.size());
      return true;
    }
    if (ConsumeNull()) return true;
    return TypeError(path, "a string");
  }

  template <typename T>
  bool IntValue(std::string_view path, T& dst) {
    constexpr std::string_view kType = sizeof(T) == 4 ? "an int32" : "an int64";
    if (p_ < end_ && (*p_ == '-' || IsDigit(*p_))) {
      Number n;
      if (!ReadNumber(n)) return false;
      if (!NumberTo(n, dst)) {
        return Fail(RejectReason::kBadJson,
                    absl::StrCat(Av(path), ": ", Av(n.text.substr(0, 64)), " is not ", Av(kType)));
      }
      return true;
    }
    if (AtQuote()) {
      std::string_view v;
      if (!ReadString(v, str_buf_)) return false;
      if (!StringTo(v, dst)) {
        return Fail(RejectReason::kBadJson, absl::StrCat(Av(path), ": ", Quote(v, 64), " is not ",
                                                         Av(kType), " (write e.g. 5 or \"5\")"));
      }
      return true;
    }
    return TypeError(path, absl::StrCat(Av(kType), " number"));
  }

  // An enum by name, by number, or by a known number in a string. Returns
  // true with `set` false for null.
  bool EnumValue(const EnumType& type, std::string_view path, int& dst, bool& set) {
    set = false;
    if (ConsumeNull()) return true;
    if (p_ < end_ && (*p_ == '-' || IsDigit(*p_))) {
      Number n;
      if (!ReadNumber(n)) return false;
      if (!NumberTo(n, dst)) {
        return Fail(RejectReason::kBadJson, absl::StrCat(Av(path), ": ", Av(n.text.substr(0, 64)),
                                                         " is not an enum number"));
      }
      set = true;
      return true;
    }
    if (AtQuote()) {
      std::string_view v;
      if (!ReadString(v, str_buf_)) return false;
      int number = 0;
      if (EnumFromName(type, v, dst) ||
          (StringTo(v, number) && type.is_valid(number) && (dst = number, true))) {
        set = true;
        return true;
      }
      return Fail(RejectReason::kBadValue,
                  absl::StrCat(Av(path), ": unknown value ", Quote(v, 64), " (expected one of ",
                               EnumNames(type), ", or its number)"));
    }
    return TypeError(path, "an enum name or number");
  }

  // A bool; `set` false for null.
  bool BoolValue(std::string_view path, bool& dst, bool& set) {
    set = false;
    if (ConsumeNull()) return true;
    if (end_ - p_ >= 4 && std::string_view(p_, 4) == "true") {
      p_ += 4;
      dst = set = true;
      return true;
    }
    if (end_ - p_ >= 5 && std::string_view(p_, 5) == "false") {
      p_ += 5;
      dst = false;
      set = true;
      return true;
    }
    if (AtQuote()) {
      std::string_view v;
      if (!ReadString(v, str_buf_)) return false;
      if (!StringToBool(v, dst)) {
        return Fail(RejectReason::kBadJson,
                    absl::StrCat(Av(path), ": ", Quote(v, 64), " is not true or false"));
      }
      set = true;
      return true;
    }
    return TypeError(path, "true or false");
  }

  // {"seconds": int64, "nanos": int32}: Timestamp and Duration as plain
  // messages, which protobuf also accepts. Sets only the members present.
  template <typename Msg>
  bool SecondsNanosObject(std::string_view path, Msg& msg) {
    return ParseObject([&](std::string_view key) {
      switch (Lookup(kSecondsNanosFields, key)) {
        case F::kSeconds: {
          if (ConsumeNull()) return true;
          int64_t v = 0;
          if (!IntValue(absl::StrCat(Av(path), ".seconds"), v)) return false;
          msg.set_seconds(v);
          return true;
        }
        case F::kNanos: {
          if (ConsumeNull()) return true;
          int32_t v = 0;
          if (!IntValue(absl::StrCat(Av(path), ".nanos"), v)) return false;
          msg.set_nanos(v);
          return true;
        }
        default:
          return UnknownField(key, path, kSecondsNanosFields);
      }
    });
  }

  // A Timestamp value; `mutable_msg()` is called only when there is one.
  template <typename MutableFn>
  bool TimestampValue(std::string_view path, MutableFn&& mutable_msg) {
    if (ConsumeNull()) return true;
    if (AtQuote()) {
      std::string_view v;
      if (!ReadString(v, str_buf_)) return false;
      int64_t seconds = 0;
      int32_t nanos = 0;
      // protobuf reads the timestamp as a C string: an embedded NUL ends it.
      if (const size_t nul = v.find('\0'); nul != std::string_view::npos) v = v.substr(0, nul);
      if (!internal::ParseTimestamp(v, seconds, nanos)) {
        return Fail(RejectReason::kBadJson,
                    absl::StrCat(Av(path), ": ", Quote(v, 64),
                                 " is not an RFC 3339 timestamp like \"2022-10-03T08:30:01Z\" or "
                                 "\"2022-10-03T09:30:01.250+01:00\""));
      }
      Timestamp* t = mutable_msg();
      t->set_seconds(seconds);
      t->set_nanos(nanos);
      return true;
    }
    if (At('{')) return SecondsNanosObject(path, *mutable_msg());
    return TypeError(path, "an RFC 3339 timestamp string");
  }

  // A Duration value; `mutable_msg()` is called only when there is one.
  template <typename MutableFn>
  bool DurationValue(std::string_view path, MutableFn&& mutable_msg) {
    if (ConsumeNull()) return true;
    if (AtQuote()) {
      std::string_view v;
      if (!ReadString(v, str_buf_)) return false;
      int64_t seconds = 0;
      int32_t nanos = 0;
      switch (internal::ParseDuration(v, seconds, nanos)) {
        case internal::DurationParse::kOk:
          break;
        case internal::DurationParse::kBadFormat:
          return Fail(RejectReason::kBadJson,
                      absl::StrCat(Av(path), ": ", Quote(v, 64),
                                   " is not a duration like \"1.5s\" (seconds, then 's')"));
        case internal::DurationParse::kOutOfRange:
          return Fail(RejectReason::kBadJson,
                      absl::StrCat(Av(path), ": ", Quote(v, 64),
                                   " is out of range (at most 315576000000s, 9 fraction digits)"));
      }
      Duration* d = mutable_msg();
      d->set_seconds(seconds);
      d->set_nanos(nanos);
      return true;
    }
    if (At('{')) return SecondsNanosObject(path, *mutable_msg());
    return TypeError(path, "a duration string like \"1.5s\"");
  }

  // A kind member: null (ignored) or an object, of which there may be only
  // one per event. `member(key, msg)` parses each of the object's members.
  template <typename MutableFn, typename Member>
  bool KindValue(F kind, std::string_view name, MutableFn&& mutable_msg, Member&& member) {
    if (ConsumeNull()) return true;
    if (!At('{')) return TypeError(name, "an object");
    if (kind_ != F::kUnknown) {
      return Fail(RejectReason::kUnknownKind,
                  absl::StrCat("more than one kind: \"", Av(kind_name_), "\" and \"", Av(name),
                               "\" (an event has exactly one)"));
    }
    kind_ = kind;
    kind_name_ = name;
    kind_hint_ = 0;
    auto* msg = mutable_msg();
    msg->Clear();  // it may be the previous record's kind, reused
    return ParseObject([&](std::string_view key) { return member(key, *msg); });
  }

  bool EventMember(std::string_view key, CallEvent& out) {
    switch (Lookup(kCallEventFields, key, event_hint_)) {
      case F::kEventId:
        return StringValue(out.mutable_event_id(), "event_id");
      case F::kLineId:
        return StringValue(out.mutable_line_id(), "line_id");
      case F::kCallId:
        return StringValue(out.mutable_call_id(), "call_id");
      case F::kEventTime:
        return TimestampValue("event_time", [&] {
          Timestamp* t = out.mutable_event_time();
          if (!time_seen_) {
            time_seen_ = true;
            t->Clear();  // it may be the previous record's, reused
          }
          return t;
        });
      case F::kSource:
        return StringValue(out.mutable_source(), "source");
      case F::kQueued:
        return KindValue(
            F::kQueued, "queued", [&] { return out.mutable_queued(); },
            [&](std::string_view k, v1::Queued& m) {
              switch (Lookup(kQueuedFields, k, kind_hint_)) {
                case F::kCallerKey:
                  return StringValue(m.mutable_caller_key(), "queued.caller_key");
                case F::kPriority: {
                  if (ConsumeNull()) return true;
                  int32_t v = 0;
                  if (!IntValue("queued.priority", v)) return false;
                  m.set_priority(v);
                  return true;
                }
                default:
                  return UnknownField(k, "queued", kQueuedFields);
              }
            });
      case F::kAnswered:
        return KindValue(
            F::kAnswered, "answered", [&] { return out.mutable_answered(); },
            [&](std::string_view k, v1::Answered& m) {
              switch (Lookup(kAnsweredFields, k, kind_hint_)) {
                case F::kAgentId:
                  return StringValue(m.mutable_agent_id(), "answered.agent_id");
                case F::kWait:
                  return DurationValue("answered.wait", [&] { return m.mutable_wait(); });
                default:
                  return UnknownField(k, "answered", kAnsweredFields);
              }
            });
      case F::kAbandoned:
        return KindValue(
            F::kAbandoned, "abandoned", [&] { return out.mutable_abandoned(); },
            [&](std::string_view k, v1::Abandoned& m) {
              if (Lookup(kAbandonedFields, k) == F::kWait) {
                return DurationValue("abandoned.wait", [&] { return m.mutable_wait(); });
              }
              return UnknownField(k, "abandoned", kAbandonedFields);
            });
      case F::kCallbackRequested:
        return KindValue(
            F::kCallbackRequested, "callback_requested",
            [&] { return out.mutable_callback_requested(); },
            [&](std::string_view k, v1::CallbackRequested&) {
              return UnknownField(k, "callback_requested", kCallbackRequestedFields);
            });
      case F::kLeftQueue:
        return KindValue(
            F::kLeftQueue, "left_queue", [&] { return out.mutable_left_queue(); },
            [&](std::string_view k, v1::LeftQueue& m) {
              if (Lookup(kLeftQueueFields, k) == F::kReason) {
                int v = 0;
                bool set = false;
                if (!EnumValue(kLeftQueueReasonEnum, "left_queue.reason", v, set)) return false;
                if (set) m.set_reason(static_cast<v1::LeftQueueReason>(v));
                return true;
              }
              return UnknownField(k, "left_queue", kLeftQueueFields);
            });
      case F::kCompleted:
        return KindValue(
            F::kCompleted, "completed", [&] { return out.mutable_completed(); },
            [&](std::string_view k, v1::Completed& m) {
              switch (Lookup(kCompletedFields, k, kind_hint_)) {
                case F::kAgentId:
                  return StringValue(m.mutable_agent_id(), "completed.agent_id");
                case F::kTalk:
                  return DurationValue("completed.talk", [&] { return m.mutable_talk(); });
                case F::kWrap:
                  return DurationValue("completed.wrap", [&] { return m.mutable_wrap(); });
                case F::kResolvedFirstTime: {
                  bool v = false, set = false;
                  if (!BoolValue("completed.resolved_first_time", v, set)) return false;
                  if (set) m.set_resolved_first_time(v);
                  return true;
                }
                default:
                  return UnknownField(k, "completed", kCompletedFields);
              }
            });
      case F::kAgentState:
        return KindValue(
            F::kAgentState, "agent_state", [&] { return out.mutable_agent_state(); },
            [&](std::string_view k, v1::AgentState& m) {
              int v = 0;
              bool set = false;
              switch (Lookup(kAgentStateFields, k, kind_hint_)) {
                case F::kAgentId:
                  return StringValue(m.mutable_agent_id(), "agent_state.agent_id");
                case F::kState:
                  if (!EnumValue(kAgentStatusEnum, "agent_state.state", v, set)) return false;
                  if (set) m.set_state(static_cast<v1::AgentStatus>(v));
                  return true;
                case F::kOrigin:
                  if (!EnumValue(kAgentOriginEnum, "agent_state.origin", v, set)) return false;
                  if (set) m.set_origin(static_cast<v1::AgentOrigin>(v));
                  return true;
                default:
                  return UnknownField(k, "agent_state", kAgentStateFields);
              }
            });
      default:
        return UnknownField(key, "", kCallEventFields);
    }
  }

  const char* const begin_;
  const char* p_;
  const char* const end_;
  std::string key_buf_;   // decoded keys that had escapes
  std::string str_buf_;   // decoded values that had escapes
  F kind_ = F::kUnknown;  // the kind set so far
  std::string_view kind_name_;
  bool time_seen_ = false;  // event_time set by this record
  size_t event_hint_ = 0;   // Lookup hints
  size_t kind_hint_ = 0;
  absl::Status status_;
  RejectReason reason_ = RejectReason::kBadJson;
};

}  // namespace

absl::Status DecodeJsonEvent(std::string_view json, CallEvent& out, RejectReason* reason) {
  Parser parser(json);
  if (parser.Parse(out)) return absl::OkStatus();
  out.Clear();
  if (reason != nullptr) *reason = parser.reason();
  return parser.status();
}

absl::Status ParseJsonEvent(std::string_view json, CallEvent& out, RejectReason* reason) {
  absl::Status status = DecodeJsonEvent(json, out, reason);
  if (!status.ok()) return status;
  return ValidateEvent(out, reason);
}

}  // namespace tidewatch::events
