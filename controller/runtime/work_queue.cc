#include "runtime/work_queue.h"

#include <algorithm>
#include <utility>

namespace weir::runtime {

WorkQueue::WorkQueue(WorkQueueOptions options)
    : clock_(options.clock != nullptr ? *options.clock : RealClock::Get()),
      limiter_(options.rate_limiter != nullptr ? std::move(options.rate_limiter)
                                               : DefaultControllerRateLimiter(clock_)),
      metrics_(options.metrics) {}

WorkQueue::~WorkQueue() = default;

absl::Time WorkQueue::MetricsNow() const {
  return metrics_ != nullptr ? clock_.Now() : absl::InfinitePast();
}

void WorkQueue::UpdateDepthLocked() {
  if (metrics_ != nullptr) metrics_->SetDepth(static_cast<int64_t>(queue_.size()));
}

void WorkQueue::Add(absl::string_view key) {
  const absl::Time now = MetricsNow();
  absl::MutexLock l(&mu_);
  AddLocked(key, now);
}

void WorkQueue::AddLocked(absl::string_view key, absl::Time now) {
  if (shutting_down_) return;
  if (metrics_ != nullptr) metrics_->IncAdds();
  // Already pending (queued, or queued again at Done): nothing to do.
  if (!dirty_.try_emplace(key, now).second) return;
  // Processing: Done() will queue it, keeping it exclusive to one worker.
  if (processing_.contains(key)) return;
  queue_.emplace_back(key);
  UpdateDepthLocked();
}

void WorkQueue::AddAfter(absl::string_view key, absl::Duration delay) {
  if (delay <= absl::ZeroDuration()) {
    Add(key);
    return;
  }
  const absl::Time ready = clock_.Now() + delay;
  absl::MutexLock l(&mu_);
  if (shutting_down_) return;
  // Pending: handed out before `ready` anyway, reading a newer cache.
  if (dirty_.contains(key)) return;
  auto [it, inserted] = waiting_.try_emplace(key, ready);
  if (!inserted) {
    if (it->second <= ready) return;  // the earlier time wins
    it->second = ready;
  }
  const bool earliest = heap_.empty() || ready < heap_.front().ready;
  heap_.push_back(Delayed{ready, next_seq_++, std::string(key)});
  std::push_heap(heap_.begin(), heap_.end(), Later());
  if (earliest) ++wake_gen_;
}

void WorkQueue::AddRateLimited(absl::string_view key) {
  {
    absl::MutexLock l(&mu_);
    if (shutting_down_) return;
    if (metrics_ != nullptr) metrics_->IncRetries();
  }
  AddAfter(key, limiter_->When(key));
}

void WorkQueue::Forget(absl::string_view key) { limiter_->Forget(key); }

int WorkQueue::NumRequeues(absl::string_view key) { return limiter_->NumRequeues(key); }

// Moves every delayed key whose time has come into the ready queue.
void WorkQueue::PromoteReadyLocked() {
  if (heap_.empty()) return;
  const absl::Time now = clock_.Now();
  while (!heap_.empty() && heap_.front().ready <= now) {
    std::pop_heap(heap_.begin(), heap_.end(), Later());
    Delayed d = std::move(heap_.back());
    heap_.pop_back();
    auto it = waiting_.find(d.key);
    if (it == waiting_.end() || it->second != d.ready) continue;  // stale entry
    waiting_.erase(it);
    // Ready since d.ready, however late this lazy promotion runs.
    AddLocked(d.key, metrics_ != nullptr ? d.ready : absl::InfinitePast());
  }
}

WorkQueue::Item WorkQueue::Get() {
  absl::MutexLock l(&mu_);
  while (true) {
    if (shutting_down_) return Item{"", true};
    PromoteReadyLocked();
    if (!queue_.empty()) break;
    if (!heap_.empty() && !timer_held_) {
      // This worker watches the earliest delay; the others sleep until a
      // key is ready or the watch is free again, so a delay that ends wakes
      // one worker, not all of them.
      timer_held_ = true;
      const uint64_t gen = wake_gen_;
      auto wake = [this, gen]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return shutting_down_ || !queue_.empty() || wake_gen_ != gen;
      };
      clock_.AwaitWithDeadline(mu_, absl::Condition(&wake), heap_.front().ready);
      timer_held_ = false;
    } else {
      auto wake = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return shutting_down_ || !queue_.empty() || (!timer_held_ && !heap_.empty());
      };
      clock_.AwaitWithDeadline(mu_, absl::Condition(&wake), absl::InfiniteFuture());
    }
  }
  Item item{std::move(queue_.front()), false};
  queue_.pop_front();
  auto it = dirty_.find(item.key);
  const absl::Time now = MetricsNow();
  if (metrics_ != nullptr) metrics_->ObserveQueueWait(now - it->second);
  dirty_.erase(it);
  processing_.emplace(item.key, now);
  UpdateDepthLocked();
  return item;
}

void WorkQueue::Done(absl::string_view key) {
  const absl::Time now = MetricsNow();
  absl::MutexLock l(&mu_);
  auto it = processing_.find(key);
  if (it == processing_.end()) return;
  if (metrics_ != nullptr) metrics_->ObserveWork(now - it->second);
  processing_.erase(it);
  auto d = dirty_.find(key);
  if (!shutting_down_ && d != dirty_.end()) {
    d->second = now;  // ready from now on: queue wait excludes processing time
    queue_.emplace_back(key);
    UpdateDepthLocked();
  }
}

void WorkQueue::ShutDownLocked() {
  shutting_down_ = true;
  heap_.clear();
  waiting_.clear();
}

void WorkQueue::ShutDown() {
  absl::MutexLock l(&mu_);
  ShutDownLocked();
}

bool WorkQueue::ShutDownWithDrain(absl::Time deadline) {
  absl::MutexLock l(&mu_);
  ShutDownLocked();
  auto drained = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return processing_.empty(); };
  return clock_.AwaitWithDeadline(mu_, absl::Condition(&drained), deadline);
}

bool WorkQueue::ShuttingDown() const {
  absl::MutexLock l(&mu_);
  return shutting_down_;
}

size_t WorkQueue::Len() {
  absl::MutexLock l(&mu_);
  PromoteReadyLocked();
  return queue_.size();
}

size_t WorkQueue::NumProcessing() const {
  absl::MutexLock l(&mu_);
  return processing_.size();
}

size_t WorkQueue::NumWaiting() const {
  absl::MutexLock l(&mu_);
  return waiting_.size();
}

}  // namespace weir::runtime
