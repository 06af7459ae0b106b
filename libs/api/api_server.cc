#include "api/api_server.h"

#include <grpcpp/alarm.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "engine/engine.h"
#include "tidewatch/v1/commands.pb.h"
#include "tidewatch/v1/service.grpc.pb.h"

namespace tidewatch::api {
namespace {

namespace v1 = tidewatch::v1;

grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

// How a watch stream ends when the server stops.
grpc::Status ShuttingDown() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, "tidewatchd is shutting down");
}

}  // namespace

absl::StatusOr<std::string> ReadFileText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Everything the three services share.
class ApiServer::Services {
 public:
  Services(ApiServerOptions options, ApiBackends backends)
      : options_(std::move(options)), b_(backends), callups_(this), lines_(this), policy_(this) {}

  // The caller, from its bearer token.
  // Every call begins here: its answer, whatever it is, carries
  // kAnsweredTrailer.
  absl::StatusOr<Principal> Authorize(grpc::CallbackServerContext* ctx) const {
    ctx->AddTrailingMetadata(kAnsweredTrailer, "1");
    if (options_.authenticator == nullptr) {
      Principal anonymous;
      anonymous.name = "anonymous";
      anonymous.role = Role::kAdmin;
      return anonymous;
    }
    const auto& md = ctx->client_metadata();
    auto it = md.find("authorization");
    std::string value;
    if (it != md.end()) value.assign(it->second.data(), it->second.size());
    absl::StatusOr<Principal> p = options_.authenticator->Authenticate(value);
    if (!p.ok()) Log(absl::StrCat("refused ", ctx->peer(), ": ", p.status().message()));
    return p;
  }

  // Serves one unary call: authorizes the caller, then finishes the call
  // with what `handle(principal)` (returning absl::Status) says.
  template <typename Handler>
  grpc::ServerUnaryReactor* Unary(grpc::CallbackServerContext* ctx, Handler handle) const {
    grpc::ServerUnaryReactor* r = ctx->DefaultReactor();
    absl::Status s = [&]() -> absl::Status {
      ASSIGN_OR_RETURN(const Principal who, Authorize(ctx));
      return handle(who);
    }();
    r->Finish(ToGrpc(s));
    return r;
  }

  void Log(const std::string& line) const {
    if (options_.on_log) options_.on_log(line);
  }

  std::string NewCommandId() {
    return absl::StrCat(options_.instance_id, "-", absl::ToUnixNanos(b_.clock->Now()), "-",
                        ++command_counter_);
  }

  // Registries of live call-up and line-status watch streams, so Shutdown
  // can end them. Register returns false once StopWatchers has begun: the
  // stream then ends itself.
  class WatchReactor;
  class LinesReactor;
  bool Register(WatchReactor* r) {
    absl::MutexLock lock(&mu_);
    watchers_.insert(r);
    return !stopping_.load();
  }
  void Unregister(WatchReactor* r) {
    absl::MutexLock lock(&mu_);
    watchers_.erase(r);
  }
  bool Register(LinesReactor* r) {
    absl::MutexLock lock(&mu_);
    line_watchers_.insert(r);
    return !stopping_.load();
  }
  void Unregister(LinesReactor* r) {
    absl::MutexLock lock(&mu_);
    line_watchers_.erase(r);
  }
  // Ends every watch stream (UNAVAILABLE, "tidewatchd is shutting down")
  // and refuses new ones.
  void StopWatchers();
  // Ends the waits of calls sending to Kafka (and refuses new sends).
  void StopBackends() {
    if (b_.sender != nullptr) b_.sender->Stop();
    if (b_.policy != nullptr) b_.policy->Stop();
  }
  bool stopping() const { return stopping_.load(); }

  // ------------------------------------------------------------ call-ups
  class CallUpServiceImpl final : public v1::CallUpService::CallbackService {
   public:
    explicit CallUpServiceImpl(Services* s) : s_(s) {}

    grpc::ServerWriteReactor<v1::CallUpEvent>* Watch(
        grpc::CallbackServerContext* ctx, const v1::WatchCallUpsRequest* request) override;

    grpc::ServerUnaryReactor* List(grpc::CallbackServerContext* ctx,
                                   const v1::ListCallUpsRequest* request,
                                   v1::ListCallUpsResponse* response) override {
      return s_->Unary(ctx, [&](const Principal&) {
        for (v1::CallUp& c : s_->b_.board->Open(request->filter()))
          *response->add_callups() = std::move(c);
        return absl::OkStatus();
      });
    }

