// cpprestsdk's U() macro clashes with GoogleTest template parameters.
#ifndef _TURN_OFF_PLATFORM_STRING
#define _TURN_OFF_PLATFORM_STRING
#endif
#include "runtime/manager.h"

#include <signal.h>

#include <memory>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/errors.h"
#include "runtime/fake_client.h"
#include "runtime/local_http_for_test.h"

namespace weir::runtime {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kLeaseName[] = "weir-leader";
const kube::ResourceRef kCm = kube::resources::ConfigMaps();
const kube::ResourceRef kLeases = kube::resources::Leases();

using local_http::Fetch;
using local_http::FreeLoopbackPort;
using local_http::HttpReply;

// Swallows log lines (keeps test output readable) but keeps them for checks.
class CaptureSink final : public LogSink {
 public:
  void Write(absl::string_view line) override {
    absl::MutexLock l(&mu_);
    lines_.emplace_back(line);
  }
  std::string All() const {
    absl::MutexLock l(&mu_);
    std::string all;
    for (const std::string& s : lines_) all += s;
    return all;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<std::string> lines_;
};

// Records every reconciled key; an optional hook runs first (it may block).
class TestReconciler final : public Reconciler {
 public:
  std::function<void(const Request&)> hook;

  absl::StatusOr<Result> Reconcile(const Request& request) override {
    if (hook) hook(request);
    absl::MutexLock l(&mu_);
    calls_.push_back(request.Key());
    return Result{};
  }
  // Waits (bounded, in real time, only as a failure guard) for `n` calls.
  bool WaitForCalls(size_t n) {
    absl::MutexLock l(&mu_);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return calls_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(30));
  }
  std::vector<std::string> calls() const {
    absl::MutexLock l(&mu_);
    return calls_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<std::string> calls_;
};

json ConfigMap(const std::string& name) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"data", {{"k", "v"}}}};
}

class ManagerTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (mgr_ != nullptr) mgr_->Stop();
    if (run_.joinable()) run_.join();
    mgr_.reset();
  }

  ManagerOptions Options() {
    ManagerOptions o;
    o.clock = &clock_;
    o.logger = Logger({.clock = &clock_, .sink = sink_});
    const std::string address = absl::StrCat("127.0.0.1:", FreeLoopbackPort());
    o.metrics_bind_address = address;
    o.health_bind_address = address;
    return o;
  }
  ManagerOptions LeaderOptions() {
    ManagerOptions o = Options();
    o.leader_election.enabled = true;
    o.leader_election.lease_namespace = "default";
    o.leader_election.lease_name = kLeaseName;
    o.leader_election.identity = "me";
    return o;
  }

  // A manager with controller "copier" fed by a ConfigMap informer.
  void Make(ManagerOptions options) {
    absl::StatusOr<std::unique_ptr<Manager>> m = Manager::New(&client_, std::move(options));
    ASSERT_TRUE(m.ok()) << m.status();
    mgr_ = *std::move(m);
    controller_ = &mgr_->AddController("copier", reconciler_, 1);
    mgr_->informers().For(kCm).AddEventHandler(EnqueueObjectHandler(*controller_));
  }
  void StartRun() {
    run_ = std::thread([this] { result_ = mgr_->Run(); });
  }
  absl::Status Join() {
    run_.join();
    return result_;
  }
  void CreateConfigMap(const std::string& name) {
    ASSERT_TRUE(client_.Create(kCm, "default", ConfigMap(name)).ok());
  }
  bool Wait(const std::function<bool(const ManagerState&)>& pred) { return mgr_->WaitFor(pred); }

  std::string LeaseHolder() const {
    for (const json& o : client_.Objects(kLeases)) {
      if (kube::MetadataString(o, "name") == kLeaseName) {
        return o["spec"].value("holderIdentity", "");
      }
    }
    return "<none>";
  }
  void SetLeaseHolder(const std::string& holder) {
    absl::StatusOr<json> lease = client_.Get(kLeases, "default", kLeaseName);
    ASSERT_TRUE(lease.ok()) << lease.status();
    (*lease)["spec"]["holderIdentity"] = holder;
    (*lease)["spec"]["renewTime"] = FormatMicroTime(clock_.Now());
    ASSERT_TRUE(client_.Update(kLeases, "default", *lease).ok());
  }
  std::string Metrics() const { return mgr_->metrics().Render(); }

  FakeClock clock_;
  FakeClient client_{&clock_};
  std::shared_ptr<CaptureSink> sink_ = std::make_shared<CaptureSink>();
  TestReconciler reconciler_;
  std::unique_ptr<Manager> mgr_;
  Controller* controller_ = nullptr;
  std::thread run_;
  absl::Status result_;
};

