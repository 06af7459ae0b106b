// Every kind of policy error is reported with its YAML path and line, and
// all errors of a document are reported together.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "policy/policy.h"
#include "policy_test_util.h"

namespace tidewatch::policy {
namespace {

using testing::ErrorLines;
using testing::HasError;
using ::testing::HasSubstr;
using testing::LineOf;
using ::testing::SizeIs;

// Teams and one line; tests append a `defaults:` block or more.
constexpr char kHead[] = R"(name: test
teams:
  back-office: {rota: [{name: A, contact: a}]}
  managers: {}
lines:
  revenues:
    roles: {back_office: back-office}
)";

// One valid tier. Tests replace parts of it.
constexpr char kTier[] = R"(defaults:
  tiers:
    - level: 1
      enter:
        any:
          - {metric: avg_wait, window: 15m, above: 180s}
      sustain: 2m
      exit:
        all:
          - {metric: avg_wait, window: 15m, below: 150s}
      min_hold: 10m
      callups:
        - {role: back_office, headcount: 2, duration: 1h}
)";

std::string WithTier(absl::string_view from, absl::string_view to) {
  return absl::StrCat(kHead, absl::StrReplaceAll(kTier, {{from, to}}));
}

TEST(PolicyErrorsTest, BaseDocumentIsValid) {
  const std::string yaml = absl::StrCat(kHead, kTier);
  absl::StatusOr<CompiledPolicy> policy = LoadPolicyYaml(yaml, "t.yaml");
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(policy->FindLine("revenues")->tiers[0].callups[0].team_id, "back-office");
}

TEST(PolicyErrorsTest, ExampleMessageFormat) {
  const std::string yaml = absl::StrCat(kHead, R"(defaults:
  tiers:
    - level: 1
      enter: {any: [{metric: avg_wait, window: 15m, above: 120s}]}
      exit: {all: [{metric: avg_wait, window: 15m, below: 60s}]}
    - level: 2
      enter: {any: [{metric: avg_wait, window: 15m, above: 180s}]}
      exit:
        all:
          - {metric: avg_wait, window: 15m, below: 200s}
)");
  const std::vector<std::string> errors = ErrorLines(yaml);
  ASSERT_THAT(errors, SizeIs(1));
  const int line = LineOf(yaml, "below: 200s");
  EXPECT_EQ(errors[0], absl::StrCat("test.yaml:", line,
                                    ":45: defaults.tiers[1].exit.all[0].below: exit threshold 200s "
                                    "is not below the enter threshold 180s for avg_wait(15m)"));
}

// --- Schema: unknown keys, types, syntax ------------------------------------

TEST(PolicyErrorsTest, UnknownTopLevelKey) {
  const std::string yaml = absl::StrCat(kHead, "windws: [5m]\n");
  EXPECT_TRUE(HasError(yaml, "windws", LineOf(yaml, "windws"),
                       "unknown key 'windws'; allowed: name, windows, allowed_lateness, "
                       "evaluation_interval, defaults, teams, lines (did you mean 'windows'?)"));
}

TEST(PolicyErrorsTest, UnknownKeyInTier) {
  const std::string yaml = WithTier("sustain: 2m", "sustian: 2m");
  EXPECT_TRUE(HasError(yaml, "defaults.tiers[0].sustian", LineOf(yaml, "sustian"),
                       "unknown key 'sustian'"));
  EXPECT_TRUE(HasError(yaml, "defaults.tiers[0].sustian", LineOf(yaml, "sustian"),
                       "did you mean 'sustain'?"));
}

TEST(PolicyErrorsTest, UnknownKeyInClause) {
  const std::string yaml = WithTier("window: 15m, above", "windw: 15m, above");
  EXPECT_TRUE(HasError(yaml, "defaults.tiers[0].enter.any[0].windw", LineOf(yaml, "windw"),
                       "unknown key 'windw'; allowed: metric, window, above, below"));
}

TEST(PolicyErrorsTest, UnknownKeyInCondition) {
  const std::string yaml = WithTier("any:", "some:");
  EXPECT_TRUE(HasError(yaml, "defaults.tiers[0].enter.some", LineOf(yaml, "some:"),
                       "unknown key 'some'; allowed: any, all"));
}

TEST(PolicyErrorsTest, UnknownKeyInCallUp) {
  const std::string yaml = WithTier("headcount: 2", "count: 2");
  EXPECT_TRUE(HasError(yaml, "defaults.tiers[0].callups[0].count", LineOf(yaml, "count: 2"),
                       "unknown key 'count'; allowed: team, role, headcount, max_headcount, "
                       "duration"));
  // ... and the headcount is then missing.
  EXPECT_TRUE(HasError(yaml, "defaults.tiers[0].callups[0].headcount", LineOf(yaml, "count: 2"),
                       "a call-up needs a headcount"));
}

TEST(PolicyErrorsTest, UnknownKeyInLineAndOpeningHours) {
  const std::string yaml = absl::StrCat(kHead, R"(    display: Revenues
    opening_hours:
      weekly: [{days: [mon], opens: "08:00", close: "17:00"}]
)");
  EXPECT_TRUE(HasError(yaml, "lines.revenues.display", LineOf(yaml, "display:"),
                       "did you mean 'display_name'?"));
  EXPECT_TRUE(HasError(yaml, "lines.revenues.opening_hours.weekly[0].opens", LineOf(yaml, "opens"),
                       "unknown key 'opens'; allowed: days, open, close"));
}

