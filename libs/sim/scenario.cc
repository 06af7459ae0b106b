#include "sim/scenario.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "events/events.h"
#include "yaml-cpp/yaml.h"

namespace tidewatch::sim {

static_assert(events::kMaxEventDuration == absl::Seconds(kMaxEventDurationSeconds),
              "the scenario's event duration cap is the events contract's");

Distribution Distribution::Constant(double value) {
  Distribution d;
  d.kind = Kind::kConstant;
  d.mean = value;
  return d;
}

Distribution Distribution::Exponential(double mean) {
  Distribution d;
  d.kind = Kind::kExponential;
  d.mean = mean;
  return d;
}

Distribution Distribution::LogNormal(double mean, double sd) {
  Distribution d;
  d.kind = Kind::kLogNormal;
  d.mean = mean;
  d.sd = sd;
  if (mean > 0 && sd > 0) {
    const double sigma2 = std::log1p((sd / mean) * (sd / mean));
    d.sigma = std::sqrt(sigma2);
    d.mu = std::log(mean) - 0.5 * sigma2;
  }
  return d;
}

Distribution Distribution::Uniform(double min, double max) {
  Distribution d;
  d.kind = Kind::kUniform;
  d.min = min;
  d.max = max;
  d.mean = 0.5 * (min + max);
  return d;
}

double Distribution::Mean() const { return mean; }

double Distribution::Max() const {
  switch (kind) {
    case Kind::kConstant:
      return mean;
    case Kind::kExponential:
      return std::numeric_limits<double>::infinity();
    case Kind::kLogNormal:
      return sigma <= 0 ? mean : std::numeric_limits<double>::infinity();
    case Kind::kUniform:
      return max;
  }
  return std::numeric_limits<double>::infinity();
}

const LineSpec* Scenario::FindLine(std::string_view id) const {
  for (const LineSpec& line : lines) {
    if (line.id == id) return &line;
  }
  return nullptr;
}

std::string_view OriginName(tidewatch::v1::AgentOrigin origin) {
  switch (origin) {
    case tidewatch::v1::AGENT_ORIGIN_CSC:
      return "csc";
    case tidewatch::v1::AGENT_ORIGIN_BACK_OFFICE:
      return "back_office";
    case tidewatch::v1::AGENT_ORIGIN_PERIPATETIC:
      return "peripatetic";
    case tidewatch::v1::AGENT_ORIGIN_CASUAL:
      return "casual";
    default:
      return "unspecified";
  }
}

namespace {

constexpr absl::string_view kDayNames[7] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

// Collects every problem found in one document, each with file, YAML line
// and field path.
class Reader {
 public:
  explicit Reader(absl::string_view filename) : filename_(filename) {}

  void Error(const YAML::Node& at, absl::string_view path, absl::string_view message) {
    int line = -1;
    if (at.IsDefined()) line = at.Mark().line;
    if (line < 0) line = fallback_line_;
    errors_.push_back(
        absl::StrCat(filename_, ":", line >= 0 ? line + 1 : 0, ": ", path, ": ", message));
  }

  bool ok() const { return errors_.empty(); }
  std::string JoinedErrors() const { return absl::StrJoin(errors_, "\n"); }

  // Checks that `node` is a mapping whose keys are all in `allowed` and
  // appear once. Returns false (after reporting) when it is not a mapping.
  bool CheckMap(const YAML::Node& node, absl::string_view path,
                const std::vector<absl::string_view>& allowed) {
    if (!node.IsMap()) {
      Error(node, path, "expected a mapping");
      return false;
    }
    std::set<std::string> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
      const std::string key = it->first.Scalar();
      const std::string key_path = Join(path, key);
      if (!seen.insert(key).second) {
        Error(it->first, key_path, "duplicate key");
        continue;
      }
      bool known = false;
      for (absl::string_view a : allowed) known = known || a == key;
      if (!known) {
        Error(it->first, key_path,
              absl::StrCat("unknown key (expected one of: ", absl::StrJoin(allowed, ", "), ")"));
      }
    }
    return true;
  }

  static std::string Join(absl::string_view path, absl::string_view key) {
    return path.empty() ? std::string(key) : absl::StrCat(path, ".", key);
  }
  static std::string Index(absl::string_view path, size_t i) {
    return absl::StrCat(path, "[", i, "]");
  }

  bool Scalar(const YAML::Node& node, absl::string_view path, std::string* out) {
    if (!node.IsScalar()) {
      Error(node, path, "expected a scalar value");
      return false;
    }
    *out = node.Scalar();
    return true;
  }

  bool String(const YAML::Node& node, absl::string_view path, std::string* out) {
    return Scalar(node, path, out);
  }

  bool Number(const YAML::Node& node, absl::string_view path, double* out) {
    std::string s;
    if (!Scalar(node, path, &s)) return false;
    double v;
    if (!absl::SimpleAtod(s, &v) || !std::isfinite(v)) {
      Error(node, path, absl::StrCat("expected a number, got \"", s, "\""));
      return false;
    }
    *out = v;
    return true;
  }

  bool NonNegative(const YAML::Node& node, absl::string_view path, double* out) {
    double v;
    if (!Number(node, path, &v)) return false;
    if (v < 0) {
      Error(node, path, absl::StrCat("must not be negative (got ", node.Scalar(), ")"));
      return false;
    }
    *out = v;
    return true;
  }

  bool Probability(const YAML::Node& node, absl::string_view path, double* out) {
    double v;
    if (!Number(node, path, &v)) return false;
    if (v < 0 || v > 1) {
      Error(node, path, absl::StrCat("must be a probability in [0, 1] (got ", node.Scalar(), ")"));
      return false;
    }
    *out = v;
    return true;
  }

  bool Integer(const YAML::Node& node, absl::string_view path, int64_t min, int64_t max, int* out) {
    std::string s;
    if (!Scalar(node, path, &s)) return false;
    int64_t v;
    if (!absl::SimpleAtoi(s, &v)) {
      Error(node, path, absl::StrCat("expected a whole number, got \"", s, "\""));
      return false;
    }
    if (v < min || v > max) {
      Error(node, path, absl::StrCat("must be in [", min, ", ", max, "] (got ", v, ")"));
      return false;
    }
    *out = static_cast<int>(v);
    return true;
  }

