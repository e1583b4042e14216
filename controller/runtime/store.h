// Store: the informer cache. A thread-safe, indexed map from object key
// ("namespace/name", or "name" for cluster-scoped objects) to an immutable
// snapshot of the object.
//
// Contract:
//   - Snapshots: every read returns ObjectPtr (shared_ptr<const json>). A
//     stored snapshot is never modified; an update replaces the pointer. So a
//     reader never sees a half-updated object and never copies a big one;
//     holding an ObjectPtr keeps that version alive after it is replaced.
//   - Transform: every object passes through the store's Transform before it
//     is stored, so only the fields controllers read are kept (see
//     TransformFor() and the Pod/Job transforms below). Index functions and
//     readers see the transformed object.
//   - Indexes: by owner uid (every
//     metadata.ownerReferences[].uid) unless disabled; by label "key=value"
//     for the label keys named in StoreOptions::indexed_label_keys; plus any
//     custom index added with AddIndex(). Index lookups return objects in key
//     order.
//   - Replace() swaps the whole content (a relist) and returns the deltas
//     that turn the old content into the new one: added, modified (the
//     resourceVersion changed) and deleted (gone from the new list) objects.
//     Objects whose resourceVersion did not change keep their old snapshot
//     and produce no delta.
//
// Memory: objects are kept encoded (MessagePack) and decoded on read; a
// decoded snapshot is shared by every reader until the last one drops it (see
// Entry). So the cache holds a few hundred bytes per object, not the
// several KiB of a nlohmann::json tree, and a read of an object nobody holds
// costs a decode (microseconds for a transformed Pod).
//
// Thread-safety: all methods are safe for concurrent use; reads and writes
// take the store's lock (reads briefly, to decode or share a snapshot). Index functions and the
// transform run under the store's lock and must not call back into the store.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "kube/client.h"
#include "nlohmann/json.hpp"

namespace weir::runtime {

// An immutable snapshot of a cached object.
using ObjectPtr = std::shared_ptr<const nlohmann::json>;

// Reduces an object to the fields worth keeping. Takes ownership of the
// object and returns the reduced one. Must be deterministic and must keep
// metadata.name, metadata.namespace and metadata.resourceVersion.
using Transform = std::function<nlohmann::json(nlohmann::json)>;

// The values an object has in an index (possibly none, possibly several).
using IndexFunc = std::function<std::vector<std::string>(const nlohmann::json&)>;

// Built-in index names.
inline constexpr char kOwnerUidIndex[] = "owner-uid";
inline constexpr char kLabelIndex[] = "label";  // values are "key=value"

// "namespace/name", or "name" when `ns` is empty.
std::string ObjectKey(absl::string_view ns, absl::string_view name);
// The key of `object` from its metadata; empty if it has no name.
std::string ObjectKey(const nlohmann::json& object);
// metadata.resourceVersion, or "" if absent.
std::string ResourceVersionOf(const nlohmann::json& object);

// ---- Transforms ------------------------------------------------------------

namespace transforms {

// Keeps everything but metadata.managedFields and the
// kubectl.kubernetes.io/last-applied-configuration annotation. The default
// for resources without a specific transform (weir's own kinds, ConfigMaps).
nlohmann::json StripBookkeeping(nlohmann::json object);

// Keeps apiVersion, kind and from metadata: name, namespace, uid,
// resourceVersion, generation, creationTimestamp, deletionTimestamp,
// deletionGracePeriodSeconds, labels, finalizers, ownerReferences and the
// annotations under weir.dev/ and sim.weir.dev/.
nlohmann::json MinimalMetadata(nlohmann::json object);

// MinimalMetadata plus spec.nodeName, spec.containers[].{name,resources},
// spec.initContainers[].{name,restartPolicy,resources} and
// status.{phase,reason,message,startTime}, status.conditions[].{type,status,
// reason,message,lastTransitionTime} and status.(init)containerStatuses[].
// {name,state}: what lifecycle's classifier and the reconcilers read. The
// job controller's labels (controller-uid, job-name and their
// batch.kubernetes.io/ forms) are dropped; the ownerReference names the Job.
nlohmann::json Pod(nlohmann::json object);

// MinimalMetadata (without the job controller's labels) plus the whole spec
// (the JobFlow planner rebuilds an attempt from a previous attempt's Job),
// status.startTime and status.conditions[].{type,status,reason,message,
// lastTransitionTime}. Not the pod counts (active, ready, succeeded...) nor
// completionTime: the reconcilers read the pods themselves.
nlohmann::json Job(nlohmann::json object);

}  // namespace transforms

// The transform weir uses for `resource`: Pod and Job for pods and
// batch/v1 jobs, StripBookkeeping otherwise.
Transform TransformFor(const kube::ResourceRef& resource);

// ---- Store -----------------------------------------------------------------

struct StoreOptions {
  // Applied to every inserted object; null keeps objects unchanged.
  Transform transform;
  // Maintain the owner-uid index.
  bool index_owner_uid = true;
  // Label keys indexed in kLabelIndex (e.g. "weir.dev/batch-uid").
  std::vector<std::string> indexed_label_keys;
  // The last `keep_decoded` objects inserted or decoded by Get or an index
  // read stay decoded (strong references) after their readers let go, so
  // that the reads an event brings (the old version, the reconcile's) find
  // them without decoding again. Whole-list reads (List, ListNamespace) keep
  // nothing: a scan would flush the objects in use. Memory: at most that
  // many trees besides the encodings.
  size_t keep_decoded = 0;
};

// One change a write made, as handlers want it.
struct Delta {
  enum class Type { kAdded, kModified, kDeleted };
  Type type = Type::kAdded;
  ObjectPtr old_object;  // null for kAdded
  ObjectPtr object;      // the new object; for kDeleted the last known state
};

class Store {
 public:
  explicit Store(StoreOptions options = {});
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Adds a custom index and indexes the objects already stored.
  // Fails with AlreadyExists if `name` is taken (built-in names included).
  absl::Status AddIndex(absl::string_view name, IndexFunc fn);

