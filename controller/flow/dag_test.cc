#include "flow/dag.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace weir::flow {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

StepSpec S(std::string name, std::vector<DependencySpec> deps = {}) {
  return StepSpec{std::move(name), "tmpl", std::move(deps)};
}

DependencySpec D(std::string step, std::string condition = "") {
  return DependencySpec{std::move(step), std::move(condition)};
}

// Names of the steps in topological order.
std::vector<std::string> OrderNames(const Dag& dag) {
  std::vector<std::string> names;
  for (StepIndex i : dag.topological_order()) names.push_back(dag.step(i).name);
  return names;
}

// Checks that every step comes after all of its dependencies, exactly once.
void ExpectTopological(const Dag& dag) {
  std::vector<int> position(dag.size(), -1);
  const auto& order = dag.topological_order();
  ASSERT_EQ(order.size(), dag.size());
  for (std::size_t p = 0; p < order.size(); ++p) {
    ASSERT_EQ(position[order[p]], -1) << "step listed twice";
    position[order[p]] = static_cast<int>(p);
  }
  for (StepIndex i = 0; i < dag.size(); ++i) {
    for (const Dependency& d : dag.step(i).depends_on) {
      EXPECT_LT(position[d.step], position[i])
          << dag.step(d.step).name << " must come before " << dag.step(i).name;
    }
  }
}

TEST(ConditionTest, ParsesApiSpellingsAndDefault) {
  EXPECT_EQ(ParseCondition(""), Condition::kSucceeded);
  EXPECT_EQ(ParseCondition("Succeeded"), Condition::kSucceeded);
  EXPECT_EQ(ParseCondition("Failed"), Condition::kFailed);
  EXPECT_EQ(ParseCondition("Completed"), Condition::kCompleted);
  EXPECT_EQ(ParseCondition("Canceled"), Condition::kCanceled);
  for (const char* bad : {"succeeded", "Skipped", "Cancelled", "Any", " Failed"}) {
    EXPECT_EQ(ParseCondition(bad), std::nullopt) << bad;
  }
}

TEST(ConditionTest, NameRoundTrips) {
  for (Condition c :
       {Condition::kSucceeded, Condition::kFailed, Condition::kCompleted, Condition::kCanceled}) {
    EXPECT_EQ(ParseCondition(ConditionName(c)), c);
  }
}

