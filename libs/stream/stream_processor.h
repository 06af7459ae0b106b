// The streaming service's core: call events from Kafka through per-partition
// engines to escalations, with state kept in Kafka for recovery.
//
// One StreamProcessor runs in each tidewatchd instance. It joins the
// consumer group on the events topic (keyed by line_id) and the
// co-partitioned commands topic; each events partition it is given gets its
// own Engine, which tracks exactly the policy lines whose key hashes to that
// partition. Undecodable records go to the dead-letter topic with the
// original bytes and the error in headers. Tide changes, call-ups and feed
// status go to the escalations topic (key = line_id, numbered per line);
// every commit interval the tide, call-up and totals state of each line goes
// to the compacted state topic with the input position it reflects, and a
// commit point is taken: those positions, and the produce sequence number of
// the last record written. Steps go on processing; each serves the
// producer's delivery reports, and once every record up to the point has
// been delivered the point's offsets are committed asynchronously (counted in
// Status().commits when the broker confirms): an offset is committed only
// once the state it reflects is durable. One point is in flight at a time; a
// point whose records failed is dropped (they are produced again and the
// next interval's point covers them), as is one whose commit failed or got
// no answer within flush_timeout. Revocation and Shutdown hand over
// synchronously but bounded: flush within flush_timeout, commit within the
// consumer's ConsumerOptions::commit_timeout, failure reported, never a hang.
//
// Exactly-once (StreamOptions::exactly_once, for a real Kafka cluster): the
// producer is transactional and everything one commit interval produces
// (escalations, dead letters, state) is written in one Kafka transaction that
// also carries the consumed offsets (SendOffsetsToTransaction with the
// consumer's group metadata, so a member of an older group generation is
// fenced). librdkafka's error classes are followed: a retriable error retries
// the same call; an abortable one aborts the transaction and rewinds every
// owned partition to its last committed state (the tasks are dropped and
// recovered again from the state topic, read committed, and the committed
// offsets); a fatal one (a fenced producer, or partitions lost because the
// session timed out) stops the processor: Step returns Aborted and
// Status().fenced is set, nothing more is published, and the process should
// exit. Every reader of the output topics must read with
// isolation.level=read_committed.
//
// Recovery. On assignment of a partition the processor reads the state
// topic's partition to its end (last record per line wins: the in-process
// broker does not compact), freezes those lines, seeks the events partition
// back to the oldest event still inside the longest window + lateness (the
// state says which offset that is), and replays: windows and open calls are
// rebuilt while frozen lines emit nothing; as the replay passes each line's
// saved position its tide is restored and it goes live. The processor is
// ready (Status().ready) once every owned partition has caught up.
//
// Threading: Step() and Shutdown() on one thread; Status() and Lines() from
// any thread (HTTP handlers). With StreamOptions::engine_thread the
// partition engines run on a worker thread the processor owns:
// each Step polls a batch and queues it for the worker, which applies
// batches in order while the next ones are polled (a few at most are
// queued: Step waits for a free one). Decoding goes to whichever side has
// time: Step decodes a batch when the worker is behind, else the worker
// decodes it as it applies. Step's bookkeeping (ticks, commits of what
// has been applied) runs every few milliseconds rather than every Step, in
// a Step that finds the worker between batches (a while later, the next
// Step waits for the worker's batch), and a Step that polls nothing first
// waits until the worker has applied everything; so a Step returns before
// its batch is applied (Status().events_applied follows, and an idle Step
// catches up). Records polled before a rebalance or a rewind that moved a
// partition (kafka::Record::epoch) are never applied to the partition's
// new engine.
//
//   StreamProcessor processor(policy, options, *consumer, *producer, new_reader, clock);
//   RETURN_IF_ERROR(processor.Start());
//   while (!stop) processor.Step(absl::Milliseconds(100));
//   processor.Shutdown(absl::Seconds(8));
#ifndef TIDEWATCH_LIBS_STREAM_STREAM_PROCESSOR_H_
#define TIDEWATCH_LIBS_STREAM_STREAM_PROCESSOR_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "engine/engine.h"
#include "events/event_view.h"
#include "kafka/kafka.h"
#include "line/capacity_estimate.h"
#include "policy/compiled_policy.h"
#include "tidewatch/v1/events.pb.h"
#include "tidewatch/v1/tide.pb.h"

