// OwnerPlan: the part of a plan that PlanBatch and PlanJobFlow share, what
// an owner (a Batch or a JobFlow) asks beyond creating its children: the
// status to write, Jobs to delete, pods to release, Events, its finalizer,
// its own deletion and when to look again. BatchPlan and FlowPlan extend it
// with how they create Jobs; OwnerWrites::Converge carries it out
// (ConvergenceOf), and FinishOwner fills it for an owner that has ended.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "lifecycle/phase.h"
#include "reconcile/children.h"

namespace weir::reconcile {

struct OwnerEvent {
  std::string type;  // Normal or Warning
  std::string reason;
  std::string message;
};

// Adds the Event for a phase change to `to`, if it gets one. Events tell what
// went wrong (Warning: Failed, Killed) or what changed the course of a run
// (Retrying, Canceling, Canceled, Skipped, Unknown). Progress as planned
// (Pending, Running, Succeeded) is told by the status and the phase metrics
// alone: a Batch or step whose one attempt succeeds costs no Event write,
// and its Job's own Events (the job controller's) remain.
inline void AddPhaseEvent(std::vector<OwnerEvent>& events, lifecycle::Phase to, std::string reason,
                          std::string message) {
  using lifecycle::Phase;
  if (to == Phase::kPending || to == Phase::kRunning || to == Phase::kSucceeded) return;
  const bool warning = to == Phase::kFailed || to == Phase::kKilled;
  events.push_back({warning ? "Warning" : "Normal", std::move(reason), std::move(message)});
}

template <typename Status>
struct OwnerPlan {
  bool add_finalizer = false;
  std::vector<std::string> delete_jobs;
  // Pods whose final state is recorded: remove kPodFinalizer.
  std::vector<PodRelease> release_pods;
  // The status sets ResourcesReleased=True from the cache: confirm with a live
  // list that no Job or pod is left before writing it.
  bool confirm_released = false;
  // The new status, if it differs from the stored one.
  std::optional<Status> status;
  std::vector<OwnerEvent> events;
  // The owner's phase changes (from, to).
  std::vector<std::pair<lifecycle::Phase, lifecycle::Phase>> transitions;
  // The terminal outcome reached in this plan, for metrics ("" if none).
  std::string outcome_reason;
  // Remove the finalizer, once a live list confirms no child is left.
  bool remove_finalizer = false;
  bool delete_owner = false;  // ttlSecondsAfterFinished has passed
  std::optional<absl::Time> wake_at;

  // Asks for a look no later than `t`.
  void Wake(absl::Time t) {
    if (!wake_at.has_value() || t < *wake_at) wake_at = t;
  }
};

}  // namespace weir::reconcile
