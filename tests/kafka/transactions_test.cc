// The transactional producer on both brokers: a transaction aborted right
// after its records were handed over (still queued, their partitions not yet
// added to the transaction) ends cleanly, and the producer goes on. On
// librdkafka 2.0.2 with Apache Kafka 3.9 such an abort used to fail now and
// then with a fatal INVALID_TXN_STATE (librdkafka issue #4849): the EndTxn
// overtook the AddPartitionsToTxn of the purged records.
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "kafka/embedded_broker.h"
#include "kafka/kafka.h"
#include "kafka/test_brokers.h"

namespace tidewatch::kafka {
namespace {

using ::tidewatch::testing::BrokerKind;

constexpr int kPartitions = 3;

class TransactionsTest : public ::testing::TestWithParam<BrokerKind> {
 protected:
  bool real() const { return GetParam() == BrokerKind::kReal; }

  void SetUp() override {
    TIDEWATCH_SKIP_WITHOUT_REAL_KAFKA(GetParam());
    topic_ = ::tidewatch::testing::UniquePrefix() + "txn";
    if (real()) {
      config_.bootstrap = *::tidewatch::testing::RealKafkaBootstrap();
      ASSERT_TRUE(
          ::tidewatch::testing::CreateRealTopics(config_.bootstrap, {{topic_, kPartitions}}).ok());
    } else {
      auto broker = EmbeddedBroker::Start(1);
      ASSERT_TRUE(broker.ok()) << broker.status();
      broker_ = std::move(*broker);
      ASSERT_TRUE(broker_->CreateTopic(topic_, kPartitions).ok());
      config_.bootstrap = broker_->bootstrap();
    }
    config_.client_id = "transactions-test";
  }

  std::unique_ptr<EmbeddedBroker> broker_;
  KafkaConfig config_;
  std::string topic_;
};

TEST_P(TransactionsTest, AnAbortRightAfterProducingEndsTheTransactionAndTheProducerGoesOn) {
  ProducerOptions options;
  options.transactional_id = absl::StrCat(topic_, "-producer");
  auto producer = NewProducer(config_, options);
  ASSERT_TRUE(producer.ok()) << producer.status();
  Producer& p = **producer;
  ASSERT_TRUE(p.InitTransactions(absl::Seconds(30)).ok());
  std::set<std::string> committed;
  for (int round = 0; round < 15; ++round) {
    // A committed transaction, then one aborted at once.
    ASSERT_TRUE(p.BeginTransaction().ok());
    for (int i = 0; i < 4; ++i) {
      const std::string value = absl::StrCat("kept-", round, "-", i);
      ASSERT_TRUE(p.Produce(topic_, absl::StrCat("line-", i), value).ok());
      committed.insert(value);
    }
    const absl::Status commit = p.CommitTransaction(absl::Seconds(30));
    ASSERT_TRUE(commit.ok()) << "round " << round << ": " << commit;
    ASSERT_TRUE(p.BeginTransaction().ok());
    for (int i = 0; i < 4; ++i) {
      ASSERT_TRUE(p.Produce(topic_, absl::StrCat("line-", i), absl::StrCat("gone-", round)).ok());
    }
    const absl::Status abort = p.AbortTransaction(absl::Seconds(30));
    ASSERT_TRUE(abort.ok()) << "round " << round << ": " << abort;
    EXPECT_EQ(p.InFlight(), 0);
  }
  EXPECT_FALSE(p.Health().fatal) << p.Health().fatal_error;
  if (!real()) return;  // the in-process broker does not read committed
  absl::StatusOr<std::vector<Record>> read =
      ::tidewatch::testing::ReadCommitted(config_, topic_, kPartitions);
  ASSERT_TRUE(read.ok()) << read.status();
  std::set<std::string> seen;
  for (const Record& r : *read) seen.insert(r.value);
  EXPECT_EQ(seen, committed);
}

INSTANTIATE_TEST_SUITE_P(InProcess, TransactionsTest, ::testing::Values(BrokerKind::kInProcess),
                         ::tidewatch::testing::BrokerName);
INSTANTIATE_TEST_SUITE_P(RealKafka, TransactionsTest, ::testing::Values(BrokerKind::kReal),
                         ::tidewatch::testing::BrokerName);

}  // namespace
}  // namespace tidewatch::kafka
