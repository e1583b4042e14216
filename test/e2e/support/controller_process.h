// Runs build/bin/weir-controller (or another build of it) as a child process for e2e tests, against
// the local control plane ($KUBECONFIG), with its health and metrics servers
// on free loopback ports. Stop() sends SIGTERM and waits; Kill() sends
// SIGKILL (a crash). The destructor stops it if it still runs.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace weir::e2e {

class ControllerProcess {
 public:
  // `extra_flags` are appended to the defaults (--kubeconfig, the bind
  // addresses, --log-format=json). Output goes to `log_path`. `binary`: the
  // program to run (the fault-injection suite runs weir-controller-faults);
  // if empty, $WEIR_CONTROLLER_BINARY (hack/sanitize.sh: a sanitizer build's)
  // or else this build's weir-controller.
  explicit ControllerProcess(std::vector<std::string> extra_flags = {}, std::string log_path = "",
                             std::string binary = "");
  ~ControllerProcess();
  ControllerProcess(const ControllerProcess&) = delete;
  ControllerProcess& operator=(const ControllerProcess&) = delete;

  absl::Status Start();
  // Waits until /readyz answers 200 (caches synced).
  absl::Status WaitReady(absl::Duration timeout);
  // SIGTERM, then waits; returns the exit code (or -signal).
  int Stop(absl::Duration timeout = absl::Seconds(30));
  void Kill();
  // If the process has exited by itself: its exit code (or -signal), and it
  // is no longer running. Does not wait.
  std::optional<int> Exited();
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  int health_port() const { return health_port_; }
  const std::string& log_path() const { return log_path_; }
  // GET http://127.0.0.1:<health port><path>; the body, or an error.
  absl::StatusOr<std::string> HttpGet(const std::string& path) const;
  // Each sanitizer report (TSan, ASan, LeakSanitizer, UBSan) in the log,
  // its first line and stack, for sanitizer builds (hack/sanitize.sh).
  std::vector<std::string> SanitizerReports() const;

 private:
  std::vector<std::string> extra_flags_;
  std::string log_path_;
  std::string binary_;
  int health_port_ = 0;
  pid_t pid_ = -1;
};

// A free TCP port on 127.0.0.1 (bound and released).
int FreeLoopbackPort();

}  // namespace weir::e2e
