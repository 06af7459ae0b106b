#include "engine/engine.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "line/kpis.h"

namespace tidewatch::engine {

using tidewatch::v1::CallEvent;
using tidewatch::v1::CallUp;
using tidewatch::v1::MetricValue;
using tidewatch::v1::TideChange;

namespace {

// Smallest multiple of `step` (from the epoch) at or after t.
absl::Time CeilTo(absl::Time t, absl::Duration step) {
  const int64_t ns = absl::ToUnixNanos(t);
  const int64_t s = absl::ToInt64Nanoseconds(step);
  int64_t q = ns / s;
  if (q * s < ns) ++q;
  return absl::FromUnixNanos(q * s);
}

std::string FormatValue(tidewatch::v1::Metric m, double v) {
  if (policy::IsDurationMetric(m)) return absl::StrFormat("%.0fs", v);
  switch (m) {
    case tidewatch::v1::METRIC_ANSWER_RATE:
    case tidewatch::v1::METRIC_ABANDON_RATE:
    case tidewatch::v1::METRIC_SERVICE_LEVEL:
      return absl::StrFormat("%.1f%%", v * 100);
    case tidewatch::v1::METRIC_ARRIVALS_PER_MINUTE:
      return absl::StrFormat("%.2f/min", v);
    default:
      return absl::StrFormat("%.0f", v);
  }
}

std::string ClauseText(const policy::Clause& c, std::optional<double> v) {
  std::string name(policy::MetricName(c.metric));
  if (policy::IsWindowedMetric(c.metric))
    absl::StrAppend(&name, "(", policy::WindowLabel(c.window), ")");
  return absl::StrCat(name, "=", v ? FormatValue(c.metric, *v) : std::string("n/a"),
                      c.above ? " above " : " below ", FormatValue(c.metric, c.threshold));
}

bool EvaluateCondition(const policy::Condition& c, const line::LineState& state, bool exiting,
                       std::vector<MetricValue>* values, std::vector<std::string>* met_text);

std::string CompactTime(absl::Time t) {
  return absl::FormatTime("%Y%m%dT%H%M%SZ", t, absl::UTCTimeZone());
}

}  // namespace

std::string_view EventOutcomeName(EventOutcome outcome) {
  switch (outcome) {
    case EventOutcome::kApplied:
      return "applied";
    case EventOutcome::kDuplicate:
      return "duplicate";
    case EventOutcome::kUnknownLine:
      return "unknown_line";
    case EventOutcome::kLate:
      return "late";
    case EventOutcome::kHeld:
      return "held";
    case EventOutcome::kConflict:
      return "conflict";
    case EventOutcome::kTooFarAhead:
      return "too_far_ahead";
    case EventOutcome::kNotOwned:
      return "not_owned";
  }
  return "unknown";
}

void EngineOutput::OnEscalation(const tidewatch::v1::Escalation& escalation) {
  if (escalation.has_tide_change()) OnTideChange(escalation.tide_change());
  if (escalation.has_callup()) OnCallUp(escalation.callup());
}

// A tier condition resolved against a line's windows for evaluation at
// every instant: each clause reads a slot of the line's per-instant metric
// cache, so a metric several clauses share is computed once.
struct FastClause {
  int slot = 0;
  bool above = true;
  double threshold = 0;
};
struct FastCondition {
  bool all = false;
  std::vector<FastClause> clauses;
};

// Per line: its policy, state and tide.
struct Engine::LineEntry {
  LineEntry(const policy::LinePolicy& p, absl::Duration g, std::vector<absl::Duration> windows,
            absl::Duration lateness, line::LineLimits limits)
      : policy(&p), state(p, g, std::move(windows), lateness, limits) {
    enter_since.assign(p.tiers.size(), absl::InfiniteFuture());
    entered_at.assign(p.tiers.size() + 1, absl::InfinitePast());
    entries.assign(p.tiers.size() + 1, 0);
    called_teams.resize(p.tiers.size() + 1);
    CompileConditions();
  }

  // Whether `team` was paged at level `lv`'s current entry.
  bool Called(int lv, const std::string& team) const {
    return lv < static_cast<int>(called_teams.size()) &&
           std::find(called_teams[lv].begin(), called_teams[lv].end(), team) !=
               called_teams[lv].end();
  }

  // Resolves the tiers' conditions (again after the policy changes).
  void CompileConditions() {
    slots.clear();
    auto compile = [&](const policy::Condition& c) {
      FastCondition fc;
      fc.all = c.all;
      for (const policy::Clause& clause : c.clauses) {
        const int wi =
            policy::IsWindowedMetric(clause.metric) ? state.WindowIndex(clause.window) : -1;
        int slot = 0;
        while (slot < static_cast<int>(slots.size()) &&
               (slots[slot].metric != clause.metric || slots[slot].window != wi)) {
          ++slot;
        }
        if (slot == static_cast<int>(slots.size())) slots.push_back({clause.metric, wi});
        fc.clauses.push_back({slot, clause.above, clause.threshold});
      }
      return fc;
    };
    enter.clear();
    exit.clear();
    for (const policy::TierRule& tier : policy->tiers) {
      enter.push_back(compile(tier.enter));
      exit.push_back(compile(tier.exit));
    }
    ResetMetricCache();
    calm = false;
  }

  // Whether a metric the conditions read may have moved since `mark`.
  bool FiguresChangedSince(const line::LineState::FiguresMark& mark) const {
    for (const Slot& slot : slots) {
      if (state.FiguresChanged(mark, slot.metric, slot.window)) return true;
    }
    return false;
  }

  // No tier's enter condition is holding (none is counting its sustain).
  bool NoTierHolding() const {
    return std::all_of(enter_since.begin(), enter_since.end(),
                       [](absl::Time t) { return t == absl::InfiniteFuture(); });
  }

  // Forgets the cached metric values (the line's figures may have moved).
  void ResetMetricCache() { ++cache_epoch; }

  // The same verdict as EvaluateCondition(c, state, exiting, nullptr,
  // nullptr), reading each metric at most once per cache reset.
  bool Holds(const FastCondition& c, bool exiting) {
    for (const FastClause& clause : c.clauses) {
      Slot& slot = slots[clause.slot];
      if (slot.epoch != cache_epoch) {
        const std::optional<double> v = state.MetricValue(slot.metric, slot.window);
        slot.epoch = cache_epoch;
        slot.defined = v.has_value();
        slot.value = v.value_or(0);
      }
      const bool met = !slot.defined  ? exiting
                       : clause.above ? slot.value > clause.threshold
                                      : slot.value < clause.threshold;
      // all: the first clause not met decides; any: the first one met.
      if (met != c.all) return met;
    }
    return c.all;
  }

