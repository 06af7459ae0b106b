#include "policy/diagnostics.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace tidewatch::policy::internal {
namespace {

bool IsPlainKey(absl::string_view key) {
  if (key.empty()) return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

}  // namespace

std::string JoinKey(absl::string_view parent, absl::string_view key) {
  if (IsPlainKey(key)) {
    return parent.empty() ? std::string(key) : absl::StrCat(parent, ".", key);
  }
  // Quoted: inside the quotes '"' and '\' are escaped, so the body never
  // contains an unescaped '"' and ParentPath can find the opening `["`.
  std::string quoted;
  for (char c : key) {
    if (c == '"' || c == '\\') quoted.push_back('\\');
    quoted.push_back(c);
  }
  return absl::StrCat(parent, "[\"", quoted, "\"]");
}

std::string JoinIndex(absl::string_view parent, size_t index) {
  return absl::StrCat(parent, "[", index, "]");
}

absl::string_view ParentPath(absl::string_view path) {
  if (path.empty()) return path;
  if (path.size() >= 2 && path.substr(path.size() - 2) == "\"]") {
    // Quoted key: the opening `["` is the last one before the closing `"]`.
    size_t open = path.substr(0, path.size() - 2).rfind("[\"");
    if (open != absl::string_view::npos) return path.substr(0, open);
  }
  if (path.back() == ']') {
    size_t open = path.rfind('[');
    if (open != absl::string_view::npos) return path.substr(0, open);
  }
  // Plain key: back to the last '.', or the whole path is one key. A '.'
  // inside a quoted component never ends a path here because a quoted
  // component always ends with `"]`.
  size_t dot = path.rfind('.');
  size_t bracket = path.rfind(']');
  if (dot == absl::string_view::npos || (bracket != absl::string_view::npos && bracket > dot)) {
    if (bracket != absl::string_view::npos) return path.substr(0, bracket + 1);
    return path.substr(0, 0);
  }
  return path.substr(0, dot);
}

bool IsAncestorOrSelf(absl::string_view ancestor, absl::string_view path) {
  if (ancestor.empty()) return true;
  if (path.size() < ancestor.size() || path.substr(0, ancestor.size()) != ancestor) return false;
  if (path.size() == ancestor.size()) return true;
  char next = path[ancestor.size()];
  return next == '.' || next == '[';
}

void SourceMap::Record(const std::string& path, Location location) {
  locations_.emplace(path, location);
}

Location SourceMap::Find(absl::string_view path) const {
  while (true) {
    auto it = locations_.find(path);
    if (it != locations_.end()) return it->second;
    if (path.empty()) return {};
    path = ParentPath(path);
  }
}

void Diagnostics::Add(absl::string_view path, std::string message) {
  if (Tainted(path)) return;
  Location location = source_map_ != nullptr ? source_map_->Find(path) : Location{};
  Push(PolicyError{std::string(path), location.line, location.column, std::move(message)});
}

void Diagnostics::AddSchema(absl::string_view path, Location location, std::string message) {
  schema_error_paths_.emplace_back(path);
  Push(PolicyError{std::string(path), location.line, location.column, std::move(message)});
}

void Diagnostics::AddAt(absl::string_view path, Location location, std::string message) {
  Push(PolicyError{std::string(path), location.line, location.column, std::move(message)});
}

bool Diagnostics::Tainted(absl::string_view path) const {
  for (const std::string& reported : schema_error_paths_) {
    if (IsAncestorOrSelf(reported, path) || IsAncestorOrSelf(path, reported)) return true;
  }
  return false;
}

void Diagnostics::Push(PolicyError error) {
  if (errors_.size() >= kMaxErrors) {
    ++dropped_;
    return;
  }
  errors_.push_back(std::move(error));
}

std::vector<PolicyError> Diagnostics::Take() {
  std::stable_sort(errors_.begin(), errors_.end(), [](const PolicyError& a, const PolicyError& b) {
    return std::make_pair(a.line, a.column) < std::make_pair(b.line, b.column);
  });
  std::vector<PolicyError> out = std::move(errors_);
  if (dropped_ > 0) {
    out.push_back(PolicyError{
        "", 0, 0,
        absl::StrCat("... and ", dropped_, " more error", dropped_ == 1 ? "" : "s", " not shown")});
  }
  errors_.clear();
  dropped_ = 0;
  return out;
}

}  // namespace tidewatch::policy::internal
