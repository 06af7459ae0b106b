// The live state of one call line: open calls, agents, sliding windows.
//
// LineState follows every call from queued to its outcome (answered,
// abandoned, callback_requested, left_queue), keeps calls_waiting and the
// age of the oldest waiting call, counts agents by state and origin, and
// records each outcome in the line's sliding windows at the time it
// happened. The engine owns one per line, de-duplicates events before they
// reach it, and moves its clock.
//
// Out-of-order events: an event stamped within the allowed lateness of the
// clock lands in its own window bucket. An older one is "late": it still
// opens or closes its call and counts in the totals, but no longer in the
// windows. An answered/abandoned event whose queued event has not been seen
// uses its own `wait`; without one it is held until its queued event
// arrives, or counted as an orphan once the lateness has passed. An exit
// stamped after a visit of its call closed is held likewise, as the exit of
// a later visit (the call queued again) whose queued event has not arrived:
// that event closes it, or it is a conflict once the lateness has passed.
//
//   LineState line(policy, absl::Seconds(10), windows, absl::Minutes(2));
//   line.AdvanceTo(now);
//   LineState::Disposition d = line.Apply(event, EventTime(event));
//   int64_t waiting = line.calls_waiting();
#ifndef TIDEWATCH_LIBS_LINE_LINE_STATE_H_
#define TIDEWATCH_LIBS_LINE_LINE_STATE_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "common/recent_id_set.h"
#include "events/event_view.h"
#include "line/agent_counts.h"
#include "line/capacity_estimate.h"
#include "policy/compiled_policy.h"
#include "tidewatch/v1/events.pb.h"
#include "tidewatch/v1/tide.pb.h"
#include "window/sliding_windows.h"

namespace tidewatch::line {

// Tallies of events that were not applied normally, by what happened.
struct LineAnomalies {
  int64_t late = 0;                // applied to calls and totals only
  int64_t orphans = 0;             // outcome with no wait and no queued event
  int64_t conflicts = 0;           // e.g. a second outcome for a call
  int64_t expired_waiting = 0;     // waiting calls dropped after max_queue_time
  int64_t stale_agent_events = 0;  // agent_state older than the last applied

  LineAnomalies& operator+=(const LineAnomalies& o) {
    late += o.late;
    orphans += o.orphans;
    conflicts += o.conflicts;
    expired_waiting += o.expired_waiting;
    stale_agent_events += o.stale_agent_events;
    return *this;
  }
};

// Limits on what a line keeps.
struct LineLimits {
  // A call still "waiting" after this long is assumed lost by the feed and
  // dropped from calls_waiting (counted in expired_waiting).
  absl::Duration max_queue_time = absl::Hours(8);
};

// One line's state. Not thread-safe, not even for readers only (reading a
// window or the capacity estimate updates caches): one owner, or a lock.
class LineState {
 public:
  // What Apply did with an event.
  enum class Disposition {
    kApplied,
    kLate,      // applied to calls/totals, too old for the windows
    kHeld,      // outcome waiting for its queued event
    kConflict,  // contradicts what is known; ignored
  };

  LineState(const policy::LinePolicy& policy, absl::Duration bucket_width,
            std::vector<absl::Duration> windows, absl::Duration allowed_lateness,
            LineLimits limits = {});

  // Replaces targets etc. (future samples use the new targets).
  void set_policy(const policy::LinePolicy& policy) {
    policy_ = &policy;
    capacity_valid_ = false;  // the estimate reads targets and handle time
    ++figures_version_;
  }
  const policy::LinePolicy& policy() const { return *policy_; }

  // Moves the clock forward: slides windows, turns held outcomes older than
  // the lateness into orphans, drops calls waiting beyond max_queue_time.
  void AdvanceTo(absl::Time now);
  absl::Time now() const { return now_; }

  // Applies one event stamped `t` (its event_time). The caller has advanced
  // the clock to at least `t`.
  Disposition Apply(const events::CallEventView& event, absl::Time t);
  Disposition Apply(const tidewatch::v1::CallEvent& event, absl::Time t) {
    return Apply(events::ViewOf(event), t);
  }

