// The streaming core end to end on the in-process Kafka broker: every event
// produced is reflected exactly once in the KPIs (totals equal the
// simulator's summary); undecodable records land in the dead-letter topic
// with the original bytes and a reason header and the partition carries on;
// a broker outage mid-run loses nothing; a partition handed over to a new
// instance recovers from the state topic and continues as if nothing
// happened (same escalations, same totals).
//
// Every test runs against the in-process broker (label integration,
// idempotent path) and a real Apache Kafka (label kafka, exactly-once:
// transactions, read_committed readers; topics and group unique per test).
// On the real broker the outage is the broker process killed (SIGKILL) and
// started again on its data (scripts/kafka-broker kill / start).
#include "stream/stream_processor.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/clock.h"
#include "common/proto_time.h"
#include "engine/engine.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kafka/embedded_broker.h"
#include "kafka/forwarding.h"
#include "kafka/kafka.h"
#include "kafka/test_brokers.h"
#include "policy/policy.h"
#include "sim/event_sink.h"
#include "sim/scenario.h"
#include "sim/simulator.h"
#include "stream/faulty_producer.h"
#include "stream/partitioner.h"

namespace tidewatch::stream {
namespace {

constexpr int kPartitions = 12;

struct Day {
  std::vector<tidewatch::v1::CallEvent> events;
  sim::Summary summary;
};

const Day& SummonsDay() {
  static const Day* day = [] {
    auto* d = new Day;
    absl::StatusOr<sim::Scenario> scenario = sim::LoadScenarioFile(
        std::string(TIDEWATCH_SOURCE_DIR) + "/deploy/scenarios/council-tax-summons.yaml");
    sim::CollectingSink sink;
    sim::SimOptions options;
    options.seed = 7;
    d->summary = *sim::Simulate(*scenario, options, sink);
    d->events = sink.events();
    return d;
  }();
  return *day;
}

// Whether two runs' escalations (id -> bytes) are the same; prints how not.
::testing::AssertionResult SameEscalations(const std::map<std::string, std::string>& reference,
                                           const std::map<std::string, std::string>& got) {
  std::string diff;
  for (const auto& [id, bytes] : reference) {
    auto it = got.find(id);
    if (it == got.end()) {
      absl::StrAppend(&diff, "\n  missing ", id);
    } else if (it->second != bytes) {
      tidewatch::v1::Escalation a, b;
      a.ParseFromString(bytes);
      b.ParseFromString(it->second);
      absl::StrAppend(&diff, "\n  different ", id, ":\n    reference ", a.ShortDebugString(),
                      "\n    this run  ", b.ShortDebugString());
    }
  }
  for (const auto& [id, bytes] : got) {
    if (!reference.contains(id)) {
      tidewatch::v1::Escalation b;
      b.ParseFromString(bytes);
      absl::StrAppend(&diff, "\n  extra ", id, ": ", b.ShortDebugString());
    }
  }
  if (diff.empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << reference.size() << " reference escalations, " << got.size() << " in this run:" << diff;
}

// A processor's status in one line, for failure messages.
std::string Describe(const StreamStatus& s) {
  return absl::StrCat("ready ", s.ready, ", partitions ", s.partitions.size(), " (recovering ",
                      s.recovering.size(), "), applied ", s.events_applied, ", recoveries ",
                      s.recoveries, ", commits ", s.commits, " (failed ", s.commit_failures,
                      "), delivery errors ", s.delivery_errors, ", last error \"", s.last_error,
                      "\", consumer's \"", s.consumer_health.last_error, "\"",
                      s.consumer_health.all_brokers_down ? " (all down)" : "", ", producer's \"",
                      s.producer_health.last_error, "\"",
                      s.fenced ? absl::StrCat(", fenced: ", s.fenced_reason) : "");
}

// The first `limit` of `events` with each line's first event twice (the
// second a duplicate the engines set aside); the lines go into `lines`.
std::vector<tidewatch::v1::CallEvent> WithFirstEventsTwice(
    const std::vector<tidewatch::v1::CallEvent>& events, size_t limit,
    std::set<std::string>& lines) {
  std::vector<tidewatch::v1::CallEvent> out;
  for (size_t i = 0; i < limit && i < events.size(); ++i) {
    out.push_back(events[i]);
    if (lines.insert(events[i].line_id()).second) out.push_back(events[i]);
  }
  return out;
}

using ::tidewatch::stream::testing::FaultyProducer;
using ::tidewatch::testing::BrokerKind;

// A StreamTest's broker, and whether its processors run the engines on a
// worker thread (StreamOptions::engine_thread, tidewatchd's default).
struct StreamParam {
  BrokerKind broker;
  bool engine_thread;
};
void PrintTo(const StreamParam& p, std::ostream* os) {
  *os << ::tidewatch::testing::BrokerKindName(p.broker)
      << (p.engine_thread ? ", engine thread" : ", one thread");
}
std::string StreamParamName(const ::testing::TestParamInfo<StreamParam>& info) {
  return absl::StrCat(::tidewatch::testing::BrokerKindName(info.param.broker),
                      info.param.engine_thread ? "EngineThread" : "");
}

class StreamTest : public ::testing::TestWithParam<StreamParam> {
 protected:
  bool real() const { return GetParam().broker == BrokerKind::kReal; }
  // The test's name for one of tidewatch's topics.
  std::string T(const std::string& topic) const { return prefix_ + topic; }

  void SetUp() override {
    TIDEWATCH_SKIP_WITHOUT_REAL_KAFKA(GetParam().broker);
    config_ = kafka::KafkaConfig{};
    if (real()) {
      prefix_ = ::tidewatch::testing::UniquePrefix();
      config_.bootstrap = *::tidewatch::testing::RealKafkaBootstrap();
      ASSERT_TRUE(::tidewatch::testing::CreateRealTopics(config_.bootstrap,
                                                         {{T("telephony.call-events"), kPartitions},
                                                          {T("tidewatch.commands"), kPartitions},
                                                          {T("tidewatch.escalations"), kPartitions},
                                                          {T("tidewatch.state"), kPartitions},
                                                          {T("tidewatch.dead-letter"), 1}},
                                                         {{T("tidewatch.state"), "compact"}})
                      .ok());
    } else {
      broker_ = *kafka::EmbeddedBroker::Start(1);
      for (const char* t : {"telephony.call-events", "tidewatch.commands", "tidewatch.escalations",
                            "tidewatch.state"}) {
        ASSERT_TRUE(broker_->CreateTopic(t, kPartitions).ok());
      }
      ASSERT_TRUE(broker_->CreateTopic("tidewatch.dead-letter", 1).ok());
      config_.bootstrap = broker_->bootstrap();
    }
    config_.clock = &clock_;
    options_ = StreamOptions{};
    options_.events_topic = T("telephony.call-events");
    options_.commands_topic = T("tidewatch.commands");
    options_.escalations_topic = T("tidewatch.escalations");
    options_.state_topic = T("tidewatch.state");
    options_.dead_letter_topic = T("tidewatch.dead-letter");
    options_.exactly_once = real();
    options_.engine_thread = GetParam().engine_thread;
    auto loaded = policy::LoadPolicyYaml(policy::DefaultPolicyYaml(), "default");
    ASSERT_TRUE(loaded.ok());
    policy_ = std::make_shared<const policy::CompiledPolicy>(*std::move(loaded));
    options_.wall_clock_ticks = false;  // simulated day: event time only
    options_.partitions = kPartitions;
    options_.commit_interval = absl::Milliseconds(200);
  }

  // One tidewatchd-like instance.
  struct Instance {
    std::unique_ptr<kafka::Consumer> consumer;
    std::unique_ptr<kafka::Producer> producer;
    std::unique_ptr<StreamProcessor> processor;
    bool started = false;  // its processor's Start succeeded
  };
  // Client settings of an instance, and a wrapper for its producer.
  struct Clients {
    absl::Duration commit_timeout = absl::Seconds(5);
    absl::Duration close_timeout = absl::Seconds(10);
    absl::Duration delivery_timeout = absl::Minutes(2);
    // The producer's linger.ms (ZeroDuration: the library's default).
    absl::Duration linger = absl::ZeroDuration();
    std::function<std::unique_ptr<kafka::Producer>(std::unique_ptr<kafka::Producer>)> wrap;
    // A wrapper for the consumers that read the state topic at recovery.
    std::function<std::unique_ptr<kafka::Consumer>(std::unique_ptr<kafka::Consumer>)> wrap_reader;
    // The processor's clock (the fixture's real one when null).
    const Clock* clock = nullptr;
  };
  // Counts the records handed to the instance's producer, per topic: the
  // returned counters (escalations, dead letters) go up as Produce is called.
  struct ProducedCounts {
    std::shared_ptr<std::atomic<int64_t>> escalations = std::make_shared<std::atomic<int64_t>>(0);
    std::shared_ptr<std::atomic<int64_t>> dead_letters = std::make_shared<std::atomic<int64_t>>(0);
  };
  ProducedCounts CountProduced(Clients& clients) const {
    ProducedCounts counts;
    clients.wrap = [counts, escalations = options_.escalations_topic,
                    dead = options_.dead_letter_topic](std::unique_ptr<kafka::Producer> inner) {
      return std::make_unique<FaultyProducer>(std::move(inner), [=](const kafka::Record& r) {
        if (r.topic == escalations) ++*counts.escalations;
        if (r.topic == dead) ++*counts.dead_letters;
        return FaultyProducer::Fate::Forward();
      });
    };
    return counts;
  }
  std::unique_ptr<Instance> NewInstance() { return NewInstance(Clients{}); }
  std::unique_ptr<Instance> NewInstance(const Clients& clients) {
    std::unique_ptr<Instance> in = UnstartedInstance(clients);
    in->started = in->processor->Start().ok();
    EXPECT_TRUE(in->started);
    return in;
  }
  // An instance whose processor has not been started yet.
  std::unique_ptr<Instance> UnstartedInstance() { return UnstartedInstance(Clients{}); }
  std::unique_ptr<Instance> UnstartedInstance(const Clients& clients) {
    auto in = std::make_unique<Instance>();
    kafka::ConsumerOptions co;
    co.group_id = T("tidewatch");
    co.session_timeout = absl::Seconds(6);
    co.commit_timeout = clients.commit_timeout;
    co.close_timeout = clients.close_timeout;
    in->consumer = *kafka::NewConsumer(config_, co);
    kafka::ProducerOptions po;
    po.delivery_timeout = clients.delivery_timeout;
    if (clients.linger > absl::ZeroDuration()) po.linger = clients.linger;
    if (options_.exactly_once) {
      po.transactional_id = T(absl::StrCat("tidewatch-", ++instances_));
      po.transaction_timeout = absl::Seconds(10);
    }
    in->producer = *kafka::NewProducer(config_, po);
    if (clients.wrap) in->producer = clients.wrap(std::move(in->producer));
    kafka::KafkaConfig rc = config_;
    in->processor = std::make_unique<StreamProcessor>(
        policy_, options_, *in->consumer, *in->producer,
        [rc, wrap = clients.wrap_reader]() -> absl::StatusOr<std::unique_ptr<kafka::Consumer>> {
          absl::StatusOr<std::unique_ptr<kafka::Consumer>> c =
              kafka::NewConsumer(rc, kafka::ConsumerOptions{});
          if (!c.ok() || !wrap) return c;
          return wrap(*std::move(c));
        },
        clients.clock != nullptr ? *clients.clock : clock_);
    return in;
  }

  void Produce(const std::vector<tidewatch::v1::CallEvent>& events, size_t from, size_t to) {
    auto producer = *kafka::NewProducer(config_, {});
    for (size_t i = from; i < to; ++i) {
      ASSERT_TRUE(producer
                      ->Produce(T("telephony.call-events"), events[i].line_id(),
                                events[i].SerializeAsString())
                      .ok());
    }
    ASSERT_TRUE(producer->Flush(absl::Seconds(30)).ok());
  }

  // The reference: one instance over the whole day, uninterrupted; its
  // escalations by id. Then a fresh broker (or fresh topics) for the run
  // to compare.
  std::map<std::string, std::string> ReferenceEscalations(const Day& day) {
    std::map<std::string, std::string> reference;
    const int64_t n = static_cast<int64_t>(day.events.size());
    Produce(day.events, 0, day.events.size());
    {
      auto in = NewInstance();
      EXPECT_TRUE(RunUntil(*in, [n](const StreamStatus& s) { return s.events_applied >= n; }));
      EXPECT_TRUE(in->processor->Shutdown(absl::Seconds(5)).ok());
    }
    for (const kafka::Record& r : ReadAll(T("tidewatch.escalations"), kPartitions)) {
      tidewatch::v1::Escalation e;
      e.ParseFromString(r.value);
      reference[e.id()] = r.value;
    }
    TearDown();
    SetUp();
    return reference;
  }

  // Produces the day's first `split` events, runs one instance over them
  // and shuts it down (its state written and committed), then produces the
  // rest: the next instance takes over mid-surge.
  void RunFirstInstanceUpTo(const Day& day, size_t split) {
    Produce(day.events, 0, split);
    {
      auto first = NewInstance();
      ASSERT_TRUE(RunUntil(*first, [&](const StreamStatus& s) {
        return s.events_applied >= static_cast<int64_t>(split);
      }));
      ASSERT_TRUE(first->processor->Shutdown(absl::Seconds(5)).ok());
    }
    Produce(day.events, split, day.events.size());
  }

  // Steps until `done` or the deadline, `pace` apart.
  bool RunUntil(Instance& in, const std::function<bool(const StreamStatus&)>& done,
                absl::Duration limit = absl::Seconds(60),
                absl::Duration pace = absl::ZeroDuration()) {
    const absl::Time deadline = absl::Now() + limit;
    while (absl::Now() < deadline) {
      in.processor->Step(absl::Milliseconds(50)).IgnoreError();
      if (done(in.processor->Status())) return true;
      if (pace > absl::ZeroDuration()) absl::SleepFor(pace);
    }
    return false;
  }

  // RunUntil, but an instance that gets fenced (exactly-once: it lost its
  // partitions, e.g. the session expired while the broker was down) is
  // replaced by a new one, as tidewatchd's supervisor would restart it: a
  // replacement that cannot start (InitTransactions while the broker is
  // still down) is tried again until it starts or the limit is reached.
  // An instance left unstarted at the limit is replaced by the next call
  // (it would otherwise be stepped without ever joining the group).
  bool RunUntilRestarting(std::unique_ptr<Instance>& in,
                          const std::function<bool(const StreamStatus&)>& done,
                          absl::Duration limit) {
    const absl::Time deadline = absl::Now() + limit;
    while (absl::Now() < deadline) {
      if (!in->started) {
        in = UnstartedInstance();
        if (absl::Status s = in->processor->Start(); !s.ok()) {
          std::printf("replacement did not start (%s): trying again\n",
                      std::string(s.message()).c_str());
          absl::SleepFor(absl::Milliseconds(500));
          continue;
        }
        in->started = true;
      }
      if (in->processor->Step(absl::Milliseconds(50)).code() == absl::StatusCode::kAborted) {
        std::printf("instance fenced (%s): restarting it\n",
                    in->processor->Status().fenced_reason.c_str());
        ++restarts_;
        in->processor->Shutdown(absl::Seconds(2)).IgnoreError();
        in->started = false;
        continue;
      }
      if (done(in->processor->Status())) return true;
    }
    return false;
  }

  std::vector<kafka::Record> ReadAll(const std::string& topic, int partitions) {
    absl::StatusOr<std::vector<kafka::Record>> records =
        ::tidewatch::testing::ReadCommitted(config_, topic, partitions);
    EXPECT_TRUE(records.ok()) << records.status();
    return records.ok() ? *std::move(records) : std::vector<kafka::Record>{};
  }

  // `line`'s status among `lines` (an empty line_id if it is not there).
  static LineStatus StatusOf(const std::vector<LineStatus>& lines, const std::string& line) {
    for (const LineStatus& l : lines) {
      if (l.line_id == line) return l;
    }
    return LineStatus{};
  }

  // Produces events[0, upto) and starts an instance that has applied them
  // (with a test failure if it does not within RunUntil's limit).
  std::unique_ptr<Instance> InstanceOver(const std::vector<tidewatch::v1::CallEvent>& events,
                                         size_t upto) {
    Produce(events, 0, upto);
    auto in = NewInstance();
    EXPECT_TRUE(RunUntil(*in, [&](const StreamStatus& s) {
      return s.ready && s.events_applied >= static_cast<int64_t>(upto);
    }));
    return in;
  }

  // Produces events[0, upto), runs one instance over them and stops it
  // cleanly (its state written and committed); `line`'s status at the stop.
  // Revenues run to its first call-up by one instance, stopped cleanly
  // (defined after FirstCallUp, below).
  struct SavedSurge;
  SavedSurge SaveRevenuesAtItsFirstCallUp();

  LineStatus RunOneInstanceOver(const std::vector<tidewatch::v1::CallEvent>& events, size_t upto,
                                const std::string& line) {
    auto in = InstanceOver(events, upto);
    LineStatus status = StatusOf(in->processor->Lines(), line);
    EXPECT_TRUE(in->processor->Shutdown(absl::Seconds(5)).ok());
    return status;
  }

  // The highest escalation sequence number of `line` in the escalations
  // topic (0: none).
  // `line`'s escalations numbered after `sequence`, in the order read.
  std::vector<tidewatch::v1::Escalation> EscalationsAfter(const std::string& line,
                                                          int64_t sequence) {
    std::vector<tidewatch::v1::Escalation> after;
    for (const kafka::Record& r : ReadAll(T("tidewatch.escalations"), kPartitions)) {
      tidewatch::v1::Escalation e;
      EXPECT_TRUE(e.ParseFromString(r.value));
      if (e.line_id() == line && e.sequence() > sequence) after.push_back(e);
    }
    return after;
  }
  // `line`'s last state record (line_id empty if none).
  tidewatch::v1::LineTideState LastStateOf(const std::string& line) {
    tidewatch::v1::LineTideState last;
    for (const kafka::Record& r : ReadAll(T("tidewatch.state"), kPartitions)) {
      tidewatch::v1::LineTideState st;
      EXPECT_TRUE(st.ParseFromString(r.value));
      if (st.line_id() == line) last = st;
    }
    return last;
  }

  int64_t LastEscalationSequence(const std::string& line) {
    int64_t last = 0;
    for (const kafka::Record& r : ReadAll(T("tidewatch.escalations"), kPartitions)) {
      tidewatch::v1::Escalation e;
      EXPECT_TRUE(e.ParseFromString(r.value));
      if (e.line_id() == line) last = std::max(last, e.sequence());
    }
    return last;
  }

  // The broker goes away and comes back: the in-process broker's only broker
  // set down/up; the real broker's process SIGKILLed and started again on
  // its data and port.
  void BrokerDown() {
    if (!real()) {
      ASSERT_TRUE(broker_->SetBrokerDown(1).ok());
      return;
    }
    ASSERT_EQ(std::system(TIDEWATCH_SOURCE_DIR "/scripts/kafka-broker kill"), 0);
  }
  void BrokerUp() {
    if (!real()) {
      ASSERT_TRUE(broker_->SetBrokerUp(1).ok());
      return;
    }
    ASSERT_EQ(std::system(TIDEWATCH_SOURCE_DIR "/scripts/kafka-broker start >/dev/null"), 0);
  }

  // The group's committed offsets of the events topic, per partition
  // (kafka::kOffsetInvalid: none).
  std::map<int32_t, int64_t> CommittedEvents() {
    kafka::ConsumerOptions co;
    co.group_id = T("tidewatch");
    auto c = *kafka::NewConsumer(config_, co);
    std::vector<kafka::TopicPartition> all;
    for (int p = 0; p < kPartitions; ++p) all.push_back({T("telephony.call-events"), p});
    absl::StatusOr<std::vector<kafka::TopicPartition>> got = c->Committed(all, absl::Seconds(10));
    EXPECT_TRUE(got.ok()) << got.status();
    std::map<int32_t, int64_t> out;
    if (got.ok()) {
      for (const kafka::TopicPartition& tp : *got) out[tp.partition] = tp.offset;
    }
    c->Close().IgnoreError();
    return out;
  }

  // Whether the group's committed offsets reach `end` in every partition
  // with events; `committed` (if given) gets what was read.
  bool CommittedReach(const std::map<int32_t, int64_t>& end,
                      std::map<int32_t, int64_t>* committed = nullptr) {
    std::map<int32_t, int64_t> got = CommittedEvents();
    bool reached = true;
    for (const auto& [p, high] : end) {
      if (high > 0 && got[p] != high) reached = false;
    }
    if (committed != nullptr) *committed = std::move(got);
    return reached;
  }

  // The events topic's end offsets, per partition.
  std::map<int32_t, int64_t> EventsEnd() {
    auto c = *kafka::NewConsumer(config_, kafka::ConsumerOptions{});
    std::map<int32_t, int64_t> out;
    for (int p = 0; p < kPartitions; ++p) {
      absl::StatusOr<kafka::Watermarks> w =
          c->QueryWatermarks(T("telephony.call-events"), p, absl::Seconds(10));
      EXPECT_TRUE(w.ok()) << w.status();
      out[p] = w.ok() ? w->high : -1;
    }
    return out;
  }

  // Whether `s` has polled every events partition to `end` (EventsEnd()):
  // with the engine thread the last batch may still be being applied, which
  // the next Steps finish.
  bool ReadTo(const StreamStatus& s, const std::map<int32_t, int64_t>& end) const {
    std::map<int32_t, int64_t> position;
    for (const kafka::PartitionLag& l : s.lag) {
      if (l.topic == T("telephony.call-events")) position[l.partition] = l.position;
    }
    for (const auto& [p, high] : end) {
      if (high > 0 && (!position.count(p) || position[p] < high)) return false;
    }
    return true;
  }

  // Every line's escalations numbered 1..n with none missing (at-least-once:
  // a record whose delivery was reported failed may be there twice, the same
  // bytes).
  void ExpectEscalationsComplete() {
    std::map<std::string, std::map<int64_t, std::string>> by_line;
    for (const kafka::Record& r : ReadAll(T("tidewatch.escalations"), kPartitions)) {
      tidewatch::v1::Escalation e;
      ASSERT_TRUE(e.ParseFromString(r.value));
      auto [it, fresh] = by_line[e.line_id()].emplace(e.sequence(), r.value);
      if (!fresh) {
        EXPECT_EQ(it->second, r.value) << e.id();
      }
    }
    EXPECT_FALSE(by_line.empty());
    for (const auto& [line, seqs] : by_line) {
      EXPECT_EQ(seqs.begin()->first, 1) << line;
      EXPECT_EQ(seqs.rbegin()->first, static_cast<int64_t>(seqs.size())) << line << ": a gap";
    }
  }

  void ExpectTotalsEqualSummary(const std::vector<LineStatus>& lines) {
    std::map<std::string, const LineStatus*> by_id;
    for (const LineStatus& l : lines) by_id[l.line_id] = &l;
    for (const auto& s : SummonsDay().summary.lines) {
      ASSERT_TRUE(by_id.count(s.line_id)) << s.line_id;
      const auto& t = by_id[s.line_id]->totals;
      EXPECT_EQ(t.offered(), s.offered) << s.line_id;
      EXPECT_EQ(t.answered(), s.answered) << s.line_id;
      EXPECT_EQ(t.abandoned(), s.abandoned) << s.line_id;
    }
  }

  RealClock clock_;
  std::string prefix_;  // topic and group name prefix (real broker)
  int instances_ = 0;
  int restarts_ = 0;  // instances replaced after being fenced
  std::unique_ptr<kafka::EmbeddedBroker> broker_;
  kafka::KafkaConfig config_;
  std::shared_ptr<const policy::CompiledPolicy> policy_;
  StreamOptions options_;
};

TEST_P(StreamTest, EveryEventReflectedExactlyOnce) {
  const Day& day = SummonsDay();
  Produce(day.events, 0, day.events.size());
  auto in = NewInstance();
  const int64_t n = static_cast<int64_t>(day.events.size());
  ASSERT_TRUE(
      RunUntil(*in, [n](const StreamStatus& s) { return s.events_applied >= n && s.ready; }))
      << in->processor->Status().events_applied << " of " << n;
  // A little longer: nothing more may arrive; and until the outputs are
  // delivered and a commit confirmed (commits are asynchronous).
  RunUntil(
      *in, [](const StreamStatus&) { return false; }, absl::Milliseconds(500));
  ASSERT_TRUE(RunUntil(
      *in, [&](const StreamStatus& s) { return s.commits > 0 && in->producer->InFlight() == 0; }));
  StreamStatus st = in->processor->Status();
  EXPECT_EQ(st.events_applied, n);
  EXPECT_EQ(st.dead_lettered, 0);
  EXPECT_GT(st.escalations_produced, 0);
  EXPECT_GT(st.commits, 0);
  ExpectTotalsEqualSummary(in->processor->Lines());
  // Every line is on the partition its key hashes to.
  for (const LineStatus& l : in->processor->Lines()) {
    EXPECT_EQ(l.partition, PartitionForKey(l.line_id, kPartitions));
  }
  // Escalations: numbered per line without gaps, ids unique.
  std::map<std::string, int64_t> seq;
  for (const kafka::Record& r : ReadAll(T("tidewatch.escalations"), kPartitions)) {
    tidewatch::v1::Escalation e;
    ASSERT_TRUE(e.ParseFromString(r.value));
    EXPECT_EQ(r.key, e.line_id());
    EXPECT_EQ(e.sequence(), ++seq[e.line_id()]) << e.id();
  }
  EXPECT_GE(seq["revenues"], 4);  // rose through tiers and stood down
  ASSERT_TRUE(in->processor->Shutdown(absl::Seconds(5)).ok());
}

// Undecodable records go to the dead-letter topic once: a successor that
// replays the partition from its saved state passes them again but does not
// dead-letter them again (on a real cluster the first ones are committed
// output).
TEST_P(StreamTest, UndecodableRecordsGoToTheDeadLetterTopic) {
  const Day& day = SummonsDay();
  auto producer = *kafka::NewProducer(config_, {});
  const std::string garbage = "\xff\xfe not a protobuf";
  tidewatch::v1::CallEvent no_line = day.events[0];
  no_line.clear_line_id();
  // Valid events before and after the bad ones on the same partition, all
  // inside the replay horizon.
  std::vector<tidewatch::v1::CallEvent> rev;
  for (const auto& e : day.events) {
    if (e.line_id() == "revenues" && rev.size() < 200) rev.push_back(e);
  }
  Produce(rev, 0, 100);
  ASSERT_TRUE(producer->Produce(T("telephony.call-events"), "revenues", garbage).ok());
  ASSERT_TRUE(
      producer->Produce(T("telephony.call-events"), "revenues", no_line.SerializeAsString()).ok());
  ASSERT_TRUE(producer->Flush(absl::Seconds(10)).ok());
  Produce(rev, 100, rev.size());
  auto in = NewInstance();
  ASSERT_TRUE(RunUntil(*in, [&](const StreamStatus& s) {
    return s.events_applied >= static_cast<int64_t>(rev.size());
  }));
  StreamStatus st = in->processor->Status();
  EXPECT_EQ(st.dead_lettered, 2);
  EXPECT_EQ(st.rejected["bad_protobuf"], 1);
  EXPECT_EQ(st.rejected["missing_line_id"], 1);
  ASSERT_TRUE(in->processor->Shutdown(absl::Seconds(5)).ok());
  in.reset();
  std::vector<kafka::Record> dead = ReadAll(T("tidewatch.dead-letter"), 1);
  ASSERT_EQ(dead.size(), 2u);
  EXPECT_EQ(dead[0].value, garbage);
  std::map<std::string, std::string> h;
  for (const auto& kv : dead[0].headers) h[kv.key] = kv.value;
  EXPECT_EQ(h["tidewatch-reason"], "bad_protobuf");
  EXPECT_FALSE(h["tidewatch-error"].empty());
  EXPECT_NE(h["tidewatch-source"].find(T("telephony.call-events/")), std::string::npos);
  h.clear();
  for (const auto& kv : dead[1].headers) h[kv.key] = kv.value;
  EXPECT_EQ(h["tidewatch-reason"], "missing_line_id");

  // A successor replays the partition from the first event (the whole
  // stretch is inside the longest window), bad records included.
  auto next = NewInstance();
  ASSERT_TRUE(RunUntil(*next, [&](const StreamStatus& s) {
    return s.ready && s.events_applied >= static_cast<int64_t>(rev.size());
  }));
  st = next->processor->Status();
  EXPECT_EQ(st.dead_lettered, 0);
  EXPECT_EQ(st.rejected.count("bad_protobuf"), 0u);
  ASSERT_TRUE(next->processor->Shutdown(absl::Seconds(5)).ok());
  EXPECT_EQ(ReadAll(T("tidewatch.dead-letter"), 1).size(), 2u);
}

TEST_P(StreamTest, BrokerOutageLosesNothing) {
  const Day& day = SummonsDay();
  const size_t half = day.events.size() / 2;
  Produce(day.events, 0, half);
  auto in = NewInstance();
  ASSERT_TRUE(RunUntil(
      *in, [&](const StreamStatus& s) { return s.events_applied >= static_cast<int64_t>(half); }));
  BrokerDown();
  // The service keeps stepping; commits fail and the fault is reported.
  RunUntilRestarting(
      in, [](const StreamStatus&) { return false; }, absl::Seconds(4));
  // The fault shows in the status: the processor's own error (a failed
  // commit) or its clients' health (connection errors; commits no longer
  // block a Step until they fail, and nothing may have been left to commit).
  StreamStatus down = in->processor->Status();
  EXPECT_TRUE(!down.last_error.empty() || !down.consumer_health.last_error.empty() ||
              !down.producer_health.last_error.empty() || down.consumer_health.all_brokers_down ||
              restarts_ > 0)
      << Describe(down);
  BrokerUp();
  Produce(day.events, half, day.events.size());
  // The outage may cost the group its partitions (the coordinator is gone
  // too): they come back through recovery, which replays from the state
  // topic, so count what the KPIs say, not events applied. A call's answer
  // or abandonment comes after its arrival, so all three figures are waited
  // for; then a second more, for anything counted twice to show.
  const sim::LineSummary& want = day.summary.total;
  auto totals = [&] {
    sim::LineSummary sum;
    for (const LineStatus& l : in->processor->Lines()) {
      sum.offered += l.totals.offered();
      sum.answered += l.totals.answered();
      sum.abandoned += l.totals.abandoned();
    }
    return sum;
  };
  auto describe_totals = [&] {
    const sim::LineSummary got = totals();
    return absl::StrCat("offered ", got.offered, " of ", want.offered, ", answered ", got.answered,
                        " of ", want.answered, ", abandoned ", got.abandoned, " of ",
                        want.abandoned, "; ", Describe(in->processor->Status()));
  };
  ASSERT_TRUE(RunUntilRestarting(
      in,
      [&](const StreamStatus& s) {
        if (!s.ready) return false;
        const sim::LineSummary got = totals();
        return got.offered >= want.offered && got.answered >= want.answered &&
               got.abandoned >= want.abandoned;
      },
      absl::Seconds(90)))
      << describe_totals();
  RunUntilRestarting(
      in, [](const StreamStatus&) { return false; }, absl::Seconds(1));
  // Only the exactly-once path stops a member that lost its partitions.
  if (!real()) {
    EXPECT_EQ(restarts_, 0);
  }
  ExpectTotalsEqualSummary(in->processor->Lines());
  absl::Status shutdown = in->processor->Shutdown(absl::Seconds(10));
  ASSERT_TRUE(shutdown.ok()) << shutdown << "; " << Describe(in->processor->Status());
}

TEST_P(StreamTest, HandoverRecoversStateAndContinuesIdentically) {
  const Day& day = SummonsDay();
  // Reference: one instance, the whole day.
  const std::map<std::string, std::string> reference = ReferenceEscalations(day);
  ASSERT_FALSE(HasFailure());
  // Fresh broker; the first instance stops mid-surge, a second takes over.
  const size_t split = day.events.size() * 2 / 5;
  RunFirstInstanceUpTo(day, split);
  ASSERT_FALSE(HasFatalFailure());
  auto second = NewInstance();
  // It replays from each partition's window start (state topic), so it
  // applies more than the remaining events (a count of them says nothing):
  // wait until it has read every partition to its end, then until idle.
  const std::map<int32_t, int64_t> end = EventsEnd();
  ASSERT_TRUE(RunUntil(*second, [&](const StreamStatus& s) {
    return s.ready && s.recoveries > 0 && ReadTo(s, end);
  }));
  RunUntil(
      *second, [](const StreamStatus&) { return false; }, absl::Seconds(2));
  ExpectTotalsEqualSummary(second->processor->Lines());
  ASSERT_TRUE(second->processor->Shutdown(absl::Seconds(5)).ok());
  std::map<std::string, std::string> got;
  for (const kafka::Record& r : ReadAll(T("tidewatch.escalations"), kPartitions)) {
    tidewatch::v1::Escalation e;
    e.ParseFromString(r.value);
    auto [it, fresh] = got.emplace(e.id(), r.value);
    if (!fresh) {
      EXPECT_EQ(it->second, r.value) << "two different escalations share id " << e.id();
    }
  }
  EXPECT_TRUE(SameEscalations(reference, got));
}

// A state reader whose first poll that returns records also returns a
// consumer error, as librdkafka reports one among records it has fetched.
class ErringStateReader final : public kafka::ForwardingConsumer {
 public:
  ErringStateReader(std::unique_ptr<kafka::Consumer> real, std::atomic<int>* errors)
      : ForwardingConsumer(std::move(real)), errors_(errors) {}
  absl::Status PollBatch(size_t max_records, absl::Duration timeout,
                         kafka::RecordBatch* out) override {
    const size_t before = out->size();
    absl::Status s = real().PollBatch(max_records, timeout, out);
    if (s.ok() && out->size() > before && !erred_) {
      erred_ = true;
      ++*errors_;
      return absl::UnavailableError("injected: consumer error after the records");
    }
    return s;
  }

 private:
  std::atomic<int>* errors_;
  bool erred_ = false;
};

TEST_P(StreamTest, RecoveryKeepsTheStatesPolledWithAConsumerError) {
  // The records a poll returns with an error are states like any others: a
  // reader that dropped them started those lines without their tide and
  // totals.
  const Day& day = SummonsDay();
  const size_t split = day.events.size() * 2 / 5;
  RunFirstInstanceUpTo(day, split);
  ASSERT_FALSE(HasFatalFailure());
  std::atomic<int> errors{0};
  Clients clients;
  clients.wrap_reader = [&errors](std::unique_ptr<kafka::Consumer> c) {
    return std::unique_ptr<kafka::Consumer>(new ErringStateReader(std::move(c), &errors));
  };
  auto second = NewInstance(clients);
  const std::map<int32_t, int64_t> end = EventsEnd();
  ASSERT_TRUE(RunUntil(*second, [&](const StreamStatus& s) {
    return s.ready && s.recoveries > 0 && ReadTo(s, end);
  }));
  RunUntil(
      *second, [](const StreamStatus&) { return false; }, absl::Seconds(2));
  EXPECT_GT(errors.load(), 0);  // the error came with states
  ExpectTotalsEqualSummary(second->processor->Lines());
  ASSERT_TRUE(second->processor->Shutdown(absl::Seconds(5)).ok());
}

// A state reader whose questions wait until the test releases them.
class BlockingStateReader final : public kafka::ForwardingConsumer {
 public:
  BlockingStateReader(std::unique_ptr<kafka::Consumer> real, absl::Notification* entered,
                      absl::Notification* release)
      : ForwardingConsumer(std::move(real)), entered_(entered), release_(release) {}
  absl::StatusOr<kafka::Watermarks> QueryWatermarks(const std::string& topic, int32_t partition,
                                                    absl::Duration timeout) override {
    if (!entered_->HasBeenNotified()) entered_->Notify();
    release_->WaitForNotification();
    return real().QueryWatermarks(topic, partition, timeout);
  }

 private:
  absl::Notification* entered_;
  absl::Notification* release_;
};

// The health endpoints' view, Status() and Lines() (tidewatchd's /metrics
// and /lines) answer while a partition recovers: its saved state is read
// for as long as a slow broker takes, and probes that waited for it timed
// out and had a recovering instance restarted; scrapes that waited were
// cut off at six, the rest answered 503.
TEST_P(StreamTest, HealthStatusAndLinesAnswerWhileAPartitionRecovers) {
  const Day& day = SummonsDay();
  Produce(day.events, 0, 2000);
  absl::Notification entered, release;
  Clients clients;
  clients.wrap_reader = [&](std::unique_ptr<kafka::Consumer> c) {
    return std::unique_ptr<kafka::Consumer>(
        new BlockingStateReader(std::move(c), &entered, &release));
  };
  auto in = NewInstance(clients);
  std::thread stepper([&] {
    RunUntil(*in, [&](const StreamStatus& s) { return release.HasBeenNotified() && s.ready; });
  });
  const bool recovering = entered.WaitForNotificationWithTimeout(absl::Seconds(60));
  struct Answers {
    StreamHealth health;
    StreamStatus status;
    size_t lines = 0;
  };
  std::future<Answers> asked = std::async(std::launch::async, [&] {
    Answers a;
    a.health = in->processor->Health();
    a.status = in->processor->Status();
    a.lines = in->processor->Lines().size();
    return a;
  });
  // (A liveness bound, not a timing: without their own view (Health) or
  // with the state read under the processor's lock (Status, Lines), they
  // wait until the release below.)
  const bool answered = asked.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
  release.Notify();
  stepper.join();
  ASSERT_TRUE(recovering) << "no partition read its saved state";
  ASSERT_TRUE(answered) << "Health(), Status() or Lines() waited for the recovery";
  const Answers a = asked.get();
  EXPECT_TRUE(a.health.started);
  EXPECT_TRUE(a.health.assigned);
  EXPECT_FALSE(a.health.ready);
  EXPECT_GT(a.health.recovering, 0u);
  EXPECT_FALSE(a.status.ready);
  EXPECT_FALSE(a.status.recovering.empty());
  EXPECT_EQ(a.status.partitions.size(), static_cast<size_t>(kPartitions));  // owned already
  EXPECT_EQ(a.status.events_applied, 0);
  EXPECT_EQ(a.lines, 0u);  // a recovering partition's lines come once restored
  // Once recovered: ready, nothing recovering, every line reported.
  ASSERT_TRUE(
      RunUntil(*in, [](const StreamStatus& s) { return s.ready && s.events_applied >= 2000; }));
  const StreamHealth after = in->processor->Health();
  EXPECT_TRUE(after.ready);
  EXPECT_EQ(after.recovering, 0u);
  EXPECT_EQ(after.partitions, static_cast<size_t>(kPartitions));
  EXPECT_EQ(in->processor->Lines().size(), day.summary.lines.size());
  ASSERT_TRUE(in->processor->Shutdown(absl::Seconds(5)).ok());
}

// A state reader that never gets the state topic's watermarks.
class UnreadableStateReader final : public kafka::ForwardingConsumer {
 public:
  explicit UnreadableStateReader(std::unique_ptr<kafka::Consumer> real)
      : ForwardingConsumer(std::move(real)) {}
  absl::StatusOr<kafka::Watermarks> QueryWatermarks(const std::string&, int32_t,
                                                    absl::Duration) override {
    return absl::UnavailableError("injected: the state topic cannot be read");
  }
};

TEST_P(StreamTest, AnUnreadableSavedStateStopsTheInstanceInsteadOfStartingAfresh) {
  // Starting the lines without their saved state would restart their
  // escalation ids (every board drops those), leave their call-ups open
  // for ever and overwrite the state at the next commit.
  const Day& day = SummonsDay();
  const size_t split = day.events.size() * 2 / 5;
  RunFirstInstanceUpTo(day, split);
  ASSERT_FALSE(HasFatalFailure());
  const size_t escalations = ReadAll(T("tidewatch.escalations"), kPartitions).size();
  const size_t states = ReadAll(T("tidewatch.state"), kPartitions).size();
  ASSERT_GT(escalations, 0u);
  options_.state_read_timeout = absl::Milliseconds(300);
  std::atomic<int> readers{0};
  Clients clients;
  clients.wrap_reader = [&readers](std::unique_ptr<kafka::Consumer> c) {
    ++readers;
    return std::unique_ptr<kafka::Consumer>(new UnreadableStateReader(std::move(c)));
  };
  auto second = NewInstance(clients);
  ASSERT_TRUE(RunUntil(*second, [](const StreamStatus& s) { return s.fenced; }));
  // The first unreadable partition stops it: the others' states are not
  // read (each read waits up to state_read_timeout: with a broker that
  // cannot serve them, minutes inside the rebalance).
  EXPECT_EQ(readers.load(), 1);
  const StreamStatus st = second->processor->Status();
  EXPECT_THAT(st.fenced_reason, ::testing::HasSubstr("its saved state on " + T("tidewatch.state") +
                                                     " cannot be read (injected: the state topic"));
  EXPECT_EQ(st.events_applied, 0);
  EXPECT_EQ(second->processor->Step(absl::Milliseconds(50)).code(), absl::StatusCode::kAborted);
  EXPECT_EQ(second->processor->Shutdown(absl::Seconds(5)).code(), absl::StatusCode::kAborted);
  // Nothing published over what the first instance committed.
  EXPECT_EQ(ReadAll(T("tidewatch.escalations"), kPartitions).size(), escalations);
  EXPECT_EQ(ReadAll(T("tidewatch.state"), kPartitions).size(), states);
}

// Collects escalations, for finding when the first call-up is paged.
class CollectingOutput : public engine::EngineOutput {
 public:
  void OnTideChange(const tidewatch::v1::TideChange&) override {}
  void OnCallUp(const tidewatch::v1::CallUp& c) override { callups.push_back(c); }
  std::vector<tidewatch::v1::CallUp> callups;
};

// Revenues' events of the summons day, and how many of them (from the
// first) take it to its first call-up, worked out offline.
struct FirstCallUp {
  std::vector<tidewatch::v1::CallEvent> revenues;
  size_t upto = 0;
  tidewatch::v1::CallUp paged;  // the first of them
  size_t callups = 0;           // paged at that evaluation
};
FirstCallUp RevenuesToFirstCallUp(std::shared_ptr<const policy::CompiledPolicy> policy) {
  FirstCallUp out;
  for (const auto& e : SummonsDay().events) {
    if (e.line_id() == "revenues") out.revenues.push_back(e);
  }
  CollectingOutput offline;
  engine::Engine engine(std::move(policy), {}, &offline);
  while (out.upto < out.revenues.size() && offline.callups.empty()) {
    engine.Apply(out.revenues[out.upto++]);
  }
  EXPECT_FALSE(offline.callups.empty());
  if (!offline.callups.empty()) out.paged = offline.callups[0];
  out.callups = offline.callups.size();
  return out;
}

// The revenues lead's acknowledgement of a call-up.
tidewatch::v1::Command RevenuesAck(const std::string& id, const std::string& callup_id) {
  tidewatch::v1::Command ack;
  ack.set_id(id);
  ack.set_line_id("revenues");
  ack.set_actor("revenues-lead");
  ack.mutable_acknowledge()->set_callup_id(callup_id);
  return ack;
}

TEST_P(StreamTest, CommandsReachTheOwningEngineAndPolicyVersionsApplyLive) {
  // Revenues alone, up to just after its first call-up is paged.
  const FirstCallUp first = RevenuesToFirstCallUp(policy_);
  ASSERT_FALSE(HasFailure());
  const std::vector<tidewatch::v1::CallEvent>& rev = first.revenues;
  const size_t upto = first.upto;
  const tidewatch::v1::CallUp& paged = first.paged;
  auto in = InstanceOver(rev, upto);
  ASSERT_FALSE(HasFailure());
  std::vector<LineStatus> lines = in->processor->Lines();
  auto revenues = std::find_if(lines.begin(), lines.end(),
                               [](const LineStatus& l) { return l.line_id == "revenues"; });
  ASSERT_NE(revenues, lines.end());
  ASSERT_EQ(revenues->open_callups.size(), first.callups);
  EXPECT_EQ(revenues->open_callups[0].id(), paged.id());

  auto producer = *kafka::NewProducer(config_, {});
  tidewatch::v1::Command ack = RevenuesAck("cmd-ack-1", paged.id());
  ack.mutable_acknowledge()->set_headcount(2);
  tidewatch::v1::Command unknown = ack;
  unknown.set_id("cmd-unknown");
  unknown.mutable_acknowledge()->set_callup_id("revenues/t1/none/1/nobody");
  // A malformed record, one for a call-up that does not exist, the real
  // one, and the real one again (redelivery).
  ASSERT_TRUE(producer->Produce(T("tidewatch.commands"), "revenues", "\x01garbage").ok());
  ASSERT_TRUE(
      producer->Produce(T("tidewatch.commands"), "revenues", unknown.SerializeAsString()).ok());
  ASSERT_TRUE(producer->Produce(T("tidewatch.commands"), "revenues", ack.SerializeAsString()).ok());
  ASSERT_TRUE(producer->Produce(T("tidewatch.commands"), "revenues", ack.SerializeAsString()).ok());
  ASSERT_TRUE(producer->Flush(absl::Seconds(10)).ok());
  ASSERT_TRUE(RunUntil(*in, [](const StreamStatus& s) { return s.commands_consumed >= 4; }));
  StreamStatus st = in->processor->Status();
  EXPECT_EQ(st.commands_applied, 2);  // the redelivery is applied once: no second escalation
  EXPECT_EQ(st.rejected["malformed_command"], 1);
  EXPECT_EQ(st.rejected["command_not_found"], 1);
  EXPECT_EQ(st.dead_lettered, 1);

  // Policy version 2 from the next Step.
  EXPECT_EQ(in->processor->policy_version(), 0);
  in->processor->SetPolicy(policy_, 2);
  ASSERT_TRUE(RunUntil(*in, [](const StreamStatus& s) { return s.policy_version == 2; }));
  ASSERT_TRUE(in->processor->Shutdown(absl::Seconds(5)).ok());

  std::vector<tidewatch::v1::CallUp> acked;
  for (const kafka::Record& r : ReadAll(T("tidewatch.escalations"), kPartitions)) {
    tidewatch::v1::Escalation e;
    ASSERT_TRUE(e.ParseFromString(r.value));
    if (e.has_callup() && e.callup().state() == tidewatch::v1::CALL_UP_STATE_ACKNOWLEDGED) {
      acked.push_back(e.callup());
    }
  }
  ASSERT_EQ(acked.size(), 1u);
  EXPECT_EQ(acked[0].id(), paged.id());
  EXPECT_EQ(acked[0].responder(), "revenues-lead");
  EXPECT_EQ(acked[0].acknowledged_headcount(), 2);
  EXPECT_EQ(acked[0].command_id(), "cmd-ack-1");
  // The state record carries the acknowledgement, the figures and the version.
  std::map<std::string, tidewatch::v1::LineTideState> state;
  for (const kafka::Record& r : ReadAll(T("tidewatch.state"), kPartitions)) {
    tidewatch::v1::LineTideState s;
    ASSERT_TRUE(s.ParseFromString(r.value));
    state[s.line_id()] = s;
  }
  ASSERT_TRUE(state.count("revenues"));
  const tidewatch::v1::LineTideState& rs = state["revenues"];
  EXPECT_EQ(rs.policy_version(), 2);
  ASSERT_GE(rs.open_callups_size(), 1);
  EXPECT_EQ(rs.open_callups(0).state(), tidewatch::v1::CALL_UP_STATE_ACKNOWLEDGED);
  EXPECT_EQ(rs.figures().windows_size(), static_cast<int>(policy_->windows.size()));
  EXPECT_EQ(rs.figures().windows(0).kpis().offered(), revenues->windows[0].second.offered());
}

// A command changes a line's state (and uses up an escalation sequence
// number) although no event follows it: the state record that goes with
// the commit of its offset must carry it, or a successor restores the
// call-up as paged (and pages again) and reuses the sequence number.
TEST_P(StreamTest, ACommandWithNoEventAfterItIsInTheCommittedState) {
  const FirstCallUp first = RevenuesToFirstCallUp(policy_);
  ASSERT_FALSE(HasFailure());
  const std::vector<tidewatch::v1::CallEvent>& rev = first.revenues;
  const size_t upto = first.upto;
  const tidewatch::v1::CallUp& paged = first.paged;
  // Everything applied and committed before the acknowledgement comes.
  auto in = InstanceOver(rev, upto);
  ASSERT_FALSE(HasFailure());
  ASSERT_TRUE(RunUntil(*in, [](const StreamStatus& s) { return s.commits > 0; }));

  auto producer = *kafka::NewProducer(config_, {});
  const tidewatch::v1::Command ack = RevenuesAck("cmd-ack-quiet", paged.id());
  // Everything before it is committed: the next commit is its offset's (a
  // Step that reads a partition to its end applies and commits in one go,
  // so the count is taken before, not after, it is applied).
  const int64_t commits_before_ack = in->processor->Status().commits;
  ASSERT_TRUE(producer->Produce(T("tidewatch.commands"), "revenues", ack.SerializeAsString()).ok());
  ASSERT_TRUE(producer->Flush(absl::Seconds(10)).ok());
  // Its offset committed (the idle commit), then a clean hand-over.
  ASSERT_TRUE(RunUntil(*in, [&](const StreamStatus& s) {
    return s.commands_applied >= 1 && s.commits > commits_before_ack;
  }));
  ASSERT_TRUE(in->processor->Shutdown(absl::Seconds(5)).ok());

  const int64_t last_sequence = LastEscalationSequence("revenues");
  std::map<std::string, tidewatch::v1::LineTideState> state;
  for (const kafka::Record& r : ReadAll(T("tidewatch.state"), kPartitions)) {
    tidewatch::v1::LineTideState s;
    ASSERT_TRUE(s.ParseFromString(r.value));
    state[s.line_id()] = s;
  }
  ASSERT_TRUE(state.count("revenues"));
  const tidewatch::v1::LineTideState& rs = state["revenues"];
  ASSERT_GE(rs.open_callups_size(), 1);
  EXPECT_EQ(rs.open_callups(0).id(), paged.id());
  EXPECT_EQ(rs.open_callups(0).state(), tidewatch::v1::CALL_UP_STATE_ACKNOWLEDGED);
  EXPECT_EQ(rs.escalation_sequence(), last_sequence);
}

// The default policy without its revenues line (null, with a test
// failure, if that cannot be made).
std::shared_ptr<const policy::CompiledPolicy> DefaultPolicyWithoutRevenues() {
  std::string yaml(policy::DefaultPolicyYaml());
  const std::string revenues_entry =
      "  revenues:\n    display_name: Revenues & Benefits\n"
      "    roles: {back_office: revenues-back-office}\n";
  const size_t at = yaml.find(revenues_entry);
  EXPECT_NE(at, std::string::npos);
  if (at == std::string::npos) return nullptr;
  yaml.erase(at, revenues_entry.size());
  absl::StatusOr<policy::CompiledPolicy> compiled = policy::LoadPolicyYaml(yaml, "without");
  EXPECT_TRUE(compiled.ok()) << compiled.status();
  if (!compiled.ok()) return nullptr;
  return std::make_shared<const policy::CompiledPolicy>(*std::move(compiled));
}

// A line dropped by one policy version and brought back by a later one
// goes on numbering its escalations, also when the instance restarted in
// between (the dropped line's last number is in its saved state): no
// escalation id is used twice.
TEST_P(StreamTest, ALineDroppedAcrossARestartKeepsItsEscalationIds) {
  const auto without = DefaultPolicyWithoutRevenues();
  ASSERT_NE(without, nullptr);
  const auto full = policy_;

  const FirstCallUp first = RevenuesToFirstCallUp(full);
  ASSERT_FALSE(HasFailure());
  const std::vector<tidewatch::v1::CallEvent>& rev = first.revenues;
  const size_t upto = first.upto;
  {
    auto in = InstanceOver(rev, upto);
    ASSERT_FALSE(HasFailure());
    in->processor->SetPolicy(without, 2);  // revenues stood down, then dropped
    ASSERT_TRUE(RunUntil(*in, [](const StreamStatus& s) { return s.policy_version == 2; }));
    ASSERT_TRUE(in->processor->Shutdown(absl::Seconds(5)).ok());
  }
  // Restarted on the version without revenues; then revenues comes back.
  policy_ = without;
  auto in = NewInstance();
  ASSERT_TRUE(RunUntil(*in, [](const StreamStatus& s) { return s.ready; }));
  in->processor->SetPolicy(full, 3);
  ASSERT_TRUE(RunUntil(*in, [](const StreamStatus& s) { return s.policy_version == 3; }));
  const int64_t before = in->processor->Status().events_applied;
  Produce(rev, upto, rev.size());
  ASSERT_TRUE(RunUntil(*in, [&](const StreamStatus& s) {
    return s.events_applied >= before + static_cast<int64_t>(rev.size() - upto);
  }));
  ASSERT_TRUE(in->processor->Shutdown(absl::Seconds(5)).ok());
  policy_ = full;

  std::set<std::string> ids;
  std::vector<int64_t> sequences;
  for (const kafka::Record& r : ReadAll(T("tidewatch.escalations"), kPartitions)) {
    tidewatch::v1::Escalation e;
    ASSERT_TRUE(e.ParseFromString(r.value));
    if (e.line_id() != "revenues") continue;
    EXPECT_TRUE(ids.insert(e.id()).second) << "escalation id used twice: " << e.id();
    sequences.push_back(e.sequence());
  }
  ASSERT_GT(sequences.size(), 4u) << "revenues escalated again after it came back";
  for (size_t i = 0; i < sequences.size(); ++i) {
    EXPECT_EQ(sequences[i], static_cast<int64_t>(i + 1));
  }
}

// tidewatchd sets the newest policy version (read from the policy topic)
// before its processor starts: the first assignment's recovery must use it.
// Here the instance starts on a version without revenues (its command line
// is older than a live change that added it) and is given the version with
// revenues before Start: revenues' saved tide, totals and open call-up are
// restored, not dropped and started afresh.
TEST_P(StreamTest, APolicyVersionSetBeforeStartGovernsTheFirstRecovery) {
  const auto without = DefaultPolicyWithoutRevenues();
  ASSERT_NE(without, nullptr);
  const auto full = policy_;
  const FirstCallUp first = RevenuesToFirstCallUp(full);
  ASSERT_FALSE(HasFailure());
  const LineStatus saved = RunOneInstanceOver(first.revenues, first.upto, "revenues");
  ASSERT_FALSE(HasFailure());
  ASSERT_EQ(saved.line_id, "revenues");
  ASSERT_GT(saved.tide.level, 0);
  ASSERT_FALSE(saved.open_callups.empty());

  policy_ = without;
  auto in = UnstartedInstance();
  policy_ = full;
  in->processor->SetPolicy(full, 2);
  ASSERT_TRUE(in->processor->Start().ok());
  ASSERT_TRUE(RunUntil(*in, [](const StreamStatus& s) { return s.ready; }));
  EXPECT_EQ(in->processor->Status().policy_version, 2);
  const LineStatus got = StatusOf(in->processor->Lines(), "revenues");
  ASSERT_EQ(got.line_id, "revenues");
  EXPECT_EQ(got.totals.offered(), saved.totals.offered());
  EXPECT_EQ(got.totals.answered(), saved.totals.answered());
  EXPECT_EQ(got.tide.level, saved.tide.level);
  EXPECT_EQ(got.tide.tier, saved.tide.tier);
  ASSERT_EQ(got.open_callups.size(), saved.open_callups.size());
  EXPECT_EQ(got.open_callups[0].id(), first.paged.id());
  ASSERT_TRUE(in->processor->Shutdown(absl::Seconds(5)).ok());
}

// A policy version that drops a line while the line is still recovering
// (its saved state waiting for the replay to reach its position) stands it
// down and retires it as it would a live line: its open call-up is stood
// down, and its escalation ids go on from the saved sequence (the retired
// line's state record keeps the last one, for a rollback).
TEST_P(StreamTest, ALineDroppedWhileItRecoversIsStoodDownAndKeepsItsSequence) {
  const auto without = DefaultPolicyWithoutRevenues();
  ASSERT_NE(without, nullptr);
  const FirstCallUp first = RevenuesToFirstCallUp(policy_);
  ASSERT_FALSE(HasFailure());
  RunOneInstanceOver(first.revenues, first.upto, "revenues");
  ASSERT_FALSE(HasFailure());
  const int64_t saved_sequence = LastEscalationSequence("revenues");
  ASSERT_GT(saved_sequence, 0);

  options_.max_batch = 5;  // a replay of many Steps
  auto in = NewInstance();
  ASSERT_TRUE(RunUntil(*in, [](const StreamStatus& s) {
    return s.recoveries > 0 && !s.recovering.empty() && s.events_applied > 0;
  })) << "the replay was over before the policy could change";
  in->processor->SetPolicy(without, 2);
  ASSERT_TRUE(
      RunUntil(*in, [](const StreamStatus& s) { return s.ready && s.policy_version == 2; }));
  ASSERT_TRUE(in->processor->Shutdown(absl::Seconds(5)).ok());
  // Nothing pending once the line was dropped, but the replay was not
  // over: the partition stayed recovering until it reached the saved
  // position, and its committed offset never went back below it.
  std::map<int32_t, int64_t> committed;
  EXPECT_TRUE(CommittedReach(EventsEnd(), &committed))
      << "revenues' partition committed at " << committed[PartitionForKey("revenues", kPartitions)];

  const std::vector<tidewatch::v1::Escalation> after = EscalationsAfter("revenues", saved_sequence);
  bool stood_down = false;
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].sequence(), saved_sequence + static_cast<int64_t>(i) + 1);
    if (after[i].has_callup() && after[i].callup().id() == first.paged.id()) {
      EXPECT_EQ(after[i].callup().state(), tidewatch::v1::CALL_UP_STATE_STOOD_DOWN);
      stood_down = true;
    }
  }
  EXPECT_TRUE(stood_down) << "revenues' call-up " << first.paged.id() << " left open";
  EXPECT_EQ(LastStateOf("revenues").escalation_sequence(),
            saved_sequence + static_cast<int64_t>(after.size()));
}

