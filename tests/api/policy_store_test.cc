// PolicyStore alone: versions read from the policy topic that this instance
// cannot put in force live (it was restarted with other windows since) are
// set aside, not reported as in force, and the next version published comes
// after them.
#include "api/policy_store.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_replace.h"
#include "common/clock.h"
#include "engine/engine.h"
#include "gtest/gtest.h"
#include "kafka/kafka.h"
#include "policy/policy.h"
#include "tidewatch/v1/commands.pb.h"

namespace tidewatch::api {
namespace {

std::shared_ptr<const policy::CompiledPolicy> Compile(const std::string& yaml) {
  absl::StatusOr<policy::CompiledPolicy> p = policy::LoadPolicyYaml(yaml, "test.yaml");
  EXPECT_TRUE(p.ok()) << p.status();
  return std::make_shared<const policy::CompiledPolicy>(*std::move(p));
}

// A client configuration that is never used to connect.
kafka::KafkaConfig Offline() {
  kafka::KafkaConfig c;
  c.bootstrap = "127.0.0.1:1";
  return c;
}

kafka::Record VersionRecord(int64_t version, const std::string& yaml, int64_t offset) {
  tidewatch::v1::PolicyVersion pv;
  pv.set_version(version);
  pv.set_yaml(yaml);
  pv.set_applied_by("ops");
  kafka::Record r;
  r.topic = "tidewatch.policy";
  r.key = "policy";
  r.value = pv.SerializeAsString();
  r.offset = offset;
  return r;
}

// Hands every record sent straight back to the store, as the policy
// topic's follower would read it back.
class LoopbackSender final : public CommandSender {
 public:
  explicit LoopbackSender(kafka::Producer& unused) : CommandSender(unused) {}
  absl::Status Send(const std::string& topic, const std::string& key, const std::string& value,
                    absl::Duration) override {
    kafka::Record r;
    r.topic = topic;
    r.key = key;
    r.value = value;
    r.offset = next_offset++;
    sent.push_back(r);
    if (store != nullptr) store->ApplyRecord(r);
    return absl::OkStatus();
  }
  PolicyStore* store = nullptr;
  std::vector<kafka::Record> sent;
  int64_t next_offset = 10;
};

TEST(PolicyStoreTest, AVersionThatCannotChangeLiveIsSetAsideAndNumberedPast) {
  const std::string startup_yaml(policy::DefaultPolicyYaml());
  // Version 1 in the topic has other windows than this instance runs.
  const std::string other_windows =
      absl::StrReplaceAll(startup_yaml, {{"windows: [5m, 15m, 60m]", "windows: [5m, 15m, 30m]"}});
  ASSERT_NE(other_windows, startup_yaml);
  auto producer = kafka::NewProducer(Offline(), {});
  ASSERT_TRUE(producer.ok()) << producer.status();
  LoopbackSender sender(**producer);
  std::vector<int64_t> handed_on;
  std::vector<std::string> log;
  PolicyStoreOptions options;
  options.on_policy = [&](std::shared_ptr<const policy::CompiledPolicy>, int64_t version) {
    handed_on.push_back(version);
  };
  options.check_change = [](const policy::CompiledPolicy& current,
                            const policy::CompiledPolicy& candidate) {
    return engine::CheckPolicyChange(current, candidate);
  };
  options.on_log = [&](const std::string& line) { log.push_back(line); };
  RealClock clock;
  PolicyStore store(startup_yaml, Compile(startup_yaml), options, sender, clock);
  sender.store = &store;

  store.ApplyRecord(VersionRecord(1, other_windows, 0));
  EXPECT_TRUE(handed_on.empty());
  EXPECT_EQ(store.Current().version, 0);
  ASSERT_FALSE(log.empty());
  EXPECT_NE(log.back().find("policy version 1 set aside: windows"), std::string::npos)
      << log.back();
  EXPECT_NE(log.back().find("version 0 stays in force"), std::string::npos) << log.back();

  // A live change (a threshold) is applied as version 2, after the one set
  // aside, and is in force.
  const std::string threshold = absl::StrReplaceAll(
      startup_yaml,
      {{"{metric: longest_waiting, above: 480s}", "{metric: longest_waiting, above: 420s}"}});
  ASSERT_NE(threshold, startup_yaml);
  absl::StatusOr<int64_t> applied = store.Apply(threshold, "v2.yaml", "ops", "");
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(*applied, 2);
  EXPECT_EQ(store.Current().version, 2);
  EXPECT_EQ(handed_on, (std::vector<int64_t>{2}));
}

// Rollback goes back, never forth: after versions A (1) and B (2), a
// rollback re-applies A (3); a second rollback re-applies what was in force
// before A (version 0), not B again; a third has nothing further back.
// After a new version C, a rollback re-applies what C replaced.
TEST(PolicyStoreTest, RollingBackTwiceGoesFurtherBack) {
  const std::string v0(policy::DefaultPolicyYaml());
  auto with = [&v0](const std::string& seconds) {
    return absl::StrReplaceAll(v0, {{"{metric: longest_waiting, above: 480s}",
                                     "{metric: longest_waiting, above: " + seconds + "s}"}});
  };
  const std::string a = with("420"), b = with("450"), c = with("440");
  ASSERT_NE(a, v0);
  auto producer = kafka::NewProducer(Offline(), {});
  ASSERT_TRUE(producer.ok()) << producer.status();
  LoopbackSender sender(**producer);
  RealClock clock;
  PolicyStore store(v0, Compile(v0), PolicyStoreOptions{}, sender, clock);
  sender.store = &store;
  ASSERT_TRUE(store.Apply(a, "a.yaml", "ops", "").ok());
  {
    absl::StatusOr<int64_t> applied = store.Apply(b, "b.yaml", "ops", "");
    ASSERT_TRUE(applied.ok()) << applied.status();
  }

  absl::StatusOr<int64_t> first = store.Rollback("ops", "");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, 3);
  EXPECT_EQ(store.Current().yaml, a);
  EXPECT_NE(store.Current().comment.find("rollback to version 1"), std::string::npos);

  absl::StatusOr<int64_t> second = store.Rollback("ops", "");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(*second, 4);
  EXPECT_EQ(store.Current().yaml, v0) << "a second rollback re-applied B";
  EXPECT_NE(store.Current().comment.find("rollback to version 0"), std::string::npos);

  absl::StatusOr<int64_t> third = store.Rollback("ops", "");
  EXPECT_EQ(third.status().code(), absl::StatusCode::kFailedPrecondition) << third.status();
  EXPECT_EQ(store.Current().version, 4);

  ASSERT_TRUE(store.Apply(c, "c.yaml", "ops", "").ok());  // 5
  absl::StatusOr<int64_t> undo_c = store.Rollback("ops", "");
  ASSERT_TRUE(undo_c.ok()) << undo_c.status();
  EXPECT_EQ(store.Current().yaml, v0);  // what C replaced (version 4, itself version 0)
  EXPECT_NE(store.Current().comment.find("rollback to version 0"), std::string::npos);
}

}  // namespace
}  // namespace tidewatch::api
