#include "kube/errors.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace weir::kube {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string StatusBody(int code, absl::string_view reason, absl::string_view message) {
  nlohmann::json body = {{"kind", "Status"},   {"apiVersion", "v1"}, {"status", "Failure"},
                         {"message", message}, {"reason", reason},   {"code", code}};
  return body.dump();
}

struct MappingCase {
  int http_code;
  std::string reason;  // as sent by the server; "" for none
  absl::StatusCode want_code;
  Reason want_reason;
};

class MappingTest : public ::testing::TestWithParam<MappingCase> {};

TEST_P(MappingTest, MapsCodeAndReason) {
  const MappingCase& c = GetParam();
  absl::Status s = StatusFromResponse(c.http_code, StatusBody(c.http_code, c.reason, "boom"));
  EXPECT_EQ(s.code(), c.want_code) << s;
  EXPECT_EQ(GetReason(s), c.want_reason) << s;
  EXPECT_EQ(GetHttpCode(s), c.http_code);
  EXPECT_THAT(s.message(), HasSubstr("boom"));
}

INSTANTIATE_TEST_SUITE_P(
    Table, MappingTest,
    ::testing::Values(
        MappingCase{400, "BadRequest", absl::StatusCode::kInvalidArgument, Reason::kBadRequest},
        MappingCase{401, "Unauthorized", absl::StatusCode::kUnauthenticated, Reason::kUnauthorized},
        MappingCase{403, "Forbidden", absl::StatusCode::kPermissionDenied, Reason::kForbidden},
        MappingCase{404, "NotFound", absl::StatusCode::kNotFound, Reason::kNotFound},
        MappingCase{405, "MethodNotAllowed", absl::StatusCode::kUnimplemented,
                    Reason::kMethodNotAllowed},
        MappingCase{409, "AlreadyExists", absl::StatusCode::kAlreadyExists, Reason::kAlreadyExists},
        MappingCase{409, "Conflict", absl::StatusCode::kAborted, Reason::kConflict},
        MappingCase{409, "", absl::StatusCode::kAborted, Reason::kConflict},
        MappingCase{410, "Gone", absl::StatusCode::kOutOfRange, Reason::kGone},
        MappingCase{410, "Expired", absl::StatusCode::kOutOfRange, Reason::kExpired},
        MappingCase{413, "RequestEntityTooLarge", absl::StatusCode::kInvalidArgument,
                    Reason::kRequestEntityTooLarge},
        MappingCase{415, "UnsupportedMediaType", absl::StatusCode::kInvalidArgument,
                    Reason::kUnsupportedMediaType},
        MappingCase{422, "Invalid", absl::StatusCode::kInvalidArgument, Reason::kInvalid},
        MappingCase{429, "TooManyRequests", absl::StatusCode::kResourceExhausted,
                    Reason::kTooManyRequests},
        MappingCase{500, "InternalError", absl::StatusCode::kInternal, Reason::kInternalError},
        MappingCase{500, "ServerTimeout", absl::StatusCode::kDeadlineExceeded,
                    Reason::kServerTimeout},
        MappingCase{502, "", absl::StatusCode::kInternal, Reason::kInternalError},
        MappingCase{503, "ServiceUnavailable", absl::StatusCode::kUnavailable,
                    Reason::kServiceUnavailable},
        MappingCase{504, "Timeout", absl::StatusCode::kDeadlineExceeded, Reason::kTimeout},
        MappingCase{418, "", absl::StatusCode::kUnknown, Reason::kUnknown}));

TEST(StatusFromResponseTest, SuccessIsOk) {
  EXPECT_TRUE(StatusFromResponse(200, "{}").ok());
  EXPECT_TRUE(StatusFromResponse(201, "").ok());
  EXPECT_TRUE(StatusFromResponse(202, "").ok());
}

TEST(StatusFromResponseTest, NonJsonBodyIsKeptAndCodeDecides) {
  absl::Status s = StatusFromResponse(404, "<html>page not found</html>");
  EXPECT_TRUE(kube::IsNotFound(s));
  EXPECT_THAT(s.message(), HasSubstr("page not found"));
  EXPECT_THAT(s.message(), HasSubstr("404"));
}

