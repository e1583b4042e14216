// The Kubernetes API, dynamically typed: every call names a resource by
// group/version/resource (ResourceRef) and objects are nlohmann::json, so any
// kind (core, batch, coordination, weir.dev custom resources) works.
//
// kube::Client is the one seam through which weir talks to the API server.
// HttpClient (http_client.h) implements it over HTTPS; tests and the
// fault-injection suite wrap or replace it. Implementations must be safe for
// concurrent use from many threads, must never let an exception escape, and
// must report failures as the typed statuses of errors.h (kube::IsNotFound,
// kube::IsConflict, kube::IsGone, ...).
//
// Namespaces: `ns` is the object's namespace for namespaced resources and
// must be empty for cluster-scoped ones. For List and Watch an empty `ns` on a
// namespaced resource means all namespaces.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace weir::kube {

// A resource type on the API server, e.g. {"batch", "v1", "jobs", true, "Job"}.
struct ResourceRef {
  std::string group;     // "" for the core group
  std::string version;   // "v1", "v1alpha1", ...
  std::string resource;  // lowercase plural, as in the URL: "configmaps"
  bool namespaced = true;
  std::string kind;  // "ConfigMap"; informative (messages, apply helpers)

  // "v1" for the core group, otherwise "group/version".
  std::string ApiVersion() const;
  // "configmaps" or "jobs.batch", for messages and metrics.
  std::string ToString() const;
  bool operator==(const ResourceRef&) const = default;
};

// metadata.<field> of `object` if it is a string, else "". Never throws.
std::string MetadataString(const nlohmann::json& object, const char* field);

// The resources weir uses.
namespace resources {
ResourceRef Namespaces();
ResourceRef Nodes();
ResourceRef Pods();
ResourceRef ConfigMaps();
ResourceRef Secrets();
ResourceRef ServiceAccounts();
ResourceRef CoreEvents();  // core/v1 Events
ResourceRef Events();      // events.k8s.io/v1 Events
ResourceRef Jobs();        // batch/v1
ResourceRef Leases();      // coordination.k8s.io/v1
ResourceRef CustomResourceDefinitions();
ResourceRef JobTemplates();  // weir.dev/v1alpha1
ResourceRef JobFlows();
ResourceRef Batches();
}  // namespace resources

struct GetOptions {
  std::string resource_version;  // "" = most recent; "0" = any cached
};

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  int64_t limit = 0;           // 0 = no limit (one page)
  std::string continue_token;  // from the previous page's metadata.continue
  std::string resource_version;
  std::string resource_version_match;  // "", "NotOlderThan" or "Exact"
};

struct CreateOptions {
  std::string field_manager;
  bool dry_run = false;
  // To create through a subresource of an existing object (e.g. POST
  // serviceaccounts/<name>/token, pods/<name>/eviction) set both.
  std::string subresource_of;  // the existing object's name
  std::string subresource;     // "token", "eviction", ...
};

struct UpdateOptions {
  std::string field_manager;
  bool dry_run = false;
  std::string subresource;  // "" or "status"
};

enum class PatchType {
  kMerge,           // application/merge-patch+json (RFC 7386)
  kJson,            // application/json-patch+json (RFC 6902)
  kStrategicMerge,  // application/strategic-merge-patch+json (built-in kinds only)
  kApply,           // application/apply-patch+yaml (server-side apply)
};

struct PatchOptions {
  std::string field_manager;  // required for kApply
  bool force = false;         // kApply only: take ownership of conflicting fields
  bool dry_run = false;
  std::string subresource;  // "" or "status"
};

enum class PropagationPolicy { kDefault, kOrphan, kBackground, kForeground };

struct DeleteOptions {
  // Preconditions: the delete fails with Conflict unless they hold.
  std::optional<std::string> uid;
  std::optional<std::string> resource_version;
  PropagationPolicy propagation_policy = PropagationPolicy::kDefault;
  std::optional<int64_t> grace_period_seconds;
  bool dry_run = false;
};

struct WatchOptions {
  std::string resource_version;  // start after this version; "" = from now
  bool allow_watch_bookmarks = false;
  std::optional<int64_t> timeout_seconds;  // the server ends the watch after this
  std::string label_selector;
  std::string field_selector;
};

enum class EventType { kAdded, kModified, kDeleted, kBookmark, kError };
absl::string_view EventTypeName(EventType type);  // "ADDED", ...

struct WatchEvent {
  EventType type = EventType::kAdded;
  // The object; for kBookmark only apiVersion, kind and metadata.resourceVersion;
  // for kError the metav1.Status sent by the server.
  nlohmann::json object;
  // For kError: `object` as a typed status (kube::IsGone for a too-old
  // resourceVersion). OK for other types.
  absl::Status error;
};

// One watch: a stream of events read one at a time (Next) or through a
// callback (ForEach). Next() is for one reader thread; Cancel() may be called
// from any thread at any time and makes a blocked Next() return false.
class WatchStream {
 public:
  virtual ~WatchStream() = default;

  // Blocks until the next event and stores it in *event. Returns false when
  // the stream has ended; status() then says why.
  virtual bool Next(WatchEvent* event) = 0;

