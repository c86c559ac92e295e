// store_tests: the Store contract (store.h) on both backends, SQLite and PostgreSQL: schema
// marking, migrations and refusal of foreign or newer stores, Write() transactions and
// savepoints, the job lifecycle with leases and fencing, exactly-one messages, what several
// processes and crashes do to one store, and that both backends answer alike for the same
// data. PostgreSQL is the server at CARTRECOVERY_TEST_PG (default
// postgresql://postgres@127.0.0.1:5432/test); every case gets a schema of its own, dropped
// afterwards.
#include <libpq-fe.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <ostream>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cartrecovery/status.h"
#include "cartrecovery/store.h"
#include "store/body_codec.h"
#include "store/pg_db.h"
#include "store/postgres_store.h"
#include "store/sqlite_store.h"

#include "test_util.h"

using namespace cartrecovery;
namespace bdata = boost::unit_test::data;

namespace {

namespace fs = std::filesystem;

using testing::TempDir;
using testing::WaitChild;

// A plain sqlite3 connection, independent of the store, to look at the file from outside.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                        nullptr) != SQLITE_OK)
      throw std::runtime_error("cannot open " + path);
    sqlite3_busy_timeout(db_, 10000);
  }
  ~RawDb() { sqlite3_close(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  void Exec(const std::string& sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : "?";
      sqlite3_free(err);
      throw std::runtime_error(sql + ": " + msg);
    }
  }
  int64_t Int(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) != SQLITE_OK)
      throw std::runtime_error(sql + ": " + sqlite3_errmsg(db_));
    int64_t v = -1;
    if (sqlite3_step(s) == SQLITE_ROW) v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
  }
  std::vector<std::string> Column(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) != SQLITE_OK)
      throw std::runtime_error(sql + ": " + sqlite3_errmsg(db_));
    std::vector<std::string> out;
    while (sqlite3_step(s) == SQLITE_ROW) {
      const unsigned char* t = sqlite3_column_text(s, 0);
      out.push_back(t ? reinterpret_cast<const char*>(t) : "");
    }
    sqlite3_finalize(s);
    return out;
  }

 private:
  sqlite3* db_ = nullptr;
};

std::string PgBaseUrl() {
  const char* url = getenv("CARTRECOVERY_TEST_PG");
  return url && *url ? url : "postgresql://postgres@127.0.0.1:5432/test";
}

std::string WithQuery(const std::string& url, const std::string& param) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + param;
}

// A plain libpq connection, independent of the store, to look at the database from outside;
// `schema` (if any) first on its search_path.
class RawPg {
 public:
  explicit RawPg(const std::string& schema = "") {
    conn_ = PQconnectdb(PgBaseUrl().c_str());
    if (PQstatus(conn_) != CONNECTION_OK) {
      std::string msg = PQerrorMessage(conn_);
      PQfinish(conn_);
      throw std::runtime_error(
          "PostgreSQL for the tests (CARTRECOVERY_TEST_PG, default "
          "postgresql://postgres@127.0.0.1:5432/test) is not reachable: " + msg);
    }
    Exec("SET client_min_messages = warning");
    if (!schema.empty()) Exec("SET search_path TO " + schema);
  }
  ~RawPg() { PQfinish(conn_); }
  RawPg(const RawPg&) = delete;
  RawPg& operator=(const RawPg&) = delete;

  void Exec(const std::string& sql) { PQclear(Run(sql)); }
  int64_t Int(const std::string& sql) {
    PGresult* r = Run(sql);
    int64_t v = PQntuples(r) > 0 && !PQgetisnull(r, 0, 0) ? std::stoll(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);
    return v;
  }
  std::vector<std::string> Column(const std::string& sql) {
    PGresult* r = Run(sql);
    std::vector<std::string> out;
    for (int i = 0; i < PQntuples(r); ++i) out.push_back(PQgetvalue(r, i, 0));
    PQclear(r);
    return out;
  }

 private:
  PGresult* Run(const std::string& sql) {
    PGresult* r = PQexec(conn_, sql.c_str());
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      std::string msg = PQresultErrorMessage(r);
      PQclear(r);
      throw std::runtime_error(sql + ": " + msg);
    }
    return r;
  }
  PGconn* conn_ = nullptr;
};

enum class Backend { kSqlite, kPostgres };
std::ostream& operator<<(std::ostream& out, Backend b) {
  return out << (b == Backend::kSqlite ? "sqlite" : "postgresql");
}
const Backend kBothBackends[] = {Backend::kSqlite, Backend::kPostgres};

std::string NewSchemaName() {
  std::random_device rd;
  std::mt19937_64 rng((static_cast<uint64_t>(rd()) << 32) ^ rd() ^ static_cast<uint64_t>(getpid()));
  char buf[32];
  snprintf(buf, sizeof(buf), "t_cpp_%012llx", static_cast<unsigned long long>(rng() & 0xffffffffffffULL));
  return buf;
}

// Where one test case's store lives: a SQLite file in a fresh directory, or a fresh schema of
// the test database (dropped at the end; stores must be closed first, so declare this first).
class TestStore {
 public:
  explicit TestStore(Backend backend) : backend_(backend) {
    if (backend == Backend::kSqlite) {
      path_ = dir_.File("store.db");
      url_ = "sqlite:///" + path_;
    } else {
      schema_ = NewSchemaName();
      url_ = WithQuery(PgBaseUrl(), "schema=" + schema_);
    }
  }
  ~TestStore() {
    if (backend_ != Backend::kPostgres) return;
    try {
      RawPg().Exec("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
    } catch (const std::exception& e) {
      BOOST_TEST_MESSAGE("cannot drop schema " << schema_ << ": " << e.what());
    }
  }
  TestStore(const TestStore&) = delete;
  TestStore& operator=(const TestStore&) = delete;

  Backend backend() const { return backend_; }
  bool postgres() const { return backend_ == Backend::kPostgres; }
  const std::string& url() const { return url_; }
  const std::string& schema() const { return schema_; }
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return dir_.File(name); }

  int64_t Int(const std::string& sql) const {
    if (postgres()) return RawPg(schema_).Int(sql);
    return RawDb(path_).Int(sql);
  }
  void Exec(const std::string& sql) const {
    if (postgres()) RawPg(schema_).Exec(sql);
    else RawDb(path_).Exec(sql);
  }
  int64_t CountJobs(const std::string& where = "true") const {
    return Int("SELECT count(*) FROM jobs WHERE " + where);
  }
  // The number of this backend's first migration whose SQL holds `text`; -1 if none does.
  int MigrationWith(const std::string& text) const {
    const int n = postgres() ? internal::PostgresSchemaVersion() : internal::SqliteSchemaVersion();
    for (int i = 0; i < n; ++i) {
      const std::string m = postgres() ? internal::PostgresMigration(i) : internal::SqliteMigration(i);
      if (m.find(text) != std::string::npos) return i;
    }
    return -1;
  }

 private:
  Backend backend_;
  TempDir dir_;  // also for files the test writes (logs of child processes)
  std::string path_, schema_, url_;
};

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Runs fn, which must throw cartrecovery::Error; returns it (anything else fails the test).
Error ExpectError(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e;
  } catch (const std::exception& e) {
    BOOST_FAIL("expected cartrecovery::Error, got std::exception: " << e.what());
  }
  BOOST_FAIL("expected cartrecovery::Error, nothing was thrown");
  throw std::logic_error("unreachable");
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}


bool ExitedOk(int status) { return status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0; }

MessageRecord Msg(const std::string& id, const std::string& journey, const std::string& status) {
  MessageRecord m;
  m.message_id = id;
  m.journey_id = journey;
  m.cart_id = "cart-" + journey;
  m.contact_key = "e:" + journey + "@example.com";
  m.flow = "cart-recovery";
  m.path = "visitor";
  m.step = 1;
  m.channel = "email";
  m.status = ParseMessageStatus(status).value();
  m.to = journey + "@example.com";
  m.subject = "Your cart";
  m.due_ms = 1000;
  m.created_ms = 1000;
  return m;
}

int64_t CountJobs(const std::string& path, const std::string& where = "1") {
  RawDb raw(path);
  return raw.Int("SELECT count(*) FROM jobs WHERE " + where);
}

// Forks `n` children that each run fn(i) and exit 0 when it returns true; they start
// together (they wait on a pipe the parent closes). Returns how many exited cleanly.
int RunChildren(int n, const std::function<bool(int)>& fn) {
  int gate[2];
  if (pipe(gate) != 0) throw std::runtime_error("pipe failed");
  std::vector<pid_t> pids;
  for (int i = 0; i < n; ++i) {
    pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
      close(gate[1]);
      char c;
      while (read(gate[0], &c, 1) > 0) {
      }
      int rc = 1;
      try {
        rc = fn(i) ? 0 : 2;
      } catch (const std::exception& e) {
        fprintf(stderr, "child %d: %s\n", i, e.what());
        rc = 3;
      } catch (...) {
        rc = 4;
      }
      _exit(rc);
    }
    pids.push_back(pid);
  }
  close(gate[0]);
  close(gate[1]);  // go
  int ok = 0;
  for (pid_t pid : pids) ok += ExitedOk(WaitChild(pid)) ? 1 : 0;
  return ok;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(store_tests)

// ---- schema --------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(new_file_is_marked_with_version_and_application_id) {
  TempDir dir;
  const std::string path = dir.File("new.db");
  { auto store = OpenStore("sqlite:///" + path); }
  RawDb raw(path);
  BOOST_TEST(raw.Int("PRAGMA user_version") == internal::SqliteSchemaVersion());
  BOOST_TEST(internal::SqliteSchemaVersion() >= 1);
  BOOST_TEST(raw.Int("PRAGMA application_id") == 0x43615274);
  BOOST_TEST(raw.Int("SELECT count(*) FROM sqlite_master WHERE name = 'jobs'") == 1);
}

BOOST_DATA_TEST_CASE(reopening_an_existing_store_keeps_its_data, bdata::make(kBothBackends), backend) {
  TestStore ts(backend);
  {
    auto store = OpenStore(ts.url());
    store->Write([&] {
      Cart c;
      c.cart_id = "c1";
      c.currency = "EUR";
      c.items.push_back(LineItem{"sku-1", "Mug", 1250, 2, "", ""});
      c.created_ms = c.last_activity_ms = 42;
      store->SaveCart(c);
      store->ScheduleJob("abandon", "c1", 5000);
    });
  }
  auto store = OpenStore(ts.url());
  auto cart = store->LoadCart("c1");
  BOOST_REQUIRE(cart.has_value());
  BOOST_TEST(cart->items.size() == 1u);
  BOOST_TEST(cart->items[0].price_minor == 1250);
  BOOST_TEST(cart->last_activity_ms == 42);
  BOOST_TEST(store->NextDueMs().value_or(-1) == 5000);
  BOOST_TEST(store->Status(0).schema_version == internal::SqliteSchemaVersion());
}

// A version-1 file (jobs keyed by a plain rowid) is migrated in place and keeps its jobs.
BOOST_AUTO_TEST_CASE(an_older_file_is_migrated_and_keeps_its_jobs) {
  TempDir dir;
  const std::string path = dir.File("v1.db");
  {
    RawDb raw(path);
    raw.Exec(internal::SqliteMigration(0));  // the file exactly as version 1 wrote it
    raw.Exec(
        "INSERT INTO jobs VALUES(7, 'step', 'j7', 100, 'claimed', 900, 2);"
        "INSERT INTO jobs VALUES(3, 'abandon', 'c3', 50, 'pending', 0, 0);"
        "PRAGMA application_id = 1130451572; PRAGMA user_version = 1;");
  }
  BOOST_REQUIRE(internal::SqliteSchemaVersion() >= 2);
  auto store = OpenStore(path);
  BOOST_TEST(store->ClaimIsCurrent(7, 2));
  BOOST_TEST(store->NextDueMs().value_or(-1) == 50);
  RawDb raw(path);
  BOOST_TEST(raw.Int("PRAGMA user_version") == internal::SqliteSchemaVersion());
  // A new job never takes a number that was ever handed out.
  store->Write([&] {
    bool finished = store->FinishJob(7, 2);
    BOOST_TEST(finished);
    store->ScheduleJob("step", "new", 10);
  });
  BOOST_TEST(raw.Int("SELECT job_id FROM jobs WHERE subject = 'new'") > 7);
}

BOOST_AUTO_TEST_CASE(a_file_from_a_newer_version_is_refused) {
  TempDir dir;
  const std::string path = dir.File("newer.db");
  { auto store = OpenStore(path); }
  {
    RawDb raw(path);
    raw.Exec("PRAGMA user_version = " + std::to_string(internal::SqliteSchemaVersion() + 1));
  }
  Error e = ExpectError([&] { OpenStore(path); });
  BOOST_TEST((e.code() == ErrorCode::kStorage));
  BOOST_TEST(Contains(e.what(), "newer"), e.what());
  // Refusing did not downgrade the mark.
  RawDb raw(path);
  BOOST_TEST(raw.Int("PRAGMA user_version") == internal::SqliteSchemaVersion() + 1);
}

BOOST_AUTO_TEST_CASE(another_applications_database_is_refused_and_left_untouched) {
  TempDir dir;
  const std::string path = dir.File("foreign.db");
  {
    RawDb raw(path);
    raw.Exec("PRAGMA application_id = 1234");
    raw.Exec("CREATE TABLE invoices(id INTEGER PRIMARY KEY, total INTEGER)");
    raw.Exec("INSERT INTO invoices(total) VALUES (10), (20), (30)");
  }
  const std::string before = ReadBytes(path);
  BOOST_REQUIRE(!before.empty());
  Error e = ExpectError([&] { OpenStore("sqlite:///" + path); });
  BOOST_TEST((e.code() == ErrorCode::kStorage));
  BOOST_TEST(Contains(e.what(), "not a cartrecovery store"), e.what());
  BOOST_TEST((ReadBytes(path) == before));
  BOOST_TEST(!fs::exists(path + "-wal"));  // not even switched to WAL

  // The same with no application_id at all (the common case: a plain SQLite file).
  const std::string plain = dir.File("plain.db");
  {
    RawDb raw(plain);
    raw.Exec("CREATE TABLE t(x)");
  }
  const std::string plain_before = ReadBytes(plain);
  BOOST_TEST((ExpectError([&] { OpenStore(plain); }).code() == ErrorCode::kStorage));
  BOOST_TEST((ReadBytes(plain) == plain_before));
}

BOOST_AUTO_TEST_CASE(a_file_that_is_not_sqlite_is_refused_not_a_crash) {
  TempDir dir;
  const std::string path = dir.File("random.db");
  std::mt19937 rng(7);
  std::string bytes(8192, '\0');
  for (auto& b : bytes) b = static_cast<char>(rng() & 0xff);
  WriteBytes(path, bytes);
  Error e = ExpectError([&] { OpenStore(path); });
  BOOST_TEST((e.code() == ErrorCode::kStorage));
  BOOST_TEST(Contains(e.what(), "not"), e.what());
  BOOST_TEST((ReadBytes(path) == bytes));

  const std::string text = dir.File("notes.txt");
  WriteBytes(text, "just some notes, not a database at all\n");
  BOOST_TEST((ExpectError([&] { OpenStore(text); }).code() == ErrorCode::kStorage));
}

BOOST_AUTO_TEST_CASE(an_unknown_scheme_is_a_config_error) {
  for (const char* url : {"mysql://root:hunter2@db/shop", "redis://cache/0", "://x"}) {
    Error e = ExpectError([&] { OpenStore(url); });
    BOOST_TEST((e.code() == ErrorCode::kConfig), url);
    BOOST_TEST(!Contains(e.what(), "hunter2"), e.what());
  }
}

// ---- Write() -------------------------------------------------------------------------------

BOOST_DATA_TEST_CASE(cart_event_counters_are_saved_read_back_and_pruned, bdata::make(kBothBackends),
                     backend) {
  TestStore ts(backend);
  auto store = OpenStore(ts.url());
  store->Write([&] {
    auto none = store->LockCartEventCounts({"a", "b"});
    for (const auto& [cart, c] : none) BOOST_TEST(c.events == 0, cart);  // new rows read as none
    store->SaveCartEventCounts({{"a", {1000, 3, 2}}, {"b", {5 * kDay, 1, 0}}});
  });
  std::map<std::string, CartEventCount> back;
  store->Write([&] { back = store->LockCartEventCounts({"a", "b", "c"}); });
  BOOST_TEST(back["a"].window_start_ms == 1000);
  BOOST_TEST(back["a"].events == 3);
  BOOST_TEST(back["a"].refused == 2);
  BOOST_TEST(back["b"].events == 1);
  BOOST_TEST(back["c"].events == 0);
  BOOST_TEST(store->Status(0).events_refused == 2);
  // Retention drops the counters whose window opened before the oldest event kept.
  RetentionWindows w;
  w.events_ms = 2 * kDay;
  store->Write([&] { store->Prune(4 * kDay, w, kDay); });
  store->Write([&] { back = store->LockCartEventCounts({"a", "b"}); });
  BOOST_TEST(back["a"].events == 0);
  BOOST_TEST(back["b"].events == 1);
  BOOST_TEST(store->Status(0).events_refused == 0);
}

BOOST_DATA_TEST_CASE(write_commits_on_return, bdata::make(kBothBackends), backend) {
  TestStore ts(backend);
  auto store = OpenStore(ts.url());
  store->Write([&] { store->ScheduleJob("abandon", "c1", 100); });
  // Another connection sees it: it was committed, not just written into our transaction.
  BOOST_TEST(ts.CountJobs() == 1);
  auto other = OpenStore(ts.url());
  BOOST_TEST(other->NextDueMs().value_or(-1) == 100);
}

BOOST_DATA_TEST_CASE(write_rolls_back_everything_on_throw, bdata::make(kBothBackends), backend) {
  TestStore ts(backend);
  auto store = OpenStore(ts.url());
  BOOST_CHECK_THROW(store->Write([&] {
    store->ScheduleJob("abandon", "c1", 100);
    Cart c;
    c.cart_id = "c1";
    store->SaveCart(c);
    BOOST_TEST(store->LoadCart("c1").has_value());  // visible inside the transaction
    throw std::runtime_error("boom");
  }),
                    std::runtime_error);
  BOOST_TEST(!store->LoadCart("c1").has_value());
  BOOST_TEST(!store->NextDueMs().has_value());
  BOOST_TEST(ts.CountJobs() == 0);
  // The store is usable afterwards (no transaction left open).
  store->Write([&] { store->ScheduleJob("abandon", "c2", 200); });
  BOOST_TEST(ts.CountJobs() == 1);
}

