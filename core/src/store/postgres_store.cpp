// The PostgreSQL store: what PostgreSQL does its own way; the SQL it shares with the SQLite
// store is in sql_store.cpp (SqlStore), with the hooks below for the words that differ.
// Every statement is prepared once per connection and cached (PgDb::Prepare, by its text).
// A transaction's row writes go in pipeline mode (PgStmt::Queue), one statement at a time
// inside a savepoint (Write): there a failure must throw where it happens. A step's five
// row writes per reminder go per kind as one statement carrying the transaction's rows
// (WriteStepRowsTogether).
// Claims (jobs, coupons) are single statements with FOR UPDATE SKIP LOCKED.
//
// Locking: writers on many hosts run at once and wait for each other only over the same
// shopper. A Write() that starts with LockKeys() holds the store-wide advisory lock shared
// and, per key ("e:ann@...", "cart:<id>", ...), the row of key_locks for its hash FOR
// UPDATE until it ends; the loads below lock their row's key as they read it. Row locks
// are written in the rows, so a batch may hold tens of thousands of keys: an advisory
// lock per key took an entry of the server's shared lock table (64 per connection by
// default), which one worker's batch or one big import could fill (docs/POSTGRES.md).
// Every other Write() holds the store-wide lock exclusively, as all did before
// (migrations, staff actions, imports, alerts, privacy, an explicit prune; the worker's
// retention round only when it is free, which also empties key_locks).
// Why each read-modify-write is safe (READ COMMITTED: a row read may change before the
// write unless its key is held):
//   events (writer thread, apply_events.cpp): a batch locks its carts, their contacts, the
//     e-mail and phone keys, visitors and numbers up front in one sorted step; a key found
//     on the way (a visitor's contact, a message's contact, phone owners) on reading.
//     Carts (SaveCart after LoadCart) by cart; contacts (orders_count, consent, bounces,
//     unsubscribe) by contact key; one running journey per contact by the contact key;
//     visitor links by "visitor:"; one owner per phone number by "phone:"; a coupon's
//     redemption by "coupon:<code>".
//   abandon jobs (run_jobs.cpp): the batch's carts and their contacts up front; a new
//     journey, or the contact's running one moved to this cart, under both.
//   step plan and record (send_step.cpp): each journey's contact key and cart up front
//     (LockJourneys: their set-based reads lock nothing row by row).
//     S4: an order or unsubscribe locks the same keys, so it waits for a plan that is
//     marking the cart's messages "sending" and then suppresses them before delivery
//     checks them, or goes first and the plan sees the journey ended. Exactly one message
//     per step and channel: its derived id is the primary key (ON CONFLICT DO NOTHING).
//   coupons (offers.cpp): a code of the contact's is looked up and a new one taken under
//     the contact's key; taking a free imported code skips codes another transaction is
//     taking (SKIP LOCKED), a generated one is unique by its key: never given twice.
//   incentive budget (incentives.cpp, S8): counting the window and recording a decision
//     hold "incentive_budget", a narrow lock only coupon steps and popups with a budget take.
//   exit-intent popup (offers.cpp): its visitor and cart up front, the contact as loaded;
//     a repeat within the window finds the first decision under the same keys.
//   jobs: claims skip locked rows; finish, retry and renew are fenced by the attempt.
//   A/B assignment, orders, messages: first insert wins on the primary key.
//   retention, privacy, flow pauses, pool saves: store-wide.
// Keys are locked in sorted order per batch; a cycle among keys found on the way is broken
// by the server (deadlock_detected) and WriteRepeatable runs the transaction again.
//
// Where SQLite breaks ties by rowid (the order rows were inserted in, or last replaced in by
// ReplaceRow; UpsertRow keeps the row's place), a `seq` column
// does the same here (SqlStore's Then hook), in the direction SQLite's plan reads them, so
// both stores answer alike for the same data (store_tests checks it).
#include "store/postgres_store.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "cartrecovery/status.h"
#include "store/pg_db.h"
#include "store/sql_store.h"
#include "store/store_codec.h"
#include "store/store_rows.h"

