#include "runtime/manager.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"

namespace weir::runtime {

// ---- ApiRequestMetrics -----------------------------------------------------

void ApiRequestMetrics::Bind(MetricsRegistry* registry) {
  CounterFamily* total = nullptr;
  HistogramFamily* duration = nullptr;
  if (registry != nullptr) {
    total = &registry->AddCounter("weir_api_requests_total",
                                  "Kubernetes API requests by verb, HTTP code and resource.",
                                  {"verb", "code", "resource"});
    duration = &registry->AddHistogram(
        "weir_api_request_duration_seconds",
        "Latency of Kubernetes API requests (to the response headers for watches).",
        {"verb", "resource"}, ExponentialBuckets(0.001, 2, 15));
  }
  absl::MutexLock l(&mu_);
  total_ = total;
  duration_ = duration;
}

void ApiRequestMetrics::OnRequest(const kube::RequestRecord& record) {
  const std::string verb(record.verb);
  const std::string resource = record.resource != nullptr ? record.resource->ToString() : "";
  const std::string code = record.code == 0 ? "<error>" : absl::StrCat(record.code);
  absl::ReaderMutexLock l(&mu_);
  if (total_ == nullptr) return;
  total_->WithLabelValues({verb, code, resource}).Inc();
  duration_->WithLabelValues({verb, resource}).Observe(absl::ToDoubleSeconds(record.latency));
}

// ---- Addresses -------------------------------------------------------------

namespace {

bool Disabled(absl::string_view address) { return address.empty() || address == "0"; }

std::string DefaultIdentity() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') {
    std::snprintf(host, sizeof(host), "weir");
  }
  absl::BitGen rng;
  return absl::StrFormat("%s_%08x", host, absl::Uniform<uint32_t>(rng));
}

}  // namespace

absl::Status ParseBindAddress(absl::string_view address, std::string* host, int* port) {
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("bind address \"", address, "\" is not host:port or :port"));
  }
  absl::string_view h = address.substr(0, colon);
  if (absl::ConsumePrefix(&h, "[")) {
    if (!absl::ConsumeSuffix(&h, "]")) {
      return absl::InvalidArgumentError(absl::StrCat("bad bind address \"", address, "\""));
    }
  }
  int p = 0;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &p) || p < 1 || p > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("bind address \"", address, "\" needs a port in 1..65535"));
  }
  *host = h.empty() ? "0.0.0.0" : std::string(h);
  *port = p;
  return absl::OkStatus();
}

// ---- Manager ---------------------------------------------------------------

absl::StatusOr<std::unique_ptr<Manager>> Manager::New(kube::Client* client,
                                                      ManagerOptions options) {
  std::unique_ptr<Manager> m(new Manager(client, std::move(options)));
  if (absl::Status s = m->Init(); !s.ok()) return s;
  return m;
}

Manager::Manager(kube::Client* client, ManagerOptions options)
    : client_(client),
      options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : &RealClock::Get()),
      logger_(options_.logger.With({{"component", "manager"}})) {}

