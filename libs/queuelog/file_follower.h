// Following a growing log file the way `tail -F` does, with checkpoints.
//
// FileFollower reads the complete lines appended to a file. It does nothing
// on its own: each Poll() reads what is there now and returns, so tests
// drive it deterministically and the caller chooses the pace. Across calls
// it notices
//   - rotation: the path now names another file (inode changed, e.g.
//     logrotate's rename + create, or Asterisk's `logger rotate`). The old
//     file is read to its end first (a final unterminated line included),
//     then the new file from its start;
//   - truncation: the file became shorter than what was read (logrotate's
//     copytruncate): reading restarts at offset 0;
//   - a missing file: Poll waits (returns no lines) until it appears.
//
// Its position (inode, byte offset, line number) after the last line handed
// out is what a Checkpoint stores. Starting from a checkpoint whose inode is
// no longer at the path, the follower looks for that inode among the
// rotated siblings in the same directory (queue_log.1, queue_log-20260101,
// ...) and finishes it first, then any sibling rotated after it (by
// modification time: down across several rotations), so nothing written
// before a restart is lost. A new file at the path is switched to once the
// writer has written to it (logrotate's `create` makes it empty before
// Asterisk reopens it; until then lines go to the renamed file).
//
//   FileFollower follower("/var/log/asterisk/queue_log");
//   follower.StartAt(checkpoint->position);     // or StartAtEnd()
//   absl::StatusOr<int> n = follower.Poll(10000, [&](const FileFollower::Line& line) {
//     ... line.text, line.offset, line.number ...
//   });
//   SaveCheckpoint(path, {follower.path(), follower.position()});
//
// Poll never hands out lines of two files in one call, so a caller that
// publishes a Poll's lines and then checkpoints can Rewind() to its last
// checkpoint when publishing fails.
#ifndef TIDEWATCH_LIBS_QUEUELOG_FILE_FOLLOWER_H_
#define TIDEWATCH_LIBS_QUEUELOG_FILE_FOLLOWER_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tidewatch::queuelog {

// Where reading stands in one file.
struct FilePosition {
  uint64_t inode = 0;   // 0: whatever file is at the path
  uint64_t offset = 0;  // byte offset of the next unread line
  int64_t line = 0;     // lines of this file before `offset`

  friend bool operator==(const FilePosition&, const FilePosition&) = default;
};

// Follows one path; see the file comment. Not thread-safe.
class FileFollower {
 public:
  // One complete line, without its "\n" (and without a trailing "\r").
  struct Line {
    std::string_view text;  // valid during the callback only
    uint64_t offset = 0;    // byte offset of the line in its file
    int64_t number = 0;     // 1-based line number in its file
    bool too_long = false;  // longer than max_line_bytes; text is its start
  };

  // Counters since construction.
  struct Stats {
    int64_t rotations = 0;
    int64_t truncations = 0;
    // Checkpointed files that were rotated away and could not be found.
    int64_t lost_files = 0;
    int64_t bytes = 0;
  };

  explicit FileFollower(std::string path, size_t max_line_bytes = 64 * 1024);
  ~FileFollower();
  FileFollower(const FileFollower&) = delete;
  FileFollower& operator=(const FileFollower&) = delete;

  // Where to begin (before the first Poll): at `position` (from a
  // checkpoint), or at the end of the current file (only new lines), or at
  // the start (the default).
  void StartAt(const FilePosition& position);
  void StartAtEnd();

  // Reads and hands out up to `max_lines` complete lines, in order, from one
  // file. Returns the number handed out. Errors are I/O errors other than
  // the file being absent.
  absl::StatusOr<int> Poll(int max_lines, absl::FunctionRef<void(const Line&)> on_line);

  // After the last line handed out (or the start position).
  FilePosition position() const;

  // Goes back to `position`, which must be a position this follower
  // reported: in the current file, or the end of the file it read before
  // the current one (then the current file restarts at 0).
  void Rewind(const FilePosition& position);

  const std::string& path() const { return path_; }
  const Stats& stats() const { return stats_; }
  // Messages about rotations, truncations and lost files since the last
  // call (for the caller's log).
  std::vector<std::string> TakeNotices();

 private:
  absl::Status Open();
  // Reads `fd` (inode `inode`) from its start from now on; `rotated`: a
  // rotated-away file.
  void Adopt(int fd, uint64_t inode, bool rotated);
  void Close();
  void Deliver(std::string_view text, uint64_t offset, bool too_long,
               absl::FunctionRef<void(const Line&)> on_line);

  std::string path_;
  size_t max_line_bytes_;
  int fd_ = -1;
  uint64_t inode_ = 0;
  uint64_t offset_ = 0;     // start of the next undelivered line
  int64_t line_ = 0;        // lines delivered from this file
  std::string pending_;     // bytes read after offset_ (an incomplete line)
  bool skipping_ = false;   // inside an over-long line already delivered
  FilePosition skip_from_;  // where that line starts
  std::optional<FilePosition> start_;
  bool start_at_end_ = false;
  bool draining_rotated_ = false;           // fd_ is a rotated-away file
  uint64_t previous_inode_ = 0;             // the file read before the current one
  std::vector<uint64_t> finished_rotated_;  // rotated files finished after a restart
  FilePosition previous_end_;
  Stats stats_;
  std::vector<std::string> notices_;
};

// What a checkpoint file holds.
struct Checkpoint {
  std::string path;  // the followed path
  FilePosition position;
};

// Reads a checkpoint; nullopt when the file does not exist. A corrupt
// checkpoint is an error (never silently ignored).
absl::StatusOr<std::optional<Checkpoint>> LoadCheckpoint(const std::string& file);

// Writes atomically: a temporary file in the same directory, fsync, rename
// over `file`, fsync of the directory.
absl::Status SaveCheckpoint(const std::string& file, const Checkpoint& checkpoint);

}  // namespace tidewatch::queuelog

#endif  // TIDEWATCH_LIBS_QUEUELOG_FILE_FOLLOWER_H_
