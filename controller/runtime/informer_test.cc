#include "runtime/informer.h"

#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/errors.h"
#include "runtime/fake_client.h"

namespace weir::runtime {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

// Collects the names of added objects.
class Names final : public ResourceEventHandler {
 public:
  void OnAdd(const ObjectPtr& o) override { Push("+" + (*o)["metadata"].value("name", "")); }
  void OnUpdate(const ObjectPtr&, const ObjectPtr& o) override {
    Push("~" + (*o)["metadata"].value("name", ""));
  }
  void OnDelete(const ObjectPtr& o) override { Push("-" + (*o)["metadata"].value("name", "")); }
  std::vector<std::string> WaitFor(size_t n) {
    absl::MutexLock l(&mu_);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return names_.size() >= n; };
    mu_.Await(absl::Condition(&enough));
    return names_;
  }

 private:
  void Push(std::string s) {
    absl::MutexLock l(&mu_);
    names_.push_back(std::move(s));
  }
  absl::Mutex mu_;
  std::vector<std::string> names_ ABSL_GUARDED_BY(mu_);
};

json Named(const std::string& name, json labels = json::object()) {
  return {{"metadata", {{"name", name}, {"labels", labels}}}};
}

InformerOptions Options(const kube::ResourceRef& resource, Clock* clock) {
  InformerOptions options;
  options.reflector.resource = resource;
  options.reflector.clock = clock;
  return options;
}

TEST(InformerTest, HandlerAddedLateGetsTheCacheReplayedThenLiveEvents) {
  FakeClock clock;
  FakeClient client(&clock);
  const kube::ResourceRef cm = kube::resources::ConfigMaps();
  ASSERT_TRUE(client.Create(cm, "ns", Named("a")).ok());
  ASSERT_TRUE(client.Create(cm, "ns", Named("b")).ok());
  Informer informer(&client, Options(cm, &clock));
  informer.Start();
  client.WaitForOpenWatches(1);
  auto late = std::make_shared<Names>();
  informer.AddEventHandler(late);
  EXPECT_THAT(late->WaitFor(2), ElementsAre("+a", "+b"));
  ASSERT_TRUE(client.Delete(cm, "ns", "a").ok());
  EXPECT_THAT(late->WaitFor(3), ElementsAre("+a", "+b", "-a"));
}

TEST(InformerTest, AThrowingHandlerDoesNotStopOthers) {
  FakeClock clock;
  FakeClient client(&clock);
  const kube::ResourceRef cm = kube::resources::ConfigMaps();
  Informer informer(&client, Options(cm, &clock));
  auto thrower = std::make_shared<EventHandlerFuncs>();
  thrower->on_add = [](const ObjectPtr&) { throw std::runtime_error("boom"); };
  auto names = std::make_shared<Names>();
  informer.AddEventHandler(thrower);
  informer.AddEventHandler(names);
  informer.Start();
  client.WaitForOpenWatches(1);
  ASSERT_TRUE(client.Create(cm, "ns", Named("a")).ok());
  ASSERT_TRUE(client.Create(cm, "ns", Named("b")).ok());
  EXPECT_THAT(names->WaitFor(2), ElementsAre("+a", "+b"));
}

TEST(InformerTest, PodsAreTransformedAndIndexed) {
  FakeClock clock;
  FakeClient client(&clock);
  const kube::ResourceRef pods = kube::resources::Pods();
  json pod = Named("p", {{"weir.dev/batch-uid", "u1"}});
  pod["metadata"]["managedFields"] = json::array({{{"manager", "x"}}});
  pod["metadata"]["ownerReferences"] = {{{"uid", "job-uid"}, {"name", "j"}, {"kind", "Job"}}};
  pod["spec"] = {{"volumes", json::array({{{"name", "v"}}})},
                 {"containers", {{{"name", "main"}, {"image", "busybox"}}}}};
  ASSERT_TRUE(client.Create(pods, "ns", pod).ok());
  InformerOptions options = Options(pods, &clock);
  options.store.indexed_label_keys = {"weir.dev/batch-uid"};
  Informer informer(&client, options);
  ASSERT_TRUE(informer
                  .AddIndex("node",
                            [](const json& o) -> std::vector<std::string> {
                              return {o.value("spec", json::object()).value("nodeName", "")};
                            })
                  .ok());
  informer.Start();
  client.WaitForOpenWatches(1);
  ObjectPtr cached = informer.store().Get("ns", "p");
  ASSERT_NE(cached, nullptr);
  EXPECT_FALSE((*cached)["metadata"].contains("managedFields"));
  EXPECT_FALSE((*cached)["spec"].contains("volumes"));
  EXPECT_EQ((*cached)["spec"]["containers"], json::array({{{"name", "main"}}}));
  EXPECT_EQ(informer.store().ByOwner("job-uid").size(), 1u);
  EXPECT_EQ(informer.store().ByLabel("weir.dev/batch-uid", "u1").size(), 1u);
  EXPECT_EQ(informer.store().ByIndex("node", "").size(), 1u);
}

