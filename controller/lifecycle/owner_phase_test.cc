#include "lifecycle/owner_phase.h"

#include <optional>

#include "gtest/gtest.h"

namespace weir::lifecycle {
namespace {

Outcome Attempt(Phase phase) {
  Outcome o;
  o.phase = phase;
  return o;
}

RetryDecision Retry(bool retry) {
  RetryDecision d;
  d.retry = retry;
  return d;
}

constexpr Phase kOwnerPhases[] = {Phase::kPending, Phase::kRunning, Phase::kRetrying,
                                  Phase::kCanceling, Phase::kUnknown};
constexpr Phase kAttemptPhases[] = {Phase::kPending,   Phase::kRunning, Phase::kUnknown,
                                    Phase::kSucceeded, Phase::kFailed,  Phase::kKilled,
                                    Phase::kCanceled};

TEST(TargetOwnerPhase, TerminalOwnersNeverMove) {
  for (Phase owner :
       {Phase::kSucceeded, Phase::kFailed, Phase::kKilled, Phase::kCanceled, Phase::kSkipped}) {
    for (bool cancel : {false, true}) {
      for (Phase a : kAttemptPhases) {
        EXPECT_EQ(TargetOwnerPhase(owner, cancel, Attempt(a), Retry(true)), owner)
            << owner << " " << a;
      }
      EXPECT_EQ(TargetOwnerPhase(owner, cancel, std::nullopt, std::nullopt), owner);
    }
  }
}

TEST(TargetOwnerPhase, CancelWhilePendingOrRetryingIsCanceledDirectly) {
  for (Phase owner : {Phase::kPending, Phase::kRetrying}) {
    EXPECT_EQ(TargetOwnerPhase(owner, true, std::nullopt, std::nullopt), Phase::kCanceled);
    for (Phase a : kAttemptPhases) {
      EXPECT_EQ(TargetOwnerPhase(owner, true, Attempt(a), std::nullopt), Phase::kCanceled)
          << owner << " " << a;
    }
  }
}

TEST(TargetOwnerPhase, CancelWhileRunningGoesThroughCanceling) {
  for (Phase owner : {Phase::kRunning, Phase::kUnknown}) {
    EXPECT_EQ(TargetOwnerPhase(owner, true, Attempt(Phase::kRunning), std::nullopt),
              Phase::kCanceling);
    EXPECT_EQ(TargetOwnerPhase(owner, true, Attempt(Phase::kUnknown), std::nullopt),
              Phase::kCanceling);
    EXPECT_EQ(TargetOwnerPhase(owner, true, Attempt(Phase::kCanceled), std::nullopt),
              Phase::kCanceled);
    EXPECT_EQ(TargetOwnerPhase(owner, true, Attempt(Phase::kFailed), Retry(true)),
              Phase::kCanceled);
    // Finished work is not undone.
    EXPECT_EQ(TargetOwnerPhase(owner, true, Attempt(Phase::kSucceeded), std::nullopt),
              Phase::kSucceeded);
  }
}

TEST(TargetOwnerPhase, CancelingEndsOnlyInCanceled) {
  for (bool cancel : {false, true}) {
    EXPECT_EQ(TargetOwnerPhase(Phase::kCanceling, cancel, Attempt(Phase::kRunning), std::nullopt),
              Phase::kCanceling);
    for (Phase a : {Phase::kSucceeded, Phase::kFailed, Phase::kKilled, Phase::kCanceled}) {
      EXPECT_EQ(TargetOwnerPhase(Phase::kCanceling, cancel, Attempt(a), Retry(true)),
                Phase::kCanceled)
          << a;
    }
    EXPECT_EQ(TargetOwnerPhase(Phase::kCanceling, cancel, std::nullopt, std::nullopt),
              Phase::kCanceled);
  }
}

TEST(TargetOwnerPhase, AttemptProgress) {
  EXPECT_EQ(TargetOwnerPhase(Phase::kPending, false, std::nullopt, std::nullopt), Phase::kPending);
  EXPECT_EQ(TargetOwnerPhase(Phase::kPending, false, Attempt(Phase::kPending), std::nullopt),
            Phase::kPending);
  // A new attempt's Pending time counts as Retrying.
  EXPECT_EQ(TargetOwnerPhase(Phase::kRetrying, false, Attempt(Phase::kPending), std::nullopt),
            Phase::kRetrying);
  EXPECT_EQ(TargetOwnerPhase(Phase::kPending, false, Attempt(Phase::kRunning), std::nullopt),
            Phase::kRunning);
  EXPECT_EQ(TargetOwnerPhase(Phase::kRetrying, false, Attempt(Phase::kRunning), std::nullopt),
            Phase::kRunning);
  EXPECT_EQ(TargetOwnerPhase(Phase::kUnknown, false, Attempt(Phase::kRunning), std::nullopt),
            Phase::kRunning);
}

TEST(TargetOwnerPhase, UnknownOnlyFromRunning) {
  EXPECT_EQ(TargetOwnerPhase(Phase::kRunning, false, Attempt(Phase::kUnknown), std::nullopt),
            Phase::kUnknown);
  EXPECT_EQ(TargetOwnerPhase(Phase::kUnknown, false, Attempt(Phase::kUnknown), std::nullopt),
            Phase::kUnknown);
  EXPECT_EQ(TargetOwnerPhase(Phase::kPending, false, Attempt(Phase::kUnknown), std::nullopt),
            Phase::kPending);
  EXPECT_EQ(TargetOwnerPhase(Phase::kRetrying, false, Attempt(Phase::kUnknown), std::nullopt),
            Phase::kRetrying);
}

TEST(TargetOwnerPhase, EndedAttempts) {
  for (Phase owner : {Phase::kPending, Phase::kRunning, Phase::kRetrying, Phase::kUnknown}) {
    EXPECT_EQ(TargetOwnerPhase(owner, false, Attempt(Phase::kSucceeded), std::nullopt),
              Phase::kSucceeded);
    EXPECT_EQ(TargetOwnerPhase(owner, false, Attempt(Phase::kCanceled), std::nullopt),
              Phase::kCanceled);
    for (Phase a : {Phase::kFailed, Phase::kKilled}) {
      EXPECT_EQ(TargetOwnerPhase(owner, false, Attempt(a), Retry(true)), Phase::kRetrying);
      EXPECT_EQ(TargetOwnerPhase(owner, false, Attempt(a), Retry(false)), a);
      EXPECT_EQ(TargetOwnerPhase(owner, false, Attempt(a), std::nullopt), a);
    }
  }
}

// Whatever the inputs, the target is reachable through the transition table.
TEST(TargetOwnerPhase, TargetIsAlwaysReachable) {
  for (Phase owner : kOwnerPhases) {
    for (bool cancel : {false, true}) {
      for (bool retry : {false, true}) {
        for (Phase a : kAttemptPhases) {
          const Phase target = TargetOwnerPhase(owner, cancel, Attempt(a), Retry(retry));
          EXPECT_TRUE(TransitionPath(owner, target).ok())
              << owner << " -> " << target << " (attempt " << a << ", cancel " << cancel << ")";
        }
        const Phase target = TargetOwnerPhase(owner, cancel, std::nullopt, std::nullopt);
        EXPECT_TRUE(TransitionPath(owner, target).ok()) << owner << " -> " << target;
      }
    }
  }
}

}  // namespace
}  // namespace weir::lifecycle
