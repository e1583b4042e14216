#include "test/oracle/history.h"

#include <algorithm>
#include <deque>
#include <initializer_list>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/json_path.h"

namespace weir::oracle {
namespace {

using nlohmann::json;

// docs/design.md §4.1, as data: the phases each phase may change to in one
// transition. Terminal phases change to nothing.
const std::map<std::string, std::set<std::string>>& TransitionTable() {
  static const auto* table = new std::map<std::string, std::set<std::string>>{
      {"Pending", {"Running", "Canceling", "Failed", "Killed", "Canceled", "Skipped"}},
      {"Running", {"Retrying", "Canceling", "Succeeded", "Failed", "Killed", "Unknown"}},
      {"Retrying", {"Running", "Canceling", "Failed", "Canceled"}},
      {"Canceling", {"Canceled"}},
      {"Unknown", {"Running", "Retrying", "Canceling", "Succeeded", "Failed", "Killed"}},
      {"Succeeded", {}},
      {"Failed", {}},
      {"Killed", {}},
      {"Canceled", {}},
      {"Skipped", {}},
  };
  return *table;
}

bool IsPhase(const std::string& phase) { return TransitionTable().contains(phase); }
bool IsTerminal(const std::string& phase) {
  return IsPhase(phase) && TransitionTable().at(phase).empty();
}

// Whether `to` follows `from` through one or more allowed transitions (one
// status write may cover several, docs/design.md §4.1).
bool Reachable(const std::string& from, const std::string& to) {
  if (!IsPhase(from) || !IsPhase(to)) return false;
  std::set<std::string> seen = {from};
  std::deque<std::string> next = {from};
  while (!next.empty()) {
    const std::string p = next.front();
    next.pop_front();
    for (const std::string& q : TransitionTable().at(p)) {
      if (q == to) return true;
      if (seen.insert(q).second) next.push_back(q);
    }
  }
  return false;
}

std::string Uid(const json& o) { return StringAt(o, {"metadata", "uid"}); }
std::string Name(const json& o) { return StringAt(o, {"metadata", "name"}); }
std::string Label(const json& o, const char* key) {
  return StringAt(o, {"metadata", "labels", key});
}
bool Deleting(const json& o) { return !JsonAt(o, {"metadata", "deletionTimestamp"}).is_null(); }
int64_t Generation(const json& o) {
  const json& g = JsonAt(o, {"metadata", "generation"});
  return g.is_number_integer() ? g.get<int64_t>() : 0;
}

bool IsOwner(Kind kind) { return kind == Kind::kBatch || kind == Kind::kJobFlow; }

// The weir owner uid a Job or pod belongs to, from its labels (§3).
std::string OwnerUidOf(const json& child) {
  std::string uid = Label(child, "weir.dev/batch-uid");
  return uid.empty() ? Label(child, "weir.dev/flow-uid") : uid;
}

bool ConditionTrue(const json& o, const std::string& type) {
  const json& conditions = JsonAt(o, {"status", "conditions"});
  if (!conditions.is_array()) return false;
  for (const json& c : conditions) {
    if (c.is_object() && c.value("type", "") == type && c.value("status", "") == "True") {
      return true;
    }
  }
  return false;
}
bool ConditionFalse(const json& o, const std::string& type) {
  const json& conditions = JsonAt(o, {"status", "conditions"});
  if (!conditions.is_array()) return false;
  for (const json& c : conditions) {
    if (c.is_object() && c.value("type", "") == type && c.value("status", "") == "False") {
      return true;
    }
  }
  return false;
}

// A Batch, or one step of a JobFlow: what its status records.
struct Unit {
  bool present = false;
  std::string phase = "Pending";  // an absent phase is the initial one
  json attempts = json::array();
  std::string reason;  // Batch only
  json exit_code;      // Batch only
  std::string job;     // Batch only: status.job
};

std::string PhaseField(const json& o) {
  const std::string p = StringAt(o, {"phase"});
  return p.empty() ? "Pending" : p;
}

Unit UnitOf(const json& owner, Kind kind, const std::string& step) {
  Unit u;
  const json& status = JsonAt(owner, {"status"});
  if (kind == Kind::kBatch) {
    u.present = true;
    u.phase = PhaseField(status);
    if (JsonAt(status, {"attempts"}).is_array()) u.attempts = JsonAt(status, {"attempts"});
    u.reason = StringAt(status, {"terminationReason"});
    u.exit_code = JsonAt(status, {"exitCode"});
    u.job = StringAt(status, {"job"});
    return u;
  }
  const json& steps = JsonAt(status, {"steps"});
  if (!steps.is_array()) return u;
  for (const json& s : steps) {
    if (!s.is_object() || s.value("name", "") != step) continue;
    u.present = true;
    u.phase = PhaseField(s);
    if (JsonAt(s, {"attempts"}).is_array()) u.attempts = JsonAt(s, {"attempts"});
  }
  return u;
}

// "" for a Batch; the step names of a JobFlow's spec and status.
std::vector<std::string> UnitNames(const json& owner, Kind kind) {
  if (kind == Kind::kBatch) return {""};
  std::set<std::string> names;
  for (const char* where : {"spec", "status"}) {
    const json& steps = JsonAt(owner, {where, "steps"});
    if (!steps.is_array()) continue;
    for (const json& s : steps) {
      if (s.is_object() && s.contains("name") && s["name"].is_string()) names.insert(s["name"]);
    }
  }
  return {names.begin(), names.end()};
}

// Whether the owner version asks to stop the whole owner: spec.cancel or a
// delete.
bool OwnerStopAsked(const json& owner) {
  return JsonAt(owner, {"spec", "cancel"}) == true || Deleting(owner);
}

// Whether the owner version asks to stop this unit (a Batch, or one step).
// A user who removed a step from the spec, or gave a started step another
// template than the one its record says it ran, asked to stop it too (issue
// 18); a step with no attempt recorded has not run anything, so a new
// template just replaces the old one.
bool UnitStopAsked(const json& owner, Kind kind, const std::string& step) {
  if (OwnerStopAsked(owner)) return true;
  if (kind == Kind::kBatch) return false;
  const json& steps = JsonAt(owner, {"spec", "steps"});
  if (!steps.is_array()) return false;
  std::string ran;  // the template the started step's record names
  const json& records = JsonAt(owner, {"status", "steps"});
  for (const json& r : records.is_array() ? records : json::array()) {
    if (r.is_object() && r.value("name", "") == step && r.contains("attempts") &&
        r["attempts"].is_array() && !r["attempts"].empty()) {
      ran = r.value("template", "");
    }
  }
  for (const json& s : steps) {
    if (!s.is_object() || s.value("name", "") != step) continue;
    return s.value("cancel", false) == true || (!ran.empty() && s.value("template", "") != ran);
  }
  return true;
}

// Whether an owner version explains a unit canceled by weir itself: the
// spec is invalid (an edit made it so while an attempt ran: the attempt is
// stopped), or, in a flow, another step ended Failed or Killed
// (onStepFailure StopFlow) (docs/design.md §2, §4.5).
bool OwnerStopped(const json& owner, Kind kind) {
  if (ConditionFalse(owner, "Valid")) return true;
  if (kind == Kind::kBatch) return false;
  const json& steps = JsonAt(owner, {"status", "steps"});
  if (!steps.is_array()) return false;
  for (const json& s : steps) {
    const std::string p = PhaseField(s);
    if (p == "Failed" || p == "Killed") return true;
  }
  return false;
}

// All versions, indexed by object and relation.
class Index {
 public:
  // REQUIRES: `versions` sorted and numbered, outliving the index.
  explicit Index(const std::vector<Version>& versions) : all_(versions) {
    for (const Version& v : all_) {
      const std::string uid = Uid(v.object);
      if (!by_uid_.contains(uid)) order_.push_back(uid);
      by_uid_[uid].push_back(&v);
      kind_[uid] = v.kind;
      if (v.kind == Kind::kJob || v.kind == Kind::kPod) {
        const std::string owner = OwnerUidOf(v.object);
        if (!owner.empty()) children_[owner].insert(uid);
      }
      if (v.kind == Kind::kPod) {
        const json& refs = JsonAt(v.object, {"metadata", "ownerReferences"});
        if (!refs.is_array()) continue;
        for (const json& r : refs) {
          if (r.is_object() && r.value("kind", "") == "Job") {
            pods_of_job_[r.value("uid", "")].insert(uid);
            job_of_pod_[uid] = r.value("uid", "");
          }
        }
      }
    }
  }

