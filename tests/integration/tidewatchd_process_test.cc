// tidewatchd as separate processes against kafka-dev-broker, fed by tide-sim
// (issue 5, acceptance 2 and 6). Every process is a real child (stdout and
// stderr in files under a temp dir), killed in teardown whatever happens.
// Both tests compare against a reference run: the same day (council tax
// summons, seed 1) through one fresh tidewatchd, --clock=event, on a fresh
// broker, uninterrupted. Its escalations and final /lines are what any
// correct run must end with (the engine is deterministic in event time).
//
// KillNineMidSurgeAndRestart: three instances share the 12 partitions and
// the day is produced paced (~46 s). Crash 1: the owner of the surging
// revenues line is SIGKILLed right after revenues' rise to tier 2 reaches
// the escalations topic (mid-episode, call-ups open, that output not yet
// covered by committed state: commits are every 3 s here) and restarted
// 3 s later with the same instance id. Crash 2: the owner of
// adult-social-care is SIGKILLed as that line rises in the afternoon and
// restarted only once a surviving instance has taken its partitions over.
// Afterwards it proves:
//   - summed over the instances' /lines, every line's offered, answered and
//     abandoned equal the simulator's summary, and each line is owned by
//     exactly one instance;
//   - each line's whole /lines view (tide, totals with wait percentiles,
//     windows, calls waiting, open call-ups) equals the reference's;
//   - on tidewatch.escalations, records sharing an id are byte-identical (a
//     re-emission after a crash is the same escalation), every line's
//     sequence numbers are exactly 1..N, and the distinct escalations (id ->
//     bytes) are exactly the reference run's.
//
// SigtermDuringLoadExitsCleanly: the day waits in the topic; SIGTERM as soon
// as the instance has applied some of it. It proves: exit 0 within 10 s and
// "stopped cleanly"; the group's committed offsets lie within the
// partitions and add up to exactly the events the instance says it applied;
// a restarted instance finishes the day with totals equal to the summary
// and /lines equal to the reference's; the escalations have no conflicting
// ids, gapless sequences, no re-emissions (state and offsets were committed
// at shutdown) and are exactly the reference's.
#include <signal.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "kafka/kafka.h"
#include "kafka/test_brokers.h"
#include "process_util.h"
#include "stream/partitioner.h"
#include "tidewatch/v1/tide.pb.h"

namespace tidewatch {
namespace {

using testing::Child;
using testing::HttpGet;
using testing::kBroker;
using testing::kSummonsScenario;
using testing::kTideSim;
using testing::kTidewatchd;
using testing::ReadFile;
using testing::Tail;
using testing::WaitFor;
using testing::WaitForBootstrap;
using testing::WaitForPort;

// A seed whose revenues line rises through tiers 1 and 2 in the surge
// (tests/sim/sim_tide_test.cc checks seeds 1-4).
constexpr int kSeed = 1;
constexpr int kPartitions = 12;
constexpr char kEventsTopic[] = "telephony.call-events";
constexpr char kEscalationsTopic[] = "tidewatch.escalations";
// A day of ~9.2 h of event time in ~46 s of wall time.
constexpr char kPacedSpeed[] = "720";
// SigtermDuringLoadExitsCleanly: the summons day (10 hours) in ten seconds.
constexpr char kSigtermDaySpeed[] = "3600";
constexpr double kPacedSpeedFactor = 720;
// The crash run commits every 3 s (the reference and the SIGTERM test every
// 1 s, the default): more output not yet covered by committed state when an
// instance dies, so more is replayed and re-emitted, and the outputs must
// not depend on the commit cadence.
constexpr char kCrashRunCommitInterval[] = "3s";

// Where a run's topics live: kafka-dev-broker (fresh per run, the default
// names) or the real Apache Kafka (shared, so a unique prefix per run).
struct Cluster {
  std::string bootstrap;
  std::string prefix;
  bool real = false;
  std::string Topic(const std::string& name) const { return prefix + name; }
  std::string Group() const { return prefix + "tidewatch"; }
};

// Prints how long each phase took, and the total so far.
class PhaseTimer {
 public:
  PhaseTimer() : start_(absl::Now()), last_(start_) {}
  void Mark(const std::string& phase) {
    const absl::Time now = absl::Now();
    std::printf("[phase] %-48s %6.1f s  (total %6.1f s)\n", phase.c_str(),
                absl::ToDoubleSeconds(now - last_), absl::ToDoubleSeconds(now - start_));
    std::fflush(stdout);
    last_ = now;
  }

 private:
  absl::Time start_;
  absl::Time last_;
};

absl::StatusOr<google::protobuf::Struct> ParseJson(const std::string& json) {
  google::protobuf::Struct out;
  auto status = google::protobuf::util::JsonStringToMessage(json, &out);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("bad JSON: ", status.ToString()));
  }
  return out;
}

// A field of a JSON object (a default Value, i.e. null, when missing).
const google::protobuf::Value& Field(const google::protobuf::Struct& s, const std::string& key) {
  auto it = s.fields().find(key);
  return it == s.fields().end() ? google::protobuf::Value::default_instance() : it->second;
}

int64_t Int(const google::protobuf::Struct& s, const std::string& key) {
  const google::protobuf::Value& v = Field(s, key);
  return v.has_number_value() ? static_cast<int64_t>(v.number_value()) : -1;
}

struct Totals {
  int64_t offered = 0;
  int64_t answered = 0;
  int64_t abandoned = 0;

  friend bool operator==(const Totals&, const Totals&) = default;
};

std::string Describe(const std::map<std::string, Totals>& totals) {
  std::string out;
  for (const auto& [line, t] : totals) {
    absl::StrAppend(&out, line, "=", t.offered, "/", t.answered, "/", t.abandoned, " ");
  }
  return out;
}

// tide-sim --summary: per line totals, and the number of events.
struct SimSummary {
  int64_t events = 0;
  absl::Time first_event;
  absl::Duration span;  // first to last event time
  std::map<std::string, Totals> lines;
};

absl::StatusOr<SimSummary> ReadSummary(const std::string& path) {
  absl::StatusOr<google::protobuf::Struct> json = ParseJson(ReadFile(path));
  if (!json.ok()) return json.status();
  SimSummary out;
  out.events = Int(*json, "events");
  absl::Time first, last;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, Field(*json, "first_event_time").string_value(), &first,
                       &error) ||
      !absl::ParseTime(absl::RFC3339_full, Field(*json, "last_event_time").string_value(), &last,
                       &error)) {
    return absl::InvalidArgumentError(absl::StrCat("summary: event times: ", error));
  }
  out.first_event = first;
  out.span = last - first;
  if (!Field(*json, "lines").has_list_value())
    return absl::InvalidArgumentError("summary: no lines");
  for (const auto& v : Field(*json, "lines").list_value().values()) {
    const google::protobuf::Struct& l = v.struct_value();
    out.lines[Field(l, "line_id").string_value()] = {Int(l, "offered"), Int(l, "answered"),
                                                     Int(l, "abandoned")};
  }
  return out;
}

// One line as an instance's /lines reports it.
struct LineView {
  int partition = -1;
  int tide_level = 0;
  Totals totals;
  google::protobuf::Struct json;  // everything /lines says about the line
};

std::optional<std::map<std::string, LineView>> GetLines(int port) {
  std::optional<std::string> body = HttpGet(port, "/lines");
  if (!body) return std::nullopt;
  absl::StatusOr<google::protobuf::Struct> json = ParseJson(*body);
  if (!json.ok()) return std::nullopt;
  std::map<std::string, LineView> out;
  for (const auto& [id, v] : Field(*json, "lines").struct_value().fields()) {
    const google::protobuf::Struct& l = v.struct_value();
    const google::protobuf::Struct& t = Field(l, "totals").struct_value();
    out[id] = {static_cast<int>(Int(l, "partition")),
               static_cast<int>(Int(l, "tide_level")),
               {Int(t, "offered"), Int(t, "answered"), Int(t, "abandoned")},
               l};
  }
  return out;
}

// A running tidewatchd.
struct Instance {
  std::string id;
  Child* child = nullptr;
  int port = 0;
};

// What the instances say together, at one moment.
struct ClusterView {
  bool all_ready = true;
  bool all_answered = true;
  std::map<std::string, std::vector<std::string>> owners;  // line -> instance ids
  std::map<std::string, Totals> totals;                    // summed over instances
  std::map<std::string, LineView> lines;                   // last owner's view

  std::string Describe() const {
    std::string out = absl::StrCat("ready=", all_ready, " answered=", all_answered, " owners:");
    for (const auto& [line, who] : owners) {
      absl::StrAppend(&out, " ", line, "@[", absl::StrJoin(who, ","), "]");
    }
    absl::StrAppend(&out, " totals: ", tidewatch::Describe(totals));
    return out;
  }

  // Every one of `lines` owned by exactly one instance.
  bool OwnedOnce(const std::map<std::string, Totals>& expected) const {
    if (owners.size() != expected.size()) return false;
    for (const auto& [line, t] : expected) {
      auto it = owners.find(line);
      if (it == owners.end() || it->second.size() != 1) return false;
    }
    return true;
  }
};

