// Producer and Admin against the in-process broker: keyed records land where
// the Java partitioner puts them, delivery reports carry final offsets,
// headers round-trip, configuration errors name the key, the transactional
// calls work (smoke), Admin reads partition counts.
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kafka/embedded_broker.h"
#include "kafka/kafka.h"
#include "kafka/rdkafka_util.h"
#include "murmur2.h"
#include "test_util.h"

namespace tidewatch::kafka::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

TEST(Murmur2Test, MatchesKafkaReferenceHashes) {
  // Java client values, as listed in librdkafka's rdmurmur2.c unit test.
  const std::vector<std::pair<std::string, uint32_t>> cases = {
      {"kafka", 0xd067cf64},
      {"giberish123456789", 0x8f552b0c},
      {"1234", 0x9fc97b14},
      {"234", 0xe7c009ca},
      {"34", 0x873930da},
      {"4", 0x5a4b5ca1},
      {"PreAmbleWillBeRemoved,ThePrePartThatIs", 0x78424f1c},
      {"reAmbleWillBeRemoved,ThePrePartThatIs", 0x4a62b377},
      {"eAmbleWillBeRemoved,ThePrePartThatIs", 0xe0e4e09e},
      {"AmbleWillBeRemoved,ThePrePartThatIs", 0x62b8b43f},
      {"", 0x106e08d9},
  };
  for (const auto& [key, hash] : cases) EXPECT_EQ(Murmur2(key), hash) << key;
}

class ProducerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto b = EmbeddedBroker::Start(1);
    ASSERT_TRUE(b.ok()) << b.status();
    broker_ = std::move(*b);
  }
  std::unique_ptr<EmbeddedBroker> broker_;
};

// Keyed records: partition == (murmur2(key) & 0x7fffffff) % 12, and each
// partition's delivery reports carry consecutive offsets from 0 in produce
// order, with the record's topic, key and value.
TEST_F(ProducerTest, KeyedRecordsLandOnJavaPartitionWithConsecutiveOffsets) {
  ASSERT_TRUE(broker_->CreateTopic("calls", 12).ok());
  auto producer = NewProducer(TestConfig(*broker_, "p"), {});
  ASSERT_TRUE(producer.ok()) << producer.status();
  Deliveries deliveries;
  const int kRecords = 300;
  for (int i = 0; i < kRecords; ++i) {
    ASSERT_TRUE((*producer)
                    ->Produce("calls", absl::StrCat("line-", i % 40), absl::StrCat("v", i), {},
                              deliveries.Callback())
                    .ok());
  }
  ASSERT_TRUE((*producer)->Flush(absl::Seconds(20)).ok());
  EXPECT_EQ((*producer)->InFlight(), 0);
  ASSERT_EQ(deliveries.size(), kRecords);

  // Reports come per partition batch, not in produce order: index them by
  // value, then walk in produce order.
  std::map<std::string, std::pair<absl::Status, Record>> by_value;
  const std::vector<Record> records = deliveries.records();
  const std::vector<absl::Status> statuses = deliveries.statuses();
  for (size_t i = 0; i < records.size(); ++i) {
    by_value[records[i].value] = {statuses[i], records[i]};
  }
  ASSERT_EQ(by_value.size(), static_cast<size_t>(kRecords));
  std::map<int32_t, int64_t> next_offset;
  std::set<int32_t> used;
  for (int i = 0; i < kRecords; ++i) {
    const auto& [status, r] = by_value[absl::StrCat("v", i)];
    ASSERT_TRUE(status.ok()) << status;
    EXPECT_EQ(r.topic, "calls");
    EXPECT_EQ(r.key, absl::StrCat("line-", i % 40));
    EXPECT_EQ(r.partition, JavaPartition(r.key, 12)) << r.key;
    EXPECT_EQ(r.offset, next_offset[r.partition]++) << "partition " << r.partition;
    EXPECT_NE(r.timestamp, absl::InfinitePast());
    used.insert(r.partition);
  }
  EXPECT_GT(used.size(), 6u);  // 40 keys spread over the partitions
}

