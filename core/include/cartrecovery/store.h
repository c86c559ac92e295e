// store.h: where the engine keeps carts, contacts, journeys, jobs, messages and orders.
//
// The Store is the only place that speaks SQL. It offers domain operations; the engine
// composes them inside transactions:
//   - Write(fn) runs fn in one write transaction (SQLite: BEGIN IMMEDIATE; commit on return,
//     rollback on throw). Transactions serialize writers across processes, so a
//     read-modify-write inside one is safe with several web workers on one file.
//     A Write() inside a Write() is a savepoint: if the inner fn throws, only its changes are
//     undone and the exception goes on to the caller, who may continue the outer one.
//   - Every other method must be called from inside Write(), or, for the read-only ones
//     marked "read", inside or outside it.
//   - Locking on PostgreSQL, where writers on many hosts run at once: a Write() whose first
//     call is LockKeys() serialises only with transactions that lock one of the same keys
//     (a contact key, "cart:<id>"); inside it the loads of carts, contacts, journeys and
//     messages lock their row's keys as they read them, so a read-modify-write stays safe.
//     Any other Write() takes the store-wide lock and runs alone, as on SQLite.
// Errors: Error(kStorage) for I/O, lock timeouts, a file that is not ours or comes from a
// newer version. A failed Write leaves nothing of fn behind.
//
// Thread-safety: one Store is used by one thread at a time; the engine holds a mutex.
// Fork: a Store opened before fork() must not be used after it in the child; the engine
// opens a new one there (and never closes the inherited handle, whose POSIX locks belong to
// the parent).
//
// Job lifecycle (the jobs table), with the operation that performs each transition:
//
//     ScheduleJob            ClaimDueJobs (due_ms <= now)        FinishJob(attempt)
//   ─────────────▶ pending ─────────────────────────▶ claimed ───────────────────▶ done
//                    ▲  ▲        lease expired: claimable again  │
//                    │  └────────────────────────────────────────┘
//                    └─ ScheduleJob / RetryJob(attempt) (new due time; a newer claim wins)
//   CancelJobs: pending|claimed ▶ done.
//   A claim bumps `attempt`; FinishJob, RetryJob and RenewClaims only act when the attempt
//   still matches (a fencing token), so a worker that lost its lease cannot overwrite a
//   newer claim. RenewClaims: claimed ▶ claimed with a later lease, while a worker is busy.
//   done is no row: FinishJob and CancelJobs delete it, and ScheduleJob makes a new one.
//   JobState names these states and CanMove(JobState, JobState) holds the arrows; the
//   statements' own conditions (state, attempt) enforce them.
// Journeys move as journey_state.h draws them, messages as message_status.h does.
#ifndef CARTRECOVERY_STORE_H_
#define CARTRECOVERY_STORE_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cartrecovery/clock.h"
#include "cartrecovery/events.h"
#include "cartrecovery/flow.h"
#include "cartrecovery/journey_state.h"
#include "cartrecovery/message_status.h"
#include "cartrecovery/model.h"
#include "cartrecovery/offer.h"

