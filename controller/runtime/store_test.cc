#include "runtime/store.h"

#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace weir::runtime {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

json Obj(const std::string& ns, const std::string& name, const std::string& rv,
         json labels = json::object(), json owners = json::array()) {
  json metadata = {{"name", name}, {"resourceVersion", rv}, {"labels", labels}};
  if (!ns.empty()) metadata["namespace"] = ns;
  if (!owners.empty()) metadata["ownerReferences"] = owners;
  return {{"metadata", metadata}, {"data", {{"rv", rv}}}};
}

json Owner(const std::string& uid) {
  return {{"apiVersion", "weir.dev/v1alpha1"}, {"kind", "Batch"}, {"name", "b"}, {"uid", uid}};
}

std::vector<std::string> Names(const std::vector<ObjectPtr>& objects) {
  std::vector<std::string> out;
  for (const ObjectPtr& o : objects) out.push_back((*o)["metadata"]["name"].get<std::string>());
  return out;
}

TEST(ObjectKeyTest, NamespacedAndClusterScoped) {
  EXPECT_EQ(ObjectKey("ns", "a"), "ns/a");
  EXPECT_EQ(ObjectKey("", "node1"), "node1");
  EXPECT_EQ(ObjectKey(Obj("ns", "a", "1")), "ns/a");
  EXPECT_EQ(ObjectKey(Obj("", "a", "1")), "a");
  EXPECT_EQ(ObjectKey(json{{"metadata", json::object()}}), "");
  EXPECT_EQ(ObjectKey(json("not an object")), "");
}

TEST(StoreTest, UpsertGetAndRemove) {
  Store store;
  std::optional<Delta> d = store.Upsert(Obj("ns", "a", "1"));
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->type, Delta::Type::kAdded);
  EXPECT_EQ(d->old_object, nullptr);
  ObjectPtr first = store.Get("ns", "a");
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first, d->object);

  d = store.Upsert(Obj("ns", "a", "2"));
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->type, Delta::Type::kModified);
  EXPECT_EQ(d->old_object, first);
  // The old snapshot is untouched by the update.
  EXPECT_EQ((*first)["data"]["rv"], "1");
  EXPECT_EQ((*store.Get("ns/a"))["data"]["rv"], "2");

  // Same resourceVersion again: no change, no delta.
  EXPECT_FALSE(store.Upsert(Obj("ns", "a", "2")).has_value());

  Delta removed = store.Remove(Obj("ns", "a", "3"));
  EXPECT_EQ(removed.type, Delta::Type::kDeleted);
  EXPECT_EQ((*removed.old_object)["data"]["rv"], "2");
  EXPECT_EQ((*removed.object)["data"]["rv"], "3");
  EXPECT_EQ(store.Get("ns/a"), nullptr);
  EXPECT_EQ(store.size(), 0u);

  // Removing an unknown object reports no old state.
  EXPECT_EQ(store.Remove(Obj("ns", "zz", "4")).old_object, nullptr);
  // Objects without a name are ignored.
  EXPECT_FALSE(store.Upsert(json{{"metadata", json::object()}}).has_value());
}

TEST(StoreTest, ListIsInKeyOrderAndByNamespace) {
  Store store;
  store.Upsert(Obj("b", "x", "1"));
  store.Upsert(Obj("a", "y", "1"));
  store.Upsert(Obj("a", "x", "1"));
  EXPECT_THAT(store.ListKeys(), ElementsAre("a/x", "a/y", "b/x"));
  EXPECT_THAT(Names(store.ListNamespace("a")), ElementsAre("x", "y"));
  EXPECT_THAT(Names(store.ListNamespace("b")), ElementsAre("x"));
  EXPECT_EQ(store.ListNamespace("").size(), 3u);
  EXPECT_THAT(store.ListNamespace("none"), IsEmpty());
}

TEST(StoreTest, OwnerIndexFollowsUpdatesAndDeletes) {
  Store store;
  store.Upsert(Obj("ns", "j1", "1", {}, {Owner("u1")}));
  store.Upsert(Obj("ns", "j2", "1", {}, {Owner("u1"), Owner("u2")}));
  store.Upsert(Obj("ns", "j3", "1"));
  EXPECT_THAT(Names(store.ByOwner("u1")), ElementsAre("j1", "j2"));
  EXPECT_THAT(Names(store.ByOwner("u2")), ElementsAre("j2"));

  // j2 loses owner u1.
  store.Upsert(Obj("ns", "j2", "2", {}, {Owner("u2")}));
  EXPECT_THAT(Names(store.ByOwner("u1")), ElementsAre("j1"));
  store.Remove(Obj("ns", "j1", "3"));
  EXPECT_THAT(store.ByOwner("u1"), IsEmpty());
  EXPECT_THAT(Names(store.ByOwner("u2")), ElementsAre("j2"));
}

