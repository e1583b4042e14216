#include "api/batch.h"

#include "absl/strings/str_cat.h"
#include "api/json_fields.h"

namespace weir::api {

using json = nlohmann::json;
using internal::FieldError;

bool BatchStatus::operator==(const BatchStatus&) const = default;

absl::StatusOr<BatchSpec> ParseBatchSpec(const json& spec) {
  WEIR_API_RETURN_IF_ERROR(internal::ExpectObject(spec, "spec"));
  BatchSpec out;

  bool has_template = false;
  WEIR_API_RETURN_IF_ERROR(internal::ReadBoundedString(spec, "template", "spec.template", 1, 253,
                                                       &out.template_name, &has_template));
  if (has_template && !internal::IsDns1123Subdomain(out.template_name)) {
    return FieldError("spec.template",
                      absl::StrCat(internal::QuoteForMessage(out.template_name),
                                   " is not a valid JobTemplate name (a DNS-1123 subdomain)"));
  }
  const json* job_spec = internal::Member(spec, "jobSpec");
  if (has_template == (job_spec != nullptr)) {
    return FieldError("spec", has_template
                                  ? "exactly one of template and jobSpec must be set, not both"
                                  : "exactly one of template and jobSpec must be set");
  }
  if (job_spec != nullptr) {
    WEIR_API_RETURN_IF_ERROR(ValidateJobSpec(*job_spec, "spec.jobSpec"));
    out.job_spec = *job_spec;
  }

  WEIR_API_RETURN_IF_ERROR(internal::ReadBoundedString(spec, "mainContainer", "spec.mainContainer",
                                                       0, 63, &out.main_container));
  if (out.job_spec.has_value()) {
    WEIR_API_RETURN_IF_ERROR(
        CheckMainContainer(*out.job_spec, out.main_container, "spec.mainContainer"));
  }

  const json* retry_json = internal::Member(spec, "retry");
  absl::StatusOr<RetrySpec> retry =
      ParseRetrySpec(retry_json != nullptr ? *retry_json : json(), "spec.retry");
  if (!retry.ok()) return retry.status();
  out.retry = *std::move(retry);

  WEIR_API_RETURN_IF_ERROR(internal::ReadBool(spec, "cancel", "spec.cancel", &out.cancel));
  WEIR_API_RETURN_IF_ERROR(internal::ReadSeconds(spec, "idleTimeoutSeconds",
                                                 "spec.idleTimeoutSeconds", &out.idle_timeout));
  WEIR_API_RETURN_IF_ERROR(internal::ReadSeconds(
      spec, "ttlSecondsAfterFinished", "spec.ttlSecondsAfterFinished", &out.ttl_after_finished));
  WEIR_API_RETURN_IF_ERROR(internal::ReadSeconds(
      spec, "imagePullGraceSeconds", "spec.imagePullGraceSeconds", &out.image_pull_grace));
  return out;
}

BatchStatus ParseBatchStatus(const json& status) {
  BatchStatus out;
  if (!status.is_object()) return out;
  out.phase = internal::StringOr(status, "phase");
  out.observed_generation = internal::Int64Or(status, "observedGeneration");
  out.attempt = internal::OptionalInt32(status, "attempt").value_or(0);
  out.job = internal::StringOr(status, "job");
  out.termination_reason = internal::StringOr(status, "terminationReason");
  out.exit_code = internal::OptionalInt32(status, "exitCode");
  out.message = internal::StringOr(status, "message");
  out.start_time = internal::OptionalTime(status, "startTime");
  out.completion_time = internal::OptionalTime(status, "completionTime");
  out.resources_released_time = internal::OptionalTime(status, "resourcesReleasedTime");
  if (const json* a = internal::Member(status, "attempts"); a != nullptr) {
    out.attempts = ParseAttemptStatuses(*a);
  }
  if (const json* c = internal::Member(status, "conditions"); c != nullptr) {
    out.conditions = ParseConditions(*c);
  }
  return out;
}

Batch ParseBatch(const json& object) {
  Batch batch{.metadata = ParseObjectMeta(object), .spec = BatchSpec(), .status = BatchStatus()};
  if (!object.is_object()) {
    batch.spec = absl::InvalidArgumentError(
        absl::StrCat("Batch: must be a JSON object, got ", internal::DescribeJson(object)));
    return batch;
  }
  const json* spec = internal::Member(object, "spec");
  if (spec == nullptr) {
    batch.spec = FieldError("spec", "required");
  } else {
    batch.spec = ParseBatchSpec(*spec);
  }
  if (const json* status = internal::Member(object, "status"); status != nullptr) {
    batch.status = ParseBatchStatus(*status);
  }
  return batch;
}

json BatchStatusToJson(const BatchStatus& s) {
  json out = json::object();
  internal::PutString(out, "phase", s.phase);
  internal::PutInt(out, "observedGeneration", s.observed_generation);
  internal::PutInt(out, "attempt", s.attempt);
  internal::PutString(out, "job", s.job);
  internal::PutString(out, "terminationReason", s.termination_reason);
  if (s.exit_code.has_value()) out["exitCode"] = *s.exit_code;
  internal::PutString(out, "message", s.message);
  internal::PutTime(out, "startTime", s.start_time);
  internal::PutTime(out, "completionTime", s.completion_time);
  internal::PutTime(out, "resourcesReleasedTime", s.resources_released_time);
  if (!s.attempts.empty()) {
    json attempts = json::array();
    for (const AttemptStatus& a : s.attempts) attempts.push_back(AttemptStatusToJson(a));
    out["attempts"] = std::move(attempts);
  }
  if (!s.conditions.empty()) out["conditions"] = ConditionsToJson(s.conditions);
  return out;
}

}  // namespace weir::api
