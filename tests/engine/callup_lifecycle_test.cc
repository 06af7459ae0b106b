// The call-up lifecycle in the engine: paging the rota on ack timeouts,
// acknowledgements and declines from tidewatch.commands, stand-downs, and
// live policy versions. All on simulated (event) time.
#include <set>

#include "engine/engine.h"
#include "test_util.h"

namespace tidewatch::engine {
namespace {

using tidewatch::testing::EventBuilder;
using tidewatch::testing::MustLoad;
using tidewatch::testing::RecordingOutput;
using tidewatch::v1::CallUp;
using tidewatch::v1::Command;

// Monday 2022-10-03 10:00 BST (09:00 UTC).
const absl::Time kT0 = absl::FromUnixSeconds(1664787600);

std::string Policy(int waiting_threshold, const std::string& extra_line = "",
                   const std::string& windows = "[5m, 15m]") {
  return absl::StrCat(R"(
name: lifecycle test
windows: )",
                      windows, R"(
allowed_lateness: 2m
evaluation_interval: 10s
defaults:
  opening_hours: {always: true}
  tiers:
    - level: 1
      name: reserves
      enter: {any: [{metric: calls_waiting, above: )",
                      waiting_threshold, R"(}]}
      sustain: 1m
      exit: {all: [{metric: calls_waiting, below: 1}]}
      min_hold: 1m
      callups: [{team: revenues-bo, headcount: 3, duration: 1h}]
teams:
  revenues-bo:
    ack_timeout: 5m
    rota: [{name: Ann, contact: a}, {name: Bob, contact: b}, {name: Cat, contact: c}]
lines:
  revenues: {}
)",
                      extra_line);
}

// `policy` with its team revenues-bo renamed `to` (everywhere it appears).
std::string RenameTeam(std::string policy, const std::string& to) {
  const std::string from = "revenues-bo";
  for (size_t at = policy.find(from); at != std::string::npos;
       at = policy.find(from, at + to.size())) {
    policy.replace(at, from.size(), to);
  }
  return policy;
}

absl::Time T(const google::protobuf::Timestamp& ts) { return absl::FromUnixSeconds(ts.seconds()); }

class LifecycleTest : public ::testing::Test {
 protected:
  explicit LifecycleTest(EngineOptions options = {})
      : engine_(MustLoad(Policy(5)), options, &out_), b_("revenues") {}

  // 7 calls waiting from kT0: the tier is entered (and paged) at kT0+1m.
  const CallUp& Surge() {
    for (int i = 0; i < 7; ++i) engine_.Apply(b_.Queued(absl::StrCat("c", i), kT0));
    engine_.AdvanceTo(kT0 + absl::Minutes(1));
    EXPECT_EQ(out_.callups.size(), 1u);
    return out_.callups.at(0);
  }

  Command Ack(const std::string& id, const std::string& callup, int headcount = 2) {
    Command c;
    c.set_id(id);
    c.set_line_id("revenues");
    c.set_actor("token:revenues-lead");
    c.mutable_acknowledge()->set_callup_id(callup);
    c.mutable_acknowledge()->set_responder("Ann");
    c.mutable_acknowledge()->set_headcount(headcount);
    c.mutable_acknowledge()->mutable_eta()->set_seconds(900);
    return c;
  }
  Command Decline(const std::string& id, const std::string& callup) {
    Command c;
    c.set_id(id);
    c.set_line_id("revenues");
    c.set_actor("token:revenues-lead");
    c.mutable_decline()->set_callup_id(callup);
    c.mutable_decline()->set_reason("month-end close");
    return c;
  }

