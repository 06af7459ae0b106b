// A set of recently seen ids that forgets them after a horizon, in O(1)
// per id and without storing the ids themselves.
//
// Used to apply duplicate events once (event ids) and to remember calls
// that recently left the queue (call ids). Each id is kept as a 127-bit
// fingerprint (two 64-bit hashes of the id computed in one pass, one bit
// of the second taken for the generation tag), so a false "seen" needs both
// halves to collide: about 2^-127 per pair of distinct ids. Ids live in two
// generations that rotate every `horizon` of the owner's clock, so an id is
// remembered for at least `horizon` and at most twice that after it was
// inserted. Both generations share one hash table (an id costs one probe);
// a rotation sweeps out the expired generation.
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
    if (!ids_.insert(Tagged(fp)).second) return false;
    ++count_[tag_];
    return true;
  }
  bool Contains(std::string_view id) const { return Contains(Of(id)); }
  bool Contains(const Fingerprint& fp) const { return ids_.contains(Tagged(fp)); }
  // Moves the clock; rotates generations once a horizon has passed.
  void AdvanceTo(absl::Time now) {
    if (now >= next_rotation_) Rotate(now);
  }
  size_t size() const { return ids_.size(); }
  // The clock reading at or after which AdvanceTo rotates (InfinitePast
  // before the first AdvanceTo), so an owner can skip readings before it.
  absl::Time next_rotation() const { return next_rotation_; }

 private:
  // Equal when both halves match, ignoring the generation tag (the lowest
  // bit of the second half).
  struct UntaggedEq {
    bool operator()(const Fingerprint& a, const Fingerprint& b) const {
      return a.first == b.first && ((a.second ^ b.second) >> 1) == 0;
    }
  };

  Fingerprint Tagged(const Fingerprint& fp) const {
    return {fp.first, (fp.second & ~uint64_t{1}) | tag_};
  }
  void Rotate(absl::Time now);

  absl::Duration horizon_;
  absl::Time generation_start_ = absl::InfinitePast();
  // generation_start_ + horizon_, kept so that the common case of
  // AdvanceTo is one comparison.
  absl::Time next_rotation_ = absl::InfinitePast();
  uint64_t tag_ = 0;          // the current generation's tag; the previous one's is tag_ ^ 1
  size_t count_[2] = {0, 0};  // ids per tag
  absl::flat_hash_set<Fingerprint, FingerprintHash, UntaggedEq> ids_;
};

}  // namespace tidewatch

#endif  // TIDEWATCH_LIBS_COMMON_RECENT_ID_SET_H_
