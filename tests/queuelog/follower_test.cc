// FileFollower (tail -F semantics driven by Poll), checkpoints, and the
// bridge loop over a fake producer: rotation, truncation, restart from a
// checkpoint without loss or repeats, failed deliveries.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <ostream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "gtest/gtest.h"
#include "kafka/kafka.h"
#include "queuelog/bridge.h"
#include "queuelog/file_follower.h"

namespace tidewatch::queuelog {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "queuelog-test-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void Append(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out << text;
}

void Truncate(const std::string& path) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
}

// Sets a file's modification (and access) time, in Unix seconds.
void SetModified(const std::string& path, int64_t unix_seconds) {
  const struct timespec times[2] = {{unix_seconds, 0}, {unix_seconds, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), times, 0), 0) << path;
}

// A FileFollower::Line with its text copied out of the callback.
struct SeenLine {
  std::string text;
  uint64_t offset = 0;
  int64_t number = 0;
  bool too_long = false;
  friend bool operator==(const SeenLine&, const SeenLine&) = default;
  friend void PrintTo(const SeenLine& l, std::ostream* os) {
    *os << "{\"" << l.text << "\" offset " << l.offset << " line " << l.number
        << (l.too_long ? " too long}" : "}");
  }
};
using SeenLines = std::vector<SeenLine>;

// One Poll of up to `max` lines: every line handed out.
SeenLines PollLines(FileFollower& f, int max = 1000) {
  SeenLines out;
  absl::StatusOr<int> n = f.Poll(max, [&](const FileFollower::Line& l) {
    out.push_back({std::string(l.text), l.offset, l.number, l.too_long});
  });
  EXPECT_TRUE(n.ok()) << n.status();
  return out;
}

// One Poll of up to `max` lines: the texts handed out.
std::vector<std::string> PollAll(FileFollower& f, int max = 1000) {
  std::vector<std::string> out;
  for (SeenLine& l : PollLines(f, max)) out.push_back(std::move(l.text));
  return out;
}

using Lines = std::vector<std::string>;

// The texts of `polls` Polls (a Poll reads one file: enough to cross
// several).
Lines PollMany(FileFollower& f, int polls = 6) {
  Lines out;
  for (int i = 0; i < polls; ++i) {
    for (std::string& l : PollAll(f)) out.push_back(std::move(l));
  }
  return out;
}

// logrotate's `compress`: the rotated file replaced by another one (a new
// inode; here not really compressed).
void Compress(const std::string& path) {
  fs::copy_file(path, path + ".gz");
  fs::remove(path);
}

// Each test follows `log_` in a directory of its own.
class FileFollowerTest : public ::testing::Test {
 protected:
  // Where a reader of `log_` stands after its first `lines` lines (what a
  // checkpoint taken before a restart holds).
  FilePosition PositionAfter(int lines) {
    FileFollower f(log_);
    EXPECT_EQ(PollLines(f, lines).size(), static_cast<size_t>(lines));
    return f.position();
  }

  // The checkpoint a reader of `log_` writes after its first `lines` lines.
  Checkpoint CheckpointAfter(int lines) {
    FileFollower f(log_);
    EXPECT_EQ(PollLines(f, lines).size(), static_cast<size_t>(lines));
    return {log_, f.position(), f.modified_ns(), f.fingerprint()};
  }

  // logrotate's copytruncate: the file copied to `copy` (a new inode), then
  // truncated (the same inode, now empty).
  void CopyTruncate(const std::string& copy) {
    fs::copy_file(log_, copy);
    Truncate(log_);
  }

  static uint64_t Inode(const std::string& path) {
    struct stat st;
    EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
    return st.st_ino;
  }

  TempDir dir_;
  const std::string log_ = dir_.File("queue_log");
};

TEST_F(FileFollowerTest, WaitsForTheFileAndHandsOutCompleteLinesOnly) {
  FileFollower f(log_);
  EXPECT_EQ(PollAll(f), Lines{});
  Append(log_, "a\nb\r\nc");
  EXPECT_EQ(PollAll(f), (Lines{"a", "b"}));
  EXPECT_EQ(f.position().offset, 5u);
  EXPECT_EQ(f.position().line, 2);
  EXPECT_EQ(PollAll(f), Lines{});
  Append(log_, "d\n");
  EXPECT_EQ(PollAll(f), Lines{"cd"});
}

TEST_F(FileFollowerTest, LineNumbersAndOffsets) {
  Append(log_, "first\nsecond\nthird\n");
  FileFollower f(log_);
  EXPECT_EQ(PollLines(f, 10), (SeenLines{{"first", 0, 1}, {"second", 6, 2}, {"third", 13, 3}}));
}

TEST_F(FileFollowerTest, MaxLinesPerPoll) {
  Append(log_, "1\n2\n3\n4\n5\n");
  FileFollower f(log_);
  EXPECT_EQ(PollAll(f, 2), (Lines{"1", "2"}));
  EXPECT_EQ(PollAll(f, 2), (Lines{"3", "4"}));
  EXPECT_EQ(PollAll(f, 2), Lines{"5"});
}

TEST_F(FileFollowerTest, FollowsRenameRotationIncludingLateWritesToTheOldFile) {
  Append(log_, "old-1\n");
  FileFollower f(log_);
  EXPECT_EQ(PollAll(f), Lines{"old-1"});
  Append(log_, "old-2\n");
  ASSERT_EQ(std::rename(log_.c_str(), dir_.File("queue_log.1").c_str()), 0);
  Append(dir_.File("queue_log.1"), "old-3-written-after-rename\nold-4-unterminated");
  Append(log_, "new-1\n");
  // The old file first, all of it (never two files in one Poll) ...
  EXPECT_EQ(PollAll(f), (Lines{"old-2", "old-3-written-after-rename", "old-4-unterminated"}));
  // ... then the new one from its start.
  EXPECT_EQ(PollAll(f), Lines{"new-1"});
  EXPECT_EQ(f.stats().rotations, 1);
  EXPECT_EQ(f.position().line, 1);
  EXPECT_FALSE(f.TakeNotices().empty());
}

TEST_F(FileFollowerTest, RotationWhereTheNewFileAppearsLater) {
  Append(log_, "a\n");
  FileFollower f(log_);
  EXPECT_EQ(PollAll(f), Lines{"a"});
  ASSERT_EQ(std::rename(log_.c_str(), dir_.File("queue_log.0").c_str()), 0);
  EXPECT_EQ(PollAll(f), Lines{});  // nothing new, path absent: keep the old file
  Append(log_, "b\n");
  EXPECT_EQ(PollAll(f), Lines{"b"});
}

TEST_F(FileFollowerTest, CopyTruncateRestartsAtTheStart) {
  Append(log_, "one\ntwo\n");
  FileFollower f(log_);
  EXPECT_EQ(PollAll(f), (Lines{"one", "two"}));
  Truncate(log_);
  Append(log_, "3\n");  // shorter than what was read
  EXPECT_EQ(PollAll(f), Lines{"3"});
  EXPECT_EQ(f.stats().truncations, 1);
  EXPECT_EQ(f.position().line, 1);
  EXPECT_EQ(f.position().offset, 2u);
}

