#include "reconcile/batch_plan.h"

#include <deque>

#include "api/conditions.h"
#include "api/meta.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "reconcile/children.h"

namespace weir::reconcile {
namespace {

using lifecycle::Phase;
using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

json BatchObject(const json& spec) {
  return {{"apiVersion", "weir.dev/v1alpha1"},
          {"kind", "Batch"},
          {"metadata",
           {{"name", "b"},
            {"namespace", "ns"},
            {"uid", "uid-1"},
            {"generation", 1},
            {"creationTimestamp", api::FormatRfc3339(kT0)},
            {"finalizers", json::array({kFinalizer})}}},
          {"spec", spec}};
}

json InlineSpec() {
  return {
      {"jobSpec",
       {{"template",
         {{"spec", {{"containers", json::array({{{"name", "main"}, {"image", "busybox"}}})}}}}}}}};
}

class BatchPlanTest : public ::testing::Test {
 protected:
  BatchPlanTest() : object_(BatchObject(InlineSpec())) { in_.now = kT0; }

  BatchPlan Plan() {
    in_.batch = api::ParseBatch(object_);
    in_.jobs.clear();
    in_.pods.clear();
    for (const json& j : jobs_) in_.jobs.push_back(&j);
    for (const json& p : pods_) in_.pods.push_back(&p);
    return PlanBatch(in_);
  }

  // Stores the plan's status and created Job, as the executor and the API
  // server would.
  void Apply(const BatchPlan& plan) {
    if (plan.status.has_value()) object_["status"] = api::BatchStatusToJson(*plan.status);
    if (plan.create_job.has_value()) {
      json job = *plan.create_job;
      job["metadata"]["creationTimestamp"] = api::FormatRfc3339(in_.now);
      jobs_.push_back(job);
    }
  }

  void AddPod(int attempt, const std::string& phase, const json& state) {
    ChildOwner owner = ChildOwner::Batch("ns", "b", "uid-1");
    pods_.push_back(
        {{"metadata",
          {{"name", ChildJobName(owner, attempt) + "-x"},
           {"creationTimestamp", api::FormatRfc3339(in_.now)},
           {"labels", ChildLabels(owner, attempt)}}},
         {"spec", InlineSpec()["jobSpec"]["template"]["spec"]},
         {"status",
          {{"phase", phase},
           {"startTime", api::FormatRfc3339(in_.now)},
           {"containerStatuses", json::array({{{"name", "main"}, {"state", state}}})}}}});
  }

  json Terminated(int code, const std::string& reason) {
    return {{"terminated",
             {{"exitCode", code},
              {"reason", reason},
              {"startedAt", api::FormatRfc3339(in_.now)},
              {"finishedAt", api::FormatRfc3339(in_.now)}}}};
  }

  const api::Condition* Condition(const BatchPlan& p, absl::string_view type) {
    return p.status.has_value() ? api::FindCondition(p.status->conditions, type) : nullptr;
  }

