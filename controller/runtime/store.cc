#include "runtime/store.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace weir::runtime {

using nlohmann::json;

namespace {

const json* Member(const json& object, const char* name) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(name);
  return it == object.end() ? nullptr : &*it;
}

std::string StringMember(const json& object, const char* name) {
  const json* v = Member(object, name);
  return v != nullptr && v->is_string() ? v->get<std::string>() : std::string();
}

// Moves `from[name]` to `to[name]` if present.
void MoveMember(json& from, json& to, const char* name) {
  if (!from.is_object()) return;
  auto it = from.find(name);
  if (it != from.end()) to[name] = std::move(*it);
}

bool IsWeirAnnotation(const std::string& key) {
  return absl::StartsWith(key, "weir.dev/") || absl::StartsWith(key, "sim.weir.dev/");
}

std::vector<std::string> NamespaceValues(const json& object) {
  const json* metadata = Member(object, "metadata");
  return {metadata == nullptr ? std::string() : StringMember(*metadata, "namespace")};
}

std::vector<std::string> OwnerUidValues(const json& object) {
  std::vector<std::string> out;
  const json* metadata = Member(object, "metadata");
  const json* refs = metadata == nullptr ? nullptr : Member(*metadata, "ownerReferences");
  if (refs == nullptr || !refs->is_array()) return out;
  for (const json& ref : *refs) {
    std::string uid = StringMember(ref, "uid");
    if (!uid.empty()) out.push_back(std::move(uid));
  }
  return out;
}

IndexFunc LabelValues(std::vector<std::string> keys) {
  return [keys = std::move(keys)](const json& object) {
    std::vector<std::string> out;
    const json* metadata = Member(object, "metadata");
    const json* labels = metadata == nullptr ? nullptr : Member(*metadata, "labels");
    if (labels == nullptr) return out;
    for (const std::string& key : keys) {
      auto it = labels->find(key);
      if (it != labels->end() && it->is_string()) {
        out.push_back(absl::StrCat(key, "=", it->get<std::string>()));
      }
    }
    return out;
  };
}

}  // namespace

std::string ObjectKey(absl::string_view ns, absl::string_view name) {
  return ns.empty() ? std::string(name) : absl::StrCat(ns, "/", name);
}

std::string ObjectKey(const json& object) {
  const json* metadata = Member(object, "metadata");
  if (metadata == nullptr) return "";
  std::string name = StringMember(*metadata, "name");
  if (name.empty()) return "";
  return ObjectKey(StringMember(*metadata, "namespace"), name);
}

std::string ResourceVersionOf(const json& object) {
  const json* metadata = Member(object, "metadata");
  return metadata == nullptr ? std::string() : StringMember(*metadata, "resourceVersion");
}

// ---- Transforms ------------------------------------------------------------

