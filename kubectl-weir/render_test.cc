// Golden renderings of hand-made objects. Each expected string was read line
// by line against the object it comes from.
#include "kubectl-weir/render.h"

#include <regex>

#include "api/meta.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "yaml-cpp/yaml.h"

namespace weir::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;

const absl::Time kT0 = absl::FromUnixSeconds(1796536800);  // 2026-12-06T06:00:00Z

std::string At(int seconds) { return api::FormatRfc3339(kT0 + absl::Seconds(seconds)); }

RenderOptions Plain(int now_seconds) { return {kT0 + absl::Seconds(now_seconds), Style{}}; }

json Attempt(int n, const std::string& job, const std::string& phase, int start,
             std::optional<int> end, std::optional<int> exit = std::nullopt,
             const std::string& reason = "", const std::string& message = "",
             const std::string& memory = "") {
  json a = {{"attempt", n}, {"job", job}, {"phase", phase}, {"startTime", At(start)}};
  if (end.has_value()) a["completionTime"] = At(*end);
  if (exit.has_value()) a["exitCode"] = *exit;
  if (!reason.empty()) a["terminationReason"] = reason;
  if (!message.empty()) a["message"] = message;
  if (!memory.empty()) a["memoryLimit"] = memory;
  return a;
}

// extract -> transform-a, transform-b -> load -> cleanup (on Failed), notify (on Completed).
json Diamond() {
  return {
      {"apiVersion", "weir.dev/v1alpha1"},
      {"kind", "JobFlow"},
      {"metadata",
       {{"name", "etl"}, {"namespace", "team"}, {"uid", "u1"}, {"creationTimestamp", At(0)}}},
      {"spec",
       {{"steps",
         {{{"name", "extract"}, {"template", "etl"}},
          {{"name", "transform-a"}, {"template", "etl"}, {"dependsOn", {{{"step", "extract"}}}}},
          {{"name", "transform-b"},
           {"template", "etl"},
           {"dependsOn", {{{"step", "extract"}, {"condition", "Succeeded"}}}},
           {"retry", {{"limit", 1}}}},
          {{"name", "load"},
           {"template", "etl"},
           {"dependsOn", {{{"step", "transform-a"}}, {{"step", "transform-b"}}}}},
          {{"name", "cleanup"},
           {"template", "etl"},
           {"dependsOn", {{{"step", "load"}, {"condition", "Failed"}}}}},
          {{"name", "notify"},
           {"template", "etl"},
           {"dependsOn", {{{"step", "load"}, {"condition", "Completed"}}}}}}}}},
      {"status",
       {{"phase", "Running"},
        {"progress", "2/6"},
        {"message", "2/6 steps done, 1 running"},
        {"startTime", At(1)},
        {"steps",
         {{{"name", "extract"},
           {"phase", "Succeeded"},
           {"message", "container \"main\" completed"},
           {"attempts",
            {Attempt(1, "etl-extract-1-0a1b2c3d", "Succeeded", 1, 13, 0, "Completed")}}},
          {{"name", "transform-a"},
           {"phase", "Succeeded"},
           {"attempts",
            {Attempt(1, "etl-transform-a-1-11111111", "Succeeded", 14, 20, 0, "Completed")}}},
          {{"name", "transform-b"},
           {"phase", "Running"},
           {"attempts",
            {Attempt(1, "etl-transform-b-1-22222222", "Killed", 14, 30, 137, "OOMKilled",
                     "container etl hit its memory limit", "128Mi"),
             Attempt(2, "etl-transform-b-2-22222222", "Running", 40, std::nullopt, std::nullopt, "",
                     "", "256Mi")}}}}}}}};
}

TEST(RenderFlowTest, DiamondAsATree) {
  EXPECT_EQ(RenderFlow(Diamond(), Plain(150)), R"(JobFlow:    etl
Namespace:  team
Phase:      Running
Steps:      2/6 done
Started:    2026-12-06T06:00:01Z (2m29s ago)
Duration:   2m29s
Message:    2/6 steps done, 1 running

STEP              PHASE      ATTEMPT  REASON     EXIT  DURATION  JOB
extract           Succeeded  1        Completed  0     12s       etl-extract-1-0a1b2c3d
├─ transform-a    Succeeded  1        Completed  0     6s        etl-transform-a-1-11111111
│  │  needs extract Succeeded ✓
│  └─ load        Pending    -        -          -     -         -
│     │  needs transform-a Succeeded ✓, transform-b Succeeded …
│     ├─ cleanup  Pending    -        -          -     -         -
│     │     needs load Failed …
│     └─ notify   Pending    -        -          -     -         -
│           needs load Completed …
└─ transform-b    Running    2        -          -     1m50s     etl-transform-b-2-22222222
      needs extract Succeeded ✓
      attempt 1: Killed OOMKilled, exit 137, memory 128Mi
)");
}

