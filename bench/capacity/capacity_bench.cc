// Benchmarks for libs/capacity: one model evaluation at 10..2000 agents,
// and agents-needed recomputed for 10,000 lines with varied, realistic
// loads (one benchmark iteration = all 10,000 lines).
//
//   ninja -C build-capacity capacity_bench && build-capacity/bench/capacity/capacity_bench
#include <cmath>
#include <optional>
#include <random>
#include <vector>

#include "benchmark/benchmark.h"
#include "capacity/erlang.h"

namespace tidewatch::capacity {
namespace {

constexpr int kLines = 10000;

// A line at `agents` agents loaded to 90% occupancy, AHT 240 s; patience
// 120 s for Erlang A. Service level within 180 s.
QueueParams LoadedLine(int agents, bool abandonment) {
  QueueParams q;
  q.mean_handle_seconds = 240;
  q.arrivals_per_second = 0.9 * agents / q.mean_handle_seconds;
  q.agents = agents;
  if (abandonment) q.mean_patience_seconds = 120;
  return q;
}

void BM_ErlangC(benchmark::State& state) {
  const QueueParams q = LoadedLine(static_cast<int>(state.range(0)), false);
  for (auto _ : state) benchmark::DoNotOptimize(Evaluate(q, 180));
}
BENCHMARK(BM_ErlangC)->Arg(10)->Arg(100)->Arg(1000)->Arg(2000);

void BM_ErlangA(benchmark::State& state) {
  const QueueParams q = LoadedLine(static_cast<int>(state.range(0)), true);
  for (auto _ : state) benchmark::DoNotOptimize(Evaluate(q, 180));
}
BENCHMARK(BM_ErlangA)->Arg(10)->Arg(100)->Arg(1000)->Arg(2000);

// Erlang A overloaded (load 1.5 x agents): the queue-length peak is far from
// zero, the costliest shape of the waiting-state sum.
void BM_ErlangAOverloaded(benchmark::State& state) {
  QueueParams q = LoadedLine(static_cast<int>(state.range(0)), true);
  q.arrivals_per_second *= 1.5 / 0.9;
  for (auto _ : state) benchmark::DoNotOptimize(Evaluate(q, 180));
}
BENCHMARK(BM_ErlangAOverloaded)->Arg(10)->Arg(100)->Arg(1000)->Arg(2000);

// 10,000 council-like lines, fixed seed: 2..1,500 calls an hour (log-uniform,
// so most lines are small and a few are big), AHT 2..15 minutes, patience
// 30 s..10 minutes for Erlang A; targets drawn from the usual 80/180 s,
// 90/60 s, 70/300 s with 5..15% abandonment.
struct Fleet {
  std::vector<QueueParams> lines;
  std::vector<StaffingTarget> targets;
};

Fleet MakeFleet(bool abandonment) {
  std::mt19937_64 rng(20221003);
  std::uniform_real_distribution<double> log_rate(std::log(2.0), std::log(1500.0));
  std::uniform_real_distribution<double> aht(120, 900);
  std::uniform_real_distribution<double> patience(30, 600);
  std::uniform_real_distribution<double> max_abandon(0.05, 0.15);
  std::uniform_int_distribution<int> which(0, 2);
  const StaffingTarget kTargets[] = {{0.8, 180, 0.1}, {0.9, 60, 0.1}, {0.7, 300, 0.1}};
  Fleet f;
  for (int i = 0; i < kLines; ++i) {
    QueueParams q;
    q.arrivals_per_second = std::exp(log_rate(rng)) / 3600;
    q.mean_handle_seconds = aht(rng);
    if (abandonment) q.mean_patience_seconds = patience(rng);
    StaffingTarget t = kTargets[which(rng)];
    t.max_abandon = max_abandon(rng);
    f.lines.push_back(q);
    f.targets.push_back(t);
  }
  return f;
}

void RunFleet(benchmark::State& state, bool abandonment) {
  const Fleet fleet = MakeFleet(abandonment);
  int64_t agents = 0;
  for (auto _ : state) {
    agents = 0;
    for (int i = 0; i < kLines; ++i) {
      absl::StatusOr<int> n = AgentsNeeded(fleet.lines[i], fleet.targets[i], kMaxAgents);
      if (!n.ok()) {
        state.SkipWithError("AgentsNeeded failed");
        return;
      }
      agents += *n;
    }
    benchmark::DoNotOptimize(agents);
  }
  state.counters["lines"] = kLines;
  state.counters["mean_agents_needed"] = static_cast<double>(agents) / kLines;
  state.counters["lines_per_second"] =
      benchmark::Counter(kLines, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_AgentsNeeded10kLinesErlangC(benchmark::State& state) { RunFleet(state, false); }
BENCHMARK(BM_AgentsNeeded10kLinesErlangC)->Unit(benchmark::kMillisecond);

void BM_AgentsNeeded10kLinesErlangA(benchmark::State& state) { RunFleet(state, true); }
BENCHMARK(BM_AgentsNeeded10kLinesErlangA)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tidewatch::capacity

BENCHMARK_MAIN();
