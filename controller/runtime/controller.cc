#include "runtime/controller.h"

#include <exception>
#include <utility>

#include "absl/strings/str_cat.h"

namespace weir::runtime {

std::string Request::Key() const { return ns.empty() ? name : absl::StrCat(ns, "/", name); }

Request Request::FromKey(absl::string_view key) {
  const size_t slash = key.find('/');
  if (slash == absl::string_view::npos) return Request{"", std::string(key)};
  return Request{std::string(key.substr(0, slash)), std::string(key.substr(slash + 1))};
}

namespace internal {
void ThrowInvariant(const char* file, int line, const char* cond, absl::string_view msg) {
  throw InvariantViolation(absl::StrCat(file, ":", line, ": invariant `", cond, "` failed: ", msg));
}
}  // namespace internal

namespace {

class RegistryWorkQueueMetrics final : public WorkQueueMetrics {
 public:
  RegistryWorkQueueMetrics(MetricsRegistry& r, const std::string& name)
      : depth_(r.AddGauge("weir_workqueue_depth", "Current depth of the work queue.", {"name"})
                   .WithLabelValues({name})),
        adds_(r.AddCounter("weir_workqueue_adds_total", "Total adds handled by the work queue.",
                           {"name"})
                  .WithLabelValues({name})),
        retries_(r.AddCounter("weir_workqueue_retries_total",
                              "Total rate-limited retries handled by the work queue.", {"name"})
                     .WithLabelValues({name})),
        wait_(r.AddHistogram("weir_workqueue_queue_duration_seconds",
                             "Seconds an item stays in the work queue before being requested.",
                             {"name"}, ExponentialBuckets(1e-6, 10, 8))
                  .WithLabelValues({name})),
        work_(r.AddHistogram("weir_workqueue_work_duration_seconds",
                             "Seconds processing an item from the work queue takes.", {"name"},
                             ExponentialBuckets(1e-6, 10, 8))
                  .WithLabelValues({name})) {}

  void SetDepth(int64_t d) override { depth_.Set(static_cast<double>(d)); }
  void IncAdds() override { adds_.Inc(); }
  void IncRetries() override { retries_.Inc(); }
  void ObserveQueueWait(absl::Duration d) override { wait_.Observe(absl::ToDoubleSeconds(d)); }
  void ObserveWork(absl::Duration d) override { work_.Observe(absl::ToDoubleSeconds(d)); }

