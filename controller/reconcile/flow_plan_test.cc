#include "reconcile/flow_plan.h"

#include <deque>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
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
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

json EtlJobSpec(const std::string& image = "busybox") {
  return {
      {"template",
       {{"spec",
         {{"containers", json::array({{{"name", "main"},
                                       {"image", image},
                                       {"resources", {{"limits", {{"memory", "1Gi"}}}}}}})}}}}}};
}

// {"name": n, "template": t, "dependsOn": [{"step": d, "condition": c}...]}
json Step(const std::string& name, std::vector<std::pair<std::string, std::string>> deps = {},
          const std::string& tmpl = "etl") {
  json s = {{"name", name}, {"template", tmpl}};
  if (!deps.empty()) {
    json d = json::array();
    for (const auto& [step, condition] : deps)
      d.push_back({{"step", step}, {"condition", condition}});
    s["dependsOn"] = d;
  }
  return s;
}

json FlowObject(const json& spec, const std::string& name = "f", const std::string& uid = "uid-1") {
  return {{"apiVersion", "weir.dev/v1alpha1"},
          {"kind", "JobFlow"},
          {"metadata",
           {{"name", name},
            {"namespace", "ns"},
            {"uid", uid},
            {"generation", 1},
            {"creationTimestamp", api::FormatRfc3339(kT0)},
            {"finalizers", json::array({kFinalizer})}}},
          {"spec", spec}};
}

json Diamond() {
  return {{"steps",
           json::array({Step("a"), Step("b", {{"a", "Succeeded"}}), Step("c", {{"a", "Succeeded"}}),
                        Step("d", {{"b", "Succeeded"}, {"c", "Succeeded"}})})}};
}

json Terminated(int code, const std::string& reason, absl::Time at) {
  return {{"terminated",
           {{"exitCode", code},
            {"reason", reason},
            {"startedAt", api::FormatRfc3339(at)},
            {"finishedAt", api::FormatRfc3339(at)}}}};
}

class FlowPlanTest : public ::testing::Test {
 protected:
  FlowPlanTest() : object_(FlowObject(Diamond())) {
    in_.now = kT0;
    in_.templates.emplace("etl", FlowTemplate{absl::StatusOr<json>(EtlJobSpec()), "100"});
  }

  FlowPlan PlanOf(const json& object) {
    in_.flow = api::ParseJobFlow(object);
    in_.jobs.clear();
    in_.pods.clear();
    for (const json& j : jobs_) in_.jobs.push_back(&j);
    for (const json& p : pods_) in_.pods.push_back(&p);
    return PlanJobFlow(in_);
  }
  FlowPlan Plan() { return PlanOf(object_); }

  // Stores the plan's status and created Jobs, as the executor and the API
  // server would.
  void ApplyTo(json& object, const FlowPlan& plan) {
    if (plan.status.has_value()) object["status"] = api::JobFlowStatusToJson(*plan.status);
    for (const FlowJobToCreate& c : plan.create_jobs) {
      json job = c.job;
      job["metadata"]["creationTimestamp"] = api::FormatRfc3339(in_.now);
      jobs_.push_back(job);
    }
  }
  void Apply(const FlowPlan& plan) { ApplyTo(object_, plan); }
  // Plans and applies until nothing more is written (at most a few looks).
  FlowPlan Settle() {
    FlowPlan p = Plan();
    for (int i = 0; i < 5 && (p.status.has_value() || !p.create_jobs.empty()); ++i) {
      Apply(p);
      p = Plan();
    }
    return p;
  }

  static std::string Uid(const json& object) { return object["metadata"]["uid"]; }

  // The Job of `step`'s latest attempt in the cache, of flow `object`.
  const json* LatestJob(const std::string& step, const json* object = nullptr) {
    const std::string uid = Uid(object != nullptr ? *object : object_);
    const json* latest = nullptr;
    for (const json& j : jobs_) {
      if (j["metadata"]["labels"][kLabelStep] == step &&
          j["metadata"]["labels"][kLabelFlowUid] == uid &&
          (latest == nullptr ||
           std::stoi(j["metadata"]["labels"][kLabelAttempt].get<std::string>()) >
               std::stoi(
                   latest->at("metadata").at("labels").at(kLabelAttempt).get<std::string>()))) {
        latest = &j;
      }
    }
    return latest;
  }

  // Puts a pod of `step`'s latest attempt in phase `phase` with main
  // container `state` (replacing an earlier pod of that attempt).
  void SetPod(const std::string& step, const std::string& phase, const json& state,
              const json* object = nullptr) {
    const json* job = LatestJob(step, object);
    ASSERT_NE(job, nullptr) << "no Job for step " << step;
    const std::string name = std::string((*job)["metadata"]["name"]) + "-pod";
    for (auto it = pods_.begin(); it != pods_.end(); ++it) {
      if ((*it)["metadata"]["name"] == name) {
        pods_.erase(it);
        break;
      }
    }
    pods_.push_back(
        {{"metadata",
          {{"name", name},
           {"creationTimestamp", api::FormatRfc3339(in_.now)},
           {"labels", (*job)["spec"]["template"]["metadata"]["labels"]}}},
         {"spec", (*job)["spec"]["template"]["spec"]},
         {"status",
          {{"phase", phase},
           {"startTime", api::FormatRfc3339(in_.now)},
           {"containerStatuses", json::array({{{"name", "main"}, {"state", state}}})}}}});
  }
  void Running(const std::string& step) {
    // Running for 2 s already: a younger main container still reads as starting.
    SetPod(step, "Running",
           {{"running", {{"startedAt", api::FormatRfc3339(in_.now - absl::Seconds(2))}}}});
  }
  void Succeed(const std::string& step, const json* object = nullptr) {
    SetPod(step, "Succeeded", Terminated(0, "Completed", in_.now), object);
  }
  void Fail(const std::string& step, int code = 1, const json* object = nullptr) {
    SetPod(step, "Failed", Terminated(code, "Error", in_.now), object);
  }

  static std::vector<std::string> Created(const FlowPlan& p) {
    std::vector<std::string> steps;
    for (const FlowJobToCreate& c : p.create_jobs) steps.push_back(c.step);
    return steps;
  }
  static const api::StepStatus& StepOf(const FlowPlan& p, const std::string& name) {
    static const api::StepStatus kNone;
    if (!p.status.has_value()) return kNone;
    const api::StepStatus* s = api::FindStepStatus(*p.status, name);
    return s != nullptr ? *s : kNone;
  }
  static const api::Condition* Cond(const FlowPlan& p, absl::string_view type) {
    return p.status.has_value() ? api::FindCondition(p.status->conditions, type) : nullptr;
  }
  static bool HasEvent(const FlowPlan& p, absl::string_view reason) {
    for (const OwnerEvent& e : p.events) {
      if (e.reason == reason) return true;
    }
    return false;
  }

  json object_;
  std::deque<json> jobs_;
  std::deque<json> pods_;
  FlowInput in_;
};

