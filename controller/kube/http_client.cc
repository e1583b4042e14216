#include "kube/http_client.h"

#include <cpprest/containerstream.h>
#include <cpprest/http_client.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pplx/threadpool.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <exception>
#include <system_error>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "kube/errors.h"
#include "kube/token_bucket.h"
#include "kube/watch_decoder.h"

namespace weir::kube {

namespace http = web::http;
namespace httpc = web::http::client;

namespace internal {

std::string PercentEncode(absl::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

std::string EncodeQuery(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out;
  for (const auto& [key, value] : params) {
    if (!out.empty()) out.push_back('&');
    absl::StrAppend(&out, PercentEncode(key), "=", PercentEncode(value));
  }
  return out;
}

namespace {
absl::Status CheckSegment(absl::string_view what, absl::string_view value) {
  if (value == "." || value == ".." || absl::StrContains(value, '/')) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid ", what, " \"", value, "\": must be a single path segment"));
  }
  return absl::OkStatus();
}
}  // namespace

absl::StatusOr<std::string> BuildPath(const ResourceRef& ref, absl::string_view ns,
                                      absl::string_view name, absl::string_view subresource,
                                      bool name_required) {
  if (ref.version.empty() || ref.resource.empty()) {
    return absl::InvalidArgumentError("resource reference needs a version and a resource");
  }
  if (!ref.namespaced && !ns.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(ref.ToString(), " is cluster-scoped, but namespace \"", ns, "\" was given"));
  }
  if (ref.namespaced && name_required && ns.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(ref.ToString(), " is namespaced: a namespace is required"));
  }
  if (name_required && name.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(ref.ToString(), ": a name is required"));
  }
  for (auto [what, value] : {std::pair<absl::string_view, absl::string_view>{"namespace", ns},
                             {"name", name},
                             {"subresource", subresource},
                             {"resource", ref.resource},
                             {"group", ref.group},
                             {"version", ref.version}}) {
    if (absl::Status s = CheckSegment(what, value); !s.ok()) return s;
  }
  std::string path = ref.group.empty() ? absl::StrCat("/api/", ref.version)
                                       : absl::StrCat("/apis/", ref.group, "/", ref.version);
  if (ref.namespaced && !ns.empty()) absl::StrAppend(&path, "/namespaces/", PercentEncode(ns));
  absl::StrAppend(&path, "/", ref.resource);
  if (!name.empty()) absl::StrAppend(&path, "/", PercentEncode(name));
  if (!subresource.empty()) absl::StrAppend(&path, "/", subresource);
  return path;
}

}  // namespace internal

