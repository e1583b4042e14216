#include "api/jobflow.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace weir::api {
namespace {

using json = nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

absl::Time At(int y, int mo, int d, int h, int mi, int s) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::UTCTimeZone());
}

json Diamond() {
  return json::parse(R"({
    "apiVersion": "weir.dev/v1alpha1", "kind": "JobFlow",
    "metadata": {"name": "diamond", "namespace": "data", "uid": "f-1", "generation": 1},
    "spec": {
      "steps": [
        {"name": "extract", "template": "etl"},
        {"name": "transform-a", "template": "etl", "dependsOn": [{"step": "extract"}],
         "patch": {"template": {"spec": {"containers": [{"name": "etl",
                   "env": [{"name": "STAGE", "value": "a"}]}]}}}},
        {"name": "transform-b", "template": "etl",
         "dependsOn": [{"step": "extract", "condition": "Succeeded"}],
         "retry": {"limit": 2, "onReasons": ["Evicted"]}},
        {"name": "load", "template": "loader",
         "dependsOn": [{"step": "transform-a"}, {"step": "transform-b", "condition": "Completed"}],
         "cancel": true}
      ],
      "onStepFailure": "ContinueOthers", "parallelism": 2, "suspend": true, "cancel": false,
      "jobRetainPolicy": "Delete", "idleTimeoutSeconds": 60, "ttlSecondsAfterFinished": 3600
    },
    "status": {
      "phase": "Running", "observedGeneration": 1, "progress": "1/4", "message": "running",
      "startTime": "2026-11-25T12:00:00Z",
      "steps": [
        {"name": "extract", "template": "etl", "templateResourceVersion": "12", "phase": "Succeeded",
         "attempts": [{"attempt": 1, "job": "diamond-extract-1-ab12", "phase": "Succeeded",
                       "exitCode": 0, "startTime": "2026-11-25T12:00:00Z",
                       "completionTime": "2026-11-25T12:00:02Z"}]},
        {"name": "transform-a", "template": "etl", "phase": "Running",
         "attempts": [{"attempt": 1, "job": "diamond-transform-a-1-cd34"}]},
        {"name": "transform-b", "phase": "Pending"},
        {"name": "load", "phase": "Pending", "message": "waiting for transform-a, transform-b"}
      ],
      "conditions": [{"type": "Valid", "status": "True", "reason": "Validated", "message": "",
                      "lastTransitionTime": "2026-11-25T12:00:00Z", "observedGeneration": 1}]
    }})");
}

TEST(ParseJobFlowTest, FullObject) {
  JobFlow f = ParseJobFlow(Diamond());
  EXPECT_EQ(f.metadata.name, "diamond");
  ASSERT_TRUE(f.spec.ok()) << f.spec.status();
  const JobFlowSpec& s = *f.spec;
  ASSERT_EQ(s.steps.size(), 4u);
  EXPECT_EQ(s.steps[0].name, "extract");
  EXPECT_EQ(s.steps[0].template_name, "etl");
  EXPECT_FALSE(s.steps[0].patch.has_value());
  EXPECT_TRUE(s.steps[0].depends_on.empty());
  EXPECT_EQ(s.steps[0].retry, RetrySpec());
  ASSERT_TRUE(s.steps[1].patch.has_value());
  EXPECT_EQ((*s.steps[1].patch)["template"]["spec"]["containers"][0]["env"][0]["value"], "a");
  EXPECT_THAT(s.steps[1].depends_on, ElementsAre(DependsOn{"extract", "Succeeded"}));
  EXPECT_EQ(s.steps[2].retry.limit, 2);
  EXPECT_THAT(s.steps[2].retry.on_reasons, ElementsAre("Evicted"));
  EXPECT_THAT(s.steps[3].depends_on, ElementsAre(DependsOn{"transform-a", "Succeeded"},
                                                 DependsOn{"transform-b", "Completed"}));
  EXPECT_TRUE(s.steps[3].cancel);
  EXPECT_EQ(s.on_step_failure, "ContinueOthers");
  EXPECT_EQ(s.parallelism, 2);
  EXPECT_TRUE(s.suspend);
  EXPECT_FALSE(s.cancel);
  EXPECT_EQ(s.job_retain_policy, "Delete");
  EXPECT_EQ(s.idle_timeout, absl::Minutes(1));
  EXPECT_EQ(s.ttl_after_finished, absl::Hours(1));

  const JobFlowStatus& st = f.status;
  EXPECT_EQ(st.phase, "Running");
  EXPECT_EQ(st.progress, "1/4");
  EXPECT_EQ(st.start_time, At(2026, 11, 25, 12, 0, 0));
  ASSERT_EQ(st.steps.size(), 4u);
  EXPECT_EQ(st.steps[0].template_resource_version, "12");
  EXPECT_EQ(st.steps[0].attempts[0].exit_code, 0);
  EXPECT_EQ(st.steps[3].message, "waiting for transform-a, transform-b");
  ASSERT_NE(FindStepStatus(st, "transform-b"), nullptr);
  EXPECT_EQ(FindStepStatus(st, "transform-b")->phase, "Pending");
  EXPECT_EQ(FindStepStatus(st, "nope"), nullptr);
  EXPECT_EQ(st.conditions.size(), 1u);
}

