// The engine's plumbing: the ingest queue and its writer thread (group commit), the worker
// thread, fork detection, and the read side.
#include "cartrecovery/engine.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <set>

#include "cartrecovery/status.h"
#include "cartrecovery/track.h"
#include "engine/checkpointer.h"
#include "engine/engine_impl.h"
#include "model/hex.h"

namespace cartrecovery {

// The first 12 bytes of SHA-256, in lower-case hex. Every reminder derives several, so
// OpenSSL's one-shot digest (a few times cheaper than Poco's engine and its full hex text).
std::string DerivedId(const std::string& prefix, const std::string& parts) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (!EVP_Digest(parts.data(), parts.size(), digest, &size, EVP_sha256(), nullptr) || size < 12)
    throw Error(ErrorCode::kInternal, "SHA-256 failed");
  std::string id = prefix;
  internal::AppendHex(digest, 12, &id);
  return id;
}

Engine::Impl::Impl(EngineOptions o) : opts(std::move(o)) {
  clock = opts.clock ? opts.clock : std::make_shared<SystemClock>();
  flows = opts.flows.empty() ? std::vector<Flow>{DefaultFlow()} : opts.flows;
  std::vector<std::string> names;
  for (const auto& f : flows) {
    if (std::count(names.begin(), names.end(), f.name))
      throw ConfigError("flows", "two flows are named '" + f.name + "'");
    names.push_back(f.name);
  }
  // Every template a flow names must exist, and every channel must be bound when the shop
  // gave channels: a typo found at start-up, not at 3 a.m. in the worker.
  if (!opts.templates_directory.empty()) templates = LoadTemplates(opts.templates_directory);
  auto shipped = templates.Names();
  min_abandon_after_ms = flows.front().abandon_after_ms;
  for (const auto& f : flows) {
    min_abandon_after_ms = std::min(min_abandon_after_ms, f.abandon_after_ms);
    try {
      ParseFlow(FlowToJson(f), &shipped);  // every template it names exists, shop's or shipped
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kConfig) throw;
      throw Error(ErrorCode::kConfig,
                  "flows." + f.name + "." + e.what() +
                      " (neither shipped nor in the shop's templates directory)",
                  "flows." + f.name + "." + e.field());
    }
    for (const auto& p : f.paths)
      for (size_t i = 0; i < p.steps.size(); ++i)
        for (const auto& ch : p.steps[i].channels)
          if (opts.channels_given && !opts.channels.count(ch))
            throw ConfigError("flows." + f.name + ".paths." + p.name + ".steps[" +
                                  std::to_string(i) + "].channels",
                              "channel '" + ch + "' is not configured (channels has no '" + ch +
                                  "'; bind it, e.g. to an OutboxChannel)");
  }
  for (const auto& ch : opts.sales_alert.channels) {
    if (opts.channels_given && !opts.channels.count(ch))
      throw ConfigError("sales_alert.channels", "channel '" + ch + "' is not configured");
    if (ch == "email" && opts.sales_alert.to.empty())
      throw ConfigError("sales_alert.to", "an e-mail sales alert needs the team's address");
  }
  ValidateValueThreshold(SalesAlertThreshold(), "sales_alert");  // fails early
  ValidateRetention(opts.retention, opts.attribution_window_ms);
  if (opts.render_threads < -1 || opts.render_threads > 16)
    throw ConfigError("render_threads", "must be 0..16 (or -1: one per spare core), not " +
                                            std::to_string(opts.render_threads));
  if (const IncentivePolicy* budget = IncentiveBudget()) {
    // The cap and the cooldown read the decisions (offers) of the budget's window and
    // cooldown: pruned sooner, a shopper would get a second incentive in the cooldown.
    const Millis reach = std::max(budget->window_ms, budget->cooldown_ms);
    if (opts.retention.offers_ms > 0 && opts.retention.offers_ms < reach)
      throw ConfigError("retention.offers", "must be at least the incentive budget's window and "
                                            "cooldown (" + std::to_string(reach / kDay) + " days)");
  }
  if (!opts.secrets.empty()) {
    // Fails now, naming "secret" or "base_url", rather than at the first message.
    LinkClaims probe;
    probe.kind = LinkKind::kOpen;
    probe.message_id = "probe";
    probe.expires_ms = 1;
    LinkUrl(opts.shop.base_url, LinkKind::kOpen, SignLink(opts.secrets, probe));
  }
  auto check_pool = [&](const std::string& pool, const std::string& at) {
    if (pool.empty()) return;
    bool known = false;
    for (const auto& cp : opts.coupon_pools) known = known || cp.name == pool;
    if (!known)
      throw ConfigError(at, "no coupon pool named '" + pool + "' (define it in coupon_pools)");
  };
  std::set<std::string> experiments;
  for (const auto& f : flows)
    for (const auto& p : f.paths)
      for (size_t i = 0; i < p.steps.size(); ++i) {
        const Step& step = p.steps[i];
        const std::string at = "flows." + f.name + ".paths." + p.name + ".steps[" + std::to_string(i) + "]";
        check_pool(step.coupon, at + ".coupon");
        for (size_t v = 0; v < step.variants.size(); ++v)
          check_pool(step.variants[v].coupon, at + ".variants[" + std::to_string(v) + "].coupon");
        // Reports find an experiment by name, across flows too.
        if (step.HasExperiment() && !experiments.insert(step.experiment).second)
          throw ConfigError(at + ".experiment", "duplicate experiment name '" + step.experiment + "'");
        if (step.HasExperiment() && (step.experiment == "coupon" || step.experiment == "email_capture"))
          throw ConfigError(at + ".experiment", "'" + step.experiment + "' names the exit-intent popup's experiment");
      }
  for (size_t i = 0; i < opts.coupon_pools.size(); ++i)
    ValidateCouponPool(opts.coupon_pools[i], "coupon_pools[" + std::to_string(i) + "]");
  ValidateExitIntentPolicy(opts.exit_intent);
  if (!opts.exit_intent_pool.empty()) {
    bool found = false;
    for (const auto& p : opts.coupon_pools) found = found || p.name == opts.exit_intent_pool;
    if (!found)
      throw ConfigError("exit_intent.pool", "no coupon pool named '" + opts.exit_intent_pool + "'");
  }
  if (!IsCurrencyCode(opts.currency))
    throw ConfigError("settings.currency", "'" + opts.currency + "' is not an ISO 4217 code like EUR");
  outbox = MakeOutboxChannel(opts.outbox_directory);
  if (opts.worker_id.empty()) {
    char host[256] = {0};
    gethostname(host, sizeof(host) - 1);
    worker_id = std::string(host) + ":" + std::to_string(getpid());
  } else {
    worker_id = opts.worker_id;
  }
  pid = getpid();
  rt = NewRuntime();
  if (!opts.coupon_pools.empty()) {
    std::lock_guard<std::timed_mutex> lock(rt->store_mu);
    rt->store->Write([&] {
      for (const auto& p : opts.coupon_pools) SavePoolLocked(*rt->store, p);
    });
  }
}

