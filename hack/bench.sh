#!/usr/bin/env bash
# make bench: the benchmarks behind the README's "Performance" figures.
# Never part of `make test`; timings here are figures, not assertions.
#
#   hack/bench.sh [build_dir]
#
#   1. WorkQueue throughput on one thread (build/bin/work_queue_bench,
#      QUEUE_CYCLES cycles per repeat, QUEUE_REPEATS repeats).
#   2. The informer cache on the local control plane (build/bin/cache_bench):
#      CACHE_JOBS suspended Jobs and CACHE_PODS scheduling-gated Pods shaped
#      like weir's children are created in a fresh namespace, then
#      CACHE_REPEATS fresh processes each sync an InformerFactory over them
#      (weir-controller's options: weir's objects only) and report sync time
#      and resident memory; then CACHE_UNRELATED_PODS pods of another
#      workload (no weir labels) are added beside them and it is measured
#      again. The namespace is deleted at the end, whatever happens.
#   3. weir-controller end to end (build/bin/controller_bench): applies crds/
#      and deploy/, then CONTROLLER_REPEATS times (fresh namespace and
#      controller process each) BATCHES Batches, and FLOWS JobFlows of STEPS
#      steps (half chains, half fan-outs), all with pods that succeed at once:
#      wall time to all Succeeded, the controller's API requests per Batch or
#      step, its CPU seconds and peak memory. Namespaces are deleted at the
#      end, whatever happens.
#
# BENCH_PARTS selects parts (default "queue cache controller").
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
CACHE_UNRELATED_PODS=${CACHE_UNRELATED_PODS:-50000}
BATCHES=${BATCHES:-1000}
FLOWS=${FLOWS:-100}
STEPS=${STEPS:-10}
CONTROLLER_REPEATS=${CONTROLLER_REPEATS:-3}
BENCH_PARTS=${BENCH_PARTS:-queue cache controller}

queue_bench="$build_dir/bin/work_queue_bench"
cache_bench="$build_dir/bin/cache_bench"
controller_bench="$build_dir/bin/controller_bench"
for b in "$queue_bench" "$cache_bench" "$controller_bench"; do
  [[ -x $b ]] || die "build first: $b missing"
done
part() { [[ " $BENCH_PARTS " == *" $1 "* ]]; }

