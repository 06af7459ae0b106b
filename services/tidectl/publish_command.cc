// tidectl publish: produces a JSON-lines CallEvent file (the replay format)
// to the events topic, validated exactly as `tidectl replay` validates it.
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "args.h"
#include "commands.h"
#include "event_input.h"
#include "events/events.h"
#include "kafka/kafka.h"

namespace tidewatch::tidectl {

int RunPublish(const std::vector<std::string>& argv) {
  CommandArgs args("publish");
  args.AddFlag("events", "JSON-lines CallEvent file ('-' for stdin); or give it as FILE");
  args.AddFlag("input", "the same as --events");
  args.AddFlag("brokers", "Kafka bootstrap servers, host:port[,host:port] (required)");
  args.AddFlag("topic", "topic to produce to (default telephony.call-events)");
  args.AddFlag("timeout", "how long to wait for delivery at the end (default 60s)");
  args.AddBool("quiet", "no progress or error lines on stderr");
  if (std::optional<int> exit =
          args.ParseOrExit(argv, "",
                           "Events are produced as binary protobuf keyed by line_id; bad "
                           "records are reported as FILE:LINE: reason and skipped.\n")) {
    return *exit;
  }
  std::string path = args.GetOr("events", args.GetOr("input", ""));
  if (path.empty() && args.positional().size() == 1) path = args.positional()[0];
  if (path.empty() ||
      args.positional().size() > (args.Has("events") || args.Has("input") ? 0u : 1u)) {
    std::cerr << "tidectl publish: give one events file (FILE, --events FILE, or - for stdin)\n"
              << args.Usage();
    return 2;
  }
  const std::string brokers = args.GetOr("brokers", "");
  if (brokers.empty()) {
    std::cerr << "tidectl publish: --brokers HOST:PORT is required\n" << args.Usage();
    return 2;
  }
  absl::Duration timeout = absl::Seconds(60);
  if (args.Has("timeout")) {
    absl::StatusOr<absl::Duration> t = args.GetDuration("timeout");
    if (!t.ok()) {
      std::cerr << "tidectl publish: " << t.status().message() << "\n";
      return 2;
    }
    timeout = *t;
  }
  const std::string topic = args.GetOr("topic", "telephony.call-events");
  const bool quiet = args.GetBool("quiet");

  kafka::KafkaConfig config;
  config.bootstrap = brokers;
  config.client_id = "tidectl-publish";
  absl::StatusOr<std::unique_ptr<kafka::Producer>> producer = kafka::NewProducer(config, {});
  if (!producer.ok()) {
    std::cerr << "tidectl publish: --brokers: " << producer.status().message() << "\n";
    return 2;
  }
  int64_t failed = 0;
  absl::Status first_failure;
  int64_t produced = 0;
  auto on_delivery = [&](const absl::Status& s, const kafka::Record&) {
    if (!s.ok() && failed++ == 0) first_failure = s;
  };
  events::RejectCounter rejects;
  absl::StatusOr<int64_t> records =
      ReadEventFile(path, "publish", quiet, rejects, [&](const tidewatch::v1::CallEvent& e) {
        for (int attempt = 0;; ++attempt) {
          absl::Status s =
              (*producer)->Produce(topic, e.line_id(), e.SerializeAsString(), {}, on_delivery);
          if (s.ok()) break;
          if (s.code() != absl::StatusCode::kResourceExhausted || attempt > 600) {
            return absl::UnavailableError(absl::StrCat("producing to ", topic, ": ", s.message()));
          }
          (*producer)->Poll(absl::Milliseconds(100));  // local queue full
        }
        if (++produced % 1024 == 0) (*producer)->Poll(absl::ZeroDuration());
        return absl::OkStatus();
      });
  const absl::Status flushed = (*producer)->Flush(timeout);
  if (!records.ok()) {
    std::cerr << "tidectl publish: " << records.status().message() << "\n";
    return 1;
  }
  if (!flushed.ok() || failed > 0) {
    std::cerr << "tidectl publish: " << (failed > 0 ? failed : (*producer)->InFlight()) << " of "
              << produced << " events not delivered to " << topic << ": "
              << (failed > 0 ? first_failure.message() : flushed.message()) << "\n";
    return 1;
  }
  std::cout << "Published " << produced << " events to " << topic << " (" << *records
            << " records read)\n\nSet aside\n"
            << SetAsideSection(rejects.ByName());
  return 0;
}

}  // namespace tidewatch::tidectl
