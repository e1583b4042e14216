#include "kube/token_bucket.h"

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace weir::kube::internal {
namespace {

TEST(TokenBucketTest, BurstThenPaced) {
  FakeClock clock;
  TokenBucket bucket(10, 3, clock);
  EXPECT_EQ(bucket.Reserve(), absl::ZeroDuration());
  EXPECT_EQ(bucket.Reserve(), absl::ZeroDuration());
  EXPECT_EQ(bucket.Reserve(), absl::ZeroDuration());
  // Empty: each further request queues 100ms behind the previous one.
  EXPECT_EQ(bucket.Reserve(), absl::Milliseconds(100));
  EXPECT_EQ(bucket.Reserve(), absl::Milliseconds(200));
}

TEST(TokenBucketTest, RefillsOverTimeUpToBurst) {
  FakeClock clock;
  TokenBucket bucket(2, 2, clock);
  EXPECT_TRUE(bucket.TryAccept());
  EXPECT_TRUE(bucket.TryAccept());
  EXPECT_FALSE(bucket.TryAccept());
  clock.Advance(absl::Milliseconds(500));
  EXPECT_TRUE(bucket.TryAccept());
  EXPECT_FALSE(bucket.TryAccept());
  clock.Advance(absl::Hours(1));  // refill is capped at burst
  EXPECT_TRUE(bucket.TryAccept());
  EXPECT_TRUE(bucket.TryAccept());
  EXPECT_FALSE(bucket.TryAccept());
}

TEST(TokenBucketTest, ZeroQpsIsUnlimited) {
  FakeClock clock;
  TokenBucket bucket(0, 1, clock);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(bucket.Reserve(), absl::ZeroDuration());
  EXPECT_TRUE(bucket.TryAccept());
}

TEST(TokenBucketTest, WaitSleepsOnTheClock) {
  FakeClock clock;
  TokenBucket bucket(1, 1, clock);
  bucket.Wait();  // the burst token: no sleep
  std::atomic<bool> done{false};
  std::thread t([&] {
    bucket.Wait();
    done = true;
  });
  clock.WaitForWaiters(1);
  EXPECT_FALSE(done);
  clock.Advance(absl::Seconds(1));
  t.join();
  EXPECT_TRUE(done);
}

TEST(InFlightLimitTest, SlotsAreTakenAndGivenBack) {
  InFlightLimit limit(2);
  {
    InFlightLimit::Slot a(limit);
    InFlightLimit::Slot b(limit);
    EXPECT_EQ(limit.in_flight(), 2);
    b.Release();
    EXPECT_EQ(limit.in_flight(), 1);
  }
  EXPECT_EQ(limit.in_flight(), 0);
}

TEST(InFlightLimitTest, AThirdWaitsForAFreeSlot) {
  InFlightLimit limit(2);
  auto a = std::make_unique<InFlightLimit::Slot>(limit);
  InFlightLimit::Slot b(limit);
  std::atomic<bool> got{false};
  std::thread t([&] {
    InFlightLimit::Slot c(limit);
    got = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(got) << "no slot was free";
  a.reset();
  t.join();
  EXPECT_TRUE(got);
}

TEST(InFlightLimitTest, NoBoundNeverWaits) {
  InFlightLimit limit(0);
  std::vector<std::unique_ptr<InFlightLimit::Slot>> slots;
  for (int i = 0; i < 100; ++i) slots.push_back(std::make_unique<InFlightLimit::Slot>(limit));
  EXPECT_EQ(slots.size(), 100u);
}

}  // namespace
}  // namespace weir::kube::internal
