#include "reconcile/owner_writes.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/errors.h"
#include "runtime/fake_client.h"
#include "runtime/store.h"

namespace weir::reconcile {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

class OwnerWritesTest : public ::testing::Test {
 protected:
  OwnerWritesTest() : writes_(&client_, kube::resources::JobFlows(), "JobFlow") {}

  json CreateFlow(json metadata = json::object()) {
    metadata["name"] = "f";
    metadata["namespace"] = "ns";
    absl::StatusOr<json> created = client_.Create(kube::resources::JobFlows(), "ns",
                                                  {{"apiVersion", "weir.dev/v1alpha1"},
                                                   {"kind", "JobFlow"},
                                                   {"metadata", metadata},
                                                   {"spec", {{"steps", json::array()}}}});
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? *created : json();
  }

  json Stored() {
    absl::StatusOr<json> f = client_.Get(kube::resources::JobFlows(), "ns", "f");
    return f.ok() ? *f : json();
  }

  ChildOwner StepOwner(const json& flow, const std::string& step) {
    return ChildOwner::FlowStep("ns", "f", flow["metadata"]["uid"], step, "t");
  }

  json StepJob(const json& flow, const std::string& step) {
    json spec = {{"template", {{"spec", {{"containers", {{{"name", "main"}, {"image", "x"}}}}}}}}};
    return BuildChildJob(StepOwner(flow, step), 1, spec, "", {});
  }

  runtime::FakeClient client_;
  OwnerWrites writes_;
};

TEST_F(OwnerWritesTest, FinalizerIsAddedAndRemovedOnceKeepingOthers) {
  json flow = CreateFlow({{"finalizers", {"example.com/keep"}}});
  ASSERT_TRUE(writes_.SetFinalizer(flow, true).ok());
  json stored = Stored();
  EXPECT_EQ(stored["metadata"]["finalizers"], json({"example.com/keep", "weir.dev/cleanup"}));
  const int patches = client_.Calls("patch");
  ASSERT_TRUE(writes_.SetFinalizer(stored, true).ok());
  EXPECT_EQ(client_.Calls("patch"), patches) << "already present: no write";
  ASSERT_TRUE(writes_.SetFinalizer(stored, false).ok());
  EXPECT_EQ(Stored()["metadata"]["finalizers"], json({"example.com/keep"}));
}

TEST_F(OwnerWritesTest, FinalizerChangeFromAStaleCopyIsAConflict) {
  json flow = CreateFlow();
  ASSERT_TRUE(writes_.SetFinalizer(flow, true).ok());
  absl::Status s = writes_.SetFinalizer(flow, true);  // flow's resourceVersion is stale now
  EXPECT_TRUE(kube::IsConflict(s)) << s;
}

TEST_F(OwnerWritesTest, StatusFromAStaleCopyIsRefused) {
  json flow = CreateFlow();
  ASSERT_TRUE(writes_.WriteStatus(flow, {{"phase", "Running"}}).ok());
  EXPECT_EQ(Stored()["status"]["phase"], "Running");
  absl::Status s = writes_.WriteStatus(flow, {{"phase", "Failed"}}).status();
  EXPECT_TRUE(kube::IsConflict(s)) << s;
  EXPECT_EQ(Stored()["status"]["phase"], "Running");
}

TEST_F(OwnerWritesTest, LiveOwnerIsNulloptWhenGoneReplacedOrDeleting) {
  json flow = CreateFlow({{"finalizers", {"weir.dev/cleanup"}}});
  api::ObjectMeta meta = api::ParseObjectMeta(flow);
  absl::StatusOr<std::optional<json>> live = writes_.LiveOwner(meta);
  ASSERT_TRUE(live.ok());
  EXPECT_TRUE(live->has_value());

  api::ObjectMeta other = meta;
  other.uid = "an-older-flow";
  live = writes_.LiveOwner(other);
  ASSERT_TRUE(live.ok());
  EXPECT_FALSE(live->has_value()) << "same name, another object";

  ASSERT_TRUE(client_.Delete(kube::resources::JobFlows(), "ns", "f").ok());
  live = writes_.LiveOwner(meta);
  ASSERT_TRUE(live.ok());
  EXPECT_FALSE(live->has_value()) << "being deleted (finalizer holds it)";

  client_.FailNext("get", kube::NewTimeout("slow"));
  EXPECT_FALSE(writes_.LiveOwner(meta).ok()) << "other errors are the caller's to retry";
}

TEST_F(OwnerWritesTest, CreateAdoptsOurOwnJobAndRefusesAForeignOne) {
  json flow = CreateFlow();
  json job = StepJob(flow, "a");
  absl::StatusOr<CreatedJob> created = writes_.CreateJob(StepOwner(flow, "a"), job, flow);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(created->exists);
  created = writes_.CreateJob(StepOwner(flow, "a"), job, flow);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(created->exists) << "AlreadyExists and ours: adopted";

  ChildOwner impostor = StepOwner(flow, "a");
  impostor.uid = "someone-else";
  created = writes_.CreateJob(impostor, job, flow);
  EXPECT_FALSE(created.ok());
  EXPECT_THAT(std::string(created.status().message()), HasSubstr("belongs to someone else"));
}

TEST_F(OwnerWritesTest, AJobCarriesTheGenerationOfTheOwnerThatAuthorizedIt) {
  json flow = CreateFlow();
  json live = flow;
  live["metadata"]["generation"] = 7;
  ASSERT_TRUE(writes_.CreateJob(StepOwner(flow, "a"), StepJob(flow, "a"), live).ok());
  std::vector<json> jobs = client_.Objects(kube::resources::Jobs());
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0]["metadata"]["annotations"]["weir.dev/owner-generation"], "7");
}