ClusterView Observe(const std::vector<Instance*>& instances) {
  ClusterView view;
  for (const Instance* in : instances) {
    if (!HttpGet(in->port, "/readyz")) view.all_ready = false;
    std::optional<std::map<std::string, LineView>> lines = GetLines(in->port);
    if (!lines) {
      view.all_answered = false;
      continue;
    }
    for (const auto& [id, l] : *lines) {
      view.owners[id].push_back(in->id);
      Totals& t = view.totals[id];
      t.offered += l.totals.offered;
      t.answered += l.totals.answered;
      t.abandoned += l.totals.abandoned;
      view.lines[id] = l;
    }
  }
  return view;
}

kafka::KafkaConfig ClientConfig(const std::string& bootstrap, const std::string& client_id) {
  kafka::KafkaConfig c;
  c.bootstrap = bootstrap;
  c.client_id = client_id;
  c.on_log = [](int level, std::string_view facility, std::string_view message) {
    if (level <= 3) {
      std::fprintf(stderr, "librdkafka %.*s: %.*s\n", static_cast<int>(facility.size()),
                   facility.data(), static_cast<int>(message.size()), message.data());
    }
  };
  return c;
}

absl::StatusOr<std::vector<kafka::Watermarks>> Watermarks(kafka::Consumer& consumer,
                                                          const std::string& topic) {
  std::vector<kafka::Watermarks> out;
  for (int p = 0; p < kPartitions; ++p) {
    absl::StatusOr<kafka::Watermarks> wm = consumer.QueryWatermarks(topic, p, absl::Seconds(10));
    if (!wm.ok()) return wm.status();
    out.push_back(*wm);
  }
  return out;
}

// Every committed record of `topic` (12 partitions) from the log start to
// the end as it was when reading began (read_committed, as every reader of
// tidewatch's topics).
absl::StatusOr<std::vector<kafka::Record>> ReadTopic(const std::string& bootstrap,
                                                     const std::string& topic) {
  return tidewatch::testing::ReadCommitted(ClientConfig(bootstrap, "itest-reader"), topic,
                                           kPartitions);
}

// Waits until `topic`'s high watermarks have not moved for `quiet`.
bool WaitForQuietTopic(const std::string& bootstrap, const std::string& topic, absl::Duration quiet,
                       absl::Duration timeout) {
  absl::StatusOr<std::unique_ptr<kafka::Consumer>> consumer =
      kafka::NewConsumer(ClientConfig(bootstrap, "itest-watermarks"), kafka::ConsumerOptions{});
  if (!consumer.ok()) return false;
  std::vector<int64_t> last;
  absl::Time last_change = absl::Now();
  return WaitFor(
      [&] {
        absl::StatusOr<std::vector<kafka::Watermarks>> wm = Watermarks(**consumer, topic);
        if (!wm.ok()) return false;
        std::vector<int64_t> highs;
        for (const kafka::Watermarks& w : *wm) highs.push_back(w.high);
        if (highs != last) {
          last = highs;
          last_change = absl::Now();
          return false;
        }
        return absl::Now() - last_change >= quiet;
      },
      timeout, absl::Milliseconds(250));
}

// The escalations topic, checked: per id all records identical, per line
// sequences 1..N.
struct EscalationLog {
  int64_t records = 0;
  int64_t duplicates = 0;  // identical re-emissions
  std::vector<std::string> duplicate_ids;
  std::map<std::string, std::string> by_id;            // id -> serialized escalation
  std::map<std::string, std::set<int64_t>> sequences;  // line -> sequences
  std::vector<std::string> problems;

  int64_t CountLine(const std::string& line) const {
    auto it = sequences.find(line);
    return it == sequences.end() ? 0 : static_cast<int64_t>(it->second.size());
  }

  void Print() const {
    std::printf("escalations: %ld records, %zu distinct, %ld identical re-emissions [%s]\n",
                static_cast<long>(records), by_id.size(), static_cast<long>(duplicates),
                absl::StrJoin(duplicate_ids, " ").c_str());
  }
};

EscalationLog CheckEscalations(const std::vector<kafka::Record>& records) {
  EscalationLog log;
  for (const kafka::Record& r : records) {
    ++log.records;
    tidewatch::v1::Escalation e;
    if (!e.ParseFromString(r.value)) {
      log.problems.push_back(
          absl::StrCat("undecodable escalation at ", r.partition, "@", r.offset));
      continue;
    }
    if (e.id() != absl::StrCat(e.line_id(), "/", e.sequence()) || r.key != e.line_id()) {
      log.problems.push_back(absl::StrCat("escalation ", e.id(), " (key ", r.key, ", sequence ",
                                          e.sequence(), ") is not keyed/numbered LINE/SEQ"));
    }
    auto [it, inserted] = log.by_id.emplace(e.id(), r.value);
    if (!inserted) {
      if (it->second == r.value) {
        ++log.duplicates;
        log.duplicate_ids.push_back(e.id());
      } else {
        tidewatch::v1::Escalation first;
        first.ParseFromString(it->second);
        log.problems.push_back(absl::StrCat("two different escalations with id ", e.id(), ":\n  ",
                                            first.ShortDebugString(), "\n  ",
                                            e.ShortDebugString()));
      }
    }
    log.sequences[e.line_id()].insert(e.sequence());
  }
  for (const auto& [line, seqs] : log.sequences) {
    if (*seqs.begin() != 1 || *seqs.rbegin() != static_cast<int64_t>(seqs.size())) {
      std::vector<int64_t> missing;
      for (int64_t s = 1; s <= *seqs.rbegin(); ++s) {
        if (!seqs.contains(s)) missing.push_back(s);
      }
      log.problems.push_back(absl::StrCat("line ", line, ": sequences 1..", *seqs.rbegin(),
                                          " missing ", absl::StrJoin(missing, ",")));
    }
  }
  return log;
}

std::string DescribeEscalation(const std::string& bytes) {
  tidewatch::v1::Escalation e;
  e.ParseFromString(bytes);
  return e.ShortDebugString();
}

// Follows the escalations topic's partitions of some lines as they are
// written, to act the moment a line's tide rises.
class EscalationWatcher {
 public:
  absl::Status Start(const Cluster& cluster, const std::vector<std::string>& lines) {
    absl::StatusOr<std::unique_ptr<kafka::Consumer>> c = kafka::NewConsumer(
        ClientConfig(cluster.bootstrap, "itest-watcher"), kafka::ConsumerOptions{});
    if (!c.ok()) return c.status();
    consumer_ = *std::move(c);
    std::set<int32_t> partitions;
    for (const std::string& line : lines) {
      partitions.insert(stream::PartitionForKey(line, kPartitions));
    }
    std::vector<kafka::TopicPartition> assignment;
    for (int32_t p : partitions)
      assignment.push_back({cluster.Topic(kEscalationsTopic), p, kafka::kOffsetBeginning});
    return consumer_->Assign(assignment);
  }

  // Waits (until `latest`) for an escalation raising `line` to `level` or
  // above; its id, or nullopt at the deadline.
  std::optional<std::string> WaitForRise(const std::string& line, int level, absl::Time latest) {
    while (absl::Now() < latest) {
      kafka::RecordBatch batch;
      consumer_->PollBatch(1000, absl::Milliseconds(10), &batch).IgnoreError();
      for (const kafka::Record& r : batch) {
        tidewatch::v1::Escalation e;
        if (!e.ParseFromString(r.value) || e.line_id() != line || !e.has_tide_change()) continue;
        if (e.tide_change().to_level() >= level &&
            e.tide_change().to_level() > e.tide_change().from_level()) {
          return e.id();
        }
      }
    }
    return std::nullopt;
  }

 private:
  std::unique_ptr<kafka::Consumer> consumer_;
};

// What the uninterrupted run ends with: its escalations, and each line's
// /lines view.
struct Reference {
  EscalationLog escalations;
  std::map<std::string, google::protobuf::Struct> lines;
};

// Lines whose /lines view differs from the reference's (the whole view:
// tide, totals and wait percentiles, windows, calls waiting, open call-ups).
std::vector<std::string> DiffLines(const Reference& reference,
                                   const std::map<std::string, LineView>& lines) {
  std::vector<std::string> out;
  for (const auto& [id, want] : reference.lines) {
    auto it = lines.find(id);
    if (it == lines.end()) {
      out.push_back(absl::StrCat(id, ": not reported"));
      continue;
    }
    std::string report;
    google::protobuf::util::MessageDifferencer differ;
    differ.ReportDifferencesToString(&report);
    if (!differ.Compare(want, it->second.json)) out.push_back(absl::StrCat(id, ":\n", report));
  }
  return out;
}

