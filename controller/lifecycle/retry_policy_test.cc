#include "lifecycle/retry_policy.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace weir::lifecycle {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

api::Quantity Q(const char* s) { return api::Quantity::Parse(s).value(); }

Outcome Succeeded() {
  Outcome o;
  o.phase = Phase::kSucceeded;
  o.exit_code = 0;
  o.container = "main";
  return o;
}

Outcome Error(int code = 1) {
  Outcome o;
  o.phase = Phase::kFailed;
  o.reason = reason::kError;
  o.exit_code = code;
  o.retryable = true;
  o.counts_against_limit = true;
  o.container = "main";
  return o;
}

Outcome OOM(const char* limit, const char* request = nullptr, const char* container = "main") {
  Outcome o;
  o.phase = Phase::kKilled;
  o.reason = reason::kOOMKilled;
  o.exit_code = 137;
  o.retryable = true;
  o.counts_against_limit = true;
  o.container = container;
  if (limit != nullptr) o.memory_limit = Q(limit);
  if (request != nullptr) o.memory_request = Q(request);
  return o;
}

Outcome Disruption(const char* why) {
  Outcome o;
  o.phase = Phase::kKilled;
  o.reason = why;
  o.retryable = true;
  o.counts_against_limit = false;
  o.container = "main";
  return o;
}

Outcome NotRetryable(Phase phase, const char* why) {
  Outcome o;
  o.phase = phase;
  o.reason = why;
  o.container = "main";
  return o;
}

RetryDecision Decide(const RetrySpec& spec, const std::vector<Outcome>& attempts) {
  absl::StatusOr<RetryDecision> d = DecideRetry(spec, attempts);
  EXPECT_TRUE(d.ok()) << d.status();
  return d.ok() ? *d : RetryDecision{};
}

RetrySpec Limit(int limit) {
  RetrySpec s;
  s.limit = limit;
  return s;
}

RetrySpec OnOOM(int limit, double factor, const char* max) {
  RetrySpec s;
  s.limit = limit;
  s.on_oom = OOMRetrySpec{factor, max ? std::optional<api::Quantity>(Q(max)) : std::nullopt};
  return s;
}

// ---------------------------------------------------------------------------
// Outcomes that end the owner.

TEST(RetryPolicy, SuccessIsNeverRetried) {
  const RetryDecision d = Decide(Limit(3), {Succeeded()});
  EXPECT_FALSE(d.retry);
  EXPECT_EQ(d.message, "attempt 1 ended Succeeded");
}

TEST(RetryPolicy, CanceledIsNeverRetried) {
  const RetryDecision d = Decide(Limit(3), {NotRetryable(Phase::kCanceled, reason::kCanceled)});
  EXPECT_FALSE(d.retry);
  EXPECT_THAT(d.message, HasSubstr("canceled attempts are not retried"));
}

TEST(RetryPolicy, NotRetryableOutcomesAreNotRetried) {
  for (const char* why : {reason::kDeadlineExceeded, reason::kImagePullBackOff,
                          reason::kErrImagePull, reason::kInvalidImageName,
                          reason::kCreateContainerConfigError, reason::kMainContainerNotFound}) {
    const RetryDecision d = Decide(Limit(5), {NotRetryable(Phase::kFailed, why)});
    EXPECT_FALSE(d.retry) << why;
    EXPECT_THAT(d.message, AllOf(HasSubstr(why), HasSubstr("no retry")));
  }
}

// ---------------------------------------------------------------------------
// Counted failures and the limit.

