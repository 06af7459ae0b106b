// tidewatch's narrow Kafka interface: Producer, Consumer, Admin.
//
// Everything in tidewatch that talks to Kafka does so through these pure
// interfaces; librdkafka is included only by libs/kafka's .cc files, so the
// service never sees it and tests can put a fault-injecting implementation
// behind the same interface. The factories at the bottom return the
// librdkafka implementations.
//
//   KafkaConfig config;
//   config.bootstrap = "localhost:9092";
//   config.client_id = "tidewatchd";
//   config.clock = &real_clock;  // stamps ClientHealth times
//
//   ASSIGN_OR_RETURN(std::unique_ptr<Producer> producer, NewProducer(config, {}));
//   RETURN_IF_ERROR(producer->Produce("tidewatch.escalations", line_id, bytes, {},
//                                     [](const absl::Status& s, const Record& r) {
//                                       // s.ok(): r.partition / r.offset are final
//                                     }));
//   producer->Poll(absl::ZeroDuration());   // serves delivery callbacks
//   RETURN_IF_ERROR(producer->Flush(absl::Seconds(10)));
//
//   ConsumerOptions options;
//   options.group_id = "tidewatch";
//   ASSIGN_OR_RETURN(std::unique_ptr<Consumer> consumer, NewConsumer(config, options));
//   RETURN_IF_ERROR(consumer->Subscribe({"telephony.call-events"}, &listener));
//   while (running) {
//     absl::StatusOr<std::optional<Record>> r = consumer->Poll(absl::Milliseconds(100));
//     if (!r.ok()) { log(r.status()); if (consumer->Health().fatal) break; continue; }
//     if (*r) Process(**r);
//   }
//   consumer->Close();  // leaves the group: partitions move at once
//
// Threading. Producer: Produce, InFlight and Health may be called from any
// thread; delivery callbacks and KafkaConfig::on_error/on_stats run on the
// thread calling Poll or Flush. Consumer: one thread at a time (the polling
// thread) for everything but Health(); rebalance listener callbacks run inside
// Poll/PollBatch/Close on that thread, and CommitAsync results inside
// Poll/PollBatch/Commit/Close. Admin: any thread.
//
// Errors are absl::Status values whose message says what failed and names
// the librdkafka error, e.g. "kafka delivery to t [3] (not written):
// _MSG_TIMED_OUT: Local: Message timed out"; KafkaErrorName() and
// GetTxnError() read the payloads attached to them.
//
// For tests and `--brokers=embedded`, embedded_broker.h runs an in-process
// Kafka cluster these clients connect to over real sockets.
#ifndef TIDEWATCH_LIBS_KAFKA_KAFKA_H_
#define TIDEWATCH_LIBS_KAFKA_KAFKA_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace tidewatch::kafka {

// Logical offsets, equal to librdkafka's RD_KAFKA_OFFSET_* values.
// The first offset of the partition's log.
inline constexpr int64_t kOffsetBeginning = -2;
// The end of the log: the next record to be written.
inline constexpr int64_t kOffsetEnd = -1;
// "Not set": in Assign()/OnAssigned, start at the committed offset (else
// ConsumerOptions::auto_offset_reset); from Committed(), nothing committed.
inline constexpr int64_t kOffsetInvalid = -1001;

// One record header. Keys may repeat; order is kept.
struct Header {
  std::string key;
  std::string value;

  friend bool operator==(const Header&, const Header&) = default;
};

// A record as consumed, or as reported by a delivery callback. (Consumers
// overwrite reused records field by field: a new field must be written
// there too, libs/kafka/rdkafka_util.cc ToRecord.)
struct Record {
  std::string topic;
  int32_t partition = -1;
  // Offset in the partition; -1 when not (yet) known, e.g. a failed delivery.
  int64_t offset = -1;
  // Empty when the record has no key.
  std::string key;
  std::string value;
  std::vector<Header> headers;
  // The record's timestamp (CreateTime set by the producer, or LogAppendTime);
  // InfinitePast when the record carries none.
  absl::Time timestamp = absl::InfinitePast();
  // Consumed records: the consumer's PositionEpoch() when the record was
  // returned. A record returned before a Seek or a rebalance carries a lower
  // epoch than one returned after it, so a caller that still holds records
  // polled before repositioning can tell them apart.
  int64_t epoch = 0;
};

