// Tests HttpClient against a local HTTP server (cpprestsdk's listener) that
// plays scripted API-server responses, so request building, error mapping,
// retries, streaming and cancellation are checked over real sockets.
#include "kube/http_client.h"

#include <cpprest/http_listener.h>
#include <cpprest/producerconsumerstream.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <atomic>
#include <boost/asio/ssl.hpp>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/errors.h"

namespace weir::kube {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;
namespace http = web::http;

struct Seen {
  std::string method;
  std::string path;
  std::string query;
  std::string body;
  std::map<std::string, std::string> headers;
};

// A local HTTP server; each request is recorded and answered by the handler.
class FakeServer {
 public:
  using Handler = std::function<void(http::http_request, const Seen&)>;

  FakeServer() {
    std::mt19937 rng(std::random_device{}());
    for (int i = 0; i < 50 && listener_ == nullptr; ++i) {
      port_ = 20000 + static_cast<int>(rng() % 30000);
      auto l = std::make_unique<http::experimental::listener::http_listener>(
          absl::StrCat("http://127.0.0.1:", port_, "/"));
      l->support([this](http::http_request req) { Handle(std::move(req)); });
      try {
        l->open().wait();
        listener_ = std::move(l);
      } catch (const std::exception&) {
      }
    }
  }
  ~FakeServer() {
    if (listener_ != nullptr) listener_->close().wait();
  }

  std::string url() const { return absl::StrCat("http://127.0.0.1:", port_); }
  void SetHandler(Handler h) {
    absl::MutexLock l(&mu_);
    handler_ = std::move(h);
  }
  std::vector<Seen> seen() {
    absl::MutexLock l(&mu_);
    return seen_;
  }

 private:
  void Handle(http::http_request req) {
    Seen s;
    s.method = req.method();
    s.path = req.relative_uri().path();
    s.query = req.relative_uri().query();
    s.body = req.extract_utf8string(true).get();
    for (const auto& [k, v] : req.headers()) s.headers[k] = v;
    Handler h;
    {
      absl::MutexLock l(&mu_);
      seen_.push_back(s);
      h = handler_;
    }
    if (h) {
      h(req, s);
    } else {
      req.reply(http::status_codes::OK, "{}");
    }
  }

