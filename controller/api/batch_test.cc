#include "api/batch.h"

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

// A Batch as the API server returns it, with every spec field set.
json FullBatch() {
  return json::parse(R"({
    "apiVersion": "weir.dev/v1alpha1",
    "kind": "Batch",
    "metadata": {"name": "train", "namespace": "ml", "uid": "u-1", "resourceVersion": "77",
                 "generation": 2, "creationTimestamp": "2026-11-25T12:00:00Z",
                 "finalizers": ["weir.dev/cleanup"]},
    "spec": {
      "jobSpec": {
        "template": {
          "metadata": {"annotations": {"sim.weir.dev/outcome": "OOMKilled"}},
          "spec": {"containers": [
            {"name": "log-shipper", "image": "busybox"},
            {"name": "trainer", "image": "busybox", "resources": {"limits": {"memory": "512Mi"}}}
          ]}
        }
      },
      "mainContainer": "trainer",
      "retry": {"limit": 3, "backoffSeconds": 5,
                "onOOM": {"memoryFactor": 1.5, "maxMemory": "4Gi"},
                "onReasons": ["OOMKilled", "Evicted"]},
      "cancel": false,
      "idleTimeoutSeconds": 300,
      "ttlSecondsAfterFinished": 86400,
      "imagePullGraceSeconds": 120
    },
    "status": {
      "phase": "Retrying", "observedGeneration": 2, "attempt": 2, "job": "train-2-x7k2p",
      "terminationReason": "OOMKilled", "exitCode": 137,
      "message": "attempt 1 was OOMKilled; retrying with 768Mi",
      "startTime": "2026-11-25T12:00:01Z",
      "attempts": [
        {"attempt": 1, "job": "train-1-x7k2p", "phase": "Killed", "terminationReason": "OOMKilled",
         "exitCode": 137, "memoryLimit": "512Mi", "startTime": "2026-11-25T12:00:01Z",
         "completionTime": "2026-11-25T12:00:03Z"},
        {"attempt": 2, "job": "train-2-x7k2p", "memoryLimit": "768Mi",
         "startTime": "2026-11-25T12:00:08Z"}
      ],
      "conditions": [
        {"type": "Valid", "status": "True", "reason": "Validated", "message": "",
         "lastTransitionTime": "2026-11-25T12:00:00Z", "observedGeneration": 2},
        {"type": "Running", "status": "True", "reason": "Retrying", "message": "attempt 2",
         "lastTransitionTime": "2026-11-25T12:00:01Z", "observedGeneration": 2}
      ]
    }})");
}

json TemplateBatch() {
  return json::parse(R"({"apiVersion": "weir.dev/v1alpha1", "kind": "Batch",
                         "metadata": {"name": "nightly"}, "spec": {"template": "etl"}})");
}

