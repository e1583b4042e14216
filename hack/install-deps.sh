#!/usr/bin/env bash
# Installs the Debian packages weir needs to build and test, if any are missing.
# Idempotent and silent when everything is already installed.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libcpprest-dev libboost-system-dev libssl-dev
  libyaml-cpp-dev nlohmann-json3-dev libabsl-dev
  libgtest-dev libgmock-dev
  clang-format openssl curl ca-certificates procps iproute2 util-linux jq
  # The real node: runc's seccomp, CNI plugins, the busybox and pause images.
  libseccomp-dev busybox-static containernetworking-plugins
)

missing=()
for p in "${packages[@]}"; do
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
