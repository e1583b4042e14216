// Informer = Reflector + Store + event handlers: a watched, indexed cache of
// one resource that tells handlers about every change. InformerFactory keeps
// one informer per resource so a manager can start them together and wait
// until every cache has synced (for /readyz and before starting workers).
//
//   InformerFactory factory(client, {.clock = &clock});
//   Informer& jobs = factory.For(kube::resources::Jobs());
//   jobs.AddEventHandler(std::make_shared<EventHandlerFuncs>(...));
//   factory.Start();
//   if (!factory.WaitForCacheSync(absl::Minutes(1))) ...;
//   std::vector<ObjectPtr> children = jobs.store().ByOwner(uid);
//
// Handler contract:
//   - Handlers are called one at a time, in the order the changes were
//     applied to the store, from the reflector's thread (or, for the replay
//     of AddEventHandler, from the caller's thread while no other delivery
//     runs). When a handler runs, the store already holds the change.
//   - OnAdd for new objects (and for every cached object, replayed when a
//     handler is added after the informer has content); OnUpdate(old, new)
//     when the resourceVersion changed; OnDelete with the final state (from
//     the DELETED event, or the last cached state when the object vanished
//     during a relist after a 410).
//   - A handler must be quick (enqueue a key) and must not call
//     AddEventHandler, Start or Stop. An exception from a handler is caught
//     and logged.
//
// Thread-safety: all methods are safe for concurrent use. The client and
// clock must outlive the informer.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "kube/client.h"
#include "runtime/reflector.h"
#include "runtime/store.h"

namespace weir::runtime {

class ResourceEventHandler {
 public:
  virtual ~ResourceEventHandler() = default;
  virtual void OnAdd(const ObjectPtr& object) = 0;
  virtual void OnUpdate(const ObjectPtr& old_object, const ObjectPtr& object) = 0;
  virtual void OnDelete(const ObjectPtr& object) = 0;
};

// A handler from functions; unset ones ignore their event.
class EventHandlerFuncs final : public ResourceEventHandler {
 public:
  std::function<void(const ObjectPtr&)> on_add;
  std::function<void(const ObjectPtr&, const ObjectPtr&)> on_update;
  std::function<void(const ObjectPtr&)> on_delete;

  void OnAdd(const ObjectPtr& object) override {
    if (on_add) on_add(object);
  }
  void OnUpdate(const ObjectPtr& old_object, const ObjectPtr& object) override {
    if (on_update) on_update(old_object, object);
  }
  void OnDelete(const ObjectPtr& object) override {
    if (on_delete) on_delete(object);
  }
};

struct InformerOptions {
  // resource, namespace, selectors, clock, backoff, metrics, logger.
  ReflectorOptions reflector;
  // Store options; if store.transform is unset, TransformFor(resource) is
  // used unless keep_full_objects.
  StoreOptions store;
  bool keep_full_objects = false;
};

class Informer final : private ReflectorSink {
 public:
  // REQUIRES: client non-null.
  Informer(kube::Client* client, InformerOptions options);
  ~Informer() override;  // Stop()
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  const Store& store() const { return store_; }
  const kube::ResourceRef& resource() const { return reflector_options().resource; }

  // Adds an index to the store (see Store::AddIndex).
  absl::Status AddIndex(absl::string_view name, IndexFunc fn) {
    return store_.AddIndex(name, std::move(fn));
  }
  // Registers `handler`; if the store has content it first receives OnAdd
  // for every cached object.
  void AddEventHandler(std::shared_ptr<ResourceEventHandler> handler);

  void Start();  // at most once
  void Stop();   // idempotent

  // True once the first list is in the store and its handlers were called.
  bool HasSynced() const;
  // Waits on the informer's clock until synced or `deadline`.
  bool WaitForSync(absl::Time deadline) const;

  Reflector& reflector() { return reflector_; }
  const Reflector& reflector() const { return reflector_; }

 private:
  const ReflectorOptions& reflector_options() const { return reflector_.options(); }
  static StoreOptions MakeStoreOptions(const InformerOptions& options);

  // ReflectorSink.
  nlohmann::json Reduce(nlohmann::json object) override {
    return store_.Prepare(std::move(object));
  }
  void Replace(std::vector<nlohmann::json> objects) override;
  void Apply(kube::EventType type, nlohmann::json object) override;

  void Deliver(const Delta& delta) ABSL_EXCLUSIVE_LOCKS_REQUIRED(dispatch_mu_);
  // Reports the cache's size to the metrics.
  void Counted() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(dispatch_mu_);
  void Call(ResourceEventHandler& handler, const Delta& delta) const;

  Clock* const clock_;
  const Logger logger_;
  ReflectorMetrics* const metrics_;  // may be null
  const std::string resource_name_;
  Store store_;
  // Serializes store writes with handler calls, so handlers see changes in
  // store order and a new handler's replay is consistent.
  absl::Mutex dispatch_mu_;
  std::vector<std::shared_ptr<ResourceEventHandler>> handlers_ ABSL_GUARDED_BY(dispatch_mu_);
  mutable absl::Mutex sync_mu_;
  bool synced_ ABSL_GUARDED_BY(sync_mu_) = false;
  Reflector reflector_;  // last: it calls into the members above
};

// One informer per resource (the namespace and selectors come from the
// factory's defaults or the first For() call).
class InformerFactory {
 public:
  struct Options {
    Clock* clock = nullptr;  // null: RealClock
    std::string ns;          // default namespace to watch; "" = all
    ReflectorMetrics* metrics = nullptr;
    Logger logger;
  };

  // REQUIRES: client non-null, outliving the factory.
  InformerFactory(kube::Client* client, Options options);
  ~InformerFactory();  // Stop()

  // The informer for `resource`, created on first use from `options` (its
  // reflector.resource is set to `resource`; clock, metrics, logger and ns
  // default to the factory's). Later calls return the same informer and
  // ignore `options`. Informers created after Start() are started by the
  // next Start().
  Informer& For(const kube::ResourceRef& resource, InformerOptions options = {});

  // Starts every informer not yet started.
  void Start();
  void Stop();
  // True when every informer has synced (vacuously true with none).
  bool HasSynced() const;
  // Waits until every informer has synced or `timeout` passed (on the clock).
  bool WaitForCacheSync(absl::Duration timeout) const;

 private:
  kube::Client* const client_;
  const Options options_;
  Clock* const clock_;
  mutable absl::Mutex mu_;
  // Keyed by ResourceRef::ToString() + "@" + version.
  std::map<std::string, std::unique_ptr<Informer>> informers_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, bool> started_ ABSL_GUARDED_BY(mu_);
};

}  // namespace weir::runtime
