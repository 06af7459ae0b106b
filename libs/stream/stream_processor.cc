#include "stream/stream_processor.h"

#include <pthread.h>

#include <algorithm>
#include <limits>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "events/events.h"
#include "line/kpis.h"
#include "stream/partitioner.h"

namespace tidewatch::stream {

using tidewatch::v1::Escalation;
using tidewatch::v1::LineTideState;

namespace {

// A line's live figures for its state record (any instance serves status
// from them).
void FillFigures(const std::string& line_id, const line::LineState& l, absl::Time now,
                 tidewatch::v1::LineFigures* f) {
  if (now == absl::InfinitePast()) return;
  for (int i = 0; i < l.windows().num_windows(); ++i) {
    tidewatch::v1::KpiSnapshot* snap = f->add_windows();
    snap->set_line_id(line_id);
    ToProto(now, snap->mutable_time());
    ToProto(l.windows().window(i), snap->mutable_window());
    *snap->mutable_kpis() = line::MakeKpis(l.windows().Running(i), l.windows().RunningMaxWaitNs(i));
  }
  f->set_calls_waiting(l.calls_waiting());
  if (std::optional<absl::Duration> w = l.longest_waiting()) {
    ToProto(*w, f->mutable_longest_waiting());
  }
  const line::AgentCounts& a = l.agents();
  f->set_agents_logged_in(a.LoggedIn());
  for (int st = 0; st < line::AgentCounts::kStates; ++st) {
    for (int o = 0; o < line::AgentCounts::kOrigins; ++o) {
      const int64_t n = a.n[st][o];
      if (n == 0 || st == tidewatch::v1::AGENT_STATUS_LOGGED_OUT) continue;
      (*f->mutable_agents_by_state())[tidewatch::v1::AgentStatus_Name(
          static_cast<tidewatch::v1::AgentStatus>(st))] += n;
      (*f->mutable_agents_by_origin())[tidewatch::v1::AgentOrigin_Name(
          static_cast<tidewatch::v1::AgentOrigin>(o))] += n;
    }
  }
  const line::CapacityEstimate& c = l.Capacity();
  if (c.enough_data) {
    f->set_arrivals_per_hour(c.arrivals_per_hour);
    f->set_mean_handle_seconds(c.mean_handle_seconds);
    if (c.predicted_wait_seconds) f->set_predicted_wait_seconds(*c.predicted_wait_seconds);
    if (c.agents_needed) f->set_agents_needed(*c.agents_needed);
    if (c.gap) f->set_capacity_gap(*c.gap);
  }
  if (l.last_event_time() != absl::InfinitePast()) {
    ToProto(l.last_event_time(), f->mutable_last_event());
  }
}

// How stale StreamStatus::lag may get while batches keep coming (an idle
// Step always refreshes it).
constexpr absl::Duration kLagRefresh = absl::Milliseconds(100);

// With the engine thread: batches in the pipeline (one filled by Step, the
// others handed over), and how often a busy Step does its bookkeeping (at
// least every kBookkeepingSteps Steps, for clocks that do not move). While
// the worker applies a batch (it holds mu_) the bookkeeping waits for a
// Step that finds mu_ free, up to kBookkeepingPatience (or as many Steps)
// after it was due; then a Step waits for the worker's batch.
constexpr int kPipelineBatches = 8;
constexpr absl::Duration kBookkeeping = absl::Milliseconds(5);
constexpr int kBookkeepingSteps = 8;
constexpr absl::Duration kBookkeepingPatience = absl::Milliseconds(50);
constexpr int kBookkeepingPatienceSteps = 64;

// The longest a Step polls while a commit is under way (see Step), for at
// most kCommitUnderWayFor after its point was taken (a commit that takes
// longer, e.g. while the broker is away, is waited for at the caller's pace).
// Generous: a loaded cluster can take seconds for a point's deliveries, its
// states' and the commit, and past this bound each stage waits for a whole
// poll timeout (the tests' 30 s Steps missed their deadline that way).
constexpr absl::Duration kCommitUnderWayPoll = absl::Milliseconds(5);
constexpr absl::Duration kCommitUnderWayFor = absl::Seconds(10);

// How long Start waits for the cluster to describe the output topics.
constexpr absl::Duration kPrepareTopicsTimeout = absl::Seconds(2);

// Whether the consumer has read every events partition up to the high
// watermark its latest fetch reported: a partition with nothing in it
// counts as read, one not read from (or not fetched) yet does not.
bool ReadToHighWatermark(const std::vector<kafka::PartitionLag>& lag,
                         const std::string& events_topic) {
  bool any = false;
  for (const kafka::PartitionLag& l : lag) {
    if (l.topic != events_topic) continue;
    any = true;
    const bool empty = l.position == kafka::kOffsetInvalid && l.high_watermark == 0;
    if (l.lag != 0 && !empty) return false;
  }
  return any;
}

}  // namespace

// Which of the subscribed topics a record came from.
enum class StreamProcessor::RecordSource : uint8_t { kOther, kEvents, kCommands };

// One record, sorted by topic and, an events record, decoded: the event,
// or why it could not be.
struct StreamProcessor::DecodedEvent {
  RecordSource source = RecordSource::kOther;
  bool ok = false;  // `event` holds a valid event
  events::CallEventView event;
  absl::Status error;
  events::RejectReason reason = {};
};

// A polled batch and its decoded events. Only the polling thread allocates
// or frees what a batch holds (Step clears a batch when it reuses it): with
// the engine thread, records freed on the worker went back to the poller's
// malloc arena under its lock, and the two threads spent more time asleep
// on that lock than applying. And clearing keeps the records' storage: the
// next poll into the batch overwrites them (kafka::RecordBatch) rather than
// allocating three strings a record and freeing them a pipeline later.
struct StreamProcessor::Batch {
  void Clear() {
    records.clear();
    sources.clear();
    decoded.clear();
    decoder.Reset();
  }
  kafka::RecordBatch records;
  // One per record, sorted by the polling thread as it polls (SortByTopic):
  // it has just written the records' topics, the engine thread would read
  // each from another core's cache.
  std::vector<RecordSource> sources;
  // Empty: not decoded (ApplyBatch decodes as it applies). Else one per
  // record (commands: no event); the events are views of the records'
  // values (or of messages `decoder` keeps, for bytes protobuf decoded).
  std::vector<DecodedEvent> decoded;
  events::EventDecoder decoder;
};

// One owned events partition.
struct StreamProcessor::Task {
  int32_t partition = -1;
  // Tells this task from an earlier or later one of the same partition
  // (StreamProcessor::TaskRecord); never 0.
  uint64_t serial = 0;
  // The consumer's position epoch once the task had positioned its
  // partitions: records polled before (lower epoch) are not applied.
  int64_t epoch = 0;
  std::unique_ptr<TaskOutput> output;
  std::unique_ptr<engine::Engine> engine;
  std::vector<std::string> lines;  // policy lines on this partition
  // Next events offset to apply; records below it are leftovers of a seek.
  int64_t next_offset = 0;
  // Records below this offset were handled by a predecessor (its saved
  // state says so): replaying them, undecodable ones are not dead-lettered
  // again.
  int64_t handled_below = 0;
  // (event time, offset) of applied events, oldest first, trimmed to the
  // longest window + lateness: its front is where a replay must start.
  std::deque<std::pair<absl::Time, int64_t>> horizon;
  // Saved tide state of frozen lines, restored when the replay reaches it.
  std::map<std::string, LineTideState> pending;
  // Next commands offset (co-partitioned commands topic); -1: none seen.
  int64_t commands_next_offset = -1;
  // Exactly-once: the events offset known committed for the partition (by
  // this instance's transactions, or read at assignment); -1: none.
  int64_t committed_offset = -1;
  // Exactly-once: its engine's set-aside counts at its last commit.
  std::map<std::string, int64_t> committed_set_aside;
  // After a rewind: the counts its replay sets aside again that StreamStatus
  // already reported (gone_set_aside_ holds them): not reported twice.
  std::map<std::string, int64_t> set_aside_credit;
  // Commands for lines still recovering (with their offsets), applied
  // once they are restored.
  std::deque<std::pair<tidewatch::v1::Command, int64_t>> deferred_commands;
  bool dirty = false;
  bool uncommitted = false;
  absl::Time recovery_started = absl::InfinitePast();

  // Replaying towards its saved position: lines still to restore, or the
  // replay not yet past where the saved states were written (when a
  // policy version dropped every pending line, nothing is pending but the
  // replay goes on).
  bool Recovering() const { return !pending.empty() || next_offset < handled_below; }
  // Input consumed since the last commit, and the partition recovered (a
  // replaying one keeps its committed position: committing its replay
  // position would move the committed offset back).
  bool Committable() const { return uncommitted && !Recovering(); }
  // Whether RestoreDue has anything to do: lines to restore, commands
  // deferred, or a recovery whose end is still to be timed. (Asked per
  // record: nearly always false.)
  bool RestoreMayBeDue() const {
    return !pending.empty() || !deferred_commands.empty() ||
           recovery_started != absl::InfinitePast();
  }
};

// Routes a partition engine's escalations to the producer. Each one changes
// its line's saved state (the sequence number, the tide or a call-up), also
// when no event brought it (a command, a tick): the task's state is written
// with the next commit.
class StreamProcessor::TaskOutput final : public engine::EngineOutput {
 public:
  TaskOutput(StreamProcessor* p, Task* task) : p_(p), task_(task) {}
  void OnEscalation(const Escalation& e) override ABSL_NO_THREAD_SAFETY_ANALYSIS {
    task_->dirty = true;
    // (The task's own serial: its first escalations, a retired line's
    // stand-downs, come while it starts, before it is in tasks_.)
    p_->ProduceEscalation(e, task_->partition, task_->serial);
  }
  void OnTideChange(const tidewatch::v1::TideChange&) override {}
  void OnCallUp(const tidewatch::v1::CallUp&) override {}

