// engine_impl.h: the engine's private state, shared by engine.cpp (ingest queue, writer,
// worker, reads), apply_events.cpp (what a committed event changes) and run_jobs.cpp (what a
// due job does).
#ifndef CARTRECOVERY_SRC_ENGINE_ENGINE_IMPL_H_
#define CARTRECOVERY_SRC_ENGINE_ENGINE_IMPL_H_

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cartrecovery/status.h"
#include "ingest/cart_event_cap.h"
#include "cartrecovery/engine.h"
#include "cartrecovery/events.h"
#include "cartrecovery/store.h"
#include "engine/deliveries.h"

namespace cartrecovery {
namespace internal {
class Checkpointer;
class StepReads;
}  // namespace internal

// An accepted event waiting in the queue for the writer. `awaited`: its caller waits for the
// commit, so a refusal there (the store's cap on events per cart) is that caller's error;
// an event nobody waits for is dropped and counted (StoreStatus::events_refused).
struct QueuedEvent {
  int64_t seq;
  Event event;
  bool awaited;
};

// Everything bound to one process: after fork() the child gets a fresh one (see R()).
struct Runtime {
  Runtime() = default;
  ~Runtime();  // leaves the set of runtimes locked around fork() (engine.cpp)
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  std::timed_mutex store_mu;  // timed: the lease keeper waits for it with a bound
  std::unique_ptr<Store> store;  // guarded by store_mu
  std::mutex sqlite_mu;  // held by the checkpointer while it is inside SQLite (fork)
  // Copies the store's log into its file off the commits (checkpointer.h); started with
  // the writer or the worker, at most once (`checkpoints_handed_off`), stopped by Close().
  std::unique_ptr<internal::Checkpointer> checkpointer;  // guarded by store_mu
  bool checkpoints_handed_off = false;                  // guarded by store_mu

  std::mutex q_mu;
  std::condition_variable writer_cv;  // the writer waits for work
  std::condition_variable commit_cv;  // Flush() and durable Track() wait for commits
  std::deque<QueuedEvent> queue;  // guarded by q_mu
  int64_t accepted_seq = 0;   // guarded by q_mu: last sequence handed out
  int64_t committed_seq = 0;  // guarded by q_mu: every sequence <= this is done
  std::map<int64_t, Error> failed;  // guarded by q_mu: sequences that were refused
  bool writer_running = false;  // guarded by q_mu
  bool writer_stop = false;     // guarded by q_mu
  std::thread writer;

  std::mutex w_mu;
  std::condition_variable worker_cv;
  bool worker_running = false;  // guarded by w_mu
  bool worker_stop = false;     // guarded by w_mu
  bool worker_wake = false;     // guarded by w_mu
  std::thread worker;
  int clock_token = 0;

  // Events per cart accepted by this process (ingest/cart_event_cap.h); thread-safe. It
  // refuses at track() already; the writer's count in the store is the one that holds
  // across processes and hosts (CountInCap).
  std::unique_ptr<internal::CartEventCap> cart_cap;

  std::mutex send_mu;  // one batch's deliveries at a time per process: a channel takes at
                       // most Concurrency() Sends at once and keeps its connections

  // When this process last wrote a worker heartbeat (real time; see RunDueJobs).
  std::chrono::steady_clock::time_point last_heartbeat{};  // guarded by store_mu
  // Retention (retention.cpp): the clock time of the next prune round.
  Millis next_prune_ms = 0;  // guarded by store_mu

  std::mutex info_mu;
  std::string last_error;            // guarded by info_mu
  std::optional<Millis> last_run_ms;  // guarded by info_mu
};

struct Engine::Impl {
  EngineOptions opts;
  std::shared_ptr<Clock> clock;
  std::vector<Flow> flows;
  std::shared_ptr<Channel> outbox;
  TemplateSet templates;  // shipped, overlaid with the shop's directory
  Engine::OrderCheck order_check;  // set before the worker starts; may be empty
  // Asks order_check for the journey's cart; true when the shop says it was ordered.
  bool OrderedAtShop(Runtime& rt, const std::string& journey_id);
  std::string worker_id;
  Millis min_abandon_after_ms = kHour;

