// Per-line bookkeeping through the engine: duplicates, lateness, orphans,
// conflicts, agents, live waiting figures, bad input set aside.
#include "engine/engine.h"
#include "test_util.h"

namespace tidewatch::engine {
namespace {

using tidewatch::testing::EventBuilder;
using tidewatch::testing::MustLoad;
using tidewatch::testing::RecordingOutput;

const absl::Time kT0 = absl::FromUnixSeconds(1664787600);  // Mon 2022-10-03 10:00 BST

constexpr char kPolicy[] = R"(
name: line test
windows: [5m, 15m]
allowed_lateness: 2m
evaluation_interval: 10s
defaults:
  opening_hours: {always: true}
  roles: {}
  tiers:
    - level: 1
      name: busy
      enter: {any: [{metric: calls_waiting, above: 100}]}
      sustain: 0s
      exit: {all: [{metric: calls_waiting, below: 50}]}
      min_hold: 0s
      callups: [{team: reserve, headcount: 1, duration: 1h}]
teams:
  reserve: {ack_timeout: 5m, rota: [{name: A, contact: a}]}
lines:
  revenues: {}
  waste: {}
)";

class LineStateTest : public ::testing::Test {
 protected:
  LineStateTest() : policy_(MustLoad(kPolicy)), engine_(policy_, {}, &out_), b_("revenues") {}
  const line::LineState& line() { return *engine_.FindLine("revenues"); }

