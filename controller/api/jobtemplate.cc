#include "api/jobtemplate.h"

#include "absl/strings/str_cat.h"
#include "api/json_fields.h"

namespace weir::api {

using json = nlohmann::json;

namespace {

absl::StatusOr<json> ParseSpec(const json& object) {
  if (!object.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("JobTemplate: must be a JSON object, got ", internal::DescribeJson(object)));
  }
  const json* spec = internal::Member(object, "spec");
  if (spec == nullptr) return internal::FieldError("spec", "required");
  WEIR_API_RETURN_IF_ERROR(internal::ExpectObject(*spec, "spec"));
  const json* job_spec = internal::Member(*spec, "jobSpec");
  if (job_spec == nullptr) return internal::FieldError("spec.jobSpec", "required");
  WEIR_API_RETURN_IF_ERROR(ValidateJobSpec(*job_spec, "spec.jobSpec"));
  return *job_spec;
}

}  // namespace

JobTemplate ParseJobTemplate(const json& object) {
  JobTemplate t{.metadata = ParseObjectMeta(object), .job_spec = ParseSpec(object), .status = {}};
  const json* status = internal::Member(object, "status");
  const json* used_by = status == nullptr ? nullptr : internal::Member(*status, "usedBy");
  if (used_by != nullptr && used_by->is_array()) {
    for (const json& item : *used_by) {
      if (item.is_string()) t.status.used_by.push_back(item.get<std::string>());
    }
  }
  return t;
}

json JobTemplateStatusToJson(const JobTemplateStatus& status) {
  json out = json::object();
  if (!status.used_by.empty()) out["usedBy"] = status.used_by;
  return out;
}

}  // namespace weir::api
