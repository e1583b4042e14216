// JobFlow and JobTemplate end to end (issue 6) on the real control plane:
// weir-controller runs as a separate process watching one namespace per
// test; kubectl is the independent oracle of what the API server holds.
#include <algorithm>
#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/e2e/support/batch_objects.h"
#include "test/e2e/support/controller_fixture.h"

namespace weir::e2e {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

class FlowTest : public ControllerFixture {
 protected:
  json WaitForFlow(const std::string& name, const std::string& phase,
                   absl::Duration timeout = absl::Seconds(90)) {
    return WaitForPhase("jobflows.weir.dev", name, phase, timeout);
  }

  json FlowJobs(const std::string& flow) { return List("jobs", "weir.dev/flow=" + flow); }

  // When the last container of the pods of `job` ended (InfiniteFuture if
  // it has not).
  absl::Time FinishedAt(const std::string& job) {
    absl::Time last = absl::InfinitePast();
    json pods = List("pods", "job-name=" + job);
    if (pods.empty()) return absl::InfiniteFuture();
    for (const json& pod : pods) {
      for (const json& c : pod["status"].value("containerStatuses", json::array())) {
        if (!c.contains("state") || !c["state"].contains("terminated")) {
          return absl::InfiniteFuture();
        }
        last = std::max(last,
                        Timestamp(c["state"]["terminated"]["finishedAt"], absl::InfiniteFuture()));
      }
    }
    return last;
  }

