#include "reconcile/flow_plan.h"

#include <algorithm>
#include <deque>
#include <map>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "api/conditions.h"
#include "api/jobspec.h"
#include "api/meta.h"
#include "flow/dag.h"
#include "reconcile/attempts.h"
#include "reconcile/children.h"
#include "reconcile/finished.h"

namespace weir::reconcile {
namespace {

using lifecycle::Phase;
using nlohmann::json;

constexpr char kReasonInvalidSpec[] = "InvalidSpec";
constexpr char kReasonTemplateNotFound[] = "TemplateNotFound";
constexpr char kReasonInvalidTemplate[] = "InvalidTemplate";
constexpr char kReasonInvalidPatch[] = "InvalidPatch";
constexpr char kReasonTemplateChanged[] = "TemplateChanged";
constexpr char kReasonJobRejected[] = "JobRejected";
constexpr char kReasonStartedStepRemoved[] = "StartedStepRemoved";
constexpr char kReasonStartedStepRetemplated[] = "StartedStepRetemplated";
constexpr char kConditionStartedStepsChanged[] = "StartedStepsChanged";

// The prefixes of flow::PlanFlow's cancel messages, one per cause.
constexpr char kStepCancelPrefix[] = "canceled on request";
constexpr char kFlowCancelPrefix[] = "flow canceled";
constexpr char kFlowStopPrefix[] = "flow stopped";

// Planning rounds (PlanFlow, then every step) before giving up on a
// fixpoint; decisions only ever add, so a few rounds always suffice.
constexpr int kMaxRounds = 16;

Phase ParsedOr(absl::string_view name, Phase fallback) {
  absl::StatusOr<Phase> p = lifecycle::ParsePhase(name);
  return p.ok() ? *p : fallback;
}

std::string Label(const json& object, const char* key) {
  if (!object.is_object()) return "";
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return "";
  auto labels = meta->find("labels");
  if (labels == meta->end() || !labels->is_object()) return "";
  auto value = labels->find(key);
  return value != labels->end() && value->is_string() ? value->get<std::string>() : "";
}

std::string NameOf(const json& object) {
  if (!object.is_object() || !object.contains("metadata") || !object["metadata"].is_object()) {
    return "";
  }
  const json& name = object["metadata"].value("name", json());
  return name.is_string() ? name.get<std::string>() : "";
}

// One spec step, planned as a unit of attempts.
struct Unit {
  flow::StepIndex index = 0;
  const api::FlowStep* spec = nullptr;
  // The template the step's Jobs carry: the spec's, or the one it started
  // with if the spec changed it since (then the step is canceled).
  std::string template_name;
  ChildOwner owner;
  api::StepStatus recorded;
  Phase recorded_phase = Phase::kPending;
  std::vector<const json*> jobs;
  std::vector<const json*> pods;
  std::vector<const json*> deleted_pods;

  // Decisions so far (they only ever turn on).
  bool may_start = false;
  bool cancel = false;
  std::string cancel_message;
  bool skip = false;
  std::string skip_message;

  // The outcome of the latest round.
  Phase phase = Phase::kPending;
  std::vector<Phase> path;  // transitions from recorded_phase
  std::optional<std::pair<Phase, Phase>> refused;
  std::vector<api::AttemptStatus> attempts;
  bool attempt_recorded = false;  // AttemptsPlan::current_recorded
  std::string reason;
  std::string message;
  std::string template_rv;
  std::optional<int> create_attempt;
  std::optional<json> job_spec;  // for create_attempt
  MemoryOverride memory;
  std::vector<std::string> delete_jobs;
  std::optional<std::string> verify_job;
  std::optional<absl::Time> wake_at;
};

class FlowPlanner {
 public:
  explicit FlowPlanner(const FlowInput& in)
      : in_(in),
        meta_(in.flow.metadata),
        status_(in.flow.status),
        phase_(ParsedOr(in.flow.status.phase, Phase::kPending)),
        deleting_(meta_.deletion_timestamp.has_value()) {
    cancel_ = deleting_ || (in.flow.spec.ok() && in.flow.spec->cancel);
    for (const json* job : in.jobs) {
      const std::string step = Label(*job, kLabelStep);
      if (IsChildOf(*job, ChildOwner::FlowStep(meta_.namespace_name, meta_.name, meta_.uid, step,
                                               Label(*job, kLabelTemplate)))) {
        all_jobs_.push_back(job);
      }
    }
    for (const json* pod : in.pods) {
      if (!meta_.uid.empty() && Label(*pod, kLabelFlowUid) == meta_.uid) all_pods_.push_back(pod);
    }
    for (const json* pod : in.deleted_pods) {
      if (!meta_.uid.empty() && Label(*pod, kLabelFlowUid) == meta_.uid) {
        all_deleted_pods_.push_back(pod);
      }
    }
  }

