#include "kafka/rdkafka_util.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <optional>
#include <tuple>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace tidewatch::kafka {
namespace {

static_assert(kOffsetBeginning == RD_KAFKA_OFFSET_BEGINNING);
static_assert(kOffsetEnd == RD_KAFKA_OFFSET_END);
static_assert(kOffsetInvalid == RD_KAFKA_OFFSET_INVALID);

constexpr char kErrorNameUrl[] = "tidewatch.dev/kafka.error_name";
constexpr char kTxnErrorUrl[] = "tidewatch.dev/kafka.txn_error";

}  // namespace

TxnError GetTxnError(const absl::Status& status) {
  auto p = status.GetPayload(kTxnErrorUrl);
  if (!p) return TxnError::kNone;
  const std::string v(*p);
  if (v == "retriable") return TxnError::kRetriable;
  if (v == "abortable") return TxnError::kAbortable;
  if (v == "fatal") return TxnError::kFatal;
  return TxnError::kNone;
}

std::string KafkaErrorName(const absl::Status& status) {
  auto p = status.GetPayload(kErrorNameUrl);
  return p ? std::string(*p) : std::string();
}

namespace internal {

int TimeoutMs(absl::Duration d) {
  if (d == absl::InfiniteDuration()) return -1;
  if (d <= absl::ZeroDuration()) return 0;
  const int64_t ms = absl::ToInt64Milliseconds(absl::Ceil(d, absl::Milliseconds(1)));
  return static_cast<int>(std::min<int64_t>(ms, INT_MAX));
}

int SeekPartitionsTimeout(absl::Duration d, int version) {
  constexpr int kFixedIn = 0x020100ff;  // 2.1.0
  if (version >= kFixedIn) return TimeoutMs(d);
  if (d == absl::InfiniteDuration()) return -1;
  if (d <= absl::ZeroDuration()) return 0;
  const int64_t us = absl::ToInt64Microseconds(absl::Ceil(d, absl::Microseconds(1)));
  return static_cast<int>(std::min<int64_t>(us, INT_MAX));  // INT_MAX us: 35 min
}

absl::StatusCode CodeFor(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
      return absl::StatusCode::kOk;
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
      return absl::StatusCode::kDeadlineExceeded;
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR__WAIT_COORD:
    case RD_KAFKA_RESP_ERR__ISR_INSUFF:
    case RD_KAFKA_RESP_ERR__NODE_UPDATE:
    case RD_KAFKA_RESP_ERR__RETRY:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_REPLICA_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_NOT_CONTROLLER:
    case RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR:
    case RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS:
    case RD_KAFKA_RESP_ERR_PREFERRED_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_FENCED_LEADER_EPOCH:
    case RD_KAFKA_RESP_ERR_UNKNOWN_LEADER_EPOCH:
    case RD_KAFKA_RESP_ERR_OFFSET_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_THROTTLING_QUOTA_EXCEEDED:
      return absl::StatusCode::kUnavailable;
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR__UNKNOWN_GROUP:
    case RD_KAFKA_RESP_ERR__UNKNOWN_BROKER:
    case RD_KAFKA_RESP_ERR__NOENT:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND:
    case RD_KAFKA_RESP_ERR_RESOURCE_NOT_FOUND:
      return absl::StatusCode::kNotFound;
    case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS:
    case RD_KAFKA_RESP_ERR_DUPLICATE_RESOURCE:
      return absl::StatusCode::kAlreadyExists;
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__BAD_MSG:
    case RD_KAFKA_RESP_ERR__INVALID_TYPE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_OFFSET_METADATA_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_REQUIRED_ACKS:
    case RD_KAFKA_RESP_ERR_INVALID_GROUP_ID:
    case RD_KAFKA_RESP_ERR_INVALID_SESSION_TIMEOUT:
    case RD_KAFKA_RESP_ERR_INVALID_COMMIT_OFFSET_SIZE:
    case RD_KAFKA_RESP_ERR_INVALID_TIMESTAMP:
    case RD_KAFKA_RESP_ERR_INVALID_PARTITIONS:
    case RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR:
    case RD_KAFKA_RESP_ERR_INVALID_REPLICA_ASSIGNMENT:
    case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
    case RD_KAFKA_RESP_ERR_INVALID_REQUEST:
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
    case RD_KAFKA_RESP_ERR_INVALID_TRANSACTION_TIMEOUT:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
      return absl::StatusCode::kInvalidArgument;
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
    case RD_KAFKA_RESP_ERR__CRIT_SYS_RESOURCE:
    case RD_KAFKA_RESP_ERR_GROUP_MAX_SIZE_REACHED:
      return absl::StatusCode::kResourceExhausted;
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR__SSL:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_SASL_MECHANISM:
    case RD_KAFKA_RESP_ERR_ILLEGAL_SASL_STATE:
      return absl::StatusCode::kPermissionDenied;
    case RD_KAFKA_RESP_ERR__STATE:
    case RD_KAFKA_RESP_ERR__FENCED:
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR__NOT_CONFIGURED:
    case RD_KAFKA_RESP_ERR__PREV_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR__CONFLICT:
    case RD_KAFKA_RESP_ERR__EXISTING_SUBSCRIPTION:
    case RD_KAFKA_RESP_ERR__GAPLESS_GUARANTEE:
    case RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH:
    case RD_KAFKA_RESP_ERR_INVALID_TXN_STATE:
    case RD_KAFKA_RESP_ERR_INVALID_PRODUCER_ID_MAPPING:
    case RD_KAFKA_RESP_ERR_PRODUCER_FENCED:
    case RD_KAFKA_RESP_ERR_TRANSACTION_COORDINATOR_FENCED:
    case RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER:
    case RD_KAFKA_RESP_ERR_UNKNOWN_PRODUCER_ID:
    case RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID:
    case RD_KAFKA_RESP_ERR_NON_EMPTY_GROUP:
      return absl::StatusCode::kFailedPrecondition;
    case RD_KAFKA_RESP_ERR__NOT_IMPLEMENTED:
    case RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PROTOCOL:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_COMPRESSION_TYPE:
    case RD_KAFKA_RESP_ERR_SECURITY_DISABLED:
      return absl::StatusCode::kUnimplemented;
    case RD_KAFKA_RESP_ERR__DESTROY:
    case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
    case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
    case RD_KAFKA_RESP_ERR__INTR:
      return absl::StatusCode::kCancelled;
    case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE:
    case RD_KAFKA_RESP_ERR__PARTITION_EOF:
    case RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET:
      return absl::StatusCode::kOutOfRange;
    case RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID:
    case RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR__ASSIGNMENT_LOST:
    case RD_KAFKA_RESP_ERR__MAX_POLL_EXCEEDED:
    case RD_KAFKA_RESP_ERR_UNSTABLE_OFFSET_COMMIT:
      return absl::StatusCode::kAborted;
    default:
      return absl::StatusCode::kUnknown;
  }
}

