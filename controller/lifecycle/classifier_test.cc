#include "lifecycle/classifier.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "api/meta.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace weir::lifecycle {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);  // pod created

std::string Ts(absl::Duration after_t0) {
  return absl::FormatTime(absl::RFC3339_sec, kT0 + after_t0, absl::UTCTimeZone());
}

// Builds pod JSON in the shape the API server returns for a pod the kubelet
// runs with restartPolicy Never.
class PodBuilder {
 public:
  explicit PodBuilder(std::string name = "etl-main-1-abcde-x7k2p") {
    pod_ = {
        {"apiVersion", "v1"},
        {"kind", "Pod"},
        {"metadata",
         {{"name", name},
          {"namespace", "default"},
          {"uid", "5f0c1a9e-1111-2222-3333-444455556666"},
          {"creationTimestamp", Ts(absl::ZeroDuration())},
          {"labels", {{"weir.dev/batch", "etl"}, {"weir.dev/attempt", "1"}}}}},
        {"spec",
         {{"restartPolicy", "Never"},
          {"nodeName", "kwok-node-0"},
          {"containers", json::array()},
          {"terminationGracePeriodSeconds", 30}}},
        {"status",
         {{"phase", "Pending"},
          {"conditions", json::array({{{"type", "PodScheduled"},
                                       {"status", "True"},
                                       {"lastTransitionTime", Ts(absl::Seconds(1))}}})},
          {"qosClass", "Burstable"}}},
    };
  }

  PodBuilder& Container(const std::string& name, const std::string& limit = "512Mi",
                        const std::string& request = "") {
    json c = {{"name", name}, {"image", "registry.example/" + name + ":1.0"}};
    if (!limit.empty()) c["resources"]["limits"]["memory"] = limit;
    if (!request.empty()) c["resources"]["requests"]["memory"] = request;
    pod_["spec"]["containers"].push_back(c);
    return *this;
  }
  PodBuilder& InitContainer(const std::string& name, bool sidecar = false) {
    json c = {{"name", name}, {"image", "registry.example/" + name + ":1.0"}};
    if (sidecar) c["restartPolicy"] = "Always";
    pod_["spec"]["initContainers"].push_back(c);
    return *this;
  }
  PodBuilder& Phase(const std::string& phase) {
    pod_["status"]["phase"] = phase;
    if (phase != "Pending") pod_["status"]["startTime"] = Ts(absl::Seconds(2));
    return *this;
  }
  PodBuilder& StartTime(absl::Duration after_t0) {
    pod_["status"]["startTime"] = Ts(after_t0);
    return *this;
  }
  PodBuilder& Running(const std::string& name) {
    return Status("containerStatuses", name, {{"running", {{"startedAt", Ts(absl::Seconds(3))}}}},
                  true);
  }
  PodBuilder& Terminated(const std::string& name, int exit_code, const std::string& reason,
                         absl::Duration finished = absl::Seconds(60),
                         const std::string& message = "") {
    json t = {{"exitCode", exit_code},
              {"reason", reason},
              {"startedAt", Ts(absl::Seconds(3))},
              {"finishedAt", Ts(finished)},
              {"containerID", "containerd://0123456789abcdef"}};
    if (!message.empty()) t["message"] = message;
    return Status("containerStatuses", name, {{"terminated", t}}, false);
  }
  PodBuilder& Waiting(const std::string& name, const std::string& reason,
                      const std::string& message) {
    return Status("containerStatuses", name,
                  {{"waiting", {{"reason", reason}, {"message", message}}}}, false);
  }
  PodBuilder& InitTerminated(const std::string& name, int exit_code, const std::string& reason) {
    return Status("initContainerStatuses", name,
                  {{"terminated",
                    {{"exitCode", exit_code},
                     {"reason", reason},
                     {"startedAt", Ts(absl::Seconds(2))},
                     {"finishedAt", Ts(absl::Seconds(5))}}}},
                  false);
  }
  PodBuilder& InitRunning(const std::string& name) {
    return Status("initContainerStatuses", name,
                  {{"running", {{"startedAt", Ts(absl::Seconds(2))}}}}, true);
  }
  PodBuilder& InitWaiting(const std::string& name, const std::string& reason,
                          const std::string& message) {
    return Status("initContainerStatuses", name,
                  {{"waiting", {{"reason", reason}, {"message", message}}}}, false);
  }
  PodBuilder& Condition(const std::string& type, const std::string& status,
                        const std::string& reason = "", const std::string& message = "",
                        absl::Duration at = absl::Seconds(1)) {
    json c = {{"type", type}, {"status", status}, {"lastTransitionTime", Ts(at)}};
    if (!reason.empty()) c["reason"] = reason;
    if (!message.empty()) c["message"] = message;
    json& conds = pod_["status"]["conditions"];
    for (json& existing : conds) {
      if (existing["type"] == type) {
        existing = c;
        return *this;
      }
    }
    conds.push_back(c);
    return *this;
  }
  PodBuilder& PodReason(const std::string& reason, const std::string& message) {
    pod_["status"]["reason"] = reason;
    pod_["status"]["message"] = message;
    return *this;
  }
  // A delete requested at `requested` with a grace period of `grace`.
  PodBuilder& Deleting(absl::Duration requested, absl::Duration grace = absl::Seconds(30)) {
    pod_["metadata"]["deletionTimestamp"] = Ts(requested + grace);
    pod_["metadata"]["deletionGracePeriodSeconds"] = absl::ToInt64Seconds(grace);
    return *this;
  }
  PodBuilder& Created(absl::Duration after_t0) {
    pod_["metadata"]["creationTimestamp"] = Ts(after_t0);
    return *this;
  }

  json Build() const { return pod_; }

 private:
  PodBuilder& Status(const std::string& list, const std::string& name, json state, bool ready) {
    std::string image;
    for (const char* kind : {"containers", "initContainers"}) {
      if (!pod_["spec"].contains(kind)) continue;
      for (const json& c : pod_["spec"][kind]) {
        if (c["name"] == name) image = c["image"];
      }
    }
    json s = {{"name", name},
              {"image", image},
              {"imageID", image + "@sha256:feed"},
              {"ready", ready},
              {"started", ready},
              {"restartCount", 0},
              {"state", std::move(state)}};
    json& arr = pod_["status"][list];
    if (!arr.is_array()) arr = json::array();
    for (json& existing : arr) {
      if (existing["name"] == name) {
        existing = s;
        return *this;
      }
    }
    arr.push_back(s);
    return *this;
  }

  json pod_;
};

// A Job of an attempt, with conditions as the Job controller writes them.
json JobJson(const std::vector<json>& conditions = {}, bool deleting = false) {
  json job = {{"apiVersion", "batch/v1"},
              {"kind", "Job"},
              {"metadata", {{"name", "etl-main-1-abcde"}, {"namespace", "default"}}},
              {"spec", {{"backoffLimit", 0}}},
              {"status", {{"startTime", Ts(absl::ZeroDuration())}}}};
  if (!conditions.empty()) job["status"]["conditions"] = conditions;
  if (deleting) job["metadata"]["deletionTimestamp"] = Ts(absl::Seconds(100));
  return job;
}

json JobCondition(const std::string& type, const std::string& reason, const std::string& message) {
  return {{"type", type},
          {"status", "True"},
          {"reason", reason},
          {"message", message},
          {"lastProbeTime", Ts(absl::Seconds(90))},
          {"lastTransitionTime", Ts(absl::Seconds(90))}};
}

Observation Obs(std::vector<json> pods, json job = JobJson()) {
  Observation o;
  o.job = std::move(job);
  o.pods = std::move(pods);
  o.now = kT0 + absl::Seconds(120);
  o.image_pull_grace = absl::Minutes(5);
  o.node_lost_timeout = absl::Minutes(5);
  return o;
}

Outcome ClassifyPod(const PodBuilder& pod) { return Classify(Obs({pod.Build()})); }

// ---------------------------------------------------------------------------
// docs/design.md §4 table, row by row.

