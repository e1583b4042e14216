#include "lifecycle/classifier.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "api/meta.h"

namespace weir::lifecycle {
namespace {

// A main container reads as starting until it has run this long, so that a
// pod that ends within it costs no status write for Running (most Batches
// and steps of a busy controller end within a second). startedAt has 1 s
// resolution: the owner shows Running 1-2 s after the container started.
constexpr absl::Duration kRunningReportDelay = absl::Seconds(2);

}  // namespace

namespace internal {

using json = nlohmann::json;

// Termination messages can be long (a stack trace); keep the head.
constexpr size_t kMaxQuotedMessage = 512;

const json& Null() {
  static const json* null = new json();
  return *null;
}

// j[key], or null if j is not an object or lacks it.
const json& Field(const json& j, absl::string_view key) {
  if (!j.is_object()) return Null();
  auto it = j.find(std::string(key));
  return it == j.end() ? Null() : *it;
}

std::string Str(const json& j, absl::string_view key) {
  const json& v = Field(j, key);
  return v.is_string() ? v.get<std::string>() : std::string();
}

std::optional<int64_t> Int(const json& j, absl::string_view key) {
  const json& v = Field(j, key);
  if (v.is_number_integer()) return v.get<int64_t>();
  return std::nullopt;
}

std::optional<absl::Time> Time(const json& j, absl::string_view key) {
  return api::ParseRfc3339(Str(j, key));
}

// The element of array `arr` whose "name" is `name`.
const json* FindByName(const json& arr, absl::string_view name) {
  if (!arr.is_array()) return nullptr;
  for (const json& e : arr) {
    if (Str(e, "name") == name) return &e;
  }
  return nullptr;
}

// The condition of `type` in status.conditions with status "True".
const json* TrueCondition(const json& status, absl::string_view type) {
  const json& conds = Field(status, "conditions");
  if (!conds.is_array()) return nullptr;
  for (const json& c : conds) {
    if (Str(c, "type") == type && Str(c, "status") == "True") return &c;
  }
  return nullptr;
}

std::string Quote(absl::string_view s) {
  if (s.size() <= kMaxQuotedMessage) return std::string(s);
  return absl::StrCat(s.substr(0, kMaxQuotedMessage), "...");
}

std::optional<api::Quantity> Memory(const json& container_spec, absl::string_view which) {
  const json& v = Field(Field(Field(container_spec, "resources"), which), "memory");
  if (v.is_string()) {
    absl::StatusOr<api::Quantity> q = api::Quantity::Parse(v.get<std::string>());
    if (q.ok()) return *q;
  } else if (v.is_number_integer()) {
    return api::Quantity::FromUnits(v.get<int64_t>());
  }
  return std::nullopt;
}

bool IsImageOrConfigError(absl::string_view r) {
  return r == reason::kErrImagePull || r == reason::kImagePullBackOff ||
         r == reason::kInvalidImageName || r == reason::kErrImageNeverPull ||
         r == reason::kCreateContainerConfigError || r == reason::kCreateContainerError;
}

// When the Job's activeDeadlineSeconds runs out: status.startTime plus it, or
// creationTimestamp plus it while a lagging cache has no startTime yet (the
// job controller sets it at its first look, within moments of the creation).
std::optional<absl::Time> JobDeadline(const json& job) {
  const std::optional<int64_t> seconds = Int(Field(job, "spec"), "activeDeadlineSeconds");
  std::optional<absl::Time> start = Time(Field(job, "status"), "startTime");
  if (!start.has_value()) start = Time(Field(job, "metadata"), "creationTimestamp");
  if (!seconds.has_value() || !start.has_value()) return std::nullopt;
  return *start + absl::Seconds(*seconds);
}

// `base` turned into the end of an attempt whose Job ran past its
// activeDeadlineSeconds; `detail` says how weir knows.
Outcome DeadlineExceeded(Outcome base, absl::string_view detail) {
  base.phase = Phase::kFailed;
  base.reason = reason::kDeadlineExceeded;
  base.exit_code.reset();
  base.retryable = false;
  base.counts_against_limit = false;
  base.message = absl::StrCat("the Job ran longer than its activeDeadlineSeconds", detail);
  return base;
}

// A pod under evaluation, with the fields every rule reads.
struct Pod {
  const json& obj;
  const json& spec;
  const json& status;
  std::string name;
  std::string phase;  // status.phase
  std::optional<absl::Time> deletion;
  std::optional<int64_t> deletion_grace_seconds;

