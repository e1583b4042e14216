// weir on the real node (issue 11): real processes under kubelet, containerd
// and runc, so exit codes, the kernel's OOM killer, stop signals, image-pull
// errors and deletion grace are the real ones, not kwok's Stages. Busybox
// scripts are enough. containerd's own ctr is a second witness: what ran, and
// that nothing is left behind.
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
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
using ::testing::HasSubstr;

// A process that runs until it is stopped, and ends 143 on SIGTERM.
constexpr char kRunUntilTerm[] = "trap 'exit 143' TERM; while true; do sleep 1; done";

class RealityTest : public ControllerFixture {
 protected:
  // The oracle's rules have not been checked against real kubelet histories
  // yet (the real node cannot run in a second control plane on one machine).
  RealityTest() : ControllerFixture({}, /*oracle=*/false) {}

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

  // Asks the Eviction API to evict `pod`, as `kubectl drain` does.
  void Evict(const std::string& pod) {
    json eviction = {{"apiVersion", "policy/v1"},
                     {"kind", "Eviction"},
                     {"metadata", {{"name", pod}, {"namespace", ns()}}}};
    absl::StatusOr<std::string> out = kubectl().Run(
        {"create", "--raw", absl::StrCat("/api/v1/namespaces/", ns(), "/pods/", pod, "/eviction"),
         "-f", "-"},
        eviction.dump());
    ASSERT_TRUE(out.ok()) << out.status();
  }

  static bool IsTerminalPhase(const std::string& phase) {
    return phase == "Succeeded" || phase == "Failed" || phase == "Killed" || phase == "Canceled";
  }

  std::optional<Containerd> containerd_;
};

// One scenario of the differential table: the same Batch twice, once on the
// real node (a script) and once on kwok (sim.weir.dev annotations), and the
// weir-visible result both must reach.
struct Scenario {
  std::string name;
  std::string script;                 // the real main container's `sh -c`
  json sim = json::object();          // the simulated pod's annotations
  json spec = json::object();         // merged into both Batches' spec (retry, grace, ...)
  json job = json::object();          // merged into both JobSpecs
  json pod = json::object();          // merged into both pod specs
  std::string image = kBusyboxImage;  // the real main container's image
  std::string memory = "64Mi";        // both main containers' memory limit
  enum class Act { kNothing, kCancel, kEvict } act = Act::kNothing;
  // What weir must report: "phase reason exit|phase reason exit|..." for the
  // Batch and then each attempt.
  std::string expected;
  // A part of the real Batch's status.message (the kubelet's own words).
  std::string real_message;
};

// The weir-visible result: "<phase> <reason> <exit>" of the Batch, then of
// each attempt, joined by '|'. Image-pull reasons read as one: which of the
// two the kubelet shows when the grace ends is a matter of timing.
std::string Result(const json& batch) {
  auto one = [](const json& o) {
    std::string reason = o.value("terminationReason", "");
    if (reason == "ErrImagePull" || reason == "ImagePullBackOff") reason = "ImagePull";
    std::string code = o.contains("exitCode") ? o["exitCode"].dump() : "-";
    return absl::StrCat(o.value("phase", ""), " ", reason.empty() ? "-" : reason, " ", code);
  };
  const json& status = batch.value("status", json::object());
  std::string out = one(status);
  for (const json& a : status.value("attempts", json::array())) absl::StrAppend(&out, "|", one(a));
  return out;
}

