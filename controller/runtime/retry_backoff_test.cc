#include "runtime/retry_backoff.h"

#include <thread>

#include "gtest/gtest.h"

namespace weir::runtime {
namespace {

using absl::Milliseconds;
using absl::Seconds;

// Delays computed from doubles may be off by a fraction of a nanosecond.
void ExpectNear(absl::Duration got, absl::Duration want) {
  EXPECT_LE(absl::AbsDuration(got - want), absl::Nanoseconds(1)) << got << " vs " << want;
}

TEST(ItemExponentialRateLimiterTest, DoublesPerFailureUpToCap) {
  ItemExponentialRateLimiter limiter(Milliseconds(5), Seconds(1));
  EXPECT_EQ(limiter.When("a"), Milliseconds(5));
  EXPECT_EQ(limiter.When("a"), Milliseconds(10));
  EXPECT_EQ(limiter.When("a"), Milliseconds(20));
  EXPECT_EQ(limiter.When("a"), Milliseconds(40));
  EXPECT_EQ(limiter.NumRequeues("a"), 4);
  for (int i = 0; i < 4; ++i) limiter.When("a");  // 80, 160, 320, 640ms
  EXPECT_EQ(limiter.When("a"), Seconds(1));       // 1280ms capped
  EXPECT_EQ(limiter.When("a"), Seconds(1));
  EXPECT_EQ(limiter.NumRequeues("a"), 10);
}

TEST(ItemExponentialRateLimiterTest, ItemsAreIndependentAndForgetResets) {
  ItemExponentialRateLimiter limiter(Milliseconds(1), Seconds(10));
  limiter.When("a");
  limiter.When("a");
  EXPECT_EQ(limiter.When("b"), Milliseconds(1));
  EXPECT_EQ(limiter.NumRequeues("a"), 2);
  EXPECT_EQ(limiter.NumRequeues("b"), 1);
  limiter.Forget("a");
  EXPECT_EQ(limiter.NumRequeues("a"), 0);
  EXPECT_EQ(limiter.When("a"), Milliseconds(1));
  EXPECT_EQ(limiter.NumRequeues("b"), 1);
  EXPECT_EQ(limiter.NumRequeues("never-seen"), 0);
}

TEST(ItemExponentialRateLimiterTest, HugeFailureCountsDoNotOverflow) {
  ItemExponentialRateLimiter limiter(Milliseconds(5), Seconds(1000));
  absl::Duration last;
  for (int i = 0; i < 200; ++i) last = limiter.When("x");
  EXPECT_EQ(last, Seconds(1000));
  EXPECT_EQ(limiter.NumRequeues("x"), 200);
}

TEST(ItemExponentialRateLimiterTest, ConcurrentFailuresAreAllCounted) {
  ItemExponentialRateLimiter limiter(Milliseconds(1), Seconds(1));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) limiter.When("shared");
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(limiter.NumRequeues("shared"), 4000);
}

TEST(TokenBucketRateLimiterTest, BurstThenQps) {
  FakeClock clock;
  TokenBucketRateLimiter limiter(10, 3, clock);
  EXPECT_EQ(limiter.When("a"), absl::ZeroDuration());
  EXPECT_EQ(limiter.When("b"), absl::ZeroDuration());
  EXPECT_EQ(limiter.When("c"), absl::ZeroDuration());
  // Bucket empty: each further request reserves the next token, 100ms apart.
  ExpectNear(limiter.When("d"), Milliseconds(100));
  ExpectNear(limiter.When("e"), Milliseconds(200));
  EXPECT_EQ(limiter.NumRequeues("d"), 0);
  // 300ms later the two reservations are paid and one token is free.
  clock.Advance(Milliseconds(300));
  EXPECT_EQ(limiter.When("f"), absl::ZeroDuration());
  ExpectNear(limiter.When("g"), Milliseconds(100));
}

TEST(TokenBucketRateLimiterTest, RefillIsCappedAtBurst) {
  FakeClock clock;
  TokenBucketRateLimiter limiter(1, 2, clock);
  clock.Advance(absl::Hours(1));
  EXPECT_EQ(limiter.When("a"), absl::ZeroDuration());
  EXPECT_EQ(limiter.When("a"), absl::ZeroDuration());
  ExpectNear(limiter.When("a"), Seconds(1));
}

TEST(MaxOfRateLimiterTest, TakesLongestDelayAndForgetsEverywhere) {
  FakeClock clock;
  std::vector<std::unique_ptr<RateLimiter>> parts;
  parts.push_back(std::make_unique<ItemExponentialRateLimiter>(Milliseconds(5), Seconds(1000)));
  parts.push_back(std::make_unique<TokenBucketRateLimiter>(1, 1, clock));
  MaxOfRateLimiter limiter(std::move(parts));
  EXPECT_EQ(limiter.When("a"), Milliseconds(5));  // bucket has a token
  ExpectNear(limiter.When("a"), Seconds(1));      // bucket: 1s > 10ms
  clock.Advance(Seconds(10));
  EXPECT_EQ(limiter.When("a"), Milliseconds(20));  // bucket refilled
  EXPECT_EQ(limiter.NumRequeues("a"), 3);
  limiter.Forget("a");
  EXPECT_EQ(limiter.NumRequeues("a"), 0);
}

TEST(DefaultControllerRateLimiterTest, ExponentialWithinBurstThenBucket) {
  FakeClock clock;
  auto limiter = DefaultControllerRateLimiter(clock);
  EXPECT_EQ(limiter->When("one"), Milliseconds(5));
  EXPECT_EQ(limiter->When("one"), Milliseconds(10));
  // 98 more distinct items use up the burst of 100.
  for (int i = 0; i < 98; ++i) {
    EXPECT_EQ(limiter->When("item-" + std::to_string(i)), Milliseconds(5));
  }
  // Burst exhausted: a fresh item waits for the 10 qps bucket.
  ExpectNear(limiter->When("fresh"), Milliseconds(100));
  for (int i = 0; i < 40; ++i) limiter->When("hot");
  clock.Advance(absl::Hours(1));
  EXPECT_EQ(limiter->When("hot"), Seconds(1000));  // capped
}

}  // namespace
}  // namespace weir::runtime
