#include "runtime/reflector.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "kube/errors.h"
#include "runtime/release_memory.h"
#include "runtime/store.h"

namespace weir::runtime {

using nlohmann::json;

namespace {

class RegistryReflectorMetrics final : public ReflectorMetrics {
 public:
  explicit RegistryReflectorMetrics(MetricsRegistry& registry)
      : restarts_(registry.AddCounter("weir_watch_restarts_total",
                                      "Watches restarted, by resource and reason (closed, "
                                      "error, gone).",
                                      {"resource", "reason"})),
        lists_(registry.AddCounter("weir_reflector_lists_total",
                                   "Lists made by reflectors, by resource and result.",
                                   {"resource", "result"})),
        events_(registry.AddCounter("weir_watch_events_total",
                                    "Watch events received, by resource and type.",
                                    {"resource", "type"})),
        cached_(registry.AddGauge("weir_informer_objects",
                                  "Objects in the informer's cache, by resource.", {"resource"})) {}

  void OnWatchRestart(const std::string& resource, absl::string_view reason) override {
    restarts_.WithLabelValues({resource, std::string(reason)}).Inc();
  }
  void OnList(const std::string& resource, bool ok) override {
    lists_.WithLabelValues({resource, ok ? "ok" : "error"}).Inc();
  }
  void OnCached(const std::string& resource, size_t n) override {
    cached_.WithLabelValues({resource}).Set(static_cast<double>(n));
  }
  void OnWatchEvent(const std::string& resource, absl::string_view type) override {
    events_.WithLabelValues({resource, std::string(type)}).Inc();
  }

 private:
  CounterFamily& restarts_;
  CounterFamily& lists_;
  CounterFamily& events_;
  GaugeFamily& cached_;
};

}  // namespace

std::unique_ptr<ReflectorMetrics> NewReflectorMetrics(MetricsRegistry& registry) {
  return std::make_unique<RegistryReflectorMetrics>(registry);
}

Reflector::Reflector(kube::Client* client, ReflectorSink* sink, ReflectorOptions options)
    : client_(client),
      sink_(sink),
      options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : &RealClock::Get()),
      resource_name_(options_.resource.ToString()),
      next_backoff_(options_.initial_backoff) {}

Reflector::~Reflector() { Stop(); }

void Reflector::Start() {
  thread_ = std::thread([this] { Run(); });
}

void Reflector::Stop() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
    if (current_ != nullptr) current_->Cancel();
  }
  absl::MutexLock l(&join_mu_);
  if (thread_.joinable()) thread_.join();
}

bool Reflector::Stopping() const {
  absl::MutexLock l(&mu_);
  return stopping_;
}

bool Reflector::HasSynced() const {
  absl::MutexLock l(&mu_);
  return synced_;
}

std::string Reflector::LastResourceVersion() const {
  absl::MutexLock l(&mu_);
  return last_rv_;
}

Reflector::Stats Reflector::stats() const {
  absl::MutexLock l(&mu_);
  return stats_;
}

void Reflector::Restarted(absl::string_view reason) {
  {
    absl::MutexLock l(&mu_);
    ++stats_.watch_restarts;
  }
  if (options_.metrics != nullptr) options_.metrics->OnWatchRestart(resource_name_, reason);
}

bool Reflector::Backoff() {
  absl::Duration delay = next_backoff_;
  if (options_.backoff_jitter > 0) {
    delay *= 1 + absl::Uniform(rng_, 0.0, options_.backoff_jitter);
  }
  next_backoff_ = std::min(next_backoff_ * 2, options_.max_backoff);
  absl::MutexLock l(&mu_);
  clock_->AwaitWithDeadline(mu_, absl::Condition(&stopping_), clock_->Now() + delay);
  return !stopping_;
}

void Reflector::Run() {
  bool need_list = true;
  while (!Stopping()) {
    if (need_list) {
      absl::Status s = ListAndReplace();
      if (options_.metrics != nullptr) options_.metrics->OnList(resource_name_, s.ok());
      if (!s.ok()) {
        if (Stopping()) return;
        options_.logger.Warning("list failed; backing off",
                                {{"resource", resource_name_}, {"error", s}});
        if (!Backoff()) return;
        continue;
      }
      need_list = false;
      next_backoff_ = options_.initial_backoff;
    }
    switch (WatchOnce()) {
      case WatchEnd::kStopped:
        return;
      case WatchEnd::kHealthyClose:
        Restarted("closed");
        break;  // resume at once
      case WatchEnd::kClosed:
        Restarted("closed");
        if (!Backoff()) return;
        break;
      case WatchEnd::kError:
        Restarted("error");
        if (!Backoff()) return;
        break;
      case WatchEnd::kGone: {
        Restarted("gone");
        {
          absl::MutexLock l(&mu_);
          ++stats_.relists;
        }
        options_.logger.Info("resourceVersion too old; relisting",
                             {{"resource", resource_name_}, {"rv", LastResourceVersion()}});
        need_list = true;
        if (!Backoff()) return;
        break;
      }
    }
  }
}

