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

// MergeJobSpec.

json EtlBase() {
  return json::parse(R"({
    "activeDeadlineSeconds": 600,
    "template": {
      "metadata": {"annotations": {"sim.weir.dev/outcome": "Succeeded", "sim.weir.dev/duration": "2s"}},
      "spec": {
        "volumes": [{"name": "scratch", "emptyDir": {}}],
        "containers": [
          {"name": "etl", "image": "etl:1", "args": ["--stage", "extract"],
           "env": [{"name": "STAGE", "value": "extract"}, {"name": "LOG", "value": "info"}],
           "resources": {"limits": {"memory": "512Mi", "cpu": "1"}},
           "volumeMounts": [{"name": "scratch", "mountPath": "/tmp"}]},
          {"name": "sidecar", "image": "shipper:1"}
        ],
        "tolerations": [{"key": "batch", "operator": "Exists"}]
      }
    }})");
}

json Patched(const char* patch) { return MergeJobSpec(EtlBase(), json::parse(patch)); }

TEST(MergeJobSpecTest, NullOrEmptyPatchKeepsBase) {
  EXPECT_EQ(MergeJobSpec(EtlBase(), json()), EtlBase());
  EXPECT_EQ(MergeJobSpec(EtlBase(), json::object()), EtlBase());
}

TEST(MergeJobSpecTest, ContainersMergeByName) {
  json out =
      Patched(R"({"template": {"spec": {"containers": [{"name": "etl", "image": "etl:2"}]}}})");
  json expected = EtlBase();
  expected["template"]["spec"]["containers"][0]["image"] = "etl:2";
  EXPECT_EQ(out, expected);
}

TEST(MergeJobSpecTest, EnvMergesByNameInsideAContainer) {
  json out = Patched(R"({"template": {"spec": {"containers": [{"name": "etl", "env": [
      {"name": "STAGE", "value": "transform"}, {"name": "EXTRA", "value": "1"}]}]}}})");
  const json& env = out["template"]["spec"]["containers"][0]["env"];
  EXPECT_EQ(env, json::parse(R"([{"name": "STAGE", "value": "transform"},
                                 {"name": "LOG", "value": "info"},
                                 {"name": "EXTRA", "value": "1"}])"));
  // The rest of the container and the other container are untouched.
  EXPECT_EQ(out["template"]["spec"]["containers"][0]["image"], "etl:1");
  EXPECT_EQ(out["template"]["spec"]["containers"][1],
            EtlBase()["template"]["spec"]["containers"][1]);
}

TEST(MergeJobSpecTest, NewNamesAreAppended) {
  json out = Patched(R"({"template": {"spec": {
      "containers": [{"name": "debug", "image": "busybox"}],
      "volumes": [{"name": "cache", "emptyDir": {"medium": "Memory"}}]}}})");
  const json& containers = out["template"]["spec"]["containers"];
  ASSERT_EQ(containers.size(), 3u);
  EXPECT_EQ(containers[0]["name"], "etl");
  EXPECT_EQ(containers[1]["name"], "sidecar");
  EXPECT_EQ(containers[2], json::parse(R"({"name": "debug", "image": "busybox"})"));
  EXPECT_EQ(out["template"]["spec"]["volumes"].size(), 2u);
  EXPECT_EQ(out["template"]["spec"]["volumes"][1]["name"], "cache");
}

TEST(MergeJobSpecTest, ScalarsAreReplaced) {
  json out = Patched(R"({"activeDeadlineSeconds": 60, "template": {"metadata": {"annotations": {
      "sim.weir.dev/outcome": "Failed"}}}})");
  EXPECT_EQ(out["activeDeadlineSeconds"], 60);
  EXPECT_EQ(out["template"]["metadata"]["annotations"],
            json::parse(R"({"sim.weir.dev/outcome": "Failed", "sim.weir.dev/duration": "2s"})"));
}

TEST(MergeJobSpecTest, NullDeletes) {
  json out = Patched(R"({"activeDeadlineSeconds": null,
      "template": {"metadata": {"annotations": {"sim.weir.dev/duration": null}},
                   "spec": {"containers": [{"name": "etl", "resources": {"limits": {"memory": null}},
                                            "args": null}]}}})");
  EXPECT_FALSE(out.contains("activeDeadlineSeconds"));
  EXPECT_FALSE(out["template"]["metadata"]["annotations"].contains("sim.weir.dev/duration"));
  const json& etl = out["template"]["spec"]["containers"][0];
  EXPECT_EQ(etl["resources"], json::parse(R"({"limits": {"cpu": "1"}})"));
  EXPECT_FALSE(etl.contains("args"));
  // Deleting what is not there is no error.
  EXPECT_EQ(Patched(R"({"parallelism": null})"), EtlBase());
}

