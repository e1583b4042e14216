#include "reconcile/children.h"

#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace weir::reconcile {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

json SimpleSpec() {
  return json::parse(R"({
    "backoffLimit": 6,
    "selector": {"matchLabels": {"a": "b"}},
    "template": {
      "metadata": {"annotations": {"sim.weir.dev/outcome": "Failed"}, "labels": {"app": "etl"}},
      "spec": {"restartPolicy": "OnFailure",
               "containers": [{"name": "main", "image": "busybox",
                               "resources": {"limits": {"memory": "64Mi"}, "requests": {"memory": "32Mi"}}},
                              {"name": "sidecar", "image": "envoy"}]}}})");
}

TEST(ChildJobNameTest, BatchAndStepNamesFollowTheDesign) {
  ChildOwner batch = ChildOwner::Batch("ns", "nightly", "uid-1");
  EXPECT_THAT(ChildJobName(batch, 1), MatchesRegex("nightly-1-[0-9a-f]{8}"));
  ChildOwner step = ChildOwner::FlowStep("ns", "etl", "uid-2", "extract", "tmpl");
  EXPECT_THAT(ChildJobName(step, 3), MatchesRegex("etl-extract-3-[0-9a-f]{8}"));
}

TEST(ChildJobNameTest, DeterministicPerOwnerAndDistinctAcrossUidsAndSteps) {
  ChildOwner a = ChildOwner::Batch("ns", "job", "uid-a");
  ChildOwner b = ChildOwner::Batch("ns", "job", "uid-b");  // re-created with the same name
  EXPECT_EQ(ChildJobName(a, 1), ChildJobName(a, 1));
  EXPECT_NE(ChildJobName(a, 1), ChildJobName(b, 1));
  EXPECT_NE(ChildJobName(a, 1), ChildJobName(a, 2));
  ChildOwner s1 = ChildOwner::FlowStep("ns", "f", "uid", "x", "t");
  ChildOwner s2 = ChildOwner::FlowStep("ns", "f", "uid", "y", "t");
  EXPECT_NE(ChildJobName(s1, 1), ChildJobName(s2, 1));
}

TEST(ChildJobNameTest, LongNamesAreShortenedToAValidLabel) {
  const std::string long_name(60, 'a');
  const std::string long_step = "step-" + std::string(55, 'b');
  std::set<std::string> names;
  for (int attempt : {1, 9, 10, 100}) {
    for (const std::string& step : {long_step, long_step + "c"}) {
      ChildOwner o = ChildOwner::FlowStep("ns", long_name, "uid", step, "t");
      const std::string name = ChildJobName(o, attempt);
      EXPECT_LE(name.size(), 63u) << name;
      EXPECT_THAT(name, MatchesRegex("[a-z0-9]([-a-z0-9]*[a-z0-9])?")) << name;
      names.insert(name);
    }
  }
  EXPECT_EQ(names.size(), 8u) << "truncated names must stay distinct";
  // A name cut just after a '-' does not end the prefix with '-'.
  ChildOwner dash = ChildOwner::Batch("ns", std::string(50, 'a') + "-" + std::string(20, 'b'), "u");
  EXPECT_THAT(ChildJobName(dash, 1), ::testing::Not(HasSubstr("--")));
}

TEST(ChildLabelsTest, FlowChildrenCarryFlowAndStepIdentity) {
  ChildOwner o = ChildOwner::FlowStep("ns", "etl", "uid-9", "load", "loader");
  auto labels = ChildLabels(o, 2);
  EXPECT_EQ(labels.at(kLabelManagedBy), "weir");
  EXPECT_EQ(labels.at(kLabelFlow), "etl");
  EXPECT_EQ(labels.at(kLabelFlowUid), "uid-9");
  EXPECT_EQ(labels.at(kLabelStep), "load");
  EXPECT_EQ(labels.at(kLabelTemplate), "loader");
  EXPECT_EQ(labels.at(kLabelAttempt), "2");
  EXPECT_EQ(labels.count(kLabelBatch), 0u);
  EXPECT_EQ(ChildSelector(o),
            "weir.dev/flow-uid=uid-9,weir.dev/managed-by=weir,weir.dev/step=load");
  EXPECT_EQ(ChildSelector(ChildOwner::FlowStep("ns", "etl", "uid-9", "", "")),
            "weir.dev/flow-uid=uid-9,weir.dev/managed-by=weir");
}

TEST(ChildLabelsTest, BatchChildrenCarryBatchIdentity) {
  ChildOwner o = ChildOwner::Batch("ns", "b", "uid-3");
  auto labels = ChildLabels(o, 1);
  EXPECT_EQ(labels.at(kLabelBatch), "b");
  EXPECT_EQ(labels.at(kLabelBatchUid), "uid-3");
  EXPECT_EQ(labels.count(kLabelStep), 0u);
  EXPECT_EQ(ChildSelector(o), "weir.dev/batch-uid=uid-3,weir.dev/managed-by=weir");
}

