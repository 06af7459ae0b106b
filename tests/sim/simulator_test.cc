// The simulator: determinism, well-formed and self-consistent event
// streams, scripted help, closing time, call-backs, timeouts, repeat calls.
#include "sim/simulator.h"

#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "events/events.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scenario_snippets.h"
#include "sim/event_sink.h"
#include "sim/scenario.h"
#include "sim_test_util.h"

namespace tidewatch::sim {
namespace {

using testing::CheckStream;
using ::testing::Contains;
using testing::ExpectSummaryMatches;
using ::testing::Gt;
using testing::kDailyCapMondaySurgeError;
using testing::kDailyCapScenario;
using testing::LoadOrDie;
using testing::ParseOrDie;
using testing::RunScenario;
using tidewatch::v1::CallEvent;

absl::Time Utc(int y, int m, int d, int hh, int mm, int ss = 0) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, ss), absl::UTCTimeZone());
}

std::string Generate(const Scenario& scenario, uint64_t seed, Summary* summary = nullptr) {
  StringSink sink;
  SimOptions options;
  options.seed = seed;
  absl::StatusOr<Summary> s = Simulate(scenario, options, sink);
  EXPECT_TRUE(s.ok()) << s.status();
  if (summary != nullptr && s.ok()) *summary = *s;
  return sink.text();
}

TEST(SimulatorTest, SameSeedGivesByteIdenticalOutput) {
  for (const char* name : {"normal-monday.yaml", "council-tax-summons.yaml"}) {
    const Scenario scenario = LoadOrDie(name);
    Summary s1, s2;
    const std::string a = Generate(scenario, 7, &s1);
    const std::string b = Generate(scenario, 7, &s2);
    EXPECT_GT(a.size(), 100000u) << name;
    EXPECT_TRUE(a == b) << name;
    EXPECT_EQ(SummaryToJson(s1), SummaryToJson(s2));
    const std::string c = Generate(scenario, 8);
    EXPECT_NE(a, c) << name;
  }
}

TEST(SimulatorTest, EventIdsAreSequentialPerSeed) {
  const testing::SimRun run = RunScenario(LoadOrDie("stationary-erlang-a.yaml"), 42);
  ASSERT_FALSE(run.events.empty());
  for (size_t i = 0; i < run.events.size(); ++i) {
    ASSERT_EQ(run.events[i].event_id(), absl::StrCat("sim-42-20221003-", i));
  }
  EXPECT_EQ(run.summary.events, static_cast<int64_t>(run.events.size()));
  for (const CallEvent& e : run.events) {
    if (e.has_queued()) {
      EXPECT_TRUE(absl::StartsWith(e.call_id(), "sim-42-20221003-c")) << e.call_id();
    }
  }
}

TEST(SimulatorTest, StreamsAreConsistentAndMatchTheSummary) {
  for (const char* name :
       {"normal-monday.yaml", "council-tax-summons.yaml", "stationary-erlang-a.yaml"}) {
    SCOPED_TRACE(name);
    const testing::SimRun run = RunScenario(LoadOrDie(name), 3);
    const auto counted = CheckStream(run.events);
    ExpectSummaryMatches(run.summary, counted);
    EXPECT_EQ(run.summary.first_event_time, events::EventTime(run.events.front()));
    EXPECT_EQ(run.summary.last_event_time, events::EventTime(run.events.back()));
    // Totals add up.
    int64_t offered = 0;
    for (const LineSummary& l : run.summary.lines) {
      EXPECT_EQ(l.offered, l.answered + l.abandoned + l.callbacks_requested + l.left_queue)
          << l.line_id;
      offered += l.offered;
    }
    EXPECT_EQ(run.summary.total.offered, offered);
  }
}

