// Breach-to-watcher latency: from the call event that breaches a tier being
// produced to Kafka, to the page arriving at a gRPC watcher of the team.
//
// One process: the in-process Kafka broker, a StreamProcessor (the owning
// instance, stepping on its own thread), and an API front (call-up board
// following tidewatch.escalations, gRPC server) with one watcher connected
// over loopback. For each of --pages lines in turn: a call queues at T, then
// the breaching event (stamped T + 30 s: the longest wait is over the 5 s
// enter threshold at the next evaluation) is produced and the clock starts;
// it stops when the watcher receives that line's PAGED update. Pages are
// one at a time, so each is measured on an idle pipeline.
//
//   build/release/bench/api/callup_latency_bench [--pages 300]
//
// Prints p50, p90, p99 and max. Numbers: docs/performance.md.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "api/api_server.h"
#include "api/callup_board.h"
#include "api/command_sender.h"
#include "api/line_directory.h"
#include "api/policy_store.h"
#include "api/topic_follower.h"
#include "common/clock.h"
#include "common/proto_time.h"
#include "kafka/embedded_broker.h"
#include "kafka/kafka.h"
#include "policy/policy.h"
#include "stream/stream_processor.h"
#include "tidewatch/v1/service.grpc.pb.h"

namespace tidewatch {
namespace {

constexpr int kPartitions = 4;

std::string LineId(int i) { return absl::StrCat("line-", 1000 + i); }

std::string BenchPolicy(int lines) {
  std::string y = R"(name: Latency bench
windows: [5m, 15m]
allowed_lateness: 2m
evaluation_interval: 10s
defaults:
  opening_hours: {always: true}
  feed_stale_after: 24h
  tiers:
    - level: 1
      name: Queue stuck
      enter:
        any:
          - {metric: longest_waiting, above: 5s}
      sustain: 0s
      exit:
        all:
          - {metric: longest_waiting, below: 1s}
      min_hold: 0s
      callups:
        - {team: bench-team, headcount: 2, duration: 1h}
teams:
  bench-team:
    display_name: Bench team
    ack_timeout: 24h
    rota:
      - {name: Bench lead, contact: bench-lead}
lines:
)";
  for (int i = 0; i < lines; ++i) absl::StrAppend(&y, "  ", LineId(i), ": {}\n");
  return y;
}

int Run(int pages) {
  RealClock clock;
  auto broker_or = kafka::EmbeddedBroker::Start(1);
  if (!broker_or.ok()) {
    std::fprintf(stderr, "broker: %s\n", std::string(broker_or.status().message()).c_str());
    return 1;
  }
  std::unique_ptr<kafka::EmbeddedBroker> broker = *std::move(broker_or);
  for (const char* t : {"telephony.call-events", "tidewatch.commands", "tidewatch.escalations",
                        "tidewatch.state"}) {
    if (!broker->CreateTopic(t, kPartitions).ok()) return 1;
  }
  if (!broker->CreateTopic("tidewatch.dead-letter", 1).ok()) return 1;
  if (!broker->CreateTopic("tidewatch.policy", 1).ok()) return 1;
  kafka::KafkaConfig config;
  config.bootstrap = broker->bootstrap();
  config.clock = &clock;

  const std::string yaml = BenchPolicy(pages);
  absl::StatusOr<policy::CompiledPolicy> loaded = policy::LoadPolicyYaml(yaml, "bench policy");
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s\n", std::string(loaded.status().message()).c_str());
    return 1;
  }
  auto policy = std::make_shared<const policy::CompiledPolicy>(*std::move(loaded));

  // The owning instance.
  stream::StreamOptions so;
  so.partitions = kPartitions;
  so.wall_clock_ticks = false;
  so.commit_interval = absl::Milliseconds(500);
  kafka::ConsumerOptions co;
  co.group_id = "tidewatch";
  co.fetch_wait_max = absl::Milliseconds(10);
  auto consumer = *kafka::NewConsumer(config, co);
  kafka::ProducerOptions po;
  po.linger = absl::Milliseconds(1);
  auto producer = *kafka::NewProducer(config, po);
  stream::StreamProcessor processor(
      policy, so, *consumer, *producer,
      [config]() { return kafka::NewConsumer(config, kafka::ConsumerOptions{}); }, clock);
  if (!processor.Start().ok()) return 1;
  std::atomic<bool> stop{false};
  std::thread stepper([&] {
    while (!stop.load()) processor.Step(absl::Milliseconds(5)).IgnoreError();
  });

