// queuelog-bridge: follows an Asterisk queue_log and publishes CallEvents.
//
//   queuelog-bridge --queue-log /var/log/asterisk/queue_log
//       --checkpoint /var/lib/tidewatch/queuelog.checkpoint
//       --line-map /etc/tidewatch/queues.yaml --brokers kafka1:9092
//       --caller-key-file /etc/tidewatch/caller.key
//
// Every new queue_log line is mapped (libs/queuelog, docs/integrations.md)
// and produced to --topic as binary protobuf keyed by line id. The
// checkpoint (path, inode, byte offset) advances only after Kafka confirmed
// delivery. Caller numbers are replaced by an HMAC-SHA256 keyed hash before
// anything leaves the process; the key comes from --caller-key-file or the
// environment variable named by --caller-key-env and is never logged.
// Logs go to stderr; SIGTERM/SIGINT stop it after the current batch.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "http/http_server.h"
#include "kafka/kafka.h"
#include "queuelog/bridge.h"
#include "queuelog/caller_hasher.h"
#include "queuelog/file_follower.h"
#include "queuelog/queue_log.h"
#include "service_flags.h"

ABSL_FLAG(std::string, queue_log, "", "The queue_log file to follow. Required.");
ABSL_FLAG(std::string, checkpoint, "",
          "Checkpoint file (path, inode, byte offset of the next line). Required unless "
          "--no-checkpoint.");
ABSL_FLAG(bool, no_checkpoint, false, "Run without a checkpoint (one-off loads, tests).");
ABSL_FLAG(std::string, line_map, "", "Line map YAML: queue names -> line ids. Required.");
ABSL_FLAG(std::string, brokers, "", "Kafka bootstrap servers, host:port[,host:port]. Required.");
ABSL_FLAG(std::string, topic, "telephony.call-events", "Topic to produce CallEvents to.");
ABSL_FLAG(std::string, caller_key_file, "",
          "File holding the secret caller-hash key (at least 16 bytes).");
ABSL_FLAG(std::string, caller_key_env, "TIDEWATCH_CALLER_KEY",
          "Environment variable holding the key when --caller-key-file is not given.");
ABSL_FLAG(absl::Duration, poll_interval, absl::Milliseconds(250),
          "How often to look for new lines when the file is idle.");
ABSL_FLAG(bool, from_start, false,
          "Without a checkpoint, read the file from its start (default: only new lines).");
ABSL_FLAG(bool, exit_at_eof, false,
          "Exit once everything in the file is published, a last line without a newline "
          "included (batch loads and tests).");
ABSL_FLAG(absl::Duration, stats_interval, absl::Seconds(60),
          "How often to log counters (0: only at exit).");
ABSL_FLAG(int, batch_lines, 20000, "Lines per delivery wait and checkpoint.");
ABSL_FLAG(std::string, metrics_address, "",
          "HOST:PORT to serve Prometheus /metrics and /healthz on (port 0 picks one; '' off).");

namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

tidewatch::RealClock g_clock;

void Log(const std::string& message) {
  const std::string line =
      absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", g_clock.Now(), absl::UTCTimeZone()),
                   " queuelog-bridge: ", message, "\n");
  std::fputs(line.c_str(), stderr);
}

int Fail(const std::string& message, int code = 1) {
  Log(message);
  return code;
}

