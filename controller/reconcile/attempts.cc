#include "reconcile/attempts.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "api/meta.h"
#include "api/quantity.h"

namespace weir::reconcile {
namespace {

using lifecycle::Outcome;
using lifecycle::Phase;

// Re-read waiting outcomes (image pull, unschedulable, unknown node) this
// often, so their grace periods are judged on time.
constexpr absl::Duration kRecheckWaiting = absl::Seconds(5);

const nlohmann::json* FindMainContainer(const nlohmann::json& job, absl::string_view main) {
  const nlohmann::json* spec = &job;
  for (const char* key : {"spec", "template", "spec"}) {
    if (!spec->is_object() || !spec->contains(key)) return nullptr;
    spec = &(*spec)[key];
  }
  const std::string name = MainContainerName(*spec, main);
  auto containers = spec->find("containers");
  if (containers == spec->end() || !containers->is_array()) return nullptr;
  for (const nlohmann::json& c : *containers) {
    if (c.is_object() && c.value("name", "") == name) return &c;
  }
  return nullptr;
}

std::optional<api::Quantity> MemoryOf(const nlohmann::json* container, const char* kind) {
  if (container == nullptr) return std::nullopt;
  const nlohmann::json& resources = container->value("resources", nlohmann::json::object());
  if (!resources.is_object() || !resources.contains(kind) || !resources[kind].is_object()) {
    return std::nullopt;
  }
  const nlohmann::json& memory = resources[kind].value("memory", nlohmann::json());
  if (!memory.is_string()) return std::nullopt;
  absl::StatusOr<api::Quantity> q = api::Quantity::Parse(memory.get<std::string>());
  if (!q.ok()) return std::nullopt;
  return *q;
}

// A record's phase; one that does not parse reads as Pending (not ended).
Phase ParsedPhase(const api::AttemptStatus& record) {
  absl::StatusOr<Phase> p = lifecycle::ParsePhase(record.phase);
  return p.ok() ? *p : Phase::kPending;
}

class Planner {
 public:
  explicit Planner(const AttemptsInput& in) : in_(in) {
    plan_.phase = in.phase;
    plan_.attempts = in.attempts;
    plan_.children_exist = !in.jobs.empty() || !in.pods.empty();
  }

  AttemptsPlan Run() {
    if (lifecycle::IsTerminal(in_.phase)) return std::move(plan_);
    const int current = CurrentAttempt();
    if (current == 0) {
      NothingStarted();
      return std::move(plan_);
    }
    SettleEarlierAttempt(current);
    plan_.current_recorded = !in_.attempts.empty() && in_.attempts.back().attempt >= current;
    EnsureRecord(current);
    api::AttemptStatus& record = plan_.attempts.back();
    if (lifecycle::IsTerminal(ParsedPhase(record))) {
      AfterAttemptEnded(current);
    } else {
      ObserveLiveAttempt(current);
    }
    if (!plan_.verify_job.has_value()) DeleteJobsOfEndedAttemptsStillRunning();
    return std::move(plan_);
  }

 private:
  // Moves the unit to `to` through the table (possibly via intermediate
  // phases, e.g. Pending -> Running -> Succeeded when the whole run happened
  // between two looks).
  void MoveTo(Phase to) {
    absl::StatusOr<std::vector<Phase>> path = lifecycle::TransitionPath(plan_.phase, to);
    if (!path.ok()) {
      plan_.refused = std::make_pair(plan_.phase, to);
      return;
    }
    for (Phase p : *path) plan_.transitions.push_back(p);
    plan_.phase = to;
  }

  int CurrentAttempt() const {
    int current = in_.attempts.empty() ? 0 : in_.attempts.back().attempt;
    for (const nlohmann::json* job : in_.jobs) {
      std::optional<int> a = AttemptOf(*job);
      if (a.has_value() && IsChildOf(*job, in_.owner)) current = std::max(current, *a);
    }
    return current;
  }

  const nlohmann::json* JobOf(int attempt) const {
    const std::string name = ChildJobName(in_.owner, attempt);
    for (const nlohmann::json* job : in_.jobs) {
      if (job->contains("metadata") && (*job)["metadata"].value("name", "") == name &&
          IsChildOf(*job, in_.owner)) {
        return job;
      }
    }
    return nullptr;
  }