TEST(SimulatorTest, CallsArriveOnlyWhileLinesAreOpen) {
  const testing::SimRun run = RunScenario(LoadOrDie("normal-monday.yaml"), 5);
  // 2022-10-03 is in British Summer Time: 08:30-17:30 local is 07:30-16:30Z.
  int queued = 0;
  for (const CallEvent& e : run.events) {
    if (!e.has_queued()) continue;
    ++queued;
    const absl::Time t = events::EventTime(e);
    EXPECT_GE(t, Utc(2022, 10, 3, 7, 30));
    EXPECT_LT(t, Utc(2022, 10, 3, 16, 30));
  }
  // About 1,850 calls on an average weekday, x1.2 on a Monday, plus repeats.
  EXPECT_GT(queued, 1900);
  EXPECT_LT(queued, 2700);
}

TEST(SimulatorTest, ScriptedHelpJoinsWithItsOrigin) {
  const testing::SimRun run = RunScenario(LoadOrDie("council-tax-summons.yaml"), 1);
  std::set<std::string> back_office;
  std::set<std::string> answered_by;
  absl::Time first_login = absl::InfiniteFuture();
  absl::Time last_logout = absl::InfinitePast();
  for (const CallEvent& e : run.events) {
    if (e.has_answered()) answered_by.insert(e.answered().agent_id());
    if (!e.has_agent_state()) continue;
    const auto& s = e.agent_state();
    if (absl::StrContains(s.agent_id(), "-csc-")) {
      EXPECT_EQ(s.origin(), tidewatch::v1::AGENT_ORIGIN_CSC) << s.agent_id();
      continue;
    }
    EXPECT_EQ(s.origin(), tidewatch::v1::AGENT_ORIGIN_BACK_OFFICE) << s.agent_id();
    EXPECT_EQ(e.line_id(), "revenues");
    EXPECT_TRUE(absl::StartsWith(s.agent_id(), "revenues-back-office-")) << s.agent_id();
    back_office.insert(s.agent_id());
    const absl::Time t = events::EventTime(e);
    if (s.state() == tidewatch::v1::AGENT_STATUS_AVAILABLE) first_login = std::min(first_login, t);
    if (s.state() == tidewatch::v1::AGENT_STATUS_LOGGED_OUT) last_logout = std::max(last_logout, t);
  }
  EXPECT_EQ(back_office.size(), 8u);
  // Acknowledged at 10:00 BST, ETA 20 minutes: logged in at 09:20Z, for 5h.
  EXPECT_EQ(first_login, Utc(2022, 10, 3, 9, 20));
  EXPECT_GE(last_logout, Utc(2022, 10, 3, 14, 20));
  EXPECT_LT(last_logout, Utc(2022, 10, 3, 14, 40));  // after finishing their last call
  for (const std::string& agent : back_office) EXPECT_THAT(answered_by, Contains(agent));
  EXPECT_EQ(run.summary.lines[0].line_id, "revenues");
  EXPECT_EQ(run.summary.lines[0].agents_by_origin[tidewatch::v1::AGENT_ORIGIN_BACK_OFFICE], 8);
}

// Mean wait (answered + abandoned) of revenues calls leaving the queue in
// [from, to): the engine's avg_wait over that window.
double AvgWait(const std::vector<CallEvent>& events, absl::Time from, absl::Time to) {
  double sum = 0;
  int n = 0;
  for (const CallEvent& e : events) {
    if (e.line_id() != "revenues") continue;
    const absl::Time t = events::EventTime(e);
    if (t < from || t >= to) continue;
    if (e.has_answered()) {
      sum += absl::ToDoubleSeconds(testing::ToDuration(e.answered().wait()));
      ++n;
    } else if (e.has_abandoned()) {
      sum += absl::ToDoubleSeconds(testing::ToDuration(e.abandoned().wait()));
      ++n;
    }
  }
  return n == 0 ? 0 : sum / n;
}

