// EventDecoder and the plain-encoding decoder against protobuf's parser:
// the same verdicts, reasons, messages and fields on random events,
// random mutations of their bytes, merged and hand-made encodings.

#include "events/event_view.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "event_generator.h"
#include "events/events.h"
#include "google/protobuf/stubs/logging.h"
#include "gtest/gtest.h"
#include "tidewatch/v1/events.pb.h"

namespace tidewatch::events {
namespace {

using ::tidewatch::v1::CallEvent;

// Wire-format pieces for hand-made encodings.
std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}
std::string Tag(uint32_t field, uint32_t wire_type) { return Varint((field << 3) | wire_type); }
std::string Len(uint32_t field, std::string_view bytes) {
  return Tag(field, 2) + Varint(bytes.size()) + std::string(bytes);
}
std::string VarintField(uint32_t field, uint64_t v) { return Tag(field, 0) + Varint(v); }

CallEvent ValidQueued() {
  CallEvent e;
  e.set_event_id("ev-000001-queued-revenues-0001");
  e.set_line_id("revenues");
  e.set_call_id("call-000001-revenues-2026-11-23");
  e.mutable_event_time()->set_seconds(1795420800);
  e.mutable_event_time()->set_nanos(250000000);
  e.set_source("tide-sim");
  e.mutable_queued()->set_caller_key("k-0123456789abcdef0123");
  e.mutable_queued()->set_priority(2);
  return e;
}

// What protobuf's parser and ValidateEvent make of `bytes`.
struct Reference {
  bool parsed = false;
  CallEvent event;
  absl::Status status;
  RejectReason reason = {};
};
Reference ParseWithProtobuf(std::string_view bytes) {
  Reference r;
  r.parsed = r.event.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
  r.status = ParseBinaryEvent(bytes, r.event, &r.reason);
  return r;
}

// Checks the plain decoder and EventDecoder on `bytes` against protobuf's
// parser; returns whether the plain decoder accepted them.
bool CheckAgainstProtobuf(std::string_view bytes, EventDecoder& decoder) {
  const Reference ref = ParseWithProtobuf(bytes);
  CallEventView plain;
  const bool accepted = DecodePlainBinaryEvent(bytes, plain);
  if (accepted) {
    EXPECT_TRUE(ref.parsed) << "plain decoder accepted bytes protobuf rejects";
    if (ref.parsed) {
      EXPECT_TRUE(plain == ViewOf(ref.event)) << "fields differ";
    }
  }
  CallEventView view;
  RejectReason reason = {};
  const absl::Status s = decoder.Parse(bytes, view, &reason);
  EXPECT_EQ(s, ref.status);
  if (!s.ok() && !ref.status.ok()) {
    EXPECT_EQ(reason, ref.reason);
  }
  if (s.ok() && ref.status.ok()) {
    EXPECT_TRUE(view == ViewOf(ref.event)) << "fields differ";
  }
  return accepted;
}

TEST(EventViewTest, ViewOfCopiesEveryFieldOfEachKind) {
  CallEvent e = ValidQueued();
  CallEventView v = ViewOf(e);
  EXPECT_EQ(v.event_id, e.event_id());
  EXPECT_EQ(v.line_id, "revenues");
  EXPECT_EQ(v.call_id, e.call_id());
  EXPECT_EQ(v.source, "tide-sim");
  EXPECT_TRUE(v.has_event_time);
  EXPECT_EQ(v.event_time, (SecondsNanos{1795420800, 250000000}));
  EXPECT_EQ(v.kind, CallEvent::kQueued);
  EXPECT_EQ(v.caller_key, "k-0123456789abcdef0123");
  EXPECT_EQ(v.priority, 2);
  EXPECT_EQ(v.event_id.data(), e.event_id().data());  // a view, not a copy

  e.mutable_completed()->set_agent_id("agent-7");
  e.mutable_completed()->mutable_talk()->set_seconds(300);
  e.mutable_completed()->set_resolved_first_time(false);
  v = ViewOf(e);
  EXPECT_EQ(v.kind, CallEvent::kCompleted);
  EXPECT_EQ(v.caller_key, "");
  EXPECT_EQ(v.agent_id, "agent-7");
  EXPECT_TRUE(v.has_talk);
  EXPECT_EQ(v.talk.ToDuration(), absl::Seconds(300));
  EXPECT_FALSE(v.has_wrap);
  EXPECT_TRUE(v.has_resolved_first_time);
  EXPECT_FALSE(v.resolved_first_time);

  e.mutable_agent_state()->set_agent_id("agent-8");
  e.mutable_agent_state()->set_state(v1::AGENT_STATUS_ON_CALL);
  e.mutable_agent_state()->set_origin(v1::AGENT_ORIGIN_CASUAL);
  v = ViewOf(e);
  EXPECT_EQ(v.agent_status, v1::AGENT_STATUS_ON_CALL);
  EXPECT_EQ(v.agent_origin, v1::AGENT_ORIGIN_CASUAL);
  EXPECT_FALSE(v.has_talk);

  e.mutable_abandoned()->mutable_wait()->set_seconds(42);
  v = ViewOf(e);
  EXPECT_TRUE(v.has_wait);
  EXPECT_EQ(v.wait.ToDuration(), absl::Seconds(42));
  EXPECT_EQ(EventTime(v), EventTime(e));
}

TEST(EventViewTest, TimesConvertAsProtobufTimesDo) {
  EXPECT_EQ((SecondsNanos{1795420800, 5}).ToTime(),
            absl::FromUnixSeconds(1795420800) + absl::Nanoseconds(5));
  EXPECT_EQ((SecondsNanos{-1, 999999999}).ToTime(), absl::FromUnixNanos(-1));
  EXPECT_EQ((SecondsNanos{90, 500000000}).ToDuration(), absl::Milliseconds(90500));
  // Beyond the integer fast path.
  EXPECT_EQ((SecondsNanos{20000000000, 1}).ToDuration(),
            absl::Seconds(20000000000) + absl::Nanoseconds(1));
}

TEST(EventViewTest, DecodesPlainBytesInPlace) {
  const std::string bytes = ValidQueued().SerializeAsString();
  CallEventView v;
  ASSERT_TRUE(DecodePlainBinaryEvent(bytes, v));
  EXPECT_TRUE(v == ViewOf(ValidQueued()));
  // The strings are the record's own bytes.
  EXPECT_GE(v.event_id.data(), bytes.data());
  EXPECT_LE(v.event_id.data() + v.event_id.size(), bytes.data() + bytes.size());

  EventDecoder decoder;
  RejectReason reason;
  EXPECT_TRUE(decoder.Parse(bytes, v, &reason).ok());
  EXPECT_EQ(decoder.protobuf_decodes(), 0);
}

TEST(EventViewTest, EveryGeneratedValidEventIsPlainAndDecodesAlike) {
  testing::EventGenerator gen(7);
  EventDecoder decoder;
  for (int i = 0; i < 20000; ++i) {
    const CallEvent e = gen.Valid();
    const std::string bytes = e.SerializeAsString();
    CallEventView plain;
    const bool accepted = DecodePlainBinaryEvent(bytes, plain);
    // Negative numbers (ten-byte varints) are left to protobuf.
    const bool negative = e.queued().priority() < 0;
    ASSERT_TRUE(accepted || negative) << e.ShortDebugString();
    CheckAgainstProtobuf(bytes, decoder);
    decoder.Reset();
  }
}

TEST(EventViewTest, AnyGeneratedEventDecodesAsProtobufDecodesIt) {
  google::protobuf::LogSilencer quiet;  // protobuf logs each invalid UTF-8 string
  testing::EventGenerator gen(11);
  EventDecoder decoder;
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    accepted += CheckAgainstProtobuf(gen.Any().SerializeAsString(), decoder);
    decoder.Reset();
  }
  EXPECT_GT(accepted, 5000);  // the comparison covered the plain decoder
}

