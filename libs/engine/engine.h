// The deterministic core of tidewatch: call events and clock ticks in; tide
// changes, call-ups and KPI snapshots out.
//
// The engine knows nothing of Kafka, gRPC or Prometheus, and never reads the
// wall clock. Its clock is the newest event time, moved further by
// AdvanceTo() (live services tick it from a Clock; replay does not). Given
// the same policy, options and input it produces the same output, which is
// what makes replay, backtesting and recovery the same code as production.
//
// Time is evaluated on a grid of the policy's evaluation interval g
// (10 s): each instant E = k*g is evaluated once the clock has moved past it
// (an event stamped later than E arrives, or AdvanceTo(t >= E)). A KPI
// snapshot at instant T is taken once the clock has passed T plus the
// allowed lateness, from the window buckets, so it reflects every event
// stamped <= T that arrived in time and none stamped later.
//
//   class Printer : public EngineOutput { ... };
//   Printer out;
//   Engine engine(policy, EngineOptions{}, &out);
//   for (const CallEvent& e : events) engine.Apply(e);
//   engine.Finish();
#ifndef TIDEWATCH_LIBS_ENGINE_ENGINE_H_
#define TIDEWATCH_LIBS_ENGINE_ENGINE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/recent_id_set.h"
#include "events/event_view.h"
#include "line/line_state.h"
#include "policy/compiled_policy.h"
#include "tidewatch/v1/commands.pb.h"
#include "tidewatch/v1/events.pb.h"
#include "tidewatch/v1/tide.pb.h"

