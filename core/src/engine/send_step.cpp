// Sending a batch of journeys' steps: plan (one transaction for the batch: read what the
// batch needs in a few set-based statements (step_reads.h), then per job re-check, decide
// per channel, render (helper threads render the likely messages ahead: render_ahead.h),
// record "sending") -> deliver (no store lock across the network; one
// status look for the batch, S4; what the channels accept is stored "sent" in short groups
// meanwhile) -> record (one transaction for the batch: read again what may have changed,
// store the other outcomes, then advance each journey or schedule its retry).
// One bad job is undone alone in both transactions (WriteJobs).
// Every decision not to send is a message row "suppressed" with its reason (S7).
//
// A message of a step moves as message_status.h draws it, its journey as journey_state.h does.
// "sending" is written before anything leaves; a worker killed after the channel accepted
// and before the record leaves it "sending", and the next claim sends it again (the only
// window for a duplicate). Accepted messages are stored "sent" in groups while the batch is
// delivered (record_groups.h), so that window holds one group per connection at most. The
// job of the step moves as store.h draws it.
#include <algorithm>
#include <cassert>
#include <functional>
#include <map>
#include <thread>

#include "cartrecovery/offer.h"
#include "cartrecovery/status.h"
#include "engine/deliveries.h"
#include "engine/engine_impl.h"
#include "engine/record_groups.h"
#include "engine/render_ahead.h"
#include "engine/step_reads.h"

namespace cartrecovery {

using internal::AddressFor;
using internal::PendingSend;
using internal::StepReads;

namespace {

// The one message of a journey's step (1-based) on a channel.
std::string StepMessageId(const std::string& journey_id, int step, const std::string& channel) {
  return DerivedId("m_", journey_id + "\n" + std::to_string(step) + "\n" + channel);
}

// How far back the policies look at what a contact was sent (channel caps, daily ceiling).
constexpr Millis kPolicyLookback = 2 * kDay;

// One transaction for a batch of jobs: begin() (the batch's reads), then job(i) for each.
// Tried first without savepoints, which cost two statements per job (on PostgreSQL two
// round trips); when a job throws, the transaction is undone and the batch runs again with
// a savepoint per job, so that the job that throws is undone alone (failed(i) is told)
// and the others go on. begin() must start from scratch: it runs again then.
void WriteJobs(Store& store, size_t count, const std::function<void()>& begin,
               const std::function<void(size_t)>& job,
               const std::function<void(size_t, const std::exception&)>& failed) {
  bool a_job_threw = false;
  try {
    // Repeated whole when PostgreSQL breaks a lock cycle (begin() starts from scratch).
    store.WriteRepeatable([&] {
      begin();
      for (size_t i = 0; i < count; ++i) {
        a_job_threw = true;
        job(i);
        a_job_threw = false;
      }
      // A job's write that failed on the server, known only now (PostgreSQL's pipeline),
      // is a job's failure too: the savepoint run below finds which.
      a_job_threw = true;
      store.AwaitWrites();
      a_job_threw = false;
    });
    return;
  } catch (const std::exception&) {
    if (!a_job_threw) throw;  // the store itself failed (begin, commit): the batch's error
  }
  store.WriteRepeatable([&] {
    begin();
    for (size_t i = 0; i < count; ++i) {
      try {
        store.Write([&] { job(i); });
      } catch (const std::exception& e) {
        failed(i, e);
      }
    }
  });
}

// Helper threads that render ahead of a batch's plan (render_ahead.h), by the engine's
// render_threads: -1 is one per spare core, and two at most, since the plan's own work
// between two renders is about half a render. None for a handful of messages: starting a
// thread costs more than it saves there.
int RenderThreads(size_t messages, int setting) {
  if (messages < 16) return 0;
  if (setting >= 0) return setting;
  const unsigned cores = std::thread::hardware_concurrency();
  return cores < 2 ? 0 : static_cast<int>(std::min(2u, cores - 1));
}

}  // namespace

void Engine::Impl::LoadPlanReads(StepReads& reads, const std::vector<JobRecord>& jobs, Millis now) {
  std::vector<std::string> journey_ids;
  for (const auto& job : jobs) journey_ids.push_back(job.subject);
  reads.LoadClaims(jobs);
  reads.LoadJourneys(journey_ids);
  std::vector<std::string> cart_ids, keys, message_ids;
  for (const auto& id : journey_ids) {
    auto j = reads.Journey(id);
    if (!j || j->state != JourneyState::kRunning) continue;
    cart_ids.push_back(j->cart_id);
    keys.push_back(j->contact_key);
    const Flow* flow = FindFlow(j->flow);
    const Path* path = flow ? flow->FindPath(j->path) : nullptr;
    if (!path || j->next_step >= static_cast<int>(path->steps.size())) continue;
    for (const auto& ch : path->steps[j->next_step].channels)
      message_ids.push_back(StepMessageId(j->journey_id, j->next_step + 1, ch));
  }
  reads.LoadCarts(cart_ids);
  reads.LoadContacts(keys);
  reads.LoadMessages(message_ids);
  reads.LoadSends(keys, now - kPolicyLookback);
  reads.LoadPauses();
}

std::vector<Engine::Impl::LikelyRender> Engine::Impl::LikelyRenders(
    StepReads& reads, const std::vector<JobRecord>& jobs, const std::vector<char>& skip,
    Millis now) {
  // PlanStep's path to Render for a step that sends, without its writes: a guess that
  // PlanStep checks (same inputs, same reads generation) before it takes the result.
  std::vector<LikelyRender> likely;
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (skip[i]) continue;
    try {
      AddLikelyRenders(reads, i, jobs[i], now, likely);
    } catch (const std::exception&) {
      // A row that cannot be read: the job's plan meets it again, and fails alone.
    }
  }
  return likely;
}

