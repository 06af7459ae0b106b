// Scenario loading: the shipped scenarios load, and bad scenarios are
// rejected with messages naming the file, the YAML line and the field path.
#include "sim/scenario.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scenario_snippets.h"

namespace tidewatch::sim {
namespace {

using ::testing::HasSubstr;
using testing::kDailyCapMondaySurgeError;

std::string ScenarioPath(const std::string& name) {
  return absl::StrCat(TIDEWATCH_SOURCE_DIR, "/deploy/scenarios/", name);
}

// A valid minimal scenario; tests splice bad bits into it.
constexpr char kMinimal[] = R"(name: minimal
date: 2022-10-03
lines:
  revenues:
    calls_per_day: 100
    staffing:
      - {from: "08:30", to: "17:30", agents: 3}
)";

std::string Error(const std::string& yaml) {
  absl::StatusOr<Scenario> s = ParseScenarioYaml(yaml, "bad.yaml");
  EXPECT_FALSE(s.ok()) << "accepted:\n" << yaml;
  if (s.ok()) return "";
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(s.status().message());
}

TEST(ScenarioTest, ShippedScenariosLoad) {
  for (const char* name :
       {"normal-monday.yaml", "council-tax-summons.yaml", "stationary-erlang-a.yaml"}) {
    absl::StatusOr<Scenario> s = LoadScenarioFile(ScenarioPath(name));
    ASSERT_TRUE(s.ok()) << name << ": " << s.status();
    EXPECT_FALSE(s->lines.empty());
    // Lines are the default policy's line ids.
    for (const LineSpec& line : s->lines) {
      EXPECT_THAT((std::vector<std::string>{"revenues", "council-tax", "waste", "housing",
                                            "adult-social-care"}),
                  ::testing::Contains(line.id));
    }
  }
}

TEST(ScenarioTest, StationaryErlangAIsTheTextbookSystem) {
  absl::StatusOr<Scenario> s = LoadScenarioFile(ScenarioPath("stationary-erlang-a.yaml"));
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->lines.size(), 1u);
  const LineSpec& line = s->lines[0];
  EXPECT_TRUE(line.per_hour);
  EXPECT_EQ(line.volume, 360);
  EXPECT_EQ(line.talk.kind, Distribution::Kind::kExponential);
  EXPECT_EQ(line.talk.mean, 240);
  EXPECT_EQ(line.wrap.kind, Distribution::Kind::kConstant);
  EXPECT_EQ(line.wrap.mean, 0);
  EXPECT_EQ(line.patience.kind, Distribution::Kind::kExponential);
  EXPECT_EQ(line.patience.mean, 120);
  EXPECT_EQ(line.ivr_abandon.share, 0);
  EXPECT_FALSE(line.callback.enabled);
  EXPECT_EQ(line.repeat.share, 0);
  ASSERT_EQ(line.staffing.size(), 1u);
  EXPECT_EQ(line.staffing[0].agents, 24);
  EXPECT_EQ(line.staffing[0].hours.to - line.staffing[0].hours.from, 8 * 3600);
  EXPECT_TRUE(s->surges.empty());
  EXPECT_TRUE(s->reinforcements.empty());
}

TEST(ScenarioTest, MinimalScenarioGetsDefaults) {
  absl::StatusOr<Scenario> s = ParseScenarioYaml(kMinimal, "minimal.yaml");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->timezone, "Europe/London");
  EXPECT_EQ(s->days, 1);
  const LineSpec& line = s->lines[0];
  EXPECT_EQ(line.hours.days[0].size(), 1u);  // Monday 08:30-17:30
  EXPECT_EQ(line.hours.days[0][0].from, 8 * 3600 + 1800);
  EXPECT_TRUE(line.hours.days[5].empty());  // closed at weekends
  EXPECT_EQ(line.talk.kind, Distribution::Kind::kLogNormal);
}

TEST(ScenarioTest, UnknownTopLevelKey) {
  std::string yaml = kMinimal;
  yaml += "colour: blue\n";
  EXPECT_THAT(Error(yaml), HasSubstr("bad.yaml:8: colour: unknown key"));
}

