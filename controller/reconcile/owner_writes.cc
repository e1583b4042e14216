#include "reconcile/owner_writes.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "kube/errors.h"
#include "reconcile/attempts.h"

namespace weir::reconcile {
namespace {

using nlohmann::json;

const json& Meta(const json& object) {
  static const json* empty = new json(json::object());
  auto it = object.find("metadata");
  return it != object.end() && it->is_object() ? *it : *empty;
}

// Foreground: the Job stays, being deleted, until its pods are gone, so a
// pod the job controller creates late from a stale view (seen by the oracle)
// is deleted with it and weir sees the Job until then.
kube::DeleteOptions Foreground() {
  kube::DeleteOptions options;
  options.propagation_policy = kube::PropagationPolicy::kForeground;
  return options;
}

// How long to wait before listing the children again while some are left:
// half the time waited so far (since the owner's deletion, or its end),
// between 1 s and 30 s. Their deletion events wake the owner sooner; this
// only bounds the live LISTs when something holds a child back.
absl::Duration ChildrenWaitBackoff(const json& object, absl::Time now) {
  auto time_at = [](const json& parent, const char* key) -> std::optional<absl::Time> {
    auto it = parent.find(key);
    if (it == parent.end() || !it->is_string()) return std::nullopt;
    return api::ParseRfc3339(it->get<std::string>());
  };
  std::optional<absl::Time> since = time_at(Meta(object), "deletionTimestamp");
  auto status = object.find("status");
  if (!since.has_value() && status != object.end() && status->is_object()) {
    since = time_at(*status, "completionTime");
  }
  const absl::Duration half = since.has_value() ? (now - *since) / 2 : absl::ZeroDuration();
  return std::clamp(half, kChildrenWaitMin, kChildrenWaitMax);
}

}  // namespace

OwnerWrites::OwnerWrites(kube::Client* client, kube::ResourceRef owner_ref, std::string kind)
    : client_(client), owner_ref_(std::move(owner_ref)), kind_(std::move(kind)) {}

absl::Status OwnerWrites::SetFinalizer(const json& object, bool present) const {
  const json& meta = Meta(object);
  json finalizers = json::array();
  bool has = false;
  if (meta.contains("finalizers") && meta["finalizers"].is_array()) {
    for (const json& f : meta["finalizers"]) {
      if (f == kFinalizer) {
        has = true;
        if (!present) continue;
      }
      finalizers.push_back(f);
    }
  }
  if (has == present) return absl::OkStatus();
  if (present) finalizers.push_back(kFinalizer);
  json patch = {
      {"metadata",
       {{"finalizers", finalizers}, {"resourceVersion", meta.value("resourceVersion", "")}}}};
  absl::StatusOr<json> patched =
      client_->MergePatch(owner_ref_, meta.value("namespace", ""), meta.value("name", ""), patch);
  if (!patched.ok() && !(kube::IsNotFound(patched.status()) && !present)) return patched.status();
  if (patched.ok()) Replaced(object);
  return absl::OkStatus();
}

absl::StatusOr<json> OwnerWrites::WriteStatus(const json& object, json status) const {
  const json& meta = Meta(object);
  json body = {{"apiVersion", object.value("apiVersion", kApiVersion)},
               {"kind", kind_},
               {"metadata",
                {{"name", meta.value("name", "")},
                 {"namespace", meta.value("namespace", "")},
                 {"resourceVersion", meta.value("resourceVersion", "")}}},
               {"status", std::move(status)}};
  absl::StatusOr<json> written =
      client_->UpdateStatus(owner_ref_, meta.value("namespace", ""), body);
  if (!written.ok()) return written.status();
  Replaced(object);
  return written;
}

void OwnerWrites::Replaced(const json& object) const {
  absl::MutexLock lock(&mu_);
  replaced_[runtime::ObjectKey(object)].push_back(runtime::ResourceVersionOf(object));
}

bool OwnerWrites::Superseded(const json& object) const {
  const std::string key = runtime::ObjectKey(object);
  const std::string version = runtime::ResourceVersionOf(object);
  absl::MutexLock lock(&mu_);
  auto it = replaced_.find(key);
  if (it == replaced_.end()) return false;
  const std::vector<std::string>& versions = it->second;
  if (std::find(versions.begin(), versions.end(), version) != versions.end()) {
    return true;
  }
  replaced_.erase(it);
  return false;
}

void OwnerWrites::Forget(const std::string& key) const {
  absl::MutexLock lock(&mu_);
  replaced_.erase(key);
}

absl::StatusOr<std::optional<json>> OwnerWrites::LiveOwner(const api::ObjectMeta& meta) const {
  absl::StatusOr<json> live = client_->Get(owner_ref_, meta.namespace_name, meta.name);
  if (!live.ok()) {
    if (kube::IsNotFound(live.status())) return std::optional<json>();
    return live.status();
  }
  const json& live_meta = Meta(*live);
  if (live_meta.value("uid", "") != meta.uid || live_meta.contains("deletionTimestamp")) {
    return std::optional<json>();
  }
  return std::optional<json>(*std::move(live));
}

absl::StatusOr<CreatedJob> OwnerWrites::CreateJob(const ChildOwner& owner, json job,
                                                  const json& live_owner) const {
  job["metadata"]["annotations"][kAnnotationOwnerGeneration] =
      std::to_string(Meta(live_owner).value("generation", int64_t{0}));
  absl::StatusOr<json> created =
      client_->Create(kube::resources::Jobs(), owner.namespace_name, job);
  if (created.ok()) return CreatedJob{.exists = true, .refused_message = ""};
  const std::string name = Meta(job).value("name", "");
  if (kube::IsAlreadyExists(created.status())) {
    absl::StatusOr<json> existing =
        client_->Get(kube::resources::Jobs(), owner.namespace_name, name);
    if (!existing.ok()) return existing.status();
    // Ours, from a reconcile whose status write was lost: adopt it.
    if (IsChildOf(*existing, owner)) return CreatedJob{.exists = true, .refused_message = ""};
    return absl::FailedPreconditionError(
        absl::StrCat("Job ", name, " exists and belongs to someone else; not sharing it"));
  }
  if (kube::IsInvalid(created.status()) || kube::IsBadRequest(created.status())) {
    return CreatedJob{.exists = false, .refused_message = std::string(created.status().message())};
  }
  return created.status();
}

absl::Status OwnerWrites::VerifyJobs(absl::string_view ns, const std::vector<std::string>& names,
                                     std::deque<json>& found, std::vector<const json*>& jobs,
                                     absl::flat_hash_set<std::string>& gone) const {
  for (const std::string& name : names) {
    absl::StatusOr<json> job = client_->Get(kube::resources::Jobs(), ns, name);
    if (job.ok()) {
      found.push_back(*std::move(job));
      jobs.push_back(&found.back());
    } else if (kube::IsNotFound(job.status())) {
      gone.insert(name);
    } else {
      return job.status();
    }
  }
  return absl::OkStatus();
}

absl::Status OwnerWrites::ReleasePods(absl::string_view ns,
                                      const std::vector<PodRelease>& pods) const {
  for (const PodRelease& r : pods) {
    const std::string path = absl::StrCat("/metadata/finalizers/", r.index);
    const json ops = json::array({{{"op", "test"}, {"path", path}, {"value", kPodFinalizer}},
                                  {{"op", "remove"}, {"path", path}}});
    absl::StatusOr<json> patched = client_->JsonPatch(kube::resources::Pods(), ns, r.pod, ops);
    if (!patched.ok() && !kube::IsNotFound(patched.status())) return patched.status();
  }
  return absl::OkStatus();
}

absl::Status OwnerWrites::ReleaseOrphanPods(const runtime::Store& pods, absl::string_view ns,
                                            absl::string_view name_label,
                                            absl::string_view name) const {
  const std::vector<runtime::ObjectPtr> all = pods.ListNamespace(ns);
  std::vector<const json*> mine;
  for (const runtime::ObjectPtr& pod : all) {
    const json& labels = Meta(*pod).value("labels", json::object());
    if (labels.is_object() && labels.value(std::string(name_label), "") == name) {
      mine.push_back(pod.get());
    }
  }
  return ReleasePods(ns, PodsToRelease(mine, {}, {}));
}

absl::Status OwnerWrites::DeleteJobs(absl::string_view ns,
                                     const std::vector<std::string>& names) const {
  for (const std::string& name : names) {
    absl::StatusOr<json> deleted = client_->Delete(kube::resources::Jobs(), ns, name, Foreground());
    if (!deleted.ok() && !kube::IsNotFound(deleted.status())) return deleted.status();
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> OwnerWrites::ChildrenGone(const ChildOwner& owner) const {
  kube::ListOptions options;
  options.label_selector = ChildSelector(owner);
  for (const kube::ResourceRef& ref : {kube::resources::Jobs(), kube::resources::Pods()}) {
    absl::StatusOr<json> list = client_->List(ref, owner.namespace_name, options);
    if (!list.ok()) return list.status();
    const json& items = (*list)["items"];
    if (!items.is_array() || items.empty()) continue;
    for (const json& item : items) {
      // A Job still here is deleted (again) so the wait ends.
      if (ref == kube::resources::Jobs() && !Meta(item).contains("deletionTimestamp")) {
        (void)client_->Delete(ref, owner.namespace_name, Meta(item).value("name", ""),
                              Foreground());
      }
    }
    return false;
  }
  return true;
}

absl::Status OwnerWrites::DeleteOwner(const api::ObjectMeta& meta) const {
  kube::DeleteOptions options;
  options.uid = meta.uid;
  absl::StatusOr<json> deleted =
      client_->Delete(owner_ref_, meta.namespace_name, meta.name, options);
  if (!deleted.ok() && !kube::IsNotFound(deleted.status())) return deleted.status();
  return absl::OkStatus();
}

absl::StatusOr<runtime::Result> OwnerWrites::Converge(const json& object,
                                                      const ChildOwner& children,
                                                      const Convergence& c, absl::Time now,
                                                      absl::FunctionRef<void()> record) const {
  if (absl::Status s = DeleteJobs(children.namespace_name, c.delete_jobs); !s.ok()) return s;
  // Released pods rest on the stored status alone, so they may go first.
  if (absl::Status s = ReleasePods(children.namespace_name, c.release_pods); !s.ok()) return s;
  if (c.confirm_released) {
    absl::StatusOr<bool> gone = ChildrenGone(children);
    if (!gone.ok()) return gone.status();
    if (!*gone) return runtime::Result{.requeue_after = ChildrenWaitBackoff(object, now)};
  }
  // The owner as last written: a finalizer removal after a status write
  // names the status write's resourceVersion, not the cache's (a Conflict).
  std::optional<json> written;
  if (c.status.has_value()) {
    absl::StatusOr<json> w = WriteStatus(object, *c.status);
    if (!w.ok()) return w.status();
    written = *std::move(w);
    record();
  }
  if (c.remove_finalizer) {
    absl::StatusOr<bool> gone = ChildrenGone(children);
    if (!gone.ok()) return gone.status();
    if (!*gone) return runtime::Result{.requeue_after = ChildrenWaitBackoff(object, now)};
    if (!c.status.has_value()) record();  // e.g. "already <phase>" Events
    if (absl::Status s = SetFinalizer(written.value_or(object), false); !s.ok()) return s;
    return runtime::Result{};
  }
  if (c.delete_owner) {
    if (absl::Status s = DeleteOwner(api::ParseObjectMeta(object)); !s.ok()) return s;
    return runtime::Result{};
  }
  if (!c.status.has_value() && c.has_events) record();
  runtime::Result result;
  if (c.wake_at.has_value()) {
    result.requeue_after = std::max(*c.wake_at - now, absl::Milliseconds(100));
  }
  return result;
}

}  // namespace weir::reconcile
