#!/usr/bin/env bash
# Tests crds/ and deploy/ on the running control plane, the way users meet them:
# - every object in examples/ is created by `kubectl apply` in a fresh
#   namespace (listed by `kubectl get weir`, given the finalizer
#   weir.dev/cleanup by deploy/'s admission policy where the server serves the
#   MutatingAdmissionPolicy API, and not otherwise); applying again stores
#   nothing new; `kubectl delete` plus removing the finalizer, as README's
#   "Upgrading" says to do without a controller, deletes them;
# - README.md's weir objects are examples/ objects with some fields left out,
#   and the API server accepts them;
# - every file in testdata/crd-invalid/ is refused by `kubectl apply`, naming
#   the field its header names. A file reads:
#     # <what is wrong>
#     # field: <the path the error must name, e.g. spec.steps[1].name>
#     # error: <text that error must contain>               (optional)
#     # also: <another error the API server reports too>   (optional, repeated)
#     <one object, or several: all but the last must be accepted (so a case
#      can refuse an update), the last refused>
#   The API server must report no error beyond those, so each case tests one
#   rule;
# - a JobFlow of the schema's maximum size (300 steps with 64 dependencies
#   each) is accepted, and refused if one dependency names no step: the CEL
#   rules stay within the API server's per-call cost limit;
# - edits while a flow runs: a started step cannot be removed, renamed or
#   re-templated, a finished flow's steps cannot change, everything else can
#   (also at the largest size: 300 started steps, 300 removed records).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cases=$root/test/scripts/testdata/crd-invalid
fail() { echo "FAIL: $*" >&2; exit 1; }

"$root/hack/cluster.sh" status >/dev/null 2>&1 || fail "the control plane must be running (make e2e starts it)"
eval "$("$root/hack/cluster.sh" env)"
kubectl=$WEIR_KUBECTL