absl::Status Manager::Init() {
  const bool metrics_on = !Disabled(options_.metrics_bind_address);
  const bool health_on = !Disabled(options_.health_bind_address);
  if (metrics_on) {
    if (absl::Status s =
            ParseBindAddress(options_.metrics_bind_address, &metrics_host_, &metrics_port_);
        !s.ok()) {
      return s;
    }
  }
  if (health_on) {
    if (absl::Status s =
            ParseBindAddress(options_.health_bind_address, &health_host_, &health_port_);
        !s.ok()) {
      return s;
    }
  }

  const ManagerLeaderElection& le = options_.leader_election;
  LeaderElectionConfig config;
  if (le.enabled) {
    identity_ = le.identity.empty() ? DefaultIdentity() : le.identity;
    config.lease_namespace = le.lease_namespace;
    config.lease_name = le.lease_name;
    config.identity = identity_;
    config.lease_duration = le.lease_duration;
    config.renew_deadline = le.renew_deadline;
    config.retry_period = le.retry_period;
    // Released by Shutdown() only once every reconcile has finished.
    config.release_on_stop = false;
    config.clock = clock_;
    config.logger = options_.logger.With({{"component", "leader-election"}});
    config.on_started_leading = [this] { OnStartedLeading(); };
    config.on_stopped_leading = [this] { OnStoppedLeading(); };
    if (absl::Status s = ValidateLeaderElectionConfig(config); !s.ok()) return s;
  }

  if (options_.process_metrics) registry_.AddCollector(std::make_unique<ProcessCollector>());
  reflector_metrics_ = NewReflectorMetrics(registry_);
  informers_ = std::make_unique<InformerFactory>(
      client_, InformerFactory::Options{.clock = clock_,
                                        .ns = options_.ns,
                                        .metrics = reflector_metrics_.get(),
                                        .logger = options_.logger});
  EventRecorderOptions events;
  events.component = options_.event_component;
  events.clock = clock_;
  events.logger = options_.logger.With({{"component", "events"}});
  events_ = std::make_unique<EventRecorder>(client_, std::move(events));

  if (le.enabled) {
    leader_gauge_ =
        &registry_
             .AddGauge("weir_leader", "1 while this process holds the leader election Lease.",
                       {"identity"})
             .WithLabelValues({identity_});
    leader_gauge_->Set(0);
    absl::StatusOr<std::unique_ptr<LeaderElector>> elector =
        LeaderElector::New(client_, std::move(config));
    if (!elector.ok()) return elector.status();
    elector_ = *std::move(elector);
  }

  auto synced = [this] {
    absl::MutexLock l(&mu_);
    return state_.caches_synced;
  };
  const bool shared =
      metrics_on && health_on && metrics_host_ == health_host_ && metrics_port_ == health_port_;
  if (metrics_on) {
    metrics_server_ = std::make_unique<HealthServer>(
        HealthServerOptions{.host = metrics_host_, .port = metrics_port_, .metrics = &registry_});
    metrics_server_->AddReadinessCheck("informers-synced", synced);
  }
  if (health_on && !shared) {
    health_server_ = std::make_unique<HealthServer>(
        HealthServerOptions{.host = health_host_, .port = health_port_, .metrics = nullptr});
    health_server_->AddReadinessCheck("informers-synced", synced);
  }
  if (options_.request_metrics != nullptr) options_.request_metrics->Bind(&registry_);
  initialized_ = true;
  return absl::OkStatus();
}

Manager::~Manager() {
  Stop();
  WaitFor([](const ManagerState& s) { return !s.running; });
  // Handlers enqueue into controllers: stop every source of calls into them
  // before the members go.
  // (Members may be null when Init() failed.)
  if (informers_ != nullptr) informers_->Stop();
  if (elector_ != nullptr) elector_->Stop();
  if (events_ != nullptr) events_->Shutdown(absl::ZeroDuration());
  if (initialized_ && options_.request_metrics != nullptr) {
    options_.request_metrics->Bind(nullptr);
  }
  StopServers();
  absl::MutexLock l(&mu_);
  for (auto& c : controllers_) c->queue().ShutDown();
}

Controller& Manager::AddController(const std::string& name, Reconciler& reconciler, int workers) {
  ControllerOptions options;
  options.name = name;
  options.workers = workers;
  return AddController(std::move(options), reconciler);
}

Controller& Manager::AddController(ControllerOptions options, Reconciler& reconciler) {
  options.clock = clock_;
  options.metrics = &registry_;
  options.logger = &options_.logger;
  auto controller = std::make_unique<Controller>(std::move(options), reconciler);
  Controller& ref = *controller;
  absl::MutexLock l(&mu_);
  controllers_.push_back(std::move(controller));
  if (state_.controllers_started) {
    StartControllersLocked();
  } else if (state_.stop_requested || state_.lost_leadership) {
    ref.queue().ShutDown();
  }
  return ref;
}

