// Batch end to end (issue 5) on the real control plane: weir-controller runs
// as a separate process watching one namespace per test; kubectl is the
// independent oracle of what the API server holds.
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/e2e/support/batch_objects.h"
#include "test/e2e/support/controller_fixture.h"

namespace weir::e2e {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

class BatchTest : public ControllerFixture {
 protected:
  using ControllerFixture::Find;
  using ControllerFixture::Get;
  using ControllerFixture::Patch;
  using ControllerFixture::WaitForPhase;

  // A Batch whose pod plays `outcome`; `extra` is merged into the spec.
  json MakeBatch(const std::string& name, const std::string& outcome, json extra = json::object(),
                 json annotations = json::object()) {
    return SimulatedBatch(ns(), name, outcome, std::move(extra), std::move(annotations));
  }

  void Create(const json& batch) { Apply(batch); }
  json Get(const std::string& name) { return Get("batches.weir.dev", name); }
  json WaitForPhase(const std::string& name, const std::string& phase,
                    absl::Duration timeout = absl::Seconds(60)) {
    return WaitForPhase("batches.weir.dev", name, phase, timeout);
  }
  void Patch(const std::string& name, const json& patch) { Patch("batches.weir.dev", name, patch); }
  json Jobs(const std::string& batch) { return List("jobs", "weir.dev/batch=" + batch); }
  json Pods(const std::string& batch) { return List("pods", "weir.dev/batch=" + batch); }

  // The condition of `type` in the Batch's status, or an empty object.
  static json Condition(const json& batch, const std::string& type) {
    if (!batch.is_object()) return json::object();
    for (const json& c : batch.value("status", json::object()).value("conditions", json::array())) {
      if (c.is_object() && c.value("type", "") == type) return c;
    }
    return json::object();
  }

