// model.h: the value types the shop's words name: money, line items, carts, contacts.
//
// Money is an int64 count of the currency's minor unit (cents, yen, fils) with its ISO 4217
// code: exact, never a float. Times are UTC milliseconds (clock.h).
#ifndef CARTRECOVERY_MODEL_H_
#define CARTRECOVERY_MODEL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cartrecovery/clock.h"

namespace cartrecovery {

// Digits after the decimal point for an ISO 4217 currency (JPY 0, EUR 2, KWD 3).
// Codes not in the table (e.g. a report's "MIXED") get 2.
int CurrencyExponent(const std::string& currency);
// True for a currency in ISO 4217's list of active codes (currencies.cpp): "EUR" yes,
// "XYZ" or "eur" no.
bool IsCurrencyCode(const std::string& currency);

// The largest amount accepted anywhere, in minor units: 10^15 (ten trillion euros). Line
// totals and cart values stay far below int64's limit, so sums never wrap.
constexpr int64_t kMaxAmountMinor = 1000000000000000;

// Parses "19.9", "-3", "1000.50" into minor units of a currency with `exponent` digits.
// Throws InvalidArgument(field, ...) on anything else, including more fractional digits
// than the currency has ("19.999" EUR) and values beyond +-kMaxAmountMinor.
int64_t ParseMinorUnits(const std::string& decimal, int exponent, const std::string& field);
// Inverse of ParseMinorUnits: 1990, 2 -> "19.90"; 500, 0 -> "500".
std::string FormatMinorUnits(int64_t minor, int exponent);

struct Money {
  int64_t minor = 0;
  std::string currency;  // ISO 4217; empty when unknown
};

struct LineItem {
  std::string sku;
  std::string name;
  int64_t price_minor = 0;  // unit price in the cart's currency
  int64_t quantity = 0;
  std::string image_url;
  std::string url;
};

// Where in checkout a cart was left (R1.3). Ordered: a later stage is further along.
enum class Stage { kCart, kContact, kShippingAddress, kShippingMethod, kPayment };
const char* StageName(Stage s);                       // "cart", "contact", ...
std::optional<Stage> ParseStage(const std::string& s);

// active: being filled; abandoned: quiet for the flow's abandon_after; recovered: ordered
// after it was abandoned; ordered: ordered without ever being abandoned; emptied: all items
// removed; expired: abandoned and never ordered within the journey.
enum class CartState { kActive, kAbandoned, kRecovered, kOrdered, kExpired, kEmptied };
const char* CartStateName(CartState s);               // "active", "abandoned", ...
std::optional<CartState> ParseCartState(const std::string& s);

struct Cart {
  std::string cart_id;
  std::string visitor_id;
  std::string contact_key;   // empty until a contact is known for the cart
  CartState state = CartState::kActive;
  Stage stage = Stage::kCart;
  std::string currency;
  std::vector<LineItem> items;
  std::string restore_url;
  Millis created_ms = 0;
  Millis last_activity_ms = 0;

  int64_t ValueMinor() const;  // sum of price * quantity
  bool HasItems() const { return !items.empty(); }
};

// Consent as the shopper gave it; nullopt means "never said".
struct Consent {
  std::optional<bool> email;
  std::optional<bool> sms;
  std::optional<bool> push;
  std::optional<bool> personalization;
};

struct Contact {
  // Stable key: "e:<lower-case email>" when an e-mail is known, else "p:<E.164 phone>",
  // else "v:<visitor id>".
  std::string key;
  std::string email;
  std::string phone;
  std::string first_name;
  std::string language;   // BCP 47, e.g. "pl" or "de-AT"
  std::string timezone;   // IANA, e.g. "Europe/Warsaw"
  int64_t orders_count = 0;
  int64_t lifetime_value_minor = 0;
  Consent consent;
  bool unsubscribed = false;
  Millis last_message_ms = 0;  // last reminder sent to this person, any journey; 0 = never
  Millis last_order_ms = 0;    // 0 = never
  // The browser's Web Push subscription as canonical JSON ({"endpoint", "keys": {"p256dh",
  // "auth"}}); empty when none (or the push service said it expired).
  std::string push_subscription;
  // A permanent delivery failure (hard bounce) suppresses the address until it changes.
  bool email_bounced = false;
  bool phone_bounced = false;

  bool HasAddress() const { return !email.empty() || !phone.empty(); }
};

}  // namespace cartrecovery

#endif  // CARTRECOVERY_MODEL_H_
