// Batch objects for e2e tests: a Batch whose pod plays a simulated outcome
// (the sim.weir.dev/* annotations of hack/kwok/stages.yaml), and readers of
// the fields tests check in what kubectl returns.
#pragma once

#include <string>

#include "nlohmann/json.hpp"

namespace weir::e2e {

// A Batch `name` in `ns` with an inline JobSpec of one container "main"
// (memory limit 64Mi) whose pod plays `outcome` for 1s unless `annotations`
// set sim.weir.dev/duration. `extra` is merged into the spec; `annotations`
// go on the pod template.
nlohmann::json SimulatedBatch(const std::string& ns, const std::string& name,
                              const std::string& outcome,
                              nlohmann::json extra = nlohmann::json::object(),
                              nlohmann::json annotations = nlohmann::json::object());

// The real node's images (hack/images.sh), imported into its containerd.
inline constexpr char kBusyboxImage[] = "localhost/busybox:local";
// The same, with StopSignal SIGINT in its image config.
inline constexpr char kBusyboxSigintImage[] = "localhost/busybox-sigint:local";

// Makes a pod spec ask for the real node (hack/node.sh): its label in
// nodeSelector and a toleration of its taint.
void OnRealNode(nlohmann::json& pod_spec);

// A Batch `name` in `ns` whose container "main" (memory limit 64Mi, image
// `image`) runs `sh -c script` on the real node. The pod's env WEIR_ATTEMPT
// holds weir's attempt number. `extra` is merged into the spec.
nlohmann::json RealBatch(const std::string& ns, const std::string& name, const std::string& script,
                         nlohmann::json extra = nlohmann::json::object(),
                         const std::string& image = kBusyboxImage);

// status.phase of a weir object (Batch, JobFlow), or "" when there is none
// (or `object` is not an object).
std::string PhaseOf(const nlohmann::json& object);

}  // namespace weir::e2e