namespace {

using Params = std::vector<std::pair<std::string, std::string>>;

// Parses a List body, handing each element of its top-level "items" array to
// `each` as soon as it is decoded (so the page is never decoded whole); the
// result has "items": [] in their place. A body that is not JSON comes back
// discarded (is_discarded()), like nlohmann::json::parse without exceptions.
nlohmann::json ParseListEach(absl::string_view body,
                             const std::function<void(nlohmann::json)>& each) {
  // Depth 1 holds the List's own keys; an item ends at depth 2 inside
  // "items". Returning false drops the handed-over item from the result.
  bool in_items = false;
  nlohmann::json::parser_callback_t callback = [&](int depth, nlohmann::json::parse_event_t event,
                                                   nlohmann::json& parsed) {
    if (depth == 1 && event == nlohmann::json::parse_event_t::key) {
      in_items = parsed.is_string() && parsed.get_ref<const std::string&>() == "items";
    } else if (in_items && depth == 2 &&
               (event == nlohmann::json::parse_event_t::object_end ||
                event == nlohmann::json::parse_event_t::value)) {
      each(std::move(parsed));
      return false;
    }
    return true;
  };
  return nlohmann::json::parse(body.begin(), body.end(), callback, /*allow_exceptions=*/false);
}

// Maps anything cpprestsdk (or the code below it) throws to a status.
absl::Status StatusFromException(std::exception_ptr ep, bool canceled) {
  try {
    std::rethrow_exception(ep);
  } catch (const http::http_exception& e) {
    if (canceled || e.error_code() == std::errc::operation_canceled) {
      return MakeStatus(Reason::kCanceled, "request canceled");
    }
    if (e.error_code() == std::errc::timed_out) {
      return NewTimeout(absl::StrCat("request timed out: ", e.what()));
    }
    return NewConnectionFailed(absl::StrCat("connection failed: ", e.what()));
  } catch (const pplx::task_canceled&) {
    return MakeStatus(Reason::kCanceled, "request canceled");
  } catch (const std::exception& e) {
    if (canceled) return MakeStatus(Reason::kCanceled, "request canceled");
    return NewConnectionFailed(absl::StrCat("request failed: ", e.what()));
  } catch (...) {
    if (canceled) return MakeStatus(Reason::kCanceled, "request canceled");
    return NewConnectionFailed("request failed with an unknown exception");
  }
}

const char* PropagationName(PropagationPolicy p) {
  switch (p) {
    case PropagationPolicy::kOrphan:
      return "Orphan";
    case PropagationPolicy::kBackground:
      return "Background";
    case PropagationPolicy::kForeground:
      return "Foreground";
    case PropagationPolicy::kDefault:
      break;
  }
  return "";
}

const char* ContentType(PatchType type) {
  switch (type) {
    case PatchType::kMerge:
      return "application/merge-patch+json";
    case PatchType::kJson:
      return "application/json-patch+json";
    case PatchType::kStrategicMerge:
      return "application/strategic-merge-patch+json";
    case PatchType::kApply:
      return "application/apply-patch+yaml";
  }
  return "application/json";
}

}  // namespace

namespace internal {

absl::StatusOr<std::shared_ptr<X509_STORE>> TrustStore(absl::string_view pem) {
  std::shared_ptr<X509_STORE> store(X509_STORE_new(), X509_STORE_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), pem.size()), BIO_free);
  if (store == nullptr || bio == nullptr) return absl::InternalError("out of memory");
  ERR_clear_error();
  int certs = 0;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    const int added = X509_STORE_add_cert(store.get(), cert);
    X509_free(cert);
    if (added != 1) break;
    ++certs;
  }
  // Reading stops at the end (PEM_R_NO_START_LINE) or at a certificate that
  // does not parse, which is an error.
  const unsigned long err = ERR_peek_last_error();
  ERR_clear_error();
  if (certs == 0 || (err != 0 && ERR_GET_REASON(err) != PEM_R_NO_START_LINE)) {
    return absl::InvalidArgumentError(
        "certificate-authority-data: not one or more PEM certificates");
  }
  return store;
}

void ConfigureTls(boost::asio::ssl::context& ctx, X509_STORE* trust, const std::string& cert,
                  const std::string& key) {
  if (trust != nullptr) SSL_CTX_set1_cert_store(ctx.native_handle(), trust);
  if (!cert.empty()) {
    ctx.use_certificate_chain(boost::asio::buffer(cert.data(), cert.size()));
    ctx.use_private_key(boost::asio::buffer(key.data(), key.size()),
                        boost::asio::ssl::context::pem);
  }
}

}  // namespace internal

namespace {

// A watch over one long-lived HTTP response. Each read waits for at least
// one byte and then takes everything already buffered, so a burst of events
// costs one task, not one per byte as istream::read_line does.
class HttpWatchStream final : public WatchStream {
 public:
  HttpWatchStream(std::unique_ptr<httpc::http_client> client, http::http_response response,
                  std::unique_ptr<pplx::cancellation_token_source> cancel)
      : client_(std::move(client)),
        response_(std::move(response)),
        body_(response_.body().streambuf()),
        cancel_(std::move(cancel)) {}

  ~HttpWatchStream() override {
    Cancel();
    // Release the body before the client that owns the connection.
    body_ = concurrency::streams::streambuf<uint8_t>();
    response_ = http::http_response();
  }