// GCC 12 warns about designated initializers that leave members to their
// default member initializers, which is the point of them here.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
const std::vector<Scenario>& Scenarios() {
  using Act = Scenario::Act;
  static const auto* scenarios = new std::vector<Scenario>{
      {.name = "exit-0",
       .script = "echo hello; exit 0",
       .sim = {{"sim.weir.dev/outcome", "Succeeded"}},
       .expected = "Succeeded Completed 0|Succeeded Completed 0"},
      {.name = "exit-3",
       .script = "exit 3",
       .sim = {{"sim.weir.dev/outcome", "Failed"}, {"sim.weir.dev/exit-code", "3"}},
       .expected = "Failed Error 3|Failed Error 3"},
      // dd's 64 MiB block is really allocated: the kernel kills it under 32Mi;
      // the retry's 128Mi is enough.
      {.name = "oom-retry",
       .script = "dd if=/dev/zero of=/dev/null bs=64M count=1",
       .sim = {{"sim.weir.dev/outcome-attempt-1", "OOMKilled"},
               {"sim.weir.dev/outcome-attempt-2", "Succeeded"}},
       .spec = {{"retry",
                 {{"limit", 1},
                  {"backoffSeconds", 1},
                  {"onOOM", {{"memoryFactor", 4.0}, {"maxMemory", "256Mi"}}}}}},
       .memory = "32Mi",
       .expected = "Succeeded Completed 0|Killed OOMKilled 137|Succeeded Completed 0"},
      {.name = "cancel-term",
       .script = kRunUntilTerm,
       .sim = {{"sim.weir.dev/outcome", "Hang"}},
       .act = Act::kCancel,
       .expected = "Canceled Canceled 143|Canceled Canceled 143"},
      // The image's StopSignal is SIGINT (seed 002).
      {.name = "cancel-sigint",
       .script = "trap 'exit 130' INT; while true; do sleep 1; done",
       .sim = {{"sim.weir.dev/outcome", "Hang"}, {"sim.weir.dev/stop-exit-code", "130"}},
       .image = kBusyboxSigintImage,
       .act = Act::kCancel,
       .expected = "Canceled Canceled 130|Canceled Canceled 130"},
      // SIGTERM ignored: SIGKILL after the grace period, still Canceled.
      {.name = "cancel-ignore-term",
       .script = "trap '' TERM; while true; do sleep 1; done",
       .sim = {{"sim.weir.dev/outcome", "Hang"}, {"sim.weir.dev/stop-exit-code", "137"}},
       .pod = {{"terminationGracePeriodSeconds", 2}},
       .act = Act::kCancel,
       .expected = "Canceled Canceled 137|Canceled Canceled 137"},
      {.name = "no-image",
       .script = "exit 0",
       .sim = {{"sim.weir.dev/outcome", "ImagePullBackOff"}},
       .spec = {{"imagePullGraceSeconds", 5}},
       .image = "localhost/never-imported:v1",
       .expected = "Failed ImagePull -|Failed ImagePull -",
       .real_message = "localhost/never-imported:v1"},
      {.name = "deadline",
       .script = kRunUntilTerm,
       .sim = {{"sim.weir.dev/outcome", "Hang"}},
       .job = {{"activeDeadlineSeconds", 4}},
       .expected = "Failed DeadlineExceeded -|Failed DeadlineExceeded -"},
      // Attempt 1 runs until evicted; with limit 0 a counted failure would end
      // the Batch there.
      {.name = "evicted",
       .script = absl::StrCat("if [ \"$WEIR_ATTEMPT\" = 1 ]; then ", kRunUntilTerm, "; fi"),
       .sim = {{"sim.weir.dev/outcome-attempt-1", "Hang"},
               {"sim.weir.dev/outcome-attempt-2", "Succeeded"}},
       .spec = {{"retry", {{"limit", 0}, {"backoffSeconds", 1}}}},
       .act = Act::kEvict,
       .expected = "Succeeded Completed 0|Killed Evicted 143|Succeeded Completed 0"},
      // A classic sidecar that never ends beside a main that fails: main decides.
      {.name = "sidecar",
       .script = "sleep 1; exit 4",
       .sim = {{"sim.weir.dev/outcome", "Failed"},
               {"sim.weir.dev/exit-code", "4"},
               {"sim.weir.dev/outcome-container-shipper", "Hang"}},
       .pod = {{"containers", json::array({json::object(),
                                           {{"name", "shipper"},
                                            {"image", kBusyboxImage},
                                            {"command", {"sh", "-c", kRunUntilTerm}}}})}},
       .expected = "Failed Error 4|Failed Error 4"},
  };
  return *scenarios;
}
#pragma GCC diagnostic pop

