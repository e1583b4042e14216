// Every object in examples/ parses and validates, and the JobFlow example's
// step patches merge into its JobTemplate to valid, distinct JobSpecs.
// (The API server accepts them too: test/scripts/crd_test.sh.)
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "api/batch.h"
#include "api/jobflow.h"
#include "api/jobspec.h"
#include "api/jobtemplate.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/support/yaml_json.h"
#include "yaml-cpp/yaml.h"

#ifndef WEIR_EXAMPLES_DIR
#error "WEIR_EXAMPLES_DIR must be defined"
#endif

namespace weir::api {
namespace {

using json = nlohmann::json;
using ::testing::ElementsAre;
using ::weir::test::ToJson;

std::map<std::string, std::vector<json>> LoadExamples() {
  std::map<std::string, std::vector<json>> by_file;
  for (const auto& entry : std::filesystem::directory_iterator(WEIR_EXAMPLES_DIR)) {
    if (entry.path().extension() != ".yaml") continue;
    for (const YAML::Node& doc : YAML::LoadAllFromFile(entry.path().string())) {
      if (doc.IsNull()) continue;
      by_file[entry.path().filename().string()].push_back(ToJson(doc));
    }
  }
  return by_file;
}

const json& Example(const std::string& file) {
  static const auto* const kExamples = new std::map<std::string, std::vector<json>>(LoadExamples());
  auto it = kExamples->find(file);
  EXPECT_TRUE(it != kExamples->end() && it->second.size() == 1) << file;
  static const json kNull;
  return it == kExamples->end() || it->second.empty() ? kNull : it->second.front();
}

TEST(ExamplesTest, EveryExampleIsValid) {
  std::map<std::string, std::vector<json>> all = LoadExamples();
  ASSERT_GE(all.size(), 4u);
  for (const auto& [file, docs] : all) {
    for (const json& doc : docs) {
      ASSERT_TRUE(doc.is_object()) << file;
      EXPECT_EQ(doc.value("apiVersion", ""), "weir.dev/v1alpha1") << file;
      std::string kind = doc.value("kind", "");
      absl::Status status;
      if (kind == "Batch") {
        status = ParseBatch(doc).spec.status();
      } else if (kind == "JobFlow") {
        status = ParseJobFlow(doc).spec.status();
      } else if (kind == "JobTemplate") {
        status = ParseJobTemplate(doc).job_spec.status();
      } else {
        ADD_FAILURE() << file << ": unexpected kind " << kind;
      }
      EXPECT_TRUE(status.ok()) << file << ": " << status;
    }
  }
}

TEST(ExamplesTest, BatchHello) {
  Batch b = ParseBatch(Example("batch-hello.yaml"));
  ASSERT_TRUE(b.spec.ok()) << b.spec.status();
  EXPECT_EQ(b.metadata.name, "hello");
  EXPECT_THAT(ContainerNames(*b.spec->job_spec), ElementsAre("main"));
  EXPECT_EQ(b.spec->retry, RetrySpec());
  EXPECT_EQ(b.spec->idle_timeout, absl::Seconds(60));
}

TEST(ExamplesTest, BatchOomRetry) {
  Batch b = ParseBatch(Example("batch-oom-retry.yaml"));
  ASSERT_TRUE(b.spec.ok()) << b.spec.status();
  EXPECT_EQ(b.spec->main_container, "trainer");
  EXPECT_EQ(b.spec->retry.limit, 2);
  ASSERT_TRUE(b.spec->retry.on_oom.has_value());
  EXPECT_EQ(b.spec->retry.on_oom->memory_factor, 2.0);
  EXPECT_EQ(b.spec->retry.on_oom->max_memory, *Quantity::Parse("256Mi"));
  EXPECT_THAT(b.spec->retry.on_reasons, ElementsAre("OOMKilled", "Evicted"));
  // It runs on the real node, where the trainer's 100 MiB needs attempt 3's
  // 128Mi (test/e2e/reality_test.cc runs it).
  const json& pod = (*b.spec->job_spec)["template"]["spec"];
  EXPECT_EQ(pod["nodeSelector"]["weir.dev/node"], "real");
  EXPECT_EQ(pod["containers"][1]["resources"]["limits"]["memory"], "32Mi");
}

TEST(ExamplesTest, DiamondStepsMergeIntoTheTemplate) {
  JobTemplate etl = ParseJobTemplate(Example("jobtemplate-etl.yaml"));
  ASSERT_TRUE(etl.job_spec.ok()) << etl.job_spec.status();
  EXPECT_EQ(etl.metadata.name, "etl");
  JobFlow flow = ParseJobFlow(Example("jobflow-diamond.yaml"));
  ASSERT_TRUE(flow.spec.ok()) << flow.spec.status();
  ASSERT_EQ(flow.spec->steps.size(), 4u);

  std::map<std::string, json> merged;
  for (const FlowStep& step : flow.spec->steps) {
    EXPECT_EQ(step.template_name, "etl") << step.name;
    json spec = MergeJobSpec(*etl.job_spec, step.patch.value_or(json()));
    EXPECT_TRUE(ValidateJobSpec(spec, "spec.jobSpec").ok()) << step.name;
    merged[step.name] = spec;
  }
  auto env = [&](const std::string& step) {
    return merged[step]["template"]["spec"]["containers"][0]["env"];
  };
  EXPECT_EQ(merged["extract"], *etl.job_spec);
  EXPECT_EQ(env("transform-a"), json::parse(R"([{"name": "STAGE", "value": "transform-a"},
                                                {"name": "INPUT", "value": "s3://bucket/raw"}])"));
  EXPECT_EQ(env("transform-b")[0]["value"], "transform-b");
  EXPECT_EQ(env("load").size(), 3u);
  EXPECT_EQ(merged["load"]["activeDeadlineSeconds"], 600);
  const json& b = merged["transform-b"]["template"];
  EXPECT_THAT(b["spec"]["containers"][0]["command"].dump(), ::testing::HasSubstr("sleep 4"));
  EXPECT_EQ(b["spec"]["nodeSelector"]["weir.dev/node"], "real") << "kept from the template";
  EXPECT_EQ(b["spec"]["containers"][0]["resources"]["limits"]["memory"], "256Mi");
  EXPECT_EQ(b["spec"]["containers"][0]["resources"]["requests"]["memory"], "64Mi");
  EXPECT_THAT(flow.spec->steps[3].depends_on, ElementsAre(DependsOn{"transform-a", "Succeeded"},
                                                          DependsOn{"transform-b", "Succeeded"}));
}

}  // namespace
}  // namespace weir::api