  // Live figures.
  int64_t calls_waiting() const { return static_cast<int64_t>(waiting_.size()); }
  // Age of the oldest waiting call at the clock; nullopt when none waits.
  std::optional<absl::Duration> longest_waiting() const;
  const AgentCounts& agents() const { return agents_; }
  // Every logged-in agent's last known state, by agent id (recovery
  // snapshots: tidewatch.state).
  std::vector<tidewatch::v1::AgentSnapshot> AgentSnapshots() const;
  // Restores one agent from a snapshot unless an event at least as new is
  // already known for it (a replay may have seen a later one).
  void RestoreAgent(const tidewatch::v1::AgentSnapshot& agent);
  // The calls waiting now that were queued before `before`, oldest first,
  // at most `max` of them, by the fingerprint of their call id (recovery
  // snapshots: tidewatch.state).
  std::vector<std::pair<Fingerprint, absl::Time>> OldestWaiting(absl::Time before,
                                                                size_t max) const;
  // Restores a call waiting since `queued` (a snapshot's) unless the call is
  // known already (a replay opened it again, or closed it); returns whether
  // it was restored.
  bool RestoreWaiting(const Fingerprint& call, absl::Time queued);
  // Whether nothing about the line changes with time alone from `now` on
  // until its next event: no call waits, no outcome is held, and every
  // window has emptied (the newest event is older than the longest window).
  bool QuiescentAt(absl::Time now) const {
    if (!waiting_.empty() || !held_.empty()) return false;
    if (last_event_time_ == absl::InfinitePast()) return true;
    // now - last_event_time_ > quiescent_after_. quiet_after_ is
    // last_event_time_ + quiescent_after_ for an earlier (never later)
    // last_event_time_: up to it the line is certainly not quiescent, and
    // only past it is the sum worked out again.
    if (now <= quiet_after_) return false;
    quiet_after_ = last_event_time_ + quiescent_after_;
    return now > quiet_after_;
  }
  // The newest event time seen (InfinitePast before any).
  absl::Time last_event_time() const { return last_event_time_; }

  const window::SlidingWindows& windows() const { return windows_; }
  // Everything ever applied (late events included), for replay totals.
  const window::WindowStats& totals() const { return totals_; }
  int64_t totals_max_wait_ns() const { return totals_.max_wait_ns; }
  // Replaces the totals (recovery: the totals as of a tide snapshot).
  void set_totals(window::WindowStats totals) { totals_ = std::move(totals); }
  const LineAnomalies& anomalies() const { return anomalies_; }

  // The value of `metric` now: windowed metrics over window `window_index`,
  // live metrics ignore it. nullopt when undefined.
  std::optional<double> MetricValue(tidewatch::v1::Metric metric, int window_index) const;
  // Where the line's figures stand now, for FiguresChanged.
  struct FiguresMark {
    uint64_t version = 0;
    window::SlidingWindows::Mark windows;
  };
  FiguresMark MarkFigures() const { return {figures_version_, windows_.mark()}; }
  // Whether MetricValue(metric, window_index) may differ from what it was
  // at `mark` (false: it is the same).
  bool FiguresChanged(const FiguresMark& mark, tidewatch::v1::Metric metric,
                      int window_index) const {
    if (figures_version_ != mark.version) return true;
    if (window_index >= 0 && window_index < windows_.num_windows() &&
        windows_.Changed(window_index, mark.windows)) {
      return true;
    }
    return (metric == tidewatch::v1::METRIC_PREDICTED_WAIT ||
            metric == tidewatch::v1::METRIC_CAPACITY_GAP) &&
           windows_.Changed(CapacityWindowIndex(), mark.windows);
  }
  // Index of a window of this length, or -1.
  int WindowIndex(absl::Duration length) const;