 private:
  Gauge& depth_;
  Counter& adds_;
  Counter& retries_;
  Histogram& wait_;
  Histogram& work_;
};

WorkQueueOptions QueueOptions(ControllerOptions& o, WorkQueueMetrics* metrics) {
  WorkQueueOptions q;
  q.clock = o.clock;
  q.rate_limiter = std::move(o.rate_limiter);
  q.metrics = metrics;
  return q;
}

Logger DefaultLogger(const ControllerOptions& o) {
  if (o.logger != nullptr) return *o.logger;
  Logger::Options lo;
  lo.clock = o.clock;
  return Logger(lo);
}

}  // namespace

std::unique_ptr<WorkQueueMetrics> NewWorkQueueMetrics(MetricsRegistry& registry,
                                                      const std::string& queue_name) {
  return std::make_unique<RegistryWorkQueueMetrics>(registry, queue_name);
}

struct Controller::Metrics {
  Metrics(MetricsRegistry& r, const std::string& name) {
    CounterFamily& total =
        r.AddCounter("weir_reconcile_total", "Total reconciles per controller by result.",
                     {"controller", "result"});
    success = &total.WithLabelValues({name, "success"});
    error = &total.WithLabelValues({name, "error"});
    requeue = &total.WithLabelValues({name, "requeue"});
    requeue_after = &total.WithLabelValues({name, "requeue_after"});
    errors = &r.AddCounter("weir_reconcile_errors_total",
                           "Total reconciles that returned an error or threw.", {"controller"})
                  .WithLabelValues({name});
    exceptions = &r.AddCounter("weir_reconcile_exceptions_total",
                               "Total reconciles that threw an exception.", {"controller"})
                      .WithLabelValues({name});
    duration = &r.AddHistogram("weir_reconcile_time_seconds",
                               "Seconds per reconcile, per controller.", {"controller"},
                               {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60})
                    .WithLabelValues({name});
    active = &r.AddGauge("weir_controller_active_workers", "Workers currently running a reconcile.",
                         {"controller"})
                  .WithLabelValues({name});
    max_workers =
        &r.AddGauge("weir_controller_max_workers", "Configured number of workers.", {"controller"})
             .WithLabelValues({name});
  }
  Counter* success;
  Counter* error;
  Counter* requeue;
  Counter* requeue_after;
  Counter* errors;
  Counter* exceptions;
  Histogram* duration;
  Gauge* active;
  Gauge* max_workers;
};

Controller::Controller(ControllerOptions options, Reconciler& reconciler)
    : name_(options.name),
      num_workers_(options.workers < 1 ? 1 : options.workers),
      clock_(options.clock != nullptr ? *options.clock : RealClock::Get()),
      reconciler_(reconciler),
      log_(DefaultLogger(options).With({{"controller", options.name}})),
      metrics_(options.metrics != nullptr ? std::make_unique<Metrics>(*options.metrics, name_)
                                          : nullptr),
      queue_metrics_(options.metrics != nullptr ? NewWorkQueueMetrics(*options.metrics, name_)
                                                : nullptr),
      queue_(QueueOptions(options, queue_metrics_.get())) {
  if (metrics_ != nullptr) metrics_->max_workers->Set(num_workers_);
}

Controller::~Controller() { Stop(absl::InfiniteDuration()); }

void Controller::Start() {
  log_.Info("starting workers", {{"workers", num_workers_}});
  for (int i = 0; i < num_workers_; ++i) workers_.emplace_back([this] { Work(); });
}

bool Controller::Stop(absl::Duration grace) {
  queue_.ShutDown();  // no new work from here on
  const absl::Time deadline =
      grace == absl::InfiniteDuration() ? absl::InfiniteFuture() : clock_.Now() + grace;
  if (!queue_.ShutDownWithDrain(deadline)) {
    log_.Error("reconciles still running after the grace period",
               {{"grace", grace}, {"running", queue_.NumProcessing()}});
    return false;
  }
  // Drained: every worker is at most finishing Done() and will see
  // shutdown on its next Get().
  for (std::thread& t : workers_) {
    if (t.joinable()) t.join();
  }
  workers_.clear();
  return true;
}

void Controller::Work() {
  while (true) {
    WorkQueue::Item item = queue_.Get();
    if (item.shutdown) return;
    ProcessOne(item.key);
    queue_.Done(item.key);
  }
}

void Controller::ProcessOne(const std::string& key) {
  const Request request = Request::FromKey(key);
  if (metrics_ != nullptr) metrics_->active->Inc();
  const absl::Time start = clock_.Now();
  absl::StatusOr<Result> result;
  std::string thrown;
  bool threw = false;
  try {
    result = reconciler_.Reconcile(request);
  } catch (const std::exception& e) {
    threw = true;
    thrown = e.what();
  } catch (...) {
    threw = true;
    thrown = "non-standard exception";
  }
  const absl::Duration took = clock_.Now() - start;
  if (metrics_ != nullptr) {
    metrics_->active->Dec();
    metrics_->duration->Observe(absl::ToDoubleSeconds(took));
  }

  if (threw || !result.ok()) {
    // A write that met a newer version (409 Conflict) is retried once the
    // cache has the newer version, which its watch event brings (and which
    // re-adds the key at once); this is the fallback. It does not grow the
    // key's backoff: a burst of conflicts from a lagging cache would otherwise
    // leave the key waiting for minutes (found by the fault suite).
    const bool conflict = !threw && absl::IsAborted(result.status());
    if (conflict) {
      queue_.Forget(key);
      queue_.AddAfter(key, kConflictRetry);
    } else {
      queue_.AddRateLimited(key);
    }
    if (metrics_ != nullptr) {
      metrics_->error->Inc();
      metrics_->errors->Inc();
      if (threw) metrics_->exceptions->Inc();
    }
    if (threw) {
      log_.Error("reconcile threw an exception; retrying with backoff",
                 {{"key", key}, {"exception", thrown}, {"requeues", queue_.NumRequeues(key)}});
    } else if (conflict) {
      // Not an error anyone must act on.
      log_.Info("reconcile met a newer version; retrying",
                {{"key", key}, {"error", result.status()}, {"after", kConflictRetry}});
    } else {
      log_.Error("reconcile failed; retrying with backoff",
                 {{"key", key}, {"error", result.status()}, {"requeues", queue_.NumRequeues(key)}});
    }
    return;
  }
  if (result->requeue_after > absl::ZeroDuration()) {
    queue_.Forget(key);
    queue_.AddAfter(key, result->requeue_after);
    if (metrics_ != nullptr) metrics_->requeue_after->Inc();
    log_.Debug("reconciled; requeue after",
               {{"key", key}, {"took", took}, {"after", result->requeue_after}});
  } else if (result->requeue) {
    queue_.AddRateLimited(key);
    if (metrics_ != nullptr) metrics_->requeue->Inc();
    log_.Debug("reconciled; requeue", {{"key", key}, {"took", took}});
  } else {
    queue_.Forget(key);
    if (metrics_ != nullptr) metrics_->success->Inc();
    log_.Debug("reconciled", {{"key", key}, {"took", took}});
  }
}

}  // namespace weir::runtime
