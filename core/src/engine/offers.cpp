// Offers: the exit-intent popup, coupon pools, validation and redemption at checkout.
// The decisions are offer.h's pure functions; this file gathers their facts from the store
// and records what they decided, so every popup and incentive can be audited (R4.4).
#include <algorithm>

#include "cartrecovery/status.h"
#include "engine/engine_impl.h"

namespace cartrecovery {
namespace {

constexpr int kImportBatch = 1000;

std::string ContactOfEmail(const std::string& email) {
  std::string lower = email;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  return ContactKeyOf(lower, "");
}

}  // namespace

ExitIntentResult Engine::ExitIntent(const std::string& visitor_id, const std::string& cart_id) {
  if (visitor_id.empty()) throw InvalidArgument("visitor_id", "is required");
  Flush();  // the decision must see the cart and contact this process has just tracked
  const auto& opts = impl_->opts;
  Millis now = impl_->clock->NowMillis();
  Runtime& r = impl_->R();
  ExitIntentResult result;
  std::lock_guard<std::timed_mutex> lock(r.store_mu);
  Store& store = *r.store;
  store.Write([&] {
    // PostgreSQL: a popup on the shop's request path waits only for writers of this
    // visitor, cart, contact (locked as loaded) and, for a coupon, the budget (store.h).
    store.LockKeys({"visitor:" + visitor_id, cart_id.empty() ? "" : "cart:" + cart_id});
    std::optional<Cart> cart;
    if (!cart_id.empty()) cart = store.LoadCart(cart_id);
    std::string contact_key = cart ? cart->contact_key : store.ContactKeyForVisitor(visitor_id);
    if (contact_key.rfind("v:", 0) == 0 || contact_key.rfind("c:", 0) == 0) contact_key.clear();
    Contact contact = contact_key.empty() ? Contact{} : store.LoadContact(contact_key).value_or(Contact{});

    // Asked again within the repeat window: the same answer, never a second draw.
    auto last = store.LatestOffer(visitor_id, contact_key);
    Millis repeat = std::max<Millis>(opts.exit_intent.repeat_after_ms, kHour);
    if (last && last->show && now - last->decided_ms < repeat) {
      result.repeated = true;
      result.decision.show = last->show;
      result.decision.kind = last->kind;
      result.decision.variant = last->variant;
      result.decision.reason = last->reason;
      result.decision.incentive_rule = last->incentive_rule;
      if (!last->coupon_code.empty()) result.coupon = store.LoadCoupon(last->coupon_code);
      return;
    }

    ExitIntentFacts facts;
    facts.visitor_id = visitor_id;
    facts.contact_key = contact_key;
    facts.has_cart = cart && cart->HasItems() &&
                     (cart->state == CartState::kActive || cart->state == CartState::kAbandoned);
    if (facts.has_cart) {
      facts.cart_id = cart->cart_id;
      facts.cart_value_minor = cart->ValueMinor();
      facts.currency = cart->currency;
      facts.stage = cart->stage;
    }
    facts.last_offer_ms = last && last->show ? last->decided_ms : 0;
    ExitIntentPolicy policy = opts.exit_intent;
    if (opts.incentive) policy.incentive = *opts.incentive;  // S8: the one budget
    policy.rationed = opts.ration_incentives;
    // The abandonment as the store keys it (store/incentive_budget.cpp): the cart, if named.
    facts.incentive_history = store.IncentiveCounts(now - policy.incentive.window_ms,
                                                    cart_id.empty() ? visitor_id : cart_id);
    facts.orders_count = contact.orders_count;
    facts.lifetime_value_minor = contact.lifetime_value_minor;
    facts.last_incentive_ms = contact_key.empty() ? 0 : store.LastIncentiveTo(contact_key);
    facts.now = now;
    if (opts.exit_intent_pool.empty()) {  // no coupons to give
      policy.rationed = true;
      policy.incentive.share = 0;
    }
    ExitIntentDecision d = DecideExitIntent(policy, facts);

    if (d.show && d.kind == "coupon") {
      std::optional<Coupon> coupon = impl_->CouponFor(store, opts.exit_intent_pool, contact_key, now);
      if (!coupon) {
        d.show = false;
        d.reason = "no_coupons_left";
      }
      result.coupon = coupon;
    }
    OfferRecord o;
    o.visitor_id = visitor_id;
    o.cart_id = cart_id;
    o.contact_key = contact_key;
    o.show = d.show;
    o.kind = d.kind;
    o.variant = d.variant;
    o.reason = d.reason;
    o.incentive_rule = d.incentive_rule;
    o.coupon_code = result.coupon ? result.coupon->code : "";
    o.decided_ms = now;
    store.SaveOffer(o);
    result.decision = d;
  });
  return result;
}

std::optional<Coupon> Engine::Impl::CouponFor(Store& store, const std::string& pool_name,
                                              const std::string& contact_key, Millis now) {
  auto pool = store.LoadPool(pool_name);
  if (!pool) return std::nullopt;
  if (pool->kind == PoolKind::kStatic) return store.LoadCoupon(pool->static_code);
  if (!contact_key.empty())
    if (auto held = store.AssignedCoupon(pool->name, contact_key, now)) return held;
  if (pool->kind == PoolKind::kImported) return store.TakeFreeCoupon(*pool, contact_key, now);
  // Generated: unique and unguessable; a clash with an existing code draws again.
  for (int attempt = 0; attempt < 5; ++attempt) {
    Coupon c;
    c.code = GenerateCouponCode(pool->prefix, pool->code_length, CryptoRandom());
    c.pool = pool->name;
    c.discount = pool->discount;
    c.expires_ms = CouponExpiry(*pool, now);
    c.assigned_contact = contact_key;
    if (store.AddCoupons({c}) == 1) return c;
  }
  return std::nullopt;
}

void Engine::SaveCouponPool(const CouponPool& pool) {
  ValidateCouponPool(pool);
  Runtime& r = impl_->R();
  std::lock_guard<std::timed_mutex> lock(r.store_mu);
  r.store->Write([&] {
    impl_->SavePoolLocked(*r.store, pool);
    r.store->ResumePaused(impl_->clock->NowMillis());  // R4.3: codes again, steps go on
  });
  impl_->WakeWorker(r);
}

CouponImportReport Engine::ImportCoupons(const std::string& pool_name, std::istream& csv,
                                         CsvImportOptions options) {
  Runtime& r = impl_->R();
  std::optional<CouponPool> pool;
  {
    std::lock_guard<std::timed_mutex> lock(r.store_mu);
    pool = r.store->LoadPool(pool_name);
  }
  if (!pool) throw ConfigError("pool", "no coupon pool named '" + pool_name + "'");
  if (pool->kind != PoolKind::kImported)
    throw ConfigError("pool", "pool '" + pool_name + "' is " + PoolKindName(pool->kind) +
                                  "; codes are imported into an imported pool");
  CsvCodeReader reader(csv, std::move(options));
  CouponImportReport report;
  std::vector<Coupon> batch;
  auto commit = [&] {
    if (batch.empty()) return;
    std::lock_guard<std::timed_mutex> lock(r.store_mu);
    int64_t added = 0;
    r.store->Write([&] { added = r.store->AddCoupons(batch); });
    report.imported += added;
    report.already_known += static_cast<int64_t>(batch.size()) - added;
    batch.clear();
  };
  CsvCode code;
  // Streams: only one batch is held, whatever the file's size.
  while (reader.Next(&code)) {
    Coupon c;
    c.code = code.code;
    c.shown = code.shown;
    c.pool = pool->name;
    c.discount = pool->discount;
    c.expires_ms = pool->expires_ms;  // per-shopper expiry is set when the code is handed out
    batch.push_back(std::move(c));
    if (batch.size() >= static_cast<size_t>(kImportBatch)) commit();
  }
  commit();
  if (report.imported > 0) {
    std::lock_guard<std::timed_mutex> lock(r.store_mu);
    r.store->Write([&] { r.store->ResumePaused(impl_->clock->NowMillis()); });  // R4.3
    impl_->WakeWorker(r);
  }
  report.duplicates_in_file = reader.duplicates();
  report.bad_row_count = reader.bad_row_count();
  report.bad_rows = reader.bad_rows();
  return report;
}

int64_t Engine::FreeCoupons(const std::string& pool) {
  Runtime& r = impl_->R();
  std::lock_guard<std::timed_mutex> lock(r.store_mu);
  return r.store->FreeCoupons(pool, impl_->clock->NowMillis());
}

CouponCheck Engine::ValidateCoupon(const std::string& code, const std::string& email) {
  Flush();
  Runtime& r = impl_->R();
  CouponCheck check;
  std::lock_guard<std::timed_mutex> lock(r.store_mu);
  check.coupon = r.store->LoadCoupon(NormalizeCouponCode(code));
  check.problem = cartrecovery::ValidateCoupon(check.coupon, email.empty() ? "" : ContactOfEmail(email),
                                               impl_->clock->NowMillis());
  return check;
}

CouponCheck Engine::RedeemCoupon(const std::string& code, const std::string& order_id,
                                 const std::string& email) {
  Flush();
  Runtime& r = impl_->R();
  Millis now = impl_->clock->NowMillis();
  CouponCheck check;
  std::lock_guard<std::timed_mutex> lock(r.store_mu);
  r.store->Write([&] {
    // Read, check and mark in one transaction: two checkouts cannot both use one code.
    check.coupon = r.store->LoadCoupon(NormalizeCouponCode(code));
    check.problem = CanRedeem(check.coupon, email.empty() ? "" : ContactOfEmail(email), order_id, now);
    if (check.problem == CouponProblem::kNone && !check.coupon->shared &&
        check.coupon->redeemed_order.empty()) {
      r.store->MarkRedeemed(check.coupon->code, order_id, now);
      check.coupon->redeemed_order = order_id;
      check.coupon->redeemed_ms = now;
    }
  });
  return check;
}

std::map<std::pair<std::string, std::string>, int64_t> Engine::PausedSteps() {
  Flush();
  Runtime& r = impl_->R();
  std::lock_guard<std::timed_mutex> lock(r.store_mu);
  return r.store->PausedMessages();
}

}  // namespace cartrecovery