TEST(SimulatorTest, TheTideRecedesWhenHelpArrives) {
  const Scenario with_help = LoadOrDie("council-tax-summons.yaml");
  Scenario without_help = with_help;
  without_help.reinforcements.clear();
  // Help logs in at 10:20 BST (09:20Z).
  const absl::Time surge_from = Utc(2022, 10, 3, 7, 45), help = Utc(2022, 10, 3, 9, 20);
  const absl::Time later_from = Utc(2022, 10, 3, 9, 35), later_to = Utc(2022, 10, 3, 10, 35);
  for (uint64_t seed : {1, 2, 3, 4, 5, 6}) {
    SCOPED_TRACE(seed);
    const testing::SimRun run = RunScenario(with_help, seed);
    // The same seed gives the same callers (per-line random streams), so
    // the run without help differs only in who answers.
    const testing::SimRun control = RunScenario(without_help, seed);
    const double before = AvgWait(run.events, surge_from, help);
    EXPECT_EQ(before, AvgWait(control.events, surge_from, help));
    EXPECT_GT(before, 120);
    const double after = AvgWait(run.events, later_from, later_to);
    const double unhelped = AvgWait(control.events, later_from, later_to);
    EXPECT_LT(after, 75);
    EXPECT_GT(unhelped, 75);
    EXPECT_GT(unhelped, 2 * after);
  }
  // A normal Monday's revenues line is calm while the summons day surges.
  const testing::SimRun calm = RunScenario(LoadOrDie("normal-monday.yaml"), 1);
  EXPECT_LT(AvgWait(calm.events, surge_from, help), 60);
}

TEST(SimulatorTest, BreaksShowAsAway) {
  const testing::SimRun run = RunScenario(LoadOrDie("normal-monday.yaml"), 2);
  std::map<std::string, int> away;
  for (const CallEvent& e : run.events) {
    if (e.has_agent_state() && e.agent_state().state() == tidewatch::v1::AGENT_STATUS_AWAY) {
      ++away[e.line_id() + "/" + e.agent_state().agent_id()];
    }
  }
  // revenues: 7 full-day agents take one 30-minute break each.
  int revenues = 0;
  for (const auto& [agent, n] : away) {
    EXPECT_EQ(n, 1) << agent;
    if (absl::StartsWith(agent, "revenues/")) ++revenues;
  }
  EXPECT_EQ(revenues, 7);
}

// One line open 09:00-10:00 with far more calls than one agent can take.
std::string Overloaded(const std::string& extra) {
  return absl::StrCat(R"(name: overloaded
date: 2022-10-03
defaults:
  opening_hours:
    weekly:
      - {days: [mon, tue, wed, thu, fri], open: "09:00", close: "10:00"}
lines:
  revenues:
    calls_per_hour: 60
    intraday: flat
    day_of_week: flat
    talk: {distribution: constant, value: 240s}
    wrap: {distribution: constant, value: 30s}
    patience: {distribution: exponential, mean: 1800s}
    staffing:
      - {from: "09:00", to: "10:00", agents: 1}
)",
                      extra);
}

TEST(SimulatorTest, AtCloseServeClearsTheQueue) {
  const testing::SimRun run = RunScenario(ParseOrDie(Overloaded("    at_close: serve\n")), 1);
  CheckStream(run.events);
  const absl::Time close = Utc(2022, 10, 3, 9, 0);  // 10:00 BST
  int answered_after_close = 0;
  absl::Time logout = absl::InfinitePast();
  for (const CallEvent& e : run.events) {
    const absl::Time t = events::EventTime(e);
    if (e.has_queued()) {
      EXPECT_LT(t, close);
    }
    if (e.has_answered() && t > close) ++answered_after_close;
    if (e.has_agent_state() && e.agent_state().state() == tidewatch::v1::AGENT_STATUS_LOGGED_OUT) {
      logout = t;
    }
  }
  EXPECT_GT(answered_after_close, 0);
  EXPECT_GT(logout, close);  // stayed on until the queue was empty
  const LineSummary& l = run.summary.lines[0];
  EXPECT_EQ(l.left_queue, 0);
  EXPECT_EQ(l.offered, l.answered + l.abandoned);
}