// Consumed records, kept for reuse: what Consumer::PollBatch appends to.
// clear() forgets the records but keeps their storage (the records and their
// strings' capacity), so the next PollBatch into the same batch overwrites
// them instead of allocating: a polling thread at a million records a second
// otherwise spends much of its time in malloc and free, more so when another
// thread reads the records before they are freed.
//
//   kafka::RecordBatch batch;
//   while (running) {
//     batch.clear();
//     RETURN_IF_ERROR(consumer->PollBatch(2000, absl::Milliseconds(100), &batch));
//     for (const kafka::Record& r : batch) Process(r);
//   }
//
// Iterates and indexes like a vector of the records it holds.
class RecordBatch {
 public:
  using iterator = std::vector<Record>::iterator;
  using const_iterator = std::vector<Record>::const_iterator;

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  Record& operator[](size_t i) { return records_[i]; }
  const Record& operator[](size_t i) const { return records_[i]; }
  iterator begin() { return records_.begin(); }
  iterator end() { return records_.begin() + static_cast<std::ptrdiff_t>(size_); }
  const_iterator begin() const { return records_.begin(); }
  const_iterator end() const { return records_.begin() + static_cast<std::ptrdiff_t>(size_); }

  // Forgets the records; their storage stays for the next ones.
  void clear() { size_ = 0; }

  // Appends a record to be written in full by the caller (a Consumer
  // implementation): a reused one still holding an earlier record's fields,
  // or a new one.
  Record& AppendForOverwrite() {
    if (size_ == records_.size()) records_.emplace_back();
    return records_[size_++];
  }
  void push_back(Record record) { AppendForOverwrite() = std::move(record); }

  // Moves the records out, leaving the batch empty (and its storage gone).
  std::vector<Record> TakeRecords() {
    records_.resize(size_);
    size_ = 0;
    return std::exchange(records_, {});
  }

 private:
  std::vector<Record> records_;  // the first size_ are the batch's
  size_t size_ = 0;
};

// A partition of a topic, with an offset whose meaning depends on the call:
// a position to start from or seek to, the next offset to read (commits), or
// a result. kOffsetInvalid means "not set".
struct TopicPartition {
  std::string topic;
  int32_t partition = -1;
  int64_t offset = kOffsetInvalid;

  friend bool operator==(const TopicPartition&, const TopicPartition&) = default;
};

// Low and high watermarks of a partition: the first offset still in the log
// and the offset the next record will get.
struct Watermarks {
  int64_t low = -1;
  int64_t high = -1;
};

// Consumer lag of one assigned partition.
struct PartitionLag {
  std::string topic;
  int32_t partition = -1;
  // Next offset the application will read; kOffsetInvalid until the first
  // record (or a Seek) sets it.
  int64_t position = kOffsetInvalid;
  // High watermark from the latest fetch response for the partition; -1
  // until the first fetch returns.
  int64_t high_watermark = -1;
  // high_watermark - position, or -1 when either is unknown.
  int64_t lag = -1;
};

// One broker as the client sees it.
struct BrokerHealth {
  int32_t id = -1;
  std::string name;  // "host:port/id" as librdkafka names it
  // librdkafka's connection state: "UP", "INIT" (never needed, not a fault),
  // "DOWN", "TRY_CONNECT", "CONNECT", ...
  std::string state;
  bool up = false;
};

// A snapshot of a client's connectivity and errors, for health endpoints.
// Broker states come from librdkafka's statistics (every
// KafkaConfig::stats_interval); errors arrive as they happen. All are updated
// on the client's polling thread, so a client that is not polled goes stale.
struct ClientHealth {
  std::vector<BrokerHealth> brokers;
  int brokers_up = 0;
  // Brokers the client needs but cannot reach (state not UP and not INIT).
  int brokers_down = 0;
  // Set by librdkafka's "all brokers down" error, cleared once a broker is
  // up again (seen from the client's polls, with or without statistics).
  bool all_brokers_down = false;
  // A fatal error: the client is unusable and must be recreated (e.g. a
  // fenced transactional producer, an idempotence guarantee broken).
  bool fatal = false;
  std::string fatal_error;
  // The latest error of any kind (connection errors, failed deliveries,
  // consumer errors, failed rebalances or commits) and when it was seen
  // (InfinitePast without a KafkaConfig::clock).
  std::string last_error;
  absl::Time last_error_time = absl::InfinitePast();
  int64_t error_count = 0;
  // When the broker states were last refreshed.
  absl::Time stats_time = absl::InfinitePast();
};