TEST(ParseBatchTest, FullObject) {
  Batch b = ParseBatch(FullBatch());
  EXPECT_EQ(b.metadata.name, "train");
  EXPECT_EQ(b.metadata.generation, 2);
  ASSERT_TRUE(b.spec.ok()) << b.spec.status();
  const BatchSpec& s = *b.spec;
  EXPECT_EQ(s.template_name, "");
  ASSERT_TRUE(s.job_spec.has_value());
  EXPECT_EQ((*s.job_spec)["template"]["spec"]["containers"][1]["name"], "trainer");
  EXPECT_EQ(s.main_container, "trainer");
  EXPECT_EQ(s.retry.limit, 3);
  EXPECT_EQ(s.retry.backoff_seconds, 5);
  ASSERT_TRUE(s.retry.on_oom.has_value());
  EXPECT_EQ(s.retry.on_oom->memory_factor, 1.5);
  EXPECT_EQ(s.retry.on_oom->max_memory.ToString(), "4Gi");
  EXPECT_THAT(s.retry.on_reasons, ElementsAre("OOMKilled", "Evicted"));
  EXPECT_FALSE(s.cancel);
  EXPECT_EQ(s.idle_timeout, absl::Minutes(5));
  EXPECT_EQ(s.ttl_after_finished, absl::Hours(24));
  EXPECT_EQ(s.image_pull_grace, absl::Minutes(2));

  const BatchStatus& st = b.status;
  EXPECT_EQ(st.phase, "Retrying");
  EXPECT_EQ(st.observed_generation, 2);
  EXPECT_EQ(st.attempt, 2);
  EXPECT_EQ(st.job, "train-2-x7k2p");
  EXPECT_EQ(st.termination_reason, "OOMKilled");
  EXPECT_EQ(st.exit_code, 137);
  EXPECT_EQ(st.start_time, At(2026, 11, 25, 12, 0, 1));
  EXPECT_FALSE(st.completion_time.has_value());
  ASSERT_EQ(st.attempts.size(), 2u);
  EXPECT_EQ(st.attempts[0].phase, "Killed");
  EXPECT_EQ(st.attempts[0].completion_time, At(2026, 11, 25, 12, 0, 3));
  EXPECT_EQ(st.attempts[1].memory_limit, "768Mi");
  ASSERT_EQ(st.conditions.size(), 2u);
  EXPECT_EQ(FindCondition(st.conditions, "Running")->reason, "Retrying");
}

TEST(ParseBatchTest, TemplateBatchTakesDefaults) {
  Batch b = ParseBatch(TemplateBatch());
  ASSERT_TRUE(b.spec.ok()) << b.spec.status();
  EXPECT_EQ(b.spec->template_name, "etl");
  EXPECT_FALSE(b.spec->job_spec.has_value());
  EXPECT_EQ(b.spec->main_container, "");
  EXPECT_EQ(b.spec->retry, RetrySpec());
  EXPECT_FALSE(b.spec->cancel);
  EXPECT_FALSE(b.spec->idle_timeout.has_value());
  EXPECT_FALSE(b.spec->ttl_after_finished.has_value());
  EXPECT_FALSE(b.spec->image_pull_grace.has_value());
  EXPECT_EQ(b.status, BatchStatus());
  EXPECT_EQ(b.status.phase, "");
}

TEST(ParseBatchTest, MainContainerOfATemplateIsCheckedLater) {
  json o = TemplateBatch();
  o["spec"]["mainContainer"] = "anything";
  Batch b = ParseBatch(o);
  ASSERT_TRUE(b.spec.ok()) << b.spec.status();
  EXPECT_EQ(b.spec->main_container, "anything");
}

TEST(ParseBatchTest, NullFieldsAreAbsent) {
  json o = TemplateBatch();
  o["spec"]["retry"] = nullptr;
  o["spec"]["jobSpec"] = nullptr;
  o["spec"]["idleTimeoutSeconds"] = nullptr;
  o["status"] = nullptr;
  Batch b = ParseBatch(o);
  ASSERT_TRUE(b.spec.ok()) << b.spec.status();
  EXPECT_FALSE(b.spec->idle_timeout.has_value());
}

TEST(ParseBatchTest, CancelAndZeroDurations) {
  json o = TemplateBatch();
  o["spec"]["cancel"] = true;
  o["spec"]["idleTimeoutSeconds"] = 0;
  Batch b = ParseBatch(o);
  ASSERT_TRUE(b.spec.ok()) << b.spec.status();
  EXPECT_TRUE(b.spec->cancel);
  EXPECT_EQ(b.spec->idle_timeout, absl::ZeroDuration());
}

struct BadBatch {
  const char* pointer;  // JSON pointer into FullBatch() (or TemplateBatch() if from_template)
  const char* value;    // JSON value put there; "DELETE" removes the member
  const char* error_prefix;
  bool from_template = false;
};

class BadBatchTest : public ::testing::TestWithParam<BadBatch> {};

