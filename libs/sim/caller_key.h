// Keyed hashing of (synthetic) caller numbers into caller keys.
//
// tidewatch never sees a phone number: adapters send `caller_key`, a keyed
// hash of the number, so repeat callers can be recognised without keeping
// personal data. The simulator does the same with synthetic numbers, so its
// output has the shape a real adapter's has.
//
//   CallerKeyer keyer(/*key0=*/k0, /*key1=*/k1);
//   std::string key = keyer.KeyFor("+447700900123");  // 16 lower-case hex
//
// The hash is SipHash-2-4 (a keyed PRF): without the key a caller key cannot
// be turned back into a number by trying all numbers.
#ifndef TIDEWATCH_LIBS_SIM_CALLER_KEY_H_
#define TIDEWATCH_LIBS_SIM_CALLER_KEY_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace tidewatch::sim {

// SipHash-2-4 of `data` under the 128-bit key (k0, k1).
uint64_t SipHash24(uint64_t k0, uint64_t k1, std::string_view data);

// Turns caller numbers into caller keys under one secret key.
class CallerKeyer {
 public:
  CallerKeyer(uint64_t k0, uint64_t k1) : k0_(k0), k1_(k1) {}

  // 16 lower-case hex digits of SipHash-2-4(number).
  std::string KeyFor(std::string_view number) const;

 private:
  uint64_t k0_;
  uint64_t k1_;
};

// The synthetic UK mobile number of the `index`-th distinct simulated
// caller, e.g. "+447700900123". Distinct indexes (below 10^9) give distinct
// numbers.
std::string SyntheticCallerNumber(uint64_t index);

}  // namespace tidewatch::sim

#endif  // TIDEWATCH_LIBS_SIM_CALLER_KEY_H_