namespace tidewatch::stream {

// Topics and timing.
struct StreamOptions {
  std::string events_topic = "telephony.call-events";
  std::string commands_topic = "tidewatch.commands";
  std::string escalations_topic = "tidewatch.escalations";
  std::string state_topic = "tidewatch.state";
  std::string dead_letter_topic = "tidewatch.dead-letter";
  // Partitions of the events topic (and of commands and state, which must
  // match: co-partitioned by line_id).
  int32_t partitions = 12;
  // How often state is written, the producer flushed and offsets committed
  // while records keep coming.
  absl::Duration commit_interval = absl::Seconds(1);
  // A caught-up Step (one that polls nothing, or whose batch reads every
  // events partition to the high watermark the consumer last heard of)
  // commits what has been consumed since the last commit without waiting
  // for commit_interval, once at least this long has passed since the last
  // commit a caught-up Step made (the next Step polls no longer than until
  // then): at low traffic a tide change reaches read_committed readers
  // within about this long rather than the interval, and a backlog is
  // committed as soon as it is processed (the interval's commits while it
  // was read do not hold that last one back). Zero, or not shorter than
  // commit_interval: commits at the interval only.
  absl::Duration idle_commit_gap = absl::Milliseconds(100);
  // Live: wall-clock ticks move engine time (windows slide, stale feeds are
  // noticed). Off: engine time is event time only (replaying recorded or
  // simulated days at speed).
  bool wall_clock_ticks = true;
  // Records taken per Step.
  size_t max_batch = 2000;
  // Escalations and dead letters are held back and handed to the producer
  // together (at the end of a Step that caught up, before every commit):
  // at this many held, or this many bytes of their keys and values (a dead
  // letter carries its input record, which may be large), they go at once.
  // A backlog that is never caught up, with its commits held back, still
  // sends them in requests of this size. 0 or 1: each goes as raised.
  size_t max_held_records = 4096;
  size_t max_held_bytes = 4 << 20;
  // Run the partition engines on a worker thread, overlapping them with
  // polling and decoding (see the file comment). Off (the library's
  // default, deterministic Step by Step): all on Step's thread.
  // tidewatchd turns it on (--engine_thread): faster on the 2-core
  // reference machine (docs/performance.md).
  bool engine_thread = false;
  // Limit on a hand-over's flush (revocation, Shutdown), and on waiting for
  // an asynchronous offset commit's result before the next point tries again.
  absl::Duration flush_timeout = absl::Seconds(5);
  // Limit on reading a state partition during recovery.
  absl::Duration state_read_timeout = absl::Seconds(30);
  // Transactional outputs (see the file comment). The producer must have
  // ProducerOptions::transactional_id set, stable per instance. Not for the
  // in-process broker (its transactions discard the offsets they carry).
  bool exactly_once = false;
  // Limit on each transactional call (send offsets, commit, abort), retries of
  // retriable errors included.
  absl::Duration txn_call_timeout = absl::Seconds(10);
  // Called for every escalation raised, as it is held for the producer
  // (see max_held_records; under the processor's lock, on the engine
  // thread when engine_thread is on: keep it short and thread-safe, e.g. a
  // log line).
  std::function<void(const tidewatch::v1::Escalation&)> on_escalation;
};

// Wall time spent processing each non-empty polled batch (decoding, the
// engines, ticks; not the wait for records nor the commit), as histogram
// buckets for metrics (libs/telemetry).
struct BatchLatency {
  // Upper bounds of the buckets, seconds; one more bucket (+Inf) follows.
  static constexpr std::array<double, 12> kBounds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                     0.01,   0.025,   0.05,   0.1,   0.25,   1.0};
  std::array<int64_t, kBounds.size() + 1> counts{};  // per bucket, not cumulative
  int64_t batches = 0;
  double sum_seconds = 0;

  void Record(absl::Duration d) {
    const double s = absl::ToDoubleSeconds(d);
    size_t i = 0;
    while (i < kBounds.size() && s > kBounds[i]) ++i;
    ++counts[i];
    ++batches;
    sum_seconds += s;
  }
};

