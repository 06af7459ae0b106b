// Acceptance: a stream of 1,000,000 events reports totals exactly equal to
// an independent count, and window KPIs at every snapshot instant equal a
// brute-force recomputation (counts exact, quantiles within 1%), with
// events shuffled within the allowed lateness and duplicates injected.
#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "engine/engine.h"
#include "gtest/gtest.h"
#include "policy/policy.h"

namespace tidewatch::engine {
namespace {

using tidewatch::v1::CallEvent;

// 2022-10-03 (a Monday) 07:00 UTC.
const absl::Time kStart = absl::FromUnixSeconds(1664780400);
const std::vector<std::string> kLines = {"adult-social-care", "council-tax", "housing", "revenues",
                                         "waste"};

void SetTime(absl::Time t, google::protobuf::Timestamp* ts) { ToProto(t, ts); }
void SetDur(absl::Duration d, google::protobuf::Duration* out) { ToProto(d, out); }

// Ground truth of one line, from the generator's own bookkeeping.
struct Truth {
  std::vector<absl::Time> offered;
  struct Outcome {
    absl::Time t;
    char kind;  // 'A'nswered, a'B'andoned, 'C'allback, 'L'eft
    int64_t wait_ns;
  };
  std::vector<Outcome> outcomes;
  struct Done {
    absl::Time t;
    int64_t handle_ns;
  };
  std::vector<Done> completed;
};

struct Stream {
  std::vector<CallEvent> events;  // delivery order
  std::map<std::string, Truth> truth;
  int64_t unique = 0;
};

// Generates about `target` events: calls with every kind of outcome,
// sub-second timestamps, waits given or left to be computed; then shuffles
// within `lateness` and injects duplicates.
Stream Generate(int64_t target, absl::Duration lateness, uint64_t seed, double dup_rate) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  Stream s;
  struct Keyed {
    double key;
    CallEvent e;
  };
  std::vector<Keyed> out;
  int64_t seq = 0;
  const double lateness_s = absl::ToDoubleSeconds(lateness);
  auto emit = [&](CallEvent e, absl::Time t) {
    e.set_event_id(absl::StrCat("ev", seq++));
    SetTime(t, e.mutable_event_time());
    double key = absl::ToDoubleSeconds(t - kStart) + u(rng) * lateness_s * 0.999;
    out.push_back({key, e});
  };
  // Span of 11 hours; arrivals spread so the total lands near target.
  const double span_s = 11 * 3600;
  int64_t call_no = 0;
  while (static_cast<int64_t>(out.size()) < target) {
    const std::string& line = kLines[rng() % kLines.size()];
    absl::Time tq = kStart + absl::Nanoseconds(static_cast<int64_t>(u(rng) * span_s * 1e9));
    std::string call_id = absl::StrCat("c", call_no++);
    Truth& truth = s.truth[line];
    CallEvent q;
    q.set_line_id(line);
    q.set_call_id(call_id);
    q.mutable_queued()->set_caller_key("k");
    emit(q, tq);
    truth.offered.push_back(tq);
    double r = u(rng);
    // Waits: zero sometimes, otherwise exponential with mean 3 minutes.
    int64_t wait_ns = u(rng) < 0.1 ? 0 : static_cast<int64_t>(-std::log(1 - u(rng)) * 180e9);
    absl::Time to = tq + absl::Nanoseconds(wait_ns);
    CallEvent o;
    o.set_line_id(line);
    o.set_call_id(call_id);
    if (r < 0.7) {
      o.mutable_answered()->set_agent_id("a1");
      if (u(rng) < 0.5) SetDur(absl::Nanoseconds(wait_ns), o.mutable_answered()->mutable_wait());
      emit(o, to);
      truth.outcomes.push_back({to, 'A', wait_ns});
      int64_t handle_ns = static_cast<int64_t>(60e9 + u(rng) * 600e9);
      CallEvent c;
      c.set_line_id(line);
      c.set_call_id(call_id);
      SetDur(absl::Nanoseconds(handle_ns * 4 / 5), c.mutable_completed()->mutable_talk());
      SetDur(absl::Nanoseconds(handle_ns - handle_ns * 4 / 5),
             c.mutable_completed()->mutable_wrap());
      absl::Time tc = to + absl::Nanoseconds(handle_ns);
      emit(c, tc);
      truth.completed.push_back({tc, handle_ns});
    } else if (r < 0.9) {
      if (u(rng) < 0.3) {  // short abandons
        wait_ns = static_cast<int64_t>(u(rng) * 6e9);
        to = tq + absl::Nanoseconds(wait_ns);
      }
      if (u(rng) < 0.5)
        SetDur(absl::Nanoseconds(wait_ns), o.mutable_abandoned()->mutable_wait());
      else
        o.mutable_abandoned();
      emit(o, to);
      truth.outcomes.push_back({to, 'B', wait_ns});
    } else if (r < 0.95) {
      o.mutable_callback_requested();
      emit(o, to);
      truth.outcomes.push_back({to, 'C', 0});
    } else {
      o.mutable_left_queue()->set_reason(tidewatch::v1::LEFT_QUEUE_REASON_TIMEOUT);
      emit(o, to);
      truth.outcomes.push_back({to, 'L', 0});
    }
  }
  s.unique = static_cast<int64_t>(out.size());
  // Duplicates: re-deliveries shortly after the original.
  const size_t n = out.size();
  for (size_t i = 0; i < n; ++i) {
    if (u(rng) < dup_rate) {
      Keyed d = out[i];
      d.key += u(rng) * 30;
      out.push_back(std::move(d));
    }
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Keyed& a, const Keyed& b) { return a.key < b.key; });
  for (Keyed& k : out) s.events.push_back(std::move(k.e));
  return s;
}