  RecordingOutput out_;
  Engine engine_;
  EventBuilder b_;
};

TEST_F(LifecycleTest, PageGoesToTheFirstRotaContact) {
  const CallUp& cu = Surge();
  EXPECT_EQ(cu.state(), tidewatch::v1::CALL_UP_STATE_PAGED);
  EXPECT_EQ(cu.rota_position(), 0);
  EXPECT_EQ(cu.paged_contact(), "Ann");
  EXPECT_EQ(T(cu.paged_at()), kT0 + absl::Minutes(1));
}

TEST_F(LifecycleTest, UnacknowledgedPagesTheNextContactAfterTheAckTimeoutThenExpires) {
  const std::string id = Surge().id();
  engine_.AdvanceTo(kT0 + absl::Minutes(5) + absl::Seconds(50));
  ASSERT_EQ(out_.callups.size(), 1u);  // 4m50s: not yet
  engine_.AdvanceTo(kT0 + absl::Minutes(6));
  ASSERT_EQ(out_.callups.size(), 2u);
  EXPECT_EQ(out_.callups[1].id(), id);
  EXPECT_EQ(out_.callups[1].state(), tidewatch::v1::CALL_UP_STATE_PAGED);
  EXPECT_EQ(out_.callups[1].rota_position(), 1);
  EXPECT_EQ(out_.callups[1].paged_contact(), "Bob");
  EXPECT_EQ(T(out_.callups[1].paged_at()), kT0 + absl::Minutes(6));
  engine_.AdvanceTo(kT0 + absl::Minutes(11));
  ASSERT_EQ(out_.callups.size(), 3u);
  EXPECT_EQ(out_.callups[2].paged_contact(), "Cat");
  // The last contact's timeout: nobody left to page.
  engine_.AdvanceTo(kT0 + absl::Minutes(16));
  ASSERT_EQ(out_.callups.size(), 4u);
  EXPECT_EQ(out_.callups[3].state(), tidewatch::v1::CALL_UP_STATE_EXPIRED);
  EXPECT_EQ(out_.callups[3].paged_contact(), "Cat");
  engine_.AdvanceTo(kT0 + absl::Minutes(40));
  EXPECT_EQ(out_.callups.size(), 4u);  // expired stays expired
  ASSERT_EQ(engine_.OpenCallUps("revenues").size(), 1u);
  // An expired call-up can still be acknowledged: someone turned up.
  ASSERT_TRUE(engine_.ApplyCommand(Ack("cmd-late", id)).ok());
  EXPECT_EQ(out_.callups.back().state(), tidewatch::v1::CALL_UP_STATE_ACKNOWLEDGED);
}

TEST_F(LifecycleTest, AcknowledgementStopsRepagingAndIsAppliedOnce) {
  const std::string id = Surge().id();
  engine_.AdvanceTo(kT0 + absl::Minutes(2));
  ASSERT_TRUE(engine_.ApplyCommand(Ack("cmd-1", id, 2)).ok());
  ASSERT_EQ(out_.callups.size(), 2u);
  const CallUp& acked = out_.callups[1];
  EXPECT_EQ(acked.id(), id);
  EXPECT_EQ(acked.state(), tidewatch::v1::CALL_UP_STATE_ACKNOWLEDGED);
  EXPECT_EQ(acked.responder(), "Ann");
  EXPECT_EQ(acked.acknowledged_headcount(), 2);
  EXPECT_EQ(acked.eta().seconds(), 900);
  EXPECT_EQ(acked.command_id(), "cmd-1");
  EXPECT_EQ(T(acked.updated()), kT0 + absl::Minutes(2));
  // A redelivered command changes nothing and emits nothing.
  ASSERT_TRUE(engine_.ApplyCommand(Ack("cmd-1", id, 2)).ok());
  EXPECT_EQ(out_.callups.size(), 2u);
  // No repage after the ack timeout once acknowledged.
  engine_.AdvanceTo(kT0 + absl::Minutes(30));
  EXPECT_EQ(out_.callups.size(), 2u);
  // The stand-down keeps who came.
  for (int i = 0; i < 7; ++i)
    engine_.Apply(b_.Answered(absl::StrCat("c", i), kT0 + absl::Minutes(31)));
  engine_.AdvanceTo(kT0 + absl::Minutes(33));
  ASSERT_EQ(out_.callups.size(), 3u);
  EXPECT_EQ(out_.callups[2].state(), tidewatch::v1::CALL_UP_STATE_STOOD_DOWN);
  EXPECT_EQ(out_.callups[2].responder(), "Ann");
  EXPECT_EQ(out_.callups[2].acknowledged_headcount(), 2);
  // Stood down: no longer open, so a late command is refused; the one
  // applied before, redelivered, is still a no-op (not a refusal).
  EXPECT_EQ(engine_.ApplyCommand(Ack("cmd-2", id)).code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(engine_.ApplyCommand(Ack("cmd-1", id, 2)).ok());
  EXPECT_EQ(out_.callups.size(), 3u);
}

TEST_F(LifecycleTest, AcknowledgeWithoutHeadcountMeansTheWholeCallUp) {
  const std::string id = Surge().id();
  ASSERT_TRUE(engine_.ApplyCommand(Ack("cmd-1", id, 0)).ok());
  EXPECT_EQ(out_.callups.back().acknowledged_headcount(), 3);
}

TEST_F(LifecycleTest, DeclineThenAcknowledgeIsAllowedButNotTheReverse) {
  const std::string id = Surge().id();
  ASSERT_TRUE(engine_.ApplyCommand(Decline("cmd-1", id)).ok());
  EXPECT_EQ(out_.callups.back().state(), tidewatch::v1::CALL_UP_STATE_DECLINED);
  EXPECT_EQ(out_.callups.back().decline_reason(), "month-end close");
  EXPECT_EQ(out_.callups.back().responder(), "token:revenues-lead");  // no responder: the actor
  // A declined call-up is not repaged.
  engine_.AdvanceTo(kT0 + absl::Minutes(20));
  EXPECT_EQ(out_.callups.size(), 2u);
  ASSERT_TRUE(engine_.ApplyCommand(Ack("cmd-2", id)).ok());
  EXPECT_EQ(out_.callups.back().state(), tidewatch::v1::CALL_UP_STATE_ACKNOWLEDGED);
  EXPECT_TRUE(out_.callups.back().decline_reason().empty());
  absl::Status s = engine_.ApplyCommand(Decline("cmd-3", id));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("already acknowledged by Ann"), std::string::npos) << s;
  EXPECT_EQ(out_.callups.back().state(), tidewatch::v1::CALL_UP_STATE_ACKNOWLEDGED);
}

TEST_F(LifecycleTest, BadCommandsAreRefusedWithTheReason) {
  const std::string id = Surge().id();
  Command none;
  none.set_id("x");
  none.set_line_id("revenues");
  EXPECT_EQ(engine_.ApplyCommand(none).code(), absl::StatusCode::kInvalidArgument);
  Command other_line = Ack("x1", id);
  other_line.set_line_id("no-such-line");
  EXPECT_EQ(engine_.ApplyCommand(other_line).code(), absl::StatusCode::kNotFound);
  absl::Status unknown = engine_.ApplyCommand(Ack("x2", "revenues/t9/nope"));
  EXPECT_EQ(unknown.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(unknown.message().find("revenues/t9/nope"), std::string::npos);
  EXPECT_EQ(engine_.ApplyCommand(Ack("x3", id, -1)).code(), absl::StatusCode::kInvalidArgument);
  Command negative_eta = Ack("x4", id);
  negative_eta.mutable_acknowledge()->mutable_eta()->set_seconds(-60);
  EXPECT_EQ(engine_.ApplyCommand(negative_eta).code(), absl::StatusCode::kInvalidArgument);
  // Figures no call-up can carry (and protobuf's JSON printer refuses).
  EXPECT_EQ(engine_.ApplyCommand(Ack("x6", id, kMaxAcknowledgedHeadcount + 1)).code(),
            absl::StatusCode::kInvalidArgument);
  Command huge_eta = Ack("x7", id);
  huge_eta.mutable_acknowledge()->mutable_eta()->set_seconds(400'000'000'000);
  absl::Status s = engine_.ApplyCommand(huge_eta);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("eta: 400000000000s is more than 24h"), std::string::npos) << s;
  Command bad_nanos = Ack("x8", id);
  bad_nanos.mutable_acknowledge()->mutable_eta()->set_seconds(-1);
  bad_nanos.mutable_acknowledge()->mutable_eta()->set_nanos(1'500'000'000);
  s = engine_.ApplyCommand(bad_nanos);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("eta: not a valid duration"), std::string::npos) << s;
  EXPECT_EQ(out_.callups.size(), 1u);  // nothing emitted for any of them
  // The bounds themselves are fine.
  Command most = Ack("x9", id, kMaxAcknowledgedHeadcount);
  most.mutable_acknowledge()->mutable_eta()->set_seconds(24 * 3600);
  EXPECT_TRUE(engine_.ApplyCommand(most).ok());
  EXPECT_EQ(out_.callups.back().acknowledged_headcount(), kMaxAcknowledgedHeadcount);
  // Recovering lines ask for the command again later.
  ASSERT_TRUE(engine_.FreezeTide("revenues").ok());
  EXPECT_EQ(engine_.ApplyCommand(Ack("x5", id)).code(), absl::StatusCode::kUnavailable);
}

TEST(LifecycleOwnershipTest, LinesOwnedElsewhereRefuseCommands) {
  RecordingOutput out;
  EngineOptions options;
  options.owns_line = [](std::string_view) { return false; };
  Engine engine(MustLoad(Policy(5)), options, &out);
  Command c;
  c.set_id("c");
  c.set_line_id("revenues");
  c.mutable_acknowledge()->set_callup_id("x");
  EXPECT_EQ(engine.ApplyCommand(c).code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(LifecycleTest, CallUpStateSurvivesSnapshotAndRestore) {
  const std::string id = Surge().id();
  engine_.AdvanceTo(kT0 + absl::Minutes(6));  // repaged to Bob
  absl::StatusOr<tidewatch::v1::LineTideState> st = engine_.SnapshotTide("revenues");
  ASSERT_TRUE(st.ok());
  RecordingOutput out2;
  Engine restored(MustLoad(Policy(5)), {}, &out2);
  EventBuilder b2("revenues");
  ASSERT_TRUE(restored.FreezeTide("revenues").ok());
  for (int i = 0; i < 7; ++i) restored.Apply(b2.Queued(absl::StrCat("c", i), kT0));
  restored.AdvanceTo(kT0 + absl::Minutes(6));
  EXPECT_TRUE(out2.callups.empty());  // frozen: nothing re-emitted
  ASSERT_TRUE(restored.RestoreTide(*st).ok());
  // Bob's timeout runs from his page, as it would have.
  restored.AdvanceTo(kT0 + absl::Minutes(10) + absl::Seconds(50));
  EXPECT_TRUE(out2.callups.empty());
  restored.AdvanceTo(kT0 + absl::Minutes(11));
  ASSERT_EQ(out2.callups.size(), 1u);
  EXPECT_EQ(out2.callups[0].paged_contact(), "Cat");
  ASSERT_TRUE(restored.ApplyCommand(Ack("cmd-1", id)).ok());
  EXPECT_EQ(out2.callups.back().state(), tidewatch::v1::CALL_UP_STATE_ACKNOWLEDGED);
}

// Saved totals another build wrote (a wait bin this one lacks): left out,
// the tide and call-ups restored and the line unfrozen all the same (a
// line left frozen was never evaluated again and refused every command).
TEST_F(LifecycleTest, UnreadableSavedTotalsLeaveTheRestRestored) {
  const std::string id = Surge().id();
  absl::StatusOr<tidewatch::v1::LineTideState> st = engine_.SnapshotTide("revenues");
  ASSERT_TRUE(st.ok());
  st->mutable_totals()->add_wait_bins(1 << 20);
  st->mutable_totals()->add_wait_bin_counts(1);
  RecordingOutput out2;
  Engine restored(MustLoad(Policy(5)), {}, &out2);
  ASSERT_TRUE(restored.FreezeTide("revenues").ok());
  absl::Status s = restored.RestoreTide(*st);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("saved totals left out: wait bin 1048576 out of range"),
            std::string::npos)
      << s;
  EXPECT_EQ(restored.Tide("revenues").level, 1);
  ASSERT_TRUE(restored.ApplyCommand(Ack("cmd-1", id)).ok());  // not "recovering"
  ASSERT_EQ(out2.callups.size(), 1u);
  EXPECT_EQ(out2.callups[0].state(), tidewatch::v1::CALL_UP_STATE_ACKNOWLEDGED);
}

// Restarted on a version with fewer tiers than the saved state: the tide
// is restored to the highest tier that exists, and the removed tier's
// call-up is stood down with a tide change saying so (as a live version
// change does), not left paging its rota.
// Policy(5) with a second tier above 6 calls waiting.
std::string TwoTierPolicy() {
  std::string two_tiers = Policy(5);
  const std::string second_tier = R"(
    - level: 2
      name: back office
      enter: {any: [{metric: calls_waiting, above: 6}]}
      sustain: 1m
      exit: {all: [{metric: calls_waiting, below: 1}]}
      min_hold: 1m
      callups: [{team: revenues-bo, headcount: 5, duration: 1h}]
teams:)";
  const size_t at = two_tiers.find("\nteams:");
  two_tiers.replace(at, std::string("\nteams:").size(), second_tier);
  return two_tiers;
}

// A tier removed and put back within one episode (a version, then its
// rollback) is a new entry of that tier: its call-ups get new ids, not
// those of the ones stood down when it was removed.
TEST(LifecycleRestoreTest, ATierPutBackWithinAnEpisodeGivesNewCallUpIds) {
  RecordingOutput out;
  Engine engine(MustLoad(TwoTierPolicy()), {}, &out);
  EventBuilder b("revenues");
  for (int i = 0; i < 8; ++i) engine.Apply(b.Queued(absl::StrCat("c", i), kT0));
  engine.AdvanceTo(kT0 + absl::Minutes(3));
  ASSERT_EQ(engine.Tide("revenues").level, 2);
  std::string first;
  for (const CallUp& cu : out.callups) {
    if (cu.level() == 2) first = cu.id();
  }
  ASSERT_FALSE(first.empty());
  ASSERT_TRUE(engine.ReplacePolicy(MustLoad(Policy(5)), 2).ok());
  ASSERT_EQ(engine.Tide("revenues").level, 1);  // the same episode
  ASSERT_TRUE(engine.ReplacePolicy(MustLoad(TwoTierPolicy()), 3).ok());
  engine.AdvanceTo(kT0 + absl::Minutes(6));
  ASSERT_EQ(engine.Tide("revenues").level, 2);
  CallUp again;
  for (const CallUp& cu : out.callups) {
    if (cu.level() == 2) again = cu;
  }
  EXPECT_EQ(again.state(), tidewatch::v1::CALL_UP_STATE_PAGED);
  EXPECT_NE(again.id(), first);
  EXPECT_EQ(again.id().substr(again.id().size() - 14), "/2/revenues-bo") << again.id();
}

TEST(LifecycleRestoreTest, ARestoreOnFewerTiersStandsTheRemovedTiersDown) {
  RecordingOutput out;
  Engine engine(MustLoad(TwoTierPolicy()), {}, &out);
  EventBuilder b("revenues");
  for (int i = 0; i < 8; ++i) engine.Apply(b.Queued(absl::StrCat("c", i), kT0));
  engine.AdvanceTo(kT0 + absl::Minutes(3));
  ASSERT_FALSE(out.changes.empty());
  ASSERT_EQ(out.changes.back().to_level(), 2);
  CallUp tier2;
  int paged = 0;
  for (const CallUp& cu : out.callups) {
    ++paged;
    if (cu.level() == 2) tier2 = cu;
  }
  ASSERT_EQ(tier2.level(), 2);
  absl::StatusOr<tidewatch::v1::LineTideState> st = engine.SnapshotTide("revenues");
  ASSERT_TRUE(st.ok());

  RecordingOutput out2;
  Engine restored(MustLoad(Policy(5)), {}, &out2);  // one tier
  ASSERT_TRUE(restored.FreezeTide("revenues").ok());
  ASSERT_TRUE(restored.RestoreTide(*st).ok());
  EXPECT_EQ(restored.Tide("revenues").level, 1);
  ASSERT_EQ(out2.callups.size(), 1u) << paged << " call-up updates before";
  EXPECT_EQ(out2.callups[0].id(), tier2.id());
  EXPECT_EQ(out2.callups[0].state(), tidewatch::v1::CALL_UP_STATE_STOOD_DOWN);
  ASSERT_EQ(out2.changes.size(), 1u);
  EXPECT_EQ(out2.changes[0].from_level(), 2);
  EXPECT_EQ(out2.changes[0].from_tier(), "back office");
  EXPECT_EQ(out2.changes[0].to_level(), 1);
  absl::StatusOr<tidewatch::v1::LineTideState> after = restored.SnapshotTide("revenues");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->escalation_sequence(), st->escalation_sequence() + 2);  // ids go on
  // Its rota is not paged again: only tier 1's call-up is open.
  restored.AdvanceTo(kT0 + absl::Hours(1));
  for (size_t i = 1; i < out2.callups.size(); ++i) EXPECT_NE(out2.callups[i].id(), tier2.id());
}

// A version read while partitions recover can come before the engine's
// clock starts (no event or tick yet): a restored line it drops, a tier it
// removes and a team it renames are stood down all the same, at the saved
// state's time, not left open on every board.
TEST(LifecycleRestoreTest, AVersionBeforeTheClockStartsStandsRestoredCallUpsDown) {
  RecordingOutput out;
  Engine engine(MustLoad(Policy(5, "  waste: {}\n")), {}, &out);
  for (const char* line : {"revenues", "waste"}) {
    EventBuilder b(line);
    for (int i = 0; i < 7; ++i) engine.Apply(b.Queued(absl::StrCat(line, i), kT0));
  }
  engine.AdvanceTo(kT0 + absl::Minutes(1));
  ASSERT_EQ(out.callups.size(), 2u);
  absl::StatusOr<tidewatch::v1::LineTideState> revenues = engine.SnapshotTide("revenues");
  absl::StatusOr<tidewatch::v1::LineTideState> waste = engine.SnapshotTide("waste");
  ASSERT_TRUE(revenues.ok() && waste.ok());

  // Restarted: both restored, then a version without revenues and with
  // the team renamed, before any event or tick.
  RecordingOutput out2;
  Engine restarted(MustLoad(Policy(5, "  waste: {}\n")), {}, &out2);
  ASSERT_TRUE(restarted.FreezeTide("revenues").ok());
  ASSERT_TRUE(restarted.FreezeTide("waste").ok());
  ASSERT_TRUE(restarted.RestoreTide(*revenues).ok());
  ASSERT_TRUE(restarted.RestoreTide(*waste).ok());
  ASSERT_TRUE(out2.callups.empty());
  std::string next = Policy(5, "  waste: {}\n");
  next.erase(next.find("  revenues: {}\n"), std::string("  revenues: {}\n").size());
  next = RenameTeam(next, "back-office");
  ASSERT_TRUE(restarted.ReplacePolicy(MustLoad(next), 2).ok());
  // The renamed team of waste's tier in force is paged in its place.
  ASSERT_EQ(out2.callups.size(), 3u);
  for (const CallUp& cu : out2.callups) {
    EXPECT_EQ(T(cu.updated()), kT0 + absl::Minutes(1)) << cu.id();
  }
  EXPECT_EQ(out2.callups[0].line_id(), "revenues");
  EXPECT_EQ(out2.callups[0].state(), tidewatch::v1::CALL_UP_STATE_STOOD_DOWN);
  EXPECT_EQ(out2.callups[1].line_id(), "waste");
  EXPECT_EQ(out2.callups[1].state(), tidewatch::v1::CALL_UP_STATE_STOOD_DOWN);
  EXPECT_EQ(out2.callups[2].line_id(), "waste");
  EXPECT_EQ(out2.callups[2].team_id(), "back-office");
  EXPECT_EQ(out2.callups[2].state(), tidewatch::v1::CALL_UP_STATE_PAGED);
  ASSERT_EQ(out2.changes.size(), 1u);  // revenues' fall; waste's tier is still there
  EXPECT_EQ(out2.changes[0].line_id(), "revenues");
  EXPECT_EQ(out2.changes[0].to_level(), 0);
  ASSERT_EQ(restarted.retired_lines().count("revenues"), 1u);
  EXPECT_EQ(restarted.retired_lines().at("revenues"), revenues->escalation_sequence() + 2);
}

// Restarted on a version without the line (taken out of the config while
// tidewatch was down): the saved state's open call-up is stood down and the
// tide's fall to 0 told, as a live version change does; the line is retired
// with the sequence those used. A line the policy has, or a retired line's
// saved state (level 0, nothing open), gives nothing.
TEST(LifecycleRestoreTest, ASavedLineThePolicyLacksIsStoodDownAndRetired) {
  RecordingOutput out;
  Engine engine(MustLoad(Policy(5)), {}, &out);
  EventBuilder b("revenues");
  for (int i = 0; i < 7; ++i) engine.Apply(b.Queued(absl::StrCat("c", i), kT0));
  engine.AdvanceTo(kT0 + absl::Minutes(1));
  ASSERT_EQ(out.callups.size(), 1u);
  const CallUp paged = out.callups[0];
  absl::StatusOr<tidewatch::v1::LineTideState> st = engine.SnapshotTide("revenues");
  ASSERT_TRUE(st.ok());
  ASSERT_EQ(st->level(), 1);

  std::string without = Policy(5, "  parking: {}\n");
  const size_t at = without.find("  revenues: {}\n");
  ASSERT_NE(at, std::string::npos);
  without.erase(at, std::string("  revenues: {}\n").size());
  RecordingOutput out2;
  Engine restarted(MustLoad(without), {}, &out2);
  restarted.RetireSavedLine(*st);
  ASSERT_EQ(out2.callups.size(), 1u);
  EXPECT_EQ(out2.callups[0].id(), paged.id());
  EXPECT_EQ(out2.callups[0].state(), tidewatch::v1::CALL_UP_STATE_STOOD_DOWN);
  EXPECT_EQ(T(out2.callups[0].updated()), kT0 + absl::Minutes(1));
  ASSERT_EQ(out2.changes.size(), 1u);
  EXPECT_EQ(out2.changes[0].line_id(), "revenues");
  EXPECT_EQ(out2.changes[0].from_level(), 1);
  EXPECT_EQ(out2.changes[0].from_tier(), "reserves");
  EXPECT_EQ(out2.changes[0].to_level(), 0);
  ASSERT_EQ(restarted.retired_lines().count("revenues"), 1u);
  EXPECT_EQ(restarted.retired_lines().at("revenues"), st->escalation_sequence() + 2);
  absl::StatusOr<tidewatch::v1::LineTideState> retired = restarted.SnapshotTide("revenues");
  ASSERT_TRUE(retired.ok()) << retired.status();
  EXPECT_EQ(retired->level(), 0);
  EXPECT_EQ(retired->open_callups_size(), 0);

  // The retired line's own state, restored on the next restart: nothing.
  RecordingOutput out3;
  Engine again(MustLoad(without), {}, &out3);
  again.RetireSavedLine(*retired);
  EXPECT_TRUE(out3.callups.empty());
  EXPECT_TRUE(out3.changes.empty());
  EXPECT_EQ(again.retired_lines().at("revenues"), st->escalation_sequence() + 2);
  // A line the policy has is restored, not retired.
  RecordingOutput out4;
  Engine full(MustLoad(Policy(5)), {}, &out4);
  full.RetireSavedLine(*st);
  EXPECT_TRUE(out4.callups.empty());
  EXPECT_TRUE(full.retired_lines().empty());
}

// The set-aside counts feed Prometheus counters: a line a version drops
// takes none of them away.
TEST(LifecycleCountsTest, ADroppedLinesSetAsideCountsAreKept) {
  RecordingOutput out;
  Engine engine(MustLoad(Policy(5, "  parking: {}\n")), {}, &out);
  EventBuilder b("parking");
  engine.Apply(b.Queued("p1", kT0 + absl::Minutes(10)));
  engine.Apply(b.Queued("p2", kT0));  // ten minutes behind: late
  ASSERT_EQ(engine.SetAsideCounts()["late"], 1);
  ASSERT_TRUE(engine.ReplacePolicy(MustLoad(Policy(5)), 2).ok());
  EXPECT_EQ(engine.FindLine("parking"), nullptr);
  EXPECT_EQ(engine.SetAsideCounts()["late"], 1);
}

TEST_F(LifecycleTest, ANewPolicyVersionChangesEscalationsFromTheNextEvaluation) {
  for (int i = 0; i < 4; ++i) engine_.Apply(b_.Queued(absl::StrCat("c", i), kT0));
  engine_.AdvanceTo(kT0 + absl::Minutes(3));
  EXPECT_TRUE(out_.changes.empty());  // 4 waiting is not above 5
  ASSERT_TRUE(engine_.ReplacePolicy(MustLoad(Policy(3)), 2).ok());
  EXPECT_EQ(engine_.policy_version(), 2);
  engine_.AdvanceTo(kT0 + absl::Minutes(3) + absl::Seconds(50));
  EXPECT_TRUE(out_.changes.empty());  // holds from 3:10, sustain 1m
  engine_.AdvanceTo(kT0 + absl::Minutes(4) + absl::Seconds(10));
  ASSERT_EQ(out_.changes.size(), 1u);
  EXPECT_EQ(T(out_.changes[0].time()), kT0 + absl::Minutes(4) + absl::Seconds(10));
  ASSERT_EQ(out_.callups.size(), 1u);
  EXPECT_EQ(out_.callups[0].policy_version(), 2);
  absl::StatusOr<tidewatch::v1::LineTideState> st = engine_.SnapshotTide("revenues");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->policy_version(), 2);
  // Back to version 1's thresholds (a rollback is another version).
  ASSERT_TRUE(engine_.ReplacePolicy(MustLoad(Policy(5)), 3).ok());
  EXPECT_EQ(engine_.Tide("revenues").level, 1);  // a tide is not reset by a new version
}

// A tier's sustain runs on its own condition: a version that changes the
// condition starts it again (the new one held from the next evaluation),
// one that leaves it alone does not.
TEST_F(LifecycleTest, ANewEnterConditionStartsItsSustainAgain) {
  for (int i = 0; i < 7; ++i) engine_.Apply(b_.Queued(absl::StrCat("c", i), kT0));
  engine_.AdvanceTo(kT0 + absl::Seconds(30));  // above 5 since kT0
  ASSERT_TRUE(engine_.ReplacePolicy(MustLoad(Policy(4)), 2).ok());
  engine_.AdvanceTo(kT0 + absl::Minutes(1) + absl::Seconds(30));
  EXPECT_TRUE(out_.changes.empty());  // above 4 only since 0:40
  engine_.AdvanceTo(kT0 + absl::Minutes(2));
  ASSERT_EQ(out_.changes.size(), 1u);
  EXPECT_EQ(T(out_.changes[0].time()), kT0 + absl::Minutes(1) + absl::Seconds(40));

  RecordingOutput out2;
  Engine same(MustLoad(Policy(5)), {}, &out2);
  EventBuilder b("revenues");
  for (int i = 0; i < 7; ++i) same.Apply(b.Queued(absl::StrCat("c", i), kT0));
  same.AdvanceTo(kT0 + absl::Seconds(30));
  ASSERT_TRUE(same.ReplacePolicy(MustLoad(Policy(5, "  waste: {}\n")), 2).ok());
  same.AdvanceTo(kT0 + absl::Minutes(2));
  ASSERT_EQ(out2.changes.size(), 1u);
  EXPECT_EQ(T(out2.changes[0].time()), kT0 + absl::Minutes(1));
}

// An exit on other metrics than the enter (here: no wait known yet, which
// an exit counts as met, while calls keep waiting) must not take the line
// out of a tier whose enter condition still holds: it would be entered
// again at once, a new episode paging the rota again every min_hold.
TEST(LifecycleFlapTest, ATierIsNotLeftWhileItsEnterConditionHolds) {
  std::string yaml = Policy(5);
  const std::string exit = "exit: {all: [{metric: calls_waiting, below: 1}]}";
  ASSERT_NE(yaml.find(exit), std::string::npos);
  yaml.replace(yaml.find(exit), exit.size(),
               "exit: {all: [{metric: avg_wait, window: 15m, below: 150s}]}");
  RecordingOutput out;
  Engine engine(MustLoad(yaml), {}, &out);
  EventBuilder b("revenues");
  for (int i = 0; i < 7; ++i) engine.Apply(b.Queued(absl::StrCat("c", i), kT0));
  engine.AdvanceTo(kT0 + absl::Minutes(10));
  ASSERT_EQ(out.changes.size(), 1u);  // entered once, never left
  EXPECT_EQ(out.changes[0].to_level(), 1);
  EXPECT_EQ(engine.Tide("revenues").level, 1);
  std::set<std::string> ids;
  for (const CallUp& cu : out.callups) ids.insert(cu.id());
  EXPECT_EQ(ids.size(), 1u);  // one call-up (repaged along its rota), not one per entry
  // Answered: the exit holds and the enter does not: it recedes.
  for (int i = 0; i < 7; ++i) {
    engine.Apply(b.Answered(absl::StrCat("c", i), kT0 + absl::Minutes(10) + absl::Seconds(1),
                            absl::Seconds(60)));
  }
  engine.AdvanceTo(kT0 + absl::Minutes(11));
  ASSERT_EQ(out.changes.size(), 2u);
  EXPECT_EQ(out.changes[1].to_level(), 0);
}

TEST_F(LifecycleTest, PolicyVersionsThatChangeTheWindowsAreRefused) {
  absl::Status s = engine_.ReplacePolicy(MustLoad(Policy(5, "", "[5m, 30m]")), 2);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("windows: [5m, 15m] -> [5m, 30m]"), std::string::npos) << s;
  EXPECT_EQ(engine_.policy_version(), 0);
}

