// tidewatchd's streaming core on a real Apache Kafka (issue 10), in one run.
//
//   BM_CoreVsBareDecodingConsumer
// One topic of 12 partitions keyed by line_id, pre-filled with 128 simulated
// Council Tax summons Mondays (~2,000,000 events; TIDEWATCH_BENCH_DAYS).
// Warm-up rounds (printed, not counted: one, or with TIDEWATCH_KAFKA_DIR
// set as for scripts/kafka-broker, as many as it takes for the broker JVM's
// JIT compiler to fall quiet, at most kMaxWarmUpRounds), then three rounds,
// each of:
//   bare          a librdkafka consumer that only decodes, with protobuf's
//                 generated parser (into a message on an arena; no
//                 headers), from the first record to the last: the
//                 baseline of every session before the thirteenth;
//   bare (view)   the same, decoding as tidewatchd does since the
//                 thirteenth session (events::EventDecoder, views of the
//                 records, ~3x cheaper than protobuf's parser): the
//                 like-for-like baseline (docs/performance.md, issue 10:
//                 which of the two the targets mean);
//   idempotent    tidewatchd's streaming core with its default settings
//                 (commit interval 1 s, engines on a worker thread,
//                 idempotent producer, at-least-once);
//   exactly-once  the same with transactions (tidewatchd's default on a real
//                 cluster);
// each reading the whole topic from the beginning in its own consumer group
// (cores with their own output topics), the cores timed from their first
// applied event until the group's committed offsets cover the whole topic
// (so the last commit round is in; asked every 10 ms by a client that
// already knows the group's coordinator). Reported: the medians of each side's
// events/s and of the per-round ratios to each bare consumer (targets >= 0.8
// idempotent, >= 0.6 exactly-once), with min and max (to the view-decoding
// one: medians only).
//
//   BM_BreachToCommittedEscalation/<commit interval ms>
// produces the summons day paced at 720x real time into fresh topics while
// an exactly-once core processes it and a read_committed consumer watches
// the escalations topic: the latency of each tide change is the time from
// the production of the event that carried the engine past the change
// (the paced wall time of the change's event time) to the escalation's
// arrival at the read_committed consumer, i.e. committed. p50/p99/max over
// the day's tide changes (tens of samples per run: p99 is close to the max).
//
// Every invocation leaves its topics on the broker (~45, ~440 partitions):
// a broker that has served ~30 invocations runs out of open files and
// stops (docs/performance.md); start it with --fresh between long series.
//
// Needs TIDEWATCH_KAFKA_BOOTSTRAP (scripts/kafka-broker start prints it):
//   scripts/kafka-broker start
//   TIDEWATCH_KAFKA_BOOTSTRAP=127.0.0.1:PORT build/release/bench/stream/real_kafka_bench
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bare_decoder.h"
#include "benchmark/benchmark.h"
#include "common/clock.h"
#include "common/proto_time.h"
#include "events/events.h"
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

constexpr int kPartitions = 12;
// Simulated days in the pre-filled topic (~15,700 events each): a backlog
// long enough (2 M events, several seconds a run) that the last commit
// after the last event (up to the 1 s commit interval plus a round trip) is
// a small part of a run (TIDEWATCH_BENCH_DAYS to change it).
int Days() {
  const char* v = std::getenv("TIDEWATCH_BENCH_DAYS");
  return v != nullptr && std::atoi(v) > 0 ? std::atoi(v) : 128;
}

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
  // Experiments: TIDEWATCH_BENCH_KAFKA="key=value,key=value" (librdkafka
  // settings for every client of the bench, both sides alike).
  if (const char* v = std::getenv("TIDEWATCH_BENCH_KAFKA")) {
    for (absl::string_view kv : absl::StrSplit(v, ',', absl::SkipEmpty())) {
      const std::pair<std::string, std::string> p = absl::StrSplit(kv, absl::MaxSplits('=', 1));
      c.extra[p.first] = p.second;
    }
  }
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
    const absl::Time t0 = absl::Now();
    for (int day = 0; day < Days(); ++day) {
      for (const auto& e : Day(100 + day, absl::CivilDay(2022, 10, 3) + 7 * day)) {
        while (producer->Produce(fx->topics.events(), e.line_id(), e.SerializeAsString()).code() ==
               absl::StatusCode::kResourceExhausted) {
          producer->Poll(absl::Milliseconds(10));
        }
        ++fx->events;
      }
    }
    producer->Flush(absl::Seconds(120)).IgnoreError();
    std::fprintf(stderr, "pre-filled %s with %ld events (%d days) in %s\n",
                 fx->topics.events().c_str(), static_cast<long>(fx->events), Days(),
                 absl::FormatDuration(absl::Now() - t0).c_str());
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

