// A set of recently seen ids that forgets them after a horizon, in O(1)
// per id and without storing the ids themselves.
//
// Used to apply duplicate events once (event ids) and to remember calls
// that recently left the queue (call ids). Each id is kept as a 128-bit
// fingerprint (two independent 64-bit hashes, so a false "seen" needs both
// to collide: about 2^-128 per pair). Ids live in two generations that
// rotate every `horizon` of the owner's clock, so an id is remembered for
// at least `horizon` and at most twice that after it was inserted.
//
//   RecentIdSet seen(absl::Hours(1));
//   seen.AdvanceTo(now);
//   if (!seen.Insert(event.event_id())) { /* duplicate */ }
#ifndef TIDEWATCH_LIBS_COMMON_RECENT_ID_SET_H_
#define TIDEWATCH_LIBS_COMMON_RECENT_ID_SET_H_

#include <cstdint>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"

namespace tidewatch {

// Recently seen ids, forgotten after one to two horizons.
class RecentIdSet {
 public:
  explicit RecentIdSet(absl::Duration horizon) : horizon_(horizon) {}

  // Adds `id`; returns false when it was already there.
  bool Insert(std::string_view id);
  bool Contains(std::string_view id) const;
  // Moves the clock; rotates generations once a horizon has passed.
  void AdvanceTo(absl::Time now);
  size_t size() const { return current_.size() + previous_.size(); }

 private:
  using Fingerprint = std::pair<uint64_t, uint64_t>;
  static Fingerprint Fingerprint128(std::string_view id);

  absl::Duration horizon_;
  absl::Time generation_start_ = absl::InfinitePast();
  // generation_start_ + horizon_, kept so that the common case of
  // AdvanceTo is one comparison.
  absl::Time next_rotation_ = absl::InfinitePast();
  absl::flat_hash_set<Fingerprint> current_;
  absl::flat_hash_set<Fingerprint> previous_;
};

}  // namespace tidewatch

#endif  // TIDEWATCH_LIBS_COMMON_RECENT_ID_SET_H_
