// JsonLinesReader: line numbers, blank lines, CRLF, BOM, block boundaries,
// over-long lines, FILE* input.

#include "events/json_lines.h"

#include <cstdio>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "event_generator.h"
#include "events/events.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tidewatch::events {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

struct Read {
  std::vector<std::pair<int64_t, std::string>> lines;
  std::vector<int64_t> too_long;
  int64_t lines_read = 0;
};

Read ReadAll(const std::string& input,
             size_t max_line_bytes = JsonLinesReader::kDefaultMaxLineBytes) {
  std::istringstream in(input);
  JsonLinesReader reader(in, max_line_bytes);
  Read out;
  JsonLinesReader::Line line;
  while (reader.Next(line)) {
    out.lines.emplace_back(line.number, std::string(line.text));
    if (line.too_long) out.too_long.push_back(line.number);
  }
  EXPECT_TRUE(reader.status().ok()) << reader.status();
  out.lines_read = reader.lines_read();
  return out;
}

TEST(EventsJsonLinesReaderTest, NumbersNonBlankLines) {
  const Read r = ReadAll("{\"a\":1}\n\n  \t\n{\"b\":2}\r\n\r\n{\"c\":3}");
  EXPECT_THAT(r.lines,
              ElementsAre(Pair(1, "{\"a\":1}"), Pair(4, "{\"b\":2}"), Pair(6, "{\"c\":3}")));
  EXPECT_EQ(r.lines_read, 6);
}

TEST(EventsJsonLinesReaderTest, EmptyAndBlankInput) {
  EXPECT_TRUE(ReadAll("").lines.empty());
  EXPECT_TRUE(ReadAll("\n\n \r\n").lines.empty());
  EXPECT_EQ(ReadAll("\n\n \r\n").lines_read, 3);
}

TEST(EventsJsonLinesReaderTest, TrailingNewlineDoesNotAddALine) {
  const Read r = ReadAll("x\ny\n");
  EXPECT_THAT(r.lines, ElementsAre(Pair(1, "x"), Pair(2, "y")));
  EXPECT_EQ(r.lines_read, 2);
}

TEST(EventsJsonLinesReaderTest, SkipsByteOrderMark) {
  const Read r = ReadAll("\xEF\xBB\xBF{\"a\":1}\n\xEF\xBB\xBFx\n");
  EXPECT_THAT(r.lines, ElementsAre(Pair(1, "{\"a\":1}"), Pair(2, "\xEF\xBB\xBFx")));
  EXPECT_TRUE(ReadAll("\xEF\xBB\xBF\n").lines.empty());
}

TEST(EventsJsonLinesReaderTest, ManyLinesAcrossBlockBoundaries) {
  // Several MiB of events of varying length: lines straddle every read.
  testing::EventGenerator gen(8);
  std::string input;
  std::vector<std::string> want;
  while (input.size() < (size_t{5} << 20)) {
    want.push_back(JsonEvent(gen.Any()));
    absl::StrAppend(&input, want.back(), want.size() % 7 == 0 ? "\r\n" : "\n");
  }
  const Read r = ReadAll(input);
  ASSERT_EQ(r.lines.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(r.lines[i].first, static_cast<int64_t>(i + 1));
    ASSERT_EQ(r.lines[i].second, want[i]);
  }
}

TEST(EventsJsonLinesReaderTest, LongLineLongerThanABlockButWithinTheLimit) {
  const std::string big(700000, 'x');
  const Read r = ReadAll(absl::StrCat("a\n", big, "\nb"));
  ASSERT_EQ(r.lines.size(), 3u);
  EXPECT_EQ(r.lines[1].second, big);
  EXPECT_EQ(r.lines[2], std::make_pair(int64_t{3}, std::string("b")));
  EXPECT_TRUE(r.too_long.empty());
}

