// ForwardingProducer and ForwardingConsumer: a Producer or Consumer that
// hands every call to another one, as the base of a decorator that changes
// or observes one or two calls (fault injection in tests, timing in
// benches) around a real client.
//
//   class TimedCommits final : public kafka::ForwardingProducer {
//    public:
//     using ForwardingProducer::ForwardingProducer;
//     absl::Status CommitTransaction(absl::Duration timeout) override {
//       const absl::Time t = clock.Now();
//       absl::Status s = real().CommitTransaction(timeout);
//       spent += clock.Now() - t;
//       return s;
//     }
//   };
#ifndef TIDEWATCH_LIBS_KAFKA_FORWARDING_H_
#define TIDEWATCH_LIBS_KAFKA_FORWARDING_H_

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kafka/kafka.h"

namespace tidewatch::kafka {

// A Producer that forwards every call to `real`.
class ForwardingProducer : public Producer {
 public:
  explicit ForwardingProducer(std::unique_ptr<Producer> real) : real_(std::move(real)) {}

  int Poll(absl::Duration timeout) override { return real_->Poll(timeout); }
  absl::Status Flush(absl::Duration timeout) override { return real_->Flush(timeout); }
  int64_t InFlight() const override { return real_->InFlight(); }
  absl::Status PrepareTopics(const std::vector<std::string>& topics,
                             absl::Duration timeout) override {
    return real_->PrepareTopics(topics, timeout);
  }
  absl::Status InitTransactions(absl::Duration timeout) override {
    return real_->InitTransactions(timeout);
  }
  absl::Status BeginTransaction() override { return real_->BeginTransaction(); }
  absl::Status SendOffsetsToTransaction(const std::vector<TopicPartition>& offsets,
                                        const ConsumerGroupMetadata& group,
                                        absl::Duration timeout) override {
    return real_->SendOffsetsToTransaction(offsets, group, timeout);
  }
  absl::Status CommitTransaction(absl::Duration timeout) override {
    return real_->CommitTransaction(timeout);
  }
  absl::Status AbortTransaction(absl::Duration timeout) override {
    return real_->AbortTransaction(timeout);
  }
  ClientHealth Health() const override { return real_->Health(); }

 protected:
  Producer& real() { return *real_; }
  const Producer& real() const { return *real_; }
  absl::Status DoProduce(const std::string& topic, std::string key, std::string value,
                         std::vector<Header> headers, DeliveryCallback on_delivery) override {
    return real_->Produce(topic, std::move(key), std::move(value), std::move(headers),
                          std::move(on_delivery));
  }

 private:
  std::unique_ptr<Producer> real_;
};

// A Consumer that forwards every call to `real`.
class ForwardingConsumer : public Consumer {
 public:
  explicit ForwardingConsumer(std::unique_ptr<Consumer> real) : real_(std::move(real)) {}

  absl::Status Subscribe(const std::vector<std::string>& topics,
                         RebalanceListener* listener) override {
    return real_->Subscribe(topics, listener);
  }
  absl::Status PollBatch(size_t max_records, absl::Duration timeout, RecordBatch* out) override {
    return real_->PollBatch(max_records, timeout, out);
  }
  absl::Status Assign(const std::vector<TopicPartition>& p) override { return real_->Assign(p); }
  absl::StatusOr<std::optional<Record>> Poll(absl::Duration timeout) override {
    return real_->Poll(timeout);
  }
  absl::Status Commit(const std::vector<TopicPartition>& offsets, bool async) override {
    return real_->Commit(offsets, async);
  }
  absl::Status CommitAsync(const std::vector<TopicPartition>& offsets,
                           CommitCallback on_result) override {
    return real_->CommitAsync(offsets, std::move(on_result));
  }
  absl::StatusOr<std::vector<TopicPartition>> Committed(const std::vector<TopicPartition>& p,
                                                        absl::Duration timeout) override {
    return real_->Committed(p, timeout);
  }
  absl::Status Seek(const TopicPartition& position, absl::Duration timeout) override {
    return real_->Seek(position, timeout);
  }
  int64_t PositionEpoch() const override { return real_->PositionEpoch(); }
  absl::StatusOr<std::vector<TopicPartition>> OffsetsForTimes(const std::vector<TopicPartition>& p,
                                                              absl::Time time,
                                                              absl::Duration timeout) override {
    return real_->OffsetsForTimes(p, time, timeout);
  }
  absl::StatusOr<std::vector<TopicPartition>> Assignment() override { return real_->Assignment(); }
  absl::Status Pause(const std::vector<TopicPartition>& p) override { return real_->Pause(p); }
  absl::Status Resume(const std::vector<TopicPartition>& p) override { return real_->Resume(p); }
  absl::StatusOr<Watermarks> QueryWatermarks(const std::string& topic, int32_t partition,
                                             absl::Duration timeout) override {
    return real_->QueryWatermarks(topic, partition, timeout);
  }
  absl::StatusOr<std::vector<PartitionLag>> Lag() override { return real_->Lag(); }
  absl::StatusOr<ConsumerGroupMetadata> GroupMetadata() override { return real_->GroupMetadata(); }
  absl::Status Close() override { return real_->Close(); }
  ClientHealth Health() const override { return real_->Health(); }

 protected:
  Consumer& real() { return *real_; }
  const Consumer& real() const { return *real_; }

 private:
  std::unique_ptr<Consumer> real_;
};

}  // namespace tidewatch::kafka

#endif  // TIDEWATCH_LIBS_KAFKA_FORWARDING_H_
