# The real node beside kwok's (docs/design.md §6): kubelet, containerd and runc on
# this machine, running real containers from the images hack/images.sh built.
# Sourced by hack/cluster.sh, whose helpers (start_component, stop_component,
# wait_for, kubectl_admin, gen_cert, pick_port) it uses.
#
# One machine holds at most one real node: the control plane that starts it
# records itself in $NODE_RUN/owner, and another control plane on the same
# machine goes on with kwok only. Everything the node makes is its own and is
# removed by node_down, even after a crash (node_sweep):
#   processes  containerd, its shims, kubelet, every container process;
#   cgroups    /$NODE_CGROUP in each cgroup v1 hierarchy (kubelet's cgroupRoot);
#   mounts     under $NODE_DIR and $NODE_RUN (rootfs overlays, volumes, shm);
#   network    the bridge $NODE_BRIDGE (no masquerade, no routes out);
#   sysctls    the kernel settings kubelet changes, saved before and put back;
#   host paths the few that kubelet, containerd and the CNI plugins hard-code
#              (NODE_HOST_PATHS), removed if they did not exist before.
# The node is named localhost: kubelet refuses a loopback --node-ip, and the
# API server reaches it by its Hostname address, on 127.0.0.1 only.

NODE_DIR=$CLUSTER_DIR/node
NODE_RUN=/run/weir-node         # short: unix socket paths are limited to 108 bytes
NODE_NAME=localhost
NODE_CGROUP=weir-node
NODE_BRIDGE=weir0
NODE_POD_CIDR=10.89.0.0/24
NODE_COMPONENTS=(containerd kubelet)
# What tells the nodes apart: real pods select this label and tolerate the
# taint; simulated pods have neither, so they never land on the real node.
NODE_LABEL=weir.dev/node
NODE_TAINT="weir.dev/node=real:NoSchedule"
# Kernel settings kubelet sets at start (pkg/kubelet/cm: setupKernelTunables),
# and the bridge's forwarding switch.
NODE_SYSCTLS=(vm/overcommit_memory vm/panic_on_oom kernel/panic kernel/panic_on_oops
  kernel/keys/root_maxkeys kernel/keys/root_maxbytes net/ipv4/ip_forward)
NODE_IMAGES_LIST=(pause busybox busybox-sigint no-command)
# Hard-coded outside the node's directories: shim sockets (/run/containerd/s),
# kubelet's device-plugin socket, the CNI result cache and network namespaces,
# log symlinks, the flexvolume directory.
NODE_HOST_PATHS=(/run/containerd /var/lib/kubelet /var/lib/cni /run/netns /var/log/containers
  /usr/libexec/kubernetes)

# --- can this machine run it? -----------------------------------------------------

# Prints why this machine cannot run the real node; empty when it can.
node_unsupported_reason() {
  [[ ${WEIR_REAL_NODE:-1} == 0 ]] && { echo "WEIR_REAL_NODE=0"; return; }
  [[ $(id -u) -eq 0 ]] || { echo "kubelet and containerd need root (running as uid $(id -u))"; return; }
  [[ -d /sys/fs/cgroup/memory && -d /sys/fs/cgroup/cpuset ]] ||
    { echo "no cgroup v1 memory and cpuset hierarchies under /sys/fs/cgroup (kubelet runs with cgroupDriver cgroupfs on v1)"; return; }
  grep -qw overlay /proc/filesystems || { echo "the kernel has no overlayfs"; return; }
  [[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/loopback ]] ||
    { echo "the CNI plugins are missing from /usr/lib/cni (hack/install-deps.sh installs containernetworking-plugins)"; return; }
  local owner
  owner=$(cat "$NODE_RUN/owner" 2>/dev/null || true)
  if [[ -n $owner && $owner != "$CLUSTER_DIR" ]] && node_owner_alive "$owner"; then
    echo "the real node of this machine belongs to the control plane in $owner"
  fi
}

# True if the control plane in `dir` still runs its kubelet or containerd.
node_owner_alive() {
  local dir=$1 c pid exe
  for c in kubelet containerd; do
    pid=$(cat "$dir/pids/$c.pid" 2>/dev/null) || continue
    exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || continue
    [[ ${exe% (deleted)} == "$(binary_of "$c")" ]] && return 0
  done
  return 1
}

