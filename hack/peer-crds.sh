#!/usr/bin/env bash
# Fetches the CRD files of the systems weir must live beside in one cluster
# (Volcano, Argo Workflows), at the versions pinned in hack/versions.env, from
# their released Go modules (`go mod download`, checked against the Go checksum
# database) into $WEIR_CACHE_DIR, one directory per system and version. Only
# the CRD YAML files are kept: no controller is built. A directory already
# there is reused, so this is cheap when warm.
#
# Usage: hack/peer-crds.sh        prints "volcano <dir>" and "argo <dir>"
#        hack/peer-crds.sh --check   exit 1 if either directory is missing
set -euo pipefail
source "$(dirname "$0")/lib.sh"

present() { [[ -e $(volcano_crds_dir)/done && -e $(argo_crds_dir)/done ]]; }
if [[ ${1:-} == --check ]]; then present; exit; fi

# fetch <out> <module@version> <dir in the module>...: copies every *.yaml of
# those module directories that holds a CustomResourceDefinition into out.
fetch() {
  local out=$1 module=$2 work dir sub f n=0
  shift 2
  [[ -e $out/done ]] && return
  command -v go >/dev/null ||
    die "Go is needed to download $module (go mod download); install Go >= $GO_MIN_VERSION and run again"
  log "fetching the CRDs of $module"
  mkdir -p "$WEIR_CACHE_DIR"
  work=$(mktemp -d "$WEIR_CACHE_DIR/.peer-crds.XXXXXX")
  # Outside any module, with this Go, so no go.mod or toolchain switch interferes.
  dir=$(cd "$work" && GOTOOLCHAIN=local GOFLAGS=-mod=mod go mod download -json "$module" |
    python3 -c 'import json, sys; d = json.load(sys.stdin); print(d.get("Dir") or sys.exit(d.get("Error", "no Dir")))') ||
    { rm -rf "$work"; die "go mod download $module failed"; }
  mkdir -p "$work/crds"
  for sub in "$@"; do
    [[ -d $dir/$sub ]] || { rm -rf "$work"; die "$module has no $sub"; }
    for f in "$dir/$sub"/*.yaml; do
      grep -q '^kind: CustomResourceDefinition' "$f" || continue
      cp "$f" "$work/crds/"
      n=$((n + 1))
    done
  done
  ((n > 0)) || { rm -rf "$work"; die "no CRD files in $module ($*)"; }
  chmod -R u+w "$work/crds"
  echo "$module $*" >"$work/crds/.source"
  touch "$work/crds/done"
  rm -rf "$out"
  mv "$work/crds" "$out"
  rm -rf "$work"
}

# Volcano: every CRD the project ships (config/crd/volcano/bases: batch, bus,
# scheduling, nodeinfo, topology, shard, config; config/crd/jobflow/bases:
# flow.volcano.sh JobFlow and JobTemplate).
fetch "$(volcano_crds_dir)" "volcano.sh/volcano@$VOLCANO_VERSION" \
  config/crd/volcano/bases config/crd/jobflow/bases
# Argo Workflows: the "minimal" CRDs its install manifests use (the "full"
# ones carry the same names with whole schemas).
fetch "$(argo_crds_dir)" "github.com/argoproj/argo-workflows/v3@$ARGO_WORKFLOWS_VERSION" \
  manifests/base/crds/minimal
echo "volcano $(volcano_crds_dir)"
echo "argo $(argo_crds_dir)"