  // A duration written like "240s", "15m", "1h30m", in seconds: from 0 to
  // `max_seconds`: kMaxDurationSeconds, so that the simulator's
  // milliseconds (and the times it adds them to) stay far from
  // overflowing, or kMaxEventDurationSeconds for what becomes an event's
  // wait, talk or wrap.
  bool Duration(const YAML::Node& node, absl::string_view path, double* out,
                int max_seconds = kMaxDurationSeconds) {
    std::string s;
    if (!Scalar(node, path, &s)) return false;
    absl::Duration d;
    if (!absl::ParseDuration(s, &d) || d == absl::InfiniteDuration() ||
        d == -absl::InfiniteDuration()) {
      Error(
          node, path,
          absl::StrCat("expected a duration like \"240s\", \"15m\" or \"1h30m\", got \"", s, "\""));
      return false;
    }
    if (d < absl::ZeroDuration()) {
      Error(node, path, absl::StrCat("must not be negative (got ", s, ")"));
      return false;
    }
    if (d > absl::Seconds(max_seconds)) {
      Error(node, path,
            absl::StrCat("must be at most ", max_seconds / kSecondsPerDay, " days",
                         max_seconds == kMaxEventDurationSeconds
                             ? " (the events contract's limit on wait, talk and wrap)"
                             : "",
                         " (got ", s, ")"));
      return false;
    }
    *out = absl::ToDoubleSeconds(d);
    return true;
  }

  // Whole seconds (Duration's bound keeps them within an int).
  bool WholeDuration(const YAML::Node& node, absl::string_view path, int* out) {
    double s;
    if (!Duration(node, path, &s)) return false;
    *out = static_cast<int>(std::llround(s));
    return true;
  }

  // Local time of day "HH:MM" or "HH:MM:SS", 00:00 to 24:00 inclusive.
  bool TimeOfDay(const YAML::Node& node, absl::string_view path, int* out) {
    std::string s;
    if (!Scalar(node, path, &s)) return false;
    int parts[3] = {0, 0, 0};
    int nparts = 0;
    bool bad = s.empty();
    size_t i = 0;
    while (!bad && i <= s.size() && nparts < 3) {
      size_t j = i;
      while (j < s.size() && absl::ascii_isdigit(static_cast<unsigned char>(s[j]))) ++j;
      if (j - i != 2) {
        bad = true;
        break;
      }
      parts[nparts++] = (s[i] - '0') * 10 + (s[i + 1] - '0');
      if (j == s.size()) break;
      if (s[j] != ':') {
        bad = true;
        break;
      }
      i = j + 1;
      if (i >= s.size()) bad = true;
    }
    if (bad || nparts < 2 || (nparts == 3 && s.size() != 8) || (nparts == 2 && s.size() != 5)) {
      Error(node, path, absl::StrCat("expected a local time \"HH:MM\", got \"", s, "\""));
      return false;
    }
    const int h = parts[0], m = parts[1], sec = parts[2];
    if (h > 24 || m > 59 || sec > 59 || (h == 24 && (m != 0 || sec != 0))) {
      Error(node, path, absl::StrCat("time of day outside a day (00:00 to 24:00): \"", s, "\""));
      return false;
    }
    *out = h * 3600 + m * 60 + sec;
    return true;
  }

  void set_fallback_line(int line) { fallback_line_ = line; }

 private:
  std::string filename_;
  std::vector<std::string> errors_;
  int fallback_line_ = -1;
};

std::string FormatTimeOfDay(int s) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%02d:%02d", s / 3600, (s / 60) % 60);
  return buf;
}

// Reads `from`/`to` (or the given key names) of `node` into a window and
// checks from < to.
bool ReadWindow(Reader& r, const YAML::Node& node, absl::string_view path,
                absl::string_view from_key, absl::string_view to_key, DayWindow* out) {
  const YAML::Node from = node[std::string(from_key)];
  const YAML::Node to = node[std::string(to_key)];
  bool ok = true;
  if (!from.IsDefined()) {
    r.Error(node, Reader::Join(path, from_key), "missing");
    ok = false;
  }
  if (!to.IsDefined()) {
    r.Error(node, Reader::Join(path, to_key), "missing");
    ok = false;
  }
  if (!ok) return false;
  DayWindow w;
  ok = r.TimeOfDay(from, Reader::Join(path, from_key), &w.from);
  ok = r.TimeOfDay(to, Reader::Join(path, to_key), &w.to) && ok;
  if (!ok) return false;
  if (w.to <= w.from) {
    r.Error(to, Reader::Join(path, to_key),
            absl::StrCat("must be after ", from_key, " (", FormatTimeOfDay(w.from), " to ",
                         FormatTimeOfDay(w.to), " is not a window within a day)"));
    return false;
  }
  *out = w;
  return true;
}

// Reads a distribution whose parameters are durations of at most
// `max_seconds` (see Reader::Duration).
bool ReadDistribution(Reader& r, const YAML::Node& node, absl::string_view path, Distribution* out,
                      int max_seconds) {
  if (node.IsScalar()) {
    double v;
    if (!r.Duration(node, path, &v, max_seconds)) return false;
    *out = Distribution::Constant(v);
    return true;
  }
  if (!node.IsMap()) {
    r.Error(node, path,
            "expected a distribution ({distribution: lognormal, mean: 300s, sd: 120s}) "
            "or a fixed duration (\"30s\")");
    return false;
  }
  const YAML::Node kind_node = node["distribution"];
  if (!kind_node.IsDefined()) {
    r.Error(node, Reader::Join(path, "distribution"),
            "missing (one of: constant, exponential, lognormal, uniform)");
    return false;
  }
  std::string kind;
  if (!r.String(kind_node, Reader::Join(path, "distribution"), &kind)) return false;
  auto param = [&](absl::string_view key, double* v) {
    const YAML::Node n = node[std::string(key)];
    if (!n.IsDefined()) {
      r.Error(node, Reader::Join(path, key), absl::StrCat("missing (needed by ", kind, ")"));
      return false;
    }
    return r.Duration(n, Reader::Join(path, key), v, max_seconds);
  };
  if (kind == "constant") {
    if (!r.CheckMap(node, path, {"distribution", "value"})) return false;
    double v;
    if (!param("value", &v)) return false;
    *out = Distribution::Constant(v);
    return true;
  }
  if (kind == "exponential") {
    if (!r.CheckMap(node, path, {"distribution", "mean"})) return false;
    double mean;
    if (!param("mean", &mean)) return false;
    if (mean <= 0) {
      r.Error(node["mean"], Reader::Join(path, "mean"), "must be positive");
      return false;
    }
    *out = Distribution::Exponential(mean);
    return true;
  }
  if (kind == "lognormal") {
    if (!r.CheckMap(node, path, {"distribution", "mean", "sd"})) return false;
    double mean, sd;
    bool ok = param("mean", &mean);
    ok = param("sd", &sd) && ok;
    if (!ok) return false;
    if (mean <= 0) {
      r.Error(node["mean"], Reader::Join(path, "mean"), "must be positive");
      return false;
    }
    *out = Distribution::LogNormal(mean, sd);
    return true;
  }
  if (kind == "uniform") {
    if (!r.CheckMap(node, path, {"distribution", "min", "max"})) return false;
    double lo, hi;
    bool ok = param("min", &lo);
    ok = param("max", &hi) && ok;
    if (!ok) return false;
    if (hi < lo) {
      r.Error(node["max"], Reader::Join(path, "max"), "must not be below min");
      return false;
    }
    *out = Distribution::Uniform(lo, hi);
    return true;
  }
  r.Error(kind_node, Reader::Join(path, "distribution"),
          absl::StrCat("unknown distribution \"", kind,
                       "\" (expected one of: constant, exponential, lognormal, uniform)"));
  return false;
}

