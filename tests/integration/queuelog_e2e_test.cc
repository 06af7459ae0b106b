// Issue 8 end to end, with every program as a real process on
// kafka-dev-broker:
//
// QueueLogE2eTest.SimulatedQueueLogThroughBridgeMatchesSummaryAndLeaksNoNumber
//   tide-sim writes the council-tax summons day (seed 1) as an Asterisk
//   queue_log (--queue-log-out, with synthetic Ofcom drama-range caller
//   numbers) and the line map; a few malformed lines carrying numbers are
//   appended. queuelog-bridge publishes the file; tidewatchd (--clock=event)
//   consumes it. Then:
//   - per line, tidewatchd's totals (offered, answered, abandoned, short
//     abandons, call-backs, left queue, completed) equal tide-sim's summary
//     exactly (acceptance 2);
//   - no caller number (in any of its forms: as written, national, +44, 44)
//     appears in the events topic (keys, values, headers), the dead-letter
//     topic, the bridge's output and /metrics, tidewatchd's output, /metrics,
//     /lines or the checkpoint file, while the same search finds them in the queue_log
//     (acceptance 4).
//
// QueueLogE2eTest.KilledBridgeResumesAcrossRotationWithoutLossOrRepeat
//   The bridge is SIGKILLed half-way through a day and the queue_log grows
//   and is rotated while it is down; restarted, it publishes the rest: the
//   topic holds exactly one record per line (distinct event ids) and the
//   totals equal the summary.
//
// QueueLogE2eTest.BridgeRefusesBadSetupWithoutShowingTheKey
//   Missing flags, a missing or short key, a bad line map, a checkpoint for
//   another file: refused with the right exit code, the key never printed.
//
// QueueLogE2eTest.PublishGivesTheSameTotalsAsReplay
//   A JSON-lines day with bad records appended: `tidectl publish` of it into
//   tidewatchd gives per-line totals equal to `tidectl replay` of the same
//   file, with the same error lines on stderr and the same set-aside counts
//   (acceptance 3); usage and file errors exit 2 and 1.
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "kafka/kafka.h"
#include "process_util.h"
#include "tidewatch/v1/events.pb.h"