  bool Next(WatchEvent* event) override {
    // The most read at once: bounds the copy, not the line (the decoder
    // keeps a partial line across reads).
    constexpr size_t kMaxRead = 1 << 20;
    if (ended_) return false;
    while (true) {
      if (canceled_) return End(MakeStatus(Reason::kCanceled, "watch canceled"));
      if (decoder_.Next(event)) return true;
      if (!decoder_.status().ok()) return End(decoder_.status());
      if (at_end_) return End(absl::OkStatus());
      try {
        // getn of no more than is buffered completes at once; of 1 byte
        // when nothing is, it waits for the next.
        chunk_.resize(std::clamp<size_t>(body_.in_avail(), 1, kMaxRead));
        const size_t n = body_.getn(chunk_.data(), chunk_.size()).get();
        if (n == 0) {
          at_end_ = true;
          decoder_.Finish();
        } else {
          decoder_.Feed(absl::string_view(reinterpret_cast<const char*>(chunk_.data()), n));
        }
      } catch (...) {
        return End(StatusFromException(std::current_exception(), canceled_));
      }
    }
  }

  absl::Status status() const override {
    absl::MutexLock lock(&mu_);
    return status_;
  }

  void Cancel() override {
    if (canceled_.exchange(true)) return;
    try {
      cancel_->cancel();
    } catch (...) {
      // Cancellation callbacks run here; nothing may escape the client.
    }
  }

 private:
  bool End(absl::Status status) {
    ended_ = true;
    absl::MutexLock lock(&mu_);
    status_ = std::move(status);
    return false;
  }

  std::unique_ptr<httpc::http_client> client_;
  http::http_response response_;
  concurrency::streams::streambuf<uint8_t> body_;
  std::unique_ptr<pplx::cancellation_token_source> cancel_;
  std::atomic<bool> canceled_{false};
  // Reader thread only:
  WatchDecoder decoder_;
  std::vector<uint8_t> chunk_;
  bool at_end_ = false;
  bool ended_ = false;
  mutable absl::Mutex mu_;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

class HttpClient::Impl {
 public:
  Impl(const RestConfig& config, const HttpClientOptions& options, Clock& clock)
      : config_(config),
        options_(options),
        clock_(clock),
        user_agent_(config.user_agent.empty() ? DefaultUserAgent() : config.user_agent),
        tokens_(config.bearer_token, config.token_file, clock, options.token_reread_interval),
        limiter_(config.qps, config.burst, clock),
        in_flight_(config.max_in_flight) {}

  absl::Status Init() {
    try {
      http::uri base(config_.server);
      if (base.scheme() != "https" && base.scheme() != "http") {
        return absl::InvalidArgumentError(
            absl::StrCat("server \"", config_.server, "\": scheme must be https or http"));
      }
      if (!config_.ca_data.empty()) {
        absl::StatusOr<std::shared_ptr<X509_STORE>> trust = internal::TrustStore(config_.ca_data);
        if (!trust.ok()) {
          return absl::InvalidArgumentError(absl::StrCat(
              "cannot set up the client for ", config_.server, ": ", trust.status().message()));
        }
        trust_ = *std::move(trust);
      }
      if (!config_.client_cert_data.empty()) {
        // Load the client certificate once now so a bad one is reported here
        // rather than on every connection.
        boost::asio::ssl::context probe(boost::asio::ssl::context::tls_client);
        internal::ConfigureTls(probe, nullptr, config_.client_cert_data, config_.client_key_data);
      }
      client_ = std::make_unique<httpc::http_client>(base, ClientConfig(config_.timeout));
    } catch (const std::exception& e) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot set up the client for ", config_.server, ": ", e.what()));
    }
    return absl::OkStatus();
  }

  httpc::http_client_config ClientConfig(absl::Duration timeout) const {
    httpc::http_client_config cc;
    cc.set_timeout(std::chrono::microseconds(absl::ToInt64Microseconds(timeout)));
    cc.set_validate_certificates(!config_.insecure_skip_tls_verify);
    const std::string cert = config_.client_cert_data;
    const std::string key = config_.client_key_data;
    cc.set_ssl_context_callback([trust = trust_, cert, key](boost::asio::ssl::context& ctx) {
      internal::ConfigureTls(ctx, trust.get(), cert, key);
    });
    return cc;
  }

