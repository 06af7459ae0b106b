// tidewatchd's streaming core against a bare librdkafka consumer that only
// decodes, on the same pre-filled topic of the in-process broker, in one
// run: events/s of each and their ratio (issue 5 target: >= 0.8).
//
// The topic holds several simulated council days (tide-sim's summons
// scenario, different seeds and dates), 12 partitions keyed by line_id.
// Each side reads it from the beginning with its own consumer group.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bare_decoder.h"
#include "benchmark/benchmark.h"
#include "common/clock.h"
#include "events/events.h"
#include "kafka/embedded_broker.h"
#include "kafka/forwarding.h"
#include "kafka/kafka.h"
#include "policy/policy.h"
#include "sim/event_sink.h"
#include "sim/scenario.h"
#include "sim/simulator.h"
#include "stream/stream_processor.h"
#include "thread_cpu.h"

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

// A run that does not finish in this long has lost events (it would
// otherwise poll for ever): the bench stops with what it saw.
constexpr absl::Duration kRunLimit = absl::Minutes(2);

[[noreturn]] void StuckRun(const char* side, int64_t seen, int64_t want,
                           const std::string& detail) {
  std::fprintf(stderr, "stream_bench: %s run stuck: %lld of %lld events after %s%s\n", side,
               static_cast<long long>(seen), static_cast<long long>(want),
               absl::FormatDuration(kRunLimit).c_str(), detail.c_str());
  std::exit(1);
}

// Times a side's polls, from the first that returned records (where the
// run's time starts, for either side): how long it waited in them, empty
// ones apart, and the CPU each thread used since.
class PollTimingConsumer : public kafka::ForwardingConsumer {
 public:
  using ForwardingConsumer::ForwardingConsumer;
  absl::Status PollBatch(size_t max_records, absl::Duration timeout,
                         kafka::RecordBatch* out) override {
    const size_t before = out->size();
    const absl::Time t0 = absl::Now();
    absl::Status s = ForwardingConsumer::PollBatch(max_records, timeout, out);
    const absl::Time t1 = absl::Now();
    if (out->size() == before) {
      empty_time_ += t1 - t0;
      ++empty_polls_;
      return s;
    }
    if (polls_++ == 0) {
      first_records_ = t1;
      cpu_at_first_records_ = bench::ThreadCpu::Now();
      empty_polls_ = 0;
      empty_time_ = absl::ZeroDuration();
    } else {
      poll_time_ += t1 - t0;
    }
    return s;
  }
  absl::Time first_records() const { return first_records_; }
  // "47 polls 20ms (+ the first), 1 empty 1ms; cpu ...".
  std::string Summary(absl::Time end) const {
    const bench::ThreadCpu now = bench::ThreadCpu::Now();
    return absl::StrCat(polls_ - 1, " polls ", absl::FormatDuration(poll_time_), " (+ the first), ",
                        empty_polls_, " empty ", absl::FormatDuration(empty_time_), "; ",
                        bench::ThreadCpu::Summary(now.Since(cpu_at_first_records_),
                                                  absl::ToDoubleSeconds(end - first_records_)),
                        bench::ThreadCpu::WaitSummary(now, cpu_at_first_records_));
  }

 private:
  int64_t polls_ = 0, empty_polls_ = 0;
  absl::Duration poll_time_, empty_time_;
  absl::Time first_records_ = absl::InfinitePast();
  bench::ThreadCpu cpu_at_first_records_;
};

// Reads the whole topic with a bare consumer that only decodes; events/s
// from the first record to the last. `views`: decoding as tidewatchd does
// (events::EventDecoder into views of the records) rather than with
// protobuf's generated parser.
double RunBare(Fixture& fx, int run, bool views = false) {
  bench::BareDecoder decoder(views ? bench::BareDecode::kViews : bench::BareDecode::kProtobuf);
  kafka::ConsumerOptions co;
  co.group_id = "bare-" + std::to_string(run);
  co.read_headers = false;
  auto consumer = std::make_unique<PollTimingConsumer>(*kafka::NewConsumer(fx.config, co));
  consumer->Subscribe({"telephony.call-events"}, nullptr).IgnoreError();
  int64_t n = 0;
  kafka::RecordBatch batch;
  const absl::Time limit = absl::Now() + kRunLimit;
  while (n < fx.events) {
    if (absl::Now() > limit) StuckRun("bare", n, fx.events, "");
    batch.clear();
    consumer->PollBatch(2000, absl::Milliseconds(100), &batch).IgnoreError();
    n += decoder.CountValid(batch);
  }
  const absl::Time end = absl::Now();
  const double secs = absl::ToDoubleSeconds(end - consumer->first_records());
  std::fprintf(stderr, "bare%s %d: %.0f events/s, %s\n", views ? " (views)" : "", run, n / secs,
               consumer->Summary(end).c_str());
  consumer->Close().IgnoreError();
  return n / secs;
}