  FlowPlan Run() {
    if (!deleting_ && !api::HasFinalizer(meta_, kFinalizer)) plan_.add_finalizer = true;
    ReleasePods();
    DeleteJobsOfCanceledSteps();
    const bool finished_before = lifecycle::IsTerminal(phase_);
    if (!finished_before) {
      Progress();
      if (!plan_.verify_jobs.empty()) {
        FlowPlan out;
        out.add_finalizer = plan_.add_finalizer;
        out.verify_jobs = std::move(plan_.verify_jobs);
        return out;
      }
    }
    if (lifecycle::IsTerminal(phase_)) Finished(finished_before);
    status_.phase = std::string(lifecycle::PhaseName(phase_));
    status_.observed_generation = meta_.generation;
    if (!(status_ == in_.flow.status)) {
      plan_.status = status_;
      const std::vector<api::AttemptStatus> none;
      for (const api::StepStatus& step : status_.steps) {
        const api::StepStatus* stored = api::FindStepStatus(in_.flow.status, step.name);
        DeferDeletesUntilRecorded(stored != nullptr ? stored->attempts : none, step.attempts,
                                  plan_.delete_jobs);
      }
    }
    return std::move(plan_);
  }

 private:
  absl::Duration IdleTimeout() const {
    return in_.flow.spec.ok() && in_.flow.spec->idle_timeout.has_value()
               ? *in_.flow.spec->idle_timeout
               : in_.defaults.idle_timeout;
  }

  // Moves the flow to `to` through the table, one Event per transition.
  void MoveFlowTo(Phase to, absl::string_view message) {
    status_.message = std::string(message);
    absl::StatusOr<std::vector<Phase>> path = lifecycle::TransitionPath(phase_, to);
    if (!path.ok()) {
      plan_.refused.emplace_back(phase_, to);
      return;
    }
    for (Phase p : *path) {
      plan_.transitions.emplace_back(phase_, p);
      AddPhaseEvent(plan_.events, p, std::string(lifecycle::PhaseName(p)), status_.message);
      phase_ = p;
    }
  }

  // Ends the flow Failed (Canceled if it is being canceled) with Valid=False,
  // creating nothing.
  void Invalid(absl::string_view reason, absl::string_view message) {
    invalid_ = true;
    api::SetCondition(status_.conditions, api::kConditionValid, api::kConditionFalse, reason,
                      message, meta_.generation, in_.now);
    // Steps that had not ended are canceled (InvalidSpec stopped the ones
    // under way first); Finished() deletes their Jobs.
    bool started = false;
    for (api::StepStatus& step : status_.steps) {
      started |= !step.attempts.empty();
      const Phase from = ParsedOr(step.phase, Phase::kPending);
      if (lifecycle::IsTerminal(from)) continue;
      absl::StatusOr<std::vector<Phase>> path = lifecycle::TransitionPath(from, Phase::kCanceled);
      if (!path.ok()) continue;
      step.phase = std::string(lifecycle::PhaseName(Phase::kCanceled));
      step.message = absl::StrCat("flow stopped: the spec is invalid: ", message);
      Phase at = from;
      for (Phase to : *path) {
        plan_.step_transitions.push_back({step.name, at, to});
        AddPhaseEvent(plan_.events, to, absl::StrCat("Step", lifecycle::PhaseName(to)),
                      absl::StrCat("step ", step.name, ": ", step.message));
        at = to;
      }
    }
    if (cancel_) {
      MoveFlowTo(Phase::kCanceled, started ? "canceled" : "canceled before any step started");
      outcome_ = std::string(flow::kFlowReasonCanceled);
      return;
    }
    MoveFlowTo(Phase::kFailed, message);
    outcome_ = std::string(reason);
    plan_.events.push_back({"Warning", std::string(reason), std::string(message)});
  }

  // Checks every step's template and patched JobSpec while nothing has
  // started. False if the flow cannot start (it waits or is invalid).
  bool CheckTemplates() {
    const api::JobFlowSpec& spec = *in_.flow.spec;
    for (size_t i = 0; i < spec.steps.size(); ++i) {
      const api::FlowStep& step = spec.steps[i];
      auto it = in_.templates.find(step.template_name);
      if (it == in_.templates.end()) {
        const std::string message =
            absl::StrCat("step ", step.name, ": JobTemplate \"", step.template_name,
                         "\" not found in namespace ", meta_.namespace_name);
        const absl::Time deadline =
            meta_.creation_timestamp.value_or(in_.now) + in_.defaults.template_wait;
        if (in_.now < deadline && !cancel_) {
          api::SetCondition(status_.conditions, api::kConditionValid, api::kConditionUnknown,
                            kReasonTemplateNotFound, absl::StrCat(message, "; waiting for it"),
                            meta_.generation, in_.now);
          plan_.Wake(deadline);
        } else {
          Invalid(kReasonTemplateNotFound, message);
        }
        return false;
      }
      std::string reason, message;
      if (!MergedJobSpec(static_cast<flow::StepIndex>(i), it->second, &reason, &message)) {
        Invalid(reason, message);
        return false;
      }
    }
    return true;
  }

