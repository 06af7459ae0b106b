// tidewatchd: the tidewatch streaming service.
//
// Consumes call events from Kafka, keeps every owned line's KPIs and tide
// live, publishes escalations and state, serves /metrics, /healthz, /readyz and
// /lines on --metrics-address and the gRPC API (call-ups, line status,
// policy; docs/api.md) on --grpc_address. --brokers=embedded (the default)
// runs an in-process Kafka-protocol broker for development and demos.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/clock.h"
#include "common/json_writer.h"
#include "engine/engine.h"
#include "grpc_front.h"
#include "http/http_server.h"
#include "kafka/embedded_broker.h"
#include "kafka/kafka.h"
#include "line/kpis.h"
#include "policy/policy.h"
#include "service_flags.h"
#include "stream/stream_processor.h"
#include "telemetry/metrics_exporter.h"

ABSL_FLAG(std::string, brokers, "embedded",
          "Kafka bootstrap servers (host:port,...), or 'embedded' for an in-process development "
          "broker");
ABSL_FLAG(std::string, events_topic, "telephony.call-events", "call events topic (key = line_id)");
ABSL_FLAG(std::string, commands_topic, "tidewatch.commands", "commands topic (co-partitioned)");
ABSL_FLAG(std::string, escalations_topic, "tidewatch.escalations", "escalations output topic");
ABSL_FLAG(std::string, state_topic, "tidewatch.state", "compacted state topic (co-partitioned)");
ABSL_FLAG(std::string, dead_letter_topic, "tidewatch.dead-letter", "undecodable records go here");
ABSL_FLAG(std::string, group, "tidewatch", "consumer group");
ABSL_FLAG(std::string, policy, "", "tide policy YAML (default: the embedded default policy)");
ABSL_FLAG(std::string, metrics_address, "127.0.0.1:9464",
          "HOST:PORT for /metrics, /healthz, /readyz and /lines ('' to disable; port 0 picks one)");
ABSL_FLAG(int, max_metric_lines, 1000,
          "at most this many lines get per-line metrics on /metrics (surging lines first; the rest "
          "are counted in tidewatch_metrics_lines_dropped)");
ABSL_FLAG(int, partitions, 12, "partitions per topic when the embedded broker creates them");
ABSL_FLAG(std::string, clock, "wall",
          "'wall': wall-clock ticks move engine time (live); 'event': event time only (replaying "
          "recorded or simulated days at speed)");
ABSL_FLAG(absl::Duration, commit_interval, absl::Seconds(1),
          "how often state is written and offsets committed while records keep coming");
ABSL_FLAG(absl::Duration, idle_commit_gap, absl::Milliseconds(100),
          "once caught up (a poll finds nothing new), commit what was consumed without waiting "
          "for --commit_interval, at most once per this gap: committed escalations reach "
          "read_committed readers sooner at low traffic (0: commit at --commit_interval only)");
ABSL_FLAG(bool, engine_thread, true,
          "run the partition engines on a worker thread while the next records are polled and "
          "decoded (--noengine_thread: everything on one thread, e.g. on a one-core machine)");
ABSL_FLAG(std::string, instance_id, "",
          "this instance's stable name: client id suffix and, with --exactly_once, part of the "
          "transactional.id (GROUP-INSTANCE), so that a restarted instance fences its "
          "predecessor and aborts its open transaction at once; give each instance its own "
          "(e.g. the pod name). Default: the pid");
ABSL_FLAG(std::string, exactly_once, "auto",
          "'true': escalations, state and consumed offsets in one Kafka transaction per commit "
          "interval (readers must use read_committed); 'false': idempotent producer, offsets "
          "committed after the outputs are durable (at-least-once, duplicates carry the same "
          "ids); 'auto': true on a real cluster, false on the in-process broker (embedded or "
          "kafka-dev-broker, recognised by its cluster id), whose transactions are incomplete");
ABSL_FLAG(std::string, grpc_address, "127.0.0.1:50051",
          "HOST:PORT for the gRPC API ('' to disable; port 0 picks one)");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate chain of the gRPC server");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of the gRPC server");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA bundle: when set, gRPC clients must present a certificate it signed");
ABSL_FLAG(std::string, tokens_file, "",
          "bearer tokens file (SHA-256 of each token, holder, role, teams; docs/api.md)");
ABSL_FLAG(bool, grpc_insecure, false,
          "serve gRPC in plaintext (and without tokens unless --tokens_file): demos only. "
          "Implied with --brokers=embedded when no --tls_cert is given");