TEST_F(LifecycleTest, LinesDroppedByANewVersionAreStoodDownAndAddedLinesTracked) {
  const std::string id = Surge().id();
  const std::string two_lines = Policy(5, "  waste: {}\n");
  ASSERT_TRUE(engine_.ReplacePolicy(MustLoad(two_lines), 2).ok());
  EXPECT_EQ(engine_.LineIds(), (std::vector<std::string>{"revenues", "waste"}));
  EventBuilder waste("waste");
  EXPECT_EQ(engine_.Apply(waste.Queued("w1", kT0 + absl::Minutes(2))), EventOutcome::kApplied);
  // A version without revenues.
  std::string only_waste = Policy(5);
  only_waste.replace(only_waste.find("  revenues: {}"), 14, "  waste: {}");
  ASSERT_TRUE(engine_.ReplacePolicy(MustLoad(only_waste), 3).ok());
  EXPECT_EQ(engine_.LineIds(), (std::vector<std::string>{"waste"}));
  ASSERT_EQ(out_.callups.size(), 2u);
  EXPECT_EQ(out_.callups[1].id(), id);
  EXPECT_EQ(out_.callups[1].state(), tidewatch::v1::CALL_UP_STATE_STOOD_DOWN);
  ASSERT_EQ(out_.changes.size(), 2u);
  EXPECT_EQ(out_.changes[1].to_level(), 0);
  EXPECT_NE(out_.changes[1].reason().find("policy version 3"), std::string::npos);
  EXPECT_EQ(engine_.Apply(b_.Queued("late", kT0 + absl::Minutes(3))), EventOutcome::kUnknownLine);
}