// Whether and how a failed transactional call can be recovered.
enum class TxnError {
  kNone,       // not a transactional error (or OK)
  kRetriable,  // retry the same call
  kAbortable,  // call AbortTransaction(), then begin a new transaction
  kFatal,      // the producer is unusable: recreate it
};

// The TxnError classification attached to a status returned by a
// transactional call; kNone for any other status.
TxnError GetTxnError(const absl::Status& status);

// Whether a cluster id (Admin::ClusterId) is librdkafka's in-process broker,
// whose transactions are incomplete (offsets sent in a transaction are
// discarded): exactly-once processing must not be used against it.
inline bool IsInProcessCluster(std::string_view cluster_id) {
  return cluster_id.substr(0, 11) == "mockCluster";
}

// librdkafka's error name attached to a status from this library, e.g.
// "NOT_ENOUGH_REPLICAS" or "_MSG_TIMED_OUT"; empty when there is none.
std::string KafkaErrorName(const absl::Status& status);

// Connection settings shared by every client.
struct KafkaConfig {
  // bootstrap.servers: "host:port[,host:port...]".
  std::string bootstrap;
  // client.id, shown in broker logs and quotas.
  std::string client_id = "tidewatch";
  // Any further librdkafka properties, applied last (they override what the
  // options below set). An unknown key or bad value fails the factory with
  // InvalidArgument naming the key.
  std::map<std::string, std::string> extra;
  // How often broker states are refreshed for Health() (librdkafka's
  // statistics.interval.ms); ZeroDuration turns statistics off.
  absl::Duration stats_interval = absl::Seconds(5);
  // Longest wait between attempts to reconnect to a broker
  // (reconnect.backoff.max.ms; the wait doubles from 100 ms up to it). At
  // librdkafka's default (10 s) a client could take up to ~10 s after a
  // broker came back to reconnect, holding call-ups produced meanwhile;
  // 1 s, as Kafka's Java clients: a down broker sees one attempt a second
  // from each client.
  absl::Duration reconnect_backoff_max = absl::Seconds(1);
  // Stamps ClientHealth times; may be null. Must outlive the client.
  const Clock* clock = nullptr;
  // Called for every error the client reports outside a call's own status
  // (connection loss, failed async commits, fatal errors), on the polling
  // thread (Close included; never from a consumer's destructor). `fatal`
  // says the client must be recreated.
  std::function<void(const absl::Status& error, bool fatal)> on_error;
  // Called with librdkafka's statistics JSON every stats_interval, on the
  // polling thread (for metrics).
  std::function<void(std::string_view json)> on_stats;
  // librdkafka's log lines (syslog levels 0-7). Runs on librdkafka's own
  // threads: must be thread-safe. Null: librdkafka prints to stderr.
  std::function<void(int level, std::string_view facility, std::string_view message)> on_log;
};

// Opaque consumer group metadata (group, generation, member) handed from a
// consumer to a transactional producer's SendOffsetsToTransaction. Valid only
// within the process that produced it.
struct ConsumerGroupMetadata {
  std::string serialized;
};

// Called with the outcome of one Produce: OK with the record's final
// partition and offset, or the error. Runs on the thread calling Poll/Flush.
using DeliveryCallback = std::function<void(const absl::Status& status, const Record& record)>;

// Called with the outcome of one Consumer::CommitAsync: OK once the broker
// has stored the offsets, else the error. Runs on the consumer's polling
// thread.
using CommitCallback = std::function<void(const absl::Status& status)>;

// Writes records. Keyed records are partitioned with librdkafka's
// murmur2_random partitioner, which is the Java client's default: the same
// key lands on the same partition as from a Java producer
// ((murmur2(key) & 0x7fffffff) % partitions), so topics keyed by line id stay
// co-partitioned whoever writes them. Records without a key go to a random
// partition.
class Producer {
 public:
  virtual ~Producer() = default;