 private:
  StreamProcessor* p_;
  Task* task_;
};

StreamProcessor::StreamProcessor(std::shared_ptr<const policy::CompiledPolicy> policy,
                                 StreamOptions options, kafka::Consumer& consumer,
                                 kafka::Producer& producer, ReaderFactory new_reader,
                                 const Clock& clock)
    : options_(std::move(options)),
      consumer_(consumer),
      producer_(producer),
      new_reader_(std::move(new_reader)),
      clock_(clock),
      policy_(std::move(policy)),
      apply_decoder_(std::make_unique<events::EventDecoder>()) {
  horizon_keep_ = HorizonKeep(*policy_);
  // With the engine thread: one being filled, up to two handed over.
  const int depth = options_.engine_thread ? kPipelineBatches : 1;
  for (int i = 0; i < depth; ++i) batches_.push_back(std::make_unique<Batch>());
  filling_ = batches_[0].get();
  absl::MutexLock lock(&pipe_mu_);
  for (int i = 1; i < depth; ++i) free_.push_back(batches_[i].get());
}

StreamProcessor::~StreamProcessor() { StopWorker(); }

void StreamProcessor::WorkerLoop() {
  for (;;) {
    Batch* batch = nullptr;
    {
      absl::MutexLock lock(&pipe_mu_);
      pipe_mu_.Await(absl::Condition(
          +[](StreamProcessor* p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->pipe_mu_) {
            return !p->queued_.empty() || p->stop_worker_;
          },
          this));
      if (queued_.empty()) return;  // stopping, nothing left
      batch = queued_.front();      // stays queued until applied
    }
    ApplyBatch(*batch);  // Step clears it when it reuses it (see Batch)
    absl::MutexLock lock(&pipe_mu_);
    queued_.pop_front();
    free_.push_back(batch);
  }
}

void StreamProcessor::WaitForWorker() {
  absl::MutexLock lock(&pipe_mu_);
  pipe_mu_.Await(absl::Condition(
      +[](StreamProcessor* p)
           ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->pipe_mu_) { return p->queued_.empty(); },
      this));
}

bool StreamProcessor::WorkerBacklogged() {
  absl::MutexLock lock(&pipe_mu_);
  return queued_.size() >= 2;  // the front is being applied
}

void StreamProcessor::HandOver() {
  absl::MutexLock lock(&pipe_mu_);
  queued_.push_back(filling_);
  pipe_mu_.Await(absl::Condition(
      +[](StreamProcessor* p)
           ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->pipe_mu_) { return !p->free_.empty(); },
      this));
  filling_ = free_.back();
  free_.pop_back();
}

void StreamProcessor::StopWorker() {
  if (!worker_.joinable()) return;
  {
    absl::MutexLock lock(&pipe_mu_);
    stop_worker_ = true;  // the worker applies what it was handed first
  }
  worker_.join();
}

absl::Status StreamProcessor::Start() {
  // The outputs' partitions are looked up now, not with the first record
  // (see Producer::PrepareTopics): the first commit does not wait for them
  // (a transaction's commit waited up to a second). With the cluster away
  // Start goes on after kPrepareTopicsTimeout, as before.
  if (absl::Status s = producer_.PrepareTopics({options_.escalations_topic, options_.state_topic},
                                               kPrepareTopicsTimeout);
      !s.ok() && !absl::IsDeadlineExceeded(s)) {
    absl::MutexLock lock(&mu_);
    Error(s);
  }
  if (options_.exactly_once) {
    // Fences an older producer with our transactional.id and aborts its
    // open transaction, so its partitions' committed state is final.
    absl::MutexLock lock(&mu_);
    if (absl::Status s =
            TxnCall([this] { return producer_.InitTransactions(options_.txn_call_timeout); });
        !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("init transactions: ", s.message()));
    }
  }
  absl::Status s = consumer_.Subscribe({options_.events_topic, options_.commands_topic}, this);
  if (s.ok() && options_.engine_thread && !worker_.joinable()) {
    worker_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "tw-engines");  // for top -H, perf
      WorkerLoop();
    });
  }
  absl::MutexLock lock(&mu_);
  if (s.ok()) status_.started = true;
  PublishHealth();
  return s;
}

std::vector<std::string> StreamProcessor::OwnedLines(int32_t partition) const {
  std::vector<std::string> out;
  for (const auto& [id, lp] : policy_->lines) {
    if (PartitionForKey(id, options_.partitions) == partition) out.push_back(id);
  }
  return out;
}

void StreamProcessor::Error(const absl::Status& status) {
  status_.last_error = std::string(status.message());
  status_.last_error_time = clock_.Now();
  PublishHealth();
}

void StreamProcessor::PublishHealth() {
  absl::MutexLock lock(&health_mu_);
  health_.started = status_.started;
  health_.ready = status_.ready;
  health_.fenced = status_.fenced;
  health_.partitions = status_.partitions.size();
  health_.recovering = status_.recovering.size();
  health_.assigned = assigned_;
  health_.last_error = status_.last_error;
}

StreamHealth StreamProcessor::Health() const {
  StreamHealth h;
  {
    absl::MutexLock lock(&health_mu_);
    h = health_;
  }
  h.consumer_health = consumer_.Health();
  h.producer_health = producer_.Health();
  return h;
}

void StreamProcessor::UpdateReady() {
  // Not ready before the group has given this member its partitions (none
  // is a valid answer when there are more members than partitions).
  bool ready = status_.started && assigned_;
  status_.partitions.clear();
  status_.recovering.clear();
  for (const auto& [p, task] : tasks_) {
    status_.partitions.push_back(p);
    if (task->Recovering()) {
      status_.recovering.push_back(p);
      ready = false;
    }
  }
  status_.ready = ready;
  PublishHealth();
}

absl::StatusOr<std::map<std::string, LineTideState>> StreamProcessor::ReadStates(
    int32_t partition) {
  std::map<std::string, LineTideState> states;
  absl::StatusOr<std::unique_ptr<kafka::Consumer>> reader = new_reader_();
  if (!reader.ok()) return reader.status();
  absl::StatusOr<kafka::Watermarks> wm =
      (*reader)->QueryWatermarks(options_.state_topic, partition, absl::Seconds(10));
  // Transient metadata errors (e.g. NOT_LEADER_FOR_PARTITION on a topic the
  // client has just learnt of) are retried within the state read limit:
  // starting without the state would lose the lines' tide and totals.
  const absl::Time wm_deadline = clock_.Now() + options_.state_read_timeout;
  while (!wm.ok() && clock_.Now() < wm_deadline) {
    (*reader)->Poll(absl::Milliseconds(200)).IgnoreError();  // a pause (nothing assigned)
    wm = (*reader)->QueryWatermarks(options_.state_topic, partition, absl::Seconds(10));
  }
  if (!wm.ok()) return wm.status();
  if (wm->high <= wm->low) return states;
  if (absl::Status s = (*reader)->Assign({{options_.state_topic, partition, wm->low}}); !s.ok()) {
    return s;
  }
  const absl::Time deadline = clock_.Now() + options_.state_read_timeout;
  int64_t next = wm->low;
  while (next < wm->high) {
    if (clock_.Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "reading ", options_.state_topic, " [", partition, "]: at offset ", next, " of ",
          wm->high, " after ", absl::FormatDuration(options_.state_read_timeout)));
    }
    kafka::RecordBatch batch;
    // A consumer error is transient (the deadline bounds the read), and the
    // records polled with it are states like any others: read them too.
    (*reader)->PollBatch(1000, absl::Milliseconds(200), &batch).IgnoreError();
    for (const kafka::Record& r : batch) {
      next = std::max(next, r.offset + 1);
      LineTideState st;
      if (!st.ParseFromString(r.value) || st.line_id().empty()) continue;
      states[st.line_id()] = std::move(st);  // the last record per line wins
    }
    // Read committed, transaction markers and aborted records are never
    // returned: the consumer's position still moves past them.
    if (absl::StatusOr<std::vector<kafka::PartitionLag>> lag = (*reader)->Lag(); lag.ok()) {
      for (const kafka::PartitionLag& l : *lag) {
        if (l.partition == partition) next = std::max(next, l.position);
      }
    }
  }
  (*reader)->Close().IgnoreError();
  return states;
}

