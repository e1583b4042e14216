#include "test/model/model.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "api/batch.h"
#include "api/jobflow.h"
#include "api/jobtemplate.h"
#include "api/meta.h"
#include "base/json_path.h"
#include "kube/client.h"
#include "reconcile/batch_plan.h"
#include "reconcile/children.h"
#include "reconcile/flow_plan.h"
#include "reconcile/owner_writes.h"
#include "test/model/world.h"
#include "test/oracle/history.h"

namespace weir::model {
namespace {

using nlohmann::json;

constexpr char kMain[] = "main";
constexpr int kSettleRounds = 200;

// The controller-wide defaults the model's reconciles use (flags).
reconcile::BatchDefaults Defaults() {
  reconcile::BatchDefaults d;
  d.image_pull_grace = absl::Seconds(30);
  d.idle_timeout = absl::Seconds(60);
  return d;
}

std::string NameOf(const json& o) { return o["metadata"].value("name", ""); }
bool Deleting(const json& o) { return o["metadata"].contains("deletionTimestamp"); }
std::string PodPhase(const json& pod) { return pod["status"].value("phase", "Pending"); }
bool PodEnded(const json& pod) { return PodPhase(pod) == "Succeeded" || PodPhase(pod) == "Failed"; }
bool PodRunning(const json& pod) {
  const json& c = JsonAt(pod, {"status", "containerStatuses"});
  return c.is_array() && !c.empty() && c[0]["state"].contains("running");
}
bool PodWaiting(const json& pod) {
  const json& c = JsonAt(pod, {"status", "containerStatuses"});
  return c.is_array() && !c.empty() && c[0]["state"].contains("waiting");
}
std::string JobOfPod(const json& pod) {
  return pod["metadata"]["labels"].value("batch.kubernetes.io/job-name", "");
}

// ---- The search state ----

struct State {
  World world;
  // The view before the last move: what a lagging cache shows.
  std::optional<World::View> past;
  int faults = 0, stale = 0, refusals = 0;
};

// The world's facts record each user action taken ("user <action>"), with
// the phase it met.
std::string UserFact(const std::string& action) { return "user " + action; }
bool Asked(const World& world, const std::string& action) {
  return world.facts().contains(UserFact(action));
}
int UserActions(const World& world) {
  return static_cast<int>(
      std::count_if(world.facts().begin(), world.facts().end(),
                    [](const auto& f) { return f.first.starts_with("user "); }));
}

// Replaces every resourceVersion by its rank among those in `j`, so states
// that differ only in how many writes led to them are one state.
void RankResourceVersions(json& j) {
  std::set<int64_t> seen;
  std::function<void(json&, bool)> walk = [&](json& node, bool rewrite) {
    if (node.is_object()) {
      for (auto& [key, value] : node.items()) {
        if (value.is_string() && (key == "resourceVersion" || key == "templateResourceVersion")) {
          int64_t rv = 0;
          if (!absl::SimpleAtoi(value.get<std::string>(), &rv)) continue;
          if (rewrite) {
            value = std::distance(seen.begin(), seen.find(rv));
          } else {
            seen.insert(rv);
          }
        } else {
          walk(value, rewrite);
        }
      }
    } else if (node.is_array()) {
      for (json& item : node) walk(item, rewrite);
    }
  };
  walk(j, false);
  walk(j, true);
}

// The state's identity for deduplication: the world and the lagging view.
// The budgets left are not part of it (the seen table compares them).
size_t HashOf(const State& s) {
  json c = {{"world", s.world.Canonical()},
            {"past", s.past.has_value() ? World::Canonical(*s.past) : json()}};
  RankResourceVersions(c);
  return absl::HashOf(c.dump());
}

// What a path may still spend from a state. A state reached again with
// more of some budget than every earlier visit had (a shorter path to it, a
// fault not yet used) is explored again: skipping it would cut moves the
// bounds allow. (The user actions left follow from the state: the world's
// facts record those taken.)
struct Left {
  int depth = 0, faults = 0, stale = 0, refusals = 0;

