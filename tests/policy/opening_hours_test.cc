// OpeningHours::IsOpen in local time across Europe/London's DST changes and
// weekends; the metric helpers.
#include <string>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "policy/compiled_policy.h"
#include "policy/policy.h"

namespace tidewatch::policy {
namespace {

absl::Time Utc(int y, int mo, int d, int h, int mi, int s = 0) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::UTCTimeZone());
}

OpeningHours HoursFor(const std::string& opening_hours_yaml) {
  absl::StatusOr<CompiledPolicy> policy =
      LoadPolicyYaml("lines:\n  l:\n    opening_hours: " + opening_hours_yaml + "\n", "hours.yaml");
  EXPECT_TRUE(policy.ok()) << policy.status();
  return policy.ok() ? policy->FindLine("l")->hours : OpeningHours();
}

OpeningHours DefaultHours() {
  absl::StatusOr<CompiledPolicy> policy = LoadPolicyYaml(DefaultPolicyYaml(), "default.yaml");
  EXPECT_TRUE(policy.ok()) << policy.status();
  return policy->FindLine("revenues")->hours;
}

TEST(OpeningHoursTest, WeekdaysInWinter) {
  const OpeningHours hours = DefaultHours();
  // Wednesday 2023-01-11, GMT = UTC.
  EXPECT_FALSE(hours.IsOpen(Utc(2023, 1, 11, 8, 29, 59)));
  EXPECT_TRUE(hours.IsOpen(Utc(2023, 1, 11, 8, 30)));
  EXPECT_TRUE(hours.IsOpen(Utc(2023, 1, 11, 17, 29, 59)));
  EXPECT_FALSE(hours.IsOpen(Utc(2023, 1, 11, 17, 30)));  // close is exclusive
  EXPECT_FALSE(hours.IsOpen(Utc(2023, 1, 11, 3, 0)));
}

TEST(OpeningHoursTest, WeekdaysInSummerAreAnHourEarlierInUtc) {
  const OpeningHours hours = DefaultHours();
  // Wednesday 2023-07-12, BST = UTC+1: open 07:30Z to 16:30Z.
  EXPECT_FALSE(hours.IsOpen(Utc(2023, 7, 12, 7, 29)));
  EXPECT_TRUE(hours.IsOpen(Utc(2023, 7, 12, 7, 30)));
  EXPECT_TRUE(hours.IsOpen(Utc(2023, 7, 12, 16, 29)));
  EXPECT_FALSE(hours.IsOpen(Utc(2023, 7, 12, 16, 30)));
  EXPECT_FALSE(hours.IsOpen(Utc(2023, 7, 12, 17, 0)));  // would be open in GMT
}

TEST(OpeningHoursTest, ClosedAtWeekends) {
  const OpeningHours hours = DefaultHours();
  // Saturday 2023-01-14 and Sunday 2023-01-15 at noon.
  EXPECT_FALSE(hours.IsOpen(Utc(2023, 1, 14, 12, 0)));
  EXPECT_FALSE(hours.IsOpen(Utc(2023, 1, 15, 12, 0)));
  EXPECT_TRUE(hours.IsOpen(Utc(2023, 1, 13, 12, 0)));  // Friday
  EXPECT_TRUE(hours.IsOpen(Utc(2023, 1, 16, 12, 0)));  // Monday
}

TEST(OpeningHoursTest, AcrossSpringForward) {
  // Clocks go forward at 01:00Z on Sunday 2023-03-26.
  const OpeningHours hours = DefaultHours();
  // Friday before: GMT.
  EXPECT_FALSE(hours.IsOpen(Utc(2023, 3, 24, 8, 29)));
  EXPECT_TRUE(hours.IsOpen(Utc(2023, 3, 24, 8, 30)));
  EXPECT_TRUE(hours.IsOpen(Utc(2023, 3, 24, 17, 29)));
  // Monday after: BST.
  EXPECT_FALSE(hours.IsOpen(Utc(2023, 3, 27, 7, 29)));
  EXPECT_TRUE(hours.IsOpen(Utc(2023, 3, 27, 7, 30)));
  EXPECT_FALSE(hours.IsOpen(Utc(2023, 3, 27, 16, 30)));

  // A Sunday-night session spanning the skipped hour: local 00:00-03:00.
  const OpeningHours night =
      HoursFor("{weekly: [{days: [sun], open: \"00:00\", close: \"03:00\"}]}");
  EXPECT_FALSE(night.IsOpen(Utc(2023, 3, 25, 23, 59)));  // Saturday 23:59 GMT
  EXPECT_TRUE(night.IsOpen(Utc(2023, 3, 26, 0, 0)));     // 00:00 GMT
  EXPECT_TRUE(night.IsOpen(Utc(2023, 3, 26, 0, 59)));    // 00:59 GMT
  EXPECT_TRUE(night.IsOpen(Utc(2023, 3, 26, 1, 0)));     // 02:00 BST
  EXPECT_TRUE(night.IsOpen(Utc(2023, 3, 26, 1, 59)));    // 02:59 BST
  EXPECT_FALSE(night.IsOpen(Utc(2023, 3, 26, 2, 0)));    // 03:00 BST: closed
}

