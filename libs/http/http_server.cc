#include "http/http_server.h"

#include <civetweb.h>

#include <cstring>
#include <exception>
#include <mutex>

#include "absl/strings/str_cat.h"

namespace tidewatch::http {
namespace {

std::once_flag init_once;

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

}  // namespace

int HttpServer::Dispatch(::mg_connection* conn, void* self) {
  auto* server = static_cast<HttpServer*>(self);
  const mg_request_info* info = mg_get_request_info(conn);
  HttpRequest req;
  req.method = info->request_method ? info->request_method : "";
  req.path = info->local_uri ? info->local_uri : "";
  req.query = info->query_string ? info->query_string : "";
  HttpResponse resp;
  auto it = server->handlers_.find(req.path);
  if (it == server->handlers_.end()) {
    resp = {404, "text/plain; charset=utf-8", absl::StrCat("no such endpoint: ", req.path, "\n")};
  } else if (req.method != "GET" && req.method != "HEAD") {
    resp = {405, "text/plain; charset=utf-8", "GET only\n"};
  } else {
    // An exception must not unwind into civetweb's C code (it would end
    // the process): the request fails, the server goes on.
    try {
      resp = it->second(req);
    } catch (const std::exception& e) {
      resp = {500, "text/plain; charset=utf-8", absl::StrCat("internal error: ", e.what(), "\n")};
    } catch (...) {
      resp = {500, "text/plain; charset=utf-8", "internal error\n"};
    }
  }
  mg_printf(conn,
            "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
            "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
            resp.status, Reason(resp.status), resp.content_type.c_str(), resp.body.size());
  if (req.method != "HEAD") mg_write(conn, resp.body.data(), resp.body.size());
  return resp.status;
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const std::string& address,
                                                              Handlers handlers) {
  std::call_once(init_once, [] { mg_init_library(0); });
  std::unique_ptr<HttpServer> server(new HttpServer());
  server->handlers_ = std::move(handlers);
  // Threads for two Prometheus servers, Grafana and the probes at once,
  // with room to spare: a connection that sends nothing holds its thread
  // until request_timeout_ms, so a few idle ones must not starve /healthz
  // (a liveness probe gives up after a few seconds).
  const char* options[] = {"listening_ports",    address.c_str(), "num_threads", "16",
                           "request_timeout_ms", "3000",          nullptr};
  mg_callbacks callbacks;
  std::memset(&callbacks, 0, sizeof callbacks);
  server->ctx_ = mg_start(&callbacks, nullptr, options);
  if (server->ctx_ == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", address, " (in use, or not HOST:PORT?)"));
  }
  mg_set_request_handler(server->ctx_, "/", &HttpServer::Dispatch, server.get());
  mg_server_port ports[4];
  int n = mg_get_server_ports(server->ctx_, 4, ports);
  if (n > 0) server->port_ = ports[0].port;
  return server;
}

HttpServer::~HttpServer() {
  if (ctx_ != nullptr) mg_stop(ctx_);
}

}  // namespace tidewatch::http
