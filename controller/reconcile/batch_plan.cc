#include "reconcile/batch_plan.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "api/conditions.h"
#include "api/jobspec.h"
#include "api/meta.h"
#include "reconcile/attempts.h"
#include "reconcile/children.h"
#include "reconcile/finished.h"

namespace weir::reconcile {
namespace {

using lifecycle::Phase;

constexpr char kReasonInvalidSpec[] = "InvalidSpec";
constexpr char kReasonTemplateNotFound[] = "TemplateNotFound";
constexpr char kReasonInvalidTemplate[] = "InvalidTemplate";
constexpr char kReasonJobRejected[] = "JobRejected";

Phase RecordedPhase(const api::BatchStatus& status) {
  absl::StatusOr<Phase> p = lifecycle::ParsePhase(status.phase);
  return p.ok() ? *p : Phase::kPending;
}

class BatchPlanner {
 public:
  explicit BatchPlanner(const BatchInput& in)
      : in_(in),
        meta_(in.batch.metadata),
        owner_(ChildOwner::Batch(meta_.namespace_name, meta_.name, meta_.uid)),
        status_(in.batch.status),
        phase_(RecordedPhase(in.batch.status)),
        deleting_(meta_.deletion_timestamp.has_value()) {
    for (const nlohmann::json* job : in.jobs) {
      if (IsChildOf(*job, owner_)) jobs_.push_back(job);
    }
    const auto ours = [&](const nlohmann::json* pod) {
      const nlohmann::json& labels = pod->value("metadata", nlohmann::json::object())
                                         .value("labels", nlohmann::json::object());
      return labels.is_object() && labels.value(kLabelBatchUid, "") == meta_.uid;
    };
    for (const nlohmann::json* pod : in.pods) {
      if (ours(pod)) pods_.push_back(pod);
    }
    for (const nlohmann::json* pod : in.deleted_pods) {
      if (ours(pod)) deleted_pods_.push_back(pod);
    }
    cancel_ = deleting_ || (in.batch.spec.ok() && in.batch.spec->cancel);
  }

  BatchPlan Run() {
    if (!deleting_ && !api::HasFinalizer(meta_, kFinalizer)) plan_.add_finalizer = true;
    plan_.release_pods = PodsToRelease(pods_, in_.batch.status.attempts, jobs_);
    const bool finished_before = lifecycle::IsTerminal(phase_);
    if (!finished_before) {
      Progress();
      if (plan_.verify_job.has_value()) return std::move(plan_);
    }
    if (lifecycle::IsTerminal(phase_)) Finished(finished_before);
    status_.phase = std::string(lifecycle::PhaseName(phase_));
    status_.observed_generation = meta_.generation;
    if (!(status_ == in_.batch.status)) {
      plan_.status = status_;
      DeferDeletesUntilRecorded(in_.batch.status.attempts, status_.attempts, plan_.delete_jobs);
    }
    return std::move(plan_);
  }

 private:
  absl::Duration IdleTimeout() const {
    return in_.batch.spec.ok() && in_.batch.spec->idle_timeout.has_value()
               ? *in_.batch.spec->idle_timeout
               : in_.defaults.idle_timeout;
  }

  void Record(Phase from, Phase to) {
    plan_.transitions.emplace_back(from, to);
    AddPhaseEvent(plan_.events, to, std::string(lifecycle::PhaseName(to)), status_.message);
  }

  // The unit as PlanAttempts sees it, but for what the spec decides.
  AttemptsInput UnitInput() const {
    AttemptsInput unit;
    unit.phase = phase_;
    unit.attempts = status_.attempts;
    unit.jobs = jobs_;
    unit.pods = pods_;
    unit.deleted_pods = deleted_pods_;
    unit.jobs_gone = in_.jobs_gone;
    unit.owner = owner_;
    unit.image_pull_grace = in_.defaults.image_pull_grace;
    unit.node_lost_timeout = in_.defaults.node_lost_timeout;
    unit.now = in_.now;
    return unit;
  }

  // Whether an attempt may still run: the last record has not ended, or a
  // Job exists whose attempt has no record (a lost status write).
  bool AttemptUnderWay() const {
    if (!status_.attempts.empty()) {
      const absl::StatusOr<Phase> last = lifecycle::ParsePhase(status_.attempts.back().phase);
      if (!last.ok() || !lifecycle::IsTerminal(*last)) return true;
    }
    const int last = status_.attempts.empty() ? 0 : status_.attempts.back().attempt;
    return std::any_of(jobs_.begin(), jobs_.end(),
                       [&](const nlohmann::json* j) { return AttemptOf(*j).value_or(0) > last; });
  }

