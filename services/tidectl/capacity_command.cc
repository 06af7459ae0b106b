// tidectl capacity: Erlang C / Erlang A what-if questions for one line.
//
//   tidectl capacity --arrivals-per-hour 120 --aht 240s --agents 9
//       [--patience 120s] [--target 180s] [--sl 0.8] [--max-abandon 0.1]
//       [--format table|json]
//
// Without --patience the model is Erlang C (callers never hang up); with it,
// Erlang A (exponential patience with that mean). JSON output is one line:
//   {"p_wait":0.471912,"mean_wait_seconds":19.529,"p_abandon":0.162738,
//    "service_level":0.835378,"agents_needed":10}
// p_abandon only with --patience; mean_wait_seconds is the mean wait of all
// offered calls (abandoned ones included) and null when the queue is
// unstable (Erlang C with load >= agents); agents_needed is the smallest
// staffing meeting --sl within --target (and --max-abandon for Erlang A),
// null when no staffing up to capacity::kMaxAgents does.
#include <cmath>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "args.h"
#include "capacity/erlang.h"
#include "commands.h"

namespace tidewatch::tidectl {
namespace {

constexpr char kSummary[] =
    "Erlang C / Erlang A what-if for one line: chance of waiting, mean wait,\n"
    "abandonment, service level, and the agents needed to meet the targets.\n"
    "Without --patience callers never hang up (Erlang C); with it they do\n"
    "(Erlang A). Durations: 240s, 4m, 1m30s, or plain seconds.\n";

// Exit codes (commands.h).
constexpr int kOk = 0;
constexpr int kFailure = 1;
constexpr int kUsage = 2;

// The inputs after parsing and range checks.
struct Request {
  capacity::QueueParams params;
  double answer_within_seconds = 180;
  capacity::StaffingTarget target;
  bool json = false;
};

// A duration flag as seconds: "240s", "4m", "1m30s" or plain "240".
absl::StatusOr<std::optional<double>> GetSeconds(const CommandArgs& args, const std::string& name) {
  std::optional<std::string> raw = args.Get(name);
  if (!raw) return std::nullopt;
  absl::Duration d;
  double seconds;
  if (absl::ParseDuration(*raw, &d)) {
    seconds = absl::ToDoubleSeconds(d);
  } else if (!absl::SimpleAtod(*raw, &seconds)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, ": '", *raw,
                     "' is not a duration (e.g. 240s, 4m, 1m30s) or a number of seconds"));
  }
  if (!std::isfinite(seconds) || seconds < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, ": '", *raw, "' must be a finite duration >= 0"));
  }
  return seconds;
}

absl::StatusOr<double> GetFraction(const CommandArgs& args, const std::string& name,
                                   double fallback, bool allow_one) {
  if (!args.Has(name)) return fallback;
  absl::StatusOr<double> v = args.GetDouble(name);
  if (!v.ok()) return v.status();
  if (!(*v > 0 && (*v < 1 || (allow_one && *v == 1)))) {
    return absl::InvalidArgumentError(absl::StrCat("--", name, ": ", *args.Get(name),
                                                   " must be a fraction in (0, ",
                                                   allow_one ? "1]" : "1)", ", e.g. 0.8"));
  }
  return *v;
}

