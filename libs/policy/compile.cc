#include "policy/compile.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"

namespace tidewatch::policy::internal {
namespace {

namespace v1 = tidewatch::v1;

constexpr absl::string_view kDefaultTimeZone = "Europe/London";
// Far beyond any real policy; they keep the pairwise tier and clause checks
// cheap on hostile input.
constexpr int kMaxTiers = 100;
constexpr int kMaxClauses = 100;
// Buckets a line's windows may need: a day of 1 s intervals, 11 days of 10 s.
constexpr int64_t kMaxBucketsPerLine = 100'000;

absl::Duration FromProto(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

std::string Dur(absl::Duration d) { return absl::FormatDuration(d); }

// A threshold in the metric's unit, as written in YAML: "180s", "0.1", "20".
std::string FormatThreshold(v1::Metric metric, double value) {
  if (IsDurationMetric(metric)) return absl::StrCat(value, "s");
  return absl::StrCat(value);
}

// "avg_wait(15m)" or "longest_waiting".
std::string MetricLabel(v1::Metric metric, absl::Duration window) {
  if (window == absl::ZeroDuration()) return std::string(MetricText(metric));
  return absl::StrCat(MetricText(metric), "(", Dur(window), ")");
}

bool IsMultipleOf(absl::Duration d, absl::Duration unit) {
  absl::Duration remainder;
  absl::IDivDuration(d, unit, &remainder);
  return remainder == absl::ZeroDuration();
}

std::string AllMetricNames() {
  std::vector<absl::string_view> names;
  const google::protobuf::EnumDescriptor* descriptor = v1::Metric_descriptor();
  for (int i = 0; i < descriptor->value_count(); ++i) {
    const auto metric = static_cast<v1::Metric>(descriptor->value(i)->number());
    if (metric != v1::METRIC_UNSPECIFIED) names.push_back(MetricText(metric));
  }
  return absl::StrJoin(names, ", ");
}

std::optional<absl::Weekday> ParseDay(absl::string_view text) {
  static constexpr std::pair<absl::string_view, absl::Weekday> kDays[] = {
      {"mon", absl::Weekday::monday},    {"tue", absl::Weekday::tuesday},
      {"wed", absl::Weekday::wednesday}, {"thu", absl::Weekday::thursday},
      {"fri", absl::Weekday::friday},    {"sat", absl::Weekday::saturday},
      {"sun", absl::Weekday::sunday},
  };
  static constexpr absl::string_view kLong[] = {"monday", "tuesday",  "wednesday", "thursday",
                                                "friday", "saturday", "sunday"};
  const std::string lower = absl::AsciiStrToLower(absl::StripAsciiWhitespace(text));
  for (size_t i = 0; i < 7; ++i) {
    if (lower == kDays[i].first || lower == kLong[i]) return kDays[i].second;
  }
  return std::nullopt;
}

// "HH:MM" (or "H:MM") -> minutes after midnight; "24:00" only if
// `allow_end_of_day`.
std::optional<int> ParseClock(absl::string_view text, bool allow_end_of_day) {
  text = absl::StripAsciiWhitespace(text);
  std::vector<absl::string_view> parts = absl::StrSplit(text, ':');
  if (parts.size() != 2 || parts[0].empty() || parts[0].size() > 2 || parts[1].size() != 2) {
    return std::nullopt;
  }
  for (absl::string_view part : parts) {
    for (char c : part) {
      if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    }
  }
  int hours = 0, minutes = 0;
  if (!absl::SimpleAtoi(parts[0], &hours) || !absl::SimpleAtoi(parts[1], &minutes)) {
    return std::nullopt;
  }
  if (minutes > 59) return std::nullopt;
  if (hours == 24 && minutes == 0 && allow_end_of_day) return 24 * 60;
  if (hours > 23) return std::nullopt;
  return hours * 60 + minutes;
}

std::string FormatClock(int minute) {
  return absl::StrCat(minute / 60 < 10 ? "0" : "", minute / 60, ":", minute % 60 < 10 ? "0" : "",
                      minute % 60);
}

// A clause with the paths errors about it are reported at.
struct CheckedClause {
  Clause clause;
  std::string path;            // the clause: "...enter.any[0]"
  std::string threshold_path;  // "...enter.any[0].above"
  bool valid = false;          // metric, window, comparison and threshold usable
};

// A call-up whose role (if any) is resolved per line.
struct PendingCallUp {
  CallUpTemplate callup;
  std::string path;  // of the call-up, e.g. defaults.tiers[1].callups[0]
  std::string role;  // empty: team_id is already set
  std::string role_path;
};

// A tier after its own checks; its call-ups' roles are resolved per line.
struct PendingTier {
  TierRule rule;  // callups filled per line
  std::vector<PendingCallUp> callups;
};

// One settings block (defaults or a line) after its own checks.
struct CheckedBlock {
  std::string path;
  std::optional<OpeningHours> hours;  // set if given and valid
  std::vector<PendingTier> tiers;
};

// Runs every semantic check over one v1::Policy and builds the
// CompiledPolicy as it goes.
class Compiler {
 public:
  Compiler(const v1::Policy& policy, Diagnostics* diag) : policy_(policy), diag_(diag) {}

  void Run(CompiledPolicy* out) {
    out->name = policy_.name();
    CheckTiming(out);
    CheckTeams(out);
    const CheckedBlock defaults = CheckBlock(policy_.defaults(), "defaults");
    std::optional<OpeningHours> builtin_hours;
    if (!policy_.defaults().has_opening_hours()) {
      v1::OpeningHours hours;
      hours.set_timezone(std::string(kDefaultTimeZone));
      v1::Session* session = hours.add_weekly();
      for (const char* day : {"mon", "tue", "wed", "thu", "fri"}) session->add_days(day);
      session->set_open("08:30");
      session->set_close("17:30");
      builtin_hours = CompileHours(hours, "defaults.opening_hours");
    }

    if (policy_.lines().empty()) {
      diag_->Add("lines",
                 "the policy defines no lines; list the call lines under `lines:` by line id");
    }
    std::vector<std::string> line_ids;
    for (const auto& [id, settings] : policy_.lines()) line_ids.push_back(id);
    std::sort(line_ids.begin(), line_ids.end());
    for (const std::string& id : line_ids) {
      const std::string path = JoinKey("lines", id);
      const v1::LineSettings& settings = policy_.lines().at(id);
      if (id.empty()) {
        diag_->Add(path, "a line id must not be empty");
        continue;
      }
      const CheckedBlock block = CheckBlock(settings, path);
      LinePolicy line = MergeLine(id, settings, block, defaults,
                                  block.hours      ? block.hours
                                  : defaults.hours ? defaults.hours
                                                   : builtin_hours);
      out->lines.emplace(id, std::move(line));
    }
  }

 private:
  void CheckTiming(CompiledPolicy* out) {
    bool interval_ok = true;
    if (policy_.has_evaluation_interval()) {
      const absl::Duration d = FromProto(policy_.evaluation_interval());
      if (d <= absl::ZeroDuration()) {
        diag_->Add("evaluation_interval",
                   absl::StrCat("evaluation_interval must be positive, got ", Dur(d)));
        interval_ok = false;
      } else {
        out->evaluation_interval = d;
      }
    }
    const absl::Duration interval = out->evaluation_interval;

    if (policy_.windows().empty()) {
      listed_windows_ = {absl::Minutes(5), absl::Minutes(15), absl::Minutes(60)};
      for (absl::Duration d : listed_windows_) {
        if (interval_ok && !IsMultipleOf(d, interval)) {
          diag_->Add("evaluation_interval",
                     absl::StrCat("the default window ", Dur(d),
                                  " is not a multiple of evaluation_interval ", Dur(interval),
                                  "; list `windows:` explicitly"));
        }
      }
    }
    for (int i = 0; i < policy_.windows_size(); ++i) {
      const std::string path = JoinIndex("windows", i);
      const absl::Duration d = FromProto(policy_.windows(i));
      if (d <= absl::ZeroDuration()) {
        diag_->Add(path, absl::StrCat("a window must be positive, got ", Dur(d)));
        continue;
      }
      auto seen = std::find(listed_windows_.begin(), listed_windows_.end(), d);
      if (seen != listed_windows_.end()) {
        diag_->Add(path, absl::StrCat("duplicate window ", Dur(d), " (also windows[",
                                      seen - listed_windows_.begin(), "])"));
        continue;
      }
      listed_windows_.push_back(d);
      if (interval_ok && !IsMultipleOf(d, interval)) {
        diag_->Add(path, absl::StrCat("window ", Dur(d),
                                      " is not a multiple of evaluation_interval ", Dur(interval)));
      }
    }
    out->windows = listed_windows_;
    std::sort(out->windows.begin(), out->windows.end());

    if (policy_.has_allowed_lateness()) {
      const absl::Duration d = FromProto(policy_.allowed_lateness());
      if (d <= absl::ZeroDuration()) {
        diag_->Add("allowed_lateness",
                   absl::StrCat("allowed_lateness must be positive, got ", Dur(d)));
      } else if (interval_ok && !IsMultipleOf(d, interval)) {
        diag_->Add("allowed_lateness",
                   absl::StrCat("allowed_lateness ", Dur(d),
                                " is not a multiple of evaluation_interval ", Dur(interval)));
      }
      out->allowed_lateness = d;
    } else if (interval_ok && !IsMultipleOf(out->allowed_lateness, interval)) {
      diag_->Add("evaluation_interval",
                 absl::StrCat("the default allowed_lateness ", Dur(out->allowed_lateness),
                              " is not a multiple of evaluation_interval ", Dur(interval),
                              "; set allowed_lateness"));
    }
    // Each line keeps a bucket per evaluation interval over its longest
    // window and the lateness (and evaluates every interval): bounded, so
    // a typo like 1ms cannot take gigabytes or a core per line.
    if (interval_ok && !out->windows.empty() && out->allowed_lateness > absl::ZeroDuration()) {
      const absl::Duration horizon = out->windows.back() + out->allowed_lateness;
      absl::Duration rest;
      const int64_t buckets = absl::IDivDuration(horizon, interval, &rest);
      if (buckets > kMaxBucketsPerLine) {
        diag_->Add(
            "evaluation_interval",
            absl::StrCat("evaluation_interval ", Dur(interval), " is too fine for window ",
                         Dur(out->windows.back()), " plus allowed_lateness ",
                         Dur(out->allowed_lateness), ": ", buckets, " buckets per line, at most ",
                         kMaxBucketsPerLine, " (a longer interval or shorter windows)"));
      }
    }
  }

  void CheckTeams(CompiledPolicy* out) {
    for (const auto& [id, team] : policy_.teams()) {
      const std::string path = JoinKey("teams", id);
      team_ids_.push_back(id);
      if (id.empty()) {
        diag_->Add(path, "a team id must not be empty");
        continue;
      }
      TeamInfo info;
      info.team_id = id;
      info.display_name = team.display_name().empty() ? id : team.display_name();
      if (team.has_ack_timeout()) {
        const absl::Duration d = FromProto(team.ack_timeout());
        if (d <= absl::ZeroDuration()) {
          diag_->Add(JoinKey(path, "ack_timeout"),
                     absl::StrCat("ack_timeout must be positive, got ", Dur(d)));
        }
        info.ack_timeout = d;
      }
      if (team.max_headcount() < 0) {
        diag_->Add(JoinKey(path, "max_headcount"),
                   absl::StrCat("max_headcount must not be negative (0 = no cap), got ",
                                team.max_headcount()));
      }
      info.max_headcount = team.max_headcount();
      info.rota.assign(team.rota().begin(), team.rota().end());
      out->teams.emplace(id, std::move(info));
    }
    std::sort(team_ids_.begin(), team_ids_.end());
  }

  bool TeamExists(const std::string& id) const {
    return std::binary_search(team_ids_.begin(), team_ids_.end(), id);
  }

  std::string TeamList() const {
    if (team_ids_.empty()) return "no teams are defined under `teams:`";
    return absl::StrCat("teams are: ", absl::StrJoin(team_ids_, ", "));
  }

  std::string WindowList() const {
    std::vector<absl::Duration> sorted = listed_windows_;
    std::sort(sorted.begin(), sorted.end());
    return absl::StrJoin(sorted, ", ",
                         [](std::string* out, absl::Duration d) { absl::StrAppend(out, Dur(d)); });
  }

  // The checks of one settings block (defaults or a line) that do not
  // depend on merging.
  CheckedBlock CheckBlock(const v1::LineSettings& settings, const std::string& path) {
    CheckedBlock block;
    block.path = path;
    CheckTargets(settings.targets(), JoinKey(path, "targets"));
    if (settings.has_opening_hours()) {
      block.hours = CompileHours(settings.opening_hours(), JoinKey(path, "opening_hours"));
    }
    for (const auto& [role, team] : settings.roles()) {
      const std::string role_path = JoinKey(JoinKey(path, "roles"), role);
      if (role.empty()) diag_->Add(role_path, "a role name must not be empty");
      if (!TeamExists(team)) {
        diag_->Add(role_path,
                   absl::StrCat("role '", role, "' names unknown team '", team, "'; ", TeamList()));
      }
    }
    for (const char* field : {"feed_stale_after", "default_handle_time"}) {
      const bool stale = absl::string_view(field) == "feed_stale_after";
      const bool has = stale ? settings.has_feed_stale_after() : settings.has_default_handle_time();
      if (!has) continue;
      const absl::Duration d =
          FromProto(stale ? settings.feed_stale_after() : settings.default_handle_time());
      if (d <= absl::ZeroDuration()) {
        diag_->Add(JoinKey(path, field), absl::StrCat(field, " must be positive, got ", Dur(d)));
      }
    }
    block.tiers = CheckTiers(settings.tiers(), JoinKey(path, "tiers"));
    return block;
  }

  void CheckTargets(const v1::Targets& targets, const std::string& path) {
    auto positive = [&](bool has, const google::protobuf::Duration& value, const char* name,
                        bool allow_zero) {
      if (!has) return;
      const absl::Duration d = FromProto(value);
      if (d < absl::ZeroDuration() || (!allow_zero && d == absl::ZeroDuration())) {
        diag_->Add(JoinKey(path, name),
                   absl::StrCat(name, " must be ", allow_zero ? "zero or more" : "positive",
                                ", got ", Dur(d)));
      }
    };
    positive(targets.has_answer_within(), targets.answer_within(), "answer_within", false);
    positive(targets.has_short_abandon(), targets.short_abandon(), "short_abandon", true);
    positive(targets.has_avg_wait(), targets.avg_wait(), "avg_wait", false);
    auto fraction = [&](bool has, double value, const char* name) {
      if (has && !(value >= 0 && value <= 1)) {
        diag_->Add(
            JoinKey(path, name),
            absl::StrCat(name, " is a fraction between 0 and 1 (e.g. 0.10 or 10%), got ", value));
      }
    };
    fraction(targets.has_abandon_rate(), targets.abandon_rate(), "abandon_rate");
    fraction(targets.has_answer_rate(), targets.answer_rate(), "answer_rate");
    fraction(targets.has_service_level(), targets.service_level(), "service_level");
  }

  std::optional<OpeningHours> CompileHours(const v1::OpeningHours& hours, const std::string& path) {
    bool ok = true;
    OpeningHours out;
    out.zone_name = hours.timezone().empty() ? std::string(kDefaultTimeZone) : hours.timezone();
    // "localtime" would follow the process's TZ setting: not allowed.
    if (out.zone_name == "localtime" || !absl::LoadTimeZone(out.zone_name, &out.zone)) {
      diag_->Add(JoinKey(path, "timezone"),
                 absl::StrCat("unknown time zone '", out.zone_name,
                              "'; use an IANA zone name such as Europe/London"));
      ok = false;
    }
    out.always = hours.has_always() && hours.always();
    if (!out.always && hours.weekly().empty()) {
      diag_->Add(path,
                 "opening hours need `weekly:` sessions, e.g. [{days: [mon, tue, wed, thu, fri], "
                 "open: \"08:30\", close: \"17:30\"}], or `always: true`");
      ok = false;
    }
    for (int i = 0; i < hours.weekly_size(); ++i) {
      const v1::Session& session = hours.weekly(i);
      const std::string session_path = JoinIndex(JoinKey(path, "weekly"), i);
      Session compiled;
      if (session.days().empty()) {
        diag_->Add(JoinKey(session_path, "days"),
                   "a session needs days, e.g. days: [mon, tue, wed, thu, fri]");
        ok = false;
      }
      for (int d = 0; d < session.days_size(); ++d) {
        std::optional<absl::Weekday> day = ParseDay(session.days(d));
        if (!day) {
          diag_->Add(JoinIndex(JoinKey(session_path, "days"), d),
                     absl::StrCat("unknown day '", session.days(d),
                                  "'; use mon, tue, wed, thu, fri, sat, sun"));
          ok = false;
        } else if (std::find(compiled.days.begin(), compiled.days.end(), *day) ==
                   compiled.days.end()) {
          compiled.days.push_back(*day);
        }
      }
      std::optional<int> open = ParseClock(session.open(), false);
      std::optional<int> close = ParseClock(session.close(), true);
      if (!open) {
        diag_->Add(JoinKey(session_path, "open"),
                   session.open().empty()
                       ? std::string("a session needs open: \"HH:MM\", e.g. \"08:30\"")
                       : absl::StrCat("open: '", session.open(),
                                      "' is not a time of day; write \"HH:MM\", e.g. \"08:30\""));
        ok = false;
      }
      if (!close) {
        diag_->Add(JoinKey(session_path, "close"),
                   session.close().empty()
                       ? std::string("a session needs close: \"HH:MM\", e.g. \"17:30\"")
                       : absl::StrCat("close: '", session.close(),
                                      "' is not a time of day; write \"HH:MM\", e.g. \"17:30\" "
                                      "(or \"24:00\" for midnight)"));
        ok = false;
      }
      if (open && close && *close <= *open) {
        diag_->Add(
            JoinKey(session_path, "close"),
            absl::StrCat("close ", FormatClock(*close), " is not after open ", FormatClock(*open),
                         "; a session cannot run past midnight (close at \"24:00\" and "
                         "open again at \"00:00\" the next day)"));
        ok = false;
      }
      if (open && close) {
        compiled.open_minute = *open;
        compiled.close_minute = *close;
      }
      out.weekly.push_back(std::move(compiled));
    }
    if (!ok) return std::nullopt;
    return out;
  }

  std::vector<PendingTier> CheckTiers(const google::protobuf::RepeatedPtrField<v1::Tier>& tiers,
                                      const std::string& path) {
    std::vector<PendingTier> out;
    if (tiers.size() > kMaxTiers) {
      diag_->Add(path, absl::StrCat("too many tiers (", tiers.size(), "); at most ", kMaxTiers));
      return out;
    }
    std::vector<std::vector<CheckedClause>> enters;
    for (int i = 0; i < tiers.size(); ++i) {
      const v1::Tier& tier = tiers[i];
      const std::string tier_path = JoinIndex(path, i);
      PendingTier pending;
      TierRule& rule = pending.rule;
      rule.level = tier.level();
      rule.name = tier.name().empty() ? absl::StrCat("Tier ", i + 1) : tier.name();
      if (tier.level() != i + 1) {
        diag_->Add(JoinKey(tier_path, "level"),
                   absl::StrCat("tiers must be listed with levels 1, 2, 3, ... in order without "
                                "gaps; expected level ",
                                i + 1, " here, got ", tier.level()));
      }
      std::vector<CheckedClause> enter =
          CheckCondition(tier.enter(), tier.has_enter(), JoinKey(tier_path, "enter"), "enter");
      std::vector<CheckedClause> exit =
          CheckCondition(tier.exit(), tier.has_exit(), JoinKey(tier_path, "exit"), "exit");
      rule.enter.all = tier.enter().combine() == v1::Condition::COMBINE_ALL;
      for (const CheckedClause& c : enter) rule.enter.clauses.push_back(c.clause);
      rule.exit.all = tier.exit().combine() == v1::Condition::COMBINE_ALL;
      for (const CheckedClause& c : exit) rule.exit.clauses.push_back(c.clause);

      rule.sustain = CheckNotNegative(tier.sustain(), JoinKey(tier_path, "sustain"), "sustain");
      rule.min_hold = CheckNotNegative(tier.min_hold(), JoinKey(tier_path, "min_hold"), "min_hold");
      CheckHysteresis(enter, exit);
      CheckStrictness(i, enter, enters);
      enters.push_back(std::move(enter));

      for (int j = 0; j < tier.callups_size(); ++j) {
        pending.callups.push_back(
            CheckCallUp(tier.callups(j), JoinIndex(JoinKey(tier_path, "callups"), j)));
      }
      out.push_back(std::move(pending));
    }
    return out;
  }

  absl::Duration CheckNotNegative(const google::protobuf::Duration& value, const std::string& path,
                                  absl::string_view name) {
    const absl::Duration d = FromProto(value);
    if (d < absl::ZeroDuration()) {
      diag_->Add(path, absl::StrCat(name, " must not be negative, got ", Dur(d)));
      return absl::ZeroDuration();
    }
    return d;
  }

  std::vector<CheckedClause> CheckCondition(const v1::Condition& condition, bool present,
                                            const std::string& path, absl::string_view what) {
    std::vector<CheckedClause> out;
    std::string key = "clauses";
    if (condition.combine() == v1::Condition::COMBINE_ANY) {
      key = "any";
    } else if (condition.combine() == v1::Condition::COMBINE_ALL) {
      key = "all";
    } else if (condition.clauses_size() > 0) {
      diag_->Add(path, absl::StrCat(what,
                                    ": a condition combines its clauses with any: (OR) or "
                                    "all: (AND); neither is given"));
    }
    if (condition.clauses().empty()) {
      diag_->Add(key == "clauses" ? path : JoinKey(path, key),
                 absl::StrCat(what, ": a condition needs at least one clause, e.g. {",
                              key == "all" ? "all" : "any", ": [{metric: avg_wait, window: 15m, ",
                              what == "exit" ? "below: 150s" : "above: 180s", "}]}",
                              present ? "" : "; a tier must have both enter: and exit:"));
      return out;
    }
    const std::string clauses_path = JoinKey(path, key);
    if (condition.clauses_size() > kMaxClauses) {
      diag_->Add(clauses_path, absl::StrCat(what, ": too many clauses (", condition.clauses_size(),
                                            "); at most ", kMaxClauses));
      return out;
    }
    for (int i = 0; i < condition.clauses_size(); ++i) {
      out.push_back(CheckClause(condition.clauses(i), JoinIndex(clauses_path, i)));
    }
    return out;
  }

  CheckedClause CheckClause(const v1::Clause& clause, const std::string& path) {
    CheckedClause out;
    out.path = path;
    const bool above = clause.comparison() == v1::Clause::COMPARISON_ABOVE;
    const bool below = clause.comparison() == v1::Clause::COMPARISON_BELOW;
    out.threshold_path = JoinKey(path, below ? "below" : "above");
    bool valid = true;

    const v1::Metric metric = clause.metric();
    if (metric == v1::METRIC_UNSPECIFIED || !v1::Metric_IsValid(metric)) {
      diag_->Add(JoinKey(path, "metric"),
                 absl::StrCat(metric == v1::METRIC_UNSPECIFIED
                                  ? std::string("a clause needs a metric")
                                  : absl::StrCat("unknown metric number ", metric),
                              "; metrics are: ", AllMetricNames()));
      valid = false;
    }
    const absl::Duration window = FromProto(clause.window());
    if (valid && IsWindowedMetric(metric)) {
      if (!clause.has_window() || window == absl::ZeroDuration()) {
        diag_->Add(path, absl::StrCat(MetricText(metric),
                                      " is measured over a window: add e.g. `window: 15m` (one "
                                      "of the policy's windows: ",
                                      WindowList(), ")"));
        valid = false;
      } else if (std::find(listed_windows_.begin(), listed_windows_.end(), window) ==
                 listed_windows_.end()) {
        diag_->Add(
            JoinKey(path, "window"),
            absl::StrCat("window ", Dur(window),
                         " is not supported: it is not listed in `windows:` (", WindowList(), ")"));
        valid = false;
      }
    } else if (valid && clause.has_window()) {
      diag_->Add(JoinKey(path, "window"),
                 absl::StrCat(MetricText(metric),
                              " is a live metric and takes no window; remove `window:`"));
      valid = false;
    }
    if (!above && !below) {
      diag_->Add(path, "a clause needs a threshold: `above:` or `below:`");
      valid = false;
    }
    const double threshold = clause.threshold();
    if (valid) {
      const std::string name(MetricText(metric));
      if (!std::isfinite(threshold)) {
        diag_->Add(out.threshold_path, "the threshold must be a finite number");
        valid = false;
      } else if (IsFractionMetric(metric) && (threshold < 0 || threshold > 1)) {
        diag_->Add(out.threshold_path,
                   absl::StrCat(name, " is a fraction between 0 and 1 (e.g. 0.10 or 10%), got ",
                                threshold));
        valid = false;
      } else if (threshold < 0 && metric != v1::METRIC_CAPACITY_GAP) {
        diag_->Add(out.threshold_path,
                   absl::StrCat("the threshold for ", name, " must not be negative, got ",
                                FormatThreshold(metric, threshold)));
        valid = false;
      }
    }
    out.clause.metric = metric;
    out.clause.window = IsWindowedMetric(metric) ? window : absl::ZeroDuration();
    out.clause.above = !below;
    out.clause.threshold = threshold;
    out.valid = valid && !diag_->Tainted(path);
    return out;
  }

  static bool SameSeries(const Clause& a, const Clause& b) {
    return a.metric == b.metric && a.window == b.window;
  }

  // Exit clauses must be the opposite direction of the enter clause on the
  // same metric and window, and strictly beyond it (hysteresis).
  void CheckHysteresis(const std::vector<CheckedClause>& enter,
                       const std::vector<CheckedClause>& exit) {
    for (const CheckedClause& x : exit) {
      if (!x.valid) continue;
      for (const CheckedClause& e : enter) {
        if (!e.valid || !SameSeries(e.clause, x.clause)) continue;
        const std::string label = MetricLabel(x.clause.metric, x.clause.window);
        if (e.clause.above == x.clause.above) {
          diag_->Add(x.threshold_path,
                     absl::StrCat("the exit clause on ", label, " is '",
                                  x.clause.above ? "above" : "below",
                                  "' like the enter clause; for hysteresis it must be '",
                                  x.clause.above ? "below" : "above", "' a threshold ",
                                  x.clause.above ? "below" : "above", " the enter threshold ",
                                  FormatThreshold(e.clause.metric, e.clause.threshold)));
          break;
        }
        const bool bad = e.clause.above ? x.clause.threshold >= e.clause.threshold
                                        : x.clause.threshold <= e.clause.threshold;
        if (bad) {
          diag_->Add(
              x.threshold_path,
              absl::StrCat("exit threshold ", FormatThreshold(x.clause.metric, x.clause.threshold),
                           " is not ", e.clause.above ? "below" : "above", " the enter threshold ",
                           FormatThreshold(e.clause.metric, e.clause.threshold), " for ", label));
          break;
        }
      }
    }
  }

  // A higher tier's enter threshold on the same metric, window and
  // direction must be at least as strict as the nearest lower tier's.
  void CheckStrictness(int index, const std::vector<CheckedClause>& enter,
                       const std::vector<std::vector<CheckedClause>>& lower) {
    for (const CheckedClause& c : enter) {
      if (!c.valid) continue;
      for (int j = index - 1; j >= 0; --j) {
        bool found = false;
        for (const CheckedClause& l : lower[j]) {
          if (!l.valid || !SameSeries(l.clause, c.clause) || l.clause.above != c.clause.above) {
            continue;
          }
          found = true;
          const bool weaker = c.clause.above ? c.clause.threshold < l.clause.threshold
                                             : c.clause.threshold > l.clause.threshold;
          if (weaker) {
            diag_->Add(c.threshold_path,
                       absl::StrCat("tier ", index + 1, " enters at ",
                                    MetricLabel(c.clause.metric, c.clause.window), " ",
                                    c.clause.above ? "above " : "below ",
                                    FormatThreshold(c.clause.metric, c.clause.threshold),
                                    ", less strict than tier ", j + 1, "'s ",
                                    FormatThreshold(l.clause.metric, l.clause.threshold),
                                    "; a higher tier's enter threshold must be at least as strict "
                                    "(tiers out of order?)"));
            break;
          }
        }
        if (found) break;
      }
    }
  }

  PendingCallUp CheckCallUp(const v1::CallUpSpec& spec, const std::string& path) {
    PendingCallUp out;
    out.path = path;
    CallUpTemplate& callup = out.callup;
    const bool has_team = !spec.team().empty();
    const bool has_role = !spec.role().empty();
    if (has_team && has_role) {
      diag_->Add(path, "a call-up names exactly one of team: or role:, not both");
    } else if (!has_team && !has_role) {
      diag_->Add(path,
                 "a call-up needs team: (a team id) or role: (resolved through the line's roles)");
    } else if (has_team) {
      callup.team_id = spec.team();
      if (!TeamExists(spec.team())) {
        diag_->Add(JoinKey(path, "team"),
                   absl::StrCat("unknown team '", spec.team(), "'; ", TeamList()));
      }
    } else {
      out.role = spec.role();
      out.role_path = JoinKey(path, "role");
    }
    const std::string headcount_path = JoinKey(path, "headcount");
    switch (spec.headcount_case()) {
      case v1::CallUpSpec::kFixed:
        if (spec.fixed() <= 0) {
          diag_->Add(headcount_path,
                     absl::StrCat("headcount must be at least 1, got ", spec.fixed()));
        }
        callup.fixed_headcount = spec.fixed();
        break;
      case v1::CallUpSpec::kGap:
        if (spec.gap()) {
          callup.headcount_from_gap = true;
          break;
        }
        [[fallthrough]];
      default:
        diag_->Add(headcount_path,
                   "a call-up needs a headcount: a number of people, or `gap` (the capacity gap)");
        break;
    }
    if (spec.max_headcount() < 0) {
      diag_->Add(JoinKey(path, "max_headcount"),
                 absl::StrCat("max_headcount must not be negative (0 = no cap), got ",
                              spec.max_headcount()));
    }
    callup.max_headcount = spec.max_headcount();
    callup.duration = FromProto(spec.duration());
    if (callup.duration <= absl::ZeroDuration()) {
      diag_->Add(
          JoinKey(path, "duration"),
          spec.has_duration()
              ? absl::StrCat("duration must be positive, got ", Dur(callup.duration))
              : std::string("a call-up needs a duration: for how long, e.g. `duration: 2h`"));
    }
    return out;
  }

  LinePolicy MergeLine(const std::string& id, const v1::LineSettings& line,
                       const CheckedBlock& line_block, const CheckedBlock& defaults_block,
                       const std::optional<OpeningHours>& hours) {
    const v1::LineSettings& defaults = policy_.defaults();
    LinePolicy out;
    out.line_id = id;
    out.display_name = !line.display_name().empty()       ? line.display_name()
                       : !defaults.display_name().empty() ? defaults.display_name()
                                                          : id;
    MergeTargets(line.targets(), defaults.targets(), &out.targets);
    if (hours) out.hours = *hours;
    if (line.has_feed_stale_after()) {
      out.feed_stale_after = FromProto(line.feed_stale_after());
    } else if (defaults.has_feed_stale_after()) {
      out.feed_stale_after = FromProto(defaults.feed_stale_after());
    }
    if (line.has_default_handle_time()) {
      out.default_handle_time = FromProto(line.default_handle_time());
    } else if (defaults.has_default_handle_time()) {
      out.default_handle_time = FromProto(defaults.default_handle_time());
    }

    const CheckedBlock& tiers_block = line.tiers().empty() ? defaults_block : line_block;
    const std::string line_roles = JoinKey(JoinKey("lines", id), "roles");
    for (const PendingTier& pending : tiers_block.tiers) {
      TierRule rule = pending.rule;
      absl::flat_hash_map<std::string, const PendingCallUp*> by_team;  // this tier's
      for (const PendingCallUp& p : pending.callups) {
        CallUpTemplate callup = p.callup;
        if (!p.role.empty()) {
          const std::string* team = nullptr;
          if (auto it = line.roles().find(p.role); it != line.roles().end()) {
            team = &it->second;
          } else if (auto d = defaults.roles().find(p.role); d != defaults.roles().end()) {
            team = &d->second;
          }
          if (team == nullptr) {
            diag_->Add(p.role_path,
                       absl::StrCat("role '", p.role, "' does not resolve for line '", id,
                                    "': neither ", line_roles, " nor defaults.roles defines it"));
          } else {
            callup.team_id = *team;
          }
        }
        if (!callup.team_id.empty()) CheckTeamCallUp(id, p, callup, by_team);
        rule.callups.push_back(std::move(callup));
      }
      out.tiers.push_back(std::move(rule));
    }
    return out;
  }

  // A call-up's team as resolved for line `line_id`: once per tier (a
  // call-up's id is its tier entry and team), and a fixed headcount within
  // the team's cap. Tiers shared through defaults are checked per line
  // (roles differ by line); an error is reported once.
  void CheckTeamCallUp(const std::string& line_id, const PendingCallUp& p,
                       const CallUpTemplate& callup,
                       absl::flat_hash_map<std::string, const PendingCallUp*>& by_team) {
    auto via = [](const PendingCallUp& c) {
      return c.role.empty() ? std::string("team:") : absl::StrCat("role '", c.role, "'");
    };
    const auto [first, added] = by_team.emplace(callup.team_id, &p);
    if (!added) {
      const bool by_roles = !p.role.empty() || !first->second->role.empty();
      AddOnce(
          p.path,
          absl::StrCat("team '", callup.team_id, "' is called up twice in this tier",
                       by_roles ? absl::StrCat(" for line '", line_id, "'") : std::string(), " (",
                       first->second->path, " by ", via(*first->second), ", and this one by ",
                       via(p), "): call a team up once per tier, with the people of both"));
    }
    if (callup.fixed_headcount <= 0) return;
    auto team = policy_.teams().find(callup.team_id);
    if (team == policy_.teams().end() || team->second.max_headcount() <= 0) return;
    if (callup.fixed_headcount > team->second.max_headcount()) {
      AddOnce(JoinKey(p.path, "headcount"),
              absl::StrCat("headcount ", callup.fixed_headcount, " is more than team '",
                           callup.team_id, "''s max_headcount ", team->second.max_headcount(),
                           p.role.empty()
                               ? std::string()
                               : absl::StrCat(" (role '", p.role, "' for line '", line_id, "')")));
    }
  }

  void AddOnce(const std::string& path, std::string message) {
    if (reported_.insert(absl::StrCat(path, "\n", message)).second) {
      diag_->Add(path, std::move(message));
    }
  }

  static void MergeTargets(const v1::Targets& line, const v1::Targets& defaults, Targets* out) {
    auto duration = [](bool has, const google::protobuf::Duration& d, absl::Duration* field) {
      if (has) *field = FromProto(d);
    };
    // Defaults first, then the line's own fields over them.
    for (const v1::Targets* t : {&defaults, &line}) {
      duration(t->has_answer_within(), t->answer_within(), &out->answer_within);
      duration(t->has_short_abandon(), t->short_abandon(), &out->short_abandon);
      duration(t->has_avg_wait(), t->avg_wait(), &out->avg_wait);
      if (t->has_abandon_rate()) out->abandon_rate = t->abandon_rate();
      if (t->has_answer_rate()) out->answer_rate = t->answer_rate();
      if (t->has_service_level()) out->service_level = t->service_level();
    }
  }

  const v1::Policy& policy_;
  Diagnostics* diag_;
  std::set<std::string> reported_;              // AddOnce's path and message
  std::vector<std::string> team_ids_;           // sorted
  std::vector<absl::Duration> listed_windows_;  // as listed (valid ones)
};

}  // namespace

void CompileChecked(const tidewatch::v1::Policy& policy, Diagnostics* diag, CompiledPolicy* out) {
  *out = CompiledPolicy();
  Compiler(policy, diag).Run(out);
  out->source = policy;
}

}  // namespace tidewatch::policy::internal