ns="weir-bench-$(date +%s)-$$"
controller_namespaces=()
started=0
cleanup() {
  if [[ -n ${KUBECONFIG:-} ]]; then
    if part cache; then "$cache_bench" cleanup "$ns" >/dev/null 2>&1 || true; fi
    for n in "${controller_namespaces[@]}"; do
      "$controller_bench" cleanup "$n" >/dev/null 2>&1 || true
    done
  fi
  if ((started)); then "$cluster" down >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

if part queue; then
  log "work queue: $QUEUE_REPEATS repeats of $QUEUE_CYCLES cycles"
  queue_out=$("$queue_bench" "$QUEUE_CYCLES" "$QUEUE_REPEATS")
  echo "$queue_out"
fi

if ! "$cluster" status >/dev/null 2>&1; then
  started=1
  log "control plane not running; bringing it up"
  "$cluster" up >/dev/null
fi
eval "$("$cluster" env)"

cache_out=()
unrelated_out=()
# measure_cache <array> <what>: CACHE_REPEATS fresh processes, lines into <array>.
measure_cache() {
  local -n out=$1
  local i line
  for ((i = 1; i <= CACHE_REPEATS; i++)); do
    log "cache: measure $i/$CACHE_REPEATS$2 (fresh process)"
    line=$("$cache_bench" measure "$ns")
    echo "$line"
    out+=("$line")
  done
}
if part cache; then
  log "cache: creating $CACHE_JOBS Jobs and $CACHE_PODS Pods in namespace $ns"
  "$cache_bench" populate "$ns" "$CACHE_JOBS" "$CACHE_PODS"
  measure_cache cache_out ""
  if ((CACHE_UNRELATED_PODS > 0)); then
    log "cache: adding $CACHE_UNRELATED_PODS pods of another workload to namespace $ns"
    "$cache_bench" populate "$ns" "$CACHE_JOBS" "$CACHE_PODS" 16 "$CACHE_UNRELATED_PODS"
    measure_cache unrelated_out " beside the unrelated pods"
  fi
fi

batch_out=()
flow_out=()
if part controller; then
  # One left by `make run` (watching every namespace) would act on them too.
  "$cluster" stop-controller
  install_weir
  for ((i = 1; i <= CONTROLLER_REPEATS; i++)); do
    for what in batches flows; do
      n="$ns-$what-$i"
      controller_namespaces+=("$n")
      if [[ $what = batches ]]; then args=("$BATCHES"); else args=("$FLOWS" "$STEPS"); fi
      log "controller: $what ${args[*]}, run $i/$CONTROLLER_REPEATS in namespace $n"
      line=$("$controller_bench" "$what" "$n" "${args[@]}")
      line="$line load1=$(cut -d' ' -f1 /proc/loadavg)"
      echo "$line"
      if [[ $what = batches ]]; then batch_out+=("$line"); else flow_out+=("$line"); fi
    done
  done
fi

# median and min/max of key $1 over the lines that follow.
stat() {
  local key=$1
  shift
  printf '%s\n' "$@" | grep -oE "(^| )$key=[0-9.]+" | cut -d= -f2 | sort -g |
    awk '{v[NR] = $1} END {printf "median %s (min %s, max %s)", v[int((NR + 1) / 2)], v[1], v[NR]}'
}

echo
echo "== summary ($(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), load average $(cut -d' ' -f1-3 /proc/loadavg)) =="
if part queue; then
  echo "work queue, one thread, ops/s (one op = Add + Get + Done):"
  echo "$queue_out" | awk 'NR > 1 {print "  " $0}'
fi
if part cache; then
  echo "cache, $CACHE_JOBS Jobs + $CACHE_PODS Pods, $CACHE_REPEATS fresh processes:"
  echo "  sync time s:          $(stat sync_s "${cache_out[@]}")"
  echo "  VmRSS after sync MiB: $(stat rss_mib "${cache_out[@]}")"
  echo "  VmHWM MiB:            $(stat hwm_mib "${cache_out[@]}")"
  echo "  baseline VmRSS MiB:   $(stat base_rss_mib "${cache_out[@]}")"
  echo "  malloc in use MiB:    $(stat heap_in_use_mib "${cache_out[@]}")"
  echo "  malloc free MiB:      $(stat heap_free_mib "${cache_out[@]}")  (freed, not returned to the system)"
  if ((${#unrelated_out[@]})); then
    echo "same, beside $CACHE_UNRELATED_PODS pods of another workload in the namespace:"
    echo "  sync time s:          $(stat sync_s "${unrelated_out[@]}")"
    echo "  VmRSS after sync MiB: $(stat rss_mib "${unrelated_out[@]}")"
    echo "  VmHWM MiB:            $(stat hwm_mib "${unrelated_out[@]}")"
  fi
fi
if part controller; then
  echo "weir-controller, $BATCHES Batches, $CONTROLLER_REPEATS runs (pods succeed at once):"
  echo "  wall time s:             $(stat wall_s "${batch_out[@]}")"
  echo "  API reads per Batch:     $(stat reads_per_batch "${batch_out[@]}")"
  echo "  API writes per Batch:    $(stat writes_per_batch "${batch_out[@]}")"
  echo "  controller CPU s:        $(stat cpu_s "${batch_out[@]}")"
  echo "  controller VmHWM MiB:    $(stat hwm_mib "${batch_out[@]}")"
  echo "  load average (1 min):    $(stat load1 "${batch_out[@]}")"
  echo "weir-controller, $FLOWS JobFlows x $STEPS steps, $CONTROLLER_REPEATS runs:"
  echo "  wall time s:             $(stat wall_s "${flow_out[@]}")"
  echo "  steps per s:             $(stat units_per_s "${flow_out[@]}")"
  echo "  API reads per step:      $(stat reads_per_step "${flow_out[@]}")"
  echo "  API writes per step:     $(stat writes_per_step "${flow_out[@]}")"
  echo "  controller CPU s:        $(stat cpu_s "${flow_out[@]}")"
  echo "  controller VmHWM MiB:    $(stat hwm_mib "${flow_out[@]}")"
  echo "  load average (1 min):    $(stat load1 "${flow_out[@]}")"
fi
