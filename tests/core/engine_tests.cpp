// engine_tests: the engine's ingest and worker mechanics (engine.h): validation before
// queueing, reads that flush, the bounded queue, exactly one message per step across
// engines sharing a file, lease fencing, and reopening the store after fork().
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cartrecovery/clock.h"
#include "cartrecovery/delivery.h"
#include "cartrecovery/engine.h"
#include "cartrecovery/status.h"
#include "cartrecovery/store.h"
#include "cartrecovery/value.h"
#include "engine/deliveries.h"
#include "engine/engine_impl.h"  // DerivedId
#include "engine/lease_keeper.h"
#include "engine/render_ahead.h"

#include "test_util.h"

using namespace cartrecovery;

namespace {

namespace fs = std::filesystem;

constexpr Millis kStart = 1700000000000;  // 2023-11-14T22:13:20Z

using testing::TempDir;
using testing::WaitChild;

Value Map(Value::Map m) { return Value::MakeMap(std::move(m)); }

Value Item(const std::string& sku, Value price) {
  return Map({{"sku", Value::String(sku)},
              {"name", Value::String("Thing " + sku)},
              {"price", std::move(price)},
              {"quantity", Value::Int(1)}});
}

// A cart with one line and, optionally, the shopper's address (so a journey can start).
Value CartFields(const std::string& cart_id, const std::string& email = "") {
  Value::Map m = {{"cart_id", Value::String(cart_id)},
                  {"currency", Value::String("EUR")},
                  {"items", Value::MakeList({Item("sku-1", Value::String("19.90"))})}};
  if (!email.empty()) m["email"] = Value::String(email);
  return Map(std::move(m));
}

EngineOptions Options(std::shared_ptr<Clock> clock, const std::string& url = ":memory:") {
  EngineOptions o;
  o.store_url = url;
  o.clock = std::move(clock);
  return o;
}

Error ExpectError(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e;
  } catch (const std::exception& e) {
    BOOST_FAIL("expected cartrecovery::Error, got std::exception: " << e.what());
  }
  BOOST_FAIL("expected cartrecovery::Error, nothing was thrown");
  throw std::logic_error("unreachable");
}


// Counts every Send per message id, across all the channels that share it.
struct SendLog {
  std::mutex mu;
  std::map<std::string, int> sends;
};

class CountingChannel final : public Channel {
 public:
  explicit CountingChannel(std::shared_ptr<SendLog> log) : log_(std::move(log)) {}
  void Send(const OutgoingMessage& m) override {
    std::lock_guard<std::mutex> lock(log_->mu);
    ++log_->sends[m.message_id];
  }
  std::string Describe() const override { return "counting"; }

 private:
  std::shared_ptr<SendLog> log_;
};

// Lets two threads start each round together, so they race on the same due jobs.
class Barrier {
 public:
  explicit Barrier(int n) : n_(n) {}
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    const int gen = gen_;
    if (++waiting_ == n_) {
      waiting_ = 0;
      ++gen_;
      cv_.notify_all();
      return;
    }
    cv_.wait(lock, [&] { return gen_ != gen; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  const int n_;
  int waiting_ = 0;
  int gen_ = 0;
};

// Sleeps in every Send and remembers the most Sends it saw under way at once.
class SlowChannel final : public Channel {
 public:
  explicit SlowChannel(int concurrency) : concurrency_(concurrency) {}
  void Send(const OutgoingMessage& m) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      max_in_flight_ = std::max(max_in_flight_, ++in_flight_);
      sent_.push_back(m.message_id);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(15));
    std::lock_guard<std::mutex> lock(mu_);
    --in_flight_;
  }
  int Concurrency() const override { return concurrency_; }
  std::string Describe() const override { return "slow"; }
  int max_in_flight() {
    std::lock_guard<std::mutex> lock(mu_);
    return max_in_flight_;
  }
  std::vector<std::string> sent() {
    std::lock_guard<std::mutex> lock(mu_);
    return sent_;
  }

 private:
  const int concurrency_;
  std::mutex mu_;
  int in_flight_ = 0, max_in_flight_ = 0;  // guarded by mu_
  std::vector<std::string> sent_;          // guarded by mu_
};

}  // namespace