// a fails; b (needs a Succeeded) is skipped; c (needs a Failed) handles it.
json Failing() {
  return {{"metadata", {{"name", "nightly"}, {"namespace", "ci"}, {"creationTimestamp", At(0)}}},
          {"spec",
           {{"steps",
             {{{"name", "a"}, {"template", "t"}},
              {{"name", "b"}, {"template", "t"}, {"dependsOn", {{{"step", "a"}}}}},
              {{"name", "c"},
               {"template", "t"},
               {"dependsOn", {{{"step", "a"}, {"condition", "Failed"}}}}}}}}},
          {"status",
           {{"phase", "Failed"},
            {"progress", "3/3"},
            {"message", "step a Failed: exit 3"},
            {"startTime", At(0)},
            {"completionTime", At(75)},
            {"steps",
             {{{"name", "a"},
               {"phase", "Failed"},
               {"attempts",
                {Attempt(1, "nightly-a-1-abcdef01", "Failed", 2, 9, 3, "Error",
                         "container main exited 3\nlast line of its log")}}},
              {{"name", "b"},
               {"phase", "Skipped"},
               {"message", "dependency a: condition Succeeded cannot hold (a is Failed)"}},
              {{"name", "c"},
               {"phase", "Succeeded"},
               {"attempts",
                {Attempt(1, "nightly-c-1-abcdef02", "Succeeded", 10, 74, 0, "Completed")}}}}}}}};
}

TEST(RenderFlowTest, FailedStepSkippedDependentAndHandler) {
  EXPECT_EQ(RenderFlow(Failing(), Plain(3600 + 120)), R"(JobFlow:    nightly
Namespace:  ci
Phase:      Failed
Steps:      3/3 done
Started:    2026-12-06T06:00:00Z (1h2m ago)
Finished:   2026-12-06T06:01:15Z (1h ago)
Duration:   1m15s
Message:    step a Failed: exit 3

STEP  PHASE      ATTEMPT  REASON     EXIT  DURATION  JOB
a     Failed     1        Error      3     7s        nightly-a-1-abcdef01
│  container main exited 3
│  last line of its log
├─ b  Skipped    -        -          -     -         -
│     needs a Succeeded ✗
│     skipped: dependency a: condition Succeeded cannot hold (a is Failed)
└─ c  Succeeded  1        Completed  0     1m4s      nightly-c-1-abcdef02
      needs a Failed ✓
)");
}

TEST(RenderFlowTest, BeforeTheFirstStatusEveryStepIsPending) {
  json flow = Failing();
  flow.erase("status");
  flow["spec"]["suspend"] = true;
  flow["spec"]["cancel"] = true;
  flow["spec"]["steps"][1]["cancel"] = true;
  EXPECT_EQ(RenderFlow(flow, Plain(5)), R"(JobFlow:    nightly
Namespace:  ci
Phase:      Pending
Started:    -
Suspended:  yes (spec.suspend: no new step starts)
Cancel:     requested

STEP  PHASE    ATTEMPT  REASON  EXIT  DURATION  JOB
a     Pending  -        -       -     -         -
├─ b  Pending  -        -       -     -         -
│     needs a Succeeded …
│     cancel requested
└─ c  Pending  -        -       -     -         -
      needs a Failed …
)");
}

TEST(RenderFlowTest, InvalidSpecIsDrawnFromTheStatus) {
  json flow = Failing();
  flow["spec"]["steps"][0]["name"] = "Not_A_Label";
  flow["status"]["steps"].erase(1);
  std::string text = RenderFlow(flow, Plain(100));
  EXPECT_THAT(text, HasSubstr("Spec:       invalid: spec.steps[0].name"));
  EXPECT_THAT(
      text,
      HasSubstr("\nSTEP  PHASE      ATTEMPT  REASON     EXIT  DURATION  JOB\n"
                "a     Failed     1        Error      3     7s        nightly-a-1-abcdef01\n"
                "   container main exited 3\n"
                "   last line of its log\n"
                "c     Succeeded  1        Completed  0     1m4s      nightly-c-1-abcdef02\n"));
}

