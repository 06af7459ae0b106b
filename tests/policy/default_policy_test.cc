// The shipped default policy (deploy/policy/default.yaml, embedded as
// DefaultPolicyYaml()) loads and compiles to what the engine expects; the
// file and protobuf entry points.
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "policy/compiled_policy.h"
#include "policy/policy.h"
#include "policy_test_util.h"

namespace tidewatch::policy {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

const std::string kDefaultPath = std::string(TIDEWATCH_SOURCE_DIR) + "/deploy/policy/default.yaml";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::vector<std::string> CallUpTeams(const TierRule& tier) {
  std::vector<std::string> teams;
  for (const CallUpTemplate& c : tier.callups) teams.push_back(c.team_id);
  return teams;
}

TEST(DefaultPolicyTest, EmbeddedTextIsTheDeployFile) {
  const std::string file = ReadFile(kDefaultPath);
  ASSERT_FALSE(file.empty()) << kDefaultPath;
  EXPECT_EQ(DefaultPolicyYaml(), file);
}

TEST(DefaultPolicyTest, LoadsWithTheExpectedShape) {
  absl::StatusOr<CompiledPolicy> policy = LoadPolicyYaml(DefaultPolicyYaml(), "default.yaml");
  ASSERT_TRUE(policy.ok()) << policy.status();

  EXPECT_EQ(policy->name, "Default council policy");
  EXPECT_THAT(policy->windows, ElementsAre(absl::Minutes(5), absl::Minutes(15), absl::Minutes(60)));
  EXPECT_EQ(policy->longest_window(), absl::Minutes(60));
  EXPECT_EQ(policy->allowed_lateness, absl::Minutes(2));
  EXPECT_EQ(policy->evaluation_interval, absl::Seconds(10));
  EXPECT_THAT(policy->teams, SizeIs(9));
  EXPECT_EQ(policy->source.name(), "Default council policy");

  std::vector<std::string> line_ids;
  for (const auto& [id, line] : policy->lines) line_ids.push_back(id);
  EXPECT_THAT(line_ids,
              ElementsAre("adult-social-care", "council-tax", "housing", "revenues", "waste"));
  EXPECT_EQ(policy->FindLine("nope"), nullptr);

  for (const auto& [id, line] : policy->lines) {
    SCOPED_TRACE(id);
    EXPECT_EQ(line.line_id, id);
    ASSERT_THAT(line.tiers, SizeIs(3));
    for (int i = 0; i < 3; ++i) EXPECT_EQ(line.tiers[i].level, i + 1);
    EXPECT_EQ(line.hours.zone_name, "Europe/London");
    EXPECT_FALSE(line.hours.always);
    ASSERT_THAT(line.hours.weekly, SizeIs(1));
    EXPECT_EQ(line.hours.weekly[0].open_minute, 8 * 60 + 30);
    EXPECT_EQ(line.hours.weekly[0].close_minute, 17 * 60 + 30);
    EXPECT_THAT(line.hours.weekly[0].days,
                ElementsAre(absl::Weekday::monday, absl::Weekday::tuesday, absl::Weekday::wednesday,
                            absl::Weekday::thursday, absl::Weekday::friday));
    EXPECT_EQ(line.feed_stale_after, absl::Minutes(5));
    EXPECT_EQ(line.default_handle_time, absl::Seconds(300));
    // Every call-up resolved to a team that exists.
    for (const TierRule& tier : line.tiers) {
      for (const CallUpTemplate& c : tier.callups) {
        EXPECT_TRUE(policy->teams.count(c.team_id)) << c.team_id;
      }
    }
  }
}

TEST(DefaultPolicyTest, RevenuesTiersResolveRoles) {
  absl::StatusOr<CompiledPolicy> policy = LoadPolicyYaml(DefaultPolicyYaml(), "default.yaml");
  ASSERT_TRUE(policy.ok()) << policy.status();
  const LinePolicy* revenues = policy->FindLine("revenues");
  ASSERT_NE(revenues, nullptr);
  EXPECT_EQ(revenues->display_name, "Revenues & Benefits");
  ASSERT_THAT(revenues->tiers, SizeIs(3));

  const TierRule& t1 = revenues->tiers[0];
  EXPECT_EQ(t1.name, "CSC reserves");
  EXPECT_FALSE(t1.enter.all);
  EXPECT_TRUE(t1.exit.all);
  EXPECT_EQ(t1.sustain, absl::Minutes(2));
  EXPECT_EQ(t1.min_hold, absl::Minutes(10));
  ASSERT_THAT(t1.enter.clauses, SizeIs(3));
  EXPECT_EQ(t1.enter.clauses[0].metric, v1::METRIC_AVG_WAIT);
  EXPECT_EQ(t1.enter.clauses[0].window, absl::Minutes(15));
  EXPECT_TRUE(t1.enter.clauses[0].above);
  EXPECT_DOUBLE_EQ(t1.enter.clauses[0].threshold, 180);  // seconds
  EXPECT_EQ(t1.enter.clauses[1].metric, v1::METRIC_ABANDON_RATE);
  EXPECT_DOUBLE_EQ(t1.enter.clauses[1].threshold, 0.10);
  EXPECT_EQ(t1.enter.clauses[2].metric, v1::METRIC_LONGEST_WAITING);
  EXPECT_EQ(t1.enter.clauses[2].window, absl::ZeroDuration());
  EXPECT_DOUBLE_EQ(t1.enter.clauses[2].threshold, 480);
  EXPECT_FALSE(t1.exit.clauses[0].above);
  EXPECT_DOUBLE_EQ(t1.exit.clauses[0].threshold, 150);
  EXPECT_THAT(CallUpTeams(t1), ElementsAre("csc-reserve"));
  EXPECT_EQ(t1.callups[0].fixed_headcount, 2);
  EXPECT_FALSE(t1.callups[0].headcount_from_gap);
  EXPECT_EQ(t1.callups[0].duration, absl::Hours(1));

  const TierRule& t2 = revenues->tiers[1];
  EXPECT_EQ(t2.name, "Back office and senior managers");
  EXPECT_THAT(CallUpTeams(t2), ElementsAre("revenues-back-office", "senior-managers"));
  EXPECT_EQ(t2.callups[0].fixed_headcount, 4);
  EXPECT_EQ(t2.callups[0].duration, absl::Hours(2));

  EXPECT_THAT(CallUpTeams(revenues->tiers[2]), ElementsAre("peripatetic", "casual-bank"));
  EXPECT_EQ(revenues->tiers[2].min_hold, absl::Minutes(30));

  // Each line's back office is its own.
  EXPECT_THAT(CallUpTeams(policy->FindLine("waste")->tiers[1]),
              ElementsAre("waste-back-office", "senior-managers"));
  EXPECT_THAT(CallUpTeams(policy->FindLine("adult-social-care")->tiers[1]),
              ElementsAre("adult-social-care-back-office", "senior-managers"));
}

TEST(DefaultPolicyTest, TeamsAreCompiled) {
  absl::StatusOr<CompiledPolicy> policy = LoadPolicyYaml(DefaultPolicyYaml(), "default.yaml");
  ASSERT_TRUE(policy.ok()) << policy.status();
  const TeamInfo& team = policy->teams.at("revenues-back-office");
  EXPECT_EQ(team.team_id, "revenues-back-office");
  EXPECT_EQ(team.display_name, "Revenues & Benefits back office");
  EXPECT_EQ(team.ack_timeout, absl::Minutes(10));
  EXPECT_EQ(team.max_headcount, 8);
  ASSERT_THAT(team.rota, SizeIs(2));
  EXPECT_EQ(team.rota[0].name(), "Revenues team leader");
  EXPECT_EQ(team.rota[1].contact(), "ben-lead");
  EXPECT_EQ(policy->teams.at("casual-bank").ack_timeout, absl::Minutes(30));
}

TEST(DefaultPolicyTest, AdultSocialCareOverridesTargetsFieldByField) {
  absl::StatusOr<CompiledPolicy> policy = LoadPolicyYaml(DefaultPolicyYaml(), "default.yaml");
  ASSERT_TRUE(policy.ok()) << policy.status();
  const LinePolicy* asc = policy->FindLine("adult-social-care");
  ASSERT_NE(asc, nullptr);
  EXPECT_EQ(asc->targets.answer_within, absl::Seconds(120));
  EXPECT_EQ(asc->targets.avg_wait, absl::Seconds(120));
  // Not overridden: from defaults.
  EXPECT_EQ(asc->targets.short_abandon, absl::Seconds(5));
  EXPECT_DOUBLE_EQ(asc->targets.abandon_rate, 0.10);
  EXPECT_DOUBLE_EQ(asc->targets.answer_rate, 0.90);
  EXPECT_DOUBLE_EQ(asc->targets.service_level, 0.80);

  const LinePolicy* revenues = policy->FindLine("revenues");
  EXPECT_EQ(revenues->targets.answer_within, absl::Seconds(180));
  EXPECT_EQ(revenues->targets.avg_wait, absl::Seconds(180));
}

TEST(DefaultPolicyTest, FileLoadsAndMatchesEmbedded) {
  absl::StatusOr<CompiledPolicy> from_file = LoadPolicyFile(kDefaultPath);
  ASSERT_TRUE(from_file.ok()) << from_file.status();
  absl::StatusOr<CompiledPolicy> embedded = LoadPolicyYaml(DefaultPolicyYaml(), "default.yaml");
  ASSERT_TRUE(embedded.ok());
  EXPECT_TRUE(
      google::protobuf::util::MessageDifferencer::Equals(from_file->source, embedded->source));
  EXPECT_EQ(from_file->lines.size(), embedded->lines.size());
}

TEST(DefaultPolicyTest, MissingFileNamesThePath) {
  const std::string path = std::string(TIDEWATCH_BINARY_DIR) + "/no/such/policy.yaml";
  absl::StatusOr<CompiledPolicy> policy = LoadPolicyFile(path);
  ASSERT_FALSE(policy.ok());
  EXPECT_EQ(policy.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(policy.status().message()), HasSubstr(path));
}

TEST(DefaultPolicyTest, DirectoryIsNotAPolicyFile) {
  absl::StatusOr<CompiledPolicy> policy = LoadPolicyFile(TIDEWATCH_SOURCE_DIR);
  ASSERT_FALSE(policy.ok());
  EXPECT_THAT(std::string(policy.status().message()), HasSubstr(TIDEWATCH_SOURCE_DIR));
}

TEST(DefaultPolicyTest, FileErrorsArePrefixedWithThePath) {
  const std::string path = std::string(TIDEWATCH_BINARY_DIR) + "/policy_test_bad.yaml";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << "name: bad\nwindows: [5m, 15m, 60m]\nbogus: 1\n";
  }
  absl::StatusOr<CompiledPolicy> policy = LoadPolicyFile(path);
  ASSERT_FALSE(policy.ok());
  EXPECT_THAT(std::string(policy.status().message()),
              HasSubstr(path + ":3:1: bogus: unknown key 'bogus'"));
  std::remove(path.c_str());
}