  const std::vector<Version>& all() const { return all_; }
  const std::vector<std::string>& uids() const { return order_; }
  Kind kind(const std::string& uid) const { return kind_.at(uid); }
  const std::vector<const Version*>& versions(const std::string& uid) const {
    static const auto* none = new std::vector<const Version*>();
    auto it = by_uid_.find(uid);
    return it == by_uid_.end() ? *none : it->second;
  }
  std::set<std::string> children(const std::string& owner) const {
    auto it = children_.find(owner);
    return it == children_.end() ? std::set<std::string>{} : it->second;
  }
  // The Job a pod belongs to ("" if none).
  std::string job_of_pod(const std::string& pod) const {
    auto it = job_of_pod_.find(pod);
    return it == job_of_pod_.end() ? "" : it->second;
  }
  std::set<std::string> pods_of_job(const std::string& job) const {
    auto it = pods_of_job_.find(job);
    return it == pods_of_job_.end() ? std::set<std::string>{} : it->second;
  }
  // The Jobs of `owner` named `name` (one, unless invariant 1 broke).
  std::vector<std::string> jobs_named(const std::string& owner, const std::string& name) const {
    std::vector<std::string> out;
    for (const std::string& uid : children(owner)) {
      if (kind(uid) == Kind::kJob && Name(versions(uid).front()->object) == name) {
        out.push_back(uid);
      }
    }
    return out;
  }

