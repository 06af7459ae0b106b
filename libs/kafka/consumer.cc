// The librdkafka Consumer.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "kafka/kafka.h"
#include "kafka/rdkafka_util.h"

namespace tidewatch::kafka {
namespace {

using internal::ClientCore;
using internal::FromList;
using internal::KafkaError;
using internal::ListError;
using internal::RdPtr;
using internal::TakeError;
using internal::TimeoutMs;
using internal::ToList;

class RdConsumer final : public Consumer, public ClientCore {
 public:
  RdConsumer(const KafkaConfig& config, bool has_group)
      : ClientCore(config), has_group_(has_group) {}

  ~RdConsumer() override {
    if (rk_ != nullptr && !closed_ && !closing_) {
      listener_ = nullptr;  // may already be gone; leave the group silently
      rd_kafka_consumer_close(rk_.get());
    }
    rk_.reset();
  }

  absl::Status Init(const KafkaConfig& config, const ConsumerOptions& options) {
    read_headers_ = options.read_headers;
    // librdkafka's consumer needs a group.id even for Assign-only use; such a
    // consumer never joins (and may not commit), so any name will do.
    const std::string group_id =
        has_group_ ? options.group_id : absl::StrCat("tidewatch.unjoined.", config.client_id);
    const std::vector<internal::Setting> settings = {
        {"group.id", group_id},
        {"enable.auto.commit", options.enable_auto_commit ? "true" : "false"},
        {"enable.auto.offset.store", options.enable_auto_commit ? "true" : "false"},
        {"auto.offset.reset", options.auto_offset_reset},
        {"session.timeout.ms", absl::StrCat(TimeoutMs(options.session_timeout))},
        {"heartbeat.interval.ms", absl::StrCat(TimeoutMs(options.heartbeat_interval))},
        {"max.poll.interval.ms", absl::StrCat(TimeoutMs(options.max_poll_interval))},
        {"isolation.level", options.read_committed ? "read_committed" : "read_uncommitted"},
        {"partition.assignment.strategy", options.assignment_strategy},
        {"fetch.wait.max.ms", absl::StrCat(TimeoutMs(options.fetch_wait_max))},
        {"enable.partition.eof", "false"},
    };
    absl::StatusOr<RdPtr<rd_kafka_conf_t>> conf = internal::BuildConf(config, settings);
    if (!conf.ok()) return conf.status();
    InstallCallbacks(conf->get());
    rd_kafka_conf_set_rebalance_cb(conf->get(), &RdConsumer::Rebalance);
    if (options.enable_auto_commit) {
      rd_kafka_conf_set_offset_commit_cb(conf->get(), &RdConsumer::CommitResult);
    }
    char errstr[512];
    rk_.reset(rd_kafka_new(RD_KAFKA_CONSUMER, conf->get(), errstr, sizeof errstr));
    if (rk_ == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("kafka consumer: ", errstr));
    }
    conf->release();  // owned by rk_ now
    // Serve errors, statistics and rebalances from Poll.
    return KafkaError(rd_kafka_poll_set_consumer(rk_.get()), "kafka consumer");
  }