namespace transforms {

json StripBookkeeping(json object) {
  if (!object.is_object()) return object;
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return object;
  metadata->erase("managedFields");
  auto annotations = metadata->find("annotations");
  if (annotations != metadata->end() && annotations->is_object()) {
    annotations->erase("kubectl.kubernetes.io/last-applied-configuration");
    if (annotations->empty()) metadata->erase(annotations);
  }
  return object;
}

json MinimalMetadata(json object) {
  json out = json::object();
  if (!object.is_object()) return out;
  MoveMember(object, out, "apiVersion");
  MoveMember(object, out, "kind");
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return out;
  json& m = *metadata;
  json kept = json::object();
  for (const char* name :
       {"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
        "deletionTimestamp", "labels", "finalizers", "ownerReferences"}) {
    MoveMember(m, kept, name);
  }
  auto annotations = m.find("annotations");
  if (annotations != m.end() && annotations->is_object()) {
    json weir = json::object();
    for (auto it = annotations->begin(); it != annotations->end(); ++it) {
      if (IsWeirAnnotation(it.key())) weir[it.key()] = std::move(it.value());
    }
    if (!weir.empty()) kept["annotations"] = std::move(weir);
  }
  out["metadata"] = std::move(kept);
  return out;
}

json Pod(json object) {
  json spec = json::object();
  json status = json::object();
  if (object.is_object()) {
    if (auto s = object.find("spec"); s != object.end() && s->is_object()) {
      MoveMember(*s, spec, "nodeName");
      if (auto cs = s->find("containers"); cs != s->end() && cs->is_array()) {
        json containers = json::array();
        for (json& c : *cs) {
          json kept = json::object();
          MoveMember(c, kept, "name");
          MoveMember(c, kept, "resources");
          containers.push_back(std::move(kept));
        }
        spec["containers"] = std::move(containers);
      }
    }
    if (auto s = object.find("status"); s != object.end() && s->is_object()) {
      for (const char* name : {"phase", "reason", "message", "conditions", "startTime"}) {
        MoveMember(*s, status, name);
      }
      for (const char* name : {"containerStatuses", "initContainerStatuses"}) {
        auto cs = s->find(name);
        if (cs == s->end() || !cs->is_array()) continue;
        json statuses = json::array();
        for (json& c : *cs) {
          if (c.is_object()) {
            c.erase("image");
            c.erase("imageID");
            c.erase("containerID");
          }
          statuses.push_back(std::move(c));
        }
        status[name] = std::move(statuses);
      }
    }
  }
  json out = MinimalMetadata(std::move(object));
  if (!spec.empty()) out["spec"] = std::move(spec);
  if (!status.empty()) out["status"] = std::move(status);
  return out;
}

json Job(json object) {
  json spec = json::object();
  json status;
  if (object.is_object()) {
    if (auto s = object.find("spec"); s != object.end() && s->is_object()) {
      MoveMember(*s, spec, "suspend");
      MoveMember(*s, spec, "backoffLimit");
    }
    if (auto s = object.find("status"); s != object.end()) status = std::move(*s);
  }
  json out = MinimalMetadata(std::move(object));
  if (!spec.empty()) out["spec"] = std::move(spec);
  if (!status.is_null()) out["status"] = std::move(status);
  return out;
}

}  // namespace transforms

Transform TransformFor(const kube::ResourceRef& resource) {
  if (resource.group.empty() && resource.resource == "pods") return transforms::Pod;
  if (resource.group == "batch" && resource.resource == "jobs") return transforms::Job;
  return transforms::StripBookkeeping;
}

// ---- Store -----------------------------------------------------------------

Store::Store(StoreOptions options) : options_(std::move(options)) {
  indexes_[kNamespaceIndex].fn = NamespaceValues;
  if (options_.index_owner_uid) indexes_[kOwnerUidIndex].fn = OwnerUidValues;
  if (!options_.indexed_label_keys.empty()) {
    indexes_[kLabelIndex].fn = LabelValues(options_.indexed_label_keys);
  }
}

absl::Status Store::AddIndex(absl::string_view name, IndexFunc fn) {
  absl::MutexLock l(&mu_);
  if (indexes_.find(name) != indexes_.end()) {
    return absl::AlreadyExistsError(absl::StrCat("index ", name, " already exists"));
  }
  IndexDef& def = indexes_[std::string(name)];
  def.fn = std::move(fn);
  for (const auto& [key, object] : objects_) {
    for (std::string& v : def.fn(*object)) def.entries[std::move(v)].insert(key);
  }
  return absl::OkStatus();
}

json Store::TransformObject(json object) const {
  if (!options_.transform) return object;
  return options_.transform(std::move(object));
}

void Store::IndexObject(const std::string& key, const json& object) {
  for (auto& [name, def] : indexes_) {
    for (std::string& v : def.fn(object)) def.entries[std::move(v)].insert(key);
  }
}

void Store::UnindexObject(const std::string& key, const json& object) {
  for (auto& [name, def] : indexes_) {
    for (const std::string& v : def.fn(object)) {
      auto it = def.entries.find(v);
      if (it == def.entries.end()) continue;
      it->second.erase(key);
      if (it->second.empty()) def.entries.erase(it);
    }
  }
}

void Store::PutLocked(const std::string& key, ObjectPtr object, const ObjectPtr& old) {
  if (old != nullptr) UnindexObject(key, *old);
  IndexObject(key, *object);
  objects_[key] = std::move(object);
}

std::optional<Delta> Store::Upsert(json object) {
  std::string key = ObjectKey(object);
  if (key.empty()) return std::nullopt;
  auto stored = std::make_shared<const json>(TransformObject(std::move(object)));
  absl::MutexLock l(&mu_);
  ObjectPtr old;
  if (auto it = objects_.find(key); it != objects_.end()) old = it->second;
  if (old != nullptr) {
    const std::string rv = ResourceVersionOf(*stored);
    if (!rv.empty() && rv == ResourceVersionOf(*old)) return std::nullopt;
  }
  Delta delta;
  delta.type = old == nullptr ? Delta::Type::kAdded : Delta::Type::kModified;
  delta.old_object = old;
  delta.object = stored;
  PutLocked(key, std::move(stored), old);
  return delta;
}

