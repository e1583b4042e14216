// The fault-injection suite (issue 12, docs/design.md §7). Every scenario in
// Scenarios() runs under weir-controller-faults (fault_client.h):
//   1. without faults: the reference outcome, and N, the number of state
//      writes the controller made;
//   2. crash-k: the controller exits right after its k-th state write, and a
//      fresh one (with no faults) takes over;
//   3. seed-s: a seeded random schedule of API errors, held-back and
//      coalesced watch events and watches that end or expire, with a crash
//      at a random write; the controller that takes over starts from a stale
//      list (the state just after the scenario's objects were applied) and
//      keeps the other faults.
// Each run must reach the reference outcome (invariant 4), then write
// nothing more (4), and once its owners are deleted leave no Job or pod (5);
// the independent oracle (test/oracle/history.h) judges every version the
// run stored (1-5).
//
// Which runs: WEIR_FAULTS=ci (the default, what `make test` runs): a crash
// after the first write (even places in the list) or the last (odd), and one
// seed (the place picks it, so the list covers seeds 1-20);
// WEIR_FAULTS=full (`make faults`): every k in 1..N and seeds 1-20;
// WEIR_FAULTS=crash-3 or seed-7: that run alone, as a failure's replay line
// prints it.
//
// A new scenario gets all of this by being added to Scenarios().
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/e2e/support/batch_objects.h"
#include "test/e2e/support/controller_process.h"
#include "test/e2e/support/eventually.h"
#include "test/e2e/support/kubectl.h"
#include "test/e2e/support/oracle_watch.h"