// ---- Construction ----------------------------------------------------------

TEST(ParseBindAddressTest, AcceptsHostPortForms) {
  std::string host;
  int port = 0;
  ASSERT_TRUE(ParseBindAddress(":8080", &host, &port).ok());
  EXPECT_EQ(host, "0.0.0.0");
  EXPECT_EQ(port, 8080);
  ASSERT_TRUE(ParseBindAddress("127.0.0.1:9", &host, &port).ok());
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 9);
  ASSERT_TRUE(ParseBindAddress("[::1]:443", &host, &port).ok());
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 443);
}

TEST(ParseBindAddressTest, RejectsBadAddresses) {
  std::string host;
  int port = 0;
  for (const char* bad : {"8080", ":0", ":x", ":70000", "host:", "[::1:80"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(ParseBindAddress(bad, &host, &port))) << bad;
  }
}

TEST_F(ManagerTest, NewRejectsBadAddressOrLeaderElectionConfig) {
  ManagerOptions o = Options();
  o.health_bind_address = "nonsense";
  EXPECT_TRUE(absl::IsInvalidArgument(Manager::New(&client_, o).status()));

  o = LeaderOptions();
  o.leader_election.lease_name = "";
  EXPECT_TRUE(absl::IsInvalidArgument(Manager::New(&client_, o).status()));

  o = LeaderOptions();
  o.leader_election.renew_deadline = absl::Seconds(20);  // > lease duration
  EXPECT_TRUE(absl::IsInvalidArgument(Manager::New(&client_, o).status()));
}

TEST_F(ManagerTest, GeneratesAnIdentityWhenNoneIsGiven) {
  ManagerOptions o = LeaderOptions();
  o.leader_election.identity = "";
  absl::StatusOr<std::unique_ptr<Manager>> a = Manager::New(&client_, o);
  absl::StatusOr<std::unique_ptr<Manager>> b = Manager::New(&client_, o);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_THAT((*a)->identity(), HasSubstr("_"));
  EXPECT_NE((*a)->identity(), (*b)->identity());
}

// ---- Caches and readiness --------------------------------------------------

TEST_F(ManagerTest, CachesSyncBeforeControllersStartAndReadyzFlips) {
  CreateConfigMap("a");
  absl::Notification list_released;
  client_.SetInterceptor([&](absl::string_view verb, const kube::ResourceRef& ref,
                             absl::string_view, absl::string_view) {
    if (verb == "list" && ref.resource == "configmaps") list_released.WaitForNotification();
    return absl::OkStatus();
  });
  bool synced_at_first_reconcile = false;
  reconciler_.hook = [&](const Request&) {
    synced_at_first_reconcile = mgr_->state().caches_synced;
  };
  Make(Options());
  StartRun();

  client_.WaitForCalls("list", 1);  // the informer's list is held
  HttpReply ready = Fetch(mgr_->HealthUrl(), "/readyz");
  EXPECT_EQ(ready.status, 503);
  EXPECT_THAT(ready.body, HasSubstr("[-]informers-synced"));
  EXPECT_EQ(Fetch(mgr_->HealthUrl(), "/healthz").status, 200);
  ManagerState s = mgr_->state();
  EXPECT_TRUE(s.running);
  EXPECT_FALSE(s.caches_synced);
  EXPECT_FALSE(s.controllers_started);
  EXPECT_TRUE(reconciler_.calls().empty());

  list_released.Notify();
  ASSERT_TRUE(Wait([](const ManagerState& s) { return s.controllers_started; }));
  EXPECT_TRUE(mgr_->state().caches_synced);
  ready = Fetch(mgr_->HealthUrl(), "/readyz");
  EXPECT_EQ(ready.status, 200);
  ASSERT_TRUE(reconciler_.WaitForCalls(1));
  EXPECT_THAT(reconciler_.calls(), ElementsAre("default/a"));
  EXPECT_TRUE(synced_at_first_reconcile);

  mgr_->Stop();
  EXPECT_TRUE(Join().ok());
  EXPECT_TRUE(mgr_->state().done);
  client_.SetInterceptor(nullptr);
}

