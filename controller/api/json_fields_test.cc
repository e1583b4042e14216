#include "api/json_fields.h"

#include <limits>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace weir::api::internal {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(JsonFieldsTest, Paths) {
  EXPECT_EQ(FieldPath("", "spec"), "spec");
  EXPECT_EQ(FieldPath("spec", "retry"), "spec.retry");
  EXPECT_EQ(IndexPath("spec.steps", 2), "spec.steps[2]");
  absl::Status s = FieldError("spec.x", "bad");
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_EQ(s.message(), "spec.x: bad");
}

TEST(JsonFieldsTest, DescribeJson) {
  EXPECT_EQ(DescribeJson(json()), "null");
  EXPECT_EQ(DescribeJson(json(true)), "a boolean (true)");
  EXPECT_EQ(DescribeJson(json(-3)), "a number (-3)");
  EXPECT_EQ(DescribeJson(json(3u)), "a number (3)");
  EXPECT_EQ(DescribeJson(json(1.5)), "a number (1.5)");
  EXPECT_EQ(DescribeJson(json("3")), "a string (\"3\")");
  EXPECT_EQ(DescribeJson(json::array()), "an array");
  EXPECT_EQ(DescribeJson(json::object()), "an object");
  // Long and binary strings are cut and escaped.
  std::string described = DescribeJson(json(std::string(100, 'x') + "\xff"));
  EXPECT_THAT(described, HasSubstr("...\""));
  EXPECT_LT(described.size(), 90u);
  EXPECT_EQ(QuoteForMessage("a\"\xff"), "\"a\\\"\\xff\"");
}

TEST(JsonFieldsTest, MemberTreatsNullAsAbsent) {
  json o = {{"a", 1}, {"n", nullptr}};
  EXPECT_NE(Member(o, "a"), nullptr);
  EXPECT_EQ(Member(o, "n"), nullptr);
  EXPECT_EQ(Member(o, "missing"), nullptr);
  EXPECT_EQ(Member(json::array({1}), "a"), nullptr);
  EXPECT_EQ(Member(json("s"), "a"), nullptr);
}

TEST(JsonFieldsTest, ReadString) {
  json o = {{"s", "v"}, {"n", 1}, {"z", nullptr}};
  std::string out = "keep";
  bool present = true;
  EXPECT_TRUE(ReadString(o, "missing", "p", &out, &present).ok());
  EXPECT_FALSE(present);
  EXPECT_EQ(out, "keep");
  EXPECT_TRUE(ReadString(o, "z", "p", &out, &present).ok());
  EXPECT_FALSE(present);
  EXPECT_TRUE(ReadString(o, "s", "p", &out, &present).ok());
  EXPECT_TRUE(present);
  EXPECT_EQ(out, "v");
  absl::Status s = ReadString(o, "n", "spec.n", &out);
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_EQ(s.message(), "spec.n: must be a string, got a number (1)");
}

TEST(JsonFieldsTest, ReadBoundedStringAndEnum) {
  json o = {{"empty", ""}, {"long", std::string(300, 'a')}, {"ok", "abc"}, {"e", "Delete"}};
  std::string out;
  EXPECT_THAT(std::string(ReadBoundedString(o, "empty", "p", 1, 10, &out).message()),
              HasSubstr("must not be empty"));
  EXPECT_THAT(std::string(ReadBoundedString(o, "long", "p", 1, 253, &out).message()),
              HasSubstr("at most 253"));
  EXPECT_TRUE(ReadBoundedString(o, "ok", "p", 1, 3, &out).ok());
  EXPECT_EQ(out, "abc");
  EXPECT_TRUE(ReadEnum(o, "e", "p", {"Retain", "Delete"}, &out).ok());
  EXPECT_EQ(out, "Delete");
  absl::Status s = ReadEnum(o, "ok", "spec.p", {"Retain", "Delete"}, &out);
  EXPECT_EQ(s.message(), "spec.p: unsupported value \"abc\": must be one of Retain, Delete");
}

TEST(JsonFieldsTest, ReadBool) {
  json o = {{"t", true}, {"s", "true"}};
  bool out = false;
  EXPECT_TRUE(ReadBool(o, "t", "p", &out).ok());
  EXPECT_TRUE(out);
  EXPECT_THAT(std::string(ReadBool(o, "s", "spec.s", &out).message()),
              StartsWith("spec.s: must be a boolean, got a string"));
}

