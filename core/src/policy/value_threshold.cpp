// value_threshold.cpp: "a cart worth at least X" when carts come in several currencies.
//
// Amounts are compared as exact integers: the cart's minor units times the rate (scaled to
// 10^12) against the threshold's minor units, each side brought to the same scale, in
// 128-bit arithmetic so that no product overflows.
#include "cartrecovery/policy.h"
#include "cartrecovery/status.h"

namespace cartrecovery {
namespace {

constexpr int kRateDigits = 12;               // decimal places a rate may have
constexpr int64_t kMaxRateScaled = int64_t{1000000} * 1000000000000;  // rates below 10^6

int64_t Pow10(int n) {
  int64_t p = 1;
  while (n-- > 0) p *= 10;
  return p;
}

int64_t MinorOf(const std::string& amount, const std::string& currency, const std::string& field) {
  try {
    return ParseMinorUnits(amount, CurrencyExponent(currency), field);
  } catch (const Error& e) {
    throw ConfigError(field, "'" + amount + "' is not an amount of " + currency +
                                 " (a decimal with at most " +
                                 std::to_string(CurrencyExponent(currency)) + " decimal places)");
  }
}

int64_t RateOf(const std::string& rate, const std::string& field) {
  int64_t scaled = 0;
  try {
    scaled = ParseMinorUnits(rate, kRateDigits, field);
  } catch (const Error&) {
    throw ConfigError(field, "'" + rate + "' is not a decimal rate with at most 12 decimal places");
  }
  if (scaled <= 0) throw ConfigError(field, "must be > 0");
  if (scaled >= kMaxRateScaled) throw ConfigError(field, "must be below 1000000");
  return scaled;
}

void CheckCurrency(const std::string& code, const std::string& field) {
  if (!IsCurrencyCode(code)) throw ConfigError(field, "'" + code + "' is not an ISO 4217 code");
}

}  // namespace

void ValidateValueThreshold(const ValueThreshold& t, const std::string& prefix) {
  CheckCurrency(t.currency, prefix + ".currency");
  if (MinorOf(t.min_value, t.currency, prefix + ".min_value") < 0)
    throw ConfigError(prefix + ".min_value", "must be >= 0");
  for (const auto& [cur, amount] : t.per_currency) {
    const std::string field = prefix + ".min_value." + cur;
    CheckCurrency(cur, field);
    if (MinorOf(amount, cur, field) < 0) throw ConfigError(field, "must be >= 0");
  }
  for (const auto& [cur, rate] : t.rates) {
    const std::string field = prefix + ".rates." + cur;
    CheckCurrency(cur, field);
    RateOf(rate, field);
  }
}

bool MeetsValueThreshold(const ValueThreshold& t, int64_t value_minor,
                         const std::string& cart_currency) {
  auto own = t.per_currency.find(cart_currency);
  if (own != t.per_currency.end())
    return value_minor >= MinorOf(own->second, cart_currency, "min_value." + cart_currency);
  // The minimum in the shop's currency: min_value, or with a per-currency table, the
  // table's entry for the shop's currency (none: other currencies cannot be converted).
  int64_t min = 0;
  if (t.per_currency.empty()) {
    min = MinorOf(t.min_value, t.currency, "min_value");
    if (min == 0) return true;  // every cart, whatever its currency
  } else {
    auto base = t.per_currency.find(t.currency);
    if (base == t.per_currency.end()) return false;
    min = MinorOf(base->second, t.currency, "min_value." + t.currency);
  }
  if (cart_currency == t.currency) return value_minor >= min;
  auto rate = t.rates.find(cart_currency);
  if (rate == t.rates.end()) return false;  // an amount in a currency the shop did not price
  // value_minor / 10^ec * rate_scaled / 10^12 >= min / 10^es
  //   <=> value_minor * rate_scaled * 10^es >= min * 10^12 * 10^ec
  using Wide = __int128;
  const Wide lhs = Wide{value_minor} * RateOf(rate->second, "rates." + cart_currency) *
                   Pow10(CurrencyExponent(t.currency));
  const Wide rhs = Wide{min} * Pow10(kRateDigits) * Pow10(CurrencyExponent(cart_currency));
  return lhs >= rhs;
}

}  // namespace cartrecovery