TEST(ScenarioTest, UnknownNestedKeys) {
  const std::string yaml = R"(lines:
  revenues:
    calls_per_day: 100
    talk: {distribution: exponential, mean: 200s}
    patiense: {distribution: exponential, mean: 100s}
    staffing:
      - {from: "08:30", to: "17:30", agents: 3, agnets: 4}
)";
  const std::string message = Error(yaml);
  EXPECT_THAT(message, HasSubstr("bad.yaml:5: lines.revenues.patiense: unknown key"));
  EXPECT_THAT(message, HasSubstr("bad.yaml:7: lines.revenues.staffing[0].agnets: unknown key"));
}

TEST(ScenarioTest, NegativeRates) {
  std::string yaml = kMinimal;
  yaml.replace(yaml.find("calls_per_day: 100"), 18, "calls_per_day: -5");
  EXPECT_THAT(Error(yaml),
              HasSubstr("bad.yaml:5: lines.revenues.calls_per_day: must not be negative (got -5)"));

  const std::string surge =
      std::string(kMinimal) +
      "surges:\n"
      "  - {line: revenues, from: \"09:00\", to: \"10:00\", multiplier: -2}\n";
  EXPECT_THAT(Error(surge), HasSubstr("bad.yaml:9: surges[0].multiplier: must not be negative"));

  const std::string per_hour = R"(lines:
  revenues:
    calls_per_hour: -360
    staffing: []
)";
  EXPECT_THAT(Error(per_hour), HasSubstr("bad.yaml:3: lines.revenues.calls_per_hour: must not"));
}

TEST(ScenarioTest, SchedulesOutsideADay) {
  std::string yaml = kMinimal;
  yaml.replace(yaml.find("\"17:30\""), 7, "\"25:00\"");
  EXPECT_THAT(Error(yaml),
              HasSubstr("bad.yaml:7: lines.revenues.staffing[0].to: time of day outside a day"));

  yaml = kMinimal;
  yaml.replace(yaml.find("\"17:30\""), 7, "\"07:00\"");
  EXPECT_THAT(Error(yaml), HasSubstr("bad.yaml:7: lines.revenues.staffing[0].to: must be after"));

  const std::string hours = R"(defaults:
  opening_hours:
    weekly:
      - {days: [mon], open: "17:30", close: "08:30"}
lines:
  revenues:
    calls_per_day: 10
    staffing: []
)";
  EXPECT_THAT(Error(hours),
              HasSubstr("bad.yaml:4: defaults.opening_hours.weekly[0].close: must be after open"));

  const std::string bad_format = std::string(kMinimal) +
                                 "surges:\n"
                                 "  - {line: revenues, from: \"9am\", to: \"10:00\", "
                                 "multiplier: 2}\n";
  EXPECT_THAT(Error(bad_format), HasSubstr("bad.yaml:9: surges[0].from: expected a local time"));

  const std::string late_help = std::string(kMinimal) +
                                "reinforcements:\n"
                                "  - {line: revenues, at: \"22:00\", eta: 30m, duration: 4h, "
                                "agents: 2, origin: back_office}\n";
  EXPECT_THAT(Error(late_help), HasSubstr("bad.yaml:9: reinforcements[0].duration: at + eta"));

  const std::string bad_break = R"(lines:
  revenues:
    calls_per_day: 10
    staffing:
      - from: "08:30"
        to: "12:00"
        agents: 2
        break: {from: "11:00", to: "13:00", length: 30m}
)";
  EXPECT_THAT(Error(bad_break),
              HasSubstr("bad.yaml:8: lines.revenues.staffing[0].break: break window must lie"));
}