// Counters and health, for /healthz, /readyz and metrics.
struct StreamStatus {
  bool started = false;
  bool ready = false;  // assigned and every owned partition caught up
  std::vector<int32_t> partitions;
  std::vector<int32_t> recovering;
  int64_t records_consumed = 0;
  int64_t events_applied = 0;
  // Records polled before their partition was repositioned (a rebalance
  // restarted its task, or a rewind), dropped: they are read again, in
  // order, from the new position.
  int64_t stale_records_dropped = 0;
  int64_t commands_consumed = 0;
  // Commands applied to an engine (acknowledgements, declines); refused
  // ones are counted in `rejected` as command_<reason>.
  int64_t commands_applied = 0;
  // The policy version in force (0: the one tidewatchd started with).
  int64_t policy_version = 0;
  // Decode failures by reason, plus the engines' set-aside counts.
  std::map<std::string, int64_t> rejected;
  int64_t dead_lettered = 0;
  // Escalations the engines raised, counted as raised: each goes to the
  // producer at the next release of held records (StreamOptions::
  // max_held_records). One whose partition moves away before then is
  // dropped here and produced by the partition's next owner.
  int64_t escalations_produced = 0;
  int64_t state_records_produced = 0;
  int64_t delivery_errors = 0;
  int64_t commits = 0;
  int64_t commit_failures = 0;
  int64_t recoveries = 0;
  // Exactly-once: transactions aborted (abortable errors; each rewinds the
  // owned partitions), and whether the instance has been fenced (a fatal
  // transactional error or lost partitions; in either mode, a partition
  // whose saved state cannot be read): it publishes nothing more.
  int64_t txn_aborts = 0;
  bool fenced = false;
  std::string fenced_reason;
  absl::Duration last_recovery = absl::ZeroDuration();
  std::string last_error;
  absl::Time last_error_time = absl::InfinitePast();
  // Per assigned partition (events and commands), refreshed every Step.
  std::vector<kafka::PartitionLag> lag;
  BatchLatency batch_latency;
  kafka::ClientHealth consumer_health;
  kafka::ClientHealth producer_health;
};

// What the health endpoints need (/healthz, /readyz): a copy kept apart
// from StreamStatus so that it can be read while the processor is busy
// (Status() waits for the processor, which a partition's recovery holds
// for as long as reading its saved state takes: a probe must not).
struct StreamHealth {
  bool started = false;
  bool ready = false;
  bool fenced = false;
  size_t partitions = 0;
  size_t recovering = 0;
  // Whether the group has given this member its partitions yet.
  bool assigned = false;
  std::string last_error;
  kafka::ClientHealth consumer_health;
  kafka::ClientHealth producer_health;
};

// One owned line, for status endpoints and tests.
struct LineStatus {
  std::string line_id;
  int32_t partition = -1;
  engine::TideStatus tide;
  tidewatch::v1::Kpis totals;
  std::vector<std::pair<absl::Duration, tidewatch::v1::Kpis>> windows;
  int64_t calls_waiting = 0;
  std::optional<absl::Duration> longest_waiting;
  line::AgentCounts agents;
  line::CapacityEstimate capacity;
  std::vector<tidewatch::v1::CallUp> open_callups;
  absl::Time last_event = absl::InfinitePast();
  // The partition engine's clock (call-up ages, opening hours).
  absl::Time engine_time = absl::InfinitePast();
  // Its partition is being replayed after an assignment: tide, feed, open
  // call-ups and totals are the saved ones (the line's once restored); the
  // windows and live figures are still being rebuilt.
  bool recovering = false;
};

// Makes a consumer that reads partitions by Assign (no group), for the
// state topic during recovery.
using ReaderFactory = std::function<absl::StatusOr<std::unique_ptr<kafka::Consumer>>()>;

class StreamProcessor final : public kafka::RebalanceListener {
 public:
  // `consumer` must be a group consumer (ConsumerOptions::group_id set);
  // everything passed must outlive the processor.
  StreamProcessor(std::shared_ptr<const policy::CompiledPolicy> policy, StreamOptions options,
                  kafka::Consumer& consumer, kafka::Producer& producer, ReaderFactory new_reader,
                  const Clock& clock);
  ~StreamProcessor() override;