absl::StatusOr<Request> ParseRequest(const CommandArgs& args) {
  if (!args.positional().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unexpected argument '", args.positional().front(), "'"));
  }
  Request r;
  for (const char* required : {"arrivals-per-hour", "aht", "agents"}) {
    if (!args.Has(required)) {
      return absl::InvalidArgumentError(absl::StrCat("--", required, " is required"));
    }
  }
  absl::StatusOr<double> per_hour = args.GetDouble("arrivals-per-hour");
  if (!per_hour.ok()) return per_hour.status();
  if (!std::isfinite(*per_hour) || *per_hour < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--arrivals-per-hour: ", *args.Get("arrivals-per-hour"), " must be a number >= 0"));
  }
  r.params.arrivals_per_second = *per_hour / 3600;

  absl::StatusOr<std::optional<double>> aht = GetSeconds(args, "aht");
  if (!aht.ok()) return aht.status();
  if (!(**aht > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--aht: ", *args.Get("aht"), " must be longer than 0s"));
  }
  r.params.mean_handle_seconds = **aht;

  absl::StatusOr<int64_t> agents = args.GetInt("agents");
  if (!agents.ok()) return agents.status();
  if (*agents < 0 || *agents > capacity::kMaxAgents) {
    return absl::InvalidArgumentError(
        absl::StrCat("--agents: ", *agents, " must be between 0 and ", capacity::kMaxAgents));
  }
  r.params.agents = static_cast<int>(*agents);

  absl::StatusOr<std::optional<double>> patience = GetSeconds(args, "patience");
  if (!patience.ok()) return patience.status();
  if (*patience) {
    if (!(**patience > 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--patience: ", *args.Get("patience"), " must be longer than 0s"));
    }
    r.params.mean_patience_seconds = **patience;
  }

  absl::StatusOr<std::optional<double>> target = GetSeconds(args, "target");
  if (!target.ok()) return target.status();
  r.answer_within_seconds = target->value_or(180);
  r.target.answer_within_seconds = r.answer_within_seconds;

  absl::StatusOr<double> sl = GetFraction(args, "sl", 0.8, /*allow_one=*/false);
  if (!sl.ok()) return sl.status();
  r.target.service_level = *sl;
  absl::StatusOr<double> max_abandon = GetFraction(args, "max-abandon", 0.1, /*allow_one=*/true);
  if (!max_abandon.ok()) return max_abandon.status();
  r.target.max_abandon = *max_abandon;

  const std::string format = args.GetOr("format", "table");
  if (format != "table" && format != "json") {
    return absl::InvalidArgumentError(
        absl::StrCat("--format: '", format, "' is not one of table, json"));
  }
  r.json = format == "json";
  return r;
}

std::string Duration(double seconds) { return absl::FormatDuration(absl::Seconds(seconds)); }

std::string Percent(double fraction) { return absl::StrFormat("%.1f%%", 100 * fraction); }

std::string Json(const Request& r, const capacity::QueueMetrics& m, std::optional<int> needed) {
  std::string out = absl::StrFormat("{\"p_wait\":%.6f,\"mean_wait_seconds\":", m.p_wait);
  if (std::isfinite(m.mean_wait_seconds)) {
    absl::StrAppendFormat(&out, "%.3f", m.mean_wait_seconds);
  } else {
    out += "null";
  }
  if (r.params.mean_patience_seconds)
    absl::StrAppendFormat(&out, ",\"p_abandon\":%.6f", m.p_abandon);
  absl::StrAppendFormat(&out, ",\"service_level\":%.6f,\"agents_needed\":", m.service_level);
  out += needed ? absl::StrCat(*needed) : "null";
  out += "}\n";
  return out;
}

std::string Table(const Request& r, const capacity::QueueMetrics& m, std::optional<int> needed) {
  const bool erlang_a = r.params.mean_patience_seconds.has_value();
  std::string out;
  auto row = [&out](const char* name, const std::string& value) {
    absl::StrAppendFormat(&out, "%-18s %s\n", name, value);
  };
  row("model", erlang_a ? absl::StrCat("Erlang A (M/M/n+M), mean patience ",
                                       Duration(*r.params.mean_patience_seconds))
                        : "Erlang C (M/M/n, callers never hang up)");
  row("arrivals", absl::StrFormat("%.6g per hour", r.params.arrivals_per_second * 3600));
  row("mean handle time", Duration(r.params.mean_handle_seconds));
  row("offered load", absl::StrFormat("%.2f erlangs", m.offered_load_erlangs));
  row("agents", absl::StrCat(r.params.agents));
  row("occupancy", Percent(m.occupancy));
  row("P(wait)", Percent(m.p_wait));
  row("mean wait (all)", m.stable ? absl::StrFormat("%.1fs", m.mean_wait_seconds)
                                  : "unbounded (load >= agents: the queue grows without limit)");
  if (erlang_a) row("P(abandon)", Percent(m.p_abandon));
  row("service level", absl::StrCat(Percent(m.service_level), " answered within ",
                                    Duration(r.answer_within_seconds)));
  std::string target = absl::StrCat("service level >= ", Percent(r.target.service_level),
                                    " within ", Duration(r.answer_within_seconds));
  if (erlang_a) absl::StrAppend(&target, ", abandonment <= ", Percent(r.target.max_abandon));
  row("agents needed", needed
                           ? absl::StrCat(*needed, " (", target, ")")
                           : absl::StrCat("more than ", capacity::kMaxAgents, " (", target, ")"));
  return out;
}

}  // namespace

int RunCapacity(const std::vector<std::string>& argv) {
  CommandArgs args("capacity");
  args.AddFlag("arrivals-per-hour", "calls offered per hour (required)");
  args.AddFlag("aht", "mean handle time, talk + wrap, e.g. 240s (required)");
  args.AddFlag("agents", "agents answering the line (required)");
  args.AddFlag("patience", "mean caller patience, e.g. 120s: Erlang A (default: none, Erlang C)");
  args.AddFlag("target", "service-level answer time (default 180s)");
  args.AddFlag("sl", "service-level target fraction for agents needed (default 0.8)");
  args.AddFlag("max-abandon", "abandonment target fraction for agents needed (default 0.1)");
  args.AddFlag("format", "table or json (default table)");
  if (std::optional<int> exit = args.ParseOrExit(argv, kSummary)) return *exit;
  absl::StatusOr<Request> request = ParseRequest(args);
  if (!request.ok()) {
    std::fprintf(stderr, "tidectl capacity: %s\n%s",
                 std::string(request.status().message()).c_str(), args.Usage().c_str());
    return kUsage;
  }
  absl::StatusOr<capacity::QueueMetrics> metrics =
      capacity::Evaluate(request->params, request->answer_within_seconds);
  if (!metrics.ok()) {
    std::fprintf(stderr, "tidectl capacity: %s\n", std::string(metrics.status().message()).c_str());
    return metrics.status().code() == absl::StatusCode::kInvalidArgument ? kUsage : kFailure;
  }
  absl::StatusOr<int> needed =
      capacity::AgentsNeeded(request->params, request->target, capacity::kMaxAgents);
  std::optional<int> agents_needed;
  if (needed.ok()) {
    agents_needed = *needed;
  } else if (needed.status().code() != absl::StatusCode::kOutOfRange) {
    std::fprintf(stderr, "tidectl capacity: %s\n", std::string(needed.status().message()).c_str());
    return needed.status().code() == absl::StatusCode::kInvalidArgument ? kUsage : kFailure;
  }
  const std::string out = request->json ? Json(*request, *metrics, agents_needed)
                                        : Table(*request, *metrics, agents_needed);
  std::fputs(out.c_str(), stdout);
  return kOk;
}

}  // namespace tidewatch::tidectl
