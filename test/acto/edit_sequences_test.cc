// Generated edit sequences against weir-controller (issue 18, after Acto):
// a Batch (even seeds) or a JobFlow (odd seeds) is applied, and a seeded
// EditGenerator, reading the CRD schema the API server serves, edits its spec
// (or, one edit in five, the flow's JobTemplate) at random moments while it
// is pending, running and finished. After each edit:
//   - refused by the API server: the message names the field, and an edit
//     the schema's own bounds forbid is never let through;
//   - accepted: weir takes the new generation in (status.observedGeneration).
// After the sequence the owner must end (once canceled if it still runs),
// its status must agree with its spec (no record of a step the spec lost
// before it started), deleting it must leave no Job or pod, the controller
// must not have crashed, and the independent oracle (test/oracle) judges
// every version stored, DESIGN §5's invariants 1-5, among them that nothing
// runs once the owner reads terminal.
//
// WEIR_EDITS=ci (the default): seeds 1-4, one per test; full (`make
// faults`): seeds 1-200; seed-<n>: that sequence alone, as a failure prints.
#include <errno.h>

#include <cstdlib>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "test/acto/edit_generator.h"
#include "test/e2e/support/batch_objects.h"
#include "test/e2e/support/controller_process.h"
#include "test/e2e/support/eventually.h"
#include "test/e2e/support/kubectl.h"
#include "test/e2e/support/oracle_watch.h"

namespace weir::acto {
namespace {

using e2e::Eventually;
using e2e::Flow;
using e2e::Kubectl;
using e2e::Plays;
using e2e::Step;
using e2e::Template;
using nlohmann::json;

constexpr char kBatches[] = "batches.weir.dev";
constexpr char kFlows[] = "jobflows.weir.dev";
constexpr char kTemplates[] = "jobtemplates.weir.dev";
constexpr int kEditsPerSequence = 5;
constexpr int kSlots = 4;        // tests; slot s runs seeds s, s+4, ...
constexpr int kFullSeeds = 200;  // WEIR_EDITS=full

Hints SubjectHints() {
  const json failing_job = e2e::SimulatedBatch("", "x", "Failed")["spec"]["jobSpec"];
  return {
      {"spec.template", {"work", "missing"}},
      {"spec.jobSpec", {failing_job}},
      {"spec.steps[].template", {"work", "other", "missing"}},
      {"spec.steps[].patch", {Plays("Hang")["patch"], Plays("Failed")["patch"]}},
      {"spec.steps[]",
       {Step("n1", "work", {{"a", "Completed"}}), Step("n2", "work", {}, Plays("Hang"))}},
      {"spec.steps[].dependsOn[]",
       {{{"step", "a"}, {"condition", "Succeeded"}},
        {{"step", "missing"}, {"condition", "Succeeded"}},
        {{"step", "d"}, {"condition", "Failed"}}}},
  };
}

bool Ended(const json& o) {
  const std::string phase = o.value("status", json::object()).value("phase", "");
  return phase == "Succeeded" || phase == "Failed" || phase == "Killed" || phase == "Canceled";
}

// The last part of a schema field, as the API server's messages name it:
// "spec.steps[].retry.limit" -> "limit".
std::string Leaf(const std::string& field) {
  absl::string_view leaf(field);
  leaf.remove_prefix(leaf.rfind('.') + 1);
  absl::ConsumeSuffix(&leaf, "[]");
  return std::string(leaf);
}

class EditSequencesTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    absl::StatusOr<Kubectl> k = Kubectl::FromEnv();
    ASSERT_TRUE(k.ok()) << k.status();
    kubectl_.emplace(*std::move(k));
  }

  // The openAPIV3Schema of `spec` the API server serves for `crd`.
  json ServedSchema(const std::string& crd) {
    absl::StatusOr<json> c = kubectl_->GetJson({"get", "crd", crd});
    EXPECT_TRUE(c.ok()) << c.status();
    if (!c.ok()) return json();
    return (*c)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
  }

  struct Counts {
    int accepted = 0;
    int refused = 0;
  };