TEST_F(ManagerTest, StopWhileWaitingForCachesReturnsOkWithoutStartingControllers) {
  client_.FailNext("list", kube::NewConnectionFailed("down"), 1000);
  Make(Options());
  StartRun();
  // Run waits for the caches and the reflector backs off after its failed
  // list: both wait on the clock.
  clock_.WaitForWaiters(2);
  EXPECT_EQ(Fetch(mgr_->HealthUrl(), "/readyz").status, 503);
  mgr_->Stop();
  clock_.Advance(absl::Seconds(1));  // past the cache-sync poll
  EXPECT_TRUE(Join().ok());
  EXPECT_FALSE(mgr_->state().caches_synced);
  EXPECT_FALSE(mgr_->state().controllers_started);
  EXPECT_TRUE(reconciler_.calls().empty());
}

TEST_F(ManagerTest, CacheSyncTimeoutFailsRun) {
  client_.FailNext("list", kube::NewConnectionFailed("down"), 1000);
  ManagerOptions o = Options();
  o.cache_sync_timeout = absl::Seconds(5);
  Make(std::move(o));
  StartRun();
  clock_.WaitForWaiters(2);
  clock_.Advance(absl::Seconds(5));
  absl::Status s = Join();
  EXPECT_TRUE(absl::IsDeadlineExceeded(s)) << s;
  EXPECT_FALSE(mgr_->state().controllers_started);
}

TEST_F(ManagerTest, StopBeforeRunReturnsAtOnce) {
  Make(Options());
  mgr_->Stop();
  EXPECT_TRUE(mgr_->Run().ok());
  EXPECT_FALSE(mgr_->state().controllers_started);
  EXPECT_TRUE(absl::IsFailedPrecondition(mgr_->Run()));  // only once
}

TEST_F(ManagerTest, RunStopsWhenTheStopTokenIsRequested) {
  Make(Options());
  std::stop_source source;
  run_ = std::thread([this, token = source.get_token()] { result_ = mgr_->Run(token); });
  ASSERT_TRUE(Wait([](const ManagerState& s) { return s.controllers_started; }));
  source.request_stop();
  EXPECT_TRUE(Join().ok());
}

TEST_F(ManagerTest, ControllerAddedWhileRunningStartsAtOnce) {
  Make(Options());
  StartRun();
  ASSERT_TRUE(Wait([](const ManagerState& s) { return s.controllers_started; }));
  TestReconciler late;
  Controller& c = mgr_->AddController("late", late, 2);
  c.EnqueueKey("default/x");
  ASSERT_TRUE(late.WaitForCalls(1));
  EXPECT_THAT(late.calls(), ElementsAre("default/x"));
  mgr_->Stop();
  EXPECT_TRUE(Join().ok());
}

// ---- Metrics and health endpoints ------------------------------------------

TEST_F(ManagerTest, MetricsAndHealthOnSeparateAddresses) {
  ApiRequestMetrics api;
  ManagerOptions o = Options();
  o.health_bind_address = absl::StrCat("127.0.0.1:", FreeLoopbackPort());
  o.request_metrics = &api;
  Make(std::move(o));
  ASSERT_NE(mgr_->MetricsUrl(), mgr_->HealthUrl());
  CreateConfigMap("a");
  StartRun();
  ASSERT_TRUE(reconciler_.WaitForCalls(1));
  // The worker is idle again (the only thread waiting on the clock), so the
  // reconcile's metrics are recorded.
  clock_.WaitForWaiters(1);
  kube::ResourceRef cm = kCm;
  api.OnRequest({.verb = "patch", .resource = &cm, .code = 200, .latency = absl::Milliseconds(3)});

  HttpReply metrics = Fetch(mgr_->MetricsUrl(), "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_THAT(metrics.body, HasSubstr("weir_api_requests_total{verb=\"patch\",code=\"200\","
                                      "resource=\"configmaps\"} 1"));
  EXPECT_THAT(metrics.body, HasSubstr("weir_api_request_duration_seconds_count{verb=\"patch\","
                                      "resource=\"configmaps\"} 1"));
  EXPECT_THAT(metrics.body,
              HasSubstr("weir_reconcile_total{controller=\"copier\",result=\"success\"} 1"));
  EXPECT_THAT(metrics.body, HasSubstr("weir_workqueue_adds_total{name=\"copier\"}"));
  EXPECT_THAT(metrics.body, HasSubstr("# TYPE weir_watch_restarts_total counter"));
  EXPECT_THAT(metrics.body, HasSubstr("process_resident_memory_bytes"));
  EXPECT_THAT(metrics.body, Not(HasSubstr("weir_leader")));  // no leader election
  EXPECT_EQ(Fetch(mgr_->HealthUrl(), "/metrics").status, 404);
  EXPECT_EQ(Fetch(mgr_->HealthUrl(), "/readyz").status, 200);
  EXPECT_EQ(Fetch(mgr_->HealthUrl(), "/healthz").status, 200);

  mgr_->Stop();
  EXPECT_TRUE(Join().ok());
  mgr_.reset();
  // Unbound with the manager: counting into a destroyed registry would crash.
  api.OnRequest({.verb = "get", .resource = &cm, .code = 200, .latency = absl::Milliseconds(1)});
}

