// ParseJsonEvent / DecodeJsonEvent accept what protobuf's JSON parser
// accepts for CallEvent, decode it to the same message, and reject what it
// rejects: case by case, then on thousands of randomly mutated records.

#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "event_generator.h"
#include "events/events.h"
#include "gmock/gmock.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tidewatch/v1/events.pb.h"

namespace tidewatch::events {
namespace {

using ::google::protobuf::util::JsonStringToMessage;
using ::google::protobuf::util::MessageDifferencer;
using testing::EventGenerator;
using v1::CallEvent;

constexpr char kBase[] =
    R"("eventId":"e1","lineId":"revenues","callId":"c1","eventTime":"2022-10-03T08:30:01Z")";

CallEvent FromText(const std::string& text) {
  CallEvent e;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &e)) << text;
  return e;
}

// Parses {<kBase>,<members>} and expects it to equal the base event merged
// with `text_proto`.
void ExpectParses(absl::string_view members, const std::string& text_proto) {
  const std::string json = absl::StrCat("{", kBase, ",", members, "}");
  SCOPED_TRACE(json);
  CallEvent expected = FromText(R"pb(event_id: "e1"
                                     line_id: "revenues"
                                     call_id: "c1"
                                     event_time { seconds: 1664785801 })pb");
  expected.MergeFrom(FromText(text_proto));
  CallEvent got;
  RejectReason reason;
  const absl::Status s = ParseJsonEvent(json, got, &reason);
  ASSERT_TRUE(s.ok()) << s << " (" << RejectReasonName(reason) << ")";
  EXPECT_TRUE(MessageDifferencer::Equals(got, expected))
      << "got " << got.ShortDebugString() << "\nwant " << expected.ShortDebugString();
}

TEST(EventsParseJsonTest, ArchitectureExample) {
  CallEvent e;
  ASSERT_TRUE(ParseJsonEvent(R"({"eventId":"e1","lineId":"revenues","callId":"c1",)"
                             R"("eventTime":"2022-10-03T08:30:01Z","queued":{"callerKey":"k9"}})",
                             e)
                  .ok());
  EXPECT_EQ(e.event_id(), "e1");
  EXPECT_EQ(e.line_id(), "revenues");
  EXPECT_EQ(e.call_id(), "c1");
  EXPECT_EQ(EventTime(e),
            absl::FromCivil(absl::CivilSecond(2022, 10, 3, 8, 30, 1), absl::UTCTimeZone()));
  EXPECT_EQ(e.queued().caller_key(), "k9");
}

TEST(EventsParseJsonTest, SnakeCaseNames) {
  CallEvent e;
  const absl::Status s = ParseJsonEvent(R"({"event_id":"e1","line_id":"revenues","call_id":"c1",)"
                                        R"("event_time":"2022-10-03T08:30:01Z","source":"pbx",)"
                                        R"("completed":{"agent_id":"a","talk":"1s","wrap":"2s",)"
                                        R"("resolved_first_time":true}})",
                                        e);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(e.completed().agent_id(), "a");
  EXPECT_TRUE(e.completed().resolved_first_time());
  ExpectParses(R"("queued":{"caller_key":"k","priority":2})",
               R"pb(queued { caller_key: "k" priority: 2 })pb");
  ExpectParses(R"("left_queue":{"reason":"LEFT_QUEUE_REASON_TIMEOUT"})",
               R"pb(left_queue { reason: LEFT_QUEUE_REASON_TIMEOUT })pb");
  ExpectParses(R"("callback_requested":{})", R"pb(callback_requested {})pb");
  ExpectParses(R"("answered":{"agent_id":"a","wait":"3s"})", R"pb(answered {
                                                                    agent_id: "a"
                                                                    wait { seconds: 3 }
                                                                  })pb");
  ExpectParses(R"("agent_state":{"agent_id":"a","state":"AGENT_STATUS_AWAY"})",
               R"pb(agent_state { agent_id: "a" state: AGENT_STATUS_AWAY })pb");
}

