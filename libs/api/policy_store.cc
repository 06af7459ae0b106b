#include "api/policy_store.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "tidewatch/v1/commands.pb.h"

namespace tidewatch::api {

PolicyStore::PolicyStore(std::string startup_yaml,
                         std::shared_ptr<const policy::CompiledPolicy> startup,
                         PolicyStoreOptions options, CommandSender& sender, const Clock& clock)
    : options_(std::move(options)), sender_(sender), clock_(clock) {
  Version v;
  v.version = 0;
  v.yaml = std::move(startup_yaml);
  v.applied_by = "startup";
  v.comment = "the policy this instance started with";
  v.compiled = std::move(startup);
  versions_.push_back(std::move(v));
}

void PolicyStore::Log(const std::string& line) const {
  if (options_.on_log) options_.on_log(line);
}

void PolicyStore::ApplyRecord(const kafka::Record& record) {
  tidewatch::v1::PolicyVersion pv;
  if (!pv.ParseFromString(record.value)) {
    Log(absl::StrCat("policy topic offset ", record.offset, ": not a PolicyVersion, set aside"));
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    newest_seen_ = std::max(newest_seen_, pv.version());
    if (pv.version() <= versions_.back().version) {
      Log(absl::StrCat("policy version ", pv.version(), " by ", pv.applied_by(),
                       " set aside: version ", versions_.back().version,
                       " is already in force (a concurrent apply)"));
      return;
    }
  }
  absl::StatusOr<policy::CompiledPolicy> compiled =
      policy::LoadPolicyYaml(pv.yaml(), absl::StrCat("policy version ", pv.version()));
  if (!compiled.ok()) {
    Log(absl::StrCat("policy version ", pv.version(), " set aside: ", compiled.status().message()));
    return;
  }
  // A version this instance cannot take live (e.g. it was restarted with
  // other windows since): set aside, never reported as in force.
  if (const Version current = Current(); options_.check_change && current.compiled != nullptr) {
    if (absl::Status s = options_.check_change(*current.compiled, *compiled); !s.ok()) {
      Log(absl::StrCat("policy version ", pv.version(), " set aside: ", s.message(),
                       " (cannot change without a restart); version ", current.version,
                       " stays in force"));
      return;
    }
  }
  Version v;
  v.version = pv.version();
  v.yaml = pv.yaml();
  v.applied_by = pv.applied_by();
  v.applied_at = FromProto(pv.applied_at());
  v.comment = pv.comment();
  if (pv.has_rollback_to()) v.rollback_to = pv.rollback_to();
  v.compiled = std::make_shared<const policy::CompiledPolicy>(*std::move(compiled));
  std::shared_ptr<const policy::CompiledPolicy> in_force = v.compiled;
  // Handed on before it is visible as current: when Apply returns, this
  // instance's processor has it.
  if (options_.on_policy) options_.on_policy(in_force, pv.version());
  {
    absl::MutexLock lock(&mu_);
    versions_.push_back(std::move(v));
  }
  Log(absl::StrCat(
      "policy version ", pv.version(), " '", in_force->name, "' in force, applied by ",
      pv.applied_by(), " at ",
      absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", FromProto(pv.applied_at()), absl::UTCTimeZone()),
      pv.comment().empty() ? "" : absl::StrCat(" (", pv.comment(), ")")));
}

PolicyStore::Version PolicyStore::Current() const {
  absl::MutexLock lock(&mu_);
  return versions_.back();
}

std::vector<PolicyStore::Version> PolicyStore::History() const {
  absl::MutexLock lock(&mu_);
  return versions_;
}

PolicyStore::Validation PolicyStore::Validate(std::string_view yaml,
                                              std::string_view source_name) const {
  Validation out;
  policy::CompiledPolicy candidate;
  out.status = policy::LoadPolicyYamlDetailed(yaml, source_name, &candidate, &out.errors);
  if (!out.status.ok()) return out;
  const Version current = Current();
  if (options_.check_change && current.compiled != nullptr) {
    if (absl::Status s = options_.check_change(*current.compiled, candidate); !s.ok()) {
      policy::PolicyError e;
      e.message = absl::StrCat(s.message(), " (cannot change without a restart)");
      out.errors.push_back(e);
      out.status = absl::InvalidArgumentError(policy::FormatPolicyErrors(source_name, out.errors));
      return out;
    }
  }
  out.compiled = std::make_shared<const policy::CompiledPolicy>(std::move(candidate));
  return out;
}

absl::StatusOr<int64_t> PolicyStore::Publish(const std::string& yaml, const std::string& actor,
                                             const std::string& comment,
                                             std::optional<int64_t> rollback_to) {
  // After every version the topic holds, set aside ones included.
  int64_t version;
  {
    absl::MutexLock lock(&mu_);
    version = std::max(versions_.back().version, newest_seen_) + 1;
  }
  tidewatch::v1::PolicyVersion pv;
  pv.set_version(version);
  pv.set_yaml(yaml);
  pv.set_applied_by(actor);
  const absl::Time now = clock_.Now();
  ToProto(now, pv.mutable_applied_at());
  pv.set_comment(comment);
  if (rollback_to) pv.set_rollback_to(*rollback_to);
  if (absl::Status s =
          sender_.Send(options_.topic, "policy", pv.SerializeAsString(), options_.apply_timeout);
      !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("policy version ", version, ": ", s.message(),
                                               "; check `tidectl policy get` before trying again"));
  }
  absl::MutexLock lock(&mu_);
  auto read_back = [this, version]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return versions_.back().version >= version || stopping_;
  };
  if (!mu_.AwaitWithTimeout(absl::Condition(&read_back), options_.apply_timeout) ||
      versions_.back().version < version) {
    const std::string written =
        absl::StrCat("policy version ", version, " was written to ", options_.topic, " but ");
    if (stopping_) {
      return absl::UnavailableError(
          absl::StrCat(written,
                       "tidewatchd is shutting down before reading it back; it takes effect when "
                       "read (check `tidectl policy get`)"));
    }
    return absl::DeadlineExceededError(
        absl::StrCat(written, "not read back in time; it will take effect when read"));
  }
  for (const Version& v : versions_) {
    if (v.version == version) {
      if (v.applied_by == actor && v.applied_at == FromProto(pv.applied_at()) && v.yaml == yaml) {
        return version;
      }
      break;
    }
  }
  return absl::AbortedError(absl::StrCat("another apply took version ", version,
                                         " at the same moment; nothing changed, try again"));
}

