// The queue_log -> Kafka bridge loop, as a library (services/queuelog-bridge
// is a thin main over it; tests drive it directly).
//
// Each Step(): poll the FileFollower for new lines, map them
// (QueueLogMapper), produce the events to the topic (binary protobuf,
// key = line_id), wait for every delivery report (Flush), and only then
// write the checkpoint (path, inode, byte offset, line number, the file's
// modification time, a fingerprint of the bytes before the offset). If any
// delivery fails, nothing is checkpointed and the follower is rewound to the
// last checkpoint, so the same lines are produced again on the next Step
// (same event ids: the engine applies them once). So a crash or restart
// neither skips nor repeats a line beyond what the checkpoint covers.
//
//   QueueLogBridge bridge(follower, mapper, *producer, options, log);
//   RETURN_IF_ERROR(bridge.Start());          // loads the checkpoint
//   while (running) {
//     absl::StatusOr<int> n = bridge.Step();  // lines handled
//     if (n.ok() && *n == 0) sleep(poll_interval);
//   }
//
// Log lines never contain a caller number: skipped lines (and events
// published without their wait) are logged as "line N (byte B): reason",
// with only fields that cannot be personal data.
#ifndef TIDEWATCH_LIBS_QUEUELOG_BRIDGE_H_
#define TIDEWATCH_LIBS_QUEUELOG_BRIDGE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "kafka/kafka.h"
#include "queuelog/file_follower.h"
#include "queuelog/queue_log.h"

namespace tidewatch::queuelog {

// Settings of one bridge.
struct BridgeOptions {
  std::string topic = "telephony.call-events";
  // Where the checkpoint lives; empty: no checkpoint (tests, one-off loads).
  std::string checkpoint_path;
  // Without a checkpoint: read the file from its start (true) or only new
  // lines (false).
  bool from_start = true;
  // Lines per Step (one delivery wait and checkpoint per Step).
  int max_batch_lines = 20000;
  // How long Step waits for delivery reports.
  absl::Duration delivery_timeout = absl::Seconds(30);
  // Skipped lines logged one by one before only every 1000th is.
  int64_t max_logged_skips = 100;
};

// Totals since Start.
struct BridgeStats {
  MapCounters mapped;
  int64_t published = 0;          // delivered events
  int64_t delivery_failures = 0;  // Steps whose deliveries failed
  int64_t checkpoints = 0;
};

// Follows a queue_log into Kafka; see the file comment. Not thread-safe.
class QueueLogBridge {
 public:
  using Log = std::function<void(const std::string& message)>;

  // All references must outlive the bridge. `log` may be null.
  QueueLogBridge(FileFollower& follower, const QueueLogMapper& mapper, kafka::Producer& producer,
                 BridgeOptions options, Log log);

  // Loads the checkpoint (if any) and positions the follower. Fails on a
  // corrupt checkpoint or one written for another path.
  absl::Status Start();

  // One round; returns the lines handled (0: nothing new). An error means
  // delivery failed (the lines will be retried) or the file could not be
  // read; the caller backs off and calls Step again.
  absl::StatusOr<int> Step();

  const BridgeStats& stats() const { return stats_; }
  FilePosition checkpointed() const { return checkpointed_; }

 private:
  void Emit(const std::string& message) {
    if (log_) log_(message);
  }

  FileFollower& follower_;
  const QueueLogMapper& mapper_;
  kafka::Producer& producer_;
  BridgeOptions options_;
  Log log_;
  BridgeStats stats_;
  FilePosition checkpointed_;
  bool has_checkpoint_ = false;
  int64_t skips_logged_ = 0;
  FilePosition counted_;  // past the last line counted in stats_.mapped
  int64_t counted_truncations_ = 0;
  tidewatch::v1::CallEvent event_;
};

// The bridge's counters in Prometheus text format (for its /metrics):
//   tidewatch_queuelog_lines_total, tidewatch_queuelog_events_published_total,
//   tidewatch_queuelog_lines_skipped_total{reason}, ..._lines_ignored_total{event},
//   ..._waits_dropped_total, ..._delivery_failures_total, ..._rotations_total,
//   ..._truncations_total,
//   ..._lost_files_total, ..._checkpoint_line, ..._checkpoint_offset_bytes,
//   ..._last_loss_timestamp_seconds (when lost_files last grew, 0: never;
//   files are found lost when first opened, so an alert on the counter's
//   increase would miss a count born non-zero), and
//   process_start_time_seconds when `process_start` is given. Labels are
// the fixed skip reasons and the known event names only.
std::string BridgeMetricsText(const BridgeStats& stats, const FileFollower::Stats& file,
                              const FilePosition& checkpoint,
                              absl::Time process_start = absl::InfinitePast(),
                              absl::Time last_loss = absl::InfinitePast());

}  // namespace tidewatch::queuelog

#endif  // TIDEWATCH_LIBS_QUEUELOG_BRIDGE_H_
