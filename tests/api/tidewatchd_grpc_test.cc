// tidewatchd's gRPC surface as deployed: the binary with TLS (a certificate
// generated at test time) and a tokens file, driven by tidectl; SIGTERM with
// a watcher connected ends the watch stream and exits 0; against a real
// cluster, the API is never served in plaintext without tokens.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <fstream>
#include <thread>

#include "api_test_util.h"
#include "gmock/gmock.h"
#include "tidewatch/v1/commands.pb.h"

namespace tidewatch::api::testing {
namespace {

using ::testing::HasSubstr;

const std::string kBin = TIDEWATCH_BINARY_DIR;

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A child process with stdout and stderr in files.
class Child {
 public:
  Child(std::vector<std::string> argv, const std::string& out, const std::string& err)
      : out_(out), err_(err) {
    const int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    const int e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    std::vector<char*> args;
    for (std::string& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      dup2(o, 1);
      dup2(e, 2);
      execv(args[0], args.data());
      _exit(127);
    }
    close(o);
    close(e);
  }
  ~Child() {
    if (!status_) {
      kill(pid_, SIGKILL);
      Wait(absl::Seconds(10));
    }
  }
  void Signal(int sig) { kill(pid_, sig); }
  std::optional<int> Wait(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (!status_ && absl::Now() < deadline) {
      int st = 0;
      if (waitpid(pid_, &st, WNOHANG) == pid_) {
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      } else {
        absl::SleepFor(absl::Milliseconds(20));
      }
    }
    return status_;
  }
  std::string Out() const { return ReadText(out_); }
  std::string Err() const { return ReadText(err_); }

