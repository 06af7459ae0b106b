// The JSON codec against protobuf's own JSON mapping: every kind round-trips,
// AppendJsonEvent writes exactly what MessageToJsonString writes, and
// thousands of random events go through both parsers identically.

#include <ostream>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "event_generator.h"
#include "events/events.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tidewatch/v1/events.pb.h"

namespace tidewatch::events {
namespace {

using ::google::protobuf::util::JsonParseOptions;
using ::google::protobuf::util::JsonPrintOptions;
using ::google::protobuf::util::JsonStringToMessage;
using ::google::protobuf::util::MessageDifferencer;
using ::google::protobuf::util::MessageToJsonString;
using testing::EventGenerator;
using ::testing::HasSubstr;
using v1::CallEvent;

CallEvent FromText(const std::string& text) {
  CallEvent e;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &e)) << text;
  return e;
}

std::string ProtobufJson(const CallEvent& e, const JsonPrintOptions& options = {}) {
  std::string out;
  const auto status = MessageToJsonString(e, &out, options);
  EXPECT_TRUE(status.ok()) << status << " for " << e.ShortDebugString();
  return out;
}

// One example per kind, with the canonical JSON the writer must produce.
struct KindCase {
  const char* name;
  const char* text_proto;
  const char* json;
};

// Test listings name the case, not its bytes.
void PrintTo(const KindCase& c, std::ostream* os) { *os << c.name; }

constexpr KindCase kKindCases[] = {
    {"queued",
     R"pb(event_id: "e1"
          line_id: "revenues"
          call_id: "c1"
          event_time { seconds: 1664785801 }
          queued { caller_key: "k9" })pb",
     R"({"eventId":"e1","lineId":"revenues","callId":"c1","eventTime":"2022-10-03T08:30:01Z","queued":{"callerKey":"k9"}})"},
    {"queued_priority",
     R"pb(event_id: "e2"
          line_id: "revenues"
          call_id: "c1"
          source: "tide-sim"
          event_time { seconds: 1664785801 nanos: 250000000 }
          queued { caller_key: "k9" priority: -3 })pb",
     R"({"eventId":"e2","lineId":"revenues","callId":"c1","eventTime":"2022-10-03T08:30:01.250Z","source":"tide-sim","queued":{"callerKey":"k9","priority":-3}})"},
    {"answered",
     R"pb(event_id: "e3"
          line_id: "revenues"
          call_id: "c1"
          event_time { seconds: 1664785901 nanos: 123456000 }
          answered {
            agent_id: "a7"
            wait { seconds: 100 nanos: 500000000 }
          })pb",
     R"({"eventId":"e3","lineId":"revenues","callId":"c1","eventTime":"2022-10-03T08:31:41.123456Z","answered":{"agentId":"a7","wait":"100.500s"}})"},
    {"answered_zero_wait",
     R"pb(event_id: "e4"
          line_id: "revenues"
          call_id: "c1"
          event_time { seconds: 1664785901 nanos: 1 }
          answered { wait {} })pb",
     R"({"eventId":"e4","lineId":"revenues","callId":"c1","eventTime":"2022-10-03T08:31:41.000000001Z","answered":{"wait":"0s"}})"},
    {"abandoned",
     R"pb(event_id: "e5"
          line_id: "benefits"
          call_id: "c2"
          event_time { seconds: 1664785901 }
          abandoned { wait { seconds: 4 nanos: 1000 } })pb",
     R"({"eventId":"e5","lineId":"benefits","callId":"c2","eventTime":"2022-10-03T08:31:41Z","abandoned":{"wait":"4.000001s"}})"},
    {"callback_requested",
     R"pb(event_id: "e6"
          line_id: "benefits"
          call_id: "c3"
          event_time { seconds: 1664785901 }
          callback_requested {})pb",
     R"({"eventId":"e6","lineId":"benefits","callId":"c3","eventTime":"2022-10-03T08:31:41Z","callbackRequested":{}})"},
    {"left_queue",
     R"pb(event_id: "e7"
          line_id: "benefits"
          call_id: "c4"
          event_time { seconds: 1664785901 }
          left_queue { reason: LEFT_QUEUE_REASON_EXIT_KEY })pb",
     R"({"eventId":"e7","lineId":"benefits","callId":"c4","eventTime":"2022-10-03T08:31:41Z","leftQueue":{"reason":"LEFT_QUEUE_REASON_EXIT_KEY"}})"},
    {"left_queue_unspecified",
     R"pb(event_id: "e8"
          line_id: "benefits"
          call_id: "c4"
          event_time { seconds: 1664785901 }
          left_queue {})pb",
     R"({"eventId":"e8","lineId":"benefits","callId":"c4","eventTime":"2022-10-03T08:31:41Z","leftQueue":{}})"},
    {"completed",
     R"pb(event_id: "e9"
          line_id: "it-help"
          call_id: "c5"
          event_time { seconds: 1664786000 }
          completed {
            agent_id: "a7"
            talk { seconds: 300 }
            wrap { seconds: 45 nanos: 10000000 }
            resolved_first_time: true
          })pb",
     R"({"eventId":"e9","lineId":"it-help","callId":"c5","eventTime":"2022-10-03T08:33:20Z","completed":{"agentId":"a7","talk":"300s","wrap":"45.010s","resolvedFirstTime":true}})"},
    {"completed_not_resolved",
     R"pb(event_id: "e10"
          line_id: "it-help"
          call_id: "c5"
          event_time { seconds: 1664786000 }
          completed { resolved_first_time: false })pb",
     R"({"eventId":"e10","lineId":"it-help","callId":"c5","eventTime":"2022-10-03T08:33:20Z","completed":{"resolvedFirstTime":false}})"},
    {"agent_state",
     R"pb(event_id: "e11"
          line_id: "it-help"
          event_time { seconds: 1664786000 }
          agent_state {
            agent_id: "a7"
            state: AGENT_STATUS_AVAILABLE
            origin: AGENT_ORIGIN_BACK_OFFICE
          })pb",
     R"({"eventId":"e11","lineId":"it-help","eventTime":"2022-10-03T08:33:20Z","agentState":{"agentId":"a7","state":"AGENT_STATUS_AVAILABLE","origin":"AGENT_ORIGIN_BACK_OFFICE"}})"},
};

