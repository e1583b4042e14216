# Helpers for test scripts that run weir-controller themselves. Source it
# after defining fail(); set `pid` to the controller's pid before wait_for.

# A free TCP port on 127.0.0.1.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Waits up to <seconds> for <command...> to succeed; fails if the controller
# ($pid) exits meanwhile.
wait_for() {  # wait_for <seconds> <what> <command...>
  local secs=$1 what=$2; shift 2
  for _ in $(seq $((secs * 2))); do
    "$@" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || fail "the controller exited while waiting for $what"
    sleep 0.5
  done
  fail "timed out after ${secs}s waiting for $what"
}

# Prints the tail of the controller's log ($log); false if there is none yet.
print_controller_log() {
  [[ -n ${log:-} && -f $log ]] || return 1
  echo "--- controller log (tail)" >&2
  tail -20 "$log" >&2
}

# Sets `binary` (the weir-controller to run: $1, or the build's) and the
# running control plane's environment (KUBECONFIG, WEIR_KUBECTL, ...).
# REQUIRES: root (the checkout) and fail().
use_control_plane() {
  binary=${1:-$root/build/bin/weir-controller}
  [[ -x $binary ]] || fail "$binary is not built; run 'make build'"
  "$root/hack/cluster.sh" status >/dev/null 2>&1 || fail "the control plane must be running (make e2e starts it)"
  eval "$("$root/hack/cluster.sh" env)"
}

# Puts kubectl-weir ($1, or the build's) in $work/bin, where kubectl finds it
# once that is on the PATH, as a user installs a plugin. Sets `plugin`.
# REQUIRES: root, work (a directory) and fail().
use_plugin() {
  plugin=$(realpath "${1:-$root/build/bin/kubectl-weir}")
  [[ -x $plugin ]] || fail "$plugin is not built; run 'make build'"
  mkdir -p "$work/bin"
  ln -s "$plugin" "$work/bin/kubectl-weir"
}

# Without a controller, weir's finalizers would keep what is left in namespace
# $2 (Batches, JobFlows, and pods with weir.dev/final-state) for ever: drops
# them. $1: the kubectl to use.
drop_weir_finalizers() {
  local kubectl=$1 ns=$2 o
  for o in $("$kubectl" get batches.weir.dev,jobflows.weir.dev -n "$ns" -o name 2>/dev/null); do
    "$kubectl" patch "$o" -n "$ns" --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null 2>&1 || true
  done
  "$kubectl" get pods -n "$ns" -l weir.dev/managed-by=weir -o json 2>/dev/null |
    "$kubectl" patch -f - --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null 2>&1 || true
}