// Times outside years 0001-9999 (found by fuzz_jobflow) read as unset: they
// could not be written back into the status unchanged.
TEST(ClassifierTimes, UnwritableTimesReadAsUnset) {
  for (const char* bad : {"20207-1-15T08:00:05Z", "infinite-future"}) {
    json pod = PodBuilder()
                   .Container("main")
                   .Phase("Succeeded")
                   .Terminated("main", 0, "Completed")
                   .Build();
    pod["status"]["containerStatuses"][0]["state"]["terminated"]["finishedAt"] = bad;
    const Outcome o = Classify(Obs({pod}));
    EXPECT_EQ(o.phase, Phase::kSucceeded) << bad;
    EXPECT_FALSE(o.finished_at.has_value()) << bad;
  }
}

// Row: main container terminated, exit 0 -> Succeeded.
TEST(ClassifierTable, MainExitZeroSucceeds) {
  const Outcome o = ClassifyPod(
      PodBuilder().Container("main").Phase("Succeeded").Terminated("main", 0, "Completed"));
  EXPECT_EQ(o.phase, Phase::kSucceeded);
  EXPECT_EQ(o.reason, "");
  EXPECT_EQ(o.exit_code, 0);
  EXPECT_FALSE(o.retryable);
  EXPECT_FALSE(o.counts_against_limit);
  EXPECT_EQ(o.container, "main");
  EXPECT_EQ(o.pod, "etl-main-1-abcde-x7k2p");
  EXPECT_EQ(o.started_at, kT0 + absl::Seconds(3));
  EXPECT_EQ(o.finished_at, kT0 + absl::Seconds(60));
  EXPECT_TRUE(o.ended());
}

// Row: reason OOMKilled (any exit code) -> Killed, OOMKilled, message with
// container + limit + advice; retryable, counts against the limit.
TEST(ClassifierTable, OOMKilledIsAKillWithContainerLimitAndAdvice) {
  const Outcome o = ClassifyPod(PodBuilder()
                                    .Container("main", "512Mi", "256Mi")
                                    .Phase("Failed")
                                    .Terminated("main", 137, "OOMKilled"));
  EXPECT_EQ(o.phase, Phase::kKilled);
  EXPECT_EQ(o.reason, "OOMKilled");
  EXPECT_EQ(o.exit_code, 137);
  EXPECT_TRUE(o.retryable);
  EXPECT_TRUE(o.counts_against_limit);
  EXPECT_EQ(o.container, "main");
  EXPECT_EQ(o.memory_limit, api::Quantity::Parse("512Mi").value());
  EXPECT_EQ(o.memory_request, api::Quantity::Parse("256Mi").value());
  EXPECT_EQ(o.message,
            "container \"main\" was OOMKilled (exit code 137): it needed more than its memory "
            "limit of 512Mi; raise resources.limits.memory, or set retry.onOOM");
}

TEST(ClassifierTable, OOMKilledWithAnyExitCode) {
  for (int code : {0, 1, 137, 255}) {
    const Outcome o = ClassifyPod(PodBuilder()
                                      .Container("main", "2Gi")
                                      .Phase("Failed")
                                      .Terminated("main", code, "OOMKilled"));
    EXPECT_EQ(o.phase, Phase::kKilled) << code;
    EXPECT_EQ(o.reason, "OOMKilled") << code;
    EXPECT_EQ(o.exit_code, code);
    EXPECT_THAT(o.message, HasSubstr("2Gi"));
  }
}

// Row: pod Evicted -> Killed/Evicted, retryable, not counted. The pod as
// kwok and the kubelet write it: phase Failed, reason Evicted, a
// DisruptionTarget condition, containers ended 137.
TEST(ClassifierTable, EvictedPodIsKilledEvicted) {
  const std::string msg =
      "The node was low on resource: memory. Threshold quantity: 100Mi, "
      "available: 12Mi. ";
  const Outcome o =
      ClassifyPod(PodBuilder()
                      .Container("main")
                      .Phase("Failed")
                      .PodReason("Evicted", msg)
                      .Condition("DisruptionTarget", "True", "TerminationByKubelet", msg)
                      .Terminated("main", 137, "Error"));
  EXPECT_EQ(o.phase, Phase::kKilled);
  EXPECT_EQ(o.reason, "Evicted");
  EXPECT_EQ(o.exit_code, 137);
  EXPECT_TRUE(o.retryable);
  EXPECT_FALSE(o.counts_against_limit);
  EXPECT_THAT(o.message, AllOf(HasSubstr("TerminationByKubelet"), HasSubstr("low on resource")));
}

TEST(ClassifierTable, EvictedWithoutConditionByPodReasonOnly) {
  // Older kubelets: only status.reason, containers never reported terminated.
  const Outcome o = ClassifyPod(PodBuilder()
                                    .Container("main")
                                    .Phase("Failed")
                                    .PodReason("Evicted",
                                               "Pod ephemeral local storage usage "
                                               "exceeds the total limit of containers 1Gi.")
                                    .Running("main"));
  EXPECT_EQ(o.phase, Phase::kKilled);
  EXPECT_EQ(o.reason, "Evicted");
  EXPECT_FALSE(o.counts_against_limit);
  EXPECT_THAT(o.message, HasSubstr("ephemeral local storage"));
}

// Row: condition DisruptionTarget, by each reason Kubernetes sets.
struct DisruptionCase {
  const char* condition_reason;
  const char* want_reason;
  const char* message_mentions;
};

class DisruptionTest : public ::testing::TestWithParam<DisruptionCase> {};

TEST_P(DisruptionTest, KilledWithTheRightReason) {
  const DisruptionCase& c = GetParam();
  // The pod is being deleted and its container has stopped on SIGTERM.
  const Outcome o = ClassifyPod(PodBuilder()
                                    .Container("main")
                                    .Phase("Failed")
                                    .Deleting(absl::Seconds(50))
                                    .Condition("DisruptionTarget", "True", c.condition_reason,
                                               "disrupted for a test", absl::Seconds(50))
                                    .Terminated("main", 143, "Error", absl::Seconds(55)));
  EXPECT_EQ(o.phase, Phase::kKilled);
  EXPECT_EQ(o.reason, c.want_reason);
  EXPECT_EQ(o.exit_code, 143);
  EXPECT_TRUE(o.retryable);
  EXPECT_FALSE(o.counts_against_limit);
  EXPECT_THAT(o.message, AllOf(HasSubstr(c.condition_reason), HasSubstr(c.message_mentions),
                               HasSubstr("disrupted for a test")));
}

INSTANTIATE_TEST_SUITE_P(
    Reasons, DisruptionTest,
    ::testing::Values(DisruptionCase{"PreemptionByScheduler", "Preempted", "preempted"},
                      DisruptionCase{"PreemptionByKubeScheduler", "Preempted", "preempted"},
                      DisruptionCase{"EvictionByEvictionAPI", "Evicted", "Eviction API"},
                      DisruptionCase{"TerminationByKubelet", "Evicted", "kubelet"},
                      DisruptionCase{"DeletionByTaintManager", "NodeLost", "NoExecute"},
                      DisruptionCase{"DeletionByPodGC", "NodeLost", "no longer exists"},
                      DisruptionCase{"SomeFutureReason", "Evicted", "evicted"}));

TEST(ClassifierTable, DisruptionTargetFalseIsNoDisruption) {
  const Outcome o = ClassifyPod(PodBuilder()
                                    .Container("main")
                                    .Phase("Failed")
                                    .Condition("DisruptionTarget", "False", "TerminationByKubelet")
                                    .Terminated("main", 2, "Error"));
  EXPECT_EQ(o.phase, Phase::kFailed);
  EXPECT_EQ(o.reason, "Error");
}

TEST(ClassifierTable, PodLevelReasonsOfTheNode) {
  const std::vector<std::pair<std::string, std::string>> cases = {{"Preempting", "Preempted"},
                                                                  {"NodeLost", "NodeLost"},
                                                                  {"Terminated", "Evicted"},
                                                                  {"Shutdown", "Evicted"}};
  for (const auto& [pod_reason, want] : cases) {
    const Outcome o = ClassifyPod(PodBuilder()
                                      .Container("main")
                                      .Phase("Failed")
                                      .PodReason(pod_reason, "node says so")
                                      .Terminated("main", 137, "Error"));
    EXPECT_EQ(o.phase, Phase::kKilled) << pod_reason;
    EXPECT_EQ(o.reason, want) << pod_reason;
    EXPECT_FALSE(o.counts_against_limit);
  }
}