BOOST_AUTO_TEST_SUITE(engine_tests)

BOOST_AUTO_TEST_CASE(an_invalid_event_is_refused_naming_the_field_and_stores_nothing) {
  auto clock = std::make_shared<ManualClock>(kStart);
  Engine engine(Options(clock));
  Value bad_price = Map({{"cart_id", Value::String("c1")},
                         {"items", Value::MakeList({Item("a", Value::Float(19.9))})}});
  Error e = ExpectError([&] { engine.Track("cart_updated", bad_price); });
  BOOST_TEST((e.code() == ErrorCode::kInvalidArgument));
  BOOST_TEST(e.field() == "items[0].price");

  e = ExpectError([&] { engine.Track("cart_exploded", CartFields("c1")); });
  BOOST_TEST((e.code() == ErrorCode::kInvalidArgument));
  BOOST_TEST(e.field() == "type");

  Value typo = Map({{"cart_id", Value::String("c1")}, {"colour", Value::String("red")}});
  e = ExpectError([&] { engine.Track("cart_updated", typo); });
  BOOST_TEST((e.code() == ErrorCode::kInvalidArgument));
  BOOST_TEST(e.field() == "colour");

  engine.Flush();
  auto st = engine.Status();
  BOOST_TEST(st.store.events == 0);
  BOOST_TEST(st.queued == 0u);
  BOOST_TEST(st.committed == 0);
  BOOST_TEST(!engine.GetCart("c1").has_value());

  // The count does move for a valid event: the zero above means something.
  engine.Track("cart_updated", CartFields("c1"));
  engine.Flush();
  BOOST_TEST(engine.Status().store.events == 1);
}

BOOST_AUTO_TEST_CASE(reads_see_what_was_tracked_and_flush_waits_for_the_commit) {
  TempDir dir;
  const std::string path = dir.File("reads.db");
  auto clock = std::make_shared<ManualClock>(kStart);
  Engine engine(Options(clock, "sqlite:///" + path));
  engine.Track("cart_updated", CartFields("c1", "ann@example.com"));
  auto view = engine.GetCart("c1");  // no Flush(): reads flush first
  BOOST_REQUIRE(view.has_value());
  BOOST_TEST(view->cart.items.size() == 1u);
  BOOST_TEST(view->cart.items[0].price_minor == 1990);
  BOOST_TEST(view->cart.contact_key == "e:ann@example.com");

  for (int i = 0; i < 50; ++i) engine.Track("cart_updated", CartFields("bulk-" + std::to_string(i)));
  engine.Flush();
  auto st = engine.Status();
  BOOST_TEST(st.queued == 0u);
  BOOST_TEST(st.committed == 51);
  BOOST_TEST(st.store.events == 51);
  BOOST_TEST(st.store.carts == 51);
  // Committed means visible to another connection, not only to ours.
  auto other = OpenStore(path);
  BOOST_TEST(other->LoadCart("bulk-49").has_value());
}

BOOST_AUTO_TEST_CASE(track_many_is_all_or_nothing) {
  auto clock = std::make_shared<ManualClock>(kStart);
  Engine engine(Options(clock));
  std::vector<std::pair<std::string, Value>> events;
  for (int i = 0; i < 6; ++i) events.emplace_back("cart_updated", CartFields("m" + std::to_string(i)));
  events[3].second = Map({{"cart_id", Value::String("m3")},
                          {"items", Value::MakeList({Item("x", Value::String("-1"))})}});
  Error e = ExpectError([&] { engine.TrackMany(events, {}); });
  BOOST_TEST((e.code() == ErrorCode::kInvalidArgument));
  BOOST_TEST(e.field().rfind("[3]", 0) == 0u, e.field());
  BOOST_TEST(e.field() == "[3].items[0].price");
  engine.Flush();
  auto st = engine.Status();
  BOOST_TEST(st.committed == 0);
  BOOST_TEST(st.store.events == 0);
  BOOST_TEST(!engine.GetCart("m0").has_value());

  events[3].second = CartFields("m3");
  BOOST_TEST(engine.TrackMany(events, {}) == 6u);
  engine.Flush();
  BOOST_TEST(engine.Status().store.events == 6);
}