TEST(DefaultPolicyTest, CompilesFromProtobuf) {
  v1::Policy proto;
  ASSERT_TRUE(ParsePolicyYaml(DefaultPolicyYaml(), "default.yaml", &proto, nullptr).ok());
  // Round trip through the wire format, as over gRPC.
  v1::Policy received;
  ASSERT_TRUE(received.ParseFromString(proto.SerializeAsString()));
  absl::StatusOr<CompiledPolicy> policy = CompilePolicy(received);
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_THAT(CallUpTeams(policy->FindLine("revenues")->tiers[1]),
              ElementsAre("revenues-back-office", "senior-managers"));
}

TEST(DefaultPolicyTest, ProtobufErrorsNameThePathWithoutALine) {
  v1::Policy proto;
  ASSERT_TRUE(ParsePolicyYaml(DefaultPolicyYaml(), "default.yaml", &proto, nullptr).ok());
  v1::Tier* tier = proto.mutable_defaults()->mutable_tiers(1);
  tier->mutable_exit()->mutable_clauses(0)->set_threshold(500);  // enter is 420
  tier->set_level(5);
  proto.mutable_defaults()->mutable_tiers(0)->mutable_callups(0)->set_team("ghosts");

  std::vector<PolicyError> errors;
  CompiledPolicy compiled;
  absl::Status status = CompilePolicyDetailed(proto, &compiled, &errors);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("defaults.tiers[1].exit.all[0].below: exit threshold 500s is not below "
                        "the enter threshold 420s for avg_wait(15m)"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("defaults.tiers[1].level: "));
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("defaults.tiers[0].callups[0]: a call-up names exactly one of team: or "
                        "role:, not both"));
  ASSERT_THAT(errors, SizeIs(3));
  for (const PolicyError& e : errors) {
    EXPECT_EQ(e.line, 0);
    EXPECT_EQ(e.ToString("ignored").rfind(e.path + ": ", 0), 0u) << e.ToString("ignored");
  }
}