// Row: pod deleted by someone else -> Killed/PodDeleted, not counted.
TEST(ClassifierTable, PodDeletedBySomeoneElse) {
  const Outcome o = ClassifyPod(PodBuilder()
                                    .Container("main")
                                    .Phase("Failed")
                                    .Deleting(absl::Seconds(50))
                                    .Terminated("main", 143, "Error", absl::Seconds(51)));
  EXPECT_EQ(o.phase, Phase::kKilled);
  EXPECT_EQ(o.reason, "PodDeleted");
  EXPECT_EQ(o.exit_code, 143);
  EXPECT_TRUE(o.retryable);
  EXPECT_FALSE(o.counts_against_limit);
  EXPECT_THAT(o.message, HasSubstr("deleted by someone other than weir"));
}

// The kubelet (and kwok) remove a stopped pod with a grace of 0; under weir's
// finalizer the pod stays, its deletionTimestamp now that removal's. A
// restarted or lagging controller that first sees it then must still read a
// kill (a stale view read "Failed Error 143" in the fault suite).
TEST(ClassifierTable, PodDeletedBySomeoneElseSeenAfterItsFinalRemoval) {
  const Outcome killed = ClassifyPod(PodBuilder()
                                         .Container("main")
                                         .Phase("Failed")
                                         .Terminated("main", 143, "Error", absl::Seconds(51))
                                         .Deleting(absl::Seconds(52), absl::ZeroDuration()));
  EXPECT_EQ(killed.phase, Phase::kKilled);
  EXPECT_EQ(killed.reason, "PodDeleted");
  EXPECT_EQ(killed.exit_code, 143);
  const Outcome failed = ClassifyPod(PodBuilder()
                                         .Container("main")
                                         .Phase("Failed")
                                         .Terminated("main", 3, "Error", absl::Seconds(51))
                                         .Deleting(absl::Seconds(52), absl::ZeroDuration()));
  EXPECT_EQ(failed.phase, Phase::kFailed) << "exit 3 is the container's own end";
  EXPECT_EQ(failed.exit_code, 3);
}

TEST(ClassifierTable, PodDeletedBeforeItsContainerStarted) {
  const Outcome o = ClassifyPod(PodBuilder()
                                    .Container("main")
                                    .Deleting(absl::Seconds(5))
                                    .Waiting("main", "ContainerCreating", ""));
  EXPECT_EQ(o.phase, Phase::kKilled);
  EXPECT_EQ(o.reason, "PodDeleted");
  EXPECT_FALSE(o.counts_against_limit);
}

TEST(ClassifierTable, ContainerThatFailedBeforeTheDeleteIsAnError) {
  // Exit 3 at t+40s; someone deleted the (already failed) pod at t+50s.
  const Outcome o = ClassifyPod(PodBuilder()
                                    .Container("main")
                                    .Phase("Failed")
                                    .Terminated("main", 3, "Error", absl::Seconds(40))
                                    .Deleting(absl::Seconds(50)));
  EXPECT_EQ(o.phase, Phase::kFailed);
  EXPECT_EQ(o.reason, "Error");
  EXPECT_EQ(o.exit_code, 3);
}

// Row: exit 130/143 after weir asked to cancel -> Canceled.
TEST(ClassifierTable, SignalExitAfterCancelIsCanceled) {
  for (int code : {130, 143, 137}) {
    Observation obs = Obs({PodBuilder()
                               .Container("main")
                               .Phase("Failed")
                               .Deleting(absl::Seconds(50))
                               .Terminated("main", code, "Error", absl::Seconds(52))
                               .Build()});
    obs.cancel_requested = true;
    const Outcome o = Classify(obs);
    EXPECT_EQ(o.phase, Phase::kCanceled) << code;
    EXPECT_EQ(o.reason, "Canceled");
    EXPECT_EQ(o.exit_code, code);
    EXPECT_FALSE(o.retryable);
    EXPECT_FALSE(o.counts_against_limit);
    EXPECT_THAT(o.message, HasSubstr("after weir asked it to cancel"));
  }
}

TEST(ClassifierTable, SignalExitWithoutCancelIsAFailure) {
  for (int code : {130, 143}) {
    const Outcome o = ClassifyPod(
        PodBuilder().Container("main").Phase("Failed").Terminated("main", code, "Error"));
    EXPECT_EQ(o.phase, Phase::kFailed) << code;
    EXPECT_EQ(o.reason, "Error");
    EXPECT_EQ(o.exit_code, code);
  }
}

TEST(ClassifierTable, OtherExitAfterCancelIsTheContainersOwnFailure) {
  Observation obs =
      Obs({PodBuilder().Container("main").Phase("Failed").Terminated("main", 1, "Error").Build()});
  obs.cancel_requested = true;
  const Outcome o = Classify(obs);
  EXPECT_EQ(o.phase, Phase::kFailed);
  EXPECT_EQ(o.exit_code, 1);
}

// Row: exit != 0 otherwise -> Failed, reason Error, exit code; retryable
// within the limit, counts.
TEST(ClassifierTable, NonZeroExitIsFailedError) {
  const Outcome o = ClassifyPod(PodBuilder().Container("main").Phase("Failed").Terminated(
      "main", 2, "Error", absl::Seconds(60), "ValueError: bad row 17\n"));
  EXPECT_EQ(o.phase, Phase::kFailed);
  EXPECT_EQ(o.reason, "Error");
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_TRUE(o.retryable);
  EXPECT_TRUE(o.counts_against_limit);
  EXPECT_EQ(o.message, "container \"main\" exited with code 2: ValueError: bad row 17\n");
}

TEST(ClassifierTable, StartErrorKeepsTheKubeletReasonInTheMessage) {
  const Outcome o = ClassifyPod(PodBuilder().Container("main").Phase("Failed").Terminated(
      "main", 128, "StartError", absl::Seconds(4),
      "exec: \"/app/run\": stat /app/run: no such file or directory"));
  EXPECT_EQ(o.reason, "Error");
  EXPECT_EQ(o.exit_code, 128);
  EXPECT_THAT(o.message, AllOf(HasSubstr("(StartError)"), HasSubstr("no such file")));
}

TEST(ClassifierTable, LongTerminationMessagesAreCut) {
  const std::string trace(5000, 'x');
  const Outcome o = ClassifyPod(PodBuilder().Container("main").Phase("Failed").Terminated(
      "main", 1, "Error", absl::Seconds(60), trace));
  EXPECT_LT(o.message.size(), 700u);
  EXPECT_THAT(o.message, HasSubstr("..."));
}

// Row: Job condition DeadlineExceeded -> Failed/DeadlineExceeded, not
// retryable. The Job controller deletes the running pod, which must not read
// as PodDeleted.
TEST(ClassifierTable, JobDeadlineExceeded) {
  const json job = JobJson({JobCondition("FailureTarget", "DeadlineExceeded",
                                         "Job was active longer than specified deadline"),
                            JobCondition("Failed", "DeadlineExceeded",
                                         "Job was active longer than specified deadline")});
  const Outcome o = Classify(Obs({PodBuilder()
                                      .Container("main")
                                      .Phase("Failed")
                                      .Deleting(absl::Seconds(90))
                                      .Terminated("main", 143, "Error", absl::Seconds(91))
                                      .Build()},
                                 job));
  EXPECT_EQ(o.phase, Phase::kFailed);
  EXPECT_EQ(o.reason, "DeadlineExceeded");
  EXPECT_FALSE(o.exit_code.has_value());
  EXPECT_FALSE(o.retryable);
  EXPECT_FALSE(o.counts_against_limit);
  EXPECT_THAT(o.message, HasSubstr("longer than specified deadline"));
}

