#!/usr/bin/env bash
# make bench-peers (issue 14): the same flows on weir, on Volcano's JobFlow, on
# Argo Workflows and as a raw loop of batch/v1 Jobs, one system at a time, each
# run on a fresh local control plane (hack/cluster.sh, kwok nodes only), timed
# by the driver bench/peers_bench and counted from the API server's own
# metrics. Never part of `make test`; the figures are measurements, not
# assertions.
#
#   hack/bench-peers.sh [build_dir]    (default: build)
#
# For every profile x system x workload x pod duration x repeat:
#   1. a fresh control plane in BENCH_CLUSTER_DIR (etcd wiped) with the
#      profile's client limits (WEIR_CONTROL_PLANE_PROFILE, hack/cluster.sh),
#      and EXTRA_NODES more kwok nodes so 1,000 pods can be alive at once;
#   2. exactly one system started and ready (below);
#   3. SETTLE_S seconds, the API server's /metrics read, IDLE_S seconds of
#      idling (the system's idle write rate, reported apart), /metrics and
#      every process's CPU time read;
#   4. the driver: templates, one warm-up flow, then the measured flows, each
#      watched to its end; it prints one JSON object;
#   5. /metrics, CPU times and the controllers' peak RSS read again, one row
#      appended to $BENCH_OUT/results.tsv, the run's logs, the driver's output
#      and the requests by resource/verb/code kept in $BENCH_OUT/runs/.
#      Per step = over the measured flows' steps plus the warm-up flow's (it
#      runs inside the window); writes net of the driver's own creates; node
#      heartbeats (Node status, node Leases) left out.
# At the end: $BENCH_OUT/kept/<session>/, what the README keeps of the session
# (its rows and each run's request counts: copy it into bench/results/peers/),
# and one Markdown table of medians, per workload x profile x pod
# duration x system, of this invocation's runs (hack/bench-peers-table.py,
# which also makes the README's table from the runs kept in
# bench/results/peers/).
#
# Systems (SYSTEMS, in this order by default):
#   weir           build_dir's weir-controller, crds/ and deploy/ applied
#   weir-batch     the same, single-step workloads as 1 Batch per flow
#   raw            no controller: the driver creates each Job when its watch
#                  shows the previous one Complete (the control plane's limit)
#   volcano        vc-scheduler + vc-controller-manager (job, jobflow,
#                  jobtemplate and queue controllers) at their defaults
#   volcano-tuned  the same, vc-controller-manager's client limits raised to
#                  PEER_TUNED_QPS/BURST (weir's client has no rate limit)
#   argo           workflow-controller at its defaults (10 s requeue, 20 qps)
#   argo-tuned     DEFAULT_REQUEUE_TIME=1s, client limits PEER_TUNED_QPS/BURST
# Workloads (WORKLOADS):
#   w1     100 flows x 10 chained steps
#   w2     20 flows, fan-out 1 -> 48 -> 1 (960 pods alive at once)
#   w3     1,000 single-step flows (weir-batch: 1,000 Batches)
#   c20x5  20 flows x 5 chained steps (the first side-by-side run's shape)
# Knobs: PROFILES ("default production"), DURATIONS ("0s 1s"), REPEATS (3),
# SCALE (divide every flow count by it, at least 1 flow: SCALE=10 for a quick
# check), SETTLE_S (5), IDLE_S (10), KEEP_METRICS (0; 1 keeps the raw
# scrapes), PPROF_S (0; N > 0 saves an N-second CPU profile of the API server
# taken while the driver runs, as kube-apiserver.pprof, for `go tool pprof`),
# WEIR_CONTROLLER_ARGS (more weir-controller flags, e.g. --workers=8),
# DRIVER_TIMEOUT (1800s), CREATORS (8), EXTRA_NODES (8),
# PEER_TUNED_QPS (1000), PEER_TUNED_BURST (2000), BENCH_OUT (build/bench-peers),
# BENCH_CLUSTER_DIR (/tmp/weir-bench-peers; wiped by every run: never point it
# at a control plane you use), PEERS_BENCH (the driver; default
# build_dir/bin/peers_bench). The peers are built first (hack/peers.sh build).
#
# Every process this script starts is stopped when it exits, whatever happens.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

