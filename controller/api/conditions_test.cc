#include "api/conditions.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace weir::api {
namespace {

using json = nlohmann::json;

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);
const absl::Time kT1 = kT0 + absl::Minutes(5);

TEST(SetConditionTest, AddsNewCondition) {
  std::vector<Condition> cs;
  EXPECT_TRUE(SetCondition(cs, kConditionValid, kConditionTrue, "Validated", "ok", 2, kT0));
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].type, "Valid");
  EXPECT_EQ(cs[0].status, "True");
  EXPECT_EQ(cs[0].reason, "Validated");
  EXPECT_EQ(cs[0].message, "ok");
  EXPECT_EQ(cs[0].observed_generation, 2);
  EXPECT_EQ(cs[0].last_transition_time, kT0);
}

TEST(SetConditionTest, SameValuesChangeNothing) {
  std::vector<Condition> cs;
  SetCondition(cs, "Running", "True", "JobRunning", "running", 1, kT0);
  std::vector<Condition> before = cs;
  EXPECT_FALSE(SetCondition(cs, "Running", "True", "JobRunning", "running", 1, kT1));
  EXPECT_EQ(cs, before);
}

TEST(SetConditionTest, KeepsTransitionTimeWhenStatusUnchanged) {
  std::vector<Condition> cs;
  SetCondition(cs, "Running", "True", "JobRunning", "attempt 1", 1, kT0);
  EXPECT_TRUE(SetCondition(cs, "Running", "True", "Retrying", "attempt 2", 2, kT1));
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].reason, "Retrying");
  EXPECT_EQ(cs[0].message, "attempt 2");
  EXPECT_EQ(cs[0].observed_generation, 2);
  EXPECT_EQ(cs[0].last_transition_time, kT0);
}

TEST(SetConditionTest, MovesTransitionTimeWhenStatusChanges) {
  std::vector<Condition> cs;
  SetCondition(cs, "Running", "True", "JobRunning", "", 1, kT0);
  EXPECT_TRUE(SetCondition(cs, "Running", "False", "JobFinished", "", 1, kT1));
  EXPECT_EQ(cs[0].status, "False");
  EXPECT_EQ(cs[0].last_transition_time, kT1);
}

TEST(SetConditionTest, OnlyTouchesItsType) {
  std::vector<Condition> cs;
  SetCondition(cs, "Valid", "True", "Validated", "", 1, kT0);
  SetCondition(cs, "Running", "True", "JobRunning", "", 1, kT0);
  SetCondition(cs, "Valid", "False", "InvalidSpec", "bad", 2, kT1);
  ASSERT_EQ(cs.size(), 2u);
  EXPECT_EQ(cs[0].type, "Valid");
  EXPECT_EQ(cs[0].status, "False");
  EXPECT_EQ(cs[1].type, "Running");
  EXPECT_EQ(cs[1].last_transition_time, kT0);
  EXPECT_EQ(cs[1].observed_generation, 1);
}

TEST(SetConditionTest, TruncatesLongMessagesStably) {
  std::vector<Condition> cs;
  // A 4-byte UTF-8 character straddles the cut.
  std::string huge = std::string(kMaxConditionMessageBytes - 5, 'x') + "\xF0\x9F\x98\x80" + "tail";
  EXPECT_TRUE(SetCondition(cs, "Valid", "False", "InvalidSpec", huge, 1, kT0));
  EXPECT_LE(cs[0].message.size(), kMaxConditionMessageBytes);
  EXPECT_EQ(cs[0].message.substr(cs[0].message.size() - 4), "x...");
  // Setting the same long message again is no change.
  EXPECT_FALSE(SetCondition(cs, "Valid", "False", "InvalidSpec", huge, 1, kT1));
}

TEST(TruncateMessageTest, Cases) {
  EXPECT_EQ(TruncateMessage("short", 10), "short");
  EXPECT_EQ(TruncateMessage("abcdefghij", 10), "abcdefghij");
  EXPECT_EQ(TruncateMessage("abcdefghijk", 10), "abcdefg...");
  EXPECT_EQ(TruncateMessage("ab\xC3\xA9zzzzz", 6), "ab...");  // é not split
  EXPECT_EQ(TruncateMessage("abcdef", 2), "");
}

TEST(FindConditionTest, FindsByType) {
  std::vector<Condition> cs;
  EXPECT_EQ(FindCondition(cs, "Valid"), nullptr);
  EXPECT_FALSE(IsConditionTrue(cs, "Valid"));
  SetCondition(cs, "Valid", "True", "Validated", "", 1, kT0);
  SetCondition(cs, "Finished", "False", "NotFinished", "", 1, kT0);
  ASSERT_NE(FindCondition(cs, "Finished"), nullptr);
  EXPECT_EQ(FindCondition(cs, "Finished")->reason, "NotFinished");
  EXPECT_TRUE(IsConditionTrue(cs, "Valid"));
  EXPECT_FALSE(IsConditionTrue(cs, "Finished"));
  EXPECT_TRUE(RemoveCondition(cs, "Valid"));
  EXPECT_FALSE(RemoveCondition(cs, "Valid"));
  EXPECT_EQ(FindCondition(cs, "Valid"), nullptr);
  EXPECT_EQ(cs.size(), 1u);
}

TEST(ConditionJsonTest, WritesRequiredFields) {
  Condition c{.type = "Valid",
              .status = "True",
              .reason = "Validated",
              .message = "",
              .last_transition_time = absl::FromUnixSeconds(0),
              .observed_generation = 0};
  EXPECT_EQ(ConditionToJson(c), json::parse(R"({"type": "Valid", "status": "True",
      "reason": "Validated", "message": "", "lastTransitionTime": "1970-01-01T00:00:00Z"})"));
  c.observed_generation = 4;
  EXPECT_EQ(ConditionToJson(c)["observedGeneration"], 4);
}

TEST(ConditionJsonTest, RoundTrip) {
  std::vector<Condition> cs;
  SetCondition(cs, "Valid", "True", "Validated", "spec is valid", 3, kT0);
  SetCondition(cs, "Finished", "True", "Succeeded", "done", 3, kT1);
  EXPECT_EQ(ParseConditions(ConditionsToJson(cs)), cs);
}

TEST(ConditionJsonTest, ParseIsTolerant) {
  json in = json::parse(R"([
    1, "x", null, {"status": "True"},
    {"type": "Valid", "status": "True", "lastTransitionTime": "garbage", "observedGeneration": "2"},
    {"type": "Valid", "status": "False"},
    {"type": "Running", "status": 5, "reason": ["r"], "message": {"m": 1}}
  ])");
  std::vector<Condition> cs = ParseConditions(in);
  ASSERT_EQ(cs.size(), 2u);
  EXPECT_EQ(cs[0].type, "Valid");
  EXPECT_EQ(cs[0].status, "True");
  EXPECT_EQ(cs[0].last_transition_time, absl::UnixEpoch());
  EXPECT_EQ(cs[0].observed_generation, 0);
  EXPECT_EQ(cs[1].type, "Running");
  EXPECT_EQ(cs[1].status, "");
  EXPECT_EQ(cs[1].reason, "");
  EXPECT_TRUE(ParseConditions(json::object()).empty());
}

}  // namespace
}  // namespace weir::api
