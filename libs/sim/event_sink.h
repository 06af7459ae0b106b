// Where the simulator's CallEvents go.
//
// The simulator hands every event, in event-time order, to an EventSink.
// Sinks here write JSON lines (the replay format) to a FILE* or a string, or
// keep the events for tests. A Kafka sink (binary protobuf, key = line_id)
// is meant to slot in behind the same interface once libs/kafka exists.
//
//   JsonLinesSink sink(stdout);
//   absl::StatusOr<Summary> s = Simulate(scenario, options, sink);
//   // Simulate flushes the sink before returning.
#ifndef TIDEWATCH_LIBS_SIM_EVENT_SINK_H_
#define TIDEWATCH_LIBS_SIM_EVENT_SINK_H_

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "tidewatch/v1/events.pb.h"

namespace tidewatch::sim {

// Receives events one at a time. Implementations may buffer; Flush() makes
// everything written so far reach its destination.
class EventSink {
 public:
  virtual ~EventSink() = default;
  // Takes one event. An error stops the simulation and is returned by it.
  virtual absl::Status Write(const tidewatch::v1::CallEvent& event) = 0;
  virtual absl::Status Flush() { return absl::OkStatus(); }
};

// A buffer in front of a FILE* it does not own, for the sinks that write
// text (JsonLinesSink, QueueLogSink): append to buffer(), call FlushIfFull()
// after each event and Flush() at the end. `what` names the output in
// errors ("writing events failed: ...").
class BufferedFileWriter {
 public:
  BufferedFileWriter(std::FILE* out, size_t buffer_bytes, std::string what);

  std::string& buffer() { return buffer_; }
  // Flush() once the buffer holds `buffer_bytes` or more.
  absl::Status FlushIfFull() {
    return buffer_.size() >= buffer_bytes_ ? Flush() : absl::OkStatus();
  }
  // Writes the buffer out and fflush()es the FILE*.
  absl::Status Flush();

 private:
  std::FILE* out_;
  size_t buffer_bytes_;
  std::string what_;
  std::string buffer_;
};

// Writes JSON lines (events::AppendJsonEvent + '\n') to a FILE* it does
// not own, through a buffer of `buffer_bytes`.
class JsonLinesSink final : public EventSink {
 public:
  explicit JsonLinesSink(std::FILE* out, size_t buffer_bytes = 1 << 20);
  ~JsonLinesSink() override;  // flushes; errors are lost (call Flush first)

  absl::Status Write(const tidewatch::v1::CallEvent& event) override;
  absl::Status Flush() override;

 private:
  BufferedFileWriter out_;
};

// Appends JSON lines to a string (tests, benchmarks).
class StringSink final : public EventSink {
 public:
  absl::Status Write(const tidewatch::v1::CallEvent& event) override;
  const std::string& text() const { return text_; }
  std::string& mutable_text() { return text_; }
  int64_t events() const { return events_; }

 private:
  std::string text_;
  int64_t events_ = 0;
};

// Keeps copies of the events (tests).
class CollectingSink final : public EventSink {
 public:
  absl::Status Write(const tidewatch::v1::CallEvent& event) override {
    events_.push_back(event);
    return absl::OkStatus();
  }
  const std::vector<tidewatch::v1::CallEvent>& events() const { return events_; }

 private:
  std::vector<tidewatch::v1::CallEvent> events_;
};

}  // namespace tidewatch::sim

#endif  // TIDEWATCH_LIBS_SIM_EVENT_SINK_H_
