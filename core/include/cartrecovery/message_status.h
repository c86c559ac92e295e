// message_status.h: the states of a message row (one channel of one step, or a team alert),
// and the moves between them.
//
// A message of a step, with the function that moves it (engine/, store/):
//
//            PlanStep                      Deliver: accepted     RecordGroups / RecordStep
//   (none) ───────────▶ sending ─────────────────────────────────────────────▶ sent
//     │  PlanStep        │  ▲  RecordStep: transient failure  ┌──▶ retrying ──┐
//     │  (policy, hold)  │  └──────────────── PlanStep ◀──────┘               │
//     ├──▶ suppressed    ├──▶ failed   (permanent failure, or retries used up)  │
//     ├──▶ deferred ─────┤             (quiet hours: due later)                 │
//     └──▶ paused ───────┘             (flow paused, coupon pool empty,         │
//                                       shop's account refused: R4.3)          │
//   ApplyOrder / ApplyUnsubscribe / EndJourney: any unsent ──▶ suppressed ◀─────┘
//   ResumeFlow: paused ──▶ deferred (due at once). PlanStep: any unsent ──▶ sending,
//   deferred, paused or suppressed.
//   ApplyEvent (message_bounced): any but bounced ──▶ bounced. The provider's report is
//   believed whatever we recorded (a "sending" row whose record was lost, a send that
//   failed later at the provider).
//   A team alert (SalesAlert) moves the same way: (none) | sending | retrying ──▶ sending.
//
// "Unsent" (IsUnresolved) is sending, retrying, deferred or paused: the step still has to
// go. A worker killed between the channel's acceptance and the record leaves "sending", and
// the next claim plans it again (sending ──▶ sending or any other unsent outcome): the only
// window for a duplicate. sent, failed and suppressed are final but for a bounce; bounced is
// final.
//
// The stored text (messages.status) and what Python sees are MessageStatusName's words;
// they never change, so that old stores and reports keep reading the same.
#ifndef CARTRECOVERY_MESSAGE_STATUS_H_
#define CARTRECOVERY_MESSAGE_STATUS_H_

#include <optional>
#include <string>

namespace cartrecovery {

enum class MessageStatus {
  kSending,     // planned and rendered; written before anything leaves
  kSent,        // a channel accepted it
  kRetrying,    // a transient failure; due again at due_ms
  kDeferred,    // a policy (quiet hours) moved it to due_ms
  kPaused,      // waits for staff, a coupon pool or the shop's provider account
  kFailed,      // a permanent failure, or the retries used up
  kSuppressed,  // decided not to send (reason says why); never goes
  kBounced,     // the provider reported later that it did not arrive
};

// Every status, in declaration order (for tables and tests).
constexpr MessageStatus kMessageStatuses[] = {
    MessageStatus::kSending,  MessageStatus::kSent,   MessageStatus::kRetrying,
    MessageStatus::kDeferred, MessageStatus::kPaused, MessageStatus::kFailed,
    MessageStatus::kSuppressed, MessageStatus::kBounced};

// "sending", "sent", "retrying", "deferred", "paused", "failed", "suppressed", "bounced":
// the stored and shown text.
const char* MessageStatusName(MessageStatus s);
// The status whose name is `s` exactly; nullopt for anything else.
std::optional<MessageStatus> ParseMessageStatus(const std::string& s);

// The step still has to go: sending, retrying, deferred or paused.
bool IsUnresolved(MessageStatus s);
// A new message row may be stored with status `s` (the "(none) ──▶" arrows above).
bool CanStartAs(MessageStatus s);
// The drawing's arrows: a stored message may move from `from` to `to`.
bool CanMove(MessageStatus from, MessageStatus to);

}  // namespace cartrecovery

#endif  // CARTRECOVERY_MESSAGE_STATUS_H_
