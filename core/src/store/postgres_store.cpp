// The PostgreSQL store: the SQLite store's twin, statement for statement. Every statement
// is prepared once per connection and cached; writes run inside Write()'s transaction,
// which holds a per-schema advisory lock, so that read-modify-write sequences from
// processes on several hosts serialize as they do on SQLite's write lock. Claims (jobs,
// coupons) are single statements with FOR UPDATE SKIP LOCKED besides.
//
// Where SQLite breaks ties by rowid (the order rows were last written in), a `seq` column
// does the same here, in the direction SQLite's plan reads them, so both stores answer
// alike for the same data (store_tests checks it).
#include "store/postgres_store.h"

#include <algorithm>
#include <climits>
#include <set>
#include <vector>

#include "cartrecovery/status.h"
#include "store/pg_db.h"
#include "store/store_codec.h"
#include "store/store_rows.h"

namespace cartrecovery {
namespace internal {
namespace {

// Migrations, oldest first; migration i brings the schema from version i to i + 1, and
// version i has the tables and columns of the SQLite store's version i.
// Never edit a shipped migration: add a new one.
const std::vector<const char*>& Migrations() {
  static const std::vector<const char*> kMigrations = {
      R"sql(
      CREATE TABLE events(
        id BIGSERIAL PRIMARY KEY, type TEXT NOT NULL, at_ms BIGINT NOT NULL,
        cart_id TEXT, visitor_id TEXT, payload TEXT NOT NULL);
      CREATE INDEX events_at ON events(at_ms);
      CREATE TABLE carts(
        cart_id TEXT PRIMARY KEY, visitor_id TEXT, contact_key TEXT, state TEXT NOT NULL,
        stage TEXT NOT NULL, currency TEXT, items TEXT NOT NULL, value_minor BIGINT NOT NULL,
        restore_url TEXT, created_ms BIGINT NOT NULL, last_activity_ms BIGINT NOT NULL,
        seq BIGSERIAL NOT NULL);
      CREATE INDEX carts_contact ON carts(contact_key, last_activity_ms);
      CREATE TABLE contacts(
        contact_key TEXT PRIMARY KEY, email TEXT, phone TEXT, first_name TEXT, language TEXT,
        timezone TEXT, orders_count BIGINT NOT NULL DEFAULT 0,
        lifetime_value_minor BIGINT NOT NULL DEFAULT 0, consent_email BIGINT,
        consent_sms BIGINT, consent_push BIGINT, consent_personalization BIGINT,
        unsubscribed BIGINT NOT NULL DEFAULT 0, last_message_ms BIGINT NOT NULL DEFAULT 0,
        last_order_ms BIGINT NOT NULL DEFAULT 0);
      CREATE INDEX contacts_phone ON contacts(phone);
      CREATE TABLE visitors(visitor_id TEXT PRIMARY KEY, contact_key TEXT NOT NULL);
      CREATE TABLE journeys(
        journey_id TEXT PRIMARY KEY, contact_key TEXT NOT NULL, cart_id TEXT NOT NULL,
        flow TEXT NOT NULL, path TEXT NOT NULL, state TEXT NOT NULL, end_reason TEXT,
        next_step BIGINT NOT NULL, next_due_ms BIGINT NOT NULL, next_branch TEXT,
        started_ms BIGINT NOT NULL, prev_sent_ms BIGINT NOT NULL,
        prev_engagement TEXT NOT NULL, prev_branch TEXT, updated_ms BIGINT NOT NULL,
        seq BIGSERIAL NOT NULL);
      CREATE INDEX journeys_contact ON journeys(contact_key, state);
      CREATE INDEX journeys_cart ON journeys(cart_id, started_ms);
      CREATE TABLE jobs(
        job_id BIGSERIAL PRIMARY KEY, kind TEXT NOT NULL, subject TEXT NOT NULL,
        due_ms BIGINT NOT NULL, state TEXT NOT NULL, lease_until_ms BIGINT NOT NULL,
        attempt BIGINT NOT NULL, UNIQUE(kind, subject));
      CREATE INDEX jobs_due ON jobs(state, due_ms);
      CREATE TABLE messages(
        message_id TEXT PRIMARY KEY, journey_id TEXT NOT NULL, cart_id TEXT NOT NULL,
        contact_key TEXT NOT NULL, flow TEXT NOT NULL, path TEXT NOT NULL,
        step BIGINT NOT NULL, branch TEXT, channel TEXT NOT NULL, status TEXT NOT NULL,
        reason TEXT, to_addr TEXT, subject TEXT, text TEXT, html TEXT,
        due_ms BIGINT NOT NULL, sent_ms BIGINT NOT NULL DEFAULT 0,
        opened_ms BIGINT NOT NULL DEFAULT 0, clicked_ms BIGINT NOT NULL DEFAULT 0,
        attempts BIGINT NOT NULL DEFAULT 0, created_ms BIGINT NOT NULL,
        seq BIGSERIAL NOT NULL);
      CREATE INDEX messages_cart ON messages(cart_id, created_ms);
      CREATE INDEX messages_journey ON messages(journey_id);
      CREATE INDEX messages_contact ON messages(contact_key, sent_ms);
      CREATE TABLE orders(
        order_id TEXT PRIMARY KEY, cart_id TEXT, contact_key TEXT,
        value_minor BIGINT NOT NULL, currency TEXT, coupon TEXT, at_ms BIGINT NOT NULL,
        message_id TEXT, flow TEXT, step BIGINT, channel TEXT);
      CREATE INDEX orders_at ON orders(at_ms);
      CREATE TABLE workers(
        worker_id TEXT PRIMARY KEY, last_run_ms BIGINT NOT NULL, jobs_run BIGINT NOT NULL);
      )sql",
      // 2: job ids are never reused (SQLite needed AUTOINCREMENT for that); a sequence
      // never hands a number out twice, so version 1 already does it.
      "-- nothing to do",
      // 3: browser push subscriptions and hard-bounce suppression on contacts.
      R"sql(
      ALTER TABLE contacts ADD COLUMN push_subscription TEXT NOT NULL DEFAULT '',
        ADD COLUMN email_bounced BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN phone_bounced BIGINT NOT NULL DEFAULT 0;
      )sql",
      // 4: coupon pools and codes, exit-intent decisions.
      R"sql(
      CREATE TABLE coupon_pools(
        name TEXT PRIMARY KEY, kind TEXT NOT NULL, discount_kind TEXT NOT NULL,
        amount BIGINT NOT NULL, currency TEXT NOT NULL, static_code TEXT NOT NULL,
        prefix TEXT NOT NULL, code_length BIGINT NOT NULL, valid_for_ms BIGINT NOT NULL,
        expires_ms BIGINT NOT NULL);
      CREATE TABLE coupons(
        code TEXT PRIMARY KEY, pool TEXT NOT NULL, shared BIGINT NOT NULL,
        discount_kind TEXT NOT NULL, amount BIGINT NOT NULL, currency TEXT NOT NULL,
        expires_ms BIGINT NOT NULL, assigned_contact TEXT NOT NULL DEFAULT '',
        assigned_ms BIGINT NOT NULL DEFAULT 0, redeemed_order TEXT NOT NULL DEFAULT '',
        redeemed_ms BIGINT NOT NULL DEFAULT 0, seq BIGSERIAL NOT NULL);
      CREATE INDEX coupons_free ON coupons(pool, assigned_contact, seq);
      CREATE TABLE offers(
        offer_id BIGSERIAL PRIMARY KEY, visitor_id TEXT NOT NULL,
        cart_id TEXT NOT NULL, contact_key TEXT NOT NULL, show BIGINT NOT NULL,
        kind TEXT NOT NULL, variant TEXT NOT NULL, reason TEXT NOT NULL,
        incentive_rule TEXT NOT NULL, coupon_code TEXT NOT NULL, decided_ms BIGINT NOT NULL);
      CREATE INDEX offers_visitor ON offers(visitor_id, decided_ms);
      CREATE INDEX offers_contact ON offers(contact_key, decided_ms);
      CREATE INDEX offers_decided ON offers(decided_ms);
      )sql",
      // 5: A/B variants of flow steps (the first assignment sticks), unsubscribes attributed
      // to the message that preceded them, and flows paused by staff.
      R"sql(
      ALTER TABLE messages ADD COLUMN variant TEXT NOT NULL DEFAULT '',
        ADD COLUMN unsubscribed_ms BIGINT NOT NULL DEFAULT 0;
      CREATE TABLE assignments(
        experiment TEXT NOT NULL, contact_key TEXT NOT NULL, variant TEXT NOT NULL,
        flow TEXT NOT NULL, assigned_ms BIGINT NOT NULL, PRIMARY KEY(experiment, contact_key));
      CREATE TABLE flow_pauses(
        flow TEXT PRIMARY KEY, reason TEXT NOT NULL, paused_ms BIGINT NOT NULL);
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
        day_ms BIGINT NOT NULL, flow TEXT NOT NULL, path TEXT NOT NULL, step BIGINT NOT NULL,
        channel TEXT NOT NULL, variant TEXT NOT NULL, currency TEXT NOT NULL,
        sent BIGINT NOT NULL, failed BIGINT NOT NULL, suppressed BIGINT NOT NULL,
        opened BIGINT NOT NULL, clicked BIGINT NOT NULL, bounced BIGINT NOT NULL,
        unsubscribed BIGINT NOT NULL, orders BIGINT NOT NULL,
        orders_with_coupon BIGINT NOT NULL, revenue_minor BIGINT NOT NULL,
        PRIMARY KEY(day_ms, flow, path, step, channel, variant, currency));
      CREATE TABLE funnel_days(
        day_ms BIGINT NOT NULL, stage TEXT NOT NULL, carts BIGINT NOT NULL,
        abandoned BIGINT NOT NULL, recovered BIGINT NOT NULL, PRIMARY KEY(day_ms, stage));
      CREATE TABLE offer_days(
        day_ms BIGINT NOT NULL, kind TEXT NOT NULL, variant TEXT NOT NULL,
        trials BIGINT NOT NULL, conversions BIGINT NOT NULL, PRIMARY KEY(day_ms, kind, variant));
      CREATE INDEX messages_created ON messages(created_ms);
      CREATE INDEX messages_bodies ON messages(created_ms) WHERE subject <> '' OR text <> '' OR html <> '';
      CREATE INDEX orders_message ON orders(message_id);
      CREATE INDEX journeys_finished ON journeys(updated_ms) WHERE state <> 'running';
      CREATE INDEX carts_activity ON carts(last_activity_ms);
      CREATE INDEX visitors_contact ON visitors(contact_key);
      CREATE TABLE consent_log(
        id BIGSERIAL PRIMARY KEY, contact_key TEXT NOT NULL, what TEXT NOT NULL,
        granted BIGINT NOT NULL, at_ms BIGINT NOT NULL, source TEXT NOT NULL);
      CREATE INDEX consent_log_contact ON consent_log(contact_key, at_ms);
      )sql",
      // 9: the cap on events per cart counted in the store, so that it holds across web
      // processes and hosts (a per-process count lets N processes take N times the cap);
      // lead temperature kept through retention.
      R"sql(
      CREATE TABLE cart_event_counts(
        cart_id TEXT PRIMARY KEY, window_start_ms BIGINT NOT NULL, events BIGINT NOT NULL,
        refused BIGINT NOT NULL);
      CREATE INDEX cart_event_counts_window ON cart_event_counts(window_start_ms);
      CREATE INDEX cart_event_counts_refused ON cart_event_counts(refused) WHERE refused > 0;
      -- Lead temperature outlives the events it is read from: per UTC day, each shopper of
      -- that day with what S9 asks of them, written before the day's events are pruned.
      CREATE TABLE lead_days(
        day_ms BIGINT NOT NULL, who TEXT NOT NULL, browsed BIGINT NOT NULL,
        checkout BIGINT NOT NULL, carted BIGINT NOT NULL, bought BIGINT NOT NULL,
        PRIMARY KEY(day_ms, who));
      -- Past the reports window those become anonymous counts per day.
      CREATE TABLE lead_totals(
        day_ms BIGINT PRIMARY KEY, cold BIGINT NOT NULL, warm BIGINT NOT NULL, hot BIGINT NOT NULL);
      )sql",
  };
  return kMigrations;
}