TEST_F(FlowPlanTest, NewFlowGetsFinalizerAndStartsOnlyItsRoots) {
  object_["metadata"].erase("finalizers");
  FlowPlan p = Plan();
  EXPECT_TRUE(p.add_finalizer);
  EXPECT_THAT(Created(p), ElementsAre("a"));
  const json& job = p.create_jobs[0].job;
  EXPECT_EQ(job["metadata"]["name"],
            ChildJobName(ChildOwner::FlowStep("ns", "f", "uid-1", "a", "etl"), 1));
  EXPECT_EQ(job["spec"]["template"]["metadata"]["labels"][kLabelFlowUid], "uid-1");
  EXPECT_EQ(job["spec"]["template"]["metadata"]["labels"][kLabelTemplate], "etl");
  EXPECT_EQ(job["spec"]["template"]["metadata"]["labels"][kLabelStep], "a");
  ASSERT_TRUE(p.status.has_value());
  ASSERT_EQ(p.status->steps.size(), 4u);
  EXPECT_EQ(p.status->steps[0].name, "a");
  EXPECT_EQ(p.status->steps[3].name, "d");
  EXPECT_EQ(StepOf(p, "a").template_resource_version, "100");
  EXPECT_EQ(StepOf(p, "a").attempts.size(), 1u);
  EXPECT_EQ(StepOf(p, "b").template_resource_version, "") << "recorded when the step starts";
  EXPECT_EQ(StepOf(p, "b").phase, "Pending");
  EXPECT_EQ(p.status->phase, "Running");
  EXPECT_EQ(p.status->progress, "0/4");
  EXPECT_EQ(p.status->start_time, kT0);
  EXPECT_EQ(p.status->observed_generation, 1);
  EXPECT_EQ(Cond(p, "Valid")->status, "True");
  EXPECT_EQ(Cond(p, "Running")->status, "True");
  EXPECT_THAT(p.events, IsEmpty()) << "progress as planned is told by the status alone";
}

TEST_F(FlowPlanTest, ConvergedStateWritesNothing) {
  Apply(Plan());
  Apply(Plan());  // first look at the new Job
  Running("a");
  Apply(Plan());
  FlowPlan again = Plan();
  EXPECT_THAT(again.create_jobs, IsEmpty());
  EXPECT_FALSE(again.status.has_value())
      << api::JobFlowStatusToJson(*again.status).dump() << " was " << object_["status"].dump();
  EXPECT_THAT(again.events, IsEmpty());
  EXPECT_THAT(again.delete_jobs, IsEmpty());
}

TEST_F(FlowPlanTest, DiamondStartsAStepOnlyAfterAllItsDependenciesSucceeded) {
  Apply(Plan());
  Succeed("a");
  FlowPlan p = Plan();
  EXPECT_EQ(StepOf(p, "a").phase, "Succeeded");
  EXPECT_THAT(Created(p), UnorderedElementsAre("b", "c")) << "several Jobs in one plan";
  EXPECT_EQ(p.status->progress, "1/4");
  EXPECT_THAT(p.events, IsEmpty()) << "a step's success costs no Event write";
  Apply(p);

  Succeed("b");
  p = Plan();
  EXPECT_THAT(Created(p), IsEmpty()) << "d also needs c";
  Apply(p);

  Succeed("c");
  p = Plan();
  EXPECT_THAT(Created(p), ElementsAre("d"));
  Apply(p);

  in_.now += absl::Seconds(3);
  Succeed("d");
  p = Plan();
  EXPECT_EQ(p.status->phase, "Succeeded");
  EXPECT_EQ(p.status->progress, "4/4");
  EXPECT_EQ(p.status->completion_time, in_.now);
  EXPECT_EQ(Cond(p, "Finished")->status, "True");
  EXPECT_EQ(Cond(p, "Running")->status, "False");
  EXPECT_EQ(p.outcome_reason, "StepsSucceeded");
  EXPECT_THAT(p.delete_jobs, IsEmpty()) << "Retain keeps the Jobs for the idle timeout";
  EXPECT_EQ(p.wake_at, in_.now + absl::Minutes(10));
}

TEST_F(FlowPlanTest, TwoFlowsOfTheSameTemplateSeeOnlyTheirOwnJobs) {
  json other = FlowObject(Diamond(), "g", "uid-2");
  Apply(Plan());
  ApplyTo(other, PlanOf(other));
  ASSERT_EQ(jobs_.size(), 2u);
  Apply(Plan());  // first look at the new Jobs
  ApplyTo(other, PlanOf(other));
  Fail("a", 1, &other);  // g's step a fails
  FlowPlan mine = Plan();
  EXPECT_FALSE(mine.status.has_value())
      << "f is not moved by g's Job: " << api::JobFlowStatusToJson(*mine.status).dump() << " was "
      << object_["status"].dump();
  Succeed("a");
  mine = Plan();
  EXPECT_EQ(StepOf(mine, "a").phase, "Succeeded");
  FlowPlan theirs = PlanOf(other);
  EXPECT_EQ(StepOf(theirs, "a").phase, "Failed");
  EXPECT_EQ(theirs.status->phase, "Failed");
  EXPECT_THAT(theirs.status->message, HasSubstr("step a ended Failed"));
  for (const FlowJobToCreate& c : mine.create_jobs) {
    EXPECT_EQ(c.job["metadata"]["labels"][kLabelFlowUid], "uid-1");
  }
}

TEST_F(FlowPlanTest, SameTemplateTwiceRunsTwoJobsWithTheirOwnStatus) {
  object_ = FlowObject({{"steps", json::array({Step("x"), Step("y")})}});
  FlowPlan p = Plan();
  ASSERT_THAT(Created(p), ElementsAre("x", "y"));
  EXPECT_NE(p.create_jobs[0].job["metadata"]["name"], p.create_jobs[1].job["metadata"]["name"]);
  Apply(p);
  Fail("y");
  Succeed("x");
  p = Plan();
  EXPECT_EQ(StepOf(p, "x").phase, "Succeeded");
  EXPECT_EQ(StepOf(p, "y").phase, "Failed");
  EXPECT_EQ(StepOf(p, "x").attempts[0].job, jobs_[0]["metadata"]["name"]);
  EXPECT_EQ(StepOf(p, "y").attempts[0].job, jobs_[1]["metadata"]["name"]);
}

TEST_F(FlowPlanTest, ConditionsDecideWhichStepsRunAndSkippedStepsSayWhy) {
  struct Case {
    bool a_fails;
    std::vector<std::string> second_wave;
    std::string skipped;
    std::string skip_message;
    std::string flow_phase;
  };
  for (const Case& c : {
           Case{true,
                {"cleanup", "finally"},
                "next",
                "dependency a ended Failed, needs Succeeded",
                "Failed"},
           Case{false,
                {"next", "finally"},
                "cleanup",
                "dependency a ended Succeeded, needs Failed",
                "Succeeded"},
       }) {
    SCOPED_TRACE(c.a_fails ? "a fails" : "a succeeds");
    jobs_.clear();
    pods_.clear();
    object_ = FlowObject({{"steps", json::array({Step("a"), Step("cleanup", {{"a", "Failed"}}),
                                                 Step("next", {{"a", "Succeeded"}}),
                                                 Step("finally", {{"a", "Completed"}})})}});
    Apply(Plan());
    if (c.a_fails) {
      Fail("a");
    } else {
      Succeed("a");
    }
    FlowPlan p = Plan();
    EXPECT_EQ(StepOf(p, c.skipped).phase, "Skipped");
    EXPECT_EQ(StepOf(p, c.skipped).message, c.skip_message);
    EXPECT_TRUE(HasEvent(p, "StepSkipped"));
    if (c.a_fails) {
      EXPECT_THAT(Created(p), IsEmpty()) << "a's Failed is stored first";
      Apply(p);
      p = Plan();
    }
    EXPECT_THAT(Created(p), UnorderedElementsAre(c.second_wave[0], c.second_wave[1]));
    Apply(p);
    for (const std::string& s : c.second_wave) Succeed(s);
    p = Plan();
    EXPECT_EQ(p.status->phase, c.flow_phase);
    EXPECT_EQ(p.status->progress, "4/4");
    if (c.a_fails) {
      EXPECT_THAT(p.status->message, HasSubstr("step a ended Failed"));
    }
  }
}

