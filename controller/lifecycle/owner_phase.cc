#include "lifecycle/owner_phase.h"

namespace weir::lifecycle {

Phase TargetOwnerPhase(Phase owner, bool cancel_requested, const std::optional<Outcome>& attempt,
                       const std::optional<RetryDecision>& decision) {
  if (IsTerminal(owner)) return owner;
  const bool attempt_ended = attempt.has_value() && attempt->ended();

  if (cancel_requested || owner == Phase::kCanceling) {
    switch (owner) {
      case Phase::kPending:
      case Phase::kRetrying:
        return Phase::kCanceled;
      case Phase::kRunning:
      case Phase::kUnknown:
        if (!attempt_ended) return Phase::kCanceling;
        // Work that finished before the cancel was seen is not undone.
        return attempt->phase == Phase::kSucceeded ? Phase::kSucceeded : Phase::kCanceled;
      case Phase::kCanceling:
        return attempt_ended || !attempt.has_value() ? Phase::kCanceled : Phase::kCanceling;
      default:
        return owner;
    }
  }

  if (!attempt.has_value()) return owner;
  switch (attempt->phase) {
    case Phase::kPending:
      return owner;
    case Phase::kRunning:
      return Phase::kRunning;
    case Phase::kUnknown:
      return owner == Phase::kRunning || owner == Phase::kUnknown ? Phase::kUnknown : owner;
    case Phase::kSucceeded:
      return Phase::kSucceeded;
    case Phase::kCanceled:
      return Phase::kCanceled;
    case Phase::kFailed:
    case Phase::kKilled:
      if (decision.has_value() && decision->retry) return Phase::kRetrying;
      return attempt->phase;
    default:
      return owner;
  }
}

}  // namespace weir::lifecycle