// Our tables: a schema that has one of them but no schema_version of ours belongs to
// another application, and is refused rather than "migrated".
const char kOurTables[] =
    "'events', 'carts', 'contacts', 'visitors', 'journeys', 'jobs', 'messages', 'orders',"
    " 'workers', 'coupon_pools', 'coupons', 'offers', 'assignments', 'flow_pauses',"
    " 'schema_version', 'report_days', 'funnel_days', 'offer_days', 'consent_log',"
    " 'cart_event_counts', 'lead_days', 'lead_totals'";

// What lead temperature (S9) reads of [$1, $2): ev (who, browse) per event, cs (who,
// checkout, carted) per shopper's carts alive then, buyers (who) who ordered then.
#define LEAD_INPUTS                                                                        \
  "ev AS (SELECT " LEAD_WHO_OF_EVENT " AS who, CASE WHEN e.type = 'page_view' AND"        \
  "   (e.payload::jsonb ->> 'page_type') IN ('category', 'product') THEN 1 ELSE 0 END"    \
  "   AS browse FROM events e LEFT JOIN carts c ON c.cart_id = e.cart_id"                 \
  "   WHERE e.at_ms >= $1 AND e.at_ms < $2),"                                              \
  " cs AS (SELECT " LEAD_WHO_OF_CART " AS who, max(CASE WHEN c.stage IN ("                 \
  LEAD_CHECKOUT_STAGES ") THEN 1 ELSE 0 END) AS checkout,"                                 \
  "   max(CASE WHEN c.value_minor > 0 THEN 1 ELSE 0 END) AS carted FROM carts c"          \
  "   WHERE c.last_activity_ms >= $1 AND c.created_ms < $2 GROUP BY 1),"                   \
  " buyers AS (SELECT " LEAD_WHO_OF_CART " AS who FROM orders o JOIN carts c"              \
  "   ON c.cart_id = o.cart_id WHERE o.at_ms >= $1 AND o.at_ms < $2"                       \
  "   UNION SELECT " LEAD_WHO_OF_CART " FROM orders o JOIN carts c"                        \
  "   ON o.contact_key <> '' AND c.contact_key = o.contact_key"                            \
  "   WHERE o.at_ms >= $1 AND o.at_ms < $2)"

class PostgresStore final : public Store {
 public:
  explicit PostgresStore(const std::string& url) : db_(url) { Initialize(); }

  void Write(const std::function<void()>& fn) override {
    if (depth_ > 0) {
      // Nested: a savepoint inside the enclosing transaction, so the inner part is undone
      // alone when it throws (a failed statement included) and the outer one may go on.
      db_.Exec("SAVEPOINT nested");
      ++depth_;
      try {
        fn();
      } catch (...) {
        --depth_;
        db_.Exec("ROLLBACK TO SAVEPOINT nested; RELEASE SAVEPOINT nested");
        throw;
      }
      --depth_;
      db_.Exec("RELEASE SAVEPOINT nested");
      return;
    }
    db_.Begin();
    ++depth_;
    try {
      fn();
      --depth_;
      db_.Commit();
    } catch (...) {
      if (depth_ > 0) --depth_;
      db_.Rollback();
      throw;
    }
  }

  void AppendEvent(const Event& e, const std::string& json) override {
    db_.Prepare("INSERT INTO events(type, at_ms, cart_id, visitor_id, payload) VALUES($1,$2,$3,$4,$5)")
        .Bind(1, EventTypeName(e.type))
        .Bind(2, e.at_ms)
        .Bind(3, e.cart_id)
        .Bind(4, e.visitor_id)
        .Bind(5, json)
        .Run();
  }

  std::map<std::string, CartEventCount> LockCartEventCounts(
      const std::vector<std::string>& cart_ids) override {
    // Rows first (two writers adding the same cart's row wait for each other), then locked
    // in id order, so that writers of overlapping carts queue instead of deadlocking.
    const CartEventCount none;
    db_.Prepare(
           "INSERT INTO cart_event_counts(cart_id, window_start_ms, events, refused)"
           " SELECT id, $2, 0, 0 FROM unnest($1::text[]) AS id ORDER BY id"
           " ON CONFLICT(cart_id) DO NOTHING")
        .BindLiteral(1, PgArray(cart_ids))
        .Bind(2, none.window_start_ms)
        .Run();
    std::map<std::string, CartEventCount> out;
    auto s = db_.Prepare(
        "SELECT cart_id, window_start_ms, events, refused FROM cart_event_counts"
        " WHERE cart_id = ANY($1::text[]) ORDER BY cart_id FOR UPDATE");
    s.BindLiteral(1, PgArray(cart_ids));
    while (s.Step()) out[s.Text(0)] = {s.Int(1), s.Int(2), s.Int(3)};
    return out;
  }

  void SaveCartEventCounts(const std::map<std::string, CartEventCount>& counts) override {
    std::vector<std::string> ids;
    std::vector<int64_t> starts, events, refused;
    for (const auto& [cart_id, c] : counts) {
      ids.push_back(cart_id);
      starts.push_back(c.window_start_ms);
      events.push_back(c.events);
      refused.push_back(c.refused);
    }
    db_.Prepare(
           "UPDATE cart_event_counts AS t SET window_start_ms = v.s, events = v.e, refused = v.r"
           " FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[]) AS v(id, s, e, r)"
           " WHERE t.cart_id = v.id")
        .BindLiteral(1, PgArray(ids))
        .BindLiteral(2, PgArray(starts))
        .BindLiteral(3, PgArray(events))
        .BindLiteral(4, PgArray(refused))
        .Run();
  }

  std::optional<Cart> LoadCart(const std::string& cart_id) override {
    auto s = db_.Prepare(CartSelect("WHERE cart_id = $1"));
    s.Bind(1, cart_id);
    if (!s.Step()) return std::nullopt;
    return CartFromRow(s, cart_id);
  }

  void SaveCart(const Cart& c) override {
    // seq = excluded.seq: a fresh number, as SQLite's INSERT OR REPLACE gives a new rowid.
    auto s = db_.Prepare(
        "INSERT INTO carts(cart_id, visitor_id, contact_key, state, stage, currency, items,"
        " value_minor, restore_url, created_ms, last_activity_ms)"
        " VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) ON CONFLICT(cart_id) DO UPDATE SET"
        " visitor_id = excluded.visitor_id, contact_key = excluded.contact_key,"
        " state = excluded.state, stage = excluded.stage, currency = excluded.currency,"
        " items = excluded.items, value_minor = excluded.value_minor,"
        " restore_url = excluded.restore_url, created_ms = excluded.created_ms,"
        " last_activity_ms = excluded.last_activity_ms, seq = excluded.seq");
    BindCartRow(s, c).Run();
  }

  std::optional<Contact> LoadContact(const std::string& key) override {
    auto s = db_.Prepare(ContactSelect("WHERE contact_key = $1"));
    s.Bind(1, key);
    if (!s.Step()) return std::nullopt;
    return ContactFromRow(s, key);
  }

