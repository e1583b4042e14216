#include "kubectl-weir/commands.h"

#include <cmath>
#include <memory>
#include <optional>
#include <regex>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "api/batch.h"
#include "api/jobflow.h"
#include "kube/errors.h"
#include "kubectl-weir/render.h"

namespace weir::cli {
namespace {

constexpr char kFieldManager[] = "kubectl-weir";

kube::PatchOptions Manager() {
  kube::PatchOptions o;
  o.field_manager = kFieldManager;
  return o;
}

kube::ResourceRef RefOf(Kind kind) {
  return kind == Kind::kFlow ? kube::resources::JobFlows() : kube::resources::Batches();
}

// "jobflows.weir.dev/x", as kubectl names an object.
std::string ObjectName(Kind kind, absl::string_view name) {
  return absl::StrCat(RefOf(kind).ToString(), "/", name);
}

// The status's message without the " (HTTP 404 NotFound)" that kube's
// errors append for logs: the user sees what the API server said.
std::string UserMessage(const absl::Status& status) {
  std::string m(status.message());
  if (!status.GetPayload(kube::kReasonPayloadUrl).has_value() &&
      !status.GetPayload(kube::kCodePayloadUrl).has_value()) {
    return m;
  }
  static const std::regex kSuffix(R"( \((HTTP [0-9]+( [A-Za-z]+)?|[A-Za-z]+)\)$)");
  return std::regex_replace(m, kSuffix, "");
}

class Runner {
 public:
  Runner(const Invocation& inv, const Io& io)
      : inv_(inv),
        io_(io),
        ref_(RefOf(inv.kind)),
        ns_(inv.all_namespaces ? ""
            : inv.ns.empty()   ? io.default_namespace
                               : inv.ns) {}

  int Run() {
    switch (inv_.command) {
      case Command::kGet:
        return inv_.name.empty() ? List() : Get();
      case Command::kWatch:
        return Watch();
      case Command::kLogs:
        return Logs();
      case Command::kCancel:
        return Cancel();
      case Command::kSuspend:
        return SetSuspend(true);
      case Command::kResume:
        return SetSuspend(false);
      case Command::kWait:
        return Wait();
      case Command::kHelp:
        break;
    }
    io_.out(UsageText());
    return 0;
  }

 private:
  int Fail(absl::string_view message) {
    io_.err(absl::StrCat("Error: ", message, "\n"));
    return 1;
  }
  int Fail(const absl::Status& status) { return Fail(UserMessage(status)); }

  RenderOptions Options() const { return {io_.clock->Now(), io_.style}; }

  std::string Render(const nlohmann::json& object) const {
    return inv_.kind == Kind::kFlow ? RenderFlow(object, Options())
                                    : RenderBatch(object, Options());
  }

  static std::string PhaseOf(const nlohmann::json& object) {
    const nlohmann::json* phase = nullptr;
    if (object.is_object() && object.contains("status") && object["status"].is_object() &&
        object["status"].contains("phase")) {
      phase = &object["status"]["phase"];
    }
    return phase != nullptr && phase->is_string() ? phase->get<std::string>() : "";
  }

  int Get() {
    absl::StatusOr<nlohmann::json> object = io_.client->Get(ref_, ns_, inv_.name);
    if (!object.ok()) return Fail(object.status());
    switch (inv_.output) {
      case Output::kJson:
        io_.out(JsonText(*object));
        break;
      case Output::kYaml:
        io_.out(YamlText(*object));
        break;
      case Output::kDot:
        io_.out(RenderFlowDot(*object));
        break;
      case Output::kText:
        io_.out(Render(*object));
        break;
    }
    return 0;
  }

  int List() {
    absl::StatusOr<nlohmann::json> list = io_.client->ListAll(ref_, ns_);
    if (!list.ok()) return Fail(list.status());
    if (inv_.output == Output::kJson) {
      io_.out(JsonText(*list));
      return 0;
    }
    if (inv_.output == Output::kYaml) {
      io_.out(YamlText(*list));
      return 0;
    }
    const std::string text = inv_.kind == Kind::kFlow
                                 ? RenderFlowList(*list, inv_.all_namespaces, Options())
                                 : RenderBatchList(*list, inv_.all_namespaces, Options());
    if (text.empty()) {
      io_.err(inv_.all_namespaces ? std::string("No resources found\n")
                                  : absl::StrCat("No resources found in ", ns_, " namespace.\n"));
      return 0;
    }
    io_.out(text);
    return 0;
  }

