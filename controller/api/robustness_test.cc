// Fuzz-like robustness tests: the parsers are fed many mutated and random
// JSON documents and must never throw, must either accept the spec or reject
// it with InvalidArgument naming a field, and must read back what they write.
#include <cmath>
#include <cstdint>
#include <exception>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "api/batch.h"
#include "api/jobflow.h"
#include "api/jobspec.h"
#include "api/jobtemplate.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace weir::api {
namespace {

using json = nlohmann::json;

constexpr int kIterations = 20000;

class Mutator {
 public:
  explicit Mutator(uint32_t seed) : rng_(seed) {}

  int Below(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }

  // A random scalar, biased towards values that sit on the parsers' edges.
  json RandomScalar() {
    static const std::vector<json>* const kScalars = new std::vector<json>{
        json(),
        json(true),
        json(false),
        json(0),
        json(1),
        json(-1),
        json(2),
        json(100),
        json(101),
        json(3600),
        json(3601),
        json(std::numeric_limits<int64_t>::max()),
        json(std::numeric_limits<int64_t>::min()),
        json(std::numeric_limits<uint64_t>::max()),
        json(4294967296),
        json(0.5),
        json(1.0),
        json(2.5),
        json(-0.0),
        json(1e300),
        json(std::nan("")),
        json(std::numeric_limits<double>::infinity()),
        json(""),
        json("main"),
        json("etl"),
        json("lots"),
        json("8Gi"),
        json("0"),
        json("-1Gi"),
        json("99999999999999Ei"),
        json("Succeeded"),
        json("Failed"),
        json("Completed"),
        json("StopFlow"),
        json("Delete"),
        json("Evicted"),
        json("True"),
        json("2026-11-25T12:00:00Z"),
        json("not-a-time"),
        json("UPPER_case"),
        json("\xff\xfe invalid utf-8"),
        json(std::string(300, 'a')),
    };
    return (*kScalars)[Below(static_cast<int>(kScalars->size()))];
  }

  json RandomValue(int depth) {
    int kind = depth <= 0 ? 0 : Below(6);
    if (kind <= 3) return RandomScalar();
    if (kind == 4) {
      json a = json::array();
      for (int i = Below(4); i > 0; --i) a.push_back(RandomValue(depth - 1));
      return a;
    }
    json o = json::object();
    for (int i = Below(4); i > 0; --i) o[RandomKey()] = RandomValue(depth - 1);
    return o;
  }

  std::string RandomKey() {
    static const std::vector<std::string>* const kKeys = new std::vector<std::string>{
        "name",        "template",  "jobSpec",   "spec",           "containers", "retry",
        "limit",       "onOOM",     "maxMemory", "memoryFactor",   "onReasons",  "steps",
        "dependsOn",   "condition", "step",      "patch",          "status",     "phase",
        "conditions",  "attempts",  "attempt",   "exitCode",       "metadata",   "labels",
        "annotations", "resources", "limits",    "memory",         "startTime",  "type",
        "parallelism", "cancel",    "x-unknown", "initContainers", "env"};
    return (*kKeys)[Below(static_cast<int>(kKeys->size()))];
  }

  // Applies one random mutation somewhere in `doc`.
  void Mutate(json& doc) {
    std::vector<json*> nodes;
    Collect(doc, nodes);
    json& target = *nodes[Below(static_cast<int>(nodes.size()))];
    switch (Below(6)) {
      case 0:
      case 1:
        target = RandomValue(2);
        break;
      case 2:  // delete a member or an item
        if (target.is_object() && !target.empty()) {
          auto it = target.begin();
          std::advance(it, Below(static_cast<int>(target.size())));
          target.erase(it);
        } else if (target.is_array() && !target.empty()) {
          target.erase(target.begin() + Below(static_cast<int>(target.size())));
        } else {
          target = json();
        }
        break;
      case 3:  // add a member or an item
        if (target.is_object()) {
          target[RandomKey()] = RandomValue(2);
        } else if (target.is_array()) {
          target.push_back(target.empty() ? RandomValue(2)
                                          : target[Below(static_cast<int>(target.size()))]);
        } else {
          target = json::array({target});
        }
        break;
      case 4:  // wrap in the other container kind
        target = target.is_array() ? json{{"name", target}} : json::array({target});
        break;
      default:
        target = RandomScalar();
        break;
    }
  }

