// Tests of the operational endpoints' HTTP server: handlers that throw, and
// idle connections, must not take the probes down.
#include "http/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace tidewatch::http {
namespace {

// A TCP connection to 127.0.0.1:port (-1 on failure); reads give up after
// `timeout_s` seconds.
int Connect(int port, int timeout_s) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  timeval tv{timeout_s, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// GET `path`; the whole answer, or "" when none came within `timeout_s`.
std::string Get(int port, const std::string& path, int timeout_s = 5) {
  const int fd = Connect(port, timeout_s);
  if (fd < 0) return "";
  const std::string request = absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: x\r\n\r\n");
  if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return "";
  }
  std::string answer;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;  // closed (Connection: close), or the timeout
    answer.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return answer;
}

HttpServer::Handlers Handlers() {
  HttpServer::Handlers h;
  h["/healthz"] = [](const HttpRequest&) { return HttpResponse{200, "text/plain", "ok\n"}; };
  h["/throws"] = [](const HttpRequest&) -> HttpResponse {
    throw std::runtime_error("rendering failed");
  };
  return h;
}

TEST(HttpServerTest, AnswersAndSaysWhichPathsItDoesNotKnow) {
  auto server = HttpServer::Start("127.0.0.1:0", Handlers());
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string ok = Get((*server)->port(), "/healthz");
  EXPECT_EQ(ok.rfind("HTTP/1.1 200", 0), 0u) << ok;
  EXPECT_NE(ok.find("\r\n\r\nok\n"), std::string::npos) << ok;
  const std::string missing = Get((*server)->port(), "/nope");
  EXPECT_EQ(missing.rfind("HTTP/1.1 404", 0), 0u) << missing;
}

// An exception unwinding into civetweb's C code ended the process.
TEST(HttpServerTest, AHandlerThatThrowsAnswers500AndTheServerGoesOn) {
  auto server = HttpServer::Start("127.0.0.1:0", Handlers());
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string failed = Get((*server)->port(), "/throws");
  EXPECT_EQ(failed.rfind("HTTP/1.1 500 Internal Server Error\r\n", 0), 0u) << failed;
  EXPECT_NE(failed.find("rendering failed"), std::string::npos) << failed;
  const std::string ok = Get((*server)->port(), "/healthz");
  EXPECT_EQ(ok.rfind("HTTP/1.1 200", 0), 0u) << ok;
}

// Connections that send nothing each hold a worker thread until the
// request timeout: eight of them took every thread (there were four, for
// 10 s), and a liveness probe behind them got no answer.
TEST(HttpServerTest, IdleConnectionsDoNotStarveTheProbes) {
  auto server = HttpServer::Start("127.0.0.1:0", Handlers());
  ASSERT_TRUE(server.ok()) << server.status();
  std::vector<int> idle;
  for (int i = 0; i < 8; ++i) {
    const int fd = Connect((*server)->port(), 1);
    ASSERT_GE(fd, 0);
    idle.push_back(fd);
  }
  // (A probe's patience, not a timing: without free threads it waits for
  // the idle connections' request timeout.)
  const std::string ok = Get((*server)->port(), "/healthz", /*timeout_s=*/2);
  for (int fd : idle) close(fd);
  EXPECT_EQ(ok.rfind("HTTP/1.1 200", 0), 0u) << "no answer behind idle connections: " << ok;
}

}  // namespace
}  // namespace tidewatch::http
