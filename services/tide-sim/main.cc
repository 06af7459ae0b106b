// tide-sim: simulated contact-centre traffic as CallEvents.
//
//   tide-sim --scenario deploy/scenarios/normal-monday.yaml --seed 7
//            --out day.jsonl --summary day-summary.json
//   tide-sim --scenario deploy/scenarios/council-tax-summons.yaml --speed 60
//
// Writes JSON lines (the replay format) to --out (a file, or '-' for
// stdout), a per-line summary table to stderr, and with --summary the same
// summary as JSON. Pacing: as fast as possible when writing to a file,
// real time when writing to stdout; --speed N runs N times faster than real
// time, --speed max as fast as possible. Everything but pacing is in
// libs/sim; see docs/simulator.md.
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "events/events.h"
#include "sim/event_sink.h"
#include "sim/scenario.h"
#include "sim/simulator.h"
#include "sim/summary.h"

ABSL_FLAG(std::string, scenario, "", "Scenario YAML file (deploy/scenarios/*.yaml). Required.");
ABSL_FLAG(uint64_t, seed, 1, "Random seed: the same seed gives byte-identical output.");
ABSL_FLAG(std::string, out, "-", "Where to write JSON lines: a file, or '-' for stdout.");
ABSL_FLAG(std::string, summary, "", "Also write the per-line summary as JSON to this file.");
ABSL_FLAG(std::string, speed, "",
          "Pacing: N (times real time, e.g. 1 or 60) or 'max' (as fast as possible). "
          "Default: max when --out is a file, 1 when it is stdout.");
ABSL_FLAG(std::string, start_date, "",
          "First simulated day, YYYY-MM-DD (overrides the scenario's date). "
          "Also spelled --start-date.");
ABSL_FLAG(std::string, brokers, "",
          "Kafka bootstrap servers for binary protobuf output (not available in this build yet).");

namespace tidewatch::sim {
namespace {

// Holds events back until their event time, scaled by `speed`, has come on
// the wall clock (measured from the first event).
class PacedSink final : public EventSink {
 public:
  PacedSink(EventSink& inner, double speed) : inner_(inner), speed_(speed) {}

  absl::Status Write(const tidewatch::v1::CallEvent& event) override {
    const absl::Time t = events::EventTime(event);
    if (!started_) {
      started_ = true;
      wall_start_ = absl::Now();
      sim_start_ = t;
    }
    const absl::Time due = wall_start_ + (t - sim_start_) / speed_;
    const absl::Time now = absl::Now();
    if (due > now) {
      absl::Status flushed = inner_.Flush();
      if (!flushed.ok()) return flushed;
      absl::SleepFor(due - now);
    }
    return inner_.Write(event);
  }
  absl::Status Flush() override { return inner_.Flush(); }

 private:
  EventSink& inner_;
  double speed_;
  bool started_ = false;
  absl::Time wall_start_;
  absl::Time sim_start_;
};

int Fail(const std::string& message, int code = 1) {
  std::fprintf(stderr, "tide-sim: %s\n", message.c_str());
  return code;
}

int Run() {
  if (!absl::GetFlag(FLAGS_brokers).empty()) {
    return Fail(
        "--brokers: Kafka output is not available in this build yet (the Kafka library has not "
        "landed). Write JSON lines with --out FILE or --out - instead.",
        2);
  }
  const std::string scenario_path = absl::GetFlag(FLAGS_scenario);
  if (scenario_path.empty()) return Fail("--scenario FILE is required (see --help)", 2);

  SimOptions options;
  options.seed = absl::GetFlag(FLAGS_seed);
  if (const std::string date = absl::GetFlag(FLAGS_start_date); !date.empty()) {
    absl::CivilDay day;
    if (date.size() != 10 || !absl::ParseCivilTime(date, &day)) {
      return Fail(absl::StrCat("--start-date: expected YYYY-MM-DD, got \"", date, "\""), 2);
    }
    options.start_date = day;
  }

  const std::string out_path = absl::GetFlag(FLAGS_out);
  const bool to_stdout = out_path == "-" || out_path.empty();
  double speed = to_stdout ? 1.0 : 0.0;  // 0: no pacing
  if (const std::string s = absl::GetFlag(FLAGS_speed); !s.empty()) {
    if (s == "max") {
      speed = 0;
    } else if (!absl::SimpleAtod(s, &speed) || !(speed >= 0) || speed > 1e9) {
      return Fail(absl::StrCat("--speed: expected a positive number or 'max', got \"", s, "\""), 2);
    }
  }

  absl::StatusOr<Scenario> scenario = LoadScenarioFile(scenario_path);
  if (!scenario.ok()) {
    return Fail(absl::StrCat("scenario rejected:\n", scenario.status().message()), 2);
  }

  std::FILE* out = stdout;
  if (!to_stdout) {
    out = std::fopen(out_path.c_str(), "wb");
    if (out == nullptr) {
      return Fail(absl::StrCat("cannot write ", out_path, ": ", std::strerror(errno)));
    }
  }
  absl::StatusOr<Summary> summary;
  {
    JsonLinesSink json(out);
    if (speed > 0) {
      PacedSink paced(json, speed);
      summary = Simulate(*scenario, options, paced);
    } else {
      summary = Simulate(*scenario, options, json);
    }
  }
  if (!to_stdout && std::fclose(out) != 0) {
    return Fail(absl::StrCat("closing ", out_path, ": ", std::strerror(errno)));
  }
  if (!summary.ok()) return Fail(std::string(summary.status().message()));

  std::fputs(SummaryTable(*summary).c_str(), stderr);
  if (const std::string path = absl::GetFlag(FLAGS_summary); !path.empty()) {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) return Fail(absl::StrCat("cannot write ", path, ": ", std::strerror(errno)));
    const std::string json = SummaryToJson(*summary);
    const bool ok = std::fwrite(json.data(), 1, json.size(), f) == json.size();
    if (std::fclose(f) != 0 || !ok) return Fail(absl::StrCat("writing ", path, " failed"));
  }
  return 0;
}

}  // namespace
}  // namespace tidewatch::sim

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "simulated contact-centre traffic as CallEvent JSON lines.\n"
      "  tide-sim --scenario FILE [--seed N] [--out FILE|-] [--summary FILE]\n"
      "           [--speed N|max] [--start-date YYYY-MM-DD]");
  // --help lists this file's flags (Abseil matches the program name by
  // default, and this file is main.cc).
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::StrContains(file, "tide-sim/main.cc");
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  absl::SetFlagsUsageConfig(usage);
  // Abseil flag names cannot contain '-': accept the documented spelling.
  std::vector<std::string> args(argv, argv + argc);
  for (std::string& a : args) {
    if (a == "--") break;
    for (const auto& [spelled, name] :
         {std::pair<std::string_view, std::string_view>{"--start-date", "--start_date"},
          {"-start-date", "-start_date"}}) {
      if (std::string_view(a).substr(0, spelled.size()) == spelled &&
          (a.size() == spelled.size() || a[spelled.size()] == '=')) {
        a = std::string(name) + a.substr(spelled.size());
      }
    }
  }
  std::vector<char*> rewritten;
  for (std::string& a : args) rewritten.push_back(a.data());
  absl::ParseCommandLine(static_cast<int>(rewritten.size()), rewritten.data());
  return tidewatch::sim::Run();
}
