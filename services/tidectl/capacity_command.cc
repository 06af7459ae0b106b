#include <cstdio>

#include "commands.h"

namespace tidewatch::tidectl {

int RunCapacity(const std::vector<std::string>& args) {
  std::fputs("tidectl capacity: not built yet\n", stderr);
  return 1;
}

}  // namespace tidewatch::tidectl
