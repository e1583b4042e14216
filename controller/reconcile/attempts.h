// PlanAttempts: the one code path that runs a unit of work (a Batch, or one
// step of a JobFlow) as a series of attempts, one Job each (docs/design.md §3, §4).
// The Batch and JobFlow reconcilers both call it; neither classifies an
// attempt or decides a retry on its own.
//
// Given the unit's recorded phase and attempt records and its children as the
// cache shows them, it decides the next phase (through the transition table
// only), updates the attempt records, and says which Job to create or delete.
// It is pure and level-based: the same inputs give the same plan, so a
// restart anywhere repeats nothing. In particular:
// - The current attempt is the highest of the recorded attempts and the
//   weir.dev/attempt labels of the unit's Jobs, so a Job created just before
//   a crash is found and adopted, not created twice.
// - A recorded attempt whose Job is missing from the cache may only be missing
//   from a lagging cache. The plan then asks the caller to confirm with a
//   live read (`verify_job`) and decides nothing else; the caller plans again
//   with the Job put in `jobs` (found) or its name in `jobs_gone` (NotFound).
// - An ended attempt's record is final; retries are decided from the records
//   alone, so the decision is the same after a restart.
// - An ended attempt whose pod has not ended (a sidecar still running after
//   the main container ended, a pod that never started) has its Job deleted
//   at once: such a Job never completes by itself. Pods that ended are left
//   to the owner's idle release.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "api/common.h"
#include "lifecycle/classifier.h"
#include "lifecycle/phase.h"
#include "lifecycle/retry_policy.h"
#include "nlohmann/json.hpp"
#include "reconcile/children.h"

namespace weir::reconcile {

struct AttemptsInput {
  lifecycle::Phase phase = lifecycle::Phase::kPending;  // as recorded
  std::vector<api::AttemptStatus> attempts;             // as recorded, oldest first
  // The unit's children in the cache, every attempt.
  std::vector<const nlohmann::json*> jobs;
  std::vector<const nlohmann::json*> pods;
  // Final states of the unit's pods that were deleted (runtime::
  // RecentlyDeleted): read only to learn how an attempt whose Job and pods
  // are all gone had ended, e.g. a canceled pod's exit 143.
  std::vector<const nlohmann::json*> deleted_pods;
  // Jobs a live read found gone.
  absl::flat_hash_set<std::string> jobs_gone;

  ChildOwner owner;
  lifecycle::RetrySpec retry;
  std::string main_container;  // "" = the first container
  // Stop the unit: spec.cancel, the owner is being deleted, or its flow stops.
  bool cancel = false;
  // May start a new attempt (false while a flow is suspended or at its
  // parallelism limit; a retry then waits too).
  bool may_start = true;
  absl::Duration image_pull_grace = absl::Minutes(2);
  absl::Duration node_lost_timeout = absl::Minutes(5);
  absl::Time now;
};

struct AttemptsPlan {
  lifecycle::Phase phase = lifecycle::Phase::kPending;
  // The phases moved through, in order, each an allowed transition
  // (empty: no change).
  std::vector<lifecycle::Phase> transitions;
  // A change the table refused (from, to); it was not applied.
  std::optional<std::pair<lifecycle::Phase, lifecycle::Phase>> refused;
  std::vector<api::AttemptStatus> attempts;
  // The current attempt's record was stored (in AttemptsInput::attempts).
  // An ended attempt with a stored record keeps a success against a stop
  // seen later; one never recorded yields to it (design §4.2).
  bool current_recorded = false;

  // Confirm that this Job is gone with a live read, then plan again.
  std::optional<std::string> verify_job;
  // Create the Job of this attempt now (BuildChildJob with `memory`).
  std::optional<int> create_attempt;
  MemoryOverride memory;
  // Delete these Jobs (names), letting their pods terminate gracefully.
  std::vector<std::string> delete_jobs;

  // The unit's latest word, for the owner's status.
  std::string reason;
  std::optional<int32_t> exit_code;
  std::string message;
  // Plan again no later than this (backoff over, grace over, ...).
  std::optional<absl::Time> wake_at;
  // Some Job or pod of the unit still exists.
  bool children_exist = false;
};

AttemptsPlan PlanAttempts(const AttemptsInput& input);

// Drops from `delete_jobs` the Jobs that `planned` (the records about to be
// written) names but `stored` (the records the API server holds) does not:
// such a Job was created but the write recording it was lost to a Conflict or
// a crash. Deleted before its record is stored, one more lost write would
// leave no trace that its attempt ran; the status write brings the next
// reconcile, which deletes it.
void DeferDeletesUntilRecorded(const std::vector<api::AttemptStatus>& stored,
                               const std::vector<api::AttemptStatus>& planned,
                               std::vector<std::string>& delete_jobs);

// The Outcome an attempt record stands for, as the retry policy needs it
// (phase, reason, exit code, whether it was retryable and counted against
// retry.limit). Matches what Classify said when the record was written.
lifecycle::Outcome OutcomeOfRecord(const api::AttemptStatus& record);

// The pods of one unit (a Batch, or one flow step) that carry kPodFinalizer
// and may lose it: being deleted, and the end of their attempt is in
// `stored` (the records the API server holds, so a lost status write never
// loses the pod's final state), or their attempt has no record and no Job
// in `jobs` (nothing will ever record it).
std::vector<PodRelease> PodsToRelease(const std::vector<const nlohmann::json*>& pods,
                                      const std::vector<api::AttemptStatus>& stored,
                                      const std::vector<const nlohmann::json*>& jobs);

// api::RetrySpec (the API's shape) as lifecycle::RetrySpec (the policy's).
lifecycle::RetrySpec ToPolicy(const api::RetrySpec& spec);

}  // namespace weir::reconcile