class Recorder : public EngineOutput {
 public:
  void OnTideChange(const tidewatch::v1::TideChange&) override {}
  void OnCallUp(const tidewatch::v1::CallUp&) override {}
  void OnSnapshot(const tidewatch::v1::KpiSnapshot& s) override { snapshots.push_back(s); }
  std::vector<tidewatch::v1::KpiSnapshot> snapshots;
};

double NearestRank(std::vector<int64_t> v, double q) {
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
  return static_cast<double>(v[std::max<size_t>(rank, 1) - 1]) / 1e9;
}

// Brute-force check of one snapshot.
void CheckSnapshot(const tidewatch::v1::KpiSnapshot& snap, const Truth& truth,
                   const policy::LinePolicy& lp) {
  const int64_t target_ns = absl::ToInt64Nanoseconds(lp.targets.answer_within);
  const int64_t short_ns = absl::ToInt64Nanoseconds(lp.targets.short_abandon);
  const absl::Time end = FromProto(snap.time());
  const absl::Time begin = end - FromProto(snap.window());
  auto in = [&](absl::Time t) { return t > begin && t <= end; };
  int64_t offered = 0, answered = 0, abandoned = 0, shorts = 0, cb = 0, left = 0, in_target = 0;
  int64_t sum_ans = 0, sum_all = 0, max_wait = -1, completed = 0, sum_handle = 0;
  std::vector<int64_t> waits;
  for (absl::Time t : truth.offered) offered += in(t);
  for (const auto& o : truth.outcomes) {
    if (!in(o.t)) continue;
    switch (o.kind) {
      case 'A':
        ++answered;
        sum_ans += o.wait_ns;
        in_target += o.wait_ns <= target_ns;
        break;
      case 'B':
        ++abandoned;
        shorts += o.wait_ns < short_ns;
        break;
      case 'C':
        ++cb;
        continue;
      case 'L':
        ++left;
        continue;
    }
    sum_all += o.wait_ns;
    max_wait = std::max(max_wait, o.wait_ns);
    waits.push_back(o.wait_ns);
  }
  for (const auto& c : truth.completed) {
    if (in(c.t)) {
      ++completed;
      sum_handle += c.handle_ns;
    }
  }
  const auto& k = snap.kpis();
  const std::string where = absl::StrCat(snap.line_id(), " at ", absl::FormatTime(end), " window ",
                                         absl::FormatDuration(FromProto(snap.window())));
  ASSERT_EQ(k.offered(), offered) << where;
  ASSERT_EQ(k.answered(), answered) << where;
  ASSERT_EQ(k.abandoned(), abandoned) << where;
  ASSERT_EQ(k.short_abandoned(), shorts) << where;
  ASSERT_EQ(k.callbacks(), cb) << where;
  ASSERT_EQ(k.left_queue(), left) << where;
  ASSERT_EQ(k.completed(), completed) << where;
  const int64_t decided = answered + abandoned;
  ASSERT_EQ(k.has_answer_rate(), decided > 0) << where;
  if (decided > 0) {
    EXPECT_DOUBLE_EQ(k.answer_rate(), static_cast<double>(answered) / decided) << where;
    EXPECT_DOUBLE_EQ(k.avg_wait_seconds(), static_cast<double>(sum_all) / 1e9 / decided) << where;
    EXPECT_DOUBLE_EQ(k.max_wait_seconds(), static_cast<double>(max_wait) / 1e9) << where;
    for (auto [q, got] :
         {std::pair{0.5, k.p50_wait_seconds()}, std::pair{0.9, k.p90_wait_seconds()},
          std::pair{0.95, k.p95_wait_seconds()}}) {
      double exact = NearestRank(waits, q);
      EXPECT_LE(std::abs(got - exact), 0.01 * exact + 1e-6) << where << " q=" << q;
    }
  }
  if (decided - shorts > 0) {
    EXPECT_DOUBLE_EQ(k.abandon_rate(), static_cast<double>(abandoned - shorts) / (decided - shorts))
        << where;
    EXPECT_DOUBLE_EQ(k.service_level(), static_cast<double>(in_target) / (decided - shorts))
        << where;
  } else {
    EXPECT_FALSE(k.has_abandon_rate()) << where;
  }
  ASSERT_EQ(k.has_asa_seconds(), answered > 0) << where;
  if (answered > 0) {
    EXPECT_DOUBLE_EQ(k.asa_seconds(), static_cast<double>(sum_ans) / 1e9 / answered) << where;
  }
  ASSERT_EQ(k.has_mean_handle_seconds(), completed > 0) << where;
  if (completed > 0) {
    EXPECT_DOUBLE_EQ(k.mean_handle_seconds(), static_cast<double>(sum_handle) / 1e9 / completed);
  }
  EXPECT_DOUBLE_EQ(k.arrivals_per_minute(),
                   static_cast<double>(offered) / absl::ToDoubleMinutes(FromProto(snap.window())));
}

