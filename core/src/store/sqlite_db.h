// sqlite_db.h: a thin RAII layer over the SQLite C API: one connection, a cache of
// prepared statements, a busy handler that backs off in sub-millisecond steps, and
// errors turned into Error(kStorage) at this edge.
#ifndef CARTRECOVERY_SRC_STORE_SQLITE_DB_H_
#define CARTRECOVERY_SRC_STORE_SQLITE_DB_H_

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace cartrecovery {
namespace internal {

// A JSON array of the ids, for "IN (SELECT value FROM json_each(?))": one bound value per
// batch instead of one statement per row.
std::string JsonIds(const std::vector<std::string>& ids);

class SqliteDb;

// A prepared statement borrowed from the cache; reset when it goes out of scope.
class Stmt {
 public:
  Stmt(SqliteDb* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt(Stmt&& o) noexcept : db_(o.db_), stmt_(o.stmt_) { o.stmt_ = nullptr; }
  ~Stmt();

  // Binds by 1-based position; chainable.
  Stmt& Bind(int i, int64_t v);
  Stmt& Bind(int i, int v) { return Bind(i, static_cast<int64_t>(v)); }
  Stmt& Bind(int i, const std::string& v);
  Stmt& Bind(int i, const char* v) { return Bind(i, std::string(v)); }
  Stmt& BindNull(int i);
  Stmt& BindBlob(int i, const std::string& bytes);
  Stmt& Bind(int i, const std::optional<bool>& v);
  Stmt& Bind(int i, const std::optional<int64_t>& v);
  // A list of ids as a JSON array, for the SQL of SqliteStore::IdSet (json_each(?i)).
  Stmt& BindIds(int i, const std::vector<std::string>& ids) { return Bind(i, JsonIds(ids)); }

  // Steps once: true when a row is available.
  bool Step();
  // Runs to completion, ignoring rows.
  void Run();
  // A write whose outcome the caller does not read (PgStmt::Queue): here it runs at once.
  void Queue() { Run(); }

  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  bool IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::string Text(int col) const;  // a BLOB's bytes as they are
  std::optional<bool> OptBool(int col) const;

 private:
  SqliteDb* db_;
  sqlite3_stmt* stmt_;
};

class SqliteDb {
 public:
  // Opens (creating) the database; path ":memory:" for a private in-memory one.
  explicit SqliteDb(const std::string& path);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  Stmt Prepare(const std::string& sql);  // cached by its text
  void Exec(const std::string& sql);  // for DDL and PRAGMAs
  int64_t ChangedRows() const { return sqlite3_changes64(db_); }
  [[noreturn]] void Fail(int rc, const std::string& what) const;
  const std::string& path() const { return path_; }
  // An SQL function of `args` arguments, deterministic, for this connection's statements;
  // `user` reaches `fn` through sqlite3_user_data.
  void CreateFunction(const char* name, int args,
                      void (*fn)(sqlite3_context*, int, sqlite3_value**), void* user);
  // After fork() the inherited connection must be neither used nor closed (closing would
  // drop the parent's POSIX locks); Abandon() leaks it on purpose.
  void Abandon() { abandoned_ = true; }

  // The write-ahead log. OnCommit: after each commit through this connection, instead of
  // SQLite's automatic checkpoint (which copies the log into the file inside the commit
  // that reaches 1000 pages), `committed(log_pages)` is called on the committing thread,
  // the write lock already released. Empty: the automatic checkpoint again.
  void OnCommit(std::function<void(int64_t log_pages)> committed);
  // A checkpoint (SQLITE_CHECKPOINT_PASSIVE or _FULL): the log's length and how much of it
  // is now in the file. nullopt: another connection was checkpointing. PASSIVE copies what
  // it can without waiting for anyone and syncs the file when that was all of the log;
  // FULL first takes the write lock (waiting as the busy handler allows; when it cannot,
  // it copies as PASSIVE does), so no commit of any process comes in while it copies.
  struct LogProgress {
    int64_t log_pages = 0;
    int64_t copied_pages = 0;
    bool busy = false;  // SQLITE_BUSY with the counts: it stopped waiting (FULL, RESTART)
  };
  std::optional<LogProgress> Checkpoint(int mode);
  // How long a statement waits for another connection's lock before kStorage (default
  // kBusyTimeoutMs).
  void SetBusyTimeout(int ms) { busy_timeout_ms_ = ms; }
  // fsync of the database file (what checkpoints wrote into it so far), no lock taken.
  void SyncFile();

  // Busy waits: how long a writer waits for another process's lock before kStorage.
  static constexpr int kBusyTimeoutMs = 10000;

 private:
  static int BusyHandler(void* self, int count);
  static int WalHook(void* self, sqlite3* db, const char* name, int log_pages);
  // CARTRECOVERY_SQL_PROFILE (dev only): per statement text, how often it ran and the time
  // SQLite spent in it, printed to stderr when the connection closes (tests/bench/README.md).
  struct StatementCost {
    int64_t runs = 0;
    int64_t nanos = 0;
  };
  static int ProfileHook(unsigned type, void* self, void* stmt, void* nanos);
  void PrintProfile() const;

  std::string path_;
  sqlite3* db_ = nullptr;
  std::map<std::string, sqlite3_stmt*> cache_;
  std::chrono::steady_clock::time_point busy_since_;
  bool abandoned_ = false;
  int busy_timeout_ms_ = kBusyTimeoutMs;
  std::function<void(int64_t)> committed_;  // OnCommit
  std::map<std::string, StatementCost> profile_;  // empty unless profiling
  bool profiling_ = false;
};

}  // namespace internal
}  // namespace cartrecovery

#endif  // CARTRECOVERY_SRC_STORE_SQLITE_DB_H_
