// engine.h: the facade that wires the modules; the only type the bindings need.
//
// Events in:  Track() validates (throwing InvalidArgument), queues and returns; one writer
//             thread per process commits the queue in batches, one transaction per batch
//             (group commit). Events that gate sending (orders, unsubscribes, consent) and
//             calls with durable=true wait for their commit. A full queue throws kQueueFull:
//             never a silent drop. Reads and RunDue() first wait for everything accepted
//             before them in this process (Flush()).
// Time:       RunDue(now) runs every job due at `now`; Start()/Stop() run a worker thread
//             that sleeps until the next due time (or a wake-up) and never busy-polls.
// Fork:       no thread starts in the constructor. When the engine is used in a child
//             process after fork(), it drops what it inherited (the parent's queue, writer,
//             worker and connection) and opens the store again.
//
// Thread-safety: every public method may be called from any thread.
#ifndef CARTRECOVERY_ENGINE_H_
#define CARTRECOVERY_ENGINE_H_

#include <functional>
#include <istream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cartrecovery/clock.h"
#include "cartrecovery/delivery.h"
#include "cartrecovery/flow.h"
#include "cartrecovery/offer.h"
#include "cartrecovery/policy.h"
#include "cartrecovery/render.h"
#include "cartrecovery/retry.h"
#include "cartrecovery/store.h"
#include "cartrecovery/value.h"

namespace cartrecovery {

// R3.10: tell the team in real time when a valuable cart is abandoned, so anyone can help
// close the sale. Off while `channels` is empty.
struct SalesAlert {
  std::string min_value = "0";        // decimal text in the shop's currency (EngineOptions)
  // Minimum per cart currency (decimal text in that currency); a cart in a currency it does
  // not list is converted with `rates` into the shop's currency, else gets no alert.
  std::map<std::string, std::string> min_values;
  std::map<std::string, std::string> rates;  // currency -> its worth in the shop's currency
  std::vector<std::string> channels;  // channel names, e.g. {"email"} or {"team_webhook"}
  std::string to;                     // the team's address for an "email" channel
};

struct EngineOptions {
  std::string store_url = "sqlite:///recovery.db";
  std::vector<Flow> flows;  // empty: DefaultFlow()
  // Channel name -> channel. When `channels_given` is false every channel name a flow uses
  // goes to an outbox (kept in the store, and written to outbox_directory when set).
  std::map<std::string, std::shared_ptr<Channel>> channels;
  bool channels_given = false;
  std::string outbox_directory;
  std::shared_ptr<Clock> clock;  // null: SystemClock
  ShopInfo shop;
  SalesAlert sales_alert;
  Policies policies;                  // consent, caps, quiet hours (policy.h)
  std::string templates_directory;    // the shop's templates (render.h); empty: shipped only
  // Secrets for signed links (track.h): the first signs, all verify (rotation). Empty: no
  // tracking links, no restore or one-click unsubscribe links (the shop's restore_url and
  // no unsubscribe link are used).
  std::vector<std::string> secrets;
  Millis link_ttl_ms = 30 * kDay;          // open, click and restore links
  Millis unsubscribe_ttl_ms = 400 * kDay;  // an unsubscribe link must work for a long time
  std::string unsubscribe_mailto;          // optional second List-Unsubscribe target
  // Offers (offer.h): pools defined by the shop (saved to the store at start), and the
  // exit-intent popup's rules and the pool its coupons come from (empty: no coupon popup).
  std::vector<CouponPool> coupon_pools;
  ExitIntentPolicy exit_intent;
  std::string exit_intent_pool;
  // S8: the one incentive budget (R4.4) for popup coupons and reminder-step coupons alike.
  // Unset: exit_intent.incentive is the budget when a coupon popup is configured
  // (exit_intent_pool); with neither, reminder-step coupons are not rationed (R4.4's 20 %
  // is the playbook's example, not a rule every shop runs: a shop that names a budget, or
  // runs a coupon popup, gets it).
  std::optional<IncentivePolicy> incentive;
  // false: no budget at all, the explicit opt-out (settings "incentive": False): every
  // reminder coupon goes, every coupon popup that qualifies shows, nothing is counted.
  bool ration_incentives = true;
  std::string timezone = "UTC";
  std::string currency = "EUR";  // the shop's currency, for events that name none