  void SaveContact(const Contact& c) override {
    auto s = db_.Prepare(
        "INSERT INTO contacts(contact_key, email, phone, first_name, language, timezone,"
        " orders_count, lifetime_value_minor, consent_email, consent_sms, consent_push,"
        " consent_personalization, unsubscribed, last_message_ms, last_order_ms,"
        " push_subscription, email_bounced, phone_bounced)"
        " VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18)"
        " ON CONFLICT(contact_key) DO UPDATE SET email = excluded.email,"
        " phone = excluded.phone, first_name = excluded.first_name,"
        " language = excluded.language, timezone = excluded.timezone,"
        " orders_count = excluded.orders_count,"
        " lifetime_value_minor = excluded.lifetime_value_minor,"
        " consent_email = excluded.consent_email, consent_sms = excluded.consent_sms,"
        " consent_push = excluded.consent_push,"
        " consent_personalization = excluded.consent_personalization,"
        " unsubscribed = excluded.unsubscribed, last_message_ms = excluded.last_message_ms,"
        " last_order_ms = excluded.last_order_ms,"
        " push_subscription = excluded.push_subscription,"
        " email_bounced = excluded.email_bounced, phone_bounced = excluded.phone_bounced");
    BindContactRow(s, c).Run();
  }

  std::vector<std::string> ContactsWithPhone(const std::string& phone,
                                             const std::string& except_key) override {
    auto s = db_.Prepare("SELECT contact_key FROM contacts WHERE phone = $1 AND contact_key <> $2");
    s.Bind(1, phone).Bind(2, except_key);
    std::vector<std::string> keys;
    while (s.Step()) keys.push_back(s.Text(0));
    return keys;
  }

  std::string ContactKeyForVisitor(const std::string& visitor_id) override {
    auto s = db_.Prepare("SELECT contact_key FROM visitors WHERE visitor_id = $1");
    s.Bind(1, visitor_id);
    return s.Step() ? s.Text(0) : std::string();
  }

  void LinkVisitor(const std::string& visitor_id, const std::string& key) override {
    db_.Prepare(
           "INSERT INTO visitors(visitor_id, contact_key) VALUES($1,$2)"
           " ON CONFLICT(visitor_id) DO UPDATE SET contact_key = excluded.contact_key")
        .Bind(1, visitor_id)
        .Bind(2, key)
        .Run();
  }

  std::vector<std::string> CartsOfContact(const std::string& key) override {
    auto s = db_.Prepare(
        "SELECT cart_id FROM carts WHERE contact_key = $1 ORDER BY last_activity_ms DESC, seq DESC");
    s.Bind(1, key);
    std::vector<std::string> ids;
    while (s.Step()) ids.push_back(s.Text(0));
    return ids;
  }

  std::optional<JourneyRecord> LoadJourney(const std::string& id) override {
    auto s = db_.Prepare(JourneySelect("WHERE journey_id = $1"));
    s.Bind(1, id);
    return ReadJourney(s);
  }

  std::optional<JourneyRecord> RunningJourneyOfContact(const std::string& key) override {
    auto s = db_.Prepare(JourneySelect(
        "WHERE contact_key = $1 AND state = 'running' ORDER BY started_ms DESC, seq LIMIT 1"));
    s.Bind(1, key);
    return ReadJourney(s);
  }

  std::optional<JourneyRecord> LatestJourneyOfCart(const std::string& cart_id) override {
    auto s = db_.Prepare(
        JourneySelect("WHERE cart_id = $1 ORDER BY started_ms DESC, seq DESC LIMIT 1"));
    s.Bind(1, cart_id);
    return ReadJourney(s);
  }

  void SaveJourney(const JourneyRecord& j) override {
    auto s = db_.Prepare(
        "INSERT INTO journeys(journey_id, contact_key, cart_id, flow, path, state, end_reason,"
        " next_step, next_due_ms, next_branch, started_ms, prev_sent_ms, prev_engagement,"
        " prev_branch, updated_ms) VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)"
        " ON CONFLICT(journey_id) DO UPDATE SET contact_key = excluded.contact_key,"
        " cart_id = excluded.cart_id, flow = excluded.flow, path = excluded.path,"
        " state = excluded.state, end_reason = excluded.end_reason,"
        " next_step = excluded.next_step, next_due_ms = excluded.next_due_ms,"
        " next_branch = excluded.next_branch, started_ms = excluded.started_ms,"
        " prev_sent_ms = excluded.prev_sent_ms, prev_engagement = excluded.prev_engagement,"
        " prev_branch = excluded.prev_branch, updated_ms = excluded.updated_ms,"
        " seq = excluded.seq");
    BindJourneyRow(s, j).Run();
  }

  void ScheduleJob(const std::string& kind, const std::string& subject, Millis due_ms) override {
    db_.Prepare(
           "INSERT INTO jobs(kind, subject, due_ms, state, lease_until_ms, attempt)"
           " VALUES($1,$2,$3,'pending',0,0) ON CONFLICT(kind, subject) DO UPDATE SET"
           " due_ms = excluded.due_ms, state = 'pending', lease_until_ms = 0")
        .Bind(1, kind)
        .Bind(2, subject)
        .Bind(3, due_ms)
        .Run();
  }

  void CancelJobs(const std::string& kind, const std::string& subject) override {
    db_.Prepare("DELETE FROM jobs WHERE kind = $1 AND subject = $2").Bind(1, kind).Bind(2, subject).Run();
  }

