// cpprestsdk's U() macro clashes with GoogleTest template parameters.
#ifndef _TURN_OFF_PLATFORM_STRING
#define _TURN_OFF_PLATFORM_STRING  // no U() macro from cpprestsdk
#endif
#include "runtime/health_server.h"

#include <atomic>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/local_http_for_test.h"

namespace weir::runtime {
namespace {

using ::testing::HasSubstr;

using local_http::Fetch;
using local_http::HttpReply;

class HealthServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registry_.AddCounter("weir_test_total", "A test counter.").Get().Inc(2);
    HealthServerOptions o;
    o.host = "127.0.0.1";
    o.port = local_http::FreeLoopbackPort();
    o.metrics = &registry_;
    server_ = std::make_unique<HealthServer>(o);
    ASSERT_TRUE(server_->Start().ok());
  }
  MetricsRegistry registry_;
  std::unique_ptr<HealthServer> server_;
};

TEST_F(HealthServerTest, MetricsInTextFormat) {
  HttpReply r = Fetch(server_->BaseUrl(), "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(r.body,
            "# HELP weir_test_total A test counter.\n"
            "# TYPE weir_test_total counter\n"
            "weir_test_total 2\n");
}

TEST_F(HealthServerTest, HealthzAlwaysOk) {
  HttpReply r = Fetch(server_->BaseUrl(), "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok");
}

TEST_F(HealthServerTest, ReadyzFollowsChecks) {
  EXPECT_EQ(Fetch(server_->BaseUrl(), "/readyz").status, 200);  // no checks yet
  std::atomic<bool> synced{false};
  server_->AddReadinessCheck("caches-synced", [&] { return synced.load(); });
  server_->AddReadinessCheck("leader", [] { return true; });
  HttpReply r = Fetch(server_->BaseUrl(), "/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "[-]caches-synced failed\n[+]leader ok\nreadyz check failed\n");
  synced = true;
  r = Fetch(server_->BaseUrl(), "/readyz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok");
}

TEST_F(HealthServerTest, ThrowingCheckFailsReadiness) {
  server_->AddReadinessCheck("broken", []() -> bool { throw std::runtime_error("x"); });
  HttpReply r = Fetch(server_->BaseUrl(), "/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_THAT(r.body, HasSubstr("[-]broken failed"));
}

TEST_F(HealthServerTest, UnknownPathAndMethod) {
  EXPECT_EQ(Fetch(server_->BaseUrl(), "/nope").status, 404);
  EXPECT_EQ(Fetch(server_->BaseUrl(), "/healthz", "POST").status, 405);
}

TEST_F(HealthServerTest, StopReleasesPortAndRestartWorks) {
  EXPECT_FALSE(server_->Start().ok());  // already started
  server_->Stop();
  server_->Stop();  // idempotent
  EXPECT_EQ(Fetch(server_->BaseUrl(), "/healthz").status, 0) << "nothing listens";
  ASSERT_TRUE(server_->Start().ok());
  EXPECT_EQ(Fetch(server_->BaseUrl(), "/healthz").status, 200);
}

TEST(HealthServerBindTest, PortInUseIsAnError) {
  local_http::BusyLoopbackPort busy;
  ASSERT_NE(busy.port(), 0);
  HealthServerOptions o;
  o.host = "127.0.0.1";
  o.port = busy.port();
  HealthServer server(o);
  absl::Status s = server.Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
}

}  // namespace
}  // namespace weir::runtime
