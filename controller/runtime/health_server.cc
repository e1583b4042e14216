#include "runtime/health_server.h"

#ifndef _TURN_OFF_PLATFORM_STRING
#define _TURN_OFF_PLATFORM_STRING  // no U() macro from cpprestsdk
#endif
#include <cpprest/http_listener.h>

#include <exception>

#include "absl/strings/str_cat.h"

namespace weir::runtime {

namespace http = web::http;

struct HealthServer::Impl {
  explicit Impl(const std::string& url) : listener(web::uri(url)) {}
  http::experimental::listener::http_listener listener;
};

HealthServer::HealthServer(HealthServerOptions options) : options_(std::move(options)) {}

HealthServer::~HealthServer() { Stop(); }

void HealthServer::AddReadinessCheck(std::string name, std::function<bool()> check) {
  absl::MutexLock l(&mu_);
  checks_.emplace_back(std::move(name), std::move(check));
}

std::string HealthServer::BaseUrl() const {
  return absl::StrCat("http://", options_.host, ":", options_.port);
}

HealthServer::Response HealthServer::Handle(const std::string& method,
                                            const std::string& path) const {
  const std::string text = "text/plain; charset=utf-8";
  if (path != "/metrics" && path != "/healthz" && path != "/readyz") {
    return {404, text, "404 page not found\n"};
  }
  if (method != "GET" && method != "HEAD") return {405, text, "method not allowed\n"};
  if (path == "/healthz") return {200, text, "ok"};
  if (path == "/metrics") {
    if (options_.metrics == nullptr) return {404, text, "no metrics registry\n"};
    return {200, kPrometheusTextContentType, options_.metrics->Render()};
  }
  // /readyz
  std::vector<std::pair<std::string, std::function<bool()>>> checks;
  {
    absl::MutexLock l(&mu_);
    checks = checks_;
  }
  bool all = true;
  std::string detail;
  for (const auto& [name, check] : checks) {
    bool ok = false;
    try {
      ok = check();
    } catch (...) {
      ok = false;
    }
    all = all && ok;
    absl::StrAppend(&detail, ok ? "[+]" : "[-]", name, ok ? " ok\n" : " failed\n");
  }
  if (all) return {200, text, "ok"};
  return {503, text, absl::StrCat(detail, "readyz check failed\n")};
}

absl::Status HealthServer::Start() {
  if (impl_ != nullptr) return absl::FailedPreconditionError("health server already started");
  try {
    auto impl = std::make_unique<Impl>(BaseUrl() + "/");
    impl->listener.support([this](http::http_request request) {
      Response r;
      try {
        r = Handle(request.method(), request.relative_uri().path());
      } catch (const std::exception& e) {
        r = {500, "text/plain; charset=utf-8", absl::StrCat("internal error: ", e.what(), "\n")};
      }
      http::http_response response(static_cast<http::status_code>(r.status));
      response.headers().set_content_type(r.content_type);
      response.set_body(r.body, r.content_type);
      // Observe the reply's outcome: an unobserved failed task would
      // terminate the process (client gone away is not our problem).
      request.reply(response).then([](pplx::task<void> t) {
        try {
          t.get();
        } catch (...) {
        }
      });
    });
    impl->listener.open().wait();
    impl_ = std::move(impl);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("cannot serve on ", BaseUrl(), ": ", e.what()));
  }
  return absl::OkStatus();
}

void HealthServer::Stop() {
  if (impl_ == nullptr) return;
  try {
    impl_->listener.close().wait();
  } catch (...) {
    // Closing failed: the listener's destructor still releases the port.
  }
  impl_.reset();
}

}  // namespace weir::runtime
