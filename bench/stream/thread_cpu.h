// CPU time of this process's threads, grouped by thread name, for the
// stream benches: where a run's CPU went (the poll thread, librdkafka's
// broker threads, the in-process broker's thread), next to its wall time,
// and how long the threads waited for a core and how often they slept.
//
//   ThreadCpu before = ThreadCpu::Now();
//   ... run ...
//   ThreadCpu after = ThreadCpu::Now();
//   std::string line = ThreadCpu::Summary(after.Since(before), wall_seconds) +
//                      ThreadCpu::WaitSummary(after, before);
//
// Linux only: reads /proc/self/task (each thread's CPU clock, ns
// resolution; schedstat; status). Threads that exit during the run are not
// counted: take the second reading before closing the clients.
#ifndef TIDEWATCH_BENCH_STREAM_THREAD_CPU_H_
#define TIDEWATCH_BENCH_STREAM_THREAD_CPU_H_

#include <dirent.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace tidewatch::bench {

// The fields of a /proc/<pid>[/task/<tid>]/stat file after the command
// name (which may hold spaces and parentheses): [0] is the state (the 3rd
// field of proc(5)), [7] minflt (10th), [11] utime and [12] stime (14th,
// 15th, in clock ticks). Empty if the file cannot be read.
inline std::vector<std::string> ProcStatFields(const std::string& path) {
  std::vector<std::string> fields;
  std::FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return fields;
  char line[1024] = {};
  const size_t n = std::fread(line, 1, sizeof line - 1, f);
  std::fclose(f);
  const std::string text(line, n);
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return fields;
  size_t at = close + 1;
  while (at < text.size()) {
    const size_t start = text.find_first_not_of(" \n", at);
    if (start == std::string::npos) break;
    const size_t end = text.find_first_of(" \n", start);
    fields.push_back(text.substr(start, end - start));
    at = end == std::string::npos ? text.size() : end;
  }
  return fields;
}

// CPU seconds, run-queue waits and sleeps per thread name.
class ThreadCpu {
 public:
  static ThreadCpu Now() {
    ThreadCpu out;
    DIR* dir = opendir("/proc/self/task");
    if (dir == nullptr) return out;
    while (dirent* d = readdir(dir)) {
      const int tid = std::atoi(d->d_name);
      if (tid <= 0) continue;
      // The kernel's per-thread CPU clock id (MAKE_THREAD_CPUCLOCK(tid,
      // CPUCLOCK_SCHED)); readable for threads of the calling process.
      const clockid_t clock = static_cast<clockid_t>((~static_cast<unsigned>(tid) << 3) | 6);
      timespec ts{};
      if (clock_gettime(clock, &ts) != 0) continue;
      out.by_tid_[tid] = {Name(tid), ts.tv_sec + ts.tv_nsec * 1e-9, RunQueueWait(tid), Sleeps(tid),
                          MinorFaults(tid)};
    }
    closedir(dir);
    return out;
  }

  // CPU seconds per thread name between `before` and this reading (threads
  // started in between count from zero).
  std::map<std::string, double> Since(const ThreadCpu& before) const {
    return DeltaSince(before, &Reading::cpu);
  }

  // Seconds per thread name, between `before` and this reading, that the
  // threads were ready to run but waited for a core (/proc schedstat).
  std::map<std::string, double> WaitedSince(const ThreadCpu& before) const {
    return DeltaSince(before, &Reading::waited);
  }

  // Times each thread (by name) went to sleep (voluntary context switches:
  // waiting for a lock, a condition, a socket) between `before` and this
  // reading.
  std::map<std::string, double> SleptSince(const ThreadCpu& before) const {
    return DeltaSince(before, &Reading::sleeps);
  }

  // "; waited for a core 0.210 s: main 0.150 tw-engines 0.060; slept main
  // 5200 tw-engines 310; faulted rdk:broker1 41k" between `before` and
  // `after`: how long threads were ready to run but waited for a core, how
  // often each went to sleep (a lock, a condition, a socket) and how many
  // pages each faulted in (fresh memory: the kernel zeroes every page).
  // Threads under a millisecond of waiting, that never slept, or that
  // faulted under a thousand pages are left out.
  static std::string WaitSummary(const ThreadCpu& after, const ThreadCpu& before) {
    double total = 0;
    const std::string listed = Listed(after.WaitedSince(before), &total);
    char buf[64];
    std::snprintf(buf, sizeof buf, "; waited for a core %.3f s:", total);
    std::string out = buf + listed + "; slept";
    for (const auto& [name, n] : after.SleptSince(before)) {
      if (n < 1) continue;
      std::snprintf(buf, sizeof buf, " %.0f", n);
      out += " " + name + buf;
    }
    out += "; faulted";
    for (const auto& [name, n] : after.DeltaSince(before, &Reading::minor_faults)) {
      if (n < 1000) continue;
      std::snprintf(buf, sizeof buf, " %.0fk", n / 1000);
      out += " " + name + buf;
    }
    return out;
  }

