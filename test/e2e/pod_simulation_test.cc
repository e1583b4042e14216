// Proves the local control plane (DESIGN.md §6) is real and that kwok plays
// each simulated outcome the way a kubelet reports it: batch/v1 Jobs are
// turned into pods by the job controller, scheduled onto kwok nodes, and their
// status follows the pod template's sim.weir.dev/* annotations.
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/e2e/support/kubectl.h"

namespace weir::e2e {
namespace {

using nlohmann::json;

class PodSimulationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<Kubectl> kubectl = Kubectl::FromEnv();
    ASSERT_TRUE(kubectl.ok()) << kubectl.status();
    kubectl_.emplace(*std::move(kubectl));
    ns_.emplace(*kubectl_, "sim");
  }

  // Creates a Job whose pod plays `outcome` with the given extra annotations.
  void CreateJob(const std::string& name, const std::string& outcome, json annotations = {}) {
    annotations["sim.weir.dev/outcome"] = outcome;
    json job = {
        {"apiVersion", "batch/v1"},
        {"kind", "Job"},
        {"metadata", {{"name", name}, {"namespace", ns_->name()}}},
        {"spec",
         {{"backoffLimit", 0},
          {"template",
           {{"metadata", {{"annotations", annotations}}},
            {"spec",
             {{"restartPolicy", "Never"},
              {"containers", json::array({{{"name", "main"}, {"image", "busybox:1.36"}}})}}}}}}}};
    ASSERT_TRUE(kubectl_->Apply(job).ok());
  }

  // The Job's one pod, or null while there is none.
  json Pod(const std::string& job) {
    absl::StatusOr<json> pods =
        kubectl_->GetJson({"get", "pods", "-n", ns_->name(), "-l",
                           absl::StrCat("batch.kubernetes.io/job-name=", job)});
    if (!pods.ok() || (*pods)["items"].empty()) return nullptr;
    return (*pods)["items"][0];
  }

  // Waits until the Job's pod reaches `phase`; returns it (null on timeout).
  json WaitForPodPhase(const std::string& job, const std::string& phase,
                       absl::Duration timeout = absl::Seconds(30)) {
    json pod;
    Eventually(
        [&] {
          pod = Pod(job);
          return pod.is_object() && pod["status"].value("phase", "") == phase;
        },
        timeout);
    EXPECT_TRUE(pod.is_object() && pod["status"].value("phase", "") == phase)
        << "pod of job " << job << " never reached " << phase << "; last: " << pod.dump();
    return pod;
  }

  bool JobHasCondition(const std::string& job, const std::string& type) {
    absl::StatusOr<json> j = kubectl_->GetJson({"get", "job", job, "-n", ns_->name()});
    if (!j.ok()) return false;
    for (const json& c : (*j)["status"].value("conditions", json::array())) {
      if (c.value("type", "") == type && c.value("status", "") == "True") return true;
    }
    return false;
  }

  static json MainState(const json& pod) { return pod["status"]["containerStatuses"][0]["state"]; }

  std::optional<Kubectl> kubectl_;
  std::optional<TestNamespace> ns_;
};

TEST_F(PodSimulationTest, ControlPlaneHasTwoReadyKwokNodes) {
  absl::StatusOr<json> nodes = kubectl_->GetJson({"get", "nodes", "-l", "type=kwok"});
  ASSERT_TRUE(nodes.ok()) << nodes.status();
  int ready = 0;
  for (const json& node : (*nodes)["items"]) {
    for (const json& c : node["status"]["conditions"]) {
      if (c["type"] == "Ready" && c["status"] == "True") ++ready;
    }
  }
  EXPECT_GE(ready, 2);
}

