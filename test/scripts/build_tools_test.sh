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
echo "build-tools.sh: warm no-op, missing Go and old Go refused clearly: ok"
