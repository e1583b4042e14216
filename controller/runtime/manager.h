// Manager: owns and runs everything a controller process needs (the
// controller-runtime manager, in our own C++): the metrics registry (with
// process metrics), the logger, the informer factory, the event recorder, the
// /metrics /healthz /readyz server(s), optional leader election on a Lease and
// any number of Controllers.
//
//   ApiRequestMetrics api_metrics;  // before the client: it observes it
//   auto client = kube::HttpClient::New(config, {.observer = &api_metrics});
//   ManagerOptions o;
//   o.request_metrics = &api_metrics;
//   o.leader_election.enabled = true; ... lease name/namespace ...
//   auto mgr = Manager::New(client->get(), std::move(o));
//   Controller& c = (*mgr)->AddController("batch", reconciler, 4);
//   (*mgr)->informers().For(kube::resources::Jobs())
//       .AddEventHandler(EnqueueObjectHandler(c));
//   auto signals = InstallSignalHandlers(**mgr);
//   absl::Status s = (*mgr)->Run();  // blocks until stopped
//   return s.ok() ? 0 : 1;
//
// Run():
//   1. Starts the health/metrics server(s) (a bind failure is returned).
//   2. Starts the informers and waits until every cache has synced (at most
//      `cache_sync_timeout`, else DeadlineExceeded). /readyz reports ok only
//      from then on ("informers-synced" check).
//   3. Without leader election: starts the controllers. With it: campaigns
//      for the Lease and starts the controllers only once leading. When the
//      lease is lost, every controller stops taking work AT ONCE (from the
//      elector's watchdog, even while an API call hangs); Run then shuts down
//      as in 4 and returns Aborted, so the process exits non-zero and is
//      restarted (as controller-runtime does).
//   4. On Stop() (e.g. SIGTERM via InstallSignalHandlers): no controller
//      takes new work; running reconciles may finish until
//      `graceful_shutdown_timeout` after the stop request (on the clock);
//      then the Lease is released (only if every reconcile finished: a
//      reconcile still running must not overlap with a new leader), the
//      informers, event recorder and servers stop. Returns OK, or
//      DeadlineExceeded if reconciles were still running at the deadline.
//
// Metrics (besides the controllers' and queues', see controller.h):
//   weir_api_requests_total{verb,code,resource} and
//   weir_api_request_duration_seconds{verb,resource} (ApiRequestMetrics),
//   weir_watch_restarts_total{resource,reason} and
//   weir_reflector_lists_total{resource,result} (reflectors),
//   weir_leader{identity} 0/1 (with leader election), process_* metrics.
//
// Ownership: the client (and the ApiRequestMetrics, the clock) are not owned
// and must outlive the Manager; Reconcilers passed to AddController too.
// Everything else is owned; references returned stay valid for the
// Manager's lifetime.
// Thread-safety: all methods are safe for concurrent use. Run() may be called
// once. Stop() may be called at any time, from any thread (also before Run,
// which then returns at once), but not from a signal handler (use
// InstallSignalHandlers).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "kube/client.h"
#include "runtime/controller.h"
#include "runtime/event_recorder.h"
#include "runtime/health_server.h"
#include "runtime/informer.h"
#include "runtime/leader_election.h"
#include "runtime/log.h"
#include "runtime/metrics.h"
#include "runtime/reflector.h"

namespace weir::runtime {

// A kube::RequestObserver that counts API requests into a registry:
// weir_api_requests_total{verb,code,resource} (code "<error>" when no
// response arrived) and weir_api_request_duration_seconds{verb,resource}.
// Create it before the HttpClient (it goes in HttpClientOptions::observer);
// requests made before Bind() are not counted. The Manager binds it to its
// registry (ManagerOptions::request_metrics) and unbinds it when destroyed.
// Thread-safe; must outlive the client it observes.
class ApiRequestMetrics final : public kube::RequestObserver {
 public:
  ApiRequestMetrics() = default;
  explicit ApiRequestMetrics(MetricsRegistry& registry) { Bind(&registry); }
  ApiRequestMetrics(const ApiRequestMetrics&) = delete;
  ApiRequestMetrics& operator=(const ApiRequestMetrics&) = delete;

  // Registers the families on `registry` and counts into it from now on;
  // null stops counting. `registry` must stay alive until unbound.
  void Bind(MetricsRegistry* registry);
  void OnRequest(const kube::RequestRecord& record) override;

