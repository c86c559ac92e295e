// status.h: the one error type of the recovery core.
//
// Every failure that leaves the core is a cartrecovery::Error carrying a code. Poco and
// SQLite exceptions are caught at module edges and given a code there, so callers (the
// scheduler, the Python bindings) decide by code and never by parsing what().
// The bindings map each code to one Python class (bindings/errors.cpp).
#ifndef CARTRECOVERY_STATUS_H_
#define CARTRECOVERY_STATUS_H_

#include <cstdint>
#include <stdexcept>
#include <string>

namespace cartrecovery {

enum class ErrorCode {
  kInvalidArgument,    // bad input from the caller; field() names the culprit
  kConfig,             // bad configuration or flow document; field() holds the path
  kNotFound,           // an id that the store does not know
  kStorage,            // the store failed (I/O, lock timeout, foreign or newer file)
  kQueueFull,          // ingest queue is full; the event was not accepted
  kTransientDelivery,  // try again later (SMTP 4xx, HTTP 429/5xx, timeouts)
  kPermanentDelivery,  // never retry (SMTP 5xx, HTTP other 4xx)
  kAccountDelivery,    // the provider refuses the shop, not the recipient (HTTP 401/402/403:
                       // credentials, credit, permissions): wait until the shop fixes it
  kInternal,           // a bug: an invariant did not hold
};

const char* ErrorCodeName(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message, std::string field = {})
      : std::runtime_error(message), code_(code), field_(std::move(field)) {}

  ErrorCode code() const noexcept { return code_; }
  // For kInvalidArgument and kConfig: the field or document path at fault, e.g.
  // "items[2].price" or "paths[1].steps[2].branches.opened.after". Empty otherwise.
  const std::string& field() const noexcept { return field_; }

  // For kTransientDelivery: how long the provider asked us to wait (HTTP Retry-After), in
  // milliseconds; 0 when it said nothing.
  int64_t retry_after_ms() const noexcept { return retry_after_ms_; }
  Error& WithRetryAfter(int64_t ms) {
    retry_after_ms_ = ms;
    return *this;
  }

 private:
  ErrorCode code_;
  std::string field_;
  int64_t retry_after_ms_ = 0;
};

// Shorthands for the two errors that name a field; the message is prefixed with it.
Error InvalidArgument(const std::string& field, const std::string& what);
Error ConfigError(const std::string& path, const std::string& what);

}  // namespace cartrecovery

#endif  // CARTRECOVERY_STATUS_H_
