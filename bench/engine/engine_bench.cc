// Engine throughput (events/s, one thread) on a realistic multi-line day,
// and JSON-lines replay throughput (decode + validate + engine).
//
// The stream: 5 lines of the default policy, 08:00-18:00 on a Monday,
// arrival rates varying through the day with a morning surge on revenues,
// each call queued -> answered (+ completed) / abandoned / callback, waits
// from a simple single-queue model, agent_state events as staff log in and
// out, about 1% of events delivered up to 90 s out of order and 1%
// duplicated. Built once, replayed per iteration.
//
// BM_EngineStreaming mimics tidewatchd's streaming core: six simulated
// Council Tax summons Mondays (tide-sim's scenario, as bench/stream), one
// engine per partition of 12 owning the lines keyed to it (Kafka's murmur2),
// events handed over in small per-partition runs, as fetched batches do.
//
// `engine_bench --digest` prints a digest of everything the engines emit
// (escalations and 15-minute KPI snapshots) on these inputs instead of
// benchmarking: optimisations must leave it unchanged. `engine_bench --runs
// apply|streaming N` replays N times without the benchmark harness, for
// `perf stat -e instructions` (the difference between two N is the
// engine's work, stable under load).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "common/proto_time.h"
#include "engine/engine.h"
#include "events/events.h"
#include "google/protobuf/arena.h"
#include "policy/policy.h"
#include "sim/event_sink.h"
#include "sim/scenario.h"
#include "sim/simulator.h"

