#include "test/e2e/support/rest_config.h"

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_split.h"

namespace weir::e2e {

absl::StatusOr<kube::RestConfig> RestConfigFromEnv() {
  const char* kubeconfig = std::getenv("KUBECONFIG");
  if (kubeconfig == nullptr || *kubeconfig == '\0') {
    return absl::FailedPreconditionError(
        "KUBECONFIG is unset: run `eval \"$(hack/cluster.sh env)\"` (or `make e2e`) first");
  }
  std::vector<std::string> files = absl::StrSplit(kubeconfig, ':', absl::SkipEmpty());
  return kube::LoadKubeconfigFiles(files);
}

}  // namespace weir::e2e
