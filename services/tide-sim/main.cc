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
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "events/events.h"
#include "kafka/kafka.h"
#include "responder.h"
#include "service_flags.h"
#include "sim/event_sink.h"
#include "sim/queue_log_sink.h"
#include "sim/scenario.h"
#include "sim/simulator.h"
#include "sim/summary.h"

ABSL_FLAG(std::string, scenario, "", "Scenario YAML file (deploy/scenarios/*.yaml). Required.");
ABSL_FLAG(uint64_t, seed, 1, "Random seed: the same seed gives byte-identical output.");
ABSL_FLAG(std::string, out, "",
          "Where to write JSON lines: a file, or '-' for stdout (the default without --brokers).");
ABSL_FLAG(std::string, summary, "", "Also write the per-line summary as JSON to this file.");
ABSL_FLAG(std::string, speed, "",
          "Pacing: N (times real time, e.g. 1 or 60) or 'max' (as fast as possible). "
          "Default: max when --out is a file, 1 when it is stdout.");
ABSL_FLAG(std::string, start_date, "",
          "First simulated day, YYYY-MM-DD (overrides the scenario's date). "
          "Also spelled --start-date.");
ABSL_FLAG(std::string, brokers, "",
          "Kafka bootstrap servers: also produce every event as binary protobuf (key = line_id) "
          "to --topic. With --brokers and no --out, Kafka is the only output.");
ABSL_FLAG(std::string, topic, "telephony.call-events", "Kafka topic for --brokers.");
ABSL_FLAG(std::string, respond_to, "",
          "tidewatchd gRPC address: answer call-ups live with the scenario's reinforcements "
          "(acknowledge, then send the people) instead of at their scripted times. Also spelled "
          "--respond-to. Token: $TIDEWATCH_TOKEN (a responder for the teams, or admin).");
ABSL_FLAG(std::string, queue_log_out, "",
          "Also write the events as an Asterisk queue_log to this file (for queuelog-bridge; "
          "docs/integrations.md). Also spelled --queue-log-out.");
ABSL_FLAG(std::string, line_map_out, "",
          "With --queue-log-out: write the bridge's line map (queue -> line) to this file. "
          "Also spelled --line-map-out.");

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

// Produces each event to Kafka (binary protobuf, key = line_id, Kafka's
// default murmur2 partitioning); Flush waits for every delivery report.
class KafkaSink final : public EventSink {
 public:
  KafkaSink(kafka::Producer& producer, std::string topic)
      : producer_(producer), topic_(std::move(topic)) {}

  absl::Status Write(const tidewatch::v1::CallEvent& event) override {
    for (int attempt = 0;; ++attempt) {
      absl::Status s = producer_.Produce(topic_, event.line_id(), event.SerializeAsString(), {},
                                         [this](const absl::Status& st, const kafka::Record&) {
                                           if (!st.ok() && failed_++ == 0) first_error_ = st;
                                         });
      if (s.ok()) break;
      if (s.code() != absl::StatusCode::kResourceExhausted || attempt > 600) return s;
      producer_.Poll(absl::Milliseconds(100));  // local queue full
    }
    if (++written_ % 1024 == 0) producer_.Poll(absl::ZeroDuration());
    return absl::OkStatus();
  }
  absl::Status Flush() override {
    absl::Status s = producer_.Flush(absl::Seconds(60));
    if (!s.ok()) return s;
    if (failed_ > 0) {
      return absl::UnavailableError(absl::StrCat(failed_, " events not delivered to ", topic_,
                                                 "; first error: ", first_error_.message()));
    }
    return absl::OkStatus();
  }

 private:
  kafka::Producer& producer_;
  std::string topic_;
  int64_t written_ = 0;
  int64_t failed_ = 0;
  absl::Status first_error_;
};

// Writes every event to two sinks.
class TeeSink final : public EventSink {
 public:
  TeeSink(EventSink& a, EventSink& b) : a_(a), b_(b) {}
  absl::Status Write(const tidewatch::v1::CallEvent& e) override {
    absl::Status s = a_.Write(e);
    return s.ok() ? b_.Write(e) : s;
  }
  absl::Status Flush() override {
    absl::Status s = a_.Flush();
    return s.ok() ? b_.Flush() : s;
  }

 private:
  EventSink& a_;
  EventSink& b_;
};

int Fail(const std::string& message, int code = 1) {
  std::fprintf(stderr, "tide-sim: %s\n", message.c_str());
  return code;
}

