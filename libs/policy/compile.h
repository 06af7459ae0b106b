// Internal to libs/policy: semantic checks of a tidewatch.v1.Policy and its
// compilation into a CompiledPolicy (defaults applied, line settings merged
// over the defaults, roles resolved, time zones loaded).
//
// Errors are reported by path in the YAML spelling (conditions as any/all,
// clause thresholds as above/below), so the same checks serve YAML, whose
// Diagnostics carry a SourceMap for positions, and protobuf input, whose do
// not.
//
//   Diagnostics diag(nullptr);
//   CompiledPolicy compiled;
//   CompileChecked(proto, &diag, &compiled);
//   if (!diag.empty()) { ... diag.Take() ... }
#ifndef TIDEWATCH_LIBS_POLICY_COMPILE_H_
#define TIDEWATCH_LIBS_POLICY_COMPILE_H_

#include "policy/compiled_policy.h"
#include "policy/diagnostics.h"
#include "tidewatch/v1/policy.pb.h"

namespace tidewatch::policy::internal {

// Checks `policy`, adding every problem to `*diag`, and fills `*out`. `*out`
// is meaningful only if no error was added.
void CompileChecked(const tidewatch::v1::Policy& policy, Diagnostics* diag, CompiledPolicy* out);

}  // namespace tidewatch::policy::internal

#endif  // TIDEWATCH_LIBS_POLICY_COMPILE_H_