namespace cartrecovery {
namespace internal {
namespace {

// Migrations, oldest first; migration i brings the schema from version i to i + 1, and
// version i has the tables and columns of the SQLite store's version i (and, from 12 on,
// PostgreSQL's own key_locks).
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
      // 10: the incentive budget counted as decisions are recorded (incentive_budget.cpp): per
      // abandonment its latest decision and latest priority decision, per day the
      // abandonments whose latest (priority) decision fell that day and the incentives given.
      // A popup's decision with 100,000s in the window cost a scan of them all. Backfilled.
      R"sql(
      CREATE TABLE incentive_abandonments(
        abandonment TEXT PRIMARY KEY, last_ms BIGINT NOT NULL, valuable_ms BIGINT);
      CREATE INDEX incentive_abandonments_last ON incentive_abandonments(last_ms);
      CREATE INDEX incentive_abandonments_valuable ON incentive_abandonments(valuable_ms);
      CREATE TABLE incentive_days(
        day_ms BIGINT PRIMARY KEY, abandoners BIGINT NOT NULL, valuable BIGINT NOT NULL,
        incentives BIGINT NOT NULL, valuable_incentives BIGINT NOT NULL);
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
      // 11: the rendered bodies in a cold table, written once, pointed at by a number handed
      // out in order (sqlite_store.cpp says why).
      R"sql(
      CREATE TABLE message_bodies(
        body_id BIGSERIAL PRIMARY KEY, subject TEXT NOT NULL, text TEXT NOT NULL,
        html TEXT NOT NULL, written_ms BIGINT NOT NULL);
      ALTER TABLE messages ADD COLUMN body_id BIGINT;
      UPDATE messages SET body_id = seq WHERE subject <> '' OR text <> '' OR html <> '';
      INSERT INTO message_bodies(body_id, subject, text, html, written_ms)
        SELECT body_id, coalesce(subject, ''), coalesce(text, ''), coalesce(html, ''), created_ms
        FROM messages WHERE body_id IS NOT NULL;
      SELECT setval(pg_get_serial_sequence('message_bodies', 'body_id'),
                    coalesce((SELECT max(body_id) FROM message_bodies), 0) + 1, false);
      CREATE INDEX message_bodies_written ON message_bodies(written_ms);
      DROP INDEX messages_bodies;
      ALTER TABLE messages DROP COLUMN subject, DROP COLUMN text, DROP COLUMN html;
      )sql",
      // 12: indexes that a reminder's status moves do not rewrite (sqlite_store.cpp says
      // why). Here an update that changes no indexed column can also stay on its page (HOT)
      // and write no index entry at all, if the page has room for the new version: the rows
      // every reminder updates (its message "sent", its journey's step, its contact's last
      // message) leave room on new pages.
      R"sql(
      ALTER TABLE messages SET (fillfactor = 85);
      ALTER TABLE journeys SET (fillfactor = 80);
      ALTER TABLE contacts SET (fillfactor = 85);
      DROP INDEX jobs_due;
      CREATE INDEX jobs_due ON jobs(due_ms, job_id) WHERE state = 'pending';
      DROP INDEX jobs_lease;
      CREATE INDEX jobs_lease ON jobs(lease_until_ms, job_id) WHERE state = 'claimed';
      DROP INDEX messages_contact;
      CREATE INDEX messages_contact ON messages(contact_key);
      )sql",
      // 13: a row per locked key (PgDb::LockKeys), so that writers lock rows instead of
      // filling the server's shared lock table with an advisory lock per key. The rows hold
      // nothing but their key's hash: UNLOGGED, so that taking one writes no WAL (a crash
      // empties the table, and a lost row is inserted again by its next writer). Emptied by
      // retention (AfterPrune). The SQLite store has no such table (its migration 13 adds
      // nothing): its writers take turns on the file.
      R"sql(
      CREATE UNLOGGED TABLE key_locks(k BIGINT PRIMARY KEY);
      )sql",
      // 14: a journey's step can be HOT. journeys_finished held updated_ms, which every step
      // moves, so every step wrote a new entry in each of the journey's other three indexes.
      // Retention now finds ended journeys by finished_ms, set when the journey ends (its
      // updated_ms then) and NULL while it runs: a step changes no indexed column. A batch
      // records the steps of journeys that started together, so of neighbours on a page, in
      // one transaction: each needs room for its new version on the page (the old ones are
      // freed after the commit). With 80% filled a quarter of the steps were HOT, with half
      // all of them (docs/POSTGRES.md). New pages only; VACUUM FULL rewrites the old ones.
      R"sql(
      ALTER TABLE journeys ADD COLUMN finished_ms BIGINT;
      ALTER TABLE journeys SET (fillfactor = 50);
      UPDATE journeys SET finished_ms = updated_ms WHERE state <> 'running';
      DROP INDEX journeys_finished;
      CREATE INDEX journeys_finished ON journeys(finished_ms) WHERE finished_ms IS NOT NULL;
      )sql",
      // 15: message bodies compressed with lz4 instead of pglz where the server has it
      // (PostgreSQL 14 and later, built with lz4: then default_toast_compression offers it).
      // A reminder's ~3 KB HTML is compressed as it is written; pglz_compress was ~9% of the
      // backend's CPU per reminder (docs/POSTGRES.md). Rows written before keep pglz (both
      // read back alike). A server without lz4 keeps pglz: the store opens all the same.
      // EXECUTE: an older server's parser does not know SET COMPRESSION.
      R"sql(
      DO $$
      BEGIN
        IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression'
                   AND 'lz4' = ANY(enumvals)) THEN
          EXECUTE 'ALTER TABLE message_bodies ALTER COLUMN text SET COMPRESSION lz4,'
                  ' ALTER COLUMN html SET COMPRESSION lz4';
        END IF;
      END $$;
      )sql",
      // 16: SQLite's store packs bodies against their template's text (body_codec.h) and
      // reads them through unpack_body(value, dict_id). Here the server compresses them
      // itself (15): bodies are written as they are, with no dict_id, and unpack_body gives
      // them back as they are (a SQL function the planner inlines), so that the statements
      // reading message_bodies are the same in both stores. body_dictionaries stays empty.
      R"sql(
      CREATE TABLE body_dictionaries(
        dict_id BIGSERIAL PRIMARY KEY,
        digest TEXT NOT NULL UNIQUE,
        bytes BYTEA NOT NULL,
        written_ms BIGINT NOT NULL);
      ALTER TABLE message_bodies ADD COLUMN dict_id BIGINT;
      CREATE FUNCTION unpack_body(body TEXT, dict_id BIGINT) RETURNS TEXT
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS 'SELECT body';
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
    " 'cart_event_counts', 'lead_days', 'lead_totals', 'incentive_abandonments', 'incentive_days',"
    " 'message_bodies', 'key_locks', 'body_dictionaries'";