Delta Store::Remove(json object) {
  std::string key = ObjectKey(object);
  Delta delta;
  delta.type = Delta::Type::kDeleted;
  delta.object = std::make_shared<const json>(TransformObject(std::move(object)));
  absl::MutexLock l(&mu_);
  auto it = objects_.find(key);
  if (it != objects_.end()) {
    delta.old_object = it->second;
    UnindexObject(key, *it->second);
    objects_.erase(it);
  }
  return delta;
}

std::vector<Delta> Store::Replace(std::vector<json> objects) {
  // Transform outside the lock: it is the expensive part of a relist.
  absl::btree_map<std::string, ObjectPtr> incoming;
  for (json& object : objects) {
    std::string key = ObjectKey(object);
    if (key.empty()) continue;
    incoming[std::move(key)] = std::make_shared<const json>(TransformObject(std::move(object)));
  }
  std::vector<Delta> deletes;
  std::vector<Delta> changes;
  absl::MutexLock l(&mu_);
  for (auto it = objects_.begin(); it != objects_.end();) {
    if (incoming.contains(it->first)) {
      ++it;
      continue;
    }
    UnindexObject(it->first, *it->second);
    deletes.push_back({Delta::Type::kDeleted, it->second, it->second});
    it = objects_.erase(it);
  }
  for (auto& [key, object] : incoming) {
    ObjectPtr old;
    if (auto it = objects_.find(key); it != objects_.end()) old = it->second;
    if (old != nullptr) {
      const std::string rv = ResourceVersionOf(*object);
      if (!rv.empty() && rv == ResourceVersionOf(*old)) continue;  // unchanged: keep snapshot
    }
    changes.push_back({old == nullptr ? Delta::Type::kAdded : Delta::Type::kModified, old, object});
    PutLocked(key, std::move(object), old);
  }
  deletes.insert(deletes.end(), std::make_move_iterator(changes.begin()),
                 std::make_move_iterator(changes.end()));
  return deletes;
}

ObjectPtr Store::Get(absl::string_view key) const {
  absl::ReaderMutexLock l(&mu_);
  auto it = objects_.find(key);
  return it == objects_.end() ? nullptr : it->second;
}

std::vector<ObjectPtr> Store::List() const {
  absl::ReaderMutexLock l(&mu_);
  std::vector<ObjectPtr> out;
  out.reserve(objects_.size());
  for (const auto& [key, object] : objects_) out.push_back(object);
  return out;
}

std::vector<std::string> Store::ListKeys() const {
  absl::ReaderMutexLock l(&mu_);
  std::vector<std::string> out;
  out.reserve(objects_.size());
  for (const auto& [key, object] : objects_) out.push_back(key);
  return out;
}

std::vector<ObjectPtr> Store::ListNamespace(absl::string_view ns) const {
  if (ns.empty()) return List();
  return ByIndex(kNamespaceIndex, ns);
}

std::vector<ObjectPtr> Store::ByIndex(absl::string_view index, absl::string_view value) const {
  absl::ReaderMutexLock l(&mu_);
  std::vector<ObjectPtr> out;
  auto def = indexes_.find(index);
  if (def == indexes_.end()) return out;
  auto keys = def->second.entries.find(value);
  if (keys == def->second.entries.end()) return out;
  out.reserve(keys->second.size());
  for (const std::string& key : keys->second) {
    auto it = objects_.find(key);
    // The index invariant guarantees the object exists.
    if (it != objects_.end()) out.push_back(it->second);
  }
  return out;
}

std::vector<ObjectPtr> Store::ByLabel(absl::string_view key, absl::string_view value) const {
  return ByIndex(kLabelIndex, absl::StrCat(key, "=", value));
}

bool Store::HasIndex(absl::string_view name) const {
  absl::ReaderMutexLock l(&mu_);
  return indexes_.find(name) != indexes_.end();
}

size_t Store::size() const {
  absl::ReaderMutexLock l(&mu_);
  return objects_.size();
}

}  // namespace weir::runtime