  // "cpu 1.62 of wall 0.10 s: main 0.09, rdk:broker1 0.05, ..." (threads
  // that used under a millisecond left out).
  static std::string Summary(const std::map<std::string, double>& cpu, double wall) {
    double total = 0;
    const std::string listed = Listed(cpu, &total);
    char buf[128];
    std::snprintf(buf, sizeof buf, "cpu %.3f s in %.3f s wall (%.2f cores):", total, wall,
                  wall > 0 ? total / wall : 0);
    return buf + listed;
  }

 private:
  // The second field of /proc/self/task/<tid>/schedstat: nanoseconds spent
  // runnable on a run queue, waiting for a core.
  static double RunQueueWait(int tid) {
    const std::string path = "/proc/self/task/" + std::to_string(tid) + "/schedstat";
    std::FILE* f = std::fopen(path.c_str(), "r");
    if (f == nullptr) return 0;
    unsigned long long run = 0, wait = 0;
    const int n = std::fscanf(f, "%llu %llu", &run, &wait);
    std::fclose(f);
    return n == 2 ? static_cast<double>(wait) * 1e-9 : 0;
  }

  // voluntary_ctxt_switches from /proc/self/task/<tid>/status.
  static double Sleeps(int tid) {
    const std::string path = "/proc/self/task/" + std::to_string(tid) + "/status";
    std::FILE* f = std::fopen(path.c_str(), "r");
    if (f == nullptr) return 0;
    char line[256];
    double n = 0;
    while (std::fgets(line, sizeof line, f) != nullptr) {
      if (std::sscanf(line, "voluntary_ctxt_switches: %lf", &n) == 1) break;
    }
    std::fclose(f);
    return n;
  }

  // minflt (the 10th field) of /proc/self/task/<tid>/stat: pages the thread
  // faulted in without I/O.
  static double MinorFaults(int tid) {
    const std::vector<std::string> f =
        ProcStatFields("/proc/self/task/" + std::to_string(tid) + "/stat");
    return f.size() > 7 ? std::atof(f[7].c_str()) : 0;
  }

  static std::string Name(int tid) {
    const std::string path = "/proc/self/task/" + std::to_string(tid) + "/comm";
    std::FILE* f = std::fopen(path.c_str(), "r");
    if (f == nullptr) return "?";
    char buf[64] = {};
    const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    std::string name(buf, n);
    while (!name.empty() && (name.back() == '\n')) name.pop_back();
    return name;
  }

  // One thread's counters at a reading.
  struct Reading {
    std::string name;
    double cpu = 0;     // seconds
    double waited = 0;  // seconds on a run queue
    double sleeps = 0;  // voluntary context switches
    double minor_faults = 0;
  };

  // Per thread name, `field` at this reading less at `before` (threads
  // started in between count from zero).
  std::map<std::string, double> DeltaSince(const ThreadCpu& before, double Reading::*field) const {
    std::map<std::string, double> out;
    for (const auto& [tid, now] : by_tid_) {
      const auto it = before.by_tid_.find(tid);
      out[now.name] += now.*field - (it == before.by_tid_.end() ? 0 : it->second.*field);
    }
    return out;
  }

  // " main 0.090 rdk:broker1 0.050" (largest first; values under 0.001 left
  // out), adding every value to *total.
  static std::string Listed(const std::map<std::string, double>& values, double* total) {
    std::vector<std::pair<double, std::string>> parts;
    for (const auto& [name, v] : values) {
      *total += v;
      if (v >= 0.001) parts.emplace_back(v, name);
    }
    std::sort(parts.rbegin(), parts.rend());
    std::string out;
    char buf[128];
    for (const auto& [v, name] : parts) {
      std::snprintf(buf, sizeof buf, " %s %.3f", name.c_str(), v);
      out += buf;
    }
    return out;
  }

  std::map<int, Reading> by_tid_;
};

}  // namespace tidewatch::bench

#endif  // TIDEWATCH_BENCH_STREAM_THREAD_CPU_H_