// A version that renames (or removes) a team: the old team's open call-up
// can no longer be repaged nor expire (its rota and timeout are gone), and
// its alert cannot fire: it is stood down, not left open for ever.
TEST_F(LifecycleTest, ACallUpOfATeamANewVersionRemovesIsStoodDown) {
  const std::string id = Surge().id();
  const std::string renamed = RenameTeam(Policy(5), "revenues-team");
  ASSERT_TRUE(engine_.ReplacePolicy(MustLoad(renamed), 2).ok());
  ASSERT_EQ(out_.callups.size(), 3u);
  EXPECT_EQ(out_.callups[1].id(), id);
  EXPECT_EQ(out_.callups[1].team_id(), "revenues-bo");
  EXPECT_EQ(out_.callups[1].state(), tidewatch::v1::CALL_UP_STATE_STOOD_DOWN);
  EXPECT_EQ(engine_.Tide("revenues").level, 1);  // the tier itself stays
  // The tier's team under its new name is paged at once, for the tier's
  // current entry (not at its next one).
  EXPECT_EQ(out_.callups[2].team_id(), "revenues-team");
  EXPECT_EQ(out_.callups[2].state(), tidewatch::v1::CALL_UP_STATE_PAGED);
  EXPECT_EQ(out_.callups[2].id(), absl::StrCat(id.substr(0, id.rfind('/')), "/revenues-team/v2"));
  EXPECT_EQ(out_.callups[2].policy_version(), 2);
  EXPECT_EQ(out_.callups[2].reason(),
            "reserves on revenues: team added to the tier by policy "
            "version 2");
  EXPECT_EQ(T(out_.callups[2].created()), kT0 + absl::Minutes(1));
  engine_.AdvanceTo(kT0 + absl::Hours(2));
  for (size_t i = 2; i < out_.callups.size(); ++i) EXPECT_NE(out_.callups[i].id(), id);
}

