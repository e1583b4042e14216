#!/usr/bin/env bash
# `make run`: the local control plane, weir's CRDs, the controller and the
# examples, with readable progress.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cluster="$WEIR_ROOT/hack/cluster.sh"

step() { printf '\n==> %s\n' "$*"; }

step "control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok) and the real node (kubelet, containerd, runc)"
"$cluster" up >/dev/null
eval "$("$cluster" env)"
"$KUBECTL" get nodes -L weir.dev/node
if [[ -z ${WEIR_CTR:-} ]]; then
  echo "note: this machine runs no real node (see 'no real node' above); the examples ask for"
  echo "      it (nodeSelector weir.dev/node=real), so their pods stay Pending here."
fi

step "CRDs and admission policy (crds/, deploy/ where the API server serves it)"
"$KUBECTL" apply -f "$WEIR_ROOT/crds/"
"$KUBECTL" wait --for=condition=Established crd --all --timeout=60s >/dev/null
policy=$(apply_admission_policy)
[[ -n $policy ]] || echo "note: no admission policy on Kubernetes $KUBERNETES_VERSION; weir-controller adds the finalizer weir.dev/cleanup on first reconcile (README \"Kubernetes versions\")"

step "weir-controller (logs: .cluster/logs/weir-controller.log)"
"$cluster" start-controller --batch-idle-timeout=5m
echo "ready: /readyz ok, metrics on http://127.0.0.1:18080/metrics"

step "examples (examples/)"
"$KUBECTL" apply -f "$WEIR_ROOT/examples/"
# Follow them until each Batch and JobFlow has finished (or 5 minutes pass),
# printing each phase change as it happens.
terminal='^(Succeeded|Failed|Killed|Canceled)$'
last=
for ((i = 0; i < 300; i++)); do
  phases=$("$KUBECTL" get batches.weir.dev,jobflows.weir.dev -o jsonpath='{range .items[*]}{.kind}/{.metadata.name}={.status.phase}{"\n"}{end}')
  comm -13 <(sort <<<"$last") <(sort <<<"$phases") | while IFS='=' read -r object phase; do
    [[ -n $object ]] && printf '  %s  %-22s %s\n' "$(date +%T)" "$object" "${phase:-(new)}"
  done
  last=$phases
  running=$(awk -F= -v t="$terminal" '$2 !~ t' <<<"$phases" | wc -l)
  ((running == 0)) && break
  sleep 1
done
"$KUBECTL" get weir
echo
echo "The OOM example's attempts (memory limit -> outcome):"
"$KUBECTL" get batches.weir.dev train -o jsonpath='{range .status.attempts[*]}  attempt {.attempt}: {.memoryLimit} -> {.phase} {.terminationReason} (exit {.exitCode}){"\n"}{end}'
echo "What hello printed (kubectl logs):"
"$KUBECTL" logs -l weir.dev/batch=hello --prefix | sed 's/^/  /'

echo "The diamond flow, as kubectl weir draws it:"
"$WEIR_ROOT/build/bin/kubectl-weir" get flow diamond | sed 's/^/  /' || true  # its Error: line shows

step "ready. To use it from your shell:"
"$cluster" env
echo "export PATH=\"$WEIR_ROOT/build/bin:\$PATH\"  # kubectl weir (build/bin/kubectl-weir)"
cat <<EOF

Try (wb, wjf, wjt: weir's Batches, JobFlows, JobTemplates; weir: all three):
  kubectl weir get flow diamond           # the DAG as a tree: phases, attempts, Jobs
  kubectl weir get batch train            # each attempt's memory limit and outcome
  kubectl weir watch flow diamond         # redraws until it ends
  kubectl get wb -w                       # Phase, Attempt, Reason, Age
  kubectl describe wb hello               # status, conditions, events
  kubectl get wjf diamond -o yaml         # each step's phase, attempts and Jobs
  kubectl explain wb.spec.retry           # the API, documented
  kubectl get jobs,pods -l weir.dev/managed-by=weir -o wide
  kubectl logs -l weir.dev/flow=diamond --prefix   # what each step printed
Beside Volcano, name weir's kinds in full: a bare "jobflow" may mean
jobflows.flow.volcano.sh; jobflows.weir.dev is weir's (see README).
The examples run as real processes on the real node 'localhost'; pods without
its nodeSelector and toleration run on kwok's simulated nodes and play out
their sim.weir.dev/outcome annotation (see README). Stop everything with:
hack/cluster.sh down
EOF
