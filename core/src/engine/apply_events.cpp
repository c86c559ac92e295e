// What a committed event changes. Runs inside the writer's transaction, one savepoint per
// event; reads and writes only through the Store, decides only through flow.h's rules.
#include <algorithm>
#include <cassert>

#include "cartrecovery/offer.h"
#include "cartrecovery/status.h"
#include "engine/engine_impl.h"

namespace cartrecovery {
namespace {

Cart NewCart(const std::string& cart_id, Millis at) {
  Cart c;
  c.cart_id = cart_id;
  c.created_ms = at;
  c.last_activity_ms = at;
  return c;
}

}  // namespace

std::vector<std::string> Engine::Impl::EventLockKeys(Store& store, const std::vector<QueuedEvent>& batch) {
  std::vector<std::string> keys, carts;
  for (const auto& item : batch) {
    const Event& e = item.event;
    for (const std::string& k : {ContactKeyOf(e.email, e.phone), ContactKeyOf(e.email, ""),
                                 ContactKeyOf("", e.phone)})
      if (!k.empty()) keys.push_back(k);
    if (!e.phone.empty()) keys.push_back("phone:" + e.phone);
    if (!e.visitor_id.empty()) keys.push_back("visitor:" + e.visitor_id);
    if (!e.cart_id.empty()) carts.push_back(e.cart_id);
    if (!e.continues.empty()) carts.push_back(e.continues);
  }
  if (!carts.empty())
    for (auto& k : store.CartLockKeys(carts)) keys.push_back(std::move(k));
  return keys;
}

void Engine::Impl::Apply(Store& store, const Event& e) {
  store.AppendEvent(e, EventToJson(e));
  switch (e.type) {
    case EventType::kCartUpdated: {
      Cart cart = store.LoadCart(e.cart_id).value_or(NewCart(e.cart_id, e.at_ms));
      if (cart.state == CartState::kRecovered || cart.state == CartState::kOrdered) {
        // A shop that reuses a cart id after an order starts a new cart's life.
        if (e.has_items && !e.items.empty()) cart = NewCart(e.cart_id, e.at_ms);
        else break;
      }
      if (!e.visitor_id.empty()) {
        cart.visitor_id = e.visitor_id;
        if (cart.contact_key.empty()) cart.contact_key = store.ContactKeyForVisitor(e.visitor_id);
      }
      if (!e.currency.empty()) cart.currency = e.currency;
      if (e.has_items) cart.items = e.items;
      if (e.stage) cart.stage = *e.stage;
      if (!e.restore_url.empty()) cart.restore_url = e.restore_url;
      if (!e.continues.empty()) ContinueCart(store, e.continues, cart, e.at_ms);
      if (!e.email.empty() || !e.phone.empty()) ApplyContact(store, e, &cart);
      ApplyCartActivity(store, cart, e.at_ms);
      break;
    }
    case EventType::kCheckoutStage: {
      Cart cart = store.LoadCart(e.cart_id).value_or(NewCart(e.cart_id, e.at_ms));
      if (cart.state == CartState::kRecovered || cart.state == CartState::kOrdered) break;
      if (!e.visitor_id.empty() && cart.visitor_id.empty()) cart.visitor_id = e.visitor_id;
      cart.stage = *e.stage;
      ApplyCartActivity(store, cart, e.at_ms);
      break;
    }
    case EventType::kContactCaptured: {
      std::optional<Cart> cart;
      if (!e.cart_id.empty()) cart = store.LoadCart(e.cart_id).value_or(NewCart(e.cart_id, e.at_ms));
      ApplyContact(store, e, cart ? &*cart : nullptr);
      if (cart && cart->state != CartState::kRecovered && cart->state != CartState::kOrdered) {
        // Typing an address into checkout is shopping (R1.5), and shows the contact stage.
        if (cart->stage < Stage::kContact && (!e.email.empty() || !e.phone.empty()))
          cart->stage = Stage::kContact;
        ApplyCartActivity(store, *cart, e.at_ms);
      } else if (cart) {
        store.SaveCart(*cart);
      }
      break;
    }
    case EventType::kPageView:
      break;  // kept in the event log for reports and lead temperature
    case EventType::kOrderPlaced:
      ApplyOrder(store, e);
      break;
    case EventType::kMessageOpened:
    case EventType::kLinkClicked:
      ApplyEngagement(store, e);
      break;
    case EventType::kUnsubscribed:
      ApplyUnsubscribe(store, e);
      break;
    case EventType::kMessageBounced: {
      // A provider's later report (anymail, a bounce mailbox): the message did not arrive.
      auto m = store.LoadMessage(e.message_id);
      // Providers repeat their reports: the first one counts.
      if (!m || m->status == MessageStatus::kBounced) break;
      assert(CanMove(m->status, MessageStatus::kBounced));
      m->status = MessageStatus::kBounced;
      m->reason = e.reason.empty() ? (e.permanent ? "hard bounce" : "soft bounce") : e.reason;
      store.UpdateMessage(*m);
      if (!e.permanent) break;
      if (auto c = store.LoadContact(m->contact_key)) {
        if (m->channel == "email") c->email_bounced = true;
        if (m->channel == "sms") c->phone_bounced = true;
        store.SaveContact(*c);
      }
      break;
    }
    case EventType::kPushSubscribed: {
      std::optional<Cart> cart;
      if (!e.cart_id.empty()) cart = store.LoadCart(e.cart_id).value_or(NewCart(e.cart_id, e.at_ms));
      std::string key = ApplyContact(store, e, cart ? &*cart : nullptr);
      if (auto c = store.LoadContact(key)) {
        // Granting the browser's permission is the shopper's explicit yes to push.
        c->push_subscription = e.push_subscription;
        c->consent.push = true;
        store.SaveContact(*c);
      }
      if (cart) store.SaveCart(*cart);
      break;
    }
  }
}

void Engine::Impl::ApplyCartActivity(Store& store, Cart& cart, Millis at) {
  cart.last_activity_ms = std::max(cart.last_activity_ms, at);
  if (cart.items.empty()) {
    if (cart.state == CartState::kActive || cart.state == CartState::kAbandoned)
      cart.state = CartState::kEmptied;
    store.CancelJobs("abandon", cart.cart_id);
    auto j = store.LatestJourneyOfCart(cart.cart_id);
    if (j && j->state == JourneyState::kRunning) EndJourney(store, *j, "emptied", at);
    store.SaveCart(cart);
    return;
  }
  if (cart.state == CartState::kEmptied || cart.state == CartState::kExpired ||
      cart.state == CartState::kAbandoned)
    cart.state = CartState::kActive;
  store.SaveCart(cart);
  store.ScheduleJob("abandon", cart.cart_id, cart.last_activity_ms + min_abandon_after_ms);
  // S3: never remind someone who is shopping. The contact's running journey (on this cart
  // or, from another device, on an older one) waits until this cart is quiet again.
  if (cart.contact_key.empty()) return;
  auto j = store.RunningJourneyOfContact(cart.contact_key);
  if (!j) return;
  const Flow* flow = FindFlow(j->flow);
  Millis quiet_until = cart.last_activity_ms + (flow ? flow->abandon_after_ms : min_abandon_after_ms);
  if (j->next_due_ms < quiet_until) {
    j->next_due_ms = quiet_until;
    j->updated_ms = at;
    store.SaveJourney(*j);
    store.ScheduleJob("step", j->journey_id, quiet_until);
  }
}

void Engine::Impl::ContinueCart(Store& store, const std::string& original_id, Cart& cart, Millis at) {
  auto original = store.LoadCart(original_id);
  if (!original) return;  // an id the engine never saw: nothing to carry on
  if (cart.contact_key.empty()) cart.contact_key = original->contact_key;
  if (cart.visitor_id.empty()) cart.visitor_id = original->visitor_id;
  if (cart.stage < original->stage) cart.stage = original->stage;
  if (cart.restore_url.empty()) cart.restore_url = original->restore_url;
  // The journey follows the shopper's cart, whatever id the shop gave it: an order on the
  // new cart ends it, and the reminders it sent get the order (attribution by the cart).
  if (auto j = store.LatestJourneyOfCart(original_id); j && j->state == JourneyState::kRunning) {
    j->cart_id = cart.cart_id;
    j->updated_ms = at;
    store.SaveJourney(*j);
  }
  store.CancelJobs("abandon", original_id);
}

std::string Engine::Impl::ApplyContact(Store& store, const Event& e, Cart* cart) {
  std::string old_key = cart ? cart->contact_key : std::string();
  if (old_key.empty() && !e.visitor_id.empty()) old_key = store.ContactKeyForVisitor(e.visitor_id);
  std::string key = ContactKeyOf(e.email, e.phone);
  if (key.empty()) key = !old_key.empty() ? old_key : (!e.visitor_id.empty() ? "v:" + e.visitor_id : "c:" + e.cart_id);

  Contact c = store.LoadContact(key).value_or(Contact{});
  c.key = key;
  // What the shopper left under the old key (a visitor-only contact) carries over.
  if (!old_key.empty() && old_key != key) {
    if (auto old = store.LoadContact(old_key)) {
      if (c.language.empty()) c.language = old->language;
      if (c.timezone.empty()) c.timezone = old->timezone;
      if (c.first_name.empty()) c.first_name = old->first_name;
    }
  }
  if (!e.email.empty() && e.email != c.email) c.email = e.email, c.email_bounced = false;
  if (!e.phone.empty() && e.phone != c.phone) c.phone = e.phone, c.phone_bounced = false;
  if (!e.first_name.empty()) c.first_name = e.first_name;
  if (!e.language.empty()) c.language = e.language;
  if (!e.timezone.empty()) c.timezone = e.timezone;
  if (e.orders_count) c.orders_count = *e.orders_count;
  if (e.lifetime_value_minor) c.lifetime_value_minor = *e.lifetime_value_minor;
  // Consent changes are kept with their time and the event that said so (privacy).
  auto consent = [&](const char* what, std::optional<bool>& held, const std::optional<bool>& given) {
    if (!given) return;
    if (held != given) store.LogConsent(key, what, *given, e.at_ms, EventTypeName(e.type));
    held = given;
  };
  consent("email", c.consent.email, e.consent.email);
  consent("sms", c.consent.sms, e.consent.sms);
  consent("push", c.consent.push, e.consent.push);
  consent("personalization", c.consent.personalization, e.consent.personalization);
  store.SaveContact(c);

  // R3.4: one phone number per customer; a number given by a newer e-mail moves to it.
  if (!c.phone.empty()) {
    for (const auto& other : store.ContactsWithPhone(c.phone, key)) {
      if (auto o = store.LoadContact(other)) {
        o->phone.clear();
        store.SaveContact(*o);
      }
    }
  }
  if (!e.visitor_id.empty()) store.LinkVisitor(e.visitor_id, key);
  if (cart && !cart->visitor_id.empty() && cart->visitor_id != e.visitor_id)
    store.LinkVisitor(cart->visitor_id, key);
  if (cart) cart->contact_key = key;
  // A journey that ran under the old key belongs to the person now known by the new one.
  if (!old_key.empty() && old_key != key) {
    if (auto j = store.RunningJourneyOfContact(old_key)) {
      j->contact_key = key;
      store.SaveJourney(*j);
    }
  }
  return key;
}

void Engine::Impl::EndJourney(Store& store, JourneyRecord& j, const std::string& reason, Millis at) {
  assert(CanMove(j.state, JourneyState::kEnded));
  j.state = JourneyState::kEnded;
  j.end_reason = reason;
  j.updated_ms = at;
  store.SaveJourney(j);
  store.CancelJobs("step", j.journey_id);
  // S4: messages already due but not yet handed to a channel are not sent either.
  store.SuppressUnsent(j.journey_id, reason);
}

void Engine::Impl::ApplyOrder(Store& store, const Event& e) {
  std::optional<Cart> cart;
  if (!e.cart_id.empty()) cart = store.LoadCart(e.cart_id);
  std::string key = cart && !cart->contact_key.empty() ? cart->contact_key : ContactKeyOf(e.email, e.phone);
  // R3.4: a phone number belongs to one contact, who is keyed by e-mail when one is known;
  // an order that gives only the phone is that contact's.
  std::vector<std::string> phone_owners;
  if (!e.phone.empty()) phone_owners = store.ContactsWithPhone(e.phone, "");
  if (key.rfind("p:", 0) == 0 && !phone_owners.empty()) key = phone_owners.front();
  // Last touch within the attribution window.
  std::optional<MessageRecord> touch;
  if (!key.empty()) {
    touch = store.LastSentTo(key, e.at_ms - opts.attribution_window_ms);
    if (touch && touch->sent_ms > e.at_ms) touch.reset();
  }
  if (!touch && cart) {
    // Checkout under another e-mail than the one reminded: the reminder of this cart's
    // journey brought the shopper back, so it gets the order (attribution by the cart).
    if (auto j = store.LatestJourneyOfCart(cart->cart_id)) {
      MessageFilter f;
      f.journey_id = j->journey_id;
      f.limit = 0;
      for (const auto& m : store.ListMessages(f))
        if (m.status == MessageStatus::kSent && m.sent_ms >= e.at_ms - opts.attribution_window_ms &&
            m.sent_ms <= e.at_ms && (!touch || m.sent_ms > touch->sent_ms))
          touch = m;
    }
  }
  if (!cart && !key.empty()) {
    // Matched by e-mail or phone only (another device, a phone order): the order recovers
    // the cart the contact's journey is about, or the one last reminded of.
    if (auto j = store.RunningJourneyOfContact(key)) cart = store.LoadCart(j->cart_id);
    else if (touch) cart = store.LoadCart(touch->cart_id);
  }

  OrderRecord order;
  order.order_id = e.order_id;
  order.cart_id = cart ? cart->cart_id : e.cart_id;
  order.contact_key = key;
  order.value_minor = e.value_minor.value_or(cart ? cart->ValueMinor() : 0);
  order.currency = !e.currency.empty() ? e.currency : (cart ? cart->currency : std::string());
  order.coupon = e.coupon;
  order.at_ms = e.at_ms;
  // A popup shown in the window is a touch too; the newer touch gets the order.
  const std::string visitor = cart ? cart->visitor_id : std::string();
  std::optional<OfferRecord> offer;
  if (!key.empty() || !visitor.empty())
    offer = store.LastShownOffer(visitor, key, e.at_ms - opts.attribution_window_ms, e.at_ms);
  if (offer && (!touch || offer->decided_ms > touch->sent_ms)) {
    order.message_id = "offer:" + std::to_string(offer->offer_id);
    order.flow = "exit_intent";
    order.step = 0;
    order.channel = offer->kind;
  } else if (touch) {
    order.message_id = touch->message_id;
    order.flow = touch->flow;
    order.step = touch->step;
    order.channel = touch->channel;
  }
  if (!store.InsertOrder(order)) return;  // the same order reported twice
  // An order that names one of our unique codes used it up: it cannot pay a second order.
  // (The shop's platform accepted it; this order is the proof, whoever it was handed to.)
  if (!e.coupon.empty()) {
    store.LockKeys({"coupon:" + NormalizeCouponCode(e.coupon)});  // two orders, one code
    auto coupon = store.LoadCoupon(NormalizeCouponCode(e.coupon));
    if (coupon && !coupon->shared && coupon->redeemed_order.empty())
      store.MarkRedeemed(coupon->code, e.order_id, e.at_ms);
  }

  bool had_journey = false;
  // S4: an order ends every running journey of the contact, whatever the order's state.
  std::vector<std::string> keys;
  if (!key.empty()) keys.push_back(key);
  for (const std::string& k : {ContactKeyOf(e.email, ""), ContactKeyOf("", e.phone)})
    if (!k.empty() && std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
  for (const auto& k : phone_owners)
    if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
  for (const auto& k : keys) {
    while (auto j = store.RunningJourneyOfContact(k)) {
      had_journey = true;
      EndJourney(store, *j, "ordered", e.at_ms);
    }
    if (auto c = store.LoadContact(k)) {
      c->last_order_ms = std::max(c->last_order_ms, e.at_ms);
      c->orders_count += 1;
      c->lifetime_value_minor += order.value_minor;
      store.SaveContact(*c);
    }
  }
  if (cart) {
    if (auto j = store.LatestJourneyOfCart(cart->cart_id)) {
      had_journey = true;
      if (j->state == JourneyState::kRunning) EndJourney(store, *j, "ordered", e.at_ms);
    }
    cart->state = had_journey || cart->state == CartState::kAbandoned ||
                          cart->state == CartState::kExpired
                      ? CartState::kRecovered
                      : CartState::kOrdered;
    store.CancelJobs("abandon", cart->cart_id);
    store.SaveCart(*cart);
  }
}

void Engine::Impl::ApplyEngagement(Store& store, const Event& e) {
  auto m = store.LoadMessage(e.message_id);
  if (!m) return;  // unknown or foreign id: nothing to attach it to
  bool click = e.type == EventType::kLinkClicked;
  bool changed = false;
  if (m->opened_ms == 0) m->opened_ms = e.at_ms, changed = true;  // a click implies an open
  if (click && m->clicked_ms == 0) m->clicked_ms = e.at_ms, changed = true;
  if (!changed) return;
  store.UpdateMessage(*m);

  auto j = store.LoadJourney(m->journey_id);
  if (!j || j->state != JourneyState::kRunning) return;
  const Flow* flow = FindFlow(j->flow);
  const Path* path = flow ? flow->FindPath(j->path) : nullptr;
  if (!path || j->next_step >= static_cast<int>(path->steps.size())) return;
  if (!EngagementMatters(*path, m->step - 1, j->next_step)) return;
  Engagement seen = click ? Engagement::kClicked : Engagement::kOpened;
  if (seen <= j->prev_engagement) return;
  j->prev_engagement = seen;
  // S2: the branch follows the engagement; its due time is recomputed, never into the past.
  Cart cart = store.LoadCart(j->cart_id).value_or(Cart{});
  JourneyProgress p;
  p.next_step = j->next_step;
  p.last_activity_ms = cart.last_activity_ms;
  p.prev_sent_ms = j->prev_sent_ms;
  p.prev_engagement = j->prev_engagement;
  p.prev_branch = j->prev_branch;
  DueStep due = NextDue(*flow, *path, p, e.at_ms);
  j->next_due_ms = due.due_ms;
  j->next_branch = due.branch;
  j->updated_ms = e.at_ms;
  store.SaveJourney(*j);
  store.ScheduleJob("step", j->journey_id, due.due_ms);
}

namespace {

// The message an event names, when it is this contact's own (an id from another contact's
// message, or a guessed one, attributes nothing).
std::optional<MessageRecord> LinkedMessage(Store& store, const Event& e, const std::string& key) {
  if (e.message_id.empty()) return std::nullopt;
  auto m = store.LoadMessage(e.message_id);
  if (!m || m->contact_key != key || m->sent_ms == 0) return std::nullopt;
  return m;
}

}  // namespace

void Engine::Impl::ApplyUnsubscribe(Store& store, const Event& e) {
  // R3.4: one subscription state for e-mail and SMS: the contact is unsubscribed, whatever
  // channel the request came from.
  std::vector<std::string> keys;
  for (const std::string& k : {ContactKeyOf(e.email, ""), ContactKeyOf("", e.phone)})
    if (!k.empty()) keys.push_back(k);
  if (!e.phone.empty())
    for (const auto& k : store.ContactsWithPhone(e.phone, "")) keys.push_back(k);
  for (const auto& k : keys) {
    Contact c = store.LoadContact(k).value_or(Contact{});
    c.key = k;
    if (c.email.empty() && k.rfind("e:", 0) == 0) c.email = k.substr(2);
    if (c.phone.empty() && k.rfind("p:", 0) == 0) c.phone = k.substr(2);
    if (!c.unsubscribed) store.LogConsent(k, "subscription", false, e.at_ms, EventTypeName(e.type));
    c.unsubscribed = true;
    store.SaveContact(c);
    // R6.1 counts unsubscribes per message: the one whose link was used, else the last one
    // sent within the attribution window.
    if (auto used = LinkedMessage(store, e, k)) {
      if (used->unsubscribed_ms == 0) {
        used->unsubscribed_ms = e.at_ms;
        store.UpdateMessage(*used);
      }
    } else if (auto touch = store.LastSentTo(k, e.at_ms - opts.attribution_window_ms)) {
      if (touch->unsubscribed_ms == 0 && touch->sent_ms <= e.at_ms) {
        touch->unsubscribed_ms = e.at_ms;
        store.UpdateMessage(*touch);
      }
    }
    while (auto j = store.RunningJourneyOfContact(k)) EndJourney(store, *j, "unsubscribed", e.at_ms);
  }
}

}  // namespace cartrecovery
