#include "flow/scheduler.h"

#include <algorithm>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "flow/dag.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace weir::flow {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

StepSpec S(std::string name, std::vector<DependencySpec> deps = {}) {
  return StepSpec{std::move(name), "tmpl", std::move(deps)};
}

DependencySpec D(std::string step, std::string condition = "") {
  return DependencySpec{std::move(step), std::move(condition)};
}

// A flow under test: its graph, the state the reconciler would pass in, and
// helpers that apply a Plan the way the reconciler does.
class Flow {
 public:
  explicit Flow(std::vector<StepSpec> specs) {
    absl::StatusOr<Dag> dag = Dag::Build(specs);
    EXPECT_TRUE(dag.ok()) << dag.status();
    dag_ = *std::move(dag);
    states_.resize(dag_.size());
  }

  const Dag& dag() const { return dag_; }
  FlowOptions& options() { return options_; }
  StepState& state(const std::string& name) { return states_[Index(name)]; }
  Phase phase(const std::string& name) { return state(name).phase; }

  StepIndex Index(const std::string& name) const {
    std::optional<StepIndex> i = dag_.Find(name);
    EXPECT_TRUE(i.has_value()) << name;
    return i.value_or(0);
  }
  std::string Name(StepIndex i) const { return dag_.step(i).name; }

  flow::Plan Decide() {
    absl::StatusOr<flow::Plan> plan = PlanFlow(dag_, states_, options_);
    EXPECT_TRUE(plan.ok()) << plan.status();
    return plan.ok() ? *std::move(plan) : flow::Plan{};
  }

  // Applies the decisions: started steps run, skipped end Skipped, canceled
  // not-started steps end Canceled and started ones go Canceling.
  void Apply(const flow::Plan& plan) {
    for (StepIndex i : plan.start) {
      ASSERT_EQ(states_[i].phase, Phase::kPending);
      ASSERT_FALSE(states_[i].started) << Name(i) << " started twice";
      states_[i].phase = Phase::kRunning;
      states_[i].started = true;
    }
    for (const SkipDecision& d : plan.skip) {
      ASSERT_EQ(states_[d.step].phase, Phase::kPending);
      states_[d.step].phase = Phase::kSkipped;
      states_[d.step].message = d.message;
    }
    for (const CancelDecision& d : plan.cancel) {
      ASSERT_EQ(d.started, states_[d.step].phase != Phase::kPending || states_[d.step].started);
      states_[d.step].phase = d.started ? Phase::kCanceling : Phase::kCanceled;
      states_[d.step].canceled_by = d.cause;
      states_[d.step].message = d.message;
    }
  }

  // Plans and applies; returns the plan.
  flow::Plan Step() {
    flow::Plan plan = Decide();
    Apply(plan);
    return plan;
  }

  void Finish(const std::string& name, Phase p, std::string reason = "", std::string message = "") {
    StepState& s = state(name);
    s.phase = p;
    s.started = true;
    s.reason = std::move(reason);
    s.message = std::move(message);
  }

  // Every step that is Canceling ends Canceled (its pod stopped).
  void StopCanceling() {
    for (StepState& s : states_) {
      if (s.phase == Phase::kCanceling) s.phase = Phase::kCanceled;
    }
  }

  std::vector<std::string> Names(const std::vector<StepIndex>& v) const {
    std::vector<std::string> out;
    for (StepIndex i : v) out.push_back(Name(i));
    return out;
  }
  std::vector<std::string> Skipped(const flow::Plan& p) const {
    std::vector<std::string> out;
    for (const SkipDecision& d : p.skip) out.push_back(Name(d.step));
    return out;
  }
  std::vector<std::string> Canceled(const flow::Plan& p) const {
    std::vector<std::string> out;
    for (const CancelDecision& d : p.cancel) out.push_back(Name(d.step));
    return out;
  }
  std::string SkipMessage(const flow::Plan& p, const std::string& name) const {
    for (const SkipDecision& d : p.skip) {
      if (Name(d.step) == name) return d.message;
    }
    return "<not skipped>";
  }

 private:
  Dag dag_ = *Dag::Build({S("placeholder")});
  std::vector<StepState> states_;
  FlowOptions options_;
};

Flow Diamond() {
  return Flow({S("a"), S("b", {D("a")}), S("c", {D("a")}), S("d", {D("b"), D("c")})});
}

TEST(SchedulerTest, SizeMismatchIsAnError) {
  Flow f = Diamond();
  std::vector<StepState> three(3);
  absl::StatusOr<Plan> plan = PlanFlow(f.dag(), three, FlowOptions{});
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SchedulerTest, DiamondRunsInOrderAndSucceeds) {
  Flow f = Diamond();
  Plan p = f.Step();
  EXPECT_THAT(f.Names(p.start), ElementsAre("a"));
  EXPECT_EQ(p.phase, Phase::kRunning);
  EXPECT_EQ(p.reason, kFlowReasonRunning);
  EXPECT_EQ(p.message, "0/4 steps done, 1 running");

  // Nothing new while a runs; planning again is idempotent.
  p = f.Step();
  EXPECT_THAT(p.start, IsEmpty());
  EXPECT_EQ(p.phase, Phase::kRunning);

  f.Finish("a", Phase::kSucceeded);
  p = f.Step();
  EXPECT_THAT(f.Names(p.start), ElementsAre("b", "c"));

  f.Finish("b", Phase::kSucceeded);
  p = f.Step();
  EXPECT_THAT(p.start, IsEmpty()) << "d must wait for c";
  EXPECT_EQ(p.counts.done(), 2);
  EXPECT_EQ(p.counts.active, 1);

  f.Finish("c", Phase::kSucceeded);
  p = f.Step();
  EXPECT_THAT(f.Names(p.start), ElementsAre("d"));

  f.Finish("d", Phase::kSucceeded);
  p = f.Step();
  EXPECT_THAT(p.start, IsEmpty());
  EXPECT_THAT(p.skip, IsEmpty());
  EXPECT_THAT(p.cancel, IsEmpty());
  EXPECT_EQ(p.phase, Phase::kSucceeded);
  EXPECT_EQ(p.reason, kFlowReasonSucceeded);
  EXPECT_EQ(p.message, "all 4 steps done: 4 succeeded");
}

