// lease_keeper.h: keeps a worker's claimed batch its own while the worker is busy with it.
//
// A claim's lease is short (EngineOptions::lease_ms, 30 s by default) so that a dead
// worker's jobs move to another worker within a minute; a live worker must therefore renew
// the leases of the batch it is working on, however slow a channel is. A LeaseKeeper does
// that on its own thread: every lease/3 of real time, and at once when a ManualClock jumps
// (tests and replays move time without waiting), it extends every claim of the batch to
// clock.now + lease through `renew`. The store renews only claims still held with their
// attempt (Store::RenewClaims), so a job finished, retried or taken over meanwhile is left
// alone, and a worker that lost a claim still changes nothing (the attempt fence).
//
// The store lock. The threads delivering the batch take it for every send's look and every
// record group, several connections at once, and hand it from one to the next, so that it
// is free only for instants. A keeper that only tried the lock now and then could find it
// taken every time until the lease ran out, and another worker sent the batch again. So the
// keeper waits for the lock as they do (std::timed_mutex::try_lock_for): it is among the
// waiters the lock wakes at each release, and since a delivering thread goes off to the
// network after each hold, its turn comes. It waits in turns of at most kStoreTurn
// (lease_keeper.cpp) and looks for Stop between them, so that it never holds up the owner
// longer than one turn, even an owner that holds the store. The delivering threads know
// nothing of the keeper.
//
// Thread-safety: the constructor starts the thread, the destructor (or Stop) ends and joins
// it. `renew` runs on the keeper's thread with `store_mu` held.
#ifndef CARTRECOVERY_SRC_ENGINE_LEASE_KEEPER_H_
#define CARTRECOVERY_SRC_ENGINE_LEASE_KEEPER_H_

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "cartrecovery/clock.h"

namespace cartrecovery {
namespace internal {

class LeaseKeeper {
 public:
  // renew(until) extends the batch's claims to `until`; it is called with `store_mu` held.
  // Exceptions are swallowed (a renewal that fails is retried shortly; the lease still has
  // two thirds left). `store_mu` must outlive the keeper.
  using Renew = std::function<void(Millis until)>;
  LeaseKeeper(std::shared_ptr<Clock> clock, Millis lease_ms, std::timed_mutex& store_mu,
              Renew renew);
  ~LeaseKeeper();
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  void Stop();
  int renewals() const;  // how many renewals ran (tests, diagnostics)

 private:
  struct Shared {  // outlives the keeper: the clock may call a copy of our callback late
    std::mutex mu;
    std::condition_variable cv;
    bool stop = false;    // guarded by mu
    bool jumped = false;  // guarded by mu: the manual clock moved
    int renewals = 0;     // guarded by mu
  };
  void Loop();
  bool Stopping();

  std::shared_ptr<Clock> clock_;
  Millis lease_ms_;
  std::timed_mutex& store_mu_;
  Renew renew_;
  std::shared_ptr<Shared> shared_;
  int clock_token_ = 0;
  std::thread thread_;
};

}  // namespace internal
}  // namespace cartrecovery

#endif  // CARTRECOVERY_SRC_ENGINE_LEASE_KEEPER_H_