namespace weir::e2e {
namespace {

using nlohmann::json;

constexpr char kBatches[] = "batches.weir.dev";
constexpr char kFlows[] = "jobflows.weir.dev";

// A user's edit, made once `when` holds for the object (e.g. a cancel once it
// runs). `patch` returns the merge patch to apply, or null to delete it.
struct Edit {
  std::string resource;
  std::string name;
  std::function<bool(const json& object)> when;
  std::function<json(const json& object)> patch;
};

struct Scenario {
  std::string name;
  std::vector<json> objects;  // applied in order, in the run's namespace
  std::vector<Edit> edits;
};

bool Running(const json& o) {
  return o.is_object() && o.value("status", json::object()).value("phase", "") == "Running";
}

json StepOf(const json& flow, const std::string& step) {
  for (const json& s : flow.value("status", json::object()).value("steps", json::array())) {
    if (s.value("name", "") == step) return s;
  }
  return json::object();
}

Edit CancelWhenRunning(const std::string& resource, const std::string& name) {
  return {resource, name, Running, [](const json&) { return json{{"spec", {{"cancel", true}}}}; }};
}

Edit DeleteWhenRunning(const std::string& resource, const std::string& name) {
  return {resource, name, Running, [](const json&) { return json(); }};
}

// Once the owner recorded its first attempt (its Job exists, its pod may not
// run yet).
bool Started(const json& o) {
  return !o.value("status", json::object()).value("attempts", json::array()).empty();
}

bool Succeeded(const json& o) {
  return o.value("status", json::object()).value("phase", "") == "Succeeded";
}

// A Batch whose pod plays `outcome` in containers `names` (the first is
// "main" unless the spec names another).
json BatchOf(const std::vector<std::string>& names, const std::string& outcome, json extra,
             json annotations) {
  json b = SimulatedBatch("", "b", outcome, std::move(extra), std::move(annotations));
  SetContainers(b, names);
  return b;
}

// The scenarios of batch_test and flow_test that a controller fault can
// change, on kwok's simulated pods.
std::vector<Scenario> Scenarios() {
  const json retry_once = {{"retry", {{"limit", 1}, {"backoffSeconds", 1}}}};
  const json oom_retry = {{"retry",
                           {{"limit", 1},
                            {"backoffSeconds", 1},
                            {"onOOM", {{"memoryFactor", 2.0}, {"maxMemory", "256Mi"}}}}}};
  std::vector<Scenario> out;
  out.push_back({"batch_succeeds", {SimulatedBatch("", "b", "Succeeded")}, {}});
  out.push_back({"batch_fails_and_retries",
                 {SimulatedBatch("", "b", "Failed", retry_once, {{"sim.weir.dev/exit-code", "3"}})},
                 {}});
  out.push_back({"batch_oom_then_more_memory",
                 {SimulatedBatch("", "b", "Succeeded", oom_retry,
                                 {{"sim.weir.dev/outcome-attempt-1", "OOMKilled"},
                                  {"sim.weir.dev/outcome-attempt-2", "Succeeded"}})},
                 {}});
  out.push_back({"batch_evicted_then_succeeds",
                 {SimulatedBatch("", "b", "Succeeded", {{"retry", {{"backoffSeconds", 1}}}},
                                 {{"sim.weir.dev/outcome-attempt-1", "Evicted"},
                                  {"sim.weir.dev/outcome-attempt-2", "Succeeded"}})},
                 {}});
  out.push_back({"batch_canceled_while_running",
                 {SimulatedBatch("", "b", "Hang")},
                 {CancelWhenRunning(kBatches, "b")}});
  json born_canceled = SimulatedBatch("", "b", "Succeeded");
  born_canceled["spec"]["cancel"] = true;
  out.push_back({"batch_created_canceled", {born_canceled}, {}});
  out.push_back({"batch_deleted_while_running",
                 {SimulatedBatch("", "b", "Hang")},
                 {DeleteWhenRunning(kBatches, "b")}});

  out.push_back(
      {"flow_diamond",
       {Template("work"), Flow("f", {Step("a", "work"), Step("b", "work", {{"a", "Succeeded"}}),
                                     Step("c", "work", {{"a", "Succeeded"}}),
                                     Step("d", "work", {{"b", "Succeeded"}, {"c", "Succeeded"}})})},
       {}});
  // "long" ends only when StopFlow stops it, and "breaks" fails 6 s in, so a
  // controller restarted after write 1 (before "long"'s Job exists) starts
  // "long" first with a wide margin. With "long" ending by itself after 8 s
  // and "breaks" failing after 1 s, the full sweep at a load of 10 saw both
  // outcomes change by timing alone (replays of the same seed held).
  out.push_back({"flow_step_fails_stop",
                 {Template("work"), Flow("f", {Step("breaks", "work", {}, Plays("Failed", "6s")),
                                               Step("long", "work", {}, Plays("Hang")),
                                               Step("after", "work", {{"long", "Succeeded"}})})},
                 {}});
  out.push_back({"flow_step_canceled",
                 {Template("work"), Flow("f", {Step("slow", "work", {}, Plays("Hang")),
                                               Step("after-slow", "work", {{"slow", "Succeeded"}}),
                                               Step("on-cancel", "work", {{"slow", "Canceled"}})})},
                 {{kFlows, "f",
                   [](const json& f) { return StepOf(f, "slow").value("phase", "") == "Running"; },
                   [](const json& f) {
                     json steps = f["spec"]["steps"];
                     steps[0]["cancel"] = true;
                     return json{{"spec", {{"steps", steps}}}};
                   }}}});
  out.push_back({"flow_canceled",
                 {Template("work"), Flow("f", {Step("x", "work", {}, Plays("Hang")),
                                               Step("z", "work", {{"x", "Completed"}})})},
                 {CancelWhenRunning(kFlows, "f")}});
  out.push_back({"flow_deleted_while_running",
                 {Template("work"), Flow("f", {Step("x", "work", {}, Plays("Hang"))})},
                 {DeleteWhenRunning(kFlows, "f")}});

  // The other kwok scenarios of batch_test and flow_test.
  out.push_back(
      {"batch_fails",
       {SimulatedBatch("", "b", "Failed", json::object(), {{"sim.weir.dev/exit-code", "3"}})},
       {}});
  out.push_back({"batch_oom_killed", {SimulatedBatch("", "b", "OOMKilled")}, {}});
  out.push_back({"batch_sidecar_hangs_after_main",
                 {BatchOf({"main", "sidecar"}, "Succeeded", json::object(),
                          {{"sim.weir.dev/outcome-container-sidecar", "Hang"}})},
                 {}});
  out.push_back({"batch_sidecar_fails_after_main",
                 {BatchOf({"main", "sidecar"}, "Succeeded", json::object(),
                          {{"sim.weir.dev/outcome-container-sidecar", "Failed"}})},
                 {}});
  out.push_back({"batch_named_main_fails",
                 {BatchOf({"proxy", "work"}, "Succeeded", {{"mainContainer", "work"}},
                          {{"sim.weir.dev/outcome-container-work", "Failed"},
                           {"sim.weir.dev/exit-code-container-work", "5"}})},
                 {}});
  out.push_back(
      {"batch_preempted_then_node_lost",
       {SimulatedBatch("", "b", "Succeeded", {{"retry", {{"limit", 0}, {"backoffSeconds", 1}}}},
                       {{"sim.weir.dev/outcome-attempt-1", "Preempted"},
                        {"sim.weir.dev/outcome-attempt-2", "NodeLost"}})},
       {}});
  const json pull_forever = {{"imagePullGraceSeconds", 600}};
  out.push_back({"batch_canceled_while_pending",
                 {SimulatedBatch("", "b", "ImagePullBackOff", pull_forever)},
                 {{kBatches, "b", Started, [](const json&) {
                     return json{{"spec", {{"cancel", true}}}};
                   }}}});
  out.push_back({"batch_deleted_while_pending",
                 {SimulatedBatch("", "b", "ImagePullBackOff", pull_forever)},
                 {{kBatches, "b", Started, [](const json&) { return json(); }}}});
  out.push_back({"batch_canceled_after_it_succeeded",
                 {SimulatedBatch("", "b", "Succeeded")},
                 {{kBatches, "b", Succeeded, [](const json&) {
                     return json{{"spec", {{"cancel", true}}}};
                   }}}});

  out.push_back(
      {"flow_conditions",
       {Template("work"), Flow("f",
                               {Step("bad", "work", {}, Plays("Failed")), Step("good", "work"),
                                Step("on-bad-failed", "work", {{"bad", "Failed"}}),
                                Step("on-good-failed", "work", {{"good", "Failed"}}),
                                Step("on-bad-ok", "work", {{"bad", "Succeeded"}}),
                                Step("finally", "work", {{"on-bad-ok", "Completed"}})},
                               {{"onStepFailure", "ContinueOthers"}})},
       {}});
  out.push_back({"flow_step_fails_continue",
                 {Template("work"), Flow("f",
                                         {Step("breaks", "work", {}, Plays("Failed")),
                                          Step("long", "work", {}, Plays("Succeeded", "4s")),
                                          Step("after", "work", {{"long", "Succeeded"}})},
                                         {{"onStepFailure", "ContinueOthers"}})},
                 {}});
  out.push_back({"flow_fan_out_in",
                 {Template("work"),
                  Flow("f", {Step("root", "work"), Step("l", "work", {{"root", "Succeeded"}}),
                             Step("m", "work", {{"root", "Succeeded"}}),
                             Step("r", "work", {{"root", "Succeeded"}}),
                             Step("join", "work",
                                  {{"l", "Succeeded"}, {"m", "Succeeded"}, {"r", "Succeeded"}})})},
                 {}});
  out.push_back(
      {"flow_suspended_then_resumed_parallelism_2",
       {Template("work"),
        Flow("f", {Step("s0", "work"), Step("s1", "work"), Step("s2", "work"), Step("s3", "work")},
             {{"parallelism", 2}, {"suspend", true}})},
       {{kFlows, "f", [](const json& f) { return f.contains("status"); },
         [](const json&) {
           return json{{"spec", {{"suspend", false}}}};
         }}}});
  out.push_back(
      {"flow_step_oom_retry",
       {Template("work"),
        Flow("f", {Step("grow", "work", {},
                        {{"retry", oom_retry["retry"]},
                         {"patch",
                          {{"template",
                            {{"metadata",
                              {{"annotations",
                                {{"sim.weir.dev/outcome-attempt-1", "OOMKilled"},
                                 {"sim.weir.dev/outcome-attempt-2", "Succeeded"}}}}}}}}}})})},
       {}});
  out.push_back({"flow_cycle_is_invalid",
                 {Template("work"), Flow("f", {Step("a", "work", {{"b", "Succeeded"}}),
                                               Step("b", "work", {{"a", "Succeeded"}})})},
                 {}});
  out.push_back({"flow_unknown_template", {Flow("f", {Step("a", "missing")})}, {}});
  out.push_back(
      {"flows_share_a_template",
       {Template("work"), Flow("f", {Step("a", "work"), Step("b", "work", {{"a", "Succeeded"}})}),
        Flow("g", {Step("a", "work", {}, Plays("Failed")), Step("b", "work", {{"a", "Failed"}})})},
       {}});
  // A user's edit of a running flow (issue 18) that the schema lets through:
  // once step `a` started, an unstarted step is dropped, another re-templated
  // and a third added, and `a` is canceled in the same patch; the new
  // template fails, so the outcome shows which one ran.
  const json edit_steps = {Step("a", "work", {}, Plays("Hang")),
                           Step("b", "work", {{"a", "Canceled"}}),
                           Step("gone", "work", {{"a", "Canceled"}})};
  out.push_back(
      {"flow_edited_while_running",
       {Template("work"), Template("other", "Failed"),
        Flow("f", edit_steps, {{"onStepFailure", "ContinueOthers"}})},
       {{kFlows, "f",
         [](const json& f) { return !StepOf(f, "a").value("attempts", json::array()).empty(); },
         [](const json&) {
           json a = Step("a", "work", {}, Plays("Hang"));
           a["cancel"] = true;
           return json{{"spec",
                        {{"steps", json::array({a, Step("b", "other", {{"a", "Canceled"}}),
                                                Step("added", "work", {{"a", "Canceled"}})})}}}};
         }}}});
  out.push_back(
      {"flow_retain_delete",
       {Template("work"), Flow("f", {Step("a", "work")}, {{"jobRetainPolicy", "Delete"}})},
       {}});
  return out;
}

// What a user sees of an owner's end: phase, reason, exit code and the
// attempts; for a flow, each step's too.
std::string OutcomeOf(const json& owner) {
  auto one = [](const json& o) {
    return absl::StrCat(o.value("phase", "-"), " ", o.value("terminationReason", "-"), " ",
                        o.contains("exitCode") ? o["exitCode"].dump() : "-");
  };
  auto attempts = [&](const json& o) {
    std::vector<std::string> out;
    for (const json& a : o.value("attempts", json::array())) out.push_back(one(a));
    return absl::StrCat("[", absl::StrJoin(out, ", "), "]");
  };
  const json status = owner.value("status", json::object());
  std::string out = absl::StrCat(one(status), " ", attempts(status));
  for (const json& s : status.value("steps", json::array())) {
    absl::StrAppend(&out, "; ", s.value("name", ""), ": ", one(s), " ", attempts(s));
  }
  return out;
}

bool Ended(const json& owner) {
  const std::string phase = owner.value("status", json::object()).value("phase", "");
  return phase == "Succeeded" || phase == "Failed" || phase == "Killed" || phase == "Canceled";
}

// One run's fault point: "none", "crash-<k>" or "seed-<s>".
struct Point {
  enum class Kind { kNone, kCrash, kSeed } kind = Kind::kNone;
  int n = 0;
  std::string Name() const {
    switch (kind) {
      case Kind::kCrash:
        return absl::StrCat("crash-", n);
      case Kind::kSeed:
        return absl::StrCat("seed-", n);
      case Kind::kNone:
        break;
    }
    return "none";
  }
};

std::optional<Point> ParsePoint(absl::string_view s) {
  Point p;
  if (absl::ConsumePrefix(&s, "crash-")) {
    p.kind = Point::Kind::kCrash;
  } else if (absl::ConsumePrefix(&s, "seed-")) {
    p.kind = Point::Kind::kSeed;
  } else {
    return std::nullopt;
  }
  if (!absl::SimpleAtoi(s, &p.n) || p.n < 1) return std::nullopt;
  return p;
}

// Seeded random schedules per scenario in a full run.
constexpr int kSeeds = 20;

struct RunResult {
  std::string outcome;  // every owner's OutcomeOf, or "<name> deleted"
  int writes = 0;       // state writes, over every controller process, cleanup included
  int crashes = 0;
};

int CountLines(const std::string& path) {
  std::ifstream in(path);
  int n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

class FaultsTest : public ::testing::TestWithParam<Scenario> {
 protected:
  void SetUp() override {
    absl::StatusOr<Kubectl> k = Kubectl::FromEnv();
    ASSERT_TRUE(k.ok()) << k.status();
    kubectl_.emplace(*std::move(k));
  }

  // Runs the scenario once at `point`; `writes` (for seeds) is the reference
  // run's N. Adds a failure naming the replay command on any violation.
  RunResult RunAt(const Scenario& s, const Point& point, int writes) {
    const std::string replay =
        absl::StrCat("replay: WEIR_FAULTS=", point.Name(), " ", program_invocation_name,
                     " --gtest_filter='*/FaultsTest.Run/", s.name, "'");
    SCOPED_TRACE(absl::StrCat(s.name, " at ", point.Name(), "; ", replay));
    RunResult result;
    TestNamespace ns(*kubectl_, "faults");
    // The oracle judges every version of the run, not only where it ends.
    absl::StatusOr<std::unique_ptr<OracleWatch>> oracle = OracleWatch::Start(*kubectl_, ns.name());
    EXPECT_TRUE(oracle.ok()) << oracle.status();
    const std::string log_base = absl::StrCat(::testing::TempDir(), "/faults-", ns.name());
    const std::string write_log = log_base + ".writes";

    std::string first = absl::StrCat("write-log=", write_log);
    std::string then = first;
    if (point.kind == Point::Kind::kCrash) {
      absl::StrAppend(&first, ",crash-after-write=", point.n);
    } else if (point.kind == Point::Kind::kSeed) {
      const std::string random =
          ",error-rate=0.1,watch-delay=800ms,watch-coalesce=0.5,watch-end-after=30";
      absl::StrAppend(&first, ",seed=", point.n, random,
                      ",crash-after-write=", 1 + point.n % std::max(1, writes));
      absl::StrAppend(&then, ",seed=", point.n + 1000, random);
    }
    auto start = [&](const std::string& faults, int generation) {
      auto c = std::make_unique<ControllerProcess>(
          std::vector<std::string>{"--namespace=" + ns.name(), "--batch-idle-timeout=1h",
                                   "--faults=" + faults},
          absl::StrCat(log_base, ".controller-", generation, ".log"),
          WEIR_CONTROLLER_FAULTS_BINARY);
      absl::Status started = c->Start();
      EXPECT_TRUE(started.ok()) << started;
      return c;
    };
    std::unique_ptr<ControllerProcess> controller = start(first, 0);
    // A crashed controller is replaced at once, whatever the run is doing.
    auto supervise = [&] {
      if (std::optional<int> code = controller->Exited()) {
        EXPECT_EQ(*code, 86) << "the controller exited without an injected crash; see "
                             << controller->log_path();
        ++result.crashes;
        controller = start(then, result.crashes);
      }
    };
    for (json o : s.objects) {
      o["metadata"].erase("namespace");
      absl::Status applied =
          kubectl_->Run({"apply", "-n", ns.name(), "-f", "-"}, o.dump()).status();
      EXPECT_TRUE(applied.ok()) << applied;
    }
    // The state right after the apply: where a restarted controller's stale
    // list starts.
    const std::string stale_version = ListVersion(ns.name());
    if (point.kind == Point::Kind::kSeed && !stale_version.empty()) {
      absl::StrAppend(&then, ",stale-list-version=", stale_version);
    }

    std::vector<bool> edited(s.edits.size(), false);
    std::string outcome;
    const bool settled = Eventually(
        [&]() -> absl::StatusOr<bool> {
          supervise();
          for (size_t i = 0; i < s.edits.size(); ++i) {
            if (edited[i]) continue;
            const Edit& e = s.edits[i];
            absl::StatusOr<json> o =
                kubectl_->GetJson({"get", e.resource, e.name, "-n", ns.name()});
            if (!o.ok()) return o.status();
            if (!e.when(*o)) continue;
            const json patch = e.patch(*o);
            absl::Status done =
                patch.is_null()
                    ? kubectl_->Run({"delete", e.resource, e.name, "-n", ns.name(), "--wait=false"})
                          .status()
                    : kubectl_
                          ->Run({"patch", e.resource, e.name, "-n", ns.name(), "--type=merge", "-p",
                                 patch.dump()})
                          .status();
            EXPECT_TRUE(done.ok()) << done;
            edited[i] = true;
          }
          absl::StatusOr<std::string> now = Outcome(ns.name());
          if (!now.ok()) return now.status();
          outcome = *now;
          return !absl::StrContains(outcome, "running:");
        },
        absl::Seconds(150), absl::Milliseconds(250));
    EXPECT_TRUE(settled) << "not settled in 150 s: " << outcome << "; see " << log_base << ".*";

    // Invariant 4: once settled, the controller stops writing (cleanup such as
    // deleting a canceled attempt's Job may still come, later under faults):
    // a quiet window of 3 s within 30 s, and the outcome is still the same.
    int writes = CountLines(write_log);
    absl::Time last_write = absl::Now();
    const bool quiet = Eventually(
        [&] {
          supervise();
          if (const int n = CountLines(write_log); n != writes) {
            writes = n;
            last_write = absl::Now();
          }
          return absl::Now() - last_write >= absl::Seconds(3);
        },
        absl::Seconds(30), absl::Milliseconds(250));
    EXPECT_TRUE(quiet) << "the controller kept writing after the outcome was reached; see "
                       << write_log;
    absl::StatusOr<std::string> after = Outcome(ns.name());
    EXPECT_TRUE(after.ok()) << after.status();
    result.outcome = after.ok() ? *after : outcome;
    EXPECT_EQ(result.outcome, outcome) << "the outcome changed after it was reached";

    // Invariant 5: deleting the owners leaves no Job or pod.
    absl::StatusOr<std::string> left =
        LeftAfterDeletingOwners(*kubectl_, ns.name(), absl::Seconds(60), supervise);
    EXPECT_TRUE(left.ok()) << left.status();
    EXPECT_EQ(left.value_or(""), "") << "left behind after the owners were deleted";
    if (oracle.ok()) FinishAndJudge(*std::move(oracle));
    controller->Stop();
    result.writes = CountLines(write_log);
    return result;
  }

  // metadata.resourceVersion of a list of the namespace's Batches.
  std::string ListVersion(const std::string& ns) {
    absl::StatusOr<json> list = kubectl_->GetJson({"get", kBatches, "-n", ns});
    EXPECT_TRUE(list.ok()) << list.status();
    return list.ok() ? (*list)["metadata"].value("resourceVersion", "") : "";
  }

  // Every owner's outcome, one per line, sorted by kind and name; an owner
  // still going reads "running: <name>".
  absl::StatusOr<std::string> Outcome(const std::string& ns) {
    std::vector<std::string> lines;
    for (const char* resource : {kBatches, kFlows}) {
      absl::StatusOr<json> list = kubectl_->GetJson({"get", resource, "-n", ns});
      if (!list.ok()) return list.status();
      for (const json& o : (*list)["items"]) {
        const std::string name = absl::StrCat(resource, "/", o["metadata"].value("name", ""));
        const bool deleting = o["metadata"].contains("deletionTimestamp");
        lines.push_back(Ended(o) && !deleting ? absl::StrCat(name, " ", OutcomeOf(o))
                                              : absl::StrCat("running: ", name));
      }
    }
    return absl::StrJoin(lines, "\n");
  }

  std::optional<Kubectl> kubectl_;
};

// `index`: the scenario's place in Scenarios(), which picks its CI seed.
std::vector<Point> PointsToRun(int writes, int index) {
  const char* env = std::getenv("WEIR_FAULTS");
  const std::string mode = env == nullptr || *env == '\0' ? "ci" : env;
  if (std::optional<Point> one = ParsePoint(mode)) return {*one};
  std::vector<Point> points;
  auto crash = [&](int k) { points.push_back({Point::Kind::kCrash, k}); };
  auto seed = [&](int s) { points.push_back({Point::Kind::kSeed, s}); };
  if (mode == "full") {
    for (int k = 1; k <= writes; ++k) crash(k);
    for (int s = 1; s <= kSeeds; ++s) seed(s);
  } else {
    // Half the scenarios crash after their first write, half after their
    // last; each gets one seed, so that the list covers all of them.
    crash(index % 2 == 0 ? 1 : writes);
    seed(1 + index % kSeeds);
  }
  return points;
}

TEST_P(FaultsTest, Run) {
  const Scenario& s = GetParam();
  const std::vector<Scenario> all = Scenarios();
  const int index = static_cast<int>(
      std::find_if(all.begin(), all.end(), [&](const Scenario& x) { return x.name == s.name; }) -
      all.begin());
  const RunResult reference = RunAt(s, Point(), 0);
  ASSERT_FALSE(HasFailure()) << "the fault-free run already fails";
  ASSERT_GT(reference.writes, 0);
  std::printf("%s: reference %d writes: %s\n", s.name.c_str(), reference.writes,
              reference.outcome.c_str());
  for (const Point& p : PointsToRun(reference.writes, index)) {
    const RunResult r = RunAt(s, p, reference.writes);
    EXPECT_EQ(r.outcome, reference.outcome)
        << s.name << " at " << p.Name() << " ended otherwise than without faults";
    std::printf("%s at %s: %d writes, %d crash(es): %s\n", s.name.c_str(), p.Name().c_str(),
                r.writes, r.crashes, r.outcome == reference.outcome ? "same outcome" : "DIFFERS");
  }
}

void PrintTo(const Scenario& s, std::ostream* os) { *os << s.name; }

INSTANTIATE_TEST_SUITE_P(Scenarios, FaultsTest, ::testing::ValuesIn(Scenarios()),
                         [](const ::testing::TestParamInfo<Scenario>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace weir::e2e
