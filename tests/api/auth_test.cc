// Tokens file parsing and role checks (libs/api/auth.h): every malformed
// entry is an error naming the line; tokens are matched by their SHA-256;
// each role may do exactly what docs/api.md says.
#include "api/auth.h"

#include "gtest/gtest.h"

namespace tidewatch::api {
namespace {

std::string Entry(const std::string& token, const std::string& rest) {
  return Sha256Hex(token) + " " + rest + "\n";
}

TEST(Sha256HexTest, KnownDigest) {
  EXPECT_EQ(Sha256Hex("test"), "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
}

TEST(AuthenticatorTest, MapsTokensToPrincipals) {
  const std::string text = "# comment line\n\n" + Entry("a-token", "alice admin  # trailing") +
                           Entry("r-token", "rev responder revenues-back-office csc-reserve") +
                           Entry("v-token", "wall viewer");
  absl::StatusOr<Authenticator> auth = Authenticator::Parse(text, "tokens");
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_EQ(auth->size(), 3u);

  absl::StatusOr<Principal> alice = auth->Authenticate("Bearer a-token");
  ASSERT_TRUE(alice.ok());
  EXPECT_EQ(alice->name, "alice");
  EXPECT_EQ(alice->role, Role::kAdmin);

  absl::StatusOr<Principal> rev = auth->Authenticate("bearer   r-token ");
  ASSERT_TRUE(rev.ok());
  EXPECT_EQ(rev->role, Role::kResponder);
  EXPECT_EQ(rev->teams, (std::set<std::string>{"csc-reserve", "revenues-back-office"}));

  absl::StatusOr<Principal> wall = auth->Authenticate("Bearer v-token");
  ASSERT_TRUE(wall.ok());
  EXPECT_EQ(wall->role, Role::kViewer);
}

TEST(AuthenticatorTest, RefusesMissingMalformedAndUnknownTokens) {
  absl::StatusOr<Authenticator> auth =
      Authenticator::Parse(Entry("a-token", "alice admin"), "tokens");
  ASSERT_TRUE(auth.ok());
  for (const char* bad : {"", "a-token", "Basic a-token", "Bearer ", "Bearer nope"}) {
    absl::StatusOr<Principal> p = auth->Authenticate(bad);
    EXPECT_EQ(p.status().code(), absl::StatusCode::kUnauthenticated) << bad;
  }
}

TEST(AuthenticatorTest, BadEntriesNameTheLine) {
  const std::string h = Sha256Hex("x");
  struct Case {
    std::string text;
    std::string expect;
  } cases[] = {
      {"\n" + h + " alice\n", "tokens:2: expected"},
      {"abc alice admin\n", "tokens:1: 'abc' is not a SHA-256"},
      {h + " alice root\n", "tokens:1: unknown role 'root'"},
      {h + " rev responder\n", "tokens:1: responder rev names no team"},
      {h + " wall viewer revenues\n", "tokens:1: teams are only for responders"},
      {h + " a admin\n" + h + " b admin\n", "tokens:2: the same token hash appears twice"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Authenticator> auth = Authenticator::Parse(c.text, "tokens");
    ASSERT_FALSE(auth.ok()) << c.text;
    EXPECT_EQ(auth.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(auth.status().message().find(c.expect), std::string::npos)
        << auth.status().message() << " vs " << c.expect;
  }
}

TEST(AuthenticatorTest, MissingFileIsNotFound) {
  EXPECT_EQ(Authenticator::LoadFile("/nonexistent/tokens").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(PrincipalTest, RolesAndTeams) {
  Principal viewer{"wall", Role::kViewer, {}};
  Principal responder{"rev", Role::kResponder, {"revenues-back-office"}};
  Principal admin{"alice", Role::kAdmin, {}};
  EXPECT_EQ(viewer.MayRespondFor("revenues-back-office").code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(responder.MayRespondFor("revenues-back-office").ok());
  EXPECT_EQ(responder.MayRespondFor("csc-reserve").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(admin.MayRespondFor("csc-reserve").ok());
  EXPECT_EQ(viewer.MayAdminister("applying policy").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(responder.MayAdminister("applying policy").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(admin.MayAdminister("applying policy").ok());
}

}  // namespace
}  // namespace tidewatch::api
