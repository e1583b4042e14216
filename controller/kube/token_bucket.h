// Client-side request rate limit: a token bucket holding up to `burst` tokens
// refilled at `qps` per second on an injected Clock. Each request takes one
// token; when none is left the caller waits until its token has accrued.
// Callers are served in arrival order because the balance may go negative
// (each reservation queues behind earlier ones).
//
// Thread-safe. The Clock must outlive the bucket.
#pragma once

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"

namespace weir::kube::internal {

class TokenBucket {
 public:
  // qps <= 0 disables the limit. burst < 1 is treated as 1.
  TokenBucket(double qps, int burst, Clock& clock);

  // Takes a token and returns how long to wait before using it (zero when
  // one was available).
  absl::Duration Reserve();

  // Takes a token only if one is available now.
  bool TryAccept();

  // Reserve() and sleep on the clock for the returned time.
  void Wait();

 private:
  void RefillLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const double qps_;
  const double burst_;
  Clock& clock_;
  absl::Mutex mu_;
  double tokens_ ABSL_GUARDED_BY(mu_);
  absl::Time last_ ABSL_GUARDED_BY(mu_);
};

// A bound on requests in flight at once: a counting semaphore whose slots are
// taken in a scope (Slot). limit <= 0: no bound.
//
// Thread-safe.
class InFlightLimit {
 public:
  explicit InFlightLimit(int limit) : limit_(limit) {}

  // Takes a slot, waiting for one to be free; gives it back on Release() or
  // destruction.
  class Slot {
   public:
    explicit Slot(InFlightLimit& limit);
    ~Slot() { Release(); }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    void Release();

   private:
    InFlightLimit* limit_;
  };

  // Slots taken now.
  int in_flight() const;

 private:
  const int limit_;
  mutable absl::Mutex mu_;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace weir::kube::internal
