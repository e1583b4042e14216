// The oracle judged on hand-made histories: a clean run reports nothing, and
// each broken invariant is reported, with the numbered history behind it.
#include "test/oracle/history.h"

#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace weir::oracle {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

constexpr char kBatchUid[] = "b-uid";
constexpr char kJobUid[] = "j-uid";
constexpr char kPodUid[] = "p-uid";

// Builds a history in order: each event gets the next resourceVersion.
class Script {
 public:
  void Event(Kind kind, const std::string& type, json object) {
    object["metadata"]["resourceVersion"] = std::to_string(++rv_);
    events_.push_back({kind, {{"type", type}, {"object", object}}});
    ASSERT_TRUE(history_.Add(kind, events_.back().second).ok());
  }
  History& history() { return history_; }
  const std::vector<std::pair<Kind, json>>& events() const { return events_; }

 private:
  History history_;
  std::vector<std::pair<Kind, json>> events_;
  int rv_ = 100;
};

json Batch(int generation, json status = json::object(), json spec = json::object()) {
  return {{"metadata", {{"name", "b"}, {"uid", kBatchUid}, {"generation", generation}}},
          {"spec", spec},
          {"status", status}};
}

json Attempt(const std::string& phase, json extra = json::object()) {
  json a = {{"attempt", 1}, {"job", "b-1-x"}, {"phase", phase}};
  a.update(extra);
  return a;
}

json Job(const std::string& uid = kJobUid, const std::string& generation = "1") {
  json job = {{"metadata",
               {{"name", "b-1-x"},
                {"uid", uid},
                {"labels",
                 {{"weir.dev/managed-by", "weir"},
                  {"weir.dev/batch", "b"},
                  {"weir.dev/batch-uid", kBatchUid},
                  {"weir.dev/attempt", "1"}}},
                {"annotations", {{"weir.dev/owner-generation", generation}}}}}};
  job["spec"]["template"]["spec"]["containers"] = json::array({{{"name", "main"}}});
  return job;
}

// The Job's pod with container "main" in `state`.
json Pod(json state, const std::string& job_uid = kJobUid) {
  return {{"metadata",
           {{"name", "b-1-x-pod"},
            {"uid", kPodUid},
            {"labels", {{"weir.dev/batch-uid", kBatchUid}}},
            {"ownerReferences", json::array({{{"kind", "Job"}, {"uid", job_uid}}})}}},
          {"status", {{"containerStatuses", json::array({{{"name", "main"}, {"state", state}}})}}}};
}

json Terminated(int exit_code, const std::string& reason = "Completed") {
  return {{"terminated", {{"exitCode", exit_code}, {"reason", reason}}}};
}

json Released(json status) {
  status["conditions"] = json::array({{{"type", "ResourcesReleased"}, {"status", "True"}}});
  return status;
}

// A Batch that runs one attempt whose main container ends `exit_code`
// (`reason`), up to the moment weir records it; the caller writes the end.
void RunAttempt(Script& s, int exit_code, const std::string& reason = "Completed") {
  s.Event(Kind::kBatch, "ADDED", Batch(1));
  s.Event(Kind::kJob, "ADDED", Job());
  s.Event(Kind::kPod, "ADDED", Pod({{"running", json::object()}}));
  s.Event(Kind::kBatch, "MODIFIED",
          Batch(1, {{"phase", "Running"}, {"attempts", {Attempt("Running")}}}));
  s.Event(Kind::kPod, "MODIFIED", Pod(Terminated(exit_code, reason)));
}

// Deletes the Job and pod, then records the release.
void Release(Script& s, json status) {
  s.Event(Kind::kJob, "DELETED", Job());
  s.Event(Kind::kPod, "DELETED", Pod(Terminated(0)));
  s.Event(Kind::kBatch, "MODIFIED", Batch(1, Released(status)));
}

json Succeeded() {
  return {
      {"phase", "Succeeded"},
      {"terminationReason", "Completed"},
      {"exitCode", 0},
      {"job", "b-1-x"},
      {"attempts", {Attempt("Succeeded", {{"exitCode", 0}, {"terminationReason", "Completed"}})}}};
}