// StreamOptions::engine_thread of the cores: on, as tidewatchd
// (TIDEWATCH_BENCH_ENGINE_THREAD=0 for everything on one thread).
bool EngineThread() {
  const char* v = std::getenv("TIDEWATCH_BENCH_ENGINE_THREAD");
  return v == nullptr || std::string(v) != "0";
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
  so.engine_thread = EngineThread();
  // For experiments: TIDEWATCH_BENCH_MAX_BATCH (default
  // StreamOptions::max_batch, as tidewatchd).
  if (const char* v = std::getenv("TIDEWATCH_BENCH_MAX_BATCH")) so.max_batch = std::atoi(v);
  return so;
}

// A producer in front of a real one that times the transactional calls, to
// see where a transaction commit's time goes.
class TimingProducer final : public kafka::ForwardingProducer {
 public:
  using ForwardingProducer::ForwardingProducer;
  absl::Duration send_offsets, commit;
  int sends = 0, commits = 0;

  absl::Status SendOffsetsToTransaction(const std::vector<kafka::TopicPartition>& offsets,
                                        const kafka::ConsumerGroupMetadata& group,
                                        absl::Duration timeout) override {
    const absl::Time t = absl::Now();
    absl::Status s = real().SendOffsetsToTransaction(offsets, group, timeout);
    send_offsets += absl::Now() - t;
    ++sends;
    return s;
  }
  absl::Status CommitTransaction(absl::Duration timeout) override {
    const absl::Time t = absl::Now();
    absl::Status s = real().CommitTransaction(timeout);
    commit += absl::Now() - t;
    ++commits;
    return s;
  }
};

// linger.ms of the cores' producers (TIDEWATCH_BENCH_LINGER_MS, for
// experiments; default: the library's, as tidewatchd).
absl::Duration Linger() {
  const char* v = std::getenv("TIDEWATCH_BENCH_LINGER_MS");
  return v != nullptr ? absl::Milliseconds(std::atoi(v)) : kafka::ProducerOptions{}.linger;
}

// The core with its clients, one instance, set up as tidewatchd sets it up.
struct Core {
  std::unique_ptr<kafka::Consumer> consumer;
  std::unique_ptr<kafka::Producer> producer;
  std::unique_ptr<stream::StreamProcessor> processor;
  TimingProducer* timing = nullptr;
};

