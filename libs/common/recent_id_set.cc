#include "common/recent_id_set.h"

#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"

namespace tidewatch {

RecentIdSet::Fingerprint RecentIdSet::Fingerprint128(std::string_view id) {
  // FNV-1a 64 for the second half: independent of absl::Hash.
  uint64_t fnv = 14695981039346656037ull;
  for (unsigned char c : id) {
    fnv ^= c;
    fnv *= 1099511628211ull;
  }
  return {absl::HashOf(absl::string_view(id.data(), id.size())), fnv};
}

bool RecentIdSet::Insert(std::string_view id) {
  const Fingerprint fp = Fingerprint128(id);
  if (previous_.contains(fp)) return false;
  return current_.insert(fp).second;
}

bool RecentIdSet::Contains(std::string_view id) const {
  const Fingerprint fp = Fingerprint128(id);
  return current_.contains(fp) || previous_.contains(fp);
}

void RecentIdSet::AdvanceTo(absl::Time now) {
  if (now < next_rotation_) return;
  if (generation_start_ == absl::InfinitePast()) {
    generation_start_ = now;
    next_rotation_ = now + horizon_;
    return;
  }
  previous_ = std::move(current_);
  current_ = {};
  // Two horizons without a call: the previous generation is stale too.
  if (now - generation_start_ >= 2 * horizon_) previous_.clear();
  generation_start_ = now;
  next_rotation_ = now + horizon_;
}

}  // namespace tidewatch
