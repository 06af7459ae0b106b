#include "kafka/embedded_broker.h"

// clang-format off
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>  // must follow rdkafka.h
// clang-format on

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "kafka/rdkafka_util.h"

namespace tidewatch::kafka {
namespace {

using internal::KafkaError;
using internal::RdPtr;

static_assert(kafka_error::kNotLeaderForPartition == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
static_assert(kafka_error::kRequestTimedOut == RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
static_assert(kafka_error::kNetworkException == RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION);
static_assert(kafka_error::kCoordinatorLoadInProgress ==
              RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS);
static_assert(kafka_error::kCoordinatorNotAvailable == RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE);
static_assert(kafka_error::kNotCoordinator == RD_KAFKA_RESP_ERR_NOT_COORDINATOR);
static_assert(kafka_error::kNotEnoughReplicas == RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
static_assert(kafka_error::kNotEnoughReplicasAfterAppend ==
              RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND);
static_assert(kafka_error::kRebalanceInProgress == RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS);
static_assert(kafka_error::kInvalidProducerEpoch == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH);
static_assert(kafka_error::kProducerFenced == RD_KAFKA_RESP_ERR_PRODUCER_FENCED);
static_assert(kafka_error::kDisconnect == RD_KAFKA_RESP_ERR__TRANSPORT);

struct MockClusterDeleter {
  void operator()(rd_kafka_mock_cluster_t* p) const { rd_kafka_mock_cluster_destroy(p); }
};

}  // namespace

struct EmbeddedBroker::Impl {
  // Declared in destruction order's reverse: the cluster goes before the
  // handle it was created on.
  RdPtr<rd_kafka_t> handle;
  std::unique_ptr<rd_kafka_mock_cluster_t, MockClusterDeleter> cluster;
};

absl::StatusOr<std::unique_ptr<EmbeddedBroker>> EmbeddedBroker::Start(int num_brokers) {
  if (num_brokers < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("embedded broker: need at least 1 broker, got ", num_brokers));
  }
  auto impl = std::make_unique<Impl>();
  // The mock cluster needs an rd_kafka_t for its bookkeeping; this one never
  // connects anywhere. log_level 3 hides its "no bootstrap.servers" warning.
  RdPtr<rd_kafka_conf_t> conf(rd_kafka_conf_new());
  char errstr[512];
  if (rd_kafka_conf_set(conf.get(), "log_level", "3", errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
    return absl::InternalError(absl::StrCat("embedded broker: ", errstr));
  }
  impl->handle.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), errstr, sizeof errstr));
  if (impl->handle == nullptr) {
    return absl::InternalError(absl::StrCat("embedded broker: ", errstr));
  }
  conf.release();
  impl->cluster.reset(rd_kafka_mock_cluster_new(impl->handle.get(), num_brokers));
  if (impl->cluster == nullptr) {
    return absl::InternalError("embedded broker: could not start the mock cluster");
  }
  std::string bootstrap = rd_kafka_mock_cluster_bootstraps(impl->cluster.get());
  return std::unique_ptr<EmbeddedBroker>(
      new EmbeddedBroker(std::move(impl), std::move(bootstrap), num_brokers));
}

EmbeddedBroker::EmbeddedBroker(std::unique_ptr<Impl> impl, std::string bootstrap, int num_brokers)
    : impl_(std::move(impl)), bootstrap_(std::move(bootstrap)), num_brokers_(num_brokers) {}

EmbeddedBroker::~EmbeddedBroker() {
  impl_->cluster.reset();
  impl_->handle.reset();
}

absl::Status EmbeddedBroker::CreateTopic(const std::string& name, int partitions,
                                         int replication_factor) {
  if (name.empty() || partitions < 1 || replication_factor < 1 ||
      replication_factor > num_brokers_) {
    return absl::InvalidArgumentError(absl::StrCat("embedded broker: bad topic ", name, " (",
                                                   partitions, " partitions, replication ",
                                                   replication_factor, ")"));
  }
  return KafkaError(rd_kafka_mock_topic_create(impl_->cluster.get(), name.c_str(), partitions,
                                               replication_factor),
                    absl::StrCat("embedded broker: create topic ", name));
}

absl::Status EmbeddedBroker::SetBrokerDown(int32_t broker_id) {
  return KafkaError(rd_kafka_mock_broker_set_down(impl_->cluster.get(), broker_id),
                    absl::StrCat("embedded broker: set broker ", broker_id, " down"));
}

absl::Status EmbeddedBroker::SetBrokerUp(int32_t broker_id) {
  return KafkaError(rd_kafka_mock_broker_set_up(impl_->cluster.get(), broker_id),
                    absl::StrCat("embedded broker: set broker ", broker_id, " up"));
}

absl::Status EmbeddedBroker::SetRtt(int32_t broker_id, absl::Duration rtt) {
  return KafkaError(
      rd_kafka_mock_broker_set_rtt(impl_->cluster.get(), broker_id, internal::TimeoutMs(rtt)),
      absl::StrCat("embedded broker: set rtt of broker ", broker_id));
}

absl::Status EmbeddedBroker::SetPartitionLeader(const std::string& topic, int32_t partition,
                                                int32_t broker_id) {
  return KafkaError(
      rd_kafka_mock_partition_set_leader(impl_->cluster.get(), topic.c_str(), partition, broker_id),
      absl::StrCat("embedded broker: set leader of ", internal::PartitionName(topic, partition)));
}

void EmbeddedBroker::PushRequestErrors(int16_t api_key, const std::vector<int>& errors) {
  std::vector<rd_kafka_resp_err_t> codes;
  codes.reserve(errors.size());
  for (int e : errors) codes.push_back(static_cast<rd_kafka_resp_err_t>(e));
  rd_kafka_mock_push_request_errors_array(impl_->cluster.get(), api_key, codes.size(),
                                          codes.data());
}

void EmbeddedBroker::ClearRequestErrors(int16_t api_key) {
  rd_kafka_mock_clear_request_errors(impl_->cluster.get(), api_key);
}

}  // namespace tidewatch::kafka
