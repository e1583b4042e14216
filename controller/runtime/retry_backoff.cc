#include "runtime/retry_backoff.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace weir::runtime {

ItemExponentialRateLimiter::ItemExponentialRateLimiter(absl::Duration base, absl::Duration cap)
    : base_(base), cap_(cap) {}

absl::Duration ItemExponentialRateLimiter::When(absl::string_view item) {
  int n;
  {
    absl::MutexLock l(&mu_);
    int& failures = failures_[item];
    n = failures;
    // Saturate: past 2^62 the delay is capped anyway.
    if (failures < 1 << 30) ++failures;
  }
  // base * 2^n, computed without overflow: stop doubling once over cap.
  absl::Duration d = base_;
  for (int i = 0; i < n && d < cap_; ++i) d *= 2;
  return std::min(d, cap_);
}

void ItemExponentialRateLimiter::Forget(absl::string_view item) {
  absl::MutexLock l(&mu_);
  failures_.erase(item);
}

int ItemExponentialRateLimiter::NumRequeues(absl::string_view item) {
  absl::MutexLock l(&mu_);
  auto it = failures_.find(item);
  return it == failures_.end() ? 0 : it->second;
}

TokenBucketRateLimiter::TokenBucketRateLimiter(double qps, int burst, Clock& clock)
    : qps_(qps), burst_(burst), clock_(clock), tokens_(burst), last_(clock.Now()) {}

absl::Duration TokenBucketRateLimiter::When(absl::string_view) {
  const absl::Time now = clock_.Now();
  absl::MutexLock l(&mu_);
  if (now > last_) {
    tokens_ = std::min(burst_, tokens_ + absl::ToDoubleSeconds(now - last_) * qps_);
    last_ = now;
  }
  tokens_ -= 1;
  if (tokens_ >= 0) return absl::ZeroDuration();
  return absl::Seconds(-tokens_ / qps_);
}

MaxOfRateLimiter::MaxOfRateLimiter(std::vector<std::unique_ptr<RateLimiter>> limiters)
    : limiters_(std::move(limiters)) {}

absl::Duration MaxOfRateLimiter::When(absl::string_view item) {
  absl::Duration d = absl::ZeroDuration();
  for (const auto& l : limiters_) d = std::max(d, l->When(item));
  return d;
}

void MaxOfRateLimiter::Forget(absl::string_view item) {
  for (const auto& l : limiters_) l->Forget(item);
}

int MaxOfRateLimiter::NumRequeues(absl::string_view item) {
  int n = 0;
  for (const auto& l : limiters_) n = std::max(n, l->NumRequeues(item));
  return n;
}

std::unique_ptr<RateLimiter> DefaultControllerRateLimiter(Clock& clock) {
  std::vector<std::unique_ptr<RateLimiter>> limiters;
  limiters.push_back(
      std::make_unique<ItemExponentialRateLimiter>(absl::Milliseconds(5), absl::Seconds(1000)));
  limiters.push_back(std::make_unique<TokenBucketRateLimiter>(10.0, 100, clock));
  return std::make_unique<MaxOfRateLimiter>(std::move(limiters));
}

}  // namespace weir::runtime
