// PlanFlow is the JobFlow scheduler: a pure function from the flow's graph,
// the current state of each step and the flow's options to what the
// reconciler must do next and what phase the flow is in (docs/design.md §1
// problem 3, §2, §4). It reads no clock and does no I/O; calling it again on
// the same input gives the same answer, so a reconciler restarted at any
// point converges by calling it again.
//
// Decisions, applied by the reconciler:
//   start   create the first attempt of these steps now, in this order.
//   skip    these not-started steps end Skipped (Pending -> Skipped), with a
//           message saying why.
//   cancel  a not-started step goes straight to Canceled; a started one goes
//           to Canceling and its Job is stopped. Each carries the CancelCause,
//           which the reconciler records (as the step's terminationReason,
//           see CancelReason()) and hands back in StepState::canceled_by.
//
// The rules, evaluated for each step in topological order on the projected
// state (the state after this call's skip and cancel decisions), so that
// skipping and cancelling propagate through the whole graph in one call:
//
// * A step has not started when its phase is Pending and no Job was created
//   for it (StepState::started is false). Any other phase means started.
//   Active steps (started, not terminal: Pending-with-a-Job, Running,
//   Retrying, Canceling, Unknown) count against parallelism.
// * Terminal step phases are Succeeded, Failed, Killed, Canceled and Skipped.
//   A step failed when it ended Failed or Killed: only then have its retries
//   run out (Retrying is not a failure).
// * A dependency holds when the dependency is terminal and
//     Succeeded  it ended Succeeded;
//     Failed     it ended Failed or Killed;
//     Completed  it ended in any terminal phase, Skipped included (a
//                "finally" step runs even when what it follows never ran);
//     Canceled   it ended Canceled, whatever the cause.
//   A step is ready when all its dependencies hold. A dependency that is
//   terminal and does not hold can never hold: the step is skipped with the
//   message "dependency <name> ended <phase>, needs <condition>", and its own
//   dependents are judged on that Skipped in the same call.
// * Flow cancel (spec.cancel): every not-started step is canceled, every
//   active step not already Canceling is canceled, nothing starts. Cause
//   kFlowCanceled.
// * Step cancel (spec.steps[].cancel): the step is canceled if it is not
//   terminal (cancelling a finished step changes nothing). Cause kStep. Its
//   dependents then follow their conditions: skipped unless they accept
//   Canceled (or Completed); independent branches are untouched.
// * onStepFailure StopFlow: once any step failed, every step that is not a
//   handler (Step::handler: it has a dependency whose condition is not
//   Succeeded) is stopped: not-started ones are skipped ("flow stopped: step
//   <name> failed"), active ones are canceled with cause kFlowStopped.
//   Handlers are not stopped: they follow their conditions, so a cleanup
//   step that depends on the failed step with condition Failed (or
//   Completed), or on a stopped step with Canceled, still runs. This is a
//   deliberate refinement of "start nothing once stopping": without it a
//   cleanup step could never run under the default policy.
// * onStepFailure ContinueOthers: a failure affects only the steps whose
//   conditions it breaks.
// * Suspend: nothing starts; skip and cancel decisions are still made and
//   active steps run on.
// * Parallelism n > 0: at most n steps are active after the starts, counting
//   steps being canceled (their pods still run until they stop). Ready steps
//   beyond that wait, earliest in topological order first.
//
// The flow's phase, from the projected state (steps in `start` count as
// active):
//   Canceling/Canceled  spec.cancel stopped at least one step (some step
//                       has cause kFlowCanceled): Canceling while any step
//                       is active, then Canceled, even if a step had failed
//                       before (the message says so). A cancel that arrives
//                       when every step is already terminal stops nothing
//                       and leaves the outcome below.
//   Running             some step is active; or the flow is suspended after
//                       it has made progress.
//   Pending             nothing started and nothing starts (suspended).
//   Failed              all steps terminal and some step failed; the
//                       message names the first failed step (spec order),
//                       its phase, reason and message.
//   Succeeded           all steps terminal and none failed. Steps canceled
//                       through spec.steps[].cancel, steps canceled because
//                       the flow stopped, and Skipped steps never fail the
//                       flow by themselves (a flow stopped by StopFlow is
//                       Failed because of the step that failed).
// The phase is where the flow stands, not a checked transition: the
// reconciler moves the flow there through lifecycle::TransitionPath (e.g. a
// suspended Running flow that is canceled goes Running -> Canceling ->
// Canceled; a flow whose every step was canceled before it started goes
// Pending -> Running -> Succeeded).
//
// Cost: O(V + E) per call, no allocation beyond the result and a few
// vectors of size V.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "flow/dag.h"
#include "lifecycle/phase.h"