std::vector<StreamProcessor::RecoveryRead> StreamProcessor::ReadRecoveries(
    const std::vector<int32_t>& partitions) {
  std::vector<RecoveryRead> reads;
  for (int32_t p : partitions) {
    RecoveryRead& read = reads.emplace_back();
    read.partition = p;
    read.started = clock_.Now();
    read.states = ReadStates(p);
    // Its task fences the processor: the others need not be read (each
    // read waits up to state_read_timeout for a broker that cannot serve).
    if (!read.states.ok()) break;
  }
  if (reads.empty()) return reads;
  // Then their committed offsets, in one question. After the states:
  // exactly-once, a state behind its committed offset is read again below,
  // while a state read after the offset could be ahead of it (a
  // transaction committed in between), and the offset, which a transaction
  // with nothing consumed sends again, would be stale.
  std::vector<kafka::TopicPartition> asked;
  for (const RecoveryRead& read : reads) asked.push_back({options_.events_topic, read.partition});
  const absl::StatusOr<std::vector<kafka::TopicPartition>> committed =
      consumer_.Committed(asked, absl::Seconds(10));
  for (RecoveryRead& read : reads) {
    if (committed.ok()) {
      read.committed.emplace();
      for (const kafka::TopicPartition& tp : *committed) {
        if (tp.partition == read.partition) read.committed->push_back(tp);
      }
    } else {
      read.committed = committed.status();
    }
    if (!options_.exactly_once || !read.states.ok()) continue;
    // State and offsets are committed in one transaction, so the state of a
    // partition with committed offset C says next_offset C. Less means a
    // transaction of a vanished producer still holds the last stable offset
    // back (its records are not readable yet): read again until the broker
    // aborts it (transaction timeout) or the state read limit passes.
    const int64_t c = read.CommittedOffset();
    const absl::Time deadline = clock_.Now() + options_.state_read_timeout;
    auto behind = [&] {
      if (!read.states.ok() || c < 0) return false;
      int64_t newest = -1;
      for (const auto& [line, st] : *read.states) {
        if (PartitionForKey(line, options_.partitions) == read.partition) {
          newest = std::max<int64_t>(newest, st.next_offset());
        }
      }
      return newest >= 0 && newest < c;
    };
    while (behind() && clock_.Now() < deadline) read.states = ReadStates(read.partition);
    if (behind()) {
      read.states = absl::DeadlineExceededError(
          absl::StrCat("the newest committed state is still behind the committed offset ", c,
                       " after ", absl::FormatDuration(options_.state_read_timeout)));
    }
  }
  return reads;
}

void StreamProcessor::StartTask(bool rewinding, RecoveryRead read) {
  const int32_t partition = read.partition;
  if (status_.fenced) return;  // stopping: the tasks go at the next safe point
  auto task = std::make_unique<Task>();
  task->partition = partition;
  task->serial = ++last_task_serial_;
  task->lines = OwnedLines(partition);
  task->output = std::make_unique<TaskOutput>(this, task.get());
  task->recovery_started = read.started;
  engine::EngineOptions eo;
  eo.detect_stale_feeds = options_.wall_clock_ticks;
  eo.policy_version = policy_version_;
  const int32_t partitions = options_.partitions;
  eo.owns_line = [partition, partitions](std::string_view line) {
    return PartitionForKey(line, partitions) == partition;
  };
  task->engine = std::make_unique<engine::Engine>(policy_, eo, task->output.get());

  int64_t start = kafka::kOffsetInvalid;  // the committed offset
  absl::StatusOr<std::map<std::string, LineTideState>>& states = read.states;
  absl::StatusOr<std::vector<kafka::TopicPartition>>& committed = read.committed;
  if (options_.exactly_once) {
    task->committed_offset = read.CommittedOffset();
  }
  if (!states.ok()) {
    // Starting the lines afresh would reuse their escalation ids (every
    // board drops those), leave their open call-ups open for ever, and
    // overwrite the saved state at the next commit: stop instead; a
    // restart (or another instance) tries again.
    Fence(absl::StrCat("cannot recover partition ", partition, ": its saved state on ",
                       options_.state_topic, " cannot be read (", states.status().message(),
                       "); starting its lines afresh would reuse their escalation ids"));
    return;
  }
  if (!states->empty()) {
    int64_t replay_from = INT64_MAX;
    for (auto& [line, st] : *states) {
      if (PartitionForKey(line, partitions) != partition) continue;
      if (!policy_->FindLine(line)) {
        // Dropped by the policy: its call-ups are stood down, and its
        // escalation ids go on if it comes back.
        task->engine->RetireSavedLine(st);
        continue;
      }
      replay_from = std::min(replay_from, st.replay_from_offset());
      task->handled_below = std::max(task->handled_below, st.next_offset());
      task->engine->FreezeTide(line).IgnoreError();
      task->pending[line] = std::move(st);
    }
    if (replay_from != INT64_MAX) start = std::max<int64_t>(replay_from, 0);
  }
  if (start == kafka::kOffsetInvalid) {
    if (!committed.ok()) {  // asked once more (the question for all of them failed)
      committed = consumer_.Committed({{options_.events_topic, partition}}, absl::Seconds(10));
    }
    if (committed.ok() && !committed->empty() && (*committed)[0].offset >= 0) {
      start = (*committed)[0].offset;
    } else if (rewinding && !committed.ok()) {
      // Where the aborted transaction's input began is unknown: staying put
      // would skip it, the beginning would repeat committed output.
      Fence(absl::StrCat("cannot rewind partition ", partition,
                         " after an aborted transaction: its committed offset is unknown: ",
                         committed.status().message()));
    } else if (rewinding) {
      // Nothing committed yet: the aborted transaction's input is read
      // again from the beginning, as the first assignment read it.
      start = kafka::kOffsetBeginning;
    }
  }
  if (start >= 0 || start == kafka::kOffsetBeginning) {
    if (absl::Status s =
            consumer_.Seek({options_.events_topic, partition, start}, absl::Seconds(5));
        !s.ok()) {
      if (rewinding) {
        // The consumer is still past the aborted transaction's input:
        // going on would never apply it.
        Fence(absl::StrCat("cannot rewind partition ", partition,
                           " after an aborted transaction: ", s.message()));
        return;
      }
      Error(s);
    }
    task->next_offset = std::max<int64_t>(start, 0);
  }
  task->epoch = consumer_.PositionEpoch();
  ++status_.recoveries;
  tasks_[partition] = std::move(task);
  RestoreDue(*tasks_[partition], -1);
}

void StreamProcessor::RestoreDue(Task& task, int64_t offset) {
  // Lines whose saved position is at or before the next event to apply.
  const int64_t at = offset < 0 ? task.next_offset : offset;
  for (auto it = task.pending.begin(); it != task.pending.end();) {
    if (it->second.next_offset() <= at) {
      if (absl::Status s = task.engine->RestoreTide(it->second); !s.ok()) Error(s);
      it = task.pending.erase(it);
    } else {
      ++it;
    }
  }
  while (!task.deferred_commands.empty() && ApplyCommand(task, task.deferred_commands.front().first,
                                                         task.deferred_commands.front().second)) {
    task.deferred_commands.pop_front();
  }
  if (!task.Recovering() && task.recovery_started != absl::InfinitePast()) {
    status_.last_recovery = clock_.Now() - task.recovery_started;
    task.recovery_started = absl::InfinitePast();
  }
}

void StreamProcessor::OnAssigned(const std::vector<kafka::TopicPartition>& partitions) {
  std::vector<int32_t> assigned;
  for (const kafka::TopicPartition& tp : partitions) {
    if (tp.topic == options_.events_topic) assigned.push_back(tp.partition);
  }
  {
    absl::MutexLock lock(&mu_);
    assigned_ = true;
    // The probes (Health, Status) see them recovering while their saved
    // states are read.
    status_.ready = false;
    for (int32_t p : assigned) {
      status_.recovering.push_back(p);
      status_.partitions.push_back(p);  // owned already (UpdateReady below)
    }
    PublishHealth();
    // A version set before this poll governs the recovery: a line it adds
    // is restored from its saved state instead of being retired and started
    // afresh (tidewatchd sets the policy topic's newest version before its
    // first poll). Here is a batch boundary, as in Bookkeep or ApplyBatch.
    if (pending_policy_ != nullptr) ApplyPendingPolicy();
    if (status_.fenced) assigned.clear();  // stopping: nothing to recover
  }
  // Read without mu_: a slow broker holds up these partitions' recovery,
  // not /metrics, /lines or the worker's batch of the others. (Nothing of
  // these partitions is polled before this callback returns.)
  std::vector<RecoveryRead> reads = ReadRecoveries(assigned);
  absl::MutexLock lock(&mu_);
  for (RecoveryRead& read : reads) StartTask(/*rewinding=*/false, std::move(read));
  UpdateReady();
}

void StreamProcessor::OnRevoked(const std::vector<kafka::TopicPartition>& partitions) {
  absl::MutexLock lock(&mu_);
  std::vector<Task*> leaving;
  std::vector<int32_t> ids;
  for (const kafka::TopicPartition& tp : partitions) {
    if (tp.topic != options_.events_topic) continue;
    auto it = tasks_.find(tp.partition);
    if (it != tasks_.end()) {
      leaving.push_back(it->second.get());
      ids.push_back(tp.partition);
    }
  }
  // Hand over cleanly: state written, flushed, offsets committed (exactly-
  // once: the whole transaction, which may rewind every task on failure).
  CommitTasks(leaving, /*write_states=*/true);
  for (int32_t p : ids) EraseTask(p);
  UpdateReady();
}