namespace tidewatch {
namespace {

using testing::Child;
using testing::HttpGet;
using testing::kBridge;
using testing::kBroker;
using testing::kSummonsScenario;
using testing::kTidectl;
using testing::kTideSim;
using testing::kTidewatchd;
using testing::ReadFile;
using testing::WaitFor;

constexpr char kEventsTopic[] = "telephony.call-events";
constexpr char kDeadLetterTopic[] = "tidewatch.dead-letter";
constexpr int kPartitions = 12;

// The counts compared per line.
using Totals = std::map<std::string, int64_t>;
const char* const kCounts[] = {"offered",   "answered",   "abandoned", "short_abandoned",
                               "callbacks", "left_queue", "completed"};

google::protobuf::Struct Json(const std::string& text) {
  google::protobuf::Struct s;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(text, &s).ok()) << text.substr(0, 200);
  return s;
}

const google::protobuf::Value& Field(const google::protobuf::Struct& s, const std::string& key) {
  auto it = s.fields().find(key);
  return it == s.fields().end() ? google::protobuf::Value::default_instance() : it->second;
}

Totals CountsOf(const google::protobuf::Struct& kpis) {
  Totals t;
  for (const char* k : kCounts) t[k] = static_cast<int64_t>(Field(kpis, k).number_value());
  return t;
}

std::string Describe(const std::map<std::string, Totals>& lines) {
  std::string out;
  for (const auto& [line, t] : lines) {
    absl::StrAppend(&out, "\n  ", line, ":");
    for (const auto& [k, v] : t) absl::StrAppend(&out, " ", k, "=", v);
  }
  return out;
}

// tidewatchd's /lines totals, per line.
std::optional<std::map<std::string, Totals>> LinesTotals(int port) {
  std::optional<std::string> body = HttpGet(port, "/lines");
  if (!body) return std::nullopt;
  std::map<std::string, Totals> out;
  const google::protobuf::Struct json = Json(*body);
  for (const auto& [id, v] : Field(json, "lines").struct_value().fields()) {
    out[id] = CountsOf(Field(v.struct_value(), "totals").struct_value());
  }
  return out;
}

// tide-sim --summary's counts per line, read from `path` (its
// callbacks_requested as "callbacks", as /lines names them).
std::map<std::string, Totals> SummaryTotals(const std::string& path) {
  std::map<std::string, Totals> out;
  const google::protobuf::Struct json = Json(ReadFile(path));
  for (const auto& v : Field(json, "lines").list_value().values()) {
    const google::protobuf::Struct& l = v.struct_value();
    Totals t = CountsOf(l);
    t["callbacks"] = static_cast<int64_t>(Field(l, "callbacks_requested").number_value());
    out[Field(l, "line_id").string_value()] = t;
  }
  return out;
}

// Every record of a topic (all partitions, from the beginning to the end).
std::vector<kafka::Record> ReadTopic(const std::string& bootstrap, const std::string& topic,
                                     int partitions) {
  kafka::KafkaConfig config;
  config.bootstrap = bootstrap;
  config.client_id = "queuelog-e2e-reader";
  auto consumer = kafka::NewConsumer(config, {});
  EXPECT_TRUE(consumer.ok()) << consumer.status();
  if (!consumer.ok()) return {};
  int64_t expected = 0;
  std::vector<kafka::TopicPartition> assignment;
  for (int p = 0; p < partitions; ++p) {
    auto w = (*consumer)->QueryWatermarks(topic, p, absl::Seconds(10));
    EXPECT_TRUE(w.ok()) << topic << "/" << p << ": " << w.status();
    if (!w.ok()) return {};
    expected += w->high - w->low;
    assignment.push_back({topic, p, kafka::kOffsetBeginning});
  }
  EXPECT_TRUE((*consumer)->Assign(assignment).ok());
  kafka::RecordBatch out;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (static_cast<int64_t>(out.size()) < expected && absl::Now() < deadline) {
    (*consumer)->PollBatch(10000, absl::Milliseconds(200), &out).IgnoreError();
  }
  EXPECT_EQ(static_cast<int64_t>(out.size()), expected) << topic;
  return out.TakeRecords();
}

// The 10-digit core of a UK number in any form ("01632960123",
// "+441632960123", "00441632960123" -> "1632960123"), or "" if not one.
std::string UkCore(std::string_view raw) {
  std::string digits;
  for (char c : raw) {
    if (c >= '0' && c <= '9') digits.push_back(c);
  }
  if (digits.rfind("0044", 0) == 0)
    digits = digits.substr(4);
  else if (digits.rfind("44", 0) == 0 && raw.rfind("+", 0) == 0)
    digits = digits.substr(2);
  else if (digits.rfind("0", 0) == 0)
    digits = digits.substr(1);
  return digits.size() == 10 ? digits : "";
}

// The caller numbers of `cores` that occur in `text` in any form: every
// run of 10 or more digits (ignoring single spaces between digits) is
// checked at every position.
std::set<std::string> FindNumbers(std::string_view text,
                                  const absl::flat_hash_set<std::string>& cores) {
  std::set<std::string> found;
  std::string run;
  auto check = [&] {
    for (size_t i = 0; i + 10 <= run.size(); ++i) {
      std::string window = run.substr(i, 10);
      if (cores.contains(window)) found.insert(window);
    }
    run.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c >= '0' && c <= '9') {
      run.push_back(c);
    } else if (c == ' ' && !run.empty() && i + 1 < text.size() && text[i + 1] >= '0' &&
               text[i + 1] <= '9') {
      continue;  // "01632 960123"
    } else {
      check();
    }
  }
  check();
  return found;
}