namespace tidewatch {
namespace {

using tidewatch::v1::CallEvent;

void SetTime(absl::Time t, google::protobuf::Timestamp* ts) { ToProto(t, ts); }
void SetDur(absl::Duration d, google::protobuf::Duration* out) { ToProto(d, out); }

std::vector<CallEvent> MakeDay(int64_t target_events) {
  const std::vector<std::string> lines = {"revenues", "council-tax", "waste", "housing",
                                          "adult-social-care"};
  const absl::Time open = absl::FromUnixSeconds(1664780400);  // 2022-10-03 07:00 UTC
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> u(0, 1);
  struct Keyed {
    double key;
    CallEvent e;
  };
  std::vector<Keyed> out;
  int64_t seq = 0;
  auto emit = [&](CallEvent e, absl::Time t) {
    e.set_event_id(absl::StrCat("e", seq++));
    e.set_source("bench");
    SetTime(t, e.mutable_event_time());
    double key = absl::ToDoubleSeconds(t - open);
    if (u(rng) < 0.01) key += u(rng) * 90;  // a little out of order
    out.push_back({key, std::move(e)});
  };
  // Agents log in per line.
  for (size_t l = 0; l < lines.size(); ++l) {
    for (int a = 0; a < 20; ++a) {
      CallEvent e;
      e.set_line_id(lines[l]);
      auto* s = e.mutable_agent_state();
      s->set_agent_id(absl::StrCat(lines[l], "-agent-", a));
      s->set_state(tidewatch::v1::AGENT_STATUS_AVAILABLE);
      s->set_origin(tidewatch::v1::AGENT_ORIGIN_CSC);
      emit(e, open + absl::Minutes(a));
    }
  }
  const double span = 10 * 3600;
  int64_t call = 0;
  while (static_cast<int64_t>(out.size()) < target_events) {
    const size_t l = rng() % lines.size();
    double at = u(rng) * span;
    // Morning surge on revenues: extra arrivals 09:00-11:00.
    if (l == 0 && u(rng) < 0.3) at = 2 * 3600 + u(rng) * 7200;
    const absl::Time tq = open + absl::Seconds(at);
    const double load = (l == 0 && at > 7200 && at < 14400) ? 600 : 90;
    const double wait = -std::log(1 - u(rng)) * load;
    const std::string id = absl::StrCat("call-", call++);
    CallEvent q;
    q.set_line_id(lines[l]);
    q.set_call_id(id);
    q.mutable_queued()->set_caller_key("3f9a1c0b7d2e4a61");
    emit(q, tq);
    CallEvent o;
    o.set_line_id(lines[l]);
    o.set_call_id(id);
    const double r = u(rng);
    const absl::Time to = tq + absl::Seconds(wait);
    if (r < 0.8) {
      o.mutable_answered()->set_agent_id("agent");
      SetDur(absl::Seconds(wait), o.mutable_answered()->mutable_wait());
      emit(o, to);
      CallEvent c;
      c.set_line_id(lines[l]);
      c.set_call_id(id);
      SetDur(absl::Seconds(240), c.mutable_completed()->mutable_talk());
      SetDur(absl::Seconds(30), c.mutable_completed()->mutable_wrap());
      emit(c, to + absl::Seconds(270));
    } else if (r < 0.95) {
      SetDur(absl::Seconds(wait), o.mutable_abandoned()->mutable_wait());
      emit(o, to);
    } else {
      o.mutable_callback_requested();
      emit(o, to);
    }
    if (u(rng) < 0.01) out.push_back(out.back());  // a re-delivery
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Keyed& a, const Keyed& b) { return a.key < b.key; });
  std::vector<CallEvent> events;
  events.reserve(out.size());
  for (Keyed& k : out) events.push_back(std::move(k.e));
  return events;
}

// The day's events laid out contiguously in stream order (on an arena), as
// a decoder hands them over one after another: the harness must not turn
// the engine benchmark into a cache-miss benchmark of scattered inputs.
const std::vector<const CallEvent*>& Day() {
  static const auto* day = [] {
    auto* arena = new google::protobuf::Arena();
    auto* out = new std::vector<const CallEvent*>();
    for (const CallEvent& e : MakeDay(1000000)) {
      CallEvent* copy = google::protobuf::Arena::CreateMessage<CallEvent>(arena);
      *copy = e;
      out->push_back(copy);
    }
    return out;
  }();
  return *day;
}

std::shared_ptr<const policy::CompiledPolicy> DefaultPolicy() {
  static const auto* p = new std::shared_ptr<const policy::CompiledPolicy>(
      std::make_shared<const policy::CompiledPolicy>(
          *policy::LoadPolicyYaml(policy::DefaultPolicyYaml(), "default")));
  return *p;
}

class CountingOutput : public engine::EngineOutput {
 public:
  void OnTideChange(const tidewatch::v1::TideChange&) override { ++changes; }
  void OnCallUp(const tidewatch::v1::CallUp&) override { ++callups; }
  int64_t changes = 0;
  int64_t callups = 0;
};

void BM_EngineApply(benchmark::State& state) {
  const auto& day = Day();
  int64_t changes = 0;
  for (auto _ : state) {
    CountingOutput out;
    engine::Engine engine(DefaultPolicy(), {}, &out);
    for (const CallEvent* e : day) engine.Apply(*e);
    engine.Finish();
    changes = out.changes;
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(day.size()));
  state.counters["tide_changes"] = static_cast<double>(changes);
}
BENCHMARK(BM_EngineApply)->Unit(benchmark::kMillisecond)->MinTime(3);

void BM_JsonLinesReplay(benchmark::State& state) {
  const auto& day = Day();
  std::string text;
  for (const CallEvent* e : day) {
    events::AppendJsonEvent(*e, text);
    text += '\n';
  }
  for (auto _ : state) {
    CountingOutput out;
    engine::Engine engine(DefaultPolicy(), {}, &out);
    CallEvent event;
    std::string_view rest(text);
    while (!rest.empty()) {
      size_t nl = rest.find('\n');
      std::string_view line = rest.substr(0, nl);
      rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
      if (events::ParseJsonEvent(line, event).ok()) engine.Apply(event);
    }
    engine.Finish();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(day.size()));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(text.size()));
}
BENCHMARK(BM_JsonLinesReplay)->Unit(benchmark::kMillisecond)->MinTime(3);

