// The SQLite store. Every statement is prepared once per connection and cached; writes run
// inside Write()'s BEGIN IMMEDIATE transaction so that read-modify-write sequences from
// several processes serialize on SQLite's write lock.
#include "store/sqlite_store.h"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <set>
#include <vector>

#include "cartrecovery/status.h"
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
  };
  return kMigrations;
}

// What lead temperature (S9) reads of [?1, ?2): ev (who, browse) per event, cs (who,
// checkout, carted) per shopper's carts alive then, buyers (who) who ordered then.
#define LEAD_INPUTS                                                                        \
  "ev AS (SELECT " LEAD_WHO_OF_EVENT " AS who, (e.type = 'page_view' AND"                 \
  "   json_extract(e.payload, '$.page_type') IN ('category', 'product')) AS browse"       \
  "   FROM events e LEFT JOIN carts c ON c.cart_id = e.cart_id"                           \
  "   WHERE e.at_ms >= ?1 AND e.at_ms < ?2),"                                              \
  " cs AS (SELECT " LEAD_WHO_OF_CART " AS who, max(c.stage IN (" LEAD_CHECKOUT_STAGES      \
  "   )) AS checkout, max(c.value_minor > 0) AS carted FROM carts c"                      \
  "   WHERE c.last_activity_ms >= ?1 AND c.created_ms < ?2 GROUP BY 1),"                   \
  " buyers AS (SELECT " LEAD_WHO_OF_CART " AS who FROM orders o JOIN carts c"              \
  "   ON c.cart_id = o.cart_id WHERE o.at_ms >= ?1 AND o.at_ms < ?2"                       \
  "   UNION SELECT " LEAD_WHO_OF_CART " FROM orders o JOIN carts c"                        \
  "   ON o.contact_key <> '' AND c.contact_key = o.contact_key"                            \
  "   WHERE o.at_ms >= ?1 AND o.at_ms < ?2)"

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(const std::string& path) : db_(path) { Initialize(); }

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
    } catch (...) {
      if (depth_ > 0) --depth_;
      try {
        db_.Prepare("ROLLBACK").Run();
      } catch (...) {
        // The connection rolled back by itself (e.g. after an I/O error).
      }
      throw;
    }
  }

  void AppendEvent(const Event& e, const std::string& json) override {
    db_.Prepare("INSERT INTO events(type, at_ms, cart_id, visitor_id, payload) VALUES(?,?,?,?,?)")
        .Bind(1, EventTypeName(e.type))
        .Bind(2, e.at_ms)
        .Bind(3, e.cart_id)
        .Bind(4, e.visitor_id)
        .Bind(5, json)
        .Run();
  }

  std::map<std::string, CartEventCount> LockCartEventCounts(
      const std::vector<std::string>& cart_ids) override {
    std::map<std::string, CartEventCount> out;  // the write lock is already ours
    for (const std::string& cart_id : cart_ids) {
      auto s = db_.Prepare(
          "SELECT window_start_ms, events, refused FROM cart_event_counts WHERE cart_id = ?");
      s.Bind(1, cart_id);
      if (s.Step()) out[cart_id] = {s.Int(0), s.Int(1), s.Int(2)};
    }
    return out;
  }

  void SaveCartEventCounts(const std::map<std::string, CartEventCount>& counts) override {
    for (const auto& [cart_id, c] : counts)
      db_.Prepare("INSERT OR REPLACE INTO cart_event_counts(cart_id, window_start_ms, events, refused)"
                  " VALUES(?,?,?,?)")
          .Bind(1, cart_id)
          .Bind(2, c.window_start_ms)
          .Bind(3, c.events)
          .Bind(4, c.refused)
          .Run();
  }

  std::optional<Cart> LoadCart(const std::string& cart_id) override {
    auto s = db_.Prepare(CartSelect("WHERE cart_id = ?"));
    s.Bind(1, cart_id);
    if (!s.Step()) return std::nullopt;
    return CartFromRow(s, cart_id);
  }

  void SaveCart(const Cart& c) override {
    auto s = db_.Prepare(
        "INSERT OR REPLACE INTO carts(cart_id, visitor_id, contact_key, state, stage, currency,"
        " items, value_minor, restore_url, created_ms, last_activity_ms)"
        " VALUES(?,?,?,?,?,?,?,?,?,?,?)");
    BindCartRow(s, c).Run();
  }

  std::optional<Contact> LoadContact(const std::string& key) override {
    auto s = db_.Prepare(ContactSelect("WHERE contact_key = ?"));
    s.Bind(1, key);
    if (!s.Step()) return std::nullopt;
    return ContactFromRow(s, key);
  }

  void SaveContact(const Contact& c) override {
    auto s = db_.Prepare(
        "INSERT OR REPLACE INTO contacts(contact_key, email, phone, first_name, language,"
        " timezone, orders_count, lifetime_value_minor, consent_email, consent_sms,"
        " consent_push, consent_personalization, unsubscribed, last_message_ms, last_order_ms,"
        " push_subscription, email_bounced, phone_bounced)"
        " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    BindContactRow(s, c).Run();
  }

  std::vector<std::string> ContactsWithPhone(const std::string& phone,
                                             const std::string& except_key) override {
    auto s = db_.Prepare("SELECT contact_key FROM contacts WHERE phone = ? AND contact_key <> ?");
    s.Bind(1, phone).Bind(2, except_key);
    std::vector<std::string> keys;
    while (s.Step()) keys.push_back(s.Text(0));
    return keys;
  }

  std::string ContactKeyForVisitor(const std::string& visitor_id) override {
    auto s = db_.Prepare("SELECT contact_key FROM visitors WHERE visitor_id = ?");
    s.Bind(1, visitor_id);
    return s.Step() ? s.Text(0) : std::string();
  }

  void LinkVisitor(const std::string& visitor_id, const std::string& key) override {
    db_.Prepare("INSERT OR REPLACE INTO visitors(visitor_id, contact_key) VALUES(?,?)")
        .Bind(1, visitor_id)
        .Bind(2, key)
        .Run();
  }

  std::vector<std::string> CartsOfContact(const std::string& key) override {
    auto s = db_.Prepare(
        "SELECT cart_id FROM carts WHERE contact_key = ? ORDER BY last_activity_ms DESC");
    s.Bind(1, key);
    std::vector<std::string> ids;
    while (s.Step()) ids.push_back(s.Text(0));
    return ids;
  }

  std::optional<JourneyRecord> LoadJourney(const std::string& id) override {
    auto s = db_.Prepare(JourneySelect("WHERE journey_id = ?"));
    s.Bind(1, id);
    return ReadJourney(s);
  }

  std::optional<JourneyRecord> RunningJourneyOfContact(const std::string& key) override {
    auto s = db_.Prepare(JourneySelect(
        "WHERE contact_key = ? AND state = 'running' ORDER BY started_ms DESC LIMIT 1"));
    s.Bind(1, key);
    return ReadJourney(s);
  }

  std::optional<JourneyRecord> LatestJourneyOfCart(const std::string& cart_id) override {
    auto s = db_.Prepare(JourneySelect("WHERE cart_id = ? ORDER BY started_ms DESC LIMIT 1"));
    s.Bind(1, cart_id);
    return ReadJourney(s);
  }

  void SaveJourney(const JourneyRecord& j) override {
    auto s = db_.Prepare(
        "INSERT OR REPLACE INTO journeys(journey_id, contact_key, cart_id, flow, path, state,"
        " end_reason, next_step, next_due_ms, next_branch, started_ms, prev_sent_ms,"
        " prev_engagement, prev_branch, updated_ms) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    BindJourneyRow(s, j).Run();
  }

  void ScheduleJob(const std::string& kind, const std::string& subject, Millis due_ms) override {
    db_.Prepare(
           "INSERT INTO jobs(kind, subject, due_ms, state, lease_until_ms, attempt)"
           " VALUES(?,?,?,'pending',0,0) ON CONFLICT(kind, subject) DO UPDATE SET"
           " due_ms = excluded.due_ms, state = 'pending', lease_until_ms = 0")
        .Bind(1, kind)
        .Bind(2, subject)
        .Bind(3, due_ms)
        .Run();
  }

  void CancelJobs(const std::string& kind, const std::string& subject) override {
    db_.Prepare("DELETE FROM jobs WHERE kind = ? AND subject = ?").Bind(1, kind).Bind(2, subject).Run();
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
    std::vector<JobRecord> jobs;
    while (s.Step()) {
      JobRecord j;
      j.job_id = s.Int(0);
      j.kind = s.Text(1);
      j.subject = s.Text(2);
      j.due_ms = s.Int(3);
      j.attempt = static_cast<int>(s.Int(4));
      jobs.push_back(std::move(j));
    }
    // RETURNING gives rows in no set order; run the most overdue first.
    std::sort(jobs.begin(), jobs.end(),
              [](const JobRecord& a, const JobRecord& b) { return a.due_ms < b.due_ms; });
    return jobs;
  }

  bool FinishJob(int64_t job_id, int attempt) override {
    // "done" is the row's removal: finished jobs leave nothing behind to scan.
    db_.Prepare("DELETE FROM jobs WHERE job_id = ? AND attempt = ? AND state = 'claimed'")
        .Bind(1, job_id)
        .Bind(2, attempt)
        .Run();
    return db_.ChangedRows() == 1;
  }

  bool RetryJob(int64_t job_id, int attempt, Millis due_ms) override {
    db_.Prepare(
           "UPDATE jobs SET state = 'pending', due_ms = ?, lease_until_ms = 0"
           " WHERE job_id = ? AND attempt = ? AND state = 'claimed'")
        .Bind(1, due_ms)
        .Bind(2, job_id)
        .Bind(3, attempt)
        .Run();
    return db_.ChangedRows() == 1;
  }

  bool ClaimIsCurrent(int64_t job_id, int attempt) override {
    auto s = db_.Prepare("SELECT 1 FROM jobs WHERE job_id = ? AND attempt = ? AND state = 'claimed'");
    s.Bind(1, job_id).Bind(2, attempt);
    return s.Step();
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

  std::optional<Millis> NextDueMs() override {
    auto s = db_.Prepare(
        "SELECT (SELECT min(due_ms) FROM jobs WHERE state = 'pending'),"
        " (SELECT min(lease_until_ms) FROM jobs WHERE state = 'claimed')");
    return EarlierOf(s);
  }

  bool InsertMessage(const MessageRecord& m) override {
    auto s = db_.Prepare(
        "INSERT OR IGNORE INTO messages(message_id, journey_id, cart_id, contact_key, flow, path,"
        " step, branch, channel, status, reason, to_addr, subject, text, html, due_ms, sent_ms,"
        " attempts, created_ms, variant) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    BindNewMessageRow(s, m).Run();
    return db_.ChangedRows() == 1;
  }

  std::optional<MessageRecord> LoadMessage(const std::string& id) override {
    auto s = db_.Prepare(MessageSelect("WHERE message_id = ?"));
    s.Bind(1, id);
    if (!s.Step()) return std::nullopt;
    return ReadMessage(s);
  }

  void UpdateMessage(const MessageRecord& m) override {
    auto s = db_.Prepare(
        "UPDATE messages SET status = ?, reason = ?, to_addr = ?, subject = ?, text = ?,"
        " html = ?, sent_ms = ?, opened_ms = ?, clicked_ms = ?, attempts = ?, due_ms = ?,"
        " variant = ?, unsubscribed_ms = ? WHERE message_id = ?");
    BindMessageUpdate(s, m).Run();
  }

  void SuppressUnsent(const std::string& journey_id, const std::string& reason) override {
    db_.Prepare(
           "UPDATE messages SET status = 'suppressed', reason = ?"
           " WHERE journey_id = ? AND status IN ('sending', 'retrying', 'deferred', 'paused')")
        .Bind(1, reason)
        .Bind(2, journey_id)
        .Run();
  }

  std::vector<MessageRecord> ListMessages(const MessageFilter& f) override {
    // Only the filters given reach the SQL, so each query can use its index (a journey's
    // messages are read after every step: that must not scan the table).
    std::string where = "WHERE 1";
    if (!f.cart_id.empty()) where += " AND cart_id = ?1";
    if (!f.contact_key.empty()) where += " AND contact_key = ?2";
    if (!f.journey_id.empty()) where += " AND journey_id = ?3";
    auto s = db_.Prepare(MessageSelect((where + " ORDER BY created_ms, step, channel LIMIT ?4").c_str()));
    s.Bind(1, f.cart_id).Bind(2, f.contact_key).Bind(3, f.journey_id).Bind(4, f.limit > 0 ? f.limit : -1);
    std::vector<MessageRecord> out;
    while (s.Step()) out.push_back(ReadMessage(s));
    return out;
  }

  std::optional<MessageRecord> LastSentTo(const std::string& key, Millis since) override {
    auto s = db_.Prepare(MessageSelect(
        "WHERE contact_key = ? AND status = 'sent' AND sent_ms >= ? ORDER BY sent_ms DESC LIMIT 1"));
    s.Bind(1, key).Bind(2, since);
    if (!s.Step()) return std::nullopt;
    return ReadMessage(s);
  }

  ContactSends SendsTo(const std::string& key, Millis since) override {
    ContactSends out;
    {
      auto s = db_.Prepare(
          "SELECT channel, max(sent_ms) FROM messages WHERE contact_key = ? AND status = 'sent'"
          " GROUP BY channel");
      s.Bind(1, key);
      while (s.Step()) out.last_by_channel[s.Text(0)] = s.Int(1);
    }
    auto s = db_.Prepare(
        "SELECT channel, sent_ms FROM messages WHERE contact_key = ? AND status = 'sent'"
        " AND sent_ms >= ? ORDER BY sent_ms");
    s.Bind(1, key).Bind(2, since);
    while (s.Step()) out.recent.emplace_back(s.Text(0), s.Int(1));
    return out;
  }

  void SavePool(const CouponPool& p) override {
    auto s = db_.Prepare(
        "INSERT OR REPLACE INTO coupon_pools(name, kind, discount_kind, amount, currency,"
        " static_code, prefix, code_length, valid_for_ms, expires_ms)"
        " VALUES(?,?,?,?,?,?,?,?,?,?)");
    BindPoolRow(s, p).Run();
  }

  std::optional<CouponPool> LoadPool(const std::string& name) override {
    auto s = db_.Prepare(PoolSelect("WHERE name = ?"));
    s.Bind(1, name);
    if (!s.Step()) return std::nullopt;
    return PoolFromRow(s, name);
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

  std::optional<Coupon> LoadCoupon(const std::string& code) override {
    auto s = db_.Prepare(CouponSelect("WHERE code = ?"));
    s.Bind(1, code);
    if (!s.Step()) return std::nullopt;
    return CouponFromRow(s, code);
  }

  void MarkRedeemed(const std::string& code, const std::string& order_id, Millis at) override {
    db_.Prepare("UPDATE coupons SET redeemed_order = ?, redeemed_ms = ? WHERE code = ? AND shared = 0")
        .Bind(1, order_id)
        .Bind(2, at)
        .Bind(3, code)
        .Run();
  }

  int64_t FreeCoupons(const std::string& pool, Millis now) override {
    auto s = db_.Prepare(
        "SELECT count(*) FROM coupons WHERE pool = ? AND shared = 0 AND assigned_contact = ''"
        " AND (expires_ms = 0 OR expires_ms > ?)");
    s.Bind(1, pool).Bind(2, now);
    return s.Step() ? s.Int(0) : 0;
  }

  std::optional<Coupon> AssignedCoupon(const std::string& pool, const std::string& contact_key,
                                       Millis now) override {
    std::string code;
    {
      auto s = db_.Prepare(
          "SELECT code FROM coupons WHERE pool = ? AND assigned_contact = ? AND shared = 0"
          " AND redeemed_order = '' AND (expires_ms = 0 OR expires_ms > ?) ORDER BY assigned_ms DESC"
          " LIMIT 1");
      s.Bind(1, pool).Bind(2, contact_key).Bind(3, now);
      if (!s.Step()) return std::nullopt;
      code = s.Text(0);
    }
    return LoadCoupon(code);
  }

  std::map<std::pair<std::string, std::string>, int64_t> PausedMessages() override {
    std::map<std::pair<std::string, std::string>, int64_t> out;
    auto s = db_.Prepare(
        "SELECT flow, reason, count(*) FROM messages WHERE status = 'paused' GROUP BY flow, reason");
    while (s.Step()) out[{s.Text(0), s.Text(1)}] = s.Int(2);
    return out;
  }

  int64_t ResumePaused(Millis now) override {
    db_.Prepare(
           "UPDATE jobs SET due_ms = ?1, state = 'pending', lease_until_ms = 0 WHERE kind = 'step'"
           " AND state = 'pending' AND due_ms > ?1 AND subject IN"
           " (SELECT journey_id FROM messages WHERE status = 'paused' AND reason <> 'flow_paused')")
        .Bind(1, now)
        .Run();
    return db_.ChangedRows();
  }

  int64_t PruneCoupons(Millis now, Millis grace_ms) override {
    db_.Prepare(
           "DELETE FROM coupons WHERE shared = 0 AND redeemed_order = '' AND expires_ms <> 0"
           " AND expires_ms + ? <= ?")
        .Bind(1, grace_ms)
        .Bind(2, now)
        .Run();
    return db_.ChangedRows();
  }

  std::optional<OfferRecord> LatestOffer(const std::string& visitor_id,
                                         const std::string& contact_key) override {
    auto s = db_.Prepare(OfferSelect(
        "WHERE source = 'popup' AND (visitor_id = ?1 OR (?2 <> '' AND contact_key = ?2))"
        " ORDER BY decided_ms DESC,"
        " offer_id DESC LIMIT 1"));
    s.Bind(1, visitor_id).Bind(2, contact_key);
    return ReadOffer(s);
  }

  std::optional<OfferRecord> LastShownOffer(const std::string& visitor_id,
                                            const std::string& contact_key, Millis since,
                                            Millis until) override {
    auto s = db_.Prepare(OfferSelect(
        "WHERE show = 1 AND source = 'popup' AND (visitor_id = ?1 OR (?2 <> '' AND contact_key = ?2))"
        " AND decided_ms >= ?3 AND decided_ms <= ?4 ORDER BY decided_ms DESC, offer_id DESC LIMIT 1"));
    s.Bind(1, visitor_id).Bind(2, contact_key).Bind(3, since).Bind(4, until);
    return ReadOffer(s);
  }




  void SaveOffer(const OfferRecord& o) override {
    auto s = db_.Prepare(
        "INSERT INTO offers(visitor_id, cart_id, contact_key, show, kind, variant, reason,"
        " incentive_rule, coupon_code, decided_ms, source) VALUES(?,?,?,?,?,?,?,?,?,?,?)");
    BindOfferRow(s, o).Run();
  }

  IncentiveHistory IncentiveCounts(Millis since) override {
    auto s = db_.Prepare(
        // One abandonment (a cart) asked about twice, by a popup and by a reminder step, is
        // one abandoner; valuable ones are those the priority rule decided (S8).
        "SELECT count(DISTINCT " ABANDONMENT "), sum(show),"
        " count(DISTINCT CASE WHEN incentive_rule IN ('priority_customer',"
        " 'priority_budget_exhausted') THEN " ABANDONMENT " END),"
        " sum(CASE WHEN incentive_rule = 'priority_customer' AND show = 1 THEN 1 ELSE 0 END)"
        " FROM offers WHERE kind = 'coupon' AND incentive_rule <> '' AND decided_ms >= ?");
    s.Bind(1, since);
    IncentiveHistory h;
    if (s.Step()) {
      h.abandoners = s.Int(0);
      h.incentives = s.IsNull(1) ? 0 : s.Int(1);
      h.valuable = s.Int(2);
      h.valuable_incentives = s.IsNull(3) ? 0 : s.Int(3);
    }
    return h;
  }

  std::optional<OfferRecord> StepIncentive(const std::string& key) override {
    auto s = db_.Prepare(OfferSelect(
        "WHERE source = 'flow' AND visitor_id = ? ORDER BY offer_id DESC LIMIT 1"));
    s.Bind(1, key);
    return ReadOffer(s);
  }

  Millis LastIncentiveTo(const std::string& contact_key) override {
    auto s = db_.Prepare(
        "SELECT max(decided_ms) FROM offers WHERE contact_key = ? AND kind = 'coupon' AND show = 1");
    s.Bind(1, contact_key);
    return s.Step() && !s.IsNull(0) ? s.Int(0) : 0;
  }

  std::vector<FunnelRow> Funnel(Millis since, Millis until) override {
    auto s = db_.Prepare(
        "SELECT stage, count(*), sum(state IN ('abandoned', 'expired', 'recovered')),"
        " sum(state = 'recovered') FROM carts WHERE created_ms >= ? AND created_ms < ?"
        " AND value_minor > 0 GROUP BY stage");
    s.Bind(1, since).Bind(2, until);
    std::map<std::string, FunnelRow> by_stage;
    while (s.Step()) {
      FunnelRow r;
      r.stage = s.Text(0);
      r.carts = s.Int(1);
      r.abandoned = s.Int(2);
      r.recovered = s.Int(3);
      by_stage[r.stage] = r;
    }
    {
      // Carts pruned by retention, by the day they were created (whole days in the range).
      auto d = db_.Prepare(
          "SELECT stage, sum(carts), sum(abandoned), sum(recovered) FROM funnel_days"
          " WHERE day_ms >= ? AND day_ms <= ? - 86400000 GROUP BY stage");
      d.Bind(1, since).Bind(2, until);
      while (d.Step()) {
        FunnelRow& r = by_stage[d.Text(0)];
        r.stage = d.Text(0);
        r.carts += d.Int(1);
        r.abandoned += d.Int(2);
        r.recovered += d.Int(3);
      }
    }
    std::vector<FunnelRow> out;  // in checkout order, every stage present
    for (Stage st : {Stage::kCart, Stage::kContact, Stage::kShippingAddress,
                     Stage::kShippingMethod, Stage::kPayment}) {
      FunnelRow r = by_stage[StageName(st)];
      r.stage = StageName(st);
      out.push_back(r);
    }
    return out;
  }

  LeadCounts Leads(Millis since, Millis until) override {
    // S9, from whatever the shop sends: a shopper is anyone with an event in the range (by
    // visitor, else by the cart's visitor, else by cart); buyers in the range are no lead.
    // Shoppers of whole days whose events were pruned come from lead_days; one seen both
    // there and in the events left counts once, with what either says.
    auto s = db_.Prepare(
        "WITH " LEAD_INPUTS ","
        " shoppers AS (SELECT who, max(browsed) AS browsed, max(checkout) AS checkout,"
        "   max(carted) AS carted, max(bought) AS bought FROM ("
        "   SELECT who, browse AS browsed, 0 AS checkout, 0 AS carted, 0 AS bought FROM ev"
        "   WHERE who IS NOT NULL UNION ALL SELECT who, browsed, checkout, carted, bought"
        "   FROM lead_days WHERE day_ms >= ?1 AND day_ms <= ?2 - 86400000) GROUP BY who),"
        " t AS (SELECT s.browsed, max(s.checkout, coalesce(cs.checkout, 0)) AS checkout,"
        "   max(s.carted, coalesce(cs.carted, 0)) AS carted, max(s.bought, b.who IS NOT NULL)"
        "   AS bought FROM shoppers s LEFT JOIN cs ON cs.who = s.who"
        "   LEFT JOIN buyers b ON b.who = s.who)"
        " SELECT sum(NOT bought AND checkout),"
        "   sum(NOT bought AND NOT checkout AND (carted OR browsed)),"
        "   sum(NOT bought AND NOT checkout AND NOT carted AND NOT browsed) FROM t");
    s.Bind(1, since).Bind(2, until);
    LeadCounts l;
    if (s.Step() && !s.IsNull(0)) {
      l.hot = s.Int(0);
      l.warm = s.Int(1);
      l.cold = s.Int(2);
    }
    {
      // Days past the reports window count per day: a shopper of several days, once each.
      auto d = db_.Prepare("SELECT sum(hot), sum(warm), sum(cold) FROM lead_totals"
                           " WHERE day_ms >= ?1 AND day_ms <= ?2 - 86400000");
      d.Bind(1, since).Bind(2, until);
      if (d.Step()) {
        l.hot += d.Int(0);
        l.warm += d.Int(1);
        l.cold += d.Int(2);
      }
    }
    return l;
  }

  // Shoppers' days that ended before `cut` (at most n rows) become counts per day in
  // lead_totals; true when the batch was full.
  bool CollapseLeadDays(Millis cut, int n) {
    const char* batch =
        " (day_ms, who) IN (SELECT day_ms, who FROM lead_days WHERE day_ms + 86400000 <= ?1"
        " ORDER BY day_ms, who LIMIT ?2)";
    auto add = db_.Prepare(
        std::string("INSERT INTO lead_totals(day_ms, cold, warm, hot) SELECT day_ms,"
                    " sum(CASE WHEN bought = 0 AND checkout = 0 AND carted = 0 AND browsed = 0 THEN 1 ELSE 0 END),"
                    " sum(CASE WHEN bought = 0 AND checkout = 0 AND (carted = 1 OR browsed = 1) THEN 1 ELSE 0 END),"
                    " sum(CASE WHEN bought = 0 AND checkout = 1 THEN 1 ELSE 0 END)"
                    " FROM lead_days WHERE") + batch +
        " GROUP BY day_ms ON CONFLICT(day_ms) DO UPDATE SET cold = lead_totals.cold + excluded.cold,"
        " warm = lead_totals.warm + excluded.warm, hot = lead_totals.hot + excluded.hot");
    add.Bind(1, cut).Bind(2, n).Run();
    db_.Prepare(std::string("DELETE FROM lead_days WHERE") + batch).Bind(1, cut).Bind(2, n).Run();
    return db_.ChangedRows() >= n;
  }

  // Before the events older than `cut` go (at most n, oldest first): each UTC day they
  // touch is summarised per shopper into lead_days, once, while all of that day's events
  // are still there.
  void KeepLeadDays(Millis cut, int n) {
    std::vector<Millis> days;
    {
      auto s = db_.Prepare(
          "SELECT DISTINCT x.day FROM (SELECT at_ms / 86400000 * 86400000 AS day FROM (SELECT"
          " at_ms FROM events WHERE at_ms < ?1 ORDER BY at_ms LIMIT ?2) AS b) AS x"
          " WHERE NOT EXISTS (SELECT 1 FROM lead_days WHERE day_ms = x.day)");
      s.Bind(1, cut).Bind(2, n);
      while (s.Step()) days.push_back(s.Int(0));
    }
    for (Millis day : days)
      db_.Prepare(
             "WITH " LEAD_INPUTS ","
             " shoppers AS (SELECT who, max(browse) AS browsed FROM ev WHERE who IS NOT NULL"
             "   GROUP BY who)"
             " INSERT INTO lead_days(day_ms, who, browsed, checkout, carted, bought)"
             " SELECT ?1, s.who, s.browsed, coalesce(cs.checkout, 0), coalesce(cs.carted, 0),"
             " b.who IS NOT NULL FROM shoppers s LEFT JOIN cs ON cs.who = s.who"
             " LEFT JOIN buyers b ON b.who = s.who WHERE true ON CONFLICT(day_ms, who) DO NOTHING")
          .Bind(1, day)
          .Bind(2, day + 86400000)
          .Run();
  }

  std::vector<StoredEvent> ListEvents(Millis since, Millis until, int64_t after_id,
                                     int limit) override {
    auto s = db_.Prepare(
        "SELECT id, type, at_ms, payload FROM events WHERE at_ms >= ?1 AND at_ms < ?2"
        " AND id > ?3 ORDER BY id LIMIT ?4");
    s.Bind(1, since).Bind(2, until).Bind(3, after_id).Bind(4, limit);
    std::vector<StoredEvent> out;
    while (s.Step()) out.push_back({s.Int(0), s.Text(1), s.Int(2), s.Text(3)});
    return out;
  }

  std::string AssignVariant(const std::string& experiment, const std::string& contact_key,
                            const std::string& variant, const std::string& flow,
                            Millis now) override {
    db_.Prepare(
           "INSERT OR IGNORE INTO assignments(experiment, contact_key, variant, flow, assigned_ms)"
           " VALUES(?,?,?,?,?)")
        .Bind(1, experiment)
        .Bind(2, contact_key)
        .Bind(3, variant)
        .Bind(4, flow)
        .Bind(5, now)
        .Run();
    auto s = db_.Prepare("SELECT variant FROM assignments WHERE experiment = ? AND contact_key = ?");
    s.Bind(1, experiment).Bind(2, contact_key);
    return s.Step() ? s.Text(0) : variant;
  }

  std::vector<VariantCounts> StepVariants(const std::string& experiment, Millis window_ms,
                                          Millis since, Millis until) override {
    auto s = db_.Prepare(
        "SELECT variant, count(*), sum(EXISTS(SELECT 1 FROM orders o WHERE"
        "   o.contact_key = assignments.contact_key AND o.at_ms >= assignments.assigned_ms"
        "   AND o.at_ms < assignments.assigned_ms + ?2))"
        " FROM assignments WHERE experiment = ?1 AND assigned_ms >= ?3 AND assigned_ms < ?4"
        " GROUP BY variant ORDER BY variant");
    s.Bind(1, experiment).Bind(2, window_ms).Bind(3, since).Bind(4, until);
    std::vector<VariantCounts> out;
    while (s.Step()) out.push_back({s.Text(0), s.Int(1), s.Int(2)});
    return out;
  }

  void PauseFlow(const std::string& flow, const std::string& reason, Millis now) override {
    db_.Prepare(
           "INSERT INTO flow_pauses(flow, reason, paused_ms) VALUES(?,?,?)"
           " ON CONFLICT(flow) DO UPDATE SET reason = excluded.reason")
        .Bind(1, flow)
        .Bind(2, reason)
        .Bind(3, now)
        .Run();
  }

  bool ResumeFlow(const std::string& flow, Millis now) override {
    db_.Prepare("DELETE FROM flow_pauses WHERE flow = ?").Bind(1, flow).Run();
    if (db_.ChangedRows() == 0) return false;
    // The flow's waiting steps are due at once; each re-checks everything at send time.
    db_.Prepare(
           "UPDATE jobs SET due_ms = ?1, state = 'pending', lease_until_ms = 0 WHERE kind = 'step'"
           " AND state = 'pending' AND due_ms > ?1 AND subject IN (SELECT journey_id FROM messages"
           " WHERE status = 'paused' AND reason = 'flow_paused' AND flow = ?2)")
        .Bind(1, now)
        .Bind(2, flow)
        .Run();
    // They are no longer held: "deferred" until they go (status and flows() agree at once).
    db_.Prepare(
           "UPDATE messages SET status = 'deferred', reason = 'flow_resumed' WHERE status = 'paused'"
           " AND reason = 'flow_paused' AND flow = ?1")
        .Bind(1, flow)
        .Run();
    return true;
  }

  std::map<std::string, FlowPause> FlowPauses() override {
    std::map<std::string, FlowPause> out;
    auto s = db_.Prepare("SELECT flow, reason, paused_ms FROM flow_pauses");
    while (s.Step()) out[s.Text(0)] = FlowPause{s.Text(1), s.Int(2)};
    return out;
  }

  std::vector<VariantCounts> OfferVariants(const std::string& kind, Millis window_ms, Millis since,
                                           Millis until) override {
    auto s = db_.Prepare(
        "SELECT variant, count(*), sum(EXISTS(SELECT 1 FROM orders o WHERE o.contact_key <> ''"
        "   AND o.contact_key = offers.contact_key AND o.at_ms >= offers.decided_ms"
        "   AND o.at_ms < offers.decided_ms + ?2))"
        " FROM offers WHERE kind = ?1 AND variant <> '' AND decided_ms >= ?3 AND decided_ms < ?4"
        " GROUP BY variant"
        // Decisions pruned by retention (whole days in the range).
        " UNION ALL SELECT variant, sum(trials), sum(conversions) FROM offer_days WHERE kind = ?1"
        " AND day_ms >= ?3 AND day_ms <= ?4 - 86400000 GROUP BY variant");
    s.Bind(1, kind).Bind(2, window_ms).Bind(3, since).Bind(4, until);
    std::map<std::string, VariantCounts> merged;
    while (s.Step()) {
      auto& v = merged[s.Text(0)];
      v = {s.Text(0), v.trials + s.Int(1), v.conversions + s.Int(2)};
    }
    std::vector<VariantCounts> out;
    for (auto& kv : merged) out.push_back(kv.second);
    return out;
  }

  bool InsertOrder(const OrderRecord& o) override {
    auto s = db_.Prepare(
        "INSERT OR IGNORE INTO orders(order_id, cart_id, contact_key, value_minor, currency,"
        " coupon, at_ms, message_id, flow, step, channel) VALUES(?,?,?,?,?,?,?,?,?,?,?)");
    BindOrderRow(s, o).Run();
    return db_.ChangedRows() == 1;
  }

  std::vector<ReportRow> Report(const ReportQuery& q) override;
  StoreStatus Status(Millis now) override;
  PruneCounts Prune(Millis now, const RetentionWindows& w, Millis attribution_ms) override;
  PersonKeys FindPerson(const std::string& email, const std::string& phone) override;
  std::vector<std::pair<std::string, std::string>> PersonRows(const PersonKeys& who) override;
  std::map<std::string, int64_t> ErasePerson(const PersonKeys& who, const std::string& anonymous) override;
  void Compact() override;
  void LogConsent(const std::string& contact_key, const std::string& what, bool granted,
                  Millis at_ms, const std::string& source) override;

  void RecordWorkerRun(const std::string& worker_id, Millis now, int jobs_run) override {
    db_.Prepare(
           "INSERT INTO workers(worker_id, last_run_ms, jobs_run) VALUES(?,?,?)"
           " ON CONFLICT(worker_id) DO UPDATE SET last_run_ms = excluded.last_run_ms,"
           " jobs_run = jobs_run + excluded.jobs_run")
        .Bind(1, worker_id)
        .Bind(2, now)
        .Bind(3, jobs_run)
        .Run();
  }

 private:
  void Initialize();





  SqliteDb db_;
  int depth_ = 0;  // Write() nesting
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

namespace {

// A JSON array of the ids, for "IN (SELECT value FROM json_each(?))": one bound value per
// batch instead of one statement per row.
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

// Adds a batch's counts to a report_days row (excluded: the batch's row).
constexpr const char* kAddReportDay =
    " ON CONFLICT(day_ms, flow, path, step, channel, variant, currency) DO UPDATE SET"
    " sent = sent + excluded.sent, failed = failed + excluded.failed,"
    " suppressed = suppressed + excluded.suppressed, opened = opened + excluded.opened,"
    " clicked = clicked + excluded.clicked, bounced = bounced + excluded.bounced,"
    " unsubscribed = unsubscribed + excluded.unsubscribed, orders = orders + excluded.orders,"
    " orders_with_coupon = orders_with_coupon + excluded.orders_with_coupon,"
    " revenue_minor = revenue_minor + excluded.revenue_minor";

}  // namespace

PruneCounts SqliteStore::Prune(Millis now, const RetentionWindows& w, Millis attribution_ms) {
  PruneCounts c;
  const int n = std::max(1, w.batch);
  // Ids (and their contact) of the oldest rows a query selects, at most n.
  auto select = [&](const char* sql, Millis cut, std::vector<std::string>* contacts) {
    std::vector<std::string> ids;
    auto s = db_.Prepare(sql);
    s.Bind(1, cut).Bind(2, n);
    while (s.Step()) {
      ids.push_back(s.Text(0));
      if (contacts && !s.IsNull(1) && !s.Text(1).empty()) contacts->push_back(s.Text(1));
    }
    return ids;
  };
  auto run = [&](const char* sql, const std::string& ids) {
    db_.Prepare(sql).Bind(1, ids).Run();
    return db_.ChangedRows();
  };
  std::vector<std::string> contacts;  // whose rows went: they may be left with nothing

  if (w.events_ms > 0) {
    KeepLeadDays(now - w.events_ms, n);
    db_.Prepare("DELETE FROM events WHERE id IN (SELECT id FROM events WHERE at_ms < ?1"
                " ORDER BY at_ms LIMIT ?2)")
        .Bind(1, now - w.events_ms)
        .Bind(2, n)
        .Run();
    c.events = db_.ChangedRows();
    // Counters of the cap on events per cart whose last window opened before the oldest
    // event kept: none of their events is left to count against.
    db_.Prepare("DELETE FROM cart_event_counts WHERE cart_id IN (SELECT cart_id FROM cart_event_counts"
                " WHERE window_start_ms < ?1 ORDER BY window_start_ms LIMIT ?2)")
        .Bind(1, now - w.events_ms)
        .Bind(2, n)
        .Run();
    if (db_.ChangedRows() >= n) c.more = true;
  }
  if (w.bodies_ms > 0) {
    db_.Prepare("UPDATE messages SET subject = '', text = '', html = '' WHERE message_id IN"
                " (SELECT message_id FROM messages WHERE (subject <> '' OR text <> '' OR html <> '')"
                " AND created_ms < ?1 LIMIT ?2)")
        .Bind(1, now - w.bodies_ms)
        .Bind(2, n)
        .Run();
    c.bodies = db_.ChangedRows();
  }
  // Orders and popups point at each other (an order's last touch may be a popup; a popup's
  // conversion is an order): both batches are chosen first and aggregated while both are
  // still there, then deleted. A popup an order outside this batch still points at stays.
  std::vector<std::string> orders;
  if (w.reports_ms > 0) {
    const Millis cut = now - w.reports_ms;
    orders = select("SELECT order_id FROM orders WHERE at_ms < ?1 ORDER BY at_ms, order_id LIMIT ?2",
                         cut, nullptr);
  }
  std::string offer_ids;  // aggregated above, deleted once the orders went
  if (w.offers_ms > 0) {
    // A popup an order still points at (its last touch) stays until that order goes.
    std::vector<std::string> offers;
    {
      auto s = db_.Prepare(
          "SELECT offer_id FROM offers WHERE decided_ms < ?1 AND NOT EXISTS (SELECT 1 FROM orders o"
          " WHERE o.message_id = 'offer:' || offers.offer_id"
          " AND o.order_id NOT IN (SELECT value FROM json_each(?3)))"
          " ORDER BY decided_ms, offer_id LIMIT ?2");
      s.Bind(1, now - w.offers_ms).Bind(2, n).Bind(3, JsonIds(orders));
      while (s.Step()) offers.push_back(s.Text(0));
    }
    if (!offers.empty()) {
      std::string ids = JsonIds(offers);
      db_.Prepare(
             "INSERT INTO offer_days(day_ms, kind, variant, trials, conversions)"
             " SELECT decided_ms / 86400000 * 86400000, kind, variant, count(*),"
             " sum(EXISTS(SELECT 1 FROM orders o WHERE o.contact_key <> ''"
             "   AND o.contact_key = offers.contact_key AND o.at_ms >= offers.decided_ms"
             "   AND o.at_ms < offers.decided_ms + ?2))"
             " FROM offers WHERE offer_id IN (SELECT value FROM json_each(?1)) AND variant <> ''"
             " GROUP BY 1, 2, 3 ON CONFLICT(day_ms, kind, variant) DO UPDATE SET"
             " trials = trials + excluded.trials, conversions = conversions + excluded.conversions")
          .Bind(1, ids)
          .Bind(2, attribution_ms)
          .Run();
      offer_ids = ids;
    }
  }
  if (w.reports_ms > 0) {
    const Millis cut = now - w.reports_ms;
    // Orders first: a message goes only once no order points at it, so an order's path and
    // variant can still be read from its message when it is aggregated.
    if (!orders.empty()) {
      std::string ids = JsonIds(orders);
      run((std::string(
               "INSERT INTO report_days(day_ms, flow, path, step, channel, variant, currency, sent,"
               " failed, suppressed, opened, clicked, bounced, unsubscribed, orders,"
               " orders_with_coupon, revenue_minor)"
               " SELECT at_ms / 86400000 * 86400000, coalesce(flow, ''),"
               " coalesce((SELECT m.path FROM messages m WHERE m.message_id = orders.message_id), ''),"
               " coalesce(step, 0), coalesce(channel, ''),"
               " coalesce((SELECT m.variant FROM messages m WHERE m.message_id = orders.message_id),"
               "  (SELECT o.variant FROM offers o WHERE 'offer:' || o.offer_id = orders.message_id), ''),"
               " coalesce(currency, ''), 0, 0, 0, 0, 0, 0, 0, count(*), sum(coalesce(coupon, '') <> ''),"
               " sum(value_minor) FROM orders WHERE order_id IN (SELECT value FROM json_each(?1))"
               " AND message_id <> '' GROUP BY 1, 2, 3, 4, 5, 6, 7") + kAddReportDay).c_str(),
          ids);
      c.orders = run("DELETE FROM orders WHERE order_id IN (SELECT value FROM json_each(?1))", ids);
    }
    auto messages = select(
        "SELECT message_id, contact_key FROM messages WHERE created_ms < ?1"
        " AND (CASE WHEN sent_ms > 0 THEN sent_ms ELSE created_ms END) < ?1"
        " AND status IN ('sent', 'bounced', 'failed', 'suppressed')"
        " AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.message_id = messages.message_id)"
        // A journey still running reads its messages (engagement, branches): they stay.
        " AND NOT EXISTS (SELECT 1 FROM journeys j WHERE j.journey_id = messages.journey_id"
        "   AND j.state = 'running')"
        " ORDER BY created_ms, message_id LIMIT ?2",
        cut, &contacts);
    if (!messages.empty()) {
      std::string ids = JsonIds(messages);
      run((std::string(
               "INSERT INTO report_days(day_ms, flow, path, step, channel, variant, currency, sent,"
               " failed, suppressed, opened, clicked, bounced, unsubscribed, orders,"
               " orders_with_coupon, revenue_minor)"
               " SELECT (CASE WHEN sent_ms > 0 THEN sent_ms ELSE created_ms END) / 86400000 * 86400000,"
               " flow, path, step, channel, variant, '', sum(status IN ('sent', 'bounced')),"
               " sum(status = 'failed'), sum(status = 'suppressed'), sum(opened_ms > 0),"
               " sum(clicked_ms > 0), sum(status = 'bounced'), sum(unsubscribed_ms > 0), 0, 0, 0"
               " FROM messages WHERE message_id IN (SELECT value FROM json_each(?1))"
               " GROUP BY 1, 2, 3, 4, 5, 6") + kAddReportDay).c_str(),
          ids);
      c.messages = run("DELETE FROM messages WHERE message_id IN (SELECT value FROM json_each(?1))", ids);
    }
  }
  if (w.reports_ms > 0 && CollapseLeadDays(now - w.reports_ms, n)) c.more = true;
  if (!offer_ids.empty())
    c.offers = run("DELETE FROM offers WHERE offer_id IN (SELECT value FROM json_each(?1))", offer_ids);
  if (w.carts_ms > 0) {
    const Millis cut = now - w.carts_ms;
    auto journeys = select(
        "SELECT journey_id, contact_key FROM journeys WHERE state <> 'running' AND updated_ms < ?1"
        " ORDER BY updated_ms LIMIT ?2",
        cut, &contacts);
    if (!journeys.empty())
      c.journeys = run("DELETE FROM journeys WHERE journey_id IN (SELECT value FROM json_each(?1))",
                       JsonIds(journeys));
    auto carts = select(
        "SELECT cart_id, contact_key FROM carts WHERE last_activity_ms < ?1"
        " AND NOT EXISTS (SELECT 1 FROM journeys j WHERE j.cart_id = carts.cart_id AND j.state = 'running')"
        " AND NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.kind = 'abandon' AND jobs.subject = carts.cart_id)"
        " ORDER BY last_activity_ms, cart_id LIMIT ?2",
        cut, &contacts);
    if (!carts.empty()) {
      std::string ids = JsonIds(carts);
      run("INSERT INTO funnel_days(day_ms, stage, carts, abandoned, recovered)"
          " SELECT created_ms / 86400000 * 86400000, stage, count(*),"
          " sum(state IN ('abandoned', 'expired', 'recovered')), sum(state = 'recovered')"
          " FROM carts WHERE cart_id IN (SELECT value FROM json_each(?1)) AND value_minor > 0"
          " GROUP BY 1, 2 ON CONFLICT(day_ms, stage) DO UPDATE SET carts = carts + excluded.carts,"
          " abandoned = abandoned + excluded.abandoned, recovered = recovered + excluded.recovered",
          ids);
      c.carts = run("DELETE FROM carts WHERE cart_id IN (SELECT value FROM json_each(?1))", ids);
    }
    if (!contacts.empty()) {
      // A contact left with no cart, journey or message, quiet for the window, goes with its
      // visitor links; one who unsubscribed or bounced stays (the suppression must hold).
      std::sort(contacts.begin(), contacts.end());
      contacts.erase(std::unique(contacts.begin(), contacts.end()), contacts.end());
      std::vector<std::string> gone;
      {
        auto s = db_.Prepare(
            "SELECT contact_key FROM contacts WHERE contact_key IN (SELECT value FROM json_each(?1))"
            " AND unsubscribed = 0 AND email_bounced = 0 AND phone_bounced = 0"
            " AND last_message_ms < ?2 AND last_order_ms < ?2"
            " AND NOT EXISTS (SELECT 1 FROM carts c WHERE c.contact_key = contacts.contact_key)"
            " AND NOT EXISTS (SELECT 1 FROM journeys j WHERE j.contact_key = contacts.contact_key)"
            " AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.contact_key = contacts.contact_key)");
        s.Bind(1, JsonIds(contacts)).Bind(2, cut);
        while (s.Step()) gone.push_back(s.Text(0));
      }
      if (!gone.empty()) {
        std::string ids = JsonIds(gone);
        c.visitors = run("DELETE FROM visitors WHERE contact_key IN (SELECT value FROM json_each(?1))", ids);
        c.contacts = run("DELETE FROM contacts WHERE contact_key IN (SELECT value FROM json_each(?1))", ids);
      }
    }
  }
  for (int64_t k : {c.events, c.bodies, c.messages, c.orders, c.journeys, c.carts, c.offers})
    if (k >= n) c.more = true;
  if (w.vacuum_pages > 0 && db_.path() != ":memory:")
    db_.Exec("PRAGMA incremental_vacuum(" + std::to_string(w.vacuum_pages) + ")");
  return c;
}

std::vector<ReportRow> SqliteStore::Report(const ReportQuery& q) {
  // Group and filter keys are whitelisted column expressions (for messages, and for orders
  // through their last-touch message); values never reach the SQL text.
  static const std::map<std::string, std::pair<std::string, std::string>> kKeys = {
      {"flow", {"flow", "flow"}},
      {"path",
       {"path",
        "coalesce((SELECT m.path FROM messages m WHERE m.message_id = orders.message_id), '')"}},
      {"step", {"CAST(step AS TEXT)", "CAST(step AS TEXT)"}},
      {"channel", {"channel", "channel"}},
      {"variant",
       {"variant",
        "coalesce((SELECT m.variant FROM messages m WHERE m.message_id = orders.message_id),"
        " (SELECT o.variant FROM offers o WHERE 'offer:' || o.offer_id = orders.message_id), '')"}},
      {"day",
       {"strftime('%Y-%m-%d', CASE WHEN sent_ms > 0 THEN sent_ms ELSE created_ms END / 1000,"
        " 'unixepoch')",
        "strftime('%Y-%m-%d', at_ms / 1000, 'unixepoch')"}},
  };
  std::string msg_keys, order_keys, msg_where, order_where;
  for (const auto& k : q.by) {
    auto it = kKeys.find(k);
    if (it == kKeys.end())
      throw InvalidArgument("by", "'" + k + "' is not one of flow, path, step, channel, variant, day");
    msg_keys += it->second.first + ", ";
    order_keys += it->second.second + ", ";
  }
  std::vector<std::string> where_values;
  for (const auto& [k, v] : q.where) {
    auto it = kKeys.find(k);
    if (it == kKeys.end() || k == "day")
      throw InvalidArgument(k, "cannot filter a report by '" + k +
                                   "' (use flow, path, step, channel or variant; since/until for days)");
    where_values.push_back(v);
    const std::string param = "?" + std::to_string(where_values.size() + 2);
    msg_where += " AND " + it->second.first + " = " + param;
    order_where += " AND " + it->second.second + " = " + param;
  }
  const size_t nk = q.by.size();
  const Millis since = q.since.value_or(INT64_MIN), until = q.until.value_or(INT64_MAX);
  std::map<std::vector<std::string>, ReportRow> rows;
  auto row_for = [&](const std::vector<std::string>& key) -> ReportRow& {
    auto& r = rows[key];
    for (size_t i = 0; i < nk; ++i) r.keys[q.by[i]] = key[i];
    return r;
  };
  // One cached statement per distinct `by` and filter combination.
  std::string sql_m =
      "SELECT " + msg_keys +
      " sum(status IN ('sent', 'bounced')), sum(status = 'failed'), sum(status = 'suppressed'),"
      " sum(opened_ms > 0), sum(clicked_ms > 0), sum(status = 'bounced'),"
      " sum(unsubscribed_ms > 0) FROM messages"
      " WHERE (CASE WHEN sent_ms > 0 THEN sent_ms ELSE created_ms END) >= ?1"
      " AND (CASE WHEN sent_ms > 0 THEN sent_ms ELSE created_ms END) < ?2" + msg_where +
      (nk ? " GROUP BY " + msg_keys.substr(0, msg_keys.size() - 2) : std::string());
  std::string sql_o = "SELECT " + order_keys +
                      " count(*), sum(coupon <> ''), sum(value_minor), min(currency),"
                      " max(currency) FROM orders WHERE message_id <> '' AND at_ms >= ?1"
                      " AND at_ms < ?2" + order_where +
                      (nk ? " GROUP BY " + order_keys.substr(0, order_keys.size() - 2)
                          : std::string());
  auto bind_where = [&](Stmt& s) {
    for (size_t i = 0; i < where_values.size(); ++i)
      s.Bind(static_cast<int>(i + 3), where_values[i]);
  };
  {
    auto s = db_.Prepare(sql_m);
    s.Bind(1, since).Bind(2, until);
    bind_where(s);
    while (s.Step()) {
      std::vector<std::string> key;
      for (size_t i = 0; i < nk; ++i) key.push_back(s.Text(static_cast<int>(i)));
      auto& r = row_for(key);
      r.sent += s.Int(nk);
      r.failed += s.Int(nk + 1);
      r.suppressed += s.Int(nk + 2);
      r.opened += s.Int(nk + 3);
      r.clicked += s.Int(nk + 4);
      r.bounced += s.Int(nk + 5);
      r.unsubscribed += s.Int(nk + 6);
    }
  }
  {
    auto s = db_.Prepare(sql_o);
    s.Bind(1, since).Bind(2, until);
    bind_where(s);
    while (s.Step()) {
      if (s.Int(nk) == 0) continue;
      std::vector<std::string> key;
      for (size_t i = 0; i < nk; ++i) key.push_back(s.Text(static_cast<int>(i)));
      auto& r = row_for(key);
      r.orders += s.Int(nk);
      r.orders_with_coupon += s.Int(nk + 1);
      r.revenue_minor += s.Int(nk + 2);
      r.currency = s.Text(nk + 3) == s.Text(nk + 4) ? s.Text(nk + 3) : "MIXED";
    }
  }
  {
    // Pruned rows live on in report_days; its whole days inside the range count.
    static const std::map<std::string, std::string> kDayKeys = {
        {"flow", "flow"}, {"path", "path"}, {"step", "CAST(step AS TEXT)"}, {"channel", "channel"},
        {"variant", "variant"}, {"day", "strftime('%Y-%m-%d', day_ms / 1000, 'unixepoch')"}};
    std::string keys, where, group;
    for (const auto& k : q.by) {
      keys += kDayKeys.at(k) + ", ";
      group += (group.empty() ? " GROUP BY " : ", ") + kDayKeys.at(k);
    }
    int param = 3;
    for (const auto& kv : q.where) where += " AND " + kDayKeys.at(kv.first) + " = ?" + std::to_string(param++);
    auto s = db_.Prepare(
        "SELECT " + keys +
        " sum(sent), sum(failed), sum(suppressed), sum(opened), sum(clicked), sum(bounced),"
        " sum(unsubscribed), sum(orders), sum(orders_with_coupon), sum(revenue_minor),"
        " min(nullif(currency, '')), max(nullif(currency, '')) FROM report_days"
        " WHERE day_ms >= ?1 AND day_ms <= ?2 - 86400000" + where + group);
    s.Bind(1, since).Bind(2, until);
    bind_where(s);
    while (s.Step()) {
      const int n = static_cast<int>(nk);
      if (s.IsNull(n)) continue;  // no row at all (an aggregate without GROUP BY)
      std::vector<std::string> key;
      for (size_t i = 0; i < nk; ++i) key.push_back(s.Text(static_cast<int>(i)));
      auto& r = row_for(key);
      r.sent += s.Int(n);
      r.failed += s.Int(n + 1);
      r.suppressed += s.Int(n + 2);
      r.opened += s.Int(n + 3);
      r.clicked += s.Int(n + 4);
      r.bounced += s.Int(n + 5);
      r.unsubscribed += s.Int(n + 6);
      r.orders += s.Int(n + 7);
      r.orders_with_coupon += s.Int(n + 8);
      r.revenue_minor += s.Int(n + 9);
      if (!s.IsNull(n + 10)) {
        std::string cur = s.Text(n + 10) == s.Text(n + 11) ? s.Text(n + 10) : "MIXED";
        r.currency = r.currency.empty() || r.currency == cur ? cur : "MIXED";
      }
    }
  }
  std::vector<ReportRow> out;
  for (auto& kv : rows) out.push_back(std::move(kv.second));
  return out;
}

StoreStatus SqliteStore::Status(Millis now) {
  StoreStatus st;
  st.schema_version = SqliteSchemaVersion();
  {
    auto s = db_.Prepare("SELECT worker_id, last_run_ms FROM workers ORDER BY last_run_ms DESC LIMIT 1");
    if (s.Step()) {
      st.worker_last_id = s.Text(0);
      st.worker_last_run_ms = s.Int(1);
    }
  }
  {
    auto s = db_.Prepare(
        "SELECT count(*), sum(due_ms <= ?1), min(CASE WHEN due_ms <= ?1 THEN due_ms END),"
        " min(CASE WHEN due_ms > ?1 THEN due_ms END) FROM jobs");
    s.Bind(1, now);
    if (s.Step()) {
      st.jobs_pending = s.Int(0);
      st.jobs_due = s.Int(1);
      if (!s.IsNull(2)) st.oldest_due_ms = s.Int(2);
      if (!s.IsNull(3)) st.next_due_ms = s.Int(3);
    }
  }
  auto count = [&](const char* sql) {
    auto s = db_.Prepare(sql);
    return s.Step() ? s.Int(0) : 0;
  };
  st.events = count("SELECT count(*) FROM events");
  st.carts = count("SELECT count(*) FROM carts");
  st.running_journeys = count("SELECT count(*) FROM journeys WHERE state = 'running'");
  st.messages_sent = count("SELECT count(*) FROM messages WHERE status = 'sent'");
  st.messages_failed = count("SELECT count(*) FROM messages WHERE status = 'failed'");
  st.events_refused = count("SELECT coalesce(sum(refused), 0) FROM cart_event_counts WHERE refused > 0");
  return st;
}


namespace {

// Where a person's rows are, per table: ?1 their contact keys, ?2 visitor ids, ?3 cart ids
// (JSON arrays), ?4 the e-mail address and ?5 the phone number (inside event payloads).
const std::vector<std::pair<const char*, const char*>>& PersonTables() {
  static const std::vector<std::pair<const char*, const char*>> kTables = {
      {"contacts", "contact_key IN k"},
      {"consent_log", "contact_key IN k"},
      {"visitors", "contact_key IN k OR visitor_id IN vis"},
      {"carts", "cart_id IN c"},
      {"journeys", "contact_key IN k OR cart_id IN c"},
      {"messages", "contact_key IN k OR cart_id IN c"},
      {"orders", "contact_key IN k OR cart_id IN c"},
      {"coupons", "assigned_contact IN k"},
      {"offers", "contact_key IN k OR visitor_id IN vis"},
      {"assignments", "contact_key IN k"},
      {"events",
       "cart_id IN c OR visitor_id IN vis OR (?4 <> '' AND instr(payload, ?4) > 0)"
       " OR (?5 <> '' AND instr(payload, ?5) > 0)"},
  };
  return kTables;
}

constexpr const char* kPersonSets =
    "WITH k(v) AS (SELECT value FROM json_each(?1)), vis(v) AS (SELECT value FROM json_each(?2)),"
    " c(v) AS (SELECT value FROM json_each(?3)) ";

}  // namespace

PersonKeys SqliteStore::FindPerson(const std::string& email, const std::string& phone) {
  PersonKeys who;
  who.email = email;
  who.phone = phone;
  std::set<std::string> keys, visitors, carts;
  for (const auto& k : {ContactKeyOf(email, ""), ContactKeyOf("", phone)})
    if (!k.empty()) keys.insert(k);
  {
    auto s = db_.Prepare(
        "SELECT contact_key FROM contacts WHERE (?1 <> '' AND email = ?1) OR (?2 <> '' AND phone = ?2)");
    s.Bind(1, email).Bind(2, phone);
    while (s.Step()) keys.insert(s.Text(0));
  }
  for (const auto& k : std::set<std::string>(keys)) {
    auto s = db_.Prepare("SELECT visitor_id FROM visitors WHERE contact_key = ?");
    s.Bind(1, k);
    while (s.Step()) visitors.insert(s.Text(0));
  }
  for (const auto& k : keys) {
    auto s = db_.Prepare("SELECT cart_id FROM carts WHERE contact_key = ?");
    s.Bind(1, k);
    while (s.Step()) carts.insert(s.Text(0));
  }
  for (const auto& v : visitors) {
    auto s = db_.Prepare("SELECT cart_id FROM carts WHERE visitor_id = ?");
    s.Bind(1, v);
    while (s.Step()) carts.insert(s.Text(0));
  }
  // The visitor- and cart-only keys the person was known by before giving an address.
  auto add_if_contact = [&](const std::string& key) {
    auto s = db_.Prepare("SELECT 1 FROM contacts WHERE contact_key = ?");
    s.Bind(1, key);
    if (s.Step()) keys.insert(key);
  };
  for (const auto& v : visitors) add_if_contact("v:" + v);
  for (const auto& c : carts) add_if_contact("c:" + c);
  if (keys.empty() && visitors.empty() && carts.empty()) return who;
  who.contact_keys.assign(keys.begin(), keys.end());
  who.visitor_ids.assign(visitors.begin(), visitors.end());
  who.cart_ids.assign(carts.begin(), carts.end());
  return who;
}

std::vector<std::pair<std::string, std::string>> SqliteStore::PersonRows(const PersonKeys& who) {
  std::vector<std::pair<std::string, std::string>> out;
  const std::string k = JsonIds(who.contact_keys), v = JsonIds(who.visitor_ids),
                    c = JsonIds(who.cart_ids);
  for (const auto& [table, where] : PersonTables()) {
    // Every column, whatever later migrations add: the table's own column list.
    std::string members;
    {
      auto s = db_.Prepare(std::string("SELECT name FROM pragma_table_info('") + table + "')");
      while (s.Step())
        members += (members.empty() ? "" : ", ") + ("'" + s.Text(0) + "', \"" + s.Text(0) + "\"");
    }
    auto s = db_.Prepare(std::string(kPersonSets) + "SELECT json_object(" + members + ") FROM " +
                         table + " WHERE " + where + " ORDER BY rowid");
    s.Bind(1, k).Bind(2, v).Bind(3, c).Bind(4, who.email).Bind(5, who.phone);
    while (s.Step()) out.emplace_back(table, s.Text(0));
  }
  return out;
}

std::map<std::string, int64_t> SqliteStore::ErasePerson(const PersonKeys& who,
                                                       const std::string& anonymous) {
  std::map<std::string, int64_t> n;
  const std::string k = JsonIds(who.contact_keys), v = JsonIds(who.visitor_ids),
                    c = JsonIds(who.cart_ids);
  auto run = [&](const std::string& sql) {
    auto s = db_.Prepare(std::string(kPersonSets) + sql);
    s.Bind(1, k).Bind(2, v).Bind(3, c).Bind(4, who.email).Bind(5, who.phone);
    s.Run();
    return db_.ChangedRows();
  };
  // Page views stay for lead temperature, each visitor under an anonymous id of its own
  // and with nothing but the page type; every other event of the person goes.
  for (size_t i = 0; i < who.visitor_ids.size(); ++i) {
    const std::string anon = anonymous + "/v" + std::to_string(i);
    auto s = db_.Prepare(
        "UPDATE events SET visitor_id = ?1, cart_id = NULL, payload = json_object('visitor_id', ?1,"
        " 'page_type', json_extract(payload, '$.page_type')) WHERE type = 'page_view' AND visitor_id = ?2");
    s.Bind(1, anon).Bind(2, who.visitor_ids[i]).Run();
    n["events_anonymized"] += db_.ChangedRows();
    for (const char* sql : {"UPDATE carts SET visitor_id = ?1 WHERE visitor_id = ?2",
                            "UPDATE offers SET visitor_id = ?1 WHERE visitor_id = ?2",
                            "UPDATE lead_days SET who = ?1 WHERE who = ?2"})
      db_.Prepare(sql).Bind(1, anon).Bind(2, who.visitor_ids[i]).Run();
  }
  // (The anonymized page views no longer match: new visitor id, no cart, no address.)
  n["events"] = run("DELETE FROM events WHERE " + std::string(PersonTables().back().second));
  n["carts"] = run("UPDATE carts SET restore_url = '' WHERE cart_id IN c");
  n["messages"] = run(
      "UPDATE messages SET to_addr = '', subject = '', text = '', html = ''"
      " WHERE contact_key IN k OR cart_id IN c");
  for (size_t i = 0; i < who.contact_keys.size(); ++i) {
    const std::string anon = anonymous + "/" + std::to_string(i);
    const std::string& key = who.contact_keys[i];
    for (const char* sql : {"UPDATE carts SET contact_key = ?1 WHERE contact_key = ?2",
                            "UPDATE journeys SET contact_key = ?1 WHERE contact_key = ?2",
                            "UPDATE messages SET contact_key = ?1 WHERE contact_key = ?2",
                            "UPDATE orders SET contact_key = ?1 WHERE contact_key = ?2",
                            "UPDATE offers SET contact_key = ?1 WHERE contact_key = ?2",
                            "UPDATE assignments SET contact_key = ?1 WHERE contact_key = ?2",
                            "UPDATE coupons SET assigned_contact = ?1 WHERE assigned_contact = ?2",
                            "UPDATE consent_log SET contact_key = ?1 WHERE contact_key = ?2"})
      db_.Prepare(sql).Bind(1, anon).Bind(2, key).Run();
  }
  n["visitors"] = run("DELETE FROM visitors WHERE contact_key IN k OR visitor_id IN vis");
  n["contacts"] = run("DELETE FROM contacts WHERE contact_key IN k");
  // Index b-trees keep copies of keys in their interior pages even after the rows go:
  // rebuilt, their old pages are freed (zeroed by secure_delete) and handed back.
  for (const char* table : {"contacts", "visitors", "carts", "journeys", "messages", "orders",
                            "offers", "assignments", "coupons", "consent_log", "events", "jobs",
                            "lead_days"})
    db_.Exec(std::string("REINDEX ") + table);
  if (db_.path() != ":memory:") db_.Exec("PRAGMA incremental_vacuum");
  return n;
}

void SqliteStore::Compact() {
  if (db_.path() == ":memory:") return;
  db_.Exec("PRAGMA wal_checkpoint(TRUNCATE)");
}

void SqliteStore::LogConsent(const std::string& contact_key, const std::string& what, bool granted,
                             Millis at_ms, const std::string& source) {
  db_.Prepare("INSERT INTO consent_log(contact_key, what, granted, at_ms, source) VALUES(?,?,?,?,?)")
      .Bind(1, contact_key)
      .Bind(2, what)
      .Bind(3, static_cast<int64_t>(granted))
      .Bind(4, at_ms)
      .Bind(5, source)
      .Run();
}
}  // namespace

int SqliteSchemaVersion() { return static_cast<int>(Migrations().size()); }

const char* SqliteMigration(int i) { return Migrations().at(static_cast<size_t>(i)); }

std::unique_ptr<Store> OpenSqliteStore(const std::string& path) {
  return std::make_unique<SqliteStore>(path);
}

}  // namespace internal
}  // namespace cartrecovery