int Run() {
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
  const std::string brokers = absl::GetFlag(FLAGS_brokers);
  const std::string queue_log_out = absl::GetFlag(FLAGS_queue_log_out);
  const bool no_file = (!brokers.empty() || !queue_log_out.empty()) && out_path.empty();
  const bool to_stdout = !no_file && (out_path == "-" || out_path.empty());
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
  // --respond-to: the scenario's reinforcements answer call-ups live.
  const std::string address = absl::GetFlag(FLAGS_respond_to);
  std::vector<Reinforcement> responses;
  if (!address.empty()) responses = std::exchange(scenario->reinforcements, {});
  // The scenario's own run was checked when it loaded; another start date,
  // or people sent live, must keep the events in the contract's time range
  // and every day's calls within the cap too.
  if (options.start_date.has_value() || !address.empty()) {
    if (absl::Status s =
            CheckRun(*scenario, options.start_date.value_or(scenario->date), !address.empty());
        !s.ok()) {
      return Fail(absl::StrCat(options.start_date.has_value() ? "--start-date: " : "--respond-to: ",
                               s.message()),
                  2);
    }
  }

  std::unique_ptr<Responder> responder;
  if (!address.empty()) {
    const char* token = std::getenv("TIDEWATCH_TOKEN");
    responder =
        std::make_unique<Responder>(address, token == nullptr ? "" : token, std::move(responses));
    if (absl::Status s = responder->Start(); !s.ok()) return Fail(std::string(s.message()));
    options.live_reinforcements = [r = responder.get()](absl::Time t) { return r->Due(t); };
  }

  std::unique_ptr<kafka::Producer> producer;
  if (!brokers.empty()) {
    kafka::KafkaConfig config;
    config.bootstrap = brokers;
    config.client_id = "tide-sim";
    absl::StatusOr<std::unique_ptr<kafka::Producer>> p = kafka::NewProducer(config, {});
    if (!p.ok()) return Fail(absl::StrCat("--brokers: ", p.status().message()), 2);
    producer = *std::move(p);
  }

  std::FILE* out = stdout;
  if (no_file) {
    out = std::fopen("/dev/null", "wb");
  } else if (!to_stdout) {
    out = std::fopen(out_path.c_str(), "wb");
    if (out == nullptr) {
      return Fail(absl::StrCat("cannot write ", out_path, ": ", std::strerror(errno)));
    }
  }
  absl::StatusOr<Summary> summary;
  {
    JsonLinesSink json(out);
    std::unique_ptr<KafkaSink> kafka_sink;
    std::unique_ptr<TeeSink> tee;
    EventSink* sink = &json;
    if (producer) {
      kafka_sink = std::make_unique<KafkaSink>(*producer, absl::GetFlag(FLAGS_topic));
      sink = kafka_sink.get();
      if (!no_file) {
        tee = std::make_unique<TeeSink>(json, *kafka_sink);
        sink = tee.get();
      }
    }
    std::unique_ptr<QueueLogFile> queue_log;
    if (!queue_log_out.empty()) {
      absl::StatusOr<std::unique_ptr<QueueLogFile>> q =
          QueueLogFile::Open(queue_log_out, absl::GetFlag(FLAGS_line_map_out),
                             no_file && brokers.empty() ? nullptr : sink);
      if (!q.ok()) return Fail(std::string(q.status().message()));
      queue_log = *std::move(q);
      sink = queue_log->sink();
    }
    if (speed > 0) {
      PacedSink paced(*sink, speed);
      summary = Simulate(*scenario, options, paced);
    } else {
      summary = Simulate(*scenario, options, *sink);
    }
    if (queue_log && summary.ok()) {
      if (absl::Status s = queue_log->Close(); !s.ok()) return Fail(std::string(s.message()));
    }
  }
  if (!to_stdout && std::fclose(out) != 0 && !no_file) {
    return Fail(absl::StrCat("closing ", out_path, ": ", std::strerror(errno)));
  }
  if (responder) {
    responder->Stop();
    std::fprintf(stderr, "tide-sim: answered %d call-up(s) live\n", responder->acknowledged());
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
  // --help lists this file's flags; --start-date, --queue-log-out and
  // --line-map-out are read as --start_date, ... (service_flags.h).
  tidewatch::ParseServiceFlags(
      argc, argv,
      "simulated contact-centre traffic as CallEvent JSON lines.\n"
      "  tide-sim --scenario FILE [--seed N] [--out FILE|-] [--summary FILE]\n"
      "           [--speed N|max] [--start-date YYYY-MM-DD]",
      "tide-sim/main.cc");
  return tidewatch::sim::Run();
}