bool ReadOpeningHours(Reader& r, const YAML::Node& node, absl::string_view path, WeeklyHours* out) {
  if (!r.CheckMap(node, path, {"weekly"})) return false;
  const YAML::Node weekly = node["weekly"];
  const std::string wpath = Reader::Join(path, "weekly");
  if (!weekly.IsDefined()) {
    r.Error(node, wpath, "missing");
    return false;
  }
  if (!weekly.IsSequence()) {
    r.Error(weekly, wpath, "expected a list of {days, open, close}");
    return false;
  }
  WeeklyHours hours;
  bool ok = true;
  for (size_t i = 0; i < weekly.size(); ++i) {
    const YAML::Node s = weekly[i];
    const std::string spath = Reader::Index(wpath, i);
    if (!r.CheckMap(s, spath, {"days", "open", "close"})) {
      ok = false;
      continue;
    }
    DayWindow w;
    if (!ReadWindow(r, s, spath, "open", "close", &w)) {
      ok = false;
      continue;
    }
    const YAML::Node days = s["days"];
    const std::string dpath = Reader::Join(spath, "days");
    if (!days.IsDefined() || !days.IsSequence() || days.size() == 0) {
      r.Error(days.IsDefined() ? days : s, dpath, "expected a list of days, e.g. [mon, tue]");
      ok = false;
      continue;
    }
    for (size_t d = 0; d < days.size(); ++d) {
      std::string name;
      if (!r.String(days[d], Reader::Index(dpath, d), &name)) {
        ok = false;
        continue;
      }
      int idx = -1;
      for (int k = 0; k < 7; ++k) {
        if (kDayNames[k] == name) idx = k;
      }
      if (idx < 0) {
        r.Error(days[d], Reader::Index(dpath, d),
                absl::StrCat("unknown day \"", name, "\" (expected mon, tue, ..., sun)"));
        ok = false;
        continue;
      }
      for (const DayWindow& other : hours.days[idx]) {
        if (w.from < other.to && other.from < w.to) {
          r.Error(s, spath, absl::StrCat("overlaps another session on ", name));
          ok = false;
        }
      }
      hours.days[idx].push_back(w);
    }
  }
  for (auto& day : hours.days) {
    std::sort(day.begin(), day.end(),
              [](const DayWindow& a, const DayWindow& b) { return a.from < b.from; });
  }
  if (ok) *out = std::move(hours);
  return ok;
}

bool ReadDayOfWeek(Reader& r, const YAML::Node& node, absl::string_view path,
                   std::array<double, 7>* out) {
  if (node.IsScalar() && node.Scalar() == "flat") {
    out->fill(1.0);
    return true;
  }
  if (!r.CheckMap(node, path, {"mon", "tue", "wed", "thu", "fri", "sat", "sun"})) return false;
  std::array<double, 7> dow;
  dow.fill(1.0);
  bool ok = true;
  for (int k = 0; k < 7; ++k) {
    const YAML::Node n = node[std::string(kDayNames[k])];
    if (n.IsDefined()) ok = r.NonNegative(n, Reader::Join(path, kDayNames[k]), &dow[k]) && ok;
  }
  if (ok) *out = dow;
  return ok;
}

bool ReadIntraday(Reader& r, const YAML::Node& node, absl::string_view path,
                  std::vector<ProfilePoint>* out) {
  if (node.IsScalar() && node.Scalar() == "flat") {
    *out = {{0, 1.0}};
    return true;
  }
  if (!node.IsSequence() || node.size() == 0) {
    r.Error(node, path, "expected \"flat\" or a list of {from: \"HH:MM\", weight: w}");
    return false;
  }
  std::vector<ProfilePoint> points;
  bool ok = true;
  for (size_t i = 0; i < node.size(); ++i) {
    const YAML::Node p = node[i];
    const std::string ppath = Reader::Index(path, i);
    if (!r.CheckMap(p, ppath, {"from", "weight"})) {
      ok = false;
      continue;
    }
    ProfilePoint point;
    if (!p["from"].IsDefined() || !p["weight"].IsDefined()) {
      r.Error(p, ppath, "needs from and weight");
      ok = false;
      continue;
    }
    bool pok = r.TimeOfDay(p["from"], Reader::Join(ppath, "from"), &point.from);
    const std::string wpath = Reader::Join(ppath, "weight");
    if (r.NonNegative(p["weight"], wpath, &point.weight)) {
      if (point.weight > kMaxIntradayWeight) {
        r.Error(p["weight"], wpath,
                absl::StrCat("must be at most ", static_cast<int64_t>(kMaxIntradayWeight),
                             " (weights are relative; got ", p["weight"].Scalar(), ")"));
        pok = false;
      }
    } else {
      pok = false;
    }
    if (!pok) {
      ok = false;
      continue;
    }
    if (!points.empty() && point.from <= points.back().from) {
      r.Error(p["from"], Reader::Join(ppath, "from"),
              "must be later than the previous point's from");
      ok = false;
      continue;
    }
    points.push_back(point);
  }
  if (ok) *out = std::move(points);
  return ok;
}

