#include "kube/client.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace weir::kube {

std::string MetadataString(const nlohmann::json& object, const char* field) {
  if (!object.is_object()) return "";
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return "";
  auto value = meta->find(field);
  if (value == meta->end() || !value->is_string()) return "";
  return value->get<std::string>();
}

std::string ResourceRef::ApiVersion() const {
  return group.empty() ? version : absl::StrCat(group, "/", version);
}

std::string ResourceRef::ToString() const {
  return group.empty() ? resource : absl::StrCat(resource, ".", group);
}

namespace resources {
ResourceRef Namespaces() { return {"", "v1", "namespaces", false, "Namespace"}; }
ResourceRef Nodes() { return {"", "v1", "nodes", false, "Node"}; }
ResourceRef Pods() { return {"", "v1", "pods", true, "Pod"}; }
ResourceRef ConfigMaps() { return {"", "v1", "configmaps", true, "ConfigMap"}; }
ResourceRef Secrets() { return {"", "v1", "secrets", true, "Secret"}; }
ResourceRef ServiceAccounts() { return {"", "v1", "serviceaccounts", true, "ServiceAccount"}; }
ResourceRef CoreEvents() { return {"", "v1", "events", true, "Event"}; }
ResourceRef Events() { return {"events.k8s.io", "v1", "events", true, "Event"}; }
ResourceRef Jobs() { return {"batch", "v1", "jobs", true, "Job"}; }
ResourceRef Leases() { return {"coordination.k8s.io", "v1", "leases", true, "Lease"}; }
ResourceRef CustomResourceDefinitions() {
  return {"apiextensions.k8s.io", "v1", "customresourcedefinitions", false,
          "CustomResourceDefinition"};
}
ResourceRef JobTemplates() { return {"weir.dev", "v1alpha1", "jobtemplates", true, "JobTemplate"}; }
ResourceRef JobFlows() { return {"weir.dev", "v1alpha1", "jobflows", true, "JobFlow"}; }
ResourceRef Batches() { return {"weir.dev", "v1alpha1", "batches", true, "Batch"}; }
}  // namespace resources

absl::string_view EventTypeName(EventType type) {
  switch (type) {
    case EventType::kAdded:
      return "ADDED";
    case EventType::kModified:
      return "MODIFIED";
    case EventType::kDeleted:
      return "DELETED";
    case EventType::kBookmark:
      return "BOOKMARK";
    case EventType::kError:
      return "ERROR";
  }
  return "UNKNOWN";
}

absl::Status WatchStream::ForEach(const std::function<bool(const WatchEvent&)>& fn) {
  WatchEvent event;
  while (Next(&event)) {
    if (!fn(event)) return status();
  }
  return status();
}

absl::StatusOr<nlohmann::json> Client::ListEach(
    const ResourceRef& ref, absl::string_view ns, const ListOptions& options,
    const std::function<void(nlohmann::json item)>& each) {
  absl::StatusOr<nlohmann::json> page = List(ref, ns, options);
  if (!page.ok()) return page;
  auto items = page->find("items");
  if (items != page->end() && items->is_array()) {
    for (nlohmann::json& item : *items) each(std::move(item));
  }
  if (page->is_object()) (*page)["items"] = nlohmann::json::array();
  return page;
}

absl::StatusOr<nlohmann::json> Client::ListAll(const ResourceRef& ref, absl::string_view ns,
                                               ListOptions options) {
  if (options.limit <= 0) options.limit = 500;
  options.continue_token.clear();
  nlohmann::json all;
  while (true) {
    absl::StatusOr<nlohmann::json> page = List(ref, ns, options);
    if (!page.ok()) return page.status();
    nlohmann::json items = nlohmann::json::array();
    if (page->contains("items") && (*page)["items"].is_array()) items = std::move((*page)["items"]);
    const std::string next = MetadataString(*page, "continue");
    if (all.is_null()) {
      all = std::move(*page);
      all["items"] = nlohmann::json::array();
      if (all.contains("metadata") && all["metadata"].is_object()) {
        all["metadata"].erase("continue");
        all["metadata"].erase("remainingItemCount");
      }
    }
    for (nlohmann::json& item : items) all["items"].push_back(std::move(item));
    if (next.empty()) return all;
    options.continue_token = next;
    // A continued list is served from the snapshot named by the token.
    options.resource_version.clear();
    options.resource_version_match.clear();
  }
}

absl::StatusOr<nlohmann::json> Client::MergePatch(const ResourceRef& ref, absl::string_view ns,
                                                  absl::string_view name,
                                                  const nlohmann::json& patch,
                                                  const PatchOptions& options) {
  return Patch(ref, ns, name, PatchType::kMerge, patch, options);
}

absl::StatusOr<nlohmann::json> Client::JsonPatch(const ResourceRef& ref, absl::string_view ns,
                                                 absl::string_view name, const nlohmann::json& ops,
                                                 const PatchOptions& options) {
  return Patch(ref, ns, name, PatchType::kJson, ops, options);
}

absl::StatusOr<nlohmann::json> Client::Apply(const ResourceRef& ref, absl::string_view ns,
                                             const nlohmann::json& object,
                                             absl::string_view field_manager, bool force) {
  const std::string name = MetadataString(object, "name");
  if (name.empty()) return absl::InvalidArgumentError("apply: object has no metadata.name");
  PatchOptions options;
  options.field_manager = std::string(field_manager);
  options.force = force;
  return Patch(ref, ns, name, PatchType::kApply, object, options);
}

absl::StatusOr<nlohmann::json> Client::UpdateStatus(const ResourceRef& ref, absl::string_view ns,
                                                    const nlohmann::json& object,
                                                    UpdateOptions options) {
  options.subresource = "status";
  return Update(ref, ns, object, options);
}

absl::StatusOr<nlohmann::json> Client::PatchStatus(const ResourceRef& ref, absl::string_view ns,
                                                   absl::string_view name, PatchType type,
                                                   const nlohmann::json& patch,
                                                   PatchOptions options) {
  options.subresource = "status";
  return Patch(ref, ns, name, type, patch, options);
}

}  // namespace weir::kube
