#include "events/json_lines.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <istream>
#include <string_view>

#include "absl/status/status.h"

namespace tidewatch::events {
namespace {

constexpr size_t kBlockBytes = size_t{256} << 10;

bool IsBlank(std::string_view s) {
  for (char c : s) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\v' && c != '\f') return false;
  }
  return true;
}

}  // namespace

JsonLinesReader::JsonLinesReader(std::istream& in, size_t max_line_bytes)
    : in_(&in), max_line_bytes_(std::max<size_t>(max_line_bytes, 1)) {}

JsonLinesReader::JsonLinesReader(std::FILE* file, size_t max_line_bytes)
    : file_(file), max_line_bytes_(std::max<size_t>(max_line_bytes, 1)) {}

size_t JsonLinesReader::Read(char* dst, size_t n) {
  if (in_ != nullptr) {
    in_->read(dst, static_cast<std::streamsize>(n));
    const auto got = static_cast<size_t>(in_->gcount());
    if (in_->bad()) status_ = absl::DataLossError("error reading the input stream");
    return got;
  }
  const size_t got = std::fread(dst, 1, n, file_);
  if (got < n && std::ferror(file_)) {
    status_ =
        absl::DataLossError(std::string("error reading the input file: ") + std::strerror(errno));
  }
  return got;
}

bool JsonLinesReader::Fill() {
  if (eof_ || !status_.ok()) return false;
  if (begin_ > 0) {
    std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (end_ == capacity_) {
    const size_t capacity = capacity_ == 0 ? kBlockBytes : 2 * capacity_;
    auto bigger = std::make_unique<char[]>(capacity);
    if (end_ > 0) std::memcpy(bigger.get(), buf_.get(), end_);
    buf_ = std::move(bigger);
    capacity_ = capacity;
  }
  const size_t n = Read(buf_.get() + end_, capacity_ - end_);
  if (n == 0) {
    eof_ = true;
    return false;
  }
  end_ += n;
  return true;
}

bool JsonLinesReader::Next(Line& line) {
  for (;;) {
    const char* start = buf_.get() + begin_;
    const size_t avail = end_ - begin_;
    const char* nl =
        avail == 0 ? nullptr : static_cast<const char*>(std::memchr(start, '\n', avail));
    std::string_view text;
    bool too_long = false;
    if (nl != nullptr) {
      text = std::string_view(start, nl - start);
      begin_ += text.size() + 1;
    } else if (avail > max_line_bytes_) {
      // An over-long line: keep its head, skip to its end.
      long_line_.assign(start, max_line_bytes_);
      begin_ = end_;
      while (Fill()) {
        const char* s = buf_.get() + begin_;
        const char* e = static_cast<const char*>(std::memchr(s, '\n', end_ - begin_));
        if (e != nullptr) {
          begin_ += static_cast<size_t>(e - s) + 1;
          break;
        }
        begin_ = end_;
      }
      if (!status_.ok()) return false;
      text = long_line_;
      too_long = true;
    } else if (Fill()) {
      continue;
    } else if (!status_.ok() || avail == 0) {
      return false;
    } else {
      text = std::string_view(buf_.get() + begin_, avail);  // last line, no newline
      begin_ = end_;
    }
    ++line_number_;
    if (!too_long && !text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (at_start_) {
      at_start_ = false;
      if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
    }
    if (text.size() > max_line_bytes_) {
      text = text.substr(0, max_line_bytes_);
      too_long = true;
    }
    if (!too_long && IsBlank(text)) continue;
    line.text = text;
    line.number = line_number_;
    line.too_long = too_long;
    return true;
  }
}

}  // namespace tidewatch::events