namespace cartrecovery {

struct JourneyRecord {
  std::string journey_id;
  std::string contact_key;
  std::string cart_id;
  std::string flow;
  std::string path;
  JourneyState state = JourneyState::kRunning;
  std::string end_reason;         // ordered, unsubscribed, emptied, frequency_cap, ...
  int next_step = 0;              // 0-based; == steps.size() when all sent
  Millis next_due_ms = 0;
  std::optional<Engagement> next_branch;
  Millis started_ms = 0;
  Millis prev_sent_ms = 0;
  Engagement prev_engagement = Engagement::kUnopened;
  std::optional<Engagement> prev_branch;
  Millis updated_ms = 0;
};

// Whose a journey was when last read: its contact and cart (LockJourneys' first guess).
struct JourneyOwner {
  std::string contact_key;
  std::string cart_id;
};

struct JobRecord {
  int64_t job_id = 0;
  std::string kind;     // "abandon" (subject: cart id), "step" (subject: journey id)
  std::string subject;
  Millis due_ms = 0;
  int attempt = 0;      // the fencing token of the current claim
};

// A job's state, as drawn at the top of this file (jobs.state holds the name; kDone has no
// row).
enum class JobState { kPending, kClaimed, kDone };
constexpr JobState kJobStates[] = {JobState::kPending, JobState::kClaimed, JobState::kDone};
const char* JobStateName(JobState s);  // "pending", "claimed", "done"
std::optional<JobState> ParseJobState(const std::string& s);
bool CanMove(JobState from, JobState to);

struct MessageRecord {
  std::string message_id;
  std::string journey_id;
  std::string cart_id;
  std::string contact_key;
  std::string flow;
  std::string path;
  int step = 1;  // 1-based
  std::optional<Engagement> branch;
  std::string channel;
  MessageStatus status = MessageStatus::kSending;
  std::string reason;
  std::string to;
  std::string subject;
  std::string text;
  std::string html;
  Millis due_ms = 0;
  Millis sent_ms = 0;
  Millis opened_ms = 0;
  Millis clicked_ms = 0;
  int attempts = 0;
  Millis created_ms = 0;
  std::string variant;        // the step experiment's variant ("holdout" too); "" without one
  Millis unsubscribed_ms = 0;  // the contact unsubscribed after this message (last touch)
  // Written, never read back: what the store may pack text and html against (the template's
  // text, RenderedMessage::body_dictionary), kept once per template. Null: stored as it is.
  std::shared_ptr<const std::string> body_dictionary;
};

struct OrderRecord {
  std::string order_id;
  std::string cart_id;
  std::string contact_key;
  int64_t value_minor = 0;
  std::string currency;
  std::string coupon;
  Millis at_ms = 0;
  // Last touch: the newest message sent to this contact, or popup shown to them, within the
  // attribution window. A popup is "offer:<offer_id>" with flow "exit_intent", step 0 and
  // the popup kind as channel.
  std::string message_id;
  std::string flow;
  int step = 0;
  std::string channel;
};

struct ReportQuery {
  std::optional<Millis> since;  // inclusive
  std::optional<Millis> until;  // exclusive
  std::vector<std::string> by;  // any of "flow", "step", "channel", "path", "day", "variant"
  // Only messages (and orders whose last touch was a message) with these values; keys as
  // in `by` except "day".
  std::map<std::string, std::string> where;
};

struct ReportRow {
  std::map<std::string, std::string> keys;  // the `by` columns
  int64_t sent = 0, bounced = 0, failed = 0, suppressed = 0, opened = 0, clicked = 0,
          unsubscribed = 0, orders = 0, orders_with_coupon = 0, revenue_minor = 0;
  std::string currency;  // revenue's currency; "MIXED" if several
};

// One cart's counter of the cap on events per cart: the window of event time it is in and
// the events counted there, and the events refused over the cap (ever, while kept).
struct CartEventCount {
  Millis window_start_ms = -(int64_t{1} << 62);  // none yet: the next event opens a window
  int64_t events = 0;
  int64_t refused = 0;
};

struct StoreStatus {
  std::optional<Millis> worker_last_run_ms;  // newest heartbeat of any worker, any process
  std::string worker_last_id;
  int64_t jobs_due = 0;                      // pending jobs with due_ms <= now
  int64_t jobs_pending = 0;
  std::optional<Millis> oldest_due_ms;       // the most overdue job's due time
  std::optional<Millis> next_due_ms;         // the next job in the future
  int64_t events = 0, carts = 0, running_journeys = 0;
  int64_t messages_sent = 0, messages_failed = 0;
  // Events refused over the cap on events per cart (CartEventCount), by every process, over
  // the carts whose counters are still kept (the events' retention window).
  int64_t events_refused = 0;
  int schema_version = 0;
};

// What was sent to one contact (policies: channel caps and the daily ceiling).
struct ContactSends {
  std::map<std::string, Millis> last_by_channel;           // newest send per channel, ever
  std::vector<std::pair<std::string, Millis>> recent;      // (channel, sent_ms) since `since`
};

struct MessageFilter {
  std::string cart_id;
  std::string contact_key;
  std::string journey_id;
  int limit = 1000;  // <= 0: no limit
};

// An exit-intent decision as recorded (the popup is returned again, not re-drawn).
struct OfferRecord {
  int64_t offer_id = 0;
  std::string visitor_id;
  std::string cart_id;
  std::string contact_key;
  bool show = false;
  std::string kind;            // coupon, email_capture, none
  std::string variant;
  std::string reason;
  std::string incentive_rule;  // the R4.4 rule that decided, for audits
  std::string coupon_code;
  Millis decided_ms = 0;
  // Where the incentive was decided: "popup" (exit intent), or "flow" for a reminder step's
  // coupon (visitor_id then holds the step's decision key, see StepIncentive). One budget
  // counts both (S8); popup lookups and reports see only popups.
  std::string source = "popup";
};

// Where carts were left (R1.3): per checkout stage, carts created in the range.
struct FunnelRow {
  std::string stage;
  int64_t carts = 0;      // carts that reached this stage as their furthest
  int64_t abandoned = 0;  // of those, abandoned (abandoned, expired or recovered)
  int64_t recovered = 0;  // of those, ordered after a reminder
};

// Lead temperature (R1.4) of the visitors seen in a range: hot = a cart with items; warm =
// browsed category or product pages without a cart; cold = anything else.
struct LeadCounts {
  int64_t cold = 0, warm = 0, hot = 0;
};

// An event as the log keeps it: its canonical JSON (EventToJson).
struct StoredEvent {
  int64_t id = 0;
  std::string type;
  Millis at_ms = 0;
  std::string json;
};

// A flow paused by staff: nothing of it is sent until it is resumed.
struct FlowPause {
  std::string reason;
  Millis paused_ms = 0;
};

// How long each kind of row is kept (0: for ever), and how much one Prune() call may do.
// Reports stay right: rows that reports read are added to daily aggregates (report_days,
// funnel_days, offer_days) in the transaction that deletes them, and reports add those
// aggregates for the whole days inside their range. Lead temperature keeps each day's
// shoppers (lead_days: who, and what S9 asks of them) once their events go, and past the
// reports window only that day's counts (lead_totals).
struct RetentionWindows {
  Millis events_ms = 90 * kDay;    // the event log (replays, exports, lead temperature)
  Millis bodies_ms = 30 * kDay;    // rendered subject, text and HTML of messages
  Millis carts_ms = 180 * kDay;    // finished journeys, carts without a running one, and
                                   // contacts left with nothing (never unsubscribed/bounced)
  Millis offers_ms = 180 * kDay;   // exit-intent decisions
  Millis reports_ms = 400 * kDay;  // message rows and orders (kept as daily aggregates)
  int batch = 2000;                // rows per kind per Prune() call
  int vacuum_pages = 4096;         // SQLite: free pages handed back to the file system per call
};

// What one Prune() removed, by kind; `more` when some kind filled its batch.
struct PruneCounts {
  int64_t events = 0, bodies = 0, messages = 0, orders = 0, journeys = 0, carts = 0,
          contacts = 0, visitors = 0, offers = 0;
  bool more = false;
};

// One person as the store knows them (engine.forget / engine.export): every contact key
// they were known by (e:<email>, p:<phone>, contacts holding that address or number, and
// the visitor- or cart-only keys they started as), their visitors and carts, and the
// address and number themselves (found inside event payloads).
struct PersonKeys {
  std::vector<std::string> contact_keys;
  std::vector<std::string> visitor_ids;
  std::vector<std::string> cart_ids;
  std::string email, phone;
  bool empty() const { return contact_keys.empty() && visitor_ids.empty() && cart_ids.empty(); }
};

// A connection of its own that copies a store's log of commits into its file (SQLite's
// write-ahead log: a checkpoint), for a thread that is not the one whose commits callers
// wait on (Store::HandOffCheckpoints). One thread at a time; Error(kStorage) on I/O errors.
class LogCopier {
 public:
  virtual ~LogCopier() = default;
  struct Progress {
    int64_t log_pages = 0;     // the log's length
    int64_t copied_pages = 0;  // how much of it is in the file now
    bool gave_up = false;      // stopped waiting for a writer or a reader (Finish)
    bool Complete() const { return !gave_up && copied_pages >= log_pages; }
  };
  // Copies what it can without waiting for any reader or writer (SQLite: PASSIVE). Complete:
  // the file is synced, and the next commit writes the log from its beginning again. Not
  // complete (a commit came in meanwhile, or a reader still reads older pages): the pages
  // copied are not synced yet, the log still holds them. nullopt: another connection (of
  // any process) was copying.
  virtual std::optional<Progress> Copy() = 0;
  // Syncs the file: what Copy() wrote reaches the disk while nobody waits for it, so that
  // the sync of the copy that completes has little left to do.
  virtual void SyncFile() = 0;
  // Copies the rest of the log holding the store's write lock, then waits for the readers
  // of older pages to end (SQLite: RESTART), so that no commit of any process overtakes
  // it and the next commit starts the log again. Waits at most `wait_ms` for another
  // process's transaction or reader; then it has copied what it could, as Copy() does,
  // and gave_up is set. Every writer waits while it waits, copies and syncs.
  virtual std::optional<Progress> Finish(int wait_ms) = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // Takes the copying of the log into the file (SQLite: the WAL's checkpoints) off this
  // connection's commits and gives it to the connection returned. From then on no commit
  // here copies the log (SQLite's automatic checkpoint runs inside the commit that brings
  // the log to 1000 pages, and its sync of the file stalls that commit), and after each
  // commit `committed(log_pages)` is called with the log's length, on the committing thread,
  // outside the write lock: it must be quick and must not use this store. Whoever holds
  // the copier must Copy() or the log grows without bound. nullptr, and nothing changes:
  // the store keeps no such log (PostgreSQL, :memory:). Error(kStorage): the connection
  // could not be opened (nothing changed either).
  virtual std::unique_ptr<LogCopier> HandOffCheckpoints(std::function<void(int64_t log_pages)> committed) {
    (void)committed;
    return nullptr;
  }

