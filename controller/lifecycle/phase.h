// The phases of a Batch or a flow step, and the one table that says which
// phase may follow which (docs/design.md §4). Every phase change of an owner goes
// through CheckTransition; a refused change is logged and counted by the
// caller, never applied.
//
// The table, beyond what docs/design.md §4 spells out:
// - Staying in the same phase is not a transition. CheckTransition(p, p) is
//   OK for every p, terminal ones included (re-observing Succeeded is no
//   error); callers must not record an Event or count it as a transition.
//   IsTransition(p, p) is false.
// - Nothing enters Pending: it is the initial phase.
// - Unknown is entered from Running only (the node of a running pod stopped
//   reporting); its exits are Running's exits plus Running itself. A pod whose
//   node is lost before it runs leaves its owner Pending/Retrying until the
//   classifier declares it Killed (NodeLost).
// - Skipped (flow steps) is entered from Pending only, and is terminal.
// - Terminal phases (Succeeded, Failed, Killed, Canceled, Skipped) have no
//   exit; Canceling exits only to Canceled.
#pragma once

#include <array>
#include <ostream>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace weir::lifecycle {

enum class Phase {
  kPending,
  kRunning,
  kRetrying,
  kCanceling,
  kSucceeded,
  kFailed,
  kKilled,
  kCanceled,
  kUnknown,
  kSkipped,
};

inline constexpr std::array<Phase, 10> kAllPhases = {
    Phase::kPending, Phase::kRunning, Phase::kRetrying, Phase::kCanceling, Phase::kSucceeded,
    Phase::kFailed,  Phase::kKilled,  Phase::kCanceled, Phase::kUnknown,   Phase::kSkipped,
};

// The API spelling: "Pending", "Running", ...
absl::string_view PhaseName(Phase phase);

// The inverse of PhaseName, case-sensitive. InvalidArgument naming `name`
// otherwise (an empty status.phase is the caller's to read as Pending).
absl::StatusOr<Phase> ParsePhase(absl::string_view name);

// Succeeded, Failed, Killed, Canceled and Skipped.
bool IsTerminal(Phase phase);

// True if the table allows moving from `from` to a different phase `to`.
// False for from == to: that is no transition.
bool IsTransition(Phase from, Phase to);

// OK if `to` may follow `from` (or from == to; see above). Otherwise
// FailedPrecondition naming both phases, e.g.
// "phase transition Succeeded -> Running is not allowed (Succeeded is terminal)".
absl::Status CheckTransition(Phase from, Phase to);

// The shortest chain of allowed transitions from `from` to `to`, excluding
// `from` and ending with `to`; empty if from == to. Lets a caller that saw an
// attempt finish before it saw it run record e.g. Pending -> Running ->
// Succeeded in one status write, each step through the table.
// FailedPrecondition (as CheckTransition) if `to` is unreachable.
absl::StatusOr<std::vector<Phase>> TransitionPath(Phase from, Phase to);

std::ostream& operator<<(std::ostream& os, Phase phase);

}  // namespace weir::lifecycle
