// The workload driver of `make bench-peers` (issue 14): runs the same flows
// on weir, Volcano's JobFlow, Argo Workflows or a raw loop of batch/v1 Jobs
// on the local control plane and measures them with watches, on the
// client's monotonic clock (server timestamps have 1 s resolution).
//
// Usage (KUBECONFIG from the environment; hack/bench-peers.sh drives this
// and starts the system's controllers beforehand):
//   peers_bench run --system=weir|batch|volcano|argo|raw
//       --shape=chain|fanout|single --flows=N --steps=S --width=W
//       --duration=0s --namespace=NS [--creators=8] [--timeout=900s]
//     Creates the namespace if missing and what the system needs (weir and
//     batch: JobTemplate "t"; volcano: a JobTemplate per step), watches pods,
//     the steps' objects (Jobs, vcjobs) and the owners (JobFlows, Batches,
//     Workflows), runs one warm-up flow of the same shape to completion
//     (not counted), then from t0 creates N flows with `creators` threads and
//     waits until each is terminal or --timeout passes. Shapes (steps s0,
//     s1, ...): chain of S steps; fanout 1 -> W -> 1; single, one step.
//     --duration is each pod's sim.weir.dev/duration. raw: the driver is the
//     orchestrator, creating Job <flow>-<step> when its watch shows every
//     dependency's Job Complete (with `creators` more threads).
//     Prints one JSON object on stdout (progress goes to stderr):
//       system, shape, flows, steps (run in all measured flows),
//       wall_s (t0 -> last flow seen terminal, or -> giving up), steps_per_s,
//       flow_latency_p50_s/p99_s (create request sent -> terminal seen),
//       step_latency_p50_ms/p99_ms (steps with dependencies: the last
//         dependency's pod seen ended -> the step's Job, vcjob or, for argo,
//         pod seen created; null without dependencies),
//       status_latency_p50_ms/p99_ms (a step's pod seen ended -> the owner's
//         status seen recording the step terminal; null for raw),
//       created (every object the driver created: namespace, templates,
//         warm-up, flows, raw's Jobs; to subtract from the API server's
//         write counts), succeeded, failed.
//     Terminal: weir's JobFlow status.phase Succeeded, Failed or Canceled (a
//     Batch's also Killed); Volcano's status.state.phase Succeed or Failed;
//     Argo's status.phase Succeeded, Failed or Error; raw: every Job
//     Complete, or one Failed. Exit 0 only if every measured flow got there.
//   peers_bench cleanup --namespace=NS
//     Deletes the namespace (weir's objects there wait for weir-controller
//     to drop its finalizer).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/peers_workload.h"
#include "kube/client.h"
#include "kube/errors.h"
#include "kube/http_client.h"
#include "nlohmann/json.hpp"
#include "test/e2e/support/rest_config.h"

ABSL_FLAG(std::string, system, "", "weir, batch, volcano, argo or raw");
ABSL_FLAG(std::string, shape, "chain", "chain, fanout or single");
ABSL_FLAG(int, flows, 100, "measured flows");
ABSL_FLAG(int, steps, 10, "steps of a chain");
ABSL_FLAG(int, width, 48, "parallel steps of a fan-out");
ABSL_FLAG(std::string, duration, "0s", "each pod's run time (sim.weir.dev/duration)");
ABSL_FLAG(std::string, namespace, "", "the namespace of the run");
ABSL_FLAG(int, creators, 8, "threads creating flows (and, for raw, its next Jobs)");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(900),
          "how long the measured flows may take (and the warm-up flow)");

