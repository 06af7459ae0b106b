// Tests for libs/telemetry's MetricsExporter: every metric's name, type,
// help text and label names against the documented table (and against
// docs/metrics.md), undefined ratios absent (never NaN or 0), the line cap
// keeping surging lines, call-up ages, the exposition's size for 500 lines
// under the documented bound, and `promtool check metrics` on the output.
#include "telemetry/metrics_exporter.h"

#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "policy/policy.h"

namespace tidewatch::telemetry {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAreArray;

// Every metric family the exporter may emit: type and label names (the le
// and quantile labels of histograms are the serializer's).
struct Expected {
  std::string type;
  std::set<std::string> labels;
};
const std::map<std::string, Expected>& ExpectedFamilies() {
  static const auto* families = new std::map<std::string, Expected>{
      {"tidewatch_build_info", {"gauge", {"version", "policy"}}},
      {"tidewatch_started", {"gauge", {}}},
      {"tidewatch_healthy", {"gauge", {}}},
      {"tidewatch_ready", {"gauge", {}}},
      {"tidewatch_partitions_owned", {"gauge", {}}},
      {"tidewatch_partitions_recovering", {"gauge", {}}},
      {"tidewatch_events_consumed_total", {"counter", {}}},
      {"tidewatch_events_applied_total", {"counter", {}}},
      {"tidewatch_commands_consumed_total", {"counter", {}}},
      {"tidewatch_events_rejected_total", {"counter", {"reason"}}},
      {"tidewatch_events_late_total", {"counter", {}}},
      {"tidewatch_dead_lettered_total", {"counter", {}}},
      {"tidewatch_escalations_produced_total", {"counter", {}}},
      {"tidewatch_state_records_produced_total", {"counter", {}}},
      {"tidewatch_delivery_errors_total", {"counter", {}}},
      {"tidewatch_commits_total", {"counter", {}}},
      {"tidewatch_commit_failures_total", {"counter", {}}},
      {"tidewatch_recoveries_total", {"counter", {}}},
      {"tidewatch_recovery_seconds", {"gauge", {}}},
      {"tidewatch_consumer_lag", {"gauge", {"topic", "partition"}}},
      {"tidewatch_kafka_brokers_down", {"gauge", {"client"}}},
      {"tidewatch_last_error_timestamp_seconds", {"gauge", {}}},
      {"tidewatch_engine_batch_seconds", {"histogram", {}}},
      {"tidewatch_metrics_lines_exported", {"gauge", {}}},
      {"tidewatch_metrics_lines_dropped", {"gauge", {}}},
      {"tidewatch_line_tide_level", {"gauge", {"line"}}},
      {"tidewatch_line_calls_waiting", {"gauge", {"line"}}},
      {"tidewatch_line_longest_wait_seconds", {"gauge", {"line"}}},
      {"tidewatch_line_agents", {"gauge", {"line", "state", "origin"}}},
      {"tidewatch_line_feed_stale", {"gauge", {"line"}}},
      {"tidewatch_line_recovering", {"gauge", {"line"}}},
      {"tidewatch_line_open", {"gauge", {"line"}}},
      {"tidewatch_line_last_event_timestamp_seconds", {"gauge", {"line"}}},
      {"tidewatch_line_offered_total", {"counter", {"line"}}},
      {"tidewatch_line_answered_total", {"counter", {"line"}}},
      {"tidewatch_line_abandoned_total", {"counter", {"line"}}},
      {"tidewatch_line_callbacks_total", {"counter", {"line"}}},
      {"tidewatch_line_capacity_agents_staffed", {"gauge", {"line"}}},
      {"tidewatch_line_capacity_agents_needed", {"gauge", {"line"}}},
      {"tidewatch_line_capacity_gap", {"gauge", {"line"}}},
      {"tidewatch_line_capacity_predicted_wait_seconds", {"gauge", {"line"}}},
      {"tidewatch_window_offered", {"gauge", {"line", "window"}}},
      {"tidewatch_window_answered", {"gauge", {"line", "window"}}},
      {"tidewatch_window_abandoned", {"gauge", {"line", "window"}}},
      {"tidewatch_window_callbacks", {"gauge", {"line", "window"}}},
      {"tidewatch_window_answer_ratio", {"gauge", {"line", "window"}}},
      {"tidewatch_window_abandon_ratio", {"gauge", {"line", "window"}}},
      {"tidewatch_window_service_level_ratio", {"gauge", {"line", "window"}}},
      {"tidewatch_window_asa_seconds", {"gauge", {"line", "window"}}},
      {"tidewatch_window_avg_wait_seconds", {"gauge", {"line", "window"}}},
      {"tidewatch_window_max_wait_seconds", {"gauge", {"line", "window"}}},
      {"tidewatch_window_wait_seconds", {"gauge", {"line", "window", "quantile"}}},
      {"tidewatch_callups_open", {"gauge", {"line", "team", "state"}}},
      {"tidewatch_callups_headcount", {"gauge", {"line", "team", "state"}}},
      {"tidewatch_callup_unacknowledged_age_seconds", {"gauge", {"line", "team"}}},
      {"tidewatch_team_ack_timeout_seconds", {"gauge", {"team"}}},
  };
  return *families;
}

// One sample of the exposition.
struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  std::string value;
};