  explicit Pod(const json& o)
      : obj(o),
        spec(Field(o, "spec")),
        status(Field(o, "status")),
        name(Str(Field(o, "metadata"), "name")),
        phase(Str(Field(o, "status"), "phase")),
        deletion(Time(Field(o, "metadata"), "deletionTimestamp")),
        deletion_grace_seconds(Int(Field(o, "metadata"), "deletionGracePeriodSeconds")) {}

  bool terminal() const { return phase == "Failed" || phase == "Succeeded"; }

  // When the delete was requested: deletionTimestamp minus the grace period.
  std::optional<absl::Time> delete_requested() const {
    if (!deletion.has_value()) return std::nullopt;
    return *deletion - absl::Seconds(deletion_grace_seconds.value_or(0));
  }
};

// The container status and spec of one container of a pod.
struct Container {
  std::string name;
  const json* spec = nullptr;
  const json* status = nullptr;

  const json& state() const { return status ? Field(*status, "state") : Null(); }
  const json& terminated() const { return Field(state(), "terminated"); }
  const json& waiting() const { return Field(state(), "waiting"); }
  const json& running() const { return Field(state(), "running"); }
  bool is_terminated() const { return terminated().is_object(); }
  bool is_running() const { return running().is_object(); }
};

// A disruption of the pod: the Killed reason and a message.
struct Disruption {
  std::string reason;
  std::string message;
};

std::optional<Disruption> FindDisruption(const Pod& pod) {
  if (const json* c = TrueCondition(pod.status, "DisruptionTarget")) {
    const std::string why = Str(*c, "reason");
    const std::string msg = Str(*c, "message");
    std::string r(reason::kEvicted);
    std::string what = "evicted";
    if (why == "PreemptionByScheduler" || why == "PreemptionByKubeScheduler") {
      r = reason::kPreempted;
      what = "preempted by the scheduler to make room for a higher-priority pod";
    } else if (why == "DeletionByTaintManager") {
      r = reason::kNodeLost;
      what = "deleted because its node was tainted NoExecute (node not ready or unreachable)";
    } else if (why == "DeletionByPodGC") {
      r = reason::kNodeLost;
      what = "deleted because its node no longer exists";
    } else if (why == "EvictionByEvictionAPI") {
      what = "evicted through the Eviction API (e.g. a node drain)";
    } else if (why == "TerminationByKubelet") {
      what = "terminated by the kubelet (node pressure or node shutdown)";
    }
    std::string message = absl::StrCat("pod ", pod.name, " was ", what);
    if (!why.empty()) absl::StrAppend(&message, " (", why, ")");
    if (!msg.empty()) absl::StrAppend(&message, ": ", Quote(msg));
    return Disruption{r, message};
  }
  const std::string pod_reason = Str(pod.status, "reason");
  const std::string pod_message = Str(pod.status, "message");
  std::string r;
  if (pod_reason == "Evicted" || pod_reason == "Terminated" || pod_reason == "Shutdown") {
    r = reason::kEvicted;
  } else if (pod_reason == "Preempting") {
    r = reason::kPreempted;
  } else if (pod_reason == "NodeLost") {
    r = reason::kNodeLost;
  } else {
    return std::nullopt;
  }
  std::string message =
      absl::StrCat("pod ", pod.name, " was stopped by the node (", pod_reason, ")");
  if (!pod_message.empty()) absl::StrAppend(&message, ": ", Quote(pod_message));
  return Disruption{r, message};
}

class PodClassifier {
 public:
  PodClassifier(const Observation& obs, const json& pod_obj) : obs_(obs), pod_(pod_obj) {}

  Outcome Run() {
    const json& containers = Field(pod_.spec, "containers");
    const json& statuses = Field(pod_.status, "containerStatuses");
    main_.name = obs_.main_container;
    if (main_.name.empty()) {
      if (containers.is_array() && !containers.empty()) {
        main_.name = Str(containers[0], "name");
      } else if (statuses.is_array() && !statuses.empty()) {
        main_.name = Str(statuses[0], "name");
      }
    }
    main_.spec = FindByName(containers, main_.name);
    main_.status = FindByName(statuses, main_.name);
    if (main_.spec == nullptr && containers.is_array() && !containers.empty()) {
      std::vector<std::string> names;
      for (const json& c : containers) names.push_back(Str(c, "name"));
      Outcome o = Base(main_);
      o.phase = Phase::kFailed;
      o.reason = reason::kMainContainerNotFound;
      o.message = absl::StrCat("pod ", pod_.name, " has no container \"", main_.name,
                               "\" (it has: ", absl::StrJoin(names, ", "),
                               "); set mainContainer to one of them");
      return o;
    }

    if (main_.is_terminated()) return MainTerminated();
    return MainNotTerminated();
  }

