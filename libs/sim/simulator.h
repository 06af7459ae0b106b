// tide-sim's engine: a discrete-event simulation of a multi-line contact
// centre that emits the CallEvents a telephony platform would.
//
//   absl::StatusOr<Scenario> scenario = LoadScenarioFile(path);
//   JsonLinesSink sink(file);
//   SimOptions options;
//   options.seed = 7;
//   absl::StatusOr<Summary> summary = Simulate(*scenario, options, sink);
//
// The model (details and definitions in docs/simulator.md):
// - Arrivals per line are a non-homogeneous Poisson process whose rate is
//   piecewise constant: volume x day-of-week x intraday profile x surges,
//   only while the line is open. Abandoning callers may call again later
//   (same caller_key).
// - Each caller has a patience (with an optional cluster at the IVR
//   message), may take a call-back after waiting `offer_after`, and may hit
//   the platform's queue timeout; whichever comes first ends the wait unless
//   an agent answers before.
// - Agents (CSC staffing blocks, and scripted reinforcements with origin
//   BACK_OFFICE / PERIPATETIC / CASUAL) serve their line first-come
//   first-served; the longest-idle agent takes the next call. Pending
//   call-backs are made by idle agents when nobody is queued.
// - When a line closes no new calls arrive. Waiting calls are either served
//   (agents on duty stay until the queue is empty; callers may still
//   abandon) or overflow (left_queue OVERFLOW), per the line's at_close.
//   The run ends when every call is resolved, so the summary is exact.
//
// Same scenario, options and seed: byte-identical events. The simulation
// never reads the wall clock; pacing belongs to the caller's sink.
#ifndef TIDEWATCH_LIBS_SIM_SIMULATOR_H_
#define TIDEWATCH_LIBS_SIM_SIMULATOR_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "sim/event_sink.h"
#include "sim/scenario.h"
#include "sim/summary.h"

namespace tidewatch::sim {

// Options of one run.
struct SimOptions {
  uint64_t seed = 1;
  // Replaces the scenario's date (first simulated day) when set.
  std::optional<absl::CivilDay> start_date;
  // CallEvent.source of every event.
  std::string source = "tide-sim";
  // Live responses (tide-sim --respond-to): called before each simulation
  // step with the simulated time; the reinforcements it returns are sent at
  // once (`at` and `day` are ignored: the people log in `eta` seconds after
  // that time and stay `duration`; none are sent after the last simulated
  // day ends, nor any whose eta + duration exceeds a day). Null: only the
  // scenario's script.
  std::function<std::vector<Reinforcement>(absl::Time now)> live_reinforcements;
};

// Runs the scenario to the end, writing every event to `sink` in event-time
// order, flushes the sink, and returns the per-line totals. Fails when the
// sink fails, or (InvalidArgument) when the run from options.start_date (or
// the scenario's date) fails CheckRun (scenario.h): events outside the
// events' time range, or a day over the expected-calls cap.
absl::StatusOr<Summary> Simulate(const Scenario& scenario, const SimOptions& options,
                                 EventSink& sink);

}  // namespace tidewatch::sim

#endif  // TIDEWATCH_LIBS_SIM_SIMULATOR_H_
