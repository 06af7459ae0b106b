// How the stream benches' bare consumers decode a polled batch: with
// protobuf's generated parser (the plain way to decode CallEvents), or into
// views of the records as tidewatchd does (events::EventDecoder).
//
//   bench::BareDecoder decoder(bench::BareDecode::kViews);
//   while (n < events) {
//     batch.clear();
//     consumer->PollBatch(2000, absl::Milliseconds(100), &batch).IgnoreError();
//     n += decoder.CountValid(batch);
//   }
#ifndef TIDEWATCH_BENCH_STREAM_BARE_DECODER_H_
#define TIDEWATCH_BENCH_STREAM_BARE_DECODER_H_

#include <cstdint>

#include "events/event_view.h"
#include "events/events.h"
#include "google/protobuf/arena.h"
#include "kafka/kafka.h"
#include "tidewatch/v1/events.pb.h"

namespace tidewatch::bench {

// Which decoder a bare consumer uses.
enum class BareDecode {
  // ParseBinaryEvent into a message on an arena reset after each batch.
  kProtobuf,
  // events::EventDecoder into views of the records, reset after each batch.
  kViews,
};

// Decodes polled batches one way or the other and counts the valid events.
class BareDecoder {
 public:
  explicit BareDecoder(BareDecode decode) : decode_(decode) {}

  // Decodes and validates every record of `batch`; returns how many were
  // valid events.
  int64_t CountValid(const kafka::RecordBatch& batch) {
    int64_t n = 0;
    if (decode_ == BareDecode::kViews) {
      for (const kafka::Record& r : batch) n += decoder_.Parse(r.value, view_).ok();
      decoder_.Reset();
    } else {
      auto* event = google::protobuf::Arena::CreateMessage<tidewatch::v1::CallEvent>(&arena_);
      for (const kafka::Record& r : batch) n += events::ParseBinaryEvent(r.value, *event).ok();
      arena_.Reset();
    }
    return n;
  }

 private:
  BareDecode decode_;
  google::protobuf::Arena arena_;
  events::EventDecoder decoder_;
  events::CallEventView view_;
};

}  // namespace tidewatch::bench

#endif  // TIDEWATCH_BENCH_STREAM_BARE_DECODER_H_