ABSL_FLAG(std::string, policy_topic, "tidewatch.policy",
          "policy versions topic (one partition); every instance follows it");
ABSL_FLAG(bool, quiet, false, "log only errors and lifecycle lines, not every escalation");
ABSL_FLAG(absl::Duration, shutdown_timeout, absl::Seconds(20),
          "after SIGTERM or SIGINT the process ends within this, cleanly (state written, "
          "outputs flushed, offsets committed, group left) when the broker answers, else with "
          "status 1; a second signal ends it at once");

namespace {

std::atomic<bool> g_stop{false};  // a signal, or a fatal Kafka error
std::atomic<int> g_signals{0};
// A Kafka client reported a fatal error (the stop then exits 3, not 0: the
// supervisor restarts the instance with new clients).
std::atomic<bool> g_fatal{false};

// The first SIGTERM/SIGINT asks for a clean stop; a second one (an operator
// who will not wait for a broker that does not answer) ends the process at
// once: what was not committed is processed again after a restart.
void OnSignal(int sig) {
  g_stop.store(true);
  if (g_signals.fetch_add(1) == 0) return;
  static constexpr char kMessage[] =
      "tidewatchd: second signal: exiting at once, without the flush and commit (a restart "
      "resumes from the last commit)\n";
  [[maybe_unused]] const ssize_t n = write(STDERR_FILENO, kMessage, sizeof kMessage - 1);
  _exit(128 + sig);
}

void Log(const std::string& line) {
  std::fprintf(stderr, "%s tidewatchd: %s\n",
               absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()).c_str(),
               line.c_str());
  std::fflush(stderr);
}

// The stop's exit status once it has one (-1 before): what the shutdown
// watchdog exits with when closing the Kafka clients hangs after it.
std::atomic<int> g_exit_status{-1};

// Where the process is, for the watchdog: starting (nothing consumed or
// produced yet: a stop needs no flush or commit), processing, or ending a
// startup at once (the watchdog's).
enum class Phase : int { kStarting, kProcessing, kStartupStopped };
std::atomic<Phase> g_phase{Phase::kStarting};

// Moves the process from starting to processing; false when a stop during
// startup has been taken over by the watchdog (which is ending the process).
bool BeginProcessing() {
  Phase expected = Phase::kStarting;
  return g_phase.compare_exchange_strong(expected, Phase::kProcessing);
}

// Bounds the stop: --shutdown_timeout after it begins (the signal, or a
// fatal error), the process exits whatever it is still waiting for (a
// broker that answers neither the flush nor the commit, a librdkafka handle
// that does not close, a Step still recovering a partition from a slow
// broker), with the stop's status when it had one, else 1. A stop during
// startup (a step waiting on the broker: topics, cluster id, the policy
// topic) has nothing to make durable: it ends at once, status 0 (3 after a
// fatal Kafka error). Started with the signal handlers; it waits for g_stop.
void StartShutdownWatchdog() {
  const absl::Duration limit = absl::GetFlag(FLAGS_shutdown_timeout);
  std::thread([limit] {
    while (!g_stop.load()) absl::SleepFor(absl::Milliseconds(20));
    if (Phase expected = Phase::kStarting;
        g_phase.compare_exchange_strong(expected, Phase::kStartupStopped)) {
      Log(g_fatal.load() ? "stopped during startup after a FATAL kafka error (restart to retry)"
                         : "stopped during startup (a signal)");
      std::fflush(stdout);
      std::_Exit(g_fatal.load() ? 3 : 0);
    }
    absl::SleepFor(limit);
    const int status = g_exit_status.load();
    Log(absl::StrCat("the stop took longer than --shutdown_timeout=", absl::FormatDuration(limit),
                     ": exiting now",
                     status >= 0 ? " (the Kafka clients did not close in time)"
                                 : " WITHOUT a clean stop: what was not committed is processed "
                                   "again after a restart"));
    std::fflush(stdout);
    std::_Exit(status >= 0 ? status : 1);
  }).detach();
}

// A place among the HTTP requests that wait for the processor (/metrics,
// /lines): at most kHeavyRequests at once, of the server's 16 threads.
constexpr int kHeavyRequests = 6;
class HeavyRequest {
 public:
  explicit HeavyRequest(std::atomic<int>& in_flight) : in_flight_(in_flight) {
    admitted_ = in_flight_.fetch_add(1) < kHeavyRequests;
  }
  ~HeavyRequest() { in_flight_.fetch_sub(1); }
  HeavyRequest(const HeavyRequest&) = delete;
  HeavyRequest& operator=(const HeavyRequest&) = delete;
  bool admitted() const { return admitted_; }

