// store_tests: the SQLite store's contract (store.h): schema marking and refusal of foreign
// files, Write() transactions and savepoints, the job lifecycle with leases and fencing,
// exactly-one messages, and what several processes and crashes do to one file.
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cartrecovery/status.h"
#include "cartrecovery/store.h"
#include "store/sqlite_store.h"

#include "test_util.h"

using namespace cartrecovery;

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

 private:
  sqlite3* db_ = nullptr;
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
  m.status = status;
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

BOOST_AUTO_TEST_CASE(reopening_an_existing_file_keeps_its_data) {
  TempDir dir;
  const std::string path = dir.File("keep.db");
  {
    auto store = OpenStore(path);
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
  auto store = OpenStore(path);
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

BOOST_AUTO_TEST_CASE(postgres_url_is_a_config_error_that_hides_the_password) {
  Error e = ExpectError([] { OpenStore("postgresql://user:secret@h/db"); });
  BOOST_TEST((e.code() == ErrorCode::kConfig));
  BOOST_TEST(!Contains(e.what(), "secret"), e.what());
  BOOST_TEST(!Contains(e.field(), "secret"));
}

BOOST_AUTO_TEST_CASE(an_unknown_scheme_is_a_config_error) {
  for (const char* url : {"mysql://root:hunter2@db/shop", "redis://cache/0", "://x"}) {
    Error e = ExpectError([&] { OpenStore(url); });
    BOOST_TEST((e.code() == ErrorCode::kConfig), url);
    BOOST_TEST(!Contains(e.what(), "hunter2"), e.what());
  }
}

// ---- Write() -------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(write_commits_on_return) {
  TempDir dir;
  const std::string path = dir.File("commit.db");
  auto store = OpenStore(path);
  store->Write([&] { store->ScheduleJob("abandon", "c1", 100); });
  // Another connection sees it: it was committed, not just written into our transaction.
  BOOST_TEST(CountJobs(path) == 1);
  auto other = OpenStore(path);
  BOOST_TEST(other->NextDueMs().value_or(-1) == 100);
}

BOOST_AUTO_TEST_CASE(write_rolls_back_everything_on_throw) {
  TempDir dir;
  const std::string path = dir.File("rollback.db");
  auto store = OpenStore(path);
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
  BOOST_TEST(CountJobs(path) == 0);
  // The store is usable afterwards (no transaction left open).
  store->Write([&] { store->ScheduleJob("abandon", "c2", 200); });
  BOOST_TEST(CountJobs(path) == 1);
}

BOOST_AUTO_TEST_CASE(nested_write_is_a_savepoint) {
  TempDir dir;
  const std::string path = dir.File("nested.db");
  auto store = OpenStore(path);
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
  BOOST_TEST(CountJobs(path) == 3);
  BOOST_TEST(CountJobs(path, "subject = 'inner-doomed'") == 0);
  BOOST_TEST(CountJobs(path, "subject IN ('outer-before', 'inner-kept', 'outer-after')") == 3);

  // After nesting, a top-level Write is a real transaction again: its throw undoes it all.
  BOOST_CHECK_THROW(store->Write([&] {
    store->ScheduleJob("step", "later", 5);
    store->Write([&] { store->ScheduleJob("step", "later-inner", 6); });
    throw std::runtime_error("outer fails");
  }),
                    std::runtime_error);
  BOOST_TEST(CountJobs(path) == 3);
}

// ---- jobs ----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(schedule_job_keeps_one_job_per_kind_and_subject) {
  auto store = OpenStore(":memory:");
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

BOOST_AUTO_TEST_CASE(claim_takes_only_due_jobs_oldest_first_and_bumps_the_attempt) {
  auto store = OpenStore(":memory:");
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

BOOST_AUTO_TEST_CASE(a_claimed_job_is_claimable_again_only_after_its_lease) {
  auto store = OpenStore(":memory:");
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

BOOST_AUTO_TEST_CASE(stale_claims_cannot_finish_or_retry) {
  auto store = OpenStore(":memory:");
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

BOOST_AUTO_TEST_CASE(scheduling_a_claimed_job_resets_it_and_fences_the_old_claim) {
  auto store = OpenStore(":memory:");
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
BOOST_AUTO_TEST_CASE(a_stale_claim_cannot_finish_a_later_job) {
  auto store = OpenStore(":memory:");
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

BOOST_AUTO_TEST_CASE(next_due_is_the_earliest_pending_due_or_lease_end) {
  auto store = OpenStore(":memory:");
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

// ---- messages ------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_message_id_is_stored_once) {
  auto store = OpenStore(":memory:");
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
  BOOST_TEST(m->status == "sending");  // the first one stands
  BOOST_TEST(m->subject == "Your cart");
  BOOST_TEST(store->ListMessages(MessageFilter{}).size() == 1u);
}

BOOST_AUTO_TEST_CASE(suppress_unsent_touches_only_unsent_messages_of_that_journey) {
  auto store = OpenStore(":memory:");
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
  auto status = [&](const std::string& id) { return store->LoadMessage(id).value().status; };
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

BOOST_AUTO_TEST_CASE(list_messages_filters_by_cart_contact_and_journey) {
  auto store = OpenStore(":memory:");
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

BOOST_AUTO_TEST_CASE(last_sent_to_is_the_newest_sent_message_since) {
  auto store = OpenStore(":memory:");
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

// ---- several processes, crashes ------------------------------------------------------------

// Four processes, each with its own connection opened after fork(), schedule and claim jobs
// in the same file with short leases so jobs change hands. Every claim a child made is
// written to its own file after the commit; no (job_id, attempt) may appear twice.
BOOST_AUTO_TEST_CASE(concurrent_writers_in_several_processes) {
  TempDir dir;
  const std::string path = dir.File("shared.db");
  { auto store = OpenStore(path); }  // migrated once; no connection crosses the fork
  constexpr int kChildren = 4, kRounds = 200;
  std::vector<pid_t> pids;
  for (int c = 0; c < kChildren; ++c) {
    pid_t pid = fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
      int rc = 0;
      try {
        auto store = OpenStore(path);
        std::ofstream log(dir.File("claims-" + std::to_string(c)));
        for (int i = 0; i < kRounds; ++i) {
          std::vector<JobRecord> claimed;
          store->Write([&] {
            store->ScheduleJob("step", "c" + std::to_string(c) + "-" + std::to_string(i), i);
            // Time runs per child, so leases of other children's claims expire here.
            claimed = store->ClaimDueJobs(i, 3, 5);
          });
          for (const auto& j : claimed) log << j.job_id << ' ' << j.attempt << '\n';
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
  size_t claims = 0;
  for (int c = 0; c < kChildren; ++c) {
    std::ifstream in(dir.File("claims-" + std::to_string(c)));
    int64_t id;
    int attempt;
    while (in >> id >> attempt) {
      ++claims;
      BOOST_TEST(attempts[id].insert(attempt).second, "job " << id << " attempt " << attempt
                                                              << " claimed twice");
    }
  }
  BOOST_TEST(claims > 0u);
  RawDb raw(path);
  BOOST_TEST(raw.Int("SELECT count(*) FROM jobs") == kChildren * kRounds);
  BOOST_TEST(raw.Int("SELECT count(DISTINCT subject) FROM jobs") == kChildren * kRounds);
  // Every claim was recorded: a job's attempts are exactly 1..attempt.
  for (const auto& kv : attempts) {
    int64_t current = raw.Int("SELECT attempt FROM jobs WHERE job_id = " + std::to_string(kv.first));
    BOOST_TEST(static_cast<int64_t>(kv.second.size()) == current, "job " << kv.first);
    BOOST_TEST(*kv.second.rbegin() == current);
  }
  BOOST_TEST(raw.Int("SELECT count(*) FROM jobs WHERE attempt > 0") ==
             static_cast<int64_t>(attempts.size()));
}

BOOST_AUTO_TEST_CASE(reopen_after_a_crash_inside_a_transaction) {
  TempDir dir;
  const std::string path = dir.File("crash.db");
  { auto store = OpenStore(path); }
  pid_t pid = fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    try {
      auto store = OpenStore(path);
      store->Write([&] {
        for (int i = 0; i < 10; ++i) store->ScheduleJob("step", "kept-" + std::to_string(i), i);
      });
      store->Write([&] {
        // Enough rows to spill pages into the WAL before the commit that never comes.
        const std::string pad(200, 'x');
        for (int i = 0; i < 20000; ++i)
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

  auto store = OpenStore(path);
  BOOST_TEST(CountJobs(path, "subject LIKE 'kept-%'") == 10);
  BOOST_TEST(CountJobs(path, "subject LIKE 'doomed-%'") == 0);
  store->Write([&] { store->ScheduleJob("step", "after-crash", 1); });
  BOOST_TEST(CountJobs(path) == 11);
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

BOOST_AUTO_TEST_SUITE_END()