// Started "from the end" while the writer is in the middle of a line: that
// line is read whole once finished, not as a fragment.
TEST_F(FileFollowerTest, StartAtEndInsideAnUnterminatedLineReadsThatLineWhole) {
  Append(log_, "history\npart");
  FileFollower f(log_);
  f.StartAtEnd();
  EXPECT_EQ(PollAll(f), Lines{});
  EXPECT_EQ(f.position(), (FilePosition{f.position().inode, 8, 1}));
  Append(log_, "ial\nnew\n");
  EXPECT_EQ(PollLines(f, 10), (SeenLines{{"partial", 8, 2}, {"new", 16, 3}}));
}

// A batch load stops at the end of the file: a last line without a newline
// is handed out then, once.
TEST_F(FileFollowerTest, EndIncompleteLineHandsOutTheUnterminatedTailOnce) {
  Append(log_, "a\nb");
  FileFollower f(log_);
  EXPECT_FALSE(f.EndIncompleteLine());  // nothing read yet
  EXPECT_EQ(PollAll(f), Lines{"a"});
  EXPECT_TRUE(f.EndIncompleteLine());
  EXPECT_EQ(PollLines(f), (SeenLines{{"b", 2, 2}}));
  EXPECT_EQ(f.position().offset, 3u);
  EXPECT_FALSE(f.EndIncompleteLine());
  Append(log_, "c");
  EXPECT_EQ(PollAll(f), Lines{});  // held back again: a line still being written
  Append(log_, "\n");
  EXPECT_EQ(PollAll(f), Lines{"c"});
}

// Started "from the end" of a file that ended mid-line long ago (the
// writer died while writing it): when the writer, restarted, appends its
// next line, that line is handed out alone, not glued to the fragment. The
// fragment is skipped, and the line keeps its offset and number in the
// file.
TEST_F(FileFollowerTest, StartAtEndSkipsAnUnterminatedLineLeftForGood) {
  Append(log_, "history\n1664785000|c1|q|NONE|ENTERQ");
  const time_t written = std::time(nullptr) - 3600;
  SetModified(log_, written);
  // Read 11 s after the last write (10 s: still taken for a line being
  // written, as in the test above).
  SimulatedClock clock(absl::FromTimeT(written) + absl::Seconds(10));
  {
    FileFollower at_10s(log_, 64 * 1024, &clock);
    at_10s.StartAtEnd();
    EXPECT_EQ(PollAll(at_10s), Lines{});
    EXPECT_EQ(at_10s.position().offset, 8u);
  }
  clock.Advance(absl::Seconds(1));
  FileFollower f(log_, 64 * 1024, &clock);
  f.StartAtEnd();
  EXPECT_EQ(PollAll(f), Lines{});
  const uint64_t inode = f.position().inode;
  EXPECT_EQ(f.position(), (FilePosition{inode, 35, 1}));
  EXPECT_EQ(f.TakeNotices().size(), 1u);
  Append(log_, "1664785001|c2|q|NONE|ENTERQUEUE||01632960123|1\nnext\n");
  EXPECT_EQ(PollLines(f, 10), (SeenLines{{"1664785001|c2|q|NONE|ENTERQUEUE||01632960123|1", 35, 2},
                                         {"next", 82, 3}}));
  EXPECT_EQ(f.position(), (FilePosition{inode, 87, 3}));
}

TEST_F(FileFollowerTest, StartAtEndSkipsWhatIsThere) {
  Append(log_, "history\n");
  FileFollower f(log_);
  f.StartAtEnd();
  EXPECT_EQ(PollAll(f), Lines{});
  Append(log_, "new\n");
  EXPECT_EQ(PollLines(f, 10), (SeenLines{{"new", 8, 2}}));
}

// StartAtEnd skips the history of the file there at the start; a file
// that appears only later is new: read from its start, as tail -F does (a
// restart would read it from the start too: its checkpoint is {0, 0}).
TEST_F(FileFollowerTest, StartAtEndOfAFileNotThereYetReadsItFromItsStart) {
  FileFollower f(log_);
  f.StartAtEnd();
  EXPECT_EQ(PollAll(f), Lines{});
  Append(log_, "first\nsecond\n");
  EXPECT_EQ(PollAll(f), (Lines{"first", "second"}));
}

// logrotate's `create` makes the new file before the writer reopens it
// (Asterisk's `logger reload` in postrotate): until the writer has written
// to the new file, lines still go to the renamed one, and are read.
TEST_F(FileFollowerTest, WritesToTheRenamedFileBeforeTheNewOneIsWrittenAreRead) {
  Append(log_, "a\n");
  FileFollower f(log_);
  EXPECT_EQ(PollAll(f), Lines{"a"});
  ASSERT_EQ(std::rename(log_.c_str(), dir_.File("queue_log.1").c_str()), 0);
  Append(log_, "");  // created, empty
  EXPECT_EQ(PollAll(f), Lines{});
  Append(dir_.File("queue_log.1"), "late\n");
  EXPECT_EQ(PollAll(f), Lines{"late"});
  Append(log_, "new\n");  // the writer has moved
  EXPECT_EQ(PollAll(f), Lines{"new"});
  EXPECT_EQ(f.stats().rotations, 1);
}

// An over-long line still unterminated at the end of the file: the
// position stays at its start (a checkpoint taken there, restarted from,
// never begins in the middle of a line).
TEST_F(FileFollowerTest, APositionNeverFallsInsideAnOverlongLine) {
  Append(log_, "ok\n" + std::string(30, 'x'));
  FileFollower f(log_, /*max_line_bytes=*/10);
  EXPECT_EQ(PollLines(f, 10), (SeenLines{{"ok", 0, 1}, {std::string(10, 'x'), 3, 2, true}}));
  EXPECT_EQ(f.position().offset, 3u);
  EXPECT_EQ(f.position().line, 1);
  Append(log_, "yy\nnext\n");
  EXPECT_EQ(PollLines(f, 10), (SeenLines{{"next", 36, 3}}));
  EXPECT_EQ(f.position().offset, 41u);
  EXPECT_EQ(f.position().line, 3);
}

TEST_F(FileFollowerTest, OverlongLineIsHandedOutOnceAsTooLong) {
  Append(log_, std::string(100, 'x') + "\nok\n");
  FileFollower f(log_, /*max_line_bytes=*/10);
  EXPECT_EQ(PollLines(f, 10),
            (SeenLines{{std::string(10, 'x'), 0, 1, true}, {"ok", 101, 2, false}}));
}

