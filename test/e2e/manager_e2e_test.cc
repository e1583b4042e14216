// The Manager (runtime/manager.h) against the real API server: one trivial
// reconciler over ConfigMaps in a fresh namespace (it copies data.source into
// the annotation weir.dev/copied), with leader election on a Lease, the
// metrics endpoint scraped for API request and reconcile counts, /readyz ok
// after the caches synced, and SIGTERM giving an orderly stop that releases
// the Lease and makes Run() return OK.
//
// Needs KUBECONFIG from `eval "$(hack/cluster.sh env)"`.
#ifndef _TURN_OFF_PLATFORM_STRING
#define _TURN_OFF_PLATFORM_STRING
#endif
#include <signal.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/config.h"
#include "kube/http_client.h"
#include "runtime/local_http_for_test.h"
#include "runtime/manager.h"
#include "test/e2e/support/eventually.h"
#include "test/e2e/support/rest_config.h"

namespace weir::e2e {
namespace {

using nlohmann::json;
using runtime::ApiRequestMetrics;
using runtime::Manager;
using runtime::ManagerOptions;
using runtime::ManagerState;
using ::testing::HasSubstr;

const kube::ResourceRef kCm = kube::resources::ConfigMaps();
constexpr char kAnnotation[] = "weir.dev/copied";
constexpr char kIdentity[] = "e2e-manager";
constexpr char kLease[] = "weir-manager-e2e";

absl::StatusOr<std::unique_ptr<kube::HttpClient>> ClientFromEnv(kube::RequestObserver* observer) {
  absl::StatusOr<kube::RestConfig> config = e2e::RestConfigFromEnv();
  if (!config.ok()) return config.status();
  config->qps = 100;
  config->burst = 200;
  kube::HttpClientOptions options;
  options.observer = observer;
  return kube::HttpClient::New(*config, options);
}

using runtime::local_http::Fetch;
using runtime::local_http::FreeLoopbackPort;
using runtime::local_http::HttpReply;

// The value of the sample whose line starts with `series` (name{labels}),
// or -1 if absent.
double SampleValue(const std::string& exposition, const std::string& series) {
  for (absl::string_view line : absl::StrSplit(exposition, '\n')) {
    if (absl::StartsWith(line, series + " ")) {
      double v = -1;
      if (absl::SimpleAtod(line.substr(series.size() + 1), &v)) return v;
    }
  }
  return -1;
}

// Copies data.source into the annotation weir.dev/copied, reading from the
// informer's cache and writing with a merge patch.
class Copier final : public runtime::Reconciler {
 public:
  explicit Copier(kube::Client* client) : client_(client) {}
  void set_informer(runtime::Informer* informer) { informer_ = informer; }

  absl::StatusOr<runtime::Result> Reconcile(const runtime::Request& request) override {
    runtime::ObjectPtr cm = informer_->store().Get(request.ns, request.name);
    if (cm == nullptr) return runtime::Result{};  // deleted
    const json data = cm->value("data", json::object());
    const std::string source = data.is_object() ? data.value("source", "") : "";
    const json annotations = (*cm)["metadata"].value("annotations", json::object());
    if (annotations.is_object() && annotations.value(kAnnotation, "") == source) {
      return runtime::Result{};
    }
    absl::StatusOr<json> patched = client_->MergePatch(
        kCm, request.ns, request.name, {{"metadata", {{"annotations", {{kAnnotation, source}}}}}});
    if (!patched.ok()) return patched.status();
    return runtime::Result{};
  }

 private:
  kube::Client* const client_;
  runtime::Informer* informer_ = nullptr;
};

class ManagerE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<kube::HttpClient>> c = ClientFromEnv(&api_metrics_);
    ASSERT_TRUE(c.ok()) << c.status();
    client_ = *std::move(c);
    absl::BitGen gen;
    ns_ = absl::StrCat("weir-manager-", getpid(), "-", absl::Uniform(gen, 0, 1000000));
    ASSERT_TRUE(
        client_->Create(kube::resources::Namespaces(), "", {{"metadata", {{"name", ns_}}}}).ok());
  }
  void TearDown() override {
    if (client_ != nullptr) (void)client_->Delete(kube::resources::Namespaces(), "", ns_);
  }

  void CreateConfigMap(const std::string& name, const std::string& source) {
    json cm = {{"apiVersion", "v1"},
               {"kind", "ConfigMap"},
               {"metadata", {{"name", name}, {"namespace", ns_}}},
               {"data", {{"source", source}}}};
    absl::StatusOr<json> created = client_->Create(kCm, ns_, cm);
    ASSERT_TRUE(created.ok()) << created.status();
  }
  bool Copied(const std::string& name, const std::string& want) {
    absl::StatusOr<json> cm = client_->Get(kCm, ns_, name);
    if (!cm.ok()) return false;
    const json annotations = (*cm)["metadata"].value("annotations", json::object());
    return annotations.is_object() && annotations.value(kAnnotation, "") == want;
  }
  std::string LeaseHolder() {
    absl::StatusOr<json> lease = client_->Get(kube::resources::Leases(), ns_, kLease);
    if (!lease.ok()) return "<" + lease.status().ToString() + ">";
    return (*lease)["spec"].value("holderIdentity", "");
  }