TEST_F(OwnerWritesTest, ARefusedJobReportsTheServersMessage) {
  json flow = CreateFlow();
  client_.FailNext(
      "create", kube::NewInvalid("Job", "f-a-1", {{"FieldValueInvalid", "spec.template", "bad"}}));
  absl::StatusOr<CreatedJob> created =
      writes_.CreateJob(StepOwner(flow, "a"), StepJob(flow, "a"), flow);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_FALSE(created->exists);
  EXPECT_THAT(created->refused_message, HasSubstr("spec.template"));
}

TEST_F(OwnerWritesTest, ChildrenGoneListsEveryStepAndDeletesLeftovers) {
  json flow = CreateFlow();
  ASSERT_TRUE(writes_.CreateJob(StepOwner(flow, "a"), StepJob(flow, "a"), flow).ok());
  ASSERT_TRUE(writes_.CreateJob(StepOwner(flow, "b"), StepJob(flow, "b"), flow).ok());
  const ChildOwner whole = ChildOwner::FlowStep("ns", "f", flow["metadata"]["uid"], "", "");
  absl::StatusOr<bool> gone = writes_.ChildrenGone(whole);
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(*gone);
  EXPECT_TRUE(client_.Objects(kube::resources::Jobs()).empty()) << "leftover Jobs deleted";
  gone = writes_.ChildrenGone(whole);
  ASSERT_TRUE(gone.ok());
  EXPECT_TRUE(*gone);
  EXPECT_TRUE(writes_.DeleteJobs("ns", {"never-existed"}).ok());
}