TEST_F(FlowPlanTest, CancelingOneStepKeepsTheFlowSucceeded) {
  object_ =
      FlowObject({{"steps", json::array({Step("a"), Step("b", {{"a", "Succeeded"}}), Step("c")})}});
  Apply(Plan());
  Running("a");
  Running("c");
  Apply(Plan());
  object_["spec"]["steps"][0]["cancel"] = true;
  object_["metadata"]["generation"] = 2;
  FlowPlan p = Plan();
  EXPECT_EQ(StepOf(p, "a").phase, "Canceling");
  EXPECT_THAT(StepOf(p, "a").message, HasSubstr("canceled on request"));
  EXPECT_THAT(p.delete_jobs, IsEmpty()) << "not before Canceling is stored";
  EXPECT_EQ(StepOf(p, "c").phase, "Running") << "the independent branch runs on";
  EXPECT_EQ(p.status->phase, "Running");
  Apply(p);
  EXPECT_THAT(Plan().delete_jobs, ElementsAre(LatestJob("a")->at("metadata").at("name")));

  SetPod("a", "Failed", Terminated(143, "Error", in_.now));  // stopped as asked
  p = Plan();
  EXPECT_EQ(StepOf(p, "a").phase, "Canceled");
  EXPECT_EQ(StepOf(p, "b").phase, "Skipped");
  EXPECT_THAT(StepOf(p, "b").message, HasSubstr("dependency a ended Canceled"));
  Apply(p);

  Succeed("c");
  p = Plan();
  EXPECT_EQ(p.status->phase, "Succeeded");
  EXPECT_EQ(p.status->progress, "3/3");
}

// Issue 18: step a (running) was replaced by x in the spec, b now after x.
// The schema refuses this; an older CRD or a cluster without CEL lets it
// through. a is canceled, its Job deleted and its record kept, and the flow
// is not Succeeded while a's pod runs.
TEST_F(FlowPlanTest, AStartedStepRemovedFromTheSpecIsCanceledAndKept) {
  object_ = FlowObject({{"steps", json::array({Step("a"), Step("b", {{"a", "Succeeded"}})})}});
  Apply(Plan());
  Running("a");
  Apply(Plan());
  const std::string a_job = LatestJob("a")->at("metadata").at("name");
  object_["spec"]["steps"] = json::array({Step("x"), Step("b", {{"x", "Succeeded"}})});
  object_["metadata"]["generation"] = 2;

  FlowPlan p = Plan();
  EXPECT_THAT(Created(p), ElementsAre("x"));
  ASSERT_EQ(p.status->steps.size(), 3u) << "the spec's steps, then the removed one";
  EXPECT_EQ(p.status->steps[2].name, "a");
  EXPECT_EQ(StepOf(p, "a").phase, "Canceling");
  EXPECT_EQ(StepOf(p, "a").template_name, "etl");
  ASSERT_EQ(StepOf(p, "a").attempts.size(), 1u);
  EXPECT_THAT(StepOf(p, "a").message, HasSubstr("removed from the spec after it started"));
  EXPECT_THAT(p.delete_jobs, IsEmpty()) << "not before Canceling is stored";
  ASSERT_NE(Cond(p, "StartedStepsChanged"), nullptr);
  EXPECT_EQ(Cond(p, "StartedStepsChanged")->status, "True");
  EXPECT_EQ(Cond(p, "StartedStepsChanged")->reason, "StartedStepRemoved");
  EXPECT_THAT(Cond(p, "StartedStepsChanged")->message, HasSubstr("step a was removed"));
  EXPECT_TRUE(HasEvent(p, "StepCanceling"));
  Apply(p);
  EXPECT_THAT(Plan().delete_jobs, ElementsAre(a_job));

  Succeed("x");
  Apply(Plan());
  Succeed("b");
  p = Plan();
  EXPECT_EQ(StepOf(p, "b").phase, "Succeeded");
  EXPECT_EQ(p.status->phase, "Running") << "a's pod still runs";
  EXPECT_THAT(p.status->message, HasSubstr("waiting for step a"));
  EXPECT_EQ(p.status->progress, "2/2");
  Apply(p);

  SetPod("a", "Failed", Terminated(143, "Error", in_.now));  // stopped as asked
  p = Plan();
  EXPECT_EQ(StepOf(p, "a").phase, "Canceled");
  EXPECT_EQ(StepOf(p, "a").attempts[0].exit_code, 143);
  EXPECT_EQ(p.status->phase, "Succeeded");
  Apply(p);
  p = Settle();
  EXPECT_FALSE(p.status.has_value()) << "settled";
  ASSERT_NE(api::FindStepStatus(api::ParseJobFlow(object_).status, "a"), nullptr)
      << "the record is kept";
}

// The template of started step a was changed: a is canceled as it ran (the
// record keeps the template it ran), nothing of the new template runs under
// its name, and its dependents follow a Canceled.
TEST_F(FlowPlanTest, AStartedStepWhoseTemplateChangedIsCanceledNotRerun) {
  in_.templates.emplace("other", FlowTemplate{absl::StatusOr<json>(EtlJobSpec("alpine")), "200"});
  object_ = FlowObject({{"steps", json::array({Step("a"), Step("b", {{"a", "Succeeded"}})})}});
  Apply(Plan());
  Running("a");
  Apply(Plan());
  object_["spec"]["steps"][0]["template"] = "other";
  object_["metadata"]["generation"] = 2;

  FlowPlan p = Plan();
  EXPECT_THAT(Created(p), IsEmpty());
  EXPECT_EQ(StepOf(p, "a").phase, "Canceling");
  EXPECT_EQ(StepOf(p, "a").template_name, "etl");
  EXPECT_EQ(Cond(p, "StartedStepsChanged")->reason, "StartedStepRetemplated");
  EXPECT_THAT(Cond(p, "StartedStepsChanged")->message,
              HasSubstr("template was changed from etl to other"));
  Apply(p);
  EXPECT_THAT(Plan().delete_jobs, ElementsAre(LatestJob("a")->at("metadata").at("name")));

  SetPod("a", "Failed", Terminated(143, "Error", in_.now));
  p = Plan();
  EXPECT_EQ(StepOf(p, "a").phase, "Canceled");
  EXPECT_EQ(StepOf(p, "b").phase, "Skipped");
  EXPECT_THAT(Created(p), IsEmpty());
  EXPECT_EQ(p.status->phase, "Succeeded");
  EXPECT_EQ(jobs_.size(), 1u);
}

// Steps that never started may be removed or re-templated freely; a step
// whose Job exists but whose record was lost counts as started.
TEST_F(FlowPlanTest, OnlyStartedStepsAreKeptWhenTheSpecDropsThem) {
  Apply(Plan());  // a started; b, c, d pending
  object_["spec"]["steps"] = json::array({Step("a"), Step("b", {{"a", "Succeeded"}})});
  object_["metadata"]["generation"] = 2;
  FlowPlan p = Plan();
  ASSERT_TRUE(p.status.has_value());
  EXPECT_EQ(p.status->steps.size(), 2u) << "c and d had not started: gone";
  EXPECT_EQ(Cond(p, "StartedStepsChanged"), nullptr);

  FlowPlan status_lost;  // a Job for e, with no record of it
  object_["spec"]["steps"].push_back(Step("e"));
  status_lost.create_jobs = PlanOf(object_).create_jobs;
  ASSERT_THAT(Created(status_lost), ElementsAre("e"));
  Apply(status_lost);
  object_["spec"]["steps"].erase(2);
  object_["metadata"]["generation"] = 3;
  p = Plan();
  ASSERT_NE(p.status, std::nullopt);
  EXPECT_EQ(StepOf(p, "e").phase, "Canceling");
  ASSERT_EQ(StepOf(p, "e").attempts.size(), 1u) << "adopted from its Job";
}

