#include "queuelog/caller_hasher.h"

#include <openssl/evp.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"

namespace tidewatch::queuelog {
namespace {

constexpr size_t kBlock = 64;  // SHA-256 block size
constexpr char kHex[] = "0123456789abcdef";

void AppendHex(const unsigned char* data, size_t n, std::string& out) {
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kHex[data[i] >> 4]);
    out.push_back(kHex[data[i] & 15]);
  }
}

}  // namespace

std::string NormaliseCallerNumber(std::string_view raw) {
  std::string digits;
  digits.reserve(raw.size());
  bool plus = false;
  for (char c : raw) {
    if (c >= '0' && c <= '9') {
      digits.push_back(c);
    } else if (c == '+' && digits.empty() && !plus) {
      plus = true;
    } else if (c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '\t') {
      continue;
    } else {
      return "";  // "anonymous", "unknown", "<unknown>", SIP URIs ...
    }
  }
  if (digits.empty()) return "";
  if (plus) {
    if (digits.rfind("44", 0) == 0) return absl::StrCat("0", digits.substr(2));
    return absl::StrCat("+", digits);
  }
  if (digits.rfind("0044", 0) == 0) return absl::StrCat("0", digits.substr(4));
  if (digits.rfind("00", 0) == 0) return absl::StrCat("+", digits.substr(2));
  return digits;
}

// Inner and outer SHA-256 states after absorbing key^ipad / key^opad, so
// each HMAC is two context copies and three digest calls.
struct CallerHasher::State {
  EVP_MD_CTX* inner = nullptr;
  EVP_MD_CTX* outer = nullptr;
  EVP_MD_CTX* work = nullptr;
  ~State() {
    EVP_MD_CTX_free(inner);
    EVP_MD_CTX_free(outer);
    EVP_MD_CTX_free(work);
  }
};

absl::StatusOr<CallerHasher> CallerHasher::Create(std::string_view secret) {
  if (secret.size() < kMinCallerKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat("caller key is ", secret.size(),
                                                   " bytes long; at least ", kMinCallerKeyBytes,
                                                   " are needed"));
  }
  auto state = std::make_unique<State>();
  state->inner = EVP_MD_CTX_new();
  state->outer = EVP_MD_CTX_new();
  state->work = EVP_MD_CTX_new();
  unsigned char key[kBlock] = {};
  if (secret.size() > kBlock) {
    unsigned int n = 0;
    if (EVP_Digest(secret.data(), secret.size(), key, &n, EVP_sha256(), nullptr) != 1) {
      return absl::InternalError("SHA-256 of the caller key failed");
    }
  } else {
    std::memcpy(key, secret.data(), secret.size());
  }
  unsigned char ipad[kBlock], opad[kBlock];
  for (size_t i = 0; i < kBlock; ++i) {
    ipad[i] = key[i] ^ 0x36;
    opad[i] = key[i] ^ 0x5c;
  }
  const bool ok = state->inner && state->outer && state->work &&
                  EVP_DigestInit_ex(state->inner, EVP_sha256(), nullptr) == 1 &&
                  EVP_DigestUpdate(state->inner, ipad, kBlock) == 1 &&
                  EVP_DigestInit_ex(state->outer, EVP_sha256(), nullptr) == 1 &&
                  EVP_DigestUpdate(state->outer, opad, kBlock) == 1;
  std::memset(key, 0, sizeof key);
  std::memset(ipad, 0, sizeof ipad);
  std::memset(opad, 0, sizeof opad);
  if (!ok) return absl::InternalError("cannot set up HMAC-SHA256 (OpenSSL)");
  return CallerHasher(std::move(state));
}

CallerHasher::CallerHasher(std::unique_ptr<State> state) : state_(std::move(state)) {}
CallerHasher::CallerHasher(CallerHasher&&) noexcept = default;
CallerHasher& CallerHasher::operator=(CallerHasher&&) noexcept = default;
CallerHasher::~CallerHasher() = default;

std::string CallerHasher::HmacHex(std::string_view data) const {
  unsigned char inner[EVP_MAX_MD_SIZE], mac[EVP_MAX_MD_SIZE];
  unsigned int n = 0, m = 0;
  EVP_MD_CTX* w = state_->work;
  if (EVP_MD_CTX_copy_ex(w, state_->inner) != 1 ||
      EVP_DigestUpdate(w, data.data(), data.size()) != 1 || EVP_DigestFinal_ex(w, inner, &n) != 1 ||
      EVP_MD_CTX_copy_ex(w, state_->outer) != 1 || EVP_DigestUpdate(w, inner, n) != 1 ||
      EVP_DigestFinal_ex(w, mac, &m) != 1) {
    return "";
  }
  std::string out;
  out.reserve(2 * m);
  AppendHex(mac, m, out);
  return out;
}

std::string CallerHasher::KeyFor(std::string_view raw) const {
  const std::string number = NormaliseCallerNumber(raw);
  if (number.empty()) return "";
  std::string hex = HmacHex(number);
  // "" if OpenSSL failed: no key (as for a withheld number) rather than the
  // same 32 NUL bytes for every caller.
  if (hex.size() < 32) return "";
  hex.resize(32);
  return hex;
}

absl::StatusOr<std::string> LoadCallerKey(const std::optional<std::string>& key_file,
                                          const std::optional<std::string>& env_value) {
  std::string secret;
  std::string source;
  if (key_file) {
    std::ifstream in(*key_file, std::ios::binary);
    if (!in) {
      return absl::NotFoundError(
          absl::StrCat("cannot read caller key file ", *key_file, ": ", std::strerror(errno)));
    }
    std::stringstream ss;
    ss << in.rdbuf();
    secret = ss.str();
    source = absl::StrCat("caller key file ", *key_file);
  } else if (env_value) {
    secret = *env_value;
    source = "caller key environment variable";
  } else {
    return absl::NotFoundError("no caller key: give a key file or set the environment variable");
  }
  while (!secret.empty() &&
         (secret.back() == '\n' || secret.back() == '\r' || secret.back() == ' ')) {
    secret.pop_back();
  }
  if (secret.size() < kMinCallerKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, " holds ", secret.size(), " bytes; at least ", kMinCallerKeyBytes, " are needed"));
  }
  return secret;
}

}  // namespace tidewatch::queuelog