void StreamProcessor::OnLost(const std::vector<kafka::TopicPartition>& partitions) {
  absl::MutexLock lock(&mu_);
  if (options_.exactly_once && !status_.fenced) {
    // Another member may already own them and have committed past us: the
    // open transaction is aborted and this instance stops (its group
    // generation is fenced; a restart rejoins cleanly).
    Fence(
        "partitions lost: the group session timed out (process frozen or cut off?) and they "
        "were given to another member");
  }
  std::vector<int32_t> lost;
  for (const kafka::TopicPartition& tp : partitions) {
    if (tp.topic == options_.events_topic) lost.push_back(tp.partition);
  }
  RemoveFromCommitPoint(lost, /*recommit=*/false);
  for (int32_t p : lost) EraseTask(p);
  Error(absl::UnavailableError("partitions lost (session timed out?): dropped without commit"));
  UpdateReady();
}

void StreamProcessor::Produce(const std::string& topic, const std::string& key, std::string value,
                              std::vector<kafka::Header> headers, int32_t partition,
                              uint64_t task) {
  if (options_.exactly_once) {
    if (status_.fenced) return;
    if (!txn_error_.ok()) return;  // the transaction will be aborted
    if (!txn_open_) {
      if (absl::Status s = producer_.BeginTransaction(); !s.ok()) {
        txn_error_ = s;  // handled at the commit (tasks must not go away here)
        return;
      }
      txn_open_ = true;
    }
  }
  const int64_t seq = produce_seq_ + 1;
  for (int attempt = 0;; ++attempt) {
    absl::Status s = producer_.Produce(
        topic, key, value, headers,
        [this, seq, partition, task](const absl::Status& st, const kafka::Record& r)
            ABSL_NO_THREAD_SAFETY_ANALYSIS {
              // Runs inside producer_.Poll/Flush, which are only
              // called under mu_.
              --undelivered_;
              if (PointCovers(seq)) {
                --point_->undelivered;
                if (!st.ok()) point_->failed = true;
              }
              if (st.ok()) return;
              ++status_.delivery_errors;
              Error(st);
              if (options_.exactly_once) {
                if (txn_error_.ok()) txn_error_ = st;
                return;
              }
              // Its task gone: see retry_.
              if (TaskSerial(partition) != task) return;
              retry_.push_back({r, partition, task});
            });
    if (s.ok()) {
      produce_seq_ = seq;
      ++undelivered_;
      if (PointCovers(seq)) ++point_->undelivered;  // its state records
      return;
    }
    if (s.code() == absl::StatusCode::kResourceExhausted && attempt < 100) {
      producer_.Poll(absl::Milliseconds(50));  // local queue full: let it drain
      continue;
    }
    Error(s);
    ++status_.delivery_errors;
    if (options_.exactly_once) {
      txn_error_ = s;
      return;
    }
    retry_.push_back(
        TaskRecord::Of(topic, key, std::move(value), std::move(headers), partition, task));
    return;
  }
}

StreamProcessor::TaskRecord StreamProcessor::TaskRecord::Of(const std::string& topic,
                                                            const std::string& key,
                                                            std::string value,
                                                            std::vector<kafka::Header> headers,
                                                            int32_t partition, uint64_t task) {
  TaskRecord r;
  r.record.topic = topic;
  r.record.key = key;
  r.record.value = std::move(value);
  r.record.headers = std::move(headers);
  r.partition = partition;
  r.task = task;
  return r;
}

void StreamProcessor::Hold(const std::string& topic, const std::string& key, std::string value,
                           std::vector<kafka::Header> headers, int32_t partition, uint64_t task) {
  held_.push_back(
      TaskRecord::Of(topic, key, std::move(value), std::move(headers), partition, task));
  held_bytes_ += held_.back().Bytes();
  if (held_.size() >= options_.max_held_records || held_bytes_ >= options_.max_held_bytes) {
    ReleaseHeld();
  }
}

void StreamProcessor::ReleaseHeld() {
  held_bytes_ = 0;
  for (TaskRecord& r : std::exchange(held_, {})) {
    Produce(r.record.topic, r.record.key, std::move(r.record.value), std::move(r.record.headers),
            r.partition, r.task);
  }
}

void StreamProcessor::ProduceEscalation(const Escalation& e, int32_t partition, uint64_t task) {
  Hold(options_.escalations_topic, e.line_id(), e.SerializeAsString(),
       {{"tidewatch-escalation-id", e.id()}}, partition, task);
  ++status_.escalations_produced;
  if (options_.on_escalation) options_.on_escalation(e);
}

bool StreamProcessor::ApplyCommand(Task& task, const tidewatch::v1::Command& command,
                                   int64_t offset) {
  absl::Status s = task.engine->ApplyCommand(command);
  if (s.code() == absl::StatusCode::kUnavailable) return false;
  // Counted when applied (a deferred command whose task is dropped first
  // is counted when it is applied after all).
  const bool count = FirstReading(commands_counted_below_, task.partition, offset);
  if (s.ok()) {
    if (count) ++status_.commands_applied;
    task.dirty = true;  // its state goes with the commit of its offset
  } else if (count) {
    std::string reason = absl::StatusCodeToString(s.code());
    absl::AsciiStrToLower(&reason);
    ++status_.rejected[absl::StrCat("command_", reason)];
    Error(absl::Status(s.code(), absl::StrCat("command refused: ", s.message())));
  }
  return true;
}

bool StreamProcessor::FirstReading(std::map<int32_t, int64_t>& counted_below, int32_t partition,
                                   int64_t offset) {
  int64_t& below = counted_below[partition];
  if (offset < below) return false;
  below = offset + 1;
  return true;
}

void StreamProcessor::HandleCommand(const kafka::Record& record) {
  ++status_.commands_consumed;
  auto it = tasks_.find(record.partition);
  if (it == tasks_.end()) return;  // not ours (any more)
  Task& task = *it->second;
  if (record.epoch < task.epoch) {  // polled before a rewind: read again
    ++status_.stale_records_dropped;
    return;
  }
  if (record.offset < task.commands_next_offset) return;
  task.commands_next_offset = record.offset + 1;
  task.uncommitted = true;
  tidewatch::v1::Command command;
  std::string error;
  if (!command.ParseFromString(record.value)) {
    error = "not a tidewatch.v1.Command";
  } else if (command.line_id().empty()) {
    error = "command without line_id";
  } else if (command.line_id() != record.key) {
    error = absl::StrCat("line_id '", command.line_id(), "' does not match the record key '",
                         record.key, "'");
  }
  if (!error.empty()) {
    if (FirstReading(malformed_commands_counted_below_, record.partition, record.offset)) {
      ++status_.rejected["malformed_command"];
      ++status_.dead_lettered;
    }
    Hold(options_.dead_letter_topic, record.key, record.value,
         {{"tidewatch-error", error},
          {"tidewatch-reason", "malformed_command"},
          {"tidewatch-source",
           absl::StrCat(record.topic, "/", record.partition, "@", record.offset)}},
         record.partition, task.serial);
    return;
  }
  // Commands keep their order behind any already waiting for a recovery.
  if (!task.deferred_commands.empty() || !ApplyCommand(task, command, record.offset)) {
    task.deferred_commands.emplace_back(std::move(command), record.offset);
  }
}

void StreamProcessor::SortByTopic(Batch& batch) const {
  batch.sources.resize(batch.records.size());
  for (size_t i = 0; i < batch.records.size(); ++i) {
    const std::string& topic = batch.records[i].topic;
    batch.sources[i] = topic == options_.events_topic     ? RecordSource::kEvents
                       : topic == options_.commands_topic ? RecordSource::kCommands
                                                          : RecordSource::kOther;
  }
}

void StreamProcessor::DecodeRecord(const kafka::Record& r, RecordSource source,
                                   events::EventDecoder& decoder, DecodedEvent& d) const {
  d.source = source;
  d.ok = false;
  if (source != RecordSource::kEvents) return;
  d.error = decoder.Parse(r.value, d.event, &d.reason);
  d.ok = d.error.ok();
}

void StreamProcessor::Decode(Batch& batch) {
  batch.decoded.resize(batch.records.size());
  for (size_t i = 0; i < batch.records.size(); ++i) {
    DecodeRecord(batch.records[i], batch.sources[i], batch.decoder, batch.decoded[i]);
  }
}

void StreamProcessor::ApplyBatch(Batch& batch) {
  absl::MutexLock lock(&mu_);
  const absl::Time start = clock_.Now();
  // A policy applied while this batch was polled governs it: in force from
  // the next evaluation, whichever thread applies the batch.
  if (pending_policy_ != nullptr) ApplyPendingPolicy();
  if (batch.decoded.empty()) {
    DecodedEvent d;
    for (size_t i = 0; i < batch.records.size(); ++i) {
      DecodeRecord(batch.records[i], batch.sources[i], *apply_decoder_, d);
      Handle(batch.records[i], d);
    }
    apply_decoder_->Reset();
  } else {
    for (size_t i = 0; i < batch.records.size(); ++i) Handle(batch.records[i], batch.decoded[i]);
  }
  Tick();
  status_.batch_latency.Record(clock_.Now() - start);
}