 private:
  const std::vector<Version>& all_;
  std::vector<std::string> order_;
  std::map<std::string, std::vector<const Version*>> by_uid_;
  std::map<std::string, Kind> kind_;
  std::map<std::string, std::set<std::string>> children_;     // owner uid -> Jobs and pods
  std::map<std::string, std::set<std::string>> pods_of_job_;  // Job uid -> pods
  std::map<std::string, std::string> job_of_pod_;             // pod uid -> Job uid
};

// The main container's name for a Job of `owner`: the Batch's
// spec.mainContainer, else the first container of the Job's pod template.
std::string MainContainer(const json& owner, const json& job) {
  const std::string named = StringAt(owner, {"spec", "mainContainer"});
  if (!named.empty()) return named;
  const json& containers = JsonAt(job, {"spec", "template", "spec", "containers"});
  if (containers.is_array() && !containers.empty() && containers[0].is_object()) {
    return containers[0].value("name", "");
  }
  return "";
}

// Every terminated container state (state and lastState, init containers
// too) of the pods of `owner`'s Jobs named `job_names`, in versions stored
// before `before`, passed to `match(container name, terminated, job)` until
// it returns true.
template <typename Match>
bool AnyTerminated(const Index& index, const std::string& owner,
                   const std::vector<std::string>& job_names, int64_t before, Match match) {
  std::vector<std::string> jobs;
  for (const std::string& name : job_names) {
    for (const std::string& job : index.jobs_named(owner, name)) jobs.push_back(job);
  }
  for (const std::string& job : jobs) {
    const json& job_object = index.versions(job).front()->object;
    for (const std::string& pod : index.pods_of_job(job)) {
      for (const Version* v : index.versions(pod)) {
        if (v->resource_version >= before) break;
        for (const char* list : {"containerStatuses", "initContainerStatuses"}) {
          const json& statuses = JsonAt(v->object, {"status", list});
          if (!statuses.is_array()) continue;
          for (const json& c : statuses) {
            for (const char* state : {"state", "lastState"}) {
              const json& terminated = JsonAt(c, {state, "terminated"});
              if (terminated.is_object() && match(StringAt(c, {"name"}), terminated, job_object)) {
                return true;
              }
            }
          }
        }
      }
    }
  }
  return false;
}

// Whether one of `owner`'s Jobs named `job_names` was Complete in a version
// stored before `before`.
bool JobCompleteBefore(const Index& index, const std::string& owner,
                       const std::vector<std::string>& job_names, int64_t before) {
  for (const std::string& name : job_names) {
    for (const std::string& job : index.jobs_named(owner, name)) {
      for (const Version* v : index.versions(job)) {
        if (v->resource_version < before && ConditionTrue(v->object, "Complete")) return true;
      }
    }
  }
  return false;
}

class Checker {
 public:
  explicit Checker(const Index& index) : index_(index) {}

  std::vector<Violation> Run() {
    CheckOneJobPerAttempt();
    for (const std::string& uid : index_.uids()) {
      if (!IsOwner(index_.kind(uid))) continue;
      CheckOwnerStatus(uid);
      CheckNothingRunsOnceEnded(uid);
      CheckNothingOrphaned(uid);
    }
    CheckNoLateJob();
    return std::move(violations_);
  }

  Stats stats() const { return stats_; }

 private:
  void Report(int invariant, std::string what, std::vector<std::string> uids) {
    violations_.push_back({invariant, std::move(what), std::move(uids)});
  }

  std::string Who(const std::string& uid) const {
    const std::vector<const Version*>& vs = index_.versions(uid);
    if (vs.empty()) return absl::StrCat("object ", uid);
    return absl::StrCat(KindName(vs.front()->kind), " ", Name(vs.front()->object));
  }
  static std::string UnitName(Kind kind, const std::string& step) {
    return kind == Kind::kBatch ? "the Batch" : absl::StrCat("step ", step);
  }

  // Invariant 1: one Job per (owner uid, step, attempt), ever.
  void CheckOneJobPerAttempt() {
    std::map<std::tuple<std::string, std::string, std::string>, std::vector<std::string>> by_key;
    for (const std::string& uid : index_.uids()) {
      if (index_.kind(uid) != Kind::kJob) continue;
      const json& job = index_.versions(uid).front()->object;
      if (Label(job, "weir.dev/managed-by") != "weir") continue;
      by_key[{OwnerUidOf(job), Label(job, "weir.dev/step"), Label(job, "weir.dev/attempt")}]
          .push_back(uid);
    }
    for (const auto& [key, jobs] : by_key) {
      if (jobs.size() < 2) continue;
      const auto& [owner, step, attempt] = key;
      std::vector<std::string> uids = jobs;
      uids.push_back(owner);
      Report(1,
             absl::StrCat(jobs.size(), " Jobs for owner ", owner,
                          step.empty() ? "" : absl::StrCat(" step ", step), " attempt ", attempt,
                          Overlapped(jobs) ? ", existing at the same time" : ""),
             uids);
    }
  }

  // Whether some two of `jobs` existed at once.
  bool Overlapped(const std::vector<std::string>& jobs) const {
    std::vector<std::pair<int64_t, int64_t>> lives;
    for (const std::string& uid : jobs) {
      const std::vector<const Version*>& vs = index_.versions(uid);
      const int64_t end = vs.back()->type == "DELETED" ? vs.back()->resource_version : INT64_MAX;
      lives.emplace_back(vs.front()->resource_version, end);
    }
    std::sort(lives.begin(), lives.end());
    for (size_t i = 1; i < lives.size(); ++i) {
      if (lives[i].first < lives[i - 1].second) return true;
    }
    return false;
  }

