// kubeconfig YAML (kube::ParseKubeconfig), as weir-controller reads
// --kubeconfig or $KUBECONFIG. Relative certificate and token paths resolve
// under a directory that does not exist, so no file is read. Checks, beyond
// memory safety: no exception escapes yaml-cpp or the parser, and a refused
// file's error names the file.
#include "fuzz.h"
#include "kube/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr char kFile[] = "/fuzz/kubeconfig";
  absl::StatusOr<weir::kube::RestConfig> config =
      weir::kube::ParseKubeconfig(weir::fuzz::AsText(data, size), kFile, "/nonexistent/fuzz");
  if (!config.ok()) {
    weir::fuzz::Check(absl::StrContains(config.status().message(), kFile) ||
                          absl::StrContains(config.status().message(), "/nonexistent/fuzz"),
                      config.status().ToString());
  }
  return 0;
}
