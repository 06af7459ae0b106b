// Bearer-token authentication and role checks for tidewatch's gRPC API.
//
// A tokens file maps SHA-256 hashes of tokens (never the tokens themselves)
// to a holder's name and role, one entry per line:
//
//   # sha256-hex-of-token                                            name   role       teams...
//   9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 alice  admin
//   60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752 rev    responder
//   revenues-back-office fd61a03af4f77d870fc21e05e7e80678095c92d808cfb3b5c279ee04c74aca13 wall
//   viewer
//
// Roles: `viewer` reads everything; `responder` also acknowledges and
// declines call-ups of the teams listed after it; `admin` does everything,
// including applying policy. Make an entry's hash with
// `printf %s "$TOKEN" | sha256sum` or `tidectl token hash`.
//
//   ASSIGN_OR_RETURN(Authenticator auth, Authenticator::LoadFile("/etc/tidewatch/tokens"));
//   absl::StatusOr<Principal> who = auth.Authenticate("Bearer s3cret");  // metadata value
//   if (!who.ok()) ...                       // Unauthenticated
//   RETURN_IF_ERROR(who->MayRespondFor("revenues-back-office"));  // PermissionDenied
//
// Thread-safe once built (const).
#ifndef TIDEWATCH_LIBS_API_AUTH_H_
#define TIDEWATCH_LIBS_API_AUTH_H_

#include <map>
#include <set>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tidewatch::api {

// What a token holder may do (ordered: each role can do what the one before
// it can, responder only for its teams).
enum class Role { kViewer = 0, kResponder = 1, kAdmin = 2 };

// "viewer", "responder", "admin".
std::string_view RoleName(Role role);

// The authenticated caller.
struct Principal {
  std::string name;
  Role role = Role::kViewer;
  std::set<std::string> teams;  // for responders

  // OK, or PermissionDenied naming the caller, the role and the team.
  absl::Status MayRespondFor(std::string_view team_id) const;
  // OK for admin, else PermissionDenied.
  absl::Status MayAdminister(std::string_view what) const;
};

// Lowercase hex SHA-256 of `text`.
std::string Sha256Hex(std::string_view text);

// The tokens file, parsed.
class Authenticator {
 public:
  // Parses a tokens file's text (`source` names it in errors).
  // InvalidArgument naming the line for a malformed entry, an unknown role,
  // a responder without teams or a hash given twice.
  static absl::StatusOr<Authenticator> Parse(std::string_view text, std::string_view source);
  // Reads and parses the file at `path`.
  static absl::StatusOr<Authenticator> LoadFile(const std::string& path);

  // Checks an `authorization` metadata value ("Bearer TOKEN").
  // Unauthenticated when missing, malformed or unknown.
  absl::StatusOr<Principal> Authenticate(std::string_view authorization) const;

  size_t size() const { return by_hash_.size(); }

 private:
  std::map<std::string, Principal, std::less<>> by_hash_;
};

}  // namespace tidewatch::api

#endif  // TIDEWATCH_LIBS_API_AUTH_H_