TEST(ParseJobFlowTest, Defaults) {
  JobFlow f = ParseJobFlow(json::parse(
      R"({"metadata": {"name": "one"}, "spec": {"steps": [{"name": "only", "template": "t"}]}})"));
  ASSERT_TRUE(f.spec.ok()) << f.spec.status();
  EXPECT_EQ(f.spec->on_step_failure, "StopFlow");
  EXPECT_EQ(f.spec->parallelism, 0);
  EXPECT_FALSE(f.spec->suspend);
  EXPECT_FALSE(f.spec->cancel);
  EXPECT_EQ(f.spec->job_retain_policy, "Retain");
  EXPECT_FALSE(f.spec->idle_timeout.has_value());
  EXPECT_FALSE(f.spec->ttl_after_finished.has_value());
  EXPECT_FALSE(f.spec->steps[0].cancel);
  EXPECT_EQ(f.status, JobFlowStatus());
}

TEST(ParseJobFlowTest, GraphProblemsAreLeftToTheDag) {
  // Duplicate names, unknown dependencies, self-dependencies and cycles pass
  // here; flow::Dag::Build reports them.
  JobFlow f = ParseJobFlow(json::parse(R"({"spec": {"steps": [
      {"name": "a", "template": "t", "dependsOn": [{"step": "b"}, {"step": "a"}]},
      {"name": "b", "template": "t", "dependsOn": [{"step": "a"}, {"step": "ghost"}]},
      {"name": "b", "template": "t"}]}})"));
  EXPECT_TRUE(f.spec.ok()) << f.spec.status();
}

struct BadFlow {
  const char* pointer;
  const char* value;  // "DELETE" removes the member
  const char* error_prefix;
};

class BadJobFlowTest : public ::testing::TestWithParam<BadFlow> {};

TEST_P(BadJobFlowTest, SpecErrorNamesTheField) {
  const BadFlow& c = GetParam();
  json o = Diamond();
  json::json_pointer ptr(c.pointer);
  if (std::string(c.value) == "DELETE") {
    o[ptr.parent_pointer()].erase(ptr.back());
  } else {
    o[ptr] = json::parse(c.value);
  }
  JobFlow f = ParseJobFlow(o);
  ASSERT_FALSE(f.spec.ok()) << c.pointer << " = " << c.value;
  EXPECT_TRUE(absl::IsInvalidArgument(f.spec.status()));
  EXPECT_THAT(std::string(f.spec.status().message()), StartsWith(c.error_prefix));
  EXPECT_EQ(f.status.steps.size(), 4u);  // status is still read
}

std::string ManySteps(int n) {
  json steps = json::array();
  for (int i = 0; i < n; ++i)
    steps.push_back({{"name", "s" + std::to_string(i)}, {"template", "t"}});
  return steps.dump();
}

