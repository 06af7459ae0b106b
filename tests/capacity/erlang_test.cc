// Tests for libs/capacity/erlang.h.
//
// Reference values come from three places:
//  - published worked examples (sources cited at each test);
//  - textbook closed forms (M/M/1, M/M/2, small Erlang B fractions);
//  - independent computations written here, deliberately naive: plain sums
//    over the states of the birth-death chain in long double, and for the
//    Erlang A service level a uniformization of the tagged caller's progress
//    through the queue. They share no code or formula with the library's
//    peak-centred ratio sums and incomplete-gamma service level.
#include "capacity/erlang.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tidewatch::capacity {
namespace {

using ::testing::HasSubstr;

constexpr double kInf = std::numeric_limits<double>::infinity();

QueueParams Line(double arrivals_per_hour, double handle_seconds, int agents,
                 std::optional<double> patience_seconds = std::nullopt) {
  return QueueParams{.arrivals_per_second = arrivals_per_hour / 3600,
                     .mean_handle_seconds = handle_seconds,
                     .agents = agents,
                     .mean_patience_seconds = patience_seconds};
}

QueueMetrics MustEvaluate(const QueueParams& q, double answer_within) {
  absl::StatusOr<QueueMetrics> m = Evaluate(q, answer_within);
  EXPECT_TRUE(m.ok()) << m.status();
  return m.ok() ? *m : QueueMetrics{};
}

// ---------------------------------------------------------------------------
// Independent references.

// Erlang B as a direct ratio of Poisson sums, in long double.
long double DirectErlangB(int n, long double a) {
  long double term = 1, sum = 1;
  for (int k = 1; k <= n; ++k) {
    term *= a / k;
    sum += term;
  }
  return term / sum;
}

// Erlang C from the M/M/n stationary distribution, in long double:
// P(wait) = sum_{k>=n} pi_k with pi_{n+j} = pi_n rho^j.
long double DirectErlangC(int n, long double a) {
  long double term = 1, below = 1;  // sum_{k<n} a^k/k!
  for (int k = 1; k < n; ++k) {
    term *= a / k;
    below += term;
  }
  const long double at_n = term * a / n;  // a^n / n!
  const long double waiting = at_n / (1 - a / n);
  return waiting / (below + waiting);
}

// Erlang A straight from the birth-death chain: state k = calls in system,
// birth rate lambda, death rate k mu (k <= n) or n mu + (k - n) theta.
struct DirectA {
  long double p_wait = 0;
  long double mean_wait = 0;             // E[queue] / lambda (Little)
  long double p_abandon = 0;             // theta E[queue] / lambda
  std::vector<long double> queue_probs;  // P(arrival finds j waiting), j >= 0 (PASTA)
};

DirectA DirectErlangA(long double lambda, long double mu, long double theta, int n) {
  // Log weights first (states can exceed the long double range), then
  // normalise relative to the largest.
  std::vector<long double> log_w{0};
  long double best = 0;
  for (int k = 1;; ++k) {
    const long double death = k <= n ? k * mu : n * mu + (k - n) * theta;
    log_w.push_back(log_w.back() + std::log(lambda / death));
    best = std::max(best, log_w.back());
    if (k > n && lambda < death && log_w.back() < best - 80) break;
  }
  long double total = 0;
  for (long double lw : log_w) total += std::exp(lw - best);
  DirectA out;
  long double queue = 0;
  for (size_t k = n; k < log_w.size(); ++k) {
    const long double p = std::exp(log_w[k] - best) / total;
    out.p_wait += p;
    queue += (k - n) * p;
    out.queue_probs.push_back(p);
  }
  out.mean_wait = queue / lambda;
  out.p_abandon = theta * queue / lambda;
  return out;
}

// P(answered within T) for Erlang A by uniformization. A caller who finds j
// others waiting moves through phases "i ahead" (i = j..0): it moves up at
// rate n mu + i theta (a service completion or an abandonment ahead; from
// i = 0 it is answered) and gives up itself at rate theta. The answered mass
// by time T, plus the callers who did not wait, is the service level.
long double DirectServiceLevelA(const DirectA& chain, long double mu, long double theta, int n,
                                long double t) {
  const size_t phases = chain.queue_probs.size();
  std::vector<long double> v = chain.queue_probs, next(phases);
  const long double uniform = n * mu + phases * theta;
  const long double mean_steps = uniform * t;
  const int steps = static_cast<int>(mean_steps + 12 * std::sqrt(mean_steps + 1) + 40);
  long double poisson = std::exp(-mean_steps);  // P(k uniformized steps by T)
  long double answered = 0, within = 0;
  for (int k = 0; k <= steps; ++k) {
    within += poisson * answered;
    std::fill(next.begin(), next.end(), 0.0L);
    for (size_t i = 0; i < phases; ++i) {
      const long double forward = n * mu + i * theta;
      if (i == 0) {
        answered += v[0] * forward / uniform;
      } else {
        next[i - 1] += v[i] * forward / uniform;
      }
      next[i] += v[i] * (1 - (forward + theta) / uniform);
    }
    v.swap(next);
    poisson *= mean_steps / (k + 1);
  }
  return (1 - chain.p_wait) + within;
}

// ---------------------------------------------------------------------------
// Erlang B

TEST(ErlangBTest, ClosedFormsForFewAgents) {
  // B(0, a) = 1; B(1, a) = a / (1 + a); B(2, 1) = (1/2) / (1 + 1 + 1/2) = 1/5;
  // B(3, 2) = (8/6) / (1 + 2 + 2 + 8/6) = 4/19.
  EXPECT_EQ(*ErlangB(0, 3.5), 1.0);
  EXPECT_DOUBLE_EQ(*ErlangB(1, 0.25), 0.25 / 1.25);
  EXPECT_DOUBLE_EQ(*ErlangB(2, 1), 0.2);
  EXPECT_DOUBLE_EQ(*ErlangB(3, 2), 4.0 / 19);
  EXPECT_EQ(*ErlangB(5, 0), 0.0);
}

TEST(ErlangBTest, PublishedOnePercentTable) {
  // The Erlang B table, 1% blocking column (the classic trunk-sizing table
  // printed in teletraffic handbooks and on erlang.com): 10 circuits carry
  // 4.46 E, 20 carry 12.03 E, 50 carry 37.90 E, 100 carry 84.06 E. The
  // largest load with B <= 1%, found here by bisection, rounds to each.
  struct Row {
    int circuits;
    double erlangs;
  };
  for (Row row : {Row{10, 4.46}, Row{20, 12.03}, Row{50, 37.90}, Row{100, 84.06}}) {
    double lo = 0, hi = row.circuits;
    for (int i = 0; i < 100; ++i) {
      const double mid = (lo + hi) / 2;
      (*ErlangB(row.circuits, mid) <= 0.01 ? lo : hi) = mid;
    }
    EXPECT_NEAR(lo, row.erlangs, 0.005) << row.circuits << " circuits";
  }
  // 5 E on 10 circuits blocks 1.84% (same tables).
  EXPECT_NEAR(*ErlangB(10, 5), 0.0184, 0.00005);
}

TEST(ErlangBTest, AgreesWithDirectSum) {
  for (int n : {1, 2, 5, 13, 40, 100, 170}) {
    for (double a : {0.01, 0.7, 3.0, 12.5, 40.0, 99.0, 160.0, 300.0}) {
      const long double want = DirectErlangB(n, a);
      EXPECT_NEAR(*ErlangB(n, a), static_cast<double>(want), 1e-12 * static_cast<double>(want))
          << "n=" << n << " a=" << a;
    }
  }
}

// ---------------------------------------------------------------------------
// Erlang C

TEST(ErlangCTest, CallCentreHelperWorkedExample) {
  // Call Centre Helper, "Erlang C Formula - Made Simple With an Easy Worked
  // Example", https://www.callcentrehelper.com/erlang-c-formula-example-121281.htm:
  // 100 calls in 30 minutes (200 an hour), AHT 180 s, so A = 10 erlangs;
  // target 80% answered in 20 s. The page's iteration table:
  //   agents  P(wait)  service level (20 s)
  //     11    68.21%   39.0%
  //     12    44.94%   64.0%
  //     13    28.53%   79.6%
  //     14    17.41%   88.8%
  // and for 14 agents ASA 7.8 s and occupancy 71.4%; 14 agents is the answer
  // before shrinkage.
  struct Row {
    int agents;
    double p_wait;
    double service_level;
  };
  for (Row row : {Row{11, 0.6821, 0.390}, Row{12, 0.4494, 0.640}, Row{13, 0.2853, 0.796},
                  Row{14, 0.1741, 0.888}}) {
    const QueueMetrics m = MustEvaluate(Line(200, 180, row.agents), 20);
    EXPECT_NEAR(m.p_wait, row.p_wait, 0.00005) << row.agents;
    EXPECT_NEAR(m.service_level, row.service_level, 0.0005) << row.agents;
    EXPECT_NEAR(*ErlangC(row.agents, 10), row.p_wait, 0.00005);
  }
  const QueueMetrics m14 = MustEvaluate(Line(200, 180, 14), 20);
  EXPECT_NEAR(m14.mean_wait_seconds, 7.8, 0.05);  // ASA: every call is answered
  EXPECT_NEAR(m14.occupancy, 0.714, 0.0005);
  EXPECT_EQ(m14.p_abandon, 0);
  EXPECT_TRUE(m14.stable);
  EXPECT_EQ(*AgentsNeeded(Line(200, 180, 0),
                          StaffingTarget{.service_level = 0.8, .answer_within_seconds = 20}, 1000),
            14);
}

TEST(ErlangCTest, TextbookClosedForms) {
  // M/M/1 (e.g. Kleinrock, Queueing Systems vol. 1, 3.2): P(wait) = rho,
  // Wq = rho / (mu - lambda), P(Wq > t) = rho e^{-(mu - lambda) t}.
  {
    const QueueMetrics m = MustEvaluate(Line(10, 240, 1), 60);  // rho = 2/3
    const double lambda = 10.0 / 3600, mu = 1.0 / 240, rho = lambda / mu;
    EXPECT_NEAR(m.p_wait, rho, 1e-14);
    EXPECT_NEAR(m.mean_wait_seconds, rho / (mu - lambda), 1e-9);
    EXPECT_NEAR(m.service_level, 1 - rho * std::exp(-(mu - lambda) * 60), 1e-14);
  }
  // M/M/2 (ibid. 3.5): P(wait) = 2 rho^2 / (1 + rho), rho = a / 2.
  for (double a : {0.2, 1.0, 1.5, 1.99}) {
    const double rho = a / 2;
    EXPECT_NEAR(*ErlangC(2, a), 2 * rho * rho / (1 + rho), 1e-14) << a;
  }
  EXPECT_NEAR(*ErlangC(2, 1), 1.0 / 3, 1e-15);
  EXPECT_NEAR(*ErlangC(3, 2), 4.0 / 9, 1e-15);
}

TEST(ErlangCTest, AgreesWithDirectStationaryDistribution) {
  for (int n : {1, 3, 10, 55, 120}) {
    for (double rho : {0.05, 0.5, 0.8, 0.95, 0.999}) {
      const double a = rho * n;
      const double want = static_cast<double>(DirectErlangC(n, a));
      EXPECT_NEAR(*ErlangC(n, a), want, 1e-12 * want) << "n=" << n << " a=" << a;
      const QueueMetrics m = MustEvaluate(Line(a * 3600 / 300, 300, n), 30);
      EXPECT_NEAR(m.p_wait, want, 1e-12 * want);
      EXPECT_NEAR(m.mean_wait_seconds, want * 300 / (n - a), 1e-10 * want * 300 / (n - a));
    }
  }
}

TEST(ErlangCTest, UnstableQueueWaitsForever) {
  for (int agents : {0, 5, 10}) {
    const QueueMetrics m = MustEvaluate(Line(150, 240, agents), 180);  // a = 10
    EXPECT_FALSE(m.stable);
    EXPECT_EQ(m.p_wait, 1);
    EXPECT_EQ(m.mean_wait_seconds, kInf);
    EXPECT_EQ(m.service_level, 0);
    EXPECT_EQ(m.p_abandon, 0);
  }
  EXPECT_EQ(*ErlangC(10, 10), 1);
  EXPECT_EQ(*ErlangC(0, 0), 0);
}

TEST(ErlangCTest, NoCallsNoWait) {
  const QueueMetrics m = MustEvaluate(Line(0, 240, 0), 180);
  EXPECT_TRUE(m.stable);
  EXPECT_EQ(m.p_wait, 0);
  EXPECT_EQ(m.mean_wait_seconds, 0);
  EXPECT_EQ(m.service_level, 1);
  EXPECT_EQ(*AgentsNeeded(Line(0, 240, 0), StaffingTarget{}, 10), 0);
  EXPECT_EQ(*AgentsNeeded(Line(0, 240, 0, 60), StaffingTarget{}, 10), 0);
}

// ---------------------------------------------------------------------------
// Erlang A against the direct birth-death chain

struct GridPoint {
  double arrivals_per_hour;
  double handle;
  double patience;
  int agents;
};

std::vector<GridPoint> ErlangAGrid() {
  std::vector<GridPoint> grid;
  for (double per_hour : {12.0, 120.0, 600.0, 2400.0}) {
    for (double handle : {180.0, 420.0}) {
      for (double patience : {30.0, 120.0, 600.0}) {
        const double load = per_hour * handle / 3600;
        std::vector<int> agents = {1, static_cast<int>(load * 0.6), static_cast<int>(load),
                                   static_cast<int>(std::ceil(load)) + 1,
                                   static_cast<int>(load * 1.3) + 3};
        std::sort(agents.begin(), agents.end());
        agents.erase(std::unique(agents.begin(), agents.end()), agents.end());
        for (int n : agents) {
          if (n >= 1) grid.push_back({per_hour, handle, patience, n});
        }
      }
    }
  }
  return grid;
}

TEST(ErlangATest, AgreesWithDirectBirthDeathChain) {
  int checked = 0;
  for (const GridPoint& g : ErlangAGrid()) {
    const long double lambda = g.arrivals_per_hour / 3600.0L, mu = 1 / (long double)g.handle,
                      theta = 1 / (long double)g.patience;
    const DirectA want = DirectErlangA(lambda, mu, theta, g.agents);
    for (double t : {0.0, 20.0, 180.0}) {
      const QueueMetrics m =
          MustEvaluate(Line(g.arrivals_per_hour, g.handle, g.agents, g.patience), t);
      SCOPED_TRACE(testing::Message()
                   << "per_hour=" << g.arrivals_per_hour << " aht=" << g.handle
                   << " patience=" << g.patience << " n=" << g.agents << " T=" << t);
      const double p_wait = static_cast<double>(want.p_wait);
      const double mean_wait = static_cast<double>(want.mean_wait);
      const double p_abandon = static_cast<double>(want.p_abandon);
      EXPECT_NEAR(m.p_wait, p_wait, 1e-9 * p_wait);
      EXPECT_NEAR(m.mean_wait_seconds, mean_wait, 1e-9 * mean_wait);
      EXPECT_NEAR(m.p_abandon, p_abandon, 1e-9 * p_abandon);
      const double sl =
          static_cast<double>(DirectServiceLevelA(want, mu, theta, g.agents, (long double)t));
      EXPECT_NEAR(m.service_level, sl, 1e-9);
      EXPECT_TRUE(m.stable);
      ++checked;
    }
  }
  EXPECT_GT(checked, 300);
}

TEST(ErlangATest, AgreesWithDirectChainWhenTheQueuePeakIsFar) {
  // Heavy overload with long patience puts the most likely queue length
  // thousands of calls out, on both sides of the library's switch from
  // summed logs to the Stirling difference (4096 terms).
  for (double patience : {300.0, 400.0, 450.0, 1000.0, 3000.0}) {
    const double per_second = 10;  // 36,000 calls an hour on 20 agents
    const int n = 20;
    const DirectA want = DirectErlangA(per_second, 1 / 240.0L, 1 / (long double)patience, n);
    const QueueMetrics m = MustEvaluate(Line(per_second * 3600, 240, n, patience), 60);
    SCOPED_TRACE(patience);
    EXPECT_NEAR(m.p_wait, static_cast<double>(want.p_wait), 1e-9);
    EXPECT_NEAR(m.mean_wait_seconds, static_cast<double>(want.mean_wait),
                1e-9 * static_cast<double>(want.mean_wait));
    EXPECT_NEAR(m.p_abandon, static_cast<double>(want.p_abandon),
                1e-9 * static_cast<double>(want.p_abandon));
  }
}

TEST(ErlangATest, AgreesWithDirectChainNearCriticalLoadWithVeryPatientCallers) {
  // Load just above the agents and patience thousands of handle times: the
  // queue-length peak is far out (again both sides of 4096) while a call
  // still has a real chance of not waiting, so the scale of the peak term
  // itself decides p_wait, not just the shape of the sums.
  for (int n : {500, 2000}) {
    for (double patience_in_handles : {1000.0, 4000.0}) {
      const double handle = 240, patience = patience_in_handles * handle;
      const double per_second = n * 1.001 / handle;
      const DirectA want =
          DirectErlangA(per_second, 1 / (long double)handle, 1 / (long double)patience, n);
      const QueueMetrics m = MustEvaluate(Line(per_second * 3600, handle, n, patience), 20);
      SCOPED_TRACE(testing::Message() << n << " " << patience);
      const double no_wait = static_cast<double>(1 - want.p_wait);
      EXPECT_NEAR(1 - m.p_wait, no_wait, 1e-9 * no_wait);
      EXPECT_NEAR(m.mean_wait_seconds, static_cast<double>(want.mean_wait),
                  1e-9 * static_cast<double>(want.mean_wait));
    }
  }
}

TEST(ErlangATest, ServiceLevelEndpoints) {
  // T = 0: answered without waiting. T -> infinity: every answered call.
  for (const GridPoint& g : ErlangAGrid()) {
    const QueueParams q = Line(g.arrivals_per_hour, g.handle, g.agents, g.patience);
    const QueueMetrics at_zero = MustEvaluate(q, 0);
    EXPECT_NEAR(at_zero.service_level, 1 - at_zero.p_wait, 1e-12);
    const QueueMetrics at_inf = MustEvaluate(q, 1e7);
    EXPECT_NEAR(at_inf.service_level, 1 - at_inf.p_abandon, 1e-12);
    EXPECT_LE(at_zero.service_level, MustEvaluate(q, 60).service_level + 1e-12);
  }
}

TEST(ErlangATest, InfinitePatienceApproachesErlangC) {
  // The gap to Erlang C is O(1 / patience): it shrinks tenfold per decade of
  // patience, all the way out (no numerical floor), and +infinity is exact.
  for (int n : {9, 12, 30}) {
    const QueueMetrics c = MustEvaluate(Line(120, 240, n), 20);  // a = 8
    double previous_error = 0;
    for (double patience : {1e5, 1e6, 1e7, 1e8, 1e9}) {
      const QueueMetrics a = MustEvaluate(Line(120, 240, n, patience), 20);
      const double error =
          std::abs(a.mean_wait_seconds - c.mean_wait_seconds) / c.mean_wait_seconds;
      if (previous_error > 0) {
        EXPECT_GT(previous_error / error, 8) << n << " " << patience;
        EXPECT_LT(previous_error / error, 12.5) << n << " " << patience;
      }
      previous_error = error;
    }
    const QueueMetrics a = MustEvaluate(Line(120, 240, n, 1e9), 20);
    EXPECT_NEAR(a.p_wait, c.p_wait, 1e-6 * c.p_wait);
    EXPECT_NEAR(a.mean_wait_seconds, c.mean_wait_seconds, 1e-5 * c.mean_wait_seconds);
    EXPECT_NEAR(a.service_level, c.service_level, 1e-6);
    EXPECT_LT(a.p_abandon, 1e-6);
    const QueueMetrics inf = MustEvaluate(Line(120, 240, n, kInf), 20);
    EXPECT_EQ(inf.p_wait, c.p_wait);
    EXPECT_EQ(inf.mean_wait_seconds, c.mean_wait_seconds);
    EXPECT_EQ(inf.service_level, c.service_level);
  }
}

TEST(ErlangATest, AbandonmentKeepsOverloadStable) {
  // Twice the load the agents can carry: Erlang C is unstable, Erlang A
  // settles where the abandonments shed the excess (carried load <= n).
  const QueueMetrics m = MustEvaluate(Line(300, 240, 10, 120), 180);  // a = 20
  EXPECT_TRUE(m.stable);
  EXPECT_GT(m.p_abandon, 0.45);
  EXPECT_LE(20 * (1 - m.p_abandon), 10 + 1e-9);
  EXPECT_NEAR(m.mean_wait_seconds, m.p_abandon * 120, 1e-9);
  EXPECT_GT(m.p_wait, 0.9);
}

TEST(ErlangATest, NoAgentsMeansEveryoneAbandons) {
  const QueueMetrics m = MustEvaluate(Line(60, 240, 0, 90), 180);
  EXPECT_EQ(m.p_wait, 1);
  EXPECT_EQ(m.p_abandon, 1);
  EXPECT_EQ(m.mean_wait_seconds, 90);
  EXPECT_EQ(m.service_level, 0);
}

TEST(ErlangATest, RequiresPatience) {
  absl::StatusOr<QueueMetrics> m = ErlangA(Line(60, 240, 2), 20);
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(m.status().message(), HasSubstr("mean_patience_seconds"));
  EXPECT_TRUE(ErlangA(Line(60, 240, 2, 60), 20).ok());
}

// ---------------------------------------------------------------------------
// Range and stability: 1..2000 agents, very low and very high loads.

void ExpectSane(const QueueMetrics& m, bool erlang_a) {
  for (double p : {m.p_wait, m.p_abandon, m.service_level, m.occupancy}) {
    ASSERT_FALSE(std::isnan(p));
    ASSERT_GE(p, 0);
    ASSERT_LE(p, 1);
  }
  ASSERT_FALSE(std::isnan(m.mean_wait_seconds));
  ASSERT_GE(m.mean_wait_seconds, 0);
  if (erlang_a || m.stable) {
    ASSERT_TRUE(std::isfinite(m.mean_wait_seconds));
  }
}

TEST(StabilityTest, OneToTwoThousandAgentsAtManyLoads) {
  for (int n = 1; n <= 2000; n += (n < 100 ? 1 : 37)) {
    for (double load_per_agent : {1e-9, 1e-3, 0.3, 0.9, 0.999, 1.0, 1.001, 1.5, 10.0, 1000.0}) {
      const double load = load_per_agent * n;
      for (std::optional<double> patience :
           {std::optional<double>(), std::optional<double>(5), std::optional<double>(120),
            std::optional<double>(3600)}) {
        const double handle = 240;
        const double per_second = load / handle;
        if (patience && per_second * *patience > kMaxArrivalsTimesPatience) continue;
        const QueueParams q{per_second, handle, n, patience};
        SCOPED_TRACE(testing::Message() << "n=" << n << " load=" << load
                                        << " patience=" << (patience ? *patience : -1));
        ExpectSane(MustEvaluate(q, 180), patience.has_value());
        ExpectSane(MustEvaluate(q, 0), patience.has_value());
      }
      const double b = *ErlangB(n, load);
      ASSERT_TRUE(b >= 0 && b <= 1) << n << " " << load;
    }
  }
}

TEST(StabilityTest, TwoThousandAgentsNearCriticalLoad) {
  // Square-root staffing regime at the top of the range: finite, ordered.
  double previous_wait = kInf;
  for (int n = 1950; n <= 2100; n += 10) {
    const QueueMetrics c = MustEvaluate(Line(2000 * 3600.0 / 240, 240, n), 20);
    const QueueMetrics a = MustEvaluate(Line(2000 * 3600.0 / 240, 240, n, 120), 20);
    ExpectSane(c, false);
    ExpectSane(a, true);
    EXPECT_LE(a.mean_wait_seconds, previous_wait);
    previous_wait = a.mean_wait_seconds;
    if (c.stable) {
      EXPECT_LE(a.mean_wait_seconds, c.mean_wait_seconds);
    }
  }
}

TEST(StabilityTest, MetricsAreMonotoneInAgents) {
  for (double per_hour : {20.0, 250.0, 1500.0}) {
    for (std::optional<double> patience :
         {std::optional<double>(), std::optional<double>(60), std::optional<double>(400)}) {
      QueueMetrics previous = MustEvaluate(Line(per_hour, 300, 0, patience), 60);
      for (int n = 1; n <= 200; ++n) {
        const QueueMetrics m = MustEvaluate(Line(per_hour, 300, n, patience), 60);
        EXPECT_GE(m.service_level, previous.service_level - 1e-12) << per_hour << " " << n;
        EXPECT_LE(m.p_abandon, previous.p_abandon + 1e-15) << per_hour << " " << n;
        EXPECT_LE(m.p_wait, previous.p_wait + 1e-15) << per_hour << " " << n;
        previous = m;
      }
    }
  }
}

// ---------------------------------------------------------------------------
// AgentsNeeded

bool Meets(const QueueMetrics& m, const StaffingTarget& target) {
  return m.stable && m.service_level >= target.service_level && m.p_abandon <= target.max_abandon;
}

TEST(AgentsNeededTest, MinimalAndEqualToLinearScan) {
  int checked = 0;
  for (double per_hour : {1.0, 15.0, 90.0, 400.0, 1200.0}) {
    for (double handle : {150.0, 360.0}) {
      for (std::optional<double> patience :
           {std::optional<double>(), std::optional<double>(45), std::optional<double>(180)}) {
        for (StaffingTarget target :
             {StaffingTarget{}, StaffingTarget{0.9, 20, 0.05}, StaffingTarget{0.5, 600, 0.3}}) {
          SCOPED_TRACE(testing::Message()
                       << per_hour << "/h aht " << handle << " patience "
                       << (patience ? *patience : -1) << " sl " << target.service_level);
          absl::StatusOr<int> needed =
              AgentsNeeded(Line(per_hour, handle, 0, patience), target, kMaxAgents);
          ASSERT_TRUE(needed.ok()) << needed.status();
          int scan = 0;
          while (!Meets(
              MustEvaluate(Line(per_hour, handle, scan, patience), target.answer_within_seconds),
              target)) {
            ++scan;
          }
          EXPECT_EQ(*needed, scan);
          EXPECT_TRUE(Meets(
              MustEvaluate(Line(per_hour, handle, *needed, patience), target.answer_within_seconds),
              target));
          if (*needed > 0) {
            EXPECT_FALSE(Meets(MustEvaluate(Line(per_hour, handle, *needed - 1, patience),
                                            target.answer_within_seconds),
                               target));
          }
          ++checked;
        }
      }
    }
  }
  EXPECT_EQ(checked, 90);
}

TEST(AgentsNeededTest, MonotoneInArrivals) {
  for (std::optional<double> patience : {std::optional<double>(), std::optional<double>(120)}) {
    int previous = 0;
    for (double per_hour = 0; per_hour <= 3000; per_hour += 7.5) {
      absl::StatusOr<int> n =
          AgentsNeeded(Line(per_hour, 240, 0, patience), StaffingTarget{}, 5000);
      ASSERT_TRUE(n.ok()) << n.status();
      EXPECT_GE(*n, previous) << per_hour;
      previous = *n;
    }
  }
}

TEST(AgentsNeededTest, AbandonmentModelNeedsNoMoreThanErlangC) {
  for (double per_hour : {30.0, 300.0, 3000.0}) {
    const int c = *AgentsNeeded(Line(per_hour, 240, 0), StaffingTarget{}, 5000);
    const int a = *AgentsNeeded(Line(per_hour, 240, 0, 120), StaffingTarget{}, 5000);
    EXPECT_LE(a, c) << per_hour;
  }
}

TEST(AgentsNeededTest, MaxAbandonCanBindForErlangA) {
  // Generous service level, tight abandonment: the abandonment target decides.
  const StaffingTarget loose_sl{
      .service_level = 0.05, .answer_within_seconds = 600, .max_abandon = 0.01};
  const int n = *AgentsNeeded(Line(300, 240, 0, 30), loose_sl, 1000);
  const QueueMetrics at = MustEvaluate(Line(300, 240, n, 30), 600);
  const QueueMetrics below = MustEvaluate(Line(300, 240, n - 1, 30), 600);
  EXPECT_LE(at.p_abandon, 0.01);
  EXPECT_GT(below.p_abandon, 0.01);
  EXPECT_GE(below.service_level, 0.05);
}

TEST(AgentsNeededTest, OutOfRangeWhenMaxAgentsTooSmall) {
  absl::StatusOr<int> n = AgentsNeeded(Line(600, 240, 0), StaffingTarget{}, 20);  // a = 40
  EXPECT_EQ(n.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(n.status().message(), HasSubstr("max_agents 20"));
  EXPECT_EQ(AgentsNeeded(Line(600, 240, 0, 60), StaffingTarget{}, 20).status().code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_TRUE(AgentsNeeded(Line(600, 240, 0), StaffingTarget{}, 60).ok());
}

// ---------------------------------------------------------------------------
// Invalid input

TEST(ValidationTest, MessagesNameTheParameter) {
  struct Case {
    QueueParams params;
    const char* field;
  };
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (const Case& c : {
           Case{Line(-1, 240, 3), "arrivals_per_second"},
           Case{Line(nan, 240, 3), "arrivals_per_second"},
           Case{Line(kInf, 240, 3), "arrivals_per_second"},
           Case{Line(60, 0, 3), "mean_handle_seconds"},
           Case{Line(60, -5, 3), "mean_handle_seconds"},
           Case{Line(60, kInf, 3), "mean_handle_seconds"},
           Case{Line(60, 240, -1), "agents"},
           Case{Line(60, 240, kMaxAgents + 1), "agents"},
           Case{Line(60, 240, 3, 0.0), "mean_patience_seconds"},
           Case{Line(60, 240, 3, -10.0), "mean_patience_seconds"},
           Case{Line(60, 240, 3, nan), "mean_patience_seconds"},
           Case{Line(3600, 240, 3, 1e12), "mean_patience_seconds"},
           Case{Line(3.6e303, 1e300, 3), "offered load"},
       }) {
    absl::StatusOr<QueueMetrics> m = Evaluate(c.params, 20);
    EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_THAT(m.status().message(), HasSubstr(c.field));
  }
  EXPECT_THAT(Evaluate(Line(60, 240, 3), -1).status().message(),
              HasSubstr("answer_within_seconds"));
  EXPECT_THAT(ErlangB(-1, 2).status().message(), HasSubstr("agents"));
  EXPECT_THAT(ErlangC(3, -2).status().message(), HasSubstr("offered_load_erlangs"));
  EXPECT_THAT(
      AgentsNeeded(Line(60, 240, 0), StaffingTarget{.service_level = 1}, 10).status().message(),
      HasSubstr("service_level"));
  EXPECT_THAT(
      AgentsNeeded(Line(60, 240, 0), StaffingTarget{.max_abandon = 0}, 10).status().message(),
      HasSubstr("max_abandon"));
  EXPECT_THAT(AgentsNeeded(Line(60, 240, 0), StaffingTarget{}, -3).status().message(),
              HasSubstr("max_agents"));
}

}  // namespace
}  // namespace tidewatch::capacity