TEST_F(ManagerTest, EmptyMetricsAddressDisablesMetricsOnly) {
  ManagerOptions o = Options();
  o.metrics_bind_address = "";
  Make(std::move(o));
  EXPECT_EQ(mgr_->MetricsUrl(), "");
  ASSERT_NE(mgr_->HealthUrl(), "");
  StartRun();
  ASSERT_TRUE(Wait([](const ManagerState& s) { return s.controllers_started; }));
  EXPECT_EQ(Fetch(mgr_->HealthUrl(), "/readyz").status, 200);
  EXPECT_EQ(Fetch(mgr_->HealthUrl(), "/metrics").status, 404);
  mgr_->Stop();
  EXPECT_TRUE(Join().ok());
}

TEST_F(ManagerTest, ServerBindFailureFailsRun) {
  local_http::BusyLoopbackPort busy;
  ASSERT_NE(busy.port(), 0);
  ManagerOptions o = Options();
  o.metrics_bind_address = o.health_bind_address = absl::StrCat("127.0.0.1:", busy.port());
  Make(std::move(o));
  EXPECT_TRUE(absl::IsUnavailable(mgr_->Run()));
  EXPECT_FALSE(mgr_->state().controllers_started);
}

TEST(ApiRequestMetricsTest, CountsByVerbCodeAndResourceOnlyWhileBound) {
  MetricsRegistry registry;
  ApiRequestMetrics api;
  kube::ResourceRef jobs = kube::resources::Jobs();
  api.OnRequest({.verb = "get",
                 .resource = &jobs,
                 .code = 200,
                 .latency = absl::Milliseconds(1)});  // unbound: dropped
  api.Bind(&registry);
  api.OnRequest({.verb = "get", .resource = &jobs, .code = 200, .latency = absl::Milliseconds(1)});
  api.OnRequest({.verb = "get", .resource = &jobs, .code = 200, .latency = absl::Milliseconds(1)});
  api.OnRequest({.verb = "list", .resource = &jobs, .code = 0, .latency = absl::Milliseconds(1)});
  api.OnRequest(
      {.verb = "create", .resource = &jobs, .code = 409, .latency = absl::Milliseconds(1)});
  const std::string out = registry.Render();
  EXPECT_THAT(out, HasSubstr("weir_api_requests_total{verb=\"get\",code=\"200\","
                             "resource=\"jobs.batch\"} 2"));
  EXPECT_THAT(out, HasSubstr("weir_api_requests_total{verb=\"list\",code=\"<error>\","
                             "resource=\"jobs.batch\"} 1"));
  EXPECT_THAT(out, HasSubstr("weir_api_requests_total{verb=\"create\",code=\"409\","
                             "resource=\"jobs.batch\"} 1"));
  EXPECT_THAT(out, HasSubstr("weir_api_request_duration_seconds_count{verb=\"get\","
                             "resource=\"jobs.batch\"} 2"));
  api.Bind(nullptr);
  api.OnRequest({.verb = "get", .resource = &jobs, .code = 200, .latency = absl::Milliseconds(1)});
  EXPECT_THAT(registry.Render(), HasSubstr("resource=\"jobs.batch\"} 2"));
}

// ---- Leader election -------------------------------------------------------

