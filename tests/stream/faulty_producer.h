// FaultyProducer: a test fake in front of a real kafka::Producer that
// injects the delivery faults the streaming core must survive. Each record
// produced gets a fate from a policy (a callback, or one of the ready-made
// ones below):
//
//   Forward  sent on to the real producer (the default);
//   Hold     kept back in the fake: neither sent nor reported, as a batch
//            still in a client whose process dies, until ReleaseHeld();
//   Lose     never sent, and reported failed with the given error at the
//            next Poll or Flush (as a delivery timeout would be).
//
// Apart from that, a gate on the delivery reports of the records that were
// sent: while it is closed the records are written but their owner is not
// told; reports held back are handed over (in production order, some of
// them failed if asked) inside the next Poll or Flush, as librdkafka's are.
//
// Held records, lost records not yet reported and held reports all count in
// InFlight(), and Flush() reports DeadlineExceeded while records or reports
// are held. Not thread-safe: like a real client's callbacks, everything
// happens in the producer's calls.
//
//   FaultyProducer* faulty = nullptr;
//   clients.wrap = [&](std::unique_ptr<kafka::Producer> inner) {
//     auto p = std::make_unique<FaultyProducer>(
//         std::move(inner), FaultyProducer::LoseFirst("escalations", 2));
//     faulty = p.get();
//     return p;
//   };
//   ...
//   EXPECT_EQ(faulty->lost(), 2);
//
// or, for the reports: faulty->CloseGate(); ... EXPECT_GT(faulty->held_reports(), 0u);
// faulty->FailHeldReports(3); ... faulty->OpenGate();
#ifndef TIDEWATCH_TESTS_STREAM_FAULTY_PRODUCER_H_
#define TIDEWATCH_TESTS_STREAM_FAULTY_PRODUCER_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "kafka/forwarding.h"
#include "kafka/kafka.h"

namespace tidewatch::stream::testing {

class FaultyProducer final : public kafka::ForwardingProducer {
 public:
  // What becomes of one produced record.
  struct Fate {
    enum class Kind { kForward, kHold, kLose };
    Kind kind = Kind::kForward;
    absl::Status error;  // kLose: the delivery error reported

    static Fate Forward() { return {}; }
    static Fate Hold() { return {Kind::kHold, absl::OkStatus()}; }
    static Fate Lose(
        absl::Status error = absl::UnavailableError("kafka delivery (injected: record lost)")) {
      return {Kind::kLose, std::move(error)};
    }
  };
  // Chooses a record's fate as it is produced (topic, key, value and headers
  // set). May keep state (e.g. a count).
  using Policy = std::function<Fate(const kafka::Record& record)>;

  // Every record forwarded.
  static Policy ForwardAll() {
    return [](const kafka::Record&) { return Fate::Forward(); };
  }
  // Every record for `topic` held, the rest forwarded.
  static Policy HoldTopic(std::string topic) {
    return [topic = std::move(topic)](const kafka::Record& r) {
      return r.topic == topic ? Fate::Hold() : Fate::Forward();
    };
  }
  // The first `n` records for `topic` lost (failed with `error`), the rest
  // forwarded.
  static Policy LoseFirst(std::string topic, int n, absl::Status error = Fate::Lose().error) {
    return [topic = std::move(topic), left = n,
            error = std::move(error)](const kafka::Record& r) mutable {
      if (r.topic != topic || left <= 0) return Fate::Forward();
      --left;
      return Fate::Lose(error);
    };
  }

  explicit FaultyProducer(std::unique_ptr<kafka::Producer> real, Policy policy = ForwardAll())
      : ForwardingProducer(std::move(real)), policy_(std::move(policy)) {}

  // For the records produced from now on.
  void set_policy(Policy policy) { policy_ = std::move(policy); }

  // Records held (produced, neither sent nor reported) right now.
  int64_t held_records() const { return static_cast<int64_t>(held_records_.size()); }
  // The next Poll or Flush sends the held records on, in production order
  // (the policy still decides for records produced later).
  void ReleaseHeld() { release_records_ = true; }

  // Records lost so far (reported or still to be).
  int lost() const { return lost_; }

  // Holds back the delivery reports of sent records from now on.
  void CloseGate() { gate_closed_ = true; }
  // Lets every held report (at the next Poll or Flush) and all later ones
  // through.
  void OpenGate() { gate_closed_ = false; }
  // The next Poll or Flush reports the `n` earliest produced of the held
  // reports' records as failed (Unavailable) and the rest as they came; the
  // gate stays as it is. (Produce order, not report order: a real broker
  // reports partitions' batches in its own order, and the earliest records
  // are the ones a commit point taken meanwhile certainly covers.)
  void FailHeldReports(size_t n) {
    fail_reports_ = n;
    release_reports_ = true;
  }
  // Delivery reports held back right now.
  size_t held_reports() const { return held_reports_.size(); }

