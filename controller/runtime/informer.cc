#include "runtime/informer.h"

#include <exception>
#include <utility>

#include "absl/strings/str_cat.h"

namespace weir::runtime {

using nlohmann::json;

// ---- Informer --------------------------------------------------------------

StoreOptions Informer::MakeStoreOptions(const InformerOptions& options) {
  StoreOptions store = options.store;
  if (!store.transform && !options.keep_full_objects) {
    store.transform = TransformFor(options.reflector.resource);
  }
  return store;
}

Informer::Informer(kube::Client* client, InformerOptions options)
    : clock_(options.reflector.clock != nullptr ? options.reflector.clock : &RealClock::Get()),
      logger_(options.reflector.logger.With({{"resource", options.reflector.resource.ToString()}})),
      metrics_(options.reflector.metrics),
      resource_name_(options.reflector.resource.ToString()),
      store_(MakeStoreOptions(options)),
      reflector_(client, this, std::move(options.reflector)) {}

Informer::~Informer() { Stop(); }

void Informer::Start() { reflector_.Start(); }

void Informer::Stop() { reflector_.Stop(); }

bool Informer::HasSynced() const {
  absl::MutexLock l(&sync_mu_);
  return synced_;
}

bool Informer::WaitForSync(absl::Time deadline) const {
  absl::MutexLock l(&sync_mu_);
  return clock_->AwaitWithDeadline(sync_mu_, absl::Condition(&synced_), deadline);
}

void Informer::AddEventHandler(std::shared_ptr<ResourceEventHandler> handler) {
  absl::MutexLock l(&dispatch_mu_);
  for (const ObjectPtr& object : store_.List()) {
    Call(*handler, Delta{Delta::Type::kAdded, nullptr, object});
  }
  handlers_.push_back(std::move(handler));
}

void Informer::Call(ResourceEventHandler& handler, const Delta& delta) const {
  try {
    switch (delta.type) {
      case Delta::Type::kAdded:
        handler.OnAdd(delta.object);
        break;
      case Delta::Type::kModified:
        handler.OnUpdate(delta.old_object, delta.object);
        break;
      case Delta::Type::kDeleted:
        handler.OnDelete(delta.object);
        break;
    }
  } catch (const std::exception& e) {
    logger_.Error("event handler threw", {{"error", e.what()}});
  } catch (...) {
    logger_.Error("event handler threw a non-standard exception");
  }
}

void Informer::Deliver(const Delta& delta) {
  for (const std::shared_ptr<ResourceEventHandler>& h : handlers_) Call(*h, delta);
}

void Informer::Counted() const {
  if (metrics_ != nullptr) metrics_->OnCached(resource_name_, store_.size());
}

void Informer::Replace(std::vector<json> objects) {
  {
    absl::MutexLock l(&dispatch_mu_);
    // Counted before handlers hear of it, as in Apply (the store is
    // replaced by the first delivery).
    bool counted = false;
    store_.ReplacePrepared(std::move(objects),
                           [&](const Delta& delta) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                             if (!std::exchange(counted, true)) Counted();
                             Deliver(delta);
                           });
    if (!counted) Counted();
  }
  absl::MutexLock l(&sync_mu_);
  synced_ = true;
}

void Informer::Apply(kube::EventType type, json object) {
  absl::MutexLock l(&dispatch_mu_);
  if (type == kube::EventType::kDeleted) {
    const Delta removed = store_.Remove(std::move(object));
    Counted();
    Deliver(removed);
    return;
  }
  // ADDED of a cached object (e.g. replayed after a resume) is an update,
  // MODIFIED of an unknown one an add; duplicates produce nothing.
  if (std::optional<Delta> delta = store_.Upsert(std::move(object))) {
    if (delta->type == Delta::Type::kAdded) Counted();
    Deliver(*delta);
  }
}

// ---- InformerFactory -------------------------------------------------------

InformerFactory::InformerFactory(kube::Client* client, Options options)
    : client_(client),
      options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : &RealClock::Get()) {}

InformerFactory::~InformerFactory() { Stop(); }

Informer& InformerFactory::For(const kube::ResourceRef& resource, InformerOptions options) {
  const std::string key = absl::StrCat(resource.ToString(), "@", resource.version);
  absl::MutexLock l(&mu_);
  auto it = informers_.find(key);
  if (it != informers_.end()) return *it->second;
  ReflectorOptions& r = options.reflector;
  r.resource = resource;
  if (r.clock == nullptr) r.clock = clock_;
  if (r.metrics == nullptr) r.metrics = options_.metrics;
  if (r.ns.empty()) r.ns = options_.ns;
  r.logger = options_.logger;
  auto informer = std::make_unique<Informer>(client_, std::move(options));
  Informer& ref = *informer;
  informers_[key] = std::move(informer);
  started_[key] = false;
  return ref;
}

void InformerFactory::Start() {
  absl::MutexLock l(&mu_);
  for (auto& [key, informer] : informers_) {
    if (started_[key]) continue;
    started_[key] = true;
    informer->Start();
  }
}

void InformerFactory::Stop() {
  absl::MutexLock l(&mu_);
  for (auto& [key, informer] : informers_) informer->Stop();
}

bool InformerFactory::HasSynced() const {
  absl::MutexLock l(&mu_);
  for (const auto& [key, informer] : informers_) {
    if (!informer->HasSynced()) return false;
  }
  return true;
}

bool InformerFactory::WaitForCacheSync(absl::Duration timeout) const {
  const absl::Time deadline = clock_->Now() + timeout;
  std::vector<const Informer*> all;
  {
    absl::MutexLock l(&mu_);
    for (const auto& [key, informer] : informers_) all.push_back(informer.get());
  }
  for (const Informer* informer : all) {
    if (!informer->WaitForSync(deadline)) return false;
  }
  return true;
}

}  // namespace weir::runtime
