// Authentication and authorization over gRPC for each role and each refusal
// code, the health service, bad requests, and TLS with certificates made at
// test time by the openssl CLI (server-only and with required client
// certificates). Call-ups are put on the board directly: no engine needed.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "api_test_util.h"
#include "grpcpp/generic/generic_stub.h"
#include "tidewatch/v1/commands.pb.h"

namespace tidewatch::api::testing {
namespace {

v1::Escalation Page(const std::string& id, const std::string& team, int64_t seq) {
  v1::Escalation e;
  e.set_line_id("revenues");
  e.set_sequence(seq);
  e.set_id("revenues/" + std::to_string(seq));
  v1::CallUp* c = e.mutable_callup();
  c->set_id(id);
  c->set_line_id("revenues");
  c->set_team_id(team);
  c->set_state(v1::CALL_UP_STATE_PAGED);
  c->set_headcount(4);
  return e;
}

class ApiSecurityTest : public ApiFixture {
 protected:
  void SetUp() override {
    ApiFixture::SetUp();
    front_ = &StartFront(/*owner=*/false, TestAuthenticator());
    front_->board->Apply(Page("rev/back-office", "revenues-back-office", 1));
    front_->board->Apply(Page("rev/csc", "csc-reserve", 2));
    channel_ = Insecure(front_->address);
    callups_ = v1::CallUpService::NewStub(channel_);
    policy_ = v1::PolicyService::NewStub(channel_);
    lines_ = v1::LineStatusService::NewStub(channel_);
  }

  grpc::StatusCode Ack(const std::string& token, const std::string& id) {
    v1::AcknowledgeRequest req;
    req.set_callup_id(id);
    v1::CommandReceipt r;
    return callups_->Acknowledge(Context(token).get(), req, &r).error_code();
  }
  grpc::StatusCode Decline(const std::string& token, const std::string& id,
                           const std::string& reason = "all in a meeting") {
    v1::DeclineRequest req;
    req.set_callup_id(id);
    req.set_reason(reason);
    v1::CommandReceipt r;
    return callups_->Decline(Context(token).get(), req, &r).error_code();
  }
  grpc::StatusCode List(const std::string& token) {
    v1::ListCallUpsResponse r;
    return callups_->List(Context(token).get(), {}, &r).error_code();
  }
  grpc::StatusCode GetPolicy(const std::string& token) {
    v1::GetPolicyResponse r;
    return policy_->GetPolicy(Context(token).get(), {}, &r).error_code();
  }
  grpc::StatusCode ListLines(const std::string& token) {
    v1::ListLinesResponse r;
    return lines_->ListLines(Context(token).get(), {}, &r).error_code();
  }
  grpc::StatusCode Apply(const std::string& token) {
    v1::ApplyPolicyRequest req;
    req.set_yaml(policy_yaml_);
    v1::ApplyPolicyResponse r;
    return policy_->ApplyPolicy(Context(token).get(), req, &r).error_code();
  }
  grpc::StatusCode Rollback(const std::string& token) {
    v1::ApplyPolicyResponse r;
    return policy_->RollbackPolicy(Context(token).get(), {}, &r).error_code();
  }
  grpc::StatusCode WatchStatus(const std::string& token) {
    auto ctx = Context(token, absl::Seconds(2));
    v1::WatchCallUpsRequest req;
    auto reader = callups_->Watch(ctx.get(), req);
    v1::CallUpEvent e;
    while (reader->Read(&e)) {
      if (e.kind() == v1::CallUpEvent::SYNCED) {
        ctx->TryCancel();
      }
    }
    grpc::Status s = reader->Finish();
    return s.error_code();
  }

