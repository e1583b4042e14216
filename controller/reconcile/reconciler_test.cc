// BatchReconciler and FlowReconciler over a FakeClient, with caches synced
// from it by hand: the order of their writes, the live re-read before a
// create (a cancel or edit the cache has not seen yet creates nothing), a
// refused create, and nothing written once converged. What they decide is
// PlanBatch's and PlanJobFlow's (batch_plan_test, flow_plan_test).
#include <memory>
#include <string>
#include <vector>

#include "base/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/client.h"
#include "kube/errors.h"
#include "reconcile/batch_reconciler.h"
#include "reconcile/children.h"
#include "reconcile/flow_reconciler.h"
#include "runtime/event_recorder.h"
#include "runtime/fake_client.h"
#include "runtime/metrics.h"
#include "runtime/recently_deleted.h"
#include "runtime/store.h"

namespace weir::reconcile {
namespace {

using nlohmann::json;

json PodTemplate() {
  return {{"template", {{"spec", {{"containers", {{{"name", "main"}, {"image", "busybox"}}}}}}}}};
}

class ReconcilerTest : public ::testing::Test {
 protected:
  ReconcilerTest()
      : client_(&clock_),
        recorder_(&client_),
        deleted_pods_(kLabelBatchUid, absl::Minutes(2), &clock_) {
    runtime::StoreOptions children;
    children.indexed_label_keys = {kLabelBatchUid, kLabelFlowUid};
    jobs_ = std::make_unique<runtime::Store>(children);
    pods_ = std::make_unique<runtime::Store>(children);
  }

  ReconcilerDeps Deps(const runtime::Store* owners) {
    ReconcilerDeps deps;
    deps.client = &client_;
    deps.owners = owners;
    deps.jobs = jobs_.get();
    deps.pods = pods_.get();
    deps.deleted_pods = &deleted_pods_;
    deps.templates = &templates_;
    deps.recorder = &recorder_;
    deps.metrics = &metrics_;
    deps.clock = &clock_;
    return deps;
  }

  // The caches as the informers hold them once every write so far arrived.
  void Sync() {
    batches_.Replace(client_.Objects(kube::resources::Batches()));
    flows_.Replace(client_.Objects(kube::resources::JobFlows()));
    templates_.Replace(client_.Objects(kube::resources::JobTemplates()));
    jobs_->Replace(client_.Objects(kube::resources::Jobs()));
    pods_->Replace(client_.Objects(kube::resources::Pods()));
  }

  void Create(const kube::ResourceRef& ref, json object) {
    object["metadata"]["namespace"] = "ns";
    object["metadata"]["generation"] = 1;
    ASSERT_TRUE(client_.Create(ref, "ns", object).ok());
  }

  void MergePatch(const kube::ResourceRef& ref, const std::string& name, const json& patch) {
    ASSERT_TRUE(client_.Patch(ref, "ns", name, kube::PatchType::kMerge, patch).ok());
  }

  json Stored(const kube::ResourceRef& ref, const std::string& name) {
    absl::StatusOr<json> o = client_.Get(ref, "ns", name);
    return o.ok() ? *o : json();
  }

  // Writes (every verb but reads) sent so far, Events included once the
  // recorder's sender thread has written them.
  int Writes() {
    recorder_.Flush();
    return client_.Calls("create") + client_.Calls("update") + client_.Calls("patch") +
           client_.Calls("delete");
  }

  // Two more looks at converged state (the first takes in its own last
  // write): the second writes nothing, and `jobs` Jobs exist.
  void ExpectConverged(runtime::Reconciler& r, const runtime::Request& request, size_t jobs) {
    Sync();
    ASSERT_TRUE(r.Reconcile(request).ok());
    const int writes = Writes();
    Sync();
    ASSERT_TRUE(r.Reconcile(request).ok());
    EXPECT_EQ(Writes(), writes) << "converged: nothing to write";
    EXPECT_EQ(client_.Objects(kube::resources::Jobs()).size(), jobs);
  }

  void CreateTemplate() {
    Create(kube::resources::JobTemplates(), {{"apiVersion", "weir.dev/v1alpha1"},
                                             {"kind", "JobTemplate"},
                                             {"metadata", {{"name", "t"}}},
                                             {"spec", {{"jobSpec", PodTemplate()}}}});
  }