std::string ManyDeps(int n) {
  json deps = json::array();
  for (int i = 0; i < n; ++i) deps.push_back({{"step", "s" + std::to_string(i)}});
  return deps.dump();
}

const std::string kSteps301 = ManySteps(301);
const std::string kDeps65 = ManyDeps(65);

INSTANTIATE_TEST_SUITE_P(
    Table, BadJobFlowTest,
    ::testing::Values(
        BadFlow{"/spec", "DELETE", "spec: required"},
        BadFlow{"/spec", "[1]", "spec: must be an object"},
        BadFlow{"/spec/steps", "DELETE", "spec.steps: required"},
        BadFlow{"/spec/steps", "[]", "spec.steps: must have at least one step"},
        BadFlow{"/spec/steps", "{\"extract\": {}}", "spec.steps: must be an array"},
        BadFlow{"/spec/steps", kSteps301.c_str(), "spec.steps: must have at most 300 steps"},
        BadFlow{"/spec/steps/2", "\"transform-b\"", "spec.steps[2]: must be an object"},
        BadFlow{"/spec/steps/1/name", "DELETE", "spec.steps[1].name: required"},
        BadFlow{"/spec/steps/1/name", "\"Transform_A\"",
                "spec.steps[1].name: \"Transform_A\" is not a valid step name"},
        BadFlow{"/spec/steps/1/name", "\"\"", "spec.steps[1].name: \"\" is not a valid step name"},
        BadFlow{"/spec/steps/1/name",
                "\"a1234567890123456789012345678901234567890123456789012345678901234\"",
                "spec.steps[1].name: \"a1234567890"},
        BadFlow{"/spec/steps/1/name", "1", "spec.steps[1].name: must be a string"},
        BadFlow{"/spec/steps/0/template", "DELETE", "spec.steps[0].template: required"},
        BadFlow{"/spec/steps/0/template", "\"\"", "spec.steps[0].template: must not be empty"},
        BadFlow{"/spec/steps/0/template", "{}", "spec.steps[0].template: must be a string"},
        BadFlow{"/spec/steps/0/template", "\"ETL\"",
                "spec.steps[0].template: \"ETL\" is not a valid JobTemplate name"},
        BadFlow{"/spec/steps/1/patch", "[]", "spec.steps[1].patch: must be an object"},
        BadFlow{"/spec/steps/1/patch", "\"x\"", "spec.steps[1].patch: must be an object"},
        BadFlow{"/spec/steps/1/dependsOn", "{\"step\": \"extract\"}",
                "spec.steps[1].dependsOn: must be an array"},
        BadFlow{"/spec/steps/3/dependsOn", kDeps65.c_str(),
                "spec.steps[3].dependsOn: must have at most 64 items"},
        BadFlow{"/spec/steps/1/dependsOn/0", "\"extract\"",
                "spec.steps[1].dependsOn[0]: must be an object"},
        BadFlow{"/spec/steps/1/dependsOn/0/step", "DELETE",
                "spec.steps[1].dependsOn[0].step: required"},
        BadFlow{"/spec/steps/1/dependsOn/0/step", "3",
                "spec.steps[1].dependsOn[0].step: must be a string"},
        BadFlow{"/spec/steps/3/dependsOn/1/condition", "\"Skipped\"",
                "spec.steps[3].dependsOn[1].condition: unsupported value \"Skipped\": must be one "
                "of Succeeded, Failed, Completed, Canceled"},
        BadFlow{"/spec/steps/3/dependsOn/1/condition", "true",
                "spec.steps[3].dependsOn[1].condition: must be a string"},
        BadFlow{"/spec/steps/2/retry/limit", "1000", "spec.steps[2].retry.limit: must be between"},
        BadFlow{"/spec/steps/2/retry/onOOM", "{\"maxMemory\": \"lots\"}",
                "spec.steps[2].retry.onOOM.maxMemory: \"lots\" is not a quantity"},
        BadFlow{"/spec/steps/2/retry/onReasons/0", "\"Bored\"",
                "spec.steps[2].retry.onReasons[0]: unsupported value"},
        BadFlow{"/spec/steps/3/cancel", "1", "spec.steps[3].cancel: must be a boolean"},
        BadFlow{"/spec/onStepFailure", "\"Ignore\"",
                "spec.onStepFailure: unsupported value \"Ignore\": must be one of StopFlow, "
                "ContinueOthers"},
        BadFlow{"/spec/parallelism", "-1", "spec.parallelism: must be at least 0"},
        BadFlow{"/spec/parallelism", "\"2\"", "spec.parallelism: must be an integer"},
        BadFlow{"/spec/parallelism", "4294967296", "spec.parallelism: must be at least 0 and fit"},
        BadFlow{"/spec/suspend", "\"no\"", "spec.suspend: must be a boolean"},
        BadFlow{"/spec/cancel", "0", "spec.cancel: must be a boolean"},
        BadFlow{"/spec/jobRetainPolicy", "\"Keep\"", "spec.jobRetainPolicy: unsupported value"},
        BadFlow{"/spec/idleTimeoutSeconds", "-1", "spec.idleTimeoutSeconds: must be at least 0"},
        BadFlow{"/spec/ttlSecondsAfterFinished", "[]",
                "spec.ttlSecondsAfterFinished: must be an integer"}));

