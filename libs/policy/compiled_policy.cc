#include "policy/compiled_policy.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tidewatch::policy {

using tidewatch::v1::Metric;

bool IsWindowedMetric(Metric metric) {
  switch (metric) {
    case tidewatch::v1::METRIC_OFFERED:
    case tidewatch::v1::METRIC_ANSWERED:
    case tidewatch::v1::METRIC_ABANDONED:
    case tidewatch::v1::METRIC_ANSWER_RATE:
    case tidewatch::v1::METRIC_ABANDON_RATE:
    case tidewatch::v1::METRIC_SERVICE_LEVEL:
    case tidewatch::v1::METRIC_ASA:
    case tidewatch::v1::METRIC_AVG_WAIT:
    case tidewatch::v1::METRIC_P50_WAIT:
    case tidewatch::v1::METRIC_P90_WAIT:
    case tidewatch::v1::METRIC_P95_WAIT:
    case tidewatch::v1::METRIC_MAX_WAIT:
    case tidewatch::v1::METRIC_ARRIVALS_PER_MINUTE:
    case tidewatch::v1::METRIC_MEAN_HANDLE_TIME:
      return true;
    default:
      return false;
  }
}

bool IsDurationMetric(Metric metric) {
  switch (metric) {
    case tidewatch::v1::METRIC_ASA:
    case tidewatch::v1::METRIC_AVG_WAIT:
    case tidewatch::v1::METRIC_P50_WAIT:
    case tidewatch::v1::METRIC_P90_WAIT:
    case tidewatch::v1::METRIC_P95_WAIT:
    case tidewatch::v1::METRIC_MAX_WAIT:
    case tidewatch::v1::METRIC_MEAN_HANDLE_TIME:
    case tidewatch::v1::METRIC_LONGEST_WAITING:
    case tidewatch::v1::METRIC_PREDICTED_WAIT:
      return true;
    default:
      return false;
  }
}

bool IsFractionMetric(Metric metric) {
  return metric == tidewatch::v1::METRIC_ANSWER_RATE ||
         metric == tidewatch::v1::METRIC_ABANDON_RATE ||
         metric == tidewatch::v1::METRIC_SERVICE_LEVEL;
}

std::string WindowLabel(absl::Duration window) {
  if (window % absl::Minutes(1) == absl::ZeroDuration()) {
    return absl::StrCat(window / absl::Minutes(1), "m");
  }
  return absl::StrCat(window / absl::Seconds(1), "s");
}

std::string ConditionKey(const Condition& condition) {
  std::string key = condition.all ? "all:" : "any:";
  for (size_t i = 0; i < condition.clauses.size(); ++i) {
    const Clause& c = condition.clauses[i];
    // The metric by number too (a name could be "unspecified"); the window
    // in nanoseconds and the threshold with every digit, so that no two
    // conditions share a key.
    absl::StrAppendFormat(&key, "%s %s#%d %dns %s %.17g", i == 0 ? "" : ";",
                          std::string(MetricName(c.metric)), static_cast<int>(c.metric),
                          absl::ToInt64Nanoseconds(c.window), c.above ? ">" : "<", c.threshold);
  }
  return key;
}

std::string_view MetricName(Metric metric) {
  switch (metric) {
    case tidewatch::v1::METRIC_OFFERED:
      return "offered";
    case tidewatch::v1::METRIC_ANSWERED:
      return "answered";
    case tidewatch::v1::METRIC_ABANDONED:
      return "abandoned";
    case tidewatch::v1::METRIC_ANSWER_RATE:
      return "answer_rate";
    case tidewatch::v1::METRIC_ABANDON_RATE:
      return "abandon_rate";
    case tidewatch::v1::METRIC_SERVICE_LEVEL:
      return "service_level";
    case tidewatch::v1::METRIC_ASA:
      return "asa";
    case tidewatch::v1::METRIC_AVG_WAIT:
      return "avg_wait";
    case tidewatch::v1::METRIC_P50_WAIT:
      return "p50_wait";
    case tidewatch::v1::METRIC_P90_WAIT:
      return "p90_wait";
    case tidewatch::v1::METRIC_P95_WAIT:
      return "p95_wait";
    case tidewatch::v1::METRIC_MAX_WAIT:
      return "max_wait";
    case tidewatch::v1::METRIC_ARRIVALS_PER_MINUTE:
      return "arrivals_per_minute";
    case tidewatch::v1::METRIC_MEAN_HANDLE_TIME:
      return "mean_handle_time";
    case tidewatch::v1::METRIC_CALLS_WAITING:
      return "calls_waiting";
    case tidewatch::v1::METRIC_LONGEST_WAITING:
      return "longest_waiting";
    case tidewatch::v1::METRIC_AGENTS_AVAILABLE:
      return "agents_available";
    case tidewatch::v1::METRIC_PREDICTED_WAIT:
      return "predicted_wait";
    case tidewatch::v1::METRIC_CAPACITY_GAP:
      return "capacity_gap";
    default:
      return "unspecified";
  }
}

Metric MetricFromName(std::string_view name) {
  const google::protobuf::EnumDescriptor* descriptor = tidewatch::v1::Metric_descriptor();
  for (int i = 0; i < descriptor->value_count(); ++i) {
    const Metric metric = static_cast<Metric>(descriptor->value(i)->number());
    if (metric != tidewatch::v1::METRIC_UNSPECIFIED && MetricName(metric) == name) return metric;
  }
  return tidewatch::v1::METRIC_UNSPECIFIED;
}

bool OpeningHours::IsOpen(absl::Time t) const {
  if (always) return true;
  const absl::CivilSecond local = absl::ToCivilSecond(t, zone);
  const absl::Weekday day = absl::GetWeekday(absl::CivilDay(local));
  const int minute = local.hour() * 60 + local.minute();
  for (const Session& session : weekly) {
    if (std::find(session.days.begin(), session.days.end(), day) == session.days.end()) continue;
    if (minute >= session.open_minute && minute < session.close_minute) return true;
  }
  return false;
}

bool OpeningHours::IsOpen(absl::Time t, absl::Time* valid_until) const {
  if (always) {
    *valid_until = absl::InfiniteFuture();
    return true;
  }
  const absl::CivilSecond local = absl::ToCivilSecond(t, zone);
  const absl::CivilDay today(local);
  const absl::Weekday day = absl::GetWeekday(today);
  const int minute = local.hour() * 60 + local.minute();
  bool open = false;
  int next = 24 * 60;  // local midnight: another weekday's sessions
  for (const Session& session : weekly) {
    if (std::find(session.days.begin(), session.days.end(), day) == session.days.end()) continue;
    if (minute >= session.open_minute && minute < session.close_minute) open = true;
    if (session.open_minute > minute) next = std::min(next, session.open_minute);
    if (session.close_minute > minute) next = std::min(next, session.close_minute);
  }
  absl::Time until = absl::FromCivil(absl::CivilMinute(today) + next, zone);
  absl::TimeZone::CivilTransition transition;
  if (zone.NextTransition(t, &transition)) {
    // No later than the offset change: of the two readings of its civil
    // times the earlier is at or before it (exact when clocks go forward,
    // an hour early when they go back).
    until = std::min(
        {until, absl::FromCivil(transition.from, zone), absl::FromCivil(transition.to, zone)});
  }
  *valid_until = until > t ? until : t;
  return open;
}

}  // namespace tidewatch::policy