// Topics looked up ahead (PrepareTopics, which tidewatchd does for its
// outputs at start) take records as before: on the key's partition, every
// one delivered; asking again is not an error; and the producer (holding
// the topic objects) is destroyed cleanly.
TEST_F(ProducerTest, PreparedTopicsTakeRecordsAsBefore) {
  ASSERT_TRUE(broker_->CreateTopic("calls", 12).ok());
  auto producer = NewProducer(TestConfig(*broker_, "p"), {});
  ASSERT_TRUE(producer.ok()) << producer.status();
  absl::Status prepared = (*producer)->PrepareTopics({"calls"}, absl::Seconds(10));
  ASSERT_TRUE(prepared.ok()) << prepared;
  prepared = (*producer)->PrepareTopics({"calls"}, absl::Seconds(10));
  ASSERT_TRUE(prepared.ok()) << prepared;
  Deliveries deliveries;
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE((*producer)
                    ->Produce("calls", absl::StrCat("line-", i), absl::StrCat("v", i), {},
                              deliveries.Callback())
                    .ok());
  }
  ASSERT_TRUE((*producer)->Flush(absl::Seconds(20)).ok());
  ASSERT_EQ(deliveries.size(), 40);
  const std::vector<Record> records = deliveries.records();
  const std::vector<absl::Status> statuses = deliveries.statuses();
  for (size_t i = 0; i < records.size(); ++i) {
    ASSERT_TRUE(statuses[i].ok()) << statuses[i];
    EXPECT_EQ(records[i].topic, "calls");
    EXPECT_EQ(records[i].partition, JavaPartition(records[i].key, 12)) << records[i].key;
  }
  producer->reset();
}

// A PrepareTopics that got no answer has prepared nothing: asking again
// asks the broker again (it said OK at once, the topics taken as prepared).
TEST_F(ProducerTest, TopicsNotPreparedByAFailedCallAreAskedForAgain) {
  ASSERT_TRUE(broker_->CreateTopic("calls", 12).ok());
  auto producer = NewProducer(TestConfig(*broker_, "p"), {});
  ASSERT_TRUE(producer.ok()) << producer.status();
  ASSERT_TRUE(broker_->SetBrokerDown(1).ok());
  absl::Status first = (*producer)->PrepareTopics({"calls"}, absl::Milliseconds(300));
  EXPECT_FALSE(first.ok());
  absl::Status again = (*producer)->PrepareTopics({"calls"}, absl::Milliseconds(300));
  EXPECT_FALSE(again.ok()) << "reported prepared without an answer";
  ASSERT_TRUE(broker_->SetBrokerUp(1).ok());
  absl::Status up = (*producer)->PrepareTopics({"calls"}, absl::Seconds(10));
  EXPECT_TRUE(up.ok()) << up;
}

// Headers (repeated keys, empty and binary values), key, value and timestamp
// survive the trip; read back with a group-less consumer from the beginning.
TEST_F(ProducerTest, HeadersRoundTrip) {
  ASSERT_TRUE(broker_->CreateTopic("h", 1).ok());
  auto producer = NewProducer(TestConfig(*broker_, "p"), {});
  ASSERT_TRUE(producer.ok());
  const std::vector<Header> headers = {
      {"trace", "abc"}, {"trace", "def"}, {"empty", ""}, {"binary", std::string("\0\x01\xff", 3)}};
  const absl::Time before = absl::Now() - absl::Seconds(1);
  ASSERT_TRUE((*producer)->Produce("h", "k1", std::string("v\0x", 3), headers).ok());
  ASSERT_TRUE((*producer)->Produce("h", "", "no key").ok());
  ASSERT_TRUE((*producer)->Flush(absl::Seconds(10)).ok());

  auto consumer = NewConsumer(TestConfig(*broker_, "c"), ConsumerOptions{});
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  ASSERT_TRUE((*consumer)->Assign(FromBeginning("h", 1)).ok());
  std::vector<Record> got = ConsumeN(**consumer, 2, absl::Seconds(10));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].key, "k1");
  EXPECT_EQ(got[0].value, std::string("v\0x", 3));
  EXPECT_THAT(got[0].headers, ElementsAreArray(headers));
  EXPECT_GE(got[0].timestamp, before);
  EXPECT_LE(got[0].timestamp, absl::Now() + absl::Seconds(1));
  EXPECT_EQ(got[0].offset, 0);
  EXPECT_EQ(got[1].key, "");
  EXPECT_EQ(got[1].value, "no key");
  EXPECT_TRUE(got[1].headers.empty());
  EXPECT_EQ(got[1].offset, 1);
}

