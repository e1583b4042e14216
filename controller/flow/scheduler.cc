#include "flow/scheduler.h"

#include <algorithm>
#include <cstddef>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace weir::flow {
namespace {

bool IsActive(Phase p, bool started) {
  if (lifecycle::IsTerminal(p)) return false;
  return p != Phase::kPending || started;
}

bool IsFailure(Phase p) { return p == Phase::kFailed || p == Phase::kKilled; }

// The cause of a cancellation, recorded or else inferred from the spec.
CancelCause EffectiveCause(const StepState& s, const FlowOptions& options, bool stopping) {
  if (s.canceled_by != CancelCause::kNone) return s.canceled_by;
  if (s.cancel) return CancelCause::kStep;
  if (options.cancel) return CancelCause::kFlowCanceled;
  if (stopping) return CancelCause::kFlowStopped;
  return CancelCause::kNone;
}

// "step transform ended Failed (Error): exit code 1"
std::string DescribeFailure(const Dag& dag, StepIndex i, const StepState& s) {
  std::string out =
      absl::StrCat("step ", dag.step(i).name, " ended ", lifecycle::PhaseName(s.phase));
  if (!s.reason.empty()) absl::StrAppend(&out, " (", s.reason, ")");
  if (!s.message.empty()) absl::StrAppend(&out, ": ", s.message);
  return out;
}

// The first failed step's description, plus the names of the others.
std::string DescribeFailures(const Dag& dag, absl::Span<const StepState> steps,
                             const std::vector<StepIndex>& failed) {
  constexpr std::size_t kMaxNamed = 5;
  std::string out = DescribeFailure(dag, failed.front(), steps[failed.front()]);
  if (failed.size() > 1) {
    std::vector<absl::string_view> names;
    for (std::size_t k = 1; k < failed.size() && names.size() < kMaxNamed; ++k) {
      names.push_back(dag.step(failed[k]).name);
    }
    absl::StrAppend(&out, "; ", failed.size() - 1, " more failed: ", absl::StrJoin(names, ", "),
                    failed.size() - 1 > kMaxNamed ? ", ..." : "");
  }
  return out;
}

std::string StopMessage(const Dag& dag, StepIndex failed) {
  return absl::StrCat("flow stopped: step ", dag.step(failed).name, " failed");
}

// "8 succeeded, 1 canceled, 1 skipped" (zero counts other than succeeded
// left out).
std::string DescribeOutcomes(const StepCounts& c) {
  std::string out = absl::StrCat(c.succeeded, " succeeded");
  if (c.failed > 0) absl::StrAppend(&out, ", ", c.failed, " failed");
  if (c.canceled > 0) absl::StrAppend(&out, ", ", c.canceled, " canceled");
  if (c.skipped > 0) absl::StrAppend(&out, ", ", c.skipped, " skipped");
  return out;
}

}  // namespace

absl::string_view OnStepFailureName(OnStepFailure p) {
  switch (p) {
    case OnStepFailure::kStopFlow:
      return "StopFlow";
    case OnStepFailure::kContinueOthers:
      return "ContinueOthers";
  }
  return "StopFlow";
}

std::optional<OnStepFailure> ParseOnStepFailure(absl::string_view s) {
  if (s.empty() || s == "StopFlow") return OnStepFailure::kStopFlow;
  if (s == "ContinueOthers") return OnStepFailure::kContinueOthers;
  return std::nullopt;
}

absl::string_view CancelReason(CancelCause c) {
  switch (c) {
    case CancelCause::kNone:
      return "";
    case CancelCause::kStep:
      return "StepCanceled";
    case CancelCause::kFlowCanceled:
      return "FlowCanceled";
    case CancelCause::kFlowStopped:
      return "FlowStopped";
  }
  return "";
}

absl::string_view UserCancelMessage(CancelCause c) {
  switch (c) {
    case CancelCause::kStep:
      return "canceled on request (spec.steps[].cancel)";
    case CancelCause::kFlowCanceled:
      return "flow canceled (spec.cancel)";
    case CancelCause::kFlowStopped:
    case CancelCause::kNone:
      break;
  }
  return "canceled";
}

