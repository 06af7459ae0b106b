// Every RejectReason, with a message that names the problem; malformed and
// hostile input never crashes; binary decoding; RejectCounter and EventTime.

#include <random>
#include <set>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "event_generator.h"
#include "events/events.h"
#include "gmock/gmock.h"
#include "google/protobuf/stubs/logging.h"
#include "gtest/gtest.h"
#include "tidewatch/v1/events.pb.h"

namespace tidewatch::events {
namespace {

using ::testing::AllOf;
using testing::EventGenerator;
using ::testing::HasSubstr;
using ::testing::Not;
using v1::CallEvent;

constexpr char kIds[] = R"("eventId":"e1","lineId":"revenues","callId":"c1")";
constexpr char kTime[] = R"("eventTime":"2022-10-03T08:30:01Z")";

struct Rejected {
  absl::Status status;
  RejectReason reason = RejectReason::kBadJson;
};

Rejected Json(std::string_view json) {
  CallEvent e;
  Rejected r;
  r.reason = RejectReason::kBadProtobuf;  // never produced by the JSON path
  r.status = ParseJsonEvent(json, e, &r.reason);
  return r;
}

// A valid event with `members` added (`kind` replaces the queued kind).
std::string With(absl::string_view members, absl::string_view kind = R"("queued":{})") {
  return absl::StrCat("{", kIds, ",", kTime, members.empty() ? "" : ",", members, ",", kind, "}");
}

#define EXPECT_REJECTED(json, want_reason, message_matcher)                                    \
  do {                                                                                         \
    const Rejected r_ = Json(json);                                                            \
    EXPECT_FALSE(r_.status.ok()) << (json);                                                    \
    EXPECT_EQ(r_.status.code(), absl::StatusCode::kInvalidArgument);                           \
    EXPECT_EQ(RejectReasonName(r_.reason), RejectReasonName(want_reason)) << r_.status << "\n" \
                                                                          << (json);           \
    EXPECT_THAT(std::string(r_.status.message()), message_matcher) << (json);                  \
  } while (false)

TEST(EventsRejectTest, ValidBaseIsAccepted) {
  EXPECT_TRUE(Json(With("")).status.ok()) << Json(With("")).status;
}

TEST(EventsRejectTest, BadJson) {
  EXPECT_REJECTED(absl::StrCat("{", kIds), RejectReason::kBadJson,
                  AllOf(HasSubstr("bad JSON at byte"), HasSubstr("record ends")));
  EXPECT_REJECTED("", RejectReason::kBadJson, HasSubstr("empty record"));
  EXPECT_REJECTED("[1,2]", RejectReason::kBadJson, HasSubstr("expected a JSON object"));
  EXPECT_REJECTED(R"({"eventId" "e1"})", RejectReason::kBadJson,
                  AllOf(HasSubstr("byte 12"), HasSubstr("expected ':' after key \"eventId\"")));
  EXPECT_REJECTED(With("") + " trailing", RejectReason::kBadJson,
                  HasSubstr("unexpected text after the JSON object"));
  EXPECT_REJECTED(With(R"("source":5)"), RejectReason::kBadJson,
                  HasSubstr("source: expected a string, got the number 5"));
  EXPECT_REJECTED(With("", R"("queued":"yes")"), RejectReason::kBadJson,
                  HasSubstr("queued: expected an object, got a string"));
  EXPECT_REJECTED(With("", R"("queued":{"priority":1.5})"), RejectReason::kBadJson,
                  HasSubstr("queued.priority: 1.5 is not an int32"));
  EXPECT_REJECTED(With("", R"("queued":{"priority":"high"})"), RejectReason::kBadJson,
                  HasSubstr("queued.priority: \"high\" is not an int32"));
  EXPECT_REJECTED(absl::StrCat("{", kIds, R"(,"eventTime":"2022-10-03 08:30:01","queued":{}})"),
                  RejectReason::kBadJson,
                  HasSubstr("event_time: \"2022-10-03 08:30:01\" is not an RFC 3339 timestamp"));
  EXPECT_REJECTED(With("", R"("answered":{"wait":"90"})"), RejectReason::kBadJson,
                  HasSubstr("answered.wait: \"90\" is not a duration like \"1.5s\""));
  EXPECT_REJECTED(With("", R"("answered":{"wait":90})"), RejectReason::kBadJson,
                  HasSubstr("answered.wait: expected a duration string"));
  EXPECT_REJECTED(With("", R"("completed":{"resolvedFirstTime":"perhaps"})"),
                  RejectReason::kBadJson, HasSubstr("\"perhaps\" is not true or false"));
  EXPECT_REJECTED(With(R"("source":"\ud800")"), RejectReason::kBadJson,
                  HasSubstr("high surrogate"));
  EXPECT_REJECTED(With("\"source\":\"\xff\""), RejectReason::kBadJson, HasSubstr("invalid UTF-8"));
}

TEST(EventsRejectTest, UnknownField) {
  EXPECT_REJECTED(
      R"({"eventId":"e1","lineID":"revenues"})", RejectReason::kUnknownField,
      AllOf(HasSubstr("unknown field \"lineID\""), HasSubstr("did you mean \"lineId\"")));
  EXPECT_REJECTED(With("", R"("queued":{"callerKey":"k","vip":true})"), RejectReason::kUnknownField,
                  AllOf(HasSubstr("unknown field \"vip\" in queued"), HasSubstr("\"callerKey\"")));
  EXPECT_REJECTED(With(R"("callerKey":"k")"), RejectReason::kUnknownField,
                  AllOf(HasSubstr("unknown field \"callerKey\""), HasSubstr("queued")));
  EXPECT_REJECTED(With("", R"("transferred":{})"), RejectReason::kUnknownField,
                  HasSubstr("unknown field \"transferred\""));
  // A huge key is cut in the message.
  const std::string key(100000, 'k');
  const Rejected r = Json(absl::StrCat(R"({")", key, R"(":1})"));
  EXPECT_EQ(r.reason, RejectReason::kUnknownField);
  EXPECT_LT(r.status.message().size(), 200u);
  EXPECT_THAT(std::string(r.status.message()), HasSubstr("kkk\"..."));
}

TEST(EventsRejectTest, UnknownKind) {
  EXPECT_REJECTED(absl::StrCat("{", kIds, ",", kTime, "}"), RejectReason::kUnknownKind,
                  AllOf(HasSubstr("no kind"), HasSubstr("queued, answered")));
  EXPECT_REJECTED(With("", R"("queued":{},"answered":{})"), RejectReason::kUnknownKind,
                  HasSubstr("more than one kind: \"queued\" and \"answered\""));
  EXPECT_REJECTED(With("", R"("queued":{},"queued":{})"), RejectReason::kUnknownKind,
                  HasSubstr("more than one kind"));
  // Structure comes before content: two kinds and no ids is a kind problem.
  EXPECT_REJECTED(R"({"queued":{},"answered":{}})", RejectReason::kUnknownKind,
                  HasSubstr("more than one kind"));
}

TEST(EventsRejectTest, MissingIds) {
  const std::string tail = absl::StrCat(kTime, R"(,"queued":{}})");
  EXPECT_REJECTED(absl::StrCat(R"({"lineId":"l","callId":"c",)", tail),
                  RejectReason::kMissingEventId, HasSubstr("missing event_id"));
  EXPECT_REJECTED(absl::StrCat(R"({"eventId":"","lineId":"l","callId":"c",)", tail),
                  RejectReason::kMissingEventId, HasSubstr("missing event_id"));
  EXPECT_REJECTED(absl::StrCat(R"({"eventId":"e","callId":"c",)", tail),
                  RejectReason::kMissingLineId, HasSubstr("missing line_id"));
  EXPECT_REJECTED(absl::StrCat(R"({"eventId":"e","lineId":"l",)", tail),
                  RejectReason::kMissingCallId,
                  AllOf(HasSubstr("missing call_id"), HasSubstr("queued")));
  // agent_state needs no call_id ...
  EXPECT_TRUE(Json(absl::StrCat(R"({"eventId":"e","lineId":"l",)", kTime,
                                R"(,"agentState":{"agentId":"a","state":"AGENT_STATUS_AWAY"}})"))
                  .status.ok());
  // ... but every other kind does.
  for (const char* kind : {R"("answered":{})", R"("abandoned":{})", R"("callbackRequested":{})",
                           R"("leftQueue":{})", R"("completed":{})"}) {
    EXPECT_REJECTED(absl::StrCat(R"({"eventId":"e","lineId":"l",)", kTime, ",", kind, "}"),
                    RejectReason::kMissingCallId, HasSubstr("missing call_id"));
  }
}

TEST(EventsRejectTest, MissingEventTime) {
  EXPECT_REJECTED(absl::StrCat("{", kIds, R"(,"queued":{}})"), RejectReason::kMissingEventTime,
                  HasSubstr("missing event_time"));
  EXPECT_REJECTED(absl::StrCat("{", kIds, R"(,"eventTime":null,"queued":{}})"),
                  RejectReason::kMissingEventTime, HasSubstr("missing event_time"));
}

TEST(EventsRejectTest, NegativeDuration) {
  EXPECT_REJECTED(With("", R"("answered":{"wait":"-3s"})"), RejectReason::kNegativeDuration,
                  HasSubstr("answered.wait is negative (-3s)"));
  EXPECT_REJECTED(With("", R"("abandoned":{"wait":"-0.5s"})"), RejectReason::kNegativeDuration,
                  HasSubstr("abandoned.wait is negative (-0.500s)"));
  EXPECT_REJECTED(With("", R"("completed":{"talk":"-1s"})"), RejectReason::kNegativeDuration,
                  HasSubstr("completed.talk is negative (-1s)"));
  EXPECT_REJECTED(With("", R"("completed":{"talk":"1s","wrap":"-0.000000001s"})"),
                  RejectReason::kNegativeDuration,
                  HasSubstr("completed.wrap is negative (-0.000000001s)"));
  EXPECT_TRUE(Json(With("", R"("answered":{"wait":"-0s"})")).status.ok());
}

TEST(EventsRejectTest, AbsurdTimestamp) {
  const auto at = [](absl::string_view time) {
    return absl::StrCat("{", kIds, R"(,"eventTime":")", time, R"(","queued":{}})");
  };
  EXPECT_REJECTED(at("1970-01-01T00:00:00Z"), RejectReason::kAbsurdTimestamp,
                  HasSubstr("event_time 1970-01-01T00:00:00Z is outside 2000-01-01..2100-01-01"));
  EXPECT_REJECTED(at("1999-12-31T23:59:59.999Z"), RejectReason::kAbsurdTimestamp,
                  HasSubstr("event_time 1999-12-31T23:59:59.999Z is outside"));
  EXPECT_REJECTED(at("2100-01-01T00:00:00Z"), RejectReason::kAbsurdTimestamp,
                  HasSubstr("event_time 2100-01-01T00:00:00Z is outside"));
  EXPECT_REJECTED(at("9999-12-31T23:59:59Z"), RejectReason::kAbsurdTimestamp,
                  HasSubstr("outside 2000-01-01..2100-01-01"));
  // The bounds themselves.
  EXPECT_TRUE(Json(at("2000-01-01T00:00:00Z")).status.ok());
  EXPECT_TRUE(Json(at("2099-12-31T23:59:59.999999999Z")).status.ok());
  // An offset that crosses the bound.
  EXPECT_REJECTED(at("2000-01-01T00:30:00+01:00"), RejectReason::kAbsurdTimestamp,
                  HasSubstr("1999-12-31T23:30:00Z"));
}

TEST(EventsRejectTest, BadValue) {
  EXPECT_REJECTED(With("", R"("leftQueue":{"reason":9})"), RejectReason::kBadValue,
                  HasSubstr("left_queue.reason has unknown value 9"));
  EXPECT_REJECTED(With("", R"("leftQueue":{"reason":"OVERFLOW"})"), RejectReason::kBadValue,
                  AllOf(HasSubstr("left_queue.reason: unknown value \"OVERFLOW\""),
                        HasSubstr("LEFT_QUEUE_REASON_OVERFLOW")));
  EXPECT_REJECTED(With("", R"("agentState":{"agentId":"a","state":42})"), RejectReason::kBadValue,
                  HasSubstr("agent_state.state has unknown value 42"));
  EXPECT_REJECTED(With("", R"("agentState":{"agentId":"a","state":2,"origin":-1})"),
                  RejectReason::kBadValue, HasSubstr("agent_state.origin has unknown value -1"));
  EXPECT_REJECTED(With("", R"("agentState":{"agentId":"a"})"), RejectReason::kBadValue,
                  HasSubstr("agent_state.state is unspecified"));
  EXPECT_REJECTED(With("", R"("agentState":{"state":"AGENT_STATUS_AWAY"})"),
                  RejectReason::kBadValue, HasSubstr("missing agent_state.agent_id"));
  EXPECT_REJECTED(With("", R"("answered":{"wait":"604801s"})"), RejectReason::kBadValue,
                  AllOf(HasSubstr("answered.wait is 604801s"), HasSubstr("longer than the limit")));
  EXPECT_TRUE(Json(With("", R"("answered":{"wait":"604800s"})")).status.ok());
  EXPECT_REJECTED(With("", R"("completed":{"talk":{"seconds":1,"nanos":-1}})"),
                  RejectReason::kBadValue, HasSubstr("completed.talk is not a valid duration"));
  EXPECT_REJECTED(absl::StrCat("{", kIds, R"(,"eventTime":{"seconds":1664785801,"nanos":-1},)",
                               R"("queued":{}})"),
                  RejectReason::kBadValue, HasSubstr("event_time has nanos -1"));
  // line_id: a metric label.
  EXPECT_REJECTED(
      R"({"eventId":"e","lineId":"rev enues","callId":"c",)" + std::string(kTime) +
          R"(,"queued":{}})",
      RejectReason::kBadValue,
      AllOf(HasSubstr("line_id \"rev enues\""), HasSubstr("[A-Za-z0-9._-]"), HasSubstr("byte 4")));
  EXPECT_REJECTED(absl::StrCat(R"({"eventId":"e","lineId":")", std::string(129, 'l'),
                               R"(","callId":"c",)", kTime, R"(,"queued":{}})"),
                  RejectReason::kBadValue,
                  AllOf(HasSubstr("line_id is 129 bytes long, more than 128"),
                        Not(HasSubstr(std::string(60, 'l')))));
  EXPECT_TRUE(Json(absl::StrCat(R"({"eventId":"e","lineId":")", std::string(128, 'l'),
                                R"(","callId":"c",)", kTime, R"(,"queued":{}})"))
                  .status.ok());
}