TEST(RetryPolicy, ErrorsAreRetriedWithinTheLimit) {
  const RetrySpec spec = Limit(2);
  std::vector<Outcome> attempts = {Error()};
  RetryDecision d = Decide(spec, attempts);
  EXPECT_TRUE(d.retry);
  EXPECT_EQ(d.counted, 1);
  EXPECT_EQ(d.message,
            "attempt 1 ended Failed (Error); retrying in 10s: retry 1 of 2 allowed by "
            "retry.limit");
  EXPECT_FALSE(d.memory_limit.has_value());

  attempts.push_back(Error(3));
  d = Decide(spec, attempts);
  EXPECT_TRUE(d.retry);
  EXPECT_EQ(d.counted, 2);
  EXPECT_EQ(d.backoff, absl::Seconds(20));

  attempts.push_back(Error());
  d = Decide(spec, attempts);
  EXPECT_FALSE(d.retry);
  EXPECT_EQ(d.counted, 3);
  EXPECT_THAT(d.message, HasSubstr("retry.limit of 2 is used up (3 attempts failed)"));
}

TEST(RetryPolicy, ZeroLimitMeansNoRetry) {
  const RetryDecision d = Decide(Limit(0), {Error()});
  EXPECT_FALSE(d.retry);
  EXPECT_THAT(d.message, HasSubstr("retry.limit of 0 is used up (1 attempt failed)"));
}

TEST(RetryPolicy, OOMWithoutOnOOMIsRetriedWithinTheLimitWithTheSameMemory) {
  RetryDecision d = Decide(Limit(1), {OOM("1Gi")});
  EXPECT_TRUE(d.retry);
  EXPECT_FALSE(d.memory_limit.has_value());
  d = Decide(Limit(1), {OOM("1Gi"), OOM("1Gi")});
  EXPECT_FALSE(d.retry);
  d = Decide(Limit(0), {OOM("1Gi")});
  EXPECT_FALSE(d.retry);
}

TEST(RetryPolicy, KubeletRejectionCountsLikeAnError) {
  Outcome rejected = Error();
  rejected.reason = "OutOfcpu";
  rejected.exit_code.reset();
  EXPECT_TRUE(Decide(Limit(1), {rejected}).retry);
  EXPECT_FALSE(Decide(Limit(1), {rejected, rejected}).retry);
}

// ---------------------------------------------------------------------------
// OOM with retry.onOOM.

TEST(RetryPolicy, OOMRaisesMemoryByTheFactorUpToTheCap) {
  const RetrySpec spec = OnOOM(0, 2.0, "8Gi");
  std::vector<Outcome> attempts = {OOM("1Gi")};
  const std::vector<std::string> want = {"2Gi", "4Gi", "8Gi"};
  for (const std::string& next : want) {
    const RetryDecision d = Decide(spec, attempts);
    ASSERT_TRUE(d.retry) << d.message;
    EXPECT_EQ(d.container, "main");
    ASSERT_TRUE(d.memory_limit.has_value());
    EXPECT_EQ(d.memory_limit->ToString(), next);
    EXPECT_FALSE(d.memory_request.has_value());
    EXPECT_THAT(d.message, AllOf(HasSubstr("retry.onOOM raises the memory limit"),
                                 HasSubstr("to " + next), HasSubstr("at most 8Gi")));
    attempts.push_back(OOM(next.c_str()));
  }
  // 8Gi is the cap: no further OOM retry helps.
  const RetryDecision d = Decide(spec, attempts);
  EXPECT_FALSE(d.retry);
  EXPECT_EQ(d.counted, 4);
  EXPECT_THAT(d.message, AllOf(HasSubstr("already had 8Gi, the retry.onOOM.maxMemory of 8Gi"),
                               HasSubstr("run out of memory again")));
}

TEST(RetryPolicy, OOMAtTheCapStopsEvenWithLimitLeft) {
  const RetryDecision d = Decide(OnOOM(5, 2.0, "8Gi"), {OOM("8Gi")});
  EXPECT_FALSE(d.retry);
  EXPECT_THAT(d.message, HasSubstr("maxMemory"));
  // Above the cap (the user lowered maxMemory): same.
  EXPECT_FALSE(Decide(OnOOM(5, 2.0, "8Gi"), {OOM("10Gi")}).retry);
}