TEST(StatusFromResponseTest, EmptyBodyGetsGenericMessage) {
  absl::Status s = StatusFromResponse(503, "");
  EXPECT_TRUE(kube::IsServerError(s));
  EXPECT_THAT(s.message(), HasSubstr("HTTP 503"));
}

TEST(StatusFromResponseTest, LongBodyIsTruncated) {
  absl::Status s = StatusFromResponse(500, std::string(10000, 'x'));
  EXPECT_LT(s.message().size(), 400u);
}

TEST(StatusFromResponseTest, InvalidKeepsCauses) {
  nlohmann::json body =
      nlohmann::json::parse(StatusBody(422, "Invalid", "ConfigMap \"Bad\" is invalid"));
  body["details"] = {
      {"name", "Bad"},
      {"kind", "ConfigMap"},
      {"causes",
       {{{"reason", "FieldValueInvalid"},
         {"field", "metadata.name"},
         {"message", "must be lowercase"}},
        {{"reason", "FieldValueRequired"}, {"field", "data"}, {"message", "Required value"}}}}};
  absl::Status s = StatusFromResponse(422, body.dump());
  EXPECT_TRUE(kube::IsInvalid(s));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(GetCauses(s),
              ElementsAre(Cause{"FieldValueInvalid", "metadata.name", "must be lowercase"},
                          Cause{"FieldValueRequired", "data", "Required value"}));
  EXPECT_THAT(s.message(), HasSubstr("metadata.name: must be lowercase"));
  EXPECT_THAT(s.message(), HasSubstr("data: Required value"));
}

TEST(StatusFromResponseTest, RetryAfterFromHeader) {
  absl::Status s = StatusFromResponse(429, StatusBody(429, "TooManyRequests", "slow down"), "7");
  EXPECT_TRUE(kube::IsTooManyRequests(s));
  EXPECT_EQ(GetRetryAfter(s), absl::Seconds(7));
}

TEST(StatusFromResponseTest, RetryAfterFromDetailsWhenNoHeader) {
  nlohmann::json body = nlohmann::json::parse(StatusBody(429, "TooManyRequests", "slow down"));
  body["details"] = {{"retryAfterSeconds", 3}};
  absl::Status s = StatusFromResponse(429, body.dump());
  EXPECT_EQ(GetRetryAfter(s), absl::Seconds(3));
}

TEST(StatusFromResponseTest, HeaderWinsOverDetailsAndBadHeaderIsIgnored) {
  nlohmann::json body = nlohmann::json::parse(StatusBody(429, "TooManyRequests", "slow down"));
  body["details"] = {{"retryAfterSeconds", 3}};
  EXPECT_EQ(GetRetryAfter(StatusFromResponse(429, body.dump(), "9")), absl::Seconds(9));
  EXPECT_EQ(GetRetryAfter(StatusFromResponse(429, body.dump(), "Wed, 21 Oct 2015 07:28:00 GMT")),
            absl::Seconds(3));
  EXPECT_EQ(GetRetryAfter(StatusFromResponse(429, "", "-1")), std::nullopt);
}

TEST(StatusFromResponseTest, ResponseCodeWinsOverBodyCode) {
  absl::Status s = StatusFromResponse(404, StatusBody(500, "", "odd"));
  EXPECT_EQ(GetHttpCode(s), 404);
  EXPECT_TRUE(kube::IsNotFound(s));
}

TEST(StatusFromStatusObjectTest, WatchErrorEventExpired) {
  nlohmann::json obj = {{"kind", "Status"},    {"apiVersion", "v1"},
                        {"status", "Failure"}, {"message", "too old resource version: 1 (5000)"},
                        {"reason", "Expired"}, {"code", 410}};
  absl::Status s = StatusFromStatusObject(obj);
  EXPECT_TRUE(kube::IsGone(s));
  EXPECT_TRUE(kube::IsExpired(s));
  EXPECT_THAT(s.message(), HasSubstr("too old resource version"));
}