TEST(EventsRejectTest, EveryReasonHasADistinctSnakeCaseName) {
  std::set<std::string_view> names;
  for (int i = 0; i < kNumRejectReasons; ++i) {
    const std::string_view name = RejectReasonName(static_cast<RejectReason>(i));
    EXPECT_TRUE(names.insert(name).second) << name;
    for (char c : name) EXPECT_TRUE((c >= 'a' && c <= 'z') || c == '_') << name;
  }
  EXPECT_EQ(RejectReasonName(RejectReason::kBadJson), "bad_json");
  EXPECT_EQ(RejectReasonName(RejectReason::kBadProtobuf), "bad_protobuf");
  EXPECT_EQ(RejectReasonName(RejectReason::kUnknownField), "unknown_field");
  EXPECT_EQ(RejectReasonName(RejectReason::kUnknownKind), "unknown_kind");
  EXPECT_EQ(RejectReasonName(RejectReason::kMissingEventId), "missing_event_id");
  EXPECT_EQ(RejectReasonName(RejectReason::kMissingLineId), "missing_line_id");
  EXPECT_EQ(RejectReasonName(RejectReason::kMissingCallId), "missing_call_id");
  EXPECT_EQ(RejectReasonName(RejectReason::kMissingEventTime), "missing_event_time");
  EXPECT_EQ(RejectReasonName(RejectReason::kNegativeDuration), "negative_duration");
  EXPECT_EQ(RejectReasonName(RejectReason::kAbsurdTimestamp), "absurd_timestamp");
  EXPECT_EQ(RejectReasonName(RejectReason::kBadValue), "bad_value");
}