// A parsed exposition (the subset the serializer writes: no escapes in our
// label values, no timestamps).
struct Exposition {
  std::map<std::string, std::string> help;
  std::map<std::string, std::string> type;
  std::vector<Sample> samples;
  std::vector<std::string> errors;

  std::vector<const Sample*> Find(const std::string& name,
                                  const std::map<std::string, std::string>& match = {}) const {
    std::vector<const Sample*> out;
    for (const Sample& s : samples) {
      if (s.name != name) continue;
      bool ok = true;
      for (const auto& [k, v] : match) {
        auto it = s.labels.find(k);
        ok = ok && it != s.labels.end() && it->second == v;
      }
      if (ok) out.push_back(&s);
    }
    return out;
  }
  double Value(const std::string& name,
               const std::map<std::string, std::string>& match = {}) const {
    std::vector<const Sample*> found = Find(name, match);
    if (found.size() != 1) return -12345;
    double v = 0;
    return absl::SimpleAtod(found[0]->value, &v) ? v : -12345;
  }
};

Exposition Parse(const std::string& text) {
  Exposition e;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (absl::ConsumePrefix(&line, "# HELP ")) {
      std::pair<std::string, std::string> p = absl::StrSplit(line, absl::MaxSplits(' ', 1));
      e.help[p.first] = p.second;
      continue;
    }
    if (absl::ConsumePrefix(&line, "# TYPE ")) {
      std::pair<std::string, std::string> p = absl::StrSplit(line, absl::MaxSplits(' ', 1));
      e.type[p.first] = p.second;
      continue;
    }
    Sample s;
    const size_t brace = line.find('{');
    const size_t space = line.rfind(' ');
    if (space == absl::string_view::npos) {
      e.errors.push_back(std::string(line));
      continue;
    }
    s.value = std::string(line.substr(space + 1));
    if (brace != absl::string_view::npos && brace < space) {
      s.name = std::string(line.substr(0, brace));
      const size_t close = line.rfind('}');
      absl::string_view labels = line.substr(brace + 1, close - brace - 1);
      for (absl::string_view kv : absl::StrSplit(labels, "\",", absl::SkipEmpty())) {
        std::pair<std::string, std::string> p = absl::StrSplit(kv, absl::MaxSplits('=', 1));
        std::string v = p.second;
        if (!v.empty() && v.front() == '"') v.erase(0, 1);
        if (!v.empty() && v.back() == '"') v.pop_back();
        s.labels[p.first] = v;
      }
    } else {
      s.name = std::string(line.substr(0, space));
    }
    e.samples.push_back(std::move(s));
  }
  return e;
}

std::shared_ptr<const policy::CompiledPolicy> DefaultPolicy() {
  absl::StatusOr<policy::CompiledPolicy> p =
      policy::LoadPolicyYaml(policy::DefaultPolicyYaml(), "default.yaml");
  EXPECT_TRUE(p.ok()) << p.status();
  return std::make_shared<const policy::CompiledPolicy>(*std::move(p));
}

// A Monday 09:30 London (08:30 UTC): inside opening hours.
const absl::Time kNow = absl::FromUnixSeconds(1664785800);