TEST(RenderFlowTest, CycleAndUnknownDependencyStillDrawEveryStepOnce) {
  json flow = {{"metadata", {{"name", "loop"}}},
               {"spec",
                {{"steps",
                  {{{"name", "x"}, {"template", "t"}, {"dependsOn", {{{"step", "y"}}}}},
                   {{"name", "y"}, {"template", "t"}, {"dependsOn", {{{"step", "x"}}}}},
                   {{"name", "z"}, {"template", "t"}, {"dependsOn", {{{"step", "nope"}}}}}}}}}};
  EXPECT_EQ(RenderFlow(flow, Plain(0)), R"(JobFlow:    loop
Namespace:  
Phase:      Pending
Started:    -

STEP  PHASE    ATTEMPT  REASON  EXIT  DURATION  JOB
z     Pending  -        -       -     -         -
   needs nope Succeeded …
x     Pending  -        -       -     -         -
│  needs y Succeeded …
└─ y  Pending  -        -       -     -         -
      needs x Succeeded …
)");
}

TEST(RenderFlowTest, NoStepsAndGarbageNeverThrow) {
  EXPECT_THAT(RenderFlow(json::object(), Plain(0)), HasSubstr("(no steps)"));
  for (const json& garbage :
       {json(nullptr), json(42), json::array({1, 2}), json{{"status", "x"}},
        json{{"status", {{"steps", 7}}}}, json{{"spec", {{"steps", {{{"name", 1}}}}}}}}) {
    EXPECT_NO_THROW(RenderFlow(garbage, Plain(0)));
    EXPECT_NO_THROW(RenderFlowDot(garbage));
    EXPECT_NO_THROW(RenderBatch(garbage, Plain(0)));
    EXPECT_NO_THROW(RenderFlowList(garbage, true, Plain(0)));
    EXPECT_NO_THROW(RenderBatchList(garbage, false, Plain(0)));
  }
}

// Without its escape sequences a coloured rendering is the plain one, so
// colour never shifts a column.
std::string StripAnsi(const std::string& s) {
  return std::regex_replace(s, std::regex("\x1b\\[[0-9;]*m"), "");
}

TEST(RenderFlowTest, ColourOnlyAddsEscapes) {
  RenderOptions colour = Plain(150);
  colour.style.color = true;
  for (const json& flow : {Diamond(), Failing()}) {
    std::string coloured = RenderFlow(flow, colour);
    EXPECT_NE(coloured, RenderFlow(flow, Plain(150)));
    EXPECT_EQ(StripAnsi(coloured), RenderFlow(flow, Plain(150)));
  }
  std::string coloured = RenderFlow(Failing(), colour);
  EXPECT_THAT(coloured, HasSubstr("\x1b[31mFailed\x1b[0m"));
  EXPECT_THAT(coloured, HasSubstr("\x1b[32mSucceeded\x1b[0m"));
  EXPECT_THAT(coloured, HasSubstr("\x1b[2mSkipped\x1b[0m"));
  EXPECT_THAT(coloured, HasSubstr("\x1b[31m✗\x1b[0m"));
  EXPECT_THAT(RenderFlow(Failing(), Plain(150)), Not(HasSubstr("\x1b")));
}

TEST(RenderFlowDotTest, StepsFilledByPhaseEdgesLabelledWithConditions) {
  EXPECT_EQ(RenderFlowDot(Failing()), R"(digraph "nightly" {
  rankdir=LR;
  node [shape=box, style="rounded,filled", fontname="Helvetica"];
  edge [fontname="Helvetica", fontsize=10];
  "a" [label="a\nFailed\nError exit 3", fillcolor="#f4b0a8"];
  "b" [label="b\nSkipped", fillcolor="#e8e8e8", style="rounded,filled,dashed"];
  "c" [label="c\nSucceeded", fillcolor="#b7e1b0"];
  "a" -> "b" [label="Succeeded"];
  "a" -> "c" [label="Failed", style=dashed];
}
)");
  std::string diamond = RenderFlowDot(Diamond());
  EXPECT_THAT(diamond, HasSubstr("\"transform-b\" [label=\"transform-b\\nRunning (attempt 2)\", "
                                 "fillcolor=\"#fbe3a0\"];\n"));
  EXPECT_THAT(diamond, HasSubstr("\"load\" [label=\"load\\nPending\", fillcolor=\"#e8e8e8\"];\n"));
  EXPECT_THAT(diamond, HasSubstr("  \"transform-a\" -> \"load\" [label=\"Succeeded\"];\n"
                                 "  \"transform-b\" -> \"load\" [label=\"Succeeded\"];\n"));
  EXPECT_THAT(diamond,
              HasSubstr("  \"load\" -> \"notify\" [label=\"Completed\", style=dashed];\n"));
  json odd = {{"metadata", {{"name", "q\"x"}}}};
  EXPECT_THAT(RenderFlowDot(odd), HasSubstr("digraph \"q\\\"x\" {"));
}

