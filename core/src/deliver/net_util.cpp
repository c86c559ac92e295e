// net_util.cpp: the SIGPIPE guard and the recording certificate handler of net_util.h.
#include "deliver/net_util.h"

#include <pthread.h>

#include <csignal>
#include <ctime>
#include <utility>

namespace cartrecovery {
namespace internal {

ScopedSigpipeBlock::ScopedSigpipeBlock() {
  sigset_t pipe_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask_);
  sigset_t pending;
  sigpending(&pending);
  was_pending_ = sigismember(&pending, SIGPIPE) == 1;
}

ScopedSigpipeBlock::~ScopedSigpipeBlock() {
  // A SIGPIPE that was pending before we started is not ours to swallow.
  if (!was_pending_) {
    sigset_t pending;
    sigpending(&pending);
    if (sigismember(&pending, SIGPIPE) == 1) {
      sigset_t pipe_set;
      sigemptyset(&pipe_set);
      sigaddset(&pipe_set, SIGPIPE);
      timespec zero{};
      sigtimedwait(&pipe_set, nullptr, &zero);
    }
  }
  pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
}

RecordingCertificateHandler::RecordingCertificateHandler(std::shared_ptr<std::string> reason)
    : Poco::Net::InvalidCertificateHandler(false), reason_(std::move(reason)) {}

void RecordingCertificateHandler::onInvalidCertificate(const void*,
                                                       Poco::Net::VerificationErrorArgs& args) {
  if (reason_->empty()) *reason_ = args.errorMessage();
  args.setIgnoreError(false);
}

}  // namespace internal
}  // namespace cartrecovery
