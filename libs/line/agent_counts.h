// Agents on a line by state and origin.
#ifndef TIDEWATCH_LIBS_LINE_AGENT_COUNTS_H_
#define TIDEWATCH_LIBS_LINE_AGENT_COUNTS_H_

#include <array>
#include <cstdint>

#include "tidewatch/v1/events.pb.h"

namespace tidewatch::line {

// Agents on a line by state and origin (indexed by the proto enum values).
struct AgentCounts {
  static constexpr int kStates = 6;   // AgentStatus values
  static constexpr int kOrigins = 5;  // AgentOrigin values
  std::array<std::array<int64_t, kOrigins>, kStates> n{};

  int64_t InState(tidewatch::v1::AgentStatus s) const;
  // Logged in: any state but LOGGED_OUT / UNSPECIFIED.
  int64_t LoggedIn() const;
};

}  // namespace tidewatch::line

#endif  // TIDEWATCH_LIBS_LINE_AGENT_COUNTS_H_
