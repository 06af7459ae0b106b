#include "api/command_sender.h"

#include <memory>

#include "absl/strings/str_cat.h"

namespace tidewatch::api {

absl::Status CommandSender::Send(const std::string& topic, const std::string& key,
                                 const std::string& value, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto result = std::make_shared<absl::Status>(absl::UnknownError("no delivery report"));
  auto delivered = std::make_shared<bool>(false);
  absl::Status s = producer_.Produce(
      topic, key, value, {}, [result, delivered](const absl::Status& st, const kafka::Record&) {
        *result = st;
        *delivered = true;
      });
  if (!s.ok())
    return absl::UnavailableError(absl::StrCat("cannot send to ", topic, ": ", s.message()));
  if (absl::Status f = producer_.Flush(timeout); !f.ok() && !*delivered) {
    // Still queued or in flight: Kafka may yet take it.
    return absl::UnavailableError(absl::StrCat("no confirmation from Kafka for ", topic, " within ",
                                               absl::FormatDuration(timeout),
                                               " (it may still be written): ", f.message()));
  }
  if (!result->ok()) {
    return absl::UnavailableError(absl::StrCat("not written to ", topic, ": ", result->message()));
  }
  return absl::OkStatus();
}

}  // namespace tidewatch::api