  // Template + the step's patch, checked. False with a reason and message
  // if the template is invalid or the result is.
  std::optional<json> MergedJobSpec(flow::StepIndex i, const FlowTemplate& tmpl,
                                    std::string* reason, std::string* message) const {
    const api::FlowStep& step = in_.flow.spec->steps[i];
    if (!tmpl.job_spec.ok()) {
      *reason = kReasonInvalidTemplate;
      *message = absl::StrCat("step ", step.name, ": JobTemplate \"", step.template_name,
                              "\": ", tmpl.job_spec.status().message());
      return std::nullopt;
    }
    json merged = api::MergeJobSpec(*tmpl.job_spec, step.patch.value_or(json()));
    absl::Status valid = api::ValidateJobSpec(
        merged, absl::StrCat("spec.steps[", i, "] (JobTemplate ", step.template_name, " + patch)"));
    if (!valid.ok()) {
      *reason = kReasonInvalidPatch;
      *message = std::string(valid.message());
      return std::nullopt;
    }
    return merged;
  }

  // The JobSpec of `attempt` of unit `u` (see the header on template
  // versions); sets u.template_rv when the step starts.
  std::optional<json> JobSpecFor(Unit& u, int attempt, std::string* reason,
                                 std::string* message) const {
    auto it = in_.templates.find(u.spec->template_name);
    const FlowTemplate* tmpl = it == in_.templates.end() ? nullptr : &it->second;
    const std::string& recorded_rv = u.recorded.template_resource_version;
    if (attempt <= 1 || recorded_rv.empty()) {
      if (tmpl == nullptr) {
        *reason = kReasonTemplateNotFound;
        *message = absl::StrCat("JobTemplate \"", u.spec->template_name,
                                "\" not found in namespace ", meta_.namespace_name);
        return std::nullopt;
      }
      std::optional<json> spec = MergedJobSpec(u.index, *tmpl, reason, message);
      if (spec.has_value()) u.template_rv = tmpl->resource_version;
      return spec;
    }
    if (tmpl != nullptr && tmpl->resource_version == recorded_rv && tmpl->job_spec.ok()) {
      std::optional<json> spec = MergedJobSpec(u.index, *tmpl, reason, message);
      if (spec.has_value()) return spec;
    }
    const std::string previous = ChildJobName(u.owner, attempt - 1);
    for (const json* job : u.jobs) {
      if (NameOf(*job) == previous) return JobSpecOfChild(*job);
    }
    *reason = kReasonTemplateChanged;
    *message =
        absl::StrCat("JobTemplate \"", u.spec->template_name, "\" is no longer at resourceVersion ",
                     recorded_rv, ", which this step started with, and attempt ", attempt - 1,
                     "'s Job is gone: attempt ", attempt, " cannot be built");
    return std::nullopt;
  }

  // A canceled step keeps no Job, like a canceled flow or Batch. Most went
  // while it was Canceling; left are those of an attempt that ended by
  // itself while the stop was pending, or that was created in the window
  // after the stop (§4.2). They go once the step's Canceled is stored, even
  // if the flow has ended.
  void DeleteJobsOfCanceledSteps() {
    for (const json* job : all_jobs_) {
      const api::StepStatus* s = api::FindStepStatus(in_.flow.status, Label(*job, kLabelStep));
      if (s != nullptr && s->phase == lifecycle::PhaseName(Phase::kCanceled) &&
          !(*job)["metadata"].contains("deletionTimestamp")) {
        plan_.delete_jobs.push_back(NameOf(*job));
      }
    }
  }

  // Each step's pods against that step's stored records.
  void ReleasePods() {
    std::map<std::string, std::vector<const json*>> pods_of, jobs_of;
    for (const json* pod : all_pods_) pods_of[Label(*pod, kLabelStep)].push_back(pod);
    for (const json* job : all_jobs_) jobs_of[Label(*job, kLabelStep)].push_back(job);
    const std::vector<api::AttemptStatus> none;
    for (const auto& [step, pods] : pods_of) {
      const std::vector<api::AttemptStatus>* stored = &none;
      for (const api::StepStatus& s : in_.flow.status.steps) {
        if (s.name == step) stored = &s.attempts;
      }
      for (PodRelease& r : PodsToRelease(pods, *stored, jobs_of[step])) {
        plan_.release_pods.push_back(std::move(r));
      }
    }
  }

