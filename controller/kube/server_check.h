// What weir needs from the API server, checked once when the controller
// starts (issue 17): a Kubernetes release weir supports (1.33 to 1.37, the
// releases `make matrix` tests; hack/matrix.env) and the APIs it uses. The
// check only reports: an API may appear later (CRDs applied after the
// controller started), and a failed check must never stop the controller.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace weir::kube {

// The oldest and newest minor of Kubernetes 1.x that weir is tested on.
inline constexpr int kOldestSupportedMinor = 33;
inline constexpr int kNewestTestedMinor = 37;

// GETs an absolute path of the API server ("/version", "/apis/batch/v1").
using DiscoveryGet = std::function<absl::StatusOr<nlohmann::json>(const std::string& path)>;

struct ServerNeeds {
  bool leases = false;  // --leader-elect: coordination.k8s.io/v1 leases
};

struct ServerCheck {
  std::string version;  // /version's gitVersion; "" if it could not be read
  // What is missing or wrong, one plain sentence each; empty if nothing.
  std::vector<std::string> missing;
  // Worth saying but not missing (a release newer than tested).
  std::vector<std::string> notes;
  // Where MutatingAdmissionPolicy is served ("admissionregistration.k8s.io/v1"
  // or ".../v1beta1"), or "" if not at all: then no admission policy can add
  // weir.dev/cleanup at creation, and the first reconcile adds it.
  std::string admission_policy_api;
};

ServerCheck CheckServer(const DiscoveryGet& get, const ServerNeeds& needs);

// The minor version from /version: "36", or "33+" as some managed clusters
// report it, or else parsed from gitVersion ("v1.34.4-eks-1"). -1 if neither
// parses or the major is not 1.
int ParseMinor(const nlohmann::json& version);

// One line for the log: what was found, and what it means for weir.
std::string AdmissionPolicySummary(const ServerCheck& check);

}  // namespace weir::kube