  struct Request {
    const char* verb;  // Kubernetes verb, for the observer
    http::method method;
    std::string path;
    Params params;
    const nlohmann::json* body = nullptr;
    std::string content_type = "application/json";
    std::string accept = "application/json";
    // For a list: each item of a successful answer goes here as it is
    // decoded, and the List object is returned with an empty items array.
    const std::function<void(nlohmann::json)>* each_item = nullptr;
  };

  // Builds the HTTP message; the token is fetched per attempt.
  absl::StatusOr<http::http_request> Message(const Request& r) {
    absl::StatusOr<std::string> token = tokens_.Token();
    if (!token.ok()) return token.status();
    try {
      http::http_request msg(r.method);
      std::string target = r.path;
      if (!r.params.empty()) absl::StrAppend(&target, "?", internal::EncodeQuery(r.params));
      msg.set_request_uri(http::uri(target));
      msg.headers().add("Accept", r.accept);
      msg.headers().add("User-Agent", user_agent_);
      if (!token->empty()) msg.headers().add("Authorization", absl::StrCat("Bearer ", *token));
      if (r.body != nullptr) {
        // Invalid UTF-8 in a string is replaced rather than thrown.
        msg.set_body(r.body->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                     r.content_type);
      }
      return msg;
    } catch (const std::exception& e) {
      return absl::InvalidArgumentError(absl::StrCat("cannot build request: ", e.what()));
    }
  }

  void Observe(const char* verb, const ResourceRef& ref, int code, absl::Time start) {
    if (options_.observer == nullptr) return;
    RequestRecord record{verb, &ref, code, clock_.Now() - start};
    options_.observer->OnRequest(record);
  }

  absl::StatusOr<nlohmann::json> Do(const ResourceRef& ref, const Request& r) {
    bool reread_token = false;
    for (int attempt = 0;; ++attempt) {
      limiter_.Wait();
      absl::StatusOr<http::http_request> msg = Message(r);
      if (!msg.ok()) return msg.status();
      // Held until the response is read; released before any retry's sleep.
      internal::InFlightLimit::Slot slot(in_flight_);
      const absl::Time start = clock_.Now();
      int code = 0;
      std::string body;
      std::string retry_after;
      try {
        http::http_response resp = client_->request(*msg).get();
        code = resp.status_code();
        auto it = resp.headers().find("Retry-After");
        if (it != resp.headers().end()) retry_after = it->second;
        body = resp.extract_utf8string(true).get();
      } catch (...) {
        absl::Status status = StatusFromException(std::current_exception(), false);
        Observe(r.verb, ref, code, start);
        return status;
      }
      Observe(r.verb, ref, code, start);
      if (code >= 200 && code <= 299) {
        if (absl::StripAsciiWhitespace(body).empty()) return nlohmann::json::object();
        nlohmann::json parsed =
            r.each_item == nullptr
                ? nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false)
                : ParseListEach(body, *r.each_item);
        if (parsed.is_discarded()) {
          return absl::InternalError(absl::StrCat(r.verb, " ", ref.ToString(),
                                                  ": response is not JSON: ", body.substr(0, 200)));
        }
        return parsed;
      }
      slot.Release();
      absl::Status status = StatusFromResponse(code, body, retry_after);
      if (code == 401 && tokens_.from_file() && !reread_token) {
        // The token may have rotated since it was last read.
        reread_token = true;
        tokens_.Invalidate();
        continue;
      }
      if (kube::IsTooManyRequests(status) && attempt < options_.max_retries) {
        absl::Duration wait = GetRetryAfter(status).value_or(absl::Seconds(1));
        clock_.SleepFor(std::min(wait, options_.max_retry_wait));
        continue;
      }
      return status;
    }
  }

