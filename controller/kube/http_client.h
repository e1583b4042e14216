// HttpClient: kube::Client over HTTPS with cpprestsdk.
//
// - TLS: the CA and client certificate/key come from RestConfig as PEM bytes.
//   With a CA, only it is trusted (one store, shared by every connection; the
//   system's roots otherwise); the server's certificate and host name are
//   verified unless insecure_skip_tls_verify.
// - Auth: bearer token (re-read from its file when it rotates, and once more
//   after a 401) or client certificate.
// - Rate limit: a token bucket of RestConfig qps/burst on the injected Clock,
//   and at most RestConfig max_in_flight requests (not watches) at once.
//   A 429 is retried up to `max_retries` times after its Retry-After (capped
//   at `max_retry_wait`, 1s if the server gave none).
// - Errors: every exception from cpprestsdk is caught and mapped
//   (connection failures -> kube::IsConnectionFailed / UNAVAILABLE, timeouts
//   -> kube::IsTimeout / DEADLINE_EXCEEDED); HTTP errors map per errors.h.
// - Every HTTP request is reported to the optional RequestObserver.
//
// Thread-safe: one HttpClient serves any number of threads. Each WatchStream
// owns its own connection and may outlive the HttpClient that opened it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "base/clock.h"
#include "kube/client.h"
#include "kube/config.h"

// OpenSSL's X509_STORE and Boost.Asio's TLS context, for internal::ConfigureTls.
struct x509_store_st;
namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace weir::kube {

struct PodLogOptions {
  std::string container;  // "" = the pod's only container
  bool follow = false;
  // Without follow: how long the whole read may take. With follow: how long
  // the stream may stay silent before it ends with a timeout.
  absl::Duration timeout = absl::Seconds(30);
};

struct HttpClientOptions {
  Clock* clock = nullptr;               // null: RealClock::Get()
  RequestObserver* observer = nullptr;  // not owned; must outlive the client
  int max_retries = 3;                  // retries of a 429
  absl::Duration max_retry_wait = absl::Seconds(30);
  absl::Duration token_reread_interval = absl::Minutes(1);
  // A watch without timeout_seconds ends with a timeout after this long
  // without any data from the server.
  absl::Duration watch_idle_timeout = absl::Minutes(10);
};

class HttpClient final : public Client {
 public:
  // Fails with InvalidArgument if the server URL or TLS material is unusable.
  static absl::StatusOr<std::unique_ptr<HttpClient>> New(const RestConfig& config,
                                                         const HttpClientOptions& options = {});
  ~HttpClient() override;

  absl::StatusOr<nlohmann::json> Get(const ResourceRef& ref, absl::string_view ns,
                                     absl::string_view name,
                                     const GetOptions& options = {}) override;
  absl::StatusOr<nlohmann::json> List(const ResourceRef& ref, absl::string_view ns,
                                      const ListOptions& options = {}) override;
  // Parses the page item by item (see Client::ListEach).
  absl::StatusOr<nlohmann::json> ListEach(
      const ResourceRef& ref, absl::string_view ns, const ListOptions& options,
      const std::function<void(nlohmann::json item)>& each) override;
  absl::StatusOr<nlohmann::json> Create(const ResourceRef& ref, absl::string_view ns,
                                        const nlohmann::json& object,
                                        const CreateOptions& options = {}) override;
  absl::StatusOr<nlohmann::json> Update(const ResourceRef& ref, absl::string_view ns,
                                        const nlohmann::json& object,
                                        const UpdateOptions& options = {}) override;
  absl::StatusOr<nlohmann::json> Patch(const ResourceRef& ref, absl::string_view ns,
                                       absl::string_view name, PatchType type,
                                       const nlohmann::json& patch,
                                       const PatchOptions& options = {}) override;
  absl::StatusOr<nlohmann::json> Delete(const ResourceRef& ref, absl::string_view ns,
                                        absl::string_view name,
                                        const DeleteOptions& options = {}) override;
  absl::StatusOr<std::unique_ptr<WatchStream>> Watch(const ResourceRef& ref, absl::string_view ns,
                                                     const WatchOptions& options = {}) override;

  // GET /api/v1/namespaces/<ns>/pods/<pod>/log: the container's log as text,
  // passed to `sink` line by line (each with its '\n', the last one perhaps
  // without) as it arrives. With `follow` the request lasts until the
  // container ends or `sink` returns false (then the result is OK). An error
  // answer of the API server (no such pod or container, a kubelet it cannot
  // reach) is returned as the typed status of errors.h with its message.
  // Not part of kube::Client: only kubectl-weir reads logs.
  absl::Status StreamPodLog(absl::string_view ns, absl::string_view pod,
                            const PodLogOptions& options,
                            const std::function<bool(absl::string_view)>& sink);

  // GETs an absolute path that names no resource ("/version", "/apis/batch/v1"
  // discovery documents); not part of Client, for the start-up check
  // (kube/server_check.h).
  absl::StatusOr<nlohmann::json> GetPath(absl::string_view path);

 private:
  class Impl;
  explicit HttpClient(std::unique_ptr<Impl> impl);
  // List and ListEach: `each` null for a whole page.
  absl::StatusOr<nlohmann::json> ListPage(const ResourceRef& ref, absl::string_view ns,
                                          const ListOptions& options,
                                          const std::function<void(nlohmann::json item)>* each);
  std::unique_ptr<Impl> impl_;
};

// Starts the process's HTTP I/O threads (cpprestsdk's shared pool, 40 threads
// if nothing asks) with `n` threads, after initializing OpenSSL so that at
// exit, statics going in reverse order, the threads stop and their
// connections close before OpenSSL cleans up. Changes nothing if the pool was
// already started. Call first thing in main.
void StartHttpIoThreads(size_t n);

namespace internal {
// The certificate authorities of `pem` (a kubeconfig's
// certificate-authority-data: one or more PEM certificates) as one X509 store
// for every connection of a client to share. InvalidArgument if it holds no
// certificate or one that does not parse.
absl::StatusOr<std::shared_ptr<x509_store_st>> TrustStore(absl::string_view pem);
// Sets up `ctx`, made for one connection, to trust only `trust` if not null
// (as client-go does, a kubeconfig's CA replaces the system's roots; the
// store is shared, not copied), else the system's roots, and to present the
// client certificate `cert` with `key` if `cert` is not empty.
void ConfigureTls(boost::asio::ssl::context& ctx, x509_store_st* trust, const std::string& cert,
                  const std::string& key);
// RFC 3986 percent-encoding of everything but unreserved characters.
std::string PercentEncode(absl::string_view s);
// "a=1&b=x%20y" from ordered pairs (empty values are kept).
std::string EncodeQuery(const std::vector<std::pair<std::string, std::string>>& params);
// The URL path of a collection (name empty) or an object, e.g.
// /apis/batch/v1/namespaces/ns/jobs/name/status. Checks the namespace against
// the resource's scope and that names are single path segments.
absl::StatusOr<std::string> BuildPath(const ResourceRef& ref, absl::string_view ns,
                                      absl::string_view name, absl::string_view subresource,
                                      bool name_required);
}  // namespace internal

}  // namespace weir::kube
