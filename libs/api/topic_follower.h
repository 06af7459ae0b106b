// Reads every partition of a topic from the beginning, then follows it:
// each record goes to a handler on the follower's own thread. tidewatchd's
// API uses one per topic it serves from (escalations for call-up watchers,
// state for line status, policy for the versions in force).
//
//   TopicFollower follower(std::move(consumer), {"tidewatch.escalations", 12},
//                          [&board](const kafka::Record& r) { board.ApplyRecord(r); });
//   RETURN_IF_ERROR(follower.Start());
//   follower.WaitCaughtUp(absl::Seconds(30));  // read what existed at Start
//   ...
//   follower.Stop();
#ifndef TIDEWATCH_LIBS_API_TOPIC_FOLLOWER_H_
#define TIDEWATCH_LIBS_API_TOPIC_FOLLOWER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "kafka/kafka.h"

namespace tidewatch::api {

// Which topic to follow.
struct FollowerOptions {
  std::string topic;
  int32_t partitions = 1;
  // How long one poll waits for records (also how quickly Stop() returns).
  absl::Duration poll_timeout = absl::Milliseconds(50);
  // Limit on asking the broker for each partition's end at Start().
  absl::Duration watermark_timeout = absl::Seconds(10);
  // Called on the follower's thread with each error a poll returns while
  // following (authorization, an unknown partition, the broker away): the
  // owner logs it (they are counted in errors() too). The follower goes on.
  std::function<void(const absl::Status&)> on_error = nullptr;
};

// Follows one topic on a thread of its own.
class TopicFollower {
 public:
  using Handler = std::function<void(const kafka::Record&)>;

  // `consumer` is a non-group consumer (Assign only).
  TopicFollower(std::unique_ptr<kafka::Consumer> consumer, FollowerOptions options,
                Handler handler);
  ~TopicFollower();

  // Notes each partition's end offset, assigns every partition from the
  // beginning and starts the thread.
  absl::Status Start();
  // Whether every record that existed at Start() has been handled (reading
  // committed: transaction markers and aborted records count as passed once
  // the consumer's position is beyond them).
  bool CaughtUp() const;
  // Waits until CaughtUp() (true) or `timeout` passes (false).
  bool WaitCaughtUp(absl::Duration timeout) const;
  // Records handled so far.
  int64_t handled() const;
  // Errors the consumer returned while following (see on_error).
  int64_t errors() const { return errors_.load(); }
  // Stops the thread (idempotent).
  void Stop();

 private:
  void Run();

  std::unique_ptr<kafka::Consumer> consumer_;
  const FollowerOptions options_;
  const Handler handler_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> errors_{0};
  mutable absl::Mutex mu_;
  std::vector<int64_t> end_at_start_ ABSL_GUARDED_BY(mu_);
  std::vector<int64_t> next_ ABSL_GUARDED_BY(mu_);
  bool caught_up_ ABSL_GUARDED_BY(mu_) = false;
  int64_t handled_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace tidewatch::api

#endif  // TIDEWATCH_LIBS_API_TOPIC_FOLLOWER_H_