  std::vector<JobRecord> ClaimDueJobs(Millis now, int limit, Millis lease_ms) override {
    // One statement claims the batch; SKIP LOCKED passes over rows another transaction is
    // claiming, so two workers on different hosts can never both hold one job.
    auto s = db_.Prepare(
        // Each state through its own index, at most `limit` rows each (no sort of a backlog);
        // FOR UPDATE may not sit under a UNION, so each side locks in its own CTE.
        "WITH p AS (SELECT job_id, due_ms FROM jobs WHERE state = 'pending' AND due_ms <= $1"
        "   ORDER BY due_ms, job_id LIMIT $2 FOR UPDATE SKIP LOCKED),"
        " c AS (SELECT job_id, due_ms FROM jobs WHERE state = 'claimed' AND lease_until_ms <= $1"
        "   ORDER BY lease_until_ms, job_id LIMIT $2 FOR UPDATE SKIP LOCKED),"
        " pick AS (SELECT job_id, due_ms FROM p UNION ALL SELECT job_id, due_ms FROM c"
        "   ORDER BY due_ms, job_id LIMIT $2)"
        " UPDATE jobs SET state = 'claimed', lease_until_ms = $1 + $3, attempt = attempt + 1"
        " WHERE job_id IN (SELECT job_id FROM pick)"
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
    std::sort(jobs.begin(), jobs.end(), [](const JobRecord& a, const JobRecord& b) {
      return a.due_ms != b.due_ms ? a.due_ms < b.due_ms : a.job_id < b.job_id;
    });
    return jobs;
  }

  bool FinishJob(int64_t job_id, int attempt) override {
    // "done" is the row's removal: finished jobs leave nothing behind to scan.
    db_.Prepare("DELETE FROM jobs WHERE job_id = $1 AND attempt = $2 AND state = 'claimed'")
        .Bind(1, job_id)
        .Bind(2, attempt)
        .Run();
    return db_.ChangedRows() == 1;
  }

  bool RetryJob(int64_t job_id, int attempt, Millis due_ms) override {
    db_.Prepare(
           "UPDATE jobs SET state = 'pending', due_ms = $1, lease_until_ms = 0"
           " WHERE job_id = $2 AND attempt = $3 AND state = 'claimed'")
        .Bind(1, due_ms)
        .Bind(2, job_id)
        .Bind(3, attempt)
        .Run();
    return db_.ChangedRows() == 1;
  }

  bool ClaimIsCurrent(int64_t job_id, int attempt) override {
    auto s = db_.Prepare("SELECT 1 FROM jobs WHERE job_id = $1 AND attempt = $2 AND state = 'claimed'");
    s.Bind(1, job_id).Bind(2, attempt);
    return s.Step();
  }

  int RenewClaims(const std::vector<std::pair<int64_t, int>>& claims, Millis lease_until) override {
    int renewed = 0;
    for (const auto& [job_id, attempt] : claims) {
      db_.Prepare("UPDATE jobs SET lease_until_ms = $1 WHERE job_id = $2 AND attempt = $3"
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
        "INSERT INTO messages(message_id, journey_id, cart_id, contact_key, flow, path, step,"
        " branch, channel, status, reason, to_addr, subject, text, html, due_ms, sent_ms,"
        " attempts, created_ms, variant) VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,"
        "$15,$16,$17,$18,$19,$20) ON CONFLICT DO NOTHING");
    BindNewMessageRow(s, m).Run();
    return db_.ChangedRows() == 1;
  }

  std::optional<MessageRecord> LoadMessage(const std::string& id) override {
    auto s = db_.Prepare(MessageSelect("WHERE message_id = $1"));
    s.Bind(1, id);
    if (!s.Step()) return std::nullopt;
    return ReadMessage(s);
  }

  void UpdateMessage(const MessageRecord& m) override {
    auto s = db_.Prepare(
        "UPDATE messages SET status = $1, reason = $2, to_addr = $3, subject = $4, text = $5,"
        " html = $6, sent_ms = $7, opened_ms = $8, clicked_ms = $9, attempts = $10,"
        " due_ms = $11, variant = $12, unsubscribed_ms = $13 WHERE message_id = $14");
    BindMessageUpdate(s, m).Run();
  }

  void SuppressUnsent(const std::string& journey_id, const std::string& reason) override {
    db_.Prepare(
           "UPDATE messages SET status = 'suppressed', reason = $1"
           " WHERE journey_id = $2 AND status IN ('sending', 'retrying', 'deferred', 'paused')")
        .Bind(1, reason)
        .Bind(2, journey_id)
        .Run();
  }

  std::vector<MessageRecord> ListMessages(const MessageFilter& f) override {
    // Only the filters given reach the SQL, so each query can use its index (a journey's
    // messages are read after every step: that must not scan the table).
    std::vector<std::string> values;
    std::string where = "WHERE true";
    for (const auto& [column, value] : {std::pair<const char*, const std::string*>{"cart_id", &f.cart_id},
                                        {"contact_key", &f.contact_key},
                                        {"journey_id", &f.journey_id}}) {
      if (value->empty()) continue;
      values.push_back(*value);
      where += std::string(" AND ") + column + " = $" + std::to_string(values.size());
    }
    const int limit_param = static_cast<int>(values.size()) + 1;
    auto s = db_.Prepare(MessageSelect(
        (where + " ORDER BY created_ms, step, channel COLLATE \"C\", seq LIMIT $" +
         std::to_string(limit_param)).c_str()));
    for (size_t i = 0; i < values.size(); ++i) s.Bind(static_cast<int>(i + 1), values[i]);
    if (f.limit > 0) s.Bind(limit_param, f.limit);
    else s.BindNull(limit_param);  // LIMIT NULL: no limit
    std::vector<MessageRecord> out;
    while (s.Step()) out.push_back(ReadMessage(s));
    return out;
  }

  std::optional<MessageRecord> LastSentTo(const std::string& key, Millis since) override {
    auto s = db_.Prepare(MessageSelect(
        "WHERE contact_key = $1 AND status = 'sent' AND sent_ms >= $2"
        " ORDER BY sent_ms DESC, seq DESC LIMIT 1"));
    s.Bind(1, key).Bind(2, since);
    if (!s.Step()) return std::nullopt;
    return ReadMessage(s);
  }

  ContactSends SendsTo(const std::string& key, Millis since) override {
    ContactSends out;
    {
      auto s = db_.Prepare(
          "SELECT channel, max(sent_ms) FROM messages WHERE contact_key = $1 AND status = 'sent'"
          " GROUP BY channel");
      s.Bind(1, key);
      while (s.Step()) out.last_by_channel[s.Text(0)] = s.Int(1);
    }
    auto s = db_.Prepare(
        "SELECT channel, sent_ms FROM messages WHERE contact_key = $1 AND status = 'sent'"
        " AND sent_ms >= $2 ORDER BY sent_ms, seq");
    s.Bind(1, key).Bind(2, since);
    while (s.Step()) out.recent.emplace_back(s.Text(0), s.Int(1));
    return out;
  }

  void SavePool(const CouponPool& p) override {
    auto s = db_.Prepare(
        "INSERT INTO coupon_pools(name, kind, discount_kind, amount, currency, static_code,"
        " prefix, code_length, valid_for_ms, expires_ms) VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)"
        " ON CONFLICT(name) DO UPDATE SET kind = excluded.kind,"
        " discount_kind = excluded.discount_kind, amount = excluded.amount,"
        " currency = excluded.currency, static_code = excluded.static_code,"
        " prefix = excluded.prefix, code_length = excluded.code_length,"
        " valid_for_ms = excluded.valid_for_ms, expires_ms = excluded.expires_ms");
    BindPoolRow(s, p).Run();
  }

  std::optional<CouponPool> LoadPool(const std::string& name) override {
    auto s = db_.Prepare(PoolSelect("WHERE name = $1"));
    s.Bind(1, name);
    if (!s.Step()) return std::nullopt;
    return PoolFromRow(s, name);
  }

  int64_t AddCoupons(const std::vector<Coupon>& coupons) override {
    // A statement per thousand codes, not a round trip per code: an import holds the
    // writer lock meanwhile. Rows go in in the given order (seq: the order codes are handed
    // out in); a code already known, or twice in the list, is skipped as on SQLite.
    constexpr size_t kChunk = 1000;
    int64_t added = 0;
    for (size_t start = 0; start < coupons.size(); start += kChunk) {
      std::vector<std::string> code, pool, kind, currency, contact, shown;
      std::vector<int64_t> shared, amount, expires, assigned;
      for (size_t i = start; i < std::min(coupons.size(), start + kChunk); ++i) {
        const Coupon& c = coupons[i];
        code.push_back(c.code);
        pool.push_back(c.pool);
        shared.push_back(c.shared ? 1 : 0);
        kind.push_back(DiscountKindName(c.discount.kind));
        amount.push_back(c.discount.amount);
        currency.push_back(c.discount.currency);
        expires.push_back(c.expires_ms);
        contact.push_back(c.assigned_contact);
        assigned.push_back(c.assigned_contact.empty() ? 0 : 1);
        shown.push_back(c.shown == c.code ? std::string() : c.shown);
      }
      db_.Prepare(
             "INSERT INTO coupons(code, pool, shared, discount_kind, amount, currency, expires_ms,"
             " assigned_contact, assigned_ms, shown) SELECT c, p, s, k, a, cur, e, ac, am, sh FROM"
             " unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[], $6::text[],"
             " $7::bigint[], $8::text[], $9::bigint[], $10::text[]) WITH ORDINALITY"
             " AS t(c, p, s, k, a, cur, e, ac, am, sh, n) ORDER BY n ON CONFLICT DO NOTHING")
          .BindLiteral(1, PgArray(code))
          .BindLiteral(2, PgArray(pool))
          .BindLiteral(3, PgArray(shared))
          .BindLiteral(4, PgArray(kind))
          .BindLiteral(5, PgArray(amount))
          .BindLiteral(6, PgArray(currency))
          .BindLiteral(7, PgArray(expires))
          .BindLiteral(8, PgArray(contact))
          .BindLiteral(9, PgArray(assigned))
          .BindLiteral(10, PgArray(shown))
          .Run();
      added += db_.ChangedRows();
    }
    return added;
  }

  std::optional<Coupon> TakeFreeCoupon(const CouponPool& pool, const std::string& contact_key,
                                       Millis now) override {
    // One statement: choose and assign; SKIP LOCKED passes over a code another transaction
    // is taking, so two processes drawing from one pool never hand out the same code.
    auto s = db_.Prepare(
        "UPDATE coupons SET assigned_contact = $1, assigned_ms = $2,"
        " expires_ms = CASE WHEN $3 = 0 THEN expires_ms WHEN expires_ms = 0 OR $3 < expires_ms"
        " THEN $3 ELSE expires_ms END"
        " WHERE code = (SELECT code FROM coupons WHERE pool = $4 AND shared = 0"
        " AND assigned_contact = '' AND (expires_ms = 0 OR expires_ms > $2) ORDER BY seq LIMIT 1"
        " FOR UPDATE SKIP LOCKED)"
        " RETURNING code");
    s.Bind(1, contact_key).Bind(2, now).Bind(3, CouponExpiry(pool, now)).Bind(4, pool.name);
    if (!s.Step()) return std::nullopt;
    return LoadCoupon(s.Text(0));
  }

  std::optional<Coupon> LoadCoupon(const std::string& code) override {
    auto s = db_.Prepare(CouponSelect("WHERE code = $1"));
    s.Bind(1, code);
    if (!s.Step()) return std::nullopt;
    return CouponFromRow(s, code);
  }

  void MarkRedeemed(const std::string& code, const std::string& order_id, Millis at) override {
    db_.Prepare(
           "UPDATE coupons SET redeemed_order = $1, redeemed_ms = $2 WHERE code = $3 AND shared = 0")
        .Bind(1, order_id)
        .Bind(2, at)
        .Bind(3, code)
        .Run();
  }

  int64_t FreeCoupons(const std::string& pool, Millis now) override {
    auto s = db_.Prepare(
        "SELECT count(*) FROM coupons WHERE pool = $1 AND shared = 0 AND assigned_contact = ''"
        " AND (expires_ms = 0 OR expires_ms > $2)");
    s.Bind(1, pool).Bind(2, now);
    return s.Step() ? s.Int(0) : 0;
  }

  std::optional<Coupon> AssignedCoupon(const std::string& pool, const std::string& contact_key,
                                       Millis now) override {
    std::string code;
    {
      auto s = db_.Prepare(
          "SELECT code FROM coupons WHERE pool = $1 AND assigned_contact = $2 AND shared = 0"
          " AND redeemed_order = '' AND (expires_ms = 0 OR expires_ms > $3)"
          " ORDER BY assigned_ms DESC, seq DESC LIMIT 1");
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
           "UPDATE jobs SET due_ms = $1, state = 'pending', lease_until_ms = 0 WHERE kind = 'step'"
           " AND state = 'pending' AND due_ms > $1 AND subject IN"
           " (SELECT journey_id FROM messages WHERE status = 'paused' AND reason <> 'flow_paused')")
        .Bind(1, now)
        .Run();
    return db_.ChangedRows();
  }

  int64_t PruneCoupons(Millis now, Millis grace_ms) override {
    db_.Prepare(
           "DELETE FROM coupons WHERE shared = 0 AND redeemed_order = '' AND expires_ms <> 0"
           " AND expires_ms + $1 <= $2")
        .Bind(1, grace_ms)
        .Bind(2, now)
        .Run();
    return db_.ChangedRows();
  }

  std::optional<OfferRecord> LatestOffer(const std::string& visitor_id,
                                         const std::string& contact_key) override {
    auto s = db_.Prepare(OfferSelect(
        "WHERE source = 'popup' AND (visitor_id = $1 OR ($2 <> '' AND contact_key = $2))"
        " ORDER BY decided_ms DESC,"
        " offer_id DESC LIMIT 1"));
    s.Bind(1, visitor_id).Bind(2, contact_key);
    return ReadOffer(s);
  }

  std::optional<OfferRecord> LastShownOffer(const std::string& visitor_id,
                                            const std::string& contact_key, Millis since,
                                            Millis until) override {
    auto s = db_.Prepare(OfferSelect(
        "WHERE show = 1 AND source = 'popup' AND (visitor_id = $1 OR ($2 <> '' AND contact_key = $2))"
        " AND decided_ms >= $3 AND decided_ms <= $4 ORDER BY decided_ms DESC, offer_id DESC"
        " LIMIT 1"));
    s.Bind(1, visitor_id).Bind(2, contact_key).Bind(3, since).Bind(4, until);
    return ReadOffer(s);
  }

  void SaveOffer(const OfferRecord& o) override {
    auto s = db_.Prepare(
        "INSERT INTO offers(visitor_id, cart_id, contact_key, show, kind, variant, reason,"
        " incentive_rule, coupon_code, decided_ms, source) VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)");
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
        " FROM offers WHERE kind = 'coupon' AND incentive_rule <> '' AND decided_ms >= $1");
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
        "WHERE source = 'flow' AND visitor_id = $1 ORDER BY offer_id DESC LIMIT 1"));
    s.Bind(1, key);
    return ReadOffer(s);
  }

  Millis LastIncentiveTo(const std::string& contact_key) override {
    auto s = db_.Prepare(
        "SELECT max(decided_ms) FROM offers WHERE contact_key = $1 AND kind = 'coupon' AND show = 1");
    s.Bind(1, contact_key);
    return s.Step() && !s.IsNull(0) ? s.Int(0) : 0;
  }

  std::vector<FunnelRow> Funnel(Millis since, Millis until) override {
    auto s = db_.Prepare(
        "SELECT stage, count(*), count(*) FILTER (WHERE state IN ('abandoned', 'expired',"
        " 'recovered')), count(*) FILTER (WHERE state = 'recovered') FROM carts"
        " WHERE created_ms >= $1 AND created_ms < $2 AND value_minor > 0 GROUP BY stage");
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
          " WHERE day_ms >= $1 AND day_ms <= $2 - 86400000 GROUP BY stage");
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
        "   FROM lead_days WHERE day_ms >= $1 AND day_ms <= $2 - 86400000) AS x GROUP BY who),"
        " t AS (SELECT s.browsed, greatest(s.checkout, coalesce(cs.checkout, 0)) AS checkout,"
        "   greatest(s.carted, coalesce(cs.carted, 0)) AS carted,"
        "   greatest(s.bought, CASE WHEN b.who IS NULL THEN 0 ELSE 1 END) AS bought"
        "   FROM shoppers s LEFT JOIN cs ON cs.who = s.who LEFT JOIN buyers b ON b.who = s.who)"
        " SELECT sum(CASE WHEN bought = 0 AND checkout = 1 THEN 1 ELSE 0 END),"
        "   sum(CASE WHEN bought = 0 AND checkout = 0 AND (carted = 1 OR browsed = 1) THEN 1 ELSE 0 END),"
        "   sum(CASE WHEN bought = 0 AND checkout = 0 AND carted = 0 AND browsed = 0"
        "   THEN 1 ELSE 0 END) FROM t");
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
                           " WHERE day_ms >= $1 AND day_ms <= $2 - 86400000");
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
        " (day_ms, who) IN (SELECT day_ms, who FROM lead_days WHERE day_ms + 86400000 <= $1"
        " ORDER BY day_ms, who LIMIT $2)";
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
          " at_ms FROM events WHERE at_ms < $1 ORDER BY at_ms LIMIT $2) AS b) AS x"
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
             " SELECT $1, s.who, s.browsed, coalesce(cs.checkout, 0), coalesce(cs.carted, 0),"
             " CASE WHEN b.who IS NULL THEN 0 ELSE 1 END FROM shoppers s"
             " LEFT JOIN cs ON cs.who = s.who LEFT JOIN buyers b ON b.who = s.who"
             " ON CONFLICT(day_ms, who) DO NOTHING")
          .Bind(1, day)
          .Bind(2, day + 86400000)
          .Run();
  }

  std::vector<StoredEvent> ListEvents(Millis since, Millis until, int64_t after_id,
                                      int limit) override {
    auto s = db_.Prepare(
        "SELECT id, type, at_ms, payload FROM events WHERE at_ms >= $1 AND at_ms < $2"
        " AND id > $3 ORDER BY id LIMIT $4");
    s.Bind(1, since).Bind(2, until).Bind(3, after_id).Bind(4, limit);
    std::vector<StoredEvent> out;
    while (s.Step()) out.push_back({s.Int(0), s.Text(1), s.Int(2), s.Text(3)});
    return out;
  }

  std::string AssignVariant(const std::string& experiment, const std::string& contact_key,
                            const std::string& variant, const std::string& flow,
                            Millis now) override {
    db_.Prepare(
           "INSERT INTO assignments(experiment, contact_key, variant, flow, assigned_ms)"
           " VALUES($1,$2,$3,$4,$5) ON CONFLICT DO NOTHING")
        .Bind(1, experiment)
        .Bind(2, contact_key)
        .Bind(3, variant)
        .Bind(4, flow)
        .Bind(5, now)
        .Run();
    auto s = db_.Prepare("SELECT variant FROM assignments WHERE experiment = $1 AND contact_key = $2");
    s.Bind(1, experiment).Bind(2, contact_key);
    return s.Step() ? s.Text(0) : variant;
  }

  std::vector<VariantCounts> StepVariants(const std::string& experiment, Millis window_ms,
                                          Millis since, Millis until) override {
    auto s = db_.Prepare(
        "SELECT variant, count(*), count(*) FILTER (WHERE EXISTS(SELECT 1 FROM orders o WHERE"
        "   o.contact_key = assignments.contact_key AND o.at_ms >= assignments.assigned_ms"
        "   AND o.at_ms < assignments.assigned_ms + $2))"
        " FROM assignments WHERE experiment = $1 AND assigned_ms >= $3 AND assigned_ms < $4"
        " GROUP BY variant ORDER BY variant COLLATE \"C\"");
    s.Bind(1, experiment).Bind(2, window_ms).Bind(3, since).Bind(4, until);
    std::vector<VariantCounts> out;
    while (s.Step()) out.push_back({s.Text(0), s.Int(1), s.Int(2)});
    return out;
  }

  void PauseFlow(const std::string& flow, const std::string& reason, Millis now) override {
    db_.Prepare(
           "INSERT INTO flow_pauses(flow, reason, paused_ms) VALUES($1,$2,$3)"
           " ON CONFLICT(flow) DO UPDATE SET reason = excluded.reason")
        .Bind(1, flow)
        .Bind(2, reason)
        .Bind(3, now)
        .Run();
  }

  bool ResumeFlow(const std::string& flow, Millis now) override {
    db_.Prepare("DELETE FROM flow_pauses WHERE flow = $1").Bind(1, flow).Run();
    if (db_.ChangedRows() == 0) return false;
    // The flow's waiting steps are due at once; each re-checks everything at send time.
    db_.Prepare(
           "UPDATE jobs SET due_ms = $1, state = 'pending', lease_until_ms = 0 WHERE kind = 'step'"
           " AND state = 'pending' AND due_ms > $1 AND subject IN (SELECT journey_id FROM messages"
           " WHERE status = 'paused' AND reason = 'flow_paused' AND flow = $2)")
        .Bind(1, now)
        .Bind(2, flow)
        .Run();
    // They are no longer held: "deferred" until they go (status and flows() agree at once).
    db_.Prepare(
           "UPDATE messages SET status = 'deferred', reason = 'flow_resumed' WHERE status = 'paused'"
           " AND reason = 'flow_paused' AND flow = $1")
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
        "SELECT variant, count(*), count(*) FILTER (WHERE EXISTS(SELECT 1 FROM orders o WHERE"
        "   o.contact_key <> '' AND o.contact_key = offers.contact_key"
        "   AND o.at_ms >= offers.decided_ms AND o.at_ms < offers.decided_ms + $2))"
        " FROM offers WHERE kind = $1 AND variant <> '' AND decided_ms >= $3 AND decided_ms < $4"
        " GROUP BY variant"
        // Decisions pruned by retention (whole days in the range).
        " UNION ALL SELECT variant, sum(trials), sum(conversions) FROM offer_days WHERE kind = $1"
        " AND day_ms >= $3 AND day_ms <= $4 - 86400000 GROUP BY variant");
    s.Bind(1, kind).Bind(2, window_ms).Bind(3, since).Bind(4, until);
    std::map<std::string, VariantCounts> merged;  // by variant, in byte order (COLLATE "C")
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
        "INSERT INTO orders(order_id, cart_id, contact_key, value_minor, currency, coupon, at_ms,"
        " message_id, flow, step, channel) VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)"
        " ON CONFLICT DO NOTHING");
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
           "INSERT INTO workers(worker_id, last_run_ms, jobs_run) VALUES($1,$2,$3)"
           " ON CONFLICT(worker_id) DO UPDATE SET last_run_ms = excluded.last_run_ms,"
           " jobs_run = workers.jobs_run + excluded.jobs_run")
        .Bind(1, worker_id)
        .Bind(2, now)
        .Bind(3, jobs_run)
        .Run();
  }

 private:
  void Initialize();
  // The schema's version: -1 without a schema_version table. Refuses a schema_version that
  // is not ours.
  int64_t SchemaVersion();
  [[noreturn]] void RefuseNewer(int64_t version);







  PgDb db_;
  int depth_ = 0;  // Write() nesting
};

