// Conversions between protobuf's Timestamp / Duration and absl::Time /
// absl::Duration, in one place.
//
//   absl::Time t = FromProto(event.event_time());
//   ToProto(absl::Seconds(90), callup.mutable_duration());
#ifndef TIDEWATCH_LIBS_COMMON_PROTO_TIME_H_
#define TIDEWATCH_LIBS_COMMON_PROTO_TIME_H_

#include <cstdint>

#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace tidewatch {

// Seconds whose nanoseconds fit in int64 with room for any int32 nanos:
// converted with integer arithmetic (absl's Time + Duration is out of line).
inline constexpr int64_t kMaxFastProtoSeconds = 9000000000;

// A Timestamp's / Duration's (seconds, nanos) pair, however it was read.
inline absl::Time TimeFromSecondsNanos(int64_t s, int32_t nanos) {
  if (s > -kMaxFastProtoSeconds && s < kMaxFastProtoSeconds) {
    return absl::FromUnixNanos(s * 1000000000 + nanos);
  }
  return absl::FromUnixSeconds(s) + absl::Nanoseconds(nanos);
}
inline absl::Duration DurationFromSecondsNanos(int64_t s, int32_t nanos) {
  if (s > -kMaxFastProtoSeconds && s < kMaxFastProtoSeconds) {
    return absl::Nanoseconds(s * 1000000000 + nanos);
  }
  return absl::Seconds(s) + absl::Nanoseconds(nanos);
}

inline absl::Time FromProto(const google::protobuf::Timestamp& ts) {
  return TimeFromSecondsNanos(ts.seconds(), ts.nanos());
}

inline absl::Duration FromProto(const google::protobuf::Duration& d) {
  return DurationFromSecondsNanos(d.seconds(), d.nanos());
}

// Nanos normalised to [0, 1e9), as the Timestamp contract requires.
inline void ToProto(absl::Time t, google::protobuf::Timestamp* out) {
  const int64_t ns = absl::ToUnixNanos(t);
  int64_t s = ns / 1000000000;
  int64_t n = ns % 1000000000;
  if (n < 0) {
    n += 1000000000;
    --s;
  }
  out->set_seconds(s);
  out->set_nanos(static_cast<int32_t>(n));
}

// Seconds and nanos share the sign, as the Duration contract requires.
inline void ToProto(absl::Duration d, google::protobuf::Duration* out) {
  const int64_t ns = absl::ToInt64Nanoseconds(d);
  out->set_seconds(ns / 1000000000);
  out->set_nanos(static_cast<int32_t>(ns % 1000000000));
}

}  // namespace tidewatch

#endif  // TIDEWATCH_LIBS_COMMON_PROTO_TIME_H_
