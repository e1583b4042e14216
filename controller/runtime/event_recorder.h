// EventRecorder: records core/v1 Events about objects ("kubectl describe"
// shows them) without ever blocking the caller.
//
// Contract:
//   - Event() only enqueues; one sender thread writes to the API server. The
//     queue is bounded (`queue_capacity` distinct pending events); when it is
//     full the event is dropped and counted (stats().dropped).
//   - Aggregation: an event equal to a recent one (same involved object uid,
//     kind, namespace, name, type, reason and message) is not created again:
//     the existing Event's count and lastTimestamp are PATCHed. Repeats still
//     in the queue are merged into one write. Recent events are remembered in
//     an LRU cache of `cache_size` entries; if the server no longer has the
//     Event (expired: NotFound) a new one is created.
//   - Events are written to the involved object's namespace ("default" for
//     cluster-scoped objects), named "<object>.<hex>", with source.component
//     and reportingComponent `component` ("weir-controller"), message cut to
//     1024 bytes. Write failures are logged and counted, not retried.
//   - Shutdown(drain) lets the sender finish the queue until `drain` has
//     passed on the clock, then stops it; later Event() calls are dropped.
//
// Thread-safety: all methods are safe for concurrent use. The client and
// clock must outlive the recorder.
#pragma once

#include <cstdint>
#include <deque>
#include <list>
#include <string>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "kube/client.h"
#include "nlohmann/json.hpp"
#include "runtime/log.h"

namespace weir::runtime {

inline constexpr char kEventTypeNormal[] = "Normal";
inline constexpr char kEventTypeWarning[] = "Warning";

// What an Event is about (core/v1 ObjectReference).
struct ObjectReference {
  std::string api_version;
  std::string kind;
  std::string ns;
  std::string name;
  std::string uid;
  std::string resource_version;

  // From an object's apiVersion, kind and metadata.
  static ObjectReference From(const nlohmann::json& object);
  nlohmann::json ToJson() const;
};

struct EventRecorderOptions {
  std::string component = "weir-controller";
  std::string host;  // source.host and reportingInstance; "" = the host name
  size_t queue_capacity = 1024;
  size_t cache_size = 4096;
  Clock* clock = nullptr;  // null: RealClock
  Logger logger;
};

class EventRecorder {
 public:
  // Starts the sender thread. REQUIRES: client non-null.
  EventRecorder(kube::Client* client, EventRecorderOptions options = {});
  ~EventRecorder();  // Shutdown(zero)
  EventRecorder(const EventRecorder&) = delete;
  EventRecorder& operator=(const EventRecorder&) = delete;

  // Records an event. `type` is kEventTypeNormal or kEventTypeWarning;
  // `reason` is CamelCase (e.g. "AttemptStarted"). Never blocks on I/O.
  void Event(const ObjectReference& object, absl::string_view type, absl::string_view reason,
             absl::string_view message);
  void Normal(const ObjectReference& object, absl::string_view reason, absl::string_view message) {
    Event(object, kEventTypeNormal, reason, message);
  }
  void Warning(const ObjectReference& object, absl::string_view reason, absl::string_view message) {
    Event(object, kEventTypeWarning, reason, message);
  }

  // Blocks (in real time) until every event recorded before the call has
  // been written or has failed. For tests and orderly shutdown.
  void Flush();
  // Drains the queue for at most `drain` on the clock, then stops the sender.
  // Idempotent.
  void Shutdown(absl::Duration drain = absl::Seconds(5));

  struct Stats {
    int64_t recorded = 0;  // Event() calls accepted
    int64_t dropped = 0;   // Event() calls refused: queue full or shut down
    int64_t created = 0;   // Events created
    int64_t patched = 0;   // Events aggregated into an existing one
    int64_t failed = 0;    // writes that failed
  };
  Stats stats() const;

 private:
  struct Pending {
    ObjectReference object;
    std::string type;
    std::string reason;
    std::string message;
    int64_t repeats = 0;  // Event() calls merged into this entry
    absl::Time first;
    absl::Time last;
  };
  struct Cached {
    std::string ns;
    std::string name;  // of the Event object
    int64_t count = 0;
    std::list<std::string>::iterator lru;
  };

  void SenderLoop();
  void Send(const std::string& key, const Pending& pending);
  bool CreateEvent(const std::string& key, const Pending& pending);
  void Remember(const std::string& key, std::string ns, std::string name, int64_t count);

  kube::Client* const client_;
  const EventRecorderOptions options_;
  Clock* const clock_;
  std::string host_;

  mutable absl::Mutex mu_;
  // Invariant: order_ holds exactly the keys of pending_, oldest first.
  std::deque<std::string> order_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Pending> pending_ ABSL_GUARDED_BY(mu_);
  int64_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;  // taken from the queue, not yet written
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;  // no more Event()s accepted
  bool quit_ ABSL_GUARDED_BY(mu_) = false;      // the sender must exit
  Stats stats_ ABSL_GUARDED_BY(mu_);

  // Sender thread only. Invariant: lru_ holds exactly the keys of cache_,
  // most recently used first, at most cache_size of them.
  std::list<std::string> lru_;
  absl::flat_hash_map<std::string, Cached> cache_;
  uint64_t seq_ = 0;  // makes Event names unique

  absl::Mutex join_mu_;
  std::thread sender_;
};

}  // namespace weir::runtime
