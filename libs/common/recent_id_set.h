// A set of recently seen ids that forgets them after a horizon, in O(1)
// per id and without storing the ids themselves.
//
// Used to apply duplicate events once (event ids) and to remember calls
// that recently left the queue (call ids). Each id is kept as a 128-bit
// fingerprint (two 64-bit hashes of the id computed in one pass), so a
// false "seen" needs both halves to collide: about 2^-128 per pair of
// distinct ids. Ids live in two generations that rotate every `horizon` of
// the owner's clock, so an id is remembered for at least `horizon` and at
// most twice that after it was inserted.
//
//   RecentIdSet seen(absl::Hours(1));
//   seen.AdvanceTo(now);
//   if (!seen.Insert(event.event_id())) { /* duplicate */ }
//
// Callers that look the same id up in several places hash it once with
// RecentIdSet::Of and pass the Fingerprint (FingerprintHash keys other
// tables by it).
#ifndef TIDEWATCH_LIBS_COMMON_RECENT_ID_SET_H_
#define TIDEWATCH_LIBS_COMMON_RECENT_ID_SET_H_

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"

namespace tidewatch {

// A 128-bit fingerprint of an id: two 64-bit hashes.
using Fingerprint = std::pair<uint64_t, uint64_t>;

// Hashes a Fingerprint for absl hash tables (its first half is already a
// well-mixed hash).
struct FingerprintHash {
  size_t operator()(const Fingerprint& f) const { return static_cast<size_t>(f.first); }
};

// Recently seen ids, forgotten after one to two horizons.
class RecentIdSet {
 public:
  explicit RecentIdSet(absl::Duration horizon) : horizon_(horizon) {}

  // The fingerprint of an id (deterministic: the same in every process).
  static Fingerprint Of(std::string_view id);

  // Adds `id`; returns false when it was already there.
  bool Insert(std::string_view id) { return Insert(Of(id)); }
  bool Insert(const Fingerprint& fp) {
    if (!previous_.empty() && previous_.contains(fp)) return false;
    return current_.insert(fp).second;
  }
  bool Contains(std::string_view id) const { return Contains(Of(id)); }
  bool Contains(const Fingerprint& fp) const {
    return current_.contains(fp) || (!previous_.empty() && previous_.contains(fp));
  }
  // Moves the clock; rotates generations once a horizon has passed.
  void AdvanceTo(absl::Time now) {
    if (now >= next_rotation_) Rotate(now);
  }
  size_t size() const { return current_.size() + previous_.size(); }
  // The clock reading at or after which AdvanceTo rotates (InfinitePast
  // before the first AdvanceTo), so an owner can skip readings before it.
  absl::Time next_rotation() const { return next_rotation_; }

 private:
  void Rotate(absl::Time now);

  absl::Duration horizon_;
  absl::Time generation_start_ = absl::InfinitePast();
  // generation_start_ + horizon_, kept so that the common case of
  // AdvanceTo is one comparison.
  absl::Time next_rotation_ = absl::InfinitePast();
  // The newest generation fills a table sized for the previous generation's
  // ids; the previous one is only probed.
  absl::flat_hash_set<Fingerprint, FingerprintHash> current_;
  absl::flat_hash_set<Fingerprint, FingerprintHash> previous_;
};

}  // namespace tidewatch

#endif  // TIDEWATCH_LIBS_COMMON_RECENT_ID_SET_H_
