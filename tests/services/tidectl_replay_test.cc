// tidectl replay as a user runs it: JSON output values, bad records counted
// and skipped, byte-identical runs, policy errors, the what-if comparison.
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct Result {
  int exit_code = -1;
  std::string out;
};

Result Tidectl(const std::string& args) {
  std::string cmd = absl::StrCat(TIDEWATCH_BINARY_DIR, "/services/tidectl/tidectl ", args, " 2>&1");
  Result r;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string TempFile(const std::string& name, const std::string& content) {
  std::string path = absl::StrCat(::testing::TempDir(), "/", name);
  std::ofstream(path) << content;
  return path;
}

// Monday 2022-10-03, 09:00 UTC (10:00 BST): lines are open.
std::string Ev(int id, const std::string& line, const std::string& call, const std::string& time,
               const std::string& kind) {
  return absl::StrFormat(
      R"({"eventId":"e%d","lineId":"%s","callId":"%s","eventTime":"2022-10-03T%sZ",%s})", id, line,
      call, time, kind);
}

std::string SmallDay() {
  std::string s;
  s += Ev(1, "revenues", "c1", "09:00:00", R"("queued":{"callerKey":"k1"})") + "\n";
  s += Ev(2, "revenues", "c2", "09:00:10", R"("queued":{"callerKey":"k2"})") + "\n";
  s += Ev(3, "revenues", "c1", "09:01:00", R"("answered":{"agentId":"a1"})") + "\n";
  s += "{not json\n";
  s += Ev(4, "revenues", "c2", "09:00:40", R"("abandoned":{"wait":"30s"})") + "\n";
  s += Ev(3, "revenues", "c1", "09:01:00", R"("answered":{"agentId":"a1"})") + "\n";  // duplicate
  s += Ev(5, "parking", "c9", "09:01:00", R"("queued":{})") + "\n";  // unknown line
  s += R"({"eventId":"e6","callId":"c3","eventTime":"2022-10-03T09:02:00Z","queued":{}})"
       "\n";
  s += Ev(7, "waste", "w1", "09:02:00", R"("queued":{})") + "\n";
  s += Ev(8, "waste", "w1", "09:02:03", R"("abandoned":{"wait":"3s"})") + "\n";
  return s;
}

TEST(TidectlReplayTest, JsonTotalsAndRejects) {
  std::string events = TempFile("small.jsonl", SmallDay());
  Result r = Tidectl(absl::StrCat("replay --events ", events, " --format json --quiet"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(
      r.out,
      HasSubstr(
          R"("revenues":{"offered":2,"answered":1,"abandoned":1,"short_abandoned":0,"answer_rate":0.5,"abandon_rate":0.5,"service_level":0.5,"asa_seconds":60,"avg_wait_seconds":45,"max_wait_seconds":60,)"));
  EXPECT_THAT(
      r.out,
      HasSubstr(
          R"("waste":{"offered":1,"answered":0,"abandoned":1,"short_abandoned":1,"answer_rate":0,"avg_wait_seconds":3,"max_wait_seconds":3,)"));
  // Empty denominators: abandon_rate and service_level absent for waste.
  EXPECT_THAT(r.out, Not(HasSubstr(R"("short_abandoned":1,"answer_rate":0,"abandon_rate")")));
  EXPECT_THAT(
      r.out,
      HasSubstr(R"("rejected":{"bad_json":1,"duplicate":1,"missing_line_id":1,"unknown_line":1})"));
}

TEST(TidectlReplayTest, BadRecordsAreNamedWithTheirLineNumbers) {
  std::string events = TempFile("small2.jsonl", SmallDay());
  Result r = Tidectl(absl::StrCat("replay --events ", events));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("small2.jsonl:4: "));
  EXPECT_THAT(r.out, HasSubstr("small2.jsonl:8: "));
  EXPECT_THAT(r.out, HasSubstr("line_id"));
  EXPECT_THAT(r.out, HasSubstr("Per-line totals"));
  EXPECT_THAT(r.out, HasSubstr("Escalation timeline"));
}

TEST(TidectlReplayTest, OutputIsByteIdenticalRunToRun) {
  std::string day;
  for (int i = 0; i < 3000; ++i) {
    int s = i * 7;
    std::string t = absl::StrFormat("%02d:%02d:%02d", 9 + s / 3600, (s / 60) % 60, s % 60);
    day += Ev(2 * i, "revenues", absl::StrCat("c", i), t, R"("queued":{})") + "\n";
    int s2 = s + 400 + (i % 13) * 30;
    std::string t2 = absl::StrFormat("%02d:%02d:%02d", 9 + s2 / 3600, (s2 / 60) % 60, s2 % 60);
    day += Ev(2 * i + 1, "revenues", absl::StrCat("c", i), t2, R"("answered":{})") + "\n";
  }
  std::string events = TempFile("long.jsonl", day);
  std::string args = absl::StrCat("replay --events ", events,
                                  " --format json --snapshot-every 30m --windows 15m,60m");
  Result a = Tidectl(args), b = Tidectl(args);
  ASSERT_EQ(a.exit_code, 0) << a.out;
  EXPECT_EQ(a.out, b.out);
  // Waits of 400+ s push revenues up the tide.
  EXPECT_THAT(a.out, HasSubstr(R"("from_tier":0,"to_tier":1)"));
  EXPECT_THAT(a.out, HasSubstr(R"("window":"60m")"));
  EXPECT_THAT(a.out,
              HasSubstr(R"("time":"2022-10-03T09:30:00Z","line":"revenues","window":"15m")"));
}

TEST(TidectlReplayTest, InvalidPolicyIsRefusedWithPathAndLine) {
  std::string events = TempFile("p.jsonl", SmallDay());
  std::string policy = TempFile("bad.yaml", "name: x\nwindowz: [5m]\nlines: {revenues: {}}\n");
  Result r = Tidectl(absl::StrCat("replay --events ", events, " --policy ", policy));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("bad.yaml:2:"));
  EXPECT_THAT(r.out, HasSubstr("windowz"));
}

TEST(TidectlReplayTest, UsageErrors) {
  EXPECT_EQ(Tidectl("replay").exit_code, 2);
  EXPECT_EQ(Tidectl("replay --events x --format xml").exit_code, 2);
  EXPECT_EQ(Tidectl("replay --events x --frobnicate").exit_code, 2);
  Result missing = Tidectl("replay --events /nonexistent/day.jsonl");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.out, HasSubstr("/nonexistent/day.jsonl"));
  EXPECT_EQ(Tidectl("nonsense").exit_code, 2);
}

