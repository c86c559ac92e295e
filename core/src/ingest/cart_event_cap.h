// cart_event_cap.h: the cap on events per cart (issue 10: one visitor token posted 2,000
// beacons in seconds, +40,000 events). Pure bookkeeping, no I/O, so track() stays a
// microsecond: counts live in this process, per cart, over a window of event time.
//
// Per process: it gives the caller its error at track() time. The count that holds across
// processes and hosts is the store's (AdmitToCap below, in the writer's transaction); with
// N web processes this one alone would let N x the cap through.
#ifndef CARTRECOVERY_SRC_INGEST_CART_EVENT_CAP_H_
#define CARTRECOVERY_SRC_INGEST_CART_EVENT_CAP_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cartrecovery/clock.h"
#include "cartrecovery/store.h"

namespace cartrecovery {
namespace internal {

class CartEventCap {
 public:
  // max_per_cart 0: no cap. At most max_carts carts are tracked; past that, carts whose
  // window has ended are forgotten first, then all (memory stays bounded; the cap errs
  // on the side of accepting).
  CartEventCap(int64_t max_per_cart, Millis window_ms, size_t max_carts = 100000)
      : max_(max_per_cart), window_(window_ms), max_carts_(max_carts) {}

  // Counts a batch of (cart id, event time) if every cart stays within the cap, and
  // returns -1; otherwise counts nothing and returns the index of the first event over
  // it. Events without a cart id are not counted. Thread-safe.
  int64_t Admit(const std::vector<std::pair<std::string, Millis>>& events);

  int64_t max_per_cart() const { return max_; }
  Millis window_ms() const { return window_; }

 private:
  struct Slot {
    Millis start = 0;   // event time the window opened
    int64_t count = 0;  // events in it
  };
  void SweepLocked(Millis now);

  const int64_t max_;
  const Millis window_;
  const size_t max_carts_;
  std::mutex mu_;
  std::unordered_map<std::string, Slot> slots_;  // guarded by mu_
};

// The same rule over the store's counters (Store::LockCartEventCounts), for the writer: counts
// `events` (cart id, event time) in order into `counts`, a refusal where a cart's window is
// full, and returns which were admitted. Events without a cart id are admitted uncounted.
std::vector<bool> AdmitToCap(std::map<std::string, CartEventCount>& counts,
                             const std::vector<std::pair<std::string, Millis>>& events,
                             int64_t max_per_cart, Millis window_ms);

}  // namespace internal
}  // namespace cartrecovery

#endif  // CARTRECOVERY_SRC_INGEST_CART_EVENT_CAP_H_