TEST(MergeJobSpecTest, NonNamedListsAreReplaced) {
  json out = Patched(R"({"template": {"spec": {
      "containers": [{"name": "etl", "args": ["--stage", "load", "--fast"]}],
      "tolerations": [{"key": "gpu", "operator": "Exists"}]}}})");
  EXPECT_EQ(out["template"]["spec"]["containers"][0]["args"],
            json::parse(R"(["--stage", "load", "--fast"])"));
  EXPECT_EQ(out["template"]["spec"]["tolerations"],
            json::parse(R"([{"key": "gpu", "operator": "Exists"}])"));
}

TEST(MergeJobSpecTest, MixedOrEmptyListsReplace) {
  // One patch item without a name: the whole list is replaced.
  json out = Patched(R"({"template": {"spec": {"containers": [{"name": "etl", "env": [
      {"name": "A", "value": "1"}, {"value": "nameless"}]}]}}})");
  EXPECT_EQ(out["template"]["spec"]["containers"][0]["env"],
            json::parse(R"([{"name": "A", "value": "1"}, {"value": "nameless"}])"));
  // An empty list clears.
  out = Patched(R"({"template": {"spec": {"containers": [{"name": "etl", "env": []}]}}})");
  EXPECT_EQ(out["template"]["spec"]["containers"][0]["env"], json::array());
  // A named patch list over a base list that is not named replaces it.
  out = Patched(R"({"template": {"spec": {"tolerations": [{"name": "x", "key": "k"}]}}})");
  EXPECT_EQ(out["template"]["spec"]["tolerations"], json::parse(R"([{"name": "x", "key": "k"}])"));
}

TEST(MergeJobSpecTest, TypeChangesReplaceAndDropNulls) {
  json out = Patched(R"({"template": {"spec": {"volumes": {"odd": true, "gone": null},
                                               "nodeSelector": {"disk": "ssd", "zone": null}}}})");
  EXPECT_EQ(out["template"]["spec"]["volumes"], json::parse(R"({"odd": true})"));
  EXPECT_EQ(out["template"]["spec"]["nodeSelector"], json::parse(R"({"disk": "ssd"})"));
  // Appended named items lose their nulls too.
  out = Patched(R"({"template": {"spec": {"containers": [{"name": "new", "image": null}]}}})");
  EXPECT_EQ(out["template"]["spec"]["containers"][2], json::parse(R"({"name": "new"})"));
}

TEST(MergeJobSpecTest, VolumeMountsMergeByNameAndBaseIsNotModified) {
  json base = EtlBase();
  json out = MergeJobSpec(base, json::parse(R"({"template": {"spec": {"containers": [
      {"name": "etl", "volumeMounts": [{"name": "scratch", "readOnly": true}]}]}}})"));
  EXPECT_EQ(out["template"]["spec"]["containers"][0]["volumeMounts"],
            json::parse(R"([{"name": "scratch", "mountPath": "/tmp", "readOnly": true}])"));
  EXPECT_EQ(base, EtlBase());
}

TEST(MergeJobSpecTest, ResultOfAStepPatchValidates) {
  json out = Patched(R"({"template": {"spec": {"containers": [
      {"name": "etl", "resources": {"limits": {"memory": "1Gi"}}}]}}})");
  EXPECT_TRUE(ValidateJobSpec(out, "spec.jobSpec").ok());
  EXPECT_EQ(out["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"], "1Gi");
  EXPECT_EQ(out["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"], "1");
}

TEST(MergeJobSpecTest, RepeatedNamesMatchByOccurrence) {
  json base = json::parse(R"({"env": [{"name": "B", "value": "1"}, {"name": "C"}]})");
  json patch =
      json::parse(R"({"env": [{"name": "B", "value": "x"}, {"name": "B", "value": "y"}]})");
  json once = MergeJobSpec(base, patch);
  EXPECT_EQ(once, json::parse(R"({"env": [{"name": "B", "value": "x"}, {"name": "C"},
                                          {"name": "B", "value": "y"}]})"));
  EXPECT_EQ(MergeJobSpec(once, patch), once);
}

TEST(MergeJobSpecTest, AnyJsonIsMerged) {
  EXPECT_EQ(MergeJobSpec(json(3), json::parse(R"({"a": 1})")), json::parse(R"({"a": 1})"));
  EXPECT_EQ(MergeJobSpec(json::parse(R"({"a": 1})"), json("x")), json("x"));
  EXPECT_EQ(MergeJobSpec(json::array({1, 2}), json::array({3})), json::array({3}));
}

}  // namespace
}  // namespace weir::api
