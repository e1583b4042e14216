#!/usr/bin/env bash
# Builds the libFuzzer targets of test/fuzz with clang-16, ASan and UBSan, in
# their own build directory, and runs each on its checked-in corpus
# (test/fuzz/corpus/<target>/).
#   hack/fuzz.sh smoke   replays every corpus file, then fuzzes each target for
#                        FUZZ_SECONDS (default 3) seconds (make test)
#   hack/fuzz.sh full    fuzzes each target for FUZZ_RUNS (default 10^6)
#                        executions (make fuzz)
# Target names after the mode (e.g. `hack/fuzz.sh full jobflow`) run only those.
# Inputs the fuzzer finds go to a scratch directory, never into the corpus. A
# crash (or a failed check of test/fuzz/fuzz.h) stops the run and fails it;
# its input is kept as $FUZZ_BUILD_DIR/crashes/<target>-crash-<sha1>: add it
# to the corpus once the controller is fixed. Prints one line per target:
# executions, seconds, crashes.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-smoke}
build=${FUZZ_BUILD_DIR:-build-fuzz}
jobs=${JOBS:-$(nproc)}
targets=(jobflow batch watch_decoder kubeconfig jobtemplate step_patch quantity)  # slowest first
[[ $# -gt 1 ]] && targets=("${@:2}")
[[ $mode == smoke || $mode == full ]] || { echo "usage: $0 [smoke|full]" >&2; exit 2; }

if [[ ! -f $build/build.ninja ]]; then
  CC=clang-16 CXX=clang++-16 cmake -S . -B "$build" -G Ninja -DWEIR_FUZZ=ON >/dev/null
fi
if ! cmake --build "$build" --target fuzz_targets -j "$jobs" >"$build/build.log" 2>&1; then
  tail -n 40 "$build/build.log" >&2
  exit 1
fi

export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-16/bin/llvm-symbolizer
export UBSAN_OPTIONS=print_stacktrace=1
mkdir -p "$build/crashes"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# Fuzzes target $1; prints its line, or its log's tail and fails.
run_target() {
  local t=$1 bin=$build/bin/fuzz_$1 corpus=test/fuzz/corpus/$1 log=$build/fuzz-$mode-$1.log limit start runs
  if [[ $mode == smoke ]]; then
    "$bin" "$corpus"/* >"$log" 2>&1 || { cat "$log" >&2; echo "fuzz_$t: a corpus file fails" >&2; return 1; }
    limit=-max_total_time=${FUZZ_SECONDS:-3}
  else
    limit=-runs=${FUZZ_RUNS:-1000000}
  fi
  mkdir -p "$scratch/$t"
  start=$SECONDS
  if ! "$bin" "$limit" -timeout=10 -print_final_stats=1 -artifact_prefix="$build/crashes/$t-" \
      "$scratch/$t" "$corpus" >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "fuzz_$t: crashed after $((SECONDS - start)) s; input in $build/crashes/, log $log" >&2
    return 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  echo "fuzz_$t: $runs executions in $((SECONDS - start)) s, 0 crashes ($(ls "$corpus" | wc -l) corpus files)"
}

# smoke: one target after another; full: FUZZ_PARALLEL (default: the cores)
# targets at once.
parallel=1
[[ $mode == full ]] && parallel=${FUZZ_PARALLEL:-$(nproc)}
failed=0
for t in "${targets[@]}"; do
  while [[ $(jobs -rp | wc -l) -ge $parallel ]]; do wait -n || failed=1; done
  run_target "$t" &
done
while [[ $(jobs -rp | wc -l) -gt 0 ]]; do wait -n || failed=1; done
exit $failed
