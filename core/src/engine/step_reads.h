// step_reads.h: what a batch of step jobs reads from the store, loaded for the whole batch
// in a few statements (the store's batch reads) and then looked up job by job, instead of a
// dozen point reads per job. A key the batch did not load, or that a job of the batch wrote
// since (Forget*), is read from the store as before: a plan sees exactly what point reads
// inside the same transaction would have shown it.
#ifndef CARTRECOVERY_SRC_ENGINE_STEP_READS_H_
#define CARTRECOVERY_SRC_ENGINE_STEP_READS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cartrecovery/store.h"

namespace cartrecovery {
namespace internal {

class StepReads {
 public:
  explicit StepReads(Store& store) : store_(store) {}

  // Each loads its rows in one or two statements; call inside the transaction that uses them.
  // LoadCarts loads nothing when a row cannot be read: each job then reads its own cart.
  void LoadClaims(const std::vector<JobRecord>& jobs);
  void LoadJourneys(const std::vector<std::string>& journey_ids);
  void LoadCarts(const std::vector<std::string>& cart_ids);
  void LoadContacts(const std::vector<std::string>& keys);
  void LoadMessages(const std::vector<std::string>& message_ids);
  void LoadMessageStates(const std::vector<std::string>& journey_ids);
  void LoadSends(const std::vector<std::string>& keys, Millis since);
  void LoadPauses();

  bool ClaimIsCurrent(const JobRecord& job);
  std::optional<JourneyRecord> Journey(const std::string& journey_id);
  std::optional<Cart> LoadCart(const std::string& cart_id);
  std::optional<Contact> LoadContact(const std::string& key);
  std::optional<MessageRecord> Message(const std::string& message_id);
  // The journey's messages, contents left out (Store::MessageStates).
  std::vector<MessageRecord> MessageStates(const std::string& journey_id);
  // `since` must be the one given to LoadSends for a loaded key.
  ContactSends SendsTo(const std::string& key, Millis since);
  bool FlowPaused(const std::string& flow);

  // A job wrote the row: later lookups read it from the store again.
  void ForgetCart(const std::string& cart_id) {
    carts_.erase(cart_id);
    ++generation_;
  }
  // Moves whenever a lookup may answer differently than before (a Forget*): what was
  // derived from earlier lookups at the same generation is still what they answer.
  uint64_t Generation() const { return generation_; }

 private:
  Store& store_;
  std::optional<std::set<int64_t>> current_claims_;
  std::map<int64_t, int> claimed_attempt_;  // the attempt each loaded claim was asked with
  // Every key asked for, nullopt when the store has no such row.
  std::map<std::string, std::optional<JourneyRecord>> journeys_;
  std::map<std::string, std::optional<Cart>> carts_;
  std::map<std::string, std::optional<Contact>> contacts_;
  std::map<std::string, std::optional<MessageRecord>> messages_;
  std::map<std::string, std::vector<MessageRecord>> states_;
  std::map<std::string, ContactSends> sends_;
  Millis sends_since_ = 0;
  std::optional<std::map<std::string, FlowPause>> pauses_;
  uint64_t generation_ = 0;
};

}  // namespace internal
}  // namespace cartrecovery

#endif  // CARTRECOVERY_SRC_ENGINE_STEP_READS_H_