namespace tidewatch::engine {

// Where the engine's decisions go. Called synchronously from Apply(),
// AdvanceTo() and Finish(), in a deterministic order.
class EngineOutput {
 public:
  virtual ~EngineOutput() = default;
  // Every tide change and call-up change, in its numbered envelope. The
  // default hands the content to OnTideChange / OnCallUp.
  virtual void OnEscalation(const tidewatch::v1::Escalation& escalation);
  // A line's tide level changed.
  virtual void OnTideChange(const tidewatch::v1::TideChange& change) = 0;
  // A call-up was created (PAGED) or changed state (e.g. STOOD_DOWN).
  virtual void OnCallUp(const tidewatch::v1::CallUp& callup) = 0;
  // A KPI snapshot (only when EngineOptions::snapshot_every is set).
  virtual void OnSnapshot(const tidewatch::v1::KpiSnapshot& snapshot) {}
};

// How the engine runs, beyond the policy.
struct EngineOptions {
  // Take KPI snapshots at every multiple of this (aligned to the Unix
  // epoch) in event time; zero: none. Must be a multiple of the policy's
  // evaluation interval.
  absl::Duration snapshot_every = absl::ZeroDuration();
  // Windows to snapshot (each kept by every line); empty: the policy's.
  std::vector<absl::Duration> snapshot_windows;
  // An event stamped further than this ahead of the clock is set aside as
  // too_far_ahead (a broken platform clock must not fast-forward the day).
  absl::Duration max_clock_jump = absl::Hours(24 * 7);
  // Event ids are remembered this long (event time) to apply duplicates
  // once; never shorter than the longest window plus the lateness.
  absl::Duration dedupe_horizon = absl::Hours(1);
  line::LineLimits line_limits;
  // When set, only lines it accepts are tracked and evaluated; events for
  // other lines are set aside as not_owned (tidewatchd: the lines whose key
  // hashes to this engine's partition).
  std::function<bool(std::string_view line_id)> owns_line;
  // Mark a line whose feed is silent for its policy's feed_stale_after
  // during opening hours as feed_stale (emitting FeedStatus escalations).
  // For live services; replay leaves it off.
  bool detect_stale_feeds = false;
  // The window the live capacity estimate reads (predicted_wait,
  // capacity_gap, `headcount: gap`); the longest window when not kept.
  absl::Duration capacity_window = absl::Minutes(15);
  // The version of the policy the engine starts with (tidewatch.policy);
  // stamped on call-ups and state snapshots.
  int64_t policy_version = 0;
  // Skip lines at instants where evaluating them would change nothing (calm,
  // quiescent, no tier condition holding) until their next event. The
  // output is the same either way; off only to prove that in tests.
  bool skip_idle_lines = true;
  // Applied command ids are remembered this long (engine time) so that a
  // redelivered command is applied once.
  absl::Duration command_dedupe_horizon = absl::Hours(24);
};

// Whether `candidate` can replace `current` in running engines: the
// windows, evaluation interval and allowed lateness shape the running
// windows and cannot change without a restart. FailedPrecondition naming
// the field otherwise.
absl::Status CheckPolicyChange(const policy::CompiledPolicy& current,
                               const policy::CompiledPolicy& candidate);

// Whether an acknowledgement's figures are ones a call-up can carry:
// headcount 0 (the call-up's own) to kMaxAcknowledgedHeadcount, and an
// ETA that is a valid Duration from 0 to kMaxAcknowledgedEta.
// InvalidArgument naming the field otherwise. The API checks requests
// with it before they reach the commands topic; the engine checks every
// command it reads.
inline constexpr int kMaxAcknowledgedHeadcount = 1000;
inline constexpr absl::Duration kMaxAcknowledgedEta = absl::Hours(24);
absl::Status CheckAcknowledge(const tidewatch::v1::AcknowledgeCallUp& ack);

// What happened to one event given to Apply().
enum class EventOutcome {
  kApplied,
  kDuplicate,    // its event_id was seen already: applied once
  kUnknownLine,  // its line is not in the policy
  kLate,         // older than the lateness: closes calls, not in windows
  kHeld,         // an outcome waiting for its queued event
  kConflict,     // contradicts a call's known state
  kTooFarAhead,  // stamped beyond max_clock_jump ahead of the clock
  kNotOwned,     // its line belongs to another partition (see owns_line)
};
// Stable snake_case name ("unknown_line").
std::string_view EventOutcomeName(EventOutcome outcome);

// A line's tide as the engine holds it.
struct TideStatus {
  int level = 0;
  std::string tier;  // name of the current tier, empty at level 0
  absl::Time episode_start = absl::InfinitePast();
  absl::Time since = absl::InfinitePast();  // when this level was entered
  bool feed_stale = false;
};

// A line's saved totals (LineTideState::totals) as the windows count them;
// InvalidArgument for a wait bin out of range.
absl::StatusOr<window::WindowStats> TotalsFromProto(const tidewatch::v1::LineTotals& totals);

// How far back of its clock a recovery replays a partition's input: the
// longest window + the allowed lateness + one evaluation interval (the
// windows are rebuilt from it). Calls waiting since before it are kept in
// the saved state (SnapshotTide).
absl::Duration ReplayHorizon(const policy::CompiledPolicy& policy);

// The most waiting calls a line's saved state keeps (the oldest of those
// queued before the replay horizon: a recovery's replay cannot open them
// again).
inline constexpr size_t kMaxSavedWaitingCalls = 1000;

// The engine. Not thread-safe: one owner drives it.
class Engine {
 public:
  // `output` must outlive the engine. The policy must be valid
  // (CompilePolicy / LoadPolicyYaml).
  Engine(std::shared_ptr<const policy::CompiledPolicy> policy, EngineOptions options,
         EngineOutput* output);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Applies one validated event (events::ValidateEvent). The clock first
  // moves to its event time when that is later, evaluating the instants on
  // the way.
  EventOutcome Apply(const events::CallEventView& event);
  EventOutcome Apply(const tidewatch::v1::CallEvent& event) { return Apply(events::ViewOf(event)); }

  // Moves the clock to `t` (ignored if not later), evaluating every instant
  // up to and including it.
  void AdvanceTo(absl::Time t);

  // End of input: evaluates up to the clock and takes every snapshot still
  // waiting for late events.
  void Finish();

  // The engine's clock (InfinitePast before the first event or tick).
  absl::Time now() const { return now_; }

  // Set-aside and anomaly counts by stable name (duplicate, unknown_line,
  // late, conflict, too_far_ahead, orphan, expired_waiting,
  // stale_agent_event), non-zero only, sorted.
  std::map<std::string, int64_t> SetAsideCounts() const;