  // An RFC 3339 timestamp field (creationTimestamp, startTime, ...).
  static absl::Time TimeOf(const json& field) {
    absl::Time t = absl::InfinitePast();
    std::string err;
    if (field.is_string()) absl::ParseTime(absl::RFC3339_full, field.get<std::string>(), &t, &err);
    return t;
  }
};

TEST_F(BatchTest, SucceedsAndKeepsItsJobLabelledAndOwned) {
  Create(MakeBatch("ok", "Succeeded"));
  json b = WaitForPhase("ok", "Succeeded");
  EXPECT_EQ(b["status"]["terminationReason"], "Completed");
  EXPECT_EQ(b["status"]["exitCode"], 0);
  EXPECT_EQ(b["status"]["attempt"], 1);
  EXPECT_EQ(b["status"]["observedGeneration"], b["metadata"]["generation"]);
  ASSERT_EQ(b["status"]["attempts"].size(), 1u);
  EXPECT_EQ(b["status"]["attempts"][0]["phase"], "Succeeded");
  EXPECT_THAT(b["metadata"]["finalizers"].dump(), HasSubstr("weir.dev/cleanup"));

  json jobs = Jobs("ok");
  ASSERT_EQ(jobs.size(), 1u);
  const json& job = jobs[0];
  EXPECT_EQ(job["metadata"]["labels"]["weir.dev/batch-uid"], b["metadata"]["uid"]);
  EXPECT_EQ(job["metadata"]["labels"]["weir.dev/attempt"], "1");
  EXPECT_EQ(job["metadata"]["ownerReferences"][0]["uid"], b["metadata"]["uid"]);
  EXPECT_EQ(job["metadata"]["annotations"]["weir.dev/owner-generation"],
            std::to_string(b["metadata"]["generation"].get<int64_t>()))
      << "the generation of the Batch that authorized the Job";
  EXPECT_EQ(job["spec"]["backoffLimit"], 0);
  EXPECT_EQ(job["spec"]["template"]["spec"]["restartPolicy"], "Never");
  EXPECT_EQ(job["spec"]["template"]["metadata"]["labels"]["weir.dev/batch"], "ok");

  absl::StatusOr<std::string> table = kubectl().Run({"get", "batches.weir.dev", "-n", ns()});
  ASSERT_TRUE(table.ok());
  EXPECT_THAT(*table, HasSubstr("PHASE"));
  EXPECT_THAT(*table, HasSubstr("ATTEMPT"));
  EXPECT_THAT(*table, HasSubstr("Succeeded"));
  EXPECT_THAT(*table, HasSubstr("Completed"));
}

TEST_F(BatchTest, FailureReportsTheExitCode) {
  Create(MakeBatch("fail", "Failed", json::object(), {{"sim.weir.dev/exit-code", "3"}}));
  json b = WaitForPhase("fail", "Failed");
  EXPECT_EQ(b["status"]["terminationReason"], "Error");
  EXPECT_EQ(b["status"]["exitCode"], 3);
}

TEST_F(BatchTest, OOMKilledIsKilledWithContainerLimitAndAdvice) {
  Create(MakeBatch("oom", "OOMKilled"));
  json b = WaitForPhase("oom", "Killed");
  EXPECT_EQ(b["status"]["terminationReason"], "OOMKilled");
  EXPECT_EQ(b["status"]["exitCode"], 137);
  const std::string message = b["status"]["message"];
  EXPECT_THAT(message, HasSubstr("main"));
  EXPECT_THAT(message, HasSubstr("64Mi"));
  EXPECT_THAT(message, HasSubstr("retry.onOOM"));
}

TEST_F(BatchTest, EvictedIsKilled) {
  Create(MakeBatch("evict", "Evicted", {{"retry", {{"onReasons", json::array({"OOMKilled"})}}}}));
  json b = WaitForPhase("evict", "Killed");
  EXPECT_EQ(b["status"]["terminationReason"], "Evicted");
}

TEST_F(BatchTest, ImagePullErrorsBeyondTheGraceFail) {
  Create(MakeBatch("pull", "ImagePullBackOff", {{"imagePullGraceSeconds", 3}}));
  json b = WaitForPhase("pull", "Failed");
  EXPECT_THAT(b["status"]["terminationReason"].get<std::string>(),
              ::testing::AnyOf("ImagePullBackOff", "ErrImagePull"));
}

// Issue 5 point 6: only the main container decides. Here the sidecar keeps
// running after main succeeded, so the pod stays Running and its Job would
// never finish: the Batch is Succeeded, and its Job and pod are deleted at
// once rather than at the idle timeout (1h in this fixture).
TEST_F(BatchTest, SidecarStillRunningAfterMainSucceededLeavesTheBatchSucceeded) {
  json batch = MakeBatch("side-hang", "Succeeded", json::object(),
                         {{"sim.weir.dev/outcome-container-sidecar", "Hang"}});
  SetContainers(batch, {"main", "sidecar"});
  Create(batch);
  json b = WaitForPhase("side-hang", "Succeeded");
  EXPECT_EQ(b["status"]["terminationReason"], "Completed");
  EXPECT_EQ(b["status"]["exitCode"], 0);
  EXPECT_THAT(b["status"]["message"].get<std::string>(), HasSubstr("\"main\""));
  ASSERT_EQ(b["status"]["attempts"].size(), 1u);
  EXPECT_EQ(b["status"]["attempts"][0]["phase"], "Succeeded");
  EXPECT_TRUE(Eventually([&] { return Jobs("side-hang").empty() && Pods("side-hang").empty(); },
                         absl::Seconds(30)))
      << "the Job whose sidecar never stops was left running";
  b = Get("side-hang");
  EXPECT_EQ(Phase(b), "Succeeded") << "the record stays: " << b.dump();
  EXPECT_EQ(b["status"]["attempts"].size(), 1u) << "no other attempt";
}

// The sidecar fails (the pod phase is Failed) after main succeeded: still
// Succeeded. The ended pod stays for `kubectl logs` until the idle timeout.
TEST_F(BatchTest, SidecarFailingAfterMainSucceededLeavesTheBatchSucceeded) {
  json batch = MakeBatch("side-fail", "Succeeded", json::object(),
                         {{"sim.weir.dev/outcome-container-sidecar", "Failed"},
                          {"sim.weir.dev/exit-code-container-sidecar", "1"}});
  SetContainers(batch, {"main", "sidecar"});
  Create(batch);
  json b = WaitForPhase("side-fail", "Succeeded");
  EXPECT_EQ(b["status"]["terminationReason"], "Completed");
  EXPECT_EQ(b["status"]["exitCode"], 0);
  json pods = Pods("side-fail");
  ASSERT_EQ(pods.size(), 1u);
  EXPECT_EQ(pods[0]["status"]["phase"], "Failed") << "the simulation failed the pod";
  EXPECT_EQ(Jobs("side-fail").size(), 1u);
}

// Control: main fails while the sidecar succeeds -> Failed with main's code.
TEST_F(BatchTest, MainFailingWhileTheSidecarSucceedsFailsWithMainsExitCode) {
  json batch = MakeBatch(
      "main-fail", "Failed", json::object(),
      {{"sim.weir.dev/exit-code", "3"}, {"sim.weir.dev/outcome-container-sidecar", "Succeeded"}});
  SetContainers(batch, {"main", "sidecar"});
  Create(batch);
  json b = WaitForPhase("main-fail", "Failed");
  EXPECT_EQ(b["status"]["terminationReason"], "Error");
  EXPECT_EQ(b["status"]["exitCode"], 3);
  EXPECT_THAT(b["status"]["message"].get<std::string>(), HasSubstr("\"main\""));
}

// spec.mainContainer names the second container; the first one's outcome
// does not count, whichever way it goes.
TEST_F(BatchTest, MainContainerNamedInTheSpecDecidesNotTheFirstOne) {
  json ok = MakeBatch("work-ok", "Succeeded", {{"mainContainer", "work"}},
                      {{"sim.weir.dev/outcome-container-proxy", "Failed"},
                       {"sim.weir.dev/exit-code-container-proxy", "2"}});
  json fail = MakeBatch("work-fail", "Succeeded", {{"mainContainer", "work"}},
                        {{"sim.weir.dev/outcome-container-work", "Failed"},
                         {"sim.weir.dev/exit-code-container-work", "5"}});
  SetContainers(ok, {"proxy", "work"});
  SetContainers(fail, {"proxy", "work"});
  Create(ok);
  Create(fail);
  json b = WaitForPhase("work-ok", "Succeeded");
  EXPECT_EQ(b["status"]["exitCode"], 0);
  EXPECT_THAT(b["status"]["message"].get<std::string>(), HasSubstr("\"work\""));
  b = WaitForPhase("work-fail", "Failed");
  EXPECT_EQ(b["status"]["terminationReason"], "Error");
  EXPECT_EQ(b["status"]["exitCode"], 5);
  EXPECT_THAT(b["status"]["message"].get<std::string>(), HasSubstr("\"work\""));
}

// Issue 5 point 5: a pod no node can take waits Pending (however long) with
// the scheduler's own message in the Batch's Running condition; it is not a
// failure.
TEST_F(BatchTest, UnschedulablePodIsReportedInAConditionAndStaysPending) {
  json batch = MakeBatch("unsched", "Succeeded", {{"imagePullGraceSeconds", 1}});
  batch["spec"]["jobSpec"]["template"]["spec"]["nodeSelector"] = {
      {"weir.dev/e2e-no-such-node", "true"}};
  Create(batch);
  json pod;
  json scheduled = json::object();
  ASSERT_TRUE(Eventually(
      [&] {
        json pods = Pods("unsched");
        if (pods.empty()) return false;
        pod = pods[0];
        for (const json& c :
             pod.value("status", json::object()).value("conditions", json::array())) {
          if (c.value("type", "") == "PodScheduled") scheduled = c;
        }
        return scheduled.value("reason", "") == "Unschedulable";
      },
      absl::Seconds(30)))
      << "the scheduler never refused the pod: " << pod.dump();
  const std::string scheduler_message = scheduled.value("message", "");
  ASSERT_THAT(scheduler_message, HasSubstr("node affinity/selector"));

  json b;
  json running;
  ASSERT_TRUE(Eventually(
      [&] {
        b = Get("unsched");
        running = Condition(b, "Running");
        return running.value("message", "").find(scheduler_message) != std::string::npos;
      },
      absl::Seconds(30)))
      << "the scheduler's message never reached a condition: " << b["status"].dump();
  EXPECT_EQ(running["status"], "False");
  EXPECT_EQ(running["reason"], "Unschedulable");
  EXPECT_THAT(running["message"].get<std::string>(),
              HasSubstr(absl::StrCat("pod ", pod["metadata"]["name"].get<std::string>(),
                                     " cannot be scheduled")));
  EXPECT_EQ(Phase(b), "Pending");

  // Well past imagePullGraceSeconds and several rechecks: still waiting.
  absl::SleepFor(absl::Seconds(4));
  b = Get("unsched");
  EXPECT_EQ(Phase(b), "Pending") << b["status"].dump();
  ASSERT_EQ(b["status"]["attempts"].size(), 1u) << b["status"].dump();
  EXPECT_EQ(b["status"]["attempts"][0]["phase"], "Pending");
  EXPECT_EQ(Condition(b, "Running").value("reason", ""), "Unschedulable");
  EXPECT_EQ(Jobs("unsched").size(), 1u);
}

TEST_F(BatchTest, FailedAttemptIsRetriedUpToTheLimit) {
  Create(MakeBatch("retry", "Failed", {{"retry", {{"limit", 1}, {"backoffSeconds", 1}}}}));
  json b = WaitForPhase("retry", "Failed", absl::Seconds(90));
  ASSERT_EQ(b["status"]["attempts"].size(), 2u) << b["status"].dump();
  EXPECT_EQ(b["status"]["attempt"], 2);
  EXPECT_EQ(Jobs("retry").size(), 2u) << "exactly one Job per attempt";
}

// Issue 5 point 10: an eviction is retried without using up retry.limit
// (limit 1 still covers the Failed attempt after it), and the backoff doubles
// from one retry to the next.
TEST_F(BatchTest, EvictionDoesNotCountAgainstTheLimitAndBackoffDoubles) {
  constexpr int kBackoffSeconds = 2;
  Create(MakeBatch("disrupted", "Succeeded",
                   {{"retry", {{"limit", 1}, {"backoffSeconds", kBackoffSeconds}}}},
                   {{"sim.weir.dev/outcome-attempt-1", "Evicted"},
                    {"sim.weir.dev/outcome-attempt-2", "Failed"},
                    {"sim.weir.dev/exit-code", "5"}}));
  json b = WaitForPhase("disrupted", "Succeeded", absl::Seconds(90));
  json& attempts = b["status"]["attempts"];
  ASSERT_EQ(attempts.size(), 3u) << b["status"].dump();
  EXPECT_EQ(attempts[0]["phase"], "Killed");
  EXPECT_EQ(attempts[0]["terminationReason"], "Evicted");
  EXPECT_EQ(attempts[1]["phase"], "Failed");
  EXPECT_EQ(attempts[1]["terminationReason"], "Error");
  EXPECT_EQ(attempts[1]["exitCode"], 5);
  EXPECT_EQ(attempts[2]["phase"], "Succeeded");
  EXPECT_EQ(b["status"]["attempt"], 3);
  EXPECT_EQ(Jobs("disrupted").size(), 3u) << "exactly one Job per attempt";

  // Retry n waits backoffSeconds x 2^(n-1) after attempt n ended.
  for (int n = 1; n <= 2; ++n) {
    const absl::Duration gap =
        TimeOf(attempts[n]["startTime"]) - TimeOf(attempts[n - 1]["completionTime"]);
    EXPECT_GE(gap, absl::Seconds(kBackoffSeconds << (n - 1)))
        << "retry " << n << " came too early: " << b["status"].dump();
  }
}

TEST_F(BatchTest, PreemptionAndNodeLossDoNotCountAgainstTheLimit) {
  // With limit 0 a counted failure would end the Batch after attempt 1.
  Create(MakeBatch("disrupted-0", "Succeeded", {{"retry", {{"limit", 0}, {"backoffSeconds", 1}}}},
                   {{"sim.weir.dev/outcome-attempt-1", "Preempted"},
                    {"sim.weir.dev/outcome-attempt-2", "NodeLost"}}));
  json b = WaitForPhase("disrupted-0", "Succeeded", absl::Seconds(90));
  const json& attempts = b["status"]["attempts"];
  ASSERT_EQ(attempts.size(), 3u) << b["status"].dump();
  EXPECT_EQ(attempts[0]["phase"], "Killed");
  EXPECT_EQ(attempts[0]["terminationReason"], "Preempted");
  EXPECT_EQ(attempts[1]["phase"], "Killed");
  EXPECT_EQ(attempts[1]["terminationReason"], "NodeLost");
  EXPECT_EQ(attempts[2]["phase"], "Succeeded");
  EXPECT_EQ(Jobs("disrupted-0").size(), 3u) << "exactly one Job per attempt";
}

TEST_F(BatchTest, CancelWhilePendingEndsCanceledNotFailed) {
  Create(MakeBatch("cancel-pending", "ImagePullBackOff", {{"imagePullGraceSeconds", 600}}));
  ASSERT_TRUE(Eventually([&] { return !Jobs("cancel-pending").empty(); }, absl::Seconds(30)));
  Patch("cancel-pending", {{"spec", {{"cancel", true}}}});
  json b = WaitForPhase("cancel-pending", "Canceled");
  EXPECT_EQ(b["status"]["terminationReason"], "Canceled");
  EXPECT_TRUE(Eventually([&] { return Jobs("cancel-pending").empty(); }, absl::Seconds(30)))
      << "the canceled Batch's Job is cleaned up";
  EXPECT_EQ(Phase(Get("cancel-pending")), "Canceled") << "the record stays";
}

// Created already canceled: Canceled without ever creating a Job (the
// oracle would see one even if it were deleted at once).
TEST_F(BatchTest, CreatedCanceledEndsCanceledWithoutAJob) {
  Create(MakeBatch("born-canceled", "Succeeded", {{"cancel", true}}));
  json b = WaitForPhase("born-canceled", "Canceled");
  EXPECT_EQ(b["status"]["terminationReason"], "Canceled");
  EXPECT_TRUE(b["status"].value("attempts", json::array()).empty()) << b["status"].dump();
  EXPECT_TRUE(Jobs("born-canceled").empty());
}

TEST_F(BatchTest, CancelWhileRunningGoesThroughCanceling) {
  Create(MakeBatch("cancel-running", "Hang"));
  WaitForPhase("cancel-running", "Running");
  Patch("cancel-running", {{"spec", {{"cancel", true}}}});
  json b = WaitForPhase("cancel-running", "Canceled");
  ASSERT_EQ(b["status"]["attempts"].size(), 1u);
  EXPECT_EQ(b["status"]["attempts"][0]["phase"], "Canceled");
  absl::StatusOr<std::string> events =
      kubectl().Run({"get", "events", "-n", ns(), "--field-selector",
                     "involvedObject.name=cancel-running", "-o", "jsonpath={.items[*].reason}"});
  ASSERT_TRUE(events.ok());
  EXPECT_THAT(*events, HasSubstr("Canceling"));
  EXPECT_THAT(*events, HasSubstr("Canceled"));
}

// Issue 5 point 3: canceling a running Batch deletes its Job so that the pod
// gets its own terminationGracePeriodSeconds (not a forced 0), and a main
// container that exits 143 (SIGTERM) or 130 (SIGINT as STOPSIGNAL) because of
// it is Canceled, its exit code kept in the record. Exit codes are played by
// kwok (sim.weir.dev/stop-exit-code).
TEST_F(BatchTest, CancelWhileRunningGivesThePodItsGracePeriodAndExit143Or130IsCanceled) {
  constexpr int kGraceSeconds = 17;
  const std::map<std::string, int> exit_codes = {{"stop-term", 143}, {"stop-int", 130}};
  for (const auto& [name, code] : exit_codes) {
    json batch = MakeBatch(name, "Hang", json::object(),
                           {{"sim.weir.dev/stop-exit-code", absl::StrCat(code)}});
    batch["spec"]["jobSpec"]["template"]["spec"]["terminationGracePeriodSeconds"] = kGraceSeconds;
    Create(batch);
  }
  for (const auto& [name, code] : exit_codes) WaitForPhase(name, "Running");
  // kwok removes a deleted pod at once: only a watch sees it being deleted.
  // One line per event: "TYPE pod deletionGracePeriodSeconds exitCode".
  absl::StatusOr<std::string> watched;
  std::thread watcher([&] {
    watched = kubectl().Run(
        {"get", "pods", "-n", ns(), "-l", "weir.dev/batch in (stop-term,stop-int)", "--watch",
         "--output-watch-events", "--request-timeout=6s", "-o",
         "jsonpath={.type} {.object.metadata.name} {.object.metadata.deletionGracePeriodSeconds} "
         "{.object.status.containerStatuses[0].state.terminated.exitCode}{\"\\n\"}"});
  });
  absl::SleepFor(absl::Milliseconds(500));
  for (const auto& [name, code] : exit_codes) Patch(name, {{"spec", {{"cancel", true}}}});
  std::map<std::string, json> canceled;
  for (const auto& [name, code] : exit_codes) canceled[name] = WaitForPhase(name, "Canceled");
  watcher.join();
  ASSERT_TRUE(watched.ok()) << watched.status();

  for (const auto& [name, code] : exit_codes) {
    json& b = canceled[name];
    ASSERT_EQ(b["status"]["attempts"].size(), 1u) << b["status"].dump();
    json& attempt = b["status"]["attempts"][0];
    EXPECT_EQ(attempt["phase"], "Canceled") << name;
    EXPECT_EQ(attempt["terminationReason"], "Canceled") << name;
    EXPECT_EQ(attempt.value("exitCode", -1), code) << b["status"].dump();
    EXPECT_EQ(b["status"].value("exitCode", -1), code) << b["status"].dump();

    // The first grace period the pod was deleted with is its own (kwok's
    // final removal then uses 0); the exit code is the stop signal's.
    std::optional<int> grace;
    bool exited = false;
    for (absl::string_view line : absl::StrSplit(*watched, '\n', absl::SkipEmpty())) {
      std::vector<std::string> f = absl::StrSplit(line, ' ');
      if (f.size() < 4 || !absl::StartsWith(f[1], absl::StrCat(name, "-"))) continue;
      int seconds = 0;
      if (!grace.has_value() && absl::SimpleAtoi(f[2], &seconds)) grace = seconds;
      if (f[3] == absl::StrCat(code)) exited = true;
    }
    ASSERT_TRUE(grace.has_value()) << name << "'s pod was never seen being deleted:\n" << *watched;
    EXPECT_EQ(*grace, kGraceSeconds) << *watched;
    EXPECT_TRUE(exited) << *watched;
  }
}

TEST_F(BatchTest, DeletedWhilePendingLastStatusIsCanceledAndChildrenGoFirst) {
  Create(MakeBatch("del", "ImagePullBackOff", {{"imagePullGraceSeconds", 600}}));
  ASSERT_TRUE(Eventually([&] { return !Jobs("del").empty(); }, absl::Seconds(30)));
  // Watch the Batch until it is gone; the last state seen must be Canceled.
  absl::StatusOr<std::string> watched;
  std::thread watcher([&] {
    watched = kubectl().Run({"get", "batches.weir.dev", "del", "-n", ns(), "--watch", "-o", "json",
                             "--request-timeout=8s"});
  });
  absl::SleepFor(absl::Milliseconds(500));
  ASSERT_TRUE(
      kubectl()
          .Run({"delete", "batches.weir.dev", "del", "-n", ns(), "--wait=true", "--timeout=30s"})
          .ok());
  EXPECT_TRUE(Jobs("del").empty()) << "children must be gone before the Batch is";
  watcher.join();
  ASSERT_TRUE(watched.ok()) << watched.status();
  const size_t last = watched->rfind("\"phase\":");
  ASSERT_NE(last, std::string::npos) << *watched;
  EXPECT_THAT(watched->substr(last, 30), HasSubstr("Canceled"));
}

TEST_F(BatchTest, OOMRetryRaisesMemoryAndSucceedsOnAttemptTwo) {
  Create(MakeBatch(
      "oom-retry", "OOMKilled",
      {{"retry",
        {{"backoffSeconds", 1}, {"onOOM", {{"memoryFactor", 2.0}, {"maxMemory", "1Gi"}}}}}},
      {{"sim.weir.dev/outcome-attempt-2", "Succeeded"}}));
  json b = WaitForPhase("oom-retry", "Succeeded", absl::Seconds(90));
  const json& attempts = b["status"]["attempts"];
  ASSERT_EQ(attempts.size(), 2u) << b["status"].dump();
  EXPECT_EQ(attempts[0]["phase"], "Killed");
  EXPECT_EQ(attempts[0]["terminationReason"], "OOMKilled");
  EXPECT_EQ(attempts[0]["memoryLimit"], "64Mi");
  EXPECT_EQ(attempts[1]["phase"], "Succeeded");
  EXPECT_EQ(attempts[1]["memoryLimit"], "128Mi");
  json jobs = Jobs("oom-retry");
  ASSERT_EQ(jobs.size(), 2u) << "exactly one Job per attempt";
  for (const json& job : jobs) {
    const std::string expected =
        job["metadata"]["labels"]["weir.dev/attempt"] == "1" ? "64Mi" : "128Mi";
    EXPECT_EQ(job["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"],
              expected);
  }
}

TEST_F(BatchTest, RecreatingADeletedBatchAtOnceDoesNotCollide) {
  Create(MakeBatch("again", "Hang"));
  WaitForPhase("again", "Running");
  const std::string old_job = Jobs("again")[0]["metadata"]["name"];
  ASSERT_TRUE(
      kubectl()
          .Run({"delete", "batches.weir.dev", "again", "-n", ns(), "--wait=true", "--timeout=60s"})
          .ok());
  Create(MakeBatch("again", "Succeeded"));
  json b = WaitForPhase("again", "Succeeded");
  EXPECT_NE(b["status"]["job"], old_job) << "the new Batch's Job is its own";
  json jobs = Jobs("again");
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0]["metadata"]["labels"]["weir.dev/batch-uid"], b["metadata"]["uid"]);
}

