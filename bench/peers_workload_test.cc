#include "bench/peers_workload.h"

#include <chrono>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace weir::bench {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::Optional;

MonoTime At(int ms) { return MonoTime() + std::chrono::milliseconds(ms); }

Workload MustWorkload(System system, Shape shape, int steps = 3, int width = 2) {
  absl::StatusOr<Workload> w = MakeWorkload(system, shape, steps, width, "0s");
  EXPECT_TRUE(w.ok()) << w.status();
  return *w;
}

json Pod(const std::string& uid, json labels, const std::string& phase,
         json annotations = json::object()) {
  return {
      {"metadata",
       {{"name", "pod-" + uid}, {"uid", uid}, {"labels", labels}, {"annotations", annotations}}},
      {"status", {{"phase", phase}}}};
}

json WeirLabels(const std::string& flow, const std::string& step) {
  return {{"weir.dev/flow", flow}, {"weir.dev/step", step}};
}

json RawJobStatus(const std::string& flow, const std::string& step, const std::string& condition) {
  json job = RawJob(MustWorkload(System::kRaw, Shape::kChain), flow, step).body;
  if (!condition.empty()) {
    job["status"]["conditions"] = json::array({{{"type", condition}, {"status", "True"}}});
  }
  return job;
}

TEST(MakeWorkloadTest, ShapesNameTheirStepsFromS0) {
  EXPECT_THAT(MustWorkload(System::kWeir, Shape::kChain, 3).steps,
              ElementsAre(Step{"s0", {}}, Step{"s1", {"s0"}}, Step{"s2", {"s1"}}));
  EXPECT_THAT(MustWorkload(System::kWeir, Shape::kFanout, 99, 2).steps,
              ElementsAre(Step{"s0", {}}, Step{"s1", {"s0"}}, Step{"s2", {"s0"}},
                          Step{"s3", {"s1", "s2"}}));
  EXPECT_THAT(MustWorkload(System::kBatch, Shape::kSingle, 99).steps, ElementsAre(Step{"s0", {}}));
}

TEST(MakeWorkloadTest, RefusesWhatCannotRun) {
  EXPECT_FALSE(MakeWorkload(System::kBatch, Shape::kChain, 3, 1, "0s").ok());
  EXPECT_FALSE(MakeWorkload(System::kWeir, Shape::kChain, 0, 1, "0s").ok());
  EXPECT_FALSE(MakeWorkload(System::kWeir, Shape::kFanout, 3, 0, "0s").ok());
  EXPECT_FALSE(MakeWorkload(System::kWeir, Shape::kChain, 3, 1, "soon").ok());
  EXPECT_FALSE(ParseSystem("kueue").ok());
  EXPECT_FALSE(ParseShape("ring").ok());
  EXPECT_EQ(*ParseSystem("volcano"), System::kVolcano);
  EXPECT_EQ(*ParseShape("fanout"), Shape::kFanout);
}

// The pod of peers.md §0 wherever a system takes a pod template.
void ExpectCommonPod(const json& pod_template, const std::string& duration) {
  EXPECT_EQ(pod_template["metadata"]["annotations"],
            json({{"sim.weir.dev/outcome", "Succeeded"}, {"sim.weir.dev/duration", duration}}));
  EXPECT_EQ(pod_template["spec"]["restartPolicy"], "Never");
  const json& main = pod_template["spec"]["containers"][0];
  EXPECT_EQ(main["name"], "main");
  EXPECT_EQ(main["command"], json::array({"true"}));
  EXPECT_EQ(main["resources"]["requests"], json({{"cpu", "10m"}, {"memory", "16Mi"}}));
}

TEST(ObjectsTest, WeirJobFlowAndBatchUseTemplateT) {
  Workload w = *MakeWorkload(System::kWeir, Shape::kChain, 2, 1, "1s");
  std::vector<NewObject> setup = SetupObjects(w);
  ASSERT_EQ(setup.size(), 1u);
  EXPECT_EQ(setup[0].resource, kube::resources::JobTemplates());
  EXPECT_EQ(setup[0].body["metadata"]["name"], "t");
  ExpectCommonPod(setup[0].body["spec"]["jobSpec"]["template"], "1s");

  std::vector<NewObject> flow = FlowObjects(w, "f000");
  ASSERT_EQ(flow.size(), 1u);
  EXPECT_EQ(flow[0].resource, kube::resources::JobFlows());
  EXPECT_EQ(flow[0].body["spec"]["steps"], json::parse(R"([{"name": "s0", "template": "t"},
                            {"name": "s1", "template": "t", "dependsOn": [{"step": "s0"}]}])"));

  std::vector<NewObject> batch = FlowObjects(MustWorkload(System::kBatch, Shape::kSingle), "f001");
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].resource, kube::resources::Batches());
  EXPECT_EQ(batch[0].body["spec"], json({{"template", "t"}}));
}

