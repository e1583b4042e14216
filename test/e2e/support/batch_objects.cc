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

}  // namespace weir::e2e