TEST_F(FlowPlanTest, FlowCancelEndsCanceledAndReleasesJobs) {
  Apply(Plan());
  Running("a");
  Apply(Plan());
  object_["spec"]["cancel"] = true;
  object_["metadata"]["generation"] = 2;
  FlowPlan p = Plan();
  EXPECT_EQ(p.status->phase, "Canceling");
  EXPECT_EQ(StepOf(p, "a").phase, "Canceling");
  EXPECT_EQ(StepOf(p, "b").phase, "Canceled") << "not started: canceled at once";
  EXPECT_THAT(p.delete_jobs, IsEmpty()) << "not before Canceling is stored";
  EXPECT_THAT(Created(p), IsEmpty());
  Apply(p);
  EXPECT_THAT(Plan().delete_jobs, ElementsAre(LatestJob("a")->at("metadata").at("name")));

  SetPod("a", "Failed", Terminated(143, "Error", in_.now));
  p = Plan();
  EXPECT_EQ(p.status->phase, "Canceled");
  EXPECT_EQ(p.outcome_reason, "FlowCanceled");
  EXPECT_EQ(StepOf(p, "a").phase, "Canceled");
  EXPECT_EQ(Cond(p, "Finished")->reason, "Canceled");
  Apply(p);
  jobs_.clear();
  pods_.clear();
  p = Plan();
  EXPECT_EQ(Cond(p, "ResourcesReleased")->status, "True");
}

// Step a's Job was created but the status write recording it was lost (a
// Conflict, or the controller killed): the cancel records the attempt before
// the Job goes, or a second lost write would erase every trace of it.
TEST_F(FlowPlanTest, CanceledAttemptKnownOnlyFromItsJobIsRecordedBeforeTheJobGoes) {
  FlowPlan status_lost;
  status_lost.create_jobs = Plan().create_jobs;
  Apply(status_lost);
  const std::string job = LatestJob("a")->at("metadata").at("name");
  object_["spec"]["cancel"] = true;
  object_["metadata"]["generation"] = 2;

  FlowPlan p = Plan();
  ASSERT_TRUE(p.status.has_value());
  ASSERT_EQ(StepOf(p, "a").attempts.size(), 1u);
  EXPECT_EQ(StepOf(p, "a").attempts[0].job, job);
  EXPECT_THAT(p.delete_jobs, IsEmpty()) << "not before the status records the attempt";
  Apply(p);

  EXPECT_THAT(Plan().delete_jobs, ElementsAre(job));
}

// A controller deleted step a's Job for a cancel and died before Canceling
// was stored (weir now stores it first; a controller of an earlier version
// did not): the pod's exit 143 is a kill, not the step's failure, and the
// cancel the next look derives makes it Canceled. The fault suite's
// flow_canceled at seed-2 read "Failed Error 143".
TEST_F(FlowPlanTest, APodStoppedByACancelWhoseRecordWasLostReadsCanceled) {
  for (const bool step_cancel : {false, true}) {
    SCOPED_TRACE(step_cancel ? "step cancel" : "flow cancel");
    jobs_.clear();
    pods_.clear();
    object_ = FlowObject({{"steps", json::array({Step("a"), Step("b", {{"a", "Succeeded"}})})}});
    Apply(Plan());
    Running("a");
    Apply(Plan());
    object_["spec"]["cancel"] = !step_cancel;
    if (step_cancel) object_["spec"]["steps"][0]["cancel"] = true;
    object_["metadata"]["generation"] = 2;
    SetPod("a", "Failed", Terminated(143, "Error", in_.now));
    // Removed with grace 0 a second after it stopped, as the kubelet does.
    pods_.back()["metadata"]["deletionTimestamp"] = api::FormatRfc3339(in_.now + absl::Seconds(1));
    pods_.back()["metadata"]["deletionGracePeriodSeconds"] = 0;
    const FlowPlan p = Plan();
    EXPECT_EQ(StepOf(p, "a").phase, "Canceled");
    ASSERT_EQ(StepOf(p, "a").attempts.size(), 1u);
    EXPECT_EQ(StepOf(p, "a").attempts[0].phase, "Canceled");
    EXPECT_EQ(StepOf(p, "a").attempts[0].exit_code, 143);
  }
}

TEST_F(FlowPlanTest, StopFlowCancelsRunningStepsContinueOthersLetsThemFinish) {
  for (const std::string policy : {"StopFlow", "ContinueOthers"}) {
    SCOPED_TRACE(policy);
    jobs_.clear();
    pods_.clear();
    object_ =
        FlowObject({{"steps", json::array({Step("a"), Step("b"), Step("c", {{"b", "Succeeded"}})})},
                    {"onStepFailure", policy}});
    Apply(Plan());
    Running("b");
    Fail("a", 3);
    FlowPlan p = Plan();
    EXPECT_EQ(StepOf(p, "a").phase, "Failed");
    if (policy == "StopFlow") {
      EXPECT_EQ(StepOf(p, "b").phase, "Canceling");
      EXPECT_THAT(StepOf(p, "b").message, HasSubstr("flow stopped: step a failed"));
      EXPECT_EQ(p.status->phase, "Running");
      Apply(p);
      SetPod("b", "Failed", Terminated(143, "Error", in_.now));
      p = Plan();
      EXPECT_EQ(StepOf(p, "b").phase, "Canceled");
      EXPECT_EQ(StepOf(p, "c").phase, "Skipped");
    } else {
      EXPECT_EQ(StepOf(p, "b").phase, "Running");
      Apply(p);
      Succeed("b");
      p = Plan();
      EXPECT_THAT(Created(p), ElementsAre("c"));
      Apply(p);
      Succeed("c");
      p = Plan();
      EXPECT_EQ(StepOf(p, "c").phase, "Succeeded");
    }
    EXPECT_EQ(p.status->phase, "Failed");
    EXPECT_THAT(p.status->message, HasSubstr("step a ended Failed (Error)"));
  }
}

TEST_F(FlowPlanTest, AStepStoppedByAFailureKeepsItsCauseWhenTheFlowIsCanceledLater) {
  object_ = FlowObject({{"steps", json::array({Step("a"), Step("b")})}});
  Apply(Plan());
  Running("b");
  Fail("a");
  FlowPlan p = Plan();
  EXPECT_EQ(StepOf(p, "b").phase, "Canceling");
  Apply(p);
  object_["spec"]["cancel"] = true;
  object_["metadata"]["generation"] = 2;
  SetPod("b", "Failed", Terminated(143, "Error", in_.now));
  p = Plan();
  EXPECT_EQ(StepOf(p, "b").phase, "Canceled");
  EXPECT_THAT(StepOf(p, "b").message, HasSubstr("flow stopped: step a failed"));
  EXPECT_EQ(p.status->phase, "Failed") << "the flow failed before the cancel stopped anything";
}

TEST_F(FlowPlanTest, ACanceledStepThatNeverStartedLetsItsCanceledHandlerRun) {
  json b = Step("b", {{"a", "Succeeded"}});
  b["cancel"] = true;
  object_ =
      FlowObject({{"steps", json::array({Step("a"), b, Step("on-cancel", {{"b", "Canceled"}})})}});
  FlowPlan p = Plan();
  EXPECT_EQ(StepOf(p, "b").phase, "Canceled");
  EXPECT_THAT(StepOf(p, "b").attempts, IsEmpty());
  EXPECT_THAT(Created(p), ElementsAre("a")) << "on-cancel waits until b's Canceled is stored";
  Apply(p);
  p = Plan();
  EXPECT_THAT(Created(p), ElementsAre("on-cancel"));
  Apply(p);
  Succeed("a");
  Succeed("on-cancel");
  p = Plan();
  EXPECT_EQ(p.status->phase, "Succeeded");
  EXPECT_EQ(p.status->progress, "3/3");
}