  // Follows the object until it is in a terminal phase or `deadline` passes,
  // calling `seen` with every version (the first one read included).
  // Returns the last version, or the error (NotFound once it is deleted,
  // DeadlineExceeded at the deadline).
  absl::StatusOr<nlohmann::json> Follow(absl::Time deadline,
                                        const std::function<void(const nlohmann::json&)>& seen) {
    while (true) {
      absl::StatusOr<nlohmann::json> object = io_.client->Get(ref_, ns_, inv_.name);
      if (!object.ok()) return object.status();
      seen(*object);
      if (IsTerminalPhase(PhaseOf(*object))) return object;
      std::string rv = kube::MetadataString(*object, "resourceVersion");
      const std::string uid = kube::MetadataString(*object, "uid");
      while (true) {
        kube::WatchOptions w;
        w.resource_version = rv;
        w.field_selector = absl::StrCat("metadata.name=", inv_.name);
        if (deadline != absl::InfiniteFuture()) {
          absl::Duration left = deadline - io_.clock->Now();
          if (left <= absl::ZeroDuration()) return Timeout(*object);
          w.timeout_seconds =
              std::max<int64_t>(1, static_cast<int64_t>(std::ceil(absl::ToDoubleSeconds(left))));
        } else {
          w.timeout_seconds = 300;
        }
        absl::StatusOr<std::unique_ptr<kube::WatchStream>> stream = io_.client->Watch(ref_, ns_, w);
        if (!stream.ok()) {
          if (kube::IsGone(stream.status()) || kube::IsExpired(stream.status())) break;
          return stream.status();
        }
        kube::WatchEvent e;
        bool reread = false;
        while ((*stream)->Next(&e)) {
          if (e.type == kube::EventType::kError) {
            reread = true;  // e.g. resourceVersion too old: read it again
            break;
          }
          if (e.type == kube::EventType::kBookmark) {
            rv = kube::MetadataString(e.object, "resourceVersion");
            continue;
          }
          if (kube::MetadataString(e.object, "name") != inv_.name) continue;
          if (e.type == kube::EventType::kDeleted || kube::MetadataString(e.object, "uid") != uid) {
            return absl::NotFoundError(
                absl::StrCat(ref_.ToString(), " \"", inv_.name, "\" was deleted"));
          }
          rv = kube::MetadataString(e.object, "resourceVersion");
          *object = e.object;
          seen(*object);
          if (IsTerminalPhase(PhaseOf(*object))) return object;
        }
        if (reread) break;
        absl::Status end = (*stream)->status();
        if (!end.ok() && !kube::IsTimeout(end) && !kube::IsConnectionFailed(end)) return end;
        if (deadline != absl::InfiniteFuture() && io_.clock->Now() >= deadline) {
          return Timeout(*object);
        }
      }
    }
  }

  absl::Status Timeout(const nlohmann::json& last) const {
    const std::string phase = PhaseOf(last);
    return absl::DeadlineExceededError(
        absl::StrCat("timed out after ", ShortDuration(inv_.timeout.value_or(absl::ZeroDuration())),
                     " waiting for ", ObjectName(inv_.kind, inv_.name), " to finish; it is ",
                     phase.empty() ? "Pending" : phase));
  }

  int Watch() {
    if (!io_.terminal) {
      // Off a terminal: each new rendering once, after the one before.
      std::string last;
      absl::StatusOr<nlohmann::json> end =
          Follow(absl::InfiniteFuture(), [&](const nlohmann::json& object) {
            std::string text = Render(object);
            if (text == last) return;
            last = text;
            io_.out(absl::StrCat(text, "\n"));
          });
      if (!end.ok()) return Fail(end.status());
      return 0;
    }
    // On a terminal: redrawn in place on every change, and every second
    // between changes so that the durations of running steps move. The
    // watch runs on a thread of its own; this one draws.
    struct State {
      std::optional<nlohmann::json> latest;
      bool fresh = false, done = false;
      absl::StatusOr<nlohmann::json> end = absl::UnknownError("not ended");
    };
    absl::Mutex mu;
    State state;
    std::thread follower([&] {
      absl::StatusOr<nlohmann::json> end =
          Follow(absl::InfiniteFuture(), [&](const nlohmann::json& object) {
            absl::MutexLock l(&mu);
            state.latest = object;
            state.fresh = true;
          });
      absl::MutexLock l(&mu);
      state.end = std::move(end);
      state.done = true;
    });
    absl::StatusOr<nlohmann::json> end = absl::UnknownError("not ended");
    {
      std::string last;
      absl::MutexLock l(&mu);
      const auto woken = [](State* s) { return s->fresh || s->done; };
      while (true) {
        io_.clock->AwaitWithDeadline(mu, absl::Condition(+woken, &state),
                                     io_.clock->Now() + absl::Seconds(1));
        state.fresh = false;
        if (state.latest.has_value()) {
          std::string text = Render(*state.latest);
          if (text != last) {
            io_.out(absl::StrCat("\x1b[H\x1b[2J", text));  // home, clear screen
            last = std::move(text);
          }
        }
        if (state.done) {
          end = state.end;
          break;
        }
      }
    }
    follower.join();
    if (!end.ok()) return Fail(end.status());
    return 0;
  }