TEST(RetryPolicy, OOMStepThatOvershootsIsCapped) {
  const RetryDecision d = Decide(OnOOM(0, 2.0, "6Gi"), {OOM("4Gi")});
  ASSERT_TRUE(d.retry);
  EXPECT_EQ(d.memory_limit->ToString(), "6Gi");
}

TEST(RetryPolicy, OOMRoundsUpToAWholeByte) {
  const RetryDecision d = Decide(OnOOM(0, 1.1, "8Gi"), {OOM("1Gi")});
  ASSERT_TRUE(d.retry);
  EXPECT_EQ(d.memory_limit->Value(), 1181116007);
  EXPECT_EQ(d.memory_limit->ToString(), "1181116007");
}

TEST(RetryPolicy, OOMScalesTheRequestAndKeepsItWithinTheLimit) {
  RetryDecision d = Decide(OnOOM(0, 2.0, "8Gi"), {OOM("1Gi", "512Mi")});
  ASSERT_TRUE(d.retry);
  EXPECT_EQ(d.memory_limit->ToString(), "2Gi");
  EXPECT_EQ(d.memory_request->ToString(), "1Gi");
  EXPECT_THAT(d.message, HasSubstr("(request 512Mi to 1Gi)"));

  // Limit capped at 6Gi; the request (4Gi x 2 = 8Gi) may not exceed it.
  d = Decide(OnOOM(0, 2.0, "6Gi"), {OOM("4Gi", "4Gi")});
  ASSERT_TRUE(d.retry);
  EXPECT_EQ(d.memory_limit->ToString(), "6Gi");
  EXPECT_EQ(d.memory_request->ToString(), "6Gi");
}

TEST(RetryPolicy, OOMKeepsTheSuffixFamily) {
  const RetryDecision d = Decide(OnOOM(0, 1.5, "8G"), {OOM("1G")});
  ASSERT_TRUE(d.retry);
  EXPECT_EQ(d.memory_limit->ToString(), "1500M");
}

TEST(RetryPolicy, OOMRetriesUseUpTheLimitForOtherFailures) {
  const RetrySpec spec = OnOOM(1, 2.0, "8Gi");
  // OOM (counted 1), then an error (counted 2 > limit 1): no retry.
  const RetryDecision d = Decide(spec, {OOM("1Gi"), Error()});
  EXPECT_FALSE(d.retry);
  EXPECT_EQ(d.counted, 2);
}

TEST(RetryPolicy, OOMWithoutMaxMemoryStaysWithinTheLimit) {
  const RetrySpec spec = OnOOM(2, 2.0, nullptr);
  RetryDecision d = Decide(spec, {OOM("1Gi")});
  ASSERT_TRUE(d.retry);
  EXPECT_EQ(d.memory_limit->ToString(), "2Gi");
  EXPECT_THAT(d.message, Not(HasSubstr("at most")));
  d = Decide(spec, {OOM("1Gi"), OOM("2Gi")});
  ASSERT_TRUE(d.retry);
  EXPECT_EQ(d.memory_limit->ToString(), "4Gi");
  d = Decide(spec, {OOM("1Gi"), OOM("2Gi"), OOM("4Gi")});
  EXPECT_FALSE(d.retry);
  EXPECT_THAT(d.message, HasSubstr("retry.limit of 2 is used up"));
}

TEST(RetryPolicy, OOMOfAContainerWithoutLimitIsAPlainRetry) {
  RetryDecision d = Decide(OnOOM(1, 2.0, "8Gi"), {OOM(nullptr)});
  EXPECT_TRUE(d.retry);
  EXPECT_FALSE(d.memory_limit.has_value());
  EXPECT_THAT(d.message, HasSubstr("has no memory limit for retry.onOOM to raise"));
  d = Decide(OnOOM(0, 2.0, "8Gi"), {OOM(nullptr)});
  EXPECT_FALSE(d.retry);
}