// "unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS v(a, b, n)": the rows bound as one
// array per column (PgDb::WriteRowsTogether), as a table v in the order they were queued.
std::string UnnestRows(const std::vector<std::pair<const char*, const char*>>& columns) {
  std::string arrays, names;
  for (size_t i = 0; i < columns.size(); ++i) {
    arrays += (i ? ", $" : "$") + std::to_string(i + 1) + "::" + columns[i].second + "[]";
    names += std::string(i ? ", " : "") + columns[i].first;
  }
  return "unnest(" + arrays + ") WITH ORDINALITY AS v(" + names + ", n)";
}

// The message and its body in one statement (InsertMessage): ?1..?17 the message's row,
// ?18 1 when it has a body, ?19..?21 its subject, text and HTML.
const char kInsertMessageSql[] =
    "WITH m AS (INSERT INTO messages(message_id, journey_id, cart_id, contact_key, flow, path, step,"
    "   branch, channel, status, reason, to_addr, due_ms, sent_ms, attempts, created_ms, variant, body_id)"
    "   VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,"
    "     CASE WHEN ?18 = 1 THEN nextval(pg_get_serial_sequence('message_bodies', 'body_id')) END)"
    "   ON CONFLICT DO NOTHING RETURNING body_id),"
    " b AS (INSERT INTO message_bodies(body_id, subject, text, html, written_ms)"
    "   SELECT body_id, ?19, ?20, ?21, ?16 FROM m WHERE body_id IS NOT NULL)"
    " SELECT count(*) FROM m";

// A plan's "sending" marks (InsertMessageAsync) as one statement: the messages inserted in
// the order queued, each taking a body number when it has a body and is new (a message
// already there keeps its own and gets no body row, as with ON CONFLICT DO NOTHING one by
// one), the bodies joined to the messages that took one.
std::string InsertMessagesTogetherSql() {
  const std::string v =
      UnnestRows({{"message_id", "text"}, {"journey_id", "text"}, {"cart_id", "text"}, {"contact_key", "text"},
                  {"flow", "text"}, {"path", "text"}, {"step", "bigint"}, {"branch", "text"},
                  {"channel", "text"}, {"status", "text"}, {"reason", "text"}, {"to_addr", "text"},
                  {"due_ms", "bigint"}, {"sent_ms", "bigint"}, {"attempts", "bigint"}, {"created_ms", "bigint"},
                  {"variant", "text"}, {"has_body", "bigint"}, {"subject", "text"}, {"text", "text"},
                  {"html", "text"}});
  return "WITH v AS (SELECT * FROM " + v +
         "),"
         " m AS (INSERT INTO messages(message_id, journey_id, cart_id, contact_key, flow, path, step,"
         "   branch, channel, status, reason, to_addr, due_ms, sent_ms, attempts, created_ms, variant, body_id)"
         "   SELECT message_id, journey_id, cart_id, contact_key, flow, path, step, branch, channel, status,"
         "     reason, to_addr, due_ms, sent_ms, attempts, created_ms, variant,"
         "     CASE WHEN has_body = 1 THEN nextval(pg_get_serial_sequence('message_bodies', 'body_id')) END"
         "   FROM v ORDER BY n"
         "   ON CONFLICT DO NOTHING RETURNING message_id, body_id),"
         " b AS (INSERT INTO message_bodies(body_id, subject, text, html, written_ms)"
         "   SELECT m.body_id, v.subject, v.text, v.html, v.created_ms FROM m JOIN v USING (message_id)"
         "   WHERE m.body_id IS NOT NULL ORDER BY v.n)"
         " SELECT count(*) FROM m";
}

