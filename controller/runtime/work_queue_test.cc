#include "runtime/work_queue.h"

#include <atomic>
#include <random>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace weir::runtime {
namespace {

using absl::Milliseconds;
using absl::Seconds;
using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

WorkQueueOptions FakeOptions(FakeClock& clock, WorkQueueMetrics* metrics = nullptr) {
  WorkQueueOptions o;
  o.clock = &clock;
  o.rate_limiter = std::make_unique<ItemExponentialRateLimiter>(Milliseconds(5), Seconds(1000));
  o.metrics = metrics;
  return o;
}

std::string MustGet(WorkQueue& q) {
  WorkQueue::Item item = q.Get();
  EXPECT_FALSE(item.shutdown);
  return item.key;
}

class WorkQueueTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  WorkQueue q_{FakeOptions(clock_)};
};

TEST_F(WorkQueueTest, HandsOutKeysFifo) {
  q_.Add("ns/a");
  q_.Add("ns/b");
  q_.Add("ns/c");
  EXPECT_EQ(q_.Len(), 3u);
  EXPECT_EQ(MustGet(q_), "ns/a");
  EXPECT_EQ(MustGet(q_), "ns/b");
  EXPECT_EQ(MustGet(q_), "ns/c");
  EXPECT_EQ(q_.Len(), 0u);
  EXPECT_EQ(q_.NumProcessing(), 3u);
  q_.Done("ns/a");
  q_.Done("ns/b");
  q_.Done("ns/c");
  EXPECT_EQ(q_.NumProcessing(), 0u);
  EXPECT_EQ(q_.Len(), 0u);
}

TEST_F(WorkQueueTest, DuplicateAddsAreCoalesced) {
  q_.Add("ns/a");
  q_.Add("ns/b");
  q_.Add("ns/a");
  q_.Add("ns/a");
  EXPECT_EQ(q_.Len(), 2u);
  EXPECT_EQ(MustGet(q_), "ns/a");  // keeps its first position
  EXPECT_EQ(MustGet(q_), "ns/b");
  EXPECT_EQ(q_.Len(), 0u);
}

TEST_F(WorkQueueTest, AddWhileProcessingIsQueuedOnlyAfterDone) {
  q_.Add("ns/a");
  EXPECT_EQ(MustGet(q_), "ns/a");
  q_.Add("ns/a");
  q_.Add("ns/a");
  // Not handed to a second worker while the first still holds it.
  EXPECT_EQ(q_.Len(), 0u);
  q_.Add("ns/b");
  EXPECT_EQ(MustGet(q_), "ns/b");
  q_.Done("ns/a");
  EXPECT_EQ(q_.Len(), 1u);
  EXPECT_EQ(MustGet(q_), "ns/a");
  q_.Done("ns/a");
  EXPECT_EQ(q_.Len(), 0u);  // the two re-adds were coalesced into one
}

TEST_F(WorkQueueTest, DoneOfUnknownKeyIsNoOp) {
  q_.Done("ns/never");
  q_.Add("ns/a");
  q_.Done("ns/a");  // queued, not processing: stays queued once
  EXPECT_EQ(q_.Len(), 1u);
  EXPECT_EQ(q_.NumProcessing(), 0u);
}

TEST_F(WorkQueueTest, AddAfterBecomesReadyOnTheClock) {
  q_.AddAfter("ns/a", Seconds(10));
  EXPECT_EQ(q_.Len(), 0u);
  EXPECT_EQ(q_.NumWaiting(), 1u);
  clock_.Advance(Seconds(9));
  EXPECT_EQ(q_.Len(), 0u);
  clock_.Advance(Seconds(1));
  EXPECT_EQ(q_.Len(), 1u);
  EXPECT_EQ(q_.NumWaiting(), 0u);
  EXPECT_EQ(MustGet(q_), "ns/a");
}

TEST_F(WorkQueueTest, AddAfterNonPositiveIsImmediate) {
  q_.AddAfter("ns/a", absl::ZeroDuration());
  q_.AddAfter("ns/b", -Seconds(1));
  EXPECT_EQ(q_.Len(), 2u);
  EXPECT_EQ(q_.NumWaiting(), 0u);
}

