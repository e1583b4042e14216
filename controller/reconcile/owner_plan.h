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