// A RecordBatch polled into again after clear() reuses its records and
// overwrites every field: nothing of the earlier record (key, headers, a
// longer value) shows through, and the storage is the earlier record's.
TEST_F(ProducerTest, AReusedRecordBatchIsOverwrittenWhole) {
  ASSERT_TRUE(broker_->CreateTopic("reuse", 1).ok());
  auto producer = NewProducer(TestConfig(*broker_, "p"), {});
  ASSERT_TRUE(producer.ok());
  const std::string long_value(200, 'v');
  ASSERT_TRUE((*producer)->Produce("reuse", "k1", long_value, {{"trace", "abc"}}).ok());
  ASSERT_TRUE((*producer)->Produce("reuse", "", "short").ok());
  ASSERT_TRUE((*producer)->Flush(absl::Seconds(10)).ok());

  auto consumer = NewConsumer(TestConfig(*broker_, "c"), ConsumerOptions{});
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  ASSERT_TRUE((*consumer)->Assign(FromBeginning("reuse", 1)).ok());
  RecordBatch batch;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (batch.empty() && absl::Now() < deadline) {
    ASSERT_TRUE((*consumer)->PollBatch(1, absl::Milliseconds(100), &batch).ok());
  }
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].key, "k1");
  EXPECT_EQ(batch[0].value, long_value);
  EXPECT_THAT(batch[0].headers, ElementsAre(Header{"trace", "abc"}));
  const Record* slot = &batch[0];

  batch.clear();
  EXPECT_TRUE(batch.empty());
  EXPECT_EQ(batch.begin(), batch.end());
  while (batch.empty() && absl::Now() < deadline) {
    ASSERT_TRUE((*consumer)->PollBatch(1, absl::Milliseconds(100), &batch).ok());
  }
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(&batch[0], slot);
  EXPECT_EQ(batch[0].topic, "reuse");
  EXPECT_EQ(batch[0].partition, 0);
  EXPECT_EQ(batch[0].offset, 1);
  EXPECT_EQ(batch[0].key, "");
  EXPECT_EQ(batch[0].value, "short");
  EXPECT_GE(batch[0].value.capacity(), long_value.size());  // the storage kept
  EXPECT_TRUE(batch[0].headers.empty());
  EXPECT_NE(batch[0].timestamp, absl::InfinitePast());

  std::vector<Record> taken = batch.TakeRecords();
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].value, "short");
  EXPECT_TRUE(batch.empty());
}

// librdkafka's value of `key` in `conf`.
std::string ConfValue(const rd_kafka_conf_t* conf, const char* key) {
  char value[256];
  size_t size = sizeof value;
  if (rd_kafka_conf_get(conf, key, value, &size) != RD_KAFKA_CONF_OK) return "<unset>";
  return value;
}

TEST(KafkaConfigTest, ReconnectBackoffIsAtMostASecondUnlessConfigured) {
  KafkaConfig config;
  auto conf = internal::BuildConf(config, {});
  ASSERT_TRUE(conf.ok()) << conf.status();
  EXPECT_EQ(ConfValue(conf->get(), "reconnect.backoff.max.ms"), "1000");

  config.reconnect_backoff_max = absl::Milliseconds(250);
  conf = internal::BuildConf(config, {});
  ASSERT_TRUE(conf.ok()) << conf.status();
  EXPECT_EQ(ConfValue(conf->get(), "reconnect.backoff.max.ms"), "250");

  config.reconnect_backoff_max = absl::InfiniteDuration();  // librdkafka's longest
  conf = internal::BuildConf(config, {});
  ASSERT_TRUE(conf.ok()) << conf.status();
  EXPECT_EQ(ConfValue(conf->get(), "reconnect.backoff.max.ms"), "3600000");

  config.extra["reconnect.backoff.max.ms"] = "5000";  // extra has the last word
  conf = internal::BuildConf(config, {});
  ASSERT_TRUE(conf.ok()) << conf.status();
  EXPECT_EQ(ConfValue(conf->get(), "reconnect.backoff.max.ms"), "5000");
}

TEST_F(ProducerTest, ConfigurationErrorsNameTheKey) {
  KafkaConfig config = TestConfig(*broker_, "p");
  config.extra["no.such.property"] = "1";
  auto p = NewProducer(config, {});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(p.status().message(), HasSubstr("no.such.property"));

  config.extra.clear();
  config.extra["linger.ms"] = "banana";
  auto c = NewConsumer(config, ConsumerOptions{});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("linger.ms"));

  ConsumerOptions bad;
  bad.auto_offset_reset = "sideways";
  auto c2 = NewConsumer(TestConfig(*broker_, "c"), bad);
  ASSERT_FALSE(c2.ok());
  EXPECT_THAT(c2.status().message(), HasSubstr("auto.offset.reset"));

  // The prefetch bound goes to librdkafka as it is (whose limit is 2 GiB).
  ConsumerOptions too_much;
  too_much.prefetch_kbytes = 4 * 1024 * 1024;
  auto c3 = NewConsumer(TestConfig(*broker_, "c"), too_much);
  ASSERT_FALSE(c3.ok());
  EXPECT_THAT(c3.status().message(), HasSubstr("queued.max.messages.kbytes"));
}