TEST(ScenarioTest, BadDistributions) {
  auto with_talk = [](const std::string& talk) {
    return absl::StrCat("lines:\n  revenues:\n    calls_per_day: 10\n    talk: ", talk,
                        "\n    staffing: []\n");
  };
  EXPECT_THAT(Error(with_talk("{distribution: gamma, mean: 10s}")),
              HasSubstr("bad.yaml:4: lines.revenues.talk.distribution: unknown distribution "
                        "\"gamma\""));
  EXPECT_THAT(Error(with_talk("{distribution: lognormal, mean: 300s}")),
              HasSubstr("bad.yaml:4: lines.revenues.talk.sd: missing"));
  EXPECT_THAT(Error(with_talk("{distribution: exponential, mean: 300s, sd: 20s}")),
              HasSubstr("bad.yaml:4: lines.revenues.talk.sd: unknown key"));
  EXPECT_THAT(Error(with_talk("{distribution: exponential, mean: 300}")),
              HasSubstr("lines.revenues.talk.mean: expected a duration"));
  EXPECT_THAT(Error(with_talk("{distribution: exponential, mean: -3s}")),
              HasSubstr("lines.revenues.talk.mean: must not be negative"));
  EXPECT_THAT(Error(with_talk("{distribution: exponential, mean: 0s}")),
              HasSubstr("lines.revenues.talk.mean: must be positive"));
  EXPECT_THAT(Error(with_talk("{distribution: uniform, min: 20s, max: 10s}")),
              HasSubstr("lines.revenues.talk.max: must not be below min"));
  EXPECT_THAT(Error(with_talk("{mean: 3s}")),
              HasSubstr("lines.revenues.talk.distribution: missing"));
  EXPECT_THAT(Error(with_talk("[1, 2]")),
              HasSubstr("lines.revenues.talk: expected a distribution"));
}

TEST(ScenarioTest, OtherSemanticErrors) {
  const std::string probability = std::string(R"(lines:
  revenues:
    calls_per_day: 10
    callback: {offer_after: 120s, uptake: 1.5}
    staffing: []
)");
  EXPECT_THAT(Error(probability),
              HasSubstr("bad.yaml:4: lines.revenues.callback.uptake: must be a probability"));

  const std::string unknown_line = std::string(kMinimal) +
                                   "surges:\n"
                                   "  - {line: parking, from: \"09:00\", to: \"10:00\", "
                                   "multiplier: 2}\n";
  EXPECT_THAT(Error(unknown_line),
              HasSubstr("bad.yaml:9: surges[0].line: unknown line \"parking\""));

  const std::string origin = std::string(kMinimal) +
                             "reinforcements:\n"
                             "  - {line: revenues, at: \"10:00\", duration: 2h, agents: 2, "
                             "origin: volunteers}\n";
  EXPECT_THAT(Error(origin), HasSubstr("bad.yaml:9: reinforcements[0].origin: unknown origin"));

  const std::string both = R"(lines:
  revenues:
    calls_per_day: 10
    calls_per_hour: 3
    staffing: []
)";
  EXPECT_THAT(Error(both), HasSubstr("bad.yaml:3: lines.revenues: needs exactly one of"));

  const std::string no_staff = "lines:\n  revenues:\n    calls_per_day: 10\n";
  EXPECT_THAT(Error(no_staff), HasSubstr("lines.revenues.staffing: missing"));

  EXPECT_THAT(Error("name: x\n"), HasSubstr("bad.yaml:1: lines: missing"));
  EXPECT_THAT(Error(std::string(kMinimal) + "timezone: Mars/Olympus\n"),
              HasSubstr("bad.yaml:8: timezone: unknown time zone"));
  EXPECT_THAT(Error(std::string(kMinimal) + "days: 0\n"),
              HasSubstr("bad.yaml:8: days: must be in"));
  EXPECT_THAT(Error(std::string(kMinimal) + "name: twice\n"),
              HasSubstr("bad.yaml:8: name: duplicate key"));
  EXPECT_THAT(Error("lines: [\n"), HasSubstr("YAML syntax error"));
  EXPECT_THAT(Error(""), HasSubstr("empty"));

  const std::string bad_id = "lines:\n  Revenues Line:\n    calls_per_day: 10\n    staffing: []\n";
  EXPECT_THAT(Error(bad_id), HasSubstr("bad.yaml:2: lines.Revenues Line: line ids use"));
}