  void RunUnit(Unit& u) {
    u.path.clear();
    u.refused.reset();
    u.create_attempt.reset();
    u.job_spec.reset();
    u.memory = MemoryOverride();
    u.delete_jobs.clear();
    u.verify_job.reset();
    u.attempt_recorded = false;
    u.wake_at.reset();
    u.template_rv = u.recorded.template_resource_version;
    if (lifecycle::IsTerminal(u.recorded_phase)) {
      u.phase = u.recorded_phase;
      u.attempts = u.recorded.attempts;
      u.message = u.recorded.message;
      u.reason = u.attempts.empty() ? "" : u.attempts.back().termination_reason;
      return;
    }
    if (u.skip) {
      u.phase = Phase::kSkipped;
      u.path = {Phase::kSkipped};
      u.attempts = u.recorded.attempts;
      u.reason = "Skipped";
      u.message = u.skip_message;
      return;
    }
    AttemptsInput in;
    in.phase = u.recorded_phase;
    in.attempts = u.recorded.attempts;
    in.jobs = u.jobs;
    in.pods = u.pods;
    in.deleted_pods = u.deleted_pods;
    in.jobs_gone = in_.jobs_gone;
    in.owner = u.owner;
    in.retry = ToPolicy(u.spec->retry);
    in.cancel = u.cancel;
    in.may_start = u.may_start;
    in.image_pull_grace = in_.defaults.image_pull_grace;
    in.node_lost_timeout = in_.defaults.node_lost_timeout;
    in.now = in_.now;
    AttemptsPlan p = PlanAttempts(in);
    u.verify_job = p.verify_job;
    u.phase = p.phase;
    u.path = p.transitions;
    u.refused = p.refused;
    u.attempts = std::move(p.attempts);
    u.attempt_recorded = p.current_recorded;
    u.reason = p.reason;
    u.message = p.message;
    u.delete_jobs = std::move(p.delete_jobs);
    u.wake_at = p.wake_at;
    if (u.cancel && !u.cancel_message.empty()) {
      u.message =
          u.message.empty() ? u.cancel_message : absl::StrCat(u.cancel_message, "; ", u.message);
    }
    if (p.create_attempt.has_value()) {
      std::string reason, message;
      u.job_spec = JobSpecFor(u, *p.create_attempt, &reason, &message);
      if (u.job_spec.has_value()) {
        u.create_attempt = p.create_attempt;
        u.memory = p.memory;
      } else {
        // The attempt cannot be built: the step ends Failed, nothing created.
        u.attempts.pop_back();
        absl::StatusOr<std::vector<Phase>> tail =
            lifecycle::TransitionPath(u.phase, Phase::kFailed);
        if (tail.ok()) {
          u.path.insert(u.path.end(), tail->begin(), tail->end());
          u.phase = Phase::kFailed;
        } else {
          u.refused = std::make_pair(u.phase, Phase::kFailed);
        }
        u.reason = reason;
        u.message = message;
      }
    }
    if (u.template_rv.empty() && !u.attempts.empty()) {
      // Adopted after a lost status write: the template as it is now.
      auto it = in_.templates.find(u.spec->template_name);
      if (it != in_.templates.end()) u.template_rv = it->second.resource_version;
    }
  }

  flow::StepState StateOf(const Unit& u) const {
    flow::StepState s;
    s.phase = u.phase;
    s.started = !u.attempts.empty();
    s.cancel = u.spec->cancel;
    if (u.phase == Phase::kCanceled || u.phase == Phase::kCanceling) {
      s.canceled_by = CancelCauseOfMessage(u.message);
    }
    s.reason = u.reason;
    s.message = u.message;
    return s;
  }

  // A stop the user stored (the flow's cancel or deletion, a step's cancel)
  // is known to each unit before its attempts are judged: an attempt whose
  // record was never stored, created in the window after the stop, is then
  // canceled rather than taken as finished work (§4.2). PlanFlow would
  // decide the same cancels a round later, after such an attempt's success
  // had already been taken.
  void SeedUserStops() {
    for (Unit& u : units_) {
      if (u.cancel || lifecycle::IsTerminal(u.recorded_phase)) continue;
      if (cancel_) {
        Cancel(u, std::string(flow::UserCancelMessage(flow::CancelCause::kFlowCanceled)));
      } else if (u.spec->cancel) {
        Cancel(u, std::string(flow::UserCancelMessage(flow::CancelCause::kStep)));
      }
    }
  }

  // Whether every dependency of `u` has an end that no later stop can
  // change. A step's Job is created before the status is written (design
  // §5), and an end only planned can still change if that write is lost: a
  // step canceled before its pod started may still run and succeed, and with
  // a cancel pending, an ended attempt that is not Succeeded is recorded
  // Canceled (§4.2). A dependent started on such an end would run on a
  // condition that never held (both found by the model checker,
  // test/model/). So an end counts once it is stored, or if it is a success
  // of an attempt whose record was stored (finished work stands; a success
  // of an unrecorded attempt yields to a stop, §4.2). The status write's
  // watch event brings the next reconcile, which starts the dependent.
  bool DependenciesRecorded(const Unit& u) const {
    for (const api::DependsOn& d : u.spec->depends_on) {
      for (const Unit& dep : units_) {
        if (dep.spec->name != d.step || lifecycle::IsTerminal(dep.recorded_phase)) continue;
        if (dep.phase != Phase::kSucceeded || !dep.attempt_recorded) return false;
      }
    }
    return true;
  }