TEST_F(WorkQueueTest, AddAfterKeepsEarliestTime) {
  q_.AddAfter("ns/a", Seconds(10));
  q_.AddAfter("ns/a", Seconds(5));  // earlier: replaces
  q_.AddAfter("ns/a", Seconds(7));  // later: ignored
  EXPECT_EQ(q_.NumWaiting(), 1u);
  clock_.Advance(Seconds(5));
  EXPECT_EQ(q_.Len(), 1u);
  EXPECT_EQ(MustGet(q_), "ns/a");
  q_.Done("ns/a");
  // The superseded 7s and 10s entries do not add it again.
  clock_.Advance(Seconds(10));
  EXPECT_EQ(q_.Len(), 0u);
  EXPECT_EQ(q_.NumWaiting(), 0u);
}

TEST_F(WorkQueueTest, DelayedKeysComeOutInReadyOrder) {
  q_.AddAfter("ns/c", Seconds(3));
  q_.AddAfter("ns/a", Seconds(1));
  q_.AddAfter("ns/b", Seconds(2));
  q_.AddAfter("ns/d", Seconds(2));
  clock_.Advance(Seconds(5));
  std::vector<std::string> got;
  while (q_.Len() > 0) got.push_back(MustGet(q_));
  EXPECT_THAT(got, ElementsAre("ns/a", "ns/b", "ns/d", "ns/c"));
}

TEST_F(WorkQueueTest, DelayedKeyAlreadyQueuedIsNotDuplicated) {
  q_.Add("ns/a");
  q_.AddAfter("ns/a", Seconds(1));
  clock_.Advance(Seconds(1));
  EXPECT_EQ(q_.Len(), 1u);
}

// A pending key is handed out before the delay would end, reading a newer
// cache: the delayed add would only be one more reconcile.
TEST_F(WorkQueueTest, AddAfterOfAPendingKeyAddsNothingLater) {
  q_.Add("ns/a");
  q_.AddAfter("ns/a", Seconds(1));  // queued
  EXPECT_EQ(q_.NumWaiting(), 0u);
  EXPECT_EQ(MustGet(q_), "ns/a");
  q_.Add("ns/a");
  q_.AddAfter("ns/a", Seconds(1));  // processing and dirty: queued again at Done
  EXPECT_EQ(q_.NumWaiting(), 0u);
  q_.Done("ns/a");
  EXPECT_EQ(MustGet(q_), "ns/a");
  q_.Done("ns/a");
  clock_.Advance(Seconds(1));
  EXPECT_EQ(q_.Len(), 0u);
}

TEST_F(WorkQueueTest, DelayedKeyBecomingReadyWhileProcessingWaitsForDone) {
  q_.Add("ns/a");
  EXPECT_EQ(MustGet(q_), "ns/a");
  q_.AddAfter("ns/a", Seconds(1));
  clock_.Advance(Seconds(1));
  EXPECT_EQ(q_.Len(), 0u);
  q_.Done("ns/a");
  EXPECT_EQ(q_.Len(), 1u);
}

TEST_F(WorkQueueTest, BlockedGetWakesWhenDelayedKeyIsReady) {
  std::string got;
  std::thread worker([&] { got = MustGet(q_); });
  clock_.WaitForWaiters(1);
  q_.AddAfter("ns/a", Seconds(30));
  EXPECT_TRUE(got.empty());
  clock_.Advance(Seconds(30));
  worker.join();
  EXPECT_EQ(got, "ns/a");
}

// Blocked workers do not all wait for the earliest delay: when it ends, one
// wakes (not every idle worker, which cost CPU per event at low load).
TEST_F(WorkQueueTest, OneBlockedWorkerWaitsForADelay) {
  std::vector<std::string> got(4);
  std::vector<std::thread> workers;
  for (int i = 0; i < 4; ++i) workers.emplace_back([&, i] { got[i] = MustGet(q_); });
  clock_.WaitForWaiters(4);
  EXPECT_EQ(clock_.NumTimedWaiters(), 0);
  q_.AddAfter("ns/a", Seconds(1));
  q_.AddAfter("ns/b", Seconds(2));
  // Give every woken worker time to wait again, then count.
  for (int i = 0; i < 200 && clock_.NumTimedWaiters() == 0; ++i) absl::SleepFor(Milliseconds(1));
  absl::SleepFor(Milliseconds(50));
  clock_.WaitForWaiters(4);
  EXPECT_EQ(clock_.NumTimedWaiters(), 1);
  EXPECT_EQ(clock_.NextDeadline(), clock_.Now() + Seconds(1));
  clock_.Advance(Seconds(1));
  // The worker that took ns/a left the watch; another takes over for ns/b.
  for (int i = 0; i < 200 && clock_.NextDeadline() != clock_.Now() + Seconds(1); ++i) {
    absl::SleepFor(Milliseconds(1));
  }
  absl::SleepFor(Milliseconds(50));
  clock_.WaitForWaiters(3);
  EXPECT_EQ(clock_.NumTimedWaiters(), 1);
  clock_.Advance(Seconds(1));
  q_.Add("ns/c");
  q_.Add("ns/d");
  for (auto& w : workers) w.join();
  EXPECT_THAT(got, UnorderedElementsAre("ns/a", "ns/b", "ns/c", "ns/d"));
}

