// lease_keeper.cpp: the renewal thread (see lease_keeper.h).
#include "engine/lease_keeper.h"

#include <algorithm>
#include <chrono>

namespace cartrecovery {
namespace internal {

namespace {
// How soon a renewal the store failed is tried again.
constexpr std::chrono::milliseconds kFailedRetry(5);
// The longest the keeper waits for the store lock at once (lease_keeper.h). Long enough to
// reach the head of the lock's queue behind every delivering thread (each holds the lock
// for a look or a group's commit: milliseconds), since a turn that ends without the lock
// queues again at the back; short enough that a shutdown is not held up.
constexpr std::chrono::milliseconds kStoreTurn(200);
}  // namespace

LeaseKeeper::LeaseKeeper(std::shared_ptr<Clock> clock, Millis lease_ms, std::timed_mutex& store_mu,
                         Renew renew)
    : clock_(std::move(clock)), lease_ms_(lease_ms), store_mu_(store_mu),
      renew_(std::move(renew)), shared_(std::make_shared<Shared>()) {
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

bool LeaseKeeper::Stopping() {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return shared_->stop;
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
    std::unique_lock<std::timed_mutex> store(store_mu_, std::defer_lock);
    while (!store.try_lock_for(kStoreTurn))
      if (Stopping()) return;
    if (Stopping()) return;  // the owner is done with the batch: nothing left to keep
    bool done = false;
    try {
      // The time is read with the lock held: a long wait for it does not shorten the lease.
      renew_(clock_->NowMillis() + lease_ms_);
      done = true;
    } catch (...) {
      done = false;
    }
    store.unlock();
    lock.lock();
    if (done) {
      ++shared_->renewals;
      next = std::chrono::steady_clock::now() + every;
    } else {
      next = std::chrono::steady_clock::now() + kFailedRetry;
    }
  }
}

}  // namespace internal
}  // namespace cartrecovery