void Engine::Impl::SavePoolLocked(Store& store, const CouponPool& pool) {
  store.SavePool(pool);
  if (pool.kind == PoolKind::kStatic) {
    Coupon c;
    c.code = pool.static_code;
    c.shown = pool.static_code_shown;  // what shoppers are sent (S10)
    c.pool = pool.name;
    c.shared = true;
    c.discount = pool.discount;
    c.expires_ms = pool.expires_ms;
    store.AddCoupons({c});
  }
}

// ---- fork ------------------------------------------------------------------------------
// fork() copies only the calling thread. If another thread of ours were inside SQLite at
// that moment, the child could inherit a SQLite-global mutex (the unix VFS's, the memory
// allocator's) locked forever, and hang on its first open. Every store call happens under
// a runtime's store_mu, so holding all of them across fork() means no thread of ours is in
// SQLite when the process is copied. Threads holding store_mu never wait for the GIL or
// for the forking thread, so this cannot deadlock.
namespace {

std::mutex& LiveRuntimesMutex() {
  static std::mutex* mu = new std::mutex;  // never destroyed: used at exit and after fork
  return *mu;
}

std::set<Runtime*>& LiveRuntimes() {  // guarded by LiveRuntimesMutex()
  static std::set<Runtime*>* runtimes = new std::set<Runtime*>;
  return *runtimes;
}

void BeforeFork() {
  LiveRuntimesMutex().lock();
  // The checkpointer takes store_mu before sqlite_mu too (checkpointer.h).
  for (Runtime* r : LiveRuntimes()) {
    r->store_mu.lock();
    r->sqlite_mu.lock();
  }
}

void AfterFork() {
  for (Runtime* r : LiveRuntimes()) {
    r->sqlite_mu.unlock();
    r->store_mu.unlock();
  }
  LiveRuntimesMutex().unlock();
}

void RegisterRuntime(Runtime* r) {
  static std::once_flag once;
  std::call_once(once, [] { pthread_atfork(BeforeFork, AfterFork, AfterFork); });
  std::lock_guard<std::mutex> lock(LiveRuntimesMutex());
  LiveRuntimes().insert(r);
}

void UnregisterRuntime(Runtime* r) {
  std::lock_guard<std::mutex> lock(LiveRuntimesMutex());
  LiveRuntimes().erase(r);
}

}  // namespace

