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
//   - truncation: the file no longer holds what was read (logrotate's
//     copytruncate: shorter than what was read, or truncated and written
//     past it again; told by the last bytes read, see Fingerprint). The
//     rest of the old content is read from its copy among the rotated
//     siblings (queue_log.1: the one holding those bytes at the same place)
//     from where reading stood, then the file from offset 0. With no such
//     copy (compressed, deleted) the file is read from 0, and the lines
//     written after what was read and before the truncation may be lost
//     (a notice; counted in Stats::lost_files);
//   - a missing file: Poll waits (returns no lines) until it appears.
//
// Its position (inode, byte offset, line number) after the last line handed
// out, with a fingerprint of the bytes just before it, is what a Checkpoint
// stores. Starting from a checkpoint whose file is still at the path but no
// longer holds those bytes (copytruncate while stopped), the rest is read
// from the copy as above. Starting from a checkpoint whose inode is
// no longer at the path, the follower looks for that inode among the
// rotated siblings in the same directory (queue_log.1, queue_log-20260101,
// ...) and finishes it first, then any sibling rotated after it (by
// modification time: down across several rotations; files with one
// modification time, e.g. restored from an archive, by name: queue_log.2
// before queue_log.1, queue_log-20261122 before queue_log-20261123; each
// once), so nothing written before a restart is lost. The same holds while running: a file finished
// after it was rotated away is followed by any sibling rotated after it (a
// reader kept behind across two rotations, e.g. while Kafka was away),
// then the file at the path. If the checkpointed file is gone altogether
// (compressed, deleted), the checkpoint's modification time bounds the
// rotated siblings that came after it, and those are read first. A new
// file at the path is switched to once the writer has written to it
// (logrotate's `create` makes it empty before Asterisk reopens it; until
// then lines go to the renamed file).
//
//   FileFollower follower("/var/log/asterisk/queue_log");
//   follower.StartAt(checkpoint->position, checkpoint->modified_ns,
//                    checkpoint->tail);  // or StartAtEnd()
//   absl::StatusOr<int> n = follower.Poll(10000, [&](const FileFollower::Line& line) {
//     ... line.text, line.offset, line.number ...
//   });
//   SaveCheckpoint(path, {follower.path(), follower.position(), follower.modified_ns(),
//                         follower.fingerprint()});
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
#include "common/clock.h"

namespace tidewatch::queuelog {

// Where reading stands in one file.
struct FilePosition {
  uint64_t inode = 0;   // 0: whatever file is at the path
  uint64_t offset = 0;  // byte offset of the next unread line
  int64_t line = 0;     // lines of this file before `offset`

  friend bool operator==(const FilePosition&, const FilePosition&) = default;
};

// The last bytes of a file before a position (up to kFingerprintBytes):
// whether a file still holds what was read up to there. A 32-bit hash, not
// the bytes (they may hold a caller number).
struct Fingerprint {
  uint32_t length = 0;  // bytes covered, ending at the position
  uint32_t hash = 0;    // FNV-1a (32-bit) of those bytes

