// Portable, seedable randomness for the simulator.
//
// The simulator must give byte-identical output for a seed on every platform
// and standard library, so it never uses std:: engines' distributions (their
// algorithms are unspecified). Everything here is defined bit for bit:
// xoshiro256** seeded through splitmix64, doubles from the top 53 bits, and
// the classical inversion / Box-Muller transforms.
//
//   Rng rng = Rng::ForStream(seed, /*stream=*/42);
//   double u = rng.Uniform();          // [0, 1)
//   double e = rng.Exponential(240.0); // mean 240
//   double x = rng.LogNormal(300.0, 150.0);
//
// Independent streams (one per line and purpose) keep a scenario's arrival
// sequence unchanged when, say, its staffing changes (common random numbers).
#ifndef TIDEWATCH_LIBS_SIM_RANDOM_H_
#define TIDEWATCH_LIBS_SIM_RANDOM_H_

#include <cmath>
#include <cstdint>

namespace tidewatch::sim {

// One step of splitmix64: advances `state` and returns a well-mixed value.
inline uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// xoshiro256** (Blackman & Vigna) with the distributions the simulator
// needs. Cheap to copy; not thread-safe (one per stream).
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    uint64_t sm = seed;
    for (uint64_t& word : s_) word = SplitMix64(sm);
  }

  // A generator for sub-stream `stream` of `seed`: distinct streams of one
  // seed are statistically independent.
  static Rng ForStream(uint64_t seed, uint64_t stream) {
    uint64_t sm = seed ^ (0xd1b54a32d192ed03ULL * (stream + 1));
    return Rng(SplitMix64(sm));
  }

  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  // Uniform on [0, 1), 53 bits.
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

  // Uniform on (0, 1]: safe to take the log of.
  double UniformOpenZero() { return static_cast<double>((Next() >> 11) + 1) * 0x1.0p-53; }

  // Uniform on [lo, hi).
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }

  // True with probability p.
  bool Bernoulli(double p) { return Uniform() < p; }

  // Exponential with the given mean (inversion).
  double Exponential(double mean) { return -mean * std::log(UniformOpenZero()); }

  // Standard normal (Box-Muller; the second variate is kept for the next
  // call, so the stream is still a pure function of the seed).
  double Normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double r = std::sqrt(-2.0 * std::log(UniformOpenZero()));
    const double theta = 2.0 * 3.14159265358979323846 * Uniform();
    spare_ = r * std::sin(theta);
    has_spare_ = true;
    return r * std::cos(theta);
  }

  // Lognormal with the given mean and standard deviation (of the variate
  // itself, not of its log). sd == 0 gives `mean` exactly.
  double LogNormal(double mean, double sd) {
    if (sd <= 0) return mean;
    const double cv2 = (sd / mean) * (sd / mean);
    const double sigma2 = std::log1p(cv2);
    const double mu = std::log(mean) - 0.5 * sigma2;
    return std::exp(mu + std::sqrt(sigma2) * Normal());
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

  uint64_t s_[4];
  double spare_ = 0;
  bool has_spare_ = false;
};

}  // namespace tidewatch::sim

#endif  // TIDEWATCH_LIBS_SIM_RANDOM_H_
