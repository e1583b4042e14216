#include "runtime/store.h"

#include <memory>
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

// A namespace is the keys that start with "ns/": not those of a namespace
// whose name starts with the same letters, nor cluster-scoped objects.
TEST(StoreTest, ListNamespaceTakesOnlyThatNamespace) {
  Store store;
  for (const char* ns : {"a", "a-b", "a.b", "ab", "b"}) store.Upsert(Obj(ns, "x", "1"));
  store.Upsert(Obj("", "a", "1"));
  store.Upsert(Obj("", "a0", "1"));
  EXPECT_THAT(store.ListKeys(), ElementsAre("a", "a-b/x", "a.b/x", "a/x", "a0", "ab/x", "b/x"));
  for (const char* ns : {"a", "a-b", "a.b", "ab", "b"}) {
    std::vector<ObjectPtr> in = store.ListNamespace(ns);
    ASSERT_EQ(in.size(), 1u) << ns;
    EXPECT_EQ((*in[0])["metadata"]["namespace"], ns);
  }
  EXPECT_EQ(store.ListNamespace("").size(), 7u);
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
  EXPECT_TRUE(absl::IsAlreadyExists(store.AddIndex(kOwnerUidIndex, nullptr)));
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

TEST(StoreTest, KeepDecodedHoldsTheLatestObjects) {
  StoreOptions options;
  options.keep_decoded = 2;
  Store store(options);
  std::weak_ptr<const json> a = store.Upsert(Obj("ns", "a", "1"))->object;
  std::weak_ptr<const json> b = store.Upsert(Obj("ns", "b", "1"))->object;
  // No reader holds them: the store does, and a read returns that tree.
  ASSERT_FALSE(a.expired());
  EXPECT_EQ(store.Get("ns/a"), a.lock());
  // A third insert drops the oldest (a); reading a decodes it again, and
  // that copy is kept in place of b.
  std::weak_ptr<const json> c = store.Upsert(Obj("ns", "c", "1"))->object;
  EXPECT_TRUE(a.expired());
  std::weak_ptr<const json> a2 = store.Get("ns/a");
  EXPECT_FALSE(a2.expired());
  EXPECT_TRUE(b.expired());
  EXPECT_FALSE(c.expired());
  EXPECT_EQ((*store.Get("ns/a"))["data"]["rv"], "1");
  // A scan decodes b for its caller but keeps it no longer than that, and
  // leaves the kept a and c in place.
  std::weak_ptr<const json> b2 = store.ListNamespace("ns")[1];
  EXPECT_TRUE(b2.expired());
  EXPECT_FALSE(a2.expired());
  EXPECT_FALSE(c.expired());
}

TEST(StoreTest, WithoutKeepDecodedOnlyReadersHoldTrees) {
  Store store;
  std::weak_ptr<const json> a = store.Upsert(Obj("ns", "a", "1"))->object;
  EXPECT_TRUE(a.expired());
  ObjectPtr held = store.Get("ns/a");
  EXPECT_EQ(store.Get("ns/a"), held);  // the same tree while a reader holds it
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
  json state = {{"terminated",
                 {{"exitCode", 137},
                  {"reason", "OOMKilled"},
                  {"message", "m"},
                  {"startedAt", "2024-01-01T00:00:02Z"},
                  {"finishedAt", "2024-01-01T00:00:03Z"}}}};
  json container_status = {
      {"name", "main"},          {"image", "busybox"},
      {"imageID", "sha256:..."}, {"containerID", "kwok://x"},
      {"restartCount", 0},       {"ready", false},
      {"started", false},        {"lastState", {{"waiting", {{"reason", "x"}}}}},
      {"state", state}};
  json condition = {
      {"type", "DisruptionTarget"},        {"status", "True"},
      {"reason", "EvictionByEvictionAPI"}, {"message", "evicted"},
      {"lastProbeTime", nullptr},          {"lastTransitionTime", "2024-01-01T00:00:04Z"}};
  json metadata = FullMetadata();
  metadata["deletionGracePeriodSeconds"] = 30;
  metadata["labels"]["controller-uid"] = "j-1";
  metadata["labels"]["job-name"] = "job";
  metadata["labels"]["batch.kubernetes.io/controller-uid"] = "j-1";
  metadata["labels"]["batch.kubernetes.io/job-name"] = "job";
  json resources = {{"limits", {{"memory", "64Mi"}}}, {"requests", {{"memory", "32Mi"}}}};
  json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", metadata},
              {"spec",
               {{"nodeName", "kwok-0"},
                {"restartPolicy", "Never"},
                {"volumes", json::array({{{"name", "v"}}})},
                {"initContainers",
                 {{{"name", "sidecar"},
                   {"image", "busybox"},
                   {"restartPolicy", "Always"},
                   {"resources", resources}},
                  {{"name", "init"}, {"image", "busybox"}}}},
                {"containers",
                 {{{"name", "main"},
                   {"image", "busybox"},
                   {"command", {"sh", "-c", "x"}},
                   {"env", {{{"name", "A"}, {"value", "1"}}}},
                   {"resources", resources}}}}}},
              {"status",
               {{"phase", "Failed"},
                {"reason", "Evicted"},
                {"message", "m"},
                {"hostIP", "10.0.0.1"},
                {"podIP", "10.0.0.2"},
                {"qosClass", "Burstable"},
                {"startTime", "2024-01-01T00:00:01Z"},
                {"conditions", {condition}},
                {"containerStatuses", {container_status}},
                {"initContainerStatuses", {container_status}}}}};
  json out = transforms::Pod(pod);
  json expected_metadata = ExpectedMetadata();
  expected_metadata["deletionGracePeriodSeconds"] = 30;  // the classifier's grace
  json expected_status = {{"name", "main"}, {"state", state}};
  json expected_condition = condition;
  expected_condition.erase("lastProbeTime");
  json expected = {{"apiVersion", "v1"},
                   {"kind", "Pod"},
                   {"metadata", expected_metadata},  // the job controller's labels dropped
                   {"spec",
                    {{"nodeName", "kwok-0"},
                     {"initContainers",
                      {{{"name", "sidecar"}, {"restartPolicy", "Always"}, {"resources", resources}},
                       {{"name", "init"}}}},
                     {"containers", {{{"name", "main"}, {"resources", resources}}}}}},
                   {"status",
                    {{"phase", "Failed"},
                     {"reason", "Evicted"},
                     {"message", "m"},
                     {"startTime", "2024-01-01T00:00:01Z"},
                     {"conditions", {expected_condition}},
                     {"containerStatuses", {expected_status}},
                     {"initContainerStatuses", {expected_status}}}}};
  EXPECT_EQ(out, expected) << out.dump(2);
  // A transformed pod transforms to itself (a relist may see it again).
  EXPECT_EQ(transforms::Pod(out), out);
}

