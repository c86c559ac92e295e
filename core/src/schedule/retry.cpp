#include "cartrecovery/retry.h"

#include <algorithm>

namespace cartrecovery {
namespace {

// FNV-1a: a stable, well-spread hash of the seed; no cryptographic need here.
uint64_t Fnv1a(const std::string& s, uint64_t salt) {
  uint64_t h = 1469598103934665603ull ^ salt;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

Millis RetryDelay(const RetryPolicy& policy, int attempts_made, Millis retry_after_ms,
                  const std::string& seed) {
  Millis delay = std::max<Millis>(policy.base_ms, 1);
  for (int i = 1; i < attempts_made && delay < policy.cap_ms; ++i) delay *= 4;
  delay = std::min(delay, policy.cap_ms);
  // A fraction in [-jitter, +jitter], fixed for (seed, attempt).
  double unit = static_cast<double>(Fnv1a(seed, static_cast<uint64_t>(attempts_made)) % 10001) / 10000.0;
  double factor = 1.0 + policy.jitter * (2.0 * unit - 1.0);
  Millis jittered = static_cast<Millis>(static_cast<double>(delay) * factor);
  return std::max(jittered, retry_after_ms);
}

}  // namespace cartrecovery