TEST_F(WorkQueueTest, BlockedGetWakesOnAdd) {
  std::string got;
  std::thread worker([&] { got = MustGet(q_); });
  clock_.WaitForWaiters(1);
  q_.Add("ns/a");
  worker.join();
  EXPECT_EQ(got, "ns/a");
}

TEST_F(WorkQueueTest, BlockedWorkersEachGetDistinctKeys) {
  std::vector<std::string> got(3);
  std::vector<std::thread> workers;
  for (int i = 0; i < 3; ++i) workers.emplace_back([&, i] { got[i] = MustGet(q_); });
  clock_.WaitForWaiters(3);
  q_.Add("ns/a");
  q_.Add("ns/b");
  q_.Add("ns/c");
  for (auto& w : workers) w.join();
  EXPECT_THAT(got, UnorderedElementsAre("ns/a", "ns/b", "ns/c"));
}

TEST_F(WorkQueueTest, RateLimitedAddsBackOffExponentiallyUntilForget) {
  q_.AddRateLimited("ns/a");
  EXPECT_EQ(q_.Len(), 0u);
  clock_.Advance(Milliseconds(5));
  EXPECT_EQ(q_.Len(), 1u);
  EXPECT_EQ(MustGet(q_), "ns/a");
  q_.Done("ns/a");
  q_.AddRateLimited("ns/a");
  EXPECT_EQ(q_.NumRequeues("ns/a"), 2);
  clock_.Advance(Milliseconds(9));
  EXPECT_EQ(q_.Len(), 0u);
  clock_.Advance(Milliseconds(1));
  EXPECT_EQ(q_.Len(), 1u);
  q_.Forget("ns/a");
  EXPECT_EQ(q_.NumRequeues("ns/a"), 0);
}

TEST_F(WorkQueueTest, ShutDownReleasesAllBlockedWorkers) {
  std::atomic<int> shutdowns{0};
  std::vector<std::thread> workers;
  for (int i = 0; i < 4; ++i) {
    workers.emplace_back([&] {
      if (q_.Get().shutdown) shutdowns++;
    });
  }
  clock_.WaitForWaiters(4);
  q_.ShutDown();
  for (auto& w : workers) w.join();
  EXPECT_EQ(shutdowns, 4);
  EXPECT_TRUE(q_.ShuttingDown());
}

TEST_F(WorkQueueTest, AfterShutDownNothingIsHandedOutOrAdded) {
  q_.Add("ns/a");
  q_.AddAfter("ns/b", Seconds(1));
  q_.ShutDown();
  q_.ShutDown();  // idempotent
  WorkQueue::Item item = q_.Get();
  EXPECT_TRUE(item.shutdown);
  EXPECT_EQ(item.key, "");
  q_.Add("ns/c");
  q_.AddRateLimited("ns/d");
  EXPECT_EQ(q_.NumWaiting(), 0u);
  clock_.Advance(Seconds(10));
  EXPECT_TRUE(q_.Get().shutdown);
  EXPECT_EQ(q_.NumRequeues("ns/d"), 0);
}

