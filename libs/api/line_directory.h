// Line status for the gRPC LineStatusService, served by any instance for any
// line: the lines this instance owns come live from the StreamProcessor, the
// others from the newest tidewatch.state record of each line (written by the
// owner every commit interval, so at most that old).
//
//   LineDirectory lines([&processor] { return processor.Lines(); },
//                       [&store] { return store.Current(); });
//   follower for tidewatch.state -> lines.ApplyStateRecord(record);
//   std::vector<v1::LineView> all = lines.List();
//
// Thread-safe.
#ifndef TIDEWATCH_LIBS_API_LINE_DIRECTORY_H_
#define TIDEWATCH_LIBS_API_LINE_DIRECTORY_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "api/policy_store.h"
#include "kafka/kafka.h"
#include "stream/stream_processor.h"
#include "tidewatch/v1/service.pb.h"
#include "tidewatch/v1/tide.pb.h"

namespace tidewatch::api {

// A line's live figures as the state topic carries them.
tidewatch::v1::LineFigures FiguresOf(const stream::LineStatus& line);

// Every policy line's status, from wherever it is known best.
class LineDirectory {
 public:
  using LocalLines = std::function<std::vector<stream::LineStatus>()>;
  using CurrentPolicy = std::function<PolicyStore::Version()>;

  // `local` may be null (an instance that owns nothing).
  LineDirectory(LocalLines local, CurrentPolicy current_policy);

  // Keeps the newest tidewatch.state record of its line.
  void ApplyStateRecord(const kafka::Record& record);

  // Every line of the policy in force (and any line with state), by id.
  std::vector<tidewatch::v1::LineView> List() const;
  // One line; nullopt if neither the policy nor the state topic knows it.
  std::optional<tidewatch::v1::LineView> Get(const std::string& line_id) const;

 private:
  std::map<std::string, tidewatch::v1::LineView> Build() const;

  const LocalLines local_;
  const CurrentPolicy current_policy_;
  mutable absl::Mutex mu_;
  std::map<std::string, tidewatch::v1::LineTideState> state_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tidewatch::api

#endif  // TIDEWATCH_LIBS_API_LINE_DIRECTORY_H_
