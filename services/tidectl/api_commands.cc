// tidectl's client commands for tidewatchd's gRPC API (docs/api.md): status,
// watch, ack, decline, policy, token.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "api/api_server.h"
#include "api/auth.h"
#include "args.h"
#include "commands.h"
#include "common/proto_time.h"
#include "google/protobuf/util/json_util.h"
#include "policy/policy.h"
#include "tidewatch/v1/service.grpc.pb.h"

namespace tidewatch::tidectl {
namespace {

namespace v1 = tidewatch::v1;

constexpr int kOk = 0;
constexpr int kFailure = 1;
constexpr int kUsage = 2;

std::string ReadAll(const std::string& path, bool* ok) {
  std::ifstream in(path, std::ios::binary);
  *ok = static_cast<bool>(in);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A bad flag value: says why on stderr; returns the usage exit code.
int BadFlag(const absl::Status& s) {
  std::fprintf(stderr, "tidectl: %s\n", std::string(s.message()).c_str());
  return kUsage;
}

void PrintJson(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.add_whitespace = false;
  o.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, o);
  std::printf("%s\n", out.c_str());
  std::fflush(stdout);
}

// Connection flags shared by every client command.
void AddConnectionFlags(CommandArgs& args) {
  args.AddFlag("server", "tidewatchd's gRPC address (default 127.0.0.1:50051)");
  args.AddFlag("token", "bearer token (default: --token_file, else $TIDEWATCH_TOKEN)");
  args.AddFlag("token_file", "file holding the bearer token");
  args.AddFlag("tls_ca", "PEM CA that signed the server's certificate (turns TLS on)");
  args.AddFlag("tls_cert", "PEM client certificate (when the server asks for one)");
  args.AddFlag("tls_key", "PEM key of the client certificate");
  args.AddFlag("timeout",
               "deadline of each call (default 10s; 45s for ack, decline, policy apply and "
               "rollback, which wait for Kafka)");
  args.AddBool("json", "print JSON (the protobuf JSON mapping)");
}

// A connection to tidewatchd as the flags describe it.
struct Client {
  std::string server;
  std::string token;
  absl::Duration timeout = absl::Seconds(10);
  // Calls that change something wait for Kafka on the server (a policy
  // apply up to ~30 s): a shorter deadline would report a change that
  // went through as failed.
  absl::Duration write_timeout = absl::Seconds(45);
  bool json = false;
  std::shared_ptr<grpc::Channel> channel;

  std::unique_ptr<grpc::ClientContext> Context(bool with_deadline = true) const {
    return ContextWithin(with_deadline ? timeout : absl::InfiniteDuration());
  }
  std::unique_ptr<grpc::ClientContext> WriteContext() const { return ContextWithin(write_timeout); }
  std::unique_ptr<grpc::ClientContext> ContextWithin(absl::Duration deadline) const {
    auto ctx = std::make_unique<grpc::ClientContext>();
    if (!token.empty()) ctx->AddMetadata("authorization", absl::StrCat("Bearer ", token));
    if (deadline != absl::InfiniteDuration()) {
      ctx->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::milliseconds(absl::ToInt64Milliseconds(deadline)));
    }
    return ctx;
  }

