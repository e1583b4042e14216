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

#include "absl/time/time.h"
#include "api/conditions.h"
#include "lifecycle/phase.h"
#include "nlohmann/json.hpp"
#include "reconcile/batch_plan.h"

namespace weir::reconcile {

struct FinishedInput {
  lifecycle::Phase phase = lifecycle::Phase::kSucceeded;  // terminal
  std::string noun;                                       // "Batch" or "flow", for messages
  bool finished_before = false;                           // was terminal before this reconcile
  // A spec.cancel not yet seen (observedGeneration < generation).
  bool new_cancel = false;
  bool deleting = false;
  bool release_now = false;
  bool has_finalizer = false;
  bool any_attempt = false;   // some child was ever created
  bool transitioned = false;  // this reconcile changed the phase
  absl::Time completed;
  absl::Duration idle_timeout;
  std::optional<absl::Duration> ttl_after_finished;
  std::vector<const nlohmann::json*> jobs;  // the owner's Jobs in the cache
  bool children = false;                    // any Job or pod left
  int64_t generation = 0;
  absl::Time now;
};

struct FinishedPlan {
  bool released = false;  // ResourcesReleased was set just now
  bool remove_finalizer = false;
  bool delete_owner = false;
  std::vector<BatchEvent> events;
  std::optional<absl::Time> wake_at;
};

// Updates `conditions` (ResourcesReleased), adds the Jobs to delete to
// `delete_jobs` (those not being deleted and not listed yet), and says what
// else to do.
FinishedPlan PlanFinished(const FinishedInput& in, std::vector<api::Condition>& conditions,
                          std::vector<std::string>& delete_jobs);

}  // namespace weir::reconcile