  // Enqueues a record for `topic`; returns at once. An empty key is sent as
  // no key (null); the value is never null. Errors here mean the record was
  // not enqueued (ResourceExhausted: the local queue is full, Poll and retry;
  // InvalidArgument: e.g. larger than message.max.bytes; NotFound: a topic
  // already known not to exist). Otherwise exactly one delivery report follows,
  // passed to `on_delivery` (if set) from Poll/Flush. Delivery errors map
  // librdkafka's codes: DeadlineExceeded for _MSG_TIMED_OUT (not delivered
  // within ProducerOptions::delivery_timeout), Unavailable for broker/network
  // faults that outlived the retries, and so on, with the error name in the
  // message.
  absl::Status Produce(const std::string& topic, std::string key, std::string value,
                       std::vector<Header> headers = {}, DeliveryCallback on_delivery = nullptr) {
    return DoProduce(topic, std::move(key), std::move(value), std::move(headers),
                     std::move(on_delivery));
  }

  // Serves delivery reports and other callbacks, waiting up to `timeout` for
  // the first. Returns the number of events served. Call regularly.
  virtual int Poll(absl::Duration timeout) = 0;

  // Waits until every enqueued record has its delivery report (serving the
  // callbacks). DeadlineExceeded if records remain after `timeout`.
  virtual absl::Status Flush(absl::Duration timeout) = 0;

  // Records enqueued whose delivery report has not been served yet.
  virtual int64_t InFlight() const = 0;

  // Looks `topics` up ahead of the first record produced to each, waiting
  // up to `timeout` for the answers. Without it the client learns a topic's
  // partitions from its first record, which then waits for the client's
  // next topic scan (up to a second), and so does a flush or a transaction
  // commit behind it. An error (e.g. DeadlineExceeded while the cluster does
  // not answer) only means the first records may wait as before.
  virtual absl::Status PrepareTopics(const std::vector<std::string>& topics,
                                     absl::Duration timeout) = 0;

  // Transactions (ProducerOptions::transactional_id must be set, else
  // FailedPrecondition). Errors carry a TxnError (see GetTxnError): retry,
  // abort, or recreate the producer. Call InitTransactions once, then per
  // transaction: BeginTransaction, Produce..., SendOffsetsToTransaction,
  // CommitTransaction (or AbortTransaction).
  virtual absl::Status InitTransactions(absl::Duration timeout) = 0;
  virtual absl::Status BeginTransaction() = 0;
  // Commits `offsets` (next offset to read, per partition) for the consumer
  // group described by `group` as part of the current transaction.
  virtual absl::Status SendOffsetsToTransaction(const std::vector<TopicPartition>& offsets,
                                                const ConsumerGroupMetadata& group,
                                                absl::Duration timeout) = 0;
  virtual absl::Status CommitTransaction(absl::Duration timeout) = 0;
  virtual absl::Status AbortTransaction(absl::Duration timeout) = 0;

  // Connectivity and errors; any thread.
  virtual ClientHealth Health() const = 0;

 protected:
  // Implements Produce (default arguments are not allowed on virtual
  // functions).
  virtual absl::Status DoProduce(const std::string& topic, std::string key, std::string value,
                                 std::vector<Header> headers, DeliveryCallback on_delivery) = 0;
};

// Told about partition assignment changes of a subscribed consumer, on the
// polling thread, from within Consumer::Poll/PollBatch/Close.
class RebalanceListener {
 public:
  virtual ~RebalanceListener() = default;

  // `partitions` are being given to this consumer (all of its new assignment
  // under the default eager protocol; the added ones under cooperative). It is
  // called before fetching starts: Consumer::Seek() on these partitions from
  // inside OnAssigned sets where fetching starts (otherwise the committed
  // offset, else auto_offset_reset). Offsets in `partitions` are not set.
  virtual void OnAssigned(const std::vector<TopicPartition>& partitions) = 0;

  // `partitions` are being taken away in an orderly rebalance: the consumer
  // still owns them during the call, so this is the place to commit their
  // offsets (Consumer::Commit with async = false).
  virtual void OnRevoked(const std::vector<TopicPartition>& partitions) = 0;