TEST(RetryPolicy, OOMWithFactorOneRetriesWithinTheLimitOnly) {
  RetryDecision d = Decide(OnOOM(1, 1.0, "8Gi"), {OOM("1Gi")});
  EXPECT_TRUE(d.retry);
  EXPECT_FALSE(d.memory_limit.has_value());
  EXPECT_THAT(d.message, HasSubstr("memory limit stays 1Gi"));
  d = Decide(OnOOM(1, 1.0, "8Gi"), {OOM("1Gi"), OOM("1Gi")});
  EXPECT_FALSE(d.retry);
}

TEST(RetryPolicy, OOMOfAnInitContainerRaisesThatContainer) {
  const RetryDecision d = Decide(OnOOM(0, 2.0, "8Gi"), {OOM("256Mi", nullptr, "migrate")});
  ASSERT_TRUE(d.retry);
  EXPECT_EQ(d.container, "migrate");
  EXPECT_EQ(d.memory_limit->ToString(), "512Mi");
}

TEST(RetryPolicy, OOMNearTheTopOfTheRangeIsCapped) {
  const RetryDecision d = Decide(OnOOM(0, 4.0, "7Ei"), {OOM("4Ei")});
  ASSERT_TRUE(d.retry);
  EXPECT_EQ(d.memory_limit->ToString(), "7Ei");
}

// ---------------------------------------------------------------------------
// Disruptions.

TEST(RetryPolicy, DisruptionsDoNotCountAgainstTheLimit) {
  for (const char* why :
       {reason::kEvicted, reason::kPreempted, reason::kNodeLost, reason::kPodDeleted}) {
    const RetryDecision d = Decide(Limit(0), {Disruption(why)});
    EXPECT_TRUE(d.retry) << why;
    EXPECT_EQ(d.counted, 0);
    EXPECT_EQ(d.disruptions, 1);
    EXPECT_THAT(d.message, HasSubstr("does not count against retry.limit"));
  }
}

TEST(RetryPolicy, DisruptionsLeaveTheLimitForErrors) {
  const RetryDecision d =
      Decide(Limit(1), {Disruption(reason::kEvicted), Disruption(reason::kPreempted), Error()});
  EXPECT_TRUE(d.retry);
  EXPECT_EQ(d.counted, 1);
  EXPECT_EQ(d.disruptions, 2);
}

TEST(RetryPolicy, OnReasonsSelectsDisruptions) {
  RetrySpec spec = Limit(3);
  spec.on_reasons = {"Evicted", "NodeLost"};
  EXPECT_TRUE(Decide(spec, {Disruption(reason::kEvicted)}).retry);
  EXPECT_TRUE(Decide(spec, {Disruption(reason::kNodeLost)}).retry);
  const RetryDecision d = Decide(spec, {Disruption(reason::kPreempted)});
  EXPECT_FALSE(d.retry);
  EXPECT_THAT(d.message, HasSubstr("Preempted is not in retry.onReasons [Evicted, NodeLost]"));
  EXPECT_FALSE(Decide(spec, {Disruption(reason::kPodDeleted)}).retry);
  // onReasons does not affect counted failures.
  EXPECT_TRUE(Decide(spec, {Error()}).retry);
}

TEST(RetryPolicy, DisruptionRetriesAreBounded) {
  std::vector<Outcome> attempts;
  for (int i = 1; i <= kMaxDisruptionRetries; ++i) {
    attempts.push_back(Disruption(i % 2 ? reason::kEvicted : reason::kNodeLost));
    const RetryDecision d = Decide(Limit(0), attempts);
    EXPECT_TRUE(d.retry) << i;
    EXPECT_EQ(d.disruptions, i);
  }
  attempts.push_back(Disruption(reason::kEvicted));
  const RetryDecision d = Decide(Limit(0), attempts);
  EXPECT_FALSE(d.retry);
  EXPECT_EQ(d.disruptions, kMaxDisruptionRetries + 1);
  EXPECT_THAT(d.message, HasSubstr("giving up after 10 retries of that kind"));
}

// ---------------------------------------------------------------------------
// Backoff.

