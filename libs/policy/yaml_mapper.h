// Internal to libs/policy: maps policy YAML onto tidewatch.v1.Policy.
//
// The mapping is driven by the protobuf descriptors (field names are the
// YAML keys; maps, repeated fields, enums by short lower-case name, proto3
// optional fields and google.protobuf.Duration written as "15m") with a few
// hand-written spellings: conditions {any: [...]} / {all: [...]}, clauses
// {metric: avg_wait, window: 15m, above: 180s} and call-up headcounts
// (a number or `gap`). Every path visited is recorded in the SourceMap;
// every problem (syntax, unknown key, wrong type, bad spelling) is added to
// the Diagnostics and mapping carries on, so one pass reports them all.
// No yaml-cpp exception escapes.
//
//   SourceMap map;
//   Diagnostics diag(&map);
//   v1::Policy proto;
//   MapPolicyYaml(text, &proto, &map, &diag);
#ifndef TIDEWATCH_LIBS_POLICY_YAML_MAPPER_H_
#define TIDEWATCH_LIBS_POLICY_YAML_MAPPER_H_

#include "absl/strings/string_view.h"
#include "policy/diagnostics.h"
#include "tidewatch/v1/policy.pb.h"

namespace tidewatch::policy::internal {

// Parses `text` and maps it onto `*out` (which should be empty). Positions
// go to `*source_map`, problems to `*diag`. On a YAML syntax error `*out` is
// left empty, the one syntax error is reported and the result is false
// (there is nothing to check further); likewise when the document is too
// large to map (alias expansion). Otherwise true, errors or not.
bool MapPolicyYaml(absl::string_view text, tidewatch::v1::Policy* out, SourceMap* source_map,
                   Diagnostics* diag);

}  // namespace tidewatch::policy::internal

#endif  // TIDEWATCH_LIBS_POLICY_YAML_MAPPER_H_