TEST(CheckpointTest, SavesAtomicallyAndLoads) {
  TempDir dir;
  const std::string file = dir.File("cp");
  auto none = LoadCheckpoint(file);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(
      SaveCheckpoint(file, {"/var/log/asterisk/queue_log", {77, 1234, 56}, 1764000000123456789})
          .ok());
  EXPECT_FALSE(fs::exists(file + ".tmp"));
  auto c = LoadCheckpoint(file);
  ASSERT_TRUE(c.ok() && c->has_value());
  EXPECT_EQ((*c)->path, "/var/log/asterisk/queue_log");
  EXPECT_EQ((*c)->position, (FilePosition{77, 1234, 56}));
  EXPECT_EQ((*c)->modified_ns, 1764000000123456789);
  EXPECT_EQ((*c)->tail, std::nullopt);
  // With the fingerprint of the bytes before the offset.
  ASSERT_TRUE(SaveCheckpoint(file, {"/q", {77, 1234, 56}, 5, Fingerprint{64, 0x0badf00d}}).ok());
  c = LoadCheckpoint(file);
  ASSERT_TRUE(c.ok() && c->has_value());
  EXPECT_EQ((*c)->tail, (Fingerprint{64, 0x0badf00d}));
  // Written before checkpoints had a modification time: unknown.
  std::ofstream(file, std::ios::trunc) << "path=/x\ninode=1\noffset=2\nline=3\n";
  c = LoadCheckpoint(file);
  ASSERT_TRUE(c.ok() && c->has_value());
  EXPECT_EQ((*c)->modified_ns, 0);
  EXPECT_EQ((*c)->tail, std::nullopt);
}

TEST(CheckpointTest, FingerprintCoversTheLastBytes) {
  EXPECT_EQ(FingerprintOf(""), (Fingerprint{0, 2166136261u}));
  EXPECT_EQ(FingerprintOf("a"), (Fingerprint{1, 0xe40c292cu}));  // FNV-1a's published value
  EXPECT_NE(FingerprintOf("a1\n"), FingerprintOf("a2\n"));
}

TEST(CheckpointTest, CorruptCheckpointIsAnError) {
  TempDir dir;
  for (const char* text :
       {"path=/x\ninode=1\noffset=2\n", "path=/x\ninode=one\noffset=2\nline=3\n", "nonsense\n",
        "path=/x\ninode=1\noffset=2\nline=3\ntail_bytes=2\n",                // no hash
        "path=/x\ninode=1\noffset=2\nline=3\ntail_bytes=3\ntail_hash=ff\n",  // past the offset
        "path=/x\ninode=1\noffset=2\nline=3\ntail_bytes=2\ntail_hash=xyz\n"}) {
    const std::string file = dir.File("cp");
    std::ofstream(file, std::ios::trunc) << text;
    EXPECT_EQ(LoadCheckpoint(file).status().code(), absl::StatusCode::kDataLoss) << text;
  }
}

TEST_F(FileFollowerTest, CheckpointOfARotatedFileIsFinishedFirst) {
  Append(log_, "a\nb\n");
  const FilePosition after_a = PositionAfter(1);
  // While the reader is down: more lines, then rotation.
  Append(log_, "c\n");
  ASSERT_EQ(std::rename(log_.c_str(), dir_.File("queue_log-20261123").c_str()), 0);
  Append(log_, "new\n");
  FileFollower f(log_);
  f.StartAt(after_a);
  EXPECT_EQ(PollAll(f), (Lines{"b", "c"}));
  EXPECT_EQ(PollAll(f), Lines{"new"});
  EXPECT_EQ(f.stats().lost_files, 0);
}

// Down across two rotations (a weekend, daily rotation): the checkpointed
// file is finished, then the file rotated after it, then the current one.
TEST_F(FileFollowerTest, CheckpointAcrossTwoRotationsReadsEveryFile) {
  Append(log_, "a\nb\n");
  const FilePosition after_a = PositionAfter(1);
  Append(log_, "c\n");
  ASSERT_EQ(std::rename(log_.c_str(), dir_.File("queue_log.1").c_str()), 0);
  Append(log_, "m1\nm2\n");
  ASSERT_EQ(std::rename(dir_.File("queue_log.1").c_str(), dir_.File("queue_log.2").c_str()), 0);
  ASSERT_EQ(std::rename(log_.c_str(), dir_.File("queue_log.1").c_str()), 0);
  Append(log_, "new\n");
  Append(dir_.File("queue_log.checkpoint"), "not a rotated file\n");
  FileFollower f(log_);
  f.StartAt(after_a);
  EXPECT_EQ(PollAll(f), (Lines{"b", "c"}));
  EXPECT_EQ(PollAll(f), (Lines{"m1", "m2"}));
  EXPECT_EQ(PollAll(f), Lines{"new"});
  EXPECT_EQ(f.stats().lost_files, 0);
}

// Restarted between logrotate's rename + create and Asterisk's reopen: the
// checkpointed file (now queue_log.1) is finished, but while the new file is
// still empty the writer may still append to it: it is followed until the
// new file is written.
TEST_F(FileFollowerTest, ARestartBeforeTheWriterReopenedKeepsFollowingTheRenamedFile) {
  Append(log_, "a\nb\n");
  const FilePosition after_a = PositionAfter(1);
  ASSERT_EQ(std::rename(log_.c_str(), dir_.File("queue_log.1").c_str()), 0);
  Append(log_, "");  // created, empty
  FileFollower f(log_);
  f.StartAt(after_a);
  EXPECT_EQ(PollAll(f), Lines{"b"});
  EXPECT_EQ(PollAll(f), Lines{});
  Append(dir_.File("queue_log.1"), "late\n");
  EXPECT_EQ(PollAll(f), Lines{"late"});
  Append(log_, "new\n");
  EXPECT_EQ(PollAll(f), Lines{"new"});
  EXPECT_EQ(f.stats().lost_files, 0);
}

// Kept behind while running (Kafka away: the caller rewinds, so A is not
// finished) across two rotations: A -> .1 -> .2, B -> .1, C at the path.
// After A comes B, then C.
TEST_F(FileFollowerTest, FallingTwoRotationsBehindWhileRunningReadsEveryFile) {
  Append(log_, "a1\n");
  FileFollower f(log_);
  EXPECT_EQ(PollAll(f), Lines{"a1"});
  Append(log_, "a2\n");
  ASSERT_EQ(std::rename(log_.c_str(), dir_.File("queue_log.1").c_str()), 0);
  Append(log_, "b1\n");
  ASSERT_EQ(std::rename(dir_.File("queue_log.1").c_str(), dir_.File("queue_log.2").c_str()), 0);
  ASSERT_EQ(std::rename(log_.c_str(), dir_.File("queue_log.1").c_str()), 0);
  Append(log_, "c1\n");
  EXPECT_EQ(PollMany(f), (Lines{"a2", "b1", "c1"}));
  EXPECT_EQ(f.stats().rotations, 2);
  EXPECT_EQ(f.stats().lost_files, 0);
  // The files read are not read again at the next rotation.
  Append(log_, "c2\n");
  ASSERT_EQ(std::rename(log_.c_str(), dir_.File("queue_log.0").c_str()), 0);
  Append(log_, "d1\n");
  EXPECT_EQ(PollMany(f), (Lines{"c2", "d1"}));
}