  virtual void Write(const std::function<void()>& fn) = 0;
  // Write() for what only spares work when it is kept (a group of delivery outcomes: when
  // lost, the messages are sent again): its commit survives the process being killed but
  // may be lost to a power cut until the next Write() commits (SQLite: no fsync of its own;
  // the next Write()'s fsync covers it. PostgreSQL: its COMMIT does not wait for the
  // server's flush, and a crash of the server may lose it until the next synchronous
  // commit). Not for what a worker that outlives the loss would rely on: a worker on another
  // host survives a PostgreSQL crash, so a claim or a lease renewal stays a Write(). Stores
  // without the distinction just Write().
  virtual void WriteUnsynced(const std::function<void()>& fn) { Write(fn); }
  // Write(), run again (a few times) when PostgreSQL gave it up for a conflict with another
  // transaction (deadlock, serialization failure): fn must keep nothing from a failed run.
  virtual void WriteRepeatable(const std::function<void()>& fn) { Write(fn); }
  // Inside Write(): returns once every write made so far has been answered, so that one
  // that failed throws here, not later. PostgreSQL sends row writes without waiting for
  // each answer (pipeline mode) and would otherwise report a failure at the next statement
  // that waits, or at the commit. SQLite: nothing to wait for.
  virtual void AwaitWrites() {}
  // Inside Write(): this transaction touches the rows of `keys` (contact keys, "cart:<id>")
  // and no other writer's (see the top). As the first call of a Write(), an empty list
  // says: only rows no other writer reads first (job claims, heartbeats). SQLite: nothing,
  // its one writer at a time already serialises everything.
  virtual void LockKeys(const std::vector<std::string>& keys) { (void)keys; }
  // As the first call of a Write(): takes the store-wide lock only if no other writer holds
  // any lock now, without waiting; false: it is busy and this Write() must change nothing.
  // SQLite: true (BEGIN IMMEDIATE already holds its lock).
  virtual bool LockStoreIfFree() { return true; }
  // As the first call of a Write() (or after LockKeys): locks the keys of these journeys,
  // their contact keys and carts, for set-based reads that lock nothing row by row.
  // `seen`: their owners as the caller last read them, when it has them (any order, may be
  // stale or empty): PostgreSQL locks those with the transaction's start and reads once to
  // confirm, instead of reading, locking and reading again; an owner that changed since is
  // found by that read and locked too.
  virtual void LockJourneys(const std::vector<std::string>& journey_ids,
                            const std::vector<JourneyOwner>& seen) {
    (void)journey_ids;
    (void)seen;
  }
  // The keys (LockKeys) of these carts ("cart:<id>", the contact key), to lock a batch
  // up front before its work reads it (read). Only where LockKeys does something
  // (PostgreSQL); elsewhere empty.
  virtual std::vector<std::string> CartLockKeys(const std::vector<std::string>& cart_ids) {
    (void)cart_ids;
    return {};
  }

