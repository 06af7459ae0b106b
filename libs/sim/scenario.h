// Simulation scenarios: what a day (or several) at a contact centre looks
// like, read from YAML (deploy/scenarios/*.yaml, reference in
// docs/simulator.md) and validated.
//
//   absl::StatusOr<Scenario> s = LoadScenarioFile("deploy/scenarios/normal-monday.yaml");
//   if (!s.ok()) { std::cerr << s.status().message(); ... }
//
// Every problem is reported, not just the first, one per line of the status
// message, each naming the file, the YAML line and the field path:
//   council-tax-summons.yaml:14: lines.revenues.calls_per_day: must not be
//   negative (got -5)
// Unknown keys are errors. A Scenario that loaded is ready to simulate:
// durations are in seconds, local times are seconds after local midnight,
// and defaults are filled in.
#ifndef TIDEWATCH_LIBS_SIM_SCENARIO_H_
#define TIDEWATCH_LIBS_SIM_SCENARIO_H_

#include <array>
#include <cmath>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "sim/random.h"
#include "tidewatch/v1/events.pb.h"

namespace tidewatch::sim {

inline constexpr int kSecondsPerDay = 24 * 60 * 60;

// Limits every scenario is held to (docs/simulator.md, Validation), so that
// a run is finite and its millisecond arithmetic cannot overflow.
//
// Expected calls on one line on one day: the volume (calls_per_day, or
// calls_per_hour x the day's opening hours) x day_of_week, and that x the
// surges of the day. A million-fold council day is far beyond any real one.
inline constexpr double kMaxCallsPerLineDay = 1e7;
// Every duration in a scenario (repeat delay, breaks, eta, ...).
inline constexpr int kMaxDurationSeconds = 366 * kSecondsPerDay;
// Durations that become an event's wait, talk or wrap (talk, wrap,
// patience, ivr_abandon, offer_after, queue_timeout): the events contract's
// limit (events::kMaxEventDuration, 7 days). The simulator also clamps the
// samples of unbounded distributions to it.
inline constexpr int kMaxEventDurationSeconds = 7 * kSecondsPerDay;
// Intraday weights are relative; bounded so that their integral over a day
// stays finite.
inline constexpr double kMaxIntradayWeight = 1e6;
// Repeat calls one caller makes at most (after their first call): a caller
// who has already rung back this many times and abandons again gives up
// (counted as repeats_given_up). Real callers do not redial forever, and
// without a bound share 1 with a patience and a repeat delay that can both
// be 0 ms would redial at the same instant without end (and a tiny
// patience and delay would flood the run).
inline constexpr int kMaxRepeatCallsPerCaller = 10;
// Agents in one reinforcement: the most an acknowledgement can carry
// (engine::kMaxAcknowledgedHeadcount in libs/engine/engine.h; the sim
// library does not depend on the engine, tests/sim/sim_tide_test.cc checks
// the two agree), so that tide-sim --respond-to can acknowledge any
// reinforcement.
inline constexpr int kMaxReinforcementAgents = 1000;

// A distribution of a non-negative duration in seconds: a handle time, a
// patience, a repeat-call delay.
struct Distribution {
  enum class Kind { kConstant, kExponential, kLogNormal, kUniform };
  Kind kind = Kind::kConstant;
  double mean = 0;  // kConstant: the value; kExponential, kLogNormal: mean
  double sd = 0;    // kLogNormal: standard deviation of the variate
  double min = 0;   // kUniform: [min, max)
  double max = 0;
  // kLogNormal: parameters of the underlying normal (set by LogNormal()).
  double mu = 0;
  double sigma = 0;

  static Distribution Constant(double value);
  static Distribution Exponential(double mean);
  static Distribution LogNormal(double mean, double sd);
  static Distribution Uniform(double min, double max);