bool ReadStaffing(Reader& r, const YAML::Node& node, absl::string_view path,
                  std::vector<Shift>* out) {
  if (!node.IsSequence()) {
    r.Error(node, path, "expected a list of {from, to, agents}");
    return false;
  }
  std::vector<Shift> shifts;
  bool ok = true;
  for (size_t i = 0; i < node.size(); ++i) {
    const YAML::Node s = node[i];
    const std::string spath = Reader::Index(path, i);
    if (!r.CheckMap(s, spath, {"from", "to", "agents", "break"})) {
      ok = false;
      continue;
    }
    Shift shift;
    bool sok = ReadWindow(r, s, spath, "from", "to", &shift.hours);
    if (!s["agents"].IsDefined()) {
      r.Error(s, Reader::Join(spath, "agents"), "missing");
      sok = false;
    } else {
      sok = r.Integer(s["agents"], Reader::Join(spath, "agents"), 0, 100000, &shift.agents) && sok;
    }
    if (const YAML::Node b = s["break"]; b.IsDefined()) {
      const std::string bpath = Reader::Join(spath, "break");
      if (r.CheckMap(b, bpath, {"from", "to", "length"})) {
        DayWindow bw;
        bool bok = ReadWindow(r, b, bpath, "from", "to", &bw);
        if (!b["length"].IsDefined()) {
          r.Error(b, Reader::Join(bpath, "length"), "missing");
          bok = false;
        } else {
          bok = r.WholeDuration(b["length"], Reader::Join(bpath, "length"), &shift.break_length) &&
                bok;
        }
        if (bok && sok) {
          if (bw.from < shift.hours.from || bw.to > shift.hours.to) {
            r.Error(b, bpath, "break window must lie within the shift");
            bok = false;
          } else if (shift.break_length <= 0 || shift.break_length > bw.to - bw.from) {
            r.Error(b["length"], Reader::Join(bpath, "length"),
                    "must be positive and fit in the break window");
            bok = false;
          }
        }
        if (bok) shift.break_window = bw;
        sok = sok && bok;
      } else {
        sok = false;
      }
    }
    if (sok) {
      shifts.push_back(shift);
    } else {
      ok = false;
    }
  }
  if (ok) *out = std::move(shifts);
  return ok;
}

// Keys `defaults` may have (a line has these and its volume and staffing).
std::vector<absl::string_view> ShapeKeys() {
  return {"day_of_week",   "intraday",    "opening_hours", "talk",   "wrap",
          "patience",      "ivr_abandon", "callback",      "repeat", "resolved_first_time",
          "queue_timeout", "at_close"};
}

// Reads the keys shared by `defaults` and lines into `spec` (which holds
// the inherited values).
bool ReadLineShape(Reader& r, const YAML::Node& node, absl::string_view path, LineSpec* spec) {
  bool ok = true;
  auto sub = [&](absl::string_view key) { return node[std::string(key)]; };
  auto p = [&](absl::string_view key) { return Reader::Join(path, key); };
  if (YAML::Node n = sub("day_of_week"); n.IsDefined())
    ok = ReadDayOfWeek(r, n, p("day_of_week"), &spec->day_of_week) && ok;
  if (YAML::Node n = sub("intraday"); n.IsDefined())
    ok = ReadIntraday(r, n, p("intraday"), &spec->intraday) && ok;
  if (YAML::Node n = sub("opening_hours"); n.IsDefined())
    ok = ReadOpeningHours(r, n, p("opening_hours"), &spec->hours) && ok;
  if (YAML::Node n = sub("talk"); n.IsDefined())
    ok = ReadDistribution(r, n, p("talk"), &spec->talk, kMaxEventDurationSeconds) && ok;
  if (YAML::Node n = sub("wrap"); n.IsDefined())
    ok = ReadDistribution(r, n, p("wrap"), &spec->wrap, kMaxEventDurationSeconds) && ok;
  if (YAML::Node n = sub("patience"); n.IsDefined())
    ok = ReadDistribution(r, n, p("patience"), &spec->patience, kMaxEventDurationSeconds) && ok;
  if (YAML::Node n = sub("ivr_abandon"); n.IsDefined()) {
    const std::string ipath = p("ivr_abandon");
    if (r.CheckMap(n, ipath, {"share", "from", "to"})) {
      IvrAbandon ivr = spec->ivr_abandon;
      bool iok = true;
      if (n["share"].IsDefined())
        iok = r.Probability(n["share"], Reader::Join(ipath, "share"), &ivr.share) && iok;
      if (n["from"].IsDefined())
        iok = r.Duration(n["from"], Reader::Join(ipath, "from"), &ivr.from,
                         kMaxEventDurationSeconds) &&
              iok;
      if (n["to"].IsDefined())
        iok = r.Duration(n["to"], Reader::Join(ipath, "to"), &ivr.to, kMaxEventDurationSeconds) &&
              iok;
      if (iok && ivr.to < ivr.from) {
        r.Error(n, Reader::Join(ipath, "to"), "must not be before from");
        iok = false;
      }
      if (iok) spec->ivr_abandon = ivr;
      ok = ok && iok;
    } else {
      ok = false;
    }
  }
  if (YAML::Node n = sub("callback"); n.IsDefined()) {
    const std::string cpath = p("callback");
    if (r.CheckMap(n, cpath, {"offer_after", "uptake"})) {
      CallbackOffer cb = spec->callback;
      cb.enabled = true;
      bool cok = true;
      if (n["offer_after"].IsDefined())
        cok = r.Duration(n["offer_after"], Reader::Join(cpath, "offer_after"), &cb.offer_after,
                         kMaxEventDurationSeconds) &&
              cok;
      if (n["uptake"].IsDefined()) {
        cok = r.Probability(n["uptake"], Reader::Join(cpath, "uptake"), &cb.uptake) && cok;
      } else {
        r.Error(n, Reader::Join(cpath, "uptake"), "missing");
        cok = false;
      }
      if (cok) spec->callback = cb;
      ok = ok && cok;
    } else {
      ok = false;
    }
  }
  if (YAML::Node n = sub("repeat"); n.IsDefined()) {
    const std::string rpath = p("repeat");
    if (r.CheckMap(n, rpath, {"share", "delay"})) {
      RepeatCalls rep = spec->repeat;
      bool rok = true;
      if (n["share"].IsDefined())
        rok = r.Probability(n["share"], Reader::Join(rpath, "share"), &rep.share) && rok;
      if (n["delay"].IsDefined())
        rok = ReadDistribution(r, n["delay"], Reader::Join(rpath, "delay"), &rep.delay,
                               kMaxDurationSeconds) &&
              rok;
      if (rok) spec->repeat = rep;
      ok = ok && rok;
    } else {
      ok = false;
    }
  }
  if (YAML::Node n = sub("resolved_first_time"); n.IsDefined()) {
    double v;
    if (r.Probability(n, p("resolved_first_time"), &v)) {
      spec->resolved_first_time = v;
    } else {
      ok = false;
    }
  }
  if (YAML::Node n = sub("queue_timeout"); n.IsDefined()) {
    double v;
    if (n.IsScalar() && n.Scalar() == "none") {
      spec->queue_timeout.reset();
    } else if (r.Duration(n, p("queue_timeout"), &v, kMaxEventDurationSeconds)) {
      if (v <= 0) {
        r.Error(n, p("queue_timeout"), "must be positive (or \"none\")");
        ok = false;
      } else {
        spec->queue_timeout = v;
      }
    } else {
      ok = false;
    }
  }
  if (YAML::Node n = sub("at_close"); n.IsDefined()) {
    std::string v;
    if (r.String(n, p("at_close"), &v)) {
      if (v == "serve") {
        spec->at_close = AtClose::kServe;
      } else if (v == "overflow") {
        spec->at_close = AtClose::kOverflow;
      } else {
        r.Error(n, p("at_close"),
                absl::StrCat("unknown value \"", v, "\" (expected serve or overflow)"));
        ok = false;
      }
    } else {
      ok = false;
    }
  }
  return ok;
}