void StreamProcessor::Handle(const kafka::Record& record, const DecodedEvent& decoded) {
  ++status_.records_consumed;
  if (decoded.source == RecordSource::kCommands) {
    HandleCommand(record);
    return;
  }
  if (decoded.source != RecordSource::kEvents) return;
  auto it = tasks_.find(record.partition);
  if (it == tasks_.end()) {
    // Polled before the partition was revoked (or before its task starts,
    // while its recovery reads): it comes again to its owner.
    ++status_.stale_records_dropped;
    return;
  }
  Task& task = *it->second;
  // Polled before the task (re)started: the partition was repositioned and
  // the record comes again in order.
  if (record.epoch < task.epoch) {
    ++status_.stale_records_dropped;
    return;
  }
  if (record.offset < task.next_offset) return;  // fetched before a seek
  if (task.RestoreMayBeDue()) RestoreDue(task, record.offset);
  task.next_offset = record.offset + 1;
  task.dirty = true;
  task.uncommitted = true;
  if (!decoded.ok) {
    if (record.offset < task.handled_below) return;  // dead-lettered before
    // Dead-lettered again after an aborted transaction (that record was
    // aborted too), but counted once.
    const std::string name(events::RejectReasonName(decoded.reason));
    if (FirstReading(events_counted_below_, record.partition, record.offset)) {
      ++status_.rejected[name];
      ++status_.dead_lettered;
    }
    Hold(options_.dead_letter_topic, record.key, record.value,
         {{"tidewatch-error", std::string(decoded.error.message())},
          {"tidewatch-reason", name},
          {"tidewatch-source",
           absl::StrCat(record.topic, "/", record.partition, "@", record.offset)}},
         record.partition, task.serial);
    return;
  }
  task.engine->Apply(decoded.event);
  // (Trimmed at the batch's tick.)
  task.horizon.emplace_back(events::EventTime(decoded.event), record.offset);
  events_applied_.store(++status_.events_applied, std::memory_order_relaxed);
}

void StreamProcessor::Tick() {
  const absl::Time now = clock_.Now();
  for (auto& [p, task] : tasks_) {
    RestoreDue(*task, -1);
    // Trimmed as it grows, a batch at a time, not only when states are
    // written: between two commits it would hold every event applied (~50 MB
    // a second at full speed, each page new to the heap).
    TrimHorizon(*task);
    // A recovering task replays the last window's events to rebuild its
    // lines' windows: its clock follows them until the replay reaches the
    // saved position (the wall clock would make each of them late).
    if (options_.wall_clock_ticks && !task->Recovering()) task->engine->AdvanceTo(now);
  }
}

absl::Duration StreamProcessor::HorizonKeep(const policy::CompiledPolicy& policy) {
  return engine::ReplayHorizon(policy);
}

void StreamProcessor::TrimHorizon(Task& task) const {
  const absl::Time oldest = task.engine->now() - horizon_keep_;
  while (!task.horizon.empty() && task.horizon.front().first < oldest) task.horizon.pop_front();
}

void StreamProcessor::StateRecords(Task& task, std::vector<kafka::Record>& out) {
  if (task.Recovering()) return;  // mid-replay: the saved state stands
  TrimHorizon(task);
  const absl::Time now = task.engine->now();
  const int64_t replay_from = task.horizon.empty() ? task.next_offset : task.horizon.front().second;
  auto write = [&](const std::string& line) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    absl::StatusOr<LineTideState> st = task.engine->SnapshotTide(line);
    if (!st.ok()) return;
    st->set_events_topic(options_.events_topic);
    st->set_events_partition(task.partition);
    st->set_next_offset(task.next_offset);
    st->set_replay_from_offset(replay_from);
    if (const line::LineState* l = task.engine->FindLine(line)) {
      FillFigures(line, *l, now, st->mutable_figures());
    }
    kafka::Record& r = out.emplace_back();
    r.topic = options_.state_topic;
    r.partition = task.partition;  // the task's, for Produce (not where it goes)
    r.key = line;
    r.value = st->SerializeAsString();
  };
  for (const std::string& line : task.lines) write(line);
  // Lines the policy dropped: their last sequence number, kept for a
  // rollback after a restart.
  for (const auto& [line, sequence] : task.engine->retired_lines()) write(line);
  task.dirty = false;
}

void StreamProcessor::WriteStates(const std::vector<Task*>& tasks) {
  std::vector<kafka::Record> states;
  for (Task* t : tasks) {
    if (t->dirty) StateRecords(*t, states);
  }
  ProduceStates(std::move(states));
}

void StreamProcessor::ProduceStates(std::vector<kafka::Record> states) {
  for (kafka::Record& r : states) {
    // (States are produced for tasks in tasks_, or for none: a point's
    // states of a task gone go with serial 0 and are not retried.)
    Produce(r.topic, r.key, std::move(r.value), {}, r.partition, TaskSerial(r.partition));
    ++status_.state_records_produced;
  }
}

std::vector<StreamProcessor::Task*> StreamProcessor::AllTasks() const {
  std::vector<Task*> all;
  for (const auto& [p, task] : tasks_) all.push_back(task.get());
  return all;
}

bool StreamProcessor::HasUncommittedInput() const {
  for (const auto& [p, task] : tasks_) {
    if (task->Committable()) return true;
  }
  return false;
}

bool StreamProcessor::IdleCommits() const {
  return options_.idle_commit_gap > absl::ZeroDuration() &&
         options_.idle_commit_gap < options_.commit_interval;
}

void StreamProcessor::MaybeCommit(absl::Time now, bool idle) {
  if (!options_.exactly_once) {
    ServeCommitPoint();
    // One point at a time: the next is taken as soon as this one is done
    // (if it is due by then), not an interval or an idle gap after it.
    if (point_.has_value()) return;
  }
  const bool interval_due = now - last_commit_ >= options_.commit_interval;
  const bool idle_due = idle && IdleCommits() &&
                        now - last_idle_commit_ >= options_.idle_commit_gap &&
                        HasUncommittedInput();
  if (!interval_due && !idle_due) return;
  last_commit_ = now;
  if (idle_due) last_idle_commit_ = now;
  if (options_.exactly_once) {
    CommitTransaction();
    return;
  }
  TakeCommitPoint();
  ServeCommitPoint();  // nothing was produced: it can go at once
}

void StreamProcessor::ProduceRetries() {
  for (TaskRecord& r : std::exchange(retry_, {})) {
    if (TaskSerial(r.partition) != r.task) continue;  // see retry_
    Produce(r.record.topic, r.record.key, std::move(r.record.value), std::move(r.record.headers),
            r.partition, r.task);
  }
}

uint64_t StreamProcessor::TaskSerial(int32_t partition) const {
  auto it = tasks_.find(partition);
  return it == tasks_.end() ? 0 : it->second->serial;
}

bool StreamProcessor::RetryingFor(const std::vector<Task*>& tasks) const {
  for (const TaskRecord& r : retry_) {
    for (const Task* t : tasks) {
      if (t->partition == r.partition && t->serial == r.task) return true;
    }
  }
  return false;
}

std::vector<kafka::TopicPartition> StreamProcessor::OffsetsToCommit(
    const std::vector<Task*>& tasks) const {
  std::vector<kafka::TopicPartition> offsets;
  for (Task* t : tasks) {
    if (t->Committable()) {
      offsets.push_back({options_.events_topic, t->partition, t->next_offset});
      if (t->commands_next_offset >= 0 && t->deferred_commands.empty()) {
        offsets.push_back({options_.commands_topic, t->partition, t->commands_next_offset});
      }
    }
  }
  return offsets;
}

void StreamProcessor::TakeCommitPoint() {
  const std::vector<Task*> all = AllTasks();
  ProduceRetries();
  ReleaseHeld();
  if (!retry_.empty()) {
    // Records that could not even be enqueued: what they reflect is not
    // durable; they are tried again at the next interval.
    ++status_.commit_failures;
    return;
  }
  CommitPoint point;
  point.offsets = OffsetsToCommit(all);
  for (Task* t : all) {
    if (!t->dirty || t->Recovering()) continue;
    StateRecords(*t, point.states);
    point.state_partitions.push_back(t->partition);
  }
  if (point.offsets.empty() && point.states.empty()) return;
  for (Task* t : all) {
    if (!t->Recovering()) t->uncommitted = false;
  }
  point.id = ++last_point_id_;
  point.seq = produce_seq_;
  point.undelivered = undelivered_;
  point.taken_at = clock_.Now();
  point_ = std::move(point);
}

bool StreamProcessor::PointCovers(int64_t seq) const {
  return point_.has_value() && seq > point_->from_seq && seq <= point_->seq;
}

void StreamProcessor::ProducePointStates() {
  // Every record before the point is delivered: its state records can go.
  // Their deliveries are counted as they are produced (some may be reported
  // within the loop, while the local queue drains).
  std::vector<kafka::Record> states = std::exchange(point_->states, {});
  point_->from_seq = produce_seq_;
  point_->seq = std::numeric_limits<int64_t>::max();
  const size_t retries = retry_.size();
  ProduceStates(std::move(states));
  if (!point_.has_value()) return;
  point_->seq = produce_seq_;
  if (retry_.size() > retries) point_->failed = true;  // not even enqueued
}