  Front* front_ = nullptr;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::CallUpService::Stub> callups_;
  std::unique_ptr<v1::PolicyService::Stub> policy_;
  std::unique_ptr<v1::LineStatusService::Stub> lines_;
};

TEST_F(ApiSecurityTest, NoOrUnknownTokenIsUnauthenticated) {
  for (const std::string token : {"", "not-a-token"}) {
    EXPECT_EQ(List(token), grpc::StatusCode::UNAUTHENTICATED) << token;
    EXPECT_EQ(ListLines(token), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(GetPolicy(token), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(Ack(token, "rev/back-office"), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(Decline(token, "rev/back-office"), grpc::StatusCode::UNAUTHENTICATED);
    // A bad request from an unknown caller: refused for the caller first.
    EXPECT_EQ(Decline(token, "rev/back-office", /*reason=*/""), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(Apply(token), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(Rollback(token), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(WatchStatus(token), grpc::StatusCode::UNAUTHENTICATED);
  }
}

TEST_F(ApiSecurityTest, ViewerReadsButMayNotRespondOrAdminister) {
  EXPECT_EQ(List(kViewerToken), grpc::StatusCode::OK);
  EXPECT_EQ(ListLines(kViewerToken), grpc::StatusCode::OK);
  EXPECT_EQ(GetPolicy(kViewerToken), grpc::StatusCode::OK);
  EXPECT_EQ(WatchStatus(kViewerToken), grpc::StatusCode::CANCELLED);  // we hung up
  EXPECT_EQ(Ack(kViewerToken, "rev/back-office"), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Decline(kViewerToken, "rev/back-office"), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Apply(kViewerToken), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Rollback(kViewerToken), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(ApiSecurityTest, ResponderActsOnlyForItsTeams) {
  EXPECT_EQ(Ack(kRevenuesToken, "rev/back-office"), grpc::StatusCode::OK);
  EXPECT_EQ(Decline(kRevenuesToken, "rev/back-office"), grpc::StatusCode::OK);
  EXPECT_EQ(Ack(kRevenuesToken, "rev/csc"), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Decline(kRevenuesToken, "rev/csc"), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Ack(kCscToken, "rev/csc"), grpc::StatusCode::OK);
  EXPECT_EQ(Ack(kCscToken, "rev/back-office"), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Apply(kRevenuesToken), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Rollback(kRevenuesToken), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(ApiSecurityTest, AdminDoesEverything) {
  EXPECT_EQ(Ack(kAdminToken, "rev/back-office"), grpc::StatusCode::OK);
  EXPECT_EQ(Ack(kAdminToken, "rev/csc"), grpc::StatusCode::OK);
  EXPECT_EQ(Apply(kAdminToken), grpc::StatusCode::OK);
  EXPECT_EQ(Rollback(kAdminToken), grpc::StatusCode::OK);
}

TEST_F(ApiSecurityTest, BadRequests) {
  EXPECT_EQ(Ack(kAdminToken, "no/such/callup"), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Ack(kAdminToken, ""), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Decline(kAdminToken, "rev/csc", ""), grpc::StatusCode::INVALID_ARGUMENT);
  v1::AcknowledgeRequest req;
  req.set_callup_id("rev/csc");
  req.set_headcount(-1);
  v1::CommandReceipt r;
  EXPECT_EQ(callups_->Acknowledge(Context(kAdminToken).get(), req, &r).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  req.set_headcount(1);
  req.mutable_eta()->set_seconds(-60);
  EXPECT_EQ(callups_->Acknowledge(Context(kAdminToken).get(), req, &r).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // Not a Duration protobuf's JSON printer (tidectl --json, grpcurl) can print.
  req.mutable_eta()->set_seconds(-1);
  req.mutable_eta()->set_nanos(1'500'000'000);
  EXPECT_EQ(callups_->Acknowledge(Context(kAdminToken).get(), req, &r).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  req.mutable_eta()->set_seconds(400'000'000'000);
  req.mutable_eta()->set_nanos(0);
  grpc::Status huge = callups_->Acknowledge(Context(kAdminToken).get(), req, &r);
  EXPECT_EQ(huge.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(huge.error_message().find("eta:"), std::string::npos) << huge.error_message();
  req.clear_eta();
  req.set_headcount(100'000);
  grpc::Status many = callups_->Acknowledge(Context(kAdminToken).get(), req, &r);
  EXPECT_EQ(many.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(many.error_message().find("headcount 100000"), std::string::npos)
      << many.error_message();
  // Free text beyond its bound (a 1 MB reason would not even fit a Kafka message).
  EXPECT_EQ(Decline(kAdminToken, "rev/csc", std::string(1001, 'x')),
            grpc::StatusCode::INVALID_ARGUMENT);
  req.set_headcount(1);
  req.set_responder(std::string(201, 'r'));
  EXPECT_EQ(callups_->Acknowledge(Context(kAdminToken).get(), req, &r).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(ReadCommands(absl::Seconds(2)).empty());  // none reached the commands topic
  v1::GetLineRequest get;
  get.set_line_id("no-such-line");
  v1::LineView view;
  EXPECT_EQ(lines_->GetLine(Context(kViewerToken).get(), get, &view).error_code(),
            grpc::StatusCode::NOT_FOUND);
  get.set_line_id("revenues");
  EXPECT_TRUE(lines_->GetLine(Context(kViewerToken).get(), get, &view).ok());
  EXPECT_EQ(view.line_id(), "revenues");
}

TEST_F(ApiSecurityTest, DecliningAnAcknowledgedCallUpIsRefused) {
  v1::Escalation acked = Page("rev/back-office", "revenues-back-office", 3);
  acked.mutable_callup()->set_state(v1::CALL_UP_STATE_ACKNOWLEDGED);
  acked.mutable_callup()->set_responder("rita");
  acked.mutable_callup()->set_acknowledged_headcount(3);
  front_->board->Apply(acked);
  v1::DeclineRequest req;
  req.set_callup_id("rev/back-office");
  req.set_reason("training");
  v1::CommandReceipt r;
  grpc::Status s = callups_->Decline(Context(kRevenuesToken).get(), req, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(s.error_message().find("already acknowledged by rita (3 coming)"), std::string::npos)
      << s.error_message();
  EXPECT_TRUE(ReadCommands(absl::Seconds(2)).empty());
  // A paged one can still be declined, and an acknowledged one acknowledged again.
  EXPECT_EQ(Decline(kCscToken, "rev/csc"), grpc::StatusCode::OK);
  EXPECT_EQ(Ack(kRevenuesToken, "rev/back-office"), grpc::StatusCode::OK);
  EXPECT_EQ(ReadCommands(absl::Seconds(10), 2).size(), 2u);
}

TEST_F(ApiSecurityTest, AcceptedCommandGoesToTheCommandsTopicKeyedByLine) {
  v1::AcknowledgeRequest req;
  req.set_callup_id("rev/back-office");
  req.set_headcount(2);
  req.mutable_eta()->set_seconds(600);
  v1::CommandReceipt receipt;
  ASSERT_TRUE(callups_->Acknowledge(Context(kRevenuesToken).get(), req, &receipt).ok());
  const std::vector<kafka::Record> got = ReadCommands();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].key, "revenues");
  v1::Command c;
  ASSERT_TRUE(c.ParseFromString(got[0].value));
  EXPECT_EQ(c.id(), receipt.command_id());
  EXPECT_EQ(c.line_id(), "revenues");
  EXPECT_EQ(c.actor(), "rita");
  ASSERT_TRUE(c.has_acknowledge());
  EXPECT_EQ(c.acknowledge().callup_id(), "rev/back-office");
  EXPECT_EQ(c.acknowledge().responder(), "rita");  // defaults to the token holder
  EXPECT_EQ(c.acknowledge().headcount(), 2);
  EXPECT_EQ(c.acknowledge().eta().seconds(), 600);
}

TEST_F(ApiSecurityTest, WatchLinesSendsTheLinesEveryInterval) {
  auto ctx = Context(kViewerToken, absl::Seconds(10));
  v1::WatchLinesRequest req;
  req.add_line_ids("revenues");
  req.mutable_interval()->set_nanos(200'000'000);
  auto reader = lines_->WatchLines(ctx.get(), req);
  v1::ListLinesResponse r;
  int got = 0;
  while (got < 3 && reader->Read(&r)) {
    ++got;
    ASSERT_EQ(r.lines_size(), 1);
    EXPECT_EQ(r.lines(0).line_id(), "revenues");
    EXPECT_EQ(r.lines(0).display_name(), "Revenues & Benefits");
    EXPECT_EQ(r.lines(0).source(), "none");  // no owner, no state yet
  }
  EXPECT_EQ(got, 3);
  ctx->TryCancel();
  reader->Finish().IgnoreError();
  // Refused without a token.
  auto bare = Context("", absl::Seconds(5));
  auto refused = lines_->WatchLines(bare.get(), req);
  EXPECT_FALSE(refused->Read(&r));
  EXPECT_EQ(refused->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

// A line-status watcher waiting out its interval when the server stops is
// told so at once (UNAVAILABLE, "shutting down"), as call-up watchers are:
// the stream is not left to the shutdown deadline's cancel. A new one is
// refused meanwhile.
TEST_F(ApiSecurityTest, ShutdownEndsLineWatchersWithAReason) {
  auto ctx = Context(kViewerToken, absl::Seconds(60));
  v1::WatchLinesRequest req;
  req.mutable_interval()->set_seconds(600);  // waits ten minutes after the first
  auto reader = lines_->WatchLines(ctx.get(), req);
  v1::ListLinesResponse r;
  ASSERT_TRUE(reader->Read(&r));
  EXPECT_GT(r.lines_size(), 0);
  std::thread stop([this] { front_->server->Shutdown(absl::Seconds(30)); });
  EXPECT_FALSE(reader->Read(&r));
  const grpc::Status ended = reader->Finish();
  stop.join();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::UNAVAILABLE) << ended.error_message();
  EXPECT_EQ(ended.error_message(), "tidewatchd is shutting down");
}

// A call waiting for Kafka when the server stops ends then, with a reason:
// grpc::Server::Shutdown waits for running handlers whatever its deadline,
// and a handler waiting out its send (10 s here, 30 s for a policy apply)
// held tidewatchd's stop past its watchdog (exit without a clean commit).
TEST_F(ApiSecurityTest, ShutdownEndsCallsWaitingForKafka) {
  ASSERT_TRUE(broker_->SetBrokerDown(1).ok());  // no confirmation will come
  grpc::Status acked;
  std::thread ack([&] {
    v1::AcknowledgeRequest req;
    req.set_callup_id("rev/back-office");
    v1::CommandReceipt r;
    acked = callups_->Acknowledge(Context(kRevenuesToken, absl::Seconds(60)).get(), req, &r);
  });
  absl::SleepFor(absl::Seconds(2));  // the call is waiting in its send (for 10 s)
  front_->server->Shutdown(absl::Seconds(30));
  ack.join();
  EXPECT_EQ(acked.error_code(), grpc::StatusCode::UNAVAILABLE) << acked.error_message();
  EXPECT_EQ(acked.error_message(),
            "tidewatchd is shutting down: no confirmation from Kafka for tidewatch.commands yet "
            "(it may still be written)");
  // Later sends are refused at once.
  EXPECT_EQ(
      front_->sender->Send("tidewatch.commands", "revenues", "x", absl::Seconds(10)).message(),
      "tidewatchd is shutting down: nothing sent to tidewatch.commands");
  EXPECT_EQ(front_->policy->Rollback("ops", "").status().code(), absl::StatusCode::kUnavailable);
  ASSERT_TRUE(broker_->SetBrokerUp(1).ok());
}

// A watcher that stops reading never holds the board up: updates keep
// being applied, its queue overflows, and it is counted and told to resync
// (RESYNC, then the open call-ups again) when it reads again.
TEST_F(ApiSecurityTest, StalledWatcherIsToldToResyncAndNeverBlocksTheBoard) {
  auto ctx = Context(kViewerToken, absl::Seconds(60));
  auto reader = callups_->Watch(ctx.get(), v1::WatchCallUpsRequest{});
  v1::CallUpEvent e;
  ASSERT_TRUE(reader->Read(&e));  // connected: OPEN ... SYNCED are queued
  // 20,000 changes while the client reads nothing (long reasons fill the
  // HTTP/2 windows quickly).
  for (int i = 0; i < 20000; ++i) {
    v1::Escalation u = Page("rev/back-office", "revenues-back-office", 3 + i);
    u.mutable_callup()->set_reason(std::string(200, 'x') + std::to_string(i));
    front_->board->Apply(u);
  }
  EXPECT_GE(front_->board->Stats().resyncs, 1);
  EXPECT_EQ(front_->board->Stats().updates, 20002);
  bool resync = false;
  int after = 0;
  while (reader->Read(&e)) {
    if (e.kind() == v1::CallUpEvent::RESYNC) {
      resync = true;
      after = 0;
    } else if (resync && e.kind() == v1::CallUpEvent::SYNCED) {
      break;
    } else if (resync) {
      ++after;
    }
  }
  EXPECT_TRUE(resync);
  EXPECT_EQ(after, 2);  // both open call-ups, once each
  ctx->TryCancel();
  reader->Finish().IgnoreError();
}

// grpc.health.v1.Health/Check with an empty request: SERVING (status 1).
TEST_F(ApiSecurityTest, HealthServiceAnswersServing) {
  grpc::GenericStub generic(channel_);
  grpc::ClientContext ctx;
  grpc::ByteBuffer request;  // empty HealthCheckRequest
  grpc::Slice empty;
  request = grpc::ByteBuffer(&empty, 1);
  grpc::ByteBuffer response;
  absl::Mutex mu;
  bool done = false;
  grpc::Status status;
  generic.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                    [&](grpc::Status s) {
                      absl::MutexLock lock(&mu);
                      status = s;
                      done = true;
                    });
  absl::MutexLock lock(&mu);
  ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&done), absl::Seconds(10)));
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_EQ(bytes, std::string("\x08\x01", 2));  // status: SERVING
}

class ApiTlsTest : public ApiFixture {};

TEST_F(ApiTlsTest, ServesOverTlsAndRefusesPlaintext) {
  TlsFiles tls;
  ASSERT_TRUE(tls.ok()) << "openssl failed";
  Front& f = StartFront(false, TestAuthenticator(), /*insecure=*/false, tls.Read("server.pem"),
                        tls.Read("server.key"));
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = tls.Read("ca.pem");
  auto secure = grpc::CreateChannel(f.address, grpc::SslCredentials(ssl));
  v1::GetPolicyResponse r;
  grpc::Status s =
      v1::PolicyService::NewStub(secure)->GetPolicy(Context(kViewerToken).get(), {}, &r);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(r.version(), 0);
  // Tokens still apply over TLS.
  EXPECT_EQ(v1::PolicyService::NewStub(secure)->GetPolicy(Context("").get(), {}, &r).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  // A plaintext client cannot talk to it.
  grpc::Status plain = v1::PolicyService::NewStub(Insecure(f.address))
                           ->GetPolicy(Context(kViewerToken, absl::Seconds(3)).get(), {}, &r);
  EXPECT_FALSE(plain.ok());
  // A client that does not trust the CA cannot either.
  grpc::SslCredentialsOptions untrusting;
  untrusting.pem_root_certs = tls.Read("client.pem");
  grpc::Status untrusted =
      v1::PolicyService::NewStub(grpc::CreateChannel(f.address, grpc::SslCredentials(untrusting)))
          ->GetPolicy(Context(kViewerToken, absl::Seconds(3)).get(), {}, &r);
  EXPECT_EQ(untrusted.error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(ApiTlsTest, ClientCertificatesRequiredWhenAClientCaIsGiven) {
  TlsFiles tls;
  ASSERT_TRUE(tls.ok()) << "openssl failed";
  Front& f = StartFront(false, TestAuthenticator(), /*insecure=*/false, tls.Read("server.pem"),
                        tls.Read("server.key"), tls.Read("ca.pem"));
  v1::GetPolicyResponse r;
  grpc::SslCredentialsOptions with_cert;
  with_cert.pem_root_certs = tls.Read("ca.pem");
  with_cert.pem_cert_chain = tls.Read("client.pem");
  with_cert.pem_private_key = tls.Read("client.key");
  grpc::Status ok =
      v1::PolicyService::NewStub(grpc::CreateChannel(f.address, grpc::SslCredentials(with_cert)))
          ->GetPolicy(Context(kViewerToken).get(), {}, &r);
  EXPECT_TRUE(ok.ok()) << ok.error_message();
  grpc::SslCredentialsOptions without_cert;
  without_cert.pem_root_certs = tls.Read("ca.pem");
  grpc::Status refused =
      v1::PolicyService::NewStub(grpc::CreateChannel(f.address, grpc::SslCredentials(without_cert)))
          ->GetPolicy(Context(kViewerToken, absl::Seconds(3)).get(), {}, &r);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(ApiTlsTest, TlsNeedsCertificateAndKey) {
  Front& f = StartFront(false, TestAuthenticator());
  ApiServerOptions o;
  o.address = "127.0.0.1:0";
  absl::StatusOr<std::unique_ptr<ApiServer>> s = ApiServer::Start(
      o, ApiBackends{f.board.get(), f.policy.get(), f.lines.get(), f.sender.get(), &clock_});
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.status().message().find("certificate"), std::string::npos);
}

}  // namespace
}  // namespace tidewatch::api::testing
