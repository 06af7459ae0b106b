// RecentIdSet: ids are remembered for one to two horizons, generations
// rotate on the owner's clock, and fingerprints tell ids apart. RecentIdMap:
// the same, with the newest value put for each id.
#include "common/recent_id_set.h"

#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace tidewatch {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1664780400);

TEST(RecentIdSetTest, InsertReportsDuplicates) {
  RecentIdSet s(absl::Hours(1));
  s.AdvanceTo(kT0);
  EXPECT_TRUE(s.Insert("e1"));
  EXPECT_FALSE(s.Insert("e1"));
  EXPECT_TRUE(s.Insert("e2"));
  EXPECT_TRUE(s.Contains("e1"));
  EXPECT_TRUE(s.Contains("e2"));
  EXPECT_FALSE(s.Contains("e3"));
  EXPECT_EQ(s.size(), 2u);
}

TEST(RecentIdSetTest, EmptyAndLongIdsAreDistinct) {
  RecentIdSet s(absl::Hours(1));
  EXPECT_TRUE(s.Insert(""));
  EXPECT_FALSE(s.Insert(""));
  // Same words, different lengths (the tail is zero-padded).
  EXPECT_TRUE(s.Insert(std::string("ab\0", 3)));
  EXPECT_TRUE(s.Insert("ab"));
  const std::string long_id(100, 'x');
  EXPECT_TRUE(s.Insert(long_id));
  EXPECT_TRUE(s.Insert(long_id + "y"));
  EXPECT_FALSE(s.Insert(long_id));
}

TEST(RecentIdSetTest, RememberedForOneToTwoHorizons) {
  RecentIdSet s(absl::Hours(1));
  s.AdvanceTo(kT0);
  EXPECT_TRUE(s.Insert("old"));
  s.AdvanceTo(kT0 + absl::Minutes(59));
  EXPECT_TRUE(s.Contains("old"));
  s.AdvanceTo(kT0 + absl::Minutes(60));  // rotation: "old" is previous
  EXPECT_TRUE(s.Contains("old"));
  EXPECT_FALSE(s.Insert("old"));  // still a duplicate, and not renewed
  EXPECT_TRUE(s.Insert("new"));
  s.AdvanceTo(kT0 + absl::Minutes(119));
  EXPECT_TRUE(s.Contains("old"));
  s.AdvanceTo(kT0 + absl::Minutes(120));  // rotation: "old" expires
  EXPECT_FALSE(s.Contains("old"));
  EXPECT_TRUE(s.Contains("new"));
  EXPECT_EQ(s.size(), 1u);
  s.AdvanceTo(kT0 + absl::Minutes(180));
  EXPECT_FALSE(s.Contains("new"));
  EXPECT_TRUE(s.Insert("old"));  // forgotten: new again
}

TEST(RecentIdSetTest, LongSilenceForgetsBothGenerations) {
  RecentIdSet s(absl::Hours(1));
  s.AdvanceTo(kT0);
  EXPECT_TRUE(s.Insert("a"));
  s.AdvanceTo(kT0 + absl::Minutes(150));  // two horizons since the generation began
  EXPECT_FALSE(s.Contains("a"));
  EXPECT_EQ(s.size(), 0u);
}

TEST(RecentIdSetTest, ClockGoingBackDoesNotRotate) {
  RecentIdSet s(absl::Hours(1));
  s.AdvanceTo(kT0);
  EXPECT_TRUE(s.Insert("a"));
  s.AdvanceTo(kT0 - absl::Hours(5));
  EXPECT_TRUE(s.Contains("a"));
}

TEST(RecentIdSetTest, FingerprintsOfManySimilarIdsDiffer) {
  absl::flat_hash_set<uint64_t> firsts;
  absl::flat_hash_set<uint64_t> seconds;
  RecentIdSet s(absl::Hours(1));
  for (int i = 0; i < 200000; ++i) {
    const std::string id = absl::StrCat("tide-sim-1-20221003-", i);
    const Fingerprint fp = RecentIdSet::Of(id);
    EXPECT_EQ(fp, RecentIdSet::Of(id));
    firsts.insert(fp.first);
    seconds.insert(fp.second >> 1);
    ASSERT_TRUE(s.Insert(fp)) << id;
  }
  EXPECT_EQ(firsts.size(), 200000u);
  EXPECT_EQ(seconds.size(), 200000u);
  EXPECT_FALSE(s.Insert("tide-sim-1-20221003-7"));
}

// Fingerprints are part of no output, but they must not drift: these are
// the values little-endian builds have always computed (ids of 0-7 bytes,
// whole words, and whole words plus a tail).
TEST(RecentIdSetTest, FingerprintsAreStable) {
  struct Case {
    const char* id;
    uint64_t first;
    uint64_t second;
  };
  for (const Case& c : {
           Case{"", 0xc8064012e3311d57ull, 0x3d947f84c1276e53ull},
           Case{"c7", 0x30f19d314fa5d938ull, 0x467d02116844ca4dull},
           Case{"e12345", 0x26e9e35d6ccda9a2ull, 0x3864d02217b0261eull},
           Case{"sim-e1234", 0xe5631bb4e4be2665ull, 0x64a7717439013302ull},
           Case{"partition-7/e000123456", 0x0d4ffced3a5a64b0ull, 0x4d3a39c8b2b7fe5cull},
           Case{"revenues-agent-17-logged-in", 0x31276fa494d9fefcull, 0xcf258c1acf39d062ull},
       }) {
    EXPECT_EQ(RecentIdSet::Of(c.id), Fingerprint(c.first, c.second)) << c.id;
  }
}

TEST(RecentIdMapTest, KeepsTheNewestValueForOneToTwoHorizons) {
  RecentIdMap<int> m(absl::Hours(1));
  m.AdvanceTo(kT0);
  const Fingerprint a = RecentIdSet::Of("a");
  const Fingerprint b = RecentIdSet::Of("b");
  EXPECT_EQ(m.Find(a), nullptr);
  m.Put(a, 1);
  ASSERT_NE(m.Find(a), nullptr);
  EXPECT_EQ(*m.Find(a), 1);
  m.Put(a, 2);
  EXPECT_EQ(*m.Find(a), 2);
  EXPECT_EQ(m.size(), 1u);
  m.AdvanceTo(kT0 + absl::Minutes(60));  // rotation: "a" is previous
  ASSERT_NE(m.Find(a), nullptr);
  EXPECT_EQ(*m.Find(a), 2);
  m.Put(b, 7);
  m.AdvanceTo(kT0 + absl::Minutes(90));
  m.Put(a, 3);  // renewed: current again, the previous entry gone
  EXPECT_EQ(m.size(), 2u);
  EXPECT_EQ(*m.Find(a), 3);
  m.AdvanceTo(kT0 + absl::Minutes(120));  // "a" and "b" are previous now
  EXPECT_EQ(*m.Find(a), 3);
  EXPECT_EQ(*m.Find(b), 7);
  m.AdvanceTo(kT0 + absl::Minutes(180));
  EXPECT_FALSE(m.Contains(a));
  EXPECT_FALSE(m.Contains(b));
  // A gap of two horizons forgets everything at once.
  m.Put(a, 4);
  m.AdvanceTo(kT0 + absl::Hours(6));
  EXPECT_FALSE(m.Contains(a));
}

}  // namespace
}  // namespace tidewatch