  // `partitions` were lost: another member may already own them (the session
  // timed out, or the rebalance failed). Commits would fail; drop their state.
  // By default treated as a revocation.
  virtual void OnLost(const std::vector<TopicPartition>& partitions) { OnRevoked(partitions); }
};

// Reads records: either as a member of a consumer group (Subscribe), or from
// partitions it picks itself (Assign), e.g. to read a compacted topic from the
// beginning, or to verify a topic's contents. Not thread-safe apart from
// Health(): use it from one polling thread.
class Consumer {
 public:
  virtual ~Consumer() = default;

  // Joins ConsumerOptions::group_id subscribed to `topics`; partitions arrive
  // through `listener` (may be null) during Poll. The implementation does the
  // assign/unassign itself. `listener` must stay valid until Close() or
  // destruction (destruction leaves the group without calling it).
  // FailedPrecondition without a group_id.
  virtual absl::Status Subscribe(const std::vector<std::string>& topics,
                                 RebalanceListener* listener) = 0;

  // Manual mode: reads exactly `partitions`, each from its offset
  // (kOffsetBeginning, kOffsetEnd, an absolute offset, or kOffsetInvalid for
  // the committed offset). Replaces any previous assignment; empty stops
  // reading. Needs no group; do not mix with Subscribe.
  virtual absl::Status Assign(const std::vector<TopicPartition>& partitions) = 0;

  // Waits up to `timeout` for the next record: nullopt if none came. An error
  // is a consumer error reported by librdkafka (most are transient and the
  // consumer recovers by itself: keep polling unless Health().fatal).
  virtual absl::StatusOr<std::optional<Record>> Poll(absl::Duration timeout) = 0;

  // Appends up to `max_records` records to `out`, waiting up to `timeout` for
  // the first and then taking only what is already fetched. On error, the
  // records before it are kept in `out`.
  virtual absl::Status PollBatch(size_t max_records, absl::Duration timeout, RecordBatch* out) = 0;

  // Commits `offsets` (the next offset to read, i.e. last processed + 1) for
  // the group. async = false waits for the broker's verdict, at most
  // ConsumerOptions::commit_timeout (DeadlineExceeded after that: the commit
  // may still be applied later), serving other commits' results meanwhile;
  // async = true returns at once and reports failures through
  // KafkaConfig::on_error / Health(). An empty list is a no-op.
  virtual absl::Status Commit(const std::vector<TopicPartition>& offsets, bool async) = 0;

  // Sends a commit of `offsets` and returns at once; `on_result` (may be
  // null) is then called exactly once with the broker's verdict (OK, or the
  // first error, e.g. Unavailable while the coordinator is away), on the
  // polling thread from within a later Poll, PollBatch, synchronous Commit
  // or Close. Results come in the order the commits were sent; a commit
  // still unanswered when Close returns gets DeadlineExceeded from it. A
  // consumer destroyed first drops the callbacks still waiting (never
  // called). An error here means nothing was sent and `on_result` is not
  // called; an empty list is a no-op (`on_result` is called with OK at
  // once).
  virtual absl::Status CommitAsync(const std::vector<TopicPartition>& offsets,
                                   CommitCallback on_result) = 0;

  // The group's committed offsets for `partitions` (kOffsetInvalid: none).
  virtual absl::StatusOr<std::vector<TopicPartition>> Committed(
      const std::vector<TopicPartition>& partitions, absl::Duration timeout) = 0;

  // Moves an assigned partition's fetch position to `position.offset` (an
  // absolute offset, kOffsetBeginning or kOffsetEnd); records fetched before
  // are discarded. `timeout` bounds the wait for librdkafka's own thread to
  // take the seek (DeadlineExceeded after it: the seek may still happen).
  // Inside RebalanceListener::OnAssigned it sets the start offset instead
  // (`timeout` unused).
  virtual absl::Status Seek(const TopicPartition& position, absl::Duration timeout) = 0;

  // A counter that moves on every rebalance (before the listener is told),
  // Seek and Assign; records carry its value when returned (Record::epoch).
  // Any thread.
  virtual int64_t PositionEpoch() const = 0;

