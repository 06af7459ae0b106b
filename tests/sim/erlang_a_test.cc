// Acceptance: the stationary M/M/n+M scenario agrees with the Erlang A
// formulas within statistical error.
//
// The formulas here are computed independently of libs/capacity: the
// number of calls in the system is a birth-death chain (births lambda,
// deaths min(k, n) mu + max(k - n, 0) theta). With pi its stationary
// distribution and Lq = sum (k - n)+ pi_k the mean queue length,
//   mean wait of all offered calls  W  = Lq / lambda      (Little's law)
//   probability of abandoning       Pa = theta Lq / lambda
// (abandonment happens at rate theta per waiting caller; PASTA).
// The simulation's estimates are averaged over independent seeds and
// compared within 4 standard errors estimated from the spread across seeds.
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "sim/simulator.h"
#include "sim_test_util.h"

namespace tidewatch::sim {
namespace {

struct ErlangA {
  double p_abandon;
  double mean_wait;  // seconds, over all offered calls
};

ErlangA BirthDeath(double lambda, double mu, double theta, int n) {
  // Unnormalised pi_k, relative to pi_0 = 1, computed until negligible.
  long double term = 1, total = 1, queue = 0;
  for (int k = 1; k < 100000; ++k) {
    const long double death = std::min(k, n) * static_cast<long double>(mu) +
                              std::max(k - n, 0) * static_cast<long double>(theta);
    term *= lambda / death;
    total += term;
    queue += std::max(k - n, 0) * term;
    if (k > n && term < 1e-30L * total) break;
  }
  const double lq = static_cast<double>(queue / total);
  return {theta * lq / lambda, lq / lambda};
}

TEST(ErlangATest, FormulaSelfCheckAgainstPoisson) {
  // theta == mu: the chain is M/M/infinity, N ~ Poisson(a); check Lq.
  const double lambda = 0.1, mu = 1.0 / 240, n = 20;
  const double a = lambda / mu;
  double lq = 0, p = std::exp(-a);
  for (int k = 0; k < 400; ++k) {
    if (k > 0) p *= a / k;
    if (k > n) lq += (k - n) * p;
  }
  const ErlangA e = BirthDeath(lambda, mu, mu, static_cast<int>(n));
  EXPECT_NEAR(e.mean_wait, lq / lambda, 1e-9);
  // With no load, nobody waits.
  EXPECT_NEAR(BirthDeath(1e-6, 1.0 / 240, 1.0 / 120, 24).p_abandon, 0, 1e-12);
}

struct Stats {
  double mean = 0;
  double se = 0;
};

Stats MeanAndStandardError(const std::vector<double>& x) {
  double sum = 0;
  for (double v : x) sum += v;
  const double mean = sum / x.size();
  double ss = 0;
  for (double v : x) ss += (v - mean) * (v - mean);
  const double sd = std::sqrt(ss / (x.size() - 1));
  return {mean, sd / std::sqrt(static_cast<double>(x.size()))};
}

TEST(ErlangATest, StationaryScenarioAgreesWithErlangA) {
  const Scenario scenario = testing::LoadOrDie("stationary-erlang-a.yaml");
  // The scenario's parameters: 360 calls/h, handle 240 s, patience 120 s, 24 agents.
  const ErlangA theory = BirthDeath(360.0 / 3600, 1.0 / 240, 1.0 / 120, 24);

  constexpr int kSeeds = 40;
  std::vector<double> abandon_fraction, mean_wait;
  for (uint64_t seed = 1; seed <= kSeeds; ++seed) {
    const testing::SimRun run = testing::RunScenario(scenario, seed);
    // Counted from the events themselves (and cross-checked with the summary).
    const auto counted = testing::CheckStream(run.events);
    testing::ExpectSummaryMatches(run.summary, counted);
    const testing::Counted& c = counted.at("revenues");
    ASSERT_GT(c.offered, 2000);
    EXPECT_EQ(c.callbacks + c.left, 0);
    abandon_fraction.push_back(static_cast<double>(c.abandoned) / c.offered);
    mean_wait.push_back(absl::ToDoubleSeconds(c.wait_answered + c.wait_abandoned) / c.offered);
  }
  const Stats pa = MeanAndStandardError(abandon_fraction);
  const Stats w = MeanAndStandardError(mean_wait);
  const std::string report = absl::StrFormat(
      "P(abandon): Erlang A %.4f, simulated %.4f +- %.4f (1 s.e.)\n"
      "mean wait of all offered: Erlang A %.2f s, simulated %.2f +- %.2f s",
      theory.p_abandon, pa.mean, pa.se, theory.mean_wait, w.mean, w.se);
  std::printf("%s\n", report.c_str());
  EXPECT_GT(pa.se, 0);
  EXPECT_LT(pa.se, 0.01) << report;  // 40 seeds of ~2,900 calls each
  EXPECT_NEAR(pa.mean, theory.p_abandon, 4 * pa.se) << report;
  EXPECT_NEAR(w.mean, theory.mean_wait, 4 * w.se) << report;
}

}  // namespace
}  // namespace tidewatch::sim