TEST(StoreTest, LabelIndexOnlyForConfiguredKeys) {
  StoreOptions options;
  options.indexed_label_keys = {"weir.dev/batch-uid", "weir.dev/step"};
  Store store(options);
  store.Upsert(Obj("ns", "a", "1", {{"weir.dev/batch-uid", "u1"}, {"weir.dev/step", "s"}}));
  store.Upsert(Obj("ns", "b", "1", {{"weir.dev/batch-uid", "u1"}, {"other", "x"}}));
  store.Upsert(Obj("ns", "c", "1", {{"weir.dev/batch-uid", "u2"}}));
  EXPECT_THAT(Names(store.ByLabel("weir.dev/batch-uid", "u1")), ElementsAre("a", "b"));
  EXPECT_THAT(Names(store.ByLabel("weir.dev/step", "s")), ElementsAre("a"));
  EXPECT_THAT(store.ByLabel("other", "x"), IsEmpty());  // not indexed

  store.Upsert(Obj("ns", "a", "2", {{"weir.dev/batch-uid", "u2"}}));
  EXPECT_THAT(Names(store.ByLabel("weir.dev/batch-uid", "u1")), ElementsAre("b"));
  EXPECT_THAT(Names(store.ByLabel("weir.dev/batch-uid", "u2")), ElementsAre("a", "c"));
  EXPECT_THAT(store.ByLabel("weir.dev/step", "s"), IsEmpty());
}

TEST(StoreTest, NoLabelIndexWithoutKeys) {
  Store store;
  EXPECT_FALSE(store.HasIndex(kLabelIndex));
  EXPECT_TRUE(store.HasIndex(kNamespaceIndex));
  EXPECT_TRUE(store.HasIndex(kOwnerUidIndex));
  StoreOptions options;
  options.index_owner_uid = false;
  Store no_owner(options);
  EXPECT_FALSE(no_owner.HasIndex(kOwnerUidIndex));
}

TEST(StoreTest, CustomIndexCoversExistingAndNewObjects) {
  Store store;
  store.Upsert(Obj("ns", "a", "1", {{"tier", "gold"}}));
  ASSERT_TRUE(store
                  .AddIndex("tier",
                            [](const json& o) -> std::vector<std::string> {
                              const json& labels = o["metadata"]["labels"];
                              if (!labels.contains("tier")) return {};
                              return {labels["tier"].get<std::string>()};
                            })
                  .ok());
  store.Upsert(Obj("ns", "b", "1", {{"tier", "gold"}}));
  store.Upsert(Obj("ns", "c", "1"));
  EXPECT_THAT(Names(store.ByIndex("tier", "gold")), ElementsAre("a", "b"));
  EXPECT_THAT(store.ByIndex("no-such-index", "gold"), IsEmpty());
  EXPECT_TRUE(absl::IsAlreadyExists(store.AddIndex("tier", nullptr)));
  EXPECT_TRUE(absl::IsAlreadyExists(store.AddIndex(kNamespaceIndex, nullptr)));
}