TEST_F(RealityTest, TheSimulationAgreesWithTheRealNode) {
  // Both variants of every scenario run at once.
  auto variants = [](const Scenario& s) {
    return std::vector<std::string>{s.name + "-real", s.name + "-sim"};
  };
  for (const Scenario& s : Scenarios()) {
    json real = Batch(s.name + "-real", s.script, s.spec, s.image);
    json sim = SimulatedBatch(ns(), s.name + "-sim",
                              s.sim.value("sim.weir.dev/outcome", "Succeeded"), s.spec, s.sim);
    for (json* b : {&real, &sim}) {
      json& job = (*b)["spec"]["jobSpec"];
      job.update(s.job);
      json& pod = PodSpec(*b);
      pod["containers"][0]["resources"]["limits"]["memory"] = s.memory;
      for (const auto& [key, value] : s.pod.items()) {
        if (key != "containers") {
          pod[key] = value;
          continue;
        }
        for (size_t i = 1; i < value.size(); ++i) {
          json c = value[i];
          if (b == &sim) c["image"] = "busybox:1.36";  // kwok runs nothing
          pod["containers"].push_back(c);
        }
      }
      Apply(*b);
    }
  }
  for (const Scenario& s : Scenarios()) {
    if (s.act == Scenario::Act::kNothing) continue;
    for (const std::string& name : variants(s)) {
      WaitMainRunning(name);
      if (s.act == Scenario::Act::kCancel) {
        Patch("batches.weir.dev", name, {{"spec", {{"cancel", true}}}});
      } else {
        Evict(Pods(name)[0]["metadata"]["name"]);
      }
    }
  }
  for (const Scenario& s : Scenarios()) {
    std::vector<std::string> results;
    for (const std::string& name : variants(s)) {
      json b;
      ASSERT_TRUE(Eventually(
          [&] {
            b = Get("batches.weir.dev", name);
            return IsTerminalPhase(Phase(b));
          },
          absl::Seconds(120)))
          << name << " never ended: " << b.dump();
      results.push_back(Result(b));
      if (results.back() != s.expected) {
        // What weir's planner saw, for the record: the attempts' Jobs.
        for (const json& job : List("jobs", "weir.dev/batch=" + name)) {
          std::fprintf(stderr, "%s job %s: %s %s\n", name.c_str(),
                       job["metadata"].value("name", "").c_str(), job["spec"].dump().c_str(),
                       job.value("status", json::object()).dump().c_str());
        }
      }
      EXPECT_EQ(results.back(), s.expected) << name << ": " << b["status"].dump();
      if (absl::EndsWith(name, "-real")) {
        EXPECT_THAT(b["status"].value("message", ""), HasSubstr(s.real_message)) << name;
      }
    }
    EXPECT_EQ(results[0], results[1]) << s.name << ": the real node and kwok disagree";
  }
}

// `make run`'s examples, as a newcomer sees them: real processes, and the OOM
// example really killed by the kernel until its memory is enough.
TEST_F(RealityTest, TheExamplesRunForReal) {
  absl::StatusOr<std::string> out =
      kubectl().Run({"apply", "-n", ns(), "-f", WEIR_SOURCE_DIR "/examples/"});
  ASSERT_TRUE(out.ok()) << out.status();
  json hello = WaitForPhase("batches.weir.dev", "hello", "Succeeded", absl::Seconds(90));
  EXPECT_THAT(Logs("hello", 1), HasSubstr("hello from weir on hello-1-"));
  json train = WaitForPhase("batches.weir.dev", "train", "Succeeded", absl::Seconds(180));
  EXPECT_EQ(Result(train),
            "Succeeded Completed 0|Killed OOMKilled 137|Killed OOMKilled 137|Succeeded Completed 0")
      << train["status"].dump();
  std::vector<std::string> limits;
  for (const json& a : train["status"]["attempts"]) limits.push_back(a.value("memoryLimit", ""));
  EXPECT_THAT(limits, ::testing::ElementsAre("32Mi", "64Mi", "128Mi"));
  json flow = WaitForPhase("jobflows.weir.dev", "diamond", "Succeeded", absl::Seconds(180));
  EXPECT_EQ(flow["status"]["progress"], "4/4");
}

TEST_F(RealityTest, AnEndedPodStaysForKubectlLogs) {
  // A real kubelet writes the container's end before the pod's phase; the Job
  // and pod must stay until the idle timeout, not go at once.
  Apply(Batch("kept", "echo kept output; exit 0"));
  WaitForPhase("batches.weir.dev", "kept", "Succeeded", absl::Seconds(90));
  std::this_thread::sleep_for(std::chrono::seconds(5));
  EXPECT_EQ(Pods("kept").size(), 1u) << "the ended pod was deleted before the idle timeout";
  EXPECT_THAT(Logs("kept", 1), HasSubstr("kept output"));
}

TEST_F(RealityTest, RealOutputAndTheOomMessage) {
  json batch = Batch("oom", "echo allocating; dd if=/dev/zero of=/dev/null bs=64M count=1");
  Main(batch)["resources"]["limits"]["memory"] = "32Mi";
  Apply(batch);
  json b = WaitForPhase("batches.weir.dev", "oom", "Killed", absl::Seconds(90));
  EXPECT_EQ(b["status"]["terminationReason"], "OOMKilled");
  EXPECT_THAT(b["status"].value("message", ""), HasSubstr("main"));
  EXPECT_THAT(b["status"].value("message", ""), HasSubstr("32Mi"));
  EXPECT_THAT(b["status"].value("message", ""), HasSubstr("retry.onOOM"));
  EXPECT_THAT(Logs("oom", 1), HasSubstr("allocating"))
      << "kubectl logs prints what the real process printed";
}

