// Broker faults through the in-process broker's controls: a broker going down
// holds deliveries back (and shows in Health and on_error) and nothing is
// lost or duplicated once it is back; deliveries time out with a clear error
// when it stays down; injected retriable Produce errors and dropped
// connections are retried by the idempotent producer without loss,
// duplication or reordering; transactional errors say abortable or fatal;
// commits and Close stay bounded while the broker is down.
#include <algorithm>
#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kafka/embedded_broker.h"
#include "kafka/kafka.h"
#include "test_util.h"

namespace tidewatch::kafka::testing {
namespace {

using ::testing::HasSubstr;

class FaultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto b = EmbeddedBroker::Start(1);
    ASSERT_TRUE(b.ok()) << b.status();
    broker_ = std::move(*b);
  }

  // Everything in the single-partition `topic`, read from the beginning.
  std::vector<Record> ReadAll(const std::string& topic, size_t want) {
    auto consumer = NewConsumer(TestConfig(*broker_, "verifier"), ConsumerOptions{});
    EXPECT_TRUE(consumer.ok());
    if (!consumer.ok()) return {};
    EXPECT_TRUE((*consumer)->Assign(FromBeginning(topic, 1)).ok());
    std::vector<Record> got = ConsumeN(**consumer, want, absl::Seconds(15));
    std::vector<Record> extra = ConsumeFor(**consumer, absl::Milliseconds(500));
    got.insert(got.end(), extra.begin(), extra.end());
    return got;
  }

  // `records` hold values v0..v(n-1) in order at offsets 0..n-1.
  static void ExpectExactlyInOrder(const std::vector<Record>& records, int n,
                                   const std::string& prefix) {
    ASSERT_EQ(records.size(), static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      EXPECT_EQ(records[i].value, absl::StrCat(prefix, i));
      EXPECT_EQ(records[i].offset, i);
    }
  }

  std::unique_ptr<EmbeddedBroker> broker_;
};

