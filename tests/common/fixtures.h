#pragma once
// Helpers for tests that read ../shared/fixtures: they skip visibly when absent.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace pagoda::test {

inline std::string fixtures_dir() { return PAGODA_FIXTURES_DIR; }
inline std::string fixture(const std::string& rel) { return fixtures_dir() + "/" + rel; }
inline bool have_fixtures() { return std::filesystem::is_directory(fixtures_dir()); }

}  // namespace pagoda::test

// Use at the top of a test: GTEST_SKIP with a message when fixtures are absent.
#define PAGODA_REQUIRE_FIXTURE(rel)                                                         \
  do {                                                                                       \
    if (!std::filesystem::exists(::pagoda::test::fixture(rel)))                              \
      GTEST_SKIP() << "fixture " << (rel) << " not found under " << PAGODA_FIXTURES_DIR      \
                   << " (../shared/fixtures is absent): skipped";                           \
  } while (0)
