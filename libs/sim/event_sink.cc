#include "sim/event_sink.h"

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "events/events.h"

namespace tidewatch::sim {

JsonLinesSink::JsonLinesSink(std::FILE* out, size_t buffer_bytes)
    : out_(out), buffer_bytes_(buffer_bytes) {
  buffer_.reserve(buffer_bytes_ + 4096);
}

JsonLinesSink::~JsonLinesSink() { Flush().IgnoreError(); }

absl::Status JsonLinesSink::Write(const tidewatch::v1::CallEvent& event) {
  events::AppendJsonEvent(event, buffer_);
  buffer_.push_back('\n');
  if (buffer_.size() >= buffer_bytes_) return Flush();
  return absl::OkStatus();
}

absl::Status JsonLinesSink::Flush() {
  if (!buffer_.empty()) {
    const size_t n = std::fwrite(buffer_.data(), 1, buffer_.size(), out_);
    const bool short_write = n != buffer_.size();
    buffer_.clear();
    if (short_write) {
      return absl::UnavailableError(absl::StrCat("writing events failed: ", std::strerror(errno)));
    }
  }
  if (std::fflush(out_) != 0) {
    return absl::UnavailableError(absl::StrCat("flushing events failed: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status StringSink::Write(const tidewatch::v1::CallEvent& event) {
  events::AppendJsonEvent(event, text_);
  text_.push_back('\n');
  ++events_;
  return absl::OkStatus();
}

}  // namespace tidewatch::sim