  const policy::LinePolicy* policy;
  line::LineState state;
  std::vector<FastCondition> enter;  // per tier index
  std::vector<FastCondition> exit;   // per tier index
  // A metric the conditions read, with its value cached until the next
  // ResetMetricCache.
  struct Slot {
    tidewatch::v1::Metric metric;
    int window;            // index into the line's windows; -1 for live metrics
    uint64_t epoch = 0;    // the value is current when this is cache_epoch
    bool defined = false;  // else the metric is undefined
    double value = 0;
  };
  std::vector<Slot> slots;
  uint64_t cache_epoch = 0;
  // The last evaluation of the open line found it calm (level 0, no tier's
  // condition holding) on the figures at calm_figures: until they move,
  // evaluating it again finds the same.
  bool calm = false;
  line::LineState::FiguresMark calm_figures;
  int level = 0;
  absl::Time episode_start = absl::InfinitePast();
  std::vector<absl::Time> enter_since;  // per tier index; Future: not holding
  std::vector<absl::Time> entered_at;   // per level
  std::vector<int> entries;             // per level, this episode
  // Per level: the teams paged at the tier's current entry (a team a policy
  // version adds to the tier while it is in force is paged then, once).
  std::vector<std::vector<std::string>> called_teams;
  std::vector<CallUp> open_callups;
  int64_t escalation_sequence = 0;  // last used
  bool owned = true;                // EngineOptions::owns_line
  bool frozen = false;              // recovering: tide not evaluated
  // When a policy version added the line to a running engine: its feed's
  // silence is counted from then, not from the engine's start.
  absl::Time added_at = absl::InfinitePast();
  // The engine time of the state RestoreTide put in (SavedStateTime):
  // before the engine's clock starts, the time its stand-downs carry.
  absl::Time restored_at = absl::InfinitePast();
  // Calm and quiescent at its last evaluation, with no tier's condition
  // holding on its (unchanging) figures: evaluating it again before its
  // next event would change nothing, so instants skip it. Replaying days of
  // backlog this skips nights and quiet lines.
  bool idle = false;
  // Opening hours as of the last instant, and until when that answer holds.
  bool open = false;
  absl::Time hours_valid_until = absl::InfinitePast();
  bool feed_stale = false;
  absl::Time last_closed = absl::InfinitePast();  // last instant seen closed
};

Engine::Engine(std::shared_ptr<const policy::CompiledPolicy> policy, EngineOptions options,
               EngineOutput* output)
    : policy_(std::move(policy)),
      options_(std::move(options)),
      output_(output),
      interval_(policy_->evaluation_interval),
      seen_ids_(
          std::max(options_.dedupe_horizon, policy_->longest_window() + policy_->allowed_lateness)),
      command_ids_(options_.command_dedupe_horizon),
      policy_version_(options_.policy_version) {
  windows_ = policy_->windows;
  for (absl::Duration w : options_.snapshot_windows) {
    if (std::find(windows_.begin(), windows_.end(), w) == windows_.end()) windows_.push_back(w);
  }
  std::sort(windows_.begin(), windows_.end());
  if (options_.snapshot_windows.empty()) options_.snapshot_windows = policy_->windows;
  for (const auto& [id, lp] : policy_->lines) {
    std::unique_ptr<LineEntry> entry = MakeEntry(lp);
    by_id_[id] = entry.get();
    lines_.emplace(id, std::move(entry));
  }
  IndexLines();
}

void Engine::IndexLines() {
  owned_.clear();
  all_idle_ = false;
  last_line_ = nullptr;
  for (auto& [id, entry] : lines_) {
    entry->idle = false;
    entry->hours_valid_until = absl::InfinitePast();  // the hours may have changed
    if (entry->owned) owned_.push_back(entry.get());
  }
}

std::unique_ptr<Engine::LineEntry> Engine::MakeEntry(const policy::LinePolicy& lp) const {
  auto entry = std::make_unique<LineEntry>(lp, interval_, windows_, policy_->allowed_lateness,
                                           options_.line_limits);
  // The capacity model reads capacity_window when the policy keeps it, else
  // the policy's longest window: chosen from the policy's own windows, never
  // from extra snapshot windows (tidectl replay --windows), so that a replay
  // computes predicted_wait, capacity_gap and `headcount: gap` over the same
  // window as tidewatchd.
  const std::vector<absl::Duration>& own = policy_->windows;
  const absl::Duration capacity_window =
      std::find(own.begin(), own.end(), options_.capacity_window) != own.end()
          ? options_.capacity_window
          : policy_->longest_window();
  const auto cw = std::find(windows_.begin(), windows_.end(), capacity_window);
  entry->state.set_capacity_window(cw == windows_.end() ? static_cast<int>(windows_.size()) - 1
                                                        : static_cast<int>(cw - windows_.begin()));
  entry->owned = !options_.owns_line || options_.owns_line(lp.line_id);
  return entry;
}

Engine::~Engine() = default;

EventOutcome Engine::Apply(const events::CallEventView& event) {
  // Events come in runs of one line (a partition holds few): compare with
  // the last line found before hashing the id.
  LineEntry* found = last_line_;
  if (found == nullptr || found->policy->line_id != event.line_id) {
    auto it = by_id_.find(absl::string_view(event.line_id.data(), event.line_id.size()));
    if (it == by_id_.end()) {
      ++unknown_lines_;
      return EventOutcome::kUnknownLine;
    }
    found = it->second;
    last_line_ = found;
  }
  if (!found->owned) {
    ++not_owned_;
    return EventOutcome::kNotOwned;
  }
  const absl::Time t = event.event_time.ToTime();
  // t - now_ > max_clock_jump, tested against a bound from an earlier clock
  // reading first: the clock never goes back, so within that bound the
  // event is not too far ahead (and the Duration arithmetic is skipped).
  if (now_ != absl::InfinitePast() && t > clock_jump_bound_) {
    clock_jump_bound_ = now_ + options_.max_clock_jump;
    if (t > clock_jump_bound_) {
      ++too_far_ahead_;
      return EventOutcome::kTooFarAhead;
    }
  }
  const Fingerprint event_fp = RecentIdSet::Of(event.event_id);
  if (!seen_ids_.Insert(event_fp)) {
    ++duplicates_;
    return EventOutcome::kDuplicate;
  }
  if (now_ == absl::InfinitePast()) InitClock(t);
  // Instants strictly before this event are complete: evaluate them first.
  const absl::Time rotation = seen_ids_.next_rotation();
  while (next_eval_ < t) {
    if (all_idle_) {
      SkipIdleInstants(CeilTo(t, interval_));
      if (next_eval_ >= t) break;
    }
    EvaluateInstant(next_eval_);
    next_eval_ += interval_;
  }
  // Those instants rotated the ids (a quiet gap on event time, with no
  // ticks): this event's id belongs to the newest generation.
  if (seen_ids_.next_rotation() != rotation) seen_ids_.Keep(event_fp);
  if (t > now_) now_ = t;
  LineEntry& entry = *found;
  entry.idle = false;
  all_idle_ = false;
  entry.state.AdvanceTo(now_);
  switch (entry.state.Apply(event, t)) {
    case line::LineState::Disposition::kApplied:
      return EventOutcome::kApplied;
    case line::LineState::Disposition::kLate:
      return EventOutcome::kLate;
    case line::LineState::Disposition::kHeld:
      return EventOutcome::kHeld;
    case line::LineState::Disposition::kConflict:
      return EventOutcome::kConflict;
  }
  return EventOutcome::kApplied;
}

void Engine::InitClock(absl::Time t) {
  started_ = t;
  next_eval_ = CeilTo(t, interval_);
  if (options_.snapshot_every > absl::ZeroDuration()) {
    next_snapshot_ = CeilTo(t, options_.snapshot_every);
    snapshot_due_ = next_snapshot_ + policy_->allowed_lateness;
  }
  now_ = t;
}

void Engine::AdvanceTo(absl::Time t) {
  if (now_ == absl::InfinitePast()) InitClock(t);
  while (next_eval_ <= t) {
    if (all_idle_) {
      // The first instant after t.
      absl::Time limit = CeilTo(t, interval_);
      if (limit == t) limit += interval_;
      SkipIdleInstants(limit);
      if (next_eval_ > t) break;
    }
    EvaluateInstant(next_eval_);
    next_eval_ += interval_;
  }
  if (t > now_) now_ = t;
}

void Engine::SkipIdleInstants(absl::Time limit) {
  // At an instant where every owned line is idle, EvaluateInstant only
  // rotates the id sets and takes due snapshots: skip to the first instant
  // where one of those happens, or to the limit.
  const absl::Time wake =
      std::min({seen_ids_.next_rotation(), command_ids_.next_rotation(), snapshot_due_, limit});
  if (wake <= next_eval_) return;
  next_eval_ = wake == limit ? limit : std::min(CeilTo(wake, interval_), limit);
}

void Engine::Finish() {
  if (now_ == absl::InfinitePast()) return;
  AdvanceTo(now_);
  for (auto& [id, entry] : lines_) entry->state.AdvanceTo(now_);
  while (next_snapshot_ <= now_) {
    EmitSnapshots(next_snapshot_);
    next_snapshot_ += options_.snapshot_every;
    snapshot_due_ = next_snapshot_ + policy_->allowed_lateness;
  }
}

void Engine::EvaluateInstant(absl::Time e) {
  seen_ids_.AdvanceTo(e);
  command_ids_.AdvanceTo(e);
  bool all_idle = true;
  for (LineEntry* entry : owned_) {
    if (entry->idle) continue;
    entry->state.AdvanceTo(e);
    if (entry->frozen) {
      all_idle = false;
      continue;
    }
    if (!entry->open_callups.empty()) RepageDue(*entry, e);
    EvaluateLine(*entry, e);
    entry->idle = CanIdle(*entry, e);
    all_idle = all_idle && entry->idle;
  }
  all_idle_ = all_idle;
  if (snapshot_due_ <= e) {
    for (LineEntry* entry : owned_) {
      if (entry->idle) entry->state.AdvanceTo(e);  // windows scanned below
    }
  }
  while (snapshot_due_ <= e) {
    EmitSnapshots(next_snapshot_);
    next_snapshot_ += options_.snapshot_every;
    snapshot_due_ = next_snapshot_ + policy_->allowed_lateness;
  }
}

bool Engine::CanIdle(LineEntry& entry, absl::Time e) const {
  // Live services watch for stale feeds, which is about time passing.
  if (!options_.skip_idle_lines || options_.detect_stale_feeds || entry.level > 0 ||
      !entry.open_callups.empty() || entry.feed_stale || !entry.state.QuiescentAt(e)) {
    return false;
  }
  if (!entry.NoTierHolding()) return false;
  // Closed lines skip the conditions; would any hold once open?
  if (entry.last_closed == e) {
    // The figures are those EvaluateLine read at e (its cache holds).
    for (const FastCondition& enter : entry.enter) {
      if (entry.Holds(enter, /*exiting=*/false)) return false;
    }
  }
  return true;
}

void Engine::EmitSnapshots(absl::Time t) {
  for (auto& [id, entry] : lines_) {
    if (!entry->owned) continue;
    for (absl::Duration w : options_.snapshot_windows) {
      if (!entry->state.windows().CanScan(t, w)) continue;
      window::WindowStats stats = entry->state.windows().ScanWindow(t, w);
      tidewatch::v1::KpiSnapshot snap;
      snap.set_line_id(id);
      ToProto(t, snap.mutable_time());
      ToProto(w, snap.mutable_window());
      *snap.mutable_kpis() = line::MakeKpis(stats, stats.max_wait_ns);
      output_->OnSnapshot(snap);
    }
  }
}

namespace {

// Evaluates a condition on a line. When entering, a clause on an undefined
// metric is not met; when exiting, it does not hold the tier up (it is
// met). Fills `values` with every clause's value and `met_text` with the
// clauses that were met.
bool EvaluateCondition(const policy::Condition& c, const line::LineState& state, bool exiting,
                       std::vector<MetricValue>* values, std::vector<std::string>* met_text) {
  bool any = false;
  bool all = true;
  for (const policy::Clause& clause : c.clauses) {
    const int wi = policy::IsWindowedMetric(clause.metric) ? state.WindowIndex(clause.window) : -1;
    std::optional<double> v = state.MetricValue(clause.metric, wi);
    bool met;
    if (!v) {
      met = exiting;
    } else {
      met = clause.above ? *v > clause.threshold : *v < clause.threshold;
    }
    any = any || met;
    all = all && met;
    if (values) {
      MetricValue& mv = values->emplace_back();
      mv.set_metric(clause.metric);
      if (policy::IsWindowedMetric(clause.metric)) ToProto(clause.window, mv.mutable_window());
      if (v) mv.set_value(*v);
      mv.set_comparison(clause.above ? tidewatch::v1::Clause::COMPARISON_ABOVE
                                     : tidewatch::v1::Clause::COMPARISON_BELOW);
      mv.set_threshold(clause.threshold);
    }
    if (met && met_text) met_text->push_back(ClauseText(clause, v));
  }
  return c.all ? all : any;
}

}  // namespace

void Engine::Emit(LineEntry& entry, tidewatch::v1::Escalation escalation) {
  EmitNumbered(entry.policy->line_id, &entry.escalation_sequence, std::move(escalation));
}

void Engine::EmitNumbered(const std::string& line_id, int64_t* sequence,
                          tidewatch::v1::Escalation escalation) {
  const int64_t seq = ++*sequence;
  escalation.set_id(absl::StrCat(line_id, "/", seq));
  escalation.set_line_id(line_id);
  escalation.set_sequence(seq);
  output_->OnEscalation(escalation);
}

void Engine::EmitTideChange(LineEntry& entry, absl::Time e, int from, std::string from_tier, int to,
                            std::string reason, std::vector<MetricValue> values) {
  const policy::LinePolicy& lp = *entry.policy;
  TideChange change;
  change.set_line_id(lp.line_id);
  ToProto(e, change.mutable_time());
  change.set_from_level(from);
  change.set_to_level(to);
  change.set_from_tier(std::move(from_tier));
  if (to > 0) change.set_to_tier(lp.tiers[to - 1].name);
  change.set_reason(std::move(reason));
  for (MetricValue& v : values) *change.add_triggers() = std::move(v);
  ToProto(entry.episode_start, change.mutable_episode_start());
  tidewatch::v1::Escalation esc;
  *esc.mutable_tide_change() = std::move(change);
  Emit(entry, std::move(esc));
}

void Engine::RepageDue(LineEntry& entry, absl::Time e) {
  for (CallUp& cu : entry.open_callups) {
    if (cu.state() != tidewatch::v1::CALL_UP_STATE_PAGED) continue;
    auto team = policy_->teams.find(cu.team_id());
    if (team == policy_->teams.end()) continue;
    const policy::TeamInfo& info = team->second;
    if (info.ack_timeout <= absl::ZeroDuration()) continue;
    const absl::Time paged_at =
        cu.has_paged_at() ? FromProto(cu.paged_at()) : FromProto(cu.created());
    if (e - paged_at < info.ack_timeout) continue;
    const int next = cu.rota_position() + 1;
    if (next < static_cast<int>(info.rota.size())) {
      cu.set_rota_position(next);
      cu.set_paged_contact(info.rota[next].name());
      ToProto(e, cu.mutable_paged_at());
    } else {
      cu.set_state(tidewatch::v1::CALL_UP_STATE_EXPIRED);
    }
    ToProto(e, cu.mutable_updated());
    cu.clear_command_id();
    tidewatch::v1::Escalation esc;
    *esc.mutable_callup() = cu;
    Emit(entry, std::move(esc));
  }
}

void Engine::StandDownRemovedTiers(LineEntry& entry, int from, std::string from_tier, absl::Time e,
                                   const std::string& note) {
  const int tiers = static_cast<int>(entry.policy->tiers.size());
  StandDown(entry, tiers + 1, e);
  EmitTideChange(entry, e, from, std::move(from_tier), tiers,
                 absl::StrCat("tier removed from the policy (", note, ")"), {});
}

void Engine::StandDown(LineEntry& entry, int level, absl::Time e) {
  StandDownWhere(entry, e, [level](const CallUp& cu) { return cu.level() >= level; });
}

void Engine::StandDownWhere(LineEntry& entry, absl::Time e,
                            absl::FunctionRef<bool(const CallUp&)> which) {
  std::vector<CallUp> keep;
  for (CallUp& cu : entry.open_callups) {
    if (which(cu)) {
      cu.set_state(tidewatch::v1::CALL_UP_STATE_STOOD_DOWN);
      ToProto(e, cu.mutable_updated());
      tidewatch::v1::Escalation esc;
      *esc.mutable_callup() = cu;
      Emit(entry, std::move(esc));
    } else {
      keep.push_back(std::move(cu));
    }
  }
  entry.open_callups = std::move(keep);
}

void Engine::Page(LineEntry& entry, int lv, int entry_no, const policy::CallUpTemplate& tmpl,
                  absl::Time e, const std::string& reason, const std::vector<MetricValue>& values,
                  absl::string_view id_suffix) {
  const std::string& line_id = entry.policy->line_id;
  const policy::TierRule& t = entry.policy->tiers[lv - 1];
  CallUp cu;
  cu.set_id(absl::StrCat(line_id, "/t", lv, "/", CompactTime(entry.episode_start), "/", entry_no,
                         "/", tmpl.team_id, id_suffix));
  cu.set_line_id(line_id);
  cu.set_level(lv);
  cu.set_tier(t.name);
  cu.set_team_id(tmpl.team_id);
  int headcount = tmpl.fixed_headcount;
  std::string headcount_note;
  if (tmpl.headcount_from_gap) {
    // The capacity gap, capped by the call-up's and the team's caps.
    int cap = tmpl.max_headcount;
    if (auto team = policy_->teams.find(tmpl.team_id); team != policy_->teams.end()) {
      const int team_cap = team->second.max_headcount;
      if (team_cap > 0 && (cap <= 0 || team_cap < cap)) cap = team_cap;
    }
    const line::CapacityEstimate& est = entry.state.Capacity();
    if (est.gap) {
      headcount = std::max(1, *est.gap);
      if (cap > 0) headcount = std::min(headcount, cap);
    } else {
      headcount = cap > 0 ? cap : 1;  // no estimate: ask for the cap
    }
    headcount_note = absl::StrCat("; headcount ", headcount, " from ", est.Describe(),
                                  cap > 0 ? absl::StrCat(", cap ", cap) : "");
  }
  cu.set_headcount(headcount);
  ToProto(tmpl.duration, cu.mutable_duration());
  cu.set_reason(absl::StrCat(t.name, " on ", line_id, ": ", reason, headcount_note));
  for (const MetricValue& v : values) *cu.add_triggers() = v;
  cu.set_state(tidewatch::v1::CALL_UP_STATE_PAGED);
  cu.set_rota_position(0);
  if (auto team = policy_->teams.find(tmpl.team_id);
      team != policy_->teams.end() && !team->second.rota.empty()) {
    cu.set_paged_contact(team->second.rota[0].name());
  }
  ToProto(e, cu.mutable_paged_at());
  cu.set_policy_version(policy_version_);
  ToProto(e, cu.mutable_created());
  ToProto(e, cu.mutable_updated());
  ToProto(entry.episode_start, cu.mutable_episode_start());
  tidewatch::v1::Escalation esc;
  *esc.mutable_callup() = cu;
  Emit(entry, std::move(esc));
  entry.open_callups.push_back(std::move(cu));
  entry.called_teams[lv].push_back(tmpl.team_id);
}

void Engine::ForgetRemovedTeams(LineEntry& entry) {
  for (std::vector<std::string>& teams : entry.called_teams) {
    std::erase_if(teams,
                  [this](const std::string& team) { return !policy_->teams.contains(team); });
  }
}

void Engine::PageAddedTeams(LineEntry& entry, absl::Time e) {
  if (entry.frozen) return;  // its restore pages them
  for (int lv = 1; lv <= entry.level && lv <= static_cast<int>(entry.policy->tiers.size()); ++lv) {
    const int entry_no = lv < static_cast<int>(entry.entries.size()) ? entry.entries[lv] : 0;
    if (entry_no <= 0) continue;  // not entered this episode: nothing to add to
    for (const policy::CallUpTemplate& tmpl : entry.policy->tiers[lv - 1].callups) {
      if (entry.Called(lv, tmpl.team_id)) continue;
      const bool open = std::any_of(
          entry.open_callups.begin(), entry.open_callups.end(),
          [&](const CallUp& cu) { return cu.level() == lv && cu.team_id() == tmpl.team_id; });
      if (open) {
        entry.called_teams[lv].push_back(tmpl.team_id);
        continue;
      }
      // Its own id (a team removed and brought back within the entry was
      // paged before under the entry's plain id): the version's.
      Page(entry, lv, entry_no, tmpl, e,
           absl::StrCat("team added to the tier by policy version ", policy_version_), {},
           absl::StrCat("/v", policy_version_));
    }
  }
}

void Engine::EvaluateLine(LineEntry& entry, absl::Time e) {
  const policy::LinePolicy& lp = *entry.policy;
  const std::string& line_id = lp.line_id;
  const int num_tiers = static_cast<int>(lp.tiers.size());

  auto emit_change = [&](int from, int to, std::string reason, std::vector<MetricValue> values) {
    EmitTideChange(entry, e, from, from > 0 ? lp.tiers[from - 1].name : std::string(), to,
                   std::move(reason), std::move(values));
  };

  auto emit_feed = [&](bool stale) {
    entry.feed_stale = stale;
    tidewatch::v1::Escalation esc;
    auto* f = esc.mutable_feed_status();
    f->set_line_id(line_id);
    ToProto(e, f->mutable_time());
    f->set_stale(stale);
    if (entry.state.last_event_time() != absl::InfinitePast()) {
      ToProto(entry.state.last_event_time(), f->mutable_last_event());
    }
    Emit(entry, std::move(esc));
  };

  entry.ResetMetricCache();
  if (e >= entry.hours_valid_until) entry.open = lp.hours.IsOpen(e, &entry.hours_valid_until);
  if (!entry.open) {
    entry.calm = false;
    entry.last_closed = e;
    if (entry.feed_stale) emit_feed(false);  // closed lines are silent by design
    std::fill(entry.enter_since.begin(), entry.enter_since.end(), absl::InfiniteFuture());
    if (entry.level > 0) {
      const int from = entry.level;
      entry.level = 0;
      StandDown(entry, 1, e);
      emit_change(from, 0, "line closed (outside opening hours)", {});
    }
    return;
  }

  if (options_.detect_stale_feeds) {
    // Silent since the last event, or since the engine started (or the
    // line opened) if none came since.
    absl::Time last = std::max({entry.state.last_event_time(), started_, entry.added_at});
    if (entry.last_closed != absl::InfinitePast()) last = std::max(last, entry.last_closed);
    const bool stale = e - last > lp.feed_stale_after;
    if (stale != entry.feed_stale) emit_feed(stale);
  }

  // Calm last time on the same figures: the conditions would find the same
  // again, and nothing would change.
  if (entry.calm && entry.level == 0 && !entry.FiguresChangedSince(entry.calm_figures)) return;
  const line::LineState::FiguresMark figures = entry.state.MarkFigures();
  entry.calm = false;

  // Which tiers' enter conditions hold, and since when.
  int target = 0;
  for (int i = 0; i < num_tiers; ++i) {
    const bool holds = entry.Holds(entry.enter[i], /*exiting=*/false);
    if (!holds) {
      entry.enter_since[i] = absl::InfiniteFuture();
    } else if (entry.enter_since[i] == absl::InfiniteFuture()) {
      entry.enter_since[i] = e;
    }
  }
  for (int i = num_tiers - 1; i >= 0; --i) {
    if (entry.enter_since[i] != absl::InfiniteFuture() &&
        e - entry.enter_since[i] >= lp.tiers[i].sustain) {
      target = lp.tiers[i].level;
      break;
    }
  }
  if (entry.level == 0 && entry.NoTierHolding()) {
    entry.calm = true;  // no tier holds: the rest changes nothing
    entry.calm_figures = figures;
  }

  if (target > entry.level) {
    const policy::TierRule& tier = lp.tiers[target - 1];
    std::vector<MetricValue> values;
    std::vector<std::string> met;
    EvaluateCondition(tier.enter, entry.state, false, &values, &met);
    std::string reason =
        absl::StrCat(absl::StrJoin(met, "; "), " for ", absl::FormatDuration(tier.sustain));
    const int from = entry.level;
    if (from == 0) {
      entry.episode_start = e;
      std::fill(entry.entries.begin(), entry.entries.end(), 0);
    }
    entry.level = target;
    emit_change(from, target, reason, values);
    for (int lv = from + 1; lv <= target; ++lv) {
      entry.entered_at[lv] = e;
      const int entry_no = ++entry.entries[lv];
      const policy::TierRule& t = lp.tiers[lv - 1];
      entry.called_teams[lv].clear();
      for (const policy::CallUpTemplate& tmpl : t.callups) {
        Page(entry, lv, entry_no, tmpl, e, reason, values);
      }
    }
    return;
  }

  if (entry.level > 0) {
    const policy::TierRule& tier = lp.tiers[entry.level - 1];
    if (e - entry.entered_at[entry.level] < tier.min_hold) return;
    // Never left while its own enter condition holds (an exit on other
    // metrics than the enter's): it would be entered again at once, a new
    // episode paging the rota again.
    if (entry.enter_since[entry.level - 1] != absl::InfiniteFuture()) return;
    // The verdict first; the values and their text only when it recedes.
    if (!entry.Holds(entry.exit[entry.level - 1], /*exiting=*/true)) return;
    std::vector<MetricValue> values;
    std::vector<std::string> met;
    EvaluateCondition(tier.exit, entry.state, /*exiting=*/true, &values, &met);
    const int from = entry.level;
    entry.level = from - 1;
    StandDown(entry, from, e);
    emit_change(from, entry.level, absl::StrCat("receding: ", absl::StrJoin(met, "; ")), values);
  }
}

std::map<std::string, int64_t> Engine::SetAsideCounts() const {
  std::map<std::string, int64_t> out;
  auto put = [&](const char* name, int64_t n) {
    if (n > 0) out[name] += n;
  };
  put("duplicate", duplicates_);
  put("unknown_line", unknown_lines_);
  put("too_far_ahead", too_far_ahead_);
  put("not_owned", not_owned_);
  auto put_line = [&](const line::LineAnomalies& a) {
    put("late", a.late);
    put("orphan", a.orphans);
    put("conflict", a.conflicts);
    put("expired_waiting", a.expired_waiting);
    put("stale_agent_event", a.stale_agent_events);
  };
  put_line(dropped_anomalies_);
  for (const auto& [id, entry] : lines_) put_line(entry->state.anomalies());
  return out;
}

std::vector<std::string> Engine::LineIds() const {
  std::vector<std::string> ids;
  for (const auto& [id, entry] : lines_) ids.push_back(id);
  return ids;
}

const line::LineState* Engine::FindLine(std::string_view line_id) const {
  auto it = lines_.find(line_id);
  return it == lines_.end() ? nullptr : &it->second->state;
}

TideStatus Engine::Tide(std::string_view line_id) const {
  TideStatus s;
  auto it = lines_.find(line_id);
  if (it == lines_.end()) return s;
  const LineEntry& entry = *it->second;
  s.level = entry.level;
  s.feed_stale = entry.feed_stale;
  if (entry.level > 0) {
    s.tier = entry.policy->tiers[entry.level - 1].name;
    s.episode_start = entry.episode_start;
    s.since = entry.entered_at[entry.level];
  }
  return s;
}

std::vector<CallUp> Engine::OpenCallUps(std::string_view line_id) const {
  auto it = lines_.find(line_id);
  if (it == lines_.end()) return {};
  return it->second->open_callups;
}

absl::Status Engine::FreezeTide(std::string_view line_id) {
  auto it = lines_.find(line_id);
  if (it == lines_.end())
    return absl::NotFoundError(absl::StrCat("no line '", std::string(line_id), "'"));
  it->second->frozen = true;
  it->second->idle = false;
  all_idle_ = false;
  return absl::OkStatus();
}

absl::StatusOr<tidewatch::v1::LineTideState> Engine::SnapshotTide(std::string_view line_id) const {
  auto it = lines_.find(line_id);
  if (it == lines_.end()) {
    if (auto r = retired_.find(line_id); r != retired_.end()) {
      tidewatch::v1::LineTideState s;
      s.set_line_id(r->first);
      s.set_escalation_sequence(r->second);
      s.set_policy_version(policy_version_);
      if (now_ != absl::InfinitePast()) ToProto(now_, s.mutable_engine_time());
      return s;
    }
    return absl::NotFoundError(absl::StrCat("no line '", std::string(line_id), "'"));
  }
  const LineEntry& entry = *it->second;
  tidewatch::v1::LineTideState s;
  s.set_line_id(entry.policy->line_id);
  s.set_level(entry.level);
  ToProto(entry.episode_start == absl::InfinitePast() ? absl::UnixEpoch() : entry.episode_start,
          s.mutable_episode_start());
  for (absl::Time t : entry.enter_since) {
    const bool set = t != absl::InfiniteFuture();
    s.add_enter_since_set(set);
    ToProto(set ? t : absl::UnixEpoch(), s.add_enter_since());
  }
  for (const policy::TierRule& tier : entry.policy->tiers) {
    s.add_enter_condition(policy::ConditionKey(tier.enter));
  }
  for (absl::Time t : entry.entered_at) {
    ToProto(t == absl::InfinitePast() ? absl::UnixEpoch() : t, s.add_entered_at());
  }
  for (int n : entry.entries) s.add_entries(n);
  for (const CallUp& cu : entry.open_callups) *s.add_open_callups() = cu;
  for (int lv = 1; lv <= entry.level && lv < static_cast<int>(entry.called_teams.size()); ++lv) {
    tidewatch::v1::CalledTeams* c = s.add_called_teams();
    c->set_level(lv);
    for (const std::string& team : entry.called_teams[lv]) c->add_team_ids(team);
  }
  // Calls waiting since before the replay horizon (a recovery's replay
  // opens the later ones again).
  if (const auto waiting = entry.state.OldestWaiting(
          now_ == absl::InfinitePast() ? now_ : now_ - ReplayHorizon(*policy_),
          kMaxSavedWaitingCalls);
      !waiting.empty()) {
    s.set_call_fingerprint_version(RecentIdSet::kFingerprintVersion);
    for (const auto& [call, queued] : waiting) {
      tidewatch::v1::WaitingCall* w = s.add_waiting();
      w->set_call_fingerprint_hi(call.first);
      w->set_call_fingerprint_lo(call.second);
      ToProto(queued, w->mutable_queued());
    }
  }
  s.set_escalation_sequence(entry.escalation_sequence);
  s.set_feed_stale(entry.feed_stale);
  s.set_policy_version(policy_version_);
  for (tidewatch::v1::AgentSnapshot& a : entry.state.AgentSnapshots()) {
    *s.add_agents() = std::move(a);
  }
  if (now_ != absl::InfinitePast()) ToProto(now_, s.mutable_engine_time());
  const window::WindowStats& tot = entry.state.totals();
  const window::Counters& c = tot.counters;
  tidewatch::v1::LineTotals* t = s.mutable_totals();
  t->set_offered(c.offered);
  t->set_answered(c.answered);
  t->set_abandoned(c.abandoned);
  t->set_short_abandoned(c.short_abandoned);
  t->set_answered_in_target(c.answered_in_target);
  t->set_callbacks(c.callbacks);
  t->set_left_queue(c.left_queue);
  t->set_completed(c.completed);
  t->set_fcr_known(c.fcr_known);
  t->set_fcr_resolved(c.fcr_resolved);
  t->set_sum_wait_answered_ns(c.sum_wait_answered_ns);
  t->set_sum_wait_all_ns(c.sum_wait_all_ns);
  t->set_sum_handle_ns(c.sum_handle_ns);
  t->set_max_wait_ns(tot.max_wait_ns);
  for (int b = 0; b < window::NumWaitBins(); ++b) {
    if (uint32_t n = tot.waits.bin_count(b)) {
      t->add_wait_bins(b);
      t->add_wait_bin_counts(n);
    }
  }
  return s;
}

absl::StatusOr<window::WindowStats> TotalsFromProto(const tidewatch::v1::LineTotals& t) {
  window::WindowStats tot;
  window::Counters& c = tot.counters;
  c.offered = t.offered();
  c.answered = t.answered();
  c.abandoned = t.abandoned();
  c.short_abandoned = t.short_abandoned();
  c.answered_in_target = t.answered_in_target();
  c.callbacks = t.callbacks();
  c.left_queue = t.left_queue();
  c.completed = t.completed();
  c.fcr_known = t.fcr_known();
  c.fcr_resolved = t.fcr_resolved();
  c.sum_wait_answered_ns = t.sum_wait_answered_ns();
  c.sum_wait_all_ns = t.sum_wait_all_ns();
  c.sum_handle_ns = t.sum_handle_ns();
  tot.max_wait_ns = t.max_wait_ns();
  for (int i = 0; i < t.wait_bins_size() && i < t.wait_bin_counts_size(); ++i) {
    const int bin = t.wait_bins(i);
    if (bin < 0 || bin >= window::NumWaitBins() || t.wait_bin_counts(i) < 0) {
      return absl::InvalidArgumentError(absl::StrCat("wait bin ", bin, " out of range"));
    }
    tot.waits.Add(bin, static_cast<uint32_t>(t.wait_bin_counts(i)));
  }
  return tot;
}

absl::Time Engine::SavedStateTime(const tidewatch::v1::LineTideState& s) const {
  absl::Time at = s.has_engine_time() ? FromProto(s.engine_time()) : now_;
  if (now_ != absl::InfinitePast()) at = std::max(at, now_);
  return at;
}

TideStatus Engine::SavedTide(const tidewatch::v1::LineTideState& s) const {
  TideStatus out;
  auto it = lines_.find(s.line_id());
  if (it == lines_.end()) return out;
  const int tiers = static_cast<int>(it->second->policy->tiers.size());
  out.level = std::clamp(s.level(), 0, tiers);
  out.feed_stale = s.feed_stale();
  if (out.level > 0) {
    out.tier = it->second->policy->tiers[out.level - 1].name;
    out.episode_start = FromProto(s.episode_start());
    if (out.level < s.entered_at_size()) out.since = FromProto(s.entered_at(out.level));
  }
  return out;
}

absl::Duration ReplayHorizon(const policy::CompiledPolicy& policy) {
  return policy.longest_window() + policy.allowed_lateness + policy.evaluation_interval;
}

absl::Status Engine::RestoreTide(const tidewatch::v1::LineTideState& s, bool page_added_teams) {
  auto it = lines_.find(s.line_id());
  if (it == lines_.end()) return absl::NotFoundError(absl::StrCat("no line '", s.line_id(), "'"));
  LineEntry& entry = *it->second;
  const int tiers = static_cast<int>(entry.policy->tiers.size());
  // A policy with fewer tiers than the snapshot: keep the highest that
  // still exists (the removed ones are stood down below).
  entry.level = std::clamp(s.level(), 0, tiers);
  entry.calm = false;
  entry.episode_start = FromProto(s.episode_start());
  for (int i = 0; i < tiers; ++i) {
    const bool set =
        i < s.enter_since_set_size() && s.enter_since_set(i) && i < s.enter_since_size();
    // Saved under another enter condition (the policy changed while no
    // instance ran it): that one's holding says nothing of this one, whose
    // sustain starts again, as at a live policy change (ReplacePolicy).
    const bool same_condition =
        i >= s.enter_condition_size() ||
        s.enter_condition(i) == policy::ConditionKey(entry.policy->tiers[i].enter);
    entry.enter_since[i] =
        set && same_condition ? FromProto(s.enter_since(i)) : absl::InfiniteFuture();
  }
  for (int lv = 0; lv <= tiers; ++lv) {
    entry.entered_at[lv] =
        lv < s.entered_at_size() ? FromProto(s.entered_at(lv)) : absl::InfinitePast();
  }
  // All the saved entry counts, those of tiers this version lacks too (as
  // ReplacePolicy keeps them).
  entry.entries.assign(std::max<size_t>(tiers + 1, s.entries_size()), 0);
  for (int lv = 0; lv < s.entries_size(); ++lv) entry.entries[lv] = s.entries(lv);
  entry.open_callups.assign(s.open_callups().begin(), s.open_callups().end());
  entry.called_teams.assign(std::max<size_t>(tiers + 1, entry.entries.size()), {});
  if (s.called_teams_size() > 0) {
    for (const tidewatch::v1::CalledTeams& c : s.called_teams()) {
      if (c.level() <= 0 || c.level() >= static_cast<int>(entry.called_teams.size())) continue;
      entry.called_teams[c.level()].assign(c.team_ids().begin(), c.team_ids().end());
    }
  } else {
    // Written before the teams paged were saved: every team of the tiers
    // in force counts as paged (none is paged again at the restore).
    for (int lv = 1; lv <= entry.level; ++lv) {
      for (const policy::CallUpTemplate& tmpl : entry.policy->tiers[lv - 1].callups) {
        entry.called_teams[lv].push_back(tmpl.team_id);
      }
    }
  }
  entry.escalation_sequence = s.escalation_sequence();
  entry.restored_at = SavedStateTime(s);
  entry.feed_stale = s.feed_stale();
  // Totals that cannot be read (another build's bins) are left out; the
  // rest is restored all the same, so the line is not left frozen.
  absl::Status totals_status;
  if (s.has_totals()) {
    absl::StatusOr<window::WindowStats> tot = TotalsFromProto(s.totals());
    if (tot.ok()) {
      entry.state.set_totals(*std::move(tot));
    } else {
      totals_status = absl::InvalidArgumentError(absl::StrCat(
          "line '", s.line_id(), "': saved totals left out: ", tot.status().message()));
    }
  }
  for (const tidewatch::v1::AgentSnapshot& a : s.agents()) entry.state.RestoreAgent(a);
  // Calls waiting since before the replay began (the replay has opened the
  // later ones again); fingerprints of another function are not matched.
  if (s.call_fingerprint_version() == RecentIdSet::kFingerprintVersion) {
    for (const tidewatch::v1::WaitingCall& w : s.waiting()) {
      entry.state.RestoreWaiting(Fingerprint{w.call_fingerprint_hi(), w.call_fingerprint_lo()},
                                 FromProto(w.queued()));
    }
  }
  entry.frozen = false;
  entry.idle = false;
  all_idle_ = false;
  if (s.level() > tiers && entry.owned) {
    // Saved under a version with more tiers (restarted on a new one): the
    // removed tiers' call-ups are stood down and the change told, as
    // ReplacePolicy does for a live line.
    const absl::Time at = SavedStateTime(s);
    std::string from_tier;
    for (const CallUp& cu : entry.open_callups) {
      if (cu.level() == s.level()) from_tier = cu.tier();
    }
    StandDownRemovedTiers(entry, s.level(), std::move(from_tier), at,
                          absl::StrCat("restored on policy version ", policy_version_));
  }
  if (entry.owned) {
    // Saved with a team the version in force no longer has (removed or
    // renamed while down, or by a version that came during the recovery):
    // stood down, as ReplacePolicy does.
    const absl::Time at = SavedStateTime(s);
    StandDownWhere(entry, at,
                   [this](const CallUp& cu) { return !policy_->teams.contains(cu.team_id()); });
    ForgetRemovedTeams(entry);
    // Teams added to a tier in force since the state was written (a version
    // applied while down, or one whose pages were not committed) are paged.
    if (page_added_teams) PageAddedTeams(entry, at);
  }
  return totals_status;
}

absl::Status Engine::ApplyCommand(const tidewatch::v1::Command& command) {
  using tidewatch::v1::Command;
  if (command.kind_case() == Command::KIND_NOT_SET) {
    return absl::InvalidArgumentError(
        absl::StrCat("command '", command.id(), "': neither acknowledge nor decline"));
  }
  auto it = by_id_.find(command.line_id());
  if (it == by_id_.end()) {
    return absl::NotFoundError(absl::StrCat("command '", command.id(), "': no line '",
                                            command.line_id(), "' in the policy"));
  }
  LineEntry& entry = *it->second;
  if (!entry.owned) {
    return absl::FailedPreconditionError(absl::StrCat("command '", command.id(), "': line '",
                                                      command.line_id(), "' is owned elsewhere"));
  }
  if (entry.frozen) {
    return absl::UnavailableError(
        absl::StrCat("command '", command.id(), "': line '", command.line_id(), "' is recovering"));
  }
  const bool ack = command.has_acknowledge();
  const std::string& callup_id =
      ack ? command.acknowledge().callup_id() : command.decline().callup_id();
  // Applied already (a redelivery), also when its call-up has since been
  // stood down.
  if (!command.id().empty() && command_ids_.Contains(command.id())) return absl::OkStatus();
  auto cu = std::find_if(entry.open_callups.begin(), entry.open_callups.end(),
                         [&](const CallUp& c) { return c.id() == callup_id; });
  if (cu == entry.open_callups.end()) {
    return absl::NotFoundError(absl::StrCat("no open call-up '", callup_id, "' on line '",
                                            command.line_id(),
                                            "' (unknown, or already stood down)"));
  }
  if (!command.id().empty() && cu->command_id() == command.id()) {
    return absl::OkStatus();  // applied already (a redelivery)
  }
  if (ack) {
    const tidewatch::v1::AcknowledgeCallUp& a = command.acknowledge();
    if (absl::Status s = CheckAcknowledge(a); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("acknowledge '", callup_id, "': ", s.message()));
    }
    cu->set_state(tidewatch::v1::CALL_UP_STATE_ACKNOWLEDGED);
    cu->set_responder(a.responder().empty() ? command.actor() : a.responder());
    cu->set_acknowledged_headcount(a.headcount() > 0 ? a.headcount() : cu->headcount());
    if (a.has_eta()) {
      *cu->mutable_eta() = a.eta();
    } else {
      cu->clear_eta();
    }
    cu->clear_decline_reason();
  } else {
    const tidewatch::v1::DeclineCallUp& d = command.decline();
    if (cu->state() == tidewatch::v1::CALL_UP_STATE_ACKNOWLEDGED) {
      return absl::FailedPreconditionError(
          absl::StrCat("decline '", callup_id, "': already acknowledged by ", cu->responder(), " (",
                       cu->acknowledged_headcount(), " coming)"));
    }
    cu->set_state(tidewatch::v1::CALL_UP_STATE_DECLINED);
    cu->set_responder(d.responder().empty() ? command.actor() : d.responder());
    cu->set_decline_reason(d.reason());
  }
  cu->set_command_id(command.id());
  if (now_ != absl::InfinitePast()) ToProto(now_, cu->mutable_updated());
  if (!command.id().empty()) command_ids_.Insert(command.id());
  tidewatch::v1::Escalation esc;
  *esc.mutable_callup() = *cu;
  Emit(entry, std::move(esc));
  return absl::OkStatus();
}

