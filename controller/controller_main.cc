#include "controller_main.h"

#include <malloc.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/http_client.h"
#include "kube/server_check.h"
#include "reconcile/batch_reconciler.h"
#include "reconcile/child_informers.h"
#include "reconcile/children.h"
#include "reconcile/flow_reconciler.h"
#include "runtime/informer.h"
#include "runtime/log.h"
#include "runtime/manager.h"
#include "runtime/recently_deleted.h"
#include "version.h"

ABSL_FLAG(std::string, kubeconfig, "",
          "Path to a kubeconfig file; empty means in-cluster configuration, "
          "then $KUBECONFIG, then ~/.kube/config.");
ABSL_FLAG(std::string, context, "", "kubeconfig context to use; empty means the current context.");
ABSL_FLAG(std::string, namespace, "", "Namespace to watch; empty means all namespaces.");
ABSL_FLAG(int, workers, 16, "Concurrent reconciles per controller.");
ABSL_FLAG(absl::Duration, event_delay, absl::Milliseconds(100),
          "How long a change of a Batch, JobFlow or their Jobs and pods waits before the "
          "owner is reconciled, so the changes of that time are looked at together; 0 "
          "reconciles at once.");
ABSL_FLAG(bool, leader_elect, false,
          "Hold a coordination.k8s.io/v1 Lease so only one replica reconciles.");
ABSL_FLAG(std::string, metrics_bind_address, "127.0.0.1:8080",
          "host:port to serve Prometheus /metrics on; empty disables it.");
ABSL_FLAG(std::string, health_bind_address, "127.0.0.1:8081",
          "host:port to serve /healthz and /readyz on.");
ABSL_FLAG(absl::Duration, batch_idle_timeout, absl::Minutes(10),
          "Default time a finished Batch or JobFlow keeps its Jobs and pods (e.g. 90s, 5m, 1h).");
ABSL_FLAG(absl::Duration, image_pull_grace, absl::Minutes(2),
          "Default time image-pull errors may last before an attempt fails.");
ABSL_FLAG(absl::Duration, node_lost_timeout, absl::Minutes(5),
          "How long a pod may stay Unknown, or go on running past its deletion deadline, before "
          "its node counts as lost and the attempt ends Killed with reason NodeLost.");
ABSL_FLAG(double, kube_api_qps, 0,
          "Client-side limit of API requests per second; 0 means none (the API server's "
          "Priority and Fairness applies, and its 429 answers are retried after Retry-After).");
ABSL_FLAG(int, kube_api_burst, 100, "Requests allowed at once above --kube-api-qps.");
ABSL_FLAG(int, kube_api_max_in_flight, 32,
          "API requests (not watches) in flight at once; more wait. 0 means no bound.");
ABSL_FLAG(std::string, log_format, "text", "Log format: text or json.");
ABSL_FLAG(std::string, log_level, "info", "Minimum log level: debug, info, warning or error.");
ABSL_FLAG(std::string, leader_election_namespace, "default",
          "Namespace of the coordination.k8s.io/v1 Lease used with --leader-elect.");
ABSL_FLAG(absl::Duration, graceful_shutdown_timeout, absl::Seconds(30),
          "On SIGTERM/SIGINT, how long running reconciles may take to finish.");

namespace {

using weir::runtime::Logger;
using weir::runtime::ObjectPtr;

// docs/design.md spells flags with dashes (--leader-elect) as kubectl users expect;
// absl names them with underscores. Accept both by rewriting the name part.
void AcceptDashedFlagNames(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    char* arg = argv[i];
    if (arg[0] != '-' || arg[1] != '-') continue;
    if (arg[2] == '\0') break;  // "--" ends the flags.
    for (char* c = arg + 2; *c != '\0' && *c != '='; ++c) {
      if (*c == '-') *c = '_';
    }
  }
}