bool ValidLineId(absl::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!(absl::ascii_islower(static_cast<unsigned char>(c)) ||
          absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) {
      return false;
    }
  }
  return true;
}

LineSpec BuiltInDefaults() {
  LineSpec spec;
  for (int d = 0; d < 5; ++d) spec.hours.days[d] = {{8 * 3600 + 30 * 60, 17 * 3600 + 30 * 60}};
  return spec;
}

bool ReadDay(Reader& r, const YAML::Node& node, absl::string_view path, int days, int* out) {
  return r.Integer(node, path, 1, days, out);
}

// The intraday weight at `s` seconds after local midnight.
double WeightAt(const std::vector<ProfilePoint>& profile, int s) {
  double w = profile.front().weight;
  for (const ProfilePoint& p : profile) {
    if (p.from <= s) w = p.weight;
  }
  return w;
}

// Expected calls on `spec` on a day of weekday `wd` before surges.
double BaseCalls(const LineSpec& spec, int wd) {
  double open_seconds = 0;
  for (const DayWindow& w : spec.hours.days[wd]) open_seconds += w.to - w.from;
  double expected = spec.per_hour ? spec.volume * open_seconds / 3600.0 : spec.volume;
  expected *= spec.day_of_week[wd];
  return expected;
}

// The sum of ExpectedArrivals: a finite sum within kMaxCallsPerLineDay
// means finite arrival rates.
double SurgedCalls(const LineSpec& spec, int wd, const std::vector<const Surge*>& surges) {
  double total = 0;
  for (const ArrivalSegment& a : ExpectedArrivals(spec, wd, surges)) total += a.calls;
  return total;
}

// Whether `calls` expected calls a day are within kMaxCallsPerLineDay
// (false for inf and NaN; a hair of slack for rounding in the sums).
bool CallsWithinCap(double calls) { return calls <= kMaxCallsPerLineDay * (1 + 1e-9); }

// Monday = 0 ... Sunday = 6, as WeeklyHours and day_of_week index days.
int WeekdayIndex(absl::CivilDay day) { return static_cast<int>(absl::GetWeekday(day)); }

// A line's expected calls over the cap on one day of a run: blaming its
// volume (surge < 0) or the multiplier of sc.surges[surge].
struct CallsProblem {
  const LineSpec* spec;
  int surge;
  std::string message;
};

// Holds every line to kMaxCallsPerLineDay on exactly the days of the run
// from `first` (`days` days) on which it opens: first its volume x
// day_of_week, blaming the volume; then that x the surges of the day (the
// simulator's, ExpectedArrivals), blaming the day's surge with the largest
// multiplier. At most one problem per line: its first day over the cap.
std::vector<CallsProblem> DailyCallsProblems(const Scenario& sc, absl::CivilDay first, int days) {
  const std::string cap = absl::StrCat(static_cast<int64_t>(kMaxCallsPerLineDay));
  std::vector<CallsProblem> out;
  for (const LineSpec& spec : sc.lines) {
    for (int d = 0; d < days; ++d) {
      const absl::CivilDay day = first + d;
      const int wd = WeekdayIndex(day);
      if (spec.hours.days[wd].empty()) continue;
      const std::string when =
          absl::StrCat("day ", d + 1, " (", absl::FormatCivilTime(day), ", a ", kDayNames[wd]);
      const double calls = BaseCalls(spec, wd);
      if (!CallsWithinCap(calls)) {
        out.push_back(
            {&spec, -1,
             absl::StrCat("gives ", calls, " expected calls on ", when, ", with day_of_week.",
                          kDayNames[wd], "); must be at most ", cap, " a line a day")});
        break;
      }
      std::vector<const Surge*> surges;  // as the simulator picks them
      int blame = -1;
      for (size_t i = 0; i < sc.surges.size(); ++i) {
        const Surge& s = sc.surges[i];
        if (s.line_id != spec.id || (s.day != 0 && s.day != d + 1)) continue;
        surges.push_back(&s);
        if (blame < 0 || s.multiplier > sc.surges[blame].multiplier) blame = static_cast<int>(i);
      }
      if (surges.empty()) continue;
      const double surged = SurgedCalls(spec, wd, surges);
      if (CallsWithinCap(surged)) continue;
      out.push_back({&spec, blame,
                     absl::StrCat("gives line ", spec.id, " ", surged, " expected calls on ", when,
                                  ", volume x day_of_week x the surges of the day); must be at "
                                  "most ",
                                  cap, " a line a day")});
      break;
    }
  }
  return out;
}

// The field a CallsProblem blames: its path and (for the YAML) its node.
std::string CallsProblemPath(const CallsProblem& p, const std::vector<size_t>& surge_index) {
  if (p.surge >= 0)
    return absl::StrCat(Reader::Index("surges", surge_index[p.surge]), ".multiplier");
  return absl::StrCat("lines.", p.spec->id, ".",
                      p.spec->per_hour ? "calls_per_hour" : "calls_per_day");
}

// The scenario's own run held to the cap (DailyCallsProblems).
// `surge_index` is each of sc.surges' position in the YAML list.
void CheckDailyCalls(Reader& r, const YAML::Node& root, const Scenario& sc,
                     const std::vector<size_t>& surge_index) {
  for (const CallsProblem& p : DailyCallsProblems(sc, sc.date, sc.days)) {
    const YAML::Node node =
        p.surge >= 0
            ? root["surges"][surge_index[p.surge]]["multiplier"]
            : root["lines"][p.spec->id][p.spec->per_hour ? "calls_per_hour" : "calls_per_day"];
    r.Error(node, CallsProblemPath(p, surge_index), p.message);
  }
}

