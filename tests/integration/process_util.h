// Helpers for tests that run tidewatch's binaries as real processes: a
// child process with its output in files (killed with the test), a tiny
// HTTP GET, waiting with a deadline, and the dev broker / tidewatchd start-up
// handshakes, the binaries' paths, and TestChildren: a test's children and
// their log directory, cleaned up in TearDown. Used by
// tidewatchd_process_test.cc and queuelog_e2e_test.cc.
#ifndef TIDEWATCH_TESTS_INTEGRATION_PROCESS_UTIL_H_
#define TIDEWATCH_TESTS_INTEGRATION_PROCESS_UTIL_H_

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace tidewatch::testing {

// The built binaries the integration tests run, and the scenario they use.
inline constexpr char kBroker[] =
    TIDEWATCH_BINARY_DIR "/services/kafka-dev-broker/kafka-dev-broker";
inline constexpr char kTidewatchd[] = TIDEWATCH_BINARY_DIR "/services/tidewatchd/tidewatchd";
inline constexpr char kTideSim[] = TIDEWATCH_BINARY_DIR "/services/tide-sim/tide-sim";
inline constexpr char kBridge[] = TIDEWATCH_BINARY_DIR "/services/queuelog-bridge/queuelog-bridge";
inline constexpr char kTidectl[] = TIDEWATCH_BINARY_DIR "/services/tidectl/tidectl";
inline constexpr char kSummonsScenario[] =
    TIDEWATCH_SOURCE_DIR "/deploy/scenarios/council-tax-summons.yaml";

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The last `lines` lines of `text`.
inline std::string Tail(const std::string& text, int lines) {
  size_t pos = text.size();
  for (int i = 0; i <= lines && pos != std::string::npos && pos > 0; ++i) {
    pos = text.rfind('\n', pos - 1);
  }
  return pos == std::string::npos ? text : text.substr(pos + 1);
}

// Calls `done` every `every` until it is true or `timeout` passed.
inline bool WaitFor(const std::function<bool()>& done, absl::Duration timeout,
                    absl::Duration every = absl::Milliseconds(200)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (done()) return true;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(every);
  }
}

