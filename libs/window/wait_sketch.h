// Relative-error histograms of call waits, for quantiles (p50/p90/p95).
//
// A wait maps to a logarithmic bin (DDSketch-style): every wait in a bin is
// within kRelativeError of the bin's representative value, so a quantile
// read from the bins is within 1% of the exact nearest-rank quantile. The
// number of bins is fixed (waits from 1 microsecond to 30 days, plus a zero
// bin), so memory never grows with call volume.
//
//   WaitSketch s;
//   s.Add(WaitBin(absl::Seconds(42)));
//   std::optional<absl::Duration> p90 = s.Quantile(0.9);
//
// Two forms: WaitSketch, dense and subtractable (a running window), and
// SparseWaitBins, a small sorted list of (bin, count) for one time bucket.
#ifndef TIDEWATCH_LIBS_WINDOW_WAIT_SKETCH_H_
#define TIDEWATCH_LIBS_WINDOW_WAIT_SKETCH_H_

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "absl/time/time.h"

namespace tidewatch::window {

// Relative error of a bin's representative value (below the 1% promised).
inline constexpr double kRelativeError = 0.008;
// Number of bins, including bin 0 for waits below one microsecond.
int NumWaitBins();
// The bin a wait falls in.
int WaitBin(absl::Duration wait);
// A bin's representative wait in seconds (0 for bin 0).
double BinValueSeconds(int bin);

// Dense counts per bin; supports Remove for sliding windows.
class WaitSketch {
 public:
  WaitSketch();

  void Add(int bin, uint32_t n = 1) {
    bins_[bin] += n;
    count_ += n;
  }
  void Remove(int bin, uint32_t n = 1) {
    bins_[bin] -= n;
    count_ -= n;
  }
  void Clear();
  int64_t count() const { return count_; }
  uint32_t bin_count(int bin) const { return bins_[bin]; }

  // Nearest-rank quantile (q in (0, 1]): the representative value of the
  // bin holding the ceil(q * count)-th smallest wait. nullopt when empty.
  std::optional<double> QuantileSeconds(double q) const;

 private:
  std::vector<uint32_t> bins_;
  int64_t count_ = 0;
};

// Sorted (bin, count) pairs: compact for a short time bucket.
class SparseWaitBins {
 public:
  void Add(int bin);
  void Clear() { entries_.clear(); }
  bool empty() const { return entries_.empty(); }
  // Adds (sign +1) or removes (sign -1) every entry into/from `sketch`.
  void ApplyTo(WaitSketch& sketch, int sign) const;

 private:
  std::vector<std::pair<uint16_t, uint32_t>> entries_;
};

}  // namespace tidewatch::window

#endif  // TIDEWATCH_LIBS_WINDOW_WAIT_SKETCH_H_
