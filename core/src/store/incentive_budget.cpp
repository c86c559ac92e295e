// The incentive budget's counts (S8, R4.4), kept as the decisions are recorded so that a
// decision costs the same with a thousand or a million decisions in the window.
//
// What the window counts is what a count(DISTINCT abandonment) over the window's decisions
// gave: an abandonment is an abandoner in the window when its LATEST decision is in it (a
// cart whose popup was decided 40 days ago and whose reminder asks today is one of today's
// abandoners, and the cap's base must not lose it), and a valuable one when its latest
// priority-rule decision is. Incentives are counted per decision, by when it was decided.
//
// So: incentive_abandonments keeps per abandonment the time of its latest decision and of
// its latest priority decision; incentive_days keeps per UTC day how many abandonments have
// their latest decision (and latest priority decision) that day, and the incentives given
// that day. A new decision moves its abandonment from the day of its previous latest
// decision to its own. The window [since, ...) is then the whole days after since's day
// from incentive_days, plus since's own day counted row by row through the time indexes
// (at most one day of rows).
//
// Retention: the incentives of the offers a prune batch deletes come off their days, and
// an abandonment whose latest (priority) decision is older than the offers' window loses
// that mark, so a window longer than the offers' retention counts what retention keeps.
//
// Writers that decide must hold what serializes the budget (SQLite's write lock; on
// PostgreSQL the "incentive_budget" key, which IncentiveCounts takes, or the store-wide
// lock), as the count-then-record sequence already must.
#include <algorithm>
#include <array>
#include <map>
#include <optional>

#include "store/pg_db.h"
#include "store/sql_store.h"
#include "store/sqlite_db.h"
#include "store/store_rows.h"