void Manager::StartControllersLocked() {
  if (state_.stop_requested || state_.lost_leadership) return;
  for (; started_controllers_ < controllers_.size(); ++started_controllers_) {
    controllers_[started_controllers_]->Start();
  }
  state_.controllers_started = true;
}

void Manager::Stop() {
  absl::MutexLock l(&mu_);
  if (state_.stop_requested) return;
  state_.stop_requested = true;
  stop_time_ = clock_->Now();
  // No controller takes new work from now on; Run() drains the rest.
  for (auto& c : controllers_) c->queue().ShutDown();
}

ManagerState Manager::state() const {
  absl::MutexLock l(&mu_);
  return state_;
}

bool Manager::WaitFor(const std::function<bool(const ManagerState&)>& pred,
                      absl::Duration timeout) const {
  auto holds = [this, &pred]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return pred(state_); };
  absl::MutexLock l(&mu_);
  if (timeout == absl::InfiniteDuration()) {
    // Not a clock waiter: keeps FakeClock::WaitForWaiters counts to the
    // threads that wait for time.
    mu_.Await(absl::Condition(&holds));
    return true;
  }
  return clock_->AwaitWithDeadline(mu_, absl::Condition(&holds), clock_->Now() + timeout);
}

std::string Manager::identity() const { return identity_; }

std::string Manager::MetricsUrl() const {
  return metrics_server_ != nullptr ? metrics_server_->BaseUrl() : "";
}

std::string Manager::HealthUrl() const {
  if (health_server_ != nullptr) return health_server_->BaseUrl();
  if (metrics_server_ != nullptr && !Disabled(options_.health_bind_address)) {
    return metrics_server_->BaseUrl();  // shared
  }
  return "";
}

absl::Status Manager::StartServers() {
  for (HealthServer* server : {metrics_server_.get(), health_server_.get()}) {
    if (server == nullptr) continue;
    if (absl::Status s = server->Start(); !s.ok()) return s;
    logger_.Info("serving",
                 {{"url", server->BaseUrl()}, {"metrics", server == metrics_server_.get()}});
  }
  return absl::OkStatus();
}

void Manager::StopServers() {
  if (metrics_server_ != nullptr) metrics_server_->Stop();
  if (health_server_ != nullptr) health_server_->Stop();
}

absl::Status Manager::WaitForCaches() {
  const absl::Time deadline = clock_->Now() + options_.cache_sync_timeout;
  const absl::Duration poll = options_.cache_sync_poll > absl::ZeroDuration()
                                  ? options_.cache_sync_poll
                                  : absl::Milliseconds(100);
  while (true) {
    {
      absl::MutexLock l(&mu_);
      if (state_.stop_requested) return absl::CancelledError("stop requested");
    }
    const absl::Time now = clock_->Now();
    if (now >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "caches did not sync within ", absl::FormatDuration(options_.cache_sync_timeout)));
    }
    // Returns as soon as every informer synced; otherwise after `poll`, so a
    // stop request is noticed.
    if (informers_->WaitForCacheSync(std::min(poll, deadline - now))) return absl::OkStatus();
  }
}

absl::Status Manager::Run(std::stop_token token) {
  std::stop_callback on_stop(token, [this] { Stop(); });
  return Run();
}

