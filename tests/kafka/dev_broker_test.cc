// kafka-dev-broker as a user runs it: prints bootstrap= first, serves the
// default and requested topics to real clients, warns on stderr, exits 0 on
// SIGTERM; bad flags exit 2.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kafka/kafka.h"

extern char** environ;

namespace tidewatch::kafka::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

const std::string kBinary =
    absl::StrCat(TIDEWATCH_BINARY_DIR, "/services/kafka-dev-broker/kafka-dev-broker");

// A running kafka-dev-broker with its stdout and stderr piped to us.
class DevBroker {
 public:
  explicit DevBroker(std::vector<std::string> args) {
    int out[2], err[2];
    EXPECT_EQ(pipe(out), 0);
    EXPECT_EQ(pipe(err), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    posix_spawn_file_actions_addclose(&actions, err[0]);
    args.insert(args.begin(), kBinary);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    EXPECT_EQ(posix_spawn(&pid_, kBinary.c_str(), &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    close(err[1]);
    out_ = out[0];
    err_ = err[0];
  }

  ~DevBroker() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    close(out_);
    close(err_);
  }

  // Reads stdout until `lines` lines arrived or `timeout` passed.
  std::vector<std::string> ReadLines(size_t lines, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (CountLines() < lines && absl::Now() < deadline) {
      pollfd p{out_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      char buf[4096];
      const ssize_t n = read(out_, buf, sizeof buf);
      if (n <= 0) break;
      stdout_.append(buf, n);
    }
    std::vector<std::string> out;
    size_t start = 0;
    for (size_t nl; (nl = stdout_.find('\n', start)) != std::string::npos; start = nl + 1) {
      out.push_back(stdout_.substr(start, nl - start));
    }
    return out;
  }

  // Waits for the process to end; its exit code, or -1.
  int Wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  std::string Stderr() {
    std::string s;
    char buf[4096];
    fcntl(err_, F_SETFL, O_NONBLOCK);
    for (ssize_t n; (n = read(err_, buf, sizeof buf)) > 0;) s.append(buf, n);
    return s;
  }

  pid_t pid() const { return pid_; }

 private:
  size_t CountLines() const {
    size_t n = 0;
    for (char c : stdout_) n += c == '\n';
    return n;
  }

  pid_t pid_ = -1;
  int out_ = -1;
  int err_ = -1;
  std::string stdout_;
};

TEST(DevBrokerTest, PrintsBootstrapServesTopicsAndExitsZeroOnSigterm) {
  DevBroker broker({"--brokers", "2", "--topic", "extra:3", "--topic=tidewatch.state:6"});
  std::vector<std::string> lines = broker.ReadLines(1 + 6, absl::Seconds(10));
  ASSERT_GE(lines.size(), 1u);
  ASSERT_THAT(lines[0], StartsWith("bootstrap=127.0.0.1:"));
  EXPECT_EQ(lines.size(), 7u);
  const std::string bootstrap = lines[0].substr(std::string("bootstrap=").size());
  EXPECT_EQ(std::count(bootstrap.begin(), bootstrap.end(), ','), 1) << bootstrap;

  KafkaConfig config;
  config.bootstrap = bootstrap;
  auto admin = NewAdmin(config);
  ASSERT_TRUE(admin.ok());
  const std::vector<std::pair<std::string, int>> expected = {
      {"telephony.call-events", 12}, {"tidewatch.commands", 12},   {"tidewatch.escalations", 12},
      {"tidewatch.state", 6},        {"tidewatch.dead-letter", 1}, {"extra", 3}};
  for (const auto& [topic, partitions] : expected) {
    auto n = (*admin)->PartitionCount(topic, absl::Seconds(5));
    ASSERT_TRUE(n.ok()) << topic << ": " << n.status();
    EXPECT_EQ(*n, partitions) << topic;
  }

  // A record goes in and comes back out.
  auto producer = NewProducer(config, {});
  ASSERT_TRUE(producer.ok());
  ASSERT_TRUE((*producer)->Produce("extra", "k", "hello").ok());
  ASSERT_TRUE((*producer)->Flush(absl::Seconds(10)).ok());

  ASSERT_EQ(kill(broker.pid(), SIGTERM), 0);
  EXPECT_EQ(broker.Wait(), 0);
  const std::string err = broker.Stderr();
  EXPECT_THAT(err, HasSubstr("development"));
  EXPECT_THAT(err, HasSubstr("Never use it in production"));
}

TEST(DevBrokerTest, BadFlagsExitTwo) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--brokers", "0"}, std::vector<std::string>{"--topic", "nocolon"},
        std::vector<std::string>{"--topic", "t:0"}, std::vector<std::string>{"--what"}}) {
    DevBroker broker(args);
    EXPECT_EQ(broker.Wait(), 2) << args[0];
    EXPECT_THAT(broker.Stderr(), HasSubstr("kafka-dev-broker:"));
  }
}

}  // namespace
}  // namespace tidewatch::kafka::testing
