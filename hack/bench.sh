#!/usr/bin/env bash
# make bench: the benchmarks behind the README's "Performance" figures.
# Never part of `make test`; timings here are figures, not assertions.
#
#   hack/bench.sh [build_dir]
#
#   1. WorkQueue throughput on one thread (build/bin/work_queue_bench,
#      QUEUE_CYCLES cycles per repeat, QUEUE_REPEATS repeats).
#   2. The informer cache on the local control plane (build/bin/cache_bench):
#      CACHE_JOBS suspended Jobs and CACHE_PODS scheduling-gated Pods are
#      created in a fresh namespace, then CACHE_REPEATS fresh processes each
#      sync an InformerFactory over them and report sync time and resident
#      memory. The namespace is deleted at the end, whatever happens.
#
# Brings the control plane up if it is not running and, in that case, takes it
# down again afterwards (as hack/e2e.sh does). WEIR_CLUSTER_DIR selects the
# control plane as for hack/cluster.sh.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
build_dir=${1:-build}
[[ $build_dir = /* ]] || build_dir="$WEIR_ROOT/$build_dir"
cluster="$WEIR_ROOT/hack/cluster.sh"

QUEUE_CYCLES=${QUEUE_CYCLES:-2000000}
QUEUE_REPEATS=${QUEUE_REPEATS:-9}
CACHE_JOBS=${CACHE_JOBS:-10000}
CACHE_PODS=${CACHE_PODS:-10000}
CACHE_REPEATS=${CACHE_REPEATS:-3}

queue_bench="$build_dir/bin/work_queue_bench"
cache_bench="$build_dir/bin/cache_bench"
[[ -x $queue_bench && -x $cache_bench ]] || die "build first: $queue_bench, $cache_bench missing"

ns="weir-bench-$(date +%s)-$$"
started=0
cleanup() {
  if [[ -n ${KUBECONFIG:-} ]]; then
    "$cache_bench" cleanup "$ns" >/dev/null 2>&1 || true
  fi
  if ((started)); then "$cluster" down >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

log "work queue: $QUEUE_REPEATS repeats of $QUEUE_CYCLES cycles"
queue_out=$("$queue_bench" "$QUEUE_CYCLES" "$QUEUE_REPEATS")
echo "$queue_out"

if ! "$cluster" status >/dev/null 2>&1; then
  started=1
  log "control plane not running; bringing it up"
  "$cluster" up >/dev/null
fi
eval "$("$cluster" env)"

log "cache: creating $CACHE_JOBS Jobs and $CACHE_PODS Pods in namespace $ns"
"$cache_bench" populate "$ns" "$CACHE_JOBS" "$CACHE_PODS"

cache_out=()
for ((i = 1; i <= CACHE_REPEATS; i++)); do
  log "cache: measure $i/$CACHE_REPEATS (fresh process)"
  line=$("$cache_bench" measure "$ns")
  echo "$line"
  cache_out+=("$line")
done

# median and min/max of a key over the measure lines.
stat() {
  printf '%s\n' "${cache_out[@]}" | grep -oE "(^| )$1=[0-9.]+" | cut -d= -f2 | sort -g |
    awk '{v[NR] = $1} END {printf "median %s (min %s, max %s)", v[int((NR + 1) / 2)], v[1], v[NR]}'
}

echo
echo "== summary ($(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)) =="
echo "work queue, one thread, ops/s (one op = Add + Get + Done):"
echo "$queue_out" | awk 'NR > 1 {print "  " $0}'
echo "cache, $CACHE_JOBS Jobs + $CACHE_PODS Pods, $CACHE_REPEATS fresh processes:"
echo "  sync time s:          $(stat sync_s)"
echo "  VmRSS after sync MiB: $(stat rss_mib)"
echo "  VmHWM MiB:            $(stat hwm_mib)"
echo "  baseline VmRSS MiB:   $(stat base_rss_mib)"
echo "  malloc in use MiB:    $(stat heap_in_use_mib)"
echo "  malloc free MiB:      $(stat heap_free_mib)  (freed, not returned to the system)"
