// tide-sim --respond-to against a tidewatchd API front: a revenues back
// office page is open; the simulator acknowledges it with its scenario's
// response (8 back-office people, ETA 20 min) through gRPC, the command goes
// to tidewatch.commands, and the people log in 20 simulated minutes later
// instead of at the scripted 10:20.
#include <fstream>

#include "api_test_util.h"
#include "common/proto_time.h"
#include "gmock/gmock.h"
#include "tidewatch/v1/commands.pb.h"

namespace tidewatch::api::testing {
namespace {

using ::testing::HasSubstr;

class TideSimRespondTest : public ApiFixture {};

TEST_F(TideSimRespondTest, AcknowledgesPagesAndSendsThePeople) {
  Front& front = StartFront(/*owner=*/false, TestAuthenticator());
  v1::Escalation e;
  e.set_line_id("revenues");
  e.set_sequence(1);
  v1::CallUp* c = e.mutable_callup();
  c->set_id("revenues/t2/20221003T074120Z/1/revenues-back-office");
  c->set_line_id("revenues");
  c->set_team_id("revenues-back-office");
  c->set_state(v1::CALL_UP_STATE_PAGED);
  c->set_headcount(4);
  front.board->Apply(e);

  const std::string out = absl::StrCat(::testing::TempDir(), "/respond.jsonl");
  const std::string cmd =
      absl::StrCat("TIDEWATCH_TOKEN=", kRevenuesToken, " ", TIDEWATCH_BINARY_DIR,
                   "/services/tide-sim/tide-sim --scenario ", TIDEWATCH_SOURCE_DIR,
                   "/deploy/scenarios/council-tax-summons.yaml --speed 7200 --out ", out,
                   " --respond-to ", front.address, " 2>&1");
  FILE* p = popen(cmd.c_str(), "r");
  std::string log;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) log.append(buf, n);
  ASSERT_EQ(pclose(p), 0) << log;
  EXPECT_THAT(log, HasSubstr("acknowledged revenues/t2/20221003T074120Z/1/revenues-back-office: 8 "
                             "back_office people in 1200 s"));
  EXPECT_THAT(log, HasSubstr("answered 1 call-up(s) live"));

  // The people logged in from the live response, none from the script.
  std::ifstream in(out);
  std::string line;
  int live_logins = 0;
  int scripted = 0;
  while (std::getline(in, line)) {
    if (line.find("revenues-back-office-live-") != std::string::npos &&
        line.find("AGENT_STATUS_AVAILABLE") != std::string::npos) {
      ++live_logins;
    }
    if (line.find("\"revenues-back-office-01\"") != std::string::npos) ++scripted;
  }
  EXPECT_GE(live_logins, 8);
  EXPECT_EQ(scripted, 0);

  // The acknowledgement reached tidewatch.commands with the scenario's
  // headcount and ETA.
  const std::vector<kafka::Record> got = ReadCommands();
  ASSERT_EQ(got.size(), 1u);
  v1::Command command;
  ASSERT_TRUE(command.ParseFromString(got[0].value));
  ASSERT_TRUE(command.has_acknowledge());
  EXPECT_EQ(command.acknowledge().headcount(), 8);
  EXPECT_EQ(FromProto(command.acknowledge().eta()), absl::Minutes(20));
  EXPECT_EQ(command.actor(), "rita");
}

}  // namespace
}  // namespace tidewatch::api::testing