 private:
  std::string out_, err_;
  pid_t pid_ = -1;
  std::optional<int> status_;
};

// The gRPC port tidewatchd prints (grpc_port=N) once serving; empty if it
// does not within a minute.
std::string GrpcPortOf(const Child& d) {
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline) {
    const std::string out = d.Out();
    if (size_t at = out.find("grpc_port="); at != std::string::npos) {
      const size_t end = out.find('\n', at);
      if (end != std::string::npos) return out.substr(at + 10, end - at - 10);
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return "";
}

std::string Capture(const std::string& command) {
  FILE* p = popen(absl::StrCat("(", command, ") 2>&1").c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

// Against a real cluster without TLS and tokens the API stays off (and says
// why); the stream processing is unaffected (here it cannot reach the
// broker, which is what ends the run).
TEST(TidewatchdGrpcTest, NoPlaintextApiAgainstARealCluster) {
  const std::string dir = ::testing::TempDir();
  Child d({kBin + "/services/tidewatchd/tidewatchd", "--brokers=127.0.0.1:1", "--metrics_address="},
          dir + "/refuse.out", dir + "/refuse.err");
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (d.Err().find("gRPC API OFF") == std::string::npos && absl::Now() < deadline)
    absl::SleepFor(absl::Milliseconds(20));
  d.Signal(SIGTERM);
  ASSERT_TRUE(d.Wait(absl::Seconds(60)));
  EXPECT_THAT(d.Err(), HasSubstr("gRPC API OFF: against a real cluster it needs --tls_cert, "
                                 "--tls_key and --tokens_file"));
  EXPECT_THAT(d.Out(), ::testing::Not(HasSubstr("grpc_port=")));
}

// TLS flags a plaintext API would ignore are refused at start (exit 2):
// whoever gave them believes the port is encrypted.
TEST(TidewatchdGrpcTest, TlsFlagsWithAPlaintextApiAreRefused) {
  const std::string dir = ::testing::TempDir();
  const std::string d = kBin + "/services/tidewatchd/tidewatchd";
  for (const auto& [flags, want] : std::vector<std::pair<std::string, std::string>>{
           {"--grpc_insecure --tls_cert=c.pem --tls_key=k.pem --tls_client_ca=ca.pem",
            "--grpc_insecure serves plaintext: it cannot be given with --tls_cert"},
           {"--brokers=embedded --tls_client_ca=ca.pem",
            "--tls_key and --tls_client_ca need --tls_cert"}}) {
    const std::string out =
        Capture(absl::StrCat(d, " --metrics_address= ", flags, "; echo exit=$?"));
    EXPECT_THAT(out, HasSubstr(want)) << flags;
    EXPECT_THAT(out, HasSubstr("exit=2")) << out;
  }
}

// A watch whose server stops answering (here frozen with SIGSTOP: the
// kernel still holds the connection, as with a dropped VPN) ends with an
// error after tidectl's keepalive, never a silent wallboard.
TEST(TidewatchdGrpcTest, AWatchOfAServerThatStopsAnsweringEnds) {
  const std::string dir = ::testing::TempDir();
  Child d({kBin + "/services/tidewatchd/tidewatchd", "--grpc_address=127.0.0.1:0",
           "--metrics_address=", "--quiet"},
          dir + "/frozen.out", dir + "/frozen.err");
  const std::string port = GrpcPortOf(d);
  ASSERT_FALSE(port.empty()) << d.Err();
  // Without keepalive it would wait for `timeout` (exit 124).
  std::string watch_out;
  std::thread watch([&] {
    watch_out =
        Capture(absl::StrCat("timeout 120 ", kBin, "/services/tidectl/tidectl watch ",
                             "--server 127.0.0.1:", port, " --keepalive 10s; echo exit=$?"));
  });
  // Connected and live; frozen after several pings (gRPC stops pinging a
  // stream that sends nothing after two, unless told not to).
  absl::SleepFor(absl::Seconds(35));
  d.Signal(SIGSTOP);
  watch.join();
  d.Signal(SIGCONT);
  EXPECT_THAT(watch_out, HasSubstr("-- live"));
  EXPECT_THAT(watch_out, HasSubstr("exit=1")) << watch_out;  // not timeout's 124
  EXPECT_THAT(watch_out,
              HasSubstr("tidectl: lost the connection to tidewatchd at 127.0.0.1:" + port));
}

// An instance that serves no API (here --grpc_address= ; in production also
// one whose TLS flags are missing) still follows the policy topic: a
// version applied through another instance governs its lines too.
TEST(TidewatchdGrpcTest, AnInstanceWithoutTheApiFollowsThePolicyTopic) {
  const std::string dir = ::testing::TempDir();
  Child d({kBin + "/services/tidewatchd/tidewatchd", "--brokers=embedded",
           "--grpc_address=", "--metrics_address=", "--quiet"},
          dir + "/noapi.out", dir + "/noapi.err");
  std::string bootstrap;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline) {
    const std::string out = d.Out();
    if (size_t at = out.find("bootstrap="); at != std::string::npos) {
      const size_t end = out.find('\n', at);
      if (end != std::string::npos) {
        bootstrap = out.substr(at + 10, end - at - 10);
        break;
      }
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_FALSE(bootstrap.empty()) << d.Err();
  while (d.Err().find("running") == std::string::npos && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_THAT(d.Err(), HasSubstr("following tidewatch.policy (no API); policy version 0"));
  EXPECT_THAT(d.Out(), ::testing::Not(HasSubstr("grpc_port=")));

  v1::PolicyVersion pv;
  pv.set_version(1);
  pv.set_yaml(std::string(policy::DefaultPolicyYaml()));
  pv.set_applied_by("ops-lead");
  pv.set_comment("through another instance");
  kafka::KafkaConfig config;
  config.bootstrap = bootstrap;
  auto producer = kafka::NewProducer(config, {});
  ASSERT_TRUE(producer.ok()) << producer.status();
  ASSERT_TRUE((*producer)->Produce("tidewatch.policy", "policy", pv.SerializeAsString()).ok());
  ASSERT_TRUE((*producer)->Flush(absl::Seconds(10)).ok());
  while (d.Err().find("policy version 1 ") == std::string::npos && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_THAT(d.Err(), HasSubstr("in force, applied by ops-lead"));
  d.Signal(SIGTERM);
  std::optional<int> code = d.Wait(absl::Seconds(30));
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 0) << d.Err();
}

// The policy file is read once: it may be a pipe (--policy=/dev/stdin,
// <(envsubst < policy.yaml)), which a second read would find empty or wait
// on for ever. Here a FIFO: tidewatchd runs on what was written to it.
TEST(TidewatchdGrpcTest, APolicyFromAPipeIsReadOnce) {
  const std::string dir = ::testing::TempDir();
  const std::string fifo = dir + "/policy.fifo";
  unlink(fifo.c_str());
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  Child d({kBin + "/services/tidewatchd/tidewatchd", "--brokers=embedded",
           "--grpc_address=", "--metrics_address=", "--quiet", "--policy=" + fifo},
          dir + "/fifo.out", dir + "/fifo.err");
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  // Written once tidewatchd has opened it for reading (a blocking open
  // would hang the test if tidewatchd never did).
  int fd = -1;
  while (fd < 0 && absl::Now() < deadline) {
    fd = open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
      ASSERT_FALSE(d.Wait(absl::ZeroDuration()).has_value()) << d.Err();
      absl::SleepFor(absl::Milliseconds(20));
    }
  }
  ASSERT_GE(fd, 0) << "tidewatchd never opened the policy FIFO: " << d.Err();
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  const std::string_view yaml = policy::DefaultPolicyYaml();
  ASSERT_EQ(write(fd, yaml.data(), yaml.size()), static_cast<ssize_t>(yaml.size()));
  close(fd);
  while (d.Err().find("running") == std::string::npos && absl::Now() < deadline) {
    ASSERT_FALSE(d.Wait(absl::ZeroDuration()).has_value()) << d.Err();
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_THAT(d.Err(), HasSubstr("running"));
  EXPECT_THAT(d.Err(), HasSubstr("policy 'Default council policy': 5 lines"));
  d.Signal(SIGTERM);
  std::optional<int> code = d.Wait(absl::Seconds(30));
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 0) << d.Err();
  unlink(fifo.c_str());
}

TEST(TidewatchdGrpcTest, TlsTokensTidectlAndACleanStop) {
  TlsFiles tls;
  ASSERT_TRUE(tls.ok());
  const std::string dir = ::testing::TempDir();
  const std::string tokens = dir + "/tokens";
  std::ofstream(tokens) << Sha256Hex("admin-x") << " ops admin\n"
                        << Sha256Hex("viewer-x") << " wall viewer\n";
  std::ofstream(dir + "/ca.pem") << tls.Read("ca.pem");
  std::ofstream(dir + "/server.pem") << tls.Read("server.pem");
  std::ofstream(dir + "/server.key") << tls.Read("server.key");
  Child d({kBin + "/services/tidewatchd/tidewatchd", "--grpc_address=127.0.0.1:0",
           "--metrics_address=", "--tls_cert=" + dir + "/server.pem",
           "--tls_key=" + dir + "/server.key", "--tokens_file=" + tokens, "--quiet"},
          dir + "/d.out", dir + "/d.err");
  const std::string port = GrpcPortOf(d);
  ASSERT_FALSE(port.empty()) << d.Err();
  EXPECT_THAT(d.Err(), HasSubstr("TLS, bearer tokens"));
  EXPECT_THAT(d.Err(), HasSubstr("tokens file " + tokens + ": 2 token(s)"));
  const std::string ctl = absl::StrCat(kBin, "/services/tidectl/tidectl");
  const std::string conn = absl::StrCat("--server 127.0.0.1:", port, " --tls_ca ", dir, "/ca.pem");

  EXPECT_THAT(Capture(absl::StrCat(ctl, " status ", conn, " --token viewer-x")),
              HasSubstr("revenues"));
  EXPECT_THAT(Capture(absl::StrCat(ctl, " status ", conn)), HasSubstr("refused: UNAUTHENTICATED"));
  EXPECT_THAT(Capture(absl::StrCat(ctl, " policy rollback ", conn, " --token viewer-x")),
              HasSubstr("refused: PERMISSION_DENIED"));
  // Without the CA, TLS fails: tidectl says it cannot reach the server.
  EXPECT_THAT(Capture(absl::StrCat(ctl, " status --server 127.0.0.1:", port,
                                   " --token viewer-x --timeout 3s")),
              HasSubstr("cannot reach tidewatchd"));

  // A watcher is connected when SIGTERM comes.
  std::string watch_out;
  std::thread watch(
      [&] { watch_out = Capture(absl::StrCat(ctl, " watch ", conn, " --token viewer-x")); });
  absl::SleepFor(absl::Seconds(2));
  d.Signal(SIGTERM);
  std::optional<int> code = d.Wait(absl::Seconds(30));
  watch.join();
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 0) << d.Err();
  EXPECT_THAT(d.Err(), HasSubstr("stopping: ending watch streams, stopping gRPC"));
  EXPECT_THAT(d.Err(), HasSubstr("stopped cleanly"));
  EXPECT_THAT(watch_out, HasSubstr("-- live"));
  EXPECT_THAT(watch_out, HasSubstr("tidewatchd is shutting down"));
}

}  // namespace
}  // namespace tidewatch::api::testing