Runtime::~Runtime() { UnregisterRuntime(this); }

std::unique_ptr<Runtime> Engine::Impl::NewRuntime() {
  auto r = std::make_unique<Runtime>();
  r->cart_cap = std::make_unique<internal::CartEventCap>(opts.max_events_per_cart,
                                                         opts.cart_event_window_ms);
  r->store = OpenStore(opts.store_url);
  Runtime* raw = r.get();
  r->clock_token = clock->Subscribe([this, raw] { WakeWorker(*raw); });
  RegisterRuntime(raw);
  return r;
}

Runtime& Engine::Impl::R() {
  if (closed) throw Error(ErrorCode::kInvalidArgument, "the engine is closed");
  pid_t now = getpid();
  if (now != pid) {
    // A child of fork(): the parent's threads are not here, its mutexes may be held
    // forever and its SQLite handle must not be touched. Leak them and start afresh.
    if (rt) {
      Runtime* old = rt.release();  // intentionally leaked
      UnregisterRuntime(old);       // no longer ours to lock around a fork
      clock->Unsubscribe(old->clock_token);  // its worker does not exist here
      old->checkpointer.release();          // nor its checkpointer's thread
      old->store.release();                 // neither used nor closed here
    }
    pid = now;
    if (opts.worker_id.empty()) {
      char host[256] = {0};
      gethostname(host, sizeof(host) - 1);
      worker_id = std::string(host) + ":" + std::to_string(now);
    }
    rt = NewRuntime();
  }
  return *rt;
}

// ---- ingest ----------------------------------------------------------------------------

void Engine::Impl::StartWriterLocked(Runtime& r) {
  if (r.writer_running) return;
  r.writer_running = true;
  r.writer_stop = false;
  r.writer = std::thread([this, &r] { WriterLoop(&r); });
}

int64_t Engine::Impl::Enqueue(Runtime& r, std::vector<Event> events, bool wait_for_room,
                              bool awaited) {
  std::unique_lock<std::mutex> lock(r.q_mu);
  StartWriterLocked(r);
  size_t i = 0;
  while (i < events.size()) {
    if (r.queue.size() >= opts.queue_capacity) {
      if (!wait_for_room)
        throw Error(ErrorCode::kQueueFull,
                    "the ingest queue is full (" + std::to_string(r.queue.size()) +
                        " events waiting to be committed); the store is not keeping up");
      r.commit_cv.wait(lock, [&] { return r.queue.size() < opts.queue_capacity; });
    }
    for (; i < events.size() && r.queue.size() < opts.queue_capacity; ++i)
      r.queue.push_back({++r.accepted_seq, std::move(events[i]), awaited});
    r.writer_cv.notify_one();
  }
  return r.accepted_seq;
}

void Engine::Impl::WaitCommitted(Runtime& r, int64_t seq) {
  std::unique_lock<std::mutex> lock(r.q_mu);
  r.commit_cv.wait(lock, [&] { return r.committed_seq >= seq; });
  // A refused sequence in the range we waited for is the caller's failure to see.
  auto it = r.failed.begin();
  if (it != r.failed.end() && it->first <= seq) {
    Error error = it->second;
    r.failed.erase(r.failed.begin(), r.failed.upper_bound(seq));
    throw error;
  }
}