  bool Covers(const Left& o) const {
    return depth >= o.depth && faults >= o.faults && stale >= o.stale && refusals >= o.refusals;
  }
};

// True if `a` and `b` are the same world: a move that stored nothing (a
// write that failed before its first effect) leads to a state the one
// before it covers.
bool SameWorld(const World& a, const World& b) {
  return a.history() == b.history() && a.now() == b.now() && a.facts() == b.facts() &&
         a.view().templates == b.view().templates;
}

// ---- One reconcile, as the reconcilers carry it out ----

struct Reconciled {
  int writes = 0;
  std::vector<std::string> verbs;  // of the write calls, in order
  std::optional<absl::Time> wake_at;
  absl::Status status;
};

// The owner's children, confirmed gone ones and live reads as
// PlanWithChildren (owner_writes.h) collects them, and the plan.
template <typename Input, typename PlanFn, typename VerifyFn>
absl::StatusOr<std::invoke_result_t<PlanFn, const Input&>> PlanWithLiveChecks(
    const World::View& view, const reconcile::OwnerWrites& writes, Input& in, PlanFn plan,
    VerifyFn verify, std::deque<json>& live) {
  for (const auto& [name, job] : view.jobs) in.jobs.push_back(&job);
  for (const auto& [name, pod] : view.pods) in.pods.push_back(&pod);
  for (int round = 0; round < reconcile::kVerifyRounds; ++round) {
    auto planned = plan(in);
    const std::vector<std::string> names = verify(planned);
    if (names.empty()) return planned;
    if (absl::Status s = writes.VerifyJobs("model", names, live, in.jobs, in.jobs_gone); !s.ok()) {
      return s;
    }
  }
  return absl::UnavailableError("the Jobs could not be verified");
}

// BatchReconciler::Reconcile (batch_reconciler.cc) over `view`.
absl::Status ReconcileBatch(World& world, const World::View& view, kube::Client& client,
                            std::optional<absl::Time>& wake_at) {
  const json& object = *view.owner;
  reconcile::OwnerWrites writes(&client, kube::resources::Batches(), "Batch");
  reconcile::BatchInput in;
  in.batch = api::ParseBatch(object);
  in.defaults = Defaults();
  in.now = world.now();
  if (in.batch.spec.ok() && view.templates.contains(in.batch.spec->template_name)) {
    in.template_job_spec =
        api::ParseJobTemplate(view.templates.at(in.batch.spec->template_name)).job_spec;
  }
  std::deque<json> live;
  absl::StatusOr<reconcile::BatchPlan> planned = PlanWithLiveChecks(
      view, writes, in, reconcile::PlanBatch,
      [](const reconcile::BatchPlan& p) {
        return p.verify_job.has_value() ? std::vector<std::string>{*p.verify_job}
                                        : std::vector<std::string>{};
      },
      live);
  if (!planned.ok()) return planned.status();
  reconcile::BatchPlan& plan = *planned;
  const api::ObjectMeta& meta = in.batch.metadata;
  wake_at = plan.wake_at;
  if (plan.add_finalizer) return writes.SetFinalizer(object, true);
  const reconcile::ChildOwner children = reconcile::ChildOwner::Batch("model", meta.name, meta.uid);
  if (plan.create_job.has_value()) {
    absl::StatusOr<std::optional<json>> owner = writes.LiveOwner(meta);
    if (!owner.ok()) return owner.status();
    if (!owner->has_value()) return absl::OkStatus();
    const api::Batch current = api::ParseBatch(**owner);
    if (current.spec.ok() && current.spec->cancel) return absl::OkStatus();
    absl::StatusOr<reconcile::CreatedJob> created =
        writes.CreateJob(children, *plan.create_job, **owner);
    if (!created.ok()) return created.status();
    if (!created->exists) {
      return writes
          .WriteStatus(object, api::BatchStatusToJson(reconcile::StatusAfterCreateRefused(
                                   in.batch, plan.status.value_or(in.batch.status),
                                   created->refused_message, world.now())))
          .status();
    }
  }
  std::optional<json> status;
  if (plan.status.has_value()) status = api::BatchStatusToJson(*plan.status);
  return writes
      .Converge(object, children, reconcile::ConvergenceOf(plan, std::move(status)), world.now(),
                [] {})
      .status();
}

// FlowReconciler::Reconcile (flow_reconciler.cc) over `view`.
absl::Status ReconcileFlow(World& world, const World::View& view, kube::Client& client,
                           std::optional<absl::Time>& wake_at) {
  const json& object = *view.owner;
  reconcile::OwnerWrites writes(&client, kube::resources::JobFlows(), "JobFlow");
  reconcile::FlowInput in;
  in.flow = api::ParseJobFlow(object);
  in.defaults = Defaults();
  in.now = world.now();
  for (const auto& [name, t] : view.templates) {
    api::JobTemplate parsed = api::ParseJobTemplate(t);
    in.templates.emplace(name, reconcile::FlowTemplate{std::move(parsed.job_spec),
                                                       parsed.metadata.resource_version});
  }
  std::deque<json> live;
  absl::StatusOr<reconcile::FlowPlan> planned = PlanWithLiveChecks(
      view, writes, in, reconcile::PlanJobFlow,
      [](const reconcile::FlowPlan& p) { return p.verify_jobs; }, live);
  if (!planned.ok()) return planned.status();
  reconcile::FlowPlan& plan = *planned;
  const api::ObjectMeta& meta = in.flow.metadata;
  wake_at = plan.wake_at;
  if (plan.add_finalizer) return writes.SetFinalizer(object, true);
  if (!plan.create_jobs.empty()) {
    absl::StatusOr<std::optional<json>> owner = writes.LiveOwner(meta);
    if (!owner.ok()) return owner.status();
    if (!owner->has_value() || api::ParseJobFlow(**owner).metadata.generation != meta.generation) {
      return absl::OkStatus();
    }
    for (const reconcile::FlowJobToCreate& create : plan.create_jobs) {
      std::string template_name;
      for (const api::FlowStep& s : in.flow.spec->steps) {
        if (s.name == create.step) template_name = s.template_name;
      }
      absl::StatusOr<reconcile::CreatedJob> created = writes.CreateJob(
          reconcile::ChildOwner::FlowStep("model", meta.name, meta.uid, create.step, template_name),
          create.job, **owner);
      if (!created.ok()) return created.status();
      if (created->exists) continue;
      plan.status = reconcile::StatusAfterStepCreateRefused(
          in.flow, plan.status.value_or(in.flow.status), create.step, create.attempt,
          created->refused_message, world.now());
    }
  }
  std::optional<json> status;
  if (plan.status.has_value()) status = api::JobFlowStatusToJson(*plan.status);
  return writes
      .Converge(object, reconcile::ChildOwner::FlowStep("model", meta.name, meta.uid, "", ""),
                reconcile::ConvergenceOf(plan, std::move(status)), world.now(), [] {})
      .status();
}

// One reconcile of `world` planned from `view` (the world's own, or a
// lagging one), with `faults`.
Reconciled Reconcile(World& world, const World::View& view, FaultPlan faults) {
  Reconciled out;
  ModelClient client(&world, faults);
  if (view.owner.has_value()) {
    out.status = world.is_flow() ? ReconcileFlow(world, view, client, out.wake_at)
                                 : ReconcileBatch(world, view, client, out.wake_at);
  }
  out.writes = client.writes();
  out.verbs = client.write_verbs();
  return out;
}

// ---- World moves ----

json ContainerStatus(const json& state) {
  return json::array({{{"name", kMain}, {"state", state}, {"ready", state.contains("running")}}});
}

// The job controller creates the pod of `job`, from its pod template.
json PodOf(const json& job, absl::Time now) {
  const json& tmpl = job["spec"]["template"];
  json labels = tmpl["metadata"].value("labels", json::object());
  labels["batch.kubernetes.io/job-name"] = NameOf(job);
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata",
           {{"name", NameOf(job) + "-p"},
            {"namespace", "model"},
            {"creationTimestamp", api::FormatRfc3339(now)},
            {"labels", labels},
            {"finalizers", tmpl["metadata"].value("finalizers", json::array())},
            {"ownerReferences", json::array({{{"apiVersion", "batch/v1"},
                                              {"kind", "Job"},
                                              {"name", NameOf(job)},
                                              {"uid", job["metadata"]["uid"]},
                                              {"controller", true}}})}}},
          {"spec", tmpl["spec"]},
          {"status", {{"phase", "Pending"}}}};
}