// How the distinct escalations (id -> bytes) of a run differ from the
// reference run's; empty when they are the same.
std::vector<std::string> DiffEscalations(const EscalationLog& reference, const EscalationLog& run) {
  std::vector<std::string> out;
  for (const auto& [id, bytes] : reference.by_id) {
    auto it = run.by_id.find(id);
    if (it == run.by_id.end()) {
      out.push_back(absl::StrCat("missing ", id, ": ", DescribeEscalation(bytes)));
    } else if (it->second != bytes) {
      out.push_back(absl::StrCat("different ", id, ":\n  reference ", DescribeEscalation(bytes),
                                 "\n  this run  ", DescribeEscalation(it->second)));
    }
  }
  for (const auto& [id, bytes] : run.by_id) {
    if (!reference.by_id.contains(id)) {
      out.push_back(absl::StrCat("extra ", id, ": ", DescribeEscalation(bytes)));
    }
  }
  return out;
}

// The end of a run, as /lines shows it: every line's totals are the
// summary's and its whole state (windows, wait percentiles, tide, open
// call-ups) is the uninterrupted reference run's.
void ExpectLinesMatchReference(const ClusterView& view, const SimSummary& summary,
                               const Reference& reference) {
  for (const auto& [line, want] : summary.lines) {
    SCOPED_TRACE(line);
    auto it = view.totals.find(line);
    const Totals got = it == view.totals.end() ? Totals{} : it->second;
    EXPECT_EQ(got.offered, want.offered);
    EXPECT_EQ(got.answered, want.answered);
    EXPECT_EQ(got.abandoned, want.abandoned);
  }
  const std::vector<std::string> differences = DiffLines(reference, view.lines);
  EXPECT_TRUE(differences.empty()) << "/lines differs from the reference run:\n"
                                   << absl::StrJoin(differences, "\n");
}

// The escalations topic once it has been quiet for `quiet` (waiting at most
// `limit`), read back with read_committed, checked (every id once, gapless
// per-line sequences) and printed; nullopt, with a failure recorded, when
// it cannot be read.
std::optional<EscalationLog> ReadCheckedEscalations(const std::string& bootstrap,
                                                    const std::string& topic, absl::Duration quiet,
                                                    absl::Duration limit) {
  if (!WaitForQuietTopic(bootstrap, topic, quiet, limit)) {
    ADD_FAILURE() << topic << " never went quiet for " << quiet;
    return std::nullopt;
  }
  absl::StatusOr<std::vector<kafka::Record>> records = ReadTopic(bootstrap, topic);
  if (!records.ok()) {
    ADD_FAILURE() << "reading " << topic << ": " << records.status();
    return std::nullopt;
  }
  EscalationLog log = CheckEscalations(*records);
  log.Print();
  EXPECT_TRUE(log.problems.empty()) << absl::StrJoin(log.problems, "\n");
  return log;
}

// The run's escalations are the uninterrupted run's, byte for byte.
void ExpectSameEscalations(const EscalationLog& reference, const EscalationLog& run) {
  const std::vector<std::string> differences = DiffEscalations(reference, run);
  EXPECT_TRUE(differences.empty()) << differences.size() << " differences from the reference:\n"
                                   << absl::StrJoin(differences, "\n");
}

using tidewatch::testing::BrokerKind;

class TidewatchdProcessTest : public ::testing::TestWithParam<BrokerKind> {
 protected:
  bool real() const { return GetParam() == BrokerKind::kReal; }

  void SetUp() override {
    TIDEWATCH_SKIP_WITHOUT_REAL_KAFKA(GetParam());
    ASSERT_TRUE(children_.Init("tidewatchd_process_test"));
  }

  // Kills every child and reaps it, whatever happened; on failure shows the
  // end of each child's stderr and keeps the directory.
  void TearDown() override { children_.Finish(HasFailure()); }

  // A fresh cluster for a run: kafka-dev-broker started with tidewatch's
  // topics, or fresh topics (unique names) on the real broker.
  // `process`, when given, is set to kafka-dev-broker's process (in-process
  // broker only).
  std::optional<Cluster> StartBroker(const std::string& name, Child** process = nullptr) {
    if (real()) {
      Cluster c{*tidewatch::testing::RealKafkaBootstrap(), tidewatch::testing::UniquePrefix(),
                true};
      absl::Status s =
          tidewatch::testing::CreateRealTopics(c.bootstrap,
                                               {{c.Topic("telephony.call-events"), kPartitions},
                                                {c.Topic("tidewatch.commands"), kPartitions},
                                                {c.Topic("tidewatch.state"), kPartitions},
                                                {c.Topic("tidewatch.escalations"), kPartitions},
                                                {c.Topic("tidewatch.dead-letter"), 1}},
                                               {{c.Topic("tidewatch.state"), "compact"}});
      if (!s.ok()) {
        ADD_FAILURE() << name << ": topics on the real broker: " << s;
        return std::nullopt;
      }
      std::printf("[cluster] %s: Apache Kafka at %s, topics %s*\n", name.c_str(),
                  c.bootstrap.c_str(), c.prefix.c_str());
      return c;
    }
    Child* broker =
        children_.Spawn(name, {kBroker, "--topic", "telephony.call-events:12", "--topic",
                               "tidewatch.commands:12", "--topic", "tidewatch.state:12", "--topic",
                               "tidewatch.escalations:12", "--topic", "tidewatch.dead-letter:1"});
    if (broker == nullptr) return std::nullopt;
    if (process != nullptr) *process = broker;
    const std::optional<std::string> bootstrap =
        WaitForBootstrap(*broker, {kEventsTopic, "tidewatch.commands", "tidewatch.state",
                                   kEscalationsTopic, "tidewatch.dead-letter"});
    if (!bootstrap) {
      ADD_FAILURE() << name << " (" << broker->Describe()
                    << ") did not print bootstrap= and its topics: " << broker->Stdout()
                    << broker->Stderr();
      return std::nullopt;
    }
    return Cluster{*bootstrap, "", false};
  }

  // Starts tidewatchd; fills `instance` once it serves HTTP. On the real
  // broker it runs exactly-once (--exactly_once=auto).
  bool StartTidewatchd(const Cluster& cluster, const std::string& id, const std::string& run,
                       Instance* instance, const std::string& commit_interval = "1s",
                       const std::vector<std::string>& more_flags = {}) {
    std::vector<std::string> argv = {
        kTidewatchd,
        absl::StrCat("--brokers=", cluster.bootstrap),
        "--clock=event",
        "--metrics_address=127.0.0.1:0",
        absl::StrCat("--instance_id=", id),
        absl::StrCat("--commit_interval=", commit_interval),
        "--quiet",
        absl::StrCat("--group=", cluster.Group()),
        absl::StrCat("--events_topic=", cluster.Topic("telephony.call-events")),
        absl::StrCat("--commands_topic=", cluster.Topic("tidewatch.commands")),
        absl::StrCat("--state_topic=", cluster.Topic("tidewatch.state")),
        absl::StrCat("--escalations_topic=", cluster.Topic("tidewatch.escalations")),
        absl::StrCat("--dead_letter_topic=", cluster.Topic("tidewatch.dead-letter"))};
    argv.insert(argv.end(), more_flags.begin(), more_flags.end());
    Child* child = children_.Spawn(absl::StrCat("tidewatchd-", id, run), std::move(argv));
    if (child == nullptr) return false;
    const int port = WaitForPort(*child);
    if (port <= 0) {
      ADD_FAILURE() << child->name() << " (" << child->Describe()
                    << ") never said which port it serves on:\n"
                    << child->Stderr();
      return false;
    }
    *instance = Instance{id, child, port};
    return true;
  }

  // Waits (up to `limit`, asking every `every`) until `instance` has applied
  // events: its /lines count offered calls. `offered`, when given, is set to
  // the last count seen.
  bool WaitUntilProcessing(const Instance& instance, absl::Duration limit, absl::Duration every,
                           int64_t* offered = nullptr) {
    int64_t seen = 0;
    const bool processing = WaitFor(
        [&] {
          std::optional<std::map<std::string, LineView>> lines = GetLines(instance.port);
          if (!lines) return false;
          seen = 0;
          for (const auto& [id, l] : *lines) seen += l.totals.offered;
          return seen > 0;
        },
        limit, every);
    if (offered != nullptr) *offered = seen;
    return processing;
  }

  // tide-sim: the summons day, to Kafka when `bootstrap` is set.
  Child* StartSim(const std::string& name, const std::optional<Cluster>& bootstrap,
                  const std::string& speed, const std::string& summary) {
    std::vector<std::string> argv = {kTideSim, "--scenario",        kSummonsScenario,
                                     "--seed", absl::StrCat(kSeed), "--summary",
                                     summary};
    if (bootstrap) {
      argv.insert(argv.end(), {"--brokers", bootstrap->bootstrap, "--topic",
                               bootstrap->Topic(kEventsTopic), "--speed", speed});
    } else {
      argv.insert(argv.end(), {"--out", "/dev/null"});
    }
    return children_.Spawn(name, std::move(argv));
  }