TEST(ParseJobFlowTest, NotAnObject) {
  JobFlow f = ParseJobFlow(json("flow"));
  EXPECT_TRUE(absl::IsInvalidArgument(f.spec.status()));
  EXPECT_THAT(std::string(f.spec.status().message()), HasSubstr("JobFlow: must be a JSON object"));
}

TEST(JobFlowStatusTest, StatusIsTolerant) {
  json o = Diamond();
  o["status"]["steps"] = json::parse(R"([1, {"phase": "Running"}, {"name": "a", "phase": 3},
                                          {"name": "a", "phase": "Failed"}, {"name": "b",
                                           "attempts": "x"}])");
  o["status"]["startTime"] = "later";
  o["status"]["conditions"] = json::object();
  JobFlowStatus st = ParseJobFlow(o).status;
  ASSERT_EQ(st.steps.size(), 2u);
  EXPECT_EQ(st.steps[0].name, "a");
  EXPECT_EQ(st.steps[0].phase, "");
  EXPECT_EQ(st.steps[1].name, "b");
  EXPECT_TRUE(st.steps[1].attempts.empty());
  EXPECT_FALSE(st.start_time.has_value());
  EXPECT_TRUE(st.conditions.empty());
}

TEST(JobFlowStatusTest, RoundTrip) {
  EXPECT_EQ(JobFlowStatusToJson(JobFlowStatus()), json::object());
  JobFlowStatus st = ParseJobFlow(Diamond()).status;
  json j = JobFlowStatusToJson(st);
  EXPECT_EQ(j, Diamond()["status"]);
  EXPECT_EQ(ParseJobFlowStatus(j), st);

  st.phase = "Succeeded";
  st.completion_time = At(2026, 11, 25, 12, 5, 0);
  FindStepStatus(st, "load")->phase = "Skipped";
  AttemptStatus first;
  first.attempt = 1;
  FindStepStatus(st, "load")->attempts.push_back(first);
  SetCondition(st.conditions, kConditionFinished, kConditionTrue, "Succeeded", "all done", 1,
               At(2026, 11, 25, 12, 5, 0));
  j = JobFlowStatusToJson(st);
  EXPECT_EQ(j["steps"][3], json::parse(R"({"name": "load", "phase": "Skipped",
      "message": "waiting for transform-a, transform-b", "attempts": [{"attempt": 1}]})"));
  EXPECT_EQ(ParseJobFlowStatus(j), st);
  JobFlowStatus other = st;
  other.steps[0].template_resource_version = "13";
  EXPECT_NE(other, st);
}

TEST(JobFlowStatusTest, StepNameAlwaysWritten) {
  JobFlowStatus st;
  StepStatus x;
  x.name = "x";
  st.steps.push_back(x);
  EXPECT_EQ(JobFlowStatusToJson(st), json::parse(R"({"steps": [{"name": "x"}]})"));
}

}  // namespace
}  // namespace weir::api