TEST(EventViewTest, MutatedBytesDecodeAsProtobufDecodesThem) {
  google::protobuf::LogSilencer quiet;
  testing::EventGenerator gen(12345);
  EventDecoder decoder;
  int accepted = 0, protobuf_ok = 0;
  constexpr int kRounds = 60000;
  for (int i = 0; i < kRounds; ++i) {
    std::string bytes = (gen.OneIn(2) ? gen.Valid() : gen.Any()).SerializeAsString();
    const int mutations = static_cast<int>(gen.Uniform(1, 3));
    for (int m = 0; m < mutations; ++m) {
      const size_t at = bytes.empty() ? 0 : static_cast<size_t>(gen.Uniform(0, bytes.size() - 1));
      switch (gen.Uniform(0, 7)) {
        case 0:  // flip one bit
          if (!bytes.empty()) bytes[at] ^= static_cast<char>(1 << gen.Uniform(0, 7));
          break;
        case 1:  // a random byte
          if (!bytes.empty()) bytes[at] = static_cast<char>(gen.Uniform(0, 255));
          break;
        case 2:  // insert a random byte
          bytes.insert(bytes.begin() + static_cast<ptrdiff_t>(at),
                       static_cast<char>(gen.Uniform(0, 255)));
          break;
        case 3:  // delete a byte
          if (!bytes.empty()) bytes.erase(at, 1);
          break;
        case 4:  // truncate
          bytes.resize(at);
          break;
        case 5:  // append another event: protobuf merges the two
          bytes += gen.Valid().SerializeAsString();
          break;
        case 6: {  // append an unknown or known field of a random wire type
          const uint32_t field = static_cast<uint32_t>(gen.Uniform(1, 20));
          switch (gen.Uniform(0, 5)) {
            case 0:
              bytes += VarintField(field, static_cast<uint64_t>(gen.Uniform(0, 1 << 20)));
              break;
            case 1:
              bytes += Tag(field, 1) + std::string(8, 'x');
              break;
            case 2:
              bytes += Len(field, gen.AnyString(6));
              break;
            case 3:
              bytes += Tag(field, 5) + std::string(4, 'y');
              break;
            case 4:
              bytes += Tag(field, 3) + Tag(field, 4);  // an empty group
              break;
            default:
              bytes += Tag(field, static_cast<uint32_t>(gen.Uniform(6, 7)));
              break;
          }
          break;
        }
        default:  // duplicate a slice in place
          if (!bytes.empty()) {
            const size_t n = static_cast<size_t>(gen.Uniform(1, bytes.size() - at));
            bytes.insert(at, bytes.substr(at, n));
          }
          break;
      }
    }
    accepted += CheckAgainstProtobuf(bytes, decoder);
    CallEvent p;
    protobuf_ok += p.ParseFromString(bytes);
    if (i % 100 == 99) decoder.Reset();
  }
  // Both verdicts were exercised often.
  EXPECT_GT(accepted, kRounds / 20);
  EXPECT_GT(kRounds - protobuf_ok, kRounds / 10);
}

