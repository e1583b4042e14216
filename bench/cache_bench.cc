// Measures the informer cache at scale against a real API server: time to
// sync and the process's resident memory with N Jobs and N Pods cached.
//
// Usage (KUBECONFIG must point at the cluster; hack/bench.sh drives this):
//   cache_bench populate <namespace> [jobs=10000] [pods=10000] [threads=16]
//                        [unrelated_pods=0]
//       Creates the namespace and the objects. Jobs are suspended (the job
//       controller creates no pods); Pods carry a scheduling gate, so the
//       scheduler and kwok leave them alone. Both look like weir's children:
//       weir labels, an owner reference (to a ConfigMap of the namespace, so
//       the garbage collector keeps them), a main container with resources;
//       the Pods also carry the job controller's labels. The unrelated pods
//       are the same pods without weir's labels: someone else's workload.
//   cache_bench measure <namespace>
//       In this (fresh) process: reads the baseline RSS, starts an
//       InformerFactory over Jobs and Pods of the namespace with the options
//       weir-controller uses (reconcile::ChildInformerOptions: weir's objects
//       only), waits for the caches to sync and prints the sync time and
//       VmRSS/VmHWM from /proc/self/status, one line of key=value pairs.
//       CACHE_PAGE_SIZE sets the list page size.
//   cache_bench cleanup <namespace>
//       Deletes the namespace.
#include <malloc.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/errors.h"
#include "kube/http_client.h"
#include "nlohmann/json.hpp"
#include "reconcile/child_informers.h"
#include "reconcile/children.h"
#include "runtime/informer.h"
#include "runtime/log.h"

namespace {

using nlohmann::json;
namespace kube = weir::kube;
namespace runtime = weir::runtime;
namespace reconcile = weir::reconcile;

// "VmRSS" etc. from /proc/self/status, in KiB; -1 if absent.
long StatusKiB(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::atol(line.c_str() + field.size() + 1);
  }
  return -1;
}

double MiB(long kib) { return kib / 1024.0; }

absl::StatusOr<std::unique_ptr<kube::HttpClient>> NewClient(double qps) {
  kube::LoadOptions lo;
  absl::StatusOr<kube::RestConfig> config = kube::LoadConfig(lo);
  if (!config.ok()) return config.status();
  config->qps = qps;
  config->burst = 1000;
  config->timeout = absl::Seconds(120);
  return kube::HttpClient::New(*config);
}

std::string Uid(int i) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012d", i);
  return buf;
}

json Resources() {
  return {{"limits", {{"cpu", "500m"}, {"memory", "256Mi"}}},
          {"requests", {{"cpu", "250m"}, {"memory", "128Mi"}}}};
}