  // Prints a failed call as the user should read it; returns the exit code.
  // "cannot reach" only when no connection was made: an error tidewatchd
  // itself answered (Kafka slow, say) means the server was reached, and a
  // deadline passed on a connected channel may hide a change that went
  // through.
  int Fail(const grpc::Status& s, const grpc::ClientContext& ctx) const {
    // An answer tidewatchd wrote (api::kAnsweredTrailer), also when the
    // connection closed right after it (a stop sends GOAWAY at once).
    const bool answered = ctx.GetServerTrailingMetadata().count(api::kAnsweredTrailer) > 0;
    // UNAVAILABLE without an answer: no connection made (gRPC's own words
    // for it), else one lost with the call under way (a change may have
    // been made). Told by the status, never by the channel's state, which
    // may still read READY just after a connection was lost. A deadline
    // without an answer on a channel not connected: never connected (a lost
    // connection ends the call at once, UNAVAILABLE).
    const bool unavailable = !answered && s.error_code() == grpc::StatusCode::UNAVAILABLE;
    const bool never_connected = absl::StrContains(s.error_message(), "failed to connect") ||
                                 absl::StrContains(s.error_message(), "DNS resolution failed");
    const bool deadline_unconnected =
        !answered && s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED &&
        channel->GetState(/*try_to_connect=*/false) != GRPC_CHANNEL_READY;
    if ((unavailable && never_connected) || deadline_unconnected) {
      std::fprintf(stderr, "tidectl: cannot reach tidewatchd at %s: %s\n", server.c_str(),
                   s.error_message().c_str());
    } else if (unavailable) {
      std::fprintf(stderr,
                   "tidectl: lost the connection to tidewatchd at %s without an answer: %s; a "
                   "change may still have been made: check (tidectl watch / policy get) before "
                   "trying again\n",
                   server.c_str(), s.error_message().c_str());
    } else if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED &&
               s.error_message() == "Deadline Exceeded") {
      // The client's own deadline (tidewatchd's DEADLINE_EXCEEDED errors
      // say what happened and are printed as they are, below).
      std::fprintf(stderr,
                   "tidectl: no answer from tidewatchd at %s within the deadline (--timeout): "
                   "a change may still have been made; check (tidectl watch / policy get) "
                   "before trying again\n",
                   server.c_str());
    } else {
      static const char* kNames[] = {"OK",
                                     "CANCELLED",
                                     "UNKNOWN",
                                     "INVALID_ARGUMENT",
                                     "DEADLINE_EXCEEDED",
                                     "NOT_FOUND",
                                     "ALREADY_EXISTS",
                                     "PERMISSION_DENIED",
                                     "RESOURCE_EXHAUSTED",
                                     "FAILED_PRECONDITION",
                                     "ABORTED",
                                     "OUT_OF_RANGE",
                                     "UNIMPLEMENTED",
                                     "INTERNAL",
                                     "UNAVAILABLE",
                                     "DATA_LOSS",
                                     "UNAUTHENTICATED"};
      const int code = static_cast<int>(s.error_code());
      std::fprintf(stderr, "tidectl: refused: %s: %s\n",
                   code >= 0 && code <= 16 ? kNames[code] : "?", s.error_message().c_str());
    }
    return kFailure;
  }

  // Ends a command after its call: a failure as Fail prints it; else the
  // response as JSON with --json, or as `print` writes it for people.
  // Returns the exit code.
  int Finish(const grpc::Status& s, const grpc::ClientContext& ctx,
             const google::protobuf::Message& response, const std::function<void()>& print) const {
    if (!s.ok()) return Fail(s, ctx);
    if (json) {
      PrintJson(response);
    } else {
      print();
    }
    return kOk;
  }
};

// Parses the flags; on failure prints why and sets *exit_code.
std::optional<Client> Connect(CommandArgs& args, const std::vector<std::string>& argv,
                              int* exit_code) {
  if (std::optional<int> exit = args.ParseOrExit(argv)) {
    *exit_code = *exit;
    return std::nullopt;
  }
  Client c;
  c.server = args.GetOr("server", "127.0.0.1:50051");
  c.json = args.GetBool("json");
  if (args.Has("timeout")) {
    absl::StatusOr<absl::Duration> t = args.GetDuration("timeout");
    if (!t.ok()) {
      *exit_code = BadFlag(t.status());
      return std::nullopt;
    }
    c.timeout = *t;
    c.write_timeout = *t;
  }
  if (args.Has("token")) {
    c.token = *args.Get("token");
  } else if (args.Has("token_file")) {
    bool ok = false;
    const std::string text = ReadAll(*args.Get("token_file"), &ok);
    c.token = std::string(absl::StripAsciiWhitespace(absl::string_view(text)));
    if (!ok) {
      std::fprintf(stderr, "tidectl: cannot read --token_file %s\n",
                   args.Get("token_file")->c_str());
      *exit_code = kUsage;
      return std::nullopt;
    }
  } else if (const char* env = std::getenv("TIDEWATCH_TOKEN"); env != nullptr) {
    c.token = env;
  }
  if (!args.Has("tls_ca") && (args.Has("tls_cert") || args.Has("tls_key"))) {
    // Without a CA tidectl would connect in plaintext and send the token
    // in the clear.
    std::fprintf(stderr,
                 "tidectl: --tls_cert and --tls_key need --tls_ca (the CA that signed "
                 "tidewatchd's certificate): TLS is on only with it\n");
    *exit_code = kUsage;
    return std::nullopt;
  }
  if (args.Has("tls_cert") != args.Has("tls_key")) {
    std::fprintf(stderr, "tidectl: --tls_cert and --tls_key go together\n");
    *exit_code = kUsage;
    return std::nullopt;
  }
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (args.Has("tls_ca")) {
    grpc::SslCredentialsOptions ssl;
    bool ok = true;
    ssl.pem_root_certs = ReadAll(*args.Get("tls_ca"), &ok);
    if (ok && args.Has("tls_cert")) ssl.pem_cert_chain = ReadAll(*args.Get("tls_cert"), &ok);
    if (ok && args.Has("tls_key")) ssl.pem_private_key = ReadAll(*args.Get("tls_key"), &ok);
    if (!ok) {
      std::fprintf(stderr, "tidectl: cannot read a --tls_* file\n");
      *exit_code = kUsage;
      return std::nullopt;
    }
    creds = grpc::SslCredentials(ssl);
  } else {
    creds = grpc::InsecureChannelCredentials();
  }
  // Long watch streams ping the server so that a silent connection is
  // noticed (tidewatchd accepts pings every 5 s or more; tidectl sends at
  // most one every 10 s).
  absl::Duration keepalive = absl::Seconds(30);
  if (args.Has("keepalive")) {
    absl::StatusOr<absl::Duration> k = args.GetDuration("keepalive");
    if (!k.ok() || *k < absl::Seconds(10)) {
      *exit_code =
          BadFlag(k.ok() ? absl::InvalidArgumentError("--keepalive: at least 10s") : k.status());
      return std::nullopt;
    }
    keepalive = *k;
  }
  grpc::ChannelArguments channel_args;
  channel_args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS,
                      static_cast<int>(absl::ToInt64Milliseconds(keepalive)));
  channel_args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  // A watch sends no data after its request: without this, gRPC (1.51)
  // stops pinging after two pings (grpc/grpc#25722).
  channel_args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  c.channel = grpc::CreateCustomChannel(c.server, creds, channel_args);
  return c;
}

