#include "api/callup_board.h"

#include <utility>

#include "google/protobuf/util/message_differencer.h"

namespace tidewatch::api {

using tidewatch::v1::CallUp;
using tidewatch::v1::CallUpEvent;
using tidewatch::v1::CallUpFilter;

bool Matches(const CallUpFilter& filter, const CallUp& callup) {
  return (filter.team_id().empty() || filter.team_id() == callup.team_id()) &&
         (filter.line_id().empty() || filter.line_id() == callup.line_id());
}

std::optional<CallUpEvent> Subscription::Pop() {
  absl::MutexLock lock(&mu_);
  if (queue_.empty()) return std::nullopt;
  CallUpEvent e = std::move(queue_.front());
  queue_.pop_front();
  return e;
}

int64_t Subscription::resyncs() const {
  absl::MutexLock lock(&mu_);
  return resyncs_;
}

CallUpBoard::CallUpBoard(BoardOptions options) : options_(options) {}

void CallUpBoard::ApplyRecord(const kafka::Record& record) {
  tidewatch::v1::Escalation e;
  if (!e.ParseFromString(record.value)) {
    absl::MutexLock lock(&mu_);
    ++stats_.undecodable;
    return;
  }
  Apply(e);
}

void CallUpBoard::Snapshot(const CallUpFilter& filter, std::deque<CallUpEvent>* out) const {
  for (const auto& [key, c] : open_) {
    if (!Matches(filter, c)) continue;
    CallUpEvent& e = out->emplace_back();
    e.set_kind(CallUpEvent::OPEN);
    *e.mutable_callup() = c;
  }
  out->emplace_back().set_kind(CallUpEvent::SYNCED);
}

void CallUpBoard::Push(Subscription& sub, const CallUpEvent& event) {
  {
    absl::MutexLock lock(&sub.mu_);
    if (sub.queue_.size() >= sub.capacity_) {
      // Fell behind: drop what is queued, start over from the open set.
      sub.queue_.clear();
      ++sub.resyncs_;
      ++stats_.resyncs;
      sub.queue_.emplace_back().set_kind(CallUpEvent::RESYNC);
      Snapshot(sub.filter_, &sub.queue_);  // already reflects `event`
    } else {
      sub.queue_.push_back(event);
    }
  }
  if (sub.notify_) sub.notify_();
}

void CallUpBoard::Apply(const tidewatch::v1::Escalation& escalation) {
  if (!escalation.has_callup()) return;
  absl::MutexLock lock(&mu_);
  ++stats_.escalations;
  int64_t& last = last_sequence_[escalation.line_id()];
  if (escalation.sequence() > 0 && escalation.sequence() <= last) {
    ++stats_.duplicates;
    return;
  }
  last = std::max(last, escalation.sequence());
  const CallUp& c = escalation.callup();
  const auto key = std::make_pair(c.line_id(), c.id());
  auto it = open_.find(key);
  if (it != open_.end() && google::protobuf::util::MessageDifferencer::Equals(it->second, c)) {
    ++stats_.duplicates;
    return;
  }
  if (c.state() == tidewatch::v1::CALL_UP_STATE_STOOD_DOWN) {
    if (it != open_.end()) open_.erase(it);
    line_of_.erase(c.id());
  } else {
    open_[key] = c;
    line_of_[c.id()] = c.line_id();
  }
  ++stats_.updates;
  CallUpEvent event;
  event.set_kind(CallUpEvent::UPDATE);
  *event.mutable_callup() = c;
  for (const std::shared_ptr<Subscription>& sub : subs_) {
    if (Matches(sub->filter_, c)) Push(*sub, event);
  }
}

std::shared_ptr<Subscription> CallUpBoard::Subscribe(const CallUpFilter& filter,
                                                     std::function<void()> notify) {
  std::shared_ptr<Subscription> sub(
      new Subscription(filter, std::move(notify), options_.queue_capacity));
  absl::MutexLock lock(&mu_);
  {
    absl::MutexLock sub_lock(&sub->mu_);
    Snapshot(filter, &sub->queue_);
  }
  subs_.insert(sub);
  return sub;
}

void CallUpBoard::Unsubscribe(const std::shared_ptr<Subscription>& subscription) {
  absl::MutexLock lock(&mu_);
  subs_.erase(subscription);
}

std::vector<CallUp> CallUpBoard::Open(const CallUpFilter& filter) const {
  absl::MutexLock lock(&mu_);
  std::vector<CallUp> out;
  for (const auto& [key, c] : open_) {
    if (Matches(filter, c)) out.push_back(c);
  }
  return out;
}

std::optional<CallUp> CallUpBoard::Find(const std::string& callup_id) const {
  absl::MutexLock lock(&mu_);
  auto l = line_of_.find(callup_id);
  if (l == line_of_.end()) return std::nullopt;
  auto it = open_.find({l->second, callup_id});
  if (it == open_.end()) return std::nullopt;
  return it->second;
}

BoardStats CallUpBoard::Stats() const {
  absl::MutexLock lock(&mu_);
  BoardStats s = stats_;
  s.open = static_cast<int64_t>(open_.size());
  s.watchers = static_cast<int64_t>(subs_.size());
  return s;
}

}  // namespace tidewatch::api