node_enabled() { [[ -f $NODE_DIR/enabled ]]; }

# --- configuration ----------------------------------------------------------------

node_pki() {
  [[ -f $PKI/kubelet.crt ]] && return
  # kubelet's client identity (the Node authorizer knows it by this name) and
  # its serving certificate; the API server's client certificate for kubelet.
  gen_cert kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" clientAuth
  gen_cert kubelet-serving "/CN=$NODE_NAME" serverAuth "IP:127.0.0.1,DNS:$NODE_NAME"
  gen_cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
}

node_write_config() {
  mkdir -p "$NODE_DIR/cni" "$NODE_DIR/logs"
  cat >"$NODE_DIR/containerd.toml" <<EOF
version = 3
root = "$NODE_DIR/containerd"
state = "$NODE_RUN/containerd"

[grpc]
  address = "$NODE_RUN/containerd.sock"

[plugins]
  [plugins.'io.containerd.internal.v1.opt']
    path = "$NODE_DIR/opt"
  [plugins.'io.containerd.nri.v1.nri']
    disable = true
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = "overlayfs"
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = "localhost/pause:local"
  [plugins.'io.containerd.cri.v1.runtime']
    # These machines lack CAP_SYS_RESOURCE: runc cannot lower a sandbox's
    # oom_score_adj below containerd's own.
    restrict_oom_score_adj = true
    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = "runc"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        runtime_path = "$CONTAINERD_SHIM"
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
          BinaryName = "$RUNC"
          Root = "$NODE_RUN/runc"
          SystemdCgroup = false
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dirs = ["/usr/lib/cni"]
      conf_dir = "$NODE_DIR/cni"
  [plugins.'io.containerd.grpc.v1.cri']
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
EOF
  # Pods need no network for weir: a bridge without gateway or masquerade
  # keeps their traffic inside the machine.
  cat >"$NODE_DIR/cni/10-weir-node.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "weir-node",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$NODE_BRIDGE",
      "isGateway": false,
      "ipMasq": false,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$NODE_POD_CIDR"}]],
        "dataDir": "$NODE_DIR/cni-ipam"
      }
    }
  ]
}
EOF
  cat >"$NODE_DIR/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: $KUBELET_PORT
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
readOnlyPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: "$PKI/ca.crt"}
authorization: {mode: Webhook}
tlsCertFile: "$PKI/kubelet-serving.crt"
tlsPrivateKeyFile: "$PKI/kubelet-serving.key"
containerRuntimeEndpoint: "unix://$NODE_RUN/containerd.sock"
# cgroup v1 hybrid machines with no systemd: kubelet 1.35+ refuses v1 unless told.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /$NODE_CGROUP
failSwapOn: false
podCIDR: $NODE_POD_CIDR
resolvConf: ""
protectKernelDefaults: false
podLogsDir: "$NODE_DIR/pod-logs"
volumePluginDir: "$NODE_DIR/volume-plugins"
maxPods: 40
serializeImagePulls: false
# Never evict for disk on a shared development disk, never collect the
# imported images (they cannot be pulled again).
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
EOF
}

node_kubeconfig() {
  write_kubeconfig "$NODE_DIR/kubelet.kubeconfig" kubelet
}

