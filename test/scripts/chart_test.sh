#!/usr/bin/env bash
# Tests charts/weir on the running control plane:
# - helm lint (default and non-default values);
# - the values schema refuses wrong types and unknown keys, naming the key;
# - least privilege: every rendering's RBAC has no wildcard, no Secrets, no pod
#   writes, leases only in a Role in the release namespace and only with
#   leader election, and exactly the rules the controller uses;
# - helm template with default and non-default values (namespaced mode,
#   replicas 2, ServiceMonitor and PDB on) is accepted by the API server
#   (kubectl apply --dry-run=server); the ServiceMonitor (its CRD is not
#   installed here) is checked for matching the metrics Service instead;
# - the chart's MutatingAdmissionPolicy is deploy/admission.yaml's, bound
#   only to the watched namespace in namespaced mode, at the apiVersion the
#   cluster serves (v1, else v1beta1, else none with a NOTES line): offline
#   with --api-versions/--kube-version for each case, and on this server;
# - helm install into a fresh namespace: the objects exist, the
#   ServiceAccount can do what the controller needs and nothing more
#   (kubectl auth can-i), helm upgrade after kubectl apply -f crds/ (README's
#   "Upgrading") rolls out, helm uninstall removes them and keeps the CRDs.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }
chart=$root/charts/weir

"$root/hack/cluster.sh" status >/dev/null 2>&1 || fail "the control plane must be running (make e2e starts it)"
eval "$("$root/hack/cluster.sh" env)"
helm=$WEIR_HELM
kubectl=$WEIR_KUBECTL

