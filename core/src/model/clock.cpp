#include "cartrecovery/clock.h"

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <set>

namespace cartrecovery {

Millis SystemClock::NowMillis() const {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// ---- fork (clock.h) ---------------------------------------------------------------------
struct ManualClockForkGuard {
  static std::mutex& Mutex() {
    static std::mutex* mu = new std::mutex;  // never destroyed: used at exit and around fork
    return *mu;
  }
  static std::set<ManualClock*>& Live() {  // guarded by Mutex()
    static std::set<ManualClock*>* clocks = new std::set<ManualClock*>;
    return *clocks;
  }
  static void Before() {
    Mutex().lock();
    for (ManualClock* c : Live()) c->mu_.lock();
  }
  static void After() {  // in the parent and in the child alike
    for (ManualClock* c : Live()) c->mu_.unlock();
    Mutex().unlock();
  }
};

ManualClock::ManualClock(Millis start) : now_(start) {
  static std::once_flag once;
  std::call_once(once, [] {
    pthread_atfork(ManualClockForkGuard::Before, ManualClockForkGuard::After,
                   ManualClockForkGuard::After);
  });
  std::lock_guard<std::mutex> lock(ManualClockForkGuard::Mutex());
  ManualClockForkGuard::Live().insert(this);
}

ManualClock::~ManualClock() {
  std::lock_guard<std::mutex> lock(ManualClockForkGuard::Mutex());
  ManualClockForkGuard::Live().erase(this);
}

void ManualClock::Set(Millis t) {
  now_.store(t);
  std::vector<std::function<void()>> fns;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& s : subs_) fns.push_back(s.second);
  }
  // Called without mu_ so a subscriber may read the clock or unsubscribe.
  for (auto& fn : fns) fn();
}

int ManualClock::Subscribe(std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(mu_);
  int token = next_token_++;
  subs_.emplace_back(token, std::move(fn));
  return token;
}

void ManualClock::Unsubscribe(int token) {
  std::lock_guard<std::mutex> lock(mu_);
  subs_.erase(std::remove_if(subs_.begin(), subs_.end(),
                             [token](const auto& s) { return s.first == token; }),
              subs_.end());
}

}  // namespace cartrecovery