void Engine::Impl::StartCheckpointer(Runtime& r) {
  std::lock_guard<std::timed_mutex> lock(r.store_mu);
  if (r.checkpoints_handed_off || !r.store) return;
  r.checkpoints_handed_off = true;  // tried once: on failure the commits keep checkpointing
  try {
    Runtime* rp = &r;
    r.checkpointer = internal::Checkpointer::Start(*r.store, r.store_mu, r.sqlite_mu,
                                                   [this, rp](const std::string& e) { SetError(*rp, e); });
  } catch (const std::exception& e) {
    SetError(r, std::string("checkpoint: ") + e.what());
  }
}

void Engine::Impl::WriterLoop(Runtime* rp) {
  Runtime& r = *rp;
  // Before the first commit: a durable track() waits for the writer's commits, which must
  // not copy the log into the file themselves (checkpointer.h).
  StartCheckpointer(r);
  std::vector<QueuedEvent> batch;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(r.q_mu);
      r.writer_cv.wait(lock, [&] { return !r.queue.empty() || r.writer_stop; });
      if (r.queue.empty()) break;  // stopping and drained
      // Group commit: whatever queued while the last batch was committing goes in one
      // transaction, so the cost of a commit is shared by every event waiting for it.
      size_t n = std::min(r.queue.size(), opts.max_batch);
      batch.clear();
      for (size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(r.queue.front()));
        r.queue.pop_front();
      }
    }
    CommitBatch(r, batch);
    {
      std::lock_guard<std::mutex> lock(r.q_mu);
      r.committed_seq = batch.back().seq;
    }
    r.commit_cv.notify_all();
    WakeWorker(r);  // new events may have made work due sooner
  }
}

namespace {
// Thrown inside a batch's transaction to roll it back and replay it event by event.
struct ReplayWithSavepoints {};
}  // namespace

std::vector<bool> Engine::Impl::CountInCap(Store& store, const std::vector<QueuedEvent>& batch) {
  if (opts.max_events_per_cart <= 0) return std::vector<bool>(batch.size(), true);
  std::vector<std::pair<std::string, Millis>> events;
  std::vector<std::string> carts;
  events.reserve(batch.size());
  for (const QueuedEvent& q : batch) {
    events.emplace_back(q.event.cart_id, q.event.at_ms);
    if (!q.event.cart_id.empty()) carts.push_back(q.event.cart_id);
  }
  if (carts.empty()) return std::vector<bool>(batch.size(), true);
  std::sort(carts.begin(), carts.end());
  carts.erase(std::unique(carts.begin(), carts.end()), carts.end());
  auto counts = store.LockCartEventCounts(carts);
  std::vector<bool> admitted =
      internal::AdmitToCap(counts, events, opts.max_events_per_cart, opts.cart_event_window_ms);
  store.SaveCartEventCounts(counts);
  return admitted;
}

