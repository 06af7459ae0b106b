// Internal to libs/policy: YAML paths, their source positions, and the list
// of errors a policy load collects. Not part of the public API (policy.h).
//
// A path names a place in the policy document by its YAML keys, dotted, with
// [i] for sequence elements: "defaults.tiers[1].exit.all[0].below". Keys that
// are not plain identifiers are quoted: lines["a.b"].display_name.
//
// The YAML mapper records the position of every path it visits in a
// SourceMap; the semantic checks (which work on the protobuf and know
// nothing of YAML) report errors by path, and Diagnostics attaches the
// position of the path or, when the path is absent from the document (a
// missing key), of its nearest ancestor that is present.
//
//   SourceMap map;
//   Diagnostics diag(&map);
//   map.Record("lines", {12, 1});
//   diag.Add(JoinKey("lines", "x"), "unknown line");   // reported at 12:1
#ifndef TIDEWATCH_LIBS_POLICY_DIAGNOSTICS_H_
#define TIDEWATCH_LIBS_POLICY_DIAGNOSTICS_H_

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/string_view.h"
#include "policy/policy.h"

namespace tidewatch::policy::internal {

// Debian's Abseil has its own absl::string_view (not std::string_view):
// converts the public API's std::string_view for absl::StrCat and friends.
inline absl::string_view ToAbsl(std::string_view s) { return {s.data(), s.size()}; }
// MetricName() as an absl::string_view.
inline absl::string_view MetricText(tidewatch::v1::Metric metric) {
  return ToAbsl(MetricName(metric));
}

// "parent.key" (or parent["key"] for keys that are not identifiers).
std::string JoinKey(absl::string_view parent, absl::string_view key);
// "parent[index]".
std::string JoinIndex(absl::string_view parent, size_t index);
// The path one level up: "a.b[2]" -> "a.b" -> "a" -> "". "" for "".
absl::string_view ParentPath(absl::string_view path);
// True if `ancestor` is `path` or a path above it.
bool IsAncestorOrSelf(absl::string_view ancestor, absl::string_view path);

// A 1-based position in the YAML source; line 0 = unknown.
struct Location {
  int line = 0;
  int column = 0;
};

// Path -> position of the YAML node it names.
class SourceMap {
 public:
  // Keeps the first position recorded for a path.
  void Record(const std::string& path, Location location);
  // The position of `path`, or of its nearest recorded ancestor; {0, 0} if
  // none is recorded.
  Location Find(absl::string_view path) const;

 private:
  std::map<std::string, Location, std::less<>> locations_;
};

// Collects PolicyErrors. At most kMaxErrors are kept; the rest are counted.
class Diagnostics {
 public:
  static constexpr size_t kMaxErrors = 100;

  // `source_map` may be null (no positions: a policy received as protobuf).
  explicit Diagnostics(const SourceMap* source_map) : source_map_(source_map) {}

  // An error at `path`, positioned through the source map. Dropped if
  // Tainted(path): a schema error (AddSchema) at, above or below `path`
  // already explains it (e.g. `always: maybe` explains "opening hours need
  // weekly sessions or always: true").
  void Add(absl::string_view path, std::string message);
  // A schema (mapping) error at an exact position. Later Add() calls inside
  // `path` are dropped.
  void AddSchema(absl::string_view path, Location location, std::string message);
  // An error at an exact position that hides nothing else.
  void AddAt(absl::string_view path, Location location, std::string message);
  // True if a schema error was reported at `path` or anywhere below it, or
  // above it: semantic checks that compare `path` with another place skip it.
  bool Tainted(absl::string_view path) const;

  bool empty() const { return errors_.empty() && dropped_ == 0; }
  // The errors, ordered by position when positions are known, plus a last
  // entry saying how many were left out past kMaxErrors.
  std::vector<PolicyError> Take();

 private:
  void Push(PolicyError error);

  const SourceMap* source_map_;
  std::vector<PolicyError> errors_;
  std::vector<std::string> schema_error_paths_;
  size_t dropped_ = 0;
};

}  // namespace tidewatch::policy::internal

#endif  // TIDEWATCH_LIBS_POLICY_DIAGNOSTICS_H_
