// A restart with 10,000 objects must not stampede the API server (issue 14).
// weir-controller, the real binary with 32 workers per controller, starts
// against a scripted API server on loopback that holds 10,000 new Batches
// (so every one needs a write the moment the caches sync). The server counts
// the requests (not watches) it is answering at once. Every Batch must get
// its finalizer, and at no moment may more requests be in flight than
// --kube-api-max-in-flight allows. The same restart with the bound off
// overlaps far more, so the check can fail.
//
// No control plane is needed: the scripted server answers what weir-controller
// asks on start (version, lists, watches held open, finalizer patches).
#ifndef _TURN_OFF_PLATFORM_STRING
#define _TURN_OFF_PLATFORM_STRING  // no U() macro from cpprestsdk
#endif
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cpprest/http_listener.h"
#include "cpprest/producerconsumerstream.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "test/e2e/support/controller_process.h"

namespace weir::e2e {
namespace {

using nlohmann::json;
namespace http = web::http;

constexpr char kNamespace[] = "restart";
constexpr int kBatches = 10000;
constexpr int kWorkers = 32;
constexpr int kMaxInFlight = 8;
// How long the server takes over each request, so that requests sent at
// once overlap.
constexpr auto kServiceTime = std::chrono::milliseconds(2);

std::string BatchName(int i) {
  char name[16];
  std::snprintf(name, sizeof(name), "b-%05d", i);
  return name;
}

json Batch(const std::string& name, const std::string& resource_version) {
  return {{"apiVersion", "weir.dev/v1alpha1"},
          {"kind", "Batch"},
          {"metadata",
           {{"name", name},
            {"namespace", kNamespace},
            {"uid", absl::StrCat("uid-", name)},
            {"resourceVersion", resource_version},
            {"generation", 1},
            {"creationTimestamp", "2026-01-01T00:00:00Z"}}},
          {"spec",
           {{"jobSpec",
             {{"template",
               {{"spec", {{"containers", {{{"name", "main"}, {"image", "busybox"}}}}}}}}}}}}};
}

// An API server that knows only what a weir-controller start asks for.
// Lists of batches are paged as the client asks; other lists are empty;
// watches stay open and silent until the server closes; a merge patch of a Batch
// is recorded and answered with the Batch at a new resourceVersion; anything
// else is 404.
class ScriptedApiServer {
 public:
  using Stream = concurrency::streams::producer_consumer_buffer<uint8_t>;

  ScriptedApiServer() {
    port_ = FreeLoopbackPort();
    listener_ = std::make_unique<http::experimental::listener::http_listener>(
        absl::StrCat("http://127.0.0.1:", port_, "/"));
    listener_->support([this](http::http_request req) { Handle(std::move(req)); });
    try {
      listener_->open().wait();
    } catch (const std::exception&) {
      listener_.reset();  // the port was taken meanwhile: listening() says so
    }
  }
  // REQUIRES: the client has stopped (no more watches come).
  ~ScriptedApiServer() {
    {
      // The listener's close waits for every answer to end, watches too.
      absl::MutexLock l(&mu_);
      for (Stream& w : watches_) w.close(std::ios_base::out).wait();
    }
    if (listener_ != nullptr) listener_->close().wait();
  }

  bool listening() const { return listener_ != nullptr; }
  std::string url() const { return absl::StrCat("http://127.0.0.1:", port_); }
  int most_in_flight() const { return most_.load(); }
  int patched() {
    absl::MutexLock l(&mu_);
    return static_cast<int>(patched_.size());
  }
  int requests() const { return requests_.load(); }

 private:
  void Handle(http::http_request req) {
    const std::string path = req.relative_uri().path();
    const std::map<std::string, std::string> query =
        web::uri::split_query(req.relative_uri().query());
    if (auto w = query.find("watch");
        w != query.end() && (w->second == "true" || w->second == "1")) {
      // Open at once, as the API server does, and silent until the end.
      Stream body;
      http::http_response resp(http::status_codes::OK);
      resp.set_body(concurrency::streams::istream(body), "application/json");
      req.reply(resp);
      absl::MutexLock l(&mu_);
      watches_.push_back(body);
      return;
    }
    ++requests_;
    const int now = ++in_flight_;
    int most = most_.load();
    while (now > most && !most_.compare_exchange_weak(most, now)) {
    }
    std::this_thread::sleep_for(kServiceTime);
    int code = 200;
    json body = Answer(req, path, query, &code);
    // Out of the count before the answer leaves, so the client's next
    // request (sent once this one is answered) never overlaps it here.
    --in_flight_;
    req.reply(static_cast<http::status_code>(code), body.dump(), "application/json");
  }

