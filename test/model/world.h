// The model checker's world (model.h): one owner (a Batch or a JobFlow), its
// JobTemplates, Jobs and pods as the API server holds them, the clock, and
// what the world did to each pod (the facts the liveness check judges the
// final phase by). It is a value: copying it forks the world, so the search
// can branch at every move.
//
// ModelClient is a kube::Client over a World, so the reconcilers' real
// OwnerWrites (owner_writes.h) carries out each plan against it in their
// real order, with their real conditions (resourceVersion, uid, live GET).
// It fails the write calls a FaultPlan names. Every stored change is also
// appended, with its resourceVersion, to the world's history, which the
// independent oracle (test/oracle/history.h) judges.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "kube/client.h"
#include "nlohmann/json.hpp"
#include "test/oracle/history.h"

namespace weir::model {

// One stored change, as a watch would deliver it. The history is shared
// between forks of a world (a persistent list), so forking is cheap.
struct Change {
  oracle::Kind kind;
  nlohmann::json event;  // {"type", "object"}
  std::shared_ptr<const Change> previous;
};

class World {
 public:
  // Everything a reconcile reads from its caches.
  struct View {
    std::optional<nlohmann::json> owner;
    std::map<std::string, nlohmann::json> templates, jobs, pods;  // by name

    bool operator==(const View&) const = default;
  };

  // `owner` is stored (uid, resourceVersion, generation 1, the admission
  // finalizer); `templates` too.
  World(nlohmann::json owner, std::vector<nlohmann::json> templates, absl::Time now);

  const View& view() const { return view_; }
  View& mutable_view() { return view_; }
  absl::Time now() const { return now_; }
  void set_now(absl::Time now) { now_ = now; }
  bool is_flow() const { return flow_; }
  const std::shared_ptr<const Change>& history() const { return history_; }

  // What the world did to a Job's pod ("Succeeded", "Error", "OOMKilled",
  // "Evicted", "PodDeleted", "ImagePull", "Stopped" for weir's own stop,
  // "Rejected" for a Job the API server refused), by Job name.
  std::map<std::string, std::string>& facts() { return facts_; }
  const std::map<std::string, std::string>& facts() const { return facts_; }

  // Stores a change to an object (stamping resourceVersion) or removes it,
  // and records it in the history.
  nlohmann::json& Store(oracle::Kind kind, nlohmann::json object);
  void Remove(oracle::Kind kind, const std::string& name);
  // Stores a JobTemplate (not part of the oracle's history).
  void StoreTemplate(nlohmann::json object);
  // Removes what the API server would now remove: pods being deleted with
  // no finalizer and no running container, Jobs being deleted with no pod
  // (foreground), the owner being deleted with no finalizer.
  void Collect();

  // A canonical encoding for deduplication: resourceVersions are replaced
  // by their rank, uids and the history left out.
  static nlohmann::json Canonical(const View& view);
  nlohmann::json Canonical() const;

 private:
  bool flow_ = false;
  View view_;
  absl::Time now_;
  int64_t rv_ = 100;
  int uids_ = 0;
  std::map<std::string, std::string> facts_;
  std::shared_ptr<const Change> history_;
};

// Which write call of a reconcile fails, and how. Write calls are creates,
// updates, patches and deletes, counted from 0 in the order made.
struct FaultPlan {
  enum class Kind {
    kNone,
    kRejected,        // 500 or 409: nothing stored, an error returned
    kTimeoutApplied,  // stored, but the caller sees a timeout
    kInvalid,         // a Job create refused as invalid (422)
  };
  int at_write = -1;
  Kind kind = Kind::kNone;
};

class ModelClient final : public kube::Client {
 public:
  ModelClient(World* world, FaultPlan faults) : world_(world), faults_(faults) {}

  int writes() const { return writes_; }
  // The kind of the write call number `n` (0-based): "create" etc.
  const std::vector<std::string>& write_verbs() const { return write_verbs_; }

  absl::StatusOr<nlohmann::json> Get(const kube::ResourceRef& ref, absl::string_view ns,
                                     absl::string_view name,
                                     const kube::GetOptions& options = {}) override;
  absl::StatusOr<nlohmann::json> List(const kube::ResourceRef& ref, absl::string_view ns,
                                      const kube::ListOptions& options = {}) override;
  absl::StatusOr<nlohmann::json> Create(const kube::ResourceRef& ref, absl::string_view ns,
                                        const nlohmann::json& object,
                                        const kube::CreateOptions& options = {}) override;
  absl::StatusOr<nlohmann::json> Update(const kube::ResourceRef& ref, absl::string_view ns,
                                        const nlohmann::json& object,
                                        const kube::UpdateOptions& options = {}) override;
  absl::StatusOr<nlohmann::json> Patch(const kube::ResourceRef& ref, absl::string_view ns,
                                       absl::string_view name, kube::PatchType type,
                                       const nlohmann::json& patch,
                                       const kube::PatchOptions& options = {}) override;
  absl::StatusOr<nlohmann::json> Delete(const kube::ResourceRef& ref, absl::string_view ns,
                                        absl::string_view name,
                                        const kube::DeleteOptions& options = {}) override;
  absl::StatusOr<std::unique_ptr<kube::WatchStream>> Watch(
      const kube::ResourceRef& ref, absl::string_view ns,
      const kube::WatchOptions& options = {}) override;

 private:
  // Counts a write call; the fault planned for it, if any.
  FaultPlan::Kind Enter(absl::string_view verb);
  // The error a failed write returns after (kTimeoutApplied) or instead of
  // (kRejected) its effect.
  static absl::Status FaultStatus(FaultPlan::Kind kind);

  World* world_;
  FaultPlan faults_;
  int writes_ = 0;
  std::vector<std::string> write_verbs_;
};

}  // namespace weir::model
