// Reading JSON-lines input (replay files, simulator output) line by line.
//
// JsonLinesReader reads an std::istream or a FILE* in large blocks (no
// per-line iostream calls) and yields each non-blank line without its line
// ending ("\n" or "\r\n"), with its 1-based line number in the input (blank
// lines are counted, not yielded). A UTF-8 byte-order mark at the start of
// the input is skipped.
//
//   std::ifstream file(path, std::ios::binary);
//   JsonLinesReader reader(file);
//   JsonLinesReader::Line line;
//   while (reader.Next(line)) {
//     absl::Status s = line.too_long
//         ? absl::InvalidArgumentError("line too long")
//         : ParseJsonEvent(line.text, event, &reason);
//     if (!s.ok()) { log(path, ":", line.number, ": ", s.message()); ... }
//   }
//   if (!reader.status().ok()) { ... read error ... }
//
// A line longer than max_line_bytes is not held in memory whole: it is
// yielded once with too_long set and text holding its first max_line_bytes
// bytes (enough to report it); the rest of it is skipped.
//
// Input is read in 256 KiB blocks (istream::read / fread), so a line is
// yielded once its block has arrived: meant for files and pipes read to the
// end, not for waiting on an interactive stream line by line.
//
// Not thread-safe; one reader per stream. The reader does not own the
// stream or FILE*, which must outlive it.
#ifndef TIDEWATCH_LIBS_EVENTS_JSON_LINES_H_
#define TIDEWATCH_LIBS_EVENTS_JSON_LINES_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <istream>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace tidewatch::events {

// Yields the non-blank lines of a JSON-lines stream; see the file comment.
class JsonLinesReader {
 public:
  // One line of input.
  struct Line {
    // The line without its line ending. Valid until the next call to Next().
    std::string_view text;
    // 1-based line number in the input.
    int64_t number = 0;
    // The line was longer than max_line_bytes; text is its beginning only.
    bool too_long = false;
  };

  static constexpr size_t kDefaultMaxLineBytes = size_t{1} << 20;  // 1 MiB

  explicit JsonLinesReader(std::istream& in, size_t max_line_bytes = kDefaultMaxLineBytes);
  explicit JsonLinesReader(std::FILE* file, size_t max_line_bytes = kDefaultMaxLineBytes);
  JsonLinesReader(const JsonLinesReader&) = delete;
  JsonLinesReader& operator=(const JsonLinesReader&) = delete;

  // Advances to the next non-blank line. Returns false at the end of the
  // input or on a read error (then status() says which).
  bool Next(Line& line);

  // OK unless reading failed.
  const absl::Status& status() const { return status_; }

  // Lines read so far, blank ones included (the number of the last line).
  int64_t lines_read() const { return line_number_; }

 private:
  // Reads more input after the unconsumed bytes; false at end of input or
  // on error.
  bool Fill();
  size_t Read(char* dst, size_t n);

  std::istream* in_ = nullptr;
  std::FILE* file_ = nullptr;
  size_t max_line_bytes_;
  std::unique_ptr<char[]> buf_;
  size_t capacity_ = 0;
  size_t begin_ = 0;  // first unconsumed byte
  size_t end_ = 0;    // end of valid bytes
  bool eof_ = false;
  bool at_start_ = true;  // nothing yielded or skipped yet (for the BOM)
  int64_t line_number_ = 0;
  std::string long_line_;  // head of an over-long line
  absl::Status status_;
};

}  // namespace tidewatch::events

#endif  // TIDEWATCH_LIBS_EVENTS_JSON_LINES_H_
