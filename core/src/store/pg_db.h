// pg_db.h: a thin RAII layer over libpq, the PostgreSQL twin of sqlite_db.h: one
// connection, statements prepared once per connection and cached by their text,
// parameters bound as text, and errors turned into Error(kStorage) at this edge with the
// URL's password scrubbed from every message. Inside a transaction, writes whose answer
// nobody reads (PgStmt::Queue) go in libpq's pipeline mode: sent at once, answered together
// with the next statement that waits or the commit, so a batch of reminders costs a few
// round trips instead of five per reminder (docs/POSTGRES.md, "CPU per reminder"). The
// queued rows of a write registered with WriteRowsTogether go further: held, then sent as
// one statement per kind carrying them all, so that the server executes a few statements
// per batch instead of one per row.
//
// libpq's header stays out of this one (its types are only declared), so that code which
// includes it needs no PostgreSQL include path.
#ifndef CARTRECOVERY_SRC_STORE_PG_DB_H_
#define CARTRECOVERY_SRC_STORE_PG_DB_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

struct pg_conn;
struct pg_result;

namespace cartrecovery {
namespace internal {

// A store URL taken apart: postgresql://user:password@host:port/db?schema=name&sslmode=...
struct PgUrl {
  std::string conninfo;  // what libpq gets: the URL without our own parameters
  std::string schema;    // ?schema=: created if missing and put first on search_path
  std::string shown;     // for messages: the URL without its password
  std::vector<std::string> secrets;  // the password as written and decoded
};
// Throws Error(kConfig) for a URL that cannot be a PostgreSQL store's.
PgUrl ParsePgUrl(const std::string& url);

// An array in PostgreSQL's text form: {"a","b\"c"}, for BindLiteral and $n::text[].
std::string PgArray(const std::vector<std::string>& items);
std::string PgArray(const std::vector<int64_t>& items);
// With NULL for a missing item: {"a",NULL}; any element type ($n::bigint[] reads "1").
std::string PgArray(const std::vector<std::optional<std::string>>& items);

// The SQL with SQLite's numbered placeholders ?1..?N written as PostgreSQL's $1..$N, so that
// a statement shared by both stores (sql_store.h) is written once. Quoted text and
// identifiers are left alone, and so is a `?` without a number (jsonb's operator).
std::string PgPlaceholders(const std::string& sql);

class PgDb;

// A single-row write whose queued rows go to the server together (PgDb::WriteRowsTogether):
// the backend then parses, plans, locks and starts its executor once per kind of write in a
// transaction instead of once per row (docs/POSTGRES.md, "Rows written together").
struct PgRowsWrite {
  // The same write over arrays: its $i is an array of the rows' values of the single-row
  // statement's $i, typed in the SQL ($i::bigint[]) and read with unnest(...). It must write
  // what the single-row statement writes, row by row, with the same WHERE (fences included).
  std::string rows_sql;
  // The table and the parameters (1-based) that name the row a write changes: two writes
  // of one row (in this kind or another of the same table) never share a statement, so
  // that PostgreSQL's one-source-row-per-target rule never drops one and order holds.
  std::string table;
  std::vector<int> key_params;
};

// A statement in the cache: prepared on the connection of generation `generation`.
//
// Prepared again, under a new name, after 64 runs, then 256, 1,024, ... (kFirstReplan, x4).
// The server plans a prepared statement once for all (its generic plan) from the table as
// it was: a table that started empty is scanned whole by that plan as it grows, until an
// ANALYZE happens to come. A store's messages table grew from nothing to 20,000 rows in one
// benchmark run, and every lookup of 128 messages read all of it (docs/POSTGRES.md).
struct PgPrepared {
  std::string sql;
  std::string name;
  uint64_t generation = 0;  // 0: not prepared on any connection yet
  const PgRowsWrite* rows = nullptr;  // queued rows go together (WriteRowsTogether)
  uint64_t runs = 0;                  // on this name
  uint64_t replan_at = 64;            // runs at which it is prepared again
};

// A cached statement with its own parameters and result; executed by the first Step() or
// Run(), after which rows are read one by one as with SQLite.
class PgStmt {
 public:
  PgStmt(PgDb* db, PgPrepared* prepared) : db_(db), prepared_(prepared) {}
  PgStmt(const PgStmt&) = delete;
  PgStmt& operator=(const PgStmt&) = delete;
  PgStmt(PgStmt&& o) noexcept;
  ~PgStmt();