class QueueLogE2eTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(children_.Init("queuelog_e2e_test")); }

  // Kills every child and reaps it, whatever happened; on failure shows the
  // end of each child's stderr and keeps the directory.
  void TearDown() override { children_.Finish(HasFailure()); }

  std::string Path(const std::string& name) const {
    return absl::StrCat(children_.dir(), "/", name);
  }

  // Runs a program to completion; its exit description ("exit 0", ...).
  std::string Run(const std::string& name, std::vector<std::string> argv,
                  absl::Duration timeout = absl::Seconds(120)) {
    Child* c = children_.Spawn(name, std::move(argv));
    if (c == nullptr) return "not started";
    c->Wait(timeout);
    return c->Describe();
  }

  // Broker (tidewatch's topics) and one tidewatchd; false on failure.
  bool StartStack() {
    Child* broker = children_.Spawn("broker", {kBroker});
    if (broker == nullptr) return false;
    std::optional<std::string> b =
        testing::WaitForBootstrap(*broker, {kEventsTopic, "tidewatch.state", "tidewatch.commands",
                                            "tidewatch.escalations", kDeadLetterTopic});
    if (!b) {
      ADD_FAILURE() << "broker did not start: " << broker->Stdout() << broker->Stderr();
      return false;
    }
    bootstrap_ = *b;
    tidewatchd_ =
        children_.Spawn("tidewatchd", {kTidewatchd, absl::StrCat("--brokers=", bootstrap_),
                                       "--clock=event", "--metrics_address=127.0.0.1:0",
                                       "--instance_id=e2e", "--commit_interval=1s"});
    if (tidewatchd_ == nullptr) return false;
    port_ = testing::WaitForPort(*tidewatchd_);
    if (port_ <= 0) {
      ADD_FAILURE() << "tidewatchd did not serve: " << tidewatchd_->Stderr();
      return false;
    }
    return true;
  }

  // Waits until tidewatchd's totals equal `want` (every line); returns the
  // last totals seen.
  std::map<std::string, Totals> WaitForTotals(const std::map<std::string, Totals>& want) {
    std::map<std::string, Totals> last;
    WaitFor(
        [&] {
          std::optional<std::map<std::string, Totals>> got = LinesTotals(port_);
          if (got) last = *got;
          return got && *got == want;
        },
        absl::Seconds(90), absl::Milliseconds(500));
    return last;
  }

  // The files one simulated day uses, in the test's directory.
  struct DayFiles {
    std::string queue_log;
    std::string line_map;
    std::string summary;
    std::string checkpoint;
    std::string key_file;
  };
  DayFiles Files() const {
    return {Path("queue_log"), Path("lines.yaml"), Path("summary.json"), Path("bridge.checkpoint"),
            Path("caller.key")};
  }

  // tide-sim writes the council-tax summons day (`seed`) as a queue_log to
  // `queue_log_out`, with the line map and summary named in `files`; the
  // caller key goes to files.key_file.
  void SimulateDay(const DayFiles& files, const std::string& seed,
                   const std::string& queue_log_out) {
    ASSERT_EQ(Run("tide-sim",
                  {kTideSim, "--scenario", kSummonsScenario, "--seed", seed, "--queue-log-out",
                   queue_log_out, "--line-map-out", files.line_map, "--summary", files.summary}),
              "exit 0");
    std::ofstream(files.key_file) << "e2e-test-caller-key-0123456789abcdef\n";
  }

  // The bridge following files.queue_log live into the stack's broker, with
  // its /metrics on a free port.
  std::vector<std::string> BridgeArgv(const DayFiles& files) const {
    return {kBridge,        "--queue-log",  files.queue_log,   "--checkpoint", files.checkpoint,
            "--line-map",   files.line_map, "--brokers",       bootstrap_,     "--caller-key-file",
            files.key_file, "--from-start", "--poll-interval", "50ms",         "--metrics-address",
            "127.0.0.1:0"};
  }

  // Waits until `bridge`'s /metrics shows its checkpoint at `line`; false
  // (with a failure showing the last /metrics in `metrics`) if it never does.
  bool WaitForCheckpointLine(Child& bridge, int64_t line, std::string* metrics) {
    const int port = testing::WaitForPort(bridge);
    const bool done =
        port > 0 &&
        WaitFor(
            [&] {
              *metrics = HttpGet(port, "/metrics").value_or("");
              return absl::StrContains(
                  *metrics, absl::StrCat("tidewatch_queuelog_checkpoint_line ", line, "\n"));
            },
            absl::Seconds(120));
    EXPECT_TRUE(done) << "checkpoint never reached line " << line << "\n"
                      << *metrics << bridge.Stderr();
    return done;
  }

  testing::TestChildren children_;
  std::string bootstrap_;
  Child* tidewatchd_ = nullptr;
  int port_ = 0;
};