namespace weir::bench {
namespace {

using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

void Progress(const std::string& message) {
  std::fprintf(stderr, "peers_bench: %s\n", message.c_str());
}

absl::StatusOr<std::unique_ptr<kube::HttpClient>> NewClient() {
  absl::StatusOr<kube::RestConfig> config = e2e::RestConfigFromEnv();
  if (!config.ok()) return config.status();
  config->qps = 0;  // no client-side limit: the driver must not be the bottleneck
  config->max_in_flight = 0;
  config->timeout = absl::Seconds(60);
  return kube::HttpClient::New(*config);
}

// Keeps one resource of the namespace observed: lists it, then watches from
// the list's resourceVersion, resuming after the server ends a watch and
// listing again when the version is too old. Every object is passed to
// `observe` with the instant its list or event arrived.
class WatchLoop {
 public:
  using Observer = std::function<void(const json&, MonoTime)>;

  WatchLoop(kube::Client* client, kube::ResourceRef resource, std::string ns, Observer observe)
      : client_(client),
        resource_(std::move(resource)),
        ns_(std::move(ns)),
        observe_(std::move(observe)) {}
  ~WatchLoop() { Stop(); }

  void Start() {
    thread_ = std::thread([this] { Run(); });
  }

  // Waits for the first list.
  absl::Status WaitListed(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    if (!mu_.AwaitWithTimeout(absl::Condition(&listed_), timeout)) {
      return absl::DeadlineExceededError(absl::StrCat("no list of ", resource_.ToString()));
    }
    return absl::OkStatus();
  }

  void Stop() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
      if (stream_ != nullptr) stream_->Cancel();
    }
    if (thread_.joinable()) thread_.join();
  }

 private:
  bool stopping() {
    absl::MutexLock lock(&mu_);
    return stopping_;
  }

  void Run() {
    std::string version;  // empty: list first
    while (!stopping()) {
      if (version.empty()) {
        absl::StatusOr<json> list = client_->ListAll(resource_, ns_);
        const MonoTime at = SteadyClock::now();
        if (!list.ok()) {
          Progress(absl::StrCat("list ", resource_.ToString(), ": ", list.status().ToString()));
          absl::SleepFor(absl::Seconds(1));
          continue;
        }
        for (const json& item : list->value("items", json::array())) observe_(item, at);
        version = kube::MetadataString(*list, "resourceVersion");
        absl::MutexLock lock(&mu_);
        if (listed_) Progress(absl::StrCat("listed ", resource_.ToString(), " again"));
        listed_ = true;
      }
      version = WatchFrom(version);
    }
  }

  // Watches from `version` until the stream ends; returns the version to
  // resume from, or "" to list again.
  std::string WatchFrom(std::string version) {
    kube::WatchOptions options;
    options.resource_version = version;
    options.allow_watch_bookmarks = true;
    options.timeout_seconds = 300;
    absl::StatusOr<std::unique_ptr<kube::WatchStream>> opened =
        client_->Watch(resource_, ns_, options);
    if (!opened.ok()) {
      Progress(absl::StrCat("watch ", resource_.ToString(), ": ", opened.status().ToString()));
      if (kube::IsGone(opened.status())) return "";
      absl::SleepFor(absl::Seconds(1));
      return version;
    }
    kube::WatchStream* stream = opened->get();
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return version;
      stream_ = std::move(*opened);
    }
    kube::WatchEvent event;
    while (stream->Next(&event)) {
      const MonoTime at = SteadyClock::now();
      if (event.type == kube::EventType::kError) {
        // A 410 needs a new list; others (a 504 catch-up timeout) resume.
        if (kube::IsGone(event.error)) version.clear();
        break;
      }
      if (std::string v = kube::MetadataString(event.object, "resourceVersion"); !v.empty()) {
        version = v;
      }
      if (event.type == kube::EventType::kAdded || event.type == kube::EventType::kModified) {
        observe_(event.object, at);
      }
    }
    absl::MutexLock lock(&mu_);
    if (!stopping_ && !stream->status().ok()) {
      Progress(
          absl::StrCat("watch ", resource_.ToString(), " ended: ", stream->status().ToString()));
    }
    stream_.reset();
    return version;
  }

  kube::Client* const client_;
  const kube::ResourceRef resource_;
  const std::string ns_;
  const Observer observe_;
  std::thread thread_;
  absl::Mutex mu_;
  bool listed_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::unique_ptr<kube::WatchStream> stream_ ABSL_GUARDED_BY(mu_);
};

