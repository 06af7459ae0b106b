#include "stream/partitioner.h"

#include "gtest/gtest.h"

namespace tidewatch::stream {
namespace {

// Reference values from Kafka's own tests (UtilsTest.testMurmur2).
TEST(PartitionerTest, Murmur2MatchesKafka) {
  EXPECT_EQ(Murmur2("21"), -973932308);
  EXPECT_EQ(Murmur2("foobar"), -790332482);
  EXPECT_EQ(Murmur2("a-little-bit-long-string"), -985981536);
  EXPECT_EQ(Murmur2("a-little-bit-longer-string"), -1486304829);
  EXPECT_EQ(Murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971);
  EXPECT_EQ(Murmur2(std::string_view("abc", 3)), 479470107);
}

TEST(PartitionerTest, PartitionIsNonNegativeAndStable) {
  for (const char* key : {"revenues", "council-tax", "waste", "housing", "adult-social-care"}) {
    int32_t p = PartitionForKey(key, 12);
    EXPECT_GE(p, 0);
    EXPECT_LT(p, 12);
    EXPECT_EQ(p, PartitionForKey(key, 12));
  }
}

}  // namespace
}  // namespace tidewatch::stream
