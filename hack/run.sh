#!/usr/bin/env bash
# `make run`: brings up the local control plane and shows how to use it.
# Later steps (CRDs, the controller, examples) hook in here.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

step() { printf '\n==> %s\n' "$*"; }

step "control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok)"
"$WEIR_ROOT/hack/cluster.sh" up >/dev/null
eval "$("$WEIR_ROOT/hack/cluster.sh" env)"
"$KUBECTL" get nodes

step "ready. To use it from your shell:"
"$WEIR_ROOT/hack/cluster.sh" env
cat <<EOF

Try:
  kubectl get nodes
  kubectl create job demo --image=busybox -- true && kubectl get pods -w
Pods play out their sim.weir.dev/outcome annotation (see README).
Stop it with: hack/cluster.sh down
EOF
