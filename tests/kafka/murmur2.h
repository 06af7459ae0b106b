// Kafka's Java partitioner hash, written independently of librdkafka so tests
// can check where keyed records land: Utils.murmur2 and
// Utils.toPositive(murmur2(key)) % partitions.
#ifndef TIDEWATCH_TESTS_KAFKA_MURMUR2_H_
#define TIDEWATCH_TESTS_KAFKA_MURMUR2_H_

#include <cstdint>
#include <string_view>

namespace tidewatch::kafka::testing {

// org.apache.kafka.common.utils.Utils.murmur2, as unsigned bits.
uint32_t Murmur2(std::string_view data);

// The Java client's default partition for a non-empty key.
int32_t JavaPartition(std::string_view key, int32_t partitions);

}  // namespace tidewatch::kafka::testing

#endif  // TIDEWATCH_TESTS_KAFKA_MURMUR2_H_