void Engine::Impl::AddLikelyRenders(StepReads& reads, size_t i, const JobRecord& job, Millis now,
                                    std::vector<LikelyRender>& likely) {
  auto journey = reads.Journey(job.subject);
  if (!journey || journey->state != JourneyState::kRunning) return;
  const Flow* flow = FindFlow(journey->flow);
  const Path* path = flow ? flow->FindPath(journey->path) : nullptr;
  if (!path || journey->next_step >= static_cast<int>(path->steps.size())) return;
  const Step& step = path->steps[journey->next_step];
  if (step.HasExperiment() || !step.coupon.empty() || reads.FlowPaused(flow->name)) return;
  auto cart = reads.LoadCart(journey->cart_id);
  if (!cart || cart->state == CartState::kRecovered || cart->state == CartState::kOrdered ||
      cart->state == CartState::kEmptied || !cart->HasItems() ||
      cart->last_activity_ms + flow->abandon_after_ms > now)
    return;
  Contact contact = reads.LoadContact(journey->contact_key).value_or(Contact{});
  contact.key = journey->contact_key;
  std::optional<Engagement> branch = step.IsBranched() ? journey->next_branch : std::nullopt;
  if (step.IsBranched() && !branch) branch = Engagement::kUnopened;
  const std::string& tmpl =
      step.IsBranched() ? step.BranchFor(*branch).template_name : step.template_name;
  static const std::string no_coupon;  // steps with a coupon are the plan's
  for (const auto& ch : step.channels) {
    if (!ChannelFor(ch) || AddressFor(ch, contact).empty()) continue;
    LikelyRender l;
    l.job = i;
    l.message.message_id = StepMessageId(journey->journey_id, journey->next_step + 1, ch);
    auto existing = reads.Message(l.message.message_id);
    if (existing && !IsUnresolved(existing->status)) continue;
    l.message.cart_id = cart->cart_id;
    l.message.channel = ch;
    l.req = StepRequest({flow->name, path->name, journey->next_step + 1, branch, tmpl, no_coupon,
                         *cart, contact},
                        ch);
    l.reads_generation = reads.Generation();
    likely.push_back(std::move(l));
  }
}

