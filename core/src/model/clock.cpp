#include "cartrecovery/clock.h"

#include <algorithm>
#include <chrono>

namespace cartrecovery {

Millis SystemClock::NowMillis() const {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
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
