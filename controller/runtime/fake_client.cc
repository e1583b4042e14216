#include "runtime/fake_client.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "kube/errors.h"
#include "runtime/store.h"

namespace weir::runtime {

using nlohmann::json;

namespace {

std::string Key(absl::string_view ns, absl::string_view name) { return ObjectKey(ns, name); }

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

// Equality-based label selector: "a=b,c==d,e!=f,g" (g: the key exists).
bool MatchesSelector(const json& object, absl::string_view selector) {
  if (selector.empty()) return true;
  json labels = json::object();
  if (object.contains("metadata") && object["metadata"].contains("labels")) {
    labels = object["metadata"]["labels"];
  }
  for (absl::string_view term : absl::StrSplit(selector, ',', absl::SkipEmpty())) {
    bool negate = false;
    std::pair<std::string, std::string> kv;
    if (absl::StrContains(term, "!=")) {
      kv = absl::StrSplit(term, absl::MaxSplits("!=", 1));
      negate = true;
    } else if (absl::StrContains(term, "==")) {
      kv = absl::StrSplit(term, absl::MaxSplits("==", 1));
    } else if (absl::StrContains(term, "=")) {
      kv = absl::StrSplit(term, absl::MaxSplits('=', 1));
    } else {
      if (!labels.contains(std::string(term))) return false;
      continue;
    }
    auto it = labels.find(kv.first);
    bool equal = it != labels.end() && it->is_string() && it->get<std::string>() == kv.second;
    if (equal == negate) return false;
  }
  return true;
}

json StatusObject(const absl::Status& status) {
  return {{"apiVersion", "v1"},
          {"kind", "Status"},
          {"status", "Failure"},
          {"message", std::string(status.message())},
          {"reason", std::string(kube::ReasonName(kube::GetReason(status)))},
          {"code", kube::GetHttpCode(status)}};
}

}  // namespace

// One watch's state, shared by the client (which pushes) and the handle
// (which reads). Invariant: once `ended`, nothing is pushed any more.
struct FakeClient::Stream {
  std::string resource;
  std::string ns;
  std::string label_selector;
  bool bookmarks = false;

  absl::Mutex mu;
  std::deque<kube::WatchEvent> events ABSL_GUARDED_BY(mu);
  bool ended ABSL_GUARDED_BY(mu) = false;
  bool canceled ABSL_GUARDED_BY(mu) = false;
  absl::Status status ABSL_GUARDED_BY(mu);

  bool Matches(const std::string& r, const std::string& n, const json& object) const {
    return r == resource && (ns.empty() || ns == n) && MatchesSelector(object, label_selector);
  }
  void Push(kube::WatchEvent event) {
    absl::MutexLock l(&mu);
    if (!ended) events.push_back(std::move(event));
  }
  void End(absl::Status s) {
    absl::MutexLock l(&mu);
    if (ended) return;
    ended = true;
    status = std::move(s);
  }
  bool Open() {
    absl::MutexLock l(&mu);
    return !ended;
  }
};

class FakeClient::StreamHandle final : public kube::WatchStream {
 public:
  explicit StreamHandle(std::shared_ptr<Stream> s) : s_(std::move(s)) {}
  ~StreamHandle() override { Cancel(); }

  bool Next(kube::WatchEvent* event) override {
    absl::MutexLock l(&s_->mu);
    s_->mu.Await(absl::Condition(
        +[](Stream* s)
             ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu) { return !s->events.empty() || s->ended; },
        s_.get()));
    // A canceled stream stops at once; an ended one delivers what it has.
    if (s_->canceled || s_->events.empty()) return false;
    *event = std::move(s_->events.front());
    s_->events.pop_front();
    return true;
  }

  absl::Status status() const override {
    absl::MutexLock l(&s_->mu);
    return s_->ended ? s_->status : absl::OkStatus();
  }

  void Cancel() override {
    absl::MutexLock l(&s_->mu);
    if (s_->ended) return;
    s_->ended = true;
    s_->canceled = true;
    s_->status = kube::MakeStatus(kube::Reason::kCanceled, "watch canceled");
    s_->events.clear();
  }