RenderRequest Engine::Impl::StepRequest(const StepRenderKey& key, const std::string& ch) const {
  RenderRequest req;
  req.shop = opts.shop;
  req.cart = key.cart;
  req.contact = key.contact;
  req.flow = key.flow;
  req.path = key.path;
  req.step = key.step;
  req.branch = key.branch;
  req.channel = ch;
  req.template_name = key.template_name;
  req.templates = &templates;
  req.language = key.contact.language;
  req.coupon_code = key.coupon_code;
  return req;
}

bool Engine::Impl::SameRenderInputs(const LikelyRender& likely, const StepRenderKey& key,
                                    const MessageRecord& m, uint64_t reads_generation) {
  // The cart and the contact came from the same lookups when the generation has not moved;
  // their identities are compared all the same. The shop and the templates are the engine's,
  // the channel is the message's.
  const RenderRequest& a = likely.req;
  return likely.reads_generation == reads_generation &&
         likely.message.message_id == m.message_id && likely.message.cart_id == m.cart_id &&
         likely.message.channel == m.channel && a.flow == key.flow && a.path == key.path &&
         a.step == key.step && a.branch == key.branch && a.template_name == key.template_name &&
         a.coupon_code == key.coupon_code && a.language == key.contact.language &&
         a.cart.cart_id == key.cart.cart_id &&
         a.cart.last_activity_ms == key.cart.last_activity_ms &&
         a.cart.items.size() == key.cart.items.size() && a.contact.key == key.contact.key &&
         a.contact.first_name == key.contact.first_name;
}

