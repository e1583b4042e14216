// Clock is the one source of time for weir's logic. Code that needs "now" or
// needs to wait takes a Clock& so tests can drive time with FakeClock instead
// of sleeping; nothing outside RealClock reads the wall clock.
//
// Thread-safety: all implementations are safe for concurrent use.
#pragma once

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace weir {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
  // Blocks the caller until `d` has passed on this clock.
  virtual void SleepFor(absl::Duration d) = 0;
  // Blocks until `deadline` on this clock or until `cond` becomes true,
  // whichever is first; `mu` must be held and is held again on return.
  // Returns true if `cond` held.
  virtual bool AwaitWithDeadline(absl::Mutex& mu, const absl::Condition& cond,
                                 absl::Time deadline) = 0;
};

// The process-wide real clock.
class RealClock final : public Clock {
 public:
  static RealClock& Get();
  absl::Time Now() const override { return absl::Now(); }
  void SleepFor(absl::Duration d) override { absl::SleepFor(d); }
  bool AwaitWithDeadline(absl::Mutex& mu, const absl::Condition& cond,
                         absl::Time deadline) override {
    return mu.AwaitWithDeadline(cond, deadline);
  }
};

// A clock that moves only when told to. Sleepers and waiters wake when
// Advance() moves time past their deadline.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::UnixEpoch() + absl::Hours(24 * 365 * 50))
      : now_(start) {}

  absl::Time Now() const override {
    absl::MutexLock l(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock l(&mu_);
    now_ += d;
  }
  void SleepFor(absl::Duration d) override {
    absl::MutexLock l(&mu_);
    const absl::Time until = now_ + d;
    auto reached = [this, until]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return now_ >= until; };
    mu_.Await(absl::Condition(&reached));
  }
  // Waits on the real mutex for `cond`, re-checking whenever fake time has
  // passed `deadline`. Polls in small real-time slices because the fake clock
  // cannot signal a mutex it does not own.
  bool AwaitWithDeadline(absl::Mutex& mu, const absl::Condition& cond,
                         absl::Time deadline) override {
    while (true) {
      if (mu.AwaitWithTimeout(cond, absl::Milliseconds(1))) return true;
      if (Now() >= deadline) return false;
    }
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace weir