 private:
  std::shared_ptr<Stream> s_;
};

FakeClient::FakeClient(Clock* clock) : clock_(clock != nullptr ? clock : &RealClock::Get()) {}

FakeClient::~FakeClient() { EndWatches(); }

absl::Status FakeClient::Enter(absl::string_view verb, const kube::ResourceRef& ref,
                               absl::string_view ns, absl::string_view name) {
  Interceptor interceptor;
  {
    absl::MutexLock l(&mu_);
    ++calls_[std::string(verb)];
    auto it = failures_.find(verb);
    if (it != failures_.end() && !it->second.empty()) {
      absl::Status s = std::move(it->second.front());
      it->second.pop_front();
      return s;
    }
    interceptor = interceptor_;
  }
  if (interceptor) return interceptor(verb, ref, ns, name);
  return absl::OkStatus();
}

void FakeClient::Record(const kube::ResourceRef& ref, const std::string& ns, kube::EventType type,
                        json& object) {
  ++rv_;
  object["metadata"]["resourceVersion"] = std::to_string(rv_);
  Change change{ref.ToString(), ns, rv_, type, object};
  PruneStreams();
  for (const std::shared_ptr<Stream>& s : streams_) {
    if (s->Matches(change.resource, ns, object)) s->Push({type, object, absl::OkStatus()});
  }
  history_.push_back(std::move(change));
}

void FakeClient::PruneStreams() {
  streams_.erase(std::remove_if(streams_.begin(), streams_.end(),
                                [](const std::shared_ptr<Stream>& s) { return !s->Open(); }),
                 streams_.end());
}

json* FakeClient::Find(const kube::ResourceRef& ref, absl::string_view ns, absl::string_view name) {
  auto r = objects_.find(ref.ToString());
  if (r == objects_.end()) return nullptr;
  auto it = r->second.find(Key(ns, name));
  return it == r->second.end() ? nullptr : &it->second;
}

absl::StatusOr<json> FakeClient::Get(const kube::ResourceRef& ref, absl::string_view ns,
                                     absl::string_view name, const kube::GetOptions&) {
  if (absl::Status s = Enter("get", ref, ns, name); !s.ok()) return s;
  absl::MutexLock l(&mu_);
  json* object = Find(ref, ns, name);
  if (object == nullptr) return kube::NewNotFound(ref.ToString(), name);
  return *object;
}

absl::StatusOr<json> FakeClient::List(const kube::ResourceRef& ref, absl::string_view ns,
                                      const kube::ListOptions& options) {
  {
    absl::MutexLock l(&mu_);
    list_calls_.push_back(options);
  }
  if (absl::Status s = Enter("list", ref, ns, ""); !s.ok()) return s;
  absl::MutexLock l(&mu_);
  int64_t id = 0;
  size_t offset = 0;
  if (!options.continue_token.empty()) {
    std::pair<std::string, std::string> parts =
        absl::StrSplit(options.continue_token, absl::MaxSplits(':', 1));
    if (!absl::SimpleAtoi(parts.first, &id) || !absl::SimpleAtoi(parts.second, &offset) ||
        !snapshots_.contains(id)) {
      return kube::NewExpired(
          "The provided continue parameter is too old to display a consistent list result.");
    }
  } else {
    Snapshot snap;
    snap.rv = std::to_string(rv_);
    if (auto r = objects_.find(ref.ToString()); r != objects_.end()) {
      for (const auto& [key, object] : r->second) {
        std::string object_ns = object["metadata"].value("namespace", "");
        if (!ns.empty() && object_ns != ns) continue;
        if (!MatchesSelector(object, options.label_selector)) continue;
        snap.items.push_back(object);
      }
    }
    id = next_snapshot_++;
    snapshots_[id] = std::move(snap);
  }
  Snapshot& snap = snapshots_[id];
  size_t end = snap.items.size();
  if (options.limit > 0) end = std::min(end, offset + static_cast<size_t>(options.limit));
  json list = {{"apiVersion", ref.ApiVersion()},
               {"kind", absl::StrCat(ref.kind, "List")},
               {"metadata", {{"resourceVersion", snap.rv}}},
               {"items", json::array()}};
  for (size_t i = offset; i < end; ++i) list["items"].push_back(snap.items[i]);
  if (end < snap.items.size()) {
    list["metadata"]["continue"] = absl::StrCat(id, ":", end);
  } else {
    snapshots_.erase(id);
  }
  return list;
}