TEST_F(WorkQueueTest, ShutDownWithDrainWaitsForInFlightKeys) {
  q_.Add("ns/a");
  q_.Add("ns/b");
  EXPECT_EQ(MustGet(q_), "ns/a");
  std::atomic<bool> drained{false};
  std::thread stopper([&] { drained = q_.ShutDownWithDrain(); });
  clock_.WaitForWaiters(1);
  EXPECT_FALSE(drained);
  EXPECT_TRUE(q_.Get().shutdown);  // ns/b is not handed out while draining
  q_.Add("ns/a");                  // ignored: shutting down
  q_.Done("ns/a");
  stopper.join();
  EXPECT_TRUE(drained);
  EXPECT_EQ(q_.NumProcessing(), 0u);
}

TEST_F(WorkQueueTest, ShutDownWithDrainGivesUpAtDeadline) {
  q_.Add("ns/a");
  EXPECT_EQ(MustGet(q_), "ns/a");
  std::atomic<int> result{-1};
  std::thread stopper([&] { result = q_.ShutDownWithDrain(clock_.Now() + Seconds(5)); });
  clock_.WaitForWaiters(1);
  clock_.Advance(Seconds(4));
  EXPECT_EQ(result, -1);
  clock_.Advance(Seconds(1));
  stopper.join();
  EXPECT_EQ(result, 0);
  EXPECT_EQ(q_.NumProcessing(), 1u);
  q_.Done("ns/a");  // late Done still works
  EXPECT_EQ(q_.NumProcessing(), 0u);
}

TEST_F(WorkQueueTest, ShutDownWithDrainWithNothingInFlightReturnsAtOnce) {
  EXPECT_TRUE(q_.ShutDownWithDrain(clock_.Now()));
}

class RecordingMetrics : public WorkQueueMetrics {
 public:
  void SetDepth(int64_t d) override { depths.push_back(d); }
  void IncAdds() override { ++adds; }
  void IncRetries() override { ++retries; }
  void ObserveQueueWait(absl::Duration d) override { waits.push_back(d); }
  void ObserveWork(absl::Duration d) override { works.push_back(d); }

  std::vector<int64_t> depths;
  int adds = 0;
  int retries = 0;
  std::vector<absl::Duration> waits;
  std::vector<absl::Duration> works;
};

TEST(WorkQueueMetricsTest, ReportsDepthAddsRetriesWaitAndWork) {
  FakeClock clock;
  RecordingMetrics m;
  WorkQueue q(FakeOptions(clock, &m));
  q.Add("ns/a");
  q.Add("ns/a");  // coalesced, but still an add
  q.Add("ns/b");
  EXPECT_EQ(m.adds, 3);
  EXPECT_THAT(m.depths, ElementsAre(1, 2));
  clock.Advance(Seconds(3));
  EXPECT_EQ(MustGet(q), "ns/a");
  clock.Advance(Seconds(2));
  q.Done("ns/a");
  EXPECT_THAT(m.waits, ElementsAre(Seconds(3)));
  EXPECT_THAT(m.works, ElementsAre(Seconds(2)));
  EXPECT_THAT(m.depths, ElementsAre(1, 2, 1));

  q.AddRateLimited("ns/a");  // 5ms backoff
  EXPECT_EQ(m.retries, 1);
  clock.Advance(Milliseconds(5));
  clock.Advance(Seconds(1));
  EXPECT_EQ(MustGet(q), "ns/b");  // promotes ns/a on the way
  EXPECT_EQ(MustGet(q), "ns/a");
  // ns/b waited since t0; ns/a from its ready time (5ms after the retry).
  EXPECT_THAT(m.waits, ElementsAre(Seconds(3), Seconds(6) + Milliseconds(5), Seconds(1)));
  EXPECT_EQ(m.adds, 4);
}

TEST(WorkQueueMetricsTest, QueueWaitOfReAddExcludesProcessingTime) {
  FakeClock clock;
  RecordingMetrics m;
  WorkQueue q(FakeOptions(clock, &m));
  q.Add("ns/a");
  EXPECT_EQ(MustGet(q), "ns/a");
  q.Add("ns/a");
  clock.Advance(Seconds(10));
  q.Done("ns/a");
  clock.Advance(Seconds(1));
  EXPECT_EQ(MustGet(q), "ns/a");
  EXPECT_THAT(m.waits, ElementsAre(absl::ZeroDuration(), Seconds(1)));
}

