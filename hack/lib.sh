# Shared helpers for hack/ scripts. Source it; it defines no side effects
# beyond variables and functions.

WEIR_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=versions.env
source "$WEIR_ROOT/hack/versions.env"

# Built upstream binaries live outside the checkout so fresh clones reuse them.
WEIR_CACHE_DIR=${WEIR_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/weir}

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

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
KUBE_APISERVER="$(k8s_bin_dir)/kube-apiserver"
KUBE_CONTROLLER_MANAGER="$(k8s_bin_dir)/kube-controller-manager"
KUBE_SCHEDULER="$(k8s_bin_dir)/kube-scheduler"
KUBECTL="$(k8s_bin_dir)/kubectl"
ETCD="$(etcd_bin_dir)/etcd"
KWOK="$(kwok_bin_dir)/kwok"
HELM="$(helm_bin_dir)/helm"
KUBELET="$(kubelet_bin_dir)/kubelet"
CONTAINERD="$(containerd_bin_dir)/containerd"
CONTAINERD_SHIM="$(containerd_bin_dir)/containerd-shim-runc-v2"
CTR="$(containerd_bin_dir)/ctr"
RUNC="$(runc_bin_dir)/runc"
# Present once every image tarball is built.
NODE_IMAGES="$(images_dir)/done"

# Applies weir's CRDs and admission policies (crds/, deploy/) as a user
# installs them, with KUBECONFIG set, and waits until they are in effect.
install_weir() {
  local probe finalizers i
  "$KUBECTL" apply -f "$WEIR_ROOT/crds/" -f "$WEIR_ROOT/deploy/" >/dev/null
  "$KUBECTL" wait --for=condition=Established crd --all --timeout=60s >/dev/null
  # Callers start at once: wait until discovery serves the kinds and the API
  # server applies the admission policy (a server-side dry run shows its finalizer).
  probe='{"apiVersion":"weir.dev/v1alpha1","kind":"Batch","metadata":{"name":"probe","namespace":"default"},
    "spec":{"jobSpec":{"template":{"spec":{"containers":[{"name":"main","image":"busybox"}]}}}}}'
  for ((i = 0; i < 150; i++)); do
    finalizers=$("$KUBECTL" create --dry-run=server -f - -o jsonpath='{.metadata.finalizers}' \
      <<<"$probe" 2>/dev/null || true)
    [[ $finalizers == *weir.dev/cleanup* ]] && break
    sleep 0.2
  done
  [[ $finalizers == *weir.dev/cleanup* ]] || die "weir's CRDs or admission policy are not in effect"
}
