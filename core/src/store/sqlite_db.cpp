#include "store/sqlite_db.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <utility>

#include "cartrecovery/status.h"

namespace cartrecovery {
namespace internal {

std::string JsonIds(const std::vector<std::string>& ids) {
  std::string out = "[";
  for (const auto& id : ids) {
    if (out.size() > 1) out += ',';
    out += '"';
    for (unsigned char c : id) {
      if (c == '"' || c == '\\') {
        out += '\\';
        out += static_cast<char>(c);
      } else if (c < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out += buf;
      } else {
        out += static_cast<char>(c);
      }
    }
    out += '"';
  }
  return out + "]";
}

Stmt::~Stmt() {
  if (stmt_) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

Stmt& Stmt::Bind(int i, int64_t v) {
  sqlite3_bind_int64(stmt_, i, v);
  return *this;
}

Stmt& Stmt::Bind(int i, const std::string& v) {
  sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}

Stmt& Stmt::BindBlob(int i, const std::string& bytes) {
  sqlite3_bind_blob(stmt_, i, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  return *this;
}

Stmt& Stmt::BindNull(int i) {
  sqlite3_bind_null(stmt_, i);
  return *this;
}

Stmt& Stmt::Bind(int i, const std::optional<bool>& v) {
  return v ? Bind(i, static_cast<int64_t>(*v)) : BindNull(i);
}

Stmt& Stmt::Bind(int i, const std::optional<int64_t>& v) { return v ? Bind(i, *v) : BindNull(i); }

bool Stmt::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  db_->Fail(rc, "step");
}

void Stmt::Run() {
  while (Step()) {
  }
}

std::string Stmt::Text(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(stmt_, col))
           : std::string();
}

std::optional<bool> Stmt::OptBool(int col) const {
  if (IsNull(col)) return std::nullopt;
  return Int(col) != 0;
}

SqliteDb::SqliteDb(const std::string& path) : path_(path) {
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    if (db_) sqlite3_close(db_);
    db_ = nullptr;
    throw Error(ErrorCode::kStorage, "cannot open store '" + path + "': " + msg);
  }
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_handler(db_, &SqliteDb::BusyHandler, this);
  const char* profile = std::getenv("CARTRECOVERY_SQL_PROFILE");
  if (profile && *profile && std::string(profile) != "0") {
    profiling_ = true;
    sqlite3_trace_v2(db_, SQLITE_TRACE_PROFILE, &SqliteDb::ProfileHook, this);
  }
}

void SqliteDb::CreateFunction(const char* name, int args,
                              void (*fn)(sqlite3_context*, int, sqlite3_value**), void* user) {
  const int rc = sqlite3_create_function_v2(db_, name, args, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                                            user, fn, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) Fail(rc, std::string("SQL function ") + name);
}

// The statement's text as written (placeholders, never bound values: no personal data).
int SqliteDb::ProfileHook(unsigned type, void* self, void* stmt, void* nanos) {
  if (type != SQLITE_TRACE_PROFILE) return 0;
  const char* sql = sqlite3_sql(static_cast<sqlite3_stmt*>(stmt));
  auto& cost = static_cast<SqliteDb*>(self)->profile_[sql ? sql : "?"];
  cost.runs += 1;
  cost.nanos += static_cast<int64_t>(*static_cast<sqlite3_uint64*>(nanos));
  return 0;
}

void SqliteDb::PrintProfile() const {
  std::vector<std::pair<std::string, StatementCost>> rows(profile_.begin(), profile_.end());
  std::sort(rows.begin(), rows.end(),
            [](const auto& a, const auto& b) { return a.second.nanos > b.second.nanos; });
  int64_t total = 0;
  for (const auto& r : rows) total += r.second.nanos;
  std::fprintf(stderr, "cartrecovery SQL profile of '%s': %.1f ms in %zu statements\n",
               path_.c_str(), total / 1e6, rows.size());
  std::fprintf(stderr, "%10s %10s %8s  %s\n", "runs", "ms", "us/run", "statement");
  for (const auto& [sql, cost] : rows) {
    std::string shown = sql.substr(0, 160);
    std::replace(shown.begin(), shown.end(), '\n', ' ');
    std::fprintf(stderr, "%10lld %10.2f %8.2f  %s\n", static_cast<long long>(cost.runs),
                 cost.nanos / 1e6, cost.nanos / 1e3 / std::max<int64_t>(1, cost.runs),
                 shown.c_str());
  }
}

SqliteDb::~SqliteDb() {
  if (abandoned_) return;
  if (profiling_) PrintProfile();
  for (auto& kv : cache_) sqlite3_finalize(kv.second);
  sqlite3_close(db_);
}

// SQLite's own busy handler (sqlite3_busy_timeout) sleeps in steps of up to 100 ms, which
// stalls a web request far longer than the lock is held. Back off from 50 us to 2 ms.
int SqliteDb::BusyHandler(void* self, int count) {
  auto* db = static_cast<SqliteDb*>(self);
  auto now = std::chrono::steady_clock::now();
  if (count == 0) db->busy_since_ = now;
  if (now - db->busy_since_ > std::chrono::milliseconds(db->busy_timeout_ms_)) return 0;
  int micros = std::min(2000, 50 << std::min(count, 6));
  std::this_thread::sleep_for(std::chrono::microseconds(micros));
  return 1;
}

void SqliteDb::OnCommit(std::function<void(int64_t log_pages)> committed) {
  committed_ = std::move(committed);
  if (committed_) sqlite3_wal_hook(db_, &SqliteDb::WalHook, this);
  else sqlite3_wal_autocheckpoint(db_, 1000);  // SQLite's default
}

int SqliteDb::WalHook(void* self, sqlite3*, const char*, int log_pages) {
  static_cast<SqliteDb*>(self)->committed_(log_pages);
  return SQLITE_OK;
}

std::optional<SqliteDb::LogProgress> SqliteDb::Checkpoint(int mode) {
  int log = -1, copied = -1;
  int rc = sqlite3_wal_checkpoint_v2(db_, "main", mode, &log, &copied);
  // Busy with the counts set: FULL or RESTART could not take the write lock in time, or a
  // reader kept it from copying everything or (RESTART) from ending; without them: another
  // checkpoint was running.
  if ((rc & 0xff) == SQLITE_BUSY) {
    if (log < 0) return std::nullopt;
  } else if (rc != SQLITE_OK) {
    Fail(rc, "checkpoint");
  }
  return LogProgress{log, copied, (rc & 0xff) == SQLITE_BUSY};
}

void SqliteDb::SyncFile() {
  // SQLite's own file object: a second descriptor of ours on the file, once closed, would
  // drop this process's POSIX locks on it.
  sqlite3_file* file = nullptr;
  int rc = sqlite3_file_control(db_, "main", SQLITE_FCNTL_FILE_POINTER, &file);
  if (rc == SQLITE_OK && file && file->pMethods) rc = file->pMethods->xSync(file, SQLITE_SYNC_NORMAL);
  if (rc != SQLITE_OK) Fail(rc, "sync");
}

Stmt SqliteDb::Prepare(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return Stmt(this, it->second);
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) Fail(rc, "prepare: " + sql);
  cache_.emplace(sql, stmt);
  return Stmt(this, stmt);
}

void SqliteDb::Exec(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    throw Error(ErrorCode::kStorage, "store '" + path_ + "': " + msg);
  }
}

void SqliteDb::Fail(int rc, const std::string& what) const {
  std::string msg = sqlite3_errmsg(db_);
  if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
    msg = "the store stayed locked by another process for " + std::to_string(kBusyTimeoutMs) +
          " ms (" + msg + ")";
  if ((rc & 0xff) == SQLITE_NOTADB) msg = "not a SQLite database (" + msg + ")";
  throw Error(ErrorCode::kStorage, "store '" + path_ + "': " + what + ": " + msg);
}

}  // namespace internal
}  // namespace cartrecovery