absl::Status Manager::Run() {
  {
    absl::MutexLock l(&mu_);
    if (run_called_) return absl::FailedPreconditionError("Manager::Run called twice");
    run_called_ = true;
    state_.running = true;
  }
  int64_t num_controllers;
  {
    absl::MutexLock l(&mu_);
    num_controllers = static_cast<int64_t>(controllers_.size());
  }
  logger_.Info("starting",
               {{"leader_election", elector_ != nullptr}, {"controllers", num_controllers}});
  if (absl::Status s = StartServers(); !s.ok()) {
    logger_.Error("cannot serve metrics/health", {{"error", s}});
    return Shutdown(s);
  }
  informers_->Start();
  if (absl::Status s = WaitForCaches(); !s.ok()) {
    if (absl::IsCancelled(s)) return Shutdown(absl::OkStatus());
    logger_.Error("caches did not sync", {{"error", s}});
    return Shutdown(s);
  }
  {
    absl::MutexLock l(&mu_);
    state_.caches_synced = true;
  }
  logger_.Info("caches synced");

  if (elector_ != nullptr) {
    logger_.Info("waiting for leadership", {{"identity", identity_}});
    elector_->Start();
  } else {
    absl::MutexLock l(&mu_);
    StartControllersLocked();
  }

  bool lost;
  {
    absl::MutexLock l(&mu_);
    auto wake = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return state_.stop_requested || state_.lost_leadership;
    };
    mu_.Await(absl::Condition(&wake));  // no deadline: not a clock waiter
    lost = state_.lost_leadership;
  }
  if (lost) {
    logger_.Error("leader election lost; shutting down", {{"identity", identity_}});
    return Shutdown(absl::AbortedError("leader election lost"));
  }
  logger_.Info("stop requested; shutting down", {{"grace", options_.graceful_shutdown_timeout}});
  return Shutdown(absl::OkStatus());
}

void Manager::OnStartedLeading() {
  absl::MutexLock l(&mu_);
  state_.leading = true;
  acquired_lease_ = true;
  leader_gauge_->Set(1);
  StartControllersLocked();
}

void Manager::OnStoppedLeading() {
  absl::MutexLock l(&mu_);
  state_.leading = false;
  leader_gauge_->Set(0);
  if (!state_.stop_requested) state_.lost_leadership = true;
  // Stop taking work at once, even while the elector's API call hangs;
  // running reconciles end on their own and Shutdown() drains them.
  for (auto& c : controllers_) c->queue().ShutDown();
}

absl::Status Manager::Shutdown(absl::Status result) {
  std::vector<Controller*> controllers;
  absl::Time deadline;
  {
    absl::MutexLock l(&mu_);
    if (!state_.stop_requested) {
      // Leadership lost or a start-up failure: nothing more may start.
      state_.stop_requested = true;
      stop_time_ = clock_->Now();
    }
    deadline = stop_time_ + options_.graceful_shutdown_timeout;
    for (auto& c : controllers_) controllers.push_back(c.get());
  }
  // No controller takes new work from here on, then running reconciles may
  // finish until the deadline.
  for (Controller* c : controllers) c->queue().ShutDown();
  bool drained = true;
  for (Controller* c : controllers) {
    drained = c->Stop(std::max(absl::ZeroDuration(), deadline - clock_->Now())) && drained;
  }
  if (elector_ != nullptr) {
    elector_->Stop();  // no leadership callbacks after this
    bool led;
    {
      absl::MutexLock l(&mu_);
      led = acquired_lease_;
    }
    if (!led) {
      // Never held it: nothing to release.
    } else if (drained) {
      if (absl::Status s = elector_->Release(); !s.ok()) {
        logger_.Warning("releasing the lease failed; it will expire", {{"error", s}});
      } else {
        logger_.Info("lease released", {{"identity", identity_}});
      }
    } else {
      logger_.Warning("reconciles still running: lease not released, it will expire",
                      {{"identity", identity_}});
    }
  }
  informers_->Stop();
  events_->Shutdown(options_.event_drain_timeout);
  StopServers();
  if (!drained && result.ok()) {
    result = absl::DeadlineExceededError(absl::StrCat(
        "reconciles still running ", absl::FormatDuration(options_.graceful_shutdown_timeout),
        " after the stop request"));
  }
  if (result.ok()) {
    logger_.Info("stopped");
  } else {
    logger_.Error("stopped", {{"error", result}});
  }
  absl::MutexLock l(&mu_);
  state_.running = false;
  state_.done = true;
  return result;
}

// ---- EnqueueOwnerHandler, EnqueueObjectHandler -----------------------------