// Ends `pod` (phase, main container terminated) and marks its Job as the
// job controller would (backoffLimit 0).
void EndPod(World& world, json pod, int exit_code, const std::string& reason) {
  const std::string at = api::FormatRfc3339(world.now());
  json terminated = {{"exitCode", exit_code}, {"startedAt", at}, {"finishedAt", at}};
  if (!reason.empty()) terminated["reason"] = reason;
  pod["status"]["phase"] = exit_code == 0 ? "Succeeded" : "Failed";
  pod["status"]["containerStatuses"] = ContainerStatus({{"terminated", terminated}});
  if (reason == "Evicted") {
    pod["status"]["reason"] = "Evicted";
    pod["status"]["conditions"] = json::array({{{"type", "DisruptionTarget"},
                                                {"status", "True"},
                                                {"reason", "EvictionByEvictionAPI"},
                                                {"lastTransitionTime", at}}});
  }
  const std::string job_name = JobOfPod(pod);
  world.Store(oracle::Kind::kPod, std::move(pod));
  if (world.view().jobs.contains(job_name)) {
    json job = world.view().jobs.at(job_name);
    job["status"]["conditions"] = json::array({{{"type", exit_code == 0 ? "Complete" : "Failed"},
                                                {"status", "True"},
                                                {"lastTransitionTime", at}}});
    world.Store(oracle::Kind::kJob, std::move(job));
  }
  world.Collect();
}

struct Move {
  std::string label;
  std::function<void(State&)> apply;
};

