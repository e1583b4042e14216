// Batch (weir.dev/v1alpha1): one unit of batch work, run as one Job per
// attempt (docs/design.md §2, crds/weir.dev_batches.yaml).
//
// Contract:
// - ParseBatch never fails and never throws on any JSON. Metadata and status
//   are read tolerantly (see meta.h, conditions.h, common.h). The spec is
//   validated: everything the CRD schema checks (a stored object may predate
//   the schema), plus exactly one of template/jobSpec, a template name that
//   can be an object name, the JobSpec checks of jobspec.h, mainContainer
//   naming a container of an inline jobSpec (for a template, the reconciler
//   checks it with CheckMainContainer once it has the template), and the
//   retry rules of common.h. A problem makes `spec` InvalidArgument with a
//   message "<field path>: <reason>", e.g.
//     spec.retry.onOOM.maxMemory: "lots" is not a quantity
//   Absent fields take the schema's defaults. Unknown fields are ignored.
// - BatchStatusToJson writes the body of the status subresource's "status",
//   omitting empty strings, zero numbers and unset optionals (omitempty), so
//   parsing it back gives an equal BatchStatus (times at second precision).
//   Because it omits, send it with an update (PUT) of the status, not a
//   merge patch, when a field may have been cleared.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "api/common.h"
#include "api/conditions.h"
#include "api/jobspec.h"
#include "api/meta.h"
#include "nlohmann/json.hpp"

namespace weir::api {

struct BatchSpec {
  std::string template_name;               // spec.template
  std::optional<nlohmann::json> job_spec;  // spec.jobSpec; exactly one of the two is set
  std::string main_container;              // "" = the first container
  RetrySpec retry;
  bool cancel = false;
  std::optional<absl::Duration> idle_timeout;        // idleTimeoutSeconds
  std::optional<absl::Duration> ttl_after_finished;  // ttlSecondsAfterFinished
  std::optional<absl::Duration> image_pull_grace;    // imagePullGraceSeconds

  bool operator==(const BatchSpec&) const = default;
};

struct BatchStatus {
  std::string phase;  // "" when never written
  int64_t observed_generation = 0;
  int32_t attempt = 0;
  std::string job, termination_reason;
  std::optional<int32_t> exit_code;
  std::string message;
  std::optional<absl::Time> start_time, completion_time, resources_released_time;
  std::vector<AttemptStatus> attempts;
  std::vector<Condition> conditions;

  bool operator==(const BatchStatus&) const;
};

struct Batch {
  ObjectMeta metadata;
  absl::StatusOr<BatchSpec> spec;
  BatchStatus status;
};

// Never fails on an object the API server stored: spec carries the validation
// error; status parsing is tolerant.
Batch ParseBatch(const nlohmann::json& object);

// Validates and reads a Batch's `spec` object alone.
absl::StatusOr<BatchSpec> ParseBatchSpec(const nlohmann::json& spec);
// Reads a Batch's `status` object alone (tolerant).
BatchStatus ParseBatchStatus(const nlohmann::json& status);

// The status subresource body's "status".
nlohmann::json BatchStatusToJson(const BatchStatus& status);

}  // namespace weir::api
