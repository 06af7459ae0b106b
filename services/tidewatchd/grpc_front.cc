#include "grpc_front.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace tidewatch::tidewatchd {

GrpcFront::GrpcFront(GrpcSettings settings, kafka::KafkaConfig config, const Clock& clock,
                     std::function<void(const std::string&)> log)
    : settings_(std::move(settings)),
      config_(std::move(config)),
      clock_(clock),
      log_(std::move(log)) {}

GrpcFront::~GrpcFront() { Shutdown(); }

absl::Status GrpcFront::Start(
    std::string startup_yaml, std::shared_ptr<const policy::CompiledPolicy> startup,
    api::LineDirectory::LocalLines local_lines,
    std::function<void(std::shared_ptr<const policy::CompiledPolicy>, int64_t)> on_policy,
    std::function<absl::Status(const policy::CompiledPolicy&, const policy::CompiledPolicy&)>
        check_change) {
  kafka::ProducerOptions po;
  po.linger = absl::Milliseconds(1);
  // A command or policy version the caller was told failed (no
  // confirmation within the call's wait) should not land minutes later:
  // librdkafka fails it soon after instead.
  po.delivery_timeout = absl::Seconds(15);
  ASSIGN_OR_RETURN(producer_, kafka::NewProducer(config_, po));
  sender_ = std::make_unique<api::CommandSender>(*producer_);
  board_ = std::make_unique<api::CallUpBoard>();
  api::PolicyStoreOptions pso;
  pso.topic = settings_.policy_topic;
  pso.on_policy = std::move(on_policy);
  pso.check_change = std::move(check_change);
  pso.on_log = log_;
  policy_ = std::make_unique<api::PolicyStore>(std::move(startup_yaml), std::move(startup), pso,
                                               *sender_, clock_);
  api::PolicyStore* store = policy_.get();
  lines_ = std::make_unique<api::LineDirectory>(std::move(local_lines),
                                                [store] { return store->Current(); });

  auto follow = [this](const std::string& topic, int32_t partitions,
                       api::TopicFollower::Handler handler) -> absl::Status {
    kafka::ConsumerOptions co;  // no group: every instance reads everything
    co.read_committed = true;   // tidewatch's outputs are transactional on a real cluster
    co.fetch_wait_max = absl::Milliseconds(10);
    ASSIGN_OR_RETURN(std::unique_ptr<kafka::Consumer> consumer, kafka::NewConsumer(config_, co));
    api::FollowerOptions fo{topic, partitions};
    // Logged (the first, then at most one line a minute with the count):
    // a follower failing quietly leaves watchers and line status stale.
    fo.on_error = [this, topic, last = absl::InfinitePast(),
                   unlogged = int64_t{0}](const absl::Status& s) mutable {
      ++unlogged;
      const absl::Time now = clock_.Now();
      if (now - last < absl::Minutes(1)) return;
      log_(absl::StrCat(
          "following ", topic, ": ", s.message(),
          unlogged > 1 ? absl::StrCat(" (", unlogged, " errors since the last line)") : ""));
      last = now;
      unlogged = 0;
    };
    auto follower =
        std::make_unique<api::TopicFollower>(std::move(consumer), fo, std::move(handler));
    RETURN_IF_ERROR(follower->Start());
    followers_.push_back(std::move(follower));
    follower_topics_.push_back(topic);
    return absl::OkStatus();
  };
  if (!serving() && !settings_.follow_policy) {
    started_.store(true);  // policy version 0 for good (main said why)
    return absl::OkStatus();
  }
  api::CallUpBoard* board = board_.get();
  api::LineDirectory* lines = lines_.get();
  RETURN_IF_ERROR(follow(settings_.policy_topic, 1,
                         [store](const kafka::Record& r) { store->ApplyRecord(r); }));
  if (serving()) {
    RETURN_IF_ERROR(follow(settings_.escalations_topic, settings_.escalations_partitions,
                           [board](const kafka::Record& r) { board->ApplyRecord(r); }));
    RETURN_IF_ERROR(follow(settings_.state_topic, settings_.state_partitions,
                           [lines](const kafka::Record& r) { lines->ApplyStateRecord(r); }));
  }
  for (auto& f : followers_) {
    if (!f->WaitCaughtUp(absl::Seconds(60))) {
      return absl::DeadlineExceededError(
          serving() ? "could not read the policy, escalations and state topics "
                      "to their ends within 60 s"
                    : "could not read the policy topic to its end within 60 s");
    }
  }
  if (const api::PolicyStore::Version v = policy_->Current();
      v.version > 0 && v.yaml != policy_->History().front().yaml) {
    // The topic is every instance's policy: an edited --policy file does
    // not override a version applied live (the instances would differ).
    log_(absl::StrCat("NOTE: policy version ", v.version, " from ", settings_.policy_topic,
                      " (applied by ", v.applied_by,
                      ") is in force, not the --policy file, which differs: to make the "
                      "file the policy of every instance, `tidectl policy apply` it"));
  }
  if (!serving()) {
    log_(absl::StrCat("following ", settings_.policy_topic, " (no API); policy version ",
                      policy_->Current().version, " in force"));
    started_.store(true);
    return absl::OkStatus();
  }
  log_(absl::StrCat("read ", board_->Stats().open, " open call-up(s); policy version ",
                    policy_->Current().version, " in force"));

  api::ApiServerOptions so;
  so.address = settings_.address;
  so.insecure = settings_.insecure;
  if (!settings_.insecure) {
    ASSIGN_OR_RETURN(so.tls_cert_pem, api::ReadFileText(settings_.tls_cert));
    ASSIGN_OR_RETURN(so.tls_key_pem, api::ReadFileText(settings_.tls_key));
    if (!settings_.tls_client_ca.empty()) {
      ASSIGN_OR_RETURN(so.tls_client_ca_pem, api::ReadFileText(settings_.tls_client_ca));
    }
  }
  if (!settings_.tokens_file.empty()) {
    ASSIGN_OR_RETURN(api::Authenticator auth, api::Authenticator::LoadFile(settings_.tokens_file));
    log_(absl::StrCat("tokens file ", settings_.tokens_file, ": ", auth.size(), " token(s)"));
    so.authenticator = std::make_shared<const api::Authenticator>(std::move(auth));
  }
  so.commands_topic = settings_.commands_topic;
  so.instance_id = settings_.instance_id;
  so.on_log = log_;
  ASSIGN_OR_RETURN(
      server_, api::ApiServer::Start(so, api::ApiBackends{board_.get(), policy_.get(), lines_.get(),
                                                          sender_.get(), &clock_}));
  log_(absl::StrCat("serving gRPC on ", settings_.address, " (port ", server_->port(), ", ",
                    settings_.insecure ? "PLAINTEXT" : "TLS",
                    settings_.tls_client_ca.empty() ? "" : ", client certificates required",
                    so.authenticator ? ", bearer tokens" : ", NO TOKENS: everyone is admin", ")"));
  started_.store(true);
  return absl::OkStatus();
}

