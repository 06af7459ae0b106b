#include "sim/queue_log_sink.h"

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "events/events.h"
#include "sim/scenario.h"

namespace tidewatch::sim {
namespace {

using tidewatch::v1::CallEvent;

// Ofcom's numbers for TV and radio drama (national digits without the last
// three): 1000 numbers each.
constexpr const char* kDramaRanges[] = {
    "01632960", "02079460", "01134960", "01144960", "01154960", "01164960", "01174960",
    "01184960", "01214960", "01314960", "01414960", "01514960", "01614960", "01914980",
    "02896496", "02920180", "07700900", "08081570", "09098790", "03069990",
};
constexpr uint64_t kNumRanges = sizeof kDramaRanges / sizeof kDramaRanges[0];

int64_t Millis(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1000 + t.nanos() / 1000000;
}

int64_t FloorSeconds(int64_t ms) { return ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000); }

int64_t DurationSeconds(const google::protobuf::Duration& d) { return d.seconds(); }

}  // namespace

std::string DramaCallerNumber(uint64_t index) {
  const uint64_t i = index % (kNumRanges * 1000);
  const std::string national =
      absl::StrCat(kDramaRanges[i / 1000], absl::Dec(i % 1000, absl::kZeroPad3));
  if (index % 2 == 0) return national;
  return absl::StrCat("+44", national.substr(1));
}

QueueLogSink::QueueLogSink(std::FILE* out, size_t buffer_bytes)
    : out_(out, buffer_bytes, "queue_log") {}

QueueLogSink::~QueueLogSink() { Flush().IgnoreError(); }

void QueueLogSink::Line(int64_t seconds, const std::string& callid, const std::string& queue,
                        const std::string& agent, const char* event, const std::string& data) {
  absl::StrAppend(&out_.buffer(), seconds, "|", callid, "|", queue, "|", agent, "|", event, "|",
                  data, "\n");
  ++lines_written_;
}

absl::Status QueueLogSink::Write(const CallEvent& e) {
  const int64_t now_ms = Millis(e.event_time());
  const int64_t t = FloorSeconds(now_ms);
  const std::string queue = QueueName(e.line_id());
  lines_[queue] = e.line_id();
  int& waiting = waiting_[e.line_id()];
  auto wait_of = [&](const Call& c) { return FloorSeconds(now_ms - c.queued_ms); };

  if (e.kind_case() == CallEvent::kAgentState) {
    const v1::AgentState& s = e.agent_state();
    const std::string member = MemberName(s.agent_id());
    if (s.origin() != tidewatch::v1::AGENT_ORIGIN_CSC &&
        s.origin() != tidewatch::v1::AGENT_ORIGIN_UNSPECIFIED) {
      origins_["Local/" + s.agent_id() + "@"] = std::string(OriginName(s.origin()));
    }
    Member& m = members_[absl::StrCat(e.line_id(), "|", s.agent_id())];
    switch (s.state()) {
      case tidewatch::v1::AGENT_STATUS_LOGGED_OUT:
        if (m.logged_in) Line(t, "NONE", queue, member, "REMOVEMEMBER", "");
        m = Member{};
        break;
      case tidewatch::v1::AGENT_STATUS_AWAY:
        if (!m.logged_in) Line(t, "NONE", queue, member, "ADDMEMBER", "");
        m.logged_in = true;
        if (!m.paused) Line(t, "NONE", queue, member, "PAUSE", "break");
        m.paused = true;
        break;
      case tidewatch::v1::AGENT_STATUS_AVAILABLE:
        if (!m.logged_in) {
          Line(t, "NONE", queue, member, "ADDMEMBER", "");
        } else if (m.paused) {
          Line(t, "NONE", queue, member, "UNPAUSE", "");
        }
        m.logged_in = true;
        m.paused = false;
        break;
      default:  // ON_CALL, WRAP_UP: implicit in CONNECT and COMPLETE*
        if (!m.logged_in) Line(t, "NONE", queue, member, "ADDMEMBER", "");
        m.logged_in = true;
        break;
    }
  } else if (e.kind_case() == CallEvent::kQueued) {
    Call& c = calls_[e.call_id()];
    c.uniqueid = absl::StrCat(t, ".", next_uniqueid_++);
    c.queued_ms = now_ms;
    c.position = ++waiting;
    std::string number;
    if (!e.queued().caller_key().empty()) {
      auto [it, inserted] = numbers_.try_emplace(e.queued().caller_key(), numbers_.size());
      number = DramaCallerNumber(it->second);
    }
    Line(t, c.uniqueid, queue, "NONE", "ENTERQUEUE", absl::StrCat("|", number, "|", c.position));
  } else {
    auto it = calls_.find(e.call_id());
    if (it == calls_.end()) return absl::OkStatus();  // a call this sink never saw queued
    Call& c = it->second;
    bool done = false;
    switch (e.kind_case()) {
      case CallEvent::kAnswered: {
        const int64_t wait =
            e.answered().has_wait() ? DurationSeconds(e.answered().wait()) : wait_of(c);
        Line(t, c.uniqueid, queue, MemberName(e.answered().agent_id()), "CONNECT",
             absl::StrCat(wait, "|", c.uniqueid, ".1|0"));
        c.hold = wait;
        --waiting;
        break;
      }
      case CallEvent::kAbandoned: {
        const int64_t wait =
            e.abandoned().has_wait() ? DurationSeconds(e.abandoned().wait()) : wait_of(c);
        Line(t, c.uniqueid, queue, "NONE", "ABANDON",
             absl::StrCat(std::max(1, waiting), "|", c.position, "|", wait));
        --waiting;
        done = true;
        break;
      }
      case CallEvent::kCallbackRequested:
        Line(t, c.uniqueid, queue, "NONE", "EXITWITHKEY",
             absl::StrCat("1|", std::max(1, waiting), "|", c.position, "|", wait_of(c)));
        --waiting;
        done = true;
        break;
      case CallEvent::kLeftQueue: {
        const std::string data =
            absl::StrCat(std::max(1, waiting), "|", c.position, "|", wait_of(c));
        switch (e.left_queue().reason()) {
          case tidewatch::v1::LEFT_QUEUE_REASON_TIMEOUT:
            Line(t, c.uniqueid, queue, "NONE", "EXITWITHTIMEOUT", data);
            break;
          case tidewatch::v1::LEFT_QUEUE_REASON_EXIT_KEY:
            Line(t, c.uniqueid, queue, "NONE", "EXITWITHKEY", absl::StrCat("2|", data));
            break;
          default:  // OVERFLOW, EMPTY, TRANSFER: the queue emptied / closed
            Line(t, c.uniqueid, queue, "NONE", "EXITEMPTY", data);
            break;
        }
        --waiting;
        done = true;
        break;
      }
      case CallEvent::kCompleted: {
        const int64_t talk = e.completed().has_talk() ? DurationSeconds(e.completed().talk()) : 0;
        Line(t, c.uniqueid, queue, MemberName(e.completed().agent_id()),
             next_uniqueid_ % 2 == 0 ? "COMPLETEAGENT" : "COMPLETECALLER",
             absl::StrCat(c.hold, "|", talk, "|", c.position));
        done = true;
        break;
      }
      default:
        break;
    }
    if (done) calls_.erase(it);
  }
  return out_.FlushIfFull();
}

