// Scenario YAML, and the messages it draws, shared by the tests of one rule
// at its several levels: scenario parsing, the simulator library and the
// tide-sim binary. Plain text only, so the binary's test (which links no
// tidewatch library) can include it.
#ifndef TIDEWATCH_TESTS_SIM_SCENARIO_SNIPPETS_H_
#define TIDEWATCH_TESTS_SIM_SCENARIO_SNIPPETS_H_

namespace tidewatch::sim::testing {

// Within the expected-calls cap on its own dates (Monday 2022-10-03, then a
// Tuesday), beyond it from a Sunday start (2022-10-09): day 2 becomes a
// Monday (x12) with its x9000 surge.
inline constexpr char kDailyCapScenario[] = R"(date: 2022-10-03
days: 2
lines:
  revenues:
    calls_per_day: 1000
    day_of_week: {mon: 12}
    staffing: []
surges:
  - {line: revenues, day: 2, from: "09:00", to: "10:00", multiplier: 9000}
)";

// Why a run whose day 2 is Monday 2022-10-10 is refused, for that scenario's
// revenues line and surge (scenario_test.cc's kWeekdayExtremes has the
// same): CheckRun's words, which its callers prefix with their own.
inline constexpr char kDailyCapMondaySurgeError[] =
    "surges[0].multiplier: gives line revenues 1.20107e+07 expected calls on day 2 "
    "(2022-10-10, a mon, volume x day_of_week x the surges of the day); must be at most "
    "10000000 a line a day";

}  // namespace tidewatch::sim::testing

#endif  // TIDEWATCH_TESTS_SIM_SCENARIO_SNIPPETS_H_
