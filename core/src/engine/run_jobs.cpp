// What a due job does. Two kinds:
//   abandon <cart>     the cart has been quiet for abandon_after: start (or move) a journey
//   step <journey>     send the journey's next step, then schedule the one after it
// A worker claims up to kClaimBatch due jobs in one statement, keeps their leases alive
// while it works (LeaseKeeper), runs the batch's abandonments in one transaction and its
// steps as plan -> deliver -> record (send_step.cpp), one bad job undone alone. Every decision
// not to send is a message row with status "suppressed" and its reason (S7).
#include <algorithm>
#include <chrono>

#include "cartrecovery/status.h"
#include "engine/deliveries.h"
#include "engine/engine_impl.h"
#include "engine/lease_keeper.h"

namespace cartrecovery {
namespace {

constexpr int kClaimBatch = 500;
constexpr std::chrono::seconds kHeartbeatEvery(5);
constexpr Millis kCouponGrace = 30 * kDay;

}  // namespace

int Engine::Impl::RunDueJobs(Runtime& r, Millis now, bool stoppable) {
  int ran = 0;
  // Keep claiming until nothing is due: a job may make another one due at once (an
  // abandonment starts a journey whose first step is already due). Bounded in case a bug
  // ever makes a job reschedule itself at `now` forever.
  for (int round = 0; round < 10000; ++round) {
    std::vector<JobRecord> jobs;
    if (StopAsked(r, stoppable)) break;  // claim nothing more once a shutdown is asked
    {
      std::lock_guard<std::timed_mutex> lock(r.store_mu);
      // An idle run costs no commit (no fsync) unless the heartbeat is due: nothing to
      // claim is a read, and the heartbeat that lets `cartrecovery status` tell a live
      // worker from a dead one is written at most every kHeartbeatEvery of real time.
      auto wall = std::chrono::steady_clock::now();
      if (round == 0) PruneIfDueLocked(r, now);  // retention.cpp: one bounded round
      bool heartbeat = round == 0 && wall - r.last_heartbeat >= kHeartbeatEvery;
      if (!heartbeat) {
        auto next = r.store->NextDueMs();
        if (!next || *next > now) break;
      }
      r.store->Write([&] {
        r.store->LockKeys({});  // the claim skips rows another worker holds (SKIP LOCKED)
        if (heartbeat) {
          r.store->RecordWorkerRun(worker_id, now, 0);
          // Expired codes nobody used do not pile up; a grace period keeps telling a shopper
          // "expired" rather than "unknown" for a while (offer.h IsPrunable).
          r.store->PruneCoupons(now, kCouponGrace);
        }
        jobs = r.store->ClaimDueJobs(now, kClaimBatch, opts.lease_ms);
      });
      if (heartbeat) r.last_heartbeat = wall;
    }
    if (jobs.empty()) break;
    // The batch stays ours while we work on it, however slow a channel is (lease_keeper.h).
    std::vector<std::pair<int64_t, int>> claims;
    for (const auto& job : jobs) claims.emplace_back(job.job_id, job.attempt);
    const Millis claimed_until = now + opts.lease_ms;
    // The keeper waits for the store lock itself, in turn with the delivering threads.
    internal::LeaseKeeper keeper(clock, opts.lease_ms, r.store_mu,
                                 [&r, claims, claimed_until](Millis until) {
      // run_due(now) may run ahead of the clock: a renewal never shortens the claim.
      until = std::max(until, claimed_until);
      r.store->Write([&] {
        r.store->LockKeys({});  // fenced by each claim's attempt, nobody's rows but ours
        r.store->RenewClaims(claims, until);
      });
    });
    // Abandonments and steps go by the batch (one transaction per phase, not per job);
    // the rare alerts one by one.
    std::vector<JobRecord> abandons, steps;
    for (const auto& job : jobs) {
      if (job.kind == "abandon") abandons.push_back(job);
      else if (job.kind == "step") steps.push_back(job);
    }
    if (!abandons.empty()) RunAbandonJobs(r, abandons, now);
    if (!steps.empty()) {
      try {
        RunStepJobs(r, steps, now, stoppable);
      } catch (const std::exception& e) {
        // The batch stays claimed; its leases expire and it is tried again.
        SetError(r, std::string("step jobs: ") + e.what());
      }
    }
    ran += static_cast<int>(abandons.size() + steps.size());
    for (const auto& job : jobs) {
      if (job.kind == "abandon" || job.kind == "step") continue;
      if (StopAsked(r, stoppable)) {
        ReleaseClaims(r, {job});  // the rest of the batch goes back at once, one by one
        continue;
      }
      try {
        if (job.kind == "alert") RunAlertJob(r, job, now);
        else if (job.kind == "pool_alert") RunPoolAlertJob(r, job, now);
        else {
          std::lock_guard<std::timed_mutex> lock(r.store_mu);
          r.store->Write([&] {
            r.store->LockKeys({});
            r.store->FinishJob(job.job_id, job.attempt);
          });
        }
      } catch (const std::exception& e) {
        // The job stays claimed; its lease expires and it is tried again.
        SetError(r, "job " + job.kind + " " + job.subject + ": " + e.what());
      }
      ++ran;
    }
    keeper.Stop();
    if (StopAsked(r, stoppable)) break;
  }
  if (ran > 0) {
    // Connections stay open across the messages of one run and are closed after it.
    std::lock_guard<std::mutex> send_lock(r.send_mu);
    outbox->Close();
    for (auto& kv : opts.channels) kv.second->Close();
  }
  if (ran > 0) {
    std::lock_guard<std::timed_mutex> lock(r.store_mu);
    r.store->Write([&] {
      r.store->LockKeys({});  // this worker's own row
      r.store->RecordWorkerRun(worker_id, now, ran);
    });
  }
  std::lock_guard<std::mutex> lock(r.info_mu);
  r.last_run_ms = now;
  return ran;
}

bool Engine::Impl::StopAsked(Runtime& r, bool stoppable) {
  if (!stoppable) return false;
  std::lock_guard<std::mutex> lock(r.w_mu);
  return r.worker_stop;
}

void Engine::Impl::ReleaseClaims(Runtime& r, const std::vector<JobRecord>& jobs) {
  // Shutting down (SIGTERM): claimed jobs not started go back to pending at their due time
  // now, not when their lease runs out, so another worker (or this one restarted) takes
  // them at once. The fencing token (attempt) keeps a stale release harmless.
  std::lock_guard<std::timed_mutex> lock(r.store_mu);
  r.store->Write([&] {
    r.store->LockKeys({});
    for (const auto& job : jobs) r.store->RetryJob(job.job_id, job.attempt, job.due_ms);
  });
}

void Engine::Impl::RunAbandonJobs(Runtime& r, const std::vector<JobRecord>& jobs, Millis now) {
  // One transaction for the batch, a savepoint per job: a job that throws is undone alone
  // and stays claimed (tried again after its lease).
  std::lock_guard<std::timed_mutex> lock(r.store_mu);
  Store& store = *r.store;
  try {
    // PostgreSQL: the batch's carts and contacts are locked first, in one sorted step, so
    // that other workers and the writers of events pass by unless they touch the same
    // shopper; a key found only on the way is locked then (store.h).
    std::vector<std::string> carts;
    for (const auto& job : jobs) carts.push_back(job.subject);
    const std::vector<std::string> keys = store.CartLockKeys(carts);
    store.WriteRepeatable([&] {
      store.LockKeys(keys);
      for (const auto& job : jobs) {
        try {
          store.Write([&] { AbandonCart(store, job, now); });
        } catch (const std::exception& e) {
          SetError(r, "job abandon " + job.subject + ": " + e.what());
        }
      }
    });
  } catch (const std::exception& e) {
    SetError(r, std::string("abandon jobs: ") + e.what());
  }
}

void Engine::Impl::AbandonCart(Store& store, const JobRecord& job, Millis now) {
  {
    if (!store.ClaimIsCurrent(job.job_id, job.attempt)) return;
    auto cart = store.LoadCart(job.subject);
    if (!cart || cart->state != CartState::kActive || !cart->HasItems()) {
      store.FinishJob(job.job_id, job.attempt);
      return;
    }
    if (cart->last_activity_ms + min_abandon_after_ms > now) {  // activity since scheduling
      store.RetryJob(job.job_id, job.attempt, cart->last_activity_ms + min_abandon_after_ms);
      return;
    }
    store.FinishJob(job.job_id, job.attempt);
    cart->state = CartState::kAbandoned;
    store.SaveCart(*cart);
    // R3.10: the team hears of a valuable cart at once, whatever the flows decide.
    if (WantsSalesAlert(*cart))
      store.ScheduleJob("alert", cart->cart_id + "@" + std::to_string(cart->last_activity_ms), now);

    Contact contact;
    if (!cart->contact_key.empty())
      contact = store.LoadContact(cart->contact_key).value_or(Contact{});
    contact.key = cart->contact_key;

    // The first flow that takes the cart wins; otherwise the first flow's reason is kept.
    const Flow* flow = nullptr;
    std::string refusal;
    for (const auto& f : flows) {
      if (cart->last_activity_ms + f.abandon_after_ms > now) continue;
      auto why = EntryRefusal(f, *cart, contact);
      if (!why) {
        flow = &f;
        break;
      }
      if (refusal.empty()) refusal = *why;
    }
    if (!flow && refusal.empty()) {
      // A flow with a longer abandon_after may still take it later.
      Millis next = INT64_MAX;
      for (const auto& f : flows) next = std::min(next, cart->last_activity_ms + f.abandon_after_ms);
      if (next > now) store.ScheduleJob("abandon", cart->cart_id, next);
      return;
    }

    const std::string journey_key = contact.key.empty() ? "cart:" + cart->cart_id : contact.key;
    auto record_refusal = [&](const Flow& f, const std::string& reason) {
      JourneyRecord j;
      j.journey_id = NewJourneyId(journey_key, cart->cart_id, now);
      j.contact_key = journey_key;
      j.cart_id = cart->cart_id;
      j.flow = f.name;
      auto pi = f.ChoosePath(contact, *cart);
      const Path& path = f.paths[pi.value_or(0)];
      j.path = path.name;
      j.state = JourneyState::kRefused;
      j.end_reason = reason;
      j.started_ms = j.updated_ms = now;
      store.SaveJourney(j);
      for (const auto& ch : path.steps.front().channels) {
        MessageRecord m;
        m.message_id = DerivedId("m_", j.journey_id + "\n1\n" + ch);
        m.journey_id = j.journey_id;
        m.cart_id = cart->cart_id;
        m.contact_key = journey_key;
        m.flow = f.name;
        m.path = path.name;
        m.step = 1;
        m.channel = ch;
        m.status = MessageStatus::kSuppressed;
        m.reason = reason;
        m.to = internal::ShownAddress(ch, contact);
        m.due_ms = m.created_ms = now;
        store.InsertMessage(m);
      }
    };
    if (!flow) {
      record_refusal(flows.front(), refusal);
      return;
    }

    // One running journey per contact: a new cart (another device) takes the journey over.
    if (auto running = store.RunningJourneyOfContact(contact.key)) {
      running->cart_id = cart->cart_id;
      const Flow* rf = FindFlow(running->flow);
      Millis quiet_until = cart->last_activity_ms + (rf ? rf->abandon_after_ms : min_abandon_after_ms);
      running->next_due_ms = std::max(running->next_due_ms, quiet_until);
      running->updated_ms = now;
      store.SaveJourney(*running);
      store.ScheduleJob("step", running->journey_id, running->next_due_ms);
      return;
    }
    if (auto why = NewJourneyRefusal(flow->policies, contact, now)) {  // S5, R2.7
      record_refusal(*flow, *why);
      return;
    }
    auto path_index = flow->ChoosePath(contact, *cart);
    const Path& path = flow->paths[*path_index];
    JourneyRecord j;
    j.journey_id = NewJourneyId(journey_key, cart->cart_id, now);
    j.contact_key = journey_key;
    j.cart_id = cart->cart_id;
    j.flow = flow->name;
    j.path = path.name;
    j.started_ms = j.updated_ms = now;
    JourneyProgress p;
    p.next_step = 0;
    p.last_activity_ms = cart->last_activity_ms;
    DueStep due = NextDue(*flow, path, p, now);
    j.next_due_ms = due.due_ms;
    j.next_branch = due.branch;
    store.SaveJourney(j);
    store.ScheduleJob("step", j.journey_id, due.due_ms);
  }
}

}  // namespace cartrecovery
