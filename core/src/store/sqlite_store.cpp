// The SQLite store: what SQLite does its own way; the SQL it shares with the PostgreSQL
// store is in sql_store.cpp (SqlStore), with the hooks below for the words that differ.
// Every statement is prepared once per connection and cached; writes run
// inside Write()'s BEGIN IMMEDIATE transaction so that read-modify-write sequences from
// several processes serialize on SQLite's write lock.
#include "store/sqlite_store.h"

#include <algorithm>
#include <vector>

#include "cartrecovery/status.h"
#include "store/body_codec.h"
#include "store/body_dictionaries.h"
#include "store/sql_store.h"
#include "store/sqlite_db.h"
#include "store/store_codec.h"
#include "store/store_rows.h"

namespace cartrecovery {
namespace internal {
namespace {

// Migrations, oldest first; migration i brings the schema from version i to i + 1.
// Never edit a shipped migration: add a new one.
const std::vector<const char*>& Migrations() {
  static const std::vector<const char*> kMigrations = {
      R"sql(
      CREATE TABLE events(
        id INTEGER PRIMARY KEY, type TEXT NOT NULL, at_ms INTEGER NOT NULL,
        cart_id TEXT, visitor_id TEXT, payload TEXT NOT NULL);
      CREATE INDEX events_at ON events(at_ms);
      CREATE TABLE carts(
        cart_id TEXT PRIMARY KEY, visitor_id TEXT, contact_key TEXT, state TEXT NOT NULL,
        stage TEXT NOT NULL, currency TEXT, items TEXT NOT NULL, value_minor INTEGER NOT NULL,
        restore_url TEXT, created_ms INTEGER NOT NULL, last_activity_ms INTEGER NOT NULL);
      CREATE INDEX carts_contact ON carts(contact_key, last_activity_ms);
      CREATE TABLE contacts(
        contact_key TEXT PRIMARY KEY, email TEXT, phone TEXT, first_name TEXT, language TEXT,
        timezone TEXT, orders_count INTEGER NOT NULL DEFAULT 0,
        lifetime_value_minor INTEGER NOT NULL DEFAULT 0, consent_email INTEGER,
        consent_sms INTEGER, consent_push INTEGER, consent_personalization INTEGER,
        unsubscribed INTEGER NOT NULL DEFAULT 0, last_message_ms INTEGER NOT NULL DEFAULT 0,
        last_order_ms INTEGER NOT NULL DEFAULT 0);
      CREATE INDEX contacts_phone ON contacts(phone);
      CREATE TABLE visitors(visitor_id TEXT PRIMARY KEY, contact_key TEXT NOT NULL);
      CREATE TABLE journeys(
        journey_id TEXT PRIMARY KEY, contact_key TEXT NOT NULL, cart_id TEXT NOT NULL,
        flow TEXT NOT NULL, path TEXT NOT NULL, state TEXT NOT NULL, end_reason TEXT,
        next_step INTEGER NOT NULL, next_due_ms INTEGER NOT NULL, next_branch TEXT,
        started_ms INTEGER NOT NULL, prev_sent_ms INTEGER NOT NULL,
        prev_engagement TEXT NOT NULL, prev_branch TEXT, updated_ms INTEGER NOT NULL);
      CREATE INDEX journeys_contact ON journeys(contact_key, state);
      CREATE INDEX journeys_cart ON journeys(cart_id, started_ms);
      CREATE TABLE jobs(
        job_id INTEGER PRIMARY KEY, kind TEXT NOT NULL, subject TEXT NOT NULL,
        due_ms INTEGER NOT NULL, state TEXT NOT NULL, lease_until_ms INTEGER NOT NULL,
        attempt INTEGER NOT NULL, UNIQUE(kind, subject));
      CREATE INDEX jobs_due ON jobs(state, due_ms);
      CREATE TABLE messages(
        message_id TEXT PRIMARY KEY, journey_id TEXT NOT NULL, cart_id TEXT NOT NULL,
        contact_key TEXT NOT NULL, flow TEXT NOT NULL, path TEXT NOT NULL,
        step INTEGER NOT NULL, branch TEXT, channel TEXT NOT NULL, status TEXT NOT NULL,
        reason TEXT, to_addr TEXT, subject TEXT, text TEXT, html TEXT,
        due_ms INTEGER NOT NULL, sent_ms INTEGER NOT NULL DEFAULT 0,
        opened_ms INTEGER NOT NULL DEFAULT 0, clicked_ms INTEGER NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0, created_ms INTEGER NOT NULL);
      CREATE INDEX messages_cart ON messages(cart_id, created_ms);
      CREATE INDEX messages_journey ON messages(journey_id);
      CREATE INDEX messages_contact ON messages(contact_key, sent_ms);
      CREATE TABLE orders(
        order_id TEXT PRIMARY KEY, cart_id TEXT, contact_key TEXT,
        value_minor INTEGER NOT NULL, currency TEXT, coupon TEXT, at_ms INTEGER NOT NULL,
        message_id TEXT, flow TEXT, step INTEGER, channel TEXT);
      CREATE INDEX orders_at ON orders(at_ms);
      CREATE TABLE workers(
        worker_id TEXT PRIMARY KEY, last_run_ms INTEGER NOT NULL, jobs_run INTEGER NOT NULL);
      )sql",
      // 2: job ids are never reused. A finished job's row is deleted, and a plain rowid
      // hands the highest id out again; (job_id, attempt) is the fencing token, so a worker
      // that lost its lease could otherwise finish or move a later, unrelated job.
      R"sql(
      CREATE TABLE jobs_v2(
        job_id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, subject TEXT NOT NULL,
        due_ms INTEGER NOT NULL, state TEXT NOT NULL, lease_until_ms INTEGER NOT NULL,
        attempt INTEGER NOT NULL, UNIQUE(kind, subject));
      INSERT INTO jobs_v2(job_id, kind, subject, due_ms, state, lease_until_ms, attempt)
        SELECT job_id, kind, subject, due_ms, state, lease_until_ms, attempt FROM jobs;
      DROP TABLE jobs;
      ALTER TABLE jobs_v2 RENAME TO jobs;
      CREATE INDEX jobs_due ON jobs(state, due_ms);
      )sql",
      // 3: browser push subscriptions and hard-bounce suppression on contacts.
      R"sql(
      ALTER TABLE contacts ADD COLUMN push_subscription TEXT NOT NULL DEFAULT '';
      ALTER TABLE contacts ADD COLUMN email_bounced INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE contacts ADD COLUMN phone_bounced INTEGER NOT NULL DEFAULT 0;
      )sql",
      // 4: coupon pools and codes, exit-intent decisions.
      R"sql(
      CREATE TABLE coupon_pools(
        name TEXT PRIMARY KEY, kind TEXT NOT NULL, discount_kind TEXT NOT NULL,
        amount INTEGER NOT NULL, currency TEXT NOT NULL, static_code TEXT NOT NULL,
        prefix TEXT NOT NULL, code_length INTEGER NOT NULL, valid_for_ms INTEGER NOT NULL,
        expires_ms INTEGER NOT NULL);
      CREATE TABLE coupons(
        code TEXT PRIMARY KEY, pool TEXT NOT NULL, shared INTEGER NOT NULL,
        discount_kind TEXT NOT NULL, amount INTEGER NOT NULL, currency TEXT NOT NULL,
        expires_ms INTEGER NOT NULL, assigned_contact TEXT NOT NULL DEFAULT '',
        assigned_ms INTEGER NOT NULL DEFAULT 0, redeemed_order TEXT NOT NULL DEFAULT '',
        redeemed_ms INTEGER NOT NULL DEFAULT 0);
      CREATE INDEX coupons_free ON coupons(pool, assigned_contact);
      CREATE TABLE offers(
        offer_id INTEGER PRIMARY KEY AUTOINCREMENT, visitor_id TEXT NOT NULL,
        cart_id TEXT NOT NULL, contact_key TEXT NOT NULL, show INTEGER NOT NULL,
        kind TEXT NOT NULL, variant TEXT NOT NULL, reason TEXT NOT NULL,
        incentive_rule TEXT NOT NULL, coupon_code TEXT NOT NULL, decided_ms INTEGER NOT NULL);
      CREATE INDEX offers_visitor ON offers(visitor_id, decided_ms);
      CREATE INDEX offers_contact ON offers(contact_key, decided_ms);
      CREATE INDEX offers_decided ON offers(decided_ms);
      )sql",
      // 5: A/B variants of flow steps (the first assignment sticks), unsubscribes attributed
      // to the message that preceded them, flows paused by staff, and carts by visitor (lead
      // temperature asks per visitor; without it that report grew with visitors x carts).
      R"sql(
      ALTER TABLE messages ADD COLUMN variant TEXT NOT NULL DEFAULT '';
      ALTER TABLE messages ADD COLUMN unsubscribed_ms INTEGER NOT NULL DEFAULT 0;
      CREATE TABLE assignments(
        experiment TEXT NOT NULL, contact_key TEXT NOT NULL, variant TEXT NOT NULL,
        flow TEXT NOT NULL, assigned_ms INTEGER NOT NULL, PRIMARY KEY(experiment, contact_key));
      CREATE TABLE flow_pauses(
        flow TEXT PRIMARY KEY, reason TEXT NOT NULL, paused_ms INTEGER NOT NULL);
      CREATE INDEX carts_visitor ON carts(visitor_id);
      )sql",
      // 6: a coupon code as the shop wrote it (what shoppers are sent; `code` stays the
      // canonical key), and where an incentive decision was made ('popup', or 'flow' for a
      // reminder step's coupon), so one budget counts both.
      R"sql(
      ALTER TABLE coupons ADD COLUMN shown TEXT NOT NULL DEFAULT '';
      ALTER TABLE offers ADD COLUMN source TEXT NOT NULL DEFAULT 'popup';
      )sql",
      // 7: a tick costs what is due, not what is pending: expired claims are found by their
      // lease through an index, as pending jobs are by due time (jobs_due).
      R"sql(
      CREATE INDEX jobs_lease ON jobs(state, lease_until_ms);
      )sql",
      // 8: retention. Daily aggregates that outlive the rows reports read (written in the
      // transaction that deletes them), and indexes that let each prune batch seek its
      // oldest rows instead of scanning.
      R"sql(
      CREATE TABLE report_days(
        day_ms INTEGER NOT NULL, flow TEXT NOT NULL, path TEXT NOT NULL, step INTEGER NOT NULL,
        channel TEXT NOT NULL, variant TEXT NOT NULL, currency TEXT NOT NULL,
        sent INTEGER NOT NULL, failed INTEGER NOT NULL, suppressed INTEGER NOT NULL,
        opened INTEGER NOT NULL, clicked INTEGER NOT NULL, bounced INTEGER NOT NULL,
        unsubscribed INTEGER NOT NULL, orders INTEGER NOT NULL,
        orders_with_coupon INTEGER NOT NULL, revenue_minor INTEGER NOT NULL,
        PRIMARY KEY(day_ms, flow, path, step, channel, variant, currency));
      CREATE TABLE funnel_days(
        day_ms INTEGER NOT NULL, stage TEXT NOT NULL, carts INTEGER NOT NULL,
        abandoned INTEGER NOT NULL, recovered INTEGER NOT NULL, PRIMARY KEY(day_ms, stage));
      CREATE TABLE offer_days(
        day_ms INTEGER NOT NULL, kind TEXT NOT NULL, variant TEXT NOT NULL,
        trials INTEGER NOT NULL, conversions INTEGER NOT NULL, PRIMARY KEY(day_ms, kind, variant));
      CREATE INDEX messages_created ON messages(created_ms);
      CREATE INDEX messages_bodies ON messages(created_ms) WHERE subject <> '' OR text <> '' OR html <> '';
      CREATE INDEX orders_message ON orders(message_id);
      CREATE INDEX journeys_finished ON journeys(updated_ms) WHERE state <> 'running';
      CREATE INDEX carts_activity ON carts(last_activity_ms);
      CREATE INDEX visitors_contact ON visitors(contact_key);
      CREATE TABLE consent_log(
        id INTEGER PRIMARY KEY AUTOINCREMENT, contact_key TEXT NOT NULL, what TEXT NOT NULL,
        granted INTEGER NOT NULL, at_ms INTEGER NOT NULL, source TEXT NOT NULL);
      CREATE INDEX consent_log_contact ON consent_log(contact_key, at_ms);
      )sql",
      // 9: the cap on events per cart counted in the store, so that it holds across web
      // processes and hosts (a per-process count lets N processes take N times the cap);
      // lead temperature kept through retention.
      R"sql(
      CREATE TABLE cart_event_counts(
        cart_id TEXT PRIMARY KEY, window_start_ms INTEGER NOT NULL, events INTEGER NOT NULL,
        refused INTEGER NOT NULL);
      CREATE INDEX cart_event_counts_window ON cart_event_counts(window_start_ms);
      CREATE INDEX cart_event_counts_refused ON cart_event_counts(refused) WHERE refused > 0;
      -- Lead temperature outlives the events it is read from: per UTC day, each shopper of
      -- that day with what S9 asks of them, written before the day's events are pruned.
      CREATE TABLE lead_days(
        day_ms INTEGER NOT NULL, who TEXT NOT NULL, browsed INTEGER NOT NULL,
        checkout INTEGER NOT NULL, carted INTEGER NOT NULL, bought INTEGER NOT NULL,
        PRIMARY KEY(day_ms, who));
      -- Past the reports window those become anonymous counts per day.
      CREATE TABLE lead_totals(
        day_ms INTEGER PRIMARY KEY, cold INTEGER NOT NULL, warm INTEGER NOT NULL, hot INTEGER NOT NULL);
      )sql",
      // 10: the incentive budget counted as decisions are recorded (incentive_budget.cpp): per
      // abandonment its latest decision and latest priority decision, per day the
      // abandonments whose latest (priority) decision fell that day and the incentives given.
      // A popup's decision with 100,000s in the window cost a scan of them all. Backfilled.
      R"sql(
      CREATE TABLE incentive_abandonments(
        abandonment TEXT PRIMARY KEY, last_ms INTEGER NOT NULL, valuable_ms INTEGER);
      CREATE INDEX incentive_abandonments_last ON incentive_abandonments(last_ms);
      CREATE INDEX incentive_abandonments_valuable ON incentive_abandonments(valuable_ms);
      CREATE TABLE incentive_days(
        day_ms INTEGER PRIMARY KEY, abandoners INTEGER NOT NULL, valuable INTEGER NOT NULL,
        incentives INTEGER NOT NULL, valuable_incentives INTEGER NOT NULL);
      INSERT INTO incentive_abandonments(abandonment, last_ms, valuable_ms)
        SELECT CASE WHEN cart_id <> '' THEN cart_id ELSE visitor_id END, max(decided_ms),
          max(CASE WHEN incentive_rule IN ('priority_customer', 'priority_budget_exhausted')
            THEN decided_ms END)
        FROM offers WHERE kind = 'coupon' AND incentive_rule <> '' GROUP BY 1;
      INSERT INTO incentive_days(day_ms, abandoners, valuable, incentives, valuable_incentives)
        SELECT day_ms, sum(a), sum(v), sum(i), sum(vi) FROM (
          SELECT last_ms / 86400000 * 86400000 AS day_ms, 1 AS a, 0 AS v, 0 AS i, 0 AS vi
            FROM incentive_abandonments
          UNION ALL SELECT valuable_ms / 86400000 * 86400000, 0, 1, 0, 0
            FROM incentive_abandonments WHERE valuable_ms IS NOT NULL
          UNION ALL SELECT decided_ms / 86400000 * 86400000, 0, 0, show,
            CASE WHEN incentive_rule = 'priority_customer' AND show = 1 THEN 1 ELSE 0 END
            FROM offers WHERE kind = 'coupon' AND incentive_rule <> '') d
        GROUP BY day_ms;
      )sql",
      // 11: the rendered subject, text and HTML leave the hot message row for a cold table
      // written once, when the message is planned: the row is rewritten as its status moves
      // (sending -> sent, opens, clicks) and a ~5 KB body rewritten with it cost a batched
      // loop ~70% of its speed. The row points at its body by a number handed out in order
      // (AUTOINCREMENT: never reused, so a pruned body's number points at nothing), so new
      // bodies append to the table's end instead of dirtying a random page of a key index.
      // Bodies go with their row (retention, forget, export).
      R"sql(
      CREATE TABLE message_bodies(
        body_id INTEGER PRIMARY KEY AUTOINCREMENT, subject TEXT NOT NULL, text TEXT NOT NULL,
        html TEXT NOT NULL, written_ms INTEGER NOT NULL);
      ALTER TABLE messages ADD COLUMN body_id INTEGER;
      UPDATE messages SET body_id = rowid WHERE subject <> '' OR text <> '' OR html <> '';
      INSERT INTO message_bodies(body_id, subject, text, html, written_ms)
        SELECT body_id, coalesce(subject, ''), coalesce(text, ''), coalesce(html, ''), created_ms
        FROM messages WHERE body_id IS NOT NULL;
      CREATE INDEX message_bodies_written ON message_bodies(written_ms);
      DROP INDEX messages_bodies;
      ALTER TABLE messages DROP COLUMN subject;
      ALTER TABLE messages DROP COLUMN text;
      ALTER TABLE messages DROP COLUMN html;
      )sql",
      // 12: indexes that a reminder's status moves do not rewrite. Every reminder moves its
      // job pending -> claimed -> pending (or away) and its message sending -> sent; an index
      // holding a column that moves is a delete and an insert on a random page of it, and
      // each dirty page is written to the WAL at the commit (4 KB for a few bytes).
      // Jobs: each state through its own partial index, so a move touches one entry in each
      // of two indexes instead of two in both (the claim and the idle tick read them as before).
      // Messages by contact: sent_ms left the key (a contact has a handful of messages; the
      // policies read them all and filter), so "sent" rewrites only the row.
      R"sql(
      DROP INDEX jobs_due;
      CREATE INDEX jobs_due ON jobs(due_ms) WHERE state = 'pending';
      DROP INDEX jobs_lease;
      CREATE INDEX jobs_lease ON jobs(lease_until_ms) WHERE state = 'claimed';
      DROP INDEX messages_contact;
      CREATE INDEX messages_contact ON messages(contact_key);
      )sql",
      // 13: nothing here. PostgreSQL's store adds the rows its writers lock per key
      // (key_locks); SQLite's writers take turns on the file. Kept so that both stores'
      // versions name the same tables and columns.
      R"sql(
      -- no change
      )sql",
      // 14: ended journeys found by finished_ms (set when a journey ends, NULL while it
      // runs) instead of updated_ms, so that a step changes no indexed column on PostgreSQL
      // (postgres_store.cpp). Here the partial index already had no entry for a running
      // journey; the same column keeps both stores' queries and versions alike.
      R"sql(
      ALTER TABLE journeys ADD COLUMN finished_ms INTEGER;
      UPDATE journeys SET finished_ms = updated_ms WHERE state <> 'running';
      DROP INDEX journeys_finished;
      CREATE INDEX journeys_finished ON journeys(finished_ms) WHERE finished_ms IS NOT NULL;
      )sql",
      // 15: nothing here. PostgreSQL's store compresses message bodies with lz4 where the
      // server has it; SQLite stores them as written. Kept so that both stores' versions
      // name the same tables and columns.
      R"sql(
      -- no change
      )sql",
      // 16: bodies packed against their template's text (body_codec.h): a body's text and
      // html may be a BLOB, lz4 against the body_dictionaries row dict_id names. Rows
      // written before stay TEXT with no dict_id, and read back as they are (unpack_body).
      R"sql(
      CREATE TABLE body_dictionaries(
        dict_id INTEGER PRIMARY KEY,
        digest TEXT NOT NULL UNIQUE,
        bytes BLOB NOT NULL,
        written_ms INTEGER NOT NULL);
      ALTER TABLE message_bodies ADD COLUMN dict_id INTEGER;
      )sql",
  };
  return kMigrations;
}