TEST(ScenarioTest, ReportsEveryProblem) {
  const std::string yaml = R"(lines:
  revenues:
    calls_per_day: -1
    talk: {distribution: gamma}
    staffing:
      - {from: "08:30", to: "24:30", agents: 3}
)";
  const std::string message = Error(yaml);
  EXPECT_THAT(message, HasSubstr("bad.yaml:3: lines.revenues.calls_per_day"));
  EXPECT_THAT(message, HasSubstr("bad.yaml:4: lines.revenues.talk.distribution"));
  EXPECT_THAT(message, HasSubstr("bad.yaml:6: lines.revenues.staffing[0].to"));
}

// Demand is capped at kMaxCallsPerLineDay expected calls a line a day, after
// day_of_week and surges: beyond it arrival rates overflow (a surge of
// 1e308 made the simulation hang, writing calls forever at one instant).
TEST(ScenarioTest, DemandBeyondTheDailyCapIsRejected) {
  const std::string summons = std::string(kMinimal) +
                              "surges:\n"
                              "  - {line: revenues, from: \"09:00\", to: \"10:00\", "
                              "multiplier: 1e308}\n";
  EXPECT_THAT(Error(summons),
              HasSubstr("bad.yaml:9: surges[0].multiplier: gives line revenues inf expected calls "
                        "on day 1 (2022-10-03, a mon, volume x day_of_week x the surges of the "
                        "day); must be at most 10000000 a line a day"));
  // Surges multiply: two that are each fine are not fine together; the
  // larger is blamed. A surge of one day is checked for that day.
  const std::string stacked = std::string(kMinimal) +
                              "days: 2\n"
                              "surges:\n"
                              "  - {line: revenues, from: \"09:00\", to: \"10:00\", "
                              "multiplier: 5000}\n"
                              "  - {line: revenues, day: 2, from: \"09:00\", to: \"12:00\", "
                              "multiplier: 9000}\n";
  EXPECT_THAT(Error(stacked), HasSubstr("bad.yaml:11: surges[1].multiplier: gives line revenues "));
  EXPECT_THAT(Error(stacked), HasSubstr("expected calls on day 2 (2022-10-04, a tue, "));

  std::string volume = kMinimal;
  volume.replace(volume.find("calls_per_day: 100"), 18, "calls_per_day: 2e7");
  EXPECT_THAT(Error(volume), HasSubstr("bad.yaml:5: lines.revenues.calls_per_day: gives 2e+07 "
                                       "expected calls on day 1 (2022-10-03, a mon, with "
                                       "day_of_week.mon); must be at most 10000000 a line a day"));
  const std::string day_of_week = R"(days: 2
lines:
  revenues:
    calls_per_hour: 1850
    day_of_week: {tue: 1e308}
    staffing: []
)";
  EXPECT_THAT(Error(day_of_week),
              HasSubstr("bad.yaml:4: lines.revenues.calls_per_hour: gives inf expected calls on "
                        "day 2 (2022-10-04, a tue, with day_of_week.tue)"));

  // At the cap, and a surge that keeps the day within it, are fine.
  std::string at_cap = kMinimal;
  at_cap.replace(at_cap.find("calls_per_day: 100"), 18, "calls_per_day: 1e7");
  EXPECT_TRUE(ParseScenarioYaml(at_cap, "ok.yaml").ok());
  const std::string small_surge = std::string(kMinimal) +
                                  "surges:\n"
                                  "  - {line: revenues, from: \"09:00\", to: \"10:00\", "
                                  "multiplier: 9000}\n";
  EXPECT_TRUE(ParseScenarioYaml(small_surge, "ok.yaml").ok());
}

// The cap holds on exactly the days the run simulates: a Saturday volume or
// a day-2 surge that would be too big on some other weekday does not make a
// Monday-Tuesday run invalid (they were checked against every weekday), but
// a start date that makes them real is refused, naming the field and day.
constexpr char kWeekdayExtremes[] = R"(date: 2022-10-03
days: 2
lines:
  revenues:
    calls_per_day: 1000
    day_of_week: {mon: 12, sat: 20000}
    opening_hours:
      weekly: [{days: [mon, tue, wed, thu, fri, sat], open: "08:30", close: "17:30"}]
    staffing: []
