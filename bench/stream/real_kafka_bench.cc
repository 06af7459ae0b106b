// tidewatchd's streaming core on a real Apache Kafka (issue 10), in one run:
//
//   BM_BareDecodingConsumer     a bare librdkafka consumer that only decodes
//   BM_StreamIdempotent         the core, idempotent producer (at-least-once)
//   BM_StreamExactlyOnce        the core, transactions (exactly-once)
// on the same pre-filled topic (six simulated Council Tax summons Mondays,
// ~94,000 events, 12 partitions keyed by line_id), each from the beginning
// in its own consumer group, the cores committing every 100 ms and timed
// until their last commit (Shutdown); ratio_to_bare is reported for both cores
// (targets >= 0.8 idempotent, >= 0.6 transactional). Then
//   BM_BreachToCommittedEscalation/<commit interval ms>
// produces the summons day paced at 720x real time into fresh topics while
// an exactly-once core processes it and a read_committed consumer watches
// the escalations topic: the latency of each tide change is the time from
// the production of the event that carried the engine past the change
// (the paced wall time of the change's event time) to the escalation's
// arrival at the read_committed consumer, i.e. committed. p50/p99/max over
// the day's tide changes (tens of samples per run: p99 is close to the max).
//
// Needs TIDEWATCH_KAFKA_BOOTSTRAP (scripts/kafka-broker start prints it):
//   scripts/kafka-broker start
//   TIDEWATCH_KAFKA_BOOTSTRAP=127.0.0.1:PORT build/release/bench/stream/real_kafka_bench
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "benchmark/benchmark.h"
#include "common/clock.h"
#include "common/proto_time.h"
#include "events/events.h"
#include "kafka/kafka.h"
#include "policy/policy.h"
#include "sim/event_sink.h"
#include "sim/scenario.h"
#include "sim/simulator.h"
#include "stream/stream_processor.h"