// The checkpointing connection (store.h, LogCopier). A checkpoint's syncs are the copying
// connection's: FULL as the store's, so the log is never reused before the file holds it.
class SqliteLogCopier final : public LogCopier {
 public:
  explicit SqliteLogCopier(const std::string& path) : db_(path) {
    db_.Exec("PRAGMA synchronous=FULL");
    // A first read opens the log (a checkpoint on a connection that has not read the file
    // yet would find none).
    db_.Prepare("PRAGMA user_version").Run();
  }
  std::optional<Progress> Copy() override { return Checkpoint(SQLITE_CHECKPOINT_PASSIVE); }
  // RESTART rather than FULL: FULL copies the whole log, but a reader still on older pages
  // (another process between two statements of its transaction) keeps the next commit
  // from starting the log again, and under load one always is (two processes committing
  // back to back grew it past 60 MB with every FULL complete).
  std::optional<Progress> Finish(int wait_ms) override {
    db_.SetBusyTimeout(wait_ms);  // every writer of every process waits meanwhile
    return Checkpoint(SQLITE_CHECKPOINT_RESTART);
  }
  void SyncFile() override { db_.SyncFile(); }

 private:
  std::optional<Progress> Checkpoint(int mode) {
    auto p = db_.Checkpoint(mode);
    if (!p) return std::nullopt;
    return Progress{p->log_pages, p->copied_pages, p->busy};
  }