absl::Status CheckAcknowledge(const tidewatch::v1::AcknowledgeCallUp& ack) {
  if (ack.headcount() < 0 || ack.headcount() > kMaxAcknowledgedHeadcount) {
    return absl::InvalidArgumentError(absl::StrCat("headcount ", ack.headcount(),
                                                   ": must be 0 (the call-up's own) to ",
                                                   kMaxAcknowledgedHeadcount));
  }
  if (!ack.has_eta()) return absl::OkStatus();
  const google::protobuf::Duration& eta = ack.eta();
  // A valid Duration (nanos within a second, of the seconds' sign) that
  // every reader, JSON included, can print.
  if (eta.nanos() <= -1'000'000'000 || eta.nanos() >= 1'000'000'000 ||
      (eta.seconds() > 0 && eta.nanos() < 0) || (eta.seconds() < 0 && eta.nanos() > 0)) {
    return absl::InvalidArgumentError(absl::StrCat("eta: not a valid duration (seconds ",
                                                   eta.seconds(), ", nanos ", eta.nanos(), ")"));
  }
  if (eta.seconds() < 0 || eta.nanos() < 0) {
    return absl::InvalidArgumentError("eta: must not be negative");
  }
  if (eta.seconds() > absl::ToInt64Seconds(kMaxAcknowledgedEta) ||
      FromProto(eta) > kMaxAcknowledgedEta) {
    return absl::InvalidArgumentError(absl::StrCat("eta: ", eta.seconds(), "s is more than ",
                                                   absl::FormatDuration(kMaxAcknowledgedEta),
                                                   " away"));
  }
  return absl::OkStatus();
}

