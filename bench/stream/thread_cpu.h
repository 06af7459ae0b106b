// CPU time of this process's threads, grouped by thread name, for the
// stream benches: where a run's CPU went (the poll thread, librdkafka's
// broker threads, the in-process broker's thread), next to its wall time.
//
//   ThreadCpu before = ThreadCpu::Now();
//   ... run ...
//   std::string line = ThreadCpu::Now().Since(before).Summary(wall_seconds);
//
// Linux only: reads /proc/self/task and each thread's CPU clock (ns
// resolution). Threads that exit during the run are not counted: take the
// second reading before closing the clients.
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

// CPU seconds per thread name.
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
      out.by_tid_[tid] = {Name(tid), ts.tv_sec + ts.tv_nsec * 1e-9};
    }
    closedir(dir);
    return out;
  }

  // CPU seconds per thread name between `before` and this reading (threads
  // started in between count from zero).
  std::map<std::string, double> Since(const ThreadCpu& before) const {
    std::map<std::string, double> out;
    for (const auto& [tid, named] : by_tid_) {
      const auto it = before.by_tid_.find(tid);
      const double start = it == before.by_tid_.end() ? 0 : it->second.second;
      out[named.first] += named.second - start;
    }
    return out;
  }

  // "cpu 1.62 of wall 0.10 s: main 0.09, rdk:broker1 0.05, ..." (threads
  // that used under a millisecond left out).
  static std::string Summary(const std::map<std::string, double>& cpu, double wall) {
    double total = 0;
    std::vector<std::pair<double, std::string>> parts;
    for (const auto& [name, secs] : cpu) {
      total += secs;
      if (secs >= 0.001) parts.emplace_back(secs, name);
    }
    std::sort(parts.rbegin(), parts.rend());
    char buf[128];
    std::snprintf(buf, sizeof buf, "cpu %.3f s in %.3f s wall (%.2f cores):", total, wall,
                  wall > 0 ? total / wall : 0);
    std::string out = buf;
    for (const auto& [secs, name] : parts) {
      std::snprintf(buf, sizeof buf, " %s %.3f", name.c_str(), secs);
      out += buf;
    }
    return out;
  }

 private:
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

  std::map<int, std::pair<std::string, double>> by_tid_;  // tid -> name, seconds
};

}  // namespace tidewatch::bench

#endif  // TIDEWATCH_BENCH_STREAM_THREAD_CPU_H_