build_dir=${1:-build}
[[ $build_dir = /* ]] || build_dir="$WEIR_ROOT/$build_dir"
SYSTEMS=${SYSTEMS:-weir weir-batch raw volcano volcano-tuned argo argo-tuned}
WORKLOADS=${WORKLOADS:-w1 w2 w3 c20x5}
PROFILES=${PROFILES:-default production}
DURATIONS=${DURATIONS:-0s 1s}
REPEATS=${REPEATS:-3}
SCALE=${SCALE:-1}
IDLE_S=${IDLE_S:-10}
SETTLE_S=${SETTLE_S:-5}
KEEP_METRICS=${KEEP_METRICS:-0}
PPROF_S=${PPROF_S:-0}
# (hack/cluster.sh turns profiling off; the later flag wins.)
((PPROF_S == 0)) || export WEIR_APISERVER_ARGS="${WEIR_APISERVER_ARGS:-} --profiling=true"
DRIVER_TIMEOUT=${DRIVER_TIMEOUT:-1800s}
CREATORS=${CREATORS:-8}
EXTRA_NODES=${EXTRA_NODES:-8}
PEER_TUNED_QPS=${PEER_TUNED_QPS:-1000}
PEER_TUNED_BURST=${PEER_TUNED_BURST:-2000}
BENCH_OUT=${BENCH_OUT:-$WEIR_ROOT/build/bench-peers}
export WEIR_CLUSTER_DIR=${BENCH_CLUSTER_DIR:-/tmp/weir-bench-peers} WEIR_REAL_NODE=0
[[ $WEIR_CLUSTER_DIR != "$WEIR_ROOT/.cluster" ]] ||
  die "BENCH_CLUSTER_DIR is the default control plane's directory; every run wipes it: pick another"
# Two invocations on one directory would wipe each other's control plane (and
# two on one machine measure each other): one at a time.
exec {bench_lock}>"$WEIR_CLUSTER_DIR.lock"
flock -n "$bench_lock" || die "another bench-peers is running on $WEIR_CLUSTER_DIR; wait for it"
cluster="$WEIR_ROOT/hack/cluster.sh"
driver=${PEERS_BENCH:-$build_dir/bin/peers_bench}
weir_controller="$build_dir/bin/weir-controller"
NS=bench

for b in "$driver" "$weir_controller"; do
  [[ -x $b ]] || die "build first: $b missing (make build BUILD_DIR=${build_dir#"$WEIR_ROOT"/})"
done
for s in $SYSTEMS; do
  case $s in weir | weir-batch | raw | volcano | volcano-tuned | argo | argo-tuned) ;;
    *) die "SYSTEMS: unknown system '$s'" ;;
  esac
done
"$WEIR_ROOT/hack/build-tools.sh"
"$WEIR_ROOT/hack/peers.sh" build
eval "$("$WEIR_ROOT/hack/peers.sh" env)"

# --- workloads ------------------------------------------------------------------

# Prints "shape flows steps width" of a workload, flows divided by SCALE.
workload() {
  local shape flows steps width=48
  case $1 in
    w1) shape=chain flows=100 steps=10 ;;
    w2) shape=fanout flows=20 steps=50 ;;
    w3) shape=single flows=1000 steps=1 ;;
    c20x5) shape=chain flows=20 steps=5 ;;
    *) die "WORKLOADS: unknown workload '$1' (w1 w2 w3 c20x5)" ;;
  esac
  flows=$((flows / SCALE)); ((flows >= 1)) || flows=1
  echo "$shape $flows $steps $width"
}
for w in $WORKLOADS; do workload "$w" >/dev/null; done

# The driver's --system for one of ours.
driver_system() {
  case $1 in
    weir) echo weir ;;
    weir-batch) echo batch ;;
    raw) echo raw ;;
    volcano*) echo volcano ;;
    argo*) echo argo ;;
  esac
}

# --- processes --------------------------------------------------------------------

declare -A procs=()   # name -> pid of each system process this script started
declare -A metrics=() # name -> its /metrics URL (its own API client's request counts)
driver_pid=

# A free loopback port.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

start_proc() {  # name command...: runs it in the background, output to the run's directory
  local name=$1
  shift
  "$@" >"$run_dir/$name.log" 2>&1 </dev/null &
  procs[$name]=$!
}

stop_pid() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

stop_system() {
  local name
  for name in "${!procs[@]}"; do stop_pid "${procs[$name]}"; done
  procs=()
  metrics=()
}

cleanup() {
  [[ -n $driver_pid ]] && stop_pid "$driver_pid"
  stop_system
  "$cluster" down >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Waits up to $1 seconds for a command to succeed; fails if a started process died.
wait_until() {  # seconds what command...
  local deadline=$((SECONDS + $1)) what=$2 name
  shift 2
  until "$@" >/dev/null 2>&1; do
    for name in "${!procs[@]}"; do
      kill -0 "${procs[$name]}" 2>/dev/null ||
        { tail -n 20 "$run_dir/$name.log" >&2; log "$name exited while waiting for $what"; return 1; }
    done
    ((SECONDS < deadline)) || { log "timed out waiting for $what"; return 1; }
    sleep 0.5
  done
}

# --- the control plane --------------------------------------------------------------

# kwok nodes beside hack/cluster.sh's two (110 pods each), like them but with
# room for 150 pods each.
add_nodes() {
  local i
  for ((i = 0; i < EXTRA_NODES; i++)); do
    cat <<EOF
apiVersion: v1
kind: Node
metadata:
  name: bench-node-$i
  annotations: {kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0"}
  labels: {kubernetes.io/hostname: bench-node-$i, kubernetes.io/os: linux, kubernetes.io/arch: amd64, type: kwok, weir.dev/node: kwok}
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "150"}
  capacity: {cpu: "32", memory: 256Gi, pods: "150"}
---
EOF
  done | "$KUBECTL" apply -f - >/dev/null
  wait_until 60 "$EXTRA_NODES more Ready kwok nodes" nodes_ready
}
nodes_ready() {
  local ready
  ready=$("$KUBECTL" get nodes -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c True)
  ((ready >= EXTRA_NODES + 2))
}

fresh_control_plane() {  # profile
  "$cluster" down >/dev/null 2>&1 || true
  WEIR_CONTROL_PLANE_PROFILE=$1 "$cluster" up >"$run_dir/cluster-up.log" 2>&1 ||
    { tail -n 20 "$run_dir/cluster-up.log" >&2; die "hack/cluster.sh up failed"; }
  eval "$("$cluster" env)"
  add_nodes
}

# --- the systems ----------------------------------------------------------------------

start_weir() {
  # (Its check that the kinds are served says "No resources found".)
  install_weir 2> >(grep -v '^No resources found' >&2) || return 1
  local health port
  health=$(free_port)
  port=$(free_port)
  metrics[weir-controller]="http://127.0.0.1:$port/metrics"
  start_proc weir-controller "$weir_controller" --kubeconfig="$KUBECONFIG" \
    --health-bind-address="127.0.0.1:$health" --metrics-bind-address="127.0.0.1:$port" \
    ${WEIR_CONTROLLER_ARGS:-}
  wait_until 60 "weir-controller /readyz" curl -sf "http://127.0.0.1:$health/readyz"
}

# kubectl wait fails at once on a CRD created so recently that it has no
# conditions yet, so it is retried.
crds_established() {
  wait_until 60 "CRDs Established" "$KUBECTL" wait --for=condition=Established crd --all --timeout=10s
}

queue_open() { [[ $("$KUBECTL" get queues.scheduling.volcano.sh default -o jsonpath='{.status.state}') == Open ]]; }

# Volcano's JobFlow needs its job, queue and jobflow controllers and its
# scheduler, which moves each PodGroup to Inqueue before any pod is created
# and creates the default Queue. No webhooks: the driver's JobTemplates fill
# in what they would.
start_volcano() {  # tuned: 0|1
  local limits=() p
  (($1)) && limits=(--kube-api-qps="$PEER_TUNED_QPS" --kube-api-burst="$PEER_TUNED_BURST")
  # Some CRDs are too large for client-side apply's annotation.
  "$KUBECTL" apply --server-side -f "$VOLCANO_CRDS" >/dev/null || return 1
  crds_established || return 1
  p=$(free_port)
  metrics[vc-scheduler]="http://127.0.0.1:$p/metrics"
  start_proc vc-scheduler "$VC_SCHEDULER" --kubeconfig="$KUBECONFIG" --leader-elect=false \
    --scheduler-conf="$VOLCANO_SCHEDULER_CONF" --listen-address="127.0.0.1:$p"
  wait_until 60 "vc-scheduler's default Queue" "$KUBECTL" get queues.scheduling.volcano.sh default || return 1
  p=$(free_port)
  metrics[vc-controller-manager]="http://127.0.0.1:$p/metrics"
  start_proc vc-controller-manager "$VC_CONTROLLER_MANAGER" --kubeconfig="$KUBECONFIG" --leader-elect=false \
    --controllers=job-controller,jobflow-controller,jobtemplate-controller,queue-controller \
    --listen-address="127.0.0.1:$p" "${limits[@]}"
  wait_until 60 "the default Queue Open" queue_open
}

# Argo Workflows runs out of cluster, as its own development setup does, in
# namespace argo watching only the benchmark's namespace. Its health endpoint
# is always :6060, which another Argo on the machine may hold (it then only
# logs that), so readiness is its metrics port (TLS, self-signed), set in its
# configmap, and its log; the driver's warm-up flow waits for the rest.
argo_ready() {  # metrics_port
  curl -sfk "https://127.0.0.1:$1/metrics" >/dev/null &&
    grep -q "Starting Workflow Controller" "$run_dir/workflow-controller.log"
}
start_argo() {  # tuned: 0|1
  local env=(LEADER_ELECTION_DISABLE=true) limits=() port
  if (($1)); then
    env+=(DEFAULT_REQUEUE_TIME=1s)
    limits=(--qps="$PEER_TUNED_QPS" --burst="$PEER_TUNED_BURST")
  fi
  "$KUBECTL" apply --server-side -f "$ARGO_CRDS" >/dev/null || return 1
  crds_established || return 1
  "$KUBECTL" create namespace argo >/dev/null || return 1
  # It exits without its configmap.
  port=$(free_port)
  metrics[workflow-controller]="https://127.0.0.1:$port/metrics"
  "$KUBECTL" create configmap workflow-controller-configmap -n argo \
    --from-literal=config="$(printf 'metricsConfig:\n  port: %s\n' "$port")" >/dev/null || return 1
  start_proc workflow-controller env "${env[@]}" "$ARGO_WORKFLOW_CONTROLLER" --kubeconfig="$KUBECONFIG" \
    --namespace=argo --namespaced --managed-namespace="$NS" --executor-image=argoexec:bench "${limits[@]}"
  wait_until 60 "workflow-controller's metrics and start" argo_ready "$port"
}

start_system() {
  case $1 in
    weir | weir-batch) start_weir ;;
    raw) ;;
    volcano) start_volcano 0 ;;
    volcano-tuned) start_volcano 1 ;;
    argo) start_argo 0 ;;
    argo-tuned) start_argo 1 ;;
  esac
}

# --- measurements -----------------------------------------------------------------------

# CPU seconds (user + system) of a process; 0 once it is gone.
cpu_s() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
  # Fields after the command name, which ends with ")": utime and stime are 12th and 13th.
  awk -v hz="$(getconf CLK_TCK)" '{print ($12 + $13) / hz}' <<<"${stat##*) }"
}
# Peak resident memory (VmHWM) of a process in MiB; 0 once it is gone.
hwm_mib() { awk '/^VmHWM/ {printf "%.1f\n", $2 / 1024}' "/proc/$1/status" 2>/dev/null || echo 0; }

CONTROL_PLANE=(kube-apiserver etcd kube-controller-manager kube-scheduler kwok)
cp_pid() { cat "$WEIR_CLUSTER_DIR/pids/$1.pid"; }
# The real process of a system process started through env(1) is the same pid (exec).
controller_pids() { echo "${procs[@]}"; }

# "name=cpu_s ..." for the control plane and the system's processes.
cpu_snapshot() {
  local c p out=() total=0
  for c in "${CONTROL_PLANE[@]}"; do out+=("$c=$(cpu_s "$(cp_pid "$c")")"); done
  for p in $(controller_pids); do total=$(awk -v a="$total" -v b="$(cpu_s "$p")" 'BEGIN {print a + b}'); done
  out+=("controller=$total")
  echo "${out[*]}"
}

scrape() { "$KUBECTL" get --raw /metrics >"$1"; }

# Keeps each system process's own count of its API requests (weir:
# weir_api_requests_total, Argo: argo_workflows_k8s_request_duration_count;
# Volcano's listen addresses served none here) in the run's directory, for
# telling components apart, with weir's reconcile and work-queue counts and
# time per reconcile, watch events and cached objects; not parsed here.
scrape_clients() {
  local name
  for name in "${!metrics[@]}"; do
    curl -sfk "${metrics[$name]}" 2>/dev/null |
      grep -E '^[a-z_]*(requests?_total|request_duration_count|reconcile_total|workqueue_adds_total|watch_events_total|informer_objects|reconcile_time_seconds_(sum|count))' >"$run_dir/$name.requests" || true
  done
}

# Reads the three scrapes (before idling, after idling, after the run) and
# prints key=value figures per step of the run: API writes net of the
# driver's own creates, reads, 409s and Event writes; and the idle write rate.
# Node heartbeats (Node status, node Leases: kwok's, alike for every system;
# every controller runs without leader election) are left out. Writes the
# per-(resource, subresource, verb, code) counts of the run to requests.tsv.
api_figures() {  # m0 m1 m2 idle_s created steps
  python3 - "$@" "$run_dir/requests.tsv" <<'PY'
import re, sys
m0, m1, m2, idle, created, steps, out = sys.argv[1:]
idle, created, steps = float(idle), int(created), max(int(steps), 1)
line = re.compile(r'^apiserver_request_total\{(.*)\} ([0-9.e+]+)$')
HEARTBEATS = {"/nodes", "coordination.k8s.io/leases"}
def read(path):
    counts = {}
    for l in open(path):
        m = line.match(l.strip())
        if not m:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        if not labels.get("resource"):
            continue  # /metrics, /healthz, discovery
        key = (labels.get("group", "") + "/" + labels["resource"], labels.get("subresource", ""),
               labels["verb"], labels["code"])
        counts[key] = counts.get(key, 0) + float(m.group(2))
    return counts
c0, c1, c2 = read(m0), read(m1), read(m2)
WRITES, READS = {"POST", "PUT", "PATCH", "DELETE", "APPLY"}, {"GET", "LIST", "WATCH"}
def total(a, b, pred):
    return sum(v - a.get(k, 0) for k, v in b.items() if k[0] not in HEARTBEATS and pred(k))
write = lambda k: k[2] in WRITES
read_ = lambda k: k[2] in READS
with open(out, "w") as f:
    f.write("resource\tsubresource\tverb\tcode\tcount\n")
    for k in sorted(c2):
        d = c2[k] - c1.get(k, 0)
        if d:
            f.write("\t".join(k) + "\t%d\n" % d)
print("writes_per_step=%.2f reads_per_step=%.2f conflicts_per_step=%.3f events_per_step=%.2f idle_writes_per_s=%.2f" % (
    (total(c1, c2, write) - created) / steps, total(c1, c2, read_) / steps,
    total(c1, c2, lambda k: write(k) and k[3] == "409") / steps,
    total(c1, c2, lambda k: write(k) and k[0].endswith("/events")) / steps,
    total(c0, c1, write) / idle if idle > 0 else 0.0))
PY
}

# --- one run --------------------------------------------------------------------------

# The value of key in a "key=value ..." line.
get() {  # line key
  sed -n "s/.*\(^\| \)$2=\([^ ]*\).*/\2/p" <<<"$1"
}
# A process's CPU seconds between two cpu_snapshot lines.
diff_cpu() {  # before after name
  awk -v a="$(get "$1" "$3")" -v b="$(get "$2" "$3")" 'BEGIN {printf "%.2f", b - a}'
}
# A field of the driver's JSON object, numbers to 3 decimals, null as empty.
jf() {  # json key
  jq -r --arg k "$2" '.[$k] // "" | if type == "number" then (. * 1000 | round / 1000) else . end' <<<"$1"
}

COLUMNS_TSV=(session system workload shape flows steps profile duration repeat ok run_s wall_s steps_per_s
  flow_p50_s flow_p99_s step_p50_ms step_p99_ms status_p50_ms status_p99_ms
  writes_per_step reads_per_step conflicts_per_step events_per_step idle_writes_per_s
  controller_cpu_s controller_cpu_per_1k_steps controller_hwm_mib
  apiserver_cpu_s etcd_cpu_s kcm_cpu_s scheduler_cpu_s kwok_cpu_s machine_busy_pct load1 run_dir commit)

# Busy share of all CPUs (percent) between two /proc/stat readings.
cpu_total() { awk '/^cpu / {idle = $5 + $6; t = 0; for (i = 2; i <= NF; i++) t += $i; print t, idle}' /proc/stat; }

run_one() {  # profile system workload duration repeat
  local profile=$1 system=$2 wl=$3 duration=$4 rep=$5
  local shape flows steps width
  read -r shape flows steps width <<<"$(workload "$wl")"
  run_dir="$BENCH_OUT/runs/$session/$profile-$system-$wl-$duration-$rep"
  mkdir -p "$run_dir"
  log "run: $system $wl ($flows x $shape) profile=$profile pods=$duration repeat $rep/$REPEATS"
  fresh_control_plane "$profile"
  local ok=1
  start_system "$system" || ok=0

  local cpu1 cpu2 t0 t1 m0="$run_dir/metrics-0" m1="$run_dir/metrics-1" m2="$run_dir/metrics-2"
  local machine0 machine1 json="{}"
  if ((ok)); then
    sleep "$SETTLE_S"
    scrape "$m0"
    sleep "$IDLE_S"
    scrape "$m1"
    cpu1=$(cpu_snapshot)
    machine0=$(cpu_total)
    t0=$(date +%s.%N)
    "$driver" run --system="$(driver_system "$system")" --shape="$shape" --flows="$flows" \
      --steps="$steps" --width="$width" --duration="$duration" --namespace="$NS" \
      --creators="$CREATORS" --timeout="$DRIVER_TIMEOUT" >"$run_dir/driver.json" 2>"$run_dir/driver.log" &
    driver_pid=$!
    if ((PPROF_S > 0)); then
      "$KUBECTL" get --raw "/debug/pprof/profile?seconds=$PPROF_S" >"$run_dir/kube-apiserver.pprof" &
      pprof_pid=$!
    fi
    wait "$driver_pid" || ok=0
    driver_pid=
    t1=$(date +%s.%N)
    machine1=$(cpu_total)
    cpu2=$(cpu_snapshot)
    [[ -z ${pprof_pid:-} ]] || wait "$pprof_pid" || log "no API server profile; see $run_dir"
    pprof_pid=
    scrape "$m2"
    scrape_clients
    json=$(jq -c 'select(type == "object")' "$run_dir/driver.json" 2>/dev/null) || json=""
    [[ -n $json ]] || { json="{}"; ok=0; }
  fi
  ((ok)) || log "run failed; see $run_dir"

  # Figures (empty where the run did not get that far).
  local f=() run_s="" hwm=0 p api="" created total_steps
  if [[ $json != "{}" ]]; then
    run_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')
    created=$(jq -r '.created // 0' <<<"$json")
    # The driver's warm-up flow ran inside the measured window too.
    total_steps=$(jq -r --argjson flows "$flows" '(.steps // 0) * (($flows + 1) / $flows) | floor' <<<"$json")
    api=$(api_figures "$m0" "$m1" "$m2" "$IDLE_S" "$created" "$total_steps") || api=""
    for p in $(controller_pids); do hwm=$(awk -v a="$hwm" -v b="$(hwm_mib "$p")" 'BEGIN {print a + b}'); done
  fi
  f+=("$session" "$system" "$wl" "$shape" "$flows" "$steps" "$profile" "$duration" "$rep" "$ok" "${run_s:-}")
  for p in wall_s steps_per_s flow_latency_p50_s flow_latency_p99_s step_latency_p50_ms \
    step_latency_p99_ms status_latency_p50_ms status_latency_p99_ms; do
    f+=("$(jf "$json" "$p")")
  done
  if [[ -n $api ]]; then
    local ctrl
    ctrl=$(diff_cpu "$cpu1" "$cpu2" controller)
    for p in writes_per_step reads_per_step conflicts_per_step events_per_step idle_writes_per_s; do
      f+=("$(get "$api" "$p")")
    done
    if [[ $system == raw ]]; then f+=("" "" ""); else
      f+=("$ctrl" "$(awk -v c="$ctrl" -v s="$total_steps" 'BEGIN {printf "%.2f", c * 1000 / s}')" "$hwm")
    fi
    for p in "${CONTROL_PLANE[@]}"; do f+=("$(diff_cpu "$cpu1" "$cpu2" "$p")"); done
    f+=("$(awk -v a="$machine0" -v b="$machine1" 'BEGIN {split(a, x, " "); split(b, y, " ");
      printf "%.0f", 100 * (1 - (y[2] - x[2]) / (y[1] - x[1]))}')")
  else
    f+=("" "" "" "" "" "" "" "" "" "" "" "" "" "")
  fi
  f+=("$(cut -d' ' -f1 /proc/loadavg)" "${run_dir#"$BENCH_OUT"/}" "$commit")
  (IFS=$'\t'; echo "${f[*]}") >>"$results"

  stop_system
  cp "$WEIR_CLUSTER_DIR/logs/"*.log "$run_dir/" 2>/dev/null || true
  ((KEEP_METRICS)) || rm -f "$m0" "$m1" "$m2"
  "$cluster" down >/dev/null 2>&1 || true
}

# --- the summary ---------------------------------------------------------------------------

# Medians of this session's successful runs (hack/bench-peers-table.py).
summary() {
  python3 "$WEIR_ROOT/hack/bench-peers-table.py" --session "$session" "$results"
}

# --- main ----------------------------------------------------------------------------------

mkdir -p "$BENCH_OUT"
results="$BENCH_OUT/results.tsv"
header=$(IFS=$'\t'; echo "${COLUMNS_TSV[*]}")
if [[ -s $results && $(head -n1 "$results") != "$header" ]]; then
  log "$results has other columns (an older version of this script): moving it to $results.old"
  mv "$results" "$results.old"
fi
[[ -s $results ]] || echo "$header" >"$results"
session="$(date -u +%Y%m%dT%H%M%SZ)"
# The checkout weir's binaries and CRDs come from ("-dirty": with uncommitted changes).
commit=$(git -C "$WEIR_ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
[[ -z $(git -C "$WEIR_ROOT" status --porcelain --untracked-files=no 2>/dev/null) ]] || commit+=-dirty
run_dir="$BENCH_OUT/runs/$session"
log "bench-peers session $session: systems [$SYSTEMS], workloads [$WORKLOADS], profiles [$PROFILES]," \
  "pod durations [$DURATIONS], $REPEATS repeats, SCALE=$SCALE; rows go to $results"
for profile in $PROFILES; do
  for system in $SYSTEMS; do
    for wl in $WORKLOADS; do
      # Batches have one step each: only the single-step workloads.
      [[ $system == weir-batch && $(workload "$wl" | cut -d' ' -f1) != single ]] && continue
      for duration in $DURATIONS; do
        for ((rep = 1; rep <= REPEATS; rep++)); do
          run_one "$profile" "$system" "$wl" "$duration" "$rep"
        done
      done
    done
  done
done

# What the README's table keeps of this session (bench/results/peers/<session>/):
# its rows and each run's request counts, not the logs.
kept="$BENCH_OUT/kept/$session"
mkdir -p "$kept"
awk -F'\t' -v s="$session" 'NR == 1 || $1 == s' "$results" >"$kept/results.tsv"
for d in "$run_dir"/*/; do
  mkdir -p "$kept/$(basename "$d")"
  cp "$d"requests.tsv "$d"driver.json "$d"*.requests "$kept/$(basename "$d")/" 2>/dev/null || true
done
log "to publish this session in the README's table: cp -r $kept bench/results/peers/"

echo
echo "## bench-peers $session ($(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); medians of successful runs)"
echo
summary
