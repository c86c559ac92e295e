// What a due job does. Two kinds:
//   abandon <cart>     the cart has been quiet for abandon_after: start (or move) a journey
//   step <journey>     send the journey's next step, then schedule the one after it
// A step is claim -> prepare (transaction: re-check, render, record "sending") -> send (no
// transaction, no store lock) -> mark (transaction: sent / retry / failed, advance). Every
// decision not to send is a message row with status "suppressed" and its reason (S7).
#include <algorithm>

#include "cartrecovery/status.h"
#include "engine/engine_impl.h"

namespace cartrecovery {
namespace {

constexpr int kClaimBatch = 100;

// The address a channel writes to, or empty.
// The address a channel writes to, or empty. Three channel names carry a meaning: "email"
// (the e-mail address), "sms" (the phone) and "push" (the browser's subscription); any
// other channel (webhooks, the shop's own callbacks) is about the contact as a whole.
std::string AddressFor(const std::string& channel, const Contact& c) {
  if (channel == "email") return c.email;
  if (channel == "sms") return c.phone;
  if (channel == "push") return c.push_subscription;
  return c.key;
}

bool Bounced(const std::string& channel, const Contact& c) {
  return (channel == "email" && c.email_bounced) || (channel == "sms" && c.phone_bounced);
}

// Consent as given for a channel; only an explicit "no" stops a reminder here (the
// policies issue adds per-jurisdiction rules).
bool ConsentRefused(const std::string& channel, const Contact& c) {
  if (channel == "email") return c.consent.email == false;
  if (channel == "sms") return c.consent.sms == false;
  if (channel == "push") return c.consent.push == false;
  return false;
}

struct PendingSend {
  MessageRecord message;
  OutgoingMessage outgoing;
  Channel* channel = nullptr;
};

}  // namespace

int Engine::Impl::RunDueJobs(Runtime& r, Millis now) {
  int ran = 0;
  // Keep claiming until nothing is due: a job may make another one due at once (an
  // abandonment starts a journey whose first step is already due). Bounded in case a bug
  // ever makes a job reschedule itself at `now` forever.
  for (int round = 0; round < 10000; ++round) {
    std::vector<JobRecord> jobs;
    {
      std::lock_guard<std::mutex> lock(r.store_mu);
      // The heartbeat rides in the first claim's transaction: one commit (one fsync) per
      // idle run, so `cartrecovery status` can tell a live worker from a dead one cheaply.
      r.store->Write([&] {
        if (round == 0) r.store->RecordWorkerRun(worker_id, now, 0);
        jobs = r.store->ClaimDueJobs(now, kClaimBatch, opts.lease_ms);
      });
    }
    for (const auto& job : jobs) {
      try {
        if (job.kind == "abandon") RunAbandonJob(r, job, now);
        else if (job.kind == "step") RunStepJob(r, job, now);
        else {
          std::lock_guard<std::mutex> lock(r.store_mu);
          r.store->Write([&] { r.store->FinishJob(job.job_id, job.attempt); });
        }
      } catch (const std::exception& e) {
        // The job stays claimed; its lease expires and it is tried again.
        SetError(r, "job " + job.kind + " " + job.subject + ": " + e.what());
      }
      ++ran;
    }
    if (jobs.empty()) break;
  }
  if (ran > 0) {
    // Connections stay open across the messages of one run and are closed after it.
    std::lock_guard<std::mutex> send_lock(r.send_mu);
    outbox->Close();
    for (auto& kv : opts.channels) kv.second->Close();
  }
  if (ran > 0) {
    std::lock_guard<std::mutex> lock(r.store_mu);
    r.store->Write([&] { r.store->RecordWorkerRun(worker_id, now, ran); });
  }
  std::lock_guard<std::mutex> lock(r.info_mu);
  r.last_run_ms = now;
  return ran;
}

void Engine::Impl::RunAbandonJob(Runtime& r, const JobRecord& job, Millis now) {
  std::lock_guard<std::mutex> lock(r.store_mu);
  Store& store = *r.store;
  store.Write([&] {
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
      auto pi = f.ChoosePath(contact);
      const Path& path = f.paths[pi.value_or(0)];
      j.path = path.name;
      j.state = "refused";
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
        m.status = "suppressed";
        m.reason = reason;
        m.to = AddressFor(ch, contact) == contact.key ? "" : AddressFor(ch, contact);
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
    auto path_index = flow->ChoosePath(contact);
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
  });
}

void Engine::Impl::RunStepJob(Runtime& r, const JobRecord& job, Millis now) {
  // Only one job's deliveries at a time in this process: channels keep one connection.
  std::lock_guard<std::mutex> send_lock(r.send_mu);
  std::vector<PendingSend> sends;
  std::optional<JourneyRecord> journey;
  const Flow* flow = nullptr;
  const Path* path = nullptr;
  std::optional<Engagement> branch;

  // Prepare.
  {
    std::lock_guard<std::mutex> lock(r.store_mu);
    Store& store = *r.store;
    store.Write([&] {
      if (!store.ClaimIsCurrent(job.job_id, job.attempt)) return;
      journey = store.LoadJourney(job.subject);
      if (!journey || journey->state != "running") {
        store.FinishJob(job.job_id, job.attempt);
        journey.reset();
        return;
      }
      flow = FindFlow(journey->flow);
      path = flow ? flow->FindPath(journey->path) : nullptr;
      if (!path || journey->next_step >= static_cast<int>(path->steps.size())) {
        EndJourney(store, *journey, path ? "completed" : "flow_removed", now);
        journey.reset();
        return;
      }
      auto cart = store.LoadCart(journey->cart_id);
      Contact contact = store.LoadContact(journey->contact_key).value_or(Contact{});
      contact.key = journey->contact_key;
      if (!cart || cart->state == CartState::kRecovered || cart->state == CartState::kOrdered) {
        EndJourney(store, *journey, "ordered", now);
        journey.reset();
        return;
      }
      if (cart->state == CartState::kEmptied || !cart->HasItems()) {
        EndJourney(store, *journey, "emptied", now);
        journey.reset();
        return;
      }
      // S3: the shopper is back; wait until the cart is quiet again.
      Millis quiet_until = cart->last_activity_ms + flow->abandon_after_ms;
      if (quiet_until > now) {
        journey->next_due_ms = quiet_until;
        store.SaveJourney(*journey);
        store.RetryJob(job.job_id, job.attempt, quiet_until);
        journey.reset();
        return;
      }
      const Step& step = path->steps[journey->next_step];
      branch = step.IsBranched() ? journey->next_branch : std::nullopt;
      if (step.IsBranched() && !branch) branch = Engagement::kUnopened;
      std::string tmpl = step.IsBranched() ? step.BranchFor(*branch).template_name : step.template_name;
      for (const auto& ch : step.channels) {
        MessageRecord m;
        m.message_id = DerivedId("m_", journey->journey_id + "\n" +
                                           std::to_string(journey->next_step + 1) + "\n" + ch);
        auto existing = store.LoadMessage(m.message_id);
        if (existing && existing->status != "retrying" && existing->status != "sending") continue;
        if (existing) m = *existing;
        m.journey_id = journey->journey_id;
        m.cart_id = cart->cart_id;
        m.contact_key = contact.key;
        m.flow = flow->name;
        m.path = path->name;
        m.step = journey->next_step + 1;
        m.branch = branch;
        m.channel = ch;
        m.due_ms = existing ? existing->due_ms : journey->next_due_ms;
        m.created_ms = existing ? existing->created_ms : now;
        std::string address = AddressFor(ch, contact);
        Channel* channel = ChannelFor(ch);
        std::string reason;
        if (contact.unsubscribed) reason = "unsubscribed";
        else if (!channel) reason = "channel_not_configured";
        else if (address.empty()) reason = "no_address";  // R3.1: SMS without a phone
        else if (Bounced(ch, contact)) reason = "bounced";
        else if (ConsentRefused(ch, contact)) reason = "no_consent";
        if (!reason.empty()) {
          m.status = "suppressed";
          m.reason = reason;
          m.to = address == contact.key ? "" : address;
          if (existing) store.UpdateMessage(m);
          else store.InsertMessage(m);
          continue;
        }
        RenderRequest req;
        req.shop = opts.shop;
        req.cart = *cart;
        req.contact = contact;
        req.flow = flow->name;
        req.path = path->name;
        req.step = m.step;
        req.branch = branch;
        req.channel = ch;
        req.template_name = tmpl;
        req.cart_url = !cart->restore_url.empty() ? cart->restore_url : opts.shop.base_url;
        req.unsubscribe_url = opts.shop.base_url.empty() ? "" : opts.shop.base_url + "unsubscribe";
        RenderedMessage rendered = Render(req);
        m.status = "sending";
        m.reason.clear();
        m.to = address;
        m.subject = rendered.subject;
        m.text = rendered.text;
        m.html = rendered.html;
        if (existing) store.UpdateMessage(m);
        else store.InsertMessage(m);
        PendingSend ps;
        ps.message = m;
        ps.channel = channel;
        ps.outgoing.message_id = m.message_id;
        ps.outgoing.channel = ch;
        ps.outgoing.to = address;
        ps.outgoing.to_name = contact.consent.personalization == true ? contact.first_name : "";
        ps.outgoing.subject = rendered.subject;
        ps.outgoing.text = rendered.text;
        ps.outgoing.html = rendered.html;
        ps.outgoing.date_ms = now;
        sends.push_back(std::move(ps));
      }
    });
  }
  if (!journey) return;

  // Send: no transaction and no store lock held across the network.
  std::vector<std::pair<PendingSend*, std::optional<Error>>> results;
  for (auto& ps : sends) {
    {
      // S4: an order committed since we prepared stops the message here.
      std::lock_guard<std::mutex> lock(r.store_mu);
      auto current = r.store->LoadMessage(ps.message.message_id);
      if (!current || current->status != "sending") continue;
    }
    try {
      ps.channel->Send(ps.outgoing);
      results.emplace_back(&ps, std::nullopt);
    } catch (const Error& e) {
      results.emplace_back(&ps, e);
    } catch (const std::exception& e) {
      results.emplace_back(&ps, Error(ErrorCode::kTransientDelivery, e.what()));
    }
  }

  // Mark.
  std::lock_guard<std::mutex> lock(r.store_mu);
  Store& store = *r.store;
  store.Write([&] {
    bool any_sent = false;
    std::optional<Millis> retry_at;
    std::optional<Contact> contact = store.LoadContact(journey->contact_key);
    for (auto& [ps, error] : results) {
      MessageRecord m = ps->message;
      m.attempts += 1;
      if (!error) {
        m.status = "sent";
        m.sent_ms = now;
        any_sent = true;
      } else if (error->code() == ErrorCode::kTransientDelivery && MayRetry(opts.retry, m.attempts)) {
        m.status = "retrying";
        m.reason = error->what();
        Millis at = now + RetryDelay(opts.retry, m.attempts, error->retry_after_ms(), m.message_id);
        m.due_ms = at;
        retry_at = std::min(retry_at.value_or(at), at);
      } else {
        m.status = "failed";
        m.reason = error->what();
        // A permanent refusal of the address (hard bounce, expired push subscription)
        // suppresses it: the next journey does not try it again.
        if (contact && error->code() == ErrorCode::kPermanentDelivery) {
          if (m.channel == "email") contact->email_bounced = true;
          if (m.channel == "sms") contact->phone_bounced = true;
          if (m.channel == "push") contact->push_subscription.clear();
        }
      }
      store.UpdateMessage(m);
    }
    if (contact) {
      if (any_sent) contact->last_message_ms = now;
      store.SaveContact(*contact);
    }
    // A worker that lost its lease recorded what it sent; the journey belongs to the newer
    // claim from here on.
    if (!store.ClaimIsCurrent(job.job_id, job.attempt)) return;
    auto j = store.LoadJourney(journey->journey_id);
    if (!j || j->state != "running") {
      store.FinishJob(job.job_id, job.attempt);
      return;
    }
    if (retry_at) {
      store.RetryJob(job.job_id, job.attempt, *retry_at);
      return;
    }
    j->prev_sent_ms = now;
    j->prev_engagement = Engagement::kUnopened;
    j->prev_branch = branch;
    j->next_step += 1;
    j->updated_ms = now;
    if (j->next_step >= static_cast<int>(path->steps.size())) {
      j->state = "completed";
      j->next_branch.reset();
      store.SaveJourney(*j);
      store.FinishJob(job.job_id, job.attempt);
      if (auto cart = store.LoadCart(j->cart_id)) {
        if (cart->state == CartState::kAbandoned) {
          cart->state = CartState::kExpired;
          store.SaveCart(*cart);
        }
      }
      return;
    }
    auto cart = store.LoadCart(j->cart_id);
    JourneyProgress p;
    p.next_step = j->next_step;
    p.last_activity_ms = cart ? cart->last_activity_ms : 0;
    p.prev_sent_ms = now;
    p.prev_engagement = Engagement::kUnopened;
    p.prev_branch = branch;
    DueStep due = NextDue(*flow, *path, p, now);
    j->next_due_ms = due.due_ms;
    j->next_branch = due.branch;
    store.SaveJourney(*j);
    store.RetryJob(job.job_id, job.attempt, due.due_ms);  // the same row carries the next step
  });
}

}  // namespace cartrecovery
