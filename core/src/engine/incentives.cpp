// The one incentive budget (S8, R4.4) as reminder steps meet it. The rule itself is
// offer.h's DecideIncentive, the same the exit-intent popup uses; this file gathers its
// facts from the store and records each decision next to the popups' (offers, source
// "flow"), so the cap, the cooldown and the valuable customers' reserve count every
// incentive the engine hands out, whichever part handed it out.
#include <algorithm>

#include "engine/deliveries.h"
#include "engine/engine_impl.h"

namespace cartrecovery {

const IncentivePolicy* Engine::Impl::IncentiveBudget() const {
  if (!opts.ration_incentives) return nullptr;  // the shop opted out
  if (opts.incentive) return &*opts.incentive;
  if (!opts.exit_intent_pool.empty()) return &opts.exit_intent.incentive;
  return nullptr;  // no budget configured: reminder coupons are the shop's plain choice
}

bool Engine::Impl::StepGoesOut(Store& store, const Step& step, const Contact& contact, Millis now) {
  // The same checks, in the same order, as the step's channel loop (send_step.cpp), with
  // what the contact was sent so far: a channel that passes here passes there too, or an
  // earlier channel of the step went.
  ContactSends sends = store.SendsTo(contact.key, now - 2 * kDay);
  SendHistory history;
  history.last_sent_ms = sends.last_by_channel;
  for (const auto& [channel, at] : sends.recent) history.recent.push_back({channel, at});
  return std::any_of(step.channels.begin(), step.channels.end(), [&](const std::string& ch) {
    return ChannelFor(ch) && !internal::AddressFor(ch, contact).empty() &&
           !internal::Bounced(ch, contact) &&
           DecideSend(opts.policies, ch, contact, history, now).action != SendAction::kSkip;
  });
}

Engine::Impl::StepIncentive Engine::Impl::DecideStepIncentive(Store& store, const std::string& journey_id,
                                                              int step, const Cart& cart,
                                                              const Contact& contact, Millis now) {
  StepIncentive out;
  out.key = "flow:" + journey_id + "#" + std::to_string(step);
  const IncentivePolicy* budget = IncentiveBudget();
  if (!budget) return out;  // given, not counted
  out.counted = true;
  // A step run again (quiet hours, a retry, a paused pool) keeps its first decision.
  if (auto earlier = store.StepIncentive(out.key)) {
    out.give = earlier->show;
    out.rule = earlier->incentive_rule;
    out.recorded = true;
    return out;
  }
  ContactFacts facts;
  facts.contact_key = contact.key.empty() ? "cart:" + cart.cart_id : contact.key;
  facts.draw_key = cart.cart_id;
  facts.orders_count = contact.orders_count;
  facts.lifetime_value_minor = contact.lifetime_value_minor;
  facts.last_incentive_ms = contact.key.empty() ? 0 : store.LastIncentiveTo(contact.key);
  IncentiveDecision d = DecideIncentive(
      *budget, store.IncentiveCounts(now - budget->window_ms, cart.cart_id), facts, now);
  out.give = d.offer;
  out.rule = d.rule;
  return out;
}

void Engine::Impl::RecordStepIncentive(Store& store, const StepIncentive& decision, const Cart& cart,
                                       const Contact& contact, const std::string& coupon_code,
                                       Millis now) {
  if (!decision.counted || decision.recorded) return;
  OfferRecord o;
  o.source = "flow";
  o.visitor_id = decision.key;
  o.cart_id = cart.cart_id;
  o.contact_key = contact.key;
  o.kind = "coupon";
  o.show = decision.give && !coupon_code.empty();
  o.reason = o.show ? "" : decision.rule;
  o.incentive_rule = decision.rule;
  o.coupon_code = coupon_code;
  o.decided_ms = now;
  store.SaveOffer(o);
}

}  // namespace cartrecovery
