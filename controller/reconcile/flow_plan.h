// PlanJobFlow: the JobFlow reconciler's decision, a pure function from the
// whole current state of one JobFlow (the object, its steps' JobTemplates,
// its Jobs and pods from the cache) to the actions that converge it
// (docs/design.md §1 problems 3 and 5, §2-§4; issue 6). It mirrors PlanBatch
// (batch_plan.h); the executor reads the state and carries the actions out.
//
// What it decides:
// - Finalizer weir.dev/cleanup: added before any child exists, removed only
//   once the flow is being deleted, its last status is written and no child
//   (Job or pod) is left.
// - Validation: a bad spec, a graph flow::Dag::Build refuses (cycle, unknown
//   or repeated dependency, duplicate step name, ...), an unknown JobTemplate
//   (after defaults.template_wait from the flow's creation, while nothing has
//   started), an invalid JobTemplate, or a step whose patched JobSpec is
//   invalid ends the flow Failed with Valid=False, a reason and the message,
//   creating nothing (Canceled instead if it is being canceled or deleted).
//   A spec edited into an invalid one while steps run (e.g. a dependency
//   cycle) ends the flow the same way: its unfinished steps are recorded
//   Canceled ("flow stopped: the spec is invalid: ...") and its Jobs deleted.
// - Steps: each spec step is one unit of attempts run by PlanAttempts (the
//   code path Batch uses: classification, retries, OOM memory, cancel);
//   flow::PlanFlow says which steps start (AttemptsInput::may_start), which
//   are skipped (Skipped, message naming the dependency), which are canceled
//   (AttemptsInput::cancel). Skips and cancels propagate in the same plan:
//   PlanFlow and the units are planned again until nothing changes. A
//   started step's retries wait while the flow is suspended.
// - Children are selected by flow uid AND step (IsChildOf), so flows sharing
//   a template, and one template used by two steps, never mix. Several Jobs
//   may be created in one plan (one per starting step).
// - Template versions: a step records its template's resourceVersion when it
//   starts and keeps it. A later attempt (retry) of a started step is built
//   from the template only if its resourceVersion is still the recorded one;
//   otherwise from the spec of the previous attempt's Job in the cache
//   (server-set selector and labels removed), so editing a JobTemplate never
//   changes a started step. If neither is available the step ends Failed
//   (TemplateChanged). A step that starts after the flow started but whose
//   template is gone or invalid ends Failed (TemplateNotFound,
//   InvalidTemplate, InvalidPatch) and the flow follows onStepFailure.
// - Cancel causes: the step status has no reason field, so a canceled
//   step's message starts with flow::PlanFlow's cancel message ("canceled on
//   request", "flow canceled", "flow stopped: ...") and the cause is read
//   back from it (CancelCauseOfMessage).
// - Flow phase, message and progress ("done/total") come from PlanFlow,
//   moved through lifecycle::TransitionPath; conditions Valid, Running,
//   Finished, ResourcesReleased; startTime (first step's first attempt) and
//   completionTime. Deleting the flow cancels it like spec.cancel.
// - After the end: jobRetainPolicy Delete (or a cancel/delete) deletes the
//   children at once; Retain keeps them for idleTimeoutSeconds (default
//   defaults.idle_timeout) and then deletes them; ResourcesReleased=True once
//   none is left. ttlSecondsAfterFinished deletes the flow itself.
// - A Job is deleted only once the stored status records its attempt
//   (DeferDeletesUntilRecorded).
// - Status: one entry per spec step in spec order; `status` is set only when
//   it differs from the stored one; every write sets observedGeneration.
//   Events: one per step transition (reason "Step<Phase>", e.g.
//   StepSucceeded, StepSkipped) and one per flow transition (reason the
//   phase).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "api/jobflow.h"
#include "flow/scheduler.h"
#include "lifecycle/phase.h"
#include "nlohmann/json.hpp"
#include "reconcile/batch_plan.h"
#include "reconcile/owner_plan.h"

namespace weir::reconcile {

// The same controller-wide defaults as a Batch's.
using FlowDefaults = BatchDefaults;

// A JobTemplate as the flow needs it.
struct FlowTemplate {
  // spec.jobSpec, or why it is invalid.
  absl::StatusOr<nlohmann::json> job_spec;
  std::string resource_version;
};

struct FlowInput {
  api::JobFlow flow;
  // The JobTemplates the steps name, by name; a missing name is a template
  // that does not exist.
  absl::flat_hash_map<std::string, FlowTemplate> templates;
  // Candidate children from the cache (filtered by owner and step here).
  std::vector<const nlohmann::json*> jobs;
  std::vector<const nlohmann::json*> pods;
  // Final states of deleted pods (AttemptsInput::deleted_pods).
  std::vector<const nlohmann::json*> deleted_pods;
  absl::flat_hash_set<std::string> jobs_gone;  // confirmed by live reads
  FlowDefaults defaults;
  absl::Time now;
};

struct FlowJobToCreate {
  std::string step;
  int attempt = 0;
  nlohmann::json job;
};

struct StepTransition {
  std::string step;
  lifecycle::Phase from = lifecycle::Phase::kPending;
  lifecycle::Phase to = lifecycle::Phase::kPending;
};

struct FlowPlan : OwnerPlan<api::JobFlowStatus> {
  // Confirm with live reads whether these Jobs exist, then plan again (put
  // found ones in `jobs`, gone ones in `jobs_gone`). When set, the plan
  // decides nothing else (add_finalizer aside).
  std::vector<std::string> verify_jobs;
  // Create these Jobs (after a live re-read of the flow shows no cancel or
  // deletion), in this order.
  std::vector<FlowJobToCreate> create_jobs;
  // The steps' phase changes.
  std::vector<StepTransition> step_transitions;
  // Changes the transition table refused (not applied), flow's or steps'.
  std::vector<std::pair<lifecycle::Phase, lifecycle::Phase>> refused;
};

FlowPlan PlanJobFlow(const FlowInput& input);

// The status to write after the API server refused to create attempt
// `attempt` of step `step` (planned in `planned`, the plan's status or the
// stored one): that attempt's record and the step end Failed (JobRejected,
// with the server's message; no retry, the same Job would be refused again).
// The next plan applies onStepFailure to the rest of the flow.
api::JobFlowStatus StatusAfterStepCreateRefused(const api::JobFlow& flow,
                                                const api::JobFlowStatus& planned,
                                                absl::string_view step, int attempt,
                                                absl::string_view message, absl::Time now);

// The cause of a step's cancellation, read back from its status message
// (see above); kNone if the message names none.
flow::CancelCause CancelCauseOfMessage(absl::string_view message);

// The spec of a Job weir created, as a JobSpec a later attempt can be built
// from: the API server's selector and its controller-uid/job-name pod labels
// removed (unless the spec selects manually).
nlohmann::json JobSpecOfChild(const nlohmann::json& job);

}  // namespace weir::reconcile
