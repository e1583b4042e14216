// PlanBatch: the Batch reconciler's decision, a pure function from the whole
// current state of one Batch (the object, its Jobs and pods from the cache,
// its JobTemplate) to the actions that converge it (docs/design.md §1-§4).
// BatchReconciler (batch_reconciler.h) reads the state and carries the
// actions out; everything worth testing about a Batch's behaviour is here.
//
// What it decides:
// - The finalizer weir.dev/cleanup is added before any child exists and
//   removed only once the Batch is being deleted, its last status is written
//   and no child is left (the executor confirms that with a live list).
// - Validation: a bad spec, an unknown JobTemplate (after a short wait, since
//   `kubectl apply -f dir/` may create the Batch first), or a template whose
//   JobSpec is invalid ends the Batch Failed with Valid=False, a reason and
//   the message, creating nothing.
// - Attempts, retries, cancel and delete go through PlanAttempts, the code
//   path flow steps share.
// - After the Batch finished: its Job and pods are deleted once
//   idleTimeoutSeconds has passed (at once if canceled or deleted, or if the
//   pod still runs after its main container ended), then
//   ResourcesReleased=True; ttlSecondsAfterFinished deletes the Batch itself.
//   Canceling or deleting a finished Batch keeps its phase and says "already
//   <phase>" in an Event.
// - A Job is deleted only once the stored status records its attempt
//   (DeferDeletesUntilRecorded).
// - Status: every write sets observedGeneration; phases change only through
//   the transition table; conditions Valid, Running, Finished,
//   ResourcesReleased. `status` is set only when it differs from the stored one.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "api/batch.h"
#include "lifecycle/phase.h"
#include "nlohmann/json.hpp"
#include "reconcile/children.h"
#include "reconcile/owner_plan.h"

namespace weir::reconcile {

// Controller-wide defaults (flags) for what a Batch may leave unset.
struct BatchDefaults {
  absl::Duration idle_timeout = absl::Minutes(10);
  absl::Duration image_pull_grace = absl::Minutes(2);
  absl::Duration node_lost_timeout = absl::Minutes(5);
  // How long a Batch waits for its JobTemplate to appear before failing.
  absl::Duration template_wait = absl::Seconds(10);
};

struct BatchInput {
  api::Batch batch;
  // For spec.template: the template's JobSpec (an error if the template is
  // invalid), or std::nullopt if there is no such JobTemplate.
  std::optional<absl::StatusOr<nlohmann::json>> template_job_spec;
  // Candidate children from the cache (filtered by owner here).
  std::vector<const nlohmann::json*> jobs;
  std::vector<const nlohmann::json*> pods;
  // Final states of deleted pods (AttemptsInput::deleted_pods).
  std::vector<const nlohmann::json*> deleted_pods;
  absl::flat_hash_set<std::string> jobs_gone;  // confirmed by live reads
  BatchDefaults defaults;
  absl::Time now;
};

struct BatchPlan : OwnerPlan<api::BatchStatus> {
  // Confirm with a live read that this Job is gone, then plan again.
  std::optional<std::string> verify_job;
  // Create this Job (after a live re-read of the Batch shows no cancel).
  std::optional<nlohmann::json> create_job;
  // A phase change the table refused (from, to); it was not applied.
  std::optional<std::pair<lifecycle::Phase, lifecycle::Phase>> refused;
};

BatchPlan PlanBatch(const BatchInput& input);

// The status to write after the API server refused to create the Job of
// attempt `planned.attempt` (planned in `planned`, the plan's status or the
// stored one): that attempt's record and the Batch end Failed with
// Valid=False and the server's message. Starting from the plan's status
// keeps what the plan recorded before the create, e.g. the end of the
// attempt this one retries.
api::BatchStatus StatusAfterCreateRefused(const api::Batch& batch, const api::BatchStatus& planned,
                                          absl::string_view message, absl::Time now);

}  // namespace weir::reconcile
