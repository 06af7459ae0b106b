#include "telemetry/metrics_exporter.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <tuple>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "events/events.h"
#include "prometheus/text_serializer.h"
#include "tidewatch/v1/events.pb.h"
#include "tidewatch/v1/tide.pb.h"

#ifndef TIDEWATCH_VERSION
#define TIDEWATCH_VERSION "unknown"
#endif

namespace tidewatch::telemetry {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

// Reasons the engines set events aside (Engine::SetAsideCounts), exported at
// zero until they happen so that rate() and alerts see the first one.
constexpr const char* kEngineReasons[] = {"duplicate",       "unknown_line",     "too_far_ahead",
                                          "not_owned",       "orphan",           "conflict",
                                          "expired_waiting", "stale_agent_event"};

// Agent states and origins exported (LOGGED_OUT agents are not on the line).
constexpr std::pair<tidewatch::v1::AgentStatus, const char*> kAgentStates[] = {
    {tidewatch::v1::AGENT_STATUS_AVAILABLE, "available"},
    {tidewatch::v1::AGENT_STATUS_ON_CALL, "on_call"},
    {tidewatch::v1::AGENT_STATUS_WRAP_UP, "wrap_up"},
    {tidewatch::v1::AGENT_STATUS_AWAY, "away"},
};
constexpr std::pair<tidewatch::v1::AgentOrigin, const char*> kAgentOrigins[] = {
    {tidewatch::v1::AGENT_ORIGIN_CSC, "csc"},
    {tidewatch::v1::AGENT_ORIGIN_BACK_OFFICE, "back_office"},
    {tidewatch::v1::AGENT_ORIGIN_PERIPATETIC, "peripatetic"},
    {tidewatch::v1::AGENT_ORIGIN_CASUAL, "casual"},
};

double Seconds(absl::Time t) { return absl::ToDoubleSeconds(t - absl::UnixEpoch()); }

double ToSeconds(const google::protobuf::Timestamp& t) {
  return static_cast<double>(t.seconds()) + t.nanos() * 1e-9;
}

// "CALL_UP_STATE_PAGED" -> "paged".
std::string CallUpStateLabel(tidewatch::v1::CallUpState state) {
  std::string name = tidewatch::v1::CallUpState_Name(state);
  constexpr std::string_view kPrefix = "CALL_UP_STATE_";
  if (name.rfind(kPrefix, 0) == 0) name = name.substr(kPrefix.size());
  return absl::AsciiStrToLower(name);
}

// Builds the metric families of one scrape, in a fixed order.
class Families {
 public:
  // Declares a family; returns its index for Add().
  size_t Declare(std::string name, std::string help, MetricType type) {
    MetricFamily f;
    f.name = std::move(name);
    f.help = std::move(help);
    f.type = type;
    families_.push_back(std::move(f));
    return families_.size() - 1;
  }

  void Add(size_t family, Labels labels, double value) {
    MetricFamily& f = families_[family];
    ClientMetric m;
    m.label = std::move(labels);
    if (f.type == MetricType::Counter) {
      m.counter.value = value;
    } else {
      m.gauge.value = value;
    }
    f.metric.push_back(std::move(m));
  }

  void AddOptional(size_t family, Labels labels, std::optional<double> value) {
    if (value.has_value()) Add(family, std::move(labels), *value);
  }

  void AddHistogram(size_t family, Labels labels, ClientMetric::Histogram h) {
    ClientMetric m;
    m.label = std::move(labels);
    m.histogram = std::move(h);
    families_[family].metric.push_back(std::move(m));
  }

  std::vector<MetricFamily> Take() {
    // A family with no sample is left out altogether.
    std::vector<MetricFamily> out;
    for (MetricFamily& f : families_) {
      if (!f.metric.empty()) out.push_back(std::move(f));
    }
    return out;
  }

 private:
  std::vector<MetricFamily> families_;
};

std::optional<double> Opt(bool has, double value) {
  return has ? std::optional<double>(value) : std::nullopt;
}

}  // namespace

MetricsExporter::MetricsExporter(PolicySource policy, ExporterOptions options)
    : policy_source_(std::move(policy)), options_(std::move(options)) {}

MetricsExporter::MetricsExporter(std::shared_ptr<const policy::CompiledPolicy> policy,
                                 ExporterOptions options)
    : MetricsExporter(PolicySource([policy = std::move(policy)] { return policy; }),
                      std::move(options)) {}