  int Wait() {
    const absl::Time deadline =
        inv_.timeout.has_value() ? io_.clock->Now() + *inv_.timeout : absl::InfiniteFuture();
    absl::StatusOr<nlohmann::json> end = Follow(deadline, [](const nlohmann::json&) {});
    if (!end.ok()) return Fail(end.status());
    const std::string phase = PhaseOf(*end);
    std::string why;
    if (inv_.kind == Kind::kBatch) {
      api::BatchStatus s = api::ParseBatch(*end).status;
      if (!s.termination_reason.empty() && phase != "Succeeded") why = s.termination_reason;
      if (s.exit_code.has_value() && phase != "Succeeded") {
        absl::StrAppend(&why, why.empty() ? "" : " ", "(exit ", *s.exit_code, ")");
      }
      if (!s.message.empty()) absl::StrAppend(&why, why.empty() ? "" : ": ", s.message);
    } else {
      why = api::ParseJobFlow(*end).status.message;
    }
    io_.out(absl::StrCat(ObjectName(inv_.kind, inv_.name), " ", io_.style.Phase(phase),
                         why.empty() ? "" : absl::StrCat(": ", why), "\n"));
    return phase == "Succeeded" ? 0 : 1;
  }

  int Cancel() {
    if (inv_.kind == Kind::kFlow && !inv_.step.empty()) return CancelStep();
    absl::StatusOr<nlohmann::json> r =
        io_.client->MergePatch(ref_, ns_, inv_.name, {{"spec", {{"cancel", true}}}}, Manager());
    if (!r.ok()) return Fail(r.status());
    io_.out(absl::StrCat(ObjectName(inv_.kind, inv_.name), " cancel requested", Already(*r), "\n"));
    return 0;
  }

  // " (it has already ended Succeeded)" for a terminal object, else "".
  static std::string Already(const nlohmann::json& object) {
    const std::string phase = PhaseOf(object);
    return IsTerminalPhase(phase) ? absl::StrCat(" (it had already ended ", phase, ")") : "";
  }

  int CancelStep() {
    absl::StatusOr<nlohmann::json> object = io_.client->Get(ref_, ns_, inv_.name);
    if (!object.ok()) return Fail(object.status());
    const nlohmann::json* steps = nullptr;
    if (object->contains("spec") && (*object)["spec"].is_object() &&
        (*object)["spec"].contains("steps") && (*object)["spec"]["steps"].is_array()) {
      steps = &(*object)["spec"]["steps"];
    }
    std::vector<std::string> names;
    std::optional<size_t> index;
    for (size_t i = 0; steps != nullptr && i < steps->size(); ++i) {
      const nlohmann::json& s = (*steps)[i];
      if (!s.is_object() || !s.contains("name") || !s["name"].is_string()) continue;
      names.push_back(s["name"].get<std::string>());
      if (names.back() == inv_.step) index = i;
    }
    if (!index.has_value()) {
      return Fail(absl::StrCat(ref_.ToString(), " \"", inv_.name, "\" has no step \"", inv_.step,
                               "\" (its steps: ", absl::StrJoin(names, ", "), ")"));
    }
    const std::string at = absl::StrCat("/spec/steps/", *index);
    nlohmann::json ops =
        nlohmann::json::array({{{"op", "test"}, {"path", at + "/name"}, {"value", inv_.step}},
                               {{"op", "add"}, {"path", at + "/cancel"}, {"value", true}}});
    absl::StatusOr<nlohmann::json> r = io_.client->JsonPatch(ref_, ns_, inv_.name, ops, Manager());
    if (!r.ok()) {
      return Fail(absl::StrCat("canceling step \"", inv_.step, "\" of ",
                               ObjectName(inv_.kind, inv_.name), ": ", UserMessage(r.status())));
    }
    const api::StepStatus* s = api::FindStepStatus(api::ParseJobFlow(*r).status, inv_.step);
    std::string already;
    if (s != nullptr && IsTerminalPhase(s->phase)) {
      already = absl::StrCat(" (it had already ended ", s->phase, ")");
    }
    io_.out(absl::StrCat(ObjectName(inv_.kind, inv_.name), " step ", inv_.step, " cancel requested",
                         already, "\n"));
    return 0;
  }