  absl::StatusOr<std::unique_ptr<WatchStream>> Watch(const ResourceRef& ref, const Request& r,
                                                     absl::Duration idle_timeout) {
    limiter_.Wait();
    absl::StatusOr<http::http_request> msg = Message(r);
    if (!msg.ok()) return msg.status();
    const absl::Time start = clock_.Now();
    int code = 0;
    try {
      // A connection of its own, with a timeout that suits a long response.
      auto client =
          std::make_unique<httpc::http_client>(client_->base_uri(), ClientConfig(idle_timeout));
      auto cancel = std::make_unique<pplx::cancellation_token_source>();
      http::http_response resp = client->request(*msg, cancel->get_token()).get();
      code = resp.status_code();
      Observe(r.verb, ref, code, start);
      if (code != 200) {
        std::string retry_after;
        auto it = resp.headers().find("Retry-After");
        if (it != resp.headers().end()) retry_after = it->second;
        return StatusFromResponse(code, resp.extract_utf8string(true).get(), retry_after);
      }
      return std::unique_ptr<WatchStream>(
          new HttpWatchStream(std::move(client), std::move(resp), std::move(cancel)));
    } catch (...) {
      if (code == 0) Observe(r.verb, ref, code, start);
      return StatusFromException(std::current_exception(), false);
    }
  }

  // One long response read as text, line by line, on a connection of its own.
  absl::Status StreamText(const ResourceRef& ref, const Request& r, absl::Duration timeout,
                          const std::function<bool(absl::string_view)>& sink) {
    limiter_.Wait();
    absl::StatusOr<http::http_request> msg = Message(r);
    if (!msg.ok()) return msg.status();
    const absl::Time start = clock_.Now();
    int code = 0;
    try {
      httpc::http_client client(client_->base_uri(), ClientConfig(timeout));
      http::http_response resp = client.request(*msg).get();
      code = resp.status_code();
      Observe(r.verb, ref, code, start);
      if (code != 200) {
        return StatusFromResponse(code, resp.extract_utf8string(true).get(), "");
      }
      concurrency::streams::istream body = resp.body();
      while (true) {
        // A buffer of the body's own character type: read_line would
        // reinterpret a char buffer as an unsigned char one (UBSan: "not an
        // object of type basic_streambuf").
        concurrency::streams::container_buffer<std::vector<uint8_t>> buf;
        body.read_line(buf).get();
        if (buf.collection().empty() && body.is_eof()) return absl::OkStatus();
        std::string line(buf.collection().begin(), buf.collection().end());
        line.push_back('\n');  // read_line drops it
        if (!sink(line)) return absl::OkStatus();
      }
    } catch (...) {
      if (code == 0) Observe(r.verb, ref, code, start);
      return StatusFromException(std::current_exception(), false);
    }
  }

  const RestConfig config_;
  const HttpClientOptions options_;
  Clock& clock_;
  const std::string user_agent_;
  TokenSource tokens_;
  internal::TokenBucket limiter_;
  internal::InFlightLimit in_flight_;
  // The kubeconfig's certificate authorities, shared by every connection; null
  // without them (the system's roots).
  std::shared_ptr<X509_STORE> trust_;
  std::unique_ptr<httpc::http_client> client_;
};

absl::StatusOr<std::unique_ptr<HttpClient>> HttpClient::New(const RestConfig& config,
                                                            const HttpClientOptions& options) {
  Clock& clock = options.clock != nullptr ? *options.clock : RealClock::Get();
  auto impl = std::make_unique<Impl>(config, options, clock);
  if (absl::Status s = impl->Init(); !s.ok()) return s;
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(impl)));
}

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpClient::~HttpClient() = default;

absl::StatusOr<nlohmann::json> HttpClient::Get(const ResourceRef& ref, absl::string_view ns,
                                               absl::string_view name, const GetOptions& options) {
  absl::StatusOr<std::string> path = internal::BuildPath(ref, ns, name, "", true);
  if (!path.ok()) return path.status();
  Impl::Request r{"get", http::methods::GET, *std::move(path), {}};
  if (!options.resource_version.empty()) {
    r.params.emplace_back("resourceVersion", options.resource_version);
  }
  return impl_->Do(ref, r);
}

absl::StatusOr<nlohmann::json> HttpClient::GetPath(absl::string_view path) {
  static const ResourceRef* const kDiscovery = new ResourceRef{"", "", "discovery", false, ""};
  if (!absl::StartsWith(path, "/")) {
    return absl::InvalidArgumentError(absl::StrCat("not an absolute path: ", path));
  }
  Impl::Request r{"get", http::methods::GET, std::string(path), {}};
  return impl_->Do(*kDiscovery, r);
}

