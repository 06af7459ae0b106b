// The tide policy in the form the engine evaluates.
//
// A v1::Policy (parsed from YAML by LoadPolicyYaml, or received over gRPC)
// is validated and compiled into a CompiledPolicy: per line, defaults merged
// with the line's overrides, roles resolved to team ids, durations as
// absl::Duration, opening hours with their time zone loaded. The engine
// reads only this; it never sees YAML.
//
//   absl::StatusOr<CompiledPolicy> policy = LoadPolicyYaml(text, "policy.yaml");
//   const LinePolicy* line = policy->FindLine("revenues");
//   bool open = line->hours.IsOpen(now);
#ifndef TIDEWATCH_LIBS_POLICY_COMPILED_POLICY_H_
#define TIDEWATCH_LIBS_POLICY_COMPILED_POLICY_H_

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "tidewatch/v1/policy.pb.h"

namespace tidewatch::policy {

// True for metrics that are computed over a window (they need one); false
// for live metrics (calls_waiting, longest_waiting, agents_available,
// predicted_wait, capacity_gap), which must not have one.
bool IsWindowedMetric(tidewatch::v1::Metric metric);
// True for metrics measured in seconds (thresholds are written as
// durations in YAML).
bool IsDurationMetric(tidewatch::v1::Metric metric);
// True for metrics that are fractions in [0, 1] (answer_rate, abandon_rate,
// service_level). The others are durations (IsDurationMetric) or counts and
// per-minute rates.
bool IsFractionMetric(tidewatch::v1::Metric metric);
// Short lower-case YAML name, e.g. "avg_wait"; "unspecified" for
// METRIC_UNSPECIFIED and values outside the enum.
std::string_view MetricName(tidewatch::v1::Metric metric);
// A window's label as YAML, flags, JSON and metric labels spell it: "15m",
// "60m"; whole seconds otherwise ("90s").
std::string WindowLabel(absl::Duration window);
// The metric with that short name, or METRIC_UNSPECIFIED if there is none.
tidewatch::v1::Metric MetricFromName(std::string_view name);

// metric(window) above|below threshold. `window` is zero for live metrics.
// Thresholds are in the metric's base unit (seconds, fraction, count).
struct Clause {
  tidewatch::v1::Metric metric = tidewatch::v1::METRIC_UNSPECIFIED;
  absl::Duration window;
  bool above = true;  // false: below
  double threshold = 0;
  friend bool operator==(const Clause&, const Clause&) = default;
};

// Clauses combined with AND (all) or OR (any).
struct Condition {
  bool all = false;
  std::vector<Clause> clauses;
  friend bool operator==(const Condition&, const Condition&) = default;
};

// A condition as one line of text that says exactly what it tests, e.g.
// "all: avg_wait#8 900000000000ns > 180; calls_waiting#20 0ns < 3" (each
// clause's metric by name and number, its window in nanoseconds, its
// threshold with every digit): equal for equal conditions and different
// otherwise, and stable across releases, so that saved tide state can tell
// whether a tier still enters on the condition it was holding.
std::string ConditionKey(const Condition& condition);

// A call-up to raise on entering a tier. `team_id` is resolved (roles
// already looked up) and names a team in CompiledPolicy::teams.
struct CallUpTemplate {
  std::string team_id;
  bool headcount_from_gap = false;  // issue: capacity model
  int fixed_headcount = 0;
  int max_headcount = 0;  // 0: no cap beyond the team's
  absl::Duration duration;
};

// One tier of the rising tide. Levels are 1..N in order.
struct TierRule {
  int level = 0;
  std::string name;
  Condition enter;
  absl::Duration sustain;
  Condition exit;
  absl::Duration min_hold;
  std::vector<CallUpTemplate> callups;
};

// A line's targets, defaults applied.
struct Targets {
  absl::Duration answer_within = absl::Seconds(180);
  absl::Duration short_abandon = absl::Seconds(5);
  absl::Duration avg_wait = absl::Seconds(180);
  double abandon_rate = 0.10;
  double answer_rate = 0.90;
  double service_level = 0.80;
};

// One opening session on some weekdays, local time [open, close).
struct Session {
  std::vector<absl::Weekday> days;
  int open_minute = 0;   // minutes after local midnight
  int close_minute = 0;  // exclusive; > open_minute
};

// When a line is open, in a named time zone (DST-correct).
struct OpeningHours {
  absl::TimeZone zone = absl::UTCTimeZone();
  std::string zone_name = "UTC";
  bool always = false;
  std::vector<Session> weekly;

  bool IsOpen(absl::Time t) const;
  // The same, and sets *valid_until to a time (> t, or t itself when it
  // cannot tell) before which the answer stays the same: the next session
  // boundary or local midnight, and never past the zone's next offset
  // change. Lets a caller asking every few seconds skip the time-zone
  // arithmetic.
  bool IsOpen(absl::Time t, absl::Time* valid_until) const;
};

// Everything the engine needs for one line.
struct LinePolicy {
  std::string line_id;
  std::string display_name;
  Targets targets;
  OpeningHours hours;
  std::vector<TierRule> tiers;  // ascending by level
  absl::Duration feed_stale_after = absl::Minutes(5);
  absl::Duration default_handle_time = absl::Seconds(300);
};

// A team that can be called up.
struct TeamInfo {
  std::string team_id;
  std::string display_name;
  absl::Duration ack_timeout = absl::Minutes(10);
  std::vector<tidewatch::v1::Contact> rota;
  int max_headcount = 0;  // 0: no cap
};

// A validated, compiled policy.
struct CompiledPolicy {
  std::string name;
  std::vector<absl::Duration> windows;  // ascending, unique
  absl::Duration allowed_lateness = absl::Minutes(2);
  absl::Duration evaluation_interval = absl::Seconds(10);
  std::map<std::string, LinePolicy, std::less<>> lines;
  std::map<std::string, TeamInfo, std::less<>> teams;
  tidewatch::v1::Policy source;  // the document it was compiled from

  const LinePolicy* FindLine(std::string_view line_id) const {
    auto it = lines.find(line_id);
    return it == lines.end() ? nullptr : &it->second;
  }
  absl::Duration longest_window() const {
    return windows.empty() ? absl::ZeroDuration() : windows.back();
  }
};

}  // namespace tidewatch::policy

#endif  // TIDEWATCH_LIBS_POLICY_COMPILED_POLICY_H_
