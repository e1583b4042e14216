#include "base/clock.h"

#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace weir {
namespace {

TEST(FakeClockTest, AdvanceMovesNow) {
  FakeClock clock(absl::UnixEpoch());
  EXPECT_EQ(clock.Now(), absl::UnixEpoch());
  clock.Advance(absl::Seconds(3));
  EXPECT_EQ(clock.Now(), absl::UnixEpoch() + absl::Seconds(3));
  clock.SetTime(absl::UnixEpoch() + absl::Seconds(10));
  EXPECT_EQ(clock.Now(), absl::UnixEpoch() + absl::Seconds(10));
  clock.SetTime(absl::UnixEpoch());  // never moves backwards
  EXPECT_EQ(clock.Now(), absl::UnixEpoch() + absl::Seconds(10));
}

TEST(FakeClockTest, SleepForWakesOnlyWhenTimeReached) {
  FakeClock clock;
  std::atomic<bool> woke{false};
  std::thread sleeper([&] {
    clock.SleepFor(absl::Seconds(10));
    woke = true;
  });
  clock.WaitForWaiters(1);
  EXPECT_EQ(clock.NextDeadline(), clock.Now() + absl::Seconds(10));
  clock.Advance(absl::Seconds(9));
  EXPECT_FALSE(woke);  // still registered as a waiter
  EXPECT_EQ(clock.NumWaiters(), 1);
  clock.Advance(absl::Seconds(1));
  sleeper.join();
  EXPECT_TRUE(woke);
  EXPECT_EQ(clock.NumWaiters(), 0);
}

TEST(FakeClockTest, AwaitWithDeadlineReturnsFalseAtDeadline) {
  FakeClock clock;
  absl::Mutex mu;
  bool flag = false;
  bool result = true;
  const absl::Time deadline = clock.Now() + absl::Minutes(1);
  std::thread waiter([&] {
    absl::MutexLock l(&mu);
    result = clock.AwaitWithDeadline(mu, absl::Condition(&flag), deadline);
  });
  clock.WaitForWaiters(1);
  clock.Advance(absl::Minutes(1));
  waiter.join();
  EXPECT_FALSE(result);
}

TEST(FakeClockTest, AwaitWithDeadlineReturnsTrueWhenConditionHolds) {
  FakeClock clock;
  absl::Mutex mu;
  bool flag = false;
  bool result = false;
  std::thread waiter([&] {
    absl::MutexLock l(&mu);
    result = clock.AwaitWithDeadline(mu, absl::Condition(&flag), absl::InfiniteFuture());
  });
  clock.WaitForWaiters(1);
  {
    absl::MutexLock l(&mu);
    flag = true;
  }
  waiter.join();
  EXPECT_TRUE(result);
  EXPECT_EQ(clock.NumWaiters(), 0);
}

TEST(FakeClockTest, AwaitWithPassedDeadlineDoesNotBlock) {
  FakeClock clock;
  absl::Mutex mu;
  bool flag = false;
  absl::MutexLock l(&mu);
  EXPECT_FALSE(clock.AwaitWithDeadline(mu, absl::Condition(&flag), clock.Now()));
  flag = true;
  EXPECT_TRUE(clock.AwaitWithDeadline(mu, absl::Condition(&flag), clock.Now()));
}

TEST(FakeClockTest, AdvanceWakesOnlyExpiredWaiters) {
  FakeClock clock;
  absl::Mutex mu;
  bool never = false;
  int woken = 0;  // guarded by mu
  std::vector<std::thread> threads;
  for (int i = 1; i <= 4; ++i) {
    threads.emplace_back([&, i] {
      absl::MutexLock l(&mu);
      clock.AwaitWithDeadline(mu, absl::Condition(&never), clock.Now() + absl::Seconds(i));
      woken++;
    });
  }
  clock.WaitForWaiters(4);
  clock.Advance(absl::Seconds(2));
  {
    absl::MutexLock l(&mu);
    auto two = [&woken] { return woken == 2; };
    mu.Await(absl::Condition(&two));
  }
  EXPECT_EQ(clock.NumWaiters(), 2);
  EXPECT_EQ(clock.NextDeadline(), clock.Now() + absl::Seconds(1));
  clock.Advance(absl::Seconds(2));
  for (auto& t : threads) t.join();
  EXPECT_EQ(woken, 4);
}

TEST(RealClockTest, NowAdvances) {
  Clock& clock = RealClock::Get();
  const absl::Time a = clock.Now();
  clock.SleepFor(absl::Milliseconds(1));
  EXPECT_GT(clock.Now(), a);
}

// Abseil's Now() takes a spinlock to resample the kernel's clock every ~2 s;
// threads that meet there contend for it. Under TSan that lock must be the
// instrumented one (test/tsan): Debian's inlined half paired with the rebuilt
// slow half failed TSan's CHECK (seen in CI's tsan-unit).
TEST(RealClockTest, NowFromManyThreadsAcrossResamples) {
  Clock& clock = RealClock::Get();
  const absl::Time end = clock.Now() + absl::Milliseconds(2500);
  std::vector<std::thread> threads;
  std::atomic<int> finished{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      while (clock.Now() < end) {
      }
      ++finished;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(finished, 8);
  EXPECT_GE(clock.Now(), end);
}

}  // namespace
}  // namespace weir
