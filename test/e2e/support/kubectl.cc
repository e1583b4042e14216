#include "test/e2e/support/kubectl.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "test/e2e/support/eventually.h"

extern char** environ;

namespace weir::e2e {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A temporary file removed on destruction.
class TempFile {
 public:
  explicit TempFile(std::string_view content = {}) {
    char tmpl[] = "/tmp/weir-e2e-XXXXXX";
    int fd = mkstemp(tmpl);
    path_ = tmpl;
    if (fd >= 0) {
      if (!content.empty() && write(fd, content.data(), content.size()) < 0) path_.clear();
      close(fd);
    }
  }
  ~TempFile() {
    if (!path_.empty()) unlink(path_.c_str());
  }
  const std::string& path() const { return path_; }
  // Hands the file over to the caller, who removes it.
  std::string Release() { return std::exchange(path_, ""); }

 private:
  std::string path_;
};

}  // namespace

absl::StatusOr<Kubectl> Kubectl::FromEnv() {
  const char* binary = std::getenv("WEIR_KUBECTL");
  const char* kubeconfig = std::getenv("KUBECONFIG");
  if (binary == nullptr || *binary == '\0' || kubeconfig == nullptr || *kubeconfig == '\0') {
    return absl::FailedPreconditionError(
        "WEIR_KUBECTL and KUBECONFIG must be set: run the e2e tests with `make e2e`, or "
        "`hack/cluster.sh up && eval \"$(hack/cluster.sh env)\"` first");
  }
  return Kubectl(binary, kubeconfig);
}

absl::StatusOr<pid_t> Kubectl::Spawn(const std::vector<std::string>& args, const std::string& in,
                                     const std::string& out, const std::string& err) const {
  std::vector<std::string> argv_storage = {binary_, "--kubeconfig=" + kubeconfig_};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, in.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_TRUNC, 0);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_TRUNC, 0);
  pid_t pid;
  int rc = posix_spawn(&pid, binary_.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return absl::InternalError(absl::StrCat("cannot run ", binary_, ": errno ", rc));
  return pid;
}

absl::StatusOr<std::string> Kubectl::Run(const std::vector<std::string>& args,
                                         std::string_view input) const {
  TempFile in(input), out, err;
  if (in.path().empty() || out.path().empty() || err.path().empty()) {
    return absl::InternalError("cannot create temporary files for kubectl");
  }
  absl::StatusOr<pid_t> pid = Spawn(args, in.path(), out.path(), err.path());
  if (!pid.ok()) return pid.status();
  int status = 0;
  while (waitpid(*pid, &status, 0) < 0) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::UnknownError(absl::StrCat("kubectl ", absl::StrJoin(args, " "), " failed (status ",
                                           status, "): ", ReadFile(err.path())));
  }
  return ReadFile(out.path());
}

absl::StatusOr<std::unique_ptr<BackgroundKubectl>> Kubectl::Background(
    const std::vector<std::string>& args) const {
  TempFile out, err;
  if (out.path().empty() || err.path().empty()) {
    return absl::InternalError("cannot create temporary files for kubectl");
  }
  absl::StatusOr<pid_t> pid = Spawn(args, "/dev/null", out.path(), err.path());
  if (!pid.ok()) return pid.status();
  return std::make_unique<BackgroundKubectl>(*pid, out.Release(), err.Release());
}

BackgroundKubectl::~BackgroundKubectl() {
  (void)Stop();
  unlink(out_path_.c_str());
  unlink(err_path_.c_str());
}

bool BackgroundKubectl::EndedCleanly() {
  if (!early_status_.has_value() && pid_ > 0) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) early_status_ = status;
  }
  return early_status_.has_value() && WIFEXITED(*early_status_) && WEXITSTATUS(*early_status_) == 0;
}

absl::StatusOr<std::string> BackgroundKubectl::Stop() {
  if (pid_ <= 0) return absl::FailedPreconditionError("already stopped");
  int status = early_status_.value_or(0);
  const bool exited_early = early_status_.has_value() || waitpid(pid_, &status, WNOHANG) == pid_;
  if (!exited_early) {
    kill(pid_, SIGTERM);
    while (waitpid(pid_, &status, 0) < 0) {
    }
  }
  pid_ = -1;
  if (exited_early) {
    return absl::UnknownError(absl::StrCat("kubectl exited before it was stopped (status ", status,
                                           "): ", ReadFile(err_path_)));
  }
  return ReadFile(out_path_);
}