 private:
  // The fields every outcome of container `c` carries.
  Outcome Base(const Container& c) const {
    Outcome o;
    o.pod = pod_.name;
    o.container = c.name;
    if (c.spec != nullptr) {
      o.memory_limit = Memory(*c.spec, "limits");
      o.memory_request = Memory(*c.spec, "requests");
    }
    const json& t = c.terminated();
    o.started_at = Time(t.is_object() ? t : c.running(), "startedAt");
    o.finished_at = Time(t, "finishedAt");
    return o;
  }

  Outcome OOMKilled(const Container& c, absl::string_view kind) const {
    Outcome o = Base(c);
    o.phase = Phase::kKilled;
    o.reason = reason::kOOMKilled;
    o.exit_code = Int(c.terminated(), "exitCode");
    o.retryable = true;
    o.counts_against_limit = true;
    const std::string code = o.exit_code ? absl::StrCat(" (exit code ", *o.exit_code, ")") : "";
    if (o.memory_limit.has_value()) {
      o.message =
          absl::StrCat(kind, " \"", c.name, "\" was OOMKilled", code,
                       ": it needed more than its memory limit of ", o.memory_limit->ToString(),
                       "; raise resources.limits.memory, or set retry.onOOM");
    } else {
      o.message = absl::StrCat(kind, " \"", c.name, "\" was OOMKilled", code,
                               " with no memory limit set (its node ran out of memory)",
                               "; set resources.limits.memory, or set retry.onOOM");
    }
    return o;
  }

  // A container that ended non-zero on its own: Failed/Error.
  Outcome Error(const Container& c, absl::string_view kind) const {
    Outcome o = Base(c);
    const json& t = c.terminated();
    o.phase = Phase::kFailed;
    o.reason = reason::kError;
    o.exit_code = Int(t, "exitCode");
    o.retryable = true;
    o.counts_against_limit = true;
    o.message = absl::StrCat(kind, " \"", c.name, "\" ");
    if (o.exit_code.has_value()) {
      absl::StrAppend(&o.message, "exited with code ", *o.exit_code);
    } else {
      absl::StrAppend(&o.message, "terminated without an exit code");
    }
    const std::string kubelet_reason = Str(t, "reason");
    if (!kubelet_reason.empty() && kubelet_reason != "Error") {
      absl::StrAppend(&o.message, " (", kubelet_reason, ")");
    }
    const std::string msg = Str(t, "message");
    if (!msg.empty()) absl::StrAppend(&o.message, ": ", Quote(msg));
    return o;
  }

  Outcome Killed(const Container& c, absl::string_view why, std::string message) const {
    Outcome o = Base(c);
    o.phase = Phase::kKilled;
    o.reason = std::string(why);
    o.exit_code = Int(c.terminated(), "exitCode");
    o.retryable = true;
    o.counts_against_limit = false;
    o.message = std::move(message);
    return o;
  }

  Outcome Canceled(const Container& c, std::string message) const {
    Outcome o = Base(c);
    o.phase = Phase::kCanceled;
    o.reason = reason::kCanceled;
    o.exit_code = Int(c.terminated(), "exitCode");
    o.message = std::move(message);
    return o;
  }

  Outcome StillGoing(Phase phase, std::string why, std::string message) const {
    Outcome o = Base(main_);
    o.phase = phase;
    o.reason = std::move(why);
    o.message = std::move(message);
    return o;
  }

  std::string PodDeletedMessage() const {
    return absl::StrCat("pod ", pod_.name,
                        " was deleted by someone other than weir before its main container "
                        "finished");
  }

