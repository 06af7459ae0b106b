// ForwardingConsumer: a kafka::Consumer that hands every call to a real
// consumer, for tests that change one or two calls (the far side of our own
// interface) around a real consumer of a real broker.
//
//   class StallingConsumer : public ForwardingConsumer {
//     using ForwardingConsumer::ForwardingConsumer;
//     absl::Status PollBatch(...) override { ...; return real().PollBatch(...); }
//   };
#ifndef TIDEWATCH_TESTS_STREAM_FORWARDING_CONSUMER_H_
#define TIDEWATCH_TESTS_STREAM_FORWARDING_CONSUMER_H_

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kafka/kafka.h"

namespace tidewatch::stream {

// Forwards everything to `real`.
class ForwardingConsumer : public kafka::Consumer {
 public:
  explicit ForwardingConsumer(std::unique_ptr<kafka::Consumer> real) : real_(std::move(real)) {}

  absl::Status Subscribe(const std::vector<std::string>& topics,
                         kafka::RebalanceListener* listener) override {
    return real_->Subscribe(topics, listener);
  }
  absl::Status PollBatch(size_t max_records, absl::Duration timeout,
                         std::vector<kafka::Record>* out) override {
    return real_->PollBatch(max_records, timeout, out);
  }
  absl::Status Assign(const std::vector<kafka::TopicPartition>& p) override {
    return real_->Assign(p);
  }
  absl::StatusOr<std::optional<kafka::Record>> Poll(absl::Duration timeout) override {
    return real_->Poll(timeout);
  }
  absl::Status Commit(const std::vector<kafka::TopicPartition>& offsets, bool async) override {
    return real_->Commit(offsets, async);
  }
  absl::Status CommitAsync(const std::vector<kafka::TopicPartition>& offsets,
                           kafka::CommitCallback on_result) override {
    return real_->CommitAsync(offsets, std::move(on_result));
  }
  absl::StatusOr<std::vector<kafka::TopicPartition>> Committed(
      const std::vector<kafka::TopicPartition>& p, absl::Duration timeout) override {
    return real_->Committed(p, timeout);
  }
  absl::Status Seek(const kafka::TopicPartition& position, absl::Duration timeout) override {
    return real_->Seek(position, timeout);
  }
  int64_t PositionEpoch() const override { return real_->PositionEpoch(); }
  absl::StatusOr<std::vector<kafka::TopicPartition>> OffsetsForTimes(
      const std::vector<kafka::TopicPartition>& p, absl::Time time,
      absl::Duration timeout) override {
    return real_->OffsetsForTimes(p, time, timeout);
  }
  absl::StatusOr<std::vector<kafka::TopicPartition>> Assignment() override {
    return real_->Assignment();
  }
  absl::Status Pause(const std::vector<kafka::TopicPartition>& p) override {
    return real_->Pause(p);
  }
  absl::Status Resume(const std::vector<kafka::TopicPartition>& p) override {
    return real_->Resume(p);
  }
  absl::StatusOr<kafka::Watermarks> QueryWatermarks(const std::string& topic, int32_t partition,
                                                    absl::Duration timeout) override {
    return real_->QueryWatermarks(topic, partition, timeout);
  }
  absl::StatusOr<std::vector<kafka::PartitionLag>> Lag() override { return real_->Lag(); }
  absl::StatusOr<kafka::ConsumerGroupMetadata> GroupMetadata() override {
    return real_->GroupMetadata();
  }
  absl::Status Close() override { return real_->Close(); }
  kafka::ClientHealth Health() const override { return real_->Health(); }

 protected:
  kafka::Consumer& real() { return *real_; }

 private:
  std::unique_ptr<kafka::Consumer> real_;
};

}  // namespace tidewatch::stream

#endif  // TIDEWATCH_TESTS_STREAM_FORWARDING_CONSUMER_H_
