// sql_store.h: the SQL the SQLite and the PostgreSQL store share, written once. SqlStore
// holds those statements and their row mapping; SqliteStore and PostgresStore derive from it
// and keep what truly differs between the dialects: migrations, transactions and locking,
// the job queue's claims (SKIP LOCKED) and lease renewals, coupon claims and bulk inserts,
// and the few expressions below (the hooks) that each spells its own way.
//
// Db is the connection wrapper (SqliteDb, PgDb). Both implement one statement interface:
//   Db::Prepare(sql)     a statement, cached by its text. Placeholders are ?1..?N: PgDb
//                        reads them as $1..$N (PgPlaceholders), so the text is the same.
//   Bind(i, v)           int64, string, optional<bool>, optional<int64> (nullopt: NULL);
//   BindNull(i)          1-based, chainable;
//   BindIds(i, ids)      a list of text ids, read in the SQL through IdSet(i).
//   Step()               true while a row is available (the first call executes); Run()
//                        executes and ignores rows; Queue() is Run() for a write whose
//                        changed rows nobody reads: PgDb may send it without waiting for
//                        its answer (pipeline mode), and its error surfaces by the next
//                        statement that waits, the end of a savepoint or the commit.
//   Int(c), Text(c), IsNull(c), OptBool(c)
//                        the current row's columns, 0-based; NULL reads as 0 and "".
//   Db::ChangedRows()    the rows the last statement inserted, updated or deleted.
// Errors surface as Error(kStorage) from the wrapper, as for the statements in the stores.
#ifndef CARTRECOVERY_SRC_STORE_SQL_STORE_H_
#define CARTRECOVERY_SRC_STORE_SQL_STORE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cartrecovery/store.h"

