// test_util.h: small helpers shared by the Boost.Test suites.
#ifndef CARTRECOVERY_TESTS_CORE_TEST_UTIL_H_
#define CARTRECOVERY_TESTS_CORE_TEST_UTIL_H_

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>

namespace cartrecovery {
namespace testing {

// A fresh directory per test case, removed afterwards.
struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/cr_test_XXXXXX";
    const char* dir = mkdtemp(tmpl);
    if (!dir) throw std::runtime_error("mkdtemp failed");
    path = dir;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string File(const std::string& name) const { return path + "/" + name; }
  std::string path;
};

}  // namespace testing
}  // namespace cartrecovery

#endif  // CARTRECOVERY_TESTS_CORE_TEST_UTIL_H_
