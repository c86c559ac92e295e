// job_state.cpp: the names and the arrows of the job lifecycle drawn in store.h.
#include "cartrecovery/store.h"

namespace cartrecovery {

const char* JobStateName(JobState s) {
  switch (s) {
    case JobState::kPending: return "pending";
    case JobState::kClaimed: return "claimed";
    case JobState::kDone: return "done";
  }
  return "pending";
}

std::optional<JobState> ParseJobState(const std::string& s) {
  for (JobState st : kJobStates)
    if (s == JobStateName(st)) return st;
  return std::nullopt;
}

bool CanMove(JobState from, JobState to) {
  switch (from) {
    case JobState::kPending:  // ScheduleJob (a new due time), ClaimDueJobs, CancelJobs
      return true;
    case JobState::kClaimed:  // ScheduleJob / RetryJob, RenewClaims or a claim after the
      return true;            // lease expired, FinishJob / CancelJobs
    case JobState::kDone:  // ScheduleJob makes a new row; nothing else finds one
      return to == JobState::kPending;
  }
  return false;
}

}  // namespace cartrecovery
