// Issue 4, acceptance 3: on the simulator's stationary Erlang A scenario
// (lambda 360/h, handle 240 s, patience 120 s, 24 agents), the engine's live
// per-line estimates converge to the scenario's parameters, and the agents
// needed from them match the formula.
#include <cmath>
#include <memory>
#include <string>

#include "capacity/erlang.h"
#include "engine/engine.h"
#include "gtest/gtest.h"
#include "line/capacity_estimate.h"
#include "policy/policy.h"
#include "sim/event_sink.h"
#include "sim/scenario.h"
#include "sim/simulator.h"

namespace tidewatch {
namespace {

class NullOutput : public engine::EngineOutput {
 public:
  void OnTideChange(const tidewatch::v1::TideChange&) override {}
  void OnCallUp(const tidewatch::v1::CallUp&) override {}
};

TEST(CapacityConvergenceTest, LiveEstimatesMatchTheStationaryScenario) {
  absl::StatusOr<sim::Scenario> scenario = sim::LoadScenarioFile(
      std::string(TIDEWATCH_SOURCE_DIR) + "/deploy/scenarios/stationary-erlang-a.yaml");
  ASSERT_TRUE(scenario.ok()) << scenario.status();
  absl::StatusOr<policy::CompiledPolicy> loaded =
      policy::LoadPolicyYaml(policy::DefaultPolicyYaml(), "default");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  auto policy = std::make_shared<const policy::CompiledPolicy>(*std::move(loaded));

  // 08:30 BST on 2022-10-03 is 07:30 UTC.
  const absl::Time open = absl::FromUnixSeconds(1664782200);
  double sum_rate = 0, sum_handle = 0, sum_patience = 0;
  int hourly = 0, needed_close = 0, with_patience = 0;
  double day_offered = 0, day_handle_ns = 0, day_completed = 0, day_waited_ns = 0,
         day_abandoned = 0;
  capacity::StaffingTarget target{0.8, 180, 0.1};
  const capacity::QueueParams truth{0.1, 240, 0, 120.0};
  const int true_needed = *capacity::AgentsNeeded(truth, target, 10000);

  // One day at 24 Erlangs on 24 agents varies a lot (long, correlated queue
  // excursions: P(abandon) moves ~15% day to day), so pool 20 days.
  constexpr int kDays = 20;
  for (uint64_t seed = 11; seed < 11 + kDays; ++seed) {
    sim::CollectingSink sink;
    sim::SimOptions options;
    options.seed = seed;
    ASSERT_TRUE(sim::Simulate(*scenario, options, sink).ok());
    NullOutput out;
    engine::EngineOptions eo;
    eo.capacity_window = absl::Minutes(60);
    engine::Engine engine(policy, eo, &out);
    size_t next = 0;
    const auto& events = sink.events();
    // Live estimates over the 60m window at every hour from 09:30 to 15:30 (16:30 is closing).
    for (int h = 1; h <= 7; ++h) {
      const absl::Time at = open + absl::Hours(h);
      while (next < events.size() &&
             events[next].event_time().seconds() <= absl::ToUnixSeconds(at)) {
        engine.Apply(events[next++]);
      }
      engine.AdvanceTo(at);
      const line::CapacityEstimate& est = engine.FindLine("revenues")->Capacity();
      ASSERT_TRUE(est.enough_data);
      EXPECT_EQ(est.staffed_agents, 24) << "hour " << h;
      sum_rate += est.arrivals_per_hour;
      sum_handle += est.mean_handle_seconds;
      // A calm hour can have fewer than kMinAbandoned abandons: no estimate.
      if (est.mean_patience_seconds) {
        sum_patience += *est.mean_patience_seconds;
        ++with_patience;
      }
      ++hourly;
      // Agents needed from the live figures is the formula applied to them.
      capacity::QueueParams p{est.arrivals_per_hour / 3600, est.mean_handle_seconds, 0,
                              est.mean_patience_seconds};
      EXPECT_EQ(*est.agents_needed, *capacity::AgentsNeeded(p, target, 10000));
      EXPECT_EQ(*est.gap, *est.agents_needed - est.staffed_agents);
      needed_close += std::abs(*est.agents_needed - true_needed) <= 2;
    }
    for (; next < events.size(); ++next) engine.Apply(events[next]);
    engine.Finish();
    const window::Counters& c = engine.FindLine("revenues")->totals().counters;
    day_offered += c.offered;
    day_handle_ns += c.sum_handle_ns;
    day_completed += c.completed;
    day_waited_ns += c.sum_wait_all_ns;
    day_abandoned += c.abandoned;
  }
  // Hour by hour (a 60-minute window holds ~360 calls, ~34 abandons).
  std::printf(
      "hourly means: %.1f calls/h, handle %.1fs, patience %.1fs; day: %.1f/h, %.1fs, %.1fs; needed "
      "%d\n",
      sum_rate / hourly, sum_handle / hourly, sum_patience / with_patience,
      day_offered / (kDays * 8.0), day_handle_ns / 1e9 / day_completed,
      day_waited_ns / 1e9 / day_abandoned, true_needed);
  // Hour by hour (a 60-minute window holds ~360 calls, ~34 abandons),
  // averaged over the days.
  EXPECT_NEAR(sum_rate / hourly, 360, 360 * 0.03);
  EXPECT_NEAR(sum_handle / hourly, 240, 240 * 0.03);
  EXPECT_NEAR(sum_patience / with_patience, 120, 120 * 0.10);
  EXPECT_GE(with_patience, hourly * 3 / 4);
  EXPECT_GE(needed_close, hourly * 3 / 4) << "true agents needed " << true_needed;
  // Over whole days, pooled: within a few percent.
  EXPECT_NEAR(day_offered / (kDays * 8.0), 360, 360 * 0.03);
  EXPECT_NEAR(day_handle_ns / 1e9 / day_completed, 240, 240 * 0.03);
  EXPECT_NEAR(day_waited_ns / 1e9 / day_abandoned, 120, 120 * 0.05);
}

}  // namespace
}  // namespace tidewatch