// A reminder's five writes (the plan's "sending" mark and body; the record's outcome, its
// contact's last message, its journey, its job) go per kind as one statement over arrays:
// the backend spends on each statement (bind, plan, executor start and end, locks) about
// what it spends on its row, so a batch's 5 x N statements cost more than 5 carrying N rows
// (docs/POSTGRES.md). Each writes, row by row, what the single-row statement writes, with
// the same WHERE: the attempt fences of the jobs stay as they were.
void WriteStepRowsTogether(PgDb& db) {
  db.WriteRowsTogether(
      kRecordOutcomeSql,
      {"UPDATE messages m SET status = v.status, reason = v.reason, due_ms = v.due_ms, sent_ms = v.sent_ms,"
       " attempts = v.attempts FROM " +
           UnnestRows({{"status", "text"}, {"reason", "text"}, {"due_ms", "bigint"}, {"sent_ms", "bigint"},
                       {"attempts", "bigint"}, {"message_id", "text"}}) +
           " WHERE m.message_id = v.message_id",
       "messages",
       {6}});
  db.WriteRowsTogether(kTouchContactSql,
                       {"UPDATE contacts c SET last_message_ms = v.at FROM " +
                            UnnestRows({{"at", "bigint"}, {"contact_key", "text"}}) +
                            " WHERE c.contact_key = v.contact_key",
                        "contacts",
                        {2}});
  // Finish and retry are of one table and key (the job): a job both finished and retried in
  // one transaction has its two writes in two statements, in order (HoldRow).
  db.WriteRowsTogether(kFinishJobSql,
                       {"DELETE FROM jobs j USING " + UnnestRows({{"job_id", "bigint"}, {"attempt", "bigint"}}) +
                            " WHERE j.job_id = v.job_id AND j.attempt = v.attempt AND j.state = 'claimed'",
                        "jobs",
                        {1}});
  db.WriteRowsTogether(kRetryJobSql,
                       {"UPDATE jobs j SET state = 'pending', due_ms = v.due_ms, lease_until_ms = 0 FROM " +
                            UnnestRows({{"due_ms", "bigint"}, {"job_id", "bigint"}, {"attempt", "bigint"}}) +
                            " WHERE j.job_id = v.job_id AND j.attempt = v.attempt AND j.state = 'claimed'",
                        "jobs",
                        {2}});
  // The journey upsert: a new journey takes its seq in the order it was queued (ORDER BY n),
  // as one statement per row did; an existing one keeps its row (and stays HOT).
  const std::vector<std::string> names = ColumnNames(kJourneyColumns);
  std::vector<std::pair<const char*, const char*>> columns;
  for (const auto& name : names) {
    const bool number = name == "next_step" || (name.size() > 3 && name.compare(name.size() - 3, 3, "_ms") == 0);
    columns.emplace_back(name.c_str(), number ? "bigint" : "text");
  }
  std::string upsert = std::string("INSERT INTO journeys(") + kJourneyColumns + ") SELECT ";
  for (size_t i = 0; i < names.size(); ++i) upsert += (i ? ", v." : "v.") + names[i];
  upsert += " FROM " + UnnestRows(columns) + " ORDER BY v.n ON CONFLICT(journey_id) DO UPDATE SET ";
  for (size_t i = 1; i < names.size(); ++i) upsert += (i > 1 ? ", " : "") + names[i] + " = excluded." + names[i];
  db.WriteRowsTogether(WriteJourneySql(), {upsert, "journeys", {1}});
  db.WriteRowsTogether(kInsertMessageSql, {InsertMessagesTogetherSql(), "messages", {1}});
}

class PostgresStore final : public SqlStore<PgDb> {
 public:
  explicit PostgresStore(const std::string& url) : SqlStore(url) {
    WriteStepRowsTogether(db_);
    Initialize();
  }

  void Write(const std::function<void()>& fn) override { Transact(fn, true); }

  // Store::WriteUnsynced on PostgreSQL: the commit is in the server when this returns, so
  // it outlives this process; a crash of the server itself may lose it until the next
  // synchronous commit of anyone, which flushes the log up to itself (the log is in order).
  void WriteUnsynced(const std::function<void()>& fn) override { Transact(fn, false); }

