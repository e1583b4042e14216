# Shared helpers for hack/ scripts. Source it; it defines no side effects
# beyond variables and functions.

WEIR_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# KUBERNETES_VERSION from the environment picks another release of the
# matrix (hack/matrix.env) instead of the pinned one; see select_kubernetes.
weir_kubernetes_override=${KUBERNETES_VERSION:-}
# shellcheck source=versions.env
source "$WEIR_ROOT/hack/versions.env"
# shellcheck source=matrix.env
source "$WEIR_ROOT/hack/matrix.env"

# Built upstream binaries live outside the checkout so fresh clones reuse them.
WEIR_CACHE_DIR=${WEIR_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/weir}

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Switches to Kubernetes release $1 (v1.MINOR.PATCH): its staging modules are
# v0.MINOR.PATCH. Only minors of KUBERNETES_MATRIX are accepted, so a typo
# does not start a cold build of something nobody tests. Everything else
# (etcd, kwok, helm) stays as pinned: hack/matrix.env says why that is right.
select_kubernetes() {
  local v=$1 minor m ok=0
  [[ $v =~ ^v1\.([0-9]+)\.([0-9]+)$ ]] ||
    die "KUBERNETES_VERSION=$v: want v1.MINOR.PATCH (one of the matrix: $KUBERNETES_MATRIX, or another patch of their minors)"
  minor=${BASH_REMATCH[1]}
  for m in $KUBERNETES_MATRIX; do [[ $m == v1.$minor.* ]] && ok=1; done
  ((ok)) || die "KUBERNETES_VERSION=$v: weir supports and tests the minors of $KUBERNETES_MATRIX (hack/matrix.env)"
  KUBERNETES_VERSION=$v
  KUBERNETES_STAGING_VERSION=v0.$minor.${BASH_REMATCH[2]}
  # Defined further down; absent only while this file is being sourced.
  if declare -F set_kubernetes_paths >/dev/null; then set_kubernetes_paths; fi
}
if [[ -n $weir_kubernetes_override && $weir_kubernetes_override != "$KUBERNETES_VERSION" ]]; then
  select_kubernetes "$weir_kubernetes_override"
fi
unset weir_kubernetes_override

# Directories holding each pinned tool; keyed by version and recipe.
k8s_bin_dir()  { echo "$WEIR_CACHE_DIR/kubernetes-$KUBERNETES_VERSION-r$TOOLS_RECIPE"; }
etcd_bin_dir() { echo "$WEIR_CACHE_DIR/etcd-$ETCD_VERSION-r$TOOLS_RECIPE"; }
kwok_bin_dir() { echo "$WEIR_CACHE_DIR/kwok-$KWOK_VERSION-r$TOOLS_RECIPE"; }
helm_bin_dir() { echo "$WEIR_CACHE_DIR/helm-$HELM_VERSION-r$TOOLS_RECIPE"; }
kubelet_bin_dir() { echo "$WEIR_CACHE_DIR/kubelet-$KUBERNETES_VERSION-r$TOOLS_RECIPE"; }
containerd_bin_dir() { echo "$WEIR_CACHE_DIR/containerd-$CONTAINERD_VERSION-r$TOOLS_RECIPE"; }
runc_bin_dir() { echo "$WEIR_CACHE_DIR/runc-$RUNC_VERSION-r$TOOLS_RECIPE"; }
# Other systems' CRD files (hack/peer-crds.sh): keyed by version.
volcano_crds_dir() { echo "$WEIR_CACHE_DIR/volcano-crds-$VOLCANO_VERSION"; }
argo_crds_dir() { echo "$WEIR_CACHE_DIR/argo-workflows-crds-$ARGO_WORKFLOWS_VERSION"; }
# The node's images (hack/images.sh): keyed by its recipe.
images_dir() { echo "$WEIR_CACHE_DIR/images-r$IMAGES_RECIPE"; }