std::unique_ptr<Core> NewCore(const std::string& group, const stream::StreamOptions& so,
                              const Clock& clock) {
  auto core = std::make_unique<Core>();
  kafka::ConsumerOptions co;
  co.group_id = group;
  co.read_headers = false;  // as tidewatchd
  core->consumer = *kafka::NewConsumer(Config(), co);
  kafka::ProducerOptions po;
  po.delivery_timeout = absl::Minutes(10);  // as tidewatchd
  po.linger = Linger();
  if (so.exactly_once) {
    po.transactional_id = group + "-1";
    po.transaction_timeout = std::max(absl::Seconds(10), 4 * so.commit_interval);
  }
  auto timing = std::make_unique<TimingProducer>(*kafka::NewProducer(Config(), po));
  core->timing = timing.get();
  core->producer = std::move(timing);
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

int group_run = 0;

// The broker's pid, when known from scripts/kafka-broker's directory
// ($TIDEWATCH_KAFKA_DIR/broker.pid); -1 otherwise.
long BrokerPid() {
  const char* dir = std::getenv("TIDEWATCH_KAFKA_DIR");
  if (dir == nullptr) return -1;
  std::ifstream pid_file(std::string(dir) + "/broker.pid");
  long pid = 0;
  if (!(pid_file >> pid) || pid <= 0) return -1;
  return pid;
}

// utime + stime, in seconds, from a /proc/.../stat file; -1 if unreadable.
double StatCpuSeconds(const std::string& path) {
  const std::vector<std::string> f = bench::ProcStatFields(path);
  if (f.size() <= 12) return -1;
  return (std::atof(f[11].c_str()) + std::atof(f[12].c_str())) /
         static_cast<double>(sysconf(_SC_CLK_TCK));
}

// CPU seconds the broker's process has used so far, when its pid is known
// (BrokerPid); -1 otherwise. On this 2-core machine the broker's JVM shares
// the cores with both sides.
double BrokerCpuSeconds() {
  const long pid = BrokerPid();
  return pid < 0 ? -1 : StatCpuSeconds("/proc/" + std::to_string(pid) + "/stat");
}

// CPU seconds the broker JVM's JIT compiler threads ("C1 CompilerThre",
// "C2 CompilerThre") have used so far; -1 when the pid is unknown. After a
// fresh start they compile for a minute or more of load, seconds of CPU
// taken from the two cores the cores' threads share (the tenth session's
// "slow group" of rounds).
double BrokerJitCpuSeconds() {
  const long pid = BrokerPid();
  if (pid < 0) return -1;
  const std::string task_dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* dir = opendir(task_dir.c_str());
  if (dir == nullptr) return -1;
  double total = 0;
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    const std::string task = task_dir + "/" + entry->d_name;
    std::ifstream comm_file(task + "/comm");
    std::string comm;
    std::getline(comm_file, comm);
    if (!absl::StartsWith(comm, "C1 Compiler") && !absl::StartsWith(comm, "C2 Compiler")) continue;
    total += std::max(0.0, StatCpuSeconds(task + "/stat"));
  }
  closedir(dir);
  return total;
}

// "; broker process 0.520 s" for the run that started at `before`, or "".
std::string BrokerCpuSince(double before) {
  const double now = BrokerCpuSeconds();
  if (before < 0 || now < 0) return "";
  return absl::StrFormat("; broker process %.3f s", now - before);
}

// Reads the whole topic with a bare consumer that only decodes (no
// headers); events/s from the first record to the last.
double RunBare(const Filled& fx, bench::BareDecode decode) {
  kafka::ConsumerOptions co;
  co.group_id = absl::StrCat(fx.topics.prefix, "bare-", group_run++);
  co.read_headers = false;
  auto consumer = *kafka::NewConsumer(Config(), co);
  consumer->Subscribe({fx.topics.events()}, nullptr).IgnoreError();
  bench::BareDecoder decoder(decode);
  int64_t n = 0;
  absl::Time start = absl::InfinitePast();
  bench::ThreadCpu cpu;
  double broker_cpu = -1;
  kafka::RecordBatch batch;
  while (n < fx.events) {
    batch.clear();
    consumer->PollBatch(2000, absl::Milliseconds(100), &batch).IgnoreError();
    if (!batch.empty() && start == absl::InfinitePast()) {
      start = absl::Now();
      cpu = bench::ThreadCpu::Now();
      broker_cpu = BrokerCpuSeconds();
    }
    n += decoder.CountValid(batch);
  }
  const double secs = absl::ToDoubleSeconds(absl::Now() - start);
  const bench::ThreadCpu end_cpu = bench::ThreadCpu::Now();
  std::fprintf(stderr, "bare%s: %s%s%s\n", decode == bench::BareDecode::kViews ? " (view)" : "",
               bench::ThreadCpu::Summary(end_cpu.Since(cpu), secs).c_str(),
               bench::ThreadCpu::WaitSummary(end_cpu, cpu).c_str(),
               BrokerCpuSince(broker_cpu).c_str());
  consumer->Close().IgnoreError();
  return n / secs;
}