// ResourcesReleased is written only once a live list finds no child: the
// cache may not have seen a pod the job controller created late (found by
// the oracle).
TEST_F(OwnerWritesTest, AReleasedStatusWaitsForALiveListWithNoChild) {
  json flow = CreateFlow();
  const ChildOwner whole = ChildOwner::FlowStep("ns", "f", flow["metadata"]["uid"], "", "");
  json labels = ChildLabels(StepOwner(flow, "a"), 1);
  json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", "late"}, {"namespace", "ns"}, {"labels", labels}}}};
  ASSERT_TRUE(client_.Create(kube::resources::Pods(), "ns", pod).ok());
  Convergence c;
  c.status = json{{"phase", "Canceled"}};
  c.confirm_released = true;
  absl::StatusOr<runtime::Result> r =
      writes_.Converge(Stored(), whole, c, absl::UnixEpoch(), [] {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->requeue_after, kChildrenWaitMin);
  EXPECT_FALSE(Stored().contains("status")) << "written while a pod was left";

  ASSERT_TRUE(client_.Delete(kube::resources::Pods(), "ns", "late").ok());
  r = writes_.Converge(Stored(), whole, c, absl::UnixEpoch(), [] {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Stored()["status"]["phase"], "Canceled");
}

// While a child is held back, the live LISTs come further apart: half the
// time waited since the owner's deletion (or its end), from 1 s to 30 s.
TEST_F(OwnerWritesTest, WaitingForChildrenBacksOff) {
  json flow = CreateFlow();
  const ChildOwner whole = ChildOwner::FlowStep("ns", "f", flow["metadata"]["uid"], "", "");
  json pod = {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata",
       {{"name", "held"}, {"namespace", "ns"}, {"labels", ChildLabels(StepOwner(flow, "a"), 1)}}}};
  ASSERT_TRUE(client_.Create(kube::resources::Pods(), "ns", pod).ok());
  const absl::Time deleted = absl::FromUnixSeconds(1'800'000'000);
  json object = Stored();
  object["metadata"]["deletionTimestamp"] = api::FormatRfc3339(deleted);
  Convergence c;
  c.remove_finalizer = true;
  for (const auto& [waited, next] : std::vector<std::pair<absl::Duration, absl::Duration>>{
           {absl::ZeroDuration(), absl::Seconds(1)},
           {absl::Seconds(1), absl::Seconds(1)},
           {absl::Seconds(10), absl::Seconds(5)},
           {absl::Seconds(40), absl::Seconds(20)},
           {absl::Hours(2), absl::Seconds(30)}}) {
    absl::StatusOr<runtime::Result> r = writes_.Converge(object, whole, c, deleted + waited, [] {});
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->requeue_after, next) << "after " << waited;
  }
  object["metadata"].erase("deletionTimestamp");
  object["status"]["completionTime"] = api::FormatRfc3339(deleted);
  c.remove_finalizer = false;
  c.confirm_released = true;
  absl::StatusOr<runtime::Result> r =
      writes_.Converge(object, whole, c, deleted + absl::Seconds(12), [] {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->requeue_after, absl::Seconds(6)) << "counted from the end when not deleting";
}

// A reconcile from the version our own write replaced would be refused with
// a Conflict (issue 14: 0 refused writes at steady state): that version reads
// as superseded until the cache shows a newer one. A refused write marks
// nothing.
TEST_F(OwnerWritesTest, TheVersionOurWriteReplacedIsSuperseded) {
  CreateFlow({{"finalizers", json::array({kFinalizer})}});
  const json before = Stored();
  EXPECT_FALSE(writes_.Superseded(before));
  ASSERT_TRUE(writes_.WriteStatus(before, {{"phase", "Running"}}).ok());
  EXPECT_TRUE(writes_.Superseded(before)) << "the cache still shows the replaced version";
  const json after = Stored();
  EXPECT_FALSE(writes_.Superseded(after));
  EXPECT_FALSE(writes_.Superseded(before)) << "forgotten once the cache moved on";

  EXPECT_FALSE(writes_.WriteStatus(before, {{"phase", "Failed"}}).ok()) << "stale: a Conflict";
  EXPECT_FALSE(writes_.Superseded(before));
  ASSERT_TRUE(writes_.SetFinalizer(after, false).ok());
  EXPECT_TRUE(writes_.Superseded(after)) << "a finalizer write too";
  writes_.Forget("ns/f");
  EXPECT_FALSE(writes_.Superseded(after));
}

// A deleted owner's last status and the finalizer's removal go in one look:
// the removal names the status write's resourceVersion, so it is not refused
// as a Conflict (it named the cache's before, which the status write had
// just replaced).
TEST_F(OwnerWritesTest, TheLastStatusAndTheFinalizersRemovalGoTogether) {
  CreateFlow({{"finalizers", json::array({kFinalizer})}});
  const json object = Stored();
  const ChildOwner whole = ChildOwner::FlowStep("ns", "f", object["metadata"]["uid"], "", "");
  Convergence c;
  c.status = json{{"phase", "Canceled"}};
  c.remove_finalizer = true;
  absl::StatusOr<runtime::Result> r = writes_.Converge(object, whole, c, absl::UnixEpoch(), [] {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Stored()["status"]["phase"], "Canceled");
  EXPECT_EQ(Stored()["metadata"].value("finalizers", json::array()), json::array())
      << Stored().dump();
}

json PodWithFinalizers(const std::string& name, json labels, json finalizers) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata",
           {{"name", name}, {"namespace", "ns"}, {"labels", labels}, {"finalizers", finalizers}}}};
}

