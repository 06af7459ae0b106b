// Records polled before a partition is repositioned (a rebalance that
// restarts its task, or a rewind) are never applied to the partition's new
// engine: they carry an older kafka::Record::epoch and come again, in order,
// from the new position. With the engines on a worker thread a batch polled
// before a rebalance can reach them after it, so this is what keeps a
// handover exact.
//
// A Consumer decorator (the far side of our own interface, around a real
// consumer of the in-process broker) plays a rebalance at a chosen Step:
// everything is revoked and assigned again (the processor writes its state,
// commits, restarts its tasks and seeks back to replay), and then the batch
// it had returned just before is handed over once more, as a pipelined poll
// would. The run must end exactly where an uninterrupted run ends.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "gtest/gtest.h"
#include "kafka/embedded_broker.h"
#include "kafka/forwarding.h"
#include "kafka/kafka.h"
#include "policy/policy.h"
#include "sim/event_sink.h"
#include "sim/scenario.h"
#include "sim/simulator.h"
#include "stream/stream_processor.h"

namespace tidewatch::stream {
namespace {

constexpr int kPartitions = 12;

// Plays, on request, a full rebalance inside PollBatch and then returns the
// previous batch's records again.
class RepositioningConsumer final : public kafka::ForwardingConsumer {
 public:
  using kafka::ForwardingConsumer::ForwardingConsumer;

  void RebalanceAtNextPoll() { rebalance_ = true; }
  int64_t stale_returned() const { return stale_returned_; }

  absl::Status Subscribe(const std::vector<std::string>& topics,
                         kafka::RebalanceListener* listener) override {
    listener_ = listener;
    return real().Subscribe(topics, listener);
  }
  absl::Status PollBatch(size_t max_records, absl::Duration timeout,
                         kafka::RecordBatch* out) override {
    if (rebalance_ && !last_batch_.empty()) {
      rebalance_ = false;
      absl::StatusOr<std::vector<kafka::TopicPartition>> assigned = real().Assignment();
      if (!assigned.ok()) return assigned.status();
      listener_->OnRevoked(*assigned);
      listener_->OnAssigned(*assigned);
      for (const kafka::Record& r : last_batch_) out->push_back(r);
      stale_returned_ += static_cast<int64_t>(last_batch_.size());
      return absl::OkStatus();
    }
    const size_t before = out->size();
    absl::Status s = real().PollBatch(max_records, timeout, out);
    if (out->size() > before) last_batch_.assign(out->begin() + before, out->end());
    return s;
  }