  void WriteRepeatable(const std::function<void()>& fn) override {
    if (depth_ > 0) return Write(fn);  // a savepoint: the outermost transaction repeats
    for (int attempt = 1;; ++attempt) {
      try {
        Write(fn);
        return;
      } catch (const Error&) {
        // PostgreSQL broke a lock cycle by failing this transaction; another run usually
        // finds the other one committed.
        if (attempt >= kConflictAttempts || !db_.LastFailureWasConflict()) throw;
      }
    }
  }

 private:
  // Write() and WriteUnsynced(): `synchronous` is the outermost transaction's; a nested one
  // is a savepoint of it and commits with it.
  void Transact(const std::function<void()>& fn, bool synchronous) {
    if (depth_ > 0) {
      // Nested: a savepoint inside the enclosing transaction, so the inner part is undone
      // alone when it throws (a failed statement included) and the outer one may go on.
      FlushEvents();  // what the buffer holds from here on is the savepoint's
      db_.Exec("SAVEPOINT nested");
      ++depth_;
      const bool queued_writes = db_.queued_writes_allowed();
      db_.AllowQueuedWrites(false);  // one statement at a time: a failure throws in place
      try {
        fn();
        db_.AllowQueuedWrites(queued_writes);
      } catch (...) {
        --depth_;
        db_.AllowQueuedWrites(queued_writes);
        db_.DiscardPipeline();
        // A lock cycle broken inside the savepoint: the caller may go on, but the work it
        // gave up would be lost (a reminder left "sending" is sent again), so the whole
        // transaction is failed at its end and WriteRepeatable runs it again.
        if (db_.LastFailureWasConflict()) conflicted_ = true;
        db_.Exec("ROLLBACK TO SAVEPOINT nested; RELEASE SAVEPOINT nested");
        db_.ForgetKeyLocks();  // those taken inside the savepoint went with it
        events_.clear();
        throw;
      }
      --depth_;
      db_.Exec("RELEASE SAVEPOINT nested");
      return;
    }
    db_.Begin(synchronous);
    conflicted_ = false;
    events_.clear();
    ++depth_;
    // Row writes go in pipeline mode (PgStmt::Queue): a batch's writes cost one round trip.
    db_.AllowQueuedWrites(true);
    try {
      fn();
      db_.AllowQueuedWrites(false);
      FlushEvents();
      if (conflicted_)
        throw Error(ErrorCode::kStorage, "store '" + db_.url().shown +
                                             "': a part of the transaction lost a lock conflict "
                                             "with another one (deadlock); rolled back");
      --depth_;
      db_.Commit();
      ++commits_;
    } catch (...) {
      if (depth_ > 0) --depth_;
      db_.AllowQueuedWrites(false);
      events_.clear();
      db_.Rollback();
      throw;
    }
  }

 public:
  // The writer thread appends a row per event: inside a transaction the rows go in as one
  // multi-row statement (at its end, before a savepoint, or per kEventChunk), in order.
  void AppendEvent(const Event& e, const std::string& json) override {
    if (depth_ == 0) return SqlStore::AppendEvent(e, json);
    events_.push_back({EventTypeName(e.type), e.at_ms, e.cart_id, e.visitor_id, json});
    if (events_.size() >= kEventChunk) FlushEvents();
  }
  // Readers of the event log see what this transaction appended.
  std::vector<StoredEvent> ListEvents(Millis since, Millis until, int64_t after_id, int limit) override {
    FlushEvents();
    return SqlStore::ListEvents(since, until, after_id, limit);
  }
  LeadCounts Leads(Millis since, Millis until) override {
    FlushEvents();
    return SqlStore::Leads(since, until);
  }
  PruneCounts Prune(Millis now, const RetentionWindows& w, Millis attribution_ms) override {
    FlushEvents();
    return SqlStore::Prune(now, w, attribution_ms);
  }
  std::vector<std::pair<std::string, std::string>> PersonRows(const PersonKeys& who) override {
    FlushEvents();
    return SqlStore::PersonRows(who);
  }
  std::map<std::string, int64_t> ErasePerson(const PersonKeys& who, const std::string& anonymous) override {
    FlushEvents();
    return SqlStore::ErasePerson(who, anonymous);
  }

  void AwaitWrites() override {
    FlushEvents();
    db_.Sync();
  }

  // ---- Locking by key (the comment at the top) -------------------------------------------
  void LockKeys(const std::vector<std::string>& keys) override { db_.LockKeys(keys); }
  bool LockStoreIfFree() override { return db_.TryLockStore(); }