  // The resourceVersion of the first version of `owner` that asked to stop
  // `step` (or the whole owner), if any.
  std::optional<int64_t> FirstStopAsked(const std::string& owner, const std::string& step) const {
    for (const Version* v : index_.versions(owner)) {
      if (UnitStopAsked(v->object, v->kind, step)) return v->resource_version;
    }
    return std::nullopt;
  }
  // Likewise for weir stopping the unit itself.
  std::optional<int64_t> FirstOwnerStopped(const std::string& owner, Kind kind) const {
    for (const Version* v : index_.versions(owner)) {
      if (OwnerStopped(v->object, kind)) return v->resource_version;
    }
    return std::nullopt;
  }

  // Whether a Canceled recorded at `rv` for `step` of `owner` is explained
  // by a version stored at or before it.
  bool CancelJustified(const std::string& owner, Kind kind, const std::string& step,
                       int64_t rv) const {
    std::optional<int64_t> asked = FirstStopAsked(owner, step);
    if (asked.has_value() && *asked <= rv) return true;
    std::optional<int64_t> stopped = FirstOwnerStopped(owner, kind);
    return stopped.has_value() && *stopped <= rv;
  }

  // Invariant 3 for one owner: every phase change follows the table and is
  // justified, terminal phases stay, recorded attempts stay and are each
  // justified by what the pods did before they were recorded.
  void CheckOwnerStatus(const std::string& owner) {
    const std::vector<const Version*>& versions = index_.versions(owner);
    const Kind kind = index_.kind(owner);
    if (kind == Kind::kJobFlow) {
      CheckFlowPhase(owner);
      stats_.units_failed += std::any_of(versions.begin(), versions.end(), [](const Version* v) {
        return StringAt(v->object, {"status", "phase"}) == "Failed";
      });
    }
    std::set<std::string> names;
    for (const Version* v : versions) {
      for (const std::string& n : UnitNames(v->object, kind)) names.insert(n);
    }
    std::set<std::string> judged;  // attempt records already judged
    for (const std::string& step : names) {
      std::optional<Unit> prev;
      for (const Version* v : versions) {
        const Unit unit = UnitOf(v->object, kind, step);
        if (!unit.present) continue;
        const std::string where = absl::StrCat(UnitName(kind, step), " in version #", v->number);
        if (!IsPhase(unit.phase)) {
          Report(3, absl::StrCat(where, " has phase \"", unit.phase, "\", not a phase"), {owner});
        } else if (prev.has_value() && prev->phase != unit.phase) {
          if (IsTerminal(prev->phase)) {
            Report(
                3,
                absl::StrCat(where, ": terminal phase ", prev->phase, " changed to ", unit.phase),
                {owner});
          } else if (!Reachable(prev->phase, unit.phase)) {
            Report(3,
                   absl::StrCat(where, ": ", prev->phase, " -> ", unit.phase,
                                " is not in the transition table"),
                   {owner});
          }
        }
        if (!prev.has_value() || prev->phase != unit.phase) {
          stats_.units_failed += unit.phase == "Failed";
          JudgeUnitPhase(owner, kind, step, *v, unit);
        }
        if (prev.has_value()) CompareAttempts(owner, where, *prev, unit);
        for (size_t i = 0; i < unit.attempts.size(); ++i) {
          const json& a = unit.attempts[i];
          if (!judged.insert(absl::StrCat(step, "/", i, "/", a.dump())).second) continue;
          JudgeRecord(owner, kind, step, *v, absl::StrCat(where, ", attempt record ", i + 1),
                      StringAt(a, {"phase"}), StringAt(a, {"terminationReason"}),
                      JsonAt(a, {"exitCode"}), {StringAt(a, {"job"})});
        }
        if (kind == Kind::kBatch &&
            judged
                .insert(absl::StrCat("batch/", unit.phase, "/", unit.reason, "/",
                                     unit.exit_code.dump(), "/", unit.job))
                .second) {
          std::vector<std::string> jobs;
          for (const json& a : unit.attempts) jobs.push_back(StringAt(a, {"job"}));
          JudgeRecord(owner, kind, step, *v, absl::StrCat(where, ", status"), "", unit.reason,
                      unit.exit_code, jobs);
        }
        prev = unit;
      }
    }
  }

  // A newly recorded phase of a Batch or step must be justified.
  void JudgeUnitPhase(const std::string& owner, Kind kind, const std::string& step,
                      const Version& v, const Unit& unit) {
    const std::string where = absl::StrCat(UnitName(kind, step), " in version #", v.number);
    if ((unit.phase == "Canceled" || unit.phase == "Canceling") &&
        !CancelJustified(owner, kind, step, v.resource_version)) {
      Report(3, absl::StrCat(where, " is ", unit.phase, " but nobody asked to cancel or delete"),
             {owner});
    }
    if (unit.phase == "Succeeded") {
      if (unit.attempts.empty() ||
          StringAt(unit.attempts[unit.attempts.size() - 1], {"phase"}) != "Succeeded") {
        Report(3, absl::StrCat(where, " is Succeeded but its last attempt is not"), {owner});
      }
    }
  }

