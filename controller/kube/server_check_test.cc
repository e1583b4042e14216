#include "kube/server_check.h"

#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/errors.h"

namespace weir::kube {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using json = nlohmann::json;

json Version(const std::string& minor, const std::string& git) {
  return {{"major", "1"}, {"minor", minor}, {"gitVersion", git}};
}

json Resources(std::initializer_list<const char*> names) {
  json doc = {{"kind", "APIResourceList"}, {"resources", json::array()}};
  for (const char* n : names) doc["resources"].push_back({{"name", n}});
  return doc;
}

// An API server that serves `docs` by path and 404 ("404 page not found",
// as a real one answers for an unknown group) for anything else.
class FakeServer {
 public:
  std::map<std::string, absl::StatusOr<json>> docs;

  DiscoveryGet Get() {
    return [this](const std::string& path) -> absl::StatusOr<json> {
      auto it = docs.find(path);
      if (it == docs.end()) return StatusFromResponse(404, "404 page not found");
      return it->second;
    };
  }
};

// What a v1.36 API server with weir's CRDs serves.
FakeServer Complete() {
  FakeServer s;
  s.docs["/version"] = Version("36", "v1.36.3");
  s.docs["/api/v1"] = Resources({"pods", "pods/status", "events", "nodes"});
  s.docs["/apis/batch/v1"] = Resources({"jobs", "jobs/status", "cronjobs"});
  s.docs["/apis/weir.dev/v1alpha1"] =
      Resources({"batches", "batches/status", "jobflows", "jobflows/status", "jobtemplates"});
  s.docs["/apis/coordination.k8s.io/v1"] = Resources({"leases"});
  s.docs["/apis/admissionregistration.k8s.io/v1"] =
      Resources({"mutatingwebhookconfigurations", "mutatingadmissionpolicies",
                 "mutatingadmissionpolicybindings"});
  return s;
}

TEST(ParseMinorTest, ReadsMinorOrGitVersion) {
  EXPECT_EQ(ParseMinor(Version("36", "v1.36.3")), 36);
  EXPECT_EQ(ParseMinor(Version("33+", "v1.33.5-gke.100")), 33);
  EXPECT_EQ(ParseMinor(json{{"gitVersion", "v1.34.4-eks-1"}}), 34);
  EXPECT_EQ(ParseMinor(json{{"major", ""}, {"minor", ""}, {"gitVersion", "v1.35.0"}}), 35);
  EXPECT_EQ(ParseMinor(json{{"major", "2"}, {"minor", "0"}}), -1);
  EXPECT_EQ(ParseMinor(json{{"gitVersion", "1.36"}}), -1);
  EXPECT_EQ(ParseMinor(json::array()), -1);
}

TEST(CheckServerTest, NothingMissingOnASupportedRelease) {
  FakeServer s = Complete();
  ServerCheck c = CheckServer(s.Get(), {.leases = true});
  EXPECT_EQ(c.version, "v1.36.3");
  EXPECT_THAT(c.missing, IsEmpty());
  EXPECT_THAT(c.notes, IsEmpty());
  EXPECT_EQ(c.admission_policy_api, "admissionregistration.k8s.io/v1");
  EXPECT_THAT(AdmissionPolicySummary(c), HasSubstr("served at admissionregistration.k8s.io/v1"));
}

TEST(CheckServerTest, OlderReleaseWithoutThePolicyApi) {
  FakeServer s = Complete();
  s.docs["/version"] = Version("34", "v1.34.4");
  s.docs["/apis/admissionregistration.k8s.io/v1"] =
      Resources({"mutatingwebhookconfigurations", "validatingadmissionpolicies"});
  ServerCheck c = CheckServer(s.Get(), {});
  EXPECT_THAT(c.missing, IsEmpty()) << "1.34 is supported; the policy API is optional";
  EXPECT_EQ(c.admission_policy_api, "");
  EXPECT_THAT(AdmissionPolicySummary(c), HasSubstr("added on each object's first reconcile"));
}

TEST(CheckServerTest, BetaPolicyApiIsFound) {
  FakeServer s = Complete();
  s.docs["/version"] = Version("34", "v1.34.4");
  s.docs["/apis/admissionregistration.k8s.io/v1"] = Resources({"mutatingwebhookconfigurations"});
  s.docs["/apis/admissionregistration.k8s.io/v1beta1"] =
      Resources({"mutatingadmissionpolicies", "mutatingadmissionpolicybindings"});
  EXPECT_EQ(CheckServer(s.Get(), {}).admission_policy_api, "admissionregistration.k8s.io/v1beta1");
}

TEST(CheckServerTest, SaysWhatIsMissing) {
  FakeServer s = Complete();
  s.docs["/version"] = Version("31", "v1.31.9");
  s.docs.erase("/apis/weir.dev/v1alpha1");
  s.docs["/apis/batch/v1"] = Resources({"cronjobs"});
  ServerCheck c = CheckServer(s.Get(), {});
  EXPECT_THAT(c.missing,
              ElementsAre("Kubernetes v1.31.9 is older than weir supports (1.33 to 1.37)",
                          "batch/v1 jobs not served",
                          "weir.dev/v1alpha1 batches, jobflows, jobtemplates not served "
                          "(apply crds/)"));
}

TEST(CheckServerTest, LeasesOnlyWithLeaderElection) {
  FakeServer s = Complete();
  s.docs.erase("/apis/coordination.k8s.io/v1");
  EXPECT_THAT(CheckServer(s.Get(), {}).missing, IsEmpty());
  EXPECT_THAT(CheckServer(s.Get(), {.leases = true}).missing,
              ElementsAre("coordination.k8s.io/v1 leases not served"));
}

TEST(CheckServerTest, NewerReleaseIsANoteNotAProblem) {
  FakeServer s = Complete();
  s.docs["/version"] = Version("38", "v1.38.0");
  ServerCheck c = CheckServer(s.Get(), {});
  EXPECT_THAT(c.missing, IsEmpty());
  EXPECT_THAT(c.notes,
              ElementsAre("Kubernetes v1.38.0 is newer than weir is tested on (1.33 to 1.37)"));
}

TEST(CheckServerTest, UnreadableServerIsReportedNotFatal) {
  FakeServer s;
  s.docs["/version"] = absl::UnavailableError("connection refused");
  for (const char* p : {"/api/v1", "/apis/batch/v1", "/apis/weir.dev/v1alpha1"}) {
    s.docs[p] = StatusFromResponse(403, R"({"kind":"Status","reason":"Forbidden","message":"no"})");
  }
  ServerCheck c = CheckServer(s.Get(), {});
  EXPECT_EQ(c.version, "");
  ASSERT_EQ(c.missing.size(), 4u);
  EXPECT_EQ(c.missing[0], "cannot read /version: connection refused");
  EXPECT_THAT(c.missing[1], HasSubstr("cannot read /api/v1"));
  EXPECT_EQ(c.admission_policy_api, "");
}

}  // namespace
}  // namespace weir::kube