TEST_F(ManagerTest, ControllersStartOnlyAfterAcquiringTheLease) {
  json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                {"kind", "Lease"},
                {"metadata", {{"name", kLeaseName}, {"namespace", "default"}}},
                {"spec",
                 {{"holderIdentity", "other"},
                  {"leaseDurationSeconds", 15},
                  {"renewTime", FormatMicroTime(clock_.Now())}}}};
  ASSERT_TRUE(client_.Create(kLeases, "default", lease).ok());
  CreateConfigMap("a");
  Make(LeaderOptions());
  StartRun();
  ASSERT_TRUE(Wait([](const ManagerState& s) { return s.caches_synced; }));
  // The elector tried once, saw "other" and sleeps; it is the only thread
  // waiting on the clock (no workers run yet).
  clock_.WaitForWaiters(1);
  EXPECT_GE(client_.Calls("get"), 1);
  EXPECT_FALSE(mgr_->state().leading);
  EXPECT_FALSE(mgr_->state().controllers_started);
  EXPECT_TRUE(reconciler_.calls().empty());
  EXPECT_EQ(Fetch(mgr_->HealthUrl(), "/readyz").status, 200);  // synced, though not leading
  EXPECT_THAT(Metrics(), HasSubstr("weir_leader{identity=\"me\"} 0"));

  SetLeaseHolder("");  // the other holder released it
  clock_.Advance(absl::Seconds(3));
  ASSERT_TRUE(Wait([](const ManagerState& s) { return s.leading && s.controllers_started; }));
  ASSERT_TRUE(reconciler_.WaitForCalls(1));
  EXPECT_THAT(reconciler_.calls(), ElementsAre("default/a"));
  EXPECT_EQ(LeaseHolder(), "me");
  EXPECT_THAT(Metrics(), HasSubstr("weir_leader{identity=\"me\"} 1"));

  mgr_->Stop();
  EXPECT_TRUE(Join().ok());
  EXPECT_EQ(LeaseHolder(), "");  // released on an orderly stop
  EXPECT_THAT(Metrics(), HasSubstr("weir_leader{identity=\"me\"} 0"));
}

TEST_F(ManagerTest, LosingTheLeaseStopsReconcilingAndRunFails) {
  CreateConfigMap("a");
  Make(LeaderOptions());
  StartRun();
  ASSERT_TRUE(Wait([](const ManagerState& s) { return s.leading && s.controllers_started; }));
  ASSERT_TRUE(reconciler_.WaitForCalls(1));

  SetLeaseHolder("other");           // someone took it over
  clock_.WaitForWaiters(3);          // the renew loop, the watchdog, the idle worker
  clock_.Advance(absl::Seconds(2));  // next renew sees the other holder
  const absl::Status s = Join();
  EXPECT_TRUE(absl::IsAborted(s)) << s;
  const ManagerState state = mgr_->state();
  EXPECT_TRUE(state.lost_leadership);
  EXPECT_FALSE(state.leading);
  EXPECT_TRUE(controller_->queue().ShuttingDown());
  EXPECT_EQ(LeaseHolder(), "other");  // never released someone else's lease
  EXPECT_THAT(Metrics(), HasSubstr("weir_leader{identity=\"me\"} 0"));
  EXPECT_THAT(reconciler_.calls(), ElementsAre("default/a"));
}

TEST_F(ManagerTest, LeaseLostWhileRenewHangsStopsWorkersAtOnce) {
  CreateConfigMap("a");
  Make(LeaderOptions());
  StartRun();
  ASSERT_TRUE(Wait([](const ManagerState& s) { return s.leading && s.controllers_started; }));
  ASSERT_TRUE(reconciler_.WaitForCalls(1));

  absl::Notification blocked, unblock;
  client_.SetInterceptor(
      [&](absl::string_view, const kube::ResourceRef& ref, absl::string_view, absl::string_view) {
        if (ref.resource == "leases") {
          if (!blocked.HasBeenNotified()) blocked.Notify();
          unblock.WaitForNotification();
        }
        return absl::OkStatus();
      });
  clock_.WaitForWaiters(3);  // renew loop, watchdog, idle worker
  clock_.Advance(absl::Seconds(2));
  blocked.WaitForNotification();     // the renew hangs in the API call
  clock_.WaitForWaiters(2);          // watchdog, idle worker
  clock_.Advance(absl::Seconds(8));  // renew deadline (10s) since the last renew
  ASSERT_TRUE(Wait([](const ManagerState& s) { return s.lost_leadership; }));
  // Reconciling stopped although the elector's call still hangs.
  EXPECT_TRUE(controller_->queue().ShuttingDown());
  EXPECT_FALSE(mgr_->state().leading);
  controller_->EnqueueKey("default/b");  // ignored
  unblock.Notify();
  const absl::Status s = Join();
  EXPECT_TRUE(absl::IsAborted(s)) << s;
  EXPECT_THAT(reconciler_.calls(), ElementsAre("default/a"));
  client_.SetInterceptor(nullptr);
}

