// The commands against runtime::FakeClient: which requests they make, what
// they print, and their exit codes.
#include "kubectl-weir/commands.h"

#include <thread>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/errors.h"
#include "runtime/fake_client.h"

namespace weir::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using json = nlohmann::json;

struct LogCall {
  std::string ns, pod, container;
  bool follow = false;
};

class CommandsTest : public ::testing::Test {
 protected:
  CommandsTest() {
    io_.client = &client_;
    io_.clock = &RealClock::Get();
    io_.default_namespace = "team";
    io_.out = [this](absl::string_view s) {
      absl::MutexLock l(&mu_);
      out_.append(s.data(), s.size());
    };
    io_.err = [this](absl::string_view s) {
      absl::MutexLock l(&mu_);
      err_.append(s.data(), s.size());
    };
    io_.pod_log = [this](const std::string& ns, const std::string& pod,
                         const kube::PodLogOptions& o,
                         const std::function<bool(absl::string_view)>& sink) -> absl::Status {
      log_calls_.push_back({ns, pod, o.container, o.follow});
      if (!log_error_.ok()) return log_error_;
      sink("hello\n");
      sink("world\n");
      return absl::OkStatus();
    };
  }

  int RunArgs(std::vector<std::string> args) {
    absl::StatusOr<Invocation> inv = ParseArgs(args);
    EXPECT_TRUE(inv.ok()) << inv.status();
    if (!inv.ok()) return -1;
    return cli::Run(*inv, io_);
  }
  std::string out() {
    absl::MutexLock l(&mu_);
    return out_;
  }
  std::string err() {
    absl::MutexLock l(&mu_);
    return err_;
  }

  json Create(const kube::ResourceRef& ref, json object, const std::string& ns = "team") {
    absl::StatusOr<json> created = client_.Create(ref, ns, object);
    EXPECT_TRUE(created.ok()) << created.status();
    if (object.contains("status")) {
      (*created)["status"] = object["status"];
      created = client_.UpdateStatus(ref, ns, *created);
      EXPECT_TRUE(created.ok()) << created.status();
    }
    return created.ok() ? *created : json();
  }
  void SetPhase(const kube::ResourceRef& ref, const std::string& name, const std::string& phase) {
    absl::StatusOr<json> o = client_.Get(ref, "team", name);
    ASSERT_TRUE(o.ok()) << o.status();
    (*o)["status"]["phase"] = phase;
    ASSERT_TRUE(client_.UpdateStatus(ref, "team", *o).ok());
  }

  runtime::FakeClient client_;
  Io io_;
  absl::Mutex mu_;
  std::string out_ ABSL_GUARDED_BY(mu_);
  std::string err_ ABSL_GUARDED_BY(mu_);
  std::vector<LogCall> log_calls_;
  absl::Status log_error_;
};

json Flow(const std::string& name, const std::string& phase = "") {
  json f = {{"apiVersion", "weir.dev/v1alpha1"},
            {"kind", "JobFlow"},
            {"metadata", {{"name", name}}},
            {"spec",
             {{"steps",
               {{{"name", "a"}, {"template", "t"}},
                {{"name", "b"}, {"template", "t"}, {"dependsOn", {{{"step", "a"}}}}}}}}}};
  if (!phase.empty()) f["status"] = {{"phase", phase}, {"message", "all 2 steps done"}};
  return f;
}

json Batch(const std::string& name) {
  return {{"apiVersion", "weir.dev/v1alpha1"},
          {"kind", "Batch"},
          {"metadata", {{"name", name}}},
          {"spec", {{"template", "t"}, {"mainContainer", "trainer"}}}};
}