struct CoreRun {
  double events_per_second = 0;   // until the end is committed
  double applied_per_second = 0;  // until the last event is applied
  int64_t commits = 0;
  int64_t commit_failures = 0;
  int64_t txn_aborts = 0;
  // Mean wall time of the Steps in which a commit was counted (exactly-once:
  // the Step that ran the transaction commit; idempotent: the Step that
  // served the asynchronous commit's result), and of the other Steps
  // (measured without the engine thread only).
  double commit_step_ms = 0;
  double other_step_ms = 0;
  // Exactly-once: mean time in SendOffsetsToTransaction and
  // CommitTransaction (which flushes the transaction's records itself).
  double send_offsets_ms = 0;
  double commit_txn_ms = 0;
  int send_calls = 0;  // retried calls counted again
};

// Whether `group`'s committed offsets of the events topic reach `end`.
bool CommittedToEnd(kafka::Consumer& asker, const std::string& topic,
                    const std::vector<int64_t>& end) {
  std::vector<kafka::TopicPartition> all;
  for (int p = 0; p < kPartitions; ++p) all.push_back({topic, p});
  absl::StatusOr<std::vector<kafka::TopicPartition>> got = asker.Committed(all, absl::Seconds(10));
  if (!got.ok()) return false;
  for (const kafka::TopicPartition& tp : *got) {
    // (A partition without events is never committed.)
    if (end[tp.partition] > 0 && tp.offset < end[tp.partition]) return false;
  }
  return true;
}