std::string Clock(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "--:--:--";
  return absl::FormatTime("%H:%M:%S", FromProto(t), absl::LocalTimeZone());
}

std::string StateName(v1::CallUpState s) {
  const std::string n = v1::CallUpState_Name(s);
  const std::string prefix = "CALL_UP_STATE_";
  return n.rfind(prefix, 0) == 0 ? n.substr(prefix.size()) : n;
}

std::string DescribeCallUp(const v1::CallUp& c) {
  std::string s = absl::StrFormat("%s %-12s %s  team %s x%d", Clock(c.updated()),
                                  StateName(c.state()), c.id(), c.team_id(), c.headcount());
  if (!c.paged_contact().empty()) absl::StrAppend(&s, "  paged ", c.paged_contact());
  if (c.state() == v1::CALL_UP_STATE_ACKNOWLEDGED) {
    absl::StrAppend(&s, "  by ", c.responder(), ", ", c.acknowledged_headcount(), " coming");
    if (c.has_eta()) absl::StrAppend(&s, " in ", absl::FormatDuration(FromProto(c.eta())));
  }
  if (c.state() == v1::CALL_UP_STATE_DECLINED) {
    absl::StrAppend(&s, "  by ", c.responder(), ": ", c.decline_reason());
  }
  if (c.state() == v1::CALL_UP_STATE_PAGED && !c.reason().empty())
    absl::StrAppend(&s, "  (", c.reason(), ")");
  return s;
}

std::optional<double> WindowValue(const v1::LineView& v, absl::Duration window,
                                  const std::function<std::optional<double>(const v1::Kpis&)>& f) {
  for (const auto& w : v.figures().windows()) {
    if (FromProto(w.window()) == window) return f(w.kpis());
  }
  return std::nullopt;
}

std::string Fmt(std::optional<double> v, const char* format, double scale = 1) {
  if (!v) return "-";
  return absl::StrFormat(format, *v * scale);
}

}  // namespace

