// weir on the real node (issue 11): real processes under kubelet, containerd
// and runc, so exit codes, the kernel's OOM killer, stop signals, image-pull
// errors and deletion grace are the real ones, not kwok's Stages. Busybox
// scripts are enough. containerd's own ctr is a second witness: what ran, and
// that nothing is left behind.
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/e2e/support/batch_objects.h"
#include "test/e2e/support/containerd.h"
#include "test/e2e/support/controller_fixture.h"

namespace weir::e2e {
namespace {

using nlohmann::json;
using ::testing::AnyOf;
using ::testing::HasSubstr;

// A process that runs until it is stopped, and ends 143 on SIGTERM.
constexpr char kRunUntilTerm[] = "trap 'exit 143' TERM; while true; do sleep 1; done";

class RealityTest : public ControllerFixture {
 protected:
  void SetUp() override {
    ControllerFixture::SetUp();
    if (HasFatalFailure()) return;
    absl::StatusOr<Containerd> containerd = Containerd::FromEnv();
    ASSERT_TRUE(containerd.ok()) << containerd.status();
    containerd_.emplace(*std::move(containerd));
    json node = Get("node", "localhost");
    ASSERT_TRUE(node.is_object()) << "the real node 'localhost' is not registered";
  }

  json Batch(const std::string& name, const std::string& script, json extra = json::object(),
             const std::string& image = kBusyboxImage) {
    return RealBatch(ns(), name, script, std::move(extra), image);
  }
  static json& PodSpec(json& batch) { return batch["spec"]["jobSpec"]["template"]["spec"]; }
  static json& Main(json& batch) { return PodSpec(batch)["containers"][0]; }

  json Pods(const std::string& batch) { return List("pods", "weir.dev/batch=" + batch); }

  // The containers containerd holds for pods of this test's namespace
  // (optionally only those named `container`).
  std::vector<std::string> ContainersInNamespace(const std::string& container = "") {
    std::vector<std::pair<std::string, std::string>> labels = {
        {"io.kubernetes.pod.namespace", ns()}};
    if (!container.empty()) labels.emplace_back("io.kubernetes.container.name", container);
    absl::StatusOr<std::vector<std::string>> ids = containerd_->Containers(labels);
    EXPECT_TRUE(ids.ok()) << ids.status();
    return ids.ok() ? *ids : std::vector<std::string>{"<ctr failed>"};
  }

  // `kubectl logs` of the main container of the Batch's pod of `attempt`.
  std::string Logs(const std::string& batch, int attempt) {
    json pods = List("pods", absl::StrCat("weir.dev/batch=", batch, ",weir.dev/attempt=", attempt));
    if (pods.empty()) return "<no pod>";
    absl::StatusOr<std::string> out =
        kubectl().Run({"logs", "-n", ns(), pods[0]["metadata"]["name"], "-c", "main"});
    return out.ok() ? *out : std::string(out.status().message());
  }

  // Waits until the Batch's pod has its main container running.
  void WaitMainRunning(const std::string& batch) {
    json pods;
    bool ok = Eventually(
        [&] {
          pods = Pods(batch);
          if (pods.empty()) return false;
          for (const json& c : pods[0]["status"].value("containerStatuses", json::array())) {
            if (c.value("name", "") == "main" && c["state"].contains("running")) return true;
          }
          return false;
        },
        absl::Seconds(60));
    ASSERT_TRUE(ok) << "main never ran: " << pods.dump();
  }

