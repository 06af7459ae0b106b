// The librdkafka Admin client.
#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "kafka/kafka.h"
#include "kafka/rdkafka_util.h"

namespace tidewatch::kafka {
namespace {

using internal::ClientCore;
using internal::KafkaError;
using internal::RdPtr;
using internal::TimeoutMs;

class RdAdmin final : public Admin, public ClientCore {
 public:
  explicit RdAdmin(const KafkaConfig& config) : ClientCore(config) {}
  ~RdAdmin() override { rk_.reset(); }

  absl::Status Init(const KafkaConfig& config) {
    absl::StatusOr<RdPtr<rd_kafka_conf_t>> conf = internal::BuildConf(config, {});
    if (!conf.ok()) return conf.status();
    InstallCallbacks(conf->get());
    char errstr[512];
    // Admin requests go through a producer handle that never produces.
    rk_.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf->get(), errstr, sizeof errstr));
    if (rk_ == nullptr) return absl::InvalidArgumentError(absl::StrCat("kafka admin: ", errstr));
    conf->release();
    return absl::OkStatus();
  }

  absl::Status CreateTopics(const std::vector<TopicSpec>& topics, absl::Duration timeout) override {
    if (topics.empty()) return absl::OkStatus();
    char errstr[512];
    std::vector<RdPtr<rd_kafka_NewTopic_t>> owned;
    std::vector<rd_kafka_NewTopic_t*> raw;
    for (const TopicSpec& spec : topics) {
      RdPtr<rd_kafka_NewTopic_t> nt(rd_kafka_NewTopic_new(
          spec.name.c_str(), spec.partitions, spec.replication_factor, errstr, sizeof errstr));
      if (nt == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat("kafka create topic ", spec.name, ": ", errstr));
      }
      for (const auto& [key, value] : spec.config) {
        if (absl::Status s =
                KafkaError(rd_kafka_NewTopic_set_config(nt.get(), key.c_str(), value.c_str()),
                           absl::StrCat("kafka create topic ", spec.name, ": config ", key));
            !s.ok()) {
          return s;
        }
      }
      raw.push_back(nt.get());
      owned.push_back(std::move(nt));
    }
    RdPtr<rd_kafka_AdminOptions_t> options(
        rd_kafka_AdminOptions_new(rk_.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS));
    // Wait (up to timeout) for the topics to be created, not just accepted.
    if (absl::Status s = SetOption(rd_kafka_AdminOptions_set_operation_timeout(
                                       options.get(), TimeoutMs(timeout), errstr, sizeof errstr),
                                   errstr);
        !s.ok()) {
      return s;
    }
    if (absl::Status s = SetOption(rd_kafka_AdminOptions_set_request_timeout(
                                       options.get(), TimeoutMs(timeout), errstr, sizeof errstr),
                                   errstr);
        !s.ok()) {
      return s;
    }
    RdPtr<rd_kafka_queue_t> queue(rd_kafka_queue_new(rk_.get()));
    rd_kafka_CreateTopics(rk_.get(), raw.data(), raw.size(), options.get(), queue.get());
    // The request timeout ends the request (a result with _TIMED_OUT); the
    // wait for it allows a little more for the result to come. Meanwhile the
    // cluster id is watched: the in-process broker has no CreateTopics API
    // (librdkafka would wait for its controller until the timeout), and its
    // cluster id, which comes with the first metadata, gives it away. (It
    // used to be asked for first, with a wait of its own of up to `timeout`:
    // an unreachable cluster took twice the timeout.)
    RdPtr<rd_kafka_event_t> event;
    for (SlicedWait wait(timeout + kResultMargin); event == nullptr && wait.HasTime();) {
      if (InProcessCluster()) {
        rd_kafka_poll(rk_.get(), 0);
        return absl::UnimplementedError(
            "kafka create topics: the in-process broker has no CreateTopics API; use "
            "EmbeddedBroker::CreateTopic");
      }
      event.reset(rd_kafka_queue_poll(queue.get(), TimeoutMs(wait.Next())));
    }
    rd_kafka_poll(rk_.get(), 0);  // serve error/statistics callbacks
    if (event == nullptr) {
      return absl::DeadlineExceededError(
          absl::StrCat("kafka create topics: no answer within ", absl::FormatDuration(timeout)));
    }
    if (absl::Status s = KafkaError(rd_kafka_event_error(event.get()), "kafka create topics",
                                    rd_kafka_event_error_string(event.get()));
        !s.ok()) {
      NoteError(s);
      return s;
    }
    const rd_kafka_CreateTopics_result_t* result = rd_kafka_event_CreateTopics_result(event.get());
    size_t count = 0;
    const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(result, &count);
    std::vector<std::string> errors;
    absl::StatusCode code = absl::StatusCode::kOk;
    for (size_t i = 0; i < count; ++i) {
      const std::string name = rd_kafka_topic_result_name(results[i]);
      const rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) continue;
      absl::Status s;
      if (err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        s = CheckExisting(name, topics, timeout);
      } else {
        const char* detail = rd_kafka_topic_result_error_string(results[i]);
        s = KafkaError(err, absl::StrCat("kafka create topic ", name), detail ? detail : "");
      }
      if (!s.ok()) {
        if (code == absl::StatusCode::kOk) code = s.code();
        errors.emplace_back(s.message());
      }
    }
    if (errors.empty()) return absl::OkStatus();
    absl::Status s(code, absl::StrJoin(errors, "; "));
    NoteError(s);
    return s;
  }

  absl::StatusOr<int> PartitionCount(const std::string& topic, absl::Duration timeout) override {
    // Metadata for all topics: asking for one named topic would make a broker
    // that cannot be told allow.auto.create.topics=false (Metadata API < v4,
    // e.g. the in-process broker) create it.
    const rd_kafka_metadata_t* raw = nullptr;
    absl::Status s = KafkaError(rd_kafka_metadata(rk_.get(), 1, nullptr, &raw, TimeoutMs(timeout)),
                                absl::StrCat("kafka metadata for ", topic));
    rd_kafka_poll(rk_.get(), 0);
    if (!s.ok()) return s;
    RdPtr<const rd_kafka_metadata_t> md(raw);
    for (int i = 0; i < md->topic_cnt; ++i) {
      const rd_kafka_metadata_topic_t& t = md->topics[i];
      if (topic != t.topic) continue;
      if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return KafkaError(t.err, absl::StrCat("kafka topic ", topic));
      }
      return t.partition_cnt;
    }
    return absl::NotFoundError(absl::StrCat("kafka topic ", topic, " does not exist"));
  }

  absl::StatusOr<std::string> ClusterId(absl::Duration timeout) override {
    char* id = rd_kafka_clusterid(rk_.get(), TimeoutMs(timeout));
    rd_kafka_poll(rk_.get(), 0);
    if (id == nullptr) {
      return absl::UnavailableError(
          absl::StrCat("kafka cluster id: no answer within ", absl::FormatDuration(timeout)));
    }
    std::string out(id);
    rd_kafka_mem_free(rk_.get(), id);
    return out;
  }

  ClientHealth Health() const override {
    rd_kafka_poll(rk_.get(), 0);  // nobody else polls an admin client
    return HealthSnapshot();
  }

 private:
  static absl::Status SetOption(rd_kafka_resp_err_t err, const char* errstr) {
    return KafkaError(err, "kafka admin options", errstr);
  }

  // TOPIC_ALREADY_EXISTS is fine if the partition count is the one asked for.
  absl::Status CheckExisting(const std::string& name, const std::vector<TopicSpec>& specs,
                             absl::Duration timeout) {
    int wanted = -1;
    for (const TopicSpec& spec : specs) {
      if (spec.name == name) wanted = spec.partitions;
    }
    if (wanted <= 0) return absl::OkStatus();
    absl::StatusOr<int> have = PartitionCount(name, timeout);
    if (!have.ok()) return have.status();
    if (*have != wanted) {
      return absl::FailedPreconditionError(absl::StrCat(
          "kafka create topic ", name, ": exists with ", *have, " partitions, wanted ", wanted));
    }
    return absl::OkStatus();
  }

  // Waits of kSlice each, counted: up to `budget` in all (a wait that
  // ends early, with an event, is counted whole).
  class SlicedWait {
   public:
    static constexpr absl::Duration kSlice = absl::Milliseconds(100);
    explicit SlicedWait(absl::Duration budget) : left_(budget) {}
    bool HasTime() const { return left_ > absl::ZeroDuration(); }
    // The next wait, counted.
    absl::Duration Next() {
      const absl::Duration d = std::min(left_, kSlice);
      left_ -= d;
      return d;
    }

   private:
    absl::Duration left_;
  };

  // What CreateTopics waits for its result beyond the request's timeout.
  static constexpr absl::Duration kResultMargin = absl::Milliseconds(500);

  // The client's metadata says it talks to the in-process broker (does not
  // wait: false while no metadata has come).
  bool InProcessCluster() {
    char* id = rd_kafka_clusterid(rk_.get(), 0);
    if (id == nullptr) return false;
    const bool mock = IsInProcessCluster(id);
    rd_kafka_mem_free(rk_.get(), id);
    return mock;
  }

  RdPtr<rd_kafka_t> rk_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Admin>> NewAdmin(const KafkaConfig& config) {
  auto admin = std::make_unique<RdAdmin>(config);
  if (absl::Status s = admin->Init(config); !s.ok()) return s;
  return std::unique_ptr<Admin>(std::move(admin));
}

}  // namespace tidewatch::kafka