BOOST_DATA_TEST_CASE(nested_write_is_a_savepoint, bdata::make(kBothBackends), backend) {
  TestStore ts(backend);
  auto store = OpenStore(ts.url());
  store->Write([&] {
    store->ScheduleJob("step", "outer-before", 1);
    try {
      store->Write([&] {
        store->ScheduleJob("step", "inner-doomed", 2);
        throw Error(ErrorCode::kInvalidArgument, "inner fails");
      });
      BOOST_FAIL("the inner exception must reach the caller");
    } catch (const Error& e) {
      BOOST_TEST((e.code() == ErrorCode::kInvalidArgument));
    }
    store->Write([&] { store->ScheduleJob("step", "inner-kept", 3); });
    store->ScheduleJob("step", "outer-after", 4);
  });
  BOOST_TEST(ts.CountJobs() == 3);
  BOOST_TEST(ts.CountJobs("subject = 'inner-doomed'") == 0);
  BOOST_TEST(ts.CountJobs("subject IN ('outer-before', 'inner-kept', 'outer-after')") == 3);

  // After nesting, a top-level Write is a real transaction again: its throw undoes it all.
  BOOST_CHECK_THROW(store->Write([&] {
    store->ScheduleJob("step", "later", 5);
    store->Write([&] { store->ScheduleJob("step", "later-inner", 6); });
    throw std::runtime_error("outer fails");
  }),
                    std::runtime_error);
  BOOST_TEST(ts.CountJobs() == 3);
}

// WriteUnsynced commits as Write does: another connection sees it on return, a throw undoes
// it, and a Write inside it is a savepoint (what is unsynced is only when the commit is flushed).
BOOST_DATA_TEST_CASE(write_unsynced_commits_and_rolls_back_as_write_does, bdata::make(kBothBackends), backend) {
  TestStore ts(backend);
  auto store = OpenStore(ts.url());
  store->WriteUnsynced([&] {
    store->ScheduleJob("step", "kept", 1);
    BOOST_CHECK_THROW(store->Write([&] {
      store->ScheduleJob("step", "doomed", 2);
      throw std::runtime_error("inner fails");
    }),
                      std::runtime_error);
  });
  BOOST_TEST(ts.CountJobs() == 1);
  BOOST_TEST(ts.CountJobs("subject = 'kept'") == 1);
  BOOST_CHECK_THROW(store->WriteUnsynced([&] {
    store->ScheduleJob("step", "undone", 3);
    throw std::runtime_error("boom");
  }),
                    std::runtime_error);
  BOOST_TEST(ts.CountJobs() == 1);
  store->Write([&] { store->ScheduleJob("step", "after", 4); });
  BOOST_TEST(ts.CountJobs() == 2);
}

// On PostgreSQL an unsynced transaction's COMMIT returns without waiting for the server to
// flush its log (synchronous_commit off for that transaction alone, sent with its BEGIN);
// the next one waits again.
BOOST_AUTO_TEST_CASE(pg_an_unsynced_transaction_does_not_wait_for_the_flush_and_the_next_does) {
  TestStore ts(Backend::kPostgres);
  OpenStore(ts.url());  // the schema and its tables
  internal::PgDb db(ts.url());
  auto setting = [&] {
    auto s = db.Prepare("SELECT current_setting('synchronous_commit')");
    BOOST_REQUIRE(s.Step());
    return s.Text(0);
  };
  db.Begin(false);
  BOOST_TEST(setting() == "off");
  db.Commit();
  db.Begin();
  BOOST_TEST(setting() == "on");
  db.Commit();
  BOOST_TEST(setting() == "on");  // outside a transaction: the server's default
}

// A prepared statement is planned once for all from the table as it then was: on a table
// that started small that plan scans the whole table however large it grows. PgDb prepares
// a statement again after 64 runs, then 256, 1,024, ..., so that the plan follows the table
// (before, a store's messages table was scanned whole by every lookup of a benchmark run).
BOOST_AUTO_TEST_CASE(pg_a_statement_prepared_on_a_small_table_is_planned_again_as_it_grows) {
  TestStore ts(Backend::kPostgres);
  OpenStore(ts.url());  // the schema
  internal::PgDb db(ts.url());
  // A page, known to be one (autovacuum analyses a new table soon): scanning it is cheaper
  // than probing the index, and so is the plan.
  db.Exec("CREATE TABLE grows(id TEXT PRIMARY KEY, state TEXT NOT NULL);"
          " INSERT INTO grows SELECT 'k' || g, 'sent' FROM generate_series(100001, 100020) g;"
          " ANALYZE grows");
  auto look = [&] {
    auto s = db.Prepare("SELECT id FROM grows WHERE state = 'sending' AND id = ANY(?1::text[])");
    s.BindIds(1, {"k7", "k70", "k700"});
    int n = 0;
    while (s.Step()) ++n;
    return n;
  };
  for (int i = 0; i < 20; ++i) BOOST_TEST(look() == 0);  // its plan: the small table, scanned
  db.Exec("INSERT INTO grows SELECT 'k' || g, CASE WHEN g = 70 THEN 'sending' ELSE 'sent' END"
          " FROM generate_series(1, 50000) g");  // no ANALYZE: nothing tells the plan
  const auto scans = [&] {
    db.Exec("SELECT pg_stat_force_next_flush()");  // this session's counts, for the next look
    return ts.Int("SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'grows' AND schemaname = '" +
                  ts.schema() + "'");
  };
  const int64_t before = scans();
  for (int i = 0; i < 300; ++i) BOOST_TEST(look() == 1);
  // Planned again at the 64th run: the 44 runs up to it and the first few after scan.
  BOOST_TEST(scans() - before < 100);
}

// ---- jobs ----------------------------------------------------------------------------------

BOOST_DATA_TEST_CASE(schedule_job_keeps_one_job_per_kind_and_subject, bdata::make(kBothBackends), backend) {
  TestStore ts(backend);
  auto store = OpenStore(ts.url());
  store->Write([&] {
    store->ScheduleJob("step", "j1", 500);
    store->ScheduleJob("step", "j1", 200);  // moves it
    store->ScheduleJob("abandon", "j1", 300);  // another kind: another job
  });
  BOOST_TEST(store->Status(0).jobs_pending == 2);
  std::vector<JobRecord> jobs;
  store->Write([&] { jobs = store->ClaimDueJobs(1000, 10, 60000); });
  BOOST_REQUIRE(jobs.size() == 2u);
  BOOST_TEST(jobs[0].kind == "step");
  BOOST_TEST(jobs[0].subject == "j1");
  BOOST_TEST(jobs[0].due_ms == 200);
  BOOST_TEST(jobs[1].kind == "abandon");
  BOOST_TEST(jobs[1].due_ms == 300);
}

BOOST_DATA_TEST_CASE(claim_takes_only_due_jobs_oldest_first_and_bumps_the_attempt, bdata::make(kBothBackends), backend) {
  TestStore ts(backend);
  auto store = OpenStore(ts.url());
  store->Write([&] {
    store->ScheduleJob("step", "a", 300);
    store->ScheduleJob("step", "b", 100);
    store->ScheduleJob("step", "c", 200);
    store->ScheduleJob("step", "future", 5000);
  });
  std::vector<JobRecord> first, second, third;
  store->Write([&] { first = store->ClaimDueJobs(1000, 2, 60000); });
  BOOST_REQUIRE(first.size() == 2u);  // the limit picks the two most overdue
  BOOST_TEST(first[0].subject == "b");
  BOOST_TEST(first[1].subject == "c");
  for (const auto& j : first) BOOST_TEST(j.attempt == 1);
  store->Write([&] { second = store->ClaimDueJobs(1000, 10, 60000); });
  BOOST_REQUIRE(second.size() == 1u);
  BOOST_TEST(second[0].subject == "a");
  BOOST_TEST(second[0].attempt == 1);
  store->Write([&] { third = store->ClaimDueJobs(1000, 10, 60000); });
  BOOST_TEST(third.empty());  // nothing due is left; "future" is not due
  BOOST_TEST(store->ClaimIsCurrent(first[0].job_id, 1));
}

// The batch's claim check (CurrentClaims, one statement) answers as ClaimIsCurrent does per
// job: claimed at that attempt. A job put back (RetryJob keeps its attempt) or done is not.
BOOST_DATA_TEST_CASE(current_claims_are_the_claimed_ones_at_their_attempt, bdata::make(kBothBackends), backend) {
  TestStore ts(backend);
  auto store = OpenStore(ts.url());
  store->Write([&] {
    for (const char* subject : {"held", "put_back", "done", "other_attempt"})
      store->ScheduleJob("step", subject, 100);
  });
  std::vector<JobRecord> jobs;
  store->Write([&] { jobs = store->ClaimDueJobs(1000, 10, 60000); });
  BOOST_REQUIRE(jobs.size() == 4u);
  std::map<std::string, JobRecord> by_subject;
  for (const auto& j : jobs) by_subject[j.subject] = j;
  store->Write([&] {
    store->RetryJob(by_subject["put_back"].job_id, by_subject["put_back"].attempt, 5000);
    store->FinishJob(by_subject["done"].job_id, by_subject["done"].attempt);
  });
  std::vector<std::pair<int64_t, int>> asked;
  for (const auto& j : jobs)
    asked.emplace_back(j.job_id, j.subject == "other_attempt" ? j.attempt + 1 : j.attempt);
  std::set<int64_t> current;
  store->Write([&] { current = store->CurrentClaims(asked); });
  BOOST_TEST(current == std::set<int64_t>{by_subject["held"].job_id});
  for (const auto& [job_id, attempt] : asked)
    BOOST_TEST(store->ClaimIsCurrent(job_id, attempt) == (current.count(job_id) > 0));
}

BOOST_DATA_TEST_CASE(a_claimed_job_is_claimable_again_only_after_its_lease, bdata::make(kBothBackends), backend) {
  TestStore ts(backend);
  auto store = OpenStore(ts.url());
  store->Write([&] { store->ScheduleJob("step", "j", 100); });
  std::vector<JobRecord> jobs;
  store->Write([&] { jobs = store->ClaimDueJobs(1000, 10, 500); });
  BOOST_REQUIRE(jobs.size() == 1u);
  const JobRecord first = jobs[0];
  BOOST_TEST(first.attempt == 1);
  BOOST_TEST(store->NextDueMs().value_or(-1) == 1500);  // the lease's end

  store->Write([&] { jobs = store->ClaimDueJobs(1499, 10, 500); });
  BOOST_TEST(jobs.empty());
  store->Write([&] { jobs = store->ClaimDueJobs(1500, 10, 500); });
  BOOST_REQUIRE(jobs.size() == 1u);
  BOOST_TEST(jobs[0].job_id == first.job_id);
  BOOST_TEST(jobs[0].attempt == 2);
  BOOST_TEST(!store->ClaimIsCurrent(first.job_id, 1));
  BOOST_TEST(store->ClaimIsCurrent(first.job_id, 2));
}

BOOST_DATA_TEST_CASE(stale_claims_cannot_finish_or_retry, bdata::make(kBothBackends), backend) {
  TestStore ts(backend);
  auto store = OpenStore(ts.url());
  store->Write([&] { store->ScheduleJob("step", "j", 100); });
  std::vector<JobRecord> jobs;
  store->Write([&] { jobs = store->ClaimDueJobs(1000, 10, 500); });
  const int64_t id = jobs.at(0).job_id;
  store->Write([&] { jobs = store->ClaimDueJobs(2000, 10, 500); });  // lease lost: attempt 2
  BOOST_REQUIRE(jobs.size() == 1u);
  BOOST_TEST(jobs[0].attempt == 2);

  bool finished = true, retried = true;
  store->Write([&] {
    finished = store->FinishJob(id, 1);
    retried = store->RetryJob(id, 1, 99999);
  });
  BOOST_TEST(!finished);
  BOOST_TEST(!retried);
  // Nothing changed: still claimed by attempt 2, leased until 2500.
  BOOST_TEST(store->ClaimIsCurrent(id, 2));
  BOOST_TEST(store->NextDueMs().value_or(-1) == 2500);
  BOOST_TEST(store->Status(0).jobs_pending == 1);

  // The current claim can retry: pending again at the new due time, then claimed as 3.
  store->Write([&] { retried = store->RetryJob(id, 2, 7000); });
  BOOST_TEST(retried);
  BOOST_TEST(!store->ClaimIsCurrent(id, 2));
  BOOST_TEST(store->NextDueMs().value_or(-1) == 7000);
  store->Write([&] { jobs = store->ClaimDueJobs(6999, 10, 500); });
  BOOST_TEST(jobs.empty());
  store->Write([&] { jobs = store->ClaimDueJobs(7000, 10, 500); });
  BOOST_REQUIRE(jobs.size() == 1u);
  BOOST_TEST(jobs[0].attempt == 3);
  BOOST_TEST(jobs[0].due_ms == 7000);
  store->Write([&] { finished = store->FinishJob(id, 2); });
  BOOST_TEST(!finished);
  store->Write([&] { finished = store->FinishJob(id, 3); });
  BOOST_TEST(finished);
  BOOST_TEST(!store->NextDueMs().has_value());
  store->Write([&] { finished = store->FinishJob(id, 3); });  // done is done
  BOOST_TEST(!finished);
}

BOOST_DATA_TEST_CASE(scheduling_a_claimed_job_resets_it_and_fences_the_old_claim, bdata::make(kBothBackends), backend) {
  TestStore ts(backend);
  auto store = OpenStore(ts.url());
  store->Write([&] { store->ScheduleJob("step", "j", 100); });
  std::vector<JobRecord> jobs;
  store->Write([&] { jobs = store->ClaimDueJobs(1000, 10, 60000); });
  const JobRecord old = jobs.at(0);
  store->Write([&] { store->ScheduleJob("step", "j", 3000); });
  BOOST_TEST(!store->ClaimIsCurrent(old.job_id, old.attempt));
  BOOST_TEST(store->NextDueMs().value_or(-1) == 3000);  // pending, no longer leased
  bool finished = true, retried = true;
  store->Write([&] {
    finished = store->FinishJob(old.job_id, old.attempt);
    retried = store->RetryJob(old.job_id, old.attempt, 1);
  });
  BOOST_TEST(!finished);
  BOOST_TEST(!retried);
  store->Write([&] { jobs = store->ClaimDueJobs(2999, 10, 60000); });
  BOOST_TEST(jobs.empty());
  store->Write([&] { jobs = store->ClaimDueJobs(3000, 10, 60000); });
  BOOST_REQUIRE(jobs.size() == 1u);
  BOOST_TEST(jobs[0].job_id == old.job_id);
  BOOST_TEST(jobs[0].attempt == old.attempt + 1);
}

// A finished job's row is deleted; a job created later must not inherit its (job_id,
// attempt), or a worker that lost its lease on the old one could finish the new one.
BOOST_DATA_TEST_CASE(a_stale_claim_cannot_finish_a_later_job, bdata::make(kBothBackends), backend) {
  TestStore ts(backend);
  auto store = OpenStore(ts.url());
  store->Write([&] {
    store->ScheduleJob("step", "keep", 50);
    store->ScheduleJob("step", "old", 100);
  });
  std::vector<JobRecord> jobs;
  store->Write([&] { jobs = store->ClaimDueJobs(1000, 1, 60000); });  // "keep"
  store->Write([&] { jobs = store->ClaimDueJobs(1000, 1, 500); });    // "old", worker A
  const JobRecord stale = jobs.at(0);
  BOOST_REQUIRE(stale.subject == "old");
  // Worker A stalls; worker B claims "old" after the lease and finishes it.
  store->Write([&] { jobs = store->ClaimDueJobs(2000, 1, 500); });
  BOOST_REQUIRE(jobs.size() == 1u);
  BOOST_REQUIRE(jobs[0].subject == "old");
  bool finished = false;
  store->Write([&] { finished = store->FinishJob(jobs[0].job_id, jobs[0].attempt); });
  BOOST_REQUIRE(finished);
  // A new job, claimed once.
  store->Write([&] { store->ScheduleJob("abandon", "new-cart", 2000); });
  store->Write([&] { jobs = store->ClaimDueJobs(2000, 10, 60000); });
  BOOST_REQUIRE(jobs.size() == 1u);
  const JobRecord fresh = jobs[0];
  BOOST_TEST(fresh.subject == "new-cart");
  // Worker A wakes up and tries to finish its old claim.
  bool stale_current = true;
  store->Write([&] {
    stale_current = store->ClaimIsCurrent(stale.job_id, stale.attempt);
    finished = store->FinishJob(stale.job_id, stale.attempt);
  });
  BOOST_TEST(!stale_current);
  BOOST_TEST(!finished);
  BOOST_TEST(store->ClaimIsCurrent(fresh.job_id, fresh.attempt));
}

BOOST_DATA_TEST_CASE(next_due_is_the_earliest_pending_due_or_lease_end, bdata::make(kBothBackends), backend) {
  TestStore ts(backend);
  auto store = OpenStore(ts.url());
  BOOST_TEST(!store->NextDueMs().has_value());
  store->Write([&] {
    store->ScheduleJob("step", "a", 900);
    store->ScheduleJob("step", "b", 400);
  });
  BOOST_TEST(store->NextDueMs().value_or(-1) == 400);
  std::vector<JobRecord> jobs;
  store->Write([&] { jobs = store->ClaimDueJobs(500, 10, 1000); });  // b, leased to 1500
  BOOST_REQUIRE(jobs.size() == 1u);
  BOOST_TEST(store->NextDueMs().value_or(-1) == 900);
  store->Write([&] { store->CancelJobs("step", "a"); });
  BOOST_TEST(store->NextDueMs().value_or(-1) == 1500);
  store->Write([&] { store->FinishJob(jobs[0].job_id, jobs[0].attempt); });
  BOOST_TEST(!store->NextDueMs().has_value());
}

// A live worker renews its batch (LeaseKeeper); only claims still held with their attempt
// move: a job finished, retried or taken over since keeps what it has.
BOOST_DATA_TEST_CASE(renewing_claims_moves_only_the_current_ones, bdata::make(kBothBackends), backend) {
  TestStore ts(backend);
  auto store = OpenStore(ts.url());
  store->Write([&] {
    for (const char* s : {"a", "b", "c", "d"}) store->ScheduleJob("step", s, 100);
  });
  std::vector<JobRecord> batch;
  store->Write([&] { batch = store->ClaimDueJobs(1000, 10, 500); });  // all four, to 1500
  BOOST_REQUIRE(batch.size() == 4u);
  std::map<std::string, JobRecord> by;
  for (const auto& j : batch) by[j.subject] = j;
  std::vector<JobRecord> later;
  store->Write([&] {
    store->FinishJob(by["a"].job_id, by["a"].attempt);          // done
    store->RetryJob(by["b"].job_id, by["b"].attempt, 99999);    // pending again
  });
  // "c" is taken over by another worker after its lease ran out (with "d", both at 1500).
  store->Write([&] { later = store->ClaimDueJobs(1500, 1, 500); });
  BOOST_REQUIRE(later.size() == 1u);
  const std::string taken = later[0].subject;
  const std::string ours = taken == "c" ? "d" : "c";
  std::vector<std::pair<int64_t, int>> claims;
  for (const auto& j : batch) claims.emplace_back(j.job_id, j.attempt);
  int renewed = -1;
  store->Write([&] { renewed = store->RenewClaims(claims, 9000); });
  BOOST_TEST(renewed == 1);  // only the one still ours
  // The taken-over claim keeps the other worker's lease (2000); ours now runs to 9000; the
  // retried one stays pending at 99999.
  std::vector<JobRecord> jobs;
  store->Write([&] { jobs = store->ClaimDueJobs(2000, 10, 500); });
  BOOST_REQUIRE(jobs.size() == 1u);
  BOOST_TEST(jobs[0].subject == taken);
  BOOST_TEST(store->ClaimIsCurrent(by[ours].job_id, by[ours].attempt));
  // Later still: the other worker's claim ran out again (2500), ours holds until 9000.
  store->Write([&] { jobs = store->ClaimDueJobs(8999, 10, 500); });
  BOOST_REQUIRE(jobs.size() == 1u);
  BOOST_TEST(jobs[0].subject == taken);
  store->Write([&] { jobs = store->ClaimDueJobs(9000, 10, 500); });
  BOOST_REQUIRE(jobs.size() == 1u);
  BOOST_TEST(jobs[0].subject == ours);
}

