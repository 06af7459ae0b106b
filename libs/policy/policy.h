// Loading the tide policy: YAML -> tidewatch.v1.Policy -> CompiledPolicy.
//
// Ops engineers write the policy as YAML (deploy/policy/default.yaml is the
// shipped default, embedded in every binary; docs/policy.md is the
// reference). Loading maps the YAML onto the v1::Policy schema (unknown keys,
// wrong types and bad spellings are errors naming the YAML path and line),
// checks it semantically (tiers ordered, exit thresholds give hysteresis,
// teams and roles resolve, windows supported, ...) and compiles it into the
// CompiledPolicy the engine evaluates (compiled_policy.h).
//
// Every error found is reported, not just the first, one per line as
//   SOURCE:LINE:COL: PATH: message
// e.g.
//   policy.yaml:42:9: defaults.tiers[1].exit.all[0].below: exit threshold
//   200s is not below the enter threshold 180s for avg_wait(15m)
// PATH uses the YAML's own keys, dotted, with [i] for sequence elements.
//
//   absl::StatusOr<CompiledPolicy> policy = LoadPolicyYaml(text, "policy.yaml");
//   if (!policy.ok()) { std::cerr << policy.status().message(); ... }
//
//   // For tools that show errors one by one (gRPC Policy.Validate, tidectl):
//   CompiledPolicy compiled;
//   std::vector<PolicyError> errors;
//   absl::Status s = LoadPolicyYamlDetailed(text, "policy.yaml", &compiled, &errors);
//
//   // Policies received as protobuf go through the same semantic checks:
//   absl::StatusOr<CompiledPolicy> p = CompilePolicy(proto);
//
// All functions are thread-compatible and pure: they read no clock, no
// environment and (except LoadPolicyFile) no files.
#ifndef TIDEWATCH_LIBS_POLICY_POLICY_H_
#define TIDEWATCH_LIBS_POLICY_POLICY_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "policy/compiled_policy.h"
#include "tidewatch/v1/policy.pb.h"

namespace tidewatch::policy {

// One problem found in a policy. `line` and `column` are 1-based positions in
// the YAML source, or 0 when unknown (a policy received as protobuf).
struct PolicyError {
  std::string path;  // e.g. "defaults.tiers[1].exit.all[0].below"; "" = document
  int line = 0;
  int column = 0;
  std::string message;

  // "SOURCE:LINE:COL: PATH: message", or "PATH: message" without a line.
  std::string ToString(std::string_view source_name) const;
};

// Formats errors one per line (no trailing newline), as in the Status
// messages of the functions below.
std::string FormatPolicyErrors(std::string_view source_name,
                               const std::vector<PolicyError>& errors);

// Parses, validates and compiles a YAML policy. `source_name` (usually the
// file name) prefixes every error. On failure: InvalidArgument listing all
// errors, one per line.
absl::StatusOr<CompiledPolicy> LoadPolicyYaml(std::string_view yaml_text,
                                              std::string_view source_name);

// As LoadPolicyYaml, also returning the errors one by one. On success fills
// `*out` and returns OK with `*errors` empty; on failure returns the same
// InvalidArgument as LoadPolicyYaml, fills `*errors` and leaves `*out`
// unspecified. `errors` may be null.
absl::Status LoadPolicyYamlDetailed(std::string_view yaml_text, std::string_view source_name,
                                    CompiledPolicy* out, std::vector<PolicyError>* errors);

// Reads the file at `path` and loads it with LoadPolicyYaml (errors are
// prefixed with the path). An unreadable file is NotFound / Unavailable
// naming the path.
absl::StatusOr<CompiledPolicy> LoadPolicyFile(const std::string& path);
// Only the reading: the file's text (at most the size LoadPolicyFile
// accepts), for a caller that also keeps the text (read once: the file may
// be a pipe, or change between two reads).
absl::StatusOr<std::string> ReadPolicyFile(const std::string& path);

// Only the first stage: maps YAML onto the v1::Policy schema (syntax, unknown
// keys, types, spellings), without the semantic checks. For tools that send
// the document on as protobuf. `errors` may be null.
absl::Status ParsePolicyYaml(std::string_view yaml_text, std::string_view source_name,
                             tidewatch::v1::Policy* out, std::vector<PolicyError>* errors);

// Validates and compiles a policy received as protobuf: the same semantic
// checks as for YAML; errors name the path (YAML spelling), with no line.
absl::StatusOr<CompiledPolicy> CompilePolicy(const tidewatch::v1::Policy& policy);

// As CompilePolicy, also returning the errors one by one (see
// LoadPolicyYamlDetailed). `errors` may be null.
absl::Status CompilePolicyDetailed(const tidewatch::v1::Policy& policy, CompiledPolicy* out,
                                   std::vector<PolicyError>* errors);

// The text of deploy/policy/default.yaml, embedded at build time.
std::string_view DefaultPolicyYaml();

}  // namespace tidewatch::policy

#endif  // TIDEWATCH_LIBS_POLICY_POLICY_H_