void Engine::Impl::CommitBatch(Runtime& r, std::vector<QueuedEvent>& batch) {
  // A storage failure (disk full, lock held too long) fails the whole batch: retried a few
  // times, then reported to whoever waits. An event whose effects cannot be applied must
  // not take the others down: the batch is then replayed with one savepoint per event, so
  // that event alone is rolled back and reported. Savepoints cost a statement pair per
  // event, so the common case runs without them.
  bool savepoints = false;
  for (int attempt = 0;; ++attempt) {
    std::vector<std::pair<int64_t, Error>> refused;
    std::vector<const QueuedEvent*> over_cap;  // awaited ones: their callers see the error
    auto not_applied = [&](const QueuedEvent& item, const char* why) {
      refused.emplace_back(item.seq, Error(ErrorCode::kStorage, std::string(EventTypeName(item.event.type)) +
                                                                    " could not be applied: " + why));
    };
    try {
      std::lock_guard<std::timed_mutex> lock(r.store_mu);
      const std::vector<std::string> keys = EventLockKeys(*r.store, batch);
      r.store->Write([&] {
        r.store->LockKeys(keys);  // PostgreSQL: only these shoppers' writers wait (store.h)
        // Counted first, for the whole batch: an event that fails below stays counted.
        const std::vector<bool> admitted = CountInCap(*r.store, batch);
        for (size_t i = 0; i < batch.size(); ++i) {
          QueuedEvent& item = batch[i];
          if (!admitted[i]) {
            if (item.awaited) over_cap.push_back(&item);
            continue;
          }
          try {
            if (savepoints) r.store->Write([&] { Apply(*r.store, item.event); });
            else Apply(*r.store, item.event);
          } catch (const Error& e) {
            if (e.code() == ErrorCode::kStorage) throw;
            if (!savepoints) throw ReplayWithSavepoints{};
            not_applied(item, e.what());
          } catch (const std::exception& e) {
            if (!savepoints) throw ReplayWithSavepoints{};
            not_applied(item, e.what());
          }
        }
      });
      if (!refused.empty() || !over_cap.empty()) {
        std::lock_guard<std::mutex> lock(r.q_mu);
        for (auto& f : refused) r.failed.insert_or_assign(f.first, f.second);
        for (const QueuedEvent* q : over_cap)
          r.failed.insert_or_assign(q->seq, CartCapError("cart_id", q->event.cart_id));
        if (!refused.empty()) SetError(r, refused.back().second.what());
      }
      return;
    } catch (const ReplayWithSavepoints&) {
      savepoints = true;
      --attempt;  // not a storage failure: replay at once
    } catch (const std::exception& e) {
      SetError(r, e.what());
      if (attempt >= 4) {
        std::lock_guard<std::mutex> lock(r.q_mu);
        for (auto& item : batch)
          r.failed.insert_or_assign(item.seq, Error(ErrorCode::kStorage, std::string("not stored: ") + e.what()));
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50 << attempt));
    }
  }
}

Error Engine::Impl::CartCapError(const std::string& field, const std::string& cart_id) const {
  return InvalidArgument(field, "cart '" + cart_id + "' already had " +
                                    std::to_string(opts.max_events_per_cart) + " events within " +
                                    FormatDuration(opts.cart_event_window_ms) +
                                    " (max_events_per_cart); this one is refused");
}

void Engine::Impl::SetError(Runtime& r, const std::string& error) {
  std::lock_guard<std::mutex> lock(r.info_mu);
  r.last_error = error;
}

// ---- worker ----------------------------------------------------------------------------

void Engine::Impl::WakeWorker(Runtime& r) {
  {
    std::lock_guard<std::mutex> lock(r.w_mu);
    r.worker_wake = true;
  }
  r.worker_cv.notify_all();
}

void Engine::Impl::WorkerLoop(Runtime* rp) {
  Runtime& r = *rp;
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(r.w_mu);
      if (r.worker_stop) return;
      r.worker_wake = false;
    }
    Millis now = clock->NowMillis();
    std::optional<Millis> next;
    try {
      RunDueJobs(r, now, /*stoppable=*/true);
      std::lock_guard<std::timed_mutex> lock(r.store_mu);
      next = r.store->NextDueMs();
    } catch (const std::exception& e) {
      SetError(r, std::string("worker: ") + e.what());
    }
    std::unique_lock<std::mutex> lock(r.w_mu);
    if (r.worker_stop) return;
    if (clock->IsManual()) {
      // Time moves only when someone advances the clock, which wakes us; the idle bound
      // still lets us see jobs that other processes add.
      r.worker_cv.wait_for(lock, std::chrono::milliseconds(opts.worker_idle_ms),
                           [&] { return r.worker_wake || r.worker_stop; });
    } else {
      Millis wait = opts.worker_idle_ms;
      if (next) wait = std::clamp<Millis>(*next - clock->NowMillis(), 0, wait);
      r.worker_cv.wait_for(lock, std::chrono::milliseconds(wait),
                           [&] { return r.worker_wake || r.worker_stop; });
    }
  }
}

// ---- Engine ----------------------------------------------------------------------------

