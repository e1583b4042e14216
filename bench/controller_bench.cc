// Measures weir-controller end to end on the local control plane: Batches
// (issue 5) and JobFlows (issue 6) whose pods finish at once, from the first
// create to all Succeeded.
//
// Usage (KUBECONFIG must point at the cluster with weir's CRDs and deploy/
// applied; hack/bench.sh drives this):
//   controller_bench batches <namespace> [batches=1000] [threads=16]
//       Creates <batches> Batches with an inline Job.
//   controller_bench flows <namespace> [flows=100] [steps=10] [threads=16]
//       Creates one JobTemplate and <flows> JobFlows of <steps> steps over
//       it: even flows a chain, odd flows a fan-out (1 root, steps-2 parallel
//       steps, 1 sink).
//   controller_bench cleanup <namespace>
//       Deletes the namespace, removing weir's finalizer from what is left
//       (no controller may be running to remove it).
// batches and flows create the namespace, start build/bin/weir-controller
// watching only it, and print one line of key=value pairs: wall time, the
// controller's API requests per Batch or step (from its own
// weir_api_requests_total; reads = get/list/watch, writes = the rest), its
// CPU seconds during the run (utime+stime) and its peak resident memory
// (VmHWM). Requests and CPU are read once the controller's request counts
// settle after the last Succeeded (its Events trail the phase changes). The
// namespace is cleaned up at the end, whatever happens.
// CONTROLLER_BENCH_TIMEOUT (seconds, default 900) bounds the wait.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/errors.h"
#include "kube/http_client.h"
#include "nlohmann/json.hpp"
#include "test/e2e/support/controller_process.h"

namespace {

using nlohmann::json;
namespace kube = weir::kube;

constexpr char kTemplate[] = "bench";
constexpr char kFinalizer[] = "weir.dev/cleanup";

absl::StatusOr<std::unique_ptr<kube::HttpClient>> NewClient() {
  absl::StatusOr<kube::RestConfig> config = kube::LoadConfig(kube::LoadOptions{});
  if (!config.ok()) return config.status();
  config->qps = 0;  // unlimited: creating is not what is measured
  config->burst = 1000;
  config->timeout = absl::Seconds(120);
  return kube::HttpClient::New(*config);
}

// A pod template whose pods succeed at once (hack/kwok/stages.yaml).
json JobSpec() {
  return {
      {"template",
       {{"metadata",
         {{"annotations",
           {{"sim.weir.dev/outcome", "Succeeded"}, {"sim.weir.dev/duration", "0s"}}}}},
        {"spec",
         {{"containers", json::array({{{"name", "main"},
                                       {"image", "busybox:1.36"},
                                       {"resources", {{"limits", {{"memory", "64Mi"}}}}}}})}}}}}};
}

json Batch(int i) {
  return {{"apiVersion", "weir.dev/v1alpha1"},
          {"kind", "Batch"},
          {"metadata", {{"name", absl::StrCat("b-", i)}}},
          {"spec", {{"jobSpec", JobSpec()}}}};
}

json Step(const std::string& name, const std::vector<std::string>& deps) {
  json step = {{"name", name}, {"template", kTemplate}};
  if (!deps.empty()) {
    json d = json::array();
    for (const std::string& dep : deps) d.push_back({{"step", dep}, {"condition", "Succeeded"}});
    step["dependsOn"] = d;
  }
  return step;
}

// Even i: a chain s0 -> s1 -> ...; odd i: root -> p1..p<steps-2> -> sink.
json Flow(int i, int steps) {
  json list = json::array();
  if (i % 2 == 0) {
    for (int s = 0; s < steps; ++s) {
      list.push_back(Step(absl::StrCat("s", s), s == 0 ? std::vector<std::string>{}
                                                       : std::vector{absl::StrCat("s", s - 1)}));
    }
  } else {
    list.push_back(Step("root", {}));
    std::vector<std::string> middle;
    for (int s = 1; s <= steps - 2; ++s) {
      middle.push_back(absl::StrCat("p", s));
      list.push_back(Step(middle.back(), {"root"}));
    }
    list.push_back(Step("sink", middle));
  }
  return {{"apiVersion", "weir.dev/v1alpha1"},
          {"kind", "JobFlow"},
          {"metadata", {{"name", absl::StrCat("f-", i)}}},
          {"spec", {{"steps", list}}}};
}

// Creates objects [0, n) of `make` with `threads` workers.
absl::Status CreateAll(kube::Client& client, const kube::ResourceRef& ref, const std::string& ns,
                       int n, int threads, const std::function<json(int)>& make) {
  std::atomic<int> next{0};
  absl::Mutex mu;
  absl::Status first_error;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (int i = next++; i < n; i = next++) {
        absl::StatusOr<json> r = client.Create(ref, ns, make(i));
        if (!r.ok()) {
          absl::MutexLock l(&mu);
          if (first_error.ok()) first_error = r.status();
        }
      }
    });
  }
  for (std::thread& w : workers) w.join();
  return first_error;
}