// The job controller deletes the pods when activeDeadlineSeconds runs out and
// marks the Job after: a cache that shows the deleted pod before the Job's
// condition still says DeadlineExceeded, never a retried PodDeleted (found on
// the real node by test/e2e/reality_test.cc).
json JobWithDeadline(int64_t seconds) {
  json job = JobJson();
  job["spec"]["activeDeadlineSeconds"] = seconds;
  return job;
}

TEST(ClassifierTable, PodDeletedWhenTheJobDeadlineRanOutIsDeadlineExceeded) {
  // The Job started at t0 with a 60 s deadline; its pod is deleted at t0+60s.
  const Outcome stopped = Classify(Obs({PodBuilder()
                                            .Container("main")
                                            .Phase("Failed")
                                            .Deleting(absl::Seconds(60))
                                            .Terminated("main", 143, "Error", absl::Seconds(61))
                                            .Build()},
                                       JobWithDeadline(60)));
  EXPECT_EQ(stopped.phase, Phase::kFailed);
  EXPECT_EQ(stopped.reason, "DeadlineExceeded");
  EXPECT_FALSE(stopped.exit_code.has_value());
  EXPECT_FALSE(stopped.retryable);
  EXPECT_THAT(stopped.message, HasSubstr("was deleted when the deadline ran out"));

  // Not started yet when deleted: the same.
  const Outcome waiting = Classify(Obs({PodBuilder()
                                            .Container("main")
                                            .Deleting(absl::Seconds(61))
                                            .Waiting("main", "ContainerCreating", "")
                                            .Build()},
                                       JobWithDeadline(60)));
  EXPECT_EQ(waiting.phase, Phase::kFailed);
  EXPECT_EQ(waiting.reason, "DeadlineExceeded");
}

TEST(ClassifierTable, TheJobDeadlineCountsFromCreationWhileTheCacheHasNoStartTime) {
  json job = JobWithDeadline(60);
  job["status"].erase("startTime");
  job["metadata"]["creationTimestamp"] = Ts(absl::ZeroDuration());
  const Outcome o = Classify(Obs({PodBuilder()
                                      .Container("main")
                                      .Phase("Failed")
                                      .Deleting(absl::Seconds(60))
                                      .Terminated("main", 143, "Error", absl::Seconds(61))
                                      .Build()},
                                 job));
  EXPECT_EQ(o.reason, "DeadlineExceeded");
}

TEST(ClassifierTable, PodDeletedBeforeTheJobDeadlineIsPodDeleted) {
  const Outcome o = Classify(Obs({PodBuilder()
                                      .Container("main")
                                      .Phase("Failed")
                                      .Deleting(absl::Seconds(59))
                                      .Terminated("main", 143, "Error", absl::Seconds(60))
                                      .Build()},
                                 JobWithDeadline(60)));
  EXPECT_EQ(o.phase, Phase::kKilled);
  EXPECT_EQ(o.reason, "PodDeleted");
}

TEST(ClassifierTable, JobDeadlineExceededWithThePodAlreadyGone) {
  const Outcome o = Classify(Obs({}, JobJson({JobCondition("Failed", "DeadlineExceeded",
                                                           "Job was active longer than "
                                                           "specified deadline")})));
  EXPECT_EQ(o.phase, Phase::kFailed);
  EXPECT_EQ(o.reason, "DeadlineExceeded");
}

TEST(ClassifierTable, MainThatSucceededBeforeTheDeadlineSucceeds) {
  const Outcome o = Classify(Obs({PodBuilder()
                                      .Container("main")
                                      .Phase("Succeeded")
                                      .Terminated("main", 0, "Completed")
                                      .Build()},
                                 JobJson({JobCondition("Failed", "DeadlineExceeded", "late")})));
  EXPECT_EQ(o.phase, Phase::kSucceeded);
}

TEST(ClassifierTable, PodActiveDeadlineExceeded) {
  const Outcome o = ClassifyPod(PodBuilder().Container("main").Phase("Failed").PodReason(
      "DeadlineExceeded", "Pod was active on the node longer than the specified deadline"));
  EXPECT_EQ(o.phase, Phase::kFailed);
  EXPECT_EQ(o.reason, "DeadlineExceeded");
  EXPECT_FALSE(o.retryable);
  EXPECT_FALSE(o.counts_against_limit);
}

// Row: ErrImagePull/ImagePullBackOff/InvalidImageName/CreateContainerConfigError
// longer than grace -> Failed with that reason, not retryable; Pending before.
struct WaitingCase {
  const char* reason;
  const char* message;
};

class ImageErrorTest : public ::testing::TestWithParam<WaitingCase> {};

PodBuilder WaitingPod(const WaitingCase& c) {
  PodBuilder pod;
  pod.Container("main")
      .StartTime(absl::Seconds(2))
      .Condition("Ready", "False", "ContainersNotReady", "containers with unready status: [main]")
      .Waiting("main", c.reason, c.message);
  return pod;
}

TEST_P(ImageErrorTest, PendingWithinGrace) {
  const WaitingCase& c = GetParam();
  Observation obs = Obs({WaitingPod(c).Build()});
  obs.waiting_since = kT0 + absl::Seconds(40);
  obs.now = kT0 + absl::Seconds(40) + absl::Minutes(5) - absl::Seconds(1);
  const Outcome o = Classify(obs);
  EXPECT_EQ(o.phase, Phase::kPending);
  EXPECT_EQ(o.reason, c.reason);
  EXPECT_FALSE(o.ended());
  EXPECT_THAT(o.message, AllOf(HasSubstr(c.reason), HasSubstr(c.message), HasSubstr("\"main\""),
                               HasSubstr("fails after 5m")));
  EXPECT_EQ(o.waiting_since, kT0 + absl::Seconds(40));
}

TEST_P(ImageErrorTest, FailedBeyondGrace) {
  const WaitingCase& c = GetParam();
  Observation obs = Obs({WaitingPod(c).Build()});
  obs.waiting_since = kT0 + absl::Seconds(40);
  obs.now = kT0 + absl::Seconds(40) + absl::Minutes(5);
  const Outcome o = Classify(obs);
  EXPECT_EQ(o.phase, Phase::kFailed);
  EXPECT_EQ(o.reason, c.reason);
  EXPECT_FALSE(o.exit_code.has_value());
  EXPECT_FALSE(o.retryable);
  EXPECT_FALSE(o.counts_against_limit);
  EXPECT_THAT(o.message, AllOf(HasSubstr(c.reason), HasSubstr(c.message),
                               HasSubstr("longer than the image-pull grace of 5m")));
}

INSTANTIATE_TEST_SUITE_P(
    Reasons, ImageErrorTest,
    ::testing::Values(
        WaitingCase{"ErrImagePull",
                    "failed to pull and unpack image \"registry.example/main:1.0\": not found"},
        WaitingCase{"ImagePullBackOff", "Back-off pulling image \"registry.example/main:1.0\""},
        WaitingCase{"InvalidImageName", "Failed to apply default image tag \"Bad Image\""},
        WaitingCase{"ErrImageNeverPull",
                    "Container image is not present with pull policy of Never"},
        WaitingCase{"CreateContainerConfigError", "secret \"db-password\" not found"},
        WaitingCase{"CreateContainerError", "failed to reserve container name"}));

// The grace counts from the first sight of the error, not from the pod's
// startTime: init containers may have run for longer than the grace (seen on
// the real node, where such a pod failed at its first pull error).
TEST(ClassifierTable, ImagePullGraceCountsFromTheFirstSightOfTheError) {
  Observation obs = Obs({PodBuilder()
                             .InitContainer("prepare")
                             .Container("main")
                             .StartTime(absl::Seconds(2))
                             .InitTerminated("prepare", 0, "Completed")
                             .Waiting("main", "ErrImagePull", "not found")
                             .Build()});
  obs.now = kT0 + absl::Hours(1);
  Outcome first = Classify(obs);
  EXPECT_EQ(first.phase, Phase::kPending);
  EXPECT_EQ(first.waiting_since, obs.now);
  EXPECT_THAT(first.message,
              HasSubstr(absl::StrCat(
                  "ErrImagePull since ", api::FormatRfc3339(obs.now), " (fails after 5m, at ",
                  api::FormatRfc3339(obs.now + absl::Minutes(5)), "): not found")));

  obs.waiting_since = first.waiting_since;
  obs.now += absl::Minutes(5) - absl::Seconds(1);
  const Outcome later = Classify(obs);
  EXPECT_EQ(later.phase, Phase::kPending);
  EXPECT_EQ(later.message, first.message) << "a waiting pod must not rewrite its status";
  obs.now += absl::Seconds(1);
  const Outcome failed = Classify(obs);
  EXPECT_EQ(failed.phase, Phase::kFailed);
  EXPECT_EQ(failed.waiting_since, first.waiting_since);
}

