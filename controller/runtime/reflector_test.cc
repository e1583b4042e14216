// Tests of the list-watch protocol, through an Informer (the Reflector's
// sink) on a FakeClient and a FakeClock. Synchronization is by waiting for
// observable states (watches open, clock waiters, handler calls), never by
// sleeping.
#include "runtime/reflector.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/errors.h"
#include "runtime/fake_client.h"
#include "runtime/informer.h"

namespace weir::runtime {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;

const kube::ResourceRef kCm = kube::resources::ConfigMaps();

// Records handler calls as "ADD a v1", "UPDATE a v1->v2", "DELETE a v2".
class Recorder final : public ResourceEventHandler {
 public:
  void OnAdd(const ObjectPtr& o) override { Log(absl::StrCat("ADD ", Name(o), " ", V(o))); }
  void OnUpdate(const ObjectPtr& old, const ObjectPtr& o) override {
    Log(absl::StrCat("UPDATE ", Name(o), " ", V(old), "->", V(o)));
  }
  void OnDelete(const ObjectPtr& o) override { Log(absl::StrCat("DELETE ", Name(o), " ", V(o))); }

  // Waits until `n` calls in all were recorded; returns them all.
  std::vector<std::string> WaitFor(size_t n) {
    absl::MutexLock l(&mu_);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return log_.size() >= n; };
    mu_.Await(absl::Condition(&enough));
    return log_;
  }
  std::vector<std::string> Since(size_t from, size_t n) {
    std::vector<std::string> all = WaitFor(from + n);
    return {all.begin() + from, all.end()};
  }
  size_t size() {
    absl::MutexLock l(&mu_);
    return log_.size();
  }

 private:
  static std::string Name(const ObjectPtr& o) { return (*o)["metadata"].value("name", ""); }
  static std::string V(const ObjectPtr& o) {
    return o->contains("data") ? (*o)["data"].value("v", "") : "";
  }
  void Log(std::string s) {
    absl::MutexLock l(&mu_);
    log_.push_back(std::move(s));
  }
  absl::Mutex mu_;
  std::vector<std::string> log_ ABSL_GUARDED_BY(mu_);
};

class RecordingMetrics final : public ReflectorMetrics {
 public:
  void OnWatchRestart(const std::string& resource, absl::string_view reason) override {
    absl::MutexLock l(&mu_);
    restarts_.push_back(absl::StrCat(resource, ":", reason));
  }
  void OnList(const std::string& resource, bool ok) override {
    absl::MutexLock l(&mu_);
    lists_.push_back(absl::StrCat(resource, ":", ok ? "ok" : "error"));
  }
  void OnCached(const std::string&, size_t) override {}
  void OnWatchEvent(const std::string&, absl::string_view) override {}
  std::vector<std::string> restarts() {
    absl::MutexLock l(&mu_);
    return restarts_;
  }
  std::vector<std::string> lists() {
    absl::MutexLock l(&mu_);
    return lists_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> restarts_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> lists_ ABSL_GUARDED_BY(mu_);
};

class ReflectorTest : public ::testing::Test {
 protected:
  void Start(int64_t page_size = 500) {
    InformerOptions options;
    options.reflector.resource = kCm;
    options.reflector.ns = "ns";
    options.reflector.clock = &clock_;
    options.reflector.metrics = &metrics_;
    options.reflector.page_size = page_size;
    options.reflector.initial_backoff = absl::Seconds(1);
    options.reflector.max_backoff = absl::Seconds(3);
    options.reflector.backoff_jitter = 0.5;
    informer_ = std::make_unique<Informer>(&client_, options);
    informer_->AddEventHandler(recorder_);
    informer_->Start();
  }

  void TearDown() override {
    if (informer_ != nullptr) informer_->Stop();
  }

  // Creates or updates ns/name with data.v = v.
  void Put(const std::string& name, const std::string& v, const std::string& ns = "ns") {
    json cm = {{"metadata", {{"name", name}}}, {"data", {{"v", v}}}};
    if (client_.Get(kCm, ns, name).ok()) {
      ASSERT_TRUE(client_.MergePatch(kCm, ns, name, {{"data", {{"v", v}}}}).ok());
    } else {
      ASSERT_TRUE(client_.Create(kCm, ns, cm).ok());
    }
  }
  void Del(const std::string& name) { ASSERT_TRUE(client_.Delete(kCm, "ns", name).ok()); }

