#!/usr/bin/env bash
# crds/ is the one source of the CRDs; charts/weir/crds/ (which Helm installs)
# must hold byte-identical copies of the same files, no more, no fewer.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }
src=$root/crds
dst=$root/charts/weir/crds
fix="fix with: rm -f charts/weir/crds/*.yaml && cp crds/*.yaml charts/weir/crds/"
[[ -d $dst ]] || fail "no $dst; $fix"
names() { (cd "$1" && find . -maxdepth 1 -type f -name '*.yaml' | sed 's|^\./||' | sort); }
[[ -n $(names "$src") ]] || fail "no CRDs in crds/"
[[ $(names "$src") == "$(names "$dst")" ]] || fail "charts/weir/crds/ and crds/ hold different files:
$(diff <(names "$src") <(names "$dst") || true)
$fix"
for f in $(names "$src"); do
  cmp -s "$src/$f" "$dst/$f" || fail "charts/weir/crds/$f differs from crds/$f; $fix"
done
echo "charts/weir/crds/ = crds/ ($(names "$src" | wc -l) files, byte for byte): ok"