TEST(PolicyErrorsTest, DuplicateKey) {
  const std::string yaml = absl::StrCat(kHead, "name: again\n");
  EXPECT_TRUE(HasError(yaml, "name", LineOf(yaml, "name: again"), "duplicate key 'name'"));
}

TEST(PolicyErrorsTest, MappingWhereSequenceExpected) {
  const std::string yaml = absl::StrCat(kHead, "defaults:\n  tiers: {level: 1}\n");
  EXPECT_TRUE(HasError(yaml, "defaults.tiers", LineOf(yaml, "tiers:"),
                       "expected a sequence, e.g. [a, b], got a mapping"));
}

TEST(PolicyErrorsTest, SequenceWhereMappingExpected) {
  const std::string yaml = R"(name: test
lines: [revenues, waste]
)";
  EXPECT_TRUE(HasError(yaml, "lines", 2,
                       "expected a mapping of name to LineSettings, got a "
                       "sequence"));
  const std::string targets = absl::StrCat(kHead, "defaults:\n  targets: [180s]\n");
  EXPECT_TRUE(HasError(targets, "defaults.targets", LineOf(targets, "targets:"),
                       "expected a mapping (Targets), got a sequence"));
}

TEST(PolicyErrorsTest, ScalarTypes) {
  const std::string yaml = absl::StrCat(R"(name: [a, b]
lines:
  revenues:
    opening_hours: {always: maybe}
)",
                                        kTier);
  const std::string level = absl::StrReplaceAll(yaml, {{"level: 1", "level: one"}});
  EXPECT_TRUE(HasError(level, "name", 1, "expected a string, got a sequence"));
  EXPECT_TRUE(HasError(level, "lines.revenues.opening_hours.always", 4,
                       "expected true or false, got 'maybe'"));
  EXPECT_TRUE(HasError(level, "defaults.tiers[0].level", LineOf(level, "level: one"),
                       "expected a whole number, got 'one'"));
}

TEST(PolicyErrorsTest, ClauseMustBeAMapping) {
  const std::string yaml =
      WithTier("- {metric: avg_wait, window: 15m, above: 180s}", "- avg_wait above 180s");
  EXPECT_TRUE(HasError(yaml, "defaults.tiers[0].enter.any[0]", LineOf(yaml, "avg_wait above"),
                       "expected a clause such as {metric: avg_wait, window: 15m, above: 180s}"));
}

TEST(PolicyErrorsTest, YamlSyntaxErrorUsesTheParserMark) {
  EXPECT_TRUE(HasError("name: test\nlines:\n  revenues: a: b\n", "", 3, "YAML syntax error"));
  const std::vector<std::string> errors = ErrorLines("name: test\nlines:\n  revenues: a: b\n");
  ASSERT_THAT(errors, SizeIs(1));
  EXPECT_EQ(errors[0], "test.yaml:3:14: YAML syntax error: illegal map value");
  EXPECT_TRUE(HasError("name: ok\nwindows: [5m, 15m\nlines: {}\n", "", 3,
                       "end of sequence flow not found"));
  EXPECT_TRUE(HasError("a:\n\t- b\n", "", 2, "YAML syntax error"));
}

TEST(PolicyErrorsTest, OneDocumentOnly) {
  const std::string yaml = absl::StrCat(kHead, "---\nname: other\n");
  EXPECT_TRUE(HasError(yaml, "", LineOf(yaml, "---"),
                       "a policy is one YAML document; found more after it here"));
}

TEST(PolicyErrorsTest, DocumentMustBeAMapping) {
  EXPECT_TRUE(HasError("- a\n- b\n", "", 1, "a policy is a mapping"));
}

// --- Durations, metrics, thresholds -----------------------------------------

TEST(PolicyErrorsTest, BareNumberIsNotADuration) {
  const std::string yaml = WithTier("sustain: 2m", "sustain: 120");
  EXPECT_TRUE(HasError(yaml, "defaults.tiers[0].sustain", LineOf(yaml, "sustain: 120"),
                       "bare number 120 is not a duration; write it with a unit, e.g. \"120s\""));
  const std::string windows = absl::StrCat(kHead, "windows: [300, 15m]\n");
  EXPECT_TRUE(HasError(windows, "windows[0]", LineOf(windows, "windows"), "e.g. \"300s\""));
}

TEST(PolicyErrorsTest, NotADuration) {
  const std::string yaml = WithTier("min_hold: 10m", "min_hold: ten minutes");
  EXPECT_TRUE(HasError(yaml, "defaults.tiers[0].min_hold", LineOf(yaml, "ten minutes"),
                       "'ten minutes' is not a duration; write e.g. \"180s\", \"15m\" or "
                       "\"1h30m\""));
}

TEST(PolicyErrorsTest, DurationMetricThresholdNeedsAUnit) {
  const std::string yaml = WithTier("above: 180s", "above: 180");
  EXPECT_TRUE(HasError(yaml, "defaults.tiers[0].enter.any[0].above", LineOf(yaml, "above: 180}"),
                       "avg_wait is a duration: write the threshold with a unit, e.g. \"180s\""));
}