std::vector<int> Invariants(const std::vector<Violation>& violations) {
  std::vector<int> out;
  for (const Violation& v : violations) out.push_back(v.invariant);
  return out;
}

TEST(OracleTest, ACleanHistoryReportsNothing) {
  Script s;
  RunAttempt(s, 0);
  s.Event(Kind::kBatch, "MODIFIED", Batch(1, Succeeded()));
  Release(s, Succeeded());
  s.Event(Kind::kBatch, "DELETED", Batch(1, Released(Succeeded())));
  const std::vector<Violation> violations = s.history().Check();
  EXPECT_TRUE(violations.empty()) << s.history().Report(violations);
  EXPECT_EQ(s.history().Summary().jobs, 1);
  EXPECT_EQ(s.history().Summary().pods, 1);
  EXPECT_EQ(s.history().Summary().units_failed, 0);
}

// The e2e oracle feeds one watch after the other: the history is judged, and
// its versions numbered and listed, in resourceVersion order all the same.
TEST(OracleTest, EventsFedOneKindAfterTheOtherAreJudgedInResourceVersionOrder) {
  Script s;
  RunAttempt(s, 1, "Error");
  s.Event(Kind::kBatch, "MODIFIED", Batch(1, Succeeded()));
  History by_kind;
  for (Kind kind : {Kind::kBatch, Kind::kJob, Kind::kPod}) {
    for (const auto& [k, event] : s.events()) {
      if (k == kind) {
        ASSERT_TRUE(by_kind.Add(k, event).ok());
      }
    }
  }
  const std::vector<Violation> violations = by_kind.Check();
  ASSERT_THAT(Invariants(violations), ::testing::Each(3));
  EXPECT_EQ(by_kind.Report(violations), s.history().Report(s.history().Check()));
  EXPECT_THAT(by_kind.Report(violations), HasSubstr("#1 rv=101 ADDED Batch"));
}

TEST(OracleTest, CanceledAfterTheUserAskedIsClean) {
  Script s;
  RunAttempt(s, 143, "Error");
  s.Event(Kind::kBatch, "MODIFIED",
          Batch(2, {{"phase", "Running"}, {"attempts", {Attempt("Running")}}}, {{"cancel", true}}));
  json canceled = {{"phase", "Canceled"},
                   {"terminationReason", "Canceled"},
                   {"exitCode", 143},
                   {"job", "b-1-x"},
                   {"attempts", {Attempt("Canceled", {{"exitCode", 143}})}}};
  s.Event(Kind::kBatch, "MODIFIED", Batch(2, canceled, {{"cancel", true}}));
  const std::vector<Violation> violations = s.history().Check();
  EXPECT_TRUE(violations.empty()) << s.history().Report(violations);
}

// A spec made invalid while an attempt ran (an edit past the schema): weir
// stops the attempt, and Valid=False recorded before the Canceled explains
// it; the same Canceled without it does not.
TEST(OracleTest, ABatchWhoseSpecBecameInvalidMayEndCanceled) {
  for (const bool invalid : {true, false}) {
    SCOPED_TRACE(invalid ? "Valid=False recorded" : "nothing recorded");
    Script s;
    RunAttempt(s, 143, "Error");
    json stopping = {{"phase", "Canceling"}, {"attempts", {Attempt("Running")}}};
    if (invalid) {
      stopping["conditions"] = json::array({{{"type", "Valid"}, {"status", "False"}}});
    }
    s.Event(Kind::kBatch, "MODIFIED", Batch(2, stopping));
    json canceled = stopping;
    canceled.update({{"phase", "Canceled"},
                     {"terminationReason", "InvalidSpec"},
                     {"exitCode", 143},
                     {"job", "b-1-x"},
                     {"attempts", {Attempt("Canceled", {{"exitCode", 143}})}}});
    s.Event(Kind::kBatch, "MODIFIED", Batch(2, canceled));
    const std::vector<Violation> violations = s.history().Check();
    if (invalid) {
      EXPECT_TRUE(violations.empty()) << s.history().Report(violations);
    } else {
      EXPECT_THAT(Invariants(violations), ::testing::Contains(3));
    }
  }
}