  // Events.
  virtual void AppendEvent(const Event& event, const std::string& json) = 0;
  // The cap on events per cart, one counter per cart shared by every process and host on the
  // store (the engine decides, ingest/cart_event_cap.h). LockCartEventCounts returns the
  // counters of `cart_ids` (sorted, distinct) and holds them until the transaction ends
  // (SQLite: the write lock; PostgreSQL: row locks, taken in id order); a cart without one
  // reads as a default CartEventCount. SaveCartEventCounts writes them back. Counters go with
  // the events' retention window.
  virtual std::map<std::string, CartEventCount> LockCartEventCounts(
      const std::vector<std::string>& cart_ids) = 0;
  virtual void SaveCartEventCounts(const std::map<std::string, CartEventCount>& counts) = 0;

  // Carts and contacts (read).
  virtual std::optional<Cart> LoadCart(const std::string& cart_id) = 0;
  virtual void SaveCart(const Cart& cart) = 0;
  virtual std::optional<Contact> LoadContact(const std::string& key) = 0;
  virtual void SaveContact(const Contact& contact) = 0;
  // Contacts other than `except_key` that hold `phone`; the engine moves the number (R3.4).
  virtual std::vector<std::string> ContactsWithPhone(const std::string& phone,
                                                     const std::string& except_key) = 0;
  virtual std::string ContactKeyForVisitor(const std::string& visitor_id) = 0;  // read
  virtual void LinkVisitor(const std::string& visitor_id, const std::string& contact_key) = 0;
  // Carts of a contact, newest activity first (read).
  virtual std::vector<std::string> CartsOfContact(const std::string& contact_key) = 0;

