// Proves the local control plane (docs/design.md §6) is real and that kwok plays
// each simulated outcome the way a kubelet reports it: batch/v1 Jobs are
// turned into pods by the job controller, scheduled onto kwok nodes, and their
// status follows the pod template's sim.weir.dev/* annotations.
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/e2e/support/eventually.h"
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

  // Creates a Job whose pod plays `outcome` with the given extra annotations
  // and pod labels, with one busybox container of each name in `containers`.
  void CreateJob(const std::string& name, const std::string& outcome, json annotations = {},
                 const std::vector<std::string>& containers = {"main"},
                 const json& labels = json::object()) {
    annotations["sim.weir.dev/outcome"] = outcome;
    json specs = json::array();
    for (const std::string& c : containers) {
      specs.push_back({{"name", c}, {"image", "busybox:1.36"}});
    }
    json job = {{"apiVersion", "batch/v1"},
                {"kind", "Job"},
                {"metadata", {{"name", name}, {"namespace", ns_->name()}}},
                {"spec",
                 {{"backoffLimit", 0},
                  {"template",
                   {{"metadata", {{"labels", labels}, {"annotations", annotations}}},
                    {"spec", {{"restartPolicy", "Never"}, {"containers", specs}}}}}}}};
    ASSERT_TRUE(kubectl_->Apply(job).ok());
  }

  // The Job's one pod, or null while there is none (a kubectl error fails
  // the test).
  json Pod(const std::string& job) {
    absl::StatusOr<json> pods =
        kubectl_->GetJson({"get", "pods", "-n", ns_->name(), "-l",
                           absl::StrCat("batch.kubernetes.io/job-name=", job)});
    if (!pods.ok()) {
      ADD_FAILURE() << pods.status();
      return nullptr;
    }
    if ((*pods)["items"].empty()) return nullptr;
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

  absl::StatusOr<bool> JobHasCondition(const std::string& job, const std::string& type) {
    absl::StatusOr<json> j = kubectl_->GetJson({"get", "job", job, "-n", ns_->name()});
    if (!j.ok()) return j.status();
    for (const json& c : (*j)["status"].value("conditions", json::array())) {
      if (c.value("type", "") == type && c.value("status", "") == "True") return true;
    }
    return false;
  }

  // The state of container `name`; empty while it has none (a pod the kubelet
  // has not taken yet has no container statuses).
  static json State(const json& pod, const std::string& name) {
    const json status = pod.value("status", json::object());
    for (const json& c : status.value("containerStatuses", json::array())) {
      if (c.value("name", "") == name) return c.value("state", json::object());
    }
    return json::object();
  }

  static json MainState(const json& pod) { return State(pod, "main"); }

  // The pod condition of `type` (null if absent).
  static json PodCondition(const json& pod, const std::string& type) {
    for (const json& c : pod.value("status", json::object()).value("conditions", json::array())) {
      if (c.value("type", "") == type) return c;
    }
    return nullptr;
  }

  // Deletes pod `name` while watching it and waits until it is gone; returns
  // every state the watch saw, oldest first.
  std::vector<json> DeleteWatching(const std::string& name) {
    absl::StatusOr<std::string> watched;
    std::thread watcher([&] {
      watched = kubectl_->Run(
          {"get", "pod", name, "-n", ns_->name(), "--watch", "-o", "json", "--request-timeout=8s"});
    });
    absl::SleepFor(absl::Milliseconds(500));
    absl::Status deleted =
        kubectl_->Run({"delete", "pod", name, "-n", ns_->name(), "--wait=false"}).status();
    EXPECT_TRUE(deleted.ok()) << deleted;
    EXPECT_TRUE(Eventually(
        [&]() -> absl::StatusOr<bool> {
          absl::StatusOr<std::optional<json>> pod = kubectl_->Find("pod", name, ns_->name());
          if (!pod.ok()) return pod.status();
          return !pod->has_value();
        },
        absl::Seconds(30)))
        << "the deleted pod was never removed";
    watcher.join();
    std::vector<json> seen;
    if (!watched.ok()) {
      ADD_FAILURE() << watched.status();
      return seen;
    }
    std::istringstream in(*watched);
    while (in >> std::ws && in.peek() != std::char_traits<char>::eof()) {
      json state;
      try {
        in >> state;  // one object of the stream
      } catch (const json::parse_error& e) {
        ADD_FAILURE() << "unreadable watch output (" << e.what() << "): " << *watched;
        break;
      }
      seen.push_back(std::move(state));
    }
    return seen;
  }

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

// Evicted, Preempted and NodeLost: a Failed pod with the DisruptionTarget
// reason a kubelet, the scheduler or the taint manager sets.
TEST_F(PodSimulationTest, DisruptionsCarryTheirDisruptionTargetReason) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"Evicted", "TerminationByKubelet"},
      {"Preempted", "PreemptionByScheduler"},
      {"NodeLost", "DeletionByTaintManager"}};
  for (const auto& [outcome, why] : cases) CreateJob(absl::AsciiStrToLower(outcome), outcome);
  for (const auto& [outcome, why] : cases) {
    json pod = WaitForPodPhase(absl::AsciiStrToLower(outcome), "Failed");
    ASSERT_TRUE(pod.is_object()) << outcome;
    EXPECT_EQ(pod["status"].value("reason", ""), outcome == "Evicted" ? "Evicted" : "") << outcome;
    std::string disruption;
    for (const json& c : pod["status"]["conditions"]) {
      if (c["type"] == "DisruptionTarget" && c["status"] == "True") disruption = c["reason"];
    }
    EXPECT_EQ(disruption, why) << pod["status"].dump();
    EXPECT_EQ(MainState(pod)["terminated"]["exitCode"], 137) << outcome;
  }
}