absl::StatusOr<nlohmann::json> HttpClient::List(const ResourceRef& ref, absl::string_view ns,
                                                const ListOptions& options) {
  return ListPage(ref, ns, options, nullptr);
}

absl::StatusOr<nlohmann::json> HttpClient::ListEach(
    const ResourceRef& ref, absl::string_view ns, const ListOptions& options,
    const std::function<void(nlohmann::json item)>& each) {
  return ListPage(ref, ns, options, &each);
}

absl::StatusOr<nlohmann::json> HttpClient::ListPage(
    const ResourceRef& ref, absl::string_view ns, const ListOptions& options,
    const std::function<void(nlohmann::json item)>* each) {
  absl::StatusOr<std::string> path = internal::BuildPath(ref, ns, "", "", false);
  if (!path.ok()) return path.status();
  Impl::Request r{"list", http::methods::GET, *std::move(path), {}};
  r.each_item = each;
  if (!options.label_selector.empty())
    r.params.emplace_back("labelSelector", options.label_selector);
  if (!options.field_selector.empty())
    r.params.emplace_back("fieldSelector", options.field_selector);
  if (options.limit > 0) r.params.emplace_back("limit", absl::StrCat(options.limit));
  if (!options.continue_token.empty()) r.params.emplace_back("continue", options.continue_token);
  if (!options.resource_version.empty()) {
    r.params.emplace_back("resourceVersion", options.resource_version);
  }
  if (!options.resource_version_match.empty()) {
    r.params.emplace_back("resourceVersionMatch", options.resource_version_match);
  }
  return impl_->Do(ref, r);
}

absl::StatusOr<nlohmann::json> HttpClient::Create(const ResourceRef& ref, absl::string_view ns,
                                                  const nlohmann::json& object,
                                                  const CreateOptions& options) {
  if (!object.is_object()) {
    return absl::InvalidArgumentError("create: object must be a JSON object");
  }
  if (options.subresource.empty() != options.subresource_of.empty()) {
    return absl::InvalidArgumentError(
        "create: set both subresource and subresource_of, or neither");
  }
  // Collections take no name (the server may generate one).
  absl::StatusOr<std::string> path =
      internal::BuildPath(ref, ns, options.subresource_of, options.subresource, false);
  if (!path.ok()) return path.status();
  if (ref.namespaced && ns.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(ref.ToString(), " is namespaced: a namespace is required"));
  }
  Impl::Request r{"create", http::methods::POST, *std::move(path), {}, &object};
  if (!options.field_manager.empty()) r.params.emplace_back("fieldManager", options.field_manager);
  if (options.dry_run) r.params.emplace_back("dryRun", "All");
  return impl_->Do(ref, r);
}

absl::StatusOr<nlohmann::json> HttpClient::Update(const ResourceRef& ref, absl::string_view ns,
                                                  const nlohmann::json& object,
                                                  const UpdateOptions& options) {
  absl::StatusOr<std::string> path =
      internal::BuildPath(ref, ns, MetadataString(object, "name"), options.subresource, true);
  if (!path.ok()) return path.status();
  Impl::Request r{"update", http::methods::PUT, *std::move(path), {}, &object};
  if (!options.field_manager.empty()) r.params.emplace_back("fieldManager", options.field_manager);
  if (options.dry_run) r.params.emplace_back("dryRun", "All");
  return impl_->Do(ref, r);
}

