// tidectl's gRPC commands as a user runs them, against an in-process
// tidewatchd API front: the wallboard, watch, ack/decline with each refusal
// spelled out, policy get/validate/apply/rollback, --json, an unreachable
// server, and token hashing.
#include <sys/wait.h>

#include <fstream>
#include <thread>

#include "absl/strings/str_replace.h"
#include "api_test_util.h"
#include "gmock/gmock.h"

namespace tidewatch::api::testing {
namespace {

using ::testing::HasSubstr;

struct Result {
  int exit_code = -1;
  std::string out;
};

const std::string kTidectl = absl::StrCat(TIDEWATCH_BINARY_DIR, "/services/tidectl/tidectl");

// Runs a shell command line; stdout and stderr together.
Result Shell(const std::string& command) {
  const std::string cmd = absl::StrCat("(", command, ") 2>&1");
  Result r;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

Result Tidectl(const std::string& args) { return Shell(absl::StrCat(kTidectl, " ", args)); }

std::string TempFile(const std::string& name, const std::string& content) {
  const std::string path = absl::StrCat(::testing::TempDir(), "/", name);
  std::ofstream(path) << content;
  return path;
}

class TidectlApiTest : public ApiFixture {
 protected:
  void SetUp() override {
    ApiFixture::SetUp();
    front_ = &StartFront(/*owner=*/false, TestAuthenticator());
    v1::Escalation e;
    e.set_line_id("revenues");
    e.set_sequence(1);
    v1::CallUp* c = e.mutable_callup();
    c->set_id("revenues/t2/20221003T081000Z/1/revenues-back-office");
    c->set_line_id("revenues");
    c->set_team_id("revenues-back-office");
    c->set_state(v1::CALL_UP_STATE_PAGED);
    c->set_headcount(4);
    c->set_paged_contact("Revenues team leader");
    front_->board->Apply(e);
    server_ = absl::StrCat("--server ", front_->address);
  }
  std::string As(const std::string& token) { return absl::StrCat(server_, " --token ", token); }

  Front* front_ = nullptr;
  std::string server_;
};

TEST_F(TidectlApiTest, StatusIsAWallboard) {
  Result r = Tidectl(absl::StrCat("status ", As(kViewerToken)));
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("LINE"));
  EXPECT_THAT(r.out, HasSubstr("revenues"));
  EXPECT_THAT(r.out, HasSubstr("adult-social-care"));
  Result j = Tidectl(absl::StrCat("status --json --line revenues ", As(kViewerToken)));
  EXPECT_EQ(j.exit_code, 0);
  EXPECT_THAT(j.out, HasSubstr(R"({"lines":[{"line_id":"revenues")"));
}

TEST_F(TidectlApiTest, WatchShowsOpenCallUpsThenLive) {
  Result r = Shell(absl::StrCat("timeout 3 ", kTidectl, " watch --team revenues-back-office ",
                                As(kViewerToken)));
  EXPECT_THAT(r.out, HasSubstr("open    "));
  EXPECT_THAT(r.out, HasSubstr("PAGED        revenues/t2/20221003T081000Z/1/revenues-back-office"));
  EXPECT_THAT(r.out, HasSubstr("-- live (watching team revenues-back-office) --"));
}

TEST_F(TidectlApiTest, AckAndDeclineWithRefusalsSpelledOut) {
  const std::string id = "revenues/t2/20221003T081000Z/1/revenues-back-office";
  Result ok = Tidectl(absl::StrCat("ack ", id, " --headcount 3 --eta 15m ", As(kRevenuesToken)));
  EXPECT_EQ(ok.exit_code, 0) << ok.out;
  EXPECT_THAT(ok.out, HasSubstr("acknowledged " + id));
  Result denied = Tidectl(absl::StrCat("ack ", id, " ", As(kCscToken)));
  EXPECT_EQ(denied.exit_code, 1);
  EXPECT_THAT(denied.out, HasSubstr("refused: PERMISSION_DENIED: colin (responder for csc-reserve) "
                                    "may not respond for team revenues-back-office"));
  Result anonymous = Tidectl(absl::StrCat("ack ", id, " ", server_));
  EXPECT_EQ(anonymous.exit_code, 1);
  EXPECT_THAT(anonymous.out, HasSubstr("refused: UNAUTHENTICATED"));
  Result env = Tidectl(absl::StrCat("TIDEWATCH_TOKEN=", kRevenuesToken,
                                    " true; TIDEWATCH_TOKEN=", kRevenuesToken, " ",
                                    TIDEWATCH_BINARY_DIR, "/services/tidectl/tidectl decline ", id,
                                    " --reason 'all at training' ", server_, " ; echo"));
  EXPECT_THAT(env.out, HasSubstr("declined " + id));
  Result no_reason = Tidectl(absl::StrCat("decline ", id, " ", As(kRevenuesToken)));
  EXPECT_EQ(no_reason.exit_code, 2);
  Result bad_eta = Tidectl(absl::StrCat("ack ", id, " --eta soon ", As(kRevenuesToken)));
  EXPECT_EQ(bad_eta.exit_code, 2);
  // 2^32 would wrap to 0 ("the call-up's headcount") on the wire.
  for (const char* headcount : {"4294967296", "-1"}) {
    Result bad = Tidectl(
        absl::StrCat("ack ", id, " --headcount ", headcount, " --eta 15m ", As(kRevenuesToken)));
    EXPECT_EQ(bad.exit_code, 2) << headcount << ": " << bad.out;
    EXPECT_THAT(bad.out, HasSubstr("--headcount")) << headcount;
  }
  Result json = Tidectl(absl::StrCat("ack ", id, " --json ", As(kAdminToken)));
  EXPECT_THAT(json.out, HasSubstr(R"("line_id":"revenues")"));
}

TEST_F(TidectlApiTest, UnreachableServer) {
  Result r = Tidectl("status --server 127.0.0.1:1 --timeout 3s --token x");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("cannot reach tidewatchd at 127.0.0.1:1"));
}

TEST_F(TidectlApiTest, StatusOfAnUnknownLineSaysSo) {
  // An empty wallboard would read as "all calm".
  Result r = Tidectl(absl::StrCat("status --line revenue ", As(kViewerToken)));
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("tidectl: no line 'revenue' in tidewatchd's policy; lines are: "));
  EXPECT_THAT(r.out, HasSubstr("revenues"));
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("LINE")));
}

