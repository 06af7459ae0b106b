#include "common/clock.h"

#include "absl/time/clock.h"

namespace tidewatch {

absl::Time RealClock::Now() const { return absl::Now(); }

absl::Time SimulatedClock::Now() const {
  absl::MutexLock lock(&mu_);
  return now_;
}

void SimulatedClock::Advance(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  if (d > absl::ZeroDuration()) now_ += d;
}

void SimulatedClock::SetTo(absl::Time t) {
  absl::MutexLock lock(&mu_);
  if (t > now_) now_ = t;
}

}  // namespace tidewatch
