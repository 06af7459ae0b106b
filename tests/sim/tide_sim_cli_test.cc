// The tide-sim binary: byte-identical files per seed, the summary file,
// usage errors (--brokers, bad scenarios, bad flags).
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scenario_snippets.h"

namespace {

using ::testing::HasSubstr;
using ::tidewatch::sim::testing::kDailyCapMondaySurgeError;
using ::tidewatch::sim::testing::kDailyCapScenario;

const std::string kBinary = absl::StrCat(TIDEWATCH_BINARY_DIR, "/services/tide-sim/tide-sim");
const std::string kScenarios = absl::StrCat(TIDEWATCH_SOURCE_DIR, "/deploy/scenarios/");

struct Result {
  int exit_code = -1;
  std::string err;
};

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

Result RunTideSim(const std::string& args) {
  const std::string err_path = absl::StrCat(::testing::TempDir(), "/tide-sim-stderr.txt");
  const std::string cmd = absl::StrCat(kBinary, " ", args, " 2>", err_path);
  const int status = std::system(cmd.c_str());
  Result r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = Slurp(err_path);
  return r;
}

std::string Tmp(const std::string& name) { return absl::StrCat(::testing::TempDir(), "/", name); }

TEST(TideSimCliTest, SameSeedSameFileDifferentSeedDifferentFile) {
  const std::string scenario = kScenarios + "council-tax-summons.yaml";
  for (const char* out : {"a.jsonl", "b.jsonl"}) {
    const Result r = RunTideSim(absl::StrCat("--scenario ", scenario, " --seed 5 --out ", Tmp(out),
                                             " --summary ", Tmp("summary.json")));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_THAT(r.err, HasSubstr("revenues"));  // the table on stderr
  }
  ASSERT_EQ(RunTideSim(absl::StrCat("--scenario ", scenario, " --seed 6 --out ", Tmp("c.jsonl")))
                .exit_code,
            0);
  const std::string a = Slurp(Tmp("a.jsonl")), b = Slurp(Tmp("b.jsonl")), c = Slurp(Tmp("c.jsonl"));
  EXPECT_GT(a.size(), 1000000u);
  EXPECT_TRUE(a == b);
  EXPECT_FALSE(a == c);

  // The summary counts the same events as the file holds.
  const std::string summary = Slurp(Tmp("summary.json"));
  const int lines = static_cast<int>(std::count(a.begin(), a.end(), '\n'));
  EXPECT_THAT(summary, HasSubstr(absl::StrCat("\"events\": ", lines, ",")));
  EXPECT_THAT(summary, HasSubstr("\"seed\": 5,"));
  const std::string first = a.substr(0, a.find('\n'));
  EXPECT_THAT(first, HasSubstr("\"eventId\":\"sim-5-20221003-0\""));
  EXPECT_THAT(first, HasSubstr("\"source\":\"tide-sim\""));
}

TEST(TideSimCliTest, StartDateOverride) {
  const Result r = RunTideSim(absl::StrCat("--scenario ", kScenarios,
                                           "stationary-erlang-a.yaml --start-date 2022-11-08 ",
                                           "--out ", Tmp("d.jsonl")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string d = Slurp(Tmp("d.jsonl"));
  EXPECT_THAT(d.substr(0, d.find('\n')), HasSubstr("\"eventTime\":\"2022-11-08T08:30:00Z\""));
}

// Kafka output (--brokers) is exercised by tests/integration (tide-sim
// feeding tidewatchd through the development broker).

TEST(TideSimCliTest, BadScenarioIsRejectedWithItsPath) {
  const std::string path = Tmp("bad-scenario.yaml");
  {
    std::ofstream out(path);
    out << "lines:\n  revenues:\n    calls_per_day: -3\n    staffing: []\n";
  }
  const Result r = RunTideSim(absl::StrCat("--scenario ", path, " --out ", Tmp("e.jsonl")));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("bad-scenario.yaml:3: lines.revenues.calls_per_day"));
}

TEST(TideSimCliTest, UsageErrors) {
  EXPECT_EQ(RunTideSim("--out /dev/null").exit_code, 2);  // no --scenario
  const Result speed = RunTideSim(
      absl::StrCat("--scenario ", kScenarios, "normal-monday.yaml --speed fast --out /dev/null"));
  EXPECT_EQ(speed.exit_code, 2);
  EXPECT_THAT(speed.err, HasSubstr("--speed"));
  const Result date = RunTideSim(absl::StrCat(
      "--scenario ", kScenarios, "normal-monday.yaml --start-date 3/10/2022 --out /dev/null"));
  EXPECT_EQ(date.exit_code, 2);
  EXPECT_THAT(date.err, HasSubstr("--start-date"));
}

// --start-date is held to the same range as the scenario's date: the events
// contract accepts event times in [2000-01-01, 2100-01-01) only.
TEST(TideSimCliTest, StartDateMustKeepEventsInTheContractRange) {
  for (const char* date : {"2099-12-31", "1999-12-31"}) {
    SCOPED_TRACE(date);
    const Result r =
        RunTideSim(absl::StrCat("--scenario ", kScenarios, "stationary-erlang-a.yaml --start-date ",
                                date, " --out ", Tmp("f.jsonl")));
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_THAT(r.err, HasSubstr(absl::StrCat("--start-date: ", date,
                                              " for 1 day in "
                                              "Europe/London does not fit the events' event_time "
                                              "range")));
  }
}

// --start-date is also held to the expected-calls cap on the days it
// simulates: here day 2 becomes a Monday (x12) with its surge.
TEST(TideSimCliTest, StartDateIsHeldToTheDailyCap) {
  const std::string path = Tmp("cap.yaml");
  std::ofstream(path) << kDailyCapScenario;
  const Result r = RunTideSim(
      absl::StrCat("--scenario ", path, " --start-date 2022-10-09 --out ", Tmp("cap.jsonl")));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, absl::StrCat("tide-sim: --start-date: ", kDailyCapMondaySurgeError, "\n"));
}

TEST(TideSimCliTest, AcceleratedPacingWritesTheSameEvents) {
  // A tiny scenario at 100,000x real time still writes exactly what the
  // unpaced run writes.
  const std::string path = Tmp("tiny.yaml");
  {
    std::ofstream out(path);
    out << "lines:\n  waste:\n    calls_per_hour: 20\n    staffing:\n"
           "      - {from: \"08:30\", to: \"09:30\", agents: 1}\n"
           "    opening_hours:\n      weekly:\n"
           "        - {days: [mon], open: \"08:30\", close: \"09:00\"}\n";
  }
  ASSERT_EQ(RunTideSim(absl::StrCat("--scenario ", path, " --speed 100000 --out ", Tmp("p.jsonl")))
                .exit_code,
            0);
  ASSERT_EQ(RunTideSim(absl::StrCat("--scenario ", path, " --out ", Tmp("q.jsonl"))).exit_code, 0);
  EXPECT_EQ(Slurp(Tmp("p.jsonl")), Slurp(Tmp("q.jsonl")));
}

}  // namespace
