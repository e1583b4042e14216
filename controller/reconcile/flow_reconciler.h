// FlowReconciler carries out PlanJobFlow against the API server: it reads the
// JobFlow, its steps' JobTemplates and its Jobs and pods from the informer
// caches, plans, and performs the plan's writes in the same safe order as
// BatchReconciler (both through OwnerWrites):
//   1. add the finalizer (before any child can exist);
//   2. create the starting steps' Jobs, only after a live GET of the flow
//      shows it is neither deleted nor canceled and its spec is the one the
//      plan was made from (same generation; a suspend, a step cancel or any
//      edit recorded since drops the plan: the next reconcile decides);
//      a Job the API server refuses ends its step Failed (JobRejected);
//   3. delete Jobs (background propagation: pods get their grace period);
//   4. write the status (status subresource, cached resourceVersion);
//   5. remove the finalizer, after a live list shows no child left;
//   6. delete the flow when its TTL has passed.
// Events and metrics (flow and step transitions, outcomes) are recorded
// after the status write that made them true.
//
// Thread-safety: Reconcile may run on several workers at once, for
// different keys (the work queue never hands one key to two workers).
#pragma once

#include <optional>
#include <string>

#include "reconcile/flow_plan.h"
#include "reconcile/owner_recorder.h"
#include "reconcile/owner_writes.h"
#include "runtime/controller.h"

namespace weir::reconcile {

class FlowReconciler final : public runtime::Reconciler {
 public:
  // REQUIRES: every pointer in `deps` non-null and outliving this object.
  FlowReconciler(ReconcilerDeps deps, FlowDefaults defaults);

  absl::StatusOr<runtime::Result> Reconcile(const runtime::Request& request) override;

  // The JobFlow (namespace/name key) a Job or pod belongs to, from its
  // weir.dev/flow label; nullopt for objects that are not flow children.
  static std::optional<std::string> OwnerKey(const nlohmann::json& child);

  // True if the JobFlow `flow` has a step that runs JobTemplate `name`.
  static bool UsesTemplate(const nlohmann::json& flow, absl::string_view name);

 private:
  absl::StatusOr<FlowPlan> PlanFromCache(const api::JobFlow& flow);
  // Step 2 of the order above. A Job the API server refuses updates the
  // plan's status and events. Returns false when the plan was dropped.
  absl::StatusOr<bool> CreateJobs(const nlohmann::json& object, const api::JobFlow& flow,
                                  FlowPlan& plan);
  void Record(const nlohmann::json& object, const FlowPlan& plan);

  ReconcilerDeps deps_;
  FlowDefaults defaults_;
  OwnerWrites writes_;
  OwnerRecorder recorder_;
  runtime::CounterFamily* step_transitions_;
};

}  // namespace weir::reconcile