  // Checks that no step's Job was created before each of its dependencies'
  // pods had ended (second precision, as the API server stamps times).
  void ExpectDagOrder(const json& flow) {
    std::map<std::string, json> job_of;  // step -> its (first) Job
    for (const json& job : FlowJobs(flow["metadata"]["name"])) {
      job_of[job["metadata"]["labels"]["weir.dev/step"]] = job;
    }
    for (const json& step : flow["spec"]["steps"]) {
      if (!job_of.contains(step["name"])) continue;
      const absl::Time created =
          Timestamp(job_of[step["name"]]["metadata"]["creationTimestamp"], absl::InfiniteFuture());
      for (const json& dep : step.value("dependsOn", json::array())) {
        if (!job_of.contains(dep["step"])) continue;  // skipped: it never ran
        const absl::Time dep_done = FinishedAt(job_of[dep["step"]]["metadata"]["name"]);
        EXPECT_GE(created, dep_done)
            << "step " << step["name"] << " started before " << dep["step"] << " ended";
      }
    }
  }
};

// Points 1 and 2: 20 flows on one template, half with a failing step, run
// together; two steps of each flow share the template.
TEST_F(FlowTest, ConcurrentFlowsOnOneTemplateStayIsolated) {
  Apply(Template("work"));
  constexpr int kFlows = 20;
  for (int i = 0; i < kFlows; ++i) {
    json b = i % 2 == 1 ? Plays("Failed") : json::object();
    // A chain, so a failing b never finds a still running (StopFlow would
    // rightly cancel it).
    Apply(Flow(absl::StrCat("f", i), {Step("a", "work"), Step("b", "work", {{"a", "Succeeded"}}, b),
                                      Step("c", "work", {{"b", "Succeeded"}})}));
  }
  for (int i = 0; i < kFlows; ++i) {
    const std::string name = absl::StrCat("f", i);
    const bool fails = i % 2 == 1;
    json flow = WaitForFlow(name, fails ? "Failed" : "Succeeded", absl::Seconds(120));
    const std::string uid = flow["metadata"]["uid"];
    EXPECT_EQ(StepStatus(flow, "a")["phase"], "Succeeded") << name;
    EXPECT_EQ(StepStatus(flow, "b")["phase"], fails ? "Failed" : "Succeeded") << name;
    EXPECT_EQ(StepStatus(flow, "c")["phase"], fails ? "Skipped" : "Succeeded") << name;
    if (fails) {
      EXPECT_THAT(flow["status"].value("message", ""), HasSubstr("b")) << name;
      EXPECT_THAT(StepStatus(flow, "c").value("message", ""), HasSubstr("b")) << name;
    }
    EXPECT_EQ(flow["status"]["progress"], "3/3") << name;

    // Every Job the status names is this flow's, for that step.
    std::set<std::string> named;
    for (const json& step : flow["status"]["steps"]) {
      for (const json& attempt : step.value("attempts", json::array())) {
        named.insert(attempt["job"].get<std::string>());
        json job = Get("job", attempt["job"]);
        ASSERT_TRUE(job.is_object()) << attempt["job"];
        const json& labels = job["metadata"]["labels"];
        EXPECT_EQ(labels["weir.dev/flow-uid"], uid);
        EXPECT_EQ(labels["weir.dev/step"], step["name"]);
        EXPECT_EQ(labels["weir.dev/template"], "work");
        EXPECT_EQ(job["metadata"]["ownerReferences"][0]["uid"], uid);
      }
    }
    // ... and every Job and pod carrying the flow's uid is one the status names.
    std::set<std::string> labelled;
    for (const json& job : List("jobs", "weir.dev/flow-uid=" + uid)) {
      labelled.insert(job["metadata"]["name"].get<std::string>());
    }
    EXPECT_EQ(named, labelled) << name;
    EXPECT_EQ(named.size(), fails ? 2u : 3u) << name << ": the same template ran as distinct Jobs";
    for (const json& pod : List("pods", "weir.dev/flow=" + name)) {
      const json& labels = pod["metadata"]["labels"];
      EXPECT_EQ(labels["weir.dev/flow-uid"], uid);
      EXPECT_EQ(labels["weir.dev/template"], "work");
      EXPECT_TRUE(labels.contains("weir.dev/step"));
    }
  }
  absl::StatusOr<std::string> table = kubectl().Run({"get", "jobflows.weir.dev", "-n", ns()});
  ASSERT_TRUE(table.ok());
  EXPECT_THAT(*table, HasSubstr("STEPS"));
  EXPECT_THAT(*table, HasSubstr("3/3"));
}

// Point 3: a diamond and a 3-level fan-out/fan-in start each step only after
// its dependencies ended.
TEST_F(FlowTest, DagOrderHoldsForDiamondAndFanOutFanIn) {
  Apply(Template("work"));
  Apply(Flow("diamond", {Step("a", "work"), Step("b", "work", {{"a", "Succeeded"}}),
                         Step("c", "work", {{"a", "Succeeded"}}, Plays("Succeeded", "2s")),
                         Step("d", "work", {{"b", "Succeeded"}, {"c", "Succeeded"}})}));
  json fan_steps = {Step("root", "work")};
  for (int i = 0; i < 4; ++i) {
    fan_steps.push_back(Step(absl::StrCat("m", i), "work", {{"root", "Succeeded"}}));
  }
  for (int i = 0; i < 2; ++i) {
    fan_steps.push_back(Step(
        absl::StrCat("n", i), "work",
        {{absl::StrCat("m", 2 * i), "Succeeded"}, {absl::StrCat("m", 2 * i + 1), "Succeeded"}}));
  }
  fan_steps.push_back(Step("sink", "work", {{"n0", "Succeeded"}, {"n1", "Succeeded"}}));
  Apply(Flow("fan", fan_steps));

  for (const char* name : {"diamond", "fan"}) {
    json flow = WaitForFlow(name, "Succeeded", absl::Seconds(120));
    ExpectDagOrder(flow);
    ASSERT_TRUE(flow["status"].contains("startTime"));
    ASSERT_TRUE(flow["status"].contains("completionTime"));
  }
}

// Point 3: conditions. A cleanup step on Failed runs only when its
// dependency failed; a step whose dependency can no longer hold is Skipped
// naming it; Completed runs whatever happened; Canceled runs after a cancel.
TEST_F(FlowTest, DependencyConditionsRunOrSkip) {
  Apply(Template("work"));
  Apply(Flow("cond",
             {Step("bad", "work", {}, Plays("Failed")), Step("good", "work"),
              Step("on-bad-failed", "work", {{"bad", "Failed"}}),
              Step("on-good-failed", "work", {{"good", "Failed"}}),
              Step("on-bad-ok", "work", {{"bad", "Succeeded"}}),
              Step("finally", "work", {{"on-bad-ok", "Completed"}})},
             {{"onStepFailure", "ContinueOthers"}}));
  json flow = WaitForFlow("cond", "Failed");
  EXPECT_EQ(StepStatus(flow, "bad")["phase"], "Failed");
  EXPECT_EQ(StepStatus(flow, "good")["phase"], "Succeeded");
  EXPECT_EQ(StepStatus(flow, "on-bad-failed")["phase"], "Succeeded");
  EXPECT_EQ(StepStatus(flow, "on-good-failed")["phase"], "Skipped");
  EXPECT_THAT(StepStatus(flow, "on-good-failed").value("message", ""), HasSubstr("good"));
  EXPECT_EQ(StepStatus(flow, "on-bad-ok")["phase"], "Skipped");
  EXPECT_THAT(StepStatus(flow, "on-bad-ok").value("message", ""), HasSubstr("bad"));
  EXPECT_EQ(StepStatus(flow, "finally")["phase"], "Succeeded");
  EXPECT_THAT(flow["status"].value("message", ""), HasSubstr("bad"));
  EXPECT_TRUE(StepStatus(flow, "on-good-failed").value("attempts", json::array()).empty());
  ExpectDagOrder(flow);
  // Events tell what went wrong or changed course, not progress as planned.
  // The recorder sends them in order, so once the flow's Failed is there any
  // Event about the earlier successes would be too.
  std::vector<std::string> reasons;
  ASSERT_TRUE(Eventually(
      [&] {
        reasons = EventReasons("cond");
        return std::count(reasons.begin(), reasons.end(), "Failed") == 1;
      },
      absl::Seconds(30)))
      << absl::StrJoin(reasons, ", ");
  EXPECT_THAT(reasons, ::testing::Contains("StepFailed"));
  EXPECT_EQ(std::count(reasons.begin(), reasons.end(), "StepSkipped"), 2);
  for (const char* progress : {"Running", "StepRunning", "StepSucceeded", "Succeeded"}) {
    EXPECT_THAT(reasons, ::testing::Not(::testing::Contains(progress)));
  }
}

// Point 4: canceling one running step cancels only it; its dependent is
// skipped unless it accepts Canceled; the independent branch runs on and
// the flow ends Succeeded.
TEST_F(FlowTest, CancelingOneStepKeepsTheFlow) {
  Apply(Template("work"));
  Apply(Flow("one", {Step("slow", "work", {}, Plays("Hang")),
                     Step("after-slow", "work", {{"slow", "Succeeded"}}),
                     Step("on-cancel", "work", {{"slow", "Canceled"}}),
                     Step("other", "work", {}, Plays("Succeeded", "3s")),
                     Step("after-other", "work", {{"other", "Succeeded"}})}));
  ASSERT_TRUE(Eventually(
      [&] {
        return StepStatus(Get("jobflows.weir.dev", "one"), "slow").value("phase", "") == "Running";
      },
      absl::Seconds(60)));
  json flow = Get("jobflows.weir.dev", "one");
  json steps = flow["spec"]["steps"];
  steps[0]["cancel"] = true;
  Patch("jobflows.weir.dev", "one", {{"spec", {{"steps", steps}}}});
  flow = WaitForFlow("one", "Succeeded");
  EXPECT_EQ(StepStatus(flow, "slow")["phase"], "Canceled");
  EXPECT_EQ(StepStatus(flow, "after-slow")["phase"], "Skipped");
  EXPECT_EQ(StepStatus(flow, "on-cancel")["phase"], "Succeeded");
  EXPECT_EQ(StepStatus(flow, "other")["phase"], "Succeeded");
  EXPECT_EQ(StepStatus(flow, "after-other")["phase"], "Succeeded");
  ExpectDagOrder(flow);
}

// Point 4: spec.cancel on the flow cancels every running step; the flow
// ends Canceled and nothing starts afterwards.
TEST_F(FlowTest, CancelingTheFlowCancelsRunningSteps) {
  Apply(Template("work"));
  Apply(Flow("all", {Step("x", "work", {}, Plays("Hang")), Step("y", "work", {}, Plays("Hang")),
                     Step("z", "work", {{"x", "Completed"}})}));
  ASSERT_TRUE(Eventually(
      [&] {
        json f = Get("jobflows.weir.dev", "all");
        return StepStatus(f, "x").value("phase", "") == "Running" &&
               StepStatus(f, "y").value("phase", "") == "Running";
      },
      absl::Seconds(60)));
  Patch("jobflows.weir.dev", "all", {{"spec", {{"cancel", true}}}});
  json flow = WaitForFlow("all", "Canceled");
  EXPECT_EQ(StepStatus(flow, "x")["phase"], "Canceled");
  EXPECT_EQ(StepStatus(flow, "y")["phase"], "Canceled");
  EXPECT_EQ(StepStatus(flow, "z")["phase"], "Canceled");
  EXPECT_TRUE(StepStatus(flow, "z").value("attempts", json::array()).empty());
  EXPECT_TRUE(Eventually([&] { return FlowJobs("all").empty(); }, absl::Seconds(30)))
      << "a canceled flow's Jobs are deleted";
}

// Point 5: StopFlow (default) cancels running steps and starts nothing new
// once a step failed; ContinueOthers lets the independent branch finish.
// Both end Failed naming the step and its reason.
TEST_F(FlowTest, StepFailureStopsOrContinuesThePolicy) {
  Apply(Template("work"));
  for (const char* policy : {"StopFlow", "ContinueOthers"}) {
    const std::string name = policy == std::string("StopFlow") ? "stop" : "continue";
    Apply(Flow(name,
               {Step("breaks", "work", {}, Plays("Failed")),
                Step("long", "work", {}, Plays("Succeeded", "6s")),
                Step("after-long", "work", {{"long", "Succeeded"}})},
               {{"onStepFailure", policy}}));
  }
  json stop = WaitForFlow("stop", "Failed");
  EXPECT_EQ(StepStatus(stop, "breaks")["phase"], "Failed");
  EXPECT_EQ(StepStatus(stop, "long")["phase"], "Canceled");
  EXPECT_EQ(StepStatus(stop, "after-long")["phase"], "Skipped");
  EXPECT_THAT(stop["status"].value("message", ""), HasSubstr("breaks"));
  EXPECT_THAT(stop["status"].value("message", ""), HasSubstr("Error"));

  json cont = WaitForFlow("continue", "Failed");
  EXPECT_EQ(StepStatus(cont, "breaks")["phase"], "Failed");
  EXPECT_EQ(StepStatus(cont, "long")["phase"], "Succeeded");
  EXPECT_EQ(StepStatus(cont, "after-long")["phase"], "Succeeded");
  EXPECT_THAT(cont["status"].value("message", ""), HasSubstr("breaks"));
}

// Point 6: suspend starts nothing until cleared; parallelism is never
// exceeded over the run (from the pods' start and end times).
TEST_F(FlowTest, SuspendAndParallelism) {
  Apply(Template("work"));
  json steps = json::array();
  for (int i = 0; i < 6; ++i) steps.push_back(Step(absl::StrCat("s", i), "work"));
  Apply(Flow("par", steps, {{"parallelism", 2}, {"suspend", true}}));
  absl::SleepFor(absl::Seconds(3));
  EXPECT_TRUE(FlowJobs("par").empty()) << "a suspended flow starts nothing";
  EXPECT_EQ(Phase(Get("jobflows.weir.dev", "par")), "Pending");
  Patch("jobflows.weir.dev", "par", {{"spec", {{"suspend", false}}}});
  json flow = WaitForFlow("par", "Succeeded", absl::Seconds(120));

  // Intervals from each Job's creation to its pod's end; at most 2 overlap.
  std::vector<std::pair<absl::Time, int>> edges;
  for (const json& job : FlowJobs("par")) {
    const absl::Time created =
        Timestamp(job["metadata"]["creationTimestamp"], absl::InfiniteFuture());
    const absl::Time ended = FinishedAt(job["metadata"]["name"]);
    ASSERT_LT(ended, absl::InfiniteFuture());
    edges.push_back({created, +1});
    edges.push_back({ended, -1});
  }
  ASSERT_EQ(edges.size(), 12u);
  // At equal (second-precision) times count ends first: a step that ended
  // in the same second another started did not run alongside it.
  std::sort(edges.begin(), edges.end());
  int running = 0, most = 0;
  for (const auto& [t, d] : edges) {
    running += d;
    most = std::max(most, running);
  }
  EXPECT_LE(most, 2);
  EXPECT_GE(most, 1);
}

// Point 6: a step's retry works as for Batch, with more memory after OOM.
TEST_F(FlowTest, StepRetriesWithMoreMemoryAfterOOM) {
  Apply(Template("work"));
  json retry = {{"retry",
                 {{"limit", 2},
                  {"backoffSeconds", 1},
                  {"onOOM", {{"memoryFactor", 2.0}, {"maxMemory", "512Mi"}}}}},
                {"patch",
                 {{"template",
                   {{"metadata",
                     {{"annotations",
                       {{"sim.weir.dev/outcome-attempt-1", "OOMKilled"},
                        {"sim.weir.dev/outcome-attempt-2", "Succeeded"}}}}}}}}}};
  Apply(Flow("oom", {Step("grow", "work", {}, retry)}));
  json flow = WaitForFlow("oom", "Succeeded", absl::Seconds(90));
  json attempts = StepStatus(flow, "grow")["attempts"];
  ASSERT_EQ(attempts.size(), 2u) << flow["status"].dump();
  EXPECT_EQ(attempts[0]["terminationReason"], "OOMKilled");
  EXPECT_EQ(attempts[0]["memoryLimit"], "64Mi");
  EXPECT_EQ(attempts[1]["memoryLimit"], "128Mi");
  json job = Get("job", attempts[1]["job"]);
  EXPECT_EQ(job["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"],
            "128Mi");
  EXPECT_EQ(FlowJobs("oom").size(), 2u) << "exactly one Job per attempt";
}

// Point 7: what the schema cannot refuse ends Valid=False with a clear
// message, and nothing is created.
TEST_F(FlowTest, InvalidGraphsAndUnknownTemplatesCreateNothing) {
  Apply(Template("work"));
  Apply(Flow("cycle",
             {Step("a", "work", {{"b", "Succeeded"}}), Step("b", "work", {{"a", "Succeeded"}})}));
  Apply(Flow("unknown-template", {Step("a", "missing")}));
  for (const auto& [name, words] : std::vector<std::pair<std::string, std::string>>{
           {"cycle", "cycle"}, {"unknown-template", "missing"}}) {
    json flow = WaitForFlow(name, "Failed", absl::Seconds(90));
    bool valid_false = false;
    for (const json& c : flow["status"].value("conditions", json::array())) {
      if (c.value("type", "") == "Valid" && c.value("status", "") == "False") {
        valid_false = true;
        EXPECT_THAT(c.value("message", ""), HasSubstr(words)) << name;
      }
    }
    EXPECT_TRUE(valid_false) << name << ": " << flow["status"].dump();
    EXPECT_TRUE(FlowJobs(name).empty()) << name;
  }
  // Duplicate step names and a dependency on no step of the flow are refused
  // by the schema at apply time (test/scripts/crd_test.sh checks the messages).
  for (const json& flow : {Flow("dup", {Step("a", "work"), Step("a", "work")}),
                           Flow("unknown-dep", {Step("a", "work", {{"ghost", "Succeeded"}})})}) {
    absl::StatusOr<std::string> refused =
        kubectl().Run({"apply", "-n", ns(), "-f", "-"}, flow.dump());
    ASSERT_FALSE(refused.ok()) << flow.dump();
    EXPECT_THAT(std::string(refused.status().message()), HasSubstr("spec.steps"));
  }
}

// Point 8: editing a JobTemplate does not change a started step (its status
// keeps the version it used); a step that starts later uses the new one.
TEST_F(FlowTest, EditingATemplateLeavesStartedStepsAlone) {
  Apply(Template("work"));
  // "first" runs until canceled, so the edit surely lands while it runs.
  Apply(Flow("edit", {Step("first", "work", {}, Plays("Hang")),
                      Step("second", "work", {{"first", "Completed"}})}));
  ASSERT_TRUE(Eventually(
      [&] {
        return StepStatus(Get("jobflows.weir.dev", "edit"), "first").value("phase", "") ==
               "Running";
      },
      absl::Seconds(60)));
  const std::string old_version =
      Get("jobtemplates.weir.dev", "work")["metadata"]["resourceVersion"];
  json edited = Template("work");
  edited["spec"]["jobSpec"]["template"]["metadata"]["labels"] = {{"edition", "two"}};
  Apply(edited);
  // The controller's template cache follows its own watch; give it a moment.
  absl::SleepFor(absl::Seconds(1));
  // The running step's Job after the edit (canceling it deletes it).
  const json first_jobs = List("jobs", "weir.dev/flow=edit,weir.dev/step=first");
  ASSERT_EQ(first_jobs.size(), 1u);
  EXPECT_FALSE(first_jobs[0]["spec"]["template"]["metadata"]["labels"].contains("edition"));
  json steps = Get("jobflows.weir.dev", "edit")["spec"]["steps"];
  steps[0]["cancel"] = true;
  Patch("jobflows.weir.dev", "edit", {{"spec", {{"steps", steps}}}});
  json flow = WaitForFlow("edit", "Succeeded");
  json first = StepStatus(flow, "first");
  json second = StepStatus(flow, "second");
  EXPECT_EQ(first["templateResourceVersion"], old_version);
  EXPECT_NE(second["templateResourceVersion"], old_version);
  EXPECT_EQ(first["attempts"][0]["job"], first_jobs[0]["metadata"]["name"]);
  json second_job = Get("job", second["attempts"][0]["job"]);
  EXPECT_EQ(second_job["spec"]["template"]["metadata"]["labels"]["edition"], "two");
}

// Point 8: jobRetainPolicy Delete removes the Jobs at the end; the idle
// timeout releases a retained flow's Jobs; the TTL deletes the flow; and a
// deleted flow's children go before it does.
TEST_F(FlowTest, RetainIdleTtlAndDeleteCleanUp) {
  Apply(Template("work"));
  Apply(Flow("del", {Step("a", "work")}, {{"jobRetainPolicy", "Delete"}}));
  Apply(Flow("idle", {Step("a", "work")}, {{"idleTimeoutSeconds", 2}}));
  Apply(Flow("ttl", {Step("a", "work")}, {{"ttlSecondsAfterFinished", 2}}));
  WaitForFlow("del", "Succeeded");
  EXPECT_TRUE(Eventually([&] { return FlowJobs("del").empty(); }, absl::Seconds(30)));
  json idle = WaitForFlow("idle", "Succeeded");
  EXPECT_TRUE(Eventually(
      [&] {
        idle = Get("jobflows.weir.dev", "idle");
        for (const json& c : idle["status"].value("conditions", json::array())) {
          if (c.value("type", "") == "ResourcesReleased") return c.value("status", "") == "True";
        }
        return false;
      },
      absl::Seconds(30)))
      << idle.dump();
  EXPECT_TRUE(FlowJobs("idle").empty());
  EXPECT_EQ(Phase(idle), "Succeeded") << "the record stays";
  EXPECT_TRUE(
      Eventually([&] { return !Find("jobflows.weir.dev", "ttl").has_value(); }, absl::Seconds(30)));

  // Deleting a running flow: it stays (finalizer) until its children are gone.
  Apply(Flow("gone", {Step("a", "work", {}, Plays("Hang"))}));
  ASSERT_TRUE(
      Eventually([&] { return !List("pods", "weir.dev/flow=gone").empty(); }, absl::Seconds(60)));
  ASSERT_TRUE(
      kubectl().Run({"delete", "jobflows.weir.dev", "gone", "-n", ns(), "--wait=false"}).ok());
  bool children_left_after_flow = false;
  ASSERT_TRUE(Eventually(
      [&] {
        const bool flow_gone = !Find("jobflows.weir.dev", "gone").has_value();
        const bool children_gone =
            FlowJobs("gone").empty() && List("pods", "weir.dev/flow=gone").empty();
        if (flow_gone && !children_gone) children_left_after_flow = true;
        return flow_gone && children_gone;
      },
      absl::Seconds(60)));
  EXPECT_FALSE(children_left_after_flow);
}

// Point 9: the controller killed with SIGKILL at random moments while 10
// flows run, and started again: every flow completes correctly with exactly
// one Job per step attempt, and the oracle finds every version justified.
TEST_F(FlowTest, SigkilledControllerRepeatsNothingAndLosesNothing) {
  Apply(Template("work"));
  json flaky = {{"retry", {{"limit", 1}, {"backoffSeconds", 1}}},
                {"patch",
                 {{"template",
                   {{"metadata",
                     {{"annotations",
                       {{"sim.weir.dev/outcome-attempt-1", "Failed"},
                        {"sim.weir.dev/outcome-attempt-2", "Succeeded"}}}}}}}}}};
  constexpr int kFlows = 10;
  for (int i = 0; i < kFlows; ++i) {
    Apply(Flow(absl::StrCat("k", i),
               {Step("a", "work"), Step("b", "work", {{"a", "Succeeded"}}, flaky),
                Step("c", "work", {{"a", "Succeeded"}}, Plays("Succeeded", "2s")),
                Step("d", "work", {{"b", "Succeeded"}, {"c", "Succeeded"}})}));
  }
  std::mt19937 rng(std::random_device{}());
  const unsigned seed = rng();
  std::printf("chaos seed %u\n", seed);
  rng.seed(seed);
  std::uniform_int_distribution<int> pause_ms(200, 2000);
  for (int kill = 0; kill < 6; ++kill) {
    absl::SleepFor(absl::Milliseconds(pause_ms(rng)));
    RestartController(/*crash=*/true);
  }
  for (int i = 0; i < kFlows; ++i) {
    const std::string name = absl::StrCat("k", i);
    json flow = WaitForFlow(name, "Succeeded", absl::Seconds(120));
    for (const json& step : flow["status"]["steps"]) {
      const size_t attempts = step["attempts"].size();
      EXPECT_EQ(attempts, step["name"] == "b" ? 2u : 1u) << name << " " << step.dump();
      json jobs = List(
          "jobs", absl::StrCat("weir.dev/flow-uid=", flow["metadata"]["uid"].get<std::string>(),
                               ",weir.dev/step=", step["name"].get<std::string>()));
      std::set<std::string> numbers;
      for (const json& job : jobs) {
        numbers.insert(job["metadata"]["labels"]["weir.dev/attempt"].get<std::string>());
      }
      EXPECT_EQ(jobs.size(), attempts) << name << " step " << step["name"];
      EXPECT_EQ(numbers.size(), attempts) << name << " step " << step["name"];
    }
  }
}

// Point 10: a flow of 200 steps runs, and its status stays well under the
// API server's object size limit (1.5 MiB for etcd requests).
TEST_F(FlowTest, TwoHundredStepsRunWithASmallStatus) {
  Apply(Template("work", "Succeeded", "0s"));
  json steps = json::array();
  for (int i = 0; i < 200; ++i) {
    steps.push_back(
        i < 10 ? Step(absl::StrCat("s", i), "work")
               : Step(absl::StrCat("s", i), "work", {{absl::StrCat("s", i % 10), "Succeeded"}}));
  }
  Apply(Flow("big", steps, {{"jobRetainPolicy", "Delete"}}));
  json flow = WaitForFlow("big", "Succeeded", absl::Seconds(400));
  EXPECT_EQ(flow["status"]["progress"], "200/200");
  const size_t size = flow.dump().size();
  EXPECT_LT(size, 256u * 1024u) << "the flow object is " << size << " bytes";
  std::printf("200-step flow object: %zu bytes\n", size);
}

}  // namespace
}  // namespace weir::e2e