  // Journeys.
  virtual std::optional<JourneyRecord> LoadJourney(const std::string& journey_id) = 0;
  virtual std::optional<JourneyRecord> RunningJourneyOfContact(const std::string& contact_key) = 0;
  virtual std::optional<JourneyRecord> LatestJourneyOfCart(const std::string& cart_id) = 0;
  virtual void SaveJourney(const JourneyRecord& journey) = 0;

  // Jobs (see the lifecycle above). ScheduleJob creates or moves the one job of
  // (kind, subject) to due_ms, pending.
  virtual void ScheduleJob(const std::string& kind, const std::string& subject, Millis due_ms) = 0;
  virtual void CancelJobs(const std::string& kind, const std::string& subject) = 0;
  // Claims up to `limit` jobs due at `now` (or whose lease expired), oldest due first, in
  // one statement; each claim's attempt is bumped and leased until now + lease_ms.
  virtual std::vector<JobRecord> ClaimDueJobs(Millis now, int limit, Millis lease_ms) = 0;
  // True when the claim (job_id, attempt) was still current and the job is now done.
  virtual bool FinishJob(int64_t job_id, int attempt) = 0;
  // Puts a claimed job back to pending at due_ms; false when the claim is stale.
  virtual bool RetryJob(int64_t job_id, int attempt, Millis due_ms) = 0;
  // FinishJob / RetryJob / InsertMessage for a caller that does not read the answer (its
  // claim is fenced in the statement all the same; a message id that exists is left as it
  // is, body included): PostgreSQL sends it without waiting (pipeline mode) and a failure
  // throws by AwaitWrites(), the end of the enclosing Write() or its next read. Elsewhere:
  // the same as the call that answers.
  virtual void FinishJobAsync(int64_t job_id, int attempt) { FinishJob(job_id, attempt); }
  virtual void RetryJobAsync(int64_t job_id, int attempt, Millis due_ms) { RetryJob(job_id, attempt, due_ms); }
  virtual void InsertMessageAsync(const MessageRecord& message) { InsertMessage(message); }
  virtual bool ClaimIsCurrent(int64_t job_id, int attempt) = 0;  // read
  // Extends the lease of each claim (job_id, attempt) still held with that attempt to
  // `lease_until`; claims finished, retried or taken over since are left alone. Returns how
  // many were renewed. The worker's LeaseKeeper calls it while a batch is worked on.
  virtual int RenewClaims(const std::vector<std::pair<int64_t, int>>& claims,
                          Millis lease_until) = 0;
  virtual std::optional<Millis> NextDueMs() = 0;                  // read

