// decisions.cpp: A/B assignment, the incentive budget and the exit-intent popup decision.
//
// Every draw here is a hash of its inputs, never a random number: the same question asked
// twice (a retried request, a replay in a notebook, an audit a month later) gets the same
// answer, and the stored rule name says which branch gave it.
#include "cartrecovery/offer.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "cartrecovery/status.h"
#include "offer/offer_internal.h"

namespace cartrecovery {

namespace {

const std::string kAbDomain = "cartrecovery.ab.v1";
const std::string kIncentiveDomain = "cartrecovery.incentive";
constexpr int64_t kMaxTotalWeight = int64_t{1} << 32;
// The share is compared in millionths so that the budget's inequality is exact integer
// arithmetic (0.2 * 5 must be 1, not 1.0000000000000002).
constexpr int64_t kShareScale = 1000000;

int64_t ShareMillionths(double share) { return std::llround(share * kShareScale); }

}  // namespace

void ValidateExperiment(const Experiment& e, const std::string& path_prefix) {
  const std::string p = path_prefix + ".";
  if (e.name.empty()) throw ConfigError(p + "name", "must not be empty");
  if (e.variants.empty()) throw ConfigError(p + "variants", "at least one variant is needed");
  if (e.holdout_weight < 0) throw ConfigError(p + "holdout_weight", "must be >= 0");
  std::set<std::string> names;
  int64_t total = e.holdout_weight;
  for (size_t i = 0; i < e.variants.size(); ++i) {
    const Variant& v = e.variants[i];
    const std::string vp = p + "variants[" + std::to_string(i) + "]";
    if (v.name.empty()) throw ConfigError(vp + ".name", "must not be empty");
    if (v.name == kHoldout) throw ConfigError(vp + ".name", "'holdout' is reserved");
    if (!names.insert(v.name).second) throw ConfigError(vp + ".name", "duplicate '" + v.name + "'");
    if (v.weight < 0) throw ConfigError(vp + ".weight", "must be >= 0");
    if (v.weight > kMaxTotalWeight) throw ConfigError(vp + ".weight", "must be <= 2^32");
    total += v.weight;
    if (total > kMaxTotalWeight) throw ConfigError(p + "variants", "weights add up to more than 2^32");
  }
  if (total - e.holdout_weight == 0) throw ConfigError(p + "variants", "every weight is 0");
}

std::string AssignVariant(const Experiment& experiment, const std::string& contact_key) {
  ValidateExperiment(experiment);
  if (contact_key.empty()) throw InvalidArgument("contact_key", "must not be empty");
  int64_t total = experiment.holdout_weight;
  for (const Variant& v : experiment.variants) total += v.weight;
  const uint64_t h = internal::StableHash64({&kAbDomain, &experiment.name, &contact_key});
  int64_t point = static_cast<int64_t>(internal::ScaleHash(h, static_cast<uint64_t>(total)));
  for (const Variant& v : experiment.variants) {
    if (point < v.weight) return v.name;
    point -= v.weight;
  }
  return kHoldout;
}

bool operator==(const IncentivePolicy& a, const IncentivePolicy& b) {
  return a.share == b.share && a.window_ms == b.window_ms && a.cooldown_ms == b.cooldown_ms &&
         a.valuable_min_lifetime_value_minor == b.valuable_min_lifetime_value_minor &&
         a.valuable_min_orders == b.valuable_min_orders && a.salt == b.salt;
}

void ValidateIncentivePolicy(const IncentivePolicy& policy, const std::string& path_prefix) {
  const std::string p = path_prefix + ".";
  if (!(policy.share >= 0.0 && policy.share <= 1.0)) {  // also refuses NaN
    throw ConfigError(p + "share", "must be between 0 and 1");
  }
  if (policy.window_ms <= 0) throw ConfigError(p + "window", "must be > 0");
  if (policy.cooldown_ms < 0) throw ConfigError(p + "cooldown", "must be >= 0");
  if (policy.valuable_min_lifetime_value_minor < 0) {
    throw ConfigError(p + "valuable_min_lifetime_value", "must be >= 0");
  }
  if (policy.valuable_min_orders < 0) throw ConfigError(p + "valuable_min_orders", "must be >= 0");
}

IncentiveDecision DecideIncentive(const IncentivePolicy& policy, const IncentiveHistory& history,
                                  const ContactFacts& contact, Millis now) {
  ValidateIncentivePolicy(policy);
  if (history.abandoners < 0 || history.incentives < 0 ||
      (history.counted && history.abandoners == 0)) {
    throw InvalidArgument("history", "counts must be >= 0, and >= 1 abandoner when counted");
  }
  if (history.valuable < 0 || history.valuable > history.abandoners ||
      history.valuable_incentives < 0 || history.valuable_incentives > history.incentives) {
    throw InvalidArgument("history", "valuable counts must lie within abandoners and incentives");
  }
  IncentiveDecision d;
  const int64_t share = ShareMillionths(policy.share);
  if (share == 0) {
    d.rule = "disabled";
    return d;
  }
  // Checked before the budget: even a valuable customer never gets two within the cooldown.
  if (contact.last_incentive_ms != 0 && policy.cooldown_ms > 0 &&
      now - contact.last_incentive_ms < policy.cooldown_ms) {
    d.rule = "recent_incentive";
    return d;
  }
  // Offering must keep incentives <= share * abandoners, this abandoner included once: a
  // cart its popup already decided for is no second abandoner when its reminder asks.
  const int64_t abandoners = history.abandoners + (history.counted ? 0 : 1);
  const __int128 allowed = static_cast<__int128>(abandoners) * share;
  auto fits = [&](int64_t incentives) {
    return static_cast<__int128>(incentives) * kShareScale <= allowed;
  };
  const bool valuable =
      (policy.valuable_min_lifetime_value_minor > 0 &&
       contact.lifetime_value_minor >= policy.valuable_min_lifetime_value_minor) ||
      (policy.valuable_min_orders > 0 && contact.orders_count >= policy.valuable_min_orders);
  if (valuable) {
    d.offer = fits(history.incentives + 1);
    d.rule = d.offer ? "priority_customer" : "priority_budget_exhausted";
    return d;
  }
  if (!fits(history.incentives + 1)) {
    d.rule = "budget_exhausted";
    return d;
  }
  // The valuable customers' share is kept for them: one incentive per valuable customer
  // seen, and one for the next, whether or not those seen have used theirs yet.
  const int64_t ordinary_given = history.incentives - history.valuable_incentives;
  const int64_t reserved = history.valuable > 0 ? history.valuable + 1 : 0;
  if (!fits(ordinary_given + 1 + reserved)) {
    d.rule = "reserved_for_valuable";
    return d;
  }
  double ordinary_share = policy.share;
  if (history.valuable > 0 && history.abandoners > 0) {
    const double v = static_cast<double>(history.valuable) / static_cast<double>(history.abandoners);
    ordinary_share = v >= 1 ? 0 : std::max(0.0, (policy.share - v) / (1 - v));
  }
  d.draw = internal::UnitHash(internal::StableHash64(
      {&kIncentiveDomain, &policy.salt, &contact.contact_key, &contact.draw_key}));
  d.offer = d.draw < ordinary_share;
  d.rule = d.offer ? "within_share" : "not_drawn";
  return d;
}

void ValidateExitIntentPolicy(const ExitIntentPolicy& policy, const std::string& path_prefix) {
  const std::string p = path_prefix + ".";
  ValidateIncentivePolicy(policy.incentive, p + "incentive");
  if (policy.min_cart_value.minor < 0) throw ConfigError(p + "min_cart_value", "must be >= 0");
  if (!policy.min_cart_value.currency.empty() &&
      !IsCurrencyCode(policy.min_cart_value.currency)) {
    throw ConfigError(p + "min_cart_value.currency", "not an ISO 4217 code");
  }
  if (policy.repeat_after_ms < 0) throw ConfigError(p + "repeat_after", "must be >= 0");
  for (const auto& [kind, experiment] : policy.experiments) {
    if (kind != "coupon" && kind != "email_capture") {
      throw ConfigError(p + "experiments." + kind, "popup kind must be coupon or email_capture");
    }
    ValidateExperiment(experiment, p + "experiments." + kind);
  }
}

ExitIntentDecision DecideExitIntent(const ExitIntentPolicy& policy, const ExitIntentFacts& f) {
  ValidateExitIntentPolicy(policy);
  if (f.visitor_id.empty() && f.contact_key.empty()) {
    throw InvalidArgument("visitor_id", "a visitor id or a contact key is needed");
  }
  if (f.cart_value_minor < 0) throw InvalidArgument("cart_value", "must be >= 0");
  ExitIntentDecision d;
  auto refuse = [&d](const char* reason) {
    d.show = false;
    d.reason = reason;
    return d;
  };
  if (!policy.enabled) return refuse("disabled");
  if (f.offered_in_session) return refuse("already_offered_this_session");
  if (f.last_offer_ms != 0 && policy.repeat_after_ms > 0 &&
      f.now - f.last_offer_ms < policy.repeat_after_ms) {
    return refuse("offered_recently");
  }

  const bool has_contact = !f.contact_key.empty();
  if (has_contact) {
    if (!f.has_cart) return refuse("no_cart");
    if (f.stage < policy.coupon_min_stage) return refuse("not_at_checkout");
    d.kind = "coupon";
  } else {
    if (!policy.email_capture) return refuse("capture_disabled");
    if (!f.has_cart && !policy.capture_without_cart) return refuse("no_cart");
    d.kind = "email_capture";
  }

  if (d.kind == "coupon") {
    const Money& min = policy.min_cart_value;
    if (!min.currency.empty() && min.minor > 0 && min.currency != f.currency) {
      return refuse("currency_mismatch");
    }
    if (f.cart_value_minor < min.minor) return refuse("below_min_value");
  }
  if (d.kind == "coupon" && policy.rationed) {
    ContactFacts c;
    c.contact_key = f.contact_key;
    c.draw_key = f.cart_id;
    c.orders_count = f.orders_count;
    c.lifetime_value_minor = f.lifetime_value_minor;
    c.last_incentive_ms = f.last_incentive_ms;
    const IncentiveDecision incentive = DecideIncentive(policy.incentive, f.incentive_history, c, f.now);
    d.incentive_rule = incentive.rule;
    if (!incentive.offer) {
      d.reason = incentive.rule;
      return d;
    }
  }

  const auto it = policy.experiments.find(d.kind);
  if (it != policy.experiments.end()) {
    d.variant = AssignVariant(it->second, has_contact ? f.contact_key : f.visitor_id);
    if (d.variant == kHoldout) return refuse("holdout");
  }
  d.show = true;
  return d;
}

}  // namespace cartrecovery
