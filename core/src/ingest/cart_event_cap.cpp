#include "ingest/cart_event_cap.h"

#include <algorithm>

namespace cartrecovery {
namespace internal {

int64_t CartEventCap::Admit(const std::vector<std::pair<std::string, Millis>>& events) {
  if (max_ <= 0) return -1;
  std::lock_guard<std::mutex> lock(mu_);
  // First pass on copies: a batch is all or nothing, like track_many itself.
  std::unordered_map<std::string, Slot> touched;
  Millis newest = 0;
  for (size_t i = 0; i < events.size(); ++i) {
    const auto& [cart_id, at] = events[i];
    if (cart_id.empty()) continue;
    newest = std::max(newest, at);
    auto it = touched.find(cart_id);
    if (it == touched.end()) {
      auto known = slots_.find(cart_id);
      it = touched.emplace(cart_id, known == slots_.end() ? Slot{at, 0} : known->second).first;
    }
    Slot& s = it->second;
    if (at >= s.start + window_) s = Slot{at, 0};  // a new window (replays move forward too)
    if (s.count >= max_) return static_cast<int64_t>(i);
    ++s.count;
  }
  for (auto& kv : touched) slots_[kv.first] = kv.second;
  if (slots_.size() > max_carts_) SweepLocked(newest);
  return -1;
}

void CartEventCap::SweepLocked(Millis now) {
  for (auto it = slots_.begin(); it != slots_.end();) {
    if (it->second.start + window_ <= now) it = slots_.erase(it);
    else ++it;
  }
  if (slots_.size() > max_carts_) slots_.clear();
}

std::vector<bool> AdmitToCap(std::map<std::string, CartEventCount>& counts,
                             const std::vector<std::pair<std::string, Millis>>& events,
                             int64_t max_per_cart, Millis window_ms) {
  std::vector<bool> admitted(events.size(), true);
  for (size_t i = 0; i < events.size(); ++i) {
    const auto& [cart_id, at] = events[i];
    if (cart_id.empty()) continue;
    CartEventCount& c = counts[cart_id];
    if (at >= c.window_start_ms + window_ms) {  // a new window (replays move forward too)
      c.window_start_ms = at;
      c.events = 0;
    }
    if (c.events >= max_per_cart) {
      ++c.refused;
      admitted[i] = false;
    } else {
      ++c.events;
    }
  }
  return admitted;
}

}  // namespace internal
}  // namespace cartrecovery