  // Subscribes to the events and commands topics (exactly-once: first
  // initialises the transactional producer, which fences an older instance
  // with the same transactional.id and aborts its open transaction).
  absl::Status Start();
  // One round: poll up to max_batch records (waiting up to `poll_timeout`),
  // process them, tick the engines, and commit when the interval is due.
  // Aborted once the processor is fenced (Status().fenced): stop calling it.
  absl::Status Step(absl::Duration poll_timeout);
  // Writes state, flushes, commits and leaves the group. Bounded: with the
  // broker away it returns an error after about flush_timeout (nothing was
  // committed that is not durable).
  absl::Status Shutdown(absl::Duration timeout);

  StreamStatus Status() const;
  // Never waits for the processor (see StreamHealth); as of the last change.
  StreamHealth Health() const;
  std::vector<LineStatus> Lines() const;
  // Status().events_applied without taking the processor's lock, which the
  // engine thread holds while it applies a batch: for a loop that checks
  // progress after every Step (Status() there would wait for the batch and
  // undo the overlap of polling with applying).
  int64_t events_applied() const { return events_applied_.load(std::memory_order_relaxed); }

  // Puts another policy version in force in every partition engine from the
  // next Step (thread-safe). The caller has checked it with
  // engine::CheckPolicyChange against policy(); an engine that refuses it
  // keeps its policy and the error is reported in Status().last_error.
  void SetPolicy(std::shared_ptr<const policy::CompiledPolicy> policy, int64_t version);
  // The policy in force (or pending from SetPolicy) and its version.
  std::shared_ptr<const policy::CompiledPolicy> policy() const;
  int64_t policy_version() const;

  // kafka::RebalanceListener (called from within Step's poll).
  void OnAssigned(const std::vector<kafka::TopicPartition>& partitions) override;
  void OnRevoked(const std::vector<kafka::TopicPartition>& partitions) override;
  void OnLost(const std::vector<kafka::TopicPartition>& partitions) override;

 private:
  struct Task;
  class TaskOutput;
  struct Batch;
  enum class RecordSource : uint8_t;
  struct DecodedEvent;