TEST(EventsParseJsonTest, Timestamps) {
  struct Case {
    const char* text;
    int64_t seconds;
    int32_t nanos;
  };
  const Case cases[] = {
      {"2022-10-03T08:30:01Z", 1664785801, 0},
      {"2022-10-03T08:30:01.5Z", 1664785801, 500000000},
      {"2022-10-03T08:30:01.000000001Z", 1664785801, 1},
      {"2022-10-03T08:30:01.123456789Z", 1664785801, 123456789},
      {"2022-10-03T08:30:01.1234567891Z", 1664785801, 123456789},  // digits past 9 ignored
      {"2022-10-03T09:30:01+01:00", 1664785801, 0},
      {"2022-10-03T07:00:01.25-01:30", 1664785801, 250000000},
      {"2022-10-03T08:30:01-00:00", 1664785801, 0},
      {"2000-02-29T00:00:00Z", 951782400, 0},
      {"2000-01-01T00:00:00Z", 946684800, 0},
      {"2099-12-31T23:59:59.999999999Z", 4102444799, 999999999},
  };
  for (const Case& c : cases) {
    CallEvent e;
    const std::string json = absl::StrCat(
        R"({"eventId":"e","lineId":"l","callId":"c","queued":{},"eventTime":")", c.text, "\"}");
    const absl::Status s = ParseJsonEvent(json, e);
    ASSERT_TRUE(s.ok()) << s << " " << c.text;
    EXPECT_EQ(e.event_time().seconds(), c.seconds) << c.text;
    EXPECT_EQ(e.event_time().nanos(), c.nanos) << c.text;
  }
  // The object form protobuf also accepts.
  ExpectParses(R"("eventTime":{"seconds":"1664785802","nanos":7},"queued":{})",
               R"pb(event_time { seconds: 1664785802 nanos: 7 }
                    queued {})pb");
}

TEST(EventsParseJsonTest, Durations) {
  struct Case {
    const char* text;
    int64_t seconds;
    int32_t nanos;
  };
  const Case cases[] = {
      {"0s", 0, 0},   {"1.5s", 1, 500000000}, {"1.500s", 1, 500000000},
      {"90s", 90, 0}, {"0.000000001s", 0, 1}, {"1.s", 1, 0},
      {"+2s", 2, 0},  {"007s", 7, 0},         {"604800s", 604800, 0},
      {"-0s", 0, 0},  {"1.000000000s", 1, 0}, {" 3 .25s", 3, 250000000},
  };
  for (const Case& c : cases) {
    CallEvent e;
    const std::string json = absl::StrCat("{", kBase, R"(,"answered":{"wait":")", c.text, "\"}}");
    const absl::Status s = ParseJsonEvent(json, e);
    ASSERT_TRUE(s.ok()) << s << " " << c.text;
    EXPECT_EQ(e.answered().wait().seconds(), c.seconds) << c.text;
    EXPECT_EQ(e.answered().wait().nanos(), c.nanos) << c.text;
  }
  ExpectParses(R"("abandoned":{"wait":{"seconds":4,"nanos":5}})",
               R"pb(abandoned { wait { seconds: 4 nanos: 5 } })pb");
  // A present zero duration is kept (has_wait), not dropped.
  CallEvent e;
  ASSERT_TRUE(ParseJsonEvent(absl::StrCat("{", kBase, R"(,"abandoned":{"wait":"0s"}})"), e).ok());
  EXPECT_TRUE(e.abandoned().has_wait());
}

TEST(EventsParseJsonTest, EnumsByNameNumberOrNumericString) {
  ExpectParses(R"("leftQueue":{"reason":"LEFT_QUEUE_REASON_OVERFLOW"})",
               R"pb(left_queue { reason: LEFT_QUEUE_REASON_OVERFLOW })pb");
  ExpectParses(R"("leftQueue":{"reason":2})",
               R"pb(left_queue { reason: LEFT_QUEUE_REASON_TRANSFER })pb");
  ExpectParses(R"("leftQueue":{"reason":"3"})",
               R"pb(left_queue { reason: LEFT_QUEUE_REASON_TIMEOUT })pb");
  ExpectParses(R"("leftQueue":{"reason":4.0})",
               R"pb(left_queue { reason: LEFT_QUEUE_REASON_EXIT_KEY })pb");
  ExpectParses(R"("leftQueue":{"reason":"LEFT_QUEUE_REASON_UNSPECIFIED"})", R"pb(left_queue {})pb");
  ExpectParses(R"("agentState":{"agentId":"a","state":3,"origin":"AGENT_ORIGIN_PERIPATETIC"})",
               R"pb(agent_state {
                      agent_id: "a"
                      state: AGENT_STATUS_ON_CALL
                      origin: AGENT_ORIGIN_PERIPATETIC
                    })pb");
}

TEST(EventsParseJsonTest, NumbersAndBools) {
  ExpectParses(R"("queued":{"priority":1e2})", R"pb(queued { priority: 100 })pb");
  ExpectParses(R"("queued":{"priority":-7.0})", R"pb(queued { priority: -7 })pb");
  ExpectParses(R"("queued":{"priority":"42"})", R"pb(queued { priority: 42 })pb");
  ExpectParses(R"("queued":{"priority":-2147483648})", R"pb(queued { priority: -2147483648 })pb");
  ExpectParses(R"("queued":{"priority":2147483647})", R"pb(queued { priority: 2147483647 })pb");
  ExpectParses(R"("completed":{"resolvedFirstTime":false})",
               R"pb(completed { resolved_first_time: false })pb");
  ExpectParses(R"("completed":{"resolvedFirstTime":"yes"})",
               R"pb(completed { resolved_first_time: true })pb");
}