google::protobuf::Timestamp Ts(absl::Time t) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
  return ts;
}

// KPIs with every field defined, as in a busy window.
tidewatch::v1::Kpis BusyKpis(int64_t scale) {
  tidewatch::v1::Kpis k;
  k.set_offered(120 * scale);
  k.set_answered(95 * scale);
  k.set_abandoned(17 * scale);
  k.set_short_abandoned(2 * scale);
  k.set_callbacks(4 * scale);
  k.set_left_queue(1);
  k.set_completed(80 * scale);
  k.set_answer_rate(0.8482142857142857);
  k.set_abandon_rate(0.13636363636363635);
  k.set_service_level(0.6545454545454545);
  k.set_asa_seconds(212.43708609271524);
  k.set_avg_wait_seconds(233.91071428571428);
  k.set_max_wait_seconds(1134.527);
  k.set_p50_wait_seconds(181.21393872617188);
  k.set_p90_wait_seconds(514.3312784957885);
  k.set_p95_wait_seconds(701.0251283747123);
  k.set_arrivals_per_minute(8.0);
  k.set_mean_handle_seconds(352.85714285714283);
  return k;
}

stream::LineStatus BusyLine(const std::string& id, int level) {
  stream::LineStatus l;
  l.line_id = id;
  l.partition = 3;
  l.tide.level = level;
  l.tide.tier = level > 0 ? "CSC reserves" : "";
  l.totals = BusyKpis(10);
  for (int minutes : {5, 15, 60}) {
    l.windows.emplace_back(absl::Minutes(minutes), BusyKpis(minutes / 5));
  }
  l.calls_waiting = 23;
  l.longest_waiting = absl::Seconds(611.25);
  l.agents.n[tidewatch::v1::AGENT_STATUS_ON_CALL][tidewatch::v1::AGENT_ORIGIN_CSC] = 12;
  l.agents.n[tidewatch::v1::AGENT_STATUS_AVAILABLE][tidewatch::v1::AGENT_ORIGIN_CSC] = 1;
  l.agents.n[tidewatch::v1::AGENT_STATUS_ON_CALL][tidewatch::v1::AGENT_ORIGIN_BACK_OFFICE] = 3;
  l.capacity.staffed_agents = 16;
  l.capacity.enough_data = true;
  l.capacity.agents_needed = 19;
  l.capacity.gap = 3;
  l.capacity.predicted_wait_seconds = 412.5;
  l.last_event = kNow - absl::Seconds(2);
  l.engine_time = kNow;
  return l;
}

tidewatch::v1::CallUp CallUp(const std::string& line, const std::string& team,
                             tidewatch::v1::CallUpState state, int headcount, absl::Time created) {
  tidewatch::v1::CallUp c;
  c.set_id(absl::StrCat(line, "/t2/20221003T080000Z/1/", team));
  c.set_line_id(line);
  c.set_team_id(team);
  c.set_state(state);
  c.set_headcount(headcount);
  *c.mutable_created() = Ts(created);
  *c.mutable_updated() = Ts(created);
  return c;
}

stream::StreamStatus BusyStatus() {
  stream::StreamStatus s;
  s.started = true;
  s.ready = true;
  s.partitions = {0, 1, 2, 3};
  s.records_consumed = 1000;
  s.commands_consumed = 10;
  s.events_applied = 985;
  s.rejected = {{"bad_protobuf", 5}, {"late", 7}, {"duplicate", 2}};
  s.dead_lettered = 5;
  s.escalations_produced = 12;
  s.commits = 40;
  s.recoveries = 4;
  s.last_recovery = absl::Milliseconds(1250);
  s.lag = {{"telephony.call-events", 0, 500, 512, 12},
           {"telephony.call-events", 1, kafka::kOffsetInvalid, -1, -1},
           {"tidewatch.commands", 0, 3, 3, 0}};
  s.batch_latency.Record(absl::Microseconds(300));
  s.batch_latency.Record(absl::Milliseconds(3));
  s.batch_latency.Record(absl::Seconds(2));
  return s;
}

