#include "events/time_text.h"

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "events/utf8.h"

namespace tidewatch::events::internal {
namespace {

constexpr int64_t kNanosPerSecond = 1000000000;
constexpr int64_t kSecondsPerDay = 86400;

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
// days_from_civil).
int64_t DaysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

struct Civil {
  int64_t year;
  int month;
  int day;
};

// Inverse of DaysFromCivil.
Civil CivilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return {yoe + era * 400 + (m <= 2), m, d};
}

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int64_t y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Writes `v` (0 <= v < 10^width) as exactly `width` digits.
inline char* PutDigits(char* p, uint32_t v, int width) {
  for (int i = width - 1; i >= 0; --i) {
    p[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  return p + width;
}

// Writes ".fff", ".ffffff" or ".fffffffff" (protobuf's FormatNanos) for
// 0 < nanos < 1e9; nothing for 0.
inline char* PutNanos(char* p, uint32_t nanos) {
  if (nanos == 0) return p;
  *p++ = '.';
  if (nanos % 1000000 == 0) return PutDigits(p, nanos / 1000000, 3);
  if (nanos % 1000 == 0) return PutDigits(p, nanos / 1000, 6);
  return PutDigits(p, nanos, 9);
}

// Reads 1..width digits (protobuf's ParseInt) into `value`, which must lie
// in [min, max].
const char* ParseInt(const char* p, const char* end, int width, int min, int max, int& value) {
  if (p == end || !IsDigit(*p)) return nullptr;
  int v = 0;
  for (int i = 0; i < width && p != end && IsDigit(*p); ++i, ++p) v = v * 10 + (*p - '0');
  if (v < min || v > max) return nullptr;
  value = v;
  return p;
}

inline const char* Expect(const char* p, const char* end, char c) {
  return p != nullptr && p != end && *p == c ? p + 1 : nullptr;
}

// Parses a decimal string of digits (no sign) into `value`; false on
// overflow of uint64 or when there are no digits.
bool ParseUnsigned(std::string_view s, uint64_t& value) {
  if (s.empty()) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (!IsDigit(c)) return false;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  value = v;
  return true;
}

}  // namespace

void AppendTimestamp(int64_t seconds, int32_t nanos, std::string& out) {
  // Normalise nanos into [0, 1e9).
  int64_t n = nanos;
  if (n < 0 || n >= kNanosPerSecond) {
    int64_t carry = n / kNanosPerSecond;
    n -= carry * kNanosPerSecond;
    if (n < 0) {
      n += kNanosPerSecond;
      --carry;
    }
    if (__builtin_add_overflow(seconds, carry, &seconds))
      seconds = carry < 0 ? INT64_MIN : INT64_MAX;
  }
  int64_t days = seconds / kSecondsPerDay;
  int64_t sod = seconds % kSecondsPerDay;
  if (sod < 0) {
    sod += kSecondsPerDay;
    --days;
  }
  const Civil c = CivilFromDays(days);
  char buf[64];
  char* p = buf;
  if (c.year >= 0 && c.year <= 9999) {
    p = PutDigits(p, static_cast<uint32_t>(c.year), 4);
  } else {
    p = absl::numbers_internal::FastIntToBuffer(c.year, p);
  }
  *p++ = '-';
  p = PutDigits(p, static_cast<uint32_t>(c.month), 2);
  *p++ = '-';
  p = PutDigits(p, static_cast<uint32_t>(c.day), 2);
  *p++ = 'T';
  p = PutDigits(p, static_cast<uint32_t>(sod / 3600), 2);
  *p++ = ':';
  p = PutDigits(p, static_cast<uint32_t>(sod / 60 % 60), 2);
  *p++ = ':';
  p = PutDigits(p, static_cast<uint32_t>(sod % 60), 2);
  p = PutNanos(p, static_cast<uint32_t>(n));
  *p++ = 'Z';
  out.append(buf, static_cast<size_t>(p - buf));
}

void AppendDuration(int64_t seconds, int32_t nanos, std::string& out) {
  // Total nanoseconds, normalised so that seconds and nanos share a sign.
  const __int128 total = static_cast<__int128>(seconds) * kNanosPerSecond + nanos;
  const bool negative = total < 0;
  const unsigned __int128 magnitude =
      negative ? static_cast<unsigned __int128>(-total) : static_cast<unsigned __int128>(total);
  const auto whole = static_cast<uint64_t>(magnitude / kNanosPerSecond);
  const auto frac = static_cast<uint32_t>(magnitude % kNanosPerSecond);
  char buf[48];
  char* p = buf;
  if (negative) *p++ = '-';
  p = absl::numbers_internal::FastIntToBuffer(whole, p);
  p = PutNanos(p, frac);
  *p++ = 's';
  out.append(buf, static_cast<size_t>(p - buf));
}

bool ParseTimestamp(std::string_view text, int64_t& seconds, int32_t& nanos) {
  // Mirrors protobuf's ParseTime: every numeric field takes 1..width digits.
  const char* p = text.data();
  const char* const end = p + text.size();
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  p = ParseInt(p, end, 4, 1, 9999, year);
  p = Expect(p, end, '-');
  if (p != nullptr) p = ParseInt(p, end, 2, 1, 12, month);
  p = Expect(p, end, '-');
  if (p != nullptr) p = ParseInt(p, end, 2, 1, 31, day);
  p = Expect(p, end, 'T');
  if (p != nullptr) p = ParseInt(p, end, 2, 0, 23, hour);
  p = Expect(p, end, ':');
  if (p != nullptr) p = ParseInt(p, end, 2, 0, 59, minute);
  p = Expect(p, end, ':');
  if (p != nullptr) p = ParseInt(p, end, 2, 0, 59, second);
  if (p == nullptr || day > DaysInMonth(year, month)) return false;
  int64_t s = DaysFromCivil(year, month, day) * kSecondsPerDay + hour * 3600 + minute * 60 + second;
  int32_t n = 0;
  if (p != end && *p == '.') {
    ++p;
    if (p == end || !IsDigit(*p)) return false;
    int digits = 0;
    for (; p != end && IsDigit(*p); ++p, ++digits) {
      if (digits < 9) n = n * 10 + (*p - '0');
    }
    for (; digits < 9; ++digits) n *= 10;
  }
  if (p == end) return false;
  if (*p == 'Z') {
    ++p;
  } else if (*p == '+' || *p == '-') {
    const bool plus = *p == '+';
    int oh = 0, om = 0;
    p = ParseInt(p + 1, end, 2, 0, 23, oh);
    p = Expect(p, end, ':');
    if (p != nullptr) p = ParseInt(p, end, 2, 0, 59, om);
    if (p == nullptr) return false;
    const int64_t offset = oh * 3600 + om * 60;
    s += plus ? -offset : offset;
  } else {
    return false;
  }
  if (p != end) return false;
  seconds = s;
  nanos = n;
  return true;
}

DurationParse ParseDuration(std::string_view text, int64_t& seconds, int32_t& nanos) {
  // Mirrors protobuf's RenderDuration: "[-]<seconds>[.<fraction>]s" where the
  // seconds part may carry spaces around it and a '+' after them.
  if (text.empty() || text.back() != 's') return DurationParse::kBadFormat;
  text.remove_suffix(1);
  bool negative = false;
  if (!text.empty() && text.front() == '-') {
    negative = true;
    text.remove_prefix(1);
  }
  std::string_view whole = text;
  std::string_view frac;
  if (const size_t dot = text.find('.'); dot != std::string_view::npos) {
    whole = text.substr(0, dot);
    frac = text.substr(dot + 1);
  }
  while (!whole.empty() && whole.front() == ' ') whole.remove_prefix(1);
  while (!whole.empty() && whole.back() == ' ') whole.remove_suffix(1);
  if (!whole.empty() && whole.front() == '+') whole.remove_prefix(1);
  uint64_t s;
  if (!ParseUnsigned(whole, s)) return DurationParse::kBadFormat;
  uint32_t n = 0;
  for (char c : frac) {
    if (!IsDigit(c)) return DurationParse::kBadFormat;
  }
  if (frac.size() > 9) {
    // Finer than a nanosecond: protobuf accepts only zeros there.
    if (frac.find_first_not_of('0') != std::string_view::npos) return DurationParse::kOutOfRange;
  } else {
    for (char c : frac) n = n * 10 + static_cast<uint32_t>(c - '0');
    for (size_t digits = frac.size(); digits < 9; ++digits) n *= 10;
  }
  if (s > static_cast<uint64_t>(kMaxDurationSeconds)) return DurationParse::kOutOfRange;
  seconds = negative ? -static_cast<int64_t>(s) : static_cast<int64_t>(s);
  nanos = negative ? -static_cast<int32_t>(n) : static_cast<int32_t>(n);
  return DurationParse::kOk;
}

std::string Quote(std::string_view value, size_t max_bytes) {
  std::string out = "\"";
  const auto* p = reinterpret_cast<const unsigned char*>(value.data());
  const auto* end = p + value.size();
  size_t taken = 0;
  while (p < end) {
    const int len = Utf8SequenceLength(p, end);
    if (taken + (len == 0 ? 1 : len) > max_bytes) break;
    const unsigned char c = *p;
    if (len == 0) {
      absl::StrAppend(&out, "\\x", absl::Hex(c, absl::kZeroPad2));
      ++p;
      ++taken;
      continue;
    }
    if (len == 1) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
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
          if (c < 0x20 || c == 0x7F) {
            absl::StrAppend(&out, "\\x", absl::Hex(c, absl::kZeroPad2));
          } else {
            out += static_cast<char>(c);
          }
      }
    } else {
      out.append(reinterpret_cast<const char*>(p), static_cast<size_t>(len));
    }
    p += len;
    taken += static_cast<size_t>(len);
  }
  out += '"';
  if (p < end) out += "...";
  return out;
}

}  // namespace tidewatch::events::internal