TEST(SimulatorTest, AtCloseOverflowSendsWaitingCallsOutOfHours) {
  const testing::SimRun run = RunScenario(ParseOrDie(Overloaded("    at_close: overflow\n")), 1);
  CheckStream(run.events);
  const absl::Time close = Utc(2022, 10, 3, 9, 0);
  int overflowed = 0;
  for (const CallEvent& e : run.events) {
    if (!e.has_left_queue()) continue;
    EXPECT_EQ(e.left_queue().reason(), tidewatch::v1::LEFT_QUEUE_REASON_OVERFLOW);
    EXPECT_EQ(events::EventTime(e), close);
    ++overflowed;
  }
  EXPECT_GT(overflowed, 10);
  EXPECT_EQ(run.summary.lines[0].left_queue, overflowed);
}

TEST(SimulatorTest, QueueTimeoutAndCallBacks) {
  const testing::SimRun run = RunScenario(
      ParseOrDie(
          Overloaded("    queue_timeout: 15m\n    callback: {offer_after: 5m, uptake: 0.3}\n")),
      1);
  const auto counted = CheckStream(run.events);
  ExpectSummaryMatches(run.summary, counted);
  int timeouts = 0, callbacks = 0;
  for (const CallEvent& e : run.events) {
    if (e.has_left_queue()) {
      EXPECT_EQ(e.left_queue().reason(), tidewatch::v1::LEFT_QUEUE_REASON_TIMEOUT);
      ++timeouts;
    }
    if (e.has_callback_requested()) ++callbacks;
  }
  EXPECT_GT(timeouts, 0);
  EXPECT_GT(callbacks, 0);
  const LineSummary& l = run.summary.lines[0];
  // Nobody is free to call back while the queue is full; whatever is left
  // at the end is counted as unserved.
  EXPECT_EQ(l.callbacks_served + l.callbacks_unserved, l.callbacks_requested);
}

TEST(SimulatorTest, CallBacksAreMadeWhenTheQueueIsEmpty) {
  const std::string yaml = R"(date: 2022-10-03
lines:
  revenues:
    calls_per_hour: 30
    talk: {distribution: constant, value: 200s}
    wrap: 0s
    patience: {distribution: constant, value: 3000s}
    callback: {offer_after: 60s, uptake: 1}
    staffing:
      - {from: "08:30", to: "17:30", agents: 2}
)";
  const testing::SimRun run = RunScenario(ParseOrDie(yaml), 4);
  CheckStream(run.events);
  const LineSummary& l = run.summary.lines[0];
  EXPECT_GT(l.callbacks_requested, 0);
  EXPECT_GT(l.callbacks_served, 0);
  EXPECT_EQ(l.abandoned, 0);
}

// The summary's max_wait is the KPI max_wait_seconds (docs/metrics.md):
// over answered and abandoned calls, not call-backs or left_queue, whose
// waits here are all longer.
TEST(SimulatorTest, MaxWaitCountsAnsweredAndAbandonedCallsOnly) {
  const std::string yaml = R"(date: 2022-10-03
lines:
  revenues:
    calls_per_hour: 60
    talk: {distribution: constant, value: 30s}
    wrap: 0s
    patience: {distribution: constant, value: 1h}
    ivr_abandon: {share: 0.5, from: 10s, to: 20s}
    callback: {offer_after: 40s, uptake: 0.5}
    queue_timeout: 60s
    staffing: []
)";
  const testing::SimRun run = RunScenario(ParseOrDie(yaml), 3);
  const auto counted = CheckStream(run.events);
  ExpectSummaryMatches(run.summary, counted);
  const LineSummary& l = run.summary.lines[0];
  ASSERT_GT(l.abandoned, 0);
  ASSERT_GT(l.callbacks_requested, 0);
  ASSERT_GT(l.left_queue, 0);
  EXPECT_GE(l.max_wait_ms, 10000);
  EXPECT_LT(l.max_wait_ms, 20000);  // call-backs waited 40 s, time-outs 60 s
  EXPECT_EQ(run.summary.total.max_wait_ms, l.max_wait_ms);
}

