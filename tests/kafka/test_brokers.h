// Test suites parameterised over the two brokers tidewatch runs against: the
// in-process broker (embedded_broker.h, or the kafka-dev-broker process) and
// a real Apache Kafka started by scripts/kafka-broker.
//
//   class MyTest : public ::testing::TestWithParam<testing::BrokerKind> {};
//   TEST_P(MyTest, Works) {
//     TIDEWATCH_SKIP_WITHOUT_REAL_KAFKA(GetParam());
//     ...
//   }
//   INSTANTIATE_TEST_SUITE_P(InProcess, MyTest, ::testing::Values(testing::BrokerKind::kInProcess),
//                            testing::BrokerName);
//   INSTANTIATE_TEST_SUITE_P(RealKafka, MyTest, ::testing::Values(testing::BrokerKind::kReal),
//                            testing::BrokerName);
//
// tests/CMakeLists.txt (tidewatch_test ... BROKERS) labels the "RealKafka/"
// instances `kafka`. They read the broker's address from the environment
// variable TIDEWATCH_KAFKA_BOOTSTRAP (scripts/test sets it) and skip with a
// message when it is unset. A real broker keeps every test's topics, so each
// test asks for unique names (UniquePrefix) and creates its topics itself.
#ifndef TIDEWATCH_TESTS_KAFKA_TEST_BROKERS_H_
#define TIDEWATCH_TESTS_KAFKA_TEST_BROKERS_H_

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "kafka/kafka.h"

