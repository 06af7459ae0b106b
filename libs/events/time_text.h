// Internal to tidewatch_events: the text forms of google.protobuf.Timestamp
// and google.protobuf.Duration exactly as protobuf's JSON mapping writes and
// reads them, plus quoting of user values for error messages. Not part of
// the library's API; include events/events.h instead.
//
//   std::string s;
//   internal::AppendTimestamp(1664785801, 500000000, s);  // 2022-10-03T08:30:01.500Z
//   internal::AppendDuration(-3, 0, s);                   // -3s
#ifndef TIDEWATCH_LIBS_EVENTS_TIME_TEXT_H_
#define TIDEWATCH_LIBS_EVENTS_TIME_TEXT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace tidewatch::events::internal {

// The same bytes as an absl::string_view. Debian 12's Abseil (20220623) has
// its own string_view type, which absl::StrCat and friends take.
inline absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// protobuf's Duration limit: |seconds| <= 10000 years.
inline constexpr int64_t kMaxDurationSeconds = 315576000000;

// Appends an RFC 3339 UTC timestamp with 0, 3, 6 or 9 fraction digits
// ("2022-10-03T08:30:01Z", "...:01.500Z"). Out-of-range nanos are
// normalised into the seconds; years outside 1..9999 are written with as
// many digits as they need (not valid RFC 3339, but well formed).
void AppendTimestamp(int64_t seconds, int32_t nanos, std::string& out);

// Appends a protobuf JSON duration ("1.500s", "-3s", "0s"). Inconsistent
// signs or out-of-range nanos are normalised first.
void AppendDuration(int64_t seconds, int32_t nanos, std::string& out);

// Parses protobuf's timestamp syntax (see ParseJsonEvent in events.h).
// Returns false when `text` is not a timestamp.
bool ParseTimestamp(std::string_view text, int64_t& seconds, int32_t& nanos);

// Result of ParseDuration.
enum class DurationParse { kOk, kBadFormat, kOutOfRange };

// Parses protobuf's duration syntax (see ParseJsonEvent in events.h).
DurationParse ParseDuration(std::string_view text, int64_t& seconds, int32_t& nanos);

// `value` in double quotes for an error message: at most about `max_bytes`
// bytes of it (cut at a character boundary, "..." appended when cut), with
// control characters, quotes, backslashes and invalid UTF-8 escaped.
std::string Quote(std::string_view value, size_t max_bytes = 120);

}  // namespace tidewatch::events::internal

#endif  // TIDEWATCH_LIBS_EVENTS_TIME_TEXT_H_