TEST_F(CommandsTest, GetPrintsTheTreeJsonYamlAndDot) {
  Create(kube::resources::JobFlows(), Flow("etl", "Running"));
  EXPECT_EQ(RunArgs({"get", "flow", "etl"}), 0);
  EXPECT_THAT(out(), StartsWith("JobFlow:    etl\nNamespace:  team\nPhase:      Running\n"));
  EXPECT_THAT(out(), HasSubstr("└─ b  Pending"));
  EXPECT_EQ(err(), "");
  for (const char* format : {"json", "yaml", "dot"}) {
    EXPECT_EQ(RunArgs({"get", "flow/etl", "-o", format}), 0) << format;
  }
  EXPECT_THAT(out(), HasSubstr("\"kind\": \"JobFlow\""));
  EXPECT_THAT(out(), HasSubstr("kind: JobFlow\n"));
  EXPECT_THAT(out(), HasSubstr("\"a\" -> \"b\" [label=\"Succeeded\"];"));
}

TEST_F(CommandsTest, NotFoundNamesTheFullResource) {
  EXPECT_EQ(RunArgs({"get", "flow", "nope"}), 1);
  EXPECT_EQ(err(), "Error: jobflows.weir.dev \"nope\" not found\n");
  EXPECT_EQ(out(), "");
  EXPECT_EQ(RunArgs({"cancel", "batch/gone"}), 1);
  EXPECT_THAT(err(), HasSubstr("Error: batches.weir.dev \"gone\" not found\n"));
}

TEST_F(CommandsTest, NamespaceFlagAndDefault) {
  Create(kube::resources::Batches(), Batch("b"), "other");
  EXPECT_EQ(RunArgs({"get", "batch", "b"}), 1);  // default namespace: team
  EXPECT_EQ(RunArgs({"get", "batch", "b", "-n", "other"}), 0);
  EXPECT_THAT(out(), HasSubstr("Namespace:  other\n"));
}

TEST_F(CommandsTest, ListsOneNamespaceOrAll) {
  Create(kube::resources::JobFlows(), Flow("x", "Succeeded"));
  Create(kube::resources::JobFlows(), Flow("y"), "other");
  EXPECT_EQ(RunArgs({"get", "flows"}), 0);
  EXPECT_THAT(out(), StartsWith("NAME  PHASE      STEPS  AGE"));
  EXPECT_THAT(out(), Not(HasSubstr("y ")));
  {
    absl::MutexLock l(&mu_);
    out_.clear();
  }
  EXPECT_EQ(RunArgs({"get", "flows", "-A"}), 0);
  EXPECT_THAT(out(), StartsWith("NAMESPACE  NAME  PHASE"));
  EXPECT_THAT(out(), HasSubstr("other      y     Pending"));
  EXPECT_EQ(RunArgs({"get", "batches"}), 0);
  EXPECT_EQ(err(), "No resources found in team namespace.\n");
}

TEST_F(CommandsTest, CancelSuspendResumePatchTheSpec) {
  Create(kube::resources::JobFlows(), Flow("etl", "Running"));
  Create(kube::resources::Batches(), Batch("b"));
  EXPECT_EQ(RunArgs({"cancel", "batch/b"}), 0);
  EXPECT_EQ(RunArgs({"suspend", "flow/etl"}), 0);
  absl::StatusOr<json> f = client_.Get(kube::resources::JobFlows(), "team", "etl");
  EXPECT_EQ((*f)["spec"]["suspend"], true);
  EXPECT_FALSE((*f)["spec"].contains("cancel"));
  EXPECT_EQ(RunArgs({"resume", "flow/etl"}), 0);
  EXPECT_EQ(RunArgs({"cancel", "flow/etl", "--step", "b"}), 0);
  f = client_.Get(kube::resources::JobFlows(), "team", "etl");
  EXPECT_EQ((*f)["spec"]["suspend"], false);
  EXPECT_FALSE((*f)["spec"]["steps"][0].contains("cancel"));
  EXPECT_EQ((*f)["spec"]["steps"][1]["cancel"], true);
  EXPECT_FALSE((*f)["spec"].contains("cancel"));
  EXPECT_EQ(RunArgs({"cancel", "flow/etl"}), 0);
  f = client_.Get(kube::resources::JobFlows(), "team", "etl");
  EXPECT_EQ((*f)["spec"]["cancel"], true);
  EXPECT_EQ((*client_.Get(kube::resources::Batches(), "team", "b"))["spec"]["cancel"], true);
  EXPECT_EQ(out(),
            "batches.weir.dev/b cancel requested\n"
            "jobflows.weir.dev/etl suspended\n"
            "jobflows.weir.dev/etl resumed\n"
            "jobflows.weir.dev/etl step b cancel requested\n"
            "jobflows.weir.dev/etl cancel requested\n");
  EXPECT_EQ(err(), "");
}