// A team a version adds to a tier in force is paged once: not again by a
// later version, nor after a restart from a state written after its page;
// from a state written before it (the page not committed, or a version
// applied while down) it is paged at the restore. A state written before
// the teams paged were saved pages nobody.
TEST_F(LifecycleTest, ATeamAddedToATierInForceIsPagedOnce) {
  const CallUp first = Surge();
  absl::StatusOr<tidewatch::v1::LineTideState> before = engine_.SnapshotTide("revenues");
  ASSERT_TRUE(before.ok());
  ASSERT_EQ(before->called_teams_size(), 1);
  EXPECT_EQ(before->called_teams(0).level(), 1);
  EXPECT_EQ(std::vector<std::string>(before->called_teams(0).team_ids().begin(),
                                     before->called_teams(0).team_ids().end()),
            std::vector<std::string>{"revenues-bo"});
  std::string added = Policy(5);
  added.replace(added.find("callups: [{team: revenues-bo, headcount: 3, duration: 1h}]"),
                std::string("callups: [{team: revenues-bo, headcount: 3, duration: 1h}]").size(),
                "callups: [{team: revenues-bo, headcount: 3, duration: 1h}, "
                "{team: casual-bank, headcount: 2, duration: 2h}]");
  added += "  casual-bank:\n    ack_timeout: 5m\n    rota: [{name: Dee, contact: d}]\n";
  added.replace(added.find("lines:\n  revenues: {}\n"),
                std::string("lines:\n  revenues: {}\n").size(), "");
  added += "lines:\n  revenues: {}\n";
  const std::shared_ptr<const policy::CompiledPolicy> added_policy = MustLoad(added);
  engine_.AdvanceTo(kT0 + absl::Minutes(2));
  ASSERT_TRUE(engine_.ReplacePolicy(added_policy, 2).ok());
  ASSERT_EQ(out_.callups.size(), 2u);
  const CallUp bank = out_.callups[1];  // a copy: out_ grows below
  EXPECT_EQ(bank.team_id(), "casual-bank");
  EXPECT_EQ(bank.state(), tidewatch::v1::CALL_UP_STATE_PAGED);
  EXPECT_EQ(bank.headcount(), 2);
  EXPECT_EQ(bank.paged_contact(), "Dee");
  EXPECT_EQ(bank.level(), 1);
  EXPECT_EQ(T(bank.created()), kT0 + absl::Minutes(2));
  EXPECT_EQ(bank.id(),
            absl::StrCat(first.id().substr(0, first.id().rfind('/')), "/casual-bank/v2"));
  // The same version again, or another: nobody paged again.
  ASSERT_TRUE(engine_.ReplacePolicy(added_policy, 3).ok());
  EXPECT_EQ(out_.callups.size(), 2u);
  absl::StatusOr<tidewatch::v1::LineTideState> after = engine_.SnapshotTide("revenues");
  ASSERT_TRUE(after.ok());

  // Restarted on the version with both teams.
  auto restore = [&](tidewatch::v1::LineTideState state, bool page_added_teams = true) {
    auto out = std::make_unique<RecordingOutput>();
    EngineOptions options;
    options.policy_version = 3;
    Engine restarted(added_policy, options, out.get());
    EXPECT_TRUE(restarted.FreezeTide("revenues").ok());
    EXPECT_TRUE(restarted.RestoreTide(state, page_added_teams).ok());
    return out;
  };
  EXPECT_TRUE(restore(*after)->callups.empty());
  std::unique_ptr<RecordingOutput> from_before = restore(*before);
  ASSERT_EQ(from_before->callups.size(), 1u);
  EXPECT_EQ(from_before->callups[0].id(),
            absl::StrCat(first.id().substr(0, first.id().rfind('/')), "/casual-bank/v3"));
  EXPECT_EQ(from_before->callups[0].team_id(), "casual-bank");
  EXPECT_EQ(from_before->callups[0].state(), tidewatch::v1::CALL_UP_STATE_PAGED);
  EXPECT_EQ(T(from_before->callups[0].created()), kT0 + absl::Minutes(1));  // the state's time
  tidewatch::v1::LineTideState old_format = *before;
  old_format.clear_called_teams();
  EXPECT_TRUE(restore(old_format)->callups.empty());
  // Restored only to be dropped by the next version: nobody paged.
  EXPECT_TRUE(restore(*before, /*page_added_teams=*/false)->callups.empty());

  // A new entry of the tier pages both teams, under new ids.
  for (int i = 0; i < 7; ++i)
    engine_.Apply(b_.Answered(absl::StrCat("c", i), kT0 + absl::Minutes(3)));
  engine_.AdvanceTo(kT0 + absl::Minutes(30));
  ASSERT_EQ(engine_.Tide("revenues").level, 0);
  const size_t n = out_.callups.size();
  for (int i = 0; i < 7; ++i)
    engine_.Apply(b_.Queued(absl::StrCat("d", i), kT0 + absl::Minutes(31)));
  engine_.AdvanceTo(kT0 + absl::Minutes(33));
  ASSERT_EQ(out_.callups.size(), n + 2);
  EXPECT_EQ(out_.callups[n].team_id(), "revenues-bo");
  EXPECT_EQ(out_.callups[n + 1].team_id(), "casual-bank");
  EXPECT_NE(out_.callups[n + 1].id(), bank.id());
}