  // One sequence; failures name `seed` and the replay line.
  Counts Run(int seed) {
    const bool batch = seed % 2 == 0;
    const std::string resource = batch ? kBatches : kFlows;
    const std::string name = batch ? "b" : "f";
    SCOPED_TRACE(absl::StrCat("seed ", seed, " (", resource, "); replay: WEIR_EDITS=seed-", seed,
                              " ", program_invocation_name,
                              " --gtest_filter='*EditSequencesTest*'"));
    Counts counts;
    e2e::TestNamespace ns(*kubectl_, "acto");
    absl::StatusOr<std::unique_ptr<e2e::OracleWatch>> oracle =
        e2e::OracleWatch::Start(*kubectl_, ns.name());
    EXPECT_TRUE(oracle.ok()) << oracle.status();
    e2e::ControllerProcess controller(
        {"--namespace=" + ns.name(), "--batch-idle-timeout=1h"},
        absl::StrCat(::testing::TempDir(), "/acto-", ns.name(), ".controller.log"));
    absl::Status started = controller.Start();
    EXPECT_TRUE(started.ok()) << started;

    std::vector<json> objects = {Template("work", "Succeeded", "2s"), Template("other", "Failed")};
    if (batch) {
      objects.push_back(e2e::SimulatedBatch(
          "", name, "Succeeded", {{"retry", {{"limit", 1}, {"backoffSeconds", 1}}}},
          {{"sim.weir.dev/outcome-attempt-1", "Failed"}, {"sim.weir.dev/duration", "3s"}}));
    } else {
      objects.push_back(Flow(name,
                             {Step("a", "work"), Step("b", "work", {{"a", "Succeeded"}}),
                              Step("c", "work", {{"a", "Completed"}}),
                              Step("d", "work", {{"b", "Succeeded"}, {"c", "Succeeded"}})},
                             {{"parallelism", 2}}));
    }
    for (json o : objects) {
      absl::Status applied =
          kubectl_->Run({"apply", "-n", ns.name(), "-f", "-"}, o.dump()).status();
      EXPECT_TRUE(applied.ok()) << applied;
    }

    EditGenerator generator(ServedSchema(resource), SubjectHints(), seed);
    // A flow's JobTemplate is edited too, one edit in five.
    EditGenerator template_generator(ServedSchema(kTemplates), SubjectHints(), seed);
    std::mt19937_64 timing(seed);
    for (int i = 0; i < kEditsPerSequence; ++i) {
      absl::SleepFor(absl::Milliseconds(std::uniform_int_distribution<int>(0, 3000)(timing)));
      const bool of_template = !batch && std::uniform_int_distribution<int>(0, 4)(timing) == 0;
      const std::string target = of_template ? kTemplates : resource;
      const std::string target_name = of_template ? "work" : name;
      absl::StatusOr<std::optional<json>> now = kubectl_->Find(target, target_name, ns.name());
      EXPECT_TRUE(now.ok()) << now.status();
      if (!now.ok() || !now->has_value()) break;
      const Edit edit = (of_template ? template_generator : generator).Next(**now);
      absl::StatusOr<std::string> out =
          kubectl_->Run({"patch", target, target_name, "-n", ns.name(), "--type=json", "-p",
                         edit.patch.dump(), "-o", "json"});
      if (!out.ok()) {
        const std::string message(out.status().message());
        // 422: the schema or one of its rules refused the edit.
        EXPECT_TRUE(absl::StrContains(message, "is invalid"))
            << "edit " << edit.what << " failed otherwise than refused: " << message;
        EXPECT_TRUE(absl::StrContains(message, Leaf(edit.field)) ||
                    absl::StrContains(message, "spec.steps"))
            << "the refusal of " << edit.what << " does not name the field: " << message;
        std::printf("seed %d edit %d: %s%s: refused\n", seed, i + 1,
                    of_template ? "JobTemplate " : "", edit.what.c_str());
        ++counts.refused;
        continue;
      }
      ++counts.accepted;
      EXPECT_FALSE(edit.past_schema) << "the API server let through " << edit.what;
      const int64_t generation = json::parse(*out)["metadata"].value("generation", int64_t{0});
      std::printf("seed %d edit %d: %s%s: accepted (generation %lld)\n", seed, i + 1,
                  of_template ? "JobTemplate " : "", edit.what.c_str(),
                  static_cast<long long>(generation));
      if (of_template) continue;  // no status: steps started later use it
      // "Reflected in the status": weir read this generation.
      const bool observed = Eventually(
          [&]() -> absl::StatusOr<bool> {
            absl::StatusOr<std::optional<json>> o = kubectl_->Find(resource, name, ns.name());
            if (!o.ok()) return o.status();
            if (!o->has_value()) return true;
            return (**o).value("status", json::object()).value("observedGeneration", int64_t{0}) >=
                   generation;
          },
          absl::Seconds(30));
      EXPECT_TRUE(observed) << "weir did not take in generation " << generation << " (" << edit.what
                            << ") in 30 s";
    }

    // The owner ends: by itself, or once canceled.
    auto ended = [&](absl::Duration timeout) {
      return Eventually(
          [&]() -> absl::StatusOr<bool> {
            absl::StatusOr<std::optional<json>> o = kubectl_->Find(resource, name, ns.name());
            if (!o.ok()) return o.status();
            return !o->has_value() || Ended(**o);
          },
          timeout);
    };
    if (!ended(absl::Seconds(20))) {
      absl::Status canceled = kubectl_
                                  ->Run({"patch", resource, name, "-n", ns.name(), "--type=merge",
                                         "-p", R"({"spec":{"cancel":true}})"})
                                  .status();
      EXPECT_TRUE(canceled.ok()) << canceled;
      EXPECT_TRUE(ended(absl::Seconds(60))) << resource << " " << name << " did not end";
    }
    if (absl::StatusOr<std::optional<json>> last = kubectl_->Find(resource, name, ns.name());
        last.ok() && last->has_value() && !batch) {
      ExpectStatusFollowsSpec(**last);
    }

    absl::StatusOr<std::string> left =
        e2e::LeftAfterDeletingOwners(*kubectl_, ns.name(), absl::Seconds(60));
    EXPECT_TRUE(left.ok()) << left.status();
    EXPECT_EQ(left.value_or(""), "") << "left behind after the owner was deleted";
    EXPECT_FALSE(controller.Exited().has_value())
        << "the controller exited; see " << controller.log_path();
    if (oracle.ok()) e2e::FinishAndJudge(*std::move(oracle));
    controller.Stop();
    return counts;
  }

