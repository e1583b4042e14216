#!/usr/bin/env bash
# Proves the chart's RBAC is enough: installs charts/weir in namespaced mode
# with 2 replicas (so with the leader-election Role), then runs
# build/bin/weir-controller OUTSIDE the cluster with a kubeconfig that holds
# only a token of the chart's ServiceAccount (kubectl create token), watching
# the namespace the chart grants. The controller must sync its caches
# (/readyz), take the Lease, run a Batch with an inline Job and one from a
# JobTemplate to Succeeded, run a JobFlow of two steps from that template to
# Succeeded, release their Jobs after the idle timeout, remove its finalizers
# on delete, record Events, and never be refused (403) by the API server; its
# start-up check of the API server names its release and what serves the
# admission policy, and finds nothing missing; its
# /metrics serves exactly the metrics README.md documents. It runs with the
# installed Deployment's own args (its bind addresses aside). The
# Deployment's pods land on kwok nodes and do nothing.
# Usage: chart_controller_test.sh [path/to/weir-controller]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/test/scripts/controller_lib.sh"
fail() {
  echo "FAIL: $*" >&2
  if print_controller_log; then
    echo "--- Batches, Jobs and pods in $wns" >&2
    "$kubectl" get batches.weir.dev,jobflows.weir.dev,jobs,pods -n "$wns" -o wide >&2 2>&1 || true
    "$kubectl" get batches.weir.dev,jobflows.weir.dev -n "$wns" -o jsonpath='{range .items[*]}{.metadata.name}: {.status}{"\n"}{end}' >&2 || true
  fi
  exit 1
}
use_control_plane "${1:-}"
helm=$WEIR_HELM
kubectl=$WEIR_KUBECTL