surges:
  - {line: revenues, day: 2, from: "09:00", to: "10:00", multiplier: 9000}
)";

TEST(ScenarioTest, DailyCapChecksExactlyTheDaysOfTheRun) {
  absl::StatusOr<Scenario> s = ParseScenarioYaml(kWeekdayExtremes, "ok.yaml");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(CheckRun(*s, s->date).ok());
  // From a Sunday, day 2 is a Monday: x12, then the surge.
  EXPECT_EQ(std::string(CheckRun(*s, absl::CivilDay(2022, 10, 9)).message()),
            kDailyCapMondaySurgeError);
  // From a Saturday, day 1 alone is too big (one problem per line).
  EXPECT_EQ(std::string(CheckRun(*s, absl::CivilDay(2022, 10, 8)).message()),
            "lines.revenues.calls_per_day: gives 2e+07 expected calls on day 1 (2022-10-08, a sat, "
            "with day_of_week.sat); must be at most 10000000 a line a day");
  // The scenario's own date is held to the same, with the YAML line.
  std::string sunday = kWeekdayExtremes;
  sunday.replace(sunday.find("2022-10-03"), 10, "2022-10-09");
  EXPECT_EQ(Error(sunday), absl::StrCat("bad.yaml:11: ", kDailyCapMondaySurgeError));
}

// Intraday weights are relative, but a huge one made the day's weight
// integral infinite and the line silently got no calls.
TEST(ScenarioTest, HugeIntradayWeightsAreRejected) {
  const std::string yaml = R"(lines:
  revenues:
    calls_per_day: 1850
    intraday:
      - {from: "08:30", weight: 1e305}
      - {from: "12:00", weight: 1}
    staffing: []
)";
  EXPECT_THAT(Error(yaml), HasSubstr("bad.yaml:5: lines.revenues.intraday[0].weight: must be at "
                                     "most 1000000 (weights are relative; got 1e305)"));
}

// Durations that become an event's wait, talk or wrap are at most 7 days,
// the events contract's limit (a 366-day talk was accepted and written as a
// completed.talk the validator refuses); the others at most 366 days:
// beyond ~2.5e12 hours the simulator's milliseconds overflowed.
TEST(ScenarioTest, DurationsAreCapped) {
  auto with = [](const std::string& settings) {
    return absl::StrCat("lines:\n  revenues:\n    calls_per_day: 10\n", settings,
                        "    staffing: []\n");
  };
  const std::string huge = "2500000000000h";
  const std::string limit =
      "must be at most 7 days (the events contract's limit on wait, talk "
      "and wrap)";
  EXPECT_EQ(Error(with("    talk: " + huge + "\n")),
            "bad.yaml:4: lines.revenues.talk: " + limit + " (got 2500000000000h)");
  EXPECT_EQ(Error(with("    talk: 169h\n")),
            "bad.yaml:4: lines.revenues.talk: " + limit + " (got 169h)");
  EXPECT_EQ(Error(with("    wrap: {distribution: uniform, min: 1s, max: 168h1s}\n")),
            "bad.yaml:4: lines.revenues.wrap.max: " + limit + " (got 168h1s)");
  EXPECT_EQ(Error(with("    patience: {distribution: exponential, mean: 169h}\n")),
            "bad.yaml:4: lines.revenues.patience.mean: " + limit + " (got 169h)");
  EXPECT_EQ(Error(with("    callback: {offer_after: 169h, uptake: 0.5}\n")),
            "bad.yaml:4: lines.revenues.callback.offer_after: " + limit + " (got 169h)");
  EXPECT_EQ(Error(with("    queue_timeout: 169h\n")),
            "bad.yaml:4: lines.revenues.queue_timeout: " + limit + " (got 169h)");
  EXPECT_EQ(Error(with("    ivr_abandon: {share: 0.5, from: 1s, to: 169h}\n")),
            "bad.yaml:4: lines.revenues.ivr_abandon.to: " + limit + " (got 169h)");
  EXPECT_EQ(Error(with("    repeat: {share: 0.5, delay: " + huge + "}\n")),
            "bad.yaml:4: lines.revenues.repeat.delay: must be at most 366 days (got " + huge + ")");
  // 7 days (366 for a repeat delay) exactly is allowed.
  EXPECT_TRUE(ParseScenarioYaml(with("    talk: 168h\n    wrap: 168h\n    patience: 168h\n"
                                     "    queue_timeout: 168h\n"),
                                "ok.yaml")
                  .ok());
  EXPECT_TRUE(ParseScenarioYaml(with("    repeat: {share: 0.5, delay: 8784h}\n"), "ok.yaml").ok());
}

