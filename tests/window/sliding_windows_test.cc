#include "window/sliding_windows.h"

#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace tidewatch::window {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1664783400);  // 2022-10-03 08:50 UTC

TEST(SlidingWindowsTest, HalfOpenIntervalAtBucketEdges) {
  SlidingWindows w(absl::Seconds(10), {absl::Minutes(1)}, absl::Minutes(2));
  w.AdvanceTo(kT0);
  // Stamped exactly now - length: out. Stamped exactly now: in.
  w.Record(kT0, Sample::Offered());
  w.AdvanceTo(kT0 + absl::Minutes(1));
  w.Record(kT0 + absl::Minutes(1), Sample::Offered());
  EXPECT_EQ(w.Running(0).counters.offered, 1);
  WindowStats s = w.ScanWindow(kT0 + absl::Minutes(1), absl::Minutes(1));
  EXPECT_EQ(s.counters.offered, 1);
  // One nanosecond after now - length is in.
  WindowStats s2 = w.ScanWindow(kT0 + absl::Minutes(1), absl::Minutes(2));
  EXPECT_EQ(s2.counters.offered, 2);
}

TEST(SlidingWindowsTest, RunningMatchesScanAndBruteForce) {
  const absl::Duration g = absl::Seconds(10);
  SlidingWindows w(g, {absl::Minutes(5), absl::Minutes(15)}, absl::Minutes(2));
  std::mt19937_64 rng(3);
  struct Rec {
    absl::Time t;
    int64_t wait_s;
  };
  std::vector<Rec> recs;
  absl::Time now = kT0;
  w.AdvanceTo(now);
  for (int i = 0; i < 20000; ++i) {
    now += absl::Milliseconds(rng() % 4000);
    w.AdvanceTo(now);
    // Up to 90 s late (within the 2 m lateness).
    absl::Time t = now - absl::Milliseconds(rng() % 90000);
    int64_t wait = rng() % 600;
    ASSERT_TRUE(w.Record(t, Sample::Answered(absl::Seconds(wait), wait <= 180)));
    recs.push_back({t, wait});
    if (i % 997 == 0) {
      for (int wi = 0; wi < 2; ++wi) {
        // Running aggregate covers (ceil(now) - L, ceil(now)] in buckets.
        absl::Time end =
            absl::FromUnixSeconds((absl::ToUnixSeconds(now - absl::Nanoseconds(1)) / 10 + 1) * 10);
        if (absl::ToUnixNanos(now) % 10000000000 == 0) end = now;
        int64_t n = 0, in_target = 0, sum = 0, mx = -1;
        for (const Rec& r : recs) {
          if (r.t > end - w.window(wi) && r.t <= end) {
            ++n;
            sum += r.wait_s;
            in_target += r.wait_s <= 180;
            mx = std::max(mx, r.wait_s);
          }
        }
        EXPECT_EQ(w.Running(wi).counters.answered, n);
        EXPECT_EQ(w.Running(wi).counters.answered_in_target, in_target);
        EXPECT_EQ(w.Running(wi).counters.sum_wait_answered_ns, sum * 1000000000);
        EXPECT_EQ(w.RunningMaxWaitNs(wi), mx == -1 ? -1 : mx * 1000000000);
        ASSERT_TRUE(w.CanScan(end, w.window(wi)));
        WindowStats s = w.ScanWindow(end, w.window(wi));
        EXPECT_EQ(s.counters.answered, n);
        EXPECT_EQ(s.waits.count(), n);
      }
    }
  }
}

TEST(SlidingWindowsTest, TooOldIsRefused) {
  SlidingWindows w(absl::Seconds(10), {absl::Minutes(5)}, absl::Minutes(2));
  w.AdvanceTo(kT0);
  EXPECT_FALSE(w.Record(kT0 - absl::Minutes(30), Sample::Offered()));
  EXPECT_TRUE(w.Record(kT0 - absl::Minutes(1), Sample::Offered()));
}

TEST(SlidingWindowsTest, LongJumpEmptiesWindowsCheaply) {
  SlidingWindows w(absl::Seconds(10), {absl::Minutes(60)}, absl::Minutes(2));
  w.AdvanceTo(kT0);
  w.Record(kT0, Sample::Abandoned(absl::Seconds(3), true));
  w.AdvanceTo(kT0 + absl::Hours(24 * 365));
  EXPECT_EQ(w.Running(0).counters.abandoned, 0);
  EXPECT_EQ(w.Running(0).waits.count(), 0);
}

TEST(SlidingWindowsTest, BucketIndexIsCeilingAndHandlesNegativeTimes) {
  SlidingWindows w(absl::Seconds(10), {absl::Minutes(1)}, absl::Minutes(1));
  EXPECT_EQ(w.BucketIndex(absl::FromUnixSeconds(10)), 1);
  EXPECT_EQ(w.BucketIndex(absl::FromUnixSeconds(10) + absl::Nanoseconds(1)), 2);
  EXPECT_EQ(w.BucketIndex(absl::FromUnixSeconds(0)), 0);
  EXPECT_EQ(w.BucketIndex(absl::FromUnixSeconds(-5)), 0);
  EXPECT_EQ(w.BucketIndex(absl::FromUnixSeconds(-10)), -1);
}

}  // namespace
}  // namespace tidewatch::window