// The broker goes down after the producer has connected: records wait
// (in flight, Flush times out), Health and on_error show the fault; once
// the broker is back every record is delivered exactly once, in order.
TEST_F(FaultsTest, BrokerDownHoldsDeliveriesAndNothingIsLost) {
  ASSERT_TRUE(broker_->CreateTopic("t", 1).ok());
  KafkaConfig config = TestConfig(*broker_, "p");
  absl::Mutex mu;
  std::vector<std::string> errors;
  config.on_error = [&](const absl::Status& s, bool fatal) {
    EXPECT_FALSE(fatal) << s;
    absl::MutexLock lock(&mu);
    errors.emplace_back(s.message());
  };
  auto producer = NewProducer(config, {});
  ASSERT_TRUE(producer.ok());
  Producer& p = **producer;
  Deliveries deliveries;
  ASSERT_TRUE(p.Produce("t", "k", "v0", {}, deliveries.Callback()).ok());
  ASSERT_TRUE(p.Flush(absl::Seconds(10)).ok());
  ASSERT_TRUE(PollUntil([&] { p.Poll(absl::Milliseconds(50)); },
                        [&] { return p.Health().brokers_up == 1; }, absl::Seconds(5)));

  ASSERT_TRUE(broker_->SetBrokerDown(1).ok());
  for (int i = 1; i < 50; ++i) {
    ASSERT_TRUE(p.Produce("t", "k", absl::StrCat("v", i), {}, deliveries.Callback()).ok());
  }
  EXPECT_EQ(p.Flush(absl::Seconds(2)).code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(p.InFlight(), 49);
  EXPECT_EQ(deliveries.size(), 1u);
  ASSERT_TRUE(PollUntil([&] { p.Poll(absl::Milliseconds(50)); },
                        [&] {
                          ClientHealth h = p.Health();
                          return h.brokers_up == 0 && (h.brokers_down > 0 || h.all_brokers_down);
                        },
                        absl::Seconds(5)))
      << "health never showed the broker down";
  ClientHealth down = p.Health();
  EXPECT_GT(down.error_count, 0);
  EXPECT_FALSE(down.last_error.empty());
  EXPECT_FALSE(down.fatal);
  {
    absl::MutexLock lock(&mu);
    EXPECT_FALSE(errors.empty()) << "on_error never called";
  }

  ASSERT_TRUE(broker_->SetBrokerUp(1).ok());
  ASSERT_TRUE(p.Flush(absl::Seconds(20)).ok());
  EXPECT_EQ(p.InFlight(), 0);
  ASSERT_EQ(deliveries.size(), 50u);
  const std::vector<absl::Status> statuses = deliveries.statuses();
  const std::vector<Record> reports = deliveries.records();
  for (int i = 0; i < 50; ++i) {
    EXPECT_TRUE(statuses[i].ok()) << statuses[i];
    EXPECT_EQ(reports[i].offset, i);
  }
  ASSERT_TRUE(PollUntil([&] { p.Poll(absl::Milliseconds(50)); },
                        [&] { return p.Health().brokers_up == 1; }, absl::Seconds(5)));
  EXPECT_FALSE(p.Health().all_brokers_down);
  ExpectExactlyInOrder(ReadAll("t", 50), 50, "v");
}

// With the broker down longer than the delivery timeout, each record is
// reported failed (DeadlineExceeded, _MSG_TIMED_OUT); the producer works
// again once the broker is back.
TEST_F(FaultsTest, DeliveryTimesOutWhileBrokerStaysDown) {
  ASSERT_TRUE(broker_->CreateTopic("t", 1).ok());
  ProducerOptions options;
  options.delivery_timeout = absl::Seconds(1);
  auto producer = NewProducer(TestConfig(*broker_, "p"), options);
  ASSERT_TRUE(producer.ok());
  Producer& p = **producer;
  ASSERT_TRUE(p.Produce("t", "k", "warm").ok());
  ASSERT_TRUE(p.Flush(absl::Seconds(10)).ok());

  ASSERT_TRUE(broker_->SetBrokerDown(1).ok());
  Deliveries deliveries;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(p.Produce("t", "k", absl::StrCat("lost", i), {}, deliveries.Callback()).ok());
  }
  ASSERT_TRUE(p.Flush(absl::Seconds(10)).ok());
  ASSERT_EQ(deliveries.size(), 5u);
  for (const absl::Status& s : deliveries.statuses()) {
    EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
    EXPECT_EQ(KafkaErrorName(s), "_MSG_TIMED_OUT") << s;
    EXPECT_THAT(s.message(), HasSubstr("t [0]"));
  }
  for (const Record& r : deliveries.records()) EXPECT_EQ(r.offset, -1);  // as kafka.h says
  EXPECT_THAT(p.Health().last_error, ::testing::Not(::testing::IsEmpty()));

  ASSERT_TRUE(broker_->SetBrokerUp(1).ok());
  ASSERT_TRUE(PollUntil([&] { p.Poll(absl::Milliseconds(50)); },
                        [&] { return p.Health().brokers_up == 1; }, absl::Seconds(10)));
  Deliveries after;
  ASSERT_TRUE(p.Produce("t", "k", "after", {}, after.Callback()).ok());
  ASSERT_TRUE(p.Flush(absl::Seconds(15)).ok());
  ASSERT_EQ(after.size(), 1u);
  EXPECT_TRUE(after.statuses()[0].ok()) << after.statuses()[0];
}

// Retriable errors injected into Produce requests (and a dropped connection)
// are retried by the idempotent producer: every record delivered OK, once,
// in order.
TEST_F(FaultsTest, InjectedRetriableProduceErrorsAreRetriedTransparently) {
  ASSERT_TRUE(broker_->CreateTopic("t", 1).ok());
  auto producer = NewProducer(TestConfig(*broker_, "p"), {});
  ASSERT_TRUE(producer.ok());
  Producer& p = **producer;
  ASSERT_TRUE(p.Produce("t", "k", "v0").ok());
  ASSERT_TRUE(p.Flush(absl::Seconds(10)).ok());

  broker_->PushRequestErrors(
      kafka_api::kProduce,
      {kafka_error::kNotEnoughReplicas, kafka_error::kNotLeaderForPartition,
       kafka_error::kNotEnoughReplicasAfterAppend, kafka_error::kRequestTimedOut,
       kafka_error::kDisconnect, kafka_error::kNotEnoughReplicas});
  Deliveries deliveries;
  for (int i = 1; i < 40; ++i) {
    ASSERT_TRUE(p.Produce("t", "k", absl::StrCat("v", i), {}, deliveries.Callback()).ok());
    if (i % 5 == 0) p.Poll(absl::Milliseconds(20));  // several requests, not one batch
  }
  ASSERT_TRUE(p.Flush(absl::Seconds(30)).ok());
  ASSERT_EQ(deliveries.size(), 39u);
  for (const absl::Status& s : deliveries.statuses()) EXPECT_TRUE(s.ok()) << s;
  EXPECT_FALSE(p.Health().fatal) << p.Health().fatal_error;
  ExpectExactlyInOrder(ReadAll("t", 40), 40, "v");
}

