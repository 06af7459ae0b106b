// A minimal HTTP server for tidewatch's operational endpoints (/metrics,
// /healthz, /readyz, /lines), over civetweb.
//
//   HttpServer::Handlers handlers;
//   handlers["/healthz"] = [](const HttpRequest&) {
//     return HttpResponse{200, "text/plain", "ok\n"};
//   };
//   ASSIGN_OR_RETURN(auto server, HttpServer::Start("127.0.0.1:0", std::move(handlers)));
//   int port = server->port();
//
// Handlers run on civetweb's worker threads (16): they must be thread-safe.
// A handler that throws answers 500. A connection that sends nothing holds
// a thread for at most 3 s. Stopping (destruction) waits for requests in
// flight.
#ifndef TIDEWATCH_LIBS_HTTP_HTTP_SERVER_H_
#define TIDEWATCH_LIBS_HTTP_HTTP_SERVER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

struct mg_context;
struct mg_connection;

namespace tidewatch::http {

// What a handler sees of a request.
struct HttpRequest {
  std::string method;
  std::string path;
  std::string query;
};

// What a handler answers.
struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// A running server; stops when destroyed.
class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;
  using Handlers = std::map<std::string, Handler>;

  // Listens on "HOST:PORT" (PORT 0: any free port). Unknown paths are 404.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const std::string& address,
                                                           Handlers handlers);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The port actually bound.
  int port() const { return port_; }

 private:
  HttpServer() = default;
  static int Dispatch(::mg_connection* conn, void* self);

  Handlers handlers_;
  mg_context* ctx_ = nullptr;
  int port_ = 0;
};

}  // namespace tidewatch::http

#endif  // TIDEWATCH_LIBS_HTTP_HTTP_SERVER_H_
