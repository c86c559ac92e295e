// Offers: Python dicts for coupon pools and the exit-intent policy become offer.h values;
// decisions and coupons come back as dicts. The checks are offer.h's (Validate*).
#include <pybind11/stl.h>

#include "bindings.h"
#include "cartrecovery/flow.h"
#include "cartrecovery/offer.h"
#include "cartrecovery/status.h"

namespace cartrecovery {
namespace bindings {
namespace {

void RefuseUnknown(const py::dict& d, std::initializer_list<const char*> known, const std::string& path) {
  for (auto kv : d) {
    std::string k = py::str(kv.first);
    bool ok = false;
    for (const char* name : known) ok = ok || k == name;
    if (!ok) throw ConfigError(path + "." + k, "unknown key");
  }
}

std::string Text(const py::dict& d, const char* key, const std::string& fallback = "") {
  return d.contains(key) && !d[key].is_none() ? std::string(py::str(d[key])) : fallback;
}

Millis Duration(const py::dict& d, const char* key, Millis fallback, const std::string& path) {
  if (!d.contains(key) || d[key].is_none()) return fallback;
  return ParseDuration(py::str(d[key]), path + "." + key);
}

Discount DiscountFrom(const py::dict& d, const std::string& path) {
  Discount out;
  bool percent = d.contains("percent"), fixed = d.contains("amount");
  if (percent == fixed) throw ConfigError(path + ".discount", "give either percent or amount");
  if (percent) {
    out.kind = DiscountKind::kPercent;
    out.amount = ParseMinorUnits(py::str(d["percent"]), 2, path + ".percent");  // basis points
  } else {
    out.kind = DiscountKind::kFixed;
    out.currency = Text(d, "currency");
    if (!IsCurrencyCode(out.currency)) throw ConfigError(path + ".currency", "an ISO 4217 code is required");
    out.amount = ParseMinorUnits(py::str(d["amount"]), CurrencyExponent(out.currency), path + ".amount");
  }
  return out;
}

}  // namespace

CouponPool PoolFromDict(const py::dict& d, const std::string& path) {
  RefuseUnknown(d, {"name", "kind", "percent", "amount", "currency", "code", "prefix", "length",
                    "valid_for", "expires_at_ms"}, path);
  CouponPool p;
  p.name = Text(d, "name");
  auto kind = ParsePoolKind(Text(d, "kind", "generated"));
  if (!kind) throw ConfigError(path + ".kind", "not static, imported or generated");
  p.kind = *kind;
  p.discount = DiscountFrom(d, path);
  p.static_code = NormalizeCouponCode(Text(d, "code"));
  p.static_code_shown = Text(d, "code");
  p.prefix = Text(d, "prefix");
  if (d.contains("length")) p.code_length = d["length"].cast<int>();
  p.valid_for_ms = Duration(d, "valid_for", p.valid_for_ms, path);
  if (d.contains("expires_at_ms") && !d["expires_at_ms"].is_none()) p.expires_ms = d["expires_at_ms"].cast<Millis>();
  ValidateCouponPool(p, path);
  return p;
}

IncentivePolicy IncentiveFromDict(const py::dict& inc, const std::string& path,
                                  const std::string& shop_currency) {
  RefuseUnknown(inc, {"share", "window", "cooldown", "valuable_min_orders",
                      "valuable_min_lifetime_value", "salt"}, path);
  IncentivePolicy p;
  if (inc.contains("share")) p.share = inc["share"].cast<double>();
  p.window_ms = Duration(inc, "window", p.window_ms, path);
  p.cooldown_ms = Duration(inc, "cooldown", p.cooldown_ms, path);
  if (inc.contains("valuable_min_orders")) p.valuable_min_orders = inc["valuable_min_orders"].cast<int64_t>();
  if (inc.contains("valuable_min_lifetime_value"))
    p.valuable_min_lifetime_value_minor = ParseMinorUnits(
        py::str(inc["valuable_min_lifetime_value"]), CurrencyExponent(shop_currency),
        path + ".valuable_min_lifetime_value");
  if (inc.contains("salt")) p.salt = Text(inc, "salt");
  ValidateIncentivePolicy(p, path);
  return p;
}

ExitIntentPolicy ExitPolicyFromDict(const py::dict& d, std::string* pool,
                                    const std::string& shop_currency) {
  const std::string path = "exit_intent";
  RefuseUnknown(d, {"enabled", "pool", "min_cart_value", "currency", "coupon_min_stage",
                    "email_capture", "capture_without_cart", "repeat_after", "incentive",
                    "experiments"}, path);
  ExitIntentPolicy p;
  if (d.contains("enabled")) p.enabled = d["enabled"].cast<bool>();
  *pool = Text(d, "pool");
  if (d.contains("min_cart_value")) {
    p.min_cart_value.currency = Text(d, "currency");
    if (!IsCurrencyCode(p.min_cart_value.currency))
      throw ConfigError(path + ".currency", "min_cart_value needs its ISO 4217 currency");
    p.min_cart_value.minor = ParseMinorUnits(py::str(d["min_cart_value"]),
                                             CurrencyExponent(p.min_cart_value.currency),
                                             path + ".min_cart_value");
  }
  if (d.contains("coupon_min_stage")) {
    auto stage = ParseStage(Text(d, "coupon_min_stage"));
    if (!stage) throw ConfigError(path + ".coupon_min_stage", "not a checkout stage");
    p.coupon_min_stage = *stage;
  }
  if (d.contains("email_capture")) p.email_capture = d["email_capture"].cast<bool>();
  if (d.contains("capture_without_cart")) p.capture_without_cart = d["capture_without_cart"].cast<bool>();
  p.repeat_after_ms = Duration(d, "repeat_after", p.repeat_after_ms, path);
  if (d.contains("incentive"))
    p.incentive = IncentiveFromDict(d["incentive"].cast<py::dict>(), path + ".incentive", shop_currency);
  if (d.contains("experiments")) {
    for (auto kv : d["experiments"].cast<py::dict>()) {
      std::string kind = py::str(kv.first);
      auto e = kv.second.cast<py::dict>();
      RefuseUnknown(e, {"name", "variants", "holdout"}, path + ".experiments." + kind);
      Experiment x;
      x.name = Text(e, "name", "exit_intent." + kind);
      for (auto v : e["variants"].cast<py::dict>())
        x.variants.push_back({std::string(py::str(v.first)), v.second.cast<int64_t>()});
      if (e.contains("holdout")) x.holdout_weight = e["holdout"].cast<int64_t>();
      p.experiments[kind] = x;
    }
  }
  ValidateExitIntentPolicy(p, path);
  return p;
}

py::object CouponDict(const std::optional<Coupon>& c) {
  if (!c) return py::none();
  py::dict d;
  d["code"] = c->Shown();  // as the shop wrote it; validate/redeem accept any spelling
  d["pool"] = c->pool;
  py::dict discount;
  discount["kind"] = DiscountKindName(c->discount.kind);
  if (c->discount.kind == DiscountKind::kPercent) {
    discount["percent"] = FormatMinorUnits(c->discount.amount, 2);  // basis points as "10.00"
  } else {
    discount["amount"] = FormatMinorUnits(c->discount.amount, CurrencyExponent(c->discount.currency));
    discount["currency"] = c->discount.currency;
  }
  d["discount"] = discount;
  d["expires_at"] = c->expires_ms ? py::object(py::int_(c->expires_ms)) : py::none();
  d["redeemed_order"] = c->redeemed_order.empty() ? py::object(py::none()) : py::object(py::str(c->redeemed_order));
  return d;
}

}  // namespace bindings
}  // namespace cartrecovery