TEST(OpeningHoursTest, AcrossFallBack) {
  // Clocks go back at 01:00Z on Sunday 2023-10-29 (02:00 BST -> 01:00 GMT).
  const OpeningHours hours = DefaultHours();
  // Friday before: BST.
  EXPECT_TRUE(hours.IsOpen(Utc(2023, 10, 27, 7, 30)));
  EXPECT_FALSE(hours.IsOpen(Utc(2023, 10, 27, 16, 30)));
  // Monday after: GMT.
  EXPECT_FALSE(hours.IsOpen(Utc(2023, 10, 30, 7, 30)));
  EXPECT_TRUE(hours.IsOpen(Utc(2023, 10, 30, 8, 30)));
  EXPECT_TRUE(hours.IsOpen(Utc(2023, 10, 30, 17, 29)));
  EXPECT_FALSE(hours.IsOpen(Utc(2023, 10, 30, 17, 30)));

  // Local 01:00-02:00 happens twice that night; both are open.
  const OpeningHours night =
      HoursFor("{weekly: [{days: [sunday], open: \"01:00\", close: \"02:00\"}]}");
  EXPECT_FALSE(night.IsOpen(Utc(2023, 10, 28, 23, 59)));  // 00:59 BST
  EXPECT_TRUE(night.IsOpen(Utc(2023, 10, 29, 0, 0)));     // 01:00 BST
  EXPECT_TRUE(night.IsOpen(Utc(2023, 10, 29, 0, 59)));    // 01:59 BST
  EXPECT_TRUE(night.IsOpen(Utc(2023, 10, 29, 1, 0)));     // 01:00 GMT
  EXPECT_TRUE(night.IsOpen(Utc(2023, 10, 29, 1, 59)));    // 01:59 GMT
  EXPECT_FALSE(night.IsOpen(Utc(2023, 10, 29, 2, 0)));    // 02:00 GMT
}

TEST(OpeningHoursTest, SeveralSessionsAndMidnight) {
  const OpeningHours hours = HoursFor(R"({timezone: America/New_York, weekly: [
        {days: [sat], open: "10:00", close: "12:00"},
        {days: [sat], open: "22:00", close: "24:00"},
        {days: [mon, Tue], open: "09:00", close: "17:00"}]})");
  EXPECT_EQ(hours.zone_name, "America/New_York");
  // Saturday 2023-01-14, EST = UTC-5.
  EXPECT_TRUE(hours.IsOpen(Utc(2023, 1, 14, 15, 0)));   // 10:00
  EXPECT_FALSE(hours.IsOpen(Utc(2023, 1, 14, 17, 0)));  // 12:00
  EXPECT_TRUE(hours.IsOpen(Utc(2023, 1, 15, 4, 59)));   // 23:59 Saturday
  EXPECT_FALSE(hours.IsOpen(Utc(2023, 1, 15, 5, 0)));   // 00:00 Sunday
  EXPECT_TRUE(hours.IsOpen(Utc(2023, 1, 17, 14, 0)));   // Tuesday 09:00
  EXPECT_FALSE(hours.IsOpen(Utc(2023, 1, 18, 14, 0)));  // Wednesday
}

TEST(OpeningHoursTest, AlwaysOpen) {
  const OpeningHours hours = HoursFor("{always: true}");
  EXPECT_TRUE(hours.IsOpen(Utc(2023, 1, 15, 3, 0)));
  EXPECT_TRUE(hours.IsOpen(absl::UnixEpoch()));
  EXPECT_TRUE(hours.IsOpen(Utc(2023, 3, 26, 1, 30)));
}