TEST(MetricsExporterTest, EveryFamilyHasTheDocumentedNameTypeHelpAndLabels) {
  auto policy = DefaultPolicy();
  MetricsExporter exporter(policy, {});
  stream::LineStatus rev = BusyLine("revenues", 2);
  rev.open_callups = {
      CallUp("revenues", "revenues-back-office", tidewatch::v1::CALL_UP_STATE_PAGED, 4,
             kNow - absl::Minutes(12)),
      CallUp("revenues", "senior-managers", tidewatch::v1::CALL_UP_STATE_ACKNOWLEDGED, 1,
             kNow - absl::Minutes(12))};
  stream::StreamStatus status = BusyStatus();
  status.last_error_time = kNow;
  const std::string text = exporter.Render(status, {rev, BusyLine("waste", 0)});
  const Exposition e = Parse(text);
  ASSERT_THAT(e.errors, IsEmpty());

  // Every documented family is present with its type and a help text.
  std::set<std::string> documented;
  for (const auto& [name, want] : ExpectedFamilies()) {
    documented.insert(name);
    SCOPED_TRACE(name);
    ASSERT_TRUE(e.type.count(name)) << "missing # TYPE";
    EXPECT_EQ(e.type.at(name), want.type);
    ASSERT_TRUE(e.help.count(name)) << "missing # HELP";
    EXPECT_GE(e.help.at(name).size(), 20u) << "help too short: " << e.help.at(name);
  }
  // ... and nothing undocumented.
  std::set<std::string> emitted;
  for (const auto& [name, type] : e.type) emitted.insert(name);
  EXPECT_EQ(emitted, documented);

  // Every sample belongs to a declared family and carries exactly its labels.
  for (const Sample& s : e.samples) {
    SCOPED_TRACE(s.name);
    std::string family = s.name;
    std::set<std::string> extra;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string base = s.name.substr(0, s.name.size() - std::string(suffix).size());
      if (absl::EndsWith(s.name, suffix) && e.type.count(base) && e.type.at(base) == "histogram") {
        family = base;
        if (std::string(suffix) == "_bucket") extra.insert("le");
      }
    }
    ASSERT_TRUE(ExpectedFamilies().count(family)) << "undeclared sample";
    std::set<std::string> want = ExpectedFamilies().at(family).labels;
    want.insert(extra.begin(), extra.end());
    std::set<std::string> got;
    for (const auto& [k, v] : s.labels) got.insert(k);
    EXPECT_EQ(got, want);
    const std::string value = absl::AsciiStrToLower(s.value);
    EXPECT_FALSE(absl::StrContains(value, "nan")) << s.value;
    if (!extra.count("le")) {
      EXPECT_FALSE(absl::StrContains(value, "inf")) << s.value;
    }
  }

  // Spot values.
  EXPECT_EQ(e.Value("tidewatch_line_tide_level", {{"line", "revenues"}}), 2);
  EXPECT_EQ(e.Value("tidewatch_line_longest_wait_seconds", {{"line", "revenues"}}), 611.25);
  EXPECT_EQ(e.Value("tidewatch_line_agents",
                    {{"line", "revenues"}, {"state", "on_call"}, {"origin", "back_office"}}),
            3);
  EXPECT_EQ(e.Find("tidewatch_line_agents", {{"line", "revenues"}}).size(), 16u);
  EXPECT_EQ(e.Value("tidewatch_line_open", {{"line", "revenues"}}), 1);
  // 16 significant digits in the text format.
  EXPECT_NEAR(e.Value("tidewatch_window_abandon_ratio", {{"line", "revenues"}, {"window", "15m"}}),
              0.13636363636363635, 1e-15);
  EXPECT_EQ(e.Find("tidewatch_window_wait_seconds", {{"line", "waste"}, {"window", "60m"}}).size(),
            3u);
  EXPECT_EQ(e.Value("tidewatch_events_consumed_total"), 990);
  EXPECT_EQ(e.Value("tidewatch_events_rejected_total", {{"reason", "bad_protobuf"}}), 5);
  EXPECT_EQ(e.Value("tidewatch_events_rejected_total", {{"reason", "orphan"}}), 0);
  EXPECT_TRUE(e.Find("tidewatch_events_rejected_total", {{"reason", "late"}}).empty());
  EXPECT_EQ(e.Value("tidewatch_events_late_total"), 7);
  EXPECT_EQ(e.Value("tidewatch_recovery_seconds"), 1.25);
  EXPECT_EQ(
      e.Value("tidewatch_consumer_lag", {{"topic", "telephony.call-events"}, {"partition", "0"}}),
      12);
  EXPECT_EQ(e.Find("tidewatch_consumer_lag").size(), 2u) << "unknown lag is left out";
  EXPECT_EQ(e.Value("tidewatch_engine_batch_seconds_count"), 3);
  EXPECT_EQ(e.Value("tidewatch_engine_batch_seconds_bucket", {{"le", "0.005"}}), 2);
  EXPECT_EQ(e.Value("tidewatch_engine_batch_seconds_bucket", {{"le", "+Inf"}}), 3);
  EXPECT_EQ(e.Value("tidewatch_callups_open",
                    {{"line", "revenues"}, {"team", "revenues-back-office"}, {"state", "paged"}}),
            1);
  EXPECT_EQ(e.Value("tidewatch_callups_headcount",
                    {{"line", "revenues"}, {"team", "revenues-back-office"}, {"state", "paged"}}),
            4);
  EXPECT_EQ(e.Value("tidewatch_callups_open",
                    {{"line", "revenues"}, {"team", "senior-managers"}, {"state", "acknowledged"}}),
            1);
  EXPECT_EQ(e.Value("tidewatch_callup_unacknowledged_age_seconds",
                    {{"line", "revenues"}, {"team", "revenues-back-office"}}),
            720);
  EXPECT_TRUE(
      e.Find("tidewatch_callup_unacknowledged_age_seconds", {{"team", "senior-managers"}}).empty())
      << "an acknowledged call-up has no unacknowledged age";
  EXPECT_EQ(e.Value("tidewatch_team_ack_timeout_seconds", {{"team", "revenues-back-office"}}), 600);
  EXPECT_EQ(e.Find("tidewatch_build_info").size(), 1u);
  EXPECT_EQ(e.Find("tidewatch_build_info")[0]->labels.at("policy"), "Default council policy");
}

