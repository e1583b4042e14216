#!/usr/bin/env bash
# The local Kubernetes control plane that tests and `make run` use (docs/design.md §6):
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok (which
# plays two simulated nodes), and one real node (kubelet, containerd, runc;
# hack/node.sh) where the machine allows, all built from upstream by
# hack/build-tools.sh, all on loopback with TLS, RBAC and a service-account
# signing key.
#
#   hack/cluster.sh up       start it (idempotent), wait until ready, print exports
#   hack/cluster.sh down     stop exactly the processes `up` started
#   hack/cluster.sh status   show what runs, where, and the exports
#   hack/cluster.sh env      print only the export lines (for eval)
#   hack/cluster.sh restart COMPONENT   stop and start one component
#   hack/cluster.sh start-controller [FLAGS]   (re)start build/bin/weir-controller
#   hack/cluster.sh stop-controller   stop the weir-controller start-controller started
#
# WEIR_APISERVER_ARGS: more kube-apiserver flags (space-separated), e.g. to turn
# on a beta API: --runtime-config=admissionregistration.k8s.io/v1beta1=true
# --feature-gates=MutatingAdmissionPolicy=true
# WEIR_CONTROL_PLANE_PROFILE (read by `up`, kept for `restart`): the API client
# limits of kube-controller-manager and kube-scheduler.
#   default     their own defaults: 20 requests/s (burst 30) and 50 (burst 100)
#   production  500 requests/s, burst 1000 for both, as production control
#               planes raise them (`make bench-peers` measures both profiles)
# State lives in $WEIR_CLUSTER_DIR (default: .cluster in the checkout):
# certificates, kubeconfigs, etcd data, logs/<component>.log, pids/, ports.env.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

CLUSTER_DIR=${WEIR_CLUSTER_DIR:-$WEIR_ROOT/.cluster}
PKI=$CLUSTER_DIR/pki
PIDS=$CLUSTER_DIR/pids
LOGS=$CLUSTER_DIR/logs
KUBECONFIG_ADMIN=$CLUSTER_DIR/admin.kubeconfig
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)
NODES=(kwok-node-0 kwok-node-1)
SERVICE_CIDR=10.96.0.0/16
# shellcheck source=node.sh
source "$WEIR_ROOT/hack/node.sh"

# The Kubernetes release `up` started here (KUBERNETES_VERSION; hack/matrix.env).
# Every other command acts on that one, so `down` stops what runs even when
# the environment now asks for another release; `up` refuses to start another
# release over a running one.
VERSION_FILE=$CLUSTER_DIR/kubernetes-version
PROFILE_FILE=$CLUSTER_DIR/profile
requested_version=$KUBERNETES_VERSION
if [[ -f $VERSION_FILE && $(<"$VERSION_FILE") != "$KUBERNETES_VERSION" ]]; then
  select_kubernetes "$(<"$VERSION_FILE")"
fi

binary_of() {
  case $1 in
    etcd) echo "$ETCD" ;;
    kube-apiserver) echo "$KUBE_APISERVER" ;;
    kube-controller-manager) echo "$KUBE_CONTROLLER_MANAGER" ;;
    kube-scheduler) echo "$KUBE_SCHEDULER" ;;
    kwok) echo "$KWOK" ;;
    containerd) echo "$CONTAINERD" ;;
    kubelet) echo "$KUBELET" ;;
    weir-controller) echo "$WEIR_ROOT/build/bin/weir-controller" ;;
    *) die "unknown component '$1' (one of: ${COMPONENTS[*]} ${NODE_COMPONENTS[*]})" ;;
  esac
}

# --- processes ------------------------------------------------------------------

# Prints the pid of a component if the process we started is still alive. The
# pid must still run our binary, so a recycled pid is never mistaken for ours.
live_pid() {
  local f=$PIDS/$1.pid pid exe
  [[ -f $f ]] || return 1
  pid=$(<"$f")
  [[ -d /proc/$pid ]] || return 1
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  [[ ${exe% (deleted)} == "$(binary_of "$1")" ]] || return 1
  echo "$pid"
}