TEST(StoreTest, ReplaceComputesDeltas) {
  Store store;
  store.Upsert(Obj("ns", "keep", "1", {}, {Owner("u")}));
  store.Upsert(Obj("ns", "change", "1", {}, {Owner("u")}));
  store.Upsert(Obj("ns", "gone", "1", {}, {Owner("u")}));
  ObjectPtr kept = store.Get("ns/keep");
  ObjectPtr gone = store.Get("ns/gone");

  std::vector<json> fresh = {Obj("ns", "new", "5"), Obj("ns", "change", "4", {}, {Owner("u")}),
                             Obj("ns", "keep", "1", {}, {Owner("u")})};
  std::vector<Delta> deltas = store.Replace(std::move(fresh));
  ASSERT_EQ(deltas.size(), 3u);
  EXPECT_EQ(deltas[0].type, Delta::Type::kDeleted);
  EXPECT_EQ(deltas[0].object, gone);
  EXPECT_EQ(deltas[1].type, Delta::Type::kModified);
  EXPECT_EQ((*deltas[1].old_object)["data"]["rv"], "1");
  EXPECT_EQ((*deltas[1].object)["data"]["rv"], "4");
  EXPECT_EQ(deltas[2].type, Delta::Type::kAdded);
  EXPECT_EQ((*deltas[2].object)["metadata"]["name"], "new");

  EXPECT_THAT(store.ListKeys(), ElementsAre("ns/change", "ns/keep", "ns/new"));
  EXPECT_EQ(store.Get("ns/keep"), kept);  // unchanged: same snapshot
  EXPECT_THAT(Names(store.ByOwner("u")), ElementsAre("change", "keep"));
  EXPECT_THAT(Names(store.ListNamespace("ns")), ElementsAre("change", "keep", "new"));

  EXPECT_THAT(store.Replace({}).size(), 3u);
  EXPECT_EQ(store.size(), 0u);
  EXPECT_THAT(store.ByOwner("u"), IsEmpty());
  EXPECT_THAT(store.ListNamespace("ns"), IsEmpty());
}

TEST(StoreTest, TransformAppliesOnEveryWrite) {
  int calls = 0;
  StoreOptions options;
  options.transform = [&calls](json o) {
    ++calls;
    o.erase("data");
    return o;
  };
  Store store(options);
  store.Upsert(Obj("ns", "a", "1"));
  store.Replace({Obj("ns", "b", "1")});
  Delta d = store.Remove(Obj("ns", "b", "2"));
  EXPECT_EQ(calls, 3);
  EXPECT_FALSE(d.object->contains("data"));
  EXPECT_FALSE(d.old_object->contains("data"));
}

TEST(StoreTest, ConcurrentReadersSeeWholeSnapshots) {
  Store store;
  store.Upsert(Obj("ns", "a", "0"));
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 1; i <= 2000; ++i) {
      json o = Obj("ns", "a", std::to_string(i));
      o["data"]["copy"] = std::to_string(i);
      store.Upsert(std::move(o));
    }
    done = true;
  });
  int reads = 0;
  while (!done) {
    ObjectPtr o = store.Get("ns/a");
    ASSERT_NE(o, nullptr);
    // Both fields come from the same write.
    if (o->at("data").contains("copy")) {
      ASSERT_EQ((*o)["data"]["rv"], (*o)["data"]["copy"]);
    }
    ++reads;
  }
  writer.join();
  EXPECT_GT(reads, 0);
  EXPECT_EQ((*store.Get("ns/a"))["data"]["rv"], "2000");
}

// ---- Transforms ------------------------------------------------------------

json FullMetadata() {
  return {{"name", "p"},
          {"namespace", "ns"},
          {"uid", "u-1"},
          {"resourceVersion", "42"},
          {"generation", 3},
          {"creationTimestamp", "2024-01-01T00:00:00Z"},
          {"deletionTimestamp", "2024-01-02T00:00:00Z"},
          {"labels", {{"weir.dev/batch", "b"}, {"app", "x"}}},
          {"annotations",
           {{"weir.dev/cancel-requested", "true"},
            {"sim.weir.dev/outcome", "OOMKilled"},
            {"kubectl.kubernetes.io/last-applied-configuration", "{...}"},
            {"other.io/x", "y"}}},
          {"finalizers", {"weir.dev/cleanup"}},
          {"ownerReferences", {Owner("o-1")}},
          {"managedFields", {{{"manager", "kubectl"}}}},
          {"selfLink", "/x"}};
}

json ExpectedMetadata() {
  json m = FullMetadata();
  m.erase("managedFields");
  m.erase("selfLink");
  m["annotations"] = {{"weir.dev/cancel-requested", "true"}, {"sim.weir.dev/outcome", "OOMKilled"}};
  return m;
}

TEST(TransformTest, StripBookkeepingKeepsEverythingElse) {
  json o = {{"apiVersion", "v1"},
            {"kind", "ConfigMap"},
            {"metadata", FullMetadata()},
            {"data", {{"k", "v"}}}};
  json out = transforms::StripBookkeeping(o);
  EXPECT_FALSE(out["metadata"].contains("managedFields"));
  EXPECT_FALSE(
      out["metadata"]["annotations"].contains("kubectl.kubernetes.io/last-applied-configuration"));
  EXPECT_EQ(out["metadata"]["annotations"]["other.io/x"], "y");
  EXPECT_EQ(out["data"], o["data"]);
  // An annotation map left empty disappears.
  json only_last_applied = {
      {"metadata",
       {{"name", "a"},
        {"annotations", {{"kubectl.kubernetes.io/last-applied-configuration", "{}"}}}}}};
  EXPECT_FALSE(transforms::StripBookkeeping(only_last_applied)["metadata"].contains("annotations"));
}

