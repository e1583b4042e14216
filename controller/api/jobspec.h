// The batch/v1 JobSpec embedded in a Batch (spec.jobSpec) or a JobTemplate
// (spec.jobSpec): the checks weir makes before stamping Jobs from it, and the
// merge of a JobFlow step's patch into it (DESIGN.md §2).
//
// weir does not model the JobSpec; it keeps the JSON and validates only what
// the CRD schema requires and what weir itself relies on when it builds a Job
// (the API server validates the rest when the Job is created):
// - jobSpec is an object with template (object) with spec (object);
// - template.metadata, if set, is an object, and its labels and annotations,
//   if set, are objects of strings (weir adds its labels there);
// - template.spec.containers is a non-empty array of objects, each with a
//   name that is a DNS-1123 label; initContainers, if set, likewise; names
//   are unique across both;
// - a container's resources.limits and resources.requests, if set, are
//   objects of quantities (weir raises limits.memory on OOM retries).
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace weir::api {

// Validates `job_spec`, found at `path` (e.g. "spec.jobSpec"), as described
// above. InvalidArgument naming the field (e.g.
// "spec.jobSpec.template.spec.containers[1].name: required").
absl::Status ValidateJobSpec(const nlohmann::json& job_spec, absl::string_view path);

// The names of jobSpec.template.spec.containers, in order. Tolerant: entries
// without a string name are skipped; anything malformed gives no names.
std::vector<std::string> ContainerNames(const nlohmann::json& job_spec);

// OK if `main_container` is empty or names one of the containers of
// `job_spec`; otherwise InvalidArgument on `path` (e.g. "spec.mainContainer")
// listing the containers there are.
absl::Status CheckMainContainer(const nlohmann::json& job_spec, absl::string_view main_container,
                                absl::string_view path);

}  // namespace weir::api