TEST(DefaultPolicyTest, ProtobufWithoutConditionCombineIsAnError) {
  v1::Policy proto;
  ASSERT_TRUE(ParsePolicyYaml(DefaultPolicyYaml(), "default.yaml", &proto, nullptr).ok());
  proto.mutable_defaults()->mutable_tiers(0)->mutable_enter()->clear_combine();
  proto.mutable_defaults()
      ->mutable_tiers(0)
      ->mutable_exit()
      ->mutable_clauses(0)
      ->clear_comparison();
  absl::StatusOr<CompiledPolicy> policy = CompilePolicy(proto);
  ASSERT_FALSE(policy.ok());
  EXPECT_THAT(std::string(policy.status().message()),
              HasSubstr("defaults.tiers[0].enter: enter: a condition combines its clauses with "
                        "any: (OR) or all: (AND)"));
  EXPECT_THAT(std::string(policy.status().message()),
              HasSubstr("defaults.tiers[0].exit.all[0]: a clause needs a threshold"));
}

TEST(DefaultPolicyTest, DetailedReturnsStructuredErrors) {
  const std::string yaml = "lines: {x: {}}\nwindows: [5m, 5m]\n";
  CompiledPolicy compiled;
  std::vector<PolicyError> errors;
  absl::Status status = LoadPolicyYamlDetailed(yaml, "p.yaml", &compiled, &errors);
  ASSERT_FALSE(status.ok());
  ASSERT_THAT(errors, SizeIs(1));
  EXPECT_EQ(errors[0].path, "windows[1]");
  EXPECT_EQ(errors[0].line, 2);
  EXPECT_EQ(errors[0].column, 15);
  EXPECT_THAT(errors[0].message, HasSubstr("duplicate window 5m"));
  EXPECT_EQ(std::string(status.message()), errors[0].ToString("p.yaml"));
  EXPECT_EQ(errors[0].ToString("p.yaml"),
            "p.yaml:2:15: windows[1]: duplicate window 5m (also windows[0])");

  // Success clears the errors.
  ASSERT_TRUE(LoadPolicyYamlDetailed("lines: {x: {}}\n", "p.yaml", &compiled, &errors).ok());
  EXPECT_TRUE(errors.empty());
  EXPECT_NE(compiled.FindLine("x"), nullptr);
}

}  // namespace
}  // namespace tidewatch::policy
