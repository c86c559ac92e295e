// journey_state.h: the states of a journey (one cart's run through a flow), and the moves
// between them, with the function that performs each (engine/):
//
//              AbandonCart                   RecordStep (the last step resolved)
//   (none) ─────────────────▶ running ─────────────────────────────────────▶ completed
//     │                        │  ▲ │ RecordStep, AbandonCart (another cart takes it over),
//     │ AbandonCart (refused   │  └─┘ ApplyCartActivity, ApplyEngagement: the next step,
//     │ by a policy: S5, R2.7) │      its due time, its branch, its cart
//     └──▶ refused             └──▶ ended   EndJourney (ordered, unsubscribed, emptied,
//                                           holdout, forgotten, flow_removed, completed:
//                                           end_reason says which)
//
// completed, ended and refused are final: a later abandonment of the cart starts a new
// journey. The stored text (journeys.state) and what Python sees are JourneyStateName's.
#ifndef CARTRECOVERY_JOURNEY_STATE_H_
#define CARTRECOVERY_JOURNEY_STATE_H_

#include <optional>
#include <string>

namespace cartrecovery {

enum class JourneyState { kRunning, kCompleted, kEnded, kRefused };

constexpr JourneyState kJourneyStates[] = {JourneyState::kRunning, JourneyState::kCompleted,
                                           JourneyState::kEnded, JourneyState::kRefused};

// "running", "completed", "ended", "refused".
const char* JourneyStateName(JourneyState s);
// The state whose name is `s` exactly; nullopt for anything else.
std::optional<JourneyState> ParseJourneyState(const std::string& s);

// A new journey may be stored in state `s` (running, or refused).
bool CanStartAs(JourneyState s);
// The drawing's arrows: a stored journey may move from `from` to `to` (running to running
// is a step forward).
bool CanMove(JourneyState from, JourneyState to);

}  // namespace cartrecovery

#endif  // CARTRECOVERY_JOURNEY_STATE_H_
