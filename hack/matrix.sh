#!/usr/bin/env bash
# `make matrix`: the e2e subset below on each supported Kubernetes release
# (hack/matrix.env), one release after another, each on its own kwok-only
# control plane (WEIR_REAL_NODE=0) in .cluster-matrix/<version>, built and
# cached by hack/build-tools.sh like the pinned one. Not part of CI: CI runs
# the pinned release (hack/versions.env) only. Results go to the terminal and
# to $BUILD_DIR/matrix/results.tsv (one line per release: date, release, what
# ran, result, times); README "Kubernetes versions" keeps the last ones.
#
#   hack/matrix.sh [BUILD_DIR]
#   MATRIX_VERSIONS="v1.34.4 v1.33.13"   releases to run (default: KUBERNETES_MATRIX)
#   MATRIX_TESTS=REGEX                   ctest -R of the e2e tests to run (default below)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
build_dir=${1:-build}
versions=${MATRIX_VERSIONS:-$KUBERNETES_MATRIX}
# The CRDs and examples' verdicts (crd_test), the chart at the API the cluster
# serves and its RBAC with a real controller (chart_test, chart_controller_test),
# and the Batch and JobFlow controller tests on kwok's nodes.
tests=${MATRIX_TESTS:-'^(crd_test|chart_test|chart_controller_test|BatchTest\..*|FlowTest\..*)$'}
out=$WEIR_ROOT/$build_dir/matrix
mkdir -p "$out"
[[ -f $out/results.tsv ]] || printf 'date\tkubernetes\ttests\tresult\ttools_s\te2e_s\n' >"$out/results.tsv"

failed=()
for v in $versions; do
  log "=== Kubernetes $v"
  export KUBERNETES_VERSION=$v WEIR_REAL_NODE=0 WEIR_CLUSTER_DIR=$WEIR_ROOT/.cluster-matrix/$v
  start=$SECONDS
  if ! "$WEIR_ROOT/hack/build-tools.sh" >"$out/tools-$v.log" 2>&1; then
    tail -n 20 "$out/tools-$v.log" >&2
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%F)" "$v" "$tests" "tools build failed" "$((SECONDS - start))" 0 >>"$out/results.tsv"
    failed+=("$v")
    continue
  fi
  tools_s=$((SECONDS - start))
  start=$SECONDS
  rc=0
  "$WEIR_ROOT/hack/e2e.sh" "$build_dir" "$tests" >"$out/e2e-$v.log" 2>&1 || rc=$?
  e2e_s=$((SECONDS - start))
  # ctest's summary: "100% tests passed, 0 tests failed out of 41".
  summary=$(grep -E 'tests passed, [0-9]+ tests? failed out of' "$out/e2e-$v.log" | tail -n1)
  [[ -n $summary ]] || summary="no ctest summary (rc $rc; see $out/e2e-$v.log)"
  ((rc == 0)) || failed+=("$v")
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%F)" "$v" "$tests" "$summary" "$tools_s" "$e2e_s" >>"$out/results.tsv"
  log "Kubernetes $v: $summary (tools ${tools_s}s, e2e ${e2e_s}s; log: $out/e2e-$v.log)"
  if ((rc != 0)); then
    grep -E '^\s*[0-9]+ - .*\((Failed|Timeout|Not Run|SEGFAULT|Subprocess aborted)\)' "$out/e2e-$v.log" >&2 || true
  fi
done
((${#failed[@]} == 0)) || die "failed on: ${failed[*]} (results: $out/results.tsv)"
log "all of $versions passed (results: $out/results.tsv)"
