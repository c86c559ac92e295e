#include "cartrecovery/model.h"

#include <limits>

#include "cartrecovery/status.h"

namespace cartrecovery {

int64_t ParseMinorUnits(const std::string& text, int exponent, const std::string& field) {
  auto bad = [&](const std::string& why) {
    return InvalidArgument(field, "'" + text + "' is not an amount: " + why);
  };
  size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) negative = text[i++] == '-';
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  int64_t whole = 0;
  size_t digits = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i, ++digits) {
    if (whole > (kMax - 9) / 10) throw bad("too large");
    whole = whole * 10 + (text[i] - '0');
  }
  int64_t frac = 0;
  int frac_digits = 0;
  if (i < text.size() && text[i] == '.') {
    ++i;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
      if (frac_digits == exponent) {
        if (text[i] != '0') throw bad("more than " + std::to_string(exponent) + " decimal places");
        continue;  // trailing zeros beyond the currency's precision are harmless
      }
      frac = frac * 10 + (text[i] - '0');
      ++frac_digits;
      ++digits;
    }
  }
  if (digits == 0 || i != text.size()) throw bad("expected digits with an optional '.'");
  for (int k = frac_digits; k < exponent; ++k) frac *= 10;
  int64_t scale = 1;
  for (int k = 0; k < exponent; ++k) scale *= 10;
  if (whole > (kMax - frac) / scale) throw bad("too large");
  int64_t minor = whole * scale + frac;
  if (minor > kMaxAmountMinor) throw bad("too large (at most 10^15 minor units)");
  return negative ? -minor : minor;
}

std::string FormatMinorUnits(int64_t minor, int exponent) {
  bool negative = minor < 0;
  uint64_t v = negative ? uint64_t(0) - uint64_t(minor) : uint64_t(minor);
  uint64_t scale = 1;
  for (int k = 0; k < exponent; ++k) scale *= 10;
  std::string out = std::to_string(v / scale);
  if (exponent > 0) {
    std::string frac = std::to_string(v % scale);
    out += "." + std::string(exponent - frac.size(), '0') + frac;
  }
  return negative ? "-" + out : out;
}

const char* StageName(Stage s) {
  switch (s) {
    case Stage::kCart: return "cart";
    case Stage::kContact: return "contact";
    case Stage::kShippingAddress: return "shipping_address";
    case Stage::kShippingMethod: return "shipping_method";
    case Stage::kPayment: return "payment";
  }
  return "cart";
}

std::optional<Stage> ParseStage(const std::string& s) {
  for (Stage st : {Stage::kCart, Stage::kContact, Stage::kShippingAddress, Stage::kShippingMethod,
                   Stage::kPayment})
    if (s == StageName(st)) return st;
  return std::nullopt;
}

const char* CartStateName(CartState s) {
  switch (s) {
    case CartState::kActive: return "active";
    case CartState::kAbandoned: return "abandoned";
    case CartState::kRecovered: return "recovered";
    case CartState::kOrdered: return "ordered";
    case CartState::kExpired: return "expired";
    case CartState::kEmptied: return "emptied";
  }
  return "active";
}

std::optional<CartState> ParseCartState(const std::string& s) {
  for (CartState st : {CartState::kActive, CartState::kAbandoned, CartState::kRecovered,
                       CartState::kOrdered, CartState::kExpired, CartState::kEmptied})
    if (s == CartStateName(st)) return st;
  return std::nullopt;
}

int64_t Cart::ValueMinor() const {
  int64_t total = 0;
  for (const auto& item : items) total += item.price_minor * item.quantity;
  return total;
}

}  // namespace cartrecovery
