// The capacity model, live per line: estimates from the windows, the
// predicted_wait / capacity_gap metrics, and `headcount: gap` call-ups
// whose reason carries the gap and its inputs.
#include "capacity/erlang.h"
#include "engine/engine.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "line/capacity_estimate.h"
#include "test_util.h"

namespace tidewatch::engine {
namespace {

using ::testing::HasSubstr;
using tidewatch::testing::EventBuilder;
using tidewatch::testing::MustLoad;
using tidewatch::testing::RecordingOutput;

const absl::Time kT0 = absl::FromUnixSeconds(1664787600);  // Mon 10:00 BST

TEST(CapacityEstimateTest, EstimatesFromCounters) {
  window::WindowStats stats;
  stats.length = absl::Minutes(60);
  stats.counters.offered = 400;
  stats.counters.completed = 300;
  stats.counters.sum_handle_ns = 300 * int64_t{240} * 1000000000;
  stats.counters.answered = 320;
  stats.counters.abandoned = 40;
  stats.counters.sum_wait_all_ns = int64_t{4800} * 1000000000;  // 4800 s waited in all
  line::AgentCounts agents;
  agents.n[tidewatch::v1::AGENT_STATUS_AVAILABLE][tidewatch::v1::AGENT_ORIGIN_CSC] = 10;
  agents.n[tidewatch::v1::AGENT_STATUS_ON_CALL][tidewatch::v1::AGENT_ORIGIN_CSC] = 12;
  agents.n[tidewatch::v1::AGENT_STATUS_AWAY][tidewatch::v1::AGENT_ORIGIN_CSC] = 3;
  policy::LinePolicy lp;
  line::CapacityEstimate est = line::EstimateCapacity(stats, absl::Minutes(60), agents, lp);
  ASSERT_TRUE(est.enough_data);
  EXPECT_DOUBLE_EQ(est.arrivals_per_hour, 400);
  EXPECT_DOUBLE_EQ(est.mean_handle_seconds, 240);
  EXPECT_FALSE(est.handle_time_is_default);
  EXPECT_DOUBLE_EQ(*est.mean_patience_seconds, 120);  // 4800 s / 40 abandons
  EXPECT_EQ(est.staffed_agents, 22);                  // AWAY is not staffed

  capacity::QueueParams p{400.0 / 3600, 240, 22, 120.0};
  capacity::StaffingTarget target{0.8, 180, 0.1};
  EXPECT_EQ(*est.agents_needed, *capacity::AgentsNeeded(p, target, 10000));
  EXPECT_EQ(*est.gap, *est.agents_needed - 22);
  EXPECT_DOUBLE_EQ(*est.predicted_wait_seconds, capacity::Evaluate(p, 180)->mean_wait_seconds);
  EXPECT_THAT(est.Describe(), HasSubstr("400 calls/h, handle 240s, patience 120s"));
}

TEST(CapacityEstimateTest, TooLittleDataIsMarkedNotGuessed) {
  window::WindowStats stats;
  stats.counters.offered = 3;
  policy::LinePolicy lp;
  line::CapacityEstimate est =
      line::EstimateCapacity(stats, absl::Minutes(15), line::AgentCounts{}, lp);
  EXPECT_FALSE(est.enough_data);
  EXPECT_FALSE(est.agents_needed.has_value());
  EXPECT_FALSE(est.gap.has_value());
  EXPECT_FALSE(est.predicted_wait_seconds.has_value());
  EXPECT_TRUE(est.handle_time_is_default);
  EXPECT_DOUBLE_EQ(est.mean_handle_seconds, 300);  // the policy default
  EXPECT_THAT(est.Describe(), HasSubstr("too little data"));
}

constexpr char kPolicy[] = R"(
name: capacity test
windows: [15m, 60m]
defaults:
  opening_hours: {always: true}
  default_handle_time: 240s
  tiers:
    - level: 1
      name: short of people
      enter: {any: [{metric: capacity_gap, above: 2}]}
      sustain: 0s
      exit: {all: [{metric: capacity_gap, below: 1}]}
      min_hold: 5m
      callups: [{team: bo, headcount: gap, max_headcount: 50, duration: 1h}]
teams:
  bo: {ack_timeout: 5m, max_headcount: 40, rota: [{name: B, contact: b}]}
lines:
  revenues: {}
)";

// A call every `every_seconds` for 15 minutes from kT0, each answered
// `answered_after_seconds` after it was queued.
void QueueAndAnswer(Engine& engine, EventBuilder& b, int every_seconds,
                    int answered_after_seconds) {
  for (int s = 0; s < 15 * 60; s += every_seconds) {
    const std::string id = absl::StrCat("c", s);
    engine.Apply(b.Queued(id, kT0 + absl::Seconds(s)));
    engine.Apply(b.Answered(id, kT0 + absl::Seconds(s + answered_after_seconds)));
  }
}

TEST(CapacityIntegrationTest, GapCallUpCarriesTheComputedHeadcountAndInputs) {
  auto policy = MustLoad(kPolicy);
  ASSERT_NE(policy, nullptr);
  RecordingOutput out;
  Engine engine(policy, {}, &out);
  EventBuilder b("revenues");
  using namespace tidewatch::v1;
  for (int a = 0; a < 4; ++a) {
    engine.Apply(b.Agent(absl::StrCat("a", a), kT0 - absl::Minutes(1), AGENT_STATUS_AVAILABLE,
                         AGENT_ORIGIN_CSC));
  }
  // 8 calls a minute for 15 minutes, each answered after 60 s; handle time
  // defaults to 240 s (none completed): load 32 erlangs on 4 agents.
  QueueAndAnswer(engine, b, /*every_seconds=*/7, /*answered_after_seconds=*/60);
  engine.AdvanceTo(kT0 + absl::Minutes(16));
  ASSERT_FALSE(out.callups.empty());
  const CallUp& cu = out.callups.front();
  // What the model says at the instant the tier was entered.
  const absl::Time entered = absl::FromUnixSeconds(cu.created().seconds());
  ASSERT_FALSE(out.changes.empty());
  EXPECT_EQ(absl::FromUnixSeconds(out.changes.front().time().seconds()), entered);
  const std::string& reason = cu.reason();
  EXPECT_THAT(reason, HasSubstr("capacity gap "));
  EXPECT_THAT(reason, HasSubstr("staffed 4"));
  EXPECT_THAT(reason, HasSubstr("handle 240s (default)"));
  // Recompute the gap independently from the reason's own inputs.
  int gap = 0, needs = 0;
  double per_hour = 0;
  ASSERT_EQ(
      std::sscanf(reason.substr(reason.find("capacity gap")).c_str(),
                  "capacity gap %d (needs %d, staffed 4; %lf calls/h", &gap, &needs, &per_hour),
      3)
      << reason;
  EXPECT_EQ(cu.headcount(), gap);
  EXPECT_EQ(gap, needs - 4);
  capacity::QueueParams p{per_hour / 3600, 240, 0, std::nullopt};
  EXPECT_EQ(needs, *capacity::AgentsNeeded(p, capacity::StaffingTarget{0.8, 180, 0.1}, 10000));
  EXPECT_GT(gap, 2);
  EXPECT_LE(gap, 40);  // within the team's cap
}

// A version changing the handle time the model assumes is read at once,
// not after the estimate cached at the same instant.
TEST(CapacityIntegrationTest, ANewVersionsHandleTimeIsUsedAtTheSameInstant) {
  auto policy = MustLoad(kPolicy);
  ASSERT_NE(policy, nullptr);
  RecordingOutput out;
  Engine engine(policy, {}, &out);
  EventBuilder b("revenues");
  QueueAndAnswer(engine, b, /*every_seconds=*/7, /*answered_after_seconds=*/60);
  engine.AdvanceTo(kT0 + absl::Minutes(16));
  EXPECT_DOUBLE_EQ(engine.FindLine("revenues")->Capacity().mean_handle_seconds, 240);
  std::string slower = kPolicy;
  slower.replace(slower.find("default_handle_time: 240s"), 25, "default_handle_time: 600s");
  ASSERT_TRUE(engine.ReplacePolicy(MustLoad(slower), 2).ok());
  EXPECT_DOUBLE_EQ(engine.FindLine("revenues")->Capacity().mean_handle_seconds, 600);
}

TEST(CapacityIntegrationTest, HeadcountIsCappedByTheTeam) {
  std::string yaml = kPolicy;
  yaml.replace(yaml.find("max_headcount: 40"), 17, "max_headcount: 3");
  auto policy = MustLoad(yaml);
  ASSERT_NE(policy, nullptr);
  RecordingOutput out;
  Engine engine(policy, {}, &out);
  EventBuilder b("revenues");
  QueueAndAnswer(engine, b, /*every_seconds=*/5, /*answered_after_seconds=*/30);
  engine.AdvanceTo(kT0 + absl::Minutes(16));
  ASSERT_FALSE(out.callups.empty());
  EXPECT_EQ(out.callups.front().headcount(), 3);
  EXPECT_THAT(out.callups.front().reason(), HasSubstr("cap 3"));
}

// Extra snapshot windows (tidectl replay --windows) are kept alongside the
// policy's but never become the capacity window: the model reads the same
// window as tidewatchd, so a replay escalates as the live service would.
TEST(CapacityIntegrationTest, ExtraSnapshotWindowsDoNotMoveTheCapacityWindow) {
  // No 15m window: the capacity window is the policy's longest, 30m.
  std::string yaml = kPolicy;
  yaml.replace(yaml.find("windows: [15m, 60m]"), 19, "windows: [5m, 30m]");
  auto policy = MustLoad(yaml);
  ASSERT_NE(policy, nullptr);
  auto run = [&](std::vector<absl::Duration> extra) {
    RecordingOutput out;
    EngineOptions options;
    options.snapshot_windows = std::move(extra);
    Engine engine(policy, options, &out);
    EventBuilder b("revenues");
    for (int a = 0; a < 4; ++a) {
      engine.Apply(b.Agent(absl::StrCat("a", a), kT0 - absl::Minutes(1),
                           tidewatch::v1::AGENT_STATUS_AVAILABLE, tidewatch::v1::AGENT_ORIGIN_CSC));
    }
    QueueAndAnswer(engine, b, /*every_seconds=*/7, /*answered_after_seconds=*/60);
    engine.AdvanceTo(kT0 + absl::Minutes(16));
    EXPECT_EQ(engine.FindLine("revenues")->Capacity().window, absl::Minutes(30));
    return out;
  };
  const RecordingOutput plain = run({});
  const RecordingOutput with_4h = run({absl::Hours(4)});
  const RecordingOutput with_15m = run({absl::Minutes(15)});
  ASSERT_FALSE(plain.callups.empty());  // the surge escalates on capacity_gap
  for (const RecordingOutput* other : {&with_4h, &with_15m}) {
    ASSERT_EQ(other->changes.size(), plain.changes.size());
    for (size_t i = 0; i < plain.changes.size(); ++i) {
      EXPECT_TRUE(
          google::protobuf::util::MessageDifferencer::Equals(other->changes[i], plain.changes[i]))
          << other->changes[i].DebugString() << "\nvs\n"
          << plain.changes[i].DebugString();
    }
    ASSERT_EQ(other->callups.size(), plain.callups.size());
    for (size_t i = 0; i < plain.callups.size(); ++i) {
      EXPECT_TRUE(
          google::protobuf::util::MessageDifferencer::Equals(other->callups[i], plain.callups[i]))
          << other->callups[i].DebugString() << "\nvs\n"
          << plain.callups[i].DebugString();
    }
  }
}

}  // namespace
}  // namespace tidewatch::engine