TEST(PolicyErrorsTest, RateThresholdIsNotADuration) {
  const std::string yaml = WithTier("{metric: avg_wait, window: 15m, above: 180s}",
                                    "{metric: abandon_rate, window: 15m, above: 10s}");
  EXPECT_TRUE(HasError(yaml, "defaults.tiers[0].enter.any[0].above", LineOf(yaml, "abandon_rate"),
                       "abandon_rate is a fraction, not a duration: write e.g. 0.10 or 10%"));
}

TEST(PolicyErrorsTest, CountThresholdTakesNoPercent) {
  const std::string yaml = WithTier("{metric: avg_wait, window: 15m, above: 180s}",
                                    "{metric: calls_waiting, above: 10%}");
  EXPECT_TRUE(HasError(yaml, "defaults.tiers[0].enter.any[0].above", LineOf(yaml, "calls_waiting"),
                       "calls_waiting is a number, not a fraction"));
}

TEST(PolicyErrorsTest, PercentThresholdIsAFraction) {
  const std::string yaml = WithTier("{metric: avg_wait, window: 15m, above: 180s}",
                                    "{metric: abandon_rate, window: 15m, above: 12.5%}");
  absl::StatusOr<CompiledPolicy> policy = LoadPolicyYaml(yaml, "t.yaml");
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_DOUBLE_EQ(policy->FindLine("revenues")->tiers[0].enter.clauses[0].threshold, 0.125);
}

TEST(PolicyErrorsTest, RateThresholdOutsideZeroToOne) {
  const std::string yaml = WithTier("{metric: avg_wait, window: 15m, above: 180s}",
                                    "{metric: abandon_rate, window: 15m, above: 1.5}");
  EXPECT_TRUE(HasError(yaml, "defaults.tiers[0].enter.any[0].above", LineOf(yaml, "abandon_rate"),
                       "abandon_rate is a fraction between 0 and 1 (e.g. 0.10 or 10%), got 1.5"));
  const std::string percent = WithTier("{metric: avg_wait, window: 15m, above: 180s}",
                                       "{metric: service_level, window: 60m, below: 150%}");
  EXPECT_TRUE(HasError(percent, "defaults.tiers[0].enter.any[0].below",
                       LineOf(percent, "service_level"), "got 1.5"));
}

TEST(PolicyErrorsTest, TargetRatesOutsideZeroToOne) {
  const std::string yaml = absl::StrCat(kHead, R"(defaults:
  targets:
    abandon_rate: 2
    answer_rate: 90%
)");
  EXPECT_TRUE(HasError(yaml, "defaults.targets.abandon_rate", LineOf(yaml, "abandon_rate"),
                       "abandon_rate is a fraction between 0 and 1"));
  EXPECT_THAT(ErrorLines(yaml), SizeIs(1));  // 90% is fine
}

TEST(PolicyErrorsTest, NegativeDurationThreshold) {
  const std::string yaml = WithTier("above: 180s", "above: -5s");
  EXPECT_TRUE(HasError(yaml, "defaults.tiers[0].enter.any[0].above", LineOf(yaml, "-5s"),
                       "must not be negative"));
}

TEST(PolicyErrorsTest, UnknownMetric) {
  const std::string yaml =
      WithTier("metric: avg_wait, window: 15m, above", "metric: avg_wiat, window: 15m, above");
  EXPECT_TRUE(HasError(yaml, "defaults.tiers[0].enter.any[0].metric", LineOf(yaml, "avg_wiat"),
                       "unknown metric 'avg_wiat'; allowed: offered, answered"));
  EXPECT_TRUE(HasError(yaml, "defaults.tiers[0].enter.any[0].metric", LineOf(yaml, "avg_wiat"),
                       "(did you mean 'avg_wait'?)"));
  // The bad metric does not also trip the hysteresis check.
  EXPECT_THAT(ErrorLines(yaml), SizeIs(1));
}

TEST(PolicyErrorsTest, ClauseWithoutMetric) {
  const std::string yaml =
      WithTier("{metric: avg_wait, window: 15m, above: 180s}", "{above: 180s}");
  EXPECT_TRUE(HasError(yaml, "defaults.tiers[0].enter.any[0].metric", LineOf(yaml, "{above: 180s}"),
                       "a clause needs a metric"));
}

TEST(PolicyErrorsTest, ClauseNeedsExactlyOneOfAboveBelow) {
  const std::string both = WithTier("above: 180s}", "above: 180s, below: 10s}");
  EXPECT_TRUE(HasError(both, "defaults.tiers[0].enter.any[0].below", LineOf(both, "below: 10s"),
                       "exactly one of above: or below:"));
  const std::string neither = WithTier(", above: 180s}", "}");
  EXPECT_TRUE(HasError(neither, "defaults.tiers[0].enter.any[0]",
                       LineOf(neither, "{metric: avg_wait, window: 15m}"),
                       "a clause needs a threshold: `above:` or `below:`"));
}

TEST(PolicyErrorsTest, WindowedMetricWithoutWindow) {
  const std::string yaml =
      WithTier("{metric: avg_wait, window: 15m, above: 180s}", "{metric: avg_wait, above: 180s}");
  EXPECT_TRUE(HasError(yaml, "defaults.tiers[0].enter.any[0]",
                       LineOf(yaml,
                              "{metric: avg_wait, "
                              "above"),
                       "avg_wait is measured over a window: add e.g. `window: 15m` (one of the "
                       "policy's windows: 5m, 15m, 1h)"));
}

