#include "engine/record_groups.h"

#include <set>

namespace cartrecovery {
namespace internal {

RecordGroups::RecordGroups(std::timed_mutex& store_mu, Store& store, SendGate& gate, Millis now)
    : store_mu_(store_mu),
      store_(store),
      gate_(gate),
      now_(now),
      last_write_(std::chrono::steady_clock::now()) {
  waiting_.reserve(kRecordGroupMessages);
}

void RecordGroups::Accepted(const JobRecord& job, const std::string& contact_key, PendingSend& send) {
  std::lock_guard<std::mutex> lock(mu_);
  waiting_.push_back({{job.job_id, job.attempt}, &contact_key, &send});
  if (waiting_.size() >= kRecordGroupMessages ||
      std::chrono::steady_clock::now() - last_write_ >= kRecordGroupEvery)
    WriteLocked();
}

void RecordGroups::WriteLocked() {
  std::vector<std::pair<int64_t, int>> claims;
  std::vector<std::string> journey_ids;
  std::vector<JourneyOwner> owners;  // as the plan read them
  for (const auto& w : waiting_) {
    claims.push_back(w.claim);
    journey_ids.push_back(w.send->message.journey_id);
    owners.push_back({*w.contact_key, w.send->message.cart_id});
  }
  std::vector<PendingSend*> written;  // once the group is committed
  try {
    std::lock_guard<std::timed_mutex> lock(store_mu_);
    const uint64_t before = store_.CommitMark();
    std::vector<PendingSend*> writing;
    store_.WriteUnsynced([&] {
      writing.clear();
      // PostgreSQL: these shoppers' keys, as the batch's plan and record take them (store.h).
      store_.LockJourneys(journey_ids, owners);
      const std::set<int64_t> current = store_.CurrentClaims(claims);
      std::set<std::string> touched;
      for (const auto& w : waiting_) {
        if (!current.count(w.claim.first)) continue;  // lost: the final record's, as before
        store_.RecordOutcome(SentRecord(w.send->message, now_));
        if (touched.insert(*w.contact_key).second && !w.contact_key->empty())
          store_.TouchContact(*w.contact_key, now_);
        writing.push_back(w.send);
      }
    });
    written = std::move(writing);
    gate_.OwnCommit(before, store_.CommitMark());
  } catch (const std::exception&) {
    // What is not marked written the final record writes (the same values, if the commit
    // went through after all), and reports a store that keeps failing. Failing the batch
    // here would send all of it again.
  }
  for (PendingSend* send : written) send->recorded = true;
  waiting_.clear();
  last_write_ = std::chrono::steady_clock::now();
}

}  // namespace internal
}  // namespace cartrecovery