  // Why the stream ended: OK when the server closed it (e.g. timeoutSeconds
  // elapsed), kube::IsCanceled after Cancel(), or the failure (connection
  // lost, timeout, malformed event). OK while the stream is open.
  virtual absl::Status status() const = 0;

  // Ends the stream; idempotent, thread-safe.
  virtual void Cancel() = 0;

  // Calls `fn` for each event until the stream ends or `fn` returns false.
  // Returns status() (OK if `fn` stopped it).
  absl::Status ForEach(const std::function<bool(const WatchEvent&)>& fn);
};

// An observation of one HTTP request, for metrics.
struct RequestRecord {
  absl::string_view verb;  // Kubernetes verb: get, list, watch, create, update, patch, delete
  const ResourceRef* resource = nullptr;
  int code = 0;  // HTTP status; 0 when no response arrived
  absl::Duration latency;
};

// Receives every request an HttpClient makes (retries included). Called on
// the requesting thread; must be thread-safe and cheap.
class RequestObserver {
 public:
  virtual ~RequestObserver() = default;
  virtual void OnRequest(const RequestRecord& record) = 0;
};

class Client {
 public:
  virtual ~Client() = default;

  virtual absl::StatusOr<nlohmann::json> Get(const ResourceRef& ref, absl::string_view ns,
                                             absl::string_view name,
                                             const GetOptions& options = {}) = 0;

  // One page: a List object with items, metadata.resourceVersion and, if more
  // remain, metadata.continue.
  virtual absl::StatusOr<nlohmann::json> List(const ResourceRef& ref, absl::string_view ns,
                                              const ListOptions& options = {}) = 0;

  // One page like List, but each item goes to `each`, in order, and the page
  // comes back with an empty items array. HttpClient hands an item over as
  // soon as it is decoded, so a reader that keeps a reduced copy never holds
  // the whole page decoded: after a list of tens of thousands of objects the
  // heap is not left fragmented by them. This default calls List.
  virtual absl::StatusOr<nlohmann::json> ListEach(
      const ResourceRef& ref, absl::string_view ns, const ListOptions& options,
      const std::function<void(nlohmann::json item)>& each);

  virtual absl::StatusOr<nlohmann::json> Create(const ResourceRef& ref, absl::string_view ns,
                                                const nlohmann::json& object,
                                                const CreateOptions& options = {}) = 0;

  // PUT of the whole object (its metadata.name). A stale
  // metadata.resourceVersion fails with Conflict.
  virtual absl::StatusOr<nlohmann::json> Update(const ResourceRef& ref, absl::string_view ns,
                                                const nlohmann::json& object,
                                                const UpdateOptions& options = {}) = 0;

  // `patch` is the merge patch (an object), the JSON patch (an array of
  // operations) or the applied configuration (a full object with apiVersion
  // and kind).
  virtual absl::StatusOr<nlohmann::json> Patch(const ResourceRef& ref, absl::string_view ns,
                                               absl::string_view name, PatchType type,
                                               const nlohmann::json& patch,
                                               const PatchOptions& options = {}) = 0;

  // Returns what the server answered: the object (still present if it has
  // finalizers or a grace period) or a Status.
  virtual absl::StatusOr<nlohmann::json> Delete(const ResourceRef& ref, absl::string_view ns,
                                                absl::string_view name,
                                                const DeleteOptions& options = {}) = 0;

  // Starts a watch. Errors before the stream opens (bad request, forbidden,
  // 410 on some servers) are returned here; later ones arrive as kError
  // events or as the stream's status().
  virtual absl::StatusOr<std::unique_ptr<WatchStream>> Watch(const ResourceRef& ref,
                                                             absl::string_view ns,
                                                             const WatchOptions& options = {}) = 0;

  // --- Conveniences built on the verbs above. ---

  // Follows metadata.continue until the last page (pages of `options.limit`,
  // 500 if unset) and returns one List with all items and the first page's
  // resourceVersion. An expired continue token fails with kube::IsExpired.
  absl::StatusOr<nlohmann::json> ListAll(const ResourceRef& ref, absl::string_view ns,
                                         ListOptions options = {});

  absl::StatusOr<nlohmann::json> MergePatch(const ResourceRef& ref, absl::string_view ns,
                                            absl::string_view name, const nlohmann::json& patch,
                                            const PatchOptions& options = {});
  absl::StatusOr<nlohmann::json> JsonPatch(const ResourceRef& ref, absl::string_view ns,
                                           absl::string_view name, const nlohmann::json& ops,
                                           const PatchOptions& options = {});
  // Server-side apply of `object` (its metadata.name) as `field_manager`.
  absl::StatusOr<nlohmann::json> Apply(const ResourceRef& ref, absl::string_view ns,
                                       const nlohmann::json& object,
                                       absl::string_view field_manager, bool force = false);

  absl::StatusOr<nlohmann::json> UpdateStatus(const ResourceRef& ref, absl::string_view ns,
                                              const nlohmann::json& object,
                                              UpdateOptions options = {});
  absl::StatusOr<nlohmann::json> PatchStatus(const ResourceRef& ref, absl::string_view ns,
                                             absl::string_view name, PatchType type,
                                             const nlohmann::json& patch,
                                             PatchOptions options = {});
};

}  // namespace weir::kube
