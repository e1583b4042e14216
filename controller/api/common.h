// Types shared by Batch and JobFlow (docs/design.md §2): the retry policy of a
// Batch or a flow step (spec.retry), and the record of one attempt
// (status.attempts[], status.steps[].attempts[]).
//
// Contract:
// - ParseRetrySpec validates like the CRD schema does, and then some: limit
//   in 0..100, backoffSeconds in 0..3600, onReasons a set (at most 16) of
//   known reasons, onOOM.memoryFactor a finite number > 1 (default 2),
//   onOOM.maxMemory required, a positive quantity (string or integer). Errors
//   are InvalidArgument naming the field. Absent fields take the schema's
//   defaults.
// - AttemptStatus conversion follows the status contract of every weir kind:
//   writing omits empty strings and unset optionals (an exit code of 0 is
//   written: it is set); reading is tolerant.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "api/quantity.h"
#include "nlohmann/json.hpp"

namespace weir::api {

// The values allowed in retry.onReasons.
inline constexpr absl::string_view kRetryReasons[] = {"OOMKilled", "Error",    "Evicted",
                                                      "Preempted", "NodeLost", "PodDeleted"};

// retry.onOOM
struct OnOOM {
  double memory_factor = 2.0;  // > 1
  Quantity max_memory;         // > 0

  bool operator==(const OnOOM&) const = default;
};

// spec.retry of a Batch, spec.steps[].retry of a JobFlow.
struct RetrySpec {
  int32_t limit = 0;             // 0..100
  int32_t backoff_seconds = 10;  // 0..3600
  std::optional<OnOOM> on_oom;
  std::vector<std::string> on_reasons;  // distinct values of kRetryReasons

  bool operator==(const RetrySpec&) const = default;
};

// Validates and reads the retry object `value` found at `path` (e.g.
// "spec.retry"). A null `value` is the default RetrySpec.
absl::StatusOr<RetrySpec> ParseRetrySpec(const nlohmann::json& value, absl::string_view path);

// One attempt: one Job.
struct AttemptStatus {
  int32_t attempt = 0;  // from 1
  std::string job, phase, termination_reason;
  std::optional<int32_t> exit_code;
  std::string message, memory_limit;
  std::optional<absl::Time> start_time, completion_time;
  // When weir first saw the attempt wait on an image-pull or container-config
  // error; the image-pull grace counts from it. Cleared when the wait ends.
  std::optional<absl::Time> waiting_since;

  bool operator==(const AttemptStatus&) const = default;
};

nlohmann::json AttemptStatusToJson(const AttemptStatus& attempt);
// Reads an `attempts` array; entries that are not objects are dropped.
std::vector<AttemptStatus> ParseAttemptStatuses(const nlohmann::json& array);

}  // namespace weir::api