TEST(OracleTest, TwoJobsForOneAttemptBreakInvariant1) {
  Script s;
  s.Event(Kind::kBatch, "ADDED", Batch(1));
  s.Event(Kind::kJob, "ADDED", Job("j1"));
  s.Event(Kind::kJob, "ADDED", Job("j2"));
  const std::vector<Violation> violations = s.history().Check();
  ASSERT_THAT(Invariants(violations), ::testing::ElementsAre(1));
  EXPECT_THAT(violations[0].what, HasSubstr("existing at the same time"));
  // The numbered history names both Jobs.
  const std::string report = s.history().Report(violations);
  EXPECT_THAT(report, HasSubstr("#2 rv=102 ADDED Job b-1-x attempt=1"));
  EXPECT_THAT(report, HasSubstr("#3 rv=103 ADDED Job b-1-x attempt=1"));
}

TEST(OracleTest, CountsBatchesThatRecordedFailed) {
  Script s;
  RunAttempt(s, 0);
  const json failed = {{"phase", "Failed"}, {"terminationReason", "Error"}, {"exitCode", 1}};
  s.Event(Kind::kBatch, "MODIFIED", Batch(1, failed));
  s.Event(Kind::kBatch, "MODIFIED", Batch(1, failed));
  EXPECT_EQ(s.history().Summary().units_failed, 1) << "one Batch, however many versions";
}

TEST(OracleTest, AJobAuthorizedByTheCanceledGenerationBreaksInvariant2) {
  Script s;
  s.Event(Kind::kBatch, "ADDED", Batch(1));
  s.Event(Kind::kBatch, "MODIFIED", Batch(2, json::object(), {{"cancel", true}}));
  s.Event(Kind::kJob, "ADDED", Job(kJobUid, "2"));
  const std::vector<Violation> violations = s.history().Check();
  ASSERT_THAT(Invariants(violations), ::testing::Contains(2));
  EXPECT_THAT(s.history().Report(violations), HasSubstr("which asked to stop the Batch"));
}

TEST(OracleTest, AJobCreatedAfterCancelingWasRecordedBreaksInvariant2) {
  Script s;
  s.Event(Kind::kBatch, "ADDED", Batch(1));
  s.Event(Kind::kBatch, "MODIFIED", Batch(2, json::object(), {{"cancel", true}}));
  s.Event(Kind::kBatch, "MODIFIED",
          Batch(2, {{"phase", "Canceled"}, {"terminationReason", "Canceled"}}, {{"cancel", true}}));
  s.Event(Kind::kJob, "ADDED", Job(kJobUid, "1"));
  const std::vector<Violation> violations = s.history().Check();
  ASSERT_THAT(Invariants(violations), ::testing::Contains(2));
  EXPECT_THAT(s.history().Report(violations),
              HasSubstr("created after the Batch recorded Canceled"));
  EXPECT_EQ(s.history().Summary().jobs_in_cancel_window, 1);
}

// The inherent window: the Job was authorized by generation 1 and created
// after generation 2 (cancel) was stored; its pod then succeeded before weir
// looked. weir must still delete it and end the Batch Canceled (design §4.2).
void WindowJobThatSucceeded(Script& s) {
  s.Event(Kind::kBatch, "ADDED", Batch(1));
  s.Event(Kind::kBatch, "MODIFIED", Batch(2, json::object(), {{"cancel", true}}));
  s.Event(Kind::kJob, "ADDED", Job(kJobUid, "1"));
  s.Event(Kind::kPod, "ADDED", Pod({{"running", json::object()}}));
  s.Event(Kind::kPod, "MODIFIED", Pod(Terminated(0)));
}

TEST(OracleTest, AWindowJobKeptUnderASucceededBatchBreaksInvariant2) {
  Script s;
  WindowJobThatSucceeded(s);
  json status = Succeeded();
  s.Event(Kind::kBatch, "MODIFIED", Batch(2, status, {{"cancel", true}}));
  const std::vector<Violation> violations = s.history().Check();
  ASSERT_THAT(Invariants(violations), ::testing::Each(2));
  const std::string report = s.history().Report(violations);
  EXPECT_THAT(report, HasSubstr("created after the stop was stored, was never deleted"));
  EXPECT_THAT(report, HasSubstr("the Batch ended Succeeded, not Canceled"));
  EXPECT_EQ(s.history().Summary().jobs_in_cancel_window, 1);
}

