// Dag is the validated dependency graph of a JobFlow's steps (docs/design.md §2).
//
// Dag::Build() takes the steps as written in spec.steps and either returns a
// graph in which every dependency names another existing step, with a known
// condition, and no cycle; or an InvalidArgument status whose message names the
// offending field and the reason, ready to be the message of a `Valid=False`
// condition. ValidationReason() gives the CamelCase reason for that condition.
// Only the first problem found is reported: first each step's name and
// template (in spec order), then each step's dependencies, then cycles.
//
// Steps are identified by StepIndex, their position in spec.steps. The graph
// keeps, for each step, its dependencies (with their condition) and its
// dependents, and a topological order: a step always comes after all of its
// dependencies, ties broken by spec order (so the order is deterministic and
// follows the author's order where the graph allows). Building is
// O((V + E) log V); everything else is a lookup.
//
// Dag is a plain value: copyable, immutable after Build(), safe to share
// between threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace weir::flow {

using StepIndex = std::uint32_t;

// When a dependency holds, judged from the dependency's terminal phase.
enum class Condition {
  kSucceeded,  // the dependency Succeeded (the default)
  kFailed,     // the dependency ended Failed or Killed (it failed after its retries)
  kCompleted,  // the dependency reached any terminal phase, Skipped included
  kCanceled,   // the dependency ended Canceled, whoever asked for it
};

// The spelling used in the API: "Succeeded", "Failed", "Completed", "Canceled".
absl::string_view ConditionName(Condition c);
// Parses the API spelling (case-sensitive). An empty string is the default,
// kSucceeded. Anything else is std::nullopt.
std::optional<Condition> ParseCondition(absl::string_view s);

// One entry of spec.steps[].dependsOn, as written by the user.
struct DependencySpec {
  std::string step;
  std::string condition;  // "" means Succeeded
};

// One entry of spec.steps, reduced to what the graph needs.
struct StepSpec {
  std::string name;
  std::string template_name;
  std::vector<DependencySpec> depends_on;
};

// A validated dependency edge.
struct Dependency {
  StepIndex step;
  Condition condition;
};

struct Step {
  std::string name;
  std::string template_name;
  std::vector<Dependency> depends_on;  // in spec order
  std::vector<StepIndex> dependents;   // steps that depend on this one, ascending
  // True when at least one dependency asks for something other than
  // Succeeded: the step exists to react to a failure or a cancellation (a
  // cleanup or a "finally" step). The scheduler lets such steps run on when
  // the flow stops after a failure (see scheduler.h).
  bool handler = false;
};

// Reasons carried by a Build() error, for the `Valid=False` condition.
inline constexpr absl::string_view kReasonNoSteps = "NoSteps";
inline constexpr absl::string_view kReasonInvalidStepName = "InvalidStepName";
inline constexpr absl::string_view kReasonDuplicateStepName = "DuplicateStepName";
inline constexpr absl::string_view kReasonMissingTemplate = "MissingTemplate";
inline constexpr absl::string_view kReasonUnknownDependency = "UnknownDependency";
inline constexpr absl::string_view kReasonSelfDependency = "SelfDependency";
inline constexpr absl::string_view kReasonDuplicateDependency = "DuplicateDependency";
inline constexpr absl::string_view kReasonInvalidCondition = "InvalidCondition";
inline constexpr absl::string_view kReasonDependencyCycle = "DependencyCycle";

// The CamelCase reason attached to a status returned by Dag::Build(), or
// "InvalidSpec" for any other non-OK status, or "" for OK.
std::string ValidationReason(const absl::Status& status);

class Dag {
 public:
  // Validates `steps` and builds the graph. Errors are InvalidArgument with
  // messages such as
  //   spec.steps[2].dependsOn[0].step: unknown step "extrct"
  //   spec.steps: steps a -> b -> c -> a form a cycle
  // where "x -> y" reads "y depends on x".
  static absl::StatusOr<Dag> Build(absl::Span<const StepSpec> steps);

  std::size_t size() const { return steps_.size(); }
  const Step& step(StepIndex i) const { return steps_[i]; }
  const std::vector<Step>& steps() const { return steps_; }

  // The index of the step called `name`, if there is one.
  std::optional<StepIndex> Find(absl::string_view name) const;

  // Every step exactly once, each after all of its dependencies; among steps
  // free to go in either order, the one earlier in spec.steps comes first.
  const std::vector<StepIndex>& topological_order() const { return order_; }

 private:
  Dag() = default;

  std::vector<Step> steps_;
  absl::flat_hash_map<std::string, StepIndex> by_name_;
  std::vector<StepIndex> order_;
};

namespace internal {

// True if `s` is an RFC 1123 label as Kubernetes checks it: 1 to 63
// characters, lowercase letters, digits and '-', starting and ending with a
// letter or digit.
bool IsDns1123Label(absl::string_view s);

// Given the dependents of each node (edges i -> dependents[i]), finds a
// cycle if there is one and returns its nodes in edge order, starting at the
// node with the smallest index on it (the closing repeat is not included).
// Returns an empty vector for an acyclic graph. Iterative; O(V + E).
std::vector<StepIndex> FindCycle(const std::vector<std::vector<StepIndex>>& dependents);

}  // namespace internal
}  // namespace weir::flow
