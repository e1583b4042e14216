// JobFlow (weir.dev/v1alpha1): a DAG of steps, each run as one Job per
// attempt stamped from a JobTemplate (docs/design.md §2,
// crds/weir.dev_jobflows.yaml).
//
// Contract:
// - ParseJobFlow never fails and never throws on any JSON. Metadata and status
//   are read tolerantly. The spec is validated field by field: everything the
//   CRD schema checks (1 to 300 steps; step names DNS-1123 labels; template
//   names 1-253 characters, and valid object names; patch an object; at most
//   32 dependsOn, each with a step name of at most 63 characters and a
//   condition from Succeeded, Failed, Completed, Canceled; retry as in
//   common.h; onStepFailure StopFlow|ContinueOthers; parallelism >= 0;
//   jobRetainPolicy Retain|Delete; seconds fields >= 0; booleans). A problem
//   makes `spec` InvalidArgument with a message "<field path>: <reason>",
//   e.g. "spec.steps[1].dependsOn[0].condition: unsupported value ...".
//   Absent fields take the schema's defaults.
// - The graph is NOT checked here: duplicate step names, unknown or repeated
//   dependencies, self-dependencies and cycles are flow::Dag::Build's job
//   (flow/dag.h); the reconciler runs both.
// - JobFlowStatusToJson writes the status subresource body's "status",
//   omitting empty strings, zero numbers and unset optionals; each step
//   always has its name, each attempt its number. Parsing it back gives an
//   equal JobFlowStatus (times at second precision).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "api/common.h"
#include "api/conditions.h"
#include "api/meta.h"
#include "nlohmann/json.hpp"

namespace weir::api {

// spec.steps[].dependsOn[]
struct DependsOn {
  std::string step;
  std::string condition = "Succeeded";  // Succeeded | Failed | Completed | Canceled

  bool operator==(const DependsOn&) const = default;
};

// spec.steps[]
struct FlowStep {
  std::string name, template_name;
  std::optional<nlohmann::json> patch;  // an object when set
  std::vector<DependsOn> depends_on;
  RetrySpec retry;
  bool cancel = false;

  bool operator==(const FlowStep&) const = default;
};

struct JobFlowSpec {
  std::vector<FlowStep> steps;
  std::string on_step_failure = "StopFlow";  // StopFlow | ContinueOthers
  int32_t parallelism = 0;                   // 0 = unlimited
  bool suspend = false, cancel = false;
  std::string job_retain_policy = "Retain";          // Retain | Delete
  std::optional<absl::Duration> idle_timeout;        // idleTimeoutSeconds
  std::optional<absl::Duration> ttl_after_finished;  // ttlSecondsAfterFinished

  bool operator==(const JobFlowSpec&) const = default;
};

// status.steps[]
struct StepStatus {
  std::string name, template_name, template_resource_version, phase, message;
  std::vector<AttemptStatus> attempts;

  bool operator==(const StepStatus&) const = default;
};

struct JobFlowStatus {
  std::string phase;  // "" when never written
  int64_t observed_generation = 0;
  std::string progress, message;  // progress: finished/total, e.g. "3/5"
  std::optional<absl::Time> start_time, completion_time;
  std::vector<StepStatus> steps;
  std::vector<Condition> conditions;

  bool operator==(const JobFlowStatus&) const;
};

struct JobFlow {
  ObjectMeta metadata;
  absl::StatusOr<JobFlowSpec> spec;
  JobFlowStatus status;
};

JobFlow ParseJobFlow(const nlohmann::json& object);

// Validates and reads a JobFlow's `spec` object alone.
absl::StatusOr<JobFlowSpec> ParseJobFlowSpec(const nlohmann::json& spec);
// Reads a JobFlow's `status` object alone (tolerant: steps without a name,
// and repeats of a name, are dropped).
JobFlowStatus ParseJobFlowStatus(const nlohmann::json& status);

// The status subresource body's "status".
nlohmann::json JobFlowStatusToJson(const JobFlowStatus& status);

// The status of step `name`, or nullptr.
const StepStatus* FindStepStatus(const JobFlowStatus& status, absl::string_view name);
StepStatus* FindStepStatus(JobFlowStatus& status, absl::string_view name);

}  // namespace weir::api
