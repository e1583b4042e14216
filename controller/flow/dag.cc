#include "flow/dag.h"

#include <algorithm>
#include <functional>
#include <queue>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace weir::flow {
namespace {

constexpr absl::string_view kReasonPayloadUrl = "weir.dev/flow/validation-reason";

absl::Status Invalid(absl::string_view reason, absl::string_view field, absl::string_view message) {
  absl::Status s = absl::InvalidArgumentError(absl::StrCat(field, ": ", message));
  s.SetPayload(kReasonPayloadUrl, absl::Cord(reason));
  return s;
}

std::string StepField(std::size_t i) { return absl::StrCat("spec.steps[", i, "]"); }

std::string DependencyField(std::size_t i, std::size_t j) {
  return absl::StrCat(StepField(i), ".dependsOn[", j, "]");
}

}  // namespace

absl::string_view ConditionName(Condition c) {
  switch (c) {
    case Condition::kSucceeded:
      return "Succeeded";
    case Condition::kFailed:
      return "Failed";
    case Condition::kCompleted:
      return "Completed";
    case Condition::kCanceled:
      return "Canceled";
  }
  return "Unknown";
}

std::optional<Condition> ParseCondition(absl::string_view s) {
  if (s.empty() || s == "Succeeded") return Condition::kSucceeded;
  if (s == "Failed") return Condition::kFailed;
  if (s == "Completed") return Condition::kCompleted;
  if (s == "Canceled") return Condition::kCanceled;
  return std::nullopt;
}

std::string ValidationReason(const absl::Status& status) {
  if (status.ok()) return "";
  auto reason = status.GetPayload(kReasonPayloadUrl);
  if (!reason.has_value()) return "InvalidSpec";
  return std::string(*reason);
}

absl::StatusOr<Dag> Dag::Build(absl::Span<const StepSpec> specs) {
  if (specs.empty()) {
    return Invalid(kReasonNoSteps, "spec.steps", "at least one step is required");
  }
  Dag dag;
  dag.steps_.resize(specs.size());
  dag.by_name_.reserve(specs.size());

  // Names and templates first, so that every dependency below can be looked up.
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const StepSpec& spec = specs[i];
    if (!internal::IsDns1123Label(spec.name)) {
      return Invalid(
          kReasonInvalidStepName, absl::StrCat(StepField(i), ".name"),
          absl::StrCat("\"", spec.name,
                       "\" is not a valid step name: it must be a DNS-1123 label of 1 to 63 "
                       "characters, lowercase letters, digits and '-', starting and ending with a "
                       "letter or digit"));
    }
    auto [it, inserted] = dag.by_name_.emplace(spec.name, static_cast<StepIndex>(i));
    if (!inserted) {
      return Invalid(kReasonDuplicateStepName, absl::StrCat(StepField(i), ".name"),
                     absl::StrCat("duplicate step name \"", spec.name, "\" (also spec.steps[",
                                  it->second, "])"));
    }
    if (spec.template_name.empty()) {
      return Invalid(kReasonMissingTemplate, absl::StrCat(StepField(i), ".template"),
                     absl::StrCat("step \"", spec.name, "\" names no JobTemplate"));
    }
    dag.steps_[i].name = spec.name;
    dag.steps_[i].template_name = spec.template_name;
  }

  for (std::size_t i = 0; i < specs.size(); ++i) {
    const StepSpec& spec = specs[i];
    Step& step = dag.steps_[i];
    step.depends_on.reserve(spec.depends_on.size());
    absl::flat_hash_map<StepIndex, std::size_t> seen;  // dependency -> its first entry
    for (std::size_t j = 0; j < spec.depends_on.size(); ++j) {
      const DependencySpec& dep = spec.depends_on[j];
      auto target = dag.by_name_.find(dep.step);
      if (target == dag.by_name_.end()) {
        return Invalid(
            kReasonUnknownDependency, absl::StrCat(DependencyField(i, j), ".step"),
            absl::StrCat("step \"", spec.name, "\" depends on unknown step \"", dep.step, "\""));
      }
      if (target->second == i) {
        return Invalid(kReasonSelfDependency, absl::StrCat(DependencyField(i, j), ".step"),
                       absl::StrCat("step \"", spec.name, "\" depends on itself"));
      }
      auto [first, inserted] = seen.emplace(target->second, j);
      if (!inserted) {
        return Invalid(kReasonDuplicateDependency, absl::StrCat(DependencyField(i, j), ".step"),
                       absl::StrCat("step \"", spec.name, "\" lists dependency \"", dep.step,
                                    "\" twice (also dependsOn[", first->second, "])"));
      }
      std::optional<Condition> condition = ParseCondition(dep.condition);
      if (!condition.has_value()) {
        return Invalid(kReasonInvalidCondition, absl::StrCat(DependencyField(i, j), ".condition"),
                       absl::StrCat("unknown condition \"", dep.condition,
                                    "\": must be one of Succeeded, Failed, Completed, Canceled"));
      }
      step.depends_on.push_back(Dependency{target->second, *condition});
      if (*condition != Condition::kSucceeded) step.handler = true;
      dag.steps_[target->second].dependents.push_back(static_cast<StepIndex>(i));
    }
  }
  // Dependents were appended while walking steps in ascending order, so each
  // list is already sorted.

  // Kahn's algorithm with a min-heap: among ready steps, the earliest in spec
  // order goes first.
  const std::size_t n = dag.steps_.size();
  std::vector<std::size_t> waiting(n);
  std::priority_queue<StepIndex, std::vector<StepIndex>, std::greater<>> ready;
  for (std::size_t i = 0; i < n; ++i) {
    waiting[i] = dag.steps_[i].depends_on.size();
    if (waiting[i] == 0) ready.push(static_cast<StepIndex>(i));
  }
  dag.order_.reserve(n);
  while (!ready.empty()) {
    StepIndex i = ready.top();
    ready.pop();
    dag.order_.push_back(i);
    for (StepIndex d : dag.steps_[i].dependents) {
      if (--waiting[d] == 0) ready.push(d);
    }
  }
  if (dag.order_.size() != n) {
    std::vector<std::vector<StepIndex>> dependents(n);
    for (std::size_t i = 0; i < n; ++i) dependents[i] = dag.steps_[i].dependents;
    std::vector<StepIndex> cycle = internal::FindCycle(dependents);
    std::vector<absl::string_view> names;
    names.reserve(cycle.size() + 1);
    for (StepIndex i : cycle) names.push_back(dag.steps_[i].name);
    if (!names.empty()) names.push_back(names.front());
    return Invalid(kReasonDependencyCycle, "spec.steps",
                   absl::StrCat("steps ", absl::StrJoin(names, " -> "),
                                " form a cycle (x -> y: y depends on x)"));
  }
  return dag;
}