  // The day's summary without Kafka (deterministic for the seed).
  std::optional<SimSummary> OfflineSummary() {
    const std::string path = absl::StrCat(children_.dir(), "/offline-summary.json");
    Child* sim = StartSim("tide-sim-offline", std::nullopt, "max", path);
    if (sim == nullptr) return std::nullopt;
    if (!sim->Wait(absl::Seconds(30)) || sim->Describe() != "exit 0") {
      ADD_FAILURE() << "offline tide-sim: " << sim->Describe() << "\n" << sim->Stderr();
      return std::nullopt;
    }
    absl::StatusOr<SimSummary> s = ReadSummary(path);
    if (!s.ok()) {
      ADD_FAILURE() << s.status();
      return std::nullopt;
    }
    return *s;
  }

  // The day run through one fresh tidewatchd on a fresh broker at full
  // speed; computed once per process (the engine is deterministic in
  // event-clock mode).
  std::optional<Reference> GetReference(const SimSummary& summary) {
    static auto* references = new std::map<BrokerKind, std::optional<Reference>>();
    std::optional<Reference>* cached = &(*references)[GetParam()];
    if (!cached->has_value()) {
      *cached = ReferenceRun(summary);
    } else {
      std::printf("reference: from an earlier test in this process\n");
    }
    return *cached;
  }

  std::optional<Reference> ReferenceRun(const SimSummary& summary) {
    std::optional<Cluster> bootstrap = StartBroker("broker-reference");
    if (!bootstrap) return std::nullopt;
    Instance ref;
    if (!StartTidewatchd(*bootstrap, "ref", "", &ref)) return std::nullopt;
    if (!WaitFor([&] { return Observe({&ref}).all_ready; }, absl::Seconds(30))) {
      ADD_FAILURE() << "reference tidewatchd never ready";
      return std::nullopt;
    }
    const std::string summary_path = absl::StrCat(children_.dir(), "/reference-summary.json");
    Child* sim = StartSim("tide-sim-reference", bootstrap, "max", summary_path);
    if (sim == nullptr) return std::nullopt;
    if (!sim->Wait(absl::Seconds(60)) || sim->Describe() != "exit 0") {
      ADD_FAILURE() << "reference tide-sim: " << sim->Describe() << "\n" << sim->Stderr();
      return std::nullopt;
    }
    ClusterView view;
    if (!WaitFor(
            [&] {
              view = Observe({&ref});
              return view.all_ready && view.totals == summary.lines;
            },
            absl::Seconds(30))) {
      ADD_FAILURE() << "reference run: totals never matched the summary " << Describe(summary.lines)
                    << "; saw " << view.Describe();
      return std::nullopt;
    }
    if (!WaitForQuietTopic(bootstrap->bootstrap, bootstrap->Topic(kEscalationsTopic),
                           absl::Seconds(2), absl::Seconds(20))) {
      ADD_FAILURE() << "reference run: escalations never stopped";
      return std::nullopt;
    }
    absl::StatusOr<std::vector<kafka::Record>> records =
        ReadTopic(bootstrap->bootstrap, bootstrap->Topic(kEscalationsTopic));
    if (!records.ok()) {
      ADD_FAILURE() << records.status();
      return std::nullopt;
    }
    EscalationLog log = CheckEscalations(*records);
    EXPECT_TRUE(log.problems.empty()) << "reference run:\n" << absl::StrJoin(log.problems, "\n");
    EXPECT_EQ(log.duplicates, 0) << "an uninterrupted run re-emitted escalations";
    Reference out{std::move(log), {}};
    view = Observe({&ref});
    for (const auto& [id, l] : view.lines) out.lines[id] = l.json;
    if (out.lines.size() != summary.lines.size()) {
      ADD_FAILURE() << "reference run: /lines lost lines: " << view.Describe();
      return std::nullopt;
    }
    ref.child->Signal(SIGTERM);
    ref.child->Wait(absl::Seconds(10));
    return out;
  }

  testing::TestChildren children_;
  PhaseTimer timer_;
};