  ApiRequestMetrics api_metrics_;  // outlives the client that reports to it
  std::unique_ptr<kube::HttpClient> client_;
  std::string ns_;
};

TEST_F(ManagerE2eTest, ReconcilesServesMetricsAndStopsOnSigterm) {
  ManagerOptions o;
  o.ns = ns_;
  const std::string address = absl::StrCat("127.0.0.1:", FreeLoopbackPort());
  o.metrics_bind_address = address;
  o.health_bind_address = address;
  o.request_metrics = &api_metrics_;
  o.graceful_shutdown_timeout = absl::Seconds(10);
  o.leader_election.enabled = true;
  o.leader_election.lease_namespace = ns_;
  o.leader_election.lease_name = kLease;
  o.leader_election.identity = kIdentity;
  Copier copier(client_.get());  // outlives the manager
  absl::StatusOr<std::unique_ptr<Manager>> m = Manager::New(client_.get(), std::move(o));
  ASSERT_TRUE(m.ok()) << m.status();
  Manager& mgr = **m;

  runtime::Controller& controller = mgr.AddController("copier", copier, 2);
  runtime::InformerOptions informer_options;
  informer_options.keep_full_objects = true;
  runtime::Informer& informer = mgr.informers().For(kCm, informer_options);
  copier.set_informer(&informer);
  informer.AddEventHandler(runtime::EnqueueObjectHandler(controller));

  CreateConfigMap("before-start", "one");  // seen by the initial list
  absl::StatusOr<std::unique_ptr<runtime::SignalHandlers>> signals =
      runtime::InstallSignalHandlers(mgr);
  ASSERT_TRUE(signals.ok()) << signals.status();

  absl::Status result = absl::UnknownError("Run did not return");
  std::thread run([&] { result = mgr.Run(); });
  ASSERT_TRUE(mgr.WaitFor([](const ManagerState& s) { return s.leading && s.controllers_started; },
                          absl::Seconds(60)));
  const HttpReply ready = Fetch(mgr.HealthUrl(), "/readyz");
  EXPECT_EQ(ready.status, 200) << ready.body;
  EXPECT_EQ(LeaseHolder(), kIdentity);

  CreateConfigMap("after-start", "two");
  EXPECT_TRUE(Eventually([&] { return Copied("before-start", "one"); }, absl::Seconds(30)));
  EXPECT_TRUE(Eventually([&] { return Copied("after-start", "two"); }, absl::Seconds(30)));
  ASSERT_TRUE(
      client_->MergePatch(kCm, ns_, "before-start", {{"data", {{"source", "changed"}}}}).ok());
  EXPECT_TRUE(Eventually([&] { return Copied("before-start", "changed"); }, absl::Seconds(30)));

  // A reconcile's metrics are recorded just after it returns: scrape until
  // the last one is in.
  HttpReply metrics;
  EXPECT_TRUE(Eventually(
      [&] {
        metrics = Fetch(mgr.MetricsUrl(), "/metrics");
        return SampleValue(metrics.body,
                           "weir_reconcile_total{controller=\"copier\",result=\"success\"}") >= 3;
      },
      absl::Seconds(10)));
  ASSERT_EQ(metrics.status, 200) << metrics.body;
  // Three patches by the copier, each 200 (the test's own patch counts too:
  // it shares the observed client).
  EXPECT_GE(SampleValue(metrics.body,
                        "weir_api_requests_total{verb=\"patch\",code=\"200\","
                        "resource=\"configmaps\"}"),
            3)
      << metrics.body;
  EXPECT_GE(SampleValue(metrics.body,
                        "weir_api_requests_total{verb=\"list\",code=\"200\","
                        "resource=\"configmaps\"}"),
            1);
  EXPECT_GE(SampleValue(metrics.body,
                        "weir_api_requests_total{verb=\"watch\",code=\"200\","
                        "resource=\"configmaps\"}"),
            1);
  EXPECT_GE(
      SampleValue(metrics.body, "weir_reconcile_total{controller=\"copier\",result=\"success\"}"),
      3);
  EXPECT_EQ(SampleValue(metrics.body, absl::StrCat("weir_leader{identity=\"", kIdentity, "\"}")),
            1);
  EXPECT_THAT(metrics.body, HasSubstr("weir_api_request_duration_seconds_bucket"));
  EXPECT_THAT(metrics.body, HasSubstr("process_resident_memory_bytes"));
  EXPECT_EQ(Fetch(mgr.HealthUrl(), "/healthz").status, 200);

  ASSERT_EQ(raise(SIGTERM), 0);
  run.join();
  EXPECT_TRUE(result.ok()) << result;
  EXPECT_EQ((*signals)->received(), 1);
  EXPECT_EQ(LeaseHolder(), "");                             // released for the next replica
  EXPECT_EQ(Fetch(mgr.HealthUrl(), "/healthz").status, 0);  // server stopped
}

}  // namespace
}  // namespace weir::e2e
