#include "api/jobtemplate.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace weir::api {
namespace {

using json = nlohmann::json;
using ::testing::ElementsAre;
using ::testing::StartsWith;

json Etl() {
  return json::parse(R"({
    "apiVersion": "weir.dev/v1alpha1", "kind": "JobTemplate",
    "metadata": {"name": "etl", "namespace": "data", "resourceVersion": "12"},
    "spec": {"jobSpec": {"activeDeadlineSeconds": 3600, "template": {
      "metadata": {"annotations": {"sim.weir.dev/outcome": "Succeeded",
                                   "sim.weir.dev/duration": "2s"}},
      "spec": {"containers": [{"name": "etl", "image": "busybox",
                               "env": [{"name": "STAGE", "value": "extract"}]}]}}}},
    "status": {"usedBy": ["data/nightly", 7, "data/hourly"]}})");
}

TEST(ParseJobTemplateTest, Valid) {
  JobTemplate t = ParseJobTemplate(Etl());
  EXPECT_EQ(t.metadata.name, "etl");
  EXPECT_EQ(t.metadata.resource_version, "12");
  ASSERT_TRUE(t.job_spec.ok()) << t.job_spec.status();
  EXPECT_EQ(*t.job_spec, Etl()["spec"]["jobSpec"]);
  EXPECT_THAT(t.status.used_by, ElementsAre("data/nightly", "data/hourly"));
}

struct BadTemplate {
  const char* pointer;
  const char* value;  // "DELETE" removes the member
  const char* error_prefix;
};

class BadJobTemplateTest : public ::testing::TestWithParam<BadTemplate> {};

TEST_P(BadJobTemplateTest, NamesTheField) {
  const BadTemplate& c = GetParam();
  json o = Etl();
  json::json_pointer ptr(c.pointer);
  if (std::string(c.value) == "DELETE") {
    o[ptr.parent_pointer()].erase(ptr.back());
  } else {
    o[ptr] = json::parse(c.value);
  }
  JobTemplate t = ParseJobTemplate(o);
  ASSERT_FALSE(t.job_spec.ok()) << c.pointer;
  EXPECT_TRUE(absl::IsInvalidArgument(t.job_spec.status()));
  EXPECT_THAT(std::string(t.job_spec.status().message()), StartsWith(c.error_prefix));
  EXPECT_EQ(t.metadata.name, "etl");
}

INSTANTIATE_TEST_SUITE_P(
    Table, BadJobTemplateTest,
    ::testing::Values(
        BadTemplate{"/spec", "DELETE", "spec: required"},
        BadTemplate{"/spec", "[]", "spec: must be an object"},
        BadTemplate{"/spec/jobSpec", "DELETE", "spec.jobSpec: required"},
        BadTemplate{"/spec/jobSpec", "\"job\"", "spec.jobSpec: must be an object"},
        BadTemplate{"/spec/jobSpec/template/spec/containers", "[]",
                    "spec.jobSpec.template.spec.containers: must have at least one container"},
        BadTemplate{"/spec/jobSpec/template/spec/containers/0/name", "DELETE",
                    "spec.jobSpec.template.spec.containers[0].name: required"},
        BadTemplate{"/spec/jobSpec/template/metadata/annotations", "\"x\"",
                    "spec.jobSpec.template.metadata.annotations: must be an object"}));

TEST(ParseJobTemplateTest, NotAnObject) {
  JobTemplate t = ParseJobTemplate(json::array());
  EXPECT_TRUE(absl::IsInvalidArgument(t.job_spec.status()));
  EXPECT_THAT(std::string(t.job_spec.status().message()), StartsWith("JobTemplate: must be"));
}

TEST(JobTemplateStatusTest, RoundTrip) {
  EXPECT_EQ(JobTemplateStatusToJson({}), json::object());
  JobTemplateStatus s{.used_by = {"a/b", "c/d"}};
  json j = JobTemplateStatusToJson(s);
  EXPECT_EQ(j, json::parse(R"({"usedBy": ["a/b", "c/d"]})"));
  json o = Etl();
  o["status"] = j;
  EXPECT_EQ(ParseJobTemplate(o).status, s);
}

}  // namespace
}  // namespace weir::api
