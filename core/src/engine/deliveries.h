// deliveries.h: the parts of sending that reminders and sales alerts share: whom a channel
// writes to, handing prepared messages to channels outside any transaction, and recording
// what came back (sent, retry later, failed and suppress the address).
#ifndef CARTRECOVERY_SRC_ENGINE_DELIVERIES_H_
#define CARTRECOVERY_SRC_ENGINE_DELIVERIES_H_

#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cartrecovery/delivery.h"
#include "cartrecovery/render.h"
#include "cartrecovery/retry.h"
#include "cartrecovery/status.h"
#include "cartrecovery/store.h"

namespace cartrecovery {
namespace internal {

// The address a channel writes to, or empty. Three channel names carry a meaning: "email"
// (the e-mail address), "sms" (the phone) and "push" (the browser's subscription); any
// other channel (webhooks, the shop's own callbacks) is about the contact as a whole.
std::string AddressFor(const std::string& channel, const Contact& contact);
// The address as shown in messages(): empty for channels addressed by contact key.
std::string ShownAddress(const std::string& channel, const Contact& contact);
bool Bounced(const std::string& channel, const Contact& contact);

struct PendingSend {
  MessageRecord message;   // as stored, status "sending"
  OutgoingMessage outgoing;
  Channel* channel = nullptr;
  bool recorded = false;   // accepted, and already stored "sent" by a group (record_groups.h)
};

struct SendResult {
  PendingSend* send = nullptr;
  std::optional<Error> error;  // nullopt: the channel accepted the message
};

// The last look before a message leaves (S4): a message goes only while it is still
// "sending", so an order or unsubscribe committed after it was planned stops it. One
// set-based read covers the batch's next messages, and is made again before a message
// whenever Store::CommitMark moved since (a commit by this process's writer or, on
// SQLite, any process; on PostgreSQL the mark also moves with time, for other hosts).
// Takes `store_mu` only for the look, never across the network. Thread-safe: every member
// but the constant ids and positions is guarded by `store_mu` (MayGo takes it; OwnCommit is
// called with it held), so the threads of DeliverJobs share one gate.
class SendGate {
 public:
  // `message_ids`: every message of the batch, in the order they will be handed over.
  SendGate(std::timed_mutex& store_mu, Store& store, std::vector<std::string> message_ids);
  bool MayGo(const std::string& message_id);
  // Under `store_mu`: a commit of this batch's own moved the mark from `before` to `after`,
  // changing no message still to go (it stored some that went). When nothing else moved
  // the mark since the last look, that look stands: no read again for our own commit.
  void OwnCommit(uint64_t before, uint64_t after);

 private:
  std::timed_mutex& store_mu_;
  Store& store_;
  std::vector<std::string> ids_;
  std::map<std::string, size_t> position_;
  std::set<std::string> sending_;  // as of the last look, among ids_[looked_from_, looked_to_)
  size_t looked_from_ = 0, looked_to_ = 0;
  bool looked_ = false;
  uint64_t mark_ = 0;
};

// Hands each message to its channel when `gate` lets it go; `accepted`, when given, is told
// of each message the channel took, at once.
std::vector<SendResult> Deliver(SendGate& gate, std::vector<PendingSend>& sends,
                                const std::function<void(PendingSend&)>& accepted = nullptr);
// A batch's jobs, delivered with bounded concurrency per channel: job i's messages
// (`sends(i)`, in order) each go when `gate` lets it, right before it leaves, and what came
// back lands in results[i]. Runs on as many threads as the batch's busiest channel allows
// (Channel::Concurrency(), at most one per job; the calling thread is one of them, and with
// 1 no thread is started), each taking whole jobs in batch order; a channel is never given
// more Sends at once than its Concurrency(). Once `stop()` is true no further job is taken.
// Returns n: jobs [0, n) were delivered, the others not touched. `accepted(i, send)` is
// called on the delivering thread as each message is accepted (so it must be thread-safe
// when threads run). The threads end before this returns (fork safety: none outlive it).
size_t DeliverJobs(SendGate& gate, size_t jobs,
                   const std::function<std::vector<PendingSend>&(size_t)>& sends,
                   const std::function<bool()>& stop,
                   const std::function<void(size_t, PendingSend&)>& accepted,
                   std::vector<std::vector<SendResult>>& results);
// The same with a gate of its own over `sends`.
std::vector<SendResult> Deliver(std::timed_mutex& store_mu, Store& store,
                                std::vector<PendingSend>& sends);

struct Recorded {
  bool any_sent = false;
  std::optional<Millis> retry_at;  // the earliest retry asked for, if any
  std::vector<MessageRecord> messages;  // each result's message as recorded
};

// A message the channel accepted, as stored: "sent" at `now`, one attempt more.
MessageRecord SentRecord(const MessageRecord& sending, Millis now);

// Inside a Write(): stores each outcome but those a group already stored (PendingSend::
// recorded). A transient failure becomes "retrying" with a backoff (RetryDelay); a
// permanent one "failed" with the provider's reply, and suppresses the address (hard
// bounce; an expired push subscription is dropped); a refusal of the shop's account
// (kAccountDelivery: credit, credentials) "paused" with reason
// "channel_unavailable:<channel>: <reply>", tried again hourly, nothing suppressed (R4.3).
// The contact's last_message_ms moves to `now` when anything was sent.
Recorded RecordResults(Store& store, const RetryPolicy& retry, const std::string& contact_key,
                       std::vector<SendResult>& results, Millis now);

// The machine-readable form of a reminder or alert for webhooks, push and callbacks:
// {"event", "message_id", "flow", "path", "step", "branch", "shop": {...}, "cart": {"cart_id",
// "currency", "value", "stage", "items": [...], "cart_url"}, "contact": {"email", "phone",
// "first_name" (only with personalization consent), "language"}, "abandoned_at"}.
std::string CartPayloadJson(const std::string& event, const ShopInfo& shop, const Cart& cart,
                            const Contact& contact, const MessageRecord& message,
                            const std::string& cart_url);

}  // namespace internal
}  // namespace cartrecovery

#endif  // CARTRECOVERY_SRC_ENGINE_DELIVERIES_H_
