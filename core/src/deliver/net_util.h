// net_util.h: socket and TLS guards shared by the deliver module's network channels (SMTP,
// the HTTP client, Web Push). Not public API.
#ifndef CARTRECOVERY_SRC_DELIVER_NET_UTIL_H_
#define CARTRECOVERY_SRC_DELIVER_NET_UTIL_H_

#include <signal.h>

#include <memory>
#include <string>

#include "Poco/Net/InvalidCertificateHandler.h"
#include "Poco/Net/VerificationErrorArgs.h"

namespace cartrecovery {
namespace internal {

// Writes to a socket the peer has closed raise SIGPIPE, which kills a process that has not
// ignored it (Python ignores it; a C++ host may not), and OpenSSL writes with plain write().
// While an instance lives, SIGPIPE is blocked for the calling thread only; on destruction
// any SIGPIPE raised meanwhile (and not already pending before) is swallowed and the
// thread's previous mask restored. This is libpq's approach: it leaves the process-wide
// disposition alone. Create and destroy on the same thread, around the socket I/O.
class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock();
  ~ScopedSigpipeBlock();
  ScopedSigpipeBlock(const ScopedSigpipeBlock&) = delete;
  ScopedSigpipeBlock& operator=(const ScopedSigpipeBlock&) = delete;

 private:
  sigset_t old_mask_;
  bool was_pending_ = false;
};

// Refuses every invalid certificate and records the first reason in *reason, so a
// channel's Classify() can tell a verification failure (permanent) from a handshake that
// merely broke (transient). Set on the channel's own Context so Poco's process-wide
// SSLManager is never consulted. The channel clears *reason before each connection.
class RecordingCertificateHandler : public Poco::Net::InvalidCertificateHandler {
 public:
  explicit RecordingCertificateHandler(std::shared_ptr<std::string> reason);
  void onInvalidCertificate(const void* sender, Poco::Net::VerificationErrorArgs& args) override;

 private:
  std::shared_ptr<std::string> reason_;
};

}  // namespace internal
}  // namespace cartrecovery

#endif  // CARTRECOVERY_SRC_DELIVER_NET_UTIL_H_
