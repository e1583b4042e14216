// Where and how to reach the Kubernetes API server.
//
// RestConfig is plain data: the server URL, the TLS material (as PEM bytes,
// never file names, so a client needs no file system access after loading)
// and the credentials. It is filled from a kubeconfig file (LoadKubeconfig),
// from the pod's service account (LoadInClusterConfig), or by LoadConfig,
// which applies the lookup order weir-controller uses.
//
// A bearer token that lives in a file (service account tokens rotate) is read
// through TokenSource, which re-reads the file at most once per interval.
//
// Loading never throws; a bad file gives absl::InvalidArgumentError naming the
// file and the offending field. The loaders are thread-compatible (they only
// read files and the environment given to them); TokenSource is thread-safe.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"

namespace weir::kube {

struct RestConfig {
  // Base URL, e.g. "https://127.0.0.1:6443", without a trailing slash.
  std::string server;
  // PEM bytes of the CA bundle that signs the server's certificate. Empty:
  // the system's default roots.
  std::string ca_data;
  // PEM bytes of the client certificate (chain) and its private key; both or
  // neither.
  std::string client_cert_data;
  std::string client_key_data;
  // A bearer token given inline. Ignored when token_file is set.
  std::string bearer_token;
  // A file holding the bearer token, re-read when it rotates.
  std::string token_file;
  bool insecure_skip_tls_verify = false;
  // Empty: DefaultUserAgent().
  std::string user_agent;
  // Client-side rate limit: sustained requests per second and burst size.
  // qps <= 0 disables the limit (the API server's Priority and Fairness still
  // applies, and its 429s are retried after their Retry-After).
  double qps = 20;
  int burst = 40;
  // Requests (not watches) in flight at once; more wait for a free slot, so a
  // controller that wakes with thousands of objects does not open a request
  // per object at once. <= 0: no bound.
  int max_in_flight = 0;
  // Per-request timeout for everything but watches.
  absl::Duration timeout = absl::Seconds(30);
  // The namespace of the context or service account; "default" if none.
  std::string default_namespace = "default";
  // Human-readable origin, for logs: "kubeconfig /x/config (context kind)".
  std::string source;
};

// "weir-controller/<version>".
std::string DefaultUserAgent();

// Looks up an environment variable; nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
// The process environment.
EnvLookup ProcessEnv();

// Parses kubeconfig text. `file` names the source in errors and `base_dir`
// resolves relative certificate/key/token paths. An empty `context` means the
// file's current-context.
absl::StatusOr<RestConfig> ParseKubeconfig(absl::string_view yaml, absl::string_view file,
                                           absl::string_view base_dir,
                                           absl::string_view context = "");

// Loads one kubeconfig file; relative paths resolve against its directory.
absl::StatusOr<RestConfig> LoadKubeconfigFile(const std::string& path,
                                              absl::string_view context = "");

// Loads several kubeconfig files merged the way kubectl merges $KUBECONFIG:
// for each cluster/user/context name the first file that defines it wins, and
// the first non-empty current-context wins. Missing files are skipped; if
// none exists the result is NotFoundError.
absl::StatusOr<RestConfig> LoadKubeconfigFiles(const std::vector<std::string>& paths,
                                               absl::string_view context = "");

// Files of the pod's service account; replaceable for tests.
struct InClusterPaths {
  std::string token_file = "/var/run/secrets/kubernetes.io/serviceaccount/token";
  std::string ca_file = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
  std::string namespace_file = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
};

// True if KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are set.
bool InClusterEnvPresent(const EnvLookup& env);

// The config of a process running in a pod: server from
// KUBERNETES_SERVICE_HOST/PORT, CA from ca_file, token from token_file (kept
// as a file so rotation is seen), namespace from namespace_file if present.
absl::StatusOr<RestConfig> LoadInClusterConfig(const EnvLookup& env,
                                               const InClusterPaths& paths = {});

struct LoadOptions {
  std::string kubeconfig;  // --kubeconfig; empty: not given
  std::string context;     // --context; empty: the current context
  EnvLookup env = ProcessEnv();
  InClusterPaths in_cluster;
};

// The lookup order of weir-controller: an explicit kubeconfig; else the
// in-cluster config if its environment is set (and no context was asked
// for); else $KUBECONFIG (a colon-separated list); else $HOME/.kube/config.
absl::StatusOr<RestConfig> LoadConfig(const LoadOptions& options);

// Supplies the bearer token for each request. A token file is read on first
// use and then again when `reread_interval` has passed on `clock` since the
// last read (or after Invalidate()), so a rotated service-account token is
// picked up. If a re-read fails the last good token is kept.
//
// Thread-safe. `clock` must outlive the TokenSource.
class TokenSource {
 public:
  TokenSource(std::string static_token, std::string token_file, Clock& clock,
              absl::Duration reread_interval = absl::Minutes(1));

  // The current token; empty if the config has no token. An error only if
  // the token file has never been read successfully.
  absl::StatusOr<std::string> Token();

  // Makes the next Token() re-read the file (e.g. after a 401).
  void Invalidate();

  bool from_file() const { return !token_file_.empty(); }

 private:
  const std::string static_token_;
  const std::string token_file_;
  Clock& clock_;
  const absl::Duration reread_interval_;

  absl::Mutex mu_;
  std::string token_ ABSL_GUARDED_BY(mu_);
  bool have_token_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time next_read_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

namespace internal {
// Reads a whole file. NotFoundError if it does not exist, otherwise
// InvalidArgumentError/InternalError naming the path.
absl::StatusOr<std::string> ReadFile(const std::string& path);
// `path` if absolute or `dir` is empty, else dir/path.
std::string ResolvePath(absl::string_view dir, absl::string_view path);
}  // namespace internal

}  // namespace weir::kube