TEST_F(QueueLogE2eTest, SimulatedQueueLogThroughBridgeMatchesSummaryAndLeaksNoNumber) {
  const DayFiles files = Files();
  ASSERT_NO_FATAL_FAILURE(SimulateDay(files, "1", files.queue_log));
  // Malformed or unmappable lines with numbers in them: skipped and logged
  // by line number, never quoted.
  {
    std::ofstream out(files.queue_log, std::ios::app);
    out << "1664800000|x1.1|parking-q|NONE|ENTERQUEUE||07700900555|1\n"
        << "1664800000|x1.2|revenues-q|+447700900556|\n"
        << "not a queue_log line from 07700 900557\n"
        << "1664800000|x1.3|revenues-q|NONE|ABANDON|1|1|07700900558\n";
  }

  // What tide-sim counted, per line.
  const std::map<std::string, Totals> want = SummaryTotals(files.summary);
  ASSERT_EQ(want.size(), 5u);

  ASSERT_TRUE(StartStack());
  // Followed live (no --exit-at-eof): done when its /metrics shows the
  // last line checkpointed; then SIGTERM.
  const std::string raw = ReadFile(files.queue_log);
  const int64_t total_lines = std::count(raw.begin(), raw.end(), '\n');
  Child* bridge = children_.Spawn("bridge", BridgeArgv(files));
  ASSERT_NE(bridge, nullptr);
  std::string bridge_metrics;
  WaitForCheckpointLine(*bridge, total_lines, &bridge_metrics);
  EXPECT_TRUE(absl::StrContains(
      bridge_metrics, "tidewatch_queuelog_lines_skipped_total{reason=\"unmapped_queue\"} 1"))
      << bridge_metrics;
  bridge->Signal(SIGTERM);
  bridge->Wait(absl::Seconds(30));
  ASSERT_EQ(bridge->Describe(), "exit 0") << bridge->Stderr();
  const std::string bridge_log = bridge->Stderr() + bridge->Stdout();
  EXPECT_TRUE(absl::StrContains(
      bridge_log, "skipped{too_few_fields=1,unknown_event=1,unmapped_queue=1,bad_number=1}"))
      << bridge_log;
  EXPECT_TRUE(absl::StrContains(bridge_log, "/queue_log:8021 (byte")) << bridge_log;

  const std::map<std::string, Totals> got = WaitForTotals(want);
  EXPECT_EQ(got, want) << "tidewatchd:" << Describe(got) << "\ntide-sim:" << Describe(want);

  // Acceptance 4: no caller number anywhere the pipeline writes.
  absl::flat_hash_set<std::string> cores;
  for (absl::string_view line : absl::StrSplit(raw, '\n', absl::SkipEmpty())) {
    std::vector<std::string> f = absl::StrSplit(line, '|');
    if (f.size() > 6 && f[4] == "ENTERQUEUE" && !UkCore(f[6]).empty()) cores.insert(UkCore(f[6]));
  }
  for (const char* n : {"07700900555", "+447700900556", "07700 900557", "07700900558"}) {
    cores.insert(UkCore(n));
  }
  ASSERT_GT(cores.size(), 2000u);
  // The search works: it finds every number in the queue_log itself.
  EXPECT_EQ(FindNumbers(raw, cores).size(), cores.size());

  std::map<std::string, std::string> places;
  for (const kafka::Record& r : ReadTopic(bootstrap_, kEventsTopic, kPartitions)) {
    absl::StrAppend(&places["events topic"], r.key, "\n", r.value, "\n");
    for (const auto& h : r.headers) absl::StrAppend(&places["events topic"], h.key, h.value, "\n");
  }
  EXPECT_GT(places["events topic"].size(), 100000u);
  for (const kafka::Record& r : ReadTopic(bootstrap_, kDeadLetterTopic, 1)) {
    absl::StrAppend(&places["dead-letter topic"], r.key, "\n", r.value, "\n");
  }
  places["/metrics"] = HttpGet(port_, "/metrics").value_or("");
  places["/lines"] = HttpGet(port_, "/lines").value_or("");
  EXPECT_FALSE(places["/metrics"].empty());
  places["checkpoint"] = ReadFile(files.checkpoint);
  EXPECT_TRUE(absl::StrContains(places["checkpoint"], "offset=")) << places["checkpoint"];
  places["bridge output"] = bridge_log;
  places["bridge /metrics"] = bridge_metrics;
  tidewatchd_->Signal(SIGTERM);
  tidewatchd_->Wait(absl::Seconds(20));
  places["tidewatchd output"] = tidewatchd_->Stderr() + tidewatchd_->Stdout();
  for (const auto& [where, text] : places) {
    const std::set<std::string> leaked = FindNumbers(text, cores);
    EXPECT_TRUE(leaked.empty()) << leaked.size() << " caller numbers in the " << where
                                << ", e.g. ..." << *leaked.begin();
  }
}

