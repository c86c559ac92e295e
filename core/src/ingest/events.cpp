// Validation of incoming events. Each field is checked by a small reader that knows the
// field's path, so every error names exactly what is wrong.
#include "cartrecovery/events.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <sstream>

#include "cartrecovery/policy.h"
#include "cartrecovery/status.h"
#include "cartrecovery/text.h"
#include "model/json_reader.h"

namespace cartrecovery {
namespace {

constexpr size_t kMaxIdLength = 200;
constexpr size_t kMaxTextLength = 2000;
constexpr size_t kMaxItems = 500;

struct EventSpec {
  EventType type;
  const char* name;
  std::set<std::string> allowed;
};

const std::vector<EventSpec>& Specs() {
  static const std::vector<EventSpec> specs = {
      {EventType::kCartUpdated, "cart_updated",
       {"cart_id", "visitor_id", "items", "currency", "stage", "restore_url", "email", "phone",
        "continues"}},
      {EventType::kContactCaptured, "contact_captured",
       {"cart_id", "visitor_id", "email", "phone", "first_name", "language", "timezone",
        "orders_count", "lifetime_value", "currency", "consent"}},
      {EventType::kCheckoutStage, "checkout_stage", {"cart_id", "stage", "visitor_id"}},
      {EventType::kPageView, "page_view", {"visitor_id", "page_type", "url", "product_id", "cart_id"}},
      {EventType::kOrderPlaced, "order_placed",
       {"order_id", "cart_id", "email", "phone", "value", "currency", "coupon", "status",
        "visitor_id"}},
      {EventType::kMessageOpened, "message_opened", {"message_id", "event_id"}},
      {EventType::kLinkClicked, "link_clicked", {"message_id", "url", "event_id"}},
      {EventType::kMessageBounced, "message_bounced",
       {"message_id", "permanent", "reason", "event_id"}},
      {EventType::kUnsubscribed, "unsubscribed", {"email", "phone", "message_id"}},
      {EventType::kPushSubscribed, "push_subscribed",
       {"cart_id", "visitor_id", "email", "subscription"}},
  };
  return specs;
}

const EventSpec* FindSpec(const std::string& name) {
  for (const auto& s : Specs())
    if (name == s.name) return &s;
  return nullptr;
}

// Reads typed fields out of a map, naming the path on error.
class Fields {
 public:
  Fields(const Value& map, std::string prefix) : map_(map), prefix_(std::move(prefix)) {}

  std::string Path(const std::string& key) const { return prefix_ + key; }
  const Value* Get(const std::string& key) const {
    const Value* v = map_.Find(key);
    return (v && !v->is_null()) ? v : nullptr;
  }

  // Ids: strings (ints accepted, shops often number orders), non-empty, bounded.
  std::string Id(const std::string& key, bool required) const {
    const Value* v = Get(key);
    if (!v) {
      if (required) throw InvalidArgument(Path(key), "is required");
      return {};
    }
    std::string s;
    if (v->kind() == Value::Kind::kString) s = v->as_string();
    else if (v->kind() == Value::Kind::kInt) s = std::to_string(v->as_int());
    else throw WrongType(key, *v, "a string id");
    if (s.empty()) throw InvalidArgument(Path(key), "must not be empty");
    if (s.size() > kMaxIdLength) throw InvalidArgument(Path(key), "longer than 200 characters");
    if (!IsValidUtf8(s)) throw InvalidArgument(Path(key), "is not valid UTF-8 text");
    if (HasControlCharacter(s)) throw InvalidArgument(Path(key), "contains a control character");
    return s;
  }

  std::string Text(const std::string& key, size_t max = kMaxTextLength) const {
    const Value* v = Get(key);
    if (!v) return {};
    if (v->kind() != Value::Kind::kString) throw WrongType(key, *v, "a string");
    if (v->as_string().size() > max)
      throw InvalidArgument(Path(key), "longer than " + std::to_string(max) + " characters");
    // Stored text is shown in messages, reports and JSON: it must be UTF-8.
    if (!IsValidUtf8(v->as_string())) throw InvalidArgument(Path(key), "is not valid UTF-8 text");
    return v->as_string();
  }

  // A name shown in a subject or a header line: a line break or other control character
  // would break the reminder later (or inject a header), so it is refused now.
  std::string Name(const std::string& key, size_t max) const {
    std::string s = Text(key, max);
    if (HasControlCharacter(s)) throw InvalidArgument(Path(key), "contains a control character");
    return s;
  }

