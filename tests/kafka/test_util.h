// Shared helpers for the libs/kafka tests: a fresh in-process broker per
// test, client settings tuned for fast groups, produce-and-wait and
// consume-until helpers.
#ifndef TIDEWATCH_TESTS_KAFKA_TEST_UTIL_H_
#define TIDEWATCH_TESTS_KAFKA_TEST_UTIL_H_

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "kafka/embedded_broker.h"
#include "kafka/kafka.h"

namespace tidewatch::kafka::testing {

// Client settings for tests: statistics every 500 ms, reconnects retried at
// least every second, librdkafka's log lines of level <= 3 (errors) on
// stderr.
inline KafkaConfig TestConfig(const EmbeddedBroker& broker, const std::string& client_id) {
  KafkaConfig c;
  c.bootstrap = broker.bootstrap();
  c.client_id = client_id;
  c.stats_interval = absl::Milliseconds(500);
  c.extra["reconnect.backoff.max.ms"] = "1000";
  // TIDEWATCH_KAFKA_DEBUG=cgrp,... turns on librdkafka debug logs.
  const char* debug = std::getenv("TIDEWATCH_KAFKA_DEBUG");
  if (debug != nullptr) c.extra["debug"] = debug;
  const int max_level = debug != nullptr ? 7 : 3;
  c.on_log = [max_level](int level, std::string_view facility, std::string_view message) {
    if (level <= max_level) {
      std::fprintf(stderr, "librdkafka %d %.*s: %.*s\n", level, static_cast<int>(facility.size()),
                   facility.data(), static_cast<int>(message.size()), message.data());
    }
  };
  return c;
}

// Group consumer settings for the in-process broker: short session and
// heartbeat so rebalances take seconds.
inline ConsumerOptions GroupOptions(const std::string& group) {
  ConsumerOptions o;
  o.group_id = group;
  o.session_timeout = absl::Seconds(6);
  o.heartbeat_interval = absl::Milliseconds(500);
  return o;
}

// What a producer's delivery callbacks saw. Thread-safe.
class Deliveries {
 public:
  DeliveryCallback Callback() {
    return [this](const absl::Status& s, const Record& r) {
      absl::MutexLock lock(&mu_);
      statuses_.push_back(s);
      records_.push_back(r);
    };
  }
  size_t size() const {
    absl::MutexLock lock(&mu_);
    return records_.size();
  }
  std::vector<absl::Status> statuses() const {
    absl::MutexLock lock(&mu_);
    return statuses_;
  }
  std::vector<Record> records() const {
    absl::MutexLock lock(&mu_);
    return records_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<absl::Status> statuses_;
  std::vector<Record> records_;
};

// Polls `consumer` until `want` records arrived or `timeout` passed.
inline std::vector<Record> ConsumeN(Consumer& consumer, size_t want, absl::Duration timeout) {
  RecordBatch out;
  const absl::Time deadline = absl::Now() + timeout;
  while (out.size() < want && absl::Now() < deadline) {
    absl::Status s = consumer.PollBatch(want - out.size(), absl::Milliseconds(100), &out);
    if (!s.ok()) ADD_FAILURE() << "poll: " << s;
  }
  return out.TakeRecords();
}

// Keeps polling for `d`, collecting whatever arrives.
inline std::vector<Record> ConsumeFor(Consumer& consumer, absl::Duration d) {
  RecordBatch out;
  const absl::Time deadline = absl::Now() + d;
  while (absl::Now() < deadline) {
    absl::Status s = consumer.PollBatch(1000, absl::Milliseconds(50), &out);
    if (!s.ok()) ADD_FAILURE() << "poll: " << s;
  }
  return out.TakeRecords();
}

// Polls until `done()` or `timeout`; true if done.
inline bool PollUntil(const std::function<void()>& poll, const std::function<bool()>& done,
                      absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() >= deadline) return false;
    poll();
  }
  return true;
}

// All partitions of `topic` from the beginning.
inline std::vector<TopicPartition> FromBeginning(const std::string& topic, int partitions) {
  std::vector<TopicPartition> out;
  for (int p = 0; p < partitions; ++p) out.push_back({topic, p, kOffsetBeginning});
  return out;
}

}  // namespace tidewatch::kafka::testing

#endif  // TIDEWATCH_TESTS_KAFKA_TEST_UTIL_H_