  // Ends the Batch Failed with Valid=False. An attempt under way when the
  // spec became invalid (an edit the schema let through, a template deleted)
  // is canceled first through the attempts path, so that its pod ends and
  // its end is recorded (the pod's final-state finalizer waits for that):
  // the Batch then ends Canceled, with the reason InvalidSpec.
  void Invalid(absl::string_view reason, absl::string_view message) {
    api::SetCondition(status_.conditions, api::kConditionValid, api::kConditionFalse, reason,
                      message, meta_.generation, in_.now);
    if (AttemptUnderWay()) {
      AttemptsInput unit = UnitInput();
      unit.cancel = true;
      RunAttempts(unit, std::nullopt);
      if (lifecycle::IsTerminal(phase_) && !cancel_)
        status_.termination_reason = std::string(reason);
      status_.message = absl::StrCat("stopped: the spec is invalid: ", message);
      return;
    }
    if (cancel_) {
      MoveTo(Phase::kCanceled, "Canceled",
             status_.attempts.empty() ? "canceled before any attempt started" : "canceled");
      return;
    }
    MoveTo(Phase::kFailed, reason, message);
    plan_.events.push_back({"Warning", std::string(reason), std::string(message)});
  }

  void MoveTo(Phase to, absl::string_view reason, absl::string_view message) {
    absl::StatusOr<std::vector<Phase>> path = lifecycle::TransitionPath(phase_, to);
    if (!path.ok()) {
      plan_.refused = std::make_pair(phase_, to);
      return;
    }
    status_.termination_reason = std::string(reason);
    status_.message = std::string(message);
    for (Phase p : *path) {
      Record(phase_, p);
      phase_ = p;
    }
  }

  // The JobSpec to run, or why there is none (then the Batch is settled).
  std::optional<nlohmann::json> ResolveJobSpec() {
    const absl::StatusOr<api::BatchSpec>& spec = in_.batch.spec;
    if (!spec.ok()) {
      Invalid(kReasonInvalidSpec, spec.status().message());
      return std::nullopt;
    }
    if (spec->job_spec.has_value()) return *spec->job_spec;
    if (!in_.template_job_spec.has_value()) {
      const std::string message = absl::StrCat("JobTemplate \"", spec->template_name,
                                               "\" not found in namespace ", meta_.namespace_name);
      const absl::Time deadline =
          meta_.creation_timestamp.value_or(in_.now) + in_.defaults.template_wait;
      if (in_.now < deadline && !cancel_ && status_.attempts.empty()) {
        api::SetCondition(status_.conditions, api::kConditionValid, api::kConditionUnknown,
                          kReasonTemplateNotFound, absl::StrCat(message, "; waiting for it"),
                          meta_.generation, in_.now);
        plan_.Wake(deadline);
        return std::nullopt;
      }
      Invalid(kReasonTemplateNotFound, message);
      return std::nullopt;
    }
    const absl::StatusOr<nlohmann::json>& job_spec = *in_.template_job_spec;
    if (!job_spec.ok()) {
      Invalid(kReasonInvalidTemplate, absl::StrCat("JobTemplate \"", spec->template_name,
                                                   "\": ", job_spec.status().message()));
      return std::nullopt;
    }
    absl::Status main =
        api::CheckMainContainer(*job_spec, spec->main_container, "spec.mainContainer");
    if (!main.ok()) {
      Invalid(kReasonInvalidSpec, main.message());
      return std::nullopt;
    }
    return *job_spec;
  }

  void Progress() {
    std::optional<nlohmann::json> job_spec = ResolveJobSpec();
    if (!job_spec.has_value()) return;
    const api::BatchSpec& spec = *in_.batch.spec;
    api::SetCondition(status_.conditions, api::kConditionValid, api::kConditionTrue, "Valid",
                      "the spec is valid", meta_.generation, in_.now);

    AttemptsInput unit = UnitInput();
    unit.retry = ToPolicy(spec.retry);
    unit.main_container = spec.main_container;
    unit.cancel = cancel_;
    unit.image_pull_grace = spec.image_pull_grace.value_or(in_.defaults.image_pull_grace);
    RunAttempts(unit, job_spec);
  }