absl::StatusOr<nlohmann::json> HttpClient::Patch(const ResourceRef& ref, absl::string_view ns,
                                                 absl::string_view name, PatchType type,
                                                 const nlohmann::json& patch,
                                                 const PatchOptions& options) {
  absl::StatusOr<std::string> path = internal::BuildPath(ref, ns, name, options.subresource, true);
  if (!path.ok()) return path.status();
  if (type == PatchType::kJson && !patch.is_array()) {
    return absl::InvalidArgumentError("JSON patch must be an array of operations");
  }
  if (type != PatchType::kJson && !patch.is_object()) {
    return absl::InvalidArgumentError("merge patch and apply configuration must be JSON objects");
  }
  if (type == PatchType::kApply && options.field_manager.empty()) {
    return absl::InvalidArgumentError("server-side apply requires a field manager");
  }
  Impl::Request r{"patch", http::methods::PATCH, *std::move(path), {}, &patch, ContentType(type)};
  if (!options.field_manager.empty()) r.params.emplace_back("fieldManager", options.field_manager);
  if (type == PatchType::kApply && options.force) r.params.emplace_back("force", "true");
  if (options.dry_run) r.params.emplace_back("dryRun", "All");
  return impl_->Do(ref, r);
}

absl::StatusOr<nlohmann::json> HttpClient::Delete(const ResourceRef& ref, absl::string_view ns,
                                                  absl::string_view name,
                                                  const DeleteOptions& options) {
  absl::StatusOr<std::string> path = internal::BuildPath(ref, ns, name, "", true);
  if (!path.ok()) return path.status();
  nlohmann::json body = {{"kind", "DeleteOptions"}, {"apiVersion", "v1"}};
  if (options.uid.has_value()) body["preconditions"]["uid"] = *options.uid;
  if (options.resource_version.has_value()) {
    body["preconditions"]["resourceVersion"] = *options.resource_version;
  }
  if (options.propagation_policy != PropagationPolicy::kDefault) {
    body["propagationPolicy"] = PropagationName(options.propagation_policy);
  }
  if (options.grace_period_seconds.has_value()) {
    body["gracePeriodSeconds"] = *options.grace_period_seconds;
  }
  if (options.dry_run) body["dryRun"] = nlohmann::json::array({"All"});
  Impl::Request r{"delete", http::methods::DEL, *std::move(path), {}, &body};
  return impl_->Do(ref, r);
}

absl::StatusOr<std::unique_ptr<WatchStream>> HttpClient::Watch(const ResourceRef& ref,
                                                               absl::string_view ns,
                                                               const WatchOptions& options) {
  absl::StatusOr<std::string> path = internal::BuildPath(ref, ns, "", "", false);
  if (!path.ok()) return path.status();
  Impl::Request r{"watch", http::methods::GET, *std::move(path), {{"watch", "true"}}};
  if (!options.resource_version.empty()) {
    r.params.emplace_back("resourceVersion", options.resource_version);
  }
  if (options.allow_watch_bookmarks) r.params.emplace_back("allowWatchBookmarks", "true");
  absl::Duration idle = impl_->options_.watch_idle_timeout;
  if (options.timeout_seconds.has_value()) {
    r.params.emplace_back("timeoutSeconds", absl::StrCat(*options.timeout_seconds));
    idle = absl::Seconds(*options.timeout_seconds) + absl::Seconds(30);
  }
  if (!options.label_selector.empty())
    r.params.emplace_back("labelSelector", options.label_selector);
  if (!options.field_selector.empty())
    r.params.emplace_back("fieldSelector", options.field_selector);
  return impl_->Watch(ref, r, idle);
}

absl::Status HttpClient::StreamPodLog(absl::string_view ns, absl::string_view pod,
                                      const PodLogOptions& options,
                                      const std::function<bool(absl::string_view)>& sink) {
  const ResourceRef ref = resources::Pods();
  absl::StatusOr<std::string> path = internal::BuildPath(ref, ns, pod, "log", true);
  if (!path.ok()) return path.status();
  Impl::Request r{"get", http::methods::GET, *std::move(path), {}};
  // The log is text; an error is a metav1.Status in JSON.
  r.accept = "text/plain, application/json";
  if (!options.container.empty()) r.params.emplace_back("container", options.container);
  if (options.follow) r.params.emplace_back("follow", "true");
  return impl_->StreamText(ref, r, options.timeout, sink);
}

void StartHttpIoThreads(size_t n) {
  OPENSSL_init_ssl(0, nullptr);
  try {
    crossplat::threadpool::initialize_with_threads(n);
  } catch (const std::exception&) {
    // Already started (a second ControllerMain in one process): it stays.
  }
}

}  // namespace weir::kube