  // Messages. InsertMessage returns false when the id exists (exactly one per step and
  // channel); UpdateMessage writes status, reason, sent/attempts and content fields.
  // The contents (subject, text, HTML) are kept apart from the row, which is rewritten at
  // every status change: written with the message, again only when they change, read
  // with it, and pruned, forgotten and exported with it.
  virtual bool InsertMessage(const MessageRecord& message) = 0;
  virtual std::optional<MessageRecord> LoadMessage(const std::string& message_id) = 0;
  virtual void UpdateMessage(const MessageRecord& message) = 0;
  // Marks every unsent message of the journey suppressed with `reason`.
  virtual void SuppressUnsent(const std::string& journey_id, const std::string& reason) = 0;
  virtual std::vector<MessageRecord> ListMessages(const MessageFilter& filter) = 0;  // read
  // What was sent to the contact: last per channel, and every send at or after `since`.
  virtual ContactSends SendsTo(const std::string& contact_key, Millis since) = 0;  // read
  // The newest message sent to the contact at or after `since` (read).
  virtual std::optional<MessageRecord> LastSentTo(const std::string& contact_key, Millis since) = 0;

  // ---- The step pipeline's batch reads and narrow writes (issue 9) --------------------------
  // A batch of step jobs (send_step.cpp) reads what its plans and records need in a few
  // statements for the whole batch instead of a dozen per job. Each takes the keys of the
  // batch (any number; unknown keys are left out of the answer) and is a read unless said.
  // The jobs among `claims` (job_id, attempt) whose claim is still current.
  virtual std::set<int64_t> CurrentClaims(const std::vector<std::pair<int64_t, int>>& claims) = 0;
  virtual std::vector<JourneyRecord> LoadJourneys(const std::vector<std::string>& journey_ids) = 0;
  virtual std::vector<Cart> LoadCarts(const std::vector<std::string>& cart_ids) = 0;
  virtual std::vector<Contact> LoadContacts(const std::vector<std::string>& keys) = 0;
  virtual std::vector<MessageRecord> LoadMessages(const std::vector<std::string>& message_ids) = 0;
  // Every message of the journeys without its contents (subject, text, html left empty):
  // what recording a step needs to tell whether the step is done.
  virtual std::vector<MessageRecord> MessageStates(const std::vector<std::string>& journey_ids) = 0;
  // The messages among `message_ids` whose status is still "sending" (the last look before
  // they are handed to a channel: S4).
  virtual std::set<std::string> StillSending(const std::vector<std::string>& message_ids) = 0;
  // SendsTo for each contact key.
  virtual std::map<std::string, ContactSends> SendsToContacts(const std::vector<std::string>& keys,
                                                              Millis since) = 0;
  // A delivery's outcome: status, reason, due_ms, sent_ms and attempts only (the contents
  // written when the message was planned stay as they are; opens and clicks recorded
  // meanwhile are not overwritten).
  virtual void RecordOutcome(const MessageRecord& message) = 0;
  // The contact was sent something at `at` (last_message_ms); no row: nothing happens.
  virtual void TouchContact(const std::string& key, Millis at) = 0;
  // A mark that moves whenever a transaction may have committed on the store: through
  // this connection, and on SQLite through any other (PRAGMA data_version). PostgreSQL
  // cannot see other sessions' commits without a round trip: its mark also moves every
  // 20 ms of real time, so a reader keyed on it looks again at least that often.
  virtual uint64_t CommitMark() = 0;

