// test_util.h: small helpers shared by the Boost.Test suites.
#ifndef CARTRECOVERY_TESTS_CORE_TEST_UTIL_H_
#define CARTRECOVERY_TESTS_CORE_TEST_UTIL_H_

#include <signal.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <chrono>
#include <thread>

#include <filesystem>
#include <ostream>
#include <stdexcept>
#include <string>

#include "cartrecovery/store.h"

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

// Waits for a child with a bound, so a deadlocked child fails the test instead of hanging
// it: the child's wait status, or -1 after killing it at the deadline.
inline int WaitChild(pid_t pid, int timeout_s = 60) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  int status = 0;
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0) return -1;
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace testing

// Boost.Test prints the operands of a failed comparison: statuses and states by name.
inline std::ostream& operator<<(std::ostream& out, MessageStatus s) { return out << MessageStatusName(s); }
inline std::ostream& operator<<(std::ostream& out, JourneyState s) { return out << JourneyStateName(s); }
inline std::ostream& operator<<(std::ostream& out, JobState s) { return out << JobStateName(s); }

}  // namespace cartrecovery

#endif  // CARTRECOVERY_TESTS_CORE_TEST_UTIL_H_
