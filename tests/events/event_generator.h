// Seeded random CallEvents for the events tests and benchmark.
//
//   EventGenerator gen(/*seed=*/42);
//   tidewatch::v1::CallEvent e = gen.Valid();  // passes ValidateEvent
//   tidewatch::v1::CallEvent a = gen.Any();    // anything protobuf can print
//
// Valid() draws realistic events (ids, times in range, plausible waits);
// Any() also draws strings full of characters that need escaping (quotes,
// control characters, U+2028, astral code points), timestamps over years
// 1..9999, durations over protobuf's whole range, unknown enum numbers and
// missing fields. Deterministic for a given seed (std::mt19937_64 and
// hand-rolled distributions, so results do not depend on the library's
// distribution implementations).
#ifndef TIDEWATCH_TESTS_EVENTS_EVENT_GENERATOR_H_
#define TIDEWATCH_TESTS_EVENTS_EVENT_GENERATOR_H_

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

#include "tidewatch/v1/events.pb.h"

namespace tidewatch::events::testing {

// Draws random CallEvents; see the file comment.
class EventGenerator {
 public:
  explicit EventGenerator(uint64_t seed) : rng_(seed) {}

  // An event that passes ValidateEvent.
  v1::CallEvent Valid() { return Make(/*valid=*/true); }
  // An event protobuf's JSON printer accepts (valid UTF-8, timestamps in
  // years 1..9999, well-formed durations); it may fail ValidateEvent.
  v1::CallEvent Any() { return Make(/*valid=*/false); }

  // Uniform in [lo, hi].
  int64_t Uniform(int64_t lo, int64_t hi) {
    const uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo) + 1;
    return span == 0 ? static_cast<int64_t>(rng_()) : lo + static_cast<int64_t>(rng_() % span);
  }
  bool OneIn(int n) { return Uniform(0, n - 1) == 0; }

  // An arbitrary valid-UTF-8 string, often with characters JSON must escape.
  std::string AnyString(int max_chars) {
    static constexpr std::string_view kPieces[] = {
        "a",
        "Z",
        "0",
        "-",
        "_",
        ".",
        " ",
        "\"",
        "\\",
        "/",
        "<",
        ">",
        "&",
        "'",
        "\b",
        "\f",
        "\n",
        "\r",
        "\t",
        std::string_view("\0", 1),
        "\x01",
        "\x1f",
        "\x7f",
        "\xc2\x80",          // U+0080
        "\xc2\x9f",          // U+009F
        "\xc2\xa0",          // U+00A0
        "\xc2\xad",          // U+00AD soft hyphen
        "\xc3\xa9",          // é
        "\xd8\x80",          // U+0600
        "\xe2\x80\x8b",      // U+200B
        "\xe2\x80\xa8",      // U+2028
        "\xe2\x80\xaf",      // U+202F
        "\xe2\x82\xac",      // €
        "\xef\xbb\xbf",      // U+FEFF
        "\xef\xbf\xbd",      // U+FFFD
        "\xef\xbf\xbf",      // U+FFFF
        "\xf0\x9d\x85\xb3",  // U+1D173
        "\xf0\x9f\x98\x80",  // 😀
        "\xf3\xa0\x80\x81",  // U+E0001
        "\xf4\x8f\xbf\xbf",  // U+10FFFF
    };
    std::string s;
    const int n = static_cast<int>(Uniform(0, max_chars));
    for (int i = 0; i < n; ++i) {
      if (OneIn(2)) {
        s += static_cast<char>(Uniform('a', 'z'));
      } else {
        s += kPieces[Uniform(0, std::size(kPieces) - 1)];
      }
    }
    return s;
  }

  // [A-Za-z0-9._-]{min,max}
  std::string IdString(int min_chars, int max_chars) {
    static constexpr std::string_view kChars =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
    std::string s;
    const int n = static_cast<int>(Uniform(min_chars, max_chars));
    for (int i = 0; i < n; ++i) s += kChars[Uniform(0, kChars.size() - 1)];
    return s;
  }

  // Nanos with the precisions protobuf prints differently (0, ms, us, ns).
  int32_t Nanos() {
    switch (Uniform(0, 3)) {
      case 0:
        return 0;
      case 1:
        return static_cast<int32_t>(Uniform(0, 999) * 1000000);
      case 2:
        return static_cast<int32_t>(Uniform(0, 999999) * 1000);
      default:
        return static_cast<int32_t>(Uniform(0, 999999999));
    }
  }