// Found by the model checker (test/model/): a is canceled while its pod is
// still Pending, so the plan ends it Canceled, which lets b (on a Canceled)
// start. Creating b in that same plan, before a's end is stored, let b run
// on a cancel that a lost status write undid: a's pod started and succeeded.
TEST_F(FlowPlanTest, AStepStartsOnADependencysCancelOnlyOnceTheCancelIsStored) {
  object_ = FlowObject({{"steps", json::array({Step("a"), Step("b", {{"a", "Canceled"}})})}});
  Apply(Plan());
  ASSERT_NE(LatestJob("a"), nullptr);
  object_["spec"]["steps"][0]["cancel"] = true;
  FlowPlan p = Plan();
  EXPECT_EQ(StepOf(p, "a").phase, "Canceling") << "its pod may run by now";
  Apply(p);
  // a's Job went with the pod it never started.
  const std::string job = LatestJob("a")->at("metadata").at("name");
  jobs_.clear();
  in_.jobs_gone.insert(job);
  p = Plan();
  EXPECT_EQ(StepOf(p, "a").phase, "Canceled");
  EXPECT_THAT(Created(p), IsEmpty()) << "b waits until a's Canceled is stored";
  Apply(p);
  p = Plan();
  EXPECT_THAT(Created(p), ElementsAre("b"));
}

// The cancel window (issue 12's stress test, seen once under load): step c's
// cancel was stored after a look from before it had passed its live check,
// so c's Job was created anyway and its record's write failed on the newer
// version; c's pod then succeeded before the next look. The stop wins: c ends
// Canceled with its Job deleted, and what waits on c's success is skipped.
TEST_F(FlowPlanTest, AStepWhoseJobWasCreatedAfterItsCancelEndsCanceledEvenIfItSucceeded) {
  object_ = FlowObject({{"steps", json::array({Step("c"), Step("d", {{"c", "Succeeded"}})})}});
  const FlowPlan before = Plan();
  ASSERT_THAT(Created(before), ElementsAre("c"));
  for (const FlowJobToCreate& j : before.create_jobs) jobs_.push_back(j.job);  // status write lost
  object_["spec"]["steps"][0]["cancel"] = true;
  object_["metadata"]["generation"] = 2;
  Succeed("c");
  FlowPlan p = Plan();
  EXPECT_EQ(StepOf(p, "c").phase, "Canceled");
  EXPECT_THAT(StepOf(p, "c").message, HasSubstr("canceled on request"));
  ASSERT_EQ(StepOf(p, "c").attempts.size(), 1u);
  EXPECT_EQ(StepOf(p, "c").attempts[0].phase, "Succeeded");
  EXPECT_THAT(p.delete_jobs, IsEmpty()) << "not before its record is stored";
  EXPECT_THAT(Created(p), IsEmpty());
  Apply(p);
  p = Plan();
  EXPECT_THAT(p.delete_jobs, ElementsAre(LatestJob("c")->at("metadata").at("name")));
  Settle();
  const api::JobFlowStatus status = api::ParseJobFlow(object_).status;
  EXPECT_EQ(api::FindStepStatus(status, "c")->phase, "Canceled");
  EXPECT_EQ(api::FindStepStatus(status, "d")->phase, "Skipped");
  EXPECT_EQ(status.phase, "Succeeded") << "a step cancel leaves the flow Succeeded";
}

// A success of an attempt never recorded can still yield to a stop (the
// test above), so a dependent waits until it is stored: if that write is lost
// and the cancel comes, c ends Canceled and d never ran on a success that did
// not hold.
TEST_F(FlowPlanTest, ADependentStartsOnASuccessOfAnUnrecordedAttemptOnlyOnceItIsStored) {
  object_ = FlowObject({{"steps", json::array({Step("c"), Step("d", {{"c", "Succeeded"}})})}});
  const FlowPlan before = Plan();
  for (const FlowJobToCreate& j : before.create_jobs) jobs_.push_back(j.job);  // status write lost
  Succeed("c");
  FlowPlan p = Plan();
  EXPECT_EQ(StepOf(p, "c").phase, "Succeeded");
  EXPECT_THAT(Created(p), IsEmpty()) << "d waits until c's success is stored";
  // That write is lost too, and the user cancels c.
  object_["spec"]["steps"][0]["cancel"] = true;
  object_["metadata"]["generation"] = 2;
  p = Plan();
  EXPECT_EQ(StepOf(p, "c").phase, "Canceled");
  EXPECT_THAT(Created(p), IsEmpty());
}

// A recorded attempt that succeeded before the cancel was seen stands, and
// its dependent starts in the same look.
TEST_F(FlowPlanTest, ARecordedStepThatSucceededBeforeItsCancelWasSeenStands) {
  object_ = FlowObject({{"steps", json::array({Step("c"), Step("d", {{"c", "Succeeded"}})})}});
  Apply(Plan());
  Running("c");
  Apply(Plan());
  Succeed("c");
  object_["spec"]["steps"][0]["cancel"] = true;
  object_["metadata"]["generation"] = 2;
  FlowPlan p = Plan();
  EXPECT_EQ(StepOf(p, "c").phase, "Succeeded");
  EXPECT_THAT(p.delete_jobs, IsEmpty());
  EXPECT_THAT(Created(p), ElementsAre("d"));
}

// Found by the model checker (test/model/, full bounds): a fails and the
// plan ends it Failed, which lets cleanup (on a Failed) start. Created in
// that plan, before a's end was stored, cleanup ran although a lost status
// write and a flow cancel then recorded a otherwise (design §4.2).
TEST_F(FlowPlanTest, AStepStartsOnADependencysFailureOnlyOnceTheFailureIsStored) {
  object_ = FlowObject({{"steps", json::array({Step("a"), Step("cleanup", {{"a", "Failed"}})})}});
  Apply(Plan());
  Fail("a");
  FlowPlan p = Plan();
  EXPECT_EQ(StepOf(p, "a").phase, "Failed");
  EXPECT_THAT(Created(p), IsEmpty());
  Apply(p);
  p = Plan();
  EXPECT_THAT(Created(p), ElementsAre("cleanup"));
}

TEST_F(FlowPlanTest, SuspendStartsNothingUntilCleared) {
  object_["spec"]["suspend"] = true;
  FlowPlan p = Plan();
  EXPECT_THAT(Created(p), IsEmpty());
  EXPECT_EQ(p.status->phase, "Pending");
  EXPECT_EQ(Cond(p, "Running")->reason, "Suspended");
  Apply(p);
  object_["spec"]["suspend"] = false;
  p = Plan();
  EXPECT_THAT(Created(p), ElementsAre("a"));
}

TEST_F(FlowPlanTest, SuspendHoldsARetryToo) {
  json a = Step("a");
  a["retry"] = {{"limit", 1}, {"backoffSeconds", 0}};
  object_ = FlowObject({{"steps", json::array({a})}});
  Apply(Plan());
  object_["spec"]["suspend"] = true;
  Fail("a");
  FlowPlan p = Plan();
  EXPECT_EQ(StepOf(p, "a").phase, "Retrying");
  EXPECT_THAT(p.create_jobs, IsEmpty());
  EXPECT_EQ(p.status->phase, "Running");
  EXPECT_FALSE(p.wake_at.has_value()) << "no busy requeue while suspended";
  Apply(p);
  object_["spec"]["suspend"] = false;
  p = Plan();
  ASSERT_EQ(p.create_jobs.size(), 1u);
  EXPECT_EQ(p.create_jobs[0].attempt, 2);
}