// Phases of every object of `ref` in `ns`, kept by a watch (re-listed when
// the watch ends) until `n` objects are Succeeded or one ends otherwise.
class PhaseWatcher {
 public:
  PhaseWatcher(kube::Client* client, kube::ResourceRef ref, std::string ns, int n)
      : client_(client), ref_(std::move(ref)), ns_(std::move(ns)), n_(n) {}

  // Returns when all `n` objects are Succeeded (the time the last was seen),
  // one ended in another terminal phase, or `deadline` passed.
  absl::StatusOr<absl::Time> Wait(absl::Time deadline) {
    std::string rv;
    while (absl::Now() < deadline) {
      if (rv.empty()) {
        absl::StatusOr<json> list = client_->List(ref_, ns_, kube::ListOptions{});
        if (!list.ok()) return list.status();
        for (const json& item : list->value("items", json::array())) Observe(item);
        rv = kube::MetadataString(*list, "resourceVersion");
      }
      if (absl::StatusOr<bool> done = Done(); !done.ok() || *done) {
        if (!done.ok()) return done.status();
        return absl::Now();
      }
      kube::WatchOptions wo;
      wo.resource_version = rv;
      wo.timeout_seconds = 60;
      absl::StatusOr<std::unique_ptr<kube::WatchStream>> stream = client_->Watch(ref_, ns_, wo);
      if (!stream.ok()) return stream.status();
      kube::WatchEvent event;
      while (absl::Now() < deadline && (*stream)->Next(&event)) {
        if (event.type == kube::EventType::kError) break;
        rv = kube::MetadataString(event.object, "resourceVersion");
        if (event.type == kube::EventType::kBookmark) continue;
        Observe(event.object);
        absl::StatusOr<bool> done = Done();
        if (!done.ok()) return done.status();
        if (*done) return absl::Now();
      }
      if (event.type == kube::EventType::kError || !(*stream)->status().ok()) rv.clear();
    }
    return absl::DeadlineExceededError(
        absl::StrCat(Succeeded(), " of ", n_, " ", ref_.ToString(), " Succeeded at the deadline"));
  }

 private:
  void Observe(const json& object) {
    phases_[kube::MetadataString(object, "name")] =
        object.value("status", json::object()).value("phase", "");
  }

  int Succeeded() const {
    int n = 0;
    for (const auto& [name, phase] : phases_) n += phase == "Succeeded";
    return n;
  }

  absl::StatusOr<bool> Done() const {
    for (const auto& [name, phase] : phases_) {
      if (phase == "Failed" || phase == "Killed" || phase == "Canceled") {
        return absl::InternalError(absl::StrCat(ref_.ToString(), " ", name, " ended ", phase));
      }
    }
    return Succeeded() >= n_;
  }

  kube::Client* client_;
  kube::ResourceRef ref_;
  std::string ns_;
  int n_;
  std::map<std::string, std::string> phases_;
};

// The controller's weir_api_requests_total by "verb:resource:code".
std::map<std::string, double> ApiRequests(const std::string& metrics) {
  std::map<std::string, double> out;
  std::istringstream in(metrics);
  std::string line;
  const auto label = [](const std::string& l, const std::string& key) {
    const std::string k = key + "=\"";
    const size_t at = l.find(k);
    if (at == std::string::npos) return std::string();
    const size_t from = at + k.size();
    return l.substr(from, l.find('"', from) - from);
  };
  while (std::getline(in, line)) {
    if (line.rfind("weir_api_requests_total{", 0) != 0) continue;
    double v = 0;
    if (!absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &v)) continue;
    out[absl::StrCat(label(line, "verb"), ":", label(line, "resource"), ":",
                     label(line, "code"))] += v;
  }
  return out;
}

