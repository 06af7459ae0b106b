// The librdkafka Consumer.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
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
using internal::SeekPartitionsTimeout;
using internal::TakeError;
using internal::TimeoutMs;
using internal::ToList;

// A bounded wait served in slices (at most 100 ms each). Time spent is
// measured on KafkaConfig::clock when there is one; slices that ended with
// nothing to serve are counted as well, so a clock that does not move (none,
// or a SimulatedClock) still bounds the wait. An event served (a fetched
// record dropped by a close, another commit's result) ends a slice early but
// uses up only kPerEvent of the count: a backlog of them cannot end the wait
// early (a consumer may hold 100,000 fetched records per partition), and an
// endless stream of them cannot make it unbounded.
class SlicedWait {
 public:
  static constexpr absl::Duration kSlice = absl::Milliseconds(100);
  static constexpr absl::Duration kPerEvent = absl::Microseconds(1);

  SlicedWait(const ClientCore& clock, absl::Duration budget)
      : clock_(clock), budget_(budget), start_(clock.Now()) {}

  // What is left of the budget (zero or less: the wait is over).
  absl::Duration Left() const {
    absl::Duration spent = counted_;
    if (start_ != absl::InfinitePast()) spent = std::max(spent, clock_.Now() - start_);
    return budget_ - spent;
  }
  // The next slice to wait for.
  absl::Duration Slice() const { return std::min(Left(), kSlice); }
  // A slice of `slice` ended after serving `events` events.
  void Served(absl::Duration slice, int events) {
    counted_ += events == 0 ? slice : events * kPerEvent;
  }

 private:
  const ClientCore& clock_;
  const absl::Duration budget_;
  const absl::Time start_;
  absl::Duration counted_ = absl::ZeroDuration();
};

// Errors of a partition whose leader the client or broker does not know yet
// (a topic just created, a leader moving): asked again after a pause.
bool LeaderNotKnown(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR_REPLICA_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE:
      return true;
    default:
      return false;
  }
}
constexpr absl::Duration kLeaderRetryPause = absl::Milliseconds(50);
// The time QueryWatermarks gives its first attempt (doubled after each
// attempt that timed out).
constexpr absl::Duration kFirstWatermarkAttempt = absl::Milliseconds(250);

class RdConsumer final : public Consumer, public ClientCore {
 public:
  RdConsumer(const KafkaConfig& config, bool has_group)
      : ClientCore(config), has_group_(has_group) {}

  ~RdConsumer() override {
    pending_commits_.clear();  // their owners may be gone: never called
    SilenceCallbacks();        // the same for on_error and on_stats
    if (rk_ != nullptr && !closed_ && !closing_) {
      listener_ = nullptr;  // may already be gone; leave the group silently
      SlicedWait wait(*this, close_timeout_);
      left_group_ = CloseWithin(wait).ok();
    }
    // An unfinished close: librdkafka's destruction would wait for ever
    // for the unassign of a revoke it handed to the close queue.
    // The revoke comes from librdkafka's own thread, not from the
    // coordinator: a second is ample even when close_timeout is shorter.
    ServeUntilUnassigned(std::max(close_timeout_, absl::Seconds(1)));
    close_queue_.reset();  // queues before the handle they belong to
    commit_queue_.reset();
    if (rk_ != nullptr) {
      // A close that did not finish (the coordinator away) is not tried
      // again, unbounded, by the destruction.
      rd_kafka_destroy_flags(rk_.release(), left_group_ ? 0 : RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    }
  }

  absl::Status Init(const KafkaConfig& config, const ConsumerOptions& options) {
    read_headers_ = options.read_headers;
    // librdkafka's strategies with incremental rebalancing (only
    // "cooperative-sticky" in 2.0.2; it cannot be mixed with eager ones).
    cooperative_configured_ = absl::StrContains(options.assignment_strategy, "cooperative-sticky");
    commit_timeout_ = options.commit_timeout;
    close_timeout_ = options.close_timeout;
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
        {"queued.min.messages", absl::StrCat(options.prefetch_records)},
        {"queued.max.messages.kbytes", absl::StrCat(options.prefetch_kbytes)},
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
    commit_queue_.reset(rd_kafka_queue_new(rk_.get()));
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
    absl::Status s = KafkaError(
        rd_kafka_assign(rk_.get(), partitions.empty() ? nullptr : list.get()), "kafka assign");
    lag_assignment_.reset();
    return s;
  }

  absl::StatusOr<std::optional<Record>> Poll(absl::Duration timeout) override {
    if (absl::Status s = RequireOpen(); !s.ok()) return s;
    RdPtr<rd_kafka_message_t> message(rd_kafka_consumer_poll(rk_.get(), TimeoutMs(timeout)));
    ServeCommitResults(0);
    CheckBrokersBack(rk_.get());
    if (message == nullptr) return std::nullopt;
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return std::nullopt;
      return ConsumeError(message.get());
    }
    NoteBrokerAnswered();
    Record r = internal::ToRecord(message.get(), read_headers_);
    r.epoch = epoch_.load(std::memory_order_relaxed);
    return r;
  }

