// render_ahead.h: a batch's messages rendered ahead of the plan on helper threads.
//
// Why: rendering a reminder (template, signed links, click tracking) is about a third of
// the worker's CPU, and it is pure: it needs the cart, the contact and the step, not the
// store. The plan of a batch runs on one thread inside one transaction, so the other cores
// sat idle while it rendered. Here helper threads render the batch's likely messages in
// batch order while the plan thread decides and writes; when the plan reaches a message it
// takes the helper's result, or renders the message itself when no helper has started it.
// Each item is rendered once, by whichever thread takes it first.
//
// The helpers only guess: the plan checks that what it would render is what was rendered
// (the caller's key) and renders itself otherwise, so a plan's result never depends on
// whether, or how far, the helpers got.
//
// An item moves:  waiting --helper takes it--> rendering --> done | failed
//                 waiting --Take() first-----> taken (the caller renders it itself)
#ifndef CARTRECOVERY_SRC_ENGINE_RENDER_AHEAD_H_
#define CARTRECOVERY_SRC_ENGINE_RENDER_AHEAD_H_

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

namespace cartrecovery {
namespace internal {

template <class Content>
class RenderAhead {
 public:
  // Starts `threads` helpers (none when 0) that call render(i) for i = 0..count-1, in order,
  // skipping what Take() took first. `render` must be safe to call from several threads at
  // once and must not touch anything the caller changes meanwhile.
  RenderAhead(size_t count, int threads, std::function<Content(size_t)> render)
      : render_(std::move(render)), items_(count) {
    for (int t = 0; t < threads && count > 0; ++t) helpers_.emplace_back([this] { Help(); });
  }
  // Stops the helpers after the item each is rendering, and waits for them.
  ~RenderAhead() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    for (auto& t : helpers_) t.join();
  }
  RenderAhead(const RenderAhead&) = delete;
  RenderAhead& operator=(const RenderAhead&) = delete;

  // Item i as a helper rendered it, waiting while one renders it; nullopt when no helper
  // has started it (none will now: the caller renders it) or when rendering it threw (the
  // caller renders it again and meets the error itself). Once per item.
  std::optional<Content> Take(size_t i) {
    std::unique_lock<std::mutex> lock(mu_);
    Item& item = items_.at(i);
    if (item.state == State::kWaiting) {
      item.state = State::kTaken;
      return std::nullopt;
    }
    done_.wait(lock, [&] { return item.state != State::kRendering; });
    if (item.state != State::kDone) return std::nullopt;
    item.state = State::kTaken;
    return std::move(item.content);
  }

 private:
  enum class State { kWaiting, kRendering, kDone, kFailed, kTaken };
  struct Item {
    State state = State::kWaiting;
    std::optional<Content> content;
  };

  void Help() {
    for (size_t i = 0;; ++i) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        while (i < items_.size() && items_[i].state != State::kWaiting) ++i;
        if (stop_ || i >= items_.size()) return;
        items_[i].state = State::kRendering;
      }
      std::optional<Content> content;
      try {
        content = render_(i);
      } catch (...) {
        // The plan renders it again and meets the error where it belongs (its job).
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        items_[i].state = content ? State::kDone : State::kFailed;
        items_[i].content = std::move(content);
      }
      done_.notify_all();
    }
  }

  const std::function<Content(size_t)> render_;
  std::mutex mu_;
  std::condition_variable done_;
  std::vector<Item> items_;  // guarded by mu_
  bool stop_ = false;        // guarded by mu_
  std::vector<std::thread> helpers_;  // last: started once everything above is built
};

}  // namespace internal
}  // namespace cartrecovery

#endif  // CARTRECOVERY_SRC_ENGINE_RENDER_AHEAD_H_