TEST_F(PodSimulationTest, SucceededExitsZeroAndJobCompletes) {
  CreateJob("ok", "Succeeded");
  json pod = WaitForPodPhase("ok", "Succeeded");
  ASSERT_TRUE(pod.is_object());
  EXPECT_FALSE(pod["spec"].value("nodeName", "").empty()) << "pod was never scheduled";
  EXPECT_EQ(MainState(pod)["terminated"]["exitCode"], 0);
  EXPECT_EQ(MainState(pod)["terminated"]["reason"], "Completed");
  EXPECT_TRUE(Eventually([&] { return JobHasCondition("ok", "Complete"); }, absl::Seconds(30)))
      << "the job controller never marked the Job Complete";
}

TEST_F(PodSimulationTest, MissingOutcomeAnnotationMeansSucceeded) {
  json job = {{"apiVersion", "batch/v1"},
              {"kind", "Job"},
              {"metadata", {{"name", "plain"}, {"namespace", ns_->name()}}},
              {"spec",
               {{"backoffLimit", 0},
                {"template",
                 {{"spec",
                   {{"restartPolicy", "Never"},
                    {"containers", json::array({{{"name", "main"}, {"image", "busybox"}}})}}}}}}}};
  ASSERT_TRUE(kubectl_->Apply(job).ok());
  WaitForPodPhase("plain", "Succeeded");
}

TEST_F(PodSimulationTest, FailedExitsWithTheGivenCode) {
  CreateJob("fail", "Failed", {{"sim.weir.dev/exit-code", "42"}});
  json pod = WaitForPodPhase("fail", "Failed");
  ASSERT_TRUE(pod.is_object());
  EXPECT_EQ(MainState(pod)["terminated"]["exitCode"], 42);
  EXPECT_EQ(MainState(pod)["terminated"]["reason"], "Error");
  EXPECT_TRUE(Eventually([&] { return JobHasCondition("fail", "Failed"); }, absl::Seconds(30)));
}

TEST_F(PodSimulationTest, FailedDefaultsToExitCodeOne) {
  CreateJob("fail1", "Failed");
  json pod = WaitForPodPhase("fail1", "Failed");
  ASSERT_TRUE(pod.is_object());
  EXPECT_EQ(MainState(pod)["terminated"]["exitCode"], 1);
}

TEST_F(PodSimulationTest, OOMKilledIsReasonOOMKilledExit137) {
  CreateJob("oom", "OOMKilled");
  json pod = WaitForPodPhase("oom", "Failed");
  ASSERT_TRUE(pod.is_object());
  EXPECT_EQ(MainState(pod)["terminated"]["reason"], "OOMKilled");
  EXPECT_EQ(MainState(pod)["terminated"]["exitCode"], 137);
}

TEST_F(PodSimulationTest, EvictedHasPodReasonAndDisruptionTarget) {
  CreateJob("evict", "Evicted");
  json pod = WaitForPodPhase("evict", "Failed");
  ASSERT_TRUE(pod.is_object());
  EXPECT_EQ(pod["status"]["reason"], "Evicted");
  bool disruption = false;
  for (const json& c : pod["status"]["conditions"]) {
    if (c["type"] == "DisruptionTarget" && c["status"] == "True") disruption = true;
  }
  EXPECT_TRUE(disruption) << pod["status"].dump();
}

TEST_F(PodSimulationTest, ImagePullBackOffNeverStarts) {
  CreateJob("pull", "ImagePullBackOff");
  json pod;
  ASSERT_TRUE(Eventually(
      [&] {
        pod = Pod("pull");
        return pod.is_object() &&
               MainState(pod)["waiting"].value("reason", "") == "ImagePullBackOff";
      },
      absl::Seconds(30)))
      << "never reported ImagePullBackOff; last: " << pod.dump();
  // It keeps waiting: no container ever starts and the pod stays Pending.
  absl::SleepFor(absl::Seconds(3));
  pod = Pod("pull");
  EXPECT_EQ(pod["status"]["phase"], "Pending");
  EXPECT_FALSE(MainState(pod).contains("running"));
  EXPECT_FALSE(MainState(pod).contains("terminated"));
  EXPECT_THAT(MainState(pod)["waiting"].value("message", ""), ::testing::HasSubstr("busybox:1.36"));
}