json Train() {
  return {
      {"metadata", {{"name", "train"}, {"namespace", "ml"}, {"creationTimestamp", At(0)}}},
      {"spec",
       {{"mainContainer", "trainer"},
        {"template", "trainer"},
        {"retry", {{"limit", 2}, {"onOOM", {{"maxMemory", "256Mi"}}}}}}},
      {"status",
       {{"phase", "Succeeded"},
        {"attempt", 2},
        {"job", "train-2-0badcafe"},
        {"terminationReason", "Completed"},
        {"exitCode", 0},
        {"startTime", At(1)},
        {"completionTime", At(40)},
        {"attempts",
         {Attempt(1, "train-1-0badcafe", "Killed", 1, 12, 137, "OOMKilled",
                  "container trainer hit its memory limit 32Mi; retry.onOOM raises it", "32Mi"),
          Attempt(2, "train-2-0badcafe", "Succeeded", 20, 40, 0, "Completed", "done", "64Mi")}}}}};
}

TEST(RenderBatchTest, AttemptsWithMemoryAndOutcome) {
  EXPECT_EQ(RenderBatch(Train(), Plain(100)), R"(Batch:      train
Namespace:  ml
Phase:      Succeeded
Reason:     Completed (exit 0)
Attempt:    2 (retry limit 2, on OOM up to 256Mi)
Template:   trainer
Started:    2026-12-06T06:00:01Z (1m39s ago)
Finished:   2026-12-06T06:00:40Z (1m ago)
Duration:   39s

ATTEMPT  PHASE      REASON     EXIT  MEMORY  DURATION  JOB
1        Killed     OOMKilled  137   32Mi    11s       train-1-0badcafe
    container trainer hit its memory limit 32Mi; retry.onOOM raises it
2        Succeeded  Completed  0     64Mi    20s       train-2-0badcafe
)");
}

TEST(RenderBatchTest, PendingCanceledAndWaiting) {
  json b = {{"metadata", {{"name", "b"}, {"namespace", "x"}}},
            {"spec",
             {{"jobSpec",
               {{"template", {{"spec", {{"containers", {{{"name", "m"}, {"image", "i"}}}}}}}}}},
              {"cancel", true}}}};
  EXPECT_EQ(RenderBatch(b, Plain(0)), R"(Batch:      b
Namespace:  x
Phase:      Pending
Attempt:    - (retry limit 0)
Template:   (inline jobSpec)
Cancel:     requested
Started:    -

(no attempts yet)
)");
  b["status"] = {{"phase", "Running"},
                 {"attempt", 1},
                 {"message", "waiting: ImagePullBackOff"},
                 {"attempts", {Attempt(1, "b-1-1", "Pending", 3, std::nullopt)}}};
  b["status"]["attempts"][0]["waitingSince"] = At(4);
  b["status"]["attempts"][0].erase("startTime");
  EXPECT_THAT(RenderBatch(b, Plain(10)),
              HasSubstr("Message:    waiting: ImagePullBackOff\n\n"
                        "ATTEMPT  PHASE    REASON  EXIT  MEMORY  DURATION  JOB\n"
                        "1        Pending  -       -     -       -         b-1-1\n"
                        "    waiting since 2026-12-06T06:00:04Z\n"));
}

TEST(RenderListTest, FlowsAndBatches) {
  json flows = {{"items", {Diamond(), Failing()}}};
  EXPECT_EQ(RenderFlowList(flows, false, Plain(600)),
            "NAME     PHASE    STEPS  AGE  MESSAGE\n"
            "etl      Running  2/6    10m  2/6 steps done, 1 running\n"
            "nightly  Failed   3/3    10m  step a Failed: exit 3\n");
  EXPECT_EQ(RenderFlowList(flows, true, Plain(59)),
            "NAMESPACE  NAME     PHASE    STEPS  AGE  MESSAGE\n"
            "team       etl      Running  2/6    59s  2/6 steps done, 1 running\n"
            "ci         nightly  Failed   3/3    59s  step a Failed: exit 3\n");
  EXPECT_EQ(RenderBatchList({{"items", {Train()}}}, true, Plain(3 * 86400 + 7200)),
            "NAMESPACE  NAME   PHASE      ATTEMPT  REASON     EXIT  AGE\n"
            "ml         train  Succeeded  2        Completed  0     3d2h\n");
  EXPECT_EQ(RenderFlowList({{"items", json::array()}}, false, Plain(0)), "");
}