TEST_P(TidewatchdProcessTest, KillNineMidSurgeAndRestart) {
  std::optional<SimSummary> summary = OfflineSummary();
  ASSERT_TRUE(summary.has_value());
  ASSERT_TRUE(summary->lines.contains("revenues"));
  timer_.Mark("offline summary");

  std::optional<Reference> reference = GetReference(*summary);
  ASSERT_TRUE(reference.has_value());
  ASSERT_GE(reference->escalations.CountLine("revenues"), 3)
      << "the surge should escalate revenues";
  std::printf("reference: %zu escalations (%ld for revenues)\n",
              reference->escalations.by_id.size(),
              static_cast<long>(reference->escalations.CountLine("revenues")));
  timer_.Mark("reference run (1 instance, full speed)");

  std::optional<Cluster> bootstrap = StartBroker("broker");
  ASSERT_TRUE(bootstrap.has_value());
  std::vector<Instance> instances(3);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(StartTidewatchd(*bootstrap, absl::StrCat(i + 1), "", &instances[i],
                                kCrashRunCommitInterval));
  }
  auto all = [&] {
    std::vector<Instance*> out;
    for (Instance& in : instances) out.push_back(&in);
    return out;
  };
  // Ready, every line owned once, and the same owners for 2 s running.
  {
    ClusterView view;
    std::map<std::string, std::vector<std::string>> last_owners;
    absl::Time stable_since = absl::InfiniteFuture();
    const bool stable = WaitFor(
        [&] {
          view = Observe(all());
          if (!view.all_ready || !view.OwnedOnce(summary->lines)) {
            stable_since = absl::InfiniteFuture();
            return false;
          }
          if (view.owners != last_owners || stable_since == absl::InfiniteFuture()) {
            last_owners = view.owners;
            stable_since = absl::Now();
          }
          return absl::Now() - stable_since >= absl::Seconds(2);
        },
        absl::Seconds(45), absl::Milliseconds(250));
    ASSERT_TRUE(stable) << "the group never settled: " << view.Describe();
    std::printf("group settled: %s\n", view.Describe().c_str());
  }
  timer_.Mark("3 instances ready, each line owned once");

  const std::string summary_path = absl::StrCat(children_.dir(), "/summary.json");
  EscalationWatcher watcher;
  ASSERT_TRUE(watcher.Start(*bootstrap, {"revenues", "adult-social-care"}).ok());
  Child* sim = StartSim("tide-sim", bootstrap, kPacedSpeed, summary_path);
  ASSERT_NE(sim, nullptr);
  const absl::Time sim_start = absl::Now();
  const double paced_run_s = absl::ToDoubleSeconds(summary->span) / kPacedSpeedFactor;
  // Where the paced day is (event time), from the wall clock.
  auto day_clock = [&] {
    const double s = absl::ToDoubleSeconds(absl::Now() - sim_start);
    return absl::StrFormat("%.1f s into the paced day (%.0f%% of %.0f s)", s, 100 * s / paced_run_s,
                           paced_run_s);
  };

  // SIGKILLs the instance owning `line` once that line is at tier `level`
  // or above at it (or at `latest` whatever the tier); returns it.
  auto kill_owner_of = [&](const std::string& line, int level, absl::Time latest) -> Instance* {
    ClusterView view = Observe(all());
    if (view.owners[line].size() != 1) {
      ADD_FAILURE() << line << " not owned once before the kill: " << view.Describe();
      return nullptr;
    }
    Instance* victim = nullptr;
    for (Instance& in : instances) {
      if (in.id == view.owners[line][0]) victim = &in;
    }
    if (victim == nullptr) {
      ADD_FAILURE() << "no instance " << view.owners[line][0];
      return nullptr;
    }
    // The trigger is the rise as delivered to the escalations topic, so the
    // victim dies with that output out but (most likely: commits are every
    // 3 s) not yet covered by committed state.
    const std::optional<std::string> rise = watcher.WaitForRise(line, level, latest);
    LineView seen;
    if (std::optional<std::map<std::string, LineView>> lines = GetLines(victim->port);
        lines && lines->contains(line)) {
      seen = lines->at(line);
    }
    victim->child->Signal(SIGKILL);
    victim->child->Wait(absl::Seconds(5));
    std::printf(
        "SIGKILL instance %s (%s) %s, %s: %s at tier %d, offered %ld of %ld\n", victim->id.c_str(),
        victim->child->Describe().c_str(), day_clock().c_str(),
        rise ? absl::StrCat("just after ", *rise, " was delivered").c_str() : "at the deadline",
        line.c_str(), seen.tide_level, static_cast<long>(seen.totals.offered),
        static_cast<long>(summary->lines[line].offered));
    return victim;
  };
  // Reports who owns `lines` whenever that changes, until `done()`.
  std::map<std::string, std::string> last_owners;
  auto watch_owners = [&](const std::vector<std::string>& lines, const std::function<bool()>& done,
                          absl::Duration timeout) {
    return WaitFor(
        [&] {
          ClusterView v = Observe(all());
          for (const std::string& line : lines) {
            const std::string now = absl::StrCat("[", absl::StrJoin(v.owners[line], ","), "]");
            if (last_owners[line] != now) {
              last_owners[line] = now;
              std::printf("  %s: %s owned by %s (offered %ld)\n", day_clock().c_str(), line.c_str(),
                          now.c_str(), static_cast<long>(v.totals[line].offered));
            }
          }
          return done();
        },
        timeout, absl::Milliseconds(250));
  };

  // Crash 1, mid-surge: the owner of revenues, once revenues is at tier 2
  // (call-ups open; what it produced since its last commit is not covered
  // by committed state). Restarted 3 s later, before its session has timed
  // out: it rejoins and recovers its partitions itself.
  Instance* victim = kill_owner_of("revenues", 2, sim_start + absl::Seconds(30));
  ASSERT_NE(victim, nullptr);
  timer_.Mark("paced day up to crash 1 (revenues at tier 2)");
  absl::SleepFor(absl::Seconds(3));
  ASSERT_TRUE(
      StartTidewatchd(*bootstrap, victim->id, "-restarted", victim, kCrashRunCommitInterval));
  ASSERT_TRUE(watch_owners(
      {"revenues"},
      [&] {
        ClusterView v = Observe(all());
        return v.all_ready && v.OwnedOnce(summary->lines);
      },
      absl::Seconds(30)))
      << "the group did not settle after restart 1";
  timer_.Mark("restart 1 and the group settled again");

  // Crash 2, in the afternoon: the owner of adult-social-care, once that
  // line rises (13:00 UTC in the reference) or by 13:08 UTC (it recedes at
  // 13:10). This time the restart waits until a surviving instance has
  // taken the line over (after the session timeout), so a different
  // process recovers the dead one's partitions from the state topic; the
  // restart then moves partitions again through clean revocations.
  const absl::CivilDay day = absl::ToCivilDay(summary->first_event, absl::UTCTimeZone());
  const absl::Time at_1308 = absl::FromCivil(
      absl::CivilMinute(day.year(), day.month(), day.day(), 13, 8), absl::UTCTimeZone());
  Instance* victim2 = kill_owner_of(
      "adult-social-care", 1, sim_start + (at_1308 - summary->first_event) / kPacedSpeedFactor);
  ASSERT_NE(victim2, nullptr);
  const std::string victim2_id = victim2->id;
  timer_.Mark("paced day up to crash 2 (adult-social-care)");
  ASSERT_TRUE(watch_owners(
      {"adult-social-care"},
      [&] {
        ClusterView v = Observe(all());
        return v.owners["adult-social-care"].size() == 1 &&
               v.owners["adult-social-care"][0] != victim2_id;
      },
      absl::Seconds(40)))
      << "no surviving instance took adult-social-care over";
  timer_.Mark("a survivor took the dead instance's partitions");
  ASSERT_TRUE(
      StartTidewatchd(*bootstrap, victim2->id, "-restarted", victim2, kCrashRunCommitInterval));
  timer_.Mark("restart 2");

  ASSERT_TRUE(watch_owners(
      {"revenues", "adult-social-care"},
      [&] { return sim->Wait(absl::ZeroDuration()).has_value(); }, absl::Seconds(90)))
      << "tide-sim did not finish";
  ASSERT_EQ(sim->Describe(), "exit 0") << sim->Stderr();
  absl::StatusOr<SimSummary> produced = ReadSummary(summary_path);
  ASSERT_TRUE(produced.ok()) << produced.status();
  ASSERT_EQ(produced->lines, summary->lines) << "tide-sim is not deterministic for the seed";
  timer_.Mark("rest of the paced day");

  // Settled: ready, owned once, totals equal to the summary for 2 s.
  ClusterView view;
  {
    absl::Time matched_since = absl::InfiniteFuture();
    const bool settled = WaitFor(
        [&] {
          view = Observe(all());
          const bool ok = view.all_ready && view.all_answered && view.OwnedOnce(summary->lines) &&
                          view.totals == summary->lines;
          if (!ok) {
            matched_since = absl::InfiniteFuture();
          } else if (matched_since == absl::InfiniteFuture()) {
            matched_since = absl::Now();
          }
          return ok && absl::Now() - matched_since >= absl::Seconds(2);
        },
        absl::Seconds(60), absl::Milliseconds(250));
    EXPECT_TRUE(settled) << "never settled on the summary's totals";
  }
  timer_.Mark("instances settled");
  EXPECT_TRUE(view.all_ready) << view.Describe();
  for (const auto& [line, want] : summary->lines) {
    EXPECT_EQ(view.owners[line].size(), 1u) << line << ": " << view.Describe();
  }
  ExpectLinesMatchReference(view, *summary, *reference);

  const std::optional<EscalationLog> checked =
      ReadCheckedEscalations(bootstrap->bootstrap, bootstrap->Topic(kEscalationsTopic),
                             absl::Seconds(2), absl::Seconds(20));
  ASSERT_TRUE(checked.has_value());
  const EscalationLog& log = *checked;
  if (real()) {
    // Exactly-once: what a killed instance produced after its last commit
    // was aborted; its successor's re-emission is the only committed copy.
    EXPECT_EQ(log.duplicates, 0) << "committed escalations emitted twice: "
                                 << absl::StrJoin(log.duplicate_ids, ", ");
  }
  // The same escalations as the uninterrupted run, byte for byte.
  ExpectSameEscalations(reference->escalations, log);
  timer_.Mark("escalations checked");
}

// --exactly_once: auto picks transactions on the real broker and the
// idempotent path on kafka-dev-broker (recognised by its cluster id); true
// on the in-process broker and a value that is not auto/true/false are
// refused with exit 2 and a message naming the problem.
TEST_P(TidewatchdProcessTest, ExactlyOnceFlagFollowsTheBroker) {
  std::optional<Cluster> cluster = StartBroker("broker");
  ASSERT_TRUE(cluster.has_value());
  auto run = [&](const std::string& name, const std::string& value) {
    return children_.Spawn(
        name,
        {kTidewatchd, absl::StrCat("--brokers=", cluster->bootstrap), "--metrics_address=",
         absl::StrCat("--exactly_once=", value), absl::StrCat("--group=", cluster->Group()),
         absl::StrCat("--events_topic=", cluster->Topic("telephony.call-events")),
         absl::StrCat("--commands_topic=", cluster->Topic("tidewatch.commands")),
         absl::StrCat("--state_topic=", cluster->Topic("tidewatch.state")), "--instance_id=flag"});
  };
  Child* bad = run("tidewatchd-bad-value", "maybe");
  ASSERT_NE(bad, nullptr);
  ASSERT_TRUE(bad->Wait(absl::Seconds(30)).has_value());
  EXPECT_EQ(bad->Describe(), "exit 2");
  EXPECT_NE(bad->Stderr().find("--exactly_once must be auto, true or false, not 'maybe'"),
            std::string::npos)
      << bad->Stderr();

  Child* autod = run("tidewatchd-auto", "auto");
  ASSERT_NE(autod, nullptr);
  const std::string want = real() ? "exactly-once (transactions, read_committed)"
                                  : "idempotent (at-least-once, offsets after outputs)";
  EXPECT_TRUE(WaitFor([&] { return autod->Stderr().find("running") != std::string::npos; },
                      absl::Seconds(30)))
      << autod->Stderr();
  EXPECT_NE(autod->Stderr().find(want), std::string::npos) << autod->Stderr();
  if (!real()) {
    // No API and no policy topic on this cluster: it runs on its --policy.
    EXPECT_NE(autod->Stderr().find("NOTE: no tidewatch.policy topic: this instance keeps its "
                                   "--policy"),
              std::string::npos)
        << autod->Stderr();
  }
  if (real()) {
    EXPECT_NE(autod->Stderr().find(absl::StrCat("transactional.id ", cluster->Group(), "-flag")),
              std::string::npos)
        << autod->Stderr();
  }
  autod->Signal(SIGTERM);
  ASSERT_TRUE(autod->Wait(absl::Seconds(15)).has_value());
  EXPECT_EQ(autod->Describe(), "exit 0") << autod->Stderr();

  if (!real()) {
    Child* forced = run("tidewatchd-forced", "true");
    ASSERT_NE(forced, nullptr);
    ASSERT_TRUE(forced->Wait(absl::Seconds(30)).has_value());
    EXPECT_EQ(forced->Describe(), "exit 2");
    EXPECT_NE(forced->Stderr().find("--exactly_once=true needs a real Kafka cluster"),
              std::string::npos)
        << forced->Stderr();
  }
}