// Only the rotation's own names count as rotated files: a copy someone
// made of one (queue_log.1.bak), modified after the file being left, is
// not read again at the next rotation (with new ids).
TEST_F(FileFollowerTest, ACopyOfARotatedFileIsNotReadAsOne) {
  Append(log_, "a1\n");
  FileFollower f(log_);
  EXPECT_EQ(PollAll(f), Lines{"a1"});
  ASSERT_EQ(std::rename(log_.c_str(), dir_.File("queue_log.1").c_str()), 0);
  Append(log_, "b1\n");
  EXPECT_EQ(PollMany(f), Lines{"b1"});
  Append(dir_.File("queue_log.1.bak"), "a1\n");
  Append(dir_.File("queue_log.2026-11-25.csv"), "a1\n");
  Append(log_, "b2\n");
  ASSERT_EQ(std::rename(log_.c_str(), dir_.File("queue_log.2").c_str()), 0);
  Append(log_, "c1\n");
  EXPECT_EQ(PollMany(f), (Lines{"b2", "c1"}));
}

// The checkpointed file is gone (compressed) after two rotations while the
// reader was down: the file rotated after it, which is still plain text, is
// read before the one at the path. The checkpoint's modification time says
// which files came after the lost one.
TEST_F(FileFollowerTest, AfterALostCheckpointedFileTheFilesRotatedAfterItAreRead) {
  Append(log_, "a1\na2\n");
  FilePosition after_a1;
  int64_t modified = 0;
  {
    FileFollower f(log_);
    EXPECT_EQ(PollAll(f, 1), Lines{"a1"});
    after_a1 = f.position();
    modified = f.modified_ns();
  }
  EXPECT_GT(modified, 0);
  ASSERT_EQ(std::rename(log_.c_str(), dir_.File("queue_log.1").c_str()), 0);
  Append(log_, "b1\n");
  ASSERT_EQ(std::rename(dir_.File("queue_log.1").c_str(), dir_.File("queue_log.2").c_str()), 0);
  ASSERT_EQ(std::rename(log_.c_str(), dir_.File("queue_log.1").c_str()), 0);
  Append(log_, "c1\n");
  Compress(dir_.File("queue_log.2"));
  FileFollower f(log_);
  f.StartAt(after_a1, modified);
  EXPECT_EQ(PollMany(f), (Lines{"b1", "c1"}));
  EXPECT_EQ(f.stats().lost_files, 1);
}

// More rotated files than the follower remembers (16), all with one
// modification time (restored from an archive): each is read once, oldest
// first by name (logrotate's: queue_log.20 ... queue_log.1), then the file
// at the path.
TEST_F(FileFollowerTest, ManyRotatedFilesWithOneModificationTimeAreEachReadOnceInOrder) {
  Append(log_, "a1\na2\n");
  FilePosition after_a1;
  int64_t modified = 0;
  {
    FileFollower f(log_);
    EXPECT_EQ(PollAll(f, 1), Lines{"a1"});
    after_a1 = f.position();
    modified = f.modified_ns();
  }
  // The checkpointed file is gone (the restored files have new inodes; it
  // is kept elsewhere so that none of them takes its inode).
  fs::create_directory(dir_.File("old"));
  fs::rename(log_, dir_.File("old/queue_log"));
  constexpr int kFiles = 20;
  std::vector<int> order;
  for (int i = 1; i <= kFiles; ++i) order.push_back(i);
  // Created in neither name order (directory order is no help).
  std::rotate(order.begin(), order.begin() + 7, order.end());
  std::swap(order[2], order[15]);
  const int64_t restored = modified / 1000000000 + 60;
  for (int i : order) {
    const std::string file = dir_.File(absl::StrCat("queue_log.", i));
    Append(file, absl::StrCat("r", i, "\n"));
    SetModified(file, restored);
  }
  Append(log_, "new\n");
  SetModified(log_, restored + 60);
  FileFollower f(log_);
  f.StartAt(after_a1, modified);
  Lines expected;
  for (int i = kFiles; i >= 1; --i) expected.push_back(absl::StrCat("r", i));
  expected.push_back("new");
  EXPECT_EQ(PollMany(f, 2 * kFiles + 5), expected);
  EXPECT_EQ(f.stats().lost_files, 1);
  EXPECT_EQ(f.stats().rotations, kFiles);
  // Nothing more, at the next rotation either.
  EXPECT_EQ(PollMany(f, 3), Lines{});
  Append(log_, "new2\n");
  ASSERT_EQ(std::rename(log_.c_str(), dir_.File("queue_log.0").c_str()), 0);
  Append(log_, "newer\n");
  EXPECT_EQ(PollMany(f, 2 * kFiles + 5), (Lines{"new2", "newer"}));
}

// Date-named rotated files with one modification time: oldest date first.
TEST_F(FileFollowerTest, DatedRotatedFilesWithOneModificationTimeAreReadByDate) {
  Append(log_, "a1\n");
  FilePosition after_a1;
  int64_t modified = 0;
  {
    FileFollower f(log_);
    EXPECT_EQ(PollAll(f), Lines{"a1"});
    after_a1 = f.position();
    modified = f.modified_ns();
  }
  fs::create_directory(dir_.File("old"));
  fs::rename(log_, dir_.File("old/queue_log"));
  const int64_t restored = modified / 1000000000 + 60;
  for (const char* date : {"20261124", "20261122", "20261201", "20261123"}) {
    const std::string file = dir_.File(absl::StrCat("queue_log-", date));
    Append(file, absl::StrCat(date, "\n"));
    SetModified(file, restored);
  }
  Append(log_, "new\n");
  FileFollower f(log_);
  f.StartAt(after_a1, modified);
  EXPECT_EQ(PollMany(f, 10), (Lines{"20261122", "20261123", "20261124", "20261201", "new"}));
}

TEST_F(FileFollowerTest, CheckpointOfAVanishedFileIsReported) {
  Append(log_, "a\nb\n");
  const FilePosition after_a = PositionAfter(1);
  // Moved out of reach (another directory): not a rotated sibling.
  fs::create_directory(dir_.File("archive"));
  fs::rename(log_, dir_.File("archive/old"));
  Append(log_, "new\n");
  FileFollower f(log_);
  f.StartAt(after_a);
  EXPECT_EQ(PollAll(f), Lines{"new"});
  EXPECT_EQ(f.stats().lost_files, 1);
}

// The follower's position and fingerprint are what a checkpoint stores.
TEST_F(FileFollowerTest, FingerprintIsOfTheBytesBeforeThePosition) {
  Append(log_, std::string(70, 'x') + "\nab\n" + std::string(30, 'y'));
  FileFollower f(log_, /*max_line_bytes=*/10);
  EXPECT_EQ(f.fingerprint(), FingerprintOf(""));
  EXPECT_EQ(PollLines(f, 1).size(), 1u);  // the over-long line
  EXPECT_EQ(f.fingerprint(), FingerprintOf(std::string(63, 'x') + "\n"));
  EXPECT_EQ(PollLines(f), (SeenLines{{"ab", 71, 2}, {std::string(10, 'y'), 74, 3, true}}));
  // Inside the over-long last line: its start.
  EXPECT_EQ(f.position().offset, 74u);
  EXPECT_EQ(f.fingerprint(), FingerprintOf(std::string(60, 'x') + "\nab\n"));
}

