#!/usr/bin/env bash
# Installs the Debian packages weir needs to build and test, if any are missing.
# Idempotent and silent when everything is already installed.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libcpprest-dev libboost-system-dev libssl-dev
  libyaml-cpp-dev nlohmann-json3-dev libabsl-dev
  libgtest-dev libgmock-dev
  clang-format openssl curl ca-certificates procps iproute2 util-linux
)
# Not for building weir (the Dockerfile's build stage has `packages` only): the
# local control plane's real node (hack/node.sh: runc's seccomp, the CNI
# plugins, busybox for hack/images.sh) and jq for the tests' scripts.
cluster_packages=(libseccomp-dev busybox-static containernetworking-plugins jq)
# Not for building weir either: the fuzz targets (test/fuzz, `make fuzz`) are
# built with clang and libFuzzer in their own build directory (llvm-16 for
# llvm-symbolizer: crash reports with file and line).
fuzz_packages=(clang-16 libclang-rt-16-dev libfuzzer-16-dev llvm-16)
# The sanitizer builds (hack/sanitize.sh: make tsan, make test's tsan-unit and
# asan-e2e) use gcc's runtimes, which g++ pulls in on amd64; named so that they
# stay. The TSan build also compiles Debian's source of libabsl-dev, which
# hack/sanitize.sh fetches with apt-get source.
sanitizer_packages=(libtsan2 libasan8 libubsan1)

missing=()
for p in "${packages[@]}" "${cluster_packages[@]}" "${fuzz_packages[@]}" "${sanitizer_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "installing missing packages: ${missing[*]}" >&2
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "packages installed" >&2
