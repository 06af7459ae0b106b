// The simulator's events written as an Asterisk queue_log, for testing the
// queue_log bridge (services/queuelog-bridge) end to end.
//
// QueueLogSink turns each CallEvent into the line app_queue would have
// written (docs/integrations.md has the format), with synthetic caller
// numbers from Ofcom's drama ranges (01632 960000-960999, 020 7946 0000-0999,
// 07700 900000-900999, ...; never a real subscriber), Asterisk-style
// uniqueids as call ids, one queue per line ("<line_id>-q") and member
// interfaces "Local/<agent_id>@agents". LineMapYaml() then gives the line
// map the bridge needs to map the queue names back to the line ids (and the
// agents back to their origins; callback key "1").
//
//   std::FILE* f = std::fopen("queue_log", "wb");
//   QueueLogSink sink(f);
//   Simulate(scenario, options, sink);
//   WriteFile("lines.yaml", sink.LineMapYaml());
//
// queue_log has whole seconds, so what the bridge gets back differs from
// the simulator's events in known ways: times and waits are floored to the
// second (so "wait < 5 s" short abandons are unchanged), wrap time, queue
// priority and first-call resolution are not in queue_log, agents' ON_CALL
// and WRAP_UP states are implicit (CONNECT / COMPLETE*), left_queue OVERFLOW
// is written as EXITEMPTY, and event and call ids are the bridge's own.
// Every count (offered, answered, abandoned, short abandons, call-backs,
// left queue, completed) survives exactly.
#ifndef TIDEWATCH_LIBS_SIM_QUEUE_LOG_SINK_H_
#define TIDEWATCH_LIBS_SIM_QUEUE_LOG_SINK_H_

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "sim/event_sink.h"

namespace tidewatch::sim {

// The `index`-th synthetic caller number from Ofcom's drama ranges (20
// ranges of 1000 numbers; the index wraps after 20000). Even indexes are in
// national form ("01632960123"), odd ones international ("+441632960124").
std::string DramaCallerNumber(uint64_t index);

// Writes queue_log lines to a FILE* it does not own; see the file comment.
class QueueLogSink final : public EventSink {
 public:
  explicit QueueLogSink(std::FILE* out, size_t buffer_bytes = 1 << 20);
  ~QueueLogSink() override;  // flushes; errors are lost (call Flush first)

  absl::Status Write(const tidewatch::v1::CallEvent& event) override;
  absl::Status Flush() override;

  // The bridge's line map for what was written so far.
  std::string LineMapYaml() const;
  // Distinct callers seen (numbers handed out).
  int64_t callers() const { return static_cast<int64_t>(numbers_.size()); }
  int64_t lines_written() const { return lines_written_; }

  // The queue name for a line id.
  static std::string QueueName(const std::string& line_id) { return line_id + "-q"; }
  // The member interface for an agent id.
  static std::string MemberName(const std::string& agent_id) {
    return "Local/" + agent_id + "@agents";
  }

 private:
  struct Call {
    std::string uniqueid;
    int64_t queued_ms = 0;
    int64_t hold = 0;  // seconds queued before CONNECT
    int position = 0;
  };
  struct Member {
    bool logged_in = false;
    bool paused = false;
  };
  void Line(int64_t seconds, const std::string& callid, const std::string& queue,
            const std::string& agent, const char* event, const std::string& data);

  BufferedFileWriter out_;
  int64_t lines_written_ = 0;
  uint64_t next_uniqueid_ = 0;
  absl::flat_hash_map<std::string, uint64_t> numbers_;  // caller_key -> number index
  absl::flat_hash_map<std::string, Call> calls_;        // sim call_id -> call
  std::map<std::string, int> waiting_;                  // line -> calls waiting
  std::map<std::string, Member> members_;               // "line|agent" -> state
  std::map<std::string, std::string> lines_;            // queue -> line id
  std::map<std::string, std::string> origins_;          // member prefix -> origin name
};

// A queue_log file written through a QueueLogSink, optionally next to
// another sink (tide-sim --queue-log-out / --line-map-out).
class QueueLogFile final : public EventSink {
 public:
  // Creates `path`; `also` (may be null, must outlive this) gets every
  // event first. `line_map_path` (may be empty) receives LineMapYaml() on
  // Close.
  static absl::StatusOr<std::unique_ptr<QueueLogFile>> Open(const std::string& path,
                                                            const std::string& line_map_path,
                                                            EventSink* also);
  ~QueueLogFile() override;

  absl::Status Write(const tidewatch::v1::CallEvent& event) override;
  absl::Status Flush() override;
  // Flushes and closes the queue_log, then writes the line map.
  absl::Status Close();
  EventSink* sink() { return this; }

 private:
  QueueLogFile(std::FILE* file, std::string line_map_path, EventSink* also);
  std::FILE* file_;
  std::string line_map_path_;
  EventSink* also_;
  QueueLogSink sink_;
};

}  // namespace tidewatch::sim

#endif  // TIDEWATCH_LIBS_SIM_QUEUE_LOG_SINK_H_
