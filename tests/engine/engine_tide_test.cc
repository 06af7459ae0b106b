// The rising tide: sustain, hysteresis, minimum hold, one step down at a
// time, opening hours, deterministic call-up ids, snapshots.
#include "engine/engine.h"
#include "google/protobuf/util/message_differencer.h"
#include "test_util.h"

namespace tidewatch::engine {
namespace {

using tidewatch::testing::EventBuilder;
using tidewatch::testing::MustLoad;
using tidewatch::testing::RecordingOutput;
using tidewatch::v1::CALL_UP_STATE_PAGED;
using tidewatch::v1::CALL_UP_STATE_STOOD_DOWN;

// Monday 2022-10-03 10:00 BST (09:00 UTC).
const absl::Time kT0 = absl::FromUnixSeconds(1664787600);

constexpr char kPolicy[] = R"(
name: tide test
windows: [5m, 15m]
allowed_lateness: 2m
evaluation_interval: 10s
defaults:
  opening_hours:
    timezone: Europe/London
    weekly: [{days: [mon, tue, wed, thu, fri], open: "08:30", close: "17:30"}]
  roles: {}
  tiers:
    - level: 1
      name: reserves
      enter: {any: [{metric: calls_waiting, above: 5}]}
      sustain: 1m
      exit: {all: [{metric: calls_waiting, below: 3}]}
      min_hold: 5m
      callups: [{team: reserve, headcount: 2, duration: 1h}]
    - level: 2
      name: back office
      enter: {any: [{metric: calls_waiting, above: 10}]}
      sustain: 2m
      exit: {all: [{metric: calls_waiting, below: 8}]}
      min_hold: 5m
      callups: [{role: back_office, headcount: 3, duration: 2h}]
teams:
  reserve: {ack_timeout: 2h, rota: [{name: A, contact: a}]}
  rev-bo: {ack_timeout: 2h, rota: [{name: B, contact: b}]}
lines:
  revenues: {roles: {back_office: rev-bo}}
)";

class TideTest : public ::testing::Test {
 protected:
  TideTest() : policy_(MustLoad(kPolicy)), engine_(policy_, {}, &out_), b_("revenues") {}
  void Queue(int n, absl::Time t) {
    for (int i = 0; i < n; ++i) engine_.Apply(b_.Queued(absl::StrCat("c", next_call_++), t));
  }
  void Answer(int n, absl::Time t) {
    for (int i = 0; i < n; ++i) engine_.Apply(b_.Answered(absl::StrCat("c", next_answer_++), t));
  }

