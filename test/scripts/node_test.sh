#!/usr/bin/env bash
# Tests the real node of hack/cluster.sh (hack/node.sh) on the main control
# plane: it is Ready with containerd and kubelet of the pinned versions, told
# apart from kwok's nodes by label and taint (simulated pods never land on it,
# real pods run there and `kubectl logs` prints their output), `status` shows
# it; `down` with a container running leaves nothing behind (process, mount,
# network namespace, bridge, cgroup, and the kernel settings kubelet changed
# are put back), and `up` after `down` works twice in a row. It must run alone
# (ctest RUN_SERIAL): it takes the whole control plane down and up, and
# installs weir's CRDs again at the end for the tests after it.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/hack/lib.sh"
cluster="$root/hack/cluster.sh"
cluster_dir=${WEIR_CLUSTER_DIR:-$root/.cluster}
fail() {
  echo "FAIL: $*" >&2
  tail -n 20 "$cluster_dir"/logs/{kubelet,containerd}.log 2>/dev/null >&2 || true
  exit 1
}
sysctls=(vm/overcommit_memory vm/panic_on_oom kernel/panic kernel/panic_on_oops
  kernel/keys/root_maxkeys kernel/keys/root_maxbytes net/ipv4/ip_forward)
read_sysctls() { local s; for s in "${sysctls[@]}"; do echo "$s=$(<"/proc/sys/$s")"; done; }
# Paths kubelet, containerd and the CNI plugins hard-code outside the node's own
# directories: each down must leave them as they were before the up.
host_paths=(/run/containerd /var/lib/kubelet /var/lib/cni /run/netns /var/log/containers
  /usr/libexec/kubernetes)
read_machine() {
  read_sysctls
  local p
  for p in "${host_paths[@]}"; do [[ -e $p ]] && echo "present $p"; done
  return 0
}

"$cluster" status >/dev/null || fail "the main control plane must be running (make e2e starts it)"
eval "$("$cluster" env)"
kubectl() { "$KUBECTL" "$@"; }
ns=node-test-$$

check_node() {
  local node runtime version
  [[ -n ${WEIR_CTR:-} ]] || fail "cluster.sh env exports no WEIR_CTR: the real node did not start ($(grep -h 'no real node' "$cluster_dir"/logs/*.log 2>/dev/null))"
  node=$(kubectl get node localhost -o json) || fail "no node 'localhost'"
  [[ $(jq -r '.status.conditions[] | select(.type=="Ready") | .status' <<<"$node") == True ]] ||
    fail "the real node is not Ready"
  runtime=$(jq -r .status.nodeInfo.containerRuntimeVersion <<<"$node")
  [[ $runtime == "containerd://${CONTAINERD_VERSION#v}" ]] || fail "runtime is $runtime"
  version=$(jq -r .status.nodeInfo.kubeletVersion <<<"$node")
  [[ $version == "$KUBERNETES_VERSION" ]] || fail "kubelet is $version"
  [[ $(jq -r '.metadata.labels["weir.dev/node"]' <<<"$node") == real ]] || fail "no weir.dev/node=real label"
  [[ $(jq -c '[.spec.taints[] | select(.key=="weir.dev/node")]' <<<"$node") == \
    '[{"effect":"NoSchedule","key":"weir.dev/node","value":"real"}]' ]] || fail "no weir.dev/node taint: $node"
  [[ $(kubectl get nodes -l weir.dev/node=kwok -o name | wc -l) -eq 2 ]] || fail "kwok nodes are not labelled"
  grep -q "real node.*localhost Ready=True containerd://" <<<"$("$cluster" status)" ||
    fail "status does not show the node: $("$cluster" status)"
}

# A pod that runs `script` on the real node.
real_pod() {  # name script
  kubectl apply -n "$ns" -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $1}