  // One recorded outcome must be justified by the user and by the pods of
  // `jobs`: an attempt record's own Job, or for a Batch's own status fields
  // (which, while it retries, still describe the attempt that ended) any
  // Job its attempts name.
  void JudgeRecord(const std::string& owner, Kind kind, const std::string& step, const Version& v,
                   const std::string& where, const std::string& phase, const std::string& reason,
                   const json& exit_code, const std::vector<std::string>& jobs) {
    const int64_t rv = v.resource_version;
    const json& owner_object = v.object;
    const std::string job = absl::StrJoin(jobs, "\", \"");
    std::vector<std::string> involved = {owner};
    for (const std::string& name : jobs) {
      for (const std::string& j : index_.jobs_named(owner, name)) {
        involved.push_back(j);
        for (const std::string& p : index_.pods_of_job(j)) involved.push_back(p);
      }
    }
    if (phase == "Succeeded") {
      const bool main_ended_zero = AnyTerminated(
          index_, owner, jobs, rv, [&](const std::string& name, const json& t, const json& j) {
            return name == MainContainer(owner_object, j) && t.value("exitCode", -1) == 0;
          });
      if (!main_ended_zero && !JobCompleteBefore(index_, owner, jobs, rv)) {
        Report(3,
               absl::StrCat(where, " is Succeeded but the main container of Job \"", job,
                            "\" never terminated with exit 0 before it"),
               involved);
      }
    }
    if ((phase == "Canceled" || reason == "Canceled") && !CancelJustified(owner, kind, step, rv)) {
      Report(3, absl::StrCat(where, " is Canceled but nobody asked to cancel or delete"), involved);
    }
    if (reason == "OOMKilled" &&
        !AnyTerminated(index_, owner, jobs, rv, [](const std::string&, const json& t, const json&) {
          return t.value("reason", "") == "OOMKilled";
        })) {
      Report(3,
             absl::StrCat(where, " says OOMKilled but no container of Job \"", job,
                          "\" was reported OOMKilled before it"),
             involved);
    }
    if (exit_code.is_number_integer() &&
        !AnyTerminated(index_, owner, jobs, rv,
                       [&](const std::string&, const json& t, const json&) {
                         return t.contains("exitCode") && t["exitCode"] == exit_code;
                       })) {
      Report(3,
             absl::StrCat(where, " records exit code ", exit_code.dump(),
                          " but no container of Job \"", job, "\" had it before"),
             involved);
    }
  }

  // Recorded attempts never disappear, and an ended one never changes.
  void CompareAttempts(const std::string& owner, const std::string& where, const Unit& before,
                       const Unit& after) {
    for (size_t i = 0; i < before.attempts.size(); ++i) {
      const json& was = before.attempts[i];
      if (i >= after.attempts.size()) {
        Report(3, absl::StrCat(where, ": attempt record ", i + 1, " disappeared"), {owner});
        continue;
      }
      const json& now = after.attempts[i];
      const std::string from = StringAt(was, {"phase"}), to = StringAt(now, {"phase"});
      if (IsTerminal(from) && was != now) {
        Report(3,
               absl::StrCat(where, ": ended attempt record ", i + 1, " changed from ", was.dump(),
                            " to ", now.dump()),
               {owner});
      } else if (StringAt(was, {"job"}) != StringAt(now, {"job"})) {
        Report(3, absl::StrCat(where, ": attempt record ", i + 1, " changed its Job"), {owner});
      } else if (from != to && !from.empty() && !Reachable(from, to)) {
        Report(3,
               absl::StrCat(where, ": attempt record ", i + 1, " went ", from, " -> ", to,
                            ", not in the transition table"),
               {owner});
      }
    }
  }

  // A JobFlow's own phase: the table, terminal phases, and justification.
  void CheckFlowPhase(const std::string& owner) {
    std::string prev;
    for (const Version* v : index_.versions(owner)) {
      const std::string phase = PhaseField(JsonAt(v->object, {"status"}));
      const std::string where = absl::StrCat("the flow in version #", v->number);
      if (!IsPhase(phase)) {
        Report(3, absl::StrCat(where, " has phase \"", phase, "\", not a phase"), {owner});
        continue;
      }
      if (!prev.empty() && prev != phase) {
        if (IsTerminal(prev)) {
          Report(3, absl::StrCat(where, ": terminal phase ", prev, " changed to ", phase), {owner});
        } else if (!Reachable(prev, phase)) {
          Report(3,
                 absl::StrCat(where, ": ", prev, " -> ", phase, " is not in the transition table"),
                 {owner});
        }
      }
      if (prev != phase && (phase == "Canceling" || phase == "Canceled")) {
        bool asked = false;
        for (const Version* w : index_.versions(owner)) {
          if (w->resource_version > v->resource_version) break;
          asked = asked || OwnerStopAsked(w->object);
        }
        if (!asked) {
          Report(3, absl::StrCat(where, " is ", phase, " but nobody asked to cancel or delete"),
                 {owner});
        }
      }
      if (prev != phase && phase == "Succeeded") {
        for (const std::string& step : UnitNames(v->object, Kind::kJobFlow)) {
          const std::string p = UnitOf(v->object, Kind::kJobFlow, step).phase;
          if (!IsTerminal(p) || p == "Failed" || p == "Killed") {
            Report(3, absl::StrCat(where, " is Succeeded but step ", step, " is ", p), {owner});
          }
        }
      }
      prev = phase;
    }
  }