std::shared_ptr<ResourceEventHandler> EnqueueOwnerHandler(Controller& controller,
                                                          OwnerKeyFunc owner_key,
                                                          absl::Duration delay) {
  auto handler = std::make_shared<EventHandlerFuncs>();
  auto enqueue = [&controller, owner_key = std::move(owner_key), delay](const ObjectPtr& child) {
    if (child == nullptr) return;
    if (std::optional<std::string> key = owner_key(*child)) {
      controller.EnqueueKeyAfter(*key, delay);
    }
  };
  handler->on_add = enqueue;
  handler->on_update = [enqueue](const ObjectPtr&, const ObjectPtr& child) { enqueue(child); };
  handler->on_delete = enqueue;
  return handler;
}

std::shared_ptr<ResourceEventHandler> EnqueueObjectHandler(Controller& controller,
                                                           absl::Duration delay) {
  return EnqueueOwnerHandler(
      controller,
      [](const nlohmann::json& object) -> std::optional<std::string> {
        return Request{kube::MetadataString(object, "namespace"),
                       kube::MetadataString(object, "name")}
            .Key();
      },
      delay);
}

// ---- Signals ---------------------------------------------------------------

namespace {

// Shared with the async signal handler: lock-free atomics only.
std::atomic<int> g_signal_write_fd{-1};
std::atomic<int> g_signal_count{0};
std::atomic<bool> g_exit_on_second{false};
std::atomic<bool> g_installed{false};
static_assert(std::atomic<int>::is_always_lock_free);
static_assert(std::atomic<bool>::is_always_lock_free);

struct sigaction g_old_term;
struct sigaction g_old_int;

extern "C" void WeirHandleStopSignal(int signo) {
  const int saved_errno = errno;
  if (g_signal_count.fetch_add(1) >= 1 && g_exit_on_second.load()) _exit(1);
  const int fd = g_signal_write_fd.load();
  if (fd >= 0) {
    const unsigned char byte = static_cast<unsigned char>(signo);
    (void)!write(fd, &byte, 1);
  }
  errno = saved_errno;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SignalHandlers>> InstallSignalHandlers(
    std::function<void(int)> on_signal, bool exit_on_second_signal) {
  bool expected = false;
  if (!g_installed.compare_exchange_strong(expected, true)) {
    return absl::FailedPreconditionError("signal handlers are already installed");
  }
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    g_installed = false;
    return absl::InternalError(absl::StrCat("pipe2: ", strerror(errno)));
  }
  // The handler must never block on a full pipe.
  fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK);

  std::unique_ptr<SignalHandlers> h(new SignalHandlers());
  h->on_signal_ = std::move(on_signal);
  h->read_fd_ = fds[0];
  h->write_fd_ = fds[1];
  g_signal_count = 0;
  g_exit_on_second = exit_on_second_signal;
  g_signal_write_fd = fds[1];

  struct sigaction sa = {};
  sa.sa_handler = WeirHandleStopSignal;
  sigfillset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &sa, &g_old_term);
  sigaction(SIGINT, &sa, &g_old_int);
  h->thread_ = std::thread([raw = h.get()] { raw->Loop(); });
  return h;
}

absl::StatusOr<std::unique_ptr<SignalHandlers>> InstallSignalHandlers(Manager& manager) {
  return InstallSignalHandlers(
      [&manager](int signo) {
        manager.logger().Info("signal received; stopping",
                              {{"signal", signo == SIGTERM ? "SIGTERM" : "SIGINT"}});
        manager.Stop();
      },
      /*exit_on_second_signal=*/true);
}

void SignalHandlers::Loop() {
  while (true) {
    unsigned char byte = 0;
    const ssize_t n = read(read_fd_, &byte, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || byte == 0) return;  // closed or the destructor's wake-up
    received_.fetch_add(1);
    on_signal_(byte);
  }
}

SignalHandlers::~SignalHandlers() {
  sigaction(SIGTERM, &g_old_term, nullptr);
  sigaction(SIGINT, &g_old_int, nullptr);
  g_signal_write_fd = -1;
  const unsigned char wake = 0;
  (void)!write(write_fd_, &wake, 1);
  if (thread_.joinable()) thread_.join();
  close(read_fd_);
  close(write_fd_);
  g_installed = false;
}

}  // namespace weir::runtime