struct StreamRun {
  double events_per_second = 0;
  double processing_seconds = 0;  // in polled batches: decode, engines, ticks
  double seconds = 0;
};

// Reads the whole topic with tidewatchd's streaming core (decode, 12
// partition engines, escalations, state, commits).
StreamRun RunStream(Fixture& fx, int run,
                    const std::shared_ptr<const policy::CompiledPolicy>& policy,
                    bool engine_thread) {
  RealClock clock;
  kafka::ConsumerOptions co;
  co.group_id = "tidewatch-" + std::to_string(run);
  co.read_headers = false;  // as tidewatchd
  auto consumer = std::make_unique<PollTimingConsumer>(*kafka::NewConsumer(fx.config, co));
  auto producer = *kafka::NewProducer(fx.config, {});
  stream::StreamOptions so;
  so.wall_clock_ticks = false;
  so.partitions = 12;
  so.engine_thread = engine_thread;
  // Fresh outputs per run: a state topic left by an earlier run would make
  // this one recover from it instead of reading everything.
  so.state_topic = "tidewatch.state-" + std::to_string(run);
  so.escalations_topic = "tidewatch.escalations-" + std::to_string(run);
  fx.broker->CreateTopic(so.state_topic, 12).IgnoreError();
  fx.broker->CreateTopic(so.escalations_topic, 12).IgnoreError();
  kafka::KafkaConfig rc = fx.config;
  stream::StreamProcessor p(
      policy, so, *consumer, *producer,
      [rc]() { return kafka::NewConsumer(rc, kafka::ConsumerOptions{}); }, clock);
  p.Start().IgnoreError();
  const absl::Time limit = absl::Now() + kRunLimit;
  while (p.events_applied() < fx.events) {
    // A short poll timeout: with the engine thread the last batch is
    // applied during the next Step's poll, which would otherwise wait for
    // records that never come before this loop sees the total. (Not
    // Status() after every Step: it waits for the batch the engine thread
    // is applying, which would serialise polling with applying.)
    p.Step(absl::Milliseconds(1)).IgnoreError();
    if (absl::Now() > limit) {
      const stream::StreamStatus status = p.Status();
      std::string lag;
      for (const kafka::PartitionLag& l : status.lag) {
        lag += " " + std::to_string(l.partition) + "@" + std::to_string(l.position) + "/" +
               std::to_string(l.high_watermark);
      }
      StuckRun(engine_thread ? "stream (engine thread)" : "stream", status.events_applied,
               fx.events,
               "; consumed " + std::to_string(status.records_consumed) + ", stale dropped " +
                   std::to_string(status.stale_records_dropped) + ", last error '" +
                   status.last_error + "', positions" + lag);
    }
  }
  const absl::Time end = absl::Now();
  StreamRun out;
  out.seconds = absl::ToDoubleSeconds(end - consumer->first_records());
  out.events_per_second = fx.events / out.seconds;
  const stream::BatchLatency batches = p.Status().batch_latency;
  out.processing_seconds = batches.sum_seconds;
  std::fprintf(stderr, "stream%s %d: %.0f events/s, %lld batches applied in %.3f s, %s\n",
               engine_thread ? " (engine thread)" : "", run, out.events_per_second,
               static_cast<long long>(batches.batches), out.processing_seconds,
               consumer->Summary(end).c_str());
  p.Shutdown(absl::Seconds(10)).IgnoreError();
  return out;
}

