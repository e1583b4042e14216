#include "runtime/event_recorder.h"

#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "kube/errors.h"

namespace weir::runtime {

using nlohmann::json;

namespace {

constexpr size_t kMaxMessageBytes = 1024;
constexpr size_t kMaxNamePrefix = 200;

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "unknown";
  return buf;
}

std::string Truncate(absl::string_view s, size_t max) {
  if (s.size() <= max) return std::string(s);
  // Do not cut a UTF-8 sequence: back up to a lead byte.
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return std::string(s.substr(0, n));
}

}  // namespace

ObjectReference ObjectReference::From(const json& object) {
  ObjectReference ref;
  if (!object.is_object()) return ref;
  ref.api_version = object.value("apiVersion", "");
  ref.kind = object.value("kind", "");
  if (auto m = object.find("metadata"); m != object.end() && m->is_object()) {
    ref.ns = m->value("namespace", "");
    ref.name = m->value("name", "");
    ref.uid = m->value("uid", "");
    ref.resource_version = m->value("resourceVersion", "");
  }
  return ref;
}

json ObjectReference::ToJson() const {
  json out = json::object();
  if (!api_version.empty()) out["apiVersion"] = api_version;
  if (!kind.empty()) out["kind"] = kind;
  if (!ns.empty()) out["namespace"] = ns;
  if (!name.empty()) out["name"] = name;
  if (!uid.empty()) out["uid"] = uid;
  if (!resource_version.empty()) out["resourceVersion"] = resource_version;
  return out;
}

EventRecorder::EventRecorder(kube::Client* client, EventRecorderOptions options)
    : client_(client),
      options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : &RealClock::Get()),
      host_(options_.host.empty() ? HostName() : options_.host) {
  sender_ = std::thread([this] { SenderLoop(); });
}

EventRecorder::~EventRecorder() { Shutdown(absl::ZeroDuration()); }

void EventRecorder::Event(const ObjectReference& object, absl::string_view type,
                          absl::string_view reason, absl::string_view message) {
  std::string msg = Truncate(message, kMaxMessageBytes);
  std::string key = absl::StrCat(object.uid, "\x1f", object.kind, "\x1f", object.ns, "\x1f",
                                 object.name, "\x1f", type, "\x1f", reason, "\x1f", msg);
  const absl::Time now = clock_->Now();
  absl::MutexLock l(&mu_);
  if (stopping_) {
    ++stats_.dropped;
    return;
  }
  auto it = pending_.find(key);
  if (it != pending_.end()) {  // merge with the queued repeat
    ++it->second.repeats;
    it->second.last = now;
    ++stats_.recorded;
    return;
  }
  if (order_.size() >= options_.queue_capacity) {
    ++stats_.dropped;
    return;
  }
  Pending p{object, std::string(type), std::string(reason), std::move(msg), 1, now, now};
  pending_.emplace(key, std::move(p));
  order_.push_back(std::move(key));
  ++stats_.recorded;
}

void EventRecorder::SenderLoop() {
  while (true) {
    std::string key;
    Pending pending;
    {
      absl::MutexLock l(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return quit_ || !order_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (quit_) return;
      key = std::move(order_.front());
      order_.pop_front();
      auto it = pending_.find(key);
      pending = std::move(it->second);
      pending_.erase(it);
      ++in_flight_;
    }
    Send(key, pending);
    absl::MutexLock l(&mu_);
    --in_flight_;
  }
}

void EventRecorder::Remember(const std::string& key, std::string ns, std::string name,
                             int64_t count) {
  auto it = cache_.find(key);
  if (it != cache_.end()) {
    lru_.erase(it->second.lru);
    cache_.erase(it);
  }
  lru_.push_front(key);
  cache_[key] = Cached{std::move(ns), std::move(name), count, lru_.begin()};
  while (cache_.size() > options_.cache_size) {
    cache_.erase(lru_.back());
    lru_.pop_back();
  }
}

bool EventRecorder::CreateEvent(const std::string& key, const Pending& p) {
  const std::string ns = p.object.ns.empty() ? "default" : p.object.ns;
  const std::string name = absl::StrFormat(
      "%s.%x%x", Truncate(p.object.name.empty() ? "event" : p.object.name, kMaxNamePrefix),
      absl::ToUnixNanos(p.first), ++seq_);
  json event = {{"apiVersion", "v1"},
                {"kind", "Event"},
                {"metadata", {{"name", name}, {"namespace", ns}}},
                {"involvedObject", p.object.ToJson()},
                {"type", p.type},
                {"reason", p.reason},
                {"message", p.message},
                {"count", p.repeats},
                {"firstTimestamp", Rfc3339(p.first)},
                {"lastTimestamp", Rfc3339(p.last)},
                {"source", {{"component", options_.component}, {"host", host_}}},
                {"reportingComponent", options_.component},
                {"reportingInstance", host_}};
  absl::StatusOr<json> created = client_->Create(kube::resources::CoreEvents(), ns, event);
  if (!created.ok()) {
    options_.logger.Warning(
        "creating event failed",
        {{"object", p.object.name}, {"reason", p.reason}, {"error", created.status()}});
    absl::MutexLock l(&mu_);
    ++stats_.failed;
    return false;
  }
  Remember(key, ns, name, p.repeats);
  absl::MutexLock l(&mu_);
  ++stats_.created;
  return true;
}

void EventRecorder::Send(const std::string& key, const Pending& p) {
  auto it = cache_.find(key);
  if (it == cache_.end()) {
    CreateEvent(key, p);
    return;
  }
  Cached cached = it->second;
  const int64_t count = cached.count + p.repeats;
  json patch = {{"count", count}, {"lastTimestamp", Rfc3339(p.last)}};
  absl::StatusOr<json> patched =
      client_->MergePatch(kube::resources::CoreEvents(), cached.ns, cached.name, patch);
  if (patched.ok()) {
    Remember(key, cached.ns, cached.name, count);
    absl::MutexLock l(&mu_);
    ++stats_.patched;
    return;
  }
  if (kube::IsNotFound(patched.status())) {  // expired on the server: start over
    CreateEvent(key, p);
    return;
  }
  options_.logger.Warning(
      "updating event failed",
      {{"object", p.object.name}, {"reason", p.reason}, {"error", patched.status()}});
  absl::MutexLock l(&mu_);
  ++stats_.failed;
}

void EventRecorder::Flush() {
  absl::MutexLock l(&mu_);
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return quit_ || (order_.empty() && in_flight_ == 0);
  };
  mu_.Await(absl::Condition(&idle));
}

void EventRecorder::Shutdown(absl::Duration drain) {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
    auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return order_.empty() && in_flight_ == 0;
    };
    if (drain > absl::ZeroDuration()) {
      clock_->AwaitWithDeadline(mu_, absl::Condition(&idle), clock_->Now() + drain);
    }
    quit_ = true;
    for (const auto& [key, p] : pending_) stats_.dropped += p.repeats;
    order_.clear();
    pending_.clear();
  }
  absl::MutexLock l(&join_mu_);
  if (sender_.joinable()) sender_.join();
}

EventRecorder::Stats EventRecorder::stats() const {
  absl::MutexLock l(&mu_);
  return stats_;
}

}  // namespace weir::runtime