// Reads the whole topic with tidewatchd's streaming core at its defaults.
CoreRun RunCore(const Filled& fx, bool exactly_once) {
  RealClock clock;
  // Its own output topics (state, escalations, ...): only the input is
  // shared, else it would recover the other core's state.
  Topics outputs = CreateTopics(exactly_once ? "eos" : "idem");
  outputs.events_override = fx.topics.events();
  // tidewatchd's defaults (commit interval 1 s) on event time.
  const stream::StreamOptions so =
      Options(outputs, exactly_once, stream::StreamOptions{}.commit_interval);
  const std::string group = absl::StrCat(outputs.prefix, "core-", group_run++);
  auto core = NewCore(group, so, clock);
  kafka::ConsumerOptions ao;
  ao.group_id = group;  // never joins: asks for the committed offsets
  // While a transaction's offsets are not yet stable the broker answers
  // "unstable offset commit" and the asker asks again after
  // retry.backoff.ms (100 ms by default, which this measurement would add).
  kafka::KafkaConfig asker_config = Config();
  asker_config.extra["retry.backoff.ms"] = "5";
  auto asker = *kafka::NewConsumer(asker_config, ao);
  std::vector<int64_t> end(kPartitions);
  for (int p = 0; p < kPartitions; ++p) {
    end[p] = asker->QueryWatermarks(fx.topics.events(), p, absl::Seconds(10))->high;
  }
  // Its first question finds the group's coordinator (~100 ms): asked now,
  // so that the end of the run is not measured with it.
  CommittedToEnd(*asker, fx.topics.events(), end);
  absl::Time start = absl::InfinitePast();
  absl::Time applied = absl::InfinitePast();
  // Once every event is applied, an observer on its own thread asks every
  // 10 ms whether the group's committed offsets reach the end. (Asked
  // between the core's Steps, as before the twenty-first session, the
  // answer waited for any Step polling the caller's 100 ms with nothing
  // left to read: up to 100 ms added to a run's end.)
  std::thread observer;
  std::atomic<bool> committed{false};
  absl::Time done = absl::InfinitePast();
  int asks = 0;
  absl::Duration last_ask;
  absl::Time report = absl::Now() + absl::Seconds(10);
  CoreRun out;
  bench::ThreadCpu cpu;
  double broker_cpu = -1;
  int64_t commits = 0;
  absl::Duration commit_steps, other_steps;
  int commit_n = 0, other_n = 0;
  while (true) {
    const absl::Time step_start = absl::Now();
    if (absl::Status st = core->processor->Step(absl::Milliseconds(100));
        st.code() == absl::StatusCode::kAborted) {
      std::fprintf(stderr, "core fenced: %s\n", std::string(st.message()).c_str());
      std::exit(1);
    }
    const absl::Time now = absl::Now();
    // Status() after every Step only without the engine thread: it waits
    // for the batch the worker is applying, which would serialise them.
    if (!so.engine_thread && start != absl::InfinitePast() && applied == absl::InfinitePast()) {
      const int64_t c = core->processor->Status().commits;
      if (c != commits) {
        commit_steps += now - step_start;
        ++commit_n;
      } else {
        other_steps += now - step_start;
        ++other_n;
      }
      commits = c;
    }
    if (now > report) {
      const stream::StreamStatus s = core->processor->Status();
      report = now + absl::Seconds(10);
      std::fprintf(stderr,
                   "core: %ld of %ld applied, %ld commits, %ld aborts, ready %d, %zu partitions, "
                   "last error: %s\n",
                   static_cast<long>(s.events_applied), static_cast<long>(fx.events),
                   static_cast<long>(s.commits), static_cast<long>(s.txn_aborts), s.ready,
                   s.partitions.size(), s.last_error.c_str());
    }
    const int64_t applied_so_far = core->processor->events_applied();
    if (applied_so_far > 0 && start == absl::InfinitePast()) {
      start = now;
      cpu = bench::ThreadCpu::Now();
      broker_cpu = BrokerCpuSeconds();
    }
    if (applied_so_far < fx.events) continue;
    if (applied == absl::InfinitePast()) {
      applied = now;
      const stream::StreamStatus s = core->processor->Status();
      const bench::ThreadCpu end_cpu = bench::ThreadCpu::Now();
      std::fprintf(
          stderr,
          "core%s: until applied %s%s%s; %ld records consumed in %ld batches, %ld recoveries, "
          "%ld stale dropped; produced %ld escalations, %ld states\n",
          exactly_once ? " (exactly-once)" : "",
          bench::ThreadCpu::Summary(end_cpu.Since(cpu), absl::ToDoubleSeconds(now - start)).c_str(),
          bench::ThreadCpu::WaitSummary(end_cpu, cpu).c_str(), BrokerCpuSince(broker_cpu).c_str(),
          static_cast<long>(s.records_consumed), static_cast<long>(s.batch_latency.batches),
          static_cast<long>(s.recoveries), static_cast<long>(s.stale_records_dropped),
          static_cast<long>(s.escalations_produced), static_cast<long>(s.state_records_produced));
    }
    // Every event applied: until the group's offsets say so.
    if (!observer.joinable()) {
      observer = std::thread([&] {
        const absl::Time give_up = absl::Now() + absl::Seconds(60);
        for (;;) {
          const absl::Time asked = absl::Now();
          ++asks;
          if (CommittedToEnd(*asker, fx.topics.events(), end)) {
            done = absl::Now();
            committed = true;
            return;
          }
          last_ask = absl::Now() - asked;
          if (asked > give_up) {
            std::fprintf(stderr, "core: the end not committed within a minute of being applied\n");
            std::exit(1);
          }
          absl::SleepFor(absl::Milliseconds(10) - (absl::Now() - asked));
        }
      });
    }
    if (committed) break;
  }
  observer.join();
  std::fprintf(stderr,
               "core%s: committed %s after applied (asked %d times, the last ask before took %s)\n",
               exactly_once ? " (exactly-once)" : "", absl::FormatDuration(done - applied).c_str(),
               asks, absl::FormatDuration(last_ask).c_str());
  out.events_per_second = fx.events / absl::ToDoubleSeconds(done - start);
  out.applied_per_second = fx.events / absl::ToDoubleSeconds(applied - start);
  const stream::StreamStatus s = core->processor->Status();
  out.commits = s.commits;
  out.commit_failures = s.commit_failures;
  out.txn_aborts = s.txn_aborts;
  out.send_calls = core->timing->sends;
  if (core->timing->sends > 0) {
    out.send_offsets_ms =
        absl::ToDoubleMilliseconds(core->timing->send_offsets) / core->timing->sends;
  }
  if (core->timing->commits > 0) {
    out.commit_txn_ms = absl::ToDoubleMilliseconds(core->timing->commit) / core->timing->commits;
  }
  out.commit_step_ms = commit_n > 0 ? absl::ToDoubleMilliseconds(commit_steps) / commit_n : 0;
  out.other_step_ms = other_n > 0 ? absl::ToDoubleMilliseconds(other_steps) / other_n : 0;
  core->processor->Shutdown(absl::Seconds(10)).IgnoreError();
  asker->Close().IgnoreError();
  return out;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// The bare side alone, three runs (for experiments with its settings).
void BM_BareDecodingConsumerOnly(benchmark::State& state) {
  Filled& fx = Prefilled();
  for (auto _ : state) {
    for (int i = 0; i < 3; ++i) {
      std::fprintf(stderr, "bare %.0f/s, view %.0f/s\n", RunBare(fx, bench::BareDecode::kProtobuf),
                   RunBare(fx, bench::BareDecode::kViews));
    }
  }
}
BENCHMARK(BM_BareDecodingConsumerOnly)->Iterations(1)->Unit(benchmark::kMillisecond);

// Three rounds (after a warm-up round) of bare, idempotent core,
// exactly-once core; medians, so that one disturbed run (a shared 2-core
// machine) does not decide a ratio.
void BM_CoreVsBareDecodingConsumer(benchmark::State& state) {
  Filled& fx = Prefilled();
  constexpr int kRounds = 3;
  // Warm-up rounds go on while the broker JVM's JIT compiler used more than
  // kJitQuiet of CPU in the last one: after a fresh start it compiles for a
  // minute or more of load (seconds of CPU on this 2-core machine, e.g.
  // C2 4.5 s and C1 1.0 s in one invocation), and every core round of that
  // time fell in the slow group (tenth session, docs/performance.md).
  constexpr int kMaxWarmUpRounds = 10;
  constexpr double kJitQuiet = 0.25;
  std::vector<double> bare, idem, eos, idem_ratio, eos_ratio, idem_applied, eos_applied;
  std::vector<double> bare_view, idem_ratio_view, eos_ratio_view;
  double idem_commits = 0, eos_commits = 0, failures = 0, aborts = 0;
  for (auto _ : state) {
    const absl::Time t0 = absl::Now();
    // The warm-up rounds also warm the broker's paths the cores use and the
    // bare side does not (offset commits, transactions, producing to new
    // topics). Printed, not counted.
    int warm_up = 0;
    double jit_before = BrokerJitCpuSeconds();
    for (int i = -1; i < kRounds; ++i) {
      const double b = RunBare(fx, bench::BareDecode::kProtobuf);
      const double bv = RunBare(fx, bench::BareDecode::kViews);
      const CoreRun a = RunCore(fx, /*exactly_once=*/false);
      const CoreRun e = RunCore(fx, /*exactly_once=*/true);
      // Step timings exist only without the engine thread (see CoreRun).
      auto steps = [](const CoreRun& r) {
        return EngineThread() ? std::string()
                              : absl::StrFormat("; commit step %.1f ms, other steps %.1f ms",
                                                r.commit_step_ms, r.other_step_ms);
      };
      std::fprintf(
          stderr,
          "round %d%s: bare %.0f/s (view %.0f/s); idempotent %.0f/s (applied %.0f/s, "
          "%ld commits%s), ratio %.2f (%.2f to view); exactly-once %.0f/s (applied "
          "%.0f/s, %ld transactions, send offsets %.1f ms in %d calls, commit "
          "transaction %.1f ms%s), ratio %.2f (%.2f to view)\n",
          i + 1, i < 0 ? absl::StrFormat(" (warm-up %d, not counted)", warm_up + 1).c_str() : "", b,
          bv, a.events_per_second, a.applied_per_second, static_cast<long>(a.commits),
          steps(a).c_str(), a.events_per_second / b, a.events_per_second / bv, e.events_per_second,
          e.applied_per_second, static_cast<long>(e.commits), e.send_offsets_ms, e.send_calls,
          e.commit_txn_ms, steps(e).c_str(), e.events_per_second / b, e.events_per_second / bv);
      if (i < 0) {  // a warm-up round: another while the JIT compiles
        const double jit = BrokerJitCpuSeconds();
        ++warm_up;
        if (jit_before >= 0 && jit - jit_before > kJitQuiet && warm_up < kMaxWarmUpRounds) {
          std::fprintf(stderr, "broker JIT compiler used %.2f s of CPU in that round: warming up\n",
                       jit - jit_before);
          --i;
        }
        jit_before = jit;
        continue;
      }
      bare.push_back(b);
      bare_view.push_back(bv);
      idem_ratio_view.push_back(a.events_per_second / bv);
      eos_ratio_view.push_back(e.events_per_second / bv);
      idem.push_back(a.events_per_second);
      eos.push_back(e.events_per_second);
      idem_applied.push_back(a.applied_per_second);
      eos_applied.push_back(e.applied_per_second);
      idem_ratio.push_back(a.events_per_second / b);
      eos_ratio.push_back(e.events_per_second / b);
      idem_commits += static_cast<double>(a.commits) / kRounds;
      eos_commits += static_cast<double>(e.commits) / kRounds;
      failures += static_cast<double>(a.commit_failures + e.commit_failures);
      aborts += static_cast<double>(e.txn_aborts);
    }
    state.SetIterationTime(absl::ToDoubleSeconds(absl::Now() - t0));
  }
  state.counters["events"] = static_cast<double>(fx.events);
  state.counters["bare_per_s"] = Median(bare);
  state.counters["bare_view_per_s"] = Median(bare_view);
  state.counters["idem_ratio_to_view"] = Median(idem_ratio_view);
  state.counters["eos_ratio_to_view"] = Median(eos_ratio_view);
  state.counters["idem_per_s"] = Median(idem);
  state.counters["idem_applied_per_s"] = Median(idem_applied);
  state.counters["eos_per_s"] = Median(eos);
  state.counters["eos_applied_per_s"] = Median(eos_applied);
  state.counters["idem_ratio"] = Median(idem_ratio);
  state.counters["idem_ratio_min"] = *std::min_element(idem_ratio.begin(), idem_ratio.end());
  state.counters["idem_ratio_max"] = *std::max_element(idem_ratio.begin(), idem_ratio.end());
  state.counters["eos_ratio"] = Median(eos_ratio);
  state.counters["eos_ratio_min"] = *std::min_element(eos_ratio.begin(), eos_ratio.end());
  state.counters["eos_ratio_max"] = *std::max_element(eos_ratio.begin(), eos_ratio.end());
  state.counters["idem_commits"] = idem_commits;
  state.counters["eos_commits"] = eos_commits;
  state.counters["commit_failures"] = failures;
  state.counters["txn_aborts"] = aborts;
}

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
      kafka::RecordBatch batch;
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
  benchmark::RegisterBenchmark("BM_CoreVsBareDecodingConsumer", BM_CoreVsBareDecodingConsumer)
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
