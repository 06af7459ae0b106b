// Defaults when keys are absent, and how a line's settings override the
// policy's defaults.
#include <string>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "policy/policy.h"

namespace tidewatch::policy {
namespace {

using ::testing::ElementsAre;
using ::testing::SizeIs;

CompiledPolicy MustLoad(const std::string& yaml) {
  absl::StatusOr<CompiledPolicy> policy = LoadPolicyYaml(yaml, "merge.yaml");
  EXPECT_TRUE(policy.ok()) << policy.status();
  return policy.ok() ? *std::move(policy) : CompiledPolicy();
}

TEST(PolicyMergeTest, BuiltInDefaults) {
  const CompiledPolicy policy = MustLoad("lines:\n  revenues:\n");
  EXPECT_EQ(policy.name, "");
  EXPECT_THAT(policy.windows, ElementsAre(absl::Minutes(5), absl::Minutes(15), absl::Minutes(60)));
  EXPECT_EQ(policy.allowed_lateness, absl::Minutes(2));
  EXPECT_EQ(policy.evaluation_interval, absl::Seconds(10));
  EXPECT_TRUE(policy.teams.empty());

  const LinePolicy* line = policy.FindLine("revenues");
  ASSERT_NE(line, nullptr);
  EXPECT_EQ(line->display_name, "revenues");
  EXPECT_EQ(line->targets.answer_within, absl::Seconds(180));
  EXPECT_EQ(line->targets.short_abandon, absl::Seconds(5));
  EXPECT_EQ(line->targets.avg_wait, absl::Seconds(180));
  EXPECT_DOUBLE_EQ(line->targets.abandon_rate, 0.10);
  EXPECT_DOUBLE_EQ(line->targets.answer_rate, 0.90);
  EXPECT_DOUBLE_EQ(line->targets.service_level, 0.80);
  EXPECT_EQ(line->feed_stale_after, absl::Minutes(5));
  EXPECT_EQ(line->default_handle_time, absl::Seconds(300));
  EXPECT_TRUE(line->tiers.empty());
  EXPECT_EQ(line->hours.zone_name, "Europe/London");
  EXPECT_FALSE(line->hours.always);
  ASSERT_THAT(line->hours.weekly, SizeIs(1));
  EXPECT_EQ(line->hours.weekly[0].days.size(), 5u);
  EXPECT_EQ(line->hours.weekly[0].open_minute, 510);
  EXPECT_EQ(line->hours.weekly[0].close_minute, 1050);
}

TEST(PolicyMergeTest, WindowsAreSortedAndTimingIsRead) {
  const CompiledPolicy policy = MustLoad(R"(windows: [60m, 1m, 30m]
allowed_lateness: 30s
evaluation_interval: 5s
lines: {a: {}}
)");
  EXPECT_THAT(policy.windows, ElementsAre(absl::Minutes(1), absl::Minutes(30), absl::Minutes(60)));
  EXPECT_EQ(policy.allowed_lateness, absl::Seconds(30));
  EXPECT_EQ(policy.evaluation_interval, absl::Seconds(5));
}

constexpr char kPolicy[] = R"(name: merge
teams:
  shared-bo: {}
  own-bo: {}
  managers: {max_headcount: 3}
  bank: {}
defaults:
  display_name: A line
  targets: {avg_wait: 200s, abandon_rate: 12%}
  feed_stale_after: 10m
  default_handle_time: 4m
  opening_hours:
    timezone: Europe/Dublin
    weekly: [{days: [mon], open: "09:00", close: "12:00"}]
  roles: {back_office: shared-bo, managers: managers}
  tiers:
    - level: 1
      name: Default one
      enter: {any: [{metric: calls_waiting, above: 10}]}
      exit: {all: [{metric: calls_waiting, below: 5}]}
      callups:
        - {role: back_office, headcount: 2, duration: 1h}
        - {role: managers, headcount: gap, max_headcount: 2, duration: 30m}
lines:
  plain: {}
  custom:
    display_name: Custom line
    targets: {avg_wait: 60s, service_level: 0.9}
    feed_stale_after: 1m
    opening_hours: {always: true}
    roles: {back_office: own-bo}
  own-tiers:
    tiers:
      - level: 1
        name: Own one
        enter: {all: [{metric: capacity_gap, above: -1}, {metric: predicted_wait, above: 5m}]}
        exit: {any: [{metric: capacity_gap, below: -3}]}
        callups: [{team: bank, headcount: 1, duration: 90m}]
      - level: 2
        enter: {any: [{metric: offered, window: 15m, above: 100}]}
        exit: {any: [{metric: offered, window: 15m, below: 50}]}
        callups: [{role: back_office, headcount: 1, duration: 1h}]
)";

TEST(PolicyMergeTest, LineWithoutOverridesTakesTheDefaults) {
  const CompiledPolicy policy = MustLoad(kPolicy);
  const LinePolicy* line = policy.FindLine("plain");
  ASSERT_NE(line, nullptr);
  EXPECT_EQ(line->display_name, "A line");
  EXPECT_EQ(line->targets.avg_wait, absl::Seconds(200));
  EXPECT_DOUBLE_EQ(line->targets.abandon_rate, 0.12);
  EXPECT_EQ(line->targets.answer_within, absl::Seconds(180));  // built-in
  EXPECT_EQ(line->feed_stale_after, absl::Minutes(10));
  EXPECT_EQ(line->default_handle_time, absl::Minutes(4));
  EXPECT_EQ(line->hours.zone_name, "Europe/Dublin");
  ASSERT_THAT(line->tiers, SizeIs(1));
  EXPECT_EQ(line->tiers[0].name, "Default one");
  ASSERT_THAT(line->tiers[0].callups, SizeIs(2));
  EXPECT_EQ(line->tiers[0].callups[0].team_id, "shared-bo");
  EXPECT_EQ(line->tiers[0].callups[1].team_id, "managers");
  EXPECT_TRUE(line->tiers[0].callups[1].headcount_from_gap);
  EXPECT_EQ(line->tiers[0].callups[1].max_headcount, 2);
  EXPECT_EQ(line->tiers[0].callups[1].duration, absl::Minutes(30));
}

TEST(PolicyMergeTest, LineOverridesFieldByField) {
  const CompiledPolicy policy = MustLoad(kPolicy);
  const LinePolicy* line = policy.FindLine("custom");
  ASSERT_NE(line, nullptr);
  EXPECT_EQ(line->display_name, "Custom line");
  EXPECT_EQ(line->targets.avg_wait, absl::Seconds(60));    // line
  EXPECT_DOUBLE_EQ(line->targets.service_level, 0.9);      // line
  EXPECT_DOUBLE_EQ(line->targets.abandon_rate, 0.12);      // defaults
  EXPECT_DOUBLE_EQ(line->targets.answer_rate, 0.90);       // built-in
  EXPECT_EQ(line->feed_stale_after, absl::Minutes(1));     // line
  EXPECT_EQ(line->default_handle_time, absl::Minutes(4));  // defaults
  // Opening hours replaced whole: always open, the default zone.
  EXPECT_TRUE(line->hours.always);
  EXPECT_TRUE(line->hours.weekly.empty());
  EXPECT_EQ(line->hours.zone_name, "Europe/London");
  // Roles merged, the line's winning; tiers from defaults.
  ASSERT_THAT(line->tiers, SizeIs(1));
  EXPECT_EQ(line->tiers[0].callups[0].team_id, "own-bo");
  EXPECT_EQ(line->tiers[0].callups[1].team_id, "managers");
}

TEST(PolicyMergeTest, LineTiersReplaceTheDefaultsWhole) {
  const CompiledPolicy policy = MustLoad(kPolicy);
  const LinePolicy* line = policy.FindLine("own-tiers");
  ASSERT_NE(line, nullptr);
  ASSERT_THAT(line->tiers, SizeIs(2));
  EXPECT_EQ(line->tiers[0].name, "Own one");
  EXPECT_EQ(line->tiers[1].name, "Tier 2");  // unnamed
  EXPECT_TRUE(line->tiers[0].enter.all);
  EXPECT_FALSE(line->tiers[0].exit.all);
  // capacity_gap may be negative; predicted_wait is live, in seconds.
  EXPECT_DOUBLE_EQ(line->tiers[0].enter.clauses[0].threshold, -1);
  EXPECT_EQ(line->tiers[0].enter.clauses[1].metric, v1::METRIC_PREDICTED_WAIT);
  EXPECT_DOUBLE_EQ(line->tiers[0].enter.clauses[1].threshold, 300);
  EXPECT_EQ(line->tiers[0].enter.clauses[1].window, absl::ZeroDuration());
  ASSERT_THAT(line->tiers[0].callups, SizeIs(1));
  EXPECT_EQ(line->tiers[0].callups[0].team_id, "bank");
  EXPECT_EQ(line->tiers[0].callups[0].duration, absl::Minutes(90));
  // A role in the line's own tiers resolves through the merged roles.
  EXPECT_EQ(line->tiers[1].callups[0].team_id, "shared-bo");
  EXPECT_EQ(line->tiers[1].enter.clauses[0].window, absl::Minutes(15));
}

TEST(PolicyMergeTest, SourceIsKept) {
  const CompiledPolicy policy = MustLoad(kPolicy);
  EXPECT_EQ(policy.source.name(), "merge");
  EXPECT_EQ(policy.source.lines_size(), 3);
  EXPECT_EQ(policy.source.defaults().tiers(0).callups(1).gap(), true);
}

TEST(PolicyMergeTest, ParsePolicyYamlMapsWithoutSemanticChecks) {
  v1::Policy proto;
  // Schema-valid but semantically wrong (no lines, exit above enter).
  ASSERT_TRUE(ParsePolicyYaml(R"(defaults:
  tiers:
    - level: 7
      enter: {any: [{metric: avg_wait, window: 15m, above: 1m}]}
      exit: {all: [{metric: avg_wait, window: 15m, below: 2m}]}
)",
                              "p.yaml", &proto, nullptr)
                  .ok());
  const v1::Clause& clause = proto.defaults().tiers(0).exit().clauses(0);
  EXPECT_EQ(proto.defaults().tiers(0).exit().combine(), v1::Condition::COMBINE_ALL);
  EXPECT_EQ(clause.metric(), v1::METRIC_AVG_WAIT);
  EXPECT_EQ(clause.comparison(), v1::Clause::COMPARISON_BELOW);
  EXPECT_DOUBLE_EQ(clause.threshold(), 120);
  EXPECT_EQ(clause.window().seconds(), 900);

