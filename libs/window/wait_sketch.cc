#include "window/wait_sketch.h"

#include <algorithm>
#include <cmath>

namespace tidewatch::window {
namespace {

// gamma = (1 + a) / (1 - a): the ratio between consecutive bin edges.
const double kGamma = (1 + kRelativeError) / (1 - kRelativeError);
const double kLogGamma = std::log(kGamma);
constexpr double kMinSeconds = 1e-6;          // below this: bin 0
constexpr double kMaxSeconds = 30 * 86400.0;  // above this: last bin
const int kNumBins =
    2 + static_cast<int>(std::ceil(std::log(kMaxSeconds / kMinSeconds) / kLogGamma));

}  // namespace

int NumWaitBins() { return kNumBins; }

int WaitBin(absl::Duration wait) {
  double s = absl::ToDoubleSeconds(wait);
  if (!(s >= kMinSeconds)) return 0;  // also catches NaN
  if (s >= kMaxSeconds) return kNumBins - 1;
  // Bin i >= 1 holds (min * gamma^(i-2), min * gamma^(i-1)].
  int i = 1 + static_cast<int>(std::ceil(std::log(s / kMinSeconds) / kLogGamma));
  return std::clamp(i, 1, kNumBins - 1);
}

double BinValueSeconds(int bin) {
  if (bin <= 0) return 0;
  // Midpoint (in relative terms) of (lo, lo * gamma]: 2 * hi / (gamma + 1).
  double hi = kMinSeconds * std::pow(kGamma, bin - 1);
  return 2 * hi / (kGamma + 1);
}

WaitSketch::WaitSketch() : bins_(kNumBins, 0) {}

void WaitSketch::Clear() {
  std::fill(bins_.begin(), bins_.end(), 0);
  count_ = 0;
}

std::optional<double> WaitSketch::QuantileSeconds(double q) const {
  if (count_ == 0) return std::nullopt;
  int64_t rank = static_cast<int64_t>(std::ceil(q * static_cast<double>(count_)));
  rank = std::clamp<int64_t>(rank, 1, count_);
  int64_t seen = 0;
  for (int i = 0; i < kNumBins; ++i) {
    seen += bins_[i];
    if (seen >= rank) return BinValueSeconds(i);
  }
  return BinValueSeconds(kNumBins - 1);
}

void SparseWaitBins::Add(int bin) {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), bin,
                             [](const auto& e, int b) { return e.first < b; });
  if (it != entries_.end() && it->first == bin) {
    ++it->second;
  } else {
    entries_.insert(it, {static_cast<uint16_t>(bin), 1});
  }
}

void SparseWaitBins::ApplyTo(WaitSketch& sketch, int sign) const {
  for (const auto& [bin, n] : entries_) {
    if (sign > 0) {
      sketch.Add(bin, n);
    } else {
      sketch.Remove(bin, n);
    }
  }
}

}  // namespace tidewatch::window