absl::Status CheckPolicyChange(const policy::CompiledPolicy& current,
                               const policy::CompiledPolicy& candidate) {
  auto list = [](const std::vector<absl::Duration>& ws) {
    std::vector<std::string> out;
    for (absl::Duration w : ws) out.push_back(policy::WindowLabel(w));
    return absl::StrCat("[", absl::StrJoin(out, ", "), "]");
  };
  if (candidate.windows != current.windows) {
    return absl::FailedPreconditionError(
        absl::StrCat("windows: ", list(current.windows), " -> ", list(candidate.windows),
                     " cannot change while running (the running windows would have to be "
                     "rebuilt): restart tidewatchd with the new policy"));
  }
  if (candidate.evaluation_interval != current.evaluation_interval) {
    return absl::FailedPreconditionError(absl::StrCat(
        "evaluation_interval: ", absl::FormatDuration(current.evaluation_interval), " -> ",
        absl::FormatDuration(candidate.evaluation_interval),
        " cannot change while running (it is the windows' bucket width): restart tidewatchd"));
  }
  if (candidate.allowed_lateness != current.allowed_lateness) {
    return absl::FailedPreconditionError(
        absl::StrCat("allowed_lateness: ", absl::FormatDuration(current.allowed_lateness), " -> ",
                     absl::FormatDuration(candidate.allowed_lateness),
                     " cannot change while running: restart tidewatchd"));
  }
  return absl::OkStatus();
}