namespace tidewatch {
namespace {

constexpr int kPartitions = 12;

std::string Bootstrap() {
  const char* b = std::getenv("TIDEWATCH_KAFKA_BOOTSTRAP");
  return b != nullptr ? b : "";
}

// Fresh topics named PREFIX + tidewatch's names.
struct Topics {
  std::string prefix;
  std::string events_override;  // read another run's events topic
  std::string events() const {
    return events_override.empty() ? prefix + "telephony.call-events" : events_override;
  }
  std::string commands() const { return prefix + "tidewatch.commands"; }
  std::string escalations() const { return prefix + "tidewatch.escalations"; }
  std::string state() const { return prefix + "tidewatch.state"; }
  std::string dead_letter() const { return prefix + "tidewatch.dead-letter"; }
};

kafka::KafkaConfig Config() {
  kafka::KafkaConfig c;
  c.bootstrap = Bootstrap();
  c.client_id = "real-kafka-bench";
  return c;
}

Topics CreateTopics(const std::string& name) {
  static int n = 0;
  Topics t;
  t.prefix = absl::StrCat("bench", getpid(), "-", name, "-", n++, "-");
  auto admin = *kafka::NewAdmin(Config());
  std::vector<kafka::TopicSpec> specs;
  for (const std::string& topic : {t.events(), t.commands(), t.escalations(), t.state()}) {
    kafka::TopicSpec s;
    s.name = topic;
    s.partitions = kPartitions;
    s.replication_factor = 1;
    if (topic == t.state()) s.config["cleanup.policy"] = "compact";
    specs.push_back(s);
  }
  kafka::TopicSpec dl;
  dl.name = t.dead_letter();
  dl.partitions = 1;
  dl.replication_factor = 1;
  specs.push_back(dl);
  if (absl::Status s = admin->CreateTopics(specs, absl::Seconds(30)); !s.ok()) {
    std::fprintf(stderr, "create topics: %s\n", std::string(s.message()).c_str());
    std::exit(1);
  }
  return t;
}

std::vector<tidewatch::v1::CallEvent> Day(int seed, absl::CivilDay date) {
  auto scenario = *sim::LoadScenarioFile(std::string(TIDEWATCH_BENCH_SOURCE_DIR) +
                                         "/deploy/scenarios/council-tax-summons.yaml");
  sim::CollectingSink sink;
  sim::SimOptions o;
  o.seed = seed;
  o.start_date = date;
  sim::Simulate(scenario, o, sink).IgnoreError();
  return sink.events();
}

struct Filled {
  Topics topics;
  int64_t events = 0;
};

Filled& Prefilled() {
  static Filled* f = [] {
    auto* fx = new Filled;
    fx->topics = CreateTopics("throughput");
    kafka::ProducerOptions po;
    po.linger = absl::Milliseconds(20);
    auto producer = *kafka::NewProducer(Config(), po);
    for (int day = 0; day < 6; ++day) {
      for (const auto& e : Day(100 + day, absl::CivilDay(2022, 10, 3) + 7 * day)) {
        while (producer->Produce(fx->topics.events(), e.line_id(), e.SerializeAsString()).code() ==
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

std::shared_ptr<const policy::CompiledPolicy> DefaultPolicy() {
  static auto* p = new std::shared_ptr<const policy::CompiledPolicy>(
      std::make_shared<const policy::CompiledPolicy>(
          *policy::LoadPolicyYaml(policy::DefaultPolicyYaml(), "default")));
  return *p;
}

stream::StreamOptions Options(const Topics& t, bool exactly_once, absl::Duration commit) {
  stream::StreamOptions so;
  so.events_topic = t.events();
  so.commands_topic = t.commands();
  so.escalations_topic = t.escalations();
  so.state_topic = t.state();
  so.dead_letter_topic = t.dead_letter();
  so.wall_clock_ticks = false;
  so.partitions = kPartitions;
  so.exactly_once = exactly_once;
  so.commit_interval = commit;
  return so;
}

// The core with its clients, one instance.
struct Core {
  std::unique_ptr<kafka::Consumer> consumer;
  std::unique_ptr<kafka::Producer> producer;
  std::unique_ptr<stream::StreamProcessor> processor;
};

std::unique_ptr<Core> NewCore(const std::string& group, const stream::StreamOptions& so,
                              const Clock& clock) {
  auto core = std::make_unique<Core>();
  kafka::ConsumerOptions co;
  co.group_id = group;
  core->consumer = *kafka::NewConsumer(Config(), co);
  kafka::ProducerOptions po;
  if (so.exactly_once) {
    po.transactional_id = group + "-1";
    po.transaction_timeout = absl::Seconds(10);
  }
  core->producer = *kafka::NewProducer(Config(), po);
  kafka::KafkaConfig rc = Config();
  core->processor = std::make_unique<stream::StreamProcessor>(
      DefaultPolicy(), so, *core->consumer, *core->producer,
      [rc]() { return kafka::NewConsumer(rc, kafka::ConsumerOptions{}); }, clock);
  if (absl::Status s = core->processor->Start(); !s.ok()) {
    std::fprintf(stderr, "start: %s\n", std::string(s.message()).c_str());
    std::exit(1);
  }
  return core;
}

double bare_rate = 0;
int group_run = 0;

void BM_BareDecodingConsumer(benchmark::State& state) {
  Filled& fx = Prefilled();
  for (auto _ : state) {
    kafka::ConsumerOptions co;
    co.group_id = absl::StrCat(fx.topics.prefix, "bare-", group_run++);
    auto consumer = *kafka::NewConsumer(Config(), co);
    consumer->Subscribe({fx.topics.events()}, nullptr).IgnoreError();
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

void RunCore(benchmark::State& state, bool exactly_once) {
  Filled& fx = Prefilled();
  RealClock clock;
  double rate = 0;
  for (auto _ : state) {
    // Its own output topics (state, escalations, ...): only the input is
    // shared, else it would recover the other core's state.
    Topics outputs = CreateTopics(exactly_once ? "eos" : "idem");
    outputs.events_override = fx.topics.events();
    auto core = NewCore(absl::StrCat(outputs.prefix, "core-", group_run++),
                        Options(outputs, exactly_once, absl::Milliseconds(100)), clock);
    absl::Time start = absl::InfinitePast();
    absl::Time report = absl::Now() + absl::Seconds(10);
    while (true) {
      if (absl::Status st = core->processor->Step(absl::Milliseconds(100));
          st.code() == absl::StatusCode::kAborted) {
        std::fprintf(stderr, "core fenced: %s\n", std::string(st.message()).c_str());
        std::exit(1);
      }
      const stream::StreamStatus s = core->processor->Status();
      if (absl::Now() > report) {
        report = absl::Now() + absl::Seconds(10);
        std::fprintf(stderr,
                     "core: %ld of %ld applied, %ld commits, %ld aborts, ready %d, %zu partitions, "
                     "last error: %s\n",
                     static_cast<long>(s.events_applied), static_cast<long>(fx.events),
                     static_cast<long>(s.commits), static_cast<long>(s.txn_aborts), s.ready,
                     s.partitions.size(), s.last_error.c_str());
      }
      if (s.events_applied > 0 && start == absl::InfinitePast()) start = absl::Now();
      if (s.events_applied >= fx.events) break;
    }
    // Until the outputs and offsets of the last event are committed: the
    // next commit round.
    // (If the round that applied the last events committed them, no further
    // commit comes: two intervals without one mean that.)
    const int64_t commits = core->processor->Status().commits;
    const absl::Time give_up = absl::Now() + absl::Milliseconds(200);
    while (core->processor->Status().commits == commits && absl::Now() < give_up) {
      core->processor->Step(absl::Milliseconds(10)).IgnoreError();
    }
    const double secs = absl::ToDoubleSeconds(absl::Now() - start);
    state.SetIterationTime(secs);
    rate = fx.events / secs;
    const stream::StreamStatus done = core->processor->Status();
    state.counters["commits"] = static_cast<double>(done.commits);
    state.counters["txn_aborts"] = static_cast<double>(done.txn_aborts);
    core->processor->Shutdown(absl::Seconds(10)).IgnoreError();
  }
  state.counters["events_per_second"] = rate;
  state.counters["ratio_to_bare"] = bare_rate > 0 ? rate / bare_rate : 0;
}

void BM_StreamIdempotent(benchmark::State& state) { RunCore(state, false); }
void BM_StreamExactlyOnce(benchmark::State& state) { RunCore(state, true); }

void BM_BreachToCommittedEscalation(benchmark::State& state) {
  const absl::Duration commit = absl::Milliseconds(state.range(0));
  constexpr double kSpeed = 720;
  static const std::vector<tidewatch::v1::CallEvent>* day =
      new std::vector<tidewatch::v1::CallEvent>(Day(1, absl::CivilDay(2022, 10, 3)));
  RealClock clock;
  std::vector<double> latencies_ms;
  for (auto _ : state) {
    const Topics t = CreateTopics(absl::StrCat("latency", state.range(0)));
    auto core = NewCore(t.prefix + "tidewatch", Options(t, true, commit), clock);
    // Joined and ready before the day starts.
    while (!core->processor->Status().ready)
      core->processor->Step(absl::Milliseconds(50)).IgnoreError();
    kafka::ConsumerOptions wo;
    wo.read_committed = true;
    auto watcher = *kafka::NewConsumer(Config(), wo);
    std::vector<kafka::TopicPartition> all;
    for (int p = 0; p < kPartitions; ++p)
      all.push_back({t.escalations(), p, kafka::kOffsetBeginning});
    watcher->Assign(all).IgnoreError();

    const absl::Time first = events::EventTime(day->front());
    const absl::Time start = absl::Now() + absl::Milliseconds(500);
    auto paced = [&](absl::Time event_time) { return start + (event_time - first) / kSpeed; };
    std::atomic<bool> produced{false};
    std::thread producer_thread([&] {
      kafka::ProducerOptions po;
      po.linger = absl::Milliseconds(1);
      auto producer = *kafka::NewProducer(Config(), po);
      for (const auto& e : *day) {
        const absl::Time due = paced(events::EventTime(e));
        if (absl::Now() < due) absl::SleepFor(due - absl::Now());
        producer->Produce(t.events(), e.line_id(), e.SerializeAsString()).IgnoreError();
        producer->Poll(absl::ZeroDuration());
      }
      producer->Flush(absl::Seconds(30)).IgnoreError();
      produced = true;
    });
    std::atomic<bool> stop{false};
    std::thread core_thread([&] {
      while (!stop) core->processor->Step(absl::Milliseconds(20)).IgnoreError();
    });
    const absl::Time end = paced(events::EventTime(day->back())) + absl::Seconds(10);
    while (absl::Now() < end || !produced) {
      std::vector<kafka::Record> batch;
      watcher->PollBatch(100, absl::Milliseconds(20), &batch).IgnoreError();
      const absl::Time now = absl::Now();
      for (const kafka::Record& r : batch) {
        tidewatch::v1::Escalation e;
        if (!e.ParseFromString(r.value) || !e.has_tide_change()) continue;
        const absl::Time change = FromProto(e.tide_change().time());
        latencies_ms.push_back(absl::ToDoubleMilliseconds(now - paced(change)));
      }
    }
    stop = true;
    core_thread.join();
    producer_thread.join();
    core->processor->Shutdown(absl::Seconds(10)).IgnoreError();
    state.SetIterationTime(absl::ToDoubleSeconds(end - start));
  }
  std::sort(latencies_ms.begin(), latencies_ms.end());
  auto q = [&](double f) {
    if (latencies_ms.empty()) return -1.0;
    return latencies_ms[std::min(latencies_ms.size() - 1,
                                 static_cast<size_t>(f * latencies_ms.size()))];
  };
  state.counters["tide_changes"] = static_cast<double>(latencies_ms.size());
  state.counters["p50_ms"] = q(0.5);
  state.counters["p99_ms"] = q(0.99);
  state.counters["max_ms"] = latencies_ms.empty() ? -1 : latencies_ms.back();
}

}  // namespace
}  // namespace tidewatch

int main(int argc, char** argv) {
  using namespace tidewatch;
  if (Bootstrap().empty()) {
    std::fprintf(stderr,
                 "real_kafka_bench: set TIDEWATCH_KAFKA_BOOTSTRAP (scripts/kafka-broker start "
                 "prints it)\n");
    return 2;
  }
  benchmark::RegisterBenchmark("BM_BareDecodingConsumer", BM_BareDecodingConsumer)
      ->UseManualTime()
      ->Iterations(1)
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BM_StreamIdempotent", BM_StreamIdempotent)
      ->UseManualTime()
      ->Iterations(1)
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BM_StreamExactlyOnce", BM_StreamExactlyOnce)
      ->UseManualTime()
      ->Iterations(1)
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BM_BreachToCommittedEscalation", BM_BreachToCommittedEscalation)
      ->Arg(100)
      ->Arg(1000)
      ->UseManualTime()
      ->Iterations(1)
      ->Unit(benchmark::kMillisecond);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
