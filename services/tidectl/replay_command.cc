// tidectl replay: replays a JSON-lines event file through the engine and
// reports per-line totals, snapshots, escalations and set-aside records.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "args.h"
#include "commands.h"
#include "common/json_writer.h"
#include "common/proto_time.h"
#include "engine/engine.h"
#include "event_input.h"
#include "events/events.h"
#include "events/json_lines.h"
#include "line/kpis.h"
#include "policy/policy.h"

namespace tidewatch::tidectl {
namespace {

using tidewatch::v1::CallUp;
using tidewatch::v1::KpiSnapshot;
using tidewatch::v1::TideChange;

// Collects what one engine emits.
class ReplayOutput : public engine::EngineOutput {
 public:
  void OnTideChange(const TideChange& c) override { changes.push_back(c); }
  void OnCallUp(const CallUp& c) override { callups.push_back(c); }
  void OnSnapshot(const KpiSnapshot& s) override { snapshots.push_back(s); }

  std::vector<TideChange> changes;
  // Every update of every call-up (paged, re-paged to the next rota
  // contact, expired, stood down), in order: one call-up id may appear
  // several times.
  std::vector<CallUp> callups;
  std::vector<KpiSnapshot> snapshots;
};

// One policy's run over the events.
struct Run {
  std::string label;  // policy source name
  std::shared_ptr<const policy::CompiledPolicy> policy;
  ReplayOutput output;
  std::unique_ptr<engine::Engine> engine;
  // Events this policy set aside as unknown_line, by line id: with
  // --compare-policy, the lines only the other policy knows.
  std::map<std::string, int64_t> unknown_line_events;
};

// The call-up state as replay prints it ("expired").
std::string CallUpStateName(tidewatch::v1::CallUpState state) {
  switch (state) {
    case tidewatch::v1::CALL_UP_STATE_PAGED:
      return "paged";
    case tidewatch::v1::CALL_UP_STATE_ACKNOWLEDGED:
      return "acknowledged";
    case tidewatch::v1::CALL_UP_STATE_DECLINED:
      return "declined";
    case tidewatch::v1::CALL_UP_STATE_EXPIRED:
      return "expired";
    case tidewatch::v1::CALL_UP_STATE_STOOD_DOWN:
      return "stood_down";
    default:
      return "unspecified";
  }
}

// "paged First": the state, and for a page whom it went to.
std::string StateAndContact(const CallUp& c) {
  std::string s = CallUpStateName(c.state());
  if (c.state() == tidewatch::v1::CALL_UP_STATE_PAGED && !c.paged_contact().empty()) {
    absl::StrAppend(&s, " ", c.paged_contact());
  }
  return s;
}

// How many call-ups a run raised: distinct ids, not updates.
size_t CountCallUps(const Run& run) {
  std::set<std::string> ids;
  for (const CallUp& c : run.output.callups) ids.insert(c.id());
  return ids.size();
}

std::string Rfc3339(const google::protobuf::Timestamp& ts) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", FromProto(ts), absl::UTCTimeZone());
}

// Lines that saw anything, in id order.
std::vector<std::string> ActiveLines(const engine::Engine& e) {
  std::vector<std::string> out;
  for (const std::string& id : e.LineIds()) {
    const line::LineState* l = e.FindLine(id);
    const window::Counters& c = l->totals().counters;
    if (c.offered + c.answered + c.abandoned + c.callbacks + c.left_queue + c.completed > 0 ||
        l->last_event_time() != absl::InfinitePast()) {
      out.push_back(id);
    }
  }
  return out;
}

void WriteEscalations(JsonWriter& w, const Run& run) {
  w.BeginArray();
  for (const TideChange& c : run.output.changes) {
    w.BeginObject();
    w.Key("time").String(Rfc3339(c.time()));
    w.Key("line").String(c.line_id());
    w.Key("from_tier").Int(c.from_level());
    w.Key("to_tier").Int(c.to_level());
    w.Key("to_tier_name").String(c.to_tier());
    w.Key("reason").String(c.reason());
    w.EndObject();
  }
  w.EndArray();
}

void WriteCallUps(JsonWriter& w, const Run& run) {
  w.BeginArray();
  for (const CallUp& c : run.output.callups) {
    w.BeginObject();
    w.Key("time").String(Rfc3339(c.updated()));
    w.Key("id").String(c.id());
    w.Key("line").String(c.line_id());
    w.Key("tier").Int(c.level());
    w.Key("team").String(c.team_id());
    w.Key("headcount").Int(c.headcount());
    w.Key("state").String(CallUpStateName(c.state()));
    w.Key("paged_contact").String(c.paged_contact());
    w.Key("reason").String(c.reason());
    w.EndObject();
  }
  w.EndArray();
}

// A run's set-aside counts: the records the decoder refused (the same for
// every run) and the events its engine set aside.
std::map<std::string, int64_t> SetAsideOf(const Run& run, const events::RejectCounter& decode) {
  std::map<std::string, int64_t> all = decode.ByName();
  for (const auto& [k, v] : run.engine->SetAsideCounts()) all[k] += v;
  return all;
}

void WriteRejected(JsonWriter& w, const std::map<std::string, int64_t>& counts) {
  w.BeginObject();
  for (const auto& [k, v] : counts) w.Key(k).Int(v);
  w.EndObject();
}

std::string JsonReport(const Run& run, const events::RejectCounter& decode) {
  JsonWriter w;
  w.BeginObject();
  w.Key("lines").BeginObject();
  for (const std::string& id : ActiveLines(*run.engine)) {
    const line::LineState* l = run.engine->FindLine(id);
    w.Key(id);
    line::WriteKpisJson(w, line::MakeKpis(l->totals(), l->totals_max_wait_ns()));
  }
  w.EndObject();
  w.Key("snapshots").BeginArray();
  for (const KpiSnapshot& s : run.output.snapshots) {
    w.BeginObject();
    w.Key("time").String(Rfc3339(s.time()));
    w.Key("line").String(s.line_id());
    w.Key("window").String(policy::WindowLabel(FromProto(s.window())));
    w.Key("kpis");
    line::WriteKpisJson(w, s.kpis());
    w.EndObject();
  }
  w.EndArray();
  w.Key("escalations");
  WriteEscalations(w, run);
  w.Key("callups");
  WriteCallUps(w, run);
  w.Key("rejected");
  WriteRejected(w, SetAsideOf(run, decode));
  w.EndObject();
  return w.Take();
}

std::string LocalTime(const policy::CompiledPolicy& p, const std::string& line,
                      const google::protobuf::Timestamp& ts,
                      const char* format = "%a %d %b %H:%M") {
  absl::TimeZone zone = absl::UTCTimeZone();
  if (const policy::LinePolicy* lp = p.FindLine(line)) zone = lp->hours.zone;
  return absl::FormatTime(format, FromProto(ts), zone);
}

std::string TableReport(const Run& run, const events::RejectCounter& decode) {
  std::string out;
  absl::StrAppend(&out, "Per-line totals (", run.label, ")\n");
  std::vector<std::pair<std::string, tidewatch::v1::Kpis>> rows;
  for (const std::string& id : ActiveLines(*run.engine)) {
    const line::LineState* l = run.engine->FindLine(id);
    rows.emplace_back(id, line::MakeKpis(l->totals(), l->totals_max_wait_ns()));
  }
  absl::StrAppend(&out, line::LineTotalsTable(rows));
  absl::StrAppend(&out, "\nEscalation timeline\n");
  if (run.output.changes.empty()) absl::StrAppend(&out, "  (no escalations)\n");
  // Each call-up's updates in order, the first being the one that created it.
  std::map<std::string, std::vector<const CallUp*>> updates;
  for (const CallUp& cu : run.output.callups) updates[cu.id()].push_back(&cu);
  for (const TideChange& c : run.output.changes) {
    const bool up = c.to_level() > c.from_level();
    absl::StrAppend(&out,
                    absl::StrFormat("  %s  %-18s %s tier %d -> %d  %s\n    %s\n",
                                    LocalTime(*run.policy, c.line_id(), c.time()), c.line_id(),
                                    up ? "RISING " : "falling", c.from_level(), c.to_level(),
                                    up ? c.to_tier() : c.from_tier(), c.reason()));
    if (up) {
      // The call-ups this change raised, once each (a re-page keeps its
      // call-up's created time), then what became of them.
      for (const CallUp& cu : run.output.callups) {
        const std::vector<const CallUp*>& history = updates[cu.id()];
        if (history.front() != &cu || cu.line_id() != c.line_id() ||
            FromProto(cu.created()) != FromProto(c.time())) {
          continue;
        }
        absl::StrAppend(
            &out, absl::StrFormat("    call-up: %d from %s for %s, %s  [%s]\n", cu.headcount(),
                                  cu.team_id(),
                                  absl::FormatDuration(absl::Seconds(cu.duration().seconds())),
                                  StateAndContact(cu), cu.id()));
        std::vector<std::string> later;
        for (size_t i = 1; i < history.size(); ++i) {
          const CallUp& u = *history[i];
          later.push_back(absl::StrCat(LocalTime(*run.policy, u.line_id(), u.updated(), "%H:%M"),
                                       " ", StateAndContact(u)));
        }
        if (!later.empty()) absl::StrAppend(&out, "      then ", absl::StrJoin(later, "; "), "\n");
      }
    }
  }
  absl::StrAppend(&out, "\nSet aside\n", SetAsideSection(SetAsideOf(run, decode)));
  return out;
}

// Lines one policy of a comparison knows and the other does not (often a
// misspelt line id): the other sets their events aside as unknown_line, and
// would otherwise just look calmer.
std::vector<std::string> LineWarnings(const Run& a, const Run& b) {
  std::vector<std::string> out;
  auto only_in = [&](const Run& has, const std::string& has_name, const Run& lacks,
                     const std::string& lacks_name) {
    for (const auto& [id, lp] : has.policy->lines) {
      if (lacks.policy->FindLine(id) != nullptr) continue;
      std::string w =
          absl::StrCat("line ", id, " is in ", has_name, "'s policy but not ", lacks_name, "'s");
      auto n = lacks.unknown_line_events.find(id);
      if (n != lacks.unknown_line_events.end()) {
        absl::StrAppend(&w, ": ", lacks_name, " set aside its ", n->second,
                        " events as unknown_line");
      } else {
        absl::StrAppend(&w, " (no events for it in this replay)");
      }
      out.push_back(std::move(w));
    }
  };
  only_in(a, "A", b, "B");
  only_in(b, "B", a, "A");
  return out;
}

// Escalations of two policies side by side, in time order; then each one's
// set-aside counts and the lines only one of them knows.
std::string CompareTable(const Run& a, const Run& b, const events::RejectCounter& decode) {
  std::string out = absl::StrFormat("Escalations: A = %s, B = %s\n", a.label, b.label);
  absl::StrAppend(&out, absl::StrFormat("  %-16s %-18s %-12s %-12s\n", "time", "line", "A", "B"));
  std::vector<std::pair<const TideChange*, int>> all;
  for (const auto& c : a.output.changes) all.push_back({&c, 0});
  for (const auto& c : b.output.changes) all.push_back({&c, 1});
  std::stable_sort(all.begin(), all.end(), [](const auto& x, const auto& y) {
    absl::Time tx = FromProto(x.first->time()), ty = FromProto(y.first->time());
    if (tx != ty) return tx < ty;
    if (x.first->line_id() != y.first->line_id()) return x.first->line_id() < y.first->line_id();
    return x.second < y.second;
  });
  for (const auto& [c, side] : all) {
    std::string move = absl::StrCat(c->from_level(), " -> ", c->to_level());
    absl::StrAppend(&out,
                    absl::StrFormat("  %-16s %-18s %-12s %-12s\n",
                                    LocalTime(*a.policy, c->line_id(), c->time()), c->line_id(),
                                    side == 0 ? move : "", side == 1 ? move : ""));
  }
  absl::StrAppend(&out,
                  absl::StrFormat("  total: A %d changes, %d call-ups; B %d changes, %d call-ups\n",
                                  a.output.changes.size(), CountCallUps(a), b.output.changes.size(),
                                  CountCallUps(b)));
  absl::StrAppend(&out, "\nSet aside: A = ", a.label, "\n", SetAsideSection(SetAsideOf(a, decode)));
  absl::StrAppend(&out, "\nSet aside: B = ", b.label, "\n", SetAsideSection(SetAsideOf(b, decode)));
  const std::vector<std::string> warnings = LineWarnings(a, b);
  if (!warnings.empty()) absl::StrAppend(&out, "\n");
  for (const std::string& w : warnings) absl::StrAppend(&out, "warning: ", w, "\n");
  return out;
}

absl::StatusOr<std::shared_ptr<const policy::CompiledPolicy>> LoadPolicy(
    const std::optional<std::string>& path) {
  absl::StatusOr<policy::CompiledPolicy> p =
      path ? policy::LoadPolicyFile(*path)
           : policy::LoadPolicyYaml(policy::DefaultPolicyYaml(), "embedded default policy");
  if (!p.ok()) return p.status();
  return std::make_shared<const policy::CompiledPolicy>(*std::move(p));
}

}  // namespace