TEST(EventsRejectCounterTest, CountsByReasonAndName) {
  RejectCounter counter;
  EXPECT_EQ(counter.total(), 0);
  EXPECT_TRUE(counter.ByName().empty());
  counter.Add(RejectReason::kBadJson);
  counter.Add(RejectReason::kBadJson);
  counter.Add(RejectReason::kMissingLineId);
  EXPECT_EQ(counter.count(RejectReason::kBadJson), 2);
  EXPECT_EQ(counter.count(RejectReason::kBadValue), 0);
  EXPECT_EQ(counter.total(), 3);
  const std::map<std::string, int64_t> want = {{"bad_json", 2}, {"missing_line_id", 1}};
  EXPECT_EQ(counter.ByName(), want);
}

TEST(EventsEventTimeTest, ConvertsAndDefaultsToInfinitePast) {
  CallEvent e;
  EXPECT_EQ(EventTime(e), absl::InfinitePast());
  e.mutable_event_time()->set_seconds(1664785801);
  e.mutable_event_time()->set_nanos(250000000);
  EXPECT_EQ(EventTime(e), absl::FromUnixMillis(1664785801250));
}

// ---- Robustness ------------------------------------------------------------

void ExpectRejectedQuietly(std::string_view input) {
  CallEvent e;
  RejectReason reason = RejectReason::kBadProtobuf;
  const absl::Status s = ParseJsonEvent(input, e, &reason);
  EXPECT_FALSE(s.ok()) << input.substr(0, 200);
  EXPECT_NE(reason, RejectReason::kBadProtobuf);
  EXPECT_LT(s.message().size(), 400u) << s;
}