  std::shared_ptr<const policy::CompiledPolicy> policy_;
  RecordingOutput out_;
  Engine engine_;
  EventBuilder b_;
  int next_call_ = 0;
  int next_answer_ = 0;
};

absl::Time T(const google::protobuf::Timestamp& ts) { return absl::FromUnixSeconds(ts.seconds()); }

TEST_F(TideTest, RisesAfterSustainAndRecedesOneTierAtATime) {
  Queue(7, kT0);
  // The condition first holds at the instant 10:00:00 (stamped events are
  // in) and must hold for 1m: the tier is entered at 10:01:00.
  engine_.AdvanceTo(kT0 + absl::Seconds(50));
  EXPECT_TRUE(out_.changes.empty());
  engine_.AdvanceTo(kT0 + absl::Minutes(1));
  ASSERT_EQ(out_.changes.size(), 1u);
  EXPECT_EQ(out_.changes[0].from_level(), 0);
  EXPECT_EQ(out_.changes[0].to_level(), 1);
  EXPECT_EQ(out_.changes[0].to_tier(), "reserves");
  EXPECT_EQ(T(out_.changes[0].time()), kT0 + absl::Minutes(1));
  EXPECT_NE(out_.changes[0].reason().find("calls_waiting=7 above 5"), std::string::npos)
      << out_.changes[0].reason();
  ASSERT_EQ(out_.callups.size(), 1u);
  EXPECT_EQ(out_.callups[0].id(), "revenues/t1/20221003T090100Z/1/reserve");
  EXPECT_EQ(out_.callups[0].state(), CALL_UP_STATE_PAGED);
  EXPECT_EQ(out_.callups[0].headcount(), 2);
  EXPECT_EQ(engine_.Tide("revenues").level, 1);

  Queue(5, kT0 + absl::Minutes(2));  // 12 waiting
  engine_.AdvanceTo(kT0 + absl::Minutes(3) + absl::Seconds(50));
  EXPECT_EQ(out_.changes.size(), 1u);
  engine_.AdvanceTo(kT0 + absl::Minutes(4));
  ASSERT_EQ(out_.changes.size(), 2u);
  EXPECT_EQ(out_.changes[1].to_level(), 2);
  ASSERT_EQ(out_.callups.size(), 2u);
  EXPECT_EQ(out_.callups[1].team_id(), "rev-bo");  // role resolved per line
  EXPECT_EQ(out_.callups[1].id(), "revenues/t2/20221003T090100Z/1/rev-bo");

  // Help arrives: 9 answered, 3 waiting. Tier 2 exits (< 8) once its 5m
  // minimum hold has passed (entered 10:04), then tier 1 (< 3 needed).
  Answer(9, kT0 + absl::Minutes(5));
  engine_.AdvanceTo(kT0 + absl::Minutes(8) + absl::Seconds(50));
  EXPECT_EQ(engine_.Tide("revenues").level, 2);
  engine_.AdvanceTo(kT0 + absl::Minutes(9));
  EXPECT_EQ(engine_.Tide("revenues").level, 1);
  ASSERT_EQ(out_.callups.size(), 3u);
  EXPECT_EQ(out_.callups[2].id(), out_.callups[1].id());
  EXPECT_EQ(out_.callups[2].state(), CALL_UP_STATE_STOOD_DOWN);
  // 3 waiting is not below 3: tier 1 holds.
  engine_.AdvanceTo(kT0 + absl::Minutes(20));
  EXPECT_EQ(engine_.Tide("revenues").level, 1);
  Answer(1, kT0 + absl::Minutes(20) + absl::Seconds(1));
  engine_.AdvanceTo(kT0 + absl::Minutes(20) + absl::Seconds(10));
  EXPECT_EQ(engine_.Tide("revenues").level, 0);
  ASSERT_EQ(out_.changes.size(), 4u);
  EXPECT_EQ(out_.changes[3].from_level(), 1);
  EXPECT_EQ(out_.changes[3].to_level(), 0);
  EXPECT_EQ(out_.callups.back().id(), out_.callups[0].id());
  EXPECT_EQ(out_.callups.back().state(), CALL_UP_STATE_STOOD_DOWN);
  EXPECT_TRUE(engine_.OpenCallUps("revenues").empty());
}

// A restart on a policy whose tier enters on another condition: the saved
// state says since when the old condition held, which says nothing of the
// new one, whose sustain starts again at the restore (as a live policy
// change starts it again). On the same condition the saved time stands.
TEST_F(TideTest, ASustainSavedUnderAnotherEnterConditionStartsAgainAtRestore) {
  Queue(7, kT0);
  engine_.AdvanceTo(kT0 + absl::Seconds(40));  // holding since 10:00, 20 s to go
  EXPECT_EQ(engine_.Tide("revenues").level, 0);
  absl::StatusOr<tidewatch::v1::LineTideState> st = engine_.SnapshotTide("revenues");
  ASSERT_TRUE(st.ok());
  ASSERT_EQ(st->enter_condition_size(), 2);
  EXPECT_EQ(st->enter_condition(0),
            policy::ConditionKey(policy_->FindLine("revenues")->tiers[0].enter));

  std::string changed = kPolicy;
  const std::string from = "enter: {any: [{metric: calls_waiting, above: 5}]}";
  changed.replace(changed.find(from), from.size(),
                  "enter: {any: [{metric: calls_waiting, above: 6}]}");
  auto restart = [&](const std::string& yaml, const tidewatch::v1::LineTideState& state) {
    auto out = std::make_unique<RecordingOutput>();
    auto engine = std::make_unique<Engine>(MustLoad(yaml), EngineOptions{}, out.get());
    EventBuilder b("revenues");
    EXPECT_TRUE(engine->FreezeTide("revenues").ok());
    for (int i = 0; i < 7; ++i) engine->Apply(b.Queued(absl::StrCat("c", i), kT0));
    engine->AdvanceTo(kT0 + absl::Seconds(40));
    EXPECT_TRUE(engine->RestoreTide(state).ok());
    return std::make_pair(std::move(engine), std::move(out));
  };
  {
    auto [same, out] = restart(kPolicy, *st);
    same->AdvanceTo(kT0 + absl::Minutes(1));
    ASSERT_EQ(out->changes.size(), 1u);
    EXPECT_EQ(T(out->changes[0].time()), kT0 + absl::Minutes(1));
  }
  {
    auto [other, out] = restart(changed, *st);
    // 7 waiting is above 6 too, but only known to be since the restore's
    // first instant (10:00:50): entered a minute later, not at 10:01.
    other->AdvanceTo(kT0 + absl::Minutes(1) + absl::Seconds(40));
    EXPECT_TRUE(out->changes.empty());
    other->AdvanceTo(kT0 + absl::Minutes(1) + absl::Seconds(50));
    ASSERT_EQ(out->changes.size(), 1u);
    EXPECT_EQ(T(out->changes[0].time()), kT0 + absl::Minutes(1) + absl::Seconds(50));
  }
  // A state without the conditions (written before they were saved): the
  // saved time stands.
  tidewatch::v1::LineTideState old = *st;
  old.clear_enter_condition();
  auto [legacy, out] = restart(changed, old);
  legacy->AdvanceTo(kT0 + absl::Minutes(1));
  ASSERT_EQ(out->changes.size(), 1u);
  EXPECT_EQ(T(out->changes[0].time()), kT0 + absl::Minutes(1));
}

TEST_F(TideTest, FlickeringConditionNeverSustains) {
  for (int i = 0; i < 10; ++i) {
    absl::Time t = kT0 + absl::Seconds(40 * i);
    Queue(6, t);                       // above 5 ...
    Answer(6, t + absl::Seconds(20));  // ... for 20 s only
  }
  engine_.AdvanceTo(kT0 + absl::Minutes(10));
  EXPECT_TRUE(out_.changes.empty());
}

TEST_F(TideTest, StraightToTierTwoPagesBothTiers) {
  Queue(12, kT0);
  engine_.AdvanceTo(kT0 + absl::Minutes(2));
  // Tier 1 sustained at 10:01, tier 2 at 10:02.
  ASSERT_EQ(out_.changes.size(), 2u);
  EXPECT_EQ(out_.changes[1].from_level(), 1);
  EXPECT_EQ(out_.changes[1].to_level(), 2);
}

TEST_F(TideTest, ClosingTimeStandsEverythingDown) {
  // 17:20 BST: open. 17:30 closes the line.
  const absl::Time t = absl::FromUnixSeconds(1664814000);  // 16:20 UTC
  Queue(12, t);
  engine_.AdvanceTo(t + absl::Minutes(5));
  ASSERT_EQ(engine_.Tide("revenues").level, 2);
  engine_.AdvanceTo(t + absl::Minutes(10));
  EXPECT_EQ(engine_.Tide("revenues").level, 0);
  EXPECT_EQ(out_.changes.back().reason(), "line closed (outside opening hours)");
  EXPECT_EQ(T(out_.changes.back().time()), t + absl::Minutes(10));
  EXPECT_TRUE(engine_.OpenCallUps("revenues").empty());
  // Nothing escalates while closed, however long the queue.
  size_t n = out_.changes.size();
  engine_.AdvanceTo(t + absl::Hours(2));
  EXPECT_EQ(out_.changes.size(), n);
}

TEST_F(TideTest, ReentryInTheSameEpisodeGetsANewId) {
  Queue(12, kT0);
  engine_.AdvanceTo(kT0 + absl::Minutes(2));
  Answer(5, kT0 + absl::Minutes(2) + absl::Seconds(1));  // 7 waiting: tier 2 exits after hold
  engine_.AdvanceTo(kT0 + absl::Minutes(8));
  ASSERT_EQ(engine_.Tide("revenues").level, 1);
  Queue(5, kT0 + absl::Minutes(8) + absl::Seconds(1));  // 12 again
  engine_.AdvanceTo(kT0 + absl::Minutes(11));
  ASSERT_EQ(engine_.Tide("revenues").level, 2);
  EXPECT_EQ(engine_.OpenCallUps("revenues").back().id(), "revenues/t2/20221003T090100Z/2/rev-bo");
}

TEST(TideDeterminismTest, SameInputSameOutput) {
  auto run = [] {
    auto policy = MustLoad(kPolicy);
    RecordingOutput out;
    EngineOptions options;
    options.snapshot_every = absl::Minutes(5);
    Engine engine(policy, options, &out);
    EventBuilder b("revenues");
    for (int i = 0; i < 200; ++i) {
      engine.Apply(b.Queued(absl::StrCat("c", i), kT0 + absl::Seconds(3 * i)));
      if (i >= 20)
        engine.Apply(b.Answered(absl::StrCat("c", i - 20), kT0 + absl::Seconds(3 * i + 1)));
    }
    engine.Finish();
    return out;
  };
  RecordingOutput a = run(), b = run();
  ASSERT_EQ(a.changes.size(), b.changes.size());
  ASSERT_FALSE(a.changes.empty());
  for (size_t i = 0; i < a.changes.size(); ++i) {
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(a.changes[i], b.changes[i]));
  }
  ASSERT_EQ(a.snapshots.size(), b.snapshots.size());
  ASSERT_FALSE(a.snapshots.empty());
}

}  // namespace
}  // namespace tidewatch::engine