void Engine::RetireLine(std::string_view line_id, int64_t sequence) {
  if (lines_.find(line_id) != lines_.end()) return;  // in the policy: not retired
  auto [it, added] = retired_.try_emplace(std::string(line_id), sequence);
  if (!added) it->second = std::max(it->second, sequence);
}

void Engine::RetireSavedLine(const tidewatch::v1::LineTideState& s) {
  const std::string& id = s.line_id();
  if (lines_.find(id) != lines_.end()) return;
  int64_t sequence = s.escalation_sequence();
  const absl::Time at = SavedStateTime(s);
  std::string from_tier;
  for (const CallUp& saved : s.open_callups()) {
    if (saved.level() == s.level()) from_tier = saved.tier();
    tidewatch::v1::Escalation esc;
    CallUp& cu = *esc.mutable_callup();
    cu = saved;
    cu.set_state(tidewatch::v1::CALL_UP_STATE_STOOD_DOWN);
    if (at != absl::InfinitePast()) ToProto(at, cu.mutable_updated());
    cu.clear_command_id();
    EmitNumbered(id, &sequence, std::move(esc));
  }
  if (s.level() > 0) {
    tidewatch::v1::Escalation esc;
    TideChange& change = *esc.mutable_tide_change();
    change.set_line_id(id);
    if (at != absl::InfinitePast()) ToProto(at, change.mutable_time());
    change.set_from_level(s.level());
    change.set_to_level(0);
    change.set_from_tier(std::move(from_tier));
    change.set_reason(absl::StrCat("line removed from the policy (restored on policy version ",
                                   policy_version_, ")"));
    if (s.has_episode_start()) *change.mutable_episode_start() = s.episode_start();
    EmitNumbered(id, &sequence, std::move(esc));
  }
  RetireLine(id, sequence);
}