  friend bool operator==(const Fingerprint&, const Fingerprint&) = default;
};

// How many bytes before a position a Fingerprint covers (fewer at the
// start of a file).
inline constexpr uint32_t kFingerprintBytes = 64;

// The Fingerprint of `bytes`.
Fingerprint FingerprintOf(std::string_view bytes);

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
    // Checkpointed files that were rotated away and could not be found, and
    // truncations whose copy could not be found (lines may be lost).
    int64_t lost_files = 0;
    int64_t bytes = 0;
  };

  // `clock` (may be null; must outlive the follower) tells StartAtEnd how
  // long ago the file was last written; without one an unterminated last
  // line is always taken for a line being written.
  explicit FileFollower(std::string path, size_t max_line_bytes = 64 * 1024,
                        const Clock* clock = nullptr);
  ~FileFollower();
  FileFollower(const FileFollower&) = delete;
  FileFollower& operator=(const FileFollower&) = delete;

  // Where to begin (before the first Poll): at `position` (from a
  // checkpoint), or at the end of the current file (only new lines: from
  // the start of its last line if that is still unterminated and the file
  // was written to in the last few seconds, a line being written; after it
  // if the file was last written longer ago, a fragment left for good by a
  // writer that died mid-line, never to be glued to the next line), or at
  // the start (the default). `modified_ns` is the checkpoint's modified_ns (0:
  // unknown): should position's file be gone, the rotated files modified
  // since then are read before the file at the path. `tail` is the
  // checkpoint's fingerprint (nullopt: unknown, an older checkpoint; then a
  // file at the path that is no shorter than the position is taken to hold
  // it): a file that no longer holds it was truncated (see the file
  // comment).
  void StartAt(const FilePosition& position, int64_t modified_ns = 0,
               std::optional<Fingerprint> tail = std::nullopt);
  void StartAtEnd();

  // Reads and hands out up to `max_lines` complete lines, in order, from one
  // file. Returns the number handed out. Errors are I/O errors other than
  // the file being absent.
  absl::StatusOr<int> Poll(int max_lines, absl::FunctionRef<void(const Line&)> on_line);

  // After the last line handed out (or the start position).
  FilePosition position() const;

  // When position()'s file was last modified (nanoseconds since the Unix
  // epoch; 0: unknown), for Checkpoint::modified_ns.
  int64_t modified_ns() const;

  // The bytes before position() in its file, for Checkpoint::tail (nullopt:
  // unknown, before the first Poll after StartAt without one).
  std::optional<Fingerprint> fingerprint() const;

  // Goes back to `position`, which must be a position this follower
  // reported: in the current file, or the end of the file it read before
  // the current one (then the current file restarts at 0). Going back to
  // where reading stood when the current file was found truncated restarts
  // it at 0, without counting the truncation again (or, if the rest of the
  // old content was being read from its copy, restarts the copy there).
  void Rewind(const FilePosition& position);
  // The caller will not rewind before `position` any more (its checkpoint):
  // a truncation found before it is forgotten (a later Rewind to the same
  // numbers is then an ordinary one).
  void Checkpointed(const FilePosition& position);

  // For a caller that stops at the end of the file (a batch load): the
  // bytes after the file's last newline are handed out as a final line by
  // the next Poll that reaches the end of the file (once; what is appended
  // to them later is then a line of its own). Returns whether there are
  // such bytes (or an over-long line still being skipped, which then ends).
  bool EndIncompleteLine();

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
  // Ends the line in pending_ at the end of the file: hands it out (unless
  // it is the rest of an over-long line already handed out). Returns
  // whether a line was handed out.
  bool EndPendingLine(absl::FunctionRef<void(const Line&)> on_line);
  // Notes a rotated-away file read to its end (see finished_rotated_).
  void RememberFinished(uint64_t inode, int64_t modified_ns);

  // The file at the path (fd_, `size` bytes now) no longer holds what was
  // read up to `end` (`seen`: the bytes before it): counts the truncation
  // and goes on from position() in its copy if one is found, else from 0
  // in the file. `restart`: found at the start, from a checkpoint.
  void Truncated(uint64_t end, const Fingerprint& seen, uint64_t size, bool restart);
  // Appends bytes read past offset_ to tail_ (keeps the last
  // kFingerprintBytes).
  void AdvanceTail(std::string_view consumed);

  // A rotated file read to its end, as it was then: passed over when
  // looking for the file rotated after another (unless it changed since,
  // e.g. its inode now belongs to a newer file).
  struct FinishedFile {
    uint64_t inode = 0;
    int64_t modified_ns = 0;
  };

  std::string path_;
  size_t max_line_bytes_;
  const Clock* clock_;
  int fd_ = -1;
  uint64_t inode_ = 0;
  uint64_t offset_ = 0;     // start of the next undelivered line
  int64_t line_ = 0;        // lines delivered from this file
  std::string pending_;     // bytes read after offset_ (an incomplete line)
  bool skipping_ = false;   // inside an over-long line already delivered
  FilePosition skip_from_;  // where that line starts
  std::optional<FilePosition> start_;
  int64_t start_modified_ns_ = 0;          // modification time of start_'s file (0: unknown)
  std::optional<Fingerprint> start_tail_;  // the bytes before start_ (nullopt: unknown)
  // The last (up to kFingerprintBytes) bytes before offset_, as read.
  std::string tail_;
  std::string skip_tail_;  // the same before skip_from_
  bool start_at_end_ = false;
  bool draining_rotated_ = false;  // fd_ is a rotated-away file
  uint64_t previous_inode_ = 0;    // the file read before the current one
  // The last rotated files finished (a few, and all those modified no
  // earlier than the last one: only those can tie with the next one's
  // modification time).
  std::vector<FinishedFile> finished_rotated_;
  FilePosition previous_end_;
  // Where reading stood when the current file was found truncated: a
  // Rewind there (the caller's checkpoint) restarts the file at 0, or the
  // copy at `copy` while that is read. Kept until Checkpointed elsewhere
  // (across the copy and the files read after it).
  struct TruncatedFrom {
    FilePosition from;
    std::optional<FilePosition> copy = std::nullopt;  // where reading went on in the copy
    std::string copy_tail = "";                       // the bytes before it
  };
  std::optional<TruncatedFrom> truncated_from_;
  // A position reported with the bytes before it (the start, the last
  // Checkpointed): a Rewind there knows them without reading the file
  // again (it may have been rewritten since).
  FilePosition known_position_;
  std::string known_tail_;
  bool end_incomplete_ = false;  // EndIncompleteLine: hand out the tail at EOF
  Stats stats_;
  std::vector<std::string> notices_;
};

// What a checkpoint file holds.
struct Checkpoint {
  std::string path;  // the followed path
  FilePosition position;
  // FileFollower::modified_ns() when written (0: unknown, e.g. an older
  // checkpoint): the files rotated after position's file were modified no
  // earlier, which finds them should that file be gone.
  int64_t modified_ns = 0;
  // FileFollower::fingerprint() when written (nullopt: unknown, an older
  // checkpoint): tells a file truncated and written again since.
  std::optional<Fingerprint> tail = std::nullopt;
};

// Reads a checkpoint; nullopt when the file does not exist. A corrupt
// checkpoint is an error (never silently ignored).
absl::StatusOr<std::optional<Checkpoint>> LoadCheckpoint(const std::string& file);

// Writes atomically: a temporary file in the same directory, fsync, rename
// over `file`, fsync of the directory.
absl::Status SaveCheckpoint(const std::string& file, const Checkpoint& checkpoint);

}  // namespace tidewatch::queuelog

#endif  // TIDEWATCH_LIBS_QUEUELOG_FILE_FOLLOWER_H_