  // Binds by 1-based position ($1, $2, ...); chainable. Integers travel as int8, strings
  // as text: the statement is prepared with the types of its first binding.
  PgStmt& Bind(int i, int64_t v);
  PgStmt& Bind(int i, int v) { return Bind(i, static_cast<int64_t>(v)); }
  PgStmt& Bind(int i, const std::string& v);
  PgStmt& Bind(int i, const char* v) { return Bind(i, std::string(v)); }
  PgStmt& BindNull(int i);
  // A value in PostgreSQL's text form whose type the statement gives ($1::text[]).
  PgStmt& BindLiteral(int i, const std::string& v);
  PgStmt& Bind(int i, const std::optional<bool>& v);
  PgStmt& Bind(int i, const std::optional<int64_t>& v);
  // A list of ids as an array, for the SQL of PostgresStore::IdSet (?i::text[]).
  PgStmt& BindIds(int i, const std::vector<std::string>& ids) { return BindLiteral(i, PgArray(ids)); }

  // Executes on the first call; true while a row is available.
  bool Step();
  // Executes, ignoring rows.
  void Run();
  // A write whose result and changed rows nobody reads: inside a transaction it is sent in
  // pipeline mode without waiting for the server's answer (PgDb::Sync), so that a batch's
  // row writes cost one round trip, not one each. Outside a transaction: Run().
  void Queue();

  int64_t Int(int col) const;
  bool IsNull(int col) const;
  std::string Text(int col) const;
  std::optional<bool> OptBool(int col) const;

 private:
  void Set(int i, std::optional<std::string> value, unsigned type);
  void Execute();
  // Sends this statement (and its PREPARE when new on the connection) into the pipeline.
  void Send();
  // Send() of a queued write, Sync first when the pipeline is full.
  void SendQueued();
  friend class PgDb;  // builds the statements of rows written together (FlushRows)

  PgDb* db_;
  PgPrepared* prepared_;
  std::vector<std::optional<std::string>> values_;
  std::vector<unsigned> types_;  // Oids
  pg_result* result_ = nullptr;
  int rows_ = 0;
  int row_ = -1;
  bool executed_ = false;
};

class PgDb {
 public:
  // Connects; Error(kConfig) for a bad URL, Error(kStorage) when the server cannot be
  // reached or refuses us.
  explicit PgDb(const std::string& url);
  // Closes the connection, except in a child of fork() or when abandoned: closing sends
  // a Terminate message down the socket the parent still uses.
  ~PgDb();
  PgDb(const PgDb&) = delete;
  PgDb& operator=(const PgDb&) = delete;

  // Cached by its text; ?N placeholders are read as $N (PgPlaceholders).
  PgStmt Prepare(const std::string& sql);
  // From now on the rows that PgStmt::Queue defers of the statement `sql` (its text as
  // given to Prepare) are held and go as one statement, `rows.rows_sql`, per transaction and
  // kind: sent before any other statement (a read, a write of another sort, a savepoint),
  // before Sync and Commit, or when a held row's key comes again or kMaxHeldRows are held;
  // the kinds in the order they were first held. Where a write is not deferred (outside a
  // transaction, inside a savepoint) the single-row statement runs as before.
  void WriteRowsTogether(const std::string& sql, PgRowsWrite rows);
  static constexpr size_t kMaxHeldRows = 1000;
  // The simple query protocol, for DDL, transaction control and several statements.
  void Exec(const std::string& sql);
  int64_t ChangedRows() const { return changed_; }