  pid_t pid = 0;
  std::unique_ptr<Runtime> rt;
  bool closed = false;

  explicit Impl(EngineOptions o);

  // This process's runtime; after a fork the inherited one is abandoned (never joined,
  // never closed: its threads do not exist here and its locks belong to the parent).
  Runtime& R();
  std::unique_ptr<Runtime> NewRuntime();

  // Ingest.
  // The error for an event over the cap on events per cart (opts.max_events_per_cart).
  Error CartCapError(const std::string& field, const std::string& cart_id) const;
  // `awaited`: the caller will wait for these events' commit (see QueuedEvent).
  int64_t Enqueue(Runtime& rt, std::vector<Event> events, bool wait_for_room, bool awaited);
  void WaitCommitted(Runtime& rt, int64_t seq);
  void StartWriterLocked(Runtime& rt);  // requires rt.q_mu
  // Hands the store's checkpoints to rt.checkpointer (once); takes rt.store_mu.
  void StartCheckpointer(Runtime& rt);
  void WriterLoop(Runtime* rt);
  void CommitBatch(Runtime& rt, std::vector<QueuedEvent>& batch);
  // Inside the writer's transaction: counts the batch's events against the cap on events
  // per cart in the store, in one read and one write; false for those over the cap there
  // (they must not be applied).
  std::vector<bool> CountInCap(Store& store, const std::vector<QueuedEvent>& batch);
  void SetError(Runtime& rt, const std::string& error);

  // apply_events.cpp: inside the writer's transaction.
  // The keys (Store::LockKeys) a batch of events touches as far as the events and their
  // carts tell (read); Apply locks the rest as it finds them.
  std::vector<std::string> EventLockKeys(Store& store, const std::vector<QueuedEvent>& batch);
  void Apply(Store& store, const Event& e);
  void ApplyCartActivity(Store& store, Cart& cart, Millis at);
  // cart_updated(continues=original): `cart` takes over the original's running journey,
  // contact, visitor and stage; the original waits for nothing more (its abandon job goes).
  void ContinueCart(Store& store, const std::string& original_id, Cart& cart, Millis at);
  // Records what the event says about the person; returns their contact key.
  std::string ApplyContact(Store& store, const Event& e, Cart* cart);
  void ApplyOrder(Store& store, const Event& e);
  void ApplyEngagement(Store& store, const Event& e);
  void ApplyUnsubscribe(Store& store, const Event& e);
  void EndJourney(Store& store, JourneyRecord& j, const std::string& reason, Millis at);

