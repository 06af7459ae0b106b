#include "api/command_sender.h"

#include <algorithm>
#include <cstdint>
#include <memory>

#include "absl/strings/str_cat.h"

namespace tidewatch::api {

absl::Status CommandSender::Send(const std::string& topic, const std::string& key,
                                 const std::string& value, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  if (stopping()) {
    return absl::UnavailableError(
        absl::StrCat("tidewatchd is shutting down: nothing sent to ", topic));
  }
  auto result = std::make_shared<absl::Status>(absl::UnknownError("no delivery report"));
  auto delivered = std::make_shared<bool>(false);
  absl::Status s = producer_.Produce(
      topic, key, value, {}, [result, delivered](const absl::Status& st, const kafka::Record&) {
        *result = st;
        *delivered = true;
      });
  if (!s.ok())
    return absl::UnavailableError(absl::StrCat("cannot send to ", topic, ": ", s.message()));
  // The wait in slices, so that a stop ends it.
  constexpr absl::Duration kSlice = absl::Milliseconds(100);
  const int64_t slices = std::max<int64_t>(1, absl::Ceil(timeout, kSlice) / kSlice);
  absl::Status flushed;
  for (int64_t i = 0; i < slices && !*delivered; ++i) {
    if (stopping()) {
      return absl::UnavailableError(
          absl::StrCat("tidewatchd is shutting down: no confirmation from Kafka for ", topic,
                       " yet (it may still be written)"));
    }
    flushed = producer_.Flush(std::min(kSlice, timeout));
  }
  if (!*delivered) {
    // Still queued or in flight: Kafka may yet take it.
    return absl::UnavailableError(absl::StrCat("no confirmation from Kafka for ", topic, " within ",
                                               absl::FormatDuration(timeout),
                                               " (it may still be written): ", flushed.message()));
  }
  if (!result->ok()) {
    return absl::UnavailableError(absl::StrCat("not written to ", topic, ": ", result->message()));
  }
  return absl::OkStatus();
}

}  // namespace tidewatch::api