void StreamProcessor::DropCommitPoint() {
  if (!point_.has_value()) return;
  // Its tasks' positions and state are committed by a later point.
  for (const kafka::TopicPartition& tp : point_->offsets) {
    auto it = tasks_.find(tp.partition);
    if (it != tasks_.end()) it->second->uncommitted = true;
  }
  for (int32_t p : point_->state_partitions) {
    auto it = tasks_.find(p);
    if (it != tasks_.end()) it->second->dirty = true;
  }
  point_.reset();
}

void StreamProcessor::RemoveFromCommitPoint(const std::vector<int32_t>& partitions, bool recommit) {
  if (!point_.has_value()) return;
  auto leaving = [&](int32_t p) {
    return std::find(partitions.begin(), partitions.end(), p) != partitions.end();
  };
  if (recommit) {
    for (const kafka::TopicPartition& tp : point_->offsets) {
      auto it = tasks_.find(tp.partition);
      if (leaving(tp.partition) && it != tasks_.end()) it->second->uncommitted = true;
    }
    // Their state as of the point may not be produced yet: the hand-over
    // writes it as of now.
    for (int32_t p : point_->state_partitions) {
      auto it = tasks_.find(p);
      if (leaving(p) && it != tasks_.end()) it->second->dirty = true;
    }
  }
  if (point_->sent) return;  // on its way: its offsets are ours
  std::erase_if(point_->offsets,
                [&](const kafka::TopicPartition& tp) { return leaving(tp.partition); });
  std::erase_if(point_->states, [&](const kafka::Record& r) {
    return leaving(PartitionForKey(r.key, options_.partitions));  // a line's
  });
  std::erase_if(point_->state_partitions, leaving);
  if (point_->offsets.empty() && point_->states.empty() && point_->undelivered == 0) {
    point_.reset();
  }
}

void StreamProcessor::ServeCommitResults() {
  for (const auto& [id, result] : commit_results_->Take()) {
    if (!point_.has_value() || point_->id != id) continue;  // abandoned
    if (result.ok()) {
      ++status_.commits;
      point_.reset();
    } else {
      Error(result);
      ++status_.commit_failures;
      DropCommitPoint();
    }
  }
}

void StreamProcessor::ServeCommitPoint() {
  ServeCommitResults();
  if (!point_.has_value()) return;
  if (point_->sent) {
    if (clock_.Now() - point_->sent_at > options_.flush_timeout) {
      // No verdict yet (the coordinator is away?): a later point commits
      // the positions again; this one's result, if it comes, is ignored.
      Error(absl::DeadlineExceededError(absl::StrCat("offset commit: no result within ",
                                                     absl::FormatDuration(options_.flush_timeout),
                                                     "; trying again")));
      ++status_.commit_failures;
      DropCommitPoint();
    }
    return;
  }
  if (point_->failed) {
    // A record it covers was not delivered (the delivery error is in
    // last_error); it is produced again at the next interval, and the next
    // point covers it.
    ++status_.commit_failures;
    DropCommitPoint();
    return;
  }
  if (point_->undelivered > 0) return;
  if (!point_->states.empty()) {
    ProducePointStates();
    return;  // committed once they are delivered
  }
  if (point_->offsets.empty()) {  // state only (an escalation of a tick)
    point_.reset();
    return;
  }
  const int64_t id = point_->id;
  if (absl::Status s = consumer_.CommitAsync(
          point_->offsets,
          [results = commit_results_, id](const absl::Status& r) { results->Add(id, r); });
      !s.ok()) {
    Error(s);
    ++status_.commit_failures;
    DropCommitPoint();
    return;
  }
  point_->sent = true;
  point_->sent_at = clock_.Now();
}

bool StreamProcessor::CommitTasks(const std::vector<Task*>& tasks, bool write_states) {
  if (options_.exactly_once) return CommitTransaction();
  // This commit speaks for these tasks, whatever a commit point in flight
  // does (its result is not waited for; its state records not produced yet
  // are written as of now).
  std::vector<int32_t> partitions;
  for (Task* t : tasks) partitions.push_back(t->partition);
  RemoveFromCommitPoint(partitions, /*recommit=*/true);
  // Everything produced so far first, then the state that reflects it
  // (never ahead of it: see CommitPoint), then the positions.
  ProduceRetries();
  ReleaseHeld();
  auto flush = [&] {
    if (absl::Status s = producer_.Flush(options_.flush_timeout); !s.ok()) {
      Error(s);
      ++status_.commit_failures;
      return false;
    }
    if (RetryingFor(tasks)) {
      // Something of theirs was not delivered: it is produced again before
      // their commit (another task's failure does not hold them back).
      ++status_.commit_failures;
      return false;
    }
    return true;
  };
  if (!flush()) return false;
  if (write_states) {
    WriteStates(tasks);
    if (!flush()) return false;
  }
  std::vector<kafka::TopicPartition> offsets = OffsetsToCommit(tasks);
  if (offsets.empty()) return true;
  // Synchronous, bounded by ConsumerOptions::commit_timeout.
  absl::Status s = consumer_.Commit(offsets, /*async=*/false);
  ServeCommitResults();  // a point's result may have come meanwhile
  if (!s.ok()) {
    Error(s);
    ++status_.commit_failures;
    return false;
  }
  for (Task* t : tasks) {
    if (!t->Recovering()) t->uncommitted = false;
  }
  ++status_.commits;
  return true;
}

absl::Status StreamProcessor::TxnCall(const std::function<absl::Status()>& call) {
  const absl::Time deadline = clock_.Now() + options_.txn_call_timeout;
  for (;;) {
    absl::Status s = call();
    if (s.ok() || kafka::GetTxnError(s) != kafka::TxnError::kRetriable ||
        clock_.Now() >= deadline) {
      return s;
    }
    Error(s);
    producer_.Poll(absl::Milliseconds(100));
  }
}

void StreamProcessor::Fence(const std::string& reason) {
  if (status_.fenced) return;
  status_.fenced = true;
  status_.fenced_reason = reason;
  halting_.store(true);
  Error(absl::AbortedError(absl::StrCat("fenced: ", reason)));
  if (txn_open_) {
    // Best effort: the broker aborts it anyway (fencing or timeout).
    producer_.AbortTransaction(options_.txn_call_timeout).IgnoreError();
    txn_open_ = false;
  }
  // The tasks go at the next safe point (end of Step, Shutdown).
}

void StreamProcessor::TxnFailed(const absl::Status& status) {
  Error(status);
  ++status_.commit_failures;
  const std::string name = kafka::KafkaErrorName(status);
  // A newer producer with our transactional.id, or a newer group generation.
  const bool fenced = kafka::GetTxnError(status) == kafka::TxnError::kFatal ||
                      name == "PRODUCER_FENCED" || name == "_FENCED" ||
                      name == "INVALID_PRODUCER_EPOCH" || name == "FENCED_INSTANCE_ID" ||
                      name == "ILLEGAL_GENERATION" || name == "UNKNOWN_MEMBER_ID";
  if (fenced) {
    Fence(absl::StrCat("transactional producer fenced: ", status.message()));
    return;
  }
  // Abortable (or not transactional at all, e.g. no group metadata): abort,
  // then rewind to what is committed.
  if (txn_open_) {
    abort_pending_ = true;
    halting_.store(true);
    FinishAbort();
    return;
  }
  ++status_.txn_aborts;
  Rewind();
}

bool StreamProcessor::FinishAbort() {
  absl::Status a =
      TxnCall([this] { return producer_.AbortTransaction(options_.txn_call_timeout); });
  if (a.ok()) {
    abort_pending_ = false;
    halting_.store(status_.fenced);
    txn_open_ = false;
    ++status_.txn_aborts;
    Rewind();
    return true;
  }
  if (kafka::GetTxnError(a) == kafka::TxnError::kRetriable) {
    // E.g. the broker is down: nothing is consumed or produced until the
    // abort goes through (retried every Step).
    Error(a);
    return false;
  }
  abort_pending_ = false;
  Fence(absl::StrCat("cannot abort the transaction: ", a.message()));
  return false;
}