// Transactional errors carry their recovery: a Produce refused inside a
// transaction makes the commit abortable (abort, begin again, succeed); a
// producer fenced at commit time is fatal: on_error says so, Health() shows
// it, and every later transactional call says kFatal.
TEST_F(FaultsTest, TransactionErrorsAreClassifiedAbortableOrFatal) {
  ASSERT_TRUE(broker_->CreateTopic("t", 1).ok());
  KafkaConfig config = TestConfig(*broker_, "txn");
  bool fatal_seen = false;
  config.on_error = [&](const absl::Status& s, bool fatal) { fatal_seen |= fatal; };
  ProducerOptions options;
  options.transactional_id = "fenced-0";
  auto producer = NewProducer(config, options);
  ASSERT_TRUE(producer.ok());
  Producer& p = **producer;
  ASSERT_TRUE(p.InitTransactions(absl::Seconds(15)).ok());

  ASSERT_TRUE(p.BeginTransaction().ok());
  broker_->PushRequestErrors(kafka_api::kProduce, {kafka_error::kProducerFenced});
  Deliveries failed;
  ASSERT_TRUE(p.Produce("t", "k", "v", {}, failed.Callback()).ok());
  absl::Status commit = p.CommitTransaction(absl::Seconds(10));
  EXPECT_EQ(GetTxnError(commit), TxnError::kAbortable) << commit;
  EXPECT_EQ(KafkaErrorName(commit), "PRODUCER_FENCED") << commit;
  ASSERT_TRUE(p.AbortTransaction(absl::Seconds(10)).ok());
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_FALSE(failed.statuses()[0].ok());

  // The recovery loop a service runs: abortable -> abort and try again.
  // (Here the second attempt may also need an epoch bump: the in-process
  // broker still remembers the refused sequence number.)
  bool committed = false;
  for (int attempt = 0; attempt < 3 && !committed; ++attempt) {
    ASSERT_TRUE(p.BeginTransaction().ok());
    ASSERT_TRUE(p.Produce("t", "k", absl::StrCat("v2.", attempt)).ok());
    absl::Status s = p.CommitTransaction(absl::Seconds(10));
    committed = s.ok();
    if (!committed) {
      ASSERT_EQ(GetTxnError(s), TxnError::kAbortable) << s;
      ASSERT_TRUE(p.AbortTransaction(absl::Seconds(10)).ok());
    }
  }
  EXPECT_TRUE(committed);
  EXPECT_FALSE(fatal_seen);
  EXPECT_FALSE(p.Health().fatal);

  ASSERT_TRUE(p.BeginTransaction().ok());
  ASSERT_TRUE(p.Produce("t", "k", "v3").ok());
  broker_->PushRequestErrors(kafka_api::kEndTxn, {kafka_error::kProducerFenced});
  commit = p.CommitTransaction(absl::Seconds(10));
  EXPECT_EQ(GetTxnError(commit), TxnError::kFatal) << commit;
  p.Poll(absl::Milliseconds(100));
  EXPECT_TRUE(fatal_seen);
  const ClientHealth h = p.Health();
  EXPECT_TRUE(h.fatal);
  EXPECT_FALSE(h.fatal_error.empty());
  EXPECT_EQ(GetTxnError(p.BeginTransaction()), TxnError::kFatal);
}

