#!/usr/bin/env bash
# Tests hack/cluster.sh itself: a second control plane in its own directory
# comes up beside the running one (its preferred ports are busy, so it picks
# others and says so), `up` again is a no-op, `status` reports it, and `down`
# stops exactly its own processes and leaves the other control plane running.
# `up` of another Kubernetes release over a running one is refused.
# The machine's one real node stays the main control plane's: the second says
# so and goes on with kwok only, and its down leaves that node alone.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cluster="$root/hack/cluster.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }

"$cluster" status >/dev/null || fail "the main control plane must be running (make e2e starts it)"
main_pids=$(cat "${WEIR_CLUSTER_DIR:-$root/.cluster}"/pids/*.pid | sort)

export WEIR_CLUSTER_DIR
WEIR_CLUSTER_DIR=$(mktemp -d /tmp/weir-cluster-test.XXXXXX)
trap '"$cluster" down >/dev/null 2>&1 || true; rm -rf "$WEIR_CLUSTER_DIR"' EXIT

out=$("$cluster" up 2>&1) || {
  echo "$out"
  tail -n 40 "$WEIR_CLUSTER_DIR"/logs/*.log 2>/dev/null || true
  fail "second up failed"
}
grep -q "is in use; using" <<<"$out" || fail "busy ports were not reported: $out"
grep -q "^export KUBECONFIG=$WEIR_CLUSTER_DIR/admin.kubeconfig" <<<"$out" || fail "no KUBECONFIG export: $out"
grep -q "no real node: the real node of this machine belongs to the control plane in" <<<"$out" ||
  fail "the second control plane did not say why it has no real node: $out"
ours=$(cat "$WEIR_CLUSTER_DIR"/pids/*.pid | sort)
[[ $(wc -l <<<"$ours") -eq 5 ]] || fail "expected 5 components, got: $ours"
[[ -z $(comm -12 <(echo "$ours") <(echo "$main_pids")) ]] || fail "shares processes with the main control plane"
for f in etcd kube-apiserver kube-controller-manager kube-scheduler kwok; do
  [[ -s $WEIR_CLUSTER_DIR/logs/$f.log ]] || fail "no log for $f"
done

again=$("$cluster" up 2>&1) || fail "idempotent up failed: $again"
grep -q "already running" <<<"$again" || fail "second up was not a no-op: $again"
[[ $(cat "$WEIR_CLUSTER_DIR"/pids/*.pid | sort) == "$ours" ]] || fail "up restarted components"

# Another release of the matrix over the running one is refused, naming both, and
# starts nothing; other commands act on the running release whatever is asked.
running=$(<"$WEIR_CLUSTER_DIR/kubernetes-version")
other=$(source "$root/hack/matrix.env"; for v in $KUBERNETES_MATRIX; do [[ $v == "$running" ]] || { echo "$v"; break; }; done)
if out=$(KUBERNETES_VERSION=$other "$cluster" up 2>&1); then fail "up of $other over a running $running succeeded: $out"; fi
grep -q "runs Kubernetes $running, not $other: take it down first" <<<"$out" || fail "unclear refusal of $other over $running: $out"
[[ $(cat "$WEIR_CLUSTER_DIR"/pids/*.pid | sort) == "$ours" ]] || fail "a refused up changed the components"
KUBERNETES_VERSION=$other "$cluster" status >/dev/null || fail "status under KUBERNETES_VERSION=$other does not see the running $running"

"$cluster" status >/dev/null || fail "status says not running"
eval "$("$cluster" env)"
"$WEIR_KUBECTL" get nodes >/dev/null || fail "kubectl cannot reach the second control plane"

"$cluster" down >/dev/null 2>&1
for pid in $ours; do
  [[ ! -d /proc/$pid ]] || fail "pid $pid still runs after down"
done
! "$cluster" status >/dev/null 2>&1 || fail "status says running after down"
for pid in $main_pids; do
  [[ -d /proc/$pid ]] || fail "down stopped pid $pid of the main control plane"
done
echo "cluster.sh: second control plane up on other ports, idempotent, status, exact down: ok"
