#include "api/common.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace weir::api {
namespace {

using json = nlohmann::json;
using ::testing::ElementsAre;
using ::testing::StartsWith;

TEST(RetrySpecTest, DefaultsWhenAbsent) {
  absl::StatusOr<RetrySpec> r = ParseRetrySpec(json(), "spec.retry");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->limit, 0);
  EXPECT_EQ(r->backoff_seconds, 10);
  EXPECT_FALSE(r->on_oom.has_value());
  EXPECT_TRUE(r->on_reasons.empty());
  EXPECT_EQ(*ParseRetrySpec(json::object(), "spec.retry"), *r);
}

TEST(RetrySpecTest, ReadsEverything) {
  absl::StatusOr<RetrySpec> r = ParseRetrySpec(json::parse(R"({
      "limit": 3, "backoffSeconds": 0,
      "onOOM": {"memoryFactor": 1.5, "maxMemory": "8Gi"},
      "onReasons": ["Evicted", "NodeLost"]})"),
                                               "spec.retry");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->limit, 3);
  EXPECT_EQ(r->backoff_seconds, 0);
  ASSERT_TRUE(r->on_oom.has_value());
  EXPECT_EQ(r->on_oom->memory_factor, 1.5);
  EXPECT_EQ(r->on_oom->max_memory, *Quantity::Parse("8Gi"));
  EXPECT_EQ(r->on_oom->max_memory.ToString(), "8Gi");
  EXPECT_THAT(r->on_reasons, ElementsAre("Evicted", "NodeLost"));
}

TEST(RetrySpecTest, OnOOMDefaultsAndIntegerMaxMemory) {
  absl::StatusOr<RetrySpec> r =
      ParseRetrySpec(json::parse(R"({"onOOM": {"maxMemory": 1073741824}})"), "spec.retry");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->on_oom->memory_factor, 2.0);
  EXPECT_EQ(r->on_oom->max_memory, *Quantity::Parse("1Gi"));
  r = ParseRetrySpec(json::parse(R"({"onOOM": {"memoryFactor": 3, "maxMemory": "1e9"}})"),
                     "spec.retry");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->on_oom->memory_factor, 3.0);
}

struct BadRetry {
  const char* json;
  const char* error_prefix;
};

class BadRetryTest : public ::testing::TestWithParam<BadRetry> {};

TEST_P(BadRetryTest, NamesTheField) {
  absl::StatusOr<RetrySpec> r = ParseRetrySpec(json::parse(GetParam().json), "spec.retry");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(r.status()));
  EXPECT_THAT(std::string(r.status().message()), StartsWith(GetParam().error_prefix));
}

