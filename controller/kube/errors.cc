#include "kube/errors.h"

#include <array>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

namespace weir::kube {
namespace {

constexpr std::array<std::pair<Reason, absl::string_view>, 21> kReasonNames = {{
    {Reason::kUnknown, ""},
    {Reason::kBadRequest, "BadRequest"},
    {Reason::kUnauthorized, "Unauthorized"},
    {Reason::kForbidden, "Forbidden"},
    {Reason::kNotFound, "NotFound"},
    {Reason::kMethodNotAllowed, "MethodNotAllowed"},
    {Reason::kNotAcceptable, "NotAcceptable"},
    {Reason::kAlreadyExists, "AlreadyExists"},
    {Reason::kConflict, "Conflict"},
    {Reason::kGone, "Gone"},
    {Reason::kExpired, "Expired"},
    {Reason::kRequestEntityTooLarge, "RequestEntityTooLarge"},
    {Reason::kUnsupportedMediaType, "UnsupportedMediaType"},
    {Reason::kInvalid, "Invalid"},
    {Reason::kTooManyRequests, "TooManyRequests"},
    {Reason::kInternalError, "InternalError"},
    {Reason::kServiceUnavailable, "ServiceUnavailable"},
    {Reason::kServerTimeout, "ServerTimeout"},
    {Reason::kTimeout, "Timeout"},
    {Reason::kConnectionFailed, "ConnectionFailed"},
    {Reason::kCanceled, "Canceled"},
}};

// The reason implied by an HTTP code when the body does not name one.
Reason ReasonFromCode(int code) {
  switch (code) {
    case 400:
      return Reason::kBadRequest;
    case 401:
      return Reason::kUnauthorized;
    case 403:
      return Reason::kForbidden;
    case 404:
      return Reason::kNotFound;
    case 405:
      return Reason::kMethodNotAllowed;
    case 406:
      return Reason::kNotAcceptable;
    case 409:
      return Reason::kConflict;
    case 410:
      return Reason::kGone;
    case 413:
      return Reason::kRequestEntityTooLarge;
    case 415:
      return Reason::kUnsupportedMediaType;
    case 422:
      return Reason::kInvalid;
    case 429:
      return Reason::kTooManyRequests;
    case 503:
      return Reason::kServiceUnavailable;
    case 504:
      return Reason::kTimeout;
    default:
      if (code >= 500 && code <= 599) return Reason::kInternalError;
      return Reason::kUnknown;
  }
}

absl::StatusCode CodeForReason(Reason reason) {
  switch (reason) {
    case Reason::kBadRequest:
    case Reason::kInvalid:
    case Reason::kNotAcceptable:
    case Reason::kRequestEntityTooLarge:
    case Reason::kUnsupportedMediaType:
      return absl::StatusCode::kInvalidArgument;
    case Reason::kUnauthorized:
      return absl::StatusCode::kUnauthenticated;
    case Reason::kForbidden:
      return absl::StatusCode::kPermissionDenied;
    case Reason::kNotFound:
      return absl::StatusCode::kNotFound;
    case Reason::kMethodNotAllowed:
      return absl::StatusCode::kUnimplemented;
    case Reason::kAlreadyExists:
      return absl::StatusCode::kAlreadyExists;
    case Reason::kConflict:
      return absl::StatusCode::kAborted;
    case Reason::kGone:
    case Reason::kExpired:
      return absl::StatusCode::kOutOfRange;
    case Reason::kTooManyRequests:
      return absl::StatusCode::kResourceExhausted;
    case Reason::kInternalError:
      return absl::StatusCode::kInternal;
    case Reason::kServiceUnavailable:
    case Reason::kConnectionFailed:
      return absl::StatusCode::kUnavailable;
    case Reason::kServerTimeout:
    case Reason::kTimeout:
      return absl::StatusCode::kDeadlineExceeded;
    case Reason::kCanceled:
      return absl::StatusCode::kCancelled;
    case Reason::kUnknown:
      break;
  }
  return absl::StatusCode::kUnknown;
}

std::string CausesText(const std::vector<Cause>& causes) {
  return absl::StrJoin(causes, "; ", [](std::string* out, const Cause& c) {
    if (c.field.empty()) {
      absl::StrAppend(out, c.message);
    } else {
      absl::StrAppend(out, c.field, ": ", c.message);
    }
  });
}

std::optional<absl::Duration> ParseRetryAfterHeader(absl::string_view value) {
  value = absl::StripAsciiWhitespace(value);
  int64_t seconds = 0;
  // An HTTP-date form is legal but never sent by the API server; ignore it.
  if (value.empty() || !absl::SimpleAtoi(value, &seconds) || seconds < 0) return std::nullopt;
  return absl::Seconds(seconds);
}

std::string StringField(const nlohmann::json& obj, const char* key) {
  if (!obj.is_object()) return "";
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

}  // namespace

absl::string_view ReasonName(Reason reason) {
  for (const auto& [r, name] : kReasonNames) {
    if (r == reason) return name;
  }
  return "";
}

Reason ReasonFromName(absl::string_view name) {
  if (name.empty()) return Reason::kUnknown;
  for (const auto& [r, n] : kReasonNames) {
    if (n == name) return r;
  }
  return Reason::kUnknown;
}

absl::Status MakeStatus(Reason reason, absl::string_view message, int http_code,
                        std::optional<absl::Duration> retry_after,
                        const std::vector<Cause>& causes) {
  std::string text(message);
  if (!causes.empty()) absl::StrAppend(&text, " [causes: ", CausesText(causes), "]");
  if (http_code != 0) {
    absl::StrAppend(&text, " (HTTP ", http_code,
                    reason == Reason::kUnknown ? "" : absl::StrCat(" ", ReasonName(reason)), ")");
  } else if (reason != Reason::kUnknown) {
    absl::StrAppend(&text, " (", ReasonName(reason), ")");
  }
  absl::Status status(CodeForReason(reason), text);
  if (reason != Reason::kUnknown) {
    status.SetPayload(kReasonPayloadUrl, absl::Cord(ReasonName(reason)));
  }
  if (http_code != 0) status.SetPayload(kCodePayloadUrl, absl::Cord(absl::StrCat(http_code)));
  if (retry_after.has_value()) {
    status.SetPayload(kRetryAfterPayloadUrl,
                      absl::Cord(absl::StrCat(absl::ToInt64Milliseconds(*retry_after))));
  }
  if (!causes.empty()) {
    nlohmann::json arr = nlohmann::json::array();
    for (const Cause& c : causes) {
      arr.push_back({{"reason", c.type}, {"field", c.field}, {"message", c.message}});
    }
    status.SetPayload(kCausesPayloadUrl, absl::Cord(arr.dump()));
  }
  return status;
}

absl::Status StatusFromStatusObject(const nlohmann::json& obj, int fallback_code) {
  int code = fallback_code;
  if (obj.is_object() && obj.contains("code") && obj["code"].is_number_integer()) {
    code = obj["code"].get<int>();
  }
  Reason reason = ReasonFromName(StringField(obj, "reason"));
  if (reason == Reason::kUnknown) reason = ReasonFromCode(code);
  std::string message = StringField(obj, "message");
  if (message.empty()) message = absl::StrCat("request failed with HTTP ", code);
  std::vector<Cause> causes;
  std::optional<absl::Duration> retry_after;
  if (obj.is_object() && obj.contains("details") && obj["details"].is_object()) {
    const nlohmann::json& details = obj["details"];
    if (details.contains("causes") && details["causes"].is_array()) {
      for (const nlohmann::json& c : details["causes"]) {
        causes.push_back(
            {StringField(c, "reason"), StringField(c, "field"), StringField(c, "message")});
      }
    }
    if (details.contains("retryAfterSeconds") && details["retryAfterSeconds"].is_number_integer()) {
      retry_after = absl::Seconds(details["retryAfterSeconds"].get<int64_t>());
    }
  }
  return MakeStatus(reason, message, code, retry_after, causes);
}

absl::Status StatusFromResponse(int http_code, absl::string_view body,
                                absl::string_view retry_after_header) {
  if (http_code >= 200 && http_code <= 299) return absl::OkStatus();
  nlohmann::json parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  absl::Status status;
  if (parsed.is_object() && StringField(parsed, "kind") == "Status") {
    // The response code is authoritative; the object's code may be absent.
    parsed["code"] = http_code;
    status = StatusFromStatusObject(parsed, http_code);
  } else {
    std::string text(absl::StripAsciiWhitespace(body));
    if (text.size() > 256) text = absl::StrCat(text.substr(0, 256), "...");
    if (text.empty()) text = absl::StrCat("request failed with HTTP ", http_code);
    status = MakeStatus(ReasonFromCode(http_code), text, http_code);
  }
  if (std::optional<absl::Duration> header = ParseRetryAfterHeader(retry_after_header)) {
    status.SetPayload(kRetryAfterPayloadUrl,
                      absl::Cord(absl::StrCat(absl::ToInt64Milliseconds(*header))));
  }
  return status;
}

absl::Status NewNotFound(absl::string_view resource, absl::string_view name) {
  return MakeStatus(Reason::kNotFound, absl::StrCat(resource, " \"", name, "\" not found"), 404);
}

absl::Status NewAlreadyExists(absl::string_view resource, absl::string_view name) {
  return MakeStatus(Reason::kAlreadyExists,
                    absl::StrCat(resource, " \"", name, "\" already exists"), 409);
}

absl::Status NewConflict(absl::string_view resource, absl::string_view name,
                         absl::string_view detail) {
  return MakeStatus(
      Reason::kConflict,
      absl::StrCat("Operation cannot be fulfilled on ", resource, " \"", name, "\": ", detail),
      409);
}

absl::Status NewGone(absl::string_view message) { return MakeStatus(Reason::kGone, message, 410); }

absl::Status NewExpired(absl::string_view message) {
  return MakeStatus(Reason::kExpired, message, 410);
}

absl::Status NewInvalid(absl::string_view kind, absl::string_view name,
                        const std::vector<Cause>& causes) {
  return MakeStatus(Reason::kInvalid, absl::StrCat(kind, " \"", name, "\" is invalid"), 422,
                    std::nullopt, causes);
}

absl::Status NewTooManyRequests(absl::string_view message, absl::Duration retry_after) {
  return MakeStatus(Reason::kTooManyRequests, message, 429, retry_after);
}

absl::Status NewConnectionFailed(absl::string_view message) {
  return MakeStatus(Reason::kConnectionFailed, message);
}

absl::Status NewTimeout(absl::string_view message) { return MakeStatus(Reason::kTimeout, message); }

Reason GetReason(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(kReasonPayloadUrl);
  if (!payload.has_value()) return Reason::kUnknown;
  return ReasonFromName(std::string(*payload));
}

int GetHttpCode(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(kCodePayloadUrl);
  int code = 0;
  if (!payload.has_value() || !absl::SimpleAtoi(std::string(*payload), &code)) return 0;
  return code;
}

std::optional<absl::Duration> GetRetryAfter(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(kRetryAfterPayloadUrl);
  int64_t ms = 0;
  if (!payload.has_value() || !absl::SimpleAtoi(std::string(*payload), &ms)) return std::nullopt;
  return absl::Milliseconds(ms);
}

std::vector<Cause> GetCauses(const absl::Status& status) {
  std::vector<Cause> causes;
  absl::optional<absl::Cord> payload = status.GetPayload(kCausesPayloadUrl);
  if (!payload.has_value()) return causes;
  nlohmann::json arr =
      nlohmann::json::parse(std::string(*payload), nullptr, /*allow_exceptions=*/false);
  if (!arr.is_array()) return causes;
  for (const nlohmann::json& c : arr) {
    causes.push_back(
        {StringField(c, "reason"), StringField(c, "field"), StringField(c, "message")});
  }
  return causes;
}

bool IsNotFound(const absl::Status& s) { return GetReason(s) == Reason::kNotFound; }
bool IsAlreadyExists(const absl::Status& s) { return GetReason(s) == Reason::kAlreadyExists; }
bool IsConflict(const absl::Status& s) { return GetReason(s) == Reason::kConflict; }
bool IsGone(const absl::Status& s) {
  Reason r = GetReason(s);
  return r == Reason::kGone || r == Reason::kExpired || GetHttpCode(s) == 410;
}
bool IsExpired(const absl::Status& s) { return GetReason(s) == Reason::kExpired; }
bool IsForbidden(const absl::Status& s) { return GetReason(s) == Reason::kForbidden; }
bool IsUnauthorized(const absl::Status& s) { return GetReason(s) == Reason::kUnauthorized; }
bool IsInvalid(const absl::Status& s) { return GetReason(s) == Reason::kInvalid; }
bool IsBadRequest(const absl::Status& s) { return GetReason(s) == Reason::kBadRequest; }
bool IsTooManyRequests(const absl::Status& s) { return GetReason(s) == Reason::kTooManyRequests; }
bool IsServerError(const absl::Status& s) {
  Reason r = GetReason(s);
  return r == Reason::kInternalError || r == Reason::kServiceUnavailable;
}
bool IsTimeout(const absl::Status& s) {
  Reason r = GetReason(s);
  return r == Reason::kTimeout || r == Reason::kServerTimeout;
}
bool IsConnectionFailed(const absl::Status& s) { return GetReason(s) == Reason::kConnectionFailed; }
bool IsCanceled(const absl::Status& s) { return GetReason(s) == Reason::kCanceled; }
bool IsRetryable(const absl::Status& s) {
  return kube::IsTooManyRequests(s) || kube::IsServerError(s) || kube::IsTimeout(s) ||
         kube::IsConnectionFailed(s);
}

}  // namespace weir::kube