TEST(RetryPolicy, BackoffIsExponentialAndCapped) {
  RetrySpec spec = Limit(100);
  spec.backoff = absl::Seconds(10);
  EXPECT_EQ(BackoffBefore(spec, 0), absl::ZeroDuration());
  EXPECT_EQ(BackoffBefore(spec, 1), absl::Seconds(10));
  EXPECT_EQ(BackoffBefore(spec, 2), absl::Seconds(20));
  EXPECT_EQ(BackoffBefore(spec, 3), absl::Seconds(40));
  EXPECT_EQ(BackoffBefore(spec, 6), absl::Seconds(320));
  EXPECT_EQ(BackoffBefore(spec, 7), absl::Minutes(10));
  EXPECT_EQ(BackoffBefore(spec, 1000), absl::Minutes(10));
  spec.backoff = absl::Hours(1);
  EXPECT_EQ(BackoffBefore(spec, 1), kMaxBackoff);
  spec.backoff = absl::ZeroDuration();
  EXPECT_EQ(BackoffBefore(spec, 5), absl::ZeroDuration());
}

TEST(RetryPolicy, DecisionBackoffFollowsTheAttemptNumber) {
  RetrySpec spec = Limit(10);
  spec.backoff = absl::Seconds(5);
  std::vector<Outcome> attempts;
  for (int i = 1; i <= 4; ++i) {
    attempts.push_back(i == 2 ? Disruption(reason::kEvicted) : Error());
    const RetryDecision d = Decide(spec, attempts);
    ASSERT_TRUE(d.retry);
    EXPECT_EQ(d.backoff, absl::Seconds(5) * (1 << (i - 1))) << i;
  }
  EXPECT_THAT(Decide(spec, attempts).message, HasSubstr("retrying in 40s"));
}

// ---------------------------------------------------------------------------
// Bad input.

TEST(RetryPolicy, RefusesBadInput) {
  EXPECT_EQ(DecideRetry(Limit(1), {}).status().code(), absl::StatusCode::kInvalidArgument);

  Outcome running;
  running.phase = Phase::kRunning;
  absl::StatusOr<RetryDecision> d = DecideRetry(Limit(1), {running});
  EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(d.status().message()),
              HasSubstr("attempt 1 has not ended (it is Running)"));

  d = DecideRetry(Limit(-1), {Error()});
  EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(d.status().message()), HasSubstr("retry.limit must not be negative"));

  RetrySpec spec = Limit(1);
  spec.backoff = absl::Seconds(-1);
  EXPECT_EQ(DecideRetry(spec, {Error()}).status().code(), absl::StatusCode::kInvalidArgument);

  for (double f : {0.5, 0.0, -2.0, std::nan(""), std::numeric_limits<double>::infinity()}) {
    d = DecideRetry(OnOOM(1, f, "8Gi"), {OOM("1Gi")});
    EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument) << f;
    EXPECT_THAT(std::string(d.status().message()), HasSubstr("memoryFactor"));
  }
  d = DecideRetry(OnOOM(1, 2.0, "-1Gi"), {OOM("1Gi")});
  EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(d.status().message()), HasSubstr("maxMemory"));
}

// The whole chain the issue describes: OOM on attempt 1 with onOOM, success on
// attempt 2.
TEST(RetryPolicy, OOMThenSuccess) {
  const RetrySpec spec = OnOOM(0, 2.0, "8Gi");
  const RetryDecision first = Decide(spec, {OOM("512Mi", "256Mi")});
  ASSERT_TRUE(first.retry);
  EXPECT_EQ(first.memory_limit->ToString(), "1Gi");
  EXPECT_EQ(first.memory_request->ToString(), "512Mi");
  Outcome ok = Succeeded();
  ok.memory_limit = first.memory_limit;
  const RetryDecision second = Decide(spec, {OOM("512Mi", "256Mi"), ok});
  EXPECT_FALSE(second.retry);
  EXPECT_EQ(second.message, "attempt 2 ended Succeeded");
}

}  // namespace
}  // namespace weir::lifecycle