// A child process with stdout and stderr in files. Dies with the test
// process (PR_SET_PDEATHSIG) and is SIGKILLed and reaped when destroyed.
class Child {
 public:
  // Starts `argv` (argv[0] is the executable's path); `stdin_path` (may be
  // empty) becomes its standard input.
  static absl::StatusOr<std::unique_ptr<Child>> Spawn(const std::string& name,
                                                      std::vector<std::string> argv,
                                                      const std::string& dir,
                                                      const std::string& stdin_path = "") {
    auto child = std::unique_ptr<Child>(new Child());
    child->name_ = name;
    child->out_path_ = absl::StrCat(dir, "/", name, ".stdout");
    child->err_path_ = absl::StrCat(dir, "/", name, ".stderr");
    const int out = open(child->out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    const int err = open(child->err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    const int in = stdin_path.empty() ? -1 : open(stdin_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (out < 0 || err < 0 || (!stdin_path.empty() && in < 0)) {
      if (out >= 0) close(out);
      if (err >= 0) close(err);
      if (in >= 0) close(in);
      return absl::InternalError(absl::StrCat("cannot create logs in ", dir));
    }
    std::vector<char*> args;
    for (std::string& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid == 0) {
      // Only async-signal-safe calls from here to exec.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);
      dup2(out, 1);
      dup2(err, 2);
      if (in >= 0) dup2(in, 0);
      execv(args[0], args.data());
      _exit(127);
    }
    close(out);
    close(err);
    if (in >= 0) close(in);
    if (pid < 0) return absl::InternalError("fork failed");
    child->pid_ = pid;
    std::printf("[spawn] %s (pid %d): %s\n", name.c_str(), pid, absl::StrJoin(argv, " ").c_str());
    std::fflush(stdout);
    return child;
  }

  ~Child() {
    if (running()) {
      kill(pid_, SIGKILL);
      Wait(absl::Seconds(10));
    }
  }

  const std::string& name() const { return name_; }
  bool running() const { return pid_ > 0 && !status_.has_value(); }
  std::string Stdout() const { return ReadFile(out_path_); }
  std::string Stderr() const { return ReadFile(err_path_); }
  void Signal(int sig) {
    if (running()) kill(pid_, sig);
  }

  // Reaps the child if it has exited, waiting up to `timeout`; the raw wait
  // status, or nullopt if still running.
  std::optional<int> Wait(absl::Duration timeout) {
    if (status_.has_value() || pid_ <= 0) return status_;
    WaitFor(
        [this] {
          int status = 0;
          if (waitpid(pid_, &status, WNOHANG) == pid_) status_ = status;
          return status_.has_value();
        },
        timeout, absl::Milliseconds(10));
    return status_;
  }

  // "exit 0", "signal 9", or "running".
  std::string Describe() const {
    if (!status_.has_value()) return "running";
    if (WIFEXITED(*status_)) return absl::StrCat("exit ", WEXITSTATUS(*status_));
    if (WIFSIGNALED(*status_)) return absl::StrCat("signal ", WTERMSIG(*status_));
    return absl::StrCat("status ", *status_);
  }

 private:
  Child() = default;
  std::string name_;
  std::string out_path_;
  std::string err_path_;
  pid_t pid_ = -1;
  std::optional<int> status_;
};

// The body of GET http://127.0.0.1:port/path when the status is 200.
inline std::optional<std::string> HttpGet(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string request =
        absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buf[16384];
      ssize_t n;
      while ((n = recv(fd, buf, sizeof buf, 0)) > 0) response.append(buf, n);
    }
  }
  close(fd);
  const size_t header_end = response.find("\r\n\r\n");
  if (response.rfind("HTTP/1.", 0) != 0 || header_end == std::string::npos ||
      response.substr(9, 3) != "200") {
    return std::nullopt;
  }
  return response.substr(header_end + 4);
}

// Waits for kafka-dev-broker's "bootstrap=" line and its topic lines.
inline std::optional<std::string> WaitForBootstrap(Child& broker,
                                                   const std::vector<std::string>& topics) {
  std::string bootstrap;
  WaitFor(
      [&] {
        if (broker.Wait(absl::ZeroDuration()).has_value()) return true;
        const std::string out = broker.Stdout();
        if (out.rfind("bootstrap=", 0) != 0) return false;
        for (const std::string& t : topics) {
          if (out.find(absl::StrCat("topic=", t, " ")) == std::string::npos) return false;
        }
        bootstrap = out.substr(10, out.find('\n') - 10);
        return true;
      },
      absl::Seconds(15), absl::Milliseconds(20));
  if (bootstrap.empty()) return std::nullopt;
  return bootstrap;
}

// Waits for tidewatchd's "... on port N" log line; the port or 0.
inline int WaitForPort(Child& tidewatchd) {
  int port = 0;
  WaitFor(
      [&] {
        const std::string err = tidewatchd.Stderr();
        const size_t at = err.find(" on port ");
        if (at == std::string::npos) return tidewatchd.Wait(absl::ZeroDuration()).has_value();
        const size_t start = at + 9;
        const size_t end = err.find('\n', start);
        return end != std::string::npos && absl::SimpleAtoi(err.substr(start, end - start), &port);
      },
      absl::Seconds(40), absl::Milliseconds(20));
  return port;
}

// A test's child processes and the fresh temporary directory their logs go
// to. Finish() (from TearDown) kills (SIGKILL) and reaps every child
// whatever happened; on failure it prints the end of each child's stderr and
// keeps the directory (kept too when TIDEWATCH_KEEP_TEST_LOGS is set).
//
//   void SetUp() override { ASSERT_TRUE(children_.Init("my_test")); }
//   void TearDown() override { children_.Finish(HasFailure()); }
//   Child* broker = children_.Spawn("broker", {kBroker});
class TestChildren {
 public:
  // Creates the directory (named after `test_name`); false, with a test
  // failure, if it cannot.
  bool Init(const std::string& test_name) {
    std::string tmpl = absl::StrCat(::testing::TempDir(), test_name, ".XXXXXX");
    if (mkdtemp(tmpl.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp " << tmpl;
      return false;
    }
    dir_ = tmpl;
    std::printf("[dir] %s\n", dir_.c_str());
    return true;
  }

  const std::string& dir() const { return dir_; }

  // Child::Spawn into the directory; nullptr, with a test failure, if it
  // cannot start. The child lives until Finish().
  Child* Spawn(const std::string& name, std::vector<std::string> argv,
               const std::string& stdin_path = "") {
    absl::StatusOr<std::unique_ptr<Child>> c =
        Child::Spawn(name, std::move(argv), dir_, stdin_path);
    if (!c.ok()) {
      ADD_FAILURE() << c.status();
      return nullptr;
    }
    children_.push_back(*std::move(c));
    return children_.back().get();
  }

  // Kills and reaps the children (last started first); see the class
  // comment.
  void Finish(bool failed) {
    for (auto it = children_.rbegin(); it != children_.rend(); ++it) {
      Child& c = **it;
      c.Signal(SIGKILL);
      c.Wait(absl::Seconds(10));
      if (failed) {
        std::printf("---- %s (%s), last stderr lines:\n%s", c.name().c_str(), c.Describe().c_str(),
                    Tail(c.Stderr(), 25).c_str());
      }
    }
    children_.clear();
    if (failed || std::getenv("TIDEWATCH_KEEP_TEST_LOGS") != nullptr) {
      std::printf("[dir] logs kept in %s\n", dir_.c_str());
    } else if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

 private:
  std::string dir_;
  std::vector<std::unique_ptr<Child>> children_;
};

}  // namespace tidewatch::testing

#endif  // TIDEWATCH_TESTS_INTEGRATION_PROCESS_UTIL_H_