namespace cartrecovery {
namespace internal {

// The names in a column list "a, b, c", and its parameters "?1,?2,?3".
std::vector<std::string> ColumnNames(const std::string& columns);
std::string ParamsFor(const std::string& columns);
// Writes a whole row, parameters ?1..?N in the order of `columns`: a new key is inserted, an
// existing row is updated where it lies (its rowid or seq kept, the same SQL in both
// dialects), so only the indexes over columns whose values changed are written.
std::string UpsertRow(const char* table, const char* columns);

// The record step's row writes, by their text (Db::Prepare's key), one row each: the
// PostgreSQL store sends a transaction's queued rows of each kind as one statement
// (PgDb::WriteRowsTogether), with the same effect row by row.
extern const char kRecordOutcomeSql[];  // ?1 status ... ?6 message_id
extern const char kTouchContactSql[];   // ?1 last_message_ms, ?2 contact_key
extern const char kFinishJobSql[];      // ?1 job_id, ?2 attempt
extern const char kRetryJobSql[];       // ?1 due_ms, ?2 job_id, ?3 attempt
extern const char kJourneyColumns[];    // the journey row, in WriteJourney's order
// WriteJourney's statement: UpsertRow("journeys", kJourneyColumns).
const std::string& WriteJourneySql();

template <class Db>
class SqlStore : public Store {
 public:
  // Rows, one kind after the other, as store.h declares them.
  void AppendEvent(const Event& e, const std::string& json) override;
  std::vector<StoredEvent> ListEvents(Millis since, Millis until, int64_t after_id, int limit) override;
  std::optional<Cart> LoadCart(const std::string& cart_id) override;
  void SaveCart(const Cart& c) override;
  std::vector<std::string> CartsOfContact(const std::string& key) override;
  std::optional<Contact> LoadContact(const std::string& key) override;
  void SaveContact(const Contact& c) override;
  std::vector<std::string> ContactsWithPhone(const std::string& phone,
                                             const std::string& except_key) override;
  std::string ContactKeyForVisitor(const std::string& visitor_id) override;
  void LinkVisitor(const std::string& visitor_id, const std::string& key) override;
  std::optional<JourneyRecord> LoadJourney(const std::string& id) override;
  std::optional<JourneyRecord> RunningJourneyOfContact(const std::string& key) override;
  std::optional<JourneyRecord> LatestJourneyOfCart(const std::string& cart_id) override;
  void SaveJourney(const JourneyRecord& j) override;
  bool InsertMessage(const MessageRecord& m) override;
  std::optional<MessageRecord> LoadMessage(const std::string& id) override;
  void UpdateMessage(const MessageRecord& m) override;
  void SuppressUnsent(const std::string& journey_id, const std::string& reason) override;
  std::optional<MessageRecord> LastSentTo(const std::string& key, Millis since) override;
  ContactSends SendsTo(const std::string& key, Millis since) override;
  std::map<std::pair<std::string, std::string>, int64_t> PausedMessages() override;
  int64_t ResumePaused(Millis now) override;
  void SavePool(const CouponPool& p) override;
  std::optional<CouponPool> LoadPool(const std::string& name) override;
  std::optional<Coupon> LoadCoupon(const std::string& code) override;
  void MarkRedeemed(const std::string& code, const std::string& order_id, Millis at) override;
  int64_t FreeCoupons(const std::string& pool, Millis now) override;
  int64_t PruneCoupons(Millis now, Millis grace_ms) override;
  std::optional<OfferRecord> LatestOffer(const std::string& visitor_id,
                                         const std::string& contact_key) override;
  std::optional<OfferRecord> LastShownOffer(const std::string& visitor_id, const std::string& contact_key,
                                            Millis since, Millis until) override;
  void SaveOffer(const OfferRecord& o) override;
  IncentiveHistory IncentiveCounts(Millis since, const std::string& abandonment) override;
  std::optional<OfferRecord> StepIncentive(const std::string& key) override;
  Millis LastIncentiveTo(const std::string& contact_key) override;
  std::vector<VariantCounts> OfferVariants(const std::string& kind, Millis window_ms, Millis since,
                                           Millis until) override;
  std::string AssignVariant(const std::string& experiment, const std::string& contact_key,
                            const std::string& variant, const std::string& flow, Millis now) override;
  std::vector<VariantCounts> StepVariants(const std::string& experiment, Millis window_ms, Millis since,
                                          Millis until) override;
  void PauseFlow(const std::string& flow, const std::string& reason, Millis now) override;
  bool ResumeFlow(const std::string& flow, Millis now) override;
  std::map<std::string, FlowPause> FlowPauses() override;
  bool InsertOrder(const OrderRecord& o) override;
  void RecordWorkerRun(const std::string& worker_id, Millis now, int jobs_run) override;
  std::vector<MessageRecord> ListMessages(const MessageFilter& f) override;
  std::optional<Coupon> AssignedCoupon(const std::string& pool, const std::string& contact_key,
                                       Millis now) override;
  void LogConsent(const std::string& contact_key, const std::string& what, bool granted, Millis at_ms,
                  const std::string& source) override;
  // All but schema_version, which the dialect's migrations know.
  StoreStatus Status(Millis now) override;

  // The job queue (store.h draws it) but for ClaimDueJobs and RenewClaims, the dialects'.
  void ScheduleJob(const std::string& kind, const std::string& subject, Millis due_ms) override;
  void CancelJobs(const std::string& kind, const std::string& subject) override;
  bool FinishJob(int64_t job_id, int attempt) override;
  bool RetryJob(int64_t job_id, int attempt, Millis due_ms) override;
  void FinishJobAsync(int64_t job_id, int attempt) override;
  void RetryJobAsync(int64_t job_id, int attempt, Millis due_ms) override;
  bool ClaimIsCurrent(int64_t job_id, int attempt) override;
  std::optional<Millis> NextDueMs() override;