spec:
  restartPolicy: Never
  nodeSelector: {weir.dev/node: real}
  tolerations: [{key: weir.dev/node, operator: Equal, value: real, effect: NoSchedule}]
  terminationGracePeriodSeconds: 1
  containers:
  - {name: main, image: localhost/busybox:local, command: ["sh", "-c", "$2"]}
EOF
}

check_clean() {
  local left bin
  for bin in "$KUBELET" "$CONTAINERD" "$CONTAINERD_SHIM" "$RUNC"; do
    for p in /proc/[0-9]*; do
      [[ $(readlink "$p/exe" 2>/dev/null) == "$bin" ]] && fail "$bin still runs as ${p#/proc/}"
    done
  done
  left=$(awk -v a="$cluster_dir/node/" '(index($5, a) == 1 || index($5, "/run/weir-node") == 1 || index($5, "/run/netns/cni-") == 1) {print $5}' /proc/self/mountinfo)
  [[ -z $left ]] || fail "mounts left: $left"
  ! ip link show weir0 >/dev/null 2>&1 || fail "bridge weir0 left"
  left=$(ls -d /sys/fs/cgroup/*/weir-node 2>/dev/null || true)
  [[ -z $left ]] || fail "cgroups left: $left"
  [[ ! -e /run/weir-node ]] || fail "/run/weir-node left: $(ls -R /run/weir-node)"
}

# --- the running node -------------------------------------------------------------
check_node
kubectl create namespace "$ns" >/dev/null
for i in 0 1 2 3 4 5; do
  kubectl run -n "$ns" "sim-$i" --image=busybox:1.36 --restart=Never >/dev/null
done
real_pod hello "echo real hello; exit 0"
kubectl wait -n "$ns" --for=jsonpath='{.status.phase}'=Succeeded pod/hello --timeout=90s >/dev/null ||
  fail "the real pod did not succeed: $(kubectl get pod -n "$ns" hello -o yaml)"
[[ $(kubectl logs -n "$ns" hello) == "real hello" ]] || fail "kubectl logs: $(kubectl logs -n "$ns" hello 2>&1)"
kubectl wait -n "$ns" --for=jsonpath='{.spec.nodeName}' pod -l run --timeout=60s >/dev/null
on_real=$(kubectl get pods -n "$ns" -l run -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' | grep -c '^localhost$' || true)
((on_real == 0)) || fail "$on_real simulated pods were scheduled on the real node"

# --- down with a container running, then up, twice --------------------------------
real_pod sleeper "sleep 3600"
kubectl wait -n "$ns" --for=jsonpath='{.status.phase}'=Running pod/sleeper --timeout=90s >/dev/null ||
  fail "sleeper did not run"
up_log=$(mktemp)
trap 'rm -f "$up_log"' EXIT
down_state=
for round in 1 2; do
  "$cluster" down >"$up_log" 2>&1 || fail "down (round $round) failed: $(cat "$up_log")"
  check_clean
  # kubelet set vm.overcommit_memory=1 at start: each down puts the values back.
  [[ -z $down_state || $(read_machine) == "$down_state" ]] ||
    fail "down did not put the machine back: $(diff <(echo "$down_state") <(read_machine))"
  down_state=$(read_machine)
  "$cluster" up >/dev/null 2>"$up_log" || fail "up (round $round): $(cat "$up_log")"
  eval "$("$cluster" env)"
  check_node
  [[ $(</proc/sys/vm/overcommit_memory) == 1 ]] || fail "kubelet did not set vm.overcommit_memory"
  kubectl create namespace "$ns" >/dev/null
  real_pod sleeper "sleep 3600"
  kubectl wait -n "$ns" --for=jsonpath='{.status.phase}'=Running pod/sleeper --timeout=90s >/dev/null ||
    fail "sleeper did not run after up (round $round)"
done
kubectl delete namespace "$ns" --wait=false >/dev/null
install_weir
echo "real node: Ready, labelled and tainted, logs; down leaves nothing and restores sysctls and host paths; up after down twice: ok"
