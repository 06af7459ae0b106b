// tidewatchd's streaming core against a bare librdkafka consumer that only
// decodes, on the same pre-filled topic of the in-process broker, in one
// run: events/s of each and their ratio (issue 5 target: >= 0.8).
//
// The topic holds several simulated council days (tide-sim's summons
// scenario, different seeds and dates), 12 partitions keyed by line_id.
// Each side reads it from the beginning with its own consumer group.
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "benchmark/benchmark.h"
#include "common/clock.h"
#include "events/events.h"
#include "kafka/embedded_broker.h"
#include "kafka/kafka.h"
#include "policy/policy.h"
#include "sim/event_sink.h"
#include "sim/scenario.h"
#include "sim/simulator.h"
#include "stream/stream_processor.h"

namespace tidewatch {
namespace {

struct Fixture {
  std::unique_ptr<kafka::EmbeddedBroker> broker;
  kafka::KafkaConfig config;
  int64_t events = 0;
};

Fixture& Filled() {
  static Fixture* f = [] {
    auto* fx = new Fixture;
    fx->broker = *kafka::EmbeddedBroker::Start(1);
    for (const char* t : {"telephony.call-events", "tidewatch.commands", "tidewatch.escalations",
                          "tidewatch.state"}) {
      fx->broker->CreateTopic(t, 12).IgnoreError();
    }
    fx->broker->CreateTopic("tidewatch.dead-letter", 1).IgnoreError();
    fx->config.bootstrap = fx->broker->bootstrap();
    auto producer = *kafka::NewProducer(fx->config, {});
    auto scenario = *sim::LoadScenarioFile(std::string(TIDEWATCH_BENCH_SOURCE_DIR) +
                                           "/deploy/scenarios/council-tax-summons.yaml");
    for (int day = 0; day < 6;
         ++day) {  // six Mondays, ~100k events (the in-process broker keeps ~5 MiB a partition)
      sim::CollectingSink sink;
      sim::SimOptions o;
      o.seed = 100 + day;
      o.start_date = absl::CivilDay(2022, 10, 3) + 7 * day;
      sim::Simulate(scenario, o, sink).IgnoreError();
      for (const auto& e : sink.events()) {
        while (
            producer->Produce("telephony.call-events", e.line_id(), e.SerializeAsString()).code() ==
            absl::StatusCode::kResourceExhausted) {
          producer->Poll(absl::Milliseconds(10));
        }
        ++fx->events;
      }
    }
    producer->Flush(absl::Seconds(60)).IgnoreError();
    return fx;
  }();
  return *f;
}

double bare_rate = 0;

void BM_BareDecodingConsumer(benchmark::State& state) {
  Fixture& fx = Filled();
  int run = 0;
  for (auto _ : state) {
    kafka::ConsumerOptions co;
    co.group_id = "bare-" + std::to_string(run++);
    auto consumer = *kafka::NewConsumer(fx.config, co);
    consumer->Subscribe({"telephony.call-events"}, nullptr).IgnoreError();
    tidewatch::v1::CallEvent event;
    int64_t n = 0;
    absl::Time start = absl::InfinitePast();
    std::vector<kafka::Record> batch;
    while (n < fx.events) {
      batch.clear();
      consumer->PollBatch(2000, absl::Milliseconds(100), &batch).IgnoreError();
      if (!batch.empty() && start == absl::InfinitePast()) start = absl::Now();
      for (const auto& r : batch) {
        if (events::ParseBinaryEvent(r.value, event).ok()) ++n;
      }
    }
    const double secs = absl::ToDoubleSeconds(absl::Now() - start);
    state.SetIterationTime(secs);
    bare_rate = n / secs;
    consumer->Close().IgnoreError();
  }
  state.counters["events_per_second"] = bare_rate;
  state.counters["events"] = static_cast<double>(fx.events);
}
BENCHMARK(BM_BareDecodingConsumer)->UseManualTime()->Iterations(1)->Unit(benchmark::kMillisecond);

void BM_StreamProcessor(benchmark::State& state) {
  Fixture& fx = Filled();
  auto policy = std::make_shared<const policy::CompiledPolicy>(
      *policy::LoadPolicyYaml(policy::DefaultPolicyYaml(), "default"));
  RealClock clock;
  int run = 0;
  double rate = 0;
  for (auto _ : state) {
    kafka::ConsumerOptions co;
    co.group_id = "tidewatch-" + std::to_string(run++);
    auto consumer = *kafka::NewConsumer(fx.config, co);
    auto producer = *kafka::NewProducer(fx.config, {});
    stream::StreamOptions so;
    so.wall_clock_ticks = false;
    so.partitions = 12;
    kafka::KafkaConfig rc = fx.config;
    stream::StreamProcessor p(
        policy, so, *consumer, *producer,
        [rc]() { return kafka::NewConsumer(rc, kafka::ConsumerOptions{}); }, clock);
    p.Start().IgnoreError();
    absl::Time start = absl::InfinitePast();
    while (true) {
      p.Step(absl::Milliseconds(100)).IgnoreError();
      const stream::StreamStatus s = p.Status();
      if (s.events_applied > 0 && start == absl::InfinitePast()) start = absl::Now();
      if (s.events_applied >= fx.events) break;
    }
    const double secs = absl::ToDoubleSeconds(absl::Now() - start);
    state.SetIterationTime(secs);
    rate = fx.events / secs;
    p.Shutdown(absl::Seconds(10)).IgnoreError();
  }
  state.counters["events_per_second"] = rate;
  state.counters["ratio_to_bare"] = bare_rate > 0 ? rate / bare_rate : 0;
}
BENCHMARK(BM_StreamProcessor)->UseManualTime()->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tidewatch

BENCHMARK_MAIN();
