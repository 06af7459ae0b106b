// Which partition a line's records live on.
//
// Producers (tide-sim, the bridges, tidectl publish, librdkafka with
// partitioner=murmur2_random, any Java client) place a record keyed by
// line_id on partition (murmur2(key) & 0x7fffffff) % partitions: Kafka's
// default. tidewatchd computes the same to know which lines a partition it
// owns carries.
//
//   int32_t p = PartitionForKey("revenues", 12);
#ifndef TIDEWATCH_LIBS_STREAM_PARTITIONER_H_
#define TIDEWATCH_LIBS_STREAM_PARTITIONER_H_

#include <cstdint>
#include <string_view>

namespace tidewatch::stream {

// Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2).
int32_t Murmur2(std::string_view data);

// Kafka's default partition for a non-empty key.
int32_t PartitionForKey(std::string_view key, int32_t partitions);

}  // namespace tidewatch::stream

#endif  // TIDEWATCH_LIBS_STREAM_PARTITIONER_H_
