// JobTemplate (weir.dev/v1alpha1): a reusable batch/v1 JobSpec that JobFlow
// steps and Batches stamp Jobs from (docs/design.md §2,
// crds/weir.dev_jobtemplates.yaml).
//
// Contract:
// - ParseJobTemplate never fails and never throws on any JSON. Metadata is
//   read tolerantly. `job_spec` is spec.jobSpec when it passes the checks of
//   jobspec.h (which include everything the CRD schema checks), otherwise
//   InvalidArgument naming the field, e.g.
//     spec.jobSpec.template.spec.containers: must have at least one container
// - status.usedBy is read tolerantly (non-strings are skipped) and written
//   with JobTemplateStatusToJson (omitted when empty).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "api/jobspec.h"
#include "api/meta.h"
#include "nlohmann/json.hpp"

namespace weir::api {

struct JobTemplateStatus {
  std::vector<std::string> used_by;  // "namespace/name" of flows running the template

  bool operator==(const JobTemplateStatus&) const = default;
};

struct JobTemplate {
  ObjectMeta metadata;
  absl::StatusOr<nlohmann::json> job_spec;  // spec.jobSpec
  JobTemplateStatus status;
};

JobTemplate ParseJobTemplate(const nlohmann::json& object);

// The status subresource body's "status".
nlohmann::json JobTemplateStatusToJson(const JobTemplateStatus& status);

}  // namespace weir::api
