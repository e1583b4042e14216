// Typed errors for the Kubernetes client.
//
// Every failure of an API call is an absl::Status. The canonical code gives
// the broad class (NotFound, AlreadyExists, Aborted for a conflict, ...), and
// payloads carry what Kubernetes said precisely:
//   - kReasonPayloadUrl: the Kubernetes reason ("NotFound", "Conflict",
//     "Expired", ...), or a client-side reason ("ConnectionFailed").
//   - kCodePayloadUrl: the HTTP status code, when there was a response.
//   - kRetryAfterPayloadUrl: the Retry-After delay in seconds (429, 5xx).
//   - kCausesPayloadUrl: the causes of an Invalid (422) error as JSON.
// Callers test errors with the predicates below (IsNotFound, IsConflict, ...)
// rather than with the canonical code, since several reasons share a code.
// Call them qualified (kube::IsNotFound): absl has functions of the same names
// that test only the canonical code, and argument-dependent lookup finds both.
//
// The New*() constructors build the same statuses the HTTP client returns, so
// fakes and fault-injection wrappers can produce indistinguishable errors.
//
// All functions are pure and thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace weir::kube {

inline constexpr char kReasonPayloadUrl[] = "weir.dev/kube-reason";
inline constexpr char kCodePayloadUrl[] = "weir.dev/kube-code";
inline constexpr char kRetryAfterPayloadUrl[] = "weir.dev/kube-retry-after";
inline constexpr char kCausesPayloadUrl[] = "weir.dev/kube-causes";

// The reasons weir distinguishes. The string form (ReasonName) is the
// Kubernetes metav1.StatusReason where one exists.
enum class Reason {
  kUnknown,                // no reason known (e.g. a status not from this client)
  kBadRequest,             // 400
  kUnauthorized,           // 401
  kForbidden,              // 403
  kNotFound,               // 404
  kMethodNotAllowed,       // 405
  kNotAcceptable,          // 406
  kAlreadyExists,          // 409, reason AlreadyExists
  kConflict,               // 409, reason Conflict (stale resourceVersion, failed precondition)
  kGone,                   // 410, reason Gone
  kExpired,                // 410, reason Expired (resourceVersion or continue token too old)
  kRequestEntityTooLarge,  // 413
  kUnsupportedMediaType,   // 415
  kInvalid,                // 422, with causes
  kTooManyRequests,        // 429, with Retry-After
  kInternalError,          // 500
  kServiceUnavailable,     // 503
  kServerTimeout,          // 500/504 with reason ServerTimeout
  kTimeout,                // 504 or a client-side timeout
  kConnectionFailed,       // no response: refused, reset, TLS failure, ...
  kCanceled,               // the caller canceled the request
};

// The Kubernetes spelling of `reason` ("NotFound", "AlreadyExists", ...).
absl::string_view ReasonName(Reason reason);
// Inverse of ReasonName; kUnknown for anything else.
Reason ReasonFromName(absl::string_view name);

// One cause of an Invalid error (metav1.StatusCause).
struct Cause {
  std::string type;     // e.g. "FieldValueRequired"
  std::string field;    // e.g. "metadata.name"
  std::string message;  // human-readable
  bool operator==(const Cause&) const = default;
};

// Maps an HTTP response to a Status. `body` is the response body, usually a
// metav1.Status object; other bodies are kept (truncated) in the message.
// `retry_after_header` is the raw Retry-After header value, if any.
// A 2xx code gives OkStatus().
absl::Status StatusFromResponse(int http_code, absl::string_view body,
                                absl::string_view retry_after_header = "");

// Maps a parsed metav1.Status object (e.g. from a watch ERROR event) to a
// Status. If the object has no `code`, `fallback_code` is used.
absl::Status StatusFromStatusObject(const nlohmann::json& status_object, int fallback_code = 500);

// Builds a status with the given reason and fields, with the canonical code
// that reason maps to. `http_code` 0 means "no HTTP response".
absl::Status MakeStatus(Reason reason, absl::string_view message, int http_code = 0,
                        std::optional<absl::Duration> retry_after = std::nullopt,
                        const std::vector<Cause>& causes = {});

// Constructors matching the API server's messages.
absl::Status NewNotFound(absl::string_view resource, absl::string_view name);
absl::Status NewAlreadyExists(absl::string_view resource, absl::string_view name);
absl::Status NewConflict(absl::string_view resource, absl::string_view name,
                         absl::string_view detail);
absl::Status NewGone(absl::string_view message);
absl::Status NewExpired(absl::string_view message);
absl::Status NewInvalid(absl::string_view kind, absl::string_view name,
                        const std::vector<Cause>& causes);
absl::Status NewTooManyRequests(absl::string_view message, absl::Duration retry_after);
absl::Status NewConnectionFailed(absl::string_view message);
absl::Status NewTimeout(absl::string_view message);

// What a status carries. Each returns the "absent" value for statuses that
// do not carry it (including OkStatus()).
Reason GetReason(const absl::Status& status);
int GetHttpCode(const absl::Status& status);  // 0 if none
std::optional<absl::Duration> GetRetryAfter(const absl::Status& status);
std::vector<Cause> GetCauses(const absl::Status& status);

bool IsNotFound(const absl::Status& status);
bool IsAlreadyExists(const absl::Status& status);
bool IsConflict(const absl::Status& status);
// True for any 410: reason Gone or Expired.
bool IsGone(const absl::Status& status);
// True for reason Expired only (too old resourceVersion / continue token).
bool IsExpired(const absl::Status& status);
bool IsForbidden(const absl::Status& status);
bool IsUnauthorized(const absl::Status& status);
bool IsInvalid(const absl::Status& status);
bool IsBadRequest(const absl::Status& status);
bool IsTooManyRequests(const absl::Status& status);
// True for 5xx responses other than timeouts (InternalError, ServiceUnavailable, ...).
bool IsServerError(const absl::Status& status);
// True for server-side and client-side timeouts.
bool IsTimeout(const absl::Status& status);
bool IsConnectionFailed(const absl::Status& status);
bool IsCanceled(const absl::Status& status);
// True for errors where the same request may succeed later unchanged:
// TooManyRequests, server errors, timeouts, connection failures.
bool IsRetryable(const absl::Status& status);

}  // namespace weir::kube
