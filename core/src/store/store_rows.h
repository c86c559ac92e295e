// store_rows.h: the rows both stores read back whole (journeys, messages, popup decisions):
// the column list of each SELECT and the reader that expects exactly those columns, in
// one place so that a new column cannot reach one store and miss the other. `Row` is the
// store's statement type (SQLite's Stmt, PostgreSQL's PgStmt): Step(), Text(i), Int(i).
#ifndef CARTRECOVERY_SRC_STORE_STORE_ROWS_H_
#define CARTRECOVERY_SRC_STORE_STORE_ROWS_H_

#include <optional>
#include <string>

#include "cartrecovery/store.h"
#include "store/store_codec.h"

namespace cartrecovery {
namespace internal {

// Each returns "SELECT <the reader's columns> FROM <table> " + tail. The statement caches
// are keyed by text, so each tail yields one cached statement.
inline std::string JourneySelect(const char* tail) {
  return std::string(
             "SELECT journey_id, contact_key, cart_id, flow, path, state, end_reason, next_step,"
             " next_due_ms, next_branch, started_ms, prev_sent_ms, prev_engagement, prev_branch,"
             " updated_ms FROM journeys ") +
         tail;
}

inline std::string MessageSelect(const char* tail) {
  return std::string(
             "SELECT message_id, journey_id, cart_id, contact_key, flow, path, step, branch,"
             " channel, status, reason, to_addr, subject, text, html, due_ms, sent_ms, opened_ms,"
             " clicked_ms, attempts, created_ms, variant, unsubscribed_ms FROM messages ") +
         tail;
}

inline std::string OfferSelect(const char* tail) {
  return std::string(
             "SELECT offer_id, visitor_id, cart_id, contact_key, show, kind, variant, reason,"
             " incentive_rule, coupon_code, decided_ms FROM offers ") +
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
  j.state = s.Text(5);
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
MessageRecord ReadMessage(Row& s) {
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
  m.status = s.Text(9);
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
  while (s.Step()) {
  }
  return o;
}

}  // namespace internal
}  // namespace cartrecovery

#endif  // CARTRECOVERY_SRC_STORE_STORE_ROWS_H_
