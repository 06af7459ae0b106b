// UTF-8 edge cases for the tests of events/utf8.h and of what relies on it
// (the event decoders, queuelog's Utf8Safe): byte strings at the edges of
// RFC 3629's ranges (overlong forms, surrogates, code points above
// U+10FFFF, stray continuation bytes, sequences cut short), and the binary
// CallEvent that carries one of them as its call_id.
#ifndef TIDEWATCH_TESTS_EVENTS_UTF8_CASES_H_
#define TIDEWATCH_TESTS_EVENTS_UTF8_CASES_H_

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tidewatch/v1/events.pb.h"

namespace tidewatch::events::testing {

// Every string of one byte and of two bytes.
inline std::vector<std::string> AllStringsOfOneAndTwoBytes() {
  std::vector<std::string> out;
  for (int a = 0; a < 256; ++a) {
    out.push_back(std::string(1, static_cast<char>(a)));
    for (int b = 0; b < 256; ++b) out.push_back({static_cast<char>(a), static_cast<char>(b)});
  }
  return out;
}

// Sequences of a lead, a second and a third byte drawn from the sets given
// (the edges of the ranges each test cares about): each lead and second
// alone (cut short where the lead wants more), and with each third: the
// three; the three and the third again (a whole four-byte form where they
// fit one); and the three after ASCII followed by a continuation byte
// (0x80), at the end of the string and before more ASCII.
inline std::vector<std::string> LeadSecondThirdSequences(std::span<const unsigned char> leads,
                                                         std::span<const unsigned char> seconds,
                                                         std::span<const unsigned char> thirds) {
  std::vector<std::string> out;
  for (const unsigned char lead : leads) {
    for (const unsigned char second : seconds) {
      const char l = static_cast<char>(lead), m = static_cast<char>(second);
      out.push_back({l, m});
      for (const unsigned char third : thirds) {
        const char r = static_cast<char>(third);
        out.push_back({l, m, r});
        out.push_back({l, m, r, r});
        out.push_back({'x', l, m, r, static_cast<char>(0x80)});
        out.push_back({'x', l, m, r, static_cast<char>(0x80), 'y'});
      }
    }
  }
  return out;
}

// The binary encoding of a queued CallEvent ("e1" on revenues) whose
// call_id (field 3) is `call_id`, byte for byte: what a decoder gets from a
// producer that does not check its strings. `call_id` is shorter than 128
// bytes (its length is one byte).
inline std::string EventWithCallId(std::string_view call_id) {
  static const std::string head = [] {
    tidewatch::v1::CallEvent base;
    base.set_event_id("e1");
    base.set_line_id("revenues");
    base.mutable_event_time()->set_seconds(1664785801);
    base.mutable_queued();
    return base.SerializeAsString();  // no call_id
  }();
  std::string bytes = head;
  bytes.push_back(0x1A);  // field 3, length-delimited
  bytes.push_back(static_cast<char>(call_id.size()));
  bytes.append(call_id);
  return bytes;
}

}  // namespace tidewatch::events::testing

#endif  // TIDEWATCH_TESTS_EVENTS_UTF8_CASES_H_
