// tidewatchd's gRPC side: follows tidewatch.escalations (call-up board),
// tidewatch.state (line status of lines owned elsewhere) and tidewatch.policy
// (policy versions), and serves the gRPC API (libs/api) on --grpc_address.
//
//   GrpcFront front(settings, kafka_config, clock, log);
//   RETURN_IF_ERROR(front.Start(startup_yaml, startup_policy, local_lines, on_policy, check));
//   ...
//   front.Shutdown();  // before the processor's, on SIGTERM
#ifndef TIDEWATCH_SERVICES_TIDEWATCHD_GRPC_FRONT_H_
#define TIDEWATCH_SERVICES_TIDEWATCHD_GRPC_FRONT_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "api/api_server.h"
#include "api/topic_follower.h"
#include "common/clock.h"
#include "kafka/kafka.h"

namespace tidewatch::tidewatchd {

// What the flags say.
struct GrpcSettings {
  std::string address;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  std::string tokens_file;
  bool insecure = false;
  std::string escalations_topic;
  std::string state_topic;
  std::string commands_topic;
  std::string policy_topic;
  int32_t escalations_partitions = 12;
  int32_t state_partitions = 12;
  std::string instance_id;
  // Without an API: whether the policy topic exists to be followed.
  bool follow_policy = true;
};

// The API side of one tidewatchd instance. Every instance follows the
// policy topic through it, also one that serves no API (settings.address
// empty): live policy changes reach every instance.
class GrpcFront {
 public:
  GrpcFront(GrpcSettings settings, kafka::KafkaConfig config, const Clock& clock,
            std::function<void(const std::string&)> log);
  ~GrpcFront();

  // Reads the topics up to their ends (so the newest policy version is
  // handed to `on_policy` before this returns), then starts serving. With
  // no address it reads only the policy topic, and follows it.
  absl::Status Start(
      std::string startup_yaml, std::shared_ptr<const policy::CompiledPolicy> startup,
      api::LineDirectory::LocalLines local_lines,
      std::function<void(std::shared_ptr<const policy::CompiledPolicy>, int64_t)> on_policy,
      std::function<absl::Status(const policy::CompiledPolicy&, const policy::CompiledPolicy&)>
          check_change);
  // Ends watch streams, stops the server (2 s deadline) and the followers.
  void Shutdown();

  int port() const { return server_ ? server_->port() : 0; }
  bool serving() const { return !settings_.address.empty(); }
  // Prometheus text for the API (watchers, resyncs, open call-ups: when
  // serving) and the policy version; empty until started. Any thread.
  std::string MetricsText() const;

 private:
  const GrpcSettings settings_;
  const kafka::KafkaConfig config_;
  const Clock& clock_;
  const std::function<void(const std::string&)> log_;
  std::unique_ptr<kafka::Producer> producer_;
  std::unique_ptr<api::CommandSender> sender_;
  std::unique_ptr<api::CallUpBoard> board_;
  std::unique_ptr<api::PolicyStore> policy_;
  std::unique_ptr<api::LineDirectory> lines_;
  std::vector<std::unique_ptr<api::TopicFollower>> followers_;
  std::vector<std::string> follower_topics_;  // followers_[i]'s topic
  std::unique_ptr<api::ApiServer> server_;
  std::atomic<bool> started_{false};
};

}  // namespace tidewatch::tidewatchd

#endif  // TIDEWATCH_SERVICES_TIDEWATCHD_GRPC_FRONT_H_
