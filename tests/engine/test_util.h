// Helpers for building CallEvents and policies in engine tests.
#ifndef TIDEWATCH_TESTS_ENGINE_TEST_UTIL_H_
#define TIDEWATCH_TESTS_ENGINE_TEST_UTIL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/proto_time.h"
#include "engine/engine.h"
#include "gtest/gtest.h"
#include "policy/policy.h"
#include "tidewatch/v1/events.pb.h"

namespace tidewatch::testing {

inline void SetTime(absl::Time t, google::protobuf::Timestamp* ts) { ToProto(t, ts); }
inline void SetDur(absl::Duration d, google::protobuf::Duration* out) { ToProto(d, out); }

// Builds events with unique ids.
class EventBuilder {
 public:
  explicit EventBuilder(std::string line) : line_(std::move(line)) {}

  tidewatch::v1::CallEvent Base(const std::string& call, absl::Time t) {
    tidewatch::v1::CallEvent e;
    e.set_event_id(absl::StrCat(line_, "-", next_++));
    e.set_line_id(line_);
    e.set_call_id(call);
    SetTime(t, e.mutable_event_time());
    e.set_source("test");
    return e;
  }
  tidewatch::v1::CallEvent Queued(const std::string& call, absl::Time t) {
    auto e = Base(call, t);
    e.mutable_queued()->set_caller_key("k");
    return e;
  }
  tidewatch::v1::CallEvent Answered(const std::string& call, absl::Time t,
                                    std::optional<absl::Duration> wait = std::nullopt) {
    auto e = Base(call, t);
    e.mutable_answered()->set_agent_id("a");
    if (wait) SetDur(*wait, e.mutable_answered()->mutable_wait());
    return e;
  }
  tidewatch::v1::CallEvent Abandoned(const std::string& call, absl::Time t,
                                     std::optional<absl::Duration> wait = std::nullopt) {
    auto e = Base(call, t);
    e.mutable_abandoned();
    if (wait) SetDur(*wait, e.mutable_abandoned()->mutable_wait());
    return e;
  }
  tidewatch::v1::CallEvent LeftQueue(const std::string& call, absl::Time t,
                                     tidewatch::v1::LeftQueueReason reason) {
    auto e = Base(call, t);
    e.mutable_left_queue()->set_reason(reason);
    return e;
  }
  tidewatch::v1::CallEvent CallbackRequested(const std::string& call, absl::Time t) {
    auto e = Base(call, t);
    e.mutable_callback_requested();
    return e;
  }
  tidewatch::v1::CallEvent Agent(const std::string& agent, absl::Time t,
                                 tidewatch::v1::AgentStatus s, tidewatch::v1::AgentOrigin o) {
    auto e = Base("", t);
    auto* a = e.mutable_agent_state();
    a->set_agent_id(agent);
    a->set_state(s);
    a->set_origin(o);
    return e;
  }

 private:
  std::string line_;
  int next_ = 0;
};

// Records everything the engine emits.
class RecordingOutput : public engine::EngineOutput {
 public:
  void OnTideChange(const tidewatch::v1::TideChange& c) override { changes.push_back(c); }
  void OnCallUp(const tidewatch::v1::CallUp& c) override { callups.push_back(c); }
  void OnSnapshot(const tidewatch::v1::KpiSnapshot& s) override { snapshots.push_back(s); }
  std::vector<tidewatch::v1::TideChange> changes;
  std::vector<tidewatch::v1::CallUp> callups;
  std::vector<tidewatch::v1::KpiSnapshot> snapshots;
};

inline std::shared_ptr<const policy::CompiledPolicy> MustLoad(const std::string& yaml) {
  absl::StatusOr<policy::CompiledPolicy> p = policy::LoadPolicyYaml(yaml, "test.yaml");
  EXPECT_TRUE(p.ok()) << p.status();
  if (!p.ok()) return nullptr;
  return std::make_shared<const policy::CompiledPolicy>(*std::move(p));
}

}  // namespace tidewatch::testing

#endif  // TIDEWATCH_TESTS_ENGINE_TEST_UTIL_H_