  // A write transaction. Nothing is sent yet: what it locks is decided by its first use.
  // LockKeys() first: it shares the store with other writers and serialises only with
  // those that lock one of the same keys. Any statement first: it holds the store-wide
  // writer lock (a transaction-level advisory lock per schema, exclusive) until it ends,
  // as every write did before keys existed and as SQLite's file lock does; what has not
  // said which rows it touches is safe that way. `synchronous` false: its COMMIT returns
  // without waiting for the server to flush it (synchronous_commit off for it alone); a
  // server crash may lose it until a later synchronous commit, which flushes it too.
  void Begin(bool synchronous = true);
  // Inside a transaction: locks `keys` (a contact key, "cart:<id>", ...) until it ends, as
  // row locks on the schema's key_locks rows of their 64-bit FNV-1a (a missing row is
  // inserted, which locks it as well), new keys in sorted order in one round trip (two
  // writers locking their batches never wait on each other in a cycle). Row locks live in
  // the rows, not in the server's shared lock table, so a batch may hold any number of
  // keys. Keys already held cost nothing. In the store-wide mode, or outside a
  // transaction: nothing. Returns true when it locked a key not held before (a row read
  // before may have changed meanwhile: read it again).
  bool LockKeys(const std::vector<std::string>& keys);
  // As the first use of a transaction: the store-wide lock if it is free now (no waiting,
  // so no queue forms behind it); false: busy, the transaction holds nothing.
  bool TryLockStore();
  // Keyed mode: the transaction shares the store (LockKeys was its first use).
  bool keyed() const { return mode_ == LockMode::kKeys; }
  // Store-wide mode: the transaction holds the store-wide lock exclusively.
  bool holds_store() const { return mode_ == LockMode::kStore && in_transaction_; }
  // A savepoint was rolled back: the locks taken inside it are gone with it.
  void ForgetKeyLocks() { held_.clear(); }
  // The last failure was a conflict with another transaction that a new attempt may not
  // meet (deadlock_detected 40P01, serialization_failure 40001).
  bool LastFailureWasConflict() const { return last_state_ == "40P01" || last_state_ == "40001"; }
  // The last failure was a lock taken with NOWAIT that another transaction holds (55P03).
  bool LastFailureWasBusy() const { return last_state_ == "55P03"; }
  // Throws Error(kStorage) when the server did not commit (it rolls back a transaction in
  // which a statement failed, and says so only in the command tag).
  void Commit();
  void Rollback() noexcept;
  bool in_transaction() const { return in_transaction_ || pending_; }
  // Sends the rows held (WriteRowsTogether), waits for the answers to the writes queued in
  // the pipeline (PgStmt::Queue) and leaves pipeline mode; throws Error(kStorage) for the
  // first that failed, naming it. Every statement that waits for its own answer, and
  // Commit, do this first.
  void Sync();
  // As many queued writes as the pipeline holds before Sync is forced: their answers wait
  // in the server's socket buffer meanwhile, and must not fill it.
  static constexpr size_t kPipelineDepth = 256;
  // After a failure: the rows held dropped, the pipeline's answers read and dropped,
  // pipeline mode left (what failed in it is the transaction's or savepoint's being undone;
  // nothing is held inside a savepoint: its SAVEPOINT sent what was).
  void DiscardPipeline() noexcept;
  // Whether PgStmt::Queue may defer a write now. The store allows it in a transaction's
  // own body, not inside a savepoint: there a job's write that fails must throw before the
  // job goes on (it may keep what it planned in memory), as it did one statement at a time.
  void AllowQueuedWrites(bool allow) { queue_writes_ = allow; }
  bool queued_writes_allowed() const { return queue_writes_; }

  const PgUrl& url() const { return url_; }
  // The schema the tables live in: ?schema= or the server's current_schema().
  const std::string& schema() const { return schema_; }
  void Abandon() { abandoned_ = true; }
  // Error(kStorage) naming the store and what failed, its password scrubbed; consumes r.
  [[noreturn]] void Fail(pg_result* r, const std::string& what);
  std::string Scrub(std::string text) const;