  // Rule 2.
  Outcome MainTerminated() const {
    const json& t = main_.terminated();
    const std::optional<int64_t> exit_code = Int(t, "exitCode");
    // OOMKilled wins over the exit code (docs/design.md §4: "any exit code"): the
    // kubelet reports it when the kernel killed a process of the container.
    if (Str(t, "reason") == reason::kOOMKilled) return OOMKilled(main_, "container");
    if (exit_code == 0) {
      Outcome o = Base(main_);
      o.phase = Phase::kSucceeded;
      o.exit_code = 0;
      o.message = absl::StrCat("container \"", main_.name, "\" completed");
      return o;
    }
    const bool stop_signal = exit_code == 130 || exit_code == 137 || exit_code == 143;
    if (obs_.cancel_requested && stop_signal) {
      return Canceled(main_, absl::StrCat("container \"", main_.name, "\" stopped with exit code ",
                                          *exit_code, " after weir asked it to cancel"));
    }
    if (std::optional<Disruption> d = FindDisruption(pod_)) {
      return Killed(main_, d->reason, d->message);
    }
    if (pod_.deletion.has_value() && !obs_.cancel_requested) {
      if (DeletedAtJobDeadline()) return DeadlineExceededByDelete();
      // Killed by the delete, unless it had ended before the delete came. A
      // grace of 0 is the final removal once the containers stopped (the
      // kubelet's, or kwok's): it replaced the first request's time, so only
      // a stop-signal exit says the delete stopped the container.
      const std::optional<absl::Time> finished = Time(t, "finishedAt");
      const std::optional<absl::Time> requested = pod_.delete_requested();
      const bool killed = pod_.deletion_grace_seconds.value_or(0) > 0
                              ? !finished.has_value() || *finished >= *requested
                              : stop_signal;
      if (killed) {
        return Killed(main_, reason::kPodDeleted,
                      absl::StrCat(PodDeletedMessage(), " (it stopped with exit code ",
                                   exit_code.value_or(-1), ")"));
      }
    }
    return Error(main_, "container");
  }

