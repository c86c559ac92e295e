#include "engine/deliveries.h"

#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/Timestamp.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <condition_variable>
#include <exception>
#include <memory>
#include <system_error>
#include <thread>
#include <sstream>

#include "cartrecovery/flow.h"

namespace cartrecovery {
namespace internal {

std::string AddressFor(const std::string& channel, const Contact& c) {
  if (channel == "email") return c.email;
  if (channel == "sms") return c.phone;
  if (channel == "push") return c.push_subscription;
  return c.key;
}

std::string ShownAddress(const std::string& channel, const Contact& c) {
  if (channel == "email") return c.email;
  if (channel == "sms") return c.phone;
  return {};
}

bool Bounced(const std::string& channel, const Contact& c) {
  return (channel == "email" && c.email_bounced) || (channel == "sms" && c.phone_bounced);
}

// How many of the batch's next messages one look covers: a look costs what it covers,
// and a commit seen makes the next message look again.
constexpr size_t kLookAhead = 128;

SendGate::SendGate(std::timed_mutex& store_mu, Store& store, std::vector<std::string> message_ids)
    : store_mu_(store_mu), store_(store), ids_(std::move(message_ids)) {
  for (size_t i = 0; i < ids_.size(); ++i) position_.emplace(ids_[i], i);
}

bool SendGate::MayGo(const std::string& message_id) {
  auto at = position_.find(message_id);
  if (at == position_.end()) return false;  // not planned in this batch
  const size_t i = at->second;
  std::lock_guard<std::timed_mutex> lock(store_mu_);
  const uint64_t mark = store_.CommitMark();
  if (!looked_ || mark != mark_ || i < looked_from_ || i >= looked_to_) {
    looked_from_ = i;
    looked_to_ = std::min(ids_.size(), i + kLookAhead);
    sending_ = store_.StillSending(std::vector<std::string>(
        ids_.begin() + static_cast<std::ptrdiff_t>(looked_from_),
        ids_.begin() + static_cast<std::ptrdiff_t>(looked_to_)));
    looked_ = true;
    mark_ = mark;
  }
  return sending_.count(message_id) > 0;
}

void SendGate::OwnCommit(uint64_t before, uint64_t after) {
  if (looked_ && mark_ == before && after == before + 1) mark_ = after;
}

namespace {

// Hands one message to its channel; the result says what came back.
SendResult SendOne(PendingSend& ps) {
  SendResult result;
  result.send = &ps;
  try {
    ps.channel->Send(ps.outgoing);
  } catch (const Error& e) {
    result.error = e;
  } catch (const std::exception& e) {
    result.error = Error(ErrorCode::kTransientDelivery, e.what());
  }
  return result;
}

// A counting semaphore per channel: no more Sends under way on it than its Concurrency().
class ChannelSlots {
 public:
  explicit ChannelSlots(int slots) : free_(slots) {}
  void Take() {
    std::unique_lock<std::mutex> lock(mu_);
    freed_.wait(lock, [&] { return free_ > 0; });
    --free_;
  }
  void Give() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++free_;
    }
    freed_.notify_one();
  }

 private:
  std::mutex mu_;
  std::condition_variable freed_;
  int free_;  // guarded by mu_
};

}  // namespace

std::vector<SendResult> Deliver(SendGate& gate, std::vector<PendingSend>& sends,
                                const std::function<void(PendingSend&)>& accepted) {
  std::vector<SendResult> results;
  for (auto& ps : sends) {
    if (!gate.MayGo(ps.message.message_id)) continue;
    results.push_back(SendOne(ps));
    if (!results.back().error && accepted) accepted(ps);
  }
  return results;
}

