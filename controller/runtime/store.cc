#include "runtime/store.h"

#include <cstdint>
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
  for (const char* name : {"name", "namespace", "uid", "resourceVersion", "generation",
                           "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                           "labels", "finalizers", "ownerReferences"}) {
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

namespace {

// Copies the members `names` of each object in the array `from[name]` into
// a new array `to[name]` (non-objects are dropped; objects keep their place).
void KeepInEach(json& from, json& to, const char* name, std::initializer_list<const char*> names) {
  auto list = from.find(name);
  if (list == from.end() || !list->is_array()) return;
  json out = json::array();
  for (json& item : *list) {
    if (!item.is_object()) continue;
    json kept = json::object();
    for (const char* n : names) MoveMember(item, kept, n);
    out.push_back(std::move(kept));
  }
  to[name] = std::move(out);
}

// The labels the job controller puts on its pods (and in a Job's selector):
// they repeat the Job's name and uid, which the pod's ownerReference holds.
bool IsJobControllerLabel(const std::string& key) {
  return key == "controller-uid" || key == "job-name" ||
         key == "batch.kubernetes.io/controller-uid" || key == "batch.kubernetes.io/job-name";
}

void DropJobControllerLabels(json& object) {
  auto m = object.find("metadata");
  if (m == object.end() || !m->is_object()) return;
  auto labels = m->find("labels");
  if (labels == m->end() || !labels->is_object()) return;
  for (auto it = labels->begin(); it != labels->end();) {
    it = IsJobControllerLabel(it.key()) ? labels->erase(it) : std::next(it);
  }
}

// The members of a condition controllers read (not lastProbeTime or
// lastUpdateTime).
constexpr std::initializer_list<const char*> kConditionFields = {"type", "status", "reason",
                                                                 "message", "lastTransitionTime"};

}  // namespace

json Pod(json object) {
  json spec = json::object();
  json status = json::object();
  if (object.is_object()) {
    if (auto s = object.find("spec"); s != object.end() && s->is_object()) {
      MoveMember(*s, spec, "nodeName");
      KeepInEach(*s, spec, "containers", {"name", "resources"});
      KeepInEach(*s, spec, "initContainers", {"name", "restartPolicy", "resources"});
    }
    if (auto s = object.find("status"); s != object.end() && s->is_object()) {
      for (const char* name : {"phase", "reason", "message", "startTime"}) {
        MoveMember(*s, status, name);
      }
      KeepInEach(*s, status, "conditions", kConditionFields);
      for (const char* name : {"containerStatuses", "initContainerStatuses"}) {
        KeepInEach(*s, status, name, {"name", "state"});
      }
    }
  }
  json out = MinimalMetadata(std::move(object));
  DropJobControllerLabels(out);
  if (!spec.empty()) out["spec"] = std::move(spec);
  if (!status.empty()) out["status"] = std::move(status);
  return out;
}

json Job(json object) {
  json spec;
  json status = json::object();
  if (object.is_object()) {
    // The whole spec: the JobFlow planner builds a later attempt from the
    // previous attempt's Job when its JobTemplate has moved on
    // (reconcile::JobSpecOfChild), and the Batch planner reads the main
    // container's resources.
    if (auto s = object.find("spec"); s != object.end() && s->is_object()) spec = std::move(*s);
    if (auto s = object.find("status"); s != object.end() && s->is_object()) {
      MoveMember(*s, status, "startTime");
      KeepInEach(*s, status, "conditions", kConditionFields);
    }
  }
  json out = MinimalMetadata(std::move(object));
  DropJobControllerLabels(out);
  if (!spec.is_null()) out["spec"] = std::move(spec);
  if (!status.empty()) out["status"] = std::move(status);
  return out;
}

}  // namespace transforms

Transform TransformFor(const kube::ResourceRef& resource) {
  if (resource.group.empty() && resource.resource == "pods") return transforms::Pod;
  if (resource.group == "batch" && resource.resource == "jobs") return transforms::Job;
  return transforms::StripBookkeeping;
}

// ---- Store -----------------------------------------------------------------

// ---- Entry -----------------------------------------------------------------

namespace {

std::shared_ptr<const std::string> Pack(const json& object) {
  std::vector<std::uint8_t> bytes = json::to_msgpack(object);
  // A string of exactly the encoded size: no spare capacity kept.
  return std::make_shared<const std::string>(bytes.begin(), bytes.end());
}

// Not json::from_msgpack: it returns `res ? result : discarded`, which copies
// the whole decoded tree once more (a third of a decode's time). The same
// SAX parser it uses, with the result moved.
ObjectPtr Unpack(const std::string& packed) {
  json object;
  nlohmann::detail::json_sax_dom_parser<json> parser(object, /*allow_exceptions_=*/true);
  json::sax_parse(packed, &parser, json::input_format_t::msgpack);
  return std::make_shared<const json>(std::move(object));
}

}  // namespace

Store::Entry::Entry(const ObjectPtr& object)
    : packed_(Pack(*object)), resource_version_(ResourceVersionOf(*object)), live_(object) {}

Store::Entry::Entry(std::shared_ptr<const std::string> packed, std::string resource_version)
    : packed_(std::move(packed)), resource_version_(std::move(resource_version)) {}

ObjectPtr Store::Entry::Snapshot() const {
  if (ObjectPtr live = live_.lock()) return live;
  return Decode();
}

ObjectPtr Store::Entry::Decode() const {
  ObjectPtr object = Unpack(*packed_);
  live_ = object;
  return object;
}

// ---- Store -----------------------------------------------------------------

Store::Store(StoreOptions options) : options_(std::move(options)) {
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
  for (const auto& [key, entry] : objects_) {
    const ObjectPtr object = entry.Snapshot();
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

ObjectPtr Store::Read(const Entry& entry) const {
  if (ObjectPtr live = entry.Live()) return live;
  ObjectPtr object = entry.Decode();
  KeepDecoded(object);
  return object;
}

void Store::KeepDecoded(ObjectPtr object) const {
  if (options_.keep_decoded == 0) return;
  if (recent_.size() == options_.keep_decoded) recent_.pop_front();
  recent_.push_back(std::move(object));
}

void Store::PutLocked(const std::string& key, const ObjectPtr& object, const ObjectPtr& old) {
  if (old != nullptr) UnindexObject(key, *old);
  IndexObject(key, *object);
  objects_.insert_or_assign(key, Entry(object));
  KeepDecoded(object);
}

std::optional<Delta> Store::Upsert(json object) {
  std::string key = ObjectKey(object);
  if (key.empty()) return std::nullopt;
  auto stored = std::make_shared<const json>(TransformObject(std::move(object)));
  absl::MutexLock l(&mu_);
  ObjectPtr old;
  if (auto it = objects_.find(key); it != objects_.end()) {
    const std::string rv = ResourceVersionOf(*stored);
    if (!rv.empty() && rv == it->second.resource_version()) return std::nullopt;
    old = it->second.Snapshot();
  }
  Delta delta;
  delta.type = old == nullptr ? Delta::Type::kAdded : Delta::Type::kModified;
  delta.old_object = old;
  delta.object = stored;
  PutLocked(key, stored, old);
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
    delta.old_object = it->second.Snapshot();
    UnindexObject(key, *delta.old_object);
    objects_.erase(it);
  }
  return delta;
}

json Store::Prepare(json object) const {
  std::string key = ObjectKey(object);
  if (key.empty()) return json();
  json transformed = TransformObject(std::move(object));
  std::string rv = ResourceVersionOf(transformed);
  json::binary_t packed(json::to_msgpack(transformed));
  transformed = json();
  packed.shrink_to_fit();
  return json::array({std::move(key), std::move(rv), json::binary(std::move(packed))});
}

std::vector<Delta> Store::Replace(std::vector<json> objects) {
  // Transform outside the lock: it is the expensive part of a relist.
  for (json& object : objects) object = Prepare(std::move(object));
  std::vector<Delta> deltas;
  ReplacePrepared(std::move(objects), [&deltas](const Delta& d) { deltas.push_back(d); });
  return deltas;
}

void Store::ReplacePrepared(std::vector<json> prepared,
                            const std::function<void(const Delta&)>& deliver) {
  struct Incoming {
    std::string rv;
    std::shared_ptr<const std::string> packed;
  };
  absl::btree_map<std::string, Incoming> incoming;
  for (json& p : prepared) {
    if (!p.is_array() || p.size() != 3 || !p[0].is_string() || !p[2].is_binary()) continue;
    const json::binary_t& bytes = p[2].get_binary();
    incoming[p[0].get<std::string>()] = {
        p[1].get<std::string>(), std::make_shared<const std::string>(bytes.begin(), bytes.end())};
    p = json();
  }
  prepared = {};
  // What changed, decoded only when delivered (one at a time, so a large
  // list never exists as trees all at once).
  struct Change {
    Delta::Type type;
    ObjectPtr old_live;  // the old snapshot if a reader holds it
    std::shared_ptr<const std::string> old_packed;
    std::shared_ptr<const std::string> packed;
  };
  std::vector<Change> deletes;
  std::vector<Change> changes;
  {
    absl::MutexLock l(&mu_);
    for (auto it = objects_.begin(); it != objects_.end();) {
      if (incoming.contains(it->first)) {
        ++it;
        continue;
      }
      UnindexObject(it->first, *it->second.Snapshot());
      deletes.push_back({Delta::Type::kDeleted, it->second.Live(), it->second.packed(), nullptr});
      it = objects_.erase(it);
    }
    for (auto& [key, in] : incoming) {
      ObjectPtr old_live;
      std::shared_ptr<const std::string> old_packed;
      if (auto it = objects_.find(key); it != objects_.end()) {
        if (!in.rv.empty() && in.rv == it->second.resource_version()) continue;  // keep it
        old_live = it->second.Live();
        old_packed = it->second.packed();
        UnindexObject(key, *it->second.Snapshot());
      }
      IndexObject(key, *Unpack(*in.packed));
      objects_.insert_or_assign(key, Entry(in.packed, std::move(in.rv)));
      changes.push_back({old_packed == nullptr ? Delta::Type::kAdded : Delta::Type::kModified,
                         std::move(old_live), std::move(old_packed), in.packed});
    }
  }
  incoming.clear();
  for (std::vector<Change>* list : {&deletes, &changes}) {
    for (Change& c : *list) {
      Delta delta;
      delta.type = c.type;
      if (c.old_live != nullptr) {
        delta.old_object = std::move(c.old_live);
      } else if (c.old_packed != nullptr) {
        delta.old_object = Unpack(*c.old_packed);
      }
      delta.object = c.packed != nullptr ? Unpack(*c.packed) : delta.old_object;
      c = Change{};
      deliver(delta);
    }
    *list = {};
  }
}

ObjectPtr Store::Get(absl::string_view key) const {
  absl::MutexLock l(&mu_);
  auto it = objects_.find(key);
  return it == objects_.end() ? nullptr : Read(it->second);
}

std::vector<ObjectPtr> Store::List() const {
  absl::MutexLock l(&mu_);
  std::vector<ObjectPtr> out;
  out.reserve(objects_.size());
  for (const auto& [key, entry] : objects_) out.push_back(entry.Snapshot());
  return out;
}

std::vector<std::string> Store::ListKeys() const {
  absl::MutexLock l(&mu_);
  std::vector<std::string> out;
  out.reserve(objects_.size());
  for (const auto& [key, entry] : objects_) out.push_back(key);
  return out;
}

std::vector<ObjectPtr> Store::ListNamespace(absl::string_view ns) const {
  if (ns.empty()) return List();
  // Keys are "namespace/name", so a namespace's objects are adjacent.
  const std::string prefix = absl::StrCat(ns, "/");
  absl::MutexLock l(&mu_);
  std::vector<ObjectPtr> out;
  for (auto it = objects_.lower_bound(prefix);
       it != objects_.end() && absl::StartsWith(it->first, prefix); ++it) {
    out.push_back(it->second.Snapshot());
  }
  return out;
}

std::vector<ObjectPtr> Store::ByIndex(absl::string_view index, absl::string_view value) const {
  absl::MutexLock l(&mu_);
  std::vector<ObjectPtr> out;
  auto def = indexes_.find(index);
  if (def == indexes_.end()) return out;
  auto keys = def->second.entries.find(value);
  if (keys == def->second.entries.end()) return out;
  out.reserve(keys->second.size());
  for (const std::string& key : keys->second) {
    auto it = objects_.find(key);
    // The index invariant guarantees the object exists.
    if (it != objects_.end()) out.push_back(Read(it->second));
  }
  return out;
}

std::vector<ObjectPtr> Store::ByLabel(absl::string_view key, absl::string_view value) const {
  return ByIndex(kLabelIndex, absl::StrCat(key, "=", value));
}

bool Store::HasIndex(absl::string_view name) const {
  absl::MutexLock l(&mu_);
  return indexes_.find(name) != indexes_.end();
}

size_t Store::size() const {
  absl::MutexLock l(&mu_);
  return objects_.size();
}

}  // namespace weir::runtime
