// A policy applied while a batch is being polled governs that batch: the
// processor puts it in force before it applies the batch's events, with the
// engines on the poll thread or on their own. (Applied after the batch, a
// batch that spans minutes of a surge would be judged by the old policy and
// the new one would take effect only with the next batch.)
//
// A Consumer decorator around a real consumer of the in-process broker
// applies the new policy from inside PollBatch, after the records are
// fetched and before they are returned: the moment an operator's apply can
// land in the service.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_replace.h"
#include "common/clock.h"
#include "common/proto_time.h"
#include "gtest/gtest.h"
#include "kafka/embedded_broker.h"
#include "kafka/forwarding.h"
#include "kafka/kafka.h"
#include "kafka/test_brokers.h"
#include "policy/policy.h"
#include "sim/event_sink.h"
#include "sim/scenario.h"
#include "sim/simulator.h"
#include "stream/stream_processor.h"

namespace tidewatch::stream {
namespace {

constexpr int kPartitions = 12;

// Runs a hook inside the next PollBatch that returns records, with them.
class HookedPollConsumer final : public kafka::ForwardingConsumer {
 public:
  using Hook = std::function<void(const std::vector<kafka::Record>&)>;
  using kafka::ForwardingConsumer::ForwardingConsumer;

  void AtNextBatch(Hook hook) { hook_ = std::move(hook); }

  absl::Status PollBatch(size_t max_records, absl::Duration timeout,
                         kafka::RecordBatch* out) override {
    const size_t before = out->size();
    absl::Status s = real().PollBatch(max_records, timeout, out);
    if (hook_ && out->size() > before) {
      std::exchange(hook_, nullptr)(std::vector<kafka::Record>(out->begin() + before, out->end()));
    }
    return s;
  }