  int port_ = 0;
  std::unique_ptr<http::experimental::listener::http_listener> listener_;
  absl::Mutex mu_;
  Handler handler_ ABSL_GUARDED_BY(mu_);
  std::vector<Seen> seen_ ABSL_GUARDED_BY(mu_);
};

void ReplyJson(http::http_request& req, int code, const nlohmann::json& body,
               std::map<std::string, std::string> headers = {}) {
  http::http_response resp(static_cast<http::status_code>(code));
  for (const auto& [k, v] : headers) resp.headers().add(k, v);
  resp.set_body(body.dump(), "application/json");
  req.reply(resp);
}

nlohmann::json StatusJson(int code, const std::string& reason, const std::string& message) {
  return {{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Failure"},
          {"reason", reason}, {"message", message}, {"code", code}};
}

class CountingObserver : public RequestObserver {
 public:
  void OnRequest(const RequestRecord& r) override {
    absl::MutexLock l(&mu_);
    records_.push_back(absl::StrCat(r.verb, " ", r.resource->ToString(), " ", r.code));
  }
  std::vector<std::string> records() {
    absl::MutexLock l(&mu_);
    return records_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> records_ ABSL_GUARDED_BY(mu_);
};

ListOptions Limit(int64_t n) {
  ListOptions o;
  o.limit = n;
  return o;
}
CreateOptions DryRunAs(const std::string& manager) {
  CreateOptions o;
  o.field_manager = manager;
  o.dry_run = true;
  return o;
}
HttpClientOptions WithClock(Clock& clock) {
  HttpClientOptions o;
  o.clock = &clock;
  return o;
}
WatchOptions FromVersion(const std::string& rv) {
  WatchOptions o;
  o.resource_version = rv;
  return o;
}

class HttpClientTest : public ::testing::Test {
 protected:
  std::unique_ptr<HttpClient> NewClient(RestConfig config = {}, HttpClientOptions options = {}) {
    if (config.server.empty()) config.server = server_.url();
    if (config.bearer_token.empty() && config.token_file.empty()) config.bearer_token = "tok";
    if (options.clock == nullptr) options.clock = &RealClock::Get();
    if (options.observer == nullptr) options.observer = &observer_;
    absl::StatusOr<std::unique_ptr<HttpClient>> c = HttpClient::New(config, options);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *std::move(c) : nullptr;
  }

  FakeServer server_;
  CountingObserver observer_;
};

TEST_F(HttpClientTest, GetSendsPathAndHeadersAndParsesTheObject) {
  server_.SetHandler([](http::http_request req, const Seen&) {
    ReplyJson(req, 200, {{"kind", "ConfigMap"}, {"metadata", {{"name", "cm"}}}});
  });
  auto client = NewClient();
  absl::StatusOr<nlohmann::json> obj =
      client->Get(resources::ConfigMaps(), "ns1", "cm", {.resource_version = "0"});
  ASSERT_TRUE(obj.ok()) << obj.status();
  EXPECT_EQ((*obj)["metadata"]["name"], "cm");
  std::vector<Seen> seen = server_.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "GET");
  EXPECT_EQ(seen[0].path, "/api/v1/namespaces/ns1/configmaps/cm");
  EXPECT_EQ(seen[0].query, "resourceVersion=0");
  EXPECT_EQ(seen[0].headers["Authorization"], "Bearer tok");
  EXPECT_THAT(seen[0].headers["User-Agent"], StartsWith("weir-controller/"));
  EXPECT_EQ(seen[0].headers["Accept"], "application/json");
  EXPECT_THAT(observer_.records(), ElementsAre("get configmaps 200"));
}

TEST_F(HttpClientTest, ErrorsAreTyped) {
  server_.SetHandler([](http::http_request req, const Seen&) {
    ReplyJson(req, 404, StatusJson(404, "NotFound", "jobs.batch \"x\" not found"));
  });
  auto client = NewClient();
  absl::StatusOr<nlohmann::json> obj = client->Get(resources::Jobs(), "ns", "x");
  EXPECT_TRUE(kube::IsNotFound(obj.status())) << obj.status();
  EXPECT_THAT(obj.status().message(), HasSubstr("jobs.batch \"x\" not found"));
  EXPECT_EQ(server_.seen()[0].path, "/apis/batch/v1/namespaces/ns/jobs/x");
  EXPECT_THAT(observer_.records(), ElementsAre("get jobs.batch 404"));
}

TEST_F(HttpClientTest, ListSendsSelectorsAndPagination) {
  auto client = NewClient();
  ListOptions o;
  o.label_selector = "app=a,tier in (x,y)";
  o.field_selector = "metadata.name=b";
  o.limit = 5;
  o.continue_token = "abc=";
  ASSERT_TRUE(client->List(resources::Pods(), "", o).ok());
  Seen s = server_.seen()[0];
  EXPECT_EQ(s.path, "/api/v1/pods");
  EXPECT_EQ(s.query,
            "labelSelector=app%3Da%2Ctier%20in%20%28x%2Cy%29&fieldSelector=metadata.name%3Db&"
            "limit=5&continue=abc%3D");
}

TEST_F(HttpClientTest, ListAllFollowsContinue) {
  server_.SetHandler([](http::http_request req, const Seen& s) {
    std::string cont = s.query.find("continue=p2") != std::string::npos ? "" : "p2";
    nlohmann::json items = cont.empty() ? nlohmann::json::array({{{"n", 3}}})
                                        : nlohmann::json::array({{{"n", 1}}, {{"n", 2}}});
    nlohmann::json meta = {{"resourceVersion", cont.empty() ? "999" : "100"}};
    if (!cont.empty()) meta["continue"] = cont;
    ReplyJson(req, 200, {{"kind", "PodList"}, {"metadata", meta}, {"items", items}});
  });
  auto client = NewClient();
  absl::StatusOr<nlohmann::json> all = client->ListAll(resources::Pods(), "ns", Limit(2));
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ((*all)["items"].size(), 3u);
  EXPECT_EQ((*all)["items"][2]["n"], 3);
  EXPECT_EQ((*all)["metadata"]["resourceVersion"], "100");
  EXPECT_FALSE((*all)["metadata"].contains("continue"));
  ASSERT_EQ(server_.seen().size(), 2u);
  EXPECT_EQ(server_.seen()[1].query, "limit=2&continue=p2");
}

TEST_F(HttpClientTest, ListEachHandsOverEveryItemInOrderAndReturnsThePageWithout) {
  // Objects nested in items, and List keys before and after items, are not items.
  server_.SetHandler([](http::http_request req, const Seen&) {
    req.reply(http::status_codes::OK,
              R"({"kind":"PodList","metadata":{"resourceVersion":"7","continue":"c"},)"
              R"("items":[{"n":1,"spec":{"a":{"b":[{"c":1}]}}},{"n":2},{"n":3,"m":{}}],)"
              R"("extra":{"items":[{"n":9}]}})",
              "application/json");
  });
  auto client = NewClient();
  std::vector<nlohmann::json> seen;
  absl::StatusOr<nlohmann::json> page = client->ListEach(
      resources::Pods(), "ns", Limit(3), [&](nlohmann::json item) { seen.push_back(item); });
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0]["n"], 1);
  EXPECT_EQ(seen[0]["spec"]["a"]["b"][0]["c"], 1);
  EXPECT_EQ(seen[2]["m"], nlohmann::json::object());
  EXPECT_EQ((*page)["items"], nlohmann::json::array());
  EXPECT_EQ((*page)["metadata"]["continue"], "c");
  EXPECT_EQ((*page)["extra"]["items"][0]["n"], 9);
  EXPECT_EQ(server_.seen()[0].query, "limit=3");
  EXPECT_THAT(observer_.records(), ElementsAre("list pods 200"));
}

TEST_F(HttpClientTest, ListEachOfABodyThatIsNotJsonIsInternal) {
  server_.SetHandler([](http::http_request req, const Seen&) {
    req.reply(http::status_codes::OK, R"({"items":[{"n":1},{"n":)", "application/json");
  });
  auto client = NewClient();
  absl::StatusOr<nlohmann::json> page =
      client->ListEach(resources::Pods(), "ns", {}, [](nlohmann::json) {});
  EXPECT_EQ(page.status().code(), absl::StatusCode::kInternal) << page.status();
}

