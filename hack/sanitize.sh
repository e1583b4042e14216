#!/usr/bin/env bash
# Runs weir's tests with sanitizers, each in its own build directory (the
# default build is untouched), and fails on any report.
#   hack/sanitize.sh tsan-unit   build-tsan (-DWEIR_SANITIZE=thread): the unit
#                                tests of controller/runtime, reconcile and kube
#   hack/sanitize.sh tsan-e2e [DIR]  the controller e2e tests of build
#                                directory DIR (default build, built), each
#                                running build-tsan's weir-controller
#   hack/sanitize.sh asan-e2e [DIR]  the same with build-asan's
#                                (-DWEIR_SANITIZE=address, ASan and UBSan)
# The e2e tests themselves need no sanitizer (under TSan they ran ~7 times
# slower and missed their deadlines); the controller they start
# ($WEIR_CONTROLLER_BINARY) is the sanitizer build, and ControllerFixture
# fails a test on each sanitizer report in its controller's log. The e2e modes
# bring the control plane up and down as hack/e2e.sh does. A report in a unit
# test fails it (TSan exits 66). Prints each step's time.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$WEIR_ROOT"
mode=${1:-}
jobs=${JOBS:-$(nproc)}
# The tests of ControllerFixture (test/e2e/support/controller_fixture.h), the
# ones that run weir-controller, but reality_test's (the real node).
e2e_tests='^(BatchTest|FlowTest|BatchChaosTest|NodeLostTimeoutTest|FixtureStrictnessTest)\.'

export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$WEIR_ROOT/test/tsan/suppressions.txt"
export ASAN_OPTIONS="detect_leaks=1 handle_abort=1"
export UBSAN_OPTIONS="print_stacktrace=1"

# The source of the installed libabsl-dev, from Debian's source package,
# unpacked once into the cache; prints its directory (test/tsan/CMakeLists.txt
# says why TSan needs it).
absl_source() {
  local version dir work
  version=$(dpkg-query -W -f='${source:Version}' libabsl-dev)
  dir=$WEIR_CACHE_DIR/abseil-source-$version
  if [[ ! -f $dir/absl/synchronization/mutex.cc ]]; then
    log "fetching Debian's source of abseil $version"
    work=$(mktemp -d)
    chmod 755 "$work"  # apt downloads as its own user
    # deb-src twins of the machine's apt sources, with apt's lists in $work:
    # the system's apt configuration is left as it is.
    mkdir -p "$work/sources" "$work/lists/partial" "$work/src"
    [[ -f /etc/apt/sources.list ]] && sed -n 's/^deb /deb-src /p' /etc/apt/sources.list >"$work/sources/deb.list"
    cat /etc/apt/sources.list.d/*.sources 2>/dev/null | sed 's/^Types: deb$/Types: deb-src/' >"$work/sources/deb.sources"
    local apt=(apt-get -qq -o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$work/sources"
               -o "Dir::State::Lists=$work/lists")
    "${apt[@]}" update >/dev/null
    (cd "$work/src" && "${apt[@]}" source --download-only "abseil=$version" >/dev/null 2>&1)
    mkdir -p "$work/unpacked"
    tar -xf "$work"/src/abseil_*.orig.tar.* --strip-components=1 -C "$work/unpacked"
    rm -rf "$dir"
    mv "$work/unpacked" "$dir"
    rm -rf "$work"
  fi
  echo "$dir"
}

# Configures build directory $1 with the cmake flags after it, once: -O1
# (sanitizers' advice) and line tables only, which compile in about half the
# time of the default build's -O2 -g, and with assertions on.
configure() {
  local build=$1
  shift
  [[ -f $build/build.ninja ]] ||
    cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -g1" "$@" >/dev/null
}

# Builds targets $2... in build directory $1; shows the log's tail on failure.
build() {
  local build=$1 start=$SECONDS
  shift
  if ! cmake --build "$build" --target "$@" -j "$jobs" >"$build/build.log" 2>&1; then
    tail -n 40 "$build/build.log" >&2
    die "building $* in $build failed; log $build/build.log"
  fi
  log "built $* in $build in $((SECONDS - start)) s"
}

# Runs the e2e tests of ControllerFixture from build directory $2 with the
# weir-controller of build directory $1.
e2e() {
  local start=$SECONDS
  build "$1" weir-controller
  [[ -x $2/tests/batch_test ]] || die "$2 has no e2e tests: build it first (make build)"
  WEIR_CONTROLLER_BINARY=$WEIR_ROOT/$1/bin/weir-controller hack/e2e.sh "$2" "$e2e_tests"
  log "$mode: controller e2e tests passed in $((SECONDS - start)) s"
}

case $mode in
  tsan-unit)
    configure build-tsan -DWEIR_SANITIZE=thread "-DWEIR_ABSL_SOURCE_DIR=$(absl_source)"
    build build-tsan tsan_unit_tests
    start=$SECONDS
    while read -r dir; do
      ctest --test-dir "build-tsan/$dir" -L unit -j "$jobs" --output-on-failure
    done <build-tsan/tsan_unit_dirs
    log "tsan-unit: unit tests passed under TSan in $((SECONDS - start)) s"
    ;;
  tsan-e2e)
    configure build-tsan -DWEIR_SANITIZE=thread "-DWEIR_ABSL_SOURCE_DIR=$(absl_source)"
    e2e build-tsan "${2:-build}"
    ;;
  asan-e2e)
    configure build-asan -DWEIR_SANITIZE=address
    e2e build-asan "${2:-build}"
    ;;
  *) die "usage: $0 tsan-unit|tsan-e2e|asan-e2e" ;;
esac
