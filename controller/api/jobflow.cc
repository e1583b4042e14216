#include "api/jobflow.h"

#include <limits>

#include "absl/strings/str_cat.h"
#include "api/json_fields.h"

namespace weir::api {

using json = nlohmann::json;
using internal::FieldError;
using internal::FieldPath;
using internal::IndexPath;

namespace {

constexpr size_t kMaxSteps = 300;
constexpr size_t kMaxDependsOn = 64;

absl::StatusOr<DependsOn> ParseDependsOn(const json& value, absl::string_view path) {
  WEIR_API_RETURN_IF_ERROR(internal::ExpectObject(value, path));
  DependsOn out;
  std::string step_path = FieldPath(path, "step");
  bool has_step = false;
  WEIR_API_RETURN_IF_ERROR(
      internal::ReadBoundedString(value, "step", step_path, 0, 63, &out.step, &has_step));
  if (!has_step) return FieldError(step_path, "required");
  WEIR_API_RETURN_IF_ERROR(internal::ReadEnum(value, "condition", FieldPath(path, "condition"),
                                              {"Succeeded", "Failed", "Completed", "Canceled"},
                                              &out.condition));
  return out;
}

absl::StatusOr<FlowStep> ParseStep(const json& value, absl::string_view path) {
  WEIR_API_RETURN_IF_ERROR(internal::ExpectObject(value, path));
  FlowStep out;

  std::string name_path = FieldPath(path, "name");
  bool has_name = false;
  WEIR_API_RETURN_IF_ERROR(internal::ReadString(value, "name", name_path, &out.name, &has_name));
  if (!has_name) return FieldError(name_path, "required");
  if (!internal::IsDns1123Label(out.name)) {
    return FieldError(name_path,
                      absl::StrCat(internal::QuoteForMessage(out.name),
                                   " is not a valid step name: it must be a DNS-1123 label of 1 "
                                   "to 63 characters, lowercase letters, digits and '-', "
                                   "starting and ending with a letter or digit"));
  }

  std::string template_path = FieldPath(path, "template");
  bool has_template = false;
  WEIR_API_RETURN_IF_ERROR(internal::ReadBoundedString(value, "template", template_path, 1, 253,
                                                       &out.template_name, &has_template));
  if (!has_template) return FieldError(template_path, "required");
  if (!internal::IsDns1123Subdomain(out.template_name)) {
    return FieldError(template_path,
                      absl::StrCat(internal::QuoteForMessage(out.template_name),
                                   " is not a valid JobTemplate name (a DNS-1123 subdomain)"));
  }

  if (const json* patch = internal::Member(value, "patch"); patch != nullptr) {
    WEIR_API_RETURN_IF_ERROR(internal::ExpectObject(*patch, FieldPath(path, "patch")));
    out.patch = *patch;
  }

  if (const json* deps = internal::Member(value, "dependsOn"); deps != nullptr) {
    std::string deps_path = FieldPath(path, "dependsOn");
    WEIR_API_RETURN_IF_ERROR(internal::ExpectArray(*deps, deps_path));
    if (deps->size() > kMaxDependsOn) {
      return FieldError(deps_path, absl::StrCat("must have at most ", kMaxDependsOn, " items, got ",
                                                deps->size()));
    }
    for (size_t j = 0; j < deps->size(); ++j) {
      absl::StatusOr<DependsOn> d = ParseDependsOn((*deps)[j], IndexPath(deps_path, j));
      if (!d.ok()) return d.status();
      out.depends_on.push_back(*std::move(d));
    }
  }

  const json* retry = internal::Member(value, "retry");
  absl::StatusOr<RetrySpec> r =
      ParseRetrySpec(retry != nullptr ? *retry : json(), FieldPath(path, "retry"));
  if (!r.ok()) return r.status();
  out.retry = *std::move(r);

  WEIR_API_RETURN_IF_ERROR(
      internal::ReadBool(value, "cancel", FieldPath(path, "cancel"), &out.cancel));
  return out;
}

StepStatus ParseStepStatus(const json& item) {
  StepStatus s;
  s.name = internal::StringOr(item, "name");
  s.template_name = internal::StringOr(item, "template");
  s.template_resource_version = internal::StringOr(item, "templateResourceVersion");
  s.phase = internal::StringOr(item, "phase");
  s.message = internal::StringOr(item, "message");
  if (const json* a = internal::Member(item, "attempts"); a != nullptr) {
    s.attempts = ParseAttemptStatuses(*a);
  }
  return s;
}

json StepStatusToJson(const StepStatus& s) {
  json out = json::object();
  out["name"] = s.name;  // required by the schema
  internal::PutString(out, "template", s.template_name);
  internal::PutString(out, "templateResourceVersion", s.template_resource_version);
  internal::PutString(out, "phase", s.phase);
  internal::PutString(out, "message", s.message);
  if (!s.attempts.empty()) {
    json attempts = json::array();
    for (const AttemptStatus& a : s.attempts) attempts.push_back(AttemptStatusToJson(a));
    out["attempts"] = std::move(attempts);
  }
  return out;
}

}  // namespace

bool JobFlowStatus::operator==(const JobFlowStatus&) const = default;

absl::StatusOr<JobFlowSpec> ParseJobFlowSpec(const json& spec) {
  WEIR_API_RETURN_IF_ERROR(internal::ExpectObject(spec, "spec"));
  JobFlowSpec out;

  const json* steps = internal::Member(spec, "steps");
  if (steps == nullptr) return FieldError("spec.steps", "required: at least one step");
  WEIR_API_RETURN_IF_ERROR(internal::ExpectArray(*steps, "spec.steps"));
  if (steps->empty()) return FieldError("spec.steps", "must have at least one step");
  if (steps->size() > kMaxSteps) {
    return FieldError("spec.steps",
                      absl::StrCat("must have at most ", kMaxSteps, " steps, got ", steps->size()));
  }
  for (size_t i = 0; i < steps->size(); ++i) {
    absl::StatusOr<FlowStep> step = ParseStep((*steps)[i], IndexPath("spec.steps", i));
    if (!step.ok()) return step.status();
    out.steps.push_back(*std::move(step));
  }

  WEIR_API_RETURN_IF_ERROR(internal::ReadEnum(spec, "onStepFailure", "spec.onStepFailure",
                                              {"StopFlow", "ContinueOthers"},
                                              &out.on_step_failure));
  WEIR_API_RETURN_IF_ERROR(internal::ReadInt32(spec, "parallelism", "spec.parallelism", 0,
                                               std::numeric_limits<int32_t>::max(),
                                               &out.parallelism));
  WEIR_API_RETURN_IF_ERROR(internal::ReadBool(spec, "suspend", "spec.suspend", &out.suspend));
  WEIR_API_RETURN_IF_ERROR(internal::ReadBool(spec, "cancel", "spec.cancel", &out.cancel));
  WEIR_API_RETURN_IF_ERROR(internal::ReadEnum(spec, "jobRetainPolicy", "spec.jobRetainPolicy",
                                              {"Retain", "Delete"}, &out.job_retain_policy));
  WEIR_API_RETURN_IF_ERROR(internal::ReadSeconds(spec, "idleTimeoutSeconds",
                                                 "spec.idleTimeoutSeconds", &out.idle_timeout));
  WEIR_API_RETURN_IF_ERROR(internal::ReadSeconds(
      spec, "ttlSecondsAfterFinished", "spec.ttlSecondsAfterFinished", &out.ttl_after_finished));
  return out;
}

JobFlowStatus ParseJobFlowStatus(const json& status) {
  JobFlowStatus out;
  if (!status.is_object()) return out;
  out.phase = internal::StringOr(status, "phase");
  out.observed_generation = internal::Int64Or(status, "observedGeneration");
  out.progress = internal::StringOr(status, "progress");
  out.message = internal::StringOr(status, "message");
  out.start_time = internal::OptionalTime(status, "startTime");
  out.completion_time = internal::OptionalTime(status, "completionTime");
  if (const json* steps = internal::Member(status, "steps");
      steps != nullptr && steps->is_array()) {
    for (const json& item : *steps) {
      if (!item.is_object()) continue;
      StepStatus s = ParseStepStatus(item);
      if (s.name.empty() || FindStepStatus(out, s.name) != nullptr) continue;
      out.steps.push_back(std::move(s));
    }
  }
  if (const json* c = internal::Member(status, "conditions"); c != nullptr) {
    out.conditions = ParseConditions(*c);
  }
  return out;
}

JobFlow ParseJobFlow(const json& object) {
  JobFlow flow{.metadata = ParseObjectMeta(object), .spec = JobFlowSpec(), .status = {}};
  if (!object.is_object()) {
    flow.spec = absl::InvalidArgumentError(
        absl::StrCat("JobFlow: must be a JSON object, got ", internal::DescribeJson(object)));
    return flow;
  }
  const json* spec = internal::Member(object, "spec");
  flow.spec = spec == nullptr ? absl::StatusOr<JobFlowSpec>(FieldError("spec", "required"))
                              : ParseJobFlowSpec(*spec);
  if (const json* status = internal::Member(object, "status"); status != nullptr) {
    flow.status = ParseJobFlowStatus(*status);
  }
  return flow;
}

json JobFlowStatusToJson(const JobFlowStatus& s) {
  json out = json::object();
  internal::PutString(out, "phase", s.phase);
  internal::PutInt(out, "observedGeneration", s.observed_generation);
  internal::PutString(out, "progress", s.progress);
  internal::PutString(out, "message", s.message);
  internal::PutTime(out, "startTime", s.start_time);
  internal::PutTime(out, "completionTime", s.completion_time);
  if (!s.steps.empty()) {
    json steps = json::array();
    for (const StepStatus& step : s.steps) steps.push_back(StepStatusToJson(step));
    out["steps"] = std::move(steps);
  }
  if (!s.conditions.empty()) out["conditions"] = ConditionsToJson(s.conditions);
  return out;
}

const StepStatus* FindStepStatus(const JobFlowStatus& status, absl::string_view name) {
  for (const StepStatus& s : status.steps) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

StepStatus* FindStepStatus(JobFlowStatus& status, absl::string_view name) {
  for (StepStatus& s : status.steps) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

}  // namespace weir::api