// The bridge SIGKILLed half-way through the day and the queue_log rotated
// while it is down: restarted, it finishes the rotated file from its
// checkpoint and then the new one. Every event reaches the topic exactly once
// and tidewatchd's totals equal the summary.
TEST_F(QueueLogE2eTest, KilledBridgeResumesAcrossRotationWithoutLossOrRepeat) {
  const std::string day = Path("day.queue_log");
  const DayFiles files = Files();
  const std::string& queue_log = files.queue_log;
  ASSERT_NO_FATAL_FAILURE(SimulateDay(files, "4", day));
  const std::map<std::string, Totals> want = SummaryTotals(files.summary);
  const std::vector<std::string> lines = absl::StrSplit(ReadFile(day), '\n', absl::SkipEmpty());
  const size_t half = lines.size() / 2, three_quarters = lines.size() * 3 / 4;
  auto write = [&](const std::string& path, size_t from, size_t to) {
    std::ofstream out(path, std::ios::app);
    for (size_t i = from; i < to; ++i) out << lines[i] << "\n";
  };
  write(queue_log, 0, half);

  ASSERT_TRUE(StartStack());
  const std::vector<std::string> argv = BridgeArgv(files);
  std::string metrics;
  Child* first = children_.Spawn("bridge-1", argv);
  ASSERT_NE(first, nullptr);
  ASSERT_TRUE(WaitForCheckpointLine(*first, half, &metrics));
  first->Signal(SIGKILL);
  first->Wait(absl::Seconds(10));
  // While it is down: more lines, a rename rotation, the rest in a new file.
  write(queue_log, half, three_quarters);
  ASSERT_EQ(std::rename(queue_log.c_str(), (queue_log + ".1").c_str()), 0);
  write(queue_log, three_quarters, lines.size());

  Child* second = children_.Spawn("bridge-2", argv);
  ASSERT_NE(second, nullptr);
  ASSERT_TRUE(WaitForCheckpointLine(*second, lines.size() - three_quarters, &metrics));
  EXPECT_TRUE(absl::StrContains(second->Stderr(), "rotated")) << second->Stderr();
  second->Signal(SIGTERM);
  second->Wait(absl::Seconds(30));
  EXPECT_EQ(second->Describe(), "exit 0");

  const std::map<std::string, Totals> got = WaitForTotals(want);
  EXPECT_EQ(got, want) << "tidewatchd:" << Describe(got) << "\ntide-sim:" << Describe(want);
  // Exactly once on the topic: one record per line, distinct event ids.
  std::set<std::string> ids;
  const std::vector<kafka::Record> records = ReadTopic(bootstrap_, kEventsTopic, kPartitions);
  for (const kafka::Record& r : records) {
    tidewatch::v1::CallEvent e;
    ASSERT_TRUE(e.ParseFromString(r.value));
    ids.insert(e.event_id());
  }
  EXPECT_EQ(records.size(), lines.size());
  EXPECT_EQ(ids.size(), lines.size());
}

// Set-up errors are refused before anything is read, and the key never
// appears in what the bridge prints.
TEST_F(QueueLogE2eTest, BridgeRefusesBadSetupWithoutShowingTheKey) {
  const std::string log = Path("queue_log");
  const std::string map = Path("lines.yaml");
  std::ofstream(log) << "";
  std::ofstream(map) << "queues:\n  council-tax: revenues\n";
  const std::string bad_map = Path("bad.yaml");
  std::ofstream(bad_map) << "queues:\n  council-tax: 'rev enues'\n";
  const std::string key = Path("key");
  std::ofstream(key) << "a-perfectly-good-secret-key\n";
  const std::vector<std::string> base = {kBridge,    "--queue-log", log,          "--checkpoint",
                                         Path("cp"), "--brokers",   "127.0.0.1:1"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = base;
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  };
  EXPECT_EQ(Run("no-flags", {kBridge}), "exit 2");
  EXPECT_EQ(Run("no-key", with({"--line-map", map, "--caller-key-env", "TIDEWATCH_UNSET_VAR_X"})),
            "exit 2");
  setenv("TIDEWATCH_E2E_SHORT_KEY", "tiny-secret", 1);
  Child* short_key = children_.Spawn(
      "short-key", with({"--line-map", map, "--caller-key-env", "TIDEWATCH_E2E_SHORT_KEY"}));
  ASSERT_NE(short_key, nullptr);
  short_key->Wait(absl::Seconds(30));
  EXPECT_EQ(short_key->Describe(), "exit 2");
  EXPECT_TRUE(absl::StrContains(short_key->Stderr(), "at least 16")) << short_key->Stderr();
  EXPECT_FALSE(absl::StrContains(short_key->Stderr(), "tiny-secret")) << short_key->Stderr();
  Child* bad = children_.Spawn("bad-map", with({"--line-map", bad_map, "--caller-key-file", key}));
  ASSERT_NE(bad, nullptr);
  bad->Wait(absl::Seconds(30));
  EXPECT_EQ(bad->Describe(), "exit 2");
  EXPECT_TRUE(absl::StrContains(bad->Stderr(), "bad.yaml:2: queues.council-tax")) << bad->Stderr();
  EXPECT_FALSE(absl::StrContains(bad->Stderr(), "perfectly-good")) << bad->Stderr();
  std::ofstream(Path("cp")) << "path=/elsewhere/queue_log\ninode=1\noffset=0\nline=0\n";
  Child* other =
      children_.Spawn("other-checkpoint", with({"--line-map", map, "--caller-key-file", key}));
  ASSERT_NE(other, nullptr);
  other->Wait(absl::Seconds(30));
  EXPECT_EQ(other->Describe(), "exit 1");
  EXPECT_TRUE(absl::StrContains(other->Stderr(), "is for /elsewhere/queue_log")) << other->Stderr();
}

