// OwnerWrites: the API-server writes that the Batch and JobFlow reconcilers
// make on an owner object (a Batch or a JobFlow) and on its child Jobs, one
// code path for both kinds. Every write is conditional where a stale cache
// could otherwise overwrite newer state:
//   - finalizer changes are merge patches carrying the cached
//     resourceVersion (another writer in between is a Conflict, not lost);
//   - status goes through the status subresource with the cached
//     resourceVersion, so a status planned from a stale cache is refused and
//     planned again;
//   - a child is created only after a live GET of the owner (not the cache)
//     shows it is still the same object and not being deleted (docs/design.md
//     §4); AlreadyExists adopts the Job only if it is the owner's own child.
//
// Thread-safety: const methods only; safe to share between workers if the
// client is.
#pragma once

#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "api/meta.h"
#include "base/clock.h"
#include "kube/client.h"
#include "nlohmann/json.hpp"
#include "reconcile/children.h"
#include "reconcile/owner_plan.h"
#include "runtime/controller.h"
#include "runtime/event_recorder.h"
#include "runtime/log.h"
#include "runtime/metrics.h"
#include "runtime/recently_deleted.h"
#include "runtime/store.h"

namespace weir::reconcile {

// What the Batch and JobFlow reconcilers read and write through.
struct ReconcilerDeps {
  kube::Client* client = nullptr;
  const runtime::Store* owners = nullptr;  // the Batches, or the JobFlows
  const runtime::Store* jobs = nullptr;    // indexes the owner-uid label
  const runtime::Store* pods = nullptr;    // indexes the owner-uid label
  // Final states of deleted pods, by the owner-uid label.
  const runtime::RecentlyDeleted* deleted_pods = nullptr;
  const runtime::Store* templates = nullptr;
  runtime::EventRecorder* recorder = nullptr;
  runtime::MetricsRegistry* metrics = nullptr;
  runtime::Logger logger;
  Clock* clock = nullptr;
};

// Rounds of "confirm the Jobs the records name but the cache lacks, then
// plan again" before a reconcile gives up and retries later.
inline constexpr int kVerifyRounds = 4;

// While children are left that must be gone (before ResourcesReleased or the
// finalizer's removal), the owner lists them live again after half the time
// it has waited, within these bounds (issue 14: no LIST every second forever).
inline constexpr absl::Duration kChildrenWaitMin = absl::Seconds(1);
inline constexpr absl::Duration kChildrenWaitMax = absl::Seconds(30);

// What became of a child Job we asked the API server to create.
struct CreatedJob {
  // True if the Job exists now as the owner's child (created, or adopted
  // after AlreadyExists); false if the API server refused it as invalid.
  bool exists = false;
  std::string refused_message;  // the server's message when refused
};

// The writes a plan asks for after its creates, in the reconcilers' order.
struct Convergence {
  std::vector<std::string> delete_jobs;
  std::vector<PodRelease> release_pods;  // remove kPodFinalizer from these
  // The status sets ResourcesReleased: write it only once a live list finds
  // no child (the job controller, working from a stale view, may still create
  // a pod for a Job already deleted; found by the oracle).
  bool confirm_released = false;
  std::optional<nlohmann::json> status;  // the body's "status", if it changed
  bool remove_finalizer = false;         // the owner is being deleted and done
  bool delete_owner = false;             // ttlSecondsAfterFinished has passed
  bool has_events = false;               // the plan has Events to record
  std::optional<absl::Time> wake_at;
};

// The writes that carry `plan` out, moved from it; `status` is its status as
// the body's JSON.
template <typename Status>
Convergence ConvergenceOf(OwnerPlan<Status>& plan, std::optional<nlohmann::json> status) {
  Convergence c;
  c.delete_jobs = std::move(plan.delete_jobs);
  c.release_pods = std::move(plan.release_pods);
  c.confirm_released = plan.confirm_released;
  c.status = std::move(status);
  c.remove_finalizer = plan.remove_finalizer;
  c.delete_owner = plan.delete_owner;
  c.has_events = !plan.events.empty();
  c.wake_at = plan.wake_at;
  return c;
}

class OwnerWrites {
 public:
  // `owner_ref` is the owners' resource (Batches or JobFlows), `kind` their
  // kind. REQUIRES: `client` non-null and outliving this object.
  OwnerWrites(kube::Client* client, kube::ResourceRef owner_ref, std::string kind);

  // Adds (present) or removes weir.dev/cleanup on the cached `object`. A no-op
  // if it already is as asked; removing it from a vanished owner is not an
  // error.
  absl::Status SetFinalizer(const nlohmann::json& object, bool present) const;

  // Replaces the status of the cached `object` with `status` (the body's
  // "status"), conditional on the cached resourceVersion. Returns the object
  // as written (its new resourceVersion is what a further write must name).
  absl::StatusOr<nlohmann::json> WriteStatus(const nlohmann::json& object,
                                             nlohmann::json status) const;

  // The owner as the API server holds it now, or nullopt if it is gone,
  // replaced by a new object of the same name, or being deleted.
  absl::StatusOr<std::optional<nlohmann::json>> LiveOwner(const api::ObjectMeta& meta) const;

  // Creates `job`, a child of `owner` built by BuildChildJob, authorized by
  // `live_owner` (LiveOwner's answer): its metadata.generation goes on the
  // Job as kAnnotationOwnerGeneration. Errors other than "refused as invalid"
  // (and a foreign Job of the same name) are returned for the caller to retry.
  absl::StatusOr<CreatedJob> CreateJob(const ChildOwner& owner, nlohmann::json job,
                                       const nlohmann::json& live_owner) const;

