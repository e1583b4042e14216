#include "kube/server_check.h"

#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "kube/errors.h"

namespace weir::kube {
namespace {

struct Needed {
  std::string group_version;           // "v1" (core) or "group/version"
  std::vector<std::string> resources;  // plural names
  std::string hint;                    // what to do if they are missing
};

std::string DiscoveryPath(const std::string& group_version) {
  return group_version == "v1" ? "/api/v1" : absl::StrCat("/apis/", group_version);
}

// The resource names (not subresources) a discovery document lists.
std::vector<std::string> Served(const nlohmann::json& doc) {
  std::vector<std::string> names;
  if (!doc.is_object()) return names;
  auto it = doc.find("resources");
  if (it == doc.end() || !it->is_array()) return names;
  for (const nlohmann::json& r : *it) {
    if (!r.is_object()) continue;
    auto name = r.find("name");
    if (name != r.end() && name->is_string()) names.push_back(name->get<std::string>());
  }
  return names;
}

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  for (const std::string& x : v) {
    if (x == s) return true;
  }
  return false;
}

std::string VersionText(const nlohmann::json& version) {
  if (!version.is_object()) return "";
  auto it = version.find("gitVersion");
  return it != version.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

int ParseMinor(const nlohmann::json& version) {
  if (!version.is_object()) return -1;
  int major = -1;
  int minor = -1;
  auto field = [&version](const char* name) -> std::string {
    auto it = version.find(name);
    return it != version.end() && it->is_string() ? it->get<std::string>() : "";
  };
  // "33+" (a vendor's build of 1.33) counts as 33.
  std::string major_text(absl::StripSuffix(field("major"), "+"));
  std::string minor_text(absl::StripSuffix(field("minor"), "+"));
  if (absl::SimpleAtoi(major_text, &major) && absl::SimpleAtoi(minor_text, &minor)) {
    return major == 1 && minor >= 0 ? minor : -1;
  }
  // gitVersion "v1.34.4" or "v1.34.4-eks-1".
  const std::string git_version = field("gitVersion");
  absl::string_view git = git_version;
  if (!absl::ConsumePrefix(&git, "v")) return -1;
  std::vector<std::string> parts = absl::StrSplit(git, absl::MaxSplits('.', 2));
  if (parts.size() < 2 || !absl::SimpleAtoi(parts[0], &major) ||
      !absl::SimpleAtoi(parts[1], &minor) || major != 1 || minor < 0) {
    return -1;
  }
  return minor;
}

ServerCheck CheckServer(const DiscoveryGet& get, const ServerNeeds& needs) {
  ServerCheck check;
  absl::StatusOr<nlohmann::json> version = get("/version");
  if (!version.ok()) {
    check.missing.push_back(absl::StrCat("cannot read /version: ", version.status().message()));
  } else {
    check.version = VersionText(*version);
    const int minor = ParseMinor(*version);
    const std::string range =
        absl::StrCat("1.", kOldestSupportedMinor, " to 1.", kNewestTestedMinor);
    if (minor < 0) {
      check.missing.push_back(
          absl::StrCat("cannot tell the Kubernetes release from /version ", version->dump()));
    } else if (minor < kOldestSupportedMinor) {
      check.missing.push_back(
          absl::StrCat("Kubernetes ", check.version, " is older than weir supports (", range, ")"));
    } else if (minor > kNewestTestedMinor) {
      check.notes.push_back(absl::StrCat("Kubernetes ", check.version,
                                         " is newer than weir is tested on (", range, ")"));
    }
  }

  std::vector<Needed> needed = {
      {"v1", {"pods", "events"}, ""},
      {"batch/v1", {"jobs"}, ""},
      {"weir.dev/v1alpha1", {"batches", "jobflows", "jobtemplates"}, "apply crds/"},
  };
  if (needs.leases) needed.push_back({"coordination.k8s.io/v1", {"leases"}, ""});
  for (const Needed& n : needed) {
    const std::string path = DiscoveryPath(n.group_version);
    absl::StatusOr<nlohmann::json> doc = get(path);
    std::vector<std::string> absent;
    if (!doc.ok() && !kube::IsNotFound(doc.status())) {
      check.missing.push_back(absl::StrCat("cannot read ", path, ": ", doc.status().message()));
      continue;
    }
    const std::vector<std::string> served = doc.ok() ? Served(*doc) : std::vector<std::string>{};
    for (const std::string& r : n.resources) {
      if (!Contains(served, r)) absent.push_back(r);
    }
    if (absent.empty()) continue;
    check.missing.push_back(absl::StrCat(n.group_version, " ", absl::StrJoin(absent, ", "),
                                         " not served", n.hint.empty() ? "" : " (", n.hint,
                                         n.hint.empty() ? "" : ")"));
  }

  for (const char* gv :
       {"admissionregistration.k8s.io/v1", "admissionregistration.k8s.io/v1beta1"}) {
    absl::StatusOr<nlohmann::json> doc = get(DiscoveryPath(gv));
    if (doc.ok() && Contains(Served(*doc), "mutatingadmissionpolicies")) {
      check.admission_policy_api = gv;
      break;
    }
  }
  return check;
}

std::string AdmissionPolicySummary(const ServerCheck& check) {
  if (check.admission_policy_api.empty()) {
    return "no MutatingAdmissionPolicy API: weir.dev/cleanup is added on each object's first "
           "reconcile, not at creation";
  }
  return absl::StrCat("MutatingAdmissionPolicy served at ", check.admission_policy_api);
}

}  // namespace weir::kube
