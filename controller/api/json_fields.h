// Internal helpers of controller/api: reading fields of untrusted JSON objects
// without exceptions, for validating specs (strict: a wrong type or an out of
// range value is InvalidArgument naming the field path) and for reading
// statuses (tolerant: a wrong type reads as the default).
//
// Paths are written as in Kubernetes field errors: `spec.retry.limit`,
// `spec.steps[2].dependsOn[0].step`. A JSON null is treated as an absent
// field, as the API server does for non-nullable fields.
//
// Nothing here throws, whatever the input (nlohmann::json throws on type
// mismatches; every access below checks the type first).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace weir::api::internal {

// Returns from the enclosing function if `expr` (an absl::Status) is not OK.
#define WEIR_API_RETURN_IF_ERROR(expr)        \
  do {                                        \
    ::absl::Status weir_api_status_ = (expr); \
    if (!weir_api_status_.ok()) {             \
      return weir_api_status_;                \
    }                                         \
  } while (false)

// "spec" + "retry" -> "spec.retry"; an empty parent gives just the key.
std::string FieldPath(absl::string_view parent, absl::string_view key);
// "spec.steps" + 2 -> "spec.steps[2]".
std::string IndexPath(absl::string_view parent, size_t index);

// InvalidArgument "<path>: <message>".
absl::Status FieldError(absl::string_view path, absl::string_view message);

// A short, printable account of a JSON value for error messages:
// `a string ("3")`, `a number (1.5)`, `an array`, `an object`, `null`.
std::string DescribeJson(const nlohmann::json& value);

// `text` in double quotes, C-escaped, cut to 64 characters.
std::string QuoteForMessage(absl::string_view text);

// The member `key` of `object`, or nullptr if `object` is not an object, has
// no such member, or has null there.
const nlohmann::json* Member(const nlohmann::json& object, absl::string_view key);

// --- Strict readers (spec validation). ---
// Each reads the member `key` of `object` (a JSON object) whose path is
// `path` (the member's own path, e.g. "spec.retry.limit"). An absent or null
// member leaves the output untouched and returns OK; a present member of the
// wrong type or out of bounds is InvalidArgument naming `path`.

// `*present` (if not null) is set to whether the member was there.
absl::Status ReadString(const nlohmann::json& object, absl::string_view key, absl::string_view path,
                        std::string* out, bool* present = nullptr);
// A string of at most `max_length` characters and, if `min_length` > 0, at
// least that many.
absl::Status ReadBoundedString(const nlohmann::json& object, absl::string_view key,
                               absl::string_view path, size_t min_length, size_t max_length,
                               std::string* out, bool* present = nullptr);
// A string that must be one of `allowed`.
absl::Status ReadEnum(const nlohmann::json& object, absl::string_view key, absl::string_view path,
                      const std::vector<absl::string_view>& allowed, std::string* out);
absl::Status ReadBool(const nlohmann::json& object, absl::string_view key, absl::string_view path,
                      bool* out);
// An integer in [min, max]. A float with an integral value (3.0) is accepted.
absl::Status ReadInt64(const nlohmann::json& object, absl::string_view key, absl::string_view path,
                       int64_t min, int64_t max, int64_t* out);
absl::Status ReadInt32(const nlohmann::json& object, absl::string_view key, absl::string_view path,
                       int32_t min, int32_t max, int32_t* out);
// A finite number (integer or float).
absl::Status ReadNumber(const nlohmann::json& object, absl::string_view key, absl::string_view path,
                        double* out);
// A non-negative integer number of seconds (an int64 `...Seconds` field).
absl::Status ReadSeconds(const nlohmann::json& object, absl::string_view key,
                         absl::string_view path, std::optional<absl::Duration>* out);
// Checks that `value` (at `path`) is an object / an array.
absl::Status ExpectObject(const nlohmann::json& value, absl::string_view path);
absl::Status ExpectArray(const nlohmann::json& value, absl::string_view path);

// --- Tolerant readers (status, metadata). ---
// A missing member, null, or a value of the wrong type reads as the default.
std::string StringOr(const nlohmann::json& object, absl::string_view key,
                     absl::string_view fallback = "");
// Integers out of the type's range read as the default too.
int64_t Int64Or(const nlohmann::json& object, absl::string_view key, int64_t fallback = 0);
std::optional<int32_t> OptionalInt32(const nlohmann::json& object, absl::string_view key);
std::optional<absl::Time> OptionalTime(const nlohmann::json& object, absl::string_view key);

// --- Writers (status), omitting empty values as Kubernetes' omitempty does. ---
void PutString(nlohmann::json& object, absl::string_view key, const std::string& value);
void PutInt(nlohmann::json& object, absl::string_view key, int64_t value);  // omits 0
void PutTime(nlohmann::json& object, absl::string_view key, const std::optional<absl::Time>& t);

// If `value` is an integer (or an integral float) that fits in int64, stores
// it and returns true.
bool AsInt64(const nlohmann::json& value, int64_t* out);

// RFC 1123 label: 1-63 of [a-z0-9-], starting and ending alphanumeric.
bool IsDns1123Label(absl::string_view s);
// RFC 1123 subdomain (a Kubernetes object name): 1-253 characters, labels
// separated by '.'.
bool IsDns1123Subdomain(absl::string_view s);

}  // namespace weir::api::internal