  std::optional<int64_t> Int(const std::string& key, int64_t min) const {
    const Value* v = Get(key);
    if (!v) return std::nullopt;
    if (v->kind() != Value::Kind::kInt) throw WrongType(key, *v, "an int");
    if (v->as_int() < min)
      throw InvalidArgument(Path(key), "must be at least " + std::to_string(min));
    return v->as_int();
  }

  std::optional<bool> Bool(const std::string& key) const {
    const Value* v = Get(key);
    if (!v) return std::nullopt;
    if (v->kind() != Value::Kind::kBool) throw WrongType(key, *v, "a bool");
    return v->as_bool();
  }

  // Money: Decimal, str or int; never float (a float is not an exact amount).
  std::optional<int64_t> Money(const std::string& key, int exponent, bool allow_negative) const {
    const Value* v = Get(key);
    if (!v) return std::nullopt;
    int64_t minor;
    switch (v->kind()) {
      case Value::Kind::kInt: {
        int64_t scale = 1;
        for (int i = 0; i < exponent; ++i) scale *= 10;
        if (v->as_int() > kMaxAmountMinor / scale || v->as_int() < -kMaxAmountMinor / scale)
          throw InvalidArgument(Path(key), "too large (at most 10^15 minor units)");
        minor = v->as_int() * scale;
        break;
      }
      case Value::Kind::kDecimal:
      case Value::Kind::kString:
        if (!IsValidUtf8(v->as_string())) throw InvalidArgument(Path(key), "is not valid UTF-8 text");
        minor = ParseMinorUnits(v->as_string(), exponent, Path(key));
        break;
      case Value::Kind::kFloat:
        throw InvalidArgument(Path(key),
                              "a float is not an exact amount; pass a Decimal, a str or an int");
      default:
        throw WrongType(key, *v, "an amount (Decimal, str or int)");
    }
    if (!allow_negative && minor < 0) throw InvalidArgument(Path(key), "must not be negative");
    return minor;
  }

  Error WrongType(const std::string& key, const Value& v, const char* expected) const {
    return InvalidArgument(Path(key), std::string("expected ") + expected + ", got " +
                                          Value::KindName(v.kind()));
  }

  void RefuseUnknown(const std::set<std::string>& allowed) const {
    for (const auto& kv : map_.as_map())
      if (!allowed.count(kv.first)) throw InvalidArgument(Path(kv.first), "unknown field");
  }