 private:
  mutable absl::Mutex mu_;
  CounterFamily* total_ ABSL_GUARDED_BY(mu_) = nullptr;
  HistogramFamily* duration_ ABSL_GUARDED_BY(mu_) = nullptr;
};

struct ManagerLeaderElection {
  bool enabled = false;
  std::string lease_namespace;
  std::string lease_name;
  // Unique per process; "" = "<hostname>_<random hex>".
  std::string identity;
  absl::Duration lease_duration = absl::Seconds(15);
  absl::Duration renew_deadline = absl::Seconds(10);
  absl::Duration retry_period = absl::Seconds(2);
};

struct ManagerOptions {
  Clock* clock = nullptr;  // null: RealClock; not owned
  Logger logger;
  // Default namespace the informers watch; "" = all.
  std::string ns;
  // "host:port" or ":port" (all interfaces). "" or "0" disables. When both
  // are equal one server serves /metrics, /healthz and /readyz; otherwise
  // the metrics server serves /metrics and the health server /healthz and
  // /readyz (each also answers the other probes; only the metrics server
  // serves /metrics).
  std::string metrics_bind_address = ":8080";
  std::string health_bind_address = ":8081";
  absl::Duration cache_sync_timeout = absl::Minutes(2);
  // How often a stop request is noticed while waiting for caches (the sync
  // itself is noticed at once).
  absl::Duration cache_sync_poll = absl::Milliseconds(100);
  // Running reconciles may finish until this long after the stop request.
  absl::Duration graceful_shutdown_timeout = absl::Seconds(30);
  // Pending events are written for at most this long during shutdown.
  absl::Duration event_drain_timeout = absl::Seconds(5);
  ManagerLeaderElection leader_election;
  // Component and host of recorded events (clock and logger are the
  // manager's).
  std::string event_component = "weir-controller";
  // Adds process_* metrics.
  bool process_metrics = true;
  // Bound to the manager's registry for its lifetime. Optional; not owned.
  ApiRequestMetrics* request_metrics = nullptr;
};

// A snapshot of what the manager is doing (for tests and diagnostics).
struct ManagerState {
  bool running = false;              // inside Run()
  bool caches_synced = false;        // /readyz is ok
  bool leading = false;              // holds the Lease (leader election only)
  bool controllers_started = false;  // workers were started
  bool lost_leadership = false;      // the Lease was lost while running
  bool stop_requested = false;
  bool done = false;  // Run() returned
};

// Parses "host:port" / ":port" (host "0.0.0.0"); port 1..65535.
absl::Status ParseBindAddress(absl::string_view address, std::string* host, int* port);

class Manager {
 public:
  // Fails with InvalidArgument for a bad bind address or leader election
  // config. REQUIRES: client non-null.
  static absl::StatusOr<std::unique_ptr<Manager>> New(kube::Client* client, ManagerOptions options);
  // Stops (as Stop() with the configured grace) and waits for Run() to
  // return if it is running on another thread.
  ~Manager();
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  kube::Client& client() { return *client_; }
  MetricsRegistry& metrics() { return registry_; }
  const Logger& logger() const { return logger_; }
  Clock& clock() { return *clock_; }
  InformerFactory& informers() { return *informers_; }
  EventRecorder& event_recorder() { return *events_; }

  // Adds a controller named `name` (metrics label; must be unique) with
  // `workers` workers over `reconciler`. Wire informer handlers to its
  // Enqueue. Controllers added while Run() is already reconciling start at
  // once. REQUIRES: before Stop(); `reconciler` outlives the manager.
  Controller& AddController(const std::string& name, Reconciler& reconciler, int workers = 1);
  // Same, with full options (name, workers, rate limiter; the clock,
  // registry and logger are the manager's).
  Controller& AddController(ControllerOptions options, Reconciler& reconciler);

  // Runs until Stop() or a fatal condition; see the file comment. Call once.
  absl::Status Run();
  // Run() that also stops when `token` is stop-requested.
  absl::Status Run(std::stop_token token);
  // Requests an orderly stop: from its return on, no controller hands out
  // new work; Run() drains and shuts down. Returns at once. Idempotent.
  void Stop();

  ManagerState state() const;
  // Blocks until `pred(state())` holds or `timeout` passed on the clock.
  bool WaitFor(const std::function<bool(const ManagerState&)>& pred,
               absl::Duration timeout = absl::InfiniteDuration()) const;

  // The Lease identity ("" without leader election).
  std::string identity() const;
  // "http://host:port" of the metrics and health servers ("" if disabled).
  std::string MetricsUrl() const;
  std::string HealthUrl() const;