// Checks the API server's release and the APIs weir uses (kube/server_check.h)
// and says in one line what it found: a warning naming what is missing, or
// what is served. Never stops the start: an API may appear later (CRDs
// applied after the controller), and the informers report what they cannot
// list anyway.
void LogServerCheck(weir::kube::HttpClient& client, const Logger& logger) {
  weir::kube::ServerNeeds needs;
  needs.leases = absl::GetFlag(FLAGS_leader_elect);
  const weir::kube::ServerCheck check = weir::kube::CheckServer(
      [&client](const std::string& path) { return client.GetPath(path); }, needs);
  std::vector<std::string> notes = check.notes;
  notes.push_back(weir::kube::AdmissionPolicySummary(check));
  const std::string version = check.version.empty() ? "unknown" : check.version;
  if (check.missing.empty()) {
    logger.Info("API server checked",
                {{"kubernetes", version}, {"notes", absl::StrJoin(notes, "; ")}});
    return;
  }
  logger.Warning("the API server lacks what weir needs; weir runs on but may not work",
                 {{"kubernetes", version},
                  {"missing", absl::StrJoin(check.missing, "; ")},
                  {"notes", absl::StrJoin(notes, "; ")}});
}

int Run(const weir::ClientDecorator& decorate) {
  Logger::Options log_options;
  if (!weir::runtime::ParseLogFormat(absl::GetFlag(FLAGS_log_format), &log_options.format) ||
      !weir::runtime::ParseLogLevel(absl::GetFlag(FLAGS_log_level), &log_options.level)) {
    std::fprintf(stderr,
                 "--log-format must be text or json; --log-level debug|info|warning|error\n");
    return 2;
  }
  Logger logger(log_options);
  auto fail = [&logger](absl::string_view what, const absl::Status& status) {
    logger.Error(what, {{"error", status}});
    return 1;
  };

  weir::kube::LoadOptions load;
  load.kubeconfig = absl::GetFlag(FLAGS_kubeconfig);
  load.context = absl::GetFlag(FLAGS_context);
  absl::StatusOr<weir::kube::RestConfig> config = weir::kube::LoadConfig(load);
  if (!config.ok()) return fail("cannot load the Kubernetes configuration", config.status());
  config->user_agent = absl::StrCat("weir-controller/", weir::kVersion);
  config->qps = absl::GetFlag(FLAGS_kube_api_qps);
  config->burst = absl::GetFlag(FLAGS_kube_api_burst);
  config->max_in_flight = absl::GetFlag(FLAGS_kube_api_max_in_flight);
  // Observes the client's requests; created first, it outlives the client.
  weir::runtime::ApiRequestMetrics api_metrics;
  weir::kube::HttpClientOptions client_options;
  client_options.observer = &api_metrics;
  absl::StatusOr<std::unique_ptr<weir::kube::HttpClient>> client =
      weir::kube::HttpClient::New(*config, client_options);
  if (!client.ok()) return fail("cannot create the Kubernetes client", client.status());
  weir::kube::Client* api = client->get();
  LogServerCheck(**client, logger);
  std::unique_ptr<weir::kube::Client> decorated;
  if (decorate) {
    absl::StatusOr<std::unique_ptr<weir::kube::Client>> d = decorate(api);
    if (!d.ok()) return fail("cannot decorate the Kubernetes client", d.status());
    decorated = *std::move(d);
    api = decorated.get();
  }

  weir::RealClock& clock = weir::RealClock::Get();
  weir::runtime::ManagerOptions options;
  options.clock = &clock;
  options.logger = logger;
  options.ns = absl::GetFlag(FLAGS_namespace);
  options.metrics_bind_address = absl::GetFlag(FLAGS_metrics_bind_address);
  options.health_bind_address = absl::GetFlag(FLAGS_health_bind_address);
  options.graceful_shutdown_timeout = absl::GetFlag(FLAGS_graceful_shutdown_timeout);
  options.request_metrics = &api_metrics;
  options.leader_election.enabled = absl::GetFlag(FLAGS_leader_elect);
  options.leader_election.lease_namespace = absl::GetFlag(FLAGS_leader_election_namespace);
  options.leader_election.lease_name = "weir-controller";
  absl::StatusOr<std::unique_ptr<weir::runtime::Manager>> manager =
      weir::runtime::Manager::New(api, std::move(options));
  if (!manager.ok()) return fail("bad controller settings", manager.status());
  weir::runtime::Manager& mgr = **manager;

  const weir::runtime::InformerOptions child_options = weir::reconcile::ChildInformerOptions();
  weir::runtime::Informer& batches = mgr.informers().For(weir::kube::resources::Batches());
  weir::runtime::Informer& flows = mgr.informers().For(weir::kube::resources::JobFlows());
  weir::runtime::Informer& jobs = mgr.informers().For(weir::kube::resources::Jobs(), child_options);
  weir::runtime::Informer& pods = mgr.informers().For(weir::kube::resources::Pods(), child_options);
  weir::runtime::Informer& templates = mgr.informers().For(weir::kube::resources::JobTemplates());

  weir::reconcile::BatchDefaults defaults;
  defaults.idle_timeout = absl::GetFlag(FLAGS_batch_idle_timeout);
  defaults.image_pull_grace = absl::GetFlag(FLAGS_image_pull_grace);
  defaults.node_lost_timeout = absl::GetFlag(FLAGS_node_lost_timeout);
  const int workers = std::max(1, absl::GetFlag(FLAGS_workers));

  weir::reconcile::ReconcilerDeps deps;
  deps.client = api;
  deps.jobs = &jobs.store();
  deps.pods = &pods.store();
  deps.templates = &templates.store();
  deps.recorder = &mgr.event_recorder();
  deps.metrics = &mgr.metrics();
  deps.clock = &clock;

  // How a pod ended is often only in its final state (exit 143 after a
  // cancel, then removal); minutes cover any reconcile backlog.
  weir::runtime::RecentlyDeleted deleted_batch_pods(weir::reconcile::kLabelBatchUid,
                                                    absl::Minutes(2), &clock);
  weir::runtime::RecentlyDeleted deleted_flow_pods(weir::reconcile::kLabelFlowUid, absl::Minutes(2),
                                                   &clock);

  deps.owners = &batches.store();
  deps.deleted_pods = &deleted_batch_pods;
  deps.logger = logger.With({{"controller", "batch"}});
  weir::reconcile::BatchReconciler batch_reconciler(deps, defaults);
  weir::runtime::Controller& batch_controller =
      mgr.AddController("batch", batch_reconciler, workers);

  deps.owners = &flows.store();
  deps.deleted_pods = &deleted_flow_pods;
  deps.logger = logger.With({{"controller", "jobflow"}});
  weir::reconcile::FlowReconciler flow_reconciler(deps, defaults);
  weir::runtime::Controller& flow_controller =
      mgr.AddController("jobflow", flow_reconciler, workers);

  // A step's Job and pod change several times within moments (created,
  // scheduled, running, ended, the job controller's bookkeeping), as does the
  // owner with weir's own writes: one reconcile after them costs less than
  // one for each.
  const absl::Duration event_delay = absl::GetFlag(FLAGS_event_delay);
  batches.AddEventHandler(weir::runtime::EnqueueObjectHandler(batch_controller, event_delay));
  flows.AddEventHandler(weir::runtime::EnqueueObjectHandler(flow_controller, event_delay));
  // Before the owner handlers: the reconcile a deletion triggers sees the
  // final state.
  auto record_deleted = std::make_shared<weir::runtime::EventHandlerFuncs>();
  record_deleted->on_delete = [&](const ObjectPtr& pod) {
    deleted_batch_pods.Add(pod);
    deleted_flow_pods.Add(pod);
  };
  pods.AddEventHandler(record_deleted);
  for (weir::runtime::Informer* children : {&jobs, &pods}) {
    children->AddEventHandler(weir::runtime::EnqueueOwnerHandler(
        batch_controller, &weir::reconcile::BatchReconciler::OwnerKey, event_delay));
    children->AddEventHandler(weir::runtime::EnqueueOwnerHandler(
        flow_controller, &weir::reconcile::FlowReconciler::OwnerKey, event_delay));
  }
  // A JobTemplate that appears or changes: wake the Batches and JobFlows
  // that use it (a started step keeps the version it started with).
  auto template_handler = std::make_shared<weir::runtime::EventHandlerFuncs>();
  template_handler->on_add = [&](const ObjectPtr& t) {
    const nlohmann::json& meta = (*t)["metadata"];
    const std::string ns = meta.value("namespace", "");
    const std::string name = meta.value("name", "");
    for (const ObjectPtr& b : batches.store().ListNamespace(ns)) {
      const nlohmann::json& spec = b->value("spec", nlohmann::json::object());
      if (spec.is_object() && spec.value("template", "") == name) {
        batch_controller.EnqueueKey(weir::runtime::ObjectKey(*b));
      }
    }
    for (const ObjectPtr& f : flows.store().ListNamespace(ns)) {
      if (weir::reconcile::FlowReconciler::UsesTemplate(*f, name)) {
        flow_controller.EnqueueKey(weir::runtime::ObjectKey(*f));
      }
    }
  };
  template_handler->on_update = [on_add = template_handler->on_add](
                                    const ObjectPtr&, const ObjectPtr& t) { on_add(t); };
  templates.AddEventHandler(template_handler);

  absl::StatusOr<std::unique_ptr<weir::runtime::SignalHandlers>> signals =
      weir::runtime::InstallSignalHandlers(mgr);
  if (!signals.ok()) return fail("cannot install signal handlers", signals.status());
  logger.Info("starting", {{"version", weir::kVersion},
                           {"namespace", absl::GetFlag(FLAGS_namespace)},
                           {"workers", workers}});
  absl::Status ran = mgr.Run();
  if (!ran.ok()) return fail("stopped", ran);
  logger.Info("stopped");
  return 0;
}

}  // namespace