int RunStatus(const std::vector<std::string>& argv) {
  CommandArgs args("status");
  AddConnectionFlags(args);
  args.AddFlag("line", "only this line");
  int code = kOk;
  std::optional<Client> c = Connect(args, argv, &code);
  if (!c) return code;
  auto stub = v1::LineStatusService::NewStub(c->channel);
  v1::ListLinesResponse resp;
  std::unique_ptr<grpc::ClientContext> ctx = c->Context();
  grpc::Status s = stub->ListLines(ctx.get(), {}, &resp);
  if (!s.ok()) return c->Fail(s, *ctx);
  if (args.Has("line")) {
    v1::ListLinesResponse only;
    std::vector<std::string> ids;
    for (const auto& l : resp.lines()) {
      ids.push_back(l.line_id());
      if (l.line_id() == *args.Get("line")) *only.add_lines() = l;
    }
    if (only.lines().empty()) {
      // An empty wallboard would read as "all calm".
      std::fprintf(stderr, "tidectl: no line '%s' in tidewatchd's policy; lines are: %s\n",
                   args.Get("line")->c_str(), absl::StrJoin(ids, ", ").c_str());
      return kFailure;
    }
    resp = only;
  }
  if (c->json) {
    PrintJson(resp);
    return kOk;
  }
  const absl::Duration w = absl::Minutes(15);
  std::printf("%-18s %-4s %-28s %7s %8s %8s %8s %6s %6s %4s %8s %s\n", "LINE", "TIDE", "TIER",
              "WAITING", "LONGEST", "AVGW15m", "ABAN15m", "SL15m", "AGENTS", "GAP", "CALL-UPS",
              "SOURCE");
  for (const v1::LineView& v : resp.lines()) {
    const auto& f = v.figures();
    std::string longest =
        f.has_longest_waiting()
            ? absl::StrFormat("%.0fs", FromProto(f.longest_waiting()) / absl::Seconds(1))
            : "-";
    int acked = 0;
    for (const auto& cu : v.open_callups())
      if (cu.state() == v1::CALL_UP_STATE_ACKNOWLEDGED) ++acked;
    std::printf(
        "%-18s %-4s %-28s %7lld %8s %8s %8s %6s %6lld %4s %8s %s%s\n", v.line_id().c_str(),
        absl::StrCat(v.level() > 0 ? "^" : " ", v.level()).c_str(),
        (v.tier().empty() ? std::string("normal") : v.tier()).substr(0, 28).c_str(),
        static_cast<long long>(f.calls_waiting()), longest.c_str(),
        Fmt(WindowValue(v, w,
                        [](const v1::Kpis& k) {
                          return k.has_avg_wait_seconds() ? std::optional(k.avg_wait_seconds())
                                                          : std::nullopt;
                        }),
            "%.0fs")
            .c_str(),
        Fmt(WindowValue(v, w,
                        [](const v1::Kpis& k) {
                          return k.has_abandon_rate() ? std::optional(k.abandon_rate())
                                                      : std::nullopt;
                        }),
            "%.0f%%", 100)
            .c_str(),
        Fmt(WindowValue(v, w,
                        [](const v1::Kpis& k) {
                          return k.has_service_level() ? std::optional(k.service_level())
                                                       : std::nullopt;
                        }),
            "%.0f%%", 100)
            .c_str(),
        static_cast<long long>(f.agents_logged_in()),
        f.has_capacity_gap() ? absl::StrCat(f.capacity_gap()).c_str() : "-",
        absl::StrCat(v.open_callups_size(), acked > 0 ? absl::StrCat("/", acked, "ack") : "")
            .c_str(),
        v.source().c_str(), v.feed_stale() ? " STALE FEED" : "");
  }
  return kOk;
}

int RunWatch(const std::vector<std::string>& argv) {
  CommandArgs args("watch");
  AddConnectionFlags(args);
  args.AddFlag("team", "only this team's call-ups");
  args.AddFlag("line", "only this line's call-ups");
  args.AddBool("no_bell", "no terminal bell on new pages");
  args.AddFlag("keepalive",
               "ping tidewatchd this often (default 30s): a connection that stops answering "
               "(a dropped VPN, a dead server) ends the watch with an error 10s later, never a "
               "silent wallboard");
  int code = kOk;
  std::optional<Client> c = Connect(args, argv, &code);
  if (!c) return code;
  auto stub = v1::CallUpService::NewStub(c->channel);
  v1::WatchCallUpsRequest req;
  req.mutable_filter()->set_team_id(args.GetOr("team", ""));
  req.mutable_filter()->set_line_id(args.GetOr("line", ""));
  auto ctx = c->Context(/*with_deadline=*/false);
  auto reader = stub->Watch(ctx.get(), req);
  const bool bell = !args.GetBool("no_bell") && !c->json && isatty(STDOUT_FILENO);
  v1::CallUpEvent e;
  while (reader->Read(&e)) {
    if (c->json) {
      PrintJson(e);
      continue;
    }
    switch (e.kind()) {
      case v1::CallUpEvent::OPEN:
        std::printf("open    %s\n", DescribeCallUp(e.callup()).c_str());
        break;
      case v1::CallUpEvent::SYNCED:
        std::printf("-- live (watching %s) --\n", req.filter().team_id().empty()
                                                      ? "every team"
                                                      : ("team " + req.filter().team_id()).c_str());
        break;
      case v1::CallUpEvent::UPDATE:
        std::printf("%s%s\n", e.callup().state() == v1::CALL_UP_STATE_PAGED && bell ? "\a" : "",
                    DescribeCallUp(e.callup()).c_str());
        break;
      case v1::CallUpEvent::RESYNC:
        std::printf("-- fell behind: resynchronising --\n");
        break;
      default:
        break;
    }
    std::fflush(stdout);
  }
  grpc::Status s = reader->Finish();
  if (!s.ok()) return c->Fail(s, *ctx);
  return kOk;
}