TEST_F(FlowPlanTest, ParallelismIsNeverExceeded) {
  object_ =
      FlowObject({{"steps", json::array({Step("a"), Step("b"), Step("c")})}, {"parallelism", 2}});
  FlowPlan p = Plan();
  EXPECT_THAT(Created(p), ElementsAre("a", "b"));
  Apply(p);
  p = Plan();
  EXPECT_THAT(Created(p), IsEmpty());
  Apply(p);
  Succeed("a");
  p = Plan();
  EXPECT_THAT(Created(p), ElementsAre("c"));
}

TEST_F(FlowPlanTest, StepRetriesAfterOomWithMoreMemory) {
  json a = Step("a");
  a["retry"] = {
      {"limit", 1}, {"backoffSeconds", 0}, {"onOOM", {{"memoryFactor", 2}, {"maxMemory", "4Gi"}}}};
  object_ = FlowObject({{"steps", json::array({a})}});
  Apply(Plan());
  SetPod("a", "Failed", Terminated(137, "OOMKilled", in_.now));
  FlowPlan p = Plan();
  EXPECT_EQ(StepOf(p, "a").phase, "Retrying");
  ASSERT_EQ(p.create_jobs.size(), 1u);
  EXPECT_EQ(p.create_jobs[0].attempt, 2);
  EXPECT_EQ(p.create_jobs[0]
                .job["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"],
            "2Gi");
  ASSERT_EQ(StepOf(p, "a").attempts.size(), 2u);
  EXPECT_EQ(StepOf(p, "a").attempts[0].termination_reason, "OOMKilled");
  EXPECT_EQ(p.status->phase, "Running") << "a retrying step is no failure";
}

TEST_F(FlowPlanTest, EditingTheTemplateDoesNotChangeAStartedStep) {
  json a = Step("a");
  a["retry"] = {{"limit", 1}, {"backoffSeconds", 0}};
  object_ = FlowObject({{"steps", json::array({a, Step("b", {{"a", "Succeeded"}})})}});
  Apply(Plan());
  in_.templates.erase("etl");
  in_.templates.emplace("etl", FlowTemplate{absl::StatusOr<json>(EtlJobSpec("v2")), "200"});
  Fail("a");
  FlowPlan p = Plan();
  ASSERT_EQ(p.create_jobs.size(), 1u);
  EXPECT_EQ(p.create_jobs[0].job["spec"]["template"]["spec"]["containers"][0]["image"], "busybox")
      << "attempt 2 repeats attempt 1's JobSpec";
  EXPECT_FALSE(p.create_jobs[0].job["spec"].contains("selector"));
  EXPECT_EQ(StepOf(p, "a").template_resource_version, "100");
  Apply(p);
  Succeed("a");
  p = Plan();
  ASSERT_EQ(p.create_jobs.size(), 1u);
  EXPECT_EQ(p.create_jobs[0].job["spec"]["template"]["spec"]["containers"][0]["image"], "v2")
      << "a step that starts later uses the template as it is then";
  EXPECT_EQ(StepOf(p, "b").template_resource_version, "200");
}

TEST_F(FlowPlanTest, JobSpecOfChildDropsServerSetSelectorAndLabels) {
  json job = {
      {"spec",
       {{"selector", {{"matchLabels", {{"controller-uid", "x"}}}}},
        {"template",
         {{"metadata",
           {{"labels",
             {{"controller-uid", "x"}, {"batch.kubernetes.io/job-name", "j"}, {"app", "a"}}}}},
          {"spec", {{"containers", json::array()}}}}}}}};
  json spec = JobSpecOfChild(job);
  EXPECT_FALSE(spec.contains("selector"));
  EXPECT_EQ(spec["template"]["metadata"]["labels"], json({{"app", "a"}}));
  EXPECT_EQ(JobSpecOfChild(json(42)), json());
}

TEST_F(FlowPlanTest, ValidationErrorsFailTheFlowAndCreateNothing) {
  struct Case {
    std::string name;
    json spec;
    std::string reason;
    std::string message;
  };
  for (const Case& c : {
           Case{"cycle",
                {{"steps",
                  json::array({Step("a", {{"b", "Succeeded"}}), Step("b", {{"a", "Succeeded"}})})}},
                "DependencyCycle",
                "cycle"},
           Case{"unknown dependency",
                {{"steps", json::array({Step("a", {{"zz", "Succeeded"}})})}},
                "UnknownDependency",
                "zz"},
           Case{"duplicate name",
                {{"steps", json::array({Step("a"), Step("a")})}},
                "DuplicateStepName",
                "a"},
           Case{"bad spec", {{"steps", "nope"}}, "InvalidSpec", "spec.steps"},
           Case{"patch breaks the JobSpec",
                {{"steps", json::array({[] {
                    json s = Step("a");
                    s["patch"] = {{"template", {{"spec", {{"containers", json::array()}}}}}};
                    return s;
                  }()})}},
                "InvalidPatch",
                "containers"},
       }) {
    SCOPED_TRACE(c.name);
    object_ = FlowObject(c.spec);
    FlowPlan p = Plan();
    EXPECT_THAT(p.create_jobs, IsEmpty());
    ASSERT_TRUE(p.status.has_value());
    EXPECT_EQ(p.status->phase, "Failed");
    ASSERT_NE(Cond(p, "Valid"), nullptr);
    EXPECT_EQ(Cond(p, "Valid")->status, "False");
    EXPECT_EQ(Cond(p, "Valid")->reason, c.reason);
    EXPECT_THAT(Cond(p, "Valid")->message, HasSubstr(c.message));
    EXPECT_TRUE(HasEvent(p, c.reason));
  }
}

// An edit past the schema made the spec invalid while step a ran: a is
// canceled through its attempt (Canceling, its Job deleted once that is
// stored, Canceled once its pod ended, so that the pod's end is recorded and
// its final-state finalizer can go), and the flow fails only then. Ending
// the flow at once left a's attempt Pending forever and its pod, kept by the
// finalizer, blocked the flow's deletion (edit_sequences_test, seed 3).
TEST_F(FlowPlanTest, SpecMadeInvalidWhileRunningStopsTheStepsThenFails) {
  Apply(Plan());
  Running("a");
  Apply(Plan());
  const std::string a_job = LatestJob("a")->at("metadata").at("name");
  object_["spec"]["steps"][0]["dependsOn"] = json::array({{{"step", "d"}}});
  object_["metadata"]["generation"] = 2;
  FlowPlan p = Plan();
  EXPECT_EQ(p.status->phase, "Running") << "a's pod still runs";
  EXPECT_EQ(Cond(p, "Valid")->status, "False");
  EXPECT_EQ(Cond(p, "Valid")->reason, "DependencyCycle");
  EXPECT_THAT(p.status->message, HasSubstr("waiting for step a"));
  EXPECT_EQ(StepOf(p, "a").phase, "Canceling");
  EXPECT_THAT(StepOf(p, "a").message, HasSubstr("the spec is invalid"));
  EXPECT_THAT(p.delete_jobs, IsEmpty()) << "not before Canceling is stored";
  EXPECT_THAT(p.create_jobs, IsEmpty());
  Apply(p);
  p = Plan();
  EXPECT_THAT(p.delete_jobs, ElementsAre(a_job));
  EXPECT_THAT(p.create_jobs, IsEmpty());

  SetPod("a", "Failed", Terminated(143, "Error", in_.now));  // stopped as asked
  p = Plan();
  EXPECT_EQ(p.status->phase, "Failed");
  EXPECT_EQ(StepOf(p, "a").phase, "Canceled");
  ASSERT_EQ(StepOf(p, "a").attempts.size(), 1u);
  EXPECT_EQ(StepOf(p, "a").attempts[0].phase, "Canceled") << "the attempt's end is recorded";
  EXPECT_EQ(StepOf(p, "a").attempts[0].exit_code, 143);
  EXPECT_EQ(StepOf(p, "b").phase, "Canceled");
  EXPECT_EQ(Cond(p, "Valid")->reason, "DependencyCycle");
  EXPECT_THAT(p.create_jobs, IsEmpty());
}