// tidewatchd's exporter asks for the policy in force at each scrape: a live
// version that adds a team (or changes a timeout) is in the next scrape, so
// the unacknowledged-call-up alert has its team's timeout to compare with.
TEST(MetricsExporterTest, EachScrapeUsesThePolicyInForce) {
  std::shared_ptr<const policy::CompiledPolicy> in_force = DefaultPolicy();
  MetricsExporter exporter(MetricsExporter::PolicySource([&in_force] { return in_force; }), {});
  Exposition e = Parse(exporter.Render(BusyStatus(), {}));
  EXPECT_EQ(e.Value("tidewatch_team_ack_timeout_seconds", {{"team", "revenues-back-office"}}), 600);
  EXPECT_TRUE(e.Find("tidewatch_team_ack_timeout_seconds", {{"team", "out-of-hours"}}).empty());

  std::string yaml(policy::DefaultPolicyYaml());
  const size_t teams = yaml.find("\nteams:\n");
  ASSERT_NE(teams, std::string::npos);
  yaml.insert(teams + 8,
              "  out-of-hours:\n    ack_timeout: 7m\n    rota: [{name: Duty, contact: duty}]\n");
  absl::StatusOr<policy::CompiledPolicy> next = policy::LoadPolicyYaml(yaml, "v2.yaml");
  ASSERT_TRUE(next.ok()) << next.status();
  in_force = std::make_shared<const policy::CompiledPolicy>(*std::move(next));
  e = Parse(exporter.Render(BusyStatus(), {}));
  EXPECT_EQ(e.Value("tidewatch_team_ack_timeout_seconds", {{"team", "out-of-hours"}}), 420);
}

TEST(MetricsExporterTest, EveryFamilyIsInDocsMetricsMd) {
  std::ifstream in(std::string(TIDEWATCH_SOURCE_DIR) + "/docs/metrics.md");
  ASSERT_TRUE(in.good());
  std::stringstream doc;
  doc << in.rdbuf();
  for (const auto& [name, want] : ExpectedFamilies()) {
    EXPECT_TRUE(absl::StrContains(doc.str(), absl::StrCat("`", name, "`"))) << name;
  }
}