  // run_jobs.cpp: the worker's side.
  // `stoppable`: the background worker's run, which hands back the jobs it claimed but has
  // not started when Stop() is asked (a clean shutdown releases its claims at once).
  int RunDueJobs(Runtime& rt, Millis now, bool stoppable = false);
  bool StopAsked(Runtime& rt, bool stoppable);  // a stoppable run whose Stop() was asked
  void ReleaseClaims(Runtime& rt, const std::vector<JobRecord>& jobs);  // back to pending
  void AbandonCart(Store& store, const JobRecord& job, Millis now);  // inside a Write()
  void RunAbandonJobs(Runtime& rt, const std::vector<JobRecord>& jobs, Millis now);
  // send_step.cpp: a batch of step jobs is plan (one transaction: re-check, decide, render,
  // mark "sending") -> deliver (no transaction) -> record (one transaction: outcomes, advance).
  struct StepPlan {
    JobRecord job;
    JourneyRecord journey;
    const Flow* flow = nullptr;
    const Path* path = nullptr;
    std::optional<Engagement> branch;
    std::vector<internal::PendingSend> sends;  // status "sending", stored
  };
  // `stoppable`: a shutdown asked mid-batch delivers no further job; those left are handed
  // back (their messages stay "sending", which the next claim sends: none left yet).
  void RunStepJobs(Runtime& rt, const std::vector<JobRecord>& jobs, Millis now,
                   bool stoppable = false);
  // Inside a Write(): what the plans of `jobs` read, in a few statements for the batch.
  void LoadPlanReads(internal::StepReads& reads, const std::vector<JobRecord>& jobs, Millis now);
  // What a step's message is rendered from, as the plan decided it: compared with what a
  // helper rendered before any request is built (render_ahead.h), and the request's source.
  struct StepRenderKey {
    const std::string& flow;
    const std::string& path;
    int step;  // 1-based
    std::optional<Engagement> branch;
    const std::string& template_name;
    const std::string& coupon_code;
    const Cart& cart;
    const Contact& contact;  // its language is the message's
  };
  // The render request for `key` on channel `ch`, without the links (RenderStep signs them).
  RenderRequest StepRequest(const StepRenderKey& key, const std::string& ch) const;
  // Answers a message's content if a helper thread rendered exactly these inputs ahead of
  // the plan (render_ahead.h), else nullopt.
  struct StepContent;  // below, with the links
  using RenderedAhead =
      std::function<std::optional<StepContent>(const StepRenderKey&, const MessageRecord&)>;
  // Inside a Write(): nullopt when the job ended here (ordered, emptied, paused, ...).
  // `rendered_ahead`, when set, is asked before the plan renders a message itself.
  std::optional<StepPlan> PlanStep(Store& store, internal::StepReads& reads, const JobRecord& job,
                                   Millis now, bool ordered_at_shop,
                                   const RenderedAhead& rendered_ahead = nullptr);
  // Inside a Write(), after LoadPlanReads: the messages the batch's plans will most likely
  // render, as PlanStep would ask for them (steps with a coupon or an experiment are left
  // to the plan: their content depends on what the plan draws).
  struct LikelyRender {
    size_t job = 0;            // index in the batch
    RenderRequest req;         // without the links
    MessageRecord message;     // id, cart and channel: what the links carry
    uint64_t reads_generation = 0;  // StepReads::Generation() when read
  };
  void AddLikelyRenders(internal::StepReads& reads, size_t i, const JobRecord& job, Millis now,
                        std::vector<LikelyRender>& likely);
  // What PlanStep asks to render (`key`, `m`) is what `likely` rendered.
  static bool SameRenderInputs(const LikelyRender& likely, const StepRenderKey& key,
                               const MessageRecord& m, uint64_t reads_generation);
  std::vector<LikelyRender> LikelyRenders(internal::StepReads& reads,
                                          const std::vector<JobRecord>& jobs,
                                          const std::vector<char>& skip, Millis now);
  // Inside a Write(): `reads` holds the batch's claims, journeys, message states and carts
  // as read at the start of the record transaction.
  void RecordStep(Store& store, internal::StepReads& reads, StepPlan& plan,
                  std::vector<internal::SendResult>& results, Millis now);
  void RunAlertJob(Runtime& rt, const JobRecord& job, Millis now);  // sales_alert.cpp
  bool WantsSalesAlert(const Cart& cart) const;
  ValueThreshold SalesAlertThreshold() const;  // the shop's R3.10 threshold, per currency
  // An alert for the team, as composed inside the send transaction.
  struct TeamAlert {
    std::string kind;  // "sales_alert", "coupon_pool_empty": stored as the message's flow
    std::string cart_id, contact_key;
    std::string subject, text, html;
    std::function<std::string(const MessageRecord&)> data_json;  // webhook payload
  };
  // Sends compose()'s alert on every sales_alert channel, exactly once per job subject;
  // nullopt from compose() drops the job.
  void SendTeamAlert(Runtime& rt, const JobRecord& job, Millis now,
                     const std::function<std::optional<TeamAlert>(Store&)>& compose);
  // pool_alert.cpp: R4.3, the team hears when a step pauses for an empty coupon pool.
  void SchedulePoolAlert(Store& store, const std::string& pool, Millis now);
  void RunPoolAlertJob(Runtime& rt, const JobRecord& job, Millis now);
  void WorkerLoop(Runtime* rt);
  void WakeWorker(Runtime& rt);
  // retention.cpp: one bounded prune round when one is due at `now` (hourly by the
  // engine's clock; at once again while a kind is behind). Requires rt.store_mu.
  void PruneIfDueLocked(Runtime& rt, Millis now);

