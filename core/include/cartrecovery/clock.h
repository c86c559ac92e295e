// clock.h: where every module asks the time.
//
// No module reads the system clock directly; the engine is given a Clock. ManualClock lets
// tests and notebooks replay days in milliseconds: advancing it wakes whoever waits on it
// (the background worker), so a replay never needs a real sleep.
//
// Time is UTC milliseconds since the Unix epoch throughout the core.
#ifndef CARTRECOVERY_CLOCK_H_
#define CARTRECOVERY_CLOCK_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

namespace cartrecovery {

using Millis = int64_t;  // UTC milliseconds since 1970-01-01T00:00:00Z

constexpr Millis kSecond = 1000;
constexpr Millis kMinute = 60 * kSecond;
constexpr Millis kHour = 60 * kMinute;
constexpr Millis kDay = 24 * kHour;

// Thread-safe: NowMillis() may be called from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual Millis NowMillis() const = 0;
  // True when time only moves by Set/Advance; waiting threads then rely on OnChange
  // instead of real timeouts.
  virtual bool IsManual() const { return false; }
  // Registers fn to be called (on the advancing thread) whenever the time is moved. Returns
  // a token for Unsubscribe. The system clock never calls it.
  virtual int Subscribe(std::function<void()> fn) { (void)fn; return 0; }
  virtual void Unsubscribe(int token) { (void)token; }
};

class SystemClock final : public Clock {
 public:
  Millis NowMillis() const override;
};

// A ManualClock is shared by every thread of an engine (the worker's lease keeper subscribes
// and unsubscribes on its own thread), and a forked child keeps using it: fork() copies the
// mutex as it was, so a child forked while another thread held it would wait on it forever.
// Every live ManualClock is therefore locked around fork() (pthread_atfork), as the engine
// does with its stores; mu_ is a leaf lock (nothing is waited for while it is held), so this
// cannot deadlock.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Millis start);
  ~ManualClock() override;
  ManualClock(const ManualClock&) = delete;
  ManualClock& operator=(const ManualClock&) = delete;
  Millis NowMillis() const override { return now_.load(); }
  bool IsManual() const override { return true; }
  void Set(Millis t);
  void Advance(Millis delta) { Set(now_.load() + delta); }
  int Subscribe(std::function<void()> fn) override;
  void Unsubscribe(int token) override;

 private:
  friend struct ManualClockForkGuard;  // clock.cpp: locks mu_ around fork()
  std::atomic<Millis> now_;
  std::mutex mu_;
  int next_token_ = 1;                                        // guarded by mu_
  std::vector<std::pair<int, std::function<void()>>> subs_;   // guarded by mu_
};

}  // namespace cartrecovery

#endif  // CARTRECOVERY_CLOCK_H_
