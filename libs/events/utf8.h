// Well-formed UTF-8: the one definition every codec and adapter uses.
//
// A byte string is well-formed UTF-8 when it is a sequence of the byte
// patterns of RFC 3629 section 4 (the Unicode Standard's table 3-7):
//
//   00..7F
//   C2..DF 80..BF
//   E0     A0..BF 80..BF      (E0 80..9F: overlong)
//   E1..EC 80..BF 80..BF
//   ED     80..9F 80..BF      (ED A0..BF: UTF-16 surrogates)
//   EE..EF 80..BF 80..BF
//   F0     90..BF 80..BF 80..BF  (F0 80..8F: overlong)
//   F1..F3 80..BF 80..BF 80..BF
//   F4     80..8F 80..BF 80..BF  (F4 90..: above U+10FFFF)
//
// so C0, C1 and F5..FF never appear, nor a continuation byte on its own,
// nor a sequence cut short. This is what protobuf requires of proto3
// string fields: a string that passes IsValidUtf8 is accepted by the event
// decoders (event_view.h, the JSON codec, protobuf's own parser), and one
// that fails is refused by all of them. An adapter that escapes every byte
// Utf8SequenceLength rejects (queuelog's Utf8Safe) therefore only ever
// writes strings the decoders accept.
//
//   if (!events::IsValidUtf8(field)) return Reject(...);
//
//   // Sequence by sequence (e.g. to escape or replace the invalid bytes):
//   while (p < end) {
//     const int n = events::Utf8SequenceLength(p, end);
//     if (n == 0) { ...the byte *p is not part of well-formed UTF-8...; ++p; }
//     else { ...p[0..n) is one character...; p += n; }
//   }
//
//   // Only the invalid tail needs work:
//   const size_t ok = events::ValidUtf8Prefix(text);  // text[0, ok) is valid
//
// Everything here is inline: the binary event decoder checks every string
// it decodes.
#ifndef TIDEWATCH_LIBS_EVENTS_UTF8_H_
#define TIDEWATCH_LIBS_EVENTS_UTF8_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace tidewatch::events {

// The length (1 to 4) of the well-formed UTF-8 sequence starting at `p`, or
// 0 when the byte at `p` does not start one (see the file comment). Reads
// no byte at or after `end`; requires p < end.
inline int Utf8SequenceLength(const unsigned char* p, const unsigned char* end) {
  const unsigned char c = p[0];
  if (c < 0x80) return 1;
  const ptrdiff_t avail = end - p;
  // Byte i is a continuation byte within [lo, hi].
  const auto cont = [&](ptrdiff_t i, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return avail > i && p[i] >= lo && p[i] <= hi;
  };
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    const unsigned char lo = c == 0xE0 ? 0xA0 : 0x80;  // not overlong
    const unsigned char hi = c == 0xED ? 0x9F : 0xBF;  // not a surrogate
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    const unsigned char lo = c == 0xF0 ? 0x90 : 0x80;  // not overlong
    const unsigned char hi = c == 0xF4 ? 0x8F : 0xBF;  // not above U+10FFFF
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

// Whether all of `s` is well-formed UTF-8 (see the file comment).
inline bool IsValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const unsigned char* const end = p + s.size();
  while (p < end) {
    // Eight ASCII bytes at a time.
    if (end - p >= 8) {
      uint64_t w;
      std::memcpy(&w, p, 8);
      if ((w & 0x8080808080808080ull) == 0) {
        p += 8;
        continue;
      }
    }
    if (*p < 0x80) {
      ++p;
      continue;
    }
    const int n = Utf8SequenceLength(p, end);
    if (n == 0) return false;
    p += n;
  }
  return true;
}

// The length of the longest prefix of `s` that is well-formed UTF-8 made of
// whole sequences: s.size() when all of `s` is (IsValidUtf8), else the
// offset of the first byte that does not start a well-formed sequence.
inline size_t ValidUtf8Prefix(std::string_view s) {
  const auto* const begin = reinterpret_cast<const unsigned char*>(s.data());
  const unsigned char* const end = begin + s.size();
  const unsigned char* p = begin;
  while (p < end) {
    // Eight ASCII bytes at a time.
    if (end - p >= 8) {
      uint64_t w;
      std::memcpy(&w, p, 8);
      if ((w & 0x8080808080808080ull) == 0) {
        p += 8;
        continue;
      }
    }
    const int n = Utf8SequenceLength(p, end);
    if (n == 0) break;
    p += n;
  }
  return static_cast<size_t>(p - begin);
}

}  // namespace tidewatch::events

#endif  // TIDEWATCH_LIBS_EVENTS_UTF8_H_