TEST(EventsRobustnessTest, EveryTruncationIsRejected) {
  EventGenerator gen(11);
  for (int i = 0; i < 50; ++i) {
    const std::string json = JsonEvent(gen.Valid());
    for (size_t n = 0; n < json.size(); ++n) ExpectRejectedQuietly(json.substr(0, n));
  }
}

TEST(EventsRobustnessTest, DeepNesting) {
  for (const std::string prefix :
       {"", "{\"queued\":", "{\"eventTime\":", "{\"answered\":{\"wait\":", "{\"foo\":"}) {
    for (const char* open : {"{", "[", "{\"a\":", "[{\"a\":["}) {
      std::string json = prefix;
      for (int i = 0; i < 100000; ++i) json += open;
      ExpectRejectedQuietly(json);
    }
  }
}

TEST(EventsRobustnessTest, HugeValues) {
  ExpectRejectedQuietly(
      With("", absl::StrCat(R"("queued":{"priority":)", std::string(100000, '9'), "}")));
  ExpectRejectedQuietly(With("", R"("queued":{"priority":1e999999999999})"));
  ExpectRejectedQuietly(
      With("", absl::StrCat(R"("queued":{"priority":)", std::string(100000, '9'), ".5}")));
  // A tiny number underflows to 0, as in protobuf.
  CallEvent tiny;
  EXPECT_TRUE(ParseJsonEvent(With("", absl::StrCat(R"("queued":{"priority":0.)",
                                                   std::string(100000, '0'), "1}")),
                             tiny)
                  .ok());
  EXPECT_EQ(tiny.queued().priority(), 0);
  ExpectRejectedQuietly(
      With("", absl::StrCat(R"("answered":{"wait":")", std::string(100000, '9'), R"(s"})")));
  ExpectRejectedQuietly(
      absl::StrCat("{", kIds, R"(,"eventTime":")", std::string(100000, '2'), R"(","queued":{}})"));
  ExpectRejectedQuietly(
      With("", absl::StrCat(R"("leftQueue":{"reason":")", std::string(100000, 'X'), R"("})")));
  // A huge but valid string is fine.
  CallEvent e;
  EXPECT_TRUE(
      ParseJsonEvent(With(absl::StrCat(R"("source":")", std::string(1 << 20, 's'), "\"")), e).ok());
  EXPECT_EQ(e.source().size(), size_t{1} << 20);
}

