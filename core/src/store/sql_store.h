// sql_store.h: the SQL the SQLite and the PostgreSQL store share, written once. SqlStore
// holds those statements and their row mapping; SqliteStore and PostgresStore derive from it
// and keep what truly differs between the dialects: migrations, transactions and locking,
// job claims, upserts, and the few expressions below that each spells its own way.
//
// Db is the connection wrapper (SqliteDb, PgDb). Both implement one statement interface:
//   Db::Prepare(sql)     a statement, cached by its text. Placeholders are ?1..?N: PgDb
//                        reads them as $1..$N (PgPlaceholders), so the text is the same.
//   Bind(i, v)           int64, string, optional<bool>, optional<int64> (nullopt: NULL);
//   BindNull(i)          1-based, chainable;
//   BindIds(i, ids)      a list of text ids, read in the SQL through IdSet(i).
//   Step()               true while a row is available (the first call executes); Run()
//                        executes and ignores rows.
//   Int(c), Text(c), IsNull(c), OptBool(c)
//                        the current row's columns, 0-based; NULL reads as 0 and "".
//   Db::ChangedRows()    the rows the last statement inserted, updated or deleted.
// Errors surface as Error(kStorage) from the wrapper, as for the statements in the stores.
#ifndef CARTRECOVERY_SRC_STORE_SQL_STORE_H_
#define CARTRECOVERY_SRC_STORE_SQL_STORE_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "cartrecovery/store.h"

namespace cartrecovery {
namespace internal {

template <class Db>
class SqlStore : public Store {
 public:
  // Reports: live rows plus the day aggregates retention left of pruned ones.
  std::vector<ReportRow> Report(const ReportQuery& q) override;
  std::vector<FunnelRow> Funnel(Millis since, Millis until) override;
  LeadCounts Leads(Millis since, Millis until) override;

  // Retention (one batch per table, aggregated before it goes) and privacy.
  PruneCounts Prune(Millis now, const RetentionWindows& w, Millis attribution_ms) override;
  PersonKeys FindPerson(const std::string& email, const std::string& phone) override;
  std::vector<std::pair<std::string, std::string>> PersonRows(const PersonKeys& who) override;
  std::map<std::string, int64_t> ErasePerson(const PersonKeys& who,
                                             const std::string& anonymous) override;

 protected:
  // `where`: the file or URL the wrapper opens; it throws as the wrapper does.
  explicit SqlStore(const std::string& where) : db_(where) {}

  // ---- What the dialects spell differently (each returns SQL text) ----
  // The rows of the id list bound with BindIds(param), as a subquery body:
  // "x IN (" + IdSet(1, "text") + ")". `sql_type` is x's type: PostgreSQL compares only
  // like with like.
  virtual std::string IdSet(int param, const char* sql_type) const = 0;
  // The UTC day 'YYYY-MM-DD' of `ms`, an expression in milliseconds since the epoch.
  virtual std::string DayOf(const std::string& ms) const = 0;
  // A top-level field of the JSON text `json`, as text; NULL when it is missing.
  virtual std::string JsonField(const std::string& json, const char* field) const = 0;
  // A JSON object as text, from `members`: "'name', value, 'name', value, ...".
  virtual std::string JsonObject(const std::string& members) const = 0;
  // Whether the text `haystack` contains the text `needle`.
  virtual std::string Contains(const std::string& haystack, const std::string& needle) const = 0;
  // One row of `table` as JSON text with every column, whatever later migrations added, and
  // the ORDER BY (possibly "") that lists rows in the order they were written.
  virtual std::string RowJson(const char* table) = 0;
  virtual std::string WrittenOrder() const = 0;
  // After a person's rows were erased, or a prune batch went: give the space back where
  // the dialect keeps copies behind (SQLite's index pages and free list).
  virtual void AfterErase() {}
  virtual void AfterPrune(const RetentionWindows& w) { (void)w; }

  Db db_;

 private:
  // The person's lists as tables k, vis and c (contact keys, visitor ids, cart ids), to
  // start each statement about them.
  std::string PersonSets() const;
  // The person's events: of their carts or visitors, or naming their address or number.
  std::string EventsOfPerson() const;
  // Binds the person's lists and needles as PersonSets and the person tables read them.
  template <class S>
  void BindPerson(S& s, const PersonKeys& who);
};

}  // namespace internal
}  // namespace cartrecovery

#endif  // CARTRECOVERY_SRC_STORE_SQL_STORE_H_
