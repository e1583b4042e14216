// The child Jobs weir creates for its owners (docs/design.md §3): one batch/v1 Job
// per attempt of a Batch or of a JobFlow step, with a deterministic name, the
// identity labels on the Job and its pod template, weir's pod finalizer on
// the template, and a controller ownerReference. Lookups match children by owner uid AND step,
// never by name prefix or template alone, so concurrent flows (and a re-created owner of the same
// name) never see each other's Jobs. Pure functions.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "api/quantity.h"
#include "nlohmann/json.hpp"

namespace weir::reconcile {

inline constexpr char kLabelManagedBy[] = "weir.dev/managed-by";
inline constexpr char kLabelBatch[] = "weir.dev/batch";
inline constexpr char kLabelBatchUid[] = "weir.dev/batch-uid";
inline constexpr char kLabelFlow[] = "weir.dev/flow";
inline constexpr char kLabelFlowUid[] = "weir.dev/flow-uid";
inline constexpr char kLabelTemplate[] = "weir.dev/template";
inline constexpr char kLabelStep[] = "weir.dev/step";
inline constexpr char kLabelAttempt[] = "weir.dev/attempt";
inline constexpr char kManagedByValue[] = "weir";
inline constexpr char kFinalizer[] = "weir.dev/cleanup";
// On every pod of a child Job (through its template): the pod object stays,
// with its final state, until weir has recorded how its attempt ended, even
// when it is deleted while no controller runs (found by faults_test: a
// canceled attempt's exit code was lost so). weir removes it once the
// attempt's end is stored (PodsToRelease).
inline constexpr char kPodFinalizer[] = "weir.dev/final-state";
// On every Job: the owner's metadata.generation as read live just before the
// create, so the API server's history alone shows which version of the owner
// authorized each Job (docs/design.md §3; a cancel or delete is a newer generation).
inline constexpr char kAnnotationOwnerGeneration[] = "weir.dev/owner-generation";
inline constexpr char kApiVersion[] = "weir.dev/v1alpha1";

// A pod whose kPodFinalizer may go: its name and the finalizer's index in
// metadata.finalizers (the removal is conditional on it).
struct PodRelease {
  std::string pod;
  int index = 0;
  bool operator==(const PodRelease&) const = default;
};

// Who a child belongs to: a Batch, or one step of a JobFlow.
struct ChildOwner {
  enum class Kind { kBatch, kJobFlow };
  Kind kind = Kind::kBatch;
  std::string name;
  std::string namespace_name;
  std::string uid;
  std::string step;           // JobFlow only
  std::string template_name;  // JobFlow only: the step's JobTemplate

  static ChildOwner Batch(std::string namespace_name, std::string name, std::string uid);
  static ChildOwner FlowStep(std::string namespace_name, std::string name, std::string uid,
                             std::string step, std::string template_name);
};

// `<owner>-<attempt>-<h>` for a Batch, `<owner>-<step>-<attempt>-<h>` for a
// flow step, where <h> is 8 hex digits of a hash of the owner's uid (and the
// step). Owner and step are shortened so the name stays within 63
// characters; the hash keeps truncated names distinct.
std::string ChildJobName(const ChildOwner& owner, int attempt);

// The labels of the Job and its pods.
std::map<std::string, std::string> ChildLabels(const ChildOwner& owner, int attempt);

// A label selector (`k=v,k=v`) matching every child of `owner`, all attempts;
// for a JobFlow owner with an empty step, every child of every step.
std::string ChildSelector(const ChildOwner& owner);

// The main container's memory for an attempt, when weir changes it (after an
// OOM kill with retry.onOOM). Unset fields keep the JobSpec's values.
struct MemoryOverride {
  std::optional<api::Quantity> limit;
  std::optional<api::Quantity> request;
};

// The Job for `attempt` (from 1) of `owner`, from `job_spec` (a batch/v1
// JobSpec). Sets backoffLimit 0 and restartPolicy Never (weir owns retries),
// the labels on the Job and its pod template, the controller ownerReference,
// and `memory` on `main_container` (the first container if empty).
nlohmann::json BuildChildJob(const ChildOwner& owner, int attempt, const nlohmann::json& job_spec,
                             absl::string_view main_container, const MemoryOverride& memory);

// True if `job` is `owner`'s child: its controller ownerReference has the
// owner's uid and its labels name the owner's uid (and step).
bool IsChildOf(const nlohmann::json& job, const ChildOwner& owner);

// The owner (namespace/name key) of a Job or pod weir created, from its
// `owner_label` (kLabelBatch or kLabelFlow) and weir.dev/managed-by labels;
// nullopt for any other object.
std::optional<std::string> OwnerKeyOf(const nlohmann::json& child, absl::string_view owner_label);

// The attempt number in a child's weir.dev/attempt label, if valid.
std::optional<int> AttemptOf(const nlohmann::json& object);

// The name of the main container of a pod spec: `main_container` if set,
// else the first container's name ("" if there is none).
std::string MainContainerName(const nlohmann::json& pod_spec, absl::string_view main_container);

}  // namespace weir::reconcile