// weir caches only its own children (controller_main's selector): the cache,
// and weir_informer_objects, do not grow with other workloads.
TEST(InformerTest, ASelectorKeepsOthersObjectsOutAndTheMetricsCountTheCacheAndEvents) {
  FakeClock clock;
  FakeClient client(&clock);
  const kube::ResourceRef pods = kube::resources::Pods();
  ASSERT_TRUE(client.Create(pods, "ns", Named("mine", {{"weir.dev/managed-by", "weir"}})).ok());
  ASSERT_TRUE(client.Create(pods, "ns", Named("theirs")).ok());
  MetricsRegistry registry;
  std::unique_ptr<ReflectorMetrics> metrics = NewReflectorMetrics(registry);
  InformerOptions options = Options(pods, &clock);
  options.reflector.label_selector = "weir.dev/managed-by=weir";
  options.reflector.metrics = metrics.get();
  Informer informer(&client, options);
  auto names = std::make_shared<Names>();
  informer.AddEventHandler(names);
  informer.Start();
  EXPECT_THAT(names->WaitFor(1), ElementsAre("+mine"));
  EXPECT_THAT(registry.Render(), HasSubstr("weir_informer_objects{resource=\"pods\"} 1\n"));

  ASSERT_TRUE(client.Create(pods, "ns", Named("theirs-2")).ok());
  ASSERT_TRUE(client.Create(pods, "ns", Named("mine-2", {{"weir.dev/managed-by", "weir"}})).ok());
  ASSERT_TRUE(client.Delete(pods, "ns", "mine").ok());
  EXPECT_THAT(names->WaitFor(3), ElementsAre("+mine", "+mine-2", "-mine"));
  EXPECT_THAT(registry.Render(), HasSubstr("weir_informer_objects{resource=\"pods\"} 1\n"));
  // The watch delivered only the selected pods' events: mine-2 added, mine deleted.
  EXPECT_THAT(registry.Render(),
              HasSubstr("weir_watch_events_total{resource=\"pods\",type=\"ADDED\"} 1\n"));
  EXPECT_THAT(registry.Render(),
              HasSubstr("weir_watch_events_total{resource=\"pods\",type=\"DELETED\"} 1\n"));
  informer.Stop();
}

TEST(InformerTest, KeepFullObjectsSkipsTheTransform) {
  FakeClock clock;
  FakeClient client(&clock);
  const kube::ResourceRef pods = kube::resources::Pods();
  json pod = Named("p");
  pod["spec"] = {{"volumes", json::array({{{"name", "v"}}})}};
  ASSERT_TRUE(client.Create(pods, "ns", pod).ok());
  InformerOptions options = Options(pods, &clock);
  options.keep_full_objects = true;
  Informer informer(&client, options);
  informer.Start();
  client.WaitForOpenWatches(1);
  EXPECT_TRUE((*informer.store().Get("ns/p"))["spec"].contains("volumes"));
}

TEST(InformerFactoryTest, OneInformerPerResourceAndWaitForCacheSync) {
  FakeClient client;
  InformerFactory::Options options;
  options.ns = "ns";
  InformerFactory factory(&client, options);
  Informer& jobs = factory.For(kube::resources::Jobs());
  Informer& pods = factory.For(kube::resources::Pods());
  EXPECT_EQ(&jobs, &factory.For(kube::resources::Jobs()));
  EXPECT_NE(&jobs, &pods);
  EXPECT_EQ(jobs.reflector().options().ns, "ns");
  EXPECT_FALSE(factory.HasSynced());
  factory.Start();
  EXPECT_TRUE(factory.WaitForCacheSync(absl::Seconds(30)));
  EXPECT_TRUE(factory.HasSynced());
  // An informer added later is started by the next Start().
  Informer& cms = factory.For(kube::resources::ConfigMaps());
  EXPECT_FALSE(factory.HasSynced());
  factory.Start();
  EXPECT_TRUE(factory.WaitForCacheSync(absl::Seconds(30)));
  EXPECT_TRUE(cms.HasSynced());
  factory.Stop();
  EXPECT_EQ(client.OpenWatches(), 0);
}

TEST(InformerFactoryTest, WaitForCacheSyncTimesOutOnTheClock) {
  FakeClock clock;
  FakeClient client(&clock);
  client.FailNext("list", kube::NewConnectionFailed("refused"), 1000);
  InformerFactory::Options options;
  options.clock = &clock;
  InformerFactory factory(&client, options);
  factory.For(kube::resources::Jobs());
  factory.Start();
  bool synced = true;
  std::thread waiter([&] { synced = factory.WaitForCacheSync(absl::Seconds(5)); });
  clock.WaitForWaiters(2);  // the reflector's backoff and the waiter
  clock.Advance(absl::Seconds(6));
  waiter.join();
  EXPECT_FALSE(synced);
  factory.Stop();
}

}  // namespace
}  // namespace weir::runtime