  // Returns the real producer's count plus the lost records reported (held
  // reports were counted when the real producer served them).
  int Poll(absl::Duration timeout) override {
    const int n = real().Poll(timeout);
    SendReleasedRecords();
    const int lost = ReportLost();
    ReleaseReports();
    return n + lost;
  }
  absl::Status Flush(absl::Duration timeout) override {
    SendReleasedRecords();
    absl::Status s = real().Flush(timeout);
    ReportLost();
    ReleaseReports();
    if (!s.ok()) return s;
    if (!held_records_.empty()) return absl::DeadlineExceededError("held: records not sent");
    if (!held_reports_.empty()) {
      return absl::DeadlineExceededError("gated: delivery reports held back");
    }
    return s;
  }
  int64_t InFlight() const override {
    return real().InFlight() + static_cast<int64_t>(held_records_.size()) +
           static_cast<int64_t>(lost_unreported_.size()) +
           static_cast<int64_t>(held_reports_.size());
  }

 protected:
  absl::Status DoProduce(const std::string& topic, std::string key, std::string value,
                         std::vector<kafka::Header> headers,
                         kafka::DeliveryCallback on_delivery) override {
    kafka::Record r;
    r.topic = topic;
    r.key = std::move(key);
    r.value = std::move(value);
    r.headers = std::move(headers);
    Fate fate = policy_ ? policy_(r) : Fate::Forward();
    switch (fate.kind) {
      case Fate::Kind::kForward:
        return Send(std::move(r), std::move(on_delivery));
      case Fate::Kind::kHold:
        held_records_.push_back({std::move(r), std::move(on_delivery)});
        return absl::OkStatus();
      case Fate::Kind::kLose:
        ++lost_;
        lost_unreported_.push_back({std::move(fate.error), std::move(r), std::move(on_delivery)});
        return absl::OkStatus();
    }
    return absl::OkStatus();
  }

 private:
  struct Pending {
    kafka::Record record;
    kafka::DeliveryCallback callback;
  };
  struct Report {
    absl::Status status;
    kafka::Record record;
    kafka::DeliveryCallback callback;
    int64_t order = 0;  // of production (held reports)
  };

  // Produces `r` to the real producer, its report passing the gate.
  absl::Status Send(kafka::Record r, kafka::DeliveryCallback on_delivery) {
    return real().Produce(r.topic, std::move(r.key), std::move(r.value), std::move(r.headers),
                          [this, order = produced_++, cb = std::move(on_delivery)](
                              const absl::Status& s, const kafka::Record& record) {
                            if (gate_closed_ || !held_reports_.empty()) {
                              held_reports_.push_back({s, record, cb, order});
                            } else if (cb) {
                              cb(s, record);
                            }
                          });
  }

  void SendReleasedRecords() {
    if (!release_records_) return;
    release_records_ = false;
    for (Pending& p : std::exchange(held_records_, {})) {
      absl::Status s = Send(p.record, p.callback);
      if (!s.ok() && p.callback) p.callback(s, p.record);
    }
  }

  int ReportLost() {
    std::vector<Report> lost = std::exchange(lost_unreported_, {});
    for (Report& l : lost) {
      if (l.callback) l.callback(l.status, l.record);
    }
    return static_cast<int>(lost.size());
  }

  void ReleaseReports() {
    if (!release_reports_ && gate_closed_) return;
    release_reports_ = false;
    std::vector<Report> held = std::exchange(held_reports_, {});
    std::sort(held.begin(), held.end(),
              [](const Report& a, const Report& b) { return a.order < b.order; });
    for (size_t i = 0; i < held.size(); ++i) {
      absl::Status s = held[i].status;
      if (i < fail_reports_) s = absl::UnavailableError("kafka delivery (injected failure)");
      if (held[i].callback) held[i].callback(s, held[i].record);
    }
    fail_reports_ = 0;
  }

  Policy policy_;
  // Hold.
  std::vector<Pending> held_records_;
  bool release_records_ = false;
  // Lose.
  int lost_ = 0;
  std::vector<Report> lost_unreported_;
  // The report gate.
  bool gate_closed_ = false;
  bool release_reports_ = false;
  size_t fail_reports_ = 0;
  int64_t produced_ = 0;
  std::vector<Report> held_reports_;
};

}  // namespace tidewatch::stream::testing

#endif  // TIDEWATCH_TESTS_STREAM_FAULTY_PRODUCER_H_
