#include "sim/simulator.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <queue>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "sim/caller_key.h"
#include "sim/random.h"

namespace tidewatch::sim {
namespace {

namespace v1 = ::tidewatch::v1;

using Ms = int64_t;  // milliseconds since the Unix epoch, or a duration in ms

constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();

static_assert(kMaxRepeatCallsPerCaller >= 0 && kMaxRepeatCallsPerCaller < 255,
              "a call's repeat count is a uint8_t");

Ms ToMs(double seconds) { return static_cast<Ms>(std::llround(seconds * 1000.0)); }

// A sample of `d` in ms, at most `cap_seconds`: exponential and lognormal
// samples are unbounded, but an event's wait, talk and wrap must stay
// within the events contract (kMaxEventDurationSeconds).
Ms SampleMs(const Distribution& d, Rng& rng, int cap_seconds) {
  return ToMs(std::min(d.Sample(rng), static_cast<double>(cap_seconds)));
}

// What a scheduled simulation step does. The order here is the tie-break
// for steps at the same millisecond (see Class()).
enum class Step : uint8_t {
  kLineOpen,
  kLogin,
  kBreakEnd,
  kTalkEnd,
  kWrapEnd,
  kShiftEnd,
  kBreakStart,
  kArrival,
  kRedial,
  kRenege,
  kLineClose,
};

// Steps at the same instant run in this order: the line opens, agents
// become free, agents leave, calls arrive, callers give up, the line closes.
uint64_t Class(Step s) {
  switch (s) {
    case Step::kLineOpen:
      return 0;
    case Step::kLogin:
    case Step::kBreakEnd:
    case Step::kTalkEnd:
    case Step::kWrapEnd:
      return 1;
    case Step::kShiftEnd:
    case Step::kBreakStart:
      return 2;
    case Step::kArrival:
    case Step::kRedial:
      return 3;
    case Step::kRenege:
      return 4;
    case Step::kLineClose:
      return 5;
  }
  return 6;
}

struct Pending {
  Ms t;
  uint64_t order;  // Class() << 56 | insertion sequence
  uint32_t index;
  uint32_t aux;
  Step step;
};

struct Later {
  bool operator()(const Pending& a, const Pending& b) const {
    if (a.t != b.t) return a.t > b.t;
    return a.order > b.order;
  }
};

// A constant-rate stretch of a line's arrival process, absolute ms.
struct Segment {
  double start;
  double end;
  double rate;  // calls per ms
};

enum class CallState : uint8_t { kWaiting, kAnswered, kAbandoned, kCallback, kLeft };
enum class Renege : uint8_t { kAbandon, kCallback, kTimeout };

struct Call {
  Ms queued_at = 0;
  Ms renege_at = 0;
  Ms talk = 0;
  Ms wrap = 0;
  Ms redial_delay = 0;
  double redial_spread = 0;  // uniform [0, 1): where in the next opening a redial lands
  uint64_t caller = 0;
  uint32_t line = 0;
  CallState state = CallState::kWaiting;
  Renege renege = Renege::kAbandon;
  int8_t resolved = -1;  // -1 not recorded, 0 / 1
  uint8_t repeats = 0;   // 0: the caller's first call; k: their k-th repeat call
  bool will_redial = false;
};

enum class AgentState : uint8_t { kOut, kAvailable, kOnCall, kWrapUp, kAway };

struct Agent {
  std::string id;
  uint32_t line = 0;
  v1::AgentOrigin origin = v1::AGENT_ORIGIN_CSC;
  AgentState state = AgentState::kOut;
  uint32_t call = kNone;  // kNone while making a call-back
  bool on_callback = false;
  Ms talk = 0;
  Ms wrap = 0;
  uint32_t idle_epoch = 0;
  uint32_t plan = kNone;  // the shift (index into plans_) it is working
  bool shift_over = false;
  bool break_pending = false;
  Ms break_length = 0;
  uint32_t break_token = 0;
  bool counted = false;
};

// One agent's login on one day: login, logout, optional break.
struct ShiftPlan {
  uint32_t agent;
  Ms login;
  Ms logout;
  Ms break_start = -1;
  Ms break_length = 0;
};

struct PendingCallback {
  Ms talk;
  Ms wrap;
};

struct Redial {
  uint64_t caller;
  uint32_t line;
  uint8_t repeats;  // the redial is the caller's repeats-th repeat call
};

struct LineRuntime {
  const LineSpec* spec = nullptr;
  std::vector<Segment> segments;
  size_t segment = 0;
  double clock = 0;                             // arrival process position, ms
  std::vector<std::pair<Ms, Ms>> open_windows;  // absolute, ascending
  bool open = false;
  std::deque<uint32_t> queue;  // call indexes, FIFO (lazy removal)
  int64_t waiting = 0;
  std::deque<std::pair<uint32_t, uint32_t>> idle;  // (agent, epoch), longest idle first
  std::deque<PendingCallback> callbacks;
  Rng arrivals{0};
  Rng callers{0};
  LineSummary summary;
};

void AppendDecimal(uint64_t v, std::string& out) {
  char buf[24];
  int n = 0;
  do {
    buf[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0) out.push_back(buf[--n]);
}

void SetTimestamp(Ms t, google::protobuf::Timestamp* ts) {
  ts->set_seconds(t / 1000);
  ts->set_nanos(static_cast<int32_t>((t % 1000) * 1000000));
}

void SetDuration(Ms d, google::protobuf::Duration* out) {
  out->set_seconds(d / 1000);
  out->set_nanos(static_cast<int32_t>((d % 1000) * 1000000));
}

class Engine {
 public:
  Engine(const Scenario& scenario, const SimOptions& options, EventSink& sink)
      : scenario_(scenario),
        options_(options),
        sink_(sink),
        keyer_(0, 0),
        start_date_(options.start_date.value_or(scenario.date)) {
    Rng key_rng = Rng::ForStream(options.seed, 0x63616c6c65726b65ULL);  // "callerke"
    const uint64_t k0 = key_rng.Next();
    const uint64_t k1 = key_rng.Next();
    keyer_ = CallerKeyer(k0, k1);
    // Ids carry the seed and the first simulated day, so files generated
    // for different days with the same seed can be replayed together.
    id_prefix_ = absl::StrFormat("sim-%d-%04d%02d%02d-", options.seed, start_date_.year(),
                                 start_date_.month(), start_date_.day());
    summary_.scenario = scenario.name;
    summary_.seed = options.seed;
    InitTemplates();
  }

  absl::StatusOr<Summary> Run() {
    run_end_ = LocalToMs(start_date_ + scenario_.days, 0);
    Build();
    while (!heap_.empty() && status_.ok()) {
      const Pending p = heap_.top();
      heap_.pop();
      now_ = p.t;
      if (options_.live_reinforcements) {
        for (const Reinforcement& rf : options_.live_reinforcements(absl::FromUnixMillis(now_))) {
          SendLive(rf);
        }
      }
      Dispatch(p);
    }
    if (!status_.ok()) return status_;
    for (LineRuntime& line : lines_) {
      if (line.waiting != 0) {
        return absl::InternalError(
            absl::StrCat("line ", line.spec->id, " ended with ", line.waiting, " calls waiting"));
      }
      line.summary.callbacks_unserved = static_cast<int64_t>(line.callbacks.size());
    }
    absl::Status flushed = sink_.Flush();
    if (!flushed.ok()) return flushed;
    summary_.total = LineSummary();
    summary_.total.line_id = "all";
    for (const LineRuntime& line : lines_) {
      summary_.lines.push_back(line.summary);
      summary_.total.Add(line.summary);
    }
    summary_.events = static_cast<int64_t>(seq_);
    return summary_;
  }

 private:
  // ---- set-up -------------------------------------------------------------

  Ms LocalToMs(absl::CivilDay day, int seconds) const {
    const absl::CivilSecond cs = absl::CivilSecond(day) + seconds;
    return absl::ToUnixMillis(absl::FromCivil(cs, scenario_.zone));
  }

  static int WeekdayIndex(absl::CivilDay day) {
    switch (absl::GetWeekday(day)) {
      case absl::Weekday::monday:
        return 0;
      case absl::Weekday::tuesday:
        return 1;
      case absl::Weekday::wednesday:
        return 2;
      case absl::Weekday::thursday:
        return 3;
      case absl::Weekday::friday:
        return 4;
      case absl::Weekday::saturday:
        return 5;
      case absl::Weekday::sunday:
        return 6;
    }
    return 0;
  }

  uint32_t NewAgent(uint32_t line, v1::AgentOrigin origin, std::string id) {
    Agent a;
    a.id = std::move(id);
    a.line = line;
    a.origin = origin;
    agents_.push_back(std::move(a));
    return static_cast<uint32_t>(agents_.size() - 1);
  }

  void PlanShift(uint32_t agent, Ms login, Ms logout, Ms break_start, Ms break_length) {
    plans_.push_back({agent, login, logout, break_start, break_length});
    const uint32_t idx = static_cast<uint32_t>(plans_.size() - 1);
    Schedule(login, Step::kLogin, idx);
    Schedule(logout, Step::kShiftEnd, idx);
    if (break_start >= 0) Schedule(break_start, Step::kBreakStart, idx);
  }

  // A live response: `rf.agents` new people log in `rf.eta` seconds from now.
  // None are sent once the last simulated day has ended, nor for longer
  // than a day, so the run ends when CheckRunDates said it would.
  void SendLive(const Reinforcement& rf) {
    if (now_ > run_end_ || rf.eta < 0 || rf.duration <= 0 ||
        static_cast<int64_t>(rf.eta) + rf.duration > kSecondsPerDay) {
      return;
    }
    uint32_t li = 0;
    while (li < lines_.size() && scenario_.lines[li].id != rf.line_id) ++li;
    if (li == lines_.size()) return;
    const std::string origin =
        absl::StrReplaceAll(std::string(OriginName(rf.origin)), {{"_", "-"}});
    const Ms login = now_ + static_cast<Ms>(rf.eta) * 1000;
    const Ms logout = login + static_cast<Ms>(rf.duration) * 1000;
    for (int k = 0; k < rf.agents; ++k) {
      const uint32_t a = NewAgent(
          li, rf.origin, absl::StrFormat("%s-%s-live-%02d", rf.line_id, origin, ++live_agents_));
      PlanShift(a, login, logout, -1, 0);
    }
  }

  void Build() {
    lines_.resize(scenario_.lines.size());
    for (size_t li = 0; li < scenario_.lines.size(); ++li) {
      const LineSpec& spec = scenario_.lines[li];
      LineRuntime& line = lines_[li];
      line.spec = &spec;
      line.summary.line_id = spec.id;
      const uint64_t stream = SipHash24(0x7469646573696d00ULL, 0, spec.id);  // "tidesim"
      line.arrivals = Rng::ForStream(options_.seed, stream);
      line.callers = Rng::ForStream(options_.seed, stream ^ 0x5555555555555555ULL);

      // CSC agents: one per staffing slot, the same people every day.
      std::vector<std::vector<uint32_t>> block_agents;
      int csc_number = 0;
      for (const Shift& shift : spec.staffing) {
        std::vector<uint32_t> ids;
        for (int k = 0; k < shift.agents; ++k) {
          ids.push_back(NewAgent(static_cast<uint32_t>(li), v1::AGENT_ORIGIN_CSC,
                                 absl::StrFormat("%s-csc-%02d", spec.id, ++csc_number)));
        }
        block_agents.push_back(std::move(ids));
      }

      for (int d = 0; d < scenario_.days; ++d) {
        const absl::CivilDay day = start_date_ + d;
        const int wd = WeekdayIndex(day);
        const std::vector<DayWindow>& windows = spec.hours.days[wd];
        if (windows.empty()) continue;  // closed all day: nobody works, nobody calls
        BuildArrivals(li, day, d + 1, wd);
        for (size_t b = 0; b < spec.staffing.size(); ++b) {
          const Shift& shift = spec.staffing[b];
          const int n = static_cast<int>(block_agents[b].size());
          for (int k = 0; k < n; ++k) {
            Ms break_start = -1;
            if (shift.break_window.has_value()) {
              const int span =
                  shift.break_window->to - shift.break_window->from - shift.break_length;
              const int offset =
                  n > 1 ? static_cast<int>(static_cast<int64_t>(span) * k / (n - 1)) : 0;
              break_start = LocalToMs(day, shift.break_window->from + offset);
            }
            PlanShift(block_agents[b][k], LocalToMs(day, shift.hours.from),
                      LocalToMs(day, shift.hours.to), break_start,
                      static_cast<Ms>(shift.break_length) * 1000);
          }
        }
      }
    }

    // Scripted reinforcements: their own people per entry.
    std::vector<std::array<int, 5>> origin_counts(lines_.size(), std::array<int, 5>{});
    for (const Reinforcement& rf : scenario_.reinforcements) {
      uint32_t li = 0;
      while (li < lines_.size() && scenario_.lines[li].id != rf.line_id) ++li;
      if (li == lines_.size()) continue;  // validated: cannot happen
      const std::string origin_name(OriginName(rf.origin));
      const std::string origin = absl::StrReplaceAll(origin_name, {{"_", "-"}});
      std::vector<uint32_t> ids;
      for (int k = 0; k < rf.agents; ++k) {
        const int number = ++origin_counts[li][rf.origin];
        ids.push_back(
            NewAgent(li, rf.origin, absl::StrFormat("%s-%s-%02d", rf.line_id, origin, number)));
      }
      for (int d = 0; d < scenario_.days; ++d) {
        if (rf.day != 0 && rf.day != d + 1) continue;
        const absl::CivilDay day = start_date_ + d;
        if (rf.day == 0 && scenario_.lines[li].hours.days[WeekdayIndex(day)].empty()) continue;
        const Ms login = LocalToMs(day, rf.at + rf.eta);
        const Ms logout = LocalToMs(day, rf.at + rf.eta + rf.duration);
        for (uint32_t a : ids) PlanShift(a, login, logout, -1, 0);
      }
    }

    for (uint32_t li = 0; li < lines_.size(); ++li) ScheduleNextArrival(li);
  }

  // Segments and open/close steps for line `li` on `day`.
  void BuildArrivals(size_t li, absl::CivilDay day, int day_number, int wd) {
    LineRuntime& line = lines_[li];
    const LineSpec& spec = *line.spec;
    for (const DayWindow& w : spec.hours.days[wd]) {
      const Ms open_ms = LocalToMs(day, w.from);
      const Ms close_ms = LocalToMs(day, w.to);
      line.open_windows.emplace_back(open_ms, close_ms);
      Schedule(open_ms, Step::kLineOpen, static_cast<uint32_t>(li));
      Schedule(close_ms, Step::kLineClose, static_cast<uint32_t>(li));
    }
    std::vector<const Surge*> surges;  // the line's of this day, in order
    for (const Surge& s : scenario_.surges) {
      if (s.line_id == spec.id && (s.day == 0 || s.day == day_number)) surges.push_back(&s);
    }
    for (const ArrivalSegment& a : ExpectedArrivals(spec, wd, surges)) {
      const double start = static_cast<double>(LocalToMs(day, a.from));
      const double end = static_cast<double>(LocalToMs(day, a.to));
      if (a.calls <= 0 || end <= start) continue;
      line.segments.push_back({start, end, a.calls / (end - start)});
    }
  }

  // ---- the event queue ----------------------------------------------------

  void Schedule(Ms t, Step step, uint32_t index, uint32_t aux = 0) {
    heap_.push({t, (Class(step) << 56) | order_++, index, aux, step});
  }

  void ScheduleNextArrival(uint32_t li) {
    LineRuntime& line = lines_[li];
    double e = line.arrivals.Exponential(1.0);
    while (line.segment < line.segments.size()) {
      const Segment& seg = line.segments[line.segment];
      if (line.clock < seg.start) line.clock = seg.start;
      const double room = (seg.end - line.clock) * seg.rate;
      if (e < room) {
        line.clock += e / seg.rate;
        Ms t = static_cast<Ms>(std::floor(line.clock));
        if (t >= static_cast<Ms>(seg.end)) t = static_cast<Ms>(seg.end) - 1;
        Schedule(t, Step::kArrival, li);
        return;
      }
      e -= room;
      ++line.segment;
    }
  }

  void Dispatch(const Pending& p) {
    switch (p.step) {
      case Step::kLineOpen:
        lines_[p.index].open = true;
        break;
      case Step::kLineClose:
        OnLineClose(p.index);
        break;
      case Step::kLogin:
        OnLogin(p.index);
        break;
      case Step::kShiftEnd:
        OnShiftEnd(p.index);
        break;
      case Step::kBreakStart:
        OnBreakStart(p.index);
        break;
      case Step::kBreakEnd:
        OnBreakEnd(p.index, p.aux);
        break;
      case Step::kTalkEnd:
        OnTalkEnd(p.index);
        break;
      case Step::kWrapEnd:
        Finish(p.index);
        break;
      case Step::kArrival: {
        const uint64_t caller = next_caller_++;
        OnArrival(p.index, caller, /*repeats=*/0);
        ScheduleNextArrival(p.index);
        break;
      }
      case Step::kRedial: {
        const Redial& r = redials_[p.index];
        OnArrival(r.line, r.caller, r.repeats);
        break;
      }
      case Step::kRenege:
        OnRenege(p.index);
        break;
    }
  }

  // ---- calls --------------------------------------------------------------

  // A call from `caller`, its `repeats`-th repeat call (0: the first call).
  void OnArrival(uint32_t li, uint64_t caller, uint8_t repeats) {
    LineRuntime& line = lines_[li];
    const LineSpec& spec = *line.spec;
    Rng& rng = line.callers;
    Call call;
    call.queued_at = now_;
    call.caller = caller;
    call.line = li;
    call.repeats = repeats;
    double patience;
    if (spec.ivr_abandon.share > 0 && rng.Bernoulli(spec.ivr_abandon.share)) {
      patience = rng.Uniform(spec.ivr_abandon.from, spec.ivr_abandon.to);
    } else {
      patience = spec.patience.Sample(rng);
    }
    call.talk = SampleMs(spec.talk, rng, kMaxEventDurationSeconds);
    call.wrap = SampleMs(spec.wrap, rng, kMaxEventDurationSeconds);
    Ms leave = ToMs(std::min(patience, static_cast<double>(kMaxEventDurationSeconds)));
    call.renege = Renege::kAbandon;
    if (spec.callback.enabled && spec.callback.uptake > 0 && rng.Bernoulli(spec.callback.uptake)) {
      const Ms offer = ToMs(spec.callback.offer_after);
      if (offer < leave) {
        leave = offer;
        call.renege = Renege::kCallback;
      }
    }
    if (spec.queue_timeout.has_value()) {
      const Ms timeout = ToMs(*spec.queue_timeout);
      if (timeout < leave) {
        leave = timeout;
        call.renege = Renege::kTimeout;
      }
    }
    call.renege_at = now_ + leave;
    if (spec.repeat.share > 0 && rng.Bernoulli(spec.repeat.share)) {
      call.will_redial = true;
      call.redial_delay = SampleMs(spec.repeat.delay, rng, kMaxDurationSeconds);
      call.redial_spread = rng.Uniform();
    }
    if (spec.resolved_first_time.has_value()) {
      call.resolved = rng.Bernoulli(*spec.resolved_first_time) ? 1 : 0;
    }
    const uint32_t idx = static_cast<uint32_t>(calls_.size());
    calls_.push_back(call);

    EmitQueued(idx);
    line.queue.push_back(idx);
    ++line.waiting;
    Serve(li);
    if (calls_[idx].state == CallState::kWaiting) {
      Schedule(calls_[idx].renege_at, Step::kRenege, idx);
    }
  }

  void OnRenege(uint32_t idx) {
    Call& call = calls_[idx];
    if (call.state != CallState::kWaiting) return;
    LineRuntime& line = lines_[call.line];
    --line.waiting;
    switch (call.renege) {
      case Renege::kAbandon:
        call.state = CallState::kAbandoned;
        EmitAbandoned(idx);
        if (call.will_redial) PlanRedial(call);
        break;
      case Renege::kCallback:
        call.state = CallState::kCallback;
        EmitCallbackRequested(idx);
        line.callbacks.push_back({call.talk, call.wrap});
        break;
      case Renege::kTimeout:
        call.state = CallState::kLeft;
        EmitLeftQueue(idx, v1::LEFT_QUEUE_REASON_TIMEOUT);
        break;
    }
  }

  // The caller of `call`, which abandoned now, calls again after its redial
  // delay, unless they have already rung back kMaxRepeatCallsPerCaller
  // times: that bound keeps the run finite when patience and delay can both
  // be 0 ms (a redial at the very instant of the abandonment, which could
  // abandon again at once). Whether a call would redial is still drawn for
  // every call, so the random streams do not depend on the bound.
  void PlanRedial(const Call& call) {
    LineRuntime& line = lines_[call.line];
    if (call.repeats >= kMaxRepeatCallsPerCaller) {
      ++line.summary.repeats_given_up;
      return;
    }
    const Ms at = now_ + call.redial_delay;
    for (const auto& [open, close] : line.open_windows) {
      if (close <= at) continue;
      Ms t = at;
      if (open > at) {
        const Ms spread = std::min<Ms>(close - open, 3600 * 1000);
        t = open + static_cast<Ms>(call.redial_spread * static_cast<double>(spread));
      }
      redials_.push_back({call.caller, call.line, static_cast<uint8_t>(call.repeats + 1)});
      Schedule(t, Step::kRedial, static_cast<uint32_t>(redials_.size() - 1));
      return;
    }
    ++line.summary.repeats_beyond_horizon;
  }

  void OnLineClose(uint32_t li) {
    LineRuntime& line = lines_[li];
    line.open = false;
    if (line.spec->at_close != AtClose::kOverflow) return;
    while (!line.queue.empty()) {
      const uint32_t idx = line.queue.front();
      line.queue.pop_front();
      Call& call = calls_[idx];
      if (call.state != CallState::kWaiting) continue;
      call.state = CallState::kLeft;
      --line.waiting;
      EmitLeftQueue(idx, v1::LEFT_QUEUE_REASON_OVERFLOW);
    }
  }

  // ---- agents -------------------------------------------------------------

  uint32_t PopIdle(LineRuntime& line) {
    while (!line.idle.empty()) {
      const auto [a, epoch] = line.idle.front();
      line.idle.pop_front();
      if (agents_[a].state == AgentState::kAvailable && agents_[a].idle_epoch == epoch) return a;
    }
    return kNone;
  }

  // Matches waiting calls (then pending call-backs) with idle agents.
  void Serve(uint32_t li) {
    LineRuntime& line = lines_[li];
    while (line.waiting > 0) {
      const uint32_t a = PopIdle(line);
      if (a == kNone) return;
      uint32_t idx = kNone;
      while (!line.queue.empty()) {
        idx = line.queue.front();
        line.queue.pop_front();
        if (calls_[idx].state == CallState::kWaiting) break;
        idx = kNone;
      }
      Answer(idx, a);
    }
    while (!line.callbacks.empty()) {
      const uint32_t a = PopIdle(line);
      if (a == kNone) return;
      Agent& agent = agents_[a];
      const PendingCallback cb = line.callbacks.front();
      line.callbacks.pop_front();
      agent.on_callback = true;
      agent.call = kNone;
      agent.talk = cb.talk;
      agent.wrap = cb.wrap;
      agent.state = AgentState::kOnCall;
      EmitAgentState(a, v1::AGENT_STATUS_ON_CALL);
      Schedule(now_ + cb.talk, Step::kTalkEnd, a);
    }
  }

  void Answer(uint32_t idx, uint32_t a) {
    Call& call = calls_[idx];
    LineRuntime& line = lines_[call.line];
    call.state = CallState::kAnswered;
    --line.waiting;
    Agent& agent = agents_[a];
    agent.on_callback = false;
    agent.call = idx;
    agent.talk = call.talk;
    agent.wrap = call.wrap;
    agent.state = AgentState::kOnCall;
    EmitAnswered(idx, a);
    EmitAgentState(a, v1::AGENT_STATUS_ON_CALL);
    Schedule(now_ + call.talk, Step::kTalkEnd, a);
  }

  void OnTalkEnd(uint32_t a) {
    Agent& agent = agents_[a];
    if (agent.wrap > 0) {
      agent.state = AgentState::kWrapUp;
      EmitAgentState(a, v1::AGENT_STATUS_WRAP_UP);
      Schedule(now_ + agent.wrap, Step::kWrapEnd, a);
      return;
    }
    Finish(a);
  }

  void Finish(uint32_t a) {
    Agent& agent = agents_[a];
    LineRuntime& line = lines_[agent.line];
    if (agent.on_callback) {
      ++line.summary.callbacks_served;
    } else {
      EmitCompleted(agent.call, a);
    }
    agent.on_callback = false;
    agent.call = kNone;
    Free(a);
  }

  // The agent has nothing to do: log out, take a break, or wait for calls.
  void Free(uint32_t a) {
    Agent& agent = agents_[a];
    LineRuntime& line = lines_[agent.line];
    if (agent.shift_over) {
      // Clear-down: after closing, agents on duty stay while callers wait.
      const bool clear_down = !line.open && line.waiting > 0;
      if (!clear_down) {
        LogOut(a);
        return;
      }
    } else if (agent.break_pending) {
      agent.break_pending = false;
      GoAway(a, agent.break_length);
      return;
    }
    MakeAvailable(a);
    Serve(agent.line);
    if (agent.state == AgentState::kAvailable && agent.shift_over) LogOut(a);
  }

  void MakeAvailable(uint32_t a) {
    Agent& agent = agents_[a];
    agent.state = AgentState::kAvailable;
    ++agent.idle_epoch;
    lines_[agent.line].idle.emplace_back(a, agent.idle_epoch);
    EmitAgentState(a, v1::AGENT_STATUS_AVAILABLE);
  }

  void LogOut(uint32_t a) {
    Agent& agent = agents_[a];
    agent.state = AgentState::kOut;
    ++agent.idle_epoch;
    ++agent.break_token;
    agent.break_pending = false;
    EmitAgentState(a, v1::AGENT_STATUS_LOGGED_OUT);
  }

  void GoAway(uint32_t a, Ms length) {
    Agent& agent = agents_[a];
    agent.state = AgentState::kAway;
    ++agent.idle_epoch;
    ++agent.break_token;
    EmitAgentState(a, v1::AGENT_STATUS_AWAY);
    Schedule(now_ + length, Step::kBreakEnd, a, agent.break_token);
  }

  void OnLogin(uint32_t plan) {
    const ShiftPlan& p = plans_[plan];
    Agent& agent = agents_[p.agent];
    agent.plan = plan;
    agent.shift_over = false;
    if (!agent.counted) {
      agent.counted = true;
      ++lines_[agent.line].summary.agents_by_origin[agent.origin];
    }
    if (agent.state != AgentState::kOut) return;  // still on from an earlier shift
    MakeAvailable(p.agent);
    Serve(agent.line);
  }

  void OnShiftEnd(uint32_t plan) {
    const ShiftPlan& p = plans_[plan];
    Agent& agent = agents_[p.agent];
    if (agent.plan != plan || agent.state == AgentState::kOut) return;
    agent.shift_over = true;
    if (agent.state == AgentState::kAvailable || agent.state == AgentState::kAway) {
      LogOut(p.agent);
    }
    // On a call or in wrap-up: logs out when free (see Free).
  }

  void OnBreakStart(uint32_t plan) {
    const ShiftPlan& p = plans_[plan];
    Agent& agent = agents_[p.agent];
    if (agent.plan != plan || agent.shift_over) return;
    switch (agent.state) {
      case AgentState::kAvailable:
        GoAway(p.agent, p.break_length);
        break;
      case AgentState::kOnCall:
      case AgentState::kWrapUp:
        agent.break_pending = true;
        agent.break_length = p.break_length;
        break;
      default:
        break;
    }
  }

  void OnBreakEnd(uint32_t a, uint32_t token) {
    Agent& agent = agents_[a];
    if (agent.state != AgentState::kAway || agent.break_token != token) return;
    MakeAvailable(a);
    Serve(agent.line);
  }

  // ---- emitting -----------------------------------------------------------

  void InitTemplates() {
    for (v1::CallEvent* e :
         {&queued_, &answered_, &abandoned_, &callback_, &left_, &completed_, &agent_state_}) {
      e->set_source(options_.source);
    }
    queued_.mutable_queued();
    answered_.mutable_answered()->mutable_wait();
    abandoned_.mutable_abandoned()->mutable_wait();
    callback_.mutable_callback_requested();
    left_.mutable_left_queue();
    completed_.mutable_completed()->mutable_talk();
    completed_.mutable_completed()->mutable_wrap();
    agent_state_.mutable_agent_state();
  }

  // Fills the common fields; `call` is kNone for agent_state.
  void Stamp(v1::CallEvent& e, const std::string& line_id, uint32_t call) {
    scratch_ = id_prefix_;
    AppendDecimal(seq_++, scratch_);
    e.set_event_id(scratch_);
    e.set_line_id(line_id);
    if (call != kNone) {
      scratch_ = id_prefix_;
      scratch_.push_back('c');
      AppendDecimal(call, scratch_);
      e.set_call_id(scratch_);
    }
    SetTimestamp(now_, e.mutable_event_time());
  }

  void Write(const v1::CallEvent& e) {
    if (!status_.ok()) return;
    if (summary_.first_event_time == absl::InfinitePast()) {
      summary_.first_event_time = absl::FromUnixMillis(now_);
    }
    summary_.last_event_time = absl::FromUnixMillis(now_);
    status_ = sink_.Write(e);
  }

  // For answered and abandoned calls only: the KPI max_wait_seconds
  // (docs/metrics.md), so that a replay gives the summary's figure.
  void RecordWait(LineSummary& s, Ms wait) { s.max_wait_ms = std::max(s.max_wait_ms, wait); }

  void EmitQueued(uint32_t idx) {
    const Call& call = calls_[idx];
    LineRuntime& line = lines_[call.line];
    Stamp(queued_, line.spec->id, idx);
    queued_.mutable_queued()->set_caller_key(keyer_.KeyFor(SyntheticCallerNumber(call.caller)));
    ++line.summary.offered;
    if (call.repeats > 0) ++line.summary.repeat_calls;
    Write(queued_);
  }

  void EmitAnswered(uint32_t idx, uint32_t a) {
    const Call& call = calls_[idx];
    LineRuntime& line = lines_[call.line];
    const Ms wait = now_ - call.queued_at;
    Stamp(answered_, line.spec->id, idx);
    v1::Answered* ans = answered_.mutable_answered();
    ans->set_agent_id(agents_[a].id);
    SetDuration(wait, ans->mutable_wait());
    ++line.summary.answered;
    line.summary.wait_answered_ms += wait;
    RecordWait(line.summary, wait);
    Write(answered_);
  }

  void EmitAbandoned(uint32_t idx) {
    const Call& call = calls_[idx];
    LineRuntime& line = lines_[call.line];
    const Ms wait = now_ - call.queued_at;
    Stamp(abandoned_, line.spec->id, idx);
    SetDuration(wait, abandoned_.mutable_abandoned()->mutable_wait());
    ++line.summary.abandoned;
    if (wait < kShortAbandonMs) ++line.summary.short_abandoned;
    line.summary.wait_abandoned_ms += wait;
    RecordWait(line.summary, wait);
    Write(abandoned_);
  }

  void EmitCallbackRequested(uint32_t idx) {
    const Call& call = calls_[idx];
    LineRuntime& line = lines_[call.line];
    const Ms wait = now_ - call.queued_at;
    Stamp(callback_, line.spec->id, idx);
    ++line.summary.callbacks_requested;
    line.summary.wait_other_ms += wait;
    Write(callback_);
  }

  void EmitLeftQueue(uint32_t idx, v1::LeftQueueReason reason) {
    const Call& call = calls_[idx];
    LineRuntime& line = lines_[call.line];
    const Ms wait = now_ - call.queued_at;
    Stamp(left_, line.spec->id, idx);
    left_.mutable_left_queue()->set_reason(reason);
    ++line.summary.left_queue;
    line.summary.wait_other_ms += wait;
    Write(left_);
  }

  void EmitCompleted(uint32_t idx, uint32_t a) {
    const Call& call = calls_[idx];
    LineRuntime& line = lines_[call.line];
    Stamp(completed_, line.spec->id, idx);
    v1::Completed* c = completed_.mutable_completed();
    c->set_agent_id(agents_[a].id);
    SetDuration(call.talk, c->mutable_talk());
    SetDuration(call.wrap, c->mutable_wrap());
    if (call.resolved >= 0) {
      c->set_resolved_first_time(call.resolved == 1);
      if (call.resolved == 1) ++line.summary.resolved_first_time;
    } else {
      c->clear_resolved_first_time();
    }
    ++line.summary.completed;
    line.summary.talk_ms += call.talk;
    line.summary.wrap_ms += call.wrap;
    Write(completed_);
  }

  void EmitAgentState(uint32_t a, v1::AgentStatus status) {
    const Agent& agent = agents_[a];
    Stamp(agent_state_, lines_[agent.line].spec->id, kNone);
    v1::AgentState* s = agent_state_.mutable_agent_state();
    s->set_agent_id(agent.id);
    s->set_state(status);
    s->set_origin(agent.origin);
    Write(agent_state_);
  }

  const Scenario& scenario_;
  const SimOptions& options_;
  EventSink& sink_;
  CallerKeyer keyer_;
  absl::CivilDay start_date_;
  Ms run_end_ = 0;  // the end of the last simulated day
  std::string id_prefix_;
  std::string scratch_;

  std::priority_queue<Pending, std::vector<Pending>, Later> heap_;
  int live_agents_ = 0;
  uint64_t order_ = 0;
  Ms now_ = 0;
  uint64_t seq_ = 0;
  uint64_t next_caller_ = 0;
  absl::Status status_;

  std::vector<LineRuntime> lines_;
  std::vector<Agent> agents_;
  std::vector<ShiftPlan> plans_;
  std::vector<Call> calls_;
  std::vector<Redial> redials_;
  Summary summary_;

  v1::CallEvent queued_, answered_, abandoned_, callback_, left_, completed_, agent_state_;
};

}  // namespace

absl::StatusOr<Summary> Simulate(const Scenario& scenario, const SimOptions& options,
                                 EventSink& sink) {
  // The run's dates (a start date given here, live reinforcements) must
  // keep the events in the contract's range and the calls within the cap.
  const absl::CivilDay first = options.start_date.value_or(scenario.date);
  if (absl::Status s = CheckRun(scenario, first, options.live_reinforcements != nullptr); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(options.start_date.has_value() ? "start date: " : "", s.message()));
  }
  Engine engine(scenario, options, sink);
  return engine.Run();
}

}  // namespace tidewatch::sim
