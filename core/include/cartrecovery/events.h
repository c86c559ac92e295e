// events.h: what a shop tells the engine, validated into typed events.
//
// ParseEvent turns the loose form (an event type and a map of fields, as it arrives from a
// Python dict or JSON) into an Event, or throws InvalidArgument naming the field at fault.
// Validation is complete before anything is queued: an event either is accepted whole or
// leaves no trace. Unknown fields are refused, so a typo does not silently drop data.
#ifndef CARTRECOVERY_EVENTS_H_
#define CARTRECOVERY_EVENTS_H_

#include <optional>
#include <string>
#include <vector>

#include "cartrecovery/clock.h"
#include "cartrecovery/model.h"
#include "cartrecovery/value.h"

namespace cartrecovery {

enum class EventType {
  kCartUpdated,
  kContactCaptured,
  kCheckoutStage,
  kPageView,
  kOrderPlaced,
  kMessageOpened,
  kLinkClicked,
  kUnsubscribed,
  kPushSubscribed,
  kMessageBounced,
};
const char* EventTypeName(EventType t);  // "cart_updated", ...
std::optional<EventType> ParseEventType(const std::string& name);

struct Event {
  EventType type = EventType::kCartUpdated;
  Millis at_ms = 0;

  std::string cart_id;
  std::string visitor_id;

  // cart_updated
  bool has_items = false;  // items given (an empty list empties the cart)
  std::vector<LineItem> items;
  std::string currency;
  std::optional<Stage> stage;  // also checkout_stage
  std::string restore_url;
  // The cart this one carries on (a restore or a merge gave the shopper a new cart id): the
  // original's journey, contact and stage move to this cart, so one journey goes on.
  std::string continues;

  // contact_captured (email lower-cased; phone E.164; language the first BCP 47 tag)
  std::string email;  // also order_placed, unsubscribed
  std::string phone;  // also order_placed, unsubscribed
  std::string first_name;
  std::string language;
  std::string timezone;
  std::optional<int64_t> orders_count;
  std::optional<int64_t> lifetime_value_minor;
  Consent consent;

  // page_view
  std::string page_type;
  std::string url;  // also link_clicked
  std::string product_id;

  // order_placed
  std::string order_id;
  std::optional<int64_t> value_minor;
  std::string coupon;

  // message_opened, link_clicked
  std::string message_id;

  // push_subscribed: canonical JSON of the subscription
  std::string push_subscription;

  // message_bounced (a provider's report after the message was accepted)
  bool permanent = true;
  std::string reason;
  // message_opened, link_clicked, message_bounced: the provider's event id, kept in the log
  std::string event_id;
};

// Validates `fields` (a map) for event `type` at time `at_ms`. Throws InvalidArgument with
// field() naming the culprit ("type", "items[1].price", "email", ...). Amounts are read in
// the minor units of the event's `currency`, or of `default_currency` (the shop's) when the
// event names none, so a JPY shop's "500" is 500 yen, never 5.00.
Event ParseEvent(const std::string& type, const Value& fields, Millis at_ms,
                 const std::string& default_currency = "EUR");

// Events whose effect must be durable before track() returns: they stop or gate sending.
bool GatesSending(const Event& event);

// Canonical JSON of an event (stored in the event log, used for replays).
std::string EventToJson(const Event& event);

// A logged event (EventToJson) back in the public form ParseEvent takes: the fields only
// (no "type" or "at"), amounts as decimal text in the event's currency or
// `default_currency` ("price": "19.99", not "price_minor": 1999), so an export can be fed
// to another engine. Throws Error(kStorage) when `stored_json` is not a logged event.
std::string LoggedEventFields(const std::string& stored_json, const std::string& default_currency);

// The contact key an event names, if any ("e:<email>", "p:<phone>"); empty otherwise.
std::string ContactKeyOf(const std::string& email, const std::string& phone);

}  // namespace cartrecovery

#endif  // CARTRECOVERY_EVENTS_H_