class EventsKindRoundTripTest : public ::testing::TestWithParam<KindCase> {};

TEST_P(EventsKindRoundTripTest, WritesCanonicalJsonAndParsesBack) {
  const KindCase& c = GetParam();
  const CallEvent event = FromText(c.text_proto);
  ASSERT_TRUE(ValidateEvent(event).ok()) << ValidateEvent(event);

  const std::string json = JsonEvent(event);
  EXPECT_EQ(json, c.json);
  EXPECT_EQ(json, ProtobufJson(event));

  CallEvent mine;
  ASSERT_TRUE(ParseJsonEvent(json, mine).ok()) << ParseJsonEvent(json, mine);
  EXPECT_TRUE(MessageDifferencer::Equals(mine, event)) << mine.ShortDebugString();

  CallEvent theirs;
  ASSERT_TRUE(JsonStringToMessage(json, &theirs).ok());
  EXPECT_TRUE(MessageDifferencer::Equals(theirs, event)) << theirs.ShortDebugString();

  CallEvent binary;
  ASSERT_TRUE(ParseBinaryEvent(event.SerializeAsString(), binary).ok());
  EXPECT_TRUE(MessageDifferencer::Equals(binary, event));
}

INSTANTIATE_TEST_SUITE_P(EveryKind, EventsKindRoundTripTest, ::testing::ValuesIn(kKindCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(EventsAppendJsonTest, AppendsWithoutTouchingExistingContent) {
  const CallEvent event = FromText(kKindCases[0].text_proto);
  std::string out = "prefix\n";
  AppendJsonEvent(event, out);
  out += '\n';
  AppendJsonEvent(event, out);
  EXPECT_EQ(out, absl::StrCat("prefix\n", kKindCases[0].json, "\n", kKindCases[0].json));
}

TEST(EventsAppendJsonTest, EmptyEventIsEmptyObject) { EXPECT_EQ(JsonEvent(CallEvent()), "{}"); }

TEST(EventsAppendJsonTest, TimestampAndDurationPrecisions) {
  struct Case {
    int64_t seconds;
    int32_t nanos;
    const char* timestamp;
    const char* duration;
  };
  const Case cases[] = {
      {0, 0, "1970-01-01T00:00:00Z", "0s"},
      {1, 500000000, "1970-01-01T00:00:01.500Z", "1.500s"},
      {1, 10000, "1970-01-01T00:00:01.000010Z", "1.000010s"},
      {1, 1, "1970-01-01T00:00:01.000000001Z", "1.000000001s"},
      {-1, 0, "1969-12-31T23:59:59Z", "-1s"},
      {951782400, 0, "2000-02-29T00:00:00Z", "951782400s"},
      {-62135596800, 0, "0001-01-01T00:00:00Z", "-62135596800s"},
      {253402300799, 999999999, "9999-12-31T23:59:59.999999999Z", "253402300799.999999999s"},
  };
  for (const Case& c : cases) {
    CallEvent e;
    e.mutable_event_time()->set_seconds(c.seconds);
    e.mutable_event_time()->set_nanos(c.nanos);
    auto* wait = e.mutable_answered()->mutable_wait();
    wait->set_seconds(c.seconds);
    wait->set_nanos(c.seconds < 0 ? -c.nanos : c.nanos);
    const std::string json = JsonEvent(e);
    EXPECT_THAT(json, HasSubstr(absl::StrCat("\"eventTime\":\"", c.timestamp, "\"")));
    if (c.seconds >= -315576000000 && c.seconds <= 315576000000) {
      EXPECT_THAT(json, HasSubstr(absl::StrCat("\"wait\":\"", c.duration, "\"")));
      EXPECT_EQ(json, ProtobufJson(e));
    }
  }
  CallEvent e;
  e.mutable_abandoned()->mutable_wait()->set_nanos(-500000000);
  EXPECT_EQ(JsonEvent(e), R"({"abandoned":{"wait":"-0.500s"}})");
  EXPECT_EQ(JsonEvent(e), ProtobufJson(e));
}

TEST(EventsAppendJsonTest, UnknownEnumNumbersAreWrittenAsNumbers) {
  CallEvent e = FromText(R"pb(left_queue { reason: 9 })pb");
  EXPECT_EQ(JsonEvent(e), R"({"leftQueue":{"reason":9}})");
  EXPECT_EQ(JsonEvent(e), ProtobufJson(e));
  e = FromText(R"pb(agent_state { state: -1 origin: 77 })pb");
  EXPECT_EQ(JsonEvent(e), R"({"agentState":{"state":-1,"origin":77}})");
  EXPECT_EQ(JsonEvent(e), ProtobufJson(e));
}

TEST(EventsAppendJsonTest, EscapesLikeProtobuf) {
  CallEvent e;
  e.set_event_id(
      std::string("q\"b\\s/<>&'\b\f\n\r\t\x01\x1f\x7f\0", 19) +
      "\xc2\x80\xc2\xad\xc3\xa9\xe2\x80\xa8\xef\xbb\xbf\xf0\x9f\x98\x80\xf3\xa0\x80\x81");
  const std::string json = JsonEvent(e);
  EXPECT_EQ(json, ProtobufJson(e));
  EXPECT_EQ(json,
            "{\"eventId\":\"q\\\"b\\\\s/\\u003c\\u003e&'\\b\\f\\n\\r\\t\\u0001\\u001f\\u007f"
            "\\u0000\\u0080\\u00ad\xc3\xa9\\u2028\\ufeff\xf0\x9f\x98\x80\\udb40\\udc01\"}");
  CallEvent back;
  ASSERT_TRUE(DecodeJsonEvent(json, back).ok());
  EXPECT_EQ(back.event_id(), e.event_id());
}

TEST(EventsAppendJsonTest, InvalidUtf8BecomesReplacementCharacter) {
  CallEvent e;
  e.set_source(
      "a\xff"
      "b\xc3");
  const std::string json = JsonEvent(e);
  EXPECT_EQ(json, R"({"source":"a\ufffdb\ufffd"})");
  CallEvent back;
  ASSERT_TRUE(DecodeJsonEvent(json, back).ok());
  EXPECT_EQ(back.source(),
            "a\xef\xbf\xbd"
            "b\xef\xbf\xbd");
}

TEST(EventsAppendJsonTest, OutOfRangeValuesStillGiveWellFormedJson) {
  // Nothing protobuf can print, but the writer must not crash or emit
  // broken JSON.
  CallEvent e;
  e.mutable_event_time()->set_seconds(INT64_MAX);
  e.mutable_event_time()->set_nanos(-1);
  e.mutable_completed()->mutable_talk()->set_seconds(INT64_MIN);
  e.mutable_completed()->mutable_talk()->set_nanos(INT32_MIN);
  e.mutable_completed()->mutable_wrap()->set_seconds(5);
  e.mutable_completed()->mutable_wrap()->set_nanos(-1);
  const std::string json = JsonEvent(e);
  EXPECT_THAT(json, HasSubstr("\"wrap\":\"4.999999999s\""));
  CallEvent back;
  RejectReason reason;
  const absl::Status s = DecodeJsonEvent(json, back, &reason);
  // The syntax is fine; only the values are out of range.
  if (!s.ok()) {
    EXPECT_EQ(reason, RejectReason::kBadJson) << s;
    EXPECT_THAT(s.message(), ::testing::Not(HasSubstr("bad JSON at byte"))) << s;
  }
}

// Random events through both writers and both parsers.
TEST(EventsJsonDifferentialTest, RandomEventsMatchProtobuf) {
  EventGenerator gen(20221003);
  constexpr int kEvents = 4000;
  for (int i = 0; i < kEvents; ++i) {
    const CallEvent event = gen.Any();
    SCOPED_TRACE(event.ShortDebugString());
    const std::string json = JsonEvent(event);
    ASSERT_EQ(json, ProtobufJson(event));

    CallEvent mine;
    const absl::Status s = DecodeJsonEvent(json, mine);
    ASSERT_TRUE(s.ok()) << s << "\n" << json;
    ASSERT_TRUE(MessageDifferencer::Equals(mine, event)) << mine.ShortDebugString();

    CallEvent theirs;
    ASSERT_TRUE(JsonStringToMessage(json, &theirs).ok()) << json;
    ASSERT_TRUE(MessageDifferencer::Equals(theirs, event)) << theirs.ShortDebugString();

    // ParseJsonEvent agrees with ValidateEvent on the same message.
    RejectReason r1 = RejectReason::kBadJson, r2 = RejectReason::kBadJson;
    const absl::Status parsed = ParseJsonEvent(json, mine, &r1);
    const absl::Status validated = ValidateEvent(event, &r2);
    ASSERT_EQ(parsed, validated);
    if (!parsed.ok()) {
      ASSERT_EQ(r1, r2);
    }
  }
}

TEST(EventsJsonDifferentialTest, ValidRandomEventsParseAndValidate) {
  EventGenerator gen(7);
  for (int i = 0; i < 3000; ++i) {
    const CallEvent event = gen.Valid();
    SCOPED_TRACE(event.ShortDebugString());
    ASSERT_TRUE(ValidateEvent(event).ok()) << ValidateEvent(event);
    CallEvent mine;
    const std::string json = JsonEvent(event);
    ASSERT_TRUE(ParseJsonEvent(json, mine).ok()) << json;
    ASSERT_TRUE(MessageDifferencer::Equals(mine, event));
    ASSERT_TRUE(ParseBinaryEvent(event.SerializeAsString(), mine).ok());
    ASSERT_TRUE(MessageDifferencer::Equals(mine, event));
  }
}

// protobuf's printer in all its option combinations (snake_case names,
// whitespace, default values printed, enums as numbers) read by ours.
TEST(EventsJsonDifferentialTest, ProtobufOutputInEveryStyleParses) {
  EventGenerator gen(99);
  for (int i = 0; i < 3000; ++i) {
    const CallEvent event = gen.Any();
    JsonPrintOptions options;
    options.add_whitespace = i % 2 == 1;
    options.preserve_proto_field_names = i % 4 >= 2;
    options.always_print_primitive_fields = i % 8 >= 4;
    options.always_print_enums_as_ints = i % 16 >= 8;
    const std::string json = ProtobufJson(event, options);
    SCOPED_TRACE(json);
    CallEvent mine;
    const absl::Status s = DecodeJsonEvent(json, mine);
    ASSERT_TRUE(s.ok()) << s;
    ASSERT_TRUE(MessageDifferencer::Equals(mine, event)) << mine.ShortDebugString();
  }
}

TEST(EventsJsonDifferentialTest, ReusedOutputMessageIsCleared) {
  EventGenerator gen(5);
  CallEvent reused;
  for (int i = 0; i < 2000; ++i) {
    const CallEvent event = gen.Any();
    const std::string json = JsonEvent(event);
    ASSERT_TRUE(DecodeJsonEvent(json, reused).ok()) << json;
    ASSERT_TRUE(MessageDifferencer::Equals(reused, event)) << json << "\n"
                                                           << reused.ShortDebugString();
  }
}

TEST(EventsJsonDifferentialTest, ReuseAfterBinaryParseDropsUnknownFieldsAndStaleValues) {
  CallEvent valid = FromText(kKindCases[2].text_proto);  // answered, with a wait
  // A newer producer's extra field (number 99) rides along in the binary form.
  const std::string bytes = valid.SerializeAsString() + std::string("\x9a\x06\x01x", 4);
  CallEvent reused;
  ASSERT_TRUE(ParseBinaryEvent(bytes, reused).ok());
  ASSERT_FALSE(reused.GetReflection()->GetUnknownFields(reused).empty());

  // Same kind, fewer fields: nothing of the previous record may survive.
  const std::string json =
      R"({"eventId":"e9","lineId":"l","callId":"c","eventTime":{"nanos":5},"answered":{}})";
  ASSERT_TRUE(DecodeJsonEvent(json, reused).ok());
  const CallEvent want = FromText(R"pb(event_id: "e9"
                                       line_id: "l"
                                       call_id: "c"
                                       event_time { nanos: 5 }
                                       answered {})pb");
  EXPECT_TRUE(MessageDifferencer::Equals(reused, want)) << reused.ShortDebugString();
  EXPECT_TRUE(reused.GetReflection()->GetUnknownFields(reused).empty());

  // No time and no kind this time.
  ASSERT_TRUE(DecodeJsonEvent(R"({"eventId":"e10"})", reused).ok());
  EXPECT_TRUE(MessageDifferencer::Equals(reused, FromText(R"pb(event_id: "e10")pb")))
      << reused.ShortDebugString();

  // A failed parse leaves the message empty, not half-written.
  ASSERT_TRUE(DecodeJsonEvent(json, reused).ok());
  EXPECT_FALSE(DecodeJsonEvent(R"({"eventId":"e11","queued":{"priority":"x"}})", reused).ok());
  EXPECT_TRUE(MessageDifferencer::Equals(reused, CallEvent())) << reused.ShortDebugString();
}

}  // namespace
}  // namespace tidewatch::events
