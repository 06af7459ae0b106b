// The tide policy's versions, shared by every tidewatchd instance through
// the tidewatch.policy topic (one partition, key "policy").
//
// Each instance follows the topic in full (a TopicFollower feeding
// ApplyRecord); the newest version read is in force and handed to
// `on_policy` (tidewatchd passes it to StreamProcessor::SetPolicy, so it
// takes effect at the next evaluation, no restart). Version 0 is the policy
// the instance started with (its --policy file or the embedded default).
//
//   PolicyStore store(startup_yaml, startup_policy, options, sender, clock);
//   PolicyStore::Validation v = store.Validate(yaml, "candidate.yaml");
//   absl::StatusOr<int64_t> version = store.Apply(yaml, "candidate.yaml", "alice", "INC-42");
//   absl::StatusOr<int64_t> back = store.Rollback("alice", "undo INC-42");
//
// Validate gives the same errors as the loader (policy::LoadPolicyYaml),
// plus what cannot change without a restart (`check_change`, e.g. the
// windows). Apply validates, produces a new PolicyVersion and waits until it
// reads it back, so on return this instance has it in force; an invalid
// policy changes nothing. Rollback re-applies the version before the one in
// force as a new version. Every version records who applied it, when, and a
// comment, and `on_log` is told.
//
// Thread-safe.
#ifndef TIDEWATCH_LIBS_API_POLICY_STORE_H_
#define TIDEWATCH_LIBS_API_POLICY_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "api/command_sender.h"
#include "common/clock.h"
#include "kafka/kafka.h"
#include "policy/compiled_policy.h"
#include "policy/policy.h"

namespace tidewatch::api {

// Policy store settings.
struct PolicyStoreOptions {
  std::string topic = "tidewatch.policy";
  // What may not change live: OK, or an error naming the field (tidewatchd
  // passes engine::CheckPolicyChange). Null: anything may change.
  std::function<absl::Status(const policy::CompiledPolicy& current,
                             const policy::CompiledPolicy& candidate)>
      check_change;
  // Called (from the follower's thread) with each new version in force.
  std::function<void(std::shared_ptr<const policy::CompiledPolicy>, int64_t version)> on_policy;
  // Told of every version read and every record set aside.
  std::function<void(const std::string&)> on_log;
  // How long Apply waits for its version to be read back.
  absl::Duration apply_timeout = absl::Seconds(15);
};

// A policy store backed by the policy topic.
class PolicyStore {
 public:
  // One version.
  struct Version {
    int64_t version = 0;
    std::string yaml;
    std::string applied_by;
    absl::Time applied_at = absl::InfinitePast();
    std::string comment;
    // A rollback's target: the version whose text it re-applies.
    std::optional<int64_t> rollback_to;
    std::shared_ptr<const policy::CompiledPolicy> compiled;
  };
  // A candidate's verdict.
  struct Validation {
    std::vector<policy::PolicyError> errors;
    // OK, or InvalidArgument with every error, one per line.
    absl::Status status;
    std::shared_ptr<const policy::CompiledPolicy> compiled;  // when valid
  };

  PolicyStore(std::string startup_yaml, std::shared_ptr<const policy::CompiledPolicy> startup,
              PolicyStoreOptions options, CommandSender& sender, const Clock& clock);

  // Applies a tidewatch.policy record (from the follower).
  void ApplyRecord(const kafka::Record& record);

  Version Current() const;
  // Every version, oldest first (version 0 first).
  std::vector<Version> History() const;

  Validation Validate(std::string_view yaml, std::string_view source_name) const;
  // Validates and applies; returns the new version number.
  absl::StatusOr<int64_t> Apply(std::string_view yaml, std::string_view source_name,
                                const std::string& actor, const std::string& comment);
  // Re-applies what was in force before the version in force (before the
  // version it re-applies, when it is a rollback itself: a second rollback
  // goes further back, never forth).
  absl::StatusOr<int64_t> Rollback(const std::string& actor, const std::string& comment);

  // Shutting down: an Apply or Rollback waiting to read its version back
  // returns (Unavailable; the version takes effect when read) and later
  // ones are refused.
  void Stop();

 private:
  // UNAVAILABLE ("tidewatchd is shutting down: <what>") once Stop was called.
  absl::Status RefuseWhileStopping(std::string_view what) const;
  absl::StatusOr<int64_t> Publish(const std::string& yaml, const std::string& actor,
                                  const std::string& comment,
                                  std::optional<int64_t> rollback_to = std::nullopt);
  void Log(const std::string& line) const;

  const PolicyStoreOptions options_;
  CommandSender& sender_;
  const Clock& clock_;
  absl::Mutex apply_mu_;  // one Apply at a time per instance
  mutable absl::Mutex mu_;
  std::vector<Version> versions_ ABSL_GUARDED_BY(mu_);
  // The newest version number read from the topic, set aside or not: the
  // next one published comes after it.
  int64_t newest_seen_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace tidewatch::api

#endif  // TIDEWATCH_LIBS_API_POLICY_STORE_H_