stop_component() {
  local pid i
  if pid=$(live_pid "$1"); then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      [[ -d /proc/$pid ]] || break
      sleep 0.1
    done
    if [[ -d /proc/$pid ]]; then
      log "$1 (pid $pid) did not stop in 10s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do [[ -d /proc/$pid ]] || break; sleep 0.1; done
    fi
  fi
  rm -f "$PIDS/$1.pid"
}

start_component() {  # name args...
  local name=$1 bin
  shift
  bin=$(binary_of "$name")
  mkdir -p "$PIDS" "$LOGS"
  # New session: the component outlives this script and gets no terminal signals.
  setsid "$bin" "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$PIDS/$name.pid"
}

# --- ports ------------------------------------------------------------------------

port_busy() { [[ -n $(ss -Htln "sport = :$1" 2>/dev/null) ]]; }

# Picks the preferred port, or the next free one above it (saying so), never
# one already picked for another component.
picked_ports=" "
pick_port() {  # name preferred var
  local p=$2
  while port_busy "$p" || [[ $picked_ports == *" $p "* ]]; do p=$((p + 1)); done
  [[ $p == "$2" ]] || log "port $2 for $1 is in use; using $p instead"
  picked_ports+="$p "
  printf '%s=%s\n' "$3" "$p" >>"$CLUSTER_DIR/ports.env"
}

choose_ports() {
  : >"$CLUSTER_DIR/ports.env"
  pick_port etcd 23790 ETCD_PORT
  pick_port etcd-peer 23800 ETCD_PEER_PORT
  pick_port kube-apiserver 16443 APISERVER_PORT
  pick_port kube-controller-manager 20257 KCM_PORT
  pick_port kube-scheduler 20259 SCHEDULER_PORT
  pick_port kwok 20247 KWOK_PORT
  node_choose_ports
}

# --- certificates and kubeconfigs ---------------------------------------------

gen_key() { openssl ecparam -name prime256v1 -genkey -noout -out "$1" 2>/dev/null; }

# Signs a certificate for CN/O with the cluster CA. ext: extra X.509v3 lines.
gen_cert() {  # name subject usage [san]
  local name=$1 subject=$2 usage=$3 san=${4:-}
  gen_key "$PKI/$name.key"
  openssl req -new -key "$PKI/$name.key" -subj "$subject" -out "$PKI/$name.csr" 2>/dev/null
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$usage"
    [[ -n $san ]] && echo "subjectAltName=$san"
  } >"$PKI/$name.ext"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
    -CAcreateserial -days 3650 -sha256 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}

gen_pki() {
  [[ -f $PKI/done ]] && return
  rm -rf "$PKI"
  mkdir -p "$PKI"
  gen_key "$PKI/ca.key"
  openssl req -x509 -new -key "$PKI/ca.key" -subj "/CN=weir-local-ca" -days 3650 -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$PKI/ca.crt" 2>/dev/null
  local local_san="IP:127.0.0.1,DNS:localhost"
  gen_cert etcd "/CN=etcd" serverAuth,clientAuth "$local_san"
  gen_cert apiserver "/CN=kube-apiserver" serverAuth \
    "$local_san,IP:10.96.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  gen_cert apiserver-etcd-client "/CN=kube-apiserver-etcd-client" clientAuth
  gen_cert admin "/O=system:masters/CN=weir-admin" clientAuth
  gen_cert kube-controller-manager "/CN=system:kube-controller-manager" clientAuth
  gen_cert kube-scheduler "/CN=system:kube-scheduler" clientAuth
  # kwok stands in for every kubelet, so it needs more than system:node:<name>.
  gen_cert kwok "/O=system:masters/CN=kwok-controller" clientAuth
  gen_cert controller-manager-serving "/CN=kube-controller-manager" serverAuth "$local_san"
  gen_cert scheduler-serving "/CN=kube-scheduler" serverAuth "$local_san"
  # Service-account token signing key pair (lets `kubectl create token` work).
  gen_key "$PKI/sa.key"
  openssl ec -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  touch "$PKI/done"
}