// ---- Orderly stop ----------------------------------------------------------

TEST_F(ManagerTest, StopDrainsRunningReconcileThenReleasesLease) {
  CreateConfigMap("slow");
  absl::Notification entered, release;
  std::string holder_when_done;
  reconciler_.hook = [&](const Request&) {
    entered.Notify();
    release.WaitForNotification();
    holder_when_done = LeaseHolder();
  };
  Make(LeaderOptions());
  StartRun();
  entered.WaitForNotification();
  mgr_->Stop();
  EXPECT_FALSE(mgr_->state().done);
  EXPECT_EQ(LeaseHolder(), "me");
  controller_->EnqueueKey("default/other");  // no new work once stopping
  release.Notify();
  EXPECT_TRUE(Join().ok());
  EXPECT_EQ(holder_when_done, "me");  // the lease outlived the reconcile
  EXPECT_EQ(LeaseHolder(), "");
  EXPECT_THAT(reconciler_.calls(), ElementsAre("default/slow"));
  EXPECT_THAT(sink_->All(), HasSubstr("lease released"));
}

TEST_F(ManagerTest, StopGivesUpAfterTheGraceAndKeepsTheLease) {
  CreateConfigMap("stuck");
  absl::Notification entered, release;
  reconciler_.hook = [&](const Request&) {
    entered.Notify();
    release.WaitForNotification();
  };
  ManagerOptions o = LeaderOptions();
  o.graceful_shutdown_timeout = absl::Seconds(30);
  Make(std::move(o));
  StartRun();
  entered.WaitForNotification();
  mgr_->Stop();
  clock_.Advance(absl::Seconds(30));  // the grace counts from the stop request
  const absl::Status s = Join();
  EXPECT_TRUE(absl::IsDeadlineExceeded(s)) << s;
  // A reconcile may still write: another replica must not take over before
  // the lease expires.
  EXPECT_EQ(LeaseHolder(), "me");
  release.Notify();
  // The reconcile ends before `release` goes out of scope.
  ASSERT_TRUE(reconciler_.WaitForCalls(1));
}

// ---- Signals ---------------------------------------------------------------

TEST_F(ManagerTest, SigtermStopsTheManagerInOrder) {
  Make(LeaderOptions());
  absl::StatusOr<std::unique_ptr<SignalHandlers>> handlers = InstallSignalHandlers(*mgr_);
  ASSERT_TRUE(handlers.ok()) << handlers.status();
  StartRun();
  ASSERT_TRUE(Wait([](const ManagerState& s) { return s.controllers_started; }));
  ASSERT_EQ(raise(SIGTERM), 0);
  EXPECT_TRUE(Join().ok());
  EXPECT_EQ((*handlers)->received(), 1);
  EXPECT_TRUE(mgr_->state().stop_requested);
  EXPECT_EQ(LeaseHolder(), "");
  EXPECT_THAT(sink_->All(), HasSubstr("SIGTERM"));
  handlers->reset();
  struct sigaction current = {};
  ASSERT_EQ(sigaction(SIGTERM, nullptr, &current), 0);
  EXPECT_EQ(current.sa_handler, SIG_DFL);  // restored
}

TEST(SignalHandlersTest, SigintCallsBackAndOnlyOneInstallation) {
  absl::Mutex mu;
  std::vector<int> seen;
  auto h = InstallSignalHandlers(
      [&](int signo) {
        absl::MutexLock l(&mu);
        seen.push_back(signo);
      },
      /*exit_on_second_signal=*/false);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_TRUE(absl::IsFailedPrecondition(InstallSignalHandlers([](int) {}).status()));
  ASSERT_EQ(raise(SIGINT), 0);
  ASSERT_EQ(raise(SIGTERM), 0);  // not fatal without exit_on_second_signal
  {
    absl::MutexLock l(&mu);
    auto two = [&]() { return seen.size() >= 2; };
    mu.Await(absl::Condition(&two));
    EXPECT_THAT(seen, ElementsAre(SIGINT, SIGTERM));
  }
  EXPECT_EQ((*h)->received(), 2);
  h->reset();
  auto again = InstallSignalHandlers([](int) {});
  EXPECT_TRUE(again.ok());  // the slot is free again
}

