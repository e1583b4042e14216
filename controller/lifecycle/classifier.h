// The termination classifier of docs/design.md §4: a pure function from what the
// API server says about one attempt (its Job and pods, as JSON) to the
// attempt's Outcome: phase, terminationReason, exit code, a message for a
// human, and whether a retry may help and counts against retry.limit.
//
// Rules, in the order they apply to a pod:
// 1. Only the main container decides (Observation::main_container, default
//    the pod spec's first container). Sidecars, running or failed, never
//    change the outcome once the main container has ended.
// 2. Main container terminated:
//    reason OOMKilled (any exit code, even 0) -> Killed/OOMKilled with the
//    container, its memory limit and advice; exit 0 -> Succeeded; exit
//    130/137/143 after
//    weir asked to cancel -> Canceled (137: SIGKILL after the grace period);
//    pod disrupted (see 4) -> Killed; pod deleted by someone else (a
//    deletionTimestamp that weir did not ask for, and the container did not
//    end before the delete) -> Killed/PodDeleted, unless the delete came once
//    the Job's activeDeadlineSeconds had run out (status.startTime plus it):
//    then the job controller deleted it -> Failed/DeadlineExceeded, whether or
//    not the Job's own condition is seen yet; otherwise Failed/Error with the
//    exit code.
// 3. Main container not terminated, weir asked to cancel: Canceled if the main
//    container is not running (nothing left to stop), else Running until it
//    stops.
// 4. A non-sidecar init container that failed -> Failed/Error (Killed/OOMKilled
//    if OOM). A disrupted pod -> Killed once the main container is no longer
//    running: condition DisruptionTarget=True (PreemptionByScheduler ->
//    Preempted; DeletionByTaintManager and DeletionByPodGC -> NodeLost, as the
//    taints that evict are almost always a node gone NotReady/unreachable;
//    TerminationByKubelet, EvictionByEvictionAPI and others -> Evicted), or
//    pod status.reason Evicted/Terminated/Shutdown (Evicted), Preempting
//    (Preempted), NodeLost (NodeLost).
// 5. Pod phase Failed for another reason: status.reason DeadlineExceeded
//    (the pod's activeDeadlineSeconds) -> Failed/DeadlineExceeded, not
//    retryable; otherwise Failed with the pod's reason (e.g. OutOfcpu when the
//    kubelet rejects the pod) or Error, retryable within the limit.
// 6. Pod deleted by someone else while its main container runs: Running until
//    it stops; if it still has not stopped node_lost_timeout after its
//    deletionTimestamp, the node is not answering -> Killed/NodeLost.
// 7. Pod phase Unknown -> Unknown; once it has lasted node_lost_timeout
//    (measured from the pod's latest condition change) -> Killed/NodeLost.
// 8. Main or init container waiting with ErrImagePull, ImagePullBackOff,
//    InvalidImageName, ErrImageNeverPull, CreateContainerConfigError or
//    CreateContainerError: Pending (reason and kubelet message reported) until
//    image_pull_grace has passed since the wait began (Observation::
//    waiting_since: when weir first saw it), then Failed with that reason, not
//    retryable. Not from the pod's startTime: a pod whose init containers ran
//    for longer than the grace would fail at its first pull error. The clock
//    stops when the error clears (a missing ConfigMap created, a transient
//    CreateContainerError gone), so a later error gets a grace of its own.
// 9. Main container running -> Running. Condition PodScheduled=False with
//    reason Unschedulable -> Pending, reason Unschedulable, the scheduler's
//    message. Otherwise Pending.
//
// Several pods (rare with backoffLimit 0): the first terminal outcome in
// creation order decides; if none is terminal, the newest pod's.
// The Job: condition Failed (or FailureTarget) with reason DeadlineExceeded
// -> Failed/DeadlineExceeded, not retryable, unless the main container had
// already succeeded. A Job that ended by its pod (Complete, or Failed not by
// its deadline) less than kPodCatchUp ago while no pod has ended: the pods'
// cache may lag the Jobs' and the pod has the exit code, so the pod's outcome
// (Pending with no pod) stands, to be looked at again then. After that, a
// Job Complete -> Succeeded. With no pods: canceled -> Canceled; Job failed or deleted by
// someone else -> Killed/PodDeleted (the pod is gone before weir saw how it
// ended); otherwise Pending.
//
// Classify never fails and never throws: fields of the wrong type read as
// absent. Call it only for attempts that have not ended yet; an ended
// attempt's record is final.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "api/quantity.h"
#include "lifecycle/phase.h"
#include "nlohmann/json.hpp"