// A partition's leader moving (or a topic just created, whose leader the
// broker does not know yet) answers ListOffsets with a retriable error for a
// moment: QueryWatermarks asks again within its timeout instead of failing
// (tidewatchd's API follower and state reads used to fail their start on a
// freshly created topic). An error that outlasts the timeout is returned,
// naming the partition.
TEST_F(FaultsTest, WatermarksAreAskedAgainWhileTheLeaderIsNotKnown) {
  ASSERT_TRUE(broker_->CreateTopic("t", 1).ok());
  auto producer = NewProducer(TestConfig(*broker_, "p"), {});
  ASSERT_TRUE(producer.ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE((*producer)->Produce("t", "k", "v").ok());
  ASSERT_TRUE((*producer)->Flush(absl::Seconds(10)).ok());
  auto consumer = NewConsumer(TestConfig(*broker_, "c"), ConsumerOptions{});
  ASSERT_TRUE(consumer.ok());

  broker_->PushRequestErrors(
      kafka_api::kListOffsets,
      {kafka_error::kNotLeaderForPartition, kafka_error::kLeaderNotAvailable,
       kafka_error::kUnknownTopicOrPartition, kafka_error::kNotLeaderForPartition});
  absl::StatusOr<Watermarks> wm = (*consumer)->QueryWatermarks("t", 0, absl::Seconds(20));
  ASSERT_TRUE(wm.ok()) << wm.status();
  EXPECT_EQ(wm->low, 0);
  EXPECT_EQ(wm->high, 3);

  std::vector<int> forever(400, kafka_error::kNotLeaderForPartition);
  broker_->PushRequestErrors(kafka_api::kListOffsets, forever);
  wm = (*consumer)->QueryWatermarks("t", 0, absl::Seconds(1));
  broker_->ClearRequestErrors(kafka_api::kListOffsets);
  ASSERT_FALSE(wm.ok());
  EXPECT_EQ(wm.status().code(), absl::StatusCode::kUnavailable) << wm.status();
  EXPECT_THAT(wm.status().message(), HasSubstr("t [0]"));
  EXPECT_THAT(wm.status().message(), HasSubstr("Not leader"));
}

// A transaction whose partition could not be added (an abortable error):
// its record fails, the abort ends the transaction, and the next one goes
// through. (The abort's flush of queued records, at most a second,
// librdkafka #4849, finds nothing queued here: librdkafka fails them.)
TEST_F(FaultsTest, AnAbortAfterAnAbortableErrorEndsTheTransaction) {
  ASSERT_TRUE(broker_->CreateTopic("t", 1).ok());
  ProducerOptions options;
  options.transactional_id = "faults-abortable";
  auto producer = NewProducer(TestConfig(*broker_, "txn"), options);
  ASSERT_TRUE(producer.ok()) << producer.status();
  Producer& p = **producer;
  ASSERT_TRUE(p.InitTransactions(absl::Seconds(15)).ok());
  ASSERT_TRUE(p.BeginTransaction().ok());
  broker_->PushRequestErrors(kafka_api::kAddPartitionsToTxn,
                             {kafka_error::kTopicAuthorizationFailed});
  Deliveries lost;
  ASSERT_TRUE(p.Produce("t", "k", "lost", {}, lost.Callback()).ok());
  ASSERT_TRUE(PollUntil([&] { p.Poll(absl::Milliseconds(20)); },
                        [&] { return !p.Health().last_error.empty(); }, absl::Seconds(10)))
      << "the partition was added after all";
  const absl::Status abort = p.AbortTransaction(absl::Seconds(4));
  ASSERT_TRUE(abort.ok()) << abort;
  p.Poll(absl::ZeroDuration());
  EXPECT_EQ(p.InFlight(), 0);
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_FALSE(lost.statuses()[0].ok());

  ASSERT_TRUE(p.BeginTransaction().ok());
  Deliveries kept;
  ASSERT_TRUE(p.Produce("t", "k", "kept", {}, kept.Callback()).ok());
  const absl::Status second = p.CommitTransaction(absl::Seconds(15));
  ASSERT_TRUE(second.ok()) << second;
  p.Poll(absl::ZeroDuration());
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_TRUE(kept.statuses()[0].ok()) << kept.statuses()[0];
  EXPECT_FALSE(p.Health().fatal) << p.Health().fatal_error;
}

// A consumer's fatal error (here a static member fenced: another member
// took its group.instance.id) comes from librdkafka only as a consumer
// error of a poll, never through its error callback: it must still show in
// Health().fatal and reach on_error as fatal (tidewatchd stops on it).
TEST_F(FaultsTest, AConsumersFatalErrorIsReportedAsFatal) {
  ASSERT_TRUE(broker_->CreateTopic("t", 1).ok());
  KafkaConfig config = TestConfig(*broker_, "static");
  config.extra["group.instance.id"] = "instance-1";
  std::atomic<int> fatal_reports{0};
  config.on_error = [&fatal_reports](const absl::Status&, bool fatal) {
    if (fatal) fatal_reports.fetch_add(1);
  };
  auto consumer = NewConsumer(config, GroupOptions("g-static"));
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  ASSERT_TRUE((*consumer)->Subscribe({"t"}, nullptr).ok());
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (absl::Now() < deadline) {
    (*consumer)->Poll(absl::Milliseconds(100)).IgnoreError();
    auto assigned = (*consumer)->Assignment();
    if (assigned.ok() && !assigned->empty()) break;
  }
  ASSERT_FALSE((*consumer)->Health().fatal);
  broker_->PushRequestErrors(kafka_api::kHeartbeat,
                             std::vector<int>(20, kafka_error::kFencedInstanceId));
  absl::Status polled;
  deadline = absl::Now() + absl::Seconds(20);
  while (!(*consumer)->Health().fatal && absl::Now() < deadline) {
    absl::StatusOr<std::optional<Record>> r = (*consumer)->Poll(absl::Milliseconds(100));
    if (!r.ok()) polled = r.status();
  }
  broker_->ClearRequestErrors(kafka_api::kHeartbeat);
  const ClientHealth h = (*consumer)->Health();
  EXPECT_TRUE(h.fatal) << "last poll error: " << polled;
  EXPECT_NE(h.fatal_error.find("FENCED_INSTANCE_ID"), std::string::npos) << h.fatal_error;
  EXPECT_EQ(fatal_reports.load(), 1);
}

// Latency on the broker delays but does not break delivery.
TEST_F(FaultsTest, SlowBrokerStillDelivers) {
  ASSERT_TRUE(broker_->CreateTopic("t", 1).ok());
  auto producer = NewProducer(TestConfig(*broker_, "p"), {});
  ASSERT_TRUE(producer.ok());
  ASSERT_TRUE(broker_->SetRtt(-1, absl::Milliseconds(300)).ok());
  const absl::Time start = absl::Now();
  ASSERT_TRUE((*producer)->Produce("t", "k", "v0").ok());
  ASSERT_TRUE((*producer)->Flush(absl::Seconds(15)).ok());
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(300));
  ASSERT_TRUE(broker_->SetRtt(-1, absl::ZeroDuration()).ok());
  ExpectExactlyInOrder(ReadAll("t", 1), 1, "v");
}