  // Which window the live capacity estimate reads (default: the last).
  void set_capacity_window(int window_index) {
    capacity_window_ = window_index;
    capacity_valid_ = false;
    ++figures_version_;
  }
  // The live capacity estimate (libs/line/capacity_estimate.h) over the
  // capacity window at the clock; computed once per clock instant.
  const CapacityEstimate& Capacity() const;

 private:
  struct OpenCall {
    absl::Time queued;
    uint64_t serial;
  };
  // An exit from the queue applied once its queued event comes: an
  // answered/abandoned without a wait, or any exit of a call whose last
  // visit closed before it (a re-queued call's exit that overtook its
  // queued event; if none comes within the lateness, a conflict).
  struct HeldOutcome {
    events::CallEventView::Kind kind;  // answered, abandoned, callback, left
    absl::Time time;
    bool after_visit;  // a visit of the call closed before it
  };

  // AdvanceTo's work on held outcomes and waiting calls, when there are any.
  void OrphanHeld(absl::Time now);
  void ExpireWaiting(absl::Time now);
  // The window Capacity reads.
  int CapacityWindowIndex() const {
    return capacity_window_ >= 0 && capacity_window_ < windows_.num_windows()
               ? capacity_window_
               : windows_.num_windows() - 1;
  }
  void RecordSample(absl::Time t, const window::Sample& s, bool in_windows);
  // A visit of `call` to the queue, entered at `entered`, ended at
  // `closed`; `queued_seen`: its queued event was applied (else it may
  // still come, after its outcome).
  void RememberClosed(const Fingerprint& call, absl::Time entered, absl::Time closed,
                      bool queued_seen) {
    closed_.Put(call, ClosedVisit{entered, closed, queued_seen});
  }
  void CloseOutcome(absl::Time t, bool answered, absl::Duration wait, bool in_windows);
  // Records a held exit whose queued event came at `queued`.
  void ApplyHeld(const HeldOutcome& h, absl::Time queued);

  const policy::LinePolicy* policy_;
  absl::Duration lateness_;
  absl::Duration quiescent_after_;  // longest window + two buckets
  LineLimits limits_;
  window::SlidingWindows windows_;
  window::WindowStats totals_;
  absl::Time now_ = absl::InfinitePast();
  absl::Time last_event_time_ = absl::InfinitePast();
  // Moves on every event, and every clock move while calls wait (their
  // waits grow), policy change and agent restore (see FiguresChanged).
  uint64_t figures_version_ = 0;
  mutable absl::Time quiet_after_ = absl::InfinitePast();  // see QuiescentAt

  // Calls by the fingerprint of their id (RecentIdSet::Of: hashed once per
  // event, no string kept).
  absl::flat_hash_map<Fingerprint, OpenCall, FingerprintHash> open_;
  absl::btree_set<std::pair<absl::Time, uint64_t>> waiting_;
  uint64_t next_serial_ = 0;
  // Calls that left the queue recently, so a late queued event does not
  // reopen them; kept for at least the windows' horizon. A queued event at
  // or after a visit's end (and after its entry) is the call queued again:
  // a new visit (Asterisk re-queues a call under the same uniqueid).
  struct ClosedVisit {
    absl::Time entered;
    absl::Time closed;
    bool queued_seen;  // a second queued event of the visit is a conflict
  };
  RecentIdMap<ClosedVisit> closed_;
  absl::flat_hash_map<Fingerprint, HeldOutcome, FingerprintHash> held_;

  struct AgentRecord {
    tidewatch::v1::AgentStatus state = tidewatch::v1::AGENT_STATUS_LOGGED_OUT;
    tidewatch::v1::AgentOrigin origin = tidewatch::v1::AGENT_ORIGIN_UNSPECIFIED;
    absl::Time since = absl::InfinitePast();
  };
  absl::flat_hash_map<std::string, AgentRecord> agent_records_;
  AgentCounts agents_;
  LineAnomalies anomalies_;

  int capacity_window_ = -1;
  mutable bool capacity_valid_ = false;
  mutable CapacityEstimate capacity_;
};

}  // namespace tidewatch::line

#endif  // TIDEWATCH_LIBS_LINE_LINE_STATE_H_