  // Links (links.cpp): the signed URLs a message carries, and the answers to them.
  struct MessageLinks {
    std::string cart_url;         // restore link, or the shop's restore_url / base_url
    std::string unsubscribe_url;  // empty without secrets
    std::string open_pixel_url;   // e-mail only, empty without secrets
  };
  MessageLinks LinksFor(const MessageRecord& m, const Cart& cart, Millis now) const;
  // What a step's message on a channel says, with its links: `req` without the links (they
  // are signed here for `m`: its id, cart and channel), rendered, and its HTML links
  // wrapped for click tracking. Pure, and safe on any thread (render_ahead.h).
  struct StepContent {
    MessageLinks links;
    RenderedMessage rendered;  // the HTML as sent and stored: links tracked
  };
  StepContent RenderStep(RenderRequest req, const MessageRecord& m, Millis now) const;
  // RFC 8058 List-Unsubscribe headers, on e-mail that carries an unsubscribe link.
  void AddUnsubscribeHeaders(const MessageLinks& links, const MessageRecord& m,
                             OutgoingMessage& out) const;

  // incentives.cpp: the one incentive budget (S8) for reminder steps. nullptr: none set.
  const IncentivePolicy* IncentiveBudget() const;
  struct StepIncentive {
    std::string key;        // the decision's key in the store ("flow:<journey>#<step>")
    bool counted = false;   // a budget applies (else the coupon is simply given)
    bool give = true;
    std::string rule;       // DecideIncentive's rule, for the record and the message
    bool recorded = false;  // decided on an earlier run of the step
  };
  // Inside Write(): whether any channel of the step would reach the contact now or at its
  // allowed hour (a channel, an address, not bounced, the policies not skipping it). When
  // none would, the step takes no code and decides no incentive: the cap and the
  // cooldown count incentives sent, and an imported code is not spent on nobody.
  bool StepGoesOut(Store& store, const Step& step, const Contact& contact, Millis now);
  // Inside Write(): whether the step's coupon may go to this contact now.
  StepIncentive DecideStepIncentive(Store& store, const std::string& journey_id, int step,
                                    const Cart& cart, const Contact& contact, Millis now);
  // Inside Write(): records the decision (once), with the code handed out ("" if none).
  void RecordStepIncentive(Store& store, const StepIncentive& decision, const Cart& cart,
                           const Contact& contact, const std::string& coupon_code, Millis now);

  void SavePoolLocked(Store& store, const CouponPool& pool);  // inside Write()
  // A code of `pool` for the contact, inside Write(): the one they already hold, else a
  // new one (generated, or a free imported one, or the static code). nullopt: none left.
  std::optional<Coupon> CouponFor(Store& store, const std::string& pool, const std::string& contact_key,
                                  Millis now);

  // Helpers.
  const Flow* FindFlow(const std::string& name) const;
  Channel* ChannelFor(const std::string& name) const;
  std::string NewJourneyId(const std::string& contact_key, const std::string& cart_id, Millis at) const;
};

// Stable ids derived from their parts (SHA-256, hex, truncated): the same journey, step and
// channel always give the same message id, which the store refuses to hold twice.
std::string DerivedId(const std::string& prefix, const std::string& parts);

}  // namespace cartrecovery

#endif  // CARTRECOVERY_SRC_ENGINE_ENGINE_IMPL_H_
