#!/usr/bin/env bash
# Checks that every C++ file is clang-formatted (Google style, see
# .clang-format). With --fix, formats them in place instead.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files -- '*.h' '*.cc')
[[ ${#files[@]} -gt 0 ]] || exit 0
if [[ ${1:-} == --fix ]]; then
  clang-format -i "${files[@]}"
  exit
fi
if ! clang-format --dry-run --Werror "${files[@]}" 2>/tmp/weir-lint.$$; then
  grep -E '^[^ ].*: (error|warning):' /tmp/weir-lint.$$ | cut -d: -f1 | sort -u | sed 's/^/not formatted: /' >&2
  rm -f /tmp/weir-lint.$$
  echo "run 'make format' to fix" >&2
  exit 1
fi
rm -f /tmp/weir-lint.$$
