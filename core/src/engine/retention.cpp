// Retention: nothing grows for ever. The worker prunes each kind of row older than its
// window in bounded batches (store.h Prune), hourly by the engine's clock and again at once
// while a kind is behind, so a tick never costs more than a batch per kind; reports keep
// their numbers through the daily aggregates the store writes before rows go.
#include <algorithm>

#include "cartrecovery/status.h"
#include "engine/engine_impl.h"

namespace cartrecovery {

void ValidateRetention(const RetentionWindows& w, Millis attribution_window_ms) {
  auto check = [](const char* kind, Millis window) {
    if (window < 0 || (window > 0 && window < kDay))
      throw ConfigError(std::string("retention.") + kind,
                        "must be 0 (keep for ever) or at least one day");
  };
  check("events", w.events_ms);
  check("bodies", w.bodies_ms);
  check("carts", w.carts_ms);
  check("offers", w.offers_ms);
  check("reports", w.reports_ms);
  // A popup's conversion is decided when its row goes, and a message must outlive the
  // orders it may still be credited with.
  if (w.offers_ms > 0 && w.offers_ms < attribution_window_ms)
    throw ConfigError("retention.offers", "must be at least the attribution window");
  if (w.reports_ms > 0 && w.reports_ms < attribution_window_ms)
    throw ConfigError("retention.reports", "must be at least the attribution window");
  if (w.offers_ms > 0 && w.reports_ms > 0 && w.offers_ms > w.reports_ms)
    throw ConfigError("retention.offers", "must not be longer than retention.reports (a popup's "
                                          "conversions are orders, which go with the reports' rows)");
  if (w.batch < 1) throw ConfigError("retention.batch", "must be at least 1");
}

void Engine::Impl::PruneIfDueLocked(Runtime& r, Millis now) {
  if (now < r.next_prune_ms) return;
  PruneCounts c;
  bool busy = false;
  r.store->Write([&] {
    // Never queued behind the other workers' batches (PostgreSQL): with the store busy the
    // round waits for a later tick rather than stalling every writer until it gets its turn.
    busy = !r.store->LockStoreIfFree();
    if (!busy) c = r.store->Prune(now, opts.retention, opts.attribution_window_ms);
  });
  if (!busy) r.next_prune_ms = c.more ? now : now + kHour;
}

PruneCounts Engine::Prune(std::optional<Millis> at) {
  Flush();
  Runtime& r = impl_->R();
  const Millis now = at ? *at : impl_->clock->NowMillis();
  PruneCounts total;
  for (;;) {
    PruneCounts c;
    {
      std::lock_guard<std::timed_mutex> lock(r.store_mu);
      r.store->Write([&] { c = r.store->Prune(now, impl_->opts.retention, impl_->opts.attribution_window_ms); });
    }
    total.events += c.events;
    total.bodies += c.bodies;
    total.messages += c.messages;
    total.orders += c.orders;
    total.journeys += c.journeys;
    total.carts += c.carts;
    total.contacts += c.contacts;
    total.visitors += c.visitors;
    total.offers += c.offers;
    if (!c.more) break;
  }
  return total;
}

}  // namespace cartrecovery
