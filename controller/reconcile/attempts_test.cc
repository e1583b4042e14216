#include "reconcile/attempts.h"

#include <deque>

#include "absl/strings/str_cat.h"
#include "api/meta.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace weir::reconcile {
namespace {

using lifecycle::Phase;
using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

json Spec(const std::string& memory = "64Mi") {
  return {
      {"template",
       {{"spec",
         {{"containers", json::array({{{"name", "main"},
                                       {"image", "busybox"},
                                       {"resources", {{"limits", {{"memory", memory}}}}}}})}}}}}};
}

class AttemptsTest : public ::testing::Test {
 protected:
  AttemptsTest() {
    in_.owner = ChildOwner::Batch("ns", "b", "uid-1");
    in_.now = kT0;
  }

  // Adds attempt `n`'s Job (as the API server would show it) and returns it.
  json& AddJob(int n, const std::string& memory = "64Mi") {
    json job = BuildChildJob(in_.owner, n, Spec(memory), "", {});
    job["metadata"]["creationTimestamp"] = api::FormatRfc3339(kT0);
    jobs_.push_back(job);
    return jobs_.back();
  }

  // Adds a pod of attempt `n` with the main container in `state`; returns it.
  json& AddPod(int n, const std::string& phase, const json& state,
               const json& status_extra = json::object()) {
    json pod = {{"metadata",
                 {{"name", ChildJobName(in_.owner, n) + "-abcde"},
                  {"creationTimestamp", api::FormatRfc3339(kT0)},
                  {"labels", ChildLabels(in_.owner, n)}}},
                {"spec", Spec()["template"]["spec"]},
                {"status",
                 {{"phase", phase},
                  {"startTime", api::FormatRfc3339(kT0)},
                  {"containerStatuses", json::array({{{"name", "main"}, {"state", state}}})}}}};
    if (status_extra.is_object()) pod["status"].update(status_extra);
    pods_.push_back(pod);
    return pods_.back();
  }

  // Gives `pod` a second container, "sidecar", in `state`.
  static void AddSidecar(json& pod, const json& state) {
    pod["spec"]["containers"].push_back({{"name", "sidecar"}, {"image", "busybox"}});
    pod["status"]["containerStatuses"].push_back({{"name", "sidecar"}, {"state", state}});
  }

  // Moves every pod from the cache to the final states of deleted pods, as
  // the removal of each would.
  void RemovePods() {
    for (json& pod : pods_) {
      pod["metadata"]["deletionTimestamp"] = api::FormatRfc3339(kT0);
      deleted_pods_.push_back(std::move(pod));
    }
    pods_.clear();
  }

  static json Running() { return {{"running", {{"startedAt", api::FormatRfc3339(kT0)}}}}; }
  static json Terminated(int code, const std::string& reason) {
    return {{"terminated",
             {{"exitCode", code},
              {"reason", reason},
              {"startedAt", api::FormatRfc3339(kT0)},
              {"finishedAt", api::FormatRfc3339(kT0 + absl::Seconds(5))}}}};
  }

  AttemptsPlan Plan() {
    in_.jobs.clear();
    in_.pods.clear();
    for (const json& j : jobs_) in_.jobs.push_back(&j);
    for (const json& p : pods_) in_.pods.push_back(&p);
    in_.deleted_pods.clear();
    for (const json& p : deleted_pods_) in_.deleted_pods.push_back(&p);
    return PlanAttempts(in_);
  }

  // Feeds the plan's result back as the recorded state, as a status write would.
  void Record(const AttemptsPlan& plan) {
    in_.phase = plan.phase;
    in_.attempts = plan.attempts;
  }

