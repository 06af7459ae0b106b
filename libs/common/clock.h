// The one source of time for tidewatch libraries.
//
// Libraries never read the wall clock: they take a `Clock&` (or are handed
// instants directly). Services construct a `RealClock`; tests and replay use
// a `SimulatedClock` they advance by hand, so time-dependent behaviour (ack
// timeouts, windows sliding, stale feeds) is tested without sleeping.
//
//   SimulatedClock clock(absl::FromUnixSeconds(1664785800));
//   clock.Advance(absl::Minutes(5));
//   absl::Time now = clock.Now();
#ifndef TIDEWATCH_LIBS_COMMON_CLOCK_H_
#define TIDEWATCH_LIBS_COMMON_CLOCK_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace tidewatch {

// Interface: tells the current instant.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

// The wall clock. Only services' mains construct one.
class RealClock final : public Clock {
 public:
  absl::Time Now() const override;
};

// A clock that moves only when told to. Thread-safe. Never goes backwards:
// SetTo() an earlier instant is ignored.
class SimulatedClock final : public Clock {
 public:
  explicit SimulatedClock(absl::Time start = absl::UnixEpoch()) : now_(start) {}

  absl::Time Now() const override;
  void Advance(absl::Duration d);
  void SetTo(absl::Time t);

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tidewatch

#endif  // TIDEWATCH_LIBS_COMMON_CLOCK_H_
