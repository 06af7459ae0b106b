// Shared fixture for the gRPC API tests and bench: an in-process Kafka
// broker, one StreamProcessor (the owning instance) stepping on a thread,
// and any number of API fronts (board, line directory, policy store and
// gRPC server each, following the topics like a tidewatchd instance), plus
// gRPC client helpers (tokens, a watcher collecting events on a thread).
#ifndef TIDEWATCH_TESTS_API_API_TEST_UTIL_H_
#define TIDEWATCH_TESTS_API_API_TEST_UTIL_H_

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "api/api_server.h"
#include "api/auth.h"
#include "api/callup_board.h"
#include "api/command_sender.h"
#include "api/line_directory.h"
#include "api/policy_store.h"
#include "api/topic_follower.h"
#include "common/clock.h"
#include "engine/engine.h"
#include "gtest/gtest.h"
#include "kafka/embedded_broker.h"
#include "kafka/kafka.h"
#include "policy/policy.h"
#include "stream/stream_processor.h"
#include "tidewatch/v1/service.grpc.pb.h"

namespace tidewatch::api::testing {

inline constexpr int kPartitions = 4;

// Tokens every test server accepts.
inline constexpr char kAdminToken[] = "admin-token";
inline constexpr char kRevenuesToken[] = "revenues-responder-token";
inline constexpr char kCscToken[] = "csc-responder-token";
inline constexpr char kViewerToken[] = "viewer-token";

inline std::shared_ptr<const Authenticator> TestAuthenticator() {
  const std::string text =
      absl::StrCat(Sha256Hex(kAdminToken), " alice admin\n", Sha256Hex(kRevenuesToken),
                   " rita responder revenues-back-office\n", Sha256Hex(kCscToken),
                   " colin responder csc-reserve\n", Sha256Hex(kViewerToken), " wally viewer\n");
  return std::make_shared<const Authenticator>(*Authenticator::Parse(text, "test tokens"));
}

// One instance's API side (what tidewatchd wires in main.cc).
struct Front {
  std::unique_ptr<kafka::Producer> producer;
  std::unique_ptr<CommandSender> sender;
  std::unique_ptr<CallUpBoard> board;
  std::unique_ptr<PolicyStore> policy;
  std::unique_ptr<LineDirectory> lines;
  std::vector<std::unique_ptr<TopicFollower>> followers;
  std::unique_ptr<ApiServer> server;
  std::string address;
  std::atomic<int> policies_seen{0};