  // For each partition, the earliest offset whose record timestamp is >=
  // `time`, or kOffsetEnd when there is none. Use with Seek to rewind.
  virtual absl::StatusOr<std::vector<TopicPartition>> OffsetsForTimes(
      const std::vector<TopicPartition>& partitions, absl::Time time, absl::Duration timeout) = 0;

  // The partitions currently assigned (offsets not set).
  virtual absl::StatusOr<std::vector<TopicPartition>> Assignment() = 0;

  // Stops / restarts fetching from assigned partitions (positions are kept).
  virtual absl::Status Pause(const std::vector<TopicPartition>& partitions) = 0;
  virtual absl::Status Resume(const std::vector<TopicPartition>& partitions) = 0;

  // Asks the partition leader for the current watermarks. A leader not (yet)
  // known, e.g. of a topic just created or a partition whose leader moves,
  // is asked again until `timeout` has passed; then its error is returned.
  // Bounded by `timeout` also while the leader's broker is down (librdkafka
  // 2.0.2's own watermark query is not: it waits minutes).
  virtual absl::StatusOr<Watermarks> QueryWatermarks(const std::string& topic, int32_t partition,
                                                     absl::Duration timeout) = 0;

  // Lag per assigned partition from the consumer's position and the high
  // watermark of its latest fetch response. Does not block or touch the
  // network: fine for a metrics scrape (on the polling thread).
  virtual absl::StatusOr<std::vector<PartitionLag>> Lag() = 0;

  // The group metadata for Producer::SendOffsetsToTransaction.
  virtual absl::StatusOr<ConsumerGroupMetadata> GroupMetadata() = 0;

  // Leaves the group cleanly (the listener sees OnRevoked, partitions move to
  // the other members at once) and stops fetching. Afterwards every call but
  // Health fails with FailedPrecondition. Bounded by
  // ConsumerOptions::close_timeout: DeadlineExceeded if the group could not
  // be left in time (the consumer is closed all the same). Idempotent; the
  // destructor closes too, without calling the listener.
  virtual absl::Status Close() = 0;

  // Connectivity and errors; any thread.
  virtual ClientHealth Health() const = 0;
};

// A topic to create.
struct TopicSpec {
  std::string name;
  int partitions = 1;
  // -1: the broker's default.replication.factor.
  int replication_factor = -1;
  // Topic configuration, e.g. {"cleanup.policy", "compact"}.
  std::map<std::string, std::string> config;
};

// Cluster administration.
class Admin {
 public:
  virtual ~Admin() = default;

  // Creates the topics that do not exist. Idempotent: an existing topic is OK
  // if it has the requested partition count, FailedPrecondition otherwise
  // (tidewatch relies on co-partitioned topics). Its configuration is not
  // compared. Unimplemented against the in-process broker (EmbeddedBroker),
  // which has no CreateTopics API: use EmbeddedBroker::CreateTopic there.
  virtual absl::Status CreateTopics(const std::vector<TopicSpec>& topics,
                                    absl::Duration timeout) = 0;

  // The number of partitions of `topic`; NotFound if it does not exist.
  virtual absl::StatusOr<int> PartitionCount(const std::string& topic, absl::Duration timeout) = 0;

  // The cluster's id. The in-process broker (embedded_broker.h, and
  // kafka-dev-broker) answers "mockCluster..." (see IsInProcessCluster).
  virtual absl::StatusOr<std::string> ClusterId(absl::Duration timeout) = 0;

  // Connectivity and errors; any thread.
  virtual ClientHealth Health() const = 0;
};

// Producer settings.
struct ProducerOptions {
  // enable.idempotence: no duplicates or reordering from retries; acks=all.
  bool idempotent = true;
  // transactional.id: enables the transactional methods (implies idempotent).
  // Must be stable per producing task (e.g. derived from the instance), so a
  // restarted instance fences its predecessor.
  std::optional<std::string> transactional_id;
  // linger.ms: how long records wait to be batched.
  absl::Duration linger = absl::Milliseconds(5);
  // message.timeout.ms: a record not delivered within this (retries
  // included) is reported as failed (DeadlineExceeded, _MSG_TIMED_OUT).
  // Capped at transaction_timeout for a transactional producer.
  absl::Duration delivery_timeout = absl::Minutes(2);
  // transaction.timeout.ms: the broker aborts a transaction left open longer.
  absl::Duration transaction_timeout = absl::Seconds(60);
};