// The controller's /metrics once its API request counts stopped moving for
// 3 s (at most 60 s): its Events are sent by one thread after the phase
// changes they record, so they trail the last Succeeded.
absl::StatusOr<std::string> Settled(const weir::e2e::ControllerProcess& controller) {
  absl::StatusOr<std::string> last = controller.HttpGet("/metrics");
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  absl::Time unchanged_since = absl::Now();
  while (last.ok() && absl::Now() < deadline && absl::Now() - unchanged_since < absl::Seconds(3)) {
    absl::SleepFor(absl::Milliseconds(500));
    absl::StatusOr<std::string> now = controller.HttpGet("/metrics");
    if (now.ok() && ApiRequests(*now) != ApiRequests(*last)) unchanged_since = absl::Now();
    last = std::move(now);
  }
  return last;
}

bool IsRead(const std::string& key) {
  return key.rfind("get:", 0) == 0 || key.rfind("list:", 0) == 0 || key.rfind("watch:", 0) == 0;
}

// utime+stime of `pid` in seconds, from /proc/<pid>/stat.
double CpuSeconds(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string f;
  long ticks = 0;
  // Fields after the command: state is field 3; utime and stime are 14, 15.
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i >= 14) ticks += std::atol(f.c_str());
  }
  return static_cast<double>(ticks) / sysconf(_SC_CLK_TCK);
}

// A field of /proc/<pid>/status ("VmHWM") in MiB; -1 if absent.
double StatusMiB(pid_t pid, const std::string& field) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::atol(line.c_str() + field.size() + 1) / 1024.0;
  }
  return -1;
}

absl::Status CreateNamespace(kube::Client& client, const std::string& ns) {
  absl::StatusOr<json> created =
      client.Create(kube::resources::Namespaces(), "",
                    {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}});
  return created.status();
}

// Deletes the namespace, then drops weir's finalizer from the Batches and
// JobFlows left in it (the garbage collector removes their children).
absl::Status Cleanup(kube::Client& client, const std::string& ns) {
  absl::StatusOr<json> deleted = client.Delete(kube::resources::Namespaces(), "", ns);
  if (!deleted.ok()) {
    return kube::IsNotFound(deleted.status()) ? absl::OkStatus() : deleted.status();
  }
  for (const kube::ResourceRef& ref : {kube::resources::Batches(), kube::resources::JobFlows()}) {
    absl::StatusOr<json> list = client.List(ref, ns, kube::ListOptions{});
    if (!list.ok()) return list.status();
    for (const json& item : list->value("items", json::array())) {
      const json& finalizers = item["metadata"].value("finalizers", json::array());
      if (std::find(finalizers.begin(), finalizers.end(), kFinalizer) == finalizers.end()) continue;
      absl::StatusOr<json> r = client.MergePatch(ref, ns, kube::MetadataString(item, "name"),
                                                 {{"metadata", {{"finalizers", nullptr}}}});
      if (!r.ok() && !kube::IsNotFound(r.status())) return r.status();
    }
  }
  return absl::OkStatus();
}

struct Workload {
  std::string what;  // "batches" or "flows"
  int objects = 0;   // Batches or JobFlows
  int units = 0;     // Batches or steps: what requests are counted per
  int threads = 16;
};