TEST(SchedulerTest, DiamondBranchFailureUnderContinueOthers) {
  Flow f = Diamond();
  f.options().on_step_failure = OnStepFailure::kContinueOthers;
  f.Step();
  f.Finish("a", Phase::kSucceeded);
  f.Step();
  f.Finish("b", Phase::kFailed, "Error", "exit code 1");
  Plan p = f.Step();
  // d can never run, c runs on.
  EXPECT_THAT(f.Skipped(p), ElementsAre("d"));
  EXPECT_EQ(f.SkipMessage(p, "d"), "dependency b ended Failed, needs Succeeded");
  EXPECT_THAT(p.cancel, IsEmpty());
  EXPECT_EQ(p.phase, Phase::kRunning);
  EXPECT_EQ(p.message, "3/4 steps done, 1 running; step b ended Failed (Error): exit code 1");

  f.Finish("c", Phase::kSucceeded);
  p = f.Step();
  EXPECT_EQ(p.phase, Phase::kFailed);
  EXPECT_EQ(p.reason, kFlowReasonStepFailed);
  EXPECT_EQ(p.message, "step b ended Failed (Error): exit code 1");
}

// Runs a flow to its end, finishing one running step per round (the
// earliest in topological order) with `outcome(name)`, and checks that no
// step started before all of its dependencies held.
Plan RunToEnd(Flow& f, const std::function<Phase(const std::string&)>& outcome,
              std::vector<std::string>* started_order = nullptr) {
  Plan p;
  for (int round = 0; round < 100000; ++round) {
    p = f.Step();
    for (StepIndex i : p.start) {
      for (const Dependency& d : f.dag().step(i).depends_on) {
        Phase dp = f.phase(f.Name(d.step));
        EXPECT_TRUE(internal::ConditionHolds(d.condition, dp))
            << f.Name(i) << " started while " << f.Name(d.step) << " is "
            << lifecycle::PhaseName(dp);
      }
      if (started_order != nullptr) started_order->push_back(f.Name(i));
    }
    f.StopCanceling();
    if (p.phase == Phase::kSucceeded || p.phase == Phase::kFailed || p.phase == Phase::kCanceled) {
      return p;
    }
    for (StepIndex i : f.dag().topological_order()) {
      if (f.phase(f.Name(i)) == Phase::kRunning) {
        f.Finish(f.Name(i), outcome(f.Name(i)));
        break;
      }
    }
  }
  ADD_FAILURE() << "flow did not end";
  return p;
}

Flow ThreeLevel() {
  // root -> {x, y, z}; x -> {x1, x2}; y -> {y1}; z -> {z1, z2}; all -> sink.
  return Flow({S("root"), S("x", {D("root")}), S("y", {D("root")}), S("z", {D("root")}),
               S("x1", {D("x")}), S("x2", {D("x")}), S("y1", {D("y")}), S("z1", {D("z")}),
               S("z2", {D("z")}), S("sink", {D("x1"), D("x2"), D("y1"), D("z1"), D("z2")})});
}

TEST(SchedulerTest, ThreeLevelFanOutFanInSucceeds) {
  Flow f = ThreeLevel();
  std::vector<std::string> order;
  Plan p = RunToEnd(
      f, [](const std::string&) { return Phase::kSucceeded; }, &order);
  EXPECT_EQ(p.phase, Phase::kSucceeded);
  EXPECT_EQ(p.counts.succeeded, 10);
  EXPECT_EQ(order.front(), "root");
  EXPECT_EQ(order.back(), "sink");
  EXPECT_EQ(order.size(), 10u);
}

TEST(SchedulerTest, ThreeLevelMidFailureSkipsOnlyItsDescendants) {
  Flow f = ThreeLevel();
  f.options().on_step_failure = OnStepFailure::kContinueOthers;
  Plan p = RunToEnd(
      f, [](const std::string& name) { return name == "y" ? Phase::kFailed : Phase::kSucceeded; });
  EXPECT_EQ(p.phase, Phase::kFailed);
  EXPECT_EQ(f.phase("y1"), Phase::kSkipped);
  EXPECT_EQ(f.phase("sink"), Phase::kSkipped);
  EXPECT_EQ(f.state("sink").message, "dependency y1 ended Skipped, needs Succeeded");
  for (const char* ran : {"x", "x1", "x2", "z", "z1", "z2"}) {
    EXPECT_EQ(f.phase(ran), Phase::kSucceeded) << ran;
  }
  EXPECT_EQ(p.message, "step y ended Failed");
}

// Every condition against every terminal outcome of the dependency.
struct ConditionCase {
  std::string condition;
  Phase outcome;
  bool runs;
};

class ConditionTableTest : public ::testing::TestWithParam<ConditionCase> {};

