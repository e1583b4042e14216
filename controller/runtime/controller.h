// Controller runs N worker threads that take keys from a WorkQueue and call a
// Reconciler, turning each outcome into the next queue action:
//
//   outcome                      queue action               result label
//   error status                 AddRateLimited (backoff)   error
//   exception thrown             AddRateLimited (backoff)   error (+exceptions_total)
//   ok, requeue_after > 0        Forget, AddAfter(d)        requeue_after
//   ok, requeue                  AddRateLimited             requeue
//   ok                           Forget                     success
//
// An exception escaping Reconcile (including a failed WEIR_INVARIANT) is
// caught, logged and retried with backoff; it never ends the process.
//
// Stop(grace) stops handing out work at once, waits for running reconciles
// to finish until `grace` has passed on the clock, and joins the workers if
// they did. A reconcile still running after the grace is left to finish
// (threads cannot be killed); the caller should then exit, and the
// destructor blocks until the workers are done.
//
// Metrics (when a registry is given), labelled controller="<name>":
//   weir_reconcile_total{result}, weir_reconcile_errors_total,
//   weir_reconcile_exceptions_total, weir_reconcile_time_seconds (histogram),
//   weir_controller_active_workers, weir_controller_max_workers,
// and the queue's, labelled name="<name>": weir_workqueue_depth,
//   weir_workqueue_adds_total, weir_workqueue_retries_total,
//   weir_workqueue_queue_duration_seconds, weir_workqueue_work_duration_seconds.
//
// Thread-safety: Enqueue*/queue() may be called from any thread; Start and
// Stop from one owner thread. The Reconciler is called concurrently from
// `workers` threads, never twice at once for the same key.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "runtime/log.h"
#include "runtime/metrics.h"
#include "runtime/retry_backoff.h"
#include "runtime/work_queue.h"

namespace weir::runtime {

// Identifies the object to reconcile. The queue key is "namespace/name", or
// just "name" for cluster-scoped objects.
struct Request {
  std::string ns;
  std::string name;

  std::string Key() const;
  // Splits at the first '/'; a key without '/' is cluster-scoped.
  static Request FromKey(absl::string_view key);
  bool operator==(const Request& o) const = default;
};

// When a reconcile whose write met a newer version (409 Conflict) is tried
// again if no event brings the key back sooner.
inline constexpr absl::Duration kConflictRetry = absl::Milliseconds(500);

struct Result {
  // Process again after the rate limiter's backoff.
  bool requeue = false;
  // Process again after this long (takes precedence over `requeue`).
  absl::Duration requeue_after = absl::ZeroDuration();
};

// Converges the cluster towards the desired state of one object.
// Must be level-based: read the current state, act, return.
class Reconciler {
 public:
  virtual ~Reconciler() = default;
  virtual absl::StatusOr<Result> Reconcile(const Request& request) = 0;
};

// A broken internal invariant. Thrown by WEIR_INVARIANT; the controller
// treats it like an error of that one reconcile.
class InvariantViolation : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// Throws InvariantViolation("file:line: invariant `cond` failed: msg") when
// `cond` is false.
#define WEIR_INVARIANT(cond, msg)                                                  \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      ::weir::runtime::internal::ThrowInvariant(__FILE__, __LINE__, #cond, (msg)); \
    }                                                                              \
  } while (0)

namespace internal {
[[noreturn]] void ThrowInvariant(const char* file, int line, const char* cond,
                                 absl::string_view msg);
}  // namespace internal

// WorkQueueMetrics backed by a registry, labelled name="<queue_name>".
// The registry must outlive the returned object.
std::unique_ptr<WorkQueueMetrics> NewWorkQueueMetrics(MetricsRegistry& registry,
                                                      const std::string& queue_name);

struct ControllerOptions {
  // Used in metrics labels and log fields. REQUIRES: non-empty.
  std::string name;
  // REQUIRES: >= 1.
  int workers = 1;
  Clock* clock = nullptr;                     // RealClock if null; not owned
  std::unique_ptr<RateLimiter> rate_limiter;  // DefaultControllerRateLimiter if null
  MetricsRegistry* metrics = nullptr;         // optional; not owned
  const Logger* logger = nullptr;             // stderr text logger if null; not owned
};

class Controller {
 public:
  // `reconciler` (and the clock, registry, logger) must outlive the
  // controller.
  Controller(ControllerOptions options, Reconciler& reconciler);
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;
  // Stops with unlimited grace if still running.
  ~Controller();

  void Enqueue(const Request& request) { queue_.Add(request.Key()); }
  void EnqueueKey(absl::string_view key) { queue_.Add(key); }
  void EnqueueKeyAfter(absl::string_view key, absl::Duration delay) { queue_.AddAfter(key, delay); }
  WorkQueue& queue() { return queue_; }
  const std::string& name() const { return name_; }

  // Starts the workers. REQUIRES: called once, before Stop.
  void Start();
  // See the class comment. Returns true if every worker ended within
  // `grace`. Idempotent.
  bool Stop(absl::Duration grace);

 private:
  struct Metrics;
  void Work();
  void ProcessOne(const std::string& key);

  const std::string name_;
  const int num_workers_;
  Clock& clock_;
  Reconciler& reconciler_;
  Logger log_;
  std::unique_ptr<Metrics> metrics_;  // null without a registry
  std::unique_ptr<WorkQueueMetrics> queue_metrics_;
  WorkQueue queue_;
  std::vector<std::thread> workers_;
};

}  // namespace weir::runtime