// The world's moves from `s`. `settle` keeps only the deterministic ones a
// quiet world makes (pods start and end with exit 0; stopped pods stop).
std::vector<Move> WorldMoves(const State& s, const Bounds& bounds, bool settle) {
  std::vector<Move> moves;
  const World::View& v = s.world.view();
  const auto enabled = [&](const std::string& outcome) {
    return !settle && std::find(bounds.outcomes.begin(), bounds.outcomes.end(), outcome) !=
                          bounds.outcomes.end();
  };
  for (const auto& [name, job] : v.jobs) {
    const bool has_pod = std::any_of(v.pods.begin(), v.pods.end(),
                                     [&](const auto& p) { return JobOfPod(p.second) == name; });
    // One pod per Job (backoffLimit 0), none once it ended or was refused.
    if (has_pod || Deleting(job) || s.world.facts().contains(name)) continue;
    moves.push_back({"job controller creates the pod of " + name, [name](State& n) {
                       n.world.Store(oracle::Kind::kPod,
                                     PodOf(n.world.view().jobs.at(name), n.world.now()));
                     }});
  }
  for (const auto& [name, pod] : v.pods) {
    const std::string job = JobOfPod(pod);
    if (PodEnded(pod)) continue;
    if (Deleting(pod)) {
      if (PodRunning(pod)) {
        moves.push_back({"kubelet stops " + name + " (exit 143)", [name, job](State& n) {
                           n.world.facts().try_emplace(job, "Stopped");
                           EndPod(n.world, n.world.view().pods.at(name), 143, "Error");
                         }});
      }
      continue;
    }
    if (!PodRunning(pod)) {
      moves.push_back({name + " starts", [name](State& n) {
                         json p = n.world.view().pods.at(name);
                         p["status"]["phase"] = "Running";
                         p["status"]["containerStatuses"] = ContainerStatus(
                             {{"running", {{"startedAt", api::FormatRfc3339(n.world.now())}}}});
                         n.world.Store(oracle::Kind::kPod, std::move(p));
                       }});
      if (enabled("ImagePull") && !PodWaiting(pod)) {
        moves.push_back(
            {name + " waits: ErrImagePull", [name, job](State& n) {
               json p = n.world.view().pods.at(name);
               p["status"]["containerStatuses"] = ContainerStatus(
                   {{"waiting",
                     {{"reason", "ErrImagePull"}, {"message", "model: no such image"}}}});
               n.world.facts()[job] = "ImagePull";
               n.world.Store(oracle::Kind::kPod, std::move(p));
             }});
      }
    } else {
      struct End {
        const char* outcome;
        int exit_code;
        const char* reason;
      };
      for (const End& e : {End{"Succeeded", 0, "Completed"}, End{"Error", 1, "Error"},
                           End{"OOMKilled", 137, "OOMKilled"}, End{"Evicted", 137, "Evicted"}}) {
        if (!(settle && e.exit_code == 0) && !enabled(e.outcome)) continue;
        moves.push_back({absl::StrFormat("%s ends: %s (exit %d)", name, e.outcome, e.exit_code),
                         [name, job, e](State& n) {
                           n.world.facts()[job] = e.outcome;
                           EndPod(n.world, n.world.view().pods.at(name), e.exit_code, e.reason);
                         }});
      }
    }
    if (enabled("PodDeleted")) {
      moves.push_back({"someone deletes pod " + name, [name, job](State& n) {
                         json p = n.world.view().pods.at(name);
                         p["metadata"]["deletionTimestamp"] = api::FormatRfc3339(n.world.now());
                         n.world.facts()[job] = "PodDeleted";
                         n.world.Store(oracle::Kind::kPod, std::move(p));
                         n.world.Collect();
                       }});
    }
  }
  return moves;
}

// ---- User actions ----

// The stored phase of the owner, or of step `step`, when a user acts: the
// final check needs to know whether the user acted before the end.
std::string StoredPhase(const json& owner, const std::string& step) {
  const json& status = JsonAt(owner, {"status"});
  if (step.empty()) return status.is_object() ? status.value("phase", "") : "";
  for (const json& s : JsonAt(status, {"steps"})) {
    if (s.value("name", "") == step) return s.value("phase", "");
  }
  return "";
}

std::vector<Move> UserMoves(const State& s, const Scenario& scenario, const Bounds& bounds) {
  std::vector<Move> moves;
  const std::optional<json>& owner = s.world.view().owner;
  if (!owner.has_value() || Deleting(*owner) || UserActions(s.world) >= bounds.max_user_actions) {
    return moves;
  }
  for (const std::string& action : scenario.user_actions) {
    if (Asked(s.world, action)) continue;
    if (action == "resume" && !Asked(s.world, "suspend")) continue;
    const auto spec_edit = [action](std::function<void(json&)> edit) {
      return [action, edit](State& n) {
        json o = *n.world.view().owner;
        edit(o["spec"]);
        o["metadata"]["generation"] = o["metadata"].value("generation", 1) + 1;
        n.world.Store(n.world.is_flow() ? oracle::Kind::kJobFlow : oracle::Kind::kBatch,
                      std::move(o));
      };
    };
    std::function<void(State&)> apply;
    std::string step;
    if (action == "cancel") {
      apply = spec_edit([](json& spec) { spec["cancel"] = true; });
    } else if (action == "suspend" || action == "resume") {
      const bool suspend = action == "suspend";
      apply = spec_edit([suspend](json& spec) { spec["suspend"] = suspend; });
    } else if (absl::StartsWith(action, "cancel-step:")) {
      step = action.substr(std::string("cancel-step:").size());
      apply = spec_edit([step](json& spec) {
        for (json& st : spec["steps"]) {
          if (st.value("name", "") == step) st["cancel"] = true;
        }
      });
    } else if (action == "delete") {
      apply = [](State& n) {
        json o = *n.world.view().owner;
        o["metadata"]["deletionTimestamp"] = api::FormatRfc3339(n.world.now());
        // The API server bumps the generation when it sets deletionTimestamp.
        o["metadata"]["generation"] = o["metadata"].value("generation", 1) + 1;
        n.world.Store(n.world.is_flow() ? oracle::Kind::kJobFlow : oracle::Kind::kBatch,
                      std::move(o));
      };
    } else if (action == "edit-template") {
      apply = [](State& n) {
        for (const auto& [name, t] : n.world.view().templates) {
          json edited = t;
          edited["spec"]["jobSpec"]["template"]["spec"]["containers"][0]["image"] = "busybox:2";
          n.world.StoreTemplate(std::move(edited));
        }
      };
    }
    const std::string phase = StoredPhase(*owner, step);
    moves.push_back({"user: " + action, [action, apply, phase](State& n) {
                       n.world.facts()[UserFact(action)] = phase;
                       apply(n);
                     }});
  }
  return moves;
}

