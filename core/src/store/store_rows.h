// store_rows.h: how both stores turn rows into records and records into parameters: the
// column list of each SELECT with the reader that expects exactly those columns, and the
// binders that give each INSERT its parameters in column order. In one place so that a new
// column cannot reach one store and miss the other. `Row` / `S` is the store's statement
// type (SQLite's Stmt, PostgreSQL's PgStmt): Step(), Text(i), Int(i), OptBool(i), Bind(i, v).
#ifndef CARTRECOVERY_SRC_STORE_STORE_ROWS_H_
#define CARTRECOVERY_SRC_STORE_STORE_ROWS_H_

#include <algorithm>
#include <optional>
#include <string>

#include "cartrecovery/store.h"
#include "store/store_codec.h"

namespace cartrecovery {
namespace internal {

// The next time a worker has something to do: the earlier of the two columns of
// NextDueMs's one row (next pending due time, first claim lease to run out), either NULL.
template <class Row>
std::optional<Millis> EarlierOf(Row& s) {
  if (!s.Step()) return std::nullopt;
  std::optional<Millis> next;
  for (int i = 0; i < 2; ++i)
    if (!s.IsNull(i)) next = next ? std::min(*next, Millis(s.Int(i))) : Millis(s.Int(i));
  return next;
}

// The jobs a claim returned ("RETURNING job_id, kind, subject, due_ms, attempt"), most
// overdue first: RETURNING gives rows in no set order.
template <class Row>
std::vector<JobRecord> ReadClaimedJobs(Row& s) {
  std::vector<JobRecord> jobs;
  while (s.Step()) {
    JobRecord j;
    j.job_id = s.Int(0);
    j.kind = s.Text(1);
    j.subject = s.Text(2);
    j.due_ms = s.Int(3);
    j.attempt = static_cast<int>(s.Int(4));
    jobs.push_back(std::move(j));
  }
  std::sort(jobs.begin(), jobs.end(), [](const JobRecord& a, const JobRecord& b) {
    return a.due_ms != b.due_ms ? a.due_ms < b.due_ms : a.job_id < b.job_id;
  });
  return jobs;
}

// Each returns "SELECT <the reader's columns> FROM <table> " + tail. The statement caches
// are keyed by text, so each tail yields one cached statement.
inline std::string JourneySelect(const std::string& tail) {
  return std::string(
             "SELECT journey_id, contact_key, cart_id, flow, path, state, end_reason, next_step,"
             " next_due_ms, next_branch, started_ms, prev_sent_ms, prev_engagement, prev_branch,"
             " updated_ms FROM journeys ") +
         tail;
}

// message_bodies' text and html as written: the SQLite store may have packed them against
// a dictionary (body_codec.h); unpack_body is its SQL function for that, and PostgreSQL's
// returns them as they are (migration 16).
#define UNPACKED_TEXT "unpack_body(b.text, b.dict_id) AS text"
#define UNPACKED_HTML "unpack_body(b.html, b.dict_id) AS html"

// A message with its contents: subject, text and HTML live in message_bodies (migration 11),
// a row only when there are some (read back as empty strings when there are none).
inline std::string MessageSelect(const std::string& tail) {
  return std::string(
             "SELECT message_id, journey_id, cart_id, contact_key, flow, path, step, branch,"
             " channel, status, reason, to_addr, subject, " UNPACKED_TEXT ", " UNPACKED_HTML ","
             " due_ms, sent_ms, opened_ms, clicked_ms, attempts, created_ms, variant, unsubscribed_ms"
             " FROM messages LEFT JOIN message_bodies b ON b.body_id = messages.body_id ") +
         tail;
}

// Lead temperature (S9): who a row is about. An event: its visitor, else its cart's visitor,
// else its cart; a cart: its visitor, else itself. Checkout stages make a lead hot.
#define LEAD_WHO_OF_EVENT                                                              \
  "(CASE WHEN e.visitor_id <> '' THEN e.visitor_id WHEN c.visitor_id <> '' THEN"       \
  " c.visitor_id WHEN e.cart_id <> '' THEN 'cart:' || e.cart_id END)"
#define LEAD_WHO_OF_CART \
  "(CASE WHEN c.visitor_id <> '' THEN c.visitor_id ELSE 'cart:' || c.cart_id END)"
#define LEAD_CHECKOUT_STAGES "'contact', 'shipping_address', 'shipping_method', 'payment'"

// An offers row the incentive budget counts, and whether it gave a valuable customer's
// incentive (1 or 0).
#define BUDGET_DECISION "kind = 'coupon' AND incentive_rule <> ''"
#define VALUABLE_INCENTIVE "CASE WHEN incentive_rule = 'priority_customer' AND show = 1 THEN 1 ELSE 0 END"

inline std::string OfferSelect(const std::string& tail) {
  return std::string(
             "SELECT offer_id, visitor_id, cart_id, contact_key, show, kind, variant, reason,"
             " incentive_rule, coupon_code, decided_ms, source FROM offers ") +
         tail;
}

// Steps to the first row; nullopt when there is none.
template <class Row>
std::optional<JourneyRecord> ReadJourney(Row& s) {
  if (!s.Step()) return std::nullopt;
  JourneyRecord j;
  j.journey_id = s.Text(0);
  j.contact_key = s.Text(1);
  j.cart_id = s.Text(2);
  j.flow = s.Text(3);
  j.path = s.Text(4);
  j.state = JourneyStateFrom(s.Text(5));
  j.end_reason = s.Text(6);
  j.next_step = static_cast<int>(s.Int(7));
  j.next_due_ms = s.Int(8);
  j.next_branch = EngagementFrom(s.Text(9));
  j.started_ms = s.Int(10);
  j.prev_sent_ms = s.Int(11);
  j.prev_engagement = EngagementFrom(s.Text(12)).value_or(Engagement::kUnopened);
  j.prev_branch = EngagementFrom(s.Text(13));
  j.updated_ms = s.Int(14);
  return j;
}

// The current row (the caller steps).
template <class Row>
MessageRecord ReadMessage(const Row& s) {
  MessageRecord m;
  m.message_id = s.Text(0);
  m.journey_id = s.Text(1);
  m.cart_id = s.Text(2);
  m.contact_key = s.Text(3);
  m.flow = s.Text(4);
  m.path = s.Text(5);
  m.step = static_cast<int>(s.Int(6));
  m.branch = EngagementFrom(s.Text(7));
  m.channel = s.Text(8);
  m.status = MessageStatusFrom(s.Text(9));
  m.reason = s.Text(10);
  m.to = s.Text(11);
  m.subject = s.Text(12);
  m.text = s.Text(13);
  m.html = s.Text(14);
  m.due_ms = s.Int(15);
  m.sent_ms = s.Int(16);
  m.opened_ms = s.Int(17);
  m.clicked_ms = s.Int(18);
  m.attempts = static_cast<int>(s.Int(19));
  m.created_ms = s.Int(20);
  m.variant = s.Text(21);
  m.unsubscribed_ms = s.Int(22);
  return m;
}

// The first row, nullopt when there is none; the rest are stepped over so that the
// statement is done (a SQLite statement left mid-way would keep its read open).
template <class Row>
std::optional<OfferRecord> ReadOffer(Row& s) {
  if (!s.Step()) return std::nullopt;
  OfferRecord o;
  o.offer_id = s.Int(0);
  o.visitor_id = s.Text(1);
  o.cart_id = s.Text(2);
  o.contact_key = s.Text(3);
  o.show = s.Int(4) != 0;
  o.kind = s.Text(5);
  o.variant = s.Text(6);
  o.reason = s.Text(7);
  o.incentive_rule = s.Text(8);
  o.coupon_code = s.Text(9);
  o.decided_ms = s.Int(10);
  o.source = s.Text(11);
  while (s.Step()) {
  }
  return o;
}

inline std::string CartSelect(const std::string& tail) {
  return std::string(
             "SELECT visitor_id, contact_key, state, stage, currency, items, restore_url, "
             "created_ms, last_activity_ms FROM carts ") +
         tail;
}

// The current row; `cart_id` is the key the row was looked up by.
template <class Row>
Cart CartFromRow(const Row& s, const std::string& cart_id) {
  Cart c;
  c.cart_id = cart_id;
  c.visitor_id = s.Text(0);
  c.contact_key = s.Text(1);
  c.state = ParseCartState(s.Text(2)).value_or(CartState::kActive);
  c.stage = ParseStage(s.Text(3)).value_or(Stage::kCart);
  c.currency = s.Text(4);
  c.items = ItemsFromJson(s.Text(5));
  c.restore_url = s.Text(6);
  c.created_ms = s.Int(7);
  c.last_activity_ms = s.Int(8);
  return c;
}

inline std::string ContactSelect(const std::string& tail) {
  return std::string(
             "SELECT email, phone, first_name, language, timezone, orders_count, "
             "lifetime_value_minor, consent_email, consent_sms, consent_push, "
             "consent_personalization, unsubscribed, last_message_ms, last_order_ms, "
             "push_subscription, email_bounced, phone_bounced FROM contacts ") +
         tail;
}

// The current row; `key` is the key the row was looked up by.
template <class Row>
Contact ContactFromRow(const Row& s, const std::string& key) {
  Contact c;
  c.key = key;
  c.email = s.Text(0);
  c.phone = s.Text(1);
  c.first_name = s.Text(2);
  c.language = s.Text(3);
  c.timezone = s.Text(4);
  c.orders_count = s.Int(5);
  c.lifetime_value_minor = s.Int(6);
  c.consent.email = s.OptBool(7);
  c.consent.sms = s.OptBool(8);
  c.consent.push = s.OptBool(9);
  c.consent.personalization = s.OptBool(10);
  c.unsubscribed = s.Int(11) != 0;
  c.last_message_ms = s.Int(12);
  c.last_order_ms = s.Int(13);
  c.push_subscription = s.Text(14);
  c.email_bounced = s.Int(15) != 0;
  c.phone_bounced = s.Int(16) != 0;
  return c;
}

inline std::string PoolSelect(const std::string& tail) {
  return std::string(
             "SELECT kind, discount_kind, amount, currency, static_code, prefix, code_length, "
             "valid_for_ms, expires_ms FROM coupon_pools ") +
         tail;
}

// The current row; `name` is the key the row was looked up by.
template <class Row>
CouponPool PoolFromRow(const Row& s, const std::string& name) {
  CouponPool p;
  p.name = name;
  p.kind = ParsePoolKind(s.Text(0)).value_or(PoolKind::kGenerated);
  p.discount.kind = ParseDiscountKind(s.Text(1)).value_or(DiscountKind::kPercent);
  p.discount.amount = s.Int(2);
  p.discount.currency = s.Text(3);
  p.static_code = s.Text(4);
  p.prefix = s.Text(5);
  p.code_length = static_cast<int>(s.Int(6));
  p.valid_for_ms = s.Int(7);
  p.expires_ms = s.Int(8);
  return p;
}

inline std::string CouponSelect(const std::string& tail) {
  return std::string(
             "SELECT pool, shared, discount_kind, amount, currency, expires_ms, assigned_contact, "
             "redeemed_order, redeemed_ms, shown FROM coupons ") +
         tail;
}

// The current row; `code` is the key the row was looked up by.
template <class Row>
Coupon CouponFromRow(const Row& s, const std::string& code) {
  Coupon c;
  c.code = code;
  c.pool = s.Text(0);
  c.shared = s.Int(1) != 0;
  c.discount.kind = ParseDiscountKind(s.Text(2)).value_or(DiscountKind::kPercent);
  c.discount.amount = s.Int(3);
  c.discount.currency = s.Text(4);
  c.expires_ms = s.Int(5);
  c.assigned_contact = s.Text(6);
  c.redeemed_order = s.Text(7);
  c.redeemed_ms = s.Int(8);
  c.shown = s.Text(9);
  return c;
}

// Parameters 1..N in the column order of the stores' INSERT statements.
template <class S>
S& BindCartRow(S& s, const Cart& c) {
  return s.Bind(1, c.cart_id)
      .Bind(2, c.visitor_id)
      .Bind(3, c.contact_key)
      .Bind(4, CartStateName(c.state))
      .Bind(5, StageName(c.stage))
      .Bind(6, c.currency)
      .Bind(7, ItemsToJson(c.items))
      .Bind(8, c.ValueMinor())
      .Bind(9, c.restore_url)
      .Bind(10, c.created_ms)
      .Bind(11, c.last_activity_ms);
}

template <class S>
S& BindContactRow(S& s, const Contact& c) {
  return s.Bind(1, c.key)
      .Bind(2, c.email)
      .Bind(3, c.phone)
      .Bind(4, c.first_name)
      .Bind(5, c.language)
      .Bind(6, c.timezone)
      .Bind(7, c.orders_count)
      .Bind(8, c.lifetime_value_minor)
      .Bind(9, c.consent.email)
      .Bind(10, c.consent.sms)
      .Bind(11, c.consent.push)
      .Bind(12, c.consent.personalization)
      .Bind(13, static_cast<int64_t>(c.unsubscribed))
      .Bind(14, c.last_message_ms)
      .Bind(15, c.last_order_ms)
      .Bind(16, c.push_subscription)
      .Bind(17, static_cast<int64_t>(c.email_bounced))
      .Bind(18, static_cast<int64_t>(c.phone_bounced));
}

template <class S>
S& BindJourneyRow(S& s, const JourneyRecord& j) {
  return s.Bind(1, j.journey_id)
      .Bind(2, j.contact_key)
      .Bind(3, j.cart_id)
      .Bind(4, j.flow)
      .Bind(5, j.path)
      .Bind(6, JourneyStateName(j.state))
      .Bind(7, j.end_reason)
      .Bind(8, j.next_step)
      .Bind(9, j.next_due_ms)
      .Bind(10, EngagementText(j.next_branch))
      .Bind(11, j.started_ms)
      .Bind(12, j.prev_sent_ms)
      .Bind(13, EngagementName(j.prev_engagement))
      .Bind(14, EngagementText(j.prev_branch))
      .Bind(15, j.updated_ms)
      // finished_ms (migration 14): NULL while the journey runs, so that a step leaves the
      // retention index as it was (PostgreSQL can then keep the update on its page, HOT).
      .Bind(16, j.state == JourneyState::kRunning ? std::nullopt : std::optional<int64_t>(j.updated_ms));
}

template <class S>
S& BindNewMessageRow(S& s, const MessageRecord& m) {
  return s.Bind(1, m.message_id)
      .Bind(2, m.journey_id)
      .Bind(3, m.cart_id)
      .Bind(4, m.contact_key)
      .Bind(5, m.flow)
      .Bind(6, m.path)
      .Bind(7, m.step)
      .Bind(8, EngagementText(m.branch))
      .Bind(9, m.channel)
      .Bind(10, MessageStatusName(m.status))
      .Bind(11, m.reason)
      .Bind(12, m.to)
      .Bind(13, m.due_ms)
      .Bind(14, m.sent_ms)
      .Bind(15, m.attempts)
      .Bind(16, m.created_ms)
      .Bind(17, m.variant);
}

inline bool HasBody(const MessageRecord& m) {
  return !m.subject.empty() || !m.text.empty() || !m.html.empty();
}

template <class S>
S& BindMessageUpdate(S& s, const MessageRecord& m) {
  return s.Bind(1, MessageStatusName(m.status))
      .Bind(2, m.reason)
      .Bind(3, m.to)
      .Bind(4, m.sent_ms)
      .Bind(5, m.opened_ms)
      .Bind(6, m.clicked_ms)
      .Bind(7, m.attempts)
      .Bind(8, m.due_ms)
      .Bind(9, m.variant)
      .Bind(10, m.unsubscribed_ms)
      .Bind(11, m.message_id);
}

template <class S>
S& BindPoolRow(S& s, const CouponPool& p) {
  return s.Bind(1, p.name)
      .Bind(2, PoolKindName(p.kind))
      .Bind(3, DiscountKindName(p.discount.kind))
      .Bind(4, p.discount.amount)
      .Bind(5, p.discount.currency)
      .Bind(6, p.static_code)
      .Bind(7, p.prefix)
      .Bind(8, p.code_length)
      .Bind(9, p.valid_for_ms)
      .Bind(10, p.expires_ms);
}

template <class S>
S& BindOfferRow(S& s, const OfferRecord& o) {
  return s.Bind(1, o.visitor_id)
      .Bind(2, o.cart_id)
      .Bind(3, o.contact_key)
      .Bind(4, static_cast<int64_t>(o.show))
      .Bind(5, o.kind)
      .Bind(6, o.variant)
      .Bind(7, o.reason)
      .Bind(8, o.incentive_rule)
      .Bind(9, o.coupon_code)
      .Bind(10, o.decided_ms)
      .Bind(11, o.source);
}

template <class S>
S& BindOrderRow(S& s, const OrderRecord& o) {
  return s.Bind(1, o.order_id)
      .Bind(2, o.cart_id)
      .Bind(3, o.contact_key)
      .Bind(4, o.value_minor)
      .Bind(5, o.currency)
      .Bind(6, o.coupon)
      .Bind(7, o.at_ms)
      .Bind(8, o.message_id)
      .Bind(9, o.flow)
      .Bind(10, o.step)
      .Bind(11, o.channel);
}

// ---- The step pipeline's batch reads (issue 9) --------------------------------------------

// `select` (one of the *Select above, with an empty tail) with the row's key added as its
// last column, after the reader's: for carts column kCartColumns, for contacts kContactColumns.
inline std::string KeyedSelect(std::string select, const char* key_column, const std::string& tail) {
  select.insert(select.find(" FROM "), std::string(", ") + key_column);
  return select + tail;
}
constexpr int kCartColumns = 9;      // CartFromRow's
constexpr int kContactColumns = 17;  // ContactFromRow's

// A message's state without its contents (Store::MessageStates), and its reader.
#define MESSAGE_STATE_COLUMNS "message_id, journey_id, step, channel, status, due_ms, sent_ms"
template <class Row>
MessageRecord ReadMessageState(const Row& s) {
  MessageRecord m;
  m.message_id = s.Text(0);
  m.journey_id = s.Text(1);
  m.step = static_cast<int>(s.Int(2));
  m.channel = s.Text(3);
  m.status = MessageStatusFrom(s.Text(4));
  m.due_ms = s.Int(5);
  m.sent_ms = s.Int(6);
  return m;
}

// RecordOutcome's parameters: status, reason, due_ms, sent_ms, attempts, message_id.
template <class S>
S& BindOutcome(S& s, const MessageRecord& m) {
  return s.Bind(1, MessageStatusName(m.status))
      .Bind(2, m.reason)
      .Bind(3, m.due_ms)
      .Bind(4, m.sent_ms)
      .Bind(5, m.attempts)
      .Bind(6, m.message_id);
}

}  // namespace internal
}  // namespace cartrecovery

#endif  // CARTRECOVERY_SRC_STORE_STORE_ROWS_H_
