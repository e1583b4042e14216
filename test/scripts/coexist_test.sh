#!/usr/bin/env bash
# weir beside Volcano and Argo Workflows in one cluster (issue 16). Installs
# the CRDs of Volcano and Argo Workflows (from their released Go modules, at
# the versions pinned in hack/versions.env; hack/peer-crds.sh fetches and
# caches them; no controllers) beside weir's, and shows:
#   1. none of weir's short names (read from crds/) is a name, singular, kind
#      or short name of any other resource the API server serves (Volcano's,
#      Argo's, the core API's), nor of any CRD in those modules, and no other
#      resource is in the category `weir`;
#   2. with a Volcano JobFlow and JobTemplate and an Argo Workflow and
#      WorkflowTemplate of the SAME names in the same namespace, weir's short
#      names and `kubectl get weir` list weir's objects only, and the full
#      names (jobflows.weir.dev, jobflows.flow.volcano.sh) each list their own;
#   3. weir-controller runs a JobFlow (and a Batch) to Succeeded meanwhile, and
#      `kubectl weir` (get, wait, suspend, resume) reaches that JobFlow, never
#      Volcano's of the same name; weir
#      never reads, writes or labels the other systems' objects: their
#      resourceVersion, labels, annotations, finalizers, owners and field
#      managers are unchanged, no Event is about them, no Job is owned by them,
#      and the controller's own request metrics and log name no other group;
#   4. weir's RBAC grants nothing in their groups: the chart's rendered Roles
#      and ClusterRoles (and deploy/) name none of their groups and no
#      wildcard, the admission policies match weir.dev only, and
#      `kubectl auth can-i` as the chart's ServiceAccount says no;
#   5. the other systems' CRDs are removed at the end (also on failure), and
#      the test waits until the API server no longer serves their groups.
# Changes cluster-wide CRDs: ctest runs it alone (RUN_SERIAL).
# Usage: coexist_test.sh [path/to/weir-controller [path/to/kubectl-weir]]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/test/scripts/controller_lib.sh"
# shellcheck source=../../hack/lib.sh
source "$root/hack/lib.sh"
fail() {
  echo "FAIL: $*" >&2
  print_controller_log || true
  exit 1
}
use_control_plane "${1:-}"
helm=$WEIR_HELM
work=$(mktemp -d)
use_plugin "${2:-}"
# kubectl with a discovery cache of its own, so what it resolves is what the
# API server serves now.
k() { "$WEIR_KUBECTL" --cache-dir="$work/kube-cache" "$@"; }
# kubectl weir, as a user runs it: kubectl finds kubectl-weir on the PATH.
kw() { PATH="$work/bin:$PATH" "$WEIR_KUBECTL" weir "$@"; }
started=$(date +%s)

id=$$-$RANDOM
ns=weir-coexist-$id
release=wcx-$id
label=weir.dev/test=coexist   # on every peer CRD this test creates
log=
pid=
peer_crds=()     # names of the peer CRDs this test created
peer_groups=()

