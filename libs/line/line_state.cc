#include "line/line_state.h"

#include <algorithm>

#include "common/proto_time.h"
#include "line/kpis.h"

namespace tidewatch::line {

using tidewatch::v1::CallEvent;

int64_t AgentCounts::InState(tidewatch::v1::AgentStatus s) const {
  int64_t total = 0;
  for (int64_t v : n[static_cast<int>(s)]) total += v;
  return total;
}

int64_t AgentCounts::LoggedIn() const {
  int64_t total = 0;
  for (int s = tidewatch::v1::AGENT_STATUS_AVAILABLE; s < kStates; ++s) {
    for (int64_t v : n[s]) total += v;
  }
  return total;
}

namespace {

absl::Duration LongestOf(const std::vector<absl::Duration>& windows) {
  absl::Duration longest = absl::ZeroDuration();
  for (absl::Duration w : windows) longest = std::max(longest, w);
  return longest;
}

}  // namespace

LineState::LineState(const policy::LinePolicy& policy, absl::Duration bucket_width,
                     std::vector<absl::Duration> windows, absl::Duration allowed_lateness,
                     LineLimits limits)
    : policy_(&policy),
      lateness_(allowed_lateness),
      quiescent_after_(LongestOf(windows) + 2 * bucket_width),
      limits_(limits),
      windows_(bucket_width, windows, allowed_lateness),
      closed_(LongestOf(windows) + allowed_lateness + bucket_width) {}

void LineState::AdvanceTo(absl::Time now) {
  if (now <= now_) return;
  now_ = now;
  capacity_valid_ = false;
  if (!waiting_.empty()) ++figures_version_;  // longest_waiting grows
  windows_.AdvanceTo(now);
  if (!held_.empty()) OrphanHeld(now);
  if (!waiting_.empty()) ExpireWaiting(now);
  closed_.AdvanceTo(now);
}

void LineState::OrphanHeld(absl::Time now) {
  // Held outcomes whose queued event can no longer arrive in time.
  const absl::Time watermark = now - lateness_;
  for (auto it = held_.begin(); it != held_.end();) {
    if (it->second.time < watermark) {
      if (it->second.after_visit) {
        // No later visit came: it contradicted the one closed (whose
        // record stays, so that visit's own late events still match it).
        ++anomalies_.conflicts;
      } else {
        ++anomalies_.orphans;
        RememberClosed(it->first, it->second.time, it->second.time, /*queued_seen=*/false);
      }
      held_.erase(it++);
    } else {
      ++it;
    }
  }
}

void LineState::ExpireWaiting(absl::Time now) {
  // Calls the feed apparently lost.
  while (!waiting_.empty() && now - waiting_.begin()->first > limits_.max_queue_time) {
    const auto [entered, serial] = *waiting_.begin();
    waiting_.erase(waiting_.begin());
    ++anomalies_.expired_waiting;
    for (auto it = open_.begin(); it != open_.end(); ++it) {
      if (it->second.serial == serial) {
        RememberClosed(it->first, entered, now, /*queued_seen=*/true);
        open_.erase(it);
        break;
      }
    }
  }
}

void LineState::RecordSample(absl::Time t, const window::Sample& s, bool in_windows) {
  totals_.Record(s);
  if (in_windows) windows_.Record(t, s);
}

void LineState::CloseOutcome(absl::Time t, bool answered, absl::Duration wait, bool in_windows) {
  if (wait < absl::ZeroDuration()) wait = absl::ZeroDuration();
  const policy::Targets& targets = policy_->targets;
  if (answered) {
    RecordSample(t, window::Sample::Answered(wait, wait <= targets.answer_within), in_windows);
  } else {
    RecordSample(t, window::Sample::Abandoned(wait, wait < targets.short_abandon), in_windows);
  }
}

void LineState::ApplyHeld(const HeldOutcome& h, absl::Time queued) {
  const bool in_windows = h.time >= now_ - lateness_;
  switch (h.kind) {
    case CallEvent::kAnswered:
    case CallEvent::kAbandoned:
      CloseOutcome(h.time, h.kind == CallEvent::kAnswered, h.time - queued, in_windows);
      break;
    case CallEvent::kCallbackRequested:
      RecordSample(h.time, window::Sample::Callback(), in_windows);
      break;
    default:
      RecordSample(h.time, window::Sample::LeftQueue(), in_windows);
      break;
  }
}

LineState::Disposition LineState::Apply(const events::CallEventView& event, absl::Time t) {
  if (t > now_) AdvanceTo(t);
  capacity_valid_ = false;
  ++figures_version_;
  last_event_time_ = std::max(last_event_time_, t);
  // t < now_ - lateness_, without the subtraction for the usual event at or
  // after the clock.
  const bool late = (t < now_ || lateness_ < absl::ZeroDuration()) && t < now_ - lateness_;
  const bool in_windows = !late;
  const Disposition applied = late ? Disposition::kLate : Disposition::kApplied;
  if (late) ++anomalies_.late;

  switch (event.kind) {
    case CallEvent::kQueued: {
      const Fingerprint id = RecentIdSet::Of(event.call_id);
      if (open_.contains(id)) {
        ++anomalies_.conflicts;
        return Disposition::kConflict;
      }
      const ClosedVisit* visit = closed_.Find(id);
      // Of the visit closed last (else a later, second visit).
      const bool of_closed_visit = visit != nullptr && (t < visit->closed || t <= visit->entered);
      if (of_closed_visit && visit->queued_seen) {
        // That visit's queued event was applied already (resent under
        // another event id): offered once.
        ++anomalies_.conflicts;
        return Disposition::kConflict;
      }
      RecordSample(t, window::Sample::Offered(), in_windows);
      // The exit came first (without a wait, or after an earlier visit
      // closed): now its visit is known. An exit held after a closed visit
      // is that of a later visit, entered no later than it left (a queued
      // event of the closed visit, or one after the exit, is not its own).
      if (auto held = held_.find(id);
          held != held_.end() &&
          (!held->second.after_visit || (!of_closed_visit && t <= held->second.time))) {
        const HeldOutcome h = held->second;
        held_.erase(held);
        ApplyHeld(h, t);
        RememberClosed(id, t, h.time, /*queued_seen=*/true);
        return applied;
      }
      if (of_closed_visit) {
        // The visit whose outcome came first.
        RememberClosed(id, visit->entered, visit->closed, /*queued_seen=*/true);
        return applied;
      }
      const uint64_t serial = next_serial_++;
      open_.emplace(id, OpenCall{t, serial});
      waiting_.emplace(t, serial);
      return applied;
    }
    case CallEvent::kAnswered:
    case CallEvent::kAbandoned: {
      const bool answered = event.kind == CallEvent::kAnswered;
      const Fingerprint id = RecentIdSet::Of(event.call_id);
      auto it = open_.find(id);
      const bool queued_seen = it != open_.end();
      absl::Duration wait;
      absl::Time entered;
      if (queued_seen) {
        wait = event.has_wait ? event.wait.ToDuration() : t - it->second.queued;
        entered = it->second.queued;
        waiting_.erase({it->second.queued, it->second.serial});
        open_.erase(it);
      } else if (held_.contains(id)) {
        ++anomalies_.conflicts;
        return Disposition::kConflict;
      } else if (const ClosedVisit* visit = closed_.Find(id); visit != nullptr) {
        // After a closed visit: the exit of the call queued again, whose
        // queued event has not come yet (an adapter that reorders), or a
        // contradiction of that visit.
        if (t <= visit->closed) {
          ++anomalies_.conflicts;
          return Disposition::kConflict;
        }
        if (!event.has_wait) {
          held_.emplace(id, HeldOutcome{event.kind, t, /*after_visit=*/true});
          return Disposition::kHeld;
        }
        wait = event.wait.ToDuration();
        entered = t - std::max(wait, absl::ZeroDuration());
        if (entered < visit->closed) {  // overlaps the closed visit
          ++anomalies_.conflicts;
          return Disposition::kConflict;
        }
      } else if (event.has_wait) {
        wait = event.wait.ToDuration();
        entered = t - std::max(wait, absl::ZeroDuration());
      } else {
        held_.emplace(id, HeldOutcome{event.kind, t, /*after_visit=*/false});
        return Disposition::kHeld;
      }
      CloseOutcome(t, answered, wait, in_windows);
      RememberClosed(id, entered, t, queued_seen);
      return applied;
    }
    case CallEvent::kCallbackRequested:
    case CallEvent::kLeftQueue: {
      const Fingerprint id = RecentIdSet::Of(event.call_id);
      auto it = open_.find(id);
      const bool queued_seen = it != open_.end();
      absl::Time entered = t;  // unknown when it left before it was queued
      if (queued_seen) {
        entered = it->second.queued;
        waiting_.erase({it->second.queued, it->second.serial});
        open_.erase(it);
      } else if (held_.contains(id)) {
        ++anomalies_.conflicts;
        return Disposition::kConflict;
      } else if (const ClosedVisit* visit = closed_.Find(id); visit != nullptr) {
        // As for an answer: a later visit's exit waits for its queued event.
        if (t <= visit->closed) {
          ++anomalies_.conflicts;
          return Disposition::kConflict;
        }
        held_.emplace(id, HeldOutcome{event.kind, t, /*after_visit=*/true});
        return Disposition::kHeld;
      }
      RecordSample(t,
                   event.kind == CallEvent::kCallbackRequested ? window::Sample::Callback()
                                                               : window::Sample::LeftQueue(),
                   in_windows);
      RememberClosed(id, entered, t, queued_seen);
      return applied;
    }
    case CallEvent::kCompleted: {
      absl::Duration handle = event.talk.ToDuration() + event.wrap.ToDuration();
      std::optional<bool> fcr;
      if (event.has_resolved_first_time) fcr = event.resolved_first_time;
      RecordSample(t, window::Sample::Completed(handle, fcr), in_windows);
      return applied;
    }
    case CallEvent::kAgentState: {
      AgentRecord& rec =
          agent_records_[absl::string_view(event.agent_id.data(), event.agent_id.size())];
      if (t < rec.since) {
        ++anomalies_.stale_agent_events;
        return Disposition::kConflict;
      }
      const bool known = rec.since != absl::InfinitePast();
      if (known) --agents_.n[rec.state][rec.origin];
      rec.state = static_cast<tidewatch::v1::AgentStatus>(event.agent_status);
      if (event.agent_origin != tidewatch::v1::AGENT_ORIGIN_UNSPECIFIED || !known) {
        rec.origin = static_cast<tidewatch::v1::AgentOrigin>(event.agent_origin);
      }
      rec.since = t;
      ++agents_.n[rec.state][rec.origin];
      return applied;
    }
    case CallEvent::KIND_NOT_SET:
      break;
  }
  ++anomalies_.conflicts;
  return Disposition::kConflict;
}

std::vector<std::pair<Fingerprint, absl::Time>> LineState::OldestWaiting(absl::Time before,
                                                                         size_t max) const {
  std::vector<std::pair<Fingerprint, absl::Time>> out;
  if (max == 0 || waiting_.empty() || waiting_.begin()->first >= before) return out;
  // The serials of the oldest, then their calls.
  absl::flat_hash_map<uint64_t, size_t> index;  // serial -> position
  for (const auto& [queued, serial] : waiting_) {
    if (out.size() == max || queued >= before) break;
    index.emplace(serial, out.size());
    out.push_back({Fingerprint{}, queued});
  }
  for (const auto& [call, open] : open_) {
    if (auto it = index.find(open.serial); it != index.end()) out[it->second].first = call;
  }
  return out;
}

bool LineState::RestoreWaiting(const Fingerprint& call, absl::Time queued) {
  if (open_.contains(call) || closed_.Contains(call) || held_.contains(call)) return false;
  const uint64_t serial = next_serial_++;
  open_.emplace(call, OpenCall{queued, serial});
  waiting_.emplace(queued, serial);
  ++figures_version_;
  return true;
}

std::optional<absl::Duration> LineState::longest_waiting() const {
  if (waiting_.empty()) return std::nullopt;
  return std::max(absl::ZeroDuration(), now_ - waiting_.begin()->first);
}

int LineState::WindowIndex(absl::Duration length) const {
  for (int i = 0; i < windows_.num_windows(); ++i) {
    if (windows_.window(i) == length) return i;
  }
  return -1;
}

std::optional<double> LineState::MetricValue(tidewatch::v1::Metric metric, int window_index) const {
  using namespace tidewatch::v1;
  switch (metric) {
    case METRIC_CALLS_WAITING:
      return static_cast<double>(calls_waiting());
    case METRIC_LONGEST_WAITING: {
      // No one waiting: the longest wait is zero, a calm value.
      std::optional<absl::Duration> w = longest_waiting();
      return w ? absl::ToDoubleSeconds(*w) : 0.0;
    }
    case METRIC_AGENTS_AVAILABLE:
      return static_cast<double>(agents_.InState(AGENT_STATUS_AVAILABLE));
    case METRIC_PREDICTED_WAIT:
      return Capacity().predicted_wait_seconds;
    case METRIC_CAPACITY_GAP: {
      std::optional<int> gap = Capacity().gap;
      if (!gap) return std::nullopt;
      return static_cast<double>(*gap);
    }
    default:
      break;
  }
  if (window_index < 0 || window_index >= windows_.num_windows()) return std::nullopt;
  int64_t max_ns = metric == METRIC_MAX_WAIT ? windows_.RunningMaxWaitNs(window_index) : -1;
  return ComputeMetric(metric, windows_.Running(window_index), max_ns);
}

}  // namespace tidewatch::line