int64_t PostgresStore::SchemaVersion() {
  {
    auto s = db_.Prepare(
        "SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = 'schema_version'");
    s.Bind(1, db_.schema());
    if (!s.Step()) return -1;
  }
  const std::string foreign = "store '" + db_.url().shown +
                              "' is not a cartrecovery store (schema '" + db_.schema() +
                              "' has a table schema_version of another application); refusing to "
                              "touch it (give the store a schema of its own: ?schema=cartrecovery)";
  {
    auto s = db_.Prepare(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = $1"
        " AND table_name = 'schema_version' AND column_name IN ('app', 'version')");
    s.Bind(1, db_.schema());
    if (!s.Step() || s.Int(0) != 2) throw Error(ErrorCode::kStorage, foreign);  // not our columns
  }
  auto s = db_.Prepare("SELECT version FROM schema_version WHERE app = 'cartrecovery'");
  if (!s.Step()) throw Error(ErrorCode::kStorage, foreign);  // our shape, not our row
  return s.Int(0);
}

void PostgresStore::RefuseNewer(int64_t version) {
  throw Error(ErrorCode::kStorage,
              "store '" + db_.url().shown + "' was written by a newer cartrecovery (schema " +
                  std::to_string(version) + "; this version knows up to " +
                  std::to_string(PostgresSchemaVersion()) + "); upgrade the package");
}