// Restarted after logrotate's copytruncate while stopped, the file now
// shorter than the checkpoint: the lines written after the checkpoint and
// before the truncation are read from the copy (they were lost: the file
// was read from its start), then the file from its start.
TEST_F(FileFollowerTest, CopyTruncateWhileDownReadsTheRestFromTheCopy) {
  Append(log_, "a1\na2\n");
  const Checkpoint cp = CheckpointAfter(2);
  ASSERT_EQ(cp.tail, FingerprintOf("a1\na2\n"));
  Append(log_, "a3\na4\n");
  CopyTruncate(dir_.File("queue_log.1"));
  Append(log_, "b1\n");
  FileFollower f(log_);
  f.StartAt(cp.position, cp.modified_ns, cp.tail);
  EXPECT_EQ(PollLines(f), (SeenLines{{"a3", 6, 3}, {"a4", 9, 4}}));
  EXPECT_EQ(f.position(), (FilePosition{Inode(dir_.File("queue_log.1")), 12, 4}));
  EXPECT_EQ(PollLines(f), (SeenLines{{"b1", 0, 1}}));
  EXPECT_EQ(f.position(), (FilePosition{cp.position.inode, 3, 1}));
  EXPECT_EQ(f.stats().truncations, 1);
  EXPECT_EQ(f.stats().lost_files, 0);
  EXPECT_EQ(PollMany(f), Lines{});
}

// The same, the file written past the checkpoint again: neither a fragment
// from mid-line nor the new content's first bytes skipped (the file was
// read from the checkpoint's offset in the new content).
TEST_F(FileFollowerTest, CopyTruncateWhileDownThenGrownPastTheCheckpointReadsTheCopyThenAll) {
  Append(log_, "a1\na2\n");
  const Checkpoint cp = CheckpointAfter(2);
  Append(log_, "a3\na4\n");
  CopyTruncate(dir_.File("queue_log.1"));
  Append(log_, "bb1\nbb2\nbb3\n");
  FileFollower f(log_);
  f.StartAt(cp.position, cp.modified_ns, cp.tail);
  EXPECT_EQ(PollLines(f), (SeenLines{{"a3", 6, 3}, {"a4", 9, 4}}));
  EXPECT_EQ(PollLines(f), (SeenLines{{"bb1", 0, 1}, {"bb2", 4, 2}, {"bb3", 8, 3}}));
  EXPECT_EQ(f.stats().truncations, 1);
  EXPECT_EQ(f.stats().lost_files, 0);
  EXPECT_EQ(f.TakeNotices().size(), 2u);  // the truncation; the copy finished
}

// No copy holding the checkpoint's bytes (compressed at once): the file is
// read from its start, and the possible loss reported and counted.
TEST_F(FileFollowerTest, CopyTruncateWhileDownWithoutTheCopyReadsFromTheStartAndCountsALoss) {
  Append(log_, "a1\na2\n");
  const Checkpoint cp = CheckpointAfter(2);
  Append(log_, "a3\n");
  CopyTruncate(dir_.File("queue_log.1"));
  Compress(dir_.File("queue_log.1"));
  Append(dir_.File("queue_log.2"), "x1\nxx\nx3\n");  // another file: not the copy
  Append(log_, "bb1\nbb2\nbb3\n");
  FileFollower f(log_);
  f.StartAt(cp.position, cp.modified_ns, cp.tail);
  EXPECT_EQ(PollLines(f), (SeenLines{{"bb1", 0, 1}, {"bb2", 4, 2}, {"bb3", 8, 3}}));
  EXPECT_EQ(f.stats().truncations, 1);
  EXPECT_EQ(f.stats().lost_files, 1);
  const std::vector<std::string> notices = f.TakeNotices();
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_NE(notices[0].find("may be lost"), std::string::npos) << notices[0];
}

// A checkpoint written before checkpoints had a fingerprint: as before (the
// file at least as long as the checkpoint is taken to hold it).
TEST_F(FileFollowerTest, ACheckpointWithoutAFingerprintIsTakenAsBefore) {
  Append(log_, "a1\na2\n");
  const Checkpoint cp = CheckpointAfter(2);
  Append(log_, "a3\n");
  FileFollower f(log_);
  f.StartAt(cp.position, cp.modified_ns);
  EXPECT_EQ(f.fingerprint(), std::nullopt);
  EXPECT_EQ(PollLines(f), (SeenLines{{"a3", 6, 3}}));
  EXPECT_EQ(f.fingerprint(), FingerprintOf("a1\na2\na3\n"));
}

// Running but kept at its checkpoint (Kafka away: each batch rewound) while
// the file is copied, truncated and written past the checkpoint again: the
// rest is read from the copy (a Rewind goes back into the copy), then the
// new content, whole.
TEST_F(FileFollowerTest, CopyTruncateWhileRunningBehindReadsTheCopyThenAll) {
  Append(log_, "a1\na2\n");
  FileFollower f(log_);
  EXPECT_EQ(PollAll(f), (Lines{"a1", "a2"}));
  const FilePosition cp = f.position();
  f.Checkpointed(cp);
  Append(log_, "a3\na4\n");
  EXPECT_EQ(PollAll(f), (Lines{"a3", "a4"}));
  f.Rewind(cp);  // delivery failed
  CopyTruncate(dir_.File("queue_log.1"));
  Append(log_, "bb1\nbb2\nbb3\n");
  EXPECT_EQ(PollLines(f), (SeenLines{{"a3", 6, 3}, {"a4", 9, 4}}));
  f.Rewind(cp);  // failed again: back into the copy
  EXPECT_EQ(PollLines(f), (SeenLines{{"a3", 6, 3}, {"a4", 9, 4}}));
  f.Checkpointed(f.position());
  EXPECT_EQ(PollLines(f), (SeenLines{{"bb1", 0, 1}, {"bb2", 4, 2}, {"bb3", 8, 3}}));
  EXPECT_EQ(f.stats().truncations, 1);
  EXPECT_EQ(f.stats().lost_files, 0);
}

// Up to date when the copy is made and the file truncated: nothing more in
// the copy; the file's new lines from its start. A Rewind to before the
// truncation restarts the file.
TEST_F(FileFollowerTest, CopyTruncateWhileRunningUpToDateReadsTheNewLines) {
  Append(log_, "a1\na2\n");
  FileFollower f(log_);
  EXPECT_EQ(PollAll(f), (Lines{"a1", "a2"}));
  const FilePosition cp = f.position();
  f.Checkpointed(cp);
  CopyTruncate(dir_.File("queue_log.1"));
  Append(log_, "bb1\nbb2\nbb3\n");
  EXPECT_EQ(PollLines(f), (SeenLines{{"bb1", 0, 1}, {"bb2", 4, 2}, {"bb3", 8, 3}}));
  f.Rewind(cp);
  EXPECT_EQ(PollAll(f), (Lines{"bb1", "bb2", "bb3"}));
  EXPECT_EQ(f.stats().truncations, 1);
  EXPECT_EQ(f.stats().lost_files, 0);
}

