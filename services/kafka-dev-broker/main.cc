// kafka-dev-broker: an in-process Kafka cluster (librdkafka's mock broker,
// see libs/kafka/embedded_broker.h) as a standalone process, so tidewatchd,
// tide-sim and tidectl can run against "Kafka" on a laptop without Java.
// Development and demos only: in memory, no compaction, no transaction
// isolation, old data silently dropped.
//
//   kafka-dev-broker [--brokers N] [--topic NAME:PARTITIONS]... [--no-default-topics]
//
// Prints `bootstrap=HOST:PORT[,...]` as the first line on stdout (the ports
// are ephemeral), then one `topic=NAME partitions=N` line per topic, and
// serves until SIGTERM or SIGINT, then exits 0. Unless --no-default-topics,
// tidewatch's topics are created:
//   telephony.call-events:12  tidewatch.commands:12  tidewatch.escalations:12
//   tidewatch.state:12  tidewatch.dead-letter:1
// (call events, commands, escalations and state are all keyed by line id and
// co-partitioned). --topic adds a topic or changes a default's partitions.
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"
#include "kafka/embedded_broker.h"

namespace {

constexpr char kUsage[] =
    "usage: kafka-dev-broker [--brokers N] [--topic NAME:PARTITIONS]... [--no-default-topics]\n"
    "  --brokers N               number of brokers (default 1)\n"
    "  --topic NAME:PARTITIONS   create a topic (repeatable; overrides a default's partitions)\n"
    "  --no-default-topics       do not create tidewatch's topics\n"
    "Prints bootstrap=HOST:PORT first on stdout; runs until SIGTERM/SIGINT.\n";

struct Flags {
  int brokers = 1;
  bool default_topics = true;
  std::map<std::string, int> topics;  // name -> partitions, from --topic
};

bool ParseInt(std::string_view text, int* out) {
  return absl::SimpleAtoi(absl::string_view(text.data(), text.size()), out);
}

// Returns false (after printing why) on a usage error.
bool ParseFlags(int argc, char** argv, Flags* flags) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view name = arg, value;
    bool has_value = false;
    if (size_t eq = arg.find('='); eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    auto take_value = [&]() -> bool {
      if (has_value) return true;
      if (i + 1 >= argc) {
        std::fprintf(stderr, "kafka-dev-broker: %s needs a value\n%s", argv[i], kUsage);
        return false;
      }
      value = argv[++i];
      return true;
    };
    if (name == "--help" || name == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (name == "--brokers") {
      if (!take_value()) return false;
      if (!ParseInt(value, &flags->brokers) || flags->brokers < 1 || flags->brokers > 16) {
        std::fprintf(stderr, "kafka-dev-broker: --brokers wants 1..16, got '%.*s'\n",
                     static_cast<int>(value.size()), value.data());
        return false;
      }
    } else if (name == "--topic") {
      if (!take_value()) return false;
      const size_t colon = value.rfind(':');
      int partitions = 0;
      if (colon == std::string_view::npos || colon == 0 ||
          !ParseInt(value.substr(colon + 1), &partitions) || partitions < 1) {
        std::fprintf(stderr, "kafka-dev-broker: --topic wants NAME:PARTITIONS, got '%.*s'\n",
                     static_cast<int>(value.size()), value.data());
        return false;
      }
      flags->topics[std::string(value.substr(0, colon))] = partitions;
    } else if (name == "--no-default-topics" && !has_value) {
      flags->default_topics = false;
    } else {
      std::fprintf(stderr, "kafka-dev-broker: unknown argument '%s'\n%s", argv[i], kUsage);
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) return 2;

  std::map<std::string, int> topics;
  if (flags.default_topics) {
    topics = {{"telephony.call-events", 12},
              {"tidewatch.commands", 12},
              {"tidewatch.escalations", 12},
              {"tidewatch.state", 12},
              {"tidewatch.dead-letter", 1}};
  }
  for (const auto& [name, partitions] : flags.topics) topics[name] = partitions;

  // Block the stop signals before the broker's threads start (they inherit
  // the mask), then wait for them here.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  std::fputs(
      "WARNING: kafka-dev-broker is librdkafka's in-process mock Kafka broker, for development "
      "and demos only.\n"
      "  Data lives in memory and is lost on exit; partitions keep only recent data (~5 MiB);\n"
      "  no compaction, no transaction isolation, no CreateTopics API. Never use it in "
      "production.\n",
      stderr);

  absl::StatusOr<std::unique_ptr<tidewatch::kafka::EmbeddedBroker>> broker =
      tidewatch::kafka::EmbeddedBroker::Start(flags.brokers);
  if (!broker.ok()) {
    std::fprintf(stderr, "kafka-dev-broker: %s\n", std::string(broker.status().message()).c_str());
    return 1;
  }
  std::printf("bootstrap=%s\n", (*broker)->bootstrap().c_str());
  std::fflush(stdout);
  for (const auto& [name, partitions] : topics) {
    const int replication = flags.brokers >= 3 ? 3 : flags.brokers;
    if (absl::Status s = (*broker)->CreateTopic(name, partitions, replication); !s.ok()) {
      std::fprintf(stderr, "kafka-dev-broker: %s\n", std::string(s.message()).c_str());
      return 1;
    }
    std::printf("topic=%s partitions=%d\n", name.c_str(), partitions);
  }
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop, &sig);
  std::fprintf(stderr, "kafka-dev-broker: %s, stopping\n", strsignal(sig));
  broker->reset();
  return 0;
}