  ~Front() {
    if (server) server->Shutdown(absl::Seconds(1));
    for (auto& f : followers) f->Stop();
  }
};

class ApiFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = *kafka::EmbeddedBroker::Start(1);
    for (const char* t : {"telephony.call-events", "tidewatch.commands", "tidewatch.escalations",
                          "tidewatch.state"}) {
      ASSERT_TRUE(broker_->CreateTopic(t, kPartitions).ok());
    }
    ASSERT_TRUE(broker_->CreateTopic("tidewatch.dead-letter", 1).ok());
    ASSERT_TRUE(broker_->CreateTopic("tidewatch.policy", 1).ok());
    config_.bootstrap = broker_->bootstrap();
    config_.clock = &clock_;
    policy_yaml_ = std::string(policy::DefaultPolicyYaml());
    auto loaded = policy::LoadPolicyYaml(policy_yaml_, "default");
    ASSERT_TRUE(loaded.ok());
    policy_ = std::make_shared<const policy::CompiledPolicy>(*std::move(loaded));
    options_.wall_clock_ticks = false;  // simulated day: event time only
    options_.partitions = kPartitions;
    options_.commit_interval = absl::Milliseconds(200);
  }

  void TearDown() override {
    fronts_.clear();
    StopProcessor();
  }

  // The owning instance: a group member stepping on its own thread.
  void StartProcessor() {
    kafka::ConsumerOptions co;
    co.group_id = "tidewatch";
    co.session_timeout = absl::Seconds(6);
    co.fetch_wait_max = absl::Milliseconds(10);
    consumer_ = *kafka::NewConsumer(config_, co);
    kafka::ProducerOptions po;
    po.linger = absl::Milliseconds(1);
    producer_ = *kafka::NewProducer(config_, po);
    kafka::KafkaConfig rc = config_;
    processor_ = std::make_unique<stream::StreamProcessor>(
        policy_, options_, *consumer_, *producer_,
        [rc]() { return kafka::NewConsumer(rc, kafka::ConsumerOptions{}); }, clock_);
    ASSERT_TRUE(processor_->Start().ok());
    stop_ = false;
    stepper_ = std::thread([this] {
      while (!stop_.load()) processor_->Step(absl::Milliseconds(20)).IgnoreError();
    });
  }

  bool WaitProcessorReady(absl::Duration limit = absl::Seconds(30)) {
    const absl::Time deadline = absl::Now() + limit;
    while (absl::Now() < deadline) {
      if (processor_->Status().ready) return true;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return false;
  }

  void StopProcessor() {
    stop_ = true;
    if (stepper_.joinable()) stepper_.join();
    if (processor_) processor_->Shutdown(absl::Seconds(5)).IgnoreError();
    processor_.reset();
  }

  // A tidewatchd instance's API side. `owner`: it serves the processor's
  // lines live (else from the state topic only).
  Front& StartFront(bool owner, std::shared_ptr<const Authenticator> auth, bool insecure = true,
                    const std::string& cert = "", const std::string& key = "",
                    const std::string& client_ca = "") {
    auto f = std::make_unique<Front>();
    Front* raw = f.get();
    kafka::ProducerOptions po;
    po.linger = absl::Milliseconds(1);
    f->producer = *kafka::NewProducer(config_, po);
    f->sender = std::make_unique<CommandSender>(*f->producer);
    f->board = std::make_unique<CallUpBoard>();
    PolicyStoreOptions pso;
    pso.check_change = engine::CheckPolicyChange;  // as tidewatchd does
    pso.on_policy = [this, raw](std::shared_ptr<const policy::CompiledPolicy> p, int64_t v) {
      raw->policies_seen.fetch_add(1);
      if (on_policy_) on_policy_(std::move(p), v);
    };
    f->policy = std::make_unique<PolicyStore>(policy_yaml_, policy_, pso, *f->sender, clock_);
    LineDirectory::LocalLines local;
    if (owner) local = [this] { return processor_->Lines(); };
    f->lines = std::make_unique<LineDirectory>(local, [raw] { return raw->policy->Current(); });
    auto follow = [&](const std::string& topic, int partitions, TopicFollower::Handler h) {
      kafka::ConsumerOptions ro;
      ro.fetch_wait_max = absl::Milliseconds(10);
      auto follower = std::make_unique<TopicFollower>(
          *kafka::NewConsumer(config_, ro), FollowerOptions{topic, partitions}, std::move(h));
      EXPECT_TRUE(follower->Start().ok());
      f->followers.push_back(std::move(follower));
    };
    follow("tidewatch.escalations", kPartitions,
           [raw](const kafka::Record& r) { raw->board->ApplyRecord(r); });
    follow("tidewatch.state", kPartitions,
           [raw](const kafka::Record& r) { raw->lines->ApplyStateRecord(r); });
    follow("tidewatch.policy", 1, [raw](const kafka::Record& r) { raw->policy->ApplyRecord(r); });
    for (auto& fl : f->followers) EXPECT_TRUE(fl->WaitCaughtUp(absl::Seconds(20)));
    ApiServerOptions so;
    so.address = "127.0.0.1:0";
    so.insecure = insecure;
    so.tls_cert_pem = cert;
    so.tls_key_pem = key;
    so.tls_client_ca_pem = client_ca;
    so.authenticator = std::move(auth);
    so.instance_id = absl::StrCat("front", fronts_.size());
    absl::StatusOr<std::unique_ptr<ApiServer>> server = ApiServer::Start(
        so, ApiBackends{f->board.get(), f->policy.get(), f->lines.get(), f->sender.get(), &clock_});
    EXPECT_TRUE(server.ok()) << server.status();
    if (server.ok()) {
      f->server = *std::move(server);
      f->address = absl::StrCat("127.0.0.1:", f->server->port());
    }
    fronts_.push_back(std::move(f));
    return *fronts_.back();
  }

  // Produces events [from, to) to the events topic.
  void Produce(const std::vector<tidewatch::v1::CallEvent>& events, size_t from, size_t to) {
    if (!events_producer_) {
      kafka::ProducerOptions po;
      po.linger = absl::Milliseconds(1);
      events_producer_ = *kafka::NewProducer(config_, po);
    }
    for (size_t i = from; i < to; ++i) {
      ASSERT_TRUE(
          events_producer_
              ->Produce("telephony.call-events", events[i].line_id(), events[i].SerializeAsString())
              .ok());
    }
    ASSERT_TRUE(events_producer_->Flush(absl::Seconds(30)).ok());
  }

  // Reads tidewatch.commands from the start of every partition until a
  // record arrives (or `limit` passes); returns what the first batch held.
  // The commands on the topic, once at least `want` are there or `limit`
  // has passed (for "none": a short limit, as sends wait for delivery).
  std::vector<kafka::Record> ReadCommands(absl::Duration limit = absl::Seconds(10),
                                          size_t want = 1) {
    kafka::RecordBatch got;
    auto reader = kafka::NewConsumer(config_, kafka::ConsumerOptions{});
    EXPECT_TRUE(reader.ok()) << reader.status();
    if (!reader.ok()) return {};
    std::vector<kafka::TopicPartition> all;
    for (int p = 0; p < kPartitions; ++p) all.push_back({"tidewatch.commands", p, -2});
    EXPECT_TRUE((*reader)->Assign(all).ok());
    const absl::Time deadline = absl::Now() + limit;
    while (got.size() < want && absl::Now() < deadline) {
      (*reader)->PollBatch(10, absl::Milliseconds(100), &got).IgnoreError();
    }
    return got.TakeRecords();
  }

  RealClock clock_;
  std::unique_ptr<kafka::EmbeddedBroker> broker_;
  kafka::KafkaConfig config_;
  std::string policy_yaml_;
  std::shared_ptr<const policy::CompiledPolicy> policy_;
  stream::StreamOptions options_;
  std::unique_ptr<kafka::Consumer> consumer_;
  std::unique_ptr<kafka::Producer> producer_;
  std::unique_ptr<kafka::Producer> events_producer_;
  std::unique_ptr<stream::StreamProcessor> processor_;
  std::thread stepper_;
  std::atomic<bool> stop_{false};
  std::vector<std::unique_ptr<Front>> fronts_;
  std::function<void(std::shared_ptr<const policy::CompiledPolicy>, int64_t)> on_policy_;
};

