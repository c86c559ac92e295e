// lease_keeper.cpp: the renewal thread (see lease_keeper.h).
#include "engine/lease_keeper.h"

#include <algorithm>
#include <chrono>

namespace cartrecovery {
namespace internal {

namespace {
// How soon a renewal the store was too busy for is tried again.
constexpr std::chrono::milliseconds kBusyRetry(5);
}  // namespace

LeaseKeeper::LeaseKeeper(std::shared_ptr<Clock> clock, Millis lease_ms, Renew renew)
    : clock_(std::move(clock)), lease_ms_(lease_ms), renew_(std::move(renew)),
      shared_(std::make_shared<Shared>()) {
  if (clock_->IsManual()) {
    std::weak_ptr<Shared> weak = shared_;
    clock_token_ = clock_->Subscribe([weak] {
      if (auto s = weak.lock()) {
        std::lock_guard<std::mutex> lock(s->mu);
        s->jumped = true;
        s->cv.notify_all();
      }
    });
  }
  thread_ = std::thread([this] { Loop(); });
}

LeaseKeeper::~LeaseKeeper() { Stop(); }

void LeaseKeeper::Stop() {
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    shared_->stop = true;
    shared_->cv.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  if (clock_token_) {
    clock_->Unsubscribe(clock_token_);
    clock_token_ = 0;
  }
}

int LeaseKeeper::renewals() const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return shared_->renewals;
}

void LeaseKeeper::Loop() {
  // A third of the lease: two renewals may fail before a claim runs out.
  const auto every = std::chrono::milliseconds(std::max<Millis>(lease_ms_ / 3, 1));
  auto next = std::chrono::steady_clock::now() + every;
  std::unique_lock<std::mutex> lock(shared_->mu);
  for (;;) {
    shared_->cv.wait_until(lock, next, [&] { return shared_->stop || shared_->jumped; });
    if (shared_->stop) return;
    if (!shared_->jumped && std::chrono::steady_clock::now() < next) continue;
    shared_->jumped = false;
    lock.unlock();
    bool done = false;
    try {
      done = renew_(clock_->NowMillis() + lease_ms_);
    } catch (...) {
      done = false;
    }
    lock.lock();
    if (done) {
      ++shared_->renewals;
      next = std::chrono::steady_clock::now() + every;
    } else {
      next = std::chrono::steady_clock::now() + kBusyRetry;
    }
  }
}

}  // namespace internal
}  // namespace cartrecovery