  // Rules 3 to 9.
  Outcome MainNotTerminated() const {
    const bool main_running = main_.is_running() && !pod_.terminal();

    if (obs_.cancel_requested) {
      if (!main_running) {
        // Only a pod that can no longer run shows how the cancel ended: one
        // that looks pending in a lagging cache may be running by now.
        if (!pod_.terminal() && !pod_.deletion.has_value()) {
          return StillGoing(Phase::kPending, "",
                            absl::StrCat("stopping: weir asked pod ", pod_.name, " to go"));
        }
        return Canceled(main_, absl::StrCat("canceled before container \"", main_.name, "\" ",
                                            main_.is_running() ? "finished" : "started"));
      }
      if (StuckTerminating()) {
        return Canceled(
            main_, absl::StrCat("canceled; pod ", pod_.name, " did not confirm it stopped within ",
                                absl::FormatDuration(obs_.node_lost_timeout),
                                " (its node is not answering)"));
      }
      return StillGoing(
          Phase::kRunning, "",
          absl::StrCat("stopping: weir asked container \"", main_.name, "\" to cancel"));
    }

    if (std::optional<Outcome> init = FailedInitContainer()) return *init;

    if (std::optional<Disruption> d = FindDisruption(pod_)) {
      if (!main_running) return Killed(main_, d->reason, d->message);
      if (StuckTerminating()) {
        return Killed(main_, reason::kNodeLost,
                      absl::StrCat(d->message, "; the pod did not stop within ",
                                   absl::FormatDuration(obs_.node_lost_timeout),
                                   " (its node is not answering)"));
      }
      return StillGoing(Phase::kRunning, "", absl::StrCat("being stopped: ", d->message));
    }

    if (pod_.phase == "Failed") {
      const std::string pod_reason = Str(pod_.status, "reason");
      const std::string pod_message = Str(pod_.status, "message");
      Outcome o = Base(main_);
      o.phase = Phase::kFailed;
      if (pod_reason == reason::kDeadlineExceeded) {
        o.reason = reason::kDeadlineExceeded;
        o.message = absl::StrCat("pod ", pod_.name, " exceeded its activeDeadlineSeconds");
      } else {
        o.reason = pod_reason.empty() ? std::string(reason::kError) : pod_reason;
        o.retryable = true;
        o.counts_against_limit = true;
        o.message = absl::StrCat("pod ", pod_.name, " failed before container \"", main_.name,
                                 "\" finished");
        if (!pod_reason.empty()) absl::StrAppend(&o.message, " (", pod_reason, ")");
      }
      if (!pod_message.empty()) absl::StrAppend(&o.message, ": ", Quote(pod_message));
      return o;
    }
    if (pod_.phase == "Succeeded") {
      Outcome o = Base(main_);
      o.phase = Phase::kSucceeded;
      o.message = absl::StrCat("pod ", pod_.name, " succeeded");
      return o;
    }

    if (pod_.deletion.has_value()) {
      if (!main_running && DeletedAtJobDeadline()) return DeadlineExceededByDelete();
      if (!main_running) return Killed(main_, reason::kPodDeleted, PodDeletedMessage());
      if (StuckTerminating()) {
        return Killed(main_, reason::kNodeLost,
                      absl::StrCat(PodDeletedMessage(), "; it did not stop within ",
                                   absl::FormatDuration(obs_.node_lost_timeout),
                                   " after its deletion deadline (its node is not answering)"));
      }
      return StillGoing(
          Phase::kRunning, "",
          absl::StrCat("pod ", pod_.name, " is being deleted by someone other than weir"));
    }

    if (pod_.phase == "Unknown") {
      const absl::Time since = UnknownSince();
      const absl::Duration lasted = obs_.now - since;
      if (lasted >= obs_.node_lost_timeout) {
        return Killed(
            main_, reason::kNodeLost,
            absl::StrCat("the node of pod ", pod_.name, " stopped reporting: pod status ",
                         "Unknown for ", absl::FormatDuration(lasted), " (node-lost timeout ",
                         absl::FormatDuration(obs_.node_lost_timeout), ")"));
      }
      Outcome o = StillGoing(
          Phase::kUnknown, "",
          absl::StrCat("the node of pod ", pod_.name, " stopped reporting; waiting up to ",
                       absl::FormatDuration(obs_.node_lost_timeout)));
      o.retryable = false;
      return o;
    }

    if (std::optional<Outcome> o = ImageOrConfigError()) return *o;

    if (main_running) {
      Outcome o = StillGoing(Phase::kRunning, "",
                             absl::StrCat("container \"", main_.name, "\" is running"));
      // Still starting (a startedAt ahead of this clock, skew, is not waited for).
      const std::optional<absl::Time> since = o.started_at;
      if (since.has_value() && obs_.now >= *since && obs_.now < *since + kRunningReportDelay) {
        o.phase = Phase::kPending;
        o.message = kStartingMessage;
        o.look_again_at = *since + kRunningReportDelay;
      }
      return o;
    }

    const json& conds = Field(pod_.status, "conditions");
    if (conds.is_array()) {
      for (const json& c : conds) {
        if (Str(c, "type") == "PodScheduled" && Str(c, "status") == "False" &&
            Str(c, "reason") == reason::kUnschedulable) {
          std::string msg = absl::StrCat("pod ", pod_.name, " cannot be scheduled");
          const std::string sched = Str(c, "message");
          if (!sched.empty()) absl::StrAppend(&msg, ": ", Quote(sched));
          return StillGoing(Phase::kPending, std::string(reason::kUnschedulable), msg);
        }
      }
    }
    return StillGoing(Phase::kPending, "", std::string(kStartingMessage));
  }

  // True if the pod's delete came once its Job's activeDeadlineSeconds had run
  // out: the job controller deletes the pods first and marks the Job Failed
  // after, so a cache may show the deleted pod before the Job's condition (seen
  // on the real node, where it was taken for a disruption and retried).
  bool DeletedAtJobDeadline() const {
    const std::optional<absl::Time> requested = pod_.delete_requested();
    const std::optional<absl::Time> deadline = JobDeadline(obs_.job);
    return requested.has_value() && deadline.has_value() && *requested >= *deadline;
  }

  Outcome DeadlineExceededByDelete() const {
    return DeadlineExceeded(Base(main_), absl::StrCat("; its pod ", pod_.name,
                                                      " was deleted when the deadline ran out"));
  }

  // True once a pod that should be stopping has outlived its deletion
  // deadline by node_lost_timeout.
  bool StuckTerminating() const {
    return pod_.deletion.has_value() && obs_.now >= *pod_.deletion + obs_.node_lost_timeout;
  }

  // Rule 7's clock: the latest condition change, else start, else creation.
  absl::Time UnknownSince() const {
    std::optional<absl::Time> latest;
    const json& conds = Field(pod_.status, "conditions");
    if (conds.is_array()) {
      for (const json& c : conds) {
        std::optional<absl::Time> t = Time(c, "lastTransitionTime");
        if (t.has_value() && (!latest.has_value() || *t > *latest)) latest = t;
      }
    }
    if (!latest.has_value()) latest = Time(pod_.status, "startTime");
    if (!latest.has_value()) latest = Time(Field(pod_.obj, "metadata"), "creationTimestamp");
    return latest.value_or(obs_.now);
  }