void StreamProcessor::Rewind() {
  txn_error_ = absl::OkStatus();
  std::vector<int32_t> partitions;
  // The replay sets aside again what the aborted transaction did: reported
  // once (StreamStatus::rejected feeds counters, which must neither count
  // it twice nor go down meanwhile).
  std::map<int32_t, std::map<std::string, int64_t>> credits;
  for (const auto& [p, task] : tasks_) {
    partitions.push_back(p);
    std::map<std::string, int64_t> since_commit =
        ReportedSetAside(*task, task->engine->SetAsideCounts());
    SubtractCounts(since_commit, ReportedSetAside(*task, task->committed_set_aside));
    if (!since_commit.empty()) credits[p] = std::move(since_commit);
  }
  ClearTasks();
  // Whatever the tasks' erasure left of the aborted transaction's records
  // (retries, held) goes too.
  retry_.clear();
  held_.clear();
  held_bytes_ = 0;
  // Commands consumed in the aborted transaction are read again: back to
  // the committed commands offsets (recovery seeks the events partitions).
  std::vector<kafka::TopicPartition> commands;
  for (int32_t p : partitions) commands.push_back({options_.commands_topic, p});
  absl::StatusOr<std::vector<kafka::TopicPartition>> committed =
      consumer_.Committed(commands, absl::Seconds(10));
  if (!committed.ok()) {
    // From the beginning would apply every command again, from here would
    // skip the aborted transaction's: neither is safe.
    Fence(absl::StrCat("cannot rewind the commands after an aborted transaction: ",
                       committed.status().message()));
    return;
  }
  for (const kafka::TopicPartition& tp : *committed) {
    const int64_t at = tp.offset >= 0 ? tp.offset : kafka::kOffsetBeginning;
    if (absl::Status s =
            consumer_.Seek({options_.commands_topic, tp.partition, at}, absl::Seconds(5));
        !s.ok()) {
      // Staying put would skip the aborted transaction's commands.
      Fence(absl::StrCat("cannot rewind the commands of partition ", tp.partition,
                         " after an aborted transaction: ", s.message()));
      return;
    }
  }
  // The probes see them recovering while they restart (their saved state
  // is read under mu_: an abort is rare, and the worker waits for it).
  status_.ready = false;
  status_.recovering = partitions;
  PublishHealth();
  for (RecoveryRead& read : ReadRecoveries(partitions)) {
    StartTask(/*rewinding=*/true, std::move(read));
  }
  for (auto& [p, credit] : credits) {
    if (auto it = tasks_.find(p); it != tasks_.end()) it->second->set_aside_credit = credit;
  }
  UpdateReady();
}

bool StreamProcessor::CommitTransaction() {
  if (status_.fenced) return false;
  if (abort_pending_ && !FinishAbort()) return false;
  ReleaseHeld();  // into the transaction, ahead of the states
  WriteStates(AllTasks());
  if (!txn_error_.ok()) {  // a produce failed: this transaction cannot commit
    TxnFailed(std::exchange(txn_error_, absl::OkStatus()));
    return false;
  }
  const std::vector<Task*> all = AllTasks();
  const std::vector<kafka::TopicPartition> offsets = OffsetsToCommit(all);
  if (!txn_open_ && offsets.empty()) return true;
  if (!txn_open_) {
    if (absl::Status s = producer_.BeginTransaction(); !s.ok()) {
      TxnFailed(s);
      return false;
    }
    txn_open_ = true;
  }
  // The offsets are what fences a member of an older group generation (a
  // zombie): a transaction with nothing consumed (a tick's re-page, a
  // feed gone stale) sends an owned partition's committed offset again,
  // unchanged, so that it is fenced too.
  std::vector<kafka::TopicPartition> to_send = offsets;
  for (size_t i = 0; to_send.empty() && i < all.size(); ++i) {
    if (all[i]->committed_offset >= 0) {
      to_send.push_back({options_.events_topic, all[i]->partition, all[i]->committed_offset});
    }
  }
  if (!to_send.empty()) {
    absl::StatusOr<kafka::ConsumerGroupMetadata> group = consumer_.GroupMetadata();
    if (!group.ok()) {
      TxnFailed(group.status());
      return false;
    }
    if (absl::Status s = TxnCall([&] {
          return producer_.SendOffsetsToTransaction(to_send, *group, options_.txn_call_timeout);
        });
        !s.ok()) {
      TxnFailed(s);
      return false;
    }
  }
  if (absl::Status s =
          TxnCall([this] { return producer_.CommitTransaction(options_.txn_call_timeout); });
      !s.ok()) {
    TxnFailed(s);
    return false;
  }
  txn_open_ = false;
  for (const kafka::TopicPartition& tp : offsets) {
    auto it = tasks_.find(tp.partition);
    if (tp.topic == options_.events_topic && it != tasks_.end()) {
      it->second->committed_offset = tp.offset;
    }
  }
  for (auto& [p, task] : tasks_) {
    if (!task->Recovering()) task->uncommitted = false;
    task->committed_set_aside = task->engine->SetAsideCounts();
  }
  // Delivery reports arrive during the commit's flush.
  if (!txn_error_.ok()) {
    Error(std::exchange(txn_error_, absl::OkStatus()));
  }
  ++status_.commits;
  return true;
}

absl::Status StreamProcessor::Step(absl::Duration poll_timeout) {
  // With the engine thread, mu_ is the worker's while it applies a batch
  // handed over: take it here only when there is something to check, so
  // that this Step polls while the worker applies.
  if (!options_.engine_thread || halting_.load()) {
    absl::MutexLock lock(&mu_);
    if (status_.fenced) return absl::AbortedError(absl::StrCat("fenced: ", status_.fenced_reason));
    if (abort_pending_ && !FinishAbort()) {
      if (status_.fenced) {
        ClearTasks();
        UpdateReady();
        return absl::AbortedError(absl::StrCat("fenced: ", status_.fenced_reason));
      }
      return absl::UnavailableError(
          absl::StrCat("waiting to abort the transaction: ", status_.last_error));
    }
  }
  // Poll (and with the engine thread decode and queue) the next batch.
  Batch& next = *filling_;
  next.Clear();  // keeps the storage of what the last poll into it held
  absl::Duration timeout = poll_timeout;
  if (commit_under_way_) timeout = std::min(timeout, kCommitUnderWayPoll);
  if (idle_commit_due_ != absl::InfiniteFuture()) {
    timeout = std::min(timeout, std::max(absl::ZeroDuration(), idle_commit_due_ - clock_.Now()));
  }
  absl::Status poll = consumer_.PollBatch(options_.max_batch, timeout, &next.records);
  SortByTopic(next);
  const bool idle = next.records.empty();
  // A batch that drained what was fetched (fewer records than asked for)
  // may have reached the end of every events partition: then this Step
  // commits as an idle one would, instead of the next Step finding out a
  // whole poll timeout later (a backlog is committed as soon as it is
  // applied; at low traffic an escalation is committed a poll timeout
  // sooner).
  std::optional<std::vector<kafka::PartitionLag>> lag;
  bool caught_up = false;
  if (!idle && next.records.size() < options_.max_batch) {
    if (absl::StatusOr<std::vector<kafka::PartitionLag>> l = consumer_.Lag(); l.ok()) {
      caught_up = ReadToHighWatermark(*l, options_.events_topic);
      lag = *std::move(l);
    }
  }
  bool ticked = false;  // ApplyBatch ends with a tick
  bool hand_over = false;
  if (!options_.engine_thread) {
    if (!idle) {
      ApplyBatch(next);  // decodes as it goes
      next.Clear();
      ticked = true;
    }
  } else {
    // Whoever has time decodes: the poller when the worker has batches
    // waiting behind the one it applies, else the worker as it applies.
    if (!idle && WorkerBacklogged()) Decode(next);
    const bool halting = halting_.load();
    const absl::Time now = clock_.Now();
    if (!idle && !halting) {
      // Records of partitions that move before the worker gets to them are
      // dropped there (task gone, or Record::epoch older than the task).
      HandOver();
    }
    if (!idle && !halting && !caught_up && poll.ok() && now - last_bookkeeping_ < kBookkeeping &&
        ++steps_since_bookkeeping_ < kBookkeepingSteps) {
      return poll;
    }
    // An idle or caught-up Step returns with every batch polled so far
    // applied; a halting one settles the fence or abort first and hands
    // over after.
    const bool settle = idle || caught_up || halting;
    if (settle) WaitForWorker();
    hand_over = !idle && halting;
    // Bookkeeping that is only due (by time or Steps) does not wait for the
    // batch the worker is applying: the poller polls on (the batch after
    // would otherwise wait too) and the next Step tries again.
    if (!settle && poll.ok() && now - last_bookkeeping_ < kBookkeeping + kBookkeepingPatience &&
        steps_since_bookkeeping_ < kBookkeepingSteps + kBookkeepingPatienceSteps) {
      if (!mu_.TryLock()) return poll;
      const absl::Status kept = Bookkeep(poll, idle, caught_up, ticked, std::move(lag));
      mu_.Unlock();
      return kept.ok() ? poll : kept;
    }
  }
  absl::Status kept;
  {
    absl::MutexLock lock(&mu_);
    kept = Bookkeep(poll, idle, caught_up, ticked, std::move(lag));
  }
  if (!kept.ok()) return kept;
  if (hand_over) HandOver();
  return poll;
}