TEST_F(TidectlApiTest, AClientCertificateWithoutACaIsAUsageError) {
  // Without --tls_ca the channel is plaintext: the token would go in the clear.
  Result r = Tidectl(absl::StrCat("status --tls_cert c.pem --tls_key k.pem ", As(kViewerToken)));
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("--tls_cert and --tls_key need --tls_ca"));
  Result half = Tidectl(absl::StrCat("status --tls_ca ca.pem --tls_cert c.pem ", As(kViewerToken)));
  EXPECT_EQ(half.exit_code, 2) << half.out;
  EXPECT_THAT(half.out, HasSubstr("--tls_cert and --tls_key go together"));
}

TEST_F(TidectlApiTest, AnErrorTidewatchdAnswersIsNotCalledUnreachable) {
  // Kafka away: tidewatchd answers UNAVAILABLE after its wait; tidectl
  // reached it, and says what it answered.
  ASSERT_TRUE(broker_->SetBrokerDown(1).ok());
  const std::string id = "revenues/t2/20221003T081000Z/1/revenues-back-office";
  Result r = Tidectl(absl::StrCat("ack ", id, " ", As(kRevenuesToken)));
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("refused: UNAVAILABLE: no confirmation from Kafka for "
                               "tidewatch.commands within 10s (it may still be written)"));
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("cannot reach")));
  ASSERT_TRUE(broker_->SetBrokerUp(1).ok());
}

// tidewatchd stopping while an acknowledgement waits for Kafka answers it
// (and then closes the connection at once): tidectl says what it answered
// (it may still be written), not that it could not reach it. It knows the
// answer by its trailer (api::kAnsweredTrailer), not by the message.
TEST_F(TidectlApiTest, AnAnswerAtShutdownIsNotCalledUnreachable) {
  ASSERT_TRUE(broker_->SetBrokerDown(1).ok());
  const std::string id = "revenues/t2/20221003T081000Z/1/revenues-back-office";
  Result r;
  std::thread ack([&] { r = Tidectl(absl::StrCat("ack ", id, " ", As(kRevenuesToken))); });
  absl::SleepFor(absl::Seconds(2));  // waiting in its send (for 10 s)
  front_->server->Shutdown(absl::Seconds(30));
  ack.join();
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("refused: UNAVAILABLE: tidewatchd is shutting down: no "
                               "confirmation from Kafka for tidewatch.commands yet (it may still "
                               "be written)"));
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("cannot reach")));
  ASSERT_TRUE(broker_->SetBrokerUp(1).ok());
}

TEST_F(TidectlApiTest, PolicyValidateApplyRollback) {
  const std::string good = TempFile("good.yaml", std::string(policy::DefaultPolicyYaml()));
  const std::string bad =
      TempFile("bad.yaml", absl::StrReplaceAll(std::string(policy::DefaultPolicyYaml()),
                                               {{"{metric: avg_wait, window: 15m, below: 150s}",
                                                 "{metric: avg_wait, window: 15m, below: 200s}"}}));
  Result v = Tidectl(absl::StrCat("policy validate ", bad, " ", As(kViewerToken)));
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_THAT(v.out, HasSubstr("bad.yaml:"));
  EXPECT_THAT(v.out, HasSubstr("is not below the enter threshold"));
  Result refused = Tidectl(absl::StrCat("policy apply ", good, " ", As(kViewerToken)));
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.out,
              HasSubstr("refused: PERMISSION_DENIED: applying policy needs role admin"));
  Result invalid = Tidectl(absl::StrCat("policy apply ", bad, " ", As(kAdminToken)));
  EXPECT_EQ(invalid.exit_code, 1);
  EXPECT_THAT(invalid.out, HasSubstr("refused: INVALID_ARGUMENT"));
  Result applied =
      Tidectl(absl::StrCat("policy apply ", good, " --comment INC-7 ", As(kAdminToken)));
  EXPECT_EQ(applied.exit_code, 0) << applied.out;
  EXPECT_THAT(applied.out, HasSubstr("as policy version 1"));
  Result rolled = Tidectl(absl::StrCat("policy rollback ", As(kAdminToken)));
  EXPECT_EQ(rolled.exit_code, 0) << rolled.out;
  EXPECT_THAT(rolled.out, HasSubstr("version 2"));
  Result got = Tidectl(absl::StrCat("policy get ", As(kViewerToken)));
  EXPECT_THAT(got.out, HasSubstr("# version 2 'Default council policy', applied by alice"));
  EXPECT_THAT(got.out, HasSubstr("# earlier: version 1 'Default council policy' by alice (INC-7)"));
  EXPECT_THAT(got.out, HasSubstr("name: Default council policy"));
}

TEST(TidectlTokenTest, HashesTokens) {
  Result r = Tidectl("token hash test");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n");
  EXPECT_EQ(Tidectl("token").exit_code, 2);
}

}  // namespace
}  // namespace tidewatch::api::testing