// The paths lifecycle::Classify and the reconcilers read from a cached pod
// all survive the transform.
TEST(TransformTest, PodKeepsEveryPathTheClassifierReads) {
  json pod = {
      {"metadata",
       {{"name", "p"},
        {"creationTimestamp", "2024-01-01T00:00:00Z"},
        {"deletionTimestamp", "2024-01-01T00:01:00Z"},
        {"deletionGracePeriodSeconds", 30},
        {"labels", {{"weir.dev/batch-uid", "u"}, {"weir.dev/attempt", "2"}}}}},
      {"spec",
       {{"initContainers", {{{"name", "i"}, {"restartPolicy", "Always"}}}},
        {"containers", {{{"name", "main"}, {"resources", {{"limits", {{"memory", "1Gi"}}}}}}}}}},
      {"status",
       {{"phase", "Running"},
        {"message", "pm"},
        {"reason", "pr"},
        {"startTime", "2024-01-01T00:00:01Z"},
        {"conditions",
         {{{"type", "PodScheduled"},
           {"status", "False"},
           {"reason", "Unschedulable"},
           {"message", "0/1 nodes"},
           {"lastTransitionTime", "2024-01-01T00:00:02Z"}}}},
        {"initContainerStatuses",
         {{{"name", "i"}, {"state", {{"running", {{"startedAt", "2024-01-01T00:00:03Z"}}}}}}}},
        {"containerStatuses",
         {{{"name", "main"},
           {"state",
            {{"waiting", {{"reason", "ImagePullBackOff"}, {"message", "back-off"}}}}}}}}}}};
  const json out = transforms::Pod(pod);
  for (const char* path : {"/metadata/name",
                           "/metadata/creationTimestamp",
                           "/metadata/deletionTimestamp",
                           "/metadata/deletionGracePeriodSeconds",
                           "/metadata/labels/weir.dev~1batch-uid",
                           "/metadata/labels/weir.dev~1attempt",
                           "/spec/initContainers/0/name",
                           "/spec/initContainers/0/restartPolicy",
                           "/spec/containers/0/name",
                           "/spec/containers/0/resources/limits/memory",
                           "/status/phase",
                           "/status/message",
                           "/status/reason",
                           "/status/startTime",
                           "/status/conditions/0/type",
                           "/status/conditions/0/status",
                           "/status/conditions/0/reason",
                           "/status/conditions/0/message",
                           "/status/conditions/0/lastTransitionTime",
                           "/status/initContainerStatuses/0/name",
                           "/status/initContainerStatuses/0/state",
                           "/status/containerStatuses/0/name",
                           "/status/containerStatuses/0/state"}) {
    const json::json_pointer p(path);
    ASSERT_TRUE(out.contains(p)) << path;
    EXPECT_EQ(out[p], pod[p]) << path;
  }
}

