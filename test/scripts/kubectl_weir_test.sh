#!/usr/bin/env bash
# kubectl weir (issue 15) against the local control plane, called as a user
# calls it: `kubectl weir ...`, kubectl finding build/bin/kubectl-weir on the
# PATH. A weir-controller watches a fresh namespace; kubectl is the witness.
#   1. `get flow` draws the tree of a finished diamond (compared line by line,
#      durations and Job hashes masked; the Job names checked against the
#      status kubectl reads), `-o json|yaml` is the object kubectl reads,
#      `-o dot` is a graph of its edges, `get flows`/`get batches` list them;
#   2. `wait` exits 0 on a flow and a Batch that succeed and 1 on a flow that
#      fails (printing the phase), 1 with "timed out" on --timeout;
#   3. `get batch` shows an OOM retry's attempts with their memory limits;
#   4. `cancel flow/NAME` ends a running flow Canceled; `cancel --step` ends
#      one step Canceled and skips its dependent while a sibling runs on;
#      `suspend`/`resume` set spec.suspend;
#   5. `logs` reaches the attempt's pod and main container: kwok's pods have
#      no kubelet behind them, so the API server's answer is an error; the
#      plugin must name that pod and container and report the same answer
#      kubectl logs gets (where a real kubelet answers, the logs must match);
#   6. not found, --kubeconfig (overriding $KUBECONFIG), --context (and its
#      namespace), an unknown context: clear errors, exit 1;
#   7. `watch` off a terminal prints each new rendering until the flow ends;
#      in a real terminal (a detached tmux session on a socket of its own) it
#      redraws in place from Running to Succeeded, in colour, and without
#      colour when NO_COLOR is set.
# Usage: kubectl_weir_test.sh [path/to/weir-controller [path/to/kubectl-weir]]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/test/scripts/controller_lib.sh"
# shellcheck source=../../hack/lib.sh
source "$root/hack/lib.sh"
fail() {
  echo "FAIL: $*" >&2
  if print_controller_log; then
    "$WEIR_KUBECTL" get batches.weir.dev,jobflows.weir.dev,jobs,pods -n "$ns" -o wide >&2 2>&1 || true
  fi
  exit 1
}
use_control_plane "${1:-}"
kubectl=$WEIR_KUBECTL
work=$(mktemp -d)
use_plugin "${2:-}"
export PATH="$work/bin:$PATH"
unset NO_COLOR
id=$$-$RANDOM
ns=weir-kw-$id
tmux_socket=weir-kw-$id
log=
pid=
cleanup() {
  local rc=$?
  tmux -L "$tmux_socket" kill-server 2>/dev/null || true
  rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$tmux_socket"   # kill-server leaves it
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  drop_weir_finalizers "$kubectl" "$ns"
  "$kubectl" delete namespace "$ns" --wait=false --ignore-not-found >/dev/null 2>&1 || true
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT

kw() { "$kubectl" weir "$@"; }   # the plugin, found by kubectl on the PATH
# run <command...>: its stdout in $out, its stderr in $err, its exit code in $rc.
run() {
  rc=0
  "$@" >"$work/out" 2>"$work/err" || rc=$?
  out=$(cat "$work/out")
  err=$(cat "$work/err")
}
expect_rc() {  # expect_rc <want> <what>
  [[ $rc == "$1" ]] || fail "$2: exit $rc, want $1
stdout: $out
stderr: $err"
}
jp() { "$kubectl" get "$1" "$2" -n "$ns" -o jsonpath="$3"; }

install_weir
"$kubectl" create namespace "$ns" >/dev/null
hport=$(free_port)
mport=$(free_port)
log=$work/controller.log
"$binary" --kubeconfig="$KUBECONFIG" --namespace="$ns" --batch-idle-timeout=1h \
  --health-bind-address="127.0.0.1:$hport" --metrics-bind-address="127.0.0.1:$mport" >"$log" 2>&1 &
pid=$!
wait_for 60 "/readyz" curl -sf "http://127.0.0.1:$hport/readyz"

# Templates: ok (2 s, exit 0), broken (exit 3), hang (runs until deleted), oomy (OOM-killed on
# attempt 1: the Batch's retry doubles its memory).
"$kubectl" apply -n "$ns" -f - >/dev/null <<'YAML' || fail "cannot create the objects"
apiVersion: weir.dev/v1alpha1
kind: JobTemplate
metadata: {name: ok}
spec:
  jobSpec:
    template:
      metadata:
        annotations: {sim.weir.dev/outcome: Succeeded, sim.weir.dev/duration: 2s}
      spec:
        containers:
        - {name: main, image: busybox:1.36, command: ["true"], resources: {limits: {memory: 64Mi}}}
        - {name: sidecar, image: busybox:1.36, command: ["true"]}
---
apiVersion: weir.dev/v1alpha1
kind: JobTemplate
metadata: {name: broken}
spec:
  jobSpec:
    template:
      metadata:
        annotations: {sim.weir.dev/outcome: Failed, sim.weir.dev/exit-code: "3", sim.weir.dev/duration: 1s}
      spec:
        containers:
        - {name: main, image: busybox:1.36, command: ["false"]}
---
apiVersion: weir.dev/v1alpha1
kind: JobTemplate
metadata: {name: hang}
spec:
  jobSpec:
    template:
      metadata:
        annotations: {sim.weir.dev/outcome: Hang}
      spec:
        containers:
        - {name: main, image: busybox:1.36, command: ["sleep", "3600"]}
---
apiVersion: weir.dev/v1alpha1
kind: JobFlow
metadata: {name: good}
spec:
  steps:
  - {name: extract, template: ok}
  - {name: transform-a, template: ok, dependsOn: [{step: extract}]}
  - {name: transform-b, template: ok, dependsOn: [{step: extract}]}
  - {name: load, template: ok, dependsOn: [{step: transform-a}, {step: transform-b}]}
  - {name: on-failure, template: ok, dependsOn: [{step: load, condition: Failed}]}
---
apiVersion: weir.dev/v1alpha1
kind: JobFlow
metadata: {name: bad}
spec:
  steps:
  - {name: compute, template: broken}
  - {name: publish, template: ok, dependsOn: [{step: compute}]}
  - {name: report, template: ok, dependsOn: [{step: compute, condition: Failed}]}
---
apiVersion: weir.dev/v1alpha1
kind: JobTemplate
metadata: {name: oomy}
spec:
  jobSpec:
    template:
      metadata:
        annotations: {sim.weir.dev/outcome-attempt-1: OOMKilled, sim.weir.dev/duration: 1s}
      spec:
        containers:
        - {name: main, image: busybox:1.36, command: ["true"], resources: {limits: {memory: 64Mi}}}
---
apiVersion: weir.dev/v1alpha1
kind: Batch
metadata: {name: train}
spec:
  template: oomy
  retry:
    limit: 1
    backoffSeconds: 0
    onOOM: {maxMemory: 256Mi}
---
apiVersion: weir.dev/v1alpha1
kind: JobFlow
metadata: {name: stop}
spec:
  steps:
  - {name: forever, template: hang}
---
apiVersion: weir.dev/v1alpha1
kind: JobFlow
metadata: {name: partial}
spec:
  steps:
  - {name: a, template: hang}
  - {name: b, template: hang}
  - {name: after-a, template: ok, dependsOn: [{step: a}]}
YAML

# --- 2. wait: 0 on Succeeded, 1 otherwise --------------------------------------------------------
run kw wait flow/good -n "$ns" --timeout 180s
expect_rc 0 "kubectl weir wait flow/good"
[[ $out == "jobflows.weir.dev/good Succeeded: all 5 steps done: 4 succeeded, 1 skipped" ]] ||
  fail "wait flow/good printed '$out'"
[[ $(jp jobflows.weir.dev good '{.status.phase}') == Succeeded ]] || fail "kubectl does not see good Succeeded"
run kw wait flow bad -n "$ns" --timeout=180s
expect_rc 1 "kubectl weir wait flow/bad"
[[ $out == "jobflows.weir.dev/bad Failed"* ]] || fail "wait flow/bad printed '$out'"
[[ $(jp jobflows.weir.dev bad '{.status.phase}') == Failed ]] || fail "kubectl does not see bad Failed"
run kw wait batch/train -n "$ns" --timeout 180s
expect_rc 0 "kubectl weir wait batch/train"
[[ $out == "batches.weir.dev/train Succeeded"* ]] || fail "wait batch/train printed '$out'"
echo "wait: 0 for a flow and a Batch that succeeded, 1 for a flow that failed ($out)"

# --- 1. get flow: the tree --------------------------------------------------------------------------
run kw get flow good -n "$ns"
expect_rc 0 "kubectl weir get flow good"
# Times masked: the Started/Finished/Duration lines go, the DURATION column reads <d>, a Job's
# hash reads <h>. What remains is exact.
mask() { sed -E '/^(Started|Finished|Duration):/d; s/ [0-9]+(s|m[0-9]*s?|h[0-9]*m?) +(good|bad)-/ <d>  \2-/; s/-[0-9a-f]{8}$/-<h>/'; }
got=$(mask <<<"$out")
want='JobFlow:    good
Namespace:  NS
Phase:      Succeeded
Steps:      5/5 done
Message:    all 5 steps done: 4 succeeded, 1 skipped

STEP                 PHASE      ATTEMPT  REASON     EXIT  DURATION  JOB
extract              Succeeded  1        Completed  0     <d>  good-extract-1-<h>
├─ transform-a       Succeeded  1        Completed  0     <d>  good-transform-a-1-<h>
│  │  needs extract Succeeded ✓
│  └─ load           Succeeded  1        Completed  0     <d>  good-load-1-<h>
│     │  needs transform-a Succeeded ✓, transform-b Succeeded ✓
│     └─ on-failure  Skipped    -        -          -     -         -
│           needs load Failed ✗
│           skipped: dependency load ended Succeeded, needs Failed
└─ transform-b       Succeeded  1        Completed  0     <d>  good-transform-b-1-<h>
      needs extract Succeeded ✓'
want=${want//NS/$ns}
[[ $got == "$want" ]] || fail "kubectl weir get flow good (masked) differs:
$(diff <(echo "$want") <(echo "$got"))
--- full output:
$out"
# The Job names it prints are the ones the status holds (kubectl's reading).
for step in extract transform-a transform-b load; do
  job=$("$kubectl" get jobflows.weir.dev good -n "$ns" -o json |
    python3 -c 'import json,sys; s=sys.argv[1]; print([x for x in json.load(sys.stdin)["status"]["steps"] if x["name"]==s][0]["attempts"][-1]["job"])' "$step")
  grep -Eq "(^|[ ─])$step .* $job\$" <<<"$out" || fail "step $step: the tree does not name its Job $job:
$out"
done
[[ $out != *$'\e'* ]] || fail "colour escapes in output that is not a terminal"
echo "get flow: the tree of a finished diamond matches (Jobs as kubectl reads them; no colour off a terminal)"

run kw get flow bad -n "$ns"
expect_rc 0 "kubectl weir get flow bad"
grep -Eq '^compute +Failed +1 +Error +3 ' <<<"$out" || fail "get flow bad: compute is not shown Failed with exit 3:
$out"
grep -Eq '^├─ publish +Skipped ' <<<"$out" || fail "get flow bad: publish is not shown Skipped:
$out"
grep -q 'needs compute Succeeded ✗' <<<"$out" || fail "get flow bad: publish's condition is not shown as failed:
$out"
grep -Eq '^│ +skipped: .+' <<<"$out" || fail "get flow bad: no reason for the skip:
$out"
grep -Eq '^└─ report +Succeeded ' <<<"$out" || fail "get flow bad: the Failed handler report did not run:
$out"

# -o json and -o yaml: the object kubectl reads (managedFields aside).
"$kubectl" get jobflows.weir.dev good -n "$ns" -o json >"$work/kubectl.json"
kw get flow good -n "$ns" -o json >"$work/weir.json" || fail "get -o json"
kw get flow/good -n "$ns" -o yaml >"$work/weir.yaml" || fail "get -o yaml"
python3 - "$work/kubectl.json" "$work/weir.json" "$work/weir.yaml" <<'PY' || fail "-o json/yaml differ from kubectl's object"
import json, sys, yaml
want = json.load(open(sys.argv[1])); want["metadata"].pop("managedFields", None)
got_json = json.load(open(sys.argv[2])); got_yaml = yaml.safe_load(open(sys.argv[3]))
for name, got in (("json", got_json), ("yaml", got_yaml)):
    if got != want:
        sys.exit("-o %s: %s\nkubectl: %s" % (name, json.dumps(got)[:800], json.dumps(want)[:800]))
PY
run kw get flow good -n "$ns" -o dot
expect_rc 0 "get -o dot"
edges=$(grep -- '->' <<<"$out" | sed -E 's/^ +//' | sort)
want_edges='"extract" -> "transform-a" [label="Succeeded"];
"extract" -> "transform-b" [label="Succeeded"];
"load" -> "on-failure" [label="Failed", style=dashed];
"transform-a" -> "load" [label="Succeeded"];
"transform-b" -> "load" [label="Succeeded"];'
[[ $edges == "$want_edges" ]] || fail "-o dot edges:
$edges"
if command -v dot >/dev/null; then dot -Tsvg <<<"$out" >/dev/null || fail "Graphviz refuses -o dot"; fi
run kw get flows -n "$ns"
expect_rc 0 "get flows"
grep -Eq '^good +Succeeded +5/5 ' <<<"$out" || fail "get flows:
$out"
grep -Eq '^bad +Failed +3/3 ' <<<"$out" || fail "get flows:
$out"
run kw get batches -A
expect_rc 0 "get batches -A"
grep -Eq "^$ns +train +Succeeded +2 +Completed +0 " <<<"$out" || fail "get batches -A:
$out"
echo "get: -o json and -o yaml are kubectl's object, -o dot has the 5 edges, lists for one and all namespaces"

# --- 3. get batch: attempts with memory ---------------------------------------------------------------
run kw get batch train -n "$ns"
expect_rc 0 "get batch train"
grep -Eq '^1 +Killed +OOMKilled +137 +64Mi +' <<<"$out" || fail "get batch: attempt 1 is not Killed OOMKilled 137 at 64Mi:
$out"
grep -Eq '^2 +Succeeded +Completed +0 +128Mi +' <<<"$out" || fail "get batch: attempt 2 is not Succeeded at 128Mi:
$out"
[[ $(jp batches.weir.dev train '{.status.attempts[*].memoryLimit}') == "64Mi 128Mi" ]] ||
  fail "kubectl reads other memory limits: $(jp batches.weir.dev train '{.status.attempts[*].memoryLimit}')"
echo "get batch: attempt 1 Killed OOMKilled at 64Mi, attempt 2 Succeeded at 128Mi"

# --- 4. cancel, cancel --step, suspend, resume ------------------------------------------------------
phase_is() { [[ $(jp "$1" "$2" "$3") == "$4" ]]; }
wait_for 120 "flow stop to run" phase_is jobflows.weir.dev stop '{.status.steps[0].phase}' Running
run kw cancel flow/stop -n "$ns"
expect_rc 0 "cancel flow/stop"
[[ $out == "jobflows.weir.dev/stop cancel requested" ]] || fail "cancel printed '$out'"
run kw wait flow/stop -n "$ns" --timeout 120s
expect_rc 1 "wait flow/stop after the cancel"
[[ $out == "jobflows.weir.dev/stop Canceled"* ]] || fail "wait after cancel printed '$out'"
phase_is jobflows.weir.dev stop '{.status.phase}' Canceled || fail "kubectl does not see stop Canceled"
phase_is jobflows.weir.dev stop '{.status.steps[0].phase}' Canceled || fail "stop's step is not Canceled"

wait_for 120 "flow partial to run" phase_is jobflows.weir.dev partial '{.status.steps[1].phase}' Running
run kw wait flow/partial -n "$ns" --timeout 2s
expect_rc 1 "wait --timeout on a running flow"
[[ $err == "Error: timed out after 2s waiting for jobflows.weir.dev/partial to finish; it is Running" ]] ||
  fail "wait --timeout said '$err'"
run kw cancel flow/partial --step a -n "$ns"
expect_rc 0 "cancel flow/partial --step a"
[[ $(jp jobflows.weir.dev partial '{.spec.steps[*].cancel}') == "true false false" ]] ||
  fail "the step's cancel is not spec.steps[0].cancel alone: $(jp jobflows.weir.dev partial '{.spec.steps}')"
wait_for 120 "step a to end Canceled" phase_is jobflows.weir.dev partial '{.status.steps[0].phase}' Canceled
wait_for 60 "step after-a to be Skipped" phase_is jobflows.weir.dev partial '{.status.steps[2].phase}' Skipped
phase_is jobflows.weir.dev partial '{.status.steps[1].phase}' Running || fail "step b stopped with a"
run kw cancel flow/partial --step nope -n "$ns"
expect_rc 1 "cancel of a step the flow lacks"
[[ $err == "Error: jobflows.weir.dev \"partial\" has no step \"nope\" (its steps: a, b, after-a)" ]] || fail "said '$err'"
run kw suspend flow/partial -n "$ns"
expect_rc 0 "suspend"
[[ $(jp jobflows.weir.dev partial '{.spec.suspend}') == true ]] || fail "suspend did not set spec.suspend"
run kw get flow partial -n "$ns"
grep -q '^Suspended:  yes' <<<"$out" || fail "get does not show the suspend:
$out"
run kw resume flow/partial -n "$ns"
expect_rc 0 "resume"
[[ $(jp jobflows.weir.dev partial '{.spec.suspend}') == false ]] || fail "resume did not clear spec.suspend"
echo "cancel: flow stop ended Canceled; --step a: a Canceled, after-a Skipped, b runs on; suspend/resume set spec.suspend; wait --timeout 2s: exit 1"

# --- 5. logs -------------------------------------------------------------------------------------------
job=$(jp jobflows.weir.dev good '{.status.steps[0].attempts[0].job}')
pod=$("$kubectl" get pods -n "$ns" -l "batch.kubernetes.io/job-name=$job" -o jsonpath='{.items[0].metadata.name}')
[[ -n $pod ]] || fail "no pod of Job $job"
krc=0
"$kubectl" logs -n "$ns" "$pod" -c main >"$work/klog" 2>"$work/kerr" || krc=$?
run kw logs flow/good extract -n "$ns"
if ((krc == 0)); then
  expect_rc 0 "logs flow/good extract"
  [[ $out == "$(cat "$work/klog")" ]] || fail "logs differ from kubectl logs"
  echo "logs: the same text as kubectl logs $pod -c main"
else
  # kwok: no kubelet serves the pod's log; the API server says so.
  expect_rc 1 "logs flow/good extract (kubectl logs failed too)"
  server=$(sed -E 's/^error: //; s/^Error from server( \([A-Za-z]+\))?: //' "$work/kerr" | head -1)
  [[ -n $server ]] || fail "kubectl logs said nothing"
  [[ $err == "Error: the log of container main of pod $pod (attempt 1 of step extract of jobflows.weir.dev/good): $server" ]] ||
    fail "logs: want the pod $pod, container main and the API server's answer '$server', got:
$err"
  echo "logs: kwok serves no logs; the plugin reached pod $pod, container main, and reports the API server's answer as kubectl does: $server"
fi
run kw logs batch/train --attempt 3 -n "$ns"
expect_rc 1 "logs of an attempt that does not exist"
[[ $err == "Error: batches.weir.dev/train has no attempt 3 (it has 2)" ]] || fail "said '$err'"

# On the real node kubelet serves the logs: a Batch whose attempt 1 fails after two lines and
# whose attempt 2 writes a line, sleeps, writes another; and a flow step. `logs --attempt 1`
# prints attempt 1's lines (the same as kubectl logs of that pod), `logs -f` started while
# attempt 2 runs follows it to its end, and `logs flow/NAME STEP` prints the step's.
[[ $("$kubectl" get nodes -l weir.dev/node=real -o name) == node/localhost ]] ||
  fail "the real node 'localhost' is not registered (hack/cluster.sh starts it where the machine allows; see docs/design.md §6)"
real_pod_spec='nodeSelector: {weir.dev/node: real}
        tolerations: [{key: weir.dev/node, operator: Equal, value: real, effect: NoSchedule}]
        containers:
        - name: main
          image: localhost/busybox:local
          imagePullPolicy: IfNotPresent
          env: [{name: WEIR_ATTEMPT, valueFrom: {fieldRef: {fieldPath: "metadata.labels['"'"'weir.dev/attempt'"'"']"}}}]'
"$kubectl" apply -n "$ns" -f - >/dev/null <<YAML || fail "apply of the real-node objects failed"
apiVersion: weir.dev/v1alpha1
kind: Batch
metadata: {name: echo}
spec:
  retry: {limit: 1, backoffSeconds: 0}
  jobSpec:
    template:
      spec:
        $real_pod_spec
          command: [sh, -c, 'echo "attempt \$WEIR_ATTEMPT begins"; if [ "\$WEIR_ATTEMPT" = 1 ]; then echo "attempt 1 fails"; exit 3; fi; sleep 4; echo "attempt \$WEIR_ATTEMPT ends"']
---
apiVersion: weir.dev/v1alpha1
kind: JobTemplate
metadata: {name: real-say}
spec:
  jobSpec:
    template:
      spec:
        $real_pod_spec
          command: [sh, -c, 'echo "step says hello"; echo "from attempt \$WEIR_ATTEMPT"']
---
apiVersion: weir.dev/v1alpha1
kind: JobFlow
metadata: {name: real}
spec:
  steps:
  - {name: say, template: real-say}
YAML
# The pod of attempt 2 of Batch echo, once it runs.
echo_uid=$(jp batches.weir.dev echo '{.metadata.uid}')
pod2=
for _ in $(seq 120); do
  pod2=$("$kubectl" get pods -n "$ns" -l "weir.dev/batch-uid=$echo_uid,weir.dev/attempt=2" \
    -o jsonpath='{.items[?(@.status.phase=="Running")].metadata.name}') || fail "listing echo's pods failed"
  [[ -n $pod2 ]] && break
  sleep 0.5
done
[[ -n $pod2 ]] || fail "attempt 2 of Batch echo never ran on the real node: $("$kubectl" get pods -n "$ns" -o wide 2>&1)"
frc=0
kw logs batch/echo -f -n "$ns" >"$work/follow" 2>"$work/follow.err" || frc=$?
((frc == 0)) || fail "logs -f batch/echo: exit $frc: $(cat "$work/follow.err")"
[[ $(cat "$work/follow") == $'attempt 2 begins\nattempt 2 ends' ]] ||
  fail "logs -f batch/echo printed '$(cat "$work/follow")', want attempt 2's two lines (it must follow to the end)"
run kw wait batch/echo -n "$ns" --timeout 120s
expect_rc 0 "wait batch/echo"
run kw logs batch/echo --attempt 1 -n "$ns"
expect_rc 0 "logs batch/echo --attempt 1"
[[ $out == $'attempt 1 begins\nattempt 1 fails' ]] || fail "logs --attempt 1 printed '$out'"
pod1=$("$kubectl" get pods -n "$ns" -l "weir.dev/batch-uid=$echo_uid,weir.dev/attempt=1" -o jsonpath='{.items[0].metadata.name}')
[[ $out == "$("$kubectl" logs -n "$ns" "$pod1" -c main)" ]] || fail "logs --attempt 1 differs from kubectl logs $pod1"
run kw wait flow/real -n "$ns" --timeout 120s
expect_rc 0 "wait flow/real"
run kw logs flow/real say -n "$ns"
expect_rc 0 "logs flow/real say"
[[ $out == $'step says hello\nfrom attempt 1' ]] || fail "logs flow/real say printed '$out'"
echo "logs on the real node: --attempt 1 and -f (followed attempt 2 to its end) of batch/echo and flow/real's step say print the containers' own lines"

# --- 6. errors, --kubeconfig, --context ---------------------------------------------------------------
run kw get flow nope -n "$ns"
expect_rc 1 "get flow nope"
[[ $err == 'Error: jobflows.weir.dev "nope" not found' && -z $out ]] || fail "not found said '$err'"
run kw get batch nope -n "$ns"
[[ $rc == 1 && $err == 'Error: batches.weir.dev "nope" not found' ]] || fail "not found said '$err'"
run kw get pods x
[[ $rc == 1 && $err == *'unknown kind "pods"'* ]] || fail "unknown kind: $rc '$err'"
# A kubeconfig whose current context points at a closed port, and a context "weir" into $ns.
kc=$work/kubeconfig
"$kubectl" config view --raw --minify --flatten >"$kc"
cluster=$("$kubectl" --kubeconfig "$kc" config view -o jsonpath='{.clusters[0].name}')
user=$("$kubectl" --kubeconfig "$kc" config view -o jsonpath='{.users[0].name}')
closed=$(free_port)
"$kubectl" --kubeconfig "$kc" config set-cluster closed --server="https://127.0.0.1:$closed" --insecure-skip-tls-verify=true >/dev/null
"$kubectl" --kubeconfig "$kc" config set-context closed --cluster=closed --user="$user" >/dev/null
"$kubectl" --kubeconfig "$kc" config set-context weir --cluster="$cluster" --user="$user" --namespace="$ns" >/dev/null
"$kubectl" --kubeconfig "$kc" config use-context closed >/dev/null
run env KUBECONFIG=/nonexistent "$kubectl" weir --kubeconfig "$kc" --context weir get flow good
expect_rc 0 "--kubeconfig with --context weir (its namespace)"
grep -q "^Namespace:  $ns\$" <<<"$out" || fail "--context weir did not take its namespace:
$out"
run env KUBECONFIG="$kc" "$kubectl" weir --context=weir get flow good
expect_rc 0 "\$KUBECONFIG with --context=weir"
run env KUBECONFIG="$kc" "$kubectl" weir get flow good -n "$ns"
expect_rc 1 "the current context (a closed port)"
[[ $err == Error:*"127.0.0.1:$closed"* || $err == Error:*"onnection"* ]] || fail "a closed port said '$err'"
run "$kubectl" weir --kubeconfig "$kc" --context nope get flow good
expect_rc 1 "--context nope"
[[ $err == Error:*nope* ]] || fail "an unknown context said '$err'"
echo "errors: not found as the API server words it; --kubeconfig over \$KUBECONFIG, --context and its namespace, a closed port and an unknown context fail with exit 1"

# --- 7. watch: off a terminal, then in tmux -----------------------------------------------------------
# A flow of two 3 s steps; watch starts while it is pending or running and exits when it ends.
new_flow() {
  "$kubectl" apply -n "$ns" -f - >/dev/null <<YAML
apiVersion: weir.dev/v1alpha1
kind: JobFlow
metadata: {name: $1}
spec:
  steps:
  - {name: first, template: slow}
  - {name: second, template: slow, dependsOn: [{step: first}]}
YAML
}
"$kubectl" apply -n "$ns" -f - >/dev/null <<'YAML'
apiVersion: weir.dev/v1alpha1
kind: JobTemplate
metadata: {name: slow}
spec:
  jobSpec:
    template:
      metadata:
        annotations: {sim.weir.dev/outcome: Succeeded, sim.weir.dev/duration: 3s}
      spec:
        containers:
        - {name: main, image: busybox:1.36, command: ["true"]}
YAML
new_flow piped
run timeout 120 "$kubectl" weir watch flow piped -n "$ns"
expect_rc 0 "watch flow piped"
renderings=$(grep -c '^JobFlow:    piped$' <<<"$out")
((renderings >= 3)) || fail "watch printed $renderings renderings, want one per change (>= 3):
$out"
grep -Eq '^Phase: +(Pending|Running)$' <<<"$(head -3 <<<"$out")" || fail "the first rendering is not Pending/Running:
$out"
[[ $(grep '^Phase:' <<<"$out" | tail -1) == "Phase:      Succeeded" ]] || fail "the last rendering is not Succeeded:
$out"
[[ $out != *$'\e'* ]] || fail "watch wrote escapes to a pipe"

tmux_watch() {  # tmux_watch <flow> <extra env>: runs watch in a detached session, keeps its pane
  tmux -L "$tmux_socket" new-session -d -s "$1" -x 150 -y 40 \
    "env $2 KUBECONFIG='$KUBECONFIG' PATH='$PATH' TERM=xterm-256color '$kubectl' weir watch flow $1 -n $ns; echo \"exit=\$?\"; sleep 600"
}
pane() { tmux -L "$tmux_socket" capture-pane -p -e -t "$1"; }
for variant in colour no-color; do
  flow=tty-$variant
  new_flow "$flow"
  if [[ $variant == colour ]]; then tmux_watch "$flow" ""; else tmux_watch "$flow" "NO_COLOR=1"; fi
  saw_running=0
  for _ in $(seq 240); do
    p=$(pane "$flow" | sed -E 's/\x1b\[[0-9;]*m//g')
    grep -Eq '^Phase: +Running' <<<"$p" && saw_running=1
    grep -q '^exit=' <<<"$p" && break
    sleep 0.5
  done
  p=$(pane "$flow")
  plain=$(sed -E 's/\x1b\[[0-9;]*m//g' <<<"$p")
  grep -q '^exit=0$' <<<"$plain" || fail "tmux ($variant): watch did not exit 0:
$plain"
  ((saw_running)) || fail "tmux ($variant): never saw the flow Running:
$plain"
  grep -Eq '^Phase: +Succeeded' <<<"$plain" || fail "tmux ($variant): the screen does not show Succeeded:
$plain"
  [[ $(grep -c '^JobFlow:' <<<"$plain") == 1 ]] || fail "tmux ($variant): the screen holds more than one rendering (no redraw in place):
$plain"
  if [[ $variant == colour ]]; then
    [[ $p == *$'\e['*m*Succeeded* ]] || fail "tmux: no colour on a terminal:
$(cat -v <<<"$p")"
  else
    [[ $p != *$'\e['* ]] || fail "tmux: colour with NO_COLOR=1:
$(cat -v <<<"$p")"
  fi
done
echo "watch: off a terminal $renderings renderings, Pending/Running to Succeeded; in tmux redrawn in place from Running to Succeeded, in colour, and without it under NO_COLOR"
echo "ok"
