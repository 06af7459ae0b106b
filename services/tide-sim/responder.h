// tide-sim --respond-to: answers tidewatch call-ups live, so the demo
// closes the loop by itself.
//
// The scenario's `reinforcements` become response settings instead of a
// script: a Responder watches call-ups on tidewatchd's gRPC API, and when a
// line is paged for a team whose kind matches a reinforcement of that line
// (back_office for a "...back-office" team, peripatetic, casual, csc), it
// acknowledges the call-up (headcount = the reinforcement's agents, ETA =
// its eta) and hands the reinforcement to the simulation, whose people then
// log in `eta` simulated seconds later. Each reinforcement answers one page.
//
//   Responder responder(address, token, scenario.reinforcements);
//   RETURN_IF_ERROR(responder.Start());
//   options.live_reinforcements = [&](absl::Time t) { return responder.Due(t); };
//   Simulate(scenario_without_script, options, sink);
//   responder.Stop();
#ifndef TIDEWATCH_SERVICES_TIDE_SIM_RESPONDER_H_
#define TIDEWATCH_SERVICES_TIDE_SIM_RESPONDER_H_

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "sim/scenario.h"

namespace tidewatch::sim {

// Watches call-ups and acknowledges them per the scenario's responses.
class Responder {
 public:
  Responder(std::string address, std::string token, std::vector<Reinforcement> responses);
  ~Responder();

  // Connects and starts watching on a thread of its own.
  absl::Status Start();
  // Reinforcements acknowledged since the last call (for the simulation).
  std::vector<Reinforcement> Due(absl::Time now);
  void Stop();
  int acknowledged() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Whether a reinforcement of `origin` answers a call-up of `team_id`.
bool OriginAnswersTeam(tidewatch::v1::AgentOrigin origin, const std::string& team_id);

}  // namespace tidewatch::sim

#endif  // TIDEWATCH_SERVICES_TIDE_SIM_RESPONDER_H_