namespace weir::flow {

// Step and flow phases are the lifecycle's (docs/design.md §4).
using Phase = lifecycle::Phase;

enum class OnStepFailure { kStopFlow, kContinueOthers };

// The API spelling: "StopFlow" or "ContinueOthers".
absl::string_view OnStepFailureName(OnStepFailure p);
// "" is the default, StopFlow; unknown spellings are std::nullopt.
std::optional<OnStepFailure> ParseOnStepFailure(absl::string_view s);

struct FlowOptions {
  OnStepFailure on_step_failure = OnStepFailure::kStopFlow;
  int parallelism = 0;  // 0 = unlimited; negative values are treated as 0
  bool suspend = false;
  bool cancel = false;  // spec.cancel
};

// Why a step was (or is being) canceled.
enum class CancelCause {
  kNone,          // not canceled, or the cause was not recorded
  kStep,          // spec.steps[].cancel: the user canceled this step
  kFlowCanceled,  // spec.cancel: the user canceled the whole flow
  kFlowStopped,   // onStepFailure StopFlow after another step failed
};

// The CamelCase reason to record for a canceled step: "StepCanceled",
// "FlowCanceled", "FlowStopped" ("" for kNone).
absl::string_view CancelReason(CancelCause c);
// The inverse of CancelReason(); anything else is kNone.
CancelCause ParseCancelReason(absl::string_view reason);
// The message of a step canceled by the user: "canceled on request
// (spec.steps[].cancel)" (kStep), "flow canceled (spec.cancel)"
// (kFlowCanceled); "canceled" otherwise (kFlowStopped names the failed step
// and is PlanFlow's alone).
absl::string_view UserCancelMessage(CancelCause c);

// What the reconciler knows about one step, from the flow's spec and status.
struct StepState {
  Phase phase = Phase::kPending;
  // A Job was created for this step (its status lists an attempt). Only read
  // when phase is Pending.
  bool started = false;
  // spec.steps[].cancel.
  bool cancel = false;
  // Recorded when the step was canceled; kNone if not canceled or not
  // recorded, in which case the cause is inferred from the spec (step cancel,
  // then flow cancel, then StopFlow).
  CancelCause canceled_by = CancelCause::kNone;
  // Of the last attempt, for the flow's message when the step failed
  // (e.g. "OOMKilled", "container main ... exceeded its memory limit 1Gi").
  std::string reason;
  std::string message;
};

struct SkipDecision {
  StepIndex step;
  std::string message;
};

struct CancelDecision {
  StepIndex step;
  CancelCause cause;
  bool started;  // false: record Canceled directly; true: go Canceling, stop the Job
  std::string message;
};

// Step counts of the projected state, for status and printer columns.
struct StepCounts {
  int total = 0;
  int not_started = 0;  // Pending, no Job yet, not starting in this plan
  int active = 0;       // including steps in Plan::start
  int succeeded = 0;
  int failed = 0;  // Failed or Killed
  int canceled = 0;
  int skipped = 0;
  int done() const { return succeeded + failed + canceled + skipped; }
};

// Reasons for the flow's phase.
inline constexpr absl::string_view kFlowReasonSuspended = "Suspended";
inline constexpr absl::string_view kFlowReasonRunning = "StepsRunning";
inline constexpr absl::string_view kFlowReasonStopping = "Stopping";
inline constexpr absl::string_view kFlowReasonCanceled = "FlowCanceled";
inline constexpr absl::string_view kFlowReasonStepFailed = "StepFailed";
inline constexpr absl::string_view kFlowReasonSucceeded = "StepsSucceeded";

struct Plan {
  std::vector<StepIndex> start;
  std::vector<SkipDecision> skip;
  std::vector<CancelDecision> cancel;

  // One of Pending, Running, Canceling, Succeeded, Failed, Canceled.
  Phase phase = Phase::kPending;
  std::string reason;   // CamelCase, one of the kFlowReason* constants
  std::string message;  // for people, e.g. "step transform ended Failed (Error): exit code 1"
  StepCounts counts;
  // Ready steps not started by this plan: held by suspend, or beyond the
  // parallelism limit. Earliest in topological order first.
  std::vector<StepIndex> waiting;
};

// Decides the next actions for a flow. `steps[i]` is the state of
// dag.step(i). Fails only if `steps` has the wrong size.
absl::StatusOr<Plan> PlanFlow(const Dag& dag, absl::Span<const StepState> steps,
                              const FlowOptions& options);

namespace internal {

// Whether a dependency that ended in terminal phase `p` satisfies `c`.
bool ConditionHolds(Condition c, Phase p);

}  // namespace internal
}  // namespace weir::flow
