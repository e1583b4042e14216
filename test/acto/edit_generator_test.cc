#include "test/acto/edit_generator.h"

#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/support/yaml_json.h"
#include "yaml-cpp/yaml.h"

#ifndef WEIR_CRDS_DIR
#error "WEIR_CRDS_DIR must be defined"
#endif

namespace weir::acto {
namespace {

using nlohmann::json;
using ::testing::Contains;
using ::testing::Field;

// The openAPIV3Schema of `spec` in crds/<file>.
json SpecSchema(const std::string& file) {
  const json crd = test::ToJson(YAML::LoadFile(std::string(WEIR_CRDS_DIR) + "/" + file));
  return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
}

const Hints& TestHints() {
  static const auto* const kHints = new Hints{
      {"spec.template", {"work", "missing"}},
      {"spec.steps[].template", {"work", "missing"}},
      {"spec.jobSpec", {{{"template", {{"spec", {{"containers", {{{"name", "main"}}}}}}}}}}},
      {"spec.steps[].patch", {json::object()}},
      {"spec.steps[]", {{{"name", "added"}, {"template", "work"}}}},
      {"spec.steps[].dependsOn[]", {{{"step", "a"}, {"condition", "Failed"}}}},
  };
  return *kHints;
}

// An object of each kind with a value in every field (so that every field
// has its edits, removals included).
json FullBatch() {
  return json::parse(R"({"spec": {
    "template": "work", "mainContainer": "main", "cancel": false,
    "jobSpec": {"template": {"spec": {"containers": [{"name": "main"}]}}},
    "retry": {"limit": 2, "backoffSeconds": 1, "onReasons": ["Error"],
              "onOOM": {"memoryFactor": 2.0, "maxMemory": "256Mi"}},
    "idleTimeoutSeconds": 60, "ttlSecondsAfterFinished": 60, "imagePullGraceSeconds": 60}})");
}

json FullFlow() {
  return json::parse(R"({"spec": {
    "onStepFailure": "StopFlow", "parallelism": 2, "suspend": false, "cancel": false,
    "jobRetainPolicy": "Retain", "idleTimeoutSeconds": 60, "ttlSecondsAfterFinished": 60,
    "steps": [
      {"name": "a", "template": "work", "patch": {}, "cancel": false,
       "retry": {"limit": 2, "backoffSeconds": 1, "onReasons": ["Error"],
                 "onOOM": {"memoryFactor": 2.0, "maxMemory": "256Mi"}}},
      {"name": "b", "template": "work", "dependsOn": [{"step": "a", "condition": "Succeeded"}]}]}})");
}

json FullTemplate() {
  return json::parse(
      R"({"spec": {"jobSpec": {"template": {"spec": {"containers": [{"name": "main"}]}}}}})");
}

struct Crd {
  std::string file;
  json object;
};

std::vector<Crd> Crds() {
  return {{"weir.dev_batches.yaml", FullBatch()},
          {"weir.dev_jobflows.yaml", FullFlow()},
          {"weir.dev_jobtemplates.yaml", FullTemplate()}};
}

TEST(EditGeneratorTest, EveryFieldOfEveryCrdHasEdits) {
  for (const Crd& crd : Crds()) {
    SCOPED_TRACE(crd.file);
    const json schema = SpecSchema(crd.file);
    const std::vector<std::string> fields = SchemaFields(schema);
    ASSERT_GE(fields.size(), 2u);  // spec.jobSpec at least
    std::set<std::string> edited;
    for (const Edit& e : CandidateEdits(schema, crd.object, TestHints())) edited.insert(e.field);
    for (const std::string& f : fields) {
      EXPECT_TRUE(f == "spec" || edited.contains(f)) << f << " has no edit";
    }
  }
}

TEST(EditGeneratorTest, EveryPatchAppliesAndChangesTheObject) {
  for (const Crd& crd : Crds()) {
    SCOPED_TRACE(crd.file);
    for (const Edit& e : CandidateEdits(SpecSchema(crd.file), crd.object, TestHints())) {
      SCOPED_TRACE(e.what);
      json edited;
      ASSERT_NO_THROW(edited = crd.object.patch(e.patch)) << e.patch.dump();
      EXPECT_NE(edited, crd.object) << e.patch.dump();
    }
  }
}