TEST(Dns1123LabelTest, Table) {
  struct Case {
    std::string name;
    bool valid;
  };
  const std::vector<Case> cases = {
      {"a", true},        {"extract", true},
      {"step-1", true},   {"1step", true},
      {"a-b-c-9", true},  {std::string(63, 'a'), true},
      {"", false},        {std::string(64, 'a'), false},
      {"Extract", false}, {"-a", false},
      {"a-", false},      {"a_b", false},
      {"a.b", false},     {"a b", false},
      {"ä", false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(internal::IsDns1123Label(c.name), c.valid) << "\"" << c.name << "\"";
  }
}

TEST(DagBuildTest, EmptyFlowIsRefused) {
  absl::StatusOr<Dag> dag = Dag::Build({});
  ASSERT_FALSE(dag.ok());
  EXPECT_EQ(dag.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidationReason(dag.status()), kReasonNoSteps);
  EXPECT_THAT(dag.status().message(), HasSubstr("spec.steps"));
}

TEST(DagBuildTest, BadStepNamesAreRefusedNamingTheField) {
  for (const std::string& bad : {std::string(""), std::string("Extract"), std::string("-x"),
                                 std::string("x-"), std::string("a_b"), std::string(64, 'x')}) {
    absl::StatusOr<Dag> dag = Dag::Build({S("ok"), S(bad)});
    ASSERT_FALSE(dag.ok()) << bad;
    EXPECT_EQ(ValidationReason(dag.status()), kReasonInvalidStepName);
    EXPECT_THAT(dag.status().message(), HasSubstr("spec.steps[1].name"));
    EXPECT_THAT(dag.status().message(), HasSubstr(absl::StrCat("\"", bad, "\"")));
    EXPECT_THAT(dag.status().message(), HasSubstr("DNS-1123"));
  }
}

TEST(DagBuildTest, DuplicateNamesAreRefused) {
  absl::StatusOr<Dag> dag = Dag::Build({S("a"), S("b"), S("a")});
  ASSERT_FALSE(dag.ok());
  EXPECT_EQ(ValidationReason(dag.status()), kReasonDuplicateStepName);
  EXPECT_EQ(dag.status().message(),
            "spec.steps[2].name: duplicate step name \"a\" (also spec.steps[0])");
}

TEST(DagBuildTest, MissingTemplateIsRefused) {
  absl::StatusOr<Dag> dag = Dag::Build({StepSpec{"a", "", {}}});
  ASSERT_FALSE(dag.ok());
  EXPECT_EQ(ValidationReason(dag.status()), kReasonMissingTemplate);
  EXPECT_THAT(dag.status().message(), HasSubstr("spec.steps[0].template"));
}

TEST(DagBuildTest, UnknownDependencyIsRefused) {
  absl::StatusOr<Dag> dag = Dag::Build({S("extract"), S("load", {D("extract"), D("extrct")})});
  ASSERT_FALSE(dag.ok());
  EXPECT_EQ(ValidationReason(dag.status()), kReasonUnknownDependency);
  EXPECT_EQ(dag.status().message(),
            "spec.steps[1].dependsOn[1].step: step \"load\" depends on unknown step \"extrct\"");
}

TEST(DagBuildTest, DependencyOnLaterStepIsFine) {
  absl::StatusOr<Dag> dag = Dag::Build({S("load", {D("extract")}), S("extract")});
  ASSERT_TRUE(dag.ok()) << dag.status();
  EXPECT_THAT(OrderNames(*dag), ElementsAre("extract", "load"));
}

TEST(DagBuildTest, SelfDependencyIsACycleOfLengthOne) {
  absl::StatusOr<Dag> dag = Dag::Build({S("a"), S("b", {D("a"), D("b", "Failed")})});
  ASSERT_FALSE(dag.ok());
  EXPECT_EQ(ValidationReason(dag.status()), kReasonSelfDependency);
  EXPECT_EQ(dag.status().message(),
            "spec.steps[1].dependsOn[1].step: step \"b\" depends on itself");
}

TEST(DagBuildTest, DuplicateDependencyIsRefusedEvenWithAnotherCondition) {
  for (const char* second : {"", "Succeeded", "Failed"}) {
    absl::StatusOr<Dag> dag = Dag::Build({S("a"), S("b", {D("a"), D("a", second)})});
    ASSERT_FALSE(dag.ok()) << second;
    EXPECT_EQ(ValidationReason(dag.status()), kReasonDuplicateDependency);
    EXPECT_EQ(dag.status().message(),
              "spec.steps[1].dependsOn[1].step: step \"b\" lists dependency \"a\" twice (also "
              "dependsOn[0])");
  }
}

TEST(DagBuildTest, UnknownConditionIsRefused) {
  for (const char* bad : {"Skipped", "succeeded", "Always"}) {
    absl::StatusOr<Dag> dag = Dag::Build({S("a"), S("b", {D("a", bad)})});
    ASSERT_FALSE(dag.ok()) << bad;
    EXPECT_EQ(ValidationReason(dag.status()), kReasonInvalidCondition);
    EXPECT_EQ(dag.status().message(),
              absl::StrCat("spec.steps[1].dependsOn[0].condition: unknown condition \"", bad,
                           "\": must be one of Succeeded, Failed, Completed, Canceled"));
  }
}

TEST(DagBuildTest, NamesAreCheckedBeforeDependencies) {
  // Step 2's bad name is reported even though step 1 has a bad dependency:
  // a dependency can only be judged once all names are known.
  absl::StatusOr<Dag> dag = Dag::Build({S("a"), S("b", {D("zz")}), S("C")});
  ASSERT_FALSE(dag.ok());
  EXPECT_EQ(ValidationReason(dag.status()), kReasonInvalidStepName);
}

TEST(DagBuildTest, ThreeCycleIsNamedInDependencyOrder) {
  // b depends on a, c on b, a on c.
  absl::StatusOr<Dag> dag = Dag::Build({S("a", {D("c")}), S("b", {D("a")}), S("c", {D("b")})});
  ASSERT_FALSE(dag.ok());
  EXPECT_EQ(ValidationReason(dag.status()), kReasonDependencyCycle);
  EXPECT_EQ(dag.status().message(),
            "spec.steps: steps a -> b -> c -> a form a cycle (x -> y: y depends on x)");
}

TEST(DagBuildTest, CycleNamesOnlyTheStepsOnIt) {
  // root -> x -> y -> z -> x, plus an unrelated tail hanging off the cycle.
  absl::StatusOr<Dag> dag = Dag::Build({S("root"), S("x", {D("root"), D("z")}), S("y", {D("x")}),
                                        S("z", {D("y")}), S("tail", {D("z")}), S("free")});
  ASSERT_FALSE(dag.ok());
  EXPECT_EQ(ValidationReason(dag.status()), kReasonDependencyCycle);
  EXPECT_THAT(dag.status().message(), HasSubstr("steps x -> y -> z -> x form a cycle"));
}

TEST(DagBuildTest, CycleMayUseAnyConditions) {
  absl::StatusOr<Dag> dag = Dag::Build({S("a", {D("b", "Failed")}), S("b", {D("a", "Completed")})});
  ASSERT_FALSE(dag.ok());
  EXPECT_THAT(dag.status().message(), HasSubstr("steps a -> b -> a form a cycle"));
}

class CycleLengthTest : public ::testing::TestWithParam<int> {};

// A ring s0 <- s1 <- ... <- s(n-1) <- s0 (each depends on the previous one,
// s0 on the last), declared in a shuffled order after an acyclic prefix.
TEST_P(CycleLengthTest, RingOfLengthNIsReportedWithAllItsSteps) {
  const int n = GetParam();
  std::vector<StepSpec> specs = {S("pre"), S("pre2", {D("pre")})};
  for (int k = n - 1; k >= 0; --k) {
    int prev = (k + n - 1) % n;
    specs.push_back(S(absl::StrCat("s", k), {D(absl::StrCat("s", prev))}));
  }
  absl::StatusOr<Dag> dag = Dag::Build(specs);
  ASSERT_FALSE(dag.ok());
  EXPECT_EQ(ValidationReason(dag.status()), kReasonDependencyCycle);
  // The ring starts at the step declared first, s(n-1), and follows the edges.
  std::string expected = "steps ";
  for (int k = 0; k <= n; ++k) {
    absl::StrAppend(&expected, k ? " -> " : "", "s", (n - 1 + k) % n);
  }
  absl::StrAppend(&expected, " form a cycle");
  EXPECT_THAT(dag.status().message(), HasSubstr(expected));
}

INSTANTIATE_TEST_SUITE_P(Lengths, CycleLengthTest,
                         ::testing::Values(2, 3, 4, 5, 7, 10, 50, 200, 1000));

TEST(FindCycleTest, AcyclicGraphHasNone) {
  EXPECT_THAT(internal::FindCycle({{1, 2}, {3}, {3}, {}}), IsEmpty());
  EXPECT_THAT(internal::FindCycle({}), IsEmpty());
}

TEST(FindCycleTest, FindsSelfLoopAndRotatesToSmallestIndex) {
  EXPECT_THAT(internal::FindCycle({{}, {1}}), ElementsAre(1));
  // 0 -> 3 -> 2 -> 1 -> 3: the cycle is 3 -> 2 -> 1 -> 3, reported from 1.
  EXPECT_THAT(internal::FindCycle({{3}, {3}, {1}, {2}}), ElementsAre(1, 3, 2));
}

TEST(DagTest, DiamondStructure) {
  absl::StatusOr<Dag> dag = Dag::Build({S("a"), S("b", {D("a")}), S("c", {D("a", "Completed")}),
                                        S("d", {D("b"), D("c", "Failed")})});
  ASSERT_TRUE(dag.ok()) << dag.status();
  EXPECT_EQ(dag->size(), 4u);
  EXPECT_THAT(OrderNames(*dag), ElementsAre("a", "b", "c", "d"));
  EXPECT_THAT(dag->step(0).dependents, ElementsAre(1, 2));
  EXPECT_THAT(dag->step(3).dependents, IsEmpty());
  ASSERT_EQ(dag->step(3).depends_on.size(), 2u);
  EXPECT_EQ(dag->step(3).depends_on[0].step, 1u);
  EXPECT_EQ(dag->step(3).depends_on[0].condition, Condition::kSucceeded);
  EXPECT_EQ(dag->step(3).depends_on[1].step, 2u);
  EXPECT_EQ(dag->step(3).depends_on[1].condition, Condition::kFailed);
  EXPECT_FALSE(dag->step(0).handler);
  EXPECT_FALSE(dag->step(1).handler);
  EXPECT_TRUE(dag->step(2).handler);
  EXPECT_TRUE(dag->step(3).handler);
  EXPECT_EQ(dag->step(2).template_name, "tmpl");
  EXPECT_EQ(dag->Find("c"), 2u);
  EXPECT_EQ(dag->Find("zz"), std::nullopt);
}

TEST(DagTest, TopologicalOrderPrefersSpecOrder) {
  // Declared backwards; independent roots keep their spec order.
  absl::StatusOr<Dag> dag =
      Dag::Build({S("z", {D("y")}), S("y", {D("x")}), S("x"), S("q"), S("p", {D("q"), D("x")})});
  ASSERT_TRUE(dag.ok()) << dag.status();
  EXPECT_THAT(OrderNames(*dag), ElementsAre("x", "y", "z", "q", "p"));
  ExpectTopological(*dag);
}

TEST(DagTest, LongChainIsOrderedWithoutRecursion) {
  // 20000 steps declared last-first: a deep chain must neither overflow the
  // stack nor take quadratic time.
  const int n = 20000;
  std::vector<StepSpec> specs;
  for (int k = n - 1; k >= 0; --k) {
    specs.push_back(k == 0 ? S("s0") : S(absl::StrCat("s", k), {D(absl::StrCat("s", k - 1))}));
  }
  absl::StatusOr<Dag> dag = Dag::Build(specs);
  ASSERT_TRUE(dag.ok()) << dag.status();
  ASSERT_EQ(dag->topological_order().size(), static_cast<std::size_t>(n));
  EXPECT_EQ(dag->step(dag->topological_order().front()).name, "s0");
  EXPECT_EQ(dag->step(dag->topological_order().back()).name, absl::StrCat("s", n - 1));
  ExpectTopological(*dag);
}

TEST(DagTest, WideFanOutAndFanIn) {
  const int width = 200;
  std::vector<StepSpec> specs = {S("root")};
  std::vector<DependencySpec> all;
  for (int k = 0; k < width; ++k) {
    specs.push_back(S(absl::StrCat("w", k), {D("root")}));
    all.push_back(D(absl::StrCat("w", k)));
  }
  specs.push_back(S("sink", all));
  absl::StatusOr<Dag> dag = Dag::Build(specs);
  ASSERT_TRUE(dag.ok()) << dag.status();
  EXPECT_EQ(dag->step(0).dependents.size(), static_cast<std::size_t>(width));
  EXPECT_EQ(dag->step(width + 1).depends_on.size(), static_cast<std::size_t>(width));
  EXPECT_EQ(OrderNames(*dag).front(), "root");
  EXPECT_EQ(OrderNames(*dag).back(), "sink");
  ExpectTopological(*dag);
}

TEST(ValidationReasonTest, OkAndForeignStatuses) {
  EXPECT_EQ(ValidationReason(absl::OkStatus()), "");
  EXPECT_EQ(ValidationReason(absl::InvalidArgumentError("x")), "InvalidSpec");
}

}  // namespace
}  // namespace weir::flow
