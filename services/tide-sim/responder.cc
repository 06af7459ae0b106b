#include "responder.h"

#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tidewatch/v1/service.grpc.pb.h"

namespace tidewatch::sim {

bool OriginAnswersTeam(tidewatch::v1::AgentOrigin origin, const std::string& team_id) {
  switch (origin) {
    case tidewatch::v1::AGENT_ORIGIN_BACK_OFFICE:
      return absl::StrContains(team_id, "back-office");
    case tidewatch::v1::AGENT_ORIGIN_PERIPATETIC:
      return absl::StrContains(team_id, "peripatetic");
    case tidewatch::v1::AGENT_ORIGIN_CASUAL:
      return absl::StrContains(team_id, "casual");
    case tidewatch::v1::AGENT_ORIGIN_CSC:
      return absl::StrContains(team_id, "csc");
    default:
      return false;
  }
}

struct Responder::Impl {
  std::string address;
  std::string token;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<tidewatch::v1::CallUpService::Stub> stub;
  grpc::ClientContext watch_ctx;
  std::thread thread;
  absl::Mutex mu;
  std::vector<Reinforcement> unused ABSL_GUARDED_BY(mu);
  std::vector<Reinforcement> due ABSL_GUARDED_BY(mu);
  std::set<std::string> answered ABSL_GUARDED_BY(mu);
  int acknowledged ABSL_GUARDED_BY(mu) = 0;

  void Log(const std::string& line) {
    std::fprintf(stderr, "tide-sim: %s\n", line.c_str());
    std::fflush(stderr);
  }

  void OnPage(const tidewatch::v1::CallUp& c) {
    Reinforcement rf;
    {
      absl::MutexLock lock(&mu);
      if (answered.count(c.id())) return;
      auto it = unused.begin();
      while (it != unused.end() &&
             !(it->line_id == c.line_id() && OriginAnswersTeam(it->origin, c.team_id()))) {
        ++it;
      }
      if (it == unused.end()) return;  // nobody scripted to answer this one
      rf = *it;
      unused.erase(it);
      answered.insert(c.id());
    }
    tidewatch::v1::AcknowledgeRequest req;
    req.set_callup_id(c.id());
    req.set_responder(absl::StrCat("tide-sim (", rf.name.empty() ? "response" : rf.name, ")"));
    req.set_headcount(rf.agents);
    req.mutable_eta()->set_seconds(rf.eta);
    grpc::ClientContext ctx;
    if (!token.empty()) ctx.AddMetadata("authorization", absl::StrCat("Bearer ", token));
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    tidewatch::v1::CommandReceipt receipt;
    grpc::Status s = stub->Acknowledge(&ctx, req, &receipt);
    absl::MutexLock lock(&mu);
    if (!s.ok()) {
      Log(absl::StrCat("could not acknowledge ", c.id(), ": ", s.error_message()));
      unused.push_back(rf);
      answered.erase(c.id());
      return;
    }
    Log(absl::StrCat("acknowledged ", c.id(), ": ", rf.agents, " ",
                     std::string(OriginName(rf.origin)), " people in ", rf.eta, " s"));
    ++acknowledged;
    due.push_back(rf);
  }

  void Run() {
    tidewatch::v1::WatchCallUpsRequest req;
    auto reader = stub->Watch(&watch_ctx, req);
    tidewatch::v1::CallUpEvent e;
    while (reader->Read(&e)) {
      if (e.has_callup() && e.callup().state() == tidewatch::v1::CALL_UP_STATE_PAGED) {
        OnPage(e.callup());
      }
    }
    grpc::Status s = reader->Finish();
    if (!s.ok() && s.error_code() != grpc::StatusCode::CANCELLED) {
      Log(absl::StrCat("call-up watch on ", address, " ended: ", s.error_message()));
    }
  }
};

Responder::Responder(std::string address, std::string token, std::vector<Reinforcement> responses)
    : impl_(std::make_unique<Impl>()) {
  impl_->address = std::move(address);
  impl_->token = std::move(token);
  absl::MutexLock lock(&impl_->mu);
  impl_->unused = std::move(responses);
}

Responder::~Responder() { Stop(); }

absl::Status Responder::Start() {
  impl_->channel = grpc::CreateChannel(impl_->address, grpc::InsecureChannelCredentials());
  if (!impl_->channel->WaitForConnected(std::chrono::system_clock::now() +
                                        std::chrono::seconds(10))) {
    return absl::UnavailableError(
        absl::StrCat("cannot reach tidewatchd at ", impl_->address, " (--respond-to)"));
  }
  impl_->stub = tidewatch::v1::CallUpService::NewStub(impl_->channel);
  if (!impl_->token.empty()) {
    impl_->watch_ctx.AddMetadata("authorization", absl::StrCat("Bearer ", impl_->token));
  }
  impl_->thread = std::thread([this] { impl_->Run(); });
  return absl::OkStatus();
}

std::vector<Reinforcement> Responder::Due(absl::Time) {
  absl::MutexLock lock(&impl_->mu);
  std::vector<Reinforcement> out;
  out.swap(impl_->due);
  return out;
}

void Responder::Stop() {
  if (impl_->thread.joinable()) {
    impl_->watch_ctx.TryCancel();
    impl_->thread.join();
  }
}

int Responder::acknowledged() const {
  absl::MutexLock lock(&impl_->mu);
  return impl_->acknowledged;
}

}  // namespace tidewatch::sim