TEST_F(CommandsTest, CancelOfAnUnknownStepNamesTheSteps) {
  Create(kube::resources::JobFlows(), Flow("etl", "Running"));
  EXPECT_EQ(RunArgs({"cancel", "flow/etl", "--step", "zz"}), 1);
  EXPECT_EQ(err(), "Error: jobflows.weir.dev \"etl\" has no step \"zz\" (its steps: a, b)\n");
  EXPECT_EQ(client_.Calls("patch"), 0);
}

TEST_F(CommandsTest, CancelOfAFinishedFlowSaysSo) {
  Create(kube::resources::JobFlows(), Flow("etl", "Succeeded"));
  EXPECT_EQ(RunArgs({"cancel", "flow/etl"}), 0);
  EXPECT_EQ(out(), "jobflows.weir.dev/etl cancel requested (it had already ended Succeeded)\n");
}

TEST_F(CommandsTest, WaitExitsZeroOnlyOnSucceeded) {
  Create(kube::resources::JobFlows(), Flow("good", "Succeeded"));
  Create(kube::resources::JobFlows(), Flow("bad", "Failed"));
  EXPECT_EQ(RunArgs({"wait", "flow/good"}), 0);
  EXPECT_EQ(RunArgs({"wait", "flow/bad"}), 1);
  EXPECT_EQ(out(),
            "jobflows.weir.dev/good Succeeded: all 2 steps done\n"
            "jobflows.weir.dev/bad Failed: all 2 steps done\n");
}

TEST_F(CommandsTest, WaitFollowsTheWatchUntilTheEnd) {
  Create(kube::resources::Batches(), Batch("b"));
  SetPhase(kube::resources::Batches(), "b", "Running");
  int rc = -1;
  std::thread waiter([&] { rc = RunArgs({"wait", "batch/b", "--timeout", "1h"}); });
  client_.WaitForOpenWatches(1);
  std::vector<kube::WatchOptions> calls = client_.WatchCalls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].field_selector, "metadata.name=b");
  EXPECT_FALSE(calls[0].resource_version.empty());
  absl::StatusOr<json> b = client_.Get(kube::resources::Batches(), "team", "b");
  (*b)["status"] = {{"phase", "Killed"},
                    {"terminationReason", "OOMKilled"},
                    {"exitCode", 137},
                    {"message", "container trainer hit its memory limit"}};
  ASSERT_TRUE(client_.UpdateStatus(kube::resources::Batches(), "team", *b).ok());
  waiter.join();
  EXPECT_EQ(rc, 1);
  EXPECT_EQ(out(),
            "batches.weir.dev/b Killed: OOMKilled (exit 137): container trainer hit its memory "
            "limit\n");
}

TEST_F(CommandsTest, WaitSurvivesADroppedWatchAndSeesADelete) {
  Create(kube::resources::JobFlows(), Flow("f", "Running"));
  int rc = -1;
  std::thread waiter([&] { rc = RunArgs({"wait", "flow/f"}); });
  client_.WaitForOpenWatches(1);
  client_.DropWatches();
  client_.WaitForWatchCalls(2);
  client_.WaitForOpenWatches(1);
  ASSERT_TRUE(client_.Delete(kube::resources::JobFlows(), "team", "f").ok());
  waiter.join();
  EXPECT_EQ(rc, 1);
  EXPECT_EQ(err(), "Error: jobflows.weir.dev \"f\" was deleted\n");
}