 private:
  std::atomic<int>& in_flight_;
  bool admitted_ = false;
};

// Gives the stop's exit status to the watchdog, and returns it.
int Exiting(int status) {
  g_exit_status.store(status);
  return status;
}

std::string Describe(const tidewatch::v1::Escalation& e) {
  if (e.has_tide_change()) {
    const auto& c = e.tide_change();
    return absl::StrFormat(
        "escalation %s at %s: %s tier %d -> %d %s: %s", e.id(),
        absl::FormatTime("%H:%M:%S UTC", absl::FromUnixSeconds(c.time().seconds()),
                         absl::UTCTimeZone()),
        c.line_id(), c.from_level(), c.to_level(),
        c.to_level() > c.from_level() ? c.to_tier() : c.from_tier(), c.reason());
  }
  if (e.has_callup()) {
    const auto& c = e.callup();
    return absl::StrFormat("escalation %s: call-up %s %s: %d from %s", e.id(), c.id(),
                           tidewatch::v1::CallUpState_Name(c.state()), c.headcount(), c.team_id());
  }
  if (e.has_feed_status()) {
    return absl::StrFormat(
        "escalation %s: feed of %s is %s", e.id(), e.line_id(),
        e.feed_status().stale() ? "STALE (no events during opening hours)" : "back");
  }
  return absl::StrCat("escalation ", e.id());
}