// A team renamed and renamed back within a tier's entry (a version rolled
// back mid-surge): each name is paged when it comes in, the one brought
// back under an id of its own (its first call-up's id was stood down), so
// the tier is never left without a call-up.
TEST_F(LifecycleTest, ATeamRenamedAndRolledBackIsPagedAgain) {
  const std::string id = Surge().id();
  const std::string renamed = RenameTeam(Policy(5), "revenues-team");
  ASSERT_TRUE(engine_.ReplacePolicy(MustLoad(renamed), 2).ok());
  ASSERT_TRUE(engine_.ReplacePolicy(MustLoad(Policy(5)), 3).ok());
  ASSERT_EQ(out_.callups.size(), 5u);
  const std::string prefix = id.substr(0, id.rfind('/'));
  EXPECT_EQ(out_.callups[1].id(), id);
  EXPECT_EQ(out_.callups[1].state(), tidewatch::v1::CALL_UP_STATE_STOOD_DOWN);
  EXPECT_EQ(out_.callups[2].id(), prefix + "/revenues-team/v2");
  EXPECT_EQ(out_.callups[2].state(), tidewatch::v1::CALL_UP_STATE_PAGED);
  EXPECT_EQ(out_.callups[3].id(), prefix + "/revenues-team/v2");
  EXPECT_EQ(out_.callups[3].state(), tidewatch::v1::CALL_UP_STATE_STOOD_DOWN);
  EXPECT_EQ(out_.callups[4].id(), prefix + "/revenues-bo/v3");
  EXPECT_EQ(out_.callups[4].state(), tidewatch::v1::CALL_UP_STATE_PAGED);
  ASSERT_EQ(engine_.OpenCallUps("revenues").size(), 1u);
  EXPECT_EQ(engine_.OpenCallUps("revenues")[0].team_id(), "revenues-bo");
}