  // A flow's records agree with its spec once it ended: each step of the
  // spec has one (unless the spec is invalid, which records none), and a
  // record of a step the spec no longer has is of one that started.
  void ExpectStatusFollowsSpec(const json& flow) {
    std::set<std::string> in_spec;
    for (const json& s : flow["spec"].value("steps", json::array())) {
      in_spec.insert(s.value("name", ""));
    }
    bool valid = true;
    for (const json& c : flow["status"].value("conditions", json::array())) {
      if (c.value("type", "") == "Valid" && c.value("status", "") == "False") valid = false;
    }
    std::set<std::string> recorded;
    for (const json& r : flow["status"].value("steps", json::array())) {
      const std::string step = r.value("name", "");
      recorded.insert(step);
      EXPECT_TRUE(in_spec.contains(step) || !r.value("attempts", json::array()).empty())
          << "step " << step
          << " is recorded but neither in the spec nor started: " << flow["status"].dump();
    }
    if (!valid) return;
    for (const std::string& step : in_spec) {
      EXPECT_TRUE(recorded.contains(step))
          << "step " << step << " of the spec has no record: " << flow["status"].dump();
    }
  }

  std::optional<Kubectl> kubectl_;
};

std::vector<int> SeedsOf(int slot) {
  const char* env = std::getenv("WEIR_EDITS");
  const std::string mode = env == nullptr || *env == '\0' ? "ci" : env;
  absl::string_view one = mode;
  if (int seed = 0; absl::ConsumePrefix(&one, "seed-") && absl::SimpleAtoi(one, &seed)) {
    return (seed - 1) % kSlots + 1 == slot ? std::vector<int>{seed} : std::vector<int>{};
  }
  if (mode != "full") return {slot};
  std::vector<int> seeds;
  for (int s = slot; s <= kFullSeeds; s += kSlots) seeds.push_back(s);
  return seeds;
}

TEST_P(EditSequencesTest, Run) {
  const std::vector<int> seeds = SeedsOf(GetParam());
  if (seeds.empty()) GTEST_SKIP() << "WEIR_EDITS picks a seed of another test";
  Counts total;
  for (int seed : seeds) {
    const Counts c = Run(seed);
    total.accepted += c.accepted;
    total.refused += c.refused;
  }
  std::printf("%zu sequences, %d edits accepted, %d refused\n", seeds.size(), total.accepted,
              total.refused);
}

INSTANTIATE_TEST_SUITE_P(Slots, EditSequencesTest, ::testing::Range(1, kSlots + 1));

}  // namespace
}  // namespace weir::acto