TEST(PolicyErrorsTest, LiveMetricWithWindow) {
  const std::string yaml = WithTier("{metric: avg_wait, window: 15m, above: 180s}",
                                    "{metric: longest_waiting, window: 5m, above: 480s}");
  EXPECT_TRUE(HasError(yaml, "defaults.tiers[0].enter.any[0].window", LineOf(yaml, "longest"),
                       "longest_waiting is a live metric and takes no window"));
}

TEST(PolicyErrorsTest, WindowNotListed) {
  const std::string yaml = WithTier("window: 15m, above", "window: 10m, above");
  EXPECT_TRUE(
      HasError(yaml, "defaults.tiers[0].enter.any[0].window", LineOf(yaml, "window: 10m"),
               "window 10m is not supported: it is not listed in `windows:` (5m, 15m, 1h)"));
}

// --- Tiers --------------------------------------------------------------------

TEST(PolicyErrorsTest, TierLevelsMustAscendWithoutGaps) {
  const std::string yaml = absl::StrCat(kHead, R"(defaults:
  tiers:
    - level: 1
      enter: {any: [{metric: calls_waiting, above: 10}]}
      exit: {all: [{metric: calls_waiting, below: 5}]}
    - level: 3
      enter: {any: [{metric: calls_waiting, above: 20}]}
      exit: {all: [{metric: calls_waiting, below: 15}]}
)");
  EXPECT_TRUE(HasError(yaml, "defaults.tiers[1].level", LineOf(yaml, "level: 3"),
                       "tiers must be listed with levels 1, 2, 3, ... in order without gaps; "
                       "expected level 2 here, got 3"));
  const std::string reversed =
      absl::StrReplaceAll(yaml, {{"level: 1", "level: 2"}, {"level: 3", "level: 1"}});
  EXPECT_TRUE(HasError(reversed, "defaults.tiers[0].level", LineOf(reversed, "level: 2"),
                       "expected level 1 here, got 2"));
  EXPECT_TRUE(HasError(reversed, "defaults.tiers[1].level", LineOf(reversed, "level: 1"),
                       "expected level 2 here, got 1"));
}

TEST(PolicyErrorsTest, HigherTierMustBeAtLeastAsStrict) {
  const std::string yaml = absl::StrCat(kHead, R"(defaults:
  tiers:
    - level: 1
      enter: {any: [{metric: avg_wait, window: 15m, above: 180s}, {metric: answer_rate, window: 60m, below: 0.8}]}
      exit: {all: [{metric: avg_wait, window: 15m, below: 120s}]}
    - level: 2
      enter: {any: [{metric: calls_waiting, above: 3}]}
      exit: {all: [{metric: calls_waiting, below: 1}]}
    - level: 3
      enter:
        any:
          - {metric: avg_wait, window: 15m, above: 120s}
          - {metric: answer_rate, window: 60m, below: 0.85}
          - {metric: avg_wait, window: 5m, above: 60s}
      exit: {all: [{metric: avg_wait, window: 15m, below: 100s}]}
)");
  EXPECT_TRUE(HasError(yaml, "defaults.tiers[2].enter.any[0].above", LineOf(yaml, "above: 120s"),
                       "tier 3 enters at avg_wait(15m) above 120s, less strict than tier 1's "
                       "180s"));
  EXPECT_TRUE(HasError(yaml, "defaults.tiers[2].enter.any[1].below", LineOf(yaml, "below: 0.85"),
                       "tier 3 enters at answer_rate(1h) below 0.85, less strict than tier 1's "
                       "0.8"));
  // A different window is a different series: no comparison.
  EXPECT_THAT(ErrorLines(yaml), SizeIs(2));
}

TEST(PolicyErrorsTest, ExitAboveClauseMustBeBelowEnter) {
  const std::string yaml = WithTier("below: 150s", "below: 200s");
  EXPECT_TRUE(HasError(yaml, "defaults.tiers[0].exit.all[0].below", LineOf(yaml, "below: 200s"),
                       "exit threshold 200s is not below the enter threshold 180s for "
                       "avg_wait(15m)"));
  const std::string equal = WithTier("below: 150s", "below: 180s");
  EXPECT_TRUE(HasError(equal, "defaults.tiers[0].exit.all[0].below", LineOf(equal, "below: 180s"),
                       "exit threshold 180s is not below the enter threshold 180s"));
}

TEST(PolicyErrorsTest, ExitBelowClauseMustBeAboveEnter) {
  const std::string yaml = absl::StrCat(kHead, R"(defaults:
  tiers:
    - level: 1
      enter: {any: [{metric: service_level, window: 60m, below: 0.8}]}
      exit: {all: [{metric: service_level, window: 60m, above: 0.75}]}
)");
  EXPECT_TRUE(HasError(yaml, "defaults.tiers[0].exit.all[0].above", LineOf(yaml, "above: 0.75"),
                       "exit threshold 0.75 is not above the enter threshold 0.8 for "
                       "service_level(1h)"));
}

TEST(PolicyErrorsTest, ExitClauseInTheSameDirectionAsEnter) {
  const std::string yaml = WithTier("below: 150s", "above: 150s");
  EXPECT_TRUE(HasError(yaml, "defaults.tiers[0].exit.all[0].above", LineOf(yaml, "above: 150s"),
                       "the exit clause on avg_wait(15m) is 'above' like the enter clause; for "
                       "hysteresis it must be 'below'"));
}