  // Orders. Returns false when the order id is already recorded (provider retries).
  virtual bool InsertOrder(const OrderRecord& order) = 0;

  // Coupons (offer.h). Codes are canonical (NormalizeCouponCode).
  virtual void SavePool(const CouponPool& pool) = 0;
  virtual std::optional<CouponPool> LoadPool(const std::string& name) = 0;  // read
  // Adds codes to a pool; codes already known (in any pool) are skipped. Returns how many
  // were added.
  virtual int64_t AddCoupons(const std::vector<Coupon>& coupons) = 0;
  // Hands a free code of `pool` to `contact_key` in one statement (two workers never get
  // the same one): assigned and, when the pool says so, given its expiry. nullopt: none left.
  virtual std::optional<Coupon> TakeFreeCoupon(const CouponPool& pool, const std::string& contact_key,
                                               Millis now) = 0;
  virtual std::optional<Coupon> LoadCoupon(const std::string& code) = 0;  // read
  virtual void MarkRedeemed(const std::string& code, const std::string& order_id, Millis at) = 0;
  virtual int64_t FreeCoupons(const std::string& pool, Millis now) = 0;  // read
  // The unredeemed, unexpired code of `pool` already handed to the contact, if any (a
  // retried step must show the same code, and a code goes to one contact only).
  virtual std::optional<Coupon> AssignedCoupon(const std::string& pool,
                                               const std::string& contact_key, Millis now) = 0;
  // Paused messages (R4.3) per flow: (flow, reason) -> count.
  virtual std::map<std::pair<std::string, std::string>, int64_t> PausedMessages() = 0;  // read
  // Steps paused for an empty pool (messages "paused") are made due at `now`.
  virtual int64_t ResumePaused(Millis now) = 0;
  virtual int64_t PruneCoupons(Millis now, Millis grace_ms) = 0;

  // Exit-intent decisions.
  virtual std::optional<OfferRecord> LatestOffer(const std::string& visitor_id,
                                                 const std::string& contact_key) = 0;  // read
  virtual void SaveOffer(const OfferRecord& offer) = 0;
  // The newest popup shown to the visitor or contact with since <= decided <= until (read;
  // an order's last touch may be an offer).
  virtual std::optional<OfferRecord> LastShownOffer(const std::string& visitor_id,
                                                    const std::string& contact_key, Millis since,
                                                    Millis until) = 0;
  // Incentive decisions (popups and reminder steps) in [since, ...): how many distinct
  // abandonments reached the incentive step, how many incentives were given, the valuable
  // ones among them, and whether `abandonment` (the cart being decided, or the visitor of
  // a popup without a cart) is among them already. An abandonment is a cart, not a
  // contact: R4.4's source rations "20 % of cases", each abandoned cart a case, and the
  // cooldown already keeps one shopper from collecting an incentive per cart. The counts
  // are kept as SaveOffer records each decision, so a call costs the same whatever the
  // window holds (store/incentive_budget.cpp). And the last incentive a contact got (0: none).
  virtual IncentiveHistory IncentiveCounts(Millis since, const std::string& abandonment) = 0;  // read
  virtual Millis LastIncentiveTo(const std::string& contact_key) = 0;  // read
  // The incentive decision recorded for a reminder step (source "flow") under `key`, so a
  // step run again (quiet hours, a retry) keeps its first decision; nullopt: none yet.
  virtual std::optional<OfferRecord> StepIncentive(const std::string& key) = 0;  // read

  // The event log in order, from after `after_id`, `limit` at a time (read; exports, replays).
  virtual std::vector<StoredEvent> ListEvents(Millis since, Millis until, int64_t after_id,
                                              int limit) = 0;