  // Invariant 2: no Job authorized by, or created after, an owner version
  // that asked to stop it; none after its owner or step recorded Canceling
  // or an end.
  void CheckNoLateJob() {
    for (const std::string& uid : index_.uids()) {
      if (index_.kind(uid) != Kind::kJob) continue;
      const Version& created = *index_.versions(uid).front();
      const json& job = created.object;
      if (Label(job, "weir.dev/managed-by") != "weir") continue;
      ++stats_.jobs;
      const std::string owner = OwnerUidOf(job);
      const std::string step = Label(job, "weir.dev/step");
      const std::string who = absl::StrCat("Job ", Name(job), " (version #", created.number, ")");
      const std::vector<const Version*>& owner_versions = index_.versions(owner);
      if (owner_versions.empty()) {
        Report(2, absl::StrCat(who, " names owner ", owner, ", which was never seen"), {uid});
        continue;
      }
      const Kind kind = owner_versions.front()->kind;
      int64_t generation = 0;
      if (!absl::SimpleAtoi(StringAt(job, {"metadata", "annotations", "weir.dev/owner-generation"}),
                            &generation)) {
        Report(2, absl::StrCat(who, " has no weir.dev/owner-generation annotation"), {owner, uid});
        continue;
      }
      bool generation_seen = false;
      std::optional<int64_t> stop_generation;
      for (const Version* v : owner_versions) {
        if (UnitStopAsked(v->object, kind, step) && !stop_generation.has_value()) {
          stop_generation = Generation(v->object);
        }
        if (Generation(v->object) != generation) continue;
        generation_seen = true;
        if (UnitStopAsked(v->object, kind, step)) {
          Report(2,
                 absl::StrCat(who, " was authorized by generation ", generation, " (version #",
                              v->number, "), which asked to stop ", UnitName(kind, step)),
                 {owner, uid});
          break;
        }
      }
      if (!generation_seen) {
        Report(2,
               absl::StrCat(who, " was authorized by generation ", generation,
                            ", which the owner never had"),
               {owner, uid});
      }
      for (const Version* v : owner_versions) {
        if (v->resource_version >= created.resource_version) break;
        const Unit unit = UnitOf(v->object, kind, step);
        const std::string owner_phase = PhaseField(JsonAt(v->object, {"status"}));
        std::string ended;
        if (unit.present && (unit.phase == "Canceling" || IsTerminal(unit.phase))) {
          ended = absl::StrCat(UnitName(kind, step), " recorded ", unit.phase);
        } else if (kind == Kind::kJobFlow &&
                   (owner_phase == "Canceling" || IsTerminal(owner_phase))) {
          ended = absl::StrCat("the flow recorded ", owner_phase);
        } else if (v->type == "DELETED") {
          ended = "the owner was deleted";
        }
        if (!ended.empty()) {
          Report(2, absl::StrCat(who, " was created after ", ended, " (version #", v->number, ")"),
                 {owner, uid});
          break;
        }
      }
      std::optional<int64_t> asked = FirstStopAsked(owner, step);
      if (asked.has_value() && *asked < created.resource_version && stop_generation.has_value() &&
          generation < *stop_generation) {
        ++stats_.jobs_in_cancel_window;
        CheckInWindow(owner, kind, step, uid, who);
      }
    }
  }

  // A Job in the inherent window must be deleted, and its unit end Canceled.
  void CheckInWindow(const std::string& owner, Kind kind, const std::string& step,
                     const std::string& job, const std::string& who) {
    if (index_.versions(job).back()->type != "DELETED") {
      Report(2, absl::StrCat(who, ", created after the stop was stored, was never deleted"),
             {owner, job});
    }
    const Version& last = *index_.versions(owner).back();
    const Unit unit = UnitOf(last.object, kind, step);
    if (unit.present && unit.phase != "Canceled") {
      Report(2,
             absl::StrCat(who, ", created after the stop was stored: ", UnitName(kind, step),
                          " ended ", unit.phase, ", not Canceled"),
             {owner, job});
    }
  }

  // The main container's state in `pod`'s version `object` (null if none).
  const json& MainState(const json& owner, const std::string& pod, const json& object) const {
    static const json* none = new json();
    const std::string job = index_.job_of_pod(pod);
    std::string main = job.empty() || index_.versions(job).empty()
                           ? StringAt(owner, {"spec", "mainContainer"})
                           : MainContainer(owner, index_.versions(job).front()->object);
    if (main.empty()) {
      const json& containers = JsonAt(object, {"spec", "containers"});
      if (containers.is_array() && !containers.empty()) main = StringAt(containers[0], {"name"});
    }
    const json& statuses = JsonAt(object, {"status", "containerStatuses"});
    if (!statuses.is_array()) return *none;
    for (const json& c : statuses) {
      if (StringAt(c, {"name"}) == main) return JsonAt(c, {"state"});
    }
    return *none;
  }