id=$$-$RANDOM
ns=weir-cct-$id            # release namespace (Lease)
wns=weir-cct-w-$id         # watched namespace
release=wcc-$id
fullname=$release-weir
work=$(mktemp -d)
log=
pid=
cleanup() {
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  "$kubectl" delete batches.weir.dev,jobflows.weir.dev --all -n "$wns" --wait=false >/dev/null 2>&1 || true
  "$helm" uninstall "$release" -n "$ns" --timeout 60s >/dev/null 2>&1 || true
  # Anything left with our finalizers (the controller is gone) must not block the namespace.
  drop_weir_finalizers "$kubectl" "$wns"
  "$kubectl" delete namespace "$ns" "$wns" --wait=false --ignore-not-found >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

"$kubectl" create namespace "$ns" >/dev/null
"$kubectl" create namespace "$wns" >/dev/null
"$helm" install "$release" "$root/charts/weir" -n "$ns" --set watchNamespace="$wns" --set replicas=2 \
  --set controller.batchIdleTimeout=2s --set controller.workers=2 --set controller.logLevel=debug \
  >/dev/null || fail "helm install"
# The controller runs with the installed Deployment's own arguments, but its
# own bind addresses (free local ports) and the kubeconfig below.
mapfile -t chart_args < <("$helm" get manifest "$release" -n "$ns" | python3 -c '
import sys, yaml
d = next(d for d in yaml.safe_load_all(sys.stdin) if d and d["kind"] == "Deployment")
for a in d["spec"]["template"]["spec"]["containers"][0]["args"]:
  if not a.startswith(("--metrics-bind-address=", "--health-bind-address=")): print(a)')
grep -qx -- "--namespace=$wns" < <(printf '%s\n' "${chart_args[@]}") || fail "the Deployment does not watch $wns: ${chart_args[*]}"
grep -qx -- "--leader-elect=true" < <(printf '%s\n' "${chart_args[@]}") || fail "2 replicas without --leader-elect=true: ${chart_args[*]}"

# --- a kubeconfig with nothing but the ServiceAccount's token --------------------------
token=$("$kubectl" create token "$fullname" -n "$ns" --duration=1h) || fail "kubectl create token"
server=$("$kubectl" config view --raw --minify -o jsonpath='{.clusters[0].cluster.server}')
ca_data=$("$kubectl" config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
if [[ -z $ca_data ]]; then
  ca_file=$("$kubectl" config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority}')
  [[ -f $ca_file ]] || fail "no CA in the admin kubeconfig"
  ca_data=$(base64 -w0 <"$ca_file")
fi
kc=$work/sa.kubeconfig
cat >"$kc" <<KC
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster: {server: "$server", certificate-authority-data: "$ca_data"}
users:
- name: weir
  user: {token: "$token"}
contexts:
- name: weir
  context: {cluster: local, user: weir, namespace: "$wns"}
current-context: weir
KC
whoami=$(env -u KUBECONFIG "$kubectl" --kubeconfig="$kc" auth whoami -o jsonpath='{.status.userInfo.username}' 2>&1) ||
  fail "the token kubeconfig does not authenticate: $whoami"
[[ $whoami == "system:serviceaccount:$ns:$fullname" ]] || fail "the token is $whoami, not the chart's ServiceAccount"

# --- the controller, outside the cluster, as that ServiceAccount ---------------------------
hport=$(free_port)
mport=$(free_port)
log=$work/controller.log
env -u KUBECONFIG HOME="$work" "$binary" "${chart_args[@]}" --kubeconfig="$kc" \
  --health-bind-address="127.0.0.1:$hport" --metrics-bind-address="127.0.0.1:$mport" >"$log" 2>&1 &
pid=$!

# Ready = Batches, JobTemplates, Jobs and Pods listed and watched in $wns.
wait_for 60 "/readyz (caches synced with the ServiceAccount's rights)" curl -sf "http://127.0.0.1:$hport/readyz"
holder() { [[ -n $("$kubectl" get lease weir-controller -n "$ns" -o jsonpath='{.spec.holderIdentity}' 2>/dev/null) ]]; }
wait_for 60 "the leader Lease in $ns" holder
# At start it checked the API server (release, APIs, admission policy API) with the
# ServiceAccount's rights and found nothing missing; one line says what it found.
checked=$(grep 'API server checked' "$log") || fail "no 'API server checked' line in the controller's log (or it found something missing)"
server_version=$("$kubectl" version -o json | python3 -c 'import json, sys; print(json.load(sys.stdin)["serverVersion"]["gitVersion"])')
served=$(WEIR_ROOT=$root bash -c 'source "$WEIR_ROOT/hack/lib.sh"; KUBECTL=$0; admission_policy_api' "$kubectl")
[[ $checked == *"$server_version"* ]] || fail "the start-up check names another release than $server_version: $checked"
if [[ -n $served ]]; then
  [[ $checked == *"MutatingAdmissionPolicy served at $served"* ]] || fail "the start-up check does not name $served: $checked"
else
  [[ $checked == *"weir.dev/cleanup is added on each object's first reconcile"* ]] ||
    fail "the start-up check does not say the policy API is missing: $checked"
fi

# --- Batches ---------------------------------------------------------------------------------
"$kubectl" apply -n "$wns" -f - >/dev/null <<'YAML' || fail "cannot create the test objects"
apiVersion: weir.dev/v1alpha1
kind: JobTemplate
metadata: {name: tpl}
spec:
  jobSpec:
    template:
      metadata:
        annotations: {sim.weir.dev/outcome: Succeeded, sim.weir.dev/duration: 1s}
      spec:
        containers:
        - {name: main, image: busybox:1.36, resources: {limits: {memory: 64Mi}}}
---
apiVersion: weir.dev/v1alpha1
kind: Batch
metadata: {name: inline}
spec:
  jobSpec:
    template:
      metadata:
        annotations: {sim.weir.dev/outcome: Succeeded, sim.weir.dev/duration: 1s}
      spec:
        containers:
        - {name: main, image: busybox:1.36, resources: {limits: {memory: 64Mi}}}
---
apiVersion: weir.dev/v1alpha1
kind: Batch
metadata: {name: from-template}
spec:
  template: tpl
---
apiVersion: weir.dev/v1alpha1
kind: Batch
metadata: {name: fails}
spec:
  jobSpec:
    template:
      metadata:
        annotations: {sim.weir.dev/outcome: Failed, sim.weir.dev/duration: 1s}
      spec:
        containers:
        - {name: main, image: busybox:1.36, resources: {limits: {memory: 64Mi}}}
---
apiVersion: weir.dev/v1alpha1
kind: JobFlow
metadata: {name: flow-fails}
spec:
  steps:
  - name: only
    template: tpl
    patch:
      template:
        metadata:
          annotations: {sim.weir.dev/outcome: Failed}
---
apiVersion: weir.dev/v1alpha1
kind: JobFlow
metadata: {name: flow}
spec:
  steps:
  - {name: first, template: tpl}
  - name: second
    template: tpl
    dependsOn: [{step: first}]
YAML
phase_is() { [[ $("$kubectl" get "$1" "$2" -n "$wns" -o jsonpath='{.status.phase}') == "$3" ]]; }
wait_for 240 "Batch inline to reach Succeeded" phase_is batch.weir.dev inline Succeeded
wait_for 240 "Batch from-template to reach Succeeded" phase_is batch.weir.dev from-template Succeeded
wait_for 240 "JobFlow flow to reach Succeeded" phase_is jobflow.weir.dev flow Succeeded
released() { [[ -n $("$kubectl" get batch.weir.dev inline -n "$wns" -o jsonpath='{.status.resourcesReleasedTime}') ]]; }
# The release waits for the garbage collector to remove the pods: slow on a busy control plane.
wait_for 240 "Batch inline to release its Job (idle timeout 2s)" released
no_jobs() { [[ -z $("$kubectl" get jobs -n "$wns" -l weir.dev/batch=inline -o name) ]]; }
wait_for 60 "the inline Batch's Job to be deleted" no_jobs
# Events tell what went wrong (a success is told by the status alone): the
# failing Batch and JobFlow get Warnings, written with the chart's rights.
wait_for 240 "Batch fails to reach Failed" phase_is batch.weir.dev fails Failed
wait_for 240 "JobFlow flow-fails to reach Failed" phase_is jobflow.weir.dev flow-fails Failed
warnings() { [[ $("$kubectl" get events -n "$wns" --field-selector "involvedObject.kind=$1,involvedObject.name=$2,type=Warning" -o name | wc -l) -gt 0 ]]; }
wait_for 60 "a Warning Event for the failed Batch" warnings Batch fails
wait_for 60 "a Warning Event for the failed JobFlow" warnings JobFlow flow-fails
"$kubectl" delete batch.weir.dev from-template -n "$wns" --wait=false >/dev/null
flow_released() { [[ -z $("$kubectl" get jobs -n "$wns" -l weir.dev/flow=flow -o name) ]]; }
wait_for 240 "JobFlow flow to release its Jobs (idle timeout 2s)" flow_released
"$kubectl" delete jobflow.weir.dev flow -n "$wns" --wait=false >/dev/null
gone() { ! "$kubectl" get "$1" "$2" -n "$wns" >/dev/null 2>&1; }
wait_for 240 "the deleted Batch to go (finalizer removed after its children)" gone batch.weir.dev from-template
wait_for 240 "the deleted JobFlow to go (finalizer removed)" gone jobflow.weir.dev flow

# --- never refused, and it was this process that did the work --------------------------------
if grep -Eiq 'forbidden|permission_denied|PermissionDenied|HTTP 403' "$log"; then
  fail "the API server refused the controller: $(grep -Ei 'forbidden|permission_denied|PermissionDenied|HTTP 403' "$log" | head -5)"
fi
metrics=$(curl -sf "http://127.0.0.1:$mport/metrics") || fail "no /metrics"
transitions=$(awk '/^weir_batch_phase_transitions_total/ {s += $NF} END {print s + 0}' <<<"$metrics")
[[ $transitions -gt 0 ]] || fail "this controller wrote no phase transition (another controller did the work?)"
flow_transitions=$(awk '/^weir_jobflow_phase_transitions_total/ {s += $NF} END {print s + 0}' <<<"$metrics")
[[ $flow_transitions -gt 0 ]] || fail "this controller wrote no JobFlow phase transition"
# README.md's Metrics table lists exactly the families served (weir_leader
# included: leader election is on).
served=$(sed -n 's/^# TYPE \([a-z_]*\) .*/\1/p' <<<"$metrics" | sort -u)
documented=$(sed -n '/^## Metrics$/,/^## [^M]/p' "$root/README.md" | grep '^| `' | cut -d'|' -f2 |
  grep -o '`[a-z_]*`' | tr -d '`' | sort -u)
[[ -n $served && $served == "$documented" ]] ||
  fail "README.md's Metrics table (<) and /metrics (>) differ: $(diff <(echo "$documented") <(echo "$served"))"
kill -TERM "$pid"
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
! kill -0 "$pid" 2>/dev/null || fail "the controller did not stop on SIGTERM"
# Its exit status is not this test's business (RBAC): with --leader-elect,
# The manager's on_stopped_leading exits 1 even for the release on SIGTERM.
wait "$pid" || true
pid=
echo "chart RBAC is enough: controller as the chart's ServiceAccount (namespaced, leader election) synced, led, ran 2 Batches ($transitions transitions) and a JobFlow ($flow_transitions) to Succeeded, released Jobs, removed finalizers, recorded Events, never refused: ok"