  std::vector<PolicyError> errors;
  EXPECT_FALSE(ParsePolicyYaml("bogus: 1\n", "p.yaml", &proto, &errors).ok());
  ASSERT_THAT(errors, SizeIs(1));
  EXPECT_EQ(errors[0].path, "bogus");
}

// ConditionKey (saved with a line's tide state) tells conditions apart by
// every field, thresholds to the last digit, and is stable text.
TEST(PolicyMergeTest, ConditionKeysTellConditionsApart) {
  Condition c;
  c.all = true;
  c.clauses.push_back({tidewatch::v1::METRIC_AVG_WAIT, absl::Minutes(15), true, 180});
  c.clauses.push_back({tidewatch::v1::METRIC_CALLS_WAITING, absl::ZeroDuration(), false, 3});
  EXPECT_EQ(ConditionKey(c), "all: avg_wait#" + std::to_string(tidewatch::v1::METRIC_AVG_WAIT) +
                                 " 900000000000ns > 180; calls_waiting#" +
                                 std::to_string(tidewatch::v1::METRIC_CALLS_WAITING) + " 0ns < 3");
  EXPECT_EQ(ConditionKey(c), ConditionKey(Condition(c)));
  std::vector<Condition> others(6, c);
  others[0].all = false;
  others[1].clauses[0].threshold = 180.000000000001;
  others[2].clauses[0].window = absl::Minutes(15) + absl::Nanoseconds(1);
  others[3].clauses[1].above = true;
  others[4].clauses[0].metric = tidewatch::v1::METRIC_ABANDON_RATE;
  others[5].clauses.pop_back();
  for (const Condition& other : others) {
    EXPECT_NE(ConditionKey(other), ConditionKey(c)) << ConditionKey(other);
  }
  EXPECT_EQ(ConditionKey(Condition{}), "any:");
}

}  // namespace
}  // namespace tidewatch::policy