  // Applies PlanFlow's decisions to the units; true if any is new.
  bool Apply(const flow::Plan& plan) {
    bool changed = false;
    for (const flow::SkipDecision& d : plan.skip) {
      Unit& u = units_[d.step];
      if (u.skip) continue;
      u.skip = true;
      u.skip_message = d.message;
      changed = true;
    }
    for (const flow::CancelDecision& d : plan.cancel) {
      Unit& u = units_[d.step];
      if (u.cancel) continue;
      u.cancel = true;
      u.cancel_message = d.message;
      changed = true;
    }
    for (flow::StepIndex i : plan.start) {
      Unit& u = units_[i];
      if (u.may_start || !DependenciesRecorded(u)) continue;
      u.may_start = true;
      changed = true;
    }
    return changed;
  }

  void Progress() {
    if (!in_.flow.spec.ok()) {
      InvalidSpec(kReasonInvalidSpec, in_.flow.spec.status().message());
      return;
    }
    const api::JobFlowSpec& spec = *in_.flow.spec;
    std::vector<flow::StepSpec> specs;
    specs.reserve(spec.steps.size());
    for (const api::FlowStep& step : spec.steps) {
      flow::StepSpec s;
      s.name = step.name;
      s.template_name = step.template_name;
      for (const api::DependsOn& d : step.depends_on) s.depends_on.push_back({d.step, d.condition});
      specs.push_back(std::move(s));
    }
    absl::StatusOr<flow::Dag> dag = flow::Dag::Build(specs);
    if (!dag.ok()) {
      InvalidSpec(flow::ValidationReason(dag.status()), dag.status().message());
      return;
    }
    flow::FlowOptions options;
    options.on_step_failure =
        flow::ParseOnStepFailure(spec.on_step_failure).value_or(flow::OnStepFailure::kStopFlow);
    options.parallelism = spec.parallelism;
    options.suspend = spec.suspend;
    options.cancel = cancel_;

    BuildUnits(spec);
    SeedUserStops();
    bool any_started = false;
    for (const Unit& u : units_) {
      if (!u.recorded.attempts.empty() || !u.jobs.empty()) any_started = true;
    }
    if (!any_started && !CheckTemplates()) {
      status_.progress = absl::StrCat(0, "/", units_.size());
      return;
    }
    api::SetCondition(status_.conditions, api::kConditionValid, api::kConditionTrue, "Valid",
                      "the spec is valid", meta_.generation, in_.now);

    std::vector<flow::StepState> states(units_.size());
    flow::Plan plan;
    for (int round = 0;; ++round) {
      for (Unit& u : units_) RunUnit(u);
      for (Unit& u : removed_) RunUnit(u);
      for (const std::vector<Unit>* units : {&units_, &removed_}) {
        for (const Unit& u : *units) {
          if (u.verify_job.has_value()) plan_.verify_jobs.push_back(*u.verify_job);
        }
      }
      if (!plan_.verify_jobs.empty()) return;
      for (size_t i = 0; i < units_.size(); ++i) states[i] = StateOf(units_[i]);
      absl::StatusOr<flow::Plan> next = flow::PlanFlow(*dag, states, options);
      if (!next.ok()) {  // cannot happen: one state per step
        Invalid(kReasonInvalidSpec, next.status().message());
        return;
      }
      plan = *std::move(next);
      if (!Apply(plan)) break;
      if (round + 1 >= kMaxRounds) {
        plan_.Wake(in_.now);  // decisions left for the next look
        break;
      }
    }
    Emit(plan);
  }

  void BuildUnits(const api::JobFlowSpec& spec) {
    absl::flat_hash_map<std::string, size_t> by_name;
    units_.resize(spec.steps.size());
    for (size_t i = 0; i < spec.steps.size(); ++i) {
      const api::FlowStep& step = spec.steps[i];
      Unit& u = units_[i];
      u.index = static_cast<flow::StepIndex>(i);
      u.spec = &step;
      const std::string started_with = StartedTemplate(step.name);
      InitUnit(u, started_with.empty() ? step.template_name : started_with);
      if (!started_with.empty() && started_with != step.template_name) {
        // The template of a started step was changed (the schema refuses
        // this; an older CRD may not): the step as it ran is canceled and
        // kept; the new template does not run under its name.
        const std::string note =
            absl::StrCat("step ", step.name, "'s template was changed from ", started_with, " to ",
                         step.template_name, " after the step started");
        Cancel(u, absl::StrCat("canceled: ", note));
        changed_.push_back({kReasonStartedStepRetemplated, note});
      }
      by_name.emplace(step.name, i);
    }
    // Started steps the spec no longer has (removed or renamed; the schema
    // refuses this, an older CRD may not): canceled, their Jobs deleted and
    // their records kept, after the spec's steps.
    std::vector<std::string> gone;
    auto note_gone = [&](const std::string& name) {
      if (!name.empty() && !by_name.contains(name) &&
          std::find(gone.begin(), gone.end(), name) == gone.end()) {
        gone.push_back(name);
      }
    };
    for (const api::StepStatus& s : in_.flow.status.steps) {
      if (!s.attempts.empty()) note_gone(s.name);
    }
    for (const json* job : all_jobs_) note_gone(Label(*job, kLabelStep));
    for (const std::string& name : gone) {
      const std::string note =
          absl::StrCat("step ", name, " was removed from the spec after it started");
      by_name.emplace(name, AddStoppingUnit(name, absl::StrCat("canceled: ", note)).index);
      changed_.push_back({kReasonStartedStepRemoved, note});
    }
    AttachChildren(by_name);
    for (Unit& u : units_) {
      // A started step's retry waits while the flow is suspended.
      const bool started = !u.recorded.attempts.empty() || !u.jobs.empty();
      u.may_start = started && !spec.suspend;
    }
  }