TEST_F(CommandsTest, WatchPrintsEachNewRenderingOffATerminal) {
  Create(kube::resources::JobFlows(), Flow("f", "Running"));
  int rc = -1;
  std::thread watcher([&] { rc = RunArgs({"watch", "flow", "f"}); });
  client_.WaitForOpenWatches(1);
  // A write that changes nothing drawn draws nothing new.
  absl::StatusOr<json> f = client_.Get(kube::resources::JobFlows(), "team", "f");
  (*f)["metadata"]["labels"] = {{"x", "y"}};
  ASSERT_TRUE(client_.Update(kube::resources::JobFlows(), "team", *f).ok());
  SetPhase(kube::resources::JobFlows(), "f", "Succeeded");
  watcher.join();
  EXPECT_EQ(rc, 0);
  std::string text = out();
  EXPECT_THAT(text, StartsWith("JobFlow:    f\n"));
  EXPECT_EQ(text.find("\x1b["), std::string::npos);
  size_t first = text.find("Phase:      Running");
  size_t second = text.find("Phase:      Succeeded");
  ASSERT_NE(first, std::string::npos);
  ASSERT_NE(second, std::string::npos);
  EXPECT_LT(first, second);
  EXPECT_EQ(text.find("JobFlow:", 1), text.rfind("JobFlow:"));  // two renderings
}

TEST_F(CommandsTest, WatchOnATerminalClearsTheScreen) {
  io_.terminal = true;
  Create(kube::resources::JobFlows(), Flow("f", "Succeeded"));
  EXPECT_EQ(RunArgs({"watch", "flow", "f"}), 0);
  EXPECT_THAT(out(), StartsWith("\x1b[H\x1b[2JJobFlow:    f\n"));
}

TEST_F(CommandsTest, WatchOnATerminalRedrawsEverySecondWhileItRuns) {
  FakeClock clock(absl::FromUnixSeconds(1796536800));
  io_.clock = &clock;
  io_.terminal = true;
  json flow = Flow("f", "Running");
  flow["status"]["startTime"] = "2026-12-06T06:00:00Z";
  Create(kube::resources::JobFlows(), flow);
  int rc = -1;
  std::thread watcher([&] { rc = RunArgs({"watch", "flow", "f"}); });
  // Each step: the rendering at this time is out, the drawer waits on the
  // clock again, and only then does time move.
  auto drawn = [&](const char* duration) {
    while (out().find(duration) == std::string::npos) absl::SleepFor(absl::Milliseconds(5));
    clock.WaitForWaiters(1);
  };
  drawn("Duration:   0s\n");
  clock.Advance(absl::Seconds(1));
  drawn("Duration:   1s\n");
  clock.Advance(absl::Seconds(1));
  drawn("Duration:   2s\n");
  SetPhase(kube::resources::JobFlows(), "f", "Succeeded");
  watcher.join();
  EXPECT_EQ(rc, 0);
  std::string text = out();
  // Three redraws that moved the clock, the last one Succeeded; each starts by clearing.
  size_t clears = 0;
  for (size_t at = text.find("\x1b[H\x1b[2J"); at != std::string::npos;
       at = text.find("\x1b[H\x1b[2J", at + 1)) {
    ++clears;
  }
  EXPECT_EQ(clears, 4u) << text;
  EXPECT_THAT(text.substr(text.rfind("\x1b[H\x1b[2J")), HasSubstr("Phase:      Succeeded"));
}

json Pod(const std::string& name, const json& labels, const std::string& created) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", name}, {"labels", labels}, {"creationTimestamp", created}}},
          {"spec", {{"containers", {{{"name", "main"}}, {{"name", "sidecar"}}}}}}};
}

