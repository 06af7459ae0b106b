// Acceptance (3), automated: the council-tax-summons day replayed through
// tidewatch's own engine with the default policy. Revenues rises through at
// least two tiers before the scripted back-office help arrives and stands
// down to tier 0 within the hour after it; the engine sets nothing aside
// (no orphans, conflicts or duplicates: the stream is one the engine can
// follow call by call).
#include <memory>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "engine/engine.h"
#include "events/events.h"
#include "gtest/gtest.h"
#include "policy/policy.h"
#include "sim_test_util.h"

namespace tidewatch::sim {
namespace {

class Changes : public engine::EngineOutput {
 public:
  void OnTideChange(const tidewatch::v1::TideChange& c) override { changes.push_back(c); }
  void OnCallUp(const tidewatch::v1::CallUp&) override {}
  std::vector<tidewatch::v1::TideChange> changes;
};

absl::Time Utc(int hh, int mm) {
  return absl::FromCivil(absl::CivilSecond(2022, 10, 3, hh, mm, 0), absl::UTCTimeZone());
}

TEST(SimTideTest, SummonsDayRisesThroughTwoTiersAndStandsDownAfterHelp) {
  absl::StatusOr<policy::CompiledPolicy> compiled =
      policy::LoadPolicyYaml(policy::DefaultPolicyYaml(), "default.yaml");
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  auto shared = std::make_shared<const policy::CompiledPolicy>(*std::move(compiled));
  const Scenario scenario = testing::LoadOrDie("council-tax-summons.yaml");
  const absl::Time help = Utc(9, 20);  // 10:20 BST
  for (uint64_t seed : {1, 2, 3, 4}) {
    SCOPED_TRACE(seed);
    const testing::SimRun run = testing::RunScenario(scenario, seed);
    Changes out;
    engine::Engine engine(shared, engine::EngineOptions{}, &out);
    for (const auto& e : run.events) engine.Apply(e);
    engine.Finish();
    EXPECT_TRUE(engine.SetAsideCounts().empty());

    int level = 0, peak_before_help = 0;
    absl::Time calm_again = absl::InfiniteFuture();
    for (const auto& c : out.changes) {
      if (c.line_id() != "revenues") continue;
      const absl::Time t = absl::FromUnixSeconds(c.time().seconds());
      level = c.to_level();
      if (t < help) peak_before_help = std::max(peak_before_help, level);
      if (t >= help && level == 0 && calm_again == absl::InfiniteFuture()) calm_again = t;
    }
    EXPECT_GE(peak_before_help, 2);
    EXPECT_LT(calm_again, help + absl::Hours(1));
  }
}

// A reinforcement's agents become the headcount of a --respond-to
// acknowledgement, so the scenario limit must be the engine's.
static_assert(kMaxReinforcementAgents == engine::kMaxAcknowledgedHeadcount,
              "sim::kMaxReinforcementAgents must equal engine::kMaxAcknowledgedHeadcount");

}  // namespace
}  // namespace tidewatch::sim
