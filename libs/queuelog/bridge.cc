#include "queuelog/bridge.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"

namespace tidewatch::queuelog {

QueueLogBridge::QueueLogBridge(FileFollower& follower, const QueueLogMapper& mapper,
                               kafka::Producer& producer, BridgeOptions options, Log log)
    : follower_(follower),
      mapper_(mapper),
      producer_(producer),
      options_(std::move(options)),
      log_(std::move(log)) {}

absl::Status QueueLogBridge::Start() {
  if (!options_.checkpoint_path.empty()) {
    absl::StatusOr<std::optional<Checkpoint>> c = LoadCheckpoint(options_.checkpoint_path);
    if (!c.ok()) return c.status();
    if (c->has_value()) {
      if ((*c)->path != follower_.path()) {
        return absl::FailedPreconditionError(
            absl::StrCat("checkpoint ", options_.checkpoint_path, " is for ", (*c)->path, ", not ",
                         follower_.path(), ": remove it to start afresh"));
      }
      follower_.StartAt((*c)->position, (*c)->modified_ns, (*c)->tail);
      checkpointed_ = (*c)->position;
      has_checkpoint_ = true;
      Emit(absl::StrCat("resuming ", follower_.path(), " at byte ", checkpointed_.offset, " (line ",
                        checkpointed_.line, ", inode ", checkpointed_.inode, ")"));
      return absl::OkStatus();
    }
  }
  if (!options_.from_start) {
    follower_.StartAtEnd();
    // Opens the file (if it exists) at its end, so a failed first batch
    // rewinds to there rather than to the start of the file.
    absl::StatusOr<int> opened = follower_.Poll(0, [](const FileFollower::Line&) {});
    if (!opened.ok()) return opened.status();
    checkpointed_ = follower_.position();
  }
  Emit(absl::StrCat("following ", follower_.path(),
                    options_.from_start ? " from its start" : " from its end"));
  return absl::OkStatus();
}

absl::StatusOr<int> QueueLogBridge::Step() {
  // This Step's delivery reports. Some may come after it has given up (its
  // flush timed out while the broker was away): they are counted here, kept
  // alive by the callbacks, never in a later Step's tally.
  struct Tally {
    int64_t failed = 0;
    absl::Status first_error;
  };
  const auto tally = std::make_shared<Tally>();
  int64_t produced = 0;
  absl::Status enqueue_error;
  auto on_delivery = [tally](const absl::Status& s, const kafka::Record&) {
    if (!s.ok() && tally->failed++ == 0) tally->first_error = s;
  };
  absl::StatusOr<int> n =
      follower_.Poll(options_.max_batch_lines, [&](const FileFollower::Line& line) {
        if (!enqueue_error.ok()) return;
        MapResult r;
        if (line.too_long) {
          r.outcome = MapOutcome::kSkipped;
          r.reason = SkipReason::kTooLong;
          r.message = "line too long";
        } else {
          r = mapper_.Map(line.text, line.offset, event_);
        }
        // A line read again after a failed delivery is not counted (nor its
        // skip logged) again.
        const uint64_t inode = follower_.position().inode;
        if (follower_.stats().truncations != counted_truncations_) {
          counted_truncations_ = follower_.stats().truncations;
          // The file starts again; unless the rest of its old content is
          // read from its copy (another inode, the same offsets).
          if (inode == counted_.inode) {
            counted_ = {};
          } else {
            counted_.inode = inode;
          }
        }
        const bool again = inode == counted_.inode && line.offset < counted_.offset;
        if (!again) {
          stats_.mapped.Add(r);
          counted_ = {inode, line.offset + 1, 0};
        }
        const bool logged =
            !again && (r.outcome == MapOutcome::kSkipped || r.wait_dropped) &&
            (skips_logged_++ < options_.max_logged_skips || skips_logged_ % 1000 == 0);
        if (r.outcome == MapOutcome::kSkipped) {
          if (logged) {
            Emit(absl::StrCat(follower_.path(), ":", line.number, " (byte ", line.offset,
                              "): skipped (", std::string(SkipReasonName(r.reason)),
                              "): ", r.message));
          }
          return;
        }
        if (logged) {
          Emit(absl::StrCat(follower_.path(), ":", line.number, " (byte ", line.offset,
                            "): published without its wait: ", r.message));
        }
        if (r.outcome != MapOutcome::kEvent) return;
        for (int attempt = 0;; ++attempt) {
          absl::Status s = producer_.Produce(options_.topic, event_.line_id(),
                                             event_.SerializeAsString(), {}, on_delivery);
          if (s.ok()) break;
          if (s.code() != absl::StatusCode::kResourceExhausted || attempt > 600) {
            enqueue_error = s;
            return;
          }
          producer_.Poll(absl::Milliseconds(100));  // local queue full
        }
        ++produced;
      });
  for (const std::string& notice : follower_.TakeNotices()) Emit(notice);
  absl::Status flushed = producer_.Flush(options_.delivery_timeout);
  if (!n.ok()) {
    // A read error mid-batch: publish nothing as done; start again from the
    // checkpoint (the lines produced so far carry the same ids next time).
    follower_.Rewind(checkpointed_);
    return n.status();
  }
  const int64_t failed = tally->failed;
  if (!enqueue_error.ok() || !flushed.ok() || failed > 0) {
    ++stats_.delivery_failures;
    absl::Status why = !enqueue_error.ok() ? enqueue_error
                       : !flushed.ok()     ? flushed
                                           : tally->first_error;
    follower_.Rewind(checkpointed_);
    Emit(absl::StrCat("publishing failed (", failed, " of ", produced, " events not delivered): ",
                      why.message(), "; will retry from the checkpoint"));
    return absl::UnavailableError(
        absl::StrCat("delivery to ", options_.topic, " failed: ", why.message()));
  }
  stats_.published += produced;
  const FilePosition now = follower_.position();
  if (!has_checkpoint_ || !(now == checkpointed_)) {
    if (!options_.checkpoint_path.empty()) {
      absl::Status s =
          SaveCheckpoint(options_.checkpoint_path,
                         {follower_.path(), now, follower_.modified_ns(), follower_.fingerprint()});
      if (!s.ok()) return s;
      ++stats_.checkpoints;
    }
    checkpointed_ = now;
    has_checkpoint_ = true;
    follower_.Checkpointed(now);
  }
  return *n;
}

std::string BridgeMetricsText(const BridgeStats& stats, const FileFollower::Stats& file,
                              const FilePosition& checkpoint, absl::Time process_start,
                              absl::Time last_loss) {
  std::string out;
  auto metric = [&](const char* name, const char* type, const char* help) {
    absl::StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
  };
  metric("tidewatch_queuelog_lines_total", "counter", "queue_log lines read.");
  absl::StrAppend(&out, "tidewatch_queuelog_lines_total ", stats.mapped.lines, "\n");
  metric("tidewatch_queuelog_events_published_total", "counter",
         "CallEvents delivered to Kafka (delivery confirmed).");
  absl::StrAppend(&out, "tidewatch_queuelog_events_published_total ", stats.published, "\n");
  metric("tidewatch_queuelog_lines_skipped_total", "counter",
         "Malformed or unmappable lines, by reason.");
  for (int i = 0; i < kNumSkipReasons; ++i) {
    absl::StrAppend(&out, "tidewatch_queuelog_lines_skipped_total{reason=\"",
                    std::string(SkipReasonName(static_cast<SkipReason>(i))), "\"} ",
                    stats.mapped.skipped[i], "\n");
  }
  metric("tidewatch_queuelog_lines_ignored_total", "counter",
         "Known events that carry nothing for tidewatch, by event.");
  for (const auto& [event, n] : stats.mapped.ignored) {
    absl::StrAppend(&out, "tidewatch_queuelog_lines_ignored_total{event=\"", event, "\"} ", n,
                    "\n");
  }
  metric("tidewatch_queuelog_waits_dropped_total", "counter",
         "Answered/abandoned events published without their wait: queue_log gave a negative "
         "holdtime/waittime (the clock stepped back).");
  absl::StrAppend(&out, "tidewatch_queuelog_waits_dropped_total ", stats.mapped.wait_dropped, "\n");
  metric("tidewatch_queuelog_delivery_failures_total", "counter",
         "Batches whose delivery failed (retried from the checkpoint).");
  absl::StrAppend(&out, "tidewatch_queuelog_delivery_failures_total ", stats.delivery_failures,
                  "\n");
  metric("tidewatch_queuelog_rotations_total", "counter", "File rotations followed.");
  absl::StrAppend(&out, "tidewatch_queuelog_rotations_total ", file.rotations, "\n");
  metric("tidewatch_queuelog_truncations_total", "counter", "Truncations (copytruncate) seen.");
  absl::StrAppend(&out, "tidewatch_queuelog_truncations_total ", file.truncations, "\n");
  metric("tidewatch_queuelog_lost_files_total", "counter",
         "Checkpointed files rotated away and not found.");
  absl::StrAppend(&out, "tidewatch_queuelog_lost_files_total ", file.lost_files, "\n");
  metric("tidewatch_queuelog_checkpoint_line", "gauge",
         "Line number of the last checkpointed line in the current file.");
  absl::StrAppend(&out, "tidewatch_queuelog_checkpoint_line ", checkpoint.line, "\n");
  metric("tidewatch_queuelog_checkpoint_offset_bytes", "gauge",
         "Byte offset of the checkpoint in the current file.");
  absl::StrAppend(&out, "tidewatch_queuelog_checkpoint_offset_bytes ", checkpoint.offset, "\n");
  metric("tidewatch_queuelog_last_loss_timestamp_seconds", "gauge",
         "When lost_files last grew (Unix seconds; 0: never).");
  absl::StrAppend(&out, "tidewatch_queuelog_last_loss_timestamp_seconds ",
                  last_loss == absl::InfinitePast() ? 0 : absl::ToUnixSeconds(last_loss), "\n");
  if (process_start != absl::InfinitePast()) {
    metric("process_start_time_seconds", "gauge",
           "Start time of the process since the Unix epoch in seconds.");
    absl::StrAppend(&out, "process_start_time_seconds ", absl::ToUnixSeconds(process_start), "\n");
  }
  return out;
}

}  // namespace tidewatch::queuelog
