// The batch/v1 JobSpec embedded in a Batch (spec.jobSpec) or a JobTemplate
// (spec.jobSpec): the checks weir makes before stamping Jobs from it, and the
// merge of a JobFlow step's patch into it (docs/design.md §2).
//
// MergeJobSpec is a JSON merge patch (RFC 7386) that also merges lists of
// named items, as strategic merge patch does for containers, env, volumes:
// - objects merge recursively; a null in the patch deletes the key;
// - a non-empty patch list whose items are all objects with a string "name",
//   applied to a list whose items (if any) all are too, merges item by item
//   by name: an item with a name already in the base list is merged into it
//   (recursively, so env inside a container merges by name too), an item with
//   a new name is appended; base order is kept (should a name repeat, the
//   n-th patch item of that name merges into the n-th base item of it);
// - any other list (scalars, unnamed objects, an empty patch list) and any
//   scalar replace the base value; so `env: []` clears a list;
// - nulls inside values that are added or replaced are dropped (there is
//   nothing for them to delete).
// There is no way to delete one item of a named list except replacing the list
// through its parent. A null (or absent) patch leaves `base` unchanged.
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

// The step's JobSpec: `base` with `patch` applied, as described above. Never
// throws; works on any JSON (the result is checked with ValidateJobSpec).
nlohmann::json MergeJobSpec(const nlohmann::json& base, const nlohmann::json& patch);

}  // namespace weir::api
