#include "capacity/erlang.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

// The mathematics, for the record.
//
// lambda = arrival rate, mu = 1 / mean handle time, theta = 1 / mean
// patience, n agents, a = lambda / mu (offered load in erlangs).
//
// Erlang B by the recursion B(0) = 1, B(k) = a B(k-1) / (k + a B(k-1)), run
// on 1/B: 1/B(k) = 1 + (k/a) / B(k-1). Every step adds and multiplies
// positive numbers (no cancellation, nothing to overflow short of B
// underflowing to 0 when n >> a).
//
// Erlang C: C = n B / (n - a (1 - B)) for a < n; W = C / (n mu - lambda);
// P(W > t) = C exp(-(n mu - lambda) t).
//
// Erlang A (M/M/n+M). Birth-death chain on k = calls in the system: birth
// rate lambda, death rate k mu for k <= n and n mu + (k - n) theta above.
// With x = n mu / theta and y = lambda / theta,
//   pi(n + j) = pi(n) t_j,   t_j = prod_{i=1..j} y / (x + i)   (t_0 = 1),
//   sum_{k<=n} pi(k) = pi(n) / B(n)   (B = Erlang B with n agents),
// so with S1 = sum_{j>=1} t_j and M1 = sum_{j>=1} j t_j:
//   pi(n) = 1 / (1/B + S1),   p_wait = pi(n) (1 + S1)   (PASTA),
//   E[queue] = pi(n) M1,   mean wait of all offered = E[queue] / lambda
//   (Little), p_abandon = theta E[queue] / lambda.
// Service level. While every agent is busy the offered wait V of an arrival
// (the wait it would have if it never hung up) decreases at rate 1 and jumps
// by an Exp(n mu) amount at each arrival that will still be there to be
// served, so its density on v > 0 is f(v) = lambda pi(n-1) g(v),
// g(v) = exp(y (1 - e^{-theta v}) - n mu v). A call is answered within T iff
// V <= T and its own patience exceeds V, so
//   P(answered, V > T) = lambda pi(n-1) integral_T^inf e^{-theta v} g(v) dv
//                      = pi(n) x/(x+1) e^D S(x+1, y e^{-theta T}),
//   D = -(n mu + theta) T + y (1 - e^{-theta T}),
//   S(x', y') = sum_{j>=0} prod_{i=1..j} y' / (x' + i)
// (substitute s = e^{-theta v}: the integral is an incomplete gamma
// function, whose power series is S). Then
//   service_level = 1 - p_abandon - P(answered, V > T).
// As theta -> 0 these reduce to the Erlang C formulas above.
//
// The sums. t_j rises while y / (x + j) > 1 and falls after, faster than
// geometrically, so each sum starts at the peak j* = floor(y - x) (or 0),
// walks outward multiplying by neighbouring ratios, and stops once a
// geometric bound on the rest is below 1e-17 of the sum: terms are held
// relative to t_{j*} (never overflow) and log t_{j*} is carried separately.
// The walk covers O(sqrt(y)) terms around the peak. log t_{j*} is a sum of
// logs for j* <= 4096 and a Stirling-series difference (log1p form, no
// cancellation of large lgamma values) beyond.

