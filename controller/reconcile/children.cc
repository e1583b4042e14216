#include "reconcile/children.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "runtime/store.h"

namespace weir::reconcile {
namespace {

constexpr size_t kMaxNameLength = 63;

uint64_t Fnv1a(absl::string_view data) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

const char* KindName(ChildOwner::Kind kind) {
  return kind == ChildOwner::Kind::kBatch ? "Batch" : "JobFlow";
}

std::string LabelValue(const nlohmann::json& object, absl::string_view key) {
  const nlohmann::json* labels = nullptr;
  if (object.is_object() && object.contains("metadata") && object["metadata"].is_object() &&
      object["metadata"].contains("labels") && object["metadata"]["labels"].is_object()) {
    labels = &object["metadata"]["labels"];
  }
  if (labels == nullptr) return "";
  auto it = labels->find(std::string(key));
  return it != labels->end() && it->is_string() ? it->get<std::string>() : "";
}

// Sets `container.resources.<kind>.memory` to `q` if `q` is set.
void SetMemory(nlohmann::json& container, const char* kind, const std::optional<api::Quantity>& q) {
  if (!q.has_value()) return;
  nlohmann::json& resources = container["resources"];
  if (!resources.is_object()) resources = nlohmann::json::object();
  nlohmann::json& section = resources[kind];
  if (!section.is_object()) section = nlohmann::json::object();
  section["memory"] = q->ToString();
}

}  // namespace

ChildOwner ChildOwner::Batch(std::string namespace_name, std::string name, std::string uid) {
  ChildOwner o;
  o.kind = Kind::kBatch;
  o.namespace_name = std::move(namespace_name);
  o.name = std::move(name);
  o.uid = std::move(uid);
  return o;
}

ChildOwner ChildOwner::FlowStep(std::string namespace_name, std::string name, std::string uid,
                                std::string step, std::string template_name) {
  ChildOwner o;
  o.kind = Kind::kJobFlow;
  o.namespace_name = std::move(namespace_name);
  o.name = std::move(name);
  o.uid = std::move(uid);
  o.step = std::move(step);
  o.template_name = std::move(template_name);
  return o;
}

std::string ChildJobName(const ChildOwner& owner, int attempt) {
  const std::string hash = absl::StrFormat(
      "%08x", static_cast<uint32_t>(Fnv1a(absl::StrCat(owner.uid, "/", owner.step))));
  const std::string suffix = absl::StrCat("-", attempt, "-", hash);
  std::string prefix = owner.kind == ChildOwner::Kind::kBatch
                           ? owner.name
                           : absl::StrCat(owner.name, "-", owner.step);
  if (prefix.size() + suffix.size() > kMaxNameLength) {
    prefix.resize(kMaxNameLength - suffix.size());
  }
  // A DNS label may not have '-' or '.' just before the suffix's '-'.
  while (!prefix.empty() && (prefix.back() == '-' || prefix.back() == '.')) prefix.pop_back();
  return prefix + suffix;
}

std::map<std::string, std::string> ChildLabels(const ChildOwner& owner, int attempt) {
  std::map<std::string, std::string> labels = {{kLabelManagedBy, kManagedByValue},
                                               {kLabelAttempt, absl::StrCat(attempt)}};
  if (owner.kind == ChildOwner::Kind::kBatch) {
    labels[kLabelBatch] = owner.name;
    labels[kLabelBatchUid] = owner.uid;
  } else {
    labels[kLabelFlow] = owner.name;
    labels[kLabelFlowUid] = owner.uid;
    labels[kLabelStep] = owner.step;
    labels[kLabelTemplate] = owner.template_name;
  }
  return labels;
}

std::string ChildSelector(const ChildOwner& owner) {
  std::map<std::string, std::string> labels = ChildLabels(owner, 0);
  labels.erase(kLabelAttempt);
  labels.erase(kLabelTemplate);  // identity is the uid and step, not the template
  labels.erase(kLabelBatch);
  labels.erase(kLabelFlow);
  if (owner.step.empty()) labels.erase(kLabelStep);  // every step of the flow
  return absl::StrJoin(labels, ",", absl::PairFormatter("="));
}

std::optional<std::string> OwnerKeyOf(const nlohmann::json& child, absl::string_view owner_label) {
  auto meta = child.find("metadata");
  if (meta == child.end() || !meta->is_object()) return std::nullopt;
  auto labels = meta->find("labels");
  if (labels == meta->end() || !labels->is_object()) return std::nullopt;
  auto owner = labels->find(std::string(owner_label));
  auto managed_by = labels->find(kLabelManagedBy);
  if (owner == labels->end() || !owner->is_string() || owner->get<std::string>().empty() ||
      managed_by == labels->end() || *managed_by != kManagedByValue) {
    return std::nullopt;
  }
  auto ns = meta->find("namespace");
  return runtime::ObjectKey(ns != meta->end() && ns->is_string() ? ns->get<std::string>() : "",
                            owner->get<std::string>());
}

std::string MainContainerName(const nlohmann::json& pod_spec, absl::string_view main_container) {
  if (!main_container.empty()) return std::string(main_container);
  if (!pod_spec.is_object()) return "";
  auto containers = pod_spec.find("containers");
  if (containers == pod_spec.end() || !containers->is_array() || containers->empty()) return "";
  const nlohmann::json& first = containers->front();
  return first.is_object() && first.contains("name") && first["name"].is_string()
             ? first["name"].get<std::string>()
             : "";
}

nlohmann::json BuildChildJob(const ChildOwner& owner, int attempt, const nlohmann::json& job_spec,
                             absl::string_view main_container, const MemoryOverride& memory) {
  const std::map<std::string, std::string> labels = ChildLabels(owner, attempt);
  nlohmann::json spec = job_spec.is_object() ? job_spec : nlohmann::json::object();
  spec["backoffLimit"] = 0;
  // A selector or manual selection from the template would not match the pod
  // labels weir sets; the API server generates the selector.
  spec.erase("selector");
  spec.erase("manualSelector");
  nlohmann::json& pod_template = spec["template"];
  if (!pod_template.is_object()) pod_template = nlohmann::json::object();
  nlohmann::json& pod_meta = pod_template["metadata"];
  if (!pod_meta.is_object()) pod_meta = nlohmann::json::object();
  nlohmann::json& pod_labels = pod_meta["labels"];
  if (!pod_labels.is_object()) pod_labels = nlohmann::json::object();
  for (const auto& [k, v] : labels) pod_labels[k] = v;
  nlohmann::json& pod_finalizers = pod_meta["finalizers"];
  if (!pod_finalizers.is_array()) pod_finalizers = nlohmann::json::array();
  if (std::find(pod_finalizers.begin(), pod_finalizers.end(), kPodFinalizer) ==
      pod_finalizers.end()) {
    pod_finalizers.push_back(kPodFinalizer);
  }
  nlohmann::json& pod_spec = pod_template["spec"];
  if (!pod_spec.is_object()) pod_spec = nlohmann::json::object();
  pod_spec["restartPolicy"] = "Never";

  const std::string main = MainContainerName(pod_spec, main_container);
  if (pod_spec.contains("containers") && pod_spec["containers"].is_array()) {
    for (nlohmann::json& c : pod_spec["containers"]) {
      if (c.is_object() && c.value("name", "") == main) {
        SetMemory(c, "limits", memory.limit);
        SetMemory(c, "requests", memory.request);
      }
    }
  }

  nlohmann::json job = {
      {"apiVersion", "batch/v1"},
      {"kind", "Job"},
      {"metadata",
       {{"name", ChildJobName(owner, attempt)},
        {"namespace", owner.namespace_name},
        {"labels", labels},
        {"ownerReferences", nlohmann::json::array({{{"apiVersion", kApiVersion},
                                                    {"kind", KindName(owner.kind)},
                                                    {"name", owner.name},
                                                    {"uid", owner.uid},
                                                    {"controller", true},
                                                    {"blockOwnerDeletion", true}}})}}},
      {"spec", std::move(spec)}};
  return job;
}

bool IsChildOf(const nlohmann::json& job, const ChildOwner& owner) {
  bool owned = false;
  if (job.is_object() && job.contains("metadata") && job["metadata"].is_object()) {
    auto refs = job["metadata"].find("ownerReferences");
    if (refs != job["metadata"].end() && refs->is_array()) {
      for (const nlohmann::json& ref : *refs) {
        if (ref.is_object() && ref.value("controller", false) &&
            ref.value("uid", "") == owner.uid) {
          owned = true;
        }
      }
    }
  }
  if (!owned) return false;
  if (owner.kind == ChildOwner::Kind::kBatch) {
    return LabelValue(job, kLabelBatchUid) == owner.uid;
  }
  return LabelValue(job, kLabelFlowUid) == owner.uid && LabelValue(job, kLabelStep) == owner.step;
}

std::optional<int> AttemptOf(const nlohmann::json& object) {
  int attempt = 0;
  if (!absl::SimpleAtoi(LabelValue(object, kLabelAttempt), &attempt) || attempt < 1) {
    return std::nullopt;
  }
  return attempt;
}

}  // namespace weir::reconcile