// A claim out of a backlog reads through the indexes, yet still takes the most overdue
// jobs first whether they are pending or left by a dead worker's expired claim.
BOOST_DATA_TEST_CASE(claim_from_a_backlog_takes_the_oldest_of_pending_and_expired, bdata::make(kBothBackends), backend) {
  TestStore ts(backend);
  auto store = OpenStore(ts.url());
  store->Write([&] {
    for (int i = 0; i < 50; ++i) store->ScheduleJob("step", "p" + std::to_string(i), 1000 + i * 10);
    store->ScheduleJob("step", "early", 5);
  });
  std::vector<JobRecord> jobs;
  store->Write([&] { jobs = store->ClaimDueJobs(10, 1, 100); });  // "early", leased to 110
  BOOST_REQUIRE(jobs.size() == 1u);
  store->Write([&] { jobs = store->ClaimDueJobs(5000, 3, 100); });
  BOOST_REQUIRE(jobs.size() == 3u);
  BOOST_TEST(jobs[0].subject == "early");  // the dead worker's, due first
  BOOST_TEST(jobs[1].subject == "p0");
  BOOST_TEST(jobs[2].subject == "p1");
  store->Write([&] { jobs = store->ClaimDueJobs(1045, 100, 100); });  // due by 1045: p2..p4
  BOOST_TEST(jobs.size() == 3u);
  BOOST_TEST(store->NextDueMs().value_or(-1) == 1050);  // p5 pending; leases end at 1145+
}

// ---- messages ------------------------------------------------------------------------------

BOOST_DATA_TEST_CASE(a_message_id_is_stored_once, bdata::make(kBothBackends), backend) {
  TestStore ts(backend);
  auto store = OpenStore(ts.url());
  bool first = false, second = true;
  store->Write([&] {
    first = store->InsertMessage(Msg("m1", "j1", "sending"));
    MessageRecord again = Msg("m1", "j1", "sent");
    again.subject = "a second rendering";
    second = store->InsertMessage(again);
  });
  BOOST_TEST(first);
  BOOST_TEST(!second);
  auto m = store->LoadMessage("m1");
  BOOST_REQUIRE(m.has_value());
  BOOST_TEST(m->status == MessageStatus::kSending);  // the first one stands
  BOOST_TEST(m->subject == "Your cart");
  BOOST_TEST(store->ListMessages(MessageFilter{}).size() == 1u);
}

BOOST_DATA_TEST_CASE(suppress_unsent_touches_only_unsent_messages_of_that_journey, bdata::make(kBothBackends), backend) {
  TestStore ts(backend);
  auto store = OpenStore(ts.url());
  store->Write([&] {
    store->InsertMessage(Msg("a-sending", "j1", "sending"));
    store->InsertMessage(Msg("a-retrying", "j1", "retrying"));
    store->InsertMessage(Msg("a-sent", "j1", "sent"));
    store->InsertMessage(Msg("a-failed", "j1", "failed"));
    MessageRecord s = Msg("a-suppressed", "j1", "suppressed");
    s.reason = "no_consent";
    store->InsertMessage(s);
    store->InsertMessage(Msg("b-sending", "j2", "sending"));
    store->SuppressUnsent("j1", "ordered");
  });
  auto status = [&](const std::string& id) {
    return std::string(MessageStatusName(store->LoadMessage(id).value().status));
  };
  auto reason = [&](const std::string& id) { return store->LoadMessage(id).value().reason; };
  BOOST_TEST(status("a-sending") == "suppressed");
  BOOST_TEST(reason("a-sending") == "ordered");
  BOOST_TEST(status("a-retrying") == "suppressed");
  BOOST_TEST(reason("a-retrying") == "ordered");
  BOOST_TEST(status("a-sent") == "sent");
  BOOST_TEST(status("a-failed") == "failed");
  BOOST_TEST(reason("a-suppressed") == "no_consent");
  BOOST_TEST(status("b-sending") == "sending");
}

// Statuses and states are stored as their names (message_status.h, journey_state.h,
// store.h), every one of them reads back, and a text no engine wrote is a storage error
// that names it.
BOOST_DATA_TEST_CASE(statuses_and_states_are_stored_by_name, bdata::make(kBothBackends), backend) {
  TestStore ts(backend);
  auto store = OpenStore(ts.url());
  store->Write([&] {
    for (MessageStatus st : kMessageStatuses)
      store->InsertMessage(Msg(std::string("m-") + MessageStatusName(st), "j1", MessageStatusName(st)));
    for (JourneyState st : kJourneyStates) {
      JourneyRecord j;
      j.journey_id = std::string("j-") + JourneyStateName(st);
      j.contact_key = "e:j@example.com";
      j.cart_id = "c1";
      j.flow = "cart-recovery";
      j.path = "visitor";
      j.state = st;
      store->SaveJourney(j);
    }
    store->ScheduleJob("step", "j-running", 500);
  });
  for (MessageStatus st : kMessageStatuses) {
    const std::string id = std::string("m-") + MessageStatusName(st);
    BOOST_TEST(store->LoadMessage(id).value().status == st);
    BOOST_TEST(ts.Int("SELECT count(*) FROM messages WHERE message_id = '" + id + "' AND status = '" +
                      MessageStatusName(st) + "'") == 1);
  }
  for (JourneyState st : kJourneyStates)
    BOOST_TEST(store->LoadJourney(std::string("j-") + JourneyStateName(st)).value().state == st);
  // The job statements spell the states in SQL: they must be JobState's names.
  auto jobs_in = [&](JobState st) {
    return ts.CountJobs(std::string("state = '") + JobStateName(st) + "'");
  };
  BOOST_TEST(jobs_in(JobState::kPending) == 1);
  std::vector<JobRecord> jobs;
  store->Write([&] { jobs = store->ClaimDueJobs(1000, 10, 60000); });
  BOOST_REQUIRE(jobs.size() == 1u);
  BOOST_TEST(jobs_in(JobState::kClaimed) == 1);
  store->Write([&] { store->FinishJob(jobs[0].job_id, jobs[0].attempt); });
  BOOST_TEST(ts.CountJobs() == 0);  // done: no row

  ts.Exec("UPDATE messages SET status = 'shipped' WHERE message_id = 'm-sent'");
  Error e = ExpectError([&] { store->LoadMessage("m-sent"); });
  BOOST_TEST((e.code() == ErrorCode::kStorage));
  BOOST_TEST(Contains(e.what(), "unknown message status 'shipped'"), e.what());
  ts.Exec("UPDATE journeys SET state = 'Running' WHERE journey_id = 'j-running'");
  e = ExpectError([&] { store->LoadJourney("j-running"); });
  BOOST_TEST((e.code() == ErrorCode::kStorage));
  BOOST_TEST(Contains(e.what(), "unknown journey state 'Running'"), e.what());
}

BOOST_DATA_TEST_CASE(list_messages_filters_by_cart_contact_and_journey, bdata::make(kBothBackends), backend) {
  TestStore ts(backend);
  auto store = OpenStore(ts.url());
  store->Write([&] {
    for (int i = 0; i < 3; ++i) {
      MessageRecord m = Msg("x" + std::to_string(i), "jx", "sent");
      m.step = i + 1;
      m.created_ms = 100 * (3 - i);  // inserted newest first; listed oldest first
      store->InsertMessage(m);
    }
    MessageRecord y = Msg("y0", "jy", "sent");
    y.contact_key = "e:jx@example.com";  // same contact, another cart and journey
    store->InsertMessage(y);
    store->InsertMessage(Msg("z0", "jz", "sent"));
  });
  auto ids = [](const std::vector<MessageRecord>& ms) {
    std::vector<std::string> out;
    for (const auto& m : ms) out.push_back(m.message_id);
    return out;
  };
  MessageFilter all;
  BOOST_TEST(store->ListMessages(all).size() == 5u);
  MessageFilter by_cart;
  by_cart.cart_id = "cart-jx";
  BOOST_TEST(ids(store->ListMessages(by_cart)) == (std::vector<std::string>{"x2", "x1", "x0"}),
             boost::test_tools::per_element());
  MessageFilter by_contact;
  by_contact.contact_key = "e:jx@example.com";
  BOOST_TEST(store->ListMessages(by_contact).size() == 4u);
  MessageFilter by_journey;
  by_journey.journey_id = "jy";
  BOOST_TEST(ids(store->ListMessages(by_journey)) == (std::vector<std::string>{"y0"}),
             boost::test_tools::per_element());
  MessageFilter both;
  both.contact_key = "e:jx@example.com";
  both.cart_id = "cart-jy";
  BOOST_TEST(ids(store->ListMessages(both)) == (std::vector<std::string>{"y0"}),
             boost::test_tools::per_element());
  MessageFilter limited = by_cart;
  limited.limit = 2;
  BOOST_TEST(store->ListMessages(limited).size() == 2u);
  MessageFilter none;
  none.cart_id = "no-such-cart";
  BOOST_TEST(store->ListMessages(none).empty());
}

BOOST_DATA_TEST_CASE(last_sent_to_is_the_newest_sent_message_since, bdata::make(kBothBackends), backend) {
  TestStore ts(backend);
  auto store = OpenStore(ts.url());
  store->Write([&] {
    auto sent = [&](const std::string& id, const std::string& journey, Millis at) {
      MessageRecord m = Msg(id, journey, "sent");
      m.contact_key = "e:c@example.com";
      m.sent_ms = at;
      store->InsertMessage(m);
    };
    sent("early", "j1", 100);
    sent("late", "j2", 300);
    MessageRecord failed = Msg("failed", "j3", "failed");
    failed.contact_key = "e:c@example.com";
    failed.sent_ms = 400;  // not sent, whatever its timestamp
    store->InsertMessage(failed);
    MessageRecord other = Msg("other", "j4", "sent");
    other.contact_key = "e:other@example.com";
    other.sent_ms = 500;
    store->InsertMessage(other);
  });
  BOOST_TEST(store->LastSentTo("e:c@example.com", 0).value().message_id == "late");
  BOOST_TEST(store->LastSentTo("e:c@example.com", 300).value().message_id == "late");
  BOOST_TEST(!store->LastSentTo("e:c@example.com", 301).has_value());
  BOOST_TEST(!store->LastSentTo("e:nobody@example.com", 0).has_value());
}

// ---- coupons -------------------------------------------------------------------------------

// The report SQL is written once for both dialects (sql_store.cpp): the same rows give the
// same counters on both, and pruning moves them into the day aggregates without changing
// what a report or the funnel says.
BOOST_DATA_TEST_CASE(reports_count_alike_and_survive_pruning, bdata::make(kBothBackends), backend) {
  TestStore ts(backend);
  auto store = OpenStore(ts.url());
  const Millis day = 20 * kDay;  // 1970-01-21
  store->Write([&] {
    auto msg = [&](const std::string& id, const std::string& status, Millis opened, Millis clicked,
                   Millis unsubscribed) {
      MessageRecord m = Msg(id, "j-" + id, status);
      m.created_ms = day + kHour;
      m.sent_ms = status == "sent" || status == "bounced" ? day + 2 * kHour : 0;
      m.variant = "A";
      store->InsertMessage(m);
      m.opened_ms = opened;
      m.clicked_ms = clicked;
      m.unsubscribed_ms = unsubscribed;
      store->UpdateMessage(m);
    };
    msg("m1", "sent", day + 3 * kHour, day + 4 * kHour, 0);
    msg("m2", "failed", 0, 0, 0);
    msg("m3", "suppressed", 0, 0, 0);
    msg("m4", "bounced", 0, 0, day + 5 * kHour);
    auto order = [&](const std::string& id, int64_t value, const std::string& coupon) {
      OrderRecord o;
      o.order_id = id;
      o.cart_id = "cart-" + id;
      o.value_minor = value;
      o.currency = "EUR";
      o.coupon = coupon;
      o.at_ms = day + 6 * kHour;
      o.message_id = "m1";
      o.flow = "cart-recovery";
      o.step = 1;
      o.channel = "email";
      store->InsertOrder(o);
    };
    order("o1", 1000, "SAVE10");
    order("o2", 500, "");
    auto cart = [&](const std::string& id, Stage stage, CartState state) {
      Cart c;
      c.cart_id = id;
      c.stage = stage;
      c.state = state;
      c.currency = "EUR";
      c.items = {LineItem{"sku", "Mug", 1200, 1, "", ""}};
      c.created_ms = day;
      c.last_activity_ms = day;
      store->SaveCart(c);
    };
    cart("c1", Stage::kPayment, CartState::kRecovered);
    cart("c2", Stage::kCart, CartState::kAbandoned);
  });
  ReportQuery q;
  q.since = 0;
  q.until = day + 100 * kDay;
  q.by = {"flow", "day", "variant"};
  auto check = [&](const std::vector<ReportRow>& rows) {
    BOOST_REQUIRE(rows.size() == 1u);
    const ReportRow& r = rows[0];
    BOOST_TEST(r.keys.at("flow") == "cart-recovery");
    BOOST_TEST(r.keys.at("day") == "1970-01-21");
    BOOST_TEST(r.keys.at("variant") == "A");
    BOOST_TEST(r.sent == 2);  // a bounce was sent
    BOOST_TEST(r.failed == 1);
    BOOST_TEST(r.suppressed == 1);
    BOOST_TEST(r.opened == 1);
    BOOST_TEST(r.clicked == 1);
    BOOST_TEST(r.bounced == 1);
    BOOST_TEST(r.unsubscribed == 1);
    BOOST_TEST(r.orders == 2);
    BOOST_TEST(r.orders_with_coupon == 1);
    BOOST_TEST(r.revenue_minor == 1500);
    BOOST_TEST(r.currency == "EUR");
  };
  auto check_funnel = [&](const std::vector<FunnelRow>& rows) {
    std::map<std::string, std::vector<int64_t>> got;
    for (const auto& r : rows) got[r.stage] = {r.carts, r.abandoned, r.recovered};
    BOOST_TEST((got["cart"] == std::vector<int64_t>{1, 1, 0}));
    BOOST_TEST((got["payment"] == std::vector<int64_t>{1, 1, 1}));
    BOOST_TEST((got["contact"] == std::vector<int64_t>{0, 0, 0}));
  };
  check(store->Report(q));
  check_funnel(store->Funnel(0, day + 100 * kDay));

  RetentionWindows w;
  PruneCounts pruned;
  store->Write([&] { pruned = store->Prune(day + 500 * kDay, w, 7 * kDay); });
  BOOST_TEST(pruned.messages == 4);
  BOOST_TEST(pruned.orders == 2);
  BOOST_TEST(pruned.carts == 2);
  BOOST_TEST(ts.Int("SELECT count(*) FROM messages") == 0);
  check(store->Report(q));
  check_funnel(store->Funnel(0, day + 100 * kDay));
  // A filter reaches the aggregates too; a range without the day finds nothing.
  q.where = {{"channel", "email"}};
  check(store->Report(q));
  q.where = {{"channel", "sms"}};
  BOOST_TEST(store->Report(q).empty());
}

BOOST_DATA_TEST_CASE(add_coupons_skips_known_codes_and_hands_out_in_the_order_given,
                     bdata::make(kBothBackends), backend) {
  TestStore ts(backend);
  auto store = OpenStore(ts.url());
  CouponPool pool;
  pool.name = "imported";
  pool.kind = PoolKind::kImported;
  pool.valid_for_ms = 0;
  auto coupon = [&](const std::string& code) {
    Coupon c;
    c.code = code;
    c.pool = pool.name;
    c.discount.amount = 500;
    return c;
  };
  // Characters that mean something in SQL or in an array literal, and more codes than one
  // statement takes, with a repeat across that boundary.
  std::vector<Coupon> first = {coupon("Q\"1"), coupon("B\\2"), coupon("C,3"), coupon("{D4}"),
                               coupon("NULL"), coupon("'E5")};
  std::vector<Coupon> many;
  for (int i = 0; i < 2500; ++i) many.push_back(coupon("M" + std::to_string(2500 - i)));
  many.push_back(coupon("M2500"));  // twice in one list
  many.push_back(coupon("C,3"));    // already known
  int64_t added_first = 0, added_many = 0;
  store->Write([&] {
    store->SavePool(pool);
    added_first = store->AddCoupons(first);
    added_many = store->AddCoupons(many);
  });
  BOOST_TEST(added_first == 6);
  BOOST_TEST(added_many == 2500);
  BOOST_TEST(store->FreeCoupons("imported", 0) == 2506);
  std::vector<std::string> taken;
  store->Write([&] {
    for (int i = 0; i < 8; ++i) taken.push_back(store->TakeFreeCoupon(pool, "e:x", 0).value().code);
  });
  BOOST_TEST(taken == (std::vector<std::string>{"Q\"1", "B\\2", "C,3", "{D4}", "NULL", "'E5", "M2500", "M2499"}),
             boost::test_tools::per_element());
  BOOST_TEST(store->LoadCoupon("B\\2").value().discount.amount == 500);
}

// ---- several processes, crashes ------------------------------------------------------------