// ---- Liveness: the end a quiet world must reach ----

bool Terminal(const std::string& phase) {
  return phase == "Succeeded" || phase == "Failed" || phase == "Killed" || phase == "Canceled" ||
         phase == "Skipped";
}

// The reason a failed attempt must record for what the world did to it.
std::string ExpectedReason(const std::string& fact) {
  if (fact == "ImagePull") return "ErrImagePull";
  if (fact == "Rejected") return "JobRejected";
  return fact;  // Error, OOMKilled, Evicted, PodDeleted
}

// A unit's (Batch's or step's) final phase against what the world did to
// its last attempt. `stop_asked`: a user or the flow may have stopped it;
// `before`: the unit's phase when the user asked, if terminal then.
std::string JudgeUnit(const std::string& what, const json& unit, const World& world,
                      bool stop_asked, const std::string& before) {
  const std::string phase = unit.value("phase", "");
  if (!Terminal(phase)) return absl::StrCat(what, " ends ", phase, ", not a terminal phase");
  if (Terminal(before)) {
    return phase == before ? ""
                           : absl::StrCat(what, " was ", before, " before the user acted, ",
                                          "and ends ", phase);
  }
  const json& attempts = JsonAt(unit, {"attempts"});
  const json last = attempts.is_array() && !attempts.empty() ? attempts.back() : json();
  const std::string job = last.is_object() ? last.value("job", "") : "";
  const auto fact = world.facts().find(job);
  const std::string did = fact == world.facts().end() ? "" : fact->second;
  if (phase == "Succeeded" && did != "Succeeded") {
    return absl::StrCat(what, " ends Succeeded but its last Job (", job, ") ",
                        did.empty() ? "never ran" : did);
  }
  if (phase == "Canceled" && !stop_asked) {
    return absl::StrCat(what, " ends Canceled but nobody asked it to stop");
  }
  if (did == "Succeeded" && phase != "Succeeded" && !stop_asked) {
    return absl::StrCat(what, " ends ", phase, " but its last Job (", job, ") succeeded");
  }
  if (phase == "Failed" || phase == "Killed") {
    const std::string reason = last.is_object() ? last.value("terminationReason", "") : "";
    if (did.empty() || reason != ExpectedReason(did)) {
      return absl::StrCat(what, " ends ", phase, " ", reason, " but its last Job (", job, ") ",
                          did.empty() ? "never ended" : did);
    }
  }
  return "";
}

bool DependencyHolds(const std::string& condition, const std::string& phase) {
  if (condition == "Failed") return phase == "Failed" || phase == "Killed";
  if (condition == "Completed") return Terminal(phase);
  if (condition == "Canceled") return phase == "Canceled";
  return phase == "Succeeded";
}