  // Lines in id order.
  std::vector<std::string> LineIds() const;
  const line::LineState* FindLine(std::string_view line_id) const;
  TideStatus Tide(std::string_view line_id) const;
  // Call-ups not yet stood down, oldest first.
  std::vector<tidewatch::v1::CallUp> OpenCallUps(std::string_view line_id) const;

  // Applies a person's command (tidewatch.commands: acknowledge or decline)
  // to an open call-up at the engine clock and emits the changed call-up.
  // A command id already applied is ignored (OK). Errors: InvalidArgument
  // (no kind, negative headcount or ETA), NotFound (unknown line or no such
  // open call-up), FailedPrecondition (line owned elsewhere, or declining an
  // acknowledged call-up), Unavailable (line frozen for recovery: apply it
  // again once restored).
  absl::Status ApplyCommand(const tidewatch::v1::Command& command);

  // Puts another policy version in force from the next evaluation. It must
  // pass CheckPolicyChange against the current one. Lines it adds start
  // calm; lines it drops are stood down and forgotten; a line whose tiers
  // shrink below its level is brought down to its new top tier.
  absl::Status ReplacePolicy(std::shared_ptr<const policy::CompiledPolicy> policy, int64_t version);
  int64_t policy_version() const { return policy_version_; }

  // Recovery. A frozen line's tide is not evaluated (nothing is emitted for
  // it) while events rebuild its windows; RestoreTide sets its tide and
  // call-up state from a snapshot and unfreezes it. Unknown line: NotFound.
  // Saved totals it cannot read: InvalidArgument, the rest restored (the
  // line unfrozen all the same). Teams the policy in force adds to the
  // restored tiers are paged, unless `page_added_teams` is false (a line
  // restored only to be dropped by the next version).
  absl::Status FreezeTide(std::string_view line_id);
  absl::Status RestoreTide(const tidewatch::v1::LineTideState& state, bool page_added_teams = true);
  // The tide `state` would restore for its line under the policy in force
  // (what a recovering line shows until it is restored).
  TideStatus SavedTide(const tidewatch::v1::LineTideState& state) const;
  // The line's tide state now (positions left for the caller to fill). A
  // retired line (below) has a state too: level 0 and its last sequence.
  absl::StatusOr<tidewatch::v1::LineTideState> SnapshotTide(std::string_view line_id) const;

  // Lines a policy version dropped, or that recovery found saved while the
  // policy lacks them, with the last escalation sequence number each used: a
  // line that comes back (a rollback) continues from there, so no escalation
  // id is used twice. RetireLine notes one (the higher number wins).
  void RetireLine(std::string_view line_id, int64_t sequence);
  // Retires a line recovery found saved while the policy lacks it (taken
  // out of the config while tidewatch was down): its saved open call-ups are
  // stood down and, above level 0, the tide's fall to 0 is told, as
  // ReplacePolicy does for a live line; the ids go on from the saved
  // sequence. A line the policy has is left alone (it is restored instead).
  void RetireSavedLine(const tidewatch::v1::LineTideState& state);
  const std::map<std::string, int64_t, std::less<>>& retired_lines() const { return retired_; }
  const policy::CompiledPolicy& policy() const { return *policy_; }
  // Every window the lines keep (policy windows plus snapshot windows).
  const std::vector<absl::Duration>& windows() const { return windows_; }

 private:
  struct LineEntry;