absl::Status KafkaError(rd_kafka_resp_err_t err, absl::string_view context,
                        absl::string_view detail) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return absl::OkStatus();
  const char* name = rd_kafka_err2name(err);
  absl::Status s(CodeFor(err), absl::StrCat(context, ": ", name, ": ",
                                            detail.empty() ? rd_kafka_err2str(err) : detail));
  s.SetPayload(kErrorNameUrl, absl::Cord(name));
  return s;
}

absl::Status TakeError(rd_kafka_error_t* error, absl::string_view context) {
  if (error == nullptr) return absl::OkStatus();
  RdPtr<rd_kafka_error_t> owned(error);
  absl::Status s = KafkaError(rd_kafka_error_code(error), context, rd_kafka_error_string(error));
  if (rd_kafka_error_is_fatal(error)) {
    s.SetPayload(kTxnErrorUrl, absl::Cord("fatal"));
  } else if (rd_kafka_error_txn_requires_abort(error)) {
    s.SetPayload(kTxnErrorUrl, absl::Cord("abortable"));
  } else if (rd_kafka_error_is_retriable(error)) {
    s.SetPayload(kTxnErrorUrl, absl::Cord("retriable"));
  }
  return s;
}

std::string PartitionName(absl::string_view topic, int32_t partition) {
  return absl::StrCat(topic, " [", partition, "]");
}