  SqliteDb db_;
};

class SqliteStore final : public SqlStore<SqliteDb> {
 public:
  explicit SqliteStore(const std::string& path) : SqlStore(path) { Initialize(); }

  std::unique_ptr<LogCopier> HandOffCheckpoints(std::function<void(int64_t)> committed) override {
    if (db_.path() == ":memory:") return nullptr;
    auto copier = std::make_unique<SqliteLogCopier>(db_.path());  // may throw: nothing changed
    db_.OnCommit(std::move(committed));
    return copier;
  }

  void Write(const std::function<void()>& fn) override {
    if (depth_ > 0) {
      // Nested: a savepoint inside the enclosing transaction, so the inner part is undone
      // alone when it throws and the outer transaction may go on.
      db_.Prepare("SAVEPOINT nested").Run();
      ++depth_;
      try {
        fn();
      } catch (...) {
        --depth_;
        db_.Prepare("ROLLBACK TO nested").Run();
        db_.Prepare("RELEASE nested").Run();
        dictionaries_.RolledBack();
        throw;
      }
      --depth_;
      db_.Prepare("RELEASE nested").Run();
      return;
    }
    db_.Prepare("BEGIN IMMEDIATE").Run();
    ++depth_;
    try {
      fn();
      --depth_;
      db_.Prepare("COMMIT").Run();
      ++commits_;
      dictionaries_.Committed();
    } catch (...) {
      if (depth_ > 0) --depth_;
      try {
        db_.Prepare("ROLLBACK").Run();
      } catch (...) {
        // The connection rolled back by itself (e.g. after an I/O error).
      }
      dictionaries_.RolledBack();
      throw;
    }
  }