  void SetDuration(google::protobuf::Duration* d, bool valid) {
    int64_t s;
    if (valid || OneIn(2)) {
      s = OneIn(4) ? 0 : Uniform(0, OneIn(3) ? 7 * 86400 - 1 : 600);
    } else {
      s = Uniform(-315576000000, 315576000000);
    }
    int32_t n = Nanos();
    if (s < 0 || (s == 0 && !valid && OneIn(4))) n = -n;
    d->set_seconds(s);
    d->set_nanos(n);
  }

 private:
  int32_t AnyInt32() {
    switch (Uniform(0, 3)) {
      case 0:
        return 0;
      case 1:
        return static_cast<int32_t>(Uniform(-5, 10));
      case 2:
        return OneIn(2) ? INT32_MIN : INT32_MAX;
      default:
        return static_cast<int32_t>(Uniform(INT32_MIN, INT32_MAX));
    }
  }

  // An enum value: mostly a named one, sometimes (when !valid) unknown.
  int EnumValue(int max, bool valid, bool allow_zero) {
    if (!valid && OneIn(8)) return OneIn(2) ? max + 1 + static_cast<int>(Uniform(0, 100)) : -1;
    return static_cast<int>(Uniform(allow_zero ? 0 : 1, max));
  }

  std::string Text(bool valid, int min_chars, int max_chars) {
    return valid ? IdString(min_chars, max_chars) : AnyString(max_chars);
  }

  v1::CallEvent Make(bool valid) {
    v1::CallEvent e;
    if (valid || !OneIn(10)) e.set_event_id(Text(valid, 1, 24));
    if (valid) {
      static constexpr std::string_view kLines[] = {"revenues", "benefits", "it-help",
                                                    "housing.repairs", "council_tax"};
      e.set_line_id(OneIn(4) ? IdString(1, 40) : std::string(kLines[Uniform(0, 4)]));
    } else if (!OneIn(10)) {
      e.set_line_id(AnyString(12));
    }
    if (valid || !OneIn(10)) e.set_call_id(Text(valid, 1, 24));
    if (valid || !OneIn(10)) {
      auto* t = e.mutable_event_time();
      t->set_seconds(valid ? Uniform(946684800, 4102444799) : Uniform(-62135596800, 253402300799));
      t->set_nanos(Nanos());
    }
    if (OneIn(2)) e.set_source(valid ? "tide-sim" : AnyString(8));
    const int kind = static_cast<int>(Uniform(valid ? 1 : 0, 7));
    switch (kind) {
      case 1: {
        auto* m = e.mutable_queued();
        if (!OneIn(4)) m->set_caller_key(Text(valid, 1, 16));
        if (OneIn(3)) m->set_priority(AnyInt32());
        break;
      }
      case 2: {
        auto* m = e.mutable_answered();
        if (!OneIn(4)) m->set_agent_id(Text(valid, 1, 12));
        if (!OneIn(4)) SetDuration(m->mutable_wait(), valid);
        break;
      }
      case 3: {
        auto* m = e.mutable_abandoned();
        if (!OneIn(4)) SetDuration(m->mutable_wait(), valid);
        break;
      }
      case 4:
        e.mutable_callback_requested();
        break;
      case 5:
        e.mutable_left_queue()->set_reason(
            static_cast<v1::LeftQueueReason>(EnumValue(5, valid, true)));
        break;
      case 6: {
        auto* m = e.mutable_completed();
        if (!OneIn(4)) m->set_agent_id(Text(valid, 1, 12));
        if (!OneIn(4)) SetDuration(m->mutable_talk(), valid);
        if (!OneIn(4)) SetDuration(m->mutable_wrap(), valid);
        if (OneIn(2)) m->set_resolved_first_time(OneIn(2));
        break;
      }
      case 7: {
        auto* m = e.mutable_agent_state();
        if (valid || !OneIn(4)) m->set_agent_id(Text(valid, 1, 12));
        m->set_state(static_cast<v1::AgentStatus>(EnumValue(5, valid, !valid)));
        m->set_origin(static_cast<v1::AgentOrigin>(EnumValue(4, valid, true)));
        if (valid && OneIn(2)) e.clear_call_id();
        break;
      }
      default:
        break;  // no kind
    }
    return e;
  }

  std::mt19937_64 rng_;
};

}  // namespace tidewatch::events::testing

#endif  // TIDEWATCH_TESTS_EVENTS_EVENT_GENERATOR_H_