    grpc::ServerUnaryReactor* Acknowledge(grpc::CallbackServerContext* ctx,
                                          const v1::AcknowledgeRequest* request,
                                          v1::CommandReceipt* response) override {
      return s_->Unary(ctx, [&](const Principal& who) {
        RETURN_IF_ERROR(CheckText("responder", request->responder(), kMaxResponderBytes));
        v1::Command command;
        auto* ack = command.mutable_acknowledge();
        ack->set_callup_id(request->callup_id());
        ack->set_responder(request->responder());
        ack->set_headcount(request->headcount());
        if (request->has_eta()) *ack->mutable_eta() = request->eta();
        RETURN_IF_ERROR(engine::CheckAcknowledge(*ack));
        return s_->SendCommand(who, request->callup_id(), std::move(command), response);
      });
    }

    grpc::ServerUnaryReactor* Decline(grpc::CallbackServerContext* ctx,
                                      const v1::DeclineRequest* request,
                                      v1::CommandReceipt* response) override {
      return s_->Unary(ctx, [&](const Principal& who) {
        if (request->reason().empty())
          return absl::InvalidArgumentError("a decline needs a reason");
        RETURN_IF_ERROR(CheckText("reason", request->reason(), kMaxReasonBytes));
        RETURN_IF_ERROR(CheckText("responder", request->responder(), kMaxResponderBytes));
        v1::Command command;
        auto* d = command.mutable_decline();
        d->set_callup_id(request->callup_id());
        d->set_responder(request->responder());
        d->set_reason(request->reason());
        return s_->SendCommand(who, request->callup_id(), std::move(command), response);
      });
    }

   private:
    Services* s_;
  };