json MainContainer() {
  return {
      {"name", "main"},
      {"image", "registry.example.com/weir/etl:1.4.2"},
      {"command", {"/bin/etl", "--input=s3://bucket/in", "--output=s3://bucket/out"}},
      {"env",
       {{{"name", "WEIR_ATTEMPT"}, {"value", "1"}},
        {{"name", "LOG_LEVEL"}, {"value", "info"}},
        {{"name", "POD_NAME"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.name"}}}}}}}},
      {"resources", Resources()},
      {"volumeMounts", {{{"name", "scratch"}, {"mountPath", "/scratch"}}}}};
}

json Labels(int i) {
  return {{reconcile::kLabelManagedBy, reconcile::kManagedByValue},
          {reconcile::kLabelBatchUid, Uid(i)},
          {reconcile::kLabelBatch, absl::StrCat("batch-", i)},
          {reconcile::kLabelAttempt, "1"}};
}

// Every object is owned by one ConfigMap of the namespace (an owner that
// exists, so the garbage collector keeps the objects), in the shape of the
// owner references weir's children carry.
json OwnerRef(const std::string& owner_uid) {
  return json::array({{{"apiVersion", "v1"},
                       {"kind", "ConfigMap"},
                       {"name", "bench-owner"},
                       {"uid", owner_uid},
                       {"controller", true},
                       {"blockOwnerDeletion", true}}});
}

json BenchJob(int i, const std::string& owner_uid) {
  const std::string name = absl::StrCat("batch-", i, "-1-abcde");
  return {{"apiVersion", "batch/v1"},
          {"kind", "Job"},
          {"metadata",
           {{"name", name},
            {"labels", Labels(i)},
            {"annotations", {{"weir.dev/template", "etl"}, {"example.com/team", "data"}}},
            {"ownerReferences", OwnerRef(owner_uid)}}},
          {"spec",
           {{"suspend", true},
            {"backoffLimit", 0},
            {"template",
             {{"metadata", {{"labels", Labels(i)}}},
              {"spec",
               {{"restartPolicy", "Never"},
                {"containers", json::array({MainContainer()})},
                {"volumes", {{{"name", "scratch"}, {"emptyDir", json::object()}}}}}}}}}}};
}

// A pod with a scheduling gate (the scheduler and kwok leave it alone) and
// the job controller's labels, like a weir child's pod.
json GatedPod(const std::string& name, json labels, const std::string& owner_uid, int i) {
  labels["batch.kubernetes.io/job-name"] = absl::StrCat("batch-", i, "-1-abcde");
  labels["job-name"] = absl::StrCat("batch-", i, "-1-abcde");
  labels["batch.kubernetes.io/controller-uid"] = Uid(100000 + i);
  labels["controller-uid"] = Uid(100000 + i);
  return {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata", {{"name", name}, {"labels", labels}, {"ownerReferences", OwnerRef(owner_uid)}}},
      {"spec",
       {{"restartPolicy", "Never"},
        {"schedulingGates", {{{"name", "weir.dev/bench"}}}},
        {"automountServiceAccountToken", false},
        {"containers", json::array({MainContainer()})},
        {"volumes", {{{"name", "scratch"}, {"emptyDir", json::object()}}}}}}};
}

json BenchPod(int i, const std::string& owner_uid) {
  return GatedPod(absl::StrCat("batch-", i, "-1-abcde-xyz12"), Labels(i), owner_uid, i);
}

// A pod of another workload: weir's pod without weir's labels.
json UnrelatedPod(int i, const std::string& owner_uid) {
  return GatedPod(absl::StrCat("other-", i, "-xyz12"), {{"app", "other"}}, owner_uid, i);
}

// Creates objects [0, n) of `make` with `threads` workers; AlreadyExists
// counts as done, so a rerun completes a partial population.
bool CreateAll(kube::Client& client, const kube::ResourceRef& ref, const std::string& ns, int n,
               int threads, const std::string& owner_uid, json (*make)(int, const std::string&)) {
  std::atomic<int> next{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (int i = next++; i < n; i = next++) {
        for (int attempt = 0;; ++attempt) {
          absl::StatusOr<json> r = client.Create(ref, ns, make(i, owner_uid));
          if (r.ok() || kube::IsAlreadyExists(r.status())) break;
          if (attempt >= 20) {
            std::fprintf(stderr, "create %s %d: %s\n", ref.ToString().c_str(), i,
                         r.status().ToString().c_str());
            ++failed;
            break;
          }
          // e.g. the namespace's default service account not there yet.
          std::this_thread::sleep_for(std::chrono::milliseconds(200 * (attempt + 1)));
        }
      }
    });
  }
  for (std::thread& w : workers) w.join();
  return failed == 0;
}

int Populate(const std::string& ns, int jobs, int pods, int threads, int unrelated) {
  absl::StatusOr<std::unique_ptr<kube::HttpClient>> client = NewClient(0);
  if (!client.ok()) {
    std::fprintf(stderr, "client: %s\n", client.status().ToString().c_str());
    return 1;
  }
  absl::StatusOr<json> created = (*client)->Create(
      kube::resources::Namespaces(), "",
      {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}});
  if (!created.ok() && !kube::IsAlreadyExists(created.status())) {
    std::fprintf(stderr, "namespace %s: %s\n", ns.c_str(), created.status().ToString().c_str());
    return 1;
  }
  absl::StatusOr<json> owner = (*client)->Create(
      kube::resources::ConfigMaps(), ns,
      {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "bench-owner"}}}});
  if (!owner.ok() && kube::IsAlreadyExists(owner.status())) {
    owner = (*client)->Get(kube::resources::ConfigMaps(), ns, "bench-owner");
  }
  if (!owner.ok()) {
    std::fprintf(stderr, "owner ConfigMap: %s\n", owner.status().ToString().c_str());
    return 1;
  }
  const std::string owner_uid = kube::MetadataString(*owner, "uid");
  const auto start = std::chrono::steady_clock::now();
  bool ok = CreateAll(**client, kube::resources::Jobs(), ns, jobs, threads, owner_uid, BenchJob);
  ok = CreateAll(**client, kube::resources::Pods(), ns, pods, threads, owner_uid, BenchPod) && ok;
  ok = CreateAll(**client, kube::resources::Pods(), ns, unrelated, threads, owner_uid,
                 UnrelatedPod) &&
       ok;
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("populated namespace=%s jobs=%d pods=%d unrelated_pods=%d seconds=%.1f\n", ns.c_str(),
              jobs, pods, unrelated, secs);
  return ok ? 0 : 1;
}