TEST_F(QueueLogE2eTest, PublishGivesTheSameTotalsAsReplay) {
  const std::string day = Path("day.jsonl");
  ASSERT_EQ(
      Run("tide-sim", {kTideSim, "--scenario", kSummonsScenario, "--seed", "2", "--out", day}),
      "exit 0");
  {
    std::ofstream out(day, std::ios::app);
    out << "{not json\n"
        << R"({"eventId":"bad-1","callId":"c","eventTime":"2022-10-03T09:00:00Z","queued":{}})"
        << "\n"
        << R"({"eventId":"bad-2","lineId":"revenues","callId":"c","eventTime":"2022-10-03T09:00:00Z","abandoned":{"wait":"-3s"}})"
        << "\n";
  }
  // Usage and file errors.
  EXPECT_EQ(Run("publish-no-brokers", {kTidectl, "publish", day}), "exit 2");
  EXPECT_EQ(Run("publish-no-file", {kTidectl, "publish", "--brokers", "127.0.0.1:1"}), "exit 2");
  EXPECT_EQ(Run("publish-missing",
                {kTidectl, "publish", Path("missing.jsonl"), "--brokers", "127.0.0.1:1"}),
            "exit 1");

  Child* replay =
      children_.Spawn("replay", {kTidectl, "replay", "--events", day, "--format", "json"});
  ASSERT_NE(replay, nullptr);
  replay->Wait(absl::Seconds(60));
  ASSERT_EQ(replay->Describe(), "exit 0") << replay->Stderr();
  const google::protobuf::Struct report = Json(replay->Stdout());
  std::map<std::string, Totals> want;
  for (const auto& [id, v] : Field(report, "lines").struct_value().fields()) {
    want[id] = CountsOf(v.struct_value());
  }
  ASSERT_EQ(want.size(), 5u);

  ASSERT_TRUE(StartStack());
  Child* publish =
      children_.Spawn("publish", {kTidectl, "publish", "-", "--brokers", bootstrap_}, day);
  ASSERT_NE(publish, nullptr);
  publish->Wait(absl::Seconds(60));
  ASSERT_EQ(publish->Describe(), "exit 0") << publish->Stderr();
  // The same validation, reported the same way (stdin is named "-").
  std::string replay_errors = replay->Stderr();
  std::string publish_errors = publish->Stderr();
  const int bad_lines = std::count(replay_errors.begin(), replay_errors.end(), '\n');
  EXPECT_EQ(bad_lines, 3) << replay_errors;
  std::string normalised = replay_errors;
  for (size_t at; (at = normalised.find(day + ":")) != std::string::npos;) {
    normalised.replace(at, day.size(), "-");
  }
  EXPECT_EQ(publish_errors, normalised);
  for (const auto& [reason, n] : Field(report, "rejected").struct_value().fields()) {
    EXPECT_TRUE(absl::StrContains(
        publish->Stdout(),
        absl::StrFormat("  %-20s %d\n", reason, static_cast<int64_t>(n.number_value()))))
        << reason << "\n"
        << publish->Stdout();
  }

  const std::map<std::string, Totals> got = WaitForTotals(want);
  EXPECT_EQ(got, want) << "tidewatchd:" << Describe(got) << "\nreplay:" << Describe(want);
}

}  // namespace
}  // namespace tidewatch