TEST(EventsParseJsonTest, NullMeansUnset) {
  ExpectParses(R"("source":null,"queued":{"callerKey":null,"priority":null})", R"pb(queued {})pb");
  // null kinds do not count as a kind.
  ExpectParses(R"("answered":null,"queued":{},"abandoned":null)", R"pb(queued {})pb");
  // null does not clear an earlier value (as protobuf).
  ExpectParses(R"("source":"x","source":null,"queued":{})", R"pb(source: "x"
                                                                 queued {})pb");
  ExpectParses(R"("answered":{"wait":null})", R"pb(answered {})pb");
  ExpectParses(R"("completed":{"resolvedFirstTime":null})", R"pb(completed {})pb");
  ExpectParses(R"("leftQueue":{"reason":null})", R"pb(left_queue {})pb");
}

TEST(EventsParseJsonTest, RepeatedKeyLastWins) {
  ExpectParses(R"("source":"a","source":"b","queued":{"priority":1,"priority":2})",
               R"pb(source: "b"
                    queued { priority: 2 })pb");
}

TEST(EventsParseJsonTest, StringEscapes) {
  ExpectParses(R"("source":"\"\\\/\b\f\n\r\t\u00e9\u20AC\ud83d\ude00\u0000","queued":{})",
               "source: \"\\\"\\\\/\\b\\f\\n\\r\\t\\303\\251\\342\\202\\254"
               "\\360\\237\\230\\200\\000\" queued {}");
  ExpectParses("\"source\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\",\"queued\":{}",
               "source: \"caf\\303\\251 \\360\\237\\230\\200\" queued {}");
  // Escaped key names are names too.
  ExpectParses(R"("sour\u0063e":"x","queued":{})", R"pb(source: "x"
                                                        queued {})pb");
}

TEST(EventsParseJsonTest, WhitespaceEverywhere) {
  CallEvent e;
  const absl::Status s = ParseJsonEvent(
      " \t{ \"eventId\" : \"e1\" ,\n\"lineId\":\r\"revenues\", \"callId\" :\"c1\" , "
      "\"eventTime\" : \"2022-10-03T08:30:01Z\" , \"queued\" : { \"callerKey\" : \"k9\" } } \r\n",
      e);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(e.queued().caller_key(), "k9");
}

TEST(EventsParseJsonTest, ProtobufLeniencies) {
  // protobuf's parser accepts these, so ours does too.
  ExpectParses(R"('source':'it\'s "quoted"',queued:{callerKey:'k',},)",
               R"pb(source: "it's \"quoted\""
                    queued { caller_key: "k" })pb");
}