void ParseDocument(Reader& r, const YAML::Node& root, Scenario* sc) {
  if (!r.CheckMap(root, "",
                  {"name", "description", "date", "days", "timezone", "defaults", "lines", "surges",
                   "reinforcements"})) {
    return;
  }
  if (YAML::Node n = root["name"]; n.IsDefined()) r.String(n, "name", &sc->name);
  if (YAML::Node n = root["description"]; n.IsDefined())
    r.String(n, "description", &sc->description);
  bool dates_ok = true;
  if (YAML::Node n = root["date"]; n.IsDefined()) {
    std::string s;
    dates_ok = r.String(n, "date", &s);
    if (dates_ok) {
      absl::CivilDay day;
      if (s.size() != 10 || !absl::ParseCivilTime(s, &day)) {
        r.Error(n, "date", absl::StrCat("expected a date \"YYYY-MM-DD\", got \"", s, "\""));
        dates_ok = false;
      } else {
        sc->date = day;
      }
    }
  }
  if (YAML::Node n = root["days"]; n.IsDefined()) {
    dates_ok = r.Integer(n, "days", 1, 366, &sc->days) && dates_ok;
  }
  if (YAML::Node n = root["timezone"]; n.IsDefined()) r.String(n, "timezone", &sc->timezone);
  if (!absl::LoadTimeZone(sc->timezone, &sc->zone)) {
    r.Error(root["timezone"], "timezone",
            absl::StrCat("unknown time zone \"", sc->timezone,
                         "\" (an IANA name, e.g. Europe/London)"));
    dates_ok = false;
  }

  LineSpec defaults = BuiltInDefaults();
  if (YAML::Node n = root["defaults"]; n.IsDefined()) {
    if (r.CheckMap(n, "defaults", ShapeKeys())) ReadLineShape(r, n, "defaults", &defaults);
  }

  const YAML::Node lines = root["lines"];
  if (!lines.IsDefined()) {
    r.Error(root, "lines", "missing: a scenario needs at least one line");
  } else if (!lines.IsMap() || lines.size() == 0) {
    r.Error(lines, "lines", "expected a mapping of line id to line settings");
  } else {
    std::set<std::string> seen;
    for (auto it = lines.begin(); it != lines.end(); ++it) {
      const std::string id = it->first.Scalar();
      const std::string lpath = Reader::Join("lines", id);
      if (!seen.insert(id).second) {
        r.Error(it->first, lpath, "duplicate line");
        continue;
      }
      if (!ValidLineId(id)) {
        r.Error(it->first, lpath, "line ids use lower-case letters, digits, '-', '_' and '.'");
        continue;
      }
      const YAML::Node ln = it->second;
      // The shape keys (ShapeKeys()) plus volume and staffing.
      if (!r.CheckMap(ln, lpath,
                      {"calls_per_day", "calls_per_hour", "staffing", "day_of_week", "intraday",
                       "opening_hours", "talk", "wrap", "patience", "ivr_abandon", "callback",
                       "repeat", "resolved_first_time", "queue_timeout", "at_close"})) {
        continue;
      }
      LineSpec spec = defaults;
      spec.id = id;
      bool ok = ReadLineShape(r, ln, lpath, &spec);
      const YAML::Node per_day = ln["calls_per_day"];
      const YAML::Node per_hour = ln["calls_per_hour"];
      if (per_day.IsDefined() == per_hour.IsDefined()) {
        r.Error(ln, lpath, "needs exactly one of calls_per_day and calls_per_hour");
        ok = false;
      } else if (per_day.IsDefined()) {
        ok = r.NonNegative(per_day, Reader::Join(lpath, "calls_per_day"), &spec.volume) && ok;
        spec.per_hour = false;
      } else {
        ok = r.NonNegative(per_hour, Reader::Join(lpath, "calls_per_hour"), &spec.volume) && ok;
        spec.per_hour = true;
      }
      if (YAML::Node st = ln["staffing"]; st.IsDefined()) {
        ok = ReadStaffing(r, st, Reader::Join(lpath, "staffing"), &spec.staffing) && ok;
      } else {
        r.Error(ln, Reader::Join(lpath, "staffing"), "missing: who answers this line?");
        ok = false;
      }
      // The intraday profile must give some demand while the line is open.
      if (ok && spec.volume > 0) {
        bool any_open_weight = false;
        for (const auto& day : spec.hours.days) {
          for (const DayWindow& w : day) {
            for (size_t k = 0; k < spec.intraday.size(); ++k) {
              const int from = k == 0 ? 0 : spec.intraday[k].from;
              const int to =
                  k + 1 < spec.intraday.size() ? spec.intraday[k + 1].from : kSecondsPerDay;
              if (spec.intraday[k].weight > 0 && from < w.to && w.from < to) any_open_weight = true;
            }
          }
        }
        if (!any_open_weight) {
          r.Error(ln, lpath, "intraday weights are zero whenever the line is open");
          ok = false;
        }
      }
      if (ok) sc->lines.push_back(std::move(spec));
    }
  }

  std::vector<size_t> surge_index;  // each of sc->surges' position in the YAML list
  if (YAML::Node surges = root["surges"]; surges.IsDefined()) {
    if (!surges.IsSequence()) {
      r.Error(surges, "surges", "expected a list of {name, line, from, to, multiplier}");
    } else {
      for (size_t i = 0; i < surges.size(); ++i) {
        const YAML::Node s = surges[i];
        const std::string spath = Reader::Index("surges", i);
        if (!r.CheckMap(s, spath, {"name", "line", "day", "from", "to", "multiplier"})) continue;
        Surge surge;
        bool ok = true;
        if (s["name"].IsDefined())
          ok = r.String(s["name"], Reader::Join(spath, "name"), &surge.name);
        if (!s["line"].IsDefined()) {
          r.Error(s, Reader::Join(spath, "line"), "missing");
          ok = false;
        } else if (r.String(s["line"], Reader::Join(spath, "line"), &surge.line_id)) {
          if (!lines.IsDefined() || !lines.IsMap() || !lines[surge.line_id].IsDefined()) {
            r.Error(s["line"], Reader::Join(spath, "line"),
                    absl::StrCat("unknown line \"", surge.line_id, "\""));
            ok = false;
          }
        } else {
          ok = false;
        }
        if (s["day"].IsDefined())
          ok = ReadDay(r, s["day"], Reader::Join(spath, "day"), sc->days, &surge.day) && ok;
        ok = ReadWindow(r, s, spath, "from", "to", &surge.hours) && ok;
        if (!s["multiplier"].IsDefined()) {
          r.Error(s, Reader::Join(spath, "multiplier"), "missing");
          ok = false;
        } else {
          ok = r.NonNegative(s["multiplier"], Reader::Join(spath, "multiplier"),
                             &surge.multiplier) &&
               ok;
        }
        if (ok) {
          sc->surges.push_back(std::move(surge));
          surge_index.push_back(i);
        }
      }
    }
  }

  CheckDailyCalls(r, root, *sc, surge_index);

  if (YAML::Node reinf = root["reinforcements"]; reinf.IsDefined()) {
    if (!reinf.IsSequence()) {
      r.Error(reinf, "reinforcements",
              "expected a list of {line, at, agents, origin, eta, duration}");
    } else {
      for (size_t i = 0; i < reinf.size(); ++i) {
        const YAML::Node s = reinf[i];
        const std::string spath = Reader::Index("reinforcements", i);
        if (!r.CheckMap(s, spath,
                        {"name", "line", "day", "at", "eta", "duration", "agents", "origin"})) {
          continue;
        }
        Reinforcement rf;
        bool ok = true;
        if (s["name"].IsDefined()) ok = r.String(s["name"], Reader::Join(spath, "name"), &rf.name);
        for (absl::string_view key : {"line", "at", "duration", "agents", "origin"}) {
          if (!s[std::string(key)].IsDefined()) {
            r.Error(s, Reader::Join(spath, key), "missing");
            ok = false;
          }
        }
        if (!ok) continue;
        if (r.String(s["line"], Reader::Join(spath, "line"), &rf.line_id)) {
          if (!lines.IsDefined() || !lines.IsMap() || !lines[rf.line_id].IsDefined()) {
            r.Error(s["line"], Reader::Join(spath, "line"),
                    absl::StrCat("unknown line \"", rf.line_id, "\""));
            ok = false;
          }
        } else {
          ok = false;
        }
        if (s["day"].IsDefined())
          ok = ReadDay(r, s["day"], Reader::Join(spath, "day"), sc->days, &rf.day) && ok;
        ok = r.TimeOfDay(s["at"], Reader::Join(spath, "at"), &rf.at) && ok;
        if (s["eta"].IsDefined())
          ok = r.WholeDuration(s["eta"], Reader::Join(spath, "eta"), &rf.eta) && ok;
        ok = r.WholeDuration(s["duration"], Reader::Join(spath, "duration"), &rf.duration) && ok;
        ok = r.Integer(s["agents"], Reader::Join(spath, "agents"), 1, kMaxReinforcementAgents,
                       &rf.agents) &&
             ok;
        std::string origin;
        if (r.String(s["origin"], Reader::Join(spath, "origin"), &origin)) {
          if (origin == "back_office") {
            rf.origin = tidewatch::v1::AGENT_ORIGIN_BACK_OFFICE;
          } else if (origin == "peripatetic") {
            rf.origin = tidewatch::v1::AGENT_ORIGIN_PERIPATETIC;
          } else if (origin == "casual") {
            rf.origin = tidewatch::v1::AGENT_ORIGIN_CASUAL;
          } else if (origin == "csc") {
            rf.origin = tidewatch::v1::AGENT_ORIGIN_CSC;
          } else {
            r.Error(s["origin"], Reader::Join(spath, "origin"),
                    absl::StrCat("unknown origin \"", origin,
                                 "\" (expected back_office, peripatetic, casual or csc)"));
            ok = false;
          }
        } else {
          ok = false;
        }
        if (ok && rf.duration <= 0) {
          r.Error(s["duration"], Reader::Join(spath, "duration"), "must be positive");
          ok = false;
        }
        if (ok && rf.at + rf.eta + rf.duration > kSecondsPerDay) {
          r.Error(s["duration"], Reader::Join(spath, "duration"),
                  absl::StrCat("at + eta + duration ends after 24:00 (the schedule must lie within "
                               "the day)"));
          ok = false;
        }
        if (ok) sc->reinforcements.push_back(std::move(rf));
      }
    }
  }

  // Every event the run could write must fall in the events contract's
  // range: blame the date when its first day alone does not fit, else the
  // number of days.
  if (dates_ok) {
    const absl::Status first_day = CheckRunDates(*sc, sc->date, 1);
    const absl::Status run = CheckRunDates(*sc, sc->date, sc->days);
    if (!first_day.ok()) {
      r.Error(root["date"], "date", first_day.message());
    } else if (!run.ok()) {
      r.Error(root["days"], "days", run.message());
    }
  }
}

}  // namespace