// The saved state has the surge's tide and open call-up.
struct StreamTest::SavedSurge {
  FirstCallUp first;
  LineStatus saved;      // revenues at the stop
  int64_t sequence = 0;  // its last escalation's
};

StreamTest::SavedSurge StreamTest::SaveRevenuesAtItsFirstCallUp() {
  SavedSurge out;
  out.first = RevenuesToFirstCallUp(policy_);
  if (HasFailure()) return out;
  out.saved = RunOneInstanceOver(out.first.revenues, out.first.upto, "revenues");
  EXPECT_GT(out.saved.tide.level, 0);
  out.sequence = LastEscalationSequence("revenues");
  EXPECT_GT(out.sequence, 0);
  return out;
}

// A restart on a policy version without a line that had open call-ups (the
// line was taken out of the config while tidewatchd was down): the
// successor stands the saved call-ups down and tells the tide's fall to
// level 0, as a live policy change does, and the ids go on from the saved
// sequence; the retired line's state record keeps the last one, so the next
// restart stands nothing down again.
TEST_P(StreamTest, ALineTheRestartPolicyLacksIsStoodDownAndKeepsItsSequence) {
  const auto without = DefaultPolicyWithoutRevenues();
  ASSERT_NE(without, nullptr);
  const auto full = policy_;
  const SavedSurge surge = SaveRevenuesAtItsFirstCallUp();
  ASSERT_FALSE(HasFailure());
  const FirstCallUp& first = surge.first;
  const LineStatus& saved = surge.saved;
  const int64_t saved_sequence = surge.sequence;

  policy_ = without;
  for (int restart = 0; restart < 2; ++restart) {
    auto in = NewInstance();
    ASSERT_TRUE(RunUntil(*in, [](const StreamStatus& s) { return s.ready && s.recoveries > 0; }));
    ASSERT_TRUE(in->processor->Shutdown(absl::Seconds(5)).ok());
  }
  policy_ = full;

  const std::vector<tidewatch::v1::Escalation> after = EscalationsAfter("revenues", saved_sequence);
  ASSERT_EQ(after.size(), 2u) << "the call-up stood down and the tide's fall, once";
  EXPECT_EQ(after[0].sequence(), saved_sequence + 1);
  EXPECT_EQ(after[0].id(), absl::StrCat("revenues/", saved_sequence + 1));
  ASSERT_TRUE(after[0].has_callup());
  EXPECT_EQ(after[0].callup().id(), first.paged.id());
  EXPECT_EQ(after[0].callup().state(), tidewatch::v1::CALL_UP_STATE_STOOD_DOWN);
  EXPECT_EQ(after[1].sequence(), saved_sequence + 2);
  ASSERT_TRUE(after[1].has_tide_change());
  EXPECT_EQ(after[1].tide_change().from_level(), saved.tide.level);
  EXPECT_EQ(after[1].tide_change().from_tier(), saved.tide.tier);
  EXPECT_EQ(after[1].tide_change().to_level(), 0);
  EXPECT_NE(after[1].tide_change().reason().find("line removed from the policy"), std::string::npos)
      << after[1].tide_change().reason();
  const tidewatch::v1::LineTideState retired = LastStateOf("revenues");
  ASSERT_EQ(retired.line_id(), "revenues");
  EXPECT_EQ(retired.escalation_sequence(), saved_sequence + 2);
  EXPECT_EQ(retired.open_callups_size(), 0);
}

