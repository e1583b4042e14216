// cpprestsdk's U() macro clashes with GoogleTest template parameters.
#ifndef _TURN_OFF_PLATFORM_STRING
#define _TURN_OFF_PLATFORM_STRING  // no U() macro from cpprestsdk
#endif
#include "runtime/health_server.h"

#include <arpa/inet.h>
#include <cpprest/http_client.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace weir::runtime {
namespace {

using ::testing::HasSubstr;

// Asks the kernel for a free loopback port. The port is released before the
// server binds it; nothing else in the test binds ports in between.
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  close(fd);
  return ntohs(addr.sin_port);
}

struct Reply {
  int status;
  std::string content_type;
  std::string body;
};

Reply Fetch(const std::string& base, const std::string& path,
            const web::http::method& method = web::http::methods::GET) {
  web::http::client::http_client client{web::uri(base)};
  web::http::http_response r = client.request(method, path).get();
  return {r.status_code(), r.headers().content_type(), r.extract_utf8string(true).get()};
}

class HealthServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registry_.AddCounter("weir_test_total", "A test counter.").Get().Inc(2);
    HealthServerOptions o;
    o.host = "127.0.0.1";
    o.port = FreePort();
    o.metrics = &registry_;
    server_ = std::make_unique<HealthServer>(o);
    ASSERT_TRUE(server_->Start().ok());
  }
  MetricsRegistry registry_;
  std::unique_ptr<HealthServer> server_;
};

TEST_F(HealthServerTest, MetricsInTextFormat) {
  Reply r = Fetch(server_->BaseUrl(), "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(r.body,
            "# HELP weir_test_total A test counter.\n"
            "# TYPE weir_test_total counter\n"
            "weir_test_total 2\n");
}

TEST_F(HealthServerTest, HealthzAlwaysOk) {
  Reply r = Fetch(server_->BaseUrl(), "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok");
}

TEST_F(HealthServerTest, ReadyzFollowsChecks) {
  EXPECT_EQ(Fetch(server_->BaseUrl(), "/readyz").status, 200);  // no checks yet
  std::atomic<bool> synced{false};
  server_->AddReadinessCheck("caches-synced", [&] { return synced.load(); });
  server_->AddReadinessCheck("leader", [] { return true; });
  Reply r = Fetch(server_->BaseUrl(), "/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "[-]caches-synced failed\n[+]leader ok\nreadyz check failed\n");
  synced = true;
  r = Fetch(server_->BaseUrl(), "/readyz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok");
}

TEST_F(HealthServerTest, ThrowingCheckFailsReadiness) {
  server_->AddReadinessCheck("broken", []() -> bool { throw std::runtime_error("x"); });
  Reply r = Fetch(server_->BaseUrl(), "/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_THAT(r.body, HasSubstr("[-]broken failed"));
}

TEST_F(HealthServerTest, UnknownPathAndMethod) {
  EXPECT_EQ(Fetch(server_->BaseUrl(), "/nope").status, 404);
  EXPECT_EQ(Fetch(server_->BaseUrl(), "/healthz", web::http::methods::POST).status, 405);
}

TEST_F(HealthServerTest, StopReleasesPortAndRestartWorks) {
  EXPECT_FALSE(server_->Start().ok());  // already started
  server_->Stop();
  server_->Stop();  // idempotent
  EXPECT_THROW(Fetch(server_->BaseUrl(), "/healthz"), web::http::http_exception);
  ASSERT_TRUE(server_->Start().ok());
  EXPECT_EQ(Fetch(server_->BaseUrl(), "/healthz").status, 200);
}

TEST(HealthServerBindTest, PortInUseIsAnError) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  HealthServerOptions o;
  o.host = "127.0.0.1";
  o.port = ntohs(addr.sin_port);
  HealthServer server(o);
  absl::Status s = server.Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  close(fd);
}

}  // namespace
}  // namespace weir::runtime