std::optional<StepIndex> Dag::Find(absl::string_view name) const {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return std::nullopt;
  return it->second;
}

namespace internal {

bool IsDns1123Label(absl::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  for (char c : s) {
    if (!alnum(c) && c != '-') return false;
  }
  return alnum(s.front()) && alnum(s.back());
}

std::vector<StepIndex> FindCycle(const std::vector<std::vector<StepIndex>>& dependents) {
  enum Color : unsigned char { kWhite, kGray, kBlack };
  const std::size_t n = dependents.size();
  std::vector<Color> color(n, kWhite);
  std::vector<StepIndex> parent(n, 0);
  // Explicit DFS stack of (node, index of the next edge to follow).
  std::vector<std::pair<StepIndex, std::size_t>> stack;
  for (std::size_t root = 0; root < n; ++root) {
    if (color[root] != kWhite) continue;
    color[root] = kGray;
    stack.emplace_back(static_cast<StepIndex>(root), 0);
    while (!stack.empty()) {
      auto& [node, next] = stack.back();
      if (next == dependents[node].size()) {
        color[node] = kBlack;
        stack.pop_back();
        continue;
      }
      StepIndex to = dependents[node][next++];
      if (color[to] == kWhite) {
        color[to] = kGray;
        parent[to] = node;
        stack.emplace_back(to, 0);
      } else if (color[to] == kGray) {
        // Back edge node -> to: the cycle is to -> ... -> node -> to.
        std::vector<StepIndex> cycle;
        for (StepIndex v = node; v != to; v = parent[v]) cycle.push_back(v);
        cycle.push_back(to);
        std::reverse(cycle.begin(), cycle.end());
        std::rotate(cycle.begin(), std::min_element(cycle.begin(), cycle.end()), cycle.end());
        return cycle;
      }
    }
  }
  return {};
}

}  // namespace internal
}  // namespace weir::flow