// Commits through CommitAsync report their result once, from Poll, in order;
// with the broker gone a synchronous Commit gives up after
// ConsumerOptions::commit_timeout (DeadlineExceeded) and Close after
// close_timeout, instead of waiting for the coordinator for ever; a commit
// sent while it is down reports once it is back (or fails), never silently.
TEST_F(FaultsTest, CommitsAndCloseAreBoundedWhileTheBrokerIsDown) {
  ASSERT_TRUE(broker_->CreateTopic("t", 2).ok());
  {
    auto producer = NewProducer(TestConfig(*broker_, "p"), {});
    ASSERT_TRUE(producer.ok());
    for (int i = 0; i < 20; ++i) {
      ASSERT_TRUE((*producer)->Produce("t", absl::StrCat("k", i), absl::StrCat("v", i)).ok());
    }
    ASSERT_TRUE((*producer)->Flush(absl::Seconds(10)).ok());
  }
  ConsumerOptions options = GroupOptions("g-bounded");
  options.commit_timeout = absl::Seconds(1);
  options.close_timeout = absl::Seconds(2);
  auto c = NewConsumer(TestConfig(*broker_, "c"), options);
  ASSERT_TRUE(c.ok());
  Consumer& consumer = **c;
  ASSERT_TRUE(consumer.Subscribe({"t"}, nullptr).ok());
  ASSERT_EQ(ConsumeN(consumer, 20, absl::Seconds(30)).size(), 20u);

  // Two async commits: each result once, in the order sent.
  std::vector<std::pair<int, absl::Status>> results;
  ASSERT_TRUE(
      consumer
          .CommitAsync({{"t", 0, 1}}, [&](const absl::Status& s) { results.emplace_back(1, s); })
          .ok());
  ASSERT_TRUE(
      consumer
          .CommitAsync({{"t", 0, 2}}, [&](const absl::Status& s) { results.emplace_back(2, s); })
          .ok());
  ASSERT_TRUE(PollUntil([&] { consumer.Poll(absl::Milliseconds(50)).IgnoreError(); },
                        [&] { return results.size() >= 2; }, absl::Seconds(10)));
  ConsumeFor(consumer, absl::Milliseconds(200));
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].first, 1);
  EXPECT_TRUE(results[0].second.ok()) << results[0].second;
  EXPECT_EQ(results[1].first, 2);
  EXPECT_TRUE(results[1].second.ok()) << results[1].second;
  auto committed = consumer.Committed({{"t", 0}}, absl::Seconds(5));
  ASSERT_TRUE(committed.ok()) << committed.status();
  EXPECT_EQ((*committed)[0].offset, 2);
  // An empty commit is answered at once.
  bool empty_done = false;
  ASSERT_TRUE(consumer.CommitAsync({}, [&](const absl::Status& s) { empty_done = s.ok(); }).ok());
  EXPECT_TRUE(empty_done);

  ASSERT_TRUE(broker_->SetBrokerDown(1).ok());
  absl::Time start = absl::Now();
  absl::Status sync = consumer.Commit({{"t", 0, 3}}, /*async=*/false);
  absl::Duration took = absl::Now() - start;
  EXPECT_FALSE(sync.ok());
  // (Bounded by its 1 s timeout; the slack is for a loaded machine.)
  EXPECT_LT(took, absl::Seconds(5)) << sync;
  std::vector<absl::Status> late;
  ASSERT_TRUE(
      consumer.CommitAsync({{"t", 0, 4}}, [&](const absl::Status& s) { late.push_back(s); }).ok());
  ConsumeFor(consumer, absl::Milliseconds(500));
  ASSERT_TRUE(broker_->SetBrokerUp(1).ok());
  // Back: the commit sent while it was down is answered, once.
  ASSERT_TRUE(PollUntil([&] { consumer.Poll(absl::Milliseconds(50)).IgnoreError(); },
                        [&] { return !late.empty(); }, absl::Seconds(30)));
  ConsumeFor(consumer, absl::Milliseconds(200));
  EXPECT_EQ(late.size(), 1u);

  ASSERT_TRUE(broker_->SetBrokerDown(1).ok());
  start = absl::Now();
  absl::Status closed = consumer.Close();
  took = absl::Now() - start;
  EXPECT_LT(took, absl::Seconds(6)) << closed;  // (2 s close timeout, as above)
  EXPECT_EQ(consumer.Commit({{"t", 0, 5}}, false).code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(broker_->SetBrokerUp(1).ok());
}

