// checkpointer.h: copies the store's write-ahead log into its file on a thread of its own,
// so that a commit never does it.
//
// SQLite in WAL mode appends each commit to the log; a checkpoint copies the log's pages
// into the database file, syncs the file, and lets the next commit write the log from its
// beginning again. By default the commit that brings the log to 1000 pages runs the
// checkpoint itself, so the writer thread's commit, and every durable track() waiting on
// it, also waits for the copy and the file's sync. The engine hands that work here
// (Store::HandOffCheckpoints): its store's commits only report the log's length, and when
// the log has grown by kCopyEvery pages this thread copies it, in two steps:
//   1. Copy() without any lock of the engine: most of the log goes into the file while the
//      writer goes on committing; if commits came in meanwhile (a checkpoint overtaken by a
//      commit does not sync the file), the file is synced, still without a lock.
//   2. Finish() holding `store_mu`: the rest of the log is copied holding the file's write
//      lock, so between two transactions of this process (store_mu: our writer waits on
//      the mutex, not in SQLite's busy handler) and of every other (Finish() waits up to
//      kFinishWaitMs for one in flight, and for readers of older pages to end). Only the
//      pages of the commits since step 1 are left, and the sync finds little to write:
//      the writer waits for that much (median 0.7-1.7 ms here), once per kCopyEvery
//      pages, instead of the whole copy and sync. Step 2 is
//      needed even when step 1 copied the whole log: a commit starts the log again only if
//      its transaction began after the whole log was in the file, and under load writers
//      are inside a transaction nearly all the time (with no step 2 the log grew to 420 MB
//      in 11 s at 10,000 events/s; with step 2 under store_mu alone, two processes
//      committing grew it to 155 MB where Finish() keeps it at 7 MB).
// A round that still cannot finish (a transaction of another process outlasts the wait,
// or a reader of older pages does) is tried again when the log has grown by a quarter of
// kCopyEvery, waiting twice as long each time up to kFinishWaitMaxMs: when every process
// is starved of CPU, transactions outlast 50 ms, and with a fixed wait two processes
// committing back to back grew the log past 50 MB (tests/python/test_wal_checkpoints.py
// with three busy loops on two cores); the longer waits hold writers up only then.
//
// Several processes on one file: each one's checkpointer copies the log; one checkpoint
// runs at a time (SQLite's checkpoint lock), the others copy nothing and try again later.
// A process whose engine never started its writer or worker keeps SQLite's automatic
// checkpoint: nobody waits on its commits but the caller that made them.
//
// Thread-safety and fork. Start() (under `store_mu`) hands the store's checkpoints over and
// starts the thread; Stop() or the destructor ends and joins it, and closes its
// connection, after which the store must not commit (the log would grow unseen): the engine
// stops it after its writer and worker and just before the store closes. The thread is
// inside SQLite only while it holds `sqlite_mu`, so that fork() can wait for it to be out
// (engine.cpp holds every runtime's store_mu and sqlite_mu across fork()).
#ifndef CARTRECOVERY_SRC_ENGINE_CHECKPOINTER_H_
#define CARTRECOVERY_SRC_ENGINE_CHECKPOINTER_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "cartrecovery/store.h"

namespace cartrecovery {
namespace internal {

class Checkpointer {
 public:
  // SQLite's own threshold for its automatic checkpoint: the log (and its file, which is
  // written again from its start rather than shrunk) stays about 4 MB.
  static constexpr int64_t kCopyEvery = 1000;
  // Finish()'s wait for another process's transaction or reader, and its longest.
  static constexpr int kFinishWaitMs = 50;
  static constexpr int kFinishWaitMaxMs = 800;

  using ReportError = std::function<void(const std::string& what)>;
  // Requires `store_mu` held. nullptr when the store keeps no log (PostgreSQL, :memory:).
  // Throws Error(kStorage) when the copier's connection cannot be opened; then the store
  // keeps checkpointing in its commits. `store_mu` and `sqlite_mu` must outlive it.
  static std::unique_ptr<Checkpointer> Start(Store& store, std::timed_mutex& store_mu,
                                             std::mutex& sqlite_mu, ReportError report);
  ~Checkpointer();
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  void Stop();

 private:
  struct Shared {  // outlives us: the store's commit hook holds it
    std::mutex mu;
    std::condition_variable cv;
    bool stop = false;        // guarded by mu
    int64_t log_pages = 0;    // guarded by mu: as the last commit left it
    int64_t copy_at = kCopyEvery;  // guarded by mu: the log's length that calls for a copy
  };
  Checkpointer(std::timed_mutex& store_mu, std::mutex& sqlite_mu, ReportError report);
  static void Committed(Shared& s, int64_t log_pages);  // the store's commit hook
  void Loop();
  // One round: the log copied into the file, as much as readers and writers allow.
  // kFinished: the next commit starts the log again. kGaveUp: Finish() waited its whole
  // wait for a transaction or reader. kBusy: another connection was copying.
  enum class Round { kFinished, kGaveUp, kBusy };
  Round CopyLog();

  std::timed_mutex& store_mu_;
  std::mutex& sqlite_mu_;
  ReportError report_;
  std::shared_ptr<Shared> shared_;
  std::unique_ptr<LogCopier> copier_;  // used on the thread, and closed, under sqlite_mu_
  int finish_wait_ms_ = kFinishWaitMs;  // the thread's: doubled by each round that gave up
  std::thread thread_;
};

}  // namespace internal
}  // namespace cartrecovery

#endif  // CARTRECOVERY_SRC_ENGINE_CHECKPOINTER_H_