  // Step experiments (R6.3): records `variant` as the contact's assignment in `experiment`
  // unless one is recorded already, and returns the recorded one (the first sticks, even
  // when weights change later).
  virtual std::string AssignVariant(const std::string& experiment, const std::string& contact_key,
                                    const std::string& variant, const std::string& flow,
                                    Millis now) = 0;
  // Per variant of a step experiment: contacts assigned in [since, until), and those who
  // ordered within `window_ms` after their assignment (read).
  virtual std::vector<VariantCounts> StepVariants(const std::string& experiment, Millis window_ms,
                                                  Millis since, Millis until) = 0;

  // Flows paused by staff. Resume returns false when the flow was not paused; its waiting
  // steps become due at `now`.
  virtual void PauseFlow(const std::string& flow, const std::string& reason, Millis now) = 0;
  virtual bool ResumeFlow(const std::string& flow, Millis now) = 0;
  virtual std::map<std::string, FlowPause> FlowPauses() = 0;  // read

  // Reports beyond messages (read).
  virtual std::vector<FunnelRow> Funnel(Millis since, Millis until) = 0;
  // Whole days whose events were pruned count through lead_days (exact: a shopper seen on
  // several days counts once); days past the reports window through lead_totals, where a
  // shopper of several days counts once per day.
  virtual LeadCounts Leads(Millis since, Millis until) = 0;
  // Exit-intent decisions of `kind` per variant (holdout included) made in [since, until),
  // and those whose contact ordered within `window_ms` after it.
  virtual std::vector<VariantCounts> OfferVariants(const std::string& kind, Millis window_ms,
                                                   Millis since, Millis until) = 0;

  // Retention: removes at most windows.batch rows of each kind older than its window at
  // `now`, aggregating first what reports read. `attribution_window_ms`: how long after a
  // popup an order counts (its conversion is decided when the popup's row goes). Call
  // inside Write(); SQLite also hands up to vacuum_pages free pages back to the file system.
  virtual PruneCounts Prune(Millis now, const RetentionWindows& windows,
                            Millis attribution_window_ms) = 0;

  // A person's data (GDPR Articles 15 and 17).
  virtual PersonKeys FindPerson(const std::string& email, const std::string& phone) = 0;  // read
  // Every stored row about the person as (table, row as a JSON object), by table (read).
  virtual std::vector<std::pair<std::string, std::string>> PersonRows(const PersonKeys& who) = 0;
  // Erases the person's personal data: contacts and visitor links deleted; events deleted
  // except page views, kept under an anonymous visitor id (lead counts); carts, journeys,
  // messages (address and bodies blanked), orders, popups, assignments, coupons and
  // consent history kept under anonymous keys (`anonymous` + "/<n>"), so every count and
  // report stays as it was. Returns rows touched per table. SQLite: rebuilds the indexes
  // that held the keys and frees every free page, with secure_delete on, so no byte of
  // them stays in the file; call Compact() after the transaction for the WAL.
  virtual std::map<std::string, int64_t> ErasePerson(const PersonKeys& who,
                                                     const std::string& anonymous) = 0;
  // Outside Write(): SQLite checkpoints the WAL and truncates it (no page image of erased
  // rows stays there); PostgreSQL vacuums the tables a person's rows live in.
  virtual void Compact() = 0;
  // Consent changes (R-privacy): what changed, when, and which event said so.
  virtual void LogConsent(const std::string& contact_key, const std::string& what, bool granted,
                          Millis at_ms, const std::string& source) = 0;

  // Looking inside (read).
  virtual std::vector<ReportRow> Report(const ReportQuery& query) = 0;
  virtual StoreStatus Status(Millis now) = 0;
  virtual void RecordWorkerRun(const std::string& worker_id, Millis now, int jobs_run) = 0;
};

// Opens a store by URL: "sqlite:///path/to/file.db", "sqlite://:memory:", ":memory:", a
// plain file path, or "postgresql://user[:password]@host[:port]/db[?schema=name]" (also
// "postgres://"; several hosts share one database). Creates and migrates the schema. Throws
// Error(kStorage) when the file or schema is not a cartrecovery store, is from a newer
// version, or cannot be opened (a password never appears in the message); Error(kConfig) for
// an unknown scheme or a malformed URL.
std::unique_ptr<Store> OpenStore(const std::string& url);

}  // namespace cartrecovery

#endif  // CARTRECOVERY_STORE_H_