// Close with the broker gone: the errors that come meanwhile (the broker
// down) reach on_error and Health() as they would from Poll, and a commit
// still unanswered when Close gives up is told so (its callback runs once,
// with an error) instead of never. (Close used to drop every event but the
// rebalance, and left such a callback waiting for a Poll that could no
// longer come.)
TEST_F(FaultsTest, CloseReportsErrorsAndAnswersEveryCommit) {
  ASSERT_TRUE(broker_->CreateTopic("t", 1).ok());
  {
    auto producer = NewProducer(TestConfig(*broker_, "p"), {});
    ASSERT_TRUE(producer.ok());
    ASSERT_TRUE((*producer)->Produce("t", "k", "v").ok());
    ASSERT_TRUE((*producer)->Flush(absl::Seconds(10)).ok());
  }
  KafkaConfig config = TestConfig(*broker_, "c");
  std::vector<std::string> errors;  // on the polling thread only
  config.on_error = [&errors](const absl::Status& s, bool fatal) {
    errors.emplace_back(s.message());
  };
  ConsumerOptions options = GroupOptions("g-close-errors");
  options.close_timeout = absl::Seconds(1);
  auto c = NewConsumer(config, options);
  ASSERT_TRUE(c.ok());
  Consumer& consumer = **c;
  ASSERT_TRUE(consumer.Subscribe({"t"}, nullptr).ok());
  ASSERT_EQ(ConsumeN(consumer, 1, absl::Seconds(30)).size(), 1u);
  ASSERT_TRUE(errors.empty()) << errors.front();

  ASSERT_TRUE(broker_->SetBrokerDown(1).ok());
  std::vector<absl::Status> results;
  ASSERT_TRUE(
      consumer.CommitAsync({{"t", 0, 1}}, [&](const absl::Status& s) { results.push_back(s); })
          .ok());
  const absl::Status closed = consumer.Close();
  EXPECT_EQ(closed.code(), absl::StatusCode::kDeadlineExceeded) << closed;
  EXPECT_EQ(results.size(), 1u) << "the commit's callback never ran";
  if (!results.empty()) {
    EXPECT_FALSE(results[0].ok());
  }
  EXPECT_FALSE(errors.empty()) << "on_error never heard of the broker going down";
  // Health says what the errors served said: all brokers down once
  // librdkafka has said so (whether it does within the 1 s close depends on
  // its reconnect attempts: a loaded machine saw only connection errors).
  const bool told_all_down = std::any_of(errors.begin(), errors.end(), [](const std::string& e) {
    return absl::StrContains(e, "_ALL_BROKERS_DOWN");
  });
  const ClientHealth h = consumer.Health();
  EXPECT_EQ(h.all_brokers_down, told_all_down) << absl::StrJoin(errors, "\n");
  EXPECT_GE(h.error_count, static_cast<int64_t>(errors.size()));
  ASSERT_TRUE(broker_->SetBrokerUp(1).ok());
}

