// queue_log lines in Asterisk's documented format -> CallEvents: every
// mapped event, the ignored ones, the keyed caller hash, malformed lines,
// and the line map.
#include <openssl/hmac.h>

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "events/event_view.h"
#include "events/events.h"
#include "events/utf8_cases.h"
#include "google/protobuf/stubs/logging.h"
#include "gtest/gtest.h"
#include "queuelog/caller_hasher.h"
#include "queuelog/queue_log.h"

namespace tidewatch::queuelog {
namespace {

using tidewatch::v1::CallEvent;

constexpr char kSecret[] = "test-secret-key-0123456789";

constexpr char kLineMap[] = R"(
source: asterisk-test
queues:
  council-tax: revenues
  benefits-q: benefits
callback_exit_keys: ["1"]
default_agent_origin: csc
agent_origins:
  "Local/bo-": back_office
  "Local/bo-cas-": casual
)";

class MapperTest : public ::testing::Test {
 protected:
  MapperTest()
      : map_(*ParseLineMap(kLineMap, "test")),
        hasher_(*CallerHasher::Create(kSecret)),
        mapper_(map_, hasher_) {}

  // Maps a line that must give an event.
  CallEvent Event(const std::string& line, uint64_t position = 100) {
    CallEvent e;
    MapResult r = mapper_.Map(line, position, e);
    EXPECT_EQ(r.outcome, MapOutcome::kEvent) << line << ": " << r.message;
    EXPECT_TRUE(events::ValidateEvent(e).ok()) << line;
    return e;
  }
  MapResult Result(const std::string& line) {
    CallEvent e;
    return mapper_.Map(line, 0, e);
  }

