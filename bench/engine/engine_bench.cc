// Engine throughput (events/s, one thread) on a realistic multi-line day,
// and JSON-lines replay throughput (decode + validate + engine).
//
// The stream: 5 lines of the default policy, 08:00-18:00 on a Monday,
// arrival rates varying through the day with a morning surge on revenues,
// each call queued -> answered (+ completed) / abandoned / callback, waits
// from a simple single-queue model, agent_state events as staff log in and
// out, about 1% of events delivered up to 90 s out of order and 1%
// duplicated. Built once, replayed per iteration.
#include <cmath>
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

}  // namespace
}  // namespace tidewatch

BENCHMARK_MAIN();