// all_brokers_down, set by librdkafka's "all brokers down" error, clears
// once a broker is back also with statistics off (they used to be the only
// thing that cleared it): for an idle producer and an idle consumer, from
// their polls.
TEST_F(FaultsTest, AllBrokersDownClearsWithStatisticsOff) {
  ASSERT_TRUE(broker_->CreateTopic("t", 1).ok());
  KafkaConfig pconfig = TestConfig(*broker_, "p");
  pconfig.stats_interval = absl::ZeroDuration();
  auto producer = NewProducer(pconfig, {});
  ASSERT_TRUE(producer.ok());
  Producer& p = **producer;
  ASSERT_TRUE(p.Produce("t", "k", "v0").ok());
  ASSERT_TRUE(p.Flush(absl::Seconds(10)).ok());
  KafkaConfig cconfig = TestConfig(*broker_, "c");
  cconfig.stats_interval = absl::ZeroDuration();
  auto consumer = NewConsumer(cconfig, ConsumerOptions{});
  ASSERT_TRUE(consumer.ok());
  Consumer& c = **consumer;
  ASSERT_TRUE(c.Assign(FromBeginning("t", 1)).ok());
  ASSERT_EQ(ConsumeN(c, 1, absl::Seconds(10)).size(), 1u);
  auto poll_both = [&] {
    p.Poll(absl::Milliseconds(25));
    c.Poll(absl::Milliseconds(25)).IgnoreError();
  };

  ASSERT_TRUE(broker_->SetBrokerDown(1).ok());
  ASSERT_TRUE(PollUntil(
      poll_both, [&] { return p.Health().all_brokers_down && c.Health().all_brokers_down; },
      absl::Seconds(10)))
      << "producer " << p.Health().all_brokers_down << ", consumer " << c.Health().all_brokers_down;
  ASSERT_TRUE(broker_->SetBrokerUp(1).ok());
  EXPECT_TRUE(PollUntil(
      poll_both, [&] { return !p.Health().all_brokers_down && !c.Health().all_brokers_down; },
      absl::Seconds(15)))
      << "producer " << p.Health().all_brokers_down << ", consumer " << c.Health().all_brokers_down;
  EXPECT_EQ(p.Health().stats_time, absl::InfinitePast()) << "statistics were on";
  EXPECT_EQ(c.Health().stats_time, absl::InfinitePast()) << "statistics were on";
}

// QueryWatermarks with the partition's leader down returns an error within
// (about) its timeout, without a KafkaConfig::clock. librdkafka's own
// watermark query waits for its requests' timeouts (minutes) while the
// leader is down, whatever timeout it is given: the retries around it
// never ended. Watched by a thread of its own: a call still under way after
// a minute fails the test.
TEST_F(FaultsTest, WatermarksReturnAnErrorWhileTheLeaderIsDown) {
  ASSERT_TRUE(broker_->CreateTopic("t", 1).ok());
  auto c = NewConsumer(TestConfig(*broker_, "c"), ConsumerOptions{});
  ASSERT_TRUE(c.ok());
  std::shared_ptr<Consumer> consumer = std::move(*c);
  absl::StatusOr<Watermarks> wm = consumer->QueryWatermarks("t", 0, absl::Seconds(10));
  ASSERT_TRUE(wm.ok()) << wm.status();

  ASSERT_TRUE(broker_->SetBrokerDown(1).ok());
  struct Outcome {
    absl::Notification done;
    absl::StatusOr<Watermarks> wm;
  };
  auto outcome = std::make_shared<Outcome>();
  std::thread([consumer, outcome] {
    outcome->wm = consumer->QueryWatermarks("t", 0, absl::Seconds(2));
    outcome->done.Notify();
  }).detach();
  ASSERT_TRUE(outcome->done.WaitForNotificationWithTimeout(absl::Minutes(1)))
      << "QueryWatermarks did not return";
  ASSERT_FALSE(outcome->wm.ok());
  EXPECT_THAT(outcome->wm.status().code(),
              ::testing::AnyOf(absl::StatusCode::kDeadlineExceeded, absl::StatusCode::kUnavailable))
      << outcome->wm.status();
  EXPECT_THAT(outcome->wm.status().message(), HasSubstr("t [0]"));
  ASSERT_TRUE(broker_->SetBrokerUp(1).ok());
}

