// Sending a journey's step: prepare (one transaction: re-check, decide per channel,
// render, record "sending") -> deliver (no transaction, no store lock) -> record (one
// transaction: outcomes, then advance the journey or schedule the retry).
// Every decision not to send is a message row "suppressed" with its reason (S7).
#include <algorithm>

#include "cartrecovery/status.h"
#include "engine/deliveries.h"
#include "engine/engine_impl.h"

namespace cartrecovery {

using internal::AddressFor;
using internal::PendingSend;

namespace {

// Consent as given for a channel; only an explicit "no" stops a reminder here.
bool ConsentRefused(const std::string& channel, const Contact& c) {
  if (channel == "email") return c.consent.email == false;
  if (channel == "sms") return c.consent.sms == false;
  if (channel == "push") return c.consent.push == false;
  return false;
}

}  // namespace

void Engine::Impl::RunStepJob(Runtime& r, const JobRecord& job, Millis now) {
  // Only one job's deliveries at a time in this process: channels keep one connection.
  std::lock_guard<std::mutex> send_lock(r.send_mu);
  std::vector<PendingSend> sends;
  std::optional<JourneyRecord> journey;
  const Flow* flow = nullptr;
  const Path* path = nullptr;
  std::optional<Engagement> branch;

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
        else if (internal::Bounced(ch, contact)) reason = "bounced";
        else if (ConsentRefused(ch, contact)) reason = "no_consent";
        if (!reason.empty()) {
          m.status = "suppressed";
          m.reason = reason;
          m.to = internal::ShownAddress(ch, contact);
          if (existing) store.UpdateMessage(m);
          else store.InsertMessage(m);
          continue;
        }
        std::string cart_url = !cart->restore_url.empty() ? cart->restore_url : opts.shop.base_url;
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
        req.cart_url = cart_url;
        req.unsubscribe_url = opts.shop.base_url.empty() ? "" : opts.shop.base_url + "unsubscribe";
        RenderedMessage rendered = Render(req);
        m.status = "sending";
        m.reason.clear();
        m.to = internal::ShownAddress(ch, contact);
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
        ps.outgoing.to = ch == "email" || ch == "sms" || ch == "push" ? address : "";
        ps.outgoing.to_name = contact.consent.personalization == true ? contact.first_name : "";
        ps.outgoing.subject = rendered.subject;
        ps.outgoing.text = rendered.text;
        ps.outgoing.html = rendered.html;
        ps.outgoing.date_ms = now;
        if (ch != "email" && ch != "sms")
          ps.outgoing.data_json =
              internal::CartPayloadJson("cart_abandoned", opts.shop, *cart, contact, m, cart_url);
        sends.push_back(std::move(ps));
      }
    });
  }
  if (!journey) return;

  std::vector<internal::SendResult> results = internal::Deliver(r.store_mu, *r.store, sends);

  std::lock_guard<std::mutex> lock(r.store_mu);
  Store& store = *r.store;
  store.Write([&] {
    internal::Recorded rec =
        internal::RecordResults(store, opts.retry, journey->contact_key, results, now);
    // A worker that lost its lease recorded what it sent; the journey belongs to the newer
    // claim from here on.
    if (!store.ClaimIsCurrent(job.job_id, job.attempt)) return;
    auto j = store.LoadJourney(journey->journey_id);
    if (!j || j->state != "running") {
      store.FinishJob(job.job_id, job.attempt);
      return;
    }
    if (rec.retry_at) {
      store.RetryJob(job.job_id, job.attempt, *rec.retry_at);
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