  // In WAL mode a commit with synchronous=NORMAL is in the WAL (the OS's cache) when it
  // returns, without an fsync; the WAL is synced in order, so the next FULL commit makes it
  // durable too.
  void WriteUnsynced(const std::function<void()>& fn) override {
    if (depth_ > 0) return Write(fn);
    db_.Exec("PRAGMA synchronous=NORMAL");
    try {
      Write(fn);
    } catch (...) {
      db_.Exec("PRAGMA synchronous=FULL");
      throw;
    }
    db_.Exec("PRAGMA synchronous=FULL");
  }

  uint64_t CommitMark() override {
    // data_version moves when another connection commits; our own commits are counted.
    auto s = db_.Prepare("PRAGMA data_version");
    s.Step();
    return (static_cast<uint64_t>(s.Int(0)) << 32) + commits_;
  }

  std::vector<JobRecord> ClaimDueJobs(Millis now, int limit, Millis lease_ms) override {
    // One statement claims the batch, so two workers can never both hold one job. Each
    // state is read through its own index, oldest first, at most `limit` rows each: the
    // claim reads at most 2 * limit rows however many are due (no sort of a backlog).
    auto s = db_.Prepare(
        "UPDATE jobs SET state = 'claimed', lease_until_ms = ?1 + ?3, attempt = attempt + 1"
        " WHERE job_id IN (SELECT job_id FROM ("
        "   SELECT job_id, due_ms FROM (SELECT job_id, due_ms FROM jobs"
        "     WHERE state = 'pending' AND due_ms <= ?1 ORDER BY due_ms LIMIT ?2)"
        "   UNION ALL"
        "   SELECT job_id, due_ms FROM (SELECT job_id, due_ms FROM jobs"
        "     WHERE state = 'claimed' AND lease_until_ms <= ?1 ORDER BY lease_until_ms LIMIT ?2))"
        "   ORDER BY due_ms LIMIT ?2)"
        " RETURNING job_id, kind, subject, due_ms, attempt");
    s.Bind(1, now).Bind(2, limit).Bind(3, lease_ms);
    return ReadClaimedJobs(s);
  }