  // Init containers that are not native sidecars (restartPolicy Always).
  std::vector<Container> InitContainers() const {
    std::vector<Container> out;
    const json& specs = Field(pod_.spec, "initContainers");
    const json& statuses = Field(pod_.status, "initContainerStatuses");
    if (!statuses.is_array()) return out;
    for (const json& s : statuses) {
      Container c;
      c.name = Str(s, "name");
      c.spec = FindByName(specs, c.name);
      c.status = &s;
      if (c.spec != nullptr && Str(*c.spec, "restartPolicy") == "Always") continue;
      out.push_back(c);
    }
    return out;
  }

  // Rule 4, init containers.
  std::optional<Outcome> FailedInitContainer() const {
    for (const Container& c : InitContainers()) {
      if (!c.is_terminated()) continue;
      const json& t = c.terminated();
      if (Int(t, "exitCode") == 0) continue;
      if (Str(t, "reason") == reason::kOOMKilled) return OOMKilled(c, "init container");
      return Error(c, "init container");
    }
    return std::nullopt;
  }

  // Rule 8.
  std::optional<Outcome> ImageOrConfigError() const {
    std::vector<Container> candidates = InitContainers();
    candidates.push_back(main_);
    for (const Container& c : candidates) {
      const json& w = c.waiting();
      const std::string why = Str(w, "reason");
      if (!IsImageOrConfigError(why)) continue;
      const absl::Time since = obs_.waiting_since.value_or(obs_.now);
      const absl::Duration lasted = obs_.now - since;
      const std::string kind = &c == &candidates.back() ? "container" : "init container";
      std::string what = absl::StrCat(kind, " \"", c.name, "\": ", why);
      const std::string kubelet_message = Str(w, "message");
      const std::string detail =
          kubelet_message.empty() ? "" : absl::StrCat(": ", Quote(kubelet_message));
      Outcome o = Base(c);
      o.reason = why;
      o.waiting_since = since;
      if (lasted >= obs_.image_pull_grace) {
        o.phase = Phase::kFailed;
        o.message = absl::StrCat(what, " for ", absl::FormatDuration(lasted),
                                 ", longer than the image-pull grace of ",
                                 absl::FormatDuration(obs_.image_pull_grace), detail);
      } else {
        // Times, not the time waited so far: the message (and so the
        // status) stays the same from one look to the next.
        o.phase = Phase::kPending;
        o.message = absl::StrCat(what, " since ", api::FormatRfc3339(since), " (fails after ",
                                 absl::FormatDuration(obs_.image_pull_grace), ", at ",
                                 api::FormatRfc3339(since + obs_.image_pull_grace), ")", detail);
      }
      return o;
    }
    return std::nullopt;
  }