  // A unit, after the spec's, for started step `name` that is stopped: the
  // spec lost it, or the spec can no longer be run. Canceled with `message`.
  Unit& AddStoppingUnit(const std::string& name, std::string message) {
    api::FlowStep& step = removed_specs_.emplace_back();
    step.name = name;
    step.template_name = StartedTemplate(name);
    Unit& u = removed_.emplace_back();
    u.index = static_cast<flow::StepIndex>(units_.size() + removed_.size() - 1);
    u.spec = &step;
    InitUnit(u, step.template_name);
    Cancel(u, std::move(message));
    return u;
  }

  // Gives each unit (`by_name`: step name -> index) its Jobs and pods.
  void AttachChildren(const absl::flat_hash_map<std::string, size_t>& by_name) {
    auto unit_of = [&](const json& child) -> Unit* {
      auto it = by_name.find(Label(child, kLabelStep));
      if (it == by_name.end()) return nullptr;
      return it->second < units_.size() ? &units_[it->second]
                                        : &removed_[it->second - units_.size()];
    };
    for (const json* job : all_jobs_) {
      Unit* u = unit_of(*job);
      if (u != nullptr && IsChildOf(*job, u->owner)) u->jobs.push_back(job);
    }
    for (const json* pod : all_pods_) {
      if (Unit* u = unit_of(*pod)) u->pods.push_back(pod);
    }
    for (const json* pod : all_deleted_pods_) {
      if (Unit* u = unit_of(*pod)) u->deleted_pods.push_back(pod);
    }
  }

  // The spec cannot be run any more (an edit the schema let through: a bad
  // value, a dependency cycle). Steps under way are canceled through their
  // attempts, as a step the spec lost is, so that their pods end and their
  // ends are recorded (a pod's final-state finalizer waits for that); the
  // flow fails once none of them runs. Until then it keeps its phase.
  void InvalidSpec(absl::string_view reason, absl::string_view message) {
    const std::string why = absl::StrCat("flow stopped: the spec is invalid: ", message);
    absl::flat_hash_map<std::string, size_t> by_name;
    auto under_way = [&](const std::string& name) {
      const api::StepStatus* s = api::FindStepStatus(in_.flow.status, name);
      if (name.empty() || by_name.contains(name) ||
          (s != nullptr && lifecycle::IsTerminal(ParsedOr(s->phase, Phase::kPending)))) {
        return;
      }
      by_name.emplace(name, AddStoppingUnit(name, why).index);
    };
    for (const api::StepStatus& s : in_.flow.status.steps) {
      if (!s.attempts.empty()) under_way(s.name);
    }
    for (const json* job : all_jobs_) under_way(Label(*job, kLabelStep));
    AttachChildren(by_name);
    for (Unit& u : removed_) RunUnit(u);
    for (const Unit& u : removed_) {
      if (u.verify_job.has_value()) plan_.verify_jobs.push_back(*u.verify_job);
    }
    if (!plan_.verify_jobs.empty()) return;
    const Unit* stopping = nullptr;
    for (Unit& u : removed_) {
      std::vector<api::StepStatus> record;
      EmitUnit(u, record);
      api::StepStatus* stored = api::FindStepStatus(status_, u.spec->name);
      if (stored != nullptr) {
        *stored = std::move(record.front());
      } else {
        status_.steps.push_back(std::move(record.front()));
      }
      if (stopping == nullptr && !lifecycle::IsTerminal(u.phase)) stopping = &u;
    }
    if (stopping == nullptr) {
      Invalid(reason, message);
      return;
    }
    api::SetCondition(status_.conditions, api::kConditionValid, api::kConditionFalse, reason,
                      message, meta_.generation, in_.now);
    status_.message =
        absl::StrCat(why, "; waiting for step ", stopping->spec->name, ", under way, to stop");
  }