  // Free text a responder types: bounded, so that a command always fits a
  // Kafka message and a wallboard line.
  static constexpr size_t kMaxReasonBytes = 1000;
  static constexpr size_t kMaxResponderBytes = 200;
  static absl::Status CheckText(const char* field, const std::string& text, size_t max_bytes) {
    if (text.size() <= max_bytes) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": at most ", max_bytes, " bytes, got ", text.size()));
  }

  // Checks the (authenticated) caller may act on the call-up, then sends
  // the command to the owning instance through the commands topic.
  absl::Status SendCommand(const Principal& who, const std::string& callup_id, v1::Command command,
                           v1::CommandReceipt* receipt) {
    if (callup_id.empty()) return absl::InvalidArgumentError("callup_id is required");
    std::optional<v1::CallUp> callup = b_.board->Find(callup_id);
    if (!callup) {
      return absl::NotFoundError(
          absl::StrCat("no open call-up ", callup_id, " (never raised, or already stood down)"));
    }
    if (absl::Status s = who.MayRespondFor(callup->team_id()); !s.ok()) {
      Log(absl::StrCat("refused ", who.name, " on ", callup_id, ": ", s.message()));
      return s;
    }
    // The owning engine refuses it too, but only in its own log: say so
    // to the caller (the board is at most a commit interval behind).
    if (command.has_decline() && callup->state() == v1::CALL_UP_STATE_ACKNOWLEDGED) {
      return absl::FailedPreconditionError(
          absl::StrCat("call-up ", callup_id, " is already acknowledged by ", callup->responder(),
                       " (", callup->acknowledged_headcount(), " coming): it cannot be declined"));
    }
    command.set_id(NewCommandId());
    command.set_line_id(callup->line_id());
    ToProto(b_.clock->Now(), command.mutable_received());
    command.set_actor(who.name);
    if (command.has_acknowledge() && command.acknowledge().responder().empty())
      command.mutable_acknowledge()->set_responder(who.name);
    if (command.has_decline() && command.decline().responder().empty())
      command.mutable_decline()->set_responder(who.name);
    if (absl::Status s = b_.sender->Send(options_.commands_topic, callup->line_id(),
                                         command.SerializeAsString(), options_.send_timeout);
        !s.ok()) {
      return s;
    }
    Log(absl::StrCat("command ", command.id(), ": ", who.name,
                     command.has_acknowledge() ? " acknowledged " : " declined ", callup_id));
    receipt->set_command_id(command.id());
    receipt->set_line_id(callup->line_id());
    receipt->set_callup_id(callup_id);
    return absl::OkStatus();
  }

  // --------------------------------------------------------- line status
  class LineStatusServiceImpl final : public v1::LineStatusService::CallbackService {
   public:
    explicit LineStatusServiceImpl(Services* s) : s_(s) {}

    grpc::ServerUnaryReactor* ListLines(grpc::CallbackServerContext* ctx,
                                        const v1::ListLinesRequest*,
                                        v1::ListLinesResponse* response) override {
      return s_->Unary(ctx, [&](const Principal&) {
        for (v1::LineView& v : s_->b_.lines->List()) *response->add_lines() = std::move(v);
        return absl::OkStatus();
      });
    }

    grpc::ServerUnaryReactor* GetLine(grpc::CallbackServerContext* ctx,
                                      const v1::GetLineRequest* request,
                                      v1::LineView* response) override {
      return s_->Unary(ctx, [&](const Principal&) {
        std::optional<v1::LineView> v = s_->b_.lines->Get(request->line_id());
        if (!v) {
          return absl::NotFoundError(
              absl::StrCat("no line '", request->line_id(), "' in the policy"));
        }
        *response = std::move(*v);
        return absl::OkStatus();
      });
    }

    grpc::ServerWriteReactor<v1::ListLinesResponse>* WatchLines(
        grpc::CallbackServerContext* ctx, const v1::WatchLinesRequest* request) override;

   private:
    Services* s_;
  };

  // --------------------------------------------------------------- policy
  class PolicyServiceImpl final : public v1::PolicyService::CallbackService {
   public:
    explicit PolicyServiceImpl(Services* s) : s_(s) {}

    grpc::ServerUnaryReactor* GetPolicy(grpc::CallbackServerContext* ctx,
                                        const v1::GetPolicyRequest*,
                                        v1::GetPolicyResponse* response) override {
      return s_->Unary(ctx, [&](const Principal&) {
        std::vector<PolicyStore::Version> history = s_->b_.policy->History();
        for (size_t i = history.size(); i-- > 0;) {
          const PolicyStore::Version& v = history[i];
          v1::GetPolicyResponse* out = i + 1 == history.size() ? response : response->add_history();
          out->set_version(v.version);
          if (out == response) out->set_yaml(v.yaml);
          out->set_applied_by(v.applied_by);
          if (v.applied_at != absl::InfinitePast())
            ToProto(v.applied_at, out->mutable_applied_at());
          out->set_comment(v.comment);
          if (v.compiled) out->set_name(v.compiled->name);
        }
        return absl::OkStatus();
      });
    }

    grpc::ServerUnaryReactor* ValidatePolicy(grpc::CallbackServerContext* ctx,
                                             const v1::ValidatePolicyRequest* request,
                                             v1::ValidatePolicyResponse* response) override {
      return s_->Unary(ctx, [&](const Principal&) {
        const std::string source = SourceName(*request);
        PolicyStore::Validation v = s_->b_.policy->Validate(request->yaml(), source);
        response->set_valid(v.status.ok());
        for (const policy::PolicyError& e : v.errors) {
          v1::PolicyProblem* p = response->add_problems();
          p->set_path(e.path);
          p->set_line(e.line);
          p->set_column(e.column);
          p->set_message(e.message);
          p->set_text(e.ToString(source));
        }
        return absl::OkStatus();
      });
    }

    grpc::ServerUnaryReactor* ApplyPolicy(grpc::CallbackServerContext* ctx,
                                          const v1::ApplyPolicyRequest* request,
                                          v1::ApplyPolicyResponse* response) override {
      return s_->Unary(ctx, [&](const Principal& who) -> absl::Status {
        RETURN_IF_ERROR(who.MayAdminister("applying policy"));
        ASSIGN_OR_RETURN(const int64_t v,
                         s_->b_.policy->Apply(request->yaml(), SourceName(*request), who.name,
                                              request->comment()));
        s_->Log(absl::StrCat(who.name, " applied policy version ", v));
        response->set_version(v);
        return absl::OkStatus();
      });
    }

    grpc::ServerUnaryReactor* RollbackPolicy(grpc::CallbackServerContext* ctx,
                                             const v1::RollbackPolicyRequest* request,
                                             v1::ApplyPolicyResponse* response) override {
      return s_->Unary(ctx, [&](const Principal& who) -> absl::Status {
        RETURN_IF_ERROR(who.MayAdminister("rolling back policy"));
        ASSIGN_OR_RETURN(const int64_t v, s_->b_.policy->Rollback(who.name, request->comment()));
        s_->Log(absl::StrCat(who.name, " rolled policy back: now version ", v));
        response->set_version(v);
        return absl::OkStatus();
      });
    }

   private:
    // The name a candidate policy's errors are reported against.
    template <typename Request>
    static std::string SourceName(const Request& request) {
      return request.source_name().empty() ? "candidate" : request.source_name();
    }

    Services* s_;
  };

  const ApiServerOptions options_;
  const ApiBackends b_;
  CallUpServiceImpl callups_;
  LineStatusServiceImpl lines_;
  PolicyServiceImpl policy_;

 private:
  std::atomic<int64_t> command_counter_{0};
  std::atomic<bool> stopping_{false};
  absl::Mutex mu_;
  std::set<WatchReactor*> watchers_ ABSL_GUARDED_BY(mu_);
  std::set<LinesReactor*> line_watchers_ ABSL_GUARDED_BY(mu_);
};