namespace tidewatch::testing {

// Which broker a parameterised test runs against.
enum class BrokerKind { kInProcess, kReal };

// How gtest prints the parameter (test listings, ctest names).
// "RealKafka" or "InProcess": the instantiation prefix tests/CMakeLists.txt
// labels by, and the name in test output.
inline const char* BrokerKindName(BrokerKind kind) {
  return kind == BrokerKind::kReal ? "RealKafka" : "InProcess";
}

inline void PrintTo(BrokerKind kind, std::ostream* os) { *os << BrokerKindName(kind); }

// Test name suffix for INSTANTIATE_TEST_SUITE_P.
inline std::string BrokerName(const ::testing::TestParamInfo<BrokerKind>& info) {
  return BrokerKindName(info.param);
}

// The real broker's bootstrap from TIDEWATCH_KAFKA_BOOTSTRAP; nullopt when
// unset. Prints the broker (and its version, TIDEWATCH_KAFKA_VERSION) once
// per process, so the test log names it.
inline std::optional<std::string> RealKafkaBootstrap() {
  const char* b = std::getenv("TIDEWATCH_KAFKA_BOOTSTRAP");
  if (b == nullptr || *b == '\0') return std::nullopt;
  static std::atomic<bool> printed{false};
  if (!printed.exchange(true)) {
    const char* v = std::getenv("TIDEWATCH_KAFKA_VERSION");
    std::printf("[broker] Apache Kafka %s at %s\n", v != nullptr ? v : "(version unknown)", b);
    std::fflush(stdout);
  }
  return std::string(b);
}

#define TIDEWATCH_SKIP_WITHOUT_REAL_KAFKA(kind)                                               \
  do {                                                                                        \
    if ((kind) == ::tidewatch::testing::BrokerKind::kReal &&                                  \
        !::tidewatch::testing::RealKafkaBootstrap()) {                                        \
      GTEST_SKIP() << "no real Kafka: TIDEWATCH_KAFKA_BOOTSTRAP is unset (scripts/test sets " \
                      "it; or run scripts/kafka-broker start and export it)";                 \
    }                                                                                         \
  } while (0)

// A prefix no other test (in this or another process) uses: "t<pid>-<n>-".
inline std::string UniquePrefix() {
  static std::atomic<int> n{0};
  return absl::StrCat("t", getpid(), "-", absl::ToUnixMillis(absl::Now()) % 100000000, "-",
                      n.fetch_add(1), "-");
}

// Creates topics on a real broker (partitions, replication 1) and waits until
// the broker's metadata shows each with its partition count.
inline absl::Status CreateRealTopics(const std::string& bootstrap,
                                     const std::vector<std::pair<std::string, int>>& topics,
                                     const std::map<std::string, std::string>& compacted = {}) {
  kafka::KafkaConfig config;
  config.bootstrap = bootstrap;
  config.client_id = "test-admin";
  absl::StatusOr<std::unique_ptr<kafka::Admin>> admin = kafka::NewAdmin(config);
  if (!admin.ok()) return admin.status();
  std::vector<kafka::TopicSpec> specs;
  for (const auto& [name, partitions] : topics) {
    kafka::TopicSpec spec;
    spec.name = name;
    spec.partitions = partitions;
    spec.replication_factor = 1;
    if (compacted.contains(name)) spec.config["cleanup.policy"] = "compact";
    specs.push_back(std::move(spec));
  }
  if (absl::Status s = (*admin)->CreateTopics(specs, absl::Seconds(30)); !s.ok()) return s;
  for (const auto& [name, partitions] : topics) {
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    for (;;) {
      absl::StatusOr<int> n = (*admin)->PartitionCount(name, absl::Seconds(5));
      if (n.ok() && *n == partitions) break;
      if (absl::Now() > deadline) {
        return absl::DeadlineExceededError(absl::StrCat("topic ", name, " not visible"));
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
  }
  return absl::OkStatus();
}

// Every committed record of `topic` partitions [0, partitions) from the log
// start to the end as it was when reading began (read_committed: records of
// aborted transactions are not returned, transaction markers are passed by
// position, not by records). The end is the high watermark, not the last
// stable offset: a transaction's commit returns before its markers are
// written, so right after a commit the stable offset may still lag behind
// records that are committed; reading waits for them (and for an open
// transaction to end, e.g. aborted by the broker's transaction timeout).
inline absl::StatusOr<std::vector<kafka::Record>> ReadCommitted(
    const kafka::KafkaConfig& config, const std::string& topic, int partitions,
    absl::Duration timeout = absl::Seconds(60)) {
  kafka::ConsumerOptions options;
  options.read_committed = true;
  absl::StatusOr<std::unique_ptr<kafka::Consumer>> consumer = kafka::NewConsumer(config, options);
  if (!consumer.ok()) return consumer.status();
  kafka::ConsumerOptions uncommitted;
  uncommitted.read_committed = false;  // its watermarks are the high watermarks
  absl::StatusOr<std::unique_ptr<kafka::Consumer>> marks = kafka::NewConsumer(config, uncommitted);
  if (!marks.ok()) return marks.status();
  std::vector<int64_t> end(partitions), next(partitions);
  std::vector<kafka::TopicPartition> assignment;
  for (int p = 0; p < partitions; ++p) {
    absl::StatusOr<kafka::Watermarks> wm = (*marks)->QueryWatermarks(topic, p, absl::Seconds(10));
    if (!wm.ok()) return wm.status();
    end[p] = wm->high;
    next[p] = wm->low;
    assignment.push_back({topic, p, kafka::kOffsetBeginning});
  }
  if (absl::Status s = (*consumer)->Assign(assignment); !s.ok()) return s;
  std::vector<kafka::Record> out;
  const absl::Time deadline = absl::Now() + timeout;
  auto done = [&] {
    for (int p = 0; p < partitions; ++p) {
      if (next[p] < end[p]) return false;
    }
    return true;
  };
  while (!done()) {
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("reading ", topic, ": not at the end after ",
                                                      absl::FormatDuration(timeout)));
    }
    kafka::RecordBatch batch;
    (*consumer)->PollBatch(5000, absl::Milliseconds(200), &batch).IgnoreError();
    for (kafka::Record& r : batch) {
      if (r.offset >= end[r.partition]) continue;
      next[r.partition] = std::max(next[r.partition], r.offset + 1);
      out.push_back(std::move(r));
    }
    if (absl::StatusOr<std::vector<kafka::PartitionLag>> lag = (*consumer)->Lag(); lag.ok()) {
      for (const kafka::PartitionLag& l : *lag) {
        if (l.partition >= 0 && l.partition < partitions) {
          next[l.partition] = std::max(next[l.partition], l.position);
        }
      }
    }
  }
  (*consumer)->Close().IgnoreError();
  return out;
}

}  // namespace tidewatch::testing

#endif  // TIDEWATCH_TESTS_KAFKA_TEST_BROKERS_H_
