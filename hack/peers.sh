#!/usr/bin/env bash
# The peers weir is measured against (`make bench-peers`, hack/bench-peers.sh):
# Argo Workflows' workflow-controller and Volcano's vc-controller-manager and
# vc-scheduler, built from their released Go modules at the versions pinned in
# hack/versions.env, into $WEIR_CACHE_DIR, one directory per system, version
# and recipe (PEERS_RECIPE). A directory whose `done` marker is there is not
# rebuilt, so this is cheap when warm. Also kept there: Volcano's scheduler
# configuration as its Helm chart ships it; the CRDs come from
# hack/peer-crds.sh.
#
#   hack/peers.sh build   build what is missing (cold: several minutes each)
#   hack/peers.sh check   exit 1 if anything is missing
#   hack/peers.sh env     print the paths as shell assignments (for eval)
#
# Volcano needs its API module, volcano.sh/apis, which its go.mod replaces with
# a directory of its repository that is not part of the published module. The
# build asks the module proxy for volcano.sh/apis at VOLCANO_APIS_VERSION
# instead; where the proxy refuses it, set VOLCANO_APIS_DIR to a copy of
# github.com/volcano-sh/apis at that tag (e.g. `git clone --depth 1 --branch
# v1.15.0 https://github.com/volcano-sh/apis`).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

argo_dir() { echo "$WEIR_CACHE_DIR/argo-workflows-$ARGO_WORKFLOWS_VERSION-r$PEERS_RECIPE"; }
volcano_dir() { echo "$WEIR_CACHE_DIR/volcano-$VOLCANO_VERSION-r$PEERS_RECIPE"; }

present() {
  [[ -e $(argo_dir)/done && -e $(volcano_dir)/done ]] && "$WEIR_ROOT/hack/peer-crds.sh" --check
}

print_env() {
  local crds
  crds=$("$WEIR_ROOT/hack/peer-crds.sh")
  echo "ARGO_WORKFLOW_CONTROLLER=$(argo_dir)/workflow-controller"
  echo "ARGO_CRDS=$(awk '$1 == "argo" {print $2}' <<<"$crds")"
  echo "VC_CONTROLLER_MANAGER=$(volcano_dir)/vc-controller-manager"
  echo "VC_SCHEDULER=$(volcano_dir)/vc-scheduler"
  echo "VOLCANO_SCHEDULER_CONF=$(volcano_dir)/volcano-scheduler.conf"
  echo "VOLCANO_CRDS=$(awk '$1 == "volcano" {print $2}' <<<"$crds")"
}

# Both peers name newer Go releases than weir's own pins in their go.mod;
# `auto` lets the go command fetch those through the module proxy. Builds run
# at low priority: they take minutes on a small machine.
export GOTOOLCHAIN=auto CGO_ENABLED=0 GOFLAGS="-buildvcs=false${GOFLAGS:+ $GOFLAGS}"
gobuild() { nice -n 10 go build -trimpath "$@"; }

# The directory of module@version in the module cache (downloaded if needed),
# or nothing if the proxy does not serve it. Runs outside any module.
module_dir() {  # module@version
  (cd / && go mod download -json "$1" 2>/dev/null) |
    python3 -c 'import json, sys; print(json.load(sys.stdin).get("Dir", ""))' 2>/dev/null || true
}

# Builds into a temporary directory, then renames it into place, so an
# interrupted build never leaves a half-filled cache directory behind.
finish() {  # work out
  touch "$1/out/done"
  chmod 755 "$1/out"
  rm -rf "$2"
  mv "$1/out" "$2"
  rm -rf "$1"
}

# Argo Workflows: its go.mod has one replace directive (tablewriter), which
# `go install module@version` refuses, so a small module that requires Argo
# and repeats that replace builds the command instead.
build_argo() {
  local out work module=github.com/argoproj/argo-workflows/v3 t0=$SECONDS
  out=$(argo_dir)
  [[ -e $out/done ]] && return
  log "building Argo Workflows $ARGO_WORKFLOWS_VERSION workflow-controller (cold: minutes)"
  mkdir -p "$WEIR_CACHE_DIR"
  work=$(mktemp -d "$WEIR_CACHE_DIR/.build-argo.XXXXXX")
  cat >"$work/go.mod" <<EOF
module weir.dev/hack/argo-workflows

go 1.25.7

require $module $ARGO_WORKFLOWS_VERSION

// As in Argo's own go.mod: tablewriter v1 breaks a dependency's build.
replace github.com/olekukonko/tablewriter => github.com/olekukonko/tablewriter v0.0.5
EOF
  printf '//go:build tools\n\npackage tools\n\nimport _ "%s/cmd/workflow-controller"\n' "$module" >"$work/tools.go"
  (cd "$work" && go mod tidy >/dev/null 2>"$work/tidy.log") ||
    { cat "$work/tidy.log" >&2; die "go mod tidy failed for Argo Workflows $ARGO_WORKFLOWS_VERSION"; }
  local ldflags="-s -w -X $module.version=$ARGO_WORKFLOWS_VERSION -X $module.gitTag=$ARGO_WORKFLOWS_VERSION"
  ldflags+=" -X $module.gitTreeState=clean -X $module.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  mkdir -p "$work/out"
  (cd "$work" && gobuild -ldflags "$ldflags" -o out/workflow-controller "$module/cmd/workflow-controller")
  finish "$work" "$out"
  log "built workflow-controller in $((SECONDS - t0))s"
}