 private:
  kafka::RebalanceListener* listener_ = nullptr;
  bool rebalance_ = false;
  std::vector<kafka::Record> last_batch_;
  int64_t stale_returned_ = 0;
};

// Per line: totals and every window's KPIs, as text, at the end of a run.
using LineFigures = std::map<std::string, std::string>;

struct DayRun {
  LineFigures figures;
  StreamStatus status;
  int64_t stale_returned = 0;
};

// One processor over the whole day on a fresh broker; with `rebalance`,
// a rebalance is played once `at_events` events have been applied.
DayRun RunDay(const std::vector<tidewatch::v1::CallEvent>& events, bool rebalance,
              int64_t at_events) {
  DayRun out;
  auto broker = *kafka::EmbeddedBroker::Start(1);
  for (const char* t : {"telephony.call-events", "tidewatch.commands", "tidewatch.escalations",
                        "tidewatch.state"}) {
    EXPECT_TRUE(broker->CreateTopic(t, kPartitions).ok());
  }
  EXPECT_TRUE(broker->CreateTopic("tidewatch.dead-letter", 1).ok());
  kafka::KafkaConfig config;
  config.bootstrap = broker->bootstrap();
  {
    auto producer = *kafka::NewProducer(config, {});
    for (const auto& e : events) {
      EXPECT_TRUE(
          producer->Produce("telephony.call-events", e.line_id(), e.SerializeAsString()).ok());
    }
    EXPECT_TRUE(producer->Flush(absl::Seconds(30)).ok());
  }
  kafka::ConsumerOptions co;
  co.group_id = "tidewatch";
  co.session_timeout = absl::Seconds(6);
  RepositioningConsumer consumer(*kafka::NewConsumer(config, co));
  auto producer = *kafka::NewProducer(config, {});
  StreamOptions options;
  options.wall_clock_ticks = false;
  options.partitions = kPartitions;
  options.commit_interval = absl::Milliseconds(100);
  options.max_batch = 500;       // several batches per partition
  options.engine_thread = true;  // batches applied while the next is polled
  auto policy = std::make_shared<const policy::CompiledPolicy>(
      *policy::LoadPolicyYaml(policy::DefaultPolicyYaml(), "default"));
  RealClock clock;
  StreamProcessor processor(
      policy, options, consumer, *producer,
      [config]() { return kafka::NewConsumer(config, kafka::ConsumerOptions{}); }, clock);
  EXPECT_TRUE(processor.Start().ok());
  const int64_t n = static_cast<int64_t>(events.size());
  bool played = !rebalance;
  const absl::Time deadline = absl::Now() + absl::Seconds(90);
  while (absl::Now() < deadline) {
    processor.Step(absl::Milliseconds(50)).IgnoreError();
    const StreamStatus s = processor.Status();
    if (!played && s.events_applied >= at_events && s.commits > 0) {
      consumer.RebalanceAtNextPoll();
      played = true;
    }
    // (Played: the rebalance has happened, not merely been asked for.)
    if (played && (consumer.stale_returned() > 0) == rebalance && s.ready) {
      // Caught up: the events partitions' positions add up to every event.
      int64_t read = 0;
      for (const kafka::PartitionLag& lag : s.lag) {
        if (lag.topic == "telephony.call-events" && lag.position > 0) read += lag.position;
      }
      if (read >= n) break;
    }
  }
  // A Step returns before the worker has applied the batch it handed over:
  // more Steps (nothing left to poll) wait for it.
  for (int i = 0; i < 3; ++i) processor.Step(absl::Milliseconds(20)).IgnoreError();
  for (const LineStatus& l : processor.Lines()) {
    std::string text = l.totals.ShortDebugString();
    for (const auto& [window, kpis] : l.windows) {
      absl::StrAppend(&text, " | ", absl::FormatDuration(window), ": ", kpis.ShortDebugString());
    }
    absl::StrAppend(&text, " | tide ", static_cast<int>(l.tide.level));
    out.figures[l.line_id] = text;
  }
  out.status = processor.Status();
  out.stale_returned = consumer.stale_returned();
  EXPECT_TRUE(processor.Shutdown(absl::Seconds(10)).ok());
  return out;
}

TEST(RepositionTest, RecordsPolledBeforeARebalanceAreNotAppliedToTheNewTasks) {
  absl::StatusOr<sim::Scenario> scenario = sim::LoadScenarioFile(
      std::string(TIDEWATCH_SOURCE_DIR) + "/deploy/scenarios/council-tax-summons.yaml");
  ASSERT_TRUE(scenario.ok()) << scenario.status();
  sim::CollectingSink sink;
  sim::SimOptions options;
  options.seed = 11;
  ASSERT_TRUE(sim::Simulate(*scenario, options, sink).ok());
  const std::vector<tidewatch::v1::CallEvent>& events = sink.events();
  const int64_t n = static_cast<int64_t>(events.size());

  const DayRun reference = RunDay(events, /*rebalance=*/false, 0);
  const DayRun replayed = RunDay(events, /*rebalance=*/true, n / 2);

  EXPECT_EQ(reference.status.stale_records_dropped, 0);
  // The stale batch came back after the rebalance and every one of its
  // records was dropped (none is a command: nothing was sent to that topic).
  ASSERT_GT(replayed.stale_returned, 0) << replayed.status.last_error;
  EXPECT_EQ(replayed.status.last_error, "");
  // (At least those: a batch polled before the rebalance and still queued
  // for the worker is dropped too.)
  EXPECT_GE(replayed.status.stale_records_dropped, replayed.stale_returned);
  EXPECT_GE(replayed.status.recoveries, 2 * kPartitions);
  ASSERT_FALSE(reference.figures.empty());
  for (const auto& [line, text] : reference.figures) {
    auto it = replayed.figures.find(line);
    ASSERT_NE(it, replayed.figures.end()) << line;
    EXPECT_EQ(it->second, text) << line;
  }
  EXPECT_EQ(replayed.figures.size(), reference.figures.size());
}

}  // namespace
}  // namespace tidewatch::stream
