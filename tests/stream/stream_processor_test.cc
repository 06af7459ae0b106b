// The streaming core end to end on the in-process Kafka broker: every event
// produced is reflected exactly once in the KPIs (totals equal the
// simulator's summary); undecodable records land in the dead-letter topic
// with the original bytes and a reason header and the partition carries on;
// a broker outage mid-run loses nothing; a partition handed over to a new
// instance recovers from the state topic and continues as if nothing
// happened (same escalations, same totals).
#include "stream/stream_processor.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "engine/engine.h"
#include "gtest/gtest.h"
#include "kafka/embedded_broker.h"
#include "kafka/kafka.h"
#include "policy/policy.h"
#include "sim/event_sink.h"
#include "sim/scenario.h"
#include "sim/simulator.h"
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

class StreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = *kafka::EmbeddedBroker::Start(1);
    for (const char* t : {"telephony.call-events", "tidewatch.commands", "tidewatch.escalations",
                          "tidewatch.state"}) {
      ASSERT_TRUE(broker_->CreateTopic(t, kPartitions).ok());
    }
    ASSERT_TRUE(broker_->CreateTopic("tidewatch.dead-letter", 1).ok());
    config_.bootstrap = broker_->bootstrap();
    config_.clock = &clock_;
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
  };
  std::unique_ptr<Instance> NewInstance() {
    auto in = std::make_unique<Instance>();
    kafka::ConsumerOptions co;
    co.group_id = "tidewatch";
    co.session_timeout = absl::Seconds(6);
    in->consumer = *kafka::NewConsumer(config_, co);
    in->producer = *kafka::NewProducer(config_, {});
    kafka::KafkaConfig rc = config_;
    in->processor = std::make_unique<StreamProcessor>(
        policy_, options_, *in->consumer, *in->producer,
        [rc]() { return kafka::NewConsumer(rc, kafka::ConsumerOptions{}); }, clock_);
    EXPECT_TRUE(in->processor->Start().ok());
    return in;
  }

  void Produce(const std::vector<tidewatch::v1::CallEvent>& events, size_t from, size_t to) {
    auto producer = *kafka::NewProducer(config_, {});
    for (size_t i = from; i < to; ++i) {
      ASSERT_TRUE(
          producer
              ->Produce("telephony.call-events", events[i].line_id(), events[i].SerializeAsString())
              .ok());
    }
    ASSERT_TRUE(producer->Flush(absl::Seconds(30)).ok());
  }

  // Steps until `done` or the deadline.
  bool RunUntil(Instance& in, const std::function<bool(const StreamStatus&)>& done,
                absl::Duration limit = absl::Seconds(60)) {
    const absl::Time deadline = absl::Now() + limit;
    while (absl::Now() < deadline) {
      in.processor->Step(absl::Milliseconds(50)).IgnoreError();
      if (done(in.processor->Status())) return true;
    }
    return false;
  }

  std::vector<kafka::Record> ReadAll(const std::string& topic, int partitions) {
    auto reader = *kafka::NewConsumer(config_, kafka::ConsumerOptions{});
    std::vector<kafka::Record> out;
    for (int p = 0; p < partitions; ++p) {
      auto wm = reader->QueryWatermarks(topic, p, absl::Seconds(5));
      if (!wm.ok() || wm->high <= wm->low) continue;
      EXPECT_TRUE(reader->Assign({{topic, p, wm->low}}).ok());
      int64_t next = wm->low;
      const absl::Time deadline = absl::Now() + absl::Seconds(20);
      while (next < wm->high && absl::Now() < deadline) {
        std::vector<kafka::Record> batch;
        reader->PollBatch(1000, absl::Milliseconds(100), &batch).IgnoreError();
        for (auto& r : batch) {
          next = r.offset + 1;
          out.push_back(std::move(r));
        }
      }
    }
    return out;
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
  std::unique_ptr<kafka::EmbeddedBroker> broker_;
  kafka::KafkaConfig config_;
  std::shared_ptr<const policy::CompiledPolicy> policy_;
  StreamOptions options_;
};

TEST_F(StreamTest, EveryEventReflectedExactlyOnce) {
  const Day& day = SummonsDay();
  Produce(day.events, 0, day.events.size());
  auto in = NewInstance();
  const int64_t n = static_cast<int64_t>(day.events.size());
  ASSERT_TRUE(
      RunUntil(*in, [n](const StreamStatus& s) { return s.events_applied >= n && s.ready; }))
      << in->processor->Status().events_applied << " of " << n;
  // A little longer: nothing more may arrive.
  RunUntil(
      *in, [](const StreamStatus&) { return false; }, absl::Milliseconds(500));
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
  for (const kafka::Record& r : ReadAll("tidewatch.escalations", kPartitions)) {
    tidewatch::v1::Escalation e;
    ASSERT_TRUE(e.ParseFromString(r.value));
    EXPECT_EQ(r.key, e.line_id());
    EXPECT_EQ(e.sequence(), ++seq[e.line_id()]) << e.id();
  }
  EXPECT_GE(seq["revenues"], 4);  // rose through tiers and stood down
  ASSERT_TRUE(in->processor->Shutdown(absl::Seconds(5)).ok());
}