std::vector<ArrivalSegment> ExpectedArrivals(const LineSpec& spec, int wd,
                                             const std::vector<const Surge*>& surges) {
  const std::vector<DayWindow>& windows = spec.hours.days[wd];
  double weight_integral = 0;  // weight x local seconds over the open windows
  for (const DayWindow& w : windows) {
    std::vector<int> cuts = {w.from, w.to};
    for (const ProfilePoint& p : spec.intraday) {
      if (p.from > w.from && p.from < w.to) cuts.push_back(p.from);
    }
    std::sort(cuts.begin(), cuts.end());
    for (size_t k = 0; k + 1 < cuts.size(); ++k) {
      weight_integral += WeightAt(spec.intraday, cuts[k]) * (cuts[k + 1] - cuts[k]);
    }
  }
  const double expected = BaseCalls(spec, wd);
  std::vector<ArrivalSegment> out;
  if (expected <= 0 || weight_integral <= 0) return out;
  for (const DayWindow& w : windows) {
    std::vector<int> cuts = {w.from, w.to};
    for (const ProfilePoint& p : spec.intraday) {
      if (p.from > w.from && p.from < w.to) cuts.push_back(p.from);
    }
    for (const Surge* s : surges) {
      for (int c : {s->hours.from, s->hours.to}) {
        if (c > w.from && c < w.to) cuts.push_back(c);
      }
    }
    std::sort(cuts.begin(), cuts.end());
    cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
    for (size_t k = 0; k + 1 < cuts.size(); ++k) {
      const int from = cuts[k];
      const int to = cuts[k + 1];
      double multiplier = 1.0;
      for (const Surge* s : surges) {
        if (s->hours.from <= from && from < s->hours.to) multiplier *= s->multiplier;
      }
      out.push_back(
          {from, to,
           expected * WeightAt(spec.intraday, from) * (to - from) / weight_integral * multiplier});
    }
  }
  return out;
}

namespace {

// Milliseconds as the simulator rounds them.
int64_t RoundMs(double seconds) { return std::llround(seconds * 1000.0); }

// The longest an event duration drawn from `d` can be, in ms (the
// simulator clamps samples to kMaxEventDurationSeconds).
int64_t LongestMs(const Distribution& d) {
  return RoundMs(std::min(d.Max(), static_cast<double>(kMaxEventDurationSeconds)));
}

// The longest a caller of `spec` can wait, in ms: the earliest of patience
// (or the IVR cluster), a call-back taken for sure, and the queue timeout.
int64_t LongestWaitMs(const LineSpec& spec) {
  int64_t wait = 0;
  if (spec.ivr_abandon.share > 0) wait = RoundMs(spec.ivr_abandon.to);
  if (spec.ivr_abandon.share < 1) wait = std::max(wait, LongestMs(spec.patience));
  if (spec.callback.enabled && spec.callback.uptake >= 1) {
    wait = std::min(wait, RoundMs(spec.callback.offer_after));
  }
  if (spec.queue_timeout.has_value()) wait = std::min(wait, RoundMs(*spec.queue_timeout));
  return wait;
}

std::string FormatUtc(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", t, absl::UTCTimeZone());
}

}  // namespace

