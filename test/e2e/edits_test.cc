// Edits of a running JobFlow (issue 18) on the real control plane, under the
// oracle. Each edit weir cannot carry out is refused by the CRD's rules; the
// same edit with those rules removed (a CRD from an older release, a cluster
// without CEL) must be carried out honestly: the step the spec lost is
// canceled, its Jobs deleted and its record kept, and the flow never ends
// while one of its pods runs. ctest runs this alone (SERIAL): it changes the
// cluster-wide CRD and puts it back.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/e2e/support/batch_objects.h"
#include "test/e2e/support/controller_fixture.h"
#include "test/e2e/support/eventually.h"

namespace weir::e2e {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

constexpr char kBatches[] = "batches.weir.dev";
constexpr char kFlows[] = "jobflows.weir.dev";

class EditsTest : public ControllerFixture {
 protected:
  // The condition `type` of `flow` (null if absent).
  static json Condition(const json& flow, const std::string& type) {
    const json status = flow.value("status", json::object());  // none before the first write
    for (const json& c : status.value("conditions", json::array())) {
      if (c.value("type", "") == type) return c;
    }
    return json();
  }

  // Flow `name`: step a plays a pod that runs until stopped, b follows it.
  void StartFlowWithAHangingStep(const std::string& name) {
    Apply(Template("work"));
    Apply(Flow(name,
               {Step("a", "work", {}, Plays("Hang")), Step("b", "work", {{"a", "Succeeded"}})}));
    ASSERT_TRUE(Eventually(
        [&] { return StepStatus(Get(kFlows, name), "a").value("phase", "") == "Running"; },
        absl::Seconds(60)));
  }