  // The template step `name` started with: its record's if it has attempts,
  // else the template label of a Job of it in the cache (a lost status
  // write); "" if it has not started.
  std::string StartedTemplate(absl::string_view name) const {
    const api::StepStatus* s = api::FindStepStatus(in_.flow.status, name);
    if (s != nullptr && !s->attempts.empty() && !s->template_name.empty()) {
      return s->template_name;
    }
    for (const json* job : all_jobs_) {
      if (Label(*job, kLabelStep) == name) return Label(*job, kLabelTemplate);
    }
    return "";
  }

  // The unit's record and owner, for Jobs labelled with `template_name`.
  void InitUnit(Unit& u, const std::string& template_name) {
    u.template_name = template_name;
    u.owner = ChildOwner::FlowStep(meta_.namespace_name, meta_.name, meta_.uid, u.spec->name,
                                   template_name);
    if (const api::StepStatus* s = api::FindStepStatus(in_.flow.status, u.spec->name)) {
      u.recorded = *s;
    }
    u.recorded.name = u.spec->name;
    u.recorded.template_name = template_name;
    u.recorded_phase = ParsedOr(u.recorded.phase, Phase::kPending);
    if (u.recorded_phase == Phase::kCanceling) {
      // Canceling ends only in Canceled; keep the cause the message names.
      u.cancel = true;
      u.cancel_message = u.recorded.message.substr(0, u.recorded.message.find("; "));
    }
  }

  static void Cancel(Unit& u, std::string message) {
    u.cancel = true;
    u.cancel_message = std::move(message);
  }

  // Writes the steps' outcome and the flow's phase into the plan and status.
  void Emit(const flow::Plan& plan) {
    std::vector<api::StepStatus> steps;
    steps.reserve(units_.size() + removed_.size());
    for (Unit& u : units_) EmitUnit(u, steps);
    const Unit* stopping = nullptr;  // a removed step still running
    for (Unit& u : removed_) {
      EmitUnit(u, steps);
      if (stopping == nullptr && !lifecycle::IsTerminal(u.phase)) stopping = &u;
    }
    status_.steps = std::move(steps);

    if (!status_.start_time.has_value()) {
      for (const api::StepStatus& s : status_.steps) {
        if (s.attempts.empty() || !s.attempts.front().start_time.has_value()) continue;
        const absl::Time t = *s.attempts.front().start_time;
        if (!status_.start_time.has_value() || t < *status_.start_time) status_.start_time = t;
      }
    }
    status_.progress = absl::StrCat(plan.counts.done(), "/", plan.counts.total);
    Phase to = plan.phase;
    std::string message = plan.message;
    if (lifecycle::IsTerminal(to) && stopping != nullptr) {
      // Never terminal while a Job of the flow may still run.
      to = to == Phase::kCanceled ? Phase::kCanceling : Phase::kRunning;
      message = absl::StrCat(message, "; waiting for step ", stopping->spec->name,
                             ", removed from the spec, to stop");
    }
    if (lifecycle::IsTerminal(to)) outcome_ = plan.reason;
    MoveFlowTo(to, message);
    const bool running = phase_ == Phase::kRunning;
    api::SetCondition(status_.conditions, api::kConditionRunning,
                      running ? api::kConditionTrue : api::kConditionFalse,
                      plan.reason.empty() ? lifecycle::PhaseName(phase_) : plan.reason, message,
                      meta_.generation, in_.now);
    if (!changed_.empty()) {
      std::vector<std::string> notes;
      for (const auto& [reason, note] : changed_) notes.push_back(note);
      const bool one_reason = std::all_of(changed_.begin(), changed_.end(), [&](const auto& c) {
        return c.first == changed_.front().first;
      });
      api::SetCondition(status_.conditions, kConditionStartedStepsChanged, api::kConditionTrue,
                        one_reason ? changed_.front().first : kConditionStartedStepsChanged,
                        absl::StrCat(absl::StrJoin(notes, "; "),
                                     ". Such a step is canceled, its Jobs deleted and its "
                                     "record kept"),
                        meta_.generation, in_.now);
    }
  }

  // Unit `u`'s status record, Events, Job to create and Jobs to delete.
  void EmitUnit(Unit& u, std::vector<api::StepStatus>& steps) {
    api::StepStatus s;
    s.name = u.spec->name;
    s.template_name = u.template_name;
    s.template_resource_version = u.template_rv;
    s.phase = std::string(lifecycle::PhaseName(u.phase));
    s.message = u.message;
    s.attempts = u.attempts;
    steps.push_back(std::move(s));

    Phase from = u.recorded_phase;
    for (Phase to : u.path) {
      plan_.step_transitions.push_back({u.spec->name, from, to});
      AddPhaseEvent(plan_.events, to, absl::StrCat("Step", lifecycle::PhaseName(to)),
                    absl::StrCat("step ", u.spec->name, ": ",
                                 u.message.empty() ? lifecycle::PhaseName(to) : u.message));
      from = to;
    }
    if (u.refused.has_value()) plan_.refused.push_back(*u.refused);
    if (u.create_attempt.has_value()) {
      plan_.create_jobs.push_back(
          {u.spec->name, *u.create_attempt,
           BuildChildJob(u.owner, *u.create_attempt, *u.job_spec, "", u.memory)});
    }
    for (std::string& name : u.delete_jobs) plan_.delete_jobs.push_back(std::move(name));
    // A retry held by suspend is due already; the spec change that
    // resumes the flow brings the next look, not a busy requeue.
    if (u.wake_at.has_value() && (u.may_start || *u.wake_at > in_.now)) plan_.Wake(*u.wake_at);
  }