// Empty if the quiet world's end is right.
std::string JudgeEnd(const World& world) {
  const World::View& v = world.view();
  const auto asked = [&](const std::string& action) { return Asked(world, action); };
  const auto before = [&](const std::string& action) {
    auto it = world.facts().find(UserFact(action));
    return it == world.facts().end() ? "" : it->second;
  };
  if (!v.jobs.empty() || !v.pods.empty()) {
    return absl::StrCat(v.jobs.size(), " Jobs and ", v.pods.size(), " pods are left at the end");
  }
  if (asked("delete")) return v.owner.has_value() ? "the deleted owner is still there" : "";
  if (!v.owner.has_value()) return "the owner is gone but nobody deleted it";
  const json& owner = *v.owner;
  const json& status = JsonAt(owner, {"status"});
  bool released = false;
  for (const json& c : JsonAt(status, {"conditions"})) {
    released |= c.value("type", "") == "ResourcesReleased" && c.value("status", "") == "True";
  }
  // Released is said only of an owner that had children.
  bool had_children = !JsonAt(status, {"attempts"}).empty();
  for (const json& s : JsonAt(status, {"steps"})) had_children |= !JsonAt(s, {"attempts"}).empty();
  if (had_children && !released) return "the owner ended without ResourcesReleased=True";
  const bool cancel = asked("cancel");
  if (!world.is_flow()) {
    return JudgeUnit("the Batch", status, world, cancel, before("cancel"));
  }
  // A JobFlow: each step, then the flow.
  const json& spec = owner["spec"];
  const bool stop_flow = spec.value("onStepFailure", "StopFlow") == "StopFlow";
  std::map<std::string, std::string> phases;
  for (const json& s : JsonAt(status, {"steps"}))
    phases[s.value("name", "")] = s.value("phase", "");
  bool any_failed = false;
  for (const auto& [name, phase] : phases) any_failed |= phase == "Failed" || phase == "Killed";
  for (const json& step : spec["steps"]) {
    const std::string name = step.value("name", "");
    const json* st = nullptr;
    for (const json& s : JsonAt(status, {"steps"})) {
      if (s.value("name", "") == name) st = &s;
    }
    if (st == nullptr) return absl::StrCat("step ", name, " has no status");
    bool deps_hold = true, handler = false;
    for (const json& d : step.value("dependsOn", json::array())) {
      const std::string condition = d.value("condition", "Succeeded");
      handler |= condition != "Succeeded";
      deps_hold &= DependencyHolds(condition, phases[d.value("step", "")]);
    }
    const bool step_cancel = asked("cancel-step:" + name);
    const bool stopped = cancel || step_cancel || (stop_flow && any_failed && !handler);
    const std::string phase = st->value("phase", "");
    if (phase == "Skipped") {
      if (deps_hold && !stopped)
        return absl::StrCat("step ", name, " is Skipped but its dependencies hold");
      continue;
    }
    if (!deps_hold && phase != "Canceled") {
      return absl::StrCat("step ", name, " ends ", phase, " though a dependency does not hold");
    }
    std::string step_before = before("cancel-step:" + name);
    if (step_before.empty() || !Terminal(step_before)) step_before = "";
    if (std::string why = JudgeUnit("step " + name, *st, world, stopped, step_before);
        !why.empty()) {
      return why;
    }
  }
  const std::string phase = status.value("phase", "");
  const bool flow_done_before = Terminal(before("cancel"));
  if (flow_done_before) {
    return phase == before("cancel") ? "" : "the flow ended before its cancel, then changed";
  }
  if (phase == "Canceled" && !cancel) return "the flow ends Canceled but nobody canceled it";
  if (phase == "Succeeded" && any_failed) return "the flow ends Succeeded though a step failed";
  if (phase == "Failed" && !any_failed) return "the flow ends Failed though no step failed";
  if (!Terminal(phase)) return "the flow ends " + phase;
  return "";
}

// ---- The search ----

// What the workers of one search share: the seen table and the result. A
// worker claims a state (with the budget it has left) before exploring it,
// so no two workers explore the same state with the same budget, and a
// state claimed is explored to the end by its claimant: the search stays
// complete whatever the workers' timing.
class SeenTable {
 public:
  SeenTable(const Bounds& bounds, const std::string& name) : bounds_(bounds), name_(name) {}

  // False if an earlier claim of `hash` covers `left`; else claims it and
  // counts it. A revisit is a claim of a known state with more left.
  bool Claim(size_t hash, const Left& left, int depth) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    std::vector<Left>& claims = seen_[hash];
    for (const Left& c : claims) {
      if (c.Covers(left)) return false;
    }
    if (result_.states >= bounds_.max_states) {
      result_.complete = false;
      return false;
    }
    if (claims.empty()) {
      ++result_.states;
    } else {
      ++result_.revisits;
    }
    std::erase_if(claims, [&](const Left& c) { return left.Covers(c); });
    claims.push_back(left);
    result_.max_depth = std::max(result_.max_depth, depth);
    const int64_t visits = result_.states + result_.revisits;
    if (bounds_.progress_every > 0 && visits % bounds_.progress_every == 0) {
      result_.elapsed = absl::Now() - start_;
      std::cerr << Summary(name_, result_) << " so far" << std::endl;
    }
    return true;
  }

  void CountTransition() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    ++result_.transitions;
  }

  // The first violation found wins; the workers stop.
  void Fail(std::string violation) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (result_.violation.empty()) result_.violation = std::move(violation);
    stop_ = true;
  }
  bool stopped() const { return stop_.load(std::memory_order_relaxed); }

  Result Finish() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    result_.elapsed = absl::Now() - start_;
    return result_;
  }

 private:
  const Bounds& bounds_;
  const std::string& name_;
  const absl::Time start_ = absl::Now();
  std::atomic<bool> stop_ = false;
  absl::Mutex mu_;
  absl::flat_hash_map<size_t, std::vector<Left>> seen_ ABSL_GUARDED_BY(mu_);
  Result result_ ABSL_GUARDED_BY(mu_);
};

// A state at the split depth and the path to it: a subtree of the search
// for one worker.
struct Subtree {
  State state;
  std::vector<std::string> trace;
};

