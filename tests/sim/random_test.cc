// The simulator's own randomness and caller keys: defined bit for bit, so
// output is the same on every platform.
#include "sim/random.h"

#include <cmath>
#include <set>
#include <string>

#include "gtest/gtest.h"
#include "sim/caller_key.h"
#include "sim/scenario.h"

namespace tidewatch::sim {
namespace {

TEST(RandomTest, SplitMixKnownValues) {
  // Reference values of splitmix64 from state 0.
  uint64_t state = 0;
  EXPECT_EQ(SplitMix64(state), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(SplitMix64(state), 0x6e789e6aa1b965f4ULL);
}

TEST(RandomTest, StreamsAreReproducibleAndDistinct) {
  Rng a = Rng::ForStream(7, 1), b = Rng::ForStream(7, 1), c = Rng::ForStream(7, 2);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = a.Next();
    EXPECT_EQ(x, b.Next());
    differs = differs || x != c.Next();
  }
  EXPECT_TRUE(differs);
}

TEST(RandomTest, UniformRange) {
  Rng rng(1);
  for (int i = 0; i < 100000; ++i) {
    const double u = rng.Uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    const double v = rng.UniformOpenZero();
    ASSERT_GT(v, 0.0);
    ASSERT_LE(v, 1.0);
  }
}

// Sample mean and standard deviation of n draws.
template <typename F>
std::pair<double, double> Moments(F draw, int n) {
  double s = 0, ss = 0;
  for (int i = 0; i < n; ++i) {
    const double x = draw();
    s += x;
    ss += x * x;
  }
  const double mean = s / n;
  return {mean, std::sqrt(ss / n - mean * mean)};
}

TEST(RandomTest, DistributionsHaveTheirMoments) {
  constexpr int kN = 400000;
  Rng rng(2022);
  auto [em, esd] = Moments([&] { return Distribution::Exponential(240).Sample(rng); }, kN);
  EXPECT_NEAR(em, 240, 240 * 5 / std::sqrt(kN));
  EXPECT_NEAR(esd, 240, 240 * 0.02);
  const Distribution ln = Distribution::LogNormal(300, 150);
  auto [lm, lsd] = Moments([&] { return ln.Sample(rng); }, kN);
  EXPECT_NEAR(lm, 300, 150 * 5 / std::sqrt(kN));
  EXPECT_NEAR(lsd, 150, 150 * 0.03);
  auto [um, usd] = Moments([&] { return Distribution::Uniform(60, 120).Sample(rng); }, kN);
  EXPECT_NEAR(um, 90, 0.2);
  EXPECT_NEAR(usd, 60 / std::sqrt(12.0), 0.2);
  EXPECT_EQ(Distribution::Constant(30).Sample(rng), 30);
  EXPECT_EQ(Distribution::LogNormal(30, 0).Sample(rng), 30);
}

TEST(CallerKeyTest, SipHashReferenceVectors) {
  // From the SipHash paper (Aumasson & Bernstein), key 00 01 .. 0f.
  const uint64_t k0 = 0x0706050403020100ULL, k1 = 0x0f0e0d0c0b0a0908ULL;
  EXPECT_EQ(SipHash24(k0, k1, ""), 0x726fdb47dd0e0e31ULL);
  std::string fifteen;
  for (int i = 0; i < 15; ++i) fifteen.push_back(static_cast<char>(i));
  EXPECT_EQ(SipHash24(k0, k1, fifteen), 0xa129ca6149be45e5ULL);
}

TEST(CallerKeyTest, KeysAreHexAndKeyed) {
  CallerKeyer a(1, 2), b(1, 3);
  const std::string number = SyntheticCallerNumber(123);
  EXPECT_EQ(number, "+447000000123");
  const std::string key = a.KeyFor(number);
  EXPECT_EQ(key.size(), 16u);
  EXPECT_EQ(key.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(key, a.KeyFor(number));
  EXPECT_NE(key, b.KeyFor(number));
  std::set<std::string> keys;
  for (int i = 0; i < 10000; ++i) keys.insert(a.KeyFor(SyntheticCallerNumber(i)));
  EXPECT_EQ(keys.size(), 10000u);
}

}  // namespace
}  // namespace tidewatch::sim