  // Plans the attempts and applies the plan to the status; `job_spec` builds
  // an attempt's Job (none when only stopping).
  void RunAttempts(const AttemptsInput& unit, const std::optional<nlohmann::json>& job_spec) {
    AttemptsPlan p = PlanAttempts(unit);
    if (p.verify_job.has_value()) {
      plan_.verify_job = p.verify_job;
      return;
    }
    plan_.refused = p.refused;
    status_.attempts = p.attempts;
    status_.termination_reason = p.reason;
    status_.exit_code = p.exit_code;
    status_.message = p.message;
    for (Phase to : p.transitions) {
      Record(phase_, to);
      phase_ = to;
    }
    if (p.create_attempt.has_value() && job_spec.has_value()) {
      plan_.create_job =
          BuildChildJob(owner_, *p.create_attempt, *job_spec, unit.main_container, p.memory);
      status_.attempt = *p.create_attempt;
      status_.job = ChildJobName(owner_, *p.create_attempt);
    } else if (!status_.attempts.empty()) {
      status_.attempt = status_.attempts.back().attempt;
      status_.job = status_.attempts.back().job;
    }
    if (!status_.start_time.has_value()) {
      status_.start_time = status_.attempts.empty() ? std::optional<absl::Time>()
                                                    : status_.attempts.front().start_time;
      if (plan_.create_job.has_value() && !status_.start_time.has_value()) {
        status_.start_time = in_.now;
      }
    }
    plan_.delete_jobs = p.delete_jobs;
    if (p.wake_at.has_value()) plan_.Wake(*p.wake_at);

    const bool running = phase_ == Phase::kRunning;
    std::string waiting = p.reason.empty() ? std::string(lifecycle::PhaseName(phase_)) : p.reason;
    api::SetCondition(status_.conditions, api::kConditionRunning,
                      running ? api::kConditionTrue : api::kConditionFalse,
                      running ? "Running" : waiting, running ? "the attempt's pod runs" : p.message,
                      meta_.generation, in_.now);
  }

  void Finished(bool finished_before) {
    FinishedInput f;
    f.phase = phase_;
    f.noun = "Batch";
    f.finished_before = finished_before;
    f.new_cancel = in_.batch.spec.ok() && in_.batch.spec->cancel &&
                   in_.batch.status.observed_generation < meta_.generation;
    f.deleting = deleting_;
    f.release_now = cancel_;
    f.any_attempt = !status_.attempts.empty();
    f.idle_timeout = IdleTimeout();
    if (in_.batch.spec.ok()) f.ttl_after_finished = in_.batch.spec->ttl_after_finished;
    f.jobs = jobs_;
    f.children = !jobs_.empty() || !pods_.empty();
    f.now = in_.now;
    FinishOwner(f, meta_, status_.termination_reason, status_, plan_);
  }

  const BatchInput& in_;
  const api::ObjectMeta& meta_;
  const ChildOwner owner_;
  api::BatchStatus status_;
  Phase phase_;
  const bool deleting_;
  bool cancel_ = false;
  std::vector<const nlohmann::json*> jobs_;
  std::vector<const nlohmann::json*> pods_;
  std::vector<const nlohmann::json*> deleted_pods_;
  BatchPlan plan_;
};

}  // namespace

BatchPlan PlanBatch(const BatchInput& input) { return BatchPlanner(input).Run(); }

api::BatchStatus StatusAfterCreateRefused(const api::Batch& batch, const api::BatchStatus& planned,
                                          absl::string_view message, absl::Time now) {
  api::BatchStatus status = planned;
  const int64_t generation = batch.metadata.generation;
  const std::string text = absl::StrCat("the API server refused the attempt's Job: ", message);
  api::SetCondition(status.conditions, api::kConditionValid, api::kConditionFalse,
                    kReasonJobRejected, text, generation, now);
  for (api::AttemptStatus& a : status.attempts) {
    const absl::StatusOr<Phase> recorded = lifecycle::ParsePhase(a.phase);
    if (a.attempt != status.attempt || (recorded.ok() && lifecycle::IsTerminal(*recorded))) {
      continue;
    }
    a.phase = std::string(lifecycle::PhaseName(Phase::kFailed));
    a.termination_reason = kReasonJobRejected;
    a.message = text;
    a.completion_time = now;
  }
  Phase phase = RecordedPhase(status);
  if (lifecycle::CheckTransition(phase, Phase::kFailed).ok()) {
    status.phase = std::string(lifecycle::PhaseName(Phase::kFailed));
    status.termination_reason = kReasonJobRejected;
    status.message = text;
    status.completion_time = now;
    api::SetCondition(status.conditions, api::kConditionFinished, api::kConditionTrue, "Failed",
                      text, generation, now);
  }
  status.observed_generation = generation;
  return status;
}

}  // namespace weir::reconcile
