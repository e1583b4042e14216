// HealthServer serves the operational HTTP endpoints of a controller process
// on one host:port:
//   GET /metrics  the registry in Prometheus text format 0.0.4
//   GET /healthz  200 "ok" while the process runs
//   GET /readyz   200 "ok" once every readiness check passes (e.g. "caches
//                 synced"); otherwise 503 listing each check as [+]/[-]
// Other paths give 404; other methods 405.
//
// Built on cpprestsdk's http_listener; no cpprestsdk exception escapes this
// class (bind failures come back from Start() as a Status).
//
// Thread-safety: AddReadinessCheck may be called at any time from any
// thread; checks and the registry are called from listener threads and must
// be thread-safe. Start/Stop from one owner thread. The registry must
// outlive the server.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "runtime/metrics.h"

namespace weir::runtime {

struct HealthServerOptions {
  std::string host = "0.0.0.0";
  int port = 8080;  // REQUIRES: 1..65535
  // Served at /metrics; without it /metrics gives 404. Not owned.
  const MetricsRegistry* metrics = nullptr;
};

class HealthServer {
 public:
  explicit HealthServer(HealthServerOptions options);
  HealthServer(const HealthServer&) = delete;
  HealthServer& operator=(const HealthServer&) = delete;
  ~HealthServer();  // Stop()s

  // /readyz passes only while every check returns true. A check that throws
  // counts as failing.
  void AddReadinessCheck(std::string name, std::function<bool()> check);

  // Binds and starts serving. Errors: FailedPrecondition if already
  // started; Unavailable if the address cannot be bound.
  absl::Status Start();
  // Stops serving and releases the port. Idempotent.
  void Stop();

  // "http://host:port"
  std::string BaseUrl() const;

 private:
  struct Impl;
  struct Response {
    int status;
    std::string content_type;
    std::string body;
  };
  Response Handle(const std::string& method, const std::string& path) const;

  const HealthServerOptions options_;
  mutable absl::Mutex mu_;
  std::vector<std::pair<std::string, std::function<bool()>>> checks_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<Impl> impl_;  // non-null while started
};

}  // namespace weir::runtime