namespace tidewatch::capacity {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
// A sum stops when a bound on its remaining terms is below this fraction of
// the sum so far.
constexpr double kSumTolerance = 1e-17;
// log t_{j*} is summed term by term up to this many terms.
constexpr int64_t kDirectLogTerms = 4096;
// The four-term Stirling correction below is accurate to ~1e-17 from here.
constexpr double kStirlingMin = 30;

absl::Status Invalid(const char* field, const char* requirement, double got) {
  return absl::InvalidArgumentError(absl::StrCat(field, " must be ", requirement, ", got ", got));
}

// Checks everything in `params` except `agents`.
absl::Status ValidateQueue(const QueueParams& params) {
  const double lambda = params.arrivals_per_second;
  const double handle = params.mean_handle_seconds;
  if (!std::isfinite(lambda) || lambda < 0) {
    return Invalid("arrivals_per_second", "a finite number >= 0", lambda);
  }
  if (!std::isfinite(handle) || handle <= 0) {
    return Invalid("mean_handle_seconds", "a finite number > 0", handle);
  }
  if (!std::isfinite(1 / handle)) {
    return Invalid("mean_handle_seconds", "at least 1e-300", handle);
  }
  if (!std::isfinite(lambda * handle)) {
    return absl::InvalidArgumentError(
        absl::StrCat("offered load arrivals_per_second x mean_handle_seconds is not finite (",
                     lambda, " x ", handle, ")"));
  }
  if (params.mean_patience_seconds.has_value()) {
    const double patience = *params.mean_patience_seconds;
    if (!(patience > 0)) {
      return Invalid("mean_patience_seconds", "> 0 (or +infinity for no abandonment)", patience);
    }
    if (std::isfinite(patience)) {
      if (!std::isfinite(1 / patience)) {
        return Invalid("mean_patience_seconds", "at least 1e-300", patience);
      }
      if (lambda * patience > kMaxArrivalsTimesPatience) {
        return absl::InvalidArgumentError(absl::StrCat(
            "mean_patience_seconds ", patience, " is too long for Erlang A at ", lambda,
            " arrivals per second (arrivals_per_second x mean_patience_seconds must be <= ",
            kMaxArrivalsTimesPatience,
            "); callers that patient never abandon: omit the "
            "patience to use Erlang C"));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateAgents(const char* field, int64_t agents) {
  if (agents < 0 || agents > kMaxAgents) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " must be between 0 and ", kMaxAgents, ", got ", agents));
  }
  return absl::OkStatus();
}

absl::Status ValidateAnswerWithin(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) {
    return Invalid("answer_within_seconds", "a finite number >= 0", seconds);
  }
  return absl::OkStatus();
}

// One line's model with everything precomputed that does not depend on n.
struct Model {
  double lambda = 0;
  double mu = 0;
  double load = 0;  // a = lambda / mu
  bool abandonment = false;
  double theta = 0;     // 1 / patience, abandonment only
  double patience = 0;  // abandonment only
  double answer_within = 0;
};

Model MakeModel(const QueueParams& params, double answer_within_seconds) {
  Model m;
  m.lambda = params.arrivals_per_second;
  m.mu = 1 / params.mean_handle_seconds;
  m.load = params.arrivals_per_second * params.mean_handle_seconds;
  m.abandonment =
      params.mean_patience_seconds.has_value() && std::isfinite(*params.mean_patience_seconds);
  if (m.abandonment) {
    m.patience = *params.mean_patience_seconds;
    m.theta = 1 / m.patience;
  }
  m.answer_within = answer_within_seconds;
  return m;
}

// 1 / Erlang B for `to` agents from its value `r` for `from` <= `to` agents:
// 1/B(k) = 1 + (k / a) / B(k-1), the inverse of the textbook recursion
// B(k) = a B(k-1) / (k + a B(k-1)). Same stability (every term positive),
// but the loop-carried dependency is one multiply-add instead of a division,
// about three times faster. 1/B overflows to +infinity exactly when B
// underflows (agents >> load), and a = 0 gives +infinity (B = 0) at once.
double AdvanceInverseErlangB(double r, int64_t from, int64_t to, double load) {
  for (int64_t k = from + 1; k <= to; ++k) r = 1 + r * (static_cast<double>(k) / load);
  return r;
}

// Stirling series: lgamma(z) - ((z - 1/2) ln z - z + ln(2 pi) / 2).
double StirlingCorrection(double z) {
  const double r = 1 / z;
  const double r2 = r * r;
  return r * (1.0 / 12 - r2 * (1.0 / 360 - r2 * (1.0 / 1260 - r2 / 1680)));
}

// log t_k = sum_{i=1..k} log(y / (x + i)), k >= 1.
double LogTerm(double x, double y, int64_t k) {
  int64_t direct = k;
  if (k > kDirectLogTerms) {
    // Enough explicit terms that the rest starts at x + i >= kStirlingMin.
    direct = std::clamp<int64_t>(static_cast<int64_t>(std::ceil(kStirlingMin - 1 - x)), 0, k);
  }
  double sum = 0;
  for (int64_t i = 1; i <= direct; ++i) sum += std::log(y / (x + static_cast<double>(i)));
  if (direct == k) return sum;
  // sum_{i=direct+1..k} log(y / (x + i)) = K log y - (lgamma(a + K) - lgamma(a))
  // with a = x + direct + 1 and K = k - direct, and by Stirling
  // lgamma(a + K) - lgamma(a) = (a - 1/2) log1p(K / a) + K log(a + K) - K + dc.
  const double a = x + static_cast<double>(direct + 1);
  const double big_k = static_cast<double>(k - direct);
  return sum - (a - 0.5) * std::log1p(big_k / a) - big_k * std::log((a + big_k) / y) + big_k -
         (StirlingCorrection(a + big_k) - StirlingCorrection(a));
}

// The sums of t_j = prod_{i=1..j} y / (x + i), relative to the largest term.
struct ChainSums {
  double log_peak = 0;  // log of the largest term t_{j*}
  double t0 = 1;        // t_0 / t_{j*} = exp(-log_peak)
  double s1 = 0;        // sum_{j>=1} t_j / t_{j*}
  double m1 = 0;        // sum_{j>=1} j t_j / t_{j*}
};

ChainSums SumChain(double x, double y) {
  ChainSums out;
  if (!(y > 0)) return out;
  const double rise = y - x;
  const int64_t peak = rise >= 1 ? static_cast<int64_t>(std::floor(rise)) : 0;
  if (peak > 0) {
    out.log_peak = LogTerm(x, y, peak);
    out.s1 = 1;
    out.m1 = static_cast<double>(peak);
  }
  // Up from the peak: ratios y / (x + j) < 1 and falling, so the rest after
  // term j is at most t_j r / (1 - r) (and sum of j t_j likewise).
  double t = 1;
  for (int64_t j = peak + 1;; ++j) {
    const double jd = static_cast<double>(j);
    const double r = y / (x + jd);
    t *= r;
    out.s1 += t;
    out.m1 += jd * t;
    if (r < 1) {
      const double g = r / (1 - r);
      if (t * g <= kSumTolerance * (out.s1 + out.t0) &&
          t * (jd * g + g / (1 - r)) <= kSumTolerance * out.m1) {
        break;
      }
    }
  }
  if (peak == 0) return out;
  // Down from the peak to t_0: ratios (x + j) / y <= 1, falling as j falls.
  t = 1;
  for (int64_t j = peak; j >= 1; --j) {
    const double q = (x + static_cast<double>(j)) / y;
    t *= q;  // t_{j-1}
    if (j == 1) {
      out.t0 = t;
      return out;
    }
    const double jd = static_cast<double>(j - 1);
    out.s1 += t;
    out.m1 += jd * t;
    if (q < 1) {
      const double g = q / (1 - q);
      if (t * g <= kSumTolerance * out.s1 && jd * t * g <= kSumTolerance * out.m1) break;
    }
  }
  out.t0 = std::exp(-out.log_peak);  // negligible against the sums
  return out;
}

QueueMetrics ErlangCAt(const Model& m, int64_t n, double b) {
  QueueMetrics out;
  out.offered_load_erlangs = m.load;
  if (m.lambda == 0) return out;  // nobody calls: no wait, service level 1
  const double nd = static_cast<double>(n);
  if (m.load >= nd) {
    out.p_wait = 1;
    out.mean_wait_seconds = kInf;
    out.service_level = 0;
    out.occupancy = n > 0 ? 1 : 0;
    out.stable = false;
    return out;
  }
  const double c = std::min(1.0, nd * b / (nd - m.load * (1 - b)));
  const double drain = (nd - m.load) * m.mu;  // n mu - lambda
  out.p_wait = c;
  out.mean_wait_seconds = c / drain;
  out.service_level = std::clamp(1 - c * std::exp(-drain * m.answer_within), 0.0, 1.0);
  out.occupancy = m.load / nd;
  return out;
}

QueueMetrics ErlangAAt(const Model& m, int64_t n, double b) {
  QueueMetrics out;
  out.offered_load_erlangs = m.load;
  if (m.lambda == 0) return out;
  if (n == 0) {  // everyone waits until they give up
    out.p_wait = 1;
    out.mean_wait_seconds = m.patience;
    out.p_abandon = 1;
    out.service_level = 0;
    return out;
  }
  const double nd = static_cast<double>(n);
  const double x = nd * m.mu / m.theta;
  const double y = m.lambda / m.theta;
  const ChainSums c = SumChain(x, y);
  // pi(n) = 1 / (1/B + S1) = exp(-log_peak) / denom, with S1 = e^log_peak s1.
  // B == 0 (underflow, n >> load) gives inv_w = +inf: no waiting at all.
  const double inv_w = std::exp(-(std::log(b) + c.log_peak));
  const double denom = inv_w + c.s1;
  out.p_wait = std::min(1.0, (c.t0 + c.s1) / denom);
  out.mean_wait_seconds = c.m1 / denom / m.lambda;
  out.p_abandon = std::min(1.0, m.theta * out.mean_wait_seconds);
  double answered_late = 0;  // P(answered, wait > T)
  if (b > 0) {
    const double t = m.answer_within;
    const double shrink = std::exp(-m.theta * t);
    const ChainSums late = SumChain(x + 1, y * shrink);
    const double log_d = -(nd * m.mu + m.theta) * t - y * std::expm1(-m.theta * t);
    const double log_late = -c.log_peak - std::log(denom) - std::log1p(1 / x) + log_d +
                            late.log_peak + std::log(late.t0 + late.s1);
    answered_late = std::exp(log_late);
  }
  out.service_level = std::clamp(1 - out.p_abandon - answered_late, 0.0, 1.0);
  out.occupancy = std::min(1.0, m.load * (1 - out.p_abandon) / nd);
  return out;
}

QueueMetrics EvaluateAt(const Model& m, int64_t n, double b) {
  return m.abandonment ? ErlangAAt(m, n, b) : ErlangCAt(m, n, b);
}

absl::Status ValidateLoad(double load) {
  if (!std::isfinite(load) || load < 0) {
    return Invalid("offered_load_erlangs", "a finite number >= 0", load);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<double> ErlangB(int agents, double offered_load_erlangs) {
  RETURN_IF_ERROR(ValidateAgents("agents", agents));
  RETURN_IF_ERROR(ValidateLoad(offered_load_erlangs));
  return 1 / AdvanceInverseErlangB(1, 0, agents, offered_load_erlangs);
}

absl::StatusOr<double> ErlangC(int agents, double offered_load_erlangs) {
  RETURN_IF_ERROR(ValidateAgents("agents", agents));
  RETURN_IF_ERROR(ValidateLoad(offered_load_erlangs));
  Model m;
  m.load = offered_load_erlangs;
  m.lambda = offered_load_erlangs;  // any rate with this load: C depends on the load only
  m.mu = 1;
  const double b = 1 / AdvanceInverseErlangB(1, 0, agents, offered_load_erlangs);
  return ErlangCAt(m, agents, b).p_wait;
}

absl::StatusOr<QueueMetrics> Evaluate(const QueueParams& params, double answer_within_seconds) {
  RETURN_IF_ERROR(ValidateQueue(params));
  RETURN_IF_ERROR(ValidateAgents("agents", params.agents));
  RETURN_IF_ERROR(ValidateAnswerWithin(answer_within_seconds));
  const Model m = MakeModel(params, answer_within_seconds);
  const double b = 1 / AdvanceInverseErlangB(1, 0, params.agents, m.load);
  return EvaluateAt(m, params.agents, b);
}

absl::StatusOr<QueueMetrics> ErlangA(const QueueParams& params, double answer_within_seconds) {
  if (!params.mean_patience_seconds.has_value()) {
    return absl::InvalidArgumentError(
        "mean_patience_seconds must be set for Erlang A (without it the model is Erlang C)");
  }
  return Evaluate(params, answer_within_seconds);
}

absl::StatusOr<int> AgentsNeeded(const QueueParams& params, const StaffingTarget& target,
                                 int max_agents) {
  RETURN_IF_ERROR(ValidateQueue(params));
  RETURN_IF_ERROR(ValidateAgents("max_agents", max_agents));
  RETURN_IF_ERROR(ValidateAnswerWithin(target.answer_within_seconds));
  if (!(target.service_level > 0 && target.service_level < 1)) {
    return Invalid("service_level target", "in (0, 1)", target.service_level);
  }
  if (!(target.max_abandon > 0 && target.max_abandon <= 1)) {
    return Invalid("max_abandon", "in (0, 1]", target.max_abandon);
  }
  const Model m = MakeModel(params, target.answer_within_seconds);
  if (m.lambda == 0) return 0;

  // `r` is 1 / Erlang B for n agents.
  auto meets = [&](int64_t n, double r) {
    const QueueMetrics q = EvaluateAt(m, n, 1 / r);
    return q.stable && q.service_level >= target.service_level && q.p_abandon <= target.max_abandon;
  };
  auto out_of_range = [&] {
    return absl::OutOfRangeError(
        absl::StrCat("no staffing up to max_agents ", max_agents, " meets service level ",
                     target.service_level, " within ", target.answer_within_seconds, "s",
                     m.abandonment ? absl::StrCat(" and abandonment <= ", target.max_abandon) : "",
                     " for an offered load of ", m.load, " erlangs"));
  };

  // Lower bound: fewer agents than this cannot meet the target. Erlang C
  // needs n > a to be stable. Erlang A serves a fraction p of the calls with
  // p >= max(1 - max_abandon, service_level), and the carried load a p is
  // the mean number of busy agents, at most n. One below, for rounding.
  double bound;
  if (m.abandonment) {
    const double served = std::max(1 - target.max_abandon, target.service_level);
    bound = std::max(0.0, std::ceil(m.load * served) - 1);
  } else {
    bound = std::floor(m.load) + 1;
  }
  if (bound > max_agents) return out_of_range();
  int64_t bad = static_cast<int64_t>(bound);
  double r_bad = AdvanceInverseErlangB(1, 0, bad, m.load);
  if (meets(bad, r_bad)) return static_cast<int>(bad);

  // Gallop up from the failing bound, then bisect: both metrics are monotone
  // in n. Erlang B is carried forward from the last failing n, so every n is
  // evaluated with exactly the value Evaluate() would compute.
  int64_t good = -1;
  for (int64_t step = 1; good < 0; step *= 2) {
    if (bad >= max_agents) return out_of_range();
    const int64_t n = std::min<int64_t>(bad + step, max_agents);
    const double r = AdvanceInverseErlangB(r_bad, bad, n, m.load);
    if (meets(n, r)) {
      good = n;
    } else {
      bad = n;
      r_bad = r;
    }
  }
  while (good - bad > 1) {
    const int64_t mid = bad + (good - bad) / 2;
    const double r = AdvanceInverseErlangB(r_bad, bad, mid, m.load);
    if (meets(mid, r)) {
      good = mid;
    } else {
      bad = mid;
      r_bad = r;
    }
  }
  return static_cast<int>(good);
}

}  // namespace tidewatch::capacity