// A start date whose run could write event times outside the events
// contract's [2000-01-01, 2100-01-01) is refused before anything is written.
// The Erlang A line closes at 16:30 and its longest wait and talk are 7 days
// each (exponential, clamped), so 2099-12-17 is the last day that fits.
TEST(SimulatorTest, StartDateOutsideTheEventTimeRangeIsRefused) {
  const Scenario scenario = LoadOrDie("stationary-erlang-a.yaml");
  for (const absl::CivilDay day : {absl::CivilDay(2099, 12, 18), absl::CivilDay(1999, 12, 31)}) {
    SCOPED_TRACE(absl::FormatCivilTime(day));
    CollectingSink sink;
    SimOptions options;
    options.start_date = day;
    absl::StatusOr<Summary> s = Simulate(scenario, options, sink);
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(sink.events().empty());
  }
  CollectingSink sink;
  SimOptions options;
  options.start_date = absl::CivilDay(2099, 12, 17);
  ASSERT_TRUE(Simulate(scenario, options, sink).ok());
  ASSERT_FALSE(sink.events().empty());
  EXPECT_LT(events::EventTime(sink.events().back()), Utc(2100, 1, 1, 0, 0));
}

// The simulator never writes an event the events validator refuses, even
// for extreme scenarios: talk, wrap and patience samples are clamped to the
// contract's 7 days, and the run's dates leave room for the longest tail.
TEST(SimulatorTest, ExtremeDurationsWriteOnlyValidEvents) {
  const std::string yaml = R"(date: 2099-12-10
lines:
  slow:
    calls_per_day: 40
    talk: {distribution: exponential, mean: 100h}
    wrap: {distribution: exponential, mean: 100h}
    patience: 168h
    staffing:
      - {from: "08:30", to: "17:30", agents: 40}
  unstaffed:
    calls_per_day: 40
    patience: {distribution: exponential, mean: 100h}
    staffing: []
)";
  const Scenario scenario = ParseOrDie(yaml);
  // The last weekday that fits: 17:30 plus 7 days of wait, talk and wrap.
  EXPECT_TRUE(CheckRun(scenario, absl::CivilDay(2099, 12, 10)).ok());
  EXPECT_EQ(std::string(CheckRun(scenario, absl::CivilDay(2099, 12, 11)).message()),
            "2099-12-11 for 1 day in Europe/London does not fit the events' event_time range "
            "[2000-01-01, 2100-01-01) UTC: the last event could be at 2100-01-01T17:30:00Z (the "
            "last closing, shift or reinforcement end of line slow, 2099-12-11T17:30:00Z, plus "
            "its longest wait, talk and wrap, 504h)");
  const testing::SimRun run = RunScenario(scenario, 3);
  ASSERT_FALSE(run.events.empty());
  int rejected = 0, week_talks = 0, week_waits = 0;
  const google::protobuf::Duration week = [] {
    google::protobuf::Duration d;
    d.set_seconds(7 * 24 * 3600);
    return d;
  }();
  for (const CallEvent& e : run.events) {
    if (!events::ValidateEvent(e).ok()) ++rejected;
    if (e.has_completed() && e.completed().talk().seconds() == week.seconds() &&
        e.completed().talk().nanos() == 0) {
      ++week_talks;
    }
    if (e.has_abandoned() && e.abandoned().wait().seconds() == week.seconds() &&
        e.abandoned().wait().nanos() == 0) {
      ++week_waits;
    }
  }
  EXPECT_EQ(rejected, 0);
  EXPECT_EQ(week_talks, 11);
  EXPECT_EQ(week_waits, 9);
  EXPECT_LT(events::EventTime(run.events.back()), Utc(2100, 1, 1, 0, 0));
  CheckStream(run.events);
}

// A start date is held to the expected-calls cap on the days it simulates:
// here day 2 becomes a Monday (x12) with its surge.
TEST(SimulatorTest, StartDateIsHeldToTheDailyCap) {
  const Scenario scenario = ParseOrDie(kDailyCapScenario);
  CollectingSink sink;
  SimOptions options;
  options.start_date = absl::CivilDay(2022, 10, 9);
  absl::StatusOr<Summary> s = Simulate(scenario, options, sink);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(s.status().message()),
            absl::StrCat("start date: ", kDailyCapMondaySurgeError));
  EXPECT_TRUE(sink.events().empty());
}