 private:
  const Value& map_;
  std::string prefix_;
};

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string ValidEmail(const Fields& f, const std::string& key) {
  std::string email = Lower(f.Text(key, 254));
  if (email.empty()) return email;
  size_t at = email.find('@');
  bool ok = at != std::string::npos && at > 0 && at + 1 < email.size() &&
            email.find('@', at + 1) == std::string::npos &&
            email.find('.', at + 1) != std::string::npos && email.back() != '.';
  for (unsigned char c : email)
    if (c <= 0x20 || c == '<' || c == '>' || c == ',' || c == ';' || c == '"') ok = false;
  if (!ok) throw InvalidArgument(f.Path(key), "'" + email + "' is not an e-mail address");
  return email;
}

std::string ValidPhone(const Fields& f, const std::string& key) {
  std::string phone = f.Text(key, 32);
  if (phone.empty()) return phone;
  bool ok = phone.size() >= 8 && phone.size() <= 16 && phone[0] == '+' && phone[1] >= '1' &&
            phone[1] <= '9';
  for (size_t i = 1; ok && i < phone.size(); ++i) ok = std::isdigit((unsigned char)phone[i]);
  if (!ok)
    throw InvalidArgument(f.Path(key), "'" + phone + "' is not an E.164 number (e.g. +48601234567)");
  return phone;
}

// "pl-PL,pl;q=0.9,en;q=0.8" or "de_AT" -> the first tag, "pl-PL" / "de-AT".
std::string ValidLanguage(const Fields& f, const std::string& key) {
  std::string raw = f.Text(key, 200);
  if (raw.empty()) return raw;
  std::string tag = raw.substr(0, raw.find_first_of(",;"));
  tag.erase(0, tag.find_first_not_of(' '));
  tag.erase(tag.find_last_not_of(' ') + 1);
  std::replace(tag.begin(), tag.end(), '_', '-');
  bool ok = !tag.empty() && tag.size() <= 35 && std::isalpha((unsigned char)tag[0]);
  for (char c : tag) ok = ok && (std::isalnum((unsigned char)c) || c == '-');
  if (!ok || tag == "*") throw InvalidArgument(f.Path(key), "'" + raw + "' is not a language tag");
  return tag;
}

std::string ValidTimezone(const Fields& f, const std::string& key) {
  std::string tz = f.Text(key, 64);
  if (tz.empty()) return tz;
  bool ok = std::isalpha((unsigned char)tz[0]) && tz.find("..") == std::string::npos;
  for (char c : tz)
    ok = ok && (std::isalnum((unsigned char)c) || c == '/' || c == '_' || c == '-' || c == '+');
  if (!ok) throw InvalidArgument(f.Path(key), "'" + tz + "' is not an IANA time zone name");
  // Well-formed is not enough: "QQQ" would silently fall back to the shop's zone.
  if (!IsKnownTimeZone(tz))
    throw InvalidArgument(f.Path(key), "'" + tz + "' is not a time zone in the IANA database");
  return tz;
}

std::string ValidCurrency(const Fields& f, const std::string& key) {
  std::string c = f.Text(key, 3);
  if (!c.empty() && !IsCurrencyCode(c))
    throw InvalidArgument(f.Path(key), "'" + c + "' is not an ISO 4217 currency code like EUR");
  return c;
}

std::string ValidUrl(const Fields& f, const std::string& key) {
  std::string url = f.Text(key, 2000);
  if (url.empty()) return url;
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0 && url[0] != '/')
    throw InvalidArgument(f.Path(key), "must be an http(s) URL or a path starting with /");
  return url;
}

bool IsBase64Url(const std::string& s) {
  for (unsigned char c : s)
    if (!std::isalnum(c) && c != '-' && c != '_' && c != '=') return false;
  return !s.empty();
}

// A browser's PushSubscription.toJSON(): {"endpoint": "https://...", "keys": {"p256dh",
// "auth"}} (expirationTime is accepted and ignored). Kept as canonical JSON.
std::string ValidSubscription(const Fields& f) {
  const Value* sub = f.Get("subscription");
  if (!sub) throw InvalidArgument("subscription", "is required");
  if (sub->kind() != Value::Kind::kMap) throw f.WrongType("subscription", *sub, "a dict");
  Fields sf(*sub, "subscription.");
  sf.RefuseUnknown({"endpoint", "keys", "expirationTime"});
  std::string endpoint = sf.Text("endpoint", 2000);
  if (endpoint.rfind("https://", 0) != 0)
    throw InvalidArgument("subscription.endpoint", "must be an https URL");
  const Value* keys = sf.Get("keys");
  if (!keys || keys->kind() != Value::Kind::kMap)
    throw InvalidArgument("subscription.keys", "is required (a dict with p256dh and auth)");
  Fields kf(*keys, "subscription.keys.");
  kf.RefuseUnknown({"p256dh", "auth"});
  std::string p256dh = kf.Text("p256dh", 200), auth = kf.Text("auth", 100);
  if (!IsBase64Url(p256dh)) throw InvalidArgument("subscription.keys.p256dh", "must be base64url");
  if (!IsBase64Url(auth)) throw InvalidArgument("subscription.keys.auth", "must be base64url");
  Poco::JSON::Object k(Poco::JSON_PRESERVE_KEY_ORDER);
  k.set("p256dh", p256dh);
  k.set("auth", auth);
  Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
  o.set("endpoint", endpoint);
  o.set("keys", k);
  std::ostringstream out;
  Poco::JSON::Stringifier::condense(o, out);
  return out.str();
}

std::vector<LineItem> ValidItems(const Value& list, int exponent) {
  if (list.kind() != Value::Kind::kList)
    throw InvalidArgument("items", std::string("expected a list, got ") + Value::KindName(list.kind()));
  if (list.as_list().size() > kMaxItems) throw InvalidArgument("items", "more than 500 lines");
  std::vector<LineItem> items;
  int64_t total = 0;
  size_t i = 0;
  for (const Value& v : list.as_list()) {
    std::string prefix = "items[" + std::to_string(i++) + "]";
    if (v.kind() != Value::Kind::kMap)
      throw InvalidArgument(prefix, std::string("expected a dict, got ") + Value::KindName(v.kind()));
    Fields f(v, prefix + ".");
    f.RefuseUnknown({"sku", "name", "price", "quantity", "image_url", "url"});
    LineItem item;
    item.sku = f.Id("sku", true);
    item.name = f.Name("name", 500);
    auto price = f.Money("price", exponent, false);
    if (!price) throw InvalidArgument(f.Path("price"), "is required");
    item.price_minor = *price;
    auto qty = f.Int("quantity", 1);
    if (!qty) throw InvalidArgument(f.Path("quantity"), "is required");
    if (*qty > 100000) throw InvalidArgument(f.Path("quantity"), "is not plausible (over 100000)");
    item.quantity = *qty;
    // Both factors are bounded, so the product cannot wrap; the cart's sum is checked too.
    if (item.price_minor > kMaxAmountMinor / item.quantity)
      throw InvalidArgument(prefix, "price x quantity is too large (at most 10^15 minor units)");
    total += item.price_minor * item.quantity;
    if (total > kMaxAmountMinor)
      throw InvalidArgument("items", "the cart's value is too large (at most 10^15 minor units)");
    item.image_url = ValidUrl(f, "image_url");
    item.url = ValidUrl(f, "url");
    items.push_back(std::move(item));
  }
  return items;
}

std::optional<Stage> ValidStage(const Fields& f, bool required) {
  std::string s = f.Text("stage", 40);
  if (s.empty()) {
    if (required) throw InvalidArgument("stage", "is required");
    return std::nullopt;
  }
  auto stage = ParseStage(s);
  if (!stage)
    throw InvalidArgument("stage", "'" + s +
                                       "' is not one of cart, contact, shipping_address, "
                                       "shipping_method, payment");
  return stage;
}

}  // namespace