TEST_F(StreamTest, UndecodableRecordsGoToTheDeadLetterTopic) {
  const Day& day = SummonsDay();
  auto producer = *kafka::NewProducer(config_, {});
  const std::string garbage = "\xff\xfe not a protobuf";
  tidewatch::v1::CallEvent no_line = day.events[0];
  no_line.clear_line_id();
  ASSERT_TRUE(producer->Produce("telephony.call-events", "revenues", garbage).ok());
  ASSERT_TRUE(
      producer->Produce("telephony.call-events", "revenues", no_line.SerializeAsString()).ok());
  ASSERT_TRUE(producer->Flush(absl::Seconds(10)).ok());
  // Valid events after the bad ones on the same partition.
  std::vector<tidewatch::v1::CallEvent> rev;
  for (const auto& e : day.events) {
    if (e.line_id() == "revenues" && rev.size() < 200) rev.push_back(e);
  }
  Produce(rev, 0, rev.size());
  auto in = NewInstance();
  ASSERT_TRUE(RunUntil(*in, [&](const StreamStatus& s) {
    return s.events_applied >= static_cast<int64_t>(rev.size());
  }));
  StreamStatus st = in->processor->Status();
  EXPECT_EQ(st.dead_lettered, 2);
  EXPECT_EQ(st.rejected["bad_protobuf"], 1);
  EXPECT_EQ(st.rejected["missing_line_id"], 1);
  ASSERT_TRUE(in->processor->Shutdown(absl::Seconds(5)).ok());
  std::vector<kafka::Record> dead = ReadAll("tidewatch.dead-letter", 1);
  ASSERT_EQ(dead.size(), 2u);
  EXPECT_EQ(dead[0].value, garbage);
  std::map<std::string, std::string> h;
  for (const auto& kv : dead[0].headers) h[kv.key] = kv.value;
  EXPECT_EQ(h["tidewatch-reason"], "bad_protobuf");
  EXPECT_FALSE(h["tidewatch-error"].empty());
  EXPECT_NE(h["tidewatch-source"].find("telephony.call-events/"), std::string::npos);
  h.clear();
  for (const auto& kv : dead[1].headers) h[kv.key] = kv.value;
  EXPECT_EQ(h["tidewatch-reason"], "missing_line_id");
}

TEST_F(StreamTest, BrokerOutageLosesNothing) {
  const Day& day = SummonsDay();
  const size_t half = day.events.size() / 2;
  Produce(day.events, 0, half);
  auto in = NewInstance();
  ASSERT_TRUE(RunUntil(
      *in, [&](const StreamStatus& s) { return s.events_applied >= static_cast<int64_t>(half); }));
  ASSERT_TRUE(broker_->SetBrokerDown(1).ok());
  // The service keeps stepping; commits fail and the fault is reported.
  RunUntil(
      *in, [](const StreamStatus&) { return false; }, absl::Seconds(4));
  StreamStatus down = in->processor->Status();
  EXPECT_FALSE(down.last_error.empty());
  ASSERT_TRUE(broker_->SetBrokerUp(1).ok());
  Produce(day.events, half, day.events.size());
  // The outage may cost the group its partitions (the coordinator is gone
  // too): they come back through recovery, which replays from the state
  // topic, so count what the KPIs say, not events applied.
  const int64_t offered = day.summary.total.offered;
  auto total_offered = [&] {
    int64_t sum = 0;
    for (const LineStatus& l : in->processor->Lines()) sum += l.totals.offered();
    return sum;
  };
  ASSERT_TRUE(RunUntil(
      *in, [&](const StreamStatus& s) { return s.ready && total_offered() >= offered; },
      absl::Seconds(90)))
      << total_offered() << " of " << offered;
  RunUntil(
      *in, [](const StreamStatus&) { return false; }, absl::Seconds(1));
  ExpectTotalsEqualSummary(in->processor->Lines());
  ASSERT_TRUE(in->processor->Shutdown(absl::Seconds(10)).ok());
}

