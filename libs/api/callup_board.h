// The call-ups every tidewatchd instance knows about, for gRPC watchers.
//
// Each instance reads tidewatch.escalations in full (a TopicFollower feeding
// ApplyRecord) and keeps every open call-up's latest state by id. Watchers
// subscribe with a filter (team and/or line): a new subscription first gets
// every open call-up that matches (OPEN), then SYNCED, then each change live
// (UPDATE), with nothing lost or repeated in between. Each subscription has
// a bounded queue: the board never waits for a watcher. A watcher that falls
// behind by more than the queue holds loses its queued updates and gets
// RESYNC followed by the open call-ups again; it is counted in Stats().
//
//   CallUpBoard board({.queue_capacity = 1024});
//   auto sub = board.Subscribe(filter, [&] { /* events waiting: call sub->Pop() */ });
//   while (std::optional<v1::CallUpEvent> e = sub->Pop()) Send(*e);
//   board.Unsubscribe(sub);  // after this, the notify callback is never called again
//
// Escalations are deduplicated by their per-line sequence number (a
// re-emission after recovery is applied once), and a call-up update equal
// to what the board holds is not passed on.
//
// Thread-safe. Lock order: board, then whatever the notify callback takes,
// then the subscription; the callback runs with the board's lock held and
// must not call back into the board.
#ifndef TIDEWATCH_LIBS_API_CALLUP_BOARD_H_
#define TIDEWATCH_LIBS_API_CALLUP_BOARD_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "kafka/kafka.h"
#include "tidewatch/v1/service.pb.h"
#include "tidewatch/v1/tide.pb.h"

namespace tidewatch::api {

// Board settings.
struct BoardOptions {
  // Events a subscription may hold before it is told to resync.
  size_t queue_capacity = 1024;
};

// Counters for metrics and tests.
struct BoardStats {
  int64_t escalations = 0;
  int64_t duplicates = 0;   // escalations already seen (sequence not new)
  int64_t undecodable = 0;  // records that are not an Escalation
  int64_t updates = 0;      // call-up changes passed on
  int64_t open = 0;         // open call-ups now
  int64_t watchers = 0;     // subscriptions now
  int64_t resyncs = 0;      // subscriptions that fell behind, in total
};

// Whether a call-up matches a filter (empty fields match anything).
bool Matches(const tidewatch::v1::CallUpFilter& filter, const tidewatch::v1::CallUp& callup);

// One watcher's bounded queue.
class Subscription {
 public:
  // The next event, or nullopt when the queue is empty.
  std::optional<tidewatch::v1::CallUpEvent> Pop();
  // Times this subscription fell behind.
  int64_t resyncs() const;

 private:
  friend class CallUpBoard;
  Subscription(tidewatch::v1::CallUpFilter filter, std::function<void()> notify, size_t capacity)
      : filter_(std::move(filter)), notify_(std::move(notify)), capacity_(capacity) {}

  const tidewatch::v1::CallUpFilter filter_;
  const std::function<void()> notify_;
  const size_t capacity_;
  mutable absl::Mutex mu_;
  std::deque<tidewatch::v1::CallUpEvent> queue_ ABSL_GUARDED_BY(mu_);
  int64_t resyncs_ ABSL_GUARDED_BY(mu_) = 0;
};

// The open call-ups and their watchers.
class CallUpBoard {
 public:
  explicit CallUpBoard(BoardOptions options = {});

  // Decodes a tidewatch.escalations record and applies it.
  void ApplyRecord(const kafka::Record& record);
  // Applies one escalation (call-ups only; the rest is ignored).
  void Apply(const tidewatch::v1::Escalation& escalation);

  // A new watcher: its queue starts with the matching open call-ups (OPEN)
  // and SYNCED. `notify` is called (board lock held) whenever events were
  // queued for it.
  std::shared_ptr<Subscription> Subscribe(const tidewatch::v1::CallUpFilter& filter,
                                          std::function<void()> notify);
  void Unsubscribe(const std::shared_ptr<Subscription>& subscription);

  // Open call-ups matching `filter`, by line then id.
  std::vector<tidewatch::v1::CallUp> Open(const tidewatch::v1::CallUpFilter& filter) const;
  // An open call-up by id.
  std::optional<tidewatch::v1::CallUp> Find(const std::string& callup_id) const;
  BoardStats Stats() const;

 private:
  void Push(Subscription& sub, const tidewatch::v1::CallUpEvent& event)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Snapshot(const tidewatch::v1::CallUpFilter& filter,
                std::deque<tidewatch::v1::CallUpEvent>* out) const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  const BoardOptions options_;
  mutable absl::Mutex mu_;
  // Open call-ups by (line, id) so snapshots come out in a stable order.
  std::map<std::pair<std::string, std::string>, tidewatch::v1::CallUp> open_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> line_of_ ABSL_GUARDED_BY(mu_);  // id -> line
  std::map<std::string, int64_t> last_sequence_ ABSL_GUARDED_BY(mu_);
  std::set<std::shared_ptr<Subscription>> subs_ ABSL_GUARDED_BY(mu_);
  BoardStats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tidewatch::api

#endif  // TIDEWATCH_LIBS_API_CALLUP_BOARD_H_
