// events/utf8.h against RFC 3629 (decoded code point by code point) and
// against the decoders that rely on it: protobuf's parser, the plain binary
// decoder and the JSON decoder accept a string exactly when IsValidUtf8
// does.

#include "events/utf8.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/escaping.h"
#include "events/event_view.h"
#include "events/events.h"
#include "google/protobuf/stubs/logging.h"
#include "gtest/gtest.h"
#include "tidewatch/v1/events.pb.h"
#include "utf8_cases.h"

namespace tidewatch::events {
namespace {

using ::tidewatch::v1::CallEvent;

// RFC 3629 by arithmetic: the length of the sequence at p decoded as a code
// point, 0 when its bit patterns are wrong, it is cut short, it is longer
// than the shortest form of its code point, or the code point is a
// surrogate or above U+10FFFF.
int ReferenceLength(const unsigned char* p, const unsigned char* end) {
  const unsigned c = p[0];
  if (c < 0x80) return 1;
  int n;
  uint32_t cp;
  if ((c & 0xE0) == 0xC0) {
    n = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (end - p < n) return 0;
  for (int i = 1; i < n; ++i) {
    if ((p[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  constexpr uint32_t kShortest[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kShortest[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

// The reference's verdict on a whole string, and its valid prefix.
size_t ReferencePrefix(std::string_view s) {
  const auto* begin = reinterpret_cast<const unsigned char*>(s.data());
  const unsigned char* end = begin + s.size();
  const unsigned char* p = begin;
  while (p < end) {
    const int n = ReferenceLength(p, end);
    if (n == 0) break;
    p += n;
  }
  return static_cast<size_t>(p - begin);
}

// Bytes at the edges of the ranges in the file comment of utf8.h.
constexpr unsigned char kEdges[] = {0x00, 0x41, 0x7F, 0x80, 0x81, 0x8F, 0x90, 0x9F, 0xA0,
                                    0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xEC, 0xED,
                                    0xEE, 0xEF, 0xF0, 0xF3, 0xF4, 0xF5, 0xFF};

TEST(Utf8Test, SequenceLengthIsRfc3629) {
  int checked = 0;
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; ++b) {
      for (unsigned char c : kEdges) {
        for (unsigned char d : kEdges) {
          const unsigned char bytes[4] = {static_cast<unsigned char>(a),
                                          static_cast<unsigned char>(b), c, d};
          for (int size = 1; size <= 4; ++size) {
            const int expected = ReferenceLength(bytes, bytes + size);
            const int got = Utf8SequenceLength(bytes, bytes + size);
            if (got != expected) {
              ADD_FAILURE() << std::hex << a << " " << b << " " << int{c} << " " << int{d} << " ("
                            << size << " bytes): " << got << ", expected " << expected;
              return;
            }
            ++checked;
          }
        }
      }
    }
  }
  EXPECT_EQ(checked, 256 * 256 * 25 * 25 * 4);
}

TEST(Utf8Test, ExamplesOfEachRule) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\x9e"));
  EXPECT_TRUE(IsValidUtf8("\xed\x9f\xbf"));      // U+D7FF
  EXPECT_TRUE(IsValidUtf8("\xee\x80\x80"));      // U+E000
  EXPECT_TRUE(IsValidUtf8("\xf4\x8f\xbf\xbf"));  // U+10FFFF
  EXPECT_TRUE(IsValidUtf8(std::string_view("\0", 1)));
  EXPECT_FALSE(IsValidUtf8("\xc0\x80"));          // overlong U+0000
  EXPECT_FALSE(IsValidUtf8("\xc1\xbf"));          // overlong U+007F
  EXPECT_FALSE(IsValidUtf8("\xe0\x9f\xbf"));      // overlong U+07FF
  EXPECT_FALSE(IsValidUtf8("\xf0\x8f\xbf\xbf"));  // overlong U+FFFF
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // U+D800, a surrogate
  EXPECT_FALSE(IsValidUtf8("\xed\xbf\xbf"));      // U+DFFF, a surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // U+110000
  EXPECT_FALSE(IsValidUtf8("\xf5\x80\x80\x80"));
  EXPECT_FALSE(IsValidUtf8("\x80"));      // a continuation byte alone
  EXPECT_FALSE(IsValidUtf8("\xe2\x82"));  // cut short
  EXPECT_FALSE(IsValidUtf8("\xe2\x82x"));
  EXPECT_EQ(ValidUtf8Prefix("ok\xe2\x82\xac\xe2\x82"), 5u);
  EXPECT_EQ(ValidUtf8Prefix("\xff"), 0u);
}

// Whole strings, through the eight-bytes-at-a-time path too: every string
// of one and two bytes, and an invalid or multi-byte sequence at each
// position of a run of ASCII.
TEST(Utf8Test, ValidPrefixIsRfc3629) {
  std::vector<std::string> cases = testing::AllStringsOfOneAndTwoBytes();
  for (std::string_view piece : {"\xff", "\xc3\xa9", "\xc3", "\xed\xa0\x80", "\xf0\x9f\x93\x9e",
                                 "\xf0\x9f\x93", "\xe2\x82\xac"}) {
    for (size_t at = 0; at <= 20; ++at) {
      std::string s(20, 'a');
      s.insert(at, piece);
      cases.push_back(s);
      cases.push_back(s + std::string(piece));
    }
  }
  for (const std::string& s : cases) {
    ASSERT_EQ(ValidUtf8Prefix(s), ReferencePrefix(s)) << absl::CEscape(s);
    ASSERT_EQ(IsValidUtf8(s), ReferencePrefix(s) == s.size()) << absl::CEscape(s);
  }
}

// The decoders refuse a string field exactly when IsValidUtf8 does:
// protobuf's parser (which the plain decoder falls back to), the plain
// binary decoder, and the JSON decoder.
TEST(Utf8Test, DecodersAcceptExactlyTheValidStrings) {
  google::protobuf::LogSilencer silence_protobuf_utf8_errors;
  std::vector<unsigned char> high;  // every byte with its top bit set
  for (int b = 0x80; b < 256; ++b) high.push_back(static_cast<unsigned char>(b));
  const std::vector<std::string> cases = testing::LeadSecondThirdSequences(kEdges, high, kEdges);
  int valid = 0;
  for (const std::string& s : cases) {
    const bool expected = IsValidUtf8(s);
    valid += expected;
    const std::string bytes = testing::EventWithCallId(s);
    CallEvent parsed;
    ASSERT_EQ(parsed.ParseFromString(bytes), expected) << absl::CEscape(s);
    EventDecoder decoder;
    CallEventView view;
    ASSERT_EQ(decoder.Parse(bytes, view).ok(), expected) << absl::CEscape(s);
    // (JSON strings hold no raw control characters, quotes or backslashes.)
    if (std::all_of(s.begin(), s.end(), [](char c) {
          return static_cast<unsigned char>(c) >= 0x20 && c != '"' && c != '\\';
        })) {
      const std::string json = R"({"eventId":"e1","lineId":"revenues","callId":")" + s +
                               R"(","eventTime":"2022-10-03T08:30:01Z","queued":{}})";
      CallEvent from_json;
      ASSERT_EQ(ParseJsonEvent(json, from_json).ok(), expected) << absl::CEscape(s);
    }
  }
  EXPECT_GT(valid, 1000);
}

}  // namespace
}  // namespace tidewatch::events