absl::Status CheckRunDates(const Scenario& sc, absl::CivilDay first, int days,
                           bool live_reinforcements) {
  const absl::Time min = absl::FromUnixSeconds(events::kMinEventTimeUnixSeconds);
  const absl::Time max = absl::FromUnixSeconds(events::kMaxEventTimeUnixSeconds);
  auto local = [&](absl::CivilDay day, int seconds) {
    return absl::FromCivil(absl::CivilSecond(day) + seconds, sc.zone);
  };
  // Earliest and latest event times at worst, and what the latest is.
  absl::Time earliest = absl::InfiniteFuture();
  absl::Time latest = absl::InfinitePast();
  std::string latest_why;
  int64_t longest_handle_ms = 0;  // talk + wrap, over the lines
  for (const LineSpec& spec : sc.lines) {
    const int64_t handle_ms = LongestMs(spec.talk) + LongestMs(spec.wrap);
    longest_handle_ms = std::max(longest_handle_ms, handle_ms);
    // Scheduled activity (opening hours, shifts, reinforcements) of the line.
    absl::Time from = absl::InfiniteFuture();
    absl::Time to = absl::InfinitePast();
    auto add = [&](absl::CivilDay day, int a, int b) {
      from = std::min(from, local(day, a));
      to = std::max(to, local(day, b));
    };
    for (int d = 0; d < days; ++d) {
      const absl::CivilDay day = first + d;
      const std::vector<DayWindow>& windows = spec.hours.days[WeekdayIndex(day)];
      const bool open = !windows.empty();
      if (open) {
        add(day, windows.front().from, windows.back().to);
        for (const Shift& shift : spec.staffing) {
          if (shift.agents > 0) add(day, shift.hours.from, shift.hours.to);
        }
      }
      for (const Reinforcement& rf : sc.reinforcements) {
        if (rf.line_id != spec.id || (rf.day == 0 ? !open : rf.day != d + 1)) continue;
        add(day, rf.at + rf.eta, rf.at + rf.eta + rf.duration);
      }
    }
    if (from == absl::InfiniteFuture()) continue;  // nothing happens on this line
    earliest = std::min(earliest, from);
    // Calls queued before closing can wait (serve) and then be answered.
    const int64_t tail_ms =
        (spec.at_close == AtClose::kServe ? LongestWaitMs(spec) : 0) + handle_ms;
    const absl::Time end = to + absl::Milliseconds(tail_ms);
    if (end > latest) {
      latest = end;
      latest_why = absl::StrCat("the last closing, shift or reinforcement end of line ", spec.id,
                                ", ", FormatUtc(to), ", plus its longest wait, talk and wrap, ",
                                absl::FormatDuration(absl::Milliseconds(tail_ms)));
    }
  }
  if (earliest == absl::InfiniteFuture()) return absl::OkStatus();  // writes nothing
  if (live_reinforcements) {
    // Live people are sent until the last day ends, stay at most a day
    // (at + eta + duration within a day) and may make a call-back at the end.
    const absl::Time end =
        local(first + days, 0) + absl::Hours(24) + absl::Milliseconds(longest_handle_ms);
    if (end > latest) {
      latest = end;
      latest_why = absl::StrCat(
          "the end of the last day, a day for reinforcements sent live, "
          "and the longest talk and wrap, ",
          absl::FormatDuration(absl::Milliseconds(longest_handle_ms)));
    }
  }
  const std::string run = absl::StrCat(absl::FormatCivilTime(first), " for ", days,
                                       days == 1 ? " day" : " days", " in ", sc.zone.name(),
                                       " does not fit the events' event_time range "
                                       "[2000-01-01, 2100-01-01) UTC: ");
  if (earliest < min) {
    return absl::InvalidArgumentError(
        absl::StrCat(run, "the first event could be at ", FormatUtc(earliest),
                     " (the first opening, shift start or reinforcement login)"));
  }
  if (latest >= max) {
    return absl::InvalidArgumentError(
        absl::StrCat(run, "the last event could be at ", FormatUtc(latest), " (", latest_why, ")"));
  }
  return absl::OkStatus();
}

absl::Status CheckRun(const Scenario& scenario, absl::CivilDay first, bool live_reinforcements) {
  std::vector<std::string> problems;
  if (absl::Status s = CheckRunDates(scenario, first, scenario.days, live_reinforcements);
      !s.ok()) {
    problems.emplace_back(s.message());
  }
  // A loaded scenario keeps every surge, in YAML order.
  std::vector<size_t> identity(scenario.surges.size());
  for (size_t i = 0; i < identity.size(); ++i) identity[i] = i;
  for (const CallsProblem& p : DailyCallsProblems(scenario, first, scenario.days)) {
    problems.push_back(absl::StrCat(CallsProblemPath(p, identity), ": ", p.message));
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));
}

absl::StatusOr<Scenario> ParseScenarioYaml(std::string_view yaml_text,
                                           std::string_view filename_text) {
  const absl::string_view yaml(yaml_text.data(), yaml_text.size());
  const absl::string_view filename(filename_text.data(), filename_text.size());
  Reader r(filename);
  Scenario sc;
  try {
    const YAML::Node root = YAML::Load(std::string(yaml));
    if (!root.IsDefined() || root.IsNull()) {
      return absl::InvalidArgumentError(absl::StrCat(filename, ":1: the scenario is empty"));
    }
    r.set_fallback_line(root.Mark().line);
    ParseDocument(r, root, &sc);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(filename, ":", e.mark.line + 1, ": YAML syntax error: ", e.msg));
  }
  if (!r.ok()) return absl::InvalidArgumentError(r.JoinedErrors());
  if (sc.name.empty()) sc.name = std::string(filename);
  return sc;
}

absl::StatusOr<Scenario> LoadScenarioFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open scenario file ", path));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat("cannot read scenario file ", path));
  std::string_view base = path;
  if (size_t slash = base.find_last_of('/'); slash != std::string_view::npos) {
    base.remove_prefix(slash + 1);
  }
  return ParseScenarioYaml(text.str(), base);
}

}  // namespace tidewatch::sim