// The same when the team went while tidewatch was down: a restored call-up
// of a team the policy no longer has is stood down at the restore.
TEST_F(LifecycleTest, ARestoredCallUpOfATeamThePolicyLacksIsStoodDown) {
  const std::string id = Surge().id();
  absl::StatusOr<tidewatch::v1::LineTideState> st = engine_.SnapshotTide("revenues");
  ASSERT_TRUE(st.ok());
  const std::string renamed = RenameTeam(Policy(5), "revenues-team");
  RecordingOutput out;
  Engine restored(MustLoad(renamed), {}, &out);
  ASSERT_TRUE(restored.FreezeTide("revenues").ok());
  ASSERT_TRUE(restored.RestoreTide(*st).ok());
  ASSERT_EQ(out.callups.size(), 2u);
  EXPECT_EQ(out.callups[0].id(), id);
  EXPECT_EQ(out.callups[0].state(), tidewatch::v1::CALL_UP_STATE_STOOD_DOWN);
  // The tier's team under its new name is paged in its place.
  EXPECT_EQ(out.callups[1].team_id(), "revenues-team");
  EXPECT_EQ(out.callups[1].state(), tidewatch::v1::CALL_UP_STATE_PAGED);
  ASSERT_EQ(restored.OpenCallUps("revenues").size(), 1u);
  EXPECT_EQ(restored.OpenCallUps("revenues")[0].team_id(), "revenues-team");
}