  int SetSuspend(bool suspend) {
    absl::StatusOr<nlohmann::json> r =
        io_.client->MergePatch(ref_, ns_, inv_.name, {{"spec", {{"suspend", suspend}}}}, Manager());
    if (!r.ok()) return Fail(r.status());
    io_.out(absl::StrCat(ObjectName(inv_.kind, inv_.name), suspend ? " suspended" : " resumed",
                         Already(*r), "\n"));
    return 0;
  }

  int Logs() {
    absl::StatusOr<nlohmann::json> object = io_.client->Get(ref_, ns_, inv_.name);
    if (!object.ok()) return Fail(object.status());
    const std::string uid = kube::MetadataString(*object, "uid");
    std::vector<api::AttemptStatus> attempts;
    std::string selector;
    std::string container;  // "" = the pod's first container
    std::string what;       // for messages
    if (inv_.kind == Kind::kBatch) {
      api::Batch b = api::ParseBatch(*object);
      attempts = b.status.attempts;
      if (b.spec.ok()) container = b.spec->main_container;
      selector = absl::StrCat("weir.dev/batch-uid=", uid);
      what = ObjectName(inv_.kind, inv_.name);
    } else {
      api::JobFlow f = api::ParseJobFlow(*object);
      bool known = false;
      std::vector<std::string> names;
      if (f.spec.ok()) {
        for (const api::FlowStep& s : f.spec->steps) {
          names.push_back(s.name);
          known = known || s.name == inv_.step;
        }
      }
      const api::StepStatus* s = api::FindStepStatus(f.status, inv_.step);
      if (!known && s == nullptr) {
        return Fail(absl::StrCat(ref_.ToString(), " \"", inv_.name, "\" has no step \"", inv_.step,
                                 "\" (its steps: ", absl::StrJoin(names, ", "), ")"));
      }
      if (s != nullptr) attempts = s->attempts;
      selector = absl::StrCat("weir.dev/flow-uid=", uid, ",weir.dev/step=", inv_.step);
      what = absl::StrCat("step ", inv_.step, " of ", ObjectName(inv_.kind, inv_.name));
    }
    if (attempts.empty()) return Fail(absl::StrCat(what, " has no attempt yet"));
    const api::AttemptStatus* attempt = &attempts.back();
    if (inv_.attempt.has_value()) {
      attempt = nullptr;
      for (const api::AttemptStatus& a : attempts) {
        if (a.attempt == *inv_.attempt) attempt = &a;
      }
      if (attempt == nullptr) {
        return Fail(absl::StrCat(what, " has no attempt ", *inv_.attempt, " (it has ",
                                 attempts.size(), ")"));
      }
    }
    absl::StrAppend(&selector, ",weir.dev/attempt=", attempt->attempt);
    kube::ListOptions lo;
    lo.label_selector = selector;
    absl::StatusOr<nlohmann::json> pods = io_.client->ListAll(kube::resources::Pods(), ns_, lo);
    if (!pods.ok()) return Fail(pods.status());
    // The newest pod of the attempt (there is one, unless a pod was replaced).
    const nlohmann::json items = pods->value("items", nlohmann::json::array());
    const nlohmann::json* pod = nullptr;
    std::string newest;
    for (const nlohmann::json& p : items) {
      const std::string created = kube::MetadataString(p, "creationTimestamp");
      if (pod == nullptr || created >= newest) {
        pod = &p;
        newest = created;
      }
    }
    if (pod == nullptr) {
      return Fail(absl::StrCat("attempt ", attempt->attempt, " of ", what, " has no pod left (Job ",
                               attempt->job.empty() ? "-" : attempt->job,
                               "): weir deletes a finished attempt's Job and pods after "
                               "idleTimeoutSeconds, or it has not started one yet"));
    }
    const std::string pod_name = kube::MetadataString(*pod, "name");
    if (container.empty()) {
      const nlohmann::json first = pod->value("/spec/containers/0/name"_json_pointer, "");
      if (first.is_string()) container = first.get<std::string>();
    }
    kube::PodLogOptions po;
    po.container = container;
    po.follow = inv_.follow;
    po.timeout = inv_.follow ? absl::Hours(24) : absl::Minutes(1);
    absl::Status s = io_.pod_log(ns_, pod_name, po, [&](absl::string_view line) {
      io_.out(line);
      return true;
    });
    if (!s.ok()) {
      return Fail(absl::StrCat("the log of container ", container, " of pod ", pod_name,
                               " (attempt ", attempt->attempt, " of ", what,
                               "): ", UserMessage(s)));
    }
    return 0;
  }

  const Invocation& inv_;
  const Io& io_;
  const kube::ResourceRef ref_;
  const std::string ns_;
};

}  // namespace

int Run(const Invocation& inv, const Io& io) { return Runner(inv, io).Run(); }

}  // namespace weir::cli
