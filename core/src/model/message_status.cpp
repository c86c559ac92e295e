// message_status.cpp: the names and the arrows of message_status.h's drawing.
#include "cartrecovery/message_status.h"

namespace cartrecovery {

const char* MessageStatusName(MessageStatus s) {
  switch (s) {
    case MessageStatus::kSending: return "sending";
    case MessageStatus::kSent: return "sent";
    case MessageStatus::kRetrying: return "retrying";
    case MessageStatus::kDeferred: return "deferred";
    case MessageStatus::kPaused: return "paused";
    case MessageStatus::kFailed: return "failed";
    case MessageStatus::kSuppressed: return "suppressed";
    case MessageStatus::kBounced: return "bounced";
  }
  return "sending";
}

std::optional<MessageStatus> ParseMessageStatus(const std::string& s) {
  for (MessageStatus st : kMessageStatuses)
    if (s == MessageStatusName(st)) return st;
  return std::nullopt;
}

bool IsUnresolved(MessageStatus s) {
  return s == MessageStatus::kSending || s == MessageStatus::kRetrying ||
         s == MessageStatus::kDeferred || s == MessageStatus::kPaused;
}

bool CanStartAs(MessageStatus s) {
  // PlanStep decides a step's new message: sent, held (paused), moved (deferred) or not
  // sent at all (suppressed); only a channel's answer makes the other states.
  return s == MessageStatus::kSending || s == MessageStatus::kDeferred ||
         s == MessageStatus::kPaused || s == MessageStatus::kSuppressed;
}

bool CanMove(MessageStatus from, MessageStatus to) {
  if (to == MessageStatus::kBounced) return from != MessageStatus::kBounced;
  // Planned again: the step has not gone yet, so it is decided afresh (PlanStep, SalesAlert,
  // ResumeFlow), or given up (EndJourney's SuppressUnsent).
  if (IsUnresolved(from) && CanStartAs(to)) return true;
  // A channel's answer (RecordGroups, RecordStep).
  if (from == MessageStatus::kSending)
    return to == MessageStatus::kSent || to == MessageStatus::kRetrying ||
           to == MessageStatus::kPaused || to == MessageStatus::kFailed;
  return false;
}

}  // namespace cartrecovery