int RunAck(const std::vector<std::string>& argv) {
  CommandArgs args("ack");
  AddConnectionFlags(args);
  args.AddFlag("headcount", "people coming (default: the call-up's headcount)");
  args.AddFlag("eta", "when they will be on the phones, e.g. 15m");
  args.AddFlag("responder", "who is answering (default: the token's holder)");
  int code = kOk;
  std::optional<Client> c = Connect(args, argv, &code);
  if (!c) return code;
  if (args.positional().size() != 1) {
    std::fprintf(stderr, "usage: tidectl ack CALLUP_ID --headcount N --eta 15m\n%s",
                 args.Usage().c_str());
    return kUsage;
  }
  v1::AcknowledgeRequest req;
  req.set_callup_id(args.positional()[0]);
  req.set_responder(args.GetOr("responder", ""));
  if (args.Has("headcount")) {
    absl::StatusOr<int64_t> n = args.GetInt("headcount");
    if (!n.ok()) return BadFlag(n.status());
    if (*n < 0 || *n > std::numeric_limits<int32_t>::max()) {
      return BadFlag(absl::InvalidArgumentError(
          absl::StrCat("--headcount: ", *n, " is not a number of people")));
    }
    req.set_headcount(static_cast<int32_t>(*n));
  }
  if (args.Has("eta")) {
    absl::StatusOr<absl::Duration> eta = args.GetDuration("eta");
    if (!eta.ok()) return BadFlag(eta.status());
    ToProto(*eta, req.mutable_eta());
  }
  v1::CommandReceipt receipt;
  std::unique_ptr<grpc::ClientContext> ctx = c->WriteContext();
  grpc::Status s = v1::CallUpService::NewStub(c->channel)->Acknowledge(ctx.get(), req, &receipt);
  return c->Finish(s, *ctx, receipt, [&] {
    std::printf("acknowledged %s (command %s, sent to the instance owning line %s)\n",
                receipt.callup_id().c_str(), receipt.command_id().c_str(),
                receipt.line_id().c_str());
  });
}

int RunDecline(const std::vector<std::string>& argv) {
  CommandArgs args("decline");
  AddConnectionFlags(args);
  args.AddFlag("reason", "why the team cannot come (required)");
  args.AddFlag("responder", "who is answering (default: the token's holder)");
  int code = kOk;
  std::optional<Client> c = Connect(args, argv, &code);
  if (!c) return code;
  if (args.positional().size() != 1 || !args.Has("reason")) {
    std::fprintf(stderr, "usage: tidectl decline CALLUP_ID --reason TEXT\n%s",
                 args.Usage().c_str());
    return kUsage;
  }
  v1::DeclineRequest req;
  req.set_callup_id(args.positional()[0]);
  req.set_reason(*args.Get("reason"));
  req.set_responder(args.GetOr("responder", ""));
  v1::CommandReceipt receipt;
  std::unique_ptr<grpc::ClientContext> ctx = c->WriteContext();
  grpc::Status s = v1::CallUpService::NewStub(c->channel)->Decline(ctx.get(), req, &receipt);
  return c->Finish(s, *ctx, receipt, [&] {
    std::printf("declined %s (command %s)\n", receipt.callup_id().c_str(),
                receipt.command_id().c_str());
  });
}

