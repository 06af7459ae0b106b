#include "sim/summary.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "common/json_writer.h"

namespace tidewatch::sim {
namespace {

std::optional<double> Ratio(double num, int64_t den) {
  if (den <= 0) return std::nullopt;
  return num / static_cast<double>(den);
}

std::string Num(const std::optional<double>& v) {
  if (!v.has_value()) return "null";
  return absl::StrFormat("%.3f", *v);
}

std::string JsonString(absl::string_view s) {
  std::string out;
  AppendJsonString(std::string_view(s.data(), s.size()), out);
  return out;
}

std::string TimeString(absl::Time t) {
  if (t == absl::InfinitePast()) return "null";
  return absl::StrCat("\"", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone()), "\"");
}

void AppendLine(const LineSummary& l, std::string& out, absl::string_view indent) {
  absl::StrAppend(&out, indent, "{\"line_id\": ", JsonString(l.line_id));
  auto field = [&](absl::string_view name, const std::string& value) {
    absl::StrAppend(&out, ", \"", name, "\": ", value);
  };
  auto count = [&](absl::string_view name, int64_t v) { field(name, absl::StrCat(v)); };
  count("offered", l.offered);
  count("answered", l.answered);
  count("abandoned", l.abandoned);
  count("short_abandoned", l.short_abandoned);
  count("callbacks_requested", l.callbacks_requested);
  count("left_queue", l.left_queue);
  count("repeat_calls", l.repeat_calls);
  count("completed", l.completed);
  count("resolved_first_time", l.resolved_first_time);
  count("callbacks_served", l.callbacks_served);
  count("callbacks_unserved", l.callbacks_unserved);
  count("repeats_beyond_horizon", l.repeats_beyond_horizon);
  count("repeats_given_up", l.repeats_given_up);
  field("mean_wait_s", Num(l.MeanWaitSeconds()));
  field("asa_s", Num(l.AsaSeconds()));
  field("mean_wait_all_offered_s", Num(l.MeanWaitAllOfferedSeconds()));
  field("max_wait_s", Num(l.max_wait_ms / 1000.0));
  field("abandoned_fraction", Num(l.AbandonedFraction()));
  field("abandon_rate", Num(l.AbandonRate()));
  field("answer_rate", Num(l.AnswerRate()));
  field("mean_handle_s", Num(l.MeanHandleSeconds()));
  count("wait_answered_ms", l.wait_answered_ms);
  count("wait_abandoned_ms", l.wait_abandoned_ms);
  count("wait_other_ms", l.wait_other_ms);
  field("agents", absl::StrCat("{\"csc\": ", l.agents_by_origin[1], ", \"back_office\": ",
                               l.agents_by_origin[2], ", \"peripatetic\": ", l.agents_by_origin[3],
                               ", \"casual\": ", l.agents_by_origin[4], "}"));
  out += "}";
}

}  // namespace

std::optional<double> LineSummary::MeanWaitSeconds() const {
  return Ratio((wait_answered_ms + wait_abandoned_ms) / 1000.0, answered + abandoned);
}
std::optional<double> LineSummary::AsaSeconds() const {
  return Ratio(wait_answered_ms / 1000.0, answered);
}
std::optional<double> LineSummary::MeanWaitAllOfferedSeconds() const {
  return Ratio((wait_answered_ms + wait_abandoned_ms + wait_other_ms) / 1000.0, offered);
}
std::optional<double> LineSummary::AbandonedFraction() const {
  return Ratio(static_cast<double>(abandoned), offered);
}
std::optional<double> LineSummary::AbandonRate() const {
  return Ratio(static_cast<double>(abandoned - short_abandoned),
               answered + abandoned - short_abandoned);
}
std::optional<double> LineSummary::AnswerRate() const {
  return Ratio(static_cast<double>(answered), answered + abandoned);
}
std::optional<double> LineSummary::MeanHandleSeconds() const {
  return Ratio((talk_ms + wrap_ms) / 1000.0, completed);
}

void LineSummary::Add(const LineSummary& o) {
  offered += o.offered;
  repeat_calls += o.repeat_calls;
  answered += o.answered;
  abandoned += o.abandoned;
  short_abandoned += o.short_abandoned;
  callbacks_requested += o.callbacks_requested;
  left_queue += o.left_queue;
  completed += o.completed;
  resolved_first_time += o.resolved_first_time;
  callbacks_served += o.callbacks_served;
  callbacks_unserved += o.callbacks_unserved;
  repeats_beyond_horizon += o.repeats_beyond_horizon;
  repeats_given_up += o.repeats_given_up;
  wait_answered_ms += o.wait_answered_ms;
  wait_abandoned_ms += o.wait_abandoned_ms;
  wait_other_ms += o.wait_other_ms;
  max_wait_ms = std::max(max_wait_ms, o.max_wait_ms);
  talk_ms += o.talk_ms;
  wrap_ms += o.wrap_ms;
  for (size_t i = 0; i < agents_by_origin.size(); ++i) agents_by_origin[i] += o.agents_by_origin[i];
}

std::string SummaryToJson(const Summary& s) {
  std::string out = "{\n";
  absl::StrAppend(&out, "  \"scenario\": ", JsonString(s.scenario), ",\n");
  absl::StrAppend(&out, "  \"seed\": ", s.seed, ",\n");
  absl::StrAppend(&out, "  \"events\": ", s.events, ",\n");
  absl::StrAppend(&out, "  \"first_event_time\": ", TimeString(s.first_event_time), ",\n");
  absl::StrAppend(&out, "  \"last_event_time\": ", TimeString(s.last_event_time), ",\n");
  out += "  \"lines\": [\n";
  for (size_t i = 0; i < s.lines.size(); ++i) {
    AppendLine(s.lines[i], out, "    ");
    out += i + 1 < s.lines.size() ? ",\n" : "\n";
  }
  out += "  ],\n  \"total\": ";
  AppendLine(s.total, out, "");
  out += "\n}\n";
  return out;
}

std::string SummaryTable(const Summary& s) {
  auto opt = [](const std::optional<double>& v, const char* fmt) {
    return v.has_value() ? absl::StrFormat(fmt, *v) : std::string("-");
  };
  std::string out =
      absl::StrFormat("%-20s %8s %8s %8s %6s %6s %9s %9s %7s %7s\n", "line", "offered", "answered",
                      "abandon", "cb", "left", "mean_wait", "max_wait", "aband%", "agents");
  auto row = [&](const LineSummary& l) {
    int64_t agents = 0;
    for (int64_t a : l.agents_by_origin) agents += a;
    absl::StrAppend(
        &out, absl::StrFormat("%-20s %8d %8d %8d %6d %6d %9s %9s %7s %7d\n", l.line_id, l.offered,
                              l.answered, l.abandoned, l.callbacks_requested, l.left_queue,
                              opt(l.MeanWaitSeconds(), "%.1fs"),
                              absl::StrFormat("%.0fs", l.max_wait_ms / 1000.0),
                              opt(l.AbandonedFraction().has_value()
                                      ? std::optional<double>(*l.AbandonedFraction() * 100)
                                      : std::nullopt,
                                  "%.1f"),
                              agents));
  };
  for (const LineSummary& l : s.lines) row(l);
  row(s.total);
  absl::StrAppend(
      &out, absl::StrFormat("%d events; mean_wait over answered + abandoned calls\n", s.events));
  return out;
}

}  // namespace tidewatch::sim