 private:
  Hook hook_;
};

// The default policy with tier 1 entered by any call waiting over a second.
std::shared_ptr<const policy::CompiledPolicy> EagerPolicy() {
  std::string yaml(policy::DefaultPolicyYaml());
  yaml = absl::StrReplaceAll(
      yaml, {{"{metric: longest_waiting, above: 480s}", "{metric: longest_waiting, above: 1s}"},
             {"{metric: longest_waiting, below: 360s}", "{metric: longest_waiting, below: 0.5s}"},
             {"sustain: 2m", "sustain: 0s"}});
  absl::StatusOr<policy::CompiledPolicy> p = policy::LoadPolicyYaml(yaml, "eager");
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? std::make_shared<const policy::CompiledPolicy>(*std::move(p)) : nullptr;
}

class PolicySwapTest : public ::testing::TestWithParam<bool> {};

TEST_P(PolicySwapTest, PolicyAppliedDuringAPollGovernsThatBatch) {
  absl::StatusOr<sim::Scenario> scenario = sim::LoadScenarioFile(
      std::string(TIDEWATCH_SOURCE_DIR) + "/deploy/scenarios/council-tax-summons.yaml");
  ASSERT_TRUE(scenario.ok()) << scenario.status();
  sim::CollectingSink sink;
  ASSERT_TRUE(sim::Simulate(*scenario, sim::SimOptions{}, sink).ok());
  // One line, so one partition and one engine: the batch is that engine's.
  std::vector<tidewatch::v1::CallEvent> day;
  for (const tidewatch::v1::CallEvent& e : sink.events()) {
    if (e.line_id() == "revenues") day.push_back(e);
  }
  // Until 07:35 UTC calls queue for minutes but the default policy's tier 1
  // is not reached; the eager policy escalates at once.
  const absl::Time cut =
      absl::FromCivil(absl::CivilSecond(2022, 10, 3, 7, 35, 0), absl::UTCTimeZone());
  size_t n = 0;
  while (n < day.size() && FromProto(day[n].event_time()) < cut) ++n;
  ASSERT_GT(n, 20u);
  const size_t end = std::min(day.size(), n + 200);
  ASSERT_GT(FromProto(day[end - 1].event_time()), cut + absl::Minutes(2));

  auto broker = *kafka::EmbeddedBroker::Start(1);
  for (const char* t : {"telephony.call-events", "tidewatch.commands", "tidewatch.escalations",
                        "tidewatch.state"}) {
    ASSERT_TRUE(broker->CreateTopic(t, kPartitions).ok());
  }
  ASSERT_TRUE(broker->CreateTopic("tidewatch.dead-letter", 1).ok());
  kafka::KafkaConfig config;
  config.bootstrap = broker->bootstrap();
  auto producer = *kafka::NewProducer(config, {});
  auto produce = [&](size_t from, size_t to) {
    for (size_t i = from; i < to; ++i) {
      ASSERT_TRUE(
          producer->Produce("telephony.call-events", day[i].line_id(), day[i].SerializeAsString())
              .ok());
    }
    ASSERT_TRUE(producer->Flush(absl::Seconds(30)).ok());
  };
  kafka::ConsumerOptions co;
  co.group_id = "tidewatch";
  co.session_timeout = absl::Seconds(6);
  HookedPollConsumer consumer(*kafka::NewConsumer(config, co));
  auto out = *kafka::NewProducer(config, {});
  StreamOptions options;
  options.wall_clock_ticks = false;  // event time only
  options.partitions = kPartitions;
  options.commit_interval = absl::Milliseconds(100);
  options.max_batch = 100000;  // the second part in as few batches as it comes
  options.engine_thread = GetParam();
  auto policy = std::make_shared<const policy::CompiledPolicy>(
      *policy::LoadPolicyYaml(policy::DefaultPolicyYaml(), "default"));
  RealClock clock;
  StreamProcessor processor(
      policy, options, consumer, *out,
      [config]() { return kafka::NewConsumer(config, kafka::ConsumerOptions{}); }, clock);
  ASSERT_TRUE(processor.Start().ok());
  auto run_until_applied = [&](size_t count) {
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (processor.Status().events_applied < static_cast<int64_t>(count) &&
           absl::Now() < deadline) {
      processor.Step(absl::Milliseconds(50)).IgnoreError();
    }
    // With a worker, the last batch handed over is applied by the next Step.
    processor.Step(absl::Milliseconds(10)).IgnoreError();
    ASSERT_EQ(processor.Status().events_applied, static_cast<int64_t>(count));
  };

  produce(0, n);
  run_until_applied(n);
  EXPECT_EQ(processor.Status().escalations_produced, 0) << "the default policy escalated already";

  // The eager policy lands while the next batch is being polled.
  absl::Time batch_first = absl::InfiniteFuture();
  absl::Time batch_last = absl::InfinitePast();
  consumer.AtNextBatch([&](const std::vector<kafka::Record>& records) {
    for (const kafka::Record& r : records) {
      tidewatch::v1::CallEvent e;
      if (r.topic == "telephony.call-events" && e.ParseFromString(r.value)) {
        batch_first = std::min(batch_first, FromProto(e.event_time()));
        batch_last = std::max(batch_last, FromProto(e.event_time()));
      }
    }
    processor.SetPolicy(EagerPolicy(), 1);
  });
  produce(n, end);
  run_until_applied(end);
  // The batch spans minutes of the surge (else there is nothing to judge).
  ASSERT_GT(batch_last - batch_first, absl::Minutes(1));
  EXPECT_EQ(processor.Status().policy_version, 1);
  ASSERT_TRUE(processor.Shutdown(absl::Seconds(10)).ok());

  // Call-ups of the new policy, raised within that batch's span of time.
  absl::StatusOr<std::vector<kafka::Record>> escalations =
      ::tidewatch::testing::ReadCommitted(config, "tidewatch.escalations", kPartitions);
  ASSERT_TRUE(escalations.ok()) << escalations.status();
  absl::Time earliest = absl::InfiniteFuture();
  int callups = 0;
  for (const kafka::Record& r : *escalations) {
    tidewatch::v1::Escalation e;
    ASSERT_TRUE(e.ParseFromString(r.value));
    if (!e.has_callup()) continue;
    ++callups;
    EXPECT_EQ(e.callup().policy_version(), 1) << e.id();
    earliest = std::min(earliest, FromProto(e.callup().created()));
  }
  ASSERT_GT(callups, 0);
  EXPECT_GE(earliest, cut);
  EXPECT_LT(earliest, batch_last)
      << "the batch polled during the apply was judged by the old policy";
}

INSTANTIATE_TEST_SUITE_P(EngineThread, PolicySwapTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? std::string("OnAWorker")
                                             : std::string("OnThePoller");
                         });

}  // namespace
}  // namespace tidewatch::stream
