#include "reconcile/batch_reconciler.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "api/jobtemplate.h"
#include "api/meta.h"
#include "reconcile/children.h"

namespace weir::reconcile {
namespace {

using nlohmann::json;

}  // namespace

BatchReconciler::BatchReconciler(ReconcilerDeps deps, BatchDefaults defaults)
    : deps_(std::move(deps)),
      defaults_(defaults),
      writes_(deps_.client, kube::resources::Batches(), "Batch"),
      recorder_(deps_.recorder, deps_.metrics, deps_.logger, "weir_batch", "Batch") {}

std::optional<std::string> BatchReconciler::OwnerKey(const json& child) {
  return OwnerKeyOf(child, kLabelBatch);
}

absl::StatusOr<BatchPlan> BatchReconciler::PlanFromCache(const api::Batch& batch) {
  BatchInput in;
  in.batch = batch;
  in.defaults = defaults_;
  in.now = deps_.clock->Now();
  const api::ObjectMeta& meta = in.batch.metadata;
  if (in.batch.spec.ok() && !in.batch.spec->template_name.empty()) {
    runtime::ObjectPtr tmpl =
        deps_.templates->Get(runtime::ObjectKey(meta.namespace_name, in.batch.spec->template_name));
    if (tmpl != nullptr) in.template_job_spec = api::ParseJobTemplate(*tmpl).job_spec;
  }
  return PlanWithChildren(
      deps_, writes_, kLabelBatchUid, meta, in, [](const BatchInput& i) { return PlanBatch(i); },
      [](const BatchPlan& p) {
        return p.verify_job.has_value() ? std::vector<std::string>{*p.verify_job}
                                        : std::vector<std::string>{};
      });
}

absl::StatusOr<runtime::Result> BatchReconciler::Reconcile(const runtime::Request& request) {
  runtime::ObjectPtr cached = deps_.owners->Get(request.Key());
  if (cached == nullptr) {
    // Gone; the garbage collector takes its children.
    absl::Status released =
        writes_.ReleaseOrphanPods(*deps_.pods, request.ns, kLabelBatch, request.name);
    if (!released.ok()) return released;
    writes_.Forget(request.Key());
    return runtime::Result{};
  }
  const json& object = *cached;
  // Our last write replaced this version: its event brings the next look.
  if (writes_.Superseded(object)) return runtime::Result{};
  const api::Batch batch = api::ParseBatch(object);
  absl::StatusOr<BatchPlan> planned = PlanFromCache(batch);
  if (!planned.ok()) return planned.status();
  BatchPlan& plan = *planned;
  const std::string& ns = batch.metadata.namespace_name;

  if (plan.add_finalizer) {
    // The cached object is stale after this write; the next reconcile (from
    // the watch event) carries on.
    if (absl::Status s = writes_.SetFinalizer(object, true); !s.ok()) return s;
    return runtime::Result{.requeue = true};
  }

  if (plan.create_job.has_value()) {
    absl::StatusOr<bool> created =
        CreateJob(object, batch, plan.status.value_or(batch.status), *plan.create_job);
    if (!created.ok()) return created.status();
    if (!*created) return runtime::Result{};  // the next event decides
  }

  std::optional<json> status;
  if (plan.status.has_value()) status = api::BatchStatusToJson(*plan.status);
  return writes_.Converge(object, ChildOwner::Batch(ns, batch.metadata.name, batch.metadata.uid),
                          ConvergenceOf(plan, std::move(status)), deps_.clock->Now(),
                          [&] { Record(object, plan); });
}

absl::StatusOr<bool> BatchReconciler::CreateJob(const json& object, const api::Batch& batch,
                                                const api::BatchStatus& planned, const json& job) {
  const api::ObjectMeta& meta = batch.metadata;
  absl::StatusOr<std::optional<json>> live = writes_.LiveOwner(meta);
  if (!live.ok()) return live.status();
  const bool canceled = live->has_value() && [&] {
    const api::Batch current = api::ParseBatch(**live);
    return current.spec.ok() && current.spec->cancel;
  }();
  if (!live->has_value() || canceled) {
    deps_.logger.Info("not creating a Job: the Batch was canceled or deleted meanwhile",
                      {{"batch", runtime::ObjectKey(meta.namespace_name, meta.name)}});
    return false;
  }
  absl::StatusOr<CreatedJob> created =
      writes_.CreateJob(ChildOwner::Batch(meta.namespace_name, meta.name, meta.uid), job, **live);
  if (!created.ok()) return created.status();
  if (created->exists) return true;
  api::BatchStatus failed =
      StatusAfterCreateRefused(batch, planned, created->refused_message, deps_.clock->Now());
  if (absl::StatusOr<json> w = writes_.WriteStatus(object, api::BatchStatusToJson(failed));
      !w.ok()) {
    return w.status();
  }
  deps_.recorder->Warning(runtime::ObjectReference::From(object), "JobRejected", failed.message);
  recorder_.Outcome("Failed", "JobRejected");
  return false;
}

void BatchReconciler::Record(const json& object, const BatchPlan& plan) {
  PlanRecord record;
  record.events = &plan.events;
  record.transitions = &plan.transitions;
  if (plan.refused.has_value()) record.refused.push_back(*plan.refused);
  if (plan.status.has_value()) {
    record.phase = plan.status->phase;
    record.outcome_reason = plan.outcome_reason;
  }
  recorder_.Record(object, record);
}

}  // namespace weir::reconcile