  void LockJourneys(const std::vector<std::string>& ids, const std::vector<JourneyOwner>& seen) override {
    // Keyed, when this is the transaction's first use; the owners the caller saw go with
    // its BEGIN, in the same round trip.
    std::vector<std::string> guess;
    for (const auto& o : seen) {
      guess.push_back(o.contact_key);
      guess.push_back("cart:" + o.cart_id);
    }
    db_.LockKeys(guess);
    // Read the keys, lock them, read again until nothing new turns up: whoever moves a
    // journey to another contact or cart holds the key it has, so keys read under their
    // locks are stable. Usually two reads and one lock statement for the batch; one read
    // when the guess was right.
    for (int i = 0; i < 5; ++i) {
      auto s = db_.Prepare("SELECT contact_key, cart_id FROM journeys WHERE journey_id = ANY(?1::text[])");
      s.BindIds(1, ids);
      std::vector<std::string> keys;
      while (s.Step()) {
        keys.push_back(s.Text(0));
        keys.push_back("cart:" + s.Text(1));
      }
      if (!db_.LockKeys(keys)) return;
    }
  }

  std::vector<std::string> CartLockKeys(const std::vector<std::string>& ids) override {
    auto s = db_.Prepare("SELECT contact_key FROM carts WHERE cart_id = ANY(?1::text[])");
    s.BindIds(1, ids);
    std::vector<std::string> keys;
    for (const auto& id : ids) keys.push_back("cart:" + id);
    while (s.Step())
      if (!s.Text(0).empty()) keys.push_back(s.Text(0));
    return keys;
  }

  // The shared loads and saves of a shopper's rows, each behind its key in a keyed
  // transaction (outside one, and under the store-wide lock, Lock does nothing).
  std::optional<Cart> LoadCart(const std::string& cart_id) override {
    Lock({"cart:" + cart_id});
    return SqlStore::LoadCart(cart_id);
  }
  void SaveCart(const Cart& c) override {
    Lock({"cart:" + c.cart_id, c.contact_key});
    SqlStore::SaveCart(c);
  }
  std::optional<Contact> LoadContact(const std::string& key) override {
    Lock({key});
    return SqlStore::LoadContact(key);
  }
  void SaveContact(const Contact& c) override {
    Lock({c.key});
    SqlStore::SaveContact(c);
  }
  std::vector<std::string> ContactsWithPhone(const std::string& phone, const std::string& except_key) override {
    Lock({"phone:" + phone});  // R3.4: one owner per number, also between two writers
    return SqlStore::ContactsWithPhone(phone, except_key);
  }
  std::string ContactKeyForVisitor(const std::string& visitor_id) override {
    Lock({"visitor:" + visitor_id});
    return SqlStore::ContactKeyForVisitor(visitor_id);
  }
  void LinkVisitor(const std::string& visitor_id, const std::string& key) override {
    Lock({"visitor:" + visitor_id});
    SqlStore::LinkVisitor(visitor_id, key);
  }
  std::optional<JourneyRecord> LoadJourney(const std::string& id) override {
    return ReadLocked<JourneyRecord>([&] { return SqlStore::LoadJourney(id); },
                                     [](const JourneyRecord& j) { return j.contact_key; });
  }
  std::optional<JourneyRecord> RunningJourneyOfContact(const std::string& key) override {
    Lock({key});
    return SqlStore::RunningJourneyOfContact(key);
  }
  std::optional<JourneyRecord> LatestJourneyOfCart(const std::string& cart_id) override {
    Lock({"cart:" + cart_id});
    return ReadLocked<JourneyRecord>([&] { return SqlStore::LatestJourneyOfCart(cart_id); },
                                     [](const JourneyRecord& j) { return j.contact_key; });
  }
  void SaveJourney(const JourneyRecord& j) override {
    Lock({j.contact_key, "cart:" + j.cart_id});
    WriteJourney(j);  // one queued statement; an unchanged indexed column keeps the update HOT
  }
  std::optional<MessageRecord> LoadMessage(const std::string& id) override {
    return ReadLocked<MessageRecord>([&] { return SqlStore::LoadMessage(id); },
                                     [](const MessageRecord& m) { return m.contact_key; });
  }
  // The message and its body in one statement, so that a plan's "sending" marks can go in
  // the pipeline (InsertMessageAsync) instead of waiting twice each for the body's number.
  bool InsertMessage(const MessageRecord& m) override {
    auto s = PrepareInsertMessage(m);
    return s.Step() && s.Int(0) == 1;
  }
  void InsertMessageAsync(const MessageRecord& m) override { PrepareInsertMessage(m).Queue(); }
  IncentiveHistory IncentiveCounts(Millis since, const std::string& abandonment) override {
    // S8: counting the budget and recording a decision in it is one writer at a time, or
    // two hosts could each hand out the last incentive under the cap.
    Lock({"incentive_budget"});
    return SqlStore::IncentiveCounts(since, abandonment);
  }

