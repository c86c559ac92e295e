// retry.h: when to try a transiently failed delivery again. Pure.
//
// Exponential backoff with jitter: base * 4^(attempt-1), capped, then spread by +-20 % so
// that messages that failed together (a provider outage) do not all come back together.
// The spread is derived from a seed (the message id) instead of a random source, so a
// replay schedules exactly the same retries. A provider's Retry-After is a floor.
#ifndef CARTRECOVERY_RETRY_H_
#define CARTRECOVERY_RETRY_H_

#include <cstdint>
#include <string>

#include "cartrecovery/clock.h"

namespace cartrecovery {

struct RetryPolicy {
  Millis base_ms = kMinute;     // the first retry's delay, before jitter
  Millis cap_ms = 6 * kHour;    // no delay grows beyond this (before jitter)
  int max_attempts = 6;         // attempts in all; the last failure is final
  double jitter = 0.2;          // +- fraction
};

// Delay before attempt `attempts_made + 1`, given that `attempts_made` (>= 1) attempts
// failed transiently; `retry_after_ms` (0: none) is the provider's own wish and a floor.
Millis RetryDelay(const RetryPolicy& policy, int attempts_made, Millis retry_after_ms,
                  const std::string& seed);

// Whether another attempt is allowed after `attempts_made` transient failures.
inline bool MayRetry(const RetryPolicy& policy, int attempts_made) {
  return attempts_made < policy.max_attempts;
}

}  // namespace cartrecovery

#endif  // CARTRECOVERY_RETRY_H_