// Live reinforcements are not sent once the last simulated day has ended
// (CheckRunDates allows them a day after it, no more).
TEST(SimulatorTest, LiveReinforcementsStopWithTheLastDay) {
  // One agent for 200 calls of callers who wait up to 8 hours: the
  // clear-down runs past midnight, when the last day ends.
  const Scenario scenario = ParseOrDie(R"(lines:
  revenues:
    calls_per_day: 200
    patience: 8h
    at_close: serve
    staffing:
      - {from: "08:30", to: "17:30", agents: 1}
)");
  const absl::Time run_end = Utc(2022, 10, 3, 23, 0);  // midnight in London (BST)
  int steps = 0;
  absl::Time last_step;
  SimOptions options;
  options.live_reinforcements = [&](absl::Time now) {
    last_step = now;
    std::vector<Reinforcement> out;
    if (++steps % 50 == 0) {
      Reinforcement rf;
      rf.line_id = "revenues";
      rf.eta = 60;
      rf.duration = 600;
      rf.agents = 1;
      rf.origin = tidewatch::v1::AGENT_ORIGIN_CASUAL;
      out.push_back(rf);
    }
    return out;
  };
  CollectingSink sink;
  ASSERT_TRUE(Simulate(scenario, options, sink).ok());
  ASSERT_GT(last_step, run_end + absl::Hours(1));  // pages kept coming after midnight
  int live_logins = 0, late_logins = 0;
  for (const CallEvent& e : sink.events()) {
    if (!e.has_agent_state() || !absl::StrContains(e.agent_state().agent_id(), "-live-") ||
        e.agent_state().state() != tidewatch::v1::AGENT_STATUS_AVAILABLE) {
      continue;
    }
    ++live_logins;
    if (events::EventTime(e) > run_end + absl::Seconds(60) + absl::Seconds(600)) ++late_logins;
  }
  EXPECT_GT(live_logins, 0);
  EXPECT_EQ(late_logins, 0);
}

TEST(SimulatorTest, RepeatCallersKeepTheirCallerKey) {
  const std::string yaml = R"(date: 2022-10-03
lines:
  revenues:
    calls_per_hour: 40
    talk: {distribution: exponential, mean: 300s}
    wrap: 0s
    patience: {distribution: exponential, mean: 60s}
    repeat:
      share: 1
      delay: {distribution: constant, value: 20m}
    staffing:
      - {from: "08:30", to: "17:30", agents: 2}
)";
  const testing::SimRun run = RunScenario(ParseOrDie(yaml), 9);
  CheckStream(run.events);
  std::map<std::string, std::string> key_of_call;
  std::set<std::string> abandoned_keys;
  std::set<std::string> keys;
  int repeats_seen = 0;
  for (const CallEvent& e : run.events) {
    if (e.has_queued()) {
      const std::string& key = e.queued().caller_key();
      for (char ch : key) EXPECT_TRUE(absl::ascii_isxdigit(ch)) << key;
      if (!keys.insert(key).second) {
        ++repeats_seen;
        EXPECT_THAT(abandoned_keys, Contains(key));
      }
      key_of_call[e.call_id()] = key;
    }
    if (e.has_abandoned()) abandoned_keys.insert(key_of_call[e.call_id()]);
  }
  const LineSummary& l = run.summary.lines[0];
  EXPECT_GT(l.repeat_calls, 10);
  EXPECT_EQ(repeats_seen, l.repeat_calls);
  EXPECT_EQ(static_cast<int64_t>(keys.size()), l.offered - l.repeat_calls);
  // Everyone who abandoned calls again, unless the redial falls after close
  // or they have already rung back kMaxRepeatCallsPerCaller times.
  EXPECT_EQ(l.abandoned, l.repeat_calls + l.repeats_beyond_horizon + l.repeats_given_up);
  std::map<std::string, int> calls_of_key;
  for (const auto& [call, key] : key_of_call) ++calls_of_key[key];
  for (const auto& [key, n] : calls_of_key) {
    EXPECT_LE(n, 1 + kMaxRepeatCallsPerCaller) << key;
  }
}