absl::Status StreamProcessor::Bookkeep(const absl::Status& poll, bool idle, bool caught_up,
                                       bool ticked,
                                       std::optional<std::vector<kafka::PartitionLag>> lag) {
  if (!poll.ok()) Error(poll);
  // Order as in ApplyBatch: policy, (batch,) tick.
  if (pending_policy_ != nullptr) ApplyPendingPolicy();
  if (!ticked) Tick();
  const absl::Time now = clock_.Now();
  last_bookkeeping_ = now;
  steps_since_bookkeeping_ = 0;
  // Fresh when idle and on the first batch after idle, at most every
  // kLagRefresh while batches keep coming.
  if (lag.has_value()) {
    status_.lag = *std::move(lag);
    last_lag_ = now;
  } else if (idle || was_idle_ || now - last_lag_ >= kLagRefresh) {
    if (absl::StatusOr<std::vector<kafka::PartitionLag>> l = consumer_.Lag(); l.ok()) {
      status_.lag = *std::move(l);
    }
    last_lag_ = now;
  }
  was_idle_ = idle;
  // Caught up: what the batches (and the tick) produced leaves now (see
  // held_), not at the next commit.
  if (idle || caught_up) ReleaseHeld();
  producer_.Poll(absl::ZeroDuration());
  MaybeCommit(now, idle || caught_up);
  if ((idle || caught_up) && !options_.exactly_once) {
    // Nothing to apply: wait for the point's deliveries here, first those of
    // the records before it, then its states' (a flush sends at once, not
    // after linger.ms), rather than Step after Step (kCommitUnderWayPoll
    // each, plus the linger). A backlog's last events, and at low traffic
    // each escalation, are committed that much sooner.
    for (int stage = 0; stage < 2 && point_.has_value() && !point_->sent && !point_->failed;
         ++stage) {
      // DeadlineExceeded: still in flight (the broker slow or away); the
      // next Steps serve the point as before.
      if (!producer_.Flush(kCommitUnderWayPoll).ok()) break;
      ServeCommitPoint();
    }
  }
  // A commit point waits for its records' delivery reports, then for the
  // commit's result: both come within milliseconds, served by the next
  // Steps, which then poll only briefly (an idle Step would wait out the
  // caller's whole poll timeout first).
  commit_under_way_ = point_.has_value() && clock_.Now() - point_->taken_at < kCommitUnderWayFor;
  idle_commit_due_ =
      (idle || caught_up) && !point_.has_value() && IdleCommits() && HasUncommittedInput()
          ? last_idle_commit_ + options_.idle_commit_gap
          : absl::InfiniteFuture();
  if (status_.fenced) ClearTasks();
  UpdateReady();
  if (status_.fenced) return absl::AbortedError(absl::StrCat("fenced: ", status_.fenced_reason));
  return absl::OkStatus();
}

absl::Status StreamProcessor::Shutdown(absl::Duration timeout) {
  StopWorker();  // applies the batches it was handed first
  bool fenced = false;
  {
    absl::MutexLock lock(&mu_);
    if (status_.fenced) {
      ClearTasks();  // nothing more is published
      fenced = true;
    }
  }
  if (fenced) {
    consumer_.Close().IgnoreError();
    absl::MutexLock lock(&mu_);
    return absl::AbortedError(absl::StrCat("fenced: ", status_.fenced_reason));
  }
  {
    absl::MutexLock lock(&mu_);
    if (!CommitTasks(AllTasks(), /*write_states=*/true)) {
      if (status_.fenced) {
        return absl::AbortedError(absl::StrCat("fenced: ", status_.fenced_reason));
      }
      return absl::UnavailableError(absl::StrCat(
          "shutdown: outputs not durable, offsets not committed: ", status_.last_error));
    }
  }
  // Leaving the group revokes every partition (OnRevoked commits again:
  // nothing new by now).
  absl::Status s = consumer_.Close();
  absl::MutexLock lock(&mu_);
  if (absl::Status f = producer_.Flush(timeout); !f.ok()) return f;
  return s;
}

void StreamProcessor::SetPolicy(std::shared_ptr<const policy::CompiledPolicy> policy,
                                int64_t version) {
  absl::MutexLock lock(&mu_);
  pending_policy_ = std::move(policy);
  pending_policy_version_ = version;
}

std::shared_ptr<const policy::CompiledPolicy> StreamProcessor::policy() const {
  absl::MutexLock lock(&mu_);
  return pending_policy_ != nullptr ? pending_policy_ : policy_;
}

int64_t StreamProcessor::policy_version() const {
  absl::MutexLock lock(&mu_);
  return pending_policy_ != nullptr ? pending_policy_version_ : policy_version_;
}

void StreamProcessor::ApplyPendingPolicy() {
  std::shared_ptr<const policy::CompiledPolicy> next = std::exchange(pending_policy_, nullptr);
  if (absl::Status s = engine::CheckPolicyChange(*policy_, *next); !s.ok()) {
    Error(absl::Status(s.code(), absl::StrCat("policy version ", pending_policy_version_,
                                              " not applied: ", s.message())));
    return;
  }
  for (auto& [p, task] : tasks_) {
    // Recovering lines the new version drops: their saved state (tide,
    // call-ups, sequence) is put back first, so that the drop stands them
    // down and retires them as it does a live line.
    for (auto it = task->pending.begin(); it != task->pending.end();) {
      if (next->FindLine(it->first) != nullptr) {
        ++it;
        continue;
      }
      if (absl::Status s = task->engine->RestoreTide(it->second, /*page_added_teams=*/false);
          !s.ok()) {
        Error(s);
      }
      it = task->pending.erase(it);
    }
    if (absl::Status s = task->engine->ReplacePolicy(next, pending_policy_version_); !s.ok()) {
      Error(s);  // cannot happen after the check above
    }
    task->dirty = true;
  }
  policy_ = std::move(next);
  horizon_keep_ = HorizonKeep(*policy_);
  policy_version_ = pending_policy_version_;
  status_.policy_version = policy_version_;
  for (auto& [p, task] : tasks_) task->lines = OwnedLines(p);
}

void StreamProcessor::EraseTask(int32_t partition) {
  // Its records awaiting a retry or held go with it (see retry_, held_),
  // also those of a task that never got into tasks_ (a restart that failed
  // after raising them).
  std::erase_if(retry_, [partition](const TaskRecord& r) { return r.partition == partition; });
  std::erase_if(held_, [partition](const TaskRecord& r) { return r.partition == partition; });
  held_bytes_ = 0;
  for (const TaskRecord& r : held_) held_bytes_ += r.Bytes();
  auto it = tasks_.find(partition);
  if (it == tasks_.end()) return;
  const Task& task = *it->second;
  for (const auto& [k, v] : ReportedSetAside(task, task.engine->SetAsideCounts())) {
    gone_set_aside_[k] += v;
  }
  tasks_.erase(it);
}

void StreamProcessor::SubtractCounts(std::map<std::string, int64_t>& counts,
                                     const std::map<std::string, int64_t>& less) {
  for (const auto& [k, v] : less) {
    auto it = counts.find(k);
    if (it == counts.end()) continue;
    it->second -= v;
    if (it->second <= 0) counts.erase(it);
  }
}

std::map<std::string, int64_t> StreamProcessor::ReportedSetAside(
    const Task& task, std::map<std::string, int64_t> counts) {
  SubtractCounts(counts, task.set_aside_credit);
  return counts;
}

void StreamProcessor::ClearTasks() {
  std::vector<int32_t> partitions;
  for (const auto& [p, task] : tasks_) partitions.push_back(p);
  for (int32_t p : partitions) EraseTask(p);
}

StreamStatus StreamProcessor::Status() const {
  absl::MutexLock lock(&mu_);
  StreamStatus s = status_;
  for (const auto& [k, v] : gone_set_aside_) s.rejected[k] += v;
  for (const auto& [p, task] : tasks_) {
    for (const auto& [k, v] : ReportedSetAside(*task, task->engine->SetAsideCounts())) {
      s.rejected[k] += v;
    }
  }
  s.consumer_health = consumer_.Health();
  s.producer_health = producer_.Health();
  return s;
}

std::vector<LineStatus> StreamProcessor::Lines() const {
  absl::MutexLock lock(&mu_);
  std::vector<LineStatus> out;
  for (const auto& [p, task] : tasks_) {
    for (const std::string& id : task->lines) {
      const line::LineState* l = task->engine->FindLine(id);
      if (l == nullptr) continue;
      LineStatus ls;
      ls.line_id = id;
      ls.partition = p;
      ls.tide = task->engine->Tide(id);
      ls.totals = line::MakeKpis(l->totals(), l->totals_max_wait_ns());
      for (int i = 0; i < l->windows().num_windows(); ++i) {
        ls.windows.emplace_back(
            l->windows().window(i),
            line::MakeKpis(l->windows().Running(i), l->windows().RunningMaxWaitNs(i)));
      }
      ls.calls_waiting = l->calls_waiting();
      ls.longest_waiting = l->longest_waiting();
      ls.agents = l->agents();
      ls.capacity = l->Capacity();
      ls.open_callups = task->engine->OpenCallUps(id);
      ls.last_event = l->last_event_time();
      ls.engine_time = task->engine->now();
      if (auto pending = task->pending.find(id); pending != task->pending.end()) {
        // Frozen until its saved state is restored: show that state, not
        // the calm of a fresh line.
        const LineTideState& st = pending->second;
        ls.recovering = true;
        ls.tide = task->engine->SavedTide(st);
        ls.open_callups.assign(st.open_callups().begin(), st.open_callups().end());
        if (absl::StatusOr<window::WindowStats> tot = engine::TotalsFromProto(st.totals());
            st.has_totals() && tot.ok()) {
          ls.totals = line::MakeKpis(*tot, tot->max_wait_ns);
        }
      }
      out.push_back(std::move(ls));
    }
  }
  std::sort(out.begin(), out.end(),
            [](const LineStatus& a, const LineStatus& b) { return a.line_id < b.line_id; });
  return out;
}

}  // namespace tidewatch::stream
