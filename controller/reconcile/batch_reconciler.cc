#include "reconcile/batch_reconciler.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "api/jobtemplate.h"
#include "api/meta.h"
#include "kube/errors.h"
#include "reconcile/children.h"

namespace weir::reconcile {
namespace {

using nlohmann::json;

const json& Meta(const json& object) {
  static const json* empty = new json(json::object());
  auto it = object.find("metadata");
  return it != object.end() && it->is_object() ? *it : *empty;
}

std::string PhaseLabel(lifecycle::Phase p) { return std::string(lifecycle::PhaseName(p)); }

}  // namespace

BatchReconciler::BatchReconciler(BatchReconcilerDeps deps, BatchDefaults defaults)
    : deps_(std::move(deps)),
      defaults_(defaults),
      writes_(deps_.client, kube::resources::Batches(), "Batch") {
  transitions_ =
      &deps_.metrics->AddCounter("weir_batch_phase_transitions_total",
                                 "Batch phase transitions, by from and to phase.", {"from", "to"});
  outcomes_ = &deps_.metrics->AddCounter(
      "weir_batch_outcomes_total", "Batches that reached a terminal phase, by phase and reason.",
      {"phase", "reason"});
  refused_ = &deps_.metrics->AddCounter(
      "weir_batch_refused_transitions_total",
      "Phase changes the transition table refused (never applied), by from and to phase.",
      {"from", "to"});
}

std::optional<std::string> BatchReconciler::OwnerKey(const json& child) {
  const json& meta = Meta(child);
  const json labels = meta.value("labels", json::object());
  if (!labels.is_object()) return std::nullopt;
  const std::string batch = labels.value(kLabelBatch, "");
  if (batch.empty() || labels.value(kLabelManagedBy, "") != kManagedByValue) return std::nullopt;
  return runtime::ObjectKey(meta.value("namespace", ""), batch);
}

absl::StatusOr<BatchPlan> BatchReconciler::PlanFromCache(const json& object) {
  BatchInput in;
  in.batch = api::ParseBatch(object);
  in.defaults = defaults_;
  in.now = deps_.clock->Now();
  const api::ObjectMeta& meta = in.batch.metadata;
  if (in.batch.spec.ok() && !in.batch.spec->template_name.empty()) {
    runtime::ObjectPtr tmpl =
        deps_.templates->Get(runtime::ObjectKey(meta.namespace_name, in.batch.spec->template_name));
    if (tmpl != nullptr) in.template_job_spec = api::ParseJobTemplate(*tmpl).job_spec;
  }
  const std::vector<runtime::ObjectPtr> jobs = deps_.jobs->ByLabel(kLabelBatchUid, meta.uid);
  const std::vector<runtime::ObjectPtr> pods = deps_.pods->ByLabel(kLabelBatchUid, meta.uid);
  for (const runtime::ObjectPtr& j : jobs) in.jobs.push_back(j.get());
  for (const runtime::ObjectPtr& p : pods) in.pods.push_back(p.get());

  // A Job the records name but the cache lacks may be one the cache has not
  // seen yet: ask the API server before concluding anything.
  std::vector<json> live;
  live.reserve(4);
  for (int round = 0; round < 4; ++round) {
    BatchPlan plan = PlanBatch(in);
    if (!plan.verify_job.has_value()) return plan;
    absl::StatusOr<json> job =
        deps_.client->Get(kube::resources::Jobs(), meta.namespace_name, *plan.verify_job);
    if (job.ok()) {
      live.push_back(*std::move(job));
      in.jobs.push_back(&live.back());
    } else if (kube::IsNotFound(job.status())) {
      in.jobs_gone.insert(*plan.verify_job);
    } else {
      return job.status();
    }
  }
  return absl::InternalError("the Batch's Jobs could not be verified");
}

absl::StatusOr<runtime::Result> BatchReconciler::Reconcile(const runtime::Request& request) {
  runtime::ObjectPtr cached = deps_.batches->Get(request.Key());
  if (cached == nullptr) return runtime::Result{};  // gone; its children go with it
  const json& object = *cached;
  absl::StatusOr<BatchPlan> planned = PlanFromCache(object);
  if (!planned.ok()) return planned.status();
  BatchPlan& plan = *planned;
  api::Batch batch = api::ParseBatch(object);
  const std::string& ns = batch.metadata.namespace_name;

  if (plan.add_finalizer) {
    // The cached object is stale after this write; the next reconcile (from
    // the watch event) carries on.
    if (absl::Status s = writes_.SetFinalizer(object, true); !s.ok()) return s;
    return runtime::Result{.requeue = true};
  }

  if (plan.create_job.has_value()) {
    absl::StatusOr<bool> created = CreateJob(object, batch, *plan.create_job);
    if (!created.ok()) return created.status();
    if (!*created) return runtime::Result{};  // the next event decides
  }

  if (absl::Status s = writes_.DeleteJobs(ns, plan.delete_jobs); !s.ok()) return s;

  if (plan.status.has_value()) {
    if (absl::Status s = writes_.WriteStatus(object, api::BatchStatusToJson(*plan.status));
        !s.ok()) {
      return s;
    }
    Record(object, plan);
  }

  if (plan.remove_finalizer) {
    absl::StatusOr<bool> gone =
        writes_.ChildrenGone(ChildOwner::Batch(ns, batch.metadata.name, batch.metadata.uid));
    if (!gone.ok()) return gone.status();
    if (!*gone) return runtime::Result{.requeue_after = absl::Seconds(1)};
    if (!plan.status.has_value()) Record(object, plan);  // "already <phase>" events
    if (absl::Status s = writes_.SetFinalizer(object, false); !s.ok()) return s;
    return runtime::Result{};
  }

  if (plan.delete_batch) {
    if (absl::Status s = writes_.DeleteOwner(batch.metadata); !s.ok()) return s;
    return runtime::Result{};
  }
  if (!plan.status.has_value() && !plan.events.empty()) Record(object, plan);

  runtime::Result result;
  if (plan.wake_at.has_value()) {
    result.requeue_after = std::max(*plan.wake_at - deps_.clock->Now(), absl::Milliseconds(100));
  }
  return result;
}

absl::StatusOr<bool> BatchReconciler::CreateJob(const json& object, const api::Batch& batch,
                                                const json& job) {
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
      writes_.CreateJob(ChildOwner::Batch(meta.namespace_name, meta.name, meta.uid), job);
  if (!created.ok()) return created.status();
  if (created->exists) return true;
  api::BatchStatus failed =
      StatusAfterCreateRefused(batch, created->refused_message, deps_.clock->Now());
  if (absl::Status s = writes_.WriteStatus(object, api::BatchStatusToJson(failed)); !s.ok()) {
    return s;
  }
  deps_.recorder->Warning(runtime::ObjectReference::From(object), "JobRejected", failed.message);
  outcomes_->WithLabelValues({"Failed", "JobRejected"}).Inc();
  return false;
}

void BatchReconciler::Record(const json& object, const BatchPlan& plan) {
  const runtime::ObjectReference ref = runtime::ObjectReference::From(object);
  for (const BatchEvent& e : plan.events) deps_.recorder->Event(ref, e.type, e.reason, e.message);
  for (const auto& [from, to] : plan.transitions) {
    transitions_->WithLabelValues({PhaseLabel(from), PhaseLabel(to)}).Inc();
  }
  if (plan.refused.has_value()) {
    refused_->WithLabelValues({PhaseLabel(plan.refused->first), PhaseLabel(plan.refused->second)})
        .Inc();
    deps_.logger.Warning("refused a phase change the transition table does not allow",
                         {{"batch", runtime::ObjectKey(object)},
                          {"from", PhaseLabel(plan.refused->first)},
                          {"to", PhaseLabel(plan.refused->second)}});
  }
  if (!plan.outcome_reason.empty() && plan.status.has_value()) {
    outcomes_->WithLabelValues({plan.status->phase, plan.outcome_reason}).Inc();
  }
}

}  // namespace weir::reconcile