  // Waits for the reflector to block in a backoff sleep and returns how
  // long it sleeps. Callers first wait for a call made after any previous
  // sleep, so a previous sleeper has surely left the clock.
  absl::Duration WaitForBackoff() {
    clock_.WaitForWaiters(1);
    return clock_.NextDeadline() - clock_.Now();
  }

  std::vector<std::string> StoreKeys() { return informer_->store().ListKeys(); }

  FakeClock clock_;
  FakeClient client_{&clock_};
  RecordingMetrics metrics_;
  std::shared_ptr<Recorder> recorder_ = std::make_shared<Recorder>();
  std::unique_ptr<Informer> informer_;
};

TEST_F(ReflectorTest, InitialListThenWatch) {
  Put("a", "1");
  Put("b", "1");
  Put("c", "1", "other");  // not watched
  const std::string list_rv = client_.ResourceVersion();
  Start();
  client_.WaitForOpenWatches(1);
  EXPECT_TRUE(informer_->HasSynced());
  EXPECT_THAT(recorder_->WaitFor(2), ElementsAre("ADD a 1", "ADD b 1"));
  EXPECT_THAT(StoreKeys(), ElementsAre("ns/a", "ns/b"));

  std::vector<kube::WatchOptions> watches = client_.WatchCalls();
  ASSERT_EQ(watches.size(), 1u);
  EXPECT_EQ(watches[0].resource_version, list_rv);
  EXPECT_TRUE(watches[0].allow_watch_bookmarks);
  ASSERT_TRUE(watches[0].timeout_seconds.has_value());
  EXPECT_GE(*watches[0].timeout_seconds, 300);
  EXPECT_LT(*watches[0].timeout_seconds, 600);
  // A consistent (not cached) list.
  EXPECT_EQ(client_.ListCalls()[0].resource_version, "");

  Put("a", "2");
  Del("b");
  Put("d", "1");
  Put("c", "2", "other");
  EXPECT_THAT(recorder_->Since(2, 3), ElementsAre("UPDATE a 1->2", "DELETE b 1", "ADD d 1"));
  EXPECT_THAT(StoreKeys(), ElementsAre("ns/a", "ns/d"));
  EXPECT_EQ((*informer_->store().Get("ns/a"))["data"]["v"], "2");
  // List items get apiVersion and kind like watch events.
  EXPECT_EQ((*informer_->store().Get("ns/a"))["kind"], "ConfigMap");
  EXPECT_EQ(informer_->reflector().stats().lists, 1);
  EXPECT_EQ(informer_->reflector().stats().watches, 1);
  EXPECT_EQ(recorder_->size(), 5u);
}

TEST_F(ReflectorTest, ListsAllPages) {
  for (int i = 0; i < 5; ++i) Put(absl::StrCat("o", i), "1");
  Start(/*page_size=*/2);
  client_.WaitForOpenWatches(1);
  EXPECT_EQ(informer_->store().size(), 5u);
  std::vector<kube::ListOptions> lists = client_.ListCalls();
  ASSERT_EQ(lists.size(), 3u);
  EXPECT_EQ(lists[0].limit, 2);
  EXPECT_TRUE(lists[0].continue_token.empty());
  EXPECT_FALSE(lists[1].continue_token.empty());
  EXPECT_EQ(recorder_->WaitFor(5).size(), 5u);
}

TEST_F(ReflectorTest, GoneFromWatchCallRelistsWithDeltas) {
  Put("a", "1");
  Put("b", "1");
  Put("c", "1");
  Start();
  client_.WaitForOpenWatches(1);
  recorder_->WaitFor(3);
  ObjectPtr c_before = informer_->store().Get("ns/c");

  client_.DropWatches();
  WaitForBackoff();
  Del("a");
  Put("b", "2");
  Put("d", "1");
  client_.Compact();
  clock_.Advance(absl::Seconds(10));
  client_.WaitForWatchCalls(2);  // -> 410 from Watch()
  WaitForBackoff();
  clock_.Advance(absl::Seconds(10));
  client_.WaitForOpenWatches(1);  // relisted and watching again

  EXPECT_THAT(recorder_->Since(3, 3), ElementsAre("DELETE a 1", "UPDATE b 1->2", "ADD d 1"));
  EXPECT_THAT(StoreKeys(), ElementsAre("ns/b", "ns/c", "ns/d"));
  EXPECT_EQ(informer_->store().Get("ns/c"), c_before);  // unchanged: no event, same snapshot
  Reflector::Stats stats = informer_->reflector().stats();
  EXPECT_EQ(stats.lists, 2);
  EXPECT_EQ(stats.relists, 1);
  EXPECT_EQ(client_.WatchCalls().back().resource_version, client_.ResourceVersion());
  EXPECT_THAT(metrics_.restarts(), ElementsAre("configmaps:error", "configmaps:gone"));
  EXPECT_THAT(metrics_.lists(), ElementsAre("configmaps:ok", "configmaps:ok"));
  EXPECT_EQ(recorder_->size(), 6u);
}

TEST_F(ReflectorTest, GoneAsErrorEventRelists) {
  Put("a", "1");
  Start();
  client_.WaitForOpenWatches(1);
  recorder_->WaitFor(1);

  client_.DropWatches();
  WaitForBackoff();
  Del("a");
  Put("b", "1");
  client_.Compact(/*gone_as_event=*/true);
  clock_.Advance(absl::Seconds(10));
  client_.WaitForWatchCalls(2);  // opens, then an ERROR event with 410
  WaitForBackoff();
  EXPECT_EQ(informer_->reflector().stats().relists, 1);
  clock_.Advance(absl::Seconds(10));
  client_.WaitForWatchCalls(3);
  client_.WaitForOpenWatches(1);
  EXPECT_THAT(recorder_->Since(1, 2), ElementsAre("DELETE a 1", "ADD b 1"));
  EXPECT_THAT(StoreKeys(), ElementsAre("ns/b"));
}

TEST_F(ReflectorTest, DroppedConnectionResumesFromLastVersionWithBackoff) {
  Put("a", "1");
  Start();
  client_.WaitForOpenWatches(1);
  Put("a", "2");
  recorder_->WaitFor(2);
  const std::string last_rv = client_.ResourceVersion();
  EXPECT_EQ(informer_->reflector().LastResourceVersion(), last_rv);

  client_.FailNext("watch", kube::NewConnectionFailed("connection refused"), 2);
  client_.DropWatches();
  // Exponential, jittered, capped at max_backoff (3s): 1s, 2s, 3s.
  const absl::Duration base[] = {absl::Seconds(1), absl::Seconds(2), absl::Seconds(3)};
  for (int i = 0; i < 3; ++i) {
    client_.WaitForWatchCalls(i + 1);
    absl::Duration d = WaitForBackoff();
    EXPECT_GE(d, base[i]) << "attempt " << i;
    EXPECT_LT(d, base[i] * 1.5) << "attempt " << i;
    if (i == 2) Put("b", "1");  // changed while no watch is open
    clock_.Advance(d);
  }
  client_.WaitForOpenWatches(1);
  std::vector<kube::WatchOptions> watches = client_.WatchCalls();
  ASSERT_EQ(watches.size(), 4u);
  for (size_t i = 1; i < watches.size(); ++i) EXPECT_EQ(watches[i].resource_version, last_rv);
  EXPECT_THAT(recorder_->Since(2, 1), ElementsAre("ADD b 1"));  // replayed, not relisted
  EXPECT_EQ(client_.ListCalls().size(), 1u);
  EXPECT_EQ(informer_->reflector().stats().relists, 0);
  EXPECT_THAT(metrics_.restarts(),
              ElementsAre("configmaps:error", "configmaps:error", "configmaps:error"));
}

TEST_F(ReflectorTest, BackoffResetsAfterAHealthyWatch) {
  Start();
  client_.WaitForOpenWatches(1);
  client_.DropWatches();
  EXPECT_EQ(WaitForBackoff() < absl::Seconds(1.5), true);
  clock_.Advance(absl::Seconds(2));
  client_.WaitForOpenWatches(1);
  Put("a", "1");
  recorder_->WaitFor(1);
  client_.DropWatches();  // the watch delivered an event: healthy
  client_.WaitForWatchCalls(2);
  absl::Duration d = WaitForBackoff();
  EXPECT_GE(d, absl::Seconds(1));
  EXPECT_LT(d, absl::Seconds(1.5));
}

TEST_F(ReflectorTest, ServerCloseAfterEventsResumesAtOnce) {
  Start();
  client_.WaitForOpenWatches(1);
  Put("a", "1");
  recorder_->WaitFor(1);
  client_.EndWatches(absl::OkStatus());  // e.g. timeoutSeconds elapsed
  client_.WaitForWatchCalls(2);
  client_.WaitForOpenWatches(1);
  EXPECT_EQ(clock_.NumWaiters(), 0);  // no backoff
  EXPECT_EQ(client_.WatchCalls()[1].resource_version, client_.ResourceVersion());
  EXPECT_THAT(metrics_.restarts(), ElementsAre("configmaps:closed"));
}

TEST_F(ReflectorTest, BookmarksAdvanceTheResourceVersion) {
  Start();
  client_.WaitForOpenWatches(1);
  const std::string list_rv = client_.ResourceVersion();
  Put("x", "1", "other");
  Put("y", "1", "other");
  const std::string bookmark_rv = client_.ResourceVersion();
  ASSERT_NE(bookmark_rv, list_rv);
  client_.SendBookmark();
  client_.DropWatches();  // delivered after the bookmark
  WaitForBackoff();
  EXPECT_EQ(informer_->reflector().LastResourceVersion(), bookmark_rv);
  clock_.Advance(absl::Seconds(10));
  client_.WaitForWatchCalls(2);
  EXPECT_EQ(client_.WatchCalls()[1].resource_version, bookmark_rv);
  EXPECT_EQ(recorder_->size(), 0u);
}

TEST_F(ReflectorTest, ErrorEventResumesWithoutRelist) {
  Put("a", "1");
  Start();
  client_.WaitForOpenWatches(1);
  recorder_->WaitFor(1);
  const std::string rv = client_.ResourceVersion();
  client_.SendWatchError(
      kube::MakeStatus(kube::Reason::kInternalError, "etcd leader changed", 500));
  WaitForBackoff();
  clock_.Advance(absl::Seconds(10));
  client_.WaitForWatchCalls(2);
  client_.WaitForOpenWatches(1);
  EXPECT_EQ(client_.WatchCalls()[1].resource_version, rv);
  EXPECT_EQ(client_.ListCalls().size(), 1u);
  EXPECT_THAT(metrics_.restarts(), ElementsAre("configmaps:error"));
}

TEST_F(ReflectorTest, ListFailureBacksOffAndIsNotSynced) {
  client_.FailNext("list", kube::NewConnectionFailed("refused"), 1);
  Put("a", "1");
  Start();
  absl::Duration d = WaitForBackoff();
  EXPECT_GE(d, absl::Seconds(1));
  EXPECT_FALSE(informer_->HasSynced());
  EXPECT_FALSE(informer_->reflector().HasSynced());
  clock_.Advance(d);
  client_.WaitForOpenWatches(1);
  EXPECT_TRUE(informer_->HasSynced());
  EXPECT_THAT(recorder_->WaitFor(1), ElementsAre("ADD a 1"));
  EXPECT_THAT(metrics_.lists(), ElementsAre("configmaps:error", "configmaps:ok"));
}

TEST_F(ReflectorTest, StopWhileBlockedInWatch) {
  Start();
  client_.WaitForOpenWatches(1);
  informer_->Stop();
  EXPECT_EQ(client_.OpenWatches(), 0);
  EXPECT_TRUE(metrics_.restarts().empty());
  informer_->Stop();  // idempotent
}

TEST_F(ReflectorTest, StopWhileBackingOff) {
  client_.FailNext("list", kube::NewConnectionFailed("refused"), 1);
  Start();
  WaitForBackoff();
  informer_->Stop();  // returns without the clock moving
  EXPECT_EQ(clock_.NumWaiters(), 0);
  EXPECT_EQ(client_.Calls("list"), 1);
}

TEST_F(ReflectorTest, StopBeforeStart) {
  InformerOptions options;
  options.reflector.resource = kCm;
  options.reflector.clock = &clock_;
  Informer informer(&client_, options);
  informer.Stop();
  EXPECT_FALSE(informer.HasSynced());
}

}  // namespace
}  // namespace weir::runtime