TEST_F(RealityTest, ANativeSidecarDoesNotDecide) {
  // An init container that always restarts runs beside main until main ends.
  json native = Batch("native-sidecar", "sleep 1; exit 0");
  PodSpec(native)["initContainers"] = json::array({{{"name", "proxy"},
                                                    {"image", kBusyboxImage},
                                                    {"restartPolicy", "Always"},
                                                    {"command", {"sh", "-c", kRunUntilTerm}}}});
  Apply(native);
  json ok = WaitForPhase("batches.weir.dev", "native-sidecar", "Succeeded", absl::Seconds(90));
  EXPECT_EQ(ok["status"]["exitCode"], 0);
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

// The image-pull grace counts from the first pull error, not from the pod's
// start: an init container that runs longer than the grace must not make the
// main container's first pull error fatal at once.
TEST_F(RealityTest, ImagePullGraceCountsFromTheFirstPullError) {
  constexpr int kInitSeconds = 10;
  constexpr int kGraceSeconds = 6;
  json batch = Batch("late-pull", "exit 0", {{"imagePullGraceSeconds", kGraceSeconds}},
                     "localhost/never-imported:v1");
  PodSpec(batch)["initContainers"] =
      json::array({{{"name", "setup"},
                    {"image", kBusyboxImage},
                    {"command", {"sh", "-c", absl::StrCat("sleep ", kInitSeconds)}}}});
  Apply(batch);
  json b = WaitForPhase("batches.weir.dev", "late-pull", "Failed", absl::Seconds(90));
  const json& attempt = b["status"]["attempts"][0];
  EXPECT_THAT(attempt.value("terminationReason", ""),
              testing::AnyOf("ErrImagePull", "ImagePullBackOff"));
  const absl::Time created = CreationTime(b);
  const absl::Time waiting = Timestamp(attempt.value("waitingSince", json()));
  const absl::Time failed = Timestamp(attempt.value("completionTime", json()));
  // Timestamps have 1 s resolution.
  EXPECT_GE(waiting - created, absl::Seconds(kInitSeconds - 1)) << b["status"].dump();
  EXPECT_GE(failed - waiting, absl::Seconds(kGraceSeconds)) << b["status"].dump();
  EXPECT_THAT(b["status"].value("message", ""), HasSubstr("localhost/never-imported:v1"));
}

// containerd refuses to create a container with no command: a real
// CreateContainerError, which fails the attempt after the grace with the
// runtime's words.
TEST_F(RealityTest, ARealCreateContainerErrorFailsAfterTheGrace) {
  json batch = Batch("no-command", "", {{"imagePullGraceSeconds", 4}}, kNoCommandImage);
  Main(batch).erase("command");
  Apply(batch);
  json b = WaitForPhase("batches.weir.dev", "no-command", "Failed", absl::Seconds(90));
  EXPECT_EQ(b["status"]["terminationReason"], "CreateContainerError");
  EXPECT_THAT(b["status"].value("message", ""), HasSubstr("no command specified"));
  EXPECT_FALSE(b["status"]["attempts"][0].contains("exitCode"));
}

// A missing ConfigMap is a CreateContainerConfigError that a user fixes by
// creating it: within the grace the attempt waits, then runs for real.
TEST_F(RealityTest, AConfigErrorFixedWithinTheGraceRuns) {
  json batch = Batch("needs-settings", "echo \"mode=$MODE\"", {{"imagePullGraceSeconds", 120}});
  Main(batch)["env"] = json::array(
      {{{"name", "MODE"},
        {"valueFrom", {{"configMapKeyRef", {{"name", "settings"}, {"key", "mode"}}}}}}});
  Apply(batch);
  json b;
  ASSERT_TRUE(Eventually(
      [&] {
        b = Get("batches.weir.dev", "needs-settings");
        // (No status yet right after the create.)
        return b.value("status", json::object()).value("terminationReason", "") ==
               "CreateContainerConfigError";
      },
      absl::Seconds(60)))
      << b.dump();
  EXPECT_EQ(Phase(b), "Pending");
  EXPECT_THAT(b["status"].value("message", ""), HasSubstr("configmap \"settings\" not found"));
  EXPECT_TRUE(b["status"]["attempts"][0].contains("waitingSince")) << b["status"].dump();
  Apply({{"apiVersion", "v1"},
         {"kind", "ConfigMap"},
         {"metadata", {{"name", "settings"}, {"namespace", ns()}}},
         {"data", {{"mode", "fast"}}}});
  b = WaitForPhase("batches.weir.dev", "needs-settings", "Succeeded", absl::Seconds(90));
  EXPECT_EQ(b["status"]["attempts"].size(), 1u);
  EXPECT_FALSE(b["status"]["attempts"][0].contains("waitingSince")) << b["status"].dump();
  EXPECT_THAT(Logs("needs-settings", 1), HasSubstr("mode=fast"));
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
      absl::Seconds(150));
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
