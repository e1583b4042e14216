// Where an owner (Batch or flow step) should be, given its phase, whether a
// cancel or delete has been recorded, and how its current attempt stands
// (docs/design.md §4). The reconciler moves the owner there through
// TransitionPath/CheckTransition, so every step is still checked by the table.
//
// Rules:
// - A terminal owner stays where it is (a late cancel of a finished owner is
//   "already <phase>", not a change).
// - Cancel recorded: Pending and Retrying (no attempt running) go straight to
//   Canceled; Running and Unknown go to Canceling, or, if the attempt has
//   already ended, to Succeeded when it succeeded (finished work is not
//   undone) and to Canceled otherwise; Canceling stays until the attempt has
//   ended (whatever its outcome) and then becomes Canceled.
// - No cancel: the attempt's outcome decides. Pending keeps the owner where
//   it is (Pending, or Retrying while a new attempt starts); Running -> Running;
//   Unknown -> Unknown (only from Running: an owner not yet Running stays);
//   Succeeded -> Succeeded; Canceled -> Canceled; Failed/Killed -> Retrying if
//   the retry decision says so, else the outcome's phase.
#pragma once

#include <optional>

#include "lifecycle/classifier.h"
#include "lifecycle/phase.h"
#include "lifecycle/retry_policy.h"

namespace weir::lifecycle {

// `attempt`: the current attempt's outcome, or nullopt if it has none yet (no
// Job created). `decision`: DecideRetry's answer for an ended attempt; when it
// is missing for a Failed/Killed attempt, no retry is assumed.
Phase TargetOwnerPhase(Phase owner, bool cancel_requested, const std::optional<Outcome>& attempt,
                       const std::optional<RetryDecision>& decision);

}  // namespace weir::lifecycle