# The volcano.sh/apis source for the build: the module proxy's copy, else
# VOLCANO_APIS_DIR. Prints the replace target for go.mod.
volcano_apis() {
  local dir
  dir=$(module_dir "volcano.sh/apis@$VOLCANO_APIS_VERSION")
  if [[ -n $dir ]]; then
    log "volcano.sh/apis $VOLCANO_APIS_VERSION from the module proxy"
    echo "volcano.sh/apis@$VOLCANO_APIS_VERSION"
    return
  fi
  local hint="set VOLCANO_APIS_DIR to a copy of https://github.com/volcano-sh/apis at tag $VOLCANO_APIS_VERSION"
  hint+=" (git clone --depth 1 --branch $VOLCANO_APIS_VERSION https://github.com/volcano-sh/apis)"
  [[ -n ${VOLCANO_APIS_DIR:-} ]] ||
    die "the module proxy ($(go env GOPROXY)) does not serve volcano.sh/apis@$VOLCANO_APIS_VERSION, which Volcano $VOLCANO_VERSION needs: $hint"
  if ! grep -qs '^module volcano.sh/apis$' "$VOLCANO_APIS_DIR/go.mod"; then
    die "VOLCANO_APIS_DIR=$VOLCANO_APIS_DIR is not the volcano.sh/apis module (no go.mod naming it): $hint"
  fi
  dir=$(cd "$VOLCANO_APIS_DIR" && pwd)
  log "the module proxy does not serve volcano.sh/apis@$VOLCANO_APIS_VERSION; using the local copy VOLCANO_APIS_DIR=$dir"
  echo "$dir"
}

# Volcano: its go.mod replaces volcano.sh/apis with ./staging/src/volcano.sh/apis,
# a nested module that the published module zip leaves out, and has 35 more
# replace directives that a wrapper module would have to repeat. So the
# published module is copied out of the module cache and only that one replace
# is pointed elsewhere; everything else builds as Volcano's Makefile does.
build_volcano() {
  local out work src apis t0=$SECONDS
  out=$(volcano_dir)
  [[ -e $out/done ]] && return
  log "building Volcano $VOLCANO_VERSION vc-controller-manager and vc-scheduler (cold: minutes)"
  src=$(module_dir "volcano.sh/volcano@$VOLCANO_VERSION")
  [[ -n $src ]] || die "go mod download volcano.sh/volcano@$VOLCANO_VERSION failed"
  apis=$(volcano_apis)
  mkdir -p "$WEIR_CACHE_DIR"
  work=$(mktemp -d "$WEIR_CACHE_DIR/.build-volcano.XXXXXX")
  cp -r "$src" "$work/src"
  chmod -R u+w "$work/src"
  (cd "$work/src" && go mod edit -replace "volcano.sh/apis=$apis")
  local ldflags="-s -w -X volcano.sh/volcano/pkg/version.Version=$VOLCANO_VERSION"
  ldflags+=" -X 'volcano.sh/volcano/pkg/version.Built=$(date -u '+%Y-%m-%d %H:%M:%S')'"
  mkdir -p "$work/out"
  # -mod=mod records the go.sum lines of the replacement.
  (cd "$work/src" && gobuild -mod=mod -ldflags "$ldflags" -o "$work/out/vc-controller-manager" ./cmd/controller-manager)
  log "built vc-controller-manager in $((SECONDS - t0))s"
  (cd "$work/src" && gobuild -mod=mod -ldflags "$ldflags" -o "$work/out/vc-scheduler" ./cmd/scheduler)
  cp "$work/src/installer/helm/chart/volcano/config/volcano-scheduler.conf" "$work/out/"
  echo "volcano.sh/apis => $apis" >"$work/out/.apis"
  rm -rf "$work/src"
  finish "$work" "$out"
  log "built Volcano in $((SECONDS - t0))s"
}

cmd_build() {
  command -v go >/dev/null ||
    die "Go is needed to build the peers (go build); install Go >= $GO_MIN_VERSION and run again"
  "$WEIR_ROOT/hack/peer-crds.sh" >/dev/null
  build_argo
  build_volcano
  present || die "some peer binaries are missing after the build"
  log "peers ready: Argo Workflows $ARGO_WORKFLOWS_VERSION in $(argo_dir), Volcano $VOLCANO_VERSION in $(volcano_dir)"
}

case ${1:-} in
  build) cmd_build ;;
  check) present ;;
  env) present || die "the peers are not built; run 'hack/peers.sh build'"; print_env ;;
  *) echo "usage: hack/peers.sh build|check|env" >&2; exit 2 ;;
esac