  // The API front.
  auto api_producer = *kafka::NewProducer(config, po);
  api::CommandSender sender(*api_producer);
  api::CallUpBoard board;
  api::PolicyStore store(yaml, policy, {}, sender, clock);
  api::LineDirectory lines([&processor] { return processor.Lines(); },
                           [&store] { return store.Current(); });
  kafka::ConsumerOptions ro;
  ro.fetch_wait_max = absl::Milliseconds(10);
  api::TopicFollower follower(*kafka::NewConsumer(config, ro),
                              api::FollowerOptions{"tidewatch.escalations", kPartitions},
                              [&board](const kafka::Record& r) { board.ApplyRecord(r); });
  if (!follower.Start().ok()) return 1;
  api::ApiServerOptions aso;
  aso.address = "127.0.0.1:0";
  aso.insecure = true;
  auto server = *api::ApiServer::Start(aso, {&board, &store, &lines, &sender, &clock});

  // The watcher.
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server->port()),
                                     grpc::InsecureChannelCredentials());
  auto stub = v1::CallUpService::NewStub(channel);
  grpc::ClientContext ctx;
  v1::WatchCallUpsRequest req;
  req.mutable_filter()->set_team_id("bench-team");
  auto reader = stub->Watch(&ctx, req);
  absl::Mutex mu;
  std::map<std::string, absl::Time> paged_at;  // line -> first PAGED arrival
  std::thread watcher([&] {
    v1::CallUpEvent e;
    while (reader->Read(&e)) {
      if (e.kind() == v1::CallUpEvent::UPDATE && e.callup().state() == v1::CALL_UP_STATE_PAGED) {
        const absl::Time now = absl::Now();
        absl::MutexLock lock(&mu);
        paged_at.emplace(e.callup().line_id(), now);
      }
    }
    reader->Finish().IgnoreError();
  });

  // Wait for the group and recovery.
  const absl::Time ready_by = absl::Now() + absl::Seconds(60);
  while (!processor.Status().ready && absl::Now() < ready_by)
    absl::SleepFor(absl::Milliseconds(50));
  if (!processor.Status().ready) {
    std::fprintf(stderr, "processor not ready\n");
    return 1;
  }

  auto events = *kafka::NewProducer(config, po);
  const absl::Time base =
      absl::FromCivil(absl::CivilSecond(2022, 10, 3, 9, 0, 0), absl::UTCTimeZone());
  std::vector<double> ms;
  int missed = 0;
  auto event = [&](int line, const std::string& call, absl::Time t, bool queued) {
    v1::CallEvent e;
    e.set_event_id(absl::StrCat(LineId(line), "/", call, queued ? "/q" : "/a"));
    e.set_line_id(LineId(line));
    e.set_call_id(call);
    ToProto(t, e.mutable_event_time());
    if (queued) {
      e.mutable_queued()->set_caller_key(call);
    } else {
      e.mutable_answered()->set_agent_id("agent");
    }
    return e;
  };
  for (int i = 0; i < pages; ++i) {
    const absl::Time t = base + absl::Seconds(60) * i;
    // The stuck call (and, for the line paged last, nothing more).
    v1::CallEvent q = event(i, "stuck", t, true);
    events->Produce("telephony.call-events", q.line_id(), q.SerializeAsString()).IgnoreError();
    events->Flush(absl::Seconds(5)).IgnoreError();
    // The breaching event: another call on the same line, 30 s later.
    v1::CallEvent b = event(i, "next", t + absl::Seconds(30), true);
    const absl::Time sent = absl::Now();
    events->Produce("telephony.call-events", b.line_id(), b.SerializeAsString()).IgnoreError();
    events->Flush(absl::Seconds(5)).IgnoreError();
    const std::string line = LineId(i);
    absl::MutexLock lock(&mu);
    auto arrived = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return paged_at.count(line) > 0; };
    if (mu.AwaitWithTimeout(absl::Condition(&arrived), absl::Seconds(5))) {
      ms.push_back(absl::ToDoubleMilliseconds(paged_at[line] - sent));
    } else {
      ++missed;
    }
  }

  ctx.TryCancel();
  watcher.join();
  server->Shutdown(absl::Seconds(1));
  follower.Stop();
  stop = true;
  stepper.join();
  processor.Shutdown(absl::Seconds(5)).IgnoreError();

  if (ms.size() < 2) {
    std::fprintf(stderr, "no page arrived\n");
    return 1;
  }
  // The first page also pays for the first fetches of every client (cold
  // connections); it is reported on its own.
  const double cold = ms.front();
  ms.erase(ms.begin());
  std::sort(ms.begin(), ms.end());
  auto q = [&](double p) {
    return ms[std::min(ms.size() - 1, static_cast<size_t>(p * static_cast<double>(ms.size())))];
  };
  std::printf(
      "breach-to-watcher latency over %zu pages (%d missed): p50 %.1f ms, p90 %.1f ms, p99 %.1f "
      "ms, max %.1f ms; first (cold) page %.1f ms\n",
      ms.size(), missed, q(0.50), q(0.90), q(0.99), ms.back(), cold);
  return missed == 0 ? 0 : 1;
}

}  // namespace
}  // namespace tidewatch

int main(int argc, char** argv) {
  int pages = 300;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--pages") pages = std::atoi(argv[i + 1]);
  }
  return tidewatch::Run(pages);
}