ns=weir-crd-$$-$RANDOM
work=$(mktemp -d)
# Removes weir's finalizer from every Batch and JobFlow left in $ns: no
# controller watches it.
unfinalize() {
  local o
  for o in $("$kubectl" get batches.weir.dev,jobflows.weir.dev -n "$ns" -o name 2>/dev/null); do
    "$kubectl" patch "$o" -n "$ns" --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null 2>&1 || true
  done
}
cleanup() {
  unfinalize
  "$kubectl" delete namespace "$ns" --wait=false --ignore-not-found >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
"$kubectl" create namespace "$ns" >/dev/null
start=$SECONDS

# --- examples/ --------------------------------------------------------------------------
want=$(python3 - "$root"/examples/*.yaml <<'PY'
import sys, yaml
for f in sys.argv[1:]:
  for d in yaml.safe_load_all(open(f)):
    if d: print(f'{d["kind"].lower()}.weir.dev/{d["metadata"]["name"]}')
PY
)
want=$(sort <<<"$want")
[[ -n $want ]] || fail "no objects in examples/"
out=$("$kubectl" apply -n "$ns" -f "$root/examples/" 2>&1) || fail "kubectl apply -f examples/: $out"
[[ $(sort <<<"$out") == "$(sed 's/$/ created/' <<<"$want" | sort)" ]] ||
  fail "kubectl apply -f examples/ said:
$out
want each of these created:
$want"
got=$("$kubectl" get weir -n "$ns" -o name | sort)
[[ $got == "$want" ]] || fail "kubectl get weir lists:
$got
want:
$want"
finalizers=$("$kubectl" get batches.weir.dev,jobflows.weir.dev -n "$ns" \
  -o jsonpath='{range .items[*]}{.metadata.name}={.metadata.finalizers}{"\n"}{end}')
[[ -n $finalizers ]] || fail "no Batch or JobFlow in examples/"
# Where the API server serves no MutatingAdmissionPolicy API (before 1.36, unless
# enabled), deploy/ is not applied (hack/lib.sh install_weir) and nothing adds the
# finalizer at creation: no controller runs here.
policy=$(WEIR_ROOT=$root bash -c 'source "$WEIR_ROOT/hack/lib.sh"; KUBECTL=$0; admission_policy_api' "$kubectl")
while read -r line; do
  if [[ -n $policy ]]; then
    [[ $line == *'"weir.dev/cleanup"'* ]] || fail "no finalizer weir.dev/cleanup (deploy/ applied at $policy?): $line"
  else
    [[ $line != *'weir.dev/cleanup'* ]] || fail "finalizer weir.dev/cleanup, yet the server serves no admission policy API: $line"
  fi
done <<<"$finalizers"
# Applying again stores nothing new. (kubectl may still say "configured": it
# patches a list whose items the API server has defaulted back to the same.)
versions() { "$kubectl" get weir -n "$ns" -o jsonpath='{range .items[*]}{.metadata.name} {.metadata.resourceVersion}{"\n"}{end}'; }
before=$(versions)
out=$("$kubectl" apply -n "$ns" -f "$root/examples/" 2>&1) || fail "second kubectl apply -f examples/: $out"
[[ $(versions) == "$before" ]] || fail "applying examples/ again changed objects: $out"
"$kubectl" delete -n "$ns" -f "$root/examples/" --wait=false >/dev/null || fail "kubectl delete -f examples/"
unfinalize
"$kubectl" wait -n "$ns" --for=delete -f "$root/examples/" --timeout=30s >/dev/null ||
  fail "examples/ objects not deleted: $("$kubectl" get weir -n "$ns" -o yaml)"

# --- README.md's examples are examples/ abridged, and valid ------------------------------------
python3 - "$root/README.md" "$work/readme.yaml" "$root"/examples/*.yaml <<'PY' || fail "README.md's examples (above)"
import re, sys, yaml
readme, out, files = sys.argv[1], sys.argv[2], sys.argv[3:]
examples = {}
for f in files:
  for d in yaml.safe_load_all(open(f)):
    if d: examples[(d["kind"], d["metadata"]["name"])] = (f.rsplit("/", 1)[1], d)
def within(a, b, path):  # a is b with some map keys left out
  if isinstance(a, dict) and isinstance(b, dict):
    return [e for k, v in a.items() for e in (within(v, b[k], f"{path}.{k}") if k in b else [f"{path}.{k} is not in the example"])]
  if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
    return [e for i, (x, y) in enumerate(zip(a, b)) for e in within(x, y, f"{path}[{i}]")]
  return [] if a == b else [f"{path}: {a!r} != the example's {b!r}"]
docs, errors = [], []
for block in re.findall(r"^```yaml\n(.*?)^```", open(readme).read(), re.S | re.M):
  d = yaml.safe_load(block)
  if not isinstance(d, dict) or not str(d.get("apiVersion", "")).startswith("weir.dev/"): continue
  key = (d["kind"], d["metadata"]["name"])
  if key not in examples: errors.append(f"README's {key} is in no file of examples/"); continue
  errors += [f"README's {key} vs {examples[key][0]}: {e}" for e in within(d, examples[key][1], "")]
  docs.append(d)
if not docs: errors.append("no weir object in README.md")
for e in errors: print("FAIL:", e, file=sys.stderr)
yaml.safe_dump_all(docs, open(out, "w"))
sys.exit(1 if errors else 0)
PY
out=$("$kubectl" create --dry-run=server -n "$ns" -f "$work/readme.yaml" 2>&1) ||
  fail "the API server refused README.md's examples: $out"

# --- invalid objects, and the largest JobFlow the schema allows ---------------------------------
# In one Python process: it runs kubectl only, not a dozen tools per case.
n=$(python3 - "$kubectl" "$ns" "$cases" <<'PY'
import glob, json, os, re, subprocess, sys, tempfile
kubectl, ns, cases = sys.argv[1:]
failures = []

def errors(stderr):
  """The API server's errors in kubectl's stderr as "<path>: <text>", without
  the note that some rules were skipped because of the others (1.33 quotes
  its value, "null"; 1.34 on do not)."""
  items = []
  for line in stderr.splitlines():
    m = (re.match(r".* is invalid: (.+)$", line) or re.match(r"\* (.+)$", line) or
         re.match(r".*strict decoding error: (.+)$", line))
    if not m: continue
    for item in re.split(r", (?=unknown field)", m.group(1)):
      u = re.fullmatch(r'unknown field "([^"]+)"', item)
      items.append(f"{u.group(1)}: unknown field" if u else item)
  return [i for i in items
          if not re.match(r'<nil>: Invalid value: "?null"?: some validation rules were not checked', i)]

def refused(name, args, data, field, error="", also=(), accepted=0):
  """kubectl <args> must create `accepted` objects, then be refused with one
  error on `field` that says `error`, and no errors but those in `also`."""
  r = subprocess.run([kubectl, *args, "-n", ns], input=data, capture_output=True, text=True)
  if r.returncode == 0:
    return failures.append(f"{name}: accepted: {r.stdout}")
  created = r.stdout.count(" created\n")
  if created != accepted:
    return failures.append(f"{name}: {created} objects created, want {accepted} (all but the last document): {r.stdout}{r.stderr}")
  items = errors(r.stderr)
  match = next((i for i in items if i.startswith(f"{field}: ")), None)
  if match is None:
    return failures.append(f"{name}: refused without naming {field}: {r.stderr}")
  if error not in match:
    failures.append(f"{name}: the error on {field} does not say '{error}': {match}")
  others = [i for i in items if i is not match]
  failures.extend(f"{name}: an error beyond {field}: {i}" for i in others if i not in also)
  failures.extend(f"{name}: the API server no longer reports: {i}" for i in also if i not in others)

files = sorted(glob.glob(f"{cases}/*.yaml"))
if not files: failures.append(f"no cases in {cases}")
for f in files:
  text = open(f).read()
  head = lambda key: re.findall(rf"^# {key}: (.*)$", text, re.M)
  name = os.path.basename(f)
  if len(head("field")) != 1:
    failures.append(f"{name}: not one '# field:' line"); continue
  refused(name, ["apply", "-f", "-"], text, head("field")[0], "".join(head("error")), head("also"),
          len(re.findall(r"^---$", text, re.M)))

# 300 steps with 63-character names, each depending on the 64 before it:
# the CEL rules must stay within the API server's per-call cost limit.
def flow(name, steps):
  return json.dumps({"apiVersion": "weir.dev/v1alpha1", "kind": "JobFlow",
                     "metadata": {"name": name}, "spec": {"steps": steps}})
names = [f"{i:03d}-" + "s" * 59 for i in range(300)]
steps = [{"name": n, "template": "etl",
          "dependsOn": [{"step": d, "condition": "Completed"} for d in names[max(0, i - 64):i]]}
         for i, n in enumerate(names)]
r = subprocess.run([kubectl, "create", "--dry-run=server", "-n", ns, "-f", "-"],
                   input=flow("largest", steps), capture_output=True, text=True)
if r.returncode != 0:
  failures.append(f"a JobFlow of 300 steps with 64 dependencies each was refused: {r.stderr}")
steps[-1]["dependsOn"][-1]["step"] = "no-such-step"
refused("the largest JobFlow, its last dependency on no step", ["create", "--dry-run=server", "-f", "-"],
        flow("largest-bad", steps), "spec.steps", "every dependsOn[].step must name a step of this flow")

# Edits while a flow runs (README "Edits while running"): a step that has
# started (its status record lists an attempt) keeps its name and template;
# a finished flow keeps its steps; everything else may change. The status is
# set through the status subresource, as weir writes it.
def run(*args, data=None):
  return subprocess.run([kubectl, *args, "-n", ns], input=data, capture_output=True, text=True)
def accepted(name, *args, data=None):
  r = run(*args, data=data)
  if r.returncode != 0: failures.append(f"{name}: refused: {r.stderr}")
def set_status(name, status):
  with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
    json.dump({"status": status}, f)
    f.flush()
    accepted(f"status of {name}", "patch", "jobflows.weir.dev", name, "--subresource=status",
             "--type=merge", "--patch-file", f.name)
def record(step, started=True, template="etl"):
  r = {"name": step, "template": template, "phase": "Running" if started else "Pending"}
  if started: r["attempts"] = [{"attempt": 1, "job": f"{step}-1"}]
  return r
def steps_patch(steps):
  return ["--type=json", "-p", json.dumps([{"op": "replace", "path": "/spec/steps", "value": steps}])]
started = "a step that has started (its status lists an attempt) cannot be removed"
a, b = {"name": "a", "template": "etl"}, {"name": "b", "template": "etl", "dependsOn": [{"step": "a"}]}
accepted("create edits", "create", "-f", "-", data=flow("edits", [a, b]))
set_status("edits", {"phase": "Running", "steps": [record("a"), record("b", started=False)]})
patch = ["patch", "jobflows.weir.dev", "edits"]
x = {"name": "x", "template": "etl"}
for what, steps in [("remove started a", [x, dict(b, dependsOn=[{"step": "x"}])]),
                    ("rename started a", [dict(a, name="a2"), dict(b, dependsOn=[{"step": "a2"}])]),
                    ("re-template started a", [dict(a, template="other"), b])]:
  refused(f"edits: {what}", [*patch, *steps_patch(steps)], None, "spec.steps", started)
for what, steps in [("re-template b, not started", [a, dict(b, template="other")]),
                    ("add step c", [a, dict(b, template="other"), x]),
                    ("cancel started a, patch and retry it", [dict(a, cancel=True, patch={"activeDeadlineSeconds": 60},
                                                                   retry={"limit": 2}), dict(b, template="other"), x]),
                    ("remove b and x, not started", [dict(a, cancel=True)])]:
  accepted(f"edits: {what}", *patch, *steps_patch(steps))
# weir keeps the record of a started step the spec lost (an older CRD let the
# edit through): its status writes are not refused for it.
set_status("edits", {"steps": [record("a"), record("gone")]})
accepted("edits: parallelism with a removed step's record", *patch, "--type=merge", "-p",
         '{"spec":{"parallelism":2}}')
set_status("edits", {"phase": "Succeeded"})
refused("edits: add a step to a finished flow", [*patch, *steps_patch([dict(a, cancel=True), x])], None,
        "spec.steps", "the steps of a finished flow cannot be changed (it ended Succeeded")
accepted("edits: ttl of a finished flow", *patch, "--type=merge", "-p", '{"spec":{"ttlSecondsAfterFinished":60}}')

# The same rules at the largest size: 300 started steps and 300 records of
# removed ones, within the per-call cost limit.
big = [{"name": n, "template": "etl"} for n in names]
accepted("create the largest running flow", "create", "-f", "-", data=flow("largest-running", big))
set_status("largest-running", {"phase": "Running", "steps": [record(n) for n in names] +
                               [record(f"{i:03d}-" + "r" * 59) for i in range(300)]})
accepted("the largest running flow: parallelism", "patch", "jobflows.weir.dev", "largest-running",
         "--type=merge", "-p", '{"spec":{"parallelism":3}}')
refused("the largest running flow: its last step renamed",
        ["patch", "jobflows.weir.dev", "largest-running",
         *steps_patch(big[:-1] + [dict(big[-1], name="renamed")])], None, "spec.steps", started)

for f in failures: print("FAIL:", f, file=sys.stderr)
print(len(files))
sys.exit(1 if failures else 0)
PY
) || fail "invalid objects (above)"

echo "crds: examples/ applied, re-applied unchanged and deleted; $n invalid objects refused naming their field; the largest JobFlow within the CEL cost limit: ok ($((SECONDS - start)) s)"
