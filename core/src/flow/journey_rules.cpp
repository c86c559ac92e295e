// journey_rules.cpp: who enters a flow, who may start a journey, and when the next step is
// due (PLAYBOOKS.md section 7, S1-S3 and S5). Pure arithmetic: the engine passes the times.
#include <algorithm>
#include <string>

#include "cartrecovery/flow.h"
#include "cartrecovery/status.h"

namespace cartrecovery {

namespace {

// min_value is validated with up to 3 decimals (the most any currency has); comparing in
// thousandths keeps "0.005" meaningful for a 2-decimal currency instead of failing on it.
constexpr int kMinValueExponent = 3;

}  // namespace

bool CartValueBelow(const std::string& min_value, const Cart& cart) {
  int64_t min_milli = 0;
  try {
    min_milli = ParseMinorUnits(min_value, kMinValueExponent, "enter_when.min_value");
  } catch (const Error& e) {
    // Only a hand-built Flow can get here; ParseFlow validates min_value.
    throw ConfigError("enter_when.min_value", e.what());
  }
  int exponent = std::clamp(CurrencyExponent(cart.currency), 0, kMinValueExponent);
  __int128 scale = 1;
  for (int k = exponent; k < kMinValueExponent; ++k) scale *= 10;
  return static_cast<__int128>(cart.ValueMinor()) * scale < min_milli;
}


std::optional<std::string> EntryRefusal(const Flow& flow, const Cart& cart, const Contact& contact) {
  if (flow.enter_when.has_contact && !contact.HasAddress()) return std::string("no_contact");
  if (CartValueBelow(flow.enter_when.min_value, cart)) return std::string("below_min_value");
  if (!flow.ChoosePath(contact, cart)) return std::string("no_path");
  return std::nullopt;
}

std::optional<std::string> NewJourneyRefusal(const FlowPolicies& policies, const Contact& contact,
                                             Millis now) {
  // The order window first: it is the stronger reason and the one a shop asks about.
  if (policies.quiet_after_order_ms > 0 && contact.last_order_ms != 0 &&
      now - contact.last_order_ms < policies.quiet_after_order_ms)
    return std::string("quiet_after_order");
  if (policies.frequency_cap_ms > 0 && contact.last_message_ms != 0 &&
      now - contact.last_message_ms < policies.frequency_cap_ms)
    return std::string("frequency_cap");
  return std::nullopt;
}

DueStep NextDue(const Flow& flow, const Path& path, const JourneyProgress& p, Millis now) {
  if (p.next_step >= path.steps.size())
    throw Error(ErrorCode::kInternal, "NextDue: step " + std::to_string(p.next_step) +
                                          " is past the end of path '" + path.name + "'");
  const Step& step = path.steps[p.next_step];
  // S1: the first step counts from the cart's last activity, later ones from the send before.
  const Millis origin = p.next_step == 0 ? p.last_activity_ms : p.prev_sent_ms;
  DueStep due;
  Millis delay = 0;
  if (step.IsBranched()) {
    // S2: engagement with the previous message picks the branch, unless that message was
    // itself branched: then the journey stays on the branch it took (R2.3's third column).
    Engagement branch = p.prev_engagement;
    if (p.next_step > 0 && path.steps[p.next_step - 1].IsBranched() && p.prev_branch)
      branch = *p.prev_branch;
    // Recorded as the engagement, not the fallback it resolved to, so a later step can still
    // tell clicked from opened when this one only distinguishes unopened.
    due.branch = branch;
    delay = step.BranchFor(branch).after_ms;
  } else if (step.after_ms) {
    delay = *step.after_ms;
  } else {
    throw Error(ErrorCode::kInternal, "NextDue: step " + std::to_string(p.next_step) +
                                          " of path '" + path.name + "' has no delay");
  }
  // S3: never while the shopper is shopping; S2: never into the past.
  due.due_ms = std::max({origin + delay, p.last_activity_ms + flow.abandon_after_ms, now});
  return due;
}

bool EngagementMatters(const Path& path, size_t engaged_step, size_t next_step) {
  return next_step == engaged_step + 1 && next_step < path.steps.size() &&
         path.steps[next_step].IsBranched() && !path.steps[engaged_step].IsBranched();
}

}  // namespace cartrecovery