int Run() {
  using namespace tidewatch::queuelog;
  const absl::Time process_start = g_clock.Now();
  const std::string queue_log = absl::GetFlag(FLAGS_queue_log);
  const std::string line_map_path = absl::GetFlag(FLAGS_line_map);
  const std::string brokers = absl::GetFlag(FLAGS_brokers);
  const std::string checkpoint = absl::GetFlag(FLAGS_checkpoint);
  if (queue_log.empty()) return Fail("--queue-log FILE is required", 2);
  if (line_map_path.empty()) return Fail("--line-map FILE is required", 2);
  if (brokers.empty()) return Fail("--brokers HOST:PORT is required", 2);
  if (checkpoint.empty() && !absl::GetFlag(FLAGS_no_checkpoint)) {
    return Fail("--checkpoint FILE is required (or --no-checkpoint)", 2);
  }

  std::optional<std::string> key_file;
  if (!absl::GetFlag(FLAGS_caller_key_file).empty())
    key_file = absl::GetFlag(FLAGS_caller_key_file);
  std::optional<std::string> key_env;
  const std::string env_name = absl::GetFlag(FLAGS_caller_key_env);
  if (const char* v = env_name.empty() ? nullptr : std::getenv(env_name.c_str())) key_env = v;
  absl::StatusOr<std::string> secret = LoadCallerKey(key_file, key_env);
  if (!secret.ok()) {
    return Fail(absl::StrCat("caller key: ", secret.status().message(),
                             " (--caller-key-file FILE or $", env_name, ")"),
                2);
  }
  absl::StatusOr<CallerHasher> hasher = CallerHasher::Create(*secret);
  secret->assign(secret->size(), '\0');
  if (!hasher.ok()) return Fail(absl::StrCat("caller key: ", hasher.status().message()), 2);

  absl::StatusOr<LineMap> map = LoadLineMapFile(line_map_path);
  if (!map.ok()) return Fail(absl::StrCat("line map rejected: ", map.status().message()), 2);

  tidewatch::kafka::KafkaConfig config;
  config.bootstrap = brokers;
  config.client_id = "queuelog-bridge";
  config.clock = &g_clock;
  config.on_error = [](const absl::Status& e, bool fatal) {
    Log(absl::StrCat(fatal ? "fatal " : "", "kafka: ", e.message()));
  };
  config.on_log = [](int, std::string_view facility, std::string_view message) {
    Log(absl::StrCat("librdkafka ", std::string(facility), ": ", std::string(message)));
  };
  absl::StatusOr<std::unique_ptr<tidewatch::kafka::Producer>> producer =
      tidewatch::kafka::NewProducer(config, {});
  if (!producer.ok()) return Fail(absl::StrCat("--brokers: ", producer.status().message()), 2);

  QueueLogMapper mapper(*map, *hasher);
  const tidewatch::RealClock clock;
  FileFollower follower(queue_log, 64 * 1024, &clock);
  BridgeOptions options;
  options.topic = absl::GetFlag(FLAGS_topic);
  options.checkpoint_path = checkpoint;
  options.from_start = absl::GetFlag(FLAGS_from_start);
  options.max_batch_lines = std::max(1, absl::GetFlag(FLAGS_batch_lines));
  QueueLogBridge bridge(follower, mapper, **producer, options, Log);
  if (absl::Status s = bridge.Start(); !s.ok()) return Fail(std::string(s.message()));
  Log(absl::StrCat("publishing to ", options.topic, " on ", brokers, "; ", map->queues.size(),
                   " queues mapped"));

  // /metrics serves the text rebuilt after every Step (civetweb threads
  // only read it).
  absl::Mutex metrics_mu;
  std::string metrics_text;
  int64_t lost_seen = 0;
  absl::Time last_loss = absl::InfinitePast();
  auto update_metrics = [&, started = process_start] {
    if (follower.stats().lost_files > lost_seen) {
      lost_seen = follower.stats().lost_files;
      last_loss = g_clock.Now();
    }
    std::string text = BridgeMetricsText(bridge.stats(), follower.stats(), bridge.checkpointed(),
                                         started, last_loss);
    absl::MutexLock lock(&metrics_mu);
    metrics_text = std::move(text);
  };
  update_metrics();
  std::unique_ptr<tidewatch::http::HttpServer> server;
  if (const std::string address = absl::GetFlag(FLAGS_metrics_address); !address.empty()) {
    tidewatch::http::HttpServer::Handlers handlers;
    handlers["/metrics"] = [&](const tidewatch::http::HttpRequest&) {
      absl::MutexLock lock(&metrics_mu);
      return tidewatch::http::HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8",
                                           metrics_text};
    };
    handlers["/healthz"] = [](const tidewatch::http::HttpRequest&) {
      return tidewatch::http::HttpResponse{200, "text/plain; charset=utf-8", "ok\n"};
    };
    absl::StatusOr<std::unique_ptr<tidewatch::http::HttpServer>> s =
        tidewatch::http::HttpServer::Start(address, std::move(handlers));
    if (!s.ok()) return Fail(absl::StrCat("--metrics-address: ", s.status().message()), 2);
    server = *std::move(s);
    Log(absl::StrCat("serving /metrics /healthz on port ", server->port()));
  }

  signal(SIGTERM, OnSignal);
  signal(SIGINT, OnSignal);
  const absl::Duration poll = absl::GetFlag(FLAGS_poll_interval);
  const absl::Duration stats_every = absl::GetFlag(FLAGS_stats_interval);
  absl::Time next_stats = g_clock.Now() + stats_every;
  absl::Duration backoff = poll;
  int exit_code = 0;
  auto stats = [&] {
    const BridgeStats& s = bridge.stats();
    const FileFollower::Stats& f = follower.stats();
    return absl::StrCat(s.mapped.ToString(), " published=", s.published,
                        " delivery_failures=", s.delivery_failures, " rotations=", f.rotations,
                        " truncations=", f.truncations, " lost_files=", f.lost_files,
                        " checkpoint_line=", bridge.checkpointed().line);
  };
  while (!g_stop.load()) {
    absl::StatusOr<int> n = bridge.Step();
    update_metrics();
    if (!n.ok()) {
      Log(absl::StrCat("retrying in ", absl::FormatDuration(backoff), ": ", n.status().message()));
      absl::SleepFor(backoff);
      backoff = std::min(backoff * 2, absl::Seconds(30));
      continue;
    }
    backoff = poll;
    if (stats_every > absl::ZeroDuration() && g_clock.Now() >= next_stats) {
      Log(stats());
      next_stats = g_clock.Now() + stats_every;
    }
    if (*n == 0) {
      if (absl::GetFlag(FLAGS_exit_at_eof)) {
        // A last line without a newline is published too (the next Step
        // hands it out), then the bridge stops.
        if (follower.EndIncompleteLine()) continue;
        break;
      }
      absl::SleepFor(poll);
    }
  }
  if (absl::Status s = (*producer)->Flush(absl::Seconds(10)); !s.ok()) {
    Log(absl::StrCat("flush at exit: ", s.message()));
    exit_code = 1;
  }
  Log(absl::StrCat("stopped: ", stats()));
  return exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  tidewatch::ParseServiceFlags(
      argc, argv,
      "follows an Asterisk queue_log and publishes CallEvents to Kafka.\n"
      "  queuelog-bridge --queue-log FILE --checkpoint FILE --line-map YAML --brokers HOSTS\n"
      "                  [--caller-key-file FILE | $TIDEWATCH_CALLER_KEY] [--from-start]",
      "queuelog-bridge/main.cc");
  return Run();
}