// Once the error clears, the outcome carries no wait, so a later error gets a
// grace of its own.
TEST(ClassifierTable, AClearedErrorStopsTheClock) {
  Observation obs = Obs({PodBuilder()
                             .Container("main")
                             .StartTime(absl::Seconds(2))
                             .Waiting("main", "ContainerCreating", "")
                             .Build()});
  obs.waiting_since = kT0;
  obs.now = kT0 + absl::Hours(1);
  const Outcome o = Classify(obs);
  EXPECT_EQ(o.phase, Phase::kPending);
  EXPECT_FALSE(o.waiting_since.has_value());
}

TEST(ClassifierTable, InitContainerImagePullBlocksTheMain) {
  Observation obs = Obs({PodBuilder()
                             .InitContainer("fetch")
                             .Container("main")
                             .StartTime(absl::Seconds(2))
                             .InitWaiting("fetch", "ImagePullBackOff", "Back-off pulling image")
                             .Waiting("main", "PodInitializing", "")
                             .Build()});
  obs.waiting_since = kT0 + absl::Seconds(3);
  obs.now = kT0 + absl::Minutes(10);
  const Outcome o = Classify(obs);
  EXPECT_EQ(o.phase, Phase::kFailed);
  EXPECT_EQ(o.reason, "ImagePullBackOff");
  EXPECT_EQ(o.container, "fetch");
  EXPECT_THAT(o.message, HasSubstr("init container \"fetch\""));
}

// Row: pod phase Unknown -> Unknown; after the node-lost timeout Killed/NodeLost.
TEST(ClassifierTable, UnknownPodThenNodeLost) {
  const json pod = PodBuilder()
                       .Container("main")
                       .Phase("Unknown")
                       .Running("main")
                       .Condition("Ready", "False", "", "", absl::Seconds(100))
                       .Build();
  Observation obs = Obs({pod});
  obs.now = kT0 + absl::Seconds(100) + absl::Minutes(5) - absl::Seconds(1);
  Outcome o = Classify(obs);
  EXPECT_EQ(o.phase, Phase::kUnknown);
  EXPECT_FALSE(o.ended());
  EXPECT_THAT(o.message, HasSubstr("stopped reporting"));

  obs.now = kT0 + absl::Seconds(100) + absl::Minutes(5);
  o = Classify(obs);
  EXPECT_EQ(o.phase, Phase::kKilled);
  EXPECT_EQ(o.reason, "NodeLost");
  EXPECT_TRUE(o.retryable);
  EXPECT_FALSE(o.counts_against_limit);
  EXPECT_THAT(o.message, AllOf(HasSubstr("Unknown for 5m"), HasSubstr("node-lost timeout 5m")));
}

TEST(ClassifierTable, UnknownPodWithATerminatedMainIsDecidedByTheMain) {
  const Outcome o = ClassifyPod(
      PodBuilder().Container("main").Phase("Unknown").Terminated("main", 0, "Completed"));
  EXPECT_EQ(o.phase, Phase::kSucceeded);
}

// ---------------------------------------------------------------------------
// Only the main container decides.

TEST(ClassifierMain, SidecarStillRunningAfterMainSucceeded) {
  const Outcome o = ClassifyPod(PodBuilder()
                                    .Container("main")
                                    .Container("istio-proxy", "128Mi")
                                    .Phase("Running")
                                    .Terminated("main", 0, "Completed")
                                    .Running("istio-proxy"));
  EXPECT_EQ(o.phase, Phase::kSucceeded);
  EXPECT_EQ(o.container, "main");
}

TEST(ClassifierMain, SidecarFailingAfterMainSucceeded) {
  const Outcome o = ClassifyPod(PodBuilder()
                                    .Container("main")
                                    .Container("log-shipper")
                                    .Phase("Failed")
                                    .Terminated("main", 0, "Completed", absl::Seconds(60))
                                    .Terminated("log-shipper", 1, "Error", absl::Seconds(61)));
  EXPECT_EQ(o.phase, Phase::kSucceeded);
}

TEST(ClassifierMain, SidecarOOMWhileMainRunsChangesNothing) {
  const Outcome o = ClassifyPod(PodBuilder()
                                    .Container("main")
                                    .Container("log-shipper", "64Mi")
                                    .Phase("Running")
                                    .Running("main")
                                    .Terminated("log-shipper", 137, "OOMKilled"));
  EXPECT_EQ(o.phase, Phase::kRunning);
}

TEST(ClassifierMain, NamedMainContainerThatIsNotFirst) {
  Observation obs = Obs({PodBuilder()
                             .Container("sidecar")
                             .Container("worker", "1Gi")
                             .Phase("Failed")
                             .Terminated("sidecar", 0, "Completed")
                             .Terminated("worker", 137, "OOMKilled")
                             .Build()});
  obs.main_container = "worker";
  const Outcome o = Classify(obs);
  EXPECT_EQ(o.phase, Phase::kKilled);
  EXPECT_EQ(o.container, "worker");
  EXPECT_THAT(o.message, AllOf(HasSubstr("\"worker\""), HasSubstr("1Gi")));
}

TEST(ClassifierMain, DefaultMainIsTheFirstContainerOfTheSpec) {
  // containerStatuses are listed in another order than the spec.
  const Outcome o = ClassifyPod(PodBuilder()
                                    .Container("main")
                                    .Container("aaa-sidecar")
                                    .Phase("Failed")
                                    .Terminated("aaa-sidecar", 0, "Completed")
                                    .Terminated("main", 4, "Error"));
  EXPECT_EQ(o.container, "main");
  EXPECT_EQ(o.exit_code, 4);
}

TEST(ClassifierMain, MissingMainContainerIsASpecError) {
  Observation obs =
      Obs({PodBuilder().Container("app").Container("proxy").Phase("Running").Build()});
  obs.main_container = "main";
  const Outcome o = Classify(obs);
  EXPECT_EQ(o.phase, Phase::kFailed);
  EXPECT_EQ(o.reason, "MainContainerNotFound");
  EXPECT_FALSE(o.retryable);
  EXPECT_THAT(o.message, AllOf(HasSubstr("\"main\""), HasSubstr("app, proxy")));
}

TEST(ClassifierMain, OOMWithoutAMemoryLimit) {
  const Outcome o = ClassifyPod(
      PodBuilder().Container("main", "").Phase("Failed").Terminated("main", 137, "OOMKilled"));
  EXPECT_EQ(o.reason, "OOMKilled");
  EXPECT_FALSE(o.memory_limit.has_value());
  EXPECT_THAT(o.message, AllOf(HasSubstr("no memory limit"), HasSubstr("retry.onOOM")));
}

// ---------------------------------------------------------------------------
// Init containers.

TEST(ClassifierInit, FailingInitContainerFailsTheAttempt) {
  const Outcome o = ClassifyPod(PodBuilder()
                                    .InitContainer("migrate")
                                    .Container("main")
                                    .Phase("Failed")
                                    .InitTerminated("migrate", 1, "Error")
                                    .Waiting("main", "PodInitializing", ""));
  EXPECT_EQ(o.phase, Phase::kFailed);
  EXPECT_EQ(o.reason, "Error");
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_EQ(o.container, "migrate");
  EXPECT_TRUE(o.counts_against_limit);
  EXPECT_THAT(o.message, HasSubstr("init container \"migrate\" exited with code 1"));
}