  // ---- The step pipeline's batch reads and narrow writes (issue 9; store.h) ----
  std::set<int64_t> CurrentClaims(const std::vector<std::pair<int64_t, int>>& claims) override;
  std::vector<JourneyRecord> LoadJourneys(const std::vector<std::string>& journey_ids) override;
  std::vector<Cart> LoadCarts(const std::vector<std::string>& cart_ids) override;
  std::vector<Contact> LoadContacts(const std::vector<std::string>& keys) override;
  std::vector<MessageRecord> LoadMessages(const std::vector<std::string>& message_ids) override;
  std::vector<MessageRecord> MessageStates(const std::vector<std::string>& journey_ids) override;
  std::set<std::string> StillSending(const std::vector<std::string>& message_ids) override;
  std::map<std::string, ContactSends> SendsToContacts(const std::vector<std::string>& keys,
                                                      Millis since) override;
  void RecordOutcome(const MessageRecord& m) override;
  void TouchContact(const std::string& key, Millis at) override;

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

  // ---- What the dialects spell differently ----
  // Each returns SQL text that depends on the dialect alone, never on the instance or the
  // data, so that a statement built from it may be kept for the life of the process
  // (except RowJson, which reads the schema).
  //
  // Writes a whole row, replacing the one with the same primary key (the first column) as
  // SQLite's INSERT OR REPLACE does: parameters ?1..?N in the order of `columns`.
  virtual std::string ReplaceRow(const char* table, const char* columns) const = 0;
  // Where SQLite breaks a tie in an ORDER BY by rowid, in the direction its plan reads the
  // rows, PostgreSQL orders by `seq` as given ("seq", "seq DESC"): ", seq DESC" or "".
  // Named with its table ("messages.seq") where SQLite's plan sorts: the tie is spelled out
  // in both (", messages.rowid" on SQLite).
  virtual std::string Then(const char* seq_order) const = 0;
  // `expr` ordered by its bytes, as SQLite's default collation does (PostgreSQL's follows
  // the database's locale).
  virtual std::string ByteOrder(const std::string& expr) const = 0;
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
  // `extra` members ("'name', expression, ..."; may be empty) after them; and the ORDER BY
  // (possibly "") that lists rows in the order they were written.
  virtual std::string RowJson(const char* table, const std::string& extra) = 0;
  virtual std::string WrittenOrder() const = 0;
  // After a person's rows were erased, or a prune batch went: give the space back where
  // the dialect keeps copies behind (SQLite's index pages and free list).
  virtual void AfterErase() {}
  virtual void AfterPrune(const RetentionWindows& w) { (void)w; }

  // The whole journey row, inserted or updated where it lies (one queued statement).
  void WriteJourney(const JourneyRecord& j);

  using Statement = decltype(std::declval<Db&>().Prepare(std::string()));
  // message_bodies' subject, text, html and dict_id as ?1, ?2, ?3 and ?5: here as they are
  // (dict_id NULL); the SQLite store packs text and html against m.body_dictionary
  // (body_codec.h), and both read them back through unpack_body(value, dict_id).
  virtual void BindBody(Statement& s, const MessageRecord& m) {
    s.Bind(1, m.subject).Bind(2, m.text).Bind(3, m.html).BindNull(5);
  }

  Db db_;

 private:

  // A message's subject, text and HTML in message_bodies (none: no row), by body_id.
  int64_t InsertBody(const MessageRecord& m);
  void DeleteBody(int64_t body_id);
  void UpdateBody(const MessageRecord& m);

  // The incentive budget's own rows (incentive_budget.cpp): a decision counted as it is
  // recorded (SaveOffer), and a prune batch's share (Prune; true: more are due).
  void CountIncentiveDecision(const OfferRecord& o);
  bool PruneIncentiveBudget(const std::vector<std::string>& offer_ids, Millis cut, int n);
  // What lead temperature (S9) reads of [?1, ?2): ev (who, browse) per event, cs (who,
  // checkout, carted) per shopper's carts alive then, buyers (who) who ordered then.
  std::string LeadInputs() const;
  // Before the events older than `cut` go (at most n, oldest first): each UTC day they
  // touch is summarised per shopper into lead_days, once, while all of that day's events
  // are still there.
  void KeepLeadDays(Millis cut, int n);
  // Shoppers' days that ended before `cut` (at most n rows) become counts per day in
  // lead_totals; true when the batch was full.
  bool CollapseLeadDays(Millis cut, int n);
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