  void Finished(bool finished_before) {
    FinishedInput f;
    f.phase = phase_;
    f.noun = "flow";
    f.finished_before = finished_before;
    f.new_cancel = in_.flow.spec.ok() && in_.flow.spec->cancel &&
                   in_.flow.status.observed_generation < meta_.generation;
    f.deleting = deleting_;
    f.release_now =
        cancel_ || invalid_ || (in_.flow.spec.ok() && in_.flow.spec->job_retain_policy == "Delete");
    f.any_attempt = std::any_of(status_.steps.begin(), status_.steps.end(),
                                [](const api::StepStatus& s) { return !s.attempts.empty(); });
    f.idle_timeout = IdleTimeout();
    if (in_.flow.spec.ok()) f.ttl_after_finished = in_.flow.spec->ttl_after_finished;
    f.jobs = all_jobs_;
    f.children = !all_jobs_.empty() || !all_pods_.empty();
    f.now = in_.now;
    FinishOwner(f, meta_, outcome_, status_, plan_);
  }

  const FlowInput& in_;
  const api::ObjectMeta& meta_;
  api::JobFlowStatus status_;
  Phase phase_;
  const bool deleting_;
  bool cancel_ = false;
  bool invalid_ = false;
  std::string outcome_;
  std::vector<const json*> all_jobs_;
  std::vector<const json*> all_pods_;
  std::vector<const json*> all_deleted_pods_;
  std::vector<Unit> units_;
  // Started steps the spec no longer has, and their made-up specs.
  std::vector<Unit> removed_;
  std::deque<api::FlowStep> removed_specs_;
  // Edits to started steps carried out by canceling them: (reason, note).
  std::vector<std::pair<std::string, std::string>> changed_;
  FlowPlan plan_;
};

}  // namespace

FlowPlan PlanJobFlow(const FlowInput& input) { return FlowPlanner(input).Run(); }

api::JobFlowStatus StatusAfterStepCreateRefused(const api::JobFlow& flow,
                                                const api::JobFlowStatus& planned,
                                                absl::string_view step, int attempt,
                                                absl::string_view message, absl::Time now) {
  api::JobFlowStatus status = planned;
  status.observed_generation = flow.metadata.generation;
  api::StepStatus* s = api::FindStepStatus(status, step);
  if (s == nullptr) return status;
  const std::string text =
      absl::StrCat("the API server refused the Job of attempt ", attempt, ": ", message);
  for (api::AttemptStatus& a : s->attempts) {
    if (a.attempt != attempt) continue;
    a.phase = std::string(lifecycle::PhaseName(Phase::kFailed));
    a.termination_reason = kReasonJobRejected;
    a.message = text;
    a.completion_time = now;
  }
  if (lifecycle::CheckTransition(ParsedOr(s->phase, Phase::kPending), Phase::kFailed).ok()) {
    s->phase = std::string(lifecycle::PhaseName(Phase::kFailed));
    s->message = text;
  }
  return status;
}

flow::CancelCause CancelCauseOfMessage(absl::string_view message) {
  if (absl::StartsWith(message, kStepCancelPrefix)) return flow::CancelCause::kStep;
  if (absl::StartsWith(message, kFlowCancelPrefix)) return flow::CancelCause::kFlowCanceled;
  if (absl::StartsWith(message, kFlowStopPrefix)) return flow::CancelCause::kFlowStopped;
  return flow::CancelCause::kNone;
}

json JobSpecOfChild(const json& job) {
  if (!job.is_object() || !job.contains("spec") || !job["spec"].is_object()) return json();
  json spec = job["spec"];
  if (!spec.value("manualSelector", false)) {
    spec.erase("selector");
    spec.erase("manualSelector");
  }
  if (spec.contains("template") && spec["template"].is_object() &&
      spec["template"].contains("metadata") && spec["template"]["metadata"].is_object()) {
    json& meta = spec["template"]["metadata"];
    meta.erase("creationTimestamp");
    if (meta.contains("labels") && meta["labels"].is_object()) {
      for (const char* key : {"controller-uid", "job-name", "batch.kubernetes.io/controller-uid",
                              "batch.kubernetes.io/job-name"}) {
        meta["labels"].erase(key);
      }
    }
  }
  return spec;
}

}  // namespace weir::reconcile