  size_t queue_capacity = 100000;      // events accepted but not yet committed
  // A brake on a runaway or hostile client: at most this many events per cart within
  // cart_event_window_ms of event time, whichever processes and hosts they come through
  // (counted in the store, when the writer commits them). Over the cap: InvalidArgument
  // ("cart_id") from track() when this process has seen the cap reached, or from a call
  // that waits for its commit; an event nobody waits for is dropped by the writer and
  // counted (status: events_refused). 0: no cap. A real cart sees tens of events a day.
  int64_t max_events_per_cart = 1000;
  Millis cart_event_window_ms = kDay;
  size_t max_batch = 5000;             // events per commit
  // How long a claim is a worker's without renewal; a live worker renews its batch every
  // third of it, so a dead worker's jobs move to another within lease_ms (plus a tick).
  Millis lease_ms = 30 * kSecond;
  RetryPolicy retry;                   // transient delivery failures: backoff and limit
  Millis attribution_window_ms = 7 * kDay;  // an order this soon after a message counts
  Millis worker_idle_ms = 5 * kSecond; // longest worker sleep (other processes add jobs)
  std::string worker_id;               // empty: host:pid
  // Threads that render a batch's reminders ahead of its plan, beside the worker's own
  // (render_ahead.h). -1: one per spare core, at most 2; 0: the worker renders alone.
  // Error(kConfig, "render_threads") outside -1..16.
  int render_threads = -1;
  // How long each kind of row is kept; the worker prunes in bounded batches (store.h).
  // ValidateRetention() refuses windows that would change what the engine decides.
  RetentionWindows retention;
};

// Error(kConfig, field "retention.<kind>") for a negative window, one shorter than a day,
// offers kept less than the attribution window (a popup's conversion is decided when its
// row goes), or reports kept less than the attribution window.
void ValidateRetention(const RetentionWindows& windows, Millis attribution_window_ms);

struct JourneyView {
  JourneyRecord record;
  std::optional<size_t> total_steps;
};

struct CartView {
  Cart cart;
  std::optional<JourneyRecord> journey;
};

// What an adapter answers for a tracking link (open pixel, click, restore, unsubscribe).
struct LinkResponse {
  int status = 404;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. Location, Cache-Control
  std::string kind;                                          // "open", ... or empty
  std::optional<CartView> cart;                              // a valid restore link's cart
};

struct ExitIntentResult {
  ExitIntentDecision decision;
  std::optional<Coupon> coupon;  // the code handed to this visitor, when a coupon is shown
  bool repeated = false;         // the recorded decision, returned again (not re-drawn)
};

struct CouponImportReport {
  int64_t imported = 0;            // new codes added to the pool
  int64_t already_known = 0;       // good codes the store had already (skipped)
  int64_t duplicates_in_file = 0;  // repeated within the file (skipped)
  int64_t bad_row_count = 0;
  std::vector<CsvBadRow> bad_rows;  // with line numbers (the first options.max_bad_rows_kept)
};

struct CouponCheck {
  CouponProblem problem = CouponProblem::kUnknown;
  std::optional<Coupon> coupon;
};

// An experiment the engine runs (R6.3): an exit-intent popup's, or a flow step's.
struct ExperimentInfo {
  std::string name;  // popups: the popup kind ("coupon", "email_capture")
  std::string kind;  // "popup" or "step"
  std::string flow, path;
  int step = 0;      // 1-based; 0 for popups
};

// One entry of the event log in the public form (events.h LoggedEventFields).
struct LoggedEvent {
  int64_t id = 0;
  std::string type;
  Millis at_ms = 0;
  std::string fields_json;
};

struct EngineStatus {
  StoreStatus store;
  bool worker_running = false;        // this process's background worker
  std::optional<Millis> this_worker_last_run_ms;
  size_t queued = 0;                  // accepted, not yet committed
  int64_t committed = 0;              // events committed by this process
  std::string last_error;             // the writer's or worker's last failure, if any
  Millis now_ms = 0;
};

class Engine {
 public:
  // Opens the store (creating/migrating it) and checks the flows against the shipped
  // templates. Throws Error(kConfig / kStorage).
  explicit Engine(EngineOptions options);
  ~Engine();  // Close()
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Validates and queues one event. `at`: the event's time (default: the clock).
  void Track(const std::string& type, const Value& fields, std::optional<Millis> at = {},
             bool durable = false);
  // Track() in two halves, for callers that must not block while holding a lock of their
  // own (the Python bindings keep the GIL for the first half only): Accept() validates and
  // queues and returns a ticket to wait for, or 0 when nothing needs waiting for; Await()
  // blocks until that ticket's event is committed and rethrows a commit failure.
  int64_t Accept(const std::string& type, const Value& fields, std::optional<Millis> at = {},
                 bool durable = false);
  void Await(int64_t ticket);
  // Validates every event first (all or nothing: an invalid one throws InvalidArgument with
  // field "[i].<field>" and nothing is queued), then queues them in order.
  // `at_ms` per event (nullopt: the clock).
  size_t TrackMany(const std::vector<std::pair<std::string, Value>>& events,
                   const std::vector<std::optional<Millis>>& at_ms, bool durable = false);
  // Waits until every event accepted so far is committed; rethrows a commit failure.
  void Flush();
  // Flush, stop the worker and the writer, close the store. Idempotent.
  void Close();