TEST(TransformTest, JobKeepsWhatControllersRead) {
  json resources = {{"limits", {{"memory", "64Mi"}}}};
  json condition = {{"type", "Failed"},
                    {"status", "True"},
                    {"reason", "DeadlineExceeded"},
                    {"message", "m"},
                    {"lastProbeTime", "2024-01-01T00:00:01Z"},
                    {"lastTransitionTime", "2024-01-01T00:00:02Z"}};
  json job = {{"apiVersion", "batch/v1"},
              {"kind", "Job"},
              {"metadata", FullMetadata()},
              {"spec",
               {{"suspend", false},
                {"backoffLimit", 0},
                {"parallelism", 1},
                {"selector", {{"matchLabels", {{"batch.kubernetes.io/controller-uid", "j"}}}}},
                {"template",
                 {{"metadata", {{"labels", {{"batch.kubernetes.io/controller-uid", "j"}}}}},
                  {"spec",
                   {{"restartPolicy", "Never"},
                    {"containers",
                     {{{"name", "main"}, {"image", "busybox"}, {"resources", resources}},
                      {{"name", "side"}, {"image", "busybox"}}}}}}}}}},
              {"status",
               {{"active", 1},
                {"failed", 0},
                {"ready", 1},
                {"terminating", 0},
                {"uncountedTerminatedPods", json::object()},
                {"startTime", "2024-01-01T00:00:00Z"},
                {"conditions", {condition}}}}};
  json out = transforms::Job(job);
  json expected_condition = condition;
  expected_condition.erase("lastProbeTime");
  json expected = {
      {"apiVersion", "batch/v1"},
      {"kind", "Job"},
      {"metadata", ExpectedMetadata()},
      // The whole spec: a later attempt can be built from it.
      {"spec", job["spec"]},
      // Not the pod counts: the reconcilers read the pods themselves.
      {"status", {{"startTime", "2024-01-01T00:00:00Z"}, {"conditions", {expected_condition}}}}};
  EXPECT_EQ(out, expected) << out.dump(2);
  EXPECT_EQ(transforms::Job(out), out);
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
  EXPECT_EQ(TransformFor(kube::resources::Jobs())(pod), pod);  // a Job keeps its spec
  EXPECT_EQ(TransformFor(kube::resources::ConfigMaps())(pod), pod);
  EXPECT_EQ(TransformFor(kube::resources::Batches())(pod), pod);
}

}  // namespace
}  // namespace weir::runtime