const char* EventTypeName(EventType t) {
  for (const auto& s : Specs())
    if (s.type == t) return s.name;
  return "?";
}

std::optional<EventType> ParseEventType(const std::string& name) {
  const EventSpec* spec = FindSpec(name);
  if (!spec) return std::nullopt;
  return spec->type;
}

std::string ContactKeyOf(const std::string& email, const std::string& phone) {
  if (!email.empty()) return "e:" + email;
  if (!phone.empty()) return "p:" + phone;
  return {};
}

Event ParseEvent(const std::string& type, const Value& fields, Millis at_ms,
                 const std::string& default_currency) {
  const EventSpec* spec = FindSpec(type);
  if (!spec) {
    std::string names;
    for (const auto& s : Specs()) names += std::string(names.empty() ? "" : ", ") + s.name;
    throw InvalidArgument("type", "'" + type + "' is not an event type (" + names + ")");
  }
  if (fields.kind() != Value::Kind::kMap) throw InvalidArgument("", "fields must be a dict");
  Fields f(fields, "");
  f.RefuseUnknown(spec->allowed);

  Event e;
  e.type = spec->type;
  e.at_ms = at_ms;
  e.visitor_id = f.Id("visitor_id", false);
  switch (e.type) {
    case EventType::kCartUpdated: {
      e.cart_id = f.Id("cart_id", true);
      e.currency = ValidCurrency(f, "currency");
      if (e.currency.empty()) e.currency = default_currency;
      if (const Value* items = f.Get("items")) {
        e.has_items = true;
        e.items = ValidItems(*items, CurrencyExponent(e.currency));
      }
      e.stage = ValidStage(f, false);
      e.restore_url = ValidUrl(f, "restore_url");
      e.email = ValidEmail(f, "email");
      e.phone = ValidPhone(f, "phone");
      e.continues = f.Id("continues", false);
      if (e.continues == e.cart_id) e.continues.clear();  // a cart carrying on itself
      break;
    }
    case EventType::kContactCaptured: {
      e.cart_id = f.Id("cart_id", false);
      if (e.cart_id.empty() && e.visitor_id.empty())
        throw InvalidArgument("cart_id", "cart_id or visitor_id is required");
      e.email = ValidEmail(f, "email");
      e.phone = ValidPhone(f, "phone");
      e.first_name = f.Name("first_name", 100);
      e.language = ValidLanguage(f, "language");
      e.timezone = ValidTimezone(f, "timezone");
      e.orders_count = f.Int("orders_count", 0);
      e.currency = ValidCurrency(f, "currency");
      if (e.currency.empty()) e.currency = default_currency;
      e.lifetime_value_minor = f.Money("lifetime_value", CurrencyExponent(e.currency), false);
      if (const Value* c = f.Get("consent")) {
        if (c->kind() != Value::Kind::kMap) throw f.WrongType("consent", *c, "a dict");
        Fields cf(*c, "consent.");
        cf.RefuseUnknown({"email", "sms", "push", "personalization"});
        e.consent.email = cf.Bool("email");
        e.consent.sms = cf.Bool("sms");
        e.consent.push = cf.Bool("push");
        e.consent.personalization = cf.Bool("personalization");
      }
      break;
    }
    case EventType::kCheckoutStage:
      e.cart_id = f.Id("cart_id", true);
      e.stage = ValidStage(f, true);
      break;
    case EventType::kPageView: {
      e.visitor_id = f.Id("visitor_id", true);
      e.cart_id = f.Id("cart_id", false);
      e.page_type = f.Text("page_type", 20);
      static const std::set<std::string> kPages = {"home", "category", "product",
                                                    "cart", "checkout", "other"};
      if (e.page_type.empty()) throw InvalidArgument("page_type", "is required");
      if (!kPages.count(e.page_type))
        throw InvalidArgument("page_type", "'" + e.page_type +
                                               "' is not one of home, category, product, cart, "
                                               "checkout, other");
      e.url = ValidUrl(f, "url");
      e.product_id = f.Id("product_id", false);
      break;
    }
    case EventType::kOrderPlaced: {
      e.order_id = f.Id("order_id", true);
      e.cart_id = f.Id("cart_id", false);
      e.email = ValidEmail(f, "email");
      e.phone = ValidPhone(f, "phone");
      if (e.cart_id.empty() && e.email.empty() && e.phone.empty())
        throw InvalidArgument("cart_id", "an order needs cart_id, email or phone to match it");
      e.currency = ValidCurrency(f, "currency");
      if (e.currency.empty()) e.currency = default_currency;
      e.value_minor = f.Money("value", CurrencyExponent(e.currency), false);
      e.coupon = f.Text("coupon", 100);
      // "status" (paid, pending, on-hold, ...) is accepted and not used: an order in any
      // state ends the contact's journeys (redirect gateways and bank transfers included).
      f.Text("status", 40);
      break;
    }
    case EventType::kMessageOpened:
      e.message_id = f.Id("message_id", true);
      e.event_id = f.Id("event_id", false);
      break;
    case EventType::kLinkClicked:
      e.message_id = f.Id("message_id", true);
      e.url = ValidUrl(f, "url");
      e.event_id = f.Id("event_id", false);
      break;
    case EventType::kMessageBounced:
      e.message_id = f.Id("message_id", true);
      e.permanent = f.Bool("permanent").value_or(true);
      e.reason = f.Text("reason", 500);
      e.event_id = f.Id("event_id", false);
      break;
    case EventType::kPushSubscribed: {
      e.cart_id = f.Id("cart_id", false);
      e.email = ValidEmail(f, "email");
      if (e.cart_id.empty() && e.visitor_id.empty() && e.email.empty())
        throw InvalidArgument("visitor_id", "visitor_id, cart_id or email is required");
      e.push_subscription = ValidSubscription(f);
      break;
    }
    case EventType::kUnsubscribed:
      e.email = ValidEmail(f, "email");
      e.phone = ValidPhone(f, "phone");
      // The message whose unsubscribe link was used (the engine's own links pass it): the
      // unsubscribe counts against that message, not the newest one sent (R6.1).
      e.message_id = f.Id("message_id", false);
      if (e.email.empty() && e.phone.empty())
        throw InvalidArgument("email", "email or phone is required");
      break;
  }
  return e;
}