std::vector<MetricFamily> MetricsExporter::Collect(
    const stream::StreamStatus& status, const std::vector<stream::LineStatus>& lines) const {
  // One policy for the whole scrape, the one in force now.
  const std::shared_ptr<const policy::CompiledPolicy> in_force =
      policy_source_ ? policy_source_() : nullptr;
  Families fam;
  constexpr MetricType kGauge = MetricType::Gauge;
  constexpr MetricType kCounter = MetricType::Counter;

  // --- The service's own health.
  const size_t build_info =
      fam.Declare("tidewatch_build_info", "tidewatchd's version (value always 1).", kGauge);
  const size_t started =
      fam.Declare("tidewatch_started", "1 once the consumer has subscribed to its topics.", kGauge);
  const size_t healthy = fam.Declare(
      "tidewatch_healthy",
      "1 when started and neither Kafka client has a fatal error (as /healthz).", kGauge);
  const size_t ready = fam.Declare(
      "tidewatch_ready",
      "1 when partitions are assigned and every owned partition has caught up (as /readyz).",
      kGauge);
  const size_t partitions_owned = fam.Declare("tidewatch_partitions_owned",
                                              "Events partitions owned by this instance.", kGauge);
  const size_t partitions_recovering =
      fam.Declare("tidewatch_partitions_recovering",
                  "Owned partitions still replaying to rebuild their state.", kGauge);
  const size_t events_consumed = fam.Declare(
      "tidewatch_events_consumed_total",
      "Records read from the events topic, decodable or not (replays after recovery included).",
      kCounter);
  const size_t events_applied = fam.Declare("tidewatch_events_applied_total",
                                            "Decoded events given to the engines.", kCounter);
  const size_t commands_consumed = fam.Declare("tidewatch_commands_consumed_total",
                                               "Records read from the commands topic.", kCounter);
  const size_t rejected = fam.Declare(
      "tidewatch_events_rejected_total",
      "Events set aside, by reason (docs/metrics.md): undecodable records (dead-lettered) and "
      "the engines' set-aside counts. Late events are tidewatch_events_late_total.",
      kCounter);
  const size_t late = fam.Declare(
      "tidewatch_events_late_total",
      "Events stamped more than the allowed lateness behind the engine clock (in totals, not in "
      "windows).",
      kCounter);
  const size_t dead_lettered = fam.Declare("tidewatch_dead_lettered_total",
                                           "Records written to the dead-letter topic.", kCounter);
  const size_t escalations = fam.Declare("tidewatch_escalations_produced_total",
                                         "Escalations (tide changes, call-ups, feed status) "
                                         "raised for the escalations topic (counted as raised; "
                                         "produced with the next batch of them).",
                                         kCounter);
  const size_t state_records = fam.Declare("tidewatch_state_records_produced_total",
                                           "Line state records written for recovery.", kCounter);
  const size_t delivery_errors =
      fam.Declare("tidewatch_delivery_errors_total",
                  "Records whose delivery to Kafka failed (retried).", kCounter);
  const size_t commits =
      fam.Declare("tidewatch_commits_total", "Offset commits after durable outputs.", kCounter);
  const size_t commit_failures = fam.Declare(
      "tidewatch_commit_failures_total",
      "Commit rounds that failed (outputs not durable or the commit refused).", kCounter);
  const size_t recoveries = fam.Declare(
      "tidewatch_recoveries_total", "Partition recoveries started (one per assignment).", kCounter);
  const size_t recovery_seconds = fam.Declare(
      "tidewatch_recovery_seconds",
      "Duration of the latest completed partition recovery (state read and replay).", kGauge);
  const size_t lag =
      fam.Declare("tidewatch_consumer_lag",
                  "Records behind the partition's high watermark, per assigned partition.", kGauge);
  const size_t brokers_down =
      fam.Declare("tidewatch_kafka_brokers_down",
                  "Kafka brokers the client needs but cannot reach, by client.", kGauge);
  const size_t last_error =
      fam.Declare("tidewatch_last_error_timestamp_seconds",
                  "When the processor last recorded an error (Unix time; absent if none).", kGauge);
  const size_t batch_seconds = fam.Declare(
      "tidewatch_engine_batch_seconds",
      "Wall time spent processing each non-empty polled batch (decoding, engines, ticks).",
      MetricType::Histogram);
  const size_t lines_exported = fam.Declare("tidewatch_metrics_lines_exported",
                                            "Lines with per-line metrics in this scrape.", kGauge);
  const size_t lines_dropped =
      fam.Declare("tidewatch_metrics_lines_dropped",
                  "Owned lines left out of this scrape by the --max-metric-lines cap.", kGauge);

  // --- Per line.
  const size_t tide_level = fam.Declare(
      "tidewatch_line_tide_level", "The line's rising-tide level (0 normal, 1.. tiers).", kGauge);
  const size_t calls_waiting = fam.Declare("tidewatch_line_calls_waiting",
                                           "Calls queued and not yet answered or gone.", kGauge);
  const size_t longest_wait = fam.Declare(
      "tidewatch_line_longest_wait_seconds",
      "Age of the oldest waiting call on the engine clock (0 when none waits).", kGauge);
  const size_t agents = fam.Declare("tidewatch_line_agents",
                                    "Agents on the line by latest state and origin.", kGauge);
  const size_t feed_stale = fam.Declare(
      "tidewatch_line_feed_stale",
      "1 when the line's feed has been silent past feed_stale_after during opening hours.", kGauge);
  const size_t recovering = fam.Declare(
      "tidewatch_line_recovering",
      "1 while the line's partition is replayed after an assignment: tide, call-ups and totals "
      "are the saved ones, windows and live figures are being rebuilt.",
      kGauge);
  const size_t line_open = fam.Declare(
      "tidewatch_line_open", "1 when the line is inside its opening hours (engine clock).", kGauge);
  const size_t last_event =
      fam.Declare("tidewatch_line_last_event_timestamp_seconds",
                  "Event time of the newest event seen on the line (Unix time).", kGauge);
  const size_t offered_total =
      fam.Declare("tidewatch_line_offered_total",
                  "Calls queued on the line since it was first tracked.", kCounter);
  const size_t answered_total =
      fam.Declare("tidewatch_line_answered_total",
                  "Calls answered since the line was first tracked.", kCounter);
  const size_t abandoned_total =
      fam.Declare("tidewatch_line_abandoned_total",
                  "Calls abandoned since the line was first tracked.", kCounter);
  const size_t callbacks_total = fam.Declare(
      "tidewatch_line_callbacks_total",
      "Calls that left the queue keeping a call-back since the line was first tracked.", kCounter);
  const size_t cap_staffed = fam.Declare(
      "tidewatch_line_capacity_agents_staffed",
      "Agents logged in and not away (the queue's servers in the capacity model).", kGauge);
  const size_t cap_needed = fam.Declare(
      "tidewatch_line_capacity_agents_needed",
      "Agents the capacity model says the line needs to meet its targets (absent without enough "
      "data).",
      kGauge);
  const size_t cap_gap =
      fam.Declare("tidewatch_line_capacity_gap",
                  "Agents needed minus agents staffed (absent without enough data).", kGauge);
  const size_t cap_wait = fam.Declare(
      "tidewatch_line_capacity_predicted_wait_seconds",
      "Predicted mean wait for a caller arriving now (absent without enough data).", kGauge);

  // --- Per line and window.
  const size_t w_offered =
      fam.Declare("tidewatch_window_offered", "Calls queued in the window.", kGauge);
  const size_t w_answered =
      fam.Declare("tidewatch_window_answered", "Calls answered in the window.", kGauge);
  const size_t w_abandoned =
      fam.Declare("tidewatch_window_abandoned",
                  "Calls abandoned in the window (short abandons included).", kGauge);
  const size_t w_callbacks =
      fam.Declare("tidewatch_window_callbacks",
                  "Calls that left the queue keeping a call-back in the window.", kGauge);
  const size_t w_answer = fam.Declare(
      "tidewatch_window_answer_ratio",
      "answered / (answered + abandoned) in the window; absent when no call ended.", kGauge);
  const size_t w_abandon = fam.Declare(
      "tidewatch_window_abandon_ratio",
      "(abandoned - short) / (answered + abandoned - short) in the window; absent when empty.",
      kGauge);
  const size_t w_sl = fam.Declare(
      "tidewatch_window_service_level_ratio",
      "Answered within answer_within / (answered + abandoned - short) in the window; absent when "
      "empty.",
      kGauge);
  const size_t w_asa = fam.Declare(
      "tidewatch_window_asa_seconds",
      "Average speed of answer: mean wait of calls answered in the window; absent when none.",
      kGauge);
  const size_t w_avg_wait = fam.Declare(
      "tidewatch_window_avg_wait_seconds",
      "Mean wait of calls answered or abandoned in the window; absent when none.", kGauge);
  const size_t w_max_wait = fam.Declare(
      "tidewatch_window_max_wait_seconds",
      "Longest wait of calls answered or abandoned in the window; absent when none.", kGauge);
  const size_t w_wait_q = fam.Declare(
      "tidewatch_window_wait_seconds",
      "Wait quantiles (nearest rank, within 1%) of calls answered or abandoned in the window; "
      "absent when none.",
      kGauge);

  // --- Call-ups.
  const size_t callups_open = fam.Declare(
      "tidewatch_callups_open", "Call-ups not stood down, by line, team and state.", kGauge);
  const size_t callups_headcount =
      fam.Declare("tidewatch_callups_headcount",
                  "People asked for by open call-ups, by line, team and state.", kGauge);
  const size_t callup_unacked_age = fam.Declare(
      "tidewatch_callup_unacknowledged_age_seconds",
      "Age on the engine clock of the oldest paged, unacknowledged call-up, by line and team.",
      kGauge);
  const size_t ack_timeout = fam.Declare(
      "tidewatch_team_ack_timeout_seconds",
      "The team's acknowledgement timeout from the policy (after it, the rota moves on).", kGauge);

  // Service health.
  fam.Add(build_info,
          {{"version", options_.version.empty() ? TIDEWATCH_VERSION : options_.version},
           {"policy", in_force ? in_force->name : ""}},
          1);
  const bool is_healthy =
      status.started && !status.consumer_health.fatal && !status.producer_health.fatal;
  fam.Add(started, {}, status.started ? 1 : 0);
  fam.Add(healthy, {}, is_healthy ? 1 : 0);
  fam.Add(ready, {}, status.ready ? 1 : 0);
  fam.Add(partitions_owned, {}, static_cast<double>(status.partitions.size()));
  fam.Add(partitions_recovering, {}, static_cast<double>(status.recovering.size()));
  fam.Add(events_consumed, {},
          static_cast<double>(
              std::max<int64_t>(0, status.records_consumed - status.commands_consumed)));
  fam.Add(events_applied, {}, static_cast<double>(status.events_applied));
  fam.Add(commands_consumed, {}, static_cast<double>(status.commands_consumed));
  std::map<std::string, int64_t> reasons;
  for (int i = 0; i < events::kNumRejectReasons; ++i) {
    reasons[std::string(events::RejectReasonName(static_cast<events::RejectReason>(i)))] = 0;
  }
  for (const char* r : kEngineReasons) reasons[r] = 0;
  int64_t late_count = 0;
  for (const auto& [reason, n] : status.rejected) {
    if (reason == "late") {
      late_count += n;
    } else {
      reasons[reason] += n;
    }
  }
  for (const auto& [reason, n] : reasons) {
    fam.Add(rejected, {{"reason", reason}}, static_cast<double>(n));
  }
  fam.Add(late, {}, static_cast<double>(late_count));
  fam.Add(dead_lettered, {}, static_cast<double>(status.dead_lettered));
  fam.Add(escalations, {}, static_cast<double>(status.escalations_produced));
  fam.Add(state_records, {}, static_cast<double>(status.state_records_produced));
  fam.Add(delivery_errors, {}, static_cast<double>(status.delivery_errors));
  fam.Add(commits, {}, static_cast<double>(status.commits));
  fam.Add(commit_failures, {}, static_cast<double>(status.commit_failures));
  fam.Add(recoveries, {}, static_cast<double>(status.recoveries));
  if (status.recoveries > 0) {
    fam.Add(recovery_seconds, {}, absl::ToDoubleSeconds(status.last_recovery));
  }
  for (const kafka::PartitionLag& l : status.lag) {
    if (l.lag < 0) continue;  // unknown until the first fetch
    fam.Add(lag, {{"topic", l.topic}, {"partition", absl::StrCat(l.partition)}},
            static_cast<double>(l.lag));
  }
  fam.Add(brokers_down, {{"client", "consumer"}},
          static_cast<double>(status.consumer_health.brokers_down));
  fam.Add(brokers_down, {{"client", "producer"}},
          static_cast<double>(status.producer_health.brokers_down));
  if (status.last_error_time != absl::InfinitePast()) {
    fam.Add(last_error, {}, Seconds(status.last_error_time));
  }
  {
    const stream::BatchLatency& b = status.batch_latency;
    ClientMetric::Histogram h;
    h.sample_count = static_cast<uint64_t>(b.batches);
    h.sample_sum = b.sum_seconds;
    uint64_t cumulative = 0;
    for (size_t i = 0; i < b.counts.size(); ++i) {
      cumulative += static_cast<uint64_t>(b.counts[i]);
      ClientMetric::Bucket bucket;
      bucket.cumulative_count = cumulative;
      bucket.upper_bound = i < stream::BatchLatency::kBounds.size()
                               ? stream::BatchLatency::kBounds[i]
                               : std::numeric_limits<double>::infinity();
      h.bucket.push_back(bucket);
    }
    fam.AddHistogram(batch_seconds, {}, std::move(h));
  }

  // The lines exported: surging and stale lines first, then by id.
  std::vector<const stream::LineStatus*> chosen;
  chosen.reserve(lines.size());
  for (const stream::LineStatus& l : lines) chosen.push_back(&l);
  const size_t cap = static_cast<size_t>(std::max(0, options_.max_lines));
  if (chosen.size() > cap) {
    std::sort(chosen.begin(), chosen.end(),
              [](const stream::LineStatus* a, const stream::LineStatus* b) {
                return std::make_tuple(-a->tide.level, !a->tide.feed_stale, a->line_id) <
                       std::make_tuple(-b->tide.level, !b->tide.feed_stale, b->line_id);
              });
    chosen.resize(cap);
  }
  std::sort(chosen.begin(), chosen.end(),
            [](const stream::LineStatus* a, const stream::LineStatus* b) {
              return a->line_id < b->line_id;
            });
  fam.Add(lines_exported, {}, static_cast<double>(chosen.size()));
  fam.Add(lines_dropped, {}, static_cast<double>(lines.size() - chosen.size()));

  for (const stream::LineStatus* lp : chosen) {
    const stream::LineStatus& l = *lp;
    const Labels line = {{"line", l.line_id}};
    fam.Add(tide_level, line, l.tide.level);
    fam.Add(calls_waiting, line, static_cast<double>(l.calls_waiting));
    fam.Add(longest_wait, line,
            l.longest_waiting ? absl::ToDoubleSeconds(*l.longest_waiting) : 0.0);
    for (const auto& [state, state_name] : kAgentStates) {
      for (const auto& [origin, origin_name] : kAgentOrigins) {
        fam.Add(agents, {{"line", l.line_id}, {"origin", origin_name}, {"state", state_name}},
                static_cast<double>(l.agents.n[state][origin]));
      }
    }
    fam.Add(feed_stale, line, l.tide.feed_stale ? 1 : 0);
    fam.Add(recovering, line, l.recovering ? 1 : 0);
    if (const policy::LinePolicy* lp_policy = in_force ? in_force->FindLine(l.line_id) : nullptr;
        lp_policy != nullptr && l.engine_time != absl::InfinitePast()) {
      fam.Add(line_open, line, lp_policy->hours.IsOpen(l.engine_time) ? 1 : 0);
    }
    if (l.last_event != absl::InfinitePast()) fam.Add(last_event, line, Seconds(l.last_event));
    const std::array<int64_t, 4> totals = MonotonicTotals(l.line_id, l.totals);
    fam.Add(offered_total, line, static_cast<double>(totals[0]));
    fam.Add(answered_total, line, static_cast<double>(totals[1]));
    fam.Add(abandoned_total, line, static_cast<double>(totals[2]));
    fam.Add(callbacks_total, line, static_cast<double>(totals[3]));
    fam.Add(cap_staffed, line, static_cast<double>(l.capacity.staffed_agents));
    if (l.capacity.agents_needed) fam.Add(cap_needed, line, *l.capacity.agents_needed);
    if (l.capacity.gap) fam.Add(cap_gap, line, *l.capacity.gap);
    fam.AddOptional(cap_wait, line, l.capacity.predicted_wait_seconds);

    for (const auto& [len, k] : l.windows) {
      const Labels lw = {{"line", l.line_id}, {"window", policy::WindowLabel(len)}};
      fam.Add(w_offered, lw, static_cast<double>(k.offered()));
      fam.Add(w_answered, lw, static_cast<double>(k.answered()));
      fam.Add(w_abandoned, lw, static_cast<double>(k.abandoned()));
      fam.Add(w_callbacks, lw, static_cast<double>(k.callbacks()));
      fam.AddOptional(w_answer, lw, Opt(k.has_answer_rate(), k.answer_rate()));
      fam.AddOptional(w_abandon, lw, Opt(k.has_abandon_rate(), k.abandon_rate()));
      fam.AddOptional(w_sl, lw, Opt(k.has_service_level(), k.service_level()));
      fam.AddOptional(w_asa, lw, Opt(k.has_asa_seconds(), k.asa_seconds()));
      fam.AddOptional(w_avg_wait, lw, Opt(k.has_avg_wait_seconds(), k.avg_wait_seconds()));
      fam.AddOptional(w_max_wait, lw, Opt(k.has_max_wait_seconds(), k.max_wait_seconds()));
      const std::pair<const char*, std::optional<double>> quantiles[] = {
          {"0.5", Opt(k.has_p50_wait_seconds(), k.p50_wait_seconds())},
          {"0.9", Opt(k.has_p90_wait_seconds(), k.p90_wait_seconds())},
          {"0.95", Opt(k.has_p95_wait_seconds(), k.p95_wait_seconds())},
      };
      for (const auto& [q, v] : quantiles) {
        Labels lq = lw;
        lq.push_back({"quantile", q});
        fam.AddOptional(w_wait_q, std::move(lq), v);
      }
    }

    // Call-ups by (team, state); the oldest unacknowledged per team.
    std::map<std::pair<std::string, std::string>, std::pair<int64_t, int64_t>> by_team_state;
    std::map<std::string, double> oldest_paged;  // team -> created (Unix seconds)
    for (const tidewatch::v1::CallUp& c : l.open_callups) {
      auto& [n, heads] = by_team_state[{c.team_id(), CallUpStateLabel(c.state())}];
      ++n;
      heads += c.headcount();
      if (c.state() == tidewatch::v1::CALL_UP_STATE_PAGED) {
        const double created = ToSeconds(c.created());
        auto [it, inserted] = oldest_paged.emplace(c.team_id(), created);
        if (!inserted) it->second = std::min(it->second, created);
      }
    }
    for (const auto& [key, value] : by_team_state) {
      const Labels lts = {{"line", l.line_id}, {"state", key.second}, {"team", key.first}};
      fam.Add(callups_open, lts, static_cast<double>(value.first));
      fam.Add(callups_headcount, lts, static_cast<double>(value.second));
    }
    if (l.engine_time != absl::InfinitePast()) {
      for (const auto& [team, created] : oldest_paged) {
        fam.Add(callup_unacked_age, {{"line", l.line_id}, {"team", team}},
                std::max(0.0, Seconds(l.engine_time) - created));
      }
    }
  }
  if (in_force) {
    for (const auto& [id, team] : in_force->teams) {
      fam.Add(ack_timeout, {{"team", id}}, absl::ToDoubleSeconds(team.ack_timeout));
    }
  }
  return fam.Take();
}

std::array<int64_t, 4> MetricsExporter::MonotonicTotals(const std::string& line,
                                                        const tidewatch::v1::Kpis& totals) const {
  const std::array<int64_t, 4> now = {totals.offered(), totals.answered(), totals.abandoned(),
                                      totals.callbacks()};
  absl::MutexLock lock(&mu_);
  std::array<int64_t, 4>& highest = highest_totals_[line];
  if (now[0] < highest[0] / 2) {
    // Far below: not a rewind (that goes back to the last committed totals,
    // a commit interval or a recovery behind) but a line started afresh (re-
    // added by a policy version, recovered without saved state): a real
    // reset, which Prometheus handles.
    highest = now;
  }
  for (size_t i = 0; i < now.size(); ++i) highest[i] = std::max(highest[i], now[i]);
  return highest;
}

std::string MetricsExporter::Render(const stream::StreamStatus& status,
                                    const std::vector<stream::LineStatus>& lines) const {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, Collect(status, lines));
  return out.str();
}

}  // namespace tidewatch::telemetry