  const Observation& obs_;
  Pod pod_;
  Container main_;
};

// Job condition Failed/FailureTarget with reason DeadlineExceeded.
const json* DeadlineExceededCondition(const json& job) {
  const json& status = Field(job, "status");
  for (const char* type : {"Failed", "FailureTarget"}) {
    const json* c = TrueCondition(status, type);
    if (c != nullptr && Str(*c, "reason") == reason::kDeadlineExceeded) return c;
  }
  return nullptr;
}

// When the Job ended because of its pod: condition Complete (or
// SuccessCriteriaMet), or Failed for a reason other than its deadline.
std::optional<absl::Time> EndedByItsPod(const json& job) {
  const json& status = Field(job, "status");
  for (const char* type : {"Complete", "SuccessCriteriaMet", "Failed"}) {
    const json* c = TrueCondition(status, type);
    if (c == nullptr) continue;
    if (Str(*c, "reason") == reason::kDeadlineExceeded) return std::nullopt;
    return Time(*c, "lastTransitionTime");
  }
  return std::nullopt;
}

bool JobComplete(const json& job) {
  const json& status = Field(job, "status");
  return TrueCondition(status, "Complete") != nullptr ||
         TrueCondition(status, "SuccessCriteriaMet") != nullptr;
}

// Pods in creation order (then by name, for a stable order).
std::vector<const json*> ByCreation(const std::vector<json>& pods) {
  std::vector<const json*> out;
  for (const json& p : pods) out.push_back(&p);
  std::stable_sort(out.begin(), out.end(), [](const json* a, const json* b) {
    const std::optional<absl::Time> ta = Time(Field(*a, "metadata"), "creationTimestamp");
    const std::optional<absl::Time> tb = Time(Field(*b, "metadata"), "creationTimestamp");
    const absl::Time xa = ta.value_or(absl::InfinitePast());
    const absl::Time xb = tb.value_or(absl::InfinitePast());
    if (xa != xb) return xa < xb;
    return Str(Field(*a, "metadata"), "name") < Str(Field(*b, "metadata"), "name");
  });
  return out;
}

}  // namespace internal

bool IsDisruption(absl::string_view r) {
  return r == reason::kEvicted || r == reason::kPreempted || r == reason::kNodeLost ||
         r == reason::kPodDeleted;
}

RetryTraits RetryTraitsOf(Phase phase, absl::string_view r) {
  if (phase != Phase::kFailed && phase != Phase::kKilled) return {};
  if (IsDisruption(r)) return {true, false};
  if (r == reason::kDeadlineExceeded || r == reason::kMainContainerNotFound ||
      internal::IsImageOrConfigError(r)) {
    return {};
  }
  return {true, true};
}

Outcome Classify(const Observation& obs) {
  using internal::Field;
  using internal::Str;

  std::optional<Outcome> decided;
  for (const nlohmann::json* pod : internal::ByCreation(obs.pods)) {
    Outcome o = internal::PodClassifier(obs, *pod).Run();
    const bool ended = o.ended();
    decided = std::move(o);
    if (ended) break;  // the first pod to end decides
  }

  if (const nlohmann::json* c = internal::DeadlineExceededCondition(obs.job)) {
    if (!decided.has_value() || decided->phase != Phase::kSucceeded) {
      const std::string msg = Str(*c, "message");
      return internal::DeadlineExceeded(
          decided.value_or(Outcome{}), msg.empty() ? "" : absl::StrCat(": ", internal::Quote(msg)));
    }
  }
  if (decided.has_value()) {
    if (decided->ended()) return *decided;
    if (std::optional<absl::Time> ended = internal::EndedByItsPod(obs.job);
        ended.has_value() && obs.now < *ended + kPodCatchUp) {
      // The cached pod is older than the Job: its end, with the exit code,
      // is on its way.
      decided->look_again_at = *ended + kPodCatchUp;
    } else if (internal::JobComplete(obs.job)) {
      decided->phase = Phase::kSucceeded;
      decided->reason.clear();
      decided->message = "the Job completed";
    }
    return *decided;
  }

  // No pods.
  Outcome o;
  const nlohmann::json& meta = Field(obs.job, "metadata");
  const std::string job_name = Str(meta, "name");
  if (std::optional<absl::Time> ended = internal::EndedByItsPod(obs.job);
      ended.has_value() && obs.now < *ended + kPodCatchUp) {
    // The pods' cache lags the Jobs' (two watches): concluding from the Job
    // alone would lose the pod's exit code for good.
    o.phase = Phase::kPending;
    o.message = absl::StrCat("Job ", job_name, " ended; waiting for its pod to be seen");
    o.look_again_at = *ended + kPodCatchUp;
    return o;
  }
  if (internal::JobComplete(obs.job)) {
    o.phase = Phase::kSucceeded;
    o.message = "the Job completed";
  } else if (obs.cancel_requested) {
    // A pod may exist that the cache has not shown yet: the attempt ends
    // once the Job is gone (with its pods) or a pod shows how it stopped.
    o.phase = Phase::kPending;
    o.message = absl::StrCat("stopping: weir asked Job ", job_name, " to go");
  } else if (internal::TrueCondition(Field(obs.job, "status"), "Failed") != nullptr ||
             !Str(meta, "deletionTimestamp").empty()) {
    o.phase = Phase::kKilled;
    o.reason = reason::kPodDeleted;
    o.retryable = true;
    o.message = absl::StrCat("the pod of Job ", job_name,
                             " is gone before weir saw it end; someone other than weir deleted it",
                             Str(meta, "deletionTimestamp").empty() ? "" : " (or the Job)");
  } else {
    o.phase = Phase::kPending;
    o.message = kStartingMessage;
  }
  return o;
}

}  // namespace weir::lifecycle