  // Runs every job due at `now` (default: the clock). Returns how many jobs ran.
  int RunDue(std::optional<Millis> now = {});
  void Start();
  void Stop();
  bool Running() const;

  // Answers a tracking link. `path` is what follows the base URL ("o/<token>.gif",
  // "c/<token>", "r/<token>", "u/<token>"); `method` "GET" or "POST". Never throws for a bad
  // or expired token (that is a 4xx answer); opens and clicks are recorded as events.
  //   open        200 GIF, Cache-Control: no-store, whatever the token
  //   click       302 to the URL inside the signed token; 400 bad token, 410 expired
  //   restore     200 with `cart` for the adapter to rebuild (never a login); 400 / 410
  //   unsubscribe GET: 200 confirmation page with a POST form (mail scanners follow GETs);
  //               POST: 200, the contact is unsubscribed (committed before returning)
  LinkResponse HandleLink(const std::string& path, const std::string& method);

  // The shop's own "has this cart been ordered?" (DESIGN "Check again at send time"): asked
  // before each reminder with the cart id and the contact's e-mail, outside any store lock.
  // True ends the journey as an order would (reason "ordered"). An exception from it is
  // recorded as the worker's last error and the reminder waits for the next run.
  // Set it before Start(); thread-safety: called from the thread that runs jobs.
  using OrderCheck = std::function<bool(const std::string& cart_id, const std::string& email)>;
  void SetOrderCheck(OrderCheck check);

  // The exit-intent popup for a visitor about to leave (R5.1, R5.2): the recorded decision
  // when one was made within the policy's repeat_after (so asking twice never re-draws a
  // coupon), else a fresh one (offer.h DecideExitIntent), recorded with the R4.4 rule, and
  // for a coupon popup a code from the pool handed to this contact. An empty pool shows
  // nothing (reason "no_coupons_left"). Throws InvalidArgument("visitor_id") when empty.
  ExitIntentResult ExitIntent(const std::string& visitor_id, const std::string& cart_id);