// CreateTopics against a cluster that does not answer gives up after its
// timeout (DeadlineExceeded), not twice that: it used to wait up to the
// timeout for the cluster id first, then up to the timeout again for the
// request. (The bound checked is loose: 3 s asked, under 4.5 s taken.)
// A busy consumer's batch holds records prefetched before all brokers went
// down, ahead of the error in librdkafka's queue: they do not clear
// all_brokers_down (which librdkafka reports once per outage).
TEST_F(FaultsTest, AllBrokersDownSurvivesABatchOfRecordsPrefetchedBeforeIt) {
  ASSERT_TRUE(broker_->CreateTopic("prefetched", 1).ok());
  auto producer = NewProducer(TestConfig(*broker_, "p"), {});
  ASSERT_TRUE(producer.ok());
  for (int i = 0; i < 2000; ++i) {
    ASSERT_TRUE((*producer)->Produce("prefetched", "k", absl::StrCat("v", i)).ok());
  }
  ASSERT_TRUE((*producer)->Flush(absl::Seconds(10)).ok());
  KafkaConfig config = TestConfig(*broker_, "c");
  config.stats_interval = absl::ZeroDuration();
  auto consumer = NewConsumer(config, ConsumerOptions{});
  ASSERT_TRUE(consumer.ok());
  ASSERT_TRUE((*consumer)->Assign(FromBeginning("prefetched", 1)).ok());
  std::optional<Record> first;
  for (int i = 0; i < 100 && !first.has_value(); ++i) {
    absl::StatusOr<std::optional<Record>> r = (*consumer)->Poll(absl::Milliseconds(100));
    if (r.ok()) first = *r;
  }
  ASSERT_TRUE(first.has_value());
  absl::SleepFor(absl::Seconds(1));  // the rest is prefetched
  ASSERT_TRUE(broker_->SetBrokerDown(1).ok());
  absl::SleepFor(absl::Seconds(2));  // the error queued behind the records
  RecordBatch batch;
  (*consumer)->PollBatch(100000, absl::Milliseconds(100), &batch).IgnoreError();
  EXPECT_GT(batch.size(), 0u);
  for (int i = 0; i < 5; ++i) {
    RecordBatch more;
    (*consumer)->PollBatch(1000, absl::Milliseconds(100), &more).IgnoreError();
  }
  EXPECT_TRUE((*consumer)->Health().all_brokers_down);
  ASSERT_TRUE(broker_->SetBrokerUp(1).ok());
}

TEST_F(FaultsTest, CreateTopicsKeepsToItsTimeoutWhenTheClusterIsDown) {
  ASSERT_TRUE(broker_->SetBrokerDown(-1).ok());
  auto admin = NewAdmin(TestConfig(*broker_, "admin"));
  ASSERT_TRUE(admin.ok());
  TopicSpec spec;
  spec.name = "new";
  spec.partitions = 3;
  const absl::Time start = absl::Now();
  const absl::Status s = (*admin)->CreateTopics({spec}, absl::Seconds(3));
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  // It waits the timeout + 0.5 s; twice the timeout (6 s) was the fault.
  // The bound lies between the two, far from either (a loaded CI machine
  // delays the fixed wait by tenths of a second, not seconds).
  EXPECT_LT(took, absl::Milliseconds(5500)) << s;
  ASSERT_TRUE(broker_->SetBrokerUp(-1).ok());
}

}  // namespace
}  // namespace tidewatch::kafka::testing
