#include "api/common.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "api/json_fields.h"

namespace weir::api {

using json = nlohmann::json;
using internal::FieldPath;

namespace {

constexpr size_t kMaxOnReasons = 16;

absl::StatusOr<Quantity> ParseMaxMemory(const json& value, absl::string_view path) {
  absl::StatusOr<Quantity> q;
  std::string shown;
  if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    shown = internal::QuoteForMessage(text);
    q = Quantity::Parse(text);
    if (!q.ok()) {
      if (absl::IsOutOfRange(q.status())) {
        return internal::FieldError(path, absl::StrCat(shown, " is too large a quantity"));
      }
      return internal::FieldError(
          path, absl::StrCat(shown, " is not a quantity (expected e.g. 8Gi or 512Mi)"));
    }
  } else {
    int64_t units = 0;
    if (!value.is_number_integer() || !internal::AsInt64(value, &units)) {
      return internal::FieldError(
          path, absl::StrCat("must be a quantity string (e.g. 8Gi) or an integer, got ",
                             internal::DescribeJson(value)));
    }
    shown = absl::StrCat(units);
    q = Quantity::FromUnits(units, Quantity::Format::kDecimalSI);
  }
  if (q->Sign() <= 0) {
    return internal::FieldError(path, absl::StrCat("must be a positive quantity, got ", shown));
  }
  return q;
}

absl::StatusOr<OnOOM> ParseOnOOM(const json& value, absl::string_view path) {
  WEIR_API_RETURN_IF_ERROR(internal::ExpectObject(value, path));
  OnOOM out;
  std::string factor_path = FieldPath(path, "memoryFactor");
  WEIR_API_RETURN_IF_ERROR(
      internal::ReadNumber(value, "memoryFactor", factor_path, &out.memory_factor));
  if (!(out.memory_factor > 1.0)) {
    return internal::FieldError(factor_path,
                                absl::StrCat("must be greater than 1, got ", out.memory_factor));
  }
  std::string max_path = FieldPath(path, "maxMemory");
  const json* max = internal::Member(value, "maxMemory");
  if (max == nullptr) {
    return internal::FieldError(max_path, "required: the cap on the raised memory limit, e.g. 8Gi");
  }
  absl::StatusOr<Quantity> q = ParseMaxMemory(*max, max_path);
  if (!q.ok()) return q.status();
  out.max_memory = *q;
  return out;
}

absl::Status ParseOnReasons(const json& value, absl::string_view path,
                            std::vector<std::string>* out) {
  WEIR_API_RETURN_IF_ERROR(internal::ExpectArray(value, path));
  if (value.size() > kMaxOnReasons) {
    return internal::FieldError(
        path, absl::StrCat("must have at most ", kMaxOnReasons, " items, got ", value.size()));
  }
  for (size_t i = 0; i < value.size(); ++i) {
    const json& item = value[i];
    std::string item_path = internal::IndexPath(path, i);
    if (!item.is_string()) {
      return internal::FieldError(
          item_path, absl::StrCat("must be a string, got ", internal::DescribeJson(item)));
    }
    const std::string& reason = item.get_ref<const std::string&>();
    if (std::find(std::begin(kRetryReasons), std::end(kRetryReasons), reason) ==
        std::end(kRetryReasons)) {
      return internal::FieldError(
          item_path, absl::StrCat("unsupported value ", internal::QuoteForMessage(reason),
                                  ": must be one of ", absl::StrJoin(kRetryReasons, ", ")));
    }
    if (std::find(out->begin(), out->end(), reason) != out->end()) {
      return internal::FieldError(
          item_path, absl::StrCat("duplicate value ", internal::QuoteForMessage(reason)));
    }
    out->push_back(reason);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RetrySpec> ParseRetrySpec(const json& value, absl::string_view path) {
  RetrySpec out;
  if (value.is_null()) return out;
  WEIR_API_RETURN_IF_ERROR(internal::ExpectObject(value, path));
  WEIR_API_RETURN_IF_ERROR(
      internal::ReadInt32(value, "limit", FieldPath(path, "limit"), 0, 100, &out.limit));
  WEIR_API_RETURN_IF_ERROR(internal::ReadInt32(
      value, "backoffSeconds", FieldPath(path, "backoffSeconds"), 0, 3600, &out.backoff_seconds));
  if (const json* oom = internal::Member(value, "onOOM"); oom != nullptr) {
    absl::StatusOr<OnOOM> parsed = ParseOnOOM(*oom, FieldPath(path, "onOOM"));
    if (!parsed.ok()) return parsed.status();
    out.on_oom = *parsed;
  }
  if (const json* reasons = internal::Member(value, "onReasons"); reasons != nullptr) {
    WEIR_API_RETURN_IF_ERROR(
        ParseOnReasons(*reasons, FieldPath(path, "onReasons"), &out.on_reasons));
  }
  return out;
}

json AttemptStatusToJson(const AttemptStatus& a) {
  json out = json::object();
  out["attempt"] = a.attempt;  // required by the schema
  internal::PutString(out, "job", a.job);
  internal::PutString(out, "phase", a.phase);
  internal::PutString(out, "terminationReason", a.termination_reason);
  if (a.exit_code.has_value()) out["exitCode"] = *a.exit_code;
  internal::PutString(out, "message", a.message);
  internal::PutString(out, "memoryLimit", a.memory_limit);
  internal::PutTime(out, "startTime", a.start_time);
  internal::PutTime(out, "completionTime", a.completion_time);
  internal::PutTime(out, "waitingSince", a.waiting_since);
  return out;
}

std::vector<AttemptStatus> ParseAttemptStatuses(const json& array) {
  std::vector<AttemptStatus> out;
  if (!array.is_array()) return out;
  for (const json& item : array) {
    if (!item.is_object()) continue;
    AttemptStatus a;
    a.attempt = internal::OptionalInt32(item, "attempt").value_or(0);
    a.job = internal::StringOr(item, "job");
    a.phase = internal::StringOr(item, "phase");
    a.termination_reason = internal::StringOr(item, "terminationReason");
    a.exit_code = internal::OptionalInt32(item, "exitCode");
    a.message = internal::StringOr(item, "message");
    a.memory_limit = internal::StringOr(item, "memoryLimit");
    a.start_time = internal::OptionalTime(item, "startTime");
    a.completion_time = internal::OptionalTime(item, "completionTime");
    a.waiting_since = internal::OptionalTime(item, "waitingSince");
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace weir::api