TEST(ClassifierInit, InitContainerOOM) {
  const Outcome o = ClassifyPod(
      PodBuilder().InitContainer("migrate").Container("main").Phase("Failed").InitTerminated(
          "migrate", 137, "OOMKilled"));
  EXPECT_EQ(o.phase, Phase::kKilled);
  EXPECT_EQ(o.reason, "OOMKilled");
  EXPECT_EQ(o.container, "migrate");
  EXPECT_THAT(o.message, HasSubstr("init container \"migrate\""));
}

TEST(ClassifierInit, SucceededInitAndNativeSidecarsDoNotDecide) {
  const Outcome o = ClassifyPod(PodBuilder()
                                    .InitContainer("migrate")
                                    .InitContainer("proxy", /*sidecar=*/true)
                                    .Container("main")
                                    .Phase("Running")
                                    .InitTerminated("migrate", 0, "Completed")
                                    .InitTerminated("proxy", 1, "Error")
                                    .Running("main"));
  EXPECT_EQ(o.phase, Phase::kRunning);
}

TEST(ClassifierInit, InitRunningIsPending) {
  const Outcome o = ClassifyPod(PodBuilder()
                                    .InitContainer("migrate")
                                    .Container("main")
                                    .StartTime(absl::Seconds(2))
                                    .InitRunning("migrate")
                                    .Waiting("main", "PodInitializing", ""));
  EXPECT_EQ(o.phase, Phase::kPending);
}

// ---------------------------------------------------------------------------
// Pending, running, scheduling.

TEST(ClassifierProgress, RunningMain) {
  const Outcome o = ClassifyPod(PodBuilder().Container("main").Phase("Running").Running("main"));
  EXPECT_EQ(o.phase, Phase::kRunning);
  EXPECT_EQ(o.started_at, kT0 + absl::Seconds(3));
  EXPECT_FALSE(o.finished_at.has_value());
  EXPECT_FALSE(o.ended());
}

// A main container that started under 2 s ago reads as starting, with a
// time to look again, so a pod that ends within it costs its owner no status
// write for Running. A startedAt ahead of the clock (skew) is not waited for.
TEST(ClassifierProgress, RunningMainReadsAsStartingForTwoSeconds) {
  const json pod = PodBuilder().Container("main").Phase("Running").Running("main").Build();
  Observation obs = Obs({pod});
  for (absl::Duration after_start : {absl::ZeroDuration(), absl::Milliseconds(1999)}) {
    obs.now = kT0 + absl::Seconds(3) + after_start;
    const Outcome o = Classify(obs);
    EXPECT_EQ(o.phase, Phase::kPending) << after_start;
    EXPECT_EQ(o.message, "the attempt's pod is starting");
    EXPECT_EQ(o.look_again_at, kT0 + absl::Seconds(5));
  }
  for (absl::Duration now : {absl::Seconds(5), absl::Seconds(2)}) {
    obs.now = kT0 + now;
    const Outcome o = Classify(obs);
    EXPECT_EQ(o.phase, Phase::kRunning) << now;
    EXPECT_FALSE(o.look_again_at.has_value());
  }
}

TEST(ClassifierProgress, UnschedulableStaysPendingWithTheSchedulersMessage) {
  const std::string msg =
      "0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available: "
      "3 No preemption victims found for incoming pod.";
  const Outcome o = ClassifyPod(PodBuilder()
                                    .Container("main", "300Gi")
                                    .Condition("PodScheduled", "False", "Unschedulable", msg));
  EXPECT_EQ(o.phase, Phase::kPending);
  EXPECT_EQ(o.reason, "Unschedulable");
  EXPECT_FALSE(o.ended());
  EXPECT_THAT(o.message, AllOf(HasSubstr("cannot be scheduled"), HasSubstr(msg)));
}

TEST(ClassifierProgress, ContainerCreatingIsPending) {
  const Outcome o = ClassifyPod(PodBuilder()
                                    .Container("main")
                                    .StartTime(absl::Seconds(2))
                                    .Waiting("main", "ContainerCreating", ""));
  EXPECT_EQ(o.phase, Phase::kPending);
  EXPECT_EQ(o.reason, "");
}

TEST(ClassifierProgress, StartingIsOneMessageFromJobCreationToRunning) {
  // Each change of message is a status write: no Job yet, no pod yet and a
  // pod not yet running all read the same.
  const Outcome no_job = Classify(Obs({}, json()));
  const Outcome no_pod = Classify(Obs({}));
  const Outcome starting = ClassifyPod(PodBuilder().Container("main").Phase("Pending"));
  for (const Outcome* o : {&no_job, &no_pod, &starting}) {
    EXPECT_EQ(o->phase, Phase::kPending);
    EXPECT_EQ(o->reason, "");
    EXPECT_EQ(o->message, "the attempt's pod is starting");
  }
}

TEST(ClassifierProgress, EvictionInProgressWhileMainRuns) {
  const Outcome o = ClassifyPod(PodBuilder()
                                    .Container("main")
                                    .Phase("Running")
                                    .Running("main")
                                    .Deleting(absl::Seconds(100))
                                    .Condition("DisruptionTarget", "True", "EvictionByEvictionAPI",
                                               "Eviction API: evicting"));
  EXPECT_EQ(o.phase, Phase::kRunning);
  EXPECT_THAT(o.message, HasSubstr("being stopped"));
}

TEST(ClassifierProgress, DeletionInProgressWhileMainRuns) {
  const Outcome o = ClassifyPod(
      PodBuilder().Container("main").Phase("Running").Running("main").Deleting(absl::Seconds(100)));
  EXPECT_EQ(o.phase, Phase::kRunning);
  EXPECT_THAT(o.message, HasSubstr("being deleted by someone other than weir"));
}

TEST(ClassifierProgress, PodStuckTerminatingIsNodeLost) {
  // Deleted at t+10s with 30s grace: deadline t+40s; lost at t+40s+5m.
  const json pod = PodBuilder()
                       .Container("main")
                       .Phase("Running")
                       .Running("main")
                       .Deleting(absl::Seconds(10))
                       .Build();
  Observation obs = Obs({pod});
  obs.now = kT0 + absl::Seconds(40) + absl::Minutes(5) - absl::Seconds(1);
  EXPECT_EQ(Classify(obs).phase, Phase::kRunning);
  obs.now += absl::Seconds(1);
  const Outcome o = Classify(obs);
  EXPECT_EQ(o.phase, Phase::kKilled);
  EXPECT_EQ(o.reason, "NodeLost");
  EXPECT_FALSE(o.counts_against_limit);
}

TEST(ClassifierProgress, PodRejectedByTheKubelet) {
  const Outcome o = ClassifyPod(PodBuilder().Container("main").Phase("Failed").PodReason(
      "OutOfcpu", "Pod was rejected: Node didn't have enough resource: cpu"));
  EXPECT_EQ(o.phase, Phase::kFailed);
  EXPECT_EQ(o.reason, "OutOfcpu");
  EXPECT_TRUE(o.retryable);
  EXPECT_TRUE(o.counts_against_limit);
  EXPECT_THAT(o.message, HasSubstr("enough resource: cpu"));
}

// The cached pod still runs while the Job completed: wait kPodCatchUp for
// the pod's end (the exit code; seen under faults_test's held-back events),
// then conclude from the Job.
TEST(ClassifierProgress, JobCompleteWithStalePod) {
  Observation obs = Obs({PodBuilder().Container("main").Phase("Running").Running("main").Build()},
                        JobJson({JobCondition("SuccessCriteriaMet", "CompletionsReached", ""),
                                 JobCondition("Complete", "CompletionsReached", "")}));
  obs.now = kT0 + absl::Seconds(119);
  Outcome o = Classify(obs);
  EXPECT_EQ(o.phase, Phase::kRunning);
  EXPECT_EQ(o.look_again_at, kT0 + absl::Seconds(90) + kPodCatchUp);
  obs.now = kT0 + absl::Seconds(120);
  o = Classify(obs);
  EXPECT_EQ(o.phase, Phase::kSucceeded);
  EXPECT_FALSE(o.look_again_at.has_value());
}