TEST(EventViewTest, UnknownFieldsOfEveryWireTypeAreSkipped) {
  const std::string valid = ValidQueued().SerializeAsString();
  const std::string unknown = VarintField(99, 300) + Tag(98, 1) + std::string(8, '\0') +
                              Len(97, "newer schema") + Tag(96, 5) + std::string(4, '\1');
  // At the top, and inside the kind and the timestamp.
  CallEvent no_kind = ValidQueued();
  no_kind.clear_kind();
  const std::string in_kind =
      no_kind.SerializeAsString() + Len(10, ValidQueued().queued().SerializeAsString() + unknown);
  CallEvent with_time = ValidQueued();
  const std::string time_bytes = with_time.event_time().SerializeAsString() + unknown;
  with_time.clear_event_time();
  const std::string inside_time = with_time.SerializeAsString() + Len(4, time_bytes);
  EventDecoder decoder;
  for (const std::string& bytes : {unknown + valid, valid + unknown, in_kind, inside_time}) {
    CallEventView v;
    ASSERT_TRUE(DecodePlainBinaryEvent(bytes, v));
    EXPECT_TRUE(v == ViewOf(ValidQueued()));
    EXPECT_TRUE(CheckAgainstProtobuf(bytes, decoder));
  }
  // A second queued is merged by protobuf: left to it, with the same result.
  const std::string second_kind = valid + Len(10, unknown);
  CallEventView v;
  EXPECT_FALSE(DecodePlainBinaryEvent(second_kind, v));
  EXPECT_FALSE(CheckAgainstProtobuf(second_kind, decoder));
  EXPECT_EQ(decoder.protobuf_decodes(), 1);
}

