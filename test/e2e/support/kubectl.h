// Test-side helpers for e2e tests: the pinned kubectl as an independent
// witness of what the control plane holds, and per-test namespaces.
//
// Every call returns kubectl's error as an error: nothing here reads a failed
// call as "absent" or "empty". NotFound is an answer only where a caller asks
// for it (Find).
//
// The environment comes from `hack/cluster.sh env`: KUBECONFIG and
// WEIR_KUBECTL must be set; FromEnv() says clearly what is missing.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace weir::e2e {

class BackgroundKubectl;

class Kubectl {
 public:
  // Reads WEIR_KUBECTL and KUBECONFIG; fails naming the missing variable.
  static absl::StatusOr<Kubectl> FromEnv();

  // Runs kubectl with `args`, feeding `input` on stdin. Returns stdout, or an
  // error with the exit code and stderr.
  absl::StatusOr<std::string> Run(const std::vector<std::string>& args,
                                  std::string_view input = {}) const;
  // Runs `kubectl <args> -o json` and parses the output.
  absl::StatusOr<nlohmann::json> GetJson(std::vector<std::string> args) const;
  // `kubectl get <resource> <name> -n <ns> -o json`: the object, std::nullopt
  // if it does not exist, or any other error.
  absl::StatusOr<std::optional<nlohmann::json>> Find(const std::string& resource,
                                                     const std::string& name,
                                                     const std::string& ns) const;
  // `kubectl apply -f -` of one object.
  absl::Status Apply(const nlohmann::json& object) const;
  // Starts `kubectl <args>` without waiting for it: for a watch that must
  // last until the test has seen enough (BackgroundKubectl::Stop).
  absl::StatusOr<std::unique_ptr<BackgroundKubectl>> Background(
      const std::vector<std::string>& args) const;

 private:
  Kubectl(std::string binary, std::string kubeconfig)
      : binary_(std::move(binary)), kubeconfig_(std::move(kubeconfig)) {}
  // Spawns kubectl with `args` and the given files as stdin, stdout, stderr.
  absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& args, const std::string& in,
                              const std::string& out, const std::string& err) const;

  std::string binary_;
  std::string kubeconfig_;
};

// A kubectl command running in the background, its stdout and stderr kept in
// temporary files. The destructor stops it if Stop() was not called.
class BackgroundKubectl {
 public:
  BackgroundKubectl(pid_t pid, std::string out_path, std::string err_path)
      : pid_(pid), out_path_(std::move(out_path)), err_path_(std::move(err_path)) {}
  ~BackgroundKubectl();
  BackgroundKubectl(const BackgroundKubectl&) = delete;
  BackgroundKubectl& operator=(const BackgroundKubectl&) = delete;

  // Ends the command (SIGTERM) and returns all it printed. An error, with its
  // stderr, if it had already exited: a watch that ended early may have
  // missed events.
  absl::StatusOr<std::string> Stop();
  // What it has printed so far, while it runs.
  std::string OutputSoFar() const;
  // True if it has ended on its own with exit status 0 (reaping it; Stop()
  // then still reports the early end). False while it runs, or if it failed.
  bool EndedCleanly();

 private:
  pid_t pid_;
  std::optional<int> early_status_;  // wait status, once reaped by EndedCleanly
  std::string out_path_;
  std::string err_path_;
};

// A namespace that exists for the lifetime of the object (failing the
// current test if it cannot be created); deleted (without waiting) on
// destruction, after weir's finalizer is removed from the Batches
// and JobFlows left in it (destroy it after the test's controller). Names are
// unique per process and call.
class TestNamespace {
 public:
  TestNamespace(const Kubectl& kubectl, std::string_view prefix);
  ~TestNamespace();
  TestNamespace(const TestNamespace&) = delete;
  TestNamespace& operator=(const TestNamespace&) = delete;

  const std::string& name() const { return name_; }

 private:
  const Kubectl& kubectl_;
  std::string name_;
};

// Deletes every Batch and JobFlow in `ns` (without waiting) and waits up to
// `timeout` until no Batch, JobFlow, Job or pod is left in it, calling
// `each_look` (e.g. a crashed controller's replacement) before every look.
// Returns what is left ("" once nothing is), or the error of a delete; an
// error of a look fails the current test (Eventually).
absl::StatusOr<std::string> LeftAfterDeletingOwners(const Kubectl& kubectl, const std::string& ns,
                                                    absl::Duration timeout,
                                                    const std::function<void()>& each_look = {});

}  // namespace weir::e2e