RdPtr<rd_kafka_topic_partition_list_t> ToList(const std::vector<TopicPartition>& partitions) {
  RdPtr<rd_kafka_topic_partition_list_t> list(
      rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
  for (const TopicPartition& tp : partitions) {
    rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition)->offset =
        tp.offset;
  }
  return list;
}

std::vector<TopicPartition> FromList(const rd_kafka_topic_partition_list_t* list) {
  std::vector<TopicPartition> out;
  if (list == nullptr) return out;
  out.reserve(list->cnt);
  for (int i = 0; i < list->cnt; ++i) {
    const rd_kafka_topic_partition_t& p = list->elems[i];
    out.push_back(TopicPartition{p.topic, p.partition, p.offset});
  }
  return out;
}

absl::Status ListError(const rd_kafka_topic_partition_list_t* list, absl::string_view context) {
  if (list == nullptr) return absl::OkStatus();
  for (int i = 0; i < list->cnt; ++i) {
    const rd_kafka_topic_partition_t& p = list->elems[i];
    if (p.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return KafkaError(p.err, absl::StrCat(context, " ", PartitionName(p.topic, p.partition)));
    }
  }
  return absl::OkStatus();
}

Record ToRecord(const rd_kafka_message_t* message, bool with_headers) {
  Record r;
  ToRecord(message, with_headers, r);
  return r;
}

