// Prometheus metrics for tidewatchd: what duty managers and operators watch.
//
// MetricsExporter turns the stream processor's snapshots (StreamStatus and
// the LineStatus list) into the Prometheus text exposition format, once per
// scrape. Gauges are set from the snapshots, counters from the cumulative
// totals the processor and the engines keep (line totals survive restarts
// through the state topic). The one state kept between scrapes: each line's
// highest totals so far, exported instead of lower ones, because within a
// process a line's totals can go back (a rewind to the committed state
// after an aborted transaction, a partition lost and recovered) and a
// Prometheus counter that goes back reads as a reset (rate() spikes by the
// whole total); the replay brings them back to where they were. Totals far
// below (offered under half the highest) are a line started afresh (re-added
// by a policy version, recovered without saved state): exported as they
// are, a real reset. Every metric, its type and labels
// are listed in docs/metrics.md ("Prometheus metrics"); the alert rules in
// deploy/prometheus/rules/ and the dashboards in grafana/ read them.
//
// Cardinality is bounded: labels carry only policy line ids (validated by
// libs/events: at most 128 characters of [A-Za-z0-9._-]), policy team ids,
// window lengths and fixed enumerations; never call, caller or agent ids.
// At most ExporterOptions::max_lines lines are exported; the rest are left
// out and counted (tidewatch_metrics_lines_dropped). Lines above level 0 or
// with a stale feed are kept first, so a cap never hides a surge.
//
//   ExporterOptions options;
//   options.max_lines = 1000;
//   MetricsExporter exporter(policy, options);
//   std::string body = exporter.Render(processor.Status(), processor.Lines());
//   // serve body with content type MetricsExporter::kContentType
#ifndef TIDEWATCH_LIBS_TELEMETRY_METRICS_EXPORTER_H_
#define TIDEWATCH_LIBS_TELEMETRY_METRICS_EXPORTER_H_

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "policy/compiled_policy.h"
#include "prometheus/metric_family.h"
#include "stream/stream_processor.h"

namespace tidewatch::telemetry {

// How the exporter renders.
struct ExporterOptions {
  // Lines exported at most (label cardinality cap).
  int max_lines = 1000;
  // tidewatch_build_info's version label; empty: the project version.
  std::string version;
};

// Documented bound on the exposition's size per exported line with the
// default policy's three windows and no open call-ups (see docs/metrics.md;
// tests/telemetry checks it for 500 lines).
inline constexpr size_t kMaxBytesPerLine = 8 * 1024;

class MetricsExporter {
 public:
  static constexpr char kContentType[] = "text/plain; version=0.0.4; charset=utf-8";

  // The policy in force at each scrape (e.g. StreamProcessor::policy): the
  // teams' acknowledgement timeouts, the lines' opening hours and the
  // policy's name follow live policy versions. Must be thread-safe.
  using PolicySource = std::function<std::shared_ptr<const policy::CompiledPolicy>()>;
  MetricsExporter(PolicySource policy, ExporterOptions options);
  // A fixed policy (tools, tests): it must be the policy the processor runs.
  MetricsExporter(std::shared_ptr<const policy::CompiledPolicy> policy, ExporterOptions options);

  // The metric families for one scrape. Thread-safe.
  std::vector<prometheus::MetricFamily> Collect(const stream::StreamStatus& status,
                                                const std::vector<stream::LineStatus>& lines) const;

  // Collect() in the text exposition format (version 0.0.4).
  std::string Render(const stream::StreamStatus& status,
                     const std::vector<stream::LineStatus>& lines) const;

 private:
  // `line`'s totals (offered, answered, abandoned, callbacks) as exported:
  // the highest seen so far (see the top of this file).
  std::array<int64_t, 4> MonotonicTotals(const std::string& line,
                                         const tidewatch::v1::Kpis& totals) const;

  const PolicySource policy_source_;
  const ExporterOptions options_;
  mutable absl::Mutex mu_;
  // Per line (policy line ids only: bounded), the highest totals exported.
  mutable std::map<std::string, std::array<int64_t, 4>> highest_totals_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tidewatch::telemetry

#endif  // TIDEWATCH_LIBS_TELEMETRY_METRICS_EXPORTER_H_