  int RenewClaims(const std::vector<std::pair<int64_t, int>>& claims, Millis lease_until) override {
    int renewed = 0;
    for (const auto& [job_id, attempt] : claims) {
      db_.Prepare("UPDATE jobs SET lease_until_ms = ? WHERE job_id = ? AND attempt = ?"
                  " AND state = 'claimed'")
          .Bind(1, lease_until)
          .Bind(2, job_id)
          .Bind(3, attempt)
          .Run();
      renewed += static_cast<int>(db_.ChangedRows());
    }
    return renewed;
  }

  // The cap's counters (store.h): the write lock is already ours.
  std::map<std::string, CartEventCount> LockCartEventCounts(
      const std::vector<std::string>& cart_ids) override {
    std::map<std::string, CartEventCount> out;
    for (const std::string& cart_id : cart_ids) {
      auto s = db_.Prepare(
          "SELECT window_start_ms, events, refused FROM cart_event_counts WHERE cart_id = ?1");
      s.Bind(1, cart_id);
      if (s.Step()) out[cart_id] = {s.Int(0), s.Int(1), s.Int(2)};
    }
    return out;
  }

  void SaveCartEventCounts(const std::map<std::string, CartEventCount>& counts) override {
    for (const auto& [cart_id, c] : counts)
      db_.Prepare("INSERT OR REPLACE INTO cart_event_counts(cart_id, window_start_ms, events, refused)"
                  " VALUES(?1, ?2, ?3, ?4)")
          .Bind(1, cart_id)
          .Bind(2, c.window_start_ms)
          .Bind(3, c.events)
          .Bind(4, c.refused)
          .Run();
  }