size_t DeliverJobs(SendGate& gate, size_t jobs,
                   const std::function<std::vector<PendingSend>&(size_t)>& sends,
                   const std::function<bool()>& stop,
                   const std::function<void(size_t, PendingSend&)>& accepted,
                   std::vector<std::vector<SendResult>>& results) {
  results.resize(std::max(results.size(), jobs));
  // As many threads as the busiest channel may use, at most one per job; a channel that
  // allows fewer gets a semaphore of its own.
  size_t threads = 1;
  std::map<Channel*, int> concurrency;
  for (size_t i = 0; i < jobs; ++i)
    for (const auto& ps : sends(i))
      if (!concurrency.count(ps.channel)) {
        const int n = std::max(1, ps.channel->Concurrency());
        concurrency.emplace(ps.channel, n);
        threads = std::max(threads, static_cast<size_t>(n));
      }
  threads = std::min(threads, std::max<size_t>(jobs, 1));
  if (threads == 1) {  // today's path: no thread, no semaphore
    size_t i = 0;
    for (; i < jobs && !stop(); ++i)
      results[i] = Deliver(gate, sends(i), [&](PendingSend& ps) { if (accepted) accepted(i, ps); });
    return i;
  }
  std::map<Channel*, std::unique_ptr<ChannelSlots>> slots;
  for (const auto& kv : concurrency)
    if (static_cast<size_t>(kv.second) < threads)
      slots.emplace(kv.first, std::make_unique<ChannelSlots>(kv.second));

  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex failure_mu;
  std::exception_ptr failure;  // guarded by failure_mu: the first unexpected exception
  auto work = [&] {
    try {
      for (;;) {
        // Whole jobs in batch order: a job's channels all go or none does, and the jobs
        // taken are always a prefix of the batch.
        if (failed.load() || stop()) return;
        const size_t i = next.fetch_add(1);
        if (i >= jobs) return;
        for (auto& ps : sends(i)) {
          auto own = slots.find(ps.channel);
          ChannelSlots* slot = own == slots.end() ? nullptr : own->second.get();
          if (slot) slot->Take();
          // The look right before the message leaves (S4), after any wait for a slot.
          if (!gate.MayGo(ps.message.message_id)) {
            if (slot) slot->Give();
            continue;
          }
          SendResult result = SendOne(ps);
          if (slot) slot->Give();
          const bool took = !result.error;
          results[i].push_back(std::move(result));
          if (took && accepted) accepted(i, ps);
        }
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(failure_mu);
      if (!failure) failure = std::current_exception();
      failed = true;
    }
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) {
    try {
      pool.emplace_back(work);
    } catch (const std::system_error&) {
      break;  // no more threads to be had: the ones running do the work
    }
  }
  work();
  for (auto& thread : pool) thread.join();
  if (failure) std::rethrow_exception(failure);
  return std::min(next.load(), jobs);
}

std::vector<SendResult> Deliver(std::timed_mutex& store_mu, Store& store,
                                std::vector<PendingSend>& sends) {
  std::vector<std::string> ids;
  for (const auto& ps : sends) ids.push_back(ps.message.message_id);
  SendGate gate(store_mu, store, std::move(ids));
  return Deliver(gate, sends);
}

// How often a step waiting for the shop's provider account (credit, credentials) tries again.
constexpr Millis kAccountRetryMs = kHour;

MessageRecord SentRecord(const MessageRecord& sending, Millis now) {
  MessageRecord m = sending;
  m.attempts += 1;
  assert(CanMove(sending.status, MessageStatus::kSent));
  m.status = MessageStatus::kSent;
  m.sent_ms = now;
  return m;
}

Recorded RecordResults(Store& store, const RetryPolicy& retry, const std::string& contact_key,
                       std::vector<SendResult>& results, Millis now) {
  Recorded out;
  // The contact row is read and written whole only when a refusal changes it (a hard
  // bounce, an expired subscription); otherwise a send just moves last_message_ms.
  std::optional<Contact> contact;
  for (auto& r : results) {
    if (r.send->recorded) {  // its group stored it and touched the contact
      out.messages.push_back(SentRecord(r.send->message, now));
      continue;
    }
    if (!r.error) {
      MessageRecord m = SentRecord(r.send->message, now);
      store.RecordOutcome(m);
      out.messages.push_back(std::move(m));
      out.any_sent = true;
      continue;
    }
    MessageRecord m = r.send->message;
    m.attempts += 1;
    if (r.error->code() == ErrorCode::kTransientDelivery && MayRetry(retry, m.attempts)) {
      m.status = MessageStatus::kRetrying;
      m.reason = r.error->what();
      Millis at = now + RetryDelay(retry, m.attempts, r.error->retry_after_ms(), m.message_id);
      m.due_ms = at;
      out.retry_at = std::min(out.retry_at.value_or(at), at);
    } else if (r.error->code() == ErrorCode::kAccountDelivery) {
      // R4.3: out of credit or locked out: the step waits (no attempt limit, nothing
      // suppressed) and is tried again every hour until the provider takes it.
      m.status = MessageStatus::kPaused;
      m.reason = "channel_unavailable:" + m.channel + ": " + r.error->what();
      m.due_ms = now + kAccountRetryMs;
      out.retry_at = std::min(out.retry_at.value_or(m.due_ms), m.due_ms);
    } else {
      m.status = MessageStatus::kFailed;
      m.reason = r.error->what();
      // A permanent refusal of the address suppresses it: later journeys do not try it.
      if (r.error->code() == ErrorCode::kPermanentDelivery) {
        if (!contact) contact = store.LoadContact(contact_key);
        if (contact) {
          if (m.channel == "email") contact->email_bounced = true;
          if (m.channel == "sms") contact->phone_bounced = true;
          if (m.channel == "push" && m.reason.rfind("subscription expired", 0) == 0)
            contact->push_subscription.clear();
        }
      }
    }
    assert(CanMove(r.send->message.status, m.status));
    store.RecordOutcome(m);
    out.messages.push_back(std::move(m));
  }
  if (contact) {
    if (out.any_sent) contact->last_message_ms = now;
    store.SaveContact(*contact);
  } else if (out.any_sent) {
    store.TouchContact(contact_key, now);
  }
  return out;
}

namespace {

std::string Iso8601(Millis ms) {
  return Poco::DateTimeFormatter::format(Poco::Timestamp(ms * 1000),
                                         Poco::DateTimeFormat::ISO8601_FRAC_FORMAT);
}

}  // namespace

std::string CartPayloadJson(const std::string& event, const ShopInfo& shop, const Cart& cart,
                            const Contact& contact, const MessageRecord& m,
                            const std::string& cart_url) {
  using Poco::JSON::Array;
  using Poco::JSON::Object;
  const int exp = CurrencyExponent(cart.currency);
  Object o(Poco::JSON_PRESERVE_KEY_ORDER);
  o.set("event", event);
  o.set("message_id", m.message_id);
  o.set("flow", m.flow);
  o.set("path", m.path);
  o.set("step", m.step);
  if (m.branch) o.set("branch", EngagementName(*m.branch));
  Object s(Poco::JSON_PRESERVE_KEY_ORDER);
  s.set("name", shop.shop_name);
  s.set("base_url", shop.base_url);
  o.set("shop", s);
  Object c(Poco::JSON_PRESERVE_KEY_ORDER);
  c.set("cart_id", cart.cart_id);
  c.set("currency", cart.currency);
  c.set("value", FormatMinorUnits(cart.ValueMinor(), exp));  // text: exact, never a float
  c.set("stage", StageName(cart.stage));
  Array items;
  for (const auto& it : cart.items) {
    Object i(Poco::JSON_PRESERVE_KEY_ORDER);
    i.set("sku", it.sku);
    i.set("name", it.name);
    i.set("quantity", it.quantity);
    i.set("price", FormatMinorUnits(it.price_minor, exp));
    if (!it.image_url.empty()) i.set("image_url", it.image_url);
    if (!it.url.empty()) i.set("url", it.url);
    items.add(i);
  }
  c.set("items", items);
  c.set("cart_url", cart_url);
  o.set("cart", c);
  Object p(Poco::JSON_PRESERVE_KEY_ORDER);
  if (!contact.email.empty()) p.set("email", contact.email);
  if (!contact.phone.empty()) p.set("phone", contact.phone);
  if (contact.consent.personalization == true && !contact.first_name.empty())
    p.set("first_name", contact.first_name);  // R3.7: only where lawfully given
  if (!contact.language.empty()) p.set("language", contact.language);
  o.set("contact", p);
  o.set("abandoned_at", Iso8601(cart.last_activity_ms));
  std::ostringstream out;
  Poco::JSON::Stringifier::condense(o, out);
  return out.str();
}

}  // namespace internal
}  // namespace cartrecovery
