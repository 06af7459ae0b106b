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

// Two engines on one policy, one skipping idle lines (a) and one evaluating
// every instant (b), each writing its transcript.
struct SkippingAndEvaluating {
  SkippingAndEvaluating(const std::shared_ptr<const policy::CompiledPolicy>& policy,
                        absl::Duration snapshot_every)
      : a(policy, Options(snapshot_every, true), &skipping),
        b(policy, Options(snapshot_every, false), &evaluating) {}
  static EngineOptions Options(absl::Duration snapshot_every, bool skip) {
    EngineOptions o;
    o.snapshot_every = snapshot_every;
    o.skip_idle_lines = skip;
    return o;
  }
  TranscriptOutput skipping, evaluating;
  Engine a, b;
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
  SkippingAndEvaluating pair(policy, absl::Minutes(15));
  auto& [skipping, evaluating, a, b] = pair;
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

// While every line is idle the engine jumps over instants; the dedupe
// set's generations must still rotate at the instants they would have.
// Ids re-delivered after quiet gaps around one and two horizons (62 min:
// the 60m window plus the 2m lateness) must be told apart the same way.
TEST(IdleSkipTest, DuplicatesAfterQuietGapsSameAsEvaluatingEveryInstant) {
  auto policy = tidewatch::testing::MustLoad(std::string(policy::DefaultPolicyYaml()));
  ASSERT_NE(policy, nullptr);
  SkippingAndEvaluating pair(policy, EngineOptions{}.snapshot_every);
  auto& [skipping, evaluating, a, b] = pair;
  tidewatch::testing::EventBuilder events("revenues");
  // A Sunday: the line is closed, so it idles as soon as it is quiescent.
  absl::Time t = absl::FromCivil(absl::CivilSecond(2022, 10, 2, 9, 0, 3), absl::UTCTimeZone());
  std::vector<tidewatch::v1::CallEvent> sent;
  int duplicates = 0;
  for (absl::Duration gap : {absl::Minutes(61), absl::Minutes(63), absl::Minutes(125),
                             absl::Minutes(62) + absl::Seconds(5), absl::Minutes(200),
                             absl::Minutes(30), absl::Minutes(95)}) {
    for (int i = 0; i < 3; ++i) {
      const std::string call = absl::StrCat("c", sent.size());
      const tidewatch::v1::CallEvent q = events.Queued(call, t);
      ASSERT_EQ(a.Apply(q), b.Apply(q));
      // Outcomes carry their wait: re-applied, they open no call.
      const tidewatch::v1::CallEvent e =
          events.Answered(call, t + absl::Seconds(5), absl::Seconds(5));
      sent.push_back(e);
      ASSERT_EQ(a.Apply(e), b.Apply(e));
      t += absl::Seconds(7);
    }
    t += gap;
    // Every outcome sent so far, again, stamped now.
    for (tidewatch::v1::CallEvent again : sent) {
      tidewatch::testing::SetTime(t, again.mutable_event_time());
      const EventOutcome outcome = a.Apply(again);
      ASSERT_EQ(outcome, b.Apply(again)) << again.event_id() << " after " << gap;
      if (outcome == EventOutcome::kDuplicate) ++duplicates;
    }
  }
  a.Finish();
  b.Finish();
  EXPECT_GT(duplicates, 0);
  EXPECT_EQ(a.SetAsideCounts(), b.SetAsideCounts());
  EXPECT_EQ(skipping.lines, evaluating.lines);
}

// Snapshots fall due while every line idles: the skipped engine must stop
// at each one (the transcripts include them).
TEST(IdleSkipTest, SnapshotsDueDuringAQuietStretchAreTaken) {
  auto policy = tidewatch::testing::MustLoad(std::string(policy::DefaultPolicyYaml()));
  ASSERT_NE(policy, nullptr);
  SkippingAndEvaluating pair(policy, absl::Minutes(15));
  auto& [skipping, evaluating, a, b] = pair;
  tidewatch::testing::EventBuilder events("waste");
  absl::Time t = absl::FromCivil(absl::CivilSecond(2022, 10, 2, 9, 0, 3), absl::UTCTimeZone());
  for (int i = 0; i < 5; ++i) {
    auto q = events.Queued(absl::StrCat("c", i), t);
    auto ans = events.Answered(absl::StrCat("c", i), t + absl::Seconds(40));
    a.Apply(q);
    b.Apply(q);
    a.Apply(ans);
    b.Apply(ans);
    // Quiet for a while, then ticks only (AdvanceTo), then the next call.
    a.AdvanceTo(t + absl::Minutes(47) + absl::Seconds(i));
    b.AdvanceTo(t + absl::Minutes(47) + absl::Seconds(i));
    t += absl::Hours(3) + absl::Seconds(13);
  }
  a.Finish();
  b.Finish();
  EXPECT_EQ(a.now(), b.now());
  EXPECT_GT(evaluating.snapshots, 100);
  EXPECT_EQ(skipping.lines, evaluating.lines);
}

// The engine remembers the last event's line to skip hashing its id; a
// policy that drops that line must not leave the engine applying to it.
TEST(EngineLineLookupTest, ALineDroppedByThePolicyIsUnknownAfterwards) {
  auto policy = tidewatch::testing::MustLoad(std::string(policy::DefaultPolicyYaml()));
  ASSERT_NE(policy, nullptr);
  TranscriptOutput out;
  Engine engine(policy, EngineOptions{}, &out);
  tidewatch::testing::EventBuilder revenues("revenues");
  tidewatch::testing::EventBuilder waste("waste");
  const absl::Time t = absl::FromUnixSeconds(1664787600);  // Monday 09:00 UTC
  EXPECT_EQ(engine.Apply(revenues.Queued("r1", t)), EventOutcome::kApplied);
  EXPECT_EQ(engine.Apply(revenues.Queued("r2", t + absl::Seconds(1))), EventOutcome::kApplied);
  EXPECT_EQ(engine.Apply(waste.Queued("w1", t + absl::Seconds(2))), EventOutcome::kApplied);
  EXPECT_EQ(engine.Apply(revenues.Queued("r3", t + absl::Seconds(3))), EventOutcome::kApplied);
  std::string yaml(policy::DefaultPolicyYaml());
  const size_t at = yaml.find("\n  revenues:");
  ASSERT_NE(at, std::string::npos);
  const size_t end = yaml.find("\n  council-tax:", at);
  ASSERT_NE(end, std::string::npos);
  yaml.erase(at, end - at);
  ASSERT_TRUE(engine.ReplacePolicy(tidewatch::testing::MustLoad(yaml), 2).ok());
  EXPECT_EQ(engine.Apply(revenues.Queued("r4", t + absl::Seconds(4))), EventOutcome::kUnknownLine);
  EXPECT_EQ(engine.Apply(waste.Queued("w2", t + absl::Seconds(5))), EventOutcome::kApplied);
  EXPECT_EQ(engine.FindLine("revenues"), nullptr);
  EXPECT_EQ(engine.FindLine("waste")->calls_waiting(), 2);
}

}  // namespace
}  // namespace tidewatch::engine
