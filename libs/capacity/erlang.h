// Queueing models for a call line: Erlang B, Erlang C (M/M/n) and Erlang A
// (M/M/n+M, callers with exponential patience), and the staffing question
// "how many agents does this line need to meet its targets?".
//
// All three models assume Poisson arrivals, exponentially distributed handle
// times (talk + wrap) and `agents` identical agents serving one FIFO queue.
// Erlang C adds an infinite queue and callers who never give up; Erlang A
// adds exponentially distributed caller patience (callers abandon when their
// patience runs out before an agent answers), which is what a council line
// with an abandonment KPI looks like.
//
//   capacity::QueueParams q{.arrivals_per_second = 120.0 / 3600,
//                           .mean_handle_seconds = 240,
//                           .agents = 9,
//                           .mean_patience_seconds = 120};
//   absl::StatusOr<capacity::QueueMetrics> m = capacity::Evaluate(q, 180);
//   // m->p_wait, m->mean_wait_seconds, m->p_abandon, m->service_level
//   absl::StatusOr<int> n = capacity::AgentsNeeded(q, capacity::StaffingTarget{}, 10000);
//
// Numerics. Nothing here evaluates a factorial or a power that can overflow:
// Erlang B uses the standard recursion B(k) = a B(k-1) / (k + a B(k-1))
// (run on 1/B), which is stable for any load; Erlang A sums the waiting
// states of its birth-death chain as ratios of neighbouring terms, scaled by
// the largest term (whose logarithm is a sum of logs, or a Stirling
// difference when the peak is far out, never lgamma of a large argument), so
// loads of thousands of erlangs and 1..kMaxAgents agents give finite
// results. Cost: Erlang B/C are O(agents); Erlang A adds
// O(sqrt(arrivals x patience)) terms at most, typically tens.
// Accuracy (tests/capacity): p_wait, mean wait and p_abandon agree with a
// long-double birth-death computation to ~1e-13 relative; service_level is
// accurate to ~1e-14 absolute (it is 1 minus two probabilities).
//
// Definitions (all per offered call, i.e. per call that entered the queue):
//   p_wait            P(an arriving call finds every agent busy). Erlang A:
//                     the same event (it waits, whether answered or not).
//   mean_wait_seconds mean time in queue of all offered calls, abandoned ones
//                     included (time until answered or until hung up). For
//                     Erlang A this is E[queue length] / arrival rate
//                     (Little's law), and p_abandon = mean_wait / patience.
//   p_abandon         fraction of offered calls that hang up before being
//                     answered; 0 for Erlang C.
//   service_level     fraction of offered calls answered within the target
//                     time T: P(answered and wait <= T). Calls that abandon
//                     count in the denominator and never in the numerator,
//                     matching the KPI service_level = answered within T /
//                     (answered + abandoned) (the model has no short
//                     abandons). Erlang C: 1 - C exp(-(n mu - lambda) T).
//                     Erlang A: 1 - p_abandon - P(answered after waiting
//                     longer than T), exact (derived from the offered-wait
//                     density of M/M/n+M, see erlang.cc).
//
// Unstable Erlang C (offered load >= agents, with calls arriving): the queue
// grows without bound, so p_wait = 1, mean_wait_seconds = +infinity,
// service_level = 0 and `stable` is false. Erlang A is always stable
// (abandonment drains any overload).
//
// Invalid input (negative or non-finite rates, zero handle time, negative
// agents, ...) is an InvalidArgument status whose message names the field.
#ifndef TIDEWATCH_LIBS_CAPACITY_ERLANG_H_
#define TIDEWATCH_LIBS_CAPACITY_ERLANG_H_

#include <optional>

#include "absl/status/statusor.h"

namespace tidewatch::capacity {

// The largest agent count any function here accepts.
inline constexpr int kMaxAgents = 1'000'000;

// Erlang A's waiting-state sum costs O(sqrt(arrivals_per_second x
// mean_patience_seconds)); beyond this product the patience is effectively
// infinite and the caller should use Erlang C (omit the patience).
inline constexpr double kMaxArrivalsTimesPatience = 1e10;

// A call line as the models see it. `mean_patience_seconds` empty (or
// +infinity) means callers never abandon: Erlang C. Otherwise Erlang A.
struct QueueParams {
  double arrivals_per_second = 0;
  double mean_handle_seconds = 0;  // talk + wrap, > 0
  int agents = 0;                  // 0..kMaxAgents
  std::optional<double> mean_patience_seconds;
};

// What a model predicts for a line in steady state. See the definitions at
// the top of this file.
struct QueueMetrics {
  double offered_load_erlangs = 0;  // arrivals_per_second * mean_handle_seconds
  double p_wait = 0;
  double mean_wait_seconds = 0;  // all offered calls; +infinity if unstable
  double p_abandon = 0;          // 0 for Erlang C
  double service_level = 1;      // answered within the target time / offered
  // Fraction of agent time spent handling calls: carried load / agents
  // (offered load x (1 - p_abandon) / agents); 1 when unstable, 0 with no
  // agents.
  double occupancy = 0;
  bool stable = true;  // false only for unstable Erlang C
};

// The targets a line is staffed for (the policy's Targets).
struct StaffingTarget {
  // Fraction of offered calls to answer within `answer_within_seconds`,
  // in (0, 1).
  double service_level = 0.8;
  double answer_within_seconds = 180;  // >= 0
  // Largest acceptable abandonment probability, in (0, 1]. Erlang A only:
  // Erlang C never abandons, so it always meets this.
  double max_abandon = 0.1;
};

// Erlang B: the probability that a call is blocked (lost) when `agents`
// servers without a queue are offered `offered_load_erlangs`. B(0, a) = 1.
absl::StatusOr<double> ErlangB(int agents, double offered_load_erlangs);

// Erlang C: the probability that a call has to wait in an M/M/n queue with
// no abandonment. 1 when the queue is unstable (offered_load_erlangs >=
// agents, load > 0); 0 when the load is 0.
absl::StatusOr<double> ErlangC(int agents, double offered_load_erlangs);

// Erlang A (M/M/n+M) metrics with service level for `answer_within_seconds`.
// `params.mean_patience_seconds` must be set; +infinity falls back to
// Erlang C.
absl::StatusOr<QueueMetrics> ErlangA(const QueueParams& params, double answer_within_seconds);

// Erlang C metrics when params has no patience, Erlang A otherwise.
absl::StatusOr<QueueMetrics> Evaluate(const QueueParams& params, double answer_within_seconds);

// The smallest number of agents n in [0, max_agents] for which Evaluate()
// meets `target` (service_level >= target.service_level and, for Erlang A,
// p_abandon <= target.max_abandon). `params.agents` is ignored. No arrivals
// need 0 agents. OutOfRange when even max_agents (<= kMaxAgents) does not
// meet the target. Both metrics are monotone in n, so the search gallops up
// from a lower bound (the first stable n, floor(load) + 1, for Erlang C;
// load x the served fraction the targets imply for Erlang A) and then bisects: O(log) model
// evaluations plus one O(n) Erlang B recursion.
absl::StatusOr<int> AgentsNeeded(const QueueParams& params, const StaffingTarget& target,
                                 int max_agents);

}  // namespace tidewatch::capacity

#endif  // TIDEWATCH_LIBS_CAPACITY_ERLANG_H_
