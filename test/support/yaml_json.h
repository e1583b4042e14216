// ToJson: a YAML document (yaml-cpp) as JSON, scalars typed by the YAML 1.2
// core schema (quoted ones stay strings), enough for Kubernetes manifests:
// for tests that read examples/ and crds/ as the API server would.
#pragma once

#include "nlohmann/json.hpp"
#include "yaml-cpp/yaml.h"

namespace weir::test {

nlohmann::json ToJson(const YAML::Node& node);

}  // namespace weir::test
