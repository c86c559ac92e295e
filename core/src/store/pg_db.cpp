#include "store/pg_db.h"

#include <libpq-fe.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstdio>
#include <cstring>

#include "cartrecovery/status.h"

namespace cartrecovery {
namespace internal {
namespace {

constexpr Oid kInt8Oid = 20;
constexpr Oid kTextOid = 25;
// 'CaRt', as SQLite files are marked: the first key of every advisory lock we take.
constexpr int32_t kLockClass = 0x43615274;

std::string PercentDecode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    size_t end = s.find(sep, start);
    parts.push_back(s.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) return parts;
    start = end + 1;
  }
}

std::string Join(const std::vector<std::string>& parts, char sep) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

// libpq's messages span lines ("...\n\tThis probably means..."); ours are one line.
std::string OneLine(const std::string& text) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

std::string Summary(const std::string& sql) {
  std::string s = OneLine(sql);
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

bool ValidSchemaName(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  if (!(std::islower(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  for (char c : s)
    if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) ||
          c == '_'))
      return false;
  return true;
}

int32_t Fnv1a(const std::string& s) {
  uint32_t h = 2166136261u;
  for (unsigned char c : s) {
    h ^= c;
    h *= 16777619u;
  }
  return static_cast<int32_t>(h);
}

bool Succeeded(const PGresult* r) {
  if (!r) return false;
  ExecStatusType st = PQresultStatus(r);
  return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY;
}

void DiscardNotice(void*, const char*) {}  // "schema ... already exists, skipping" etc.

// CARTRECOVERY_PG_COUNT=1: every round trip to the server counted by what it ran, written
// to stderr when the connection closes (a profile of statements per reminder, bench only).
struct RoundTrips {
  bool on = std::getenv("CARTRECOVERY_PG_COUNT") != nullptr;
  std::map<std::string, int64_t> by_kind;
  void Count(const std::string& what) {
    if (on) ++by_kind[what];
  }
  void Print() {
    if (!on || by_kind.empty()) return;
    int64_t total = 0;
    for (const auto& [what, n] : by_kind)
      if (what.rfind("queued: ", 0) != 0) total += n;  // sent in a pipeline: no round trip
    std::fprintf(stderr, "cartrecovery pg round trips (pid %d): %lld\n", static_cast<int>(getpid()),
                 static_cast<long long>(total));
    std::vector<std::pair<int64_t, std::string>> sorted;
    for (const auto& [what, n] : by_kind) sorted.emplace_back(-n, what);
    std::sort(sorted.begin(), sorted.end());
    for (const auto& [n, what] : sorted) std::fprintf(stderr, "  %8lld  %s\n", static_cast<long long>(-n), what.c_str());
    by_kind.clear();
  }
};
RoundTrips& Trips() {
  static RoundTrips trips;
  return trips;
}

}  // namespace

// 64 bits, so that two keys share a row (and their writers wait for each other for
// nothing) about once in 2^64 pairs, not 2^32.
int64_t KeyLockRow(const std::string& key) {
  uint64_t h = 14695981039346656037ull;  // FNV-1a
  for (unsigned char c : key) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return static_cast<int64_t>(h);
}

PgUrl ParsePgUrl(const std::string& url) {
  PgUrl out;
  const size_t sep = url.find("://");
  if (sep == std::string::npos)
    throw Error(ErrorCode::kConfig, "store: not a postgresql:// URL", "store");
  const std::string scheme = url.substr(0, sep);
  std::string rest = url.substr(sep + 3);
  // As libpq reads it: user information runs to the first '@' seen before any '/'.
  std::string userinfo;
  const size_t at = rest.find_first_of("@/");
  if (at != std::string::npos && rest[at] == '@') {
    userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
  }
  std::string user = userinfo;
  bool has_password = false;
  if (size_t colon = userinfo.find(':'); colon != std::string::npos) {
    user = userinfo.substr(0, colon);
    const std::string password = userinfo.substr(colon + 1);
    has_password = true;
    out.secrets.push_back(password);
    out.secrets.push_back(PercentDecode(password));
  }
  std::string query;
  if (size_t q = rest.find('?'); q != std::string::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  std::vector<std::string> for_libpq, shown;
  if (!query.empty()) {
    for (const auto& part : Split(query, '&')) {
      const size_t eq = part.find('=');
      const std::string key = part.substr(0, eq);
      const std::string value = eq == std::string::npos ? "" : part.substr(eq + 1);
      if (key == "schema") {
        out.schema = PercentDecode(value);
        if (!ValidSchemaName(out.schema))
          throw Error(ErrorCode::kConfig,
                      "store: schema '" + out.schema +
                          "' must be lower-case letters, digits and _ (at most 63, not starting "
                          "with a digit)",
                      "store");
        shown.push_back(part);
        continue;
      }
      if (key == "password") {
        out.secrets.push_back(value);
        out.secrets.push_back(PercentDecode(value));
        for_libpq.push_back(part);
        shown.push_back("password=***");
        continue;
      }
      for_libpq.push_back(part);
      shown.push_back(part);
    }
  }
  std::vector<std::string> secrets;
  for (auto& s : out.secrets)
    if (!s.empty()) secrets.push_back(s);
  out.secrets = secrets;
  out.conninfo = scheme + "://" + (userinfo.empty() ? "" : userinfo + "@") + rest +
                 (for_libpq.empty() ? "" : "?" + Join(for_libpq, '&'));
  out.shown = scheme + "://" + (userinfo.empty() ? "" : user + (has_password ? ":***" : "") + "@") +
              rest + (shown.empty() ? "" : "?" + Join(shown, '&'));
  return out;
}

std::string PgArray(const std::vector<std::string>& items) {
  std::string out = "{";
  for (const auto& item : items) {
    if (out.size() > 1) out += ',';
    out += '"';
    for (char c : item) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

std::string PgArray(const std::vector<int64_t>& items) {
  std::string out = "{";
  for (int64_t item : items) out += (out.size() > 1 ? "," : "") + std::to_string(item);
  return out + "}";
}

std::string PgArray(const std::vector<std::optional<std::string>>& items) {
  size_t size = 2;
  for (const auto& item : items) size += (item ? item->size() + 3 : 5);
  std::string out;
  out.reserve(size + size / 16);
  out += '{';
  for (const auto& item : items) {
    if (out.size() > 1) out += ',';
    if (!item) {
      out += "NULL";  // unquoted: the SQL NULL ("NULL" quoted is the text)
      continue;
    }
    out += '"';
    // Copied a stretch at a time: a message body is kilobytes with few quotes.
    size_t from = 0;
    for (size_t at; (at = item->find_first_of("\"\\", from)) != std::string::npos; from = at + 1) {
      out.append(*item, from, at - from);
      out += '\\';
      out += (*item)[at];
    }
    out.append(*item, from, std::string::npos);
    out += '"';
  }
  return out + "}";
}

std::string PgPlaceholders(const std::string& sql) {
  std::string out;
  out.reserve(sql.size());
  char quote = 0;  // ' or " while inside quoted text or a quoted identifier
  for (size_t i = 0; i < sql.size(); ++i) {
    const char ch = sql[i];
    if (quote) {
      if (ch == quote) quote = 0;  // a doubled quote closes and reopens: same result
    } else if (ch == '\'' || ch == '"') {
      quote = ch;
    } else if (ch == '?' && i + 1 < sql.size() && std::isdigit(static_cast<unsigned char>(sql[i + 1]))) {
      out += '$';
      continue;
    }
    out += ch;
  }
  return out;
}

// ---- PgStmt ----------------------------------------------------------------------------

PgStmt::PgStmt(PgStmt&& o) noexcept
    : db_(o.db_),
      prepared_(o.prepared_),
      values_(std::move(o.values_)),
      types_(std::move(o.types_)),
      result_(o.result_),
      rows_(o.rows_),
      row_(o.row_),
      executed_(o.executed_) {
  o.result_ = nullptr;
}

PgStmt::~PgStmt() {
  if (result_) PQclear(result_);  // client memory only: safe in any process
}

void PgStmt::Set(int i, std::optional<std::string> value, unsigned type) {
  if (value && value->find('\0') != std::string::npos)
    throw Error(ErrorCode::kStorage,
                db_->Scrub("store '" + db_->url().shown +
                           "': PostgreSQL text cannot hold a NUL character (parameter $" +
                           std::to_string(i) + " of: " + Summary(prepared_->sql) + ")"));
  const size_t n = static_cast<size_t>(i);
  if (values_.size() < n) {
    values_.resize(n);
    types_.resize(n, 0);
  }
  values_[n - 1] = std::move(value);
  types_[n - 1] = type;
}

PgStmt& PgStmt::Bind(int i, int64_t v) {
  Set(i, std::to_string(v), kInt8Oid);
  return *this;
}

PgStmt& PgStmt::Bind(int i, const std::string& v) {
  Set(i, v, kTextOid);
  return *this;
}

PgStmt& PgStmt::BindLiteral(int i, const std::string& v) {
  Set(i, v, 0);
  return *this;
}

PgStmt& PgStmt::BindNull(int i) {
  Set(i, std::nullopt, 0);  // the server infers the type from the statement
  return *this;
}

PgStmt& PgStmt::Bind(int i, const std::optional<bool>& v) {
  return v ? Bind(i, static_cast<int64_t>(*v)) : BindNull(i);
}

PgStmt& PgStmt::Bind(int i, const std::optional<int64_t>& v) { return v ? Bind(i, *v) : BindNull(i); }

void PgStmt::Send() {
  PGconn* conn = db_->conn_;
  if (!db_->pipeline_) {
    if (PQenterPipelineMode(conn) != 1) db_->Fail(nullptr, "pipeline mode");
    db_->pipeline_ = true;
  }
  const int n = static_cast<int>(values_.size());
  const std::string stale = db_->NextPlan(prepared_);
  if (!stale.empty()) {
    if (PQsendQueryParams(conn, ("DEALLOCATE " + stale).c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0) != 1)
      db_->Fail(nullptr, "deallocate: " + Summary(prepared_->sql));
    db_->queued_.push_back({"deallocate: " + Summary(prepared_->sql), nullptr});
  }
  if (prepared_->generation != db_->generation_) {
    if (PQsendPrepare(conn, prepared_->name.c_str(), prepared_->sql.c_str(), n, types_.data()) != 1)
      db_->Fail(nullptr, "prepare: " + Summary(prepared_->sql));
    db_->queued_.push_back({"prepare: " + Summary(prepared_->sql), prepared_});
    prepared_->generation = db_->generation_;  // undone by Sync if it failed
  }
  std::vector<const char*> values(values_.size());
  for (size_t i = 0; i < values_.size(); ++i) values[i] = values_[i] ? values_[i]->c_str() : nullptr;
  if (PQsendQueryPrepared(conn, prepared_->name.c_str(), n, values.data(), nullptr, nullptr, 0) != 1)
    db_->Fail(nullptr, Summary(prepared_->sql));
  db_->queued_.push_back({Summary(prepared_->sql), nullptr});
}

void PgStmt::SendQueued() {
  if (db_->queued_.size() >= PgDb::kPipelineDepth) db_->Sync();
  Trips().Count("queued: " + Summary(prepared_->sql));
  Send();
}

void PgStmt::Queue() {
  db_->EnsureOpen();
  if (!db_->in_transaction_ || !db_->queue_writes_ || executed_) return Run();
  db_->EnsureUsable();
  executed_ = true;
  rows_ = 0;
  db_->changed_ = 0;  // not known: a queued write's caller does not ask
  if (prepared_->rows) return db_->HoldRow(prepared_, std::move(values_), types_);  // done with them
  db_->FlushRows();  // the rows held before it go before it
  SendQueued();
}

void PgStmt::Execute() {
  // Outside a transaction a statement is a read (store.h): when the connection turns out
  // to be lost (an idle timeout, a server restart), it is reconnected and run once more.
  db_->EnsureOpen();
  db_->FlushRows();  // it may read or write a held row: they go first
  if (db_->pipeline_) {
    // The writes queued before it and this statement go in one round trip.
    db_->EnsureUsable();
    Send();
    result_ = db_->SyncPipeline(true, Summary(prepared_->sql));
    executed_ = true;
    rows_ = PQntuples(result_);
    db_->changed_ = std::atoll(PQcmdTuples(result_));
    return;
  }
  for (int attempt = 0;; ++attempt) {
    db_->EnsureUsable();
    PGconn* conn = db_->conn_;
    const int n = static_cast<int>(values_.size());
    PGresult* r = nullptr;
    if (attempt == 0) {
      const std::string stale = db_->NextPlan(prepared_);
      if (!stale.empty()) {
        Trips().Count("deallocate: " + Summary(prepared_->sql));
        // NextPlan names only what this connection prepared: it is there to go.
        PQclear(PQexec(conn, ("DEALLOCATE " + stale).c_str()));
      }
    }
    if (prepared_->generation != db_->generation_) {
      Trips().Count("prepare: " + Summary(prepared_->sql));
      r = PQprepare(conn, prepared_->name.c_str(), prepared_->sql.c_str(), n, types_.data());
      if (Succeeded(r)) {
        PQclear(r);
        r = nullptr;
        prepared_->generation = db_->generation_;
      }
    }
    if (!r) {
      std::vector<const char*> values(values_.size());
      for (size_t i = 0; i < values_.size(); ++i) values[i] = values_[i] ? values_[i]->c_str() : nullptr;
      Trips().Count(Summary(prepared_->sql));
      r = PQexecPrepared(conn, prepared_->name.c_str(), n, values.data(), nullptr, nullptr, 0);
    }
    if (Succeeded(r)) {
      result_ = r;
      break;
    }
    if (attempt == 0 && db_->Retryable()) {
      PQclear(r);
      continue;
    }
    db_->Fail(r, (prepared_->generation != db_->generation_ ? "prepare: " : "") + Summary(prepared_->sql));
  }
  executed_ = true;
  rows_ = PQntuples(result_);
  db_->changed_ = std::atoll(PQcmdTuples(result_));
}

bool PgStmt::Step() {
  if (!executed_) Execute();
  if (row_ + 1 < rows_) {
    ++row_;
    return true;
  }
  row_ = rows_;
  return false;
}

void PgStmt::Run() {
  if (!executed_) Execute();
}

bool PgStmt::IsNull(int col) const { return PQgetisnull(result_, row_, col) != 0; }

int64_t PgStmt::Int(int col) const {
  if (IsNull(col)) return 0;  // as sqlite3_column_int64 reads NULL
  const char* v = PQgetvalue(result_, row_, col);
  if (v[0] == 't') return 1;  // a boolean column
  if (v[0] == 'f') return 0;
  return std::strtoll(v, nullptr, 10);
}

std::string PgStmt::Text(int col) const {
  if (IsNull(col)) return std::string();
  return std::string(PQgetvalue(result_, row_, col),
                     static_cast<size_t>(PQgetlength(result_, row_, col)));
}

std::optional<bool> PgStmt::OptBool(int col) const {
  if (IsNull(col)) return std::nullopt;
  return Int(col) != 0;
}

// ---- PgDb ------------------------------------------------------------------------------

PgDb::PgDb(const std::string& url) : url_(ParsePgUrl(url)), pid_(getpid()) { Connect(); }

PgDb::~PgDb() {
  if (getpid() == pid_) Trips().Print();
  if (!conn_ || abandoned_ || getpid() != pid_) return;  // leaked on purpose (see the header)
  PQfinish(conn_);
}

void PgDb::Connect() {
  // Reject a malformed URL before touching the network, as a configuration error.
  char* err = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(url_.conninfo.c_str(), &err);
  if (!parsed) {
    std::string msg = err ? OneLine(err) : "cannot parse the URL";
    if (err) PQfreemem(err);
    throw Error(ErrorCode::kConfig, Scrub("store: '" + url_.shown + "': " + msg), "store");
  }
  PQconninfoFree(parsed);
  // Entries before dbname are defaults the URL may override; entries after it win.
  const std::string app = url_.schema.empty() ? "cartrecovery" : "cartrecovery/" + url_.schema;
  const char* keys[] = {"connect_timeout", "application_name", "dbname", "client_encoding", nullptr};
  const char* values[] = {"10", app.c_str(), url_.conninfo.c_str(), "UTF8", nullptr};
  conn_ = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (!conn_) throw Error(ErrorCode::kStorage, "store '" + url_.shown + "': cannot connect: out of memory");
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string msg = OneLine(PQerrorMessage(conn_));
    PQfinish(conn_);  // ours, in this process, never used: nothing to protect
    conn_ = nullptr;
    throw Error(ErrorCode::kStorage, Scrub("store '" + url_.shown + "': cannot connect: " + msg));
  }
  PQsetNoticeProcessor(conn_, &DiscardNotice, nullptr);
  try {
    SetUpSession();
  } catch (...) {
    PQfinish(conn_);  // the constructor fails: no destructor will close it
    conn_ = nullptr;
    throw;
  }
}

void PgDb::SetUpSession() {
  std::string sql = "SET lock_timeout = " + std::to_string(kLockTimeoutMs);
  // A validated name (ParsePgUrl): safe in the SQL text. Created on first migration.
  if (!url_.schema.empty()) sql += "; SET search_path TO " + url_.schema;
  PGresult* r = PQexec(conn_, sql.c_str());
  if (!Succeeded(r)) Fail(r, "session setup");
  PQclear(r);
  if (!url_.schema.empty()) {
    schema_ = url_.schema;
  } else {
    r = PQexec(conn_, "SELECT coalesce(current_schema(), '')");
    if (!Succeeded(r)) Fail(r, "session setup");
    schema_ = PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "";
    PQclear(r);
  }
  lock_key_ = Fnv1a(schema_);
}

void PgDb::EnsureUsable() {
  if (getpid() != pid_)
    throw Error(ErrorCode::kStorage,
                "store '" + url_.shown + "': this connection was opened by process " +
                    std::to_string(pid_) + " before fork(); a child must open its own store");
  if (PQstatus(conn_) == CONNECTION_OK || in_transaction_) return;
  // Lost between transactions (server restart, idle timeout): reconnect with the same
  // parameters; the statements prepared on the old connection are gone with it.
  PQreset(conn_);
  if (PQstatus(conn_) != CONNECTION_OK)
    throw Error(ErrorCode::kStorage, Scrub("store '" + url_.shown + "': lost the connection and cannot reconnect: " +
                                           OneLine(PQerrorMessage(conn_))));
  ++generation_;
  SetUpSession();
}

std::string PgDb::NextPlan(PgPrepared* p) {
  if (++p->runs < p->replan_at) return "";
  p->runs = 0;
  p->replan_at *= 4;
  std::string stale = p->generation == generation_ ? p->name : "";
  p->name = "cr" + std::to_string(++next_name_);
  p->generation = 0;  // prepared anew under its new name, planned from the table as it is now
  return stale;
}

PgStmt PgDb::Prepare(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    PgPrepared p;
    p.sql = PgPlaceholders(sql);
    p.name = "cr" + std::to_string(++next_name_);
    it = cache_.emplace(sql, std::move(p)).first;
  }
  return PgStmt(this, &it->second);
}

void PgDb::WriteRowsTogether(const std::string& sql, PgRowsWrite rows) {
  const PgRowsWrite* kept = &(rows_writes_[sql] = std::move(rows));
  Prepare(sql);  // its cache entry
  cache_.at(sql).rows = kept;
}

void PgDb::HoldRow(PgPrepared* prepared, std::vector<std::optional<std::string>> values,
                   const std::vector<unsigned>& types) {
  std::vector<std::string> keys;
  for (int param : prepared->rows->key_params) {
    const size_t i = static_cast<size_t>(param - 1);
    std::string key = prepared->rows->table + '\n';
    if (i < values.size() && values[i]) key += "v" + *values[i];  // "v": not NULL
    keys.push_back(std::move(key));
  }
  for (const auto& key : keys) {
    if (held_row_keys_.count(key)) {
      FlushRows();  // the same row again: the first write goes first, in its own statement
      break;
    }
  }
  held_row_keys_.insert(keys.begin(), keys.end());
  auto it = std::find_if(held_rows_.begin(), held_rows_.end(),
                         [&](const HeldRows& h) { return h.prepared == prepared; });
  if (it == held_rows_.end()) {
    held_rows_.push_back({prepared, types, {}});
    it = held_rows_.end() - 1;
  }
  it->rows.push_back(std::move(values));
  if (++held_row_count_ >= kMaxHeldRows) FlushRows();
}

void PgDb::FlushRows() {
  if (held_rows_.empty()) return;
  // Taken first: a Sync while sending (a full pipeline) must not send them again.
  std::vector<HeldRows> held;
  held.swap(held_rows_);
  held_row_keys_.clear();
  held_row_count_ = 0;
  for (auto& h : held) {
    if (h.rows.size() == 1) {
      PgStmt s(this, h.prepared);
      s.values_ = std::move(h.rows[0]);
      s.types_ = h.types;
      s.SendQueued();
      continue;
    }
    PgStmt s = Prepare(h.prepared->rows->rows_sql);
    size_t params = 0;
    for (const auto& row : h.rows) params = std::max(params, row.size());
    std::vector<std::optional<std::string>> column(h.rows.size());
    for (size_t p = 0; p < params; ++p) {
      for (size_t r = 0; r < h.rows.size(); ++r)
        column[r] = p < h.rows[r].size() ? std::move(h.rows[r][p]) : std::nullopt;
      s.BindLiteral(static_cast<int>(p + 1), PgArray(column));
    }
    s.SendQueued();
  }
}

void PgDb::DropHeldRows() noexcept {
  held_rows_.clear();
  held_row_keys_.clear();
  held_row_count_ = 0;
}

void PgDb::Exec(const std::string& sql) {
  EnsureOpen();
  EnsureUsable();
  Sync();
  Trips().Count(Summary(sql));
  PGresult* r = PQexec(conn_, sql.c_str());
  if (!Succeeded(r)) Fail(r, Summary(sql));
  changed_ = std::atoll(PQcmdTuples(r));
  PQclear(r);
}

void PgDb::Begin(bool synchronous) {
  DiscardPipeline();
  EnsureUsable();
  if (PQtransactionStatus(conn_) != PQTRANS_IDLE) PQclear(PQexec(conn_, "ROLLBACK"));
  pending_ = true;
  synchronous_ = synchronous;
  mode_ = LockMode::kNone;
  held_.clear();
  last_state_.clear();
}

std::string PgDb::Open(const std::string& lock_sql, LockMode mode) {
  pending_ = false;
  // SET LOCAL ends with the transaction; it travels with BEGIN, in the same round trip.
  const std::string sql =
      std::string("BEGIN; ") + (synchronous_ ? "" : "SET LOCAL synchronous_commit TO off; ") + lock_sql;
  Trips().Count(mode == LockMode::kKeys ? "BEGIN; lock store shared (+ keys)" : "BEGIN; lock store");
  PGresult* r = PQexec(conn_, sql.c_str());
  if (!Succeeded(r) && Retryable()) {
    // Lost while idle: nothing of this transaction happened yet, so begin it afresh.
    PQclear(r);
    EnsureUsable();
    r = PQexec(conn_, sql.c_str());
  }
  if (!Succeeded(r)) {
    if (PQstatus(conn_) == CONNECTION_OK && PQtransactionStatus(conn_) != PQTRANS_IDLE)
      PQclear(PQexec(conn_, "ROLLBACK"));
    Fail(r, "begin");
  }
  std::string value = PQntuples(r) > 0 && PQnfields(r) > 0 ? PQgetvalue(r, 0, 0) : "";
  PQclear(r);
  in_transaction_ = true;
  mode_ = mode;
  return value;
}

bool PgDb::TryLockStore() {
  if (!pending_) return mode_ == LockMode::kStore;
  EnsureUsable();
  const bool got = Open("SELECT pg_try_advisory_xact_lock(" + std::to_string(kLockClass) + ", " +
                            std::to_string(lock_key_) + ")",
                        LockMode::kStore) == "t";
  if (!got) mode_ = LockMode::kNone;  // holds nothing: statements would be unprotected
  return got;
}

void PgDb::EnsureOpen() {
  if (!pending_) return;
  EnsureUsable();
  Open("SELECT pg_advisory_xact_lock(" + std::to_string(kLockClass) + ", " + std::to_string(lock_key_) + ")",
       LockMode::kStore);
}

bool PgDb::LockKeys(const std::vector<std::string>& keys) {
  if (!pending_ && mode_ != LockMode::kKeys) return false;  // no transaction, or it holds the store
  std::vector<int64_t> fresh;
  for (const auto& key : keys) {
    if (key.empty()) continue;  // no such row: nobody to wait for
    const int64_t h = KeyLockRow(key);
    if (!held_.count(h)) fresh.push_back(h);
  }
  std::sort(fresh.begin(), fresh.end());
  fresh.erase(std::unique(fresh.begin(), fresh.end()), fresh.end());
  std::string sql;
  if (!fresh.empty()) {
    // One statement takes each key's row in the sorted array's order: inserted when missing
    // (a second inserter of the same key waits for the first to end, as for a lock), locked
    // FOR UPDATE when present (DO UPDATE locks the row before its WHERE, which then changes
    // nothing). Every writer climbs the same ladder, so batches that overlap queue instead
    // of deadlocking; separate INSERT and SELECT ... FOR UPDATE statements would take the
    // new keys before the old ones, out of order. Row locks are kept in the rows, not in
    // the server's shared lock table (max_locks_per_transaction), which a batch's ~1,000
    // advisory locks per worker used to fill. Integers only: nothing of the keys reaches
    // the SQL text.
    std::string list;
    for (int64_t h : fresh) list += (list.empty() ? "" : ",") + std::to_string(h);
    sql = "INSERT INTO key_locks(k) SELECT unnest('{" + list +
          "}'::int8[]) ON CONFLICT (k) DO UPDATE SET k = excluded.k WHERE false";
  }
  if (pending_) {
    // The store-wide lock, shared: writers by key pass each other, a store-wide writer
    // (migrations, staff pausing a flow, retention) waits for them all and they for it.
    EnsureUsable();
    Open("SELECT pg_advisory_xact_lock_shared(" + std::to_string(kLockClass) + ", " +
             std::to_string(lock_key_) + ")" + (sql.empty() ? "" : "; " + sql),
         LockMode::kKeys);
  } else if (!sql.empty()) {
    Sync();
    Trips().Count("lock keys");
    PGresult* r = PQexec(conn_, sql.c_str());
    if (!Succeeded(r)) Fail(r, "lock keys");
    PQclear(r);
  }
  held_.insert(fresh.begin(), fresh.end());
  return !fresh.empty();
}

bool PgDb::Retryable() const { return !in_transaction_ && PQstatus(conn_) == CONNECTION_BAD; }

void PgDb::Commit() {
  mode_ = LockMode::kNone;
  held_.clear();
  if (pending_) {  // nothing was sent: nothing to commit
    pending_ = false;
    return;
  }
  FlushRows();  // before the commit, in its round trip
  in_transaction_ = false;  // over, whatever the outcome
  PGresult* r = nullptr;
  if (pipeline_) {
    // After the queued writes, in the same round trip; a write that failed is the error.
    if (PQsendQueryParams(conn_, "COMMIT", 0, nullptr, nullptr, nullptr, nullptr, 0) != 1) Fail(nullptr, "commit");
    queued_.push_back({"commit", nullptr});
    r = SyncPipeline(true, "COMMIT");
  } else {
    Trips().Count("COMMIT");
    r = PQexec(conn_, "COMMIT");
  }
  if (!Succeeded(r))
    Fail(r, PQstatus(conn_) == CONNECTION_BAD ? "commit (whether it took effect is unknown)" : "commit");
  const bool committed = std::strcmp(PQcmdStatus(r), "COMMIT") == 0;
  PQclear(r);
  if (!committed)
    throw Error(ErrorCode::kStorage, "store '" + url_.shown +
                                         "': commit: the server rolled the transaction back "
                                         "because a statement in it had failed");
}

void PgDb::Rollback() noexcept {
  DiscardPipeline();
  in_transaction_ = false;
  pending_ = false;
  mode_ = LockMode::kNone;
  held_.clear();
  if (!conn_ || getpid() != pid_ || PQstatus(conn_) != CONNECTION_OK) return;
  if (PQtransactionStatus(conn_) == PQTRANS_IDLE) return;
  PQclear(PQexec(conn_, "ROLLBACK"));
}

void PgDb::Sync() {
  FlushRows();
  if (PGresult* r = SyncPipeline(false, "")) PQclear(r);
}

PGresult* PgDb::SyncPipeline(bool with_last, const std::string& last_what) {
  if (!pipeline_) return nullptr;
  Trips().Count(with_last ? "pipeline sync with: " + last_what : "pipeline sync");
  std::vector<Queued> queued;
  queued.swap(queued_);
  PGresult* failed = nullptr;
  std::string failed_what;
  PGresult* last = nullptr;
  bool lost = PQpipelineSync(conn_) != 1;
  for (size_t i = 0; i < queued.size() && !lost; ++i) {
    PGresult* r = PQgetResult(conn_);
    if (!r) {  // no answer where one is due: the connection is gone
      lost = true;
      break;
    }
    const bool ok = Succeeded(r);
    if (!ok && queued[i].prepared) queued[i].prepared->generation = 0;  // to be prepared again
    if (!ok && !failed) {
      failed = r;  // the first failure; what follows it was skipped by the server
      failed_what = queued[i].what;
      r = nullptr;
    } else if (ok && with_last && i + 1 == queued.size()) {
      last = r;
      r = nullptr;
    }
    if (r) PQclear(r);
    // Each statement's answers end with a null result.
    for (int extra = 0; extra < 4; ++extra) {
      PGresult* end = PQgetResult(conn_);
      if (!end) break;
      PQclear(end);
    }
  }
  if (!lost) {
    PGresult* sync = PQgetResult(conn_);
    lost = !sync || PQresultStatus(sync) != PGRES_PIPELINE_SYNC;
    if (sync) PQclear(sync);
  }
  if (!lost && PQexitPipelineMode(conn_) == 1) {
    pipeline_ = false;
  } else {
    // Not in a state to go on: this connection's transaction is lost with it (the caller
    // rolls back), and the next transaction starts on a new one.
    for (auto& q : queued)
      if (q.prepared) q.prepared->generation = 0;
    if (last) PQclear(last);
    if (failed) PQclear(failed);
    const std::string msg = OneLine(PQerrorMessage(conn_));
    PQreset(conn_);
    pipeline_ = false;
    ++generation_;
    in_transaction_ = false;
    if (PQstatus(conn_) == CONNECTION_OK) {
      try {
        SetUpSession();
      } catch (...) {
      }
    }
    last_state_.clear();
    throw Error(ErrorCode::kStorage, Scrub("store '" + url_.shown + "': pipelined writes: lost the answers (" +
                                           msg + "); the transaction was rolled back"));
  }
  if (failed) {
    if (last) PQclear(last);
    Fail(failed, failed_what);
  }
  if (with_last && !last) Fail(nullptr, last_what);
  return last;
}

void PgDb::DiscardPipeline() noexcept {
  DropHeldRows();
  if (!pipeline_ || !conn_ || getpid() != pid_) return;
  try {
    Sync();
  } catch (...) {
    // The failure is the transaction's, which is being undone.
  }
}

std::string PgDb::Scrub(std::string text) const {
  for (const auto& secret : url_.secrets) {
    for (size_t pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos + 3))
      text.replace(pos, secret.size(), "***");
  }
  return text;
}

void PgDb::Fail(pg_result* r, const std::string& what) {
  std::string state, msg;
  if (r) {
    if (const char* s = PQresultErrorField(r, PG_DIAG_SQLSTATE)) state = s;
    if (const char* p = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY)) msg = p;
    PQclear(r);
  }
  last_state_ = state;
  if (msg.empty() && conn_) msg = PQerrorMessage(conn_);
  msg = OneLine(msg);
  if (conn_ && PQstatus(conn_) == CONNECTION_BAD)
    msg = "lost the connection to the server (" + msg + "); the next call reconnects";
  else if (state == "55P03")
    msg = "the store stayed locked by another process for " + std::to_string(kLockTimeoutMs) +
          " ms (" + msg + ")";
  else if (!state.empty())
    msg += " [SQLSTATE " + state + "]";
  throw Error(ErrorCode::kStorage, Scrub("store '" + url_.shown + "': " + what + ": " + msg));
}

}  // namespace internal
}  // namespace cartrecovery