absl::Status Reflector::ListAndReplace() {
  kube::ListOptions lo;
  lo.limit = options_.page_size > 0 ? options_.page_size : 500;
  lo.label_selector = options_.label_selector;
  lo.field_selector = options_.field_selector;
  // resource_version "" = a consistent read of the latest state, so a relist
  // never goes back in time.
  //
  // Page by page (as Client::ListAll does), and each item goes to the sink's
  // Reduce as the client decodes it: only the reduced objects accumulate, so
  // a list of many large objects is never in memory whole, not even a page.
  std::string rv;
  std::vector<json> items;
  const std::string api_version = options_.resource.ApiVersion();
  const auto reduce = [&](json item) {
    // List items come without apiVersion/kind; watch events have them.
    if (item.is_object()) {
      if (!item.contains("apiVersion")) item["apiVersion"] = api_version;
      if (!item.contains("kind") && !options_.resource.kind.empty()) {
        item["kind"] = options_.resource.kind;
      }
    }
    items.push_back(sink_->Reduce(std::move(item)));
  };
  while (true) {
    absl::StatusOr<json> page = client_->ListEach(options_.resource, options_.ns, lo, reduce);
    if (!page.ok()) {
      absl::MutexLock l(&mu_);
      ++stats_.failed_lists;
      return page.status();
    }
    if (lo.continue_token.empty()) rv = kube::MetadataString(*page, "resourceVersion");
    const std::string next = kube::MetadataString(*page, "continue");
    if (next.empty()) break;
    lo.continue_token = next;
    // A continued list is served from the snapshot named by the token.
    lo.resource_version.clear();
    lo.resource_version_match.clear();
  }
  const size_t count = items.size();
  sink_->Replace(std::move(items));
  // Give the pages the full objects occupied back to the system: glibc keeps
  // freed memory in its arenas, and after a large list that is most of the
  // resident memory.
  ReleaseFreedMemory();
  absl::MutexLock l(&mu_);
  last_rv_ = rv;
  synced_ = true;
  ++stats_.lists;
  options_.logger.Debug(
      "listed", {{"resource", resource_name_}, {"rv", rv}, {"items", static_cast<int64_t>(count)}});
  return absl::OkStatus();
}

Reflector::WatchEnd Reflector::WatchOnce() {
  kube::WatchOptions wo;
  wo.resource_version = LastResourceVersion();
  wo.allow_watch_bookmarks = true;
  wo.label_selector = options_.label_selector;
  wo.field_selector = options_.field_selector;
  const int64_t min_timeout =
      std::max<int64_t>(1, absl::ToInt64Seconds(options_.min_watch_timeout));
  wo.timeout_seconds = absl::Uniform<int64_t>(rng_, min_timeout, 2 * min_timeout);

  absl::StatusOr<std::unique_ptr<kube::WatchStream>> opened =
      client_->Watch(options_.resource, options_.ns, wo);
  if (!opened.ok()) {
    if (Stopping()) return WatchEnd::kStopped;
    if (kube::IsGone(opened.status())) return WatchEnd::kGone;
    options_.logger.Warning("watch failed; backing off",
                            {{"resource", resource_name_}, {"error", opened.status()}});
    return WatchEnd::kError;
  }
  std::unique_ptr<kube::WatchStream> stream = *std::move(opened);
  {
    absl::MutexLock l(&mu_);
    if (stopping_) return WatchEnd::kStopped;
    current_ = stream.get();
    ++stats_.watches;
  }
  const absl::Time started = clock_->Now();
  int64_t events = 0;
  std::optional<WatchEnd> end;
  absl::Status error;
  kube::WatchEvent event;
  while (!end && stream->Next(&event)) {
    if (options_.metrics != nullptr && event.type != kube::EventType::kError) {
      options_.metrics->OnWatchEvent(resource_name_, kube::EventTypeName(event.type));
    }
    switch (event.type) {
      case kube::EventType::kAdded:
      case kube::EventType::kModified:
      case kube::EventType::kDeleted: {
        // The version first, so a handler sees LastResourceVersion() at
        // least as new as its event.
        std::string rv = ResourceVersionOf(event.object);
        if (!rv.empty()) {
          absl::MutexLock l(&mu_);
          last_rv_ = std::move(rv);
        }
        sink_->Apply(event.type, std::move(event.object));
        ++events;
        break;
      }
      case kube::EventType::kBookmark: {
        std::string rv = ResourceVersionOf(event.object);
        if (!rv.empty()) {
          absl::MutexLock l(&mu_);
          last_rv_ = std::move(rv);
        }
        ++events;
        break;
      }
      case kube::EventType::kError:
        error = event.error.ok() ? kube::StatusFromStatusObject(event.object) : event.error;
        end = kube::IsGone(error) ? WatchEnd::kGone : WatchEnd::kError;
        break;
    }
  }
  {
    absl::MutexLock l(&mu_);
    current_ = nullptr;
  }
  stream->Cancel();
  if (!end) {
    error = stream->status();
    if (kube::IsGone(error)) {
      end = WatchEnd::kGone;
    } else if (!error.ok()) {
      end = WatchEnd::kError;
    } else {
      const bool healthy = events > 0 || clock_->Now() - started >= options_.healthy_watch;
      end = healthy ? WatchEnd::kHealthyClose : WatchEnd::kClosed;
    }
  }
  if (Stopping()) return WatchEnd::kStopped;
  if (events > 0) next_backoff_ = options_.initial_backoff;
  if (*end == WatchEnd::kError) {
    options_.logger.Warning(
        "watch ended with an error; resuming",
        {{"resource", resource_name_}, {"error", error}, {"rv", LastResourceVersion()}});
  }
  return *end;
}

}  // namespace weir::runtime