TEST(ObjectsTest, VolcanoHasATemplatePerStepFilledInAsItsWebhookWould) {
  Workload w = MustWorkload(System::kVolcano, Shape::kFanout, 0, 2);
  std::vector<NewObject> setup = SetupObjects(w);
  ASSERT_EQ(setup.size(), 4u);
  const json& spec = setup[3].body["spec"];
  EXPECT_EQ(setup[3].resource, peer_resources::VolcanoJobTemplates());
  EXPECT_EQ(setup[3].body["metadata"]["name"], "s3");
  EXPECT_EQ(spec["schedulerName"], "volcano");
  EXPECT_EQ(spec["queue"], "default");
  EXPECT_EQ(spec["minAvailable"], 1);
  EXPECT_EQ(spec["maxRetry"], 1);
  ASSERT_EQ(spec["tasks"].size(), 1u);
  EXPECT_EQ(spec["tasks"][0]["name"], "main");
  EXPECT_EQ(spec["tasks"][0]["replicas"], 1);
  EXPECT_EQ(spec["tasks"][0]["minAvailable"], 1);
  EXPECT_EQ(spec["tasks"][0]["maxRetry"], 1);
  ExpectCommonPod(spec["tasks"][0]["template"], "0s");

  const json flow = FlowObjects(w, "f000")[0].body;
  EXPECT_EQ(flow["apiVersion"], "flow.volcano.sh/v1alpha1");
  EXPECT_EQ(flow["spec"]["jobRetainPolicy"], "retain");
  EXPECT_EQ(flow["spec"]["flows"][0], json({{"name", "s0"}}));
  EXPECT_EQ(flow["spec"]["flows"][3], json::parse(R"({"name": "s3",
                                                      "dependsOn": {"targets": ["s1", "s2"]}})"));
}

TEST(ObjectsTest, ArgoWorkflowIsADagOfOneContainerTemplate) {
  Workload w = MustWorkload(System::kArgo, Shape::kChain, 2);
  EXPECT_TRUE(SetupObjects(w).empty());
  const json wf = FlowObjects(w, "f000")[0].body;
  EXPECT_EQ(wf["spec"]["entrypoint"], "main");
  const json& templates = wf["spec"]["templates"];
  EXPECT_EQ(templates[0]["dag"]["tasks"], json::parse(R"([{"name": "s0", "template": "w"},
                            {"name": "s1", "template": "w", "dependencies": ["s0"]}])"));
  EXPECT_EQ(templates[1]["name"], "w");
  EXPECT_EQ(templates[1]["metadata"]["annotations"]["sim.weir.dev/outcome"], "Succeeded");
  EXPECT_EQ(templates[1]["container"]["command"], json::array({"true"}));
  EXPECT_FALSE(templates[1].contains("outputs"));
  EXPECT_FALSE(wf["spec"].contains("podGC"));
}

TEST(ObjectsTest, RawStartsAFlowWithTheJobOfItsFirstStep) {
  Workload w = MustWorkload(System::kRaw, Shape::kFanout, 0, 3);
  std::vector<NewObject> roots = FlowObjects(w, "f007");
  ASSERT_EQ(roots.size(), 1u);
  const json& job = roots[0].body;
  EXPECT_EQ(roots[0].resource, kube::resources::Jobs());
  EXPECT_EQ(job["metadata"]["name"], "f007-s0");
  EXPECT_EQ(job["spec"]["backoffLimit"], 0);
  EXPECT_EQ(job["spec"]["template"]["metadata"]["labels"], job["metadata"]["labels"]);
  ExpectCommonPod(job["spec"]["template"], "0s");
}

TEST(FlowNameTest, PadsToThreeDigitsOrMore) {
  EXPECT_EQ(FlowName(7, 100), "f007");
  EXPECT_EQ(FlowName(999, 1000), "f999");
  EXPECT_EQ(FlowName(7, 1001), "f0007");
}

TEST(PercentileTest, NearestRank) {
  std::vector<double> v;
  for (int i = 100; i >= 1; --i) v.push_back(i);
  EXPECT_THAT(Percentile(v, 50), Optional(50.0));
  EXPECT_THAT(Percentile(v, 99), Optional(99.0));
  EXPECT_THAT(Percentile({3.0}, 99), Optional(3.0));
  EXPECT_EQ(Percentile({}, 50), std::nullopt);
}