bool GatesSending(const Event& e) {
  switch (e.type) {
    case EventType::kOrderPlaced:
    case EventType::kUnsubscribed:
      return true;
    case EventType::kContactCaptured:
      return e.consent.email.has_value() || e.consent.sms.has_value() ||
             e.consent.push.has_value() || e.consent.personalization.has_value();
    default:
      return false;
  }
}

std::string EventToJson(const Event& e) {
  Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
  o.set("type", EventTypeName(e.type));
  o.set("at_ms", e.at_ms);
  auto put = [&o](const char* k, const std::string& v) {
    if (!v.empty()) o.set(k, v);
  };
  put("cart_id", e.cart_id);
  put("visitor_id", e.visitor_id);
  if (e.has_items) {
    Poco::JSON::Array items;
    for (const auto& it : e.items) {
      Poco::JSON::Object i(Poco::JSON_PRESERVE_KEY_ORDER);
      i.set("sku", it.sku);
      if (!it.name.empty()) i.set("name", it.name);
      i.set("price_minor", it.price_minor);
      i.set("quantity", it.quantity);
      if (!it.image_url.empty()) i.set("image_url", it.image_url);
      if (!it.url.empty()) i.set("url", it.url);
      items.add(i);
    }
    o.set("items", items);
  }
  put("currency", e.currency);
  if (e.stage) o.set("stage", StageName(*e.stage));
  put("restore_url", e.restore_url);
  put("continues", e.continues);
  put("email", e.email);
  put("phone", e.phone);
  put("first_name", e.first_name);
  put("language", e.language);
  put("timezone", e.timezone);
  if (e.orders_count) o.set("orders_count", *e.orders_count);
  if (e.lifetime_value_minor) o.set("lifetime_value_minor", *e.lifetime_value_minor);
  Poco::JSON::Object consent(Poco::JSON_PRESERVE_KEY_ORDER);
  bool any_consent = false;
  auto put_consent = [&](const char* k, const std::optional<bool>& v) {
    if (v) consent.set(k, *v), any_consent = true;
  };
  put_consent("email", e.consent.email);
  put_consent("sms", e.consent.sms);
  put_consent("push", e.consent.push);
  put_consent("personalization", e.consent.personalization);
  if (any_consent) o.set("consent", consent);
  put("page_type", e.page_type);
  put("url", e.url);
  put("product_id", e.product_id);
  put("order_id", e.order_id);
  if (e.value_minor) o.set("value_minor", *e.value_minor);
  put("coupon", e.coupon);
  put("message_id", e.message_id);
  put("push_subscription", e.push_subscription);
  if (e.type == EventType::kMessageBounced) {
    o.set("permanent", e.permanent);
    put("reason", e.reason);
  }
  put("event_id", e.event_id);
  std::ostringstream out;
  Poco::JSON::Stringifier::condense(o, out);
  return out.str();
}