absl::StatusOr<json> FakeClient::Create(const kube::ResourceRef& ref, absl::string_view ns,
                                        const json& object, const kube::CreateOptions&) {
  json created = object;
  json& metadata = created["metadata"];
  std::string name = metadata.value("name", "");
  if (absl::Status s = Enter("create", ref, ns, name); !s.ok()) return s;
  absl::MutexLock l(&mu_);
  if (name.empty()) {
    std::string prefix = metadata.value("generateName", "");
    if (prefix.empty()) {
      return kube::NewInvalid(ref.kind, "", {{"FieldValueRequired", "metadata.name", "required"}});
    }
    name = absl::StrCat(prefix, "x", ++uid_counter_);
    metadata["name"] = name;
  }
  if (Find(ref, ns, name) != nullptr) return kube::NewAlreadyExists(ref.ToString(), name);
  if (!ns.empty()) metadata["namespace"] = std::string(ns);
  metadata["uid"] = absl::StrCat("uid-", ++uid_counter_);
  metadata["creationTimestamp"] = Rfc3339(clock_->Now());
  created["apiVersion"] = ref.ApiVersion();
  created["kind"] = ref.kind;
  Record(ref, std::string(ns), kube::EventType::kAdded, created);
  objects_[ref.ToString()][Key(ns, name)] = created;
  return created;
}

absl::StatusOr<json> FakeClient::Modify(const kube::ResourceRef& ref, absl::string_view ns,
                                        absl::string_view name, json updated,
                                        const std::string& expected_rv) {
  json* stored = Find(ref, ns, name);
  if (stored == nullptr) return kube::NewNotFound(ref.ToString(), name);
  const std::string current_rv = ResourceVersionOf(*stored);
  if (!expected_rv.empty() && expected_rv != current_rv) {
    return kube::NewConflict(ref.ToString(), name,
                             "the object has been modified; please apply your changes to the "
                             "latest version and try again");
  }
  // The server owns these.
  json& m = updated["metadata"];
  const json& old = (*stored)["metadata"];
  for (const char* field : {"uid", "creationTimestamp", "deletionTimestamp", "namespace", "name"}) {
    if (old.contains(field)) {
      m[field] = old[field];
    } else {
      m.erase(field);
    }
  }
  m["resourceVersion"] = current_rv;
  if (updated == *stored) return updated;  // no-op: no new resourceVersion
  const bool finalized =
      m.contains("deletionTimestamp") && m.value("finalizers", json::array()).empty();
  if (finalized) {
    Record(ref, std::string(ns), kube::EventType::kDeleted, updated);
    objects_[ref.ToString()].erase(Key(ns, name));
    return updated;
  }
  Record(ref, std::string(ns), kube::EventType::kModified, updated);
  *stored = updated;
  return updated;
}

absl::StatusOr<json> FakeClient::Update(const kube::ResourceRef& ref, absl::string_view ns,
                                        const json& object, const kube::UpdateOptions& options) {
  std::string name;
  if (object.contains("metadata")) name = object["metadata"].value("name", "");
  if (absl::Status s = Enter("update", ref, ns, name); !s.ok()) return s;
  absl::MutexLock l(&mu_);
  json* stored = Find(ref, ns, name);
  if (stored == nullptr) return kube::NewNotFound(ref.ToString(), name);
  json updated;
  if (options.subresource == "status") {
    updated = *stored;
    if (object.contains("status")) updated["status"] = object["status"];
  } else {
    updated = object;
    updated["apiVersion"] = ref.ApiVersion();
    updated["kind"] = ref.kind;
  }
  return Modify(ref, ns, name, std::move(updated), ResourceVersionOf(object));
}

