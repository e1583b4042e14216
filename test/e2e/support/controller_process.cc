#include "test/e2e/support/controller_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

extern char** environ;

namespace weir::e2e {

int FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    socklen_t len = sizeof(addr);
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

namespace {

int ExitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return WIFSIGNALED(status) ? -WTERMSIG(status) : -1;
}

}  // namespace

ControllerProcess::ControllerProcess(std::vector<std::string> extra_flags, std::string log_path,
                                     std::string binary)
    : extra_flags_(std::move(extra_flags)),
      log_path_(std::move(log_path)),
      binary_(std::move(binary)) {
  if (binary_.empty()) {
    const char* env = std::getenv("WEIR_CONTROLLER_BINARY");
    binary_ = env != nullptr ? env : WEIR_CONTROLLER_BINARY;
  }
  if (log_path_.empty()) {
    log_path_ =
        absl::StrCat("/tmp/weir-controller-e2e-", getpid(), "-", FreeLoopbackPort(), ".log");
  }
}

ControllerProcess::~ControllerProcess() {
  if (pid_ > 0) Stop(absl::Seconds(10));
}

absl::Status ControllerProcess::Start() {
  const char* kubeconfig = std::getenv("KUBECONFIG");
  if (kubeconfig == nullptr) return absl::FailedPreconditionError("KUBECONFIG is not set");
  health_port_ = FreeLoopbackPort();
  std::vector<std::string> args = {
      binary_,
      absl::StrCat("--kubeconfig=", kubeconfig),
      absl::StrCat("--health-bind-address=127.0.0.1:", health_port_),
      absl::StrCat("--metrics-bind-address=127.0.0.1:", health_port_),
      "--log-format=json",
      "--log-level=debug",
  };
  args.insert(args.end(), extra_flags_.begin(), extra_flags_.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  int rc = posix_spawn(&pid_, args[0].c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    pid_ = -1;
    return absl::InternalError(absl::StrCat("cannot start ", args[0], ": ", std::strerror(rc)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ControllerProcess::HttpGet(const std::string& path) const {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(health_port_);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return absl::UnavailableError("connection refused");
  }
  const std::string request =
      absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  if (write(fd, request.data(), request.size()) < 0) {
    close(fd);
    return absl::UnavailableError("write failed");
  }
  std::string response;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) response.append(buf, n);
  close(fd);
  if (response.rfind("HTTP/1.", 0) != 0 || response.size() < 12) {
    return absl::UnavailableError("no HTTP response");
  }
  const std::string code = response.substr(9, 3);
  const size_t body = response.find("\r\n\r\n");
  std::string content = body == std::string::npos ? "" : response.substr(body + 4);
  if (code != "200") return absl::UnavailableError(absl::StrCat("HTTP ", code, ": ", content));
  return content;
}

std::vector<std::string> ControllerProcess::SanitizerReports() const {
  // A report is its first line and the stack under it, up to the sanitizer's
  // SUMMARY line: CI keeps the test's output, not the controller's log.
  constexpr int kMaxLines = 60;
  std::vector<std::string> reports;
  std::ifstream log(log_path_);
  int lines_left = 0;
  for (std::string line; std::getline(log, line);) {
    if (absl::StrContains(line, "WARNING: ThreadSanitizer:") ||
        absl::StrContains(line, "ERROR: AddressSanitizer:") ||
        absl::StrContains(line, "ERROR: LeakSanitizer:") ||
        absl::StrContains(line, ": runtime error: ")) {
      reports.push_back(line);
      lines_left = kMaxLines;
    } else if (lines_left > 0) {
      absl::StrAppend(&reports.back(), "\n", line);
      --lines_left;
      if (absl::StartsWith(line, "SUMMARY:")) lines_left = 0;
    }
  }
  return reports;
}

absl::Status ControllerProcess::WaitReady(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::Status last = absl::UnavailableError("not started");
  while (absl::Now() < deadline) {
    int status;
    if (pid_ > 0 && waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::InternalError(absl::StrCat("weir-controller exited; see ", log_path_));
    }
    absl::StatusOr<std::string> ready = HttpGet("/readyz");
    if (ready.ok()) return absl::OkStatus();
    last = ready.status();
    absl::SleepFor(absl::Milliseconds(100));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("weir-controller not ready: ", last.message(), "; see ", log_path_));
}

int ControllerProcess::Stop(absl::Duration timeout) {
  if (pid_ <= 0) return 0;
  kill(pid_, SIGTERM);
  const absl::Time deadline = absl::Now() + timeout;
  int status = 0;
  while (waitpid(pid_, &status, WNOHANG) == 0) {
    if (absl::Now() >= deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  pid_ = -1;
  return ExitCodeOf(status);
}

std::optional<int> ControllerProcess::Exited() {
  int status = 0;
  if (pid_ <= 0 || waitpid(pid_, &status, WNOHANG) != pid_) return std::nullopt;
  pid_ = -1;
  return ExitCodeOf(status);
}

void ControllerProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

}  // namespace weir::e2e