namespace weir {

constexpr size_t kHttpIoThreads = 4;

int ControllerMain(int argc, char** argv, const ClientDecorator& decorate) {
#ifdef __GLIBC__
  // Two malloc arenas instead of one per thread: the caches' memory is freed
  // and reused instead of spread over per-thread pools (111 -> 70 MiB RSS
  // for 10k Jobs + 10k Pods, see README Performance).
  mallopt(M_ARENA_MAX, 2);
#endif
  // The HTTP client's I/O threads (cpprestsdk starts 40): they only move
  // bytes and TLS records, the callers wait in their own threads. Fewer
  // threads, fewer idle ones woken per read: at 3.8 steps/s, 19.6 instead of
  // 21.5 ms of CPU per step, 30% fewer context switches (README Performance).
  kube::StartHttpIoThreads(kHttpIoThreads);
  absl::SetProgramUsageMessage(
      "weir-controller runs Batch and JobFlow resources as Kubernetes Jobs.\n"
      "Usage: weir-controller [flags]   (flags may be spelled --foo-bar or --foo_bar)");
  absl::FlagsUsageConfig usage;
  usage.version_string = [] { return absl::StrCat("weir-controller ", weir::kVersion, "\n"); };
  usage.contains_helpshort_flags = [](absl::string_view file) {
    return absl::EndsWith(file, "main.cc");
  };
  usage.contains_help_flags = usage.contains_helpshort_flags;
  absl::SetFlagsUsageConfig(usage);
  AcceptDashedFlagNames(argc, argv);
  absl::ParseCommandLine(argc, argv);

  return Run(decorate);
}

}  // namespace weir