TEST_F(FlowPlanTest, RetainKeepsJobsForTheIdleTimeoutThenReleasesThem) {
  object_ = FlowObject({{"steps", json::array({Step("a")})}, {"idleTimeoutSeconds", 60}});
  Apply(Plan());
  Succeed("a");
  FlowPlan p = Plan();
  EXPECT_EQ(p.status->phase, "Succeeded");
  EXPECT_THAT(p.delete_jobs, IsEmpty());
  EXPECT_EQ(p.wake_at, kT0 + absl::Seconds(60));
  Apply(p);
  in_.now = kT0 + absl::Seconds(61);
  p = Plan();
  EXPECT_EQ(p.delete_jobs.size(), 1u);
  jobs_.clear();
  pods_.clear();
  p = Plan();
  EXPECT_EQ(Cond(p, "ResourcesReleased")->status, "True");
  EXPECT_EQ(p.status->phase, "Succeeded") << "the record stays";
}

TEST_F(FlowPlanTest, UnknownTemplateWaitsThenFails) {
  object_ = FlowObject({{"steps", json::array({Step("a"), Step("b", {}, "nope")})}});
  FlowPlan p = Plan();
  EXPECT_THAT(p.create_jobs, IsEmpty()) << "nothing starts while a template is missing";
  EXPECT_EQ(p.status->phase, "Pending");
  EXPECT_EQ(Cond(p, "Valid")->status, "Unknown");
  EXPECT_EQ(p.wake_at, kT0 + absl::Seconds(10));
  Apply(p);
  in_.now = kT0 + absl::Seconds(11);
  p = Plan();
  EXPECT_THAT(p.create_jobs, IsEmpty());
  EXPECT_EQ(p.status->phase, "Failed");
  EXPECT_EQ(Cond(p, "Valid")->reason, "TemplateNotFound");
  EXPECT_THAT(p.status->message, HasSubstr("JobTemplate \"nope\" not found"));
}

TEST_F(FlowPlanTest, DeletedFlowCancelsAndCleansUpBeforeTheFinalizerGoes) {
  Apply(Plan());
  Running("a");
  Apply(Plan());
  object_["metadata"]["deletionTimestamp"] = api::FormatRfc3339(kT0);
  FlowPlan p = Plan();
  EXPECT_EQ(p.status->phase, "Canceling");
  EXPECT_THAT(p.delete_jobs, IsEmpty()) << "not before Canceling is stored";
  EXPECT_FALSE(p.remove_finalizer);
  Apply(p);
  EXPECT_EQ(Plan().delete_jobs.size(), 1u);
  SetPod("a", "Failed", Terminated(143, "Error", in_.now));
  p = Plan();
  EXPECT_EQ(p.status->phase, "Canceled");
  EXPECT_FALSE(p.remove_finalizer) << "children are still there";
  Apply(p);
  jobs_.clear();
  pods_.clear();
  p = Plan();
  EXPECT_TRUE(p.remove_finalizer);
}

TEST_F(FlowPlanTest, RetainPolicyDeleteReleasesAtTheEndAndTtlDeletesTheFlow) {
  object_ = FlowObject({{"steps", json::array({Step("a")})},
                        {"jobRetainPolicy", "Delete"},
                        {"ttlSecondsAfterFinished", 30}});
  Apply(Plan());
  Succeed("a");
  FlowPlan p = Plan();
  EXPECT_EQ(p.status->phase, "Succeeded");
  EXPECT_EQ(p.delete_jobs.size(), 1u) << "Delete: children go when the flow ends";
  EXPECT_EQ(p.wake_at, kT0 + absl::Seconds(30));
  EXPECT_FALSE(p.delete_owner);
  Apply(p);
  jobs_.clear();
  pods_.clear();
  in_.now = kT0 + absl::Seconds(31);
  p = Plan();
  EXPECT_TRUE(p.delete_owner);
  EXPECT_EQ(Cond(p, "ResourcesReleased")->status, "True");
}

TEST_F(FlowPlanTest, MissingRecordedJobIsVerifiedBeforeAnythingElse) {
  Apply(Plan());
  jobs_.clear();
  FlowPlan p = Plan();
  EXPECT_THAT(p.verify_jobs,
              ElementsAre(ChildJobName(ChildOwner::FlowStep("ns", "f", "uid-1", "a", "etl"), 1)));
  EXPECT_FALSE(p.status.has_value());
  EXPECT_THAT(p.create_jobs, IsEmpty());
}

TEST_F(FlowPlanTest, StatusOfTwoHundredFinishedStepsIsSmall) {
  json steps = json::array();
  for (int i = 0; i < 200; ++i) {
    std::vector<std::pair<std::string, std::string>> deps;
    if (i > 0) deps.push_back({absl::StrCat("step-", i - 1), "Succeeded"});
    if (i > 1) deps.push_back({absl::StrCat("step-", i - 2), "Completed"});
    steps.push_back(Step(absl::StrCat("step-", i), deps));
  }
  object_ = FlowObject({{"steps", steps}});
  for (int i = 0; i < 200; ++i) {
    FlowPlan p = Plan();
    ASSERT_EQ(p.create_jobs.size(), 1u) << i;
    Apply(p);
    Succeed(absl::StrCat("step-", i));
  }
  FlowPlan p = Plan();
  ASSERT_TRUE(p.status.has_value());
  EXPECT_EQ(p.status->phase, "Succeeded");
  EXPECT_EQ(p.status->progress, "200/200");
  const size_t bytes = api::JobFlowStatusToJson(*p.status).dump().size();
  EXPECT_LT(bytes, 256u * 1024) << "the API server's limit is 1.5 MB";
  RecordProperty("status_bytes", static_cast<int>(bytes));
}

