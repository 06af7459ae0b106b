#include "common/recent_id_set.h"

#include <cstring>

namespace tidewatch {
namespace {

// The 64x64 -> 128-bit product folded to 64 bits (wyhash's mixer).
inline uint64_t Mix(uint64_t a, uint64_t b) {
  const unsigned __int128 r = static_cast<unsigned __int128>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

// `v` as loaded from little-endian bytes (the byte order the tail uses).
inline uint64_t LittleEndian(uint64_t v) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  return __builtin_bswap64(v);
#else
  return v;
#endif
}

constexpr uint64_t kSeedA = 0xa0761d6478bd642full;
constexpr uint64_t kSeedB = 0xe7037ed1a0b428dbull;
constexpr uint64_t kMulA = 0x8ebc6af09c88c6e3ull;
constexpr uint64_t kMulB = 0x589965cc75374cc3ull;
constexpr uint64_t kFinal = 0x1d8e4e27c47d124full;

}  // namespace

Fingerprint RecentIdSet::Of(std::string_view id) {
  // Two lanes over the same 8-byte words, combined differently (xor vs add,
  // different multipliers and seeds), so the halves collide independently.
  const size_t n = id.size();
  uint64_t a = kSeedA ^ n;
  uint64_t b = kSeedB + n * kFinal;
  const char* p = id.data();
  size_t left = n;
  while (left >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    a = Mix(a ^ w, kMulA);
    b = Mix(b + w, kMulB);
    p += 8;
    left -= 8;
  }
  if (left > 0) {
    // The last 1-7 bytes as a little-endian number.
    uint64_t w = 0;
    if (n >= 8) {
      // One load of the id's last 8 bytes, shifted down past the bytes the
      // loop above already mixed in.
      uint64_t last;
      std::memcpy(&last, p + left - 8, 8);
      w = LittleEndian(last) >> (8 * (8 - left));
    } else {
      for (size_t i = 0; i < left; ++i) {
        w |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
      }
    }
    a = Mix(a ^ w, kMulA);
    b = Mix(b + w, kMulB);
  }
  return {Mix(a ^ (a >> 31), kFinal), Mix(b ^ (b >> 29), kMulA ^ kSeedB)};
}

}  // namespace tidewatch