// One call-up watch stream: writes whatever the board queued for it, one
// message at a time, as the client takes them.
class ApiServer::Services::WatchReactor final : public grpc::ServerWriteReactor<v1::CallUpEvent> {
 public:
  WatchReactor(Services* s, const v1::CallUpFilter& filter) : s_(s) {
    const bool serving = s_->Register(this);
    sub_ = s_->b_.board->Subscribe(filter, [this] { Pump(); });
    started_.store(true);
    Pump();
    if (!serving) End(ShuttingDown());
  }

  // Ends the stream with `status` once the write in flight (if any) is done.
  void End(grpc::Status status) {
    {
      absl::MutexLock lock(&mu_);
      if (finished_ || end_) return;
      end_ = std::move(status);
      if (writing_) return;  // OnWriteDone finishes
      finished_ = true;
    }
    Finish(*end_);
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      End(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
    }
    std::optional<grpc::Status> end;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (end_ && !finished_) {
        finished_ = true;
        end = end_;
      }
    }
    if (end) {
      Finish(*end);
      return;
    }
    Pump();
  }

  void OnCancel() override { End(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled")); }

  void OnDone() override {
    if (sub_) s_->b_.board->Unsubscribe(sub_);
    s_->Unregister(this);
    Unref();
  }

  // StopWatchers holds a reference while it ends the stream.
  void Ref() { refs_.fetch_add(1); }
  void Unref() {
    if (refs_.fetch_sub(1) == 1) delete this;
  }

 private:
  void Pump() {
    if (!started_.load()) return;
    {
      absl::MutexLock lock(&mu_);
      if (writing_ || finished_ || end_) return;
      std::optional<v1::CallUpEvent> e = sub_->Pop();
      if (!e) return;
      current_ = std::move(*e);
      writing_ = true;
    }
    StartWrite(&current_);
  }

  Services* const s_;
  std::shared_ptr<Subscription> sub_;
  std::atomic<int> refs_{1};
  std::atomic<bool> started_{false};
  absl::Mutex mu_;
  bool writing_ = false;
  bool finished_ = false;
  std::optional<grpc::Status> end_;
  v1::CallUpEvent current_;
};

grpc::ServerWriteReactor<v1::CallUpEvent>* ApiServer::Services::CallUpServiceImpl::Watch(
    grpc::CallbackServerContext* ctx, const v1::WatchCallUpsRequest* request) {
  absl::StatusOr<Principal> who = s_->Authorize(ctx);
  if (!who.ok() || s_->stopping()) {
    // A stream that ends at once.
    class Refused final : public grpc::ServerWriteReactor<v1::CallUpEvent> {
     public:
      explicit Refused(grpc::Status s) { Finish(std::move(s)); }
      void OnDone() override { delete this; }
    };
    return new Refused(who.ok() ? ShuttingDown() : ToGrpc(who.status()));
  }
  return new WatchReactor(s_, request->filter());
}

// A line-status stream: the lines every interval.
class ApiServer::Services::LinesReactor final
    : public grpc::ServerWriteReactor<tidewatch::v1::ListLinesResponse> {
 public:
  LinesReactor(Services* s, std::vector<std::string> ids, absl::Duration interval)
      : s_(s), lines_(s->b_.lines), ids_(ids.begin(), ids.end()), interval_(interval) {
    {
      absl::MutexLock lock(&mu_);
      writing_ = true;
    }
    if (!s_->Register(this)) {
      absl::MutexLock lock(&mu_);
      stopping_ = true;  // Send finishes
    }
    Send();
  }

  // Ends the stream (UNAVAILABLE): at once if it waits out its interval,
  // else when the write in flight is done.
  void Stop() { Interrupt(/*stop=*/true); }

  // gRPC calls (Finish, StartWrite, Alarm::Set/Cancel) are made with mu_
  // released: their callbacks may take it.
  void OnWriteDone(bool ok) override {
    const Hold hold(this);  // the alarm set below may end the stream first
    bool finish = false;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok || cancelled_ || stopping_) {
        finish = MarkFinished();
      } else {
        alarm_pending_ = true;
      }
    }
    if (finish) {
      Finish(end_status_);
      return;
    }
    if (!ok) return;
    alarm_.Set(
        gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                     gpr_time_from_millis(absl::ToInt64Milliseconds(interval_), GPR_TIMESPAN)),
        [this](bool fired) {
          const Hold hold(this);  // Send goes on using it after a cancel
          bool finish_now = false;
          {
            absl::MutexLock lock(&mu_);
            alarm_pending_ = false;
            if (!fired || cancelled_ || stopping_) {
              finish_now = MarkFinished();
            } else {
              // Sending from here on: a cancel that comes meanwhile leaves
              // the stream to Send, which finishes it (the stream must
              // outlive this callback).
              writing_ = true;
            }
          }
          if (finish_now) {
            Finish(end_status_);
          } else {
            Send();
          }
        });
    // A cancel (or Stop) between the unlock above and Set cancelled an
    // alarm not armed yet: cancel it now, or the stream would wait out an
    // interval (the client's choice) before it finishes.
    bool cancelled = false;
    {
      absl::MutexLock lock(&mu_);
      cancelled = cancelled_ || stopping_;
    }
    if (cancelled) alarm_.Cancel();
  }

  void OnCancel() override { Interrupt(/*stop=*/false); }

  void OnDone() override {
    s_->Unregister(this);
    Unref();
  }

  // StopWatchers holds a reference while it ends the stream.
  void Ref() { refs_.fetch_add(1); }
  void Unref() {
    if (refs_.fetch_sub(1) == 1) delete this;
  }

 private:
  // A reference for as long as a method uses the stream after handing it
  // to something that may end it (OnDone drops the first one).
  class Hold {
   public:
    explicit Hold(LinesReactor* r) : r_(r) { r_->refs_.fetch_add(1); }
    ~Hold() { r_->Unref(); }
    Hold(const Hold&) = delete;
    Hold& operator=(const Hold&) = delete;

   private:
    LinesReactor* const r_;
  };
  // A cancel (or a Stop): the stream ends at once if it waits out its
  // interval (the alarm's callback finishes it), else when the write in
  // flight is done.
  void Interrupt(bool stop) {
    bool cancel_alarm = false;
    bool finish = false;
    {
      absl::MutexLock lock(&mu_);
      (stop ? stopping_ : cancelled_) = true;
      if (alarm_pending_) {
        cancel_alarm = true;
      } else if (!writing_) {
        finish = MarkFinished();
      }
    }
    if (cancel_alarm) alarm_.Cancel();
    if (finish) Finish(end_status_);
  }

  // Called with writing_ set, so that a cancel meanwhile does not finish
  // (and free) the stream under it: it finishes here instead.
  void Send() {
    tidewatch::v1::ListLinesResponse next;
    for (tidewatch::v1::LineView& v : lines_->List()) {
      if (ids_.empty() || ids_.count(v.line_id())) *next.add_lines() = std::move(v);
    }
    bool finish = false;
    {
      absl::MutexLock lock(&mu_);
      if (finished_ || cancelled_ || stopping_) {
        writing_ = false;
        finish = MarkFinished();
      } else {
        current_ = std::move(next);
      }
    }
    if (finish) {
      Finish(end_status_);
      return;
    }
    StartWrite(&current_);
  }
  // True the first time: the caller then calls Finish(end_status_)
  // (without mu_; end_status_ no longer changes).
  bool MarkFinished() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return false;
    finished_ = true;
    if (stopping_ && !cancelled_) end_status_ = ShuttingDown();
    return true;
  }

  Services* const s_;
  LineDirectory* const lines_;
  const std::set<std::string> ids_;
  const absl::Duration interval_;
  absl::Mutex mu_;
  grpc::Alarm alarm_;
  bool alarm_pending_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status end_status_;  // OK unless stopped
  std::atomic<int> refs_{1};
  tidewatch::v1::ListLinesResponse current_;
};

