// Helpers for the simulator tests: run a scenario into memory, and check
// that an event stream is one a telephony platform could have produced.
#ifndef TIDEWATCH_TESTS_SIM_SIM_TEST_UTIL_H_
#define TIDEWATCH_TESTS_SIM_SIM_TEST_UTIL_H_

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "events/events.h"
#include "gtest/gtest.h"
#include "sim/event_sink.h"
#include "sim/scenario.h"
#include "sim/simulator.h"
#include "sim/summary.h"

namespace tidewatch::sim::testing {

inline std::string ScenarioPath(const std::string& name) {
  return absl::StrCat(TIDEWATCH_SOURCE_DIR, "/deploy/scenarios/", name);
}

inline Scenario LoadOrDie(const std::string& name) {
  absl::StatusOr<Scenario> s = LoadScenarioFile(ScenarioPath(name));
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *std::move(s) : Scenario();
}

inline Scenario ParseOrDie(const std::string& yaml) {
  absl::StatusOr<Scenario> s = ParseScenarioYaml(yaml, "test.yaml");
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *std::move(s) : Scenario();
}

// Everything one run produced.
struct SimRun {
  std::vector<tidewatch::v1::CallEvent> events;
  Summary summary;
};

inline SimRun RunScenario(const Scenario& scenario, uint64_t seed) {
  CollectingSink sink;
  SimOptions options;
  options.seed = seed;
  absl::StatusOr<Summary> summary = Simulate(scenario, options, sink);
  EXPECT_TRUE(summary.ok()) << summary.status();
  SimRun run;
  run.events = sink.events();
  if (summary.ok()) run.summary = *summary;
  return run;
}

inline absl::Duration ToDuration(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

// Per-line totals recomputed from the events alone.
struct Counted {
  int64_t offered = 0, answered = 0, abandoned = 0, short_abandoned = 0, callbacks = 0, left = 0,
          completed = 0;
  absl::Duration wait_answered, wait_abandoned, wait_other;
  // Longest wait of an answered or abandoned call (the KPI max_wait).
  absl::Duration max_wait;
};

// Checks the stream's invariants (time order, unique ids, every call's
// life cycle, agents' state machine, validity by the events library) and
// returns per-line totals counted from the events.
inline std::map<std::string, Counted> CheckStream(
    const std::vector<tidewatch::v1::CallEvent>& events) {
  using tidewatch::v1::CallEvent;
  struct CallLife {
    std::string line;
    absl::Time queued = absl::InfinitePast();
    absl::Time outcome = absl::InfinitePast();
    CallEvent::KindCase outcome_kind = CallEvent::KIND_NOT_SET;
    std::string agent;
    absl::Duration talk, wrap;
    bool completed = false;
  };
  std::map<std::string, Counted> counted;
  std::map<std::string, CallLife> calls;
  std::map<std::string, tidewatch::v1::AgentStatus> agents;  // line/agent -> state
  std::set<std::string> event_ids;
  absl::Time last = absl::InfinitePast();
  const CallEvent* previous = nullptr;
  for (const CallEvent& e : events) {
    EXPECT_TRUE(events::ValidateEvent(e).ok()) << events::ValidateEvent(e) << e.DebugString();
    const absl::Time t = events::EventTime(e);
    EXPECT_GE(t, last) << "out of event-time order: " << e.event_id();
    last = t;
    EXPECT_TRUE(event_ids.insert(e.event_id()).second) << "duplicate " << e.event_id();
    EXPECT_EQ(e.source(), "tide-sim");
    Counted& c = counted[e.line_id()];
    if (e.has_agent_state()) {
      EXPECT_TRUE(e.call_id().empty());
      const std::string key = e.line_id() + "/" + e.agent_state().agent_id();
      auto it = agents.find(key);
      const auto before = it == agents.end() ? tidewatch::v1::AGENT_STATUS_LOGGED_OUT : it->second;
      const auto after = e.agent_state().state();
      using tidewatch::v1::AgentStatus;
      bool allowed = false;
      switch (before) {
        case tidewatch::v1::AGENT_STATUS_LOGGED_OUT:
          allowed = after == tidewatch::v1::AGENT_STATUS_AVAILABLE;
          break;
        case tidewatch::v1::AGENT_STATUS_AVAILABLE:
          allowed = after == tidewatch::v1::AGENT_STATUS_ON_CALL ||
                    after == tidewatch::v1::AGENT_STATUS_AWAY ||
                    after == tidewatch::v1::AGENT_STATUS_LOGGED_OUT;
          break;
        case tidewatch::v1::AGENT_STATUS_ON_CALL:
          allowed = after == tidewatch::v1::AGENT_STATUS_WRAP_UP ||
                    after == tidewatch::v1::AGENT_STATUS_AVAILABLE ||
                    after == tidewatch::v1::AGENT_STATUS_AWAY ||
                    after == tidewatch::v1::AGENT_STATUS_LOGGED_OUT;
          break;
        case tidewatch::v1::AGENT_STATUS_WRAP_UP:
          allowed = after == tidewatch::v1::AGENT_STATUS_AVAILABLE ||
                    after == tidewatch::v1::AGENT_STATUS_AWAY ||
                    after == tidewatch::v1::AGENT_STATUS_LOGGED_OUT;
          break;
        case tidewatch::v1::AGENT_STATUS_AWAY:
          allowed = after == tidewatch::v1::AGENT_STATUS_AVAILABLE ||
                    after == tidewatch::v1::AGENT_STATUS_LOGGED_OUT;
          break;
        default:
          break;
      }
      EXPECT_TRUE(allowed) << key << ": " << before << " -> " << after << " at " << e.event_id();
      // An answered call is followed at once by its agent going on call.
      if (previous != nullptr && previous->has_answered()) {
        EXPECT_EQ(after, tidewatch::v1::AGENT_STATUS_ON_CALL);
        EXPECT_EQ(e.agent_state().agent_id(), previous->answered().agent_id());
      }
      agents[key] = after;
      previous = &e;
      continue;
    }
    EXPECT_FALSE(e.call_id().empty()) << e.event_id();
    if (e.call_id().empty()) continue;
    CallLife& call = calls[e.call_id()];
    if (e.has_queued()) {
      EXPECT_EQ(call.queued, absl::InfinitePast()) << "queued twice: " << e.call_id();
      EXPECT_EQ(e.queued().caller_key().size(), 16u);
      call.queued = t;
      call.line = e.line_id();
      ++c.offered;
    } else {
      EXPECT_NE(call.queued, absl::InfinitePast()) << "no queued before " << e.event_id();
      EXPECT_EQ(call.line, e.line_id());
    }
    const bool outcome =
        e.has_answered() || e.has_abandoned() || e.has_callback_requested() || e.has_left_queue();
    if (outcome) {
      EXPECT_EQ(call.outcome_kind, CallEvent::KIND_NOT_SET) << "two outcomes: " << e.call_id();
      call.outcome = t;
      call.outcome_kind = e.kind_case();
    }
    if (e.has_answered()) {
      const absl::Duration wait = ToDuration(e.answered().wait());
      EXPECT_EQ(wait, t - call.queued) << e.call_id();
      const std::string key = e.line_id() + "/" + e.answered().agent_id();
      EXPECT_EQ(agents[key], tidewatch::v1::AGENT_STATUS_AVAILABLE) << key;
      call.agent = e.answered().agent_id();
      ++c.answered;
      c.wait_answered += wait;
      c.max_wait = std::max(c.max_wait, wait);
    } else if (e.has_abandoned()) {
      const absl::Duration wait = ToDuration(e.abandoned().wait());
      EXPECT_EQ(wait, t - call.queued) << e.call_id();
      ++c.abandoned;
      if (wait < absl::Seconds(5)) ++c.short_abandoned;
      c.wait_abandoned += wait;
      c.max_wait = std::max(c.max_wait, wait);
    } else if (e.has_callback_requested()) {
      ++c.callbacks;
      c.wait_other += t - call.queued;
    } else if (e.has_left_queue()) {
      ++c.left;
      c.wait_other += t - call.queued;
    } else if (e.has_completed()) {
      EXPECT_EQ(call.outcome_kind, CallEvent::kAnswered) << e.call_id();
      EXPECT_FALSE(call.completed) << "completed twice: " << e.call_id();
      EXPECT_EQ(e.completed().agent_id(), call.agent);
      const absl::Duration handle =
          ToDuration(e.completed().talk()) + ToDuration(e.completed().wrap());
      EXPECT_EQ(t, call.outcome + handle) << e.call_id();
      call.completed = true;
      ++c.completed;
    }
    previous = &e;
  }
  for (const auto& [id, call] : calls) {
    EXPECT_NE(call.outcome_kind, CallEvent::KIND_NOT_SET) << "unresolved call " << id;
    if (call.outcome_kind == CallEvent::kAnswered) {
      EXPECT_TRUE(call.completed) << "answered, never completed: " << id;
    }
  }
  for (const auto& [agent, state] : agents) {
    EXPECT_EQ(state, tidewatch::v1::AGENT_STATUS_LOGGED_OUT) << agent << " never logged out";
  }
  return counted;
}

// The simulator's summary must equal what the events say.
inline void ExpectSummaryMatches(const Summary& summary,
                                 const std::map<std::string, Counted>& counted) {
  for (const LineSummary& line : summary.lines) {
    auto it = counted.find(line.line_id);
    const Counted c = it == counted.end() ? Counted() : it->second;
    EXPECT_EQ(line.offered, c.offered) << line.line_id;
    EXPECT_EQ(line.answered, c.answered) << line.line_id;
    EXPECT_EQ(line.abandoned, c.abandoned) << line.line_id;
    EXPECT_EQ(line.short_abandoned, c.short_abandoned) << line.line_id;
    EXPECT_EQ(line.callbacks_requested, c.callbacks) << line.line_id;
    EXPECT_EQ(line.left_queue, c.left) << line.line_id;
    EXPECT_EQ(line.completed, c.completed) << line.line_id;
    EXPECT_EQ(absl::Milliseconds(line.wait_answered_ms), c.wait_answered) << line.line_id;
    EXPECT_EQ(absl::Milliseconds(line.wait_abandoned_ms), c.wait_abandoned) << line.line_id;
    EXPECT_EQ(absl::Milliseconds(line.wait_other_ms), c.wait_other) << line.line_id;
    EXPECT_EQ(absl::Milliseconds(line.max_wait_ms), c.max_wait) << line.line_id;
  }
}

}  // namespace tidewatch::sim::testing

#endif  // TIDEWATCH_TESTS_SIM_SIM_TEST_UTIL_H_