void ToRecord(const rd_kafka_message_t* message, bool with_headers, Record& r) {
  if (message->rkt != nullptr) {
    r.topic.assign(rd_kafka_topic_name(message->rkt));
  } else {
    r.topic.clear();
  }
  r.partition = message->partition;
  r.offset = message->offset;
  if (message->key != nullptr) {
    r.key.assign(static_cast<const char*>(message->key), message->key_len);
  } else {
    r.key.clear();
  }
  if (message->payload != nullptr) {
    r.value.assign(static_cast<const char*>(message->payload), message->len);
  } else {
    r.value.clear();
  }
  r.headers.clear();
  rd_kafka_headers_t* headers = nullptr;  // owned by the message
  if (with_headers && rd_kafka_message_headers(message, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR &&
      headers != nullptr) {
    const char* name;
    const void* value;
    size_t size;
    for (size_t i = 0;
         rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i) {
      Header h;
      h.key = name;
      if (value != nullptr) h.value.assign(static_cast<const char*>(value), size);
      r.headers.push_back(std::move(h));
    }
  }
  rd_kafka_timestamp_type_t type;
  const int64_t ts = rd_kafka_message_timestamp(message, &type);
  r.timestamp = ts >= 0 && type != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? absl::FromUnixMillis(ts)
                                                                    : absl::InfinitePast();
  r.epoch = 0;
}

absl::StatusOr<RdPtr<rd_kafka_conf_t>> BuildConf(const KafkaConfig& config,
                                                 const std::vector<Setting>& settings) {
  RdPtr<rd_kafka_conf_t> conf(rd_kafka_conf_new());
  char errstr[512];
  auto set = [&](const std::string& key, const std::string& value) -> absl::Status {
    if (rd_kafka_conf_set(conf.get(), key.c_str(), value.c_str(), errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK) {
      return absl::InvalidArgumentError(
          absl::StrCat("kafka config \"", key, "\" = \"", value, "\": ", errstr));
    }
    return absl::OkStatus();
  };
  std::vector<Setting> all;
  if (!config.bootstrap.empty()) all.emplace_back("bootstrap.servers", config.bootstrap);
  if (!config.client_id.empty()) all.emplace_back("client.id", config.client_id);
  all.emplace_back("statistics.interval.ms",
                   absl::StrCat(config.stats_interval <= absl::ZeroDuration()
                                    ? 0
                                    : TimeoutMs(config.stats_interval)));
  const int reconnect_ms = TimeoutMs(config.reconnect_backoff_max);  // -1: infinite
  all.emplace_back("reconnect.backoff.max.ms",
                   absl::StrCat(reconnect_ms < 0 ? 3600000 : std::max(1, reconnect_ms)));
  all.emplace_back("allow.auto.create.topics", "false");
  all.insert(all.end(), settings.begin(), settings.end());
  all.insert(all.end(), config.extra.begin(), config.extra.end());
  for (const auto& [key, value] : all) {
    if (absl::Status s = set(key, value); !s.ok()) return s;
  }
  return conf;
}

ClientCore::ClientCore(const KafkaConfig& config)
    : clock_(config.clock),
      on_error_(config.on_error),
      on_stats_(config.on_stats),
      on_log_(config.on_log) {}

void ClientCore::InstallCallbacks(rd_kafka_conf_t* conf) {
  rd_kafka_conf_set_opaque(conf, this);
  rd_kafka_conf_set_error_cb(conf, &ClientCore::ErrorCallback);
  rd_kafka_conf_set_stats_cb(conf, &ClientCore::StatsCallback);
  if (on_log_) rd_kafka_conf_set_log_cb(conf, &ClientCore::LogCallback);
}

ClientHealth ClientCore::HealthSnapshot() const {
  absl::MutexLock lock(&mu_);
  return health_;
}

absl::Time ClientCore::Now() const {
  return clock_ != nullptr ? clock_->Now() : absl::InfinitePast();
}

void ClientCore::NoteError(const absl::Status& error) {
  const absl::Time now = Now();
  absl::MutexLock lock(&mu_);
  health_.last_error = std::string(error.message());
  health_.last_error_time = now;
  ++health_.error_count;
}

void ClientCore::ReportError(const absl::Status& error, bool fatal) {
  NoteError(error);
  if (fatal) {
    absl::MutexLock lock(&mu_);
    health_.fatal = true;
    health_.fatal_error = std::string(error.message());
  }
  if (on_error_ && !silenced_.load(std::memory_order_relaxed)) on_error_(error, fatal);
}

void ClientCore::ErrorCallback(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  const auto code = static_cast<rd_kafka_resp_err_t>(err);
  FromOpaque(opaque)->OnClientError(rk, code, reason, code == RD_KAFKA_RESP_ERR__FATAL);
}

void ClientCore::OnClientError(rd_kafka_t* rk, rd_kafka_resp_err_t code, const char* reason,
                               bool fatal) {
  if (fatal || code == RD_KAFKA_RESP_ERR__FATAL) {
    char buf[512] = "";  // written only when a fatal error is set
    const rd_kafka_resp_err_t cause = rd_kafka_fatal_error(rk, buf, sizeof buf);
    absl::Status s =
        KafkaError(cause == RD_KAFKA_RESP_ERR_NO_ERROR ? code : cause, "fatal client error",
                   buf[0] != '\0' ? buf : (reason != nullptr ? reason : ""));
    if (HealthSnapshot().fatal) {
      NoteError(s);  // reported once (a consumer may also see it from a poll)
    } else {
      ReportError(s, /*fatal=*/true);
    }
    return;
  }
  if (code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
    absl::MutexLock lock(&mu_);
    health_.all_brokers_down = true;
    all_brokers_down_.store(true, std::memory_order_relaxed);
  }
  ReportError(KafkaError(code, "kafka client error", reason ? reason : ""), false);
}

bool ClientCore::ServeEvent(rd_kafka_t* rk, rd_kafka_event_t* event) {
  switch (rd_kafka_event_type(event)) {
    case RD_KAFKA_EVENT_ERROR:
      OnClientError(rk, rd_kafka_event_error(event), rd_kafka_event_error_string(event),
                    rd_kafka_event_error_is_fatal(event) != 0);
      return true;
    case RD_KAFKA_EVENT_STATS:
      OnStats(rd_kafka_event_stats(event));
      return true;
    default:
      return false;
  }
}

void ClientCore::NoteBrokerAnswered() {
  if (all_brokers_down_.load(std::memory_order_relaxed)) ClearAllBrokersDown();
}

void ClientCore::CheckBrokersBack(rd_kafka_t* rk) {
  if (!all_brokers_down_.load(std::memory_order_relaxed)) return;
  // With no wait, rd_kafka_metadata() fails with _TRANSPORT when no broker
  // is up; otherwise it sends the request to one that is (its answer goes
  // to the client's metadata cache) and times out at once.
  const rd_kafka_metadata_t* raw = nullptr;
  const rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, nullptr, &raw, 0);
  RdPtr<const rd_kafka_metadata_t> md(raw);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR__TIMED_OUT) {
    ClearAllBrokersDown();
  }
}