TEST(StatusFromStatusObjectTest, MissingCodeUsesFallback) {
  absl::Status s = StatusFromStatusObject(nlohmann::json{{"message", "x"}}, 410);
  EXPECT_TRUE(kube::IsGone(s));
  EXPECT_FALSE(kube::IsExpired(s));
  absl::Status t = StatusFromStatusObject(nlohmann::json("not an object"));
  EXPECT_EQ(t.code(), absl::StatusCode::kInternal);
}

TEST(ConstructorsTest, MatchPredicates) {
  EXPECT_TRUE(kube::IsNotFound(NewNotFound("configmaps", "a")));
  EXPECT_THAT(NewNotFound("configmaps", "a").message(), HasSubstr("configmaps \"a\" not found"));
  EXPECT_TRUE(kube::IsAlreadyExists(NewAlreadyExists("configmaps", "a")));
  EXPECT_TRUE(kube::IsConflict(NewConflict("configmaps", "a", "stale")));
  EXPECT_TRUE(kube::IsGone(NewGone("gone")));
  EXPECT_FALSE(kube::IsExpired(NewGone("gone")));
  EXPECT_TRUE(kube::IsExpired(NewExpired("old")));
  EXPECT_TRUE(kube::IsInvalid(NewInvalid("ConfigMap", "a", {{"FieldValueRequired", "data", "x"}})));
  absl::Status tmr = NewTooManyRequests("slow", absl::Seconds(2));
  EXPECT_TRUE(kube::IsTooManyRequests(tmr));
  EXPECT_EQ(GetRetryAfter(tmr), absl::Seconds(2));
  EXPECT_TRUE(kube::IsConnectionFailed(NewConnectionFailed("refused")));
  EXPECT_EQ(NewConnectionFailed("refused").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(GetHttpCode(NewConnectionFailed("refused")), 0);
  EXPECT_TRUE(kube::IsTimeout(NewTimeout("slow")));
  EXPECT_EQ(NewTimeout("slow").code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(PredicatesTest, PlainStatusesHaveNoReason) {
  absl::Status plain = absl::NotFoundError("x");
  EXPECT_FALSE(kube::IsNotFound(plain));
  EXPECT_EQ(GetReason(plain), Reason::kUnknown);
  EXPECT_EQ(GetHttpCode(plain), 0);
  EXPECT_EQ(GetRetryAfter(plain), std::nullopt);
  EXPECT_TRUE(GetCauses(plain).empty());
  EXPECT_FALSE(kube::IsNotFound(absl::OkStatus()));
}

TEST(PredicatesTest, Retryable) {
  EXPECT_TRUE(kube::IsRetryable(StatusFromResponse(429, "")));
  EXPECT_TRUE(kube::IsRetryable(StatusFromResponse(500, "")));
  EXPECT_TRUE(kube::IsRetryable(StatusFromResponse(503, "")));
  EXPECT_TRUE(kube::IsRetryable(StatusFromResponse(504, "")));
  EXPECT_TRUE(kube::IsRetryable(NewConnectionFailed("x")));
  EXPECT_FALSE(kube::IsRetryable(StatusFromResponse(404, "")));
  EXPECT_FALSE(kube::IsRetryable(StatusFromResponse(409, "")));
  EXPECT_FALSE(kube::IsRetryable(StatusFromResponse(422, "")));
  EXPECT_FALSE(kube::IsRetryable(MakeStatus(Reason::kCanceled, "stop")));
}

TEST(ReasonNameTest, RoundTrips) {
  for (Reason r : {Reason::kNotFound, Reason::kConflict, Reason::kExpired, Reason::kInvalid,
                   Reason::kTooManyRequests, Reason::kConnectionFailed, Reason::kCanceled}) {
    EXPECT_EQ(ReasonFromName(ReasonName(r)), r);
  }
  EXPECT_EQ(ReasonFromName("SomethingElse"), Reason::kUnknown);
  EXPECT_EQ(ReasonFromName(""), Reason::kUnknown);
}

}  // namespace
}  // namespace weir::kube
