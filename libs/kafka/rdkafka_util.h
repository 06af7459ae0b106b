// Internal to libs/kafka: librdkafka RAII handles, error mapping, the shared
// configuration builder and the health bookkeeping every client embeds.
// Only libs/kafka's .cc files include this (it includes librdkafka).
#ifndef TIDEWATCH_LIBS_KAFKA_RDKAFKA_UTIL_H_
#define TIDEWATCH_LIBS_KAFKA_RDKAFKA_UTIL_H_

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "kafka/kafka.h"

namespace tidewatch::kafka::internal {

// One deleter for every librdkafka object we own.
struct RdDeleter {
  void operator()(rd_kafka_t* p) const { rd_kafka_destroy(p); }
  void operator()(rd_kafka_conf_t* p) const { rd_kafka_conf_destroy(p); }
  void operator()(rd_kafka_topic_partition_list_t* p) const {
    rd_kafka_topic_partition_list_destroy(p);
  }
  void operator()(rd_kafka_message_t* p) const { rd_kafka_message_destroy(p); }
  void operator()(rd_kafka_headers_t* p) const { rd_kafka_headers_destroy(p); }
  void operator()(rd_kafka_error_t* p) const { rd_kafka_error_destroy(p); }
  void operator()(rd_kafka_event_t* p) const { rd_kafka_event_destroy(p); }
  void operator()(rd_kafka_queue_t* p) const { rd_kafka_queue_destroy(p); }
  void operator()(rd_kafka_topic_t* p) const { rd_kafka_topic_destroy(p); }
  void operator()(const rd_kafka_metadata_t* p) const { rd_kafka_metadata_destroy(p); }
  void operator()(rd_kafka_NewTopic_t* p) const { rd_kafka_NewTopic_destroy(p); }
  void operator()(rd_kafka_AdminOptions_t* p) const { rd_kafka_AdminOptions_destroy(p); }
  void operator()(rd_kafka_consumer_group_metadata_t* p) const {
    rd_kafka_consumer_group_metadata_destroy(p);
  }
};
template <typename T>
using RdPtr = std::unique_ptr<T, RdDeleter>;

// librdkafka timeout in ms: rounded up, clamped to int, -1 for infinite.
int TimeoutMs(absl::Duration d);

// The timeout argument of rd_kafka_seek_partitions for a wait of `d` with
// librdkafka `version` (rd_kafka_version()). Before 2.1.0 it waits for the
// seeks' acknowledgements in microseconds, not the milliseconds documented
// (librdkafka #4230): 5 s asked meant 5 ms, and a seek a busy client thread
// served a few milliseconds late was reported as timed out (it still goes
// ahead). For those versions the wait is given in microseconds.
int SeekPartitionsTimeout(absl::Duration d, int version);

// The absl code for a librdkafka / broker error.
absl::StatusCode CodeFor(rd_kafka_resp_err_t err);

// "<context>: <NAME>: <detail, else librdkafka's description>", with the
// error name attached (KafkaErrorName). OK for RD_KAFKA_RESP_ERR_NO_ERROR.
absl::Status KafkaError(rd_kafka_resp_err_t err, absl::string_view context,
                        absl::string_view detail = {});

// Converts (and destroys) an rd_kafka_error_t; OK for null. Attaches the
// TxnError classification (retriable / abortable / fatal).
absl::Status TakeError(rd_kafka_error_t* error, absl::string_view context);

// "topic [partition]".
std::string PartitionName(absl::string_view topic, int32_t partition);

// TopicPartition vectors <-> librdkafka lists.
RdPtr<rd_kafka_topic_partition_list_t> ToList(const std::vector<TopicPartition>& partitions);
std::vector<TopicPartition> FromList(const rd_kafka_topic_partition_list_t* list);
// The first per-partition error in `list`, or OK.
absl::Status ListError(const rd_kafka_topic_partition_list_t* list, absl::string_view context);

// A consumed or delivered message as a Record.
Record ToRecord(const rd_kafka_message_t* message, bool with_headers = true);
// The same, written over every field of `out` (a reused record: its strings
// keep their capacity).
void ToRecord(const rd_kafka_message_t* message, bool with_headers, Record& out);

// A librdkafka property.
using Setting = std::pair<std::string, std::string>;

// A configuration with, in order: the connection settings of `config`,
// statistics interval, reconnect backoff, allow.auto.create.topics=false,
// `settings`, then config.extra. InvalidArgument naming the key on an
// unknown property or bad value.
absl::StatusOr<RdPtr<rd_kafka_conf_t>> BuildConf(const KafkaConfig& config,
                                                 const std::vector<Setting>& settings);

// What every client shares: KafkaConfig callbacks and a ClientHealth kept up
// to date from librdkafka's error, statistics and log callbacks. The client
// class derives from it and installs it as the configuration's opaque, so
// every librdkafka callback can find it.
class ClientCore {
 public:
  explicit ClientCore(const KafkaConfig& config);
  virtual ~ClientCore() = default;
  ClientCore(const ClientCore&) = delete;
  ClientCore& operator=(const ClientCore&) = delete;