TEST_F(BatchTest, IdleResourcesAreReleasedAndTheRecordStays) {
  Create(MakeBatch("idle", "Succeeded", {{"idleTimeoutSeconds", 2}}));
  WaitForPhase("idle", "Succeeded");
  json b;
  ASSERT_TRUE(Eventually(
      [&] {
        b = Get("idle");
        return Condition(b, "ResourcesReleased").value("status", "") == "True";
      },
      absl::Seconds(30)))
      << b.dump();
  EXPECT_TRUE(Jobs("idle").empty());
  EXPECT_TRUE(Pods("idle").empty()) << "pods go with their Job";
  EXPECT_EQ(Phase(b), "Succeeded");
  EXPECT_TRUE(b["status"].contains("resourcesReleasedTime"));
}

TEST_F(BatchTest, TtlDeletesTheFinishedBatch) {
  Create(MakeBatch("ttl", "Succeeded", {{"ttlSecondsAfterFinished", 2}}));
  WaitForPhase("ttl", "Succeeded");
  EXPECT_TRUE(
      Eventually([&] { return !Find("batches.weir.dev", "ttl").has_value(); }, absl::Seconds(30)))
      << "the Batch outlived its ttlSecondsAfterFinished";
  EXPECT_TRUE(Eventually([&] { return Jobs("ttl").empty(); }, absl::Seconds(30)));
}