  static std::vector<nlohmann::json> OfAttempt(const std::vector<const nlohmann::json*>& pods,
                                               int attempt) {
    std::vector<nlohmann::json> out;
    for (const nlohmann::json* pod : pods) {
      if (AttemptOf(*pod) == attempt) out.push_back(*pod);
    }
    return out;
  }
  std::vector<nlohmann::json> PodsOf(int attempt) const { return OfAttempt(in_.pods, attempt); }

  // The record of `attempt`, added when its Job is known only from the cache
  // (created just before a restart, or the status write was lost).
  void EnsureRecord(int attempt) {
    if (!plan_.attempts.empty() && plan_.attempts.back().attempt >= attempt) return;
    api::AttemptStatus record;
    record.attempt = attempt;
    record.job = ChildJobName(in_.owner, attempt);
    record.phase = std::string(lifecycle::PhaseName(Phase::kPending));
    if (const nlohmann::json* job = JobOf(attempt)) {
      record.start_time = api::ParseRfc3339((*job)["metadata"].value("creationTimestamp", ""));
    }
    if (!record.start_time.has_value()) record.start_time = in_.now;
    plan_.attempts.push_back(std::move(record));
  }

  // A restart between creating attempt n+1 and writing the status leaves
  // attempt n's record open; its outcome is still on its Job and pods, so
  // record it now rather than lose it.
  void SettleEarlierAttempt(int current) {
    if (plan_.attempts.empty()) return;
    api::AttemptStatus& record = plan_.attempts.back();
    if (record.attempt >= current || lifecycle::IsTerminal(ParsedPhase(record))) return;
    Outcome outcome = Observe(record, PodsOf(record.attempt));
    if (!outcome.ended()) return;
    Close(record, outcome);
  }

  Outcome Observe(const api::AttemptStatus& record, std::vector<nlohmann::json> pods) const {
    const nlohmann::json* job = JobOf(record.attempt);
    lifecycle::Observation observation;
    observation.job = job != nullptr ? *job : nlohmann::json();
    observation.pods = std::move(pods);
    observation.main_container = in_.main_container;
    observation.cancel_requested = in_.cancel;
    observation.image_pull_grace = in_.image_pull_grace;
    observation.waiting_since = record.waiting_since;
    observation.node_lost_timeout = in_.node_lost_timeout;
    observation.now = in_.now;
    return lifecycle::Classify(observation);
  }

  void Close(api::AttemptStatus& record, const Outcome& outcome) const {
    record.phase = std::string(lifecycle::PhaseName(outcome.phase));
    record.termination_reason = outcome.phase == Phase::kSucceeded ? "Completed" : outcome.reason;
    if (outcome.exit_code.has_value()) record.exit_code = *outcome.exit_code;
    record.message = outcome.message;
    record.completion_time = outcome.finished_at.value_or(in_.now);
    if (outcome.memory_limit.has_value()) record.memory_limit = outcome.memory_limit->ToString();
  }

  void NothingStarted() {
    if (in_.cancel) {
      MoveTo(Phase::kCanceled);
      plan_.reason = lifecycle::reason::kCanceled;
      plan_.message = "canceled before any attempt started";
      return;
    }
    if (in_.may_start) {
      StartAttempt(1);
      plan_.message = lifecycle::kStartingMessage;
    }
  }

  // Creates attempt `n` and records it at once, so the record and the Job
  // appear together and a lagging cache is verified, not trusted.
  void StartAttempt(int n) {
    plan_.create_attempt = n;
    api::AttemptStatus record;
    record.attempt = n;
    record.job = ChildJobName(in_.owner, n);
    record.phase = std::string(lifecycle::PhaseName(Phase::kPending));
    record.start_time = in_.now;
    plan_.attempts.push_back(std::move(record));
  }