TEST_P(ConditionTableTest, DependentRunsOrIsSkipped) {
  const ConditionCase& c = GetParam();
  for (OnStepFailure policy : {OnStepFailure::kStopFlow, OnStepFailure::kContinueOthers}) {
    SCOPED_TRACE(OnStepFailureName(policy));
    Flow f({S("dep"), S("next", {D("dep", c.condition)})});
    f.options().on_step_failure = policy;
    f.Finish("dep", c.outcome);
    if (c.outcome == Phase::kCanceled) f.state("dep").canceled_by = CancelCause::kStep;
    Plan p = f.Decide();
    if (c.runs) {
      EXPECT_THAT(f.Names(p.start), ElementsAre("next"));
      EXPECT_THAT(p.skip, IsEmpty());
      EXPECT_EQ(p.phase, Phase::kRunning);
    } else {
      EXPECT_THAT(p.start, IsEmpty());
      EXPECT_THAT(f.Skipped(p), ElementsAre("next"));
      std::string needs = c.condition.empty() ? "Succeeded" : c.condition;
      EXPECT_EQ(f.SkipMessage(p, "next"),
                absl::StrCat("dependency dep ended ", lifecycle::PhaseName(c.outcome), ", needs ",
                             needs));
      bool failed = c.outcome == Phase::kFailed || c.outcome == Phase::kKilled;
      EXPECT_EQ(p.phase, failed ? Phase::kFailed : Phase::kSucceeded);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllConditionsAllOutcomes, ConditionTableTest,
                         ::testing::Values(ConditionCase{"", Phase::kSucceeded, true},
                                           ConditionCase{"", Phase::kFailed, false},
                                           ConditionCase{"Succeeded", Phase::kSucceeded, true},
                                           ConditionCase{"Succeeded", Phase::kFailed, false},
                                           ConditionCase{"Succeeded", Phase::kKilled, false},
                                           ConditionCase{"Succeeded", Phase::kCanceled, false},
                                           ConditionCase{"Succeeded", Phase::kSkipped, false},
                                           ConditionCase{"Failed", Phase::kSucceeded, false},
                                           ConditionCase{"Failed", Phase::kFailed, true},
                                           ConditionCase{"Failed", Phase::kKilled, true},
                                           ConditionCase{"Failed", Phase::kCanceled, false},
                                           ConditionCase{"Failed", Phase::kSkipped, false},
                                           ConditionCase{"Completed", Phase::kSucceeded, true},
                                           ConditionCase{"Completed", Phase::kFailed, true},
                                           ConditionCase{"Completed", Phase::kKilled, true},
                                           ConditionCase{"Completed", Phase::kCanceled, true},
                                           ConditionCase{"Completed", Phase::kSkipped, true},
                                           ConditionCase{"Canceled", Phase::kSucceeded, false},
                                           ConditionCase{"Canceled", Phase::kFailed, false},
                                           ConditionCase{"Canceled", Phase::kKilled, false},
                                           ConditionCase{"Canceled", Phase::kCanceled, true},
                                           ConditionCase{"Canceled", Phase::kSkipped, false}));

TEST(SchedulerTest, NoConditionHoldsWhileTheDependencyIsNotTerminal) {
  for (Phase p :
       {Phase::kPending, Phase::kRunning, Phase::kRetrying, Phase::kCanceling, Phase::kUnknown}) {
    for (Condition c :
         {Condition::kSucceeded, Condition::kFailed, Condition::kCompleted, Condition::kCanceled}) {
      EXPECT_FALSE(internal::ConditionHolds(c, p))
          << lifecycle::PhaseName(p) << " " << ConditionName(c);
    }
    // And a dependent waits: neither started nor skipped.
    for (const char* cond : {"", "Failed", "Completed", "Canceled"}) {
      Flow f({S("dep"), S("next", {D("dep", cond)})});
      f.state("dep").phase = p;
      f.state("dep").started = true;
      Plan plan = f.Decide();
      EXPECT_THAT(plan.start, IsEmpty()) << lifecycle::PhaseName(p) << " " << cond;
      EXPECT_THAT(plan.skip, IsEmpty()) << lifecycle::PhaseName(p) << " " << cond;
    }
  }
}

TEST(SchedulerTest, AllDependenciesMustHold) {
  // d needs a Succeeded AND b Failed.
  Flow f({S("a"), S("b"), S("d", {D("a"), D("b", "Failed")})});
  f.options().on_step_failure = OnStepFailure::kContinueOthers;
  f.Finish("a", Phase::kSucceeded);
  EXPECT_THAT(f.Decide().start, ElementsAre(f.Index("b")));
  f.Finish("b", Phase::kSucceeded);
  Plan p = f.Decide();
  EXPECT_THAT(p.start, IsEmpty());
  EXPECT_EQ(f.SkipMessage(p, "d"), "dependency b ended Succeeded, needs Failed");
}

TEST(SchedulerTest, SkippingPropagatesTransitivelyInOnePlan) {
  // a -> b -> c -> d, and e runs after d whatever happens.
  Flow f({S("a"), S("b", {D("a")}), S("c", {D("b")}), S("d", {D("c")}),
          S("e", {D("d", "Completed")})});
  f.Finish("a", Phase::kFailed, "Error", "exit code 2");
  Plan p = f.Decide();
  EXPECT_THAT(f.Skipped(p), ElementsAre("b", "c", "d"));
  EXPECT_EQ(f.SkipMessage(p, "b"), "dependency a ended Failed, needs Succeeded");
  EXPECT_EQ(f.SkipMessage(p, "c"), "dependency b ended Skipped, needs Succeeded");
  EXPECT_EQ(f.SkipMessage(p, "d"), "dependency c ended Skipped, needs Succeeded");
  // e is a handler (Completed): it is not stopped, and a Skipped dependency
  // completes it.
  EXPECT_THAT(f.Names(p.start), ElementsAre("e"));
  EXPECT_EQ(p.phase, Phase::kRunning);
  EXPECT_EQ(p.reason, kFlowReasonStopping);
}

TEST(SchedulerTest, CleanupOnFailedRunsOnlyWhenItsDependencyFailed) {
  for (OnStepFailure policy : {OnStepFailure::kStopFlow, OnStepFailure::kContinueOthers}) {
    SCOPED_TRACE(OnStepFailureName(policy));
    {
      Flow f({S("main"), S("cleanup", {D("main", "Failed")})});
      f.options().on_step_failure = policy;
      Plan p = RunToEnd(f, [](const std::string&) { return Phase::kSucceeded; });
      EXPECT_EQ(p.phase, Phase::kSucceeded);
      EXPECT_EQ(f.phase("cleanup"), Phase::kSkipped);
      EXPECT_EQ(f.state("cleanup").message, "dependency main ended Succeeded, needs Failed");
      EXPECT_EQ(p.message, "all 2 steps done: 1 succeeded, 1 skipped");
    }
    {
      Flow f({S("main"), S("cleanup", {D("main", "Failed")})});
      f.options().on_step_failure = policy;
      f.Step();
      f.Finish("main", Phase::kFailed, "Error", "exit code 3");
      Plan p = f.Step();
      EXPECT_THAT(f.Names(p.start), ElementsAre("cleanup"));
      EXPECT_EQ(p.phase, Phase::kRunning);
      f.Finish("cleanup", Phase::kSucceeded);
      p = f.Step();
      // The cleanup ran, but the flow still failed, naming the failed step.
      EXPECT_EQ(p.phase, Phase::kFailed);
      EXPECT_EQ(p.message, "step main ended Failed (Error): exit code 3");
    }
  }
}

TEST(SchedulerTest, PerStepCancelKeepsTheFlowSucceeded) {
  // a -> b -> c, b -> onb (Canceled), and an independent branch x -> y.
  Flow f({S("a"), S("b", {D("a")}), S("c", {D("b")}), S("onb", {D("b", "Canceled")}), S("x"),
          S("y", {D("x")})});
  f.Step();
  f.Finish("a", Phase::kSucceeded);
  f.Step();
  ASSERT_EQ(f.phase("b"), Phase::kRunning);

  f.state("b").cancel = true;
  Plan p = f.Step();
  ASSERT_EQ(p.cancel.size(), 1u);
  EXPECT_EQ(f.Name(p.cancel[0].step), "b");
  EXPECT_EQ(p.cancel[0].cause, CancelCause::kStep);
  EXPECT_TRUE(p.cancel[0].started);
  EXPECT_EQ(p.cancel[0].message, "canceled on request (spec.steps[].cancel)");
  EXPECT_EQ(p.phase, Phase::kRunning);
  EXPECT_EQ(p.reason, kFlowReasonRunning);

  // Planning again while b is Canceling does not cancel it twice.
  p = f.Step();
  EXPECT_THAT(p.cancel, IsEmpty());

  f.StopCanceling();  // b: Canceling -> Canceled
  p = f.Step();
  EXPECT_THAT(f.Skipped(p), ElementsAre("c"));
  EXPECT_EQ(f.SkipMessage(p, "c"), "dependency b ended Canceled, needs Succeeded");
  EXPECT_THAT(f.Names(p.start), ElementsAre("onb"));

  Plan end = RunToEnd(f, [](const std::string&) { return Phase::kSucceeded; });
  EXPECT_EQ(end.phase, Phase::kSucceeded);
  EXPECT_EQ(end.message, "all 6 steps done: 4 succeeded, 1 canceled, 1 skipped");
  EXPECT_EQ(f.phase("y"), Phase::kSucceeded);
}

TEST(SchedulerTest, PerStepCancelOfANotStartedStepCancelsItDirectly) {
  Flow f({S("a"), S("b", {D("a")}), S("c", {D("b")})});
  f.Step();
  f.state("b").cancel = true;
  Plan p = f.Step();
  ASSERT_EQ(p.cancel.size(), 1u);
  EXPECT_FALSE(p.cancel[0].started);
  EXPECT_EQ(f.phase("b"), Phase::kCanceled);
  EXPECT_THAT(f.Skipped(p), ElementsAre("c"));
  EXPECT_EQ(p.phase, Phase::kRunning);  // a still runs
  f.Finish("a", Phase::kSucceeded);
  p = f.Step();
  EXPECT_EQ(p.phase, Phase::kSucceeded);
}

TEST(SchedulerTest, CancelOfAFinishedStepChangesNothing) {
  Flow f({S("a"), S("b", {D("a")})});
  f.Finish("a", Phase::kSucceeded);
  f.state("a").cancel = true;
  Plan p = f.Decide();
  EXPECT_THAT(p.cancel, IsEmpty());
  EXPECT_THAT(f.Names(p.start), ElementsAre("b"));
}

TEST(SchedulerTest, StopFlowCancelsRunningAndSkipsPending) {
  // Three independent steps and one that depends on a; parallelism 2 keeps
  // c from starting before a fails.
  Flow f({S("a"), S("b"), S("c"), S("d", {D("a")})});
  f.options().parallelism = 2;
  Plan p = f.Step();
  EXPECT_THAT(f.Names(p.start), ElementsAre("a", "b"));
  EXPECT_EQ(p.message, "0/4 steps done, 2 running, 1 waiting for parallelism 2");
  EXPECT_THAT(f.Names(p.waiting), ElementsAre("c"));

  f.Finish("a", Phase::kKilled, "OOMKilled", "container main exceeded its memory limit 1Gi");
  p = f.Step();
  EXPECT_THAT(p.start, IsEmpty());
  EXPECT_THAT(f.Canceled(p), ElementsAre("b"));
  EXPECT_EQ(p.cancel[0].cause, CancelCause::kFlowStopped);
  EXPECT_EQ(p.cancel[0].message, "flow stopped: step a failed");
  EXPECT_THAT(f.Skipped(p), UnorderedElementsAre("c", "d"));
  EXPECT_EQ(f.SkipMessage(p, "c"), "flow stopped: step a failed");
  EXPECT_EQ(f.SkipMessage(p, "d"), "dependency a ended Killed, needs Succeeded");
  EXPECT_EQ(p.phase, Phase::kRunning);
  EXPECT_EQ(p.reason, kFlowReasonStopping);
  EXPECT_THAT(p.message, HasSubstr("stopping: step a ended Killed (OOMKilled)"));

  f.StopCanceling();
  p = f.Step();
  EXPECT_EQ(p.phase, Phase::kFailed);
  EXPECT_EQ(p.reason, kFlowReasonStepFailed);
  EXPECT_EQ(p.message,
            "step a ended Killed (OOMKilled): container main exceeded its memory limit 1Gi");
  EXPECT_EQ(p.counts.failed, 1);
  EXPECT_EQ(p.counts.canceled, 1);
  EXPECT_EQ(p.counts.skipped, 2);
}

TEST(SchedulerTest, ContinueOthersLetsIndependentBranchesFinish) {
  Flow f({S("a"), S("b"), S("c"), S("d", {D("a")})});
  f.options().parallelism = 2;
  f.options().on_step_failure = OnStepFailure::kContinueOthers;
  f.Step();
  f.Finish("a", Phase::kFailed, "Error", "exit code 1");
  Plan p = f.Step();
  EXPECT_THAT(p.cancel, IsEmpty());
  EXPECT_THAT(f.Names(p.start), ElementsAre("c"));
  EXPECT_THAT(f.Skipped(p), ElementsAre("d"));
  EXPECT_EQ(p.reason, kFlowReasonRunning);
  f.Finish("b", Phase::kSucceeded);
  f.Finish("c", Phase::kSucceeded);
  p = f.Step();
  EXPECT_EQ(p.phase, Phase::kFailed);
  EXPECT_EQ(p.message, "step a ended Failed (Error): exit code 1");
}

TEST(SchedulerTest, StopFlowLeavesRunningHandlersAlone) {
  // guard runs after a whatever happens; b failing must not cancel it.
  Flow f({S("a"), S("guard", {D("a", "Completed")}), S("b"), S("later", {D("guard")})});
  f.Finish("a", Phase::kSucceeded);
  f.state("guard").phase = Phase::kRunning;
  f.state("guard").started = true;
  f.Finish("b", Phase::kFailed);
  Plan p = f.Decide();
  EXPECT_THAT(p.cancel, IsEmpty());
  // "later" is an ordinary step: stopped.
  EXPECT_THAT(f.Skipped(p), ElementsAre("later"));
  EXPECT_EQ(p.phase, Phase::kRunning);
  EXPECT_EQ(p.reason, kFlowReasonStopping);
}

TEST(SchedulerTest, StopFlowHandlerOnCanceledRunsAfterTheStop) {
  // When a fails, b (running) is stopped; onb reacts to b's cancellation.
  Flow f({S("a"), S("b"), S("onb", {D("b", "Canceled")})});
  f.Step();
  f.Finish("a", Phase::kFailed);
  Plan p = f.Step();
  EXPECT_THAT(f.Canceled(p), ElementsAre("b"));
  EXPECT_THAT(p.start, IsEmpty());
  f.StopCanceling();
  p = f.Step();
  EXPECT_THAT(f.Names(p.start), ElementsAre("onb"));
  f.Finish("onb", Phase::kSucceeded);
  p = f.Step();
  EXPECT_EQ(p.phase, Phase::kFailed);
  EXPECT_EQ(p.message, "step a ended Failed");
}

TEST(SchedulerTest, RetryingAndUnknownAreActiveNotFailed) {
  Flow f({S("a"), S("b"), S("c", {D("a")})});
  f.options().parallelism = 2;
  f.state("a").phase = Phase::kRetrying;
  f.state("b").phase = Phase::kUnknown;
  Plan p = f.Decide();
  EXPECT_THAT(p.start, IsEmpty());
  EXPECT_THAT(p.skip, IsEmpty());
  EXPECT_THAT(p.cancel, IsEmpty());
  EXPECT_EQ(p.counts.active, 2);
  EXPECT_EQ(p.phase, Phase::kRunning);
}

TEST(SchedulerTest, StartedPendingStepIsActive) {
  Flow f({S("a"), S("b")});
  f.options().parallelism = 1;
  f.state("a").started = true;  // Job created, pod not running yet
  Plan p = f.Decide();
  EXPECT_THAT(p.start, IsEmpty());
  EXPECT_EQ(p.counts.active, 1);
  EXPECT_EQ(p.counts.not_started, 1);
}

TEST(SchedulerTest, ParallelismIsNeverExceededInAWideFanOut) {
  for (int parallelism : {1, 3, 7, 50}) {
    SCOPED_TRACE(parallelism);
    std::vector<StepSpec> specs = {S("root")};
    std::vector<DependencySpec> all;
    for (int k = 0; k < 60; ++k) {
      specs.push_back(S(absl::StrCat("w", k), {D("root")}));
      all.push_back(D(absl::StrCat("w", k)));
    }
    specs.push_back(S("sink", all));
    Flow f(specs);
    f.options().parallelism = parallelism;
    std::mt19937 rng(parallelism);
    int max_active = 0;
    for (int round = 0; round < 1000; ++round) {
      Plan p = f.Step();
      EXPECT_LE(p.counts.active, parallelism);
      int active = 0;
      std::vector<std::string> running;
      for (StepIndex i = 0; i < f.dag().size(); ++i) {
        if (f.phase(f.Name(i)) == Phase::kRunning) running.push_back(f.Name(i));
      }
      active = static_cast<int>(running.size());
      ASSERT_LE(active, parallelism);
      max_active = std::max(max_active, active);
      if (p.phase == Phase::kSucceeded) break;
      ASSERT_FALSE(running.empty());
      // Finish a random running step.
      f.Finish(running[rng() % running.size()], Phase::kSucceeded);
    }
    EXPECT_EQ(f.phase("sink"), Phase::kSucceeded);
    EXPECT_EQ(max_active, parallelism);
  }
}

TEST(SchedulerTest, ParallelismCountsStepsBeingCanceled) {
  Flow f({S("a"), S("b"), S("c")});
  f.options().parallelism = 2;
  f.Step();
  f.state("a").cancel = true;
  Plan p = f.Step();
  EXPECT_THAT(f.Canceled(p), ElementsAre("a"));
  EXPECT_THAT(p.start, IsEmpty()) << "a's pod still runs until it stops";
  f.StopCanceling();
  p = f.Step();
  EXPECT_THAT(f.Names(p.start), ElementsAre("c"));
}

TEST(SchedulerTest, NegativeParallelismMeansUnlimited) {
  Flow f({S("a"), S("b"), S("c")});
  f.options().parallelism = -1;
  EXPECT_EQ(f.Decide().start.size(), 3u);
}

TEST(SchedulerTest, SuspendStartsNothing) {
  Flow f = Diamond();
  f.options().suspend = true;
  Plan p = f.Step();
  EXPECT_THAT(p.start, IsEmpty());
  EXPECT_EQ(p.phase, Phase::kPending);
  EXPECT_EQ(p.reason, kFlowReasonSuspended);
  EXPECT_EQ(p.message, "suspended: 4 steps waiting, 0/4 steps done");
  EXPECT_THAT(f.Names(p.waiting), ElementsAre("a"));

  f.options().suspend = false;
  p = f.Step();
  EXPECT_THAT(f.Names(p.start), ElementsAre("a"));

  // Suspended mid-run: a runs on, nothing new starts after it.
  f.options().suspend = true;
  p = f.Step();
  EXPECT_EQ(p.phase, Phase::kRunning);
  EXPECT_EQ(p.reason, kFlowReasonSuspended);
  f.Finish("a", Phase::kSucceeded);
  p = f.Step();
  EXPECT_THAT(p.start, IsEmpty());
  EXPECT_EQ(p.phase, Phase::kRunning);  // it has made progress: not back to Pending
  EXPECT_EQ(p.reason, kFlowReasonSuspended);
  EXPECT_EQ(p.message, "suspended: 3 steps waiting, 1/4 steps done");
  EXPECT_THAT(f.Names(p.waiting), ElementsAre("b", "c"));

  f.options().suspend = false;
  p = f.Step();
  EXPECT_THAT(f.Names(p.start), ElementsAre("b", "c"));
}

TEST(SchedulerTest, SuspendStillSkipsAndCancels) {
  Flow f({S("a"), S("b", {D("a")}), S("c")});
  f.options().suspend = true;
  f.Finish("a", Phase::kFailed);
  f.state("c").phase = Phase::kRunning;
  f.state("c").started = true;
  Plan p = f.Decide();
  EXPECT_THAT(f.Skipped(p), ElementsAre("b"));
  EXPECT_THAT(f.Canceled(p), ElementsAre("c"));
}

TEST(SchedulerTest, FlowCancelCancelsAllRunningAndEndsCanceled) {
  Flow f({S("a"), S("b"), S("c", {D("a")}), S("d", {D("c")}), S("e")});
  f.options().parallelism = 2;
  f.Step();  // a and b run
  f.Finish("a", Phase::kSucceeded);
  f.Step();  // c and e... parallelism 2: b still runs, so c
  ASSERT_EQ(f.phase("c"), Phase::kRunning);
  ASSERT_EQ(f.phase("e"), Phase::kPending);

  f.options().cancel = true;
  Plan p = f.Step();
  EXPECT_THAT(p.start, IsEmpty());
  EXPECT_THAT(f.Canceled(p), ElementsAre("b", "c", "d", "e"));
  for (const CancelDecision& d : p.cancel) {
    EXPECT_EQ(d.cause, CancelCause::kFlowCanceled);
    EXPECT_EQ(d.message, "flow canceled (spec.cancel)");
  }
  EXPECT_EQ(f.phase("b"), Phase::kCanceling);
  EXPECT_EQ(f.phase("d"), Phase::kCanceled);
  EXPECT_THAT(p.skip, IsEmpty());
  EXPECT_EQ(p.phase, Phase::kCanceling);
  EXPECT_EQ(p.reason, kFlowReasonCanceled);

  f.StopCanceling();
  p = f.Step();
  EXPECT_EQ(p.phase, Phase::kCanceled);
  EXPECT_EQ(p.message, "flow canceled: 1 succeeded, 4 canceled");
}

TEST(SchedulerTest, FlowCancelBeforeAnythingStartedEndsCanceledAtOnce) {
  Flow f = Diamond();
  f.options().cancel = true;
  Plan p = f.Decide();
  EXPECT_THAT(p.start, IsEmpty());
  EXPECT_EQ(p.cancel.size(), 4u);
  for (const CancelDecision& d : p.cancel) EXPECT_FALSE(d.started);
  EXPECT_EQ(p.phase, Phase::kCanceled);
}

TEST(SchedulerTest, FlowCancelAfterTheEndChangesNothing) {
  Flow f({S("a"), S("b", {D("a", "Failed")})});
  f.Finish("a", Phase::kSucceeded);
  f.Finish("b", Phase::kSkipped);
  f.options().cancel = true;
  Plan p = f.Decide();
  EXPECT_THAT(p.cancel, IsEmpty());
  EXPECT_EQ(p.phase, Phase::kSucceeded);
}

TEST(SchedulerTest, FlowCancelWinsOverAnEarlierFailure) {
  Flow f({S("a"), S("b")});
  f.options().on_step_failure = OnStepFailure::kContinueOthers;
  f.Step();
  f.Finish("a", Phase::kFailed, "Error", "exit code 1");
  f.options().cancel = true;
  Plan p = f.Step();
  EXPECT_THAT(f.Canceled(p), ElementsAre("b"));
  f.StopCanceling();
  p = f.Step();
  EXPECT_EQ(p.phase, Phase::kCanceled);
  EXPECT_EQ(p.message,
            "flow canceled: 0 succeeded, 1 failed, 1 canceled; before the cancel step a ended "
            "Failed (Error): exit code 1");
}

TEST(SchedulerTest, FlowCancelDoesNotRecancelACancelingStep) {
  Flow f({S("a"), S("b")});
  f.state("a").phase = Phase::kCanceling;
  f.state("a").canceled_by = CancelCause::kStep;
  f.state("b").phase = Phase::kRunning;
  f.options().cancel = true;
  Plan p = f.Decide();
  EXPECT_THAT(f.Canceled(p), ElementsAre("b"));
  EXPECT_EQ(p.phase, Phase::kCanceling);
}

TEST(SchedulerTest, UnrecordedCancelCauseIsInferredFromTheSpec) {
  // Canceled with no recorded cause and spec.cancel set: the flow cancel did
  // it, so the flow is Canceled.
  Flow f({S("a"), S("b")});
  f.Finish("a", Phase::kSucceeded);
  f.Finish("b", Phase::kCanceled);
  f.options().cancel = true;
  EXPECT_EQ(f.Decide().phase, Phase::kCanceled);
  // The same with the step's own cancel set: the user canceled that step.
  f.state("b").cancel = true;
  EXPECT_EQ(f.Decide().phase, Phase::kSucceeded);
  // A recorded cause wins over the spec.
  f.state("b").canceled_by = CancelCause::kFlowCanceled;
  EXPECT_EQ(f.Decide().phase, Phase::kCanceled);
}

TEST(SchedulerTest, StepsCanceledByTheStopDoNotAddFailures) {
  Flow f({S("a"), S("b"), S("c")});
  f.Finish("a", Phase::kFailed, "DeadlineExceeded");
  f.Finish("b", Phase::kCanceled);
  f.state("b").canceled_by = CancelCause::kFlowStopped;
  f.Finish("c", Phase::kCanceled);
  f.state("c").canceled_by = CancelCause::kStep;
  Plan p = f.Decide();
  EXPECT_EQ(p.phase, Phase::kFailed);
  EXPECT_EQ(p.message, "step a ended Failed (DeadlineExceeded)");
  EXPECT_EQ(p.counts.failed, 1);
}

TEST(SchedulerTest, SeveralFailuresAreNamed) {
  std::vector<StepSpec> specs;
  for (int k = 0; k < 8; ++k) specs.push_back(S(absl::StrCat("s", k)));
  Flow f(specs);
  for (int k = 0; k < 8; ++k) f.Finish(absl::StrCat("s", k), Phase::kFailed, "Error");
  Plan p = f.Decide();
  EXPECT_EQ(p.message, "step s0 ended Failed (Error); 7 more failed: s1, s2, s3, s4, s5, ...");
}

TEST(SchedulerTest, Chain200RunsOneStepAtATime) {
  const int n = 200;
  std::vector<StepSpec> specs = {S("s0")};
  for (int k = 1; k < n; ++k)
    specs.push_back(S(absl::StrCat("s", k), {D(absl::StrCat("s", k - 1))}));
  Flow f(specs);
  for (int k = 0; k < n; ++k) {
    Plan p = f.Step();
    ASSERT_THAT(f.Names(p.start), ElementsAre(absl::StrCat("s", k)));
    EXPECT_EQ(p.counts.done(), k);
    f.Finish(absl::StrCat("s", k), Phase::kSucceeded);
  }
  Plan p = f.Decide();
  EXPECT_EQ(p.phase, Phase::kSucceeded);
  EXPECT_EQ(p.counts.succeeded, n);
}

TEST(SchedulerTest, Chain200HeadFailureSkipsAllInOnePlan) {
  const int n = 200;
  std::vector<StepSpec> specs = {S("s0")};
  for (int k = 1; k < n; ++k)
    specs.push_back(S(absl::StrCat("s", k), {D(absl::StrCat("s", k - 1))}));
  Flow f(specs);
  f.Finish("s0", Phase::kFailed);
  Plan p = f.Step();
  EXPECT_EQ(p.skip.size(), static_cast<std::size_t>(n - 1));
  EXPECT_EQ(p.phase, Phase::kFailed);
  EXPECT_EQ(f.state("s199").message, "dependency s198 ended Skipped, needs Succeeded");
}

TEST(SchedulerTest, FanOut200StartsAllAtOnce) {
  const int width = 200;
  std::vector<StepSpec> specs = {S("root")};
  std::vector<DependencySpec> all;
  for (int k = 0; k < width; ++k) {
    specs.push_back(S(absl::StrCat("w", k), {D("root")}));
    all.push_back(D(absl::StrCat("w", k)));
  }
  specs.push_back(S("sink", all));
  Flow f(specs);
  f.Step();
  f.Finish("root", Phase::kSucceeded);
  Plan p = f.Step();
  ASSERT_EQ(p.start.size(), static_cast<std::size_t>(width));
  EXPECT_EQ(f.Name(p.start.front()), "w0");
  EXPECT_EQ(f.Name(p.start.back()), "w199");
  for (int k = 0; k < width; ++k) f.Finish(absl::StrCat("w", k), Phase::kSucceeded);
  p = f.Step();
  EXPECT_THAT(f.Names(p.start), ElementsAre("sink"));
  f.Finish("sink", Phase::kSucceeded);
  EXPECT_EQ(f.Decide().phase, Phase::kSucceeded);
}

TEST(SchedulerTest, Dense200StepsRunInSpecOrder) {
  // Every step depends on every earlier one: 19900 edges.
  const int n = 200;
  std::vector<StepSpec> specs;
  for (int k = 0; k < n; ++k) {
    std::vector<DependencySpec> deps;
    for (int j = 0; j < k; ++j) deps.push_back(D(absl::StrCat("s", j), j % 2 ? "Completed" : ""));
    specs.push_back(S(absl::StrCat("s", k), deps));
  }
  Flow f(specs);
  std::vector<std::string> order;
  Plan p = RunToEnd(
      f, [](const std::string&) { return Phase::kSucceeded; }, &order);
  EXPECT_EQ(p.phase, Phase::kSucceeded);
  ASSERT_EQ(order.size(), static_cast<std::size_t>(n));
  for (int k = 0; k < n; ++k) EXPECT_EQ(order[k], absl::StrCat("s", k));
}

TEST(SchedulerTest, NamesRoundTrip) {
  for (CancelCause c :
       {CancelCause::kStep, CancelCause::kFlowCanceled, CancelCause::kFlowStopped}) {
    EXPECT_EQ(ParseCancelReason(CancelReason(c)), c);
  }
  EXPECT_EQ(ParseCancelReason("Error"), CancelCause::kNone);
  EXPECT_EQ(ParseOnStepFailure(""), OnStepFailure::kStopFlow);
  EXPECT_EQ(ParseOnStepFailure("StopFlow"), OnStepFailure::kStopFlow);
  EXPECT_EQ(ParseOnStepFailure("ContinueOthers"), OnStepFailure::kContinueOthers);
  EXPECT_EQ(ParseOnStepFailure("continue"), std::nullopt);
  EXPECT_EQ(OnStepFailureName(OnStepFailure::kContinueOthers), "ContinueOthers");
}

// Random flows, random outcomes, random options: whatever happens, the
// invariants hold and the flow ends.
TEST(SchedulerPropertyTest, RandomFlowsAlwaysEndConsistently) {
  const Phase kOutcomes[] = {Phase::kSucceeded, Phase::kSucceeded, Phase::kSucceeded,
                             Phase::kFailed, Phase::kKilled};
  const char* kConditions[] = {"", "", "", "Failed", "Completed", "Canceled"};
  absl::flat_hash_map<Phase, int> endings;
  for (int seed = 0; seed < 1000; ++seed) {
    SCOPED_TRACE(seed);
    std::mt19937 rng(seed);
    const int n = 1 + static_cast<int>(rng() % 25);
    std::vector<StepSpec> specs;
    for (int k = 0; k < n; ++k) {
      std::vector<DependencySpec> deps;
      for (int j = 0; j < k; ++j) {
        if (rng() % 4 == 0) deps.push_back(D(absl::StrCat("s", j), kConditions[rng() % 6]));
      }
      specs.push_back(S(absl::StrCat("s", k), deps));
    }
    Flow f(specs);
    FlowOptions& o = f.options();
    o.on_step_failure = rng() % 2 ? OnStepFailure::kStopFlow : OnStepFailure::kContinueOthers;
    o.parallelism = static_cast<int>(rng() % 4);
    const int cancel_step_at = static_cast<int>(rng() % 40);
    const int cancel_flow_at = rng() % 3 == 0 ? static_cast<int>(rng() % 15) : -1;
    const int suspend_from = static_cast<int>(rng() % 20),
              suspend_len = static_cast<int>(rng() % 5);

    bool ever_failed = false;
    bool ended = false;
    for (int round = 0; round < 2000 && !ended; ++round) {
      o.suspend = round >= suspend_from && round < suspend_from + suspend_len;
      if (round == cancel_flow_at) o.cancel = true;
      if (round == cancel_step_at) f.state(absl::StrCat("s", rng() % n)).cancel = true;
      const bool failed_before = ever_failed;
      Plan p = f.Step();
      if (failed_before && o.on_step_failure == OnStepFailure::kStopFlow) {
        for (StepIndex i : p.start) {
          EXPECT_TRUE(f.dag().step(i).handler) << f.Name(i) << " started after the flow stopped";
        }
      }
      if (o.suspend || o.cancel) {
        EXPECT_THAT(p.start, IsEmpty());
      }
      for (StepIndex i : p.start) {
        for (const Dependency& d : f.dag().step(i).depends_on) {
          // After Apply(), a dependency skipped or canceled by this same
          // plan shows its new phase.
          EXPECT_TRUE(internal::ConditionHolds(d.condition, f.phase(f.Name(d.step))))
              << f.Name(i) << " started before " << f.Name(d.step) << " held";
        }
      }
      int running = 0;
      std::vector<std::string> can_finish;
      for (StepIndex i = 0; i < f.dag().size(); ++i) {
        Phase ph = f.phase(f.Name(i));
        if (ph == Phase::kRunning || ph == Phase::kCanceling) ++running;
        if (ph == Phase::kRunning || ph == Phase::kCanceling) can_finish.push_back(f.Name(i));
        if (ph == Phase::kFailed || ph == Phase::kKilled) ever_failed = true;
      }
      if (o.parallelism > 0) {
        ASSERT_LE(running, o.parallelism);
      }
      // Work-conserving: a ready step waits only for suspend or a full quota.
      if (!o.suspend && !p.waiting.empty()) {
        EXPECT_GT(o.parallelism, 0);
        EXPECT_EQ(running, o.parallelism);
      }
      if (o.suspend) {
        EXPECT_THAT(p.start, IsEmpty());
      }
      EXPECT_EQ(p.counts.active, running);
      EXPECT_EQ(p.counts.total, n);
      switch (p.phase) {
        case Phase::kSucceeded:
          EXPECT_FALSE(ever_failed);
          ended = true;
          break;
        case Phase::kFailed:
          EXPECT_TRUE(ever_failed);
          ended = true;
          break;
        case Phase::kCanceled:
          EXPECT_TRUE(o.cancel);
          ended = true;
          break;
        default:
          break;
      }
      if (ended) {
        EXPECT_EQ(p.counts.done(), n);
        EXPECT_THAT(p.start, IsEmpty());
        for (StepIndex i = 0; i < f.dag().size(); ++i) {
          EXPECT_TRUE(lifecycle::IsTerminal(f.phase(f.Name(i)))) << f.Name(i);
        }
        // A settled flow plans nothing more.
        Plan again = f.Decide();
        EXPECT_THAT(again.start, IsEmpty());
        EXPECT_THAT(again.skip, IsEmpty());
        EXPECT_THAT(again.cancel, IsEmpty());
        EXPECT_EQ(again.phase, p.phase);
        ++endings[p.phase];
        break;
      }
      if (can_finish.empty()) continue;  // suspended with nothing running
      const std::string& name = can_finish[rng() % can_finish.size()];
      if (f.phase(name) == Phase::kCanceling) {
        f.state(name).phase = Phase::kCanceled;
      } else {
        f.Finish(name, kOutcomes[rng() % 5]);
      }
    }
    EXPECT_TRUE(ended) << "flow never ended";
  }
  // The generator reaches every ending.
  EXPECT_GT(endings[Phase::kSucceeded], 10);
  EXPECT_GT(endings[Phase::kFailed], 10);
  EXPECT_GT(endings[Phase::kCanceled], 10);
}

}  // namespace
}  // namespace weir::flow
