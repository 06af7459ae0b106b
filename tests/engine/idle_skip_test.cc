// Skipping idle lines (EngineOptions::skip_idle_lines) is an optimisation
// only: over days of simulated traffic with quiet nights, closed hours and
// a late-night trickle, every escalation and every KPI snapshot is the same
// with it on and off.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/engine.h"
#include "gtest/gtest.h"
#include "policy/policy.h"
#include "sim/event_sink.h"
#include "sim/scenario.h"
#include "sim/simulator.h"
#include "test_util.h"

namespace tidewatch::engine {
namespace {

// Everything the engine says, serialised in order.
class TranscriptOutput : public EngineOutput {
 public:
  void OnEscalation(const tidewatch::v1::Escalation& e) override {
    lines.push_back(e.SerializeAsString());
    if (e.has_tide_change()) ++changes;
  }
  void OnTideChange(const tidewatch::v1::TideChange&) override {}
  void OnCallUp(const tidewatch::v1::CallUp&) override {}
  void OnSnapshot(const tidewatch::v1::KpiSnapshot& s) override {
    lines.push_back(s.SerializeAsString());
    ++snapshots;
  }
  std::vector<std::string> lines;
  int changes = 0;
  int snapshots = 0;
};

std::vector<tidewatch::v1::CallEvent> Days(const std::string& scenario_file, int days) {
  absl::StatusOr<sim::Scenario> scenario = sim::LoadScenarioFile(
      std::string(TIDEWATCH_SOURCE_DIR) + "/deploy/scenarios/" + scenario_file);
  EXPECT_TRUE(scenario.ok()) << scenario.status();
  std::vector<tidewatch::v1::CallEvent> out;
  for (int day = 0; day < days; ++day) {
    sim::CollectingSink sink;
    sim::SimOptions o;
    o.seed = 40 + day;
    o.start_date = absl::CivilDay(2022, 10, 3) + 7 * day;
    EXPECT_TRUE(sim::Simulate(*scenario, o, sink).ok());
    out.insert(out.end(), sink.events().begin(), sink.events().end());
  }
  return out;
}

void ExpectSameWithAndWithoutSkipping(const std::vector<tidewatch::v1::CallEvent>& events,
                                      const std::string& policy_yaml) {
  auto policy = tidewatch::testing::MustLoad(policy_yaml);
  ASSERT_NE(policy, nullptr);
  TranscriptOutput skipping, evaluating;
  EngineOptions on;
  on.snapshot_every = absl::Minutes(15);
  EngineOptions off = on;
  off.skip_idle_lines = false;
  Engine a(policy, on, &skipping);
  Engine b(policy, off, &evaluating);
  for (const auto& e : events) {
    EXPECT_EQ(a.Apply(e), b.Apply(e));
  }
  // A quiet stretch with ticks only, then one more event.
  const absl::Time end = a.now();
  a.AdvanceTo(end + absl::Hours(30));
  b.AdvanceTo(end + absl::Hours(30));
  a.Finish();
  b.Finish();
  EXPECT_GT(evaluating.changes, 0);
  EXPECT_GT(evaluating.snapshots, 100);
  ASSERT_EQ(skipping.lines.size(), evaluating.lines.size());
  for (size_t i = 0; i < skipping.lines.size(); ++i) {
    ASSERT_EQ(skipping.lines[i], evaluating.lines[i]) << "first difference at output " << i;
  }
  for (const std::string& line : a.LineIds()) {
    EXPECT_EQ(a.Tide(line).level, b.Tide(line).level);
    EXPECT_EQ(a.FindLine(line)->totals().counters.offered,
              b.FindLine(line)->totals().counters.offered);
  }
}

TEST(IdleSkipTest, SummonsMondaysGiveTheSameOutputs) {
  ExpectSameWithAndWithoutSkipping(Days("council-tax-summons.yaml", 3),
                                   std::string(policy::DefaultPolicyYaml()));
}

// A tier on "fewer than 0.5 calls a minute", which holds on a silent line.
std::string QuietAlarmPolicy(const std::string& opening_hours) {
  return absl::StrCat(R"(
name: quiet alarm
windows: [5m, 15m]
allowed_lateness: 2m
evaluation_interval: 10s
defaults:
  opening_hours: )",
                      opening_hours, R"(
  tiers:
    - level: 1
      name: suspiciously quiet
      enter: {any: [{metric: arrivals_per_minute, window: 15m, below: 0.5}]}
      sustain: 30m
      exit: {all: [{metric: arrivals_per_minute, window: 15m, above: 1}]}
      min_hold: 5m
      callups: []
teams: {}
lines:
  revenues: {}
  waste: {}
  council-tax: {}
  housing: {}
)");
}

TEST(IdleSkipTest, AConditionThatHoldsOnAnEmptyLineKeepsItEvaluated) {
  // It must rise at night on an always-open line, skipping or not, even
  // though the line falls silent (quiescent) before the 30m sustain passed.
  ExpectSameWithAndWithoutSkipping(Days("normal-monday.yaml", 2),
                                   QuietAlarmPolicy("{always: true}"));
}

TEST(IdleSkipTest, AClosedLineWhoseConditionWouldHoldIsNotSkipped) {
  // Closed overnight, its condition holds the moment it opens in the
  // morning, before the first call: it must rise 30m after opening.
  ExpectSameWithAndWithoutSkipping(
      Days("normal-monday.yaml", 2),
      QuietAlarmPolicy("{timezone: Europe/London, weekly: [{days: [mon, tue, wed, thu, fri, "
                       "sat, sun], open: \"06:00\", close: \"20:00\"}]}"));
}

}  // namespace
}  // namespace tidewatch::engine
