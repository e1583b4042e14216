// The commands of kubectl-weir (args.h says which), run against the API
// server through the seam `Io`: a kube::Client for objects, a function for
// pod logs, the clock, and where text goes. main.cc fills it with HttpClient
// and the process's stdout/stderr; tests with runtime::FakeClient and strings.
//
// Contract:
// - Run returns the exit status: 0 when the command did what it says (for
//   wait: the object ended Succeeded), 1 otherwise. Every failure writes one
//   line "Error: <what>" to `err`, naming the object the way the API server
//   does (`jobflows.weir.dev "x" not found`).
// - Objects are addressed by their full resource names (jobflows.weir.dev,
//   batches.weir.dev): never a bare kind that Volcano's CRDs may also serve.
// - Writes: cancel and suspend/resume are merge patches of spec.cancel and
//   spec.suspend; a step's cancel is a JSON patch that first tests the step's
//   name at its index, so a concurrent edit of spec.steps fails it instead of
//   canceling another step. Field manager "kubectl-weir".
// - watch and wait follow the object with a watch (field selector on its
//   name) from the resourceVersion they read, re-reading it when the watch
//   ends; they stop once the object is in a terminal phase. On a terminal,
//   watch redraws in place on every change and every second on `clock`
//   between changes (durations move); elsewhere it prints each new rendering
//   once.
#pragma once

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "base/clock.h"
#include "kube/client.h"
#include "kube/http_client.h"
#include "kubectl-weir/args.h"
#include "kubectl-weir/style.h"

namespace weir::cli {

using PodLogFn = std::function<absl::Status(const std::string& ns, const std::string& pod,
                                            const kube::PodLogOptions& options,
                                            const std::function<bool(absl::string_view)>& sink)>;

struct Io {
  kube::Client* client = nullptr;
  PodLogFn pod_log;
  Clock* clock = nullptr;
  std::function<void(absl::string_view)> out;  // stdout
  std::function<void(absl::string_view)> err;  // stderr
  bool terminal = false;                       // stdout is a terminal: watch redraws in place
  Style style;
  std::string default_namespace = "default";  // when -n is not given
};

int Run(const Invocation& inv, const Io& io);

}  // namespace weir::cli
