#include "kube/rate_limiter.h"

#include <atomic>
#include <thread>

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

}  // namespace
}  // namespace weir::kube::internal
