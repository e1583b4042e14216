// The real node's containerd as an independent witness for e2e tests: which
// containers and tasks exist, asked with its own ctr (namespace k8s.io, where
// the CRI keeps Kubernetes' containers). WEIR_CTR and WEIR_CONTAINERD_ADDRESS
// come from `hack/cluster.sh env` when the real node runs.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace weir::e2e {

class Containerd {
 public:
  // Fails naming the missing variable when the real node is not running.
  static absl::StatusOr<Containerd> FromEnv();

  // Ids of the containers whose labels match every `key=value` of `labels`
  // (the CRI's labels: io.kubernetes.pod.uid, io.kubernetes.pod.namespace,
  // io.kubernetes.container.name, ...).
  absl::StatusOr<std::vector<std::string>> Containers(
      const std::vector<std::pair<std::string, std::string>>& labels) const;

 private:
  Containerd(std::string ctr, std::string address)
      : ctr_(std::move(ctr)), address_(std::move(address)) {}
  absl::StatusOr<std::string> Ctr(const std::vector<std::string>& args) const;

  std::string ctr_;
  std::string address_;
};

}  // namespace weir::e2e