absl::StatusOr<json> FakeClient::Patch(const kube::ResourceRef& ref, absl::string_view ns,
                                       absl::string_view name, kube::PatchType type,
                                       const json& patch, const kube::PatchOptions&) {
  if (absl::Status s = Enter("patch", ref, ns, name); !s.ok()) return s;
  absl::MutexLock l(&mu_);
  json* stored = Find(ref, ns, name);
  if (stored == nullptr) {
    if (type != kube::PatchType::kApply) return kube::NewNotFound(ref.ToString(), name);
    json created = patch;
    created["metadata"]["name"] = std::string(name);
    if (!ns.empty()) created["metadata"]["namespace"] = std::string(ns);
    created["metadata"]["uid"] = absl::StrCat("uid-", ++uid_counter_);
    created["metadata"]["creationTimestamp"] = Rfc3339(clock_->Now());
    Record(ref, std::string(ns), kube::EventType::kAdded, created);
    objects_[ref.ToString()][Key(ns, name)] = created;
    return created;
  }
  json updated = *stored;
  std::string expected_rv;
  if (type == kube::PatchType::kJson) {
    try {
      updated = stored->patch(patch);
    } catch (const json::exception& e) {
      return kube::MakeStatus(kube::Reason::kInvalid, e.what(), 422);
    }
  } else {
    updated.merge_patch(patch);
    if (patch.is_object()) expected_rv = ResourceVersionOf(patch);
  }
  return Modify(ref, ns, name, std::move(updated), expected_rv);
}

absl::StatusOr<json> FakeClient::Delete(const kube::ResourceRef& ref, absl::string_view ns,
                                        absl::string_view name,
                                        const kube::DeleteOptions& options) {
  if (absl::Status s = Enter("delete", ref, ns, name); !s.ok()) return s;
  absl::MutexLock l(&mu_);
  json* stored = Find(ref, ns, name);
  if (stored == nullptr) return kube::NewNotFound(ref.ToString(), name);
  const json& m = (*stored)["metadata"];
  if ((options.uid && *options.uid != m.value("uid", "")) ||
      (options.resource_version && *options.resource_version != m.value("resourceVersion", ""))) {
    return kube::NewConflict(ref.ToString(), name, "precondition failed");
  }
  json object = *stored;
  if (!m.value("finalizers", json::array()).empty()) {
    if (m.contains("deletionTimestamp")) return object;
    object["metadata"]["deletionTimestamp"] = Rfc3339(clock_->Now());
    Record(ref, std::string(ns), kube::EventType::kModified, object);
    *stored = object;
    return object;
  }
  objects_[ref.ToString()].erase(Key(ns, name));
  Record(ref, std::string(ns), kube::EventType::kDeleted, object);
  return object;
}

absl::StatusOr<std::unique_ptr<kube::WatchStream>> FakeClient::Watch(
    const kube::ResourceRef& ref, absl::string_view ns, const kube::WatchOptions& options) {
  {
    absl::MutexLock l(&mu_);
    watch_calls_.push_back(options);
  }
  if (absl::Status s = Enter("watch", ref, ns, ""); !s.ok()) return s;
  absl::MutexLock l(&mu_);
  auto stream = std::make_shared<Stream>();
  stream->resource = ref.ToString();
  stream->ns = std::string(ns);
  stream->label_selector = options.label_selector;
  stream->bookmarks = options.allow_watch_bookmarks;
  int64_t from = rv_;
  if (!options.resource_version.empty() && options.resource_version != "0") {
    if (!absl::SimpleAtoi(options.resource_version, &from)) {
      return kube::MakeStatus(kube::Reason::kBadRequest, "invalid resourceVersion", 400);
    }
    if (from < compacted_rv_) {
      absl::Status gone = kube::NewExpired(
          absl::StrCat("too old resource version: ", from, " (", compacted_rv_, ")"));
      if (!gone_as_event_) return gone;
      stream->Push({kube::EventType::kError, StatusObject(gone), gone});
      stream->End(absl::OkStatus());
      return std::unique_ptr<kube::WatchStream>(new StreamHandle(stream));
    }
  }
  for (const Change& c : history_) {
    if (c.rv > from && stream->Matches(c.resource, c.ns, c.object)) {
      stream->Push({c.type, c.object, absl::OkStatus()});
    }
  }
  PruneStreams();
  streams_.push_back(stream);
  return std::unique_ptr<kube::WatchStream>(new StreamHandle(stream));
}