TEST(TidectlReplayTest, ComparePolicyShowsBothSides) {
  std::string day;
  for (int i = 0; i < 600; ++i) {
    int s = i * 5;
    std::string t = absl::StrFormat("%02d:%02d:%02d", 9 + s / 3600, (s / 60) % 60, s % 60);
    day += Ev(2 * i, "revenues", absl::StrCat("c", i), t, R"("queued":{})") + "\n";
    int s2 = s + 300;
    std::string t2 = absl::StrFormat("%02d:%02d:%02d", 9 + s2 / 3600, (s2 / 60) % 60, s2 % 60);
    day += Ev(2 * i + 1, "revenues", absl::StrCat("c", i), t2, R"("answered":{})") + "\n";
  }
  std::string events = TempFile("cmp.jsonl", day);
  // B: tier 1 must hold for 10 hours, so it never triggers on this hour.
  std::ifstream in(std::string(TIDEWATCH_SOURCE_DIR) + "/deploy/policy/default.yaml");
  std::string strict((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t pos = strict.find("sustain: 2m");
  ASSERT_NE(pos, std::string::npos);
  strict.replace(pos, 11, "sustain: 10h");
  std::string b = TempFile("strict.yaml", strict);
  Result r =
      Tidectl(absl::StrCat("replay --events ", events, " --compare-policy ", b, " --format json"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr(R"("a":{"policy":"embedded default policy","escalations":[{)"));
  EXPECT_THAT(r.out, HasSubstr(R"("b":{"policy":")"));
  EXPECT_THAT(r.out, HasSubstr(R"("escalations":[],"callups":[],"rejected":{)"));
  Result table = Tidectl(absl::StrCat("replay --events ", events, " --compare-policy ", b));
  EXPECT_THAT(table.out, HasSubstr("0 -> 1"));
  EXPECT_THAT(table.out, HasSubstr("B 0 changes"));
}

// A tier held for five minutes with nobody acknowledging: the call-up is
// re-paged to the second contact after 1m, then expires after 2m. That is one
// call-up with three updates, not three call-ups.
TEST(TidectlReplayTest, RepagedCallUpIsOneCallUpAndItsExpiryIsShown) {
  std::string policy = TempFile("repage.yaml", R"(name: repage
windows: [5m, 15m]
defaults:
  opening_hours: {always: true}
  tiers:
    - level: 1
      name: someone waiting
      enter: {any: [{metric: longest_waiting, above: 30s}]}
      sustain: 0s
      exit: {all: [{metric: longest_waiting, below: 10s}]}
      min_hold: 0s
      callups: [{team: ops, headcount: 2, duration: 1h}]
teams:
  ops:
    ack_timeout: 1m
    rota: [{name: First, contact: first}, {name: Second, contact: second}]
lines:
  revenues: {}
)");
  std::string day;
  day += Ev(1, "revenues", "c1", "09:00:00", R"("queued":{})") + "\n";
  day += Ev(2, "revenues", "c1", "09:06:00", R"("answered":{})") + "\n";
  std::string events = TempFile("repage.jsonl", day);
  const std::string base = absl::StrCat("replay --quiet --events ", events, " --policy ", policy);

  Result table = Tidectl(base);
  ASSERT_EQ(table.exit_code, 0) << table.out;
  size_t first = table.out.find("call-up:");
  ASSERT_NE(first, std::string::npos) << table.out;
  EXPECT_EQ(table.out.find("call-up:", first + 1), std::string::npos) << table.out;
  EXPECT_THAT(table.out, HasSubstr("paged First")) << table.out;

  Result json = Tidectl(base + " --format json");
  ASSERT_EQ(json.exit_code, 0) << json.out;
  EXPECT_THAT(json.out, HasSubstr(R"("state":"paged","paged_contact":"First")"));
  EXPECT_THAT(json.out, HasSubstr(R"("state":"paged","paged_contact":"Second")"));
  EXPECT_THAT(json.out, HasSubstr(R"("state":"expired","paged_contact":"Second")"));

  Result compare = Tidectl(absl::StrCat(base, " --compare-policy ", policy));
  ASSERT_EQ(compare.exit_code, 0) << compare.out;
  EXPECT_THAT(compare.out, HasSubstr("A 2 changes, 1 call-ups; B 2 changes, 1 call-ups"))
      << compare.out;
}

// A candidate policy that misspells a line id sets that line's events aside:
// the comparison says so instead of showing a calmer day.
TEST(TidectlReplayTest, ComparePolicyShowsSetAsideAndLinesOnlyOnePolicyKnows) {
  std::ifstream in(std::string(TIDEWATCH_SOURCE_DIR) + "/deploy/policy/default.yaml");
  std::string yaml((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string a = TempFile("lines_a.yaml", yaml);
  size_t pos = yaml.find("\n  revenues:");
  ASSERT_NE(pos, std::string::npos);
  yaml.replace(pos, 12, "\n  revenue:");
  std::string b = TempFile("lines_b.yaml", yaml);
  std::string events = TempFile("lines.jsonl", SmallDay());
  const std::string base =
      absl::StrCat("replay --quiet --events ", events, " --policy ", a, " --compare-policy ", b);

  Result table = Tidectl(base);
  ASSERT_EQ(table.exit_code, 0) << table.out;
  EXPECT_THAT(table.out, HasSubstr(absl::StrCat("Set aside: B = ", b, "\n")));
  // A: the parking event; B: that and revenues' five (a duplicate included:
  // an unknown line's events are not deduplicated).
  EXPECT_THAT(table.out, HasSubstr(absl::StrFormat("  %-20s %d\n", "unknown_line", 1)));
  EXPECT_THAT(table.out, HasSubstr(absl::StrFormat("  %-20s %d\n", "unknown_line", 6)));
  EXPECT_THAT(table.out,
              HasSubstr("warning: line revenues is in A's policy but not B's: B set aside its "
                        "5 events as unknown_line"))
      << table.out;
  EXPECT_THAT(table.out, HasSubstr("warning: line revenue is in B's policy but not A's"));

  Result json = Tidectl(base + " --format json");
  ASSERT_EQ(json.exit_code, 0) << json.out;
  EXPECT_THAT(json.out, HasSubstr(R"("missing_line_id":1,"unknown_line":6})"));
  EXPECT_THAT(json.out, HasSubstr(R"("warnings":["line revenues is in A's policy but not B's)"));
}

// Flags are named; a stray word (a file given without --events) is refused
// rather than silently ignored.
TEST(TidectlReplayTest, PositionalArgumentsAreRefused) {
  std::string events = TempFile("pos.jsonl", SmallDay());
  Result r = Tidectl(absl::StrCat("replay --quiet stray.jsonl --events ", events));
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("stray.jsonl"));
}

}  // namespace
