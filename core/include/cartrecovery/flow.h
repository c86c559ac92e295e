// flow.h: recovery flows and the journey rules, as pure logic (no I/O, no clock).
//
// A Flow is what ../shared/API.md "Flows" describes: a canonical JSON document, validated
// on load with errors that name the path inside it. The functions below the Flow types are
// the journey state machine's arithmetic: given what happened (times, engagement), when is
// the next step due and which branch does it take. The engine stores the results and
// re-asks these functions whenever something changes; nothing here remembers anything.
//
// Semantics (../shared/PLAYBOOKS.md section 7):
//   S1  step 1 is due at cart.last_activity + step1.after; later steps at
//       previous_step.sent + step.after.
//   S2  a branched step's delay is that of the branch matching the engagement with the
//       previous step so far (clicked > opened > unopened); recomputed when an open or a
//       click arrives, never into the past. A branched step that follows a branched step
//       takes the same branch as the step before it (the table in R2.3).
//   S3  no step is due while the shopper is shopping: every due time is at least
//       last_activity + abandon_after.
//   S5  a new journey is refused inside the frequency cap (since the contact's last
//       message) and inside the no-send-after-order window (since their last order).
//
//   journey lifecycle (stored by the engine, driven by these functions):
//
//        cart quiet for abandon_after            step k sent, k < N
//   (none) ───────────────▶ running ◀────────────────────┐
//                              │   └─────────────────────┘
//                              │ last step sent ▶ completed
//                              │ order / unsubscribe / emptied cart ▶ ended(reason)
//                              ▼ moved to the contact's newer cart ▶ (same journey, new cart)
#ifndef CARTRECOVERY_FLOW_H_
#define CARTRECOVERY_FLOW_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cartrecovery/clock.h"
#include "cartrecovery/model.h"

namespace cartrecovery {

// "30m", "10h", "2d", "1d12h", "90s", "0m" -> milliseconds. Units d, h, m, s, each at most
// once, in that order. Throws ConfigError(path, ...) otherwise.
Millis ParseDuration(const std::string& text, const std::string& path);
// Canonical form: largest units first, zero units omitted ("1d12h"); 0 -> "0m".
std::string FormatDuration(Millis ms);

// Engagement with a sent message, strongest last so that max() picks the one that counts.
enum class Engagement { kUnopened = 0, kOpened = 1, kClicked = 2 };
const char* EngagementName(Engagement e);  // "unopened", "opened", "clicked"
std::optional<Engagement> ParseEngagement(const std::string& s);

struct Branch {
  Millis after_ms = 0;
  std::string template_name;  // empty: the shipped default for the step
};

// One arm of a step's A/B test (R6.3): what it changes for the contacts drawn into it.
struct StepVariant {
  std::string name;           // not empty, not "holdout", unique within the step
  int64_t weight = 1;         // >= 0
  std::string template_name;  // plain steps only; empty: the step's own
  std::string coupon;         // empty: the step's own (which may be none)
};

struct Step {
  // Plain step: after_ms is set and branches is empty. Branched step: after_ms is unset
  // and branches has "unopened"; "opened" falls back to "unopened", "clicked" to
  // "opened" when absent.
  std::optional<Millis> after_ms;
  std::map<Engagement, Branch> branches;
  std::vector<std::string> channels;  // "email", "sms", "push", "webhook", ...; at least one
  std::string template_name;          // plain steps; empty: the shipped default
  std::string coupon;                 // coupon pool name; empty: none
  // An experiment on this step: each contact is drawn (sticky, offer.h AssignVariant) into
  // one variant, or into the holdout, who get nothing from this step on (their journey
  // ends), so the step's uplift is measured against doing nothing. `experiment` names it
  // in reports; it defaults to "<flow>/<path>/<step number>".
  std::vector<StepVariant> variants;
  int64_t holdout_weight = 0;
  std::string experiment;

