// The command-line helpers the services share: tidectl's
// CommandArgs::ParseOrExit and the Abseil-flags services'
// UnderscoreFlagNames.
#include <optional>
#include <string>
#include <vector>

#include "args.h"
#include "gtest/gtest.h"
#include "service_flags.h"

namespace tidewatch {
namespace {

using tidectl::CommandArgs;

CommandArgs PublishLike() {
  CommandArgs args("publish");
  args.AddFlag("events", "the events file");
  args.AddBool("quiet", "no progress lines");
  return args;
}

TEST(ParseOrExitTest, GoodArgumentsGoOn) {
  CommandArgs args = PublishLike();
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  const std::optional<int> exit = args.ParseOrExit({"--events", "x.jsonl", "--quiet", "more"});
  EXPECT_EQ(::testing::internal::GetCapturedStdout(), "");
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  EXPECT_EQ(exit, std::nullopt);
  EXPECT_EQ(args.GetOr("events", ""), "x.jsonl");
  EXPECT_TRUE(args.GetBool("quiet"));
  EXPECT_FALSE(args.GetBool("help"));
  EXPECT_EQ(args.positional(), std::vector<std::string>{"more"});
}

TEST(ParseOrExitTest, HelpPrintsIntroUsageAndNotesAndExitsZero) {
  CommandArgs args = PublishLike();
  ::testing::internal::CaptureStdout();
  const std::optional<int> exit = args.ParseOrExit({"--help"}, "INTRO\n", "NOTES\n");
  const std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(exit, 0);
  EXPECT_EQ(out, "INTRO\n" + args.Usage() + "NOTES\n");
  EXPECT_NE(out.find("--help  show this help"), std::string::npos) << out;
}

TEST(ParseOrExitTest, UnknownFlagExitsTwoNamingIt) {
  CommandArgs args = PublishLike();
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  const std::optional<int> exit = args.ParseOrExit({"--bogus"});
  EXPECT_EQ(::testing::internal::GetCapturedStdout(), "");
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(exit, 2);
  EXPECT_NE(err.find("tidectl publish: unknown flag --bogus"), std::string::npos) << err;
}

TEST(ParseOrExitTest, MissingValueExitsTwo) {
  CommandArgs args = PublishLike();
  ::testing::internal::CaptureStderr();
  const std::optional<int> exit = args.ParseOrExit({"--events"});
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(exit, 2);
  EXPECT_EQ(err, "--events needs a value\n");
}

TEST(ParseOrExitTest, BadBooleanExitsTwo) {
  CommandArgs args = PublishLike();
  ::testing::internal::CaptureStderr();
  const std::optional<int> exit = args.ParseOrExit({"--help=maybe"});
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(exit, 2);
  EXPECT_EQ(err, "--help takes true or false, not 'maybe'\n");
}

TEST(UnderscoreFlagNamesTest, DashesInNamesOnly) {
  EXPECT_EQ(
      UnderscoreFlagNames({"--queue-log-out=a-b.log", "--start-date", "2026-01-05", "-line-map-out",
                           "lines-map.yaml", "--seed=1", "-", "--", "--not-a-flag"}),
      (std::vector<std::string>{"--queue_log_out=a-b.log", "--start_date", "2026-01-05",
                                "-line_map_out", "lines-map.yaml", "--seed=1", "-", "--",
                                "--not-a-flag"}));
}

TEST(UnderscoreFlagNamesTest, EmptyAndBareDashes) {
  EXPECT_EQ(UnderscoreFlagNames({}), std::vector<std::string>{});
  EXPECT_EQ(UnderscoreFlagNames({"---", "--=x-y", ""}),
            (std::vector<std::string>{"--_", "--=x-y", ""}));
}

}  // namespace
}  // namespace tidewatch