// A Job that ended by its pod while no pod is seen: the pods' cache may lag
// (seen under the fault suite's held-back watch events, which recorded
// Succeeded without the exit code). Wait kPodCatchUp from the condition.
TEST(ClassifierProgress, JobEndedWithNoPodSeenWaitsForThePod) {
  for (const json& condition :
       {JobCondition("Complete", "", ""), JobCondition("Failed", "BackoffLimitExceeded", "x")}) {
    Observation obs = Obs({}, JobJson({condition}));  // the condition came at kT0 + 90s
    obs.now = kT0 + absl::Seconds(100);
    for (bool cancel : {false, true}) {
      obs.cancel_requested = cancel;
      const Outcome o = Classify(obs);
      EXPECT_EQ(o.phase, Phase::kPending) << condition;
      EXPECT_EQ(o.look_again_at, kT0 + absl::Seconds(90) + kPodCatchUp);
      EXPECT_THAT(o.message, HasSubstr("waiting for its pod to be seen"));
    }
  }
  // Not for the deadline: the job controller deleted the pod.
  const Outcome o = Classify(Obs({}, JobJson({JobCondition("Failed", "DeadlineExceeded", "x")})));
  EXPECT_EQ(o.phase, Phase::kFailed);
  EXPECT_EQ(o.reason, "DeadlineExceeded");
}

Observation PodGoneFor(const json& condition) {
  Observation obs = Obs({}, JobJson({condition}));
  obs.now = kT0 + absl::Seconds(90) + kPodCatchUp;
  return obs;
}

TEST(ClassifierProgress, JobCompleteWithPodGone) {
  const Outcome o = Classify(PodGoneFor(JobCondition("Complete", "", "")));
  EXPECT_EQ(o.phase, Phase::kSucceeded);
  EXPECT_FALSE(o.look_again_at.has_value());
}

TEST(ClassifierProgress, JobFailedWithPodGoneIsPodDeleted) {
  const Outcome o = Classify(PodGoneFor(JobCondition(
      "Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit")));
  EXPECT_EQ(o.phase, Phase::kKilled);
  EXPECT_EQ(o.reason, "PodDeleted");
  EXPECT_FALSE(o.counts_against_limit);
}

TEST(ClassifierProgress, JobDeletedBySomeoneElse) {
  const Outcome o = Classify(Obs({}, JobJson({}, /*deleting=*/true)));
  EXPECT_EQ(o.phase, Phase::kKilled);
  EXPECT_EQ(o.reason, "PodDeleted");
  EXPECT_THAT(o.message, HasSubstr("or the Job"));
}

// ---------------------------------------------------------------------------
// Cancel.

// A pod that looks pending may be running by now (the cache lags): the
// cancel ends only once the pod can no longer run, being deleted or terminal.
TEST(ClassifierCancel, CancelWhilePendingIsCanceledOnceThePodCannotRun) {
  for (const json& pod : {PodBuilder().Container("main").Build(),
                          PodBuilder()
                              .Container("main")
                              .Condition("PodScheduled", "False", "Unschedulable", "no")
                              .Build(),
                          PodBuilder()
                              .Container("main")
                              .StartTime(absl::Seconds(2))
                              .Waiting("main", "ImagePullBackOff", "x")
                              .Build()}) {
    Observation obs = Obs({pod});
    obs.cancel_requested = true;
    Outcome o = Classify(obs);
    EXPECT_EQ(o.phase, Phase::kPending) << pod.dump();
    EXPECT_THAT(o.message, HasSubstr("stopping")) << pod.dump();

    json deleting = pod;
    deleting["metadata"]["deletionTimestamp"] = Ts(absl::Seconds(33));
    deleting["metadata"]["deletionGracePeriodSeconds"] = 30;
    obs.pods = {deleting};
    o = Classify(obs);
    EXPECT_EQ(o.phase, Phase::kCanceled) << deleting.dump();
    EXPECT_EQ(o.reason, "Canceled");
    EXPECT_FALSE(o.exit_code.has_value());
  }
}

// A Job whose pod the cache has not shown: the attempt ends when the Job is
// gone (attempts.cc) or a pod shows how it stopped, not before.
TEST(ClassifierCancel, CancelWithNoPodWaitsForTheJobToGo) {
  Observation obs = Obs({}, json());
  obs.cancel_requested = true;
  EXPECT_EQ(Classify(obs).phase, Phase::kPending);
  obs.job = JobJson({}, /*deleting=*/true);
  EXPECT_EQ(Classify(obs).phase, Phase::kPending);
  EXPECT_THAT(Classify(obs).message, HasSubstr("stopping"));
}

TEST(ClassifierCancel, CancelWhileRunningWaitsForTheContainer) {
  Observation obs = Obs({PodBuilder()
                             .Container("main")
                             .Phase("Running")
                             .Running("main")
                             .Deleting(absl::Seconds(100))
                             .Build()});
  obs.cancel_requested = true;
  const Outcome o = Classify(obs);
  EXPECT_EQ(o.phase, Phase::kRunning);
  EXPECT_THAT(o.message, HasSubstr("stopping"));
}

TEST(ClassifierCancel, CancelOfAPodStuckTerminatingEndsCanceled) {
  Observation obs = Obs({PodBuilder()
                             .Container("main")
                             .Phase("Running")
                             .Running("main")
                             .Deleting(absl::Seconds(10))
                             .Build()});
  obs.cancel_requested = true;
  obs.now = kT0 + absl::Seconds(40) + absl::Minutes(5);
  const Outcome o = Classify(obs);
  EXPECT_EQ(o.phase, Phase::kCanceled);
  EXPECT_THAT(o.message, HasSubstr("not answering"));
}

TEST(ClassifierCancel, MainThatSucceededBeforeTheCancelSucceeded) {
  Observation obs = Obs({PodBuilder()
                             .Container("main")
                             .Phase("Succeeded")
                             .Terminated("main", 0, "Completed")
                             .Build()});
  obs.cancel_requested = true;
  EXPECT_EQ(Classify(obs).phase, Phase::kSucceeded);
}

TEST(ClassifierCancel, OOMDuringCancelIsStillOOM) {
  Observation obs = Obs({PodBuilder()
                             .Container("main")
                             .Phase("Failed")
                             .Terminated("main", 137, "OOMKilled")
                             .Build()});
  obs.cancel_requested = true;
  EXPECT_EQ(Classify(obs).reason, "OOMKilled");
}

// ---------------------------------------------------------------------------
// Several pods, robustness, real kubelet JSON.

TEST(ClassifierPods, FirstEndedPodDecides) {
  const json failed = PodBuilder("p-1")
                          .Container("main")
                          .Phase("Failed")
                          .Created(absl::Seconds(0))
                          .Terminated("main", 1, "Error")
                          .Build();
  const json running = PodBuilder("p-2")
                           .Container("main")
                           .Phase("Running")
                           .Created(absl::Seconds(70))
                           .Running("main")
                           .Build();
  const Outcome o = Classify(Obs({running, failed}));
  EXPECT_EQ(o.phase, Phase::kFailed);
  EXPECT_EQ(o.pod, "p-1");
}

TEST(ClassifierPods, NewestPodDecidesWhileNoneEnded) {
  const json old = PodBuilder("p-1").Container("main").Created(absl::Seconds(0)).Build();
  const json newer = PodBuilder("p-2")
                         .Container("main")
                         .Phase("Running")
                         .Created(absl::Seconds(5))
                         .Running("main")
                         .Build();
  const Outcome o = Classify(Obs({newer, old}));
  EXPECT_EQ(o.phase, Phase::kRunning);
  EXPECT_EQ(o.pod, "p-2");
}