std::string LinesJson(const std::vector<tidewatch::stream::LineStatus>& lines) {
  tidewatch::JsonWriter w;
  w.BeginObject().Key("lines").BeginObject();
  for (const auto& l : lines) {
    w.Key(l.line_id).BeginObject();
    w.Key("partition").Int(l.partition);
    w.Key("tide_level").Int(l.tide.level);
    w.Key("tier").String(l.tide.tier);
    w.Key("feed_stale").Bool(l.tide.feed_stale);
    w.Key("calls_waiting").Int(l.calls_waiting);
    if (l.longest_waiting)
      w.Key("longest_waiting_seconds").Seconds(absl::ToDoubleSeconds(*l.longest_waiting));
    w.Key("totals");
    tidewatch::line::WriteKpisJson(w, l.totals);
    w.Key("windows").BeginObject();
    for (const auto& [len, k] : l.windows) {
      w.Key(tidewatch::policy::WindowLabel(len));
      tidewatch::line::WriteKpisJson(w, k);
    }
    w.EndObject();
    w.Key("open_callups").BeginArray();
    for (const auto& c : l.open_callups) {
      w.BeginObject().Key("id").String(c.id()).Key("team").String(c.team_id());
      w.Key("headcount").Int(c.headcount()).EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndObject().EndObject();
  return w.Take();
}

int Run() {
  using namespace tidewatch;
  RealClock clock;
  const std::string instance = absl::GetFlag(FLAGS_instance_id).empty()
                                   ? absl::StrCat(getpid())
                                   : absl::GetFlag(FLAGS_instance_id);

  // Policy: the file is read once (it may be a pipe, or be replaced
  // between two reads), its text kept as version 0.
  std::string policy_yaml(policy::DefaultPolicyYaml());
  std::string policy_source = "embedded default policy";
  if (!absl::GetFlag(FLAGS_policy).empty()) {
    policy_source = absl::GetFlag(FLAGS_policy);
    absl::StatusOr<std::string> text = policy::ReadPolicyFile(policy_source);
    if (!text.ok()) {
      Log(absl::StrCat("policy rejected:\n", text.status().message()));
      return 2;
    }
    policy_yaml = *std::move(text);
  }
  absl::StatusOr<policy::CompiledPolicy> loaded =
      policy::LoadPolicyYaml(policy_yaml, policy_source);
  if (!loaded.ok()) {
    Log(absl::StrCat("policy rejected:\n", loaded.status().message()));
    return 2;
  }
  auto policy = std::make_shared<const policy::CompiledPolicy>(*std::move(loaded));
  Log(absl::StrCat("policy '", policy->name, "': ", policy->lines.size(), " lines"));

  stream::StreamOptions options;
  options.events_topic = absl::GetFlag(FLAGS_events_topic);
  options.commands_topic = absl::GetFlag(FLAGS_commands_topic);
  options.escalations_topic = absl::GetFlag(FLAGS_escalations_topic);
  options.state_topic = absl::GetFlag(FLAGS_state_topic);
  options.dead_letter_topic = absl::GetFlag(FLAGS_dead_letter_topic);
  options.commit_interval = absl::GetFlag(FLAGS_commit_interval);
  options.idle_commit_gap = absl::GetFlag(FLAGS_idle_commit_gap);
  if (options.commit_interval <= absl::ZeroDuration()) {
    Log(absl::StrCat("--commit_interval must be positive, not ",
                     absl::FormatDuration(options.commit_interval)));
    return 2;
  }
  if (options.idle_commit_gap < absl::ZeroDuration()) {
    Log(absl::StrCat("--idle_commit_gap must not be negative, not ",
                     absl::FormatDuration(options.idle_commit_gap)));
    return 2;
  }
  options.engine_thread = absl::GetFlag(FLAGS_engine_thread);
  const std::string clock_mode = absl::GetFlag(FLAGS_clock);
  if (clock_mode != "wall" && clock_mode != "event") {
    Log(absl::StrCat("--clock must be 'wall' or 'event', not '", clock_mode, "'"));
    return 2;
  }
  options.wall_clock_ticks = clock_mode == "wall";
  if (absl::GetFlag(FLAGS_shutdown_timeout) <= absl::ZeroDuration()) {
    Log(absl::StrCat("--shutdown_timeout must be positive, not ",
                     absl::FormatDuration(absl::GetFlag(FLAGS_shutdown_timeout))));
    return 2;
  }
  if (absl::GetFlag(FLAGS_max_metric_lines) < 1) {
    // 0 or less would leave every line out of /metrics, and every tide and
    // call-up alert silent.
    Log(absl::StrCat("--max_metric_lines must be at least 1, not ",
                     absl::GetFlag(FLAGS_max_metric_lines)));
    return 2;
  }
  // From here a signal stops the instance cleanly, startup included (the
  // watchdog bounds that stop too). SIGHUP (a closed terminal) as SIGTERM.
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  // (Not when it is ignored: under nohup a closed terminal must not stop it.)
  if (struct sigaction hup; sigaction(SIGHUP, nullptr, &hup) == 0 && hup.sa_handler != SIG_IGN) {
    std::signal(SIGHUP, OnSignal);
  }
  StartShutdownWatchdog();
  if (!absl::GetFlag(FLAGS_quiet)) {
    options.on_escalation = [](const tidewatch::v1::Escalation& e) { Log(Describe(e)); };
  }

  // gRPC: TLS and tokens unless explicitly insecure; the embedded demo may
  // run without them, and says so.
  const bool embedded_mode = absl::GetFlag(FLAGS_brokers) == "embedded";
  tidewatchd::GrpcSettings grpc_settings;
  grpc_settings.address = absl::GetFlag(FLAGS_grpc_address);
  grpc_settings.tls_cert = absl::GetFlag(FLAGS_tls_cert);
  grpc_settings.tls_key = absl::GetFlag(FLAGS_tls_key);
  grpc_settings.tls_client_ca = absl::GetFlag(FLAGS_tls_client_ca);
  grpc_settings.tokens_file = absl::GetFlag(FLAGS_tokens_file);
  grpc_settings.insecure =
      absl::GetFlag(FLAGS_grpc_insecure) || (embedded_mode && grpc_settings.tls_cert.empty());
  grpc_settings.escalations_topic = options.escalations_topic;
  grpc_settings.state_topic = options.state_topic;
  grpc_settings.commands_topic = options.commands_topic;
  grpc_settings.policy_topic = absl::GetFlag(FLAGS_policy_topic);
  grpc_settings.instance_id = instance;
  if (!grpc_settings.address.empty() && grpc_settings.insecure &&
      (!grpc_settings.tls_cert.empty() || !grpc_settings.tls_key.empty() ||
       !grpc_settings.tls_client_ca.empty())) {
    // TLS flags the plaintext API would silently ignore: an operator who
    // gave them believes the port is encrypted.
    Log(absl::GetFlag(FLAGS_grpc_insecure)
            ? "--grpc_insecure serves plaintext: it cannot be given with --tls_cert, --tls_key "
              "or --tls_client_ca (drop one or the other)"
            : "--tls_key and --tls_client_ca need --tls_cert (without it the embedded demo "
              "serves plaintext)");
    return 2;
  }
  if (!grpc_settings.address.empty()) {
    if (!grpc_settings.insecure &&
        (grpc_settings.tls_cert.empty() || grpc_settings.tls_key.empty() ||
         grpc_settings.tokens_file.empty())) {
      // Never serve plaintext or tokenless by accident: the API stays off
      // (the stream processing runs as before) and says why.
      Log("gRPC API OFF: against a real cluster it needs --tls_cert, --tls_key and "
          "--tokens_file (or --grpc_insecure, for demos only)");
      grpc_settings.address.clear();
    }
    if (grpc_settings.insecure) {
      Log(absl::StrCat(
          "INSECURE gRPC: plaintext",
          grpc_settings.tokens_file.empty() ? ", no tokens (every caller is admin)" : "",
          ". For the embedded demo only; never expose this port."));
    }
  }

  // Kafka.
  std::unique_ptr<kafka::EmbeddedBroker> embedded;
  kafka::KafkaConfig config;
  config.client_id = absl::StrCat("tidewatchd-", instance);
  config.clock = &clock;
  config.on_error = [](const absl::Status& s, bool fatal) {
    Log(absl::StrCat(fatal ? "FATAL kafka error: " : "kafka: ", s.message()));
    if (fatal) {
      g_fatal.store(true);
      g_stop.store(true);
    }
  };
  config.on_log = [](int level, std::string_view facility, std::string_view message) {
    if (level <= 3)
      Log(absl::StrCat("librdkafka ", std::string(facility), ": ", std::string(message)));
  };
  const std::vector<std::string> topics = {options.events_topic, options.commands_topic,
                                           options.escalations_topic, options.state_topic,
                                           options.dead_letter_topic};
  if (embedded_mode) {
    absl::StatusOr<std::unique_ptr<kafka::EmbeddedBroker>> b = kafka::EmbeddedBroker::Start(1);
    if (!b.ok()) {
      Log(absl::StrCat("cannot start the embedded broker: ", b.status().message()));
      return 1;
    }
    embedded = *std::move(b);
    for (const std::string& t : topics) {
      if (absl::Status s = embedded->CreateTopic(t, absl::GetFlag(FLAGS_partitions)); !s.ok()) {
        Log(absl::StrCat("cannot create ", t, ": ", s.message()));
        return 1;
      }
    }
    if (absl::Status s = embedded->CreateTopic(absl::GetFlag(FLAGS_policy_topic), 1); !s.ok()) {
      Log(absl::StrCat("cannot create ", absl::GetFlag(FLAGS_policy_topic), ": ", s.message()));
      return 1;
    }
    grpc_settings.escalations_partitions = absl::GetFlag(FLAGS_partitions);
    grpc_settings.state_partitions = absl::GetFlag(FLAGS_partitions);
    config.bootstrap = embedded->bootstrap();
    Log("EMBEDDED BROKER: an in-process Kafka for development and demos only; its data is gone "
        "when tidewatchd stops. Point --brokers at a real cluster in production.");
    std::printf("bootstrap=%s\n", config.bootstrap.c_str());
    std::fflush(stdout);
    options.partitions = absl::GetFlag(FLAGS_partitions);
  } else {
    config.bootstrap = absl::GetFlag(FLAGS_brokers);
    absl::StatusOr<std::unique_ptr<kafka::Admin>> admin = kafka::NewAdmin(config);
    if (!admin.ok()) {
      Log(absl::StrCat("kafka admin: ", admin.status().message()));
      return 1;
    }
    absl::StatusOr<int> n = (*admin)->PartitionCount(options.events_topic, absl::Seconds(30));
    if (!n.ok()) {
      Log(absl::StrCat("cannot read ", options.events_topic, " from ", config.bootstrap, ": ",
                       n.status().message()));
      return 1;
    }
    options.partitions = *n;
    grpc_settings.state_partitions = *n;
    if (!grpc_settings.address.empty()) {
      absl::StatusOr<int> esc =
          (*admin)->PartitionCount(options.escalations_topic, absl::Seconds(30));
      absl::StatusOr<int> pol =
          (*admin)->PartitionCount(absl::GetFlag(FLAGS_policy_topic), absl::Seconds(30));
      if (!esc.ok() || !pol.ok() || *pol != 1) {
        Log(absl::StrCat(options.escalations_topic, " and ", absl::GetFlag(FLAGS_policy_topic),
                         " (one partition) must exist for the gRPC API: ",
                         !esc.ok()   ? esc.status().message()
                         : !pol.ok() ? pol.status().message()
                                     : absl::StrCat("the policy topic has ", *pol, " partitions")));
        return 1;
      }
      grpc_settings.escalations_partitions = *esc;
    } else {
      // No API: the policy topic is followed when there is one.
      absl::StatusOr<int> pol =
          (*admin)->PartitionCount(absl::GetFlag(FLAGS_policy_topic), absl::Seconds(30));
      if (absl::IsNotFound(pol.status())) {
        Log(absl::StrCat("NOTE: no ", absl::GetFlag(FLAGS_policy_topic),
                         " topic: this instance keeps its --policy (live policy changes need "
                         "the topic, one partition)"));
        grpc_settings.follow_policy = false;
      } else if (!pol.ok() || *pol != 1) {
        Log(absl::StrCat(absl::GetFlag(FLAGS_policy_topic), " must have one partition: ",
                         pol.ok() ? absl::StrCat("it has ", *pol) : pol.status().message()));
        return 1;
      }
    }
    for (const std::string& t : {options.commands_topic, options.state_topic}) {
      absl::StatusOr<int> m = (*admin)->PartitionCount(t, absl::Seconds(30));
      if (!m.ok() || *m != *n) {
        Log(absl::StrCat(t, " must exist with ", *n, " partitions (co-partitioned with ",
                         options.events_topic, ")", m.ok() ? absl::StrCat(", it has ", *m) : ""));
        return 1;
      }
    }
  }
  // Exactly-once or idempotent.
  bool in_process = embedded != nullptr;
  if (!in_process) {
    absl::StatusOr<std::unique_ptr<kafka::Admin>> admin = kafka::NewAdmin(config);
    absl::StatusOr<std::string> id =
        admin.ok() ? (*admin)->ClusterId(absl::Seconds(30)) : admin.status();
    if (!id.ok()) {
      Log(absl::StrCat("cannot read the cluster id of ", config.bootstrap, ": ",
                       id.status().message()));
      return 1;
    }
    in_process = kafka::IsInProcessCluster(*id);
  }
  const std::string eos = absl::GetFlag(FLAGS_exactly_once);
  if (eos != "auto" && eos != "true" && eos != "false") {
    Log(absl::StrCat("--exactly_once must be auto, true or false, not '", eos, "'"));
    return 2;
  }
  if (eos == "true" && in_process) {
    Log("--exactly_once=true needs a real Kafka cluster: the in-process broker's transactions "
        "discard the offsets they carry");
    return 2;
  }
  options.exactly_once = eos == "true" || (eos == "auto" && !in_process);
  Log(absl::StrCat("kafka ", config.bootstrap, ", group '", absl::GetFlag(FLAGS_group), "', ",
                   options.partitions, " partitions, clock ", clock_mode, ", ",
                   options.exactly_once ? "exactly-once (transactions, read_committed)"
                                        : "idempotent (at-least-once, offsets after outputs)"));

  kafka::ConsumerOptions co;
  co.group_id = absl::GetFlag(FLAGS_group);
  co.read_headers = false;  // events carry none that tidewatchd reads
  co.read_committed = true;
  absl::StatusOr<std::unique_ptr<kafka::Consumer>> consumer = kafka::NewConsumer(config, co);
  kafka::ProducerOptions po;
  po.delivery_timeout = absl::Minutes(10);
  if (options.exactly_once && options.commit_interval > absl::Minutes(3)) {
    // The transaction timeout below would pass the broker's
    // transaction.max.timeout.ms (15 min by default), refused with an error
    // that does not name the flag.
    Log(absl::StrCat("--commit_interval must be at most 3m with --exactly_once, not ",
                     absl::FormatDuration(options.commit_interval)));
    return 2;
  }
  if (options.exactly_once) {
    po.transactional_id = absl::StrCat(absl::GetFlag(FLAGS_group), "-", instance);
    // An instance that dies with a transaction open holds back read_committed
    // readers of its partitions until the broker aborts it: keep it short.
    po.transaction_timeout = std::max(absl::Seconds(10), 4 * options.commit_interval);
    Log(absl::StrCat("transactional.id ", *po.transactional_id));
  }
  absl::StatusOr<std::unique_ptr<kafka::Producer>> producer = kafka::NewProducer(config, po);
  if (!consumer.ok() || !producer.ok()) {
    Log(absl::StrCat("kafka clients: ",
                     consumer.ok() ? producer.status().message() : consumer.status().message()));
    return 1;
  }
  stream::ReaderFactory new_reader = [config]() {
    kafka::ConsumerOptions ro;
    ro.read_committed = true;
    return kafka::NewConsumer(config, ro);
  };
  stream::StreamProcessor processor(policy, options, **consumer, **producer, new_reader, clock);

  // The gRPC side (started below, once the HTTP endpoints are up).
  // Also without an API: every instance follows the policy topic.
  auto grpc_front = std::make_unique<tidewatchd::GrpcFront>(grpc_settings, config, clock, Log);

  // Operational endpoints.
  std::unique_ptr<http::HttpServer> server;
  if (!absl::GetFlag(FLAGS_metrics_address).empty()) {
    http::HttpServer::Handlers handlers;
    // The probes read StreamHealth: they answer while a partition recovers.
    handlers["/healthz"] = [&processor](const http::HttpRequest&) {
      stream::StreamHealth s = processor.Health();
      const bool healthy = s.started && !s.consumer_health.fatal && !s.producer_health.fatal;
      std::string body = absl::StrCat(
          healthy ? "ok" : "unhealthy", "\n", "brokers down: ", s.producer_health.brokers_down,
          "\n", "last error: ", s.last_error.empty() ? "-" : s.last_error, "\n");
      return http::HttpResponse{healthy ? 200 : 503, "text/plain; charset=utf-8", body};
    };
    handlers["/readyz"] = [&processor](const http::HttpRequest&) {
      stream::StreamHealth s = processor.Health();
      const bool stopping = g_stop.load();
      const bool ready = s.ready && !stopping;
      std::string body =
          ready      ? "ready\n"
          : stopping ? "not ready: stopping\n"
          : !s.started || !s.assigned
              ? "not ready: no partitions assigned yet\n"
              : absl::StrCat("not ready: recovering ", s.recovering, " partition(s)\n");
      return http::HttpResponse{ready ? 200 : 503, "text/plain; charset=utf-8", body};
    };
    // /lines and /metrics wait for the processor (a batch being applied;
    // the rewind after an aborted transaction, which reads the saved states
    // under its lock): at most kHeavyRequests of
    // them at once, the rest answered 503 at once, so that waiting scrapes
    // never take every server thread from the probes.
    auto heavy = std::make_shared<std::atomic<int>>(0);
    auto busy = [] {
      return http::HttpResponse{503, "text/plain; charset=utf-8",
                                "busy: earlier requests still wait for the processor (a "
                                "partition recovering?)\n"};
    };
    handlers["/lines"] = [&processor, heavy, busy](const http::HttpRequest&) {
      const HeavyRequest slot(*heavy);
      if (!slot.admitted()) return busy();
      return http::HttpResponse{200, "application/json", LinesJson(processor.Lines()) + "\n"};
    };
    // Prometheus metrics (libs/telemetry; docs/metrics.md "Prometheus metrics").
    telemetry::ExporterOptions metrics_options;
    metrics_options.max_lines = absl::GetFlag(FLAGS_max_metric_lines);
    // The policy in force at each scrape: live versions (ApplyPolicy,
    // rollbacks) change the teams' ack timeouts and the opening hours.
    auto exporter = std::make_shared<const telemetry::MetricsExporter>(
        telemetry::MetricsExporter::PolicySource([&processor] { return processor.policy(); }),
        metrics_options);
    handlers["/metrics"] = [&processor, exporter, heavy, busy,
                            front = grpc_front.get()](const http::HttpRequest&) {
      const HeavyRequest slot(*heavy);
      if (!slot.admitted()) return busy();
      std::string text = exporter->Render(processor.Status(), processor.Lines());
      if (front != nullptr) text += front->MetricsText();  // docs/api.md "Metrics"
      return http::HttpResponse{200, telemetry::MetricsExporter::kContentType, std::move(text)};
    };
    absl::StatusOr<std::unique_ptr<http::HttpServer>> srv =
        http::HttpServer::Start(absl::GetFlag(FLAGS_metrics_address), std::move(handlers));
    if (!srv.ok()) {
      Log(absl::StrCat("--metrics-address: ", srv.status().message()));
      return 1;
    }
    server = *std::move(srv);
    Log(absl::StrCat("serving /metrics /healthz /readyz /lines on port ", server->port()));
  }

  // gRPC API: reads the policy, escalations and state topics to their ends
  // first, so the newest policy version is in force before any event.
  if (grpc_front) {
    absl::Status s = grpc_front->Start(
        policy_yaml, policy, [&processor] { return processor.Lines(); },
        [&processor](std::shared_ptr<const policy::CompiledPolicy> p, int64_t version) {
          processor.SetPolicy(std::move(p), version);
        },
        [](const policy::CompiledPolicy& current, const policy::CompiledPolicy& candidate) {
          return engine::CheckPolicyChange(current, candidate);
        });
    if (!s.ok()) {
      Log(absl::StrCat(grpc_front->serving() ? "gRPC: " : "policy topic: ", s.message()));
      return 1;
    }
    if (grpc_front->serving()) {
      std::printf("grpc_port=%d\n", grpc_front->port());
      std::fflush(stdout);
    }
  }

  if (!BeginProcessing()) {
    // A stop during startup: the watchdog says so and ends the process.
    for (;;) absl::SleepFor(absl::Seconds(1));
  }
  if (absl::Status s = processor.Start(); !s.ok()) {
    Log(absl::StrCat("subscribe: ", s.message()));
    return 1;
  }
  Log("running");
  absl::Time last_report = absl::Now();
  bool was_ready = false;
  while (!g_stop.load()) {
    if (absl::Status s = processor.Step(absl::Milliseconds(100));
        s.code() == absl::StatusCode::kAborted) {
      Log(absl::StrCat("FENCED, exiting without publishing anything more: ",
                       processor.Status().fenced_reason, " (restart to rejoin)"));
      g_stop.store(true);  // the watchdog bounds this stop too
      processor.Shutdown(absl::Seconds(2)).IgnoreError();
      return Exiting(3);
    }
    const absl::Time now = absl::Now();
    stream::StreamStatus st;
    if (now - last_report > absl::Seconds(30) || !was_ready) st = processor.Status();
    if (!was_ready && st.ready) {
      was_ready = true;
      Log(absl::StrCat("ready: owning ", st.partitions.size(), " partition(s)"));
    }
    if (now - last_report > absl::Seconds(30)) {
      last_report = now;
      Log(absl::StrCat("status: ", st.events_applied, " events applied, ", st.dead_lettered,
                       " dead-lettered, ", st.escalations_produced, " escalations, ",
                       st.partitions.size(), " partitions",
                       st.last_error.empty() ? "" : absl::StrCat("; last error: ", st.last_error)));
    }
  }
  if (grpc_front) {
    if (grpc_front->serving()) Log("stopping: ending watch streams, stopping gRPC");
    grpc_front->Shutdown();
  }
  Log("stopping: flushing and committing");
  const std::vector<stream::LineStatus> final_lines = processor.Lines();
  // Two fifths of --shutdown_timeout (8 s of the default 20 s) for the
  // flush and commit; the rest for closing the clients.
  absl::Status s = processor.Shutdown(absl::GetFlag(FLAGS_shutdown_timeout) * 2 / 5);
  if (g_fatal.load()) {
    // Its clients are not usable any more: whatever the stop could commit,
    // a restart (new clients) is what it needs.
    stream::StreamStatus st = processor.Status();
    Log(absl::StrCat("stopped after a FATAL kafka error (above): ", st.events_applied,
                     " events applied, ", st.commits, " commits",
                     s.ok() ? "" : absl::StrCat(", the last NOT committed (", s.message(), ")"),
                     "; restart to continue"));
    return Exiting(3);
  }
  if (!s.ok()) {
    if (s.code() == absl::StatusCode::kAborted) {
      Log(absl::StrCat("FENCED, exiting without publishing anything more: ",
                       processor.Status().fenced_reason));
      return Exiting(3);
    }
    Log(absl::StrCat("stopped WITHOUT committing: ", s.message()));
    return Exiting(1);
  }
  stream::StreamStatus st = processor.Status();
  Log(absl::StrCat("stopped cleanly: ", st.events_applied, " events applied, ", st.commits,
                   " commits"));
  // The lines this instance owned, as it leaves them.
  std::vector<std::pair<std::string, tidewatch::v1::Kpis>> rows;
  for (const stream::LineStatus& l : final_lines) {
    if (l.totals.offered() > 0 || l.last_event != absl::InfinitePast())
      rows.emplace_back(l.line_id, l.totals);
  }
  if (!rows.empty()) {
    std::printf("\nPer-line totals (this instance's lines)\n%s",
                line::LineTotalsTable(rows).c_str());
    std::fflush(stdout);
  }
  return Exiting(0);
}

}  // namespace

int main(int argc, char** argv) {
  // Flags may be spelt with dashes (--events-topic) or underscores.
  tidewatch::ParseServiceFlags(
      argc, argv,
      "consumes call events from Kafka, keeps per-line KPIs and the rising tide live, "
      "publishes escalations.\n  tidewatchd [--brokers=embedded|HOST:PORT,...] [--policy FILE] "
      "...",
      "tidewatchd/main.cc");
  return Run();
}
