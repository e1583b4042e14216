#include "api/jobspec.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace weir::api {
namespace {

using json = nlohmann::json;
using ::testing::ElementsAre;
using ::testing::StartsWith;

json GoodJobSpec() {
  return json::parse(R"({
    "activeDeadlineSeconds": 600,
    "template": {
      "metadata": {"labels": {"app": "etl"}, "annotations": {"sim.weir.dev/outcome": "Succeeded"}},
      "spec": {
        "initContainers": [{"name": "fetch", "image": "busybox"}],
        "containers": [
          {"name": "main", "image": "busybox",
           "resources": {"limits": {"memory": "512Mi", "cpu": 1}, "requests": {"cpu": "500m"}}},
          {"name": "sidecar", "image": "busybox"}
        ]
      }
    }})");
}

TEST(ValidateJobSpecTest, AcceptsAGoodSpec) {
  EXPECT_TRUE(ValidateJobSpec(GoodJobSpec(), "spec.jobSpec").ok());
  EXPECT_TRUE(
      ValidateJobSpec(json::parse(R"({"template": {"spec": {"containers": [{"name": "a"}]}}})"),
                      "spec.jobSpec")
          .ok());
}

struct BadSpec {
  const char* pointer;  // JSON pointer into GoodJobSpec() to replace ("" = whole)
  const char* value;    // JSON value put there; "DELETE" removes it
  const char* error_prefix;
};

class BadJobSpecTest : public ::testing::TestWithParam<BadSpec> {};

TEST_P(BadJobSpecTest, NamesTheField) {
  const BadSpec& c = GetParam();
  json spec = GoodJobSpec();
  json::json_pointer ptr(c.pointer);
  if (std::string(c.value) == "DELETE") {
    spec[ptr.parent_pointer()].erase(ptr.back());
  } else {
    spec[ptr] = json::parse(c.value);
  }
  absl::Status s = ValidateJobSpec(spec, "spec.jobSpec");
  ASSERT_FALSE(s.ok()) << c.pointer;
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_THAT(std::string(s.message()), StartsWith(c.error_prefix));
}

INSTANTIATE_TEST_SUITE_P(
    Table, BadJobSpecTest,
    ::testing::Values(
        BadSpec{"", "[]", "spec.jobSpec: must be an object, got an array"},
        BadSpec{"/template", "DELETE", "spec.jobSpec.template: required"},
        BadSpec{"/template", "\"pod\"", "spec.jobSpec.template: must be an object"},
        BadSpec{"/template/metadata", "1", "spec.jobSpec.template.metadata: must be an object"},
        BadSpec{"/template/metadata/labels", "[]",
                "spec.jobSpec.template.metadata.labels: must be an object"},
        BadSpec{"/template/metadata/annotations/sim.weir.dev~1duration", "5",
                "spec.jobSpec.template.metadata.annotations.sim.weir.dev/duration: must be a "
                "string"},
        BadSpec{"/template/spec", "DELETE", "spec.jobSpec.template.spec: required"},
        BadSpec{"/template/spec", "[]", "spec.jobSpec.template.spec: must be an object"},
        BadSpec{"/template/spec/containers", "DELETE",
                "spec.jobSpec.template.spec.containers: required"},
        BadSpec{"/template/spec/containers", "[]",
                "spec.jobSpec.template.spec.containers: must have at least one container"},
        BadSpec{"/template/spec/containers", "{\"name\": \"main\"}",
                "spec.jobSpec.template.spec.containers: must be an array"},
        BadSpec{"/template/spec/containers/1", "\"sidecar\"",
                "spec.jobSpec.template.spec.containers[1]: must be an object"},
        BadSpec{"/template/spec/containers/1/name", "DELETE",
                "spec.jobSpec.template.spec.containers[1].name: required"},
        BadSpec{"/template/spec/containers/1/name", "7",
                "spec.jobSpec.template.spec.containers[1].name: must be a string"},
        BadSpec{"/template/spec/containers/1/name", "\"Side_Car\"",
                "spec.jobSpec.template.spec.containers[1].name: \"Side_Car\" is not a valid "
                "container name"},
        BadSpec{"/template/spec/containers/1/name", "\"main\"",
                "spec.jobSpec.template.spec.containers[1].name: duplicate container name"},
        BadSpec{"/template/spec/initContainers/0/name", "\"main\"",
                "spec.jobSpec.template.spec.initContainers[0].name: duplicate container name"},
        BadSpec{"/template/spec/initContainers", "{}",
                "spec.jobSpec.template.spec.initContainers: must be an array"},
        BadSpec{"/template/spec/containers/0/resources", "\"big\"",
                "spec.jobSpec.template.spec.containers[0].resources: must be an object"},
        BadSpec{"/template/spec/containers/0/resources/limits", "[]",
                "spec.jobSpec.template.spec.containers[0].resources.limits: must be an object"},
        BadSpec{"/template/spec/containers/0/resources/limits/memory", "\"lots\"",
                "spec.jobSpec.template.spec.containers[0].resources.limits.memory: \"lots\" is "
                "not a quantity"},
        BadSpec{"/template/spec/containers/0/resources/limits/memory", "\"-1Gi\"",
                "spec.jobSpec.template.spec.containers[0].resources.limits.memory: must not be "
                "negative"},
        BadSpec{"/template/spec/containers/0/resources/requests/cpu", "true",
                "spec.jobSpec.template.spec.containers[0].resources.requests.cpu: must be a "
                "quantity"}));

TEST(ContainerNamesTest, ListsNamesTolerantly) {
  EXPECT_THAT(ContainerNames(GoodJobSpec()), ElementsAre("main", "sidecar"));
  EXPECT_TRUE(ContainerNames(json()).empty());
  EXPECT_TRUE(ContainerNames(json::parse(R"({"template": {"spec": {"containers": 3}}})")).empty());
  EXPECT_THAT(ContainerNames(json::parse(
                  R"({"template": {"spec": {"containers": [{"name": 1}, "x", {"name": "b"}]}}})")),
              ElementsAre("b"));
}

TEST(CheckMainContainerTest, Cases) {
  EXPECT_TRUE(CheckMainContainer(GoodJobSpec(), "", "spec.mainContainer").ok());
  EXPECT_TRUE(CheckMainContainer(GoodJobSpec(), "sidecar", "spec.mainContainer").ok());
  absl::Status s = CheckMainContainer(GoodJobSpec(), "fetch", "spec.mainContainer");
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_EQ(s.message(),
            "spec.mainContainer: no container named \"fetch\" in the pod template (containers: "
            "main, sidecar)");
}

}  // namespace
}  // namespace weir::api
