#include "base/clock.h"

#include <algorithm>

namespace weir {

RealClock& RealClock::Get() {
  static RealClock* clock = new RealClock();
  return *clock;
}

absl::Time FakeClock::Now() const {
  absl::MutexLock l(&mu_);
  return now_;
}

void FakeClock::Advance(absl::Duration d) {
  {
    absl::MutexLock l(&mu_);
    if (d > absl::ZeroDuration()) now_ += d;
  }
  WakeExpired();
}

void FakeClock::SetTime(absl::Time t) {
  {
    absl::MutexLock l(&mu_);
    if (t > now_) now_ = t;
  }
  WakeExpired();
}

// Marks every waiter whose deadline has passed, then pokes its mutex. The
// poke is a TryLock so that Advance never blocks on (and so never deadlocks
// with) a caller's mutex: if the mutex is held, its holder's Unlock
// re-evaluates the waiter's condition, which now sees `expired`.
void FakeClock::WakeExpired() {
  absl::MutexLock l(&mu_);
  for (Waiter* w : waiters_) {
    if (w->deadline > now_) continue;
    w->expired.store(true, std::memory_order_seq_cst);
    if (w->mu != nullptr && w->mu->TryLock()) w->mu->Unlock();
  }
}

void FakeClock::SleepFor(absl::Duration d) {
  absl::MutexLock l(&mu_);
  Waiter self;
  self.deadline = now_ + d;
  waiters_.push_back(&self);
  auto reached = [this, &self]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return now_ >= self.deadline; };
  mu_.Await(absl::Condition(&reached));
  waiters_.erase(std::find(waiters_.begin(), waiters_.end(), &self));
}

bool FakeClock::AwaitWithDeadline(absl::Mutex& mu, const absl::Condition& cond,
                                  absl::Time deadline) {
  if (cond.Eval()) return true;
  Waiter self;
  self.mu = &mu;
  self.deadline = deadline;
  {
    absl::MutexLock l(&mu_);
    if (now_ >= deadline) return false;
    waiters_.push_back(&self);
  }
  struct Args {
    const absl::Condition* cond;
    const std::atomic<bool>* expired;
  } args{&cond, &self.expired};
  const absl::Condition done(
      +[](Args* a) { return a->expired->load(std::memory_order_seq_cst) || a->cond->Eval(); },
      &args);
  // Safety net: re-check in real-time slices in case a poke was missed.
  while (!mu.AwaitWithTimeout(done, absl::Milliseconds(5))) {
  }
  {
    absl::MutexLock l(&mu_);
    waiters_.erase(std::find(waiters_.begin(), waiters_.end(), &self));
  }
  return cond.Eval();
}

int FakeClock::NumWaiters() const {
  absl::MutexLock l(&mu_);
  return static_cast<int>(waiters_.size());
}

void FakeClock::WaitForWaiters(int n) const {
  absl::MutexLock l(&mu_);
  auto enough = [this, n]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return static_cast<int>(waiters_.size()) >= n;
  };
  mu_.Await(absl::Condition(&enough));
}

absl::Time FakeClock::NextDeadline() const {
  absl::MutexLock l(&mu_);
  absl::Time next = absl::InfiniteFuture();
  for (const Waiter* w : waiters_) next = std::min(next, w->deadline);
  return next;
}

int FakeClock::NumTimedWaiters() const {
  absl::MutexLock l(&mu_);
  return static_cast<int>(std::count_if(waiters_.begin(), waiters_.end(), [](const Waiter* w) {
    return w->deadline != absl::InfiniteFuture();
  }));
}

}  // namespace weir