TEST_F(CommandsTest, LogsOfAFlowStepFindTheAttemptsPod) {
  json flow = Create(kube::resources::JobFlows(), Flow("etl"));
  const std::string uid = flow["metadata"]["uid"];
  flow["status"] = {
      {"phase", "Running"},
      {"steps",
       {{{"name", "b"},
         {"phase", "Running"},
         {"attempts",
          {{{"attempt", 1}, {"job", "etl-b-1-x"}}, {{"attempt", 2}, {"job", "etl-b-2-x"}}}}}}}};
  ASSERT_TRUE(client_.UpdateStatus(kube::resources::JobFlows(), "team", flow).ok());
  auto labels = [&](const std::string& step, int attempt) {
    return json{{"weir.dev/flow-uid", uid},
                {"weir.dev/step", step},
                {"weir.dev/attempt", std::to_string(attempt)}};
  };
  Create(kube::resources::Pods(), Pod("b1", labels("b", 1), "2026-12-06T06:00:00Z"));
  Create(kube::resources::Pods(), Pod("b2", labels("b", 2), "2026-12-06T06:01:00Z"));
  Create(kube::resources::Pods(), Pod("a2", labels("a", 2), "2026-12-06T06:01:00Z"));
  EXPECT_EQ(RunArgs({"logs", "flow/etl", "b"}), 0);
  EXPECT_EQ(RunArgs({"logs", "flow/etl", "b", "--attempt", "1", "-f"}), 0);
  ASSERT_EQ(log_calls_.size(), 2u);
  EXPECT_EQ(log_calls_[0].pod, "b2");
  EXPECT_EQ(log_calls_[0].container, "main");
  EXPECT_FALSE(log_calls_[0].follow);
  EXPECT_EQ(log_calls_[1].pod, "b1");
  EXPECT_TRUE(log_calls_[1].follow);
  EXPECT_EQ(log_calls_[1].ns, "team");
  EXPECT_EQ(out(), "hello\nworld\nhello\nworld\n");
  EXPECT_EQ(client_.ListCalls().back().label_selector,
            "weir.dev/flow-uid=" + uid + ",weir.dev/step=b,weir.dev/attempt=1");

  EXPECT_EQ(RunArgs({"logs", "flow/etl", "b", "--attempt", "3"}), 1);
  EXPECT_EQ(RunArgs({"logs", "flow/etl", "a"}), 1);
  EXPECT_EQ(RunArgs({"logs", "flow/etl", "zz"}), 1);
  EXPECT_EQ(err(),
            "Error: step b of jobflows.weir.dev/etl has no attempt 3 (it has 2)\n"
            "Error: step a of jobflows.weir.dev/etl has no attempt yet\n"
            "Error: jobflows.weir.dev \"etl\" has no step \"zz\" (its steps: a, b)\n");
}

TEST_F(CommandsTest, LogsOfABatchUseItsMainContainerAndReportTheServersAnswer) {
  json b = Create(kube::resources::Batches(), Batch("train"));
  const std::string uid = b["metadata"]["uid"];
  b["status"] = {{"phase", "Running"}, {"attempts", {{{"attempt", 1}, {"job", "train-1-x"}}}}};
  ASSERT_TRUE(client_.UpdateStatus(kube::resources::Batches(), "team", b).ok());
  EXPECT_EQ(RunArgs({"logs", "batch/train"}), 1);
  EXPECT_THAT(err(), HasSubstr("Error: attempt 1 of batches.weir.dev/train has no pod left (Job "
                               "train-1-x)"));
  Create(kube::resources::Pods(),
         Pod("train-1-x-abcde", {{"weir.dev/batch-uid", uid}, {"weir.dev/attempt", "1"}},
             "2026-12-06T06:00:00Z"));
  log_error_ = kube::MakeStatus(kube::Reason::kBadRequest,
                                "container \"trainer\" in pod \"train-1-x-abcde\" is waiting", 400);
  EXPECT_EQ(RunArgs({"logs", "batch/train"}), 1);
  ASSERT_EQ(log_calls_.size(), 1u);
  EXPECT_EQ(log_calls_[0].container, "trainer");  // spec.mainContainer, not the first
  EXPECT_THAT(err(), HasSubstr("Error: the log of container trainer of pod train-1-x-abcde "
                               "(attempt 1 of batches.weir.dev/train): container \"trainer\" in "
                               "pod \"train-1-x-abcde\" is waiting\n"));
}

TEST_F(CommandsTest, HelpPrintsUsage) {
  EXPECT_EQ(RunArgs({"help"}), 0);
  EXPECT_EQ(out(), UsageText());
}

}  // namespace
}  // namespace weir::cli
