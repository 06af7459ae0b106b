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

// Running aggregates catch up when read: however far apart the reads (a
// few buckets, about a window, longer than the ring), they equal the
// window recomputed from the buckets, counters and wait bins alike.
TEST(SlidingWindowsTest, RunningReadAtAnyGapMatchesScan) {
  const absl::Duration g = absl::Seconds(10);
  SlidingWindows w(g, {absl::Minutes(1), absl::Minutes(15), absl::Minutes(60)}, absl::Minutes(2));
  std::mt19937_64 rng(11);
  absl::Time now = kT0;
  w.AdvanceTo(now);
  int next_read[3] = {0, 0, 0};
  for (int i = 0; i < 30000; ++i) {
    now += absl::Milliseconds(rng() % 6000);
    if (rng() % 500 == 0) now += absl::Minutes(rng() % 90);  // a quiet spell
    w.AdvanceTo(now);
    const absl::Time t = now - absl::Milliseconds(rng() % 100000);
    const int64_t wait = rng() % 900;
    if (rng() % 3 == 0) {
      w.Record(t, Sample::Abandoned(absl::Seconds(wait), wait < 5));
    } else {
      w.Record(t, Sample::Answered(absl::Seconds(wait), wait <= 180));
    }
    for (int wi = 0; wi < 3; ++wi) {
      if (i < next_read[wi]) continue;
      // Reads from every step to several hundred steps apart.
      next_read[wi] = i + static_cast<int>(rng() % (wi == 0 ? 40 : 600));
      const absl::Time end = absl::FromUnixSeconds(0) + w.BucketIndex(now) * g;
      ASSERT_TRUE(w.CanScan(end, w.window(wi)));
      const WindowStats s = w.ScanWindow(end, w.window(wi));
      const WindowStats& r = w.Running(wi);
      EXPECT_EQ(r.counters.answered, s.counters.answered) << i << " " << wi;
      EXPECT_EQ(r.counters.abandoned, s.counters.abandoned) << i << " " << wi;
      EXPECT_EQ(r.counters.short_abandoned, s.counters.short_abandoned);
      EXPECT_EQ(r.counters.answered_in_target, s.counters.answered_in_target);
      EXPECT_EQ(r.counters.sum_wait_all_ns, s.counters.sum_wait_all_ns);
      ASSERT_EQ(r.waits.count(), s.waits.count()) << i << " " << wi;
      for (int b = 0; b < NumWaitBins(); ++b) ASSERT_EQ(r.waits.bin_count(b), s.waits.bin_count(b));
    }
  }
}

// Changed(i, mark) false means window i reads exactly as it did at the
// mark; quiet spells (nothing recorded) make it false often enough to be
// worth asking.
TEST(SlidingWindowsTest, UnchangedSinceAMarkReadsTheSame) {
  const absl::Duration g = absl::Seconds(10);
  SlidingWindows w(g, {absl::Minutes(1), absl::Minutes(15)}, absl::Minutes(2));
  std::mt19937_64 rng(5);
  absl::Time now = kT0;
  w.AdvanceTo(now);
  struct Seen {
    SlidingWindows::Mark mark;
    int64_t answered;
    int64_t sum_wait;
    int64_t max_wait;
    int64_t waits;
  };
  std::vector<Seen> seen(2);
  int unchanged = 0;
  for (int i = 0; i < 20000; ++i) {
    now += absl::Seconds(rng() % 25);
    w.AdvanceTo(now);
    if (rng() % 4 == 0) {
      const int64_t wait = rng() % 300;
      w.Record(now - absl::Seconds(rng() % 60), Sample::Answered(absl::Seconds(wait), true));
    }
    for (int wi = 0; wi < 2; ++wi) {
      const WindowStats& r = w.Running(wi);
      if (i > 0 && !w.Changed(wi, seen[wi].mark)) {
        ++unchanged;
        ASSERT_EQ(r.counters.answered, seen[wi].answered) << i;
        ASSERT_EQ(r.counters.sum_wait_answered_ns, seen[wi].sum_wait) << i;
        ASSERT_EQ(r.waits.count(), seen[wi].waits) << i;
        ASSERT_EQ(w.RunningMaxWaitNs(wi), seen[wi].max_wait) << i;
      }
      if (rng() % 3 == 0) {
        seen[wi] = {w.mark(), r.counters.answered, r.counters.sum_wait_answered_ns,
                    w.RunningMaxWaitNs(wi), r.waits.count()};
      }
    }
  }
  EXPECT_GT(unchanged, 1000);
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