TEST(PolicyErrorsTest, ConditionWithNoClauses) {
  const std::string empty =
      WithTier("any:\n          - {metric: avg_wait, window: 15m, above: 180s}", "any: []");
  EXPECT_TRUE(HasError(empty, "defaults.tiers[0].enter.any", LineOf(empty, "any: []"),
                       "enter: a condition needs at least one clause"));
  const std::string no_keys = WithTier(
      "exit:\n        all:\n          - {metric: avg_wait, "
      "window: 15m, below: 150s}",
      "exit: {}");
  EXPECT_TRUE(HasError(no_keys, "defaults.tiers[0].exit", LineOf(no_keys, "exit: {}"),
                       "exit: a condition needs at least one clause"));
}

TEST(PolicyErrorsTest, TierWithoutExit) {
  const std::string yaml = absl::StrCat(kHead, R"(defaults:
  tiers:
    - level: 1
      enter: {any: [{metric: calls_waiting, above: 10}]}
)");
  EXPECT_TRUE(HasError(yaml, "defaults.tiers[0].exit", LineOf(yaml, "- level: 1"),
                       "a tier must have both enter: and exit:"));
}

TEST(PolicyErrorsTest, ConditionWithBothAnyAndAll) {
  const std::string yaml = absl::StrCat(kHead, R"(defaults:
  tiers:
    - level: 1
      enter:
        any: [{metric: calls_waiting, above: 10}]
        all: [{metric: calls_waiting, above: 12}]
      exit: {all: [{metric: calls_waiting, below: 5}]}
)");
  EXPECT_TRUE(HasError(yaml, "defaults.tiers[0].enter.all", LineOf(yaml, "all: [{metric"),
                       "a condition takes exactly one of any: (OR) or all: (AND), not both"));
}

TEST(PolicyErrorsTest, NegativeSustainAndMinHold) {
  const std::string yaml = absl::StrReplaceAll(WithTier("sustain: 2m", "sustain: -2m"),
                                               {{"min_hold: 10m", "min_hold: -1s"}});
  EXPECT_TRUE(HasError(yaml, "defaults.tiers[0].sustain", LineOf(yaml, "sustain: -2m"),
                       "sustain must not be negative, got -2m"));
  EXPECT_TRUE(HasError(yaml, "defaults.tiers[0].min_hold", LineOf(yaml, "min_hold: -1s"),
                       "min_hold must not be negative, got -1s"));
}

// --- Call-ups, teams and roles ---------------------------------------------

TEST(PolicyErrorsTest, UnknownTeam) {
  const std::string yaml = WithTier("role: back_office", "team: ghosts");
  EXPECT_TRUE(HasError(yaml, "defaults.tiers[0].callups[0].team", LineOf(yaml, "team: ghosts"),
                       "unknown team 'ghosts'; teams are: back-office, managers"));
}

TEST(PolicyErrorsTest, RoleNamingUnknownTeam) {
  const std::string yaml = absl::StrCat(
      absl::StrReplaceAll(kHead, {{"back_office: back-office", "back_office: back-offic"}}), kTier);
  EXPECT_TRUE(HasError(yaml, "lines.revenues.roles.back_office", LineOf(yaml, "back-offic}"),
                       "role 'back_office' names unknown team 'back-offic'"));
}

TEST(PolicyErrorsTest, RoleDoesNotResolveForALine) {
  const std::string yaml = absl::StrCat(kHead, "  waste:\n    display_name: Waste\n", kTier);
  EXPECT_TRUE(HasError(yaml, "defaults.tiers[0].callups[0].role", LineOf(yaml, "role: back_office"),
                       "role 'back_office' does not resolve for line 'waste': neither "
                       "lines.waste.roles nor defaults.roles defines it"));
  // revenues defines it: only one error.
  EXPECT_THAT(ErrorLines(yaml), SizeIs(1));
}

// A call-up's id is its line, tier entry and team: one team called up
// twice in a tier (directly, or through a line's roles) would give two
// call-ups one id.
TEST(PolicyErrorsTest, ATeamCalledUpTwiceInATierIsAnError) {
  const std::string twice = WithTier("        - {role: back_office, headcount: 2, duration: 1h}\n",
                                     "        - {role: back_office, headcount: 2, duration: 1h}\n"
                                     "        - {team: managers, headcount: 1, duration: 1h}\n"
                                     "        - {team: managers, headcount: 3, duration: 2h}\n");
  EXPECT_TRUE(HasError(twice, "defaults.tiers[0].callups[2]", LineOf(twice, "headcount: 3"),
                       "team 'managers' is called up twice in this tier "
                       "(defaults.tiers[0].callups[1] by team:, and this one by team:): call a "
                       "team up once per tier, with the people of both"));
  EXPECT_THAT(ErrorLines(twice), SizeIs(1));  // once, not once per line
  // Through a role: only the line whose role names the same team.
  const std::string head = absl::StrCat(kHead, "  waste:\n    roles: {back_office: managers}\n");
  const std::string by_role = absl::StrCat(
      head,
      absl::StrReplaceAll(kTier, {{"        - {role: back_office, headcount: 2, duration: 1h}\n",
                                   "        - {role: back_office, headcount: 2, duration: 1h}\n"
                                   "        - {team: managers, headcount: 1, duration: 1h}\n"}}));
  EXPECT_TRUE(HasError(by_role, "defaults.tiers[0].callups[1]", LineOf(by_role, "team: managers"),
                       "team 'managers' is called up twice in this tier for line 'waste' "
                       "(defaults.tiers[0].callups[0] by role 'back_office', and this one by "
                       "team:)"));
  EXPECT_THAT(ErrorLines(by_role), SizeIs(1));
}

