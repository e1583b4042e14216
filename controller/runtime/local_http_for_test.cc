// cpprestsdk's U() macro clashes with GoogleTest template parameters.
#ifndef _TURN_OFF_PLATFORM_STRING
#define _TURN_OFF_PLATFORM_STRING
#endif
#include "runtime/local_http_for_test.h"

#include <arpa/inet.h>
#include <cpprest/http_client.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <exception>

namespace weir::runtime::local_http {

namespace {

// Binds `fd` to a loopback port the kernel picks (listening if `listen_on`);
// returns the port, or 0.
int BindLoopback(int fd, bool listen_on) {
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      (listen_on && listen(fd, 1) != 0) ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return 0;
  }
  return ntohs(addr.sin_port);
}

}  // namespace

int FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  const int port = BindLoopback(fd, /*listen_on=*/false);
  if (fd >= 0) close(fd);
  return port;
}

BusyLoopbackPort::BusyLoopbackPort()
    : fd_(socket(AF_INET, SOCK_STREAM, 0)), port_(BindLoopback(fd_, /*listen_on=*/true)) {}

BusyLoopbackPort::~BusyLoopbackPort() {
  if (fd_ >= 0) close(fd_);
}

HttpReply Fetch(const std::string& base, const std::string& path, const std::string& method) {
  try {
    web::http::client::http_client client{web::uri(base)};
    web::http::http_response r = client.request(method, path).get();
    return {r.status_code(), r.headers().content_type(), r.extract_utf8string(true).get()};
  } catch (const std::exception& e) {
    return {0, "", e.what()};
  }
}

}  // namespace weir::runtime::local_http