TEST(SignalHandlersDeathTest, SecondSignalExitsAtOnce) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        auto h = InstallSignalHandlers([](int) {}, /*exit_on_second_signal=*/true);
        if (!h.ok()) std::_Exit(3);
        raise(SIGTERM);
        raise(SIGTERM);
        std::_Exit(0);  // not reached
      },
      ::testing::ExitedWithCode(1), "");
}

// ---- EnqueueObjectHandler, EnqueueOwnerHandler -----------------------------

ControllerOptions OnClock(FakeClock& clock) {
  ControllerOptions options;
  options.name = "c";
  options.clock = &clock;
  return options;
}

// A controller on a fake clock, for the handlers.
class HandlerTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  TestReconciler reconciler_;
  Controller controller_{OnClock(clock_), reconciler_};
};

TEST_F(HandlerTest, ObjectHandlerEnqueuesNamespaceAndName) {
  auto handler = EnqueueObjectHandler(controller_);
  auto obj = [](const char* ns, const char* name) {
    json o = {{"metadata", {{"name", name}}}};
    if (ns[0] != '\0') o["metadata"]["namespace"] = ns;
    return std::make_shared<const json>(o);
  };
  handler->OnAdd(obj("ns", "a"));
  handler->OnUpdate(obj("ns", "a"), obj("ns", "b"));
  handler->OnDelete(obj("", "cluster-scoped"));
  EXPECT_EQ(controller_.queue().Len(), 3);
  controller_.Start();
  ASSERT_TRUE(reconciler_.WaitForCalls(3));
  EXPECT_THAT(reconciler_.calls(), ElementsAre("ns/a", "ns/b", "cluster-scoped"));
  EXPECT_TRUE(controller_.Stop(absl::InfiniteDuration()));
}

TEST_F(HandlerTest, ObjectHandlerWaitsTheDelayFirst) {
  auto handler = EnqueueObjectHandler(controller_, absl::Milliseconds(100));
  auto obj = std::make_shared<const json>(json{{"metadata", {{"name", "a"}, {"namespace", "ns"}}}});
  handler->OnAdd(obj);
  handler->OnUpdate(obj, obj);
  EXPECT_EQ(controller_.queue().Len(), 0u);
  EXPECT_EQ(controller_.queue().NumWaiting(), 1u);
  clock_.Advance(absl::Milliseconds(100));
  EXPECT_EQ(controller_.queue().Len(), 1u);
}

// The changes of a child within the delay make one reconcile of its owner,
// the delay after the first of them.
TEST_F(HandlerTest, OwnerHandlerMakesOneReconcileOfTheChangesWithinTheDelay) {
  auto handler = EnqueueOwnerHandler(
      controller_,
      [](const json& child) -> std::optional<std::string> {
        if (!child.contains("owner")) return std::nullopt;
        return child["owner"].get<std::string>();
      },
      absl::Milliseconds(100));
  auto child = [](int rv) {
    return std::make_shared<const json>(json{{"owner", "ns/flow"}, {"rv", rv}});
  };
  handler->OnAdd(child(1));
  clock_.Advance(absl::Milliseconds(60));
  handler->OnUpdate(child(1), child(2));
  handler->OnUpdate(child(2), child(3));
  handler->OnAdd(std::make_shared<const json>(json{{"rv", 4}}));  // no owner
  EXPECT_EQ(controller_.queue().Len(), 0u);
  EXPECT_EQ(controller_.queue().NumWaiting(), 1u);
  clock_.Advance(absl::Milliseconds(40));
  EXPECT_EQ(controller_.queue().Len(), 1u);
  handler->OnDelete(child(3));  // pending: nothing more
  EXPECT_EQ(controller_.queue().NumWaiting(), 0u);
  controller_.Start();
  ASSERT_TRUE(reconciler_.WaitForCalls(1));
  EXPECT_TRUE(controller_.Stop(absl::InfiniteDuration()));
  EXPECT_THAT(reconciler_.calls(), ElementsAre("ns/flow"));
}

}  // namespace
}  // namespace weir::runtime
