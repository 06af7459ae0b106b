// A set of recently seen ids (and a map, RecentIdMap, with a value each)
// that forgets them after a horizon, in O(1) per id and without storing the
// ids themselves.
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

#include "absl/container/flat_hash_map.h"
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

namespace internal {

// Rotates two generations of a table: the current one becomes the previous
// (the older one is dropped); a gap of two horizons drops both. The first
// call only starts the clock.
template <typename Table>
void RotateGenerations(absl::Time now, absl::Duration horizon, absl::Time& generation_start,
                       absl::Time& next_rotation, Table& current, Table& previous) {
  if (generation_start == absl::InfinitePast()) {
    generation_start = now;
    next_rotation = now + horizon;
    return;
  }
  // The new generation will likely see as many ids as the last one did:
  // sizing its table for them up front saves regrowing it step by step.
  const size_t last_size = current.size();
  previous = std::move(current);
  current = {};
  current.reserve(last_size);
  // Two horizons without a call: the previous generation is stale too.
  if (now - generation_start >= 2 * horizon) previous.clear();
  generation_start = now;
  next_rotation = now + horizon;
}

}  // namespace internal

// Recently seen ids, forgotten after one to two horizons.
class RecentIdSet {
 public:
  explicit RecentIdSet(absl::Duration horizon) : horizon_(horizon) {}

  // The fingerprint of an id (deterministic: the same in every process).
  static Fingerprint Of(std::string_view id);
  // The version of Of()'s function, saved with fingerprints that outlive
  // the process (LineTideState.waiting): change it whenever Of() changes,
  // so that fingerprints saved by another function are not matched.
  static constexpr int kFingerprintVersion = 1;

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
  // Puts `fp` in the newest generation whether or not it is known: for an
  // id inserted before the owner caught its clock up to the id's own time
  // (rotations since then would forget it too soon).
  void Keep(const Fingerprint& fp) { current_.insert(fp); }
  // Moves the clock; rotates generations once a horizon has passed.
  void AdvanceTo(absl::Time now) {
    if (now >= next_rotation_) Rotate(now);
  }
  size_t size() const { return current_.size() + previous_.size(); }
  // The clock reading at or after which AdvanceTo rotates (InfinitePast
  // before the first AdvanceTo), so an owner can skip readings before it.
  absl::Time next_rotation() const { return next_rotation_; }

 private:
  void Rotate(absl::Time now) {
    internal::RotateGenerations(now, horizon_, generation_start_, next_rotation_, current_,
                                previous_);
  }

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

// Recently seen ids with a value each (the newest one put), forgotten as
// RecentIdSet's ids are. Keys are fingerprints (RecentIdSet::Of).
//
//   RecentIdMap<absl::Time> closed_at(absl::Hours(1));
//   closed_at.AdvanceTo(now);
//   closed_at.Put(RecentIdSet::Of(call_id), now);
//   if (const absl::Time* at = closed_at.Find(fp)) { ... }
template <typename Value>
class RecentIdMap {
 public:
  explicit RecentIdMap(absl::Duration horizon) : horizon_(horizon) {}

  // Sets `fp`'s value (it is remembered from now on, as if inserted anew).
  void Put(const Fingerprint& fp, const Value& value) {
    if (!previous_.empty()) previous_.erase(fp);
    current_.insert_or_assign(fp, value);
  }
  // `fp`'s value, or null when it is not (or no longer) remembered.
  const Value* Find(const Fingerprint& fp) const {
    if (auto it = current_.find(fp); it != current_.end()) return &it->second;
    if (previous_.empty()) return nullptr;
    auto it = previous_.find(fp);
    return it != previous_.end() ? &it->second : nullptr;
  }
  bool Contains(const Fingerprint& fp) const { return Find(fp) != nullptr; }
  // Moves the clock; rotates generations once a horizon has passed.
  void AdvanceTo(absl::Time now) {
    if (now >= next_rotation_) {
      internal::RotateGenerations(now, horizon_, generation_start_, next_rotation_, current_,
                                  previous_);
    }
  }
  size_t size() const { return current_.size() + previous_.size(); }

 private:
  absl::Duration horizon_;
  absl::Time generation_start_ = absl::InfinitePast();
  absl::Time next_rotation_ = absl::InfinitePast();
  absl::flat_hash_map<Fingerprint, Value, FingerprintHash> current_;
  absl::flat_hash_map<Fingerprint, Value, FingerprintHash> previous_;
};

}  // namespace tidewatch

#endif  // TIDEWATCH_LIBS_COMMON_RECENT_ID_SET_H_
