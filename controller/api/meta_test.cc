#include "api/meta.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace weir::api {
namespace {

using json = nlohmann::json;
using ::testing::ElementsAre;
using ::testing::Pair;

absl::Time At(int y, int mo, int d, int h, int mi, int s) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::UTCTimeZone());
}

TEST(ObjectMetaTest, ReadsAllFields) {
  json object = json::parse(R"({
    "apiVersion": "weir.dev/v1alpha1", "kind": "Batch",
    "metadata": {
      "name": "hello", "namespace": "team-a", "uid": "0b6c-11",
      "resourceVersion": "4242", "generation": 3,
      "creationTimestamp": "2026-11-25T12:00:00Z",
      "deletionTimestamp": "2026-11-25T13:30:05Z",
      "finalizers": ["weir.dev/cleanup", "other"],
      "labels": {"app": "etl"},
      "annotations": {"note": "x", "b": "y"}
    }})");
  ObjectMeta m = ParseObjectMeta(object);
  EXPECT_EQ(m.name, "hello");
  EXPECT_EQ(m.namespace_name, "team-a");
  EXPECT_EQ(m.uid, "0b6c-11");
  EXPECT_EQ(m.resource_version, "4242");
  EXPECT_EQ(m.generation, 3);
  EXPECT_EQ(m.creation_timestamp, At(2026, 11, 25, 12, 0, 0));
  EXPECT_EQ(m.deletion_timestamp, At(2026, 11, 25, 13, 30, 5));
  EXPECT_THAT(m.finalizers, ElementsAre("weir.dev/cleanup", "other"));
  EXPECT_THAT(m.labels, ElementsAre(Pair("app", "etl")));
  EXPECT_THAT(m.annotations, ElementsAre(Pair("b", "y"), Pair("note", "x")));
  EXPECT_TRUE(HasFinalizer(m, "weir.dev/cleanup"));
  EXPECT_FALSE(HasFinalizer(m, "weir.dev/other"));
}

TEST(ObjectMetaTest, ToleratesMissingAndOddFields) {
  EXPECT_EQ(ParseObjectMeta(json()), ObjectMeta());
  EXPECT_EQ(ParseObjectMeta(json::array({1, 2})), ObjectMeta());
  EXPECT_EQ(ParseObjectMeta(json::object()), ObjectMeta());
  EXPECT_EQ(ParseObjectMeta(json{{"metadata", "str"}}), ObjectMeta());
  json odd = json::parse(R"({"metadata": {
    "name": 5, "namespace": null, "uid": ["x"], "generation": "3",
    "creationTimestamp": "not a time", "deletionTimestamp": 17,
    "finalizers": ["a", 1, null, {"x": 1}, "b"],
    "labels": {"ok": "v", "num": 1, "nul": null},
    "annotations": ["not", "a", "map"]}})");
  ObjectMeta m = ParseObjectMeta(odd);
  EXPECT_EQ(m.name, "");
  EXPECT_EQ(m.namespace_name, "");
  EXPECT_EQ(m.uid, "");
  EXPECT_EQ(m.generation, 0);
  EXPECT_FALSE(m.creation_timestamp.has_value());
  EXPECT_FALSE(m.deletion_timestamp.has_value());
  EXPECT_THAT(m.finalizers, ElementsAre("a", "b"));
  EXPECT_THAT(m.labels, ElementsAre(Pair("ok", "v")));
  EXPECT_TRUE(m.annotations.empty());
}

TEST(Rfc3339Test, FormatsUtcWholeSeconds) {
  EXPECT_EQ(FormatRfc3339(At(2026, 11, 25, 12, 0, 0)), "2026-11-25T12:00:00Z");
  EXPECT_EQ(FormatRfc3339(At(2026, 1, 2, 3, 4, 5) + absl::Milliseconds(999)),
            "2026-01-02T03:04:05Z");
  EXPECT_EQ(FormatRfc3339(absl::UnixEpoch()), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(absl::InfiniteFuture()), "9999-12-31T23:59:59Z");
  EXPECT_EQ(FormatRfc3339(absl::InfinitePast()), "0001-01-01T00:00:00Z");
}

TEST(Rfc3339Test, Parses) {
  EXPECT_EQ(ParseRfc3339("2026-11-25T12:00:00Z"), At(2026, 11, 25, 12, 0, 0));
  EXPECT_EQ(ParseRfc3339("2026-11-25T12:00:00.5Z"),
            At(2026, 11, 25, 12, 0, 0) + absl::Milliseconds(500));
  EXPECT_EQ(ParseRfc3339("2026-11-25T14:00:00+02:00"), At(2026, 11, 25, 12, 0, 0));
  for (const char* bad : {"", "2026-11-25", "2026-11-25 12:00:00Z", " 2026-11-25T12:00:00Z",
                          "2026-11-25T12:00:00Z ", "2026-13-25T12:00:00Z", "infinite-future",
                          "infinite-past", "yesterday", "2026-11-25T12:00:00"}) {
    EXPECT_FALSE(ParseRfc3339(bad).has_value()) << bad;
  }
}

// Found by fuzz_jobflow (test/fuzz/corpus/jobflow/finished-in-year-20207.json):
// a pod's finishedAt in year 20207 went into a step's completionTime, which
// was written as 9999-12-31T23:59:59Z and so differed on every reconcile.
TEST(Rfc3339Test, RefusesWhatFormatCannotWriteBack) {
  for (const char* bad : {"20207-01-15T08:00:05Z", "20207-1-15T08:00:05Z", "0000-12-31T23:59:59Z",
                          "10000-01-01T00:00:00Z", "-0001-01-01T00:00:00Z"}) {
    EXPECT_FALSE(ParseRfc3339(bad).has_value()) << bad;
  }
  for (const char* edge : {"0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"}) {
    std::optional<absl::Time> t = ParseRfc3339(edge);
    ASSERT_TRUE(t.has_value()) << edge;
    EXPECT_EQ(FormatRfc3339(*t), edge);
  }
}

TEST(Rfc3339Test, RoundTrip) {
  absl::Time t = At(2031, 7, 4, 23, 59, 58);
  EXPECT_EQ(ParseRfc3339(FormatRfc3339(t)), t);
}

}  // namespace
}  // namespace weir::api