  absl::Status Subscribe(const std::vector<std::string>& topics,
                         RebalanceListener* listener) override {
    if (absl::Status s = RequireOpen(); !s.ok()) return s;
    if (!has_group_) {
      return absl::FailedPreconditionError(
          "kafka subscribe: needs ConsumerOptions::group_id (use Assign without a group)");
    }
    if (topics.empty()) return absl::InvalidArgumentError("kafka subscribe: no topics");
    RdPtr<rd_kafka_topic_partition_list_t> list(
        rd_kafka_topic_partition_list_new(static_cast<int>(topics.size())));
    for (const std::string& t : topics) {
      rd_kafka_topic_partition_list_add(list.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
    }
    listener_ = listener;
    return KafkaError(rd_kafka_subscribe(rk_.get(), list.get()), "kafka subscribe");
  }

  absl::Status Assign(const std::vector<TopicPartition>& partitions) override {
    if (absl::Status s = RequireOpen(); !s.ok()) return s;
    RdPtr<rd_kafka_topic_partition_list_t> list = ToList(partitions);
    epoch_.fetch_add(1, std::memory_order_relaxed);
    return KafkaError(rd_kafka_assign(rk_.get(), partitions.empty() ? nullptr : list.get()),
                      "kafka assign");
  }

  absl::StatusOr<std::optional<Record>> Poll(absl::Duration timeout) override {
    if (absl::Status s = RequireOpen(); !s.ok()) return s;
    RdPtr<rd_kafka_message_t> message(rd_kafka_consumer_poll(rk_.get(), TimeoutMs(timeout)));
    if (message == nullptr) return std::nullopt;
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return std::nullopt;
      return ConsumeError(message.get());
    }
    Record r = internal::ToRecord(message.get(), read_headers_);
    r.epoch = epoch_.load(std::memory_order_relaxed);
    return r;
  }