TEST_F(HttpClientTest, CreateUpdateAndStatus) {
  auto client = NewClient();
  nlohmann::json obj = {{"metadata", {{"name", "b1"}, {"resourceVersion", "7"}}}};
  ASSERT_TRUE(client->Create(resources::Batches(), "ns", obj, DryRunAs("weir")).ok());
  ASSERT_TRUE(client->Update(resources::Batches(), "ns", obj).ok());
  ASSERT_TRUE(client->UpdateStatus(resources::Batches(), "ns", obj).ok());
  std::vector<Seen> seen = server_.seen();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].path, "/apis/weir.dev/v1alpha1/namespaces/ns/batches");
  EXPECT_EQ(seen[0].query, "fieldManager=weir&dryRun=All");
  EXPECT_EQ(nlohmann::json::parse(seen[0].body), obj);
  EXPECT_THAT(seen[0].headers["Content-Type"], StartsWith("application/json"));
  EXPECT_EQ(seen[1].method, "PUT");
  EXPECT_EQ(seen[1].path, "/apis/weir.dev/v1alpha1/namespaces/ns/batches/b1");
  EXPECT_EQ(seen[2].path, "/apis/weir.dev/v1alpha1/namespaces/ns/batches/b1/status");
}

TEST_F(HttpClientTest, PatchContentTypes) {
  auto client = NewClient();
  ASSERT_TRUE(
      client->MergePatch(resources::ConfigMaps(), "ns", "cm", {{"data", {{"a", "1"}}}}).ok());
  ASSERT_TRUE(client
                  ->JsonPatch(resources::ConfigMaps(), "ns", "cm",
                              {{{"op", "add"}, {"path", "/data/b"}, {"value", "2"}}})
                  .ok());
  nlohmann::json applied = {{"apiVersion", "v1"},
                            {"kind", "ConfigMap"},
                            {"metadata", {{"name", "cm"}}},
                            {"data", {{"c", "3"}}}};
  ASSERT_TRUE(client->Apply(resources::ConfigMaps(), "ns", applied, "weir", true).ok());
  ASSERT_TRUE(client
                  ->PatchStatus(resources::Jobs(), "ns", "j", PatchType::kMerge,
                                {{"status", {{"active", 1}}}})
                  .ok());
  std::vector<Seen> seen = server_.seen();
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[0].method, "PATCH");
  EXPECT_THAT(seen[0].headers["Content-Type"], StartsWith("application/merge-patch+json"));
  EXPECT_THAT(seen[1].headers["Content-Type"], StartsWith("application/json-patch+json"));
  EXPECT_THAT(seen[2].headers["Content-Type"], StartsWith("application/apply-patch+yaml"));
  EXPECT_EQ(seen[2].query, "fieldManager=weir&force=true");
  EXPECT_EQ(nlohmann::json::parse(seen[2].body), applied);
  EXPECT_EQ(seen[3].path, "/apis/batch/v1/namespaces/ns/jobs/j/status");
}