void RunAndCheck(int64_t target, double dup_rate, uint64_t seed) {
  absl::StatusOr<policy::CompiledPolicy> loaded =
      policy::LoadPolicyYaml(policy::DefaultPolicyYaml(), "default.yaml");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  auto policy = std::make_shared<const policy::CompiledPolicy>(*std::move(loaded));
  Stream stream = Generate(target, policy->allowed_lateness, seed, dup_rate);
  Recorder out;
  EngineOptions options;
  options.snapshot_every = absl::Minutes(15);
  options.snapshot_windows = {absl::Minutes(5), absl::Minutes(15), absl::Minutes(60)};
  Engine engine(policy, options, &out);
  int64_t applied = 0, duplicates = 0, other = 0;
  for (const CallEvent& e : stream.events) {
    switch (engine.Apply(e)) {
      case EventOutcome::kApplied:
      case EventOutcome::kHeld:
        ++applied;
        break;
      case EventOutcome::kDuplicate:
        ++duplicates;
        break;
      default:
        ++other;
    }
  }
  engine.Finish();
  EXPECT_EQ(other, 0);
  EXPECT_EQ(applied, stream.unique);
  EXPECT_EQ(duplicates, static_cast<int64_t>(stream.events.size()) - stream.unique);
  EXPECT_EQ(engine.SetAsideCounts().count("late"), 0u);
  EXPECT_EQ(engine.SetAsideCounts().count("orphan"), 0u);

  // Totals over the whole stream equal the independent count.
  for (const auto& [line_id, truth] : stream.truth) {
    const line::LineState* line = engine.FindLine(line_id);
    ASSERT_NE(line, nullptr);
    const window::Counters& c = line->totals().counters;
    int64_t answered = 0, abandoned = 0, cb = 0, left = 0;
    for (const auto& o : truth.outcomes) {
      answered += o.kind == 'A';
      abandoned += o.kind == 'B';
      cb += o.kind == 'C';
      left += o.kind == 'L';
    }
    EXPECT_EQ(c.offered, static_cast<int64_t>(truth.offered.size())) << line_id;
    EXPECT_EQ(c.answered, answered) << line_id;
    EXPECT_EQ(c.abandoned, abandoned) << line_id;
    EXPECT_EQ(c.callbacks, cb) << line_id;
    EXPECT_EQ(c.left_queue, left) << line_id;
    EXPECT_EQ(c.completed, static_cast<int64_t>(truth.completed.size())) << line_id;
    EXPECT_EQ(line->calls_waiting(), 0) << line_id;
  }

  // A snapshot for every line and window at every 15-minute instant.
  ASSERT_FALSE(out.snapshots.empty());
  absl::Time first = FromProto(out.snapshots.front().time());
  absl::Time last = FromProto(out.snapshots.back().time());
  int64_t instants = (last - first) / absl::Minutes(15) + 1;
  EXPECT_EQ(static_cast<int64_t>(out.snapshots.size()), instants * 5 * 3);
  for (const auto& snap : out.snapshots) {
    CheckSnapshot(snap, stream.truth[snap.line_id()], *policy->FindLine(snap.line_id()));
    if (::testing::Test::HasFatalFailure()) return;
  }
}

TEST(EngineBruteForceTest, MillionEventsShuffledWithinLatenessWithDuplicates) {
  RunAndCheck(1000000, 0.02, 1);
}

TEST(EngineBruteForceTest, InOrderWithoutDuplicates) { RunAndCheck(50000, 0.0, 2); }

TEST(EngineBruteForceTest, HeavyDuplication) { RunAndCheck(50000, 0.5, 3); }

}  // namespace
}  // namespace tidewatch::engine