std::optional<Engine::Impl::StepPlan> Engine::Impl::PlanStep(Store& store, StepReads& reads,
                                                             const JobRecord& job, Millis now,
                                                             bool ordered_at_shop,
                                                             const RenderedAhead& rendered_ahead) {
  std::vector<PendingSend> sends;
  std::optional<JourneyRecord> journey;
  const Flow* flow = nullptr;
  const Path* path = nullptr;
  std::optional<Engagement> branch;
  if (!reads.ClaimIsCurrent(job)) return std::nullopt;
  journey = reads.Journey(job.subject);
  if (journey && journey->state == JourneyState::kRunning && ordered_at_shop) {
    if (auto cart = reads.LoadCart(journey->cart_id)) {
      cart->state = journey->next_step > 0 ? CartState::kRecovered : CartState::kOrdered;
      store.SaveCart(*cart);
      reads.ForgetCart(cart->cart_id);
    }
    EndJourney(store, *journey, "ordered", now);
    return std::nullopt;
  }
  if (!journey || journey->state != JourneyState::kRunning) {
    store.FinishJob(job.job_id, job.attempt);
    return std::nullopt;
  }
  flow = FindFlow(journey->flow);
  path = flow ? flow->FindPath(journey->path) : nullptr;
  if (!path || journey->next_step >= static_cast<int>(path->steps.size())) {
    EndJourney(store, *journey, path ? "completed" : "flow_removed", now);
    return std::nullopt;
  }
  auto cart = reads.LoadCart(journey->cart_id);
  Contact contact = reads.LoadContact(journey->contact_key).value_or(Contact{});
  contact.key = journey->contact_key;
  if (!cart || cart->state == CartState::kRecovered || cart->state == CartState::kOrdered) {
    EndJourney(store, *journey, "ordered", now);
    return std::nullopt;
  }
  if (cart->state == CartState::kEmptied || !cart->HasItems()) {
    EndJourney(store, *journey, "emptied", now);
    return std::nullopt;
  }
  // S3: the shopper is back; wait until the cart is quiet again.
  Millis quiet_until = cart->last_activity_ms + flow->abandon_after_ms;
  if (quiet_until > now) {
    journey->next_due_ms = quiet_until;
    store.SaveJourney(*journey);
    store.RetryJob(job.job_id, job.attempt, quiet_until);
    return std::nullopt;
  }
  const Step& step = path->steps[journey->next_step];
  std::string variant;  // the step experiment's arm for this contact, once drawn
  // The step's message on a channel: as stored so far (retrying, deferred, paused) or
  // new; nullopt when it is already resolved (sent, failed, suppressed).
  auto message_for = [&](const std::string& ch, std::optional<MessageRecord>* existing)
      -> std::optional<MessageRecord> {
    MessageRecord m;
    m.message_id = StepMessageId(journey->journey_id, journey->next_step + 1, ch);
    *existing = reads.Message(m.message_id);
    if (*existing && !IsUnresolved((*existing)->status)) return std::nullopt;
    if (*existing) m = **existing;
    m.journey_id = journey->journey_id;
    m.cart_id = cart->cart_id;
    m.contact_key = contact.key;
    m.flow = flow->name;
    m.path = path->name;
    m.step = journey->next_step + 1;
    m.channel = ch;
    m.due_ms = *existing ? (*existing)->due_ms : journey->next_due_ms;
    m.created_ms = *existing ? (*existing)->created_ms : now;
    m.variant = variant;
    return m;
  };
  // Every channel's message of this step gets `status` and `reason` and is stored.
  auto hold_step = [&](MessageStatus status, const std::string& reason) {
    for (const auto& ch : step.channels) {
      std::optional<MessageRecord> existing;
      auto m = message_for(ch, &existing);
      if (!m) continue;
      assert(existing ? CanMove(existing->status, status) : CanStartAs(status));
      m->status = status;
      m->reason = reason;
      if (existing) store.UpdateMessage(*m);
      else store.InsertMessageAsync(*m);
    }
  };
  // Paused by staff: the step waits (resume makes it due at once).
  if (reads.FlowPaused(flow->name)) {
    hold_step(MessageStatus::kPaused, "flow_paused");
    store.RetryJob(job.job_id, job.attempt, now + kHour);
    return std::nullopt;
  }
  // R6.3: the contact's arm of the step's experiment; the holdout gets nothing from
  // here on, so that the step's effect is measured against doing nothing.
  const StepVariant* arm = nullptr;
  if (step.HasExperiment()) {
    Experiment experiment;
    experiment.name = step.experiment;
    for (const auto& v : step.variants) experiment.variants.push_back({v.name, v.weight});
    experiment.holdout_weight = step.holdout_weight;
    // A flow may run without a contact (has_contact: false): the cart stands in.
    const std::string who = contact.key.empty() ? "cart:" + journey->cart_id : contact.key;
    variant = store.AssignVariant(step.experiment, who, AssignVariant(experiment, who),
                                  flow->name, now);
    if (variant == kHoldout) {
      hold_step(MessageStatus::kSuppressed, "holdout");
      EndJourney(store, *journey, "holdout", now);
      return std::nullopt;
    }
    for (const auto& v : step.variants)
      if (v.name == variant) arm = &v;  // none: the arm was removed; the step's own content
  }
  const std::string& coupon_pool = arm && !arm->coupon.empty() ? arm->coupon : step.coupon;
  // R4.1/R4.3: a step with a coupon needs a code for this person; with the pool empty
  // the step waits ("paused", with the reason) until codes arrive: nobody gets a
  // message with an empty code.
  std::string coupon_code;
  std::string incentive_note;  // S8: why the step goes without its coupon
  StepIncentive incentive;
  // S8: a code travels only with a reminder that goes (now or at its allowed hour).
  const bool coupon_wanted = !coupon_pool.empty() && StepGoesOut(store, step, contact, now);
  if (coupon_wanted)
    incentive = DecideStepIncentive(store, journey->journey_id, journey->next_step + 1,
                                    *cart, contact, now);
  if (!incentive.give) incentive_note = "incentive_refused:" + incentive.rule;
  if (coupon_wanted && incentive.give) {
    auto coupon = CouponFor(store, coupon_pool, contact.key, now);
    if (!coupon) {
      SchedulePoolAlert(store, coupon_pool, now);
      hold_step(MessageStatus::kPaused, "coupon_pool_empty:" + coupon_pool);
      store.RetryJob(job.job_id, job.attempt, now + kHour);  // or at once on import
      return std::nullopt;
    }
    coupon_code = coupon->Shown();
    RecordStepIncentive(store, incentive, *cart, contact, coupon->code, now);
  }
  if (!incentive.give) RecordStepIncentive(store, incentive, *cart, contact, "", now);
  branch = step.IsBranched() ? journey->next_branch : std::nullopt;
  if (step.IsBranched() && !branch) branch = Engagement::kUnopened;
  std::string tmpl = step.IsBranched() ? step.BranchFor(*branch).template_name : step.template_name;
  if (arm && !arm->template_name.empty()) tmpl = arm->template_name;
  // Policies see every send to this person, across journeys, plus what this step sends
  // on its earlier channels (the daily ceiling counts them).
  ContactSends sends_so_far = reads.SendsTo(contact.key, now - kPolicyLookback);
  SendHistory history;
  history.last_sent_ms = sends_so_far.last_by_channel;
  for (const auto& [channel_name, at] : sends_so_far.recent)
    history.recent.push_back({channel_name, at});
  for (const auto& ch : step.channels) {
    std::optional<MessageRecord> existing;
    auto step_message = message_for(ch, &existing);
    if (!step_message) continue;
    MessageRecord m = std::move(*step_message);
    m.branch = branch;
    m.to = internal::ShownAddress(ch, contact);
    std::string address = AddressFor(ch, contact);
    Channel* channel = ChannelFor(ch);
    auto save = [&] {
      assert(existing ? CanMove(existing->status, m.status) : CanStartAs(m.status));
      if (existing) store.UpdateMessage(m);
      else store.InsertMessageAsync(m);  // its failure is the job's, by WriteJobs' AwaitWrites
    };
    std::string reason;
    if (!channel) reason = "channel_not_configured";
    else if (address.empty()) reason = "no_address";  // R3.1: SMS without a phone
    else if (internal::Bounced(ch, contact)) reason = "bounced";
    PolicyDecision decision;
    if (reason.empty()) decision = DecideSend(opts.policies, ch, contact, history, now);
    if (!reason.empty() || decision.action == SendAction::kSkip) {
      m.status = MessageStatus::kSuppressed;
      m.reason = reason.empty() ? decision.reason : reason;
      save();
      continue;
    }
    if (decision.action == SendAction::kDefer) {  // S6: moved, not dropped
      m.status = MessageStatus::kDeferred;
      m.reason = decision.reason;
      m.due_ms = decision.not_before;
      save();
      continue;
    }
    // The request (copies of the cart and the contact) is built only when no helper
    // rendered this message already.
    const StepRenderKey key{flow->name, path->name, m.step, branch, tmpl, coupon_code, *cart, contact};
    std::optional<StepContent> content;
    if (rendered_ahead) content = rendered_ahead(key, m);
    if (!content) content = RenderStep(StepRequest(key, ch), m, now);
    const MessageLinks& links = content->links;
    RenderedMessage& rendered = content->rendered;
    m.status = MessageStatus::kSending;
    m.reason = incentive_note;
    m.subject = rendered.subject;
    m.text = rendered.text;
    m.html = rendered.html;
    m.body_dictionary = rendered.body_dictionary;
    PendingSend ps;
    ps.channel = channel;
    ps.outgoing.message_id = m.message_id;
    ps.outgoing.channel = ch;
    ps.outgoing.to = ch == "email" || ch == "sms" || ch == "push" ? std::move(address) : "";
    ps.outgoing.to_name = contact.consent.personalization == true ? contact.first_name : "";
    // The rendered texts are not used again: moved, not copied (a 5 KB body each time).
    ps.outgoing.subject = std::move(rendered.subject);
    ps.outgoing.text = std::move(rendered.text);
    ps.outgoing.html = std::move(rendered.html);
    ps.outgoing.date_ms = now;
    if (ch != "email" && ch != "sms") {
      ps.outgoing.data_json = internal::CartPayloadJson("cart_abandoned", opts.shop, *cart,
                                                        contact, m, links.cart_url);
      // Webhook receivers route on this header: it must name the payload's event.
      ps.outgoing.headers.emplace_back("X-CartRecovery-Event", "cart_abandoned");
    }
    AddUnsubscribeHeaders(links, m, ps.outgoing);
    save();
    ps.message = std::move(m);  // m is this channel's alone: not read after this
    history.last_sent_ms[ch] = now;
    history.recent.push_back({ch, now});
    sends.push_back(std::move(ps));
  }
  StepPlan plan;
  plan.job = job;
  plan.journey = std::move(*journey);
  plan.flow = flow;
  plan.path = path;
  plan.branch = branch;
  plan.sends = std::move(sends);
  return plan;
}

