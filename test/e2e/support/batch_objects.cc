#include "test/e2e/support/batch_objects.h"

#include <utility>

namespace weir::e2e {

using nlohmann::json;

json SimulatedBatch(const std::string& ns, const std::string& name, const std::string& outcome,
                    json extra, json annotations) {
  annotations["sim.weir.dev/outcome"] = outcome;
  if (!annotations.contains("sim.weir.dev/duration")) annotations["sim.weir.dev/duration"] = "1s";
  json spec = {{"jobSpec",
                {{"template",
                  {{"metadata", {{"annotations", std::move(annotations)}}},
                   {"spec",
                    {{"containers",
                      json::array({{{"name", "main"},
                                    {"image", "busybox:1.36"},
                                    {"resources", {{"limits", {{"memory", "64Mi"}}}}}}})}}}}}}}};
  spec.update(extra);
  return {{"apiVersion", "weir.dev/v1alpha1"},
          {"kind", "Batch"},
          {"metadata", {{"name", name}, {"namespace", ns}}},
          {"spec", spec}};
}

void SetContainers(json& batch, const std::vector<std::string>& names) {
  json& containers = batch["spec"]["jobSpec"]["template"]["spec"]["containers"];
  const json model = containers[0];
  containers = json::array();
  for (const std::string& name : names) {
    json c = model;
    c["name"] = name;
    containers.push_back(std::move(c));
  }
}

json Template(const std::string& name, const std::string& outcome, const std::string& duration) {
  return {{"apiVersion", "weir.dev/v1alpha1"},
          {"kind", "JobTemplate"},
          {"metadata", {{"name", name}}},
          {"spec",
           {{"jobSpec",
             {{"template",
               {{"metadata",
                 {{"annotations",
                   {{"sim.weir.dev/outcome", outcome}, {"sim.weir.dev/duration", duration}}}}},
                {"spec",
                 {{"containers",
                   json::array({{{"name", "main"},
                                 {"image", "busybox:1.36"},
                                 {"resources", {{"limits", {{"memory", "64Mi"}}}}}}})}}}}}}}}}};
}

json Step(const std::string& name, const std::string& tmpl,
          const std::vector<std::pair<std::string, std::string>>& deps, json extra) {
  json step = {{"name", name}, {"template", tmpl}};
  if (!deps.empty()) {
    json d = json::array();
    for (const auto& [dep, condition] : deps)
      d.push_back({{"step", dep}, {"condition", condition}});
    step["dependsOn"] = d;
  }
  step.update(extra);
  return step;
}

json Plays(const std::string& outcome, const std::string& duration) {
  return {{"patch",
           {{"template",
             {{"metadata",
               {{"annotations",
                 {{"sim.weir.dev/outcome", outcome}, {"sim.weir.dev/duration", duration}}}}}}}}}};
}

json Flow(const std::string& name, json steps, json extra) {
  json spec = {{"steps", std::move(steps)}};
  spec.update(extra);
  return {{"apiVersion", "weir.dev/v1alpha1"},
          {"kind", "JobFlow"},
          {"metadata", {{"name", name}}},
          {"spec", spec}};
}

void OnRealNode(json& pod_spec) {
  pod_spec["nodeSelector"] = {{"weir.dev/node", "real"}};
  pod_spec["tolerations"] = json::array({{{"key", "weir.dev/node"},
                                          {"operator", "Equal"},
                                          {"value", "real"},
                                          {"effect", "NoSchedule"}}});
}

json RealBatch(const std::string& ns, const std::string& name, const std::string& script,
               json extra, const std::string& image) {
  json attempt_env = {
      {"name", "WEIR_ATTEMPT"},
      {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.labels['weir.dev/attempt']"}}}}}};
  json pod_spec = {
      {"containers", json::array({{{"name", "main"},
                                   {"image", image},
                                   {"imagePullPolicy", "IfNotPresent"},
                                   {"command", {"sh", "-c", script}},
                                   {"env", json::array({attempt_env})},
                                   {"resources", {{"limits", {{"memory", "64Mi"}}}}}}})}};
  OnRealNode(pod_spec);
  json spec = {{"jobSpec", {{"template", {{"spec", std::move(pod_spec)}}}}}};
  spec.update(extra);
  return {{"apiVersion", "weir.dev/v1alpha1"},
          {"kind", "Batch"},
          {"metadata", {{"name", name}, {"namespace", ns}}},
          {"spec", spec}};
}

std::string PhaseOf(const json& object) {
  if (!object.is_object()) return "";
  auto status = object.find("status");
  return status != object.end() && status->is_object() ? status->value("phase", "") : "";
}

json StepStatus(const json& flow, const std::string& step) {
  if (!flow.is_object() || !flow.contains("status") || !flow["status"].is_object()) {
    return json::object();
  }
  for (const json& s : flow["status"].value("steps", json::array())) {
    if (s.value("name", "") == step) return s;
  }
  return json::object();
}

absl::Time Timestamp(const json& rfc3339, absl::Time otherwise) {
  absl::Time t;
  std::string err;
  if (!rfc3339.is_string() ||
      !absl::ParseTime(absl::RFC3339_full, rfc3339.get<std::string>(), &t, &err)) {
    return otherwise;
  }
  return t;
}

absl::Time CreationTime(const json& object) {
  return Timestamp(object.value("metadata", json::object()).value("creationTimestamp", json()));
}

}  // namespace weir::e2e
