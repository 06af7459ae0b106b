#include "line/capacity_estimate.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "capacity/erlang.h"

namespace tidewatch::line {

std::string CapacityEstimate::Describe() const {
  std::string inputs =
      absl::StrFormat("%.0f calls/h, handle %.0fs%s", arrivals_per_hour, mean_handle_seconds,
                      handle_time_is_default ? " (default)" : "");
  if (mean_patience_seconds)
    absl::StrAppend(&inputs, absl::StrFormat(", patience %.0fs", *mean_patience_seconds));
  if (window > absl::ZeroDuration()) {
    absl::StrAppend(&inputs, ", over ", absl::FormatDuration(window));
  }
  if (!enough_data)
    return absl::StrCat("capacity estimate unavailable: too little data (", inputs, ")");
  if (!agents_needed)
    return absl::StrCat("capacity model found no staffing that meets the targets (", inputs, ")");
  return absl::StrFormat("capacity gap %d (needs %d, staffed %d; %s)", gap.value_or(0),
                         *agents_needed, staffed_agents, inputs);
}

CapacityEstimate EstimateCapacity(const window::WindowStats& stats, absl::Duration span,
                                  const AgentCounts& agents, const policy::LinePolicy& policy) {
  using tidewatch::v1::AGENT_STATUS_AVAILABLE;
  using tidewatch::v1::AGENT_STATUS_ON_CALL;
  using tidewatch::v1::AGENT_STATUS_WRAP_UP;
  const window::Counters& c = stats.counters;
  CapacityEstimate est;
  est.window = stats.length;
  est.staffed_agents = agents.InState(AGENT_STATUS_AVAILABLE) +
                       agents.InState(AGENT_STATUS_ON_CALL) + agents.InState(AGENT_STATUS_WRAP_UP);
  const double span_s = absl::ToDoubleSeconds(span);
  if (span_s <= 0) return est;
  est.arrivals_per_hour = static_cast<double>(c.offered) / span_s * 3600;
  if (c.completed >= kMinCompleted) {
    est.mean_handle_seconds = static_cast<double>(c.sum_handle_ns) / 1e9 / c.completed;
  } else {
    est.mean_handle_seconds = absl::ToDoubleSeconds(policy.default_handle_time);
    est.handle_time_is_default = true;
  }
  if (c.abandoned >= kMinAbandoned) {
    est.mean_patience_seconds = static_cast<double>(c.sum_wait_all_ns) / 1e9 / c.abandoned;
  }
  est.enough_data = c.offered >= kMinOffered && est.mean_handle_seconds > 0;
  if (!est.enough_data) return est;

  capacity::QueueParams params;
  params.arrivals_per_second = est.arrivals_per_hour / 3600;
  params.mean_handle_seconds = est.mean_handle_seconds;
  params.mean_patience_seconds = est.mean_patience_seconds;
  const double answer_within = absl::ToDoubleSeconds(policy.targets.answer_within);
  if (est.staffed_agents > 0) {
    params.agents = static_cast<int>(std::min<int64_t>(est.staffed_agents, capacity::kMaxAgents));
    absl::StatusOr<capacity::QueueMetrics> m = capacity::Evaluate(params, answer_within);
    if (m.ok() && std::isfinite(m->mean_wait_seconds))
      est.predicted_wait_seconds = m->mean_wait_seconds;
  }
  capacity::StaffingTarget target;
  target.service_level = policy.targets.service_level;
  target.answer_within_seconds = answer_within;
  target.max_abandon = policy.targets.abandon_rate;
  absl::StatusOr<int> needed = capacity::AgentsNeeded(params, target, 10000);
  if (needed.ok()) {
    est.agents_needed = *needed;
    est.gap = static_cast<int>(*needed - est.staffed_agents);
  }
  return est;
}

}  // namespace tidewatch::line
