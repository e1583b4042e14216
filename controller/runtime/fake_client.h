// FakeClient: an in-memory kube::Client for unit tests of the runtime (and
// of anything built on it). It behaves like a small API server:
//   - one resourceVersion counter for all objects (a decimal integer);
//   - Create sets uid, resourceVersion and creationTimestamp and fails with
//     AlreadyExists; Update and merge/JSON patches fail with Conflict when
//     the given metadata.resourceVersion is stale, NotFound when absent;
//     Delete honours uid/resourceVersion preconditions and finalizers;
//   - List pages with limit/continue from a snapshot (tokens can be expired
//     to test kube::IsExpired), filters by equality label selectors;
//   - Watch replays the history after the requested resourceVersion and
//     then streams live changes; a resourceVersion older than the last
//     Compact() fails with Gone (from Watch() or as an ERROR event).
// Test controls inject failures per verb, drop or error open watches, send
// bookmarks and wait (without sleeping) for watches to open.
//
// Statuses are built with kube's New*() constructors, so callers see the
// same kube::IsConflict / kube::IsGone ... as with HttpClient.
//
// Thread-safety: everything is safe for concurrent use. Streams returned by
// Watch() may outlive the client.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "base/clock.h"
#include "kube/client.h"
#include "nlohmann/json.hpp"

namespace weir::runtime {

class FakeClient final : public kube::Client {
 public:
  // `clock` stamps creationTimestamp; null: RealClock.
  explicit FakeClient(Clock* clock = nullptr);
  ~FakeClient() override;

  absl::StatusOr<nlohmann::json> Get(const kube::ResourceRef& ref, absl::string_view ns,
                                     absl::string_view name,
                                     const kube::GetOptions& options = {}) override;
  absl::StatusOr<nlohmann::json> List(const kube::ResourceRef& ref, absl::string_view ns,
                                      const kube::ListOptions& options = {}) override;
  absl::StatusOr<nlohmann::json> Create(const kube::ResourceRef& ref, absl::string_view ns,
                                        const nlohmann::json& object,
                                        const kube::CreateOptions& options = {}) override;
  absl::StatusOr<nlohmann::json> Update(const kube::ResourceRef& ref, absl::string_view ns,
                                        const nlohmann::json& object,
                                        const kube::UpdateOptions& options = {}) override;
  absl::StatusOr<nlohmann::json> Patch(const kube::ResourceRef& ref, absl::string_view ns,
                                       absl::string_view name, kube::PatchType type,
                                       const nlohmann::json& patch,
                                       const kube::PatchOptions& options = {}) override;
  absl::StatusOr<nlohmann::json> Delete(const kube::ResourceRef& ref, absl::string_view ns,
                                        absl::string_view name,
                                        const kube::DeleteOptions& options = {}) override;
  absl::StatusOr<std::unique_ptr<kube::WatchStream>> Watch(
      const kube::ResourceRef& ref, absl::string_view ns,
      const kube::WatchOptions& options = {}) override;

  // ---- Test controls ----

  // Verbs: "get", "list", "create", "update", "patch", "delete", "watch".
  // Fails the next `times` calls of `verb` with `status`.
  void FailNext(absl::string_view verb, absl::Status status, int times = 1);

  // Called before every call (after FailNext); a non-OK result fails it.
  // May block (e.g. to hold a call until the test releases it). Must not
  // call back into the client.
  using Interceptor = std::function<absl::Status(absl::string_view verb, const kube::ResourceRef&,
                                                 absl::string_view ns, absl::string_view name)>;
  void SetInterceptor(Interceptor interceptor);

  // Ends every open watch with `status` (a dropped connection by default).
  void EndWatches(absl::Status status = absl::OkStatus());
  void DropWatches();  // = EndWatches(kube::NewConnectionFailed(...))
  // Sends an ERROR event carrying `status` on every open watch, then ends
  // them (as the API server does).
  void SendWatchError(const absl::Status& status);
  // Sends a BOOKMARK at the current resourceVersion to the open watches
  // that allowed bookmarks.
  void SendBookmark();
  // Forgets the history up to now: watches from an older resourceVersion
  // fail with Expired. If `gone_as_event`, Watch() succeeds and the stream
  // delivers an ERROR event; otherwise Watch() returns the error.
  void Compact(bool gone_as_event = false);
  // Makes every outstanding continue token expired.
  void ExpireContinueTokens();

  // Block until at least `n` watches are open / Watch() was called at least
  // `n` times in all.
  void WaitForOpenWatches(int n) const;
  void WaitForWatchCalls(int n) const;
  int OpenWatches() const;

  // Options of every Watch()/List() call, in order.
  std::vector<kube::WatchOptions> WatchCalls() const;
  std::vector<kube::ListOptions> ListCalls() const;
  // Number of calls of `verb` (failed ones included).
  int Calls(absl::string_view verb) const;
  // Blocks until `verb` has been called at least `n` times.
  void WaitForCalls(absl::string_view verb, int n) const;
  // The last resourceVersion assigned.
  std::string ResourceVersion() const;
  // Direct access to stored objects (copies), bypassing faults.
  std::vector<nlohmann::json> Objects(const kube::ResourceRef& ref) const;

 private:
  struct Stream;
  class StreamHandle;
  struct Change {
    std::string resource;
    std::string ns;
    int64_t rv = 0;
    kube::EventType type = kube::EventType::kAdded;
    nlohmann::json object;
  };
  struct Snapshot {
    std::vector<nlohmann::json> items;
    std::string rv;
  };

  absl::Status Enter(absl::string_view verb, const kube::ResourceRef& ref, absl::string_view ns,
                     absl::string_view name);
  // Assigns the next resourceVersion to `object`, records the change and
  // sends it to matching watches.
  void Record(const kube::ResourceRef& ref, const std::string& ns, kube::EventType type,
              nlohmann::json& object) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PruneStreams() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  nlohmann::json* Find(const kube::ResourceRef& ref, absl::string_view ns, absl::string_view name)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<nlohmann::json> Modify(const kube::ResourceRef& ref, absl::string_view ns,
                                        absl::string_view name, nlohmann::json updated,
                                        const std::string& expected_rv)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Clock* const clock_;
  mutable absl::Mutex mu_;
  int64_t rv_ ABSL_GUARDED_BY(mu_) = 100;
  int64_t uid_counter_ ABSL_GUARDED_BY(mu_) = 0;
  // resource -> "ns/name" -> object.
  std::map<std::string, std::map<std::string, nlohmann::json>> objects_ ABSL_GUARDED_BY(mu_);
  // Every change after compacted_rv_, in resourceVersion order.
  std::vector<Change> history_ ABSL_GUARDED_BY(mu_);
  int64_t compacted_rv_ ABSL_GUARDED_BY(mu_) = 0;
  bool gone_as_event_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::shared_ptr<Stream>> streams_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::deque<absl::Status>, std::less<>> failures_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int, std::less<>> calls_ ABSL_GUARDED_BY(mu_);
  std::vector<kube::WatchOptions> watch_calls_ ABSL_GUARDED_BY(mu_);
  std::vector<kube::ListOptions> list_calls_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, Snapshot> snapshots_ ABSL_GUARDED_BY(mu_);
  int64_t next_snapshot_ ABSL_GUARDED_BY(mu_) = 0;
  Interceptor interceptor_ ABSL_GUARDED_BY(mu_);
};

}  // namespace weir::runtime