  std::optional<Containerd> containerd_;
};

TEST_F(RealityTest, ExitCodesAreTheProcesses) {
  Apply(Batch("exit-0", "echo real output from $(hostname); exit 0"));
  Apply(Batch("exit-3", "echo about to fail; exit 3"));
  json ok = WaitForPhase("batches.weir.dev", "exit-0", "Succeeded", absl::Seconds(90));
  EXPECT_EQ(ok["status"]["exitCode"], 0);
  EXPECT_THAT(Logs("exit-0", 1), HasSubstr("real output from exit-0-"))
      << "kubectl logs prints what the process printed";
  json failed = WaitForPhase("batches.weir.dev", "exit-3", "Failed", absl::Seconds(90));
  EXPECT_EQ(failed["status"]["exitCode"], 3);
  EXPECT_EQ(failed["status"]["terminationReason"], "Error");
  EXPECT_THAT(Logs("exit-3", 1), HasSubstr("about to fail"));
}

TEST_F(RealityTest, KernelOomKillIsKilledAndRetriedWithMoreMemory) {
  // dd's 64 MiB block is really allocated and touched: the kernel kills it
  // under a 32Mi limit; the retry's 128Mi is enough.
  json batch = Batch("oom", "dd if=/dev/zero of=/dev/null bs=64M count=1 && echo done",
                     {{"retry",
                       {{"limit", 1},
                        {"backoffSeconds", 1},
                        {"onOOM", {{"memoryFactor", 4.0}, {"maxMemory", "256Mi"}}}}}});
  Main(batch)["resources"]["limits"]["memory"] = "32Mi";
  Apply(batch);
  json b = WaitForPhase("batches.weir.dev", "oom", "Succeeded", absl::Seconds(120));
  const json& attempts = b["status"]["attempts"];
  ASSERT_EQ(attempts.size(), 2u) << b["status"].dump();
  EXPECT_EQ(attempts[0]["phase"], "Killed");
  EXPECT_EQ(attempts[0]["terminationReason"], "OOMKilled");
  EXPECT_EQ(attempts[0]["exitCode"], 137);
  EXPECT_EQ(attempts[0]["memoryLimit"], "32Mi");
  EXPECT_THAT(attempts[0].value("message", ""), HasSubstr("resources.limits.memory"));
  EXPECT_EQ(attempts[1]["phase"], "Succeeded");
  EXPECT_EQ(attempts[1]["memoryLimit"], "128Mi");
  EXPECT_THAT(Logs("oom", 2), HasSubstr("done"));
}

TEST_F(RealityTest, CancelStopsTheProcessWithItsStopSignal) {
  // SIGTERM trapped: exit 143.
  Apply(Batch("term", kRunUntilTerm));
  // SIGTERM ignored: SIGKILL after the 2 s grace period, exit 137, reason Error.
  json ignore = Batch("ignore-term", "trap '' TERM; while true; do sleep 1; done");
  PodSpec(ignore)["terminationGracePeriodSeconds"] = 2;
  Apply(ignore);
  // The image's StopSignal is SIGINT (seed 002): exit 130.
  Apply(Batch("sigint", "trap 'exit 130' INT; while true; do sleep 1; done", json::object(),
              kBusyboxSigintImage));
  for (const char* name : {"term", "ignore-term", "sigint"}) WaitMainRunning(name);
  for (const char* name : {"term", "ignore-term", "sigint"}) {
    Patch("batches.weir.dev", name, {{"spec", {{"cancel", true}}}});
  }
  const std::vector<std::pair<std::string, int>> expected = {
      {"term", 143}, {"ignore-term", 137}, {"sigint", 130}};
  for (const auto& [name, code] : expected) {
    json b = WaitForPhase("batches.weir.dev", name, "Canceled", absl::Seconds(90));
    ASSERT_EQ(b["status"]["attempts"].size(), 1u) << b.dump();
    EXPECT_EQ(b["status"]["attempts"][0]["phase"], "Canceled") << name;
    EXPECT_EQ(b["status"]["attempts"][0]["exitCode"], code) << name << ": " << b.dump();
    EXPECT_EQ(b["status"]["terminationReason"], "Canceled") << name;
  }
}

TEST_F(RealityTest, AnImageNeverImportedFailsAfterTheGraceWithTheKubeletsMessage) {
  Apply(Batch("no-image", "exit 0", {{"imagePullGraceSeconds", 5}}, "localhost/never-imported:v1"));
  json b = WaitForPhase("batches.weir.dev", "no-image", "Failed", absl::Seconds(120));
  EXPECT_THAT(b["status"].value("terminationReason", ""),
              AnyOf("ErrImagePull", "ImagePullBackOff"));
  EXPECT_THAT(b["status"].value("message", ""), HasSubstr("localhost/never-imported:v1"))
      << "the kubelet's message names the image";
  EXPECT_EQ(b["status"]["attempts"].size(), 1u) << "an image error is not retried";
}

TEST_F(RealityTest, OnlyTheMainContainerDecidesBesideRealSidecars) {
  // A native sidecar (an init container that always restarts) runs beside main.
  json native = Batch("native-sidecar", "sleep 1; exit 0");
  PodSpec(native)["initContainers"] = json::array({{{"name", "proxy"},
                                                    {"image", kBusyboxImage},
                                                    {"restartPolicy", "Always"},
                                                    {"command", {"sh", "-c", kRunUntilTerm}}}});
  Apply(native);
  // A classic sidecar that never ends, beside a main that fails.
  json classic = Batch("classic-sidecar", "sleep 1; exit 4");
  PodSpec(classic)["containers"].push_back(
      {{"name", "shipper"}, {"image", kBusyboxImage}, {"command", {"sh", "-c", kRunUntilTerm}}});
  Apply(classic);
  json ok = WaitForPhase("batches.weir.dev", "native-sidecar", "Succeeded", absl::Seconds(90));
  EXPECT_EQ(ok["status"]["exitCode"], 0);
  json failed = WaitForPhase("batches.weir.dev", "classic-sidecar", "Failed", absl::Seconds(90));
  EXPECT_EQ(failed["status"]["exitCode"], 4) << "main's exit code, not the sidecar's";
}

TEST_F(RealityTest, ActiveDeadlineIsDeadlineExceeded) {
  json batch = Batch("deadline", kRunUntilTerm);
  batch["spec"]["jobSpec"]["activeDeadlineSeconds"] = 3;
  Apply(batch);
  json b = WaitForPhase("batches.weir.dev", "deadline", "Failed", absl::Seconds(90));
  EXPECT_EQ(b["status"]["terminationReason"], "DeadlineExceeded") << b["status"].dump();
}

TEST_F(RealityTest, AnEvictionIsADisruptionNotCountedAgainstTheLimit) {
  // Attempt 1 runs until evicted; attempt 2 succeeds. With limit 0 a counted
  // failure would end the Batch after attempt 1.
  Apply(Batch("evicted",
              absl::StrCat("if [ \"$WEIR_ATTEMPT\" = 1 ]; then ", kRunUntilTerm, "; fi; exit 0"),
              {{"retry", {{"limit", 0}, {"backoffSeconds", 1}}}}));
  WaitMainRunning("evicted");
  std::string pod = Pods("evicted")[0]["metadata"]["name"];
  json eviction = {{"apiVersion", "policy/v1"},
                   {"kind", "Eviction"},
                   {"metadata", {{"name", pod}, {"namespace", ns()}}}};
  absl::StatusOr<std::string> out = kubectl().Run(
      {"create", "--raw", absl::StrCat("/api/v1/namespaces/", ns(), "/pods/", pod, "/eviction"),
       "-f", "-"},
      eviction.dump());
  ASSERT_TRUE(out.ok()) << out.status();
  json b = WaitForPhase("batches.weir.dev", "evicted", "Succeeded", absl::Seconds(120));
  const json& attempts = b["status"]["attempts"];
  ASSERT_EQ(attempts.size(), 2u) << b["status"].dump();
  EXPECT_EQ(attempts[0]["phase"], "Killed");
  EXPECT_EQ(attempts[0]["terminationReason"], "Evicted");
  EXPECT_EQ(attempts[1]["phase"], "Succeeded");
}

TEST_F(RealityTest, CancelWhileThePodIsCreatedStartsNoMainContainer) {
  // A slow init container keeps the pod being created; the cancel comes while
  // it runs, and main must never be created after that.
  json batch = Batch("cancel-creating", "echo main started; exit 0");
  PodSpec(batch)["initContainers"] = json::array(
      {{{"name", "setup"}, {"image", kBusyboxImage}, {"command", {"sh", "-c", "sleep 8"}}}});
  Apply(batch);
  ASSERT_TRUE(
      Eventually([&] { return ContainersInNamespace("setup").size() == 1; }, absl::Seconds(60)))
      << "the init container never started";
  Patch("batches.weir.dev", "cancel-creating", {{"spec", {{"cancel", true}}}});
  // Watch containerd until the Batch is Canceled and its pod gone.
  json b;
  bool done = Eventually(
      [&] {
        EXPECT_TRUE(ContainersInNamespace("main").empty()) << "main was created after the cancel";
        b = Get("batches.weir.dev", "cancel-creating");
        return Phase(b) == "Canceled" && Pods("cancel-creating").empty();
      },
      absl::Seconds(90));
  ASSERT_TRUE(done) << b.dump();
  EXPECT_EQ(b["status"]["terminationReason"], "Canceled");
  std::this_thread::sleep_for(std::chrono::seconds(10));  // past the init container's end
  EXPECT_TRUE(ContainersInNamespace("main").empty());
}

TEST_F(RealityTest, IdleReleaseAndDeleteLeaveNoContainer) {
  Apply(Batch("released", "exit 0", {{"idleTimeoutSeconds", 2}}));
  Apply(Batch("deleted", kRunUntilTerm));
  WaitForPhase("batches.weir.dev", "released", "Succeeded", absl::Seconds(90));
  WaitMainRunning("deleted");
  absl::StatusOr<std::string> out = kubectl().Run(
      {"delete", "batches.weir.dev", "deleted", "-n", ns(), "--wait=true", "--timeout=90s"});
  ASSERT_TRUE(out.ok()) << out.status();
  bool clean = Eventually(
      [&] {
        return Pods("released").empty() && Pods("deleted").empty() &&
               ContainersInNamespace().empty();
      },
      absl::Seconds(90));
  EXPECT_TRUE(clean) << "containerd still holds: "
                     << ::testing::PrintToString(ContainersInNamespace());
  EXPECT_EQ(Phase(Get("batches.weir.dev", "released")), "Succeeded") << "the record stays";
}

TEST_F(RealityTest, AFlowOnRealContainersWithAStepCanceled) {
  json pod_spec = {{"containers", json::array({{{"name", "step"},
                                                {"image", kBusyboxImage},
                                                {"command", {"sh", "-c", "exit 0"}}}})}};
  OnRealNode(pod_spec);
  Apply({{"apiVersion", "weir.dev/v1alpha1"},
         {"kind", "JobTemplate"},
         {"metadata", {{"name", "real"}}},
         {"spec", {{"jobSpec", {{"template", {{"spec", pod_spec}}}}}}}});
  auto step = [](const std::string& name, const std::string& script, json deps) {
    json s = {{"name", name},
              {"template", "real"},
              {"patch",
               {{"template",
                 {{"spec",
                   {{"containers",
                     json::array({{{"name", "step"}, {"command", {"sh", "-c", script}}}})}}}}}}}};
    if (!deps.empty()) s["dependsOn"] = deps;
    return s;
  };
  json after_a = json::array({{{"step", "a"}}});
  Apply({{"apiVersion", "weir.dev/v1alpha1"},
         {"kind", "JobFlow"},
         {"metadata", {{"name", "flow"}}},
         {"spec",
          {{"steps", json::array({step("a", "echo a; exit 0", json::array()),
                                  step("b", kRunUntilTerm, after_a),
                                  step("c", "echo c; exit 0", after_a)})}}}});
  auto step_phase = [&](const std::string& name) {
    json f = Get("jobflows.weir.dev", "flow");
    for (const json& s : f.value("status", json::object()).value("steps", json::array())) {
      if (s.value("name", "") == name) return s.value("phase", "");
    }
    return std::string();
  };
  ASSERT_TRUE(Eventually([&] { return step_phase("b") == "Running"; }, absl::Seconds(90)));
  json flow = Get("jobflows.weir.dev", "flow");
  json steps = flow["spec"]["steps"];
  steps[1]["cancel"] = true;
  Patch("jobflows.weir.dev", "flow", {{"spec", {{"steps", steps}}}});
  json f = WaitForPhase("jobflows.weir.dev", "flow", "Succeeded", absl::Seconds(120));
  EXPECT_EQ(step_phase("a"), "Succeeded");
  EXPECT_EQ(step_phase("b"), "Canceled");
  EXPECT_EQ(step_phase("c"), "Succeeded");
  for (const json& s : f["status"]["steps"]) {
    if (s["name"] == "b") {
      EXPECT_EQ(s["attempts"][0]["exitCode"], 143) << s.dump();
    }
  }
}

}  // namespace
}  // namespace weir::e2e