// Four processes, each with its own connection opened after fork(), schedule and claim jobs
// in the same file with short leases so jobs change hands. Every claim a child made is
// written to its own file after the commit; no (job_id, attempt) may appear twice.
BOOST_DATA_TEST_CASE(concurrent_writers_in_several_processes, bdata::make(kBothBackends), backend) {
  TestStore ts(backend);
  const TestStore& dir = ts;  // the children's logs
  { auto store = OpenStore(ts.url()); }  // migrated once; no connection crosses the fork
  constexpr int kChildren = 4, kRounds = 200;
  std::vector<pid_t> pids;
  for (int c = 0; c < kChildren; ++c) {
    pid_t pid = fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
      int rc = 0;
      try {
        auto store = OpenStore(ts.url());
        std::ofstream log(dir.File("claims-" + std::to_string(c)));
        for (int i = 0; i < kRounds; ++i) {
          std::vector<JobRecord> claimed;
          store->Write([&] {
            store->ScheduleJob("step", "c" + std::to_string(c) + "-" + std::to_string(i), i);
            // Time runs per child, so leases of other children's claims expire here.
            claimed = store->ClaimDueJobs(i, 3, 5);
          });
          for (const auto& j : claimed) log << j.job_id << ' ' << j.attempt << ' ' << i << '\n';
        }
        log.close();
        if (!log) rc = 2;
      } catch (...) {
        rc = 1;
      }
      _exit(rc);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) BOOST_TEST(ExitedOk(WaitChild(pid)), "child " << pid);

  std::map<int64_t, std::set<int>> attempts;  // job_id -> attempts claimed
  std::map<std::pair<int64_t, int>, int64_t> claimed_at;  // (job_id, attempt) -> claimer's now
  size_t claims = 0;
  for (int c = 0; c < kChildren; ++c) {
    std::ifstream in(dir.File("claims-" + std::to_string(c)));
    int64_t id, now;
    int attempt;
    while (in >> id >> attempt >> now) {
      ++claims;
      BOOST_TEST(attempts[id].insert(attempt).second, "job " << id << " attempt " << attempt
                                                              << " claimed twice");
      claimed_at[{id, attempt}] = now;
    }
  }
  BOOST_TEST(claims > 0u);
  // A job changed hands only once its lease (5) had expired for the one who took it next.
  for (const auto& [key, now] : claimed_at) {
    auto before = claimed_at.find({key.first, key.second - 1});
    if (before != claimed_at.end())
      BOOST_TEST(now >= before->second + 5, "job " << key.first << " attempt " << key.second
                                                   << " claimed at " << now << " while leased");
  }
  BOOST_TEST(ts.Int("SELECT count(*) FROM jobs") == kChildren * kRounds);
  BOOST_TEST(ts.Int("SELECT count(DISTINCT subject) FROM jobs") == kChildren * kRounds);
  // Every claim was recorded: a job's attempts are exactly 1..attempt.
  for (const auto& kv : attempts) {
    int64_t current = ts.Int("SELECT attempt FROM jobs WHERE job_id = " + std::to_string(kv.first));
    BOOST_TEST(static_cast<int64_t>(kv.second.size()) == current, "job " << kv.first);
    BOOST_TEST(*kv.second.rbegin() == current);
  }
  BOOST_TEST(ts.Int("SELECT count(*) FROM jobs WHERE attempt > 0") ==
             static_cast<int64_t>(attempts.size()));
}

BOOST_DATA_TEST_CASE(reopen_after_a_crash_inside_a_transaction, bdata::make(kBothBackends), backend) {
  TestStore ts(backend);
  // SQLite: enough rows to spill pages into the WAL before the commit that never comes.
  const int doomed = ts.postgres() ? 2000 : 20000;
  { auto store = OpenStore(ts.url()); }
  pid_t pid = fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    try {
      auto store = OpenStore(ts.url());
      store->Write([&] {
        for (int i = 0; i < 10; ++i) store->ScheduleJob("step", "kept-" + std::to_string(i), i);
      });
      store->Write([&] {
        const std::string pad(200, 'x');
        for (int i = 0; i < doomed; ++i)
          store->ScheduleJob("step", "doomed-" + std::to_string(i) + pad, i);
        kill(getpid(), SIGKILL);
      });
    } catch (...) {
    }
    _exit(3);  // not reached when the kill worked
  }
  int status = WaitChild(pid);
  BOOST_REQUIRE(status >= 0);
  BOOST_REQUIRE(WIFSIGNALED(status));
  BOOST_TEST(WTERMSIG(status) == SIGKILL);

  auto store = OpenStore(ts.url());
  BOOST_TEST(ts.CountJobs("subject LIKE 'kept-%'") == 10);
  BOOST_TEST(ts.CountJobs("subject LIKE 'doomed-%'") == 0);
  store->Write([&] { store->ScheduleJob("step", "after-crash", 1); });
  BOOST_TEST(ts.CountJobs() == 11);
}

BOOST_AUTO_TEST_CASE(reopen_after_a_crash_right_after_commit) {
  TempDir dir;
  const std::string path = dir.File("committed.db");
  { auto store = OpenStore(path); }
  pid_t pid = fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    try {
      auto store = OpenStore(path);
      store->Write([&] {
        for (int i = 0; i < 500; ++i) store->ScheduleJob("step", "kept-" + std::to_string(i), i);
      });
      kill(getpid(), SIGKILL);
    } catch (...) {
    }
    _exit(3);
  }
  int status = WaitChild(pid);
  BOOST_REQUIRE(status >= 0);
  BOOST_REQUIRE(WIFSIGNALED(status));
  // The commit lives only in the WAL (nobody checkpointed or closed); opening recovers it.
  BOOST_TEST(fs::exists(path + "-wal"));
  BOOST_TEST(fs::file_size(path + "-wal") > 0u);
  auto store = OpenStore(path);
  BOOST_TEST(CountJobs(path, "subject LIKE 'kept-%'") == 500);
  std::vector<JobRecord> jobs;
  store->Write([&] { jobs = store->ClaimDueJobs(1000, 1000, 60000); });
  BOOST_TEST(jobs.size() == 500u);
}

// ---- PostgreSQL: schema, migrations, refusals --------------------------------------------

