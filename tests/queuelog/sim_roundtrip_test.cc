// tide-sim's QueueLogSink read back through QueueLogMapper: every count of
// the simulator's summary survives the trip through queue_log form, the
// numbers are Ofcom drama numbers, and the line map maps every queue back.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "queuelog/caller_hasher.h"
#include "queuelog/queue_log.h"
#include "sim/queue_log_sink.h"
#include "sim/scenario.h"
#include "sim/simulator.h"

namespace tidewatch::queuelog {
namespace {

using tidewatch::v1::CallEvent;

TEST(DramaNumbersTest, AreFromOfcomDramaRangesInBothForms) {
  EXPECT_EQ(sim::DramaCallerNumber(0), "01632960000");
  EXPECT_EQ(sim::DramaCallerNumber(1), "+441632960001");
  EXPECT_EQ(sim::DramaCallerNumber(999), "+441632960999");
  EXPECT_EQ(sim::DramaCallerNumber(1000), "02079460000");
  EXPECT_EQ(sim::DramaCallerNumber(16 * 1000 + 5), "+447700900005");
  EXPECT_EQ(sim::DramaCallerNumber(20000), sim::DramaCallerNumber(0));
  std::set<std::string> distinct;
  for (uint64_t i = 0; i < 20000; ++i)
    distinct.insert(NormaliseCallerNumber(sim::DramaCallerNumber(i)));
  EXPECT_EQ(distinct.size(), 20000u);
}

TEST(SimRoundTripTest, SummaryCountsSurviveQueueLogForm) {
  auto scenario =
      sim::LoadScenarioFile(TIDEWATCH_SOURCE_DIR "/deploy/scenarios/council-tax-summons.yaml");
  ASSERT_TRUE(scenario.ok()) << scenario.status();
  char* buf = nullptr;
  size_t size = 0;
  std::FILE* f = open_memstream(&buf, &size);
  std::string line_map_yaml;
  sim::SimOptions options;
  options.seed = 3;
  absl::StatusOr<sim::Summary> summary;
  {
    sim::QueueLogSink sink(f);
    summary = sim::Simulate(*scenario, options, sink);
    ASSERT_TRUE(summary.ok());
    line_map_yaml = sink.LineMapYaml();
  }
  std::fclose(f);
  const std::string text(buf, size);
  std::free(buf);

  auto map = ParseLineMap(line_map_yaml, "sink line map");
  ASSERT_TRUE(map.ok()) << map.status() << "\n" << line_map_yaml;
  auto hasher = CallerHasher::Create("round-trip-secret-key");
  ASSERT_TRUE(hasher.ok());
  QueueLogMapper mapper(*map, *hasher);
  struct Counts {
    int64_t offered = 0, answered = 0, abandoned = 0, short_abandoned = 0, callbacks = 0, left = 0,
            completed = 0, back_office_logins = 0;
  };
  std::map<std::string, Counts> got;
  MapCounters counters;
  CallEvent e;
  uint64_t offset = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    MapResult r = mapper.Map(std::string_view(line.data(), line.size()), offset, e);
    offset += line.size() + 1;
    counters.Add(r);
    ASSERT_EQ(r.outcome, MapOutcome::kEvent) << line << ": " << r.message;
    Counts& c = got[e.line_id()];
    switch (e.kind_case()) {
      case CallEvent::kQueued:
        ++c.offered;
        EXPECT_EQ(e.queued().caller_key().size(), 32u);
        break;
      case CallEvent::kAnswered:
        ++c.answered;
        break;
      case CallEvent::kAbandoned:
        ++c.abandoned;
        if (e.abandoned().wait().seconds() < 5) ++c.short_abandoned;
        break;
      case CallEvent::kCallbackRequested:
        ++c.callbacks;
        break;
      case CallEvent::kLeftQueue:
        ++c.left;
        break;
      case CallEvent::kCompleted:
        ++c.completed;
        break;
      case CallEvent::kAgentState:
        if (e.agent_state().origin() == tidewatch::v1::AGENT_ORIGIN_BACK_OFFICE &&
            e.agent_state().state() == tidewatch::v1::AGENT_STATUS_AVAILABLE) {
          ++c.back_office_logins;
        }
        break;
      default:
        break;
    }
  }
  EXPECT_EQ(counters.skipped_total(), 0);
  ASSERT_EQ(got.size(), summary->lines.size());
  for (const sim::LineSummary& s : summary->lines) {
    const Counts& c = got[s.line_id];
    EXPECT_EQ(c.offered, s.offered) << s.line_id;
    EXPECT_EQ(c.answered, s.answered) << s.line_id;
    EXPECT_EQ(c.abandoned, s.abandoned) << s.line_id;
    EXPECT_EQ(c.short_abandoned, s.short_abandoned) << s.line_id;
    EXPECT_EQ(c.callbacks, s.callbacks_requested) << s.line_id;
    EXPECT_EQ(c.left, s.left_queue) << s.line_id;
    EXPECT_EQ(c.completed, s.completed) << s.line_id;
    if (s.agents_by_origin[tidewatch::v1::AGENT_ORIGIN_BACK_OFFICE] > 0) {
      EXPECT_GE(c.back_office_logins, s.agents_by_origin[tidewatch::v1::AGENT_ORIGIN_BACK_OFFICE])
          << s.line_id;
    }
  }
}

// Kinds no shipped scenario produces: every left_queue reason.
TEST(SimRoundTripTest, LeftQueueReasonsAsAsteriskWritesThem) {
  char* buf = nullptr;
  size_t size = 0;
  std::FILE* f = open_memstream(&buf, &size);
  std::string yaml;
  {
    sim::QueueLogSink sink(f);
    int64_t t = 1664785800;
    auto event = [&](const std::string& call) {
      CallEvent e;
      e.set_event_id(call + std::to_string(t));
      e.set_line_id("waste");
      e.set_call_id(call);
      e.mutable_event_time()->set_seconds(t++);
      return e;
    };
    for (auto reason :
         {tidewatch::v1::LEFT_QUEUE_REASON_TIMEOUT, tidewatch::v1::LEFT_QUEUE_REASON_EXIT_KEY,
          tidewatch::v1::LEFT_QUEUE_REASON_OVERFLOW}) {
      const std::string call = "c" + std::to_string(reason);
      CallEvent q = event(call);
      q.mutable_queued()->set_caller_key("k");
      ASSERT_TRUE(sink.Write(q).ok());
      CallEvent l = event(call);
      l.mutable_left_queue()->set_reason(reason);
      ASSERT_TRUE(sink.Write(l).ok());
    }
    ASSERT_TRUE(sink.Flush().ok());
    yaml = sink.LineMapYaml();
  }
  std::fclose(f);
  const std::string text(buf, size);
  std::free(buf);
  auto map = ParseLineMap(yaml, "sink");
  ASSERT_TRUE(map.ok()) << map.status();
  auto hasher = CallerHasher::Create("round-trip-secret-key");
  QueueLogMapper mapper(*map, *hasher);
  std::vector<tidewatch::v1::LeftQueueReason> reasons;
  CallEvent e;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    ASSERT_EQ(mapper.Map(std::string_view(line.data(), line.size()), 0, e).outcome,
              MapOutcome::kEvent)
        << line;
    if (e.has_left_queue()) reasons.push_back(e.left_queue().reason());
  }
  // OVERFLOW has no queue_log event: it is written as EXITEMPTY.
  EXPECT_EQ(reasons,
            (std::vector<tidewatch::v1::LeftQueueReason>{tidewatch::v1::LEFT_QUEUE_REASON_TIMEOUT,
                                                         tidewatch::v1::LEFT_QUEUE_REASON_EXIT_KEY,
                                                         tidewatch::v1::LEFT_QUEUE_REASON_EMPTY}));
}

}  // namespace
}  // namespace tidewatch::queuelog
