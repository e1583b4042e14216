// PlanFinished: what a finished owner (a Batch or a JobFlow) does, one code
// path for both (docs/design.md problem 4): its Jobs and pods are deleted once the
// idle timeout has passed (at once when `release_now`: canceled, deleted,
// invalid, or jobRetainPolicy Delete), then ResourcesReleased=True; a deleted
// owner loses its finalizer once no child is left; ttlSecondsAfterFinished
// deletes the owner itself; a cancel or delete of an owner that had already
// finished says "already <phase>" in an Event, once. Pure.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "api/conditions.h"
#include "api/meta.h"
#include "lifecycle/phase.h"
#include "nlohmann/json.hpp"
#include "reconcile/children.h"
#include "reconcile/owner_plan.h"

namespace weir::reconcile {

// FinishOwner fills the fields marked "(FinishOwner)"; the owner's planner
// the others.
struct FinishedInput {
  lifecycle::Phase phase = lifecycle::Phase::kSucceeded;  // terminal
  std::string noun;                                       // "Batch" or "flow", for messages
  bool finished_before = false;                           // was terminal before this reconcile
  // A spec.cancel not yet seen (observedGeneration < generation).
  bool new_cancel = false;
  bool deleting = false;
  bool release_now = false;
  bool has_finalizer = false;  // (FinishOwner)
  bool any_attempt = false;    // some child was ever created
  bool transitioned = false;   // this reconcile changed the phase (FinishOwner)
  absl::Time completed;        // (FinishOwner)
  absl::Duration idle_timeout;
  std::optional<absl::Duration> ttl_after_finished;
  std::vector<const nlohmann::json*> jobs;  // the owner's Jobs in the cache
  bool children = false;                    // any Job or pod left
  int64_t generation = 0;                   // (FinishOwner)
  absl::Time now;
};

struct FinishedPlan {
  bool released = false;  // ResourcesReleased was set just now
  bool remove_finalizer = false;
  bool delete_owner = false;
  std::vector<OwnerEvent> events;
  std::optional<absl::Time> wake_at;
};

// Updates `conditions` (ResourcesReleased), adds the Jobs to delete to
// `delete_jobs` (those not being deleted and not listed yet), and says what
// else to do.
FinishedPlan PlanFinished(const FinishedInput& in, std::vector<api::Condition>& conditions,
                          std::vector<std::string>& delete_jobs);

// Ending, the same for a Batch and a JobFlow, once their plan finds the
// owner terminal: on the look that ended it, the completion time, the
// outcome for metrics (`outcome`, else the phase) and the conditions
// Running=False and Finished=True; then PlanFinished, merged into `plan`.
template <typename Status>
void FinishOwner(FinishedInput in, const api::ObjectMeta& meta, absl::string_view outcome,
                 Status& status, OwnerPlan<Status>& plan) {
  if (!in.finished_before) {
    status.completion_time = in.now;
    plan.outcome_reason =
        outcome.empty() ? std::string(lifecycle::PhaseName(in.phase)) : std::string(outcome);
    api::SetCondition(status.conditions, api::kConditionRunning, api::kConditionFalse, "Finished",
                      absl::StrCat("the ", in.noun, " has finished"), meta.generation, in.now);
    api::SetCondition(status.conditions, api::kConditionFinished, api::kConditionTrue,
                      lifecycle::PhaseName(in.phase), status.message, meta.generation, in.now);
  }
  in.has_finalizer = api::HasFinalizer(meta, kFinalizer);
  in.transitioned = !plan.transitions.empty();
  in.completed = status.completion_time.value_or(in.now);
  in.generation = meta.generation;
  FinishedPlan finished = PlanFinished(in, status.conditions, plan.delete_jobs);
  if constexpr (requires { status.resources_released_time; }) {
    if (finished.released) status.resources_released_time = in.now;
  }
  plan.confirm_released = finished.released;
  plan.remove_finalizer = finished.remove_finalizer;
  plan.delete_owner = finished.delete_owner;
  plan.events.insert(plan.events.end(), finished.events.begin(), finished.events.end());
  if (finished.wake_at.has_value()) plan.Wake(*finished.wake_at);
}

}  // namespace weir::reconcile
