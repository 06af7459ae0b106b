// tidewatch's gRPC server: CallUpService, LineStatusService and
// PolicyService (proto/tidewatch/v1/service.proto), plus the standard gRPC
// health service and server reflection, over TLS (client certificates
// optional) with bearer tokens (auth.h), or insecure for demos.
//
//   ApiServerOptions options;
//   options.address = "127.0.0.1:50051";
//   options.tls_cert_pem = ...; options.tls_key_pem = ...;   // or insecure = true
//   options.authenticator = std::make_shared<Authenticator>(*Authenticator::LoadFile(path));
//   ApiBackends backends{&board, &policy_store, &lines, &sender, &clock};
//   ASSIGN_OR_RETURN(std::unique_ptr<ApiServer> server, ApiServer::Start(options, backends));
//   ...
//   server->Shutdown(absl::Seconds(2));  // watch streams end, then the server stops
//
// Uses gRPC's callback API: watch streams are fed from the board's bounded
// queues as the client reads, so nothing here ever waits on a client in the
// engine's or the board's thread. Acknowledge, Decline and ApplyPolicy wait
// for Kafka to confirm the record (on a gRPC callback thread).
//
// Authorization: every call needs `authorization: Bearer <token>` unless
// there is no authenticator (then every caller is an anonymous admin: the
// demo mode). Reading needs any role; acknowledging and declining need
// responder for the call-up's team (or admin); applying and rolling back
// policy need admin.
#ifndef TIDEWATCH_LIBS_API_API_SERVER_H_
#define TIDEWATCH_LIBS_API_API_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "api/auth.h"
#include "api/callup_board.h"
#include "api/command_sender.h"
#include "api/line_directory.h"
#include "api/policy_store.h"
#include "common/clock.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace tidewatch::api {

// Trailing metadata on every answer tidewatchd's API gives (value "1"):
// a client tells tidewatchd's own errors (Kafka slow, shutting down, a
// refusal) from a connection that failed, whose status gRPC makes up
// without trailers. tidectl says "cannot reach" only without it.
inline constexpr char kAnsweredTrailer[] = "tidewatch-answered";

// Server settings.
struct ApiServerOptions {
  // HOST:PORT; port 0 picks a free one (see ApiServer::port()).
  std::string address = "127.0.0.1:50051";
  // Plaintext: for the embedded demo only.
  bool insecure = false;
  // PEM text of the server's certificate chain and key (required unless
  // insecure), and of the CA that client certificates must chain to (empty:
  // no client certificates asked for; set: required and verified).
  std::string tls_cert_pem;
  std::string tls_key_pem;
  std::string tls_client_ca_pem;
  // Null: no tokens checked (everyone is an anonymous admin).
  std::shared_ptr<const Authenticator> authenticator;
  std::string commands_topic = "tidewatch.commands";
  // Prefix of command ids (unique per instance).
  std::string instance_id = "tidewatchd";
  // Limit on waiting for Kafka to confirm a command.
  absl::Duration send_timeout = absl::Seconds(10);
  // Told of every accepted command and every refusal.
  std::function<void(const std::string&)> on_log;
};

// What the services read and write. All must outlive the server.
struct ApiBackends {
  CallUpBoard* board = nullptr;
  PolicyStore* policy = nullptr;
  LineDirectory* lines = nullptr;
  CommandSender* sender = nullptr;
  const Clock* clock = nullptr;
};

// The running server.
class ApiServer {
 public:
  static absl::StatusOr<std::unique_ptr<ApiServer>> Start(ApiServerOptions options,
                                                          ApiBackends backends);
  ~ApiServer();

  // The port listened on.
  int port() const { return port_; }
  // Ends every watch stream (UNAVAILABLE: shutting down), then stops the
  // server, cancelling calls still running after `deadline`. Idempotent.
  void Shutdown(absl::Duration deadline);

  class Services;

 private:
  ApiServer() = default;

  std::unique_ptr<Services> services_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  bool shut_down_ = false;
};

// Reads a whole file (certificates, keys); NotFound naming it.
absl::StatusOr<std::string> ReadFileText(const std::string& path);

}  // namespace tidewatch::api

#endif  // TIDEWATCH_LIBS_API_API_SERVER_H_