// One run: the watches feeding a FlowTracker, the creators and, for raw,
// the threads that create each step's Job once it is due.
class Run {
 public:
  Run(kube::Client* client, Workload workload, std::string ns, int creators)
      : client_(client),
        workload_(workload),
        ns_(std::move(ns)),
        creators_(creators),
        tracker_(std::move(workload)) {}
  ~Run() { Stop(); }

  // Creates the namespace and the system's setup objects and starts the
  // watches (and raw's dispatchers).
  absl::Status Prepare() {
    absl::StatusOr<json> created_ns = client_->Create(
        kube::resources::Namespaces(), "",
        {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns_}}}});
    if (created_ns.ok()) {
      ++created_;
    } else if (!kube::IsAlreadyExists(created_ns.status())) {
      return created_ns.status();
    }
    for (const NewObject& object : SetupObjects(workload_)) {
      if (absl::Status s = Create(object); !s.ok()) return s;
    }
    const auto watch = [&](const kube::ResourceRef& resource,
                           void (FlowTracker::*observe)(const json&, MonoTime)) {
      watches_.push_back(std::make_unique<WatchLoop>(
          client_, resource, ns_, [this, observe](const json& object, MonoTime at) {
            absl::MutexLock lock(&mu_);
            (tracker_.*observe)(object, at);
            for (StepRef& step : tracker_.TakeDueSteps()) due_.push_back(std::move(step));
          }));
    };
    watch(kube::resources::Pods(), &FlowTracker::ObservePod);
    if (std::optional<kube::ResourceRef> child = ChildResource(workload_.system)) {
      watch(*child, &FlowTracker::ObserveChild);
    }
    if (std::optional<kube::ResourceRef> owner = OwnerResource(workload_.system)) {
      watch(*owner, &FlowTracker::ObserveOwner);
    }
    for (auto& w : watches_) w->Start();
    for (auto& w : watches_) {
      if (absl::Status s = w->WaitListed(absl::Seconds(60)); !s.ok()) return s;
    }
    if (workload_.system == System::kRaw) {
      for (int i = 0; i < creators_; ++i) dispatchers_.emplace_back([this] { Dispatch(); });
    }
    return absl::OkStatus();
  }

  // Creates `flows` with the creators and waits until all are terminal, a
  // create fails or `timeout` passes. The result says which.
  absl::Status RunFlows(const std::vector<std::string>& flows, absl::Duration timeout) {
    std::atomic<size_t> next{0};
    std::vector<std::thread> creators;
    for (int i = 0; i < creators_; ++i) {
      creators.emplace_back([&] {
        for (size_t f = next++; f < flows.size() && !failed(); f = next++) {
          {
            absl::MutexLock lock(&mu_);
            tracker_.AddFlow(flows[f], SteadyClock::now());
          }
          for (const NewObject& object : FlowObjects(workload_, flows[f])) {
            if (absl::Status s = Create(object); !s.ok()) Fail(s);
          }
        }
      });
    }
    const int target = terminal_before_ + flows.size();
    const absl::Time deadline = absl::Now() + timeout;
    const absl::Time start = absl::Now();
    absl::Status result;
    {
      absl::MutexLock lock(&mu_);
      const auto done = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return tracker_.terminal_count() >= target || !error_.ok();
      };
      while (!done()) {
        if (absl::Now() >= deadline) {
          result = absl::DeadlineExceededError(
              absl::StrCat(tracker_.terminal_count() - terminal_before_, " of ", flows.size(),
                           " flows terminal after ", absl::FormatDuration(timeout)));
          break;
        }
        mu_.AwaitWithDeadline(absl::Condition(&done),
                              std::min(deadline, absl::Now() + absl::Seconds(5)));
        Progress(absl::StrFormat("%d of %d flows terminal, %.1f s",
                                 tracker_.terminal_count() - terminal_before_, flows.size(),
                                 absl::ToDoubleSeconds(absl::Now() - start)));
      }
      if (!error_.ok()) result = error_;
      terminal_before_ = tracker_.terminal_count();
    }
    for (std::thread& t : creators) t.join();
    return result;
  }

  Figures Summarize(const std::vector<std::string>& flows, MonoTime t0) {
    absl::MutexLock lock(&mu_);
    return tracker_.Summarize(flows, t0);
  }

  int created() const { return created_; }

  void Stop() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    for (std::thread& t : dispatchers_) t.join();
    dispatchers_.clear();
    for (auto& w : watches_) w->Stop();
  }

 private:
  absl::Status Create(const NewObject& object) {
    absl::StatusOr<json> r = client_->Create(object.resource, ns_, object.body);
    if (!r.ok()) {
      return absl::Status(
          r.status().code(),
          absl::StrCat("create ", object.resource.ToString(), " ",
                       kube::MetadataString(object.body, "name"), ": ", r.status().message()));
    }
    ++created_;
    return absl::OkStatus();
  }

  bool failed() {
    absl::MutexLock lock(&mu_);
    return !error_.ok();
  }

  void Fail(const absl::Status& status) {
    absl::MutexLock lock(&mu_);
    if (error_.ok()) error_ = status;
  }

  // raw: creates the Job of each step the tracker found due.
  void Dispatch() {
    while (true) {
      StepRef step;
      {
        absl::MutexLock lock(&mu_);
        const auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
          return stopping_ || !due_.empty();
        };
        mu_.Await(absl::Condition(&ready));
        if (stopping_) return;
        step = std::move(due_.front());
        due_.pop_front();
      }
      if (absl::Status s = Create(RawJob(workload_, step.flow, step.step)); !s.ok()) Fail(s);
    }
  }

  kube::Client* const client_;
  const Workload workload_;
  const std::string ns_;
  const int creators_;
  std::atomic<int> created_{0};
  std::vector<std::unique_ptr<WatchLoop>> watches_;
  std::vector<std::thread> dispatchers_;

  absl::Mutex mu_;
  FlowTracker tracker_ ABSL_GUARDED_BY(mu_);
  std::deque<StepRef> due_ ABSL_GUARDED_BY(mu_);
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int terminal_before_ ABSL_GUARDED_BY(mu_) = 0;
};