// The removal names the finalizer's index and tests it, so a stale index
// never removes another controller's finalizer.
TEST_F(OwnerWritesTest, APodIsReleasedAtATestedIndex) {
  ASSERT_TRUE(
      client_
          .Create(kube::resources::Pods(), "ns",
                  PodWithFinalizers("p", json::object(), {"example.com/audit", kPodFinalizer}))
          .ok());
  EXPECT_FALSE(writes_.ReleasePods("ns", {{"p", 0}}).ok()) << "index 0 is someone else's";
  ASSERT_TRUE(writes_.ReleasePods("ns", {{"p", 1}}).ok());
  EXPECT_EQ((*client_.Get(kube::resources::Pods(), "ns", "p"))["metadata"]["finalizers"],
            json::array({"example.com/audit"}));
  EXPECT_TRUE(writes_.ReleasePods("ns", {{"gone", 0}}).ok()) << "a pod already gone is fine";
}

// A deleted pod of an owner that is gone keeps weir's finalizer only until the
// owner's name is reconciled; other owners' pods are left alone.
TEST_F(OwnerWritesTest, AGoneOwnersDeletedPodsAreReleased) {
  runtime::Store pods;
  json orphan = PodWithFinalizers("orphan", {{kLabelFlow, "f"}}, {kPodFinalizer});
  orphan["metadata"]["deletionTimestamp"] = "2026-12-06T00:00:00Z";
  json other = orphan;
  other["metadata"]["name"] = "other";
  other["metadata"]["labels"][kLabelFlow] = "g";
  for (const json& p : {orphan, other}) {
    ASSERT_TRUE(client_.Create(kube::resources::Pods(), "ns", p).ok());
    pods.Upsert(p);
  }
  ASSERT_TRUE(writes_.ReleaseOrphanPods(pods, "ns", kLabelFlow, "f").ok());
  EXPECT_TRUE(kube::IsNotFound(client_.Get(kube::resources::Pods(), "ns", "orphan").status()))
      << "released, the deleted pod goes";
  EXPECT_EQ((*client_.Get(kube::resources::Pods(), "ns", "other"))["metadata"]["finalizers"],
            json::array({kPodFinalizer}));
}

TEST_F(OwnerWritesTest, DeleteOwnerIsConditionalOnTheUid) {
  json flow = CreateFlow();
  api::ObjectMeta meta = api::ParseObjectMeta(flow);
  meta.uid = "an-older-flow";
  EXPECT_FALSE(writes_.DeleteOwner(meta).ok()) << "must not delete a re-created flow";
  EXPECT_TRUE(Stored().is_object());
  ASSERT_TRUE(writes_.DeleteOwner(api::ParseObjectMeta(flow)).ok());
  EXPECT_TRUE(Stored().is_null());
  EXPECT_TRUE(writes_.DeleteOwner(api::ParseObjectMeta(flow)).ok()) << "already gone is fine";
}

}  // namespace
}  // namespace weir::reconcile