TEST_F(BatchTest, CancelingAFinishedBatchSaysAlreadyAndCleansUp) {
  Create(MakeBatch("done", "Succeeded"));
  WaitForPhase("done", "Succeeded");
  Patch("done", {{"spec", {{"cancel", true}}}});
  EXPECT_TRUE(Eventually([&] { return Jobs("done").empty(); }, absl::Seconds(30)));
  absl::StatusOr<std::string> events =
      kubectl().Run({"get", "events", "-n", ns(), "--field-selector", "involvedObject.name=done",
                     "-o", "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}"});
  ASSERT_TRUE(events.ok());
  EXPECT_THAT(*events, HasSubstr("AlreadyFinished: already Succeeded"));
  EXPECT_EQ(Phase(Get("done")), "Succeeded") << "the phase does not change";
}

TEST_F(BatchTest, SchemaRefusesBadInputNamingTheField) {
  json bad = MakeBatch("bad", "Succeeded", {{"template", "etl"}, {"retry", {{"limit", -1}}}});
  absl::Status s = kubectl().Apply(bad);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("exactly one of spec.template or spec.jobSpec"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("spec.retry.limit"));
}

TEST_F(BatchTest, UnknownTemplateFailsWithValidFalse) {
  json batch = MakeBatch("orphan", "Succeeded");
  batch["spec"].erase("jobSpec");
  batch["spec"]["template"] = "no-such-template";
  Create(batch);
  json b = WaitForPhase("orphan", "Failed", absl::Seconds(60));
  const json valid = Condition(b, "Valid");
  EXPECT_EQ(valid.value("status", ""), "False") << b["status"].dump();
  EXPECT_EQ(valid.value("reason", ""), "TemplateNotFound") << b["status"].dump();
  EXPECT_TRUE(Jobs("orphan").empty());
}

// --node-lost-timeout: a pod whose node went silent (phase Unknown) ends its
// attempt Killed/NodeLost once the flag's timeout has passed (the default, 5
// minutes, would outlast this test).
class NodeLostTimeoutTest : public ControllerFixture {
 protected:
  NodeLostTimeoutTest() : ControllerFixture({"--node-lost-timeout=3s"}) {}
};

TEST_F(NodeLostTimeoutTest, AnUnknownPodIsNodeLostAfterTheFlagsTimeout) {
  // Only evictions are retried: a lost node ends the Batch.
  Apply(SimulatedBatch(ns(), "silent", "Unknown",
                       {{"retry", {{"limit", 0}, {"onReasons", json::array({"Evicted"})}}}},
                       {{"sim.weir.dev/duration", "3s"}}));
  json b = WaitForPhase("batches.weir.dev", "silent", "Killed", absl::Seconds(40));
  EXPECT_EQ(b["status"]["terminationReason"], "NodeLost") << b["status"].dump();
  EXPECT_THAT(b["status"].value("message", ""), HasSubstr("Unknown for"));
  EXPECT_THAT(b["status"].value("message", ""), HasSubstr("node-lost timeout 3s"));
}

}  // namespace
}  // namespace weir::e2e