TEST(TransformTest, PodKeepsWhatControllersRead) {
  json container_status = {
      {"name", "main"},
      {"image", "busybox"},
      {"imageID", "sha256:..."},
      {"containerID", "kwok://x"},
      {"restartCount", 0},
      {"state", {{"terminated", {{"exitCode", 137}, {"reason", "OOMKilled"}}}}}};
  json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", FullMetadata()},
              {"spec",
               {{"nodeName", "kwok-0"},
                {"restartPolicy", "Never"},
                {"volumes", json::array({{{"name", "v"}}})},
                {"containers",
                 {{{"name", "main"},
                   {"image", "busybox"},
                   {"command", {"sh", "-c", "x"}},
                   {"env", {{{"name", "A"}, {"value", "1"}}}},
                   {"resources", {{"limits", {{"memory", "64Mi"}}}}}}}}}},
              {"status",
               {{"phase", "Failed"},
                {"reason", "Evicted"},
                {"message", "m"},
                {"hostIP", "10.0.0.1"},
                {"podIP", "10.0.0.2"},
                {"startTime", "2024-01-01T00:00:01Z"},
                {"conditions", {{{"type", "DisruptionTarget"}, {"status", "True"}}}},
                {"containerStatuses", {container_status}},
                {"initContainerStatuses", {container_status}}}}};
  json out = transforms::Pod(pod);
  json expected_status = {
      {"name", "main"}, {"restartCount", 0}, {"state", container_status["state"]}};
  json expected = {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata", ExpectedMetadata()},
      {"spec",
       {{"nodeName", "kwok-0"},
        {"containers", {{{"name", "main"}, {"resources", {{"limits", {{"memory", "64Mi"}}}}}}}}}},
      {"status",
       {{"phase", "Failed"},
        {"reason", "Evicted"},
        {"message", "m"},
        {"startTime", "2024-01-01T00:00:01Z"},
        {"conditions", pod["status"]["conditions"]},
        {"containerStatuses", {expected_status}},
        {"initContainerStatuses", {expected_status}}}}};
  EXPECT_EQ(out, expected) << out.dump(2);
}

TEST(TransformTest, JobKeepsSuspendBackoffLimitAndStatus) {
  json job = {{"apiVersion", "batch/v1"},
              {"kind", "Job"},
              {"metadata", FullMetadata()},
              {"spec",
               {{"suspend", false},
                {"backoffLimit", 0},
                {"parallelism", 1},
                {"template", {{"spec", {{"containers", json::array()}}}}}}},
              {"status", {{"active", 1}, {"conditions", json::array()}}}};
  json out = transforms::Job(job);
  json expected = {{"apiVersion", "batch/v1"},
                   {"kind", "Job"},
                   {"metadata", ExpectedMetadata()},
                   {"spec", {{"suspend", false}, {"backoffLimit", 0}}},
                   {"status", job["status"]}};
  EXPECT_EQ(out, expected) << out.dump(2);
}

TEST(TransformTest, MinimalObjectsSurvive) {
  json bare = {{"metadata", {{"name", "a"}}}};
  EXPECT_EQ(transforms::Pod(bare), bare);
  EXPECT_EQ(transforms::Job(bare), bare);
  EXPECT_EQ(transforms::StripBookkeeping(bare), bare);
  EXPECT_EQ(transforms::Pod(json(nullptr)), json::object());
}

TEST(TransformTest, TransformForPicksByResource) {
  json pod = {{"metadata", {{"name", "a"}}}, {"spec", {{"restartPolicy", "Never"}}}};
  EXPECT_EQ(TransformFor(kube::resources::Pods())(pod), json({{"metadata", {{"name", "a"}}}}));
  EXPECT_EQ(TransformFor(kube::resources::Jobs())(pod), json({{"metadata", {{"name", "a"}}}}));
  EXPECT_EQ(TransformFor(kube::resources::ConfigMaps())(pod), pod);
  EXPECT_EQ(TransformFor(kube::resources::Batches())(pod), pod);
}

}  // namespace
}  // namespace weir::runtime