int Measure(const std::string& ns) {
  // The client and its TLS context exist before the baseline, as in
  // weir-controller before its informers start.
  absl::StatusOr<std::unique_ptr<kube::HttpClient>> client = NewClient(20);
  if (!client.ok()) {
    std::fprintf(stderr, "client: %s\n", client.status().ToString().c_str());
    return 1;
  }
  absl::StatusOr<json> probe = (*client)->Get(kube::resources::Namespaces(), "", ns);
  if (!probe.ok()) {
    std::fprintf(stderr, "namespace %s: %s\n", ns.c_str(), probe.status().ToString().c_str());
    return 1;
  }
  probe = json();
  const long base_rss = StatusKiB("VmRSS");

  runtime::InformerFactory::Options fo;
  fo.ns = ns;
  runtime::Logger::Options log_options;
  log_options.level = runtime::LogLevel::kWarning;
  fo.logger = runtime::Logger(log_options);
  runtime::InformerFactory factory(client->get(), fo);
  runtime::InformerOptions child = reconcile::ChildInformerOptions();
  // CACHE_PAGE_SIZE overrides the reflector's list page size (default 500).
  if (const char* page = std::getenv("CACHE_PAGE_SIZE"); page != nullptr && std::atoi(page) > 0) {
    child.reflector.page_size = std::atoi(page);
  }
  runtime::Informer& jobs = factory.For(kube::resources::Jobs(), child);
  runtime::Informer& pods = factory.For(kube::resources::Pods(), child);

  const auto start = std::chrono::steady_clock::now();
  factory.Start();
  if (!factory.WaitForCacheSync(absl::Minutes(5))) {
    std::fprintf(stderr, "caches did not sync within 5m\n");
    return 1;
  }
  const double sync_secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // Let the watches start and settle before reading memory.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const long rss = StatusKiB("VmRSS");
  const long hwm = StatusKiB("VmHWM");
  // What the allocator holds for live objects (glibc mallinfo2), for
  // comparison: RSS also counts freed memory not yet returned to the OS.
  const struct mallinfo2 mi = mallinfo2();
  std::printf(
      "cache jobs=%zu pods=%zu sync_s=%.2f base_rss_mib=%.1f rss_mib=%.1f hwm_mib=%.1f "
      "heap_in_use_mib=%.1f heap_free_mib=%.1f threads=%ld\n",
      jobs.store().size(), pods.store().size(), sync_secs, MiB(base_rss), MiB(rss), MiB(hwm),
      mi.uordblks / 1048576.0, mi.fordblks / 1048576.0, StatusKiB("Threads"));
  factory.Stop();
  return 0;
}

int Cleanup(const std::string& ns) {
  absl::StatusOr<std::unique_ptr<kube::HttpClient>> client = NewClient(0);
  if (!client.ok()) return 1;
  absl::StatusOr<json> r = (*client)->Delete(kube::resources::Namespaces(), "", ns);
  if (!r.ok() && !kube::IsNotFound(r.status())) {
    std::fprintf(stderr, "delete namespace %s: %s\n", ns.c_str(), r.status().ToString().c_str());
    return 1;
  }
  std::printf("deleted namespace=%s\n", ns.c_str());
  return 0;
}

int Usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s populate <ns> [jobs] [pods] [threads] [unrelated_pods] | measure <ns> | "
               "cleanup <ns>\n",
               argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  // As weir-controller does (controller/controller_main.cc): at most two glibc malloc
  // arenas, or each of the client's and reflectors' threads keeps its own
  // arena of memory freed after the list, and resident memory is about
  // double the cache's live heap.
  mallopt(M_ARENA_MAX, 2);
  if (argc < 3) return Usage(argv[0]);
  const std::string mode = argv[1];
  const std::string ns = argv[2];
  if (mode == "populate") {
    const int jobs = argc > 3 ? std::atoi(argv[3]) : 10000;
    const int pods = argc > 4 ? std::atoi(argv[4]) : 10000;
    const int threads = argc > 5 ? std::atoi(argv[5]) : 16;
    const int unrelated = argc > 6 ? std::atoi(argv[6]) : 0;
    return Populate(ns, jobs, pods, threads, unrelated);
  }
  if (mode == "measure") return Measure(ns);
  if (mode == "cleanup") return Cleanup(ns);
  return Usage(argv[0]);
}