grpc::ServerWriteReactor<v1::ListLinesResponse>*
ApiServer::Services::LineStatusServiceImpl::WatchLines(grpc::CallbackServerContext* ctx,
                                                       const v1::WatchLinesRequest* request) {
  absl::StatusOr<Principal> who = s_->Authorize(ctx);
  if (!who.ok()) {
    class Refused final : public grpc::ServerWriteReactor<v1::ListLinesResponse> {
     public:
      explicit Refused(grpc::Status s) { Finish(std::move(s)); }
      void OnDone() override { delete this; }
    };
    return new Refused(ToGrpc(who.status()));
  }
  absl::Duration interval =
      request->has_interval() ? FromProto(request->interval()) : absl::Seconds(1);
  interval = std::clamp(interval, absl::Milliseconds(200), absl::Minutes(10));
  return new LinesReactor(s_, {request->line_ids().begin(), request->line_ids().end()}, interval);
}

void ApiServer::Services::StopWatchers() {
  std::vector<WatchReactor*> callups;
  std::vector<LinesReactor*> lines;
  {
    absl::MutexLock lock(&mu_);
    stopping_.store(true);
    // Alive until we are done with them.
    callups.assign(watchers_.begin(), watchers_.end());
    for (WatchReactor* r : callups) r->Ref();
    lines.assign(line_watchers_.begin(), line_watchers_.end());
    for (LinesReactor* r : lines) r->Ref();
  }
  for (WatchReactor* r : callups) {
    r->End(ShuttingDown());
    r->Unref();
  }
  for (LinesReactor* r : lines) {
    r->Stop();
    r->Unref();
  }
}