TEST_P(TidewatchdProcessTest, SigtermDuringLoadExitsCleanly) {
  std::optional<SimSummary> summary = OfflineSummary();
  ASSERT_TRUE(summary.has_value());
  timer_.Mark("offline summary");
  std::optional<Reference> reference = GetReference(*summary);
  ASSERT_TRUE(reference.has_value());
  timer_.Mark("reference run (1 instance, full speed)");

  std::optional<Cluster> bootstrap = StartBroker("broker");
  ASSERT_TRUE(bootstrap.has_value());
  Instance first;
  ASSERT_TRUE(StartTidewatchd(*bootstrap, "1", "", &first));
  ASSERT_TRUE(WaitFor([&] { return Observe({&first}).all_ready; }, absl::Seconds(30),
                      absl::Milliseconds(50)))
      << first.child->Stderr();
  timer_.Mark("instance ready");
  // The day is produced while the instance runs, paced to last about ten
  // seconds, so that the instance is certainly mid-stream when it is told
  // to stop. (A day waiting in the topic is no longer enough: the instance
  // applies all 15,647 events within a few fetches.)
  Child* sim = StartSim("tide-sim", bootstrap, kSigtermDaySpeed,
                        absl::StrCat(children_.dir(), "/summary.json"));
  ASSERT_NE(sim, nullptr);
  int64_t seen_offered = 0;
  ASSERT_TRUE(WaitUntilProcessing(first, absl::Seconds(30), absl::Milliseconds(5), &seen_offered))
      << "tidewatchd never started processing";
  first.child->Signal(SIGTERM);
  const absl::Time term = absl::Now();
  timer_.Mark("instance joined and started processing");

  ASSERT_TRUE(first.child->Wait(absl::Seconds(10)).has_value()) << "no exit within 10 s of SIGTERM";
  const std::string log = first.child->Stderr();
  std::printf("exit %.2f s after SIGTERM: %s\n", absl::ToDoubleSeconds(absl::Now() - term),
              first.child->Describe().c_str());
  EXPECT_EQ(first.child->Describe(), "exit 0") << log;
  const size_t stopped = log.find("stopped cleanly: ");
  ASSERT_NE(stopped, std::string::npos) << log;
  int64_t applied = -1;
  {
    const size_t start = stopped + 17;
    ASSERT_TRUE(absl::SimpleAtoi(log.substr(start, log.find(' ', start) - start), &applied)) << log;
  }
  std::printf("stopped after %ld of %ld events (offered seen at SIGTERM: %ld)\n",
              static_cast<long>(applied), static_cast<long>(summary->events),
              static_cast<long>(seen_offered));
  EXPECT_GT(applied, 0);
  EXPECT_LT(applied, summary->events) << "SIGTERM did not land mid-stream";
  timer_.Mark("SIGTERM to exit");
  ASSERT_TRUE(sim->Wait(absl::Seconds(60)).has_value());
  ASSERT_EQ(sim->Describe(), "exit 0") << sim->Stderr();
  timer_.Mark("rest of the day produced");

  // Committed offsets: within the partitions, and exactly what was applied
  // (every record is a valid event; one instance, no replays).
  {
    kafka::ConsumerOptions options;
    options.group_id = bootstrap->Group();
    absl::StatusOr<std::unique_ptr<kafka::Consumer>> consumer =
        kafka::NewConsumer(ClientConfig(bootstrap->bootstrap, "itest-committed"), options);
    ASSERT_TRUE(consumer.ok()) << consumer.status();
    std::vector<kafka::TopicPartition> partitions;
    for (int p = 0; p < kPartitions; ++p) {
      partitions.push_back({bootstrap->Topic(kEventsTopic), p});
    }
    absl::StatusOr<std::vector<kafka::TopicPartition>> committed =
        (*consumer)->Committed(partitions, absl::Seconds(10));
    ASSERT_TRUE(committed.ok()) << committed.status();
    absl::StatusOr<std::vector<kafka::Watermarks>> wm =
        Watermarks(**consumer, bootstrap->Topic(kEventsTopic));
    ASSERT_TRUE(wm.ok()) << wm.status();
    int64_t sum = 0, total = 0;
    std::string table;
    for (const kafka::TopicPartition& tp : *committed) {
      const kafka::Watermarks& w = (*wm)[tp.partition];
      total += w.high - w.low;
      absl::StrAppend(&table, " [", tp.partition, "] ", tp.offset, "/", w.high);
      if (tp.offset == kafka::kOffsetInvalid) continue;
      EXPECT_EQ(w.low, 0) << "the broker dropped events of partition " << tp.partition;
      EXPECT_GT(tp.offset, 0) << tp.partition;
      EXPECT_LE(tp.offset, w.high) << tp.partition;
      sum += tp.offset - w.low;
    }
    std::printf("committed/high:%s\n", table.c_str());
    EXPECT_EQ(total, summary->events);
    EXPECT_EQ(sum, applied) << "committed offsets do not add up to the events applied:" << table;
    (*consumer)->Close().IgnoreError();
  }
  timer_.Mark("committed offsets checked");

  Instance second;
  ASSERT_TRUE(StartTidewatchd(*bootstrap, "1", "-restarted", &second));
  ClusterView view;
  const bool finished = WaitFor(
      [&] {
        view = Observe({&second});
        return view.all_ready && view.totals == summary->lines;
      },
      absl::Seconds(40), absl::Milliseconds(250));
  EXPECT_TRUE(finished) << "the restarted instance never reached the summary's totals "
                        << Describe(summary->lines) << "; saw " << view.Describe();
  ExpectLinesMatchReference(view, *summary, *reference);
  timer_.Mark("restarted instance finished the day");

  const std::optional<EscalationLog> escalations =
      ReadCheckedEscalations(bootstrap->bootstrap, bootstrap->Topic(kEscalationsTopic),
                             absl::Seconds(2), absl::Seconds(20));
  ASSERT_TRUE(escalations.has_value());
  EXPECT_GE(escalations->CountLine("revenues"), 3);
  // State and offsets were committed at shutdown: nothing is emitted twice.
  EXPECT_EQ(escalations->duplicates, 0);
  ExpectSameEscalations(reference->escalations, *escalations);
  timer_.Mark("escalations checked");
}

// The stop is bounded whatever the broker does. With kafka-dev-broker frozen
// (SIGSTOP: connections stay open, nothing answers) tidewatchd can neither
// commit nor leave its group: after SIGTERM it exits with status 1 by
// --shutdown_timeout and says that the stop was not clean; a restarted
// instance takes the partitions over; and a second SIGTERM ends a stop at
// once (status 128 + 15); a stop while starting ends at once (status 0).
// A --shutdown_timeout that is not positive is refused (exit 2). In-process broker only: freezing
// the shared real broker would disturb the other tests' clusters.
class TidewatchdStopTest : public TidewatchdProcessTest {};