// Records produced, with delivery outcomes decided by the test.
class FakeProducer final : public kafka::Producer {
 public:
  int Poll(absl::Duration) override { return 0; }
  absl::Status Flush(absl::Duration) override {
    if (hold_) return absl::DeadlineExceededError("kafka flush: records still undelivered");
    for (auto& [record, cb] : pending_) {
      const bool fail = fail_next_ > 0;
      if (fail) --fail_next_;
      kafka::Record r = record;
      if (!fail) delivered.push_back(record);
      if (cb) cb(fail ? absl::UnavailableError("broker down") : absl::OkStatus(), r);
    }
    pending_.clear();
    return absl::OkStatus();
  }
  int64_t InFlight() const override { return static_cast<int64_t>(pending_.size()); }
  absl::Status PrepareTopics(const std::vector<std::string>&, absl::Duration) override {
    return absl::OkStatus();
  }
  absl::Status InitTransactions(absl::Duration) override { return absl::UnimplementedError(""); }
  absl::Status BeginTransaction() override { return absl::UnimplementedError(""); }
  absl::Status SendOffsetsToTransaction(const std::vector<kafka::TopicPartition>&,
                                        const kafka::ConsumerGroupMetadata&,
                                        absl::Duration) override {
    return absl::UnimplementedError("");
  }
  absl::Status CommitTransaction(absl::Duration) override { return absl::UnimplementedError(""); }
  absl::Status AbortTransaction(absl::Duration) override { return absl::UnimplementedError(""); }
  kafka::ClientHealth Health() const override { return {}; }

  std::vector<std::string> DeliveredIds() const {
    std::vector<std::string> ids;
    for (const auto& r : delivered) {
      tidewatch::v1::CallEvent e;
      e.ParseFromString(r.value);
      ids.push_back(e.event_id());
    }
    return ids;
  }

  int fail_next_ = 0;
  bool hold_ = false;  // Flush times out and keeps the records
  std::vector<kafka::Record> delivered;

 protected:
  absl::Status DoProduce(const std::string& topic, std::string key, std::string value,
                         std::vector<kafka::Header>, kafka::DeliveryCallback cb) override {
    kafka::Record r;
    r.topic = topic;
    r.key = std::move(key);
    r.value = std::move(value);
    pending_.push_back({std::move(r), std::move(cb)});
    return absl::OkStatus();
  }

 private:
  std::vector<std::pair<kafka::Record, kafka::DeliveryCallback>> pending_;
};

class BridgeTest : public ::testing::Test {
 protected:
  BridgeTest()
      : map_(*ParseLineMap("queues: {council-tax: revenues}\n", "test")),
        hasher_(*CallerHasher::Create("bridge-test-secret-key")),
        mapper_(map_, hasher_),
        log_(dir_.File("queue_log")),
        checkpoint_(dir_.File("checkpoint")) {}

  // Calls n = 1..count as ENTERQUEUE lines.
  static std::string Calls(int from, int to) {
    std::string out;
    for (int i = from; i <= to; ++i) {
      absl::StrAppend(&out, 1664785800 + i, "|call-", i, "|council-tax|NONE|ENTERQUEUE||0163296",
                      1000 + i, "|1\n");
    }
    return out;
  }

  // Runs a fresh bridge (as after a restart) until nothing is new.
  std::vector<std::string> RunBridge(FakeProducer& producer, int batch = 3) {
    FileFollower follower(log_);
    BridgeOptions options;
    options.checkpoint_path = checkpoint_;
    options.max_batch_lines = batch;
    QueueLogBridge bridge(follower, mapper_, producer, options,
                          [&](const std::string& m) { logs_.push_back(m); });
    EXPECT_TRUE(bridge.Start().ok());
    while (true) {
      absl::StatusOr<int> n = bridge.Step();
      if (!n.ok()) continue;  // failed delivery: retried
      if (*n == 0) break;
    }
    return producer.DeliveredIds();
  }

  // Runs a fresh bridge (as after a restart) on a producer of its own: the
  // call ids it delivered, in order (none: nothing new since the last run).
  std::vector<std::string> RestartBridge() {
    FakeProducer producer;
    RunBridge(producer);
    return CallIds(producer);
  }

  static std::vector<std::string> CallIds(const FakeProducer& p) {
    std::vector<std::string> out;
    for (const auto& r : p.delivered) {
      tidewatch::v1::CallEvent e;
      e.ParseFromString(r.value);
      out.push_back(e.call_id());
    }
    return out;
  }

  static std::vector<std::string> Names(int from, int to) {
    std::vector<std::string> out;
    for (int i = from; i <= to; ++i) out.push_back(absl::StrCat("call-", i));
    return out;
  }

  TempDir dir_;
  LineMap map_;
  CallerHasher hasher_;
  QueueLogMapper mapper_;
  std::string log_;
  std::string checkpoint_;
  std::vector<std::string> logs_;
};

TEST_F(BridgeTest, PublishesKeyedByLineAndCheckpoints) {
  Append(log_, Calls(1, 5));
  FakeProducer p;
  RunBridge(p);
  ASSERT_EQ(p.delivered.size(), 5u);
  EXPECT_EQ(p.delivered[0].key, "revenues");
  EXPECT_EQ(p.delivered[0].topic, "telephony.call-events");
  auto c = LoadCheckpoint(checkpoint_);
  ASSERT_TRUE(c.ok() && c->has_value());
  EXPECT_EQ((*c)->position.line, 5);
  EXPECT_EQ((*c)->position.offset, fs::file_size(log_));
}

TEST_F(BridgeTest, RestartFromCheckpointNeitherSkipsNorRepeats) {
  Append(log_, Calls(1, 4));
  EXPECT_EQ(RestartBridge(), Names(1, 4));
  Append(log_, Calls(5, 9));  // written while the bridge is down
  EXPECT_EQ(RestartBridge(), Names(5, 9));
  EXPECT_TRUE(RestartBridge().empty());
}

TEST_F(BridgeTest, RestartAcrossRotationNeitherSkipsNorRepeats) {
  Append(log_, Calls(1, 3));
  RestartBridge();
  Append(log_, Calls(4, 6));
  ASSERT_EQ(std::rename(log_.c_str(), (log_ + ".1").c_str()), 0);
  Append(log_, Calls(7, 8));
  EXPECT_EQ(RestartBridge(), Names(4, 8));
}

// Down across two rotations, and the checkpointed file compressed
// meanwhile (logrotate's compress): the file rotated after it is still
// published, before the current one.
TEST_F(BridgeTest, RestartAfterTheCheckpointedFileWasCompressedReadsTheFilesAfterIt) {
  Append(log_, Calls(1, 3));
  RestartBridge();
  ASSERT_EQ(std::rename(log_.c_str(), (log_ + ".1").c_str()), 0);
  Append(log_, Calls(4, 5));
  ASSERT_EQ(std::rename((log_ + ".1").c_str(), (log_ + ".2").c_str()), 0);
  ASSERT_EQ(std::rename(log_.c_str(), (log_ + ".1").c_str()), 0);
  Append(log_, Calls(6, 7));
  Compress(log_ + ".2");
  EXPECT_EQ(RestartBridge(), Names(4, 7));
}

