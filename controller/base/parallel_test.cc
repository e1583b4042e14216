#include "base/parallel.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace weir {
namespace {

TEST(ParallelForTest, RunsEveryIndexOnce) {
  for (size_t n : {0, 1, 2, 7, 100}) {
    std::vector<std::atomic<int>> runs(n);
    ParallelFor(n, 4, [&](size_t i) { runs[i]++; });
    for (size_t i = 0; i < n; ++i) EXPECT_EQ(runs[i], 1) << "n=" << n << " i=" << i;
  }
}

// `max_parallel` calls are in flight together (each waits until they all
// are; once one gave up after 5 s, none waits), and never more: each stays
// 20 ms longer, time for a fifth to come in if one could.
TEST(ParallelForTest, RunsUpToMaxParallelAtOnce) {
  absl::Mutex mu;
  int in_flight = 0, peak = 0;
  bool gave_up = false;
  ParallelFor(12, 4, [&](size_t) {
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

TEST(ParallelForTest, OneCallRunsOnTheCallersThread) {
  std::thread::id ran_on;
  ParallelFor(1, 8, [&](size_t) { ran_on = std::this_thread::get_id(); });
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  ParallelFor(3, 1, [&](size_t) { EXPECT_EQ(std::this_thread::get_id(), ran_on); });
}

}  // namespace
}  // namespace weir
