#!/usr/bin/env bash
# Runs the e2e tests (ctest label e2e) against the local control plane. Brings
# the control plane up if it is not running and, in that case, takes it down
# again afterwards, whether the tests pass or not.
#   hack/e2e.sh [BUILD_DIR [REGEX]]   REGEX: only the e2e tests it matches
#   E2E_JOBS: tests run at once (default 2; the fault sweep mostly waits, so
#   `make faults` runs more).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
build_dir=${1:-build}
only=${2:-}
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
install_weir
# node_test takes the control plane down and up: first, so the tests after it
# run on a control plane that has aged past etcd compactions, as the informer
# tests need (a watch from resourceVersion 1 must be too old).
if [[ -n $only ]]; then
  ctest --test-dir "$WEIR_ROOT/$build_dir" -L e2e -R "$only" -j "${E2E_JOBS:-2}" --output-on-failure
  exit
fi
ctest --test-dir "$WEIR_ROOT/$build_dir" -L e2e -R '^node_test$' --output-on-failure
ctest --test-dir "$WEIR_ROOT/$build_dir" -L e2e -E '^node_test$' -j "${E2E_JOBS:-2}" --output-on-failure