TEST(OpeningHoursTest, DefaultConstructedIsNeverOpen) {
  EXPECT_FALSE(OpeningHours().IsOpen(Utc(2023, 1, 11, 12, 0)));
}

TEST(MetricTest, NamesRoundTripAndClassify) {
  const google::protobuf::EnumDescriptor* descriptor = v1::Metric_descriptor();
  int windowed = 0, durations = 0, fractions = 0;
  for (int i = 0; i < descriptor->value_count(); ++i) {
    const auto metric = static_cast<v1::Metric>(descriptor->value(i)->number());
    if (metric == v1::METRIC_UNSPECIFIED) continue;
    const std::string_view name = MetricName(metric);
    EXPECT_EQ(MetricFromName(name), metric) << name;
    // The short name is the enum name without METRIC_, lower case.
    std::string expected = descriptor->value(i)->name().substr(7);
    for (char& c : expected) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_EQ(name, expected);
    windowed += IsWindowedMetric(metric);
    durations += IsDurationMetric(metric);
    fractions += IsFractionMetric(metric);
  }
  EXPECT_EQ(windowed, 14);
  EXPECT_EQ(durations, 9);
  EXPECT_EQ(fractions, 3);
  EXPECT_EQ(MetricFromName("nope"), v1::METRIC_UNSPECIFIED);
  EXPECT_EQ(MetricName(v1::METRIC_UNSPECIFIED), "unspecified");

  EXPECT_TRUE(IsWindowedMetric(v1::METRIC_AVG_WAIT));
  EXPECT_FALSE(IsWindowedMetric(v1::METRIC_CALLS_WAITING));
  EXPECT_FALSE(IsWindowedMetric(v1::METRIC_PREDICTED_WAIT));
  EXPECT_FALSE(IsWindowedMetric(v1::METRIC_CAPACITY_GAP));
  EXPECT_TRUE(IsDurationMetric(v1::METRIC_LONGEST_WAITING));
  EXPECT_TRUE(IsDurationMetric(v1::METRIC_MEAN_HANDLE_TIME));
  EXPECT_FALSE(IsDurationMetric(v1::METRIC_ABANDON_RATE));
  EXPECT_FALSE(IsDurationMetric(v1::METRIC_ARRIVALS_PER_MINUTE));
}

// IsOpen(t, &valid_until) agrees with IsOpen(t) at t and at every instant
// before valid_until, across both DST changes of a year, with a session
// boundary inside the skipped hour and one inside the repeated hour.
TEST(OpeningHoursTest, ValidityNeverOutlivesTheAnswer) {
  const OpeningHours hours = HoursFor(
      "{timezone: Europe/London, weekly: ["
      "{days: [mon, tue, wed, thu, fri], open: \"08:30\", close: \"17:30\"},"
      "{days: [sun], open: \"01:30\", close: \"01:45\"},"
      "{days: [sat], open: \"00:00\", close: \"24:00\"}]}");
  int cached = 0;
  for (absl::Time t = Utc(2022, 3, 20, 0, 0); t < Utc(2022, 11, 6, 0, 0); t += absl::Minutes(7)) {
    absl::Time until;
    const bool open = hours.IsOpen(t, &until);
    ASSERT_EQ(open, hours.IsOpen(t)) << absl::FormatTime(t);
    ASSERT_GE(until, t);
    if (until == t) continue;
    ++cached;
    // Every minute up to the end of the validity, and its last second.
    for (absl::Time s = t; s < until && s < t + absl::Hours(30); s += absl::Minutes(1)) {
      ASSERT_EQ(hours.IsOpen(s), open) << absl::FormatTime(t) << " .. " << absl::FormatTime(s);
    }
    if (until != absl::InfiniteFuture()) {
      ASSERT_EQ(hours.IsOpen(until - absl::Seconds(1)), open) << absl::FormatTime(t);
    }
  }
  EXPECT_GT(cached, 40000);
  absl::Time until;
  EXPECT_TRUE(HoursFor("{always: true}").IsOpen(Utc(2023, 1, 1, 0, 0), &until));
  EXPECT_EQ(until, absl::InfiniteFuture());
}

}  // namespace
}  // namespace tidewatch::policy