constexpr char kWarmUpFlow[] = "warmup";

// `peers_bench run`: prints the figures; 0 if every measured flow ended.
int RunCommand(const Workload& workload, const std::string& ns, int flows, int creators,
               absl::Duration timeout) {
  absl::StatusOr<std::unique_ptr<kube::HttpClient>> client = NewClient();
  if (!client.ok()) {
    Progress(absl::StrCat("client: ", client.status().ToString()));
    return 1;
  }
  Run run(client->get(), workload, ns, creators);
  if (absl::Status s = run.Prepare(); !s.ok()) {
    Progress(absl::StrCat("prepare: ", s.ToString()));
    return 1;
  }
  // One flow of the same shape: the system's caches are synced and every
  // template has been used once before t0.
  Progress(absl::StrCat("warm-up flow ", kWarmUpFlow));
  if (absl::Status s = run.RunFlows({kWarmUpFlow}, timeout); !s.ok()) {
    Progress(absl::StrCat("warm-up: ", s.ToString()));
    return 1;
  }
  if (run.Summarize({kWarmUpFlow}, SteadyClock::now()).succeeded != 1) {
    Progress("warm-up flow did not succeed; going on");
  }

  std::vector<std::string> names;
  for (int i = 0; i < flows; ++i) names.push_back(FlowName(i, flows));
  Progress(absl::StrCat(flows, " flows of ", workload.steps.size(), " steps, ",
                        SystemName(workload.system), " ", ShapeName(workload.shape)));
  const MonoTime t0 = SteadyClock::now();
  const absl::Status finished = run.RunFlows(names, timeout);
  Figures figures = run.Summarize(names, t0);
  // Flows never seen terminal ran at least until the driver gave up: the
  // wall time (and so steps/s) must not end at the last one that finished.
  if (!figures.unfinished.empty()) {
    figures.wall_s = std::chrono::duration<double>(SteadyClock::now() - t0).count();
  }
  run.Stop();
  if (!finished.ok()) Progress(finished.ToString());
  if (!figures.unfinished.empty()) {
    const size_t shown = std::min<size_t>(figures.unfinished.size(), 10);
    Progress(absl::StrCat(
        "not terminal: ",
        absl::StrJoin(figures.unfinished.begin(), figures.unfinished.begin() + shown, " "),
        figures.unfinished.size() > shown ? " ..." : ""));
  }
  Progress(absl::StrCat("latencies from ", figures.step_latency_samples,
                        " steps with dependencies and ", figures.status_latency_samples,
                        " status records"));
  std::printf("%s\n", FiguresJson(workload, figures, run.created()).dump().c_str());
  return finished.ok() ? 0 : 1;
}

