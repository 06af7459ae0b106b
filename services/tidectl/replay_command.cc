#include <cstdio>

#include "commands.h"

namespace tidewatch::tidectl {

int RunReplay(const std::vector<std::string>& args) {
  std::fputs("tidectl replay: not built yet\n", stderr);
  return 1;
}

}  // namespace tidewatch::tidectl
