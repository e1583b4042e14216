// Test helpers for the HTTP servers a weir process runs (health, readiness,
// metrics): a free loopback port to start one on, and a plain request to it.
// For tests only (library weir_runtime_local_http_for_test).
#pragma once

#include <string>

namespace weir::runtime::local_http {

// A loopback port that was free when asked. The kernel's choice is released
// before the caller's server binds it, so nothing else in the test may bind
// ports in between.
int FreeLoopbackPort();

// A loopback port held busy (bound and listening) for the object's life, to
// show what a server does when its port is taken.
class BusyLoopbackPort {
 public:
  BusyLoopbackPort();
  ~BusyLoopbackPort();
  BusyLoopbackPort(const BusyLoopbackPort&) = delete;
  BusyLoopbackPort& operator=(const BusyLoopbackPort&) = delete;
  int port() const { return port_; }  // 0 if it could not be taken

 private:
  int fd_ = -1;
  int port_ = 0;
};

struct HttpReply {
  int status = 0;  // 0: no answer (nothing listens, the connection failed)
  std::string content_type;
  std::string body;  // with status 0, the error
};

// Sends `method` (GET, POST, ...) for `path` to `base` ("http://host:port").
HttpReply Fetch(const std::string& base, const std::string& path,
                const std::string& method = "GET");

}  // namespace weir::runtime::local_http