TEST_P(BadBatchTest, SpecErrorNamesTheField) {
  const BadBatch& c = GetParam();
  json o = c.from_template ? TemplateBatch() : FullBatch();
  json::json_pointer ptr(c.pointer);
  if (std::string(c.value) == "DELETE") {
    o[ptr.parent_pointer()].erase(ptr.back());
  } else {
    o[ptr] = json::parse(c.value);
  }
  Batch b = ParseBatch(o);
  ASSERT_FALSE(b.spec.ok()) << c.pointer << " = " << c.value;
  EXPECT_TRUE(absl::IsInvalidArgument(b.spec.status()));
  EXPECT_THAT(std::string(b.spec.status().message()), StartsWith(c.error_prefix));
  // Metadata and status are still read.
  EXPECT_EQ(b.metadata.name, c.from_template ? "nightly" : "train");
}

INSTANTIATE_TEST_SUITE_P(
    Table, BadBatchTest,
    ::testing::Values(
        BadBatch{"/spec", "DELETE", "spec: required"},
        BadBatch{"/spec", "\"x\"", "spec: must be an object, got a string"},
        BadBatch{"/spec/template", "\"etl\"",
                 "spec: exactly one of template and jobSpec must be set, not both"},
        BadBatch{"/spec/jobSpec", "DELETE", "spec: exactly one of template and jobSpec"},
        BadBatch{"/spec/template", "\"\"", "spec.template: must not be empty", true},
        BadBatch{"/spec/template", "5", "spec.template: must be a string", true},
        BadBatch{"/spec/template", "\"Not_A_Name\"",
                 "spec.template: \"Not_A_Name\" is not a valid JobTemplate name", true},
        BadBatch{"/spec/jobSpec", "[]", "spec.jobSpec: must be an object"},
        BadBatch{"/spec/jobSpec/template", "DELETE", "spec.jobSpec.template: required"},
        BadBatch{"/spec/jobSpec/template/spec/containers", "[]",
                 "spec.jobSpec.template.spec.containers: must have at least one container"},
        BadBatch{"/spec/jobSpec/template/spec/containers/0/name", "DELETE",
                 "spec.jobSpec.template.spec.containers[0].name: required"},
        BadBatch{"/spec/mainContainer", "\"driver\"",
                 "spec.mainContainer: no container named \"driver\""},
        BadBatch{"/spec/mainContainer", "[\"trainer\"]", "spec.mainContainer: must be a string"},
        BadBatch{"/spec/mainContainer",
                 "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
                 "spec.mainContainer: must be at most 63 characters"},
        BadBatch{"/spec/retry", "true", "spec.retry: must be an object"},
        BadBatch{"/spec/retry/limit", "101", "spec.retry.limit: must be between 0 and 100"},
        BadBatch{"/spec/retry/limit", "\"3\"", "spec.retry.limit: must be an integer"},
        BadBatch{"/spec/retry/backoffSeconds", "-1", "spec.retry.backoffSeconds: must be between"},
        BadBatch{"/spec/retry/onOOM/maxMemory", "\"lots\"",
                 "spec.retry.onOOM.maxMemory: \"lots\" is not a quantity"},
        BadBatch{"/spec/retry/onOOM/maxMemory", "DELETE", "spec.retry.onOOM.maxMemory: required"},
        BadBatch{"/spec/retry/onOOM/memoryFactor", "1.0",
                 "spec.retry.onOOM.memoryFactor: must be greater than 1"},
        BadBatch{"/spec/retry/onReasons/0", "\"Timeout\"",
                 "spec.retry.onReasons[0]: unsupported value \"Timeout\""},
        BadBatch{"/spec/cancel", "\"true\"", "spec.cancel: must be a boolean"},
        BadBatch{"/spec/idleTimeoutSeconds", "-1", "spec.idleTimeoutSeconds: must be at least 0"},
        BadBatch{"/spec/idleTimeoutSeconds", "\"5m\"",
                 "spec.idleTimeoutSeconds: must be an integer"},
        BadBatch{"/spec/ttlSecondsAfterFinished", "-10",
                 "spec.ttlSecondsAfterFinished: must be at least 0"},
        BadBatch{"/spec/ttlSecondsAfterFinished", "1.5",
                 "spec.ttlSecondsAfterFinished: must be an integer"},
        BadBatch{"/spec/imagePullGraceSeconds", "{}",
                 "spec.imagePullGraceSeconds: must be an integer, got an object"}));