void PostgresStore::Initialize() {
  const int latest = PostgresSchemaVersion();
  // Fast path, no lock: an up-to-date schema (every open but the first).
  int64_t version = SchemaVersion();
  if (version > latest) RefuseNewer(version);
  if (version == latest) return;
  // Migrate in one transaction under the writer lock: two processes starting at once take
  // turns, and the second finds the work done.
  Write([&] {
    if (!db_.url().schema.empty()) {
      auto s = db_.Prepare("SELECT 1 FROM pg_namespace WHERE nspname = $1");
      s.Bind(1, db_.url().schema);
      // Created only when missing: CREATE SCHEMA needs a privilege that using one does not.
      if (!s.Step()) db_.Exec("CREATE SCHEMA " + db_.url().schema);
    }
    int64_t current = SchemaVersion();
    if (current > latest) RefuseNewer(current);
    if (current < 0) {
      auto s = db_.Prepare(std::string("SELECT tablename FROM pg_tables WHERE schemaname = $1 AND"
                                       " tablename IN (") +
                           kOurTables + ") ORDER BY tablename");
      s.Bind(1, db_.schema());
      if (s.Step())
        throw Error(ErrorCode::kStorage,
                    "store '" + db_.url().shown + "' is not a cartrecovery store (schema '" +
                        db_.schema() + "' already has a table '" + s.Text(0) +
                        "' of another application); refusing to touch it (give the store a "
                        "schema of its own: ?schema=cartrecovery)");
      db_.Exec("CREATE TABLE schema_version(app TEXT PRIMARY KEY, version BIGINT NOT NULL)");
      db_.Exec("INSERT INTO schema_version(app, version) VALUES('cartrecovery', 0)");
      current = 0;
    }
    for (int64_t v = current; v < latest; ++v) db_.Exec(Migrations()[static_cast<size_t>(v)]);
    db_.Prepare("UPDATE schema_version SET version = $1 WHERE app = 'cartrecovery'")
        .Bind(1, static_cast<int64_t>(latest))
        .Run();
  });
}

