// Helpers shared by the tune tests: where the shared data lives, skipping when it is absent.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace veil::tune::test {

inline std::string shared_data() { return std::string(VEIL_SOURCE_DIR) + "/../shared/data"; }

#define VEIL_REQUIRE_SHARED(rel)                                                                          \
  do {                                                                                                    \
    if (!std::filesystem::exists(::veil::tune::test::shared_data() + "/" + (rel)))                     \
      GTEST_SKIP() << "shared data " << ::veil::tune::test::shared_data() << "/" << (rel)             \
                   << " is absent; these tests replay real spot traces from ../shared/data";              \
  } while (0)

}  // namespace veil::tune::testing