  LineMap map_;
  CallerHasher hasher_;
  QueueLogMapper mapper_;
};

TEST_F(MapperTest, EnterQueueIsQueuedWithKeyedCallerHash) {
  CallEvent e = Event("1664785801|1664785801.1234|council-tax|NONE|ENTERQUEUE||01632960123|1", 42);
  EXPECT_EQ(e.kind_case(), CallEvent::kQueued);
  EXPECT_EQ(e.event_id(), "ql-1664785801-42-1664785801.1234");
  EXPECT_EQ(e.line_id(), "revenues");
  EXPECT_EQ(e.call_id(), "1664785801.1234");
  EXPECT_EQ(e.event_time().seconds(), 1664785801);
  EXPECT_EQ(e.source(), "asterisk-test");
  EXPECT_EQ(e.queued().caller_key(), hasher_.KeyFor("01632960123"));
  EXPECT_EQ(e.queued().caller_key().size(), 32u);
  EXPECT_FALSE(absl::StrContains(e.SerializeAsString(), "1632960123"));
  EXPECT_FALSE(absl::StrContains(events::JsonEvent(e), "1632960123"));
}

TEST_F(MapperTest, WithheldCallerGivesEmptyKey) {
  EXPECT_EQ(Event("1664785801|c1|council-tax|NONE|ENTERQUEUE||anonymous|1").queued().caller_key(),
            "");
  EXPECT_EQ(Event("1664785801|c1|council-tax|NONE|ENTERQUEUE|||1").queued().caller_key(), "");
  EXPECT_EQ(Event("1664785801|c1|council-tax|NONE|ENTERQUEUE").queued().caller_key(), "");
}

// app_queue writes ENTERQUEUE's data as url|callerid|position, the URL as
// the dialplan gave it to Queue(): a '|' in it adds fields in front of the
// caller id, which is therefore counted from the end.
TEST_F(MapperTest, APipeInTheEnterQueueUrlDoesNotShiftTheCallerId) {
  const std::string key = hasher_.KeyFor("01632960123");
  ASSERT_FALSE(key.empty());
  CallEvent e =
      Event("1664785801|c1|council-tax|NONE|ENTERQUEUE|https://crm/x?a=1|b=2|01632960123|1", 42);
  EXPECT_EQ(e.queued().caller_key(), key);
  EXPECT_EQ(e.event_id(), "ql-1664785801-42-c1");
  EXPECT_EQ(e.call_id(), "c1");
  // More '|' than QueueLogLine keeps data fields for.
  EXPECT_EQ(Event("1664785801|c1|council-tax|NONE|ENTERQUEUE|u|1|2|3|4|5|6|7|8|9|01632960123|12")
                .queued()
                .caller_key(),
            key);
  // A withheld number behind a URL with a '|'.
  EXPECT_EQ(Event("1664785801|c1|council-tax|NONE|ENTERQUEUE|u|v||3").queued().caller_key(), "");
  // Older Asterisk versions (1.2 for one) wrote no position: url|callerid.
  EXPECT_EQ(Event("1664785801|c1|council-tax|NONE|ENTERQUEUE|u|01632960123").queued().caller_key(),
            key);
  // ... and a '|' in the URL: the last field, when it is not the position.
  ASSERT_FALSE(hasher_.KeyFor("+441632960123").empty());
  EXPECT_EQ(
      Event("1664785801|c1|council-tax|NONE|ENTERQUEUE|u|v|+441632960123").queued().caller_key(),
      hasher_.KeyFor("+441632960123"));

  QueueLogLine line;
  ASSERT_TRUE(ParseQueueLogLine("1664785801|c1|q|NONE|ENTERQUEUE|u|v|012|1", line, nullptr).ok());
  EXPECT_EQ(line.data_text, "u|v|012|1");
  EXPECT_EQ(line.data_count, 4);
  ASSERT_TRUE(ParseQueueLogLine("1664785801|c1|q|NONE|ENTERQUEUE", line, nullptr).ok());
  EXPECT_EQ(line.data_text, "");
  EXPECT_EQ(line.data_count, 0);
}

TEST_F(MapperTest, ConnectIsAnsweredWithHoldTime) {
  CallEvent e = Event("1664785861|c1|council-tax|Local/1001@agents|CONNECT|60|1664785855.99|5");
  ASSERT_EQ(e.kind_case(), CallEvent::kAnswered);
  EXPECT_EQ(e.answered().agent_id(), "Local/1001@agents");
  EXPECT_EQ(e.answered().wait().seconds(), 60);
}

TEST_F(MapperTest, AbandonCarriesTheWait) {
  CallEvent e = Event("1664785900|c2|benefits-q|NONE|ABANDON|3|5|97");
  ASSERT_EQ(e.kind_case(), CallEvent::kAbandoned);
  EXPECT_EQ(e.line_id(), "benefits");
  EXPECT_EQ(e.abandoned().wait().seconds(), 97);
}

// Asterisk's holdtime / waittime is time(NULL) - start: negative after the
// clock stepped back. The answer or abandon still happened (else the call
// waits forever in tidewatch); wait is optional, so it is left out, counted.
TEST_F(MapperTest, NegativeWaitAfterAClockStepIsLeftOutAndCounted) {
  MapCounters counters;
  CallEvent answered;
  MapResult r = mapper_.Map(
      "1664785861|c1|council-tax|Local/1001@agents|CONNECT|-1|1664785855.99|5", 0, answered);
  ASSERT_EQ(r.outcome, MapOutcome::kEvent) << r.message;
  EXPECT_TRUE(r.wait_dropped);
  EXPECT_TRUE(absl::StrContains(r.message, "holdtime")) << r.message;
  counters.Add(r);
  ASSERT_EQ(answered.kind_case(), CallEvent::kAnswered);
  EXPECT_EQ(answered.answered().agent_id(), "Local/1001@agents");
  EXPECT_FALSE(answered.answered().has_wait());
  EXPECT_TRUE(events::ValidateEvent(answered).ok());

  CallEvent abandoned;
  r = mapper_.Map("1664785900|c2|benefits-q|NONE|ABANDON|3|5|-97", 0, abandoned);
  ASSERT_EQ(r.outcome, MapOutcome::kEvent) << r.message;
  EXPECT_TRUE(r.wait_dropped);
  counters.Add(r);
  ASSERT_EQ(abandoned.kind_case(), CallEvent::kAbandoned);
  EXPECT_FALSE(abandoned.abandoned().has_wait());

  r = mapper_.Map("1664785900|c3|benefits-q|NONE|ABANDON|3|5|97", 0, abandoned);
  EXPECT_FALSE(r.wait_dropped);
  counters.Add(r);
  EXPECT_EQ(counters.events, 3);
  EXPECT_EQ(counters.wait_dropped, 2);
  EXPECT_TRUE(absl::StrContains(counters.ToString(), " wait_dropped=2")) << counters.ToString();
}

// Proto3 strings must be UTF-8: tidewatchd dead-letters an event whose
// agent_id or call_id is not. Such bytes (a Latin-1 member name) are
// escaped, the same way every time (event ids stay stable).
TEST_F(MapperTest, BytesThatAreNotUtf8AreEscapedSoTheEventDecodes) {
  const std::string connect =
      "1664785861|c\xff"
      "1|council-tax|Local/Jos\xe9@agents|CONNECT|60|x|5";
  CallEvent e = Event(connect, 9);
  EXPECT_EQ(e.answered().agent_id(), "Local/Jos%E9@agents");
  EXPECT_EQ(e.call_id(), "c%FF1");
  EXPECT_EQ(e.event_id(), "ql-1664785861-9-c%FF1");
  EXPECT_EQ(Event(connect, 9).SerializeAsString(), e.SerializeAsString());
  CallEvent member = Event("1664785000|NONE|benefits-q|Local/Jos\xe9@agents|ADDMEMBER|", 7);
  EXPECT_EQ(member.event_id(), "ql-1664785000-7-Local/Jos%E9@agents");
  CallEvent completed =
      Event("1664786000|c\xe9|council-tax|Local/Jos\xe9@agents|COMPLETEAGENT|60|139|1");
  for (const CallEvent* event : {&e, &member, &completed}) {
    const std::string bytes = event->SerializeAsString();
    CallEvent parsed;
    EXPECT_TRUE(events::ParseBinaryEvent(bytes, parsed).ok()) << event->event_id();
    events::EventDecoder decoder;
    events::CallEventView view;
    EXPECT_TRUE(decoder.Parse(bytes, view).ok()) << event->event_id();
  }
  // Well-formed UTF-8 is kept as it is.
  EXPECT_EQ(Event("1664785861|c1|council-tax|Local/Jos\xc3\xa9@agents|CONNECT|60|x|5")
                .answered()
                .agent_id(),
            "Local/Jos\xc3\xa9@agents");
}

TEST(Utf8SafeTest, EscapesEachByteOutsideWellFormedUtf8) {
  std::string storage;
  EXPECT_EQ(Utf8Safe("plain", storage), "plain");
  EXPECT_EQ(Utf8Safe("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\x9e", storage),
            "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\x9e");
  EXPECT_EQ(Utf8Safe("a\xe9", storage), "a%E9");
  EXPECT_EQ(Utf8Safe("\xc3", storage), "%C3");                       // cut short
  EXPECT_EQ(Utf8Safe("\xc0\x80x", storage), "%C0%80x");              // overlong
  EXPECT_EQ(Utf8Safe("\xed\xa0\x80", storage), "%ED%A0%80");         // a surrogate
  EXPECT_EQ(Utf8Safe("\xf4\x90\x80\x80", storage), "%F4%90%80%80");  // above U+10FFFF
  EXPECT_EQ(Utf8Safe("\xe9\xc3\xa9", storage), "%E9\xc3\xa9");
}

// The bytes Utf8Safe escapes are exactly those the event decoders refuse:
// a call_id the decoder (and protobuf's parser behind it) accepts is kept
// as it is, one it refuses is escaped, and the escaped one is accepted.
// Every string of one and two bytes, and the edges of the three- and
// four-byte forms.
TEST(Utf8SafeTest, EscapesExactlyWhatTheEventDecoderRefuses) {
  google::protobuf::LogSilencer silence_protobuf_utf8_errors;
  const auto decodes = [&](std::string_view call_id) {
    events::EventDecoder decoder;
    events::CallEventView view;
    const std::string bytes = events::testing::EventWithCallId(call_id);  // the view refers to it
    const bool ok = decoder.Parse(bytes, view).ok();
    EXPECT_TRUE(!ok || view.call_id == call_id);
    return ok;
  };
  std::vector<std::string> cases = events::testing::AllStringsOfOneAndTwoBytes();
  constexpr unsigned char kLeads[] = {0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF,
                                      0xF0, 0xF1, 0xF3, 0xF4, 0xF5};
  constexpr unsigned char kSeconds[] = {0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0};
  constexpr unsigned char kRests[] = {0x7F, 0x80, 0xBF, 0xC0};
  const std::vector<std::string> edges =
      events::testing::LeadSecondThirdSequences(kLeads, kSeconds, kRests);
  cases.insert(cases.end(), edges.begin(), edges.end());
  int accepted = 0, refused = 0;
  for (const std::string& c : cases) {
    std::string storage;
    const std::string_view safe = Utf8Safe(c, storage);
    const bool ok = decodes(c);
    (ok ? accepted : refused)++;
    ASSERT_EQ(safe == c, ok) << absl::CEscape(c) << " -> " << absl::CEscape(std::string(safe));
    ASSERT_TRUE(decodes(safe)) << absl::CEscape(c) << " -> " << absl::CEscape(std::string(safe));
    CallEvent parsed;
    ASSERT_EQ(parsed.ParseFromString(events::testing::EventWithCallId(c)), ok) << absl::CEscape(c);
  }
  // (128 + 128 * 128 + 30 * 64 two-byte sequences, and the edges.)
  EXPECT_GT(accepted, 18000);
  EXPECT_GT(refused, 40000);
}

TEST_F(MapperTest, ExitEventsAreLeftQueueWithTheReason) {
  EXPECT_EQ(Event("1664785900|c3|council-tax|NONE|EXITWITHTIMEOUT|2|4|300").left_queue().reason(),
            tidewatch::v1::LEFT_QUEUE_REASON_TIMEOUT);
  EXPECT_EQ(Event("1664785900|c4|council-tax|NONE|EXITWITHKEY|5|2|4|30").left_queue().reason(),
            tidewatch::v1::LEFT_QUEUE_REASON_EXIT_KEY);
  EXPECT_EQ(Event("1664785900|c5|council-tax|NONE|EXITEMPTY|1|1|12").left_queue().reason(),
            tidewatch::v1::LEFT_QUEUE_REASON_EMPTY);
}

// QueueWithdrawCaller (Asterisk 16.25+ / 18.11+) takes a caller out of the
// queue back to the dialplan: WITHDRAW|position|origposition|waittime|info.
// The call left the queue unanswered without the caller hanging up.
TEST_F(MapperTest, WithdrawIsLeftQueueAsTransferred) {
  MapCounters counters;
  CallEvent e;
  MapResult r =
      mapper_.Map("1664785900|c7|council-tax|NONE|WITHDRAW|2|4|45|to the callback team", 11, e);
  counters.Add(r);
  ASSERT_EQ(r.outcome, MapOutcome::kEvent) << r.message;
  ASSERT_EQ(e.kind_case(), CallEvent::kLeftQueue);
  EXPECT_EQ(e.left_queue().reason(), tidewatch::v1::LEFT_QUEUE_REASON_TRANSFER);
  EXPECT_EQ(e.call_id(), "c7");
  EXPECT_EQ(e.line_id(), "revenues");
  EXPECT_EQ(e.event_id(), "ql-1664785900-11-c7");
  EXPECT_EQ(e.event_time().seconds(), 1664785900);
  EXPECT_TRUE(events::ValidateEvent(e).ok());
  // Without the info, or with a '|' in it.
  EXPECT_EQ(Event("1664785900|c8|benefits-q|NONE|WITHDRAW|1|1|3|").left_queue().reason(),
            tidewatch::v1::LEFT_QUEUE_REASON_TRANSFER);
  EXPECT_EQ(Event("1664785900|c9|benefits-q|NONE|WITHDRAW|1|1|3|a|b").left_queue().reason(),
            tidewatch::v1::LEFT_QUEUE_REASON_TRANSFER);
  EXPECT_EQ(counters.events, 1);
  EXPECT_EQ(counters.skipped_total(), 0);
  // A call event: it needs its callid.
  EXPECT_EQ(Result("1664785900|NONE|council-tax|NONE|WITHDRAW|2|4|45|").reason,
            SkipReason::kMissingCallId);
}

TEST_F(MapperTest, CallbackExitKeyIsCallbackRequested) {
  CallEvent e = Event("1664785900|c6|council-tax|NONE|EXITWITHKEY|1|2|4|30");
  EXPECT_EQ(e.kind_case(), CallEvent::kCallbackRequested);
}

TEST_F(MapperTest, CompleteEventsAreCompletedWithTalkTime) {
  CallEvent a = Event("1664786000|c1|council-tax|Local/1001@agents|COMPLETEAGENT|60|139|1");
  ASSERT_EQ(a.kind_case(), CallEvent::kCompleted);
  EXPECT_EQ(a.completed().agent_id(), "Local/1001@agents");
  EXPECT_EQ(a.completed().talk().seconds(), 139);
  EXPECT_FALSE(a.completed().has_wrap());
  CallEvent c = Event("1664786000|c7|council-tax|Local/1002@agents|COMPLETECALLER|12|45|2");
  EXPECT_EQ(c.completed().talk().seconds(), 45);
}

TEST_F(MapperTest, TransfersCompleteTheAgentsHandling) {
  CallEvent t =
      Event("1664786000|c8|council-tax|Local/1001@agents|TRANSFER|2001|from-internal|20|75|1");
  ASSERT_EQ(t.kind_case(), CallEvent::kCompleted);
  EXPECT_EQ(t.completed().talk().seconds(), 75);
  EXPECT_EQ(Event("1664786000|c9|council-tax|Local/1001@agents|BLINDTRANSFER|2001|default|20|76|1")
                .completed()
                .talk()
                .seconds(),
            76);
  EXPECT_EQ(
      Event("1664786000|c10|council-tax|Local/1001@agents|ATTENDEDTRANSFER|BRIDGE|abc-123|20|77|1")
          .completed()
          .talk()
          .seconds(),
      77);
}

TEST_F(MapperTest, MemberEventsAreAgentStates) {
  struct Case {
    const char* event;
    tidewatch::v1::AgentStatus state;
  } cases[] = {{"ADDMEMBER", tidewatch::v1::AGENT_STATUS_AVAILABLE},
               {"REMOVEMEMBER", tidewatch::v1::AGENT_STATUS_LOGGED_OUT},
               {"PAUSE", tidewatch::v1::AGENT_STATUS_AWAY},
               {"UNPAUSE", tidewatch::v1::AGENT_STATUS_AVAILABLE}};
  for (const Case& c : cases) {
    CallEvent e =
        Event(absl::StrCat("1664785000|NONE|benefits-q|Local/1001@agents|", c.event, "|"), 7);
    ASSERT_EQ(e.kind_case(), CallEvent::kAgentState) << c.event;
    EXPECT_EQ(e.agent_state().state(), c.state) << c.event;
    EXPECT_EQ(e.agent_state().agent_id(), "Local/1001@agents");
    EXPECT_EQ(e.agent_state().origin(), tidewatch::v1::AGENT_ORIGIN_CSC);
    EXPECT_EQ(e.call_id(), "");
    EXPECT_EQ(e.event_id(), "ql-1664785000-7-Local/1001@agents");
  }
  EXPECT_EQ(
      Event("1664785000|NONE|benefits-q|Local/bo-7@agents|PAUSE|lunch").agent_state().origin(),
      tidewatch::v1::AGENT_ORIGIN_BACK_OFFICE);
  EXPECT_EQ(
      Event("1664785000|NONE|benefits-q|Local/bo-cas-2@agents|ADDMEMBER|").agent_state().origin(),
      tidewatch::v1::AGENT_ORIGIN_CASUAL);
}

TEST_F(MapperTest, RingNoAnswerAndOtherKnownEventsAreIgnoredButCounted) {
  MapCounters counters;
  for (const char* line :
       {"1664785900|c1|council-tax|Local/1001@agents|RINGNOANSWER|15000",
        "1664785901|c1|council-tax|Local/1002@agents|RINGNOANSWER|15000",
        "1664785000|NONE|NONE|NONE|QUEUESTART|", "1664785000|NONE|NONE|NONE|CONFIGRELOAD|"}) {
    MapResult r = Result(line);
    EXPECT_EQ(r.outcome, MapOutcome::kIgnored) << line;
    counters.Add(r);
  }
  EXPECT_EQ(counters.ignored["RINGNOANSWER"], 2);
  EXPECT_EQ(counters.ignored["QUEUESTART"], 1);
  EXPECT_EQ(counters.events, 0);
  EXPECT_EQ(counters.lines, 4);
}

TEST_F(MapperTest, SameLineSamePositionGivesTheSameEvent) {
  const std::string line = "1664785861|c1|council-tax|Local/1001@agents|CONNECT|60|x|5";
  EXPECT_EQ(Event(line, 9).SerializeAsString(), Event(line, 9).SerializeAsString());
  EXPECT_NE(Event(line, 9).event_id(), Event(line, 10).event_id());
}

struct BadLine {
  const char* line;
  SkipReason reason;
};

// Test names show the reason, not the struct's bytes.
void PrintTo(const BadLine& bad, std::ostream* os) { *os << SkipReasonName(bad.reason); }

class MalformedTest : public MapperTest, public ::testing::WithParamInterface<BadLine> {};

TEST_P(MalformedTest, IsSkippedWithItsReasonAndNoPersonalData) {
  MapResult r = Result(GetParam().line);
  EXPECT_EQ(r.outcome, MapOutcome::kSkipped);
  EXPECT_EQ(r.reason, GetParam().reason) << GetParam().line << ": " << r.message;
  EXPECT_FALSE(r.message.empty());
  EXPECT_FALSE(absl::StrContains(r.message, "1632960")) << r.message;
}

INSTANTIATE_TEST_SUITE_P(
    Lines, MalformedTest,
    ::testing::Values(
        BadLine{"", SkipReason::kTooFewFields},
        BadLine{"garbage without pipes", SkipReason::kTooFewFields},
        BadLine{"1664785801|c1|council-tax|NONE", SkipReason::kTooFewFields},
        BadLine{"yesterday|c1|council-tax|NONE|ENTERQUEUE||01632960123|1", SkipReason::kBadTime},
        BadLine{"12|c1|council-tax|NONE|ENTERQUEUE||01632960123|1", SkipReason::kBadTime},
        BadLine{"-1664785801|c1|council-tax|NONE|ABANDON|1|1|3", SkipReason::kBadTime},
        BadLine{"1664785801|c1|council-tax|NONE|HOLIDAY|x", SkipReason::kUnknownEvent},
        // A shifted line puts the number where the event name belongs.
        BadLine{"1664785801|c1|council-tax|01632960123|", SkipReason::kUnknownEvent},
        BadLine{"1664785801|c1|parking|NONE|ENTERQUEUE||01632960123|1", SkipReason::kUnmappedQueue},
        BadLine{"1664785801|c1|01632960123|NONE|ABANDON|1|1|3", SkipReason::kUnmappedQueue},
        BadLine{"1664785801|NONE|council-tax|NONE|ENTERQUEUE||01632960123|1",
                SkipReason::kMissingCallId},
        BadLine{"1664785801||council-tax|NONE|ABANDON|1|1|3", SkipReason::kMissingCallId},
        BadLine{"1664785801|c1|council-tax|NONE|CONNECT|60|x|5", SkipReason::kMissingAgent},
        BadLine{"1664785801|NONE|council-tax|NONE|ADDMEMBER|", SkipReason::kMissingAgent},
        BadLine{"1664785801|c1|council-tax|Local/1@a|CONNECT|sixty|x|5", SkipReason::kBadNumber},
        BadLine{"1664785801|c1|council-tax|NONE|ABANDON|1|1|01632960123", SkipReason::kBadNumber},
        BadLine{"1664785801|c1|council-tax|NONE|ABANDON|1|1|3s", SkipReason::kBadNumber},
        BadLine{"1664785801|c1|council-tax|NONE|ABANDON|1|1|-", SkipReason::kBadNumber},
        BadLine{"1664785801|c1|council-tax|Local/1@a|COMPLETEAGENT|60|999999999|1",
                SkipReason::kBadNumber},
        BadLine{"1664785801|c1|council-tax|NONE|ABANDON|1", SkipReason::kMissingData},
        BadLine{"1664785801|c1|council-tax|Local/1@a|CONNECT", SkipReason::kMissingData},
        BadLine{"1664785801|c1|council-tax|NONE|EXITWITHKEY|", SkipReason::kMissingData},
        BadLine{"1664785801|c1|council-tax|Local/1@a|TRANSFER|2001|ctx", SkipReason::kMissingData}),
    // Stable test names: the case number and the expected reason.
    [](const ::testing::TestParamInfo<BadLine>& info) {
      return absl::StrCat(info.index, "_", std::string(SkipReasonName(info.param.reason)));
    });

TEST(ShowFieldTest, WithholdsWhatCouldBeANumber) {
  EXPECT_EQ(ShowField("HOLIDAY"), "\"HOLIDAY\"");
  EXPECT_EQ(ShowField("1234"), "\"1234\"");
  EXPECT_EQ(ShowField("01632960123"), "(withheld)");
  EXPECT_EQ(ShowField("+44 1632 960123"), "(withheld)");  // "960123": 6 digits in a row
  EXPECT_EQ(ShowField(std::string(41, 'a')), "(withheld)");
}

TEST(CallerHasherTest, MatchesRfc4231Vectors) {
  // Test case 1: key = 20 x 0x0b, data "Hi There".
  auto h1 = CallerHasher::Create(std::string(20, '\x0b'));
  ASSERT_TRUE(h1.ok());
  EXPECT_EQ(h1->HmacHex("Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  // Test case 6: a 131-byte key (longer than the block: hashed first).
  auto h6 = CallerHasher::Create(std::string(131, '\xaa'));
  ASSERT_TRUE(h6.ok());
  EXPECT_EQ(h6->HmacHex("Test Using Larger Than Block-Size Key - Hash Key First"),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(CallerHasherTest, EqualsOpenSslHmacOfTheNormalisedNumber) {
  auto h = CallerHasher::Create(kSecret);
  ASSERT_TRUE(h.ok());
  unsigned char mac[32];
  unsigned int n = 0;
  const std::string number = "01632960123";
  HMAC(EVP_sha256(), kSecret, sizeof kSecret - 1,
       reinterpret_cast<const unsigned char*>(number.data()), number.size(), mac, &n);
  std::string hex;
  for (int i = 0; i < 16; ++i) absl::StrAppend(&hex, absl::Hex(mac[i], absl::kZeroPad2));
  EXPECT_EQ(h->KeyFor("01632 960123"), hex);
  EXPECT_EQ(h->KeyFor("+44 1632 960123"), hex);
  EXPECT_EQ(h->KeyFor("00441632960123"), hex);
  EXPECT_EQ(h->KeyFor("(01632) 960-123"), hex);
  EXPECT_NE(h->KeyFor("01632960124"), hex);
}

TEST(CallerHasherTest, KeyDependsOnTheSecret) {
  auto a = CallerHasher::Create("secret-number-one-xyz");
  auto b = CallerHasher::Create("secret-number-two-xyz");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->KeyFor("01632960123"), b->KeyFor("01632960123"));
  EXPECT_EQ(a->KeyFor("01632960123"), a->KeyFor("01632960123"));
}

TEST(CallerHasherTest, RejectsShortKeysWithoutQuotingThem) {
  auto h = CallerHasher::Create("short-key");
  EXPECT_EQ(h.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(absl::StrContains(h.status().message(), "short-key"));
  auto env = LoadCallerKey(std::nullopt, std::string("tiny-secret"));
  EXPECT_EQ(env.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(absl::StrContains(env.status().message(), "tiny-secret"));
  EXPECT_EQ(LoadCallerKey(std::nullopt, std::nullopt).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(LoadCallerKey(std::string("/nonexistent/key"), std::nullopt).status().code(),
            absl::StatusCode::kNotFound);
  auto ok = LoadCallerKey(std::nullopt, std::string("a-long-enough-secret\n"));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, "a-long-enough-secret");
}

TEST(NormaliseTest, UkAndInternationalForms) {
  EXPECT_EQ(NormaliseCallerNumber("+44 7700 900123"), "07700900123");
  EXPECT_EQ(NormaliseCallerNumber("0044-7700-900123"), "07700900123");
  EXPECT_EQ(NormaliseCallerNumber("+33 1 23 45 67 89"), "+33123456789");
  EXPECT_EQ(NormaliseCallerNumber("0033123456789"), "+33123456789");
  EXPECT_EQ(NormaliseCallerNumber("anonymous"), "");
  EXPECT_EQ(NormaliseCallerNumber("sip:bob@example.org"), "");
  EXPECT_EQ(NormaliseCallerNumber(""), "");
}

TEST(LineMapTest, RoundTripsThroughYaml) {
  auto map = ParseLineMap(kLineMap, "test");
  ASSERT_TRUE(map.ok()) << map.status();
  auto again = ParseLineMap(LineMapToYaml(*map), "again");
  ASSERT_TRUE(again.ok()) << again.status() << "\n" << LineMapToYaml(*map);
  EXPECT_EQ(again->queues, map->queues);
  EXPECT_EQ(again->source, map->source);
  EXPECT_EQ(again->callback_exit_keys, map->callback_exit_keys);
  EXPECT_EQ(again->agent_origins, map->agent_origins);
  EXPECT_EQ(again->default_agent_origin, map->default_agent_origin);
}

TEST(LineMapTest, ErrorsNameTheKeyAndLine) {
  struct Case {
    const char* yaml;
    const char* expect;
  } cases[] = {
      {"queues: {}\n", "at least one queue"},
      {"[1, 2]\n", "expected a mapping"},
      {"queues:\n  a: 'bad line id'\n", "test:2: queues.a: line_id"},
      {"queues:\n  a: x\ncolour: blue\n", "test:3: unknown key \"colour\""},
      {"queues:\n  a: x\ncallback_exit_keys: [\"12\"]\n", "not a DTMF key"},
      {"queues:\n  a: x\ndefault_agent_origin: martian\n", "unknown origin \"martian\""},
      {"queues:\n  a: x\nagent_origins:\n  'L/': robot\n", "agent_origins.L/"},
      {"queues: [\n", "not valid YAML"},
  };
  for (const Case& c : cases) {
    auto map = ParseLineMap(c.yaml, "test");
    ASSERT_FALSE(map.ok()) << c.yaml;
    EXPECT_TRUE(absl::StrContains(map.status().message(), c.expect))
        << c.yaml << " -> " << map.status().message();
  }
}

}  // namespace
}  // namespace tidewatch::queuelog