void PolicyStore::Stop() {
  absl::MutexLock lock(&mu_);
  stopping_ = true;
}

absl::Status PolicyStore::RefuseWhileStopping(std::string_view what) const {
  absl::MutexLock lock(&mu_);
  if (!stopping_) return absl::OkStatus();
  return absl::UnavailableError(
      absl::StrCat("tidewatchd is shutting down: ", absl::string_view(what.data(), what.size())));
}

absl::StatusOr<int64_t> PolicyStore::Apply(std::string_view yaml, std::string_view source_name,
                                           const std::string& actor, const std::string& comment) {
  absl::MutexLock apply_lock(&apply_mu_);
  RETURN_IF_ERROR(RefuseWhileStopping("nothing applied"));
  Validation v = Validate(yaml, source_name);
  if (!v.status.ok()) return v.status;
  return Publish(std::string(yaml), actor, comment);
}

absl::StatusOr<int64_t> PolicyStore::Rollback(const std::string& actor,
                                              const std::string& comment) {
  absl::MutexLock apply_lock(&apply_mu_);
  RETURN_IF_ERROR(RefuseWhileStopping("nothing rolled back"));
  Version previous;
  int64_t target = 0;
  {
    absl::MutexLock lock(&mu_);
    // A version stands for the one it re-applies (rollbacks of rollbacks
    // included); what was in force before that one is the target.
    auto index_of = [this](int64_t version) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      for (size_t i = 0; i < versions_.size(); ++i) {
        if (versions_[i].version == version) return static_cast<int>(i);
      }
      return -1;
    };
    auto original = [&](int i) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      for (int hops = 0; i >= 0 && versions_[i].rollback_to && hops < 1000; ++hops) {
        const int j = index_of(*versions_[i].rollback_to);
        if (j < 0 || j >= i) break;
        i = j;
      }
      return i;
    };
    const int in_force = original(static_cast<int>(versions_.size()) - 1);
    if (in_force <= 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("nothing to roll back to: version ", versions_.back().version,
                       in_force == 0 && versions_.size() > 1 ? " re-applies version 0, the first"
                                                             : " is the only one"));
    }
    previous = versions_[in_force - 1];
    target = versions_[original(in_force - 1)].version;
  }
  const std::string source = absl::StrCat("policy version ", target);
  Validation v = Validate(previous.yaml, source);
  if (!v.status.ok()) return v.status;
  return Publish(previous.yaml, actor,
                 absl::StrCat("rollback to version ", target,
                              comment.empty() ? "" : absl::StrCat(": ", comment)),
                 target);
}

}  // namespace tidewatch::api