// Consumer settings.
struct ConsumerOptions {
  // group.id. Required for Subscribe and Commit; may be empty for a consumer
  // used only with Assign (it then never joins a group).
  std::string group_id;
  // isolation.level=read_committed: only records of committed transactions.
  bool read_committed = true;
  // auto.offset.reset: where to start without a committed offset
  // ("earliest", "latest", or "error").
  std::string auto_offset_reset = "earliest";
  // session.timeout.ms: a member silent this long is removed from the group.
  absl::Duration session_timeout = absl::Seconds(6);
  // heartbeat.interval.ms; keep well under session_timeout.
  absl::Duration heartbeat_interval = absl::Seconds(2);
  // max.poll.interval.ms: a member that does not Poll this long leaves.
  absl::Duration max_poll_interval = absl::Minutes(5);
  // Longest wait of a synchronous Consumer::Commit for the broker's verdict
  // (a commit can otherwise wait as long as the group coordinator is away).
  absl::Duration commit_timeout = absl::Seconds(5);
  // Longest wait of Close (and of the destructor) for leaving the group;
  // after it the consumer is closed without having left (its partitions
  // move when its session times out). librdkafka's own close can otherwise
  // wait for ever for a group coordinator that does not answer.
  absl::Duration close_timeout = absl::Seconds(10);
  // enable.auto.commit: tidewatch commits explicitly (or transactionally).
  bool enable_auto_commit = false;
  // partition.assignment.strategy. "range" (eager) gives a member the same
  // partition numbers of every subscribed topic with equal partition counts,
  // which keeps co-partitioned topics (call events and commands, keyed by
  // line) together. "cooperative-sticky" switches to incremental rebalancing.
  std::string assignment_strategy = "range";
  // fetch.wait.max.ms: how long the broker may hold a fetch waiting for data.
  absl::Duration fetch_wait_max = absl::Milliseconds(100);
  // queued.min.messages: records fetched ahead of the application (memory
  // stays bounded by prefetch_kbytes below). librdkafka 2.0.2 compares it
  // with the whole consumer queue, every assigned partition together, and
  // once it is reached does not fetch again until its broker thread next
  // wakes, up to a second later however soon the queue drains: at
  // librdkafka's default (100,000) a consumer catching up a backlog on a
  // real cluster sat idle most of every second (docs/performance.md: 0.2 M
  // records/s instead of 2 M).
  int64_t prefetch_records = 1000000;
  // queued.max.messages.kbytes: the same bound in KiB (records and
  // librdkafka's ~100 bytes of overhead each), with the same stall once
  // reached. At librdkafka's default (64 MiB, ~650,000 call events) a
  // consumer catching up a backlog stopped fetching for 0.5-0.9 s after
  // every 64 MiB; 256 MiB makes that four times rarer, at up to 256 MiB of
  // memory while far behind.
  int64_t prefetch_kbytes = 256 * 1024;
  // Whether consumed records carry their headers. Reading them costs on
  // every record; a consumer that never looks at them turns this off.
  bool read_headers = true;
};

// The librdkafka implementations. Configuration errors (an unknown property
// or bad value, from the options or KafkaConfig::extra) are InvalidArgument
// naming the key. Clients connect lazily: a wrong bootstrap shows up in
// Health() and on_error, not here. Clients never ask the broker to create a
// topic (allow.auto.create.topics=false; override via extra), except against
// the in-process broker, whose Metadata API is too old to carry that flag:
// there, naming an unknown topic creates it with 4 partitions.
absl::StatusOr<std::unique_ptr<Producer>> NewProducer(const KafkaConfig& config,
                                                      const ProducerOptions& options);
absl::StatusOr<std::unique_ptr<Consumer>> NewConsumer(const KafkaConfig& config,
                                                      const ConsumerOptions& options);
absl::StatusOr<std::unique_ptr<Admin>> NewAdmin(const KafkaConfig& config);

}  // namespace tidewatch::kafka

#endif  // TIDEWATCH_LIBS_KAFKA_KAFKA_H_
