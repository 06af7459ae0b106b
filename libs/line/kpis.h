// KPI formulas: turning window counters into the figures duty managers read.
//
// Every definition is the architecture page's (docs/metrics.md): ratios
// with an empty denominator are absent (nullopt), never zero.
//
//   std::optional<double> asa = ComputeMetric(v1::METRIC_ASA, stats, max_ns);
//   v1::Kpis kpis = MakeKpis(stats, max_ns);
#ifndef TIDEWATCH_LIBS_LINE_KPIS_H_
#define TIDEWATCH_LIBS_LINE_KPIS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/json_writer.h"
#include "tidewatch/v1/policy.pb.h"
#include "tidewatch/v1/tide.pb.h"
#include "window/sliding_windows.h"

namespace tidewatch::line {

// The value of a windowed metric over `stats` (whose length is used for
// arrivals per minute; zero length: arrivals_per_minute is absent).
// `max_wait_ns` is the exact max over the same span (-1: none). Live
// metrics are not handled here (nullopt).
std::optional<double> ComputeMetric(tidewatch::v1::Metric metric, const window::WindowStats& stats,
                                    int64_t max_wait_ns);

// All windowed KPIs over `stats`.
tidewatch::v1::Kpis MakeKpis(const window::WindowStats& stats, int64_t max_wait_ns);

// Writes `k` as a JSON object: counts always, the rest only when defined,
// in docs/metrics.md's order (tidectl replay's and tidewatchd's format).
void WriteKpisJson(JsonWriter& w, const tidewatch::v1::Kpis& k);

// The per-line table a duty manager reads (like a council's monthly
// dashboard): offered, answered, % answered, % abandoned, average and max
// wait, service level, call-backs; one row per (line, totals).
std::string LineTotalsTable(const std::vector<std::pair<std::string, tidewatch::v1::Kpis>>& rows);

}  // namespace tidewatch::line

#endif  // TIDEWATCH_LIBS_LINE_KPIS_H_