  // Other sessions' commits cannot be seen without a round trip: this connection's count,
  // plus the number of 20 ms ticks of real time, so that a reader keyed on the mark (the
  // last look before a send, S4) sees another host's order at most that late.
  uint64_t CommitMark() override {
    constexpr std::chrono::milliseconds kTick(20);
    auto ticks = std::chrono::steady_clock::now().time_since_epoch() / kTick;
    return (static_cast<uint64_t>(ticks) << 24) + commits_;
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
    return ReadClaimedJobs(s);
  }

  int RenewClaims(const std::vector<std::pair<int64_t, int>>& claims, Millis lease_until) override {
    // One statement for the batch (500 claims), not a round trip per claim.
    std::vector<int64_t> ids, attempts;
    for (const auto& [job_id, attempt] : claims) {
      ids.push_back(job_id);
      attempts.push_back(attempt);
    }
    db_.Prepare("UPDATE jobs SET lease_until_ms = $1 FROM unnest($2::bigint[], $3::bigint[]) AS c(id, attempt)"
                " WHERE jobs.job_id = c.id AND jobs.attempt = c.attempt AND jobs.state = 'claimed'")
        .Bind(1, lease_until)
        .BindLiteral(2, PgArray(ids))
        .BindLiteral(3, PgArray(attempts))
        .Run();
    return static_cast<int>(db_.ChangedRows());
  }

  // The cap's counters (store.h): rows first (two writers adding the same cart's row wait
  // for each other), then locked in id order, so that writers of overlapping carts queue
  // instead of deadlocking.
  std::map<std::string, CartEventCount> LockCartEventCounts(
      const std::vector<std::string>& cart_ids) override {
    const CartEventCount none;
    db_.Prepare(
           "INSERT INTO cart_event_counts(cart_id, window_start_ms, events, refused)"
           " SELECT id, ?2, 0, 0 FROM unnest(?1::text[]) AS id ORDER BY id"
           " ON CONFLICT(cart_id) DO NOTHING")
        .BindIds(1, cart_ids)
        .Bind(2, none.window_start_ms)
        .Run();
    std::map<std::string, CartEventCount> out;
    auto s = db_.Prepare(
        "SELECT cart_id, window_start_ms, events, refused FROM cart_event_counts"
        " WHERE cart_id = ANY(?1::text[]) ORDER BY cart_id FOR UPDATE");
    s.BindIds(1, cart_ids);
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
           " FROM unnest(?1::text[], ?2::bigint[], ?3::bigint[], ?4::bigint[]) AS v(id, s, e, r)"
           " WHERE t.cart_id = v.id")
        .BindIds(1, ids)
        .BindLiteral(2, PgArray(starts))
        .BindLiteral(3, PgArray(events))
        .BindLiteral(4, PgArray(refused))
        .Run();
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

  StoreStatus Status(Millis now) override {
    StoreStatus st = SqlStore::Status(now);
    st.schema_version = PostgresSchemaVersion();
    return st;
  }
  void Compact() override;

 private:
  void Initialize();
  // The schema's version: -1 without a schema_version table. Refuses a schema_version that
  // is not ours.
  int64_t SchemaVersion();
  [[noreturn]] void RefuseNewer(int64_t version);

  // An upsert on the key, every other column from the new row; a cart's seq renewed, as
  // SQLite's INSERT OR REPLACE gives the row a new rowid. Carts are the one table with a seq
  // that is replaced (contacts, visitors and coupon pools have none; messages, coupons and
  // journeys are inserted and updated, keeping their place).
  std::string ReplaceRow(const char* table, const char* columns) const override {
    std::string sql = UpsertRow(table, columns);
    if (std::string(table) == "carts") sql += ", seq = excluded.seq";
    return sql;
  }
  std::string Then(const char* seq_order) const override { return std::string(", ") + seq_order; }
  std::string ByteOrder(const std::string& expr) const override { return expr + " COLLATE \"C\""; }
  std::string IdSet(int param, const char* sql_type) const override {
    return "SELECT unnest(?" + std::to_string(param) + "::" + sql_type + "[])";
  }
  // Integer division, as SQLite's strftime(..., ms / 1000, 'unixepoch') does it.
  std::string DayOf(const std::string& ms) const override {
    return "to_char(to_timestamp(" + ms + " / 1000) AT TIME ZONE 'UTC', 'YYYY-MM-DD')";
  }
  std::string JsonField(const std::string& json, const char* field) const override {
    return "(" + json + "::jsonb ->> '" + field + "')";
  }
  std::string JsonObject(const std::string& members) const override {
    return "json_build_object(" + members + ")::text";
  }
  std::string Contains(const std::string& haystack, const std::string& needle) const override {
    return "strpos(" + haystack + ", " + needle + ") > 0";
  }
  std::string RowJson(const char* table, const std::string& extra) override {
    if (extra.empty()) return std::string("row_to_json(") + table + ")::text";
    return std::string("(to_jsonb(") + table + ") || jsonb_build_object(" + extra + "))::text";
  }
  std::string WrittenOrder() const override { return ""; }
  // A retention round holds the store-wide lock exclusively, so no keyed writer holds a key
  // row meanwhile (each holds that lock shared): the rows go at once (there would be one
  // per key ever locked), and those still in use come back as their next writer locks
  // them. NOWAIT: a reader of the table (pg_dump) keeps it until a later round instead of
  // holding every writer up behind the round.
  void AfterPrune(const RetentionWindows& w) override {
    (void)w;
    if (!db_.holds_store()) return;
    try {
      Write([&] { db_.Exec("LOCK TABLE key_locks IN ACCESS EXCLUSIVE MODE NOWAIT; TRUNCATE key_locks"); });
    } catch (const Error&) {
      if (!db_.LastFailureWasBusy()) throw;  // undone alone with its savepoint: the rows wait
    }
  }