namespace cartrecovery {
namespace internal {
namespace {

constexpr Millis kDayMs = 86400000;

Millis DayStart(Millis ms) {
  Millis d = ms / kDayMs * kDayMs;
  return d > ms ? d - kDayMs : d;  // floor, also before 1970
}

bool PriorityRule(const std::string& rule) {
  return rule == "priority_customer" || rule == "priority_budget_exhausted";
}

// Changes to incentive_days, by day: abandoners, valuable, incentives, valuable incentives.
using DayDeltas = std::map<Millis, std::array<int64_t, 4>>;

template <class Db>
void AddToIncentiveDays(Db& db, const DayDeltas& deltas) {
  for (const auto& [day, d] : deltas) {
    if (d[0] == 0 && d[1] == 0 && d[2] == 0 && d[3] == 0) continue;
    db.Prepare(
           "INSERT INTO incentive_days(day_ms, abandoners, valuable, incentives, valuable_incentives)"
           " VALUES(?1,?2,?3,?4,?5) ON CONFLICT(day_ms) DO UPDATE SET"
           " abandoners = incentive_days.abandoners + excluded.abandoners,"
           " valuable = incentive_days.valuable + excluded.valuable,"
           " incentives = incentive_days.incentives + excluded.incentives,"
           " valuable_incentives = incentive_days.valuable_incentives + excluded.valuable_incentives")
        .Bind(1, day)
        .Bind(2, d[0])
        .Bind(3, d[1])
        .Bind(4, d[2])
        .Bind(5, d[3])
        .Run();
  }
}

}  // namespace

template <class Db>
void SqlStore<Db>::CountIncentiveDecision(const OfferRecord& o) {
  if (o.kind != "coupon" || o.incentive_rule.empty()) return;  // not a budget decision
  // The abandonment the decision is about: its cart (a popup and a reminder step on one
  // cart are one abandonment), or for a decision without a cart, its visitor.
  const std::string abandonment = o.cart_id.empty() ? o.visitor_id : o.cart_id;
  std::optional<Millis> last, valuable;
  {
    auto s = db_.Prepare(
        "SELECT last_ms, valuable_ms FROM incentive_abandonments WHERE abandonment = ?1");
    s.Bind(1, abandonment);
    if (s.Step()) {
      last = s.Int(0);
      if (!s.IsNull(1)) valuable = s.Int(1);
    }
  }
  DayDeltas deltas;
  // Moves the abandonment's mark in column `col` from the day of `from` to the day of `to`.
  auto move = [&](int col, std::optional<Millis> from, std::optional<Millis> to) {
    if (from) deltas[DayStart(*from)][col] -= 1;
    if (to) deltas[DayStart(*to)][col] += 1;
  };
  const Millis t = o.decided_ms;
  std::optional<Millis> new_last = last ? std::max(*last, t) : t;
  std::optional<Millis> new_valuable = valuable;
  if (PriorityRule(o.incentive_rule)) new_valuable = valuable ? std::max(*valuable, t) : t;
  move(0, last, new_last);
  move(1, valuable, new_valuable);
  auto& today = deltas[DayStart(t)];
  today[2] += o.show ? 1 : 0;
  today[3] += o.show && o.incentive_rule == "priority_customer" ? 1 : 0;
  AddToIncentiveDays(db_, deltas);
  db_.Prepare(
         "INSERT INTO incentive_abandonments(abandonment, last_ms, valuable_ms) VALUES(?1,?2,?3)"
         " ON CONFLICT(abandonment) DO UPDATE SET last_ms = excluded.last_ms,"
         " valuable_ms = excluded.valuable_ms")
      .Bind(1, abandonment)
      .Bind(2, *new_last)
      .Bind(3, new_valuable)
      .Run();
}

template <class Db>
IncentiveHistory SqlStore<Db>::IncentiveCounts(Millis since, const std::string& abandonment) {
  // Whole days from the day counters; since's own day, from `since` to its end, row by row.
  const Millis edge_end = DayStart(since) == since ? since : DayStart(since) + kDayMs;
  auto s = db_.Prepare(
      "SELECT sum(a), sum(v), sum(i), sum(vi), sum(here) FROM ("
      " SELECT abandoners AS a, valuable AS v, incentives AS i, valuable_incentives AS vi, 0 AS here"
      "  FROM incentive_days WHERE day_ms >= ?2"
      " UNION ALL SELECT count(*), 0, 0, 0, 0 FROM incentive_abandonments"
      "  WHERE last_ms >= ?1 AND last_ms < ?2"
      " UNION ALL SELECT 0, count(*), 0, 0, 0 FROM incentive_abandonments"
      "  WHERE valuable_ms >= ?1 AND valuable_ms < ?2"
      " UNION ALL SELECT 0, 0, coalesce(sum(show), 0),"
      "  coalesce(sum(" VALUABLE_INCENTIVE "), 0), 0"
      "  FROM offers WHERE decided_ms >= ?1 AND decided_ms < ?2 AND " BUDGET_DECISION
      " UNION ALL SELECT 0, 0, 0, 0, count(*) FROM incentive_abandonments"
      "  WHERE abandonment = ?3 AND last_ms >= ?1) t");
  s.Bind(1, since).Bind(2, edge_end).Bind(3, abandonment);
  IncentiveHistory h;
  if (s.Step()) {
    auto n = [&](int i) { return s.IsNull(i) ? int64_t{0} : s.Int(i); };
    h.abandoners = n(0);
    h.valuable = n(1);
    h.incentives = n(2);
    h.valuable_incentives = n(3);
    h.counted = n(4) > 0;
  }
  return h;
}

template <class Db>
bool SqlStore<Db>::PruneIncentiveBudget(const std::vector<std::string>& offer_ids, Millis cut, int n) {
  // The offers going take their incentives off their days; abandonments whose latest
  // decision (or latest priority decision) is older than the offers' window go with them,
  // at most n a batch, so the budget counts what the offers' retention keeps.
  if (!offer_ids.empty())
    db_.Prepare(
           "INSERT INTO incentive_days(day_ms, abandoners, valuable, incentives, valuable_incentives)"
           " SELECT decided_ms / 86400000 * 86400000, 0, 0, -sum(show),"
           " -sum(" VALUABLE_INCENTIVE ")"
           " FROM offers WHERE offer_id IN (" + IdSet(1, "bigint") + ") AND " BUDGET_DECISION
           " GROUP BY 1 ON CONFLICT(day_ms) DO UPDATE SET"
           " incentives = incentive_days.incentives + excluded.incentives,"
           " valuable_incentives = incentive_days.valuable_incentives + excluded.valuable_incentives")
        .BindIds(1, offer_ids)
        .Run();
  bool more = false;
  for (int col : {0, 1}) {
    const char* at = col == 0 ? "last_ms" : "valuable_ms";
    std::vector<std::string> gone;
    DayDeltas deltas;
    {
      auto s = db_.Prepare(std::string("SELECT abandonment, ") + at + " FROM incentive_abandonments WHERE " +
                           at + " < ?1 ORDER BY " + at + " LIMIT ?2");
      s.Bind(1, cut).Bind(2, n);
      while (s.Step()) {
        gone.push_back(s.Text(0));
        deltas[DayStart(s.Int(1))][col] -= 1;
      }
    }
    if (gone.empty()) continue;
    more = more || static_cast<int>(gone.size()) >= n;
    if (col == 0) {
      // A row going may still carry a priority mark (older still): take it off its day too.
      auto s = db_.Prepare("SELECT valuable_ms FROM incentive_abandonments WHERE valuable_ms IS NOT NULL"
                           " AND abandonment IN (" + IdSet(1, "text") + ")");
      s.BindIds(1, gone);
      while (s.Step()) deltas[DayStart(s.Int(0))][1] -= 1;
    }
    AddToIncentiveDays(db_, deltas);
    db_.Prepare(col == 0 ? "DELETE FROM incentive_abandonments WHERE abandonment IN (" + IdSet(1, "text") + ")"
                         : "UPDATE incentive_abandonments SET valuable_ms = NULL WHERE abandonment IN (" +
                               IdSet(1, "text") + ")")
        .BindIds(1, gone)
        .Run();
  }
  db_.Prepare(
         "DELETE FROM incentive_days WHERE day_ms < ?1 AND abandoners = 0 AND valuable = 0"
         " AND incentives = 0 AND valuable_incentives = 0")
      .Bind(1, cut)
      .Run();
  return more;
}

#define CARTRECOVERY_INCENTIVE_BUDGET(Db)                                                          \
  template void SqlStore<Db>::CountIncentiveDecision(const OfferRecord&);                        \
  template IncentiveHistory SqlStore<Db>::IncentiveCounts(Millis, const std::string&);           \
  template bool SqlStore<Db>::PruneIncentiveBudget(const std::vector<std::string>&, Millis, int);
CARTRECOVERY_INCENTIVE_BUDGET(SqliteDb)
CARTRECOVERY_INCENTIVE_BUDGET(PgDb)
#undef CARTRECOVERY_INCENTIVE_BUDGET

}  // namespace internal
}  // namespace cartrecovery