// A line the restart's policy lacks is stood down as its partition starts;
// when those stand-downs are lost on the way they are produced again (they
// were taken for another task's and dropped: the saved state, committed
// with the line retired, kept the call-up open on every board for good).
TEST_P(StreamTest, ARetiredLinesLostStandDownsAreProducedAgain) {
  options_.exactly_once = false;  // retries are the idempotent path's
  const auto without = DefaultPolicyWithoutRevenues();
  ASSERT_NE(without, nullptr);
  const auto full = policy_;
  const SavedSurge surge = SaveRevenuesAtItsFirstCallUp();
  ASSERT_FALSE(HasFailure());
  const FirstCallUp& first = surge.first;
  const int64_t saved_sequence = surge.sequence;

  policy_ = without;
  FaultyProducer* losing = nullptr;
  int lost = -1;
  Clients clients;
  clients.wrap = [&](std::unique_ptr<kafka::Producer> inner) {
    auto p = std::make_unique<FaultyProducer>(
        std::move(inner), FaultyProducer::LoseFirst(T("tidewatch.escalations"), 2));
    losing = p.get();
    return p;
  };
  {
    auto in = NewInstance(clients);
    ASSERT_TRUE(RunUntil(*in,
                         [](const StreamStatus& s) {
                           return s.ready && s.recoveries > 0 && s.delivery_errors >= 2;
                         }))
        << Describe(in->processor->Status()) << " lost " << losing->lost();
    // (Produced again at the next commit point, or by the stop's commit.)
    ASSERT_TRUE(in->processor->Shutdown(absl::Seconds(5)).ok());
    lost = losing->lost();  // (the producer goes with the instance)
  }
  policy_ = full;
  EXPECT_EQ(lost, 2);
  const std::vector<tidewatch::v1::Escalation> after = EscalationsAfter("revenues", saved_sequence);
  ASSERT_EQ(after.size(), 2u) << "the call-up stood down and the tide's fall, produced again";
  ASSERT_TRUE(after[0].has_callup());
  EXPECT_EQ(after[0].callup().id(), first.paged.id());
  EXPECT_EQ(after[0].callup().state(), tidewatch::v1::CALL_UP_STATE_STOOD_DOWN);
  ASSERT_TRUE(after[1].has_tide_change());
  EXPECT_EQ(after[1].tide_change().to_level(), 0);
}