TEST(OracleTest, AWindowJobDeletedUnderACanceledBatchIsJustified) {
  Script s;
  WindowJobThatSucceeded(s);
  json status = {
      {"phase", "Canceled"},
      {"terminationReason", "Canceled"},
      {"exitCode", 0},
      {"job", "b-1-x"},
      {"attempts", {Attempt("Succeeded", {{"exitCode", 0}, {"terminationReason", "Completed"}})}}};
  s.Event(Kind::kBatch, "MODIFIED", Batch(2, status, {{"cancel", true}}));
  s.Event(Kind::kJob, "DELETED", Job(kJobUid, "1"));
  s.Event(Kind::kPod, "DELETED", Pod(Terminated(0)));
  s.Event(Kind::kBatch, "MODIFIED", Batch(2, Released(status), {{"cancel", true}}));
  const std::vector<Violation> violations = s.history().Check();
  EXPECT_THAT(violations, ::testing::IsEmpty()) << s.history().Report(violations);
  EXPECT_EQ(s.history().Summary().jobs_in_cancel_window, 1);
}

TEST(OracleTest, AJobWithoutTheOwnerGenerationBreaksInvariant2) {
  Script s;
  s.Event(Kind::kBatch, "ADDED", Batch(1));
  json job = Job();
  job["metadata"].erase("annotations");
  s.Event(Kind::kJob, "ADDED", job);
  EXPECT_THAT(Invariants(s.history().Check()), ::testing::ElementsAre(2));
}

TEST(OracleTest, CanceledWithoutACancelBreaksInvariant3) {
  Script s;
  s.Event(Kind::kBatch, "ADDED", Batch(1));
  s.Event(Kind::kBatch, "MODIFIED",
          Batch(1, {{"phase", "Canceled"}, {"terminationReason", "Canceled"}}));
  const std::vector<Violation> violations = s.history().Check();
  ASSERT_THAT(Invariants(violations), ::testing::Each(3));
  EXPECT_THAT(s.history().Report(violations), HasSubstr("nobody asked to cancel"));
}

TEST(OracleTest, SucceededWithoutMainEndingZeroBreaksInvariant3) {
  Script s;
  RunAttempt(s, 1, "Error");
  json status = Succeeded();
  status.erase("exitCode");
  status["attempts"][0].erase("exitCode");
  s.Event(Kind::kBatch, "MODIFIED", Batch(1, status));
  const std::vector<Violation> violations = s.history().Check();
  ASSERT_THAT(Invariants(violations), ::testing::Each(3));
  const std::string report = s.history().Report(violations);
  EXPECT_THAT(report, HasSubstr("never terminated with exit 0"));
  EXPECT_THAT(report, HasSubstr("Pod b-1-x-pod phase= main=terminated(Error exit 1)"));
}

TEST(OracleTest, OOMKilledThatNoPodReportedBreaksInvariant3) {
  Script s;
  RunAttempt(s, 137, "Error");
  json attempt = Attempt("Killed", {{"terminationReason", "OOMKilled"}, {"exitCode", 137}});
  s.Event(Kind::kBatch, "MODIFIED",
          Batch(1, {{"phase", "Killed"},
                    {"terminationReason", "OOMKilled"},
                    {"exitCode", 137},
                    {"job", "b-1-x"},
                    {"attempts", {attempt}}}));
  const std::vector<Violation> violations = s.history().Check();
  ASSERT_THAT(Invariants(violations), ::testing::Each(3));
  EXPECT_THAT(s.history().Report(violations),
              HasSubstr("no container of Job \"b-1-x\" was reported OOMKilled"));
}

TEST(OracleTest, AnExitCodeNoContainerHadBreaksInvariant3) {
  Script s;
  RunAttempt(s, 3, "Error");
  s.Event(Kind::kBatch, "MODIFIED",
          Batch(1, {{"phase", "Failed"},
                    {"terminationReason", "Error"},
                    {"exitCode", 4},
                    {"job", "b-1-x"},
                    {"attempts", {Attempt("Failed", {{"exitCode", 3}})}}}));
  const std::vector<Violation> violations = s.history().Check();
  ASSERT_THAT(Invariants(violations), ::testing::ElementsAre(3));
  EXPECT_THAT(violations[0].what, HasSubstr("exit code 4"));
}

