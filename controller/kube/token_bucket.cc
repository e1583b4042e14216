#include "kube/token_bucket.h"

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

InFlightLimit::Slot::Slot(InFlightLimit& limit) : limit_(&limit) {
  if (limit.limit_ <= 0) return;
  absl::MutexLock l(&limit.mu_);
  limit.mu_.Await(absl::Condition(
      +[](InFlightLimit* x)
           ABSL_EXCLUSIVE_LOCKS_REQUIRED(x->mu_) { return x->in_flight_ < x->limit_; },
      &limit));
  ++limit.in_flight_;
}

void InFlightLimit::Slot::Release() {
  if (limit_ == nullptr) return;
  if (limit_->limit_ > 0) {
    absl::MutexLock l(&limit_->mu_);
    --limit_->in_flight_;
  }
  limit_ = nullptr;
}

int InFlightLimit::in_flight() const {
  absl::MutexLock l(&mu_);
  return in_flight_;
}

}  // namespace weir::kube::internal