# Creates /$NODE_CGROUP in every v1 hierarchy (kubelet requires its cgroupRoot
# to exist); cpuset children start empty, so it gets the root's cpus and mems.
node_make_cgroups() {
  local h
  for h in /sys/fs/cgroup/*/; do
    [[ -f $h/cgroup.procs && $(stat -f -c %T "$h") == cgroupfs ]] || continue
    mkdir -p "$h$NODE_CGROUP"
  done
  cat /sys/fs/cgroup/cpuset/cpuset.cpus >"/sys/fs/cgroup/cpuset/$NODE_CGROUP/cpuset.cpus"
  cat /sys/fs/cgroup/cpuset/cpuset.mems >"/sys/fs/cgroup/cpuset/$NODE_CGROUP/cpuset.mems"
}

node_save_sysctls() {
  # Saved once: a crashed node's changed values must not become "the original".
  [[ -f $NODE_RUN/sysctls ]] && return
  local s
  for s in "${NODE_SYSCTLS[@]}"; do
    if [[ -f /proc/sys/$s ]]; then printf '%s %s\n' "$s" "$(</proc/sys/"$s")"; fi
  done >"$NODE_RUN/sysctls.tmp"
  mv "$NODE_RUN/sysctls.tmp" "$NODE_RUN/sysctls"
}

# Records which of NODE_HOST_PATHS do not exist yet, once (like the sysctls).
node_save_host_paths() {
  [[ -f $NODE_RUN/host-paths ]] && return
  local p
  for p in "${NODE_HOST_PATHS[@]}"; do [[ -e $p ]] || echo "$p"; done >"$NODE_RUN/host-paths.tmp"
  mv "$NODE_RUN/host-paths.tmp" "$NODE_RUN/host-paths"
}

node_remove_host_paths() {
  [[ -f $NODE_RUN/host-paths ]] || return 0
  local p
  while read -r p; do rm -rf "$p" 2>/dev/null || log "could not remove $p"; done <"$NODE_RUN/host-paths"
  rm -f "$NODE_RUN/host-paths"
}

node_restore_sysctls() {
  [[ -f $NODE_RUN/sysctls ]] || return 0
  local s v
  while read -r s v; do
    [[ $(</proc/sys/"$s") == "$v" ]] || echo "$v" 2>/dev/null >"/proc/sys/$s" ||
      log "could not put back /proc/sys/$s ($v)"
  done <"$NODE_RUN/sysctls"
  rm -f "$NODE_RUN/sysctls"
}

# --- start --------------------------------------------------------------------------

node_choose_ports() {
  pick_port kubelet 20250 KUBELET_PORT
  pick_port kubelet-healthz 20248 KUBELET_HEALTHZ_PORT
}

start_containerd() {
  start_component containerd --config="$NODE_DIR/containerd.toml" --log-level=warn
}

start_kubelet() {
  start_component kubelet --config="$NODE_DIR/kubelet.yaml" \
    --kubeconfig="$NODE_DIR/kubelet.kubeconfig" \
    --hostname-override="$NODE_NAME" \
    --root-dir="$NODE_DIR/kubelet" --cert-dir="$NODE_DIR/kubelet-pki" \
    --node-labels="$NODE_LABEL=real" --register-with-taints="$NODE_TAINT" --v=1
}

containerd_ready() { "$CTR" --address "$NODE_RUN/containerd.sock" version; }

node_ready() {
  [[ $(kubectl_admin get node "$NODE_NAME" \
    -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}') == True ]]
}

ctr_k8s() { "$CTR" --address "$NODE_RUN/containerd.sock" --namespace k8s.io "$@"; }

# Starts the node if this machine can run it; otherwise says why and returns,
# and the control plane goes on with kwok's nodes only.
node_up() {
  local why
  why=$(node_unsupported_reason)
  rm -f "$NODE_DIR/enabled"
  if [[ -n $why ]]; then
    log "no real node: $why; going on with kwok's nodes only"
    return
  fi
  node_sweep
  mkdir -p "$NODE_RUN"
  echo "$CLUSTER_DIR" >"$NODE_RUN/owner"
  rm -rf "$NODE_DIR"
  mkdir -p "$NODE_DIR"
  node_pki
  node_write_config
  node_kubeconfig
  node_make_cgroups
  node_save_sysctls
  node_save_host_paths
  log "starting the real node: containerd $CONTAINERD_VERSION, kubelet on 127.0.0.1:$KUBELET_PORT"
  start_containerd
  wait_for "containerd" containerd 30 containerd_ready
  local image out
  for image in "${NODE_IMAGES_LIST[@]}"; do
    out=$(ctr_k8s images import "$(images_dir)/$image.tar" 2>&1) ||
      die "could not import $(images_dir)/$image.tar into containerd: $out"
  done
  start_kubelet
  touch "$NODE_DIR/enabled"
}

# Waits for the node started by node_up (after the API server's clients run).
node_wait() {
  node_enabled || return 0
  wait_for "the real node $NODE_NAME Ready" kubelet 90 node_ready
}

# --- stop ---------------------------------------------------------------------------

# Stops the node and removes everything it made. Also cleans what a crashed or
# killed node of any control plane on this machine left (node_sweep).
node_down() {
  local owner
  owner=$(cat "$NODE_RUN/owner" 2>/dev/null || true)
  [[ -n $owner && $owner != "$CLUSTER_DIR" ]] && node_owner_alive "$owner" && return 0
  stop_component kubelet
  if live_pid containerd >/dev/null && [[ -S $NODE_RUN/containerd.sock ]]; then
    local ids
    ids=$(ctr_k8s tasks ls -q 2>/dev/null || true)
    if [[ -n $ids ]]; then
      # shellcheck disable=SC2086
      ctr_k8s tasks kill -a -s SIGKILL $ids >/dev/null 2>&1 || true
      # shellcheck disable=SC2086
      ctr_k8s tasks rm -f $ids >/dev/null 2>&1 || true
    fi
    ids=$(ctr_k8s containers ls -q 2>/dev/null || true)
    # shellcheck disable=SC2086
    [[ -z $ids ]] || ctr_k8s containers rm $ids >/dev/null 2>&1 || true
  fi
  stop_component containerd
  node_sweep
  rm -f "$NODE_DIR/enabled"
}

# Pids of the processes running `binary`.
pids_of_exe() {
  local p exe
  for p in /proc/[0-9]*; do
    exe=$(readlink "$p/exe" 2>/dev/null) || continue
    if [[ ${exe% (deleted)} == "$1" ]]; then echo "${p#/proc/}"; fi
  done
  return 0
}

# Kills every process left in the node's cgroups and every shim of ours, then
# removes the node's mounts, bridge and cgroups and puts the sysctls back.
node_sweep() {
  local h procs i m
  # Container processes live in the node's cgroups; shims beside containerd.
  for ((i = 0; i < 50; i++)); do
    procs=$( (find "/sys/fs/cgroup/memory/$NODE_CGROUP" -name cgroup.procs -exec cat {} + 2>/dev/null
      pids_of_exe "$CONTAINERD_SHIM") | sort -u)
    [[ -z $procs ]] && break
    # shellcheck disable=SC2086
    kill -KILL $procs 2>/dev/null || true
    sleep 0.2
  done
  # Deepest first: overlays and volumes under the node's directories.
  for m in $(awk -v a="$NODE_DIR" -v b="$NODE_RUN" \
    'index($5, a "/") == 1 || index($5, b "/") == 1 {print $5}' /proc/self/mountinfo | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
  ip link show "$NODE_BRIDGE" >/dev/null 2>&1 && ip link delete "$NODE_BRIDGE" 2>/dev/null
  # Network namespaces the CNI made for sandboxes are bind mounts under /run/netns.
  for m in $(awk 'index($5, "/run/netns/cni-") == 1 {print $5}' /proc/self/mountinfo); do
    umount "$m" 2>/dev/null && rm -f "$m"
  done
  for h in /sys/fs/cgroup/*/; do
    [[ -d $h$NODE_CGROUP ]] || continue
    find "$h$NODE_CGROUP" -depth -type d -exec rmdir {} + 2>/dev/null || true
    [[ ! -d $h$NODE_CGROUP ]] || log "could not remove the cgroup $h$NODE_CGROUP"
  done
  node_restore_sysctls
  node_remove_host_paths
  rm -rf "$NODE_RUN"
}

# --- status -------------------------------------------------------------------------

node_status_line() {
  node_enabled || { echo "real node                not started (kwok only)"; return; }
  local ready runtime
  ready=$(kubectl_admin get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null || true)
  runtime=$(kubectl_admin get node "$NODE_NAME" -o jsonpath='{.status.nodeInfo.containerRuntimeVersion}' 2>/dev/null || true)
  echo "real node                $NODE_NAME Ready=${ready:-unknown} ${runtime} (label $NODE_LABEL=real, taint $NODE_TAINT)"
}