// As queuelog-bridge --exit-at-eof: a last line without a newline is
// published, counted and checkpointed before stopping.
TEST_F(BridgeTest, ABatchLoadPublishesALastLineWithoutANewline) {
  std::string text = Calls(1, 2);
  text.pop_back();
  Append(log_, text);
  FakeProducer p;
  FileFollower follower(log_);
  BridgeOptions options;
  options.checkpoint_path = checkpoint_;
  QueueLogBridge bridge(follower, mapper_, p, options, nullptr);
  ASSERT_TRUE(bridge.Start().ok());
  for (int steps = 0; steps < 10; ++steps) {
    absl::StatusOr<int> n = bridge.Step();
    ASSERT_TRUE(n.ok()) << n.status();
    if (*n == 0 && !follower.EndIncompleteLine()) break;
  }
  EXPECT_EQ(CallIds(p), Names(1, 2));
  EXPECT_EQ(bridge.stats().mapped.lines, 2);
  EXPECT_EQ((*LoadCheckpoint(checkpoint_))->position.offset, fs::file_size(log_));
}

// Deliveries failing just after a copytruncate: each retry goes back to the
// checkpoint, from before the truncation. The truncation, and the lines
// read again, are counted once.
TEST_F(BridgeTest, FailedDeliveriesAfterACopyTruncateCountItOnce) {
  Append(log_, Calls(1, 3));
  FakeProducer p;
  FileFollower follower(log_);
  BridgeOptions options;
  options.checkpoint_path = checkpoint_;
  QueueLogBridge bridge(follower, mapper_, p, options, nullptr);
  ASSERT_TRUE(bridge.Start().ok());
  ASSERT_TRUE(bridge.Step().ok());
  Truncate(log_);
  Append(log_, Calls(4, 4));
  p.fail_next_ = 2;
  EXPECT_FALSE(bridge.Step().ok());
  EXPECT_FALSE(bridge.Step().ok());
  EXPECT_EQ(follower.stats().truncations, 1);
  EXPECT_EQ(bridge.stats().mapped.lines, 4);
  // The file grows past the old checkpoint before the broker is back: still
  // read from its start.
  Append(log_, Calls(5, 7));
  absl::StatusOr<int> n = bridge.Step();
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 4);
  EXPECT_EQ(CallIds(p), Names(1, 7));
  EXPECT_EQ(follower.stats().truncations, 1);
  EXPECT_EQ(bridge.stats().mapped.lines, 7);
  EXPECT_EQ((*LoadCheckpoint(checkpoint_))->position.line, 4);
}

TEST_F(BridgeTest, FailedDeliveryIsNotCheckpointedAndIsRetriedWithTheSameIds) {
  Append(log_, Calls(1, 3));
  FakeProducer p;
  FileFollower follower(log_);
  BridgeOptions options;
  options.checkpoint_path = checkpoint_;
  QueueLogBridge bridge(follower, mapper_, p, options, nullptr);
  ASSERT_TRUE(bridge.Start().ok());
  p.fail_next_ = 1;  // the first of three fails
  absl::StatusOr<int> n = bridge.Step();
  EXPECT_FALSE(n.ok());
  EXPECT_FALSE(LoadCheckpoint(checkpoint_)->has_value());
  const std::vector<std::string> partial = p.DeliveredIds();
  ASSERT_EQ(partial.size(), 2u);
  n = bridge.Step();
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 3);
  const std::vector<std::string> all = p.DeliveredIds();
  ASSERT_EQ(all.size(), 5u);
  // The retry re-sends the same three events (same ids): the engine dedupes.
  EXPECT_EQ(std::vector<std::string>(all.begin() + 2, all.end())[1], partial[0]);
  EXPECT_EQ(bridge.stats().delivery_failures, 1);
  EXPECT_EQ((*LoadCheckpoint(checkpoint_))->position.line, 3);
  // The lines read again are not counted again (lines_total is a counter
  // of the file's lines).
  EXPECT_EQ(bridge.stats().mapped.lines, 3);
  EXPECT_EQ(bridge.stats().mapped.events, 3);
}

// The broker is out longer than a Step waits for its deliveries: the Step
// gives up (nothing checkpointed) while its records are still queued, and
// their reports come during a later Step. They belong to the Step that gave
// up: the later one's own deliveries decide whether it checkpoints (the late
// reports used to be written into the finished Step's stack frame).
TEST_F(BridgeTest, LateDeliveryReportsOfAnEarlierStepAreNotTheNextOnes) {
  Append(log_, Calls(1, 3));
  FakeProducer p;
  FileFollower follower(log_);
  BridgeOptions options;
  options.checkpoint_path = checkpoint_;
  QueueLogBridge bridge(follower, mapper_, p, options, nullptr);
  ASSERT_TRUE(bridge.Start().ok());
  p.hold_ = true;
  absl::StatusOr<int> n = bridge.Step();
  EXPECT_FALSE(n.ok());
  EXPECT_FALSE(LoadCheckpoint(checkpoint_)->has_value());
  // The broker comes back; the first Step's three records time out there.
  p.hold_ = false;
  p.fail_next_ = 3;
  n = bridge.Step();
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 3);
  EXPECT_EQ(p.DeliveredIds().size(), 3u);
  ASSERT_TRUE(LoadCheckpoint(checkpoint_)->has_value());
  EXPECT_EQ((*LoadCheckpoint(checkpoint_))->position.line, 3);
  EXPECT_EQ(bridge.stats().delivery_failures, 1);
}

// After a copytruncate the file's lines start again at offset 0 (same
// inode): they are new lines, counted.
TEST_F(BridgeTest, LinesAfterACopyTruncateAreCounted) {
  Append(log_, Calls(1, 3));
  FakeProducer p;
  FileFollower follower(log_);
  BridgeOptions options;
  options.checkpoint_path = checkpoint_;
  QueueLogBridge bridge(follower, mapper_, p, options, nullptr);
  ASSERT_TRUE(bridge.Start().ok());
  ASSERT_TRUE(bridge.Step().ok());
  Truncate(log_);
  Append(log_, Calls(4, 5));
  absl::StatusOr<int> n = bridge.Step();
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 2);
  EXPECT_EQ(bridge.stats().mapped.lines, 5);
  EXPECT_EQ(CallIds(p), Names(1, 5));
}