std::string GrpcFront::MetricsText() const {
  if (!started_.load()) return "";
  const api::BoardStats b = board_->Stats();
  std::string out;
  auto metric = [&out](const char* name, const char* type, const char* help, int64_t value) {
    absl::StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n", name, " ",
                    value, "\n");
  };
  metric("tidewatch_policy_version", "gauge", "The policy version in force on this instance.",
         policy_->Current().version);
  absl::StrAppend(&out,
                  "# HELP tidewatch_api_follow_errors_total Errors reading a topic the API "
                  "serves from (policy, escalations, state).\n"
                  "# TYPE tidewatch_api_follow_errors_total counter\n");
  for (size_t i = 0; i < followers_.size(); ++i) {
    absl::StrAppend(&out, "tidewatch_api_follow_errors_total{topic=\"", follower_topics_[i], "\"} ",
                    followers_[i]->errors(), "\n");
  }
  if (!serving()) return out;
  metric("tidewatch_grpc_callup_watchers", "gauge", "Call-up watch streams open on this instance.",
         b.watchers);
  metric("tidewatch_grpc_watch_resyncs_total", "counter",
         "Watch streams that fell behind and were told to resync.", b.resyncs);
  metric("tidewatch_grpc_open_callups", "gauge",
         "Open call-ups known to this instance (from tidewatch.escalations).", b.open);
  metric("tidewatch_grpc_callup_updates_total", "counter", "Call-up changes passed to watchers.",
         b.updates);
  metric("tidewatch_grpc_escalation_duplicates_total", "counter",
         "Escalations read again (re-emissions) and not passed on.", b.duplicates);
  return out;
}

void GrpcFront::Shutdown() {
  if (server_) {
    server_->Shutdown(absl::Seconds(2));
    server_.reset();
  }
  for (auto& f : followers_) f->Stop();
}

}  // namespace tidewatch::tidewatchd