  absl::Status PollBatch(size_t max_records, absl::Duration timeout,
                         std::vector<Record>* out) override {
    if (absl::Status s = RequireOpen(); !s.ok()) return s;
    int timeout_ms = TimeoutMs(timeout);
    for (size_t i = 0; i < max_records; ++i) {
      RdPtr<rd_kafka_message_t> message(rd_kafka_consumer_poll(rk_.get(), timeout_ms));
      timeout_ms = 0;  // after the first: only what is already fetched
      if (message == nullptr) break;
      if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) continue;
      if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) return ConsumeError(message.get());
      out->push_back(internal::ToRecord(message.get(), read_headers_));
      out->back().epoch = epoch_.load(std::memory_order_relaxed);
    }
    return absl::OkStatus();
  }

  absl::Status Commit(const std::vector<TopicPartition>& offsets, bool async) override {
    if (absl::Status s = RequireOpen(); !s.ok()) return s;
    if (offsets.empty()) return absl::OkStatus();
    if (!has_group_) {
      return absl::FailedPreconditionError("kafka commit: needs ConsumerOptions::group_id");
    }
    RdPtr<rd_kafka_topic_partition_list_t> list = ToList(offsets);
    if (async) {
      // The result is served by Poll, through CommitResult.
      RdPtr<rd_kafka_queue_t> queue(rd_kafka_queue_get_consumer(rk_.get()));
      return KafkaError(
          rd_kafka_commit_queue(rk_.get(), list.get(), queue.get(), &RdConsumer::CommitResult,
                                static_cast<ClientCore*>(this)),
          "kafka commit");
    }
    if (absl::Status s = KafkaError(rd_kafka_commit(rk_.get(), list.get(), 0), "kafka commit");
        !s.ok()) {
      return s;
    }
    return ListError(list.get(), "kafka commit");
  }

  absl::StatusOr<std::vector<TopicPartition>> Committed(
      const std::vector<TopicPartition>& partitions, absl::Duration timeout) override {
    if (absl::Status s = RequireOpen(); !s.ok()) return s;
    if (!has_group_) {
      return absl::FailedPreconditionError("kafka committed: needs ConsumerOptions::group_id");
    }
    RdPtr<rd_kafka_topic_partition_list_t> list = ToList(partitions);
    if (absl::Status s = KafkaError(rd_kafka_committed(rk_.get(), list.get(), TimeoutMs(timeout)),
                                    "kafka committed");
        !s.ok()) {
      return s;
    }
    if (absl::Status s = ListError(list.get(), "kafka committed"); !s.ok()) return s;
    return FromList(list.get());
  }

  absl::Status Seek(const TopicPartition& position, absl::Duration timeout) override {
    if (absl::Status s = RequireOpen(); !s.ok()) return s;
    if (pending_assignment_ != nullptr) {
      // Inside OnAssigned: set the start offset handed to assign.
      rd_kafka_topic_partition_t* p = rd_kafka_topic_partition_list_find(
          pending_assignment_, position.topic.c_str(), position.partition);
      if (p != nullptr) {
        p->offset = position.offset;
        return absl::OkStatus();
      }
    }
    RdPtr<rd_kafka_topic_partition_list_t> list = ToList({position});
    // Records fetched before the seek are discarded by librdkafka; any the
    // caller already holds are older than the new epoch.
    epoch_.fetch_add(1, std::memory_order_relaxed);
    const std::string context =
        absl::StrCat("kafka seek ", internal::PartitionName(position.topic, position.partition));
    if (absl::Status s =
            TakeError(rd_kafka_seek_partitions(rk_.get(), list.get(), TimeoutMs(timeout)), context);
        !s.ok()) {
      return s;
    }
    return ListError(list.get(), "kafka seek");
  }

  absl::StatusOr<std::vector<TopicPartition>> OffsetsForTimes(
      const std::vector<TopicPartition>& partitions, absl::Time time,
      absl::Duration timeout) override {
    if (absl::Status s = RequireOpen(); !s.ok()) return s;
    std::vector<TopicPartition> query = partitions;
    const int64_t ms = std::max<int64_t>(0, absl::ToUnixMillis(time));
    for (TopicPartition& tp : query) tp.offset = ms;
    RdPtr<rd_kafka_topic_partition_list_t> list = ToList(query);
    if (absl::Status s =
            KafkaError(rd_kafka_offsets_for_times(rk_.get(), list.get(), TimeoutMs(timeout)),
                       "kafka offsets for times");
        !s.ok()) {
      return s;
    }
    if (absl::Status s = ListError(list.get(), "kafka offsets for times"); !s.ok()) return s;
    return FromList(list.get());
  }

  absl::StatusOr<std::vector<TopicPartition>> Assignment() override {
    if (absl::Status s = RequireOpen(); !s.ok()) return s;
    rd_kafka_topic_partition_list_t* raw = nullptr;
    if (absl::Status s = KafkaError(rd_kafka_assignment(rk_.get(), &raw), "kafka assignment");
        !s.ok()) {
      return s;
    }
    RdPtr<rd_kafka_topic_partition_list_t> list(raw);
    std::vector<TopicPartition> out = FromList(list.get());
    for (TopicPartition& tp : out) tp.offset = kOffsetInvalid;
    return out;
  }

  absl::Status Pause(const std::vector<TopicPartition>& partitions) override {
    if (absl::Status s = RequireOpen(); !s.ok()) return s;
    RdPtr<rd_kafka_topic_partition_list_t> list = ToList(partitions);
    if (absl::Status s =
            KafkaError(rd_kafka_pause_partitions(rk_.get(), list.get()), "kafka pause");
        !s.ok()) {
      return s;
    }
    return ListError(list.get(), "kafka pause");
  }

  absl::Status Resume(const std::vector<TopicPartition>& partitions) override {
    if (absl::Status s = RequireOpen(); !s.ok()) return s;
    RdPtr<rd_kafka_topic_partition_list_t> list = ToList(partitions);
    if (absl::Status s =
            KafkaError(rd_kafka_resume_partitions(rk_.get(), list.get()), "kafka resume");
        !s.ok()) {
      return s;
    }
    return ListError(list.get(), "kafka resume");
  }

  absl::StatusOr<Watermarks> QueryWatermarks(const std::string& topic, int32_t partition,
                                             absl::Duration timeout) override {
    if (absl::Status s = RequireOpen(); !s.ok()) return s;
    Watermarks w;
    if (absl::Status s = KafkaError(
            rd_kafka_query_watermark_offsets(rk_.get(), topic.c_str(), partition, &w.low, &w.high,
                                             TimeoutMs(timeout)),
            absl::StrCat("kafka watermarks of ", internal::PartitionName(topic, partition)));
        !s.ok()) {
      return s;
    }
    return w;
  }

  absl::StatusOr<std::vector<PartitionLag>> Lag() override {
    if (absl::Status s = RequireOpen(); !s.ok()) return s;
    rd_kafka_topic_partition_list_t* raw = nullptr;
    if (absl::Status s = KafkaError(rd_kafka_assignment(rk_.get(), &raw), "kafka lag"); !s.ok()) {
      return s;
    }
    RdPtr<rd_kafka_topic_partition_list_t> list(raw);
    if (absl::Status s = KafkaError(rd_kafka_position(rk_.get(), list.get()), "kafka lag");
        !s.ok()) {
      return s;
    }
    std::vector<PartitionLag> out;
    out.reserve(list->cnt);
    for (int i = 0; i < list->cnt; ++i) {
      const rd_kafka_topic_partition_t& p = list->elems[i];
      PartitionLag lag;
      lag.topic = p.topic;
      lag.partition = p.partition;
      lag.position = p.offset >= 0 ? p.offset : kOffsetInvalid;
      int64_t low = -1, high = -1;
      if (rd_kafka_get_watermark_offsets(rk_.get(), p.topic, p.partition, &low, &high) ==
              RD_KAFKA_RESP_ERR_NO_ERROR &&
          high >= 0) {
        lag.high_watermark = high;
      }
      if (lag.position >= 0 && lag.high_watermark >= 0) {
        lag.lag = std::max<int64_t>(0, lag.high_watermark - lag.position);
      }
      out.push_back(std::move(lag));
    }
    return out;
  }

  absl::StatusOr<ConsumerGroupMetadata> GroupMetadata() override {
    if (absl::Status s = RequireOpen(); !s.ok()) return s;
    if (!has_group_) {
      return absl::FailedPreconditionError("kafka group metadata: needs ConsumerOptions::group_id");
    }
    RdPtr<rd_kafka_consumer_group_metadata_t> cgmd(rd_kafka_consumer_group_metadata(rk_.get()));
    if (cgmd == nullptr) {
      return absl::FailedPreconditionError("kafka group metadata: consumer has no group");
    }
    void* buffer = nullptr;
    size_t size = 0;
    if (absl::Status s =
            TakeError(rd_kafka_consumer_group_metadata_write(cgmd.get(), &buffer, &size),
                      "kafka group metadata");
        !s.ok()) {
      return s;
    }
    ConsumerGroupMetadata out{std::string(static_cast<const char*>(buffer), size)};
    rd_kafka_mem_free(rk_.get(), buffer);
    return out;
  }

  absl::Status Close() override {
    if (closed_ || closing_) return absl::OkStatus();
    closing_ = true;
    // Calls the rebalance callback (OnRevoked, which may still Commit)
    // before leaving the group.
    absl::Status s = KafkaError(rd_kafka_consumer_close(rk_.get()), "kafka consumer close");
    closed_ = true;
    listener_ = nullptr;
    return s;
  }

  ClientHealth Health() const override { return HealthSnapshot(); }

 private:
  absl::Status RequireOpen() const {
    if (closed_) return absl::FailedPreconditionError("kafka consumer is closed");
    return absl::OkStatus();
  }

  absl::Status ConsumeError(const rd_kafka_message_t* message) {
    const std::string topic = message->rkt != nullptr ? rd_kafka_topic_name(message->rkt) : "";
    // A consumer error's payload is its error string (length-delimited).
    const std::string detail =
        message->payload != nullptr
            ? std::string(static_cast<const char*>(message->payload), message->len)
            : std::string();
    absl::Status s =
        KafkaError(message->err,
                   topic.empty() ? std::string("kafka consume")
                                 : absl::StrCat("kafka consume from ",
                                                internal::PartitionName(topic, message->partition)),
                   detail);
    NoteError(s);
    return s;
  }

  static void Rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                        rd_kafka_topic_partition_list_t* partitions, void* opaque) {
    // (Checked: GCC 12 otherwise warns about the null case of the cast.)
    if (auto* self = static_cast<RdConsumer*>(ClientCore::FromOpaque(opaque))) {
      self->OnRebalance(err, partitions);
    }
  }

  void OnRebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions) {
    epoch_.fetch_add(1, std::memory_order_relaxed);
    const bool cooperative =
        std::strcmp(rd_kafka_rebalance_protocol(rk_.get()), "COOPERATIVE") == 0;
    switch (err) {
      case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS: {
        if (listener_ != nullptr) {
          std::vector<TopicPartition> assigned = FromList(partitions);
          for (TopicPartition& tp : assigned) tp.offset = kOffsetInvalid;
          pending_assignment_ = partitions;
          listener_->OnAssigned(assigned);
          pending_assignment_ = nullptr;
        }
        if (cooperative) {
          CheckRebalanceCall(TakeError(rd_kafka_incremental_assign(rk_.get(), partitions),
                                       "kafka incremental assign"));
        } else {
          CheckRebalanceCall(KafkaError(rd_kafka_assign(rk_.get(), partitions), "kafka assign"));
        }
        break;
      }
      case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS: {
        if (listener_ != nullptr) {
          std::vector<TopicPartition> revoked = FromList(partitions);
          for (TopicPartition& tp : revoked) tp.offset = kOffsetInvalid;
          if (rd_kafka_assignment_lost(rk_.get())) {
            listener_->OnLost(revoked);
          } else {
            listener_->OnRevoked(revoked);
          }
        }
        if (cooperative) {
          CheckRebalanceCall(TakeError(rd_kafka_incremental_unassign(rk_.get(), partitions),
                                       "kafka incremental unassign"));
        } else {
          CheckRebalanceCall(KafkaError(rd_kafka_assign(rk_.get(), nullptr), "kafka unassign"));
        }
        break;
      }
      default: {
        // A failed rebalance: whatever we held is lost; resync to nothing.
        ReportError(KafkaError(err, "kafka rebalance failed"), false);
        rd_kafka_topic_partition_list_t* raw = nullptr;
        if (rd_kafka_assignment(rk_.get(), &raw) == RD_KAFKA_RESP_ERR_NO_ERROR) {
          RdPtr<rd_kafka_topic_partition_list_t> held(raw);
          if (listener_ != nullptr && held->cnt > 0) listener_->OnLost(FromList(held.get()));
        }
        CheckRebalanceCall(KafkaError(rd_kafka_assign(rk_.get(), nullptr), "kafka unassign"));
        break;
      }
    }
  }

  void CheckRebalanceCall(const absl::Status& s) {
    if (!s.ok()) ReportError(s, false);
  }

  static void CommitResult(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* offsets, void* opaque) {
    ClientCore* self = ClientCore::FromOpaque(opaque);
    if (err == RD_KAFKA_RESP_ERR__NO_OFFSET) return;  // nothing to commit
    absl::Status s = KafkaError(err, "kafka async commit");
    if (s.ok()) s = ListError(offsets, "kafka async commit");
    if (!s.ok()) self->ReportError(s, false);
  }

  int64_t PositionEpoch() const override { return epoch_.load(std::memory_order_relaxed); }

  const bool has_group_;
  bool read_headers_ = true;
  std::atomic<int64_t> epoch_{0};
  RdPtr<rd_kafka_t> rk_;
  RebalanceListener* listener_ = nullptr;
  bool closing_ = false;  // inside Close(): the listener may still use us
  bool closed_ = false;
  // The list being assigned while OnAssigned runs (Seek edits it).
  rd_kafka_topic_partition_list_t* pending_assignment_ = nullptr;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Consumer>> NewConsumer(const KafkaConfig& config,
                                                      const ConsumerOptions& options) {
  auto consumer = std::make_unique<RdConsumer>(config, !options.group_id.empty());
  if (absl::Status s = consumer->Init(config, options); !s.ok()) return s;
  return std::unique_ptr<Consumer>(std::move(consumer));
}

}  // namespace tidewatch::kafka