  // How long a writer waits for another process's transaction before kStorage, as with
  // SQLite's busy timeout.
  static constexpr int kLockTimeoutMs = 10000;

 private:
  friend class PgStmt;

  enum class LockMode { kNone, kKeys, kStore };
  void Connect();
  // Sends BEGIN with `lock_sql` (one round trip) for a transaction Begin() opened.
  // Returns the last statement's first value ("t" from a lock taken by pg_try_...).
  std::string Open(const std::string& lock_sql, LockMode mode);
  // Before a statement: a transaction still unopened takes the store-wide lock.
  void EnsureOpen();
  void SetUpSession();
  // Before talking to the server: refuses a connection inherited through fork(), and
  // reconnects one that was lost (only between transactions: a lost transaction is gone).
  void EnsureUsable();
  // A statement failed because the connection was lost outside a transaction: it may be
  // run again on a new one.
  bool Retryable() const;
  // Sync, keeping the answer of the last statement sent (the one the caller waits for) and
  // returning it; nullptr when it sent none (`with_last` false).
  pg_result* SyncPipeline(bool with_last, const std::string& last_what);

  // Rows of one WriteRowsTogether statement waiting to go (FlushRows).
  struct HeldRows {
    PgPrepared* prepared = nullptr;  // the single-row statement
    std::vector<unsigned> types;     // its parameter types, from its first row
    std::vector<std::vector<std::optional<std::string>>> rows;
  };
  // Holds a row for FlushRows; sends what is held first when this row's key is held.
  void HoldRow(PgPrepared* prepared, std::vector<std::optional<std::string>> values,
               const std::vector<unsigned>& types);
  // Sends the rows held into the pipeline: a statement per kind (the single-row one for one
  // row), in the order the kinds were first held.
  void FlushRows();
  // After a failure: the rows held are the undone transaction's.
  void DropHeldRows() noexcept;
  std::map<std::string, PgRowsWrite> rows_writes_;  // by the single-row statement's text
  std::vector<HeldRows> held_rows_;
  std::set<std::string> held_row_keys_;  // table and key of every row held
  size_t held_row_count_ = 0;

  // A statement sent in the pipeline whose answer is not read yet.
  struct Queued {
    std::string what;                // for the error message
    PgPrepared* prepared = nullptr;  // a PREPARE: not prepared after all if it failed
  };
  // Counts a run of `p`; when it is due to be planned again (PgPrepared), gives it a new
  // name to be prepared under and returns the old one, to be deallocated first ("" when
  // none is due or the old one was not prepared on this connection).
  std::string NextPlan(PgPrepared* p);
  std::vector<Queued> queued_;
  bool pipeline_ = false;  // in libpq's pipeline mode
  bool queue_writes_ = false;

  PgUrl url_;
  std::string schema_;
  int32_t lock_key_ = 0;
  pg_conn* conn_ = nullptr;
  pid_t pid_ = 0;
  uint64_t generation_ = 1;  // bumped on every reconnect: prepared statements are gone
  uint64_t next_name_ = 0;
  std::map<std::string, PgPrepared> cache_;
  int64_t changed_ = 0;
  bool in_transaction_ = false;  // BEGIN was sent
  bool pending_ = false;         // Begin() was called, BEGIN not sent yet
  bool synchronous_ = true;      // Begin()'s: whether its COMMIT waits for the flush
  LockMode mode_ = LockMode::kNone;
  std::set<int64_t> held_;       // key locks of this transaction (hashes)
  std::string last_state_;       // SQLSTATE of the last failure
  bool abandoned_ = false;
};

// The row of key_locks that LockKeys locks for `key` (its k).
int64_t KeyLockRow(const std::string& key);

}  // namespace internal
}  // namespace cartrecovery

#endif  // CARTRECOVERY_SRC_STORE_PG_DB_H_
