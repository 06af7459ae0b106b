// Event-time sliding windows over a line's call outcomes.
//
// Time is cut into buckets of a fixed width g (the policy's evaluation
// interval, 10 s by default), aligned to the Unix epoch: bucket k holds
// events stamped in (k*g - g, k*g]. A window of length L ending at instant T
// (a multiple of g) is exactly the buckets (T - L, T], which is the KPI
// definition's half-open interval. The bucket ring keeps the longest window
// plus the allowed lateness, so memory is fixed by the window configuration,
// never by call volume.
//
// Each configured window keeps a running aggregate, brought up to the clock
// when it is read (adding the buckets that entered it and subtracting those
// that left since the last read, or summing it afresh after a long gap), so
// a window nobody reads costs nothing as the clock moves, and reading counts
// and sums is O(1) per bucket moved; quantiles read the window's dense
// WaitSketch. Snapshots at an earlier
// aligned instant are recomputed from the buckets (ScanWindow), which is
// what lets a snapshot wait for late events before it is taken.
//
//   SlidingWindows w(absl::Seconds(10), {absl::Minutes(15)}, absl::Minutes(2));
//   w.AdvanceTo(now);
//   w.Record(t, Sample::Answered(wait, /*in_target=*/true));
//   const WindowStats& s = w.Running(0);
#ifndef TIDEWATCH_LIBS_WINDOW_SLIDING_WINDOWS_H_
#define TIDEWATCH_LIBS_WINDOW_SLIDING_WINDOWS_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/time/time.h"
#include "window/wait_sketch.h"

namespace tidewatch::window {

// Additive counters of one bucket, one window or a whole replay.
struct Counters {
  int64_t offered = 0;
  int64_t answered = 0;
  int64_t abandoned = 0;
  int64_t short_abandoned = 0;
  int64_t answered_in_target = 0;
  int64_t callbacks = 0;
  int64_t left_queue = 0;
  int64_t completed = 0;
  int64_t fcr_known = 0;     // completed calls with resolved_first_time set
  int64_t fcr_resolved = 0;  // ... and true
  int64_t sum_wait_answered_ns = 0;
  int64_t sum_wait_all_ns = 0;  // answered + abandoned
  int64_t sum_handle_ns = 0;    // talk + wrap of completed

  // Adds (sign +1) or subtracts (sign -1) `o`.
  void Add(const Counters& o, int sign) {
    offered += sign * o.offered;
    answered += sign * o.answered;
    abandoned += sign * o.abandoned;
    short_abandoned += sign * o.short_abandoned;
    answered_in_target += sign * o.answered_in_target;
    callbacks += sign * o.callbacks;
    left_queue += sign * o.left_queue;
    completed += sign * o.completed;
    fcr_known += sign * o.fcr_known;
    fcr_resolved += sign * o.fcr_resolved;
    sum_wait_answered_ns += sign * o.sum_wait_answered_ns;
    sum_wait_all_ns += sign * o.sum_wait_all_ns;
    sum_handle_ns += sign * o.sum_handle_ns;
  }
};

// One thing to record at an instant.
struct Sample {
  enum class Kind { kOffered, kAnswered, kAbandoned, kCallback, kLeftQueue, kCompleted };
  Kind kind = Kind::kOffered;
  absl::Duration wait;      // answered, abandoned
  bool flag = false;        // answered: in target; abandoned: short
  absl::Duration handle;    // completed: talk + wrap
  std::optional<bool> fcr;  // completed: resolved first time
  // Derived once by the factories, read by every aggregate it lands in:
  // wait (answered, abandoned) or handle (completed) in nanoseconds, and
  // the wait's WaitBin.
  int64_t ns = 0;
  int wait_bin = 0;

  static Sample Of(Kind kind) {
    Sample s;
    s.kind = kind;
    return s;
  }
  static Sample Offered() { return Of(Kind::kOffered); }
  static Sample Answered(absl::Duration wait, bool in_target) {
    Sample s = Of(Kind::kAnswered);
    s.SetWait(wait);
    s.flag = in_target;
    return s;
  }
  static Sample Abandoned(absl::Duration wait, bool short_abandon) {
    Sample s = Of(Kind::kAbandoned);
    s.SetWait(wait);
    s.flag = short_abandon;
    return s;
  }
  static Sample Callback() { return Of(Kind::kCallback); }
  static Sample LeftQueue() { return Of(Kind::kLeftQueue); }
  static Sample Completed(absl::Duration handle, std::optional<bool> fcr) {
    Sample s = Of(Kind::kCompleted);
    s.handle = handle;
    s.ns = absl::ToInt64Nanoseconds(handle);
    s.fcr = fcr;
    return s;
  }