// A client context carrying a bearer token (none when empty).
inline std::unique_ptr<grpc::ClientContext> Context(const std::string& token,
                                                    absl::Duration deadline = absl::Seconds(20)) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (!token.empty()) ctx->AddMetadata("authorization", absl::StrCat("Bearer ", token));
  ctx->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::milliseconds(absl::ToInt64Milliseconds(deadline)));
  return ctx;
}

inline std::shared_ptr<grpc::Channel> Insecure(const std::string& address) {
  return grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
}

// A call-up watch stream read on a thread of its own.
class Watcher {
 public:
  Watcher(std::shared_ptr<grpc::Channel> channel, const std::string& token, const std::string& team,
          const std::string& line = "")
      : stub_(tidewatch::v1::CallUpService::NewStub(channel)) {
    ctx_.AddMetadata("authorization", absl::StrCat("Bearer ", token));
    tidewatch::v1::WatchCallUpsRequest req;
    req.mutable_filter()->set_team_id(team);
    req.mutable_filter()->set_line_id(line);
    reader_ = stub_->Watch(&ctx_, req);
    thread_ = std::thread([this] {
      tidewatch::v1::CallUpEvent e;
      while (reader_->Read(&e)) {
        absl::MutexLock lock(&mu_);
        events_.push_back(e);
        arrival_.push_back(absl::Now());
      }
      grpc::Status s = reader_->Finish();
      absl::MutexLock lock(&mu_);
      finished_ = true;
      status_ = s;
    });
  }
  ~Watcher() { Stop(); }

  void Stop() {
    ctx_.TryCancel();
    if (thread_.joinable()) thread_.join();
  }

  std::vector<tidewatch::v1::CallUpEvent> events() const {
    absl::MutexLock lock(&mu_);
    return events_;
  }
  std::vector<absl::Time> arrivals() const {
    absl::MutexLock lock(&mu_);
    return arrival_;
  }
  grpc::Status status() const {
    absl::MutexLock lock(&mu_);
    return status_;
  }
  bool finished() const {
    absl::MutexLock lock(&mu_);
    return finished_;
  }

  // Waits until some event satisfies `pred`; returns its index or -1.
  int WaitFor(const std::function<bool(const tidewatch::v1::CallUpEvent&)>& pred,
              absl::Duration limit) const {
    const absl::Time deadline = absl::Now() + limit;
    size_t seen = 0;
    while (true) {
      {
        absl::MutexLock lock(&mu_);
        for (; seen < events_.size(); ++seen) {
          if (pred(events_[seen])) return static_cast<int>(seen);
        }
        if (finished_) return -1;
      }
      if (absl::Now() >= deadline) return -1;
      absl::SleepFor(absl::Milliseconds(5));
    }
  }

 private:
  std::unique_ptr<tidewatch::v1::CallUpService::Stub> stub_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<tidewatch::v1::CallUpEvent>> reader_;
  std::thread thread_;
  mutable absl::Mutex mu_;
  std::vector<tidewatch::v1::CallUpEvent> events_;
  std::vector<absl::Time> arrival_;
  bool finished_ = false;
  grpc::Status status_;
};

// Makes a CA, a server certificate for 127.0.0.1 and a client certificate.
class TlsFiles {
 public:
  TlsFiles() {
    dir_ = std::filesystem::temp_directory_path() / ("tidewatch-tls-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    const std::string d = dir_.string();
    const std::string script =
        "set -e; cd '" + d +
        "'; "
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca "
        "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=keyCertSign,cRLSign "
        "-keyout ca.key -out ca.pem 2>/dev/null; "
        "openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key "
        "-out server.csr 2>/dev/null; "
        "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > server.ext; "
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
        "-extfile server.ext -out server.pem 2>/dev/null; "
        "openssl req -newkey rsa:2048 -nodes -subj /CN=tidectl -keyout client.key "
        "-out client.csr 2>/dev/null; "
        "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
        "-out client.pem 2>/dev/null";
    ok_ = std::system(("bash -c \"" + script + "\"").c_str()) == 0;
  }
  ~TlsFiles() { std::filesystem::remove_all(dir_); }
  bool ok() const { return ok_; }
  std::string Read(const std::string& name) const { return *ReadFileText((dir_ / name).string()); }

 private:
  std::filesystem::path dir_;
  bool ok_ = false;
};

}  // namespace tidewatch::api::testing

#endif  // TIDEWATCH_TESTS_API_API_TEST_UTIL_H_
