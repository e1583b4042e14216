#!/usr/bin/env bash
# Checks the Dockerfile with what can be checked without a container engine:
# - the build stage installs exactly hack/install-deps.sh's packages;
# - the runtime stage's RUNTIME_PACKAGES holds the Debian package of every
#   shared library `ldd` reports for build/bin/weir-controller (each .so mapped
#   to its package with `dpkg -S`), and every one of them exists in bookworm;
# - the image the chart uses by default (repository and tag) is what the
#   Dockerfile builds (dev.weir.image label, version = appVersion = CMake
#   project version), runs as the chart's user, and the chart does not
#   override the ENTRYPOINT.
# Usage: dockerfile_test.sh [path/to/weir-controller]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }
dockerfile=$root/Dockerfile
binary=${1:-$root/build/bin/weir-controller}
[[ -f $dockerfile ]] || fail "no Dockerfile at the repository root"
[[ -x $binary ]] || fail "$binary is not built; run 'make build'"

# The value of `ARG NAME="..."` in the Dockerfile, one word a line, sorted.
arg_words() {
  sed -n "s/^ARG $1=\"\(.*\)\"\$/\1/p" "$dockerfile" | tr ' ' '\n' | sed '/^$/d' | sort -u
}

# --- stages ---------------------------------------------------------------------
mapfile -t froms < <(grep -E '^FROM ' "$dockerfile")
[[ ${#froms[@]} -eq 2 ]] || fail "expected two stages (build, runtime), got: ${froms[*]}"
[[ ${froms[0]} =~ ^FROM\ debian:bookworm\ AS\ build$ ]] || fail "build stage is not debian:bookworm: ${froms[0]}"
[[ ${froms[1]} == "FROM debian:bookworm-slim" ]] || fail "runtime stage is not debian:bookworm-slim: ${froms[1]}"

# --- build packages = hack/install-deps.sh's ------------------------------------
deps=$(sed -n '/^packages=(/,/^)/p' "$root/hack/install-deps.sh" | sed '1d;$d' | tr -s ' \n' '\n' | sed '/^$/d' | sort -u)
build=$(arg_words BUILD_PACKAGES)
[[ -n $build ]] || fail "no ARG BUILD_PACKAGES=\"...\" in the Dockerfile"
[[ $deps == "$build" ]] || fail "build stage packages differ from hack/install-deps.sh:
$(diff <(echo "$deps") <(echo "$build") || true)"

# --- runtime packages cover the binary's shared libraries -----------------------
runtime=$(arg_words RUNTIME_PACKAGES)
[[ -n $runtime ]] || fail "no ARG RUNTIME_PACKAGES=\"...\" in the Dockerfile"
ldd_out=$(ldd "$binary") || fail "ldd $binary failed"
! grep -q "not found" <<<"$ldd_out" || fail "ldd reports missing libraries: $(grep 'not found' <<<"$ldd_out")"
# Debian's merged /usr registers a file as /lib/... or /usr/lib/...; ask dpkg
# about every spelling of every library at once (one call: dpkg -S is slow),
# then require each library to have been found under one of its spellings.
mapfile -t libs < <(awk '/=>/ && $3 ~ /^\// {print $3} $1 ~ /^\/lib/ {print $1}' <<<"$ldd_out" | sort -u)
[[ ${#libs[@]} -gt 0 ]] || fail "ldd listed no shared libraries for $binary"
spellings() {
  local p=$1 real
  real=$(readlink -f "$p")
  printf '%s\n' "$p" "$real" "/usr$p" "${p#/usr}" "/usr$real" "${real#/usr}" | sort -u
}
declare -A owner=()
while IFS= read -r line; do
  owner[${line#*: }]=${line%%:*}
done < <(for l in "${libs[@]}"; do spellings "$l"; done | sort -u | xargs dpkg -S 2>/dev/null || true)
needed=""
for l in "${libs[@]}"; do
  pkg=""
  while read -r sp; do [[ -n ${owner[$sp]:-} ]] && { pkg=${owner[$sp]}; break; }; done < <(spellings "$l")
  [[ -n $pkg ]] || fail "no Debian package owns $l (dpkg -S)"
  needed+="$pkg"$'\n'
done
needed=$(sed '/^$/d' <<<"$needed" | sort -u)
[[ -n $needed ]] || fail "could not map any shared library of $binary"
missing=$(comm -23 <(echo "$needed") <(echo "$runtime"))
[[ -z $missing ]] || fail "RUNTIME_PACKAGES lacks the package(s) of shared libraries ldd reports: $missing"
# Anything beyond the libraries' packages must be explained: only CA certificates.
extra=$(comm -13 <(echo "$needed") <(echo "$runtime") | grep -vx 'ca-certificates' || true)
[[ -z $extra ]] || fail "RUNTIME_PACKAGES has packages no shared library needs: $extra"
# The names must exist in the release we build on (apt lists are present once
# hack/install-deps.sh has run apt-get update).
if compgen -G "/var/lib/apt/lists/*_Packages*" >/dev/null; then
  # shellcheck disable=SC2086
  if ! apt-cache show $runtime >/dev/null 2>&1; then
    for p in $runtime; do
      apt-cache show "$p" >/dev/null 2>&1 || fail "package $p is not known to apt (a typo, or not in bookworm?)"
    done
  fi
fi

# --- runtime stage shape ----------------------------------------------------------
runtime_stage=$(sed -n '/^FROM debian:bookworm-slim/,$p' "$dockerfile")
grep -qx 'USER 65532:65532' <<<"$runtime_stage" || fail "runtime stage does not run as USER 65532:65532"
grep -q '^COPY --from=build /build/bin/weir-controller /usr/local/bin/weir-controller$' <<<"$runtime_stage" ||
  fail "runtime stage does not copy the built weir-controller to /usr/local/bin"
grep -qx 'ENTRYPOINT \["/usr/local/bin/weir-controller"\]' <<<"$runtime_stage" || fail "ENTRYPOINT is not the controller"
grep -q -- '--target weir-controller' "$dockerfile" || fail "build stage does not build the weir-controller target"

# --- the chart's default image is this image ---------------------------------------------
# The pinned helm (hack/lib.sh knows where make tools put it).
helm=${WEIR_HELM:-$(bash -c 'source "$1/hack/lib.sh" && echo "$HELM"' _ "$root")}
[[ -x $helm ]] || fail "no pinned helm at $helm; run 'make tools'"
label() { sed -n "s/.*$1=\"\([^\"]*\)\".*/\1/p" "$dockerfile" | head -1; }
image_repo=$(label dev.weir.image)
image_version=$(label org.opencontainers.image.version)
cmake_version=$(sed -n 's/^project(weir VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")
app_version=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$root/charts/weir/Chart.yaml")
[[ -n $image_repo && -n $image_version ]] || fail "Dockerfile lacks the dev.weir.image or org.opencontainers.image.version label"
[[ $image_version == "$cmake_version" ]] || fail "image version $image_version != CMake project version $cmake_version"
[[ $app_version == "$image_version" ]] || fail "chart appVersion $app_version != image version $image_version"
grep -q "docker build -t $image_repo:$image_version " "$dockerfile" || fail "the Dockerfile's build comment does not name $image_repo:$image_version"
rendered=$("$helm" template weir "$root/charts/weir") || fail "helm template failed"
image=$(sed -n 's/^ *image: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' <<<"$rendered")
[[ $image == "$image_repo:$image_version" ]] || fail "chart's default image is '$image', the Dockerfile builds $image_repo:$image_version"
! grep -qE '^ *command:' <<<"$rendered" || fail "the chart overrides the image's ENTRYPOINT with command:"
grep -q 'runAsUser: 65532' <<<"$rendered" || fail "the chart does not run as the image's user 65532"
echo "Dockerfile: two Debian stages, build packages = install-deps.sh, runtime packages = the packages of $(wc -l <<<"$needed") shared-library packages (+ca-certificates), chart default image $image: ok"