  std::shared_ptr<const policy::CompiledPolicy> policy_;
  RecordingOutput out_;
  Engine engine_;
  EventBuilder b_;
};

TEST_F(LineStateTest, QueuedThenAnsweredComputesWait) {
  EXPECT_EQ(engine_.Apply(b_.Queued("c1", kT0)), EventOutcome::kApplied);
  EXPECT_EQ(line().calls_waiting(), 1);
  engine_.AdvanceTo(kT0 + absl::Seconds(40));
  EXPECT_EQ(*line().longest_waiting(), absl::Seconds(40));
  EXPECT_EQ(engine_.Apply(b_.Answered("c1", kT0 + absl::Seconds(45))), EventOutcome::kApplied);
  EXPECT_EQ(line().calls_waiting(), 0);
  EXPECT_FALSE(line().longest_waiting().has_value());
  EXPECT_EQ(line().totals().counters.sum_wait_answered_ns, 45000000000);
}

TEST_F(LineStateTest, ExplicitWaitWins) {
  engine_.Apply(b_.Queued("c1", kT0));
  engine_.Apply(b_.Answered("c1", kT0 + absl::Seconds(45), absl::Seconds(30)));
  EXPECT_EQ(line().totals().counters.sum_wait_answered_ns, 30000000000);
}

TEST_F(LineStateTest, DuplicateEventIdAppliedOnce) {
  auto q = b_.Queued("c1", kT0);
  EXPECT_EQ(engine_.Apply(q), EventOutcome::kApplied);
  EXPECT_EQ(engine_.Apply(q), EventOutcome::kDuplicate);
  EXPECT_EQ(line().totals().counters.offered, 1);
  EXPECT_EQ(engine_.SetAsideCounts().at("duplicate"), 1);
}

TEST_F(LineStateTest, ADuplicateOfTheFirstEventAfterAQuietNightIsADuplicate) {
  // On event time (no ticks) the id sets' rotations for the night are
  // caught up when the morning's first event comes: its own id must
  // survive them.
  ASSERT_EQ(engine_.Apply(b_.Queued("c1", kT0)), EventOutcome::kApplied);
  auto morning = b_.Queued("c2", kT0 + absl::Hours(14));
  EXPECT_EQ(engine_.Apply(morning), EventOutcome::kApplied);
  EXPECT_EQ(engine_.Apply(morning), EventOutcome::kDuplicate);
  EXPECT_EQ(line().totals().counters.offered, 2);
  EXPECT_EQ(line().calls_waiting(), 1);
}

TEST_F(LineStateTest, UnknownLineIsSetAside) {
  EventBuilder other("parking");
  EXPECT_EQ(engine_.Apply(other.Queued("c1", kT0)), EventOutcome::kUnknownLine);
  EXPECT_EQ(engine_.SetAsideCounts().at("unknown_line"), 1);
}

TEST_F(LineStateTest, OutcomeBeforeQueuedWithinLatenessIsResolved) {
  // The answer (no wait given) arrives first; its queued event 30 s later.
  EXPECT_EQ(engine_.Apply(b_.Answered("c1", kT0 + absl::Seconds(60))), EventOutcome::kHeld);
  EXPECT_EQ(engine_.Apply(b_.Queued("c1", kT0 + absl::Seconds(20))), EventOutcome::kApplied);
  EXPECT_EQ(line().totals().counters.answered, 1);
  EXPECT_EQ(line().totals().counters.sum_wait_answered_ns, 40000000000);
  EXPECT_EQ(line().calls_waiting(), 0);
}

TEST_F(LineStateTest, OutcomeWithoutWaitOrQueuedBecomesOrphan) {
  EXPECT_EQ(engine_.Apply(b_.Abandoned("c9", kT0)), EventOutcome::kHeld);
  engine_.AdvanceTo(kT0 + absl::Minutes(3));
  EXPECT_EQ(engine_.SetAsideCounts().at("orphan"), 1);
  EXPECT_EQ(line().totals().counters.abandoned, 0);
}

TEST_F(LineStateTest, OutcomeWithWaitButNoQueuedUsesItsWait) {
  EXPECT_EQ(engine_.Apply(b_.Abandoned("c9", kT0, absl::Seconds(70))), EventOutcome::kApplied);
  EXPECT_EQ(line().totals().counters.abandoned, 1);
  EXPECT_EQ(line().totals().counters.sum_wait_all_ns, 70000000000);
  // Its queued event arriving afterwards counts as offered, opens nothing.
  EXPECT_EQ(engine_.Apply(b_.Queued("c9", kT0 - absl::Seconds(70))), EventOutcome::kApplied);
  EXPECT_EQ(line().totals().counters.offered, 1);
  EXPECT_EQ(line().calls_waiting(), 0);
}

TEST_F(LineStateTest, LateEventClosesCallButMissesWindows) {
  engine_.Apply(b_.Queued("c1", kT0));
  engine_.Apply(b_.Queued("c2", kT0 + absl::Minutes(10)));
  // Answer for c1 stamped 3 minutes behind the clock: beyond the 2m lateness.
  EXPECT_EQ(engine_.Apply(b_.Answered("c1", kT0 + absl::Minutes(7))), EventOutcome::kLate);
  EXPECT_EQ(line().calls_waiting(), 1);
  EXPECT_EQ(line().totals().counters.answered, 1);
  EXPECT_EQ(line().windows().Running(1).counters.answered, 0);
  EXPECT_EQ(engine_.SetAsideCounts().at("late"), 1);
}

// A second outcome of a visit is a conflict: at once when it is stamped
// within the visit (or its wait puts its entry there), else once the
// lateness has passed without the queued event of a later visit (it could
// have been the exit of the call queued again, reordered).
TEST_F(LineStateTest, SecondOutcomeIsAConflict) {
  engine_.Apply(b_.Queued("c1", kT0));
  engine_.Apply(b_.Answered("c1", kT0 + absl::Seconds(5)));
  EXPECT_EQ(engine_.Apply(b_.Abandoned("c1", kT0 + absl::Seconds(5))), EventOutcome::kConflict);
  EXPECT_EQ(engine_.Apply(b_.Abandoned("c1", kT0 + absl::Seconds(6), absl::Seconds(3))),
            EventOutcome::kConflict);
  EXPECT_EQ(engine_.SetAsideCounts().at("conflict"), 2);
  EXPECT_EQ(engine_.Apply(b_.Abandoned("c1", kT0 + absl::Seconds(6))), EventOutcome::kHeld);
  EXPECT_EQ(engine_.Apply(b_.LeftQueue("c1", kT0 + absl::Seconds(7),
                                       tidewatch::v1::LEFT_QUEUE_REASON_TIMEOUT)),
            EventOutcome::kConflict);  // a second exit while one is held
  engine_.AdvanceTo(kT0 + absl::Minutes(3));
  const window::Counters& c = line().totals().counters;
  EXPECT_EQ(c.abandoned, 0);
  EXPECT_EQ(c.left_queue, 0);
  EXPECT_EQ(c.offered, 1);
  EXPECT_EQ(line().calls_waiting(), 0);
  EXPECT_EQ(engine_.SetAsideCounts().at("conflict"), 4);
  EXPECT_EQ(engine_.SetAsideCounts().count("orphan"), 0u);
  // The visit's record stayed: its queued event resent is still its own.
  EXPECT_EQ(engine_.Apply(b_.Queued("c1", kT0)), EventOutcome::kConflict);
  EXPECT_EQ(c.offered, 1);
}

// A call queued again whose exit overtakes its second queued event (an
// adapter that reorders): the exit waits for it, and the visit closes
// with the right wait; no phantom waiting call is left behind. Each kind
// of exit, with and without a wait.
TEST_F(LineStateTest, ASecondVisitsExitBeforeItsQueuedEventClosesThatVisit) {
  const window::Counters& c = line().totals().counters;
  int64_t offered = 0;
  absl::Time t = kT0;
  auto first_visit = [&](const std::string& call) {
    ASSERT_EQ(engine_.Apply(b_.Queued(call, t)), EventOutcome::kApplied);
    ASSERT_EQ(engine_.Apply(b_.Answered(call, t + absl::Seconds(10))), EventOutcome::kApplied);
    offered += 2;  // this visit and the next
  };
  first_visit("a");
  EXPECT_EQ(engine_.Apply(b_.Answered("a", t + absl::Seconds(50))), EventOutcome::kHeld);
  EXPECT_EQ(engine_.Apply(b_.Queued("a", t + absl::Seconds(20))), EventOutcome::kApplied);
  EXPECT_EQ(c.answered, 2);
  EXPECT_EQ(c.sum_wait_answered_ns, 10'000'000'000 + 30'000'000'000);

  t += absl::Minutes(1);
  first_visit("b");
  EXPECT_EQ(engine_.Apply(b_.Abandoned("b", t + absl::Seconds(40), absl::Seconds(25))),
            EventOutcome::kApplied);
  EXPECT_EQ(engine_.Apply(b_.Queued("b", t + absl::Seconds(15))), EventOutcome::kApplied);
  EXPECT_EQ(c.abandoned, 1);
  EXPECT_EQ(c.sum_wait_all_ns - c.sum_wait_answered_ns, 25'000'000'000);

  t += absl::Minutes(1);
  first_visit("c");
  EXPECT_EQ(engine_.Apply(
                b_.LeftQueue("c", t + absl::Seconds(40), tidewatch::v1::LEFT_QUEUE_REASON_TIMEOUT)),
            EventOutcome::kHeld);
  EXPECT_EQ(engine_.Apply(b_.Queued("c", t + absl::Seconds(15))), EventOutcome::kApplied);
  EXPECT_EQ(c.left_queue, 1);

  t += absl::Minutes(1);
  first_visit("d");
  EXPECT_EQ(engine_.Apply(b_.CallbackRequested("d", t + absl::Seconds(40))), EventOutcome::kHeld);
  EXPECT_EQ(engine_.Apply(b_.Queued("d", t + absl::Seconds(15))), EventOutcome::kApplied);
  EXPECT_EQ(c.callbacks, 1);

  EXPECT_EQ(c.offered, offered);
  EXPECT_EQ(line().calls_waiting(), 0);
  engine_.AdvanceTo(t + absl::Minutes(10));
  EXPECT_EQ(line().calls_waiting(), 0);
  EXPECT_FALSE(line().longest_waiting().has_value());
  EXPECT_EQ(engine_.SetAsideCounts().count("conflict"), 0u);
  EXPECT_EQ(engine_.SetAsideCounts().count("orphan"), 0u);
}

// A call that left the queue and entered it again (Asterisk: a queue
// timeout whose dialplan queues it again, or an agent transferring it back,
// with the same uniqueid) is a second visit: offered again, waiting again,
// and its own outcome counts. The late queued event of a visit whose outcome
// came first (with its wait) is not one: it is at or before that visit's
// entry.
TEST_F(LineStateTest, ACallQueuedAgainAfterLeavingIsASecondVisit) {
  engine_.Apply(b_.Queued("c1", kT0));
  ASSERT_EQ(engine_.Apply(b_.LeftQueue("c1", kT0 + absl::Seconds(60),
                                       tidewatch::v1::LEFT_QUEUE_REASON_TIMEOUT)),
            EventOutcome::kApplied);
  EXPECT_EQ(line().calls_waiting(), 0);
  // Queued again in the same second (queue_log's resolution).
  EXPECT_EQ(engine_.Apply(b_.Queued("c1", kT0 + absl::Seconds(60))), EventOutcome::kApplied);
  EXPECT_EQ(line().calls_waiting(), 1);
  EXPECT_EQ(engine_.Apply(b_.Answered("c1", kT0 + absl::Seconds(90))), EventOutcome::kApplied);
  EXPECT_EQ(line().calls_waiting(), 0);
  const window::Counters& c = line().totals().counters;
  EXPECT_EQ(c.offered, 2);
  EXPECT_EQ(c.left_queue, 1);
  EXPECT_EQ(c.answered, 1);
  EXPECT_EQ(c.sum_wait_answered_ns, 30'000'000'000);
  // Answered, then transferred back into the queue and abandoned there.
  EXPECT_EQ(engine_.Apply(b_.Queued("c1", kT0 + absl::Seconds(200))), EventOutcome::kApplied);
  EXPECT_EQ(engine_.Apply(b_.Abandoned("c1", kT0 + absl::Seconds(215))), EventOutcome::kApplied);
  EXPECT_EQ(c.offered, 3);
  EXPECT_EQ(c.abandoned, 1);
  EXPECT_EQ(engine_.SetAsideCounts().count("conflict"), 0u);

  // The outcome first (with its wait), then its own queued event, late:
  // one visit.
  EXPECT_EQ(engine_.Apply(b_.Abandoned("c2", kT0 + absl::Seconds(240), absl::Seconds(20))),
            EventOutcome::kApplied);
  EXPECT_EQ(engine_.Apply(b_.Queued("c2", kT0 + absl::Seconds(220))), EventOutcome::kApplied);
  EXPECT_EQ(line().calls_waiting(), 0);
  EXPECT_EQ(c.offered, 4);
  EXPECT_EQ(c.abandoned, 2);
  // Also with no wait at all, in the same second.
  EXPECT_EQ(engine_.Apply(b_.Answered("c3", kT0 + absl::Seconds(250), absl::ZeroDuration())),
            EventOutcome::kApplied);
  EXPECT_EQ(engine_.Apply(b_.Queued("c3", kT0 + absl::Seconds(250))), EventOutcome::kApplied);
  EXPECT_EQ(line().calls_waiting(), 0);
  EXPECT_EQ(c.offered, 5);
}

// A visit's queued event sent again under another event id (an adapter
// replaying, or the original once duplicate memory has forgotten it) after
// the visit closed is a conflict, not a second offered call; so is a
// second queued event of a visit whose outcome came first.
TEST_F(LineStateTest, AQueuedEventResentForAClosedVisitIsOfferedOnce) {
  engine_.Apply(b_.Queued("c1", kT0));
  engine_.Apply(b_.Answered("c1", kT0 + absl::Seconds(60)));
  EXPECT_EQ(engine_.Apply(b_.Queued("c1", kT0)), EventOutcome::kConflict);
  EXPECT_EQ(engine_.Apply(b_.Queued("c1", kT0 + absl::Seconds(30))), EventOutcome::kConflict);
  const window::Counters& c = line().totals().counters;
  EXPECT_EQ(c.offered, 1);
  EXPECT_EQ(line().calls_waiting(), 0);
  // The outcome first, with its wait: its queued event is offered once.
  EXPECT_EQ(engine_.Apply(b_.Answered("c2", kT0 + absl::Seconds(90), absl::Seconds(20))),
            EventOutcome::kApplied);
  EXPECT_EQ(engine_.Apply(b_.Queued("c2", kT0 + absl::Seconds(70))), EventOutcome::kApplied);
  EXPECT_EQ(engine_.Apply(b_.Queued("c2", kT0 + absl::Seconds(70))), EventOutcome::kConflict);
  EXPECT_EQ(c.offered, 2);
  // Held without a wait, resolved by its queued event: that one too.
  EXPECT_EQ(engine_.Apply(b_.Abandoned("c3", kT0 + absl::Seconds(100))), EventOutcome::kHeld);
  EXPECT_EQ(engine_.Apply(b_.Queued("c3", kT0 + absl::Seconds(95))), EventOutcome::kApplied);
  EXPECT_EQ(engine_.Apply(b_.Queued("c3", kT0 + absl::Seconds(95))), EventOutcome::kConflict);
  EXPECT_EQ(c.offered, 3);
  EXPECT_EQ(c.abandoned, 1);
  EXPECT_EQ(engine_.SetAsideCounts().at("conflict"), 4);
  // A later queued event is still a second visit.
  EXPECT_EQ(engine_.Apply(b_.Queued("c1", kT0 + absl::Seconds(120))), EventOutcome::kApplied);
  EXPECT_EQ(c.offered, 4);
  EXPECT_EQ(line().calls_waiting(), 1);
}

// An exit held after a closed visit is matched only by a queued event of a
// later visit stamped no later than it: the closed visit's own late queued
// event, or a queued event after the exit (the call queued again, for
// real, after a spurious exit), is not its own.
TEST_F(LineStateTest, AHeldExitIsMatchedOnlyByALaterVisitsQueuedEvent) {
  const window::Counters& c = line().totals().counters;
  // Visit 1's answer first (with its wait), then an answer after it.
  ASSERT_EQ(engine_.Apply(b_.Answered("a", kT0 + absl::Seconds(10), absl::Seconds(5))),
            EventOutcome::kApplied);
  ASSERT_EQ(engine_.Apply(b_.Answered("a", kT0 + absl::Seconds(50))), EventOutcome::kHeld);
  // Visit 1's own queued event, late: not the held answer's.
  EXPECT_EQ(engine_.Apply(b_.Queued("a", kT0 + absl::Seconds(5))), EventOutcome::kApplied);
  EXPECT_EQ(c.answered, 1);
  EXPECT_EQ(c.sum_wait_answered_ns, 5'000'000'000);
  // Visit 2's queued event: the held answer's.
  EXPECT_EQ(engine_.Apply(b_.Queued("a", kT0 + absl::Seconds(20))), EventOutcome::kApplied);
  EXPECT_EQ(c.offered, 2);
  EXPECT_EQ(c.answered, 2);
  EXPECT_EQ(c.sum_wait_answered_ns, 5'000'000'000 + 30'000'000'000);
  EXPECT_EQ(line().calls_waiting(), 0);

  // A spurious abandon after a visit, then the call really queued again
  // after it: that visit waits, and its own answer closes it.
  ASSERT_EQ(engine_.Apply(b_.Queued("b", kT0 + absl::Seconds(60))), EventOutcome::kApplied);
  ASSERT_EQ(engine_.Apply(b_.Answered("b", kT0 + absl::Seconds(70))), EventOutcome::kApplied);
  ASSERT_EQ(engine_.Apply(b_.Abandoned("b", kT0 + absl::Seconds(80))), EventOutcome::kHeld);
  EXPECT_EQ(engine_.Apply(b_.Queued("b", kT0 + absl::Seconds(90))), EventOutcome::kApplied);
  EXPECT_EQ(line().calls_waiting(), 1);
  EXPECT_EQ(engine_.Apply(b_.Answered("b", kT0 + absl::Seconds(100))), EventOutcome::kApplied);
  EXPECT_EQ(line().calls_waiting(), 0);
  EXPECT_EQ(c.offered, 4);
  EXPECT_EQ(c.answered, 4);
  EXPECT_EQ(c.abandoned, 0);
  EXPECT_EQ(c.sum_wait_answered_ns,
            5'000'000'000 + 30'000'000'000 + 10'000'000'000 + 10'000'000'000);
  engine_.AdvanceTo(kT0 + absl::Minutes(5));
  EXPECT_EQ(engine_.SetAsideCounts().at("conflict"), 1);  // the spurious abandon
  EXPECT_EQ(c.abandoned, 0);
}

TEST_F(LineStateTest, RepeatedQueuedForOpenCallIsAConflict) {
  engine_.Apply(b_.Queued("c1", kT0));
  EXPECT_EQ(engine_.Apply(b_.Queued("c1", kT0 + absl::Seconds(1))), EventOutcome::kConflict);
  EXPECT_EQ(line().calls_waiting(), 1);
  EXPECT_EQ(line().totals().counters.offered, 1);
}

TEST_F(LineStateTest, FarFutureEventDoesNotFastForwardTheClock) {
  engine_.Apply(b_.Queued("c1", kT0));
  EXPECT_EQ(engine_.Apply(b_.Queued("c2", kT0 + absl::Hours(24 * 365))),
            EventOutcome::kTooFarAhead);
  EXPECT_EQ(engine_.now(), kT0);
  EXPECT_EQ(engine_.SetAsideCounts().at("too_far_ahead"), 1);
}

// The limit moves with the clock: an event a little under max_clock_jump
// (a week) ahead of a clock that has moved on since is applied, one just
// over it is not.
TEST_F(LineStateTest, ClockJumpLimitFollowsTheClock) {
  const absl::Duration week = absl::Hours(24 * 7);
  engine_.Apply(b_.Queued("c1", kT0));
  engine_.Apply(b_.Queued("c2", kT0 + absl::Seconds(1)));
  engine_.Apply(b_.Queued("c3", kT0 + absl::Hours(24 * 6)));
  const absl::Time now = engine_.now();
  EXPECT_EQ(engine_.Apply(b_.Queued("c4", now + week + absl::Seconds(1))),
            EventOutcome::kTooFarAhead);
  EXPECT_EQ(engine_.Apply(b_.Queued("c5", now + week)), EventOutcome::kApplied);
  EXPECT_EQ(engine_.now(), now + week);
  EXPECT_EQ(engine_.SetAsideCounts().at("too_far_ahead"), 1);
}

// Quiescent once the newest event is more than the longest window plus two
// buckets old, and not again after a newer event.
TEST_F(LineStateTest, QuiescentOnceTheNewestEventLeftEveryWindow) {
  const window::SlidingWindows& w = line().windows();
  const absl::Duration after = w.window(w.num_windows() - 1) + 2 * w.bucket_width();
  engine_.Apply(
      b_.Agent("a1", kT0, tidewatch::v1::AGENT_STATUS_AVAILABLE, tidewatch::v1::AGENT_ORIGIN_CSC));
  EXPECT_FALSE(line().QuiescentAt(kT0 + after));
  EXPECT_TRUE(line().QuiescentAt(kT0 + after + absl::Nanoseconds(1)));
  engine_.Apply(b_.Agent("a1", kT0 + absl::Minutes(5), tidewatch::v1::AGENT_STATUS_ON_CALL,
                         tidewatch::v1::AGENT_ORIGIN_CSC));
  EXPECT_FALSE(line().QuiescentAt(kT0 + after + absl::Nanoseconds(1)));
  EXPECT_FALSE(line().QuiescentAt(kT0 + absl::Minutes(5) + after));
  EXPECT_TRUE(line().QuiescentAt(kT0 + absl::Minutes(5) + after + absl::Nanoseconds(1)));
}

TEST_F(LineStateTest, WaitingCallsLostByTheFeedExpire) {
  engine_.Apply(b_.Queued("c1", kT0));
  engine_.AdvanceTo(kT0 + absl::Hours(9));
  EXPECT_EQ(line().calls_waiting(), 0);
  EXPECT_EQ(engine_.SetAsideCounts().at("expired_waiting"), 1);
}

TEST_F(LineStateTest, AgentsByStateAndOrigin) {
  using namespace tidewatch::v1;
  engine_.Apply(b_.Agent("a1", kT0, AGENT_STATUS_AVAILABLE, AGENT_ORIGIN_CSC));
  engine_.Apply(b_.Agent("a2", kT0, AGENT_STATUS_AVAILABLE, AGENT_ORIGIN_BACK_OFFICE));
  engine_.Apply(
      b_.Agent("a2", kT0 + absl::Seconds(5), AGENT_STATUS_ON_CALL, AGENT_ORIGIN_BACK_OFFICE));
  const auto& a = line().agents();
  EXPECT_EQ(a.InState(AGENT_STATUS_AVAILABLE), 1);
  EXPECT_EQ(a.n[AGENT_STATUS_ON_CALL][AGENT_ORIGIN_BACK_OFFICE], 1);
  EXPECT_EQ(a.LoggedIn(), 2);
  // An older state for a2 arriving late does not overwrite the newer one.
  EXPECT_EQ(engine_.Apply(b_.Agent("a2", kT0 + absl::Seconds(2), AGENT_STATUS_AWAY,
                                   AGENT_ORIGIN_BACK_OFFICE)),
            EventOutcome::kConflict);
  EXPECT_EQ(a.n[AGENT_STATUS_ON_CALL][AGENT_ORIGIN_BACK_OFFICE], 1);
  EXPECT_EQ(engine_.SetAsideCounts().at("stale_agent_event"), 1);
  engine_.Apply(b_.Agent("a1", kT0 + absl::Seconds(9), AGENT_STATUS_LOGGED_OUT, AGENT_ORIGIN_CSC));
  EXPECT_EQ(a.LoggedIn(), 1);
}

}  // namespace
}  // namespace tidewatch::engine