  void ObserveLiveAttempt(int current) {
    api::AttemptStatus& record = plan_.attempts.back();
    const nlohmann::json* job = JobOf(current);
    if (job == nullptr && PodsOf(current).empty()) {
      // The pod may have said how it ended just before it was removed.
      std::vector<nlohmann::json> deleted = OfAttempt(in_.deleted_pods, current);
      if (!deleted.empty()) {
        Outcome last = Observe(record, std::move(deleted));
        if (last.ended()) {
          EndAttempt(current, last);
          return;
        }
      }
      if (!in_.jobs_gone.contains(record.job)) {
        plan_.verify_job = record.job;
        return;
      }
      Outcome gone;
      if (in_.cancel) {
        gone.phase = Phase::kCanceled;
        gone.reason = lifecycle::reason::kCanceled;
        gone.message = "canceled";
      } else {
        gone.phase = Phase::kKilled;
        gone.reason = lifecycle::reason::kPodDeleted;
        gone.message = absl::StrCat("the attempt's Job ", record.job,
                                    " was deleted by someone else before it finished");
        gone.retryable = true;
      }
      EndAttempt(current, gone);
      return;
    }

    // With no live pod, the final states of its removed pods say how it ended:
    // an evicted pod is gone by the time the job controller marks the Job
    // Failed (seen on the real node, where it read as PodDeleted).
    std::vector<nlohmann::json> pods = PodsOf(current);
    const bool pod_deleting = AnyDeleting(pods);
    if (pods.empty()) pods = OfAttempt(in_.deleted_pods, current);
    Outcome outcome = Observe(record, std::move(pods));
    if (outcome.memory_limit.has_value()) record.memory_limit = outcome.memory_limit->ToString();
    record.waiting_since = outcome.waiting_since;
    // A pod is asked to stop only once Canceling is stored: a
    // controller that dies between the Job's delete and that write would
    // otherwise come back to a pod that ended 143 for no recorded reason.
    const bool canceling_unstored =
        !outcome.ended() && !outcome.look_again_at.has_value() && in_.phase != Phase::kCanceling;
    const bool success_stands =
        outcome.ended() && outcome.phase == Phase::kSucceeded && SuccessStands();
    if (in_.cancel && job != nullptr && !(*job)["metadata"].contains("deletionTimestamp") &&
        !canceling_unstored && !success_stands) {
      plan_.delete_jobs.push_back(record.job);
    }
    if (outcome.ended()) {
      EndAttempt(current, outcome);
      return;
    }

    if (in_.cancel && outcome.look_again_at.has_value()) {
      // The Job ended by its pod, not seen yet: nothing is left to stop.
      plan_.message = outcome.message;
      plan_.wake_at = *outcome.look_again_at;
      return;
    }
    if (in_.cancel) {
      // Even an attempt whose pod looks pending goes through Canceling: its
      // pod (weir's finalizer keeps it until its end is stored) says whether
      // it started, which a lagging cache cannot.
      MoveTo(Phase::kCanceling);
      plan_.reason = lifecycle::reason::kCanceled;
      plan_.message = "canceling: the attempt's pods are asked to stop";
      // A pod on a lost node never confirms it stopped: look again, so the
      // node-lost timeout can end it.
      plan_.wake_at = in_.now + kRecheckWaiting;
      return;
    }

    switch (outcome.phase) {
      case Phase::kRunning:
        MoveTo(Phase::kRunning);
        break;
      case Phase::kUnknown:
        MoveTo(Phase::kUnknown);
        break;
      default:
        break;  // still Pending (or Retrying): nothing to move
    }
    plan_.reason = outcome.reason;
    plan_.message = outcome.message;
    // Waiting reasons end with a grace, a silent node or a pod that does not
    // stop with the node-lost timeout: no event may come before either, so
    // look again.
    if (!outcome.reason.empty() || outcome.phase == Phase::kUnknown || pod_deleting) {
      plan_.wake_at = in_.now + kRecheckWaiting;
    }
    if (outcome.look_again_at.has_value()) {
      plan_.wake_at =
          std::min(plan_.wake_at.value_or(absl::InfiniteFuture()), *outcome.look_again_at);
    }
  }

  static bool AnyDeleting(const std::vector<nlohmann::json>& pods) {
    for (const nlohmann::json& pod : pods) {
      if (pod.value("metadata", nlohmann::json::object()).contains("deletionTimestamp"))
        return true;
    }
    return false;
  }

  // True while `pod` holds its node: not in a terminal phase, and some
  // container has not terminated (a sidecar still running, or containers that
  // never started). A pod whose containers have all terminated is done even
  // if its phase still says Running: a real kubelet writes the containers'
  // end before the pod's phase.
  static bool HoldsItsNode(const nlohmann::json& pod) {
    auto status = pod.find("status");
    if (status == pod.end() || !status->is_object()) return true;
    const std::string phase = status->value("phase", "");
    if (phase == "Succeeded" || phase == "Failed") return false;
    bool any = false;
    for (const char* list : {"initContainerStatuses", "containerStatuses"}) {
      auto statuses = status->find(list);
      if (statuses == status->end() || !statuses->is_array()) continue;
      for (const nlohmann::json& c : *statuses) {
        any = true;
        const nlohmann::json* state = c.is_object() && c.contains("state") ? &c["state"] : nullptr;
        if (state == nullptr || !state->is_object() || !state->contains("terminated")) return true;
      }
    }
    return !any;
  }