TEST(JsonFieldsTest, ReadIntegers) {
  json o = json::parse(R"({"i": 5, "neg": -1, "f": 3.0, "frac": 2.5, "s": "5",
                          "big": 18446744073709551615, "i33": 4294967296})");
  int64_t i64 = 0;
  EXPECT_TRUE(ReadInt64(o, "i", "p", 0, 10, &i64).ok());
  EXPECT_EQ(i64, 5);
  EXPECT_TRUE(ReadInt64(o, "f", "p", 0, 10, &i64).ok());
  EXPECT_EQ(i64, 3);
  EXPECT_EQ(ReadInt64(o, "neg", "spec.n", 0, 10, &i64).message(),
            "spec.n: must be between 0 and 10, got -1");
  EXPECT_THAT(std::string(ReadInt64(o, "frac", "p", 0, 10, &i64).message()), HasSubstr("integer"));
  EXPECT_THAT(std::string(ReadInt64(o, "s", "p", 0, 10, &i64).message()),
              HasSubstr("must be an integer, got a string"));
  EXPECT_THAT(
      std::string(ReadInt64(o, "big", "p", 0, std::numeric_limits<int64_t>::max(), &i64).message()),
      HasSubstr("fits in 64 bits"));
  int32_t i32 = 7;
  EXPECT_THAT(
      std::string(ReadInt32(o, "i33", "p", 0, std::numeric_limits<int32_t>::max(), &i32).message()),
      HasSubstr("32 bits"));
  EXPECT_EQ(i32, 7);
  EXPECT_TRUE(ReadInt32(o, "missing", "p", 0, 1, &i32).ok());
  EXPECT_EQ(i32, 7);
}

TEST(JsonFieldsTest, ReadNumberAndSeconds) {
  json o = {{"d", 1.5}, {"i", 2}, {"s", "2"}, {"sec", 90}, {"negsec", -1}};
  double d = 0;
  EXPECT_TRUE(ReadNumber(o, "d", "p", &d).ok());
  EXPECT_EQ(d, 1.5);
  EXPECT_TRUE(ReadNumber(o, "i", "p", &d).ok());
  EXPECT_EQ(d, 2.0);
  EXPECT_THAT(std::string(ReadNumber(o, "s", "p", &d).message()), HasSubstr("must be a number"));
  std::optional<absl::Duration> dur;
  EXPECT_TRUE(ReadSeconds(o, "missing", "p", &dur).ok());
  EXPECT_FALSE(dur.has_value());
  EXPECT_TRUE(ReadSeconds(o, "sec", "p", &dur).ok());
  EXPECT_EQ(dur, absl::Seconds(90));
  EXPECT_EQ(ReadSeconds(o, "negsec", "spec.x", &dur).message(),
            "spec.x: must be at least 0, got -1");
}

TEST(JsonFieldsTest, TolerantReaders) {
  json o = json::parse(R"({"s": 1, "ok": "v", "i": "x", "n": 7, "big": 3000000000,
                          "t": "2026-11-25T12:00:00Z", "badt": "yesterday"})");
  EXPECT_EQ(StringOr(o, "s", "d"), "d");
  EXPECT_EQ(StringOr(o, "ok"), "v");
  EXPECT_EQ(Int64Or(o, "i", 4), 4);
  EXPECT_EQ(Int64Or(o, "n"), 7);
  EXPECT_EQ(OptionalInt32(o, "n"), 7);
  EXPECT_EQ(OptionalInt32(o, "big"), std::nullopt);
  EXPECT_EQ(OptionalInt32(o, "missing"), std::nullopt);
  EXPECT_TRUE(OptionalTime(o, "t").has_value());
  EXPECT_FALSE(OptionalTime(o, "badt").has_value());
  EXPECT_FALSE(OptionalTime(json::array(), "t").has_value());
}

TEST(JsonFieldsTest, Writers) {
  json o = json::object();
  PutString(o, "empty", "");
  PutString(o, "s", "v");
  PutInt(o, "zero", 0);
  PutInt(o, "n", -2);
  PutTime(o, "unset", std::nullopt);
  PutTime(o, "t", absl::FromUnixSeconds(0));
  EXPECT_EQ(o, json::parse(R"({"s": "v", "n": -2, "t": "1970-01-01T00:00:00Z"})"));
}

TEST(JsonFieldsTest, Dns1123) {
  EXPECT_TRUE(IsDns1123Label("a"));
  EXPECT_TRUE(IsDns1123Label("extract-2"));
  EXPECT_TRUE(IsDns1123Label(std::string(63, 'a')));
  EXPECT_FALSE(IsDns1123Label(std::string(64, 'a')));
  EXPECT_FALSE(IsDns1123Label(""));
  EXPECT_FALSE(IsDns1123Label("-a"));
  EXPECT_FALSE(IsDns1123Label("a-"));
  EXPECT_FALSE(IsDns1123Label("A"));
  EXPECT_FALSE(IsDns1123Label("a.b"));
  EXPECT_TRUE(IsDns1123Subdomain("etl"));
  EXPECT_TRUE(IsDns1123Subdomain("etl.v2"));
  EXPECT_FALSE(IsDns1123Subdomain("etl..v2"));
  EXPECT_FALSE(IsDns1123Subdomain(".etl"));
  EXPECT_FALSE(IsDns1123Subdomain("Etl"));
  EXPECT_FALSE(IsDns1123Subdomain(std::string(254, 'a')));
}

}  // namespace
}  // namespace weir::api::internal
