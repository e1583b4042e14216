// WorkQueue is the de-duplicating, rate-limited queue of object keys
// ("namespace/name") that feeds a controller's workers.
//
// Contract (each point is an invariant the implementation keeps and the
// tests check):
//   - De-duplication: a key added several times before a worker takes it is
//     handed out once.
//   - Exclusivity: a key is never handed to two workers at once. Between
//     Get() returning it and Done() it is "processing"; Adds meanwhile mark it
//     dirty and it is queued again by Done(), so no change is lost.
//   - Order: distinct ready keys are handed out first-in first-out.
//   - AddAfter(key, d) makes the key ready d later on the queue's Clock; if
//     the key is already waiting, the earlier of the two times wins; if it is
//     already pending (queued, or to be queued again at Done) nothing
//     changes: it will be handed out sooner anyway.
//   - AddRateLimited(key) = AddAfter(key, limiter.When(key)); Forget(key)
//     resets its backoff, NumRequeues(key) reports it.
//   - ShutDown(): adds are ignored from then on, delayed keys are dropped and
//     every Get() (blocked or future) returns shutdown=true, even if keys are
//     still queued: a stopping controller takes no new work. Done() still
//     works. ShutDownWithDrain() additionally waits until no key is
//     processing (all in-flight work called Done), up to a deadline.
//
// Metrics hooks (WorkQueueMetrics) report depth, adds, retries, the time a
// key waited between becoming ready and Get() and the time from Get() to
// Done(). Hooks are called with the queue's lock held: they must be fast and
// must not call back into the queue.
//
// Thread-safety: all methods may be called concurrently. The Clock, metrics
// and the queue must outlive every thread blocked in Get().
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "runtime/retry_backoff.h"

namespace weir::runtime {

// Observes a WorkQueue. Called with the queue's lock held.
class WorkQueueMetrics {
 public:
  virtual ~WorkQueueMetrics() = default;
  // Number of keys ready to be handed out (not processing, not delayed).
  virtual void SetDepth(int64_t depth) = 0;
  // Every Add() that was not ignored (shutdown), including duplicates.
  virtual void IncAdds() = 0;
  // Every AddRateLimited().
  virtual void IncRetries() = 0;
  // Time from a key becoming ready to Get() handing it out.
  virtual void ObserveQueueWait(absl::Duration d) = 0;
  // Time from Get() to Done().
  virtual void ObserveWork(absl::Duration d) = 0;
};

struct WorkQueueOptions {
  // Time source for delays, deadlines and metrics; RealClock if null.
  // Not owned.
  Clock* clock = nullptr;
  // Backoff for AddRateLimited; DefaultControllerRateLimiter(clock) if null.
  std::unique_ptr<RateLimiter> rate_limiter;
  // Optional; not owned.
  WorkQueueMetrics* metrics = nullptr;
};

class WorkQueue {
 public:
  struct Item {
    std::string key;
    // True once the queue is shut down; `key` is then empty.
    bool shutdown = false;
  };

  explicit WorkQueue(WorkQueueOptions options = {});
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;
  // REQUIRES: no thread is blocked in Get() or ShutDownWithDrain().
  ~WorkQueue();

  // Marks `key` as needing processing. No-op after ShutDown().
  void Add(absl::string_view key);
  // Adds `key` once `delay` has passed on the clock (at once if <= 0);
  // nothing if it is already pending.
  void AddAfter(absl::string_view key, absl::Duration delay);
  // Adds `key` after the rate limiter's delay for it; counts a retry.
  void AddRateLimited(absl::string_view key);
  // Clears the rate limiter's history for `key`.
  void Forget(absl::string_view key);
  int NumRequeues(absl::string_view key);

  // Blocks until a key is ready or the queue shuts down. A returned key is
  // processing until Done(key).
  Item Get();
  // Ends processing of `key`; if it was added meanwhile it is queued again.
  // No-op for a key that is not processing.
  void Done(absl::string_view key);

  // See the contract above. Idempotent.
  void ShutDown();
  // ShutDown(), then waits until no key is processing or `deadline` (on the
  // clock) passes. Returns true if drained.
  bool ShutDownWithDrain(absl::Time deadline = absl::InfiniteFuture());
  bool ShuttingDown() const;

  // Keys ready to be handed out (excludes processing and delayed keys).
  size_t Len();
  size_t NumProcessing() const;
  // Keys waiting for their AddAfter delay.
  size_t NumWaiting() const;

 private:
  struct Delayed {
    absl::Time ready;
    uint64_t seq;  // tie-break: FIFO among equal ready times
    std::string key;
  };
  struct Later {
    bool operator()(const Delayed& a, const Delayed& b) const {
      return a.ready != b.ready ? a.ready > b.ready : a.seq > b.seq;
    }
  };

  absl::Time MetricsNow() const;
  void AddLocked(absl::string_view key, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PromoteReadyLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ShutDownLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UpdateDepthLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Clock& clock_;
  const std::unique_ptr<RateLimiter> limiter_;
  WorkQueueMetrics* const metrics_;

  mutable absl::Mutex mu_;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  // Ready keys in FIFO order.
  // Invariant: every key in queue_ is in dirty_, not in processing_, and
  // appears once.
  std::deque<std::string> queue_ ABSL_GUARDED_BY(mu_);
  // Keys that need processing (queued, or to be queued at Done), with the
  // time they became ready (InfinitePast when no metrics are kept).
  // Invariant: dirty_ \ processing_ == set(queue_).
  absl::flat_hash_map<std::string, absl::Time> dirty_ ABSL_GUARDED_BY(mu_);
  // Keys handed out by Get and not yet Done, with the Get time.
  absl::flat_hash_map<std::string, absl::Time> processing_ ABSL_GUARDED_BY(mu_);
  // Delayed keys: a min-heap on (ready, seq) that may hold stale entries,
  // and the authoritative ready time per key.
  // Invariant: every key in waiting_ has a heap_ entry with its ready time;
  // a heap_ entry whose time differs from waiting_ is stale and skipped.
  std::vector<Delayed> heap_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, absl::Time> waiting_ ABSL_GUARDED_BY(mu_);
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 0;
  // At most one blocked Get() waits for the earliest delay (timer_held_);
  // the others wait for a ready key or for that watch to be free. wake_gen_
  // is bumped when the earliest delay moves earlier, so the watcher
  // recomputes how long to wait.
  bool timer_held_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t wake_gen_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace weir::runtime