// Kafka's murmur2 partitioner (as libs/stream/partitioner.cc), so the
// engines own the same lines as tidewatchd's partition engines.
int32_t PartitionForKey(std::string_view key, int32_t partitions) {
  const uint32_t m = 0x5bd1e995;
  const size_t length = key.size();
  uint32_t h = 0x9747b28c ^ static_cast<uint32_t>(length);
  const auto* bytes = reinterpret_cast<const unsigned char*>(key.data());
  for (size_t i = 0; i + 4 <= length; i += 4) {
    uint32_t k = static_cast<uint32_t>(bytes[i]) | (static_cast<uint32_t>(bytes[i + 1]) << 8) |
                 (static_cast<uint32_t>(bytes[i + 2]) << 16) |
                 (static_cast<uint32_t>(bytes[i + 3]) << 24);
    k *= m;
    k ^= k >> 24;
    k *= m;
    h *= m;
    h ^= k;
  }
  const size_t tail = length & ~size_t{3};
  switch (length % 4) {
    case 3:
      h ^= static_cast<uint32_t>(bytes[tail + 2]) << 16;
      [[fallthrough]];
    case 2:
      h ^= static_cast<uint32_t>(bytes[tail + 1]) << 8;
      [[fallthrough]];
    case 1:
      h ^= static_cast<uint32_t>(bytes[tail]);
      h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return static_cast<int32_t>((h & 0x7fffffff) % static_cast<uint32_t>(partitions));
}

constexpr int kPartitions = 12;
constexpr size_t kRun = 64;  // events per partition per hand-over

// Six summons Mondays, split by partition in stream order; each
// partition's events contiguous on its own arena (as just decoded).
const std::vector<std::vector<const CallEvent*>>& SummonsByPartition() {
  static const auto* parts = [] {
    std::vector<std::vector<CallEvent>> split(kPartitions);
    auto scenario = *sim::LoadScenarioFile(std::string(TIDEWATCH_BENCH_SOURCE_DIR) +
                                           "/deploy/scenarios/council-tax-summons.yaml");
    for (int day = 0; day < 6; ++day) {
      sim::CollectingSink sink;
      sim::SimOptions o;
      o.seed = 100 + day;
      o.start_date = absl::CivilDay(2022, 10, 3) + 7 * day;
      sim::Simulate(scenario, o, sink).IgnoreError();
      for (const CallEvent& e : sink.events()) {
        split[PartitionForKey(e.line_id(), kPartitions)].push_back(e);
      }
    }
    auto* out = new std::vector<std::vector<const CallEvent*>>(kPartitions);
    for (int p = 0; p < kPartitions; ++p) {
      auto* arena = new google::protobuf::Arena();
      for (const CallEvent& e : split[p]) {
        CallEvent* copy = google::protobuf::Arena::CreateMessage<CallEvent>(arena);
        *copy = e;
        (*out)[p].push_back(copy);
      }
    }
    return out;
  }();
  return *parts;
}

int64_t SummonsEvents() {
  int64_t n = 0;
  for (const auto& p : SummonsByPartition()) n += static_cast<int64_t>(p.size());
  return n;
}

// Runs the partition engines over the summons days, `kRun` events of one
// partition after another; `tick`: also AdvanceTo the newest event time
// after each run (as live ticks would).
void RunPartitions(const engine::EngineOptions& base,
                   std::vector<std::unique_ptr<engine::EngineOutput>>& outputs, bool tick) {
  const auto& parts = SummonsByPartition();
  std::vector<std::unique_ptr<engine::Engine>> engines;
  for (int p = 0; p < kPartitions; ++p) {
    engine::EngineOptions eo = base;
    eo.owns_line = [p](std::string_view line) { return PartitionForKey(line, kPartitions) == p; };
    engines.push_back(std::make_unique<engine::Engine>(DefaultPolicy(), eo, outputs[p].get()));
  }
  std::vector<size_t> pos(kPartitions, 0);
  bool more = true;
  while (more) {
    more = false;
    for (int p = 0; p < kPartitions; ++p) {
      const auto& events = parts[p];
      const size_t end = std::min(events.size(), pos[p] + kRun);
      for (size_t i = pos[p]; i < end; ++i) engines[p]->Apply(*events[i]);
      pos[p] = end;
      if (tick && engines[p]->now() != absl::InfinitePast()) {
        engines[p]->AdvanceTo(engines[p]->now() + absl::Seconds(1));
      }
      more = more || end < events.size();
    }
  }
  for (auto& e : engines) e->Finish();
}

void BM_EngineStreaming(benchmark::State& state) {
  const int64_t n = SummonsEvents();
  for (auto _ : state) {
    std::vector<std::unique_ptr<engine::EngineOutput>> outputs;
    for (int p = 0; p < kPartitions; ++p) outputs.push_back(std::make_unique<CountingOutput>());
    RunPartitions({}, outputs, /*tick=*/false);
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_EngineStreaming)->Unit(benchmark::kMillisecond)->MinTime(3);

// Everything emitted, folded into one FNV-1a digest.
class DigestOutput : public engine::EngineOutput {
 public:
  void OnEscalation(const tidewatch::v1::Escalation& e) override {
    Fold(e.SerializeAsString());
    ++escalations;
  }
  void OnTideChange(const tidewatch::v1::TideChange&) override {}
  void OnCallUp(const tidewatch::v1::CallUp&) override {}
  void OnSnapshot(const tidewatch::v1::KpiSnapshot& s) override {
    Fold(s.SerializeAsString());
    ++snapshots;
  }
  void Fold(const std::string& bytes) {
    for (unsigned char c : bytes) {
      digest ^= c;
      digest *= 1099511628211ull;
    }
    digest ^= bytes.size();
    digest *= 1099511628211ull;
  }
  uint64_t digest = 14695981039346656037ull;
  int64_t escalations = 0;
  int64_t snapshots = 0;
};

int PrintDigests() {
  engine::EngineOptions snap;
  snap.snapshot_every = absl::Minutes(15);
  {
    DigestOutput out;
    engine::Engine engine(DefaultPolicy(), snap, &out);
    for (const CallEvent* e : Day()) engine.Apply(*e);
    engine.Finish();
    for (const auto& [k, v] : engine.SetAsideCounts()) out.Fold(absl::StrCat(k, "=", v));
    std::printf("day: digest %016llx, %lld escalations, %lld snapshots\n",
                static_cast<unsigned long long>(out.digest),
                static_cast<long long>(out.escalations), static_cast<long long>(out.snapshots));
  }
  struct Case {
    const char* name;
    engine::EngineOptions options;
    bool tick;
  };
  engine::EngineOptions live = snap;
  live.detect_stale_feeds = true;
  engine::EngineOptions no_skip = snap;
  no_skip.skip_idle_lines = false;
  for (const Case& c : {Case{"streaming", snap, false}, Case{"streaming-live", live, true},
                        Case{"streaming-no-skip", no_skip, false}}) {
    std::vector<std::unique_ptr<engine::EngineOutput>> outputs;
    for (int p = 0; p < kPartitions; ++p) outputs.push_back(std::make_unique<DigestOutput>());
    RunPartitions(c.options, outputs, c.tick);
    DigestOutput all;
    for (auto& o : outputs) {
      auto& d = static_cast<DigestOutput&>(*o);
      all.Fold(std::to_string(d.digest));
      all.escalations += d.escalations;
      all.snapshots += d.snapshots;
    }
    std::printf("%s: digest %016llx, %lld escalations, %lld snapshots\n", c.name,
                static_cast<unsigned long long>(all.digest),
                static_cast<long long>(all.escalations), static_cast<long long>(all.snapshots));
  }
  return 0;
}

int Runs(const char* what, int n) {
  const bool apply = std::strcmp(what, "apply") == 0;
  if (apply) {
    Day();
  } else {
    SummonsByPartition();
  }
  for (int i = 0; i < n; ++i) {
    if (apply) {
      CountingOutput out;
      engine::Engine engine(DefaultPolicy(), {}, &out);
      for (const CallEvent* e : Day()) engine.Apply(*e);
      engine.Finish();
    } else {
      std::vector<std::unique_ptr<engine::EngineOutput>> outputs;
      for (int p = 0; p < kPartitions; ++p) outputs.push_back(std::make_unique<CountingOutput>());
      RunPartitions({}, outputs, /*tick=*/false);
    }
  }
  return 0;
}

}  // namespace
}  // namespace tidewatch

int main(int argc, char** argv) {
  if (argc == 2 && std::strcmp(argv[1], "--digest") == 0) return tidewatch::PrintDigests();
  if (argc == 4 && std::strcmp(argv[1], "--runs") == 0) {
    return tidewatch::Runs(argv[2], std::atoi(argv[3]));
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