TEST(OracleTest, ATerminalPhaseThatChangesBreaksInvariant3) {
  Script s;
  RunAttempt(s, 0);
  s.Event(Kind::kBatch, "MODIFIED", Batch(1, Succeeded()));
  json later = Succeeded();
  later["phase"] = "Running";
  s.Event(Kind::kBatch, "MODIFIED", Batch(1, later));
  const std::vector<Violation> violations = s.history().Check();
  ASSERT_THAT(Invariants(violations), ::testing::ElementsAre(3));
  EXPECT_THAT(violations[0].what, HasSubstr("terminal phase Succeeded changed to Running"));
}

TEST(OracleTest, APhaseChangeOutsideTheTableBreaksInvariant3) {
  Script s;
  RunAttempt(s, 0);
  s.Event(Kind::kBatch, "MODIFIED",
          Batch(1, {{"phase", "Pending"}, {"attempts", {Attempt("Running")}}}));
  const std::vector<Violation> violations = s.history().Check();
  ASSERT_THAT(Invariants(violations), ::testing::ElementsAre(3));
  EXPECT_THAT(violations[0].what, HasSubstr("Running -> Pending is not in the transition table"));
}

TEST(OracleTest, ARecordedAttemptThatDisappearsOrChangesBreaksInvariant3) {
  Script s;
  RunAttempt(s, 0);
  s.Event(Kind::kBatch, "MODIFIED", Batch(1, Succeeded()));
  json changed = Succeeded();
  changed["attempts"][0]["message"] = "rewritten";
  s.Event(Kind::kBatch, "MODIFIED", Batch(1, changed));
  json lost = Succeeded();
  lost["attempts"] = json::array();
  s.Event(Kind::kBatch, "MODIFIED", Batch(1, lost));
  const std::vector<Violation> violations = s.history().Check();
  ASSERT_THAT(Invariants(violations), ::testing::Contains(3));
  const std::string report = s.history().Report(violations);
  EXPECT_THAT(report, HasSubstr("ended attempt record 1 changed"));
  EXPECT_THAT(report, HasSubstr("attempt record 1 disappeared"));
}

TEST(OracleTest, APodThatOutlivesItsDeletedOwnerBreaksInvariant5) {
  Script s;
  RunAttempt(s, 0);
  s.Event(Kind::kJob, "DELETED", Job());
  s.Event(Kind::kBatch, "DELETED", Batch(1, Succeeded()));
  const std::vector<Violation> violations = s.history().Check();
  ASSERT_THAT(Invariants(violations), ::testing::ElementsAre(5));
  EXPECT_THAT(violations[0].what, HasSubstr("Pod b-1-x-pod outlived its owner, which was deleted"));
}

TEST(OracleTest, AJobLeftAfterTheReleaseBreaksInvariant5) {
  Script s;
  RunAttempt(s, 0);
  s.Event(Kind::kBatch, "MODIFIED", Batch(1, Released(Succeeded())));
  const std::vector<Violation> violations = s.history().Check();
  ASSERT_THAT(Invariants(violations), ::testing::ElementsAre(5, 5));
  EXPECT_THAT(violations[0].what, HasSubstr("released its resources"));
}

// The job controller, from a stale view, may create a pod for a Job already
// deleted, after the owner released (seen in the cancel stress test): counted,
// and only a violation if that pod is never deleted.
TEST(OracleTest, APodCreatedForADeletedJobMustGoButIsNotAnOrphanOfWeir) {
  for (bool deleted : {true, false}) {
    Script s;
    s.Event(Kind::kBatch, "ADDED", Batch(1));
    s.Event(Kind::kJob, "ADDED", Job());
    s.Event(Kind::kJob, "DELETED", Job());
    json canceled = {{"phase", "Canceled"},
                     {"terminationReason", "Canceled"},
                     {"attempts", {Attempt("Canceled", {{"terminationReason", "Canceled"}})}}};
    s.Event(Kind::kBatch, "MODIFIED", Batch(2, Released(canceled), {{"cancel", true}}));
    s.Event(Kind::kPod, "ADDED", Pod({{"running", json::object()}}));
    if (deleted) s.Event(Kind::kPod, "DELETED", Pod(Terminated(143, "Error")));
    const std::vector<Violation> violations = s.history().Check();
    EXPECT_EQ(s.history().Summary().pods_for_deleted_jobs, 1);
    if (deleted) {
      EXPECT_THAT(Invariants(violations), ::testing::IsEmpty()) << s.history().Report(violations);
    } else {
      ASSERT_THAT(Invariants(violations), ::testing::ElementsAre(5));
      EXPECT_THAT(violations[0].what,
                  HasSubstr("created after its Job was deleted, was never deleted"));
    }
  }
}