absl::Status Engine::ReplacePolicy(std::shared_ptr<const policy::CompiledPolicy> next,
                                   int64_t version) {
  if (next == nullptr) return absl::InvalidArgumentError("no policy");
  RETURN_IF_ERROR(CheckPolicyChange(*policy_, *next));
  // When the changes below happen: the clock, or before it starts (a
  // version read while partitions recover) the restored state's time; a
  // line with neither has nothing open to stand down.
  const auto change_time = [this](const LineEntry& entry) {
    return now_ != absl::InfinitePast() ? now_ : entry.restored_at;
  };
  const std::string note = absl::StrCat("policy version ", version);
  // Lines the new version drops: stood down, then forgotten.
  for (auto it = lines_.begin(); it != lines_.end();) {
    if (next->FindLine(it->first) != nullptr) {
      ++it;
      continue;
    }
    LineEntry& entry = *it->second;
    const absl::Time at = change_time(entry);
    if (at != absl::InfinitePast() && entry.owned && entry.level > 0) {
      const int from = entry.level;
      const std::string from_tier = entry.policy->tiers[from - 1].name;
      entry.level = 0;
      StandDown(entry, 1, at);
      EmitTideChange(entry, at, from, from_tier, 0,
                     absl::StrCat("line removed from the policy (", note, ")"), {});
    }
    dropped_anomalies_ += entry.state.anomalies();
    const std::string id = it->first;
    const int64_t sequence = entry.escalation_sequence;
    const bool owned = entry.owned;
    by_id_.erase(id);
    it = lines_.erase(it);
    if (owned) RetireLine(id, sequence);
  }
  for (const auto& [id, lp] : next->lines) {
    auto it = lines_.find(id);
    if (it == lines_.end()) {
      std::unique_ptr<LineEntry> entry = MakeEntry(lp);
      entry->added_at = now_;
      if (auto r = retired_.find(id); r != retired_.end()) {
        entry->escalation_sequence = r->second;  // back: its ids go on
        retired_.erase(r);
      }
      by_id_[id] = entry.get();
      lines_.emplace(id, std::move(entry));
      continue;
    }
    LineEntry& entry = *it->second;
    const int tiers = static_cast<int>(lp.tiers.size());
    // A tier whose enter condition changes has held the new one since now
    // at the earliest: its sustain starts again.
    for (int i = 0; i < tiers && i < static_cast<int>(entry.policy->tiers.size()) &&
                    i < static_cast<int>(entry.enter_since.size());
         ++i) {
      if (!(lp.tiers[i].enter == entry.policy->tiers[i].enter)) {
        entry.enter_since[i] = absl::InfiniteFuture();
      }
    }
    if (entry.level > tiers) {
      const int from = entry.level;
      const std::string from_tier = entry.policy->tiers[from - 1].name;
      entry.policy = &lp;  // the tide change names the new top tier
      entry.level = tiers;
      const absl::Time at = change_time(entry);
      if (at != absl::InfinitePast() && entry.owned) {
        StandDownRemovedTiers(entry, from, from_tier, at, note);
      }
    }
    entry.policy = &lp;
    entry.state.set_policy(lp);
    entry.CompileConditions();
    entry.enter_since.resize(tiers, absl::InfiniteFuture());
    entry.entered_at.resize(tiers + 1, absl::InfinitePast());
    // Entry counts are kept for tiers the version removes: one put back
    // within the episode (a rollback) is entered anew, never with the
    // call-up ids of its earlier entries.
    if (entry.entries.size() < static_cast<size_t>(tiers + 1)) entry.entries.resize(tiers + 1, 0);
    if (entry.called_teams.size() < static_cast<size_t>(tiers + 1)) {
      entry.called_teams.resize(tiers + 1);
    }
  }
  policy_ = std::move(next);
  policy_version_ = version;
  IndexLines();
  // Call-ups of teams the version removes (or renames) could be neither
  // repaged nor expired, and their alert could not fire: stood down.
  for (auto& [id, entry] : lines_) {
    const absl::Time at = change_time(*entry);
    if (!entry->owned || at == absl::InfinitePast()) continue;
    StandDownWhere(*entry, at,
                   [this](const CallUp& cu) { return !policy_->teams.contains(cu.team_id()); });
    ForgetRemovedTeams(*entry);
    // Teams the version adds to a tier in force (or renames) are paged now,
    // not at the tier's next entry.
    PageAddedTeams(*entry, at);
  }
  return absl::OkStatus();
}

}  // namespace tidewatch::engine
