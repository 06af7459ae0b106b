// Produces a record and waits for Kafka to confirm it: how the API sends
// acknowledgements and declines to tidewatch.commands (keyed by line, so the
// owning instance receives them) and policy versions to tidewatch.policy.
//
//   CommandSender sender(*producer);
//   RETURN_IF_ERROR(sender.Send("tidewatch.commands", line_id, bytes, absl::Seconds(10)));
//
// Thread-safe: sends are serialized (they are rare: people acknowledging).
#ifndef TIDEWATCH_LIBS_API_COMMAND_SENDER_H_
#define TIDEWATCH_LIBS_API_COMMAND_SENDER_H_

#include <atomic>
#include <string>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "kafka/kafka.h"

namespace tidewatch::api {

// Synchronous sends on a producer of its own.
class CommandSender {
 public:
  // `producer` must outlive the sender and not be used by anything else.
  explicit CommandSender(kafka::Producer& producer) : producer_(producer) {}
  virtual ~CommandSender() = default;

  // Produces and waits for the delivery report: OK once the record is
  // durable; Unavailable/DeadlineExceeded naming the topic otherwise.
  virtual absl::Status Send(const std::string& topic, const std::string& key,
                            const std::string& value, absl::Duration timeout);

  // Shutting down: a send under way stops waiting (Unavailable, the record
  // may still be written) and later ones are refused, so that the gRPC
  // server's stop is not held up by calls waiting for Kafka.
  void Stop() { stopping_.store(true); }

 protected:
  bool stopping() const { return stopping_.load(); }

 private:
  kafka::Producer& producer_;
  absl::Mutex mu_;
  std::atomic<bool> stopping_{false};
};

}  // namespace tidewatch::api

#endif  // TIDEWATCH_LIBS_API_COMMAND_SENDER_H_
