// TopicFollower on both brokers: catching up to the end noted at Start, and
// on a real Kafka, whose exactly-once outputs end in transaction markers, a
// read-committed follower must count the markers (and aborted records) as
// passed: no record of its own reaches the end offset after a commit.
#include "api/topic_follower.h"

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "kafka/embedded_broker.h"
#include "kafka/forwarding.h"
#include "kafka/kafka.h"
#include "kafka/test_brokers.h"

namespace tidewatch::api {
namespace {

using ::tidewatch::testing::BrokerKind;

constexpr int kPartitions = 3;

// What the follower handed to its handler.
class Seen {
 public:
  void Add(const kafka::Record& r) {
    absl::MutexLock lock(&mu_);
    values_.insert(r.value);
  }
  std::set<std::string> values() const {
    absl::MutexLock lock(&mu_);
    return values_;
  }

 private:
  mutable absl::Mutex mu_;
  std::set<std::string> values_ ABSL_GUARDED_BY(mu_);
};

class TopicFollowerTest : public ::testing::TestWithParam<BrokerKind> {
 protected:
  bool real() const { return GetParam() == BrokerKind::kReal; }

  void SetUp() override {
    TIDEWATCH_SKIP_WITHOUT_REAL_KAFKA(GetParam());
    topic_ = ::tidewatch::testing::UniquePrefix() + "tidewatch.escalations";
    if (real()) {
      config_.bootstrap = *::tidewatch::testing::RealKafkaBootstrap();
      ASSERT_TRUE(
          ::tidewatch::testing::CreateRealTopics(config_.bootstrap, {{topic_, kPartitions}}).ok());
    } else {
      broker_ = *kafka::EmbeddedBroker::Start(1);
      ASSERT_TRUE(broker_->CreateTopic(topic_, kPartitions).ok());
      config_.bootstrap = broker_->bootstrap();
    }
    config_.client_id = "topic-follower-test";
  }

  // A follower of topic_ reading committed, as tidewatchd's API follows its
  // outputs.
  std::unique_ptr<TopicFollower> Follow(Seen& seen) {
    kafka::ConsumerOptions co;
    co.read_committed = true;
    co.fetch_wait_max = absl::Milliseconds(10);
    auto consumer = kafka::NewConsumer(config_, co);
    EXPECT_TRUE(consumer.ok()) << consumer.status();
    if (!consumer.ok()) return nullptr;
    return std::make_unique<TopicFollower>(std::move(*consumer),
                                           FollowerOptions{topic_, kPartitions},
                                           [&seen](const kafka::Record& r) { seen.Add(r); });
  }

  std::unique_ptr<kafka::EmbeddedBroker> broker_;
  kafka::KafkaConfig config_;
  std::string topic_;
};

TEST_P(TopicFollowerTest, EmptyTopicIsCaughtUpAtOnce) {
  Seen seen;
  std::unique_ptr<TopicFollower> follower = Follow(seen);
  ASSERT_NE(follower, nullptr);
  {
    const absl::Status started = follower->Start();
    ASSERT_TRUE(started.ok()) << started;
  }
  EXPECT_TRUE(follower->CaughtUp());
  EXPECT_EQ(follower->handled(), 0);
}

TEST_P(TopicFollowerTest, CatchesUpWithWhatExistedAtStartThenFollows) {
  auto producer = kafka::NewProducer(config_, {});
  ASSERT_TRUE(producer.ok()) << producer.status();
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(
        (*producer)->Produce(topic_, absl::StrCat("line-", i % 7), absl::StrCat("v", i)).ok());
  }
  ASSERT_TRUE((*producer)->Flush(absl::Seconds(20)).ok());
  Seen seen;
  std::unique_ptr<TopicFollower> follower = Follow(seen);
  ASSERT_NE(follower, nullptr);
  {
    const absl::Status started = follower->Start();
    ASSERT_TRUE(started.ok()) << started;
  }
  ASSERT_TRUE(follower->WaitCaughtUp(absl::Seconds(30)));
  EXPECT_EQ(seen.values().size(), 20u);
  EXPECT_EQ(follower->handled(), 20);
  // Then new records follow.
  ASSERT_TRUE((*producer)->Produce(topic_, "line-1", "later").ok());
  ASSERT_TRUE((*producer)->Flush(absl::Seconds(20)).ok());
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (follower->handled() < 21 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(20));
  EXPECT_TRUE(seen.values().contains("later"));
  follower->Stop();
}

// A consumer whose second poll fails (after returning its records).
class OnceFailingConsumer final : public kafka::ForwardingConsumer {
 public:
  using ForwardingConsumer::ForwardingConsumer;
  absl::Status PollBatch(size_t max_records, absl::Duration timeout,
                         kafka::RecordBatch* out) override {
    absl::Status s = real().PollBatch(max_records, timeout, out);
    if (++polls_ == 2) return absl::PermissionDeniedError("injected: TOPIC_AUTHORIZATION_FAILED");
    return s;
  }