write_kubeconfig() {  # file user-cert-name
  local file=$1 user=$2
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: weir-local
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $(base64 -w0 "$PKI/ca.crt")
users:
- name: $user
  user:
    client-certificate-data: $(base64 -w0 "$PKI/$user.crt")
    client-key-data: $(base64 -w0 "$PKI/$user.key")
contexts:
- name: weir-local
  context:
    cluster: weir-local
    user: $user
current-context: weir-local
EOF
}

# --- components -------------------------------------------------------------------

start_etcd() {
  start_component etcd \
    --name=weir --data-dir="$CLUSTER_DIR/etcd" \
    --listen-client-urls="https://127.0.0.1:$ETCD_PORT" \
    --advertise-client-urls="https://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls="https://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls="https://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster="weir=https://127.0.0.1:$ETCD_PEER_PORT" \
    --cert-file="$PKI/etcd.crt" --key-file="$PKI/etcd.key" \
    --trusted-ca-file="$PKI/ca.crt" --client-cert-auth \
    --peer-cert-file="$PKI/etcd.crt" --peer-key-file="$PKI/etcd.key" \
    --peer-trusted-ca-file="$PKI/ca.crt" --peer-client-cert-auth \
    --listen-metrics-urls="" --log-level=warn \
    --unsafe-no-fsync --quota-backend-bytes=$((2 * 1024 * 1024 * 1024))
}

# The `kubernetes` Service gets no endpoints (--endpoint-reconciler-type=none):
# its only address here would be 127.0.0.1, which no pod can reach, and 1.37
# refuses to start with a loopback address under the default (lease) reconciler
# ("may not be in the loopback range").
start_apiserver() {
  start_component kube-apiserver \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$APISERVER_PORT" \
    --endpoint-reconciler-type=none \
    --etcd-servers="https://127.0.0.1:$ETCD_PORT" \
    --etcd-cafile="$PKI/ca.crt" --etcd-certfile="$PKI/apiserver-etcd-client.crt" \
    --etcd-keyfile="$PKI/apiserver-etcd-client.key" \
    --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
    --client-ca-file="$PKI/ca.crt" \
    --authorization-mode=Node,RBAC --anonymous-auth=false \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$PKI/sa.pub" \
    --service-account-signing-key-file="$PKI/sa.key" \
    --service-cluster-ip-range="$SERVICE_CIDR" \
    --allow-privileged=true --profiling=false \
    --etcd-compaction-interval=1m \
    --cert-dir="$CLUSTER_DIR/apiserver-certs" \
    --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" \
    --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority="$PKI/ca.crt" \
    --kubelet-preferred-address-types=Hostname,InternalIP \
    ${WEIR_APISERVER_ARGS:-}
}

# The control-plane profile `up` started (WEIR_CONTROL_PLANE_PROFILE), which
# a restarted component keeps.
profile() {
  local p=${WEIR_CONTROL_PLANE_PROFILE:-default}
  [[ -f $PROFILE_FILE ]] && p=$(<"$PROFILE_FILE")
  case $p in
    default | production) echo "$p" ;;
    *) die "WEIR_CONTROL_PLANE_PROFILE=$p: want default or production" ;;
  esac
}

# API client limits of the production profile (kube-controller-manager and
# kube-scheduler alike).
PRODUCTION_QPS=500
PRODUCTION_BURST=1000