TEST(MetricsExporterTest, UndefinedRatiosAndMeansAreAbsentNotZeroOrNaN) {
  MetricsExporter exporter(DefaultPolicy(), {});
  stream::LineStatus quiet;
  quiet.line_id = "housing";
  for (int minutes : {5, 15, 60}) {
    tidewatch::v1::Kpis k;
    k.set_offered(minutes == 60 ? 2 : 0);  // queued, nothing ended yet
    quiet.windows.emplace_back(absl::Minutes(minutes), k);
  }
  const Exposition e = Parse(exporter.Render(stream::StreamStatus{}, {quiet}));
  for (const char* absent :
       {"tidewatch_window_answer_ratio", "tidewatch_window_abandon_ratio",
        "tidewatch_window_service_level_ratio", "tidewatch_window_asa_seconds",
        "tidewatch_window_avg_wait_seconds", "tidewatch_window_max_wait_seconds",
        "tidewatch_window_wait_seconds", "tidewatch_line_capacity_agents_needed",
        "tidewatch_line_capacity_gap", "tidewatch_line_capacity_predicted_wait_seconds",
        "tidewatch_line_last_event_timestamp_seconds", "tidewatch_line_open",
        "tidewatch_recovery_seconds", "tidewatch_last_error_timestamp_seconds"}) {
    EXPECT_THAT(e.Find(absent), IsEmpty()) << absent;
    EXPECT_FALSE(e.type.count(absent)) << absent << ": a family with no sample is left out";
  }
  EXPECT_EQ(e.Value("tidewatch_window_offered", {{"line", "housing"}, {"window", "60m"}}), 2);
  EXPECT_EQ(e.Value("tidewatch_window_offered", {{"line", "housing"}, {"window", "5m"}}), 0);
  EXPECT_EQ(e.Value("tidewatch_line_longest_wait_seconds", {{"line", "housing"}}), 0);
  EXPECT_EQ(e.Value("tidewatch_ready"), 0);
  EXPECT_EQ(e.Value("tidewatch_healthy"), 0);
}

// A line's totals can go back within a process (a rewind to the committed
// state after an aborted transaction): its counters do not (Prometheus
// would read a reset, and rate() a spike of the whole total); the replay
// brings the totals back up, and the counters move on from there. A line
// started afresh is a real reset: its counters follow it (frozen at the
// old high mark, rate() read 0 for as long as it took to pass it).
TEST(MetricsExporterTest, LineCountersNeverGoBack) {
  MetricsExporter exporter(DefaultPolicy(), {});
  auto scrape = [&](int64_t offered, int64_t answered) {
    stream::LineStatus l;
    l.line_id = "revenues";
    l.totals.set_offered(offered);
    l.totals.set_answered(answered);
    l.totals.set_abandoned(offered - answered);
    const Exposition e = Parse(exporter.Render(stream::StreamStatus{}, {l}));
    return std::make_tuple(e.Value("tidewatch_line_offered_total", {{"line", "revenues"}}),
                           e.Value("tidewatch_line_answered_total", {{"line", "revenues"}}),
                           e.Value("tidewatch_line_abandoned_total", {{"line", "revenues"}}));
  };
  EXPECT_EQ(scrape(100, 90), std::make_tuple(100.0, 90.0, 10.0));
  EXPECT_EQ(scrape(80, 75), std::make_tuple(100.0, 90.0, 10.0));  // rewound
  EXPECT_EQ(scrape(120, 100), std::make_tuple(120.0, 100.0, 20.0));
  // Started afresh (re-added by a policy version): a real reset, shown.
  EXPECT_EQ(scrape(3, 2), std::make_tuple(3.0, 2.0, 1.0));
  EXPECT_EQ(scrape(5, 4), std::make_tuple(5.0, 4.0, 1.0));
}