int Run(const Workload& w, const std::string& ns) {
  absl::StatusOr<std::unique_ptr<kube::HttpClient>> client = NewClient();
  if (!client.ok()) {
    std::fprintf(stderr, "client: %s\n", client.status().ToString().c_str());
    return 1;
  }
  kube::Client& c = **client;
  if (absl::Status s = CreateNamespace(c, ns); !s.ok()) {
    std::fprintf(stderr, "namespace %s: %s\n", ns.c_str(), s.ToString().c_str());
    return 1;
  }
  weir::e2e::ControllerProcess controller(
      {absl::StrCat("--namespace=", ns), "--batch-idle-timeout=1h", "--log-level=warning"},
      absl::StrCat("/tmp/controller-bench-", ns, ".log"));
  const bool flows = w.what == "flows";
  const kube::ResourceRef ref = flows ? kube::resources::JobFlows() : kube::resources::Batches();
  absl::Status status = [&]() -> absl::Status {
    if (flows) {
      json tmpl = {{"apiVersion", "weir.dev/v1alpha1"},
                   {"kind", "JobTemplate"},
                   {"metadata", {{"name", kTemplate}}},
                   {"spec", {{"jobSpec", JobSpec()}}}};
      if (absl::StatusOr<json> r = c.Create(kube::resources::JobTemplates(), ns, tmpl); !r.ok()) {
        return r.status();
      }
    }
    if (absl::Status s = controller.Start(); !s.ok()) return s;
    if (absl::Status s = controller.WaitReady(absl::Seconds(60)); !s.ok()) return s;
    absl::StatusOr<std::string> before = controller.HttpGet("/metrics");
    if (!before.ok()) return before.status();
    const double cpu_before = CpuSeconds(controller.pid());
    const double rss_ready = StatusMiB(controller.pid(), "VmRSS");

    const absl::Time start = absl::Now();
    absl::Time created_at;
    absl::Status created;
    std::thread creator([&] {
      created = flows ? CreateAll(c, ref, ns, w.objects, w.threads,
                                  [&](int i) { return Flow(i, w.units / w.objects); })
                      : CreateAll(c, ref, ns, w.objects, w.threads, Batch);
      created_at = absl::Now();
    });
    const char* timeout = std::getenv("CONTROLLER_BENCH_TIMEOUT");
    PhaseWatcher watcher(&c, ref, ns, w.objects);
    absl::StatusOr<absl::Time> done =
        watcher.Wait(start + absl::Seconds(timeout != nullptr ? std::atoi(timeout) : 900));
    creator.join();
    if (!created.ok()) return created;
    if (!done.ok()) return done.status();

    absl::StatusOr<std::string> after = Settled(controller);
    if (!after.ok()) return after.status();
    const double cpu = CpuSeconds(controller.pid()) - cpu_before;
    const double hwm = StatusMiB(controller.pid(), "VmHWM");
    std::map<std::string, double> delta = ApiRequests(*after);
    for (const auto& [key, v] : ApiRequests(*before)) delta[key] -= v;
    double reads = 0, writes = 0;
    std::vector<std::string> write_detail;
    for (const auto& [key, v] : delta) {
      if (v == 0) continue;
      if (IsRead(key)) {
        reads += v;
      } else {
        writes += v;
        write_detail.push_back(absl::StrCat(key, "=", absl::SixDigits(v / w.units)));
      }
    }
    const double wall = absl::ToDoubleSeconds(*done - start);
    const char* unit = flows ? "step" : "batch";
    std::printf(
        "%s objects=%d units=%d wall_s=%.2f create_s=%.2f units_per_s=%.1f reads_per_%s=%.2f "
        "writes_per_%s=%.2f cpu_s=%.2f hwm_mib=%.1f ready_rss_mib=%.1f writes=[%s]\n",
        w.what.c_str(), w.objects, w.units, wall, absl::ToDoubleSeconds(created_at - start),
        w.units / wall, unit, reads / w.units, unit, writes / w.units, cpu, hwm, rss_ready,
        absl::StrJoin(write_detail, ",").c_str());
    return absl::OkStatus();
  }();
  // The controller stops first: it would otherwise see the namespace go
  // and cancel its Batches, and Cleanup drops the finalizer itself.
  controller.Stop();
  if (!status.ok()) {
    std::fprintf(stderr, "%s: %s (controller log %s)\n", w.what.c_str(), status.ToString().c_str(),
                 controller.log_path().c_str());
  } else {
    std::remove(controller.log_path().c_str());
  }
  if (absl::Status s = Cleanup(c, ns); !s.ok()) {
    std::fprintf(stderr, "cleanup %s: %s\n", ns.c_str(), s.ToString().c_str());
    return 1;
  }
  return status.ok() ? 0 : 1;
}

int Usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s batches <ns> [batches] [threads] | flows <ns> [flows] [steps] [threads] "
               "| cleanup <ns>\n",
               argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return Usage(argv[0]);
  const std::string mode = argv[1];
  const std::string ns = argv[2];
  const auto arg = [&](int i, int fallback) { return argc > i ? std::atoi(argv[i]) : fallback; };
  if (mode == "batches") {
    const int n = arg(3, 1000);
    return Run({.what = mode, .objects = n, .units = n, .threads = arg(4, 16)}, ns);
  }
  if (mode == "flows") {
    const int n = arg(3, 100);
    const int steps = arg(4, 10);
    if (steps < 3) return Usage(argv[0]);
    return Run({.what = mode, .objects = n, .units = n * steps, .threads = arg(5, 16)}, ns);
  }
  if (mode == "cleanup") {
    absl::StatusOr<std::unique_ptr<kube::HttpClient>> client = NewClient();
    if (!client.ok()) return 1;
    absl::Status s = Cleanup(**client, ns);
    if (!s.ok()) std::fprintf(stderr, "cleanup %s: %s\n", ns.c_str(), s.ToString().c_str());
    return s.ok() ? 0 : 1;
  }
  return Usage(argv[0]);
}