void ClientCore::ClearAllBrokersDown() {
  absl::MutexLock lock(&mu_);
  health_.all_brokers_down = false;
  all_brokers_down_.store(false, std::memory_order_relaxed);
}

int ClientCore::StatsCallback(rd_kafka_t* rk, char* json, size_t json_len, void* opaque) {
  FromOpaque(opaque)->OnStats(std::string_view(json, json_len));
  return 0;  // librdkafka frees json
}

void ClientCore::LogCallback(const rd_kafka_t* rk, int level, const char* facility,
                             const char* message) {
  ClientCore* self = FromOpaque(rd_kafka_opaque(rk));
  if (self != nullptr && self->on_log_) {
    self->on_log_(level, facility ? facility : "", message ? message : "");
  }
}

void ClientCore::OnStats(std::string_view json) {
  if (on_stats_ && !silenced_.load(std::memory_order_relaxed)) on_stats_(json);
  google::protobuf::Struct root;
  if (!google::protobuf::util::JsonStringToMessage(
           google::protobuf::StringPiece(json.data(), json.size()), &root)
           .ok())
    return;
  const auto brokers_it = root.fields().find("brokers");
  if (brokers_it == root.fields().end() || !brokers_it->second.has_struct_value()) return;

  auto str = [](const google::protobuf::Struct& s, const char* key) -> std::string {
    const auto it = s.fields().find(key);
    return it != s.fields().end() && it->second.has_string_value() ? it->second.string_value()
                                                                   : std::string();
  };
  std::vector<BrokerHealth> learned, configured;
  for (const auto& [name, value] : brokers_it->second.struct_value().fields()) {
    if (!value.has_struct_value()) continue;
    const google::protobuf::Struct& b = value.struct_value();
    const std::string source = str(b, "source");
    if (source == "logical" || source == "internal") continue;
    BrokerHealth h;
    h.name = name;
    const auto id_it = b.fields().find("nodeid");
    if (id_it != b.fields().end()) h.id = static_cast<int32_t>(id_it->second.number_value());
    h.state = str(b, "state");
    h.up = h.state == "UP" || h.state == "UPDATE";
    (h.id >= 0 ? learned : configured).push_back(std::move(h));
  }
  // Once the cluster's brokers are known, the bootstrap entries are noise.
  std::vector<BrokerHealth>& brokers = learned.empty() ? configured : learned;
  std::sort(brokers.begin(), brokers.end(), [](const BrokerHealth& a, const BrokerHealth& b) {
    return std::tie(a.id, a.name) < std::tie(b.id, b.name);
  });
  int up = 0, down = 0;
  for (const BrokerHealth& b : brokers) {
    if (b.up) {
      ++up;
    } else if (b.state != "INIT") {
      ++down;
    }
  }
  const absl::Time now = Now();
  absl::MutexLock lock(&mu_);
  health_.brokers = std::move(brokers);
  health_.brokers_up = up;
  health_.brokers_down = down;
  if (up > 0) {
    health_.all_brokers_down = false;
    all_brokers_down_.store(false, std::memory_order_relaxed);
  }
  health_.stats_time = now;
}

}  // namespace internal
}  // namespace tidewatch::kafka