// Keeps the events, but refuses any beyond `limit`, so that a run that
// would never end stops (with an error) instead of hanging the test.
class BoundedSink : public EventSink {
 public:
  explicit BoundedSink(size_t limit) : limit_(limit) {}
  absl::Status Write(const CallEvent& e) override {
    if (events_.size() >= limit_) return absl::ResourceExhaustedError("too many events");
    events_.push_back(e);
    return absl::OkStatus();
  }
  const std::vector<CallEvent>& events() const { return events_; }

 private:
  size_t limit_;
  std::vector<CallEvent> events_;
};

// Patience 0 s, repeat share 1 and delay 0 s, nobody answering: every call
// abandons the instant it is queued and its caller rings back that same
// instant. Without a bound on repeat calls per caller the simulated clock
// never moves on (a run without end); with it, each caller makes exactly
// 1 + kMaxRepeatCallsPerCaller calls, all at the instant of the first.
TEST(SimulatorTest, ImmediateRepeatCallsAreBoundedPerCaller) {
  const Scenario scenario = ParseOrDie(R"(date: 2022-10-03
lines:
  revenues:
    calls_per_hour: 20
    patience: 0s
    repeat:
      share: 1
      delay: 0s
    staffing:
      - {from: "08:30", to: "17:30", agents: 0}
)");
  auto run = [&](BoundedSink& sink) {
    SimOptions options;
    options.seed = 5;
    return Simulate(scenario, options, sink);
  };
  // About 180 callers of 11 calls, two events each: far below the limit.
  BoundedSink sink(200000);
  const absl::StatusOr<Summary> summary = run(sink);
  ASSERT_TRUE(summary.ok()) << summary.status();
  CheckStream(sink.events());
  const LineSummary& l = summary->lines[0];
  const int64_t callers = l.offered - l.repeat_calls;
  EXPECT_GT(callers, 100);
  EXPECT_EQ(l.repeat_calls, callers * kMaxRepeatCallsPerCaller);
  EXPECT_EQ(l.abandoned, l.offered);
  EXPECT_EQ(l.repeats_given_up, callers);
  EXPECT_EQ(l.repeats_beyond_horizon, 0);

  std::map<std::string, int> calls_of_key;
  std::map<std::string, absl::Time> first_call_of_key;
  for (const CallEvent& e : sink.events()) {
    if (!e.has_queued()) continue;
    const std::string& key = e.queued().caller_key();
    ++calls_of_key[key];
    first_call_of_key.emplace(key, events::EventTime(e));
    EXPECT_EQ(events::EventTime(e), first_call_of_key[key]) << key;
  }
  EXPECT_EQ(static_cast<int64_t>(calls_of_key.size()), callers);
  for (const auto& [key, n] : calls_of_key) {
    EXPECT_EQ(n, 1 + kMaxRepeatCallsPerCaller) << key;
  }

  // The same seed gives the same run.
  BoundedSink again(200000);
  const absl::StatusOr<Summary> summary2 = run(again);
  ASSERT_TRUE(summary2.ok()) << summary2.status();
  ASSERT_EQ(again.events().size(), sink.events().size());
  for (size_t i = 0; i < sink.events().size(); ++i) {
    ASSERT_EQ(again.events()[i].SerializeAsString(), sink.events()[i].SerializeAsString()) << i;
  }
  EXPECT_EQ(SummaryToJson(*summary2), SummaryToJson(*summary));
}

TEST(SimulatorTest, CallerKeysDependOnTheSeedNotOnNumbers) {
  const Scenario scenario = LoadOrDie("stationary-erlang-a.yaml");
  auto first_key = [&](uint64_t seed) {
    for (const CallEvent& e : RunScenario(scenario, seed).events) {
      if (e.has_queued()) return e.queued().caller_key();
    }
    return std::string();
  };
  EXPECT_NE(first_key(1), first_key(2));
  EXPECT_EQ(first_key(1).find("447"), std::string::npos);
}