 private:
  static void Collect(json& node, std::vector<json*>& out) {
    out.push_back(&node);
    if (node.is_object() || node.is_array()) {
      for (json& child : node) Collect(child, out);
    }
  }

  std::mt19937 rng_;
};

// Runs `check` on `seeds` mutated 1-4 times each, and on purely random
// documents, kIterations times in all.
void Fuzz(const std::vector<json>& seeds, uint32_t seed,
          const std::function<void(const json&)>& check) {
  Mutator m(seed);
  for (int i = 0; i < kIterations; ++i) {
    json doc;
    if (i % 10 == 9) {
      doc = m.RandomValue(4);
    } else {
      doc = seeds[i % seeds.size()];
      for (int n = 1 + m.Below(4); n > 0; --n) m.Mutate(doc);
    }
    check(doc);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

// A spec that failed names its field: "spec...: reason" or "<Kind>: ...".
void ExpectSpecVerdict(const absl::Status& status, absl::string_view kind, const json& doc) {
  if (status.ok()) return;
  ASSERT_TRUE(absl::IsInvalidArgument(status))
      << status << "\n"
      << doc.dump(-1, ' ', false, json::error_handler_t::replace);
  std::string message(status.message());
  EXPECT_TRUE(absl::StartsWith(message, "spec") || absl::StartsWith(message, kind)) << message;
}

json BatchSeed() {
  return json::parse(R"({
    "apiVersion": "weir.dev/v1alpha1", "kind": "Batch",
    "metadata": {"name": "b", "generation": 1, "labels": {"a": "b"}, "finalizers": ["f"]},
    "spec": {
      "jobSpec": {"template": {"metadata": {"annotations": {"sim.weir.dev/outcome": "Failed"}},
                               "spec": {"containers": [{"name": "main",
                                 "resources": {"limits": {"memory": "1Gi"}}}]}}},
      "mainContainer": "main",
      "retry": {"limit": 2, "backoffSeconds": 1, "onOOM": {"memoryFactor": 2, "maxMemory": "4Gi"},
                "onReasons": ["Evicted"]},
      "idleTimeoutSeconds": 10, "ttlSecondsAfterFinished": 20, "imagePullGraceSeconds": 30},
    "status": {"phase": "Running", "observedGeneration": 1, "attempt": 1, "job": "b-1",
      "exitCode": 1, "startTime": "2026-11-25T12:00:00Z",
      "attempts": [{"attempt": 1, "job": "b-1", "exitCode": 0, "completionTime": "2026-11-25T12:00:05Z"}],
      "conditions": [{"type": "Valid", "status": "True", "reason": "Validated", "message": "",
                      "lastTransitionTime": "2026-11-25T12:00:00Z"}]}})");
}

template <typename F>
void NoThrow(const json& doc, F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "exception: " << e.what() << "\n"
                  << doc.dump(-1, ' ', false, json::error_handler_t::replace);
  }
}

TEST(RobustnessTest, ParseBatch) {
  json template_seed = BatchSeed();
  template_seed["spec"].erase("jobSpec");
  template_seed["spec"]["template"] = "etl";
  int ok = 0;
  Fuzz({BatchSeed(), template_seed}, 1, [&](const json& doc) {
    NoThrow(doc, [&] {
      Batch b = ParseBatch(doc);
      ExpectSpecVerdict(b.spec.status(), "Batch", doc);
      if (b.spec.ok()) ++ok;
      // What is read is written back and read again unchanged.
      EXPECT_EQ(ParseBatchStatus(BatchStatusToJson(b.status)), b.status);
    });
  });
  // The mutations leave some documents valid, so both verdicts were exercised.
  EXPECT_GT(ok, 0);
  EXPECT_LT(ok, kIterations);
}

json FlowSeed() {
  return json::parse(R"({
    "apiVersion": "weir.dev/v1alpha1", "kind": "JobFlow", "metadata": {"name": "f"},
    "spec": {
      "steps": [
        {"name": "a", "template": "etl"},
        {"name": "b", "template": "etl", "dependsOn": [{"step": "a", "condition": "Failed"}],
         "patch": {"template": {"spec": {"containers": [{"name": "etl", "env": [{"name": "X"}]}]}}},
         "retry": {"limit": 1, "onOOM": {"maxMemory": "2Gi"}}, "cancel": false}],
      "onStepFailure": "StopFlow", "parallelism": 1, "suspend": false, "cancel": false,
      "jobRetainPolicy": "Retain", "idleTimeoutSeconds": 5, "ttlSecondsAfterFinished": 6},
    "status": {"phase": "Running", "observedGeneration": 3, "progress": "0/2",
      "startTime": "2026-11-25T12:00:00Z",
      "steps": [{"name": "a", "template": "etl", "phase": "Running",
                 "attempts": [{"attempt": 1, "job": "f-a-1"}]}],
      "conditions": [{"type": "Valid", "status": "True", "reason": "Validated", "message": "",
                      "lastTransitionTime": "2026-11-25T12:00:00Z"}]}})");
}