  double Mean() const;
  // The largest value Sample() can return (infinity when unbounded).
  double Max() const;
  double Sample(Rng& rng) const {
    switch (kind) {
      case Kind::kConstant:
        return mean;
      case Kind::kExponential:
        return rng.Exponential(mean);
      case Kind::kLogNormal:
        return sigma <= 0 ? mean : std::exp(mu + sigma * rng.Normal());
      case Kind::kUniform:
        return rng.Uniform(min, max);
    }
    return mean;
  }
};

// An interval of local time of day, [from, to), in seconds after midnight;
// 0 <= from < to <= 86400.
struct DayWindow {
  int from = 0;
  int to = 0;
};

// When a line is open, per weekday (index 0 = Monday ... 6 = Sunday), in
// local time. Windows of one day are sorted and do not overlap.
struct WeeklyHours {
  std::array<std::vector<DayWindow>, 7> days;
};

// One step of the intraday demand profile: from `from` (seconds after
// local midnight) until the next point, demand is proportional to `weight`.
// The first point's weight also applies before it.
struct ProfilePoint {
  int from = 0;
  double weight = 1;
};

// A block of agents working the same shift on a line, every simulated day.
struct Shift {
  DayWindow hours;
  int agents = 0;
  // Optional break: each agent takes one break of `break_length` seconds,
  // starting times spread evenly over `break_window`.
  std::optional<DayWindow> break_window;
  int break_length = 0;
};

// Callers abandoning at the IVR message: a share of callers whose patience
// is uniform on [from, to) seconds instead of the line's patience.
struct IvrAbandon {
  double share = 0;
  double from = 60;
  double to = 120;
};

// Call-back offer: a caller still waiting after `offer_after` seconds is
// offered a call-back and takes it with probability `uptake`.
struct CallbackOffer {
  bool enabled = false;
  double offer_after = 120;
  double uptake = 0;
};

// Repeat calls: a share of callers who abandon call the same line again
// after `delay` (same caller_key). `share` applies at every abandonment, the
// first call's and each repeat's, up to kMaxRepeatCallsPerCaller repeats.
struct RepeatCalls {
  double share = 0;
  Distribution delay = Distribution::LogNormal(3600, 3600);
};

// What happens to calls still waiting when the line closes.
enum class AtClose {
  kServe,     // they stay queued; agents on duty stay until the queue is empty
  kOverflow,  // they leave the queue (left_queue OVERFLOW, out-of-hours service)
};

// One call line (queue) of the scenario.
struct LineSpec {
  std::string id;
  // Demand on a day whose day_of_week multiplier is 1, before surges and
  // repeat calls: expected calls a day, or (when per_hour) expected calls an
  // hour averaged over the opening hours.
  double volume = 0;
  bool per_hour = false;
  std::array<double, 7> day_of_week = {1, 1, 1, 1, 1, 1, 1};
  std::vector<ProfilePoint> intraday = {{0, 1.0}};
  WeeklyHours hours;
  Distribution talk = Distribution::LogNormal(300, 180);
  Distribution wrap = Distribution::LogNormal(60, 30);
  Distribution patience = Distribution::LogNormal(480, 360);
  IvrAbandon ivr_abandon;
  CallbackOffer callback;
  RepeatCalls repeat;
  std::optional<double> resolved_first_time;  // probability, when recorded
  std::optional<double> queue_timeout;        // seconds; left_queue TIMEOUT
  AtClose at_close = AtClose::kServe;
  std::vector<Shift> staffing;
};

// A surge: demand on a line multiplied by `multiplier` during `hours` on
// day `day` (1-based; 0 = every simulated day). Surges on the same line
// multiply together.
struct Surge {
  std::string name;
  std::string line_id;
  int day = 0;
  DayWindow hours;
  double multiplier = 1;
};

// Scripted response to a call-up: at `at` (seconds after local midnight)
// on day `day` (0 = every day), `agents` people with `origin` are sent to
// `line_id`; they log in `eta` seconds later and stay for `duration`.
struct Reinforcement {
  std::string name;
  std::string line_id;
  int day = 0;
  int at = 0;
  int eta = 0;
  int duration = 0;
  int agents = 0;
  tidewatch::v1::AgentOrigin origin = tidewatch::v1::AGENT_ORIGIN_BACK_OFFICE;
};

// A validated scenario.
struct Scenario {
  std::string name;
  std::string description;
  absl::CivilDay date = absl::CivilDay(2022, 10, 3);  // first simulated day
  int days = 1;
  std::string timezone = "Europe/London";
  absl::TimeZone zone;
  std::vector<LineSpec> lines;  // document order
  std::vector<Surge> surges;
  std::vector<Reinforcement> reinforcements;

  const LineSpec* FindLine(std::string_view id) const;
};

// A stretch of a line's opening hours with one arrival rate: local seconds
// [from, to) after midnight and the calls expected in it.
struct ArrivalSegment {
  int from = 0;
  int to = 0;
  double calls = 0;
};

// The calls `spec` expects on a day of weekday `wd` (0 = Monday) with
// `surges` (its surges of that day) in force, by segment in time order: the
// volume (calls_per_hour x the day's opening hours) x day_of_week, spread
// over the opening hours by the intraday weights, each segment multiplied
// by the surges it falls in. What the simulator draws arrivals from, and
// what validation holds to kMaxCallsPerLineDay. Empty when nothing is
// expected.
std::vector<ArrivalSegment> ExpectedArrivals(const LineSpec& spec, int wd,
                                             const std::vector<const Surge*>& surges);

// Whether every event a run of `days` local days from `first` could write
// lies within the events contract's event_time range (libs/events/events.h:
// [2000-01-01, 2100-01-01) UTC), at worst: from the earliest opening, shift
// start or reinforcement login of the run to the latest closing, shift end
// or reinforcement logout, plus that line's longest wait (serve at close
// only), talk and wrap (each at most kMaxEventDurationSeconds). With
// `live_reinforcements`, people sent live may also arrive until a day after
// the last day ends and make call-backs. A run that writes nothing fits.
// InvalidArgument saying why otherwise; the message names no field, so the
// caller prefixes the YAML field or flag.
absl::Status CheckRunDates(const Scenario& scenario, absl::CivilDay first, int days,
                           bool live_reinforcements = false);

// Everything about a run from `first` (scenario.days days) that depends on
// its dates: CheckRunDates, and each line's expected calls on each day of
// the run at most kMaxCallsPerLineDay (volume x day_of_week, then x the
// day's surges). One problem per line of the message, each naming the field
// ("lines.revenues.calls_per_day: ...", "surges[1].multiplier: ...") and
// the day. ParseScenarioYaml holds the scenario's own date to this; call it
// when the run starts elsewhere (tide-sim --start-date) or with live
// reinforcements.
absl::Status CheckRun(const Scenario& scenario, absl::CivilDay first,
                      bool live_reinforcements = false);

// Parses and validates a scenario. `filename` only labels error messages.
absl::StatusOr<Scenario> ParseScenarioYaml(std::string_view yaml, std::string_view filename);

// Reads `path` and parses it (errors are labelled with the file's base name).
absl::StatusOr<Scenario> LoadScenarioFile(const std::string& path);

// Short lower-case name of an origin as scenarios spell it ("back_office").
std::string_view OriginName(tidewatch::v1::AgentOrigin origin);

}  // namespace tidewatch::sim

#endif  // TIDEWATCH_LIBS_SIM_SCENARIO_H_