  json object_;
  std::deque<json> jobs_;
  std::deque<json> pods_;
  BatchInput in_;
};

TEST_F(BatchPlanTest, NewBatchGetsFinalizerFirstJobAndPendingStatus) {
  object_["metadata"].erase("finalizers");
  BatchPlan p = Plan();
  EXPECT_TRUE(p.add_finalizer);
  ASSERT_TRUE(p.create_job.has_value());
  EXPECT_EQ((*p.create_job)["metadata"]["name"],
            ChildJobName(ChildOwner::Batch("ns", "b", "uid-1"), 1));
  ASSERT_TRUE(p.status.has_value());
  EXPECT_EQ(p.status->phase, "Pending");
  EXPECT_EQ(p.status->attempt, 1);
  EXPECT_EQ(p.status->observed_generation, 1);
  EXPECT_EQ(p.status->start_time, kT0);
  ASSERT_NE(Condition(p, "Valid"), nullptr);
  EXPECT_EQ(Condition(p, "Valid")->status, "True");
  EXPECT_TRUE(p.transitions.empty());
}

TEST_F(BatchPlanTest, ConvergedStateWritesNothing) {
  Apply(Plan());
  Apply(Plan());  // first look at the new Job
  BatchPlan again = Plan();
  EXPECT_FALSE(again.create_job.has_value()) << "the Job exists: adopt, don't create";
  EXPECT_FALSE(again.status.has_value())
      << "nothing changed, nothing to write: " << api::BatchStatusToJson(*again.status).dump()
      << " was " << object_["status"].dump();
  EXPECT_TRUE(again.events.empty());
}

// The record written with the Job already says what the next looks see
// until the main container has run 2 s: no status write for the Job's
// appearance, its pod's creation or its container's start (issue 14: a
// Batch whose pod ends at once costs the Job, this record and its end).
TEST_F(BatchPlanTest, NoStatusWriteBetweenTheJobsCreationAndTwoSecondsOfRunning) {
  Apply(Plan());
  EXPECT_EQ(object_["status"]["message"], "the attempt's pod is starting");
  EXPECT_FALSE(Plan().status.has_value()) << "the Job seen";
  AddPod(1, "Pending", {{"waiting", {{"reason", "ContainerCreating"}}}});
  EXPECT_FALSE(Plan().status.has_value()) << "its pod created";
  pods_.clear();
  AddPod(1, "Running", {{"running", {{"startedAt", api::FormatRfc3339(in_.now)}}}});
  in_.now += absl::Milliseconds(1500);
  EXPECT_FALSE(Plan().status.has_value()) << "its main container started 1.5 s ago";
}

TEST_F(BatchPlanTest, RunThenSucceedThenReleaseIdleResources) {
  json spec = InlineSpec();
  spec["idleTimeoutSeconds"] = 60;
  object_ = BatchObject(spec);
  Apply(Plan());
  AddPod(1, "Running", {{"running", {{"startedAt", api::FormatRfc3339(kT0)}}}});
  in_.now = kT0 + absl::Seconds(2);  // a younger main container still reads as starting
  BatchPlan p = Plan();
  EXPECT_EQ(p.status->phase, "Running");
  EXPECT_THAT(p.transitions, ElementsAre(Pair(Phase::kPending, Phase::kRunning)));
  EXPECT_EQ(Condition(p, "Running")->status, "True");
  EXPECT_TRUE(p.events.empty()) << "progress as planned is told by the status alone";
  Apply(p);

  in_.now = kT0 + absl::Seconds(5);
  pods_.clear();
  AddPod(1, "Succeeded", Terminated(0, "Completed"));
  p = Plan();
  EXPECT_EQ(p.status->phase, "Succeeded");
  EXPECT_EQ(p.status->termination_reason, "Completed");
  EXPECT_EQ(p.status->completion_time, in_.now);
  EXPECT_EQ(p.outcome_reason, "Completed");
  EXPECT_TRUE(p.events.empty()) << "a success costs no Event write";
  EXPECT_EQ(Condition(p, "Finished")->status, "True");
  EXPECT_EQ(Condition(p, "Running")->status, "False");
  EXPECT_TRUE(p.delete_jobs.empty()) << "the Job stays for kubectl logs";
  EXPECT_EQ(p.wake_at, in_.now + absl::Seconds(60));
  Apply(p);

  in_.now = kT0 + absl::Seconds(65);
  p = Plan();
  EXPECT_THAT(p.delete_jobs, ElementsAre(jobs_.front()["metadata"]["name"]));
  jobs_.clear();
  pods_.clear();
  p = Plan();
  ASSERT_TRUE(p.status.has_value());
  EXPECT_EQ(p.status->phase, "Succeeded") << "the record stays";
  EXPECT_EQ(Condition(p, "ResourcesReleased")->status, "True");
  EXPECT_EQ(p.status->resources_released_time, in_.now);
}

// Events tell what went wrong, not progress as planned: a failed attempt
// ends the Batch with one Warning.
TEST_F(BatchPlanTest, AFailureIsAWarningEvent) {
  Apply(Plan());
  AddPod(1, "Failed", Terminated(3, "Error"));
  BatchPlan p = Plan();
  ASSERT_TRUE(p.status.has_value());
  EXPECT_EQ(p.status->phase, "Failed");
  ASSERT_EQ(p.events.size(), 1u);
  EXPECT_EQ(p.events[0].type, "Warning");
  EXPECT_EQ(p.events[0].reason, "Failed");
  EXPECT_THAT(p.events[0].message, HasSubstr("3"));
}

// spec.mainContainer names the second container; the first, a sidecar, is
// still running when it succeeds. The Batch is Succeeded at once and its Job
// deleted without waiting for the idle timeout: the pod would never end.
TEST_F(BatchPlanTest, MainContainerSucceededWhileTheFirstContainerRunsSucceedsAndDeletesTheJob) {
  json spec = InlineSpec();
  spec["idleTimeoutSeconds"] = 600;
  spec["mainContainer"] = "work";
  spec["jobSpec"]["template"]["spec"]["containers"] = json::array(
      {{{"name", "proxy"}, {"image", "envoy"}}, {{"name", "work"}, {"image", "busybox"}}});
  object_ = BatchObject(spec);
  Apply(Plan());
  AddPod(1, "Running", {{"running", {{"startedAt", api::FormatRfc3339(kT0)}}}});
  json& pod = pods_.back();
  pod["spec"] = spec["jobSpec"]["template"]["spec"];
  pod["status"]["containerStatuses"][0]["name"] = "proxy";
  pod["status"]["containerStatuses"].push_back(
      {{"name", "work"}, {"state", Terminated(0, "Completed")}});

  BatchPlan p = Plan();
  ASSERT_TRUE(p.status.has_value());
  EXPECT_EQ(p.status->phase, "Succeeded");
  EXPECT_EQ(p.status->exit_code, 0);
  EXPECT_THAT(p.status->message, HasSubstr("work"));
  EXPECT_THAT(p.delete_jobs, ElementsAre(jobs_.front()["metadata"]["name"]));
  Apply(p);

  jobs_.clear();
  pods_.clear();
  p = Plan();
  EXPECT_EQ(p.status, std::nullopt) << "released only after the idle timeout, as usual";
  in_.now = kT0 + absl::Seconds(600);
  p = Plan();
  ASSERT_TRUE(p.status.has_value());
  EXPECT_EQ(Condition(p, "ResourcesReleased")->status, "True");
  EXPECT_EQ(p.status->phase, "Succeeded");
}

TEST_F(BatchPlanTest, InvalidSpecFailsWithValidFalseAndCreatesNothing) {
  object_ = BatchObject({{"template", "etl"}, {"jobSpec", InlineSpec()["jobSpec"]}});
  BatchPlan p = Plan();
  EXPECT_FALSE(p.create_job.has_value());
  EXPECT_EQ(p.status->phase, "Failed");
  EXPECT_EQ(Condition(p, "Valid")->status, "False");
  EXPECT_EQ(Condition(p, "Valid")->reason, "InvalidSpec");
  EXPECT_THAT(p.status->message, HasSubstr("spec"));
  EXPECT_FALSE(p.events.empty());
}

TEST_F(BatchPlanTest, UnknownTemplateWaitsThenFails) {
  object_ = BatchObject({{"template", "etl"}});
  BatchPlan p = Plan();
  EXPECT_FALSE(p.create_job.has_value());
  EXPECT_EQ(p.status->phase, "Pending");
  EXPECT_EQ(Condition(p, "Valid")->status, "Unknown");
  EXPECT_EQ(p.wake_at, kT0 + absl::Seconds(10));
  Apply(p);

  in_.now = kT0 + absl::Seconds(11);
  p = Plan();
  EXPECT_EQ(p.status->phase, "Failed");
  EXPECT_EQ(Condition(p, "Valid")->reason, "TemplateNotFound");
  EXPECT_THAT(p.status->message, HasSubstr("JobTemplate \"etl\" not found"));
}

TEST_F(BatchPlanTest, TemplateJobSpecIsUsed) {
  object_ = BatchObject({{"template", "etl"}});
  in_.template_job_spec = absl::StatusOr<json>(InlineSpec()["jobSpec"]);
  BatchPlan p = Plan();
  ASSERT_TRUE(p.create_job.has_value());
  EXPECT_EQ((*p.create_job)["spec"]["template"]["spec"]["containers"][0]["name"], "main");
}

TEST_F(BatchPlanTest, CancelWhilePendingEndsCanceledNeverFailed) {
  Apply(Plan());  // attempt 1's Job exists, its pod not started
  object_["spec"]["cancel"] = true;
  object_["metadata"]["generation"] = 2;
  BatchPlan p = Plan();
  EXPECT_EQ(p.status->phase, "Canceling");
  EXPECT_FALSE(p.create_job.has_value());
  EXPECT_EQ(p.status->observed_generation, 2);
  Apply(p);
  p = Plan();
  EXPECT_EQ(p.delete_jobs.size(), 1u);

  // The Job goes; its pod, deleted before it started, shows it never ran.
  jobs_.front()["metadata"]["deletionTimestamp"] = api::FormatRfc3339(kT0);
  AddPod(1, "Pending", {{"waiting", {{"reason", "ContainerCreating"}}}});
  pods_.back()["metadata"]["deletionTimestamp"] = api::FormatRfc3339(kT0 + absl::Seconds(30));
  pods_.back()["metadata"]["deletionGracePeriodSeconds"] = 30;
  p = Plan();
  EXPECT_EQ(p.status->phase, "Canceled");
  EXPECT_EQ(Condition(p, "Finished")->reason, "Canceled");
}

// An edit past the schema made the spec invalid while attempt 1 ran: the
// attempt is canceled through the attempts path (Canceling, its Job deleted
// once that is stored, Canceled once its pod ended, so that its end is
// recorded and the pod's final-state finalizer can go), and the Batch ends
// Canceled with the reason InvalidSpec. Ending it Failed at once left the
// attempt Running forever and the pod, kept by the finalizer, blocked the
// Batch's deletion (edit_sequences_test).
TEST_F(BatchPlanTest, SpecMadeInvalidWhileRunningStopsTheAttemptFirst) {
  Apply(Plan());
  AddPod(1, "Running", {{"running", {{"startedAt", api::FormatRfc3339(kT0)}}}});
  Apply(Plan());
  object_["spec"]["retry"] = {{"onOOM", {{"maxMemory", 0}}}};
  object_["metadata"]["generation"] = 2;
  BatchPlan p = Plan();
  EXPECT_EQ(p.status->phase, "Canceling");
  EXPECT_EQ(Condition(p, "Valid")->status, "False");
  EXPECT_EQ(Condition(p, "Valid")->reason, "InvalidSpec");
  EXPECT_THAT(p.status->message, HasSubstr("the spec is invalid"));
  EXPECT_FALSE(p.create_job.has_value());
  EXPECT_TRUE(p.delete_jobs.empty()) << "not before Canceling is stored";
  Apply(p);
  p = Plan();
  EXPECT_THAT(p.delete_jobs, ElementsAre(jobs_.front()["metadata"]["name"]));

  pods_.clear();
  AddPod(1, "Failed", Terminated(143, "Error"));  // stopped as asked
  p = Plan();
  EXPECT_EQ(p.status->phase, "Canceled");
  EXPECT_EQ(p.status->termination_reason, "InvalidSpec");
  ASSERT_EQ(p.status->attempts.size(), 1u);
  EXPECT_EQ(p.status->attempts[0].phase, "Canceled") << "the attempt's end is recorded";
  EXPECT_FALSE(p.create_job.has_value());
}

// The attempt's Job was created but the status write recording it was lost (a
// Conflict, or the controller killed): a cancel must record the attempt
// before its Job goes, or a second loss would erase every trace of it.
TEST_F(BatchPlanTest, CanceledAttemptKnownOnlyFromItsJobIsRecordedBeforeTheJobGoes) {
  for (const bool pod_running : {false, true}) {
    SCOPED_TRACE(pod_running ? "pod running" : "pod pending");
    object_ = BatchObject(InlineSpec());
    jobs_.clear();
    pods_.clear();
    json job = *Plan().create_job;
    job["metadata"]["creationTimestamp"] = api::FormatRfc3339(in_.now);
    jobs_.push_back(job);
    if (pod_running) AddPod(1, "Running", {{"running", {{"startedAt", api::FormatRfc3339(kT0)}}}});
    object_["spec"]["cancel"] = true;
    object_["metadata"]["generation"] = 2;

    BatchPlan p = Plan();
    ASSERT_TRUE(p.status.has_value());
    EXPECT_EQ(p.status->phase, "Canceling");
    ASSERT_EQ(p.status->attempts.size(), 1u);
    EXPECT_EQ(p.status->attempts[0].job, job["metadata"]["name"]);
    EXPECT_TRUE(p.delete_jobs.empty()) << "not before the status records the attempt";
    Apply(p);

    EXPECT_THAT(Plan().delete_jobs, ElementsAre(job["metadata"]["name"]));
  }
}

TEST_F(BatchPlanTest, DeleteWhilePendingWritesCanceledThenRemovesFinalizerWhenChildrenGone) {
  Apply(Plan());
  object_["metadata"]["deletionTimestamp"] = api::FormatRfc3339(kT0);
  BatchPlan p = Plan();
  EXPECT_EQ(p.status->phase, "Canceling");
  EXPECT_TRUE(p.delete_jobs.empty()) << "not before Canceling is stored";
  EXPECT_FALSE(p.remove_finalizer) << "a child is still there";
  EXPECT_FALSE(p.add_finalizer);
  Apply(p);
  EXPECT_EQ(Plan().delete_jobs.size(), 1u);

  // The Job went with the pod it never had.
  const std::string job = jobs_.front()["metadata"]["name"];
  jobs_.clear();
  in_.jobs_gone.insert(job);
  p = Plan();
  EXPECT_EQ(p.status->phase, "Canceled");
  EXPECT_TRUE(p.remove_finalizer) << "after the status write (Converge's order)";
  EXPECT_FALSE(p.create_job.has_value());
}

TEST_F(BatchPlanTest, CancelAfterFinishIsNoErrorAndCleansUp) {
  Apply(Plan());
  AddPod(1, "Succeeded", Terminated(0, "Completed"));
  Apply(Plan());
  object_["spec"]["cancel"] = true;
  object_["metadata"]["generation"] = 2;
  BatchPlan p = Plan();
  EXPECT_EQ(p.status->phase, "Succeeded");
  EXPECT_TRUE(p.transitions.empty());
  EXPECT_EQ(p.delete_jobs.size(), 1u);
  ASSERT_EQ(p.events.size(), 1u);
  EXPECT_EQ(p.events[0].reason, "AlreadyFinished");
  EXPECT_THAT(p.events[0].message, HasSubstr("already Succeeded"));
  Apply(p);
  EXPECT_TRUE(Plan().events.empty()) << "said once";
}

TEST_F(BatchPlanTest, DeleteAfterFinishSaysAlreadyFinishedOnce) {
  Apply(Plan());
  AddPod(1, "Failed", Terminated(2, "Error"));
  Apply(Plan());
  jobs_.clear();
  pods_.clear();
  object_["metadata"]["deletionTimestamp"] = api::FormatRfc3339(kT0);
  BatchPlan p = Plan();
  EXPECT_TRUE(p.remove_finalizer);
  ASSERT_EQ(p.events.size(), 1u);
  EXPECT_THAT(p.events[0].message, HasSubstr("already Failed"));
}

TEST_F(BatchPlanTest, TtlDeletesTheBatchItself) {
  json spec = InlineSpec();
  spec["ttlSecondsAfterFinished"] = 30;
  object_ = BatchObject(spec);
  Apply(Plan());
  AddPod(1, "Succeeded", Terminated(0, "Completed"));
  BatchPlan p = Plan();
  EXPECT_FALSE(p.delete_owner);
  EXPECT_EQ(p.wake_at, kT0 + absl::Seconds(30));
  Apply(p);
  in_.now = kT0 + absl::Seconds(31);
  EXPECT_TRUE(Plan().delete_owner);
}

TEST_F(BatchPlanTest, OomKillWithoutRetryIsKilledWithAdvice) {
  Apply(Plan());
  AddPod(1, "Failed", Terminated(137, "OOMKilled"));
  BatchPlan p = Plan();
  EXPECT_EQ(p.status->phase, "Killed");
  EXPECT_EQ(p.status->termination_reason, "OOMKilled");
  EXPECT_EQ(p.status->exit_code, 137);
  EXPECT_THAT(p.status->message, HasSubstr("main"));
  EXPECT_EQ(p.events.back().type, "Warning");
  EXPECT_EQ(p.outcome_reason, "OOMKilled");
}

TEST_F(BatchPlanTest, ForeignChildrenAreNotOurs) {
  Apply(Plan());
  json foreign = jobs_.front();
  foreign["metadata"]["ownerReferences"][0]["uid"] = "uid-OLD";
  foreign["metadata"]["labels"][kLabelBatchUid] = "uid-OLD";
  jobs_.clear();
  jobs_.push_back(foreign);
  BatchPlan p = Plan();
  EXPECT_EQ(p.verify_job, ChildJobName(ChildOwner::Batch("ns", "b", "uid-1"), 1))
      << "our recorded Job is missing; a predecessor's Job does not stand in for it";
}

TEST_F(BatchPlanTest, CreateRefusedFailsWithTheServersMessage) {
  api::Batch batch = api::ParseBatch(object_);
  api::BatchStatus s = StatusAfterCreateRefused(
      batch, batch.status, "spec.template.spec.containers[0].image: Required value", kT0);
  EXPECT_EQ(s.phase, "Failed");
  EXPECT_EQ(s.termination_reason, "JobRejected");
  EXPECT_THAT(s.message, HasSubstr("Required value"));
  const api::Condition* valid = api::FindCondition(s.conditions, "Valid");
  ASSERT_NE(valid, nullptr);
  EXPECT_EQ(valid->status, "False");
}

// Found by the model checker (test/model/): the plan that records attempt
// 1's end also creates attempt 2's Job, before its status is written. When
// the API server refused that Job, the Failed status was built from the
// stored status, so attempt 1's end was lost; its record stayed Running,
// its pod's finalizer was never released and the Batch never released its
// resources.
TEST_F(BatchPlanTest, CreateRefusedOnARetryKeepsTheEndOfTheAttemptBefore) {
  json spec = InlineSpec();
  spec["retry"] = {{"limit", 1}, {"backoffSeconds", 0}};
  object_ = BatchObject(spec);
  Apply(Plan());
  AddPod(1, "Running", {{"running", {{"startedAt", api::FormatRfc3339(in_.now)}}}});
  Apply(Plan());
  pods_.clear();
  AddPod(1, "Failed", Terminated(1, "Error"));
  BatchPlan p = Plan();
  ASSERT_TRUE(p.create_job.has_value()) << "the retry";
  ASSERT_TRUE(p.status.has_value());
  api::BatchStatus s =
      StatusAfterCreateRefused(api::ParseBatch(object_), *p.status, "Invalid value", kT0);
  ASSERT_EQ(s.attempts.size(), 2u);
  EXPECT_EQ(s.attempts[0].phase, "Failed");
  EXPECT_EQ(s.attempts[0].termination_reason, "Error");
  EXPECT_EQ(s.attempts[1].phase, "Failed");
  EXPECT_EQ(s.attempts[1].termination_reason, "JobRejected");
  EXPECT_EQ(s.phase, "Failed");
  EXPECT_EQ(s.termination_reason, "JobRejected");
}

TEST_F(BatchPlanTest, GarbageObjectsNeverCrash) {
  for (const json& spec : {json(nullptr), json(42), json::array(), json{{"jobSpec", "x"}},
                           json{{"retry", {{"limit", "many"}}}, {"template", 7}}}) {
    object_ = BatchObject(spec);
    BatchPlan p = Plan();
    ASSERT_TRUE(p.status.has_value());
    EXPECT_EQ(p.status->phase, "Failed") << spec.dump();
  }
}

}  // namespace
}  // namespace weir::reconcile
