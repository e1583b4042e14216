// BatchReconciler carries out PlanBatch against the API server: it reads the
// Batch, its Jobs and pods and its JobTemplate from the informer caches,
// plans, and performs the plan's writes in a safe order. Reads come from the
// cache; writes go to the API server; status goes through the status
// subresource with the cached resourceVersion, so a status computed from a
// stale cache is refused (Conflict) and recomputed, never written over a
// newer one.
//
// Order of writes in one reconcile:
//   1. add the finalizer (before any child can exist);
//   2. create the attempt's Job, but only after a live GET of the Batch shows
//      neither a cancel nor a deletion (docs/design.md §4): nothing is created
//      once a cancel is recorded; AlreadyExists adopts the Job only if it is
//      ours (labels and controller owner uid), else it is an error;
//   3. delete Jobs (background propagation: pods get their grace period);
//   4. write the status;
//   5. remove the finalizer, after a live list shows no child left;
//   6. delete the Batch when its TTL has passed.
// Events and metrics (phase transitions, outcomes) are recorded after the
// status write that made them true.
//
// Thread-safety: Reconcile may run on several workers at once, for
// different keys (the work queue never hands one key to two workers).
#pragma once

#include <optional>
#include <string>

#include "reconcile/batch_plan.h"
#include "reconcile/owner_recorder.h"
#include "reconcile/owner_writes.h"
#include "runtime/controller.h"

namespace weir::reconcile {

class BatchReconciler final : public runtime::Reconciler {
 public:
  // REQUIRES: every pointer in `deps` non-null and outliving this object.
  BatchReconciler(ReconcilerDeps deps, BatchDefaults defaults);

  absl::StatusOr<runtime::Result> Reconcile(const runtime::Request& request) override;

  // The Batch (namespace/name key) a Job or pod belongs to, from its
  // weir.dev/batch label; nullopt for objects that are not Batch children.
  static std::optional<std::string> OwnerKey(const nlohmann::json& child);

 private:
  absl::StatusOr<BatchPlan> PlanFromCache(const api::Batch& batch);
  // Step 2 of the order above. Returns false when the Job was not created
  // (canceled, deleted, or refused: the status, `planned` with the refusal,
  // then says why).
  absl::StatusOr<bool> CreateJob(const nlohmann::json& object, const api::Batch& batch,
                                 const api::BatchStatus& planned, const nlohmann::json& job);
  void Record(const nlohmann::json& object, const BatchPlan& plan);

  ReconcilerDeps deps_;
  BatchDefaults defaults_;
  OwnerWrites writes_;
  OwnerRecorder recorder_;
};

}  // namespace weir::reconcile
