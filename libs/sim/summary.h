// The simulator's own ground truth: per-line totals of what it emitted.
//
// Tests hold tidewatch's KPIs against these numbers, so the definitions are
// the engine's (docs/architecture.md, KPI definitions), counted from the
// very events the simulator wrote:
//   offered       queued events
//   answered      answered events;  abandoned: abandoned events
//   short_abandoned  abandoned with wait < 5 s
//   mean_wait     mean wait of answered and abandoned calls (the KPI avg_wait)
//   asa           mean wait of answered calls
//   max_wait      longest wait of answered and abandoned calls (the KPI
//                 max_wait_seconds, docs/metrics.md)
//   mean_wait_all_offered  mean wait of every offered call, including those
//                 that left through a call-back or left_queue
//   abandon_rate  (abandoned - short) / (answered + abandoned - short)
//   answer_rate   answered / (answered + abandoned)
// Waits are whole milliseconds, exactly as written in the events.
//
//   std::string json = SummaryToJson(summary);   // --summary FILE
//   std::string table = SummaryTable(summary);   // stderr
#ifndef TIDEWATCH_LIBS_SIM_SUMMARY_H_
#define TIDEWATCH_LIBS_SIM_SUMMARY_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace tidewatch::sim {

// Abandoned with a wait below this is a short abandon (the policy default).
inline constexpr int64_t kShortAbandonMs = 5000;

// Totals for one line (or, with line_id "all", for every line).
struct LineSummary {
  std::string line_id;
  int64_t offered = 0;
  int64_t repeat_calls = 0;  // offered calls from callers who abandoned earlier
  int64_t answered = 0;
  int64_t abandoned = 0;
  int64_t short_abandoned = 0;
  int64_t callbacks_requested = 0;
  int64_t left_queue = 0;
  int64_t completed = 0;
  int64_t resolved_first_time = 0;     // completed with resolved_first_time = true
  int64_t callbacks_served = 0;        // call-backs an agent made before the end
  int64_t callbacks_unserved = 0;      // call-backs still pending at the end
  int64_t repeats_beyond_horizon = 0;  // repeat calls that would fall after the end
  int64_t repeats_given_up = 0;        // repeat calls not made: the caller had rung
                                       // back kMaxRepeatCallsPerCaller times
  int64_t wait_answered_ms = 0;        // sums of waits
  int64_t wait_abandoned_ms = 0;
  int64_t wait_other_ms = 0;  // callback_requested and left_queue
  int64_t max_wait_ms = 0;    // answered and abandoned calls only, like mean_wait
  int64_t talk_ms = 0;        // sums over completed calls
  int64_t wrap_ms = 0;
  // Distinct agents that logged in, by AgentOrigin value (index 1 = CSC,
  // 2 = BACK_OFFICE, 3 = PERIPATETIC, 4 = CASUAL).
  std::array<int64_t, 5> agents_by_origin = {};

  // Derived figures; nullopt when the denominator is empty.
  std::optional<double> MeanWaitSeconds() const;            // answered + abandoned
  std::optional<double> AsaSeconds() const;                 // answered
  std::optional<double> MeanWaitAllOfferedSeconds() const;  // every offered call
  std::optional<double> AbandonedFraction() const;          // abandoned / offered
  std::optional<double> AbandonRate() const;                // KPI definition
  std::optional<double> AnswerRate() const;
  std::optional<double> MeanHandleSeconds() const;  // (talk + wrap) / completed

  void Add(const LineSummary& other);  // for the "all" row
};

// The whole run.
struct Summary {
  std::string scenario;
  uint64_t seed = 0;
  int64_t events = 0;
  absl::Time first_event_time = absl::InfinitePast();
  absl::Time last_event_time = absl::InfinitePast();
  std::vector<LineSummary> lines;  // scenario order
  LineSummary total;               // line_id "all"
};

// Deterministic JSON (fixed key order, 3 decimals, null for absent ratios).
std::string SummaryToJson(const Summary& summary);

// A short fixed-width table for humans.
std::string SummaryTable(const Summary& summary);

}  // namespace tidewatch::sim

#endif  // TIDEWATCH_LIBS_SIM_SUMMARY_H_