TEST_F(HttpClientTest, BadArgumentsFailWithoutARequest) {
  auto client = NewClient();
  EXPECT_EQ(client->Apply(resources::ConfigMaps(), "ns", {{"metadata", {{"name", "x"}}}}, "")
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client->Apply(resources::ConfigMaps(), "ns", {{"data", 1}}, "m").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client->JsonPatch(resources::ConfigMaps(), "ns", "x", {{"op", "add"}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client->Get(resources::ConfigMaps(), "", "x").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client->Get(resources::Nodes(), "ns", "x").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client->Get(resources::ConfigMaps(), "ns", "a/b").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client->Create(resources::ConfigMaps(), "", {{"metadata", {}}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client->Update(resources::ConfigMaps(), "ns", {{"metadata", {}}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(server_.seen().empty());
}

TEST_F(HttpClientTest, CreateThroughSubresource) {
  auto client = NewClient();
  CreateOptions o;
  o.subresource_of = "builder";
  o.subresource = "token";
  ASSERT_TRUE(
      client->Create(resources::ServiceAccounts(), "ns", {{"kind", "TokenRequest"}}, o).ok());
  EXPECT_EQ(server_.seen()[0].path, "/api/v1/namespaces/ns/serviceaccounts/builder/token");
  o.subresource_of.clear();
  EXPECT_EQ(client->Create(resources::ServiceAccounts(), "ns", {{"kind", "X"}}, o).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(HttpClientTest, InvalidUtf8InABodyDoesNotThrow) {
  auto client = NewClient();
  nlohmann::json obj = {{"metadata", {{"name", "x"}}}, {"data", {{"k", std::string("\xff\xfe")}}}};
  EXPECT_TRUE(client->Create(resources::ConfigMaps(), "ns", obj).ok());
  ASSERT_EQ(server_.seen().size(), 1u);
  EXPECT_TRUE(nlohmann::json::parse(server_.seen()[0].body, nullptr, false).is_object());
}

TEST(MetadataStringTest, NeverThrows) {
  EXPECT_EQ(MetadataString({{"metadata", {{"name", "a"}}}}, "name"), "a");
  EXPECT_EQ(MetadataString({{"metadata", {{"name", 3}}}}, "name"), "");
  EXPECT_EQ(MetadataString({{"metadata", "x"}}, "name"), "");
  EXPECT_EQ(MetadataString(nlohmann::json::array(), "name"), "");
  EXPECT_EQ(MetadataString({{"metadata", {{"continue", "t"}}}}, "continue"), "t");
}

TEST_F(HttpClientTest, DeleteSendsOptions) {
  auto client = NewClient();
  DeleteOptions o;
  o.uid = "u-1";
  o.resource_version = "42";
  o.propagation_policy = PropagationPolicy::kForeground;
  o.grace_period_seconds = 0;
  ASSERT_TRUE(client->Delete(resources::Jobs(), "ns", "j", o).ok());
  Seen s = server_.seen()[0];
  EXPECT_EQ(s.method, "DELETE");
  nlohmann::json body = nlohmann::json::parse(s.body);
  EXPECT_EQ(body["kind"], "DeleteOptions");
  EXPECT_EQ(body["preconditions"]["uid"], "u-1");
  EXPECT_EQ(body["preconditions"]["resourceVersion"], "42");
  EXPECT_EQ(body["propagationPolicy"], "Foreground");
  EXPECT_EQ(body["gracePeriodSeconds"], 0);
}

TEST_F(HttpClientTest, TooManyRequestsIsRetriedAfterRetryAfter) {
  std::atomic<int> calls{0};
  server_.SetHandler([&](http::http_request req, const Seen&) {
    if (calls++ < 2) {
      ReplyJson(req, 429, StatusJson(429, "TooManyRequests", "slow down"), {{"Retry-After", "2"}});
    } else {
      ReplyJson(req, 200, {{"ok", true}});
    }
  });
  FakeClock clock;
  auto client = NewClient({}, WithClock(clock));
  absl::StatusOr<nlohmann::json> result;
  std::thread t([&] { result = client->Get(resources::ConfigMaps(), "ns", "cm"); });
  for (int i = 0; i < 2; ++i) {
    // Once request i+1 has arrived, the previous sleep (if any) has ended.
    while (calls < i + 1) absl::SleepFor(absl::Milliseconds(1));
    clock.WaitForWaiters(1);
    EXPECT_EQ(clock.NextDeadline() - clock.Now(), absl::Seconds(2));
    clock.Advance(absl::Seconds(2));
  }
  t.join();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(calls, 3);
  EXPECT_THAT(observer_.records(),
              ElementsAre("get configmaps 429", "get configmaps 429", "get configmaps 200"));
}

TEST_F(HttpClientTest, TooManyRequestsRetriesAreBounded) {
  server_.SetHandler([](http::http_request req, const Seen&) {
    ReplyJson(req, 429, StatusJson(429, "TooManyRequests", "slow down"), {{"Retry-After", "0"}});
  });
  HttpClientOptions two_retries;
  two_retries.max_retries = 2;
  auto client = NewClient({}, two_retries);
  absl::StatusOr<nlohmann::json> r = client->Get(resources::ConfigMaps(), "ns", "cm");
  EXPECT_TRUE(kube::IsTooManyRequests(r.status()));
  EXPECT_EQ(GetRetryAfter(r.status()), absl::ZeroDuration());
  EXPECT_EQ(server_.seen().size(), 3u);
}

TEST_F(HttpClientTest, UnauthorizedRereadsRotatedTokenOnce) {
  std::filesystem::path token =
      std::filesystem::path(::testing::TempDir()) / absl::StrCat("weir_token_", ::getpid());
  std::ofstream(token) << "old";
  server_.SetHandler([&](http::http_request req, const Seen& s) {
    if (s.headers.at("Authorization") == "Bearer new") {
      ReplyJson(req, 200, {});
    } else {
      std::ofstream(token) << "new";  // rotated after the client read it
      ReplyJson(req, 401, StatusJson(401, "Unauthorized", "Unauthorized"));
    }
  });
  RestConfig config;
  config.token_file = token.string();
  auto client = NewClient(config);
  EXPECT_TRUE(client->Get(resources::ConfigMaps(), "ns", "cm").ok());
  EXPECT_EQ(server_.seen().size(), 2u);
  // A token that stays bad gives Unauthorized after one re-read.
  server_.SetHandler([](http::http_request req, const Seen&) {
    ReplyJson(req, 401, StatusJson(401, "Unauthorized", "Unauthorized"));
  });
  EXPECT_TRUE(kube::IsUnauthorized(client->Get(resources::ConfigMaps(), "ns", "cm").status()));
  EXPECT_EQ(server_.seen().size(), 4u);
  std::filesystem::remove(token);
}

TEST_F(HttpClientTest, RateLimitWaitsOnTheClock) {
  FakeClock clock;
  RestConfig config;
  config.qps = 1;
  config.burst = 1;
  auto client = NewClient(config, WithClock(clock));
  ASSERT_TRUE(client->Get(resources::ConfigMaps(), "ns", "a").ok());
  std::atomic<bool> done{false};
  std::thread t([&] {
    EXPECT_TRUE(client->Get(resources::ConfigMaps(), "ns", "b").ok());
    done = true;
  });
  clock.WaitForWaiters(1);
  EXPECT_FALSE(done);
  EXPECT_EQ(server_.seen().size(), 1u);
  clock.Advance(absl::Seconds(1));
  t.join();
  EXPECT_EQ(server_.seen().size(), 2u);
}

TEST_F(HttpClientTest, ConcurrentRequestsFromManyThreads) {
  server_.SetHandler([](http::http_request req, const Seen& s) {
    ReplyJson(req, 200, {{"path", s.path}});
  });
  auto client = NewClient();
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        std::string name = absl::StrCat("cm-", t, "-", i);
        absl::StatusOr<nlohmann::json> r = client->Get(resources::ConfigMaps(), "ns", name);
        if (r.ok() && (*r)["path"] == absl::StrCat("/api/v1/namespaces/ns/configmaps/", name)) ++ok;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok, 100);
  EXPECT_EQ(observer_.records().size(), 100u);
}

// max_in_flight bounds the requests the server sees at once; without it the
// same load reaches the server all together.
TEST_F(HttpClientTest, MaxInFlightBoundsConcurrentRequests) {
  std::atomic<int> now{0};
  std::atomic<int> most{0};
  server_.SetHandler([&](http::http_request req, const Seen&) {
    const int n = ++now;
    int m = most.load();
    while (n > m && !most.compare_exchange_weak(m, n)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    --now;
    ReplyJson(req, 200, nlohmann::json::object());
  });
  auto run = [&](int max_in_flight) {
    most = 0;
    RestConfig config;
    config.qps = 0;
    config.max_in_flight = max_in_flight;
    auto client = NewClient(config);
    std::atomic<int> ok{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 6; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < 2; ++i) {
          if (client->Get(resources::ConfigMaps(), "ns", "cm").ok()) ++ok;
        }
      });
    }
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(ok, 12);
    return most.load();
  };
  EXPECT_LE(run(2), 2);
  EXPECT_GT(run(0), 2) << "unbounded, the six threads' requests overlap";
}

TEST_F(HttpClientTest, NonJsonSuccessIsInternal) {
  server_.SetHandler([](http::http_request req, const Seen&) {
    req.reply(http::status_codes::OK, "<html>", "text/html");
  });
  auto client = NewClient();
  EXPECT_EQ(client->Get(resources::ConfigMaps(), "ns", "cm").status().code(),
            absl::StatusCode::kInternal);
}

TEST_F(HttpClientTest, ConnectionRefusedIsConnectionFailed) {
  RestConfig config;
  config.server = "http://127.0.0.1:1";
  auto client = NewClient(config);
  absl::StatusOr<nlohmann::json> r = client->Get(resources::ConfigMaps(), "ns", "cm");
  EXPECT_TRUE(kube::IsConnectionFailed(r.status())) << r.status();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(observer_.records(), ElementsAre("get configmaps 0"));
}

TEST_F(HttpClientTest, SlowServerIsTimeout) {
  // Shared: the server's handler may still be waking up from it when the test
  // ends (a stack Notification was destroyed under it: "Mutex unlocked when
  // destroyed").
  auto release = std::make_shared<absl::Notification>();
  server_.SetHandler([release](http::http_request req, const Seen&) {
    release->WaitForNotificationWithTimeout(absl::Seconds(5));
    ReplyJson(req, 200, {});
  });
  RestConfig config;
  config.timeout = absl::Milliseconds(300);
  auto client = NewClient(config);
  absl::StatusOr<nlohmann::json> r = client->Get(resources::ConfigMaps(), "ns", "cm");
  release->Notify();
  EXPECT_TRUE(kube::IsTimeout(r.status())) << r.status();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(HttpClientNewTest, RejectsBadServerAndTls) {
  RestConfig config;
  config.server = "ftp://x";
  EXPECT_EQ(HttpClient::New(config).status().code(), absl::StatusCode::kInvalidArgument);
  config.server = "https://127.0.0.1:6443";
  config.ca_data = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n";
  absl::Status s = HttpClient::New(config).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("127.0.0.1:6443"));
}

// --- TLS trust ---

// Two self-signed test CAs (EC P-256, valid until 2126).
constexpr char kTwoCas[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBiTCCAS+gAwIBAgIUN6wmbw2Jy9W97pNwBQzmuJuKQPgwCgYIKoZIzj0EAwIw\n"
    "GTEXMBUGA1UEAwwOd2Vpci10ZXN0LWNhLTEwIBcNMjYxMjA4MDIyMTE5WhgPMjEy\n"
    "NjExMTQwMjIxMTlaMBkxFzAVBgNVBAMMDndlaXItdGVzdC1jYS0xMFkwEwYHKoZI\n"
    "zj0CAQYIKoZIzj0DAQcDQgAEvGbu/BVIvHb5lD+rTAbJBYYxXsX+92l3O3c2Ni43\n"
    "4owe+ustujPuKzVqY4rohKhd14h8nMAqSwN9PpZ5FcrUmaNTMFEwHQYDVR0OBBYE\n"
    "FI/EIKXATbfQoMTHDhTGHthFSd3NMB8GA1UdIwQYMBaAFI/EIKXATbfQoMTHDhTG\n"
    "HthFSd3NMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIhANk+Se6/\n"
    "DPrHoI7oIEsbTw2/YiDyHmKbvVvS3zLkC2pQAiAw4cak5IfgHiQjKnpVMIkEAs2S\n"
    "to4/1rvvHNR9Q7WNKg==\n"
    "-----END CERTIFICATE-----\n"
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBijCCAS+gAwIBAgIUAhcIlXb81ok7SzqZDaFVe7RLaSYwCgYIKoZIzj0EAwIw\n"
    "GTEXMBUGA1UEAwwOd2Vpci10ZXN0LWNhLTIwIBcNMjYxMjA4MDIyMTE5WhgPMjEy\n"
    "NjExMTQwMjIxMTlaMBkxFzAVBgNVBAMMDndlaXItdGVzdC1jYS0yMFkwEwYHKoZI\n"
    "zj0CAQYIKoZIzj0DAQcDQgAEykuKMB1FpBR1Y6D9QxKmFo8+kitrWnIByPT2LhKW\n"
    "fwIqw7pn0QlrJuY5S97mSC3NiGVPnXXWJUroE9YeDEcfGaNTMFEwHQYDVR0OBBYE\n"
    "FK2mTNuwfRaNgh/757Uk/mF4uuhmMB8GA1UdIwQYMBaAFK2mTNuwfRaNgh/757Uk\n"
    "/mF4uuhmMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSQAwRgIhAM1roYK2\n"
    "MAKFCKnZo5wyURlcTEvTsIutdVx2Fkz8wAi6AiEA4X+AF/efVjPKWwNlpq0Y5849\n"
    "GWmih/Cv4hanvuaFFxs=\n"
    "-----END CERTIFICATE-----\n";

size_t CertsIn(boost::asio::ssl::context& ctx) {
  STACK_OF(X509_OBJECT)* objects =
      X509_STORE_get0_objects(SSL_CTX_get_cert_store(ctx.native_handle()));
  size_t n = 0;
  for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i) {
    if (X509_OBJECT_get_type(sk_X509_OBJECT_value(objects, i)) == X509_LU_X509) ++n;
  }
  return n;
}

TEST(TlsTrustTest, AKubeconfigCaReplacesTheSystemRootsInEveryConnection) {
  absl::StatusOr<std::shared_ptr<x509_store_st>> trust = internal::TrustStore(kTwoCas);
  ASSERT_TRUE(trust.ok()) << trust.status();
  // As cpprestsdk makes each connection's context: the system's roots first.
  boost::asio::ssl::context a(boost::asio::ssl::context::sslv23);
  boost::asio::ssl::context b(boost::asio::ssl::context::sslv23);
  a.set_default_verify_paths();
  b.set_default_verify_paths();
  internal::ConfigureTls(a, trust->get(), "", "");
  internal::ConfigureTls(b, trust->get(), "", "");
  EXPECT_EQ(CertsIn(a), 2u);
  // One store for all connections, not a copy (nor a load of the roots) each.
  EXPECT_EQ(SSL_CTX_get_cert_store(a.native_handle()), trust->get());
  EXPECT_EQ(SSL_CTX_get_cert_store(b.native_handle()), trust->get());
}

TEST(TlsTrustTest, WithoutACaTheSystemRootsStay) {
  boost::asio::ssl::context ctx(boost::asio::ssl::context::sslv23);
  ctx.set_default_verify_paths();
  const size_t roots = CertsIn(ctx);
  internal::ConfigureTls(ctx, nullptr, "", "");
  EXPECT_EQ(CertsIn(ctx), roots);
}

TEST(TlsTrustTest, NoCertificateOrOneThatDoesNotParseIsInvalid) {
  for (const std::string& pem :
       {std::string(""), std::string("not pem"),
        std::string("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"),
        std::string(kTwoCas) +
            "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"}) {
    absl::StatusOr<std::shared_ptr<x509_store_st>> trust = internal::TrustStore(pem);
    EXPECT_EQ(trust.status().code(), absl::StatusCode::kInvalidArgument) << pem;
    EXPECT_THAT(trust.status().message(), HasSubstr("certificate-authority-data")) << pem;
  }
}

// --- watch ---

// Replies with a chunked body fed line by line from the test.
class StreamingReply {
 public:
  void Reply(http::http_request& req) {
    http::http_response resp(http::status_codes::OK);
    resp.set_body(concurrency::streams::istream(buf_), "application/json");
    req.reply(resp);
  }
  void Send(const nlohmann::json& event) {
    std::string line = event.dump() + "\n";
    buf_.putn_nocopy(reinterpret_cast<const uint8_t*>(line.data()), line.size()).wait();
    buf_.sync().wait();
  }
  void SendText(const std::string& text) {
    buf_.putn_nocopy(reinterpret_cast<const uint8_t*>(text.data()), text.size()).wait();
    buf_.sync().wait();
  }
  void Close() { buf_.close(std::ios_base::out).wait(); }

 private:
  concurrency::streams::producer_consumer_buffer<uint8_t> buf_;
};

TEST_F(HttpClientTest, WatchStreamsTypedEvents) {
  StreamingReply reply;
  server_.SetHandler([&](http::http_request req, const Seen&) { reply.Reply(req); });
  auto client = NewClient();
  WatchOptions o;
  o.resource_version = "10";
  o.allow_watch_bookmarks = true;
  o.timeout_seconds = 30;
  o.label_selector = "a=b";
  absl::StatusOr<std::unique_ptr<WatchStream>> w = client->Watch(resources::ConfigMaps(), "ns", o);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(server_.seen()[0].query,
            "watch=true&resourceVersion=10&allowWatchBookmarks=true&timeoutSeconds=30&"
            "labelSelector=a%3Db");
  nlohmann::json cm = {{"metadata", {{"name", "x"}, {"resourceVersion", "11"}}}};
  reply.Send({{"type", "ADDED"}, {"object", cm}});
  WatchEvent e;
  ASSERT_TRUE((*w)->Next(&e));
  EXPECT_EQ(e.type, EventType::kAdded);
  EXPECT_EQ(e.object, cm);
  EXPECT_TRUE(e.error.ok());
  reply.Send({{"type", "MODIFIED"}, {"object", cm}});
  reply.Send({{"type", "BOOKMARK"}, {"object", {{"metadata", {{"resourceVersion", "12"}}}}}});
  reply.Send({{"type", "DELETED"}, {"object", cm}});
  reply.Send(
      {{"type", "ERROR"}, {"object", StatusJson(410, "Expired", "too old resource version")}});
  reply.Close();
  std::vector<EventType> types;
  absl::Status end = (*w)->ForEach([&](const WatchEvent& ev) {
    types.push_back(ev.type);
    if (ev.type == EventType::kBookmark) {
      EXPECT_EQ(ev.object["metadata"]["resourceVersion"], "12");
    }
    if (ev.type == EventType::kError) {
      EXPECT_TRUE(kube::IsGone(ev.error));
    }
    return true;
  });
  EXPECT_TRUE(end.ok()) << end;
  EXPECT_THAT(types, ElementsAre(EventType::kModified, EventType::kBookmark, EventType::kDeleted,
                                 EventType::kError));
  EXPECT_FALSE((*w)->Next(&e));
  EXPECT_THAT(observer_.records(), ElementsAre("watch configmaps 200"));
}

// The body arrives in pieces that do not follow lines: one ends inside an
// event, the next holds the rest of it, a whole event of 3 MiB (more than one
// read takes) and the start of the last, which the close completes without a
// newline.
TEST_F(HttpClientTest, WatchTakesEventsInPiecesOfAnySize) {
  StreamingReply reply;
  server_.SetHandler([&](http::http_request req, const Seen&) { reply.Reply(req); });
  auto client = NewClient();
  absl::StatusOr<std::unique_ptr<WatchStream>> w = client->Watch(resources::Pods(), "", {});
  ASSERT_TRUE(w.ok()) << w.status();
  auto event = [](const char* type, const std::string& name, const std::string& note) {
    return nlohmann::json{
        {"type", type},
        {"object", {{"metadata", {{"name", name}, {"annotations", {{"note", note}}}}}}}}
        .dump();
  };
  const std::string first = event("ADDED", "a", "x") + "\n";
  const std::string big = event("MODIFIED", "b", std::string(3 << 20, 'y')) + "\r\n";
  const std::string all = first + big + event("DELETED", "c", "z");
  reply.SendText(all.substr(0, 20));
  reply.SendText(all.substr(20, first.size() + big.size() + 10 - 20));
  reply.SendText(all.substr(first.size() + big.size() + 10));
  reply.Close();
  std::vector<std::string> seen;
  absl::Status end = (*w)->ForEach([&](const WatchEvent& e) {
    seen.push_back(
        absl::StrCat(e.object["metadata"]["name"].get<std::string>(), " ",
                     e.object["metadata"]["annotations"]["note"].get<std::string>().size()));
    return true;
  });
  EXPECT_TRUE(end.ok()) << end;
  EXPECT_THAT(seen, ElementsAre("a 1", absl::StrCat("b ", 3 << 20), "c 1"));
}

TEST_F(HttpClientTest, WatchCancelFromAnotherThreadUnblocksNext) {
  StreamingReply reply;
  server_.SetHandler([&](http::http_request req, const Seen&) { reply.Reply(req); });
  auto client = NewClient();
  absl::StatusOr<std::unique_ptr<WatchStream>> w = client->Watch(resources::Pods(), "", {});
  ASSERT_TRUE(w.ok()) << w.status();
  reply.Send({{"type", "ADDED"}, {"object", {{"metadata", {{"name", "p"}}}}}});
  WatchEvent e;
  ASSERT_TRUE((*w)->Next(&e));
  std::thread canceler([&] {
    absl::SleepFor(absl::Milliseconds(200));
    (*w)->Cancel();
  });
  EXPECT_FALSE((*w)->Next(&e));  // blocked until Cancel()
  canceler.join();
  EXPECT_TRUE(kube::IsCanceled((*w)->status())) << (*w)->status();
  reply.Close();
}

TEST_F(HttpClientTest, WatchCallbackCanStop) {
  StreamingReply reply;
  server_.SetHandler([&](http::http_request req, const Seen&) { reply.Reply(req); });
  auto client = NewClient();
  absl::StatusOr<std::unique_ptr<WatchStream>> w = client->Watch(resources::Pods(), "", {});
  ASSERT_TRUE(w.ok()) << w.status();
  for (int i = 0; i < 3; ++i) reply.Send({{"type", "ADDED"}, {"object", {{"i", i}}}});
  int seen = 0;
  EXPECT_TRUE((*w)->ForEach([&](const WatchEvent&) { return ++seen < 2; }).ok());
  EXPECT_EQ(seen, 2);
  reply.Close();
}

TEST_F(HttpClientTest, WatchIdleTimeoutCountsOnlySilence) {
  StreamingReply reply;
  server_.SetHandler([&](http::http_request req, const Seen&) { reply.Reply(req); });
  HttpClientOptions o;
  o.watch_idle_timeout = absl::Milliseconds(800);
  auto client = NewClient({}, o);
  absl::StatusOr<std::unique_ptr<WatchStream>> w = client->Watch(resources::Pods(), "", {});
  ASSERT_TRUE(w.ok()) << w.status();
  std::thread sender([&] {
    for (int i = 0; i < 5; ++i) {  // 2s of events, 400ms apart: never 800ms of silence
      reply.Send({{"type", "ADDED"}, {"object", {{"i", i}}}});
      absl::SleepFor(absl::Milliseconds(400));
    }
  });
  WatchEvent e;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE((*w)->Next(&e)) << "event " << i << ": " << (*w)->status();
    EXPECT_EQ(e.object["i"], i);
  }
  sender.join();
  // Then silence: the stream ends with a timeout.
  EXPECT_FALSE((*w)->Next(&e));
  EXPECT_TRUE(kube::IsTimeout((*w)->status())) << (*w)->status();
  reply.Close();
}

TEST_F(HttpClientTest, WatchStreamOutlivesTheClient) {
  StreamingReply reply;
  server_.SetHandler([&](http::http_request req, const Seen&) { reply.Reply(req); });
  auto client = NewClient();
  absl::StatusOr<std::unique_ptr<WatchStream>> w = client->Watch(resources::Pods(), "", {});
  ASSERT_TRUE(w.ok()) << w.status();
  client.reset();
  reply.Send({{"type", "ADDED"}, {"object", {{"i", 1}}}});
  reply.Close();
  WatchEvent e;
  ASSERT_TRUE((*w)->Next(&e));
  EXPECT_EQ(e.object["i"], 1);
  EXPECT_FALSE((*w)->Next(&e));
  EXPECT_TRUE((*w)->status().ok()) << (*w)->status();
}

TEST_F(HttpClientTest, WatchMalformedEventEndsStream) {
  StreamingReply reply;
  server_.SetHandler([&](http::http_request req, const Seen&) { reply.Reply(req); });
  auto client = NewClient();
  absl::StatusOr<std::unique_ptr<WatchStream>> w = client->Watch(resources::Pods(), "", {});
  ASSERT_TRUE(w.ok()) << w.status();
  reply.Send({{"no-type", 1}});
  reply.Close();
  WatchEvent e;
  EXPECT_FALSE((*w)->Next(&e));
  EXPECT_EQ((*w)->status().code(), absl::StatusCode::kInternal);
}

TEST_F(HttpClientTest, WatchErrorResponseIsReturned) {
  server_.SetHandler([](http::http_request req, const Seen&) {
    ReplyJson(req, 410, StatusJson(410, "Expired", "too old resource version: 1 (50)"));
  });
  auto client = NewClient();
  absl::StatusOr<std::unique_ptr<WatchStream>> w =
      client->Watch(resources::Pods(), "", FromVersion("1"));
  EXPECT_TRUE(kube::IsExpired(w.status())) << w.status();
}

TEST_F(HttpClientTest, PodLogStreamsLinesAsTheyArrive) {
  StreamingReply reply;
  server_.SetHandler([&](http::http_request req, const Seen&) { reply.Reply(req); });
  auto client = NewClient();
  absl::Notification first;
  std::vector<std::string> lines;
  std::thread reader([&] {
    absl::Status s = client->StreamPodLog("ns", "p-1", {.container = "main", .follow = true},
                                          [&](absl::string_view line) {
                                            lines.emplace_back(line);
                                            if (!first.HasBeenNotified()) first.Notify();
                                            return true;
                                          });
    EXPECT_TRUE(s.ok()) << s;
  });
  reply.SendText("one\n");
  // The first line arrives while the stream is still open (follow).
  ASSERT_TRUE(first.WaitForNotificationWithTimeout(absl::Seconds(10)));
  reply.SendText("\ntwo\nthree");
  reply.Close();
  reader.join();
  EXPECT_THAT(lines, ElementsAre("one\n", "\n", "two\n", "three\n"));
  std::vector<Seen> seen = server_.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].path, "/api/v1/namespaces/ns/pods/p-1/log");
  EXPECT_EQ(seen[0].query, "container=main&follow=true");
  EXPECT_EQ(seen[0].headers["Accept"], "text/plain, application/json");
  EXPECT_THAT(observer_.records(), ElementsAre("get pods 200"));
}

TEST_F(HttpClientTest, PodLogSinkCanStopAndErrorsAreTyped) {
  StreamingReply reply;
  server_.SetHandler([&](http::http_request req, const Seen& s) {
    if (s.path.find("/pods/gone/") != std::string::npos) {
      ReplyJson(req, 404, StatusJson(404, "NotFound", "pods \"gone\" not found"));
    } else if (s.path.find("/pods/bad/") != std::string::npos) {
      ReplyJson(req, 400, StatusJson(400, "BadRequest", "container x is not valid for pod bad"));
    } else {
      reply.Reply(req);
    }
  });
  auto client = NewClient();
  absl::Status s = client->StreamPodLog("ns", "gone", {}, [](absl::string_view) { return true; });
  EXPECT_TRUE(kube::IsNotFound(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr("pods \"gone\" not found"));
  s = client->StreamPodLog("ns", "bad", {.container = "x"}, [](absl::string_view) { return true; });
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(s.message(), HasSubstr("container x is not valid"));
  EXPECT_EQ(server_.seen()[1].query, "container=x");
  reply.SendText("a\nb\n");
  int n = 0;
  s = client->StreamPodLog("ns", "ok", {.container = "", .follow = true},
                           [&](absl::string_view) { return ++n < 1; });
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(n, 1);
  reply.Close();
}

TEST(BuildPathTest, Paths) {
  EXPECT_EQ(internal::BuildPath(resources::Pods(), "", "", "", false).value(), "/api/v1/pods");
  EXPECT_EQ(internal::BuildPath(resources::Nodes(), "", "n1", "", true).value(),
            "/api/v1/nodes/n1");
  EXPECT_EQ(internal::BuildPath(resources::Leases(), "kube-system", "l", "", true).value(),
            "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/l");
  EXPECT_EQ(internal::BuildPath(resources::JobFlows(), "ns", "f", "status", true).value(),
            "/apis/weir.dev/v1alpha1/namespaces/ns/jobflows/f/status");
  EXPECT_FALSE(internal::BuildPath(resources::Pods(), "ns", "..", "", true).ok());
  EXPECT_FALSE(internal::BuildPath(ResourceRef{}, "", "", "", false).ok());
}

TEST(EncodeQueryTest, EncodesReservedCharacters) {
  EXPECT_EQ(internal::EncodeQuery({{"a", "x y"}, {"b", "k!=v"}, {"c", ""}}),
            "a=x%20y&b=k%21%3Dv&c=");
  EXPECT_EQ(internal::PercentEncode("AZaz09-._~/"), "AZaz09-._~%2F");
}

TEST(ResourceRefTest, Names) {
  EXPECT_EQ(resources::Jobs().ApiVersion(), "batch/v1");
  EXPECT_EQ(resources::Pods().ApiVersion(), "v1");
  EXPECT_EQ(resources::Batches().ToString(), "batches.weir.dev");
  EXPECT_EQ(EventTypeName(EventType::kBookmark), "BOOKMARK");
}

}  // namespace
}  // namespace weir::kube
