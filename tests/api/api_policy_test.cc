// Policy over gRPC (acceptance 5 of issue 6): an invalid policy changes
// nothing and comes back with the loader's errors; a valid one becomes a new
// version every instance puts in force (handed to the processor); rollback
// restores the version before as a new version; each version says who
// applied it.
#include "absl/strings/str_replace.h"
#include "api_test_util.h"
#include "common/proto_time.h"
#include "sim/event_sink.h"
#include "sim/scenario.h"
#include "sim/simulator.h"

namespace tidewatch::api::testing {
namespace {

class ApiPolicyTest : public ApiFixture {
 protected:
  v1::GetPolicyResponse Get(Front& f) {
    v1::GetPolicyResponse r;
    EXPECT_TRUE(v1::PolicyService::NewStub(Insecure(f.address))
                    ->GetPolicy(Context(kViewerToken).get(), {}, &r)
                    .ok());
    return r;
  }
  grpc::Status Apply(Front& f, const std::string& yaml, v1::ApplyPolicyResponse* r) {
    v1::ApplyPolicyRequest req;
    req.set_yaml(yaml);
    req.set_source_name("candidate.yaml");
    req.set_comment("INC-42");
    return v1::PolicyService::NewStub(Insecure(f.address))
        ->ApplyPolicy(Context(kAdminToken).get(), req, r);
  }
};

// The default policy with tier 1's exit threshold above its enter threshold
// (no hysteresis): invalid.
std::string InvalidPolicy() {
  std::string yaml(policy::DefaultPolicyYaml());
  return absl::StrReplaceAll(yaml, {{"{metric: avg_wait, window: 15m, below: 150s}",
                                     "{metric: avg_wait, window: 15m, below: 200s}"}});
}

std::string RenamedPolicy(const std::string& name) {
  std::string yaml(policy::DefaultPolicyYaml());
  return absl::StrReplaceAll(yaml, {{"name: Default council policy", "name: " + name}});
}

TEST_F(ApiPolicyTest, InvalidChangesNothingValidAppliesEverywhereRollbackRestores) {
  std::vector<std::pair<std::string, int64_t>> handed;  // (name, version) to the processor
  absl::Mutex mu;
  on_policy_ = [&](std::shared_ptr<const policy::CompiledPolicy> p, int64_t v) {
    absl::MutexLock lock(&mu);
    handed.emplace_back(p->name, v);
  };
  Front& a = StartFront(true, TestAuthenticator());
  Front& b = StartFront(false, TestAuthenticator());
  ASSERT_NE(InvalidPolicy(), std::string(policy::DefaultPolicyYaml()));

  // Validate: the loader's errors, with the line.
  v1::ValidatePolicyRequest vreq;
  vreq.set_yaml(InvalidPolicy());
  vreq.set_source_name("candidate.yaml");
  v1::ValidatePolicyResponse vresp;
  ASSERT_TRUE(v1::PolicyService::NewStub(Insecure(a.address))
                  ->ValidatePolicy(Context(kViewerToken).get(), vreq, &vresp)
                  .ok());
  EXPECT_FALSE(vresp.valid());
  ASSERT_GE(vresp.problems_size(), 1);
  EXPECT_GT(vresp.problems(0).line(), 0);
  EXPECT_NE(vresp.problems(0).text().find("candidate.yaml:"), std::string::npos);
  EXPECT_NE(vresp.problems(0).message().find("not below the enter threshold"), std::string::npos)
      << vresp.problems(0).message();
  vreq.set_yaml(RenamedPolicy("Valid"));
  ASSERT_TRUE(v1::PolicyService::NewStub(Insecure(a.address))
                  ->ValidatePolicy(Context(kViewerToken).get(), vreq, &vresp)
                  .ok());
  EXPECT_TRUE(vresp.valid());
  EXPECT_EQ(vresp.problems_size(), 0);

  // Apply invalid: INVALID_ARGUMENT with the same errors; nothing changes.
  v1::ApplyPolicyResponse ar;
  grpc::Status bad = Apply(a, InvalidPolicy(), &ar);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(bad.error_message().find("not below the enter threshold"), std::string::npos);
  EXPECT_EQ(Get(a).version(), 0);
  EXPECT_EQ(Get(b).version(), 0);
  {
    absl::MutexLock lock(&mu);
    EXPECT_TRUE(handed.empty());
  }

  // Apply valid: version 1, in force on both instances.
  ASSERT_TRUE(Apply(a, RenamedPolicy("Summons week"), &ar).ok());
  EXPECT_EQ(ar.version(), 1);
  v1::GetPolicyResponse now = Get(a);
  EXPECT_EQ(now.version(), 1);
  EXPECT_EQ(now.name(), "Summons week");
  EXPECT_EQ(now.applied_by(), "alice");
  EXPECT_EQ(now.comment(), "INC-42");
  ASSERT_EQ(now.history_size(), 1);
  EXPECT_EQ(now.history(0).version(), 0);
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (b.policy->Current().version < 1 && absl::Now() < deadline)
    absl::SleepFor(absl::Milliseconds(20));
  EXPECT_EQ(Get(b).version(), 1);
  EXPECT_EQ(Get(b).name(), "Summons week");

  // Rollback: version 2 is version 0's text again.
  v1::ApplyPolicyResponse rr;
  ASSERT_TRUE(v1::PolicyService::NewStub(Insecure(b.address))
                  ->RollbackPolicy(Context(kAdminToken).get(), {}, &rr)
                  .ok());
  EXPECT_EQ(rr.version(), 2);
  v1::GetPolicyResponse back = Get(b);
  EXPECT_EQ(back.version(), 2);
  EXPECT_EQ(back.name(), "Default council policy");
  EXPECT_EQ(back.yaml(), std::string(policy::DefaultPolicyYaml()));
  EXPECT_NE(back.comment().find("rollback to version 0"), std::string::npos);
  {
    absl::MutexLock lock(&mu);
    auto all_four = [&handed]() { return handed.size() >= 4; };
    mu.AwaitWithTimeout(absl::Condition(&all_four), absl::Seconds(10));
    // Each instance handed versions 1 and 2 to its processor, in order.
    std::vector<std::pair<std::string, int64_t>> want = {{"Summons week", 1},
                                                         {"Summons week", 1},
                                                         {"Default council policy", 2},
                                                         {"Default council policy", 2}};
    std::sort(handed.begin(), handed.end(),
              [](const auto& x, const auto& y) { return x.second < y.second; });
    EXPECT_EQ(handed, want);
  }
  fronts_.clear();  // no more callbacks into this test's locals
}

// A valid apply reaches the engines: with tier 1 of every line entering on
// any call waiting at all, the calm early morning escalates from the next
// evaluation, and its call-ups carry the new policy version.
TEST_F(ApiPolicyTest, AppliedPolicyChangesEscalationsFromTheNextEvaluation) {
  StartProcessor();
  on_policy_ = [this](std::shared_ptr<const policy::CompiledPolicy> p, int64_t v) {
    processor_->SetPolicy(std::move(p), v);
  };
  Front& front = StartFront(true, TestAuthenticator());
  ASSERT_TRUE(WaitProcessorReady());
  absl::StatusOr<sim::Scenario> scenario = sim::LoadScenarioFile(
      std::string(TIDEWATCH_SOURCE_DIR) + "/deploy/scenarios/council-tax-summons.yaml");
  ASSERT_TRUE(scenario.ok());
  sim::CollectingSink sink;
  ASSERT_TRUE(sim::Simulate(*scenario, sim::SimOptions{}, sink).ok());
  const std::vector<v1::CallEvent>& day = sink.events();
  // The summons morning until 08:35 local (07:35 UTC): calls already queue
  // for minutes, but the default policy's tier 1 is not reached before
  // about 08:45.
  const absl::Time cut =
      absl::FromCivil(absl::CivilSecond(2022, 10, 3, 7, 35, 0), absl::UTCTimeZone());
  size_t n = 0;
  while (n < day.size() && FromProto(day[n].event_time()) < cut) ++n;
  ASSERT_GT(n, 100u);
  Produce(day, 0, n);
  const absl::Time until = absl::Now() + absl::Seconds(20);
  while (processor_->Status().events_applied < static_cast<int64_t>(n) && absl::Now() < until)
    absl::SleepFor(absl::Milliseconds(20));
  ASSERT_EQ(processor_->Status().events_applied, static_cast<int64_t>(n));
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_TRUE(front.board->Open({}).empty()) << "the default policy escalated already";

  std::string yaml(policy::DefaultPolicyYaml());
  yaml = absl::StrReplaceAll(
      yaml, {{"{metric: longest_waiting, above: 480s}", "{metric: longest_waiting, above: 1s}"},
             {"{metric: longest_waiting, below: 360s}", "{metric: longest_waiting, below: 0.5s}"},
             {"sustain: 2m", "sustain: 0s"}});
  v1::ApplyPolicyResponse ar;
  grpc::Status s = Apply(front, yaml, &ar);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(ar.version(), 1);
  EXPECT_EQ(processor_->policy_version(), 1);

  Produce(day, n, std::min(day.size(), n + 300));
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  std::vector<v1::CallUp> open;
  while (open.empty() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
    open = front.board->Open({});
  }
  ASSERT_FALSE(open.empty()) << "the new policy raised nothing; "
                             << processor_->Status().last_error;
  absl::Time earliest = absl::InfiniteFuture();
  for (const v1::CallUp& c : open) {
    EXPECT_EQ(c.policy_version(), 1) << c.id();
    EXPECT_EQ(c.level(), 1) << c.id();
    EXPECT_GE(FromProto(c.created()), cut) << c.id();  // not before the apply
    earliest = std::min(earliest, FromProto(c.created()));
  }
  // The surging line escalates at once under the new policy, not at the
  // default policy's ~08:45 local.
  EXPECT_LE(earliest, cut + absl::Minutes(2));
}

TEST_F(ApiPolicyTest, NothingToRollBackTo) {
  Front& a = StartFront(true, TestAuthenticator());
  v1::ApplyPolicyResponse rr;
  grpc::Status s = v1::PolicyService::NewStub(Insecure(a.address))
                       ->RollbackPolicy(Context(kAdminToken).get(), {}, &rr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(ApiPolicyTest, WhatCannotChangeLiveIsRefused) {
  // engine::CheckPolicyChange, as tidewatchd plugs it in: the windows shape
  // the running engines.
  Front& a = StartFront(true, TestAuthenticator());
  std::string yaml(policy::DefaultPolicyYaml());
  yaml = absl::StrReplaceAll(yaml, {{"windows: [5m, 15m, 60m]", "windows: [5m, 15m, 30m, 60m]"}});
  v1::ValidatePolicyRequest vreq;
  vreq.set_yaml(yaml);
  v1::ValidatePolicyResponse vresp;
  ASSERT_TRUE(v1::PolicyService::NewStub(Insecure(a.address))
                  ->ValidatePolicy(Context(kViewerToken).get(), vreq, &vresp)
                  .ok());
  EXPECT_FALSE(vresp.valid());
  ASSERT_EQ(vresp.problems_size(), 1);
  EXPECT_NE(vresp.problems(0).message().find("windows"), std::string::npos)
      << vresp.problems(0).message();
  v1::ApplyPolicyResponse ar;
  grpc::Status s = Apply(a, yaml, &ar);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("windows"), std::string::npos) << s.error_message();
  EXPECT_EQ(Get(a).version(), 0);
}

}  // namespace
}  // namespace tidewatch::api::testing
