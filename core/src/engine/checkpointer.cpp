// checkpointer.cpp: the log-copying thread (see checkpointer.h).
#include "engine/checkpointer.h"

#include <algorithm>
#include <exception>
#include <utility>

namespace cartrecovery {
namespace internal {

Checkpointer::Checkpointer(std::timed_mutex& store_mu, std::mutex& sqlite_mu, ReportError report)
    : store_mu_(store_mu), sqlite_mu_(sqlite_mu), report_(std::move(report)),
      shared_(std::make_shared<Shared>()) {}

std::unique_ptr<Checkpointer> Checkpointer::Start(Store& store, std::timed_mutex& store_mu,
                                                  std::mutex& sqlite_mu, ReportError report) {
  std::unique_ptr<Checkpointer> c(new Checkpointer(store_mu, sqlite_mu, std::move(report)));
  std::weak_ptr<Shared> weak = c->shared_;
  {
    std::lock_guard<std::mutex> lock(sqlite_mu);  // opens a connection: inside SQLite
    c->copier_ = store.HandOffCheckpoints([weak](int64_t log_pages) {
      if (auto s = weak.lock()) Committed(*s, log_pages);
    });
  }
  if (!c->copier_) return nullptr;
  c->thread_ = std::thread([p = c.get()] { p->Loop(); });
  return c;
}

Checkpointer::~Checkpointer() { Stop(); }

void Checkpointer::Stop() {
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    shared_->stop = true;
  }
  shared_->cv.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(sqlite_mu_);
  copier_.reset();
}

void Checkpointer::Committed(Shared& s, int64_t log_pages) {
  bool due;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    // Shorter than before: a checkpoint finished and the log started again.
    if (log_pages < s.log_pages) s.copy_at = kCopyEvery;
    s.log_pages = log_pages;
    due = log_pages >= s.copy_at;
  }
  if (due) s.cv.notify_one();
}

void Checkpointer::Loop() {
  std::unique_lock<std::mutex> lock(shared_->mu);
  for (;;) {
    shared_->cv.wait(lock, [&] { return shared_->stop || shared_->log_pages >= shared_->copy_at; });
    if (shared_->stop) return;
    lock.unlock();
    Round round = Round::kBusy;
    try {
      round = CopyLog();
    } catch (const std::exception& e) {
      if (report_) report_(std::string("checkpoint: ") + e.what());
    }
    // Only a wait that ran out grows: another connection copying says nothing of how long
    // transactions last.
    if (round == Round::kFinished) finish_wait_ms_ = kFinishWaitMs;
    if (round == Round::kGaveUp) finish_wait_ms_ = std::min(2 * finish_wait_ms_, kFinishWaitMaxMs);
    lock.lock();
    // Finished: the next commit starts the log again and Committed() measures from there.
    // Otherwise (gave up, another connection copying, failed) sooner than a whole round.
    shared_->copy_at = shared_->log_pages + (round == Round::kFinished ? kCopyEvery : kCopyEvery / 4);
  }
}

Checkpointer::Round Checkpointer::CopyLog() {
  {
    std::lock_guard<std::mutex> sqlite(sqlite_mu_);
    auto p = copier_->Copy();
    if (!p) return Round::kBusy;  // another connection is copying
    if (!p->Complete()) copier_->SyncFile();
  }
  // Complete or not, the writer's transaction in flight began before that copy, and a
  // commit starts the log again only if its transaction began after the whole log was
  // copied: so the round ends between two transactions, of this process (store_mu: our
  // writer waits here rather than in SQLite's busy handler) and of the others (Finish()).
  std::lock_guard<std::timed_mutex> store(store_mu_);
  std::lock_guard<std::mutex> sqlite(sqlite_mu_);
  auto p = copier_->Finish(finish_wait_ms_);
  if (!p) return Round::kBusy;
  return p->Complete() ? Round::kFinished : Round::kGaveUp;  // tried again soon (Loop)
}

}  // namespace internal
}  // namespace cartrecovery