Engine::Engine(EngineOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Engine::~Engine() {
  try {
    Close();
  } catch (...) {
    // Destructors do not throw; Close() reported nothing the caller could still act on.
  }
}

void Engine::Track(const std::string& type, const Value& fields, std::optional<Millis> at,
                   bool durable) {
  Await(Accept(type, fields, at, durable));
}

int64_t Engine::Accept(const std::string& type, const Value& fields, std::optional<Millis> at,
                       bool durable) {
  Event e = ParseEvent(type, fields, at ? *at : impl_->clock->NowMillis(), impl_->opts.currency);
  bool wait = durable || GatesSending(e);
  Runtime& r = impl_->R();
  if (r.cart_cap->Admit({{e.cart_id, e.at_ms}}) >= 0) throw impl_->CartCapError("cart_id", e.cart_id);
  std::vector<Event> one;
  one.push_back(std::move(e));
  int64_t seq = impl_->Enqueue(r, std::move(one), false, wait);
  return wait ? seq : 0;
}

void Engine::Await(int64_t ticket) {
  if (ticket > 0) impl_->WaitCommitted(impl_->R(), ticket);
}

size_t Engine::TrackMany(const std::vector<std::pair<std::string, Value>>& events,
                         const std::vector<std::optional<Millis>>& at_ms, bool durable) {
  std::vector<Event> parsed;
  parsed.reserve(events.size());
  Millis now = impl_->clock->NowMillis();
  bool wait = durable;
  for (size_t i = 0; i < events.size(); ++i) {
    std::optional<Millis> at = i < at_ms.size() ? at_ms[i] : std::nullopt;
    try {
      parsed.push_back(ParseEvent(events[i].first, events[i].second, at ? *at : now, impl_->opts.currency));
    } catch (const Error& e) {
      std::string field = "[" + std::to_string(i) + "]" + (e.field().empty() ? "" : "." + e.field());
      // e.what() already starts with "<field>: "; say the field once, with its index.
      std::string what = e.what();
      if (!e.field().empty() && what.rfind(e.field() + ": ", 0) == 0) what.erase(0, e.field().size() + 2);
      throw InvalidArgument(field, what);
    }
    wait = wait || GatesSending(parsed.back());
  }
  if (parsed.empty()) return 0;
  Runtime& r = impl_->R();
  std::vector<std::pair<std::string, Millis>> carts;
  carts.reserve(parsed.size());
  for (const Event& e : parsed) carts.emplace_back(e.cart_id, e.at_ms);
  if (int64_t over = r.cart_cap->Admit(carts); over >= 0)
    throw impl_->CartCapError("[" + std::to_string(over) + "].cart_id", parsed[over].cart_id);
  size_t n = parsed.size();
  int64_t seq = impl_->Enqueue(r, std::move(parsed), true, wait);
  if (wait) impl_->WaitCommitted(r, seq);
  return n;
}

void Engine::Flush() {
  Runtime& r = impl_->R();
  int64_t seq;
  {
    std::lock_guard<std::mutex> lock(r.q_mu);
    seq = r.accepted_seq;
  }
  impl_->WaitCommitted(r, seq);
}

void Engine::Close() {
  if (impl_->closed) return;
  Runtime& r = impl_->R();
  Stop();
  std::string error;
  try {
    Flush();
  } catch (const Error& e) {
    error = e.what();
  }
  {
    std::lock_guard<std::mutex> lock(r.q_mu);
    r.writer_stop = true;
  }
  r.writer_cv.notify_all();
  if (r.writer.joinable()) r.writer.join();
  impl_->clock->Unsubscribe(r.clock_token);
  std::unique_ptr<internal::Checkpointer> checkpointer;
  {
    std::lock_guard<std::timed_mutex> lock(r.store_mu);
    checkpointer = std::move(r.checkpointer);
  }
  // Joined without store_mu (its last round may be waiting for it). Its connection closes
  // first, so the store's is the file's last and copies the whole log in when it closes.
  checkpointer.reset();
  {
    std::lock_guard<std::timed_mutex> lock(r.store_mu);
    r.store.reset();
  }
  impl_->closed = true;
  if (!error.empty()) throw Error(ErrorCode::kStorage, error);
}

int Engine::RunDue(std::optional<Millis> now) {
  Flush();
  Runtime& r = impl_->R();
  return impl_->RunDueJobs(r, now ? *now : impl_->clock->NowMillis());
}

void Engine::Start() {
  Runtime& r = impl_->R();
  impl_->StartCheckpointer(r);  // the worker's batches do not copy the log either
  std::lock_guard<std::mutex> lock(r.w_mu);
  if (r.worker_running) return;
  r.worker_running = true;
  r.worker_stop = false;
  Impl* impl = impl_.get();
  r.worker = std::thread([impl, &r] { impl->WorkerLoop(&r); });
}

void Engine::Stop() {
  Runtime& r = impl_->R();
  {
    std::lock_guard<std::mutex> lock(r.w_mu);
    if (!r.worker_running) return;
    r.worker_stop = true;
  }
  r.worker_cv.notify_all();
  if (r.worker.joinable()) r.worker.join();
  std::lock_guard<std::mutex> lock(r.w_mu);
  r.worker_running = false;
}

bool Engine::Running() const {
  if (impl_->closed || !impl_->rt) return false;
  // In a child of fork() rt is still the parent's runtime (R() replaces it on first use),
  // whose worker thread did not come along; its mutex may even be held forever.
  if (impl_->pid != getpid()) return false;
  std::lock_guard<std::mutex> lock(impl_->rt->w_mu);
  return impl_->rt->worker_running;
}

std::optional<CartView> Engine::GetCart(const std::string& cart_id) {
  Flush();
  Runtime& r = impl_->R();
  std::lock_guard<std::timed_mutex> lock(r.store_mu);
  auto cart = r.store->LoadCart(cart_id);
  if (!cart) return std::nullopt;
  CartView view;
  view.cart = std::move(*cart);
  view.journey = r.store->LatestJourneyOfCart(cart_id);
  if (!view.journey && !view.cart.contact_key.empty()) {
    // The contact's journey may have moved here from another cart, or be on a newer one.
    auto j = r.store->RunningJourneyOfContact(view.cart.contact_key);
    if (j && j->cart_id == cart_id) view.journey = j;
  }
  return view;
}

std::vector<MessageRecord> Engine::Messages(const std::string& cart_id, const std::string& email,
                                            int limit) {
  Flush();
  Runtime& r = impl_->R();
  MessageFilter f;
  f.cart_id = cart_id;
  f.limit = limit;
  if (!email.empty()) {
    std::string lower = email;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    f.contact_key = ContactKeyOf(lower, "");
  }
  std::lock_guard<std::timed_mutex> lock(r.store_mu);
  return r.store->ListMessages(f);
}

EngineStatus Engine::Status() {
  Runtime& r = impl_->R();
  EngineStatus st;
  st.now_ms = impl_->clock->NowMillis();
  {
    std::lock_guard<std::timed_mutex> lock(r.store_mu);
    st.store = r.store->Status(st.now_ms);
  }
  {
    std::lock_guard<std::mutex> lock(r.q_mu);
    st.queued = r.queue.size();
    st.committed = r.committed_seq;
  }
  {
    std::lock_guard<std::mutex> lock(r.w_mu);
    st.worker_running = r.worker_running;
  }
  std::lock_guard<std::mutex> lock(r.info_mu);
  st.last_error = r.last_error;
  st.this_worker_last_run_ms = r.last_run_ms;
  return st;
}

Millis Engine::Now() const { return impl_->clock->NowMillis(); }
const std::vector<Flow>& Engine::flows() const { return impl_->flows; }
const std::string& Engine::worker_id() const { return impl_->worker_id; }

const Flow* Engine::Impl::FindFlow(const std::string& name) const {
  for (const auto& f : flows)
    if (f.name == name) return &f;
  return nullptr;
}

Channel* Engine::Impl::ChannelFor(const std::string& name) const {
  if (!opts.channels_given) return outbox.get();
  auto it = opts.channels.find(name);
  return it == opts.channels.end() ? nullptr : it->second.get();
}

std::string Engine::Impl::NewJourneyId(const std::string& contact_key, const std::string& cart_id,
                                       Millis at) const {
  return DerivedId("j_", contact_key + "\n" + cart_id + "\n" + std::to_string(at));
}

}  // namespace cartrecovery