TEST(PolicyErrorsTest, AFixedHeadcountAboveTheTeamsCapIsAnError) {
  const std::string head =
      absl::StrReplaceAll(kHead, {{"  managers: {}", "  managers: {max_headcount: 2}"}});
  const std::string yaml = absl::StrCat(
      head, absl::StrReplaceAll(kTier, {{"{role: back_office, headcount: 2, duration: 1h}",
                                         "{team: managers, headcount: 5, duration: 1h}"}}));
  EXPECT_TRUE(HasError(yaml, "defaults.tiers[0].callups[0].headcount", LineOf(yaml, "headcount: 5"),
                       "headcount 5 is more than team 'managers''s max_headcount 2"));
  // At the cap, or `gap` (capped when computed): fine.
  EXPECT_THAT(ErrorLines(absl::StrReplaceAll(yaml, {{"headcount: 5", "headcount: 2"}})),
              ::testing::IsEmpty());
  EXPECT_THAT(ErrorLines(absl::StrReplaceAll(yaml, {{"headcount: 5", "headcount: gap"}})),
              ::testing::IsEmpty());
}

TEST(PolicyErrorsTest, RoleInALinesOwnTiers) {
  const std::string yaml = absl::StrCat(R"(teams: {t: {}}
lines:
  waste:
    tiers:
      - level: 1
        enter: {any: [{metric: calls_waiting, above: 10}]}
        exit: {all: [{metric: calls_waiting, below: 5}]}
        callups: [{role: helpers, headcount: gap, duration: 1h}]
)");
  EXPECT_TRUE(HasError(yaml, "lines.waste.tiers[0].callups[0].role", LineOf(yaml, "role: helpers"),
                       "role 'helpers' does not resolve for line 'waste'"));
}

TEST(PolicyErrorsTest, CallUpNeedsExactlyOneOfTeamAndRole) {
  const std::string both = WithTier("role: back_office", "role: back_office, team: managers");
  EXPECT_TRUE(HasError(both, "defaults.tiers[0].callups[0]", LineOf(both, "team: managers"),
                       "a call-up names exactly one of team: or role:, not both"));
  const std::string neither = WithTier("role: back_office, ", "");
  EXPECT_TRUE(HasError(neither, "defaults.tiers[0].callups[0]", LineOf(neither, "{headcount: 2"),
                       "a call-up needs team: (a team id) or role:"));
}

TEST(PolicyErrorsTest, HeadcountMustBePositive) {
  for (const char* bad : {"headcount: 0", "headcount: -3"}) {
    const std::string yaml = WithTier("headcount: 2", bad);
    EXPECT_TRUE(HasError(yaml, "defaults.tiers[0].callups[0].headcount", LineOf(yaml, bad),
                         "headcount must be at least 1"));
  }
  const std::string words = WithTier("headcount: 2", "headcount: lots");
  EXPECT_TRUE(HasError(words, "defaults.tiers[0].callups[0].headcount", LineOf(words, "lots"),
                       "headcount is a whole number of people or `gap`"));
  const std::string max = WithTier("headcount: 2", "headcount: gap, max_headcount: -1");
  EXPECT_TRUE(HasError(max, "defaults.tiers[0].callups[0].max_headcount", LineOf(max, "gap"),
                       "max_headcount must not be negative"));
}

TEST(PolicyErrorsTest, DurationMustBePositive) {
  const std::string zero = WithTier("duration: 1h", "duration: 0s");
  EXPECT_TRUE(HasError(zero, "defaults.tiers[0].callups[0].duration", LineOf(zero, "duration: 0s"),
                       "duration must be positive, got 0"));
  const std::string negative = WithTier("duration: 1h", "duration: -1h");
  EXPECT_TRUE(HasError(negative, "defaults.tiers[0].callups[0].duration",
                       LineOf(negative, "duration: -1h"), "duration must be positive, got -1h"));
  const std::string missing = WithTier(", duration: 1h", "");
  EXPECT_TRUE(HasError(missing, "defaults.tiers[0].callups[0].duration",
                       LineOf(missing, "{role: back_office"), "a call-up needs a duration"));
}

TEST(PolicyErrorsTest, TeamSettings) {
  const std::string yaml = R"(teams:
  a: {ack_timeout: 0s, max_headcount: -2}
lines: {x: {}}
)";
  EXPECT_TRUE(HasError(yaml, "teams.a.ack_timeout", 2, "ack_timeout must be positive"));
  EXPECT_TRUE(HasError(yaml, "teams.a.max_headcount", 2, "max_headcount must not be negative"));
}

// --- Windows and timing -----------------------------------------------------

TEST(PolicyErrorsTest, DuplicateWindows) {
  const std::string yaml = absl::StrCat(kHead, "windows:\n  - 5m\n  - 15m\n  - 900s\n");
  EXPECT_TRUE(
      HasError(yaml, "windows[2]", LineOf(yaml, "900s"), "duplicate window 15m (also windows[1])"));
}