TEST(BuildChildJobTest, OwnsRetriesLabelsPodsAndPointsAtTheOwner) {
  ChildOwner o = ChildOwner::FlowStep("team", "etl", "uid-7", "extract", "tmpl");
  json job = BuildChildJob(o, 1, SimpleSpec(), "", {});
  EXPECT_EQ(job["apiVersion"], "batch/v1");
  EXPECT_EQ(job["kind"], "Job");
  EXPECT_EQ(job["metadata"]["namespace"], "team");
  EXPECT_EQ(job["metadata"]["name"], ChildJobName(o, 1));
  EXPECT_EQ(job["spec"]["backoffLimit"], 0);
  EXPECT_FALSE(job["spec"].contains("selector"));
  EXPECT_EQ(job["spec"]["template"]["spec"]["restartPolicy"], "Never");
  const json& pod_labels = job["spec"]["template"]["metadata"]["labels"];
  EXPECT_EQ(pod_labels["app"], "etl") << "the template's own labels stay";
  EXPECT_EQ(pod_labels[kLabelFlowUid], "uid-7");
  EXPECT_EQ(pod_labels[kLabelStep], "extract");
  EXPECT_EQ(job["metadata"]["labels"][kLabelTemplate], "tmpl");
  EXPECT_EQ(job["spec"]["template"]["metadata"]["annotations"]["sim.weir.dev/outcome"], "Failed");
  const json& ref = job["metadata"]["ownerReferences"][0];
  EXPECT_EQ(ref["apiVersion"], "weir.dev/v1alpha1");
  EXPECT_EQ(ref["kind"], "JobFlow");
  EXPECT_EQ(ref["uid"], "uid-7");
  EXPECT_EQ(ref["controller"], true);
  EXPECT_TRUE(IsChildOf(job, o));
  EXPECT_EQ(AttemptOf(job), 1);
}

// Every pod keeps its final state until weir has recorded it; a finalizer
// the user's template already has stays, and ours is not added twice.
TEST(BuildChildJobTest, PodsCarryTheFinalStateFinalizer) {
  const ChildOwner o = ChildOwner::Batch("ns", "b", "uid-1");
  json job = BuildChildJob(o, 1, SimpleSpec(), "", {});
  EXPECT_EQ(job["spec"]["template"]["metadata"]["finalizers"], json::array({kPodFinalizer}));
  json spec = SimpleSpec();
  spec["template"]["metadata"]["finalizers"] = {"example.com/audit", kPodFinalizer};
  job = BuildChildJob(o, 1, spec, "", {});
  EXPECT_EQ(job["spec"]["template"]["metadata"]["finalizers"],
            json::array({"example.com/audit", kPodFinalizer}));
}

TEST(BuildChildJobTest, MemoryOverrideAppliesToTheMainContainerOnly) {
  ChildOwner o = ChildOwner::Batch("ns", "b", "u");
  MemoryOverride m{api::Quantity::Parse("128Mi").value(), api::Quantity::Parse("64Mi").value()};
  json job = BuildChildJob(o, 2, SimpleSpec(), "", m);
  const json& containers = job["spec"]["template"]["spec"]["containers"];
  EXPECT_EQ(containers[0]["resources"]["limits"]["memory"], "128Mi");
  EXPECT_EQ(containers[0]["resources"]["requests"]["memory"], "64Mi");
  EXPECT_FALSE(containers[1].contains("resources"));

  json named = BuildChildJob(o, 2, SimpleSpec(), "sidecar", m);
  EXPECT_EQ(named["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"],
            "64Mi");
  EXPECT_EQ(named["spec"]["template"]["spec"]["containers"][1]["resources"]["limits"]["memory"],
            "128Mi");
}

TEST(IsChildOfTest, NeedsOwnerUidAndStep) {
  ChildOwner mine = ChildOwner::FlowStep("ns", "f", "uid-1", "a", "t");
  json job = BuildChildJob(mine, 1, SimpleSpec(), "", {});
  EXPECT_TRUE(IsChildOf(job, mine));
  EXPECT_FALSE(IsChildOf(job, ChildOwner::FlowStep("ns", "f", "uid-2", "a", "t")))
      << "another flow of the same name";
  EXPECT_FALSE(IsChildOf(job, ChildOwner::FlowStep("ns", "f", "uid-1", "b", "t")))
      << "another step of the same flow";
  EXPECT_TRUE(IsChildOf(job, ChildOwner::FlowStep("ns", "f", "uid-1", "a", "other-template")))
      << "identity is uid and step, not the template";
  json unowned = job;
  unowned["metadata"]["ownerReferences"][0]["controller"] = false;
  EXPECT_FALSE(IsChildOf(unowned, mine));
  json relabeled = job;
  relabeled["metadata"]["labels"][kLabelStep] = "b";
  EXPECT_FALSE(IsChildOf(relabeled, mine));
  EXPECT_FALSE(IsChildOf(json("garbage"), mine));
  EXPECT_FALSE(IsChildOf(json::object(), mine));
}

TEST(AttemptOfTest, ReadsOnlyValidNumbers) {
  auto with = [](const json& v) { return json{{"metadata", {{"labels", {{kLabelAttempt, v}}}}}}; };
  EXPECT_EQ(AttemptOf(with("3")), 3);
  EXPECT_EQ(AttemptOf(with("0")), std::nullopt);
  EXPECT_EQ(AttemptOf(with("-1")), std::nullopt);
  EXPECT_EQ(AttemptOf(with("x")), std::nullopt);
  EXPECT_EQ(AttemptOf(with(3)), std::nullopt);
  EXPECT_EQ(AttemptOf(json::object()), std::nullopt);
}

}  // namespace
}  // namespace weir::reconcile
