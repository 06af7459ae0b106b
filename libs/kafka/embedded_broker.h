// An in-process Kafka cluster for tests, demos and `--brokers=embedded`.
//
// EmbeddedBroker wraps librdkafka's mock cluster (rdkafka_mock.h): real
// brokers speaking the Kafka protocol on 127.0.0.1 ephemeral ports, served by
// a thread inside this process. Any client, ours or not, connects to
// bootstrap(). Fault controls (broker down, injected request errors, added
// latency) let tests exercise the failure paths.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<EmbeddedBroker> broker, EmbeddedBroker::Start(3));
//   RETURN_IF_ERROR(broker->CreateTopic("telephony.call-events", 12));
//   KafkaConfig config;
//   config.bootstrap = broker->bootstrap();
//   ...
//   broker->SetBrokerDown(1);                 // leader of some partitions gone
//   broker->PushRequestErrors(kafka_api::kProduce,
//                             {kafka_error::kNotEnoughReplicas});
//
// Known limits of the in-process broker (librdkafka 2.0.2), beyond it being
// in memory and gone with the process:
//   - The first join of a consumer group waits ~3 s (the broker's
//     group.initial.rebalance.delay); a rebalance while members are joining
//     waits up to session.timeout - 1 s for them. Members joining at the
//     same moment can churn through several rebalances (a follower's
//     SyncGroup that beats the leader's is refused), each that long.
//   - A member that vanishes without leaving (crash) keeps its partitions
//     until its session times out: with session.timeout.ms ~6 s they move in
//     ~11-20 s. A consumer that Close()s leaves at once.
//   - A partition keeps only the last ~5 MiB / 100k batches: older records
//     silently vanish (the log start offset moves up).
//   - No compaction (cleanup.policy is not applied), no retention by time.
//   - No CreateTopics admin API (Admin::CreateTopics fails Unimplemented):
//     use CreateTopic here. It speaks Metadata API v2 only, which cannot
//     carry allow.auto.create.topics=false: a client naming an unknown topic
//     (producing to it, subscribing to it) creates it with 4 partitions, so
//     create topics first.
//   - Broker ids start at 1; "all brokers" is -1.
//   - Transactions are accepted (init/begin/commit/abort) but not isolated:
//     read_committed consumers also see open and aborted transactions'
//     records, and offsets sent to a transaction are acknowledged but not
//     stored (Committed() does not see them).
//   - ListOffsets by timestamp is not implemented: OffsetsForTimes always
//     answers kOffsetEnd (-1).
//   - A fetch returns at most one record batch per partition.
// Development and demo use only: never production.
#ifndef TIDEWATCH_LIBS_KAFKA_EMBEDDED_BROKER_H_
#define TIDEWATCH_LIBS_KAFKA_EMBEDDED_BROKER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace tidewatch::kafka {

// Kafka protocol request types (ApiKey) for PushRequestErrors.
namespace kafka_api {
inline constexpr int16_t kProduce = 0;
inline constexpr int16_t kFetch = 1;
inline constexpr int16_t kListOffsets = 2;
inline constexpr int16_t kMetadata = 3;
inline constexpr int16_t kOffsetCommit = 8;
inline constexpr int16_t kOffsetFetch = 9;
inline constexpr int16_t kFindCoordinator = 10;
inline constexpr int16_t kJoinGroup = 11;
inline constexpr int16_t kHeartbeat = 12;
inline constexpr int16_t kLeaveGroup = 13;
inline constexpr int16_t kSyncGroup = 14;
inline constexpr int16_t kInitProducerId = 22;
inline constexpr int16_t kAddPartitionsToTxn = 24;
inline constexpr int16_t kAddOffsetsToTxn = 25;
inline constexpr int16_t kEndTxn = 26;
inline constexpr int16_t kTxnOffsetCommit = 28;
}  // namespace kafka_api

// Error codes for PushRequestErrors: Kafka protocol error codes, plus
// kDisconnect, which makes the broker drop the connection instead of
// answering.
namespace kafka_error {
inline constexpr int kNone = 0;
inline constexpr int kUnknownTopicOrPartition = 3;
inline constexpr int kLeaderNotAvailable = 5;
inline constexpr int kNotLeaderForPartition = 6;
inline constexpr int kRequestTimedOut = 7;
inline constexpr int kNetworkException = 13;
inline constexpr int kCoordinatorLoadInProgress = 14;
inline constexpr int kCoordinatorNotAvailable = 15;
inline constexpr int kNotCoordinator = 16;
inline constexpr int kNotEnoughReplicas = 19;
inline constexpr int kNotEnoughReplicasAfterAppend = 20;
inline constexpr int kRebalanceInProgress = 27;
inline constexpr int kTopicAuthorizationFailed = 29;
inline constexpr int kInvalidProducerEpoch = 47;
inline constexpr int kFencedInstanceId = 82;
inline constexpr int kProducerFenced = 90;
inline constexpr int kDisconnect = -195;  // librdkafka's _TRANSPORT
}  // namespace kafka_error

// An in-process Kafka cluster; see the file comment. Thread-safe.
class EmbeddedBroker {
 public:
  // Starts `num_brokers` brokers (ids 1..num_brokers) listening on
  // 127.0.0.1.
  static absl::StatusOr<std::unique_ptr<EmbeddedBroker>> Start(int num_brokers = 1);

  // Stops the brokers; connected clients see the connections drop.
  ~EmbeddedBroker();
  EmbeddedBroker(const EmbeddedBroker&) = delete;
  EmbeddedBroker& operator=(const EmbeddedBroker&) = delete;

  // bootstrap.servers for clients: "127.0.0.1:PORT[,...]".
  const std::string& bootstrap() const { return bootstrap_; }
  int num_brokers() const { return num_brokers_; }

  // Creates a topic (leaders spread over the brokers). Creating an existing
  // topic is an error.
  absl::Status CreateTopic(const std::string& name, int partitions, int replication_factor = 1);

  // Disconnects broker `broker_id` (-1: all) and refuses new connections;
  // leadership does not move. SetBrokerUp lets it serve again.
  absl::Status SetBrokerDown(int32_t broker_id);
  absl::Status SetBrokerUp(int32_t broker_id);

  // Adds `rtt` of latency to every response of broker `broker_id` (-1: all).
  absl::Status SetRtt(int32_t broker_id, absl::Duration rtt);

  // Moves the leader of a partition (-1: leaderless).
  absl::Status SetPartitionLeader(const std::string& topic, int32_t partition, int32_t broker_id);

  // The next errors.size() requests of type `api_key` (kafka_api::..., to
  // any broker) fail with these codes (kafka_error::...), in order.
  void PushRequestErrors(int16_t api_key, const std::vector<int>& errors);
  // Drops injected errors not yet used.
  void ClearRequestErrors(int16_t api_key);

 private:
  struct Impl;
  EmbeddedBroker(std::unique_ptr<Impl> impl, std::string bootstrap, int num_brokers);

  std::unique_ptr<Impl> impl_;
  const std::string bootstrap_;
  const int num_brokers_;
};

}  // namespace tidewatch::kafka

#endif  // TIDEWATCH_LIBS_KAFKA_EMBEDDED_BROKER_H_