TEST(EventViewTest, ARepeatedScalarFieldTakesTheLastValue) {
  const std::string bytes =
      ValidQueued().SerializeAsString() + Len(2, "benefits") + Len(10, VarintField(2, 5));
  // The kind now appears twice (merged): declined, protobuf's answer kept.
  EventDecoder decoder;
  CallEventView v;
  ASSERT_TRUE(decoder.Parse(bytes, v).ok());
  EXPECT_EQ(v.line_id, "benefits");
  EXPECT_EQ(v.priority, 5);
  EXPECT_EQ(v.caller_key, "k-0123456789abcdef0123");  // merged, not replaced
  EXPECT_EQ(decoder.protobuf_decodes(), 1);

  // Scalars alone repeated: decoded directly.
  const std::string scalars = ValidQueued().SerializeAsString() + Len(2, "benefits");
  ASSERT_TRUE(DecodePlainBinaryEvent(scalars, v));
  EXPECT_EQ(v.line_id, "benefits");
  EXPECT_TRUE(CheckAgainstProtobuf(scalars, decoder));
}

TEST(EventViewTest, AnotherKindReplacesTheFirstThroughProtobuf) {
  CallEvent answered;
  answered.mutable_answered()->set_agent_id("agent-1");
  const std::string bytes = ValidQueued().SerializeAsString() + answered.SerializeAsString();
  CallEventView v;
  EXPECT_FALSE(DecodePlainBinaryEvent(bytes, v));
  EventDecoder decoder;
  ASSERT_TRUE(decoder.Parse(bytes, v).ok());
  EXPECT_EQ(v.kind, CallEvent::kAnswered);
  EXPECT_EQ(v.agent_id, "agent-1");
  EXPECT_EQ(v.caller_key, "");
  EXPECT_FALSE(CheckAgainstProtobuf(bytes, decoder));
}

TEST(EventViewTest, MalformedBytesAreBadProtobufWithProtobufsMessage) {
  google::protobuf::LogSilencer quiet;
  const std::string valid = ValidQueued().SerializeAsString();
  const std::vector<std::string> bad = {
      std::string("\xff\xff\xff\xff", 4),
      valid.substr(0, valid.size() - 1),                  // truncated
      Len(1, std::string("\xff\xfe", 2)) + valid,         // invalid UTF-8 event_id
      Len(1, std::string("\xed\xa0\x80", 3)) + valid,     // a surrogate
      Len(1, std::string("\xc0\xaf", 2)) + valid,         // overlong
      valid + Tag(0, 0) + Varint(1),                      // field number 0
      valid + Tag(7, 4),                                  // an end group alone
      valid + Tag(7, 6),                                  // wire type 6
      valid + Tag(7, 0) + std::string(11, '\xff') + '\1'  // an 11-byte varint
  };
  EventDecoder decoder;
  for (const std::string& bytes : bad) {
    CallEventView v;
    EXPECT_FALSE(DecodePlainBinaryEvent(bytes, v));
    RejectReason reason = {};
    const absl::Status s = decoder.Parse(bytes, v, &reason);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(reason, RejectReason::kBadProtobuf) << s;
    EXPECT_FALSE(CheckAgainstProtobuf(bytes, decoder));
  }
  EXPECT_EQ(decoder.protobuf_decodes(), 2 * static_cast<int64_t>(bad.size()));
}

