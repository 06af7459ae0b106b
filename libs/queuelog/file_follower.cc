#include "queuelog/file_follower.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace tidewatch::queuelog {
namespace {

constexpr size_t kReadChunk = 1 << 20;
// How many finished rotated files are remembered (besides those modified
// no earlier than the last one finished, which are all kept: see
// RememberFinished).
constexpr size_t kMaxFinishedFiles = 16;
// StartAtEnd: an unterminated last line whose file was last written longer
// ago than this is a fragment left for good (the writer died mid-line), not
// a line being written. Asterisk writes each queue_log line with one
// fprintf and fflush, so a line being written is unterminated for a moment
// only; the margin covers coarse file times and a slow disk.
constexpr int64_t kStaleFragmentNs = int64_t{10} * 1000000000;

absl::Status Errno(std::string_view what, const std::string& path) {
  return absl::UnavailableError(absl::StrCat(absl::string_view(what.data(), what.size()), " ", path,
                                             ": ", std::strerror(errno)));
}

std::pair<std::string, std::string> SplitPath(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return {".", path};
  return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

// A file in the directory of `path` whose name starts with its base name
// (a rotated sibling) and whose inode is `inode`; "" if none.
std::string FindRotated(const std::string& path, uint64_t inode) {
  const auto [dir, base] = SplitPath(path);
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return "";
  std::string found;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name == base || name.rfind(base, 0) != 0) continue;
    const std::string full = absl::StrCat(dir, "/", name);
    struct stat st;
    if (stat(full.c_str(), &st) == 0 && static_cast<uint64_t>(st.st_ino) == inode &&
        S_ISREG(st.st_mode)) {
      found = full;
      break;
    }
  }
  closedir(d);
  return found;
}