// Every event the run could write must have an event_time the events
// contract accepts, [2000-01-01, 2100-01-01) UTC: from the first opening or
// shift start to the last closing or shift end plus the longest wait, talk
// and wrap. Here those are 10m, 5m and 1m, so the edges are exact to the
// minute, east and west of UTC (a fixed day to spare refused these).
std::string Edges(const std::string& date, const std::string& zone, const std::string& open,
                  const std::string& close) {
  return absl::StrCat("date: ", date, "\ntimezone: ", zone, R"(
lines:
  revenues:
    calls_per_day: 100
    opening_hours:
      weekly: [{days: [mon, tue, wed, thu, fri, sat, sun], open: ")",
                      open, R"(", close: ")", close, R"("}]
    talk: 5m
    wrap: 1m
    patience: 10m
    staffing:
      - {from: ")",
                      open, R"(", to: ")", close, R"(", agents: 3}
)");
}

TEST(ScenarioTest, RunMustFitTheEventTimeRangeExactly) {
  const std::string fits = "events' event_time range [2000-01-01, 2100-01-01) UTC: ";
  // West: 15:43 PST + 16m is 23:59 UTC on the last day of 2099.
  EXPECT_TRUE(
      ParseScenarioYaml(Edges("2099-12-31", "America/Los_Angeles", "08:00", "15:43"), "ok.yaml")
          .ok());
  EXPECT_EQ(Error(Edges("2099-12-31", "America/Los_Angeles", "08:00", "15:44")),
            "bad.yaml:1: date: 2099-12-31 for 1 day in America/Los_Angeles does not fit the " +
                fits +
                "the last event could be at 2100-01-01T00:00:00Z (the last closing, shift or "
                "reinforcement end of line revenues, 2099-12-31T23:44:00Z, plus its longest "
                "wait, talk and wrap, 16m)");
  // ... and 16:00 PST on 1999-12-31 is the first moment of 2000 in UTC.
  EXPECT_TRUE(
      ParseScenarioYaml(Edges("1999-12-31", "America/Los_Angeles", "16:00", "20:00"), "ok.yaml")
          .ok());
  EXPECT_EQ(Error(Edges("1999-12-31", "America/Los_Angeles", "15:59", "20:00")),
            "bad.yaml:1: date: 1999-12-31 for 1 day in America/Los_Angeles does not fit the " +
                fits +
                "the first event could be at 1999-12-31T23:59:00Z (the first opening, shift "
                "start or reinforcement login)");
  // East: Auckland (UTC+13 in summer) starts 2000 at 13:00 local, and its
  // 2100-01-01 morning is still 2099 in UTC.
  EXPECT_TRUE(
      ParseScenarioYaml(Edges("2000-01-01", "Pacific/Auckland", "13:00", "17:30"), "ok.yaml").ok());
  EXPECT_EQ(Error(Edges("2000-01-01", "Pacific/Auckland", "12:59", "17:30")),
            "bad.yaml:1: date: 2000-01-01 for 1 day in Pacific/Auckland does not fit the " + fits +
                "the first event could be at 1999-12-31T23:59:00Z (the first opening, shift "
                "start or reinforcement login)");
  EXPECT_TRUE(
      ParseScenarioYaml(Edges("2100-01-01", "Pacific/Auckland", "08:00", "12:43"), "ok.yaml").ok());
  EXPECT_EQ(Error(Edges("2100-01-01", "Pacific/Auckland", "08:00", "12:44")),
            "bad.yaml:1: date: 2100-01-01 for 1 day in Pacific/Auckland does not fit the " + fits +
                "the last event could be at 2100-01-01T00:00:00Z (the last closing, shift or "
                "reinforcement end of line revenues, 2099-12-31T23:44:00Z, plus its longest "
                "wait, talk and wrap, 16m)");
  // A fixed offset (UTC-5), and too many days blamed on `days`.
  EXPECT_TRUE(
      ParseScenarioYaml(Edges("2099-12-31", "Etc/GMT+5", "10:00", "18:43"), "ok.yaml").ok());
  EXPECT_EQ(Error(Edges("2099-12-30", "Etc/GMT+5", "10:00", "18:44") + "days: 2\n"),
            "bad.yaml:13: days: 2099-12-30 for 2 days in Etc/GMT+5 does not fit the " + fits +
                "the last event could be at 2100-01-01T00:00:00Z (the last closing, shift or "
                "reinforcement end of line revenues, 2099-12-31T23:44:00Z, plus its longest "
                "wait, talk and wrap, 16m)");
}