TEST(FlowTrackerTest, WeirChainLatenciesFromFirstSightings) {
  FlowTracker tracker(MustWorkload(System::kWeir, Shape::kChain, 2));
  tracker.AddFlow("f000", At(1000));
  tracker.ObserveChild({{"metadata", {{"labels", WeirLabels("f000", "s0")}}}}, At(1010));
  tracker.ObservePod(Pod("a", WeirLabels("f000", "s0"), "Succeeded"), At(1100));
  tracker.ObservePod(Pod("a", WeirLabels("f000", "s0"), "Succeeded"), At(1900));  // a repeat
  json flow = {
      {"metadata", {{"name", "f000"}}},
      {"status", {{"phase", "Running"}, {"steps", {{{"name", "s0"}, {"phase", "Succeeded"}}}}}}};
  tracker.ObserveOwner(flow, At(1130));
  tracker.ObserveChild({{"metadata", {{"labels", WeirLabels("f000", "s1")}}}}, At(1150));
  tracker.ObservePod(Pod("b", WeirLabels("f000", "s1"), "Succeeded"), At(1300));
  flow["status"] = {
      {"phase", "Succeeded"},
      {"steps",
       {{{"name", "s0"}, {"phase", "Succeeded"}}, {{"name", "s1"}, {"phase", "Succeeded"}}}}};
  tracker.ObserveOwner(flow, At(1320));
  tracker.ObservePod(Pod("c", WeirLabels("other", "s0"), "Succeeded"), At(1400));  // not ours
  EXPECT_EQ(tracker.terminal_count(), 1);

  const Figures f = tracker.Summarize({"f000"}, At(500));
  EXPECT_EQ(f.flows, 1);
  EXPECT_EQ(f.steps, 2);
  EXPECT_EQ(f.succeeded, 1);
  EXPECT_DOUBLE_EQ(f.wall_s, 0.82);
  EXPECT_THAT(f.flow_latency_p50_s, Optional(testing::DoubleNear(0.32, 1e-9)));
  EXPECT_THAT(f.step_latency_p50_ms, Optional(testing::DoubleNear(50, 1e-9)));
  EXPECT_THAT(f.status_latency_p99_ms, Optional(testing::DoubleNear(30, 1e-9)));
  EXPECT_EQ(f.step_latency_samples, 1);
  EXPECT_EQ(f.status_latency_samples, 2);
  EXPECT_THAT(tracker.Summarize({"f000", "f001"}, At(500)).unfinished, ElementsAre("f001"));
}

TEST(FlowTrackerTest, RawMakesAStepDueOnceEveryDependencyCompleted) {
  FlowTracker tracker(MustWorkload(System::kRaw, Shape::kFanout, 0, 2));
  tracker.AddFlow("f000", At(0));
  EXPECT_TRUE(tracker.TakeDueSteps().empty());  // s0 is created with the flow
  tracker.ObserveChild(RawJobStatus("f000", "s0", ""), At(10));
  EXPECT_TRUE(tracker.TakeDueSteps().empty());
  tracker.ObserveChild(RawJobStatus("f000", "s0", "Complete"), At(20));
  tracker.ObserveChild(RawJobStatus("f000", "s0", "Complete"), At(21));
  EXPECT_THAT(tracker.TakeDueSteps(), ElementsAre(StepRef{"f000", "s1"}, StepRef{"f000", "s2"}));
  tracker.ObserveChild(RawJobStatus("f000", "s1", "Complete"), At(30));
  EXPECT_TRUE(tracker.TakeDueSteps().empty());
  tracker.ObserveChild(RawJobStatus("f000", "s2", "Complete"), At(40));
  EXPECT_THAT(tracker.TakeDueSteps(), ElementsAre(StepRef{"f000", "s3"}));
  EXPECT_EQ(tracker.terminal_count(), 0);
  tracker.ObserveChild(RawJobStatus("f000", "s3", "Complete"), At(50));
  EXPECT_EQ(tracker.terminal_count(), 1);
  const Figures f = tracker.Summarize({"f000"}, At(0));
  EXPECT_EQ(f.succeeded, 1);
  EXPECT_EQ(f.status_latency_p50_ms, std::nullopt);
}

