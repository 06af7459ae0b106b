// The main of every tidewatch test executable: gtest's main, plus a
// temporary directory of the process's own.
//
// ctest runs each test as its own process and several at once, so files
// that tests name under ::testing::TempDir() (which is /tmp/ by default)
// would be shared between tests running side by side, each overwriting the
// other's (seen in CI: one test read another's stderr). This main makes a
// fresh directory under the usual one, points TEST_TMPDIR at it (TempDir()
// returns TEST_TMPDIR), runs the tests, and removes it when they pass; a
// failed run keeps it, and says where, for a look.
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "gtest/gtest.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  std::string dir = ::testing::TempDir() + "tidewatch-test.XXXXXX";
  if (mkdtemp(dir.data()) == nullptr) {
    std::perror(("cannot create a temporary directory from " + dir).c_str());
    return 1;
  }
  setenv("TEST_TMPDIR", dir.c_str(), /*overwrite=*/1);
  const int status = RUN_ALL_TESTS();
  if (status == 0) {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  } else {
    std::printf("temporary files kept in %s\n", dir.c_str());
  }
  return status;
}
