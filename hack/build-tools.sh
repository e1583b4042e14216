#!/usr/bin/env bash
# Builds the pinned upstream binaries (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl, kwok, helm, and the real
# node's kubelet, containerd and runc) from the official Go modules into
# $WEIR_CACHE_DIR, one directory per tool and version, and the node's images
# (hack/images.sh). A tool whose directory is complete is not rebuilt, so this
# is cheap when warm.
#
# Usage: hack/build-tools.sh [--check]   (--check: exit 1 if anything is missing)
# KUBERNETES_VERSION=v1.X.Y: that release of the matrix (hack/matrix.env).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# WEIR_REAL_NODE=0 (no real node: hack/node.sh) needs neither the node's
# binaries nor its images, so they are neither checked nor built; that keeps
# a matrix release (hack/matrix.env) to one Kubernetes build.
want_node() { [[ ${WEIR_REAL_NODE:-1} != 0 ]]; }

all_present() {
  local f
  for f in "$KUBE_APISERVER" "$KUBE_CONTROLLER_MANAGER" "$KUBE_SCHEDULER" \
           "$KUBECTL" "$ETCD" "$KWOK" "$HELM"; do
    [[ -x $f ]] || return 1
  done
  want_node || return 0
  for f in "$KUBELET" "$CONTAINERD" "$CONTAINERD_SHIM" "$CTR" "$RUNC"; do
    [[ -x $f ]] || return 1
  done
  [[ -e $NODE_IMAGES ]]
}

if [[ ${1:-} == --check ]]; then all_present; exit; fi
all_present && exit 0