TEST(EventsJsonLinesReaderTest, OverLongLinesAreFlaggedAndSkipped) {
  // In the buffer at once:
  Read r = ReadAll("short\n0123456789abcdef\nok\n", 10);
  EXPECT_THAT(r.lines, ElementsAre(Pair(1, "short"), Pair(2, "0123456789"), Pair(3, "ok")));
  EXPECT_THAT(r.too_long, ElementsAre(2));
  // Spanning many reads, and at the very end of the input:
  const std::string huge(3 << 20, 'h');
  r = ReadAll(absl::StrCat("a\n", huge, "\nb\n", huge), 1000);
  ASSERT_EQ(r.lines.size(), 4u);
  EXPECT_EQ(r.lines[1].first, 2);
  EXPECT_EQ(r.lines[1].second, std::string(1000, 'h'));
  EXPECT_EQ(r.lines[2], std::make_pair(int64_t{3}, std::string("b")));
  EXPECT_EQ(r.lines[3].first, 4);
  EXPECT_THAT(r.too_long, ElementsAre(2, 4));
}

TEST(EventsJsonLinesReaderTest, ReadsFromFile) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  const std::string input = "{\"a\":1}\n\n{\"b\":2}\n";
  ASSERT_EQ(std::fwrite(input.data(), 1, input.size(), f), input.size());
  std::rewind(f);
  JsonLinesReader reader(f);
  JsonLinesReader::Line line;
  ASSERT_TRUE(reader.Next(line));
  EXPECT_EQ(line.text, "{\"a\":1}");
  EXPECT_EQ(line.number, 1);
  ASSERT_TRUE(reader.Next(line));
  EXPECT_EQ(line.text, "{\"b\":2}");
  EXPECT_EQ(line.number, 3);
  EXPECT_FALSE(reader.Next(line));
  EXPECT_FALSE(reader.Next(line));
  EXPECT_TRUE(reader.status().ok());
  std::fclose(f);
}

TEST(EventsJsonLinesReaderTest, ReadErrorIsReported) {
  std::FILE* f = std::fopen("/", "r");  // a directory: reads fail with EISDIR
  ASSERT_NE(f, nullptr);
  JsonLinesReader reader(f);
  JsonLinesReader::Line line;
  EXPECT_FALSE(reader.Next(line));
  EXPECT_EQ(reader.status().code(), absl::StatusCode::kDataLoss);
  std::fclose(f);
}

TEST(EventsJsonLinesReaderTest, ReplayLoop) {
  // The intended use: read, parse, count rejects with their line numbers.
  std::istringstream in(
      "{\"eventId\":\"e1\",\"lineId\":\"revenues\",\"callId\":\"c1\","
      "\"eventTime\":\"2022-10-03T08:30:01Z\",\"queued\":{\"callerKey\":\"k9\"}}\n"
      "\n"
      "{\"eventId\":\"e2\",\"lineID\":\"revenues\"}\n"
      "not json\n");
  JsonLinesReader reader(in);
  JsonLinesReader::Line line;
  v1::CallEvent event;
  RejectCounter rejects;
  std::vector<std::string> errors;
  int ok = 0;
  while (reader.Next(line)) {
    RejectReason reason;
    const absl::Status s = ParseJsonEvent(line.text, event, &reason);
    if (s.ok()) {
      ++ok;
    } else {
      rejects.Add(reason);
      errors.push_back(absl::StrCat("events.jsonl:", line.number, ": ", s.message()));
    }
  }
  EXPECT_EQ(ok, 1);
  EXPECT_EQ(rejects.count(RejectReason::kUnknownField), 1);
  EXPECT_EQ(rejects.count(RejectReason::kBadJson), 1);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_THAT(errors[0], ::testing::StartsWith("events.jsonl:3: unknown field \"lineID\""));
  EXPECT_THAT(errors[1], ::testing::StartsWith("events.jsonl:4: bad JSON at byte 1"));
}

}  // namespace
}  // namespace tidewatch::events
