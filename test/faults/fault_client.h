// FaultyClient: a kube::Client decorator that attacks the controller the way
// Sieve (OSDI'22) and Acto (SOSP'23) do, at the one seam through which weir
// talks to the API server (issue 12). It exists only in the test build
// (weir-controller-faults); the shipped weir-controller has none of it.
//
// The faults, each switched on by a field of FaultPlan:
// - intermediate state: the process exits (std::_Exit) right after its k-th
//   state write (create, update, patch or delete of anything but Events and
//   Leases) has been applied, before the caller learns of it;
// - stale state: watch events are held back by a random delay, and the first
//   list of each resource reads an old resourceVersion (a restart that
//   starts from an old snapshot, then catches up through the watch);
// - unobserved state: an event for a key is coalesced into the next one for
//   that key while both are held back, and watches end after a random number
//   of events, cleanly or with 410 Gone (a relist);
// - API errors: 409 Conflict, 429 with Retry-After, 500 and timeouts on
//   reads and writes at random. A 500 or timeout on a write was applied or
//   not, at random, as on a real server whose answer is lost.
//
// Thread-safe. Randomness comes from one generator seeded by FaultPlan::seed;
// threads interleave, so a replay with the same seed takes the same kinds of
// decisions but not necessarily at the same requests.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <random>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "kube/client.h"

namespace weir::faults {

struct FaultPlan {
  uint64_t seed = 1;
  // Exit after this many state writes were applied (0: never).
  int crash_after_write = 0;
  // Each request fails with an injected error with this probability.
  double error_rate = 0;
  // Each watch event is held back by up to this long.
  absl::Duration watch_delay = absl::ZeroDuration();
  // A held-back event is replaced by a newer one for the same key with this
  // probability (the older state is never seen).
  double watch_coalesce = 0;
  // A watch ends after a random 1..N events (0: never).
  int watch_end_after = 0;
  // The first list of each resource reads this resourceVersion, if the API
  // server still has it ("" : none).
  std::string stale_list_version;
  // Each counted write is appended here as a line "<n> <verb> <resource>
  // <namespace>/<name> <result>" ("": no log).
  std::string write_log;

  bool operator==(const FaultPlan&) const = default;
};

// Parses "seed=7,crash-after-write=3,error-rate=0.05,watch-delay=300ms,
// watch-coalesce=0.5,watch-end-after=20,stale-list-version=1234,
// write-log=/tmp/w.log". Unknown keys and bad values are errors naming them.
absl::StatusOr<FaultPlan> ParseFaultPlan(absl::string_view spec);

// Exits the process; replaced in unit tests.
using ExitFn = void (*)(int code);

class FaultyClient : public kube::Client {
 public:
  // `inner` must outlive this client.
  FaultyClient(kube::Client* inner, FaultPlan plan, ExitFn exit = nullptr);

  absl::StatusOr<nlohmann::json> Get(const kube::ResourceRef& ref, absl::string_view ns,
                                     absl::string_view name,
                                     const kube::GetOptions& options) override;
  absl::StatusOr<nlohmann::json> List(const kube::ResourceRef& ref, absl::string_view ns,
                                      const kube::ListOptions& options) override;
  absl::StatusOr<nlohmann::json> Create(const kube::ResourceRef& ref, absl::string_view ns,
                                        const nlohmann::json& object,
                                        const kube::CreateOptions& options) override;
  absl::StatusOr<nlohmann::json> Update(const kube::ResourceRef& ref, absl::string_view ns,
                                        const nlohmann::json& object,
                                        const kube::UpdateOptions& options) override;
  absl::StatusOr<nlohmann::json> Patch(const kube::ResourceRef& ref, absl::string_view ns,
                                       absl::string_view name, kube::PatchType type,
                                       const nlohmann::json& patch,
                                       const kube::PatchOptions& options) override;
  absl::StatusOr<nlohmann::json> Delete(const kube::ResourceRef& ref, absl::string_view ns,
                                        absl::string_view name,
                                        const kube::DeleteOptions& options) override;
  absl::StatusOr<std::unique_ptr<kube::WatchStream>> Watch(
      const kube::ResourceRef& ref, absl::string_view ns,
      const kube::WatchOptions& options) override;

  // State writes applied so far.
  int writes() const { return writes_.load(); }

 private:
  enum class Injected { kNone, kConflict, kTooManyRequests, kServerError, kTimeout };

  // Decides whether this request fails, and how (`write`: a write verb).
  Injected Draw(bool write);
  double Uniform();
  absl::Duration UniformDuration(absl::Duration max);
  int UniformInt(int lo, int hi);
  static absl::Status ErrorOf(Injected kind, absl::string_view what);

  // Runs a write through the faults: an injected error before (not applied)
  // or after (applied, answer lost) `apply`, the write log and the crash.
  absl::StatusOr<nlohmann::json> Write(
      absl::string_view verb, const kube::ResourceRef& ref, absl::string_view ns,
      absl::string_view name, const std::function<absl::StatusOr<nlohmann::json>()>& apply);
  void LogWrite(int n, absl::string_view verb, const kube::ResourceRef& ref, absl::string_view ns,
                absl::string_view name, const absl::Status& result);

  friend class FaultyWatchStream;

  kube::Client* const inner_;
  const FaultPlan plan_;
  const ExitFn exit_;
  std::atomic<int> writes_{0};
  absl::Mutex mu_;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> listed_ ABSL_GUARDED_BY(mu_);
  // Serializes write-log lines and the crash after the last one.
  absl::Mutex log_mu_;
};

}  // namespace weir::faults