namespace {

// A table's columns as (name, type, NOT NULL), types in SQLite's words; our `seq` columns
// (SQLite's rowid, made explicit) left out.
std::set<std::string> SqliteColumns(RawDb& raw, const std::string& table) {
  std::set<std::string> out;
  // A primary key is NOT NULL in PostgreSQL; SQLite lets a TEXT one hold NULL (a quirk).
  for (const auto& c : raw.Column("SELECT name || ' ' || upper(type) || ' ' || (\"notnull\" OR pk > 0)"
                                  " FROM pragma_table_info('" + table + "')"))
    out.insert(c);
  return out;
}

std::set<std::string> PostgresColumns(RawPg& raw, const std::string& schema, const std::string& table) {
  std::set<std::string> out;
  for (const auto& c : raw.Column(
           "SELECT column_name || ' ' || CASE data_type WHEN 'bigint' THEN 'INTEGER'"
           " WHEN 'text' THEN 'TEXT' WHEN 'bytea' THEN 'BLOB' ELSE data_type END || ' ' ||"
           " CASE is_nullable WHEN 'NO' THEN 1 ELSE 0 END FROM information_schema.columns"
           " WHERE table_schema = '" + schema + "' AND table_name = '" + table +
           "' AND column_name <> 'seq'"))
    out.insert(c);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(pg_an_empty_database_is_migrated_to_the_tables_and_columns_of_sqlite) {
  BOOST_TEST(internal::PostgresSchemaVersion() == internal::SqliteSchemaVersion());
  TestStore pg(Backend::kPostgres), lite(Backend::kSqlite);
  RawPg raw;
  BOOST_TEST(raw.Int("SELECT count(*) FROM pg_namespace WHERE nspname = '" + pg.schema() + "'") == 0);
  { auto store = OpenStore(pg.url()); }  // creates the schema, then the tables
  { auto store = OpenStore(lite.url()); }
  BOOST_TEST(pg.Int("SELECT version FROM schema_version WHERE app = 'cartrecovery'") ==
             internal::PostgresSchemaVersion());
  RawDb sqlite(lite.path());
  auto tables = sqlite.Column("SELECT name FROM sqlite_master WHERE type = 'table' AND"
                              " name NOT LIKE 'sqlite_%' ORDER BY name");
  // key_locks: PostgreSQL's own, the rows its writers lock per key (SQLite's take turns on the file).
  auto pg_tables = raw.Column("SELECT tablename FROM pg_tables WHERE schemaname = '" + pg.schema() +
                              "' AND tablename NOT IN ('schema_version', 'key_locks') ORDER BY tablename");
  BOOST_TEST(tables == pg_tables, boost::test_tools::per_element());
  BOOST_TEST(tables.size() >= 14u);
  for (const auto& t : tables) {
    BOOST_TEST(SqliteColumns(sqlite, t) == PostgresColumns(raw, pg.schema(), t),
               boost::test_tools::per_element());
  }
  // Reopening an up-to-date schema changes nothing.
  { auto store = OpenStore(pg.url()); }
  BOOST_TEST(pg.Int("SELECT count(*) FROM schema_version") == 1);
}

// A version-1 schema is migrated in place and keeps its jobs and contacts.
BOOST_AUTO_TEST_CASE(pg_an_older_schema_is_migrated_and_keeps_its_data) {
  TestStore ts(Backend::kPostgres);
  {
    RawPg raw;
    raw.Exec("CREATE SCHEMA " + ts.schema() + "; SET search_path TO " + ts.schema());
    raw.Exec(internal::PostgresMigration(0));  // the schema exactly as version 1 wrote it
    raw.Exec("CREATE TABLE schema_version(app TEXT PRIMARY KEY, version BIGINT NOT NULL);"
             "INSERT INTO schema_version VALUES('cartrecovery', 1);"
             "INSERT INTO jobs(kind, subject, due_ms, state, lease_until_ms, attempt)"
             "  VALUES('step', 'j7', 100, 'claimed', 900, 2), ('abandon', 'c3', 50, 'pending', 0, 0);"
             "INSERT INTO contacts(contact_key, email) VALUES('e:old@example.com', 'old@example.com')");
  }
  BOOST_REQUIRE(internal::PostgresSchemaVersion() >= 3);
  const int64_t claimed = ts.Int("SELECT job_id FROM jobs WHERE subject = 'j7'");
  const int64_t newest = ts.Int("SELECT max(job_id) FROM jobs");
  auto store = OpenStore(ts.url());
  BOOST_TEST(ts.Int("SELECT version FROM schema_version") == internal::PostgresSchemaVersion());
  BOOST_TEST(store->ClaimIsCurrent(claimed, 2));
  BOOST_TEST(store->NextDueMs().value_or(-1) == 50);
  auto old = store->LoadContact("e:old@example.com");  // read with the columns of migration 3
  BOOST_REQUIRE(old.has_value());
  BOOST_TEST(old->email == "old@example.com");
  BOOST_TEST(!old->email_bounced);
  store->Write([&] {
    BOOST_TEST(store->FinishJob(claimed, 2));
    store->ScheduleJob("step", "new", 10);
  });
  BOOST_TEST(ts.Int("SELECT job_id FROM jobs WHERE subject = 'new'") > newest);
}

BOOST_AUTO_TEST_CASE(pg_a_schema_from_a_newer_version_is_refused) {
  TestStore ts(Backend::kPostgres);
  { auto store = OpenStore(ts.url()); }
  const int newer = internal::PostgresSchemaVersion() + 1;
  ts.Exec("UPDATE schema_version SET version = " + std::to_string(newer));
  Error e = ExpectError([&] { OpenStore(ts.url()); });
  BOOST_TEST((e.code() == ErrorCode::kStorage));
  BOOST_TEST(Contains(e.what(), "newer"), e.what());
  BOOST_TEST(Contains(e.what(), ts.schema()), e.what());  // says which store
  BOOST_TEST(ts.Int("SELECT version FROM schema_version") == newer);  // not downgraded
}

BOOST_AUTO_TEST_CASE(pg_another_applications_schema_is_refused_and_left_untouched) {
  TestStore ts(Backend::kPostgres);
  RawPg raw;
  raw.Exec("CREATE SCHEMA " + ts.schema() + "; SET search_path TO " + ts.schema() +
           "; CREATE TABLE orders(id SERIAL PRIMARY KEY, total INTEGER);"
           " INSERT INTO orders(total) VALUES (10), (20), (30)");
  Error e = ExpectError([&] { OpenStore(ts.url()); });
  BOOST_TEST((e.code() == ErrorCode::kStorage));
  BOOST_TEST(Contains(e.what(), "not a cartrecovery store"), e.what());
  BOOST_TEST(Contains(e.what(), "orders"), e.what());
  BOOST_TEST(raw.Int("SELECT sum(total) FROM orders") == 60);
  BOOST_TEST(raw.Int("SELECT count(*) FROM pg_tables WHERE schemaname = '" + ts.schema() + "'") == 1);

  // A schema_version table of some other tool (Flyway once used that name).
  raw.Exec("DROP TABLE orders; CREATE TABLE schema_version(installed_rank INT, version TEXT);"
           " INSERT INTO schema_version VALUES (1, '1.0')");
  e = ExpectError([&] { OpenStore(ts.url()); });
  BOOST_TEST((e.code() == ErrorCode::kStorage));
  BOOST_TEST(Contains(e.what(), "not a cartrecovery store"), e.what());
  BOOST_TEST(raw.Int("SELECT count(*) FROM schema_version") == 1);
  BOOST_TEST(raw.Int("SELECT count(*) FROM pg_tables WHERE schemaname = '" + ts.schema() + "'") == 1);
}

// Several processes opening a new database at once: one migrates, the others wait for it
// and find the schema done (no "relation already exists").
BOOST_AUTO_TEST_CASE(pg_processes_starting_at_once_migrate_once) {
  TestStore ts(Backend::kPostgres);
  const int ok = RunChildren(4, [&](int) {
    auto store = OpenStore(ts.url());
    return store->Status(0).schema_version == internal::PostgresSchemaVersion();
  });
  BOOST_TEST(ok == 4);
  BOOST_TEST(ts.Int("SELECT version FROM schema_version") == internal::PostgresSchemaVersion());
  BOOST_TEST(ts.Int("SELECT count(*) FROM schema_version") == 1);
}

// SQL shared by both stores is written with SQLite's ?N; PostgreSQL reads them as $N, and
// nothing quoted changes (a '?1' in a string is text, jsonb's ? operator has no number).
// Rows written together travel as arrays in PostgreSQL's text form: quotes and
// backslashes escaped, NULL unquoted (a quoted "NULL" is the text).
BOOST_AUTO_TEST_CASE(pg_an_array_of_rows_values_escapes_text_and_spells_null) {
  const std::vector<std::optional<std::string>> items = {std::string("a\"b\\c"), std::nullopt,
                                                         std::string("NULL"), std::string("")};
  BOOST_TEST(internal::PgArray(items) == "{\"a\\\"b\\\\c\",NULL,\"NULL\",\"\"}");
  BOOST_TEST(internal::PgArray(std::vector<std::optional<std::string>>{}) == "{}");
  RawPg raw;
  BOOST_TEST(raw.Column("SELECT coalesce(x, '<null>') FROM unnest('" + internal::PgArray(items) +
                        "'::text[]) AS x") ==
                 (std::vector<std::string>{"a\"b\\c", "<null>", "NULL", ""}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(pg_placeholders_are_read_as_dollar_numbers_outside_quotes) {
  BOOST_TEST(internal::PgPlaceholders("SELECT ?1, ?12 FROM t WHERE a = ?2") ==
             "SELECT $1, $12 FROM t WHERE a = $2");
  BOOST_TEST(internal::PgPlaceholders("SELECT '?1', 'it''s ?2', \"?3\" WHERE j ? 'k' AND b = $4") ==
             "SELECT '?1', 'it''s ?2', \"?3\" WHERE j ? 'k' AND b = $4");
}

BOOST_AUTO_TEST_CASE(pg_a_bad_schema_name_is_a_config_error) {
  for (const char* schema : {"Shop", "shop-1", "1shop", "", "a;drop table x"}) {
    Error e = ExpectError([&] { OpenStore(WithQuery(PgBaseUrl(), std::string("schema=") + schema)); });
    BOOST_TEST((e.code() == ErrorCode::kConfig), schema);
    BOOST_TEST(Contains(e.what(), "schema"), e.what());
  }
}

// ---- PostgreSQL: secrets and connections ---------------------------------------------------

BOOST_AUTO_TEST_CASE(pg_the_password_never_appears_in_an_error) {
  const std::string pw = "S3cret-pw_Zq7";
  TestStore ts(Backend::kPostgres);
  // Nothing listens there; a database that does not exist; a parameter libpq does not know;
  // a store that is refused after connecting (trust auth accepts any password); the
  // password percent-encoded, and given as a parameter.
  std::vector<std::pair<std::string, ErrorCode>> cases = {
      {"postgresql://cr:" + pw + "@127.0.0.1:1/test?connect_timeout=5", ErrorCode::kStorage},
      {"postgresql://postgres:" + pw + "@127.0.0.1:5432/no_such_db_zq7", ErrorCode::kStorage},
      {"postgres://postgres:" + pw + "@127.0.0.1:5432/test?frobnicate=1", ErrorCode::kConfig},
      {"postgresql://cr:S3cret%2Dpw%5FZq7@127.0.0.1:1/test", ErrorCode::kStorage},
      {"postgresql://cr@127.0.0.1:1/test?password=" + pw, ErrorCode::kStorage},
  };
  { auto store = OpenStore(ts.url()); }
  ts.Exec("UPDATE schema_version SET version = version + 1");
  // The test database's URL with a password in it, pointing at the refused schema.
  std::string url = PgBaseUrl();
  const size_t at = url.find('@');
  if (at != std::string::npos && url.rfind(':', at) < url.find("://") + 3) {
    url.insert(at, ":" + pw);
    cases.push_back({WithQuery(url, "schema=" + ts.schema()), ErrorCode::kStorage});
  }
  for (const auto& [u, code] : cases) {
    Error e = ExpectError([&] { OpenStore(u); });
    BOOST_TEST((e.code() == code), u);
    BOOST_TEST(!Contains(e.what(), pw), e.what());
    BOOST_TEST(!Contains(e.what(), "S3cret"), e.what());
    BOOST_TEST(!Contains(e.field(), pw));
    BOOST_TEST(Contains(e.what(), "127.0.0.1"), e.what());  // still says which server
  }
}

namespace {

// Ends the server side of every connection of the store in `schema` (application_name
// "cartrecovery/<schema>"), and waits until they are gone.
void TerminateConnections(const std::string& schema) {
  RawPg raw;
  const std::string where = "application_name = 'cartrecovery/" + schema + "'";
  BOOST_REQUIRE(raw.Int("SELECT count(*) FROM pg_stat_activity WHERE " + where) >= 1);
  raw.Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE " + where);
  for (int i = 0; i < 1000 && raw.Int("SELECT count(*) FROM pg_stat_activity WHERE " + where) > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  BOOST_REQUIRE(raw.Int("SELECT count(*) FROM pg_stat_activity WHERE " + where) == 0);
}

}  // namespace

// A server restart or an idle timeout between transactions costs nothing: the connection is
// replaced and the call goes on. Lost inside a transaction, the transaction is gone: a
// StoreError, and the next one works.
BOOST_AUTO_TEST_CASE(pg_a_lost_connection_is_replaced_and_a_lost_transaction_is_an_error) {
  TestStore ts(Backend::kPostgres);
  auto store = OpenStore(ts.url());
  store->Write([&] { store->ScheduleJob("step", "a", 100); });

  TerminateConnections(ts.schema());
  BOOST_TEST(store->NextDueMs().value_or(-1) == 100);  // reconnected, statements prepared again
  TerminateConnections(ts.schema());
  store->Write([&] { store->ScheduleJob("step", "b", 200); });  // begun on a new connection

  Error e = ExpectError([&] {
    store->Write([&] {
      store->ScheduleJob("step", "lost", 1);
      TerminateConnections(ts.schema());
      store->ScheduleJob("step", "lost-too", 2);
    });
  });
  BOOST_TEST((e.code() == ErrorCode::kStorage));
  BOOST_TEST(Contains(e.what(), "lost the connection"), e.what());
  store->Write([&] { store->ScheduleJob("step", "c", 300); });
  BOOST_TEST(ts.CountJobs() == 3);
  BOOST_TEST(ts.CountJobs("subject LIKE 'lost%'") == 0);
}

// gunicorn --preload: a store opened before fork() is refused in the child, never closed
// there (closing would end the parent's session on the shared socket), and the parent's
// connection goes on working.
BOOST_AUTO_TEST_CASE(pg_a_connection_from_before_fork_is_refused_in_the_child_and_left_open) {
  TestStore ts(Backend::kPostgres);
  auto store = OpenStore(ts.url());
  store->Write([&] { store->ScheduleJob("step", "parent", 100); });
  TempDir dir;
  const std::string report = dir.File("child.txt");
  pid_t pid = fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    int rc = 1;
    try {
      std::ofstream out(report);
      try {
        store->NextDueMs();
        out << "used";
      } catch (const Error& e) {
        out << (e.code() == ErrorCode::kStorage ? "refused: " : "other: ") << e.what();
      }
      out.close();
      store.reset();  // the destructor must leave the inherited connection alone
      auto own = OpenStore(ts.url());  // a child opens its own
      own->Write([&] { own->ScheduleJob("step", "child", 50); });
      rc = 0;
    } catch (...) {
      rc = 2;
    }
    _exit(rc);
  }
  BOOST_REQUIRE(ExitedOk(WaitChild(pid)));
  const std::string said = ReadBytes(report);
  BOOST_TEST(Contains(said, "refused: "), said);
  BOOST_TEST(Contains(said, "fork"), said);
  // The parent's session was not ended by the child: it works at once, no reconnect.
  BOOST_TEST(store->NextDueMs().value_or(-1) == 50);
  store->Write([&] { store->ScheduleJob("step", "parent-again", 10); });
  BOOST_TEST(ts.CountJobs() == 3);
}

// PostgreSQL aborts a transaction at a failed statement; a nested Write's savepoint must
// bring it back, so that the engine's replay of a failed batch (one savepoint per event)
// loses only the failed event.
BOOST_AUTO_TEST_CASE(pg_a_failed_statement_is_undone_by_its_savepoint_alone) {
  TestStore ts(Backend::kPostgres);
  auto store = OpenStore(ts.url());
  ts.Exec(
      "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused by the test';"
      " END $$ LANGUAGE plpgsql;"
      " CREATE TRIGGER refuse BEFORE INSERT ON jobs FOR EACH ROW WHEN (NEW.subject = 'doomed')"
      " EXECUTE FUNCTION refuse()");
  store->Write([&] {
    store->ScheduleJob("step", "before", 1);
    Error e = ExpectError([&] { store->Write([&] { store->ScheduleJob("step", "doomed", 2); }); });
    BOOST_TEST((e.code() == ErrorCode::kStorage));
    BOOST_TEST(Contains(e.what(), "refused by the test"), e.what());
    store->ScheduleJob("step", "after", 3);
  });
  BOOST_TEST(ts.CountJobs() == 2);
  BOOST_TEST(ts.CountJobs("subject = 'doomed'") == 0);

  // Swallowing the failure without a savepoint cannot commit half a transaction: the
  // server rolled it all back, and Write() says so instead of reporting success.
  Error e = ExpectError([&] {
    store->Write([&] {
      store->ScheduleJob("step", "half", 4);
      try {
        store->ScheduleJob("step", "doomed", 5);
      } catch (const Error&) {
      }
    });
  });
  BOOST_TEST((e.code() == ErrorCode::kStorage));
  BOOST_TEST(Contains(e.what(), "rolled the transaction back"), e.what());
  BOOST_TEST(ts.CountJobs("subject = 'half'") == 0);
  store->Write([&] { store->ScheduleJob("step", "later", 6); });
  BOOST_TEST(ts.CountJobs() == 3);
}

// LockJourneys takes the owners the caller last read as a guess: a journey that moved since
// to another contact (its shopper gave an address) or cart (the shop's new cart id) has its
// new owners locked as well, found by the read that confirms the guess. Seen from another
// connection: a key's row of key_locks is held while SKIP LOCKED passes it over.
BOOST_AUTO_TEST_CASE(pg_lock_journeys_also_locks_owners_a_journey_moved_to_since_it_was_read) {
  TestStore ts(Backend::kPostgres);
  auto store = OpenStore(ts.url());
  auto journey = [](const char* id, const char* contact, const char* cart) {
    JourneyRecord j;
    j.journey_id = id;
    j.contact_key = contact;
    j.cart_id = cart;
    j.flow = "cart-recovery";
    j.path = "visitor";
    return j;
  };
  store->Write([&] {
    store->SaveJourney(journey("j1", "v:visitor1", "c1"));
    store->SaveJourney(journey("j2", "e:bob@example.com", "c2"));
  });
  const std::vector<JourneyOwner> seen = {{"v:visitor1", "c1"}, {"e:bob@example.com", "c2"}};
  // Then another writer moves both, under the keys of both owners (which leaves a row in
  // key_locks for every key below).
  const std::set<std::string> keys = {"v:visitor1", "e:ann@example.com", "e:bob@example.com",
                                      "cart:c1", "cart:c2", "cart:c3"};
  store->Write([&] {
    store->LockKeys(std::vector<std::string>(keys.begin(), keys.end()));
    store->SaveJourney(journey("j1", "e:ann@example.com", "c1"));
    store->SaveJourney(journey("j2", "e:bob@example.com", "c3"));
  });

  RawPg raw(ts.schema());
  auto held = [&] {
    std::set<std::string> out;
    for (const auto& key : keys) {
      const std::string row = std::to_string(internal::KeyLockRow(key));
      BOOST_REQUIRE(raw.Int("SELECT count(*) FROM key_locks WHERE k = " + row) == 1);
      if (raw.Column("SELECT k FROM key_locks WHERE k = " + row + " FOR UPDATE SKIP LOCKED").empty())
        out.insert(key);
    }
    return out;
  };
  BOOST_TEST(held().empty());
  store->Write([&] {
    store->LockJourneys({"j1", "j2"}, seen);  // the owners as they were read, before the move
    BOOST_TEST(held() == keys, boost::test_tools::per_element());
  });
  BOOST_TEST(held().empty());
}

// An e-mail message of shopper `id` (journey j<id>, cart c<id>, e:<id>@example.com).
MessageRecord ShopperMessage(const std::string& id, const std::string& html) {
  MessageRecord m;
  m.message_id = "m" + id;
  m.journey_id = "j" + id;
  m.cart_id = "c" + id;
  m.contact_key = "e:" + id + "@example.com";
  m.flow = "cart-recovery";
  m.path = "visitor";
  m.channel = "email";
  m.html = html;
  return m;
}

// The rows a record step writes per reminder (pg_db.h, WriteRowsTogether): queued in one
// transaction, each kind reaches the server as ONE statement carrying all its rows, counted
// here by statement-level triggers; each row is written as its single-row statement would
// (the jobs' attempt fence included).
BOOST_AUTO_TEST_CASE(pg_queued_record_writes_of_a_kind_reach_the_server_as_one_statement) {
  TestStore ts(Backend::kPostgres);
  auto store = OpenStore(ts.url());
  const std::vector<std::string> ids = {"a", "b", "c"};
  auto journey = [](const std::string& id, int step) {
    JourneyRecord j;
    j.journey_id = "j" + id;
    j.contact_key = "e:" + id + "@example.com";
    j.cart_id = "c" + id;
    j.flow = "cart-recovery";
    j.path = "visitor";
    j.next_step = step;
    return j;
  };
  auto message = [](const std::string& id) { return ShopperMessage(id, "<p>Your kite</p>"); };
  store->Write([&] {
    for (const auto& id : ids) {
      Contact c;
      c.key = "e:" + id + "@example.com";
      store->SaveContact(c);
      store->SaveJourney(journey(id, 1));
      BOOST_REQUIRE(store->InsertMessage(message(id)));
      store->ScheduleJob("step", "j" + id, 100);
    }
  });
  ts.Exec("UPDATE jobs SET state = 'claimed', attempt = 1");
  ts.Exec(
      "CREATE TABLE statements(tbl TEXT, n BIGINT);"
      " CREATE FUNCTION count_statement() RETURNS trigger AS $$ BEGIN"
      " INSERT INTO statements VALUES (TG_TABLE_NAME, 1); RETURN NULL; END $$ LANGUAGE plpgsql;"
      " CREATE TRIGGER c AFTER UPDATE ON contacts FOR EACH STATEMENT EXECUTE FUNCTION count_statement();"
      " CREATE TRIGGER m AFTER UPDATE ON messages FOR EACH STATEMENT EXECUTE FUNCTION count_statement();"
      // An upsert fires both INSERT and UPDATE statement triggers: INSERT alone counts it once.
      " CREATE TRIGGER j AFTER INSERT ON journeys FOR EACH STATEMENT EXECUTE FUNCTION count_statement();"
      " CREATE TRIGGER r AFTER UPDATE OR DELETE ON jobs FOR EACH STATEMENT EXECUTE FUNCTION count_statement()");
  const int64_t job_a = ts.Int("SELECT job_id FROM jobs WHERE subject = 'ja'");
  const int64_t job_b = ts.Int("SELECT job_id FROM jobs WHERE subject = 'jb'");
  const int64_t job_c = ts.Int("SELECT job_id FROM jobs WHERE subject = 'jc'");
  store->Write([&] {
    for (const auto& id : ids) {
      MessageRecord m = message(id);
      m.status = MessageStatus::kSent;
      m.sent_ms = 5000;
      m.attempts = 1;
      store->RecordOutcome(m);
      store->TouchContact(m.contact_key, 5000);
      store->SaveJourney(journey(id, 2));
    }
    store->RetryJobAsync(job_a, 1, 7000);
    store->RetryJobAsync(job_b, 2, 7000);  // not its attempt: fenced off, as one by one
    store->FinishJobAsync(job_c, 1);
  });
  const std::string counts =
      "SELECT string_agg(tbl || '=' || n, ' ' ORDER BY tbl) FROM"
      " (SELECT tbl, sum(n) AS n FROM statements GROUP BY tbl) s";
  BOOST_TEST(RawPg(ts.schema()).Column(counts) ==
                 std::vector<std::string>{"contacts=1 jobs=2 journeys=1 messages=1"},
             boost::test_tools::per_element());
  BOOST_TEST(ts.Int("SELECT count(*) FROM messages WHERE status = 'sent' AND sent_ms = 5000 AND attempts = 1") == 3);
  BOOST_TEST(ts.Int("SELECT count(*) FROM contacts WHERE last_message_ms = 5000") == 3);
  BOOST_TEST(ts.Int("SELECT count(*) FROM journeys WHERE next_step = 2") == 3);
  BOOST_TEST(ts.Int("SELECT due_ms FROM jobs WHERE state = 'pending' AND job_id = " + std::to_string(job_a)) == 7000);
  BOOST_TEST(ts.Int("SELECT due_ms FROM jobs WHERE state = 'claimed' AND job_id = " + std::to_string(job_b)) == 100);
  BOOST_TEST(ts.CountJobs("job_id = " + std::to_string(job_c)) == 0);
  // A journey first written in a batch is inserted in the order it was queued (its seq).
  store->Write([&] {
    for (const auto& id : {"z", "y", "x"}) store->SaveJourney(journey(id, 1));
  });
  BOOST_TEST(RawPg(ts.schema()).Column("SELECT journey_id FROM journeys WHERE journey_id IN ('jx', 'jy', 'jz')"
                                       " ORDER BY seq") == (std::vector<std::string>{"jz", "jy", "jx"}),
             boost::test_tools::per_element());
}

// A plan's "sending" marks queued in one transaction go as one statement too: each new
// message with a body gets a body row of its own, one without gets none, and one already
// there (ON CONFLICT DO NOTHING) keeps its body and adds none.
BOOST_AUTO_TEST_CASE(pg_sending_marks_queued_together_each_get_their_own_body) {
  TestStore ts(Backend::kPostgres);
  auto store = OpenStore(ts.url());
  auto message = ShopperMessage;
  store->Write([&] { BOOST_REQUIRE(store->InsertMessage(message("old", "<p>first</p>"))); });
  ts.Exec(
      "CREATE TABLE statements(n BIGINT);"
      " CREATE FUNCTION count_statement() RETURNS trigger AS $$ BEGIN"
      " INSERT INTO statements VALUES (1); RETURN NULL; END $$ LANGUAGE plpgsql;"
      " CREATE TRIGGER m AFTER INSERT ON messages FOR EACH STATEMENT EXECUTE FUNCTION count_statement()");
  store->Write([&] {
    store->InsertMessageAsync(message("a", "<p>for a</p>"));
    store->InsertMessageAsync(message("b", ""));
    store->InsertMessageAsync(message("old", "<p>again</p>"));
    store->InsertMessageAsync(message("c", "<p>for c</p>"));
  });
  BOOST_TEST(ts.Int("SELECT count(*) FROM statements") == 1);
  BOOST_TEST(RawPg(ts.schema()).Column("SELECT m.message_id || '=' || coalesce(b.html, '-') FROM messages m"
                                       " LEFT JOIN message_bodies b ON b.body_id = m.body_id ORDER BY m.seq") ==
                 (std::vector<std::string>{"mold=<p>first</p>", "ma=<p>for a</p>", "mb=-", "mc=<p>for c</p>"}),
             boost::test_tools::per_element());
  BOOST_TEST(ts.Int("SELECT count(*) FROM message_bodies") == 3);
}

// A row written twice in one transaction ends with its last write (PostgreSQL applies one
// source row per target row in a multi-row UPDATE, and refuses an upsert touching a row
// twice: the second write goes in a statement of its own), and a read in between sees the
// first (what is held goes before any other statement).
BOOST_AUTO_TEST_CASE(pg_a_row_written_twice_in_one_transaction_keeps_its_last_write) {
  TestStore ts(Backend::kPostgres);
  auto store = OpenStore(ts.url());
  JourneyRecord j;
  j.journey_id = "j1";
  j.contact_key = "e:ann@example.com";
  j.cart_id = "c1";
  j.flow = "cart-recovery";
  j.path = "visitor";
  store->Write([&] {
    Contact c;
    c.key = "e:ann@example.com";
    store->SaveContact(c);
    c.key = "e:bob@example.com";
    store->SaveContact(c);
    store->ScheduleJob("step", "j1", 100);
  });
  ts.Exec("UPDATE jobs SET state = 'claimed', attempt = 1");
  const int64_t job = ts.Int("SELECT job_id FROM jobs");
  store->Write([&] {
    store->TouchContact("e:ann@example.com", 5);
    store->TouchContact("e:bob@example.com", 6);
    store->TouchContact("e:ann@example.com", 7);
    for (int step = 1; step <= 3; ++step) {
      j.next_step = step;
      store->SaveJourney(j);
    }
    store->RetryJobAsync(job, 1, 200);
    store->FinishJobAsync(job, 1);  // the retry went first: the job is pending, not finished
    store->TouchContact("e:bob@example.com", 8);
    auto bob = store->LoadContact("e:bob@example.com");
    BOOST_REQUIRE(bob);
    BOOST_TEST(bob->last_message_ms == 8);
  });
  BOOST_TEST(ts.Int("SELECT last_message_ms FROM contacts WHERE contact_key = 'e:ann@example.com'") == 7);
  BOOST_TEST(ts.Int("SELECT last_message_ms FROM contacts WHERE contact_key = 'e:bob@example.com'") == 8);
  BOOST_TEST(ts.Int("SELECT next_step FROM journeys") == 3);
  BOOST_TEST(ts.Int("SELECT due_ms FROM jobs WHERE state = 'pending'") == 200);
}

// A row the server refuses in a statement carrying several rows fails the transaction at
// its commit or at AwaitWrites, naming the refusal; the same writes inside a savepoint go
// one by one, so that the refused one is undone alone (WriteJobs, send_step.cpp, runs a
// batch again that way; test_pg_pipeline.py checks the engine's side).
BOOST_AUTO_TEST_CASE(pg_a_refused_row_among_rows_written_together_is_undone_alone_in_its_savepoint) {
  TestStore ts(Backend::kPostgres);
  auto store = OpenStore(ts.url());
  const std::vector<std::string> keys = {"e:ann@example.com", "e:bad@example.com", "e:cy@example.com"};
  store->Write([&] {
    for (const auto& key : keys) {
      Contact c;
      c.key = key;
      store->SaveContact(c);
    }
  });
  ts.Exec(
      "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused by the test';"
      " END $$ LANGUAGE plpgsql;"
      " CREATE TRIGGER refuse BEFORE UPDATE ON contacts FOR EACH ROW"
      " WHEN (NEW.contact_key = 'e:bad@example.com') EXECUTE FUNCTION refuse()");
  Error e = ExpectError([&] {
    store->Write([&] {
      for (const auto& key : keys) store->TouchContact(key, 5);
      store->AwaitWrites();
    });
  });
  BOOST_TEST(Contains(e.what(), "refused by the test"), e.what());
  BOOST_TEST(ts.Int("SELECT count(*) FROM contacts WHERE last_message_ms = 5") == 0);
  size_t failed = 0;
  store->Write([&] {
    for (const auto& key : keys) {
      try {
        store->Write([&] { store->TouchContact(key, 6); });
      } catch (const Error&) {
        ++failed;
      }
    }
  });
  BOOST_TEST(failed == 1u);
  BOOST_TEST(RawPg(ts.schema()).Column("SELECT contact_key FROM contacts WHERE last_message_ms = 6"
                                       " ORDER BY contact_key") ==
                 (std::vector<std::string>{"e:ann@example.com", "e:cy@example.com"}),
             boost::test_tools::per_element());
}

// Migration 15: message bodies are compressed with lz4 where the server offers it.
BOOST_AUTO_TEST_CASE(pg_message_bodies_are_compressed_with_lz4_where_the_server_has_it) {
  TestStore ts(Backend::kPostgres);
  auto store = OpenStore(ts.url());
  RawPg raw(ts.schema());
  const bool lz4 = !raw.Column("SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression'"
                               " AND 'lz4' = ANY(enumvals)").empty();
  const auto methods = raw.Column(
      "SELECT attname || '=' || coalesce(nullif(attcompression::text, ''), '-') FROM pg_attribute"
      " WHERE attrelid = 'message_bodies'::regclass AND attname IN ('text', 'html') ORDER BY attname");
  const std::string m = lz4 ? "l" : "-";
  BOOST_TEST(methods == (std::vector<std::string>{"html=" + m, "text=" + m}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(pg_text_with_a_nul_character_is_refused_not_cut_short) {
  TestStore ts(Backend::kPostgres);
  auto store = OpenStore(ts.url());
  Error e = ExpectError([&] {
    store->Write([&] { store->ScheduleJob("step", std::string("a\0b", 3), 1); });
  });
  BOOST_TEST((e.code() == ErrorCode::kStorage));
  BOOST_TEST(Contains(e.what(), "NUL"), e.what());
  BOOST_TEST(ts.CountJobs() == 0);
}

// ---- PostgreSQL: several processes on one database ---------------------------------------

// Workers on several hosts draw codes from one pool: no code is handed out twice, and every
// code goes to the contact that drew it.
BOOST_AUTO_TEST_CASE(pg_processes_drawing_from_one_pool_never_share_a_code) {
  TestStore ts(Backend::kPostgres);
  constexpr int kCodes = 300, kChildren = 4;
  CouponPool pool;
  pool.name = "welcome";
  pool.kind = PoolKind::kImported;
  pool.discount.amount = 1000;
  {
    auto store = OpenStore(ts.url());
    std::vector<Coupon> codes;
    for (int i = 0; i < kCodes; ++i) {
      Coupon c;
      c.code = "W" + std::to_string(100000 + i);
      c.pool = pool.name;
      c.discount = pool.discount;
      codes.push_back(c);
    }
    store->Write([&] {
      store->SavePool(pool);
      BOOST_TEST(store->AddCoupons(codes) == kCodes);
    });
  }
  const int ok = RunChildren(kChildren, [&](int child) {
    auto store = OpenStore(ts.url());
    std::ofstream log(ts.File("codes-" + std::to_string(child)));
    for (int i = 0;; ++i) {
      const std::string contact = "e:c" + std::to_string(child) + "-" + std::to_string(i);
      std::optional<Coupon> got;
      store->Write([&] { got = store->TakeFreeCoupon(pool, contact, 1000); });
      if (!got) break;
      log << got->code << ' ' << contact << '\n';
    }
    log.close();
    return static_cast<bool>(log);
  });
  BOOST_TEST(ok == kChildren);
  std::map<std::string, std::string> holder;
  for (int c = 0; c < kChildren; ++c) {
    std::ifstream in(ts.File("codes-" + std::to_string(c)));
    std::string code, contact;
    while (in >> code >> contact) {
      BOOST_TEST(holder.emplace(code, contact).second, code << " handed out twice");
      BOOST_TEST(ts.Int("SELECT count(*) FROM coupons WHERE code = '" + code +
                        "' AND assigned_contact = '" + contact + "'") == 1);
    }
  }
  BOOST_TEST(holder.size() == static_cast<size_t>(kCodes));
  BOOST_TEST(ts.Int("SELECT count(*) FROM coupons WHERE assigned_contact = ''") == 0);
}

// The engine loads, changes and saves rows inside Write(); processes on several hosts must
// not lose each other's updates (Write holds the store's writer lock, as SQLite does).
BOOST_AUTO_TEST_CASE(pg_read_modify_write_in_several_processes_loses_no_update) {
  TestStore ts(Backend::kPostgres);
  constexpr int kChildren = 4, kRounds = 100;
  {
    auto store = OpenStore(ts.url());
    Cart c;
    c.cart_id = "counter";
    store->Write([&] { store->SaveCart(c); });
  }
  const int ok = RunChildren(kChildren, [&](int) {
    auto store = OpenStore(ts.url());
    for (int i = 0; i < kRounds; ++i) {
      store->Write([&] {
        Cart c = store->LoadCart("counter").value();
        c.last_activity_ms += 1;
        store->SaveCart(c);
      });
    }
    return true;
  });
  BOOST_TEST(ok == kChildren);
  auto store = OpenStore(ts.url());
  BOOST_TEST(store->LoadCart("counter").value().last_activity_ms == kChildren * kRounds);
}

// ---- both backends answer alike ------------------------------------------------------------

namespace {

constexpr Millis kHourMs = 3600 * 1000, kDayMs = 24 * kHourMs;
constexpr Millis kDay0 = 1772442000000;  // 2026-03-02 09:00 UTC

// The same varied data, written through the Store interface: carts in every stage and state,
// page views, messages of every status over several days with variants and engagement,
// orders touched by messages and by popups in two currencies, popups, experiments, coupons,
// jobs, pauses. Ties on purpose where a backend could break them differently.
void Populate(Store& store) {
  const Stage stages[] = {Stage::kCart, Stage::kContact, Stage::kShippingAddress,
                          Stage::kShippingMethod, Stage::kPayment};
  const CartState states[] = {CartState::kActive, CartState::kAbandoned, CartState::kRecovered,
                              CartState::kExpired, CartState::kEmptied};
  const char* page_types[] = {"home", "category", "product", "cart", "other"};
  store.Write([&] {
    for (int i = 0; i < 12; ++i) {
      Cart c;
      c.cart_id = "c" + std::to_string(i);
      c.visitor_id = "v" + std::to_string(i % 8);
      c.contact_key = i < 3 ? "e:tie@example.com" : "e:s" + std::to_string(i) + "@example.com";
      c.state = states[i % 5];
      c.stage = stages[(i * 3) % 5];
      c.currency = "EUR";
      if (i != 7) c.items.push_back(LineItem{"SKU" + std::to_string(i), "Thing", 1000 + i, 1 + i % 3, "", ""});
      c.created_ms = kDay0 + i * 5 * kHourMs;
      c.last_activity_ms = i < 3 ? kDay0 + 999 : c.created_ms + kHourMs;  // a tie for c0..c2
      store.SaveCart(c);
    }
    Cart again = store.LoadCart("c1").value();  // written last: first among equals
    store.SaveCart(again);
    for (int i = 0; i < 30; ++i) {
      Event e;
      e.type = EventType::kPageView;
      e.at_ms = kDay0 + i * 2 * kHourMs;
      e.visitor_id = "v" + std::to_string(i % 11);
      store.AppendEvent(e, std::string(R"({"type":"page_view","visitor_id":")") + e.visitor_id +
                               R"(","page_type":")" + page_types[(i * 7) % 5] + R"("})");
    }
    for (int i = 0; i < 6; ++i) {
      Contact c;
      c.key = i < 3 ? "e:p" + std::to_string(i) + "@example.com" : "p:+4912345";
      c.phone = "+4912345";
      c.email = "p" + std::to_string(i) + "@example.com";
      c.consent.email = i % 2 == 0;
      store.SaveContact(c);
    }
    const char* statuses[] = {"sent", "bounced", "failed", "suppressed", "paused", "sent", "sending", "sent"};
    const char* channels[] = {"email", "sms", "push"};
    const char* variants[] = {"", "plain", "coupon", "holdout"};
    for (int k = 0; k < 32; ++k) {
      MessageRecord m;
      m.message_id = "m" + std::to_string(k);
      m.journey_id = "j" + std::to_string(k % 6);
      m.cart_id = "c" + std::to_string(k % 12);
      m.contact_key = k % 5 == 0 ? "e:tie@example.com" : "e:s" + std::to_string(k % 7) + "@example.com";
      m.flow = k % 3 == 0 ? "winback" : "cart-recovery";
      m.path = k % 2 ? "visitor" : "customer";
      m.step = 1 + k % 3;
      m.channel = channels[k % 3];
      m.status = ParseMessageStatus(statuses[k % 8]).value();
      m.reason = m.status == MessageStatus::kPaused ? (k % 16 == 4 ? "flow_paused" : "pool_empty") : "";
      m.variant = variants[k % 4];
      m.created_ms = kDay0 + (k % 4) * kDayMs + k * 1000;
      m.due_ms = m.created_ms;
      const bool went = m.status == MessageStatus::kSent || m.status == MessageStatus::kBounced;
      m.sent_ms = went ? kDay0 + (k % 5) * kDayMs + (k % 5 == 0 ? 0 : k * 60000) : 0;  // ties at k%5==0
      store.InsertMessage(m);
      m.opened_ms = went && k % 3 != 2 ? m.sent_ms + 1000 : 0;
      m.clicked_ms = went && k % 4 == 0 ? m.sent_ms + 2000 : 0;
      m.unsubscribed_ms = went && k % 7 == 3 ? m.sent_ms + 3000 : 0;
      store.UpdateMessage(m);
    }
    OfferRecord o;
    for (int i = 0; i < 8; ++i) {
      o.visitor_id = "v" + std::to_string(i % 4);
      o.cart_id = "c" + std::to_string(i);
      o.contact_key = i % 3 == 0 ? "" : "e:s" + std::to_string(i % 7) + "@example.com";
      o.show = i % 4 != 1;
      o.kind = i % 3 == 2 ? "email_capture" : "coupon";
      o.variant = variants[i % 4];
      o.reason = o.show ? "" : "cap";
      o.incentive_rule = i % 2 ? "R4.4-first" : "";
      o.coupon_code = o.show ? "X" + std::to_string(i) : "";
      o.decided_ms = kDay0 + (i / 2) * kHourMs;  // ties in pairs: the later id wins
      store.SaveOffer(o);
    }
    for (int i = 0; i < 10; ++i) {
      OrderRecord r;
      r.order_id = "o" + std::to_string(i);
      r.cart_id = "c" + std::to_string(i);
      r.contact_key = "e:s" + std::to_string(i % 7) + "@example.com";
      r.value_minor = 2500 + 100 * i;
      r.currency = i == 4 ? "USD" : "EUR";
      r.coupon = i % 3 == 0 ? "WELCOME" : "";
      r.at_ms = kDay0 + i * 9 * kHourMs;
      if (i % 4 == 1) {
        r.message_id = "offer:" + std::to_string(1 + i % 8);
        r.flow = "exit_intent";
        r.channel = "coupon";
      } else if (i % 4 != 3) {
        r.message_id = "m" + std::to_string(i * 3 % 32);
        r.flow = i * 3 % 3 == 0 ? "winback" : "cart-recovery";
        r.step = 1 + (i * 3 % 32) % 3;
        r.channel = channels[(i * 3 % 32) % 3];
      }
      store.InsertOrder(r);
      store.InsertOrder(r);  // a provider's retry
    }
    for (int i = 0; i < 12; ++i) {
      const std::string contact = "e:s" + std::to_string(i % 7) + "@example.com";
      store.AssignVariant("exp1", contact, variants[1 + i % 3], "cart-recovery", kDay0 - kHourMs + i);
    }
    CouponPool pool;
    pool.name = "imported";
    pool.kind = PoolKind::kImported;
    pool.discount.amount = 1500;
    pool.valid_for_ms = 3 * kDayMs;
    store.SavePool(pool);
    std::vector<Coupon> codes;
    for (const char* code : {"ZZZ9", "AAA1", "MMM5", "BBB2", "OLD0"}) {
      Coupon c;
      c.code = code;
      c.pool = pool.name;
      c.discount = pool.discount;
      c.expires_ms = code == std::string("OLD0") ? kDay0 - 1 : 0;
      codes.push_back(c);
    }
    store.AddCoupons(codes);
    store.TakeFreeCoupon(pool, "e:s1@example.com", kDay0);
    store.TakeFreeCoupon(pool, "e:s2@example.com", kDay0);
    store.MarkRedeemed("ZZZ9", "o1", kDay0 + kHourMs);
    JourneyRecord j;
    for (int i = 0; i < 5; ++i) {
      j.journey_id = "j" + std::to_string(i);
      j.contact_key = i < 3 ? "e:tie@example.com" : "e:s" + std::to_string(i) + "@example.com";
      j.cart_id = i < 3 ? "c0" : "c" + std::to_string(i);
      j.flow = "cart-recovery";
      j.path = "visitor";
      j.state = i == 1 ? JourneyState::kEnded : JourneyState::kRunning;
      j.started_ms = i < 3 ? kDay0 : kDay0 + i;  // j0..j2 tie
      j.next_branch = i == 2 ? std::optional<Engagement>(Engagement::kOpened) : std::nullopt;
      store.SaveJourney(j);
    }
    j = store.LoadJourney("j0").value();  // written last: first among equals
    store.SaveJourney(j);
    for (int i = 0; i < 6; ++i) store.ScheduleJob(i % 2 ? "step" : "abandon", "s" + std::to_string(i), kDay0 + (5 - i) * kHourMs);
    store.PauseFlow("winback", "staff", kDay0);
    store.PauseFlow("winback", "staff again", kDay0 + 1);
    store.PauseFlow("other", "test", kDay0 + 2);
    store.ResumeFlow("other", kDay0 + 3);
    store.RecordWorkerRun("host-a:1", kDay0, 3);
    store.RecordWorkerRun("host-a:1", kDay0 + kHourMs, 4);
    store.RecordWorkerRun("host-b:2", kDay0 + 30 * 60000, 1);
  });
}

std::string Named(std::optional<Engagement> e) { return e ? EngagementName(*e) : "-"; }

// Everything the read methods say about that data, one line per fact.
std::vector<std::string> Describe(Store& store) {
  std::vector<std::string> out;
  std::ostringstream line;
  auto emit = [&] {
    out.push_back(line.str());
    line.str("");
  };
  auto msg = [&](const MessageRecord& m) {
    line << m.message_id << '|' << m.journey_id << '|' << m.cart_id << '|' << m.contact_key << '|'
         << m.flow << '|' << m.path << '|' << m.step << '|' << Named(m.branch) << '|'
         << m.channel << '|' << m.status << '|' << m.reason << '|' << m.sent_ms << '|' << m.opened_ms
         << '|' << m.clicked_ms << '|' << m.created_ms << '|' << m.variant << '|' << m.unsubscribed_ms;
  };
  auto report = [&](ReportQuery q) {
    line << "report";
    for (const auto& k : q.by) line << ' ' << k;
    for (const auto& [k, v] : q.where) line << ' ' << k << '=' << v;
    emit();
    for (const auto& r : store.Report(q)) {
      for (const auto& [k, v] : r.keys) line << k << '=' << v << ' ';
      line << r.sent << ' ' << r.bounced << ' ' << r.failed << ' ' << r.suppressed << ' ' << r.opened
           << ' ' << r.clicked << ' ' << r.unsubscribed << ' ' << r.orders << ' '
           << r.orders_with_coupon << ' ' << r.revenue_minor << ' ' << r.currency;
      emit();
    }
  };
  for (std::vector<std::string> by : std::vector<std::vector<std::string>>{
           {}, {"flow"}, {"flow", "step", "channel"}, {"day"}, {"variant"}, {"path", "day"},
           {"channel", "variant"}}) {
    ReportQuery q;
    q.by = by;
    report(q);
    q.since = kDay0 + kDayMs;
    q.until = kDay0 + 3 * kDayMs;
    report(q);
  }
  for (const auto& [k, v] : std::vector<std::pair<std::string, std::string>>{
           {"channel", "email"}, {"variant", "plain"}, {"step", "2"}, {"flow", "winback"},
           {"path", "visitor"}}) {
    ReportQuery q;
    q.by = {"flow", "day"};
    q.where[k] = v;
    report(q);
  }
  for (const auto& r : store.Funnel(kDay0, kDay0 + 2 * kDayMs)) {
    line << "funnel " << r.stage << ' ' << r.carts << ' ' << r.abandoned << ' ' << r.recovered;
    emit();
  }
  for (auto [since, until] : {std::pair<Millis, Millis>{kDay0, kDay0 + 3 * kDayMs}, {kDay0 + kDayMs, kDay0 + kDayMs + 9 * kHourMs}}) {
    LeadCounts l = store.Leads(since, until);
    line << "leads " << l.hot << ' ' << l.warm << ' ' << l.cold;
    emit();
  }
  for (auto [since, until] : {std::pair<Millis, Millis>{INT64_MIN, INT64_MAX}, {kDay0 + kDayMs, INT64_MAX}}) {
    for (const auto& v : store.StepVariants("exp1", 2 * kDayMs, since, until)) {
      line << "step variant " << v.variant << ' ' << v.trials << ' ' << v.conversions;
      emit();
    }
    for (const char* kind : {"coupon", "email_capture"}) {
      for (const auto& v : store.OfferVariants(kind, kDayMs, since, until)) {
        line << "offer variant " << kind << ' ' << v.variant << ' ' << v.trials << ' ' << v.conversions;
        emit();
      }
    }
  }
  IncentiveHistory h = store.IncentiveCounts(kDay0, "c1");
  line << "incentives " << h.abandoners << ' ' << h.incentives << ' ' << h.counted << ' '
       << store.IncentiveCounts(kDay0, "c2").counted << ' '
       << store.LastIncentiveTo("e:s1@example.com") << ' ' << store.LastIncentiveTo("nobody");
  emit();
  for (const auto& e : store.ListEvents(kDay0 + kHourMs, kDay0 + 40 * kHourMs, 3, 7)) {
    line << "event " << e.id << ' ' << e.type << ' ' << e.at_ms << ' ' << e.json;
    emit();
  }
  for (MessageFilter f : {MessageFilter{}, MessageFilter{"c1", "", "", 1000},
                          MessageFilter{"", "e:tie@example.com", "", 1000},
                          MessageFilter{"", "", "j2", 3}, MessageFilter{"", "", "", 0}}) {
    line << "messages " << f.cart_id << '/' << f.contact_key << '/' << f.journey_id << '/' << f.limit;
    emit();
    for (const auto& m : store.ListMessages(f)) {
      msg(m);
      emit();
    }
  }
  for (Millis since : {Millis{0}, kDay0 + kDayMs}) {
    auto last = store.LastSentTo("e:tie@example.com", since);
    line << "last sent ";
    if (last) msg(*last);
    emit();
    ContactSends sends = store.SendsTo("e:tie@example.com", since);
    for (const auto& [ch, ms] : sends.last_by_channel) line << ch << '=' << ms << ' ';
    for (const auto& [ch, ms] : sends.recent) line << ch << '@' << ms << ' ';
    emit();
  }
  line << "carts of tie:";
  for (const auto& id : store.CartsOfContact("e:tie@example.com")) line << ' ' << id;
  emit();
  auto phones = store.ContactsWithPhone("+4912345", "e:p1@example.com");
  std::sort(phones.begin(), phones.end());
  line << "phone:";
  for (const auto& k : phones) line << ' ' << k;
  emit();
  for (auto j : {store.LatestJourneyOfCart("c0"), store.RunningJourneyOfContact("e:tie@example.com"),
                 store.LoadJourney("j2")}) {
    line << "journey " << (j ? j->journey_id + ' ' + JourneyStateName(j->state) + ' ' + Named(j->next_branch) : "-");
    emit();
  }
  auto offer = store.LatestOffer("v1", "e:s1@example.com");
  auto shown = store.LastShownOffer("v2", "", kDay0, kDay0 + 5 * kHourMs);
  line << "offers " << (offer ? offer->offer_id : -1) << ' ' << (shown ? shown->offer_id : -1);
  emit();
  auto assigned = store.AssignedCoupon("imported", "e:s2@example.com", kDay0);
  line << "coupons " << store.FreeCoupons("imported", kDay0) << ' ' << (assigned ? assigned->code : "-")
       << ' ' << (assigned ? assigned->expires_ms : -1);
  emit();
  for (const auto& [k, n] : store.PausedMessages()) {
    line << "paused " << k.first << ' ' << k.second << ' ' << n;
    emit();
  }
  for (const auto& [flow, p] : store.FlowPauses()) {
    line << "pause " << flow << ' ' << p.reason << ' ' << p.paused_ms;
    emit();
  }
  StoreStatus st = store.Status(kDay0 + 3 * kHourMs);
  line << "status " << st.worker_last_id << ' ' << st.worker_last_run_ms.value_or(-1) << ' '
       << st.jobs_due << ' ' << st.jobs_pending << ' ' << st.oldest_due_ms.value_or(-1) << ' '
       << st.next_due_ms.value_or(-1) << ' ' << st.events << ' ' << st.carts << ' '
       << st.running_journeys << ' ' << st.messages_sent << ' ' << st.messages_failed << ' '
       << st.schema_version;
  emit();
  // Writes that answer too, in order.
  store.Write([&] {
    CouponPool pool = store.LoadPool("imported").value();
    for (int i = 0; i < 3; ++i) {
      auto c = store.TakeFreeCoupon(pool, "e:late" + std::to_string(i), kDay0 + kHourMs);
      line << "took " << (c ? c->code + ' ' + std::to_string(c->expires_ms) : "-");
      emit();
    }
    line << "assign " << store.AssignVariant("exp1", "e:s3@example.com", "other", "f", 1);
    emit();
    line << "resumed " << store.ResumePaused(kDay0) << ' ' << store.PruneCoupons(kDay0 + kDayMs, 0);
    emit();
    for (const auto& j : store.ClaimDueJobs(kDay0 + 3 * kHourMs, 10, kHourMs)) {
      line << "claimed " << j.kind << ' ' << j.subject << ' ' << j.due_ms << ' ' << j.attempt;
      emit();
    }
  });
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(both_backends_answer_alike_for_the_same_data) {
  TestStore lite(Backend::kSqlite), pg(Backend::kPostgres);
  auto a = OpenStore(lite.url());
  auto b = OpenStore(pg.url());
  Populate(*a);
  Populate(*b);
  const auto from_sqlite = Describe(*a);
  const auto from_postgres = Describe(*b);
  BOOST_TEST(from_sqlite.size() > 100u);
  BOOST_TEST(from_sqlite == from_postgres, boost::test_tools::per_element());
}

namespace {

// Random incentive decisions over ~40 days, many on either side of a day's edge, recorded
// out of time order: popups and reminder steps, on carts and on cart-less visitors.
std::vector<OfferRecord> RandomDecisions(std::mt19937_64& rng, int n, Millis day0) {
  const char* rules[] = {"within_share", "not_drawn", "budget_exhausted", "reserved_for_valuable",
                         "recent_incentive", "priority_customer", "priority_budget_exhausted"};
  std::vector<OfferRecord> out;
  for (int i = 0; i < n; ++i) {
    OfferRecord o;
    const int ab = static_cast<int>(rng() % (n / 3 + 1));
    if (ab % 5 == 0) {
      o.visitor_id = "v" + std::to_string(ab);  // a popup without a cart
    } else {
      o.cart_id = "c" + std::to_string(ab);
      o.visitor_id = rng() % 2 ? "v" + std::to_string(ab) : "flow:j" + std::to_string(i) + "#2";
    }
    o.kind = rng() % 10 == 0 ? "email_capture" : "coupon";
    o.incentive_rule = o.kind == "coupon" && rng() % 12 ? rules[rng() % 7] : "";
    const std::string& r = o.incentive_rule;
    o.show = (r == "within_share" || r == "priority_customer") ? rng() % 4 != 0 : rng() % 9 == 0;
    const Millis day = day0 + static_cast<Millis>(rng() % 40) * kDay;
    o.decided_ms = rng() % 3 ? day + static_cast<Millis>(rng() % kDay)
                             : day + (rng() % 2 ? 0 : kDay - 1) + static_cast<Millis>(rng() % 3);
    o.source = rng() % 2 ? "popup" : "flow";
    out.push_back(o);
  }
  return out;
}

// What a count(DISTINCT) over every decision in the window gives: the budget's definition.
IncentiveHistory ScanIncentives(const TestStore& ts, Millis since, const std::string& abandonment) {
  const std::string ab = "(CASE WHEN cart_id <> '' THEN cart_id ELSE visitor_id END)";
  const std::string in = " FROM offers WHERE kind = 'coupon' AND incentive_rule <> '' AND decided_ms >= " +
                         std::to_string(since);
  IncentiveHistory h;
  h.abandoners = ts.Int("SELECT count(DISTINCT " + ab + ")" + in);
  h.incentives = ts.Int("SELECT count(*)" + in + " AND show = 1");
  h.valuable = ts.Int("SELECT count(DISTINCT " + ab + ")" + in +
                      " AND incentive_rule IN ('priority_customer', 'priority_budget_exhausted')");
  h.valuable_incentives = ts.Int("SELECT count(*)" + in + " AND show = 1 AND incentive_rule = 'priority_customer'");
  h.counted = ts.Int("SELECT count(*)" + in + " AND " + ab + " = '" + abandonment + "'") > 0;
  return h;
}

void ExpectBudgetMatchesScan(Store& store, const TestStore& ts, std::mt19937_64& rng, Millis day0,
                             int n_abandonments) {
  std::vector<Millis> sinces;
  for (int d = -1; d <= 41; d += 3)
    for (Millis edge : {Millis{0}, Millis{-1}, Millis{1}, kDay / 2})
      sinces.push_back(day0 + d * kDay + edge);
  for (int i = 0; i < 20; ++i) sinces.push_back(day0 + static_cast<Millis>(rng() % (41 * kDay)));
  for (Millis since : sinces) {
    const int ab = static_cast<int>(rng() % (n_abandonments + 1));
    const std::string key = (ab % 5 == 0 ? "v" : "c") + std::to_string(ab);
    const IncentiveHistory got = store.IncentiveCounts(since, key);
    const IncentiveHistory want = ScanIncentives(ts, since, key);
    BOOST_TEST_CONTEXT("since " << since << " (day0 + " << (since - day0) << " ms), " << key) {
      BOOST_TEST(got.abandoners == want.abandoners);
      BOOST_TEST(got.incentives == want.incentives);
      BOOST_TEST(got.valuable == want.valuable);
      BOOST_TEST(got.valuable_incentives == want.valuable_incentives);
      BOOST_TEST(got.counted == want.counted);
    }
  }
}

}  // namespace

BOOST_DATA_TEST_CASE(the_incentive_budget_counts_what_a_scan_of_the_window_counts_through_a_prune,
                     bdata::make(kBothBackends), backend) {
  TestStore ts(backend);
  auto store = OpenStore(ts.url());
  std::mt19937_64 rng(20261207);
  const Millis day0 = kDay0 - kDay0 % kDay;
  const int n = 900;
  for (const OfferRecord& o : RandomDecisions(rng, n, day0)) store->Write([&] { store->SaveOffer(o); });
  BOOST_REQUIRE(ts.Int("SELECT count(DISTINCT decided_ms / 86400000) FROM offers") >= 35);
  ExpectBudgetMatchesScan(*store, ts, rng, day0, n / 3);
  // Retention takes the decisions older than its window (small batches, and on a day's
  // middle): the budget then counts what is left.
  RetentionWindows w;
  w.offers_ms = 25 * kDay;
  w.batch = 37;
  const Millis now = day0 + 40 * kDay + kDay / 3;
  for (int round = 0; round < 100; ++round) {
    PruneCounts c;
    store->Write([&] { c = store->Prune(now, w, kDay); });
    if (!c.more) break;
  }
  BOOST_REQUIRE(ts.Int("SELECT count(*) FROM offers WHERE decided_ms < " + std::to_string(now - w.offers_ms)) == 0);
  BOOST_REQUIRE(ts.Int("SELECT count(*) FROM offers") > 0);
  ExpectBudgetMatchesScan(*store, ts, rng, day0, n / 3);
  BOOST_TEST(ts.Int("SELECT count(*) FROM incentive_days WHERE abandoners < 0 OR valuable < 0 OR incentives < 0"
                    " OR valuable_incentives < 0") == 0);
}

BOOST_DATA_TEST_CASE(the_incentive_budget_migration_counts_the_decisions_already_recorded,
                     bdata::make(kBothBackends), backend) {
  TestStore ts(backend);
  std::mt19937_64 rng(7);
  const Millis day0 = kDay0 - kDay0 % kDay;
  const int n = 300;
  {
    // The store as the version before the budget's tables wrote it, with its decisions.
    auto store = OpenStore(ts.url());
    for (const OfferRecord& o : RandomDecisions(rng, n, day0)) store->Write([&] { store->SaveOffer(o); });
  }
  ts.Exec("DROP TABLE incentive_abandonments; DROP TABLE incentive_days;");
  const int budget_version = ts.postgres() ? internal::PostgresSchemaVersion() : internal::SqliteSchemaVersion();
  const int before = ts.MigrationWith("CREATE TABLE incentive_abandonments");  // creates the tables
  BOOST_REQUIRE(before >= 0);
  // Later migrations (none yet, or another helper's) are left applied: only ours runs again.
  if (ts.postgres()) {
    ts.Exec("UPDATE schema_version SET version = " + std::to_string(before));
  } else {
    ts.Exec("PRAGMA user_version = " + std::to_string(before));
  }
  if (before + 1 < budget_version) {
    BOOST_TEST_MESSAGE("later migrations exist; checking the backfill alone");
    ts.Exec(ts.postgres() ? internal::PostgresMigration(before) : internal::SqliteMigration(before));
    ts.Exec(ts.postgres() ? "UPDATE schema_version SET version = " + std::to_string(budget_version)
                          : "PRAGMA user_version = " + std::to_string(budget_version));
  }
  auto store = OpenStore(ts.url());
  ExpectBudgetMatchesScan(*store, ts, rng, day0, n / 3);
  // And it goes on counting from there.
  for (const OfferRecord& o : RandomDecisions(rng, n, day0)) store->Write([&] { store->SaveOffer(o); });
  ExpectBudgetMatchesScan(*store, ts, rng, day0, n / 3);
}

// ---- Message bodies in a cold table (migration 11) --------------------------------------

// The columns of `table` named `column` (0 or 1), whichever the backend.
int64_t HasColumn(const TestStore& ts, const std::string& table, const std::string& column) {
  if (ts.postgres())
    return ts.Int("SELECT count(*) FROM information_schema.columns WHERE table_schema = '" + ts.schema() +
                  "' AND table_name = '" + table + "' AND column_name = '" + column + "'");
  return ts.Int("SELECT count(*) FROM pragma_table_info('" + table + "') WHERE name = '" + column + "'");
}

BOOST_DATA_TEST_CASE(a_message_body_is_written_once_to_the_cold_table_and_goes_with_its_row,
                     bdata::make(kBothBackends), backend) {
  TestStore ts(backend);
  auto store = OpenStore(ts.url());
  // The hot row has no room for a body.
  for (const char* column : {"subject", "text", "html"}) BOOST_TEST(HasColumn(ts, "messages", column) == 0, column);
  BOOST_TEST(HasColumn(ts, "messages", "to_addr") == 1);
  MessageRecord a = Msg("m-a", "ja", "sending");
  a.text = std::string(5000, 'x') + " Hallo Zoë";
  a.html = "<p>Hallo Zo\xc3\xab</p>";
  MessageRecord quiet = Msg("m-q", "jq", "suppressed");
  quiet.subject.clear();  // suppressed before rendering: nothing to keep
  store->Write([&] {
    BOOST_TEST(store->InsertMessage(a));
    BOOST_TEST(store->InsertMessage(quiet));
    BOOST_TEST(!store->InsertMessage(a));  // exactly one per id, body included
  });
  BOOST_TEST(ts.Int("SELECT count(*) FROM message_bodies") == 1);
  BOOST_TEST(ts.Int("SELECT length(b.text) FROM message_bodies b JOIN messages m ON m.body_id = b.body_id"
                    " WHERE m.message_id = 'm-a'") == 5010);  // characters
  // Recording the outcome and an open touch the hot row only; the body reads back whole.
  MessageRecord sent = a;
  sent.status = MessageStatus::kSent;
  sent.sent_ms = 2000;
  sent.attempts = 1;
  store->Write([&] { store->RecordOutcome(sent); });
  auto back = store->LoadMessage("m-a");
  BOOST_REQUIRE(back.has_value());
  BOOST_TEST((back->status == MessageStatus::kSent));
  BOOST_TEST(back->subject == a.subject);
  BOOST_TEST(back->text == a.text);
  BOOST_TEST(back->html == a.html);
  back->opened_ms = 3000;
  store->Write([&] { store->UpdateMessage(*back); });
  auto opened = store->LoadMessages({"m-a", "m-q"});
  BOOST_REQUIRE(opened.size() == 2u);
  for (const auto& m : opened) {
    if (m.message_id == "m-a") {
      BOOST_TEST(m.opened_ms == 3000);
      BOOST_TEST(m.text == a.text);
    } else {
      BOOST_TEST(m.subject.empty());
      BOOST_TEST(m.text.empty());
      BOOST_TEST(m.to == quiet.to);
    }
  }
  // New contents (a step planned again) replace the old.
  back->text = "shorter";
  store->Write([&] { store->UpdateMessage(*back); });
  BOOST_TEST(store->LoadMessage("m-a")->text == "shorter");
  BOOST_TEST(store->ListMessages(MessageFilter{}).size() == 2u);
  // Retention's bodies window takes the body, not the row nor its address.
  RetentionWindows w;
  w.bodies_ms = kDay;
  PruneCounts c;
  store->Write([&] { c = store->Prune(2 * kDay, w, kDay); });
  BOOST_TEST(c.bodies == 1);
  BOOST_TEST(ts.Int("SELECT count(*) FROM message_bodies") == 0);
  auto kept = store->LoadMessage("m-a");
  BOOST_REQUIRE(kept.has_value());
  BOOST_TEST(kept->text.empty());
  BOOST_TEST(kept->to == a.to);
}

// A message written without waiting for its answer (PostgreSQL: one statement, in the
// pipeline) keeps its body; the same id again writes nothing, body included, and leaves
// no body behind without a message.
BOOST_DATA_TEST_CASE(a_message_inserted_without_waiting_keeps_one_body_and_a_repeat_writes_nothing,
                     bdata::make(kBothBackends), backend) {
  TestStore ts(backend);
  auto store = OpenStore(ts.url());
  MessageRecord a = Msg("m-a", "ja", "sending");
  a.text = "Hallo Zo\xc3\xab";
  MessageRecord again = a;
  again.text = "another rendering";
  MessageRecord quiet = Msg("m-q", "jq", "suppressed");
  quiet.subject.clear();
  store->Write([&] {
    store->InsertMessageAsync(a);
    store->InsertMessageAsync(quiet);
    store->InsertMessageAsync(again);
    store->AwaitWrites();
  });
  store->Write([&] { store->InsertMessageAsync(again); });  // in a later transaction too
  BOOST_TEST(ts.Int("SELECT count(*) FROM messages") == 2);
  BOOST_TEST(ts.Int("SELECT count(*) FROM message_bodies") == 1);
  BOOST_TEST(ts.Int("SELECT count(*) FROM message_bodies b JOIN messages m ON m.body_id = b.body_id"
                    " WHERE m.message_id = 'm-a'") == 1);
  BOOST_TEST(ts.Int("SELECT count(*) FROM messages WHERE message_id = 'm-q' AND body_id IS NULL") == 1);
  BOOST_TEST(store->LoadMessage("m-a")->text == a.text);
  BOOST_TEST(!store->InsertMessage(again));
  BOOST_TEST(ts.Int("SELECT count(*) FROM message_bodies") == 1);
}

BOOST_DATA_TEST_CASE(a_message_row_pruned_before_its_body_takes_the_body_along, bdata::make(kBothBackends),
                     backend) {
  TestStore ts(backend);
  auto store = OpenStore(ts.url());
  MessageRecord a = Msg("m-a", "ja", "sent");
  a.text = "Your kite is waiting";
  store->Write([&] { BOOST_TEST(store->InsertMessage(a)); });
  RetentionWindows w;
  w.bodies_ms = 1000 * kDay;  // longer than the row's own window
  w.reports_ms = kDay;
  store->Write([&] { store->Prune(3 * kDay, w, kDay); });
  BOOST_TEST(ts.Int("SELECT count(*) FROM messages") == 0);
  BOOST_TEST(ts.Int("SELECT count(*) FROM message_bodies") == 0);
}

// A store as version 10 wrote it (bodies inside the message rows) keeps every body, now in
// the cold table, and the hot rows lose the columns.
BOOST_DATA_TEST_CASE(the_cold_body_migration_moves_the_bodies_already_stored, bdata::make(kBothBackends),
                     backend) {
  TestStore ts(backend);
  const int target = ts.postgres() ? internal::PostgresSchemaVersion() : internal::SqliteSchemaVersion();
  const int before = ts.MigrationWith("CREATE TABLE message_bodies");
  BOOST_REQUIRE(before == 10);
  const std::string insert =
      "INSERT INTO messages(message_id, journey_id, cart_id, contact_key, flow, path, step, branch,"
      " channel, status, reason, to_addr, subject, text, html, due_ms, sent_ms, attempts, created_ms,"
      " variant) VALUES";
  const std::string rows =
      "('m1', 'j1', 'c1', 'e:a@x.org', 'f', 'visitor', 1, '', 'email', 'sent', '', 'a@x.org',"
      "  'Your cart', 'Hello Ann', '<p>Hello Ann</p>', 10, 20, 1, 10, ''),"
      "('m2', 'j2', 'c2', 'e:b@x.org', 'f', 'visitor', 1, '', 'sms', 'sent', '', '+4860',"
      "  '', 'Cart waiting', '', 10, 20, 1, 11, ''),"
      "('m3', 'j3', 'c3', 'e:c@x.org', 'f', 'visitor', 1, '', 'email', 'suppressed', 'x', '',"
      "  '', '', '', 10, 0, 0, 12, ''),"
      "('m4', 'j4', 'c4', 'e:d@x.org', 'f', 'visitor', 1, NULL, 'email', 'sent', NULL, NULL,"
      "  NULL, NULL, NULL, 10, 0, 0, 13, '')";
  if (ts.postgres()) {
    RawPg raw;
    raw.Exec("CREATE SCHEMA " + ts.schema() + "; SET search_path TO " + ts.schema());
    // (SELECT 1 after it: a migration may be only a comment, which libpq calls an empty query.)
    for (int i = 0; i < before; ++i) raw.Exec(std::string(internal::PostgresMigration(i)) + "\n;SELECT 1");
    raw.Exec("CREATE TABLE schema_version(app TEXT PRIMARY KEY, version BIGINT NOT NULL);"
             "INSERT INTO schema_version VALUES('cartrecovery', " + std::to_string(before) + ");" +
             insert + rows);
  } else {
    RawDb raw(ts.path());
    for (int i = 0; i < before; ++i) raw.Exec(internal::SqliteMigration(i));
    raw.Exec("PRAGMA application_id = 1130451572; PRAGMA user_version = " + std::to_string(before) + ";" +
             insert + rows);
  }
  BOOST_REQUIRE(HasColumn(ts, "messages", "text") == 1);
  auto store = OpenStore(ts.url());
  BOOST_TEST(store->Status(0).schema_version == target);
  BOOST_TEST(HasColumn(ts, "messages", "text") == 0);
  BOOST_TEST(ts.Int("SELECT count(*) FROM message_bodies") == 2);  // m3 and m4 had none
  auto m1 = store->LoadMessage("m1");
  BOOST_REQUIRE(m1.has_value());
  BOOST_TEST(m1->subject == "Your cart");
  BOOST_TEST(m1->text == "Hello Ann");
  BOOST_TEST(m1->html == "<p>Hello Ann</p>");
  BOOST_TEST(m1->to == "a@x.org");
  BOOST_TEST((m1->status == MessageStatus::kSent));
  auto m2 = store->LoadMessage("m2");
  BOOST_REQUIRE(m2.has_value());
  BOOST_TEST(m2->text == "Cart waiting");
  BOOST_TEST(m2->subject.empty());
  auto m4 = store->LoadMessage("m4");
  BOOST_REQUIRE(m4.has_value());
  BOOST_TEST(m4->text.empty());
  // New bodies take numbers after the moved ones.
  MessageRecord fresh = Msg("m5", "j5", "sending");
  fresh.text = "A new one";
  store->Write([&] { BOOST_TEST(store->InsertMessage(fresh)); });
  BOOST_TEST(store->LoadMessage("m5")->text == "A new one");
  BOOST_TEST(store->LoadMessage("m1")->text == "Hello Ann");
  BOOST_TEST(store->LoadMessage("m2")->text == "Cart waiting");
  // The moved bodies keep their age: retention's bodies window counts from the message.
  RetentionWindows w;
  w.bodies_ms = 5;
  store->Write([&] { store->Prune(16, w, kDay); });  // m1 (created 10) goes, m2 (11) stays
  BOOST_TEST(store->LoadMessage("m1")->text.empty());
  BOOST_TEST(store->LoadMessage("m2")->text == "Cart waiting");
}

// ---- Bodies packed against their template (migration 16, body_codec.h) -----------------

// A template-like dictionary and a body that repeats most of it, with a shopper's own words.
std::shared_ptr<const std::string> Layout(const std::string& tag) {
  std::string layout = "Hi {{first_name}}, your cart at " + tag + " is waiting.\n";
  for (int i = 0; i < 40; ++i)
    layout += "<tr><td style=\"padding:8px;border-bottom:1px solid #eee\">{{name}}</td>"
              "<td style=\"text-align:right\">{{price}}</td></tr>\n";
  return std::make_shared<const std::string>(layout);
}

MessageRecord PackedMessage(const std::string& id, const std::shared_ptr<const std::string>& layout,
                            const std::string& who) {
  MessageRecord m = Msg(id, "j-" + id, "sending");
  m.body_dictionary = layout;
  m.text = "Hi " + who + ", your cart is waiting.\n" + layout->substr(0, 600);
  m.html = "<p>Hi " + who + "</p>" + *layout + "<p>" + who + " \xc3\xa9t\xc3\xa9</p>";
  return m;
}

BOOST_AUTO_TEST_CASE(body_codec_round_trips_and_packs_only_what_pays) {
  const auto layout = Layout("Kite Shop");
  internal::BodyPacker packer(layout);
  const MessageRecord m = PackedMessage("m1", layout, "Zo\xc3\xab");
  for (const std::string& part : {m.text, m.html}) {
    auto packed = packer.Pack(part);
    BOOST_REQUIRE(packed.has_value());
    BOOST_TEST(packed->size() * 4 < part.size());
    BOOST_TEST(internal::UnpackBodyPart(packed->data(), packed->size(), *layout) == part);
  }
  BOOST_TEST(!packer.Pack("Your cart is waiting").has_value());  // short: stored as it is
  std::mt19937 rng(7);
  std::string noise(4000, '\0');
  for (char& c : noise) c = static_cast<char>(rng());
  BOOST_TEST(!packer.Pack(noise).has_value());  // nothing to gain
  // Bytes that are not a packed part say so, instead of reading out of bounds.
  auto packed = *packer.Pack(m.html);
  auto refused = [&](const std::string& bytes, const std::string& why) {
    try {
      internal::UnpackBodyPart(bytes.data(), bytes.size(), *layout);
      BOOST_ERROR("unpacked: " + why);
    } catch (const Error& e) {
      BOOST_TEST((e.code() == ErrorCode::kStorage));
      BOOST_TEST(std::string(e.what()).find("message_bodies") != std::string::npos, e.what());
    }
  };
  refused(packed.substr(0, packed.size() / 2), "truncated");
  refused(std::string(1, '\x09') + packed.substr(1), "unknown format");
  refused(packed.substr(0, 1), "no length");
  std::string longer = packed;
  longer[1] = static_cast<char>(longer[1] + 1);  // a length that is not what the block holds
  refused(longer, "wrong length");
  // A length no block of this size can hold is refused before anything is allocated for it
  // (the fuzzer's finding: a damaged header asked for 1.2 GB).
  const std::string billion = std::string("\x01\x80\x94\xeb\xdc\x03") + packed.substr(2);
  refused(billion, "a billion bytes");
  try {
    internal::UnpackBodyPart(billion.data(), billion.size(), *layout);
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find("broken length") != std::string::npos, e.what());
  }
}

// What the store keeps of a body: on SQLite the text and HTML packed against their
// template (a fraction of the bytes), on PostgreSQL as written (the server compresses); read
// back, updated and exported as they were written on both.
BOOST_DATA_TEST_CASE(a_packed_body_reads_back_updates_and_exports_as_written, bdata::make(kBothBackends),
                     backend) {
  TestStore ts(backend);
  auto store = OpenStore(ts.url());
  const auto layout = Layout("Kite Shop");
  MessageRecord a = PackedMessage("m-a", layout, "Zo\xc3\xab");
  MessageRecord b = PackedMessage("m-b", layout, "Ann");
  MessageRecord plain = PackedMessage("m-p", layout, "Bob");
  plain.body_dictionary = nullptr;  // no template text to pack against: stored as it is
  store->Write([&] {
    BOOST_TEST(store->InsertMessage(a));
    BOOST_TEST(store->InsertMessage(b));
    BOOST_TEST(store->InsertMessage(plain));
  });
  const int64_t written = ts.Int("SELECT sum(length(text) + length(html)) FROM message_bodies");
  const int64_t rendered = static_cast<int64_t>(a.text.size() + a.html.size() + b.text.size() +
                                                b.html.size() + plain.text.size() + plain.html.size());
  if (ts.postgres()) {
    BOOST_TEST(ts.Int("SELECT count(*) FROM message_bodies WHERE dict_id IS NOT NULL") == 0);
  } else {
    BOOST_TEST(ts.Int("SELECT count(*) FROM body_dictionaries") == 1);
    BOOST_TEST(ts.Int("SELECT count(*) FROM message_bodies WHERE typeof(html) = 'blob'") == 2);
    BOOST_TEST(written * 2 < rendered);
  }
  for (const MessageRecord* m : {&a, &b, &plain}) {
    auto back = store->LoadMessage(m->message_id);
    BOOST_REQUIRE(back.has_value());
    BOOST_TEST(back->subject == m->subject);
    BOOST_TEST(back->text == m->text);
    BOOST_TEST(back->html == m->html);
  }
  // Planned again (a retry renders anew): the new body replaces the old, packed again.
  MessageRecord again = PackedMessage("m-a", Layout("Kite Shop, new layout"), "Zo\xc3\xab");
  again.status = MessageStatus::kSending;
  store->Write([&] { store->UpdateMessage(again); });
  auto back = store->LoadMessage("m-a");
  BOOST_REQUIRE(back.has_value());
  BOOST_TEST(back->html == again.html);
  BOOST_TEST(back->text == again.text);
  // The person's export reads the bodies through the same function.
  PersonKeys who;
  who.contact_keys = {a.contact_key};
  std::string exported;
  for (const auto& [table, json] : store->PersonRows(who))
    if (table == "messages") exported += json;
  BOOST_TEST(exported.find("Zo\xc3\xab \xc3\xa9t\xc3\xa9") != std::string::npos, exported.substr(0, 300));
  BOOST_TEST(exported.find("Kite Shop, new layout") != std::string::npos);
}

// A dictionary row written in a transaction that was undone is gone, and its dict_id may be
// given to the next dictionary: what the store remembered of it must go too, or a later body
// would be packed against one dictionary and read against another.
BOOST_AUTO_TEST_CASE(a_dictionary_written_in_an_undone_transaction_is_written_again) {
  TestStore ts(Backend::kSqlite);
  auto store = OpenStore(ts.url());
  const auto first = Layout("First Shop");
  const auto second = Layout("Second Shop, a layout of its own");
  for (bool savepoint : {true, false}) {
    try {
      store->Write([&] {
        auto undone = [&] {
          store->InsertMessage(PackedMessage(savepoint ? "m-undone-s" : "m-undone", first, "Ann"));
          throw std::runtime_error("undone");
        };
        if (savepoint) store->Write(undone);
        else undone();
      });
    } catch (const std::runtime_error&) {
    }
  }
  BOOST_TEST(ts.Int("SELECT count(*) FROM body_dictionaries") == 0);
  const MessageRecord b = PackedMessage("m-b", second, "Bob");
  const MessageRecord c = PackedMessage("m-c", first, "Cleo");
  store->Write([&] { store->InsertMessage(b); });
  store->Write([&] { store->InsertMessage(c); });
  BOOST_TEST(ts.Int("SELECT count(*) FROM body_dictionaries") == 2);
  for (const MessageRecord* m : {&b, &c}) {
    auto back = store->LoadMessage(m->message_id);
    BOOST_REQUIRE(back.has_value());
    BOOST_TEST(back->html == m->html);
  }
}

// Another process packs with the same template: it finds the same row (by digest), and a
// body another connection packed reads back here.
BOOST_AUTO_TEST_CASE(two_connections_share_one_dictionary_row) {
  TestStore ts(Backend::kSqlite);
  auto one = OpenStore(ts.url());
  auto two = OpenStore(ts.url());
  const MessageRecord a = PackedMessage("m-a", Layout("Kite Shop"), "Ann");
  const MessageRecord b = PackedMessage("m-b", Layout("Kite Shop"), "Bob");  // equal text, another copy
  one->Write([&] { one->InsertMessage(a); });
  two->Write([&] { two->InsertMessage(b); });
  BOOST_TEST(ts.Int("SELECT count(*) FROM body_dictionaries") == 1);
  BOOST_TEST(ts.Int("SELECT count(DISTINCT dict_id) FROM message_bodies") == 1);
  auto back = two->LoadMessage("m-a");
  BOOST_REQUIRE(back.has_value());
  BOOST_TEST(back->html == a.html);
}

// A packed body damaged in the file is an error that names the table, not a wrong text.
BOOST_AUTO_TEST_CASE(a_damaged_packed_body_is_a_storage_error) {
  TestStore ts(Backend::kSqlite);
  auto store = OpenStore(ts.url());
  store->Write([&] { store->InsertMessage(PackedMessage("m-a", Layout("Kite Shop"), "Ann")); });
  ts.Exec("UPDATE message_bodies SET html = substr(html, 1, length(html) / 2)");
  try {
    store->LoadMessage("m-a");
    BOOST_ERROR("a damaged body read back");
  } catch (const Error& e) {
    BOOST_TEST((e.code() == ErrorCode::kStorage));
    BOOST_TEST(std::string(e.what()).find("message_bodies") != std::string::npos, e.what());
  }
  ts.Exec("UPDATE message_bodies SET dict_id = 99");
  try {
    store->LoadMessage("m-a");
    BOOST_ERROR("a body read back without its dictionary");
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find("dictionary 99 is missing") != std::string::npos, e.what());
  }
}

// ---- Ended journeys found by finished_ms (migration 14) ---------------------------------

// A store as version 13 wrote it keeps pruning the journeys that ended before the
// migration, by the time they ended; a running one has no finished_ms, and gets one when it
// ends.
BOOST_DATA_TEST_CASE(journeys_ended_before_migration_14_are_pruned_by_when_they_ended,
                     bdata::make(kBothBackends), backend) {
  TestStore ts(backend);
  const int target = ts.postgres() ? internal::PostgresSchemaVersion() : internal::SqliteSchemaVersion();
  const int before = ts.MigrationWith("ADD COLUMN finished_ms");
  BOOST_REQUIRE(before == 13);
  const std::string rows =
      "INSERT INTO journeys(journey_id, contact_key, cart_id, flow, path, state, end_reason, next_step,"
      " next_due_ms, started_ms, prev_sent_ms, prev_engagement, updated_ms) VALUES"
      " ('ended-old', 'e:a@x.org', 'c1', 'f', 'visitor', 'ended', 'ordered', 1, 0, 0, 0, 'unopened', " +
      std::to_string(1 * kDay) + "),"
      " ('done-new', 'e:b@x.org', 'c2', 'f', 'visitor', 'completed', '', 2, 0, 0, 0, 'unopened', " +
      std::to_string(4 * kDay) + "),"
      " ('running-old', 'e:c@x.org', 'c3', 'f', 'visitor', 'running', '', 1, 0, 0, 0, 'unopened', " +
      std::to_string(1 * kDay) + ")";
  if (ts.postgres()) {
    RawPg raw;
    raw.Exec("CREATE SCHEMA " + ts.schema() + "; SET search_path TO " + ts.schema());
    // (SELECT 1 after it: a migration may be only a comment, which libpq calls an empty query.)
    for (int i = 0; i < before; ++i) raw.Exec(std::string(internal::PostgresMigration(i)) + "\n;SELECT 1");
    raw.Exec("CREATE TABLE schema_version(app TEXT PRIMARY KEY, version BIGINT NOT NULL);"
             "INSERT INTO schema_version VALUES('cartrecovery', " + std::to_string(before) + ");" + rows);
  } else {
    RawDb raw(ts.path());
    for (int i = 0; i < before; ++i) raw.Exec(internal::SqliteMigration(i));
    raw.Exec("PRAGMA application_id = 1130451572; PRAGMA user_version = " + std::to_string(before) +
             ";" + rows);
  }
  auto store = OpenStore(ts.url());
  BOOST_TEST(store->Status(0).schema_version == target);
  BOOST_TEST(ts.Int("SELECT finished_ms FROM journeys WHERE journey_id = 'ended-old'") == 1 * kDay);
  BOOST_TEST(ts.Int("SELECT count(*) FROM journeys WHERE finished_ms IS NULL") == 1);  // running-old
  RetentionWindows w;
  w.carts_ms = 5 * kDay;
  PruneCounts c;
  store->Write([&] { c = store->Prune(8 * kDay, w, kDay); });  // ended before day 3: ended-old
  BOOST_TEST(c.journeys == 1);
  BOOST_TEST(!store->LoadJourney("ended-old").has_value());
  BOOST_TEST(store->LoadJourney("done-new").has_value());
  // A step leaves finished_ms NULL; the end sets it to the time the journey ended.
  auto j = store->LoadJourney("running-old").value();
  j.next_step = 2;
  j.updated_ms = 2 * kDay;
  store->Write([&] { store->SaveJourney(j); });
  BOOST_TEST(ts.Int("SELECT count(*) FROM journeys WHERE finished_ms IS NULL") == 1);
  j.state = JourneyState::kEnded;
  j.updated_ms = 6 * kDay;
  store->Write([&] { store->SaveJourney(j); });
  BOOST_TEST(ts.Int("SELECT finished_ms FROM journeys WHERE journey_id = 'running-old'") == 6 * kDay);
  store->Write([&] { c = store->Prune(12 * kDay, w, kDay); });  // ended before day 7: both left
  BOOST_TEST(c.journeys == 2);
  BOOST_TEST(ts.Int("SELECT count(*) FROM journeys") == 0);
}

// ---- the write-ahead log --------------------------------------------------------------------

// A store that handed its checkpoints over (HandOffCheckpoints): its commits never copy the
// WAL into the file, not even past SQLite's automatic checkpoint at 1000 pages (which
// would copy it and start it again, shortening it); they report its length, and only the
// copier's connection copies it. Then the next commit writes the WAL from its start again.
BOOST_AUTO_TEST_CASE(sqlite_commits_leave_the_log_to_the_copier) {
  TempDir dir;
  const std::string path = dir.File("log.db");
  auto store = OpenStore("sqlite:///" + path);
  std::vector<int64_t> lengths;
  auto copier = store->HandOffCheckpoints([&](int64_t pages) { lengths.push_back(pages); });
  BOOST_REQUIRE(copier);
  const std::string filler(3000, 'x');
  // About 40 pages a commit: 3000 pages take some 75 commits.
  for (int batch = 0; batch < 300 && (lengths.empty() || lengths.back() < 3000); ++batch) {
    store->Write([&] {
      for (int i = 0; i < 50; ++i) {
        Event e;
        e.type = EventType::kPageView;
        e.at_ms = batch * 100 + i;
        e.visitor_id = "v" + std::to_string(batch) + "-" + std::to_string(i);
        store->AppendEvent(e, R"({"type":"page_view","note":")" + filler + R"("})");
      }
    });
  }
  BOOST_REQUIRE(!lengths.empty());
  BOOST_TEST(std::is_sorted(lengths.begin(), lengths.end()), "a commit copied the log and started it again");
  BOOST_TEST(lengths.back() >= 3000);
  BOOST_TEST(std::filesystem::file_size(path + "-wal") > 3000u * 4096u);
  auto p = copier->Copy();
  BOOST_REQUIRE(p.has_value());
  BOOST_TEST(p->Complete());
  BOOST_TEST(p->log_pages == lengths.back());
  store->Write([&] {
    Event e;
    e.type = EventType::kPageView;
    e.visitor_id = "after";
    store->AppendEvent(e, R"({"type":"page_view"})");
  });
  BOOST_TEST(lengths.back() < 50, "the commit after the copy writes the log from its start");
}

// :memory: keeps no log to hand over: nothing changes.
BOOST_AUTO_TEST_CASE(a_store_in_memory_has_no_log_to_hand_over) {
  auto store = OpenStore(":memory:");
  BOOST_TEST(!store->HandOffCheckpoints([](int64_t) {}));
}

BOOST_AUTO_TEST_SUITE_END()