std::vector<ReportRow> PostgresStore::Report(const ReportQuery& q) {
  // Group and filter keys are whitelisted column expressions (for messages, and for orders
  // through their last-touch message); values never reach the SQL text. The same
  // expressions as the SQLite store's, in PostgreSQL's words.
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
      // Integer division, as SQLite's strftime(..., ms / 1000, 'unixepoch') does it.
      {"day",
       {"to_char(to_timestamp((CASE WHEN sent_ms > 0 THEN sent_ms ELSE created_ms END) / 1000)"
        " AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
        "to_char(to_timestamp(at_ms / 1000) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"}},
  };
  std::string msg_keys, order_keys, msg_where, order_where, group_by;
  for (const auto& k : q.by) {
    auto it = kKeys.find(k);
    if (it == kKeys.end())
      throw InvalidArgument("by", "'" + k + "' is not one of flow, path, step, channel, variant, day");
    msg_keys += it->second.first + ", ";
    order_keys += it->second.second + ", ";
    group_by += (group_by.empty() ? " GROUP BY " : ", ") + std::to_string(&k - q.by.data() + 1);
  }
  std::vector<std::string> where_values;
  for (const auto& [k, v] : q.where) {
    auto it = kKeys.find(k);
    if (it == kKeys.end() || k == "day")
      throw InvalidArgument(k, "cannot filter a report by '" + k +
                                   "' (use flow, path, step, channel or variant; since/until for days)");
    where_values.push_back(v);
    const std::string param = "$" + std::to_string(where_values.size() + 2);
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
      " count(*) FILTER (WHERE status IN ('sent', 'bounced')),"
      " count(*) FILTER (WHERE status = 'failed'), count(*) FILTER (WHERE status = 'suppressed'),"
      " count(*) FILTER (WHERE opened_ms > 0), count(*) FILTER (WHERE clicked_ms > 0),"
      " count(*) FILTER (WHERE status = 'bounced'), count(*) FILTER (WHERE unsubscribed_ms > 0)"
      " FROM messages WHERE (CASE WHEN sent_ms > 0 THEN sent_ms ELSE created_ms END) >= $1"
      " AND (CASE WHEN sent_ms > 0 THEN sent_ms ELSE created_ms END) < $2" + msg_where + group_by;
  std::string sql_o = "SELECT " + order_keys +
                      " count(*), count(*) FILTER (WHERE coupon <> ''), sum(value_minor),"
                      " min(currency), max(currency) FROM orders WHERE message_id <> ''"
                      " AND at_ms >= $1 AND at_ms < $2" + order_where + group_by;
  auto bind_where = [&](PgStmt& s) {
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
      const int n = static_cast<int>(nk);
      r.sent += s.Int(n);
      r.failed += s.Int(n + 1);
      r.suppressed += s.Int(n + 2);
      r.opened += s.Int(n + 3);
      r.clicked += s.Int(n + 4);
      r.bounced += s.Int(n + 5);
      r.unsubscribed += s.Int(n + 6);
    }
  }
  {
    auto s = db_.Prepare(sql_o);
    s.Bind(1, since).Bind(2, until);
    bind_where(s);
    while (s.Step()) {
      const int n = static_cast<int>(nk);
      if (s.Int(n) == 0) continue;
      std::vector<std::string> key;
      for (size_t i = 0; i < nk; ++i) key.push_back(s.Text(static_cast<int>(i)));
      auto& r = row_for(key);
      r.orders += s.Int(n);
      r.orders_with_coupon += s.Int(n + 1);
      r.revenue_minor += s.Int(n + 2);
      r.currency = s.Text(n + 3) == s.Text(n + 4) ? s.Text(n + 3) : "MIXED";
    }
  }
  {
    // Pruned rows live on in report_days; its whole days inside the range count.
    static const std::map<std::string, std::string> kDayKeys = {
        {"flow", "flow"}, {"path", "path"}, {"step", "CAST(step AS TEXT)"}, {"channel", "channel"},
        {"variant", "variant"},
        {"day", "to_char(to_timestamp(day_ms / 1000) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"}};
    std::string keys, where, group;
    for (size_t i = 0; i < q.by.size(); ++i) {
      keys += kDayKeys.at(q.by[i]) + ", ";
      group += (group.empty() ? " GROUP BY " : ", ") + std::to_string(i + 1);
    }
    int param = 3;
    for (const auto& kv : q.where) where += " AND " + kDayKeys.at(kv.first) + " = $" + std::to_string(param++);
    auto s = db_.Prepare(
        "SELECT " + keys +
        " sum(sent), sum(failed), sum(suppressed), sum(opened), sum(clicked), sum(bounced),"
        " sum(unsubscribed), sum(orders), sum(orders_with_coupon), sum(revenue_minor),"
        " min(nullif(currency, '')), max(nullif(currency, '')) FROM report_days"
        " WHERE day_ms >= $1 AND day_ms <= $2 - 86400000" + where + group);
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

// Adds a batch's counts to a report_days row (excluded: the batch's row).
constexpr const char* kAddReportDay =
    " ON CONFLICT(day_ms, flow, path, step, channel, variant, currency) DO UPDATE SET"
    " sent = report_days.sent + excluded.sent, failed = report_days.failed + excluded.failed,"
    " suppressed = report_days.suppressed + excluded.suppressed,"
    " opened = report_days.opened + excluded.opened, clicked = report_days.clicked + excluded.clicked,"
    " bounced = report_days.bounced + excluded.bounced,"
    " unsubscribed = report_days.unsubscribed + excluded.unsubscribed,"
    " orders = report_days.orders + excluded.orders,"
    " orders_with_coupon = report_days.orders_with_coupon + excluded.orders_with_coupon,"
    " revenue_minor = report_days.revenue_minor + excluded.revenue_minor";

// The SQLite store's Prune in PostgreSQL's words; batches are bound as arrays.
PruneCounts PostgresStore::Prune(Millis now, const RetentionWindows& w, Millis attribution_ms) {
  PruneCounts c;
  const int n = std::max(1, w.batch);
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
  auto run = [&](const std::string& sql, const std::vector<std::string>& ids) {
    db_.Prepare(sql).BindLiteral(1, PgArray(ids)).Run();
    return db_.ChangedRows();
  };
  std::vector<std::string> contacts;

  if (w.events_ms > 0) {
    KeepLeadDays(now - w.events_ms, n);
    db_.Prepare("DELETE FROM events WHERE id IN (SELECT id FROM events WHERE at_ms < $1"
                " ORDER BY at_ms LIMIT $2)")
        .Bind(1, now - w.events_ms)
        .Bind(2, n)
        .Run();
    c.events = db_.ChangedRows();
    // Counters of the cap on events per cart whose last window opened before the oldest
    // event kept: none of their events is left to count against.
    db_.Prepare("DELETE FROM cart_event_counts WHERE cart_id IN (SELECT cart_id FROM cart_event_counts"
                " WHERE window_start_ms < $1 ORDER BY window_start_ms LIMIT $2)")
        .Bind(1, now - w.events_ms)
        .Bind(2, n)
        .Run();
    if (db_.ChangedRows() >= n) c.more = true;
  }
  if (w.bodies_ms > 0) {
    db_.Prepare("UPDATE messages SET subject = '', text = '', html = '' WHERE message_id IN"
                " (SELECT message_id FROM messages WHERE (subject <> '' OR text <> '' OR html <> '')"
                " AND created_ms < $1 LIMIT $2)")
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
    orders = select("SELECT order_id FROM orders WHERE at_ms < $1 ORDER BY at_ms, order_id LIMIT $2",
                         cut, nullptr);
  }
  std::vector<int64_t> offer_ids;  // aggregated above, deleted once the orders went
  if (w.offers_ms > 0) {
    std::vector<std::string> offers;
    {
      auto s = db_.Prepare(
          "SELECT offer_id FROM offers WHERE decided_ms < $1 AND NOT EXISTS (SELECT 1 FROM orders o"
          " WHERE o.message_id = 'offer:' || offers.offer_id AND NOT (o.order_id = ANY($3::text[])))"
          " ORDER BY decided_ms, offer_id LIMIT $2");
      s.Bind(1, now - w.offers_ms).Bind(2, n).BindLiteral(3, PgArray(orders));
      while (s.Step()) offers.push_back(s.Text(0));
    }
    if (!offers.empty()) {
      std::vector<int64_t> ids;
      for (const auto& id : offers) ids.push_back(std::stoll(id));
      db_.Prepare(
             "INSERT INTO offer_days(day_ms, kind, variant, trials, conversions)"
             " SELECT decided_ms / 86400000 * 86400000, kind, variant, count(*),"
             " count(*) FILTER (WHERE EXISTS(SELECT 1 FROM orders o WHERE o.contact_key <> ''"
             "   AND o.contact_key = offers.contact_key AND o.at_ms >= offers.decided_ms"
             "   AND o.at_ms < offers.decided_ms + $2))"
             " FROM offers WHERE offer_id = ANY($1::bigint[]) AND variant <> ''"
             " GROUP BY 1, 2, 3 ON CONFLICT(day_ms, kind, variant) DO UPDATE SET"
             " trials = offer_days.trials + excluded.trials,"
             " conversions = offer_days.conversions + excluded.conversions")
          .BindLiteral(1, PgArray(ids))
          .Bind(2, attribution_ms)
          .Run();
      offer_ids = ids;
    }
  }
  if (w.reports_ms > 0) {
    const Millis cut = now - w.reports_ms;
    if (!orders.empty()) {
      run(std::string(
              "INSERT INTO report_days(day_ms, flow, path, step, channel, variant, currency, sent,"
              " failed, suppressed, opened, clicked, bounced, unsubscribed, orders,"
              " orders_with_coupon, revenue_minor)"
              " SELECT at_ms / 86400000 * 86400000, coalesce(flow, ''),"
              " coalesce((SELECT m.path FROM messages m WHERE m.message_id = orders.message_id), ''),"
              " coalesce(step, 0), coalesce(channel, ''),"
              " coalesce((SELECT m.variant FROM messages m WHERE m.message_id = orders.message_id),"
              "  (SELECT o.variant FROM offers o WHERE 'offer:' || o.offer_id = orders.message_id), ''),"
              " coalesce(currency, ''), 0, 0, 0, 0, 0, 0, 0, count(*),"
              " count(*) FILTER (WHERE coalesce(coupon, '') <> ''), sum(value_minor)"
              " FROM orders WHERE order_id = ANY($1::text[]) AND message_id <> ''"
              " GROUP BY 1, 2, 3, 4, 5, 6, 7") + kAddReportDay,
          orders);
      c.orders = run("DELETE FROM orders WHERE order_id = ANY($1::text[])", orders);
    }
    auto messages = select(
        "SELECT message_id, contact_key FROM messages WHERE created_ms < $1"
        " AND (CASE WHEN sent_ms > 0 THEN sent_ms ELSE created_ms END) < $1"
        " AND status IN ('sent', 'bounced', 'failed', 'suppressed')"
        " AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.message_id = messages.message_id)"
        // A journey still running reads its messages (engagement, branches): they stay.
        " AND NOT EXISTS (SELECT 1 FROM journeys j WHERE j.journey_id = messages.journey_id"
        "   AND j.state = 'running')"
        " ORDER BY created_ms, message_id LIMIT $2",
        cut, &contacts);
    if (!messages.empty()) {
      run(std::string(
              "INSERT INTO report_days(day_ms, flow, path, step, channel, variant, currency, sent,"
              " failed, suppressed, opened, clicked, bounced, unsubscribed, orders,"
              " orders_with_coupon, revenue_minor)"
              " SELECT (CASE WHEN sent_ms > 0 THEN sent_ms ELSE created_ms END) / 86400000 * 86400000,"
              " flow, path, step, channel, variant, '',"
              " count(*) FILTER (WHERE status IN ('sent', 'bounced')),"
              " count(*) FILTER (WHERE status = 'failed'), count(*) FILTER (WHERE status = 'suppressed'),"
              " count(*) FILTER (WHERE opened_ms > 0), count(*) FILTER (WHERE clicked_ms > 0),"
              " count(*) FILTER (WHERE status = 'bounced'), count(*) FILTER (WHERE unsubscribed_ms > 0),"
              " 0, 0, 0 FROM messages WHERE message_id = ANY($1::text[]) GROUP BY 1, 2, 3, 4, 5, 6") +
              kAddReportDay,
          messages);
      c.messages = run("DELETE FROM messages WHERE message_id = ANY($1::text[])", messages);
    }
  }
  if (w.reports_ms > 0 && CollapseLeadDays(now - w.reports_ms, n)) c.more = true;
  if (!offer_ids.empty()) {
    db_.Prepare("DELETE FROM offers WHERE offer_id = ANY($1::bigint[])").BindLiteral(1, PgArray(offer_ids)).Run();
    c.offers = db_.ChangedRows();
  }
  if (w.carts_ms > 0) {
    const Millis cut = now - w.carts_ms;
    auto journeys = select(
        "SELECT journey_id, contact_key FROM journeys WHERE state <> 'running' AND updated_ms < $1"
        " ORDER BY updated_ms LIMIT $2",
        cut, &contacts);
    if (!journeys.empty())
      c.journeys = run("DELETE FROM journeys WHERE journey_id = ANY($1::text[])", journeys);
    auto carts = select(
        "SELECT cart_id, contact_key FROM carts WHERE last_activity_ms < $1"
        " AND NOT EXISTS (SELECT 1 FROM journeys j WHERE j.cart_id = carts.cart_id AND j.state = 'running')"
        " AND NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.kind = 'abandon' AND jobs.subject = carts.cart_id)"
        " ORDER BY last_activity_ms, cart_id LIMIT $2",
        cut, &contacts);
    if (!carts.empty()) {
      run("INSERT INTO funnel_days(day_ms, stage, carts, abandoned, recovered)"
          " SELECT created_ms / 86400000 * 86400000, stage, count(*),"
          " count(*) FILTER (WHERE state IN ('abandoned', 'expired', 'recovered')),"
          " count(*) FILTER (WHERE state = 'recovered')"
          " FROM carts WHERE cart_id = ANY($1::text[]) AND value_minor > 0"
          " GROUP BY 1, 2 ON CONFLICT(day_ms, stage) DO UPDATE SET"
          " carts = funnel_days.carts + excluded.carts,"
          " abandoned = funnel_days.abandoned + excluded.abandoned,"
          " recovered = funnel_days.recovered + excluded.recovered",
          carts);
      c.carts = run("DELETE FROM carts WHERE cart_id = ANY($1::text[])", carts);
    }
    if (!contacts.empty()) {
      std::sort(contacts.begin(), contacts.end());
      contacts.erase(std::unique(contacts.begin(), contacts.end()), contacts.end());
      std::vector<std::string> gone;
      {
        auto s = db_.Prepare(
            "SELECT contact_key FROM contacts WHERE contact_key = ANY($1::text[])"
            " AND unsubscribed = 0 AND email_bounced = 0 AND phone_bounced = 0"
            " AND last_message_ms < $2 AND last_order_ms < $2"
            " AND NOT EXISTS (SELECT 1 FROM carts c WHERE c.contact_key = contacts.contact_key)"
            " AND NOT EXISTS (SELECT 1 FROM journeys j WHERE j.contact_key = contacts.contact_key)"
            " AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.contact_key = contacts.contact_key)");
        s.BindLiteral(1, PgArray(contacts)).Bind(2, cut);
        while (s.Step()) gone.push_back(s.Text(0));
      }
      if (!gone.empty()) {
        c.visitors = run("DELETE FROM visitors WHERE contact_key = ANY($1::text[])", gone);
        c.contacts = run("DELETE FROM contacts WHERE contact_key = ANY($1::text[])", gone);
      }
    }
  }
  for (int64_t k : {c.events, c.bodies, c.messages, c.orders, c.journeys, c.carts, c.offers})
    if (k >= n) c.more = true;
  return c;
}

StoreStatus PostgresStore::Status(Millis now) {
  StoreStatus st;
  st.schema_version = PostgresSchemaVersion();
  {
    auto s = db_.Prepare(
        "SELECT worker_id, last_run_ms FROM workers ORDER BY last_run_ms DESC LIMIT 1");
    if (s.Step()) {
      st.worker_last_id = s.Text(0);
      st.worker_last_run_ms = s.Int(1);
    }
  }
  {
    auto s = db_.Prepare(
        "SELECT count(*), count(*) FILTER (WHERE due_ms <= $1),"
        " min(due_ms) FILTER (WHERE due_ms <= $1), min(due_ms) FILTER (WHERE due_ms > $1)"
        " FROM jobs");
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

// Where a person's rows are, per table ($1 contact keys, $2 visitor ids, $3 cart ids as
// arrays through the CTEs below; $4 the e-mail address, $5 the phone number).
const std::vector<std::pair<const char*, const char*>>& PgPersonTables() {
  static const std::vector<std::pair<const char*, const char*>> kTables = {
      {"contacts", "contact_key IN (SELECT v FROM k)"},
      {"consent_log", "contact_key IN (SELECT v FROM k)"},
      {"visitors", "contact_key IN (SELECT v FROM k) OR visitor_id IN (SELECT v FROM vis)"},
      {"carts", "cart_id IN (SELECT v FROM c)"},
      {"journeys", "contact_key IN (SELECT v FROM k) OR cart_id IN (SELECT v FROM c)"},
      {"messages", "contact_key IN (SELECT v FROM k) OR cart_id IN (SELECT v FROM c)"},
      {"orders", "contact_key IN (SELECT v FROM k) OR cart_id IN (SELECT v FROM c)"},
      {"coupons", "assigned_contact IN (SELECT v FROM k)"},
      {"offers", "contact_key IN (SELECT v FROM k) OR visitor_id IN (SELECT v FROM vis)"},
      {"assignments", "contact_key IN (SELECT v FROM k)"},
      {"events",
       "cart_id IN (SELECT v FROM c) OR visitor_id IN (SELECT v FROM vis)"
       " OR ($4 <> '' AND strpos(payload, $4) > 0) OR ($5 <> '' AND strpos(payload, $5) > 0)"},
  };
  return kTables;
}

constexpr const char* kPgPersonSets =
    "WITH k AS (SELECT unnest($1::text[]) AS v), vis AS (SELECT unnest($2::text[]) AS v),"
    " c AS (SELECT unnest($3::text[]) AS v), needles AS (SELECT $4::text AS e, $5::text AS p) ";

}  // namespace

PersonKeys PostgresStore::FindPerson(const std::string& email, const std::string& phone) {
  PersonKeys who;
  who.email = email;
  who.phone = phone;
  std::set<std::string> keys, visitors, carts;
  for (const auto& k : {ContactKeyOf(email, ""), ContactKeyOf("", phone)})
    if (!k.empty()) keys.insert(k);
  {
    auto s = db_.Prepare(
        "SELECT contact_key FROM contacts WHERE ($1 <> '' AND email = $1) OR ($2 <> '' AND phone = $2)");
    s.Bind(1, email).Bind(2, phone);
    while (s.Step()) keys.insert(s.Text(0));
  }
  for (const auto& k : std::set<std::string>(keys)) {
    auto s = db_.Prepare("SELECT visitor_id FROM visitors WHERE contact_key = $1");
    s.Bind(1, k);
    while (s.Step()) visitors.insert(s.Text(0));
  }
  for (const auto& k : keys) {
    auto s = db_.Prepare("SELECT cart_id FROM carts WHERE contact_key = $1");
    s.Bind(1, k);
    while (s.Step()) carts.insert(s.Text(0));
  }
  for (const auto& v : visitors) {
    auto s = db_.Prepare("SELECT cart_id FROM carts WHERE visitor_id = $1");
    s.Bind(1, v);
    while (s.Step()) carts.insert(s.Text(0));
  }
  auto add_if_contact = [&](const std::string& key) {
    auto s = db_.Prepare("SELECT 1 FROM contacts WHERE contact_key = $1");
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

std::vector<std::pair<std::string, std::string>> PostgresStore::PersonRows(const PersonKeys& who) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [table, where] : PgPersonTables()) {
    auto s = db_.Prepare(std::string(kPgPersonSets) + "SELECT row_to_json(t)::text FROM " + table +
                         " t WHERE " + where);
    s.BindLiteral(1, PgArray(who.contact_keys))
        .BindLiteral(2, PgArray(who.visitor_ids))
        .BindLiteral(3, PgArray(who.cart_ids))
        .Bind(4, who.email)
        .Bind(5, who.phone);
    while (s.Step()) out.emplace_back(table, s.Text(0));
  }
  return out;
}

std::map<std::string, int64_t> PostgresStore::ErasePerson(const PersonKeys& who,
                                                         const std::string& anonymous) {
  std::map<std::string, int64_t> n;
  auto run = [&](const std::string& sql) {
    auto s = db_.Prepare(std::string(kPgPersonSets) + sql);
    s.BindLiteral(1, PgArray(who.contact_keys))
        .BindLiteral(2, PgArray(who.visitor_ids))
        .BindLiteral(3, PgArray(who.cart_ids))
        .Bind(4, who.email)
        .Bind(5, who.phone);
    s.Run();
    return db_.ChangedRows();
  };
  for (size_t i = 0; i < who.visitor_ids.size(); ++i) {
    const std::string anon = anonymous + "/v" + std::to_string(i);
    auto s = db_.Prepare(
        "UPDATE events SET visitor_id = $1, cart_id = NULL, payload = json_build_object("
        "'visitor_id', $1::text, 'page_type', payload::jsonb ->> 'page_type')::text"
        " WHERE type = 'page_view' AND visitor_id = $2");
    s.Bind(1, anon).Bind(2, who.visitor_ids[i]).Run();
    n["events_anonymized"] += db_.ChangedRows();
    for (const char* sql : {"UPDATE carts SET visitor_id = $1 WHERE visitor_id = $2",
                            "UPDATE offers SET visitor_id = $1 WHERE visitor_id = $2",
                            "UPDATE lead_days SET who = $1 WHERE who = $2"})
      db_.Prepare(sql).Bind(1, anon).Bind(2, who.visitor_ids[i]).Run();
  }
  n["events"] = run("DELETE FROM events WHERE " + std::string(PgPersonTables().back().second));
  n["carts"] = run("UPDATE carts SET restore_url = '' WHERE cart_id IN (SELECT v FROM c)");
  n["messages"] = run(
      "UPDATE messages SET to_addr = '', subject = '', text = '', html = ''"
      " WHERE contact_key IN (SELECT v FROM k) OR cart_id IN (SELECT v FROM c)");
  for (size_t i = 0; i < who.contact_keys.size(); ++i) {
    const std::string anon = anonymous + "/" + std::to_string(i);
    const std::string& key = who.contact_keys[i];
    for (const char* sql : {"UPDATE carts SET contact_key = $1 WHERE contact_key = $2",
                            "UPDATE journeys SET contact_key = $1 WHERE contact_key = $2",
                            "UPDATE messages SET contact_key = $1 WHERE contact_key = $2",
                            "UPDATE orders SET contact_key = $1 WHERE contact_key = $2",
                            "UPDATE offers SET contact_key = $1 WHERE contact_key = $2",
                            "UPDATE assignments SET contact_key = $1 WHERE contact_key = $2",
                            "UPDATE coupons SET assigned_contact = $1 WHERE assigned_contact = $2",
                            "UPDATE consent_log SET contact_key = $1 WHERE contact_key = $2"})
      db_.Prepare(sql).Bind(1, anon).Bind(2, key).Run();
  }
  n["visitors"] = run(
      "DELETE FROM visitors WHERE contact_key IN (SELECT v FROM k) OR visitor_id IN (SELECT v FROM vis)");
  n["contacts"] = run("DELETE FROM contacts WHERE contact_key IN (SELECT v FROM k)");
  return n;
}

void PostgresStore::Compact() {
  // Dead row versions of the erased rows go from the tables' pages.
  db_.Exec("VACUUM contacts, visitors, carts, journeys, messages, orders, offers, assignments,"
           " coupons, consent_log, events, lead_days");
}

void PostgresStore::LogConsent(const std::string& contact_key, const std::string& what,
                               bool granted, Millis at_ms, const std::string& source) {
  db_.Prepare(
         "INSERT INTO consent_log(contact_key, what, granted, at_ms, source) VALUES($1,$2,$3,$4,$5)")
      .Bind(1, contact_key)
      .Bind(2, what)
      .Bind(3, static_cast<int64_t>(granted))
      .Bind(4, at_ms)
      .Bind(5, source)
      .Run();
}
}  // namespace

int PostgresSchemaVersion() { return static_cast<int>(Migrations().size()); }

const char* PostgresMigration(int i) { return Migrations().at(static_cast<size_t>(i)); }

std::unique_ptr<Store> OpenPostgresStore(const std::string& url) {
  return std::make_unique<PostgresStore>(url);
}

}  // namespace internal
}  // namespace cartrecovery