  // ---- Writes (the reflector's) ----

  // Inserts or replaces `object` (after the transform). Returns the delta:
  // kAdded or kModified. If the stored object has the same non-empty
  // resourceVersion the store is unchanged and nullopt is returned.
  std::optional<Delta> Upsert(nlohmann::json object);

  // Removes the object with the key of `object` (a watch DELETED event's
  // final state). The kDeleted delta carries the transformed `object` and
  // the stored snapshot as old_object (null if it was not stored).
  Delta Remove(nlohmann::json object);

  // Replaces the whole content with `objects` (after the transform) and
  // returns the deltas, deletes first, then adds and modifications, each in
  // key order.
  std::vector<Delta> Replace(std::vector<nlohmann::json> objects);
  // The two halves of Replace(), for a reflector that prepares each page of
  // a list as it arrives. Prepare(object) is `object` transformed and
  // encoded, compact, as ReplacePrepared takes it (null if it has no name).
  // ReplacePrepared replaces the whole content with the prepared objects and
  // calls `deliver` with each delta, in Replace()'s order, after the store
  // is updated and its lock released; each delta's objects are decoded just
  // before its call, so a large list never exists decoded all at once.
  nlohmann::json Prepare(nlohmann::json object) const;
  void ReplacePrepared(std::vector<nlohmann::json> prepared,
                       const std::function<void(const Delta&)>& deliver);

  // ---- Reads ----

  ObjectPtr Get(absl::string_view key) const;
  ObjectPtr Get(absl::string_view ns, absl::string_view name) const {
    return Get(ObjectKey(ns, name));
  }
  // All objects in key order.
  std::vector<ObjectPtr> List() const;
  std::vector<std::string> ListKeys() const;
  // Objects in `ns` (all when empty), in key order. No index: a
  // namespace's keys are adjacent in the map.
  std::vector<ObjectPtr> ListNamespace(absl::string_view ns) const;
  // Objects whose index `index` has `value`. Empty if there is no such
  // index (or no such object).
  std::vector<ObjectPtr> ByIndex(absl::string_view index, absl::string_view value) const;
  // Objects with an ownerReference to `uid`.
  std::vector<ObjectPtr> ByOwner(absl::string_view uid) const {
    return ByIndex(kOwnerUidIndex, uid);
  }
  // Objects labelled key=value. REQUIRES: `key` is in indexed_label_keys.
  std::vector<ObjectPtr> ByLabel(absl::string_view key, absl::string_view value) const;
  bool HasIndex(absl::string_view name) const;
  size_t size() const;

 private:
  // value -> keys of the objects with that value.
  using Index = absl::btree_map<std::string, absl::btree_set<std::string>, std::less<>>;
  struct IndexDef {
    IndexFunc fn;
    Index entries;
  };

  // A stored object: its MessagePack encoding (a few times smaller than the
  // nlohmann::json tree, whose every member is a std::map node and a
  // std::string) plus a weak reference to the decoded snapshot. While any
  // reader holds that snapshot, reads return the same pointer; afterwards the
  // next read decodes it again. REQUIRES: mu_ held exclusively for Snapshot()
  // and Decode().
  class Entry {
   public:
    explicit Entry(const ObjectPtr& object);
    Entry(std::shared_ptr<const std::string> packed, std::string resource_version);
    ObjectPtr Snapshot() const;
    // The decoded snapshot if a reader still holds it, else null.
    ObjectPtr Live() const { return live_.lock(); }
    // Decodes the encoding afresh and remembers the result as the snapshot.
    ObjectPtr Decode() const;
    const std::string& resource_version() const { return resource_version_; }
    const std::shared_ptr<const std::string>& packed() const { return packed_; }

   private:
    std::shared_ptr<const std::string> packed_;
    std::string resource_version_;
    mutable std::weak_ptr<const nlohmann::json> live_;
  };

  nlohmann::json TransformObject(nlohmann::json object) const;
  // `entry`'s snapshot; a decoded one joins recent_.
  ObjectPtr Read(const Entry& entry) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Keeps `object` in recent_, dropping the oldest beyond keep_decoded.
  void KeepDecoded(ObjectPtr object) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void IndexObject(const std::string& key, const nlohmann::json& object)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UnindexObject(const std::string& key, const nlohmann::json& object)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Stores `object` under `key`, keeping the indexes in step.
  void PutLocked(const std::string& key, const ObjectPtr& object, const ObjectPtr& old)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const StoreOptions options_;
  mutable absl::Mutex mu_;
  // Invariant: for every index I and every stored (key, obj), key is in
  // I.entries[v] exactly for the values v in I.fn(*obj); no other entries
  // exist (empty value sets are erased).
  absl::btree_map<std::string, Entry, std::less<>> objects_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, IndexDef, std::less<>> indexes_ ABSL_GUARDED_BY(mu_);
  // The objects kept decoded (StoreOptions::keep_decoded), oldest first.
  mutable std::deque<ObjectPtr> recent_ ABSL_GUARDED_BY(mu_);
};

}  // namespace weir::runtime