TEST_F(PodSimulationTest, PerAttemptOutcomeFollowsTheAttemptLabel) {
  for (const std::string attempt : {"1", "2"}) {
    json job = {
        {"apiVersion", "batch/v1"},
        {"kind", "Job"},
        {"metadata", {{"name", "attempt-" + attempt}, {"namespace", ns_->name()}}},
        {"spec",
         {{"backoffLimit", 0},
          {"template",
           {{"metadata",
             {{"labels", {{"weir.dev/attempt", attempt}}},
              {"annotations",
               {{"sim.weir.dev/outcome", "OOMKilled"},
                {"sim.weir.dev/outcome-attempt-2", "Succeeded"}}}}},
            {"spec",
             {{"restartPolicy", "Never"},
              {"containers", json::array({{{"name", "main"}, {"image", "busybox"}}})}}}}}}}};
    ASSERT_TRUE(kubectl_->Apply(job).ok());
  }
  json first = WaitForPodPhase("attempt-1", "Failed");
  ASSERT_TRUE(first.is_object());
  EXPECT_EQ(MainState(first)["terminated"]["reason"], "OOMKilled");
  WaitForPodPhase("attempt-2", "Succeeded");
}

TEST_F(PodSimulationTest, DurationIsHonoured) {
  CreateJob("slow", "Succeeded", {{"sim.weir.dev/duration", "4s"}});
  json running = WaitForPodPhase("slow", "Running");
  ASSERT_TRUE(running.is_object());
  const absl::Time seen_running = absl::Now();
  json done = WaitForPodPhase("slow", "Succeeded");
  ASSERT_TRUE(done.is_object());
  // Still running well into the 4s; timestamps have one-second resolution.
  EXPECT_GE(absl::Now() - seen_running, absl::Seconds(2.5));
  absl::Time started, finished;
  std::string err;
  ASSERT_TRUE(absl::ParseTime(absl::RFC3339_full,
                              MainState(done)["terminated"]["startedAt"].get<std::string>(),
                              &started, &err));
  ASSERT_TRUE(absl::ParseTime(absl::RFC3339_full,
                              MainState(done)["terminated"]["finishedAt"].get<std::string>(),
                              &finished, &err));
  EXPECT_GE(finished - started, absl::Seconds(3));
}

TEST_F(PodSimulationTest, HangRunsUntilDeletedThenExits143) {
  CreateJob("hang", "Hang", {{"sim.weir.dev/duration", "1s"}});
  json pod = WaitForPodPhase("hang", "Running");
  ASSERT_TRUE(pod.is_object());
  absl::SleepFor(absl::Seconds(3));
  pod = Pod("hang");
  ASSERT_TRUE(pod.is_object());
  EXPECT_EQ(pod["status"]["phase"], "Running") << "a Hang pod must not finish by itself";
  const std::string name = pod["metadata"]["name"];

  // Watch the pod while deleting it: the kubelet's last word is exit 143.
  absl::StatusOr<std::string> watched;
  std::thread watcher([&] {
    watched = kubectl_->Run(
        {"get", "pod", name, "-n", ns_->name(), "--watch", "-o", "json", "--request-timeout=8s"});
  });
  absl::SleepFor(absl::Milliseconds(500));
  ASSERT_TRUE(kubectl_->Run({"delete", "pod", name, "-n", ns_->name(), "--wait=false"}).ok());
  EXPECT_TRUE(Eventually(
      [&] {
        return !kubectl_->Run({"get", "pod", name, "-n", ns_->name()}).ok();
      },
      absl::Seconds(30)))
      << "the deleted pod was never removed";
  watcher.join();
  ASSERT_TRUE(watched.ok()) << watched.status();
  EXPECT_THAT(*watched, ::testing::HasSubstr("\"exitCode\": 143"));
}

}  // namespace
}  // namespace weir::e2e
