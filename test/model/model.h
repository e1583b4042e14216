// An explicit-state model checker over weir's real planners (issue 13,
// point 1). From one owner (a Batch or a JobFlow) it explores, depth first,
// every interleaving up to the Bounds of
//   - user actions: cancel, per-step cancel, delete, JobTemplate edit,
//     suspend and resume (JobFlow);
//   - the world's moves: the job controller creates a Job's pod; the pod
//     starts, waits on an image-pull error, ends with exit 0, exit 1,
//     OOMKilled or Evicted, is deleted by someone else, or is stopped by
//     the kubelet after weir deleted its Job; the clock jumps to the plan's
//     next wake-up (retry backoff, image-pull grace, idle timeout);
//   - the controller: a reconcile from the current state, or from the state
//     before the last move (a cache that lags), with any one of its write
//     calls failing without effect (500, 409), or stored but reported as a
//     timeout (which is also a crash at that point), or a Job create
//     refused (422). Every reconcile starts as after a crash: besides its
//     caches, the controller's only memory is the final states of deleted
//     pods (RecentlyDeleted), which the model never gives it; the pods'
//     finalizer keeps them instead.
// A reconcile is PlanBatch / PlanJobFlow (the real planners, which use the
// real classifier and retry policy) followed by the real OwnerWrites against
// the model's API server (world.h), in the reconcilers' order.
//
// States are deduplicated by a hash of a canonical encoding; a known state
// is explored again only when reached with more of some budget left (depth,
// faults, stale views, refusals) than every earlier visit, so the bounds
// are searched completely. Bounds::threads workers share the seen table.
// In every state explored it checks:
//   - safety: the independent oracle (test/oracle/history.h) judges the
//     whole history of the path for invariants 1, 2, 3 and 5 of
//     docs/design.md §7, with no Job in the cancel window (the model's
//     live GET and create are atomic, so the window is empty);
//   - liveness (eventually stable reconciliation): with no more users or
//     faults, the world settles (a pod that starts ends with exit 0) and
//     fresh reconciles reach a fixed point that writes nothing, where the
//     owner's phase matches what the world and the users did (checked here,
//     without weir's lifecycle code) and every child is gone.
// A violation is reported with the numbered trace of moves that led to it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace weir::model {

struct Bounds {
  int max_depth = 30;        // moves per path
  int max_user_actions = 1;  // each distinct action at most once
  int max_faults = 1;        // failed or timed-out writes per path
  int max_stale = 1;         // reconciles from a lagging view per path
  int max_refusals = 1;      // Job creates refused (422) per path
  int64_t max_states = 2'000'000;
  // Workers sharing one seen table (one per core for the full bounds).
  int threads = 1;
  // Every this many states, a Summary() line to stderr (0: none).
  int64_t progress_every = 0;
  // Pod endings explored: Succeeded, Error, OOMKilled, Evicted, PodDeleted,
  // ImagePull.
  std::vector<std::string> outcomes = {"Succeeded", "Error",      "OOMKilled",
                                       "Evicted",   "PodDeleted", "ImagePull"};
};

struct Scenario {
  std::string name;
  nlohmann::json owner;  // a Batch or JobFlow: apiVersion, kind, metadata.name, spec
  std::vector<nlohmann::json> templates;
  // "cancel", "delete", "edit-template", "suspend" (then "resume"),
  // "cancel-step:<name>".
  std::vector<std::string> user_actions;
};

struct Result {
  int64_t states = 0;       // distinct states explored
  int64_t revisits = 0;     // known states explored again, with more budget left
  int64_t transitions = 0;  // moves taken (to new or known states)
  int max_depth = 0;
  absl::Duration elapsed;
  bool complete = true;  // false if max_states cut the search short
  // Empty if every check held; else what broke, with the numbered trace.
  std::string violation;
};

Result Check(const Scenario& scenario, const Bounds& bounds);

// "<name>: N states (N revisited), N transitions, depth N, Ns".
std::string Summary(const std::string& name, const Result& result);

}  // namespace weir::model