TEST_F(PodSimulationTest, ImagePullBackOffNeverStarts) {
  CreateJob("pull", "ImagePullBackOff");
  json pod;
  ASSERT_TRUE(Eventually(
      [&] {
        pod = Pod("pull");
        return pod.is_object() &&
               MainState(pod).value("waiting", json::object()).value("reason", "") ==
                   "ImagePullBackOff";
      },
      absl::Seconds(30)))
      << "never reported ImagePullBackOff; last: " << pod.dump();
  // It keeps waiting: no container ever starts and the pod stays Pending.
  absl::SleepFor(absl::Seconds(3));
  pod = Pod("pull");
  EXPECT_EQ(pod["status"]["phase"], "Pending");
  EXPECT_FALSE(MainState(pod).contains("running"));
  EXPECT_FALSE(MainState(pod).contains("terminated"));
  EXPECT_THAT(MainState(pod).value("waiting", json::object()).value("message", ""),
              ::testing::HasSubstr("busybox:1.36"));
}

TEST_F(PodSimulationTest, PerAttemptOutcomeFollowsTheAttemptLabel) {
  for (const std::string attempt : {"1", "2"}) {
    CreateJob("attempt-" + attempt, "OOMKilled", {{"sim.weir.dev/outcome-attempt-2", "Succeeded"}},
              {"main"}, {{"weir.dev/attempt", attempt}});
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
  // The kubelet's last word is exit 143.
  std::vector<json> seen = DeleteWatching(pod["metadata"]["name"]);
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(MainState(seen.back())["terminated"]["exitCode"], 143) << seen.back()["status"].dump();
}

// Per-container outcomes (sim.weir.dev/outcome-container-NAME): the main
// container succeeds while its sidecar keeps running, so the pod stays Running
// and its Job never finishes; deleted, only the sidecar is stopped.
TEST_F(PodSimulationTest, SidecarThatHangsKeepsThePodRunningAfterMainSucceeded) {
  CreateJob("side-hang", "Succeeded", {{"sim.weir.dev/outcome-container-sidecar", "Hang"}},
            {"main", "sidecar"});
  json pod;
  ASSERT_TRUE(Eventually(
      [&] {
        pod = Pod("side-hang");
        return pod.is_object() && State(pod, "main").contains("terminated");
      },
      absl::Seconds(30)))
      << "main never ended; last: " << pod.dump();
  EXPECT_EQ(State(pod, "main")["terminated"]["exitCode"], 0);
  EXPECT_EQ(State(pod, "main")["terminated"]["reason"], "Completed");
  EXPECT_TRUE(State(pod, "sidecar").contains("running")) << pod["status"].dump();
  EXPECT_EQ(pod["status"]["phase"], "Running");
  EXPECT_EQ(PodCondition(pod, "Ready")["status"], "False");
  EXPECT_EQ(PodCondition(pod, "Ready")["reason"], "ContainersNotReady");

  // It stays so: the stage plays once, and the Job neither completes nor fails.
  const std::string version = pod["metadata"]["resourceVersion"];
  absl::SleepFor(absl::Seconds(3));
  pod = Pod("side-hang");
  ASSERT_TRUE(pod.is_object());
  EXPECT_EQ(pod["status"]["phase"], "Running");
  EXPECT_EQ(pod["metadata"]["resourceVersion"], version) << "the pod's status kept changing";
  for (const char* condition : {"Complete", "Failed"}) {
    absl::StatusOr<bool> has = JobHasCondition("side-hang", condition);
    ASSERT_TRUE(has.ok()) << has.status();
    EXPECT_FALSE(*has) << condition;
  }

  std::vector<json> seen = DeleteWatching(pod["metadata"]["name"]);
  ASSERT_FALSE(seen.empty());
  const json& last = seen.back();
  EXPECT_EQ(last["status"]["phase"], "Failed");
  EXPECT_EQ(State(last, "main")["terminated"]["exitCode"], 0) << "main had ended before";
  EXPECT_EQ(State(last, "main")["terminated"]["reason"], "Completed");
  EXPECT_EQ(State(last, "sidecar")["terminated"]["exitCode"], 143);
}

// A container that fails on its own fails the pod, as a kubelet reports it for
// restartPolicy Never, even though the main container succeeded. Its exit code
// is its own, else the pod's sim.weir.dev/exit-code.
TEST_F(PodSimulationTest, ContainerFailingAfterMainSucceededFailsThePod) {
  CreateJob("side-fail", "Succeeded",
            {{"sim.weir.dev/exit-code", "42"},
             {"sim.weir.dev/outcome-container-sidecar", "Failed"},
             {"sim.weir.dev/exit-code-container-sidecar", "7"},
             {"sim.weir.dev/outcome-container-logger", "Failed"}},
            {"main", "sidecar", "logger"});
  json pod = WaitForPodPhase("side-fail", "Failed");
  ASSERT_TRUE(pod.is_object());
  EXPECT_EQ(State(pod, "main")["terminated"]["exitCode"], 0);
  EXPECT_EQ(State(pod, "main")["terminated"]["reason"], "Completed");
  EXPECT_EQ(State(pod, "sidecar")["terminated"]["exitCode"], 7);
  EXPECT_EQ(State(pod, "sidecar")["terminated"]["reason"], "Error");
  EXPECT_EQ(State(pod, "logger")["terminated"]["exitCode"], 42);
  EXPECT_EQ(PodCondition(pod, "Ready")["reason"], "PodFailed");
  EXPECT_TRUE(
      Eventually([&] { return JobHasCondition("side-fail", "Failed"); }, absl::Seconds(30)));
}

TEST_F(PodSimulationTest, MainFailingWhileItsSidecarSucceedsFailsThePod) {
  CreateJob(
      "main-fail", "Failed",
      {{"sim.weir.dev/exit-code", "3"}, {"sim.weir.dev/outcome-container-sidecar", "Succeeded"}},
      {"main", "sidecar"});
  json pod = WaitForPodPhase("main-fail", "Failed");
  ASSERT_TRUE(pod.is_object());
  EXPECT_EQ(State(pod, "main")["terminated"]["exitCode"], 3);
  EXPECT_EQ(State(pod, "main")["terminated"]["reason"], "Error");
  EXPECT_EQ(State(pod, "sidecar")["terminated"]["exitCode"], 0);
  EXPECT_EQ(State(pod, "sidecar")["terminated"]["reason"], "Completed");
}

// A pod that Hangs with one container that ends: that container terminates
// after the duration, the rest keep running and so does the pod.
TEST_F(PodSimulationTest, ContainerEndingInAHangingPodLeavesItRunning) {
  CreateJob("hang-side-ends", "Hang", {{"sim.weir.dev/outcome-container-sidecar", "Failed"}},
            {"main", "sidecar"});
  json pod;
  ASSERT_TRUE(Eventually(
      [&] {
        pod = Pod("hang-side-ends");
        return pod.is_object() && State(pod, "sidecar").contains("terminated");
      },
      absl::Seconds(30)))
      << "the sidecar never ended; last: " << pod.dump();
  EXPECT_EQ(State(pod, "sidecar")["terminated"]["exitCode"], 1);
  EXPECT_TRUE(State(pod, "main").contains("running")) << pod["status"].dump();
  EXPECT_EQ(pod["status"]["phase"], "Running");
}

// Without per-container annotations every container plays the pod's outcome,
// as before; a container's own outcome wins over outcome-attempt-N.
TEST_F(PodSimulationTest, EveryContainerWithoutItsOwnOutcomePlaysThePods) {
  CreateJob("all-ok", "Succeeded", {}, {"main", "sidecar"});
  CreateJob("all-oom", "OOMKilled", {}, {"main", "sidecar"});
  CreateJob("all-fail", "Failed", {{"sim.weir.dev/exit-code", "9"}}, {"main", "sidecar"});
  CreateJob("attempt-vs-container", "Succeeded",
            {{"sim.weir.dev/outcome-attempt-1", "OOMKilled"},
             {"sim.weir.dev/outcome-container-sidecar", "Succeeded"}},
            {"main", "sidecar"}, {{"weir.dev/attempt", "1"}});
  json ok = WaitForPodPhase("all-ok", "Succeeded");
  json oom = WaitForPodPhase("all-oom", "Failed");
  json fail = WaitForPodPhase("all-fail", "Failed");
  json mixed = WaitForPodPhase("attempt-vs-container", "Failed");
  ASSERT_TRUE(ok.is_object() && oom.is_object() && fail.is_object() && mixed.is_object());
  for (const std::string c : {"main", "sidecar"}) {
    EXPECT_EQ(State(ok, c)["terminated"]["exitCode"], 0) << c;
    EXPECT_EQ(State(ok, c)["terminated"]["reason"], "Completed") << c;
    EXPECT_EQ(State(oom, c)["terminated"]["exitCode"], 137) << c;
    EXPECT_EQ(State(oom, c)["terminated"]["reason"], "OOMKilled") << c;
    EXPECT_EQ(State(fail, c)["terminated"]["exitCode"], 9) << c;
    EXPECT_EQ(State(fail, c)["terminated"]["reason"], "Error") << c;
  }
  EXPECT_EQ(PodCondition(ok, "Ready")["reason"], "PodCompleted");
  EXPECT_EQ(State(mixed, "main")["terminated"]["reason"], "OOMKilled");
  EXPECT_EQ(State(mixed, "sidecar")["terminated"]["reason"], "Completed");
}

}  // namespace
}  // namespace weir::e2e
