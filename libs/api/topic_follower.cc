#include "api/topic_follower.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace tidewatch::api {

TopicFollower::TopicFollower(std::unique_ptr<kafka::Consumer> consumer, FollowerOptions options,
                             Handler handler)
    : consumer_(std::move(consumer)), options_(std::move(options)), handler_(std::move(handler)) {}

TopicFollower::~TopicFollower() { Stop(); }

absl::Status TopicFollower::Start() {
  std::vector<kafka::TopicPartition> assignment;
  std::vector<int64_t> ends(options_.partitions, 0);
  for (int32_t p = 0; p < options_.partitions; ++p) {
    absl::StatusOr<kafka::Watermarks> wm =
        consumer_->QueryWatermarks(options_.topic, p, options_.watermark_timeout);
    if (!wm.ok()) {
      return absl::UnavailableError(absl::StrCat("cannot read the end of ", options_.topic, " [", p,
                                                 "]: ", wm.status().message()));
    }
    ends[p] = wm->high;
    assignment.push_back({options_.topic, p, kafka::kOffsetBeginning});
  }
  if (absl::Status s = consumer_->Assign(assignment); !s.ok()) return s;
  {
    absl::MutexLock lock(&mu_);
    end_at_start_ = ends;
    next_.assign(options_.partitions, 0);
    caught_up_ = true;
    for (int32_t p = 0; p < options_.partitions; ++p) {
      if (ends[p] > 0) caught_up_ = false;
    }
  }
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void TopicFollower::Run() {
  kafka::RecordBatch batch;
  bool caught_up = CaughtUp();  // only this thread changes it
  while (!stop_.load()) {
    batch.clear();
    // Records polled with an error are handled like any others.
    if (absl::Status s = consumer_->PollBatch(500, options_.poll_timeout, &batch); !s.ok()) {
      errors_.fetch_add(1);
      if (options_.on_error) options_.on_error(s);
    }
    for (const kafka::Record& r : batch) handler_(r);
    // Reading committed, a transaction's marker (and an aborted
    // transaction's records) is never handed over, but the consumer's
    // position moves past it: the end noted at Start is usually just past
    // a marker, which no record reaches. Its positions count too, asked
    // while catching up (also after a poll that returned nothing).
    std::vector<kafka::PartitionLag> positions;
    if (!caught_up) {
      if (absl::StatusOr<std::vector<kafka::PartitionLag>> lag = consumer_->Lag(); lag.ok()) {
        positions = *std::move(lag);
      }
    }
    if (batch.empty() && positions.empty()) continue;
    absl::MutexLock lock(&mu_);
    handled_ += static_cast<int64_t>(batch.size());
    auto reached = [this](int32_t partition, int64_t next) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      if (partition >= 0 && partition < static_cast<int32_t>(next_.size())) {
        next_[partition] = std::max(next_[partition], next);
      }
    };
    for (const kafka::Record& r : batch) reached(r.partition, r.offset + 1);
    for (const kafka::PartitionLag& l : positions) {
      if (l.topic == options_.topic && l.position >= 0) reached(l.partition, l.position);
    }
    if (!caught_up_) {
      bool all = true;
      for (size_t p = 0; p < next_.size(); ++p) {
        if (next_[p] < end_at_start_[p]) all = false;
      }
      caught_up_ = all;
    }
    caught_up = caught_up_;
  }
}

bool TopicFollower::CaughtUp() const {
  absl::MutexLock lock(&mu_);
  return caught_up_;
}

bool TopicFollower::WaitCaughtUp(absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(&caught_up_), timeout);
}

int64_t TopicFollower::handled() const {
  absl::MutexLock lock(&mu_);
  return handled_;
}

void TopicFollower::Stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

}  // namespace tidewatch::api