  void InitClock(absl::Time t);
  void EvaluateInstant(absl::Time e);
  void EvaluateLine(LineEntry& entry, absl::Time e);
  void EmitSnapshots(absl::Time t);
  // When escalations restoring or retiring a saved state happen: its engine
  // time, or the engine's clock if that is later.
  absl::Time SavedStateTime(const tidewatch::v1::LineTideState& s) const;
  void StandDown(LineEntry& entry, int level, absl::Time e);
  // Stands down the open call-ups `which` picks.
  void StandDownWhere(LineEntry& entry, absl::Time e,
                      absl::FunctionRef<bool(const tidewatch::v1::CallUp&)> which);
  // The line's policy has fewer tiers than its level `from` was (already
  // lowered): stands the removed tiers' call-ups down and tells the change.
  void StandDownRemovedTiers(LineEntry& entry, int from, std::string from_tier, absl::Time e,
                             const std::string& note);
  void Emit(LineEntry& entry, tidewatch::v1::Escalation escalation);
  // Numbers and sends an escalation of `line_id`, whose last number is
  // `*sequence`.
  void EmitNumbered(const std::string& line_id, int64_t* sequence,
                    tidewatch::v1::Escalation escalation);
  void EmitTideChange(LineEntry& entry, absl::Time e, int from, std::string from_tier, int to,
                      std::string reason, std::vector<tidewatch::v1::MetricValue> values);
  // Pages `tmpl`'s team for level `lv`'s entry number `entry_no` at `e`
  // (a new call-up, emitted and kept open; the team noted as called).
  // The call-up's id is the entry's plus `id_suffix`.
  void Page(LineEntry& entry, int lv, int entry_no, const policy::CallUpTemplate& tmpl,
            absl::Time e, const std::string& reason,
            const std::vector<tidewatch::v1::MetricValue>& values,
            absl::string_view id_suffix = "");
  // Forgets, among the teams paged at each tier's entry, those the policy in
  // force no longer has (their call-ups stood down): brought back by a later
  // version, they are paged again.
  void ForgetRemovedTeams(LineEntry& entry);
  // Pages the teams of the line's tiers in force (up to its level) not yet
  // paged at their current entry (those the version in force added), each
  // with a call-up id of its own ending in "/v<version>".
  void PageAddedTeams(LineEntry& entry, absl::Time e);
  // Pages the next rota contact of call-ups unacknowledged past their
  // team's ack timeout; the last contact's timeout expires the call-up.
  void RepageDue(LineEntry& entry, absl::Time e);
  std::unique_ptr<LineEntry> MakeEntry(const policy::LinePolicy& lp) const;
  // Whether the line may skip instants until its next event: calm, with
  // nothing that time alone changes (see LineEntry::idle).
  bool CanIdle(LineEntry& entry, absl::Time e) const;
  void IndexLines();
  // Every owned line idle: moves next_eval_ over the instants before
  // `limit` (the first instant the caller's loop would not evaluate) at
  // which nothing would happen (no id-set rotation or snapshot due).
  void SkipIdleInstants(absl::Time limit);

  std::shared_ptr<const policy::CompiledPolicy> policy_;
  EngineOptions options_;
  EngineOutput* output_;
  absl::Duration interval_;
  std::vector<absl::Duration> windows_;

  std::map<std::string, std::unique_ptr<LineEntry>, std::less<>> lines_;
  std::map<std::string, int64_t, std::less<>> retired_;  // line -> last sequence
  absl::flat_hash_map<std::string, LineEntry*> by_id_;
  std::vector<LineEntry*> owned_;   // owned lines, in id order
  LineEntry* last_line_ = nullptr;  // the line of the last event applied

  absl::Time now_ = absl::InfinitePast();
  // now_ + max_clock_jump for some earlier now_ (Apply: an event stamped
  // at or before it is not too far ahead).
  absl::Time clock_jump_bound_ = absl::InfinitePast();
  absl::Time started_ = absl::InfinitePast();      // first clock reading
  absl::Time next_eval_ = absl::InfiniteFuture();  // next instant to evaluate
  absl::Time next_snapshot_ = absl::InfiniteFuture();
  // next_snapshot_ + allowed lateness: the instant that snapshot is taken.
  absl::Time snapshot_due_ = absl::InfiniteFuture();
  // Every owned line was idle after the last instant evaluated and none
  // has had an event since (see SkipIdleInstants).
  bool all_idle_ = false;

  RecentIdSet seen_ids_;     // event ids, for duplicates
  RecentIdSet command_ids_;  // applied command ids
  int64_t policy_version_ = 0;

  int64_t duplicates_ = 0;
  int64_t unknown_lines_ = 0;
  // Set-aside counts of the lines policy versions dropped: SetAsideCounts
  // goes on counting them (the counters it feeds never go down).
  line::LineAnomalies dropped_anomalies_;
  int64_t too_far_ahead_ = 0;
  int64_t not_owned_ = 0;
};

}  // namespace tidewatch::engine

#endif  // TIDEWATCH_LIBS_ENGINE_ENGINE_H_