TEST_F(FlowPlanTest, RefusedJobFailsTheStepAndTheFlowFollowsOnStepFailure) {
  FlowPlan p = Plan();
  ASSERT_THAT(Created(p), ElementsAre("a"));
  api::JobFlowStatus s = StatusAfterStepCreateRefused(api::ParseJobFlow(object_), *p.status, "a", 1,
                                                      "spec.template: Invalid value", kT0);
  const api::StepStatus* a = api::FindStepStatus(s, "a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->phase, "Failed");
  EXPECT_THAT(a->message, HasSubstr("Invalid value"));
  ASSERT_EQ(a->attempts.size(), 1u);
  EXPECT_EQ(a->attempts[0].termination_reason, "JobRejected");
  object_["status"] = api::JobFlowStatusToJson(s);
  p = Plan();
  EXPECT_THAT(p.verify_jobs, IsEmpty()) << "a Failed step's record is final";
  EXPECT_THAT(Created(p), IsEmpty());
  EXPECT_EQ(p.status->phase, "Failed");
  EXPECT_EQ(StepOf(p, "b").phase, "Skipped");
  EXPECT_THAT(p.status->message, HasSubstr("JobRejected"));
}

// Random DAGs, policies and outcomes, with status writes lost at random (a
// crash between creating Jobs and writing the status): every flow ends with
// every step terminal, no Job is planned twice, no step starts before its
// dependencies ended in their condition, parallelism holds.
TEST_F(FlowPlanTest, RandomFlowsConvergeWithOneJobPerAttempt) {
  const std::vector<std::string> conditions = {"Succeeded", "Failed", "Completed", "Canceled"};
  for (int seed = 0; seed < 150; ++seed) {
    SCOPED_TRACE(seed);
    std::mt19937 rng(seed);
    auto chance = [&](int percent) {
      return std::uniform_int_distribution<int>(0, 99)(rng) < percent;
    };
    jobs_.clear();
    pods_.clear();
    in_.jobs_gone.clear();
    in_.now = kT0;
    const int n = 2 + seed % 10;
    json steps = json::array();
    std::vector<std::vector<std::pair<int, std::string>>> deps(n);
    for (int i = 0; i < n; ++i) {
      std::vector<std::pair<std::string, std::string>> d;
      for (int k = 0; k < 2 && i > 0; ++k) {
        const int j = std::uniform_int_distribution<int>(0, i - 1)(rng);
        if (chance(50) || std::find_if(deps[i].begin(), deps[i].end(), [&](const auto& e) {
                            return e.first == j;
                          }) != deps[i].end()) {
          continue;
        }
        const std::string& c = conditions[chance(70) ? 0 : rng() % conditions.size()];
        deps[i].push_back({j, c});
        d.push_back({absl::StrCat("s", j), c});
      }
      json step = Step(absl::StrCat("s", i), d);
      step["retry"] = {{"limit", static_cast<int>(rng() % 2)}, {"backoffSeconds", 0}};
      if (chance(5)) step["cancel"] = true;
      steps.push_back(step);
    }
    const int parallelism = static_cast<int>(rng() % 4);
    object_ = FlowObject({{"steps", steps},
                          {"parallelism", parallelism},
                          {"onStepFailure", chance(50) ? "StopFlow" : "ContinueOthers"}});
    std::set<std::string> created;
    bool done = false;
    for (int round = 0; round < 300 && !done; ++round) {
      in_.now += absl::Seconds(1);
      FlowPlan p = Plan();
      if (!p.verify_jobs.empty()) {
        for (const std::string& name : p.verify_jobs) in_.jobs_gone.insert(name);
        continue;
      }
      ASSERT_TRUE(p.status.has_value() || p.create_jobs.empty());
      for (const FlowJobToCreate& c : p.create_jobs) {
        const std::string name = c.job["metadata"]["name"];
        ASSERT_TRUE(created.insert(name).second) << name << " planned twice";
        const int i = std::stoi(c.step.substr(1));
        for (const auto& [j, condition] : deps[i]) {
          const api::StepStatus& dep = StepOf(p, absl::StrCat("s", j));
          absl::StatusOr<Phase> phase = lifecycle::ParsePhase(dep.phase);
          ASSERT_TRUE(phase.ok());
          EXPECT_TRUE(lifecycle::IsTerminal(*phase)) << c.step << " started before s" << j;
          EXPECT_TRUE(flow::internal::ConditionHolds(*flow::ParseCondition(condition), *phase))
              << c.step << " needs s" << j << " " << condition << ", it is " << dep.phase;
        }
      }
      if (p.status.has_value() && parallelism > 0) {
        int active = 0;
        for (const api::StepStatus& s : p.status->steps) {
          absl::StatusOr<Phase> phase = lifecycle::ParsePhase(s.phase);
          if (phase.ok() && !lifecycle::IsTerminal(*phase) && !s.attempts.empty()) ++active;
        }
        EXPECT_LE(active, parallelism);
      }
      for (const std::string& name : p.delete_jobs) {
        for (auto it = jobs_.begin(); it != jobs_.end(); ++it) {
          if ((*it)["metadata"]["name"] == name) {
            jobs_.erase(it);
            break;
          }
        }
        for (auto it = pods_.begin(); it != pods_.end(); ++it) {
          if ((*it)["metadata"]["name"] == name + "-pod") {
            pods_.erase(it);
            break;
          }
        }
      }
      const bool lose_status = chance(20) && !p.create_jobs.empty();
      if (p.status.has_value() && !lose_status)
        object_["status"] = api::JobFlowStatusToJson(*p.status);
      for (const FlowJobToCreate& c : p.create_jobs) {
        json job = c.job;
        job["metadata"]["creationTimestamp"] = api::FormatRfc3339(in_.now);
        jobs_.push_back(job);
      }
      // Some Jobs without an outcome get one.
      for (const json& job : std::vector<json>(jobs_.begin(), jobs_.end())) {
        const std::string name = job["metadata"]["name"];
        bool ended = false;
        for (const json& pod : pods_) {
          if (pod["metadata"]["name"] == name + "-pod") ended = true;
        }
        if (ended || !chance(50)) continue;
        const std::string step = job["metadata"]["labels"][kLabelStep];
        if (LatestJob(step)->at("metadata").at("name") != name) continue;
        const int roll = static_cast<int>(rng() % 100);
        if (roll < 60) {
          Succeed(step);
        } else if (roll < 85) {
          Fail(step, 2);
        } else {
          SetPod(step, "Failed", Terminated(137, "OOMKilled", in_.now));
        }
      }
      if (p.status.has_value() && !p.status->phase.empty() &&
          lifecycle::IsTerminal(*lifecycle::ParsePhase(p.status->phase)) && !lose_status &&
          p.create_jobs.empty()) {
        done = true;
        for (const api::StepStatus& s : p.status->steps) {
          EXPECT_TRUE(lifecycle::IsTerminal(*lifecycle::ParsePhase(s.phase))) << s.name;
        }
      }
    }
    EXPECT_TRUE(done) << object_.dump();
  }
}

TEST_F(FlowPlanTest, CancelCauseIsReadBackFromTheMessage) {
  EXPECT_EQ(CancelCauseOfMessage("canceled on request (spec.steps[].cancel); x"),
            flow::CancelCause::kStep);
  EXPECT_EQ(CancelCauseOfMessage("flow canceled (spec.cancel)"), flow::CancelCause::kFlowCanceled);
  EXPECT_EQ(CancelCauseOfMessage("flow stopped: step a failed"), flow::CancelCause::kFlowStopped);
  EXPECT_EQ(CancelCauseOfMessage("canceled"), flow::CancelCause::kNone);
}

TEST_F(FlowPlanTest, GarbageObjectsNeverCrash) {
  for (const json& spec :
       {json(nullptr), json(42), json::array(), json{{"steps", json::array({42})}},
        json{{"steps", json::array({{{"name", "a"}, {"template", 7}}})}},
        json{{"steps", json::array({{{"name", "a"}, {"template", "etl"}, {"dependsOn", "b"}}})}},
        json{{"steps", json::array({Step("a")})}, {"parallelism", -1}}}) {
    object_ = FlowObject(spec);
    object_["status"] = {
        {"steps", json::array({{{"name", 3}}, "x", {{"name", "a"}, {"phase", "Bogus"}}})},
        {"phase", 12}};
    FlowPlan p = Plan();
    ASSERT_TRUE(p.status.has_value()) << spec.dump();
    EXPECT_EQ(p.status->phase, "Failed") << spec.dump();
  }
  // Jobs that are not objects, or half-formed, are ignored.
  object_ = FlowObject(Diamond());
  jobs_.push_back(json(7));
  jobs_.push_back({{"metadata", {{"labels", 3}}}});
  pods_.push_back(json::array());
  FlowPlan p = Plan();
  EXPECT_THAT(Created(p), ElementsAre("a"));
}

}  // namespace
}  // namespace weir::reconcile
