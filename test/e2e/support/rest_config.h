// RestConfigFromEnv: the client configuration of e2e tests and their helper
// programs, from $KUBECONFIG (a ':'-separated list, as kubectl reads it),
// which `eval "$(hack/cluster.sh env)"` and `make e2e` set.
#pragma once

#include "absl/status/statusor.h"
#include "kube/config.h"

namespace weir::e2e {

// FailedPrecondition naming the fix when KUBECONFIG is unset or empty; the
// loader's error when a file does not load.
absl::StatusOr<kube::RestConfig> RestConfigFromEnv();

}  // namespace weir::e2e