CancelCause ParseCancelReason(absl::string_view reason) {
  for (CancelCause c :
       {CancelCause::kStep, CancelCause::kFlowCanceled, CancelCause::kFlowStopped}) {
    if (reason == CancelReason(c)) return c;
  }
  return CancelCause::kNone;
}

absl::StatusOr<Plan> PlanFlow(const Dag& dag, absl::Span<const StepState> steps,
                              const FlowOptions& options) {
  const std::size_t n = dag.size();
  if (steps.size() != n) {
    return absl::InvalidArgumentError(
        absl::StrCat("PlanFlow: ", steps.size(), " step states for a flow of ", n, " steps"));
  }

  std::vector<StepIndex> failed;  // spec order
  for (std::size_t i = 0; i < n; ++i) {
    if (IsFailure(steps[i].phase)) failed.push_back(static_cast<StepIndex>(i));
  }
  const bool stopping = options.on_step_failure == OnStepFailure::kStopFlow && !failed.empty();

  Plan plan;
  // The projected state: each step's phase and cancel cause once this plan's
  // skip and cancel decisions are applied.
  std::vector<Phase> phase(n);
  std::vector<CancelCause> cause(n, CancelCause::kNone);
  std::vector<StepIndex> ready;

  auto cancel_message = [&](CancelCause c) -> std::string {
    if (c == CancelCause::kFlowStopped) return StopMessage(dag, failed.front());
    return std::string(UserCancelMessage(c));
  };

  for (StepIndex i : dag.topological_order()) {
    const StepState& s = steps[i];
    const Step& step = dag.step(i);
    phase[i] = s.phase;

    if (lifecycle::IsTerminal(s.phase)) {
      if (s.phase == Phase::kCanceled) cause[i] = EffectiveCause(s, options, stopping);
      continue;
    }

    if (IsActive(s.phase, s.started)) {
      if (s.phase == Phase::kCanceling) {
        cause[i] = EffectiveCause(s, options, stopping);
        continue;
      }
      CancelCause c = CancelCause::kNone;
      if (options.cancel) {
        c = CancelCause::kFlowCanceled;
      } else if (s.cancel) {
        c = CancelCause::kStep;
      } else if (stopping && !step.handler) {
        c = CancelCause::kFlowStopped;
      }
      if (c != CancelCause::kNone) {
        plan.cancel.push_back(CancelDecision{i, c, /*started=*/true, cancel_message(c)});
        phase[i] = Phase::kCanceling;
        cause[i] = c;
      }
      continue;
    }

    // Not started.
    if (options.cancel || s.cancel) {
      CancelCause c = options.cancel ? CancelCause::kFlowCanceled : CancelCause::kStep;
      plan.cancel.push_back(CancelDecision{i, c, /*started=*/false, cancel_message(c)});
      phase[i] = Phase::kCanceled;
      cause[i] = c;
      continue;
    }
    bool all_hold = true;
    const Dependency* broken = nullptr;
    for (const Dependency& d : step.depends_on) {
      Phase dp = phase[d.step];
      if (!lifecycle::IsTerminal(dp)) {
        all_hold = false;
      } else if (!internal::ConditionHolds(d.condition, dp)) {
        broken = &d;
        break;
      }
    }
    if (broken != nullptr) {
      plan.skip.push_back(
          SkipDecision{i, absl::StrCat("dependency ", dag.step(broken->step).name, " ended ",
                                       lifecycle::PhaseName(phase[broken->step]), ", needs ",
                                       ConditionName(broken->condition))});
      phase[i] = Phase::kSkipped;
      continue;
    }
    if (stopping && !step.handler) {
      plan.skip.push_back(SkipDecision{i, StopMessage(dag, failed.front())});
      phase[i] = Phase::kSkipped;
      continue;
    }
    if (all_hold) ready.push_back(i);
  }

  // Starts.
  int active = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (IsActive(phase[i], steps[i].started)) ++active;
  }
  // (Under flow cancel every not-started step was canceled: none is ready.)
  std::size_t take = 0;
  if (!options.suspend) {
    take = ready.size();
    if (options.parallelism > 0) {
      take = std::min(take, static_cast<std::size_t>(std::max(0, options.parallelism - active)));
    }
  }
  plan.start.assign(ready.begin(), ready.begin() + static_cast<std::ptrdiff_t>(take));
  plan.waiting.assign(ready.begin() + static_cast<std::ptrdiff_t>(take), ready.end());
  active += static_cast<int>(take);
  const std::size_t waiting_for_slot = options.suspend ? 0 : plan.waiting.size();

  // Counts of the projected state.
  StepCounts& c = plan.counts;
  c.total = static_cast<int>(n);
  c.active = active;
  bool flow_canceled = false;
  for (std::size_t i = 0; i < n; ++i) {
    switch (phase[i]) {
      case Phase::kSucceeded:
        ++c.succeeded;
        break;
      case Phase::kFailed:
      case Phase::kKilled:
        ++c.failed;
        break;
      case Phase::kCanceled:
        ++c.canceled;
        break;
      case Phase::kSkipped:
        ++c.skipped;
        break;
      default:
        break;
    }
    if ((phase[i] == Phase::kCanceled || phase[i] == Phase::kCanceling) &&
        cause[i] == CancelCause::kFlowCanceled) {
      flow_canceled = true;
    }
  }
  c.not_started = c.total - c.active - c.done();

  // The flow's phase.
  const std::string failures = failed.empty() ? "" : DescribeFailures(dag, steps, failed);
  if (flow_canceled) {
    plan.phase = c.active > 0 ? Phase::kCanceling : Phase::kCanceled;
    plan.reason = std::string(kFlowReasonCanceled);
    plan.message = c.active > 0 ? absl::StrCat("flow canceled: waiting for ", c.active,
                                               " running steps to stop")
                                : absl::StrCat("flow canceled: ", DescribeOutcomes(c));
    if (!failed.empty()) absl::StrAppend(&plan.message, "; before the cancel ", failures);
  } else if (c.active > 0) {
    plan.phase = Phase::kRunning;
    plan.message = absl::StrCat(c.done(), "/", c.total, " steps done, ", c.active, " running");
    if (waiting_for_slot > 0) {
      absl::StrAppend(&plan.message, ", ", waiting_for_slot, " waiting for parallelism ",
                      options.parallelism);
    }
    if (stopping) {
      plan.reason = std::string(kFlowReasonStopping);
      absl::StrAppend(&plan.message, "; stopping: ", failures);
    } else if (options.suspend) {
      plan.reason = std::string(kFlowReasonSuspended);
      absl::StrAppend(&plan.message, "; suspended: no new step starts");
      if (!failed.empty()) absl::StrAppend(&plan.message, "; ", failures);
    } else {
      plan.reason = std::string(kFlowReasonRunning);
      if (!failed.empty()) absl::StrAppend(&plan.message, "; ", failures);
    }
  } else if (c.done() == c.total) {
    if (!failed.empty()) {
      plan.phase = Phase::kFailed;
      plan.reason = std::string(kFlowReasonStepFailed);
      plan.message = failures;
    } else {
      plan.phase = Phase::kSucceeded;
      plan.reason = std::string(kFlowReasonSucceeded);
      plan.message = absl::StrCat("all ", c.total, " steps done: ", DescribeOutcomes(c));
    }
  } else {
    // Steps wait and none runs: only suspend holds a flow here.
    plan.phase = c.done() > 0 ? Phase::kRunning : Phase::kPending;
    plan.reason = std::string(kFlowReasonSuspended);
    plan.message = absl::StrCat("suspended: ", c.not_started, " steps waiting, ", c.done(), "/",
                                c.total, " steps done");
    if (!failed.empty()) absl::StrAppend(&plan.message, "; ", failures);
  }
  return plan;
}

namespace internal {

bool ConditionHolds(Condition c, Phase p) {
  if (!lifecycle::IsTerminal(p)) return false;
  switch (c) {
    case Condition::kSucceeded:
      return p == Phase::kSucceeded;
    case Condition::kFailed:
      return IsFailure(p);
    case Condition::kCompleted:
      return true;
    case Condition::kCanceled:
      return p == Phase::kCanceled;
  }
  return false;
}

}  // namespace internal
}  // namespace weir::flow