void Engine::Impl::RecordStep(Store& store, StepReads& reads, StepPlan& plan,
                              std::vector<internal::SendResult>& results, Millis now) {
  internal::Recorded rec =
      internal::RecordResults(store, opts.retry, plan.journey.contact_key, results, now);
  // A worker that lost its lease recorded what it sent; the journey belongs to the newer
  // claim from here on.
  if (!reads.ClaimIsCurrent(plan.job)) return;
  auto j = reads.Journey(plan.journey.journey_id);
  if (!j || j->state != JourneyState::kRunning) {
    store.FinishJobAsync(plan.job.job_id, plan.job.attempt);
    return;
  }
  // The step is done when every channel is: sent, failed or suppressed. A channel
  // deferred by quiet hours or retrying after a failure holds it (the step's job comes
  // back then); the next step still counts from the step's first send. The batch read
  // the states before this job recorded its outcomes: those come from `rec`.
  std::map<std::string, const MessageRecord*> recorded;
  for (const auto& m : rec.messages) recorded[m.message_id] = &m;
  std::optional<Millis> wake = rec.retry_at;
  Millis first_sent = 0;
  for (const auto& state : reads.MessageStates(j->journey_id)) {
    auto it = recorded.find(state.message_id);
    const MessageRecord& m = it != recorded.end() ? *it->second : state;
    if (m.step != j->next_step + 1) continue;
    if (IsUnresolved(m.status) && m.status != MessageStatus::kSending)
      wake = std::min(wake.value_or(m.due_ms), m.due_ms);
    if (m.status == MessageStatus::kSent && (first_sent == 0 || m.sent_ms < first_sent)) first_sent = m.sent_ms;
  }
  if (wake) {
    store.RetryJobAsync(plan.job.job_id, plan.job.attempt, std::max(*wake, now));
    return;
  }
  if (first_sent == 0) first_sent = now;  // nothing went: the next step counts from now
  j->prev_sent_ms = first_sent;
  j->prev_engagement = Engagement::kUnopened;
  j->prev_branch = plan.branch;
  j->next_step += 1;
  j->updated_ms = now;
  auto cart = reads.LoadCart(j->cart_id);
  if (j->next_step >= static_cast<int>(plan.path->steps.size())) {
    assert(CanMove(j->state, JourneyState::kCompleted));
    j->state = JourneyState::kCompleted;
    j->next_branch.reset();
    store.SaveJourney(*j);
    store.FinishJobAsync(plan.job.job_id, plan.job.attempt);
    if (cart && cart->state == CartState::kAbandoned) {
      cart->state = CartState::kExpired;
      store.SaveCart(*cart);
      reads.ForgetCart(cart->cart_id);
    }
    return;
  }
  JourneyProgress p;
  p.next_step = j->next_step;
  p.last_activity_ms = cart ? cart->last_activity_ms : 0;
  p.prev_sent_ms = first_sent;
  p.prev_engagement = Engagement::kUnopened;
  p.prev_branch = plan.branch;
  DueStep due = NextDue(*plan.flow, *plan.path, p, now);
  j->next_due_ms = due.due_ms;
  j->next_branch = due.branch;
  store.SaveJourney(*j);
  store.RetryJobAsync(plan.job.job_id, plan.job.attempt, due.due_ms);  // the same row carries the next step
}