  int64_t AddCoupons(const std::vector<Coupon>& coupons) override {
    int64_t added = 0;
    for (const auto& c : coupons) {
      db_.Prepare(
             "INSERT OR IGNORE INTO coupons(code, pool, shared, discount_kind, amount, currency,"
             " expires_ms, assigned_contact, assigned_ms, shown) VALUES(?,?,?,?,?,?,?,?,?,?)")
          .Bind(1, c.code)
          .Bind(2, c.pool)
          .Bind(3, static_cast<int64_t>(c.shared))
          .Bind(4, DiscountKindName(c.discount.kind))
          .Bind(5, c.discount.amount)
          .Bind(6, c.discount.currency)
          .Bind(7, c.expires_ms)
          .Bind(8, c.assigned_contact)
          .Bind(9, c.assigned_contact.empty() ? int64_t{0} : int64_t{1})
          .Bind(10, c.shown == c.code ? std::string() : c.shown)
          .Run();
      added += db_.ChangedRows();
    }
    return added;
  }

  std::optional<Coupon> TakeFreeCoupon(const CouponPool& pool, const std::string& contact_key,
                                       Millis now) override {
    // One statement: choose and assign, so two workers can never hand out the same code.
    auto s = db_.Prepare(
        "UPDATE coupons SET assigned_contact = ?1, assigned_ms = ?2,"
        " expires_ms = CASE WHEN ?3 = 0 THEN expires_ms WHEN expires_ms = 0 OR ?3 < expires_ms"
        " THEN ?3 ELSE expires_ms END"
        " WHERE code = (SELECT code FROM coupons WHERE pool = ?4 AND shared = 0"
        " AND assigned_contact = '' AND (expires_ms = 0 OR expires_ms > ?2) ORDER BY rowid LIMIT 1)"
        " RETURNING code");
    s.Bind(1, contact_key).Bind(2, now).Bind(3, CouponExpiry(pool, now)).Bind(4, pool.name);
    if (!s.Step()) return std::nullopt;
    std::string code = s.Text(0);
    while (s.Step()) {
    }
    return LoadCoupon(code);
  }