start_controller_manager() {
  local limits=()
  if [[ $(profile) == production ]]; then
    limits=(--kube-api-qps="$PRODUCTION_QPS" --kube-api-burst="$PRODUCTION_BURST")
  fi
  start_component kube-controller-manager "${limits[@]}" \
    --kubeconfig="$CLUSTER_DIR/kube-controller-manager.kubeconfig" \
    --authentication-kubeconfig="$CLUSTER_DIR/kube-controller-manager.kubeconfig" \
    --authorization-kubeconfig="$CLUSTER_DIR/kube-controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$KCM_PORT" \
    --tls-cert-file="$PKI/controller-manager-serving.crt" \
    --tls-private-key-file="$PKI/controller-manager-serving.key" \
    --leader-elect=false --use-service-account-credentials=true \
    --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
    --service-cluster-ip-range="$SERVICE_CIDR" \
    --concurrent-job-syncs=10 --concurrent-gc-syncs=20 --profiling=false
}

# kube-scheduler's client limits are set in its configuration file (the
# flags for them are deprecated); with a file, its kubeconfig and leader
# election are read from there too.
start_scheduler() {
  local config=()
  if [[ $(profile) == production ]]; then
    cat >"$CLUSTER_DIR/kube-scheduler.yaml" <<EOF
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: $CLUSTER_DIR/kube-scheduler.kubeconfig
  qps: $PRODUCTION_QPS
  burst: $PRODUCTION_BURST
leaderElection:
  leaderElect: false
EOF
    config=(--config="$CLUSTER_DIR/kube-scheduler.yaml")
  fi
  start_component kube-scheduler "${config[@]}" \
    --kubeconfig="$CLUSTER_DIR/kube-scheduler.kubeconfig" \
    --authentication-kubeconfig="$CLUSTER_DIR/kube-scheduler.kubeconfig" \
    --authorization-kubeconfig="$CLUSTER_DIR/kube-scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$SCHEDULER_PORT" \
    --tls-cert-file="$PKI/scheduler-serving.crt" --tls-private-key-file="$PKI/scheduler-serving.key" \
    --leader-elect=false --profiling=false
}

start_kwok() {
  start_component kwok \
    --kubeconfig="$CLUSTER_DIR/kwok.kubeconfig" \
    --config="$WEIR_ROOT/hack/kwok/stages.yaml" \
    --manage-all-nodes=false \
    --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --node-lease-duration-seconds=40 \
    --cidr=10.244.0.0/16 --node-ip=10.0.0.1 \
    --server-address="127.0.0.1:$KWOK_PORT"
}

start_by_name() {
  case $1 in
    etcd) start_etcd ;;
    kube-apiserver) start_apiserver ;;
    kube-controller-manager) start_controller_manager ;;
    kube-scheduler) start_scheduler ;;
    kwok) start_kwok ;;
    containerd) start_containerd ;;
    kubelet) start_kubelet ;;
  esac
}

# --- readiness ----------------------------------------------------------------------

kubectl_admin() { "$KUBECTL" --kubeconfig="$KUBECONFIG_ADMIN" "$@"; }

# Waits for cmd to succeed, failing with the component's log tail on timeout
# or when the component died.
wait_for() {  # what component seconds cmd...
  local what=$1 component=$2 seconds=$3 deadline
  shift 3
  deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    # The pid just recorded: its existence is enough (live_pid's binary check
    # is for `down`, and can race a fork that has not exec'd yet).
    if [[ ! -d /proc/$(<"$PIDS/$component.pid") ]]; then
      tail -n 30 "$LOGS/$component.log" >&2 || true
      die "$component exited while waiting for $what; see $LOGS/$component.log"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 30 "$LOGS/$component.log" >&2 || true
      die "timed out after ${seconds}s waiting for $what; see $LOGS/$component.log"
    fi
    sleep 0.2
  done
}

etcd_healthy() {
  curl -sf --cacert "$PKI/ca.crt" --cert "$PKI/apiserver-etcd-client.crt" \
    --key "$PKI/apiserver-etcd-client.key" "https://127.0.0.1:$ETCD_PORT/health" | grep -q '"health":"true"'
}

apiserver_ready() {
  curl -sf --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
    "https://127.0.0.1:$APISERVER_PORT/readyz" | grep -q ok
}

