// record_groups.h: the outcomes of a batch's accepted deliveries stored in small groups
// while the batch is still being delivered, so that a worker killed mid-delivery leaves
// "sending" (and the next claim sends again) only what went out since its last group, not
// everything of the batch.
//
// A message joins the group when its channel accepted it; the group is written in one short
// transaction (status "sent", sent_ms, attempts) once it holds kRecordGroupMessages messages
// or kRecordGroupEvery has passed since the last group was written, whichever comes first.
// With one connection a kill re-sends at most kRecordGroupMessages messages. A batch
// delivered on N threads (deliveries.h DeliverJobs: N is the busiest channel's connections)
// re-sends at most kRecordGroupMessages + N - 1: the group, plus at most one message per
// other connection that the server accepted and whose thread was not yet told (or waits
// for the group's write) -- at most one group per connection (tests/python/
// test_kill_loop.py reads the constant from here). Fenced: a message whose job's claim is no longer current is
// left to the batch's final record, as before. Failures, retries, the journey's advance and
// anything not yet grouped are the final record's (send_step.cpp RecordStep); it skips the
// messages a group wrote (PendingSend::recorded).
//
// Thread-safe: the threads delivering a batch share one RecordGroups. A group's write holds
// the groups' own mutex and then the store lock (never the other way round), so a thread
// whose message was accepted meanwhile waits for the write to end: that wait is what keeps
// the bound above.
#ifndef CARTRECOVERY_SRC_ENGINE_RECORD_GROUPS_H_
#define CARTRECOVERY_SRC_ENGINE_RECORD_GROUPS_H_

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "cartrecovery/store.h"
#include "engine/deliveries.h"

namespace cartrecovery {
namespace internal {

// At most this many accepted messages wait for their record: the bound on what a kill
// sends again. Each group is one short commit with no fsync of its own
// (Store::WriteUnsynced: with one, groups of 32 cost SQLite more than half its speed).
constexpr size_t kRecordGroupMessages = 32;
// A slow channel's accepted messages wait no longer than this for their record.
constexpr std::chrono::milliseconds kRecordGroupEvery(50);

class RecordGroups {
 public:
  // `now`: the batch's time, the sent_ms the final record would write. `gate`: the
  // batch's, told of each group's commit (SendGate::OwnCommit).
  RecordGroups(std::timed_mutex& store_mu, Store& store, SendGate& gate, Millis now);

  // The channel accepted `send` (a message of `job`, to `contact_key`); `send` must stay
  // where it is until the batch is recorded. May write the group.
  void Accepted(const JobRecord& job, const std::string& contact_key, PendingSend& send);

 private:
  struct Waiting {
    std::pair<int64_t, int> claim;  // job_id, attempt
    const std::string* contact_key;
    PendingSend* send;
  };
  void WriteLocked();  // requires mu_

  std::mutex mu_;  // guards waiting_ and last_write_; taken before store_mu_
  std::timed_mutex& store_mu_;
  Store& store_;
  SendGate& gate_;
  const Millis now_;
  std::vector<Waiting> waiting_;
  std::chrono::steady_clock::time_point last_write_;
};

}  // namespace internal
}  // namespace cartrecovery

#endif  // CARTRECOVERY_SRC_ENGINE_RECORD_GROUPS_H_
