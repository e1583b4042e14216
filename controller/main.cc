// weir-controller: the weir operator's single binary. It watches Batch,
// JobFlow and JobTemplate resources and runs their work as batch/v1 Jobs.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/http_client.h"
#include "reconcile/batch_reconciler.h"
#include "runtime/controller.h"
#include "runtime/event_recorder.h"
#include "runtime/health_server.h"
#include "runtime/informer.h"
#include "runtime/leader_election.h"
#include "runtime/log.h"
#include "runtime/metrics.h"
#include "version.h"

ABSL_FLAG(std::string, kubeconfig, "",
          "Path to a kubeconfig file; empty means in-cluster configuration, "
          "then $KUBECONFIG, then ~/.kube/config.");
ABSL_FLAG(std::string, context, "", "kubeconfig context to use; empty means the current context.");
ABSL_FLAG(std::string, namespace, "", "Namespace to watch; empty means all namespaces.");
ABSL_FLAG(int, workers, 4, "Concurrent reconciles per controller.");
ABSL_FLAG(bool, leader_elect, false,
          "Hold a coordination.k8s.io/v1 Lease so only one replica reconciles.");
ABSL_FLAG(std::string, metrics_bind_address, "127.0.0.1:8080",
          "host:port to serve Prometheus /metrics on; empty disables it.");
ABSL_FLAG(std::string, health_bind_address, "127.0.0.1:8081",
          "host:port to serve /healthz and /readyz on.");
ABSL_FLAG(absl::Duration, batch_idle_timeout, absl::Minutes(10),
          "Default time a finished Batch keeps its Job and pods (e.g. 90s, 5m, 1h).");
ABSL_FLAG(absl::Duration, image_pull_grace, absl::Minutes(2),
          "Default time image-pull errors may last before an attempt fails.");
ABSL_FLAG(std::string, log_format, "text", "Log format: text or json.");
ABSL_FLAG(std::string, log_level, "info", "Minimum log level: debug, info, warning or error.");
ABSL_FLAG(std::string, leader_election_namespace, "default",
          "Namespace of the coordination.k8s.io/v1 Lease used with --leader-elect.");
ABSL_FLAG(absl::Duration, graceful_shutdown_timeout, absl::Seconds(30),
          "On SIGTERM/SIGINT, how long running reconciles may take to finish.");

namespace {

using weir::runtime::Logger;
using weir::runtime::ObjectPtr;

// DESIGN.md spells flags with dashes (--leader-elect) as kubectl users expect;
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

// "host:port" -> {host, port}; an error naming the flag otherwise.
absl::StatusOr<std::pair<std::string, int>> ParseAddress(absl::string_view flag,
                                                         absl::string_view value) {
  const size_t colon = value.rfind(':');
  int port = 0;
  if (colon == absl::string_view::npos || !absl::SimpleAtoi(value.substr(colon + 1), &port) ||
      port < 1 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, "=", value, ": expected host:port with a port in 1..65535"));
  }
  return std::make_pair(std::string(value.substr(0, colon)), port);
}

// Calls `enqueue` with the key of the Batch a Job or pod belongs to.
std::shared_ptr<weir::runtime::EventHandlerFuncs> ChildHandler(
    std::function<void(const std::string&)> enqueue) {
  auto handler = std::make_shared<weir::runtime::EventHandlerFuncs>();
  auto owner = [enqueue](const ObjectPtr& o) {
    if (std::optional<std::string> key = weir::reconcile::BatchReconciler::OwnerKey(*o)) {
      enqueue(*key);
    }
  };
  handler->on_add = owner;
  handler->on_update = [owner](const ObjectPtr&, const ObjectPtr& o) { owner(o); };
  handler->on_delete = owner;
  return handler;
}

