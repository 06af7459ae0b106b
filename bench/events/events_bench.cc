// Benchmarks of the CallEvent codecs on a realistic mix of events (what
// tide-sim writes and replay reads): mostly queued/answered/completed, some
// abandoned, agent_state, left_queue and callback_requested; ids, times and
// durations shaped like real ones. Reports items/s (events) and bytes/s.
//
//   ninja -C build-events events_bench && build-events/bench/events/events_bench
//
// The protobuf JsonStringToMessage / MessageToJsonString rows are the
// baseline the hand-written codec replaces.

#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "benchmark/benchmark.h"
#include "events/event_view.h"
#include "events/events.h"
#include "events/json_lines.h"
#include "google/protobuf/arena.h"
#include "google/protobuf/util/json_util.h"
#include "tidewatch/v1/events.pb.h"

namespace tidewatch::events {
namespace {

using v1::CallEvent;

constexpr int kEvents = 4096;

std::vector<CallEvent> RealisticEvents() {
  std::mt19937_64 rng(20221003);
  const auto uniform = [&](int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(rng() % static_cast<uint64_t>(hi - lo + 1));
  };
  static constexpr const char* kLines[] = {"revenues", "benefits", "housing-repairs", "council-tax",
                                           "it-help"};
  std::vector<CallEvent> events;
  int64_t now = 1664785801;
  for (int i = 0; i < kEvents; ++i) {
    CallEvent e;
    e.set_event_id(absl::StrFormat("ev-%08d", i));
    e.set_line_id(kLines[uniform(0, 4)]);
    e.set_call_id(absl::StrFormat("call-%06d", i / 4));
    now += uniform(0, 2);
    e.mutable_event_time()->set_seconds(now);
    if (uniform(0, 1) == 0)
      e.mutable_event_time()->set_nanos(static_cast<int32_t>(uniform(0, 999)) * 1000000);
    e.set_source("tide-sim");
    const int64_t pick = uniform(0, 99);
    const std::string agent = absl::StrCat("agent-", uniform(1, 60));
    if (pick < 32) {
      auto* q = e.mutable_queued();
      q->set_caller_key(absl::StrFormat("%016x", rng()));
      if (uniform(0, 9) == 0) q->set_priority(static_cast<int32_t>(uniform(1, 5)));
    } else if (pick < 58) {
      auto* a = e.mutable_answered();
      a->set_agent_id(agent);
      a->mutable_wait()->set_seconds(uniform(0, 900));
      a->mutable_wait()->set_nanos(static_cast<int32_t>(uniform(0, 999)) * 1000000);
    } else if (pick < 66) {
      auto* a = e.mutable_abandoned();
      a->mutable_wait()->set_seconds(uniform(0, 600));
    } else if (pick < 88) {
      auto* c = e.mutable_completed();
      c->set_agent_id(agent);
      c->mutable_talk()->set_seconds(uniform(30, 1800));
      c->mutable_wrap()->set_seconds(uniform(0, 120));
      if (uniform(0, 1) == 0) c->set_resolved_first_time(uniform(0, 3) != 0);
    } else if (pick < 95) {
      e.clear_call_id();
      auto* s = e.mutable_agent_state();
      s->set_agent_id(agent);
      s->set_state(static_cast<v1::AgentStatus>(uniform(1, 5)));
      s->set_origin(static_cast<v1::AgentOrigin>(uniform(1, 4)));
    } else if (pick < 98) {
      e.mutable_left_queue()->set_reason(static_cast<v1::LeftQueueReason>(uniform(1, 5)));
    } else {
      e.mutable_callback_requested();
    }
    events.push_back(std::move(e));
  }
  return events;
}

const std::vector<CallEvent>& Events() {
  static const auto* events = new std::vector<CallEvent>(RealisticEvents());
  return *events;
}

const std::vector<std::string>& JsonLines() {
  static const auto* lines = [] {
    auto* out = new std::vector<std::string>;
    for (const CallEvent& e : Events()) out->push_back(JsonEvent(e));
    return out;
  }();
  return *lines;
}

const std::vector<std::string>& BinaryRecords() {
  static const auto* records = [] {
    auto* out = new std::vector<std::string>;
    for (const CallEvent& e : Events()) out->push_back(e.SerializeAsString());
    return out;
  }();
  return *records;
}

int64_t TotalBytes(const std::vector<std::string>& records) {
  int64_t n = 0;
  for (const std::string& r : records) n += static_cast<int64_t>(r.size());
  return n;
}

void BM_ParseJsonEvent(benchmark::State& state) {
  const auto& lines = JsonLines();
  CallEvent event;  // reused, as a replay loop does
  size_t i = 0;
  for (auto _ : state) {
    absl::Status s = ParseJsonEvent(lines[i], event);
    benchmark::DoNotOptimize(s);
    if (++i == lines.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * TotalBytes(lines) /
                          static_cast<int64_t>(lines.size()));
}
BENCHMARK(BM_ParseJsonEvent);

void BM_AppendJsonEvent(benchmark::State& state) {
  const auto& events = Events();
  std::string out;
  size_t i = 0;
  for (auto _ : state) {
    AppendJsonEvent(events[i], out);
    out += '\n';
    if (out.size() > (1 << 20)) out.clear();  // a writer flushing its buffer
    if (++i == events.size()) i = 0;
  }
  benchmark::DoNotOptimize(out);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AppendJsonEvent);

void BM_ParseBinaryEvent(benchmark::State& state) {
  const auto& records = BinaryRecords();
  CallEvent event;
  size_t i = 0;
  for (auto _ : state) {
    absl::Status s = ParseBinaryEvent(records[i], event);
    benchmark::DoNotOptimize(s);
    if (++i == records.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * TotalBytes(records) /
                          static_cast<int64_t>(records.size()));
}
BENCHMARK(BM_ParseBinaryEvent);

// Options for an arena whose first block is `block` (kept by Reset), or
// protobuf's defaults (small blocks, all freed by Reset) when it is empty.
google::protobuf::ArenaOptions KeptBlock(std::vector<char>& block) {
  google::protobuf::ArenaOptions options;
  if (!block.empty()) {
    options.initial_block = block.data();
    options.initial_block_size = block.size();
  }
  return options;
}

// As tidewatchd's worker decodes: one message on an arena, reset after
// every `range(0)` records (a polled batch); the arena's first block of
// `range(1)` KiB kept from batch to batch (0: protobuf's default blocks).
void BM_ParseBinaryEventOnArena(benchmark::State& state) {
  const auto& records = BinaryRecords();
  const int64_t batch = state.range(0);
  std::vector<char> block(static_cast<size_t>(state.range(1)) * 1024);
  google::protobuf::Arena arena(KeptBlock(block));
  auto* event = google::protobuf::Arena::CreateMessage<CallEvent>(&arena);
  size_t i = 0;
  int64_t in_batch = 0;
  for (auto _ : state) {
    absl::Status s = ParseBinaryEvent(records[i], *event);
    benchmark::DoNotOptimize(s);
    if (++i == records.size()) i = 0;
    if (++in_batch == batch) {
      arena.Reset();
      event = google::protobuf::Arena::CreateMessage<CallEvent>(&arena);
      in_batch = 0;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseBinaryEventOnArena)->Args({2000, 0})->Args({2000, 1024});

// As tidewatchd's polling thread decodes a batch for the worker: each of
// `range(0)` records into a message of its own on the batch's arena, reset
// after the batch, its first block of `range(1)` KiB kept (0: protobuf's
// default blocks). Reports the arena bytes a batch takes.
void BM_ParseBinaryEventBatchOnArena(benchmark::State& state) {
  const auto& records = BinaryRecords();
  const int64_t batch = state.range(0);
  std::vector<char> block(static_cast<size_t>(state.range(1)) * 1024);
  google::protobuf::Arena arena(KeptBlock(block));
  size_t i = 0;
  int64_t in_batch = 0;
  for (auto _ : state) {
    auto* event = google::protobuf::Arena::CreateMessage<CallEvent>(&arena);
    absl::Status s = ParseBinaryEvent(records[i], *event);
    benchmark::DoNotOptimize(s);
    if (++i == records.size()) i = 0;
    if (++in_batch == batch) {
      state.counters["arena_bytes_per_batch"] = static_cast<double>(arena.SpaceUsed());
      arena.Reset();
      in_batch = 0;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseBinaryEventBatchOnArena)->Args({2000, 0})->Args({2000, 1024});

// As the polling thread decoded a batch before: record i of each batch into
// the i-th of a batch's worth of heap messages kept from batch to batch
// (parsing deletes and allocates their sub-messages again).
void BM_ParseBinaryEventBatchOnHeap(benchmark::State& state) {
  const auto& records = BinaryRecords();
  std::vector<CallEvent> events(static_cast<size_t>(state.range(0)));
  size_t i = 0;
  size_t in_batch = 0;
  for (auto _ : state) {
    absl::Status s = ParseBinaryEvent(records[i], events[in_batch]);
    benchmark::DoNotOptimize(s);
    if (++i == records.size()) i = 0;
    if (++in_batch == events.size()) in_batch = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseBinaryEventBatchOnHeap)->Arg(2000);

// As tidewatchd decodes since the thirteenth session: each record into a
// view of its own bytes (EventDecoder, validated), the decoder reset after
// each batch of 2,000. Counts the records protobuf's parser had to decode.
void BM_DecodeBinaryEventView(benchmark::State& state) {
  const auto& records = BinaryRecords();
  EventDecoder decoder;
  CallEventView view;
  size_t i = 0;
  int64_t in_batch = 0;
  for (auto _ : state) {
    absl::Status s = decoder.Parse(records[i], view);
    benchmark::DoNotOptimize(s);
    benchmark::DoNotOptimize(view);
    if (++i == records.size()) i = 0;
    if (++in_batch == 2000) {
      decoder.Reset();
      in_batch = 0;
    }
  }
  state.counters["protobuf_decodes"] = static_cast<double>(decoder.protobuf_decodes());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeBinaryEventView);

// End to end: a JSON-lines file read with JsonLinesReader and parsed.
void BM_ReplayJsonLines(benchmark::State& state) {
  std::string file;
  for (const std::string& line : JsonLines()) absl::StrAppend(&file, line, "\n");
  CallEvent event;
  for (auto _ : state) {
    std::istringstream in(file);
    JsonLinesReader reader(in);
    JsonLinesReader::Line line;
    int64_t ok = 0;
    while (reader.Next(line)) ok += ParseJsonEvent(line.text, event).ok();
    benchmark::DoNotOptimize(ok);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(JsonLines().size()));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(file.size()));
}
BENCHMARK(BM_ReplayJsonLines);

// Baselines: protobuf's own JSON mapping.
void BM_ProtobufJsonStringToMessage(benchmark::State& state) {
  const auto& lines = JsonLines();
  CallEvent event;
  size_t i = 0;
  for (auto _ : state) {
    event.Clear();
    auto s = google::protobuf::util::JsonStringToMessage(lines[i], &event);
    benchmark::DoNotOptimize(s);
    if (++i == lines.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ProtobufJsonStringToMessage);

void BM_ProtobufMessageToJsonString(benchmark::State& state) {
  const auto& events = Events();
  std::string out;
  size_t i = 0;
  for (auto _ : state) {
    out.clear();
    auto s = google::protobuf::util::MessageToJsonString(events[i], &out);
    benchmark::DoNotOptimize(s);
    if (++i == events.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ProtobufMessageToJsonString);

}  // namespace
}  // namespace tidewatch::events

BENCHMARK_MAIN();