absl::StatusOr<std::unique_ptr<ApiServer>> ApiServer::Start(ApiServerOptions options,
                                                            ApiBackends backends) {
  if (backends.board == nullptr || backends.policy == nullptr || backends.lines == nullptr ||
      backends.sender == nullptr || backends.clock == nullptr) {
    return absl::InvalidArgumentError("ApiServer needs every backend");
  }
  std::shared_ptr<grpc::ServerCredentials> credentials;
  if (options.insecure) {
    credentials = grpc::InsecureServerCredentials();
  } else {
    if (options.tls_cert_pem.empty() || options.tls_key_pem.empty()) {
      return absl::InvalidArgumentError(
          "TLS needs a certificate and a key (or run insecure, for demos only)");
    }
    grpc::SslServerCredentialsOptions ssl(
        options.tls_client_ca_pem.empty()
            ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
            : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    ssl.pem_root_certs = options.tls_client_ca_pem;
    ssl.pem_key_cert_pairs.push_back({options.tls_key_pem, options.tls_cert_pem});
    credentials = grpc::SslServerCredentials(ssl);
  }
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  std::unique_ptr<ApiServer> server(new ApiServer);
  const std::string address = options.address;
  server->services_ = std::make_unique<Services>(std::move(options), backends);
  grpc::ServerBuilder builder;
  // Clients' keepalive pings (tidectl watch: every 30 s) are welcome down
  // to every 5 s; the server pings idle clients every minute so that the
  // streams of vanished watchers end.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 5000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20000);
  builder.AddListeningPort(address, credentials, &server->port_);
  builder.RegisterService(&server->services_->callups_);
  builder.RegisterService(&server->services_->lines_);
  builder.RegisterService(&server->services_->policy_);
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot serve gRPC on ", address,
                                               " (in use, or a bad address or certificate)"));
  }
  return server;
}

void ApiServer::Shutdown(absl::Duration deadline) {
  if (shut_down_ || server_ == nullptr) return;
  shut_down_ = true;
  if (auto* health = server_->GetHealthCheckService()) health->Shutdown();
  // Calls waiting for Kafka end now (grpc::Server::Shutdown waits for
  // running handlers whatever its deadline).
  services_->StopBackends();
  services_->StopWatchers();
  server_->Shutdown(
      gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                   gpr_time_from_millis(absl::ToInt64Milliseconds(deadline), GPR_TIMESPAN)));
  server_->Wait();
}

ApiServer::~ApiServer() { Shutdown(absl::ZeroDuration()); }

}  // namespace tidewatch::api