void FakeClient::FailNext(absl::string_view verb, absl::Status status, int times) {
  absl::MutexLock l(&mu_);
  for (int i = 0; i < times; ++i) failures_[std::string(verb)].push_back(status);
}

void FakeClient::SetInterceptor(Interceptor interceptor) {
  absl::MutexLock l(&mu_);
  interceptor_ = std::move(interceptor);
}

void FakeClient::EndWatches(absl::Status status) {
  absl::MutexLock l(&mu_);
  for (const std::shared_ptr<Stream>& s : streams_) s->End(status);
  streams_.clear();
}

void FakeClient::DropWatches() {
  EndWatches(kube::NewConnectionFailed("connection reset by peer"));
}

void FakeClient::SendWatchError(const absl::Status& status) {
  absl::MutexLock l(&mu_);
  for (const std::shared_ptr<Stream>& s : streams_) {
    s->Push({kube::EventType::kError, StatusObject(status), status});
    s->End(absl::OkStatus());
  }
  streams_.clear();
}

void FakeClient::SendBookmark() {
  absl::MutexLock l(&mu_);
  PruneStreams();
  for (const std::shared_ptr<Stream>& s : streams_) {
    if (!s->bookmarks) continue;
    s->Push({kube::EventType::kBookmark,
             {{"metadata", {{"resourceVersion", std::to_string(rv_)}}}},
             absl::OkStatus()});
  }
}

void FakeClient::Compact(bool gone_as_event) {
  absl::MutexLock l(&mu_);
  compacted_rv_ = rv_;
  history_.clear();
  gone_as_event_ = gone_as_event;
}

void FakeClient::ExpireContinueTokens() {
  absl::MutexLock l(&mu_);
  snapshots_.clear();
}

void FakeClient::WaitForOpenWatches(int n) const {
  absl::MutexLock l(&mu_);
  auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    int open = 0;
    for (const std::shared_ptr<Stream>& s : streams_) open += s->Open() ? 1 : 0;
    return open >= n;
  };
  // Streams end without taking mu_, so re-check in slices as a safety net.
  while (!mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Milliseconds(10))) {
  }
}

void FakeClient::WaitForWatchCalls(int n) const {
  absl::MutexLock l(&mu_);
  auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return static_cast<int>(watch_calls_.size()) >= n;
  };
  mu_.Await(absl::Condition(&enough));
}

int FakeClient::OpenWatches() const {
  absl::MutexLock l(&mu_);
  int open = 0;
  for (const std::shared_ptr<Stream>& s : streams_) open += s->Open() ? 1 : 0;
  return open;
}

std::vector<kube::WatchOptions> FakeClient::WatchCalls() const {
  absl::MutexLock l(&mu_);
  return watch_calls_;
}

std::vector<kube::ListOptions> FakeClient::ListCalls() const {
  absl::MutexLock l(&mu_);
  return list_calls_;
}

int FakeClient::Calls(absl::string_view verb) const {
  absl::MutexLock l(&mu_);
  auto it = calls_.find(verb);
  return it == calls_.end() ? 0 : it->second;
}

void FakeClient::WaitForCalls(absl::string_view verb, int n) const {
  absl::MutexLock l(&mu_);
  auto enough = [this, verb, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = calls_.find(verb);
    return it != calls_.end() && it->second >= n;
  };
  mu_.Await(absl::Condition(&enough));
}

std::string FakeClient::ResourceVersion() const {
  absl::MutexLock l(&mu_);
  return std::to_string(rv_);
}

std::vector<json> FakeClient::Objects(const kube::ResourceRef& ref) const {
  absl::MutexLock l(&mu_);
  std::vector<json> out;
  auto r = objects_.find(ref.ToString());
  if (r == objects_.end()) return out;
  for (const auto& [key, object] : r->second) out.push_back(object);
  return out;
}

}  // namespace weir::runtime
