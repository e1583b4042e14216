// The model checker (model.h) over a Batch with retries and OOM retries and
// over JobFlows of up to 4 steps. Bounds: WEIR_MODEL=full (make model) or
// the CI sample (the default, in make unit); WEIR_MODEL_DEPTH,
// WEIR_MODEL_USERS, WEIR_MODEL_FAULTS, WEIR_MODEL_STALE and
// WEIR_MODEL_THREADS (the full bounds use every core) override them.
#include "test/model/model.h"

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace weir::model {
namespace {

using nlohmann::json;

bool Full() {
  const char* mode = std::getenv("WEIR_MODEL");
  return mode != nullptr && std::string(mode) == "full";
}

template <typename Int>
void Override(const char* name, Int& bound) {
  const char* value = std::getenv(name);
  if (value != nullptr && !absl::SimpleAtoi(value, &bound)) {
    ADD_FAILURE() << name << "=" << value << " is not a number";
  }
}

// `ci` and `full`, with the environment's overrides.
Bounds Pick(Bounds ci, Bounds full) {
  Bounds b = ci;
  if (Full()) {
    // A full run takes hours: use every core and say how far it is.
    b = full;
    b.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    b.progress_every = 100'000;
    b.max_states = 50'000'000;  // a few GiB of seen table
  }
  Override("WEIR_MODEL_DEPTH", b.max_depth);
  Override("WEIR_MODEL_USERS", b.max_user_actions);
  Override("WEIR_MODEL_FAULTS", b.max_faults);
  Override("WEIR_MODEL_STALE", b.max_stale);
  Override("WEIR_MODEL_MAX_STATES", b.max_states);
  Override("WEIR_MODEL_THREADS", b.threads);
  Override("WEIR_MODEL_PROGRESS", b.progress_every);
  return b;
}

json Template(const std::string& name) {
  return {{"apiVersion", "weir.dev/v1alpha1"},
          {"kind", "JobTemplate"},
          {"metadata", {{"name", name}, {"namespace", "model"}}},
          {"spec",
           {{"jobSpec",
             {{"template",
               {{"spec",
                 {{"containers",
                   json::array({{{"name", "main"},
                                 {"image", "busybox"},
                                 {"resources", {{"limits", {{"memory", "64Mi"}}}}}}})}}}}}}}}}};
}

void Expect(const Scenario& scenario, const Bounds& bounds) {
  const Result result = Check(scenario, bounds);
  std::cout << Summary(scenario.name, result) << "\n";
  EXPECT_EQ(result.violation, "");
  EXPECT_TRUE(result.complete) << "raise max_states or lower the bounds";
  EXPECT_GT(result.states, 1);
}

TEST(ModelTest, BatchWithRetriesAndOOMRetries) {
  Scenario s;
  s.name = "batch";
  s.owner = {{"apiVersion", "weir.dev/v1alpha1"},
             {"kind", "Batch"},
             {"metadata", {{"name", "b"}}},
             {"spec",
              {{"template", "t"},
               {"retry",
                {{"limit", 2},
                 {"backoffSeconds", 10},
                 {"onOOM", {{"memoryFactor", 2.0}, {"maxMemory", "256Mi"}}}}},
               {"idleTimeoutSeconds", 60},
               {"imagePullGraceSeconds", 30}}}};
  s.templates = {Template("t")};
  s.user_actions = {"cancel", "delete", "edit-template"};
  Bounds ci;
  ci.max_depth = 8;
  Bounds full;
  full.max_depth = 10;
  full.max_user_actions = 2;
  Expect(s, Pick(ci, full));
}

json Step(const std::string& name, json depends_on = json::array()) {
  return {{"name", name}, {"template", "t"}, {"dependsOn", std::move(depends_on)}};
}
json Dep(const std::string& step, const std::string& condition) {
  return {{"step", step}, {"condition", condition}};
}

json Flow(json steps, const std::string& on_failure, int parallelism) {
  return {{"apiVersion", "weir.dev/v1alpha1"},
          {"kind", "JobFlow"},
          {"metadata", {{"name", "f"}}},
          {"spec",
           {{"steps", std::move(steps)},
            {"onStepFailure", on_failure},
            {"parallelism", parallelism},
            {"idleTimeoutSeconds", 60}}}};
}

// Flows: the CI sample has 2 or 3 steps and exit 0 or 1; the full bounds
// 4 steps, two users' actions, and `full_outcomes`.
Bounds FlowBounds(std::vector<std::string> full_outcomes) {
  Bounds ci;
  ci.max_depth = 9;
  ci.outcomes = {"Succeeded", "Error"};
  Bounds full = ci;
  full.max_depth = 10;
  full.max_user_actions = 2;
  full.outcomes = std::move(full_outcomes);
  return Pick(ci, full);
}

// StopFlow, one step at a time: Succeeded, Failed and Completed conditions.
TEST(ModelTest, StopFlowOneAtATime) {
  Scenario s;
  s.name = "flow-stopflow";
  json steps = {Step("a"), Step("b", {Dep("a", "Succeeded")}), Step("c", {Dep("a", "Failed")})};
  if (Full()) steps.push_back(Step("d", {Dep("b", "Completed")}));
  s.owner = Flow(steps, "StopFlow", 1);
  s.templates = {Template("t")};
  s.user_actions = {"cancel-step:b", "cancel", "suspend", "resume"};
  Expect(s, FlowBounds({"Succeeded", "Error", "OOMKilled", "PodDeleted"}));
}

// ContinueOthers, in parallel: the Canceled condition, per-step cancel and
// a template edit while steps run.
TEST(ModelTest, ContinueOthersInParallel) {
  Scenario s;
  s.name = "flow-continue";
  json steps = {Step("a"), Step("b", {Dep("a", "Canceled")})};
  if (Full()) {
    steps.push_back(Step("c"));
    steps.push_back(Step("d", {Dep("c", "Failed"), Dep("a", "Completed")}));
  }
  s.owner = Flow(steps, "ContinueOthers", 0);
  s.templates = {Template("t")};
  s.user_actions = {"cancel-step:a", "delete", "edit-template"};
  Expect(s, FlowBounds({"Succeeded", "Error", "Evicted", "ImagePull"}));
}

}  // namespace
}  // namespace weir::model