# --- Go toolchain ------------------------------------------------------------
version_ge() { [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" == "$2" ]]; }
command -v go >/dev/null ||
  die "Go $GO_MIN_VERSION or newer is needed to build the control plane, and 'go' is not on PATH. Install Go >= $GO_MIN_VERSION (https://go.dev/dl) and run again."
go_version=$(go env GOVERSION | sed 's/^go//')
version_ge "$go_version" "$GO_MIN_VERSION" ||
  die "Go $GO_MIN_VERSION or newer is needed to build Kubernetes $KUBERNETES_VERSION; found go$go_version. Install a newer Go and run again."

# GOFLAGS from the environment (e.g. -p=2 on a busy machine) is kept.
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-buildvcs=false${GOFLAGS:+ $GOFLAGS}"
mkdir -p "$WEIR_CACHE_DIR"
build_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)

# Builds into a temporary directory, then renames it into place, so an
# interrupted build never leaves a half-filled cache directory behind.
finish() { chmod 755 "$1"; rm -rf "$2"; mv "$1" "$2"; }

# Builds commands of k8s.io/kubernetes (cmd/NAME) into out.
build_kubernetes() {  # out name...
  local out=$1 work minor name
  shift
  for name in "$@"; do [[ -x $out/$name ]] || break; done
  [[ -x $out/$name ]] && return
  log "building Kubernetes $KUBERNETES_VERSION ($*); a cold build takes a while"
  work=$(mktemp -d "$WEIR_CACHE_DIR/.build-k8s.XXXXXX")
  # k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them
  # with ./staging paths that do not exist outside its repository; point each
  # one at its published v0.Y.Z twin instead.
  local staging need
  staging=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
  [[ -f $staging ]] || die "the module proxy has no k8s.io/kubernetes@$KUBERNETES_VERSION"
  # Each release names the Go it needs in its go.mod (1.24 for 1.33, ...).
  need=$(awk '$1 == "go" {print $2; exit}' "$staging")
  version_ge "$go_version" "${need:-0}" ||
    die "Kubernetes $KUBERNETES_VERSION needs Go $need or newer (its go.mod); found go$go_version"
  {
    echo "module weir.dev/hack/kubernetes"
    echo "go $GO_MIN_VERSION"
    echo "require k8s.io/kubernetes $KUBERNETES_VERSION"
    awk '/^[[:space:]]+k8s\.io\/[^ ]+ v0\.0\.0$/ {print "replace " $1 " => " $1 " '"$KUBERNETES_STAGING_VERSION"'"}' "$staging"
  } >"$work/go.mod"
  local pkgs=()
  for name in "$@"; do pkgs+=("k8s.io/kubernetes/cmd/$name"); done
  {
    printf '//go:build tools\n\npackage tools\n\nimport (\n'
    printf '\t_ "%s"\n' "${pkgs[@]}"
    printf ')\n'
  } >"$work/tools.go"
  (cd "$work" && go mod tidy -e >/dev/null 2>"$work/tidy.log") || { cat "$work/tidy.log" >&2; die "go mod tidy failed for Kubernetes $KUBERNETES_VERSION"; }
  minor=$(echo "$KUBERNETES_VERSION" | cut -d. -f2)
  local ldflags="-s -w"
  local pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
  done
  mkdir -p "$work/bin"
  (cd "$work" && go build -trimpath -ldflags "$ldflags" -o bin/ "${pkgs[@]}")
  finish "$work/bin" "$out"; rm -rf "$work"
}

build_etcd() {
  local out work
  out=$(etcd_bin_dir); [[ -x $out/etcd ]] && return
  log "building etcd $ETCD_VERSION"
  work=$(mktemp -d "$WEIR_CACHE_DIR/.build-etcd.XXXXXX")
  printf 'module weir.dev/hack/etcd\n\ngo %s\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$GO_MIN_VERSION" "$ETCD_VERSION" >"$work/go.mod"
  cat >"$work/main.go" <<'GO'
// Command etcd is etcd's server main, built from the published server module.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  (cd "$work" && go mod tidy >/dev/null 2>"$work/tidy.log") || { cat "$work/tidy.log" >&2; die "go mod tidy failed for etcd $ETCD_VERSION"; }
  mkdir -p "$work/bin"
  (cd "$work" && go build -trimpath -ldflags "-s -w" -o bin/etcd .)
  finish "$work/bin" "$out"; rm -rf "$work"
}

# kwok, helm, containerd and runc have no replace directives, so `go install
# pkg@version` works. name: the binary whose presence means "built".
go_install() {  # name out_dir ldflags package@version...
  local name=$1 out=$2 ldflags=$3 work
  shift 3
  [[ -x $out/$name ]] && return
  log "building $*"
  work=$(mktemp -d "$WEIR_CACHE_DIR/.build-$name.XXXXXX")
  GOBIN="$work" go install -trimpath -ldflags "$ldflags" "$@"
  finish "$work" "$out"
}

build_etcd
go_install kwok "$(kwok_bin_dir)" "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" \
  "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
go_install helm "$(helm_bin_dir)" "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
  "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
build_kubernetes "$(k8s_bin_dir)" kube-apiserver kube-controller-manager kube-scheduler kubectl
if ! want_node; then
  all_present || die "some tools are missing after the build"
  log "tools ready in $WEIR_CACHE_DIR (WEIR_REAL_NODE=0: the real node's are not needed)"
  exit 0
fi
# The real node (hack/node.sh).
build_kubernetes "$(kubelet_bin_dir)" kubelet
cd_pkg=github.com/containerd/containerd/v2
go_install containerd "$(containerd_bin_dir)" "-s -w -X $cd_pkg/version.Version=$CONTAINERD_VERSION" \
  "$cd_pkg/cmd/containerd@$CONTAINERD_VERSION" "$cd_pkg/cmd/containerd-shim-runc-v2@$CONTAINERD_VERSION" \
  "$cd_pkg/cmd/ctr@$CONTAINERD_VERSION"
# runc needs cgo, and libseccomp (hack/install-deps.sh) for its seccomp filters.
CGO_ENABLED=1 go_install runc "$(runc_bin_dir)" "-s -w -X main.version=${RUNC_VERSION#v}" \
  -tags seccomp "github.com/opencontainers/runc@$RUNC_VERSION"
"$WEIR_ROOT/hack/images.sh"
all_present || die "some tools are missing after the build"
log "tools ready in $WEIR_CACHE_DIR"
