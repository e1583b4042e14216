#include "test/model/world.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "api/meta.h"
#include "kube/errors.h"

namespace weir::model {

using nlohmann::json;

namespace {

std::string NameOf(const json& o) { return o["metadata"].value("name", ""); }
bool Deleting(const json& o) { return o["metadata"].contains("deletionTimestamp"); }
bool HasFinalizers(const json& o) {
  auto it = o["metadata"].find("finalizers");
  return it != o["metadata"].end() && it->is_array() && !it->empty();
}
bool Running(const json& pod) {
  const json& statuses = pod["status"].value("containerStatuses", json::array());
  return std::any_of(statuses.begin(), statuses.end(), [](const json& c) {
    return c.contains("state") && c["state"].contains("running");
  });
}

// Equality selectors only ("a=b,c=d"), as weir sends.
bool Selects(const std::string& selector, const json& object) {
  const json labels = object["metadata"].value("labels", json::object());
  for (absl::string_view term : absl::StrSplit(selector, ',', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(term, absl::MaxSplits('=', 1));
    if (labels.value(kv.first, "") != kv.second) return false;
  }
  return true;
}

// A JSON patch of "test" and "remove" operations (what weir sends to
// release a pod); nullopt if a test fails.
std::optional<json> ApplyJsonPatch(json object, const json& ops) {
  for (const json& op : ops) {
    const json::json_pointer path(op.value("path", ""));
    if (!object.contains(path)) return std::nullopt;
    if (op.value("op", "") == "test" && object[path] != op["value"]) return std::nullopt;
    if (op.value("op", "") == "remove") {
      json& parent = object[path.parent_pointer()];
      if (parent.is_array()) {
        parent.erase(std::stoul(path.back()));
      } else {
        parent.erase(path.back());
      }
    }
  }
  return object;
}

}  // namespace

World::World(json owner, std::vector<json> templates, absl::Time now) : now_(now) {
  flow_ = owner.value("kind", "") == "JobFlow";
  json& meta = owner["metadata"];
  meta["uid"] = flow_ ? "flow-uid" : "batch-uid";
  meta["namespace"] = "model";
  meta["generation"] = 1;
  meta["creationTimestamp"] = api::FormatRfc3339(now);
  meta["finalizers"] = json::array({"weir.dev/cleanup"});  // deploy/admission.yaml
  Store(flow_ ? oracle::Kind::kJobFlow : oracle::Kind::kBatch, std::move(owner));
  for (json& t : templates) StoreTemplate(std::move(t));
}

void World::StoreTemplate(json object) {
  object["metadata"]["resourceVersion"] = std::to_string(++rv_);
  const std::string name = NameOf(object);
  view_.templates[name] = std::move(object);
}

json& World::Store(oracle::Kind kind, json object) {
  json& meta = object["metadata"];
  meta["resourceVersion"] = std::to_string(++rv_);
  if (!meta.contains("uid")) meta["uid"] = absl::StrCat("uid-", ++uids_);
  std::optional<json>* slot = nullptr;
  json* stored = nullptr;
  bool added = false;
  if (kind == oracle::Kind::kJob || kind == oracle::Kind::kPod) {
    auto& objects = kind == oracle::Kind::kJob ? view_.jobs : view_.pods;
    const std::string name = NameOf(object);
    added = !objects.contains(name);
    stored = &(objects[name] = std::move(object));
  } else {
    slot = &view_.owner;
    added = !slot->has_value();
    stored = &slot->emplace(std::move(object));
  }
  history_ = std::make_shared<const Change>(
      Change{kind, {{"type", added ? "ADDED" : "MODIFIED"}, {"object", *stored}}, history_});
  return *stored;
}

void World::Remove(oracle::Kind kind, const std::string& name) {
  json object;
  if (kind == oracle::Kind::kJob || kind == oracle::Kind::kPod) {
    auto& objects = kind == oracle::Kind::kJob ? view_.jobs : view_.pods;
    object = std::move(objects.at(name));
    objects.erase(name);
  } else {
    object = std::move(*view_.owner);
    view_.owner.reset();
  }
  object["metadata"]["resourceVersion"] = std::to_string(++rv_);
  history_ = std::make_shared<const Change>(
      Change{kind, {{"type", "DELETED"}, {"object", std::move(object)}}, history_});
}

void World::Collect() {
  std::vector<std::string> gone;
  for (const auto& [name, pod] : view_.pods) {
    if (Deleting(pod) && !HasFinalizers(pod) && !Running(pod)) gone.push_back(name);
  }
  for (const std::string& name : gone) Remove(oracle::Kind::kPod, name);
  gone.clear();
  for (const auto& [name, job] : view_.jobs) {
    const std::string uid = job["metadata"].value("uid", "");
    const bool has_pods = std::any_of(view_.pods.begin(), view_.pods.end(), [&](const auto& p) {
      return p.second["metadata"]["ownerReferences"][0].value("uid", "") == uid;
    });
    if (Deleting(job) && !has_pods) gone.push_back(name);
  }
  for (const std::string& name : gone) Remove(oracle::Kind::kJob, name);
  if (view_.owner.has_value() && Deleting(*view_.owner) && !HasFinalizers(*view_.owner)) {
    Remove(flow_ ? oracle::Kind::kJobFlow : oracle::Kind::kBatch, NameOf(*view_.owner));
  }
}

json World::Canonical(const View& view) {
  json out = {{"owner", view.owner.value_or(json())},
              {"templates", view.templates},
              {"jobs", view.jobs},
              {"pods", view.pods}};
  for (json* group : {&out["jobs"], &out["pods"]}) {
    for (auto& [name, o] : group->items()) o["metadata"].erase("uid");
  }
  for (auto& [name, p] : out["pods"].items()) p["metadata"].erase("ownerReferences");
  return out;
}

json World::Canonical() const {
  return {{"view", Canonical(view_)}, {"now", absl::ToUnixSeconds(now_)}, {"facts", facts_}};
}

// ---- ModelClient ----

namespace {

oracle::Kind KindOf(const kube::ResourceRef& ref) {
  if (ref.resource == "jobs") return oracle::Kind::kJob;
  if (ref.resource == "pods") return oracle::Kind::kPod;
  if (ref.resource == "jobflows") return oracle::Kind::kJobFlow;
  return oracle::Kind::kBatch;
}

}  // namespace

FaultPlan::Kind ModelClient::Enter(absl::string_view verb) {
  write_verbs_.emplace_back(verb);
  return writes_++ == faults_.at_write ? faults_.kind : FaultPlan::Kind::kNone;
}

absl::Status ModelClient::FaultStatus(FaultPlan::Kind kind) {
  if (kind == FaultPlan::Kind::kTimeoutApplied) return kube::NewTimeout("model: timeout");
  return absl::UnavailableError("model: 500 Internal Server Error");
}

absl::StatusOr<json> ModelClient::Get(const kube::ResourceRef& ref, absl::string_view,
                                      absl::string_view name, const kube::GetOptions&) {
  World::View& v = world_->mutable_view();
  const std::string n(name);
  // weir reads the owner and Jobs live (LiveOwner, VerifyJobs, adoption).
  if (ref.resource == "jobs" && v.jobs.contains(n)) return v.jobs.at(n);
  if ((ref.resource == "batches" || ref.resource == "jobflows") && v.owner.has_value() &&
      NameOf(*v.owner) == n) {
    return *v.owner;
  }
  return kube::NewNotFound(ref.resource, name);
}

absl::StatusOr<json> ModelClient::List(const kube::ResourceRef& ref, absl::string_view,
                                       const kube::ListOptions& options) {
  World::View& v = world_->mutable_view();
  json items = json::array();
  const auto& objects = ref.resource == "jobs" ? v.jobs : v.pods;
  for (const auto& [name, o] : objects) {
    if (Selects(options.label_selector, o)) items.push_back(o);
  }
  return json{{"items", std::move(items)}};
}

absl::StatusOr<json> ModelClient::Create(const kube::ResourceRef& ref, absl::string_view,
                                         const json& object, const kube::CreateOptions&) {
  const FaultPlan::Kind fault = Enter("create");
  const std::string name = NameOf(object);
  if (fault == FaultPlan::Kind::kRejected) return FaultStatus(fault);
  if (world_->view().jobs.contains(name)) return kube::NewAlreadyExists(ref.resource, name);
  // A Job refused as invalid once is refused again: its spec is the same.
  const auto refused = world_->facts().find(name);
  if (fault == FaultPlan::Kind::kInvalid ||
      (refused != world_->facts().end() && refused->second == "Rejected")) {
    world_->facts()[name] = "Rejected";
    return kube::NewInvalid(
        "Job", name, {{.type = "FieldValueInvalid", .field = "spec.template", .message = "model"}});
  }
  json job = object;
  job["metadata"]["creationTimestamp"] = api::FormatRfc3339(world_->now());
  json stored = world_->Store(KindOf(ref), std::move(job));
  if (fault == FaultPlan::Kind::kTimeoutApplied) return FaultStatus(fault);
  return stored;
}

absl::StatusOr<json> ModelClient::Update(const kube::ResourceRef& ref, absl::string_view,
                                         const json& object, const kube::UpdateOptions&) {
  const FaultPlan::Kind fault = Enter("update status");
  if (fault == FaultPlan::Kind::kRejected) return FaultStatus(fault);
  World::View& v = world_->mutable_view();
  if (!v.owner.has_value()) return kube::NewNotFound(ref.resource, NameOf(object));
  if ((*v.owner)["metadata"]["resourceVersion"] != object["metadata"]["resourceVersion"]) {
    return kube::NewConflict(ref.resource, NameOf(object), "model: stale resourceVersion");
  }
  json owner = *v.owner;
  owner["status"] = object["status"];
  json stored = world_->Store(KindOf(ref), std::move(owner));
  if (fault == FaultPlan::Kind::kTimeoutApplied) return FaultStatus(fault);
  return stored;
}

absl::StatusOr<json> ModelClient::Patch(const kube::ResourceRef& ref, absl::string_view,
                                        absl::string_view name, kube::PatchType type,
                                        const json& patch, const kube::PatchOptions&) {
  const FaultPlan::Kind fault = Enter(type == kube::PatchType::kJson ? "patch pod" : "patch");
  if (fault == FaultPlan::Kind::kRejected) return FaultStatus(fault);
  World::View& v = world_->mutable_view();
  const std::string n(name);
  const bool pod = ref.resource == "pods";
  json* current = pod ? (v.pods.contains(n) ? &v.pods.at(n) : nullptr)
                      : (v.owner.has_value() ? &*v.owner : nullptr);
  if (current == nullptr) return kube::NewNotFound(ref.resource, name);
  json updated;
  if (type == kube::PatchType::kJson) {
    std::optional<json> applied = ApplyJsonPatch(*current, patch);
    if (!applied.has_value()) return absl::InvalidArgumentError("model: a test operation failed");
    updated = *std::move(applied);
  } else {
    const json& rv = patch["metadata"]["resourceVersion"];
    if (rv.is_string() && rv != (*current)["metadata"]["resourceVersion"]) {
      return kube::NewConflict(ref.resource, name, "model: stale resourceVersion");
    }
    updated = *current;
    json body = patch;
    body["metadata"].erase("resourceVersion");
    updated.merge_patch(body);
  }
  json stored = world_->Store(KindOf(ref), std::move(updated));
  world_->Collect();
  if (fault == FaultPlan::Kind::kTimeoutApplied) return FaultStatus(fault);
  return stored;
}

absl::StatusOr<json> ModelClient::Delete(const kube::ResourceRef& ref, absl::string_view,
                                         absl::string_view name, const kube::DeleteOptions& opts) {
  const FaultPlan::Kind fault = Enter(ref.resource == "jobs" ? "delete job" : "delete");
  if (fault == FaultPlan::Kind::kRejected) return FaultStatus(fault);
  World::View& v = world_->mutable_view();
  const std::string n(name);
  const std::string deleted_at = api::FormatRfc3339(world_->now());
  if (ref.resource == "jobs") {
    if (!v.jobs.contains(n)) return kube::NewNotFound(ref.resource, name);
    json job = v.jobs.at(n);
    if (!Deleting(job)) {
      job["metadata"]["deletionTimestamp"] = deleted_at;
      const std::string uid = job["metadata"].value("uid", "");
      world_->Store(oracle::Kind::kJob, std::move(job));
      // Foreground: the garbage collector deletes the pods first.
      std::vector<json> pods;
      for (const auto& [pod_name, p] : v.pods) {
        if (!Deleting(p) && p["metadata"]["ownerReferences"][0].value("uid", "") == uid) {
          pods.push_back(p);
        }
      }
      for (json& p : pods) {
        p["metadata"]["deletionTimestamp"] = deleted_at;
        world_->Store(oracle::Kind::kPod, std::move(p));
      }
    }
  } else {
    if (!v.owner.has_value()) return kube::NewNotFound(ref.resource, name);
    if (opts.uid.has_value() && *opts.uid != (*v.owner)["metadata"].value("uid", "")) {
      return kube::NewConflict(ref.resource, name, "model: uid precondition");
    }
    json owner = *v.owner;
    if (!Deleting(owner)) {
      owner["metadata"]["deletionTimestamp"] = deleted_at;
      owner["metadata"]["generation"] = owner["metadata"].value("generation", 1) + 1;
      world_->Store(KindOf(ref), std::move(owner));
    }
  }
  world_->Collect();
  if (fault == FaultPlan::Kind::kTimeoutApplied) return FaultStatus(fault);
  return json::object();
}

absl::StatusOr<std::unique_ptr<kube::WatchStream>> ModelClient::Watch(const kube::ResourceRef&,
                                                                      absl::string_view,
                                                                      const kube::WatchOptions&) {
  return absl::UnimplementedError("the model reconciles from snapshots, not watches");
}

}  // namespace weir::model