int Run() {
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
  absl::StatusOr<std::unique_ptr<weir::kube::HttpClient>> client =
      weir::kube::HttpClient::New(*config);
  if (!client.ok()) return fail("cannot create the Kubernetes client", client.status());

  absl::StatusOr<std::pair<std::string, int>> health =
      ParseAddress("health-bind-address", absl::GetFlag(FLAGS_health_bind_address));
  if (!health.ok()) return fail("bad flag", health.status());
  const std::string metrics_flag = absl::GetFlag(FLAGS_metrics_bind_address);
  std::optional<std::pair<std::string, int>> metrics_address;
  if (!metrics_flag.empty()) {
    absl::StatusOr<std::pair<std::string, int>> m =
        ParseAddress("metrics-bind-address", metrics_flag);
    if (!m.ok()) return fail("bad flag", m.status());
    metrics_address = *m;
  }

  weir::RealClock& clock = weir::RealClock::Get();
  weir::runtime::MetricsRegistry metrics;
  metrics.AddCollector(std::make_unique<weir::runtime::ProcessCollector>());

  weir::runtime::InformerFactory::Options factory_options;
  factory_options.clock = &clock;
  factory_options.ns = absl::GetFlag(FLAGS_namespace);
  factory_options.logger = logger;
  weir::runtime::InformerFactory informers(client->get(), factory_options);
  weir::runtime::InformerOptions child_options;
  for (const char* key : weir::reconcile::kBatchChildIndexLabels) {
    child_options.store.indexed_label_keys.push_back(key);
  }
  weir::runtime::Informer& batches = informers.For(weir::kube::resources::Batches());
  weir::runtime::Informer& jobs = informers.For(weir::kube::resources::Jobs(), child_options);
  weir::runtime::Informer& pods = informers.For(weir::kube::resources::Pods(), child_options);
  weir::runtime::Informer& templates = informers.For(weir::kube::resources::JobTemplates());

  weir::runtime::EventRecorderOptions recorder_options;
  recorder_options.clock = &clock;
  recorder_options.logger = logger;
  weir::runtime::EventRecorder recorder(client->get(), recorder_options);

  weir::reconcile::BatchDefaults defaults;
  defaults.idle_timeout = absl::GetFlag(FLAGS_batch_idle_timeout);
  defaults.image_pull_grace = absl::GetFlag(FLAGS_image_pull_grace);
  weir::reconcile::BatchReconcilerDeps deps;
  deps.client = client->get();
  deps.batches = &batches.store();
  deps.jobs = &jobs.store();
  deps.pods = &pods.store();
  deps.templates = &templates.store();
  deps.recorder = &recorder;
  deps.metrics = &metrics;
  deps.logger = logger.With({{"controller", "batch"}});
  deps.clock = &clock;
  weir::reconcile::BatchReconciler batch_reconciler(deps, defaults);

  weir::runtime::ControllerOptions controller_options;
  controller_options.name = "batch";
  controller_options.workers = std::max(1, absl::GetFlag(FLAGS_workers));
  controller_options.clock = &clock;
  controller_options.metrics = &metrics;
  controller_options.logger = &logger;
  weir::runtime::Controller batch_controller(std::move(controller_options), batch_reconciler);
  auto enqueue = [&batch_controller](const std::string& key) { batch_controller.EnqueueKey(key); };
  auto batch_handler = std::make_shared<weir::runtime::EventHandlerFuncs>();
  batch_handler->on_add = [enqueue](const ObjectPtr& o) { enqueue(weir::runtime::ObjectKey(*o)); };
  batch_handler->on_update = [enqueue](const ObjectPtr&, const ObjectPtr& o) {
    enqueue(weir::runtime::ObjectKey(*o));
  };
  batches.AddEventHandler(batch_handler);
  jobs.AddEventHandler(ChildHandler(enqueue));
  pods.AddEventHandler(ChildHandler(enqueue));
  // A JobTemplate that appears or changes: wake the Batches that name it.
  auto template_handler = std::make_shared<weir::runtime::EventHandlerFuncs>();
  template_handler->on_add = [&batches, enqueue](const ObjectPtr& t) {
    const nlohmann::json& meta = (*t)["metadata"];
    for (const ObjectPtr& b : batches.store().ListNamespace(meta.value("namespace", ""))) {
      const nlohmann::json& spec = b->value("spec", nlohmann::json::object());
      if (spec.is_object() && spec.value("template", "") == meta.value("name", "")) {
        enqueue(weir::runtime::ObjectKey(*b));
      }
    }
  };
  templates.AddEventHandler(template_handler);

  weir::runtime::HealthServerOptions health_options;
  health_options.host = health->first;
  health_options.port = health->second;
  const bool shared_address = metrics_address.has_value() && *metrics_address == *health;
  if (shared_address) health_options.metrics = &metrics;
  weir::runtime::HealthServer health_server(health_options);
  health_server.AddReadinessCheck("informers-synced",
                                  [&informers] { return informers.HasSynced(); });
  if (absl::Status s = health_server.Start(); !s.ok()) return fail("cannot serve health", s);
  std::unique_ptr<weir::runtime::HealthServer> metrics_server;
  if (metrics_address.has_value() && !shared_address) {
    weir::runtime::HealthServerOptions o;
    o.host = metrics_address->first;
    o.port = metrics_address->second;
    o.metrics = &metrics;
    metrics_server = std::make_unique<weir::runtime::HealthServer>(o);
    if (absl::Status s = metrics_server->Start(); !s.ok()) return fail("cannot serve metrics", s);
  }

  // SIGTERM and SIGINT are taken by sigwait() below, on this thread only.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);

  logger.Info("starting", {{"version", weir::kVersion},
                           {"namespace", absl::GetFlag(FLAGS_namespace)},
                           {"workers", absl::GetFlag(FLAGS_workers)}});
  informers.Start();
  if (!informers.WaitForCacheSync(absl::Minutes(2))) {
    return fail("caches did not sync", absl::DeadlineExceededError("2m"));
  }
  logger.Info("caches synced");

  std::unique_ptr<weir::runtime::LeaderElector> elector;
  if (absl::GetFlag(FLAGS_leader_elect)) {
    weir::runtime::LeaderElectionConfig le;
    le.lease_namespace = absl::GetFlag(FLAGS_leader_election_namespace);
    le.lease_name = "weir-controller";
    char host[256] = {0};
    gethostname(host, sizeof(host) - 1);
    le.identity = absl::StrCat(host, "_", getpid());
    le.clock = &clock;
    le.logger = logger;
    le.on_started_leading = [&batch_controller, &logger] {
      logger.Info("became the leader; reconciling");
      batch_controller.Start();
    };
    // A process that lost the lease must stop reconciling at once; it exits
    // and its Deployment starts it again as a candidate.
    le.on_stopped_leading = [&logger] {
      logger.Error("lost the leader lease; exiting");
      std::_Exit(1);
    };
    absl::StatusOr<std::unique_ptr<weir::runtime::LeaderElector>> e =
        weir::runtime::LeaderElector::New(client->get(), le);
    if (!e.ok()) return fail("bad leader election settings", e.status());
    elector = *std::move(e);
    elector->Start();
  } else {
    batch_controller.Start();
  }

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  logger.Info("stopping", {{"signal", signal_number}});
  const bool drained = batch_controller.Stop(absl::GetFlag(FLAGS_graceful_shutdown_timeout));
  if (elector != nullptr) elector->Stop();
  recorder.Shutdown(absl::Seconds(5));
  informers.Stop();
  logger.Info("stopped", {{"drained", drained}});
  return drained ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
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

  // Block the stop signals before any thread starts, so every thread
  // inherits the mask and only Run()'s sigwait() receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return Run();
}