TEST(ClassifierRobustness, MalformedObjectsNeverThrow) {
  const std::vector<json> junk = {
      json(),
      json(42),
      json::array({1, 2}),
      json::object(),
      json{{"metadata", "x"}, {"spec", {{"containers", "main"}}}, {"status", 7}},
      json{{"status", {{"phase", 3}, {"containerStatuses", {{{"name", 1}}}}}}},
      json{{"spec", {{"containers", {{{"name", "main"}}}}}},
           {"status",
            {{"containerStatuses",
              {{{"name", "main"}, {"state", {{"terminated", {{"exitCode", "zero"}}}}}}}}}}},
      json{{"spec",
            {{"containers",
              {{{"name", "main"}, {"resources", {{"limits", {{"memory", "lots"}}}}}}}}}},
           {"status",
            {{"phase", "Failed"},
             {"containerStatuses",
              {{{"name", "main"},
                {"state", {{"terminated", {{"exitCode", 137}, {"reason", "OOMKilled"}}}}}}}}}}},
  };
  for (const json& pod : junk) {
    Observation obs = Obs({pod}, json{{"status", "broken"}});
    EXPECT_NO_THROW(Classify(obs)) << pod.dump();
  }
  // A terminated main without an exit code fails, without an exit code.
  Outcome o = Classify(Obs({junk[6]}));
  EXPECT_EQ(o.phase, Phase::kFailed);
  EXPECT_FALSE(o.exit_code.has_value());
  EXPECT_THAT(o.message, HasSubstr("without an exit code"));
  // An unparsable limit is reported as no limit.
  o = Classify(Obs({junk[7]}));
  EXPECT_EQ(o.reason, "OOMKilled");
  EXPECT_FALSE(o.memory_limit.has_value());
}

// A pod exactly as a kubelet (v1.30) reports an OOM kill, trimmed of
// managedFields.
TEST(ClassifierRealJson, KubeletOOMKill) {
  const json pod = json::parse(R"json({
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
      "creationTimestamp": "2024-05-02T10:00:00Z",
      "generateName": "etl-main-1-9f3c2-",
      "labels": {"batch.kubernetes.io/job-name": "etl-main-1-9f3c2",
                 "weir.dev/batch": "etl", "weir.dev/attempt": "1"},
      "name": "etl-main-1-9f3c2-q8x4z",
      "namespace": "default",
      "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": "etl-main-1-9f3c2",
                           "uid": "0d7e", "controller": true, "blockOwnerDeletion": true}],
      "uid": "a3b1"
    },
    "spec": {
      "containers": [{
        "name": "main",
        "image": "python:3.12",
        "command": ["python", "-c", "x = bytearray(1 << 31)"],
        "resources": {"limits": {"cpu": "1", "memory": "256Mi"},
                      "requests": {"cpu": "500m", "memory": "128Mi"}}
      }],
      "nodeName": "worker-3",
      "restartPolicy": "Never"
    },
    "status": {
      "conditions": [
        {"lastTransitionTime": "2024-05-02T10:00:09Z", "status": "False",
         "type": "PodReadyToStartContainers"},
        {"lastTransitionTime": "2024-05-02T10:00:00Z", "status": "True", "type": "Initialized"},
        {"lastTransitionTime": "2024-05-02T10:00:08Z", "reason": "PodFailed", "status": "False",
         "type": "Ready"},
        {"lastTransitionTime": "2024-05-02T10:00:08Z", "reason": "PodFailed", "status": "False",
         "type": "ContainersReady"},
        {"lastTransitionTime": "2024-05-02T10:00:00Z", "status": "True", "type": "PodScheduled"}
      ],
      "containerStatuses": [{
        "containerID": "containerd://4c1f",
        "image": "docker.io/library/python:3.12",
        "imageID": "docker.io/library/python@sha256:1234",
        "lastState": {},
        "name": "main",
        "ready": false,
        "restartCount": 0,
        "started": false,
        "state": {"terminated": {"containerID": "containerd://4c1f", "exitCode": 137,
                                 "finishedAt": "2024-05-02T10:00:07Z", "reason": "OOMKilled",
                                 "startedAt": "2024-05-02T10:00:02Z"}}
      }],
      "hostIP": "10.0.0.13",
      "phase": "Failed",
      "podIP": "10.244.3.17",
      "qosClass": "Burstable",
      "startTime": "2024-05-02T10:00:00Z"
    }
  })json");
  Observation obs;
  obs.pods = {pod};
  obs.now = absl::FromUnixSeconds(1714644100);
  const Outcome o = Classify(obs);
  EXPECT_EQ(o.phase, Phase::kKilled);
  EXPECT_EQ(o.reason, "OOMKilled");
  EXPECT_EQ(o.exit_code, 137);
  EXPECT_EQ(o.pod, "etl-main-1-9f3c2-q8x4z");
  EXPECT_EQ(o.memory_limit->ToString(), "256Mi");
  EXPECT_EQ(o.memory_request->ToString(), "128Mi");
  EXPECT_THAT(o.message, AllOf(HasSubstr("\"main\""), HasSubstr("256Mi"),
                               HasSubstr("raise resources.limits.memory, or set retry.onOOM")));
  EXPECT_EQ(o.finished_at, absl::FromUnixSeconds(1714644007));
}

// RetryTraitsOf agrees with the flags Classify sets, for every kind of ended
// outcome.
TEST(RetryTraitsOf, MatchesClassify) {
  std::vector<Observation> cases = {
      Obs({PodBuilder()
               .Container("main")
               .Phase("Succeeded")
               .Terminated("main", 0, "Completed")
               .Build()}),
      Obs({PodBuilder()
               .Container("main")
               .Phase("Failed")
               .Terminated("main", 137, "OOMKilled")
               .Build()}),
      Obs({PodBuilder().Container("main").Phase("Failed").Terminated("main", 1, "Error").Build()}),
      Obs({PodBuilder()
               .Container("main")
               .Phase("Failed")
               .PodReason("Evicted", "x")
               .Terminated("main", 137, "Error")
               .Build()}),
      Obs({PodBuilder().Container("main").Phase("Failed").PodReason("Preempting", "x").Build()}),
      Obs({PodBuilder()
               .Container("main")
               .Phase("Failed")
               .Deleting(absl::Seconds(5))
               .Terminated("main", 143, "Error", absl::Seconds(6))
               .Build()}),
      Obs({PodBuilder().Container("main").Phase("Failed").PodReason("OutOfcpu", "x").Build()}),
      Obs({PodBuilder()
               .Container("main")
               .Phase("Failed")
               .PodReason("DeadlineExceeded", "x")
               .Build()}),
      Obs({}, JobJson({JobCondition("Failed", "DeadlineExceeded", "x")})),
      Obs({}, JobJson({JobCondition("Failed", "BackoffLimitExceeded", "x")})),
      Obs({PodBuilder().Container("app").Build()}),
  };
  cases.back().main_container = "main";
  for (const char* why :
       {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError"}) {
    Observation obs = Obs({PodBuilder()
                               .Container("main")
                               .StartTime(absl::Seconds(2))
                               .Waiting("main", why, "x")
                               .Build()});
    obs.waiting_since = kT0;
    obs.now = kT0 + absl::Hours(1);
    cases.push_back(obs);
  }
  Observation lost = Obs({PodBuilder().Container("main").Phase("Unknown").Running("main").Build()});
  lost.now = kT0 + absl::Hours(1);
  cases.push_back(lost);
  Observation canceled = Obs({PodBuilder().Container("main").Deleting(absl::Seconds(5)).Build()});
  canceled.cancel_requested = true;
  cases.push_back(canceled);

  for (const Observation& obs : cases) {
    const Outcome o = Classify(obs);
    ASSERT_TRUE(o.ended()) << o.message;
    const RetryTraits t = RetryTraitsOf(o.phase, o.reason);
    EXPECT_EQ(t.retryable, o.retryable) << o.phase << " " << o.reason;
    EXPECT_EQ(t.counts_against_limit, o.counts_against_limit) << o.phase << " " << o.reason;
  }
}

TEST(IsDisruption, ExactlyThePlatformsFailures) {
  for (const char* r : {"Evicted", "Preempted", "NodeLost", "PodDeleted"}) {
    EXPECT_TRUE(IsDisruption(r)) << r;
  }
  for (const char* r : {"OOMKilled", "Error", "DeadlineExceeded", "ErrImagePull", "Canceled", ""}) {
    EXPECT_FALSE(IsDisruption(r)) << r;
  }
}

}  // namespace
}  // namespace weir::lifecycle