// Inputs run through both DecodeJsonEvent and protobuf's JsonStringToMessage:
// both accept with equal results, or both reject.
constexpr std::string_view kEquivalenceCases[] = {
    R"({})",
    R"( {"eventId" : "e1" } )",
    R"({"eventId":"e1",})",
    R"({'eventId':'e1'})",
    R"({eventId:"e1"})",
    R"({event_id:"x"})",
    R"({"event\u005fid":"x"})",
    R"({"eventId":"a","eventId":"b"})",
    R"({"eventId":null})",
    R"({"eventId":"x","eventId":null})",
    R"({"eventId":"e1"} x)",
    R"({"eventId":"e1"}{})",
    R"({"eventId":"x"}//)",
    R"({/*c*/"lineId":"x"})",
    R"()",
    R"(   )",
    R"([])",
    R"("x")",
    R"(null)",
    R"(5)",
    R"({"eventId":5})",
    R"({"eventId":true})",
    R"({"eventId":{}})",
    R"({"eventId":[]})",
    R"({"EventId":"x"})",
    R"({"eventID":"x"})",
    R"({"foo":1})",
    R"({"foo":{"a":[1,2,{"b":null}]}})",
    R"({"":"x"})",
    R"({,"eventId":"x"})",
    R"({"eventId":"x",,})",
    R"({"eventId" "x"})",
    R"({"eventId":"x" "lineId":"y"})",
    R"({event-id:"x"})",
    R"({1eventId:"x"})",
    R"({true:"x"})",
    R"({null:"x"})",
    R"({"eventId":"x")",
    R"({"eventId":"x)",
    R"({"eventId":)",
    R"({"eventId")",
    R"({"eventId)",
    R"({")",
    R"({)",
    R"(})",
    // Strings
    R"({"eventId":"\u00e9\ud83d\ude00"})",
    R"({"eventId":"\uD83D\uDE00"})",
    R"({"eventId":"\ud83d"})",
    R"({"eventId":"\ude00"})",
    R"({"eventId":"\ud83dx"})",
    R"({"eventId":"\ud83d\u0041"})",
    R"({"eventId":"\u0000"})",
    R"({"eventId":"\/\b\f\n\r\t\"\\"})",
    R"({"eventId":"\x"})",
    R"({"eventId":"\U00e9"})",
    R"({"eventId":"\a\v\0\e\x41\'\?\1\q"})",
    R"({"e\ventId":"x"})",
    R"({"event\u0000Id":"x"})",
    R"({"eventId\u0000":"x"})",
    R"({"eventId":"\u12"})",
    R"({"eventId":"\u12g4"})",
    R"({"eventId":"\)",
    "{\"eventId\":\"a\tb\"}",
    "{\"eventId\":\"a\xff"
    "b\"}",
    "{\"eventId\":\"\xc0\x80\"}",
    "{\"eventId\":\"\xed\xa0\x80\"}",
    "{\"eventId\":\"\xf4\x90\x80\x80\"}",
    "{\"eventId\":\"\xe2\x82\"}",
    "{\"\xff\":\"x\"}",
    "\xef\xbb\xbf{\"eventId\":\"x\"}",
    "{\x0b\"eventId\":\"x\"}",
    "{\x0c\"eventId\":\"x\"}",
    R"({"queued":{'callerKey':"x"}})",
    R"({"queued":{callerKey:'x\'y'}})",
    R"({"queued":{"callerKey":'x"y'}})",
    // Numbers
    R"({"queued":{"priority":1.0}})",
    R"({"queued":{"priority":1e2}})",
    R"({"queued":{"priority":1E2}})",
    R"({"queued":{"priority":1e+2}})",
    R"({"queued":{"priority":1.0E+2}})",
    R"({"queued":{"priority":100e-2}})",
    R"({"queued":{"priority":123456789e-9}})",
    R"({"queued":{"priority":0.1e1}})",
    R"({"queued":{"priority":-0.5e1}})",
    R"({"queued":{"priority":"5"}})",
    R"({"queued":{"priority":"+5"}})",
    R"({"queued":{"priority":"-0"}})",
    R"({"queued":{"priority":"00"}})",
    R"({"queued":{"priority":"01"}})",
    R"({"queued":{"priority":" 5"}})",
    R"({"queued":{"priority":"5 "}})",
    R"({"queued":{"priority":"1e2"}})",
    R"({"queued":{"priority":"1.0"}})",
    R"({"queued":{"priority":"0x10"}})",
    R"({"queued":{"priority":""}})",
    R"({"queued":{"priority":"- 1"}})",
    R"({"queued":{"priority":"2147483648"}})",
    R"({"queued":{"priority":"-2147483648"}})",
    R"({"queued":{"priority":"9999999999999999999999"}})",
    R"({"queued":{"priority":+5}})",
    R"({"queued":{"priority":01}})",
    R"({"queued":{"priority":-01}})",
    R"({"queued":{"priority":00}})",
    R"({"queued":{"priority":0x10}})",
    R"({"queued":{"priority":-0}})",
    R"({"queued":{"priority":-0.0}})",
    R"({"queued":{"priority":0.0}})",
    R"({"queued":{"priority":1.5}})",
    R"({"queued":{"priority":1.5e1}})",
    R"({"queued":{"priority":2147483648}})",
    R"({"queued":{"priority":-2147483648}})",
    R"({"queued":{"priority":-2147483649}})",
    R"({"queued":{"priority":2147483647.0000001}})",
    R"({"queued":{"priority":1.00000000000000001}})",
    R"({"queued":{"priority":9007199254740993}})",
    R"({"queued":{"priority":99999999999999999999999}})",
    R"({"queued":{"priority":18446744073709551616}})",
    R"({"queued":{"priority":-9223372036854775809}})",
    R"({"queued":{"priority":1e10}})",
    R"({"queued":{"priority":-1e9}})",
    R"({"queued":{"priority":1e400}})",
    R"({"queued":{"priority":-1e400}})",
    R"({"queued":{"priority":1e-400}})",
    R"({"queued":{"priority":.5}})",
    R"({"queued":{"priority":5.}})",
    R"({"queued":{"priority":-}})",
    R"({"queued":{"priority":1e}})",
    R"({"queued":{"priority":1e+}})",
    R"({"queued":{"priority":1.0e}})",
    R"({"queued":{"priority":NaN}})",
    R"({"queued":{"priority":Infinity}})",
    R"({"queued":{"priority":true}})",
    R"({"queued":{"priority":null}})",
    R"({"queued":{"priority":[1]}})",
    // Kinds
    R"({"queued":null})",
    R"({"queued":null,"answered":{}})",
    R"({"queued":{},"answered":{}})",
    R"({"queued":{},"queued":{}})",
    R"({"queued":null,"queued":{}})",
    R"({"answered":{"wait":"1.5s"},"answered":null})",
    R"({"queued":{"callerKey":"a"},"queued":{"priority":3}})",
    R"({"callback_requested":{},"left_queue":{}})",
    R"({"queued":[]})",
    R"({"queued":"x"})",
    R"({"queued":true})",
    R"({"queued":5})",
    R"({"queued":{"callerKey":null}})",
    R"({"queued":{},})",
    R"({"queued":{"callerKey":"x",},})",
    R"({"callbackRequested":{}})",
    R"({"callbackRequested":{"x":1}})",
    R"({"resolved_first_time":true})",
    R"({"callerKey":"x"})",
    // Bools
    R"({"completed":{"resolvedFirstTime":true}})",
    R"({"completed":{"resolvedFirstTime":false}})",
    R"({"completed":{"resolvedFirstTime":"true"}})",
    R"({"completed":{"resolvedFirstTime":"TRUE"}})",
    R"({"completed":{"resolvedFirstTime":"yes"}})",
    R"({"completed":{"resolvedFirstTime":"y"}})",
    R"({"completed":{"resolvedFirstTime":"t"}})",
    R"({"completed":{"resolvedFirstTime":"1"}})",
    R"({"completed":{"resolvedFirstTime":"no"}})",
    R"({"completed":{"resolvedFirstTime":"N"}})",
    R"({"completed":{"resolvedFirstTime":"False"}})",
    R"({"completed":{"resolvedFirstTime":"0"}})",
    R"({"completed":{"resolvedFirstTime":"maybe"}})",
    R"({"completed":{"resolvedFirstTime":"on"}})",
    R"({"completed":{"resolvedFirstTime":""}})",
    R"({"completed":{"resolvedFirstTime":" true"}})",
    R"({"completed":{"resolvedFirstTime":1}})",
    R"({"completed":{"resolvedFirstTime":0}})",
    R"({"completed":{"resolvedFirstTime":null}})",
    R"({"completed":{"resolvedFirstTime":tru}})",
    R"({"completed":{"resolvedFirstTime":True}})",
    R"({"completed":{"resolvedFirstTime":true1}})",
    R"({"completed":{"resolvedFirstTime":truex}})",
    R"({"completed":{"resolvedFirstTime":true,"resolvedFirstTime":null}})",
    // Enums
    R"({"leftQueue":{"reason":"LEFT_QUEUE_REASON_OVERFLOW"}})",
    R"({"leftQueue":{"reason":2}})",
    R"({"leftQueue":{"reason":"2"}})",
    R"({"leftQueue":{"reason":"+2"}})",
    R"({"leftQueue":{"reason":"02"}})",
    R"({"leftQueue":{"reason":"-0"}})",
    R"({"leftQueue":{"reason":"0"}})",
    R"({"leftQueue":{"reason":"9"}})",
    R"({"leftQueue":{"reason":" 2"}})",
    R"({"leftQueue":{"reason":"2 "}})",
    R"({"leftQueue":{"reason":"2.0"}})",
    R"({"leftQueue":{"reason":""}})",
    R"({"leftQueue":{"reason":9}})",
    R"({"leftQueue":{"reason":-1}})",
    R"({"leftQueue":{"reason":2.0}})",
    R"({"leftQueue":{"reason":1e2}})",
    R"({"leftQueue":{"reason":1.5}})",
    R"({"leftQueue":{"reason":2147483648}})",
    R"({"leftQueue":{"reason":-2147483648}})",
    R"({"leftQueue":{"reason":"overflow"}})",
    R"({"leftQueue":{"reason":"left_queue_reason_overflow"}})",
    R"({"leftQueue":{"reason":"LEFT_QUEUE_REASON_UNSPECIFIED"}})",
    R"({"leftQueue":{"reason":null}})",
    R"({"leftQueue":{"reason":true}})",
    R"({"leftQueue":{"reason":{}}})",
    R"({"agentState":{"state":"AGENT_STATUS_AWAY","origin":"AGENT_ORIGIN_CASUAL"}})",
    R"({"agentState":{"state":"AGENT_ORIGIN_CASUAL"}})",
    R"({"agent_state":{"agent_id":"a","state":2,"origin":"AGENT_ORIGIN_CSC"}})",
    // Timestamps
    R"({"eventTime":"2022-10-03T08:30:01.5Z"})",
    R"({"eventTime":"2022-10-03T08:30:01.123456789Z"})",
    R"({"eventTime":"2022-10-03T08:30:01.1234567891Z"})",
    R"({"eventTime":"2022-10-03T08:30:01.Z"})",
    R"({"eventTime":"2022-10-03t08:30:01Z"})",
    R"({"eventTime":"2022-10-03T08:30:01z"})",
    R"({"eventTime":"2022-10-03 08:30:01Z"})",
    R"({"eventTime":"2022-10-03T08:30:01+01:00"})",
    R"({"eventTime":"2022-10-03T08:30:01-01:30"})",
    R"({"eventTime":"2022-10-03T08:30:01.5+01:00"})",
    R"({"eventTime":"2022-10-03T08:30:01-00:00"})",
    R"({"eventTime":"2022-10-03T08:30:01+0100"})",
    R"({"eventTime":"2022-10-03T08:30:01+24:00"})",
    R"({"eventTime":"2022-10-03T08:30:01+23:59"})",
    R"({"eventTime":"2022-10-03T08:30:01+00:60"})",
    R"({"eventTime":"2022-10-03T08:30:01+1:00"})",
    R"({"eventTime":"2022-10-03T08:30:01"})",
    R"({"eventTime":"2022-10-03T24:00:00Z"})",
    R"({"eventTime":"2022-10-03T23:59:60Z"})",
    R"({"eventTime":"2022-02-29T00:00:00Z"})",
    R"({"eventTime":"2024-02-29T00:00:00Z"})",
    R"({"eventTime":"1900-02-29T00:00:00Z"})",
    R"({"eventTime":"2000-02-29T00:00:00Z"})",
    R"({"eventTime":"2022-04-31T00:00:00Z"})",
    R"({"eventTime":"2022-00-03T08:30:01Z"})",
    R"({"eventTime":"2022-10-00T08:30:01Z"})",
    R"({"eventTime":"0001-01-01T00:00:00Z"})",
    R"({"eventTime":"0000-01-01T00:00:00Z"})",
    R"({"eventTime":"9999-12-31T23:59:59.999999999Z"})",
    R"({"eventTime":"+2022-10-03T08:30:01Z"})",
    R"({"eventTime":"22-10-03T08:30:01Z"})",
    R"({"eventTime":"2022-1-03T08:30:01Z"})",
    R"({"eventTime":"20221003T08:30:01Z"})",
    R"({"eventTime":"2022-10-03T08:30:01Zjunk"})",
    R"({"eventTime":"2022-10-03T08:30:01 Z"})",
    R"({"eventTime":" 2022-10-03T08:30:01Z"})",
    R"({"eventTime":"2022-10-03T08:30:01Z "})",
    R"({"eventTime":"2022-10-03T08:30:01Z\u0000"})",
    R"({"eventTime":"2022-10-03T08:30:01Z\u0000junk"})",
    R"({"eventTime":"2022-10-03T08:30:01\u0000Z"})",
    R"({"eventTime":1664785801})",
    R"({"eventTime":null})",
    R"({"eventTime":""})",
    R"({"eventTime":true})",
    R"({"eventTime":[]})",
    R"({"eventTime":{}})",
    R"({"eventTime":{"seconds":1}})",
    R"({"eventTime":{"seconds":"1","nanos":"2"}})",
    R"({"eventTime":{"seconds":1.0,"nanos":null}})",
    R"({"eventTime":{"seconds":1e3}})",
    R"({"eventTime":{"nanos":1e3}})",
    R"({"eventTime":{"nanos":"1e3"}})",
    R"({"eventTime":{"seconds":[]}})",
    R"({"eventTime":{"seconds":"9223372036854775807"}})",
    R"({"eventTime":{"seconds":"9223372036854775808"}})",
    R"({"eventTime":{"seconds":9999999999999999999}})",
    R"({"eventTime":{"seconds":5,"seconds":7}})",
    R"({"eventTime":{"foo":5}})",
    R"({"eventTime":"2022-10-03T08:30:01.5Z","eventTime":"2023-10-03T08:30:01Z"})",
    R"({"eventTime":{"seconds":5},"eventTime":{"nanos":3}})",
    R"({"eventTime":"2022-10-03T08:30:01.5Z","eventTime":null})",
    // Durations
    R"({"answered":{"wait":"1.5s"}})",
    R"({"answered":{"wait":"1s"}})",
    R"({"answered":{"wait":"0s"}})",
    R"({"answered":{"wait":"-0s"}})",
    R"({"answered":{"wait":"-3s"}})",
    R"({"answered":{"wait":"-0.5s"}})",
    R"({"answered":{"wait":"-1.5s"}})",
    R"({"answered":{"wait":"1.s"}})",
    R"({"answered":{"wait":".5s"}})",
    R"({"answered":{"wait":"1.0000000001s"}})",
    R"({"answered":{"wait":"1.0000000000s"}})",
    R"({"answered":{"wait":"1.500000000s"}})",
    R"({"answered":{"wait":"1.1000000000s"}})",
    R"({"answered":{"wait":"1.0000000010s"}})",
    R"({"answered":{"wait":"1.2147483648s"}})",
    R"({"answered":{"wait":"1.00000000000s"}})",
    R"({"answered":{"wait":"1.000000000000000000000s"}})",
    R"({"answered":{"wait":"-1.-5s"}})",
    R"({"answered":{"wait":"1.5s\u0000"}})",
    R"({"answered":{"wait":"1.5\u0000s"}})",
    R"({"answered":{"wait":"1\u0000.5s"}})",
    R"({"leftQueue":{"reason":"LEFT_QUEUE_REASON_OVERFLOW\u0000"}})",
    R"({"queued":{"priority":"5\u0000"}})",
    R"({"completed":{"resolvedFirstTime":"true\u0000"}})",
    R"({"answered":{"wait":"1.123456789s"}})",
    R"({"answered":{"wait":"1.999999999s"}})",
    R"({"answered":{"wait":"-0.000000001s"}})",
    R"({"answered":{"wait":"1.05s"}})",
    R"({"answered":{"wait":"+1s"}})",
    R"({"answered":{"wait":" +1s"}})",
    R"({"answered":{"wait":"+ 1s"}})",
    R"({"answered":{"wait":" 1s"}})",
    R"({"answered":{"wait":"1 s"}})",
    R"({"answered":{"wait":"1 .5s"}})",
    R"({"answered":{"wait":"1.5 s"}})",
    R"({"answered":{"wait":"- 1s"}})",
    R"({"answered":{"wait":"-+1s"}})",
    R"({"answered":{"wait":"--1s"}})",
    R"({"answered":{"wait":"1\t.5s"}})",
    R"({"answered":{"wait":"\t1s"}})",
    R"({"answered":{"wait":"1"}})",
    R"({"answered":{"wait":"1S"}})",
    R"({"answered":{"wait":"s"}})",
    R"({"answered":{"wait":""}})",
    R"({"answered":{"wait":"1e2s"}})",
    R"({"answered":{"wait":"0x10s"}})",
    R"({"answered":{"wait":"1.-5s"}})",
    R"({"answered":{"wait":"1.+5s"}})",
    R"({"answered":{"wait":"1. 5s"}})",
    R"({"answered":{"wait":"1.5.5s"}})",
    R"({"answered":{"wait":"1.5ss"}})",
    R"({"answered":{"wait":"315576000000s"}})",
    R"({"answered":{"wait":"315576000001s"}})",
    R"({"answered":{"wait":"-315576000000.999999999s"}})",
    R"({"answered":{"wait":"99999999999999999999s"}})",
    R"({"answered":{"wait":"00001s"}})",
    R"({"answered":{"wait":1.5}})",
    R"({"answered":{"wait":null}})",
    R"({"answered":{"wait":{}}})",
    R"({"answered":{"wait":{"seconds":1}}})",
    R"({"answered":{"wait":{"seconds":"3","nanos":5}}})",
    R"({"answered":{"wait":{'seconds':5,nanos:1,}}})",
    R"({"answered":{"wait":{"foo":3}}})",
    R"({"answered":{"wait":"5.5s","wait":"3s"}})",
    R"({"answered":{"wait":"5.5s","wait":null}})",
    R"({"answered":{"wait":"1.5s","wait":{"nanos":1}}})",
    R"({"answered":{"agentId":"a",,"wait":"1.000s"}})",
    R"({"completed":{"resolved_first_time":true,"talk":"1s","wrap":"2s","agent_id":"x"}})",
};

