// queuelog-bridge's per-line work: parse + map (+ HMAC-SHA256 of the caller
// for ENTERQUEUE) + serialise to the Kafka value, on a realistic queue_log
// (tide-sim's council-tax summons day written by QueueLogSink). Reports
// lines/s (items_per_second). Results: docs/performance.md.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "benchmark/benchmark.h"
#include "queuelog/caller_hasher.h"
#include "queuelog/queue_log.h"
#include "sim/queue_log_sink.h"
#include "sim/scenario.h"
#include "sim/simulator.h"

namespace tidewatch::queuelog {
namespace {

struct Day {
  std::vector<std::string> lines;
  std::string line_map;
};

const Day& SummonsDay() {
  static const Day* day = [] {
    auto* d = new Day;
    char* buf = nullptr;
    size_t size = 0;
    std::FILE* f = open_memstream(&buf, &size);
    {
      sim::QueueLogSink sink(f);
      auto scenario =
          sim::LoadScenarioFile(TIDEWATCH_SOURCE_DIR "/deploy/scenarios/council-tax-summons.yaml");
      if (!scenario.ok()) std::abort();
      if (!sim::Simulate(*scenario, {}, sink).ok()) std::abort();
      d->line_map = sink.LineMapYaml();
    }
    std::fclose(f);
    for (absl::string_view l :
         absl::StrSplit(absl::string_view(buf, size), '\n', absl::SkipEmpty())) {
      d->lines.emplace_back(l);
    }
    std::free(buf);
    return d;
  }();
  return *day;
}

void BM_ParseMapHashSerialise(benchmark::State& state) {
  const Day& day = SummonsDay();
  auto map = ParseLineMap(day.line_map, "bench");
  auto hasher = CallerHasher::Create("benchmark-caller-key-0123456789");
  if (!map.ok() || !hasher.ok()) std::abort();
  QueueLogMapper mapper(*map, *hasher);
  tidewatch::v1::CallEvent event;
  std::string value;
  int64_t lines = 0, events = 0;
  uint64_t offset = 0;
  for (auto _ : state) {
    for (const std::string& line : day.lines) {
      MapResult r = mapper.Map(line, offset, event);
      offset += line.size() + 1;
      if (r.outcome == MapOutcome::kEvent) {
        value.clear();
        event.AppendToString(&value);
        benchmark::DoNotOptimize(value.data());
        ++events;
      }
    }
    lines += static_cast<int64_t>(day.lines.size());
  }
  state.SetItemsProcessed(lines);
  state.counters["events_per_line"] = static_cast<double>(events) / static_cast<double>(lines);
}
BENCHMARK(BM_ParseMapHashSerialise)->Unit(benchmark::kMillisecond);

void BM_CallerHash(benchmark::State& state) {
  auto hasher = CallerHasher::Create("benchmark-caller-key-0123456789");
  if (!hasher.ok()) std::abort();
  int64_t n = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(hasher->KeyFor(sim::DramaCallerNumber(n++ % 20000)));
  }
  state.SetItemsProcessed(n);
}
BENCHMARK(BM_CallerHash);

}  // namespace
}  // namespace tidewatch::queuelog

BENCHMARK_MAIN();