absl::Status QueueLogSink::Flush() { return out_.Flush(); }

std::string QueueLogSink::LineMapYaml() const {
  std::string out =
      "# Written by tide-sim --line-map-out for its --queue-log-out file.\n"
      "source: asterisk\n"
      "queues:\n";
  for (const auto& [queue, line] : lines_) absl::StrAppend(&out, "  \"", queue, "\": ", line, "\n");
  absl::StrAppend(&out, "callback_exit_keys: [\"1\"]\ndefault_agent_origin: csc\n");
  if (!origins_.empty()) {
    absl::StrAppend(&out, "agent_origins:\n");
    for (const auto& [prefix, origin] : origins_) {
      absl::StrAppend(&out, "  \"", prefix, "\": ", origin, "\n");
    }
  }
  return out;
}

absl::StatusOr<std::unique_ptr<QueueLogFile>> QueueLogFile::Open(const std::string& path,
                                                                 const std::string& line_map_path,
                                                                 EventSink* also) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot write ", path, ": ", std::strerror(errno)));
  }
  return std::unique_ptr<QueueLogFile>(new QueueLogFile(f, line_map_path, also));
}

QueueLogFile::QueueLogFile(std::FILE* file, std::string line_map_path, EventSink* also)
    : file_(file), line_map_path_(std::move(line_map_path)), also_(also), sink_(file) {}

QueueLogFile::~QueueLogFile() {
  if (file_ != nullptr) {
    sink_.Flush().IgnoreError();
    std::fclose(file_);
  }
}

absl::Status QueueLogFile::Write(const tidewatch::v1::CallEvent& event) {
  if (also_ != nullptr) {
    if (absl::Status s = also_->Write(event); !s.ok()) return s;
  }
  return sink_.Write(event);
}

absl::Status QueueLogFile::Flush() {
  if (also_ != nullptr) {
    if (absl::Status s = also_->Flush(); !s.ok()) return s;
  }
  return file_ == nullptr ? absl::OkStatus() : sink_.Flush();
}

absl::Status QueueLogFile::Close() {
  if (file_ == nullptr) return absl::OkStatus();
  absl::Status s = sink_.Flush();
  if (std::fclose(std::exchange(file_, nullptr)) != 0 && s.ok()) {
    s = absl::UnavailableError("closing the queue_log failed");
  }
  if (!s.ok() || line_map_path_.empty()) return s;
  std::FILE* f = std::fopen(line_map_path_.c_str(), "wb");
  if (f == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot write ", line_map_path_, ": ", std::strerror(errno)));
  }
  const std::string yaml = sink_.LineMapYaml();
  const bool ok = std::fwrite(yaml.data(), 1, yaml.size(), f) == yaml.size();
  if (std::fclose(f) != 0 || !ok) {
    return absl::UnavailableError(absl::StrCat("writing ", line_map_path_, " failed"));
  }
  return absl::OkStatus();
}

}  // namespace tidewatch::sim