// Whether `name` looks like a rotated copy of `base` that is still plain
// text: base + ('.' | '-' | '_') + a number or a date of digits and
// separators (queue_log.1, queue_log-20261123, queue_log.2026-11-23), not
// compressed and nothing else (queue_log.1.bak, queue_log.2026-11-23.csv:
// copies someone made, not the rotation's).
bool IsRotatedName(const std::string& name, const std::string& base) {
  if (name.size() < base.size() + 2 || name.rfind(base, 0) != 0) return false;
  const char sep = name[base.size()];
  const char first = name[base.size() + 1];
  if ((sep != '.' && sep != '-' && sep != '_') || first < '0' || first > '9') return false;
  for (size_t i = base.size() + 1; i < name.size(); ++i) {
    const char c = name[i];
    // (Letters: compressed, queue_log.1.gz, or someone's copy.)
    if (!((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_')) return false;
  }
  return true;
}

// Modification time in nanoseconds since the Unix epoch.
int64_t MTimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

// Whether the rotated file whose name ends in `a` (after the base name and
// its separator: "1", "20261123", "2026-11-23") was rotated before the one
// ending in `b`, by the names alone: the order of rotated files with one
// modification time (copied or restored from an archive without their
// times). A number of fewer than 8 digits is logrotate's count, the newest
// being 1: higher counts are older. Anything else (a date, Asterisk's Unix
// time) sorts oldest first as text; counted names come before those.
bool RotatedBefore(std::string_view a, std::string_view b) {
  const auto is_count = [](std::string_view s) {
    return s.size() < 8 &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  const bool a_count = is_count(a), b_count = is_count(b);
  if (a_count != b_count) return a_count;
  if (a_count) {
    // Compare as numbers without converting: strip leading zeros, then by
    // length, then as text.
    a.remove_prefix(std::min(a.find_first_not_of('0'), a.size()));
    b.remove_prefix(std::min(b.find_first_not_of('0'), b.size()));
    if (a.size() != b.size()) return a.size() > b.size();
    return a > b;
  }
  return a < b;
}

// The first rotated (least recently modified; among several modified at
// the same time, the first by name: RotatedBefore) regular-file sibling of
// `path` that `accept(name, stat)` takes, other than the `finished` ones
// (unchanged since) and inode `skip`; "" if none.
template <typename Finished, typename Accept>
std::string FirstRotated(const std::string& path, const std::vector<Finished>& finished,
                         uint64_t skip, Accept accept) {
  const auto [dir, base] = SplitPath(path);
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return "";
  std::string found;
  std::string found_suffix;
  int64_t found_at = 0;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (!IsRotatedName(name, base)) continue;
    const std::string full = absl::StrCat(dir, "/", name);
    struct stat st;
    if (stat(full.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    const uint64_t inode = st.st_ino;
    const int64_t mtime = MTimeNs(st);
    if (inode == skip || std::any_of(finished.begin(), finished.end(), [&](const Finished& f) {
          return f.inode == inode && f.modified_ns == mtime;
        })) {
      continue;
    }
    if (!accept(full, st)) continue;
    const std::string_view suffix = std::string_view(name).substr(base.size() + 1);
    if (found.empty() || mtime < found_at ||
        (mtime == found_at && RotatedBefore(suffix, found_suffix))) {
      found = full;
      found_suffix = std::string(suffix);
      found_at = mtime;
    }
  }
  closedir(d);
  return found;
}

// The rotated sibling of `path` written next after a file last written at
// `after_ns` (the first rotated of those modified no earlier: FirstRotated),
// other than the `finished` ones and inode `skip`; "" if none.
template <typename Finished>
std::string FindNextRotated(const std::string& path, int64_t after_ns,
                            const std::vector<Finished>& finished, uint64_t skip) {
  // (Equal times: a coarse clock.)
  return FirstRotated(path, finished, skip, [after_ns](const std::string&, const struct stat& st) {
    return MTimeNs(st) >= after_ns;
  });
}

// The last up to kFingerprintBytes bytes of `a` followed by `b`.
std::string LastBytes(std::string_view a, std::string_view b) {
  if (b.size() >= kFingerprintBytes) return std::string(b.substr(b.size() - kFingerprintBytes));
  const size_t from_a = std::min<size_t>(a.size(), kFingerprintBytes - b.size());
  std::string out(a.substr(a.size() - from_a));
  out.append(b);
  return out;
}

// Up to `length` bytes of `fd` just before byte `end` (fewer if the file
// is shorter).
std::string ReadBefore(int fd, uint64_t end, uint64_t length) {
  length = std::min(length, end);
  std::string buf(length, '\0');
  size_t got = 0;
  while (got < length) {
    const ssize_t n = pread(fd, buf.data() + got, length - got, end - length + got);
    if (n <= 0) break;
    got += n;
  }
  buf.resize(got);
  return buf;
}

// Whether `fd` holds the bytes `fp` was taken of just before byte `end`.
bool Holds(int fd, uint64_t end, const Fingerprint& fp) {
  struct stat st;
  if (fp.length > end || fstat(fd, &st) != 0 || static_cast<uint64_t>(st.st_size) < end) {
    return false;
  }
  const std::string bytes = ReadBefore(fd, end, fp.length);
  return bytes.size() == fp.length && FingerprintOf(bytes) == fp;
}

// The copy logrotate's copytruncate made of `path` before truncating it: a
// plain-text rotated sibling, other than inode `skip` and the `finished`
// ones, that holds `fp` just before byte `end` (the first rotated of
// those: FirstRotated); "" if none.
template <typename Finished>
std::string FindCopy(const std::string& path, uint64_t end, const Fingerprint& fp,
                     const std::vector<Finished>& finished, uint64_t skip) {
  return FirstRotated(path, finished, skip, [&](const std::string& full, const struct stat& st) {
    const int fd = open(full.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    struct stat opened;
    const bool holds = fstat(fd, &opened) == 0 && opened.st_ino == st.st_ino && Holds(fd, end, fp);
    close(fd);
    return holds;
  });
}

}  // namespace

Fingerprint FingerprintOf(std::string_view bytes) {
  uint32_t hash = 2166136261u;  // FNV-1a
  for (const char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 16777619u;
  }
  return {static_cast<uint32_t>(bytes.size()), hash};
}

FileFollower::FileFollower(std::string path, size_t max_line_bytes, const Clock* clock)
    : path_(std::move(path)), max_line_bytes_(max_line_bytes), clock_(clock) {}

FileFollower::~FileFollower() { Close(); }

void FileFollower::StartAt(const FilePosition& position, int64_t modified_ns,
                           std::optional<Fingerprint> tail) {
  start_ = position;
  start_modified_ns_ = modified_ns;
  start_tail_ = tail;
  start_at_end_ = false;
  truncated_from_.reset();
}

void FileFollower::StartAtEnd() {
  start_.reset();
  start_tail_.reset();
  start_at_end_ = true;
  truncated_from_.reset();
}

void FileFollower::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

std::vector<std::string> FileFollower::TakeNotices() { return std::exchange(notices_, {}); }

FilePosition FileFollower::position() const {
  if (fd_ < 0 && start_) return *start_;
  // Inside an over-long line handed out already: its start (never a
  // position in the middle of a line).
  if (skipping_) return {inode_, skip_from_.offset, skip_from_.line};
  return {inode_, offset_, line_};
}

std::optional<Fingerprint> FileFollower::fingerprint() const {
  if (fd_ < 0) {
    if (start_ && start_->offset > 0) return start_tail_;
    if (start_ || offset_ == 0) return FingerprintOf("");
  }
  return FingerprintOf(skipping_ ? skip_tail_ : tail_);
}

int64_t FileFollower::modified_ns() const {
  if (fd_ < 0) return start_ ? start_modified_ns_ : 0;
  struct stat st;
  return fstat(fd_, &st) == 0 ? MTimeNs(st) : 0;
}

void FileFollower::Rewind(const FilePosition& position) {
  pending_.clear();
  skipping_ = false;
  if (fd_ < 0) {
    if (!start_ || !(*start_ == position)) {
      start_modified_ns_ = 0;
      start_tail_.reset();
    }
    start_ = position;
    return;
  }
  const FilePosition* truncated = truncated_from_ ? &truncated_from_->from : nullptr;
  if (truncated != nullptr && truncated->offset == position.offset &&
      truncated->line == position.line &&
      (position.inode == 0 || truncated->inode == position.inode)) {
    // Before a truncation (counted when found): the rest of the old
    // content is in the copy, if that is being read; else the file's
    // content starts again (or, after the copy, the file read now).
    if (truncated_from_->copy && truncated_from_->copy->inode == inode_) {
      offset_ = truncated_from_->copy->offset;
      line_ = truncated_from_->copy->line;
      tail_ = truncated_from_->copy_tail;
    } else {
      offset_ = 0;
      line_ = 0;
      tail_.clear();
    }
  } else if (position.inode == inode_ || position.inode == 0) {
    offset_ = position.offset;
    line_ = position.line;
    // The bytes before it as read then when known (the file may have been
    // rewritten since: the next Poll compares), else as they are now.
    if (offset_ == 0) {
      tail_.clear();
    } else if (known_position_ == FilePosition{inode_, offset_, line_}) {
      tail_ = known_tail_;
    } else {
      tail_ = ReadBefore(fd_, offset_, kFingerprintBytes);
    }
  } else {
    // The end of the previous file: the current one restarts.
    offset_ = 0;
    line_ = 0;
    tail_.clear();
  }
}

void FileFollower::Checkpointed(const FilePosition& position) {
  if (truncated_from_ && !(truncated_from_->from == position)) truncated_from_.reset();
  if (fd_ >= 0 && position == this->position()) {
    known_position_ = position;
    known_tail_ = skipping_ ? skip_tail_ : tail_;
  }
}

void FileFollower::AdvanceTail(std::string_view consumed) { tail_ = LastBytes(tail_, consumed); }

void FileFollower::Truncated(uint64_t end, const Fingerprint& seen, uint64_t size, bool restart) {
  ++stats_.truncations;
  truncated_from_ = TruncatedFrom{position()};
  const std::string what =
      restart ? absl::StrCat(path_, " (", size,
                             " bytes) no longer holds what was read up to the "
                             "checkpoint (byte ",
                             end, "): truncated (copytruncate)")
              : absl::StrCat(path_, " was truncated (now ", size, " bytes, read up to ", end, ")");
  const std::string copy = FindCopy(path_, end, seen, finished_rotated_, /*skip=*/inode_);
  const int fd = copy.empty() ? -1 : open(copy.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd >= 0 && fstat(fd, &st) == 0 && Holds(fd, end, seen)) {
    // The copy holds the same bytes up to `end`: reading goes on there as
    // it stood (a line read in part, an over-long line being skipped).
    close(fd_);
    fd_ = fd;
    inode_ = st.st_ino;
    draining_rotated_ = true;
    if (restart) tail_ = ReadBefore(fd_, offset_, kFingerprintBytes);
    truncated_from_->copy = position();
    truncated_from_->copy_tail = skipping_ ? skip_tail_ : tail_;
    notices_.push_back(absl::StrCat(what, ": reading the rest of the old content from its copy ",
                                    copy, " from byte ", position().offset,
                                    ", then the file from the start"));
    return;
  }
  if (fd >= 0) close(fd);
  ++stats_.lost_files;
  notices_.push_back(absl::StrCat(
      what,
      ", and no rotated copy of it holding what was read was found: lines written to it "
      "after byte ",
      position().offset, " before the truncation may be lost; reading it from the start"));
  offset_ = 0;
  line_ = 0;
  pending_.clear();
  skipping_ = false;
  tail_.clear();
}

void FileFollower::Adopt(int fd, uint64_t inode, bool rotated) {
  fd_ = fd;
  inode_ = inode;
  offset_ = 0;
  line_ = 0;
  pending_.clear();
  skipping_ = false;
  tail_.clear();
  skip_tail_.clear();
  draining_rotated_ = rotated;
}

void FileFollower::RememberFinished(uint64_t inode, int64_t modified_ns) {
  finished_rotated_.push_back({inode, modified_ns});
  // Beyond kMaxFinishedFiles, forget the least recently modified, but never
  // one modified no earlier than this one: FindNextRotated(modified_ns)
  // passes over those only because they are remembered, so forgetting one
  // would read it again, and again (more than kMaxFinishedFiles files with
  // one modification time, e.g. restored from an archive).
  while (finished_rotated_.size() > kMaxFinishedFiles) {
    const auto oldest = std::min_element(
        finished_rotated_.begin(), finished_rotated_.end(),
        [](const FinishedFile& a, const FinishedFile& b) { return a.modified_ns < b.modified_ns; });
    if (oldest->modified_ns >= modified_ns) break;
    finished_rotated_.erase(oldest);
  }
}

bool FileFollower::EndIncompleteLine() {
  if (fd_ < 0 || (pending_.empty() && !skipping_)) return false;
  end_incomplete_ = true;
  return true;
}

absl::Status FileFollower::Open() {
  int fd = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat(path_, " does not exist yet"));
    return Errno("cannot open", path_);
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    close(fd);
    return Errno("cannot stat", path_);
  }
  Adopt(fd, st.st_ino, /*rotated=*/false);
  const uint64_t size = st.st_size;
  if (start_) {
    const FilePosition s = *start_;
    const std::optional<Fingerprint> tail = start_tail_;
    start_.reset();
    start_tail_.reset();
    if (s.inode == 0 || s.inode == inode_) {
      // Still at the path: does it still hold what was read up to there?
      const std::string before = ReadBefore(fd_, s.offset, tail ? tail->length : kFingerprintBytes);
      if (size >= s.offset && (!tail || FingerprintOf(before) == *tail)) {
        offset_ = s.offset;
        line_ = s.line;
        tail_ = LastBytes("", before);
      } else if (tail) {
        // Truncated and maybe written past the position again: the rest of
        // the old content is in its copy, if there is one.
        offset_ = s.offset;
        line_ = s.line;
        Truncated(s.offset, *tail, size, /*restart=*/true);
      } else {
        // (An older checkpoint, without the bytes: only a shorter file
        // tells.)
        ++stats_.truncations;
        truncated_from_ = TruncatedFrom{FilePosition{inode_, s.offset, s.line}};
        notices_.push_back(absl::StrCat(path_, " is shorter (", size,
                                        " bytes) than the checkpoint (", s.offset,
                                        "): truncated, reading from the start"));
      }
    } else {
      const std::string rotated = FindRotated(path_, s.inode);
      int old = rotated.empty() ? -1 : open(rotated.c_str(), O_RDONLY | O_CLOEXEC);
      if (old >= 0 && tail && !Holds(old, s.offset, *tail)) {
        // Its inode, but not what was read: another file (the inode reused).
        close(old);
        old = -1;
      }
      if (old >= 0) {
        close(fd_);
        fd_ = old;
        inode_ = s.inode;
        offset_ = s.offset;
        line_ = s.line;
        tail_ = ReadBefore(fd_, offset_, kFingerprintBytes);
        draining_rotated_ = true;
        notices_.push_back(absl::StrCat("the checkpointed file was rotated to ", rotated,
                                        ": finishing it from byte ", s.offset, " first"));
      } else {
        ++stats_.lost_files;
        const std::string lost = absl::StrCat(
            "the checkpointed file (inode ", s.inode, ") is no longer at ", path_,
            " nor beside it: lines written to it after byte ", s.offset, " cannot be read; ");
        // The files rotated after it were modified no earlier than it was at
        // the checkpoint: they come before the file at the path.
        const std::string next =
            start_modified_ns_ > 0
                ? FindNextRotated(path_, start_modified_ns_, finished_rotated_, /*skip=*/inode_)
                : "";
        const int fd = next.empty() ? -1 : open(next.c_str(), O_RDONLY | O_CLOEXEC);
        struct stat next_st;
        if (fd >= 0 && fstat(fd, &next_st) == 0) {
          close(fd_);
          Adopt(fd, next_st.st_ino, /*rotated=*/true);
          notices_.push_back(
              absl::StrCat(lost, "reading ", next, ", rotated after it, from the start"));
        } else {
          if (fd >= 0) close(fd);
          notices_.push_back(absl::StrCat(lost, "starting ", path_, " from the start"));
        }
      }
    }
    known_position_ = position();
    known_tail_ = tail_;
  } else if (start_at_end_) {
    // Only new lines, but numbered as in the file: count the existing ones.
    // An unterminated last line is either being written (the file was just
    // written to): it is read in full once its newline comes; or a fragment
    // left for good (the writer died mid-line; last written more than
    // kStaleFragmentNs ago): it is skipped, and reading starts after it.
    // Asterisk, restarted, appends its next line right after the fragment,
    // on the same line of the file; starting at the fragment would hand out
    // the two glued into one line, which maps to nothing or to nonsense.
    // Starting after it hands out the new line alone (a line of the file
    // that does not start at a newline; its offset and number are the
    // file's). Either way no line handed out is a fragment glued to
    // another.
    start_at_end_ = false;
    std::string buf(kReadChunk, '\0');
    uint64_t at = 0;
    uint64_t line_start = 0;  // after the last newline
    int64_t lines = 0;
    while (at < size) {
      const ssize_t n = pread(fd_, buf.data(), std::min<uint64_t>(kReadChunk, size - at), at);
      if (n <= 0) break;
      lines += std::count(buf.data(), buf.data() + n, '\n');
      if (const void* nl = memrchr(buf.data(), '\n', n)) {
        line_start = at + (static_cast<const char*>(nl) - buf.data()) + 1;
      }
      at += n;
    }
    offset_ = line_start;
    line_ = lines;
    if (const int64_t age_ns =
            clock_ == nullptr ? 0 : absl::ToUnixNanos(clock_->Now()) - MTimeNs(st);
        line_start < at && age_ns > kStaleFragmentNs) {
      offset_ = at;
      notices_.push_back(absl::StrCat(path_, " ends with ", at - line_start,
                                      " bytes without a newline, last written ",
                                      age_ns / 1000000000,
                                      " s ago: a line left unfinished for good, skipped "
                                      "(reading starts after it)"));
    }
    tail_ = ReadBefore(fd_, offset_, kFingerprintBytes);
    known_position_ = position();
    known_tail_ = tail_;
  }
  return absl::OkStatus();
}

bool FileFollower::EndPendingLine(absl::FunctionRef<void(const Line&)> on_line) {
  if (skipping_) {
    offset_ += pending_.size();
    AdvanceTail(pending_);
    pending_.clear();
    skipping_ = false;
    return false;
  }
  if (pending_.empty()) return false;
  const size_t len = pending_.size();
  Deliver(std::string_view(pending_).substr(0, std::min(len, max_line_bytes_)), offset_,
          len > max_line_bytes_, on_line);
  offset_ += len;
  AdvanceTail(pending_);
  pending_.clear();
  return true;
}

void FileFollower::Deliver(std::string_view text, uint64_t offset, bool too_long,
                           absl::FunctionRef<void(const Line&)> on_line) {
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  Line line;
  line.text = text;
  line.offset = offset;
  line.number = ++line_;
  line.too_long = too_long;
  on_line(line);
}

absl::StatusOr<int> FileFollower::Poll(int max_lines,
                                       absl::FunctionRef<void(const Line&)> on_line) {
  int delivered = 0;
  for (int round = 0; round < 2; ++round) {  // at most one switch of files per call
    if (fd_ < 0) {
      absl::Status s = Open();
      if (absl::IsNotFound(s)) {
        // Not there at the start: the file that appears is new, read from
        // its start (StartAtEnd skips only the history present at the start).
        start_at_end_ = false;
        return delivered;
      }
      if (!s.ok()) return s;
    }
    if (!draining_rotated_) {
      // Truncated: shorter than what was read, or no longer holding the
      // last bytes read (truncated and written past them again).
      struct stat st;
      const uint64_t read_end = offset_ + pending_.size();
      if (fstat(fd_, &st) == 0) {
        const Fingerprint seen = FingerprintOf(LastBytes(tail_, pending_));
        if (static_cast<uint64_t>(st.st_size) < read_end ||
            (seen.length > 0 && !Holds(fd_, read_end, seen))) {
          Truncated(read_end, seen, st.st_size, /*restart=*/false);
        }
      }
    }
    bool rotated = false;
    bool final_read_done = false;
    bool at_end = false;  // read to the end of a file still written to
    while (delivered < max_lines) {
      // Hand out the complete lines already read.
      size_t pos = 0;
      while (delivered < max_lines) {
        const size_t nl = pending_.find('\n', pos);
        if (nl == std::string::npos) {
          if (!skipping_ && pending_.size() - pos > max_line_bytes_) {
            skip_from_ = {inode_, offset_, line_};
            skip_tail_ = LastBytes(tail_, std::string_view(pending_).substr(0, pos));
            Deliver(std::string_view(pending_).substr(pos, max_line_bytes_), offset_, true,
                    on_line);
            ++delivered;
            skipping_ = true;
          }
          if (skipping_) {  // drop the rest of an over-long line as it comes
            offset_ += pending_.size() - pos;
            pos = pending_.size();
          }
          break;
        }
        const size_t len = nl - pos;
        if (skipping_) {
          skipping_ = false;
        } else if (len > max_line_bytes_) {
          Deliver(std::string_view(pending_).substr(pos, max_line_bytes_), offset_, true, on_line);
          ++delivered;
        } else {
          Deliver(std::string_view(pending_).substr(pos, len), offset_, false, on_line);
          ++delivered;
        }
        offset_ += len + 1;
        pos = nl + 1;
      }
      AdvanceTail(std::string_view(pending_).substr(0, pos));
      pending_.erase(0, pos);
      if (delivered >= max_lines) break;
      // Read more.
      const size_t old = pending_.size();
      pending_.resize(old + kReadChunk);
      const ssize_t n =
          pread(fd_, pending_.data() + old, kReadChunk, static_cast<off_t>(offset_ + old));
      if (n < 0) {
        pending_.resize(old);
        return Errno("cannot read", path_);
      }
      pending_.resize(old + n);
      stats_.bytes += n;
      if (n > 0) continue;
      // End of the file. Has it been rotated away?
      if (!rotated) {
        struct stat st;
        if (draining_rotated_) {
          // Finished, unless it is the newest file and the writer has not
          // moved to the new one yet (still empty, or not there).
          struct stat current;
          const bool path_written = stat(path_.c_str(), &current) == 0 && current.st_size > 0;
          struct stat done;
          if (!path_written && fstat(fd_, &done) == 0 &&
              FindNextRotated(path_, MTimeNs(done), finished_rotated_, /*skip=*/inode_).empty()) {
            at_end = true;
            break;  // up to date
          }
          rotated = true;
        } else if (stat(path_.c_str(), &st) == 0 && static_cast<uint64_t>(st.st_ino) != inode_ &&
                   st.st_size > 0) {
          // (A new file still empty: the writer may not have reopened yet,
          // so lines still go to this one; switch once it has written.)
          rotated = true;
          continue;  // one more read: the writer may have appended before reopening
        } else {
          at_end = true;
          break;  // up to date
        }
      }
      final_read_done = true;
      break;
    }
    if (!rotated || !final_read_done) {
      if (at_end && end_incomplete_) {
        end_incomplete_ = false;
        if (EndPendingLine(on_line)) ++delivered;
      }
      return delivered;
    }
    // The old file is finished: its last unterminated line, if any, then
    // switch to the new file (in this call only if nothing was handed out).
    if (!pending_.empty() && !skipping_ && delivered >= max_lines) return delivered;
    if (EndPendingLine(on_line)) ++delivered;
    if (delivered > 0) return delivered;
    previous_inode_ = inode_;
    previous_end_ = position();
    const bool was_draining = draining_rotated_;
    // (After a truncation's copy, a Rewind to before the truncation still
    // restarts the file read next; an ordinary rotation ends that.)
    if (truncated_from_ && !truncated_from_->copy) truncated_from_.reset();
    // A file rotated away (while running, or before a restart): the files
    // rotated after it (the reader may be several rotations behind) come
    // before the current one.
    std::string next_rotated;
    if (struct stat done; fstat(fd_, &done) == 0) {
      struct stat current;
      const uint64_t current_inode =
          stat(path_.c_str(), &current) == 0 ? static_cast<uint64_t>(current.st_ino) : 0;
      RememberFinished(inode_, MTimeNs(done));
      next_rotated = FindNextRotated(path_, MTimeNs(done), finished_rotated_, current_inode);
    }
    Close();
    ++stats_.rotations;
    if (!next_rotated.empty()) {
      const int fd = open(next_rotated.c_str(), O_RDONLY | O_CLOEXEC);
      struct stat st;
      if (fd >= 0 && fstat(fd, &st) == 0) {
        Adopt(fd, st.st_ino, /*rotated=*/true);
        notices_.push_back(absl::StrCat("finished the rotated file; reading ", next_rotated,
                                        ", rotated after it, from the start"));
        continue;
      }
      if (fd >= 0) close(fd);
    }
    notices_.push_back(absl::StrCat(was_draining ? "finished the rotated file; " : "", path_,
                                    " was rotated: reading the new file from the start"));
    start_ = FilePosition{};  // the new file, from 0
    start_modified_ns_ = 0;
    start_tail_.reset();
  }
  return delivered;
}

absl::StatusOr<std::optional<Checkpoint>> LoadCheckpoint(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return std::optional<Checkpoint>();
    return Errno("cannot read checkpoint", file);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  Checkpoint c;
  bool has_path = false, has_inode = false, has_offset = false, has_line = false;
  // (modified_ns and the tail are optional: older checkpoints lack them.)
  Fingerprint tail;
  bool has_tail_bytes = false, has_tail_hash = false;
  int n = 0;
  for (absl::string_view line : absl::StrSplit(ss.str(), '\n', absl::SkipEmpty())) {
    ++n;
    if (line[0] == '#') continue;
    const size_t eq = line.find('=');
    if (eq == absl::string_view::npos) {
      return absl::DataLossError(absl::StrCat(file, ":", n, ": corrupt checkpoint (no '=')"));
    }
    const absl::string_view key = line.substr(0, eq), value = line.substr(eq + 1);
    bool ok = true;
    if (key == "path") {
      c.path = std::string(value);
      has_path = true;
    } else if (key == "inode") {
      ok = absl::SimpleAtoi(value, &c.position.inode);
      has_inode = true;
    } else if (key == "offset") {
      ok = absl::SimpleAtoi(value, &c.position.offset);
      has_offset = true;
    } else if (key == "line") {
      ok = absl::SimpleAtoi(value, &c.position.line);
      has_line = true;
    } else if (key == "modified_ns") {
      ok = absl::SimpleAtoi(value, &c.modified_ns);
    } else if (key == "tail_bytes") {
      ok = absl::SimpleAtoi(value, &tail.length);
      has_tail_bytes = true;
    } else if (key == "tail_hash") {
      ok = absl::SimpleHexAtoi(value, &tail.hash);
      has_tail_hash = true;
    }
    if (!ok) {
      return absl::DataLossError(
          absl::StrCat(file, ":", n, ": corrupt checkpoint: bad ", key, " value"));
    }
  }
  if (!has_path || !has_inode || !has_offset || !has_line) {
    return absl::DataLossError(
        absl::StrCat(file, ": corrupt checkpoint: needs path, inode, offset and line"));
  }
  if (has_tail_bytes != has_tail_hash || tail.length > c.position.offset) {
    return absl::DataLossError(absl::StrCat(
        file, ": corrupt checkpoint: tail_bytes and tail_hash go together, tail_bytes <= offset"));
  }
  if (has_tail_bytes) c.tail = tail;
  return std::optional<Checkpoint>(c);
}

absl::Status SaveCheckpoint(const std::string& file, const Checkpoint& checkpoint) {
  const std::string text = absl::StrCat(
      "# queuelog-bridge checkpoint: the next line to publish\npath=", checkpoint.path,
      "\ninode=", checkpoint.position.inode, "\noffset=", checkpoint.position.offset,
      "\nline=", checkpoint.position.line, "\nmodified_ns=", checkpoint.modified_ns, "\n",
      checkpoint.tail
          ? absl::StrCat("tail_bytes=", checkpoint.tail->length,
                         "\ntail_hash=", absl::Hex(checkpoint.tail->hash, absl::kZeroPad8), "\n")
          : "");
  const std::string tmp = absl::StrCat(file, ".tmp");
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("cannot create", tmp);
  const bool written = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const bool synced = written && fsync(fd) == 0;
  close(fd);
  if (!synced) return Errno("cannot write", tmp);
  if (rename(tmp.c_str(), file.c_str()) != 0) return Errno("cannot rename onto", file);
  const std::string dir = SplitPath(file).first;
  if (const int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return absl::OkStatus();
}

}  // namespace tidewatch::queuelog
