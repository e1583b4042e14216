// Objects for e2e tests: Batches, JobTemplates and JobFlows whose pods play a
// simulated outcome (the sim.weir.dev/* annotations of hack/kwok/stages.yaml)
// or run on the real node, and readers of the fields tests check in what
// kubectl returns.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
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

// Gives the Batch's pod one container of each name, like SimulatedBatch's.
void SetContainers(nlohmann::json& batch, const std::vector<std::string>& names);

// A JobTemplate `name` (no namespace: kubectl apply -n sets it) whose pods
// play `outcome` for `duration` on kwok.
nlohmann::json Template(const std::string& name, const std::string& outcome = "Succeeded",
                        const std::string& duration = "1s");

// A JobFlow step of template `tmpl` after `deps` (step name -> condition);
// `extra` is merged into the step.
nlohmann::json Step(const std::string& name, const std::string& tmpl,
                    const std::vector<std::pair<std::string, std::string>>& deps = {},
                    nlohmann::json extra = nlohmann::json::object());

// A step's `patch` that makes its pods play `outcome` (for Step's `extra`).
nlohmann::json Plays(const std::string& outcome, const std::string& duration = "1s");

// A JobFlow `name` (no namespace) of `steps`; `extra` is merged into the spec.
nlohmann::json Flow(const std::string& name, nlohmann::json steps,
                    nlohmann::json extra = nlohmann::json::object());

// The real node's images (hack/images.sh), imported into its containerd.
inline constexpr char kBusyboxImage[] = "localhost/busybox:local";
// The same, with StopSignal SIGINT in its image config.
inline constexpr char kBusyboxSigintImage[] = "localhost/busybox-sigint:local";
// The same files with neither Entrypoint nor Cmd.
inline constexpr char kNoCommandImage[] = "localhost/no-command:local";

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

// The status record of step `step` of JobFlow `flow`; an empty object if
// the flow has none.
nlohmann::json StepStatus(const nlohmann::json& flow, const std::string& step);

// An RFC 3339 timestamp (e.g. a status time field); `otherwise` if it is not
// one.
absl::Time Timestamp(const nlohmann::json& rfc3339, absl::Time otherwise = absl::InfinitePast());

// metadata.creationTimestamp (one-second resolution); InfinitePast if absent.
absl::Time CreationTime(const nlohmann::json& object);

}  // namespace weir::e2e