id=$$-$RANDOM
ns=weir-chart-$id          # release namespace
wns=weir-chart-w-$id       # watched namespace in namespaced mode
release=wct-$id
work=$(mktemp -d)
cleanup() {
  "$helm" uninstall "$release" -n "$ns" --wait --timeout 60s >/dev/null 2>&1 || true
  "$kubectl" delete namespace "$ns" "$wns" --wait=false --ignore-not-found >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
"$kubectl" create namespace "$ns" >/dev/null
"$kubectl" create namespace "$wns" >/dev/null

nondefault=(--set watchNamespace="$wns" --set replicas=2 --set serviceMonitor.enabled=true
            --set podDisruptionBudget.enabled=true --set controller.logLevel=debug
            --set-json 'tolerations=[{"key":"dedicated","operator":"Equal","value":"weir","effect":"NoSchedule"}]'
            --set-json 'nodeSelector={"kubernetes.io/os":"linux"}')

# --- lint -------------------------------------------------------------------------
"$helm" lint --strict "$chart" >"$work/lint" 2>&1 || { cat "$work/lint"; fail "helm lint"; }
"$helm" lint --strict "$chart" "${nondefault[@]}" >"$work/lint" 2>&1 || { cat "$work/lint"; fail "helm lint (non-default values)"; }

# --- the schema refuses bad values, naming the key ---------------------------------------
refused() {  # refused <what the message must contain> <helm template args...>
  local want=$1; shift
  if out=$("$helm" template t "$chart" "$@" 2>&1); then fail "accepted bad values: $*"; fi
  grep -qF -- "$want" <<<"$out" || fail "bad values ($*) refused without naming '$want': $out"
}
refused "/replicas': got string, want integer" --set replicas=two
refused "additional properties 'replica' not allowed" --set replica=2
refused "/controller': additional properties 'wrkers' not allowed" --set controller.wrkers=2
refused "/image/pullPolicy'" --set image.pullPolicy=Sometimes
refused "/leaderElection/enabled': got string, want boolean" --set-string leaderElection.enabled=yes
refused "/controller/batchIdleTimeout'" --set controller.batchIdleTimeout=ten
refused "/securityContext': additional properties 'runAsRoot' not allowed" --set securityContext.runAsRoot=true
refused "/resources/limits/memory'" --set resources.limits.memory=lots
refused "/watchNamespace'" --set watchNamespace=Not_A_Namespace

# --- the admission policy's API, offline ------------------------------------------------
# The chart picks admissionregistration.k8s.io/v1, else v1beta1, else none, by what the
# cluster serves (.Capabilities; `helm template` knows it from --api-versions).
caps() { local v; for v in "$@"; do printf -- '--api-versions=admissionregistration.k8s.io/%s/MutatingAdmissionPolicy\n--api-versions=admissionregistration.k8s.io/%s/MutatingAdmissionPolicyBinding\n' "$v" "$v"; done; }
policy_versions() {  # what a rendering has: "<apiVersion> <kind>" lines
  python3 -c 'import sys, yaml
for d in yaml.safe_load_all(sys.stdin):
  if d and d["kind"].startswith("MutatingAdmissionPolicy"): print(d["apiVersion"], d["kind"])'
}
rendered_policy() {  # rendered_policy <want: v1|v1beta1|none> <helm template args...>
  local want=$1 out got expect=""; shift
  out=$("$helm" template t "$chart" "$@" 2>&1) || fail "helm template $*: $out"
  got=$(policy_versions <<<"$out")
  [[ $want == none ]] || expect="admissionregistration.k8s.io/$want MutatingAdmissionPolicy
admissionregistration.k8s.io/$want MutatingAdmissionPolicyBinding"
  [[ $got == "$expect" ]] || fail "helm template $*: the admission policy rendered as
${got:-(none)}
want
${expect:-(none)}"
}
mapfile -t v1 < <(caps v1)
mapfile -t v1beta1 < <(caps v1beta1)
mapfile -t both < <(caps v1beta1 v1)
rendered_policy v1 --kube-version=1.36.3 "${v1[@]}"
rendered_policy v1 --kube-version=1.36.3 "${both[@]}"
rendered_policy v1beta1 --kube-version=1.34.4 "${v1beta1[@]}"
rendered_policy none --kube-version=1.34.4
rendered_policy none --kube-version=1.33.13 --api-versions=admissionregistration.k8s.io/v1  # webhooks only
rendered_policy none --kube-version=1.36.3 "${v1[@]}" --set admissionPolicy.enabled=false
rendered_policy v1beta1 --kube-version=1.36.3 "${v1[@]}" --set admissionPolicy.apiVersion=admissionregistration.k8s.io/v1beta1
rendered_policy v1 --set admissionPolicy.apiVersion=admissionregistration.k8s.io/v1
# The v1beta1 rendering is deploy/admission.yaml's policy too (the same fields at v1beta1).
"$helm" template t "$chart" "${v1beta1[@]}" >"$work/v1beta1.yaml" || fail "helm template (v1beta1)"
python3 - "$root/deploy/admission.yaml" "$work/v1beta1.yaml" <<'PY' || fail "v1beta1 policy check (above)"
import sys, yaml
src = {d["kind"]: d for d in yaml.safe_load_all(open(sys.argv[1])) if d}
got = {d["kind"]: d for d in yaml.safe_load_all(open(sys.argv[2])) if d}
ok = got["MutatingAdmissionPolicy"]["spec"] == src["MutatingAdmissionPolicy"]["spec"]
if not ok: print("FAIL: the v1beta1 policy's spec differs from deploy/admission.yaml's", file=sys.stderr)
sys.exit(0 if ok else 1)
PY

# --- render, for this API server ---------------------------------------------------------
served=$(WEIR_ROOT=$root bash -c 'source "$WEIR_ROOT/hack/lib.sh"; KUBECTL=$0; admission_policy_api' "$kubectl")
server_version=$("$kubectl" version -o json | python3 -c 'import json, sys; print(json.load(sys.stdin)["serverVersion"]["gitVersion"])')
here=(--kube-version="$server_version")
[[ -z $served ]] || mapfile -t -O 1 here < <(caps "${served##*/}")
echo "chart: Kubernetes $server_version serves MutatingAdmissionPolicy at: ${served:-(nothing)}"
# Kubernetes 1.36 made the API GA: from there on it must be served at v1.
minor=$(cut -d. -f2 <<<"$server_version")
((minor < 36)) || [[ $served == admissionregistration.k8s.io/v1 ]] ||
  fail "Kubernetes $server_version must serve MutatingAdmissionPolicy at v1; found '${served:-nothing}'"
"$helm" template "$release" "$chart" -n "$ns" "${here[@]}" >"$work/default.yaml" || fail "helm template (defaults)"
"$helm" template "$release" "$chart" -n "$ns" "${here[@]}" "${nondefault[@]}" >"$work/nondefault.yaml" ||
  fail "helm template (non-default values)"
"$helm" template "$release" "$chart" -n "$ns" "${here[@]}" --set leaderElection.enabled=true >"$work/le.yaml" ||
  fail "helm template (leader election, one replica)"

# --- least privilege ------------------------------------------------------------------
python3 - "$ns" "$wns" "$work/default.yaml" "$work/nondefault.yaml" "$work/le.yaml" <<'PY' || fail "RBAC check (above)"
import sys, yaml
ns, wns, files = sys.argv[1], sys.argv[2], sys.argv[3:]
# What the controller uses (controller/controller_main.cc, reconcile/batch_reconciler.cc,
# runtime/event_recorder.cc, runtime/leader_election.cc), JobFlows alike.
want = {
  ("weir.dev", "batches"): {"get", "list", "watch", "update", "patch", "delete"},
  ("weir.dev", "jobflows"): {"get", "list", "watch", "update", "patch", "delete"},
  ("weir.dev", "batches/status"): {"get", "update", "patch"},
  ("weir.dev", "jobflows/status"): {"get", "update", "patch"},
  ("weir.dev", "batches/finalizers"): {"update"},
  ("weir.dev", "jobflows/finalizers"): {"update"},
  ("weir.dev", "jobtemplates"): {"get", "list", "watch"},
  ("weir.dev", "jobtemplates/status"): {"get", "update", "patch"},
  ("batch", "jobs"): {"get", "list", "watch", "create", "delete"},
  ("", "pods"): {"get", "list", "watch", "patch"},
  ("", "events"): {"create", "patch"},
}
lease = {("coordination.k8s.io", "leases"): {"get", "create", "update"}}
errors = []
def grants(rules):
  g = {}
  for r in rules:
    for k in ("nonResourceURLs", "resourceNames"):
      if k in r: errors.append(f"unexpected {k} in {r}")
    for group in r.get("apiGroups", []):
      for res in r.get("resources", []):
        g.setdefault((group, res), set()).update(r.get("verbs", []))
  return g
for f in files:
  docs = [d for d in yaml.safe_load_all(open(f)) if d]
  roles = [d for d in docs if d["kind"] in ("Role", "ClusterRole")]
  bindings = [d for d in docs if d["kind"] in ("RoleBinding", "ClusterRoleBinding")]
  deploy = next(d for d in docs if d["kind"] == "Deployment")
  args = deploy["spec"]["template"]["spec"]["containers"][0]["args"]
  elect = "--leader-elect=true" in args
  for role in roles:
    name = f'{f.rsplit("/",1)[1]}: {role["kind"]} {role["metadata"]["name"]}'
    for r in role.get("rules", []):
      for key in ("verbs", "resources", "apiGroups"):
        if any("*" in v for v in r.get(key, [])):
          errors.append(f"{name}: wildcard in {key}: {r}")
      if any(res.split("/")[0] in ("secrets", "configmaps", "serviceaccounts") for res in r.get("resources", [])):
        errors.append(f"{name}: grants {r['resources']}")
      for verb in ("escalate", "bind", "impersonate", "deletecollection"):
        if verb in r.get("verbs", []): errors.append(f"{name}: grants {verb}")
    g = grants(role.get("rules", []))
    if role["metadata"]["name"].endswith("-leader-election"):
      if role["kind"] != "Role" or role["metadata"].get("namespace") != ns:
        errors.append(f"{name}: the lease role must be a Role in the release namespace {ns}")
      if g != lease: errors.append(f"{name}: lease rules {g} != {lease}")
    elif g != want:
      extra = {k: v - want.get(k, set()) for k, v in g.items() if v - want.get(k, set())}
      lack = {k: v - g.get(k, set()) for k, v in want.items() if v - g.get(k, set())}
      errors.append(f"{name}: rules differ from what the controller uses: extra {extra}, missing {lack}")
  lease_roles = [r for r in roles if r["metadata"]["name"].endswith("-leader-election")]
  if elect != bool(lease_roles):
    errors.append(f"{f}: --leader-elect={elect} but {len(lease_roles)} lease Role(s)")
  main = [r for r in roles if r not in lease_roles]
  watch = next(a for a in args if a.startswith("--namespace=")).split("=", 1)[1]
  if len(main) != 1: errors.append(f"{f}: expected one controller role, got {len(main)}")
  elif watch:
    if main[0]["kind"] != "Role" or main[0]["metadata"].get("namespace") != watch:
      errors.append(f"{f}: namespaced mode ({watch}) must use a Role in {watch}, got {main[0]['kind']}")
  elif main[0]["kind"] != "ClusterRole":
    errors.append(f"{f}: all-namespaces mode must use a ClusterRole")
  for b in bindings:
    if b["roleRef"]["kind"] == "ClusterRole" and b["kind"] == "RoleBinding":
      pass
    if not any(r["metadata"]["name"] == b["roleRef"]["name"] and r["kind"] == b["roleRef"]["kind"] for r in roles):
      errors.append(f"{f}: {b['kind']} {b['metadata']['name']} binds a role the chart does not define")
    if b["kind"] == "ClusterRoleBinding" and b["roleRef"]["name"] in ("cluster-admin", "admin", "edit", "view"):
      errors.append(f"{f}: binds {b['roleRef']['name']}")
  if len(bindings) != len(roles): errors.append(f"{f}: {len(roles)} roles but {len(bindings)} bindings")
for e in errors: print("FAIL:", e, file=sys.stderr)
sys.exit(1 if errors else 0)
PY

# --- the pod is locked down ---------------------------------------------------------------
python3 - "$work/default.yaml" <<'PY' || fail "Deployment check (above)"
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
d = next(x for x in docs if x["kind"] == "Deployment")
pod = d["spec"]["template"]["spec"]; c = pod["containers"][0]; sc = c["securityContext"]
checks = {
  "pod runAsNonRoot": pod["securityContext"].get("runAsNonRoot") is True,
  "container runAsNonRoot": sc.get("runAsNonRoot") is True,
  "readOnlyRootFilesystem": sc.get("readOnlyRootFilesystem") is True,
  "allowPrivilegeEscalation false": sc.get("allowPrivilegeEscalation") is False,
  "drop ALL": sc.get("capabilities", {}).get("drop") == ["ALL"],
  "seccomp RuntimeDefault": sc.get("seccompProfile", {}).get("type") == "RuntimeDefault",
  "liveness /healthz": c["livenessProbe"]["httpGet"]["path"] == "/healthz",
  "readiness /readyz": c["readinessProbe"]["httpGet"]["path"] == "/readyz",
  "resources": bool(c.get("resources", {}).get("limits")) and bool(c["resources"].get("requests")),
  "one replica, no leader election": d["spec"]["replicas"] == 1 and "--leader-elect=false" in c["args"],
  "all namespaces": "--namespace=" in c["args"],
  "probes on the health port": c["livenessProbe"]["httpGet"]["port"] == "health" and
      any(p["name"] == "health" and f"--health-bind-address=0.0.0.0:{p['containerPort']}" in c["args"] for p in c["ports"]),
}
bad = [k for k, ok in checks.items() if not ok]
for k in bad: print("FAIL: Deployment:", k, file=sys.stderr)
sys.exit(1 if bad else 0)
PY

# --- the API server accepts every rendering ---------------------------------------------
# Everything but the ServiceMonitor (no monitoring.coreos.com CRD on this control plane).
without_servicemonitor() {
  python3 -c 'import sys, yaml
docs = [d for d in yaml.safe_load_all(sys.stdin) if d and d["kind"] != "ServiceMonitor"]
print(yaml.safe_dump_all(docs))'
}
for f in default nondefault le; do
  without_servicemonitor <"$work/$f.yaml" >"$work/$f.apply.yaml"
  out=$("$kubectl" apply --dry-run=server -f "$work/$f.apply.yaml" 2>&1) ||
    fail "the API server refused the $f rendering: $out"
  # SA, Role+RoleBinding, lease Role+RoleBinding, Service, Deployment, PDB, admission
  # policy+binding where the server serves them.
  if [[ $f == nondefault ]]; then
    kinds=$(grep -c '(server dry run)' <<<"$out") || true
    want=$((${served:+2} + 8))
    [[ $kinds -eq $want ]] || fail "non-default dry run applied $kinds objects, want $want: $out"
  fi
done
python3 - "$work/nondefault.yaml" <<'PY' || fail "ServiceMonitor/PDB check (above)"
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
by = {d["kind"]: d for d in docs}
sm, svc, dep = by.get("ServiceMonitor"), by["Service"], by["Deployment"]
errs = []
if not sm: errs.append("no ServiceMonitor with serviceMonitor.enabled")
else:
  if sm["apiVersion"] != "monitoring.coreos.com/v1": errs.append("ServiceMonitor apiVersion")
  sel = sm["spec"]["selector"]["matchLabels"]
  if any(svc["metadata"]["labels"].get(k) != v for k, v in sel.items()): errs.append("ServiceMonitor selector does not match the metrics Service")
  ports = [p["name"] for p in svc["spec"]["ports"]]
  if [e["port"] for e in sm["spec"]["endpoints"]] != ["metrics"] or "metrics" not in ports: errs.append("ServiceMonitor endpoint port")
  if sm["spec"]["endpoints"][0]["path"] != "/metrics": errs.append("ServiceMonitor path")
  if sm["spec"]["namespaceSelector"]["matchNames"] != [svc["metadata"]["namespace"]]: errs.append("ServiceMonitor namespaceSelector")
pdb = by.get("PodDisruptionBudget")
if not pdb: errs.append("no PodDisruptionBudget with podDisruptionBudget.enabled")
elif pdb["spec"]["selector"]["matchLabels"] != dep["spec"]["selector"]["matchLabels"]: errs.append("PDB selector != Deployment selector")
for e in errs: print("FAIL:", e, file=sys.stderr)
sys.exit(1 if errs else 0)
PY
# The chart's admission policy is deploy/admission.yaml's (names aside); in
# namespaced mode it binds only in the watched namespace.
python3 - "$root/deploy/admission.yaml" "$work/default.yaml" "$work/nondefault.yaml" "$wns" "$served" <<'PY' || fail "admission policy check (above)"
import sys, yaml
src = {d["kind"]: d for d in yaml.safe_load_all(open(sys.argv[1])) if d}
served = sys.argv[5]
errs = []
for f, watch in ((sys.argv[2], ""), (sys.argv[3], sys.argv[4])):
  by = {d["kind"]: d for d in yaml.safe_load_all(open(f)) if d}
  pol, bnd = by.get("MutatingAdmissionPolicy"), by.get("MutatingAdmissionPolicyBinding")
  if not served:
    if pol or bnd: errs.append(f"{f}: an admission policy where the server serves none")
    continue
  if not pol or not bnd:
    errs.append(f"{f}: no admission policy/binding by default"); continue
  if pol["apiVersion"] != served or bnd["apiVersion"] != served:
    errs.append(f"{f}: the policy is at {pol['apiVersion']}, the server serves {served}")
  if pol["spec"] != src["MutatingAdmissionPolicy"]["spec"]:
    errs.append(f"{f}: the policy's spec differs from deploy/admission.yaml's; keep them the same")
  if bnd["spec"].get("policyName") != pol["metadata"]["name"]:
    errs.append(f"{f}: the binding names {bnd['spec'].get('policyName')}, not the chart's policy")
  rest = {k: v for k, v in bnd["spec"].items() if k not in ("policyName", "matchResources")}
  if rest != {k: v for k, v in src["MutatingAdmissionPolicyBinding"]["spec"].items() if k != "policyName"}:
    errs.append(f"{f}: the binding differs from deploy/admission.yaml's")
  sel = bnd["spec"].get("matchResources", {}).get("namespaceSelector", {}).get("matchLabels")
  want = {"kubernetes.io/metadata.name": watch} if watch else None
  if sel != want: errs.append(f"{f}: binding namespaceSelector {sel}, want {want}")
for e in errs: print("FAIL:", e, file=sys.stderr)
sys.exit(1 if errs else 0)
PY

if out=$("$helm" template t "$chart" --set serviceMonitor.enabled=true --set metrics.service.enabled=false 2>&1); then
  fail "a ServiceMonitor without the metrics Service was accepted"
fi
grep -q "serviceMonitor.enabled needs metrics.service.enabled" <<<"$out" || fail "unclear ServiceMonitor refusal: $out"

# --- install, check, uninstall -------------------------------------------------------------
out=$("$helm" install "$release" "$chart" -n "$ns" --set watchNamespace="$wns" --set replicas=2 \
      --set podDisruptionBudget.enabled=true --wait --timeout 90s 2>&1) || fail "helm install: $out"
grep -q "watches namespace $wns only" <<<"$out" || fail "NOTES do not say what is watched: $out"
fullname=$release-weir
sa=system:serviceaccount:$ns:$fullname
"$kubectl" -n "$ns" get "deployment/$fullname" "serviceaccount/$fullname" "service/$fullname-metrics" \
  "pdb/$fullname" "role/$fullname-leader-election" "rolebinding/$fullname-leader-election" >/dev/null ||
  fail "installed objects missing in $ns"
"$kubectl" -n "$wns" get "role/$fullname" "rolebinding/$fullname" >/dev/null || fail "no Role/RoleBinding in $wns"
ready=$("$kubectl" -n "$ns" get deployment "$fullname" -o jsonpath='{.status.readyReplicas}')
[[ $ready == 2 ]] || fail "Deployment has $ready ready replicas, want 2"
can() { "$kubectl" auth can-i --as="$sa" "$@" >/dev/null 2>&1; }
for check in "list batches.weir.dev -n $wns" "watch jobs.batch -n $wns" "create jobs.batch -n $wns" \
             "delete jobs.batch -n $wns" "update batches.weir.dev/status -n $wns" "patch batches.weir.dev -n $wns" \
             "update batches.weir.dev/finalizers -n $wns" "list pods -n $wns" "patch pods -n $wns" "create events -n $wns" \
             "patch events -n $wns" "get jobtemplates.weir.dev -n $wns" "update leases.coordination.k8s.io -n $ns"; do
  # shellcheck disable=SC2086
  can $check || fail "the ServiceAccount cannot: $check"
done
for check in "get secrets -n $wns" "list secrets -n $ns" "delete pods -n $wns" "create pods -n $wns" \
             "list batches.weir.dev -n default" "list batches.weir.dev --all-namespaces" \
             "create jobs.batch -n $ns" "update leases.coordination.k8s.io -n $wns" "get configmaps -n $wns" \
             "update jobtemplates.weir.dev -n $wns" "create clusterroles" "create rolebindings -n $wns"; do
  # shellcheck disable=SC2086
  ! can $check || fail "the ServiceAccount can (and must not): $check"
done
"$helm" uninstall "$release" -n "$ns" --wait --timeout 60s >/dev/null || fail "helm uninstall"
left=$("$kubectl" get deployment,serviceaccount,service,pdb,role,rolebinding -n "$ns" -l app.kubernetes.io/instance="$release" -o name)
left+=$("$kubectl" get role,rolebinding -n "$wns" -l app.kubernetes.io/instance="$release" -o name)
[[ -z $left ]] || fail "helm uninstall left: $left"
"$kubectl" get crd batches.weir.dev jobflows.weir.dev jobtemplates.weir.dev >/dev/null || fail "uninstall removed the CRDs"

# Cluster mode: a ClusterRole, and uninstall removes it.
out=$("$helm" install "$release" "$chart" -n "$ns" 2>&1) || fail "helm install (all namespaces): $out"
"$kubectl" get "clusterrole/$fullname" "clusterrolebinding/$fullname" >/dev/null || fail "no ClusterRole/Binding in cluster mode"
if [[ -n $served ]]; then
  got=$("$kubectl" get "mutatingadmissionpolicies.${served##*/}.${served%/*}/$fullname-cleanup-finalizer" \
    "mutatingadmissionpolicybindings.${served##*/}.${served%/*}/$fullname-cleanup-finalizer" -o name) ||
    fail "no admission policy in cluster mode"
  [[ $(wc -l <<<"$got") == 2 ]] || fail "admission policy and binding: $got"
  ! grep -q "no admission policy was installed" <<<"$out" || fail "NOTES say no policy, but the server serves $served: $out"
else
  grep -q "no admission policy was installed: weir adds the finalizer" <<<"$out" ||
    fail "Kubernetes $server_version serves no MutatingAdmissionPolicy API and NOTES do not say so: $out"
fi
can list batches.weir.dev --all-namespaces || fail "cluster mode: cannot list batches in all namespaces"
! can get secrets -n "$wns" || fail "cluster mode: can read secrets"
! can update leases.coordination.k8s.io -n "$ns" || fail "cluster mode, one replica: lease access without leader election"
# Upgrade as README.md's "Upgrading" says: the CRDs first, then helm upgrade.
"$kubectl" apply -f "$root/crds/" >/dev/null || fail "kubectl apply -f crds/"
out=$("$helm" upgrade "$release" "$chart" -n "$ns" --reuse-values --set controller.logLevel=debug \
      --wait --timeout 90s 2>&1) || fail "helm upgrade: $out"
args=$("$kubectl" -n "$ns" get deployment "$fullname" -o jsonpath='{.spec.template.spec.containers[0].args}')
[[ $args == *'"--log-level=debug"'* ]] || fail "helm upgrade did not reach the Deployment: $args"
"$helm" uninstall "$release" -n "$ns" --wait --timeout 60s >/dev/null || fail "helm uninstall (all namespaces)"
! "$kubectl" get clusterrole "$fullname" >/dev/null 2>&1 || fail "helm uninstall left the ClusterRole"
[[ -z $served ]] || ! "$kubectl" get "mutatingadmissionpolicies.${served##*/}.${served%/*}" "$fullname-cleanup-finalizer" >/dev/null 2>&1 ||
  fail "helm uninstall left the admission policy"
echo "chart: lint, schema refusals, least-privilege RBAC, server dry runs (default, namespaced+2 replicas+SM+PDB, leader election), install/uninstall in both modes with can-i checks: ok"
