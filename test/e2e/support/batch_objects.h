// Batch objects for e2e tests: a Batch whose pod plays a simulated outcome
// (the sim.weir.dev/* annotations of hack/kwok/stages.yaml), and readers of
// the fields tests check in what kubectl returns.
#pragma once

#include <string>

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

// status.phase of a weir object (Batch, JobFlow), or "" when there is none
// (or `object` is not an object).
std::string PhaseOf(const nlohmann::json& object);

// metadata.creationTimestamp (one-second resolution); InfinitePast if absent.
absl::Time CreationTime(const nlohmann::json& object);

}  // namespace weir::e2e