 private:
  Manager(kube::Client* client, ManagerOptions options);
  absl::Status Init();

  absl::Status StartServers();
  void StopServers();
  // Waits for the caches; OK, Cancelled (stop requested) or DeadlineExceeded.
  absl::Status WaitForCaches();
  // Starts every controller not yet started. REQUIRES: mu_ held.
  void StartControllersLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Stops reconciling, drains, releases the Lease, stops the rest.
  absl::Status Shutdown(absl::Status result);
  void OnStartedLeading();
  void OnStoppedLeading();

  kube::Client* const client_;
  ManagerOptions options_;
  Clock* const clock_;
  const Logger logger_;
  MetricsRegistry registry_;
  std::unique_ptr<ReflectorMetrics> reflector_metrics_;
  std::unique_ptr<InformerFactory> informers_;
  std::unique_ptr<EventRecorder> events_;
  std::unique_ptr<LeaderElector> elector_;  // null without leader election
  Gauge* leader_gauge_ = nullptr;
  std::string identity_;
  std::string metrics_host_, health_host_;
  int metrics_port_ = 0, health_port_ = 0;
  std::unique_ptr<HealthServer> metrics_server_;  // may also be the health server
  std::unique_ptr<HealthServer> health_server_;   // null when shared or disabled
  bool initialized_ = false;                      // Init() succeeded

  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<Controller>> controllers_ ABSL_GUARDED_BY(mu_);
  size_t started_controllers_ ABSL_GUARDED_BY(mu_) = 0;
  ManagerState state_ ABSL_GUARDED_BY(mu_);
  bool run_called_ ABSL_GUARDED_BY(mu_) = false;
  bool acquired_lease_ ABSL_GUARDED_BY(mu_) = false;  // ever led
  // When Stop() was first called (the grace counts from here).
  absl::Time stop_time_ ABSL_GUARDED_BY(mu_);
};

// An informer handler that enqueues "namespace/name" of every added, updated
// or deleted object into `controller` (which must outlive the informer),
// `delay` later (see EnqueueOwnerHandler).
std::shared_ptr<ResourceEventHandler> EnqueueObjectHandler(
    Controller& controller, absl::Duration delay = absl::ZeroDuration());

// The key of the object that owns `child`, or nullopt if it has none.
using OwnerKeyFunc = std::function<std::optional<std::string>(const nlohmann::json& child)>;

// An informer handler for children (Jobs, pods): enqueues the owner key of
// every added, updated or deleted child into `controller`, `delay` later
// (at once if <= 0). A child changes several times within moments (created,
// scheduled, running, ended, the job controller's bookkeeping); the changes
// of `delay` make one reconcile instead of one each (WorkQueue::AddAfter: the
// earlier time wins, and a pending key is not added again).
std::shared_ptr<ResourceEventHandler> EnqueueOwnerHandler(Controller& controller,
                                                          OwnerKeyFunc owner_key,
                                                          absl::Duration delay);

// Turns SIGTERM and SIGINT into a call of `on_signal(signo)` on a helper
// thread (the signal handler itself only writes a byte to a self-pipe). With
// `exit_on_second_signal`, a second signal ends the process at once with
// _exit(1) (for an operator who does not want to wait for the drain). Destroying the handle
// restores the previous dispositions and joins the thread. At most one installation at a time
// (FailedPrecondition otherwise).
class SignalHandlers {
 public:
  ~SignalHandlers();
  SignalHandlers(const SignalHandlers&) = delete;
  SignalHandlers& operator=(const SignalHandlers&) = delete;

  // Number of signals received so far.
  int received() const { return received_.load(); }

 private:
  friend absl::StatusOr<std::unique_ptr<SignalHandlers>> InstallSignalHandlers(
      std::function<void(int)>, bool);
  SignalHandlers() = default;
  void Loop();

  std::function<void(int)> on_signal_;
  int read_fd_ = -1;
  int write_fd_ = -1;
  std::atomic<int> received_{0};
  std::thread thread_;
};

absl::StatusOr<std::unique_ptr<SignalHandlers>> InstallSignalHandlers(
    std::function<void(int signo)> on_signal, bool exit_on_second_signal = true);
// The usual case: the first SIGTERM/SIGINT calls manager.Stop().
absl::StatusOr<std::unique_ptr<SignalHandlers>> InstallSignalHandlers(Manager& manager);

}  // namespace weir::runtime