TEST_F(BridgeTest, MalformedLinesAreCountedLoggedWithLineNumberAndSkipped) {
  Append(log_, Calls(1, 1) + "garbage\n" + "1664785900|c|council-tax|NONE|HOLIDAY|\n" +
                   "1664785900|c|parking|NONE|ENTERQUEUE||01632960999|1\n" +
                   "1664785900|c|council-tax|A|RINGNOANSWER|1000\n" + Calls(2, 2));
  FakeProducer p;
  FileFollower follower(log_);
  QueueLogBridge bridge(follower, mapper_, p, BridgeOptions{},
                        [&](const std::string& m) { logs_.push_back(m); });
  ASSERT_TRUE(bridge.Start().ok());
  ASSERT_TRUE(bridge.Step().ok());
  EXPECT_EQ(CallIds(p), Names(1, 2));
  const MapCounters& c = bridge.stats().mapped;
  EXPECT_EQ(c.lines, 6);
  EXPECT_EQ(c.skipped[static_cast<int>(SkipReason::kTooFewFields)], 1);
  EXPECT_EQ(c.skipped[static_cast<int>(SkipReason::kUnknownEvent)], 1);
  EXPECT_EQ(c.skipped[static_cast<int>(SkipReason::kUnmappedQueue)], 1);
  EXPECT_EQ(c.ignored.at("RINGNOANSWER"), 1);
  std::string all;
  for (const auto& l : logs_) absl::StrAppend(&all, l, "\n");
  EXPECT_NE(all.find("queue_log:2 (byte"), std::string::npos) << all;
  EXPECT_NE(all.find("queue_log:3 (byte"), std::string::npos) << all;
  EXPECT_NE(all.find("queue_log:4 (byte"), std::string::npos) << all;
  EXPECT_EQ(all.find("1632960"), std::string::npos) << all;
}

TEST_F(BridgeTest, WithoutFromStartOnlyNewLinesEvenAfterAFailedFirstBatch) {
  Append(log_, Calls(1, 3));  // history: not published
  FakeProducer p;
  FileFollower follower(log_);
  BridgeOptions options;
  options.checkpoint_path = checkpoint_;
  options.from_start = false;
  QueueLogBridge bridge(follower, mapper_, p, options, nullptr);
  ASSERT_TRUE(bridge.Start().ok());
  Append(log_, Calls(4, 5));
  p.fail_next_ = 1;
  EXPECT_FALSE(bridge.Step().ok());
  ASSERT_TRUE(bridge.Step().ok());
  std::vector<std::string> calls = CallIds(p);
  EXPECT_EQ(std::set<std::string>(calls.begin(), calls.end()),
            (std::set<std::string>{"call-4", "call-5"}));
  EXPECT_EQ((*LoadCheckpoint(checkpoint_))->position.line, 5);  // numbered as in the file
}

TEST_F(BridgeTest, MetricsTextCountsByReasonAndEvent) {
  Append(log_, Calls(1, 2) + "garbage\n" + "1664785900|c|council-tax|A|RINGNOANSWER|1000\n");
  FakeProducer p;
  FileFollower follower(log_);
  QueueLogBridge bridge(follower, mapper_, p, BridgeOptions{}, nullptr);
  ASSERT_TRUE(bridge.Start().ok());
  ASSERT_TRUE(bridge.Step().ok());
  const std::string text = BridgeMetricsText(bridge.stats(), follower.stats(),
                                             bridge.checkpointed(), absl::FromUnixSeconds(1700));
  for (const char* want :
       {"tidewatch_queuelog_lines_total 4\n", "tidewatch_queuelog_events_published_total 2\n",
        "tidewatch_queuelog_lines_skipped_total{reason=\"too_few_fields\"} 1\n",
        "tidewatch_queuelog_lines_skipped_total{reason=\"bad_time\"} 0\n",
        "tidewatch_queuelog_lines_ignored_total{event=\"RINGNOANSWER\"} 1\n",
        "tidewatch_queuelog_waits_dropped_total 0\n", "tidewatch_queuelog_checkpoint_line 4\n",
        "# TYPE tidewatch_queuelog_lines_total counter\n", "process_start_time_seconds 1700\n",
        "tidewatch_queuelog_last_loss_timestamp_seconds 0\n"}) {
    EXPECT_NE(text.find(want), std::string::npos) << want << "\n" << text;
  }
  EXPECT_NE(BridgeMetricsText(bridge.stats(), follower.stats(), bridge.checkpointed(),
                              absl::FromUnixSeconds(1700), absl::FromUnixSeconds(1800))
                .find("tidewatch_queuelog_last_loss_timestamp_seconds 1800\n"),
            std::string::npos);
}

// logrotate's copytruncate while the bridge is down, the file written past
// the checkpoint again before the restart: the calls written before the
// truncation are published from the copy, then the new ones, each once.
TEST_F(BridgeTest, RestartAfterACopyTruncateWhileDownNeitherSkipsNorRepeats) {
  Append(log_, Calls(1, 3));
  RestartBridge();
  ASSERT_TRUE((*LoadCheckpoint(checkpoint_))->tail.has_value());
  Append(log_, Calls(4, 6));
  fs::copy_file(log_, log_ + ".1");
  Truncate(log_);
  Append(log_, Calls(7, 12));
  EXPECT_EQ(RestartBridge(), Names(4, 12));
  EXPECT_TRUE(RestartBridge().empty());
}

// The same while running, kept at its checkpoint by failed deliveries.
TEST_F(BridgeTest, CopyTruncateWhileDeliveriesFailNeitherSkipsNorRepeats) {
  Append(log_, Calls(1, 3));
  FakeProducer p;
  FileFollower follower(log_);
  BridgeOptions options;
  options.checkpoint_path = checkpoint_;
  QueueLogBridge bridge(follower, mapper_, p, options, nullptr);
  ASSERT_TRUE(bridge.Start().ok());
  ASSERT_TRUE(bridge.Step().ok());
  Append(log_, Calls(4, 5));
  p.fail_next_ = 2;
  EXPECT_FALSE(bridge.Step().ok());
  fs::copy_file(log_, log_ + ".1");
  Truncate(log_);
  Append(log_, Calls(6, 12));
  p.fail_next_ = 1;
  EXPECT_FALSE(bridge.Step().ok());  // from the copy, failed again
  for (int steps = 0; steps < 5; ++steps) ASSERT_TRUE(bridge.Step().ok());
  // (call-5 first from the batch whose call-4 failed, then all again.)
  std::vector<std::string> want = Names(1, 3);
  want.push_back("call-5");
  for (const std::string& name : Names(4, 12)) want.push_back(name);
  EXPECT_EQ(CallIds(p), want);
  EXPECT_EQ(bridge.stats().mapped.lines, 12);
  EXPECT_EQ(follower.stats().truncations, 1);
  EXPECT_EQ(follower.stats().lost_files, 0);
  EXPECT_EQ((*LoadCheckpoint(checkpoint_))->position.line, 7);
}

TEST_F(BridgeTest, CheckpointForAnotherPathIsRefused) {
  ASSERT_TRUE(SaveCheckpoint(checkpoint_, {"/elsewhere/queue_log", {1, 2, 3}}).ok());
  FakeProducer p;
  FileFollower follower(log_);
  BridgeOptions options;
  options.checkpoint_path = checkpoint_;
  QueueLogBridge bridge(follower, mapper_, p, options, nullptr);
  EXPECT_EQ(bridge.Start().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace tidewatch::queuelog
