// kubectl-weir: the kubectl plugin of weir (README, "kubectl weir"). kubectl
// runs it for `kubectl weir ...` when it is on the PATH.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/clock.h"
#include "kube/config.h"
#include "kube/http_client.h"
#include "kubectl-weir/args.h"
#include "kubectl-weir/commands.h"
#include "kubectl-weir/style.h"
#include "version.h"

namespace {

std::optional<std::string> Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::nullopt : std::optional<std::string>(v);
}

void Write(FILE* f, absl::string_view text) {
  fwrite(text.data(), 1, text.size(), f);
  fflush(f);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace weir;
  std::vector<std::string> args(argv + 1, argv + argc);
  absl::StatusOr<cli::Invocation> inv = cli::ParseArgs(args);
  if (!inv.ok()) {
    Write(stderr, absl::StrCat("Error: ", inv.status().message(),
                               "\nSee 'kubectl weir help' for usage.\n"));
    return 1;
  }
  if (inv->command == cli::Command::kHelp) {
    Write(stdout, cli::UsageText());
    return 0;
  }
  kube::LoadOptions lo;
  lo.kubeconfig = inv->kubeconfig;
  lo.context = inv->context;
  absl::StatusOr<kube::RestConfig> config = kube::LoadConfig(lo);
  if (!config.ok()) {
    Write(stderr, absl::StrCat("Error: cannot load the connection settings: ",
                               config.status().message(), "\n"));
    return 1;
  }
  config->user_agent = absl::StrCat("kubectl-weir/", kVersion);
  absl::StatusOr<std::unique_ptr<kube::HttpClient>> client = kube::HttpClient::New(*config);
  if (!client.ok()) {
    Write(stderr, absl::StrCat("Error: ", client.status().message(), "\n"));
    return 1;
  }
  const bool terminal = isatty(STDOUT_FILENO) == 1;
  cli::Io io;
  io.client = client->get();
  kube::HttpClient* http = client->get();
  io.pod_log = [http](const std::string& ns, const std::string& pod,
                      const kube::PodLogOptions& options,
                      const std::function<bool(absl::string_view)>& sink) {
    return http->StreamPodLog(ns, pod, options, sink);
  };
  io.clock = &RealClock::Get();
  io.out = [](absl::string_view text) { Write(stdout, text); };
  io.err = [](absl::string_view text) { Write(stderr, text); };
  io.terminal = terminal;
  io.style.color = cli::UseColor(terminal, Env("NO_COLOR"), Env("TERM"));
  io.default_namespace = config->default_namespace;
  return cli::Run(*inv, io);
}
