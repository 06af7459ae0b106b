// Scenario loading: the shipped scenarios load, and bad scenarios are
// rejected with messages naming the file, the YAML line and the field path.
#include "sim/scenario.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tidewatch::sim {
namespace {

using ::testing::HasSubstr;

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
                        "on a mon"));
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
  EXPECT_THAT(Error(stacked), HasSubstr("expected calls on day 2 if it is a mon"));

  std::string volume = kMinimal;
  volume.replace(volume.find("calls_per_day: 100"), 18, "calls_per_day: 2e7");
  EXPECT_THAT(Error(volume), HasSubstr("bad.yaml:5: lines.revenues.calls_per_day: gives 2e+07 "
                                       "expected calls on a mon (with day_of_week.mon); must be "
                                       "at most 10000000 a line a day"));
  const std::string day_of_week = R"(lines:
  revenues:
    calls_per_hour: 1850
    day_of_week: {tue: 1e308}
    staffing: []
)";
  EXPECT_THAT(Error(day_of_week),
              HasSubstr("bad.yaml:3: lines.revenues.calls_per_hour: gives inf expected calls on a "
                        "tue"));

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

// Every duration is at most 366 days: beyond ~2.5e12 hours the simulator's
// milliseconds overflowed (undefined behaviour; time could run backwards).
TEST(ScenarioTest, DurationsAreCapped) {
  auto with = [](const std::string& settings) {
    return absl::StrCat("lines:\n  revenues:\n    calls_per_day: 10\n", settings,
                        "    staffing: []\n");
  };
  const std::string huge = "2500000000000h";
  EXPECT_THAT(Error(with("    talk: " + huge + "\n")),
              HasSubstr("bad.yaml:4: lines.revenues.talk: must be at most 366 days (got "
                        "2500000000000h)"));
  EXPECT_THAT(Error(with("    wrap: 8785h\n")),
              HasSubstr("bad.yaml:4: lines.revenues.wrap: must be at most 366 days"));
  EXPECT_THAT(Error(with("    patience: {distribution: exponential, mean: " + huge + "}\n")),
              HasSubstr("bad.yaml:4: lines.revenues.patience.mean: must be at most 366 days"));
  EXPECT_THAT(Error(with("    callback: {offer_after: " + huge + ", uptake: 0.5}\n")),
              HasSubstr("bad.yaml:4: lines.revenues.callback.offer_after: must be at most"));
  EXPECT_THAT(Error(with("    queue_timeout: " + huge + "\n")),
              HasSubstr("bad.yaml:4: lines.revenues.queue_timeout: must be at most"));
  EXPECT_THAT(Error(with("    repeat: {share: 0.5, delay: " + huge + "}\n")),
              HasSubstr("bad.yaml:4: lines.revenues.repeat.delay: must be at most"));
  EXPECT_THAT(Error(with("    ivr_abandon: {share: 0.5, from: 1s, to: " + huge + "}\n")),
              HasSubstr("bad.yaml:4: lines.revenues.ivr_abandon.to: must be at most"));
  // 366 days exactly is allowed.
  EXPECT_TRUE(ParseScenarioYaml(with("    repeat: {share: 0.5, delay: 8784h}\n"), "ok.yaml").ok());
}

// The run (with a day to spare for calls still in progress) must write
// event times the events contract accepts: [2000-01-01, 2100-01-01) UTC.
TEST(ScenarioTest, RunMustFitTheEventTimeRange) {
  auto with_date = [](const std::string& date, const std::string& extra = "") {
    std::string yaml = kMinimal;
    yaml.replace(yaml.find("2022-10-03"), 10, date);
    return yaml + extra;
  };
  EXPECT_THAT(Error(with_date("2099-12-31")),
              HasSubstr("bad.yaml:2: date: 2099-12-31 for 1 day in Europe/London does not fit "
                        "the events' event_time range [2000-01-01, 2100-01-01) UTC"));
  EXPECT_THAT(Error(with_date("2099-12-30", "days: 2\n")),
              HasSubstr("bad.yaml:8: days: 2099-12-30 for 2 days in Europe/London does not fit"));
  EXPECT_THAT(Error(with_date("1999-12-31")), HasSubstr("bad.yaml:2: date: 1999-12-31 for 1 day"));
  // Local midnight in Tokyo on 2000-01-01 is still 1999 in UTC.
  EXPECT_THAT(Error(with_date("2000-01-01", "timezone: Asia/Tokyo\n")),
              HasSubstr("bad.yaml:2: date: 2000-01-01 for 1 day in Asia/Tokyo does not fit"));
  EXPECT_TRUE(ParseScenarioYaml(with_date("2000-01-01"), "ok.yaml").ok());
  EXPECT_TRUE(ParseScenarioYaml(with_date("2099-12-30"), "ok.yaml").ok());
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