  StoreStatus Status(Millis now) override {
    StoreStatus st = SqlStore::Status(now);
    st.schema_version = SqliteSchemaVersion();
    return st;
  }
  void Compact() override;

 private:
  void Initialize();

  std::string ReplaceRow(const char* table, const char* columns) const override {
    return std::string("INSERT OR REPLACE INTO ") + table + "(" + columns + ") VALUES(" +
           ParamsFor(columns) + ")";
  }
  // A plan that reads the rows in rowid order breaks the tie so by itself; where the rows are
  // sorted instead, the caller names the table ("messages.seq") and the tie is spelled out.
  std::string Then(const char* seq_order) const override {
    std::string order = seq_order;
    const size_t seq = order.find(".seq");
    return seq == std::string::npos ? "" : ", " + order.replace(seq + 1, 3, "rowid");
  }
  std::string ByteOrder(const std::string& expr) const override { return expr; }
  // A body's text and html packed against its template's text where that pays (body_codec.h).
  void BindBody(Statement& s, const MessageRecord& m) override {
    std::optional<std::string> text, html;
    std::optional<int64_t> dict_id;
    if (m.body_dictionary) {
      const BodyDictionaries::Entry& dictionary = dictionaries_.For(m.body_dictionary, m.created_ms);
      text = dictionary.packer->Pack(m.text);
      html = dictionary.packer->Pack(m.html);
      if (text || html) dict_id = dictionary.dict_id;
    }
    s.Bind(1, m.subject).Bind(5, dict_id);
    if (text) s.BindBlob(2, *text);
    else s.Bind(2, m.text);
    if (html) s.BindBlob(3, *html);
    else s.Bind(3, m.html);
  }
  std::string IdSet(int param, const char*) const override {
    return "SELECT value FROM json_each(?" + std::to_string(param) + ")";
  }
  std::string DayOf(const std::string& ms) const override {
    return "strftime('%Y-%m-%d', " + ms + " / 1000, 'unixepoch')";
  }
  std::string JsonField(const std::string& json, const char* field) const override {
    return "json_extract(" + json + ", '$." + field + "')";
  }
  std::string JsonObject(const std::string& members) const override {
    return "json_object(" + members + ")";
  }
  std::string Contains(const std::string& haystack, const std::string& needle) const override {
    return "instr(" + haystack + ", " + needle + ") > 0";
  }
  std::string RowJson(const char* table, const std::string& extra) override;
  std::string WrittenOrder() const override { return " ORDER BY rowid"; }
  void AfterErase() override;
  void AfterPrune(const RetentionWindows& w) override {
    if (w.vacuum_pages > 0 && db_.path() != ":memory:")
      db_.Exec("PRAGMA incremental_vacuum(" + std::to_string(w.vacuum_pages) + ")");
  }

  int depth_ = 0;  // Write() nesting
  uint64_t commits_ = 0;  // transactions committed through this connection (CommitMark)
  BodyDictionaries dictionaries_{db_};  // unpack_body, and the rows bodies are packed against
};