remove_peer_crds() {  # deletes the peer CRDs this test created; waits until they are gone
  local g
  ((${#peer_crds[@]})) || return 0
  k delete crd "${peer_crds[@]}" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  for _ in $(seq 360); do
    [[ -z $(k get crd "${peer_crds[@]}" --ignore-not-found -o name 2>/dev/null) ]] && break
    sleep 0.5
  done
  [[ -z $(k get crd "${peer_crds[@]}" --ignore-not-found -o name 2>/dev/null) ]] || return 1
  for g in "${peer_groups[@]}"; do
    for _ in $(seq 100); do
      k get --raw "/apis/$g" >/dev/null 2>&1 || continue 2
      sleep 0.2
    done
    return 1
  done
  peer_crds=()
}
cleanup() {
  local rc=$?
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  # weir's objects keep their finalizers without a controller: drop them.
  drop_weir_finalizers "$WEIR_KUBECTL" "$ns"
  k delete namespace "$ns" --wait=false --ignore-not-found >/dev/null 2>&1 || true
  k delete clusterrole,clusterrolebinding -l "app.kubernetes.io/instance=$release" --ignore-not-found >/dev/null 2>&1 || true
  if ! remove_peer_crds; then
    echo "FAIL: the peer CRDs are not gone: ${peer_crds[*]}" >&2
    rc=1
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT

# --- 0. the other systems' CRD files ---------------------------------------------------------
peers=$("$root/hack/peer-crds.sh") || fail "hack/peer-crds.sh could not fetch the CRDs"
volcano_dir=$(awk '$1 == "volcano" {print $2}' <<<"$peers")
argo_dir=$(awk '$1 == "argo" {print $2}' <<<"$peers")
peer_files=("$volcano_dir"/*.yaml "$argo_dir"/*.yaml)
# name group plural singular kind shortnames(,) categories(,) per CRD, weir's and the peers'.
crd_table() {
  python3 - "$@" <<'PY'
import sys, yaml
for path in sys.argv[1:]:
    for d in yaml.safe_load_all(open(path)):
        if not d or d.get("kind") != "CustomResourceDefinition":
            continue
        n = d["spec"]["names"]
        print(d["metadata"]["name"], d["spec"]["group"], n["plural"], n.get("singular") or n["kind"].lower(),
              n["kind"], ",".join(n.get("shortNames") or []) or "-", ",".join(n.get("categories") or []) or "-")
PY
}
weir_table=$(crd_table "$root"/crds/*.yaml)
peer_table=$(crd_table "${peer_files[@]}")
mapfile -t peer_names < <(awk '{print $1}' <<<"$peer_table")
mapfile -t peer_groups < <(awk '{print $2}' <<<"$peer_table" | sort -u)
grep -q '^jobflows.flow.volcano.sh ' <<<"$peer_table" || fail "Volcano's JobFlow CRD is not among $volcano_dir"
grep -q '^workflows.argoproj.io ' <<<"$peer_table" || fail "Argo's Workflow CRD is not among $argo_dir"
mapfile -t weir_short < <(awk '$6 != "-" {n = split($6, s, ","); for (i = 1; i <= n; i++) print s[i]}' <<<"$weir_table")
((${#weir_short[@]} == 3)) || fail "expected a short name for each of weir's 3 CRDs, crds/ has: ${weir_short[*]}"

# Static: every name any peer CRD file answers to, against weir's short names and category.
for s in "${weir_short[@]}"; do
  hit=$(awk -v s="$s" '{split($6, sn, ","); if ($3 == s || $4 == s || tolower($5) == s) {print $1; next}
    for (i in sn) if (sn[i] == s) {print $1; next}}' <<<"$peer_table")
  [[ -z $hit ]] || fail "weir's short name '$s' is also a name of $hit (Volcano $VOLCANO_VERSION / Argo $ARGO_WORKFLOWS_VERSION CRD files)"
done
hit=$(awk '{n = split($7, c, ","); for (i = 1; i <= n; i++) if (c[i] == "weir") print $1}' <<<"$peer_table")
[[ -z $hit ]] || fail "the other systems' CRDs $hit are in the category weir"

# --- 1. install them beside weir's ----------------------------------------------------------
installed=$(k get crd -o jsonpath='{range .items[*]}{.metadata.name} {.metadata.labels.weir\.dev/test}{"\n"}{end}')
for c in "${peer_names[@]}"; do
  case $(awk -v c="$c" '$1 == c {print $2 == "coexist" ? "ours" : "theirs"}' <<<"$installed") in
    ours) peer_crds+=("$c") ;;   # left by an interrupted run of this test: ours to remove
    theirs) fail "CRD $c is already installed, and not by this test: it will not replace or remove it" ;;
  esac
done
remove_peer_crds || fail "could not remove the CRDs left by an earlier run: ${peer_crds[*]}"
install_weir   # weir's CRDs exactly as crds/ has them, and deploy/
# Labelled on the way in, so an interrupted run's leftovers are recognisable.
# `create`, not client-side apply: some exceed the 256 KiB annotation limit.
python3 - "${peer_files[@]}" <<'PY' >"$work/peers.json"
import json, sys, yaml
items = []
for path in sys.argv[1:]:
    for d in yaml.safe_load_all(open(path)):
        if d and d.get("kind") == "CustomResourceDefinition":
            d["metadata"].setdefault("labels", {})["weir.dev/test"] = "coexist"
            items.append(d)
json.dump({"apiVersion": "v1", "kind": "List", "items": items}, sys.stdout)
PY
peer_crds=("${peer_names[@]}")
k create -f "$work/peers.json" >/dev/null || fail "cannot create the peer CRDs"
k wait --for=condition=Established "${peer_crds[@]/#/crd/}" --timeout=120s >/dev/null ||
  fail "the peer CRDs did not become Established"
served() { k get --raw "/apis/flow.volcano.sh/v1alpha1" | grep -q '"jobflows"' &&
  k get --raw "/apis/argoproj.io/v1alpha1" | grep -q '"workflows"'; }
for _ in $(seq 150); do served && break; sleep 0.2; done
served || fail "the API server does not serve the peer groups"
rm -rf "$work/kube-cache"   # kubectl discovers afresh from here on
echo "installed ${#peer_crds[@]} CRDs of Volcano $VOLCANO_VERSION and Argo Workflows $ARGO_WORKFLOWS_VERSION (groups: ${peer_groups[*]})"

# --- 2. live discovery: weir's short names and category reach weir only -------------------------
# RESOURCE GROUP KIND SHORTNAMES CATEGORIES per served resource (kubectl api-resources -o wide,
# cut at its header's column offsets), then the singular names of every installed CRD.
k api-resources -o wide >"$work/api-resources.txt" || fail "kubectl api-resources"
k get crd -o json >"$work/crds.json"
live=$(python3 - "$work/api-resources.txt" "$work/crds.json" <<'PY'
import json, re, sys
lines = open(sys.argv[1]).read().splitlines()
head = lines[0]
cols = [(m.group(), m.start()) for m in re.finditer(r"\S+", head)]
def cut(line, name):
    i = [c[0] for c in cols].index(name)
    end = cols[i + 1][1] if i + 1 < len(cols) else None
    return line[cols[i][1]:end].strip()
for line in lines[1:]:
    av = cut(line, "APIVERSION")
    group = av.rsplit("/", 1)[0] if "/" in av else ""
    print(cut(line, "NAME"), group or "core", cut(line, "KIND"), cut(line, "SHORTNAMES") or "-",
          cut(line, "CATEGORIES").strip("[]").replace(" ", ",") or "-")
for c in json.load(open(sys.argv[2]))["items"]:
    n = c["spec"]["names"]
    print(n.get("singular") or n["kind"].lower(), c["spec"]["group"], n["kind"], "-", "-")
PY
) || fail "cannot read discovery"
live_weir=$(awk '$2 == "weir.dev" && $4 != "-" {print $1 ":" $4}' <<<"$live" | sort)
want_weir=$(awk '$6 != "-" {print $3 ":" $6}' <<<"$weir_table" | sort)
[[ $live_weir == "$want_weir" ]] ||
  fail "the API server serves weir's short names as $(echo $live_weir), crds/ says $(echo $want_weir) (install_weir did not apply crds/?)"
for g in flow.volcano.sh argoproj.io; do
  awk -v g="$g" '$2 == g' <<<"$live" | grep -q . || fail "discovery does not list group $g"
done
for s in "${weir_short[@]}"; do
  hit=$(awk -v s="$s" '$2 != "weir.dev" {split($4, sn, ","); if ($1 == s || tolower($3) == s) {print $1 "." $2; next}
    for (i in sn) if (sn[i] == s) {print $1 "." $2; next}}' <<<"$live" | sort -u)
  [[ -z $hit ]] || fail "weir's short name '$s' also names $(echo $hit): with both installed, kubectl get $s resolves by discovery order"
done
hit=$(awk '$2 != "weir.dev" {n = split($5, c, ","); for (i = 1; i <= n; i++) if (c[i] == "weir") print $1 "." $2}' <<<"$live")
[[ -z $hit ]] || fail "resources outside weir.dev are in the category weir: $hit"
echo "weir's short names (${weir_short[*]}) name nothing else among $(wc -l <<<"$live") served resources and CRDs; category weir is weir.dev's only"

# --- 3. the same names in one namespace -----------------------------------------------------
k create namespace "$ns" >/dev/null
# Volcano's JobFlow "pipeline" from its JobTemplate "etl", Argo's Workflow "pipeline" and
# WorkflowTemplate "etl": nothing runs them (no Volcano or Argo controller).
k create -n "$ns" -f - >/dev/null <<'YAML' || fail "cannot create the Volcano and Argo objects"
apiVersion: flow.volcano.sh/v1alpha1
kind: JobTemplate
metadata: {name: etl, labels: {owner: volcano}}
spec:
  schedulerName: volcano
  queue: default
  minAvailable: 1
  maxRetry: 1
  tasks:
  - name: main
    replicas: 1
    minAvailable: 1
    maxRetry: 1
    template:
      spec:
        restartPolicy: Never
        containers:
        - {name: main, image: busybox:1.36, command: ["true"]}
---
apiVersion: flow.volcano.sh/v1alpha1
kind: JobFlow
metadata: {name: pipeline, labels: {owner: volcano}, annotations: {note: volcano}}
spec:
  jobRetainPolicy: retain
  flows:
  - name: etl
---
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: etl}
spec:
  entrypoint: main
  templates:
  - name: main
    container: {image: busybox:1.36, command: ["true"]}
---
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: pipeline}
spec:
  workflowTemplateRef: {name: etl}
YAML
peer_objects=jobflows.flow.volcano.sh,jobtemplates.flow.volcano.sh,workflows.argoproj.io,workflowtemplates.argoproj.io
# What a write by anyone would change: resourceVersion first, then the metadata weir could touch.
fingerprint() {
  k get "$peer_objects" -n "$ns" -o json | python3 -c '
import json, sys
for o in sorted(json.load(sys.stdin)["items"], key=lambda o: (o["kind"], o["metadata"]["name"])):
    m = o["metadata"]
    print(o["apiVersion"], o["kind"], m["name"], "rv=" + m["resourceVersion"], "gen=" + str(m.get("generation")),
          "labels=" + json.dumps(m.get("labels", {}), sort_keys=True),
          "annotations=" + json.dumps(m.get("annotations", {}), sort_keys=True),
          "finalizers=" + json.dumps(m.get("finalizers", [])), "owners=" + json.dumps(m.get("ownerReferences", [])),
          "managers=" + json.dumps(sorted({f["manager"] + "/" + f["operation"] for f in m.get("managedFields", [])})),
          "status=" + json.dumps(o.get("status"), sort_keys=True))'
}
before=$(fingerprint) || fail "cannot read the Volcano and Argo objects"
[[ $(wc -l <<<"$before") == 4 ]] || fail "expected 4 Volcano and Argo objects, got:
$before"
# weir's admission policy (deploy/) adds its finalizer to weir.dev objects only.
! grep -q 'weir' <<<"$before" || fail "a Volcano or Argo object carries something of weir's at creation:
$before"

k apply -n "$ns" -f - >/dev/null <<'YAML' || fail "cannot create weir's objects"
apiVersion: weir.dev/v1alpha1
kind: JobTemplate
metadata: {name: etl}
spec:
  jobSpec:
    template:
      metadata:
        annotations: {sim.weir.dev/outcome: Succeeded, sim.weir.dev/duration: 1s}
      spec:
        containers:
        - {name: main, image: busybox:1.36, command: ["true"], resources: {limits: {memory: 64Mi}}}
---
apiVersion: weir.dev/v1alpha1
kind: JobFlow
metadata: {name: pipeline}
spec:
  steps:
  - {name: extract, template: etl}
  - name: load
    template: etl
    dependsOn: [{step: extract}]
---
apiVersion: weir.dev/v1alpha1
kind: Batch
metadata: {name: nightly}
spec:
  template: etl
YAML

# kubectl get <short name> and `kubectl get weir` list weir's objects only.
names_of() {  # names_of <resource>: "apiVersion kind name" per item, sorted
  k get "$1" -n "$ns" -o json | python3 -c '
import json, sys
for o in json.load(sys.stdin)["items"]: print(o["apiVersion"], o["kind"], o["metadata"]["name"])' | sort
}
declare -A want_short=(
  [JobFlow]="weir.dev/v1alpha1 JobFlow pipeline"
  [JobTemplate]="weir.dev/v1alpha1 JobTemplate etl"
  [Batch]="weir.dev/v1alpha1 Batch nightly"
)
while read -r _ _ _ _ kind shorts _; do
  for s in ${shorts//,/ }; do
    got=$(names_of "$s") || fail "kubectl get $s failed"
    [[ $got == "${want_short[$kind]}" ]] || fail "kubectl get $s lists
$got
instead of weir's ${want_short[$kind]}"
  done
done <<<"$weir_table"
got=$(names_of weir)
want=$(printf '%s\n' "${want_short[@]}" | sort)
[[ $got == "$want" ]] || fail "kubectl get weir lists
$got
instead of weir's objects only:
$want"
# The full names answer for each system (README: "weir beside Volcano and Argo").
for pair in "jobflows.weir.dev=weir.dev/v1alpha1 JobFlow pipeline" \
            "jobtemplates.weir.dev=weir.dev/v1alpha1 JobTemplate etl" \
            "jobflows.flow.volcano.sh=flow.volcano.sh/v1alpha1 JobFlow pipeline" \
            "jobtemplates.flow.volcano.sh=flow.volcano.sh/v1alpha1 JobTemplate etl" \
            "workflows.argoproj.io=argoproj.io/v1alpha1 Workflow pipeline"; do
  got=$(names_of "${pair%%=*}")
  [[ $got == "${pair#*=}" ]] || fail "kubectl get ${pair%%=*} lists '$got', not '${pair#*=}'"
done
flow_short=$(awk '$5 == "JobFlow" {split($6, s, ","); print s[1]}' <<<"$weir_table")
explained=$(k explain "$flow_short.spec.steps" | sed -n 's/^GROUP: *//p')
[[ $explained == weir.dev ]] || fail "kubectl explain $flow_short.spec.steps explains group '$explained', not weir.dev"
bare=$(k get jobflow -n "$ns" -o jsonpath='{.items[*].apiVersion}' 2>/dev/null || true)
echo "kubectl get by short name and category reaches weir.dev only; full names reach each system (bare 'jobflow' resolves to: ${bare:-nothing})"

# --- 4. weir-controller runs its flow beside them ---------------------------------------------------
hport=$(free_port)
mport=$(free_port)
log=$work/controller.log
"$binary" --kubeconfig="$KUBECONFIG" --namespace="$ns" --log-level=debug --batch-idle-timeout=1h \
  --health-bind-address="127.0.0.1:$hport" --metrics-bind-address="127.0.0.1:$mport" >"$log" 2>&1 &
pid=$!
wait_for 60 "/readyz" curl -sf "http://127.0.0.1:$hport/readyz"
phase_is() { [[ $(k get "$1" "$2" -n "$ns" -o jsonpath='{.status.phase}') == "$3" ]]; }
wait_for 240 "weir's JobFlow pipeline to reach Succeeded" phase_is jobflows.weir.dev pipeline Succeeded
wait_for 240 "weir's Batch nightly to reach Succeeded" phase_is batches.weir.dev nightly Succeeded
# kubectl weir, beside Volcano's JobFlow "pipeline" in the same namespace, reads and writes
# weir's only (its writes to the others would show in the fingerprint below).
weir_uid=$(k get jobflows.weir.dev pipeline -n "$ns" -o jsonpath='{.metadata.uid}')
for kind in flow jobflow jobflows wjf; do
  got=$(kw get "$kind" pipeline -n "$ns" -o json | python3 -c '
import json, sys
o = json.load(sys.stdin); print(o["apiVersion"], o["kind"], o["metadata"]["uid"])') ||
    fail "kubectl weir get $kind pipeline -o json failed"
  [[ $got == "weir.dev/v1alpha1 JobFlow $weir_uid" ]] ||
    fail "kubectl weir get $kind pipeline reached '$got', not weir's JobFlow $weir_uid"
done
tree=$(kw get flow pipeline -n "$ns") || fail "kubectl weir get flow pipeline failed"
grep -Eq '^extract +Succeeded ' <<<"$tree" && grep -Eq '^└─ load +Succeeded ' <<<"$tree" ||
  fail "kubectl weir get flow pipeline does not draw weir's steps extract and load:
$tree"
listed=$(kw get flows -n "$ns" | awk 'NR > 1 {print $1 " " $2}')
[[ $listed == "pipeline Succeeded" ]] || fail "kubectl weir get flows lists '$listed'"
kw wait flow/pipeline -n "$ns" --timeout 60s >/dev/null || fail "kubectl weir wait flow/pipeline did not exit 0"
kw suspend flow/pipeline -n "$ns" >/dev/null && kw resume flow/pipeline -n "$ns" >/dev/null ||
  fail "kubectl weir suspend/resume flow/pipeline failed"
[[ $(k get jobflows.weir.dev pipeline -n "$ns" -o jsonpath='{.spec.suspend}') == false ]] ||
  fail "kubectl weir resume did not reach weir's JobFlow"
echo "kubectl weir get (flow, jobflow, jobflows, wjf), get flows, wait, suspend and resume reach weir's JobFlow pipeline only"
# Let it finish what it does after the last phase (Events, status): until its request
# counts stand still for 3 s.
metrics() { curl -sf "http://127.0.0.1:$mport/metrics"; }
requests() { metrics | awk '/^weir_api_requests_total/ {s += $NF} END {print s + 0}'; }
last=-1
for _ in $(seq 20); do
  now=$(requests)
  [[ $now == "$last" ]] && break
  last=$now
  sleep 3
done
steps=$(k get jobflows.weir.dev pipeline -n "$ns" -o jsonpath='{.status.progress}')

# --- 5. the other systems' objects: never read, written or labelled ------------------------------
# The metrics and log first, while nothing else has touched them.
m=$(metrics) || fail "no /metrics"
resources=$(grep -o 'resource="[^"]*"' <<<"$m" | sort -u | cut -d'"' -f2)
grep -qx 'jobflows.weir.dev' <<<"$resources" || fail "the request metrics name no jobflows.weir.dev (resources: $(echo $resources))"
for g in "${peer_groups[@]}"; do
  ! grep -q "\.$g\$" <<<"$resources" || fail "weir-controller sent requests to $g: $(grep "\.$g\$" <<<"$resources")"
done
! grep -Eq 'volcano\.sh|argoproj\.io' "$log" ||
  fail "the controller's log names another system's group: $(grep -E 'volcano\.sh|argoproj\.io' "$log" | head -3)"
after=$(fingerprint)
[[ $after == "$before" ]] || fail "the Volcano or Argo objects changed while weir ran:
before: $before
after:  $after"
k get events -n "$ns" -o json | python3 -c '
import json, sys
bad = [e for e in json.load(sys.stdin)["items"] if not e["involvedObject"].get("apiVersion", "").startswith(("weir.dev/", "batch/", "v1"))]
bad and sys.exit("\n".join(e["involvedObject"]["apiVersion"] + " " + e["involvedObject"]["kind"] + " " + e["reason"] for e in bad))' ||
  fail "Events about objects that are not weir's, its Jobs' or their pods'"
owners=$(k get jobs -n "$ns" -o jsonpath='{range .items[*]}{.metadata.ownerReferences[0].apiVersion}/{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].uid}{"\n"}{end}' | sort -u)
weir_uids=$(k get jobflows.weir.dev,batches.weir.dev -n "$ns" -o jsonpath='{range .items[*]}{.apiVersion}/{.kind}/{.metadata.uid}{"\n"}{end}' | sort -u)
[[ -n $owners ]] || fail "no Jobs in $ns"
[[ -z $(comm -23 <(echo "$owners") <(echo "$weir_uids")) ]] || fail "Jobs owned by something other than weir's flow and Batch:
$owners"
echo "weir's JobFlow ran to Succeeded ($steps steps) with a Batch beside Volcano's and Argo's objects of the same names; those stayed untouched (resourceVersion, labels, annotations, finalizers, owners, managers) and weir sent no request to their groups ($(requests) requests, all to: $(echo $resources))"

# --- 6. weir's RBAC grants nothing in their groups ----------------------------------------------------
peer_groups_csv=$(IFS=,; echo "${peer_groups[*]}")
check_rules() {  # check_rules <what>: reads YAML on stdin
  python3 -c '
import sys, yaml
peers = set(sys.argv[2].split(",")); what = sys.argv[1]; bad = []; n = 0
for d in yaml.safe_load_all(sys.stdin):
    if not d: continue
    kind = d.get("kind", "")
    if kind in ("Role", "ClusterRole"):
        n += 1
        for r in d.get("rules") or []:
            groups = set(r.get("apiGroups") or []); res = set(r.get("resources") or [])
            if groups & (peers | {"*"}) or "*" in res or any(x.endswith("/*") for x in res):
                bad.append("%s %s: %s" % (kind, d["metadata"]["name"], r))
    elif kind.endswith("AdmissionPolicy"):
        n += 1
        for r in (d["spec"].get("matchConstraints") or {}).get("resourceRules") or []:
            if set(r.get("apiGroups") or []) - {"weir.dev"} or "*" in (r.get("resources") or []):
                bad.append("%s %s matches %s" % (kind, d["metadata"]["name"], r))
if bad: sys.exit("%s grants or matches beyond weir.dev:\n%s" % (what, "\n".join(bad)))
print(n)' "$1" "$peer_groups_csv"
}
n=0
for values in "" "--set watchNamespace=$ns" "--set replicas=2"; do
  # shellcheck disable=SC2086
  c=$("$helm" template "$release" "$root/charts/weir" -n "$ns" $values | check_rules "charts/weir ${values:-(defaults)}") ||
    fail "see above"
  n=$((n + c))
done
c=$(cat "$root"/deploy/*.yaml | check_rules "deploy/") || fail "see above"
n=$((n + c))
# Live: the chart's ServiceAccount with its ClusterRole, asked through the API server.
"$helm" template "$release" "$root/charts/weir" -n "$ns" | python3 -c '
import sys, yaml
docs = [d for d in yaml.safe_load_all(sys.stdin) if d and d["kind"] in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding")]
print("\n---\n".join(yaml.safe_dump(d) for d in docs))' | k apply -f - >/dev/null || fail "cannot apply the chart's RBAC"
sa=system:serviceaccount:$ns:$release-weir
k auth can-i get jobflows.weir.dev -n "$ns" --as="$sa" >/dev/null ||
  fail "the chart's ServiceAccount cannot get jobflows.weir.dev (the can-i checks below would prove nothing)"
granted=$(k auth can-i --list -n "$ns" --as="$sa" --no-headers | awk '{print $1}')
for g in "${peer_groups[@]}"; do
  ! grep -Eq "\.$g\$|^\*" <<<"$granted" || fail "the chart's ServiceAccount may use $g: $(grep -E "\.$g\$|^\*" <<<"$granted")"
done
asked=0
for r in jobflows.flow.volcano.sh jobtemplates.flow.volcano.sh jobs.batch.volcano.sh podgroups.scheduling.volcano.sh \
         workflows.argoproj.io workflowtemplates.argoproj.io; do
  for verb in get list watch create update patch delete; do
    ! k auth can-i "$verb" "$r" -n "$ns" --as="$sa" >/dev/null 2>&1 || fail "the chart's ServiceAccount can $verb $r"
    asked=$((asked + 1))
  done
done
echo "weir's RBAC grants nothing in ${#peer_groups[@]} peer groups: $n Roles, ClusterRoles and admission policies (chart: 3 value sets; deploy/) checked, can-i --list and $asked can-i as the chart's ServiceAccount say no"

# --- 7. the end: weir's objects go with their controller, the peers' CRDs go ------------------------
k delete jobflows.weir.dev,batches.weir.dev --all -n "$ns" --wait=true --timeout=120s >/dev/null ||
  fail "weir's objects were not deleted"
remove_peer_crds || fail "the peer CRDs are not gone: ${peer_crds[*]}"
left=$(k get crd -o name | grep -E "$(IFS='|'; echo "${peer_groups[*]//./\\.}")" || true)
[[ -z $left ]] || fail "CRDs of the peers' groups are left: $left"
echo "the peer CRDs are gone and their groups no longer served; $(($(date +%s) - started)) s: ok"