  // Sets the opaque to this and installs the error, statistics and (if
  // KafkaConfig::on_log is set) log callbacks.
  void InstallCallbacks(rd_kafka_conf_t* conf);

  // The current snapshot.
  ClientHealth HealthSnapshot() const;

  // Records an error in the health snapshot and passes it to on_error.
  void ReportError(const absl::Status& error, bool fatal);
  // Records an error in the health snapshot only (the caller also gets it as
  // a return value).
  void NoteError(const absl::Status& error);

  // KafkaConfig::clock's time (InfinitePast without a clock).
  absl::Time Now() const;

  // Serves an error or statistics event (from a queue polled with
  // rd_kafka_queue_poll, where librdkafka does not call the callbacks) as
  // the error and statistics callbacks would. False for any other event.
  bool ServeEvent(rd_kafka_t* rk, rd_kafka_event_t* event);

  // A broker answered (a record delivered or fetched, a commit stored):
  // clears ClientHealth::all_brokers_down. Cheap when it is not set.
  void NoteBrokerAnswered();

  // Clears ClientHealth::all_brokers_down once some broker is up again.
  // librdkafka reports all brokers down (an error) but not their return,
  // which only statistics show, and those may be off
  // (KafkaConfig::stats_interval zero). Cheap when the flag is not set;
  // otherwise asks librdkafka, without waiting, for a broker that is up
  // (connected, its handshake answered), which also makes a client with
  // sparse connections try one. For the polling thread, after serving
  // callbacks.
  void CheckBrokersBack(rd_kafka_t* rk);

  // From now on errors and statistics are recorded in the health snapshot
  // only, no longer passed to KafkaConfig::on_error / on_stats (a client
  // being destroyed: their owners may be gone).
  void SilenceCallbacks() { silenced_.store(true, std::memory_order_relaxed); }

  // The ClientCore installed as the opaque.
  static ClientCore* FromOpaque(void* opaque) { return static_cast<ClientCore*>(opaque); }

 private:
  static void ErrorCallback(rd_kafka_t* rk, int err, const char* reason, void* opaque);
  static int StatsCallback(rd_kafka_t* rk, char* json, size_t json_len, void* opaque);
  static void LogCallback(const rd_kafka_t* rk, int level, const char* facility,
                          const char* message);

  void OnStats(std::string_view json);
  // An error from librdkafka's error callback or an error event; `fatal`
  // when librdkafka says so (the code may be _FATAL or already the cause).
  void OnClientError(rd_kafka_t* rk, rd_kafka_resp_err_t code, const char* reason, bool fatal);
  void ClearAllBrokersDown();

  const Clock* const clock_;
  const std::function<void(const absl::Status&, bool)> on_error_;
  const std::function<void(std::string_view)> on_stats_;
  const std::function<void(int, std::string_view, std::string_view)> on_log_;

  mutable absl::Mutex mu_;
  ClientHealth health_ ABSL_GUARDED_BY(mu_);
  // health_.all_brokers_down, readable without the lock (checked on every
  // poll and delivery).
  std::atomic<bool> all_brokers_down_{false};
  std::atomic<bool> silenced_{false};  // SilenceCallbacks
};

}  // namespace tidewatch::kafka::internal

#endif  // TIDEWATCH_LIBS_KAFKA_RDKAFKA_UTIL_H_