  // The spec edit of the issue: a replaced by x, b now after x.
  absl::Status ReplaceAByX(const std::string& name) {
    const json steps = json::array(
        {Step("x", "work", {}, Plays("Succeeded")), Step("b", "work", {{"x", "Succeeded"}})});
    return kubectl()
        .Run({"patch", kFlows, name, "-n", ns(), "--type=merge", "-p",
              json({{"spec", {{"steps", steps}}}}).dump()})
        .status();
  }
};

// Waits until the API server judges JobFlow edits by the CRD as it is now
// (`rules` in force or not): a probe flow in namespace default whose status
// lists an attempt of step a, and a dry-run edit that removes a. The
// validation and the watches of a CRD change together, so watches started
// afterwards are not ended by the change.
void WaitForEditRules(bool rules) {
  const Kubectl kubectl = *Kubectl::FromEnv();
  const json probe = Flow("weir-edits-probe", {Step("a", "work")});
  ASSERT_TRUE(kubectl.Run({"apply", "-n", "default", "-f", "-"}, probe.dump()).ok());
  ASSERT_TRUE(
      kubectl
          .Run(
              {"patch", kFlows, "weir-edits-probe", "-n", "default", "--subresource=status",
               "--type=merge", "-p",
               R"({"status":{"steps":[{"name":"a","template":"work","attempts":[{"attempt":1}]}]}})"})
          .ok());
  const bool agreed = Eventually(
      [&] {
        const bool accepted = kubectl
                                  .Run({"patch", kFlows, "weir-edits-probe", "-n", "default",
                                        "--dry-run=server", "--type=merge", "-p",
                                        R"({"spec":{"steps":[{"name":"x","template":"work"}]}})"})
                                  .ok();
        return accepted != rules;
      },
      absl::Seconds(30));
  EXPECT_TRUE(agreed) << "the API server did not take up the CRD change";
  (void)kubectl.Run({"patch", kFlows, "weir-edits-probe", "-n", "default", "--type=merge", "-p",
                     R"({"metadata":{"finalizers":null}})"});
  (void)kubectl.Run({"delete", kFlows, "weir-edits-probe", "-n", "default", "--wait=false"});
}

// The edits with the JobFlow CRD's object-level rules (those that judge
// edits against the status) removed for the test's length: a CRD change ends
// every watch of it, so the change is made, and taken up, before the
// oracle's watches start, and undone after they end.
class EditsPastTheSchemaTest : public EditsTest {
 protected:
  void SetUp() override {
    absl::StatusOr<std::string> patched = Kubectl::FromEnv()->Run(
        {"patch", "crd", kFlows, "--type=json", "-p",
         R"([{"op":"remove","path":"/spec/versions/0/schema/openAPIV3Schema/x-kubernetes-validations"}])"});
    ASSERT_TRUE(patched.ok()) << patched.status();
    WaitForEditRules(false);
    EditsTest::SetUp();
  }
  void TearDown() override {
    EditsTest::TearDown();
    absl::StatusOr<std::string> restored =
        Kubectl::FromEnv()->Run({"apply", "--server-side", "--force-conflicts", "-f",
                                 WEIR_SOURCE_DIR "/crds/weir.dev_jobflows.yaml"});
    EXPECT_TRUE(restored.ok()) << "the JobFlow CRD was not restored: " << restored.status();
    WaitForEditRules(true);
  }
};

TEST_F(EditsTest, ReplacingAStartedStepIsRefusedAtApply) {
  StartFlowWithAHangingStep("swap");
  const absl::Status edit = ReplaceAByX("swap");
  ASSERT_FALSE(edit.ok()) << "the API server accepted removing a started step";
  EXPECT_THAT(std::string(edit.message()), HasSubstr("spec.steps"));
  EXPECT_THAT(std::string(edit.message()), HasSubstr("a step that has started"));
  const json flow = Get(kFlows, "swap");
  EXPECT_EQ(flow["spec"]["steps"][0]["name"], "a") << "nothing of the edit was stored";
  EXPECT_EQ(StepStatus(flow, "a")["phase"], "Running");
}

// The issue's scenario with the rules removed. Before the fix, weir ran x
// and b, reported the flow Succeeded "all 2 steps done", and step a's pod ran
// on, orphaned.
TEST_F(EditsPastTheSchemaTest, AStartedStepRemovedIsCanceledAndKept) {
  StartFlowWithAHangingStep("swap");
  ASSERT_TRUE(ReplaceAByX("swap").ok());

  const json flow = WaitForPhase(kFlows, "swap", "Succeeded", absl::Seconds(90));
  // Nothing of the flow runs once it is terminal.
  for (const json& pod : List("pods", "weir.dev/flow=swap")) {
    const std::string phase = pod["status"].value("phase", "");
    EXPECT_TRUE(phase == "Succeeded" || phase == "Failed")
        << "pod " << pod["metadata"]["name"] << " is " << phase << " under a Succeeded flow";
  }
  for (const json& job : List("jobs", "weir.dev/flow=swap,weir.dev/step=a")) {
    EXPECT_TRUE(job["metadata"].contains("deletionTimestamp"))
        << "step a's Job " << job["metadata"]["name"] << " was not deleted";
  }
  const json a = StepStatus(flow, "a");
  ASSERT_FALSE(a.empty()) << "step a's record was dropped: " << flow["status"].dump();
  EXPECT_EQ(a["phase"], "Canceled");
  EXPECT_THAT(a.value("message", ""), HasSubstr("removed from the spec after it started"));
  ASSERT_EQ(a["attempts"].size(), 1u);
  EXPECT_EQ(a["attempts"][0]["phase"], "Canceled");
  EXPECT_EQ(StepStatus(flow, "x")["phase"], "Succeeded");
  EXPECT_EQ(StepStatus(flow, "b")["phase"], "Succeeded");
  const json changed = Condition(flow, "StartedStepsChanged");
  ASSERT_TRUE(changed.is_object()) << flow["status"].dump();
  EXPECT_EQ(changed["status"], "True");
  EXPECT_EQ(changed["reason"], "StartedStepRemoved");
  EXPECT_TRUE(Eventually([&] { return List("jobs", "weir.dev/flow=swap,weir.dev/step=a").empty(); },
                         absl::Seconds(30)));
}

// A started step's template changed past the schema: the step is canceled as
// it ran (its record keeps the template it ran), nothing of the new template
// runs under its name, and its dependent follows a Canceled.
TEST_F(EditsPastTheSchemaTest, AStartedStepRetemplatedIsCanceledNotRerun) {
  StartFlowWithAHangingStep("swap");
  Apply(Template("other"));
  const json steps =
      json::array({Step("a", "other", {}, Plays("Hang")), Step("b", "work", {{"a", "Succeeded"}})});
  const absl::Status edited = kubectl()
                                  .Run({"patch", kFlows, "swap", "-n", ns(), "--type=merge", "-p",
                                        json({{"spec", {{"steps", steps}}}}).dump()})
                                  .status();
  ASSERT_TRUE(edited.ok()) << edited;
  const json flow = WaitForPhase(kFlows, "swap", "Succeeded", absl::Seconds(90));
  const json a = StepStatus(flow, "a");
  EXPECT_EQ(a["phase"], "Canceled");
  EXPECT_EQ(a["template"], "work");
  EXPECT_EQ(StepStatus(flow, "b")["phase"], "Skipped");
  EXPECT_TRUE(List("jobs", "weir.dev/flow=swap,weir.dev/template=other").empty())
      << "the new template ran under a's name";
  const json changed = Condition(flow, "StartedStepsChanged");
  ASSERT_TRUE(changed.is_object()) << flow["status"].dump();
  EXPECT_EQ(changed["reason"], "StartedStepRetemplated");
}

// What the schema lets through is carried out: a step added to a running
// flow runs (the flow waits for it), a step removed before it started never
// runs and leaves no record.
TEST_F(EditsTest, AddedStepsRunAndRemovedUnstartedStepsLeaveNoTrace) {
  Apply(Template("work"));
  Apply(Flow("grow", {Step("a", "work", {}, Plays("Succeeded", "8s")),
                      Step("b", "work", {{"a", "Succeeded"}})}));
  ASSERT_TRUE(Eventually(
      [&] { return StepStatus(Get(kFlows, "grow"), "a").value("phase", "") == "Running"; },
      absl::Seconds(60)));
  Patch(kFlows, "grow",
        {{"spec",
          {{"steps", json::array({Step("a", "work", {}, Plays("Succeeded", "8s")),
                                  Step("c", "work", {{"a", "Succeeded"}})})}}}});
  const json flow = WaitForPhase(kFlows, "grow", "Succeeded", absl::Seconds(90));
  EXPECT_EQ(StepStatus(flow, "c")["phase"], "Succeeded");
  EXPECT_TRUE(StepStatus(flow, "b").empty()) << flow["status"].dump();
  EXPECT_EQ(flow["status"]["progress"], "2/2");
  EXPECT_TRUE(List("jobs", "weir.dev/flow=grow,weir.dev/step=b").empty());
  EXPECT_TRUE(Condition(flow, "StartedStepsChanged").is_null());
}

// An edit the schema lets through but weir cannot run (retry.onOOM.maxMemory
// 0) while a step, or a Batch's attempt, runs: what runs is stopped through
// its attempt first, so its end is recorded and its pod's final-state
// finalizer goes; only then does the owner end, and deleting it leaves
// nothing. Found by edit_sequences_test: the owner ended at once, its
// attempt stayed unended and the pod, kept by the finalizer, blocked the
// owner's deletion for good.
TEST_F(EditsTest, AnEditThatMakesTheSpecInvalidStopsWhatRunsFirst) {
  StartFlowWithAHangingStep("bad");
  json steps = Get(kFlows, "bad")["spec"]["steps"];
  steps[1]["retry"] = {{"onOOM", {{"maxMemory", 0}}}};
  Patch(kFlows, "bad", {{"spec", {{"steps", steps}}}});
  const json flow = WaitForPhase(kFlows, "bad", "Failed", absl::Seconds(60));
  EXPECT_EQ(Condition(flow, "Valid")["reason"], "InvalidSpec");
  const json a = StepStatus(flow, "a");
  EXPECT_EQ(a["phase"], "Canceled");
  ASSERT_EQ(a["attempts"].size(), 1u);
  EXPECT_EQ(a["attempts"][0]["phase"], "Canceled") << "the attempt's end is recorded";

  Apply(SimulatedBatch("", "b", "Hang"));
  WaitForPhase(kBatches, "b", "Running");
  Patch(kBatches, "b", {{"spec", {{"retry", {{"onOOM", {{"maxMemory", 0}}}}}}}});
  const json batch = WaitForPhase(kBatches, "b", "Canceled");
  EXPECT_EQ(batch["status"]["terminationReason"], "InvalidSpec");
  EXPECT_EQ(Condition(batch, "Valid")["reason"], "InvalidSpec");
  ASSERT_EQ(batch["status"]["attempts"].size(), 1u);
  EXPECT_EQ(batch["status"]["attempts"][0]["phase"], "Canceled");

  absl::StatusOr<std::string> left = LeftAfterDeletingOwners(kubectl(), ns(), absl::Seconds(60));
  ASSERT_TRUE(left.ok()) << left.status();
  EXPECT_EQ(*left, "") << "left behind after the owners were deleted";
}

}  // namespace
}  // namespace weir::e2e