namespace tidewatch::line {

const CapacityEstimate& LineState::Capacity() const {
  if (!capacity_valid_) {
    const int wi = CapacityWindowIndex();
    capacity_ = EstimateCapacity(windows_.Running(wi), windows_.window(wi), agents_, *policy_);
    capacity_valid_ = true;
  }
  return capacity_;
}

std::vector<tidewatch::v1::AgentSnapshot> LineState::AgentSnapshots() const {
  std::vector<tidewatch::v1::AgentSnapshot> out;
  for (const auto& [id, rec] : agent_records_) {
    if (rec.state == tidewatch::v1::AGENT_STATUS_LOGGED_OUT ||
        rec.state == tidewatch::v1::AGENT_STATUS_UNSPECIFIED) {
      continue;
    }
    tidewatch::v1::AgentSnapshot& a = out.emplace_back();
    a.set_agent_id(id);
    a.set_status(rec.state);
    a.set_origin(rec.origin);
    ToProto(rec.since, a.mutable_time());
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.agent_id() < b.agent_id(); });
  return out;
}

void LineState::RestoreAgent(const tidewatch::v1::AgentSnapshot& agent) {
  const int state = agent.status();
  const int origin = agent.origin();
  if (state < 0 || state >= AgentCounts::kStates || origin < 0 || origin >= AgentCounts::kOrigins) {
    return;  // from a newer schema: not ours to count
  }
  const absl::Time since = FromProto(agent.time());
  AgentRecord& rec = agent_records_[agent.agent_id()];
  const bool known = rec.since != absl::InfinitePast();
  if (known && rec.since >= since) return;
  if (known) --agents_.n[rec.state][rec.origin];
  rec.state = agent.status();
  rec.origin = agent.origin();
  rec.since = since;
  ++agents_.n[rec.state][rec.origin];
  capacity_valid_ = false;
  ++figures_version_;
}

}  // namespace tidewatch::line