TEST(SimulatorTest, WeeksSkipClosedDaysAndStartDateOverrides) {
  std::string yaml = R"(date: 2022-10-03
days: 7
lines:
  waste:
    calls_per_day: 50
    staffing:
      - {from: "08:30", to: "17:30", agents: 2}
)";
  const Scenario scenario = ParseOrDie(yaml);
  const testing::SimRun run = RunScenario(scenario, 1);
  CheckStream(run.events);
  std::set<int> days;
  for (const CallEvent& e : run.events) {
    const absl::CivilDay day = absl::ToCivilDay(events::EventTime(e), absl::UTCTimeZone());
    days.insert(static_cast<int>(day.day()));
  }
  EXPECT_EQ(days, (std::set<int>{3, 4, 5, 6, 7}));  // Monday to Friday

  CollectingSink sink;
  SimOptions options;
  options.seed = 1;
  options.start_date = absl::CivilDay(2022, 11, 7);  // a Monday in GMT
  ASSERT_TRUE(Simulate(scenario, options, sink).ok());
  ASSERT_FALSE(sink.events().empty());
  // 08:30 GMT is 08:30Z: the first agents log in then.
  EXPECT_EQ(events::EventTime(sink.events().front()), Utc(2022, 11, 7, 8, 30));
}

TEST(SimulatorTest, SurgesMultiplyDemandInTheirWindow) {
  const std::string yaml = R"(date: 2022-10-03
lines:
  waste:
    calls_per_hour: 100
    intraday: flat
    day_of_week: flat
    staffing:
      - {from: "08:30", to: "17:30", agents: 40}
surges:
  - {name: heavy rain, line: waste, from: "12:00", to: "13:00", multiplier: 5}
)";
  const testing::SimRun run = RunScenario(ParseOrDie(yaml), 11);
  int in_surge = 0, before = 0;
  for (const CallEvent& e : run.events) {
    if (!e.has_queued()) continue;
    const absl::Time t = events::EventTime(e);
    if (t >= Utc(2022, 10, 3, 11, 0) && t < Utc(2022, 10, 3, 12, 0)) ++in_surge;
    if (t >= Utc(2022, 10, 3, 9, 0) && t < Utc(2022, 10, 3, 10, 0)) ++before;
  }
  EXPECT_NEAR(in_surge, 500, 5 * std::sqrt(500.0));
  EXPECT_NEAR(before, 100, 5 * std::sqrt(100.0));
}

// A sink that fails after a few events.
class FailingSink : public EventSink {
 public:
  absl::Status Write(const CallEvent&) override {
    return ++n_ > 10 ? absl::UnavailableError("disk full") : absl::OkStatus();
  }

 private:
  int n_ = 0;
};

TEST(SimulatorTest, SinkErrorsStopTheRun) {
  FailingSink sink;
  absl::StatusOr<Summary> s = Simulate(LoadOrDie("normal-monday.yaml"), SimOptions(), sink);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable);
}

TEST(SimulatorTest, SummaryJsonAndTable) {
  Summary summary;
  Generate(LoadOrDie("council-tax-summons.yaml"), 1, &summary);
  const std::string json = SummaryToJson(summary);
  EXPECT_THAT(json, ::testing::HasSubstr("\"scenario\": \"Council Tax summons\""));
  EXPECT_THAT(json, ::testing::HasSubstr("{\"line_id\": \"revenues\", \"offered\": "));
  EXPECT_THAT(json, ::testing::HasSubstr("\"total\": {\"line_id\": \"all\""));
  const std::string table = SummaryTable(summary);
  EXPECT_THAT(table, ::testing::HasSubstr("revenues"));
  EXPECT_THAT(table, ::testing::HasSubstr("mean_wait"));
  EXPECT_THAT(summary.total.offered, Gt(2000));
}

}  // namespace
}  // namespace tidewatch::sim
