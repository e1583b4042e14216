#include "api/json_fields.h"

#include <cmath>
#include <limits>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "api/meta.h"

namespace weir::api::internal {

using json = nlohmann::json;

std::string FieldPath(absl::string_view parent, absl::string_view key) {
  if (parent.empty()) return std::string(key);
  return absl::StrCat(parent, ".", key);
}

std::string IndexPath(absl::string_view parent, size_t index) {
  return absl::StrCat(parent, "[", index, "]");
}

absl::Status FieldError(absl::string_view path, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", message));
}

std::string QuoteForMessage(absl::string_view text) {
  constexpr size_t kMax = 64;
  if (text.size() > kMax) {
    return absl::StrCat("\"", absl::CHexEscape(text.substr(0, kMax)), "...\"");
  }
  return absl::StrCat("\"", absl::CHexEscape(text), "\"");
}

std::string DescribeJson(const json& value) {
  switch (value.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return absl::StrCat("a boolean (", value.get<bool>() ? "true" : "false", ")");
    case json::value_t::number_integer:
      return absl::StrCat("a number (", value.get<int64_t>(), ")");
    case json::value_t::number_unsigned:
      return absl::StrCat("a number (", value.get<uint64_t>(), ")");
    case json::value_t::number_float:
      return absl::StrCat("a number (", value.get<double>(), ")");
    case json::value_t::string:
      return absl::StrCat("a string (", QuoteForMessage(value.get_ref<const std::string&>()), ")");
    case json::value_t::array:
      return "an array";
    case json::value_t::object:
      return "an object";
    case json::value_t::binary:
    case json::value_t::discarded:
      break;
  }
  return "an unexpected value";
}

const json* Member(const json& object, absl::string_view key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(std::string(key));
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

absl::Status ReadString(const json& object, absl::string_view key, absl::string_view path,
                        std::string* out, bool* present) {
  if (present != nullptr) *present = false;
  const json* v = Member(object, key);
  if (v == nullptr) return absl::OkStatus();
  if (!v->is_string()) {
    return FieldError(path, absl::StrCat("must be a string, got ", DescribeJson(*v)));
  }
  *out = v->get_ref<const std::string&>();
  if (present != nullptr) *present = true;
  return absl::OkStatus();
}

absl::Status ReadBoundedString(const json& object, absl::string_view key, absl::string_view path,
                               size_t min_length, size_t max_length, std::string* out,
                               bool* present) {
  std::string value;
  bool here = false;
  WEIR_API_RETURN_IF_ERROR(ReadString(object, key, path, &value, &here));
  if (present != nullptr) *present = here;
  if (!here) return absl::OkStatus();
  if (value.size() < min_length) {
    return FieldError(
        path, min_length == 1 ? "must not be empty"
                              : absl::StrCat("must be at least ", min_length, " characters long"));
  }
  if (value.size() > max_length) {
    return FieldError(
        path, absl::StrCat("must be at most ", max_length, " characters long, got ", value.size()));
  }
  *out = std::move(value);
  return absl::OkStatus();
}

absl::Status ReadEnum(const json& object, absl::string_view key, absl::string_view path,
                      const std::vector<absl::string_view>& allowed, std::string* out) {
  std::string value;
  bool here = false;
  WEIR_API_RETURN_IF_ERROR(ReadString(object, key, path, &value, &here));
  if (!here) return absl::OkStatus();
  for (absl::string_view a : allowed) {
    if (value == a) {
      *out = std::move(value);
      return absl::OkStatus();
    }
  }
  return FieldError(path, absl::StrCat("unsupported value ", QuoteForMessage(value),
                                       ": must be one of ", absl::StrJoin(allowed, ", ")));
}

absl::Status ReadBool(const json& object, absl::string_view key, absl::string_view path,
                      bool* out) {
  const json* v = Member(object, key);
  if (v == nullptr) return absl::OkStatus();
  if (!v->is_boolean()) {
    return FieldError(path, absl::StrCat("must be a boolean, got ", DescribeJson(*v)));
  }
  *out = v->get<bool>();
  return absl::OkStatus();
}

bool AsInt64(const json& value, int64_t* out) {
  if (value.is_number_integer() && !value.is_number_unsigned()) {
    *out = value.get<int64_t>();
    return true;
  }
  if (value.is_number_unsigned()) {
    uint64_t u = value.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
    *out = static_cast<int64_t>(u);
    return true;
  }
  if (value.is_number_float()) {
    double d = value.get<double>();
    // 2^63 is exactly representable; anything at or above it does not fit.
    if (!std::isfinite(d) || d != std::trunc(d) || d >= 9223372036854775808.0 ||
        d < -9223372036854775808.0) {
      return false;
    }
    *out = static_cast<int64_t>(d);
    return true;
  }
  return false;
}

absl::Status ReadInt64(const json& object, absl::string_view key, absl::string_view path,
                       int64_t min, int64_t max, int64_t* out) {
  const json* v = Member(object, key);
  if (v == nullptr) return absl::OkStatus();
  int64_t n = 0;
  if (!AsInt64(*v, &n)) {
    if (v->is_number()) {
      return FieldError(
          path, absl::StrCat("must be an integer that fits in 64 bits, got ", DescribeJson(*v)));
    }
    return FieldError(path, absl::StrCat("must be an integer, got ", DescribeJson(*v)));
  }
  if (n < min || n > max) {
    if (max == std::numeric_limits<int64_t>::max()) {
      return FieldError(path, absl::StrCat("must be at least ", min, ", got ", n));
    }
    return FieldError(path, absl::StrCat("must be between ", min, " and ", max, ", got ", n));
  }
  *out = n;
  return absl::OkStatus();
}

absl::Status ReadInt32(const json& object, absl::string_view key, absl::string_view path,
                       int32_t min, int32_t max, int32_t* out) {
  int64_t n = 0;
  bool set = false;
  if (Member(object, key) != nullptr) {
    // Bounds of the int32 format are checked here, tighter ones below.
    WEIR_API_RETURN_IF_ERROR(ReadInt64(object, key, path, std::numeric_limits<int64_t>::min(),
                                       std::numeric_limits<int64_t>::max(), &n));
    set = true;
  }
  if (!set) return absl::OkStatus();
  if (n < min || n > max) {
    if (max == std::numeric_limits<int32_t>::max()) {
      return FieldError(path,
                        absl::StrCat("must be at least ", min, " and fit in 32 bits, got ", n));
    }
    return FieldError(path, absl::StrCat("must be between ", min, " and ", max, ", got ", n));
  }
  *out = static_cast<int32_t>(n);
  return absl::OkStatus();
}

absl::Status ReadNumber(const json& object, absl::string_view key, absl::string_view path,
                        double* out) {
  const json* v = Member(object, key);
  if (v == nullptr) return absl::OkStatus();
  if (!v->is_number()) {
    return FieldError(path, absl::StrCat("must be a number, got ", DescribeJson(*v)));
  }
  double d = v->get<double>();
  if (!std::isfinite(d)) return FieldError(path, "must be a finite number");
  *out = d;
  return absl::OkStatus();
}

absl::Status ReadSeconds(const json& object, absl::string_view key, absl::string_view path,
                         std::optional<absl::Duration>* out) {
  if (Member(object, key) == nullptr) return absl::OkStatus();
  int64_t seconds = 0;
  WEIR_API_RETURN_IF_ERROR(
      ReadInt64(object, key, path, 0, std::numeric_limits<int64_t>::max(), &seconds));
  *out = absl::Seconds(seconds);
  return absl::OkStatus();
}

absl::Status ExpectObject(const json& value, absl::string_view path) {
  if (value.is_object()) return absl::OkStatus();
  return FieldError(path, absl::StrCat("must be an object, got ", DescribeJson(value)));
}

absl::Status ExpectArray(const json& value, absl::string_view path) {
  if (value.is_array()) return absl::OkStatus();
  return FieldError(path, absl::StrCat("must be an array, got ", DescribeJson(value)));
}

std::string StringOr(const json& object, absl::string_view key, absl::string_view fallback) {
  const json* v = Member(object, key);
  if (v == nullptr || !v->is_string()) return std::string(fallback);
  return v->get_ref<const std::string&>();
}

int64_t Int64Or(const json& object, absl::string_view key, int64_t fallback) {
  const json* v = Member(object, key);
  int64_t n = 0;
  if (v == nullptr || !AsInt64(*v, &n)) return fallback;
  return n;
}

std::optional<int32_t> OptionalInt32(const json& object, absl::string_view key) {
  const json* v = Member(object, key);
  int64_t n = 0;
  if (v == nullptr || !AsInt64(*v, &n)) return std::nullopt;
  if (n < std::numeric_limits<int32_t>::min() || n > std::numeric_limits<int32_t>::max()) {
    return std::nullopt;
  }
  return static_cast<int32_t>(n);
}

std::optional<absl::Time> OptionalTime(const json& object, absl::string_view key) {
  const json* v = Member(object, key);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return ParseRfc3339(v->get_ref<const std::string&>());
}

void PutString(json& object, absl::string_view key, const std::string& value) {
  if (!value.empty()) object[std::string(key)] = value;
}

void PutInt(json& object, absl::string_view key, int64_t value) {
  if (value != 0) object[std::string(key)] = value;
}

void PutTime(json& object, absl::string_view key, const std::optional<absl::Time>& t) {
  if (t.has_value()) object[std::string(key)] = FormatRfc3339(*t);
}

namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

}  // namespace

bool IsDns1123Label(absl::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  if (!IsLowerAlnum(s.front()) || !IsLowerAlnum(s.back())) return false;
  for (char c : s) {
    if (!IsLowerAlnum(c) && c != '-') return false;
  }
  return true;
}

bool IsDns1123Subdomain(absl::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  for (absl::string_view label : absl::StrSplit(s, '.')) {
    // Labels of a subdomain have no length limit of their own beyond 253.
    if (label.empty() || !IsLowerAlnum(label.front()) || !IsLowerAlnum(label.back())) {
      return false;
    }
    for (char c : label) {
      if (!IsLowerAlnum(c) && c != '-') return false;
    }
  }
  return true;
}

}  // namespace weir::api::internal
