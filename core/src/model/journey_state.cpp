// journey_state.cpp: the names and the arrows of journey_state.h's drawing.
#include "cartrecovery/journey_state.h"

namespace cartrecovery {

const char* JourneyStateName(JourneyState s) {
  switch (s) {
    case JourneyState::kRunning: return "running";
    case JourneyState::kCompleted: return "completed";
    case JourneyState::kEnded: return "ended";
    case JourneyState::kRefused: return "refused";
  }
  return "running";
}

std::optional<JourneyState> ParseJourneyState(const std::string& s) {
  for (JourneyState st : kJourneyStates)
    if (s == JourneyStateName(st)) return st;
  return std::nullopt;
}

bool CanStartAs(JourneyState s) { return s == JourneyState::kRunning || s == JourneyState::kRefused; }

bool CanMove(JourneyState from, JourneyState to) {
  // Only a running journey moves: onwards (running), or to its end.
  return from == JourneyState::kRunning && to != JourneyState::kRefused;
}

}  // namespace cartrecovery