  // Invariant 3: an owner's terminal phase says nothing of it runs. At the
  // owner's first terminal version no pod of it runs (phase Running, or its
  // main container running) unless its main container has ended (the outcome
  // rests on it alone; sidecars may still be stopping) or the pod is being
  // deleted. A pod still pending (an image it cannot pull) has not run, one
  // whose node was lost (phase Unknown) cannot be known to; one created
  // later is invariant 2's matter.
  void CheckNothingRunsOnceEnded(const std::string& owner) {
    const Version* ended = nullptr;
    for (const Version* v : index_.versions(owner)) {
      if (v->type != "DELETED" && IsTerminal(PhaseField(JsonAt(v->object, {"status"})))) {
        ended = v;
        break;
      }
    }
    if (ended == nullptr) return;
    for (const std::string& child : index_.children(owner)) {
      if (index_.kind(child) != Kind::kPod) continue;
      const Version* then = nullptr;
      for (const Version* v : index_.versions(child)) {
        if (v->resource_version > ended->resource_version) break;
        then = v;
      }
      if (then == nullptr || then->type == "DELETED" || Deleting(then->object)) continue;
      const std::string phase = StringAt(then->object, {"status", "phase"});
      const json& main = MainState(ended->object, child, then->object);
      if (JsonAt(main, {"terminated"}).is_object()) continue;
      // Unknown: the node stopped reporting (its last container states are
      // stale); weir's NodeLost timeout ends such an attempt on purpose.
      if (phase == "Unknown") continue;
      if (phase != "Running" && !JsonAt(main, {"running"}).is_object()) continue;
      Report(3,
             absl::StrCat(Who(owner), " is ", PhaseField(JsonAt(ended->object, {"status"})),
                          " in version #", ended->number, " while ", Who(child), " is ",
                          phase.empty() ? "running" : phase, " (version #", then->number, ")"),
             {owner, child});
    }
  }

  // Invariant 5: once the owner is deleted, or records ResourcesReleased,
  // none of its Jobs or pods exists any more.
  void CheckNothingOrphaned(const std::string& owner) {
    ++stats_.owners;
    std::optional<const Version*> end;
    for (const Version* v : index_.versions(owner)) {
      if (v->type == "DELETED" || ConditionTrue(v->object, "ResourcesReleased")) {
        end = v;
        break;
      }
    }
    if (!end.has_value()) return;
    const std::string event = (*end)->type == "DELETED" ? "was deleted" : "released its resources";
    for (const std::string& child : index_.children(owner)) {
      const std::vector<const Version*>& vs = index_.versions(child);
      const bool gone_before =
          vs.back()->type == "DELETED" && vs.back()->resource_version < (*end)->resource_version;
      if (!gone_before && CreatedForADeletedJob(child)) {
        ++stats_.pods_for_deleted_jobs;
        if (vs.back()->type == "DELETED") continue;
        Report(5,
               absl::StrCat(Who(child), ", created after its Job was deleted, was never deleted"),
               {owner, child, index_.job_of_pod(child)});
        continue;
      }
      if (!gone_before) {
        Report(5,
               absl::StrCat(Who(child), " outlived its owner, which ", event, " in version #",
                            (*end)->number),
               {owner, child, index_.job_of_pod(child)});
      }
    }
  }

  // True for a pod whose first version comes after its Job's deletion.
  bool CreatedForADeletedJob(const std::string& pod) const {
    if (index_.kind(pod) != Kind::kPod) return false;
    const std::string job = index_.job_of_pod(pod);
    if (job.empty()) return false;
    const std::vector<const Version*>& job_versions = index_.versions(job);
    if (job_versions.empty() || job_versions.back()->type != "DELETED") return false;
    return index_.versions(pod).front()->resource_version > job_versions.back()->resource_version;
  }

