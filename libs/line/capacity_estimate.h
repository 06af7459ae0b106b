// Live capacity figures for a line: how many people it needs now.
//
// From one window of a line (or its replay totals) and its live agent
// counts, estimates the queue's parameters and runs the Erlang model
// (libs/capacity) on them:
//   arrival rate      offered / window length
//   mean handle time  (talk + wrap) of completed calls, or the policy's
//                     default_handle_time until kMinCompleted have completed
//   mean patience     exponential maximum-likelihood estimate: total time
//                     waited by answered and abandoned callers / abandoned
//                     (absent until kMinAbandoned abandons: Erlang C then)
//   staffed agents    agents logged in and not AWAY (available, on call,
//                     wrap-up): the servers of the queue
// and gives the predicted mean wait for a caller arriving now (the steady
// state those figures imply, Erlang A, or C without patience), the agents
// needed to meet the line's service-level and abandonment targets, and the
// gap (needed - staffed). With too little data (fewer than kMinOffered
// calls offered in the window) the model figures are absent and
// `enough_data` is false: not guessed.
//
//   CapacityEstimate est = EstimateCapacity(stats, line.agents(), policy);
//   if (est.gap) page(*est.gap);
#ifndef TIDEWATCH_LIBS_LINE_CAPACITY_ESTIMATE_H_
#define TIDEWATCH_LIBS_LINE_CAPACITY_ESTIMATE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "line/agent_counts.h"
#include "policy/compiled_policy.h"
#include "window/sliding_windows.h"

namespace tidewatch::line {

// Minimum data before the model is run / a measured figure replaces the
// default.
inline constexpr int64_t kMinOffered = 10;
inline constexpr int64_t kMinCompleted = 10;
inline constexpr int64_t kMinAbandoned = 5;

// The inputs and outputs of one capacity estimate.
struct CapacityEstimate {
  absl::Duration window;  // zero: replay totals
  double arrivals_per_hour = 0;
  double mean_handle_seconds = 0;
  bool handle_time_is_default = false;
  std::optional<double> mean_patience_seconds;
  int64_t staffed_agents = 0;
  bool enough_data = false;
  std::optional<double> predicted_wait_seconds;
  std::optional<int> agents_needed;
  std::optional<int> gap;  // agents_needed - staffed_agents

  // One line for a call-up reason, e.g. "capacity gap 4 (needs 18, staffed
  // 14; 412 calls/h, handle 241s, patience 118s, over 15m)".
  std::string Describe() const;
};

// Estimates from `stats` spanning `span` (a window's length; for replay
// totals, the time the totals cover).
CapacityEstimate EstimateCapacity(const window::WindowStats& stats, absl::Duration span,
                                  const AgentCounts& agents, const policy::LinePolicy& policy);

}  // namespace tidewatch::line

#endif  // TIDEWATCH_LIBS_LINE_CAPACITY_ESTIMATE_H_