// An integer with bounds gets both bounds and the values just past them,
// the latter marked as beyond the schema.
TEST(EditGeneratorTest, BoundsAndJustPastThem) {
  const std::vector<Edit> edits =
      CandidateEdits(SpecSchema("weir.dev_batches.yaml"), FullBatch(), TestHints());
  auto value_of = [&](const std::string& v, bool past) {
    for (const Edit& e : edits) {
      if (e.field == "spec.retry.limit" && e.patch[0].value("value", json()) == json::parse(v) &&
          e.past_schema == past) {
        return true;
      }
    }
    return false;
  };
  EXPECT_TRUE(value_of("0", false));
  EXPECT_TRUE(value_of("100", false));
  EXPECT_TRUE(value_of("101", true));
  EXPECT_TRUE(value_of("-1", true));
  EXPECT_THAT(edits, Contains(Field(&Edit::what, "spec.retry.onOOM.memoryFactor removed")));
  EXPECT_THAT(edits, Contains(Field(&Edit::what, "spec.mainContainer of 64 characters")));
}

// A field whose parent object is absent is added with its parent.
TEST(EditGeneratorTest, AnAbsentParentIsAddedWithTheField) {
  const json batch = {{"spec", {{"template", "work"}}}};
  for (const Edit& e : CandidateEdits(SpecSchema("weir.dev_batches.yaml"), batch, TestHints())) {
    if (e.what != "spec.retry.onOOM.memoryFactor = 3") continue;
    EXPECT_EQ(e.patch, json::parse(R"([{"op": "add", "path": "/spec/retry",
                                        "value": {"onOOM": {"memoryFactor": 3.0}}}])"));
    return;
  }
  ADD_FAILURE() << "no edit sets spec.retry.onOOM.memoryFactor";
}

// Steps are removed, moved, repeated, renamed (also to a name the pattern
// refuses) and added; dependencies likewise.
TEST(EditGeneratorTest, StepsAreRemovedMovedRenamedAndAdded) {
  std::set<std::string> whats;
  for (const Edit& e :
       CandidateEdits(SpecSchema("weir.dev_jobflows.yaml"), FullFlow(), TestHints())) {
    whats.insert(e.what);
  }
  for (const char* want :
       {"spec.steps[0] removed", "spec.steps[0] moved to the end", "spec.steps[0] repeated",
        "spec.steps[0].name = \"a-x\"",
        "spec.steps[0].name = \"Not_A_Name\" (does not match the pattern)",
        "spec.steps += {\"name\":\"added\",\"template\":\"work\"}",
        "spec.steps[1].dependsOn[0] removed", "spec.steps[1].dependsOn[0].condition = \"Canceled\"",
        "spec.steps[0].dependsOn = [{\"condition\":\"Failed\",\"step\":\"a\"}]",
        "spec.steps[0].template = \"missing\""}) {
    EXPECT_TRUE(whats.contains(want)) << want;
  }
}

TEST(EditGeneratorTest, TheSameSeedGivesTheSameEdits) {
  const json schema = SpecSchema("weir.dev_jobflows.yaml");
  EditGenerator a(schema, TestHints(), 7), b(schema, TestHints(), 7), c(schema, TestHints(), 8);
  std::vector<std::string> from_a, from_b, from_c;
  for (int i = 0; i < 20; ++i) {
    from_a.push_back(a.Next(FullFlow()).what);
    from_b.push_back(b.Next(FullFlow()).what);
    from_c.push_back(c.Next(FullFlow()).what);
  }
  EXPECT_EQ(from_a, from_b);
  EXPECT_NE(from_a, from_c);
}

// Fields are drawn uniformly, so a flow's many step fields do not crowd out
// its own: 600 draws touch every field.
TEST(EditGeneratorTest, DrawsReachEveryField) {
  const json schema = SpecSchema("weir.dev_jobflows.yaml");
  EditGenerator g(schema, TestHints(), 1);
  std::set<std::string> drawn;
  for (int i = 0; i < 600; ++i) drawn.insert(g.Next(FullFlow()).field);
  for (const std::string& f : SchemaFields(schema)) {
    EXPECT_TRUE(f == "spec" || drawn.contains(f)) << f;
  }
}

}  // namespace
}  // namespace weir::acto
