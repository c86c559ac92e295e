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
// Thread-safety: the constructor starts the thread, the destructor (or Stop) ends and joins
// it. `renew` runs on the keeper's thread; it must not wait for anything the owner holds
// while it destroys the keeper (the engine's renew only try-locks the store).
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
  // renew(until) extends the batch's claims to `until`; returns false when it could not run
  // now (the store is busy): it is asked again shortly. Exceptions are swallowed (a renewal
  // that fails is retried; the lease still has two thirds left).
  using Renew = std::function<bool(Millis until)>;
  LeaseKeeper(std::shared_ptr<Clock> clock, Millis lease_ms, Renew renew);
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

  std::shared_ptr<Clock> clock_;
  Millis lease_ms_;
  Renew renew_;
  std::shared_ptr<Shared> shared_;
  int clock_token_ = 0;
  std::thread thread_;
};

}  // namespace internal
}  // namespace cartrecovery

#endif  // CARTRECOVERY_SRC_ENGINE_LEASE_KEEPER_H_