  // The message row takes the body's number from message_bodies' sequence, and the body is
  // written only when the row was: a message id that exists (exactly one per step and
  // channel, ON CONFLICT) writes nothing at all, so no body is left without its message,
  // even when two transactions insert the same id at once (the second waits for the first
  // and then does nothing). A number drawn for a conflicting row is skipped, not reused.
  // The sibling statements of a WITH see one snapshot: the body could not be deleted after
  // the fact in the same statement, hence this order. Answers 1 when the row was written.
  PgStmt PrepareInsertMessage(const MessageRecord& m) {
    auto s = db_.Prepare(kInsertMessageSql);
    BindNewMessageRow(s, m)
        .Bind(18, HasBody(m) ? 1 : 0)
        .Bind(19, m.subject)
        .Bind(20, m.text)
        .Bind(21, m.html);
    return s;
  }

  // Keyed transactions: locks these keys (empty ones skipped) before their rows are used.
  bool Lock(std::initializer_list<std::string> keys) { return db_.keyed() && db_.LockKeys(keys); }
  // A row whose key is in the row itself: read, lock its key, and read again when that
  // lock was new (the row may have changed while we waited). Whoever moves a row to
  // another key holds its current one, so the key read under its lock is stable.
  template <typename Row, typename ReadFn, typename KeyFn>
  std::optional<Row> ReadLocked(const ReadFn& read, const KeyFn& key_of) {
    std::optional<Row> row = read();
    for (int i = 0; row && i < 4 && Lock({key_of(*row)}); ++i) row = read();
    return row;
  }

  static constexpr int kConflictAttempts = 4;

  struct PendingEvent {
    std::string type;
    int64_t at_ms;
    std::string cart_id, visitor_id, payload;
  };
  void FlushEvents() {
    if (events_.empty()) return;
    std::vector<std::string> types, carts, visitors, payloads;
    std::vector<int64_t> at;
    for (const auto& e : events_) {
      types.push_back(e.type);
      at.push_back(e.at_ms);
      carts.push_back(e.cart_id);
      visitors.push_back(e.visitor_id);
      payloads.push_back(e.payload);
    }
    events_.clear();
    // ORDER BY n: ids follow the order the events were applied in, as one by one.
    db_.Prepare(
           "INSERT INTO events(type, at_ms, cart_id, visitor_id, payload) SELECT t, a, c, v, p FROM"
           " unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY"
           " AS e(t, a, c, v, p, n) ORDER BY n")
        .BindLiteral(1, PgArray(types))
        .BindLiteral(2, PgArray(at))
        .BindLiteral(3, PgArray(carts))
        .BindLiteral(4, PgArray(visitors))
        .BindLiteral(5, PgArray(payloads))
        .Run();
  }
  static constexpr size_t kEventChunk = 1000;
  std::vector<PendingEvent> events_;  // appended in this transaction, not yet inserted

  int depth_ = 0;  // Write() nesting
  bool conflicted_ = false;  // a savepoint of this transaction failed on a lock conflict
  uint64_t commits_ = 0;  // transactions committed through this connection (CommitMark)
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

void PostgresStore::Compact() {
  // Dead row versions of the erased rows go from the tables' pages.
  db_.Exec("VACUUM contacts, visitors, carts, journeys, messages, message_bodies, orders, offers, assignments,"
           " coupons, consent_log, events, lead_days, incentive_abandonments");
}

}  // namespace

int PostgresSchemaVersion() { return static_cast<int>(Migrations().size()); }

const char* PostgresMigration(int i) { return Migrations().at(static_cast<size_t>(i)); }

std::unique_ptr<Store> OpenPostgresStore(const std::string& url) {
  return std::make_unique<PostgresStore>(url);
}

}  // namespace internal
}  // namespace cartrecovery