int RunPolicy(const std::vector<std::string>& argv) {
  CommandArgs args("policy");
  AddConnectionFlags(args);
  args.AddFlag("comment", "why (kept with the version; apply and rollback)");
  int code = kOk;
  std::optional<Client> c = Connect(args, argv, &code);
  if (!c) return code;
  const auto& pos = args.positional();
  const std::string usage =
      "usage: tidectl policy get | validate FILE | apply FILE [--comment TEXT] | rollback "
      "[--comment TEXT]\n";
  if (pos.empty()) {
    std::fprintf(stderr, "%s%s", usage.c_str(), args.Usage().c_str());
    return kUsage;
  }
  auto stub = v1::PolicyService::NewStub(c->channel);
  const std::string& verb = pos[0];
  if (verb == "get" && pos.size() == 1) {
    v1::GetPolicyResponse r;
    std::unique_ptr<grpc::ClientContext> ctx = c->Context();
    grpc::Status s = stub->GetPolicy(ctx.get(), {}, &r);
    return c->Finish(s, *ctx, r, [&] {
      std::printf("# version %lld '%s', applied by %s%s%s\n", static_cast<long long>(r.version()),
                  r.name().c_str(), r.applied_by().c_str(),
                  r.has_applied_at() ? absl::StrCat(" at ", Clock(r.applied_at())).c_str() : "",
                  r.comment().empty() ? "" : absl::StrCat(" (", r.comment(), ")").c_str());
      for (const auto& h : r.history()) {
        std::printf("# earlier: version %lld '%s' by %s%s\n", static_cast<long long>(h.version()),
                    h.name().c_str(), h.applied_by().c_str(),
                    h.comment().empty() ? "" : absl::StrCat(" (", h.comment(), ")").c_str());
      }
      std::fputs(r.yaml().c_str(), stdout);
    });
  }
  if ((verb == "validate" || verb == "apply") && pos.size() == 2) {
    bool ok = false;
    const std::string yaml = ReadAll(pos[1], &ok);
    if (!ok) {
      std::fprintf(stderr, "tidectl: cannot read %s\n", pos[1].c_str());
      return kUsage;
    }
    if (verb == "validate") {
      v1::ValidatePolicyRequest req;
      req.set_yaml(yaml);
      req.set_source_name(pos[1]);
      v1::ValidatePolicyResponse r;
      std::unique_ptr<grpc::ClientContext> ctx = c->Context();
      grpc::Status s = stub->ValidatePolicy(ctx.get(), req, &r);
      const int printed = c->Finish(s, *ctx, r, [&] {
        if (r.valid()) {
          std::printf("%s: valid\n", pos[1].c_str());
        } else {
          for (const auto& p : r.problems()) std::printf("%s\n", p.text().c_str());
        }
      });
      if (printed != kOk) return printed;
      return r.valid() ? kOk : kFailure;
    }
    v1::ApplyPolicyRequest req;
    req.set_yaml(yaml);
    req.set_source_name(pos[1]);
    req.set_comment(args.GetOr("comment", ""));
    v1::ApplyPolicyResponse r;
    auto ctx = c->WriteContext();
    grpc::Status s = stub->ApplyPolicy(ctx.get(), req, &r);
    return c->Finish(s, *ctx, r, [&] {
      std::printf("applied %s as policy version %lld: in force from the next evaluation\n",
                  pos[1].c_str(), static_cast<long long>(r.version()));
    });
  }
  if (verb == "rollback" && pos.size() == 1) {
    v1::RollbackPolicyRequest req;
    req.set_comment(args.GetOr("comment", ""));
    v1::ApplyPolicyResponse r;
    std::unique_ptr<grpc::ClientContext> ctx = c->WriteContext();
    grpc::Status s = stub->RollbackPolicy(ctx.get(), req, &r);
    return c->Finish(s, *ctx, r, [&] {
      std::printf("rolled back: the previous policy is in force as version %lld\n",
                  static_cast<long long>(r.version()));
    });
  }
  std::fprintf(stderr, "%s", usage.c_str());
  return kUsage;
}

int RunToken(const std::vector<std::string>& argv) {
  if (argv.size() == 2 && argv[0] == "hash") {
    std::printf("%s\n", api::Sha256Hex(argv[1]).c_str());
    return kOk;
  }
  if (argv.size() == 1 && argv[0] == "hash") {
    std::string token;
    std::getline(std::cin, token);
    std::printf("%s\n", api::Sha256Hex(std::string(absl::StripAsciiWhitespace(token))).c_str());
    return kOk;
  }
  std::fprintf(stderr,
               "usage: tidectl token hash [TOKEN]   (reads the token from stdin when not given)\n"
               "prints the SHA-256 to put in the tokens file: HASH NAME ROLE [TEAMS...]\n");
  return kUsage;
}

}  // namespace tidewatch::tidectl
