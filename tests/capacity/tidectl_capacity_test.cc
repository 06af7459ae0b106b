// Runs the real tidectl binary: `tidectl capacity ...` must print what
// libs/capacity computes, in the documented JSON shape, and fail with exit
// code 2 and a message naming the flag on bad input.
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <regex>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "capacity/erlang.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tidewatch::capacity {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct Result {
  int exit_code = -1;
  std::string out;  // stdout, plus stderr when merged
};

// Runs `tidectl capacity <flags>`; stderr is merged into `out` when asked,
// otherwise discarded.
Result Tidectl(const std::string& flags, bool merge_stderr = false) {
  const std::string command =
      absl::StrCat(TIDEWATCH_BINARY_DIR, "/services/tidectl/tidectl capacity ", flags,
                   merge_stderr ? " 2>&1" : " 2>/dev/null");
  Result r;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) r.out.append(buf, n);
  const int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// The raw text of a top-level key's value in a flat JSON object.
std::optional<std::string> RawValue(const std::string& json, const std::string& key) {
  const std::string quoted = absl::StrCat("\"", key, "\":");
  const size_t at = json.find(quoted);
  if (at == std::string::npos) return std::nullopt;
  const size_t start = at + quoted.size();
  const size_t end = json.find_first_of(",}", start);
  return json.substr(start, end - start);
}

double Number(const std::string& json, const std::string& key) {
  std::optional<std::string> raw = RawValue(json, key);
  double v;
  if (!raw || !absl::SimpleAtod(*raw, &v)) {
    ADD_FAILURE() << "no number for " << key << " in " << json;
    return -1;
  }
  return v;
}

