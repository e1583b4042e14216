#include "kube/rate_limiter.h"

#include <algorithm>

namespace weir::kube::internal {

TokenBucket::TokenBucket(double qps, int burst, Clock& clock)
    : qps_(qps), burst_(std::max(burst, 1)), clock_(clock), tokens_(burst_), last_(clock.Now()) {}

void TokenBucket::RefillLocked(absl::Time now) {
  if (now > last_) {
    tokens_ = std::min(burst_, tokens_ + absl::ToDoubleSeconds(now - last_) * qps_);
    last_ = now;
  }
}

absl::Duration TokenBucket::Reserve() {
  if (qps_ <= 0) return absl::ZeroDuration();
  absl::MutexLock lock(&mu_);
  RefillLocked(clock_.Now());
  tokens_ -= 1;
  if (tokens_ >= 0) return absl::ZeroDuration();
  return absl::Seconds(-tokens_ / qps_);
}

bool TokenBucket::TryAccept() {
  if (qps_ <= 0) return true;
  absl::MutexLock lock(&mu_);
  RefillLocked(clock_.Now());
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

void TokenBucket::Wait() {
  absl::Duration wait = Reserve();
  if (wait > absl::ZeroDuration()) clock_.SleepFor(wait);
}

}  // namespace weir::kube::internal