TEST(ParseBatchTest, NotAnObject) {
  for (const json& o : {json(), json(3), json("Batch"), json::array()}) {
    Batch b = ParseBatch(o);
    EXPECT_TRUE(absl::IsInvalidArgument(b.spec.status())) << o;
    EXPECT_THAT(std::string(b.spec.status().message()), HasSubstr("must be a JSON object"));
    EXPECT_EQ(b.status, BatchStatus());
  }
}

TEST(ParseBatchTest, StatusIsTolerant) {
  json o = TemplateBatch();
  o["status"] = json::parse(R"({"phase": 3, "observedGeneration": "2", "attempt": -1,
      "exitCode": "137", "startTime": "soon", "attempts": {"a": 1}, "conditions": "Valid"})");
  Batch b = ParseBatch(o);
  ASSERT_TRUE(b.spec.ok());
  EXPECT_EQ(b.status.phase, "");
  EXPECT_EQ(b.status.observed_generation, 0);
  EXPECT_EQ(b.status.attempt, -1);
  EXPECT_FALSE(b.status.exit_code.has_value());
  EXPECT_FALSE(b.status.start_time.has_value());
  EXPECT_TRUE(b.status.attempts.empty());
  EXPECT_TRUE(b.status.conditions.empty());
  o["status"] = json::array();
  EXPECT_EQ(ParseBatch(o).status, BatchStatus());
}

TEST(BatchStatusJsonTest, EmptyStatusIsEmptyObject) {
  EXPECT_EQ(BatchStatusToJson(BatchStatus()), json::object());
}

TEST(BatchStatusJsonTest, OmitsUnsetFields) {
  BatchStatus s;
  s.phase = "Pending";
  s.observed_generation = 1;
  SetCondition(s.conditions, kConditionValid, kConditionTrue, "Validated", "", 1,
               At(2026, 11, 25, 12, 0, 0));
  EXPECT_EQ(BatchStatusToJson(s), json::parse(R"({
      "phase": "Pending", "observedGeneration": 1,
      "conditions": [{"type": "Valid", "status": "True", "reason": "Validated", "message": "",
                      "observedGeneration": 1, "lastTransitionTime": "2026-11-25T12:00:00Z"}]})"));
}

TEST(BatchStatusJsonTest, RoundTripFull) {
  BatchStatus s = ParseBatch(FullBatch()).status;
  s.phase = "Succeeded";
  s.exit_code = 0;
  s.completion_time = At(2026, 11, 25, 12, 1, 0);
  s.resources_released_time = At(2026, 11, 25, 12, 6, 0);
  json j = BatchStatusToJson(s);
  EXPECT_EQ(j["exitCode"], 0);
  EXPECT_EQ(j["resourcesReleasedTime"], "2026-11-25T12:06:00Z");
  EXPECT_EQ(ParseBatchStatus(j), s);
  // And JSON -> status -> JSON is the identity on what weir writes.
  EXPECT_EQ(BatchStatusToJson(ParseBatchStatus(j)), j);
  EXPECT_EQ(BatchStatusToJson(ParseBatch(FullBatch()).status), FullBatch()["status"]);
}

TEST(BatchStatusJsonTest, EqualityNoticesEveryField) {
  BatchStatus a = ParseBatch(FullBatch()).status;
  BatchStatus b = a;
  EXPECT_EQ(a, b);
  b.attempts[1].phase = "Running";
  EXPECT_NE(a, b);
  b = a;
  b.conditions[0].last_transition_time += absl::Seconds(1);
  EXPECT_NE(a, b);
  b = a;
  b.resources_released_time = At(2026, 1, 1, 0, 0, 0);
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace weir::api