// Depth-first search over one seen table. With one worker it runs from the
// initial state to the end. With more, it first runs to kSplitDepth and
// collects the states there (Split); then each worker explores subtrees
// taken from that list in turn (Explore), so that no worker waits while
// another explores a part the first has claimed.
class Search {
 public:
  static constexpr int kSplitDepth = 3;

  Search(const Scenario& scenario, const Bounds& bounds, SeenTable& table)
      : scenario_(scenario), bounds_(bounds), table_(table) {}

  // From the initial state; if `split` is not null, stops at kSplitDepth
  // and appends the states there to it.
  void Run(std::vector<Subtree>* split) {
    split_ = split;
    const json& owner = scenario_.owner;
    State initial{.world = World(owner, scenario_.templates, absl::FromUnixSeconds(1'800'000'000)),
                  .past = std::nullopt};
    trace_.push_back("user: create " + owner.value("kind", "") + " " + NameOf(owner));
    Visit(initial);
    split_ = nullptr;
  }

  void Explore(const Subtree& subtree) {
    trace_ = subtree.trace;
    Visit(subtree.state);
  }

 private:
  // Explores from `s` unless an earlier visit covers it.
  void Visit(const State& s) {
    if (split_ != nullptr && static_cast<int>(trace_.size()) - 1 == kSplitDepth) {
      split_->push_back({s, trace_});
      return;
    }
    table_.CountTransition();
    if (table_.stopped()) return;
    const int depth = static_cast<int>(trace_.size()) - 1;
    const Left left{.depth = bounds_.max_depth - depth,
                    .faults = bounds_.max_faults - s.faults,
                    .stale = bounds_.max_stale - s.stale,
                    .refusals = bounds_.max_refusals - s.refusals};
    if (!table_.Claim(HashOf(s), left, depth)) return;
    if (std::string why = CheckState(s); !why.empty()) {
      Fail(why);
      return;
    }
    if (depth >= bounds_.max_depth) return;
    std::vector<Move> moves = Successors(s);
    for (Move& m : moves) {
      State next = s;
      if (bounds_.max_stale > next.stale) next.past = s.world.view();
      m.apply(next);
      if (SameWorld(next.world, s.world)) continue;
      // A lagging view no older than the world is no lagging view.
      if (next.stale >= bounds_.max_stale || next.past == next.world.view()) next.past.reset();
      trace_.push_back(m.label);
      Visit(next);
      trace_.pop_back();
      if (table_.stopped()) return;
    }
  }

  std::vector<Move> Successors(const State& s) {
    std::vector<Move> moves = UserMoves(s, scenario_, bounds_);
    for (Move& m : WorldMoves(s, bounds_, /*settle=*/false)) moves.push_back(std::move(m));
    // The clock, to the next wake-up a fresh plan asks for.
    World probe = s.world;
    const Reconciled fresh = Reconcile(probe, probe.view(), {});
    if (fresh.wake_at.has_value() && *fresh.wake_at > s.world.now()) {
      const absl::Time at = *fresh.wake_at;
      moves.push_back({absl::StrCat("clock: +", absl::FormatDuration(at - s.world.now())),
                       [at](State& n) { n.world.set_now(at); }});
    }
    if (fresh.writes > 0 || !fresh.status.ok()) AddReconciles(s, fresh, moves);
    if (s.past.has_value() && s.stale < bounds_.max_stale) {
      moves.push_back({"reconcile from the view before the last move (a lagging cache)",
                       [past = *s.past](State& n) {
                         Reconcile(n.world, past, {});
                         ++n.stale;
                       }});
    }
    return moves;
  }

  // A fresh reconcile, and the same reconcile with each of its write calls
  // failing in each way the budget allows.
  void AddReconciles(const State& s, const Reconciled& fresh, std::vector<Move>& moves) {
    moves.push_back({"reconcile: " + Writes(fresh.verbs),
                     [](State& n) { Reconcile(n.world, n.world.view(), {}); }});
    for (int i = 0; i < fresh.writes; ++i) {
      std::vector<std::pair<FaultPlan::Kind, std::string>> kinds;
      if (s.faults < bounds_.max_faults) {
        kinds.push_back({FaultPlan::Kind::kRejected, "fails (500)"});
        kinds.push_back({FaultPlan::Kind::kTimeoutApplied,
                         "is stored but times out (or the controller crashes)"});
      }
      if (s.refusals < bounds_.max_refusals && fresh.verbs[i] == "create") {
        kinds.push_back({FaultPlan::Kind::kInvalid, "is refused (422)"});
      }
      for (const auto& [kind, what] : kinds) {
        const FaultPlan plan{i, kind};
        moves.push_back({absl::StrCat("reconcile: ", Writes(fresh.verbs), "; write ", i + 1, " (",
                                      fresh.verbs[i], ") ", what),
                         [plan](State& n) {
                           Reconcile(n.world, n.world.view(), plan);
                           ++(plan.kind == FaultPlan::Kind::kInvalid ? n.refusals : n.faults);
                         }});
      }
    }
  }

  static std::string Writes(const std::vector<std::string>& verbs) {
    return verbs.empty() ? "no writes" : absl::StrJoin(verbs, ", ");
  }

  // Safety on the path so far and liveness from `s`; "" if both hold. The
  // quiet world's run extends the path's history, so the oracle judges
  // both together.
  std::string CheckState(const State& s) {
    State quiet = s;
    std::string end = Settle(quiet);
    oracle::History history;
    std::vector<const Change*> changes;
    for (const Change* c = quiet.world.history().get(); c != nullptr; c = c->previous.get()) {
      changes.push_back(c);
    }
    for (auto it = changes.rbegin(); it != changes.rend(); ++it) {
      if (absl::Status st = history.Add((*it)->kind, (*it)->event); !st.ok()) {
        return std::string(st.message());
      }
    }
    const oracle::Verdict verdict = history.Judge();
    if (!verdict.violations.empty()) return "the oracle: " + history.Report(verdict.violations);
    if (verdict.stats.jobs_in_cancel_window > 0) {
      return "invariant 2: a Job was created after its owner or step was asked to stop";
    }
    if (!end.empty()) return "liveness: " + end;
    return "";
  }

  // Runs the quiet world from `s` to a fixed point; "" if it reaches one
  // and the end is right.
  std::string Settle(State& s) {
    std::vector<std::string>& steps = settle_steps_;
    steps.clear();
    if (s.world.view().owner.has_value() &&
        JsonAt(*s.world.view().owner, {"spec", "suspend"}) == true) {
      json o = *s.world.view().owner;
      o["spec"]["suspend"] = false;
      o["metadata"]["generation"] = o["metadata"].value("generation", 1) + 1;
      s.world.Store(oracle::Kind::kJobFlow, std::move(o));
      steps.push_back("user: resume (a suspended flow waits by design)");
    }
    for (int round = 0; round < kSettleRounds; ++round) {
      std::vector<Move> moves = WorldMoves(s, bounds_, /*settle=*/true);
      if (!moves.empty()) {
        steps.push_back(moves.front().label);
        moves.front().apply(s);
        continue;
      }
      const Reconciled r = Reconcile(s.world, s.world.view(), {});
      steps.push_back("reconcile: " + Writes(r.verbs) +
                      (r.status.ok() ? "" : absl::StrCat(" -> ", r.status.message())));
      if (r.writes > 0 || !r.status.ok()) continue;
      if (r.wake_at.has_value() && *r.wake_at > s.world.now()) {
        steps.push_back(absl::StrCat("clock: +", absl::FormatDuration(*r.wake_at - s.world.now())));
        s.world.set_now(*r.wake_at);
        continue;
      }
      return JudgeEnd(s.world);
    }
    return absl::StrCat("no fixed point after ", kSettleRounds, " rounds");
  }

  // The numbered trace: the path, then the quiet world's run from its end.
  void Fail(const std::string& why) {
    std::string out =
        absl::StrCat("violation in ", scenario_.name, ": ", why, "\ntrace (", trace_.size(),
                     " moves, then ", settle_steps_.size(), " with no users or faults):\n");
    for (size_t i = 0; i < trace_.size(); ++i) {
      absl::StrAppend(&out, "  ", i + 1, ". ", trace_[i], "\n");
    }
    for (size_t i = 0; i < settle_steps_.size(); ++i) {
      absl::StrAppend(&out, "  ", trace_.size() + i + 1, ". (quiet) ", settle_steps_[i], "\n");
    }
    table_.Fail(std::move(out));
  }

  const Scenario& scenario_;
  const Bounds& bounds_;
  SeenTable& table_;
  std::vector<Subtree>* split_ = nullptr;
  std::vector<std::string> trace_;
  std::vector<std::string> settle_steps_;  // of the latest Settle
};

}  // namespace

Result Check(const Scenario& scenario, const Bounds& bounds) {
  SeenTable table(bounds, scenario.name);
  if (bounds.threads <= 1) {
    Search(scenario, bounds, table).Run(nullptr);
    return table.Finish();
  }
  std::vector<Subtree> subtrees;
  Search(scenario, bounds, table).Run(&subtrees);
  std::atomic<size_t> next = 0;
  std::vector<std::thread> workers;
  for (int i = 0; i < bounds.threads; ++i) {
    workers.emplace_back([&] {
      Search search(scenario, bounds, table);
      for (size_t at = next++; at < subtrees.size() && !table.stopped(); at = next++) {
        search.Explore(subtrees[at]);
      }
    });
  }
  for (std::thread& w : workers) w.join();
  return table.Finish();
}

std::string Summary(const std::string& name, const Result& result) {
  return absl::StrFormat("%s: %d states (%d revisited), %d transitions, depth %d, %s%s", name,
                         result.states, result.revisits, result.transitions, result.max_depth,
                         absl::FormatDuration(absl::Trunc(result.elapsed, absl::Milliseconds(100))),
                         result.complete ? "" : " (cut at max_states)");
}

}  // namespace weir::model