  // An ended attempt whose pod has not ended (a sidecar still running after
  // the main container ended, or a pod that never started) holds its node's
  // resources, and its Job never completes by itself: delete the Job now
  // rather than at the idle timeout. Pods that ended stay until then, for
  // `kubectl logs`.
  void DeleteJobsOfEndedAttemptsStillRunning() {
    for (const api::AttemptStatus& record : plan_.attempts) {
      if (!lifecycle::IsTerminal(ParsedPhase(record))) continue;
      const nlohmann::json* job = JobOf(record.attempt);
      if (job == nullptr || (*job)["metadata"].contains("deletionTimestamp")) continue;
      const std::vector<nlohmann::json> pods = PodsOf(record.attempt);
      const bool running = std::any_of(pods.begin(), pods.end(), HoldsItsNode);
      if (running && std::find(plan_.delete_jobs.begin(), plan_.delete_jobs.end(), record.job) ==
                         plan_.delete_jobs.end()) {
        plan_.delete_jobs.push_back(record.job);
      }
    }
  }

  // Whether a success of the current attempt stands. Once Canceling is
  // stored the unit ends Canceled, however the attempt ends. Against a stop
  // pending but not yet stored, finished work stands if the attempt's record
  // was stored. An attempt with no stored record may have had its Job
  // created in the window between the live check of the owner and the
  // create, after a stop was stored (design §4.2): its record's write then
  // failed on the stop's newer resourceVersion. The stop wins over such an
  // attempt whatever its pod did: its Job is deleted, its record keeps the
  // pod's end, and the unit ends Canceled.
  bool SuccessStands() const {
    return in_.phase != Phase::kCanceling && (!in_.cancel || plan_.current_recorded);
  }

  void EndAttempt(int current, const Outcome& outcome) {
    Close(plan_.attempts.back(), outcome);
    AfterAttemptEnded(current);
  }

  void AfterAttemptEnded(int current) {
    const api::AttemptStatus& record = plan_.attempts.back();
    const Outcome last = OutcomeOfRecord(record);
    plan_.reason = record.termination_reason;
    plan_.exit_code = record.exit_code;
    plan_.message = record.message;

    if (last.phase == Phase::kSucceeded && SuccessStands()) {
      MoveTo(Phase::kSucceeded);
      return;
    }
    if (last.phase == Phase::kCanceled || in_.cancel || plan_.phase == Phase::kCanceling) {
      MoveTo(Phase::kCanceled);
      if (last.phase != Phase::kCanceled) {
        plan_.message = absl::StrCat("canceled; the last attempt ended ", record.phase,
                                     record.message.empty() ? "" : ": ", record.message);
      }
      plan_.reason = lifecycle::reason::kCanceled;
      return;
    }

    std::vector<Outcome> outcomes;
    outcomes.reserve(plan_.attempts.size());
    for (const api::AttemptStatus& a : plan_.attempts) outcomes.push_back(OutcomeOfRecord(a));
    absl::StatusOr<lifecycle::RetryDecision> decision = lifecycle::DecideRetry(in_.retry, outcomes);
    if (!decision.ok() || !decision->retry) {
      MoveTo(last.phase);
      const std::string why =
          decision.ok() ? decision->message : std::string(decision.status().message());
      if (!why.empty()) plan_.message = absl::StrCat(record.message, " (", why, ")");
      return;
    }
    MoveTo(Phase::kRetrying);
    plan_.message = absl::StrCat("attempt ", current, " ended ", record.phase, ": ", record.message,
                                 "; ", decision->message);
    const absl::Time retry_at = record.completion_time.value_or(in_.now) + decision->backoff;
    if (in_.now < retry_at || !in_.may_start) {
      plan_.wake_at = retry_at;
      return;
    }
    const int previous = current;
    const std::string previous_memory = record.memory_limit;
    StartAttempt(current + 1);
    if (decision->memory_limit.has_value()) {
      plan_.memory.limit = decision->memory_limit;
      plan_.memory.request = decision->memory_request;
    } else if (const nlohmann::json* job = JobOf(previous)) {
      // Keep the previous attempt's memory (an earlier raise stays).
      const nlohmann::json* main = FindMainContainer(*job, in_.main_container);
      plan_.memory.limit = MemoryOf(main, "limits");
      plan_.memory.request = MemoryOf(main, "requests");
    } else if (!previous_memory.empty()) {
      absl::StatusOr<api::Quantity> q = api::Quantity::Parse(previous_memory);
      if (q.ok()) plan_.memory.limit = *q;
    }
  }