create_nodes() {
  local n
  for n in "${NODES[@]}"; do
    cat <<EOF
apiVersion: v1
kind: Node
metadata:
  name: $n
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/hostname: $n
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
    weir.dev/node: kwok
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "110"}
  capacity: {cpu: "32", memory: 256Gi, pods: "110"}
---
EOF
  done | kubectl_admin apply -f - >/dev/null
}

nodes_ready() {
  local ready
  ready=$(kubectl_admin get nodes -l weir.dev/node=kwok -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c True)
  ((ready == ${#NODES[@]}))
}

print_env() {
  echo "export KUBECONFIG=$KUBECONFIG_ADMIN"
  echo "export WEIR_KUBECTL=$KUBECTL WEIR_HELM=$HELM WEIR_KUBERNETES_VERSION=$KUBERNETES_VERSION"
  echo "export PATH=$(k8s_bin_dir):$(helm_bin_dir):\$PATH  # pinned kubectl $KUBERNETES_VERSION and helm $HELM_VERSION"
  if node_enabled; then
    echo "export WEIR_CTR=$CTR WEIR_CONTAINERD_ADDRESS=$NODE_RUN/containerd.sock  # the real node's containerd"
  fi
  return 0
}

# Components this control plane runs: the real node's too where it started.
components() {
  echo "${COMPONENTS[@]}"
  node_enabled && echo "${NODE_COMPONENTS[@]}"
  return 0
}

all_running() {
  local c
  for c in $(components); do live_pid "$c" >/dev/null || return 1; done
}

# --- commands -----------------------------------------------------------------------

any_running() {
  local c
  for c in "${COMPONENTS[@]}" "${NODE_COMPONENTS[@]}" weir-controller; do
    live_pid "$c" >/dev/null && return 0
  done
  return 1
}

cmd_up() {
  if [[ $KUBERNETES_VERSION != "$requested_version" ]]; then
    if any_running; then
      die "the control plane in $CLUSTER_DIR runs Kubernetes $KUBERNETES_VERSION, not $requested_version: take it down first ('hack/cluster.sh down') or use another WEIR_CLUSTER_DIR"
    fi
    select_kubernetes "$requested_version"
  fi
  if [[ -f $CLUSTER_DIR/ports.env ]] && all_running; then
    source "$CLUSTER_DIR/ports.env"
    if [[ -n ${WEIR_CONTROL_PLANE_PROFILE:-} && $WEIR_CONTROL_PLANE_PROFILE != "$(profile)" ]]; then
      die "the control plane in $CLUSTER_DIR runs the $(profile) profile, not $WEIR_CONTROL_PLANE_PROFILE: take it down first ('hack/cluster.sh down')"
    fi
    apiserver_ready || die "the control plane in $CLUSTER_DIR runs but is not ready; try 'hack/cluster.sh down' then 'up'"
    log "control plane already running"
    print_env
    return
  fi
  local start=$SECONDS
  "$WEIR_ROOT/hack/build-tools.sh"
  # Whatever is left of a previous, partial run goes first; state starts fresh.
  cmd_down_quiet
  mkdir -p "$CLUSTER_DIR"
  rm -rf "$CLUSTER_DIR/etcd" "$CLUSTER_DIR/apiserver-certs" "$LOGS" "$PIDS"
  choose_ports
  source "$CLUSTER_DIR/ports.env"
  echo "$KUBERNETES_VERSION" >"$VERSION_FILE"
  rm -f "$PROFILE_FILE"
  local p
  p=$(profile)
  echo "$p" >"$PROFILE_FILE"
  gen_pki
  node_pki
  write_kubeconfig "$KUBECONFIG_ADMIN" admin
  local c
  for c in kube-controller-manager kube-scheduler kwok; do
    write_kubeconfig "$CLUSTER_DIR/$c.kubeconfig" "$c"
  done

  log "starting etcd on 127.0.0.1:$ETCD_PORT"
  start_etcd
  wait_for "etcd health" etcd 30 etcd_healthy
  log "starting kube-apiserver on https://127.0.0.1:$APISERVER_PORT"
  start_apiserver
  wait_for "kube-apiserver /readyz" kube-apiserver 60 apiserver_ready
  log "starting kube-controller-manager, kube-scheduler and kwok"
  start_controller_manager
  start_scheduler
  start_kwok
  create_nodes
  node_up
  wait_for "${#NODES[@]} Ready kwok nodes" kwok 60 nodes_ready
  node_wait
  # Pods cannot be created until the namespace's default ServiceAccount exists.
  wait_for "the default ServiceAccount" kube-controller-manager 60 \
    kubectl_admin get serviceaccount default -n default
  log "control plane (Kubernetes $KUBERNETES_VERSION, $(profile) profile) ready in $((SECONDS - start))s (logs: $LOGS)"
  print_env
}

cmd_down_quiet() {
  # The API server's clients first (together, with a weir-controller that
  # `make run` started), then the API server, etcd last.
  local c
  node_down
  for c in weir-controller kwok kube-scheduler kube-controller-manager; do stop_component "$c" & done
  wait
  stop_component kube-apiserver
  stop_component etcd
}

cmd_down() {
  [[ -d $PIDS ]] || { log "no control plane recorded in $CLUSTER_DIR"; return; }
  cmd_down_quiet
  log "control plane stopped"
}

cmd_status() {
  local c pid rc=0
  [[ -f $CLUSTER_DIR/ports.env ]] && source "$CLUSTER_DIR/ports.env"
  for c in $(components); do
    if pid=$(live_pid "$c"); then
      printf '%-24s running  pid %-8s rss %s\n' "$c" "$pid" "$(awk '/VmRSS/ {print $2 " kB"}' "/proc/$pid/status")"
    else
      printf '%-24s stopped\n' "$c"
      rc=1
    fi
  done
  if ((rc == 0)); then
    node_status_line
    echo "API server: https://127.0.0.1:$APISERVER_PORT   logs: $LOGS"
    print_env
  fi
  return $rc
}

cmd_restart() {
  local c=${1:?usage: hack/cluster.sh restart COMPONENT}
  binary_of "$c" >/dev/null
  [[ -f $CLUSTER_DIR/ports.env ]] || die "no control plane in $CLUSTER_DIR; run 'hack/cluster.sh up'"
  source "$CLUSTER_DIR/ports.env"
  stop_component "$c"
  start_by_name "$c"
  if [[ $c == kube-apiserver ]]; then wait_for "kube-apiserver /readyz" kube-apiserver 60 apiserver_ready; fi
  log "$c restarted"
}

# Runs build/bin/weir-controller against this control plane as a recorded
# component (so `down` stops it too), replacing a running one.
cmd_start_controller() {
  [[ -f $CLUSTER_DIR/ports.env ]] && all_running || die "no control plane running; run 'hack/cluster.sh up'"
  local bin
  bin=$(binary_of weir-controller)
  [[ -x $bin ]] || die "$bin is not built; run 'make build'"
  stop_component weir-controller
  start_component weir-controller --kubeconfig="$KUBECONFIG_ADMIN" \
    --health-bind-address=127.0.0.1:18081 --metrics-bind-address=127.0.0.1:18080 "$@"
  wait_for "weir-controller /readyz" weir-controller 60 curl -sf http://127.0.0.1:18081/readyz
}

case ${1:-} in
  up) cmd_up ;;
  stop-controller) stop_component weir-controller ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) [[ -f $CLUSTER_DIR/ports.env ]] || die "no control plane in $CLUSTER_DIR"; print_env ;;
  restart) cmd_restart "${2:-}" ;;
  start-controller) shift; cmd_start_controller "$@" ;;
  *) echo "usage: hack/cluster.sh up|down|status|env|restart COMPONENT|start-controller [FLAGS]|stop-controller" >&2; exit 2 ;;
esac
