#include "engine/step_reads.h"

namespace cartrecovery {
namespace internal {

namespace {

// Every key asked for gets an entry: the row, or nullopt when there is none.
template <class Row, class KeyOf>
void Remember(std::map<std::string, std::optional<Row>>& cache,
              const std::vector<std::string>& asked, std::vector<Row> rows, KeyOf key_of) {
  for (const auto& key : asked) cache[key] = std::nullopt;
  for (auto& row : rows) {
    std::string key = key_of(row);
    cache[key] = std::move(row);
  }
}

// The cached answer for `key`, else the store's.
template <class Row, class Read>
std::optional<Row> Lookup(const std::map<std::string, std::optional<Row>>& cache,
                          const std::string& key, Read read) {
  auto it = cache.find(key);
  return it != cache.end() ? it->second : read();
}

}  // namespace

void StepReads::LoadClaims(const std::vector<JobRecord>& jobs) {
  std::vector<std::pair<int64_t, int>> claims;
  for (const auto& job : jobs) {
    claims.emplace_back(job.job_id, job.attempt);
    claimed_attempt_[job.job_id] = job.attempt;
  }
  current_claims_ = store_.CurrentClaims(claims);
}

void StepReads::LoadJourneys(const std::vector<std::string>& ids) {
  Remember(journeys_, ids, store_.LoadJourneys(ids),
           [](const JourneyRecord& j) { return j.journey_id; });
}

void StepReads::LoadCarts(const std::vector<std::string>& ids) {
  std::vector<Cart> carts;
  try {
    carts = store_.LoadCarts(ids);
  } catch (const std::exception&) {
    // A row that cannot be read (its items are not JSON) must fail its own job, not the
    // batch: every cart is then read by its job, inside the job's own undo.
    return;
  }
  Remember(carts_, ids, std::move(carts), [](const Cart& c) { return c.cart_id; });
}

void StepReads::LoadContacts(const std::vector<std::string>& keys) {
  Remember(contacts_, keys, store_.LoadContacts(keys), [](const Contact& c) { return c.key; });
}

void StepReads::LoadMessages(const std::vector<std::string>& ids) {
  Remember(messages_, ids, store_.LoadMessages(ids),
           [](const MessageRecord& m) { return m.message_id; });
}

void StepReads::LoadMessageStates(const std::vector<std::string>& journey_ids) {
  for (const auto& id : journey_ids) states_[id];
  for (auto& m : store_.MessageStates(journey_ids)) states_[m.journey_id].push_back(std::move(m));
}

void StepReads::LoadSends(const std::vector<std::string>& keys, Millis since) {
  sends_since_ = since;
  sends_ = store_.SendsToContacts(keys, since);
  for (const auto& key : keys) sends_[key];  // nothing sent yet is an answer too
}

void StepReads::LoadPauses() { pauses_ = store_.FlowPauses(); }

bool StepReads::ClaimIsCurrent(const JobRecord& job) {
  auto it = claimed_attempt_.find(job.job_id);
  if (current_claims_ && it != claimed_attempt_.end() && it->second == job.attempt)
    return current_claims_->count(job.job_id) > 0;
  return store_.ClaimIsCurrent(job.job_id, job.attempt);
}

std::optional<JourneyRecord> StepReads::Journey(const std::string& id) {
  return Lookup(journeys_, id, [&] { return store_.LoadJourney(id); });
}

std::optional<Cart> StepReads::LoadCart(const std::string& id) {
  return Lookup(carts_, id, [&] { return store_.LoadCart(id); });
}

std::optional<Contact> StepReads::LoadContact(const std::string& key) {
  return Lookup(contacts_, key, [&] { return store_.LoadContact(key); });
}

std::optional<MessageRecord> StepReads::Message(const std::string& id) {
  return Lookup(messages_, id, [&] { return store_.LoadMessage(id); });
}

std::vector<MessageRecord> StepReads::MessageStates(const std::string& journey_id) {
  auto it = states_.find(journey_id);
  if (it != states_.end()) return it->second;
  return store_.MessageStates({journey_id});
}

ContactSends StepReads::SendsTo(const std::string& key, Millis since) {
  auto it = sends_.find(key);
  if (it != sends_.end() && since == sends_since_) return it->second;
  return store_.SendsTo(key, since);
}

bool StepReads::FlowPaused(const std::string& flow) {
  if (!pauses_) pauses_ = store_.FlowPauses();
  return pauses_->count(flow) > 0;
}

}  // namespace internal
}  // namespace cartrecovery
