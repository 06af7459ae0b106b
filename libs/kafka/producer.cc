// The librdkafka Producer.
#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "kafka/kafka.h"
#include "kafka/rdkafka_util.h"

namespace tidewatch::kafka {
namespace {

using internal::ClientCore;
using internal::KafkaError;
using internal::RdPtr;
using internal::TakeError;
using internal::TimeoutMs;

// The most AbortTransaction waits for queued records before aborting.
constexpr absl::Duration kAbortFlushLimit = absl::Seconds(1);

class RdProducer final : public Producer, public ClientCore {
 public:
  RdProducer(const KafkaConfig& config, bool transactional)
      : ClientCore(config), transactional_(transactional) {}

  ~RdProducer() override {
    // Undelivered records are dropped (Flush first to wait for them); their
    // callbacks are not run, since the owner may be half destroyed too.
    destroying_.store(true);
    {
      absl::MutexLock lock(&topics_mu_);
      topics_.clear();  // topic objects go before their client
    }
    rk_.reset();
    absl::MutexLock lock(&pending_mu_);
    for (Delivery* d : pending_) delete d;
    pending_.clear();
  }

  absl::Status Init(const KafkaConfig& config, const ProducerOptions& options) {
    std::vector<internal::Setting> settings = {
        {"enable.idempotence", options.idempotent ? "true" : "false"},
        // Java-compatible key hashing: (murmur2(key) & 0x7fffffff) % partitions.
        {"partitioner", "murmur2_random"},
        {"linger.ms", absl::StrCat(TimeoutMs(options.linger))},
    };
    absl::Duration delivery_timeout = options.delivery_timeout;
    if (options.transactional_id.has_value()) {
      // librdkafka insists message.timeout.ms <= transaction.timeout.ms.
      delivery_timeout = std::min(delivery_timeout, options.transaction_timeout);
      settings.emplace_back("transactional.id", *options.transactional_id);
      settings.emplace_back("transaction.timeout.ms",
                            absl::StrCat(TimeoutMs(options.transaction_timeout)));
    }
    settings.emplace_back("message.timeout.ms", absl::StrCat(TimeoutMs(delivery_timeout)));
    absl::StatusOr<RdPtr<rd_kafka_conf_t>> conf = internal::BuildConf(config, settings);
    if (!conf.ok()) return conf.status();
    InstallCallbacks(conf->get());
    rd_kafka_conf_set_dr_msg_cb(conf->get(), &RdProducer::DeliveryReport);
    char errstr[512];
    rk_.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf->get(), errstr, sizeof errstr));
    if (rk_ == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("kafka producer: ", errstr));
    }
    conf->release();  // owned by rk_ now
    return absl::OkStatus();
  }

  int Poll(absl::Duration timeout) override {
    const int served = rd_kafka_poll(rk_.get(), TimeoutMs(timeout));
    CheckBrokersBack(rk_.get());
    return served;
  }

  absl::Status Flush(absl::Duration timeout) override {
    const rd_kafka_resp_err_t err = rd_kafka_flush(rk_.get(), TimeoutMs(timeout));
    CheckBrokersBack(rk_.get());
    if (err == RD_KAFKA_RESP_ERR__TIMED_OUT) {
      return absl::DeadlineExceededError(absl::StrCat("kafka flush: ", InFlight(),
                                                      " records still undelivered after ",
                                                      absl::FormatDuration(timeout)));
    }
    return KafkaError(err, "kafka flush");
  }

  int64_t InFlight() const override { return in_flight_.load(); }

  absl::Status PrepareTopics(const std::vector<std::string>& topics,
                             absl::Duration timeout) override {
    absl::MutexLock lock(&topics_mu_);
    std::vector<std::string> added;
    // Topics are prepared once their metadata came: those added by a call
    // that fails are taken out again, so that the next call asks again
    // instead of reporting them prepared.
    auto forget_added = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(topics_mu_) {
      for (const std::string& name : added) topics_.erase(name);
    };
    for (const std::string& name : topics) {
      if (topics_.contains(name)) continue;
      rd_kafka_topic_t* topic = rd_kafka_topic_new(rk_.get(), name.c_str(), nullptr);
      if (topic == nullptr) {
        const rd_kafka_resp_err_t err = rd_kafka_last_error();
        forget_added();
        return KafkaError(err, absl::StrCat("kafka topic ", name));
      }
      topics_.emplace(name, RdPtr<rd_kafka_topic_t>(topic));
      added.push_back(name);
    }
    if (added.empty()) return absl::OkStatus();
    // One answer for every topic (asking for a named one would make a
    // cluster that allows it create the topic), which updates the client's
    // view of the topics it holds objects for.
    const rd_kafka_metadata_t* raw = nullptr;
    const rd_kafka_resp_err_t err =
        rd_kafka_metadata(rk_.get(), 1, nullptr, &raw, TimeoutMs(timeout));
    RdPtr<const rd_kafka_metadata_t> md(raw);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) forget_added();
    return KafkaError(err, "kafka metadata for the output topics");
  }

  absl::Status InitTransactions(absl::Duration timeout) override {
    if (absl::Status s = RequireTransactional(); !s.ok()) return s;
    return TakeError(rd_kafka_init_transactions(rk_.get(), TimeoutMs(timeout)),
                     "init transactions");
  }

  absl::Status BeginTransaction() override {
    if (absl::Status s = RequireTransactional(); !s.ok()) return s;
    return TakeError(rd_kafka_begin_transaction(rk_.get()), "begin transaction");
  }

  absl::Status SendOffsetsToTransaction(const std::vector<TopicPartition>& offsets,
                                        const ConsumerGroupMetadata& group,
                                        absl::Duration timeout) override {
    if (absl::Status s = RequireTransactional(); !s.ok()) return s;
    rd_kafka_consumer_group_metadata_t* raw = nullptr;
    if (absl::Status s = TakeError(rd_kafka_consumer_group_metadata_read(
                                       &raw, group.serialized.data(), group.serialized.size()),
                                   "send offsets to transaction: bad consumer group metadata");
        !s.ok()) {
      return s;
    }
    RdPtr<rd_kafka_consumer_group_metadata_t> cgmd(raw);
    RdPtr<rd_kafka_topic_partition_list_t> list = internal::ToList(offsets);
    return TakeError(
        rd_kafka_send_offsets_to_transaction(rk_.get(), list.get(), cgmd.get(), TimeoutMs(timeout)),
        "send offsets to transaction");
  }

  absl::Status CommitTransaction(absl::Duration timeout) override {
    if (absl::Status s = RequireTransactional(); !s.ok()) return s;
    return TakeError(rd_kafka_commit_transaction(rk_.get(), TimeoutMs(timeout)),
                     "commit transaction");
  }

  absl::Status AbortTransaction(absl::Duration timeout) override {
    if (absl::Status s = RequireTransactional(); !s.ok()) return s;
    // Records still queued are delivered (to be aborted) first: aborting
    // purges them, and librdkafka 2.0.2 may then send the EndTxn ahead of
    // the AddPartitionsToTxn already under way for them, which the broker
    // answers with a fatal INVALID_TXN_STATE (librdkafka issue #4849). That
    // takes a round trip; records that cannot be sent (the transaction
    // failed already, or their leader is away) wait for their timeout, so
    // the flush gets at most a second (and half the time), the abort the rest.
    absl::Duration abort_timeout = timeout;
    if (in_flight_.load() > 0) {
      const absl::Duration flush = std::min(timeout / 2, kAbortFlushLimit);
      abort_timeout = timeout - flush;
      rd_kafka_flush(rk_.get(), TimeoutMs(flush));
    }
    return TakeError(rd_kafka_abort_transaction(rk_.get(), TimeoutMs(abort_timeout)),
                     "abort transaction");
  }

  ClientHealth Health() const override { return HealthSnapshot(); }

 protected:
  absl::Status DoProduce(const std::string& topic, std::string key, std::string value,
                         std::vector<Header> headers, DeliveryCallback on_delivery) override {
    if (topic.empty()) return absl::InvalidArgumentError("kafka produce: empty topic name");
    RdPtr<rd_kafka_headers_t> hdrs;
    if (!headers.empty()) {
      hdrs.reset(rd_kafka_headers_new(headers.size()));
      for (const Header& h : headers) {
        rd_kafka_header_add(hdrs.get(), h.key.data(), static_cast<ssize_t>(h.key.size()),
                            h.value.data(), static_cast<ssize_t>(h.value.size()));
      }
    }
    std::unique_ptr<Delivery> delivery;
    if (on_delivery) delivery = std::make_unique<Delivery>(Delivery{std::move(on_delivery)});

    rd_kafka_vu_t vus[6] = {};
    size_t n = 0;
    vus[n].vtype = RD_KAFKA_VTYPE_TOPIC;
    vus[n++].u.cstr = topic.c_str();
    if (!key.empty()) {
      vus[n].vtype = RD_KAFKA_VTYPE_KEY;
      vus[n].u.mem.ptr = key.data();
      vus[n++].u.mem.size = key.size();
    }
    vus[n].vtype = RD_KAFKA_VTYPE_VALUE;
    vus[n].u.mem.ptr = value.data();  // never null: an empty value is not a tombstone
    vus[n++].u.mem.size = value.size();
    vus[n].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
    vus[n++].u.i = RD_KAFKA_MSG_F_COPY;
    if (hdrs != nullptr) {
      vus[n].vtype = RD_KAFKA_VTYPE_HEADERS;
      vus[n++].u.headers = hdrs.get();
    }
    vus[n].vtype = RD_KAFKA_VTYPE_OPAQUE;
    vus[n++].u.ptr = delivery.get();

    // Registered before the call: the report may be served on another thread
    // before produceva returns.
    if (delivery != nullptr) {
      absl::MutexLock lock(&pending_mu_);
      pending_.insert(delivery.get());
    }
    in_flight_.fetch_add(1);
    absl::Status s =
        TakeError(rd_kafka_produceva(rk_.get(), vus, n), absl::StrCat("kafka produce to ", topic));
    if (!s.ok()) {
      in_flight_.fetch_sub(1);
      if (delivery != nullptr) {
        absl::MutexLock lock(&pending_mu_);
        pending_.erase(delivery.get());
      }
      return s;  // hdrs and delivery are still ours and freed here
    }
    hdrs.release();      // owned by the message now
    delivery.release();  // freed by DeliveryReport (or the destructor)
    return absl::OkStatus();
  }

 private:
  struct Delivery {
    DeliveryCallback callback;
  };

  static void DeliveryReport(rd_kafka_t* rk, const rd_kafka_message_t* message, void* opaque) {
    auto* self = static_cast<RdProducer*>(ClientCore::FromOpaque(opaque));
    std::unique_ptr<Delivery> delivery(static_cast<Delivery*>(message->_private));
    if (delivery != nullptr) {
      absl::MutexLock lock(&self->pending_mu_);
      self->pending_.erase(delivery.get());
    }
    self->in_flight_.fetch_sub(1);
    absl::Status status;
    if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      self->NoteBrokerAnswered();
    } else {
      const char* persisted = "";
      switch (rd_kafka_message_status(message)) {
        case RD_KAFKA_MSG_STATUS_NOT_PERSISTED:
          persisted = " (not written)";
          break;
        case RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED:
          persisted = " (possibly written)";
          break;
        default:
          break;
      }
      const std::string topic = message->rkt != nullptr ? rd_kafka_topic_name(message->rkt) : "";
      // Not rd_kafka_message_errstr(): on a delivery report the payload is
      // the record's value, not an error string.
      status =
          KafkaError(message->err,
                     absl::StrCat("kafka delivery to ",
                                  internal::PartitionName(topic, message->partition), persisted));
      self->NoteError(status);
    }
    if (delivery != nullptr && delivery->callback && !self->destroying_.load()) {
      Record record = internal::ToRecord(message);
      if (record.offset < 0) record.offset = -1;  // librdkafka's "invalid" is -1001
      delivery->callback(status, record);
    }
  }

  absl::Status RequireTransactional() const {
    if (!transactional_) {
      return absl::FailedPreconditionError(
          "kafka producer: transactions need ProducerOptions::transactional_id");
    }
    return absl::OkStatus();
  }

  const bool transactional_;
  RdPtr<rd_kafka_t> rk_;
  std::atomic<int64_t> in_flight_{0};
  std::atomic<bool> destroying_{false};
  absl::Mutex pending_mu_;
  absl::flat_hash_set<Delivery*> pending_ ABSL_GUARDED_BY(pending_mu_);
  // PrepareTopics' topic objects, held for the producer's life.
  absl::Mutex topics_mu_;
  absl::flat_hash_map<std::string, RdPtr<rd_kafka_topic_t>> topics_ ABSL_GUARDED_BY(topics_mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<Producer>> NewProducer(const KafkaConfig& config,
                                                      const ProducerOptions& options) {
  auto producer = std::make_unique<RdProducer>(config, options.transactional_id.has_value());
  if (absl::Status s = producer->Init(config, options); !s.ok()) return s;
  return std::unique_ptr<Producer>(std::move(producer));
}

}  // namespace tidewatch::kafka
