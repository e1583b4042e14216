// Retry backoff of the work queue (client-go calls these rate limiters; the
// request rate is kube/token_bucket.h): how long a work item must wait before
// it is processed again. The work queue asks When(item) each time an item is re-added after a
// failure, and calls Forget(item) once the item has been processed
// successfully, so per-item history does not grow without bound.
//
// Three building blocks, combined the way Kubernetes controllers usually do:
//   - ItemExponentialRateLimiter: base * 2^failures per item, capped.
//   - TokenBucketRateLimiter: an overall qps/burst budget on a Clock, shared
//     by all items.
//   - MaxOfRateLimiter: the longest delay of several limiters.
// DefaultControllerRateLimiter() is max(exponential 5ms..1000s,
// bucket 10 qps / burst 100).
//
// Thread-safety: every limiter is safe for concurrent use.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"

namespace weir::runtime {

class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  // Records one more failure of `item` and returns how long it should wait
  // before being processed again (>= 0).
  virtual absl::Duration When(absl::string_view item) = 0;
  // Drops the history of `item` (it was processed successfully).
  virtual void Forget(absl::string_view item) = 0;
  // Number of failures recorded for `item` since the last Forget.
  virtual int NumRequeues(absl::string_view item) = 0;
};

// Per-item exponential backoff: the n-th When() of an item (n from 0) returns
// min(base * 2^n, cap).
// REQUIRES: base > 0, cap >= base.
class ItemExponentialRateLimiter final : public RateLimiter {
 public:
  ItemExponentialRateLimiter(absl::Duration base, absl::Duration cap);

  absl::Duration When(absl::string_view item) override;
  void Forget(absl::string_view item) override;
  int NumRequeues(absl::string_view item) override;

 private:
  const absl::Duration base_;
  const absl::Duration cap_;
  absl::Mutex mu_;
  // Invariant: holds only items with >= 1 failure; erased on Forget.
  absl::flat_hash_map<std::string, int> failures_ ABSL_GUARDED_BY(mu_);
};

// A token bucket shared by all items: tokens refill at `qps` per second up to
// `burst`; each When() takes one token, and if none is left it reserves the
// next one and returns the time until it is available. Forget/NumRequeues
// keep no per-item state.
// REQUIRES: qps > 0, burst >= 1. `clock` must outlive the limiter.
class TokenBucketRateLimiter final : public RateLimiter {
 public:
  TokenBucketRateLimiter(double qps, int burst, Clock& clock);

  absl::Duration When(absl::string_view item) override;
  void Forget(absl::string_view) override {}
  int NumRequeues(absl::string_view) override { return 0; }

 private:
  const double qps_;
  const double burst_;
  Clock& clock_;
  absl::Mutex mu_;
  // Tokens available at `last_`; negative when future tokens are reserved.
  // Invariant: tokens_ <= burst_.
  double tokens_ ABSL_GUARDED_BY(mu_);
  absl::Time last_ ABSL_GUARDED_BY(mu_);
};

// The maximum delay over several limiters; Forget/When go to all of them and
// NumRequeues is the maximum.
// REQUIRES: at least one limiter.
class MaxOfRateLimiter final : public RateLimiter {
 public:
  explicit MaxOfRateLimiter(std::vector<std::unique_ptr<RateLimiter>> limiters);

  absl::Duration When(absl::string_view item) override;
  void Forget(absl::string_view item) override;
  int NumRequeues(absl::string_view item) override;

 private:
  const std::vector<std::unique_ptr<RateLimiter>> limiters_;
};

// max(ItemExponential(5ms, 1000s), TokenBucket(10 qps, burst 100)).
// `clock` must outlive the returned limiter.
std::unique_ptr<RateLimiter> DefaultControllerRateLimiter(Clock& clock);

}  // namespace weir::runtime