TEST(ShortDurationTest, KubectlStyle) {
  EXPECT_EQ(ShortDuration(absl::Seconds(-5)), "0s");
  EXPECT_EQ(ShortDuration(absl::Milliseconds(999)), "0s");
  EXPECT_EQ(ShortDuration(absl::Seconds(59)), "59s");
  EXPECT_EQ(ShortDuration(absl::Seconds(60)), "1m");
  EXPECT_EQ(ShortDuration(absl::Seconds(125)), "2m5s");
  EXPECT_EQ(ShortDuration(absl::Hours(1)), "1h");
  EXPECT_EQ(ShortDuration(absl::Seconds(3600 + 240 + 9)), "1h4m");
  EXPECT_EQ(ShortDuration(absl::Hours(24)), "1d");
  EXPECT_EQ(ShortDuration(absl::Hours(53)), "2d5h");
}

TEST(IsTerminalPhaseTest, Phases) {
  for (const char* p : {"Succeeded", "Failed", "Killed", "Canceled", "Skipped"}) {
    EXPECT_TRUE(IsTerminalPhase(p)) << p;
  }
  for (const char* p : {"", "Pending", "Running", "Retrying", "Canceling", "Unknown"}) {
    EXPECT_FALSE(IsTerminalPhase(p)) << p;
  }
}

// YAML back to JSON, for round trips.
json FromYaml(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      json o = json::object();
      for (const auto& kv : n) o[kv.first.as<std::string>()] = FromYaml(kv.second);
      return o;
    }
    case YAML::NodeType::Sequence: {
      json a = json::array();
      for (const auto& v : n) a.push_back(FromYaml(v));
      return a;
    }
    case YAML::NodeType::Scalar: {
      if (n.Tag() == "!") return n.as<std::string>();  // quoted: a string
      const std::string s = n.as<std::string>();
      if (s == "true" || s == "false") return s == "true";
      json number = json::parse(s, nullptr, false);
      if (!number.is_discarded() && number.is_number()) return number;
      return s;
    }
    default:
      return nullptr;
  }
}

TEST(OutputTest, YamlRoundTripsAndQuotesWhatWouldChangeType) {
  json o = Train();
  o["metadata"]["labels"] = {{"on", "yes"}, {"n", "007"}, {"v", "1.5"}, {"e", ""}, {"t", "true"}};
  o["metadata"]["annotations"] = {
      {"multi", "line one\nline two\n"}, {"colon", "a: b"}, {"hash", "#x"}, {"null", "null"}};
  o["spec"]["retry"]["onOOM"]["memoryFactor"] = 2.5;
  o["spec"]["nothing"] = nullptr;
  o["metadata"]["managedFields"] = json::array({{{"manager", "kubectl"}}});
  const std::string text = YamlText(o);
  json back = FromYaml(YAML::Load(text));
  json want = o;
  want["metadata"].erase("managedFields");
  EXPECT_EQ(back, want) << text;
  EXPECT_THAT(text, HasSubstr("memoryFactor: 2.5\n"));
  EXPECT_THAT(text, HasSubstr("\"on\": \"yes\"\n"));
  // YAML 1.1 readers (PyYAML) take an unquoted date-time for a timestamp.
  EXPECT_THAT(text, HasSubstr("creationTimestamp: \"2026-12-06T06:00:00Z\"\n"));
  EXPECT_THAT(text, HasSubstr("memoryLimit: \"32Mi\"\n"));
  EXPECT_THAT(text, HasSubstr("name: train\n"));
  EXPECT_THAT(text, Not(HasSubstr("managedFields")));
}

TEST(OutputTest, JsonLeavesOutManagedFields) {
  json o = Train();
  o["metadata"]["managedFields"] = json::array({{{"manager", "x"}}});
  json list = {{"kind", "List"}, {"items", {o}}};
  EXPECT_EQ(json::parse(JsonText(o)), Train());
  EXPECT_EQ(json::parse(JsonText(list))["items"][0], Train());
  EXPECT_THAT(JsonText(o), HasSubstr("\n    \"metadata\": {\n"));  // 4 spaces, as kubectl
}

}  // namespace
}  // namespace weir::cli