std::string BackgroundKubectl::OutputSoFar() const { return ReadFile(out_path_); }

absl::StatusOr<nlohmann::json> Kubectl::GetJson(std::vector<std::string> args) const {
  args.push_back("-o");
  args.push_back("json");
  absl::StatusOr<std::string> out = Run(args);
  if (!out.ok()) return out.status();
  nlohmann::json parsed = nlohmann::json::parse(*out, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return absl::InternalError(absl::StrCat("kubectl printed invalid JSON: ", *out));
  }
  return parsed;
}

absl::StatusOr<std::optional<nlohmann::json>> Kubectl::Find(const std::string& resource,
                                                            const std::string& name,
                                                            const std::string& ns) const {
  // --ignore-not-found prints nothing for a missing object and still fails on
  // every other error.
  absl::StatusOr<std::string> out =
      Run({"get", resource, name, "-n", ns, "--ignore-not-found", "-o", "json"});
  if (!out.ok()) return out.status();
  if (absl::StripAsciiWhitespace(*out).empty()) return std::nullopt;
  nlohmann::json parsed = nlohmann::json::parse(*out, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return absl::InternalError(absl::StrCat("kubectl printed invalid JSON: ", *out));
  }
  return parsed;
}

absl::Status Kubectl::Apply(const nlohmann::json& object) const {
  return Run({"apply", "-f", "-"}, object.dump()).status();
}

TestNamespace::TestNamespace(const Kubectl& kubectl, std::string_view prefix) : kubectl_(kubectl) {
  static std::atomic<int> counter{0};
  name_ = absl::StrCat(std::string(prefix), "-", getpid(), "-", counter++);
  absl::Status created = kubectl_.Run({"create", "namespace", name_}).status();
  if (!created.ok()) {
    ADD_FAILURE() << "creating namespace " << name_ << ": " << created;
    return;
  }
  // Pods are refused until the namespace's default ServiceAccount exists.
  EXPECT_TRUE(Eventually(
      [&]() -> absl::StatusOr<bool> {
        absl::StatusOr<std::optional<nlohmann::json>> account =
            kubectl_.Find("serviceaccount", "default", name_);
        if (!account.ok()) return account.status();
        return account->has_value();
      },
      absl::Seconds(30)))
      << "namespace " << name_ << " never got its default ServiceAccount";
}

TestNamespace::~TestNamespace() {
  // A test's controller has stopped by now: without it, weir's finalizer on
  // what is left would keep the namespace Terminating for ever.
  absl::StatusOr<std::string> left =
      kubectl_.Run({"get", "batches.weir.dev,jobflows.weir.dev", "-n", name_, "-o", "name"});
  if (left.ok()) {
    for (absl::string_view object : absl::StrSplit(*left, '\n', absl::SkipWhitespace())) {
      (void)kubectl_.Run({"patch", std::string(object), "-n", name_, "--type=merge", "-p",
                          R"({"metadata":{"finalizers":null}})"});
    }
  }
  // And weir.dev/final-state on its pods (one patch for all of them).
  absl::StatusOr<std::string> pods =
      kubectl_.Run({"get", "pods", "-n", name_, "-l", "weir.dev/managed-by=weir", "-o", "json"});
  if (pods.ok()) {
    (void)kubectl_.Run(
        {"patch", "-f", "-", "--type=merge", "-p", R"({"metadata":{"finalizers":null}})"}, *pods);
  }
  (void)kubectl_.Run({"delete", "namespace", name_, "--wait=false"});
}

absl::StatusOr<std::string> LeftAfterDeletingOwners(const Kubectl& kubectl, const std::string& ns,
                                                    absl::Duration timeout,
                                                    const std::function<void()>& each_look) {
  for (const char* resource : {"batches.weir.dev", "jobflows.weir.dev"}) {
    absl::Status deleted =
        kubectl.Run({"delete", resource, "--all", "-n", ns, "--wait=false"}).status();
    if (!deleted.ok()) return deleted;
  }
  std::string left;
  Eventually(  // a kubectl error fails the test there
      [&]() -> absl::StatusOr<bool> {
        if (each_look) each_look();
        absl::StatusOr<std::string> out = kubectl.Run(
            {"get", "batches.weir.dev,jobflows.weir.dev,jobs,pods", "-n", ns, "-o", "name"});
        if (!out.ok()) return out.status();
        left = *out;
        return left.empty();
      },
      timeout);
  return left;
}

}  // namespace weir::e2e
