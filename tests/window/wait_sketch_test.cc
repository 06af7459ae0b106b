#include "window/wait_sketch.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace tidewatch::window {
namespace {

TEST(WaitSketchTest, EmptyHasNoQuantile) {
  WaitSketch s;
  EXPECT_FALSE(s.QuantileSeconds(0.5).has_value());
}

TEST(WaitSketchTest, ZeroWaitsAreExactlyZero) {
  WaitSketch s;
  s.Add(WaitBin(absl::ZeroDuration()));
  s.Add(WaitBin(absl::ZeroDuration()));
  EXPECT_EQ(*s.QuantileSeconds(0.5), 0.0);
}

TEST(WaitSketchTest, QuantilesWithinOnePercentOfNearestRank) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> dist(4.0, 1.5);  // seconds
  for (int n : {1, 2, 3, 10, 101, 5000}) {
    WaitSketch s;
    std::vector<double> waits;
    for (int i = 0; i < n; ++i) {
      double w = std::round(dist(rng) * 1000) / 1000;
      waits.push_back(w);
      s.Add(WaitBin(absl::Milliseconds(w * 1000)));
    }
    std::sort(waits.begin(), waits.end());
    for (double q : {0.5, 0.9, 0.95, 1.0}) {
      size_t rank = static_cast<size_t>(std::ceil(q * n));
      double exact = waits[std::max<size_t>(rank, 1) - 1];
      double approx = *s.QuantileSeconds(q);
      EXPECT_LE(std::abs(approx - exact), 0.01 * exact) << "n=" << n << " q=" << q;
    }
  }
}

TEST(WaitSketchTest, RemoveUndoesAdd) {
  WaitSketch s;
  s.Add(WaitBin(absl::Seconds(10)));
  s.Add(WaitBin(absl::Seconds(1000)));
  s.Remove(WaitBin(absl::Seconds(1000)));
  EXPECT_EQ(s.count(), 1);
  EXPECT_NEAR(*s.QuantileSeconds(1.0), 10.0, 0.1);
}

TEST(WaitSketchTest, ExtremeWaitsClampToEdgeBins) {
  EXPECT_EQ(WaitBin(absl::Nanoseconds(1)), 0);
  EXPECT_EQ(WaitBin(absl::Hours(24 * 365)), NumWaitBins() - 1);
  EXPECT_LT(NumWaitBins(), 65536);
}

TEST(SparseWaitBinsTest, AppliesCountsToSketch) {
  SparseWaitBins bins;
  bins.Add(WaitBin(absl::Seconds(5)));
  bins.Add(WaitBin(absl::Seconds(5)));
  bins.Add(WaitBin(absl::Seconds(50)));
  WaitSketch s;
  bins.ApplyTo(s, +1);
  EXPECT_EQ(s.count(), 3);
  bins.ApplyTo(s, -1);
  EXPECT_EQ(s.count(), 0);
}

}  // namespace
}  // namespace tidewatch::window