// A line dropped by one version and brought back by a later one (a
// rollback) goes on numbering its escalations: its ids are never reused
// (watchers would take the new ones for repeats of the old).
TEST_F(LifecycleTest, ALineDroppedAndBroughtBackContinuesItsSequence) {
  Surge();  // tide change 1, call-up 2
  std::string only_waste = Policy(5);
  only_waste.replace(only_waste.find("  revenues: {}"), 14, "  waste: {}");
  ASSERT_TRUE(engine_.ReplacePolicy(MustLoad(only_waste), 2).ok());  // stand-down 3, change 4
  ASSERT_EQ(engine_.retired_lines().count("revenues"), 1u);
  EXPECT_EQ(engine_.retired_lines().at("revenues"), 4);
  absl::StatusOr<tidewatch::v1::LineTideState> retired = engine_.SnapshotTide("revenues");
  ASSERT_TRUE(retired.ok()) << retired.status();
  EXPECT_EQ(retired->escalation_sequence(), 4);
  EXPECT_EQ(retired->level(), 0);
  EXPECT_EQ(retired->open_callups_size(), 0);

  ASSERT_TRUE(engine_.ReplacePolicy(MustLoad(Policy(5, "  waste: {}\n")), 3).ok());
  EXPECT_TRUE(engine_.retired_lines().empty());
  const size_t before = out_.callups.size();
  for (int i = 0; i < 7; ++i) {
    engine_.Apply(b_.Queued(absl::StrCat("again", i), kT0 + absl::Minutes(10)));
  }
  engine_.AdvanceTo(kT0 + absl::Minutes(12));
  ASSERT_EQ(out_.callups.size(), before + 1);
  const tidewatch::v1::CallUp& again = out_.callups.back();
  absl::StatusOr<tidewatch::v1::LineTideState> st = engine_.SnapshotTide("revenues");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->escalation_sequence(), 6);  // tide change 5, call-up 6: not 1 and 2 again
  EXPECT_EQ(again.policy_version(), 3);
}

// After a restart the dropped line's last number comes from its saved
// state (RetireLine), the higher number winning; a line in the policy is
// never retired.
TEST_F(LifecycleTest, RetiredSequencesComeBackFromSavedState) {
  std::string only_waste = Policy(5);
  only_waste.replace(only_waste.find("  revenues: {}"), 14, "  waste: {}");
  RecordingOutput out;
  Engine engine(MustLoad(only_waste), {}, &out);
  engine.RetireLine("revenues", 9);
  engine.RetireLine("revenues", 7);
  engine.RetireLine("waste", 3);
  EXPECT_EQ(engine.retired_lines(), (std::map<std::string, int64_t, std::less<>>{{"revenues", 9}}));
  ASSERT_TRUE(engine.ReplacePolicy(MustLoad(Policy(5, "  waste: {}\n")), 2).ok());
  absl::StatusOr<tidewatch::v1::LineTideState> st = engine.SnapshotTide("revenues");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->escalation_sequence(), 9);
}

TEST(AgentSnapshotTest, AgentsOlderThanTheReplaySurviveARestore) {
  const std::string policy = Policy(5);
  RecordingOutput out;
  Engine engine(MustLoad(policy), {}, &out);
  EventBuilder b("revenues");
  engine.Apply(b.Agent("old-timer", kT0, tidewatch::v1::AGENT_STATUS_AVAILABLE,
                       tidewatch::v1::AGENT_ORIGIN_BACK_OFFICE));
  engine.Apply(
      b.Agent("gone", kT0, tidewatch::v1::AGENT_STATUS_AVAILABLE, tidewatch::v1::AGENT_ORIGIN_CSC));
  engine.Apply(b.Agent("gone", kT0 + absl::Minutes(1), tidewatch::v1::AGENT_STATUS_LOGGED_OUT,
                       tidewatch::v1::AGENT_ORIGIN_CSC));
  engine.Apply(b.Agent("recent", kT0 + absl::Minutes(1), tidewatch::v1::AGENT_STATUS_ON_CALL,
                       tidewatch::v1::AGENT_ORIGIN_CSC));
  absl::StatusOr<tidewatch::v1::LineTideState> st = engine.SnapshotTide("revenues");
  ASSERT_TRUE(st.ok());
  ASSERT_EQ(st->agents_size(), 2);  // logged-out agents are not kept
  EXPECT_EQ(st->agents(0).agent_id(), "old-timer");
  EXPECT_EQ(st->agents(1).agent_id(), "recent");

  // The replay saw only "recent", later and in another state.
  RecordingOutput out2;
  Engine restored(MustLoad(policy), {}, &out2);
  EventBuilder b2("revenues");
  ASSERT_TRUE(restored.FreezeTide("revenues").ok());
  restored.Apply(b2.Agent("recent", kT0 + absl::Minutes(2), tidewatch::v1::AGENT_STATUS_WRAP_UP,
                          tidewatch::v1::AGENT_ORIGIN_CSC));
  ASSERT_TRUE(restored.RestoreTide(*st).ok());
  const line::AgentCounts& a = restored.FindLine("revenues")->agents();
  EXPECT_EQ(a.LoggedIn(), 2);
  EXPECT_EQ(a.InState(tidewatch::v1::AGENT_STATUS_AVAILABLE), 1);
  EXPECT_EQ(a.InState(tidewatch::v1::AGENT_STATUS_WRAP_UP), 1);  // the newer event wins
  EXPECT_EQ(a.InState(tidewatch::v1::AGENT_STATUS_ON_CALL), 0);
}

}  // namespace
}  // namespace tidewatch::engine