TEST(PolicyErrorsTest, WindowsMustBePositiveMultiplesOfTheEvaluationInterval) {
  const std::string yaml = absl::StrCat(kHead, R"(evaluation_interval: 10s
windows:
  - 5m
  - 95s
  - 0s
allowed_lateness: 25s
)");
  EXPECT_TRUE(HasError(yaml, "windows[1]", LineOf(yaml, "95s"),
                       "window 1m35s is not a multiple of evaluation_interval 10s"));
  EXPECT_TRUE(HasError(yaml, "windows[2]", LineOf(yaml, "- 0s"), "a window must be positive"));
  EXPECT_TRUE(HasError(yaml, "allowed_lateness", LineOf(yaml, "allowed_lateness"),
                       "allowed_lateness 25s is not a multiple of evaluation_interval 10s"));
}

TEST(PolicyErrorsTest, LatenessAndIntervalMustBePositive) {
  const std::string yaml = absl::StrCat(kHead, "allowed_lateness: 0s\n");
  EXPECT_TRUE(HasError(yaml, "allowed_lateness", LineOf(yaml, "allowed_lateness"),
                       "allowed_lateness must be positive"));
  const std::string interval = absl::StrCat(kHead, "evaluation_interval: -10s\n");
  EXPECT_TRUE(HasError(interval, "evaluation_interval", LineOf(interval, "evaluation_interval"),
                       "evaluation_interval must be positive"));
}

TEST(PolicyErrorsTest, DefaultsMustFitTheEvaluationInterval) {
  const std::string yaml = absl::StrCat(kHead, "evaluation_interval: 7s\n");
  EXPECT_TRUE(HasError(yaml, "evaluation_interval", LineOf(yaml, "evaluation_interval"),
                       "the default window 5m is not a multiple of evaluation_interval 7s"));
  EXPECT_TRUE(HasError(yaml, "evaluation_interval", LineOf(yaml, "evaluation_interval"),
                       "the default allowed_lateness 2m is not a multiple"));
}

// Each line keeps a bucket per interval over its longest window and the
// lateness: a typo that would need millions (gigabytes per line) is an
// error naming the field.
TEST(PolicyErrorsTest, TooFineAnEvaluationIntervalForTheWindowsIsAnError) {
  const std::string yaml = absl::StrCat(kHead, "evaluation_interval: 1ms\n");
  EXPECT_TRUE(HasError(yaml, "evaluation_interval", LineOf(yaml, "evaluation_interval"),
                       "evaluation_interval 1ms is too fine for window 1h plus allowed_lateness "
                       "2m: 3720000 buckets per line, at most 100000"));
  // A second over a day's window is still allowed.
  const std::string day =
      absl::StrCat(kHead, "evaluation_interval: 1s\nwindows: [15m, 24h]\nallowed_lateness: 2m\n");
  EXPECT_THAT(ErrorLines(day), ::testing::IsEmpty());
}

// --- Opening hours ------------------------------------------------------------

constexpr char kHours[] = R"(teams: {}
lines:
  revenues:
    opening_hours:
      timezone: Europe/London
      weekly:
        - days: [mon, tue, wed]
          open: "08:30"
          close: "17:30"
)";

std::string WithHours(absl::string_view from, absl::string_view to) {
  return absl::StrReplaceAll(kHours, {{from, to}});
}

TEST(PolicyErrorsTest, HoursBaseIsValid) {
  absl::StatusOr<CompiledPolicy> policy = LoadPolicyYaml(kHours, "t.yaml");
  ASSERT_TRUE(policy.ok()) << policy.status();
}

TEST(PolicyErrorsTest, UnknownTimeZone) {
  const std::string yaml = WithHours("Europe/London", "Europe/Londn");
  EXPECT_TRUE(HasError(yaml, "lines.revenues.opening_hours.timezone", 5,
                       "unknown time zone 'Europe/Londn'; use an IANA zone name"));
  // Never the process's own zone.
  EXPECT_TRUE(HasError(WithHours("Europe/London", "localtime"),
                       "lines.revenues.opening_hours.timezone", 5, "unknown time zone"));
}

TEST(PolicyErrorsTest, BadClockTimes) {
  const std::string yaml = WithHours("\"08:30\"", "\"8.30\"");
  EXPECT_TRUE(HasError(yaml, "lines.revenues.opening_hours.weekly[0].open", 8,
                       "open: '8.30' is not a time of day; write \"HH:MM\""));
  const std::string late = WithHours("\"17:30\"", "\"25:00\"");
  EXPECT_TRUE(HasError(late, "lines.revenues.opening_hours.weekly[0].close", 9,
                       "close: '25:00' is not a time of day"));
  const std::string minutes = WithHours("\"17:30\"", "\"17:60\"");
  EXPECT_TRUE(
      HasError(minutes, "lines.revenues.opening_hours.weekly[0].close", 9, "is not a time of day"));
  // "24:00" closes at midnight.
  ASSERT_TRUE(LoadPolicyYaml(WithHours("\"17:30\"", "\"24:00\""), "t.yaml").ok());
}