 private:
  int polls_ = 0;
};

// Errors while following are counted and handed to the owner (tidewatchd
// logs them and exports the count): a follower that went quiet on an
// authorization error left watchers without updates and nobody told.
TEST_P(TopicFollowerTest, ErrorsWhileFollowingAreCountedAndReported) {
  auto consumer = kafka::NewConsumer(config_, kafka::ConsumerOptions{});
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  absl::Mutex mu;
  std::vector<std::string> reported;
  FollowerOptions options{topic_, kPartitions};
  options.on_error = [&](const absl::Status& s) {
    absl::MutexLock lock(&mu);
    reported.emplace_back(s.message());
  };
  Seen seen;
  TopicFollower follower(std::make_unique<OnceFailingConsumer>(*std::move(consumer)), options,
                         [&seen](const kafka::Record& r) { seen.Add(r); });
  ASSERT_TRUE(follower.Start().ok());
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (follower.errors() < 1 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(10));
  follower.Stop();
  EXPECT_EQ(follower.errors(), 1);
  absl::MutexLock lock(&mu);
  EXPECT_EQ(reported, std::vector<std::string>{"injected: TOPIC_AUTHORIZATION_FAILED"});
}

// tidewatchd on a real cluster writes its escalations and state in
// transactions: each partition it wrote to ends in a commit (or abort)
// marker, one offset past the last record a read-committed reader is given.
// Its API must still catch up at start (it used to wait out the 60 s limit
// and exit).
TEST_P(TopicFollowerTest, CatchesUpPastTransactionMarkersAndAbortedRecords) {
  if (!real()) GTEST_SKIP() << "the in-process broker writes no transaction markers";
  kafka::ProducerOptions po;
  po.transactional_id = absl::StrCat(topic_, "-txn");
  auto producer = kafka::NewProducer(config_, po);
  ASSERT_TRUE(producer.ok()) << producer.status();
  kafka::Producer& p = **producer;
  ASSERT_TRUE(p.InitTransactions(absl::Seconds(30)).ok());
  std::set<std::string> committed;
  auto transaction = [&](const std::string& name, int records, bool commit) {
    ASSERT_TRUE(p.BeginTransaction().ok());
    for (int i = 0; i < records; ++i) {
      const std::string value = absl::StrCat(name, "-", i);
      ASSERT_TRUE(p.Produce(topic_, absl::StrCat("line-", i), value).ok());
      if (commit) committed.insert(value);
    }
    const absl::Status end =
        commit ? p.CommitTransaction(absl::Seconds(30)) : p.AbortTransaction(absl::Seconds(30));
    ASSERT_TRUE(end.ok()) << end;
  };
  transaction("first", 6, /*commit=*/true);
  transaction("aborted", 4, /*commit=*/false);
  transaction("second", 5, /*commit=*/true);
  // The markers of the last commit are written after the commit returns:
  // until then the end a read-committed reader sees may be short of them
  // (either end is a correct start).
  Seen seen;
  std::unique_ptr<TopicFollower> follower = Follow(seen);
  ASSERT_NE(follower, nullptr);
  {
    const absl::Status started = follower->Start();
    ASSERT_TRUE(started.ok()) << started;
  }
  ASSERT_TRUE(follower->WaitCaughtUp(absl::Seconds(30)))
      << "not caught up; handled " << follower->handled();
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (seen.values().size() < committed.size() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(seen.values(), committed);  // nothing of the aborted transaction
  follower->Stop();
}

INSTANTIATE_TEST_SUITE_P(InProcess, TopicFollowerTest, ::testing::Values(BrokerKind::kInProcess),
                         ::tidewatch::testing::BrokerName);
INSTANTIATE_TEST_SUITE_P(RealKafka, TopicFollowerTest, ::testing::Values(BrokerKind::kReal),
                         ::tidewatch::testing::BrokerName);

}  // namespace
}  // namespace tidewatch::api