TEST(EventViewTest, ValidUtf8AndNegativeNumbersDecodeAlike) {
  CallEvent e = ValidQueued();
  e.set_call_id("appel-\xc3\xa9t\xc3\xa9-\xe2\x82\xac-\xf0\x9f\x93\x9e");  // é, €, U+1F4DE
  EventDecoder decoder;
  EXPECT_TRUE(CheckAgainstProtobuf(e.SerializeAsString(), decoder));
  e.mutable_queued()->set_priority(-1);  // ten bytes on the wire: protobuf's
  EXPECT_FALSE(CheckAgainstProtobuf(e.SerializeAsString(), decoder));
  CallEventView v;
  ASSERT_TRUE(decoder.Parse(e.SerializeAsString(), v).ok());
  EXPECT_EQ(v.priority, -1);
}

TEST(EventViewTest, Utf8EdgesDecodeAsProtobufDecodesThem) {
  google::protobuf::LogSilencer quiet;
  const std::vector<std::string> texts = {
      std::string("\0", 1),  // NUL
      "\xc2\x80",            // U+0080, the first two-byte
      "\xdf\xbf",            // U+07FF
      "\xe0\xa0\x80",        // U+0800
      "\xef\xbf\xbe",        // U+FFFE, a noncharacter
      "\xef\xbf\xbf",        // U+FFFF
      "\xf0\x90\x80\x80",    // U+10000
      "\xf4\x8f\xbf\xbf",    // U+10FFFF, the last
      "\xf4\x90\x80\x80",    // above U+10FFFF
      "\xe0\x80\x80",        // overlong
      "\xed\xa0\x80",        // U+D800, a surrogate
      "\xed\xbf\xbf",        // U+DFFF
      "\xc1\xbf",            // overlong
      "\xf5\x80\x80\x80",    // no such lead byte
      "\x80",                // a lone continuation
      "\xe2\x82",            // cut short
      "abcdefgh\xe2\x82\xac"
      "12345678",  // around the eight-byte ASCII steps
  };
  EventDecoder decoder;
  int accepted = 0;
  for (const std::string& t : texts) {
    CallEvent e = ValidQueued();
    for (int field : {1, 2, 3, 5}) {  // event_id, line_id, call_id, source
      const std::string bytes = e.SerializeAsString() + Len(field, t);
      accepted += CheckAgainstProtobuf(bytes, decoder);
    }
    accepted += CheckAgainstProtobuf(e.SerializeAsString() + Len(10, Len(1, t)), decoder);
  }
  EXPECT_GT(accepted, 0);
}

TEST(EventViewTest, RejectsAsValidateEventDoes) {
  // Each reason through the plain path.
  CallEvent e = ValidQueued();
  e.clear_line_id();
  EventDecoder decoder;
  CallEventView v;
  RejectReason reason = {};
  absl::Status s = decoder.Parse(e.SerializeAsString(), v, &reason);
  EXPECT_EQ(reason, RejectReason::kMissingLineId);
  EXPECT_EQ(s.message(), "missing line_id");

  e = ValidQueued();
  e.mutable_event_time()->set_seconds(1);
  s = decoder.Parse(e.SerializeAsString(), v, &reason);
  EXPECT_EQ(reason, RejectReason::kAbsurdTimestamp);

  e = ValidQueued();
  e.mutable_abandoned()->mutable_wait()->set_seconds(8 * 24 * 3600);
  s = decoder.Parse(e.SerializeAsString(), v, &reason);
  EXPECT_EQ(reason, RejectReason::kBadValue);
  EXPECT_EQ(s, ValidateEvent(e));

  EXPECT_EQ(decoder.protobuf_decodes(), 0);
  s = decoder.Parse("", v, &reason);
  EXPECT_EQ(reason, RejectReason::kUnknownKind);
}

}  // namespace
}  // namespace tidewatch::events