  bool IsBranched() const { return !branches.empty(); }
  bool HasExperiment() const { return !variants.empty(); }
  // The branch that applies for engagement e (with the fallbacks above).
  const Branch& BranchFor(Engagement e) const;
};

// A path's `when` (R1.3, R2.2): every condition given must hold.
struct PathCondition {
  std::optional<int64_t> orders_count_at_least;
  std::optional<int64_t> orders_count_at_most;
  // The checkout stage the cart was left at (cart < contact < shipping_address <
  // shipping_method < payment): "you left at payment" differs from "you left at the cart".
  std::optional<Stage> stage_at_least;
  std::optional<Stage> stage_below;
  // The cart's value, decimal text compared in the cart's own currency (as enter_when).
  std::optional<std::string> min_value;    // value >= this
  std::optional<std::string> value_below;  // value < this
};

struct Path {
  std::string name;
  PathCondition when;       // empty condition: always matches
  std::vector<Step> steps;  // 1..kMaxSteps
};

struct EnterWhen {
  std::string min_value = "0";  // decimal text, compared in the cart's own currency
  bool has_contact = true;      // the cart must have an e-mail or phone to write to
};

struct FlowPolicies {
  Millis frequency_cap_ms = 0;      // 0: no cap
  Millis quiet_after_order_ms = 0;  // 0: none
};

struct Flow {
  static constexpr size_t kMaxSteps = 10;

  std::string name;
  Millis abandon_after_ms = kHour;
  EnterWhen enter_when;
  std::vector<Path> paths;  // at least one
  FlowPolicies policies;

  // The path index whose `when` holds first for this contact and cart, or nullopt when none
  // does.
  std::optional<size_t> ChoosePath(const Contact& contact, const Cart& cart) const;
  // The same for an empty cart at the "cart" stage (for flows without cart conditions).
  std::optional<size_t> ChoosePath(const Contact& contact) const;
  const Path* FindPath(const std::string& name) const;
};

// Parses and validates a flow document. Unknown keys, missing required keys, wrong types,
// impossible durations, an empty path list, too many steps, a branched first step, duplicate
// path names, unknown channel or engagement names are ConfigError naming the path inside the
// document, e.g. "paths[1].steps[2].branches.opened.after".
// Template names must be letters, digits, '_' and '-' (a shop template file's name part);
// `known_templates`, when given, also checks every template name against it.
Flow ParseFlow(const std::string& json, const std::vector<std::string>* known_templates = nullptr);
// Canonical JSON: fixed key order, durations in FormatDuration form, defaults written out.
// ParseFlow(FlowToJson(f)) == f, and FlowToJson(ParseFlow(FlowToJson(f))) is byte-identical.
std::string FlowToJson(const Flow& flow);
// The playbook flow printed in ../shared/API.md (customer 1h/24h/48h; visitor 1h then the
// R2.3 engagement table), with policies frequency_cap 24h and quiet_after_order 7d.
Flow DefaultFlow();
const std::string& DefaultFlowJson();

// Why a cart does not enter a flow, or nullopt when it does. Reasons are short snake_case
// words stored with the decision: "below_min_value", "no_contact", "no_path".
std::optional<std::string> EntryRefusal(const Flow& flow, const Cart& cart, const Contact& contact);

// Whether the cart's value is below `amount` (decimal text with at most 3 decimals, in the
// cart's own currency), compared exactly in thousandths. Throws ConfigError on bad text.
bool CartValueBelow(const std::string& amount, const Cart& cart);

// S5: why a contact may not start a new journey at `now`, or nullopt. Reasons:
// "frequency_cap", "quiet_after_order".
std::optional<std::string> NewJourneyRefusal(const FlowPolicies& policies, const Contact& contact,
                                             Millis now);

// What the engine knows about a journey when it asks for the next step's due time.
struct JourneyProgress {
  size_t next_step = 0;          // 0-based index into path.steps of the step to schedule
  Millis last_activity_ms = 0;   // the cart's last activity (S1, S3)
  Millis prev_sent_ms = 0;       // when step next_step-1 was sent (unused for step 0)
  Engagement prev_engagement = Engagement::kUnopened;  // with step next_step-1 so far
  std::optional<Engagement> prev_branch;  // branch step next_step-1 took, if it was branched
};

struct DueStep {
  Millis due_ms = 0;
  std::optional<Engagement> branch;  // set when the step is branched
};

// When path.steps[p.next_step] is due, and on which branch (S1, S2, S3):
//   max(base, p.last_activity_ms + flow.abandon_after_ms, now)
// where base is S1/S2's time. `now` is the time of the (re)computation, so a due time is
// never set into the past.
// Precondition: p.next_step < path.steps.size().
DueStep NextDue(const Flow& flow, const Path& path, const JourneyProgress& p, Millis now);

// Whether an engagement with step `engaged_step` (0-based) may change the due time of step
// `next_step`: only an engagement with the step right before a branched step whose branch is
// not inherited (the step before it was not branched) can.
bool EngagementMatters(const Path& path, size_t engaged_step, size_t next_step);

}  // namespace cartrecovery

#endif  // CARTRECOVERY_FLOW_H_