TEST(RobustnessTest, ParseJobFlow) {
  int ok = 0;
  Fuzz({FlowSeed()}, 2, [&](const json& doc) {
    NoThrow(doc, [&] {
      JobFlow f = ParseJobFlow(doc);
      ExpectSpecVerdict(f.spec.status(), "JobFlow", doc);
      if (f.spec.ok()) ++ok;
      EXPECT_EQ(ParseJobFlowStatus(JobFlowStatusToJson(f.status)), f.status);
    });
  });
  EXPECT_GT(ok, 0);
  EXPECT_LT(ok, kIterations);
}

TEST(RobustnessTest, ParseJobTemplate) {
  json seed = json::parse(R"({"apiVersion": "weir.dev/v1alpha1", "kind": "JobTemplate",
    "metadata": {"name": "etl"},
    "spec": {"jobSpec": {"template": {
      "metadata": {"labels": {"a": "b"}, "annotations": {"sim.weir.dev/outcome": "Succeeded"}},
      "spec": {"initContainers": [{"name": "init"}],
               "containers": [{"name": "etl", "resources": {"limits": {"memory": "1Gi"},
                                                             "requests": {"cpu": "100m"}}}]}}}},
    "status": {"usedBy": ["ns/f"]}})");
  int ok = 0;
  Fuzz({seed}, 3, [&](const json& doc) {
    NoThrow(doc, [&] {
      JobTemplate t = ParseJobTemplate(doc);
      ExpectSpecVerdict(t.job_spec.status(), "JobTemplate", doc);
      if (t.job_spec.ok()) ++ok;
    });
  });
  EXPECT_GT(ok, 0);
  EXPECT_LT(ok, kIterations);
}

bool ContainsNaN(const json& v) {
  if (v.is_number_float()) return std::isnan(v.get<double>());
  if (v.is_object() || v.is_array()) {
    for (const json& child : v) {
      if (ContainsNaN(child)) return true;
    }
  }
  return false;
}

TEST(RobustnessTest, MergeJobSpec) {
  json base = json::parse(R"({"template": {"metadata": {"annotations": {"a": "1"}}, "spec": {
      "containers": [{"name": "etl", "env": [{"name": "A", "value": "1"}], "args": ["x"]},
                     {"name": "side"}],
      "volumes": [{"name": "v", "emptyDir": {}}]}}})");
  json patch_seed = json::parse(R"({"template": {"metadata": {"annotations": {"a": null}}, "spec": {
      "containers": [{"name": "etl", "env": [{"name": "B", "value": "2"}], "image": "i"}]}}})");
  Mutator m(4);
  for (int i = 0; i < kIterations; ++i) {
    json b = base;
    json p = patch_seed;
    for (int n = m.Below(4); n > 0; --n) m.Mutate(b);
    for (int n = 1 + m.Below(4); n > 0; --n) m.Mutate(p);
    NoThrow(p, [&] {
      json once = MergeJobSpec(b, p);
      if (ContainsNaN(b) || ContainsNaN(p)) return;  // NaN != NaN: no equalities to check
      // A merge patch is idempotent, named lists included.
      ASSERT_EQ(MergeJobSpec(once, p), once)
          << p.dump(-1, ' ', false, json::error_handler_t::replace);
      // The empty patch changes nothing.
      EXPECT_EQ(MergeJobSpec(once, json::object()), once.is_object() ? once : json::object());
      (void)ValidateJobSpec(once, "spec.jobSpec");
    });
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace weir::api