class SilenceProtobufLogs {
 public:
  SilenceProtobufLogs() : old_(google::protobuf::SetLogHandler(nullptr)) {}
  ~SilenceProtobufLogs() { google::protobuf::SetLogHandler(old_); }

 private:
  google::protobuf::LogHandler* old_;
};

TEST(EventsProtobufEquivalenceTest, CaseByCase) {
  SilenceProtobufLogs quiet;
  for (std::string_view json : kEquivalenceCases) {
    SCOPED_TRACE(json);
    CallEvent theirs, mine;
    const auto pb = JsonStringToMessage(std::string(json), &theirs);
    RejectReason reason = RejectReason::kBadValue;
    const absl::Status s = DecodeJsonEvent(json, mine, &reason);
    EXPECT_EQ(pb.ok(), s.ok()) << "protobuf: " << pb << "\nours: " << s;
    if (pb.ok() && s.ok()) {
      EXPECT_TRUE(MessageDifferencer::Equals(mine, theirs))
          << "ours: " << mine.ShortDebugString() << "\nprotobuf: " << theirs.ShortDebugString();
    }
    if (!s.ok()) {
      EXPECT_FALSE(s.message().empty());
      EXPECT_LT(s.message().size(), 400u) << s;
    }
  }
}

// The one place where we deliberately differ: protobuf wraps a seconds
// value above 2^63 into a negative duration; we reject it.
TEST(EventsProtobufEquivalenceTest, HugeDurationIsRejectedNotWrapped) {
  CallEvent e;
  RejectReason reason;
  const absl::Status s =
      DecodeJsonEvent(R"({"answered":{"wait":"18446744073709551615s"}})", e, &reason);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(reason, RejectReason::kBadJson);
  EXPECT_THAT(s.message(), ::testing::HasSubstr("answered.wait"));
}

