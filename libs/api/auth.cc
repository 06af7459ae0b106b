#include "api/auth.h"

#include <openssl/evp.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace tidewatch::api {

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kViewer:
      return "viewer";
    case Role::kResponder:
      return "responder";
    case Role::kAdmin:
      return "admin";
  }
  return "?";
}

absl::Status Principal::MayRespondFor(std::string_view team_id) const {
  if (role == Role::kAdmin) return absl::OkStatus();
  if (role == Role::kResponder && teams.count(std::string(team_id)) > 0) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(
      name, " (", std::string(RoleName(role)),
      role == Role::kResponder ? absl::StrCat(" for ", absl::StrJoin(teams, ", ")) : "",
      ") may not respond for team ", std::string(team_id)));
}

absl::Status Principal::MayAdminister(std::string_view what) const {
  if (role == Role::kAdmin) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(std::string(what), " needs role admin; ", name,
                                                  " is ", std::string(RoleName(role))));
}

std::string Sha256Hex(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), digest, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * len);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 15]);
  }
  return out;
}

absl::StatusOr<Authenticator> Authenticator::Parse(std::string_view text, std::string_view source) {
  Authenticator auth;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(absl::string_view(text.data(), text.size()), '\n')) {
    ++line_no;
    if (size_t hash = line.find('#'); hash != absl::string_view::npos) line = line.substr(0, hash);
    std::vector<std::string> f = absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
    if (f.empty()) continue;
    auto error = [&](const std::string& what) {
      return absl::InvalidArgumentError(
          absl::StrCat(std::string(source), ":", line_no, ": ", what));
    };
    if (f.size() < 3) return error("expected 'SHA256-HEX NAME ROLE [TEAM...]'");
    std::string hash = absl::AsciiStrToLower(f[0]);
    if (hash.size() != 64 || hash.find_first_not_of("0123456789abcdef") != std::string::npos) {
      return error(absl::StrCat("'", f[0],
                                "' is not a SHA-256 hex digest (64 hex digits; make one with "
                                "`printf %s \"$TOKEN\" | sha256sum`)"));
    }
    Principal p;
    p.name = f[1];
    if (f[2] == "viewer") {
      p.role = Role::kViewer;
    } else if (f[2] == "responder") {
      p.role = Role::kResponder;
    } else if (f[2] == "admin") {
      p.role = Role::kAdmin;
    } else {
      return error(absl::StrCat("unknown role '", f[2], "' (expected viewer, responder or admin)"));
    }
    for (size_t i = 3; i < f.size(); ++i) p.teams.insert(f[i]);
    if (p.role == Role::kResponder && p.teams.empty()) {
      return error(absl::StrCat("responder ", p.name, " names no team"));
    }
    if (p.role != Role::kResponder && !p.teams.empty()) {
      return error(absl::StrCat("teams are only for responders (", p.name, " is ", f[2], ")"));
    }
    if (!auth.by_hash_.emplace(hash, std::move(p)).second) {
      return error("the same token hash appears twice");
    }
  }
  return auth;
}

absl::StatusOr<Authenticator> Authenticator::LoadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read tokens file ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return Parse(ss.str(), path);
}

absl::StatusOr<Principal> Authenticator::Authenticate(std::string_view authorization) const {
  if (authorization.empty()) {
    return absl::UnauthenticatedError(
        "no bearer token: send metadata 'authorization: Bearer <token>'");
  }
  absl::string_view v(authorization.data(), authorization.size());
  if (!absl::StartsWithIgnoreCase(v, "bearer ")) {
    return absl::UnauthenticatedError("authorization metadata must be 'Bearer <token>'");
  }
  v.remove_prefix(7);
  v = absl::StripAsciiWhitespace(v);
  if (v.empty()) return absl::UnauthenticatedError("empty bearer token");
  auto it = by_hash_.find(Sha256Hex(std::string_view(v.data(), v.size())));
  if (it == by_hash_.end()) return absl::UnauthenticatedError("unknown bearer token");
  return it->second;
}

}  // namespace tidewatch::api