// The longest wait, talk and wrap are the scenario's: 7 days each for the
// default (unbounded) lognormals, so the last London weekday that fits is
// 2099-12-10; a day that closes nothing (a Saturday) writes nothing.
TEST(ScenarioTest, RunMustFitTheEventTimeRange) {
  auto with_date = [](const std::string& date, const std::string& extra = "") {
    std::string yaml = kMinimal;
    yaml.replace(yaml.find("2022-10-03"), 10, date);
    return yaml + extra;
  };
  EXPECT_TRUE(ParseScenarioYaml(with_date("2099-12-10"), "ok.yaml").ok());
  EXPECT_EQ(Error(with_date("2099-12-11")),
            "bad.yaml:2: date: 2099-12-11 for 1 day in Europe/London does not fit the events' "
            "event_time range [2000-01-01, 2100-01-01) UTC: the last event could be at "
            "2100-01-01T17:30:00Z (the last closing, shift or reinforcement end of line "
            "revenues, 2099-12-11T17:30:00Z, plus its longest wait, talk and wrap, 504h)");
  EXPECT_THAT(Error(with_date("2099-12-10", "days: 2\n")),
              HasSubstr("bad.yaml:8: days: 2099-12-10 for 2 days in Europe/London does not fit"));
  EXPECT_THAT(Error(with_date("1999-12-31")), HasSubstr("bad.yaml:2: date: 1999-12-31 for 1 day"));
  EXPECT_TRUE(ParseScenarioYaml(with_date("2000-01-03"), "ok.yaml").ok());
  EXPECT_TRUE(ParseScenarioYaml(with_date("2100-01-02"), "ok.yaml").ok());  // a Saturday
}

// tide-sim --respond-to acknowledges a call-up with the reinforcement's
// agents as headcount, which the engine caps at 1000.
TEST(ScenarioTest, ReinforcementsAreCappedAtTheAcknowledgeLimit) {
  auto with_agents = [](int agents) {
    return absl::StrCat(kMinimal, "reinforcements:\n  - {line: revenues, at: \"10:00\", ",
                        "duration: 2h, agents: ", agents, ", origin: back_office}\n");
  };
  EXPECT_THAT(Error(with_agents(1001)),
              HasSubstr("bad.yaml:9: reinforcements[0].agents: must be in [1, 1000] (got 1001)"));
  EXPECT_TRUE(ParseScenarioYaml(with_agents(1000), "ok.yaml").ok());
}

TEST(ScenarioTest, MissingFile) {
  absl::StatusOr<Scenario> s = LoadScenarioFile("/nonexistent/scenario.yaml");
  EXPECT_EQ(s.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace tidewatch::sim