TEST_P(TidewatchdStopTest, StopIsBoundedWhenTheBrokerDoesNotAnswer) {
  Child* broker = nullptr;
  std::optional<Cluster> cluster = StartBroker("broker", &broker);
  ASSERT_TRUE(cluster.has_value());
  ASSERT_NE(broker, nullptr);
  Child* sim = StartSim("tide-sim", cluster, "max", absl::StrCat(children_.dir(), "/summary.json"));
  ASSERT_NE(sim, nullptr);
  ASSERT_TRUE(sim->Wait(absl::Seconds(60)).has_value());
  ASSERT_EQ(sim->Describe(), "exit 0") << sim->Stderr();

  Child* zero = children_.Spawn("tidewatchd-zero-timeout",
                                {kTidewatchd, absl::StrCat("--brokers=", cluster->bootstrap),
                                 "--metrics_address=", "--shutdown_timeout=0s"});
  ASSERT_NE(zero, nullptr);
  ASSERT_TRUE(zero->Wait(absl::Seconds(30)).has_value());
  EXPECT_EQ(zero->Describe(), "exit 2");
  EXPECT_NE(zero->Stderr().find("--shutdown_timeout must be positive, not 0"), std::string::npos)
      << zero->Stderr();
  for (const auto& [flag, message] : std::vector<std::pair<std::string, std::string>>{
           {"--commit_interval=0s", "--commit_interval must be positive, not 0"},
           {"--idle_commit_gap=-1s", "--idle_commit_gap must not be negative, not -1s"},
           {"--max_metric_lines=0", "--max_metric_lines must be at least 1, not 0"}}) {
    Child* bad = children_.Spawn(
        absl::StrCat("tidewatchd-bad-", flag.substr(2, flag.find('=') - 2)),
        {kTidewatchd, absl::StrCat("--brokers=", cluster->bootstrap), "--metrics_address=", flag});
    ASSERT_NE(bad, nullptr);
    ASSERT_TRUE(bad->Wait(absl::Seconds(30)).has_value());
    EXPECT_EQ(bad->Describe(), "exit 2") << flag;
    EXPECT_NE(bad->Stderr().find(message), std::string::npos) << bad->Stderr();
  }

  // One SIGTERM, the broker frozen: out by the 3 s limit, status 1. (The
  // instances commit only once, at their start, not even when caught up
  // (--idle_commit_gap=0): whenever the signal comes,
  // the stop has applied events to make durable, so it needs the broker.)
  Instance first;
  ASSERT_TRUE(StartTidewatchd(*cluster, "1", "", &first, "1h",
                              {"--shutdown_timeout=3s", "--idle_commit_gap=0"}));
  ASSERT_TRUE(WaitUntilProcessing(first, absl::Seconds(40), absl::Milliseconds(20)))
      << first.child->Stderr();
  broker->Signal(SIGSTOP);
  first.child->Signal(SIGTERM);
  absl::Time term = absl::Now();
  ASSERT_TRUE(first.child->Wait(absl::Seconds(10)).has_value())
      << "no exit 10 s after SIGTERM with --shutdown_timeout=3s";
  const absl::Duration took = absl::Now() - term;
  std::printf("exit %.2f s after SIGTERM, broker frozen: %s\n", absl::ToDoubleSeconds(took),
              first.child->Describe().c_str());
  std::string log = first.child->Stderr();
  EXPECT_EQ(first.child->Describe(), "exit 1") << log;
  EXPECT_GE(took, absl::Seconds(3)) << log;
  EXPECT_NE(log.find("the stop took longer than --shutdown_timeout=3s: exiting now WITHOUT a "
                     "clean stop"),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find("stopped cleanly"), std::string::npos) << log;

  // The broker back: a restarted instance takes the partitions over (once
  // the first one's session has expired); then a stop, the broker frozen
  // again, cut short by a second SIGTERM.
  broker->Signal(SIGCONT);
  Instance second;
  ASSERT_TRUE(StartTidewatchd(*cluster, "1", "-restarted", &second, "1h", {"--idle_commit_gap=0"}));
  ASSERT_TRUE(WaitUntilProcessing(second, absl::Seconds(40), absl::Milliseconds(20)))
      << second.child->Stderr();
  broker->Signal(SIGSTOP);
  second.child->Signal(SIGTERM);
  absl::SleepFor(absl::Milliseconds(500));
  ASSERT_FALSE(second.child->Wait(absl::ZeroDuration()).has_value())
      << "stopped within 0.5 s of SIGTERM with the broker frozen: " << second.child->Describe()
      << "\n"
      << second.child->Stderr();
  second.child->Signal(SIGTERM);
  term = absl::Now();
  ASSERT_TRUE(second.child->Wait(absl::Seconds(5)).has_value())
      << "no exit 5 s after the second SIGTERM";
  std::printf("exit %.2f s after the second SIGTERM: %s\n",
              absl::ToDoubleSeconds(absl::Now() - term), second.child->Describe().c_str());
  log = second.child->Stderr();
  EXPECT_EQ(second.child->Describe(), absl::StrCat("exit ", 128 + SIGTERM)) << log;
  EXPECT_NE(log.find("second signal: exiting at once"), std::string::npos) << log;

  // A stop during startup, while a step waits on the frozen broker (the
  // events topic's partitions, up to 30 s): nothing was consumed, so it
  // ends at once, status 0, not by the watchdog's limit (20 s by default).
  Child* starting = children_.Spawn(
      "tidewatchd-starting",
      {kTidewatchd, absl::StrCat("--brokers=", cluster->bootstrap), "--metrics_address="});
  ASSERT_NE(starting, nullptr);
  absl::SleepFor(absl::Seconds(1));
  ASSERT_FALSE(starting->Wait(absl::ZeroDuration()).has_value()) << starting->Stderr();
  starting->Signal(SIGTERM);
  ASSERT_TRUE(starting->Wait(absl::Seconds(10)).has_value())
      << "no exit 10 s after SIGTERM during startup\n"
      << starting->Stderr();
  log = starting->Stderr();
  EXPECT_EQ(starting->Describe(), "exit 0") << log;
  EXPECT_NE(log.find("stopped during startup (a signal)"), std::string::npos) << log;
  EXPECT_EQ(log.find("--shutdown_timeout"), std::string::npos) << log;
  broker->Signal(SIGCONT);
}

// Zombie fencing (issue 10, acceptance 4), real broker only: exactly-once is
// what fences. Two instances share the group; mid-surge the owner of
// revenues is frozen with SIGSTOP past the session timeout, the other takes
// its partitions over, and then the frozen one is resumed with SIGCONT. It
// must find itself fenced (its group generation is gone, its transaction
// aborted by the broker) and exit with status 3 and a FENCED line, and the
// committed output must show nothing from it: the escalations read with
// read_committed are gapless, never repeated, and exactly the uninterrupted
// run's; the survivor's totals equal the simulator's summary.
class TidewatchdFencingTest : public TidewatchdProcessTest {};

TEST_P(TidewatchdFencingTest, FrozenInstanceIsFencedAndPublishesNothing) {
  std::optional<SimSummary> summary = OfflineSummary();
  ASSERT_TRUE(summary.has_value());
  std::optional<Reference> reference = GetReference(*summary);
  ASSERT_TRUE(reference.has_value());
  timer_.Mark("reference run (1 instance, full speed)");

  std::optional<Cluster> cluster = StartBroker("broker");
  ASSERT_TRUE(cluster.has_value());
  std::vector<Instance> instances(2);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(StartTidewatchd(*cluster, absl::StrCat(i + 1), "", &instances[i]));
  }
  ClusterView view;
  ASSERT_TRUE(WaitFor(
      [&] {
        view = Observe({&instances[0], &instances[1]});
        return view.all_ready && view.OwnedOnce(summary->lines);
      },
      absl::Seconds(45), absl::Milliseconds(250)))
      << "the group never settled: " << view.Describe();
  Instance* zombie = nullptr;
  Instance* survivor = nullptr;
  for (Instance& in : instances) {
    (in.id == view.owners["revenues"][0] ? zombie : survivor) = &in;
  }
  ASSERT_NE(zombie, nullptr);
  ASSERT_NE(survivor, nullptr);
  timer_.Mark("2 instances ready");

  EscalationWatcher watcher;
  ASSERT_TRUE(watcher.Start(*cluster, {"revenues"}).ok());
  Child* sim =
      StartSim("tide-sim", cluster, kPacedSpeed, absl::StrCat(children_.dir(), "/summary.json"));
  ASSERT_NE(sim, nullptr);
  // Mid-surge: once revenues has risen (committed, so read_committed sees it).
  const std::optional<std::string> rise =
      watcher.WaitForRise("revenues", 1, absl::Now() + absl::Seconds(30));
  zombie->child->Signal(SIGSTOP);
  std::printf("SIGSTOP instance %s (owner of revenues) %s\n", zombie->id.c_str(),
              rise ? absl::StrCat("after ", *rise).c_str() : "at the deadline");
  timer_.Mark("surge under way, owner frozen");

  // The survivor takes every line over once the frozen member's session
  // (6 s) has expired.
  ASSERT_TRUE(WaitFor(
      [&] {
        view = Observe({survivor});
        return view.all_ready && view.OwnedOnce(summary->lines);
      },
      absl::Seconds(60), absl::Milliseconds(250)))
      << "the survivor never took the frozen instance's lines over: " << view.Describe();
  timer_.Mark("survivor owns every line");
  absl::SleepFor(absl::Seconds(3));  // the survivor commits past the zombie
  zombie->child->Signal(SIGCONT);
  const absl::Time resumed = absl::Now();
  ASSERT_TRUE(zombie->child->Wait(absl::Seconds(40)).has_value())
      << "the resumed zombie did not exit:\n"
      << Tail(zombie->child->Stderr(), 20);
  const std::string zombie_log = zombie->child->Stderr();
  std::printf("zombie: %s %.1f s after SIGCONT; its last lines:\n%s",
              zombie->child->Describe().c_str(), absl::ToDoubleSeconds(absl::Now() - resumed),
              Tail(zombie_log, 4).c_str());
  EXPECT_EQ(zombie->child->Describe(), "exit 3") << zombie_log;
  EXPECT_NE(zombie_log.find("FENCED"), std::string::npos) << zombie_log;
  timer_.Mark("zombie resumed, fenced and gone");

  ASSERT_TRUE(sim->Wait(absl::Seconds(90)).has_value()) << "tide-sim did not finish";
  ASSERT_EQ(sim->Describe(), "exit 0") << sim->Stderr();
  ASSERT_TRUE(WaitFor(
      [&] {
        view = Observe({survivor});
        return view.all_ready && view.totals == summary->lines;
      },
      absl::Seconds(60), absl::Milliseconds(250)))
      << "survivor totals never matched the summary " << Describe(summary->lines) << "; saw "
      << view.Describe();
  ExpectLinesMatchReference(view, *summary, *reference);
  const std::optional<EscalationLog> checked = ReadCheckedEscalations(
      cluster->bootstrap, cluster->Topic(kEscalationsTopic), absl::Seconds(2), absl::Seconds(30));
  ASSERT_TRUE(checked.has_value());
  const EscalationLog& log = *checked;
  EXPECT_EQ(log.duplicates, 0) << "committed escalations emitted twice (the zombie published?): "
                               << absl::StrJoin(log.duplicate_ids, ", ");
  ExpectSameEscalations(reference->escalations, log);
  timer_.Mark("escalations checked");
}