  // What a partition's recovery reads from the brokers before its task
  // starts: its lines' saved states and its committed offset.
  struct RecoveryRead {
    int32_t partition = -1;
    absl::Time started;  // when the read began (the recovery's start)
    absl::StatusOr<std::map<std::string, tidewatch::v1::LineTideState>> states;
    absl::StatusOr<std::vector<kafka::TopicPartition>> committed;
    // The committed offset, or -1 (none, or not known).
    int64_t CommittedOffset() const {
      return committed.ok() && !committed->empty() ? (*committed)[0].offset : -1;
    }
  };
  // Reads them for `partitions` (of the events topic): each one's saved
  // states, stopping at the first that cannot be read (its task fences the
  // processor), then their committed offsets in one question. Needs no lock
  // and takes as long as the brokers do (up to state_read_timeout a
  // partition): OnAssigned calls it without mu_, so that Status(), Lines()
  // (/metrics, /lines) and the worker go on meanwhile. Step's thread only
  // (it asks consumer_).
  std::vector<RecoveryRead> ReadRecoveries(const std::vector<int32_t>& partitions);
  // Recovers a partition's task from what ReadRecoveries read (state, then
  // the events position). After an aborted transaction (`rewinding`), a
  // partition with nothing committed goes back to its beginning, and one
  // whose committed offset cannot be read fences the processor rather than
  // guess.
  void StartTask(bool rewinding, RecoveryRead read) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::map<std::string, tidewatch::v1::LineTideState>> ReadStates(int32_t partition);
  // Decodes a polled batch's events (no lock needed): with the engine
  // thread, the poller decodes the next batch while the worker applies,
  // when the worker is behind (WorkerBacklogged).
  void Decode(Batch& batch);
  // Sorts a polled batch's records by topic (Batch::sources), on the
  // polling thread: the only place a record's topic is compared.
  void SortByTopic(Batch& batch) const;
  // Decodes one record with `decoder` (an events record) or only notes its
  // source in `out` (a command, or another topic's).
  void DecodeRecord(const kafka::Record& record, RecordSource source, events::EventDecoder& decoder,
                    DecodedEvent& out) const;
  // Applies a batch to the engines and ticks them; a batch not decoded yet
  // is decoded record by record as it is applied, as a bare decoding
  // consumer does (the engines copy what they keep).
  void ApplyBatch(Batch& batch) ABSL_LOCKS_EXCLUDED(mu_);
  void Handle(const kafka::Record& record, const DecodedEvent& decoded)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ticks every task to the clock (restores due lines first).
  void Tick() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Step's work after its poll: errors, policy, tick (unless the batch
  // ticked), lag, delivery reports, commits, readiness. Aborted once
  // fenced.
  absl::Status Bookkeep(const absl::Status& poll, bool idle, bool caught_up, bool ticked,
                        std::optional<std::vector<kafka::PartitionLag>> lag)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The engine worker (StreamOptions::engine_thread).
  void WorkerLoop();
  // Blocks until the worker has applied every batch handed to it.
  void WaitForWorker();
  // Queues filling_ for the worker and takes a free batch as the next
  // filling_ (waiting for one while the worker is behind).
  void HandOver();
  // The worker has a batch queued behind the one it is applying: Step
  // decodes the next batch itself rather than leave that to the worker.
  bool WorkerBacklogged();
  void StopWorker();
  void HandleCommand(const kafka::Record& record) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Applies a command (read at `offset` of the task's commands partition)
  // to its task's engine; false if it must wait (the line is recovering).
  // Counted in status_ unless counted before (read again after a rewind).
  bool ApplyCommand(Task& task, const tidewatch::v1::Command& command, int64_t offset)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether the record at `offset` of `partition` is counted for the first
  // time in this process (records read again after a rewind or a
  // re-assignment were counted already); notes it.
  bool FirstReading(std::map<int32_t, int64_t>& counted_below, int32_t partition, int64_t offset)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ApplyPendingPolicy() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drop a task (one, or all), keeping its engine's set-aside counts in
  // gone_set_aside_.
  void EraseTask(int32_t partition) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ClearTasks() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A task's engine counts `counts` as StreamStatus::rejected reports them:
  // less what its replay after a rewind counts again (Task::set_aside_credit).
  static std::map<std::string, int64_t> ReportedSetAside(const Task& task,
                                                         std::map<std::string, int64_t> counts);
  // counts[k] -= less[k] for every k of both; the counts left at or below 0
  // are dropped.
  static void SubtractCounts(std::map<std::string, int64_t>& counts,
                             const std::map<std::string, int64_t>& less);
  void RestoreDue(Task& task, int64_t offset) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops the task's horizon entries older than horizon_keep_ before its
  // engine's clock.
  void TrimHorizon(Task& task) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The longest window + the allowed lateness + one evaluation interval.
  static absl::Duration HorizonKeep(const policy::CompiledPolicy& policy);
  // The task's state records (one per owned line and per retired line) as
  // of now, appended to `out`; the task is clean after. None mid-replay
  // (the saved state stands).
  void StateRecords(Task& task, std::vector<kafka::Record>& out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Produces the state records of the dirty ones among `tasks`.
  void WriteStates(const std::vector<Task*>& tasks) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ProduceStates(std::vector<kafka::Record> states) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Synchronous hand-over (revocation, shutdown): writes the given tasks'
  // state, flushes (bounded by flush_timeout) and commits their positions
  // (bounded by the consumer's commit_timeout); false if not durable or not
  // committed. Exactly-once: commits the transaction.
  bool CommitTasks(const std::vector<Task*>& tasks, bool write_states)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Step's commit: serves the commit point in flight (idempotent) and, once
  // none is, when the interval is due (or `idle`, i.e. caught up, and
  // idle_commit_gap is, with input consumed since the last commit), takes
  // the next one (or commits the transaction).
  void MaybeCommit(absl::Time now, bool idle) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether caught-up Steps commit before the interval (idle_commit_gap is
  // set and shorter than commit_interval).
  bool IdleCommits() const;
  // Every owned partition's task, in partition order.
  std::vector<Task*> AllTasks() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Some task has consumed input whose offsets are not committed yet.
  bool HasUncommittedInput() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Produces the records whose delivery failed again.
  void ProduceRetries() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The positions of `tasks` not committed yet (recovered ones only).
  std::vector<kafka::TopicPartition> OffsetsToCommit(const std::vector<Task*>& tasks) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Idempotent path, with no point in flight: produces the retries, then
  // records a commit point of every task's position and the state records
  // of the tasks that changed (not produced yet).
  void TakeCommitPoint() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether the point in flight covers the record produced as `seq`.
  bool PointCovers(int64_t seq) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Produces the point's state records, now covered by it instead of the
  // (delivered) records before it.
  void ProducePointStates() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Once every record produced before the point is delivered, produces its
  // state records; once they are delivered too, sends its commit. Drops it
  // when a record failed, its commit failed or its result is overdue.
  void ServeCommitPoint() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Applies the commit results the consumer has reported.
  void ServeCommitResults() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops the point; its tasks are committed by a later one.
  void DropCommitPoint() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Takes `partitions` out of a point not yet sent (they are handed over or
  // lost); `recommit`: their tasks are marked uncommitted, for a hand-over.
  void RemoveFromCommitPoint(const std::vector<int32_t>& partitions, bool recommit)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Produces a record reflecting the input of `partition`'s task `task`
  // (Task::serial; its escalations, states, dead letters); failed
  // deliveries go to retry_ while that task is there.
  void Produce(const std::string& topic, const std::string& key, std::string value,
               std::vector<kafka::Header> headers, int32_t partition, uint64_t task)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The same, held in held_ until the next ReleaseHeld (escalations and
  // dead letters: what applying a batch produces).
  void Hold(const std::string& topic, const std::string& key, std::string value,
            std::vector<kafka::Header> headers, int32_t partition, uint64_t task)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Produces the held records, in the order they were held.
  void ReleaseHeld() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The serial of `partition`'s task; 0 when there is none.
  uint64_t TaskSerial(int32_t partition) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether a record of one of `tasks` awaits a retry.
  bool RetryingFor(const std::vector<Task*>& tasks) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ProduceEscalation(const tidewatch::v1::Escalation& escalation, int32_t partition,
                         uint64_t task) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Error(const absl::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Exactly-once commit of every task's outputs and offsets.
  bool CommitTransaction() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs a transactional call, retrying it while it fails retriably.
  absl::Status TxnCall(const std::function<absl::Status()>& call)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Handles a failed transactional call: abort and rewind, or fence.
  void TxnFailed(const absl::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Aborts the open transaction and rewinds; false while the abort still
  // fails retriably (abort_pending_ stays set) or when it failed for good
  // (fenced).
  bool FinishAbort() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops every task and recovers it again from committed state.
  void Rewind() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Fence(const std::string& reason) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UpdateReady() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::vector<std::string> OwnedLines(int32_t partition) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const StreamOptions options_;
  kafka::Consumer& consumer_;
  kafka::Producer& producer_;
  const ReaderFactory new_reader_;
  const Clock& clock_;

  mutable absl::Mutex mu_;
  // Copies status_'s health fields into health_ (after every change).
  void PublishHealth() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Taken after mu_ (PublishHealth), or alone (Health).
  mutable absl::Mutex health_mu_ ABSL_ACQUIRED_AFTER(mu_);
  StreamHealth health_ ABSL_GUARDED_BY(health_mu_);
  std::shared_ptr<const policy::CompiledPolicy> policy_ ABSL_GUARDED_BY(mu_);
  int64_t policy_version_ ABSL_GUARDED_BY(mu_) = 0;
  // From SetPolicy, put in force at the next Step.
  std::shared_ptr<const policy::CompiledPolicy> pending_policy_ ABSL_GUARDED_BY(mu_);
  int64_t pending_policy_version_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<int32_t, std::unique_ptr<Task>> tasks_ ABSL_GUARDED_BY(mu_);
  StreamStatus status_ ABSL_GUARDED_BY(mu_);
  // Per partition, the events and commands offsets below which records have
  // been counted in status_ (dead-lettered, rejected, commands applied):
  // kept across tasks, so a replay does not count them twice.
  // Commands are counted when applied (in order, deferred ones later) and
  // malformed ones when read: one mark each, so that neither skips the
  // other's.
  std::map<int32_t, int64_t> events_counted_below_ ABSL_GUARDED_BY(mu_);
  std::map<int32_t, int64_t> commands_counted_below_ ABSL_GUARDED_BY(mu_);
  std::map<int32_t, int64_t> malformed_commands_counted_below_ ABSL_GUARDED_BY(mu_);
  std::atomic<int64_t> events_applied_{0};  // status_.events_applied, read without mu_
  // How far back of the engine's clock a task's horizon reaches
  // (HorizonKeep of policy_).
  absl::Duration horizon_keep_ ABSL_GUARDED_BY(mu_);
  // Decodes an undecoded batch's records in ApplyBatch (on whichever thread
  // applies), reset after the batch.
  const std::unique_ptr<events::EventDecoder> apply_decoder_ ABSL_GUARDED_BY(mu_);
  absl::Time last_commit_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // The last commit a caught-up Step made because idle_commit_gap had
  // passed (the gap counts from it; not from the interval's commits).
  absl::Time last_idle_commit_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // When status_.lag was last refreshed (each idle Step, else at most every
  // kLagRefresh: asking librdkafka costs a lock and a copy per partition).
  absl::Time last_lag_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool was_idle_ ABSL_GUARDED_BY(mu_) = true;  // the last Step polled nothing
  // A record with the task whose input it reflects: (partition,
  // Task::serial).
  struct TaskRecord {
    kafka::Record record;
    int32_t partition = -1;
    uint64_t task = 0;

    // A TaskRecord of those fields.
    static TaskRecord Of(const std::string& topic, const std::string& key, std::string value,
                         std::vector<kafka::Header> headers, int32_t partition, uint64_t task);
    // Its key's and value's bytes (what held_bytes_ counts).
    size_t Bytes() const { return record.key.size() + record.value.size(); }
  };
  // Records whose delivery failed (or that could not be enqueued), to be
  // produced again before their task's next commit. Those of a task that
  // has gone (its partition handed over or lost) are dropped instead: its
  // next owner produces them again from the committed position, and
  // produced late by this instance they would land after that owner's
  // records (an older state record last in the compacted state topic, an
  // escalation sequence going back).
  std::vector<TaskRecord> retry_ ABSL_GUARDED_BY(mu_);
  // Escalations and dead letters not handed to the producer yet (Hold).
  // Produced one by one while a backlog is read, each would leave in a
  // produce request of its own every linger.ms: ~200 requests per 2 M
  // events, most of the CPU the broker spent serving the core
  // (docs/performance.md). Released, in order, at the end of a Step that
  // read every events partition to its end or polled nothing (so a
  // caught-up instance's escalations leave within the Step that applied
  // them), before every commit (a commit never covers a held record), and
  // at StreamOptions::max_held_records or max_held_bytes. A task's go with
  // it, as its retries do.
  std::vector<TaskRecord> held_ ABSL_GUARDED_BY(mu_);
  size_t held_bytes_ ABSL_GUARDED_BY(mu_) = 0;  // their keys' and values'
  // The last Task::serial given.
  uint64_t last_task_serial_ ABSL_GUARDED_BY(mu_) = 0;
  // Records produced (the last one's sequence number) and those among them
  // whose delivery report has not come yet.
  int64_t produce_seq_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t undelivered_ ABSL_GUARDED_BY(mu_) = 0;
  // Idempotent path: positions to commit once every record produced before
  // them is delivered and then their state records are; at most one at a
  // time. A state record is never produced ahead of a record it reflects:
  // durable, it tells a successor where to start, and an escalation not
  // yet delivered before it would never be produced again.
  struct CommitPoint {
    int64_t id = 0;
    std::vector<kafka::TopicPartition> offsets;
    // The tasks' state as of the point (keyed by line, so by partition),
    // produced once the records before it are delivered (then empty).
    std::vector<kafka::Record> states;
    // Partitions whose state the point took (their tasks are dirty again if
    // it is dropped).
    std::vector<int32_t> state_partitions;
    // The point covers the records with sequence numbers in (from_seq, seq]:
    // first the ones produced before it, then its state records.
    int64_t from_seq = 0;
    int64_t seq = 0;
    // Records it covers whose delivery report has not come yet.
    int64_t undelivered = 0;
    // One of them was not delivered: the point is dropped.
    bool failed = false;
    // Its commit has been sent (CommitAsync) and its result is awaited.
    bool sent = false;
    absl::Time sent_at = absl::InfinitePast();
    absl::Time taken_at = absl::InfinitePast();
  };
  std::optional<CommitPoint> point_ ABSL_GUARDED_BY(mu_);
  // Set-aside counts of the tasks dropped so far (partitions revoked or
  // lost, a rewind, a fence): StreamStatus::rejected feeds counters, which
  // must not go down when a partition moves. (A partition back from another
  // member counts its replay again; the replay after an aborted transaction
  // does not: see Task::set_aside_credit.)
  std::map<std::string, int64_t> gone_set_aside_ ABSL_GUARDED_BY(mu_);
  int64_t last_point_id_ ABSL_GUARDED_BY(mu_) = 0;
  // Commit results from the consumer's callbacks (which may run while mu_
  // is held, inside a synchronous Commit, or not, inside PollBatch; shared
  // so a late callback never outlives it).
  class CommitResults {
   public:
    void Add(int64_t id, absl::Status status) {
      absl::MutexLock lock(&mu_);
      results_.emplace_back(id, std::move(status));
    }
    std::vector<std::pair<int64_t, absl::Status>> Take() {
      absl::MutexLock lock(&mu_);
      return std::exchange(results_, {});
    }

   private:
    absl::Mutex mu_;
    std::vector<std::pair<int64_t, absl::Status>> results_ ABSL_GUARDED_BY(mu_);
  };
  const std::shared_ptr<CommitResults> commit_results_ = std::make_shared<CommitResults>();
  bool assigned_ ABSL_GUARDED_BY(mu_) = false;
  // Exactly-once: a transaction has been begun and not yet ended.
  bool txn_open_ ABSL_GUARDED_BY(mu_) = false;
  // Exactly-once: a produce into the open transaction failed; the commit
  // aborts instead.
  absl::Status txn_error_ ABSL_GUARDED_BY(mu_);
  // Exactly-once: an abort timed out; retried before anything else.
  bool abort_pending_ ABSL_GUARDED_BY(mu_) = false;
  // status_.fenced || abort_pending_, readable without mu_: with the engine
  // thread, Step checks it before polling instead of taking mu_, which the
  // worker holds while it applies the previous batch (both are written only
  // on the polling thread).
  std::atomic<bool> halting_{false};
  // Polled batches (cleared when Step reuses them). One without the engine
  // thread; with it, a small pipeline: Step fills one while the worker
  // applies the others in order, so neither waits for the other batch by
  // batch.
  std::vector<std::unique_ptr<Batch>> batches_;
  Batch* filling_ = nullptr;  // Step's
  // The hand-over to the engine worker.
  absl::Mutex pipe_mu_;
  // Handed over, oldest first; the front is the one being applied (empty:
  // the worker has applied everything it was given).
  std::deque<Batch*> queued_ ABSL_GUARDED_BY(pipe_mu_);
  std::vector<Batch*> free_ ABSL_GUARDED_BY(pipe_mu_);  // cleared, for Step
  bool stop_worker_ ABSL_GUARDED_BY(pipe_mu_) = false;
  std::thread worker_;
  // With the engine thread, Step's bookkeeping under mu_ (ticks, lag,
  // delivery reports, commits) runs when idle, when halting, and otherwise
  // every kBookkeeping or kBookkeepingSteps Steps: mu_ is the worker's while
  // it applies a batch, and taking it every Step would wait for the worker
  // every Step.
  absl::Time last_bookkeeping_ = absl::InfinitePast();  // Step's thread only
  int steps_since_bookkeeping_ = 0;                     // Step's thread only
  // A commit point taken less than kCommitUnderWayFor ago was in flight at
  // the last bookkeeping: Step polls at most kCommitUnderWayPoll, so that
  // its delivery reports and result are served without waiting out the
  // caller's poll timeout.
  bool commit_under_way_ = false;  // Step's thread only
  // Caught up at the last bookkeeping with input not committed yet, too
  // soon after the last caught-up commit (idle_commit_gap): when the next is
  // due.
  // Step polls no longer than until then, so that it is made on time
  // rather than after the caller's whole poll timeout. InfiniteFuture: none.
  absl::Time idle_commit_due_ = absl::InfiniteFuture();  // Step's thread only
};

}  // namespace tidewatch::stream

#endif  // TIDEWATCH_LIBS_STREAM_STREAM_PROCESSOR_H_
