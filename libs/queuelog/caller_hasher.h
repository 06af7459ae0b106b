// Caller privacy: turns a caller's telephone number into a keyed hash.
//
// Adapters never publish a caller's number. They publish Queued.caller_key,
// HMAC-SHA256 (OpenSSL) of the normalised number under a secret key that
// only the adapter holds, so repeat callers can be recognised without
// keeping personal data, and nobody without the key can test a guessed
// number against a caller key.
//
//   ASSIGN_OR_RETURN(std::string secret, LoadCallerKey(file, env_value));
//   ASSIGN_OR_RETURN(CallerHasher hasher, CallerHasher::Create(secret));
//   std::string key = hasher.KeyFor("+44 1632 960123");  // 32 lower-case hex
//
// Numbers are normalised first (NormaliseCallerNumber), so "01632 960123",
// "+441632960123" and "00441632960123" give the same key. Withheld or
// empty caller ids ("", "anonymous", "unknown", ...) give an empty key.
// The key material is never logged or printed; error messages about a key
// name its source, never its content.
#ifndef TIDEWATCH_LIBS_QUEUELOG_CALLER_HASHER_H_
#define TIDEWATCH_LIBS_QUEUELOG_CALLER_HASHER_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace tidewatch::queuelog {

// Shortest accepted secret key, in bytes.
inline constexpr size_t kMinCallerKeyBytes = 16;

// The digits of a UK-style number in national form: spaces, dashes, dots
// and brackets removed, "+44" / "0044" replaced by "0". Other international
// numbers keep their digits with a leading "+". Returns "" for a withheld
// or non-numeric caller id (no digits, or letters in it).
std::string NormaliseCallerNumber(std::string_view raw);

// HMAC-SHA256 of normalised caller numbers under one secret key. Movable,
// not copyable; KeyFor is const but not thread-safe (it reuses contexts).
class CallerHasher {
 public:
  // Fails with InvalidArgument if the secret is shorter than
  // kMinCallerKeyBytes.
  static absl::StatusOr<CallerHasher> Create(std::string_view secret);

  CallerHasher(CallerHasher&&) noexcept;
  CallerHasher& operator=(CallerHasher&&) noexcept;
  ~CallerHasher();

  // The caller key for a raw caller id: the first 16 bytes of
  // HMAC-SHA256(secret, NormaliseCallerNumber(raw)) as 32 lower-case hex
  // digits; "" when the number is withheld (or, should OpenSSL ever fail,
  // when the HMAC cannot be computed: an unrecognised caller, never a key
  // shared by all).
  std::string KeyFor(std::string_view raw) const;

  // Full HMAC-SHA256 of `data` (no normalisation), 64 hex digits ("" if
  // OpenSSL fails). For tests against published vectors.
  std::string HmacHex(std::string_view data) const;

 private:
  struct State;
  explicit CallerHasher(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// Reads the secret key: from `key_file` when set (trailing newline and
// spaces dropped), else `env_value` (the value of the environment variable
// the main read). NotFound when neither is given; errors never quote the key.
absl::StatusOr<std::string> LoadCallerKey(const std::optional<std::string>& key_file,
                                          const std::optional<std::string>& env_value);

}  // namespace tidewatch::queuelog

#endif  // TIDEWATCH_LIBS_QUEUELOG_CALLER_HASHER_H_