// While a successor replays a partition, its lines' tide, feed and open
// call-ups are the saved ones (what the line will have once restored), and
// the line says it is recovering: /metrics and the dashboards must not show
// a line in a surge as calm for the length of a replay (alerts would resolve
// and fire again).
TEST_P(StreamTest, ARecoveringLineShowsItsSavedTideAndCallUps) {
  const FirstCallUp first = RevenuesToFirstCallUp(policy_);
  ASSERT_FALSE(HasFailure());
  const LineStatus saved = RunOneInstanceOver(first.revenues, first.upto, "revenues");
  ASSERT_FALSE(HasFailure());
  ASSERT_GT(saved.tide.level, 0);
  ASSERT_FALSE(saved.open_callups.empty());

  options_.max_batch = 5;  // a replay of many Steps
  auto in = NewInstance();
  bool seen_recovering = false;
  ASSERT_TRUE(RunUntil(*in, [&](const StreamStatus& s) {
    if (s.recoveries == 0 || s.recovering.empty()) return s.ready && s.recoveries > 0;
    const LineStatus now = StatusOf(in->processor->Lines(), "revenues");
    if (now.line_id.empty() || !now.recovering) return false;
    seen_recovering = true;
    EXPECT_EQ(now.tide.level, saved.tide.level);
    EXPECT_EQ(now.tide.tier, saved.tide.tier);
    EXPECT_EQ(now.tide.episode_start, saved.tide.episode_start);
    EXPECT_EQ(now.totals.offered(), saved.totals.offered());
    EXPECT_EQ(now.open_callups.size(), saved.open_callups.size());
    return true;
  }));
  EXPECT_TRUE(seen_recovering) << "the replay was over before it could be seen";
  ASSERT_TRUE(RunUntil(*in, [](const StreamStatus& s) { return s.ready; }));
  const LineStatus after = StatusOf(in->processor->Lines(), "revenues");
  EXPECT_FALSE(after.recovering);
  EXPECT_EQ(after.tide.level, saved.tide.level);
  ASSERT_TRUE(in->processor->Shutdown(absl::Seconds(5)).ok());
}