TEST(OracleTest, AViolationFoundOutsideTheHistoryIsReported) {
  Script s;
  s.Event(Kind::kBatch, "ADDED", Batch(1));
  s.history().AddViolation({4, "the controller kept writing", {kBatchUid}});
  const std::vector<Violation> violations = s.history().Check();
  ASSERT_THAT(Invariants(violations), ::testing::ElementsAre(4));
  EXPECT_THAT(s.history().Report(violations), HasSubstr("#1 rv=101 ADDED Batch b gen=1"));
}

TEST(OracleTest, BrokenWatchEventsAreErrors) {
  History h;
  EXPECT_FALSE(h.Add(Kind::kJob, {{"type", "ERROR"}, {"object", {{"code", 410}}}}).ok());
  EXPECT_FALSE(h.Add(Kind::kJob, {{"type", "ADDED"}, {"object", json::object()}}).ok());
  EXPECT_TRUE(h.Add(Kind::kJob, {{"type", "BOOKMARK"}, {"object", json::object()}}).ok());
}

// A flow: a step canceled by its own spec.cancel is justified; a step
// Canceled while nothing asked is not.
json Flow(bool cancel_step, const std::string& step_phase) {
  json steps = json::array({{{"name", "a"}, {"template", "t"}}});
  if (cancel_step) steps[0]["cancel"] = true;
  return {
      {"metadata", {{"name", "f"}, {"uid", "f-uid"}, {"generation", cancel_step ? 2 : 1}}},
      {"spec", {{"steps", steps}}},
      {"status",
       {{"phase", "Running"}, {"steps", json::array({{{"name", "a"}, {"phase", step_phase}}})}}}};
}

TEST(OracleTest, AStepCanceledWithoutACancelBreaksInvariant3) {
  Script asked;
  asked.Event(Kind::kJobFlow, "ADDED", Flow(false, "Pending"));
  asked.Event(Kind::kJobFlow, "MODIFIED", Flow(true, "Pending"));
  asked.Event(Kind::kJobFlow, "MODIFIED", Flow(true, "Canceled"));
  EXPECT_TRUE(asked.history().Check().empty()) << asked.history().Report(asked.history().Check());

  Script unasked;
  unasked.Event(Kind::kJobFlow, "ADDED", Flow(false, "Pending"));
  unasked.Event(Kind::kJobFlow, "MODIFIED", Flow(false, "Canceled"));
  const std::vector<Violation> violations = unasked.history().Check();
  ASSERT_THAT(Invariants(violations), ::testing::ElementsAre(3));
  EXPECT_THAT(violations[0].what, HasSubstr("step a in version #2 is Canceled"));
}

// Issue 18: removing a started step from the spec, or giving it another
// template than the one it ran, asks to stop it.
TEST(OracleTest, AStepTheSpecLostOrRetemplatedMayEndCanceled) {
  for (const char* edit : {"removed", "retemplated"}) {
    SCOPED_TRACE(edit);
    Script s;
    json before = Flow(false, "Running");
    before["status"]["steps"][0]["template"] = "t";
    before["status"]["steps"][0]["attempts"] = json::array({Attempt("Running")});
    s.Event(Kind::kJobFlow, "ADDED", before);
    json after = before;
    after["metadata"]["generation"] = 2;
    if (std::string(edit) == "removed") {
      after["spec"]["steps"][0]["name"] = "x";
    } else {
      after["spec"]["steps"][0]["template"] = "t2";
    }
    s.Event(Kind::kJobFlow, "MODIFIED", after);
    after["status"]["steps"][0]["phase"] = "Canceled";
    s.Event(Kind::kJobFlow, "MODIFIED", after);
    EXPECT_TRUE(s.history().Check().empty()) << s.history().Report(s.history().Check());
  }
}

