#include "line/kpis.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"

namespace tidewatch::line {
namespace {

std::optional<double> Ratio(int64_t num, int64_t den) {
  if (den <= 0) return std::nullopt;
  return static_cast<double>(num) / static_cast<double>(den);
}

std::optional<double> MeanSeconds(int64_t sum_ns, int64_t n) {
  if (n <= 0) return std::nullopt;
  return static_cast<double>(sum_ns) / 1e9 / static_cast<double>(n);
}

}  // namespace

std::optional<double> ComputeMetric(tidewatch::v1::Metric metric, const window::WindowStats& stats,
                                    int64_t max_wait_ns) {
  using namespace tidewatch::v1;
  const window::Counters& c = stats.counters;
  const int64_t decided = c.answered + c.abandoned;
  const int64_t decided_long = decided - c.short_abandoned;
  switch (metric) {
    case METRIC_OFFERED:
      return static_cast<double>(c.offered);
    case METRIC_ANSWERED:
      return static_cast<double>(c.answered);
    case METRIC_ABANDONED:
      return static_cast<double>(c.abandoned);
    case METRIC_ANSWER_RATE:
      return Ratio(c.answered, decided);
    case METRIC_ABANDON_RATE:
      return Ratio(c.abandoned - c.short_abandoned, decided_long);
    case METRIC_SERVICE_LEVEL:
      return Ratio(c.answered_in_target, decided_long);
    case METRIC_ASA:
      return MeanSeconds(c.sum_wait_answered_ns, c.answered);
    case METRIC_AVG_WAIT:
      return MeanSeconds(c.sum_wait_all_ns, decided);
    case METRIC_P50_WAIT:
      return stats.waits.QuantileSeconds(0.50);
    case METRIC_P90_WAIT:
      return stats.waits.QuantileSeconds(0.90);
    case METRIC_P95_WAIT:
      return stats.waits.QuantileSeconds(0.95);
    case METRIC_MAX_WAIT:
      if (max_wait_ns < 0) return std::nullopt;
      return static_cast<double>(max_wait_ns) / 1e9;
    case METRIC_ARRIVALS_PER_MINUTE:
      if (stats.length <= absl::ZeroDuration()) return std::nullopt;
      return static_cast<double>(c.offered) / absl::ToDoubleMinutes(stats.length);
    case METRIC_MEAN_HANDLE_TIME:
      return MeanSeconds(c.sum_handle_ns, c.completed);
    default:
      return std::nullopt;
  }
}

tidewatch::v1::Kpis MakeKpis(const window::WindowStats& stats, int64_t max_wait_ns) {
  using namespace tidewatch::v1;
  const window::Counters& c = stats.counters;
  Kpis k;
  k.set_offered(c.offered);
  k.set_answered(c.answered);
  k.set_abandoned(c.abandoned);
  k.set_short_abandoned(c.short_abandoned);
  k.set_callbacks(c.callbacks);
  k.set_left_queue(c.left_queue);
  k.set_completed(c.completed);
  auto set = [&](Metric m, void (Kpis::*setter)(double)) {
    if (std::optional<double> v = ComputeMetric(m, stats, max_wait_ns)) (k.*setter)(*v);
  };
  set(METRIC_ANSWER_RATE, &Kpis::set_answer_rate);
  set(METRIC_ABANDON_RATE, &Kpis::set_abandon_rate);
  set(METRIC_SERVICE_LEVEL, &Kpis::set_service_level);
  set(METRIC_ASA, &Kpis::set_asa_seconds);
  set(METRIC_AVG_WAIT, &Kpis::set_avg_wait_seconds);
  set(METRIC_MAX_WAIT, &Kpis::set_max_wait_seconds);
  set(METRIC_P50_WAIT, &Kpis::set_p50_wait_seconds);
  set(METRIC_P90_WAIT, &Kpis::set_p90_wait_seconds);
  set(METRIC_P95_WAIT, &Kpis::set_p95_wait_seconds);
  set(METRIC_ARRIVALS_PER_MINUTE, &Kpis::set_arrivals_per_minute);
  set(METRIC_MEAN_HANDLE_TIME, &Kpis::set_mean_handle_seconds);
  return k;
}

void WriteKpisJson(JsonWriter& w, const tidewatch::v1::Kpis& k) {
  w.BeginObject();
  w.Key("offered").Int(k.offered());
  w.Key("answered").Int(k.answered());
  w.Key("abandoned").Int(k.abandoned());
  w.Key("short_abandoned").Int(k.short_abandoned());
  if (k.has_answer_rate()) w.Key("answer_rate").Ratio(k.answer_rate());
  if (k.has_abandon_rate()) w.Key("abandon_rate").Ratio(k.abandon_rate());
  if (k.has_service_level()) w.Key("service_level").Ratio(k.service_level());
  if (k.has_asa_seconds()) w.Key("asa_seconds").Seconds(k.asa_seconds());
  if (k.has_avg_wait_seconds()) w.Key("avg_wait_seconds").Seconds(k.avg_wait_seconds());
  if (k.has_max_wait_seconds()) w.Key("max_wait_seconds").Seconds(k.max_wait_seconds());
  if (k.has_p50_wait_seconds()) w.Key("p50_wait_seconds").Seconds(k.p50_wait_seconds());
  if (k.has_p90_wait_seconds()) w.Key("p90_wait_seconds").Seconds(k.p90_wait_seconds());
  if (k.has_p95_wait_seconds()) w.Key("p95_wait_seconds").Seconds(k.p95_wait_seconds());
  w.Key("callbacks").Int(k.callbacks());
  w.Key("left_queue").Int(k.left_queue());
  w.Key("completed").Int(k.completed());
  if (k.has_mean_handle_seconds()) w.Key("mean_handle_seconds").Seconds(k.mean_handle_seconds());
  if (k.has_arrivals_per_minute()) w.Key("arrivals_per_minute").Ratio(k.arrivals_per_minute());
  w.EndObject();
}

namespace {

std::string Percent(bool has, double v) { return has ? absl::StrFormat("%.1f%%", v * 100) : "-"; }

std::string Mmss(bool has, double seconds) {
  if (!has) return "-";
  const int64_t s = static_cast<int64_t>(seconds + 0.5);
  return absl::StrFormat("%d:%02d", s / 60, s % 60);
}

}  // namespace

std::string LineTotalsTable(const std::vector<std::pair<std::string, tidewatch::v1::Kpis>>& rows) {
  std::string out =
      absl::StrFormat("%-20s %8s %8s %9s %9s %10s %9s %9s %8s\n", "line", "offered", "answered",
                      "%answered", "%abandoned", "avg wait", "max wait", "SL", "callback");
  for (const auto& [id, k] : rows) {
    absl::StrAppend(
        &out, absl::StrFormat("%-20s %8d %8d %9s %9s %10s %9s %9s %8d\n", id, k.offered(),
                              k.answered(), Percent(k.has_answer_rate(), k.answer_rate()),
                              Percent(k.has_abandon_rate(), k.abandon_rate()),
                              Mmss(k.has_avg_wait_seconds(), k.avg_wait_seconds()),
                              Mmss(k.has_max_wait_seconds(), k.max_wait_seconds()),
                              Percent(k.has_service_level(), k.service_level()), k.callbacks()));
  }
  return out;
}

}  // namespace tidewatch::line