// Live time (--clock=wall, tidewatchd's default): a successor's recovery
// replays the last hour or so to rebuild its lines' windows, and the wall
// clock's ticks must not move a recovering engine past the events it
// replays (they would all be late: counted, but out of every window, and a
// line in a surge would look calm). The first instance runs on event time
// and stops; the successor's wall clock reads the time of the last event
// it applied: once recovered, revenues' windows are the ones it had.
TEST_P(StreamTest, RecoveryOnTheWallClockRebuildsTheWindows) {
  const FirstCallUp first = RevenuesToFirstCallUp(policy_);
  ASSERT_FALSE(HasFailure());
  const LineStatus saved =
      RunOneInstanceOver(first.revenues, first.upto, "revenues");  // event time
  ASSERT_FALSE(HasFailure());
  ASSERT_EQ(saved.line_id, "revenues");
  ASSERT_FALSE(saved.windows.empty());
  ASSERT_GT(saved.windows.back().second.offered(), 0);

  options_.wall_clock_ticks = true;
  SimulatedClock wall(saved.engine_time);
  Clients clients;
  clients.clock = &wall;
  auto in = NewInstance(clients);
  ASSERT_TRUE(RunUntil(*in, [](const StreamStatus& s) { return s.ready && s.recoveries > 0; }));
  RunUntil(
      *in, [](const StreamStatus&) { return false; }, absl::Milliseconds(500));  // more ticks
  const LineStatus got = StatusOf(in->processor->Lines(), "revenues");
  EXPECT_EQ(got.engine_time, saved.engine_time);
  EXPECT_EQ(got.totals.DebugString(), saved.totals.DebugString());
  ASSERT_EQ(got.windows.size(), saved.windows.size());
  for (size_t i = 0; i < got.windows.size(); ++i) {
    EXPECT_EQ(got.windows[i].first, saved.windows[i].first);
    EXPECT_EQ(got.windows[i].second.DebugString(), saved.windows[i].second.DebugString())
        << "window " << absl::FormatDuration(saved.windows[i].first);
  }
  EXPECT_EQ(got.tide.level, saved.tide.level);
  ASSERT_TRUE(in->processor->Shutdown(absl::Seconds(5)).ok());
}

// StreamStatus::rejected feeds Prometheus counters (tidewatch_events_
// rejected_total): a partition that moves to another member takes none of
// its counts away. Each line's first event is produced twice (a duplicate
// each); once a second instance has taken some of those lines' partitions,
// the first still counts every duplicate it set aside.
TEST_P(StreamTest, SetAsideCountsStayWhenPartitionsMoveAway) {
  const Day& day = SummonsDay();
  std::set<std::string> lines;
  const std::vector<tidewatch::v1::CallEvent> events =
      WithFirstEventsTwice(day.events, 3000, lines);
  const int64_t duplicates = static_cast<int64_t>(lines.size());
  ASSERT_GE(duplicates, 4);
  Produce(events, 0, events.size());
  auto first = NewInstance();
  ASSERT_TRUE(RunUntil(*first, [&](const StreamStatus& s) {
    auto it = s.rejected.find("duplicate");
    return s.ready && it != s.rejected.end() && it->second >= duplicates;
  }));
  ASSERT_EQ(first->processor->Status().rejected.at("duplicate"), duplicates);

  auto second = NewInstance();
  bool moved = false;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (!moved && absl::Now() < deadline) {
    first->processor->Step(absl::Milliseconds(50)).IgnoreError();
    second->processor->Step(absl::Milliseconds(50)).IgnoreError();
    const StreamStatus a = first->processor->Status();
    const StreamStatus b = second->processor->Status();
    if (!a.ready || !b.ready || b.partitions.empty()) continue;
    for (const std::string& line : lines) {
      const int32_t p = PartitionForKey(line, kPartitions);
      if (std::find(b.partitions.begin(), b.partitions.end(), p) != b.partitions.end()) {
        moved = true;
      }
    }
  }
  ASSERT_TRUE(moved) << "no line with a duplicate moved to the second instance";
  EXPECT_GE(first->processor->Status().rejected["duplicate"], duplicates);
  // (Each leaving starts a rebalance the other may be in the middle of:
  // their hand-overs are not what this test is about.)
  second->processor->Shutdown(absl::Seconds(5)).IgnoreError();
  first->processor->Shutdown(absl::Seconds(5)).IgnoreError();
}

// The idempotent path on both brokers (the real one too): the offsets of a
// commit point are committed only once every record produced before it is
// delivered. While delivery reports are held back, Steps keep processing
// (the whole day) and nothing is committed; when held records fail, the
// point is dropped and nothing is committed either; once they are produced
// again and delivered, the offsets of everything are committed, and the
// escalations topic has every line's escalations without a gap.
// A Clients::wrap that puts a FaultyProducer, its report gate closed, in
// front of the instance's producer and points *gate at it.
std::function<std::unique_ptr<kafka::Producer>(std::unique_ptr<kafka::Producer>)> ClosedGate(
    FaultyProducer** gate) {
  return [gate](std::unique_ptr<kafka::Producer> inner) {
    auto g = std::make_unique<FaultyProducer>(std::move(inner));
    *gate = g.get();
    g->CloseGate();
    return g;
  };
}