// Many producers and workers over a small key space. Checks that no key is
// ever held by two workers at once and that every Add is followed by a
// processing that started after it (no lost updates). Termination is by
// waiting on the test's own state, not by sleeping.
TEST(WorkQueueConcurrencyTest, ExclusiveAndNoLostAdds) {
  constexpr int kKeys = 16;
  constexpr int kProducers = 4;
  constexpr int kWorkers = 4;
  constexpr int kAddsPerProducer = 20000;
  WorkQueueOptions o;
  o.rate_limiter = std::make_unique<ItemExponentialRateLimiter>(Milliseconds(1), Seconds(1));
  WorkQueue q(std::move(o));

  std::vector<std::string> keys;
  for (int i = 0; i < kKeys; ++i) keys.push_back("ns/key-" + std::to_string(i));
  std::vector<std::atomic<int>> in_flight(kKeys);
  std::atomic<int> violations{0};
  std::atomic<int64_t> processed{0};

  absl::Mutex mu;
  std::vector<int64_t> added(kKeys, 0);  // guarded by mu: adds issued
  std::vector<int64_t> seen(kKeys, 0);   // guarded by mu: adds a processing saw

  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&] {
      while (true) {
        WorkQueue::Item item = q.Get();
        if (item.shutdown) return;
        const int k = std::stoi(item.key.substr(item.key.rfind('-') + 1));
        if (in_flight[k].fetch_add(1) != 0) violations++;
        {
          absl::MutexLock l(&mu);
          seen[k] = added[k];
        }
        processed++;
        in_flight[k].fetch_sub(1);
        q.Done(item.key);
      }
    });
  }
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      std::mt19937 rng(p);
      for (int i = 0; i < kAddsPerProducer; ++i) {
        const int k = static_cast<int>(rng() % kKeys);
        {
          absl::MutexLock l(&mu);
          added[k]++;
        }
        q.Add(keys[k]);
      }
    });
  }
  for (auto& p : producers) p.join();
  {
    absl::MutexLock l(&mu);
    auto caught_up = [&]() { return seen == added; };
    mu.Await(absl::Condition(&caught_up));
  }
  EXPECT_TRUE(q.ShutDownWithDrain());
  for (auto& w : workers) w.join();
  EXPECT_EQ(violations, 0);
  EXPECT_GT(processed, 0);
  EXPECT_LE(processed, kProducers * kAddsPerProducer);
  EXPECT_EQ(q.NumProcessing(), 0u);
}

// Workers racing with delayed and rate-limited adds on a real clock: every
// key is eventually processed exactly as often as needed and never
// concurrently. Uses tiny delays so the test is quick.
TEST(WorkQueueConcurrencyTest, DelayedAddsUnderContention) {
  WorkQueueOptions o;
  o.rate_limiter =
      std::make_unique<ItemExponentialRateLimiter>(absl::Microseconds(10), Milliseconds(1));
  WorkQueue q(std::move(o));
  constexpr int kKeys = 32;
  std::vector<std::atomic<int>> in_flight(kKeys);
  std::atomic<int> violations{0};
  absl::Mutex mu;
  std::vector<int> remaining(kKeys, 5);  // guarded by mu: retries left per key
  int done_keys = 0;                     // guarded by mu

  std::vector<std::thread> workers;
  for (int w = 0; w < 3; ++w) {
    workers.emplace_back([&] {
      while (true) {
        WorkQueue::Item item = q.Get();
        if (item.shutdown) return;
        const int k = std::stoi(item.key.substr(3));
        if (in_flight[k].fetch_add(1) != 0) violations++;
        bool retry;
        {
          absl::MutexLock l(&mu);
          retry = remaining[k]-- > 0;
          if (!retry) done_keys++;
        }
        in_flight[k].fetch_sub(1);
        if (retry) {
          q.AddRateLimited(item.key);
        } else {
          q.Forget(item.key);
        }
        q.Done(item.key);
      }
    });
  }
  for (int k = 0; k < kKeys; ++k) q.AddAfter("ns/" + std::to_string(k), absl::Microseconds(k));
  {
    absl::MutexLock l(&mu);
    auto all_done = [&]() { return done_keys == kKeys; };
    mu.Await(absl::Condition(&all_done));
  }
  q.ShutDown();
  for (auto& w : workers) w.join();
  EXPECT_EQ(violations, 0);
  for (int k = 0; k < kKeys; ++k) EXPECT_EQ(q.NumRequeues("ns/" + std::to_string(k)), 0);
}

}  // namespace
}  // namespace weir::runtime