// A number for each run in this process (consumer group and output topics
// are named by it): a run that reused an earlier run's group would start at
// its committed offsets and recover from its state topic instead of reading
// the topic (e.g. with --benchmark_repetitions).
int NextRun() {
  static int run = 0;
  return run++;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Nine rounds of bare (decoding with protobuf's parser, and decoding into
// views as tidewatchd does), stream (tidewatchd's default: engines on a
// worker thread) and stream with everything on one thread, each reading the
// topic from the beginning with a new consumer group; medians, so that disturbed
// runs (this is a shared 2-core machine, and a run lasts 40-70 ms: the same
// work sometimes takes half as much CPU again) do not decide the ratio.
void BM_StreamVsBareDecodingConsumer(benchmark::State& state) {
  Fixture& fx = Filled();
  auto policy = std::make_shared<const policy::CompiledPolicy>(
      *policy::LoadPolicyYaml(policy::DefaultPolicyYaml(), "default"));
  constexpr int kPairs = 9;
  std::vector<double> bare, streamed, ratio, processing, single, single_ratio;
  std::vector<double> bare_views, ratio_to_views;
  for (auto _ : state) {
    const absl::Time t0 = absl::Now();
    for (int i = 0; i < kPairs; ++i) {
      const double b = RunBare(fx, NextRun());
      const double bv = RunBare(fx, NextRun(), /*views=*/true);
      const StreamRun s = RunStream(fx, NextRun(), policy, /*engine_thread=*/true);
      const StreamRun one = RunStream(fx, NextRun(), policy, /*engine_thread=*/false);
      bare.push_back(b);
      streamed.push_back(s.events_per_second);
      ratio.push_back(s.events_per_second / b);
      bare_views.push_back(bv);
      ratio_to_views.push_back(s.events_per_second / bv);
      processing.push_back(s.processing_seconds / s.seconds);
      single.push_back(one.events_per_second);
      single_ratio.push_back(one.events_per_second / b);
    }
    state.SetIterationTime(absl::ToDoubleSeconds(absl::Now() - t0));
  }
  state.counters["events"] = static_cast<double>(fx.events);
  state.counters["bare_events_per_second"] = Median(bare);
  state.counters["stream_events_per_second"] = Median(streamed);
  state.counters["ratio_median"] = Median(ratio);
  state.counters["ratio_min"] = *std::min_element(ratio.begin(), ratio.end());
  state.counters["ratio_max"] = *std::max_element(ratio.begin(), ratio.end());
  // Against the bare consumer decoding into views (like for like since the
  // thirteenth session, when tidewatchd began to decode that way).
  state.counters["bare_views_events_per_second"] = Median(bare_views);
  state.counters["ratio_to_views_median"] = Median(ratio_to_views);
  // Share of the stream side's wall time the engines spent applying batches.
  state.counters["stream_busy_share"] = Median(processing);
  // Everything on the polling thread (StreamOptions::engine_thread off).
  state.counters["one_thread_events_per_second"] = Median(single);
  state.counters["one_thread_ratio_median"] = Median(single_ratio);
}
BENCHMARK(BM_StreamVsBareDecodingConsumer)
    ->UseManualTime()
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

// One side alone, for profiling (perf record --benchmark_filter=...): a
// run per iteration, events/s as the rate.
void BM_BareDecodingConsumerOnly(benchmark::State& state) {
  Fixture& fx = Filled();
  for (auto _ : state) {
    const double b = RunBare(fx, NextRun());
    state.SetIterationTime(fx.events / b);
  }
  state.SetItemsProcessed(state.iterations() * fx.events);
}
BENCHMARK(BM_BareDecodingConsumerOnly)
    ->UseManualTime()
    ->Iterations(5)
    ->Unit(benchmark::kMillisecond);

void BM_StreamingCoreOnly(benchmark::State& state) {
  Fixture& fx = Filled();
  auto policy = std::make_shared<const policy::CompiledPolicy>(
      *policy::LoadPolicyYaml(policy::DefaultPolicyYaml(), "default"));
  for (auto _ : state) {
    const StreamRun s = RunStream(fx, NextRun(), policy, state.range(0) != 0);
    state.SetIterationTime(s.seconds);
  }
  state.SetItemsProcessed(state.iterations() * fx.events);
}
BENCHMARK(BM_StreamingCoreOnly)
    ->ArgName("engine_thread")
    ->Arg(1)
    ->Arg(0)
    ->UseManualTime()
    ->Iterations(5)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tidewatch

BENCHMARK_MAIN();