int RunReplay(const std::vector<std::string>& argv) {
  CommandArgs args("replay");
  args.AddFlag("events", "JSON-lines CallEvent file ('-' for stdin)");
  args.AddFlag("policy", "tide policy YAML (default: the embedded default policy)");
  args.AddFlag("compare-policy", "a second policy: print both policies' escalations side by side");
  args.AddFlag("snapshot-every",
               "take KPI snapshots at every multiple of this, e.g. 1h (default: none)");
  args.AddFlag("windows", "snapshot windows, e.g. 15m,60m (default: the policy's windows)");
  args.AddFlag("format", "table (default) or json");
  args.AddBool("quiet", "no progress or error lines on stderr");
  if (std::optional<int> exit = args.ParseOrExit(argv)) return *exit;
  if (!args.positional().empty()) {
    // Every input is a flag: a stray word is a mistake (often the events
    // file without --events), not something to ignore.
    std::cerr << "tidectl replay: unexpected argument '" << args.positional().front()
              << "' (give the events file with --events)\n"
              << args.Usage();
    return 2;
  }
  const bool quiet = args.GetBool("quiet");
  std::optional<std::string> events_path = args.Get("events");
  if (!events_path) {
    std::cerr << "tidectl replay: --events FILE.jsonl is required\n" << args.Usage();
    return 2;
  }
  const std::string format = args.GetOr("format", "table");
  if (format != "table" && format != "json") {
    std::cerr << "tidectl replay: --format must be table or json, not '" << format << "'\n";
    return 2;
  }

  std::vector<std::unique_ptr<Run>> runs;
  for (const char* flag : {"policy", "compare-policy"}) {
    if (std::string(flag) == "compare-policy" && !args.Has(flag)) break;
    auto p = LoadPolicy(args.Get(flag));
    if (!p.ok()) {
      std::cerr << "tidectl replay: policy rejected:\n" << p.status().message() << "\n";
      return 1;
    }
    auto run = std::make_unique<Run>();
    run->label = args.GetOr(flag, "embedded default policy");
    run->policy = *p;
    runs.push_back(std::move(run));
  }

  engine::EngineOptions options;
  if (args.Has("snapshot-every")) {
    absl::StatusOr<absl::Duration> every = args.GetDuration("snapshot-every");
    if (!every.ok()) {
      std::cerr << "tidectl replay: " << every.status().message() << "\n";
      return 2;
    }
    options.snapshot_every = *every;
  }
  if (args.Has("windows")) {
    for (absl::string_view part : absl::StrSplit(*args.Get("windows"), ',', absl::SkipEmpty())) {
      absl::Duration d;
      if (!absl::ParseDuration(part, &d) || d <= absl::ZeroDuration()) {
        std::cerr << "tidectl replay: --windows: '" << part << "' is not a duration (e.g. 15m)\n";
        return 2;
      }
      options.snapshot_windows.push_back(d);
    }
  }
  for (auto& run : runs) {
    const absl::Duration g = run->policy->evaluation_interval;
    if (options.snapshot_every > absl::ZeroDuration() &&
        options.snapshot_every % g != absl::ZeroDuration()) {
      std::cerr << "tidectl replay: --snapshot-every must be a multiple of the policy's "
                   "evaluation_interval ("
                << absl::FormatDuration(g) << ")\n";
      return 2;
    }
    for (absl::Duration w : options.snapshot_windows) {
      if (w % g != absl::ZeroDuration()) {
        std::cerr << "tidectl replay: --windows " << absl::FormatDuration(w)
                  << " is not a multiple of the policy's evaluation_interval ("
                  << absl::FormatDuration(g) << ")\n";
        return 2;
      }
    }
    run->engine = std::make_unique<engine::Engine>(run->policy, options, &run->output);
  }

  events::RejectCounter rejects;
  absl::StatusOr<int64_t> records =
      ReadEventFile(*events_path, "replay", quiet, rejects, [&](const tidewatch::v1::CallEvent& e) {
        for (auto& run : runs) {
          if (run->engine->Apply(e) == engine::EventOutcome::kUnknownLine) {
            ++run->unknown_line_events[e.line_id()];
          }
        }
        return absl::OkStatus();
      });
  if (!records.ok()) {
    std::cerr << "tidectl replay: " << records.status().message() << "\n";
    return 1;
  }
  for (auto& run : runs) run->engine->Finish();

  if (runs.size() == 2) {
    if (format == "json") {
      JsonWriter w;
      w.BeginObject();
      for (int i = 0; i < 2; ++i) {
        w.Key(i == 0 ? "a" : "b").BeginObject();
        w.Key("policy").String(runs[i]->label);
        w.Key("escalations");
        WriteEscalations(w, *runs[i]);
        w.Key("callups");
        WriteCallUps(w, *runs[i]);
        w.Key("rejected");
        WriteRejected(w, SetAsideOf(*runs[i], rejects));
        w.EndObject();
      }
      w.Key("warnings").BeginArray();
      for (const std::string& warning : LineWarnings(*runs[0], *runs[1])) w.String(warning);
      w.EndArray();
      w.EndObject();
      std::cout << w.Take() << "\n";
    } else {
      std::cout << CompareTable(*runs[0], *runs[1], rejects);
    }
    return 0;
  }
  if (format == "json") {
    std::cout << JsonReport(*runs[0], rejects) << "\n";
  } else {
    std::cout << TableReport(*runs[0], rejects);
  }
  return 0;
}

}  // namespace tidewatch::tidectl
