// tide-sim throughput: events generated per second as JSON lines (to
// memory and to /dev/null through the file sink), the simulation alone
// (events discarded), and the wall time of one normal Monday.
//
//   build-sim/bench/sim/sim_bench --benchmark_min_time=2
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "sim/event_sink.h"
#include "sim/scenario.h"
#include "sim/simulator.h"

namespace tidewatch::sim {
namespace {

Scenario Load(const std::string& name, int days) {
  absl::StatusOr<Scenario> s =
      LoadScenarioFile(absl::StrCat(TIDEWATCH_SOURCE_DIR, "/deploy/scenarios/", name));
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", std::string(s.status().message()).c_str());
    std::abort();
  }
  s->days = days;  // a working week of the busy scenario
  return *std::move(s);
}

// Throws the events away: the cost of the simulation itself.
class DiscardSink final : public EventSink {
 public:
  absl::Status Write(const tidewatch::v1::CallEvent&) override { return absl::OkStatus(); }
};

void Report(benchmark::State& state, int64_t events, int64_t bytes) {
  state.SetItemsProcessed(events);
  if (bytes > 0) state.SetBytesProcessed(bytes);
  state.counters["events_per_run"] =
      benchmark::Counter(static_cast<double>(events) / state.iterations());
}

// The council-tax-summons scenario over 5 days (about 80,000 events).
void BM_JsonLinesToMemory(benchmark::State& state) {
  const Scenario scenario = Load("council-tax-summons.yaml", 5);
  int64_t events = 0, bytes = 0;
  for (auto _ : state) {
    StringSink sink;
    sink.mutable_text().reserve(32 << 20);
    SimOptions options;
    options.seed = 1;
    auto summary = Simulate(scenario, options, sink);
    benchmark::DoNotOptimize(summary);
    events += sink.events();
    bytes += static_cast<int64_t>(sink.text().size());
  }
  Report(state, events, bytes);
}
BENCHMARK(BM_JsonLinesToMemory)->Unit(benchmark::kMillisecond);

void BM_JsonLinesToDevNull(benchmark::State& state) {
  const Scenario scenario = Load("council-tax-summons.yaml", 5);
  std::FILE* out = std::fopen("/dev/null", "wb");
  int64_t events = 0;
  for (auto _ : state) {
    JsonLinesSink sink(out);
    SimOptions options;
    options.seed = 1;
    auto summary = Simulate(scenario, options, sink);
    events += summary->events;
  }
  std::fclose(out);
  Report(state, events, 0);
}
BENCHMARK(BM_JsonLinesToDevNull)->Unit(benchmark::kMillisecond);

void BM_SimulationOnly(benchmark::State& state) {
  const Scenario scenario = Load("council-tax-summons.yaml", 5);
  int64_t events = 0;
  for (auto _ : state) {
    DiscardSink sink;
    SimOptions options;
    options.seed = 1;
    auto summary = Simulate(scenario, options, sink);
    events += summary->events;
  }
  Report(state, events, 0);
}
BENCHMARK(BM_SimulationOnly)->Unit(benchmark::kMillisecond);

// One day of a 40,000-calls-a-month council, JSON lines to memory.
void BM_NormalMondayDay(benchmark::State& state) {
  const Scenario scenario = Load("normal-monday.yaml", 1);
  int64_t events = 0;
  for (auto _ : state) {
    StringSink sink;
    SimOptions options;
    options.seed = 1;
    auto summary = Simulate(scenario, options, sink);
    events += sink.events();
  }
  Report(state, events, 0);
}
BENCHMARK(BM_NormalMondayDay)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tidewatch::sim