TEST(FlowTrackerTest, RawFlowEndsFailedWithAFailedJobAndStartsNothingMore) {
  FlowTracker tracker(MustWorkload(System::kRaw, Shape::kChain, 3));
  tracker.AddFlow("f000", At(0));
  tracker.ObserveChild(RawJobStatus("f000", "s0", "Failed"), At(10));
  tracker.ObserveChild(RawJobStatus("f000", "s0", "Complete"), At(11));
  EXPECT_TRUE(tracker.TakeDueSteps().empty());
  EXPECT_EQ(tracker.terminal_count(), 1);
  EXPECT_EQ(tracker.Summarize({"f000"}, At(0)).failed, 1);
}

TEST(FlowTrackerTest, VolcanoStepsByVcjobNameAndCompletedJobs) {
  FlowTracker tracker(MustWorkload(System::kVolcano, Shape::kChain, 2));
  tracker.AddFlow("f000", At(0));
  tracker.ObservePod(Pod("a", {{"volcano.sh/job-name", "f000-s0"}}, "Succeeded"), At(100));
  tracker.ObserveChild({{"metadata", {{"name", "f000-s1"}}}}, At(250));
  json flow = {{"metadata", {{"name", "f000"}}},
               {"status", {{"completedJobs", {"f000-s0"}}, {"state", {{"phase", "Running"}}}}}};
  tracker.ObserveOwner(flow, At(400));
  EXPECT_EQ(tracker.terminal_count(), 0);
  flow["status"]["state"]["phase"] = "Succeed";
  tracker.ObserveOwner(flow, At(900));
  const Figures f = tracker.Summarize({"f000"}, At(0));
  EXPECT_EQ(f.succeeded, 1);
  EXPECT_THAT(f.step_latency_p50_ms, Optional(testing::DoubleNear(150, 1e-9)));
  EXPECT_THAT(f.status_latency_p50_ms, Optional(testing::DoubleNear(300, 1e-9)));
}

TEST(FlowTrackerTest, ArgoStepsArePodsNamedByNodeAndRecordedInNodes) {
  FlowTracker tracker(MustWorkload(System::kArgo, Shape::kChain, 2));
  tracker.AddFlow("f000", At(0));
  const auto argo_pod = [](const std::string& uid, const std::string& task,
                           const std::string& phase) {
    return Pod(uid, {{"workflows.argoproj.io/workflow", "f000"}}, phase,
               {{"workflows.argoproj.io/node-name", "f000." + task}});
  };
  tracker.ObservePod(argo_pod("a", "s0", "Pending"), At(50));
  tracker.ObservePod(argo_pod("a", "s0", "Succeeded"), At(100));
  tracker.ObservePod(argo_pod("b", "s1", "Pending"), At(1100));
  const json flow = json::parse(R"({"metadata": {"name": "f000"}, "status": {"phase": "Error",
      "nodes": {"f000": {"displayName": "f000", "type": "DAG", "phase": "Running"},
                "f000-1": {"displayName": "s0", "type": "Pod", "phase": "Succeeded"}}}})");
  tracker.ObserveOwner(flow, At(600));
  const Figures f = tracker.Summarize({"f000"}, At(0));
  EXPECT_EQ(f.failed, 1);
  EXPECT_THAT(f.step_latency_p50_ms, Optional(testing::DoubleNear(1000, 1e-9)));
  EXPECT_THAT(f.status_latency_p50_ms, Optional(testing::DoubleNear(500, 1e-9)));
}

TEST(FiguresJsonTest, KeysInTheContractsOrderWithNullsForWhatWasNotMeasured) {
  Figures f;
  f.flows = 2;
  f.steps = 4;
  f.succeeded = 2;
  f.wall_s = 2.0;
  f.flow_latency_p50_s = 1.23456;
  const nlohmann::ordered_json out =
      FiguresJson(MustWorkload(System::kRaw, Shape::kChain, 2), f, 5);
  std::vector<std::string> keys;
  for (const auto& [key, value] : out.items()) keys.push_back(key);
  EXPECT_THAT(keys, ElementsAre("system", "shape", "flows", "steps", "wall_s", "steps_per_s",
                                "flow_latency_p50_s", "flow_latency_p99_s", "step_latency_p50_ms",
                                "step_latency_p99_ms", "status_latency_p50_ms",
                                "status_latency_p99_ms", "created", "succeeded", "failed"));
  EXPECT_EQ(out["system"], "raw");
  EXPECT_EQ(out["steps_per_s"], 2.0);
  EXPECT_NEAR(out["flow_latency_p50_s"].get<double>(), 1.235, 1e-9);
  EXPECT_TRUE(out["status_latency_p50_ms"].is_null());
  EXPECT_EQ(out["created"], 5);
}

}  // namespace
}  // namespace weir::bench