// Soak (issue 10, acceptance 3), in the style of Kafka Streams' exactly-once
// system test; label `soak`, run by scripts/soak, not by scripts/test. Real
// broker only. Three instances (commit interval 1 s) process the summons day
// produced at a steady pace (TIDEWATCH_SOAK_SPEED, default 360x: ~92 s),
// while a chaos loop with a fixed seed picks a victim at random intervals:
//   KillInstances: one instance, chosen at random, SIGKILLed and restarted
//     at once with the same id (so its transactional.id fences the dead
//     producer and aborts its open transaction), at least 10 times;
//   KillBroker: the Kafka broker process itself SIGKILLed and started again
//     on its data, twice, mid-surge.
// Any instance that exits by itself (fenced: exit 3) is restarted too, as a
// supervisor would. The run is bounded (the day plus at most 3 minutes to
// settle) and stops by itself. The verifier then reads the escalations with
// read_committed: every escalation id (and so every call-up transition)
// exactly once, every line's sequence 1..N without a gap or a duplicate, the
// distinct escalations byte-identical to the uninterrupted reference run's;
// the instances' /lines totals equal the simulator's summary and each line's
// whole final state equals the reference's.
class TidewatchdSoakTest : public TidewatchdProcessTest {
 protected:
  enum class Chaos { kInstances, kBroker };

  void Soak(Chaos chaos) {
    std::optional<SimSummary> summary = OfflineSummary();
    ASSERT_TRUE(summary.has_value());
    std::optional<Reference> reference = GetReference(*summary);
    ASSERT_TRUE(reference.has_value());
    timer_.Mark("reference run (1 instance, full speed)");

    std::optional<Cluster> cluster = StartBroker("broker");
    ASSERT_TRUE(cluster.has_value());
    std::vector<Instance> instances(3);
    std::vector<int> generation(3, 0);
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(StartTidewatchd(*cluster, absl::StrCat(i + 1), "", &instances[i]));
    }
    auto all = [&] {
      std::vector<Instance*> out;
      for (Instance& in : instances) out.push_back(&in);
      return out;
    };
    ClusterView view;
    ASSERT_TRUE(WaitFor(
        [&] {
          view = Observe(all());
          return view.all_ready && view.OwnedOnce(summary->lines);
        },
        absl::Seconds(60), absl::Milliseconds(250)))
        << "the group never settled: " << view.Describe();
    timer_.Mark("3 instances ready");

    const char* speed_env = std::getenv("TIDEWATCH_SOAK_SPEED");
    const std::string speed = speed_env != nullptr ? speed_env : "360";
    double speed_factor = 360;
    ASSERT_TRUE(absl::SimpleAtod(speed, &speed_factor)) << speed;
    const absl::Duration day = summary->span / speed_factor;
    Child* sim =
        StartSim("tide-sim", cluster, speed, absl::StrCat(children_.dir(), "/summary.json"));
    ASSERT_NE(sim, nullptr);
    const absl::Time sim_start = absl::Now();

    // Restarts instance i (a new process, same id).
    auto restart = [&](int i) {
      ++generation[i];
      return StartTidewatchd(*cluster, instances[i].id, absl::StrCat("-run", generation[i]),
                             &instances[i]);
    };
    std::mt19937 rng(20261123);
    int kills = 0, broker_kills = 0, fenced_exits = 0;
    const int wanted = chaos == Chaos::kInstances ? 10 : 2;
    // Kills spread over the middle 80% of the day, with random jitter.
    const absl::Duration window = day * 0.8;
    const absl::Duration every = window / (wanted + 1);
    absl::Time next_kill = sim_start + day * 0.1 + every;
    while (!sim->Wait(absl::ZeroDuration()).has_value() || kills + broker_kills < wanted) {
      if (absl::Now() - sim_start > day + absl::Minutes(3)) break;
      // Supervisor: whoever exited by itself comes back.
      for (int i = 0; i < 3; ++i) {
        if (instances[i].child->Wait(absl::ZeroDuration()).has_value()) {
          const std::string how = instances[i].child->Describe();
          if (how == "exit 3") ++fenced_exits;
          std::printf("  instance %s exited (%s): restarting it\n", instances[i].id.c_str(),
                      how.c_str());
          ASSERT_TRUE(restart(i));
        }
      }
      if (absl::Now() >= next_kill && kills + broker_kills < wanted) {
        const double at = absl::ToDoubleSeconds(absl::Now() - sim_start);
        if (chaos == Chaos::kInstances) {
          const int i = std::uniform_int_distribution<int>(0, 2)(rng);
          instances[i].child->Signal(SIGKILL);
          instances[i].child->Wait(absl::Seconds(5));
          ++kills;
          std::printf("  kill %d: SIGKILL instance %s at %.1f s of %.0f s\n", kills,
                      instances[i].id.c_str(), at, absl::ToDoubleSeconds(day));
          ASSERT_TRUE(restart(i));
        } else {
          ASSERT_EQ(std::system(TIDEWATCH_SOURCE_DIR "/scripts/kafka-broker kill"), 0);
          ++broker_kills;
          std::printf("  broker kill %d at %.1f s of %.0f s\n", broker_kills, at,
                      absl::ToDoubleSeconds(day));
          absl::SleepFor(absl::Seconds(2));
          ASSERT_EQ(std::system(TIDEWATCH_SOURCE_DIR "/scripts/kafka-broker start >/dev/null"), 0);
        }
        const double jitter = std::uniform_real_distribution<double>(0.5, 1.5)(rng);
        next_kill = absl::Now() + every * jitter;
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
    timer_.Mark("paced day with chaos");
    std::printf("soak: %d instance kills, %d broker kills, %d fenced exits\n", kills, broker_kills,
                fenced_exits);
    EXPECT_GE(kills + broker_kills, wanted);
    ASSERT_TRUE(sim->Wait(absl::ZeroDuration()).has_value()) << "tide-sim did not finish";
    ASSERT_EQ(sim->Describe(), "exit 0") << sim->Stderr();

    // Settled: totals equal to the summary, every line owned once.
    const bool settled = WaitFor(
        [&] {
          for (int i = 0; i < 3; ++i) {
            if (instances[i].child->Wait(absl::ZeroDuration()).has_value() && !restart(i)) {
              return false;
            }
          }
          view = Observe(all());
          return view.all_ready && view.all_answered && view.OwnedOnce(summary->lines) &&
                 view.totals == summary->lines;
        },
        absl::Minutes(2), absl::Milliseconds(250));
    EXPECT_TRUE(settled) << "never settled on the summary's totals " << Describe(summary->lines)
                         << "; saw " << view.Describe();
    timer_.Mark("settled");
    ExpectLinesMatchReference(view, *summary, *reference);
    const std::optional<EscalationLog> checked = ReadCheckedEscalations(
        cluster->bootstrap, cluster->Topic(kEscalationsTopic), absl::Seconds(3), absl::Seconds(60));
    ASSERT_TRUE(checked.has_value());
    const EscalationLog& log = *checked;
    int64_t callups = 0;
    for (const auto& [id, bytes] : log.by_id) {
      tidewatch::v1::Escalation e;
      if (e.ParseFromString(bytes) && e.has_callup()) ++callups;
    }
    std::printf(
        "soak verdict input: %ld committed escalations, %zu distinct ids, %ld call-up "
        "transitions, %zu lines\n",
        static_cast<long>(log.records), log.by_id.size(), static_cast<long>(callups),
        log.sequences.size());
    EXPECT_EQ(log.duplicates, 0) << "committed escalations emitted twice: "
                                 << absl::StrJoin(log.duplicate_ids, ", ");
    ExpectSameEscalations(reference->escalations, log);
    timer_.Mark("verdict");
    for (Instance& in : instances) in.child->Signal(SIGTERM);
    for (Instance& in : instances) in.child->Wait(absl::Seconds(15));
  }
};

TEST_P(TidewatchdSoakTest, KillInstances) { Soak(Chaos::kInstances); }
TEST_P(TidewatchdSoakTest, KillBroker) { Soak(Chaos::kBroker); }

INSTANTIATE_TEST_SUITE_P(InProcess, TidewatchdProcessTest,
                         ::testing::Values(BrokerKind::kInProcess), tidewatch::testing::BrokerName);
INSTANTIATE_TEST_SUITE_P(RealKafka, TidewatchdProcessTest, ::testing::Values(BrokerKind::kReal),
                         tidewatch::testing::BrokerName);

INSTANTIATE_TEST_SUITE_P(RealKafka, TidewatchdFencingTest, ::testing::Values(BrokerKind::kReal),
                         tidewatch::testing::BrokerName);

INSTANTIATE_TEST_SUITE_P(InProcess, TidewatchdStopTest, ::testing::Values(BrokerKind::kInProcess),
                         tidewatch::testing::BrokerName);

// "Soak/...": label soak (tests/CMakeLists.txt), real broker only.
INSTANTIATE_TEST_SUITE_P(Soak, TidewatchdSoakTest, ::testing::Values(BrokerKind::kReal),
                         tidewatch::testing::BrokerName);

}  // namespace
}  // namespace tidewatch