  FakeClock clock_;
  runtime::FakeClient client_;
  runtime::EventRecorder recorder_;
  runtime::MetricsRegistry metrics_;
  runtime::RecentlyDeleted deleted_pods_;
  runtime::Store batches_, flows_, templates_;
  std::unique_ptr<runtime::Store> jobs_, pods_;
};

json NewBatch(json spec = PodTemplate()) {
  return {{"apiVersion", "weir.dev/v1alpha1"},
          {"kind", "Batch"},
          {"metadata", {{"name", "b"}}},
          {"spec", {{"jobSpec", std::move(spec)}}}};
}

// Finalizer first (and a requeue), then the attempt's Job with its record,
// then, converged, not one more write.
TEST_F(ReconcilerTest, BatchWritesInOrderThenNothingOnceConverged) {
  BatchReconciler r(Deps(&batches_), BatchDefaults());
  Create(kube::resources::Batches(), NewBatch());
  Sync();
  absl::StatusOr<runtime::Result> result = r.Reconcile({"ns", "b"});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->requeue);
  EXPECT_THAT(Stored(kube::resources::Batches(), "b")["metadata"]["finalizers"],
              ::testing::Contains(kFinalizer));
  EXPECT_TRUE(client_.Objects(kube::resources::Jobs()).empty()) << "no child before the finalizer";

  Sync();
  ASSERT_TRUE(r.Reconcile({"ns", "b"}).ok());
  ASSERT_EQ(client_.Objects(kube::resources::Jobs()).size(), 1u);
  const json batch = Stored(kube::resources::Batches(), "b");
  EXPECT_EQ(batch["status"]["phase"], "Pending");
  EXPECT_EQ(batch["status"]["attempts"][0]["attempt"], 1);

  ExpectConverged(r, {"ns", "b"}, 1);
}

// The cache has not seen the cancel yet; the live read before the create
// has: no Job.
TEST_F(ReconcilerTest, BatchCanceledAfterTheCacheWasReadCreatesNoJob) {
  BatchReconciler r(Deps(&batches_), BatchDefaults());
  json batch = NewBatch();
  batch["metadata"]["finalizers"] = {kFinalizer};
  Create(kube::resources::Batches(), batch);
  Sync();
  MergePatch(kube::resources::Batches(), "b", {{"spec", {{"cancel", true}}}});
  ASSERT_TRUE(r.Reconcile({"ns", "b"}).ok());
  EXPECT_TRUE(client_.Objects(kube::resources::Jobs()).empty());
}

// The API server refuses the Job: the Batch ends Failed with its message.
TEST_F(ReconcilerTest, BatchWhoseJobIsRefusedFailsWithTheServersMessage) {
  BatchReconciler r(Deps(&batches_), BatchDefaults());
  json batch = NewBatch();
  batch["metadata"]["finalizers"] = {kFinalizer};
  Create(kube::resources::Batches(), batch);
  Sync();
  client_.FailNext(
      "create",
      kube::NewInvalid("Job", "b-1", {{"FieldValueInvalid", "spec.template", "bad image"}}));
  ASSERT_TRUE(r.Reconcile({"ns", "b"}).ok());
  const json stored = Stored(kube::resources::Batches(), "b");
  EXPECT_EQ(stored["status"]["phase"], "Failed");
  EXPECT_EQ(stored["status"]["terminationReason"], "JobRejected");
  EXPECT_THAT(stored["status"].value("message", ""), ::testing::HasSubstr("bad image"));
}

json NewFlow() {
  return {{"apiVersion", "weir.dev/v1alpha1"},
          {"kind", "JobFlow"},
          {"metadata", {{"name", "f"}, {"finalizers", {kFinalizer}}}},
          {"spec",
           {{"steps",
             {{{"name", "a"}, {"template", "t"}},
              {{"name", "b"},
               {"template", "t"},
               {"dependsOn", {{{"step", "a"}, {"condition", "Succeeded"}}}}}}}}}};
}

// Only the step whose dependencies hold gets a Job; then nothing more.
TEST_F(ReconcilerTest, FlowCreatesTheReadyStepsJobOnlyThenNothingMore) {
  FlowReconciler r(Deps(&flows_), FlowDefaults());
  CreateTemplate();
  Create(kube::resources::JobFlows(), NewFlow());
  Sync();
  ASSERT_TRUE(r.Reconcile({"ns", "f"}).ok());
  const std::vector<json> jobs = client_.Objects(kube::resources::Jobs());
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0]["metadata"]["labels"][kLabelStep], "a");
  ExpectConverged(r, {"ns", "f"}, 1);
}

// The flow was edited after the cache was read (another generation): the
// plan is stale, nothing is created.
TEST_F(ReconcilerTest, FlowEditedAfterTheCacheWasReadCreatesNothing) {
  FlowReconciler r(Deps(&flows_), FlowDefaults());
  CreateTemplate();
  Create(kube::resources::JobFlows(), NewFlow());
  Sync();
  MergePatch(kube::resources::JobFlows(), "f",
             {{"metadata", {{"generation", 2}}}, {"spec", {{"cancel", true}}}});
  ASSERT_TRUE(r.Reconcile({"ns", "f"}).ok());
  EXPECT_TRUE(client_.Objects(kube::resources::Jobs()).empty());
}

}  // namespace
}  // namespace weir::reconcile