  const Index& index_;
  std::vector<Violation> violations_;
  Stats stats_;
};

std::string ContainerStates(const json& pod) {
  std::vector<std::string> out;
  for (const char* list : {"initContainerStatuses", "containerStatuses"}) {
    const json& statuses = JsonAt(pod, {"status", list});
    if (!statuses.is_array()) continue;
    for (const json& c : statuses) {
      std::string state = "?";
      if (JsonAt(c, {"state", "terminated"}).is_object()) {
        const json& t = JsonAt(c, {"state", "terminated"});
        state = absl::StrCat("terminated(", t.value("reason", ""), " exit ",
                             t.contains("exitCode") ? t["exitCode"].dump() : "-", ")");
      } else if (JsonAt(c, {"state", "running"}).is_object()) {
        state = "running";
      } else if (JsonAt(c, {"state", "waiting"}).is_object()) {
        state = absl::StrCat("waiting(", StringAt(c, {"state", "waiting", "reason"}), ")");
      }
      out.push_back(absl::StrCat(StringAt(c, {"name"}), "=", state));
    }
  }
  return absl::StrJoin(out, " ");
}

std::string AttemptsSummary(const json& attempts) {
  std::vector<std::string> out;
  if (!attempts.is_array()) return "";
  for (const json& a : attempts) {
    std::string s = absl::StrCat(a.value("attempt", 0), ":", StringAt(a, {"phase"}));
    const std::string reason = StringAt(a, {"terminationReason"});
    if (!reason.empty()) absl::StrAppend(&s, "/", reason);
    if (a.contains("exitCode")) absl::StrAppend(&s, "/exit ", a["exitCode"].dump());
    absl::StrAppend(&s, " ", StringAt(a, {"job"}));
    out.push_back(s);
  }
  return absl::StrCat("[", absl::StrJoin(out, ", "), "]");
}

std::string Summarize(const Version& v) {
  const json& o = v.object;
  std::string s = absl::StrCat("#", v.number, " rv=", v.resource_version, " ", v.type, " ",
                               KindName(v.kind), " ", Name(o));
  if (Deleting(o)) absl::StrAppend(&s, " deleting");
  switch (v.kind) {
    case Kind::kBatch:
      absl::StrAppend(&s, " gen=", Generation(o),
                      JsonAt(o, {"spec", "cancel"}) == true ? " cancel" : "",
                      " phase=", PhaseField(JsonAt(o, {"status"})));
      if (!StringAt(o, {"status", "terminationReason"}).empty()) {
        absl::StrAppend(&s, " reason=", StringAt(o, {"status", "terminationReason"}));
      }
      if (JsonAt(o, {"status", "exitCode"}).is_number()) {
        absl::StrAppend(&s, " exit=", JsonAt(o, {"status", "exitCode"}).dump());
      }
      absl::StrAppend(&s, " attempts=", AttemptsSummary(JsonAt(o, {"status", "attempts"})));
      if (ConditionTrue(o, "ResourcesReleased")) absl::StrAppend(&s, " released");
      break;
    case Kind::kJobFlow: {
      absl::StrAppend(&s, " gen=", Generation(o),
                      JsonAt(o, {"spec", "cancel"}) == true ? " cancel" : "",
                      " phase=", PhaseField(JsonAt(o, {"status"})));
      for (const std::string& step : UnitNames(o, Kind::kJobFlow)) {
        const Unit u = UnitOf(o, Kind::kJobFlow, step);
        absl::StrAppend(&s, " | ", step, UnitStopAsked(o, Kind::kJobFlow, step) ? "(cancel)" : "",
                        "=", u.present ? u.phase : "-", " ", AttemptsSummary(u.attempts));
      }
      if (ConditionTrue(o, "ResourcesReleased")) absl::StrAppend(&s, " released");
      break;
    }
    case Kind::kJob: {
      absl::StrAppend(&s, " attempt=", Label(o, "weir.dev/attempt"));
      if (!Label(o, "weir.dev/step").empty())
        absl::StrAppend(&s, " step=", Label(o, "weir.dev/step"));
      absl::StrAppend(&s, " owner-generation=",
                      StringAt(o, {"metadata", "annotations", "weir.dev/owner-generation"}));
      for (const char* c : {"Complete", "Failed"}) {
        if (ConditionTrue(o, c)) absl::StrAppend(&s, " ", c);
      }
      break;
    }
    case Kind::kPod:
      absl::StrAppend(&s, " phase=", StringAt(o, {"status", "phase"}), " ", ContainerStates(o));
      break;
  }
  return s;
}

}  // namespace

const char* KindName(Kind kind) {
  switch (kind) {
    case Kind::kBatch:
      return "Batch";
    case Kind::kJobFlow:
      return "JobFlow";
    case Kind::kJob:
      return "Job";
    case Kind::kPod:
      return "Pod";
  }
  return "?";
}

absl::Status History::Add(Kind kind, const json& event) {
  const std::string type = event.is_object() ? event.value("type", "") : "";
  if (type == "BOOKMARK") return absl::OkStatus();
  if (type != "ADDED" && type != "MODIFIED" && type != "DELETED") {
    return absl::DataLossError(absl::StrCat("a ", KindName(kind), " watch sent ", event.dump()));
  }
  json object = event.value("object", json());
  int64_t rv = 0;
  if (Uid(object).empty() ||
      !absl::SimpleAtoi(StringAt(object, {"metadata", "resourceVersion"}), &rv)) {
    return absl::DataLossError(absl::StrCat(
        "a ", KindName(kind), " event without uid or resourceVersion: ", event.dump()));
  }
  // The number holds while events come in resourceVersion order (the model
  // checker's single history); Ordered() sorts a copy once they do not (the
  // e2e oracle feeds one watch after the other).
  in_order_ = in_order_ && (versions_.empty() || versions_.back().resource_version <= rv);
  versions_.push_back({static_cast<int>(versions_.size()) + 1, rv, type, kind, std::move(object)});
  return absl::OkStatus();
}

const std::vector<Version>& History::Ordered(std::vector<Version>& scratch) const {
  if (in_order_) return versions_;
  scratch = versions_;
  std::stable_sort(scratch.begin(), scratch.end(), [](const Version& a, const Version& b) {
    return a.resource_version < b.resource_version;
  });
  for (size_t i = 0; i < scratch.size(); ++i) scratch[i].number = static_cast<int>(i) + 1;
  return scratch;
}

Verdict History::Judge() const {
  std::vector<Version> scratch;
  Index index(Ordered(scratch));
  Checker checker(index);
  Verdict verdict{.violations = checker.Run(), .stats = checker.stats()};
  verdict.violations.insert(verdict.violations.end(), extra_.begin(), extra_.end());
  for (const std::string& uid : index.uids()) verdict.stats.pods += index.kind(uid) == Kind::kPod;
  return verdict;
}

std::vector<Violation> History::Check() const { return Judge().violations; }

Stats History::Summary() const { return Judge().stats; }

std::string History::Describe(const Violation& violation) const {
  std::string out = absl::StrCat("invariant ", violation.invariant, ": ", violation.what, "\n");
  const std::set<std::string> involved(violation.uids.begin(), violation.uids.end());
  std::vector<Version> scratch;
  for (const Version& v : Ordered(scratch)) {
    if (involved.contains(Uid(v.object))) absl::StrAppend(&out, "    ", Summarize(v), "\n");
  }
  return out;
}

std::string History::Report(const std::vector<Violation>& violations) const {
  std::string out;
  for (size_t i = 0; i < violations.size(); ++i) {
    absl::StrAppend(&out, "violation ", i + 1, " of ", violations.size(), ", ",
                    Describe(violations[i]));
  }
  return out;
}

}  // namespace weir::oracle