TEST(EventsRobustnessTest, BadUnicode) {
  for (const char* s : {R"(\ud800)",
                        R"(\udfff)",
                        R"(\ud800\u0041)",
                        R"(\ud800\ud800)",
                        R"(\ud800\)",
                        R"(\ud800\u)",
                        R"(\u00zz)",
                        R"(\u)",
                        R"(\u12)",
                        R"(\)",
                        "\xff",
                        "\xc3",
                        "\xc3(",
                        "\xe2\x82",
                        "\xf0\x9f\x98",
                        "\xf8\x88\x80\x80\x80",
                        "\xc0\xaf",
                        "\xed\xbf\xbf",
                        "\xf4\x90\x80\x80",
                        "\x80"}) {
    ExpectRejectedQuietly(With(absl::StrCat(R"("source":")", s, "\"")));
  }
}

TEST(EventsRobustnessTest, RandomBytes) {
  std::mt19937_64 rng(77);
  for (int i = 0; i < 20000; ++i) {
    std::string bytes(rng() % 64, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    if (i % 2 == 0 && !bytes.empty()) bytes[0] = '{';
    CallEvent e;
    RejectReason reason;
    const absl::Status s = ParseJsonEvent(bytes, e, &reason);
    EXPECT_FALSE(s.ok());
  }
}

TEST(EventsRobustnessTest, EmbeddedNulBytes) {
  const std::string with_nul = With("") + std::string("\0", 1);
  ExpectRejectedQuietly(with_nul);
  ExpectRejectedQuietly(std::string("{\0}", 3));
  CallEvent e;
  ASSERT_TRUE(ParseJsonEvent(With(R"("source":"a\u0000b")"), e).ok());
  EXPECT_EQ(e.source(), std::string("a\0b", 3));
}

// ---- Binary ----------------------------------------------------------------

TEST(EventsParseBinaryTest, RoundTripsAndValidates) {
  EventGenerator gen(3);
  for (int i = 0; i < 500; ++i) {
    const CallEvent event = gen.Any();
    CallEvent got;
    RejectReason r1 = RejectReason::kBadJson, r2 = RejectReason::kBadJson;
    const absl::Status s = ParseBinaryEvent(event.SerializeAsString(), got, &r1);
    EXPECT_EQ(s, ValidateEvent(event, &r2));
    EXPECT_EQ(r1, r2);
  }
}

TEST(EventsParseBinaryTest, GarbageIsBadProtobuf) {
  google::protobuf::LogHandler* old = google::protobuf::SetLogHandler(nullptr);
  CallEvent e;
  RejectReason reason;
  absl::Status s = ParseBinaryEvent("\xff\xff\xff\xff", e, &reason);
  EXPECT_EQ(reason, RejectReason::kBadProtobuf);
  EXPECT_THAT(std::string(s.message()), HasSubstr("not a CallEvent protobuf: 4 bytes"));
  // A string field with invalid UTF-8 (proto3 strings must be UTF-8).
  s = ParseBinaryEvent(std::string("\x0a\x02\xff\xfe", 4), e, &reason);
  EXPECT_EQ(reason, RejectReason::kBadProtobuf) << s;
  // Truncated.
  CallEvent valid;
  valid.set_event_id("e1");
  valid.set_line_id("revenues");
  const std::string bytes = valid.SerializeAsString();
  s = ParseBinaryEvent(bytes.substr(0, bytes.size() - 1), e, &reason);
  EXPECT_EQ(reason, RejectReason::kBadProtobuf) << s;
  // Random bytes never crash; whatever decodes is validated.
  std::mt19937_64 rng(5);
  for (int i = 0; i < 20000; ++i) {
    std::string garbage(rng() % 80, '\0');
    for (char& c : garbage) c = static_cast<char>(rng());
    s = ParseBinaryEvent(garbage, e, &reason);
    EXPECT_FALSE(s.ok());
  }
  google::protobuf::SetLogHandler(old);
}

TEST(EventsParseBinaryTest, EmptyAndUnknownKind) {
  CallEvent e;
  RejectReason reason;
  absl::Status s = ParseBinaryEvent("", e, &reason);
  EXPECT_EQ(reason, RejectReason::kUnknownKind) << s;
  // A kind from a newer schema (field 17) is kept as an unknown field.
  CallEvent valid;
  valid.set_event_id("e1");
  valid.set_line_id("revenues");
  valid.set_call_id("c1");
  valid.mutable_event_time()->set_seconds(1664785801);
  const std::string bytes = valid.SerializeAsString() + std::string("\x8a\x01\x00", 3);
  s = ParseBinaryEvent(bytes, e, &reason);
  EXPECT_EQ(reason, RejectReason::kUnknownKind) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("no kind"));
  // The same with a known kind is fine.
  valid.mutable_queued();
  EXPECT_TRUE(ParseBinaryEvent(valid.SerializeAsString() + std::string("\x8a\x01\x00", 3), e).ok());
}

}  // namespace
}  // namespace tidewatch::events