void Engine::Impl::RunStepJobs(Runtime& r, const std::vector<JobRecord>& jobs, Millis now,
                               bool stoppable) {
  // Only one batch's deliveries at a time in this process: a channel's connections are
  // the batch's (Channel::Concurrency bounds them).
  std::lock_guard<std::mutex> send_lock(r.send_mu);
  // Asked first, with no lock held: the hook may be slow (the shop's database) or Python.
  std::vector<char> ordered(jobs.size(), 0);
  for (size_t i = 0; i < jobs.size(); ++i) {
    try {
      ordered[i] = OrderedAtShop(r, jobs[i].subject);
    } catch (const std::exception& e) {
      ordered[i] = 2;  // the job stays claimed: tried again after its lease
      SetError(r, "job step " + jobs[i].subject + ": " + e.what());
    }
  }
  if (StopAsked(r, stoppable)) {  // a shutdown asked meanwhile: nothing planned, all back
    ReleaseClaims(r, jobs);
    return;
  }
  // Plan: one transaction reads what the batch needs (a few set-based statements), then
  // marks every message of the batch "sending" (fenced by each claim's attempt) before
  // anything leaves. A job that throws is undone alone and stays claimed (tried again
  // after its lease); the others go on (WriteJobs).
  std::vector<StepPlan> plans;
  plans.reserve(jobs.size());
  {
    std::lock_guard<std::timed_mutex> lock(r.store_mu);
    Store& store = *r.store;
    std::optional<StepReads> reads;
    // The batch's likely messages, rendered ahead by helper threads while the plan decides
    // and writes; `ahead` is declared last so that its helpers stop before what they read.
    std::vector<LikelyRender> likely;
    std::map<std::pair<size_t, std::string>, size_t> likely_at;  // (job, channel) -> index
    std::optional<internal::RenderAhead<StepContent>> ahead;
    WriteJobs(
        store, jobs.size(),
        [&] {
          plans.clear();
          // PostgreSQL: the batch's shoppers first (store.h); an order or unsubscribe for
          // one of them waits until their messages are "sending", then suppresses them (S4).
          std::vector<std::string> journey_ids;
          for (const auto& job : jobs) journey_ids.push_back(job.subject);
          store.LockJourneys(journey_ids, {});  // their owners are not known before this read
          reads.emplace(store);
          std::vector<JobRecord> planned;
          for (size_t i = 0; i < jobs.size(); ++i)
            if (ordered[i] != 2) planned.push_back(jobs[i]);
          LoadPlanReads(*reads, planned, now);
          ahead.reset();  // a second pass (WriteJobs): the first one's helpers stop first
          likely = LikelyRenders(*reads, jobs, ordered, now);
          likely_at.clear();
          for (size_t k = 0; k < likely.size(); ++k)
            likely_at[{likely[k].job, likely[k].message.channel}] = k;
          ahead.emplace(likely.size(), RenderThreads(likely.size(), opts.render_threads),
                        [this, &likely, now](size_t k) {
                          return RenderStep(likely[k].req, likely[k].message, now);
                        });
        },
        [&](size_t i) {
          if (ordered[i] == 2) return;
          auto rendered_ahead = [&](const StepRenderKey& key, const MessageRecord& m)
              -> std::optional<StepContent> {
            auto at = likely_at.find({i, m.channel});
            if (at == likely_at.end()) return std::nullopt;
            std::optional<StepContent> content = ahead->Take(at->second);  // once, used or not
            if (!SameRenderInputs(likely[at->second], key, m, reads->Generation()))
              return std::nullopt;
            return content;
          };
          if (auto plan = PlanStep(store, *reads, jobs[i], now, ordered[i] == 1, rendered_ahead))
            plans.push_back(std::move(*plan));
        },
        [&](size_t i, const std::exception& e) {
          SetError(r, "job step " + jobs[i].subject + ": " + e.what());
        });
  }
  if (plans.empty()) return;
  // Deliver: no transaction, no store lock across the network. `plans` does not grow from
  // here on, so the results' pointers into it stay valid. One gate for the batch: its
  // messages' statuses are looked at again only when a commit may have changed them (S4).
  // A shutdown (SIGTERM) stops between jobs: a job's channels all go or none does.
  std::vector<std::string> message_ids;
  for (const auto& plan : plans)
    for (const auto& send : plan.sends) message_ids.push_back(send.message.message_id);
  // What the channels accept is stored "sent" in small groups meanwhile (record_groups.h):
  // a kill re-sends at most one group, not the batch.
  internal::SendGate gate(r.store_mu, *r.store, std::move(message_ids));
  internal::RecordGroups groups(r.store_mu, *r.store, gate, now);
  // Each channel takes up to its Concurrency() messages at once (several SMTP
  // connections), fed with whole jobs in batch order (deliveries.h DeliverJobs).
  std::vector<std::vector<internal::SendResult>> results(plans.size());
  const size_t delivered = internal::DeliverJobs(
      gate, plans.size(),
      [&](size_t i) -> std::vector<PendingSend>& { return plans[i].sends; },
      [&] { return StopAsked(r, stoppable); },
      [&](size_t i, PendingSend& send) {
        groups.Accepted(plans[i].job, plans[i].journey.contact_key, send);
      },
      results);
  // Record: every other outcome of the batch in one transaction, a savepoint per job, from
  // what the batch read again in a few statements (claims, journeys, message states, carts:
  // an order or unsubscribe may have ended a journey meanwhile), then each journey's
  // advance. The jobs a shutdown left undelivered go back to pending at once, not when
  // their lease runs out; their messages stay "sending" and the next claim sends them
  // (nothing left yet).
  std::lock_guard<std::timed_mutex> lock(r.store_mu);
  Store& store = *r.store;
  std::optional<StepReads> reads;
  WriteJobs(
      store, plans.size(),
      [&] {
        std::vector<JobRecord> recorded;
        std::vector<std::string> journey_ids, cart_ids;
        std::vector<JourneyOwner> owners;
        for (size_t i = 0; i < delivered; ++i) {
          recorded.push_back(plans[i].job);
          journey_ids.push_back(plans[i].journey.journey_id);
          cart_ids.push_back(plans[i].journey.cart_id);
          owners.push_back({plans[i].journey.contact_key, plans[i].journey.cart_id});
        }
        store.LockJourneys(journey_ids, owners);  // before anything is read (PostgreSQL)
        reads.emplace(store);
        reads->LoadClaims(recorded);
        reads->LoadJourneys(journey_ids);
        reads->LoadMessageStates(journey_ids);
        reads->LoadCarts(cart_ids);
      },
      [&](size_t i) {
        if (i < delivered) RecordStep(store, *reads, plans[i], results[i], now);
        else store.RetryJob(plans[i].job.job_id, plans[i].job.attempt, plans[i].job.due_ms);
      },
      [&](size_t i, const std::exception& e) {
        SetError(r, "job step " + plans[i].journey.journey_id + ": " + e.what());
      });
}

bool Engine::Impl::OrderedAtShop(Runtime& r, const std::string& journey_id) {
  if (!order_check) return false;
  std::string cart_id, email;
  {
    std::lock_guard<std::timed_mutex> lock(r.store_mu);
    auto j = r.store->LoadJourney(journey_id);
    if (!j || j->state != JourneyState::kRunning) return false;
    cart_id = j->cart_id;
    if (auto c = r.store->LoadContact(j->contact_key)) email = c->email;
  }
  return order_check(cart_id, email);  // an exception leaves the job claimed: retried later
}

void Engine::SetOrderCheck(OrderCheck check) { impl_->order_check = std::move(check); }

}  // namespace cartrecovery