  AttemptsInput in_;
  std::deque<json> jobs_;
  std::deque<json> pods_;
  std::deque<json> deleted_pods_;
};

TEST_F(AttemptsTest, FirstLookCreatesAttemptOne) {
  AttemptsPlan p = Plan();
  EXPECT_EQ(p.create_attempt, 1);
  EXPECT_EQ(p.phase, Phase::kPending);
  EXPECT_TRUE(p.transitions.empty());
}

TEST_F(AttemptsTest, NothingStartsWhileNotAllowed) {
  in_.may_start = false;
  EXPECT_EQ(Plan().create_attempt, std::nullopt);
}

TEST_F(AttemptsTest, CancelBeforeAnythingStartedIsCanceledAtOnce) {
  in_.cancel = true;
  AttemptsPlan p = Plan();
  EXPECT_EQ(p.phase, Phase::kCanceled);
  EXPECT_THAT(p.transitions, ElementsAre(Phase::kCanceled));
  EXPECT_EQ(p.create_attempt, std::nullopt);
  EXPECT_EQ(p.reason, "Canceled");
}

TEST_F(AttemptsTest, JobOnlyInCacheIsAdoptedNotCreatedAgain) {
  AddJob(1);  // created just before a restart: no record yet
  AttemptsPlan p = Plan();
  EXPECT_EQ(p.create_attempt, std::nullopt);
  ASSERT_EQ(p.attempts.size(), 1u);
  EXPECT_EQ(p.attempts[0].attempt, 1);
  EXPECT_EQ(p.attempts[0].job, ChildJobName(in_.owner, 1));
  EXPECT_EQ(p.attempts[0].phase, "Pending");
  EXPECT_EQ(p.attempts[0].start_time, kT0);
}

// A main container that started under 2 s ago still reads as starting, so
// a pod that ends within that costs no status write for Running; the
// attempt is looked at again when the 2 s are up.
TEST_F(AttemptsTest, RunningPodMovesToRunningOnceItHasRunTwoSeconds) {
  AddJob(1);
  AddPod(1, "Running", Running());
  in_.now = kT0 + absl::Milliseconds(1900);
  AttemptsPlan p = Plan();
  EXPECT_EQ(p.phase, Phase::kPending);
  EXPECT_TRUE(p.transitions.empty());
  EXPECT_EQ(p.message, "the attempt's pod is starting");
  EXPECT_EQ(p.wake_at, kT0 + absl::Seconds(2));

  in_.now = kT0 + absl::Seconds(2);
  p = Plan();
  EXPECT_EQ(p.phase, Phase::kRunning);
  EXPECT_THAT(p.transitions, ElementsAre(Phase::kRunning));
  EXPECT_EQ(p.message, "container \"main\" is running");
  EXPECT_EQ(p.attempts[0].memory_limit, "64Mi");
}

TEST_F(AttemptsTest, SuccessSeenWithoutRunningGoesThroughRunning) {
  AddJob(1);
  AddPod(1, "Succeeded", Terminated(0, "Completed"));
  AttemptsPlan p = Plan();
  EXPECT_EQ(p.phase, Phase::kSucceeded);
  EXPECT_THAT(p.transitions, ElementsAre(Phase::kRunning, Phase::kSucceeded));
  EXPECT_EQ(p.attempts[0].phase, "Succeeded");
  EXPECT_EQ(p.attempts[0].termination_reason, "Completed");
  EXPECT_EQ(p.attempts[0].exit_code, 0);
  EXPECT_EQ(p.attempts[0].completion_time, kT0 + absl::Seconds(5));
}

TEST_F(AttemptsTest, FailureWithoutRetryEndsFailedWithExitCode) {
  AddJob(1);
  AddPod(1, "Failed", Terminated(3, "Error"));
  AttemptsPlan p = Plan();
  EXPECT_EQ(p.phase, Phase::kFailed);
  EXPECT_EQ(p.reason, "Error");
  EXPECT_EQ(p.exit_code, 3);
  EXPECT_EQ(p.create_attempt, std::nullopt);
}

// Only the main container decides (docs/design.md §4): a sidecar that keeps the pod
// Running does not keep the attempt open. Such a Job never completes by
// itself, so it is deleted at once rather than left running until the idle
// timeout.
TEST_F(AttemptsTest, MainSucceededWhileASidecarRunsEndsTheAttemptAndDeletesItsJob) {
  AddJob(1);
  AddSidecar(AddPod(1, "Running", Running()), Running());
  in_.now = kT0 + absl::Seconds(2);
  AttemptsPlan p = Plan();
  EXPECT_EQ(p.phase, Phase::kRunning);
  EXPECT_TRUE(p.delete_jobs.empty()) << "the attempt still runs";
  Record(p);

  pods_.clear();
  AddSidecar(AddPod(1, "Running", Terminated(0, "Completed")), Running());
  p = Plan();
  EXPECT_EQ(p.phase, Phase::kSucceeded);
  EXPECT_EQ(p.attempts[0].phase, "Succeeded");
  EXPECT_EQ(p.exit_code, 0);
  EXPECT_THAT(p.delete_jobs, ElementsAre(ChildJobName(in_.owner, 1)));
}

// A retried attempt's pod that still runs would run beside the next attempt
// for the rest of the unit's life: its Job is deleted, on every look until
// the cache shows the deletion.
TEST_F(AttemptsTest, MainFailedWhileASidecarRunsIsRetriedAndTheOldJobDeleted) {
  in_.retry.limit = 1;
  in_.retry.backoff = absl::Seconds(10);
  AddJob(1);
  AddSidecar(AddPod(1, "Running", Terminated(3, "Error")), Running());
  AttemptsPlan p = Plan();
  EXPECT_EQ(p.phase, Phase::kRetrying);
  EXPECT_EQ(p.attempts[0].exit_code, 3);
  EXPECT_THAT(p.delete_jobs, ElementsAre(ChildJobName(in_.owner, 1)));
  Record(p);

  in_.now = kT0 + absl::Seconds(20);
  p = Plan();
  EXPECT_EQ(p.create_attempt, 2);
  EXPECT_THAT(p.delete_jobs, ElementsAre(ChildJobName(in_.owner, 1)));
  Record(p);

  jobs_.front()["metadata"]["deletionTimestamp"] = api::FormatRfc3339(in_.now);
  AddJob(2);
  p = Plan();
  EXPECT_TRUE(p.delete_jobs.empty()) << "already being deleted";
  EXPECT_EQ(p.attempts.size(), 2u);
}

TEST_F(AttemptsTest, EndedAttemptWhosePodEndedKeepsItsJobForLogs) {
  AddJob(1);
  AddSidecar(AddPod(1, "Failed", Terminated(0, "Completed")), Terminated(1, "Error"));
  AttemptsPlan p = Plan();
  EXPECT_EQ(p.phase, Phase::kSucceeded) << "a sidecar failing after main succeeded changes nothing";
  EXPECT_TRUE(p.delete_jobs.empty()) << "the Job stays for kubectl logs until the idle timeout";
}

// A real kubelet writes the main container's end before the pod's phase: a
// pod whose containers have all ended is done, and its Job stays for `kubectl
// logs` (found on the real node, where it was deleted at once).
// A silent node sends no event: weir must look again by itself, or the
// node-lost timeout never ends the attempt.
TEST_F(AttemptsTest, AnUnknownPodIsLookedAtAgainUntilItsNodeIsLost) {
  in_.node_lost_timeout = absl::Seconds(30);
  AddJob(1);
  AddPod(1, "Running", Running());
  Record(Plan());
  json& pod = pods_.back();
  pod["status"]["phase"] = "Unknown";
  pod["status"]["conditions"] = json::array(
      {{{"type", "Ready"}, {"status", "False"}, {"lastTransitionTime", api::FormatRfc3339(kT0)}}});
  AttemptsPlan p = Plan();
  EXPECT_EQ(p.phase, Phase::kUnknown);
  ASSERT_TRUE(p.wake_at.has_value()) << "nothing else would wake the owner";
  EXPECT_LE(*p.wake_at, kT0 + absl::Seconds(30));
  Record(p);
  in_.now = kT0 + absl::Seconds(31);
  p = Plan();
  ASSERT_EQ(p.attempts.size(), 1u);
  EXPECT_EQ(p.attempts[0].termination_reason, "NodeLost");
}

TEST_F(AttemptsTest, APodWhosePhaseLagsItsEndedContainersKeepsItsJob) {
  AddJob(1);
  AddPod(1, "Running", Terminated(0, "Completed"));
  AttemptsPlan p = Plan();
  ASSERT_EQ(p.attempts.size(), 1u);
  EXPECT_EQ(p.attempts[0].phase, "Succeeded");
  EXPECT_TRUE(p.delete_jobs.empty()) << "the Job stays for kubectl logs until the idle timeout";
}

TEST_F(AttemptsTest, OOMRetryRaisesMemoryAfterBackoffAndKeepsHistory) {
  in_.retry.on_oom = lifecycle::OOMRetrySpec{2.0, api::Quantity::Parse("1Gi").value()};
  in_.retry.backoff = absl::Seconds(10);
  AddJob(1);
  AddPod(1, "Failed", Terminated(137, "OOMKilled"));
  AttemptsPlan p = Plan();
  EXPECT_EQ(p.phase, Phase::kRetrying);
  EXPECT_EQ(p.attempts[0].phase, "Killed");
  EXPECT_EQ(p.attempts[0].termination_reason, "OOMKilled");
  EXPECT_EQ(p.attempts[0].memory_limit, "64Mi");
  EXPECT_EQ(p.create_attempt, std::nullopt) << "backoff first";
  EXPECT_EQ(p.wake_at, kT0 + absl::Seconds(5) + absl::Seconds(10));
  Record(p);

  in_.now = kT0 + absl::Seconds(15);
  p = Plan();
  EXPECT_EQ(p.create_attempt, 2);
  ASSERT_TRUE(p.memory.limit.has_value());
  EXPECT_EQ(p.memory.limit->ToString(), "128Mi");
  Record(p);

  // Attempt 2 runs with the raised memory and succeeds.
  json& job2 = AddJob(2, "128Mi");
  (void)job2;
  pods_.clear();
  AddPod(2, "Running", Running());
  p = Plan();
  EXPECT_EQ(p.phase, Phase::kRunning);
  Record(p);
  pods_.clear();
  AddPod(2, "Succeeded", Terminated(0, "Completed"));
  p = Plan();
  EXPECT_EQ(p.phase, Phase::kSucceeded);
  ASSERT_EQ(p.attempts.size(), 2u);
  EXPECT_EQ(p.attempts[0].termination_reason, "OOMKilled");
  EXPECT_EQ(p.attempts[1].phase, "Succeeded");
}

// The image-pull grace counts from the first pull error weir saw, recorded in
// the attempt (waitingSince), so it survives a restart; an error that clears
// stops the clock.
TEST_F(AttemptsTest, ImagePullGraceCountsFromTheRecordedFirstError) {
  in_.image_pull_grace = absl::Seconds(30);
  Record(Plan());
  AddJob(1);
  json& pod = AddPod(1, "Pending", {{"waiting", {{"reason", "ContainerCreating"}}}});
  in_.now = kT0 + absl::Minutes(10);  // init containers ran long: startTime is old
  AttemptsPlan p = Plan();
  EXPECT_FALSE(p.attempts.back().waiting_since.has_value());
  Record(p);

  pod["status"]["containerStatuses"][0]["state"] = {
      {"waiting", {{"reason", "ErrImagePull"}, {"message", "not found"}}}};
  p = Plan();
  EXPECT_EQ(p.phase, Phase::kPending);
  EXPECT_EQ(p.reason, "ErrImagePull");
  EXPECT_EQ(p.attempts.back().waiting_since, in_.now);
  EXPECT_EQ(p.wake_at, in_.now + absl::Seconds(5));
  Record(p);

  in_.now += absl::Seconds(29);
  EXPECT_EQ(Plan().phase, Phase::kPending);
  in_.now += absl::Seconds(1);
  p = Plan();
  EXPECT_EQ(p.phase, Phase::kFailed);
  EXPECT_EQ(p.reason, "ErrImagePull");
  EXPECT_THAT(p.attempts.back().message, HasSubstr("for 30s"));
}

TEST_F(AttemptsTest, AConfigErrorThatClearsStopsTheClock) {
  in_.image_pull_grace = absl::Seconds(30);
  Record(Plan());
  AddJob(1);
  json& pod = AddPod(1, "Pending",
                     {{"waiting",
                       {{"reason", "CreateContainerConfigError"},
                        {"message", "configmap \"settings\" not found"}}}});
  AttemptsPlan p = Plan();
  EXPECT_EQ(p.attempts.back().waiting_since, kT0);
  Record(p);

  in_.now = kT0 + absl::Seconds(20);
  pod["status"]["containerStatuses"][0]["state"] = {{"waiting", {{"reason", "ContainerCreating"}}}};
  p = Plan();
  EXPECT_FALSE(p.attempts.back().waiting_since.has_value());
  Record(p);

  in_.now = kT0 + absl::Seconds(40);
  pod["status"]["containerStatuses"][0]["state"] = {
      {"waiting", {{"reason", "CreateContainerError"}, {"message", "name is reserved"}}}};
  p = Plan();
  EXPECT_EQ(p.phase, Phase::kPending);
  EXPECT_EQ(p.attempts.back().waiting_since, in_.now);
}

// A Job that ended while its pod is not in the (lagging) cache: the attempt
// waits for the pod, which has the exit code, even under a cancel; it is
// not "canceled before the pod started".
TEST_F(AttemptsTest, AJobThatEndedWaitsForItsPodToBeSeen) {
  Record(Plan());
  json& job = AddJob(1);
  job["status"]["conditions"] = json::array({{{"type", "Complete"},
                                              {"status", "True"},
                                              {"lastTransitionTime", api::FormatRfc3339(kT0)}}});
  in_.now = kT0 + absl::Seconds(1);
  for (bool cancel : {false, true}) {
    in_.cancel = cancel;
    AttemptsPlan p = Plan();
    EXPECT_EQ(p.phase, Phase::kPending);
    EXPECT_EQ(p.attempts.back().phase, "Pending");
    EXPECT_EQ(p.wake_at, kT0 + lifecycle::kPodCatchUp);
  }
  in_.cancel = false;
  AddPod(1, "Succeeded", Terminated(0, "Completed"));
  AttemptsPlan p = Plan();
  EXPECT_EQ(p.phase, Phase::kSucceeded);
  EXPECT_EQ(p.attempts.back().exit_code, 0);
}

// A deleted pod keeps weir.dev/final-state until its attempt's end is in the
// stored records: not when only the plan has it (the status write may be
// lost), nor while the attempt runs; a pod of an attempt with neither record
// nor Job is released (nothing will record it).
TEST_F(AttemptsTest, PodsToReleaseWaitForTheStoredEnd) {
  auto deleted_pod = [&](int attempt, int index) {
    json pod = AddPod(attempt, "Failed", Terminated(143, "Error"));
    pod["metadata"]["name"] = absl::StrCat("p", attempt);
    pod["metadata"]["deletionTimestamp"] = api::FormatRfc3339(kT0);
    json finalizers = json::array({"batch.kubernetes.io/job-tracking"});
    finalizers.insert(finalizers.begin() + index, kPodFinalizer);
    pod["metadata"]["finalizers"] = finalizers;
    pods_.back() = pod;
    return &pods_.back();
  };
  std::vector<const json*> pods = {deleted_pod(1, 1), deleted_pod(2, 0), deleted_pod(3, 0)};
  AddJob(2);
  std::vector<const json*> jobs = {&jobs_.back()};
  api::AttemptStatus ended;
  ended.attempt = 1;
  ended.phase = "Canceled";
  api::AttemptStatus running;
  running.attempt = 2;
  running.phase = "Running";
  // Attempt 1 ended and is stored; 2 still runs; 3 has no record and no Job.
  EXPECT_THAT(PodsToRelease(pods, {ended, running}, jobs),
              ElementsAre(PodRelease{"p1", 1}, PodRelease{"p3", 0}));
  // Nothing stored yet: only the pod nothing will record.
  EXPECT_THAT(PodsToRelease(pods, {}, jobs), ElementsAre(PodRelease{"p1", 1}, PodRelease{"p3", 0}));
  AddJob(1);
  AddJob(3);
  jobs = {&jobs_[0], &jobs_[1], &jobs_[2]};
  EXPECT_TRUE(PodsToRelease(pods, {}, jobs).empty());
  // A pod not being deleted keeps its finalizer, ended or not.
  pods_[0]["metadata"].erase("deletionTimestamp");
  EXPECT_THAT(PodsToRelease({&pods_[0]}, {ended}, jobs), ::testing::IsEmpty());
}

TEST_F(AttemptsTest, RetryDecisionIsTheSameAfterARestart) {
  in_.retry.limit = 1;
  in_.retry.backoff = absl::ZeroDuration();
  in_.now = kT0 + absl::Seconds(10);
  AddJob(1);
  AddPod(1, "Running", Running());
  Record(Plan());  // attempt 1 recorded Running
  pods_.clear();
  AddPod(1, "Failed", Terminated(1, "Error"));
  AttemptsPlan first = Plan();
  EXPECT_EQ(first.create_attempt, 2);
  // Restarted before attempt 2's Job was created (its status is written only
  // after the create): the same state gives the same decision.
  AttemptsPlan again = Plan();
  EXPECT_EQ(again.create_attempt, 2);
  EXPECT_EQ(again.attempts, first.attempts);
  // Restarted after the Job's create but before the status write: the Job is
  // adopted, not created again.
  AddJob(2);
  AttemptsPlan adopted = Plan();
  EXPECT_EQ(adopted.create_attempt, std::nullopt);
  ASSERT_EQ(adopted.attempts.size(), 2u);
  EXPECT_EQ(adopted.attempts[0].phase, "Failed") << "attempt 1's outcome is not lost";
  EXPECT_EQ(adopted.attempts[0].exit_code, 1);
  EXPECT_EQ(adopted.attempts[1].job, ChildJobName(in_.owner, 2));
}

TEST_F(AttemptsTest, LimitUsedUpEndsFailed) {
  in_.retry.limit = 1;
  in_.retry.backoff = absl::ZeroDuration();
  AddJob(1);
  AddPod(1, "Failed", Terminated(1, "Error"));
  Record(Plan());
  AddJob(2);
  pods_.clear();
  AddPod(2, "Failed", Terminated(2, "Error"));
  AttemptsPlan p = Plan();
  EXPECT_EQ(p.phase, Phase::kFailed);
  EXPECT_EQ(p.exit_code, 2);
  EXPECT_EQ(p.create_attempt, std::nullopt);
}

TEST_F(AttemptsTest, EvictionDoesNotCountAgainstTheLimit) {
  in_.retry.limit = 0;
  in_.retry.backoff = absl::ZeroDuration();
  in_.now = kT0 + absl::Seconds(10);
  AddJob(1);
  AddPod(1, "Failed", Terminated(137, "Error"), {{"reason", "Evicted"}});
  AttemptsPlan p = Plan();
  EXPECT_EQ(p.attempts[0].termination_reason, "Evicted");
  EXPECT_EQ(p.phase, Phase::kRetrying);
  EXPECT_EQ(p.create_attempt, 2);
}

TEST_F(AttemptsTest, MissingJobIsVerifiedBeforeAnythingIsConcluded) {
  AddJob(1);
  Record(Plan());  // attempt 1 recorded
  jobs_.clear();   // the cache no longer (or not yet) shows it
  AttemptsPlan p = Plan();
  EXPECT_EQ(p.verify_job, ChildJobName(in_.owner, 1));
  EXPECT_EQ(p.create_attempt, std::nullopt);
  EXPECT_EQ(p.phase, Phase::kPending);

  in_.jobs_gone.insert(ChildJobName(in_.owner, 1));
  p = Plan();
  EXPECT_EQ(p.verify_job, std::nullopt);
  EXPECT_EQ(p.attempts[0].phase, "Killed");
  EXPECT_EQ(p.attempts[0].termination_reason, "PodDeleted");
  EXPECT_EQ(p.phase, Phase::kRetrying) << "a deletion by someone else is a disruption";
}

// The pod looks pending, but the cache may lag a pod that runs by now: the
// attempt goes through Canceling and ends once the deleted pod cannot run
// (the fault suite saw a pod that ran recorded "canceled before it started").
TEST_F(AttemptsTest, CancelWhilePendingEndsOnceThePodCannotRun) {
  AddJob(1);
  json& pod = AddPod(1, "Pending", {{"waiting", {{"reason", "ContainerCreating"}}}});
  Record(Plan());
  in_.cancel = true;
  AttemptsPlan p = Plan();
  EXPECT_EQ(p.phase, Phase::kCanceling);
  EXPECT_THAT(p.delete_jobs, ::testing::IsEmpty()) << "not before Canceling is stored";
  Record(p);
  EXPECT_THAT(Plan().delete_jobs, ElementsAre(ChildJobName(in_.owner, 1)));

  jobs_.front()["metadata"]["deletionTimestamp"] = api::FormatRfc3339(kT0);
  pod["metadata"]["deletionTimestamp"] = api::FormatRfc3339(kT0 + absl::Seconds(30));
  pod["metadata"]["deletionGracePeriodSeconds"] = 30;
  p = Plan();
  EXPECT_EQ(p.phase, Phase::kCanceled);
  EXPECT_EQ(p.attempts[0].phase, "Canceled");
  EXPECT_FALSE(p.attempts[0].exit_code.has_value());
  EXPECT_FALSE(p.create_attempt.has_value());
}

TEST_F(AttemptsTest, CancelWhileRunningGoesThroughCanceling) {
  AddJob(1);
  AddPod(1, "Running", Running());
  Record(Plan());
  in_.cancel = true;
  AttemptsPlan p = Plan();
  EXPECT_EQ(p.phase, Phase::kCanceling);
  EXPECT_THAT(p.delete_jobs, ::testing::IsEmpty()) << "not before Canceling is stored";
  Record(p);
  EXPECT_THAT(Plan().delete_jobs, ElementsAre(ChildJobName(in_.owner, 1)));

  // The Job is being deleted; the pod got SIGTERM and exited 143.
  jobs_.front()["metadata"]["deletionTimestamp"] = api::FormatRfc3339(kT0);
  pods_.clear();
  AddPod(1, "Failed", Terminated(143, "Error"));
  p = Plan();
  EXPECT_TRUE(p.delete_jobs.empty()) << "already being deleted";
  EXPECT_EQ(p.phase, Phase::kCanceled);
  EXPECT_EQ(p.attempts[0].phase, "Canceled");
  EXPECT_EQ(p.attempts[0].exit_code, 143);
}

// Finished work stands: the attempt was recorded, and its pod succeeded
// before weir saw the cancel (design §4.2).
TEST_F(AttemptsTest, ASuccessOfARecordedAttemptStandsAgainstACancelSeenLater) {
  AddJob(1);
  AddPod(1, "Running", Running());
  Record(Plan());
  pods_.clear();
  AddPod(1, "Succeeded", Terminated(0, "Completed"));
  in_.cancel = true;
  AttemptsPlan p = Plan();
  EXPECT_EQ(p.phase, Phase::kSucceeded);
  EXPECT_EQ(p.attempts[0].phase, "Succeeded");
  EXPECT_THAT(p.delete_jobs, ::testing::IsEmpty()) << "a succeeded attempt's Job is kept";
}

// The cancel window (design §4.2, issue 12): the Job was created by a look
// from before the cancel was stored, and its record's write failed on the
// cancel's newer version. The stop wins whatever the pod did: the Job is
// deleted, the record keeps the pod's end, the unit ends Canceled.
TEST_F(AttemptsTest, AnAttemptNeverRecordedYieldsToTheCancelEvenIfItSucceeded) {
  AddJob(1);
  AddPod(1, "Succeeded", Terminated(0, "Completed"));
  in_.cancel = true;
  AttemptsPlan p = Plan();
  EXPECT_EQ(p.phase, Phase::kCanceled);
  EXPECT_EQ(p.reason, "Canceled");
  EXPECT_THAT(p.message, HasSubstr("the last attempt ended Succeeded"));
  ASSERT_EQ(p.attempts.size(), 1u);
  EXPECT_EQ(p.attempts[0].phase, "Succeeded") << "the record says what the pod did";
  EXPECT_EQ(p.attempts[0].exit_code, 0);
  EXPECT_THAT(p.delete_jobs, ElementsAre(ChildJobName(in_.owner, 1)));
  EXPECT_FALSE(p.create_attempt.has_value());
}

TEST_F(AttemptsTest, CancelingEndsCanceledEvenIfThePodSucceeded) {
  AddJob(1);
  AddPod(1, "Running", Running());
  Record(Plan());
  in_.cancel = true;
  Record(Plan());
  ASSERT_EQ(in_.phase, Phase::kCanceling);
  in_.cancel = false;  // the cancel was cleared again: Canceling still ends Canceled
  pods_.clear();
  AddPod(1, "Succeeded", Terminated(0, "Completed"));
  AttemptsPlan p = Plan();
  EXPECT_EQ(p.phase, Phase::kCanceled);
  EXPECT_EQ(p.attempts[0].phase, "Succeeded");
}

TEST_F(AttemptsTest, CancelingEndsCanceledEvenIfTheJobVanished) {
  AddJob(1);
  AddPod(1, "Running", Running());
  Record(Plan());
  in_.cancel = true;
  Record(Plan());
  jobs_.clear();
  pods_.clear();
  in_.jobs_gone.insert(ChildJobName(in_.owner, 1));
  AttemptsPlan p = Plan();
  EXPECT_EQ(p.phase, Phase::kCanceled);
  EXPECT_FALSE(p.children_exist);
}

TEST_F(AttemptsTest, CancelingKeepsTheExitCodeOfAPodRemovedWithItsJob) {
  AddJob(1);
  AddPod(1, "Running", Running());
  Record(Plan());
  in_.cancel = true;
  Record(Plan());
  // The pod exited 143 and was removed, and its Job with it, before the next
  // look: only its final state tells how it ended.
  pods_.clear();
  AddPod(1, "Failed", Terminated(143, "Error"));
  RemovePods();
  jobs_.clear();
  AttemptsPlan p = Plan();
  EXPECT_EQ(p.verify_job, std::nullopt) << "the final state is conclusive";
  EXPECT_EQ(p.phase, Phase::kCanceled);
  EXPECT_EQ(p.attempts[0].phase, "Canceled");
  EXPECT_EQ(p.attempts[0].exit_code, 143);
  EXPECT_FALSE(p.children_exist);
}

TEST_F(AttemptsTest, AnEvictedPodRemovedBeforeItsJobFailedIsADisruption) {
  in_.retry.limit = 0;
  AddJob(1);
  AddPod(1, "Running", Running());
  Record(Plan());
  // Evicted: SIGTERM, exit 143, removed; then the job controller marks the
  // still-present Job Failed. Only the pod's final state says it was evicted.
  pods_.clear();
  AddPod(1, "Failed", Terminated(143, "Error"),
         {{"conditions", json::array({{{"type", "DisruptionTarget"},
                                       {"status", "True"},
                                       {"reason", "EvictionByEvictionAPI"},
                                       {"message", "Eviction API: evicting"}}})}});
  RemovePods();
  jobs_[0]["status"]["conditions"] =
      json::array({{{"type", "Failed"}, {"status", "True"}, {"reason", "BackoffLimitExceeded"}}});
  AttemptsPlan p = Plan();
  ASSERT_EQ(p.attempts.size(), 1u);
  EXPECT_EQ(p.attempts[0].phase, "Killed");
  EXPECT_EQ(p.attempts[0].termination_reason, "Evicted");
  EXPECT_EQ(p.attempts[0].exit_code, 143);
  EXPECT_EQ(p.phase, Phase::kRetrying) << "a disruption does not use up retry.limit";
}

TEST_F(AttemptsTest, ARemovedPodThatNeverEndedDoesNotHoldTheAttemptOpen) {
  AddJob(1);
  AddPod(1, "Running", Running());
  Record(Plan());
  in_.cancel = true;
  Record(Plan());
  RemovePods();  // force-deleted: its final state still shows it running
  jobs_.clear();
  in_.jobs_gone.insert(ChildJobName(in_.owner, 1));
  AttemptsPlan p = Plan();
  EXPECT_EQ(p.phase, Phase::kCanceled);
  EXPECT_EQ(p.attempts[0].phase, "Canceled");
  EXPECT_EQ(p.attempts[0].exit_code, std::nullopt);
}

TEST_F(AttemptsTest, TerminalUnitsAreLeftAlone) {
  in_.phase = Phase::kSucceeded;
  in_.cancel = true;
  AttemptsPlan p = Plan();
  EXPECT_EQ(p.phase, Phase::kSucceeded);
  EXPECT_TRUE(p.transitions.empty());
  EXPECT_FALSE(p.create_attempt.has_value());
}

TEST_F(AttemptsTest, ForeignJobsAreIgnored) {
  json foreign = BuildChildJob(ChildOwner::Batch("ns", "b", "uid-OLD"), 5, Spec(), "", {});
  jobs_.push_back(foreign);
  AttemptsPlan p = Plan();
  EXPECT_EQ(p.create_attempt, 1) << "a predecessor's Job must not be taken for ours";
}

TEST(OutcomeOfRecordTest, RetryabilityFollowsTheReason) {
  auto of = [](const std::string& phase, const std::string& reason) {
    api::AttemptStatus r;
    r.attempt = 1;
    r.phase = phase;
    r.termination_reason = reason;
    return OutcomeOfRecord(r);
  };
  EXPECT_TRUE(of("Killed", "OOMKilled").retryable);
  EXPECT_TRUE(of("Killed", "OOMKilled").counts_against_limit);
  EXPECT_TRUE(of("Failed", "Error").counts_against_limit);
  EXPECT_TRUE(of("Killed", "Evicted").retryable);
  EXPECT_FALSE(of("Killed", "Evicted").counts_against_limit);
  EXPECT_FALSE(of("Killed", "NodeLost").counts_against_limit);
  EXPECT_FALSE(of("Failed", "DeadlineExceeded").retryable);
  EXPECT_FALSE(of("Failed", "ImagePullBackOff").retryable);
  EXPECT_FALSE(of("Succeeded", "Completed").retryable);
  EXPECT_FALSE(of("Canceled", "Canceled").retryable);
}

}  // namespace
}  // namespace weir::reconcile