  json Answer(http::http_request& req, const std::string& path,
              const std::map<std::string, std::string>& query, int* code) {
    const std::string batches =
        absl::StrCat("/apis/weir.dev/v1alpha1/namespaces/", kNamespace, "/batches");
    if (path == "/version") {
      return {{"major", "1"}, {"minor", "36"}, {"gitVersion", "v1.36.3"}};
    }
    if (req.method() == http::methods::GET && path == batches) {
      int from = 0;
      if (auto c = query.find("continue"); c != query.end())
        (void)absl::SimpleAtoi(c->second, &from);
      int limit = kBatches;
      if (auto l = query.find("limit"); l != query.end()) (void)absl::SimpleAtoi(l->second, &limit);
      const int to = std::min(kBatches, from + std::max(limit, 1));
      json list = {{"apiVersion", "weir.dev/v1alpha1"},
                   {"kind", "BatchList"},
                   {"metadata", {{"resourceVersion", "1"}}},
                   {"items", json::array()}};
      for (int i = from; i < to; ++i) list["items"].push_back(Batch(BatchName(i), "1"));
      if (to < kBatches) list["metadata"]["continue"] = absl::StrCat(to);
      return list;
    }
    if (req.method() == http::methods::PATCH && absl::StartsWith(path, batches + "/")) {
      const std::string name = path.substr(batches.size() + 1);
      json patched = Batch(name, "2");
      patched["metadata"]["finalizers"] = {"weir.dev/cleanup"};
      absl::MutexLock l(&mu_);
      patched_.insert(name);
      return patched;
    }
    if (req.method() == http::methods::GET) {
      // Any other list this start makes (JobFlows, JobTemplates, Jobs, Pods): empty.
      const std::vector<std::string> parts = absl::StrSplit(path, '/', absl::SkipEmpty());
      if (parts.size() >= 5 && parts[parts.size() - 3] == "namespaces") {
        return {
            {"kind", "List"}, {"metadata", {{"resourceVersion", "1"}}}, {"items", json::array()}};
      }
    }
    *code = 404;
    return {{"kind", "Status"},     {"apiVersion", "v1"}, {"status", "Failure"},
            {"reason", "NotFound"}, {"code", 404},        {"message", path + " not served here"}};
  }

  int port_ = 0;
  std::unique_ptr<http::experimental::listener::http_listener> listener_;
  std::atomic<int> in_flight_{0};
  std::atomic<int> most_{0};
  std::atomic<int> requests_{0};
  absl::Mutex mu_;
  std::vector<Stream> watches_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> patched_ ABSL_GUARDED_BY(mu_);
};

struct Restart {
  int patched = 0;
  int most_in_flight = 0;
  int requests = 0;
  double seconds = 0;
};

// Starts weir-controller with `max_in_flight` against a fresh scripted
// server and stops it once every Batch has its finalizer (or after a minute).
Restart RestartWith(int max_in_flight) {
  Restart r;
  ScriptedApiServer server;
  EXPECT_TRUE(server.listening());
  const std::string kubeconfig =
      absl::StrCat(::testing::TempDir(), "/restart-stampede-", max_in_flight, ".kubeconfig");
  {
    std::FILE* f = std::fopen(kubeconfig.c_str(), "w");
    EXPECT_NE(f, nullptr);
    if (f == nullptr) return r;
    std::fprintf(f,
                 "apiVersion: v1\nkind: Config\n"
                 "clusters: [{name: scripted, cluster: {server: \"%s\"}}]\n"
                 "users: [{name: u, user: {token: t}}]\n"
                 "contexts: [{name: c, context: {cluster: scripted, user: u}}]\n"
                 "current-context: c\n",
                 server.url().c_str());
    std::fclose(f);
  }
  ControllerProcess controller(
      {absl::StrCat("--kubeconfig=", kubeconfig), absl::StrCat("--namespace=", kNamespace),
       absl::StrCat("--workers=", kWorkers),
       absl::StrCat("--kube-api-max-in-flight=", max_in_flight), "--log-level=info"});
  EXPECT_TRUE(controller.Start().ok());
  const absl::Time start = absl::Now();
  const absl::Time deadline = start + absl::Minutes(1);
  while (server.patched() < kBatches && absl::Now() < deadline && controller.running() &&
         !controller.Exited().has_value()) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  r.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  EXPECT_EQ(controller.Stop(), 0) << "log: " << controller.log_path();
  r.patched = server.patched();
  r.most_in_flight = server.most_in_flight();
  r.requests = server.requests();
  return r;
}

TEST(RestartStampedeTest, TenThousandBatchesNeverMoreThanTheBoundInFlight) {
  const Restart bounded = RestartWith(kMaxInFlight);
  std::printf("bound %d: %d Batches patched in %.1f s, %d requests, at most %d in flight\n",
              kMaxInFlight, bounded.patched, bounded.seconds, bounded.requests,
              bounded.most_in_flight);
  EXPECT_EQ(bounded.patched, kBatches) << "every Batch is reconciled after the restart";
  EXPECT_LE(bounded.most_in_flight, kMaxInFlight);
  EXPECT_GT(bounded.most_in_flight, 1) << "the workers did run at once";

  const Restart unbounded = RestartWith(0);
  std::printf("no bound: %d Batches patched in %.1f s, %d requests, at most %d in flight\n",
              unbounded.patched, unbounded.seconds, unbounded.requests, unbounded.most_in_flight);
  EXPECT_EQ(unbounded.patched, kBatches);
  EXPECT_GT(unbounded.most_in_flight, kMaxInFlight)
      << "without the bound the 32 workers' requests overlap: the check above can fail";
}

}  // namespace
}  // namespace weir::e2e