// The store is held by another connection, so the writer cannot commit; the queue fills
// and Track() says so instead of dropping or blocking. Releasing the lock lets it all in.
BOOST_AUTO_TEST_CASE(a_full_queue_is_an_error_and_nothing_accepted_is_lost) {
  TempDir dir;
  const std::string path = dir.File("full.db");
  auto clock = std::make_shared<ManualClock>(kStart);
  EngineOptions o = Options(clock, path);
  o.queue_capacity = 10;
  Engine engine(o);
  engine.Track("cart_updated", CartFields("warm-up"));
  engine.Flush();  // the writer runs and the schema exists

  sqlite3* raw = nullptr;
  BOOST_REQUIRE(sqlite3_open(path.c_str(), &raw) == SQLITE_OK);
  sqlite3_busy_timeout(raw, 10000);
  BOOST_REQUIRE(sqlite3_exec(raw, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);

  int accepted = 0;
  bool full = false;
  for (int i = 0; i < 100 && !full; ++i) {
    try {
      engine.Track("cart_updated", CartFields("q" + std::to_string(i)));
      ++accepted;
    } catch (const Error& e) {
      BOOST_TEST((e.code() == ErrorCode::kQueueFull), e.what());
      full = true;
    }
  }
  BOOST_TEST(full);
  // Ten wait in the queue; the writer may hold at most one batch (<= 10) of them.
  BOOST_TEST(accepted >= 10);
  BOOST_TEST(accepted <= 20);

  BOOST_REQUIRE(sqlite3_exec(raw, "ROLLBACK", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(raw);
  engine.Flush();
  for (int i = 0; i < accepted; ++i)
    BOOST_TEST(engine.GetCart("q" + std::to_string(i)).has_value(), "q" << i);
  BOOST_TEST(!engine.GetCart("q" + std::to_string(accepted)).has_value());  // the refused one
  auto st = engine.Status();
  BOOST_TEST(st.store.events == accepted + 1);
  BOOST_TEST(st.queued == 0u);
  // Room again.
  engine.Track("cart_updated", CartFields("after"));
  BOOST_TEST(engine.GetCart("after").has_value());
}

// Two engines (two connections) on one file run the same due times at the same moment:
// claims decide who sends, so every step goes out once and is recorded once.
BOOST_AUTO_TEST_CASE(two_engines_on_one_file_send_each_step_once) {
  TempDir dir;
  const std::string path = dir.File("shared.db");
  auto clock = std::make_shared<ManualClock>(kStart);
  auto log = std::make_shared<SendLog>();
  auto options = [&](const std::string& id) {
    EngineOptions o = Options(clock, path);
    o.channels["email"] = std::make_shared<CountingChannel>(log);
    o.channels_given = true;
    o.worker_id = id;
    return o;
  };
  Engine a(options("worker-a"));
  Engine b(options("worker-b"));
  constexpr int kCarts = 12;
  std::vector<std::pair<std::string, Value>> events;
  for (int i = 0; i < kCarts; ++i)
    events.emplace_back("cart_updated", CartFields("cart-" + std::to_string(i),
                                                   "shopper" + std::to_string(i) + "@example.com"));
  a.TrackMany(events, {});
  a.Flush();

  // Hourly for five days covers the default flow's three steps (1h, +10h, +2d).
  constexpr int kRounds = 5 * 24;
  Barrier barrier(2);
  int ran_a = 0, ran_b = 0;
  std::string error_a, error_b;
  auto run = [&](Engine& engine, int& ran, std::string& error) {
    try {
      for (int k = 1; k <= kRounds; ++k) {
        barrier.Wait();
        ran += engine.RunDue(kStart + k * kHour);
      }
    } catch (const std::exception& e) {
      error = e.what();
      // Keep the other thread's barrier rounds going.
      for (int k = 0; k < kRounds; ++k) barrier.Wait();
    }
  };
  std::thread ta([&] { run(a, ran_a, error_a); });
  std::thread tb([&] { run(b, ran_b, error_b); });
  ta.join();
  tb.join();
  BOOST_TEST(error_a.empty(), error_a);
  BOOST_TEST(error_b.empty(), error_b);
  BOOST_TEST(ran_a + ran_b > 0);

  auto messages = a.Messages("", "");
  std::set<std::string> ids;
  std::set<std::pair<std::string, int>> steps;
  for (const auto& m : messages) {
    BOOST_TEST(ids.insert(m.message_id).second, "message " << m.message_id << " twice");
    BOOST_TEST(steps.insert({m.journey_id, m.step}).second,
               "journey " << m.journey_id << " step " << m.step << " twice");
    BOOST_TEST(m.status == MessageStatus::kSent, m.message_id << " is " << m.status << " " << m.reason);
  }
  BOOST_TEST(messages.size() == static_cast<size_t>(kCarts * 3));
  std::lock_guard<std::mutex> lock(log->mu);
  BOOST_TEST(log->sends.size() == messages.size());
  for (const auto& kv : log->sends) BOOST_TEST(kv.second == 1, kv.first << " sent " << kv.second);
  for (const auto& m : messages) BOOST_TEST(log->sends.count(m.message_id) == 1u, m.message_id);
  BOOST_TEST(a.Status().store.running_journeys == 0);
  BOOST_TEST(a.Status().store.messages_sent == kCarts * 3);
}

// A worker that stalls past its lease loses the job: another claims it and sends the step;
// the stale claim is fenced off, so the step is not advanced twice.
BOOST_AUTO_TEST_CASE(a_worker_that_lost_its_lease_cannot_advance_the_journey) {
  TempDir dir;
  const std::string path = dir.File("lease.db");
  auto clock = std::make_shared<ManualClock>(kStart);
  auto log = std::make_shared<SendLog>();
  EngineOptions o = Options(clock, path);
  o.channels["email"] = std::make_shared<CountingChannel>(log);
  o.channels_given = true;
  Engine engine(o);
  engine.Track("cart_updated", CartFields("c1", "lea@example.com"));
  engine.RunDue(kStart + kHour);  // abandoned: step 1 goes out at once
  auto view = engine.GetCart("c1");
  BOOST_REQUIRE(view && view->journey);
  BOOST_TEST(view->journey->next_step == 1);
  const Millis t = engine.Status().store.next_due_ms.value_or(0);  // step 2
  BOOST_REQUIRE(t > kStart + kHour);

  // A stalled worker claims the step job through its own connection, then sits on it.
  auto stalled = OpenStore(path);
  std::vector<JobRecord> claimed;
  stalled->Write([&] { claimed = stalled->ClaimDueJobs(t, 10, kMinute); });
  BOOST_REQUIRE(claimed.size() == 1u);
  BOOST_TEST(claimed[0].kind == "step");
  BOOST_TEST(engine.RunDue(t) == 0);  // leased: not ours to run

  // The lease runs out; the engine claims it again and sends step 2.
  BOOST_TEST(engine.RunDue(t + kMinute) == 1);
  view = engine.GetCart("c1");
  BOOST_REQUIRE(view && view->journey);
  BOOST_TEST(view->journey->next_step == 2);

  // The stalled worker wakes: its claim is stale and changes nothing.
  bool current = true, finished = true, retried = true;
  stalled->Write([&] {
    current = stalled->ClaimIsCurrent(claimed[0].job_id, claimed[0].attempt);
    finished = stalled->FinishJob(claimed[0].job_id, claimed[0].attempt);
    retried = stalled->RetryJob(claimed[0].job_id, claimed[0].attempt, t);
  });
  BOOST_TEST(!current);
  BOOST_TEST(!finished);
  BOOST_TEST(!retried);
  view = engine.GetCart("c1");
  BOOST_TEST(view->journey->next_step == 2);
  BOOST_TEST(view->journey->state == JourneyState::kRunning);
  BOOST_TEST(engine.Status().store.next_due_ms.value_or(0) > t + kMinute);  // step 3 later
  std::lock_guard<std::mutex> lock(log->mu);
  BOOST_TEST(log->sends.size() == 2u);
  for (const auto& kv : log->sends) BOOST_TEST(kv.second == 1);
}

// gunicorn --preload: the engine was used (writer thread, connection) before fork(). The
// child must not touch the inherited connection; the engine reopens the store there.
BOOST_AUTO_TEST_CASE(an_engine_keeps_working_on_both_sides_of_fork) {
  TempDir dir;
  const std::string path = dir.File("fork.db");
  auto clock = std::make_shared<ManualClock>(kStart);
  Engine engine(Options(clock, path));
  engine.Track("cart_updated", CartFields("parent-before"));
  engine.Flush();

  pid_t pid = fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    int rc = 1;
    try {
      engine.Track("cart_updated", CartFields("child"));
      engine.Flush();
      auto mine = engine.GetCart("child");
      auto parents = engine.GetCart("parent-before");
      if (mine && parents && mine->cart.items.size() == 1u) rc = 0;
    } catch (...) {
      rc = 2;
    }
    _exit(rc);
  }
  int status = WaitChild(pid);
  BOOST_TEST((status >= 0 && WIFEXITED(status)), "the child hung or crashed");
  if (status >= 0 && WIFEXITED(status)) BOOST_TEST(WEXITSTATUS(status) == 0);

  engine.Track("cart_updated", CartFields("parent-after"));
  engine.Flush();
  BOOST_TEST(engine.GetCart("parent-after").has_value());
  BOOST_TEST(engine.GetCart("child").has_value());  // the child's commit, in the same file
  BOOST_TEST(engine.Status().store.events == 3);
  BOOST_TEST(engine.Status().last_error.empty(), engine.Status().last_error);
}

// A batch is delivered on as many threads as its busiest channel allows, each channel held
// to its own Concurrency(), every planned message that is still "sending" handed over once,
// whole jobs in order, and nothing taken once a stop is asked.
BOOST_AUTO_TEST_CASE(a_batch_is_delivered_with_bounded_concurrency_per_channel) {
  std::timed_mutex store_mu;
  auto store = OpenStore(":memory:");
  SlowChannel wide(3), narrow(1);
  constexpr size_t kJobs = 12;
  std::vector<std::vector<internal::PendingSend>> jobs(kJobs);
  std::vector<std::string> ids;
  store->Write([&] {
    for (size_t i = 0; i < kJobs; ++i) {
      for (Channel* channel : {static_cast<Channel*>(&wide), static_cast<Channel*>(&narrow)}) {
        internal::PendingSend ps;
        ps.message.message_id = (channel == &wide ? "w" : "n") + std::to_string(i);
        ps.message.journey_id = "j" + std::to_string(i);
        ps.message.channel = channel == &wide ? "email" : "sms";
        // Job 4's wide message was stopped meanwhile (an order): the gate holds it back.
        ps.message.status = i == 4 && channel == &wide ? MessageStatus::kSuppressed
                                                        : MessageStatus::kSending;
        ps.outgoing.message_id = ps.message.message_id;
        ps.channel = channel;
        BOOST_REQUIRE(store->InsertMessage(ps.message));
        ids.push_back(ps.message.message_id);
        jobs[i].push_back(std::move(ps));
      }
    }
  });
  internal::SendGate gate(store_mu, *store, ids);
  std::mutex accepted_mu;
  std::vector<size_t> accepted;
  std::vector<std::vector<internal::SendResult>> results;
  std::atomic<size_t> taken{0};
  const size_t delivered = internal::DeliverJobs(
      gate, kJobs, [&](size_t i) -> std::vector<internal::PendingSend>& { return jobs[i]; },
      [&] { return taken.load() >= 9; },  // a shutdown asked after nine jobs were begun
      [&](size_t i, internal::PendingSend&) {
        std::lock_guard<std::mutex> lock(accepted_mu);
        accepted.push_back(i);
        taken = std::max<size_t>(taken.load(), i + 1);
      },
      results);
  BOOST_TEST(wide.max_in_flight() >= 2);
  BOOST_TEST(wide.max_in_flight() <= 3);
  BOOST_TEST(narrow.max_in_flight() == 1);
  // The jobs taken are a prefix of the batch, each delivered whole; the rest untouched.
  BOOST_TEST(delivered >= 9u);
  BOOST_TEST(delivered < kJobs);
  BOOST_TEST(results.size() == kJobs);
  for (size_t i = 0; i < kJobs; ++i) {
    const size_t want = i >= delivered ? 0 : i == 4 ? 1 : 2;
    BOOST_TEST(results[i].size() == want, "job " << i);
    for (const auto& r : results[i]) BOOST_TEST(!r.error.has_value());
  }
  std::multiset<std::string> sent;
  for (const auto& id : wide.sent()) sent.insert(id);
  for (const auto& id : narrow.sent()) sent.insert(id);
  BOOST_TEST(sent.size() == 2 * delivered - 1);
  BOOST_TEST(sent.count("w4") == 0u);
  for (const auto& id : sent) BOOST_TEST(sent.count(id) == 1u, id);
  BOOST_TEST(accepted.size() == sent.size());
}

// The threads delivering a batch keep the store lock busy (a look per send, a group's commit
// every few): four here, each holding it a while and queueing for it again right after. The
// batch's lease keeper still renews before the lease ends, every time, because it waits in
// the lock's queue in turn with them (lease_keeper.h). A keeper that only tried the lock now
// and then found it taken until the lease ran out, and another worker sent the batch again.
BOOST_AUTO_TEST_CASE(threads_keeping_the_store_busy_do_not_starve_the_lease_renewal) {
  std::timed_mutex store_mu;
  auto clock = std::make_shared<SystemClock>();
  constexpr Millis kLease = 600;  // renewed every 200 ms
  constexpr int kSenders = 4, kHolds = 25;  // the lock is never free for long: about 3 s
  constexpr auto kHold = std::chrono::milliseconds(30), kAway = std::chrono::milliseconds(1);
  std::mutex mu;
  std::vector<std::pair<Millis, Millis>> renewals;  // (when, until)
  const Millis claimed_until = clock->NowMillis() + kLease;
  Millis delivered_at = 0;
  {
    internal::LeaseKeeper keeper(clock, kLease, store_mu, [&](Millis until) {
      std::lock_guard<std::mutex> lock(mu);
      renewals.emplace_back(clock->NowMillis(), until);
    });
    std::vector<std::thread> senders;
    for (int t = 0; t < kSenders; ++t) {
      senders.emplace_back([&] {
        for (int i = 0; i < kHolds; ++i) {
          {
            std::lock_guard<std::timed_mutex> lock(store_mu);
            std::this_thread::sleep_for(kHold);
          }
          std::this_thread::sleep_for(kAway);
        }
      });
    }
    for (auto& sender : senders) sender.join();
    delivered_at = clock->NowMillis();
  }
  // The claim never ran out while the batch was delivered: each renewal came before the
  // lease it extended ended, and the last one reaches past the end of the delivery.
  BOOST_REQUIRE(!renewals.empty());
  Millis until = claimed_until;
  for (const auto& renewal : renewals) {
    BOOST_TEST(renewal.first < until, "renewed at " << renewal.first << ", lease ended " << until);
    until = renewal.second;
  }
  BOOST_TEST(delivered_at < until);
}

// Shutdown stays prompt: the owner may stop the keeper while the store is held, by someone
// else or by the owner itself (here), and the keeper waiting for it gives up within a turn.
BOOST_AUTO_TEST_CASE(a_keeper_waiting_for_a_held_store_stops_when_asked) {
  std::timed_mutex store_mu;
  auto clock = std::make_shared<SystemClock>();
  int renewed = 0;
  std::unique_lock<std::timed_mutex> held(store_mu);
  internal::LeaseKeeper keeper(clock, 30, store_mu, [&](Millis) { ++renewed; });  // every 10 ms
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the keeper is waiting by now
  auto stopped = std::async(std::launch::async, [&] { keeper.Stop(); });
  const bool prompt = stopped.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
  held.unlock();  // a keeper that did not give up gets the store now, and stops after all
  stopped.wait();
  BOOST_TEST(prompt);
  BOOST_TEST(renewed == 0);  // nothing renewed once the owner was done with the batch
}

// Message and journey ids are stored: their derivation never changes (expected values from
// Python: prefix + hashlib.sha256(parts).hexdigest()[:24]).
BOOST_AUTO_TEST_CASE(derived_ids_are_the_first_twelve_bytes_of_sha256_in_hex) {
  BOOST_TEST(DerivedId("m_", "j_abc\n1\nemail") == "m_4205855c95d6329dcef08507");
  BOOST_TEST(DerivedId("j_", "e:zo\xc3\xab@example.com\nc1\n1772442000000") ==
             "j_74a4fe3779b02894eee9f203");
}

// render_ahead.h: each item is rendered once, by a helper or (when Take() comes first) by
// the caller, and what a helper rendered is what Take() answers.
BOOST_AUTO_TEST_CASE(rendering_ahead_renders_each_item_once_and_hands_it_over) {
  constexpr size_t kItems = 200;
  std::vector<std::atomic<int>> calls(kItems);
  size_t from_helpers = 0, by_caller = 0;
  {
    internal::RenderAhead<std::string> ahead(kItems, 2, [&](size_t i) {
      ++calls[i];
      return "item " + std::to_string(i);
    });
    // The helpers start with the first items: wait until they are at the tenth.
    while (calls[9] == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    for (size_t i = 0; i < kItems; ++i) {
      if (auto got = ahead.Take(i)) {
        BOOST_TEST(*got == "item " + std::to_string(i));
        ++from_helpers;
      } else {
        ++by_caller;  // the caller renders it: no helper may have started it
        BOOST_TEST(calls[i] == 0);
      }
    }
  }
  for (size_t i = 0; i < kItems; ++i) BOOST_TEST(calls[i] <= 1);
  BOOST_TEST(from_helpers >= 10);  // the helpers did run ahead
  BOOST_TEST(from_helpers + by_caller == kItems);
}

BOOST_AUTO_TEST_CASE(rendering_ahead_without_helpers_leaves_every_item_to_the_caller) {
  int calls = 0;
  internal::RenderAhead<int> ahead(10, 0, [&](size_t i) { ++calls; return static_cast<int>(i); });
  for (size_t i = 0; i < 10; ++i) BOOST_TEST(!ahead.Take(i).has_value());
  BOOST_TEST(calls == 0);
}

// A render that throws on a helper is the caller's to meet again: Take() says "not rendered"
// and the items after it are rendered as usual.
BOOST_AUTO_TEST_CASE(an_item_that_throws_ahead_is_left_to_the_caller) {
  std::atomic<int> done{0};
  internal::RenderAhead<int> ahead(3, 1, [&](size_t i) {
    ++done;
    if (i == 1) throw std::runtime_error("template broken");
    return static_cast<int>(i) * 10;
  });
  while (done < 3) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  BOOST_TEST(ahead.Take(0).value_or(-1) == 0);
  BOOST_TEST(!ahead.Take(1).has_value());
  BOOST_TEST(ahead.Take(2).value_or(-1) == 20);
}

// Take() of the item a helper is rendering waits for it; the batch's end stops the helpers
// after their current item instead of rendering everything left (the helper would render
// all 1000, a millisecond each, before the end returned).
BOOST_AUTO_TEST_CASE(take_waits_for_the_item_being_rendered_and_the_end_stops_the_rest) {
  std::mutex mu;
  std::condition_variable cv;
  bool started = false, release = false;
  std::atomic<int> calls{0};
  {
    internal::RenderAhead<int> ahead(1000, 1, [&](size_t i) {
      ++calls;
      if (i == 0) {
        std::unique_lock<std::mutex> lock(mu);
        started = true;
        cv.notify_all();
        cv.wait(lock, [&] { return release; });
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      return static_cast<int>(i) + 1;
    });
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return started; });
    }
    auto taken = std::async(std::launch::async, [&] { return ahead.Take(0); });
    // Item 0 cannot be done before it is released: Take() must still be waiting.
    BOOST_TEST((taken.wait_for(std::chrono::milliseconds(50)) == std::future_status::timeout));
    {
      std::lock_guard<std::mutex> lock(mu);
      release = true;
    }
    cv.notify_all();
    BOOST_TEST(taken.get().value_or(-1) == 1);
  }  // the batch ends here
  BOOST_TEST(calls < 1000);
}

BOOST_AUTO_TEST_SUITE_END()
