#include "test/e2e/support/containerd.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace weir::e2e {
namespace {

// Single-quotes `s` for /bin/sh.
std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipWhitespace())) {
    lines.emplace_back(line);
  }
  return lines;
}

}  // namespace

absl::StatusOr<Containerd> Containerd::FromEnv() {
  const char* ctr = std::getenv("WEIR_CTR");
  const char* address = std::getenv("WEIR_CONTAINERD_ADDRESS");
  if (ctr == nullptr || address == nullptr) {
    return absl::FailedPreconditionError(
        "WEIR_CTR and WEIR_CONTAINERD_ADDRESS are not set: the real node is not running "
        "(hack/cluster.sh up says why)");
  }
  return Containerd(ctr, address);
}

absl::StatusOr<std::string> Containerd::Ctr(const std::vector<std::string>& args) const {
  std::string command = absl::StrCat(Quote(ctr_), " --address ", Quote(address_), " -n k8s.io");
  for (const std::string& a : args) absl::StrAppend(&command, " ", Quote(a));
  // stderr apart: ctr warns there on every call (cgroup v1 is deprecated).
  char err_path[] = "/tmp/weir-ctr-err.XXXXXX";
  int fd = mkstemp(err_path);
  if (fd < 0) return absl::InternalError("mkstemp failed");
  close(fd);
  absl::StrAppend(&command, " 2>", err_path);
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return absl::InternalError("popen failed");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  int status = pclose(pipe);
  std::ifstream err_file(err_path);
  std::string err((std::istreambuf_iterator<char>(err_file)), std::istreambuf_iterator<char>());
  unlink(err_path);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat(command, " failed: ", err));
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> Containerd::Containers(
    const std::vector<std::pair<std::string, std::string>>& labels) const {
  std::vector<std::string> filters;
  for (const auto& [key, value] : labels) {
    filters.push_back(absl::StrCat("labels.\"", key, "\"==", value));
  }
  std::vector<std::string> args = {"containers", "ls", "-q"};
  if (!filters.empty()) args.push_back(absl::StrJoin(filters, ","));
  absl::StatusOr<std::string> out = Ctr(args);
  if (!out.ok()) return out.status();
  return Lines(*out);
}

}  // namespace weir::e2e