# Paths of the pinned binaries (they may not be built yet).
set_kubernetes_paths() {
  KUBE_APISERVER="$(k8s_bin_dir)/kube-apiserver"
  KUBE_CONTROLLER_MANAGER="$(k8s_bin_dir)/kube-controller-manager"
  KUBE_SCHEDULER="$(k8s_bin_dir)/kube-scheduler"
  KUBECTL="$(k8s_bin_dir)/kubectl"
  KUBELET="$(kubelet_bin_dir)/kubelet"
}
set_kubernetes_paths
ETCD="$(etcd_bin_dir)/etcd"
KWOK="$(kwok_bin_dir)/kwok"
HELM="$(helm_bin_dir)/helm"
CONTAINERD="$(containerd_bin_dir)/containerd"
CONTAINERD_SHIM="$(containerd_bin_dir)/containerd-shim-runc-v2"
CTR="$(containerd_bin_dir)/ctr"
RUNC="$(runc_bin_dir)/runc"
# Present once every image tarball is built.
NODE_IMAGES="$(images_dir)/done"

# The apiVersion at which the API server (KUBECONFIG) serves
# MutatingAdmissionPolicy: admissionregistration.k8s.io/v1 (GA in 1.36), else
# v1beta1 where the server enables it, else nothing. The chart decides the
# same way (charts/weir/templates/_helpers.tpl).
admission_policy_api() {
  local v
  for v in v1 v1beta1; do
    if "$KUBECTL" get --raw "/apis/admissionregistration.k8s.io/$v" 2>/dev/null |
      grep -q '"name":"mutatingadmissionpolicies"'; then
      echo "admissionregistration.k8s.io/$v"
      return
    fi
  done
}

# Applies deploy/ (weir's admission policy) as the API server serves it: as
# written (v1), at v1beta1 (the same fields), or not at all, saying so.
# Prints the apiVersion applied, or nothing.
apply_admission_policy() {
  local api
  api=$(admission_policy_api)
  case $api in
    admissionregistration.k8s.io/v1)
      "$KUBECTL" apply -f "$WEIR_ROOT/deploy/" >&2 ;;
    admissionregistration.k8s.io/v1beta1)
      log "this API server serves MutatingAdmissionPolicy at v1beta1 only: applying deploy/ at v1beta1"
      sed 's|^apiVersion: admissionregistration.k8s.io/v1$|apiVersion: admissionregistration.k8s.io/v1beta1|' \
        "$WEIR_ROOT/deploy/admission.yaml" | "$KUBECTL" apply -f - >&2 ;;
    *)
      log "this API server ($("$KUBECTL" version -o json 2>/dev/null | sed -n 's/.*"gitVersion": "\(v1[^"]*\)".*/\1/p' | tail -n1)) serves no MutatingAdmissionPolicy API: deploy/ not applied; weir adds the finalizer weir.dev/cleanup on each object's first reconcile instead" ;;
  esac
  echo "$api"
}

# Applies weir's CRDs and admission policy (crds/, deploy/ where the server
# serves it) as a user installs them, with KUBECONFIG set, and waits until
# they are in effect.
install_weir() {
  local probe out policy i
  "$KUBECTL" apply -f "$WEIR_ROOT/crds/" >/dev/null
  "$KUBECTL" wait --for=condition=Established crd --all --timeout=60s >/dev/null
  policy=$(apply_admission_policy 2>/dev/null)
  # Callers start at once: wait until discovery serves the kinds and the API
  # server applies the admission policy (a server-side dry run shows its
  # finalizer), or only the former where there is no policy.
  probe='{"apiVersion":"weir.dev/v1alpha1","kind":"Batch","metadata":{"name":"probe","namespace":"default"},
    "spec":{"jobSpec":{"template":{"spec":{"containers":[{"name":"main","image":"busybox"}]}}}}}'
  # The API server creates a custom resource's storage and watch cache on its
  # first request; a watch from a resourceVersion older than the cache's
  # start is refused (410), so tests that list one resource and watch
  # another from that version need every cache started first.
  for ((i = 0; i < 150; i++)); do
    if out=$("$KUBECTL" create --dry-run=server -f - -o jsonpath='{.metadata.finalizers}' <<<"$probe" 2>/dev/null); then
      if [[ -z $policy || $out == *weir.dev/cleanup* ]]; then
        "$KUBECTL" get batches.weir.dev,jobflows.weir.dev,jobtemplates.weir.dev -A >/dev/null
        return 0
      fi
    fi
    sleep 0.2
  done
  die "weir's CRDs${policy:+ or admission policy ($policy)} are not in effect"
}