int CleanupCommand(const std::string& ns) {
  absl::StatusOr<std::unique_ptr<kube::HttpClient>> client = NewClient();
  if (!client.ok()) {
    Progress(absl::StrCat("client: ", client.status().ToString()));
    return 1;
  }
  absl::StatusOr<json> deleted = (*client)->Delete(kube::resources::Namespaces(), "", ns);
  if (!deleted.ok() && !kube::IsNotFound(deleted.status())) {
    Progress(absl::StrCat("delete namespace ", ns, ": ", deleted.status().ToString()));
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace weir::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "peers_bench run --system=weir|batch|volcano|argo|raw --shape=chain|fanout|single "
      "--flows=N --steps=S --width=W --duration=0s --namespace=NS [--creators=8] "
      "[--timeout=900s]\n  peers_bench cleanup --namespace=NS");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  const std::string ns = absl::GetFlag(FLAGS_namespace);
  if (args.size() != 2 || ns.empty()) {
    std::fprintf(stderr, "usage: %s\n", absl::ProgramUsageMessage().data());
    return 2;
  }
  const std::string command = args[1];
  if (command == "cleanup") return weir::bench::CleanupCommand(ns);
  if (command != "run") {
    std::fprintf(stderr, "usage: %s\n", absl::ProgramUsageMessage().data());
    return 2;
  }
  absl::StatusOr<weir::bench::Workload> workload = [&]() -> absl::StatusOr<weir::bench::Workload> {
    absl::StatusOr<weir::bench::System> system =
        weir::bench::ParseSystem(absl::GetFlag(FLAGS_system));
    if (!system.ok()) return system.status();
    absl::StatusOr<weir::bench::Shape> shape = weir::bench::ParseShape(absl::GetFlag(FLAGS_shape));
    if (!shape.ok()) return shape.status();
    return weir::bench::MakeWorkload(*system, *shape, absl::GetFlag(FLAGS_steps),
                                     absl::GetFlag(FLAGS_width), absl::GetFlag(FLAGS_duration));
  }();
  const int flows = absl::GetFlag(FLAGS_flows);
  const int creators = absl::GetFlag(FLAGS_creators);
  if (!workload.ok() || flows < 1 || creators < 1) {
    std::fprintf(stderr, "peers_bench: %s\n",
                 workload.ok() ? "--flows and --creators must be at least 1"
                               : std::string(workload.status().message()).c_str());
    return 2;
  }
  return weir::bench::RunCommand(*workload, ns, flows, creators, absl::GetFlag(FLAGS_timeout));
}