  // Reads the Jobs `names` from the API server (to confirm what the cache may
  // not have seen yet): found ones are appended to `found` and their
  // addresses to `jobs`; NotFound ones are added to `gone`.
  absl::Status VerifyJobs(absl::string_view ns, const std::vector<std::string>& names,
                          std::deque<nlohmann::json>& found,
                          std::vector<const nlohmann::json*>& jobs,
                          absl::flat_hash_set<std::string>& gone) const;

  // Removes kPodFinalizer from the pods, each conditional on it still being
  // at the given index; a pod already gone is not an error.
  absl::Status ReleasePods(absl::string_view ns, const std::vector<PodRelease>& pods) const;

  // The owner `name` in `ns` is gone: removes kPodFinalizer from its deleted
  // pods still in `pods` (those labeled `name_label`=`name`), as nothing will
  // record them. Such a pod appears when the job controller, from a stale
  // view, creates one for a Job already deleted.
  absl::Status ReleaseOrphanPods(const runtime::Store& pods, absl::string_view ns,
                                 absl::string_view name_label, absl::string_view name) const;

  // Deletes Jobs by name with foreground propagation (pods get their grace
  // period; the Job goes after them); an already-gone Job is not an error.
  absl::Status DeleteJobs(absl::string_view ns, const std::vector<std::string>& names) const;

  // True if a live list finds no Job or pod of `owner` (ChildSelector) left.
  // Jobs still present and not yet being deleted are deleted again.
  absl::StatusOr<bool> ChildrenGone(const ChildOwner& owner) const;

  // Deletes the owner itself (its TTL has passed), conditional on its uid.
  absl::Status DeleteOwner(const api::ObjectMeta& meta) const;

  // True if the cached `object` is the very version a write of ours (status
  // or finalizer) replaced: the cache has not seen that write yet, and a plan
  // from it would be refused with a Conflict. The write's own watch event
  // brings the next reconcile. Forgets the owner once the cache has moved on.
  bool Superseded(const nlohmann::json& object) const;
  // The owner `key` (namespace/name) is gone: forgets it.
  void Forget(const std::string& key) const;

  // Carries out `c` on the cached `object`, whose children `children`
  // selects: deletes the Jobs, releases the pods, writes the status (one
  // that says ResourcesReleased only once a live list finds no child),
  // removes the finalizer once a live list finds no child left (requeueing
  // until then), deletes the owner, and asks to be woken at `wake_at`. Calls `record` once the
  // writes that make the plan true have succeeded (never if one fails).
  absl::StatusOr<runtime::Result> Converge(const nlohmann::json& object, const ChildOwner& children,
                                           const Convergence& c, absl::Time now,
                                           absl::FunctionRef<void()> record) const;

 private:
  // Remembers that our write replaced `object`'s version.
  void Replaced(const nlohmann::json& object) const;

  kube::Client* client_;
  kube::ResourceRef owner_ref_;
  std::string kind_;
  mutable absl::Mutex mu_;
  // namespace/name -> the resourceVersions our writes replaced since the
  // cache last showed a version of someone else's.
  mutable absl::flat_hash_map<std::string, std::vector<std::string>> replaced_ ABSL_GUARDED_BY(mu_);
};

// Plans an owner from the caches: fills `in`'s children (jobs, pods and the
// deleted pods' final states of owner uid `uid`, by `uid_label`) and calls
// `plan(in)`; while the plan names Jobs to confirm (`verify(plan)`: Jobs the
// records name but the cache lacks, maybe not seen yet), reads them from the
// API server into `in` and plans again, at most kVerifyRounds times.
// `Input` has the fields jobs, pods, deleted_pods and jobs_gone.
template <typename Input, typename PlanFn, typename VerifyFn>
auto PlanWithChildren(const ReconcilerDeps& deps, const OwnerWrites& writes,
                      absl::string_view uid_label, const api::ObjectMeta& meta, Input& in,
                      PlanFn plan, VerifyFn verify) -> absl::StatusOr<decltype(plan(in))> {
  const std::vector<runtime::ObjectPtr> jobs = deps.jobs->ByLabel(uid_label, meta.uid);
  const std::vector<runtime::ObjectPtr> pods = deps.pods->ByLabel(uid_label, meta.uid);
  for (const runtime::ObjectPtr& j : jobs) in.jobs.push_back(j.get());
  for (const runtime::ObjectPtr& p : pods) in.pods.push_back(p.get());
  std::vector<runtime::ObjectPtr> deleted_pods;
  const auto read_deleted_pods = [&] {
    deleted_pods = deps.deleted_pods->ByLabel(meta.uid);
    in.deleted_pods.clear();
    for (const runtime::ObjectPtr& p : deleted_pods) in.deleted_pods.push_back(p.get());
  };
  read_deleted_pods();
  std::deque<nlohmann::json> live;
  for (int round = 0; round < kVerifyRounds; ++round) {
    auto planned = plan(in);
    const std::vector<std::string> names = verify(planned);
    if (names.empty()) return planned;
    if (absl::Status s = writes.VerifyJobs(meta.namespace_name, names, live, in.jobs, in.jobs_gone);
        !s.ok()) {
      return s;
    }
    // A pod removed while we asked has its final state recorded by now.
    read_deleted_pods();
  }
  return absl::UnavailableError(
      absl::StrCat("the Jobs of ", meta.namespace_name, "/", meta.name, " could not be verified"));
}

}  // namespace weir::reconcile