TEST_F(StreamTest, HandoverRecoversStateAndContinuesIdentically) {
  const Day& day = SummonsDay();
  const int64_t n = static_cast<int64_t>(day.events.size());
  // Reference: one instance, the whole day.
  std::map<std::string, std::string> reference;
  {
    Produce(day.events, 0, day.events.size());
    auto in = NewInstance();
    ASSERT_TRUE(RunUntil(*in, [n](const StreamStatus& s) { return s.events_applied >= n; }));
    ASSERT_TRUE(in->processor->Shutdown(absl::Seconds(5)).ok());
    for (const kafka::Record& r : ReadAll("tidewatch.escalations", kPartitions)) {
      tidewatch::v1::Escalation e;
      e.ParseFromString(r.value);
      reference[e.id()] = r.value;
    }
  }
  // Fresh broker; the first instance stops mid-surge, a second takes over.
  TearDown();
  SetUp();
  const size_t split = day.events.size() * 2 / 5;
  Produce(day.events, 0, split);
  {
    auto first = NewInstance();
    ASSERT_TRUE(RunUntil(*first, [&](const StreamStatus& s) {
      return s.events_applied >= static_cast<int64_t>(split);
    }));
    ASSERT_TRUE(first->processor->Shutdown(absl::Seconds(5)).ok());
  }
  Produce(day.events, split, day.events.size());
  auto second = NewInstance();
  // It replays from each partition's window start (state topic), so it
  // applies more than the remaining events; wait until it is ready and idle.
  ASSERT_TRUE(RunUntil(*second, [&](const StreamStatus& s) {
    return s.ready && s.recoveries > 0 && s.events_applied >= n - static_cast<int64_t>(split);
  }));
  RunUntil(
      *second, [](const StreamStatus&) { return false; }, absl::Seconds(2));
  ExpectTotalsEqualSummary(second->processor->Lines());
  ASSERT_TRUE(second->processor->Shutdown(absl::Seconds(5)).ok());
  std::map<std::string, std::string> got;
  for (const kafka::Record& r : ReadAll("tidewatch.escalations", kPartitions)) {
    tidewatch::v1::Escalation e;
    e.ParseFromString(r.value);
    auto [it, fresh] = got.emplace(e.id(), r.value);
    if (!fresh) {
      EXPECT_EQ(it->second, r.value) << "two different escalations share id " << e.id();
    }
  }
  EXPECT_EQ(got, reference);
}

// Collects escalations, for finding when the first call-up is paged.
class CollectingOutput : public engine::EngineOutput {
 public:
  void OnTideChange(const tidewatch::v1::TideChange&) override {}
  void OnCallUp(const tidewatch::v1::CallUp& c) override { callups.push_back(c); }
  std::vector<tidewatch::v1::CallUp> callups;
};

TEST_F(StreamTest, CommandsReachTheOwningEngineAndPolicyVersionsApplyLive) {
  // Revenues alone, up to just after its first call-up is paged.
  std::vector<tidewatch::v1::CallEvent> rev;
  for (const auto& e : SummonsDay().events) {
    if (e.line_id() == "revenues") rev.push_back(e);
  }
  CollectingOutput offline;
  engine::Engine engine(policy_, {}, &offline);
  size_t upto = 0;
  while (upto < rev.size() && offline.callups.empty()) engine.Apply(rev[upto++]);
  ASSERT_FALSE(offline.callups.empty());
  const tidewatch::v1::CallUp paged = offline.callups[0];
  Produce(rev, 0, upto);
  auto in = NewInstance();
  ASSERT_TRUE(RunUntil(*in, [&](const StreamStatus& s) {
    return s.ready && s.events_applied >= static_cast<int64_t>(upto);
  }));
  std::vector<LineStatus> lines = in->processor->Lines();
  auto revenues = std::find_if(lines.begin(), lines.end(),
                               [](const LineStatus& l) { return l.line_id == "revenues"; });
  ASSERT_NE(revenues, lines.end());
  ASSERT_EQ(revenues->open_callups.size(), offline.callups.size());
  EXPECT_EQ(revenues->open_callups[0].id(), paged.id());

  auto producer = *kafka::NewProducer(config_, {});
  tidewatch::v1::Command ack;
  ack.set_id("cmd-ack-1");
  ack.set_line_id("revenues");
  ack.set_actor("revenues-lead");
  ack.mutable_acknowledge()->set_callup_id(paged.id());
  ack.mutable_acknowledge()->set_headcount(2);
  tidewatch::v1::Command unknown = ack;
  unknown.set_id("cmd-unknown");
  unknown.mutable_acknowledge()->set_callup_id("revenues/t1/none/1/nobody");
  // A malformed record, one for a call-up that does not exist, the real
  // one, and the real one again (redelivery).
  ASSERT_TRUE(producer->Produce("tidewatch.commands", "revenues", "\x01garbage").ok());
  ASSERT_TRUE(
      producer->Produce("tidewatch.commands", "revenues", unknown.SerializeAsString()).ok());
  ASSERT_TRUE(producer->Produce("tidewatch.commands", "revenues", ack.SerializeAsString()).ok());
  ASSERT_TRUE(producer->Produce("tidewatch.commands", "revenues", ack.SerializeAsString()).ok());
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
  for (const kafka::Record& r : ReadAll("tidewatch.escalations", kPartitions)) {
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
  for (const kafka::Record& r : ReadAll("tidewatch.state", kPartitions)) {
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

}  // namespace
}  // namespace tidewatch::stream