void SqliteStore::Initialize() {
  const bool memory = db_.path() == ":memory:";
  int64_t app_id = 0, version = 0, tables = 0;
  try {
    auto s = db_.Prepare("PRAGMA application_id");
    if (s.Step()) app_id = s.Int(0);
  } catch (const Error& e) {
    throw Error(ErrorCode::kStorage,
                "'" + db_.path() + "' is not a cartrecovery store (not a SQLite database)");
  }
  {
    auto s = db_.Prepare("PRAGMA user_version");
    if (s.Step()) version = s.Int(0);
  }
  {
    auto s = db_.Prepare("SELECT count(*) FROM sqlite_master");
    if (s.Step()) tables = s.Int(0);
  }
  if (tables > 0 && app_id != kApplicationId)
    throw Error(ErrorCode::kStorage, "'" + db_.path() +
                                         "' is not a cartrecovery store (another application's "
                                         "SQLite database); refusing to touch it");
  const int latest = SqliteSchemaVersion();
  if (version > latest)
    throw Error(ErrorCode::kStorage,
                "'" + db_.path() + "' was written by a newer cartrecovery (schema " +
                    std::to_string(version) + "; this version knows up to " +
                    std::to_string(latest) + "); upgrade the package");
  if (!memory) {
    // Retention hands freed pages back to the file system a batch at a time (Prune); a
    // new file gets that mode before its first table, an older one at its upgrade below.
    if (tables == 0) db_.Exec("PRAGMA auto_vacuum=INCREMENTAL");
    // WAL: readers never block the writer. FULL: a commit that gates a send (an order, an
    // unsubscribe) survives power loss, not only a process crash.
    db_.Exec("PRAGMA journal_mode=WAL");
  }
  // Deleted and overwritten content is zeroed in the file, not left in free space: a
  // forgotten shopper's address must not be found in the file afterwards (engine.forget).
  db_.Exec("PRAGMA secure_delete=ON");
  db_.Exec("PRAGMA synchronous=FULL");
  // Savepoints journal the pages they change; on disk that journal costs ~17 writes per
  // event in a batch (measured with strace). In memory it is a few KB, emptied per event.
  db_.Exec("PRAGMA temp_store=MEMORY");
  db_.Exec("PRAGMA foreign_keys=OFF");
  // A worker's batch touches a few MB of pages (journeys, carts, contacts, messages and
  // their indexes); with SQLite's default 2 MB cache it read them again from the file and
  // spilled dirty pages to the WAL mid-transaction. 32 MB (grown only as used): 2.4x fewer
  // pread64 and 11% fewer pwrite64 over a 20,000-reminder run_due() (strace -c).
  // mmap_size was measured too and left off: fewer reads than the default but more than
  // the larger cache, and an I/O error on a mapped page is a SIGBUS instead of an error.
  db_.Exec("PRAGMA cache_size=-32768");
  if (version == latest) return;
  Write([&] {
    // Re-read under the write lock: another process may have migrated meanwhile.
    int64_t current = 0;
    {
      // Reset before migrating: a pending statement would block DROP TABLE.
      auto s = db_.Prepare("PRAGMA user_version");
      if (s.Step()) current = s.Int(0);
    }
    for (int64_t v = current; v < latest; ++v) db_.Exec(Migrations()[v]);
    db_.Exec("PRAGMA application_id=" + std::to_string(kApplicationId));
    db_.Exec("PRAGMA user_version=" + std::to_string(latest));
  });
  if (!memory && version > 0 && version < 8) {
    // A store from before retention: switch it to incremental vacuum once (VACUUM rewrites
    // the file, outside any transaction). Busy with another process: the next open tries.
    try {
      db_.Exec("PRAGMA auto_vacuum=INCREMENTAL");
      db_.Exec("VACUUM");
    } catch (const Error&) {
    }
  }
}

// Every column, whatever later migrations add: the table's own column list.
std::string SqliteStore::RowJson(const char* table, const std::string& extra) {
  std::string members;
  auto s = db_.Prepare(std::string("SELECT name FROM pragma_table_info('") + table + "')");
  while (s.Step())
    members += (members.empty() ? "" : ", ") + ("'" + s.Text(0) + "', \"" + s.Text(0) + "\"");
  if (!extra.empty()) members += ", " + extra;
  return "json_object(" + members + ")";
}

void SqliteStore::AfterErase() {
  // Index b-trees keep copies of keys in their interior pages even after the rows go:
  // rebuilt, their old pages are freed (zeroed by secure_delete) and handed back.
  for (const char* table : {"contacts", "visitors", "carts", "journeys", "messages", "message_bodies",
                            "orders", "offers", "assignments", "coupons", "consent_log", "events", "jobs",
                            "lead_days", "incentive_abandonments"})
    db_.Exec(std::string("REINDEX ") + table);
  if (db_.path() != ":memory:") db_.Exec("PRAGMA incremental_vacuum");
}

void SqliteStore::Compact() {
  if (db_.path() == ":memory:") return;
  db_.Exec("PRAGMA wal_checkpoint(TRUNCATE)");
}

}  // namespace

int SqliteSchemaVersion() { return static_cast<int>(Migrations().size()); }

const char* SqliteMigration(int i) { return Migrations().at(static_cast<size_t>(i)); }

std::unique_ptr<Store> OpenSqliteStore(const std::string& path) {
  return std::make_unique<SqliteStore>(path);
}

}  // namespace internal
}  // namespace cartrecovery