namespace weir::lifecycle {

// How long a Job that ended may show no pod before weir concludes from the
// Job alone (see Classify).
inline constexpr absl::Duration kPodCatchUp = absl::Seconds(30);

// terminationReason values (and, for Pending outcomes, the waiting reason).
namespace reason {
inline constexpr char kOOMKilled[] = "OOMKilled";
inline constexpr char kEvicted[] = "Evicted";
inline constexpr char kPreempted[] = "Preempted";
inline constexpr char kPodDeleted[] = "PodDeleted";
inline constexpr char kNodeLost[] = "NodeLost";
inline constexpr char kError[] = "Error";
inline constexpr char kDeadlineExceeded[] = "DeadlineExceeded";
inline constexpr char kCanceled[] = "Canceled";
inline constexpr char kErrImagePull[] = "ErrImagePull";
inline constexpr char kImagePullBackOff[] = "ImagePullBackOff";
inline constexpr char kInvalidImageName[] = "InvalidImageName";
inline constexpr char kErrImageNeverPull[] = "ErrImageNeverPull";
inline constexpr char kCreateContainerConfigError[] = "CreateContainerConfigError";
inline constexpr char kCreateContainerError[] = "CreateContainerError";
inline constexpr char kUnschedulable[] = "Unschedulable";
// The pod has no container of the name given as the main container.
inline constexpr char kMainContainerNotFound[] = "MainContainerNotFound";
}  // namespace reason

// True for the reasons of disruptions that are not the workload's fault:
// Evicted, Preempted, NodeLost, PodDeleted.
bool IsDisruption(absl::string_view termination_reason);

// What Classify says about retrying an ended outcome of `phase` and
// `termination_reason`: the flags to give an Outcome rebuilt from a stored
// attempt record. Failed/Killed by a disruption: retryable, not counted;
// by DeadlineExceeded, an image-pull/config error or MainContainerNotFound:
// neither; by anything else (Error, OOMKilled, a kubelet rejection): both.
// Other phases: neither.
struct RetryTraits {
  bool retryable = false;
  bool counts_against_limit = false;
};
RetryTraits RetryTraitsOf(Phase phase, absl::string_view termination_reason);

struct Observation {
  // The attempt's Job object as the API server returns it (metadata, status);
  // null if it does not exist (yet, or any more).
  nlohmann::json job;
  // The Job's pods (full objects: metadata, spec, status), in any order.
  std::vector<nlohmann::json> pods;
  // The container whose termination decides; empty: the first container of
  // the pod spec.
  std::string main_container;
  // weir asked this attempt to stop (spec.cancel, or the owner is deleted).
  bool cancel_requested = false;
  // How long image-pull / container-config errors may last before the
  // attempt fails.
  absl::Duration image_pull_grace = absl::Minutes(5);
  // When this attempt was first seen waiting on such an error (the previous
  // Outcome::waiting_since, as recorded); unset: not before, the wait begins
  // now.
  std::optional<absl::Time> waiting_since;
  // How long a pod may stay Unknown (or stuck terminating) before it is
  // declared lost with its node.
  absl::Duration node_lost_timeout = absl::Minutes(5);
  absl::Time now = absl::UnixEpoch();
};

// The message of an attempt from its Job's creation until its main container
// runs (or a waiting reason such as Unschedulable appears): each new message
// is a status write, and "Job created", "pod created", "pod scheduled" tell
// the user nothing the attempt record and the pod do not. The planner writes
// it with the attempt's record, so the first look at the new Job writes
// nothing.
inline constexpr char kStartingMessage[] = "the attempt's pod is starting";

struct Outcome {
  // Pending, Running, Unknown (still going) or Succeeded, Failed, Killed,
  // Canceled (ended).
  Phase phase = Phase::kPending;
  // terminationReason (see `reason`); empty for Succeeded and for a plain
  // Pending/Running. For Pending it may say why the pod waits.
  std::string reason;
  std::optional<int> exit_code;
  // One or two sentences for a human: what happened and what to do.
  std::string message;
  // A new attempt may help (the retry policy decides whether one is made).
  bool retryable = false;
  // The attempt uses up one of retry.limit's extra attempts.
  bool counts_against_limit = false;

  // The pod and container whose state decided, when there is one.
  std::string pod;
  std::string container;
  // That container's resources.limits.memory / requests.memory in the pod
  // spec (the retry policy raises them after an OOM kill).
  std::optional<api::Quantity> memory_limit;
  std::optional<api::Quantity> memory_request;
  // That container's startedAt / finishedAt, if it ran.
  std::optional<absl::Time> started_at;
  std::optional<absl::Time> finished_at;
  // For an outcome decided by an image-pull / container-config error (rule
  // 8): when the wait began, to be given back as Observation::waiting_since.
  std::optional<absl::Time> waiting_since;
  // The outcome may change at this time without any event: look again then.
  std::optional<absl::Time> look_again_at;

  bool ended() const { return IsTerminal(phase); }
};

Outcome Classify(const Observation& observation);

}  // namespace weir::lifecycle