  absl::Status PollBatch(size_t max_records, absl::Duration timeout, RecordBatch* out) override {
    if (absl::Status s = RequireOpen(); !s.ok()) return s;
    int timeout_ms = TimeoutMs(timeout);
    absl::Status status;
    for (size_t i = 0; i < max_records; ++i) {
      RdPtr<rd_kafka_message_t> message(rd_kafka_consumer_poll(rk_.get(), timeout_ms));
      timeout_ms = 0;  // after the first: only what is already fetched
      if (message == nullptr) break;
      if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) continue;
      if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        status = ConsumeError(message.get());
        break;
      }
      // A record returned with (or after) an all-brokers-down error was
      // fetched after it: a broker answered. Records ahead of the error in
      // the queue (prefetched before the outage) are not a sign of one.
      NoteBrokerAnswered();
      Record& r = out->AppendForOverwrite();
      internal::ToRecord(message.get(), read_headers_, r);
      r.epoch = epoch_.load(std::memory_order_relaxed);
    }
    ServeCommitResults(0);
    CheckBrokersBack(rk_.get());
    return status;
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
    // Not rd_kafka_commit(sync), which waits as long as the coordinator is
    // away: the result comes through our commit queue, waited for in bounds.
    const uint64_t id = next_commit_id_++;
    absl::Status result;
    bool done = false;
    pending_commits_[id] = [&result, &done](const absl::Status& s) {
      result = s;
      done = true;
    };
    if (absl::Status s = SendCommit(list.get(), id); !s.ok()) {
      pending_commits_.erase(id);
      return s;
    }
    // Other commits' results served on the way do not shorten the wait.
    for (SlicedWait wait(*this, commit_timeout_); !done && wait.Left() > absl::ZeroDuration();) {
      const absl::Duration slice = wait.Slice();
      wait.Served(slice, ServeCommitResults(TimeoutMs(slice)));
    }
    if (!done) {
      pending_commits_.erase(id);  // a late result is dropped
      absl::Status s = absl::DeadlineExceededError(
          absl::StrCat("kafka commit: no answer from the group coordinator within ",
                       absl::FormatDuration(commit_timeout_)));
      NoteError(s);
      return s;
    }
    return result;
  }

  absl::Status CommitAsync(const std::vector<TopicPartition>& offsets,
                           CommitCallback on_result) override {
    if (absl::Status s = RequireOpen(); !s.ok()) return s;
    if (offsets.empty()) {
      if (on_result) on_result(absl::OkStatus());
      return absl::OkStatus();
    }
    if (!has_group_) {
      return absl::FailedPreconditionError("kafka commit: needs ConsumerOptions::group_id");
    }
    RdPtr<rd_kafka_topic_partition_list_t> list = ToList(offsets);
    const uint64_t id = next_commit_id_++;
    pending_commits_[id] = std::move(on_result);
    if (absl::Status s = SendCommit(list.get(), id); !s.ok()) {
      pending_commits_.erase(id);
      return s;
    }
    return absl::OkStatus();
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
            TakeError(rd_kafka_seek_partitions(rk_.get(), list.get(),
                                               SeekPartitionsTimeout(timeout, rd_kafka_version())),
                      context);
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
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    // Each attempt is given a part of the timeout and counts as having used
    // all of it (and each pause as well), so the attempts together stay
    // within the timeout without a clock. An attempt that timed out gets
    // twice as long next time (a slow broker); one answered with a leader
    // not known is asked again after a pause.
    absl::Duration attempt = kFirstWatermarkAttempt;
    for (SlicedWait wait(*this, timeout);;) {
      const absl::Duration limit = std::min(attempt, std::max(wait.Left(), absl::ZeroDuration()));
      int calls = 1;
      err = QueryOffset(topic, partition, kOffsetBeginning, limit, &w.low);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        calls = 2;
        err = QueryOffset(topic, partition, kOffsetEnd, limit, &w.high);
      }
      wait.Served(calls * limit, 0);
      if (err == RD_KAFKA_RESP_ERR__TIMED_OUT) {
        attempt *= 2;
        if (wait.Left() <= absl::ZeroDuration()) break;
        continue;
      }
      if (!LeaderNotKnown(err)) break;
      const absl::Duration pause = std::min(wait.Left(), kLeaderRetryPause);
      if (pause <= absl::ZeroDuration()) break;
      absl::SleepFor(pause);
      wait.Served(pause, 0);
    }
    if (absl::Status s = KafkaError(
            err, absl::StrCat("kafka watermarks of ", internal::PartitionName(topic, partition)));
        !s.ok()) {
      return s;
    }
    return w;
  }

  absl::StatusOr<std::vector<PartitionLag>> Lag() override {
    if (absl::Status s = RequireOpen(); !s.ok()) return s;
    if (!lag_assignment_.has_value()) {
      rd_kafka_topic_partition_list_t* raw = nullptr;
      if (absl::Status s = KafkaError(rd_kafka_assignment(rk_.get(), &raw), "kafka lag"); !s.ok()) {
        return s;
      }
      // Only names and numbers are kept: librdkafka's list holds references
      // to its partitions, which would hold up the client's destruction.
      RdPtr<rd_kafka_topic_partition_list_t> assigned(raw);
      lag_assignment_ = FromList(assigned.get());
    }
    RdPtr<rd_kafka_topic_partition_list_t> list = ToList(*lag_assignment_);
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
    // before leaving the group, and serves commit results and errors on the
    // way.
    SlicedWait wait(*this, close_timeout_);
    absl::Status s = CloseWithin(wait);
    left_group_ = s.ok();
    // librdkafka's close waits for the commits under way, but their results
    // may reach the commit queue just after: what is left of close_timeout
    // is theirs. A commit still unanswered then is told so: its callback
    // must not wait for a Poll that can no longer come.
    while (!pending_commits_.empty() && wait.Left() > absl::ZeroDuration()) {
      const absl::Duration slice = wait.Slice();
      wait.Served(slice, ServeCommitResults(TimeoutMs(slice)));
    }
    ServeCommitResults(0);
    FailPendingCommits(absl::DeadlineExceededError(
        absl::StrCat("kafka commit: no answer from the group coordinator before the consumer "
                     "closed (close_timeout ",
                     absl::FormatDuration(close_timeout_), ")")));
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
    if (message->err == RD_KAFKA_RESP_ERR__FATAL) {
      // A consumer's fatal error comes only this way (never through the
      // error callback): Health and on_error must show it, once.
      char buf[512] = "";  // written only when a fatal error is set
      const rd_kafka_resp_err_t cause = rd_kafka_fatal_error(rk_.get(), buf, sizeof buf);
      absl::Status s = KafkaError(cause == RD_KAFKA_RESP_ERR_NO_ERROR ? message->err : cause,
                                  "fatal consumer error", buf);
      if (!HealthSnapshot().fatal) {
        ReportError(s, /*fatal=*/true);
      } else {
        NoteError(s);
      }
      return s;
    }
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
    lag_assignment_.reset();
    // NULL when librdkafka cannot say (e.g. its group is terminating, as in
    // a rebalance served while closing): then the configured strategy.
    const char* protocol = rd_kafka_rebalance_protocol(rk_.get());
    const bool cooperative =
        protocol != nullptr ? std::strcmp(protocol, "COOPERATIVE") == 0 : cooperative_configured_;
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
    // (Also before: a listener may ask for Lag while the assignment changes.)
    lag_assignment_.reset();
  }

  void CheckRebalanceCall(const absl::Status& s) {
    if (!s.ok()) ReportError(s, false);
  }

  static void CommitResult(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* offsets, void* opaque) {
    if (auto* self = static_cast<RdConsumer*>(ClientCore::FromOpaque(opaque))) {
      self->OnCommitResult(err, offsets);
    }
  }

  // The result of a Commit(async = true) or an auto-commit: failures go to
  // on_error and Health().
  void OnCommitResult(rd_kafka_resp_err_t err, const rd_kafka_topic_partition_list_t* offsets) {
    if (err == RD_KAFKA_RESP_ERR__NO_OFFSET) return;  // nothing to commit
    absl::Status s = KafkaError(err, "kafka async commit");
    if (s.ok()) s = ListError(offsets, "kafka async commit");
    if (!s.ok()) ReportError(s, false);
  }

  // Calls the callbacks of commits still waiting for their result with
  // `status`, in the order the commits were sent.
  void FailPendingCommits(const absl::Status& status) {
    while (!pending_commits_.empty()) {
      CommitCallback callback = std::move(pending_commits_.begin()->second);
      pending_commits_.erase(pending_commits_.begin());
      NoteError(status);
      if (callback) callback(status);
    }
  }

  // rd_kafka_consumer_close(), bounded: librdkafka's own can wait for ever
  // for a group coordinator that does not answer (librdkafka issue #3740).
  // Serves the rebalance (OnRevoked), commit results and errors on the way.
  // DeadlineExceeded when the close did not finish within `wait`.
  absl::Status CloseWithin(SlicedWait& wait) {
    close_queue_.reset(rd_kafka_queue_new(rk_.get()));
    if (absl::Status s = TakeError(rd_kafka_consumer_close_queue(rk_.get(), close_queue_.get()),
                                   "kafka consumer close");
        !s.ok()) {
      return s;
    }
    // Records fetched before the close arrive here ahead of the rebalance:
    // they are dropped, and do not use up the budget.
    while (!rd_kafka_consumer_closed(rk_.get()) && wait.Left() > absl::ZeroDuration()) {
      const absl::Duration slice = wait.Slice();
      RdPtr<rd_kafka_event_t> event(rd_kafka_queue_poll(close_queue_.get(), TimeoutMs(slice)));
      if (event != nullptr) ServeCloseEvent(event.get());
      // Results of commits (CommitAsync, also from OnRevoked) come to
      // their own queue, in the order sent.
      const int served = (event == nullptr ? 0 : 1) + ServeCommitResults(0);
      wait.Served(slice, served);
    }
    if (!rd_kafka_consumer_closed(rk_.get())) {
      // A revoke still waiting in the queue would hold up the destruction
      // for ever (librdkafka waits for the unassign it asked us for).
      ServeCloseQueueNow();
      absl::Status s = absl::DeadlineExceededError(absl::StrCat(
          "kafka consumer close: not finished within ", absl::FormatDuration(close_timeout_),
          " (group coordinator unreachable?); closed without leaving the group"));
      NoteError(s);
      return s;
    }
    // What the close left in its queue (an error, an async commit's result)
    // before the queue goes.
    ServeCloseQueueNow();
    close_queue_.reset();
    return absl::OkStatus();
  }

  // Serves one event of the close queue, which takes what Poll would have
  // served: a rebalance is answered (OnRevoked with a listener), the result
  // of a Commit(async = true) or an auto-commit and errors are reported as
  // Poll reports them, statistics are passed on; fetched records are
  // dropped.
  void ServeCloseEvent(rd_kafka_event_t* event) {
    switch (rd_kafka_event_type(event)) {
      case RD_KAFKA_EVENT_REBALANCE:
        OnRebalance(rd_kafka_event_error(event), rd_kafka_event_topic_partition_list(event));
        break;
      case RD_KAFKA_EVENT_OFFSET_COMMIT:
        OnCommitResult(rd_kafka_event_error(event), rd_kafka_event_topic_partition_list(event));
        break;
      default:
        ServeEvent(rk_.get(), event);  // errors, statistics
        break;
    }
  }

  // After a close that did not finish: serves the close queue until no
  // partition is assigned (the close's revoke answered), within `budget`.
  void ServeUntilUnassigned(absl::Duration budget) {
    if (close_queue_ == nullptr) return;
    for (SlicedWait wait(*this, budget); HoldsPartitions() && wait.Left() > absl::ZeroDuration();) {
      const absl::Duration slice = wait.Slice();
      RdPtr<rd_kafka_event_t> event(rd_kafka_queue_poll(close_queue_.get(), TimeoutMs(slice)));
      wait.Served(slice, event == nullptr ? 0 : 1);
      if (event != nullptr) ServeCloseEvent(event.get());
    }
  }

  // Some partitions are assigned (unknown: assumed so).
  bool HoldsPartitions() {
    rd_kafka_topic_partition_list_t* raw = nullptr;
    if (rd_kafka_assignment(rk_.get(), &raw) != RD_KAFKA_RESP_ERR_NO_ERROR) return true;
    RdPtr<rd_kafka_topic_partition_list_t> held(raw);
    return held->cnt > 0;
  }

  // Serves what waits in the close queue of an unfinished close, without
  // waiting: no more than was there when called.
  void ServeCloseQueueNow() {
    if (close_queue_ == nullptr) return;
    for (size_t n = rd_kafka_queue_length(close_queue_.get()); n > 0; --n) {
      RdPtr<rd_kafka_event_t> event(rd_kafka_queue_poll(close_queue_.get(), 0));
      if (event == nullptr) return;
      ServeCloseEvent(event.get());
    }
  }

  // Asks the leader of a partition for one of its watermarks: `which` is
  // kOffsetBeginning (low) or kOffsetEnd (high). Waits at most `timeout`:
  // rd_kafka_offsets_for_times() keeps to its timeout, where
  // rd_kafka_query_watermark_offsets() (librdkafka 2.0.2) waits for its
  // requests' own timeouts (minutes) while the leader is down, whatever
  // timeout it was given.
  rd_kafka_resp_err_t QueryOffset(const std::string& topic, int32_t partition, int64_t which,
                                  absl::Duration timeout, int64_t* offset) {
    RdPtr<rd_kafka_topic_partition_list_t> list(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), partition)->offset = which;
    rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(rk_.get(), list.get(), TimeoutMs(timeout));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return err;
    const rd_kafka_topic_partition_t& p = list->elems[0];
    if (p.err != RD_KAFKA_RESP_ERR_NO_ERROR) return p.err;
    // Not answered in time: some librdkafka versions say so only by leaving
    // the query as it was (an answer is an offset >= 0).
    if (p.offset < 0) return RD_KAFKA_RESP_ERR__TIMED_OUT;
    *offset = p.offset;
    return RD_KAFKA_RESP_ERR_NO_ERROR;
  }

  // Sends a commit whose result is posted to commit_queue_ as an event
  // carrying `id`.
  absl::Status SendCommit(const rd_kafka_topic_partition_list_t* list, uint64_t id) {
    return KafkaError(rd_kafka_commit_queue(rk_.get(), list, commit_queue_.get(), nullptr,
                                            reinterpret_cast<void*>(static_cast<uintptr_t>(id))),
                      "kafka commit");
  }

  // Serves commit results waiting in commit_queue_: waits up to `timeout_ms`
  // for the first, then takes what is there. Returns how many it served.
  int ServeCommitResults(int timeout_ms) {
    if (commit_queue_ == nullptr) return 0;
    for (int served = 0;; ++served) {
      RdPtr<rd_kafka_event_t> event(rd_kafka_queue_poll(commit_queue_.get(), timeout_ms));
      timeout_ms = 0;
      if (event == nullptr) return served;
      if (rd_kafka_event_type(event.get()) != RD_KAFKA_EVENT_OFFSET_COMMIT) continue;
      const auto id =
          static_cast<uint64_t>(reinterpret_cast<uintptr_t>(rd_kafka_event_opaque(event.get())));
      const rd_kafka_resp_err_t err = rd_kafka_event_error(event.get());
      absl::Status s;
      if (err != RD_KAFKA_RESP_ERR__NO_OFFSET) {  // nothing to commit: fine
        s = KafkaError(err, "kafka commit");
        if (s.ok()) s = ListError(rd_kafka_event_topic_partition_list(event.get()), "kafka commit");
      }
      if (!s.ok()) NoteError(s);
      auto it = pending_commits_.find(id);
      if (it == pending_commits_.end()) continue;  // a timed-out synchronous commit
      CommitCallback callback = std::move(it->second);
      pending_commits_.erase(it);
      if (callback) callback(s);
    }
  }

  int64_t PositionEpoch() const override { return epoch_.load(std::memory_order_relaxed); }

  const bool has_group_;
  bool read_headers_ = true;
  // ConsumerOptions::assignment_strategy is incremental (cooperative-sticky).
  bool cooperative_configured_ = false;
  std::atomic<int64_t> epoch_{0};
  absl::Duration commit_timeout_ = absl::Seconds(5);
  absl::Duration close_timeout_ = absl::Seconds(10);
  // Close (or the destructor) left the group: destruction may do the rest.
  bool left_group_ = false;
  RdPtr<rd_kafka_t> rk_;
  // Results of Commit and CommitAsync arrive here (events), served by
  // ServeCommitResults.
  RdPtr<rd_kafka_queue_t> commit_queue_;
  // Events of the consumer close (rebalance, fetched records); kept after a
  // close that did not finish, to be served again before the destruction.
  RdPtr<rd_kafka_queue_t> close_queue_;
  // Commits sent whose result has not been served, by id.
  std::map<uint64_t, CommitCallback> pending_commits_;
  uint64_t next_commit_id_ = 1;
  RebalanceListener* listener_ = nullptr;
  bool closing_ = false;  // inside Close(): the listener may still use us
  bool closed_ = false;
  // The list being assigned while OnAssigned runs (Seek edits it).
  rd_kafka_topic_partition_list_t* pending_assignment_ = nullptr;
  // The assignment as Lag last read it; reset wherever the assignment may
  // change (Assign, a rebalance). rd_kafka_assignment() is answered by
  // librdkafka's main thread, a round trip between threads: asked on every
  // batch (StreamProcessor's caught-up check) it was a tenth of the polling
  // thread's time.
  std::optional<std::vector<TopicPartition>> lag_assignment_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Consumer>> NewConsumer(const KafkaConfig& config,
                                                      const ConsumerOptions& options) {
  auto consumer = std::make_unique<RdConsumer>(config, !options.group_id.empty());
  if (absl::Status s = consumer->Init(config, options); !s.ok()) return s;
  return std::unique_ptr<Consumer>(std::move(consumer));
}

}  // namespace tidewatch::kafka
