// fuzz_common.h: what every libFuzzer target here shares. A target feeds bytes to one of
// the core's parsers; the parser may accept them or throw cartrecovery::Error, and nothing
// else: any other exception, a crash, a leak or undefined behaviour is a finding
// (AddressSanitizer, LeakSanitizer and UBSan are on; see run.sh).
#ifndef CARTRECOVERY_TESTS_FUZZ_FUZZ_COMMON_H_
#define CARTRECOVERY_TESTS_FUZZ_FUZZ_COMMON_H_

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "cartrecovery/status.h"

// Runs `body`; cartrecovery::Error is an accepted answer, anything else aborts with a
// message, which libFuzzer reports as a crash with the input that caused it.
template <typename F>
void OnlyCartrecoveryErrors(const char* what, F&& body) {
  try {
    body();
  } catch (const cartrecovery::Error&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: escaped std::exception: %s\n", what, e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "%s: escaped a non-standard exception\n", what);
    std::abort();
  }
}

// An invariant that must hold for accepted input.
#define FUZZ_CHECK(cond)                                                        \
  do {                                                                          \
    if (!(cond)) {                                                              \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                             \
    }                                                                           \
  } while (0)

#endif  // CARTRECOVERY_TESTS_FUZZ_FUZZ_COMMON_H_
