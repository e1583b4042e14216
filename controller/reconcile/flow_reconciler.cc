#include "reconcile/flow_reconciler.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "api/jobtemplate.h"
#include "api/meta.h"
#include "reconcile/children.h"

namespace weir::reconcile {
namespace {

using nlohmann::json;

std::string PhaseLabel(lifecycle::Phase p) { return std::string(lifecycle::PhaseName(p)); }

}  // namespace

FlowReconciler::FlowReconciler(ReconcilerDeps deps, FlowDefaults defaults)
    : deps_(std::move(deps)),
      defaults_(defaults),
      writes_(deps_.client, kube::resources::JobFlows(), "JobFlow"),
      recorder_(deps_.recorder, deps_.metrics, deps_.logger, "weir_jobflow", "JobFlow") {
  step_transitions_ = &deps_.metrics->AddCounter(
      "weir_jobflow_step_phase_transitions_total",
      "JobFlow step phase transitions, by from and to phase.", {"from", "to"});
}

std::optional<std::string> FlowReconciler::OwnerKey(const json& child) {
  return OwnerKeyOf(child, kLabelFlow);
}

bool FlowReconciler::UsesTemplate(const json& flow, absl::string_view name) {
  auto spec = flow.find("spec");
  if (spec == flow.end() || !spec->is_object()) return false;
  auto steps = spec->find("steps");
  if (steps == spec->end() || !steps->is_array()) return false;
  return std::any_of(steps->begin(), steps->end(), [name](const json& step) {
    if (!step.is_object()) return false;
    auto t = step.find("template");
    return t != step.end() && t->is_string() && t->get<std::string>() == name;
  });
}

absl::StatusOr<FlowPlan> FlowReconciler::PlanFromCache(const api::JobFlow& flow) {
  FlowInput in;
  in.flow = flow;
  in.defaults = defaults_;
  in.now = deps_.clock->Now();
  const api::ObjectMeta& meta = flow.metadata;
  if (flow.spec.ok()) {
    for (const api::FlowStep& step : flow.spec->steps) {
      if (in.templates.contains(step.template_name)) continue;
      runtime::ObjectPtr tmpl =
          deps_.templates->Get(runtime::ObjectKey(meta.namespace_name, step.template_name));
      if (tmpl == nullptr) continue;
      api::JobTemplate parsed = api::ParseJobTemplate(*tmpl);
      in.templates.emplace(step.template_name,
                           FlowTemplate{.job_spec = std::move(parsed.job_spec),
                                        .resource_version = parsed.metadata.resource_version});
    }
  }
  return PlanWithChildren(
      deps_, writes_, kLabelFlowUid, meta, in, [](const FlowInput& i) { return PlanJobFlow(i); },
      [](const FlowPlan& p) { return p.verify_jobs; });
}

absl::StatusOr<runtime::Result> FlowReconciler::Reconcile(const runtime::Request& request) {
  runtime::ObjectPtr cached = deps_.owners->Get(request.Key());
  if (cached == nullptr) {
    // Gone; the garbage collector takes its children.
    absl::Status released =
        writes_.ReleaseOrphanPods(*deps_.pods, request.ns, kLabelFlow, request.name);
    if (!released.ok()) return released;
    writes_.Forget(request.Key());
    return runtime::Result{};
  }
  const json& object = *cached;
  // Our last write replaced this version: its event brings the next look.
  if (writes_.Superseded(object)) return runtime::Result{};
  const api::JobFlow flow = api::ParseJobFlow(object);
  absl::StatusOr<FlowPlan> planned = PlanFromCache(flow);
  if (!planned.ok()) return planned.status();
  FlowPlan& plan = *planned;
  const api::ObjectMeta& meta = flow.metadata;

  if (plan.add_finalizer) {
    // The cached object is stale after this write; the next reconcile (from
    // the watch event) carries on.
    if (absl::Status s = writes_.SetFinalizer(object, true); !s.ok()) return s;
    return runtime::Result{.requeue = true};
  }

  if (!plan.create_jobs.empty()) {
    absl::StatusOr<bool> created = CreateJobs(object, flow, plan);
    if (!created.ok()) return created.status();
    if (!*created) return runtime::Result{};  // the next event decides
  }

  std::optional<json> status;
  if (plan.status.has_value()) status = api::JobFlowStatusToJson(*plan.status);
  // Every step's children: the owner with no step.
  return writes_.Converge(
      object, ChildOwner::FlowStep(meta.namespace_name, meta.name, meta.uid, "", ""),
      ConvergenceOf(plan, std::move(status)), deps_.clock->Now(), [&] { Record(object, plan); });
}

absl::StatusOr<bool> FlowReconciler::CreateJobs(const json& object, const api::JobFlow& flow,
                                                FlowPlan& plan) {
  const api::ObjectMeta& meta = flow.metadata;
  absl::StatusOr<std::optional<json>> live = writes_.LiveOwner(meta);
  if (!live.ok()) return live.status();
  if (!live->has_value() || api::ParseJobFlow(**live).metadata.generation != meta.generation) {
    deps_.logger.Info("not creating Jobs: the JobFlow changed or was deleted meanwhile",
                      {{"jobflow", runtime::ObjectKey(object)}});
    return false;
  }
  // Same generation: the spec (incl. cancel, suspend, step cancels) is the
  // one planned from.
  for (const FlowJobToCreate& create : plan.create_jobs) {
    const api::FlowStep* step = nullptr;
    for (const api::FlowStep& s : flow.spec->steps) {
      if (s.name == create.step) step = &s;
    }
    const ChildOwner owner =
        ChildOwner::FlowStep(meta.namespace_name, meta.name, meta.uid, create.step,
                             step != nullptr ? step->template_name : "");
    absl::StatusOr<CreatedJob> created = writes_.CreateJob(owner, create.job, **live);
    if (!created.ok()) return created.status();
    if (created->exists) continue;
    plan.status =
        StatusAfterStepCreateRefused(flow, plan.status.value_or(flow.status), create.step,
                                     create.attempt, created->refused_message, deps_.clock->Now());
    plan.events.push_back({"Warning", "JobRejected",
                           absl::StrCat("step ", create.step, ": ", created->refused_message)});
  }
  return true;
}

void FlowReconciler::Record(const json& object, const FlowPlan& plan) {
  PlanRecord record;
  record.events = &plan.events;
  record.transitions = &plan.transitions;
  record.refused = plan.refused;
  if (plan.status.has_value()) {
    record.phase = plan.status->phase;
    record.outcome_reason = plan.outcome_reason;
  }
  recorder_.Record(object, record);
  for (const StepTransition& t : plan.step_transitions) {
    step_transitions_->WithLabelValues({PhaseLabel(t.from), PhaseLabel(t.to)}).Inc();
  }
}

}  // namespace weir::reconcile