TEST(TidectlCapacityTest, ErlangCJsonMatchesLibrary) {
  const Result r =
      Tidectl("--arrivals-per-hour 200 --aht 180s --agents 12 --target 20s --format json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  // Exactly the documented keys, in order, one line; no p_abandon for Erlang C.
  EXPECT_TRUE(
      std::regex_match(r.out, std::regex(R"(\{"p_wait":[0-9.]+,"mean_wait_seconds":[0-9.]+,)"
                                         R"("service_level":[0-9.]+,"agents_needed":[0-9]+\}\n)")))
      << r.out;
  const QueueParams q{.arrivals_per_second = 200.0 / 3600,
                      .mean_handle_seconds = 180,
                      .agents = 12,
                      .mean_patience_seconds = std::nullopt};
  const QueueMetrics m = *Evaluate(q, 20);
  EXPECT_NEAR(Number(r.out, "p_wait"), m.p_wait, 1e-6);
  EXPECT_NEAR(Number(r.out, "mean_wait_seconds"), m.mean_wait_seconds, 1e-3);
  EXPECT_NEAR(Number(r.out, "service_level"), m.service_level, 1e-6);
  // Call Centre Helper's worked example: 14 agents for 80% in 20 s.
  EXPECT_EQ(Number(r.out, "agents_needed"), 14);
  EXPECT_EQ(Number(r.out, "agents_needed"),
            *AgentsNeeded(q, StaffingTarget{.answer_within_seconds = 20}, kMaxAgents));
}

TEST(TidectlCapacityTest, ErlangAJsonMatchesLibrary) {
  const Result r = Tidectl(
      "--arrivals-per-hour 120 --aht 240s --agents 8 --patience 2m --target 180s "
      "--sl 0.9 --max-abandon 0.05 --format json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(
      std::regex_match(r.out, std::regex(R"(\{"p_wait":[0-9.]+,"mean_wait_seconds":[0-9.]+,)"
                                         R"("p_abandon":[0-9.]+,"service_level":[0-9.]+,)"
                                         R"("agents_needed":[0-9]+\}\n)")))
      << r.out;
  const QueueParams q{.arrivals_per_second = 120.0 / 3600,
                      .mean_handle_seconds = 240,
                      .agents = 8,
                      .mean_patience_seconds = 120};
  const QueueMetrics m = *Evaluate(q, 180);
  EXPECT_NEAR(Number(r.out, "p_wait"), m.p_wait, 1e-6);
  EXPECT_NEAR(Number(r.out, "mean_wait_seconds"), m.mean_wait_seconds, 1e-3);
  EXPECT_NEAR(Number(r.out, "p_abandon"), m.p_abandon, 1e-6);
  EXPECT_NEAR(Number(r.out, "service_level"), m.service_level, 1e-6);
  EXPECT_EQ(
      Number(r.out, "agents_needed"),
      *AgentsNeeded(q, StaffingTarget{.service_level = 0.9, .max_abandon = 0.05}, kMaxAgents));
}

TEST(TidectlCapacityTest, DefaultsAndPlainSeconds) {
  // --target defaults to 180s, --sl to 0.8, --max-abandon to 0.1; a bare
  // number is seconds.
  const Result a =
      Tidectl("--arrivals-per-hour 90 --aht 300 --agents 9 --patience 60 --format json");
  const Result b = Tidectl(
      "--arrivals-per-hour=90 --aht=5m --agents=9 --patience=1m --target=3m --sl=0.8 "
      "--max-abandon=0.1 --format=json");
  ASSERT_EQ(a.exit_code, 0) << a.out;
  EXPECT_EQ(a.out, b.out);
  const QueueParams q{.arrivals_per_second = 90.0 / 3600,
                      .mean_handle_seconds = 300,
                      .agents = 9,
                      .mean_patience_seconds = 60};
  EXPECT_NEAR(Number(a.out, "service_level"), Evaluate(q, 180)->service_level, 1e-6);
  EXPECT_EQ(Number(a.out, "agents_needed"), *AgentsNeeded(q, StaffingTarget{}, kMaxAgents));
}

TEST(TidectlCapacityTest, UnstableErlangCHasNullWait) {
  const Result r = Tidectl("--arrivals-per-hour 600 --aht 240s --agents 40 --format json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(RawValue(r.out, "mean_wait_seconds"), "null");
  EXPECT_EQ(Number(r.out, "p_wait"), 1);
  EXPECT_EQ(Number(r.out, "service_level"), 0);
  EXPECT_GT(Number(r.out, "agents_needed"), 40);
}

TEST(TidectlCapacityTest, TableIsTheDefaultFormat) {
  const Result r = Tidectl("--arrivals-per-hour 120 --aht 4m --agents 9 --patience 2m");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("Erlang A"));
  EXPECT_THAT(r.out, HasSubstr("P(abandon)"));
  EXPECT_THAT(r.out, HasSubstr("agents needed"));
  EXPECT_THAT(r.out, Not(HasSubstr("{")));
}

TEST(TidectlCapacityTest, HelpExitsZero) {
  const Result r = Tidectl("--help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("--arrivals-per-hour"));
  EXPECT_THAT(r.out, HasSubstr("--max-abandon"));
}

TEST(TidectlCapacityTest, UsageErrorsExitTwoAndNameTheFlag) {
  struct Case {
    const char* flags;
    const char* message;
  };
  for (const Case& c : {
           Case{"--aht 240s --agents 3", "--arrivals-per-hour is required"},
           Case{"--arrivals-per-hour 60 --agents 3", "--aht is required"},
           Case{"--arrivals-per-hour 60 --aht 240s", "--agents is required"},
           Case{"--arrivals-per-hour lots --aht 240s --agents 3", "--arrivals-per-hour"},
           Case{"--arrivals-per-hour -5 --aht 240s --agents 3", "--arrivals-per-hour"},
           Case{"--arrivals-per-hour 60 --aht soon --agents 3", "--aht"},
           Case{"--arrivals-per-hour 60 --aht 0s --agents 3", "--aht"},
           Case{"--arrivals-per-hour 60 --aht 240s --agents 2.5", "--agents"},
           Case{"--arrivals-per-hour 60 --aht 240s --agents -1", "--agents"},
           Case{"--arrivals-per-hour 60 --aht 240s --agents 3 --patience 0s", "--patience"},
           Case{"--arrivals-per-hour 60 --aht 240s --agents 3 --target -3s", "--target"},
           Case{"--arrivals-per-hour 60 --aht 240s --agents 3 --sl 1.5", "--sl"},
           Case{"--arrivals-per-hour 60 --aht 240s --agents 3 --max-abandon 0", "--max-abandon"},
           Case{"--arrivals-per-hour 60 --aht 240s --agents 3 --format xml", "--format"},
           Case{"--arrivals-per-hour 60 --aht 240s --agents 3 --colour", "--colour"},
           Case{"--arrivals-per-hour 60 --aht 240s --agents 3 extra", "extra"},
           Case{"--arrivals-per-hour 3600 --aht 240s --agents 3 --patience 1e12", "patience"},
       }) {
    const Result r = Tidectl(c.flags, /*merge_stderr=*/true);
    EXPECT_EQ(r.exit_code, 2) << c.flags << "\n" << r.out;
    EXPECT_THAT(r.out, HasSubstr(c.message)) << c.flags;
  }
}

}  // namespace
}  // namespace tidewatch::capacity
