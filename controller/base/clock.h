// Clock is the one source of time for weir's logic. Code that needs "now" or
// needs to wait takes a Clock& so tests can drive time with FakeClock instead
// of sleeping; nothing outside RealClock reads the wall clock.
//
// Thread-safety: all implementations are safe for concurrent use.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

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
  // Returns true if `cond` held. `deadline` may be absl::InfiniteFuture().
  // REQUIRES: `cond` reads only state guarded by `mu` (or constants).
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
// Advance()/SetTime() moves time to or past their deadline.
//
// Waiters are registered so that Advance() can wake them promptly (it marks
// expired waiters and briefly re-locks their mutex, which makes absl
// re-evaluate their conditions); as a safety net every waiter also re-checks
// in short real-time slices, so a wake-up is never lost, only delayed.
//
// For deterministic tests, WaitForWaiters(n) blocks until n threads are
// blocked in SleepFor()/AwaitWithDeadline() on this clock, so a test can
// advance time exactly when the code under test is waiting.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::UnixEpoch() + absl::Hours(24 * 365 * 50))
      : now_(start) {}
  FakeClock(const FakeClock&) = delete;
  FakeClock& operator=(const FakeClock&) = delete;

  absl::Time Now() const override;
  // Moves time forward by `d` (REQUIRES: d >= 0) and wakes expired waiters.
  void Advance(absl::Duration d);
  // Moves time to `t` (REQUIRES: t >= Now()) and wakes expired waiters.
  void SetTime(absl::Time t);

  void SleepFor(absl::Duration d) override;
  bool AwaitWithDeadline(absl::Mutex& mu, const absl::Condition& cond,
                         absl::Time deadline) override;

  // Number of threads currently blocked in SleepFor()/AwaitWithDeadline().
  int NumWaiters() const;
  // Blocks (without consuming fake time) until at least `n` threads are
  // blocked on this clock.
  void WaitForWaiters(int n) const;
  // Earliest deadline among current waiters, InfiniteFuture() if none.
  absl::Time NextDeadline() const;
  // Number of current waiters with a finite deadline.
  int NumTimedWaiters() const;

 private:
  struct Waiter {
    absl::Mutex* mu = nullptr;  // null for SleepFor waiters
    absl::Time deadline;
    std::atomic<bool> expired{false};
  };
  void WakeExpired();

  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
  // Invariant: every Waiter here is alive (its owner removes it before
  // returning) and is blocked or about to block on this clock.
  std::vector<Waiter*> waiters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace weir