// Valid records, mutated at random, through both parsers.
TEST(EventsProtobufEquivalenceTest, RandomMutations) {
  SilenceProtobufLogs quiet;
  EventGenerator gen(1234);
  std::mt19937_64 rng(4321);
  const auto uniform = [&](size_t n) { return n == 0 ? size_t{0} : rng() % n; };
  // All bytes, including the NUL, count (hence sizeof, not strlen).
  static constexpr char kAlphabetBytes[] =
      "{}[]:,\"'\\ \t\n\r\v\f0123456789.-+eEsTZtrufalsnu/xbd\xff\xc3\x80\xed\xa0\0";
  const std::string_view kAlphabet(kAlphabetBytes, sizeof(kAlphabetBytes) - 1);
  static constexpr const char* kSnippets[] = {"null",
                                              "true",
                                              "false",
                                              "\"\"",
                                              "{}",
                                              "[]",
                                              "\\u0000",
                                              "\\ud83d\\ude00",
                                              "\\ud800",
                                              "1e400",
                                              "-0",
                                              "\"1.5s\"",
                                              "\"2022-10-03T08:30:01+01:00\"",
                                              "\"event_id\"",
                                              "\"LEFT_QUEUE_REASON_OVERFLOW\"",
                                              "{\"seconds\":1}",
                                              "'",
                                              ",}",
                                              "\"5\"",
                                              "2147483648",
                                              "1.0"};
  int accepted = 0;
  constexpr int kRecords = 30000;
  for (int i = 0; i < kRecords; ++i) {
    std::string json = JsonEvent(i % 3 == 0 ? gen.Any() : gen.Valid());
    const int mutations = 1 + static_cast<int>(uniform(4));
    for (int m = 0; m < mutations && !json.empty(); ++m) {
      const size_t at = uniform(json.size());
      switch (uniform(7)) {
        case 0:
          json.erase(at, 1 + uniform(3));
          break;
        case 1:
          json.insert(at, 1, kAlphabet[uniform(kAlphabet.size())]);
          break;
        case 2:
          json[at] = kAlphabet[uniform(kAlphabet.size())];
          break;
        case 3:
          json.insert(at, json.substr(uniform(json.size()), 1 + uniform(8)));
          break;
        case 4:
          json.insert(at, kSnippets[uniform(std::size(kSnippets))]);
          break;
        case 5:
          json.replace(at, std::min(1 + uniform(12), json.size() - at),
                       kSnippets[uniform(std::size(kSnippets))]);
          break;
        default:
          json.resize(at);
      }
    }
    SCOPED_TRACE(json);
    CallEvent theirs, mine;
    const auto pb = JsonStringToMessage(json, &theirs);
    const absl::Status s = DecodeJsonEvent(json, mine);
    ASSERT_EQ(pb.ok(), s.ok()) << "protobuf: " << pb << "\nours: " << s;
    if (s.ok()) {
      ++accepted;
      ASSERT_TRUE(MessageDifferencer::Equals(mine, theirs))
          << "ours: " << mine.ShortDebugString() << "\nprotobuf: " << theirs.ShortDebugString();
    }
  }
  // The mutations must exercise both outcomes.
  EXPECT_GT(accepted, kRecords / 20);
  EXPECT_LT(accepted, kRecords - kRecords / 20);
}

}  // namespace
}  // namespace tidewatch::events