// A step re-templated before it started asks nothing to stop: the Job the
// new generation authorizes for it is the step's first, not an orphan.
TEST(OracleTest, AStepRetemplatedBeforeItStartedRunsTheNewTemplate) {
  for (const bool started : {false, true}) {
    SCOPED_TRACE(started ? "started" : "not started");
    Script s;
    json before = Flow(false, "Pending");
    before["status"]["steps"][0]["template"] = "t";
    if (started) before["status"]["steps"][0]["attempts"] = json::array({Attempt("Pending")});
    s.Event(Kind::kJobFlow, "ADDED", before);
    json after = before;
    after["metadata"]["generation"] = 2;
    after["spec"]["steps"][0]["template"] = "t2";
    s.Event(Kind::kJobFlow, "MODIFIED", after);
    json job = Job(kJobUid, "2");
    job["metadata"]["labels"] = {{"weir.dev/managed-by", "weir"},
                                 {"weir.dev/flow", "f"},
                                 {"weir.dev/flow-uid", "f-uid"},
                                 {"weir.dev/step", "a"},
                                 {"weir.dev/attempt", started ? "2" : "1"}};
    s.Event(Kind::kJob, "ADDED", job);
    const std::vector<Violation> violations = s.history().Check();
    if (started) {
      ASSERT_THAT(Invariants(violations), ::testing::Contains(2));
    } else {
      EXPECT_TRUE(violations.empty()) << s.history().Report(violations);
    }
  }
}

// An owner that reads terminal while a pod of it still runs (issue 18: a
// step the spec lost went on running under a Succeeded flow) breaks
// invariant 3; a pod already being deleted, one that never started (an
// image it cannot pull), or one on a lost node (phase Unknown, its container
// states stale: weir's NodeLost timeout) does not.
TEST(OracleTest, APodRunningWhenItsOwnerEndedBreaksInvariant3) {
  for (const std::string pod_is : {"running", "being deleted", "pending", "on a lost node"}) {
    SCOPED_TRACE(pod_is);
    Script s;
    s.Event(Kind::kBatch, "ADDED", Batch(1));
    s.Event(Kind::kJob, "ADDED", Job());
    json pod = pod_is == "pending" ? Pod({{"waiting", {{"reason", "ImagePullBackOff"}}}})
                                   : Pod({{"running", json::object()}});
    pod["status"]["phase"] = pod_is == "pending"          ? "Pending"
                             : pod_is == "on a lost node" ? "Unknown"
                                                          : "Running";
    s.Event(Kind::kPod, "ADDED", pod);
    s.Event(Kind::kBatch, "MODIFIED",
            Batch(1, {{"phase", "Running"}, {"attempts", {Attempt("Running")}}}));
    s.Event(
        Kind::kBatch, "MODIFIED",
        Batch(2, {{"phase", "Running"}, {"attempts", {Attempt("Running")}}}, {{"cancel", true}}));
    if (pod_is == "being deleted") {
      pod["metadata"]["deletionTimestamp"] = "2026-12-06T00:00:00Z";
      s.Event(Kind::kPod, "MODIFIED", pod);
    }
    s.Event(Kind::kBatch, "MODIFIED",
            Batch(2,
                  {{"phase", "Canceled"},
                   {"terminationReason", "Canceled"},
                   {"job", "b-1-x"},
                   {"attempts", {Attempt("Canceled")}}},
                  {{"cancel", true}}));
    const std::vector<Violation> violations = s.history().Check();
    if (pod_is != "running") {
      EXPECT_TRUE(violations.empty()) << s.history().Report(violations);
      continue;
    }
    ASSERT_THAT(Invariants(violations), ::testing::ElementsAre(3))
        << s.history().Report(violations);
    EXPECT_THAT(violations[0].what,
                HasSubstr("is Canceled in version #6 while Pod b-1-x-pod is Running"));
  }
}

}  // namespace
}  // namespace weir::oracle