TEST(PolicyErrorsTest, CloseMustBeAfterOpen) {
  const std::string yaml = WithHours("\"17:30\"", "\"08:00\"");
  EXPECT_TRUE(HasError(yaml, "lines.revenues.opening_hours.weekly[0].close", 9,
                       "close 08:00 is not after open 08:30"));
  const std::string same = WithHours("\"17:30\"", "\"08:30\"");
  EXPECT_TRUE(HasError(same, "lines.revenues.opening_hours.weekly[0].close", 9,
                       "close 08:30 is not after open 08:30"));
}

TEST(PolicyErrorsTest, UnknownDayNames) {
  const std::string yaml = WithHours("[mon, tue, wed]", "[mon, tues, wed, funday]");
  EXPECT_TRUE(HasError(yaml, "lines.revenues.opening_hours.weekly[0].days[1]", 7,
                       "unknown day 'tues'; use mon, tue, wed, thu, fri, sat, sun"));
  EXPECT_TRUE(
      HasError(yaml, "lines.revenues.opening_hours.weekly[0].days[3]", 7, "unknown day 'funday'"));
  const std::string none = WithHours("[mon, tue, wed]", "[]");
  EXPECT_TRUE(
      HasError(none, "lines.revenues.opening_hours.weekly[0].days", 7, "a session needs days"));
}

TEST(PolicyErrorsTest, OpeningHoursNeedSessionsOrAlways) {
  const std::string yaml = R"(lines:
  revenues:
    opening_hours: {timezone: Europe/Paris}
)";
  EXPECT_TRUE(
      HasError(yaml, "lines.revenues.opening_hours", 3, "opening hours need `weekly:` sessions"));
}

// --- Lines and other settings ---------------------------------------------

TEST(PolicyErrorsTest, NoLines) {
  const std::string yaml = R"(name: empty
teams: {}
)";
  EXPECT_TRUE(HasError(yaml, "lines", 1, "the policy defines no lines"));
  EXPECT_TRUE(HasError("", "lines", 1, "the policy defines no lines"));
  EXPECT_TRUE(HasError("# only a comment\n", "lines", 1, "the policy defines no lines"));
  EXPECT_TRUE(HasError("lines: {}\n", "lines", 1, "the policy defines no lines"));
}

TEST(PolicyErrorsTest, LineSettingsMustBePositive) {
  const std::string yaml = absl::StrCat(kHead, R"(    feed_stale_after: 0s
    targets:
      answer_within: 0s
      short_abandon: -1s
)");
  EXPECT_TRUE(HasError(yaml, "lines.revenues.feed_stale_after", LineOf(yaml, "feed_stale_after"),
                       "feed_stale_after must be positive"));
  EXPECT_TRUE(HasError(yaml, "lines.revenues.targets.answer_within", LineOf(yaml, "answer_within"),
                       "answer_within must be positive"));
  EXPECT_TRUE(HasError(yaml, "lines.revenues.targets.short_abandon", LineOf(yaml, "short_abandon"),
                       "short_abandon must be zero or more"));
}

// --- Many errors at once -----------------------------------------------------

TEST(PolicyErrorsTest, AllErrorsAreReportedTogetherInLineOrder) {
  const std::string yaml = absl::StrCat(kHead, R"(defaults:
  opening_hours:
    timezone: Mars/Olympus_Mons
    weekly: [{days: [mon], open: "09:00", close: "17:00"}]
  tiers:
    - level: 1
      enter:
        any:
          - {metric: avg_wait, window: 15m, above: 180s}
      sustain: -1m
      exit:
        all:
          - {metric: avg_wait, window: 15m, below: 200s}
      callups:
        - {team: ghosts, headcount: 0, duration: 1h}
      colour: red
)");
  const std::vector<std::string> errors = ErrorLines(yaml);
  ASSERT_THAT(errors, SizeIs(6)) << absl::StrJoin(errors, "\n");
  EXPECT_TRUE(HasError(yaml, "defaults.opening_hours.timezone", LineOf(yaml, "Mars"), "unknown"));
  EXPECT_TRUE(HasError(yaml, "defaults.tiers[0].sustain", LineOf(yaml, "sustain"), "negative"));
  EXPECT_TRUE(HasError(yaml, "defaults.tiers[0].exit.all[0].below", LineOf(yaml, "below: 200s"),
                       "not below"));
  EXPECT_TRUE(
      HasError(yaml, "defaults.tiers[0].callups[0].team", LineOf(yaml, "ghosts"), "unknown team"));
  EXPECT_TRUE(HasError(yaml, "defaults.tiers[0].callups[0].headcount", LineOf(yaml, "ghosts"),
                       "at least 1"));
  EXPECT_TRUE(HasError(yaml, "defaults.tiers[0].colour", LineOf(yaml, "colour"), "unknown key"));
  // One per line, ordered by position.
  int previous = 0;
  for (const std::string& e : errors) {
    const int line = std::stoi(e.substr(e.find(':') + 1));
    EXPECT_LE(previous, line) << e;
    previous = line;
  }
}

TEST(PolicyErrorsTest, TooManyErrorsAreCapped) {
  std::string yaml = "lines: {x: {}}\nwindows:\n";
  for (int i = 0; i < 300; ++i) absl::StrAppend(&yaml, "  - ", i + 1, "\n");
  const std::vector<std::string> errors = ErrorLines(yaml);
  ASSERT_THAT(errors, SizeIs(101));
  EXPECT_THAT(errors.back(), HasSubstr("and 200 more errors not shown"));
}

}  // namespace
}  // namespace tidewatch::policy
