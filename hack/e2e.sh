#!/usr/bin/env bash
# Runs the e2e tests (ctest label e2e) against the local control plane. Brings
# the control plane up if it is not running and, in that case, takes it down
# again afterwards, whether the tests pass or not.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
build_dir=${1:-build}
cluster="$WEIR_ROOT/hack/cluster.sh"

started=0
if ! "$cluster" status >/dev/null 2>&1; then
  started=1
  trap '"$cluster" down >/dev/null 2>&1 || true' EXIT
  "$cluster" up >/dev/null
fi
eval "$("$cluster" env)"
export WEIR_ROOT
# The tests run their own controllers; one left by `make run` (watching every
# namespace) would act on their objects too.
"$cluster" stop-controller
# weir's CRDs and admission policies, as a user installs them.
"$KUBECTL" apply -f "$WEIR_ROOT/crds/" -f "$WEIR_ROOT/deploy/" >/dev/null
"$KUBECTL" wait --for=condition=Established crd --all --timeout=60s >/dev/null
# Tests start at once: wait until discovery serves the kinds and the API server
# applies the admission policy (a server-side dry run shows its finalizer).
probe='{"apiVersion":"weir.dev/v1alpha1","kind":"Batch","metadata":{"name":"probe","namespace":"default"},
  "spec":{"jobSpec":{"template":{"spec":{"containers":[{"name":"main","image":"busybox"}]}}}}}'
for ((i = 0; i < 150; i++)); do
  finalizers=$("$KUBECTL" create --dry-run=server -f - -o jsonpath='{.metadata.finalizers}' \
    <<<"$probe" 2>/dev/null || true)
  [[ $finalizers == *weir.dev/cleanup* ]] && break
  sleep 0.2
done
[[ $finalizers == *weir.dev/cleanup* ]] || die "weir's CRDs or admission policy are not in effect"
ctest --test-dir "$WEIR_ROOT/$build_dir" -L e2e -j 2 --output-on-failure