// Records librdkafka can never send are refused at once, not reported later.
TEST_F(ProducerTest, ProduceRefusesImpossibleRecordsAtOnce) {
  ASSERT_TRUE(broker_->CreateTopic("t", 1).ok());
  auto producer = NewProducer(TestConfig(*broker_, "p"), {});
  ASSERT_TRUE(producer.ok());
  absl::Status big = (*producer)->Produce("t", "k", std::string(2 << 20, 'x'));
  EXPECT_EQ(big.code(), absl::StatusCode::kInvalidArgument) << big;
  EXPECT_EQ(KafkaErrorName(big), "MSG_SIZE_TOO_LARGE") << big;
  EXPECT_THAT(big.message(), HasSubstr("produce to t"));
  EXPECT_EQ((*producer)->Produce("", "k", "v").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*producer)->InFlight(), 0);
}

// Transactions on the in-process broker (accepted, not isolated): the calls
// succeed in order, abort works, and a non-transactional producer refuses.
TEST_F(ProducerTest, TransactionsSmoke) {
  ASSERT_TRUE(broker_->CreateTopic("out", 3).ok());
  ASSERT_TRUE(broker_->CreateTopic("in", 3).ok());
  ProducerOptions options;
  options.transactional_id = "tidewatch-test-0";
  auto producer = NewProducer(TestConfig(*broker_, "txn"), options);
  ASSERT_TRUE(producer.ok()) << producer.status();
  Producer& p = **producer;
  ASSERT_TRUE(p.InitTransactions(absl::Seconds(15)).ok());

  ASSERT_TRUE(p.BeginTransaction().ok());
  Deliveries deliveries;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(p.Produce("out", absl::StrCat("k", i), "v", {}, deliveries.Callback()).ok());
  }
  // Offsets of a (group-less) consumer's group go into the transaction.
  auto consumer = NewConsumer(TestConfig(*broker_, "c"), GroupOptions("txn-group"));
  ASSERT_TRUE(consumer.ok());
  auto metadata = (*consumer)->GroupMetadata();
  ASSERT_TRUE(metadata.ok()) << metadata.status();
  absl::Status sent = p.SendOffsetsToTransaction({{"in", 0, 7}}, *metadata, absl::Seconds(10));
  EXPECT_TRUE(sent.ok()) << sent;
  absl::Status committed = p.CommitTransaction(absl::Seconds(15));
  ASSERT_TRUE(committed.ok()) << committed << " txn error "
                              << static_cast<int>(GetTxnError(committed));
  p.Poll(absl::ZeroDuration());
  ASSERT_EQ(deliveries.size(), 5u);
  for (const absl::Status& s : deliveries.statuses()) EXPECT_TRUE(s.ok()) << s;
  // (The in-process broker acknowledges transactional offset commits but
  // does not store them, so Committed() cannot be checked here.)

  ASSERT_TRUE(p.BeginTransaction().ok());
  ASSERT_TRUE(p.Produce("out", "k", "aborted").ok());
  EXPECT_TRUE(p.AbortTransaction(absl::Seconds(15)).ok());
  EXPECT_EQ(p.InFlight(), 0);

  // Misuse is reported with a classification: commit without begin.
  absl::Status misuse = p.CommitTransaction(absl::Seconds(5));
  EXPECT_FALSE(misuse.ok());
  EXPECT_EQ(misuse.code(), absl::StatusCode::kFailedPrecondition) << misuse;

  auto plain = NewProducer(TestConfig(*broker_, "plain"), {});
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ((*plain)->BeginTransaction().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(GetTxnError(absl::OkStatus()), TxnError::kNone);
}

// Admin: partition counts; CreateTopics is not in the in-process broker.
TEST_F(ProducerTest, AdminPartitionCountAndCreateTopicsOnEmbeddedBroker) {
  ASSERT_TRUE(broker_->CreateTopic("twelve", 12).ok());
  auto admin = NewAdmin(TestConfig(*broker_, "admin"));
  ASSERT_TRUE(admin.ok());
  auto n = (*admin)->PartitionCount("twelve", absl::Seconds(5));
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 12);
  auto missing = (*admin)->PartitionCount("missing", absl::Seconds(5));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound) << missing.status();
  // Not auto-created by asking.
  EXPECT_EQ((*admin)->PartitionCount("missing", absl::Seconds(5)).status().code(),
            absl::StatusCode::kNotFound);

  absl::Status created =
      (*admin)->CreateTopics({{"state", 12, 1, {{"cleanup.policy", "compact"}}}}, absl::Seconds(5));
  EXPECT_EQ(created.code(), absl::StatusCode::kUnimplemented) << created;
  EXPECT_TRUE((*admin)->CreateTopics({}, absl::Seconds(1)).ok());
  EXPECT_GE((*admin)->Health().error_count, 0);
}

}  // namespace
}  // namespace tidewatch::kafka::testing
