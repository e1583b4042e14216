// LeaderElector: leader election on a coordination.k8s.io/v1 Lease, so that
// of several controller replicas exactly one reconciles.
//
// Protocol (all writes are optimistic: Update with the resourceVersion last
// read, so of two racing candidates one gets Conflict and loses):
//   - A candidate reads the Lease every `retry_period` (+0..20% jitter). It
//     takes it when the Lease is absent (create), released (empty holder),
//     held by itself, or expired. Expiry is judged on the LOCAL clock: the
//     Lease is expired when its resourceVersion has not changed for
//     leaseDurationSeconds (the holder's, else ours) since this process first
//     saw the current version. Remote timestamps are never compared with the
//     local clock, so clock skew between hosts cannot cause a takeover.
//   - On taking it: holderIdentity = identity, acquireTime = renewTime = now,
//     leaseTransitions + 1 if the holder changed; OnStartedLeading() runs.
//   - The leader renews (renewTime = now) every `retry_period`. If it has not
//     renewed successfully for `renew_deadline`, it stops leading AT ONCE:
//     a watchdog fires OnStoppedLeading() at that instant even if an API call
//     hangs. It also stops at once when it sees another holder (a Conflict
//     followed by a read showing someone else). After losing it becomes a
//     candidate again.
//   - Stop(): if leading, OnStoppedLeading() runs first (so reconciling ends
//     before anyone else can start), then the Lease is released (empty holder,
//     leaseDurationSeconds 1) so another replica takes over at once.
//
// Callbacks run one at a time, never concurrently, on the elector's or the
// watchdog's thread; OnStartedLeading and OnStoppedLeading alternate,
// starting with OnStartedLeading. They must return quickly (start or stop
// workers asynchronously) and must not call Stop().
//
// Thread-safety: Start/Stop/IsLeader/Leader are safe from any thread.
// TryAcquireOrRenew/Release are one-shot steps for tests and must not be
// used while the elector is started. The client and clock must outlive it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "kube/client.h"
#include "nlohmann/json.hpp"
#include "runtime/log.h"

namespace weir::runtime {

struct LeaderElectionConfig {
  std::string lease_namespace;
  std::string lease_name;
  std::string identity;  // unique per process, e.g. hostname + "_" + random
  absl::Duration lease_duration = absl::Seconds(15);
  absl::Duration renew_deadline = absl::Seconds(10);
  absl::Duration retry_period = absl::Seconds(2);
  bool release_on_stop = true;
  Clock* clock = nullptr;  // null: RealClock
  Logger logger;
  std::function<void()> on_started_leading;
  std::function<void()> on_stopped_leading;
  // The holder seen changed (may be empty: released). Optional.
  std::function<void(const std::string& holder)> on_new_leader;
};

// Checks names, identity and lease_duration > renew_deadline > retry_period > 0.
absl::Status ValidateLeaderElectionConfig(const LeaderElectionConfig& config);

// Formats a Lease MicroTime: 2024-01-02T03:04:05.000006Z.
std::string FormatMicroTime(absl::Time t);

class LeaderElector {
 public:
  // Fails with InvalidArgument for a bad config. REQUIRES: client non-null.
  static absl::StatusOr<std::unique_ptr<LeaderElector>> New(kube::Client* client,
                                                            LeaderElectionConfig config);
  ~LeaderElector();  // Stop()
  LeaderElector(const LeaderElector&) = delete;
  LeaderElector& operator=(const LeaderElector&) = delete;

  // Starts campaigning on a new thread. Call at most once.
  void Start();
  // Stops leading (callback), releases the Lease if held and
  // release_on_stop, and joins the threads. Idempotent.
  void Stop();

  bool IsLeader() const;
  // The holder last seen in the Lease ("" if none or unknown).
  std::string Leader() const;

  // ---- Single steps (tests; not while started) ----
  enum class Attempt {
    kHeld,         // acquired or renewed: we hold the Lease
    kHeldByOther,  // someone else holds an unexpired Lease
    kConflict,     // our write lost a race (Conflict/AlreadyExists)
    kError,        // the API call failed
  };
  // One read-and-write of the Lease as described above. Does not change
  // IsLeader() or run callbacks.
  Attempt TryAcquireOrRenew();
  // Gives the Lease up if this process holds it.
  absl::Status Release();

 private:
  LeaderElector(kube::Client* client, LeaderElectionConfig config);

  void Run();
  void Watchdog();
  // Sleeps `d` on the clock or until Stop(); false if stopped.
  bool Sleep(absl::Duration d);
  bool Stopping() const;
  // Leadership transitions; each runs its callback under cb_mu_.
  void BecomeLeader(absl::Time renewed);
  void LoseLeadership(absl::string_view why);
  // Records what was read; resets the expiry clock if the version changed.
  void Observe(const nlohmann::json& lease, absl::Time now);

  kube::Client* const client_;
  const LeaderElectionConfig config_;
  Clock* const clock_;
  const kube::ResourceRef leases_;
  absl::BitGen rng_;  // Run() thread only

  // Held while a transition and its callback run, so callbacks never overlap
  // and alternate. Acquired before mu_, never while holding it.
  absl::Mutex cb_mu_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool leading_ ABSL_GUARDED_BY(mu_) = false;
  // When the last acquire/renew succeeded (valid while leading_).
  absl::Time last_renew_ ABSL_GUARDED_BY(mu_);
  std::string observed_rv_ ABSL_GUARDED_BY(mu_);
  absl::Time observed_time_ ABSL_GUARDED_BY(mu_);
  std::string leader_ ABSL_GUARDED_BY(mu_);

  absl::Mutex join_mu_;
  std::thread runner_;
  std::thread watchdog_;
};

}  // namespace weir::runtime
