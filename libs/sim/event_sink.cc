#include "sim/event_sink.h"

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "events/events.h"

namespace tidewatch::sim {

BufferedFileWriter::BufferedFileWriter(std::FILE* out, size_t buffer_bytes, std::string what)
    : out_(out), buffer_bytes_(buffer_bytes), what_(std::move(what)) {
  buffer_.reserve(buffer_bytes_ + 4096);
}

absl::Status BufferedFileWriter::Flush() {
  if (!buffer_.empty()) {
    const size_t n = std::fwrite(buffer_.data(), 1, buffer_.size(), out_);
    const bool short_write = n != buffer_.size();
    buffer_.clear();
    if (short_write) {
      return absl::UnavailableError(
          absl::StrCat("writing ", what_, " failed: ", std::strerror(errno)));
    }
  }
  if (std::fflush(out_) != 0) {
    return absl::UnavailableError(
        absl::StrCat("flushing ", what_, " failed: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

JsonLinesSink::JsonLinesSink(std::FILE* out, size_t buffer_bytes)
    : out_(out, buffer_bytes, "events") {}

JsonLinesSink::~JsonLinesSink() { Flush().IgnoreError(); }

absl::Status JsonLinesSink::Write(const tidewatch::v1::CallEvent& event) {
  events::AppendJsonEvent(event, out_.buffer());
  out_.buffer().push_back('\n');
  return out_.FlushIfFull();
}

absl::Status JsonLinesSink::Flush() { return out_.Flush(); }

absl::Status StringSink::Write(const tidewatch::v1::CallEvent& event) {
  events::AppendJsonEvent(event, text_);
  text_.push_back('\n');
  ++events_;
  return absl::OkStatus();
}

}  // namespace tidewatch::sim