  const AttemptsInput& in_;
  AttemptsPlan plan_;
};

}  // namespace

AttemptsPlan PlanAttempts(const AttemptsInput& input) { return Planner(input).Run(); }

void DeferDeletesUntilRecorded(const std::vector<api::AttemptStatus>& stored,
                               const std::vector<api::AttemptStatus>& planned,
                               std::vector<std::string>& delete_jobs) {
  auto records = [](const std::vector<api::AttemptStatus>& attempts, const std::string& job) {
    return std::any_of(attempts.begin(), attempts.end(),
                       [&](const api::AttemptStatus& a) { return a.job == job; });
  };
  std::erase_if(delete_jobs, [&](const std::string& job) {
    return records(planned, job) && !records(stored, job);
  });
}

Outcome OutcomeOfRecord(const api::AttemptStatus& record) {
  Outcome o;
  absl::StatusOr<Phase> phase = lifecycle::ParsePhase(record.phase);
  o.phase = phase.ok() ? *phase : Phase::kPending;
  o.reason = record.termination_reason;
  if (record.exit_code.has_value()) o.exit_code = *record.exit_code;
  o.message = record.message;
  if (!record.memory_limit.empty()) {
    absl::StatusOr<api::Quantity> q = api::Quantity::Parse(record.memory_limit);
    if (q.ok()) o.memory_limit = *q;
  }
  const lifecycle::RetryTraits traits = lifecycle::RetryTraitsOf(o.phase, o.reason);
  o.retryable = traits.retryable;
  o.counts_against_limit = traits.counts_against_limit;
  return o;
}

std::vector<PodRelease> PodsToRelease(const std::vector<const nlohmann::json*>& pods,
                                      const std::vector<api::AttemptStatus>& stored,
                                      const std::vector<const nlohmann::json*>& jobs) {
  std::vector<PodRelease> out;
  for (const nlohmann::json* pod : pods) {
    const nlohmann::json& meta = pod->value("metadata", nlohmann::json::object());
    if (!meta.is_object() || !meta.contains("deletionTimestamp")) continue;
    const nlohmann::json& finalizers = meta.value("finalizers", nlohmann::json::array());
    if (!finalizers.is_array()) continue;
    const auto at = std::find(finalizers.begin(), finalizers.end(), kPodFinalizer);
    if (at == finalizers.end()) continue;
    const std::optional<int> attempt = AttemptOf(*pod);
    bool release = false;
    if (attempt.has_value()) {
      const auto record = std::find_if(stored.begin(), stored.end(),
                                       [&](const auto& r) { return r.attempt == *attempt; });
      if (record != stored.end()) {
        release = lifecycle::IsTerminal(ParsedPhase(*record));
      } else {
        release = std::none_of(jobs.begin(), jobs.end(),
                               [&](const nlohmann::json* j) { return AttemptOf(*j) == attempt; });
      }
    } else {
      release = true;  // not an attempt's pod: weir has nothing to record
    }
    if (release) {
      out.push_back({meta.value("name", ""), static_cast<int>(at - finalizers.begin())});
    }
  }
  return out;
}

lifecycle::RetrySpec ToPolicy(const api::RetrySpec& spec) {
  lifecycle::RetrySpec policy;
  policy.limit = spec.limit;
  policy.backoff = absl::Seconds(spec.backoff_seconds);
  if (spec.on_oom.has_value()) {
    lifecycle::OOMRetrySpec oom;
    oom.memory_factor = spec.on_oom->memory_factor;
    oom.max_memory = spec.on_oom->max_memory;
    policy.on_oom = oom;
  }
  policy.on_reasons = spec.on_reasons;
  return policy;
}

}  // namespace weir::reconcile