INSTANTIATE_TEST_SUITE_P(
    Table, BadRetryTest,
    ::testing::Values(
        BadRetry{R"([1])", "spec.retry: must be an object"},
        BadRetry{R"("3")", "spec.retry: must be an object"},
        BadRetry{R"({"limit": -1})", "spec.retry.limit: must be between 0 and 100, got -1"},
        BadRetry{R"({"limit": 101})", "spec.retry.limit: must be between 0 and 100, got 101"},
        BadRetry{R"({"limit": "3"})", "spec.retry.limit: must be an integer, got a string"},
        BadRetry{R"({"limit": 1.5})", "spec.retry.limit: must be an integer"},
        BadRetry{R"({"backoffSeconds": 3601})", "spec.retry.backoffSeconds: must be between"},
        BadRetry{R"({"backoffSeconds": -5})", "spec.retry.backoffSeconds: must be between"},
        BadRetry{R"({"backoffSeconds": true})", "spec.retry.backoffSeconds: must be an integer"},
        BadRetry{R"({"onOOM": "yes"})", "spec.retry.onOOM: must be an object"},
        BadRetry{R"({"onOOM": {}})", "spec.retry.onOOM.maxMemory: required"},
        BadRetry{R"({"onOOM": {"maxMemory": "lots"}})",
                 "spec.retry.onOOM.maxMemory: \"lots\" is not a quantity"},
        BadRetry{R"({"onOOM": {"maxMemory": ""}})",
                 "spec.retry.onOOM.maxMemory: \"\" is not a quantity"},
        BadRetry{R"({"onOOM": {"maxMemory": "1K"}})",
                 "spec.retry.onOOM.maxMemory: \"1K\" is not a quantity"},
        BadRetry{R"({"onOOM": {"maxMemory": "0"}})",
                 "spec.retry.onOOM.maxMemory: must be a positive quantity"},
        BadRetry{R"({"onOOM": {"maxMemory": "-1Gi"}})",
                 "spec.retry.onOOM.maxMemory: must be a positive quantity"},
        BadRetry{R"({"onOOM": {"maxMemory": -5}})",
                 "spec.retry.onOOM.maxMemory: must be a positive quantity"},
        BadRetry{R"({"onOOM": {"maxMemory": 1.5}})",
                 "spec.retry.onOOM.maxMemory: must be a quantity string"},
        BadRetry{R"({"onOOM": {"maxMemory": ["8Gi"]}})",
                 "spec.retry.onOOM.maxMemory: must be a quantity string"},
        BadRetry{R"({"onOOM": {"maxMemory": "99999999999999Ei"}})",
                 "spec.retry.onOOM.maxMemory: \"99999999999999Ei\" is too large"},
        BadRetry{R"({"onOOM": {"maxMemory": "8Gi", "memoryFactor": 1}})",
                 "spec.retry.onOOM.memoryFactor: must be greater than 1, got 1"},
        BadRetry{R"({"onOOM": {"maxMemory": "8Gi", "memoryFactor": 0.5}})",
                 "spec.retry.onOOM.memoryFactor: must be greater than 1"},
        BadRetry{R"({"onOOM": {"maxMemory": "8Gi", "memoryFactor": "2"}})",
                 "spec.retry.onOOM.memoryFactor: must be a number"},
        BadRetry{R"({"onReasons": "Evicted"})", "spec.retry.onReasons: must be an array"},
        BadRetry{R"({"onReasons": ["Evicted", "Bored"]})",
                 "spec.retry.onReasons[1]: unsupported value \"Bored\""},
        BadRetry{R"({"onReasons": [7]})", "spec.retry.onReasons[0]: must be a string"},
        BadRetry{R"({"onReasons": ["Error", "Error"]})",
                 "spec.retry.onReasons[1]: duplicate value \"Error\""},
        BadRetry{R"({"onReasons": ["Error", "Error", "Error", "Error", "Error", "Error", "Error",
                     "Error", "Error", "Error", "Error", "Error", "Error", "Error", "Error",
                     "Error", "Error"]})",
                 "spec.retry.onReasons: must have at most 16 items, got 17"}));

TEST(AttemptStatusTest, RoundTripAndOmitEmpty) {
  AttemptStatus a;
  a.attempt = 1;
  EXPECT_EQ(AttemptStatusToJson(a), json::parse(R"({"attempt": 1})"));

  a.job = "hello-1-abcde";
  a.phase = "Killed";
  a.termination_reason = "OOMKilled";
  a.exit_code = 0;  // set, so written even though it is zero
  a.message = "container main was OOMKilled at limit 512Mi";
  a.memory_limit = "512Mi";
  a.start_time = absl::FromUnixSeconds(1'800'000'000);
  a.completion_time = absl::FromUnixSeconds(1'800'000'090);
  a.waiting_since = absl::FromUnixSeconds(1'800'000'030);
  json j = AttemptStatusToJson(a);
  EXPECT_EQ(j["exitCode"], 0);
  EXPECT_EQ(j["waitingSince"], "2027-01-15T08:00:30Z");
  EXPECT_EQ(j["startTime"], "2027-01-15T08:00:00Z");
  std::vector<AttemptStatus> back = ParseAttemptStatuses(json::array({j}));
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0], a);
}

TEST(AttemptStatusTest, ParseIsTolerant) {
  std::vector<AttemptStatus> as = ParseAttemptStatuses(json::parse(R"([
      3, null, {"attempt": "1", "exitCode": 4294967296, "job": 5, "startTime": "never"},
      {"attempt": 2, "exitCode": -1}])"));
  ASSERT_EQ(as.size(), 2u);
  EXPECT_EQ(as[0].attempt, 0);
  EXPECT_FALSE(as[0].exit_code.has_value());
  EXPECT_EQ(as[0].job, "");
  EXPECT_FALSE(as[0].start_time.has_value());
  EXPECT_EQ(as[1].attempt, 2);
  EXPECT_EQ(as[1].exit_code, -1);
  EXPECT_TRUE(ParseAttemptStatuses(json("x")).empty());
}

}  // namespace
}  // namespace weir::api