// The next commit point is taken as soon as the one in flight is done: a
// point whose delivery reports are held until after the next interval does
// not make the rest wait a further interval. The processor's clock is
// simulated and stands still once the reports come.
TEST_P(StreamTest, TheNextCommitPointFollowsTheOneInFlight) {
  options_.exactly_once = false;                    // commit points
  options_.idle_commit_gap = absl::ZeroDuration();  // intervals only
  options_.commit_interval = absl::Seconds(10);
  SimulatedClock clock(absl::FromUnixSeconds(1'700'000'000));
  const Day& day = SummonsDay();
  const size_t half = day.events.size() / 2;
  const int64_t n = static_cast<int64_t>(day.events.size());
  Produce(day.events, 0, half);
  FaultyProducer* gate = nullptr;
  Clients clients;
  clients.clock = &clock;
  clients.wrap = ClosedGate(&gate);
  auto in = NewInstance(clients);
  ASSERT_TRUE(RunUntil(
      *in, [&](const StreamStatus& s) { return s.events_applied >= static_cast<int64_t>(half); }));
  // An interval: a point of the first half, its state records held back.
  clock.Advance(absl::Seconds(10));
  RunUntil(
      *in, [](const StreamStatus&) { return false; }, absl::Milliseconds(500));
  EXPECT_GT(gate->held_reports(), 0u);
  Produce(day.events, half, day.events.size());
  ASSERT_TRUE(RunUntil(*in, [&](const StreamStatus& s) { return s.events_applied >= n; }));
  // The next interval comes round with that point still in flight.
  clock.Advance(absl::Seconds(10));
  RunUntil(
      *in, [](const StreamStatus&) { return false; }, absl::Milliseconds(500));
  EXPECT_EQ(in->processor->Status().commits, 0);
  // The reports come: the first point is committed, and the next, covering
  // the second half, follows it with the clock where it is.
  gate->OpenGate();
  const std::map<int32_t, int64_t> end = EventsEnd();
  std::map<int32_t, int64_t> committed;
  ASSERT_TRUE(RunUntil(*in, [&](const StreamStatus& s) {
    // (The broker may show the second commit before its result is served.)
    return s.commits >= 2 && CommittedReach(end, &committed);
  })) << Describe(in->processor->Status());
  ASSERT_TRUE(in->processor->Shutdown(absl::Seconds(5)).ok());
}

// A processor kept busy (every poll fills its batch, so it never catches
// up) still commits as it goes: its bookkeeping comes round while batches
// keep coming (with the engine thread in a Step that finds the worker
// between batches, and at worst after a bounded number of Steps). The
// processor's clock stands still, so only that bound in Steps brings it
// round; the test paces its Steps (a millisecond apart, ~3,000 of them) so
// that commits, which take real round trips, have time to complete. (On
// one thread every Step does its bookkeeping.)
TEST_P(StreamTest, ABusyProcessorCommitsBeforeItCatchesUp) {
  if (!options_.engine_thread) GTEST_SKIP() << "every Step does its bookkeeping";
  options_.commit_interval = absl::ZeroDuration();  // at every bookkeeping
  options_.max_batch = 5;
  SimulatedClock clock(absl::FromUnixSeconds(1'700'000'000));
  const Day& day = SummonsDay();
  const int64_t n = static_cast<int64_t>(day.events.size());
  Produce(day.events, 0, day.events.size());
  Clients clients;
  clients.clock = &clock;
  auto in = NewInstance(clients);
  // Until the first records: the Steps before are idle ones.
  ASSERT_TRUE(RunUntil(*in, [](const StreamStatus& s) { return s.records_consumed > 0; }));
  const int64_t commits_at_start = in->processor->Status().commits;
  int64_t commits_while_busy = 0;
  ASSERT_TRUE(RunUntil(
      *in,
      [&](const StreamStatus& s) {
        if (s.events_applied < n * 9 / 10) commits_while_busy = s.commits - commits_at_start;
        return s.events_applied >= n;
      },
      absl::Seconds(60), /*pace=*/absl::Milliseconds(1)))
      << Describe(in->processor->Status());
  // Bookkeeping every 8 Steps (72 at worst): dozens of commit rounds.
  EXPECT_GE(commits_while_busy, 20) << Describe(in->processor->Status());
  ExpectTotalsEqualSummary(in->processor->Lines());
  ASSERT_TRUE(in->processor->Shutdown(absl::Seconds(5)).ok());
}

TEST_P(StreamTest, ACommitNeverCoversAnUndeliveredRecord) {
  options_.exactly_once = false;
  const Day& day = SummonsDay();
  const size_t half = day.events.size() / 2;
  const int64_t n = static_cast<int64_t>(day.events.size());
  Produce(day.events, 0, half);
  FaultyProducer* gate = nullptr;
  Clients clients;
  clients.wrap = ClosedGate(&gate);
  auto in = NewInstance(clients);
  ASSERT_TRUE(RunUntil(
      *in, [&](const StreamStatus& s) { return s.events_applied >= static_cast<int64_t>(half); }));
  // Five commit intervals more: points are due, none may be committed.
  RunUntil(
      *in, [](const StreamStatus&) { return false; }, absl::Seconds(1));
  EXPECT_EQ(in->processor->Status().commits, 0);
  EXPECT_GT(gate->held_reports(), 0u);
  // Steps go on processing while the commit waits.
  Produce(day.events, half, day.events.size());
  ASSERT_TRUE(RunUntil(*in, [&](const StreamStatus& s) { return s.events_applied >= n; }));
  EXPECT_EQ(in->processor->Status().commits, 0);
  for (const auto& [p, offset] : CommittedEvents()) {
    EXPECT_EQ(offset, kafka::kOffsetInvalid) << "partition " << p << " committed";
  }
  // Three of the held records fail (the earliest produced, which the
  // pending commit point covers): the point is dropped, nothing committed.
  gate->FailHeldReports(3);
  ASSERT_TRUE(RunUntil(*in, [](const StreamStatus& s) { return s.commit_failures >= 1; }));
  StreamStatus st = in->processor->Status();
  EXPECT_EQ(st.commits, 0);
  EXPECT_GE(st.delivery_errors, 3);
  for (const auto& [p, offset] : CommittedEvents()) {
    EXPECT_EQ(offset, kafka::kOffsetInvalid) << "partition " << p << " committed";
  }
  // Delivered at last: the next point commits everything.
  gate->OpenGate();
  const std::map<int32_t, int64_t> end = EventsEnd();
  ASSERT_TRUE(RunUntil(*in, [](const StreamStatus& s) { return s.commits >= 1; }));
  std::map<int32_t, int64_t> committed;
  ASSERT_TRUE(RunUntil(*in, [&](const StreamStatus& s) {
    // The confirmed commit may precede the last point: poll until it covers
    // the end (a commit every 200 ms).
    return s.commits > 0 && CommittedReach(end, &committed);
  }));
  ExpectTotalsEqualSummary(in->processor->Lines());
  ASSERT_TRUE(in->processor->Shutdown(absl::Seconds(5)).ok());
  ExpectEscalationsComplete();
}

// A partition handed over while the delivery reports of its records are
// held back: when they then fail, the first instance does not produce them
// again (nothing of theirs was committed: the new owner produced them from
// the committed position). Produced again, late, they landed after the new
// owner's records: each moved line's escalations a third time, after the
// new owner's. (The first instance applies the whole day before the second
// joins: handed over mid-day, the escalations of the rest of the day would
// have one copy or two as the revocation's timing falls.)
TEST_P(StreamTest, AHandedOverPartitionsFailedRecordsAreLeftToItsNewOwner) {
  options_.exactly_once = false;
  const Day& day = SummonsDay();
  const int64_t n = static_cast<int64_t>(day.events.size());
  Produce(day.events, 0, day.events.size());
  FaultyProducer* gate = nullptr;
  Clients clients;
  clients.wrap = ClosedGate(&gate);
  auto first = NewInstance(clients);
  ASSERT_TRUE(RunUntil(*first, [&](const StreamStatus& s) { return s.events_applied >= n; }));
  ASSERT_TRUE(RunUntil(*first, [&](const StreamStatus&) { return gate->held_reports() > 0; }))
      << "no delivery report held";
  // A second instance takes some partitions (the first cannot commit
  // anything: its hand-over commit fails), reads them again from the
  // beginning and commits them to their end.
  auto second = NewInstance();
  const std::map<int32_t, int64_t> end = EventsEnd();
  std::vector<int32_t> moved;
  const absl::Time deadline = absl::Now() + absl::Seconds(90);
  bool done = false;
  while (!done && absl::Now() < deadline) {
    first->processor->Step(absl::Milliseconds(20)).IgnoreError();
    second->processor->Step(absl::Milliseconds(20)).IgnoreError();
    const StreamStatus b = second->processor->Status();
    if (!b.ready || b.partitions.empty() || !first->processor->Status().ready) continue;
    std::map<int32_t, int64_t> committed = CommittedEvents();
    done = true;
    for (int32_t p : b.partitions) {
      if (end.at(p) > 0 && committed[p] != end.at(p)) done = false;
    }
    if (done) moved = b.partitions;
  }
  ASSERT_TRUE(done) << "the second instance did not commit its partitions";
  std::set<std::string> moved_lines;
  for (const auto& s : day.summary.lines) {
    const int32_t p = PartitionForKey(s.line_id, kPartitions);
    if (std::find(moved.begin(), moved.end(), p) != moved.end()) moved_lines.insert(s.line_id);
  }
  ASSERT_FALSE(moved_lines.empty());
  ASSERT_TRUE(second->processor->Shutdown(absl::Seconds(5)).ok());
  second.reset();
  // Every held report fails; the first retries what is still its own
  // (it owns every partition again once the second has left).
  const int64_t failed = static_cast<int64_t>(gate->held_reports());
  gate->FailHeldReports(failed);
  gate->OpenGate();
  ASSERT_TRUE(RunUntil(
      *first, [&](const StreamStatus& s) { return s.ready && CommittedReach(end); },
      absl::Seconds(90)));
  // The failures were seen (else nothing here was retried at all).
  EXPECT_GE(first->processor->Status().delivery_errors, failed);
  ASSERT_TRUE(first->processor->Shutdown(absl::Seconds(5)).ok());
  // A moved line's escalations are there twice: the first instance's
  // (written, though reported failed) and the new owner's. Not a third time
  // after those, older than the new owner's newest.
  std::map<std::string, int64_t> last, highest;
  std::map<std::pair<std::string, int64_t>, int> copies;
  for (const kafka::Record& r : ReadAll(T("tidewatch.escalations"), kPartitions)) {
    tidewatch::v1::Escalation e;
    ASSERT_TRUE(e.ParseFromString(r.value));
    last[e.line_id()] = e.sequence();
    highest[e.line_id()] = std::max(highest[e.line_id()], e.sequence());
    ++copies[{e.line_id(), e.sequence()}];
  }
  int moved_escalations = 0;
  for (const auto& [key, n] : copies) {
    if (!moved_lines.count(key.first)) continue;
    ++moved_escalations;
    EXPECT_EQ(n, 2) << key.first << " #" << key.second;
  }
  EXPECT_GT(moved_escalations, 0) << "no moved line had escalations";
  for (const std::string& line : moved_lines) {
    if (!last.count(line)) continue;  // no escalation all day
    EXPECT_EQ(last[line], highest[line]) << line << ": an older escalation after the newest";
  }
  ExpectEscalationsComplete();
}

// The idempotent path on both brokers: a line's state record is produced
// only once every record before it is delivered, so it never becomes
// durable ahead of an escalation it reflects. Here the escalations never
// leave the first instance (held in its client) while its state records
// could; it dies (destroyed without shutdown: no hand-over). Its successor
// must produce every escalation of the day: had a state record got out, the
// successor would trust it, start after the escalations' events and never
// produce them.
TEST_P(StreamTest, AStateRecordNeverOvertakesAnUndeliveredEscalation) {
  const Day& day = SummonsDay();
  const std::map<std::string, std::string> reference = ReferenceEscalations(day);
  ASSERT_FALSE(reference.empty());
  options_.exactly_once = false;  // (SetUp, again in ReferenceEscalations, chose)
  const int64_t n = static_cast<int64_t>(day.events.size());
  Produce(day.events, 0, day.events.size());
  FaultyProducer* held = nullptr;
  Clients clients;
  clients.wrap = [&](std::unique_ptr<kafka::Producer> inner) -> std::unique_ptr<kafka::Producer> {
    auto h = std::make_unique<FaultyProducer>(
        std::move(inner), FaultyProducer::HoldTopic(T("tidewatch.escalations")));
    held = h.get();
    return h;
  };
  {
    auto first = NewInstance(clients);
    ASSERT_TRUE(RunUntil(*first, [&](const StreamStatus& s) { return s.events_applied >= n; }));
    // Five commit intervals more: points are due.
    RunUntil(
        *first, [](const StreamStatus&) { return false; }, absl::Seconds(1));
    const StreamStatus st = first->processor->Status();
    ASSERT_GT(st.escalations_produced, 0);
    EXPECT_EQ(held->held_records(), st.escalations_produced);
    // A commit point reached before the day's first escalation may commit
    // (a real broker can hand over one partition's records before the
    // others'), but no state record that got out may reflect an escalation:
    // none was delivered.
    int state_records = 0;
    for (const kafka::Record& r : ReadAll(T("tidewatch.state"), kPartitions)) {
      tidewatch::v1::LineTideState state;
      ASSERT_TRUE(state.ParseFromString(r.value));
      ++state_records;
      EXPECT_EQ(state.escalation_sequence(), 0)
          << state.line_id() << ": state produced ahead of undelivered escalations";
      EXPECT_EQ(state.level(), 0) << state.line_id();
    }
    EXPECT_LE(state_records, st.state_records_produced);
  }  // dies
  EXPECT_TRUE(ReadAll(T("tidewatch.escalations"), kPartitions).empty());
  auto second = NewInstance();
  ASSERT_TRUE(RunUntil(*second,
                       [&](const StreamStatus& s) {
                         return s.ready &&
                                s.escalations_produced >= static_cast<int64_t>(reference.size());
                       }))
      << "successor produced " << second->processor->Status().escalations_produced << " of "
      << reference.size() << " escalations";
  ASSERT_TRUE(second->processor->Shutdown(absl::Seconds(5)).ok());
  std::set<std::string> ids;
  for (const kafka::Record& r : ReadAll(T("tidewatch.escalations"), kPartitions)) {
    tidewatch::v1::Escalation e;
    ASSERT_TRUE(e.ParseFromString(r.value));
    ids.insert(e.id());
  }
  std::set<std::string> expected;
  for (const auto& [id, value] : reference) expected.insert(id);
  EXPECT_EQ(ids, expected);
  ExpectEscalationsComplete();
}

// With the broker gone, Shutdown does not hang on the flush or the commit:
// it returns an error within flush_timeout + commit_timeout (here 1 s + 1 s)
// and commits nothing, so a restart processes everything again; closing
// the consumer (the instance destroyed) with the broker still gone is bounded
// by its close_timeout (2 s) too.
TEST_P(StreamTest, ShutdownWithTheBrokerDownReturnsWithinItsBound) {
  options_.exactly_once = false;
  options_.flush_timeout = absl::Seconds(1);
  options_.commit_interval = absl::Hours(1);        // only the first Step commits (nothing)
  options_.idle_commit_gap = absl::ZeroDuration();  // not even once caught up
  const Day& day = SummonsDay();
  const size_t quarter = day.events.size() / 4;
  Produce(day.events, 0, quarter);
  Clients clients;
  clients.commit_timeout = absl::Seconds(1);
  clients.close_timeout = absl::Seconds(2);
  auto in = NewInstance(clients);
  ASSERT_TRUE(RunUntil(*in, [&](const StreamStatus& s) {
    return s.ready && s.events_applied >= static_cast<int64_t>(quarter);
  }));
  BrokerDown();
  const absl::Time start = absl::Now();
  absl::Status s = in->processor->Shutdown(absl::Seconds(2));
  const absl::Duration took = absl::Now() - start;
  EXPECT_FALSE(s.ok());
  EXPECT_LT(took, absl::Seconds(6)) << s;  // (slack for a loaded machine)
  std::printf("shutdown with the broker down: %s after %s\n", s.ToString().c_str(),
              absl::FormatDuration(took).c_str());
  const absl::Time destroy = absl::Now();
  in.reset();
  const absl::Duration destroyed = absl::Now() - destroy;
  std::printf("instance destroyed with the broker down in %s\n",
              absl::FormatDuration(destroyed).c_str());
  EXPECT_LT(destroyed, absl::Seconds(8));
  BrokerUp();
  for (const auto& [p, offset] : CommittedEvents()) {
    EXPECT_EQ(offset, kafka::kOffsetInvalid) << "partition " << p << " committed";
  }
}

// Caught up, an instance commits what it consumed without waiting for the
// commit interval (here an hour): once a Step polls nothing, the committed
// offsets cover the whole topic within idle_commit_gap (default 100 ms) and
// a commit round; with the gap zero the same instance would commit nothing
// (ShutdownWithTheBrokerDownReturnsWithinItsBound).
TEST_P(StreamTest, CaughtUpCommitsWithoutWaitingForTheInterval) {
  options_.commit_interval = absl::Hours(1);
  ASSERT_EQ(options_.idle_commit_gap, absl::Milliseconds(100));
  const Day& day = SummonsDay();
  const int64_t n = static_cast<int64_t>(day.events.size());
  Produce(day.events, 0, day.events.size());
  const std::map<int32_t, int64_t> end = EventsEnd();
  auto in = NewInstance();
  ASSERT_TRUE(
      RunUntil(*in, [&](const StreamStatus& s) { return s.ready && s.events_applied >= n; }));
  std::map<int32_t, int64_t> committed;
  const bool covered = RunUntil(
      *in, [&](const StreamStatus& s) { return s.commits > 0 && CommittedReach(end, &committed); },
      absl::Seconds(20));
  EXPECT_TRUE(covered) << Describe(in->processor->Status());
  for (const auto& [p, high] : end) {
    if (high > 0) {
      EXPECT_EQ(committed[p], high) << "partition " << p;
    }
  }
  // Idle Steps with nothing new consumed commit nothing more (after a
  // second for the last commit's confirmation to be counted).
  RunUntil(
      *in, [](const StreamStatus&) { return false; }, absl::Seconds(1));
  const int64_t commits = in->processor->Status().commits;
  RunUntil(
      *in, [](const StreamStatus&) { return false; }, absl::Seconds(1));
  EXPECT_EQ(in->processor->Status().commits, commits);
  ExpectTotalsEqualSummary(in->processor->Lines());
  ASSERT_TRUE(in->processor->Shutdown(absl::Seconds(5)).ok());
}

// The Step whose batch reads every events partition to its end commits at
// once: it does not take the next Step's empty poll to find out. Steps here
// poll for up to 30 s, so a commit that waited for an empty poll would come
// after the test's 20 s.
TEST_P(StreamTest, ReadingEveryPartitionToItsEndCommitsWithoutAnEmptyPoll) {
  options_.commit_interval = absl::Hours(1);
  options_.max_batch = 1'000'000;  // every batch drains what was fetched
  const Day& day = SummonsDay();
  const int64_t n = static_cast<int64_t>(day.events.size());
  Produce(day.events, 0, day.events.size());
  const std::map<int32_t, int64_t> end = EventsEnd();
  auto in = NewInstance();
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  std::map<int32_t, int64_t> committed;
  bool covered = false;
  absl::Time last_event_applied = absl::InfiniteFuture();
  while (!covered && absl::Now() < deadline) {
    in->processor->Step(absl::Seconds(30)).IgnoreError();
    const StreamStatus s = in->processor->Status();
    if (s.events_applied < n) continue;
    last_event_applied = std::min(last_event_applied, absl::Now());
    covered = s.commits > 0 && CommittedReach(end, &committed);
  }
  ASSERT_TRUE(covered) << Describe(in->processor->Status());
  // (A liveness bound, not a timing: the commit round after the last event
  // takes milliseconds; one that waited for an empty poll would take 30 s.)
  EXPECT_LT(absl::Now() - last_event_applied, absl::Seconds(15));
  for (const auto& [p, high] : end) {
    if (high > 0) {
      EXPECT_EQ(committed[p], high) << "partition " << p;
    }
  }
  ExpectTotalsEqualSummary(in->processor->Lines());
  ASSERT_TRUE(in->processor->Shutdown(absl::Seconds(5)).ok());
}

// While a backlog is read, escalations are not handed to the producer one
// by one as batches raise them (each would leave in a produce request of
// its own every linger.ms): they are held until a commit or the Step that
// catches up, and go together. The day is produced before the instance
// starts, so that its first fetch brings all of it and no Step in between
// runs dry; with no interval commit (an hour) they go at the end.
TEST_P(StreamTest, WhileABacklogIsReadEscalationsGoTogetherAtTheEnd) {
  options_.commit_interval = absl::Hours(1);
  options_.max_batch = 50;  // hundreds of Steps
  const Day& day = SummonsDay();
  const int64_t n = static_cast<int64_t>(day.events.size());
  Produce(day.events, 0, day.events.size());
  Clients clients;
  const std::shared_ptr<std::atomic<int64_t>> produced = CountProduced(clients).escalations;
  auto in = NewInstance(clients);
  // Steps in which the core raised escalations, and in which some reached
  // the producer.
  int raising_steps = 0;
  int producing_steps = 0;
  int64_t raised = 0;
  int64_t seen = 0;
  ASSERT_TRUE(RunUntil(*in, [&](const StreamStatus& s) {
    if (s.escalations_produced > raised) ++raising_steps;
    if (*produced > seen) ++producing_steps;
    raised = s.escalations_produced;
    seen = *produced;
    return s.events_applied >= n && *produced >= raised;
  })) << Describe(in->processor->Status());
  EXPECT_GE(raised, 20);
  EXPECT_GE(raising_steps, 10);  // spread over the backlog's Steps
  // Released when a Step caught up (once, or a few times should Steps run
  // dry on the way), not as raised (each raising Step a producing one).
  EXPECT_LT(producing_steps * 3, raising_steps) << producing_steps << " Steps produced some";
  EXPECT_EQ(*produced, raised);
  ASSERT_TRUE(in->processor->Shutdown(absl::Seconds(5)).ok());
}

// Held escalations and dead letters go at once when either cap is reached
// (here 8 records, or 32 KiB: three of the 10 KiB dead letters), however
// far behind the processor is: after every Step, what the processor has
// raised and the producer has not been given stays under both.
TEST_P(StreamTest, HeldRecordsGoWhenACapIsReached) {
  options_.commit_interval = absl::Hours(1);
  options_.max_batch = 50;  // hundreds of Steps
  options_.max_held_records = 8;
  options_.max_held_bytes = 32 << 10;
  const Day& day = SummonsDay();
  const int64_t n = static_cast<int64_t>(day.events.size());
  const std::string garbage = "\xff\xfe not a protobuf" + std::string(10 << 10, 'x');
  int64_t garbage_count = 0;
  {
    auto producer = *kafka::NewProducer(config_, {});
    for (size_t i = 0; i < day.events.size(); ++i) {
      const tidewatch::v1::CallEvent& e = day.events[i];
      ASSERT_TRUE(
          producer->Produce(T("telephony.call-events"), e.line_id(), e.SerializeAsString()).ok());
      if (i % 300 == 0) {
        ASSERT_TRUE(producer->Produce(T("telephony.call-events"), "revenues", garbage).ok());
        ++garbage_count;
      }
    }
    ASSERT_TRUE(producer->Flush(absl::Seconds(30)).ok());
  }
  Clients clients;
  const ProducedCounts counts = CountProduced(clients);
  const std::shared_ptr<std::atomic<int64_t>> escalations = counts.escalations;
  const std::shared_ptr<std::atomic<int64_t>> dead_letters = counts.dead_letters;
  auto in = NewInstance(clients);
  int64_t most_records = 0;
  int64_t most_dead = 0;
  int over = 0;
  ASSERT_TRUE(RunUntil(*in, [&](const StreamStatus& s) {
    // Given to the producer after the status was read: never more held.
    const int64_t held_escalations = s.escalations_produced - *escalations;
    const int64_t held_dead = s.dead_lettered - *dead_letters;
    most_records = std::max(most_records, held_escalations + held_dead);
    most_dead = std::max(most_dead, held_dead);
    if (held_escalations + held_dead >= static_cast<int64_t>(options_.max_held_records) ||
        held_dead * static_cast<int64_t>(garbage.size()) >=
            static_cast<int64_t>(options_.max_held_bytes)) {
      ++over;
    }
    return s.events_applied >= n && s.dead_lettered >= garbage_count &&
           *escalations >= s.escalations_produced && *dead_letters >= s.dead_lettered;
  })) << Describe(in->processor->Status());
  EXPECT_EQ(over, 0) << "held at most " << most_records << " records, " << most_dead
                     << " dead letters";
  const StreamStatus st = in->processor->Status();
  EXPECT_GE(st.escalations_produced, 20);
  EXPECT_EQ(st.dead_lettered, garbage_count);
  EXPECT_EQ(*escalations, st.escalations_produced);
  EXPECT_EQ(*dead_letters, garbage_count);
  ASSERT_TRUE(in->processor->Shutdown(absl::Seconds(5)).ok());
  in.reset();
  EXPECT_EQ(static_cast<int64_t>(ReadAll(T("tidewatch.dead-letter"), 1).size()), garbage_count);
}

// A commit point's deliveries are not left to the producer's linger.ms once
// a Step has caught up: they are flushed at once, and the end of a backlog
// is committed without waiting for the linger (here 30 s; the limit is
// half that).
TEST_P(StreamTest, CaughtUpCommitPointsDoNotWaitForTheLinger) {
  options_.exactly_once = false;  // commit points
  options_.commit_interval = absl::Hours(1);
  const Day& day = SummonsDay();
  const int64_t n = static_cast<int64_t>(day.events.size());
  Produce(day.events, 0, day.events.size());
  const std::map<int32_t, int64_t> end = EventsEnd();
  Clients clients;
  clients.linger = absl::Seconds(30);
  auto in = NewInstance(clients);
  ASSERT_TRUE(RunUntil(*in, [&](const StreamStatus& s) { return s.events_applied >= n; }));
  std::map<int32_t, int64_t> committed;
  EXPECT_TRUE(RunUntil(
      *in, [&](const StreamStatus& s) { return s.commits > 0 && CommittedReach(end, &committed); },
      absl::Seconds(15)))
      << Describe(in->processor->Status());
  EXPECT_GT(in->processor->Status().escalations_produced, 0);
  ASSERT_TRUE(in->processor->Shutdown(absl::Seconds(5)).ok());
}

// idle_commit_gap counts from the last commit a caught-up Step made, not
// from the interval's: a backlog whose interval commit came while it was
// read is committed as soon as it is read. The processor's clock stands
// still from that interval on, so a gap counted from it would never pass.
TEST_P(StreamTest, TheIntervalsCommitDoesNotHoldBackTheCaughtUpOne) {
  options_.commit_interval = absl::Seconds(10);
  options_.idle_commit_gap = absl::Seconds(5);
  options_.max_batch = 5;  // hundreds of Steps behind
  SimulatedClock clock(absl::FromUnixSeconds(1'700'000'000));
  const Day& day = SummonsDay();
  const size_t half = day.events.size() / 2;
  const int64_t n = static_cast<int64_t>(day.events.size());
  Produce(day.events, 0, half);
  const std::map<int32_t, int64_t> half_end = EventsEnd();
  Clients clients;
  clients.clock = &clock;
  auto in = NewInstance(clients);
  // The first half read and all of it committed by caught-up Steps. A Step
  // may catch up with part of it (some partitions fetched before others)
  // and commit that much: the clock moves on by a gap for the rest.
  ASSERT_TRUE(RunUntil(*in, [&](const StreamStatus& s) {
    return s.events_applied >= static_cast<int64_t>(half);
  })) << Describe(in->processor->Status());
  clock.Advance(options_.idle_commit_gap);
  ASSERT_TRUE(RunUntil(*in, [&](const StreamStatus&) { return CommittedReach(half_end); }))
      << Describe(in->processor->Status());
  // The second half, fetched before the next Step (a Step that found a
  // partition's part not yet fetched would count as caught up, and its
  // commit would rightly be the last one until the clock moves), is read
  // with the interval due: its commit comes while the processor is behind,
  // then the clock stands still.
  Produce(day.events, half, day.events.size());
  absl::SleepFor(absl::Seconds(2));
  clock.Advance(options_.commit_interval);
  const std::map<int32_t, int64_t> end = EventsEnd();
  std::map<int32_t, int64_t> committed;
  EXPECT_TRUE(RunUntil(*in, [&](const StreamStatus& s) {
    return s.events_applied >= n && CommittedReach(end, &committed);
  })) << Describe(in->processor->Status());
  ExpectTotalsEqualSummary(in->processor->Lines());
  ASSERT_TRUE(in->processor->Shutdown(absl::Seconds(5)).ok());
}

// In-process broker: the broker down longer than the producer's delivery
// timeout while buffered events are processed. Steps never block (each
// returns within a second); deliveries time out and commit points are
// dropped; once the broker is back the failed records are produced again
// and everything is committed: nothing lost (KPIs equal the summary, every
// line's escalations complete).
TEST_P(StreamTest, DeliveryTimeoutsAreProducedAgainBeforeTheirOffsetsAreCommitted) {
  if (real()) GTEST_SKIP() << "uses the in-process broker's fault controls";
  const Day& day = SummonsDay();
  const int64_t n = static_cast<int64_t>(day.events.size());
  Produce(day.events, 0, day.events.size());
  Clients clients;
  clients.delivery_timeout = absl::Seconds(1);
  clients.commit_timeout = absl::Seconds(1);
  auto in = NewInstance(clients);
  ASSERT_TRUE(RunUntil(*in, [&](const StreamStatus& s) { return s.events_applied >= n / 3; }));
  BrokerDown();
  absl::Duration longest = absl::ZeroDuration();
  const absl::Time until = absl::Now() + absl::Seconds(3);
  while (absl::Now() < until) {
    const absl::Time t = absl::Now();
    in->processor->Step(absl::Milliseconds(50)).IgnoreError();
    longest = std::max(longest, absl::Now() - t);
  }
  EXPECT_LT(longest, absl::Seconds(1));
  BrokerUp();
  const std::map<int32_t, int64_t> end = EventsEnd();
  ASSERT_TRUE(RunUntil(
      *in,
      [&](const StreamStatus& s) {
        return s.ready && s.events_applied >= n && s.commits >= 1 && CommittedReach(end);
      },
      absl::Seconds(90)));
  StreamStatus st = in->processor->Status();
  std::printf("delivery errors %ld, commit failures %ld, commits %ld\n",
              static_cast<long>(st.delivery_errors), static_cast<long>(st.commit_failures),
              static_cast<long>(st.commits));
  EXPECT_GE(st.commit_failures, 1);
  ExpectTotalsEqualSummary(in->processor->Lines());
  ASSERT_TRUE(in->processor->Shutdown(absl::Seconds(5)).ok());
  ExpectEscalationsComplete();
}

// A transactional producer whose chosen calls fail the way librdkafka's do,
// in front of a real one.
class FlakyTxnProducer final : public kafka::ForwardingProducer {
 public:
  using ForwardingProducer::ForwardingProducer;
  // The n-th CommitTransaction (1-based) fails as abortable; the n-th
  // SendOffsetsToTransaction fails once as retriable.
  int abortable_commit = 0;
  int retriable_send_offsets = 0;
  int commits_seen = 0;
  int sends_seen = 0;

  absl::Status SendOffsetsToTransaction(const std::vector<kafka::TopicPartition>& offsets,
                                        const kafka::ConsumerGroupMetadata& group,
                                        absl::Duration timeout) override {
    if (++sends_seen == retriable_send_offsets) {
      return Failure("retriable", "send offsets to transaction: _TIMED_OUT (injected)");
    }
    return real().SendOffsetsToTransaction(offsets, group, timeout);
  }
  absl::Status CommitTransaction(absl::Duration timeout) override {
    if (++commits_seen == abortable_commit) {
      // The broker never sees this commit: the transaction stays open until
      // the processor aborts it.
      return Failure("abortable", "commit transaction: INVALID_RECORD (injected)");
    }
    return real().CommitTransaction(timeout);
  }

 private:
  static absl::Status Failure(const char* kind, const char* message) {
    absl::Status s = absl::UnavailableError(message);
    s.SetPayload("tidewatch.dev/kafka.txn_error", absl::Cord(kind));
    return s;
  }
};

// Exactly-once only (real broker): librdkafka's transactional error classes.
class StreamExactlyOnceTest : public StreamTest {
 protected:
  // Clients whose producer is a FlakyTxnProducer, left in `*faults`.
  static Clients Flaky(FlakyTxnProducer** faults) {
    Clients clients;
    clients.wrap = [faults](std::unique_ptr<kafka::Producer> real) {
      auto flaky = std::make_unique<FlakyTxnProducer>(std::move(real));
      *faults = flaky.get();
      return std::unique_ptr<kafka::Producer>(std::move(flaky));
    };
    return clients;
  }
};

// A retriable SendOffsetsToTransaction is retried in place; an abortable
// CommitTransaction aborts the transaction and rewinds every partition to
// its committed state and offsets (tasks recovered again). Nothing is lost
// or doubled: the KPIs equal the summary, and the committed escalations are
// gapless, never repeated, and exactly those of a run without faults.
TEST_P(StreamExactlyOnceTest, AbortableCommitRewindsAndRetriableIsRetried) {
  const Day& day = SummonsDay();
  const std::map<std::string, std::string> reference = ReferenceEscalations(day);
  ASSERT_FALSE(HasFailure());
  const size_t third = day.events.size() / 3;
  Produce(day.events, 0, third);
  FlakyTxnProducer* faults = nullptr;
  auto in = NewInstance(Flaky(&faults));
  ASSERT_TRUE(in->started);
  ASSERT_TRUE(RunUntil(*in, [&](const StreamStatus& s) {
    return s.events_applied >= static_cast<int64_t>(third) && s.commits >= 1;
  }));
  // Of the next commits, the first has its offsets sent twice (retriable),
  // the second fails as abortable, mid-day, with outputs in it.
  // The second third is committed with the retriable send before the last
  // third arrives, so the abortable commit carries outputs of the last
  // third however fast the processor gets through the second.
  faults->retriable_send_offsets = faults->sends_seen + 1;
  faults->abortable_commit = faults->commits_seen + 2;
  const int commits_before = faults->commits_seen;
  Produce(day.events, third, 2 * third);
  ASSERT_TRUE(RunUntil(*in, [&](const StreamStatus& s) {
    return s.events_applied >= static_cast<int64_t>(2 * third) &&
           faults->commits_seen > commits_before;
  }));
  // Undecodable records first in the last third: dead-lettered in the
  // aborted transaction, then again (and committed) after the rewind, but
  // counted once.
  {
    auto producer = *kafka::NewProducer(config_, {});
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(
          producer->Produce(T("telephony.call-events"), "revenues", "not a CallEvent").ok());
    }
    ASSERT_TRUE(producer->Flush(absl::Seconds(30)).ok());
  }
  Produce(day.events, 2 * third, day.events.size());
  const int64_t offered = day.summary.total.offered;
  auto total_offered = [&] {
    int64_t sum = 0;
    for (const LineStatus& l : in->processor->Lines()) sum += l.totals.offered();
    return sum;
  };
  ASSERT_TRUE(RunUntil(
      *in,
      [&](const StreamStatus& s) {
        return s.txn_aborts >= 1 && s.ready && total_offered() >= offered;
      },
      absl::Seconds(60)))
      << total_offered() << " of " << offered << " offered, " << in->processor->Status().txn_aborts
      << " aborts, " << faults->commits_seen << " transaction commits; "
      << Describe(in->processor->Status());
  RunUntil(
      *in, [](const StreamStatus&) { return false; }, absl::Seconds(1));
  StreamStatus st = in->processor->Status();
  EXPECT_EQ(st.txn_aborts, 1);
  EXPECT_FALSE(st.fenced);
  EXPECT_GE(faults->sends_seen, 3);  // the retriable one was retried
  EXPECT_EQ(st.dead_lettered, 3);
  ExpectTotalsEqualSummary(in->processor->Lines());
  ASSERT_TRUE(in->processor->Shutdown(absl::Seconds(5)).ok());
  EXPECT_EQ(ReadAll(T("tidewatch.dead-letter"), 1).size(), 3u);  // committed once
  std::map<std::string, std::string> got;
  std::map<std::string, int64_t> seq;
  for (const kafka::Record& r : ReadAll(T("tidewatch.escalations"), kPartitions)) {
    tidewatch::v1::Escalation e;
    ASSERT_TRUE(e.ParseFromString(r.value));
    EXPECT_TRUE(got.emplace(e.id(), r.value).second) << "committed twice: " << e.id();
    EXPECT_EQ(e.sequence(), ++seq[e.line_id()]) << e.id();
  }
  EXPECT_TRUE(SameEscalations(reference, got));
}

// The very first transaction of a new group fails as abortable: nothing is
// committed yet, so the rewind goes back to the beginning of every events
// partition (it used to leave the consumer where it was, past the records
// the aborted transaction had consumed: their events were never applied).
// Each line's first event comes twice: the duplicates the aborted
// transaction set aside are set aside again by the replay but counted once
// (they used to be counted twice).
TEST_P(StreamExactlyOnceTest, AnAbortedFirstTransactionRewindsToTheBeginning) {
  const Day& day = SummonsDay();
  const std::map<std::string, std::string> reference = ReferenceEscalations(day);
  ASSERT_FALSE(HasFailure());
  std::set<std::string> lines;
  const std::vector<tidewatch::v1::CallEvent> events =
      WithFirstEventsTwice(day.events, day.events.size(), lines);
  ASSERT_GE(lines.size(), 4u);
  Produce(events, 0, events.size());
  FlakyTxnProducer* faults = nullptr;
  auto in = UnstartedInstance(Flaky(&faults));
  faults->abortable_commit = 1;
  ASSERT_TRUE(in->processor->Start().ok());
  in->started = true;
  const int64_t offered = day.summary.total.offered;
  auto total_offered = [&] {
    int64_t sum = 0;
    for (const LineStatus& l : in->processor->Lines()) sum += l.totals.offered();
    return sum;
  };
  int64_t duplicates_reported = 0;
  bool duplicates_went_down = false;
  ASSERT_TRUE(RunUntil(
      *in,
      [&](const StreamStatus& s) {
        auto d = s.rejected.find("duplicate");
        const int64_t n = d == s.rejected.end() ? 0 : d->second;
        duplicates_went_down = duplicates_went_down || n < duplicates_reported;
        duplicates_reported = std::max(duplicates_reported, n);
        return s.txn_aborts >= 1 && s.ready && total_offered() >= offered && s.commits >= 1;
      },
      absl::Seconds(60)))
      << total_offered() << " of " << offered << " offered, " << in->processor->Status().txn_aborts
      << " aborts, " << faults->commits_seen << " transaction commits; "
      << Describe(in->processor->Status());
  StreamStatus st = in->processor->Status();
  EXPECT_EQ(st.txn_aborts, 1);
  EXPECT_FALSE(st.fenced);
  EXPECT_EQ(st.rejected["duplicate"], static_cast<int64_t>(lines.size()));
  EXPECT_FALSE(duplicates_went_down) << "a counter went down during the replay";
  ExpectTotalsEqualSummary(in->processor->Lines());
  ASSERT_TRUE(in->processor->Shutdown(absl::Seconds(5)).ok());
  EXPECT_EQ(in->processor->Status().rejected["duplicate"], static_cast<int64_t>(lines.size()));
  std::map<std::string, std::string> got;
  for (const kafka::Record& r : ReadAll(T("tidewatch.escalations"), kPartitions)) {
    tidewatch::v1::Escalation e;
    ASSERT_TRUE(e.ParseFromString(r.value));
    EXPECT_TRUE(got.emplace(e.id(), r.value).second) << "committed twice: " << e.id();
  }
  EXPECT_TRUE(SameEscalations(reference, got));
}

// Offsets sent to a transaction are what fence a member of an older group
// generation (a zombie whose session expired): a transaction that carries
// only a tick's outputs (here a re-page after the ack timeout, on the wall
// clock, nothing consumed) sends an owned partition's committed offset
// again, so a zombie's ticks cannot commit either.
TEST_P(StreamExactlyOnceTest, ATransactionOfTickOutputsAloneStillSendsOffsets) {
  const FirstCallUp first = RevenuesToFirstCallUp(policy_);
  ASSERT_FALSE(HasFailure());
  Produce(first.revenues, 0, first.upto);
  options_.wall_clock_ticks = true;
  SimulatedClock wall(FromProto(first.revenues.front().event_time()));
  FlakyTxnProducer* faults = nullptr;
  Clients clients = Flaky(&faults);
  clients.clock = &wall;
  auto in = NewInstance(clients);
  // The commit interval runs on the processor's clock: it moves a little
  // with every Step (far behind the events' own times).
  ASSERT_TRUE(RunUntil(*in, [&](const StreamStatus& s) {
    wall.Advance(absl::Milliseconds(200));
    return s.ready && s.events_applied >= static_cast<int64_t>(first.upto) && s.commits >= 1 &&
           s.escalations_produced > 0;
  })) << Describe(in->processor->Status());
  RunUntil(
      *in,
      [&](const StreamStatus&) {
        wall.Advance(absl::Milliseconds(200));
        return false;
      },
      absl::Milliseconds(500));  // all committed
  const int64_t escalations = in->processor->Status().escalations_produced;
  const int commits = faults->commits_seen;
  const int sends = faults->sends_seen;
  // The call-up's first contact does not answer: re-paged on the clock.
  wall.SetTo(FromProto(first.revenues[first.upto - 1].event_time()) + absl::Minutes(11));
  ASSERT_TRUE(RunUntil(*in, [&](const StreamStatus& s) {
    wall.Advance(absl::Milliseconds(200));
    return s.escalations_produced > escalations && faults->commits_seen > commits;
  })) << Describe(in->processor->Status());
  EXPECT_EQ(in->processor->Status().events_applied, static_cast<int64_t>(first.upto));
  EXPECT_GT(faults->sends_seen, sends);
  ASSERT_TRUE(in->processor->Shutdown(absl::Seconds(5)).ok());
}

INSTANTIATE_TEST_SUITE_P(InProcess, StreamTest,
                         ::testing::Values(StreamParam{BrokerKind::kInProcess, false},
                                           StreamParam{BrokerKind::kInProcess, true}),
                         StreamParamName);
INSTANTIATE_TEST_SUITE_P(RealKafka, StreamTest,
                         ::testing::Values(StreamParam{BrokerKind::kReal, false},
                                           StreamParam{BrokerKind::kReal, true}),
                         StreamParamName);

INSTANTIATE_TEST_SUITE_P(RealKafka, StreamExactlyOnceTest,
                         ::testing::Values(StreamParam{BrokerKind::kReal, false},
                                           StreamParam{BrokerKind::kReal, true}),
                         StreamParamName);

}  // namespace
}  // namespace tidewatch::stream