TEST(MetricsExporterTest, LineCapKeepsSurgingAndStaleLinesAndCountsTheRest) {
  ExporterOptions options;
  options.max_lines = 2;
  MetricsExporter exporter(DefaultPolicy(), options);
  std::vector<stream::LineStatus> lines;
  for (const char* id : {"a-line", "b-line", "c-line", "y-stale", "z-surging"}) {
    lines.push_back(BusyLine(id, 0));
  }
  lines[3].tide.feed_stale = true;
  lines[4].tide.level = 3;
  const Exposition e = Parse(exporter.Render(BusyStatus(), lines));
  std::vector<std::string> exported;
  for (const Sample* s : e.Find("tidewatch_line_tide_level"))
    exported.push_back(s->labels.at("line"));
  EXPECT_THAT(exported, ElementsAre("y-stale", "z-surging"));
  EXPECT_EQ(e.Value("tidewatch_metrics_lines_exported"), 2);
  EXPECT_EQ(e.Value("tidewatch_metrics_lines_dropped"), 3);
  for (const Sample& s : e.samples) {
    if (s.labels.count("line")) {
      EXPECT_NE(s.labels.at("line"), "a-line") << s.name;
    }
  }
}

TEST(MetricsExporterTest, WindowLabels) {
  EXPECT_EQ(policy::WindowLabel(absl::Minutes(15)), "15m");
  EXPECT_EQ(policy::WindowLabel(absl::Minutes(60)), "60m");
  EXPECT_EQ(policy::WindowLabel(absl::Seconds(90)), "90s");
}

// Acceptance (4): /metrics for 500 busy lines (every window figure defined,
// 16 agent series, capacity figures) stays under the documented bound.
TEST(MetricsExporterTest, FiveHundredLinesStayUnderTheDocumentedSize) {
  MetricsExporter exporter(DefaultPolicy(), {});
  std::vector<stream::LineStatus> lines;
  for (int i = 0; i < 500; ++i) {
    // Realistic ids: "adult-social-care-0042" is longer than most.
    lines.push_back(BusyLine(absl::StrCat("adult-social-care-", 1000 + i), i % 4));
  }
  stream::StreamStatus status = BusyStatus();
  for (int p = 0; p < 24; ++p) status.lag.push_back({"telephony.call-events", p, 100, 110, 10});
  const absl::Time start = absl::Now();
  const std::string text = exporter.Render(status, lines);
  const absl::Duration took = absl::Now() - start;
  const Exposition e = Parse(text);
  EXPECT_EQ(e.Value("tidewatch_metrics_lines_exported"), 500);
  std::printf("500 lines: %zu bytes (%zu per line), %zu samples, rendered in %s\n", text.size(),
              text.size() / 500, e.samples.size(), absl::FormatDuration(took).c_str());
  EXPECT_LT(text.size(), 500 * kMaxBytesPerLine);
}

// promtool's linter (naming conventions, HELP, counters ending in _total)
// on a realistic exposition.
TEST(MetricsExporterTest, PromtoolCheckMetricsIsClean) {
  const char* promtool = "/usr/bin/promtool";
  if (std::FILE* f = std::fopen(promtool, "r"); f != nullptr) {
    std::fclose(f);
  } else {
    GTEST_FAIL() << "promtool is missing: run scripts/install-deps";
  }
  MetricsExporter exporter(DefaultPolicy(), {});
  stream::LineStatus rev = BusyLine("revenues", 1);
  rev.open_callups = {CallUp("revenues", "csc-reserve", tidewatch::v1::CALL_UP_STATE_PAGED, 2,
                             kNow - absl::Minutes(1))};
  stream::StreamStatus status = BusyStatus();
  status.last_error_time = kNow;
  const std::string path = testing::TempDir() + "/metrics.prom";
  {
    std::ofstream out(path);
    out << exporter.Render(status, {rev});
  }
  const std::string cmd = absl::StrCat(promtool, " check metrics < ", path, " 2>&1");
  std::FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string output;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p) != nullptr) output += buf;
  pclose(p);
  // The one finding allowed: the wait quantiles are gauges with a quantile
  // label, not a summary, because a summary's _sum and _count must be
  // cumulative counters and these are per window (docs/metrics.md).
  std::vector<std::string> findings;
  for (absl::string_view f : absl::StrSplit(output, '\n', absl::SkipEmpty())) {
    if (f ==
        "tidewatch_window_wait_seconds non-summary metrics should not have \"quantile\" label") {
      continue;
    }
    findings.emplace_back(f);
  }
  EXPECT_THAT(findings, IsEmpty()) << output;
}

}  // namespace
}  // namespace tidewatch::telemetry
