#include "base/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace weir {
namespace {

TEST(ThreadPoolTest, RunsEveryIndexOnce) {
  ThreadPool pool(3);
  for (size_t n : {0, 1, 2, 7, 100}) {
    std::vector<std::atomic<int>> runs(n);
    pool.ParallelFor(n, 4, [&](size_t i) { runs[i]++; });
    for (size_t i = 0; i < n; ++i) EXPECT_EQ(runs[i], 1) << "n=" << n << " i=" << i;
  }
}

// `max_parallel` calls are in flight together (each waits until they all
// are; once one gave up after 5 s, none waits), and never more: each stays
// 20 ms longer, time for a fifth to come in if one could.
TEST(ThreadPoolTest, RunsUpToMaxParallelAtOnce) {
  ThreadPool pool(8);
  absl::Mutex mu;
  int in_flight = 0, peak = 0;
  bool gave_up = false;
  pool.ParallelFor(12, 4, [&](size_t) {
    mu.Lock();
    peak = std::max(peak, ++in_flight);
    auto four = [&] { return peak >= 4 || gave_up; };
    if (!mu.AwaitWithTimeout(absl::Condition(&four), absl::Seconds(5))) gave_up = true;
    mu.Unlock();
    absl::SleepFor(absl::Milliseconds(20));
    mu.Lock();
    --in_flight;
    mu.Unlock();
  });
  EXPECT_EQ(peak, 4);
}

TEST(ThreadPoolTest, OneCallOrOneAtATimeRunsOnTheCallersThread) {
  ThreadPool pool(4);
  const std::thread::id caller = std::this_thread::get_id();
  std::vector<std::thread::id> ran_on;
  pool.ParallelFor(1, 8, [&](size_t) { ran_on.push_back(std::this_thread::get_id()); });
  pool.ParallelFor(3, 1, [&](size_t) { ran_on.push_back(std::this_thread::get_id()); });
  EXPECT_THAT(ran_on, ::testing::Each(caller));
  EXPECT_EQ(ran_on.size(), 4u);
}

// The pool's one thread is held by another caller's loop: this caller runs
// its own loop to the end alone.
TEST(ThreadPoolTest, ABusyPoolLeavesTheLoopToItsCaller) {
  ThreadPool pool(1);
  absl::Notification holding, release;
  std::atomic<bool> held = false;
  std::thread other([&] {
    const std::thread::id me = std::this_thread::get_id();
    pool.ParallelFor(100, 2, [&](size_t) {
      if (std::this_thread::get_id() == me) {
        absl::SleepFor(absl::Milliseconds(10));  // leave the pool's thread time to join
      } else if (!held.exchange(true)) {
        holding.Notify();
        release.WaitForNotification();
      }
    });
  });
  holding.WaitForNotification();
  const std::thread::id caller = std::this_thread::get_id();
  std::vector<std::thread::id> ran_on;
  pool.ParallelFor(5, 4, [&](size_t) { ran_on.push_back(std::this_thread::get_id()); });
  EXPECT_EQ(ran_on.size(), 5u);
  EXPECT_THAT(ran_on, ::testing::Each(caller));
  release.Notify();
  other.join();
}

}  // namespace
}  // namespace weir