  // Coupon pools: defines or replaces a pool (ValidateCouponPool: ConfigError); a static
  // pool's code is stored at once. Import streams codes from CSV into an imported pool in
  // batches (one transaction each); bad rows are reported with line numbers, duplicates
  // skipped. Throws ConfigError("pool") for an unknown or non-imported pool.
  void SaveCouponPool(const CouponPool& pool);
  CouponImportReport ImportCoupons(const std::string& pool, std::istream& csv,
                                   CsvImportOptions options);
  int64_t FreeCoupons(const std::string& pool);
  // At checkout: may this contact (by e-mail, or none) use `code` now? Redeem records the
  // order on the code in the same transaction; the same order may redeem again (retries).
  CouponCheck ValidateCoupon(const std::string& code, const std::string& email);
  // Steps waiting for coupons (R4.3), per flow: (flow, reason) -> paused messages.
  std::map<std::pair<std::string, std::string>, int64_t> PausedSteps();
  CouponCheck RedeemCoupon(const std::string& code, const std::string& order_id,
                           const std::string& email);

  // R6.2: renders `template_name` (empty: the first reminder) in `language` for a sample
  // cart and sends it now to `to` through the channel bound to `channel`, so the shop sees
  // its real reminder before going live. Nothing is stored. Throws ConfigError for an
  // unknown channel or template, and the channel's DeliveryError as is.
  void SendTest(const std::string& channel, const std::string& to,
                const std::string& template_name, const std::string& language);

  std::optional<CartView> GetCart(const std::string& cart_id);
  // Messages of a cart and/or a contact (by e-mail), oldest first, at most `limit` (<= 0:
  // all).
  std::vector<MessageRecord> Messages(const std::string& cart_id, const std::string& email,
                                      int limit = 1000);
  std::vector<ReportRow> Report(const ReportQuery& query);
  EngineStatus Status();
  // The checkout-stage funnel (R1.3) and lead temperature (R1.4) over [since, until).
  std::vector<FunnelRow> Funnel(Millis since, Millis until);
  LeadCounts Leads(Millis since, Millis until);
  // An experiment's results: per variant (holdout included), conversion (an order within
  // the attribution window after the popup decision or the step's assignment) with a
  // Wilson interval, and vs the holdout. `name` is a popup kind or a step experiment's
  // name; InvalidArgument("experiment") when it is neither.
  // Only trials (popup decisions, step assignments) in [since, until) count.
  std::vector<VariantResult> ExperimentReport(const std::string& name,
                                              std::optional<Millis> since = {},
                                              std::optional<Millis> until = {});
  std::vector<ExperimentInfo> Experiments() const;

  // The event log in order (exports and replays): up to `limit` events after `after_id`
  // with since <= at < until.
  std::vector<LoggedEvent> Events(Millis since, Millis until, int64_t after_id, int limit);

  // Staff pause a flow: its reminders wait ("paused", reason "flow_paused") until it is
  // resumed, then go at once, each re-checked as always. Pausing twice keeps the first
  // time; resuming a running flow does nothing. InvalidArgument("flow") for an unknown
  // flow. Durable before returning.
  void PauseFlow(const std::string& flow, const std::string& reason);
  void ResumeFlow(const std::string& flow);
  std::map<std::string, FlowPause> FlowPauses();

  // A person's data, by e-mail and/or phone (InvalidArgument("email"/"phone") when neither
  // is given or one is malformed). Export: every stored row about them as a JSON object
  // {"email", "phone", "<table>": [rows]} (read). Forget: ends their running journeys and
  // erases their personal data everywhere, keeping anonymous rows so counts and reports do
  // not change (store.h ErasePerson); durable and compacted before returning. Returns rows
  // touched per table (empty: nobody by that address or number).
  std::string Export(const std::string& email, const std::string& phone);
  std::map<std::string, int64_t> Forget(const std::string& email, const std::string& phone);

  // Retention now, instead of waiting for the worker: prunes batch after batch until
  // nothing is older than its window (at `now`, default the clock). Returns the totals.
  PruneCounts Prune(std::optional<Millis> now = {});

  Millis Now() const;
  const std::vector<Flow>& flows() const;
  const std::string& worker_id() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cartrecovery

#endif  // CARTRECOVERY_ENGINE_H_
