#include "lifecycle/phase.h"

#include <deque>
#include <map>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace weir::lifecycle {

namespace internal {

// The allowed transitions (from != to), one row per source phase.
// docs/design.md §4, plus Running -> Unknown and Pending -> Skipped.
bool Allowed(Phase from, Phase to) {
  using P = Phase;
  switch (from) {
    case P::kPending:
      return to == P::kRunning || to == P::kCanceling || to == P::kFailed || to == P::kKilled ||
             to == P::kCanceled || to == P::kSkipped;
    case P::kRunning:
      return to == P::kRetrying || to == P::kCanceling || to == P::kSucceeded || to == P::kFailed ||
             to == P::kKilled || to == P::kUnknown;
    case P::kRetrying:
      return to == P::kRunning || to == P::kCanceling || to == P::kFailed || to == P::kCanceled;
    case P::kCanceling:
      return to == P::kCanceled;
    case P::kUnknown:
      return to == P::kRunning || to == P::kRetrying || to == P::kCanceling ||
             to == P::kSucceeded || to == P::kFailed || to == P::kKilled;
    case P::kSucceeded:
    case P::kFailed:
    case P::kKilled:
    case P::kCanceled:
    case P::kSkipped:
      return false;
  }
  return false;
}

}  // namespace internal

absl::string_view PhaseName(Phase phase) {
  switch (phase) {
    case Phase::kPending:
      return "Pending";
    case Phase::kRunning:
      return "Running";
    case Phase::kRetrying:
      return "Retrying";
    case Phase::kCanceling:
      return "Canceling";
    case Phase::kSucceeded:
      return "Succeeded";
    case Phase::kFailed:
      return "Failed";
    case Phase::kKilled:
      return "Killed";
    case Phase::kCanceled:
      return "Canceled";
    case Phase::kUnknown:
      return "Unknown";
    case Phase::kSkipped:
      return "Skipped";
  }
  return "InvalidPhase";
}

absl::StatusOr<Phase> ParsePhase(absl::string_view name) {
  for (Phase p : kAllPhases) {
    if (PhaseName(p) == name) return p;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown phase \"", absl::CEscape(name), "\""));
}

bool IsTerminal(Phase phase) {
  switch (phase) {
    case Phase::kSucceeded:
    case Phase::kFailed:
    case Phase::kKilled:
    case Phase::kCanceled:
    case Phase::kSkipped:
      return true;
    case Phase::kPending:
    case Phase::kRunning:
    case Phase::kRetrying:
    case Phase::kCanceling:
    case Phase::kUnknown:
      return false;
  }
  return false;
}

bool IsTransition(Phase from, Phase to) { return from != to && internal::Allowed(from, to); }

absl::Status CheckTransition(Phase from, Phase to) {
  if (from == to || internal::Allowed(from, to)) return absl::OkStatus();
  std::string why;
  if (IsTerminal(from)) {
    why = absl::StrCat(" (", PhaseName(from), " is terminal)");
  } else if (from == Phase::kCanceling) {
    why = " (Canceling ends only in Canceled)";
  } else if (to == Phase::kPending) {
    why = " (Pending is only the initial phase)";
  } else if (to == Phase::kSkipped) {
    why = " (only a Pending step can be Skipped)";
  }
  return absl::FailedPreconditionError(absl::StrCat("phase transition ", PhaseName(from), " -> ",
                                                    PhaseName(to), " is not allowed", why));
}

absl::StatusOr<std::vector<Phase>> TransitionPath(Phase from, Phase to) {
  if (from == to) return std::vector<Phase>{};
  // Breadth-first over the table. Ties go to the most ordinary route (through
  // Running or Canceling rather than Retrying or Unknown), so the path is
  // deterministic and reads naturally: Unknown -> Canceling -> Canceled.
  static constexpr Phase kPreference[] = {
      Phase::kRunning,  Phase::kCanceling, Phase::kSucceeded, Phase::kFailed,  Phase::kKilled,
      Phase::kCanceled, Phase::kRetrying,  Phase::kUnknown,   Phase::kSkipped, Phase::kPending,
  };
  std::map<Phase, Phase> parent;
  std::set<Phase> seen = {from};
  std::deque<Phase> queue = {from};
  while (!queue.empty()) {
    const Phase p = queue.front();
    queue.pop_front();
    for (Phase next : kPreference) {
      if (!IsTransition(p, next) || seen.count(next) > 0) continue;
      seen.insert(next);
      parent[next] = p;
      if (next == to) {
        std::vector<Phase> path;
        for (Phase at = to; at != from; at = parent[at]) path.insert(path.begin(), at);
        return path;
      }
      queue.push_back(next);
    }
  }
  // Unreachable, so not directly allowed either: this is the refusal.
  return CheckTransition(from, to);
}

std::ostream& operator<<(std::ostream& os, Phase phase) { return os << PhaseName(phase); }

}  // namespace weir::lifecycle