static std::string LoggedEventFieldsUnchecked(const std::string& stored_json, const std::string& default_currency);

std::string LoggedEventFields(const std::string& stored_json, const std::string& default_currency) {
  // Stored events are our own JSON, but a damaged row must still be a StoreError, never a
  // crash: the same guards as every other JSON the core reads, and Poco's surprises caught.
  try {
    return LoggedEventFieldsUnchecked(stored_json, default_currency);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& ex) {
    throw Error(ErrorCode::kStorage,
                std::string("event log: a stored event is not readable (") + QuoteForError(ex.what(), 200) + ")");
  }
}

static std::string LoggedEventFieldsUnchecked(const std::string& stored_json, const std::string& default_currency) {
  if (!IsValidUtf8(stored_json) || internal::NestingDepth(stored_json) > internal::kMaxJsonDepth)
    throw Error(ErrorCode::kStorage, "event log: a stored event is not JSON (not UTF-8 or too deep)");
  Poco::JSON::Object::Ptr in;
  try {
    in = Poco::JSON::Parser().parse(stored_json).extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception& ex) {
    throw Error(ErrorCode::kStorage, "event log: a stored event is not JSON (" + QuoteForError(ex.displayText(), 200) + ")");
  }
  const std::string currency = in->has("currency") ? in->getValue<std::string>("currency") : default_currency;
  const int exp = CurrencyExponent(currency);
  auto amount = [&](const std::string& key) {
    return FormatMinorUnits(in->getValue<Poco::Int64>(key), exp);
  };
  Poco::JSON::Object out(Poco::JSON_PRESERVE_KEY_ORDER);
  for (const auto& key : in->getNames()) {
    if (key == "type" || key == "at_ms") continue;
    if (key == "value_minor") {
      out.set("value", amount(key));
    } else if (key == "lifetime_value_minor") {
      out.set("lifetime_value", amount(key));
    } else if (key == "items") {
      Poco::JSON::Array items;
      for (const auto& v : *in->getArray("items")) {
        auto item = v.extract<Poco::JSON::Object::Ptr>();
        Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
        for (const auto& k : item->getNames()) {
          if (k == "price_minor") o.set("price", FormatMinorUnits(item->getValue<Poco::Int64>(k), exp));
          else o.set(k, item->get(k));
        }
        items.add(o);
      }
      out.set("items", items);
    } else {
      out.set(key, in->get(key));
    }
  }
  std::ostringstream text;
  Poco::JSON::Stringifier::condense(out, text);
  return text.str();
}

}  // namespace cartrecovery
