// The SQL both stores share (sql_store.h). Written in the common ground of SQLite and
// PostgreSQL: ?N placeholders, no boolean arithmetic (count(CASE WHEN c THEN 1 END), not
// sum(c)), GROUP BY result positions, upserts that name their table (report_days.sent +
// excluded.sent), id lists through IdSet.
#include "store/sql_store.h"

#include <algorithm>
#include <climits>
#include <set>

#include "cartrecovery/status.h"
#include "store/pg_db.h"
#include "store/sqlite_db.h"
#include "store/store_rows.h"

namespace cartrecovery {
namespace internal {
namespace {

// How many rows `condition` holds for: 0 over no rows, where sum() would give NULL.
std::string CountIf(const std::string& condition) {
  return "count(CASE WHEN " + condition + " THEN 1 END)";
}

// One counter a report adds up: its column in the day aggregates retention writes, the field
// of the report row, and the aggregate that counts it over live rows. The same list drives
// the live query, the aggregate written when rows are pruned, the read of those aggregates
// and the upsert that adds a batch to them, so a new counter cannot miss one of the four.
template <class Row>
struct Counter {
  const char* column;
  int64_t Row::*field;
  std::string aggregate;
};

// Of messages, by the day they were sent (or created, when never sent).
const std::vector<Counter<ReportRow>>& MessageCounters() {
  static const std::vector<Counter<ReportRow>> kCounters = {
      {"sent", &ReportRow::sent, CountIf("status IN ('sent', 'bounced')")},
      {"failed", &ReportRow::failed, CountIf("status = 'failed'")},
      {"suppressed", &ReportRow::suppressed, CountIf("status = 'suppressed'")},
      {"opened", &ReportRow::opened, CountIf("opened_ms > 0")},
      {"clicked", &ReportRow::clicked, CountIf("clicked_ms > 0")},
      {"bounced", &ReportRow::bounced, CountIf("status = 'bounced'")},
      {"unsubscribed", &ReportRow::unsubscribed, CountIf("unsubscribed_ms > 0")},
  };
  return kCounters;
}

// Of orders attributed to a message or popup (last touch), by the day they were placed.
const std::vector<Counter<ReportRow>>& OrderCounters() {
  static const std::vector<Counter<ReportRow>> kCounters = {
      {"orders", &ReportRow::orders, "count(*)"},
      {"orders_with_coupon", &ReportRow::orders_with_coupon, CountIf("coalesce(coupon, '') <> ''")},
      {"revenue_minor", &ReportRow::revenue_minor, "sum(value_minor)"},
  };
  return kCounters;
}

// Of carts with items, by the stage they reached, by the day they were created.
const std::vector<Counter<FunnelRow>>& FunnelCounters() {
  static const std::vector<Counter<FunnelRow>> kCounters = {
      {"carts", &FunnelRow::carts, "count(*)"},
      {"abandoned", &FunnelRow::abandoned, CountIf("state IN ('abandoned', 'expired', 'recovered')")},
      {"recovered", &FunnelRow::recovered, CountIf("state = 'recovered'")},
  };
  return kCounters;
}

// "a, b, c": each counter as `f` spells it.
template <class Row, class F>
std::string Each(const std::vector<Counter<Row>>& counters, F f) {
  std::string out;
  for (const auto& c : counters) out += (out.empty() ? "" : ", ") + f(c);
  return out;
}

template <class Row>
std::string Columns(const std::vector<Counter<Row>>& counters) {
  return Each(counters, [](const Counter<Row>& c) { return std::string(c.column); });
}

template <class Row>
std::string Aggregates(const std::vector<Counter<Row>>& counters) {
  return Each(counters, [](const Counter<Row>& c) { return c.aggregate; });
}

template <class Row>
std::string Sums(const std::vector<Counter<Row>>& counters) {
  return Each(counters, [](const Counter<Row>& c) { return "sum(" + std::string(c.column) + ")"; });
}

template <class Row>
std::string Zeros(const std::vector<Counter<Row>>& counters) {
  return Each(counters, [](const Counter<Row>&) { return std::string("0"); });
}

// The upsert that adds a batch's counts to the day row it has in `table`.
template <class Row>
std::string AddToDay(const char* table, const std::vector<Counter<Row>>& counters) {
  return Each(counters, [&](const Counter<Row>& c) {
    return std::string(c.column) + " = " + table + "." + c.column + " + excluded." + c.column;
  });
}

// Adds the current row's columns first, first + 1, ... to the counters' fields of `row`.
template <class Row, class S>
void AddCounters(Row& row, const S& s, int first, const std::vector<Counter<Row>>& counters) {
  for (size_t i = 0; i < counters.size(); ++i)
    row.*(counters[i].field) += s.Int(first + static_cast<int>(i));
}

const std::string& ReportDayConflict() {
  static const std::string kSql =
      " ON CONFLICT(day_ms, flow, path, step, channel, variant, currency) DO UPDATE SET " +
      AddToDay("report_days", MessageCounters()) + ", " + AddToDay("report_days", OrderCounters());
  return kSql;
}

const std::string& ReportDayColumns() {
  static const std::string kSql =
      "INSERT INTO report_days(day_ms, flow, path, step, channel, variant, currency, " +
                                  Columns(MessageCounters()) + ", " + Columns(OrderCounters()) + ")";
  return kSql;
}

// The path and variant of an order's last-touch message (or popup, for the variant).
constexpr const char* kOrderPath =
    "coalesce((SELECT m.path FROM messages m WHERE m.message_id = orders.message_id), '')";
constexpr const char* kOrderVariant =
    "coalesce((SELECT m.variant FROM messages m WHERE m.message_id = orders.message_id),"
    " (SELECT o.variant FROM offers o WHERE 'offer:' || o.offer_id = orders.message_id), '')";
// When a message counts in reports: sent, or created when it never was.
constexpr const char* kMessageTime = "(CASE WHEN sent_ms > 0 THEN sent_ms ELSE created_ms END)";

// 1 when `condition` holds for any of the rows, else 0 (an integer: SQLite has no booleans).
std::string AnyOf(const std::string& condition) {
  return "max(CASE WHEN " + condition + " THEN 1 ELSE 0 END)";
}

// Where a person's rows are, per table, over PersonSets (k: contact keys, vis: visitor
// ids, c: cart ids); ?4 the e-mail address and ?5 the phone number (inside event payloads).
const std::vector<std::pair<const char*, const char*>>& PersonTables() {
  static const std::vector<std::pair<const char*, const char*>> kTables = {
      {"contacts", "contact_key IN (SELECT v FROM k)"},
      {"consent_log", "contact_key IN (SELECT v FROM k)"},
      {"visitors", "contact_key IN (SELECT v FROM k) OR visitor_id IN (SELECT v FROM vis)"},
      {"carts", "cart_id IN (SELECT v FROM c)"},
      {"journeys", "contact_key IN (SELECT v FROM k) OR cart_id IN (SELECT v FROM c)"},
      {"messages", "contact_key IN (SELECT v FROM k) OR cart_id IN (SELECT v FROM c)"},
      {"orders", "contact_key IN (SELECT v FROM k) OR cart_id IN (SELECT v FROM c)"},
      {"coupons", "assigned_contact IN (SELECT v FROM k)"},
      {"offers", "contact_key IN (SELECT v FROM k) OR visitor_id IN (SELECT v FROM vis)"},
      {"assignments", "contact_key IN (SELECT v FROM k)"},
      {"lead_days", "who IN (SELECT v FROM vis) OR who IN (SELECT 'cart:' || v FROM c)"},
      {"events", nullptr},  // EventsOfPerson(): it needs the dialect's Contains
  };
  return kTables;
}

// The row `sql` finds for ?1 = key, read by `read`; nullopt when there is none.
template <class Db, class Read>
auto ReadOne(Db& db, const std::string& sql, const std::string& key, Read read) {
  auto s = db.Prepare(sql);
  s.Bind(1, key);
  using Record = decltype(read(s));
  return s.Step() ? std::optional<Record>(read(s)) : std::nullopt;
}

}  // namespace

std::vector<std::string> ColumnNames(const std::string& columns) {
  std::vector<std::string> names;
  std::string name;
  for (char ch : columns + ",") {
    if (ch == ',') {
      names.push_back(name);
      name.clear();
    } else if (ch != ' ') {
      name += ch;
    }
  }
  return names;
}

std::string ParamsFor(const std::string& columns) {
  std::string out;
  for (size_t i = 1; i <= ColumnNames(columns).size(); ++i)
    out += (i > 1 ? ",?" : "?") + std::to_string(i);
  return out;
}

std::string UpsertRow(const char* table, const char* columns) {
  const std::vector<std::string> names = ColumnNames(columns);
  std::string sql = std::string("INSERT INTO ") + table + "(" + columns + ") VALUES(" + ParamsFor(columns) +
                    ") ON CONFLICT(" + names[0] + ") DO UPDATE SET ";
  for (size_t i = 1; i < names.size(); ++i) sql += (i > 1 ? ", " : "") + names[i] + " = excluded." + names[i];
  return sql;
}

// ---- Rows ------------------------------------------------------------------------------

template <class Db>
void SqlStore<Db>::AppendEvent(const Event& e, const std::string& json) {
  db_.Prepare("INSERT INTO events(type, at_ms, cart_id, visitor_id, payload) VALUES(?1,?2,?3,?4,?5)")
      .Bind(1, EventTypeName(e.type))
      .Bind(2, e.at_ms)
      .Bind(3, e.cart_id)
      .Bind(4, e.visitor_id)
      .Bind(5, json)
      .Run();
}

template <class Db>
std::vector<StoredEvent> SqlStore<Db>::ListEvents(Millis since, Millis until, int64_t after_id,
                                                  int limit) {
  auto s = db_.Prepare(
      "SELECT id, type, at_ms, payload FROM events WHERE at_ms >= ?1 AND at_ms < ?2"
      " AND id > ?3 ORDER BY id LIMIT ?4");
  s.Bind(1, since).Bind(2, until).Bind(3, after_id).Bind(4, limit);
  std::vector<StoredEvent> out;
  while (s.Step()) out.push_back({s.Int(0), s.Text(1), s.Int(2), s.Text(3)});
  return out;
}

template <class Db>
std::optional<Cart> SqlStore<Db>::LoadCart(const std::string& cart_id) {
  return ReadOne(db_, CartSelect("WHERE cart_id = ?1"), cart_id,
                 [&](const Statement& s) { return CartFromRow(s, cart_id); });
}

template <class Db>
void SqlStore<Db>::SaveCart(const Cart& c) {
  static const std::string sql =
      ReplaceRow("carts", "cart_id, visitor_id, contact_key, state, stage, currency, items, value_minor,"
                          " restore_url, created_ms, last_activity_ms");
  auto s = db_.Prepare(sql);
  BindCartRow(s, c).Queue();
}

template <class Db>
std::vector<std::string> SqlStore<Db>::CartsOfContact(const std::string& key) {
  static const std::string sql =
      "SELECT cart_id FROM carts WHERE contact_key = ?1 ORDER BY last_activity_ms DESC" + Then("seq DESC");
  auto s = db_.Prepare(sql);
  s.Bind(1, key);
  std::vector<std::string> ids;
  while (s.Step()) ids.push_back(s.Text(0));
  return ids;
}

template <class Db>
std::optional<Contact> SqlStore<Db>::LoadContact(const std::string& key) {
  return ReadOne(db_, ContactSelect("WHERE contact_key = ?1"), key,
                 [&](const Statement& s) { return ContactFromRow(s, key); });
}

template <class Db>
void SqlStore<Db>::SaveContact(const Contact& c) {
  static const std::string sql =
      ReplaceRow("contacts", "contact_key, email, phone, first_name, language, timezone, orders_count,"
                             " lifetime_value_minor, consent_email, consent_sms, consent_push,"
                             " consent_personalization, unsubscribed, last_message_ms, last_order_ms,"
                             " push_subscription, email_bounced, phone_bounced");
  auto s = db_.Prepare(sql);
  BindContactRow(s, c).Queue();
}

template <class Db>
std::vector<std::string> SqlStore<Db>::ContactsWithPhone(const std::string& phone,
                                                         const std::string& except_key) {
  auto s = db_.Prepare("SELECT contact_key FROM contacts WHERE phone = ?1 AND contact_key <> ?2");
  s.Bind(1, phone).Bind(2, except_key);
  std::vector<std::string> keys;
  while (s.Step()) keys.push_back(s.Text(0));
  return keys;
}

template <class Db>
std::string SqlStore<Db>::ContactKeyForVisitor(const std::string& visitor_id) {
  auto s = db_.Prepare("SELECT contact_key FROM visitors WHERE visitor_id = ?1");
  s.Bind(1, visitor_id);
  return s.Step() ? s.Text(0) : std::string();
}

template <class Db>
void SqlStore<Db>::LinkVisitor(const std::string& visitor_id, const std::string& key) {
  static const std::string sql = ReplaceRow("visitors", "visitor_id, contact_key");
  db_.Prepare(sql)
      .Bind(1, visitor_id)
      .Bind(2, key)
      .Run();
}

template <class Db>
std::optional<JourneyRecord> SqlStore<Db>::LoadJourney(const std::string& id) {
  auto s = db_.Prepare(JourneySelect("WHERE journey_id = ?1"));
  s.Bind(1, id);
  return ReadJourney(s);
}

template <class Db>
std::optional<JourneyRecord> SqlStore<Db>::RunningJourneyOfContact(const std::string& key) {
  static const std::string sql =
      JourneySelect("WHERE contact_key = ?1 AND state = 'running' ORDER BY started_ms DESC" + Then("seq") +
                    " LIMIT 1");
  auto s = db_.Prepare(sql);
  s.Bind(1, key);
  return ReadJourney(s);
}

template <class Db>
std::optional<JourneyRecord> SqlStore<Db>::LatestJourneyOfCart(const std::string& cart_id) {
  static const std::string sql =
      JourneySelect("WHERE cart_id = ?1 ORDER BY started_ms DESC" + Then("seq DESC") + " LIMIT 1");
  auto s = db_.Prepare(sql);
  s.Bind(1, cart_id);
  return ReadJourney(s);
}

// Every step rewrites its journey. SQLite writes an index again whenever one of its columns
// is in an UPDATE's SET list, changed or not, and INSERT OR REPLACE deletes the row and
// inserts it at a new rowid, rewriting every index: either costs a random page of each
// journey index per step, written to the WAL at the commit. So a step updates the columns a
// step moves, where the indexed ones (contact, state, cart, start) are as they were (and
// finished_ms, NULL before and after, is in no entry of its partial index); a journey that
// starts, ends or moves to another cart or contact is written whole, in place.
// (PostgreSQL compares the values itself, and its store writes the whole row, queued.)
template <class Db>
void SqlStore<Db>::SaveJourney(const JourneyRecord& j) {
  auto s = db_.Prepare(
      "UPDATE journeys SET flow = ?4, path = ?5, end_reason = ?7, next_step = ?8, next_due_ms = ?9,"
      " next_branch = ?10, prev_sent_ms = ?12, prev_engagement = ?13, prev_branch = ?14, updated_ms = ?15,"
      " finished_ms = ?16"
      " WHERE journey_id = ?1 AND contact_key = ?2 AND cart_id = ?3 AND state = ?6 AND started_ms = ?11");
  BindJourneyRow(s, j).Run();
  if (db_.ChangedRows() == 0) WriteJourney(j);
}

// The row keeps its place (rowid or seq): ties in the journey queries go to the journey
// started first, on both stores.
const char kJourneyColumns[] =
    "journey_id, contact_key, cart_id, flow, path, state, end_reason, next_step,"
    " next_due_ms, next_branch, started_ms, prev_sent_ms, prev_engagement,"
    " prev_branch, updated_ms, finished_ms";

const std::string& WriteJourneySql() {
  static const std::string sql = UpsertRow("journeys", kJourneyColumns);
  return sql;
}

template <class Db>
void SqlStore<Db>::WriteJourney(const JourneyRecord& j) {
  auto s = db_.Prepare(WriteJourneySql());
  BindJourneyRow(s, j).Queue();
}

template <class Db>
bool SqlStore<Db>::InsertMessage(const MessageRecord& m) {
  auto s = db_.Prepare(
      "INSERT INTO messages(message_id, journey_id, cart_id, contact_key, flow, path, step, branch,"
      " channel, status, reason, to_addr, due_ms, sent_ms, attempts, created_ms, variant, body_id)"
      " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18) ON CONFLICT DO NOTHING");
  // The body first, so that the row is written once with its number.
  const std::optional<int64_t> body = HasBody(m) ? std::optional<int64_t>(InsertBody(m)) : std::nullopt;
  BindNewMessageRow(s, m).Bind(18, body).Run();
  if (db_.ChangedRows() == 1) return true;
  if (body) DeleteBody(*body);  // the message was there already: its body stays as it was
  return false;
}

// The contents go to the cold table, once: the hot row is rewritten as the message's status
// moves, and a body inside it would be rewritten each time (see migration 11).
template <class Db>
int64_t SqlStore<Db>::InsertBody(const MessageRecord& m) {
  auto s = db_.Prepare(
      "INSERT INTO message_bodies(subject, text, html, written_ms, dict_id) VALUES(?1,?2,?3,?4,?5)"
      " RETURNING body_id");
  BindBody(s, m);
  s.Bind(4, m.created_ms);  // written_ms: what retention's bodies window counts from
  std::optional<int64_t> id;
  while (s.Step()) id = s.Int(0);  // to the end: the statement is done before the next
  if (!id) throw Error(ErrorCode::kStorage, "message_bodies: no body_id returned");
  return *id;
}

template <class Db>
void SqlStore<Db>::DeleteBody(int64_t body_id) {
  db_.Prepare("DELETE FROM message_bodies WHERE body_id = ?1").Bind(1, body_id).Run();
}

// UpdateMessage's contents: kept when unchanged (an open or a click rewrites the row only),
// replaced when the step was planned again (a retry or a deferred send renders anew).
template <class Db>
void SqlStore<Db>::UpdateBody(const MessageRecord& m) {
  std::optional<int64_t> body;  // the row's body, when it is still there (not pruned)
  {
    auto s = db_.Prepare(
        "SELECT b.body_id FROM messages m JOIN message_bodies b ON b.body_id = m.body_id"
        " WHERE m.message_id = ?1");
    s.Bind(1, m.message_id);
    if (s.Step()) body = s.Int(0);
  }
  if (body && HasBody(m)) {
    // Equal stored values read back alike whichever dictionary they were packed against
    // (equal bytes are equal lz4 tokens), so an unchanged body is not written again.
    auto s = db_.Prepare(
        "UPDATE message_bodies SET subject = ?1, text = ?2, html = ?3, dict_id = ?5 WHERE body_id = ?4"
        " AND (subject <> ?1 OR text <> ?2 OR html <> ?3)");
    BindBody(s, m);
    s.Bind(4, *body).Run();
    return;
  }
  if (!body && !HasBody(m)) return;
  if (body) DeleteBody(*body);
  const std::optional<int64_t> next = HasBody(m) ? std::optional<int64_t>(InsertBody(m)) : std::nullopt;
  db_.Prepare("UPDATE messages SET body_id = ?1 WHERE message_id = ?2").Bind(1, next).Bind(2, m.message_id).Run();
}

template <class Db>
std::optional<MessageRecord> SqlStore<Db>::LoadMessage(const std::string& id) {
  return ReadOne(db_, MessageSelect("WHERE message_id = ?1"), id,
                 [&](const Statement& s) { return ReadMessage(s); });
}

template <class Db>
void SqlStore<Db>::UpdateMessage(const MessageRecord& m) {
  auto s = db_.Prepare(
      "UPDATE messages SET status = ?1, reason = ?2, to_addr = ?3, sent_ms = ?4, opened_ms = ?5,"
      " clicked_ms = ?6, attempts = ?7, due_ms = ?8, variant = ?9, unsubscribed_ms = ?10"
      " WHERE message_id = ?11");
  BindMessageUpdate(s, m).Run();
  if (db_.ChangedRows() == 1) UpdateBody(m);
}

template <class Db>
void SqlStore<Db>::SuppressUnsent(const std::string& journey_id, const std::string& reason) {
  db_.Prepare(
         "UPDATE messages SET status = 'suppressed', reason = ?1"
         " WHERE journey_id = ?2 AND status IN ('sending', 'retrying', 'deferred', 'paused')")
      .Bind(1, reason)
      .Bind(2, journey_id)
      .Run();
}

template <class Db>
std::optional<MessageRecord> SqlStore<Db>::LastSentTo(const std::string& key, Millis since) {
  static const std::string sql =
      MessageSelect("WHERE contact_key = ?1 AND status = 'sent' AND sent_ms >= ?2 ORDER BY sent_ms DESC" +
                    Then("messages.seq DESC") + " LIMIT 1");
  auto s = db_.Prepare(sql);
  s.Bind(1, key).Bind(2, since);
  if (!s.Step()) return std::nullopt;
  return ReadMessage(s);
}

template <class Db>
ContactSends SqlStore<Db>::SendsTo(const std::string& key, Millis since) {
  ContactSends out;
  {
    auto s = db_.Prepare(
        "SELECT channel, max(sent_ms) FROM messages WHERE contact_key = ?1 AND status = 'sent'"
        " GROUP BY channel");
    s.Bind(1, key);
    while (s.Step()) out.last_by_channel[s.Text(0)] = s.Int(1);
  }
  static const std::string sql =
      "SELECT channel, sent_ms FROM messages WHERE contact_key = ?1 AND status = 'sent'"
      " AND sent_ms >= ?2 ORDER BY sent_ms" + Then("messages.seq");
  auto s = db_.Prepare(sql);
  s.Bind(1, key).Bind(2, since);
  while (s.Step()) out.recent.emplace_back(s.Text(0), s.Int(1));
  return out;
}

template <class Db>
std::map<std::pair<std::string, std::string>, int64_t> SqlStore<Db>::PausedMessages() {
  std::map<std::pair<std::string, std::string>, int64_t> out;
  auto s = db_.Prepare(
      "SELECT flow, reason, count(*) FROM messages WHERE status = 'paused' GROUP BY flow, reason");
  while (s.Step()) out[{s.Text(0), s.Text(1)}] = s.Int(2);
  return out;
}

template <class Db>
int64_t SqlStore<Db>::ResumePaused(Millis now) {
  db_.Prepare(
         "UPDATE jobs SET due_ms = ?1, state = 'pending', lease_until_ms = 0 WHERE kind = 'step'"
         " AND state = 'pending' AND due_ms > ?1 AND subject IN"
         " (SELECT journey_id FROM messages WHERE status = 'paused' AND reason <> 'flow_paused')")
      .Bind(1, now)
      .Run();
  return db_.ChangedRows();
}

template <class Db>
void SqlStore<Db>::SavePool(const CouponPool& p) {
  static const std::string sql =
      ReplaceRow("coupon_pools", "name, kind, discount_kind, amount, currency, static_code, prefix,"
                                 " code_length, valid_for_ms, expires_ms");
  auto s = db_.Prepare(sql);
  BindPoolRow(s, p).Run();
}

template <class Db>
std::optional<CouponPool> SqlStore<Db>::LoadPool(const std::string& name) {
  return ReadOne(db_, PoolSelect("WHERE name = ?1"), name,
                 [&](const Statement& s) { return PoolFromRow(s, name); });
}

template <class Db>
std::optional<Coupon> SqlStore<Db>::LoadCoupon(const std::string& code) {
  return ReadOne(db_, CouponSelect("WHERE code = ?1"), code,
                 [&](const Statement& s) { return CouponFromRow(s, code); });
}

template <class Db>
void SqlStore<Db>::MarkRedeemed(const std::string& code, const std::string& order_id, Millis at) {
  db_.Prepare("UPDATE coupons SET redeemed_order = ?1, redeemed_ms = ?2 WHERE code = ?3 AND shared = 0")
      .Bind(1, order_id)
      .Bind(2, at)
      .Bind(3, code)
      .Run();
}

template <class Db>
int64_t SqlStore<Db>::FreeCoupons(const std::string& pool, Millis now) {
  auto s = db_.Prepare(
      "SELECT count(*) FROM coupons WHERE pool = ?1 AND shared = 0 AND assigned_contact = ''"
      " AND (expires_ms = 0 OR expires_ms > ?2)");
  s.Bind(1, pool).Bind(2, now);
  return s.Step() ? s.Int(0) : 0;
}

template <class Db>
int64_t SqlStore<Db>::PruneCoupons(Millis now, Millis grace_ms) {
  db_.Prepare(
         "DELETE FROM coupons WHERE shared = 0 AND redeemed_order = '' AND expires_ms <> 0"
         " AND expires_ms + ?1 <= ?2")
      .Bind(1, grace_ms)
      .Bind(2, now)
      .Run();
  return db_.ChangedRows();
}

template <class Db>
std::optional<OfferRecord> SqlStore<Db>::LatestOffer(const std::string& visitor_id,
                                                     const std::string& contact_key) {
  auto s = db_.Prepare(OfferSelect(
      "WHERE source = 'popup' AND (visitor_id = ?1 OR (?2 <> '' AND contact_key = ?2))"
      " ORDER BY decided_ms DESC,"
      " offer_id DESC LIMIT 1"));
  s.Bind(1, visitor_id).Bind(2, contact_key);
  return ReadOffer(s);
}

template <class Db>
std::optional<OfferRecord> SqlStore<Db>::LastShownOffer(const std::string& visitor_id,
                                                        const std::string& contact_key, Millis since,
                                                        Millis until) {
  auto s = db_.Prepare(OfferSelect(
      "WHERE show = 1 AND source = 'popup' AND (visitor_id = ?1 OR (?2 <> '' AND contact_key = ?2))"
      " AND decided_ms >= ?3 AND decided_ms <= ?4 ORDER BY decided_ms DESC, offer_id DESC LIMIT 1"));
  s.Bind(1, visitor_id).Bind(2, contact_key).Bind(3, since).Bind(4, until);
  return ReadOffer(s);
}

template <class Db>
void SqlStore<Db>::SaveOffer(const OfferRecord& o) {
  auto s = db_.Prepare(
      "INSERT INTO offers(visitor_id, cart_id, contact_key, show, kind, variant, reason,"
      " incentive_rule, coupon_code, decided_ms, source) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)");
  BindOfferRow(s, o).Run();
  CountIncentiveDecision(o);
}

template <class Db>
std::optional<OfferRecord> SqlStore<Db>::StepIncentive(const std::string& key) {
  auto s = db_.Prepare(OfferSelect(
      "WHERE source = 'flow' AND visitor_id = ?1 ORDER BY offer_id DESC LIMIT 1"));
  s.Bind(1, key);
  return ReadOffer(s);
}

template <class Db>
Millis SqlStore<Db>::LastIncentiveTo(const std::string& contact_key) {
  auto s = db_.Prepare(
      "SELECT max(decided_ms) FROM offers WHERE contact_key = ?1 AND kind = 'coupon' AND show = 1");
  s.Bind(1, contact_key);
  return s.Step() && !s.IsNull(0) ? s.Int(0) : 0;
}

template <class Db>
std::vector<VariantCounts> SqlStore<Db>::OfferVariants(const std::string& kind, Millis window_ms,
                                                       Millis since, Millis until) {
  static const std::string sql =
      "SELECT variant, count(*), " +
      CountIf("EXISTS(SELECT 1 FROM orders o WHERE o.contact_key <> '' AND o.contact_key = offers.contact_key"
              " AND o.at_ms >= offers.decided_ms AND o.at_ms < offers.decided_ms + ?2)") +
      " FROM offers WHERE kind = ?1 AND variant <> '' AND decided_ms >= ?3 AND decided_ms < ?4"
      " GROUP BY variant"
      // Decisions pruned by retention (whole days in the range).
      " UNION ALL SELECT variant, sum(trials), sum(conversions) FROM offer_days WHERE kind = ?1"
      " AND day_ms >= ?3 AND day_ms <= ?4 - 86400000 GROUP BY variant";
  auto s = db_.Prepare(sql);
  s.Bind(1, kind).Bind(2, window_ms).Bind(3, since).Bind(4, until);
  std::map<std::string, VariantCounts> merged;  // by variant, in byte order
  while (s.Step()) {
    auto& v = merged[s.Text(0)];
    v = {s.Text(0), v.trials + s.Int(1), v.conversions + s.Int(2)};
  }
  std::vector<VariantCounts> out;
  for (auto& kv : merged) out.push_back(kv.second);
  return out;
}

template <class Db>
std::string SqlStore<Db>::AssignVariant(const std::string& experiment, const std::string& contact_key,
                                       const std::string& variant, const std::string& flow, Millis now) {
  db_.Prepare(
         "INSERT INTO assignments(experiment, contact_key, variant, flow, assigned_ms)"
         " VALUES(?1,?2,?3,?4,?5) ON CONFLICT DO NOTHING")
      .Bind(1, experiment)
      .Bind(2, contact_key)
      .Bind(3, variant)
      .Bind(4, flow)
      .Bind(5, now)
      .Run();
  auto s = db_.Prepare("SELECT variant FROM assignments WHERE experiment = ?1 AND contact_key = ?2");
  s.Bind(1, experiment).Bind(2, contact_key);
  return s.Step() ? s.Text(0) : variant;
}

template <class Db>
std::vector<VariantCounts> SqlStore<Db>::StepVariants(const std::string& experiment, Millis window_ms,
                                                      Millis since, Millis until) {
  static const std::string sql =
      "SELECT variant, count(*), " +
      CountIf("EXISTS(SELECT 1 FROM orders o WHERE o.contact_key = assignments.contact_key"
              " AND o.at_ms >= assignments.assigned_ms AND o.at_ms < assignments.assigned_ms + ?2)") +
      " FROM assignments WHERE experiment = ?1 AND assigned_ms >= ?3 AND assigned_ms < ?4 GROUP BY variant";
  auto s = db_.Prepare(sql);
  s.Bind(1, experiment).Bind(2, window_ms).Bind(3, since).Bind(4, until);
  std::vector<VariantCounts> out;
  while (s.Step()) out.push_back({s.Text(0), s.Int(1), s.Int(2)});
  // In byte order, whatever collation the database was created with.
  std::sort(out.begin(), out.end(),
            [](const VariantCounts& a, const VariantCounts& b) { return a.variant < b.variant; });
  return out;
}

template <class Db>
void SqlStore<Db>::PauseFlow(const std::string& flow, const std::string& reason, Millis now) {
  db_.Prepare(
         "INSERT INTO flow_pauses(flow, reason, paused_ms) VALUES(?1,?2,?3)"
         " ON CONFLICT(flow) DO UPDATE SET reason = excluded.reason")
      .Bind(1, flow)
      .Bind(2, reason)
      .Bind(3, now)
      .Run();
}

template <class Db>
bool SqlStore<Db>::ResumeFlow(const std::string& flow, Millis now) {
  db_.Prepare("DELETE FROM flow_pauses WHERE flow = ?1").Bind(1, flow).Run();
  if (db_.ChangedRows() == 0) return false;
  // The flow's waiting steps are due at once; each re-checks everything at send time.
  db_.Prepare(
         "UPDATE jobs SET due_ms = ?1, state = 'pending', lease_until_ms = 0 WHERE kind = 'step'"
         " AND state = 'pending' AND due_ms > ?1 AND subject IN (SELECT journey_id FROM messages"
         " WHERE status = 'paused' AND reason = 'flow_paused' AND flow = ?2)")
      .Bind(1, now)
      .Bind(2, flow)
      .Run();
  // They are no longer held: "deferred" until they go (status and flows() agree at once).
  db_.Prepare(
         "UPDATE messages SET status = 'deferred', reason = 'flow_resumed' WHERE status = 'paused'"
         " AND reason = 'flow_paused' AND flow = ?1")
      .Bind(1, flow)
      .Run();
  return true;
}

template <class Db>
std::map<std::string, FlowPause> SqlStore<Db>::FlowPauses() {
  std::map<std::string, FlowPause> out;
  auto s = db_.Prepare("SELECT flow, reason, paused_ms FROM flow_pauses");
  while (s.Step()) out[s.Text(0)] = FlowPause{s.Text(1), s.Int(2)};
  return out;
}

template <class Db>
bool SqlStore<Db>::InsertOrder(const OrderRecord& o) {
  auto s = db_.Prepare(
      "INSERT INTO orders(order_id, cart_id, contact_key, value_minor, currency, coupon, at_ms,"
      " message_id, flow, step, channel) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)"
      " ON CONFLICT DO NOTHING");
  BindOrderRow(s, o).Run();
  return db_.ChangedRows() == 1;
}

template <class Db>
void SqlStore<Db>::RecordWorkerRun(const std::string& worker_id, Millis now, int jobs_run) {
  db_.Prepare(
         "INSERT INTO workers(worker_id, last_run_ms, jobs_run) VALUES(?1,?2,?3)"
         " ON CONFLICT(worker_id) DO UPDATE SET last_run_ms = excluded.last_run_ms,"
         " jobs_run = workers.jobs_run + excluded.jobs_run")
      .Bind(1, worker_id)
      .Bind(2, now)
      .Bind(3, jobs_run)
      .Run();
}

template <class Db>
std::vector<MessageRecord> SqlStore<Db>::ListMessages(const MessageFilter& f) {
  // Only the filters given reach the SQL, so each query can use its index (a journey's
  // messages are read after every step: that must not scan the table).
  std::vector<std::string> values;
  std::string where = "WHERE 1 = 1";
  for (const auto& [column, value] : {std::pair<const char*, const std::string*>{"cart_id", &f.cart_id},
                                      {"contact_key", &f.contact_key},
                                      {"journey_id", &f.journey_id}}) {
    if (value->empty()) continue;
    values.push_back(*value);
    where += std::string(" AND ") + column + " = ?" + std::to_string(values.size());
  }
  const int limit_param = static_cast<int>(values.size()) + 1;
  auto s = db_.Prepare(MessageSelect(where + " ORDER BY created_ms, step, " + ByteOrder("channel") + Then("seq") +
                                     (f.limit > 0 ? " LIMIT ?" + std::to_string(limit_param) : "")));
  for (size_t i = 0; i < values.size(); ++i) s.Bind(static_cast<int>(i + 1), values[i]);
  if (f.limit > 0) s.Bind(limit_param, f.limit);
  std::vector<MessageRecord> out;
  while (s.Step()) out.push_back(ReadMessage(s));
  return out;
}

template <class Db>
std::optional<Coupon> SqlStore<Db>::AssignedCoupon(const std::string& pool, const std::string& contact_key,
                                                   Millis now) {
  static const std::string sql =
      "SELECT code FROM coupons WHERE pool = ?1 AND assigned_contact = ?2 AND shared = 0"
      " AND redeemed_order = '' AND (expires_ms = 0 OR expires_ms > ?3) ORDER BY assigned_ms DESC" +
      Then("seq DESC") + " LIMIT 1";
  std::string code;
  {
    auto s = db_.Prepare(sql);
    s.Bind(1, pool).Bind(2, contact_key).Bind(3, now);
    if (!s.Step()) return std::nullopt;
    code = s.Text(0);
  }
  return LoadCoupon(code);
}

template <class Db>
void SqlStore<Db>::LogConsent(const std::string& contact_key, const std::string& what, bool granted,
                              Millis at_ms, const std::string& source) {
  db_.Prepare("INSERT INTO consent_log(contact_key, what, granted, at_ms, source) VALUES(?1,?2,?3,?4,?5)")
      .Bind(1, contact_key)
      .Bind(2, what)
      .Bind(3, static_cast<int64_t>(granted))
      .Bind(4, at_ms)
      .Bind(5, source)
      .Run();
}

template <class Db>
StoreStatus SqlStore<Db>::Status(Millis now) {
  StoreStatus st;
  {
    auto s = db_.Prepare("SELECT worker_id, last_run_ms FROM workers ORDER BY last_run_ms DESC LIMIT 1");
    if (s.Step()) {
      st.worker_last_id = s.Text(0);
      st.worker_last_run_ms = s.Int(1);
    }
  }
  {
    static const std::string sql = "SELECT count(*), " + CountIf("due_ms <= ?1") +
                                   ", min(CASE WHEN due_ms <= ?1 THEN due_ms END),"
                                   " min(CASE WHEN due_ms > ?1 THEN due_ms END) FROM jobs";
    auto s = db_.Prepare(sql);
    s.Bind(1, now);
    if (s.Step()) {
      st.jobs_pending = s.Int(0);
      st.jobs_due = s.Int(1);
      if (!s.IsNull(2)) st.oldest_due_ms = s.Int(2);
      if (!s.IsNull(3)) st.next_due_ms = s.Int(3);
    }
  }
  auto count = [&](const char* sql) {
    auto s = db_.Prepare(sql);
    return s.Step() ? s.Int(0) : 0;
  };
  st.events = count("SELECT count(*) FROM events");
  st.carts = count("SELECT count(*) FROM carts");
  st.running_journeys = count("SELECT count(*) FROM journeys WHERE state = 'running'");
  st.messages_sent = count("SELECT count(*) FROM messages WHERE status = 'sent'");
  st.messages_failed = count("SELECT count(*) FROM messages WHERE status = 'failed'");
  st.events_refused = count("SELECT coalesce(sum(refused), 0) FROM cart_event_counts WHERE refused > 0");
  return st;
}

// ---- Reports ---------------------------------------------------------------------------

template <class Db>
std::vector<ReportRow> SqlStore<Db>::Report(const ReportQuery& q) {
  // Group and filter keys are whitelisted column expressions: for messages, for orders
  // through their last-touch message, and for the day aggregates of pruned rows. Values
  // never reach the SQL text.
  struct Key {
    std::string message, order, day;
  };
  const std::map<std::string, Key> keys = {
      {"flow", {"flow", "flow", "flow"}},
      {"path", {"path", kOrderPath, "path"}},
      {"step", {"CAST(step AS TEXT)", "CAST(step AS TEXT)", "CAST(step AS TEXT)"}},
      {"channel", {"channel", "channel", "channel"}},
      {"variant", {"variant", kOrderVariant, "variant"}},
      {"day", {DayOf(kMessageTime), DayOf("at_ms"), DayOf("day_ms")}},
  };
  std::string msg_keys, order_keys, day_keys, group_by;
  for (size_t i = 0; i < q.by.size(); ++i) {
    auto it = keys.find(q.by[i]);
    if (it == keys.end())
      throw InvalidArgument("by", "'" + q.by[i] + "' is not one of flow, path, step, channel, variant, day");
    msg_keys += it->second.message + ", ";
    order_keys += it->second.order + ", ";
    day_keys += it->second.day + ", ";
    group_by += (group_by.empty() ? " GROUP BY " : ", ") + std::to_string(i + 1);
  }
  std::vector<std::string> where_values;
  std::string msg_where, order_where, day_where;
  for (const auto& [k, v] : q.where) {
    auto it = keys.find(k);
    if (it == keys.end() || k == "day")
      throw InvalidArgument(k, "cannot filter a report by '" + k +
                                   "' (use flow, path, step, channel or variant; since/until for days)");
    where_values.push_back(v);
    const std::string param = " = ?" + std::to_string(where_values.size() + 2);
    msg_where += " AND " + it->second.message + param;
    order_where += " AND " + it->second.order + param;
    day_where += " AND " + it->second.day + param;
  }
  const int nk = static_cast<int>(q.by.size());
  const int n_messages = static_cast<int>(MessageCounters().size());
  const Millis since = q.since.value_or(INT64_MIN), until = q.until.value_or(INT64_MAX);
  std::map<std::vector<std::string>, ReportRow> rows;
  // The row of the current result row's keys (its first nk columns).
  auto row_of = [&](const auto& s) -> ReportRow& {
    std::vector<std::string> key;
    for (int i = 0; i < nk; ++i) key.push_back(s.Text(i));
    auto& r = rows[key];
    for (int i = 0; i < nk; ++i) r.keys[q.by[static_cast<size_t>(i)]] = key[static_cast<size_t>(i)];
    return r;
  };
  // One cached statement per distinct `by` and filter combination.
  auto prepare = [&](const std::string& sql) {
    auto s = db_.Prepare(sql);
    s.Bind(1, since).Bind(2, until);
    for (size_t i = 0; i < where_values.size(); ++i) s.Bind(static_cast<int>(i + 3), where_values[i]);
    return s;
  };
  {
    auto s = prepare("SELECT " + msg_keys + Aggregates(MessageCounters()) + " FROM messages WHERE " +
                     kMessageTime + " >= ?1 AND " + kMessageTime + " < ?2" + msg_where + group_by);
    while (s.Step()) AddCounters(row_of(s), s, nk, MessageCounters());
  }
  {
    auto s = prepare("SELECT " + order_keys + Aggregates(OrderCounters()) +
                     ", min(currency), max(currency) FROM orders WHERE message_id <> ''"
                     " AND at_ms >= ?1 AND at_ms < ?2" + order_where + group_by);
    const int n_orders = static_cast<int>(OrderCounters().size());
    while (s.Step()) {
      if (s.Int(nk) == 0) continue;  // no order at all (an aggregate without GROUP BY)
      auto& r = row_of(s);
      AddCounters(r, s, nk, OrderCounters());
      r.currency = s.Text(nk + n_orders) == s.Text(nk + n_orders + 1) ? s.Text(nk + n_orders) : "MIXED";
    }
  }
  {
    // Pruned rows live on in report_days; its whole days inside the range count.
    auto s = prepare("SELECT " + day_keys + Sums(MessageCounters()) + ", " + Sums(OrderCounters()) +
                     ", min(nullif(currency, '')), max(nullif(currency, '')) FROM report_days"
                     " WHERE day_ms >= ?1 AND day_ms <= ?2 - 86400000" + day_where + group_by);
    const int cur = nk + n_messages + static_cast<int>(OrderCounters().size());
    while (s.Step()) {
      if (s.IsNull(nk)) continue;  // no row at all (an aggregate without GROUP BY)
      auto& r = row_of(s);
      AddCounters(r, s, nk, MessageCounters());
      AddCounters(r, s, nk + n_messages, OrderCounters());
      if (!s.IsNull(cur)) {
        std::string c = s.Text(cur) == s.Text(cur + 1) ? s.Text(cur) : "MIXED";
        r.currency = r.currency.empty() || r.currency == c ? c : "MIXED";
      }
    }
  }
  std::vector<ReportRow> out;
  for (auto& kv : rows) out.push_back(std::move(kv.second));
  return out;
}

template <class Db>
std::vector<FunnelRow> SqlStore<Db>::Funnel(Millis since, Millis until) {
  // Live carts by the day they were created, then those retention pruned (whole days).
  auto s = db_.Prepare("SELECT stage, " + Aggregates(FunnelCounters()) +
                       " FROM carts WHERE created_ms >= ?1 AND created_ms < ?2 AND value_minor > 0"
                       " GROUP BY stage UNION ALL SELECT stage, " + Sums(FunnelCounters()) +
                       " FROM funnel_days WHERE day_ms >= ?1 AND day_ms <= ?2 - 86400000 GROUP BY stage");
  s.Bind(1, since).Bind(2, until);
  std::map<std::string, FunnelRow> by_stage;
  while (s.Step()) AddCounters(by_stage[s.Text(0)], s, 1, FunnelCounters());
  std::vector<FunnelRow> out;  // in checkout order, every stage present
  for (Stage st : {Stage::kCart, Stage::kContact, Stage::kShippingAddress, Stage::kShippingMethod,
                   Stage::kPayment}) {
    FunnelRow r = by_stage[StageName(st)];
    r.stage = StageName(st);
    out.push_back(r);
  }
  return out;
}

template <class Db>
std::string SqlStore<Db>::LeadInputs() const {
  return std::string("ev AS (SELECT " LEAD_WHO_OF_EVENT " AS who, CASE WHEN e.type = 'page_view' AND ") +
         JsonField("e.payload", "page_type") +
         " IN ('category', 'product') THEN 1 ELSE 0 END AS browse"
         "   FROM events e LEFT JOIN carts c ON c.cart_id = e.cart_id"
         "   WHERE e.at_ms >= ?1 AND e.at_ms < ?2),"
         // Hot is a cart taken to checkout: an empty cart whose shopper typed an e-mail there
         // (the contact stage) put nothing in it, so it is no hot lead.
         " cs AS (SELECT " LEAD_WHO_OF_CART " AS who, " +
         AnyOf("c.stage IN (" LEAD_CHECKOUT_STAGES ") AND c.value_minor > 0") +
         " AS checkout, " + AnyOf("c.value_minor > 0") +
         " AS carted FROM carts c WHERE c.last_activity_ms >= ?1 AND c.created_ms < ?2 GROUP BY 1),"
         " buyers AS (SELECT " LEAD_WHO_OF_CART " AS who FROM orders o JOIN carts c"
         "   ON c.cart_id = o.cart_id WHERE o.at_ms >= ?1 AND o.at_ms < ?2"
         "   UNION SELECT " LEAD_WHO_OF_CART " FROM orders o JOIN carts c"
         "   ON o.contact_key <> '' AND c.contact_key = o.contact_key"
         "   WHERE o.at_ms >= ?1 AND o.at_ms < ?2)";
}

template <class Db>
LeadCounts SqlStore<Db>::Leads(Millis since, Millis until) {
  // S9, from whatever the shop sends: a shopper is anyone with an event in the range (by
  // visitor, else by the cart's visitor, else by cart); buyers in the range are no lead.
  // Shoppers of whole days whose events were pruned come from lead_days; one seen both
  // there and in the events left counts once, with what either says. Days past the reports
  // window count per day (lead_totals): a shopper of several days, once each.
  auto s = db_.Prepare(
      "WITH " + LeadInputs() + ","
      " shoppers AS (SELECT who, max(browsed) AS browsed, max(checkout) AS checkout,"
      "   max(carted) AS carted, max(bought) AS bought FROM ("
      "   SELECT who, browse AS browsed, 0 AS checkout, 0 AS carted, 0 AS bought FROM ev"
      "   WHERE who IS NOT NULL UNION ALL SELECT who, browsed, checkout, carted, bought"
      "   FROM lead_days WHERE day_ms >= ?1 AND day_ms <= ?2 - 86400000) AS x GROUP BY who),"
      " t AS (SELECT s.browsed,"
      "   CASE WHEN s.checkout = 1 OR cs.checkout = 1 THEN 1 ELSE 0 END AS checkout,"
      "   CASE WHEN s.carted = 1 OR cs.carted = 1 THEN 1 ELSE 0 END AS carted,"
      "   CASE WHEN s.bought = 1 OR b.who IS NOT NULL THEN 1 ELSE 0 END AS bought FROM shoppers s"
      "   LEFT JOIN cs ON cs.who = s.who LEFT JOIN buyers b ON b.who = s.who)"
      " SELECT " + CountIf("bought = 0 AND checkout = 1") + ", " +
      CountIf("bought = 0 AND checkout = 0 AND (carted = 1 OR browsed = 1)") + ", " +
      CountIf("bought = 0 AND checkout = 0 AND carted = 0 AND browsed = 0") + " FROM t"
      " UNION ALL SELECT sum(hot), sum(warm), sum(cold) FROM lead_totals"
      " WHERE day_ms >= ?1 AND day_ms <= ?2 - 86400000");
  s.Bind(1, since).Bind(2, until);
  LeadCounts l;
  while (s.Step()) {
    l.hot += s.Int(0);
    l.warm += s.Int(1);
    l.cold += s.Int(2);
  }
  return l;
}

template <class Db>
void SqlStore<Db>::KeepLeadDays(Millis cut, int n) {
  std::vector<Millis> days;
  {
    auto s = db_.Prepare(
        "SELECT DISTINCT x.day FROM (SELECT at_ms / 86400000 * 86400000 AS day FROM (SELECT"
        " at_ms FROM events WHERE at_ms < ?1 ORDER BY at_ms LIMIT ?2) AS b) AS x"
        " WHERE NOT EXISTS (SELECT 1 FROM lead_days WHERE day_ms = x.day)");
    s.Bind(1, cut).Bind(2, n);
    while (s.Step()) days.push_back(s.Int(0));
  }
  for (Millis day : days)
    db_.Prepare("WITH " + LeadInputs() + ","
                " shoppers AS (SELECT who, max(browse) AS browsed FROM ev WHERE who IS NOT NULL"
                "   GROUP BY who)"
                " INSERT INTO lead_days(day_ms, who, browsed, checkout, carted, bought)"
                " SELECT ?1, s.who, s.browsed, coalesce(cs.checkout, 0), coalesce(cs.carted, 0),"
                " CASE WHEN b.who IS NULL THEN 0 ELSE 1 END FROM shoppers s"
                " LEFT JOIN cs ON cs.who = s.who LEFT JOIN buyers b ON b.who = s.who"
                " WHERE true ON CONFLICT(day_ms, who) DO NOTHING")
        .Bind(1, day)
        .Bind(2, day + 86400000)
        .Run();
}

template <class Db>
bool SqlStore<Db>::CollapseLeadDays(Millis cut, int n) {
  const std::string batch =
      " (day_ms, who) IN (SELECT day_ms, who FROM lead_days WHERE day_ms + 86400000 <= ?1"
      " ORDER BY day_ms, who LIMIT ?2)";
  db_.Prepare("INSERT INTO lead_totals(day_ms, cold, warm, hot) SELECT day_ms, " +
              CountIf("bought = 0 AND checkout = 0 AND carted = 0 AND browsed = 0") + ", " +
              CountIf("bought = 0 AND checkout = 0 AND (carted = 1 OR browsed = 1)") + ", " +
              CountIf("bought = 0 AND checkout = 1") + " FROM lead_days WHERE" + batch +
              " GROUP BY day_ms ON CONFLICT(day_ms) DO UPDATE SET cold = lead_totals.cold + excluded.cold,"
              " warm = lead_totals.warm + excluded.warm, hot = lead_totals.hot + excluded.hot")
      .Bind(1, cut)
      .Bind(2, n)
      .Run();
  db_.Prepare("DELETE FROM lead_days WHERE" + batch).Bind(1, cut).Bind(2, n).Run();
  return db_.ChangedRows() >= n;
}

// ---- Retention -------------------------------------------------------------------------

template <class Db>
PruneCounts SqlStore<Db>::Prune(Millis now, const RetentionWindows& w, Millis attribution_ms) {
  PruneCounts c;
  const int n = std::max(1, w.batch);
  // Ids (and their contact) of the oldest rows a query selects, at most n.
  auto select = [&](const char* sql, Millis cut, std::vector<std::string>* contacts) {
    std::vector<std::string> ids;
    auto s = db_.Prepare(sql);
    s.Bind(1, cut).Bind(2, n);
    while (s.Step()) {
      ids.push_back(s.Text(0));
      if (contacts && !s.IsNull(1) && !s.Text(1).empty()) contacts->push_back(s.Text(1));
    }
    return ids;
  };
  // Runs `sql` with the batch of ids as ?1.
  auto run = [&](const std::string& sql, const std::vector<std::string>& ids) {
    db_.Prepare(sql).BindIds(1, ids).Run();
    return db_.ChangedRows();
  };
  const std::string text_ids = IdSet(1, "text");
  std::vector<std::string> contacts;  // whose rows went: they may be left with nothing

  if (w.events_ms > 0) {
    KeepLeadDays(now - w.events_ms, n);
    db_.Prepare("DELETE FROM events WHERE id IN (SELECT id FROM events WHERE at_ms < ?1"
                " ORDER BY at_ms LIMIT ?2)")
        .Bind(1, now - w.events_ms)
        .Bind(2, n)
        .Run();
    c.events = db_.ChangedRows();
    // Counters of the cap on events per cart whose last window opened before the oldest
    // event kept: none of their events is left to count against.
    db_.Prepare("DELETE FROM cart_event_counts WHERE cart_id IN (SELECT cart_id FROM cart_event_counts"
                " WHERE window_start_ms < ?1 ORDER BY window_start_ms LIMIT ?2)")
        .Bind(1, now - w.events_ms)
        .Bind(2, n)
        .Run();
    if (db_.ChangedRows() >= n) c.more = true;
  }
  if (w.bodies_ms > 0) {
    // (The rows keep the numbers, which point at nothing: AUTOINCREMENT never reuses them.)
    db_.Prepare("DELETE FROM message_bodies WHERE body_id IN"
                " (SELECT body_id FROM message_bodies WHERE written_ms < ?1 LIMIT ?2)")
        .Bind(1, now - w.bodies_ms)
        .Bind(2, n)
        .Run();
    c.bodies = db_.ChangedRows();
  }
  // Orders and popups point at each other (an order's last touch may be a popup; a popup's
  // conversion is an order): both batches are chosen first and aggregated while both are
  // still there, then deleted. A popup an order outside this batch still points at stays.
  std::vector<std::string> orders;
  if (w.reports_ms > 0)
    orders = select("SELECT order_id FROM orders WHERE at_ms < ?1 ORDER BY at_ms, order_id LIMIT ?2",
                    now - w.reports_ms, nullptr);
  std::vector<std::string> offers;  // aggregated here, deleted once the orders went
  if (w.offers_ms > 0) {
    {
      auto s = db_.Prepare(
          "SELECT offer_id FROM offers WHERE decided_ms < ?1 AND NOT EXISTS (SELECT 1 FROM orders o"
          " WHERE o.message_id = 'offer:' || offers.offer_id AND o.order_id NOT IN (" + IdSet(3, "text") +
          ")) ORDER BY decided_ms, offer_id LIMIT ?2");
      s.Bind(1, now - w.offers_ms).Bind(2, n).BindIds(3, orders);
      while (s.Step()) offers.push_back(s.Text(0));
    }
    if (!offers.empty())
      db_.Prepare("INSERT INTO offer_days(day_ms, kind, variant, trials, conversions)"
                  " SELECT decided_ms / 86400000 * 86400000, kind, variant, count(*), " +
                  CountIf("EXISTS(SELECT 1 FROM orders o WHERE o.contact_key <> ''"
                          " AND o.contact_key = offers.contact_key AND o.at_ms >= offers.decided_ms"
                          " AND o.at_ms < offers.decided_ms + ?2)") +
                  " FROM offers WHERE offer_id IN (" + IdSet(1, "bigint") +
                  ") AND variant <> '' GROUP BY 1, 2, 3 ON CONFLICT(day_ms, kind, variant) DO UPDATE SET"
                  " trials = offer_days.trials + excluded.trials,"
                  " conversions = offer_days.conversions + excluded.conversions")
          .BindIds(1, offers)
          .Bind(2, attribution_ms)
          .Run();
  }
  if (w.reports_ms > 0) {
    const Millis cut = now - w.reports_ms;
    // Orders first: a message goes only once no order points at it, so an order's path and
    // variant can still be read from its message when it is aggregated.
    if (!orders.empty()) {
      run(ReportDayColumns() + " SELECT at_ms / 86400000 * 86400000, coalesce(flow, ''), " + kOrderPath +
              ", coalesce(step, 0), coalesce(channel, ''), " + kOrderVariant + ", coalesce(currency, ''), " +
              Zeros(MessageCounters()) + ", " + Aggregates(OrderCounters()) +
              " FROM orders WHERE order_id IN (" + text_ids + ") AND message_id <> ''"
              " GROUP BY 1, 2, 3, 4, 5, 6, 7" + ReportDayConflict(),
          orders);
      c.orders = run("DELETE FROM orders WHERE order_id IN (" + text_ids + ")", orders);
    }
    auto messages = select(
        "SELECT message_id, contact_key FROM messages WHERE created_ms < ?1"
        " AND (CASE WHEN sent_ms > 0 THEN sent_ms ELSE created_ms END) < ?1"
        " AND status IN ('sent', 'bounced', 'failed', 'suppressed')"
        " AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.message_id = messages.message_id)"
        // A journey still running reads its messages (engagement, branches): they stay.
        " AND NOT EXISTS (SELECT 1 FROM journeys j WHERE j.journey_id = messages.journey_id"
        "   AND j.state = 'running')"
        " ORDER BY created_ms, message_id LIMIT ?2",
        cut, &contacts);
    if (!messages.empty()) {
      run(ReportDayColumns() + " SELECT " + kMessageTime +
              " / 86400000 * 86400000, flow, path, step, channel, variant, '', " +
              Aggregates(MessageCounters()) + ", " + Zeros(OrderCounters()) +
              " FROM messages WHERE message_id IN (" + text_ids + ") GROUP BY 1, 2, 3, 4, 5, 6" +
              ReportDayConflict(),
          messages);
      // A body kept longer than its row (a bodies window past the reports window) goes with it.
      run("DELETE FROM message_bodies WHERE body_id IN (SELECT body_id FROM messages WHERE message_id IN (" +
              text_ids + "))",
          messages);
      c.messages = run("DELETE FROM messages WHERE message_id IN (" + text_ids + ")", messages);
    }
  }
  if (w.reports_ms > 0 && CollapseLeadDays(now - w.reports_ms, n)) c.more = true;
  if (w.offers_ms > 0 && PruneIncentiveBudget(offers, now - w.offers_ms, n)) c.more = true;
  if (!offers.empty())
    c.offers = run("DELETE FROM offers WHERE offer_id IN (" + IdSet(1, "bigint") + ")", offers);
  if (w.carts_ms > 0) {
    const Millis cut = now - w.carts_ms;
    auto journeys = select(
        "SELECT journey_id, contact_key FROM journeys WHERE finished_ms < ?1"
        " ORDER BY finished_ms LIMIT ?2",
        cut, &contacts);
    if (!journeys.empty())
      c.journeys = run("DELETE FROM journeys WHERE journey_id IN (" + text_ids + ")", journeys);
    auto carts = select(
        "SELECT cart_id, contact_key FROM carts WHERE last_activity_ms < ?1"
        " AND NOT EXISTS (SELECT 1 FROM journeys j WHERE j.cart_id = carts.cart_id AND j.state = 'running')"
        " AND NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.kind = 'abandon' AND jobs.subject = carts.cart_id)"
        " ORDER BY last_activity_ms, cart_id LIMIT ?2",
        cut, &contacts);
    if (!carts.empty()) {
      run("INSERT INTO funnel_days(day_ms, stage, " + Columns(FunnelCounters()) +
              ") SELECT created_ms / 86400000 * 86400000, stage, " + Aggregates(FunnelCounters()) +
              " FROM carts WHERE cart_id IN (" + text_ids + ") AND value_minor > 0"
              " GROUP BY 1, 2 ON CONFLICT(day_ms, stage) DO UPDATE SET " +
              AddToDay("funnel_days", FunnelCounters()),
          carts);
      c.carts = run("DELETE FROM carts WHERE cart_id IN (" + text_ids + ")", carts);
    }
    if (!contacts.empty()) {
      // A contact left with no cart, journey or message, quiet for the window, goes with its
      // visitor links; one who unsubscribed or bounced stays (the suppression must hold).
      std::sort(contacts.begin(), contacts.end());
      contacts.erase(std::unique(contacts.begin(), contacts.end()), contacts.end());
      std::vector<std::string> gone;
      {
        auto s = db_.Prepare(
            "SELECT contact_key FROM contacts WHERE contact_key IN (" + text_ids + ")"
            " AND unsubscribed = 0 AND email_bounced = 0 AND phone_bounced = 0"
            " AND last_message_ms < ?2 AND last_order_ms < ?2"
            " AND NOT EXISTS (SELECT 1 FROM carts c WHERE c.contact_key = contacts.contact_key)"
            " AND NOT EXISTS (SELECT 1 FROM journeys j WHERE j.contact_key = contacts.contact_key)"
            " AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.contact_key = contacts.contact_key)");
        s.BindIds(1, contacts).Bind(2, cut);
        while (s.Step()) gone.push_back(s.Text(0));
      }
      if (!gone.empty()) {
        c.visitors = run("DELETE FROM visitors WHERE contact_key IN (" + text_ids + ")", gone);
        c.contacts = run("DELETE FROM contacts WHERE contact_key IN (" + text_ids + ")", gone);
      }
    }
  }
  for (int64_t k : {c.events, c.bodies, c.messages, c.orders, c.journeys, c.carts, c.offers})
    if (k >= n) c.more = true;
  AfterPrune(w);
  return c;
}

// ---- Privacy ---------------------------------------------------------------------------

template <class Db>
std::string SqlStore<Db>::PersonSets() const {
  return "WITH k(v) AS (" + IdSet(1, "text") + "), vis(v) AS (" + IdSet(2, "text") + "), c(v) AS (" +
         IdSet(3, "text") + ") ";
}

template <class Db>
std::string SqlStore<Db>::EventsOfPerson() const {
  return "cart_id IN (SELECT v FROM c) OR visitor_id IN (SELECT v FROM vis) OR (?4 <> '' AND " +
         Contains("payload", "?4") + ") OR (?5 <> '' AND " + Contains("payload", "?5") + ")";
}

template <class Db>
template <class S>
void SqlStore<Db>::BindPerson(S& s, const PersonKeys& who) {
  s.BindIds(1, who.contact_keys)
      .BindIds(2, who.visitor_ids)
      .BindIds(3, who.cart_ids)
      .Bind(4, who.email)
      .Bind(5, who.phone);
}

template <class Db>
PersonKeys SqlStore<Db>::FindPerson(const std::string& email, const std::string& phone) {
  PersonKeys who;
  who.email = email;
  who.phone = phone;
  std::set<std::string> keys, visitors, carts;
  for (const auto& k : {ContactKeyOf(email, ""), ContactKeyOf("", phone)})
    if (!k.empty()) keys.insert(k);
  {
    auto s = db_.Prepare(
        "SELECT contact_key FROM contacts WHERE (?1 <> '' AND email = ?1) OR (?2 <> '' AND phone = ?2)");
    s.Bind(1, email).Bind(2, phone);
    while (s.Step()) keys.insert(s.Text(0));
  }
  // Each of the person's ids in turn, through the column's index.
  auto collect = [&](const char* sql, const std::set<std::string>& of, std::set<std::string>& into) {
    for (const auto& id : of) {
      auto s = db_.Prepare(sql);
      s.Bind(1, id);
      while (s.Step()) into.insert(s.Text(0));
    }
  };
  collect("SELECT visitor_id FROM visitors WHERE contact_key = ?1", std::set<std::string>(keys), visitors);
  collect("SELECT cart_id FROM carts WHERE contact_key = ?1", keys, carts);
  collect("SELECT cart_id FROM carts WHERE visitor_id = ?1", visitors, carts);
  // The visitor- and cart-only keys the person was known by before giving an address.
  auto add_if_contact = [&](const std::string& key) {
    auto s = db_.Prepare("SELECT 1 FROM contacts WHERE contact_key = ?1");
    s.Bind(1, key);
    if (s.Step()) keys.insert(key);
  };
  for (const auto& v : visitors) add_if_contact("v:" + v);
  for (const auto& c : carts) add_if_contact("c:" + c);
  if (keys.empty() && visitors.empty() && carts.empty()) return who;
  who.contact_keys.assign(keys.begin(), keys.end());
  who.visitor_ids.assign(visitors.begin(), visitors.end());
  who.cart_ids.assign(carts.begin(), carts.end());
  return who;
}

template <class Db>
std::vector<std::pair<std::string, std::string>> SqlStore<Db>::PersonRows(const PersonKeys& who) {
  std::vector<std::pair<std::string, std::string>> out;
  const std::string events = EventsOfPerson();
  for (const auto& [table, where] : PersonTables()) {
    // A message as the person was sent it: with its contents from the cold table.
    auto body = [](const char* name, const char* column) {
      return std::string("'") + name + "', coalesce((SELECT " + column +
             " FROM message_bodies b WHERE b.body_id = messages.body_id), '')";
    };
    const std::string extra = std::string(table) == "messages"
                                  ? body("subject", "subject") + ", " + body("text", UNPACKED_TEXT) +
                                        ", " + body("html", UNPACKED_HTML)
                                  : std::string();
    auto s = db_.Prepare(PersonSets() + "SELECT " + RowJson(table, extra) + " FROM " + table + " WHERE " +
                         (where ? where : events) + WrittenOrder());
    BindPerson(s, who);
    while (s.Step()) out.emplace_back(table, s.Text(0));
  }
  return out;
}

template <class Db>
std::map<std::string, int64_t> SqlStore<Db>::ErasePerson(const PersonKeys& who,
                                                       const std::string& anonymous) {
  std::map<std::string, int64_t> n;
  auto run = [&](const std::string& sql) {
    auto s = db_.Prepare(PersonSets() + sql);
    BindPerson(s, who);
    s.Run();
    return db_.ChangedRows();
  };
  // Page views stay for lead temperature, each visitor under an anonymous id of its own
  // and with nothing but the page type; every other event of the person goes.
  for (size_t i = 0; i < who.visitor_ids.size(); ++i) {
    const std::string anon = anonymous + "/v" + std::to_string(i);
    db_.Prepare("UPDATE events SET visitor_id = ?1, cart_id = NULL, payload = " +
                JsonObject("'visitor_id', ?1, 'page_type', " + JsonField("payload", "page_type")) +
                " WHERE type = 'page_view' AND visitor_id = ?2")
        .Bind(1, anon)
        .Bind(2, who.visitor_ids[i])
        .Run();
    n["events_anonymized"] += db_.ChangedRows();
    for (const char* sql : {"UPDATE carts SET visitor_id = ?1 WHERE visitor_id = ?2",
                            "UPDATE offers SET visitor_id = ?1 WHERE visitor_id = ?2",
                            "UPDATE lead_days SET who = ?1 WHERE who = ?2",
                            // a popup without a cart is the visitor's abandonment
                            "UPDATE incentive_abandonments SET abandonment = ?1 WHERE abandonment = ?2"})
      db_.Prepare(sql).Bind(1, anon).Bind(2, who.visitor_ids[i]).Run();
  }
  // (The anonymized page views no longer match: new visitor id, no cart, no address.)
  n["events"] = run("DELETE FROM events WHERE " + EventsOfPerson());
  n["carts"] = run("UPDATE carts SET restore_url = '' WHERE cart_id IN (SELECT v FROM c)");
  n["message_bodies"] = run(
      "DELETE FROM message_bodies WHERE body_id IN (SELECT body_id FROM messages"
      " WHERE contact_key IN (SELECT v FROM k) OR cart_id IN (SELECT v FROM c))");
  n["messages"] = run(
      "UPDATE messages SET to_addr = '', body_id = NULL"
      " WHERE contact_key IN (SELECT v FROM k) OR cart_id IN (SELECT v FROM c)");
  for (size_t i = 0; i < who.contact_keys.size(); ++i) {
    const std::string anon = anonymous + "/" + std::to_string(i);
    const std::string& key = who.contact_keys[i];
    for (const char* sql : {"UPDATE carts SET contact_key = ?1 WHERE contact_key = ?2",
                            "UPDATE journeys SET contact_key = ?1 WHERE contact_key = ?2",
                            "UPDATE messages SET contact_key = ?1 WHERE contact_key = ?2",
                            "UPDATE orders SET contact_key = ?1 WHERE contact_key = ?2",
                            "UPDATE offers SET contact_key = ?1 WHERE contact_key = ?2",
                            "UPDATE assignments SET contact_key = ?1 WHERE contact_key = ?2",
                            "UPDATE coupons SET assigned_contact = ?1 WHERE assigned_contact = ?2",
                            "UPDATE consent_log SET contact_key = ?1 WHERE contact_key = ?2"})
      db_.Prepare(sql).Bind(1, anon).Bind(2, key).Run();
  }
  n["visitors"] = run(
      "DELETE FROM visitors WHERE contact_key IN (SELECT v FROM k) OR visitor_id IN (SELECT v FROM vis)");
  n["contacts"] = run("DELETE FROM contacts WHERE contact_key IN (SELECT v FROM k)");
  AfterErase();
  return n;
}

// ---- The job queue (store.h draws its states; the claim and the renewal are the dialects') --

template <class Db>
void SqlStore<Db>::ScheduleJob(const std::string& kind, const std::string& subject, Millis due_ms) {
  db_.Prepare(
         "INSERT INTO jobs(kind, subject, due_ms, state, lease_until_ms, attempt)"
         " VALUES(?1,?2,?3,'pending',0,0) ON CONFLICT(kind, subject) DO UPDATE SET"
         " due_ms = excluded.due_ms, state = 'pending', lease_until_ms = 0")
      .Bind(1, kind)
      .Bind(2, subject)
      .Bind(3, due_ms)
      .Run();
}

template <class Db>
void SqlStore<Db>::CancelJobs(const std::string& kind, const std::string& subject) {
  db_.Prepare("DELETE FROM jobs WHERE kind = ?1 AND subject = ?2").Bind(1, kind).Bind(2, subject).Run();
}

// "done" is the row's removal: finished jobs leave nothing behind to scan.
const char kFinishJobSql[] = "DELETE FROM jobs WHERE job_id = ?1 AND attempt = ?2 AND state = 'claimed'";
const char kRetryJobSql[] =
    "UPDATE jobs SET state = 'pending', due_ms = ?1, lease_until_ms = 0"
    " WHERE job_id = ?2 AND attempt = ?3 AND state = 'claimed'";

template <class Db>
bool SqlStore<Db>::FinishJob(int64_t job_id, int attempt) {
  db_.Prepare(kFinishJobSql).Bind(1, job_id).Bind(2, attempt).Run();
  return db_.ChangedRows() == 1;
}

template <class Db>
void SqlStore<Db>::FinishJobAsync(int64_t job_id, int attempt) {
  db_.Prepare(kFinishJobSql).Bind(1, job_id).Bind(2, attempt).Queue();
}

template <class Db>
bool SqlStore<Db>::RetryJob(int64_t job_id, int attempt, Millis due_ms) {
  db_.Prepare(kRetryJobSql).Bind(1, due_ms).Bind(2, job_id).Bind(3, attempt).Run();
  return db_.ChangedRows() == 1;
}

template <class Db>
void SqlStore<Db>::RetryJobAsync(int64_t job_id, int attempt, Millis due_ms) {
  db_.Prepare(kRetryJobSql).Bind(1, due_ms).Bind(2, job_id).Bind(3, attempt).Queue();
}

template <class Db>
bool SqlStore<Db>::ClaimIsCurrent(int64_t job_id, int attempt) {
  auto s = db_.Prepare("SELECT 1 FROM jobs WHERE job_id = ?1 AND attempt = ?2 AND state = 'claimed'");
  s.Bind(1, job_id).Bind(2, attempt);
  return s.Step();
}

template <class Db>
std::optional<Millis> SqlStore<Db>::NextDueMs() {
  auto s = db_.Prepare(
      "SELECT (SELECT min(due_ms) FROM jobs WHERE state = 'pending'),"
      " (SELECT min(lease_until_ms) FROM jobs WHERE state = 'claimed')");
  return EarlierOf(s);
}

// ---- The step pipeline's batch reads and narrow writes (issue 9) --------------------------
// A batch's keys travel as one bound list (IdSet): one prepared statement whatever the
// batch's size, each key found through its index.

template <class Db>
std::set<int64_t> SqlStore<Db>::CurrentClaims(const std::vector<std::pair<int64_t, int>>& claims) {
  std::vector<std::string> ids;
  std::map<int64_t, int> attempt_of;
  for (const auto& [job_id, attempt] : claims) {
    ids.push_back(std::to_string(job_id));
    attempt_of[job_id] = attempt;
  }
  // The state is checked here, not in the WHERE: with "state = 'claimed'" there SQLite's
  // planner walked every claimed job by the state index (a batch's 500 for each group of
  // 32) instead of seeking each asked job by its key.
  static const std::string sql = "SELECT job_id, attempt, state FROM jobs WHERE job_id IN (" +
                                 IdSet(1, "bigint") + ")";
  auto s = db_.Prepare(sql);
  s.BindIds(1, ids);
  std::set<int64_t> current;
  while (s.Step())
    if (attempt_of[s.Int(0)] == s.Int(1) && s.Text(2) == JobStateName(JobState::kClaimed))
      current.insert(s.Int(0));
  return current;
}

template <class Db>
std::vector<JourneyRecord> SqlStore<Db>::LoadJourneys(const std::vector<std::string>& ids) {
  static const std::string sql = JourneySelect("WHERE journey_id IN (" + IdSet(1, "text") + ")");
  auto s = db_.Prepare(sql);
  s.BindIds(1, ids);
  std::vector<JourneyRecord> out;
  while (auto j = ReadJourney(s)) out.push_back(std::move(*j));
  return out;
}

template <class Db>
std::vector<Cart> SqlStore<Db>::LoadCarts(const std::vector<std::string>& ids) {
  static const std::string sql =
      KeyedSelect(CartSelect(""), "cart_id", "WHERE cart_id IN (" + IdSet(1, "text") + ")");
  auto s = db_.Prepare(sql);
  s.BindIds(1, ids);
  std::vector<Cart> out;
  while (s.Step()) out.push_back(CartFromRow(s, s.Text(kCartColumns)));
  return out;
}

template <class Db>
std::vector<Contact> SqlStore<Db>::LoadContacts(const std::vector<std::string>& keys) {
  static const std::string sql = KeyedSelect(ContactSelect(""), "contact_key",
                                             "WHERE contact_key IN (" + IdSet(1, "text") + ")");
  auto s = db_.Prepare(sql);
  s.BindIds(1, keys);
  std::vector<Contact> out;
  while (s.Step()) out.push_back(ContactFromRow(s, s.Text(kContactColumns)));
  return out;
}

template <class Db>
std::vector<MessageRecord> SqlStore<Db>::LoadMessages(const std::vector<std::string>& ids) {
  static const std::string sql = MessageSelect("WHERE message_id IN (" + IdSet(1, "text") + ")");
  auto s = db_.Prepare(sql);
  s.BindIds(1, ids);
  std::vector<MessageRecord> out;
  while (s.Step()) out.push_back(ReadMessage(s));
  return out;
}

template <class Db>
std::vector<MessageRecord> SqlStore<Db>::MessageStates(const std::vector<std::string>& journey_ids) {
  static const std::string sql = "SELECT " MESSAGE_STATE_COLUMNS " FROM messages WHERE journey_id IN (" +
                                 IdSet(1, "text") + ")";
  auto s = db_.Prepare(sql);
  s.BindIds(1, journey_ids);
  std::vector<MessageRecord> out;
  while (s.Step()) out.push_back(ReadMessageState(s));
  return out;
}

template <class Db>
std::set<std::string> SqlStore<Db>::StillSending(const std::vector<std::string>& ids) {
  static const std::string sql =
      "SELECT message_id FROM messages WHERE status = 'sending' AND message_id IN (" + IdSet(1, "text") + ")";
  auto s = db_.Prepare(sql);
  s.BindIds(1, ids);
  std::set<std::string> out;
  while (s.Step()) out.insert(s.Text(0));
  return out;
}

template <class Db>
std::map<std::string, ContactSends> SqlStore<Db>::SendsToContacts(const std::vector<std::string>& keys,
                                                                   Millis since) {
  std::map<std::string, ContactSends> out;
  {
    static const std::string sql =
        "SELECT contact_key, channel, max(sent_ms) FROM messages WHERE status = 'sent' AND"
        " contact_key IN (" + IdSet(1, "text") + ") GROUP BY contact_key, channel";
    auto s = db_.Prepare(sql);
    s.BindIds(1, keys);
    while (s.Step()) out[s.Text(0)].last_by_channel[s.Text(1)] = s.Int(2);
  }
  // In each contact's order as SendsTo lists it.
  static const std::string sql =
      "SELECT contact_key, channel, sent_ms FROM messages WHERE status = 'sent' AND sent_ms >= ?2"
      " AND contact_key IN (" + IdSet(1, "text") + ") ORDER BY contact_key, sent_ms" + Then("messages.seq");
  auto s = db_.Prepare(sql);
  s.BindIds(1, keys).Bind(2, since);
  while (s.Step()) out[s.Text(0)].recent.emplace_back(s.Text(1), s.Int(2));
  return out;
}

const char kRecordOutcomeSql[] =
    "UPDATE messages SET status = ?1, reason = ?2, due_ms = ?3, sent_ms = ?4, attempts = ?5"
    " WHERE message_id = ?6";
const char kTouchContactSql[] = "UPDATE contacts SET last_message_ms = ?1 WHERE contact_key = ?2";

template <class Db>
void SqlStore<Db>::RecordOutcome(const MessageRecord& m) {
  auto s = db_.Prepare(kRecordOutcomeSql);
  BindOutcome(s, m).Queue();
}

template <class Db>
void SqlStore<Db>::TouchContact(const std::string& key, Millis at) {
  db_.Prepare(kTouchContactSql).Bind(1, at).Bind(2, key).Queue();
}

template class SqlStore<SqliteDb>;
template class SqlStore<PgDb>;

}  // namespace internal
}  // namespace cartrecovery
