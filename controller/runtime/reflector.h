// Reflector: keeps a local copy of one resource in step with the API server
// by list-then-watch, and hands what it learns to a ReflectorSink (the
// Informer, which applies it to a Store and calls event handlers).
//
// Protocol:
//   1. List (all pages of `page_size`, each object passed to the sink's
//      Reduce as its page arrives) at the most recent resourceVersion and
//      Replace() the sink's content with it; from then on HasSynced() is true.
//   2. Watch from the list's resourceVersion with allowWatchBookmarks and a
//      server-side timeout drawn from [min_watch_timeout, 2*min_watch_timeout).
//      Every event (and bookmark) advances LastResourceVersion().
//   3. When the watch ends:
//      - the server closed it normally after a healthy run (it delivered an
//        event or lasted at least `healthy_watch`): watch again at once from
//        the last resourceVersion;
//      - 410 Gone/Expired (from Watch() or as an ERROR event): back off, then
//        relist (step 1);
//      - any other error, an ERROR event or an unhealthy close: back off,
//        then watch again from the last resourceVersion (no relist).
//      Backoff is exponential from `initial_backoff` (x2 per consecutive
//      failure, capped at `max_backoff`), each delay stretched by a random
//      factor in [1, 1 + backoff_jitter), slept on the Clock; a healthy watch
//      or a successful list resets it. A failed list backs off the same way.
//
// Thread-safety: Run() executes on one thread (Start() makes one); the sink
// is called only from it, in order. Stop(), HasSynced(),
// LastResourceVersion() and stats() may be called from any thread. Stop()
// cancels an open watch and interrupts a backoff sleep at once; a List or
// Watch request in flight is waited for (the client's timeouts bound it).
// The client, sink, clock and metrics must outlive the Reflector.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "kube/client.h"
#include "nlohmann/json.hpp"
#include "runtime/log.h"
#include "runtime/metrics.h"

namespace weir::runtime {

// Receives what a Reflector learns, on the reflector's thread.
class ReflectorSink {
 public:
  virtual ~ReflectorSink() = default;
  // Called for each listed object as its page arrives; Replace then gets
  // what it returned. Lets a sink shrink objects (e.g. with its store's
  // transform) so a large list is never in memory whole. Default: unchanged.
  virtual nlohmann::json Reduce(nlohmann::json object) { return object; }
  // The complete current content (the initial list or a relist), each object
  // passed through Reduce.
  virtual void Replace(std::vector<nlohmann::json> objects) = 0;
  // One watch event: kAdded, kModified or kDeleted (never a bookmark/error).
  virtual void Apply(kube::EventType type, nlohmann::json object) = 0;
};

// Metrics hooks. Called on the reflector's thread; must be cheap.
class ReflectorMetrics {
 public:
  virtual ~ReflectorMetrics() = default;
  // A watch ended and will be restarted. reason: "closed" (the server ended
  // it), "error" (connection or server error, ERROR event) or "gone" (410:
  // a relist follows).
  virtual void OnWatchRestart(const std::string& resource, absl::string_view reason) = 0;
  // A list finished (ok or not).
  virtual void OnList(const std::string& resource, bool ok) = 0;
  // The informer's cache of `resource` now holds `n` objects.
  virtual void OnCached(const std::string& resource, size_t n) = 0;
  // A watch delivered an event of `type` (ADDED, MODIFIED, DELETED, BOOKMARK).
  virtual void OnWatchEvent(const std::string& resource, absl::string_view type) = 0;
};

// ReflectorMetrics on a registry: weir_watch_restarts_total{resource,reason},
// weir_reflector_lists_total{resource,result},
// weir_watch_events_total{resource,type} and weir_informer_objects{resource}.
std::unique_ptr<ReflectorMetrics> NewReflectorMetrics(MetricsRegistry& registry);

struct ReflectorOptions {
  kube::ResourceRef resource;
  std::string ns;  // "" = all namespaces
  std::string label_selector;
  std::string field_selector;
  int64_t page_size = 500;
  absl::Duration min_watch_timeout = absl::Minutes(5);
  // A watch that delivered nothing and ended sooner than this counts as a
  // failure for backoff.
  absl::Duration healthy_watch = absl::Seconds(10);
  absl::Duration initial_backoff = absl::Milliseconds(800);
  absl::Duration max_backoff = absl::Seconds(30);
  double backoff_jitter = 0.5;
  Clock* clock = nullptr;               // null: RealClock
  ReflectorMetrics* metrics = nullptr;  // optional; not owned
  Logger logger;
};

class Reflector {
 public:
  // REQUIRES: client and sink non-null.
  Reflector(kube::Client* client, ReflectorSink* sink, ReflectorOptions options);
  ~Reflector();  // Stop()
  Reflector(const Reflector&) = delete;
  Reflector& operator=(const Reflector&) = delete;

  // Runs the protocol until Stop(). Call at most once, or use Start().
  void Run();
  // Runs Run() on a new thread. Call at most once.
  void Start();
  // Stops Run() and joins the thread Start() made. Idempotent.
  void Stop();

  // True once the first list has been handed to the sink.
  bool HasSynced() const;
  // The resourceVersion the next watch would start from ("" before the
  // first list).
  std::string LastResourceVersion() const;

  struct Stats {
    int64_t lists = 0;           // successful lists
    int64_t failed_lists = 0;    // failed lists
    int64_t watches = 0;         // watches opened
    int64_t watch_restarts = 0;  // watches ended for any reason but Stop()
    int64_t relists = 0;         // lists caused by 410 Gone
  };
  Stats stats() const;

  const ReflectorOptions& options() const { return options_; }

 private:
  enum class WatchEnd { kStopped, kClosed, kHealthyClose, kError, kGone };

  absl::Status ListAndReplace();
  WatchEnd WatchOnce();
  // Sleeps the next backoff delay (or until Stop). Returns false if stopped.
  bool Backoff();
  bool Stopping() const;
  void Restarted(absl::string_view reason);

  kube::Client* const client_;
  ReflectorSink* const sink_;
  const ReflectorOptions options_;
  Clock* const clock_;
  const std::string resource_name_;  // for logs and metrics

  // Touched only by the Run() thread.
  absl::Duration next_backoff_;
  absl::BitGen rng_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool synced_ ABSL_GUARDED_BY(mu_) = false;
  std::string last_rv_ ABSL_GUARDED_BY(mu_);
  // The open watch, so Stop() can cancel it. Owned by WatchOnce(), which
  // clears this before destroying it.
  kube::WatchStream* current_ ABSL_GUARDED_BY(mu_) = nullptr;
  Stats stats_ ABSL_GUARDED_BY(mu_);
  absl::Mutex join_mu_;  // serializes joining thread_
  std::thread thread_;
};

}  // namespace weir::runtime
