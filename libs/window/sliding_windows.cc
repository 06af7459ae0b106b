#include "window/sliding_windows.h"

#include <algorithm>
#include <cassert>

namespace tidewatch::window {

namespace {

// Adds one sample to counters; returns the wait in ns when the sample
// carries one that belongs in the wait distribution, else -1.
int64_t CountSample(Counters& c, const Sample& s) {
  switch (s.kind) {
    case Sample::Kind::kOffered:
      ++c.offered;
      return -1;
    case Sample::Kind::kAnswered: {
      const int64_t ns = s.ns;
      ++c.answered;
      if (s.flag) ++c.answered_in_target;
      c.sum_wait_answered_ns += ns;
      c.sum_wait_all_ns += ns;
      return ns;
    }
    case Sample::Kind::kAbandoned: {
      const int64_t ns = s.ns;
      ++c.abandoned;
      if (s.flag) ++c.short_abandoned;
      c.sum_wait_all_ns += ns;
      return ns;
    }
    case Sample::Kind::kCallback:
      ++c.callbacks;
      return -1;
    case Sample::Kind::kLeftQueue:
      ++c.left_queue;
      return -1;
    case Sample::Kind::kCompleted:
      ++c.completed;
      c.sum_handle_ns += s.ns;
      if (s.fcr.has_value()) {
        ++c.fcr_known;
        if (*s.fcr) ++c.fcr_resolved;
      }
      return -1;
  }
  return -1;
}

// LeftWindow looks for buckets that left a window when the clock has moved
// this many buckets or fewer since; past that it answers yes.
constexpr int64_t kMaxChangedScan = 4;

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

}  // namespace

void WindowStats::Record(const Sample& s) {
  int64_t ns = CountSample(counters, s);
  if (ns >= 0) {
    waits.Add(s.wait_bin);
    max_wait_ns = std::max(max_wait_ns, ns);
  }
}

SlidingWindows::SlidingWindows(absl::Duration bucket_width, std::vector<absl::Duration> windows,
                               absl::Duration allowed_lateness)
    : width_(bucket_width),
      width_ns_(absl::ToInt64Nanoseconds(bucket_width)),
      windows_(std::move(windows)) {
  assert(width_ns_ > 0);
  int64_t longest = 0;
  for (absl::Duration w : windows_) {
    int64_t n = absl::ToInt64Nanoseconds(w) / width_ns_;
    window_buckets_.push_back(n);
    longest = std::max(longest, n);
    WindowStats s;
    s.length = w;
    running_.push_back(std::move(s));
    synced_.push_back(INT64_MIN);
  }
  int64_t lateness = (absl::ToInt64Nanoseconds(allowed_lateness) + width_ns_ - 1) / width_ns_;
  // Room for the longest window ending at the oldest instant a snapshot may
  // still be taken (the clock minus the lateness), plus one spare slot.
  ring_size_ = longest + lateness + 2;
  int64_t slots = 1;
  while (slots < ring_size_) slots *= 2;
  slot_mask_ = slots - 1;
  ring_.resize(static_cast<size_t>(slots));
}

int64_t SlidingWindows::BucketIndex(absl::Time t) const {
  int64_t ns = absl::ToUnixNanos(t);
  // ceil(ns / width): bucket k holds (k*w - w, k*w].
  return -FloorDiv(-ns, width_ns_);
}

void SlidingWindows::AdvanceTo(absl::Time now) {
  // The running aggregates catch up when read (Sync); here the clock only
  // notes which windows a bucket holding samples has left.
  const int64_t n = BucketIndex(now);
  if (now_index_ == INT64_MIN) {
    now_index_ = n;
    return;
  }
  if (n <= now_index_) return;
  now_index_ = n;
}

bool SlidingWindows::LeftWindow(int i, int64_t since) const {
  if (since == INT64_MIN || now_index_ - since > kMaxChangedScan) return true;
  const int64_t len = window_buckets_[i];
  for (int64_t k = since - len + 1; k <= now_index_ - len; ++k) {
    if (Find(k) != nullptr) return true;
  }
  return false;
}

void SlidingWindows::Sync(int i) const {
  const int64_t to = now_index_;
  const int64_t from = synced_[i];
  const int64_t len = window_buckets_[i];
  WindowStats& r = running_[i];
  // The buckets that left the window since `from` are still in the ring
  // (not reused by a newer bucket) while they are among the newest
  // ring_size_ buckets; past that, or when no bucket is shared, the window
  // is summed afresh.
  if (from == INT64_MIN || to - from >= std::min(len, ring_size_ - len + 1)) {
    r.counters = Counters{};
    r.waits.Clear();
    for (int64_t k = to - len + 1; k <= to; ++k) {
      if (const Bucket* b = Find(k)) {
        r.counters.Add(b->counters, +1);
        b->waits.ApplyTo(r.waits, +1);
      }
    }
  } else {
    // (from - len, from] becomes (to - len, to].
    for (int64_t k = from - len + 1; k <= to - len; ++k) {
      if (const Bucket* b = Find(k)) {
        r.counters.Add(b->counters, -1);
        b->waits.ApplyTo(r.waits, -1);
      }
    }
    for (int64_t k = from + 1; k <= to; ++k) {
      if (const Bucket* b = Find(k)) {
        r.counters.Add(b->counters, +1);
        b->waits.ApplyTo(r.waits, +1);
      }
    }
  }
  synced_[i] = to;
}

bool SlidingWindows::Record(absl::Time t, const Sample& sample) {
  const int64_t k = BucketIndex(t);
  if (now_index_ == INT64_MIN) now_index_ = k;
  if (k > now_index_) AdvanceTo(t);
  if (k <= now_index_ - ring_size_ + 1) return false;  // older than the ring keeps
  Bucket& b = ring_[static_cast<size_t>(k & slot_mask_)];
  if (b.index != k) {
    b.index = k;
    b.counters = Counters{};
    b.waits.Clear();
    b.max_wait_ns = -1;
  }
  ++records_;
  const int64_t ns = CountSample(b.counters, sample);
  if (ns >= 0) {
    b.waits.Add(sample.wait_bin);
    b.max_wait_ns = std::max(b.max_wait_ns, ns);
  }
  // Into the running aggregates that already cover bucket k; the others
  // add the whole bucket when they catch up.
  for (size_t w = 0; w < windows_.size(); ++w) {
    const int64_t end = synced_[w];
    if (end != INT64_MIN && k <= end && k > end - window_buckets_[w]) {
      CountSample(running_[w].counters, sample);
      if (ns >= 0) running_[w].waits.Add(sample.wait_bin);
    }
  }
  return true;
}

int64_t SlidingWindows::RunningMaxWaitNs(int i) const {
  int64_t best = -1;
  int64_t len = window_buckets_[i];
  for (int64_t k = now_index_ - len + 1; k <= now_index_; ++k) {
    if (const Bucket* b = Find(k)) best = std::max(best, b->max_wait_ns);
  }
  return best;
}

bool SlidingWindows::CanScan(absl::Time end, absl::Duration length) const {
  int64_t e = BucketIndex(end);
  int64_t len = absl::ToInt64Nanoseconds(length) / width_ns_;
  return e <= now_index_ && e - len + 1 > now_index_ - ring_size_ + 1;
}

WindowStats SlidingWindows::ScanWindow(absl::Time end, absl::Duration length) const {
  WindowStats out;
  out.length = length;
  int64_t e = BucketIndex(end);
  int64_t len = absl::ToInt64Nanoseconds(length) / width_ns_;
  for (int64_t k = e - len + 1; k <= e; ++k) {
    if (const Bucket* b = Find(k)) {
      out.counters.Add(b->counters, +1);
      b->waits.ApplyTo(out.waits, +1);
      out.max_wait_ns = std::max(out.max_wait_ns, b->max_wait_ns);
    }
  }
  return out;
}

}  // namespace tidewatch::window