 private:
  void SetWait(absl::Duration w) {
    wait = w;
    ns = absl::ToInt64Nanoseconds(w);
    wait_bin = WaitBin(absl::Nanoseconds(ns));
  }
};

// Counters plus the wait distribution and exact max of some span of time.
struct WindowStats {
  Counters counters;
  WaitSketch waits;          // answered + abandoned waits
  int64_t max_wait_ns = -1;  // -1: no waits
  absl::Duration length;     // window length (zero for totals)

  void Record(const Sample& s);
};

// The bucket ring and the running windows of one line. Not thread-safe,
// not even for readers only: Running() brings the aggregates up to the
// clock as it reads them. One owner (the line's engine) or a lock around it.
class SlidingWindows {
 public:
  // `bucket_width` must divide every window and the lateness; windows are
  // kept in the order given.
  SlidingWindows(absl::Duration bucket_width, std::vector<absl::Duration> windows,
                 absl::Duration allowed_lateness);

  // Moves the clock forward (never back).
  void AdvanceTo(absl::Time now);

  // Records a sample stamped `t` (t <= the clock). Returns false, recording
  // nothing, when `t` is older than the ring keeps (later than allowed).
  bool Record(absl::Time t, const Sample& sample);

  // The running aggregate of window `i` at the current clock (valid until
  // the next non-const call). Its max_wait_ns is not maintained: use
  // RunningMaxWait.
  const WindowStats& Running(int i) const {
    if (synced_[i] != now_index_) Sync(i);
    return running_[i];
  }
  int64_t RunningMaxWaitNs(int i) const;
  // Where the windows stand now, for Changed.
  struct Mark {
    int64_t now_index = INT64_MIN;
    uint64_t records = 0;
  };
  Mark mark() const { return {now_index_, records_}; }
  // Whether Running(i) or RunningMaxWaitNs(i) may differ from what they
  // were at `mark`: a sample has been recorded since, or a bucket holding
  // samples has left the window (or the clock moved too far to look).
  bool Changed(int i, const Mark& mark) const {
    // Buckets change only as samples land; with none since the mark, the
    // buckets that entered the window since are empty.
    if (records_ != mark.records) return true;
    return now_index_ != mark.now_index && LeftWindow(i, mark.now_index);
  }
  int num_windows() const { return static_cast<int>(windows_.size()); }
  absl::Duration window(int i) const { return windows_[i]; }

  // Recomputes a window of `length` ending at `end` from the buckets. `end`
  // must be a multiple of the bucket width, and (end - length, end] must
  // still be in the ring (CanScan).
  bool CanScan(absl::Time end, absl::Duration length) const;
  WindowStats ScanWindow(absl::Time end, absl::Duration length) const;

  // The bucket index holding instant t: ceil(t / width).
  int64_t BucketIndex(absl::Time t) const;
  absl::Duration bucket_width() const { return width_; }

 private:
  struct Bucket {
    int64_t index = INT64_MIN;  // which bucket the slot holds now
    Counters counters;
    SparseWaitBins waits;
    int64_t max_wait_ns = -1;
  };

  // Whether a bucket holding samples has left window i since the clock was
  // at bucket `since` (or the clock moved too far to look).
  bool LeftWindow(int i, int64_t since) const;
  // Brings running_[i] from the window ending at bucket synced_[i] to the
  // one ending at the clock's bucket.
  void Sync(int i) const;
  const Bucket* Find(int64_t index) const {
    const Bucket& b = ring_[static_cast<size_t>(index & slot_mask_)];
    return b.index == index ? &b : nullptr;
  }

  absl::Duration width_;
  int64_t width_ns_;
  std::vector<absl::Duration> windows_;
  std::vector<int64_t> window_buckets_;  // length / width
  // Buckets kept: the longest window plus the lateness and a spare. The
  // storage is rounded up to a power of two so that a bucket's slot is
  // index & slot_mask_; only the newest ring_size_ buckets are ever read.
  int64_t ring_size_ = 0;
  int64_t slot_mask_ = 0;
  std::vector<Bucket> ring_;
  // running_[i] is window i ending at bucket synced_[i] (INT64_MIN: not
  // computed yet); Running catches it up with the clock.
  mutable std::vector<WindowStats> running_;
  mutable std::vector<int64_t> synced_;
  uint64_t records_ = 0;           // samples recorded (see Changed)
  int64_t now_index_ = INT64_MIN;  // bucket index of the clock
};

}  // namespace tidewatch::window

#endif  // TIDEWATCH_LIBS_WINDOW_SLIDING_WINDOWS_H_
