#!/usr/bin/env bash
# Tests hack/build-tools.sh's checks: with the cache warm it does nothing
# (quietly and quickly); with nothing cached, a missing or too old Go
# toolchain is refused with a message naming the version needed.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/hack/versions.env"
fail() { echo "FAIL: $*" >&2; exit 1; }

# The warm case only where the tools are built (make test builds them first).
if "$root/hack/build-tools.sh" --check; then
  out=$("$root/hack/build-tools.sh" 2>&1) || fail "warm build-tools failed: $out"
  [[ -z $out ]] || fail "warm build-tools printed: $out"
fi

empty=$(mktemp -d)
fake=$(mktemp -d)
trap 'rm -rf "$empty" "$fake"' EXIT

if out=$(env PATH=/usr/bin:/bin WEIR_CACHE_DIR="$empty" bash "$root/hack/build-tools.sh" 2>&1); then
  fail "succeeded without Go"
fi
grep -q "Go $GO_MIN_VERSION or newer is needed" <<<"$out" || fail "unclear message without Go: $out"

printf '#!/bin/sh\n[ "$1 $2" = "env GOVERSION" ] && echo go1.20.4\n' >"$fake/go"
chmod +x "$fake/go"
if out=$(env PATH="$fake:/usr/bin:/bin" WEIR_CACHE_DIR="$empty" bash "$root/hack/build-tools.sh" 2>&1); then
  fail "succeeded with go1.20.4"
fi
grep -q "Go $GO_MIN_VERSION or newer is needed.*found go1.20.4" <<<"$out" || fail "unclear message for an old Go: $out"
[[ -z $(ls -A "$empty") ]] || fail "a refused build left files in the cache"

# KUBERNETES_VERSION picks a release of the matrix (hack/matrix.env): its staging
# modules and cache directory follow; other minors and malformed versions are refused.
got=$(env KUBERNETES_VERSION=v1.34.4 WEIR_CACHE_DIR=/c bash -c 'source "$0/hack/lib.sh"; echo "$KUBERNETES_VERSION $KUBERNETES_STAGING_VERSION $KUBE_APISERVER $KUBECTL"' "$root")
[[ $got == "v1.34.4 v0.34.4 /c/kubernetes-v1.34.4-r$TOOLS_RECIPE/kube-apiserver /c/kubernetes-v1.34.4-r$TOOLS_RECIPE/kubectl" ]] ||
  fail "KUBERNETES_VERSION=v1.34.4 gave: $got"
got=$(env -u KUBERNETES_VERSION bash -c 'source "$0/hack/lib.sh"; echo "$KUBERNETES_VERSION $KUBERNETES_STAGING_VERSION"' "$root")
[[ $got == "$KUBERNETES_VERSION $KUBERNETES_STAGING_VERSION" ]] || fail "without KUBERNETES_VERSION: $got, want the pinned one"
for bad in v1.31.0 v1.36 1.36.3 v2.36.0; do
  if out=$(env KUBERNETES_VERSION=$bad bash -c 'source "$0/hack/lib.sh"' "$root" 2>&1); then
    fail "KUBERNETES_VERSION=$bad was accepted"
  fi
  grep -q "KUBERNETES_VERSION=$bad: .*v1.33" <<<"$out" || fail "unclear refusal of KUBERNETES_VERSION=$bad: $out"
done
# A matrix release is refused an old Go as clearly (1.37 needs 1.26).
printf '#!/bin/sh
[ "$1 $2" = "env GOVERSION" ] && echo go1.25.3
' >"$fake/go"
if out=$(env PATH="$fake:/usr/bin:/bin" WEIR_CACHE_DIR="$empty" KUBERNETES_VERSION=v1.37.2 bash "$root/hack/build-tools.sh" 2>&1); then
  fail "succeeded with go1.25.3 for v1.37.2"
fi
grep -q "or newer is needed.*found go1.25.3" <<<"$out" || fail "unclear message for an old Go (v1.37.2): $out"
echo "build-tools.sh: warm no-op, missing Go and old Go refused clearly, KUBERNETES_VERSION picks a matrix release: ok"
