#!/usr/bin/env bash
# otuf-core vs python-tuf verifying the same files (tests/fixtures/bench): a 16,384-bin
# snapshot and one hash bin, ed25519. Runs both, prints time, MB/s and the ratio.
#   tests/bench/compare.sh                  (about two minutes; quiet machine recommended)
#   tests/bench/compare.sh --baseline REV   also benchmarks otuf-core at commit REV (built in a
#                                           worktree under target/) in the same run, and prints
#                                           each figure before and after
set -euo pipefail
cd "$(dirname "$0")/../.."
baseline=""
if [ "${1:-}" = "--baseline" ]; then baseline="${2:?--baseline needs a commit}"; fi
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import tuf' 2>/dev/null; then
  python3 -m venv .venv && .venv/bin/pip install --quiet -r tests/python/requirements.txt
fi
bench=(cargo bench -p otuf-core --features std --bench verify -- --warm-up-time 2 --measurement-time 5)
if [ -n "$baseline" ]; then
  src="$PWD/target/baseline-src"
  git worktree remove --force "$src" 2>/dev/null || rm -rf "$src"
  git worktree add --quiet --detach "$src" "$baseline"
  # Its own target directory and criterion folder: the two builds never mix.
  (cd "$src" && CARGO_TARGET_DIR="$PWD/../baseline-build" CRITERION_HOME="$PWD/../criterion-baseline" \
    "${bench[@]}" >/dev/null)
  git worktree remove --force "$src"
fi
"${bench[@]}" >/dev/null
.venv/bin/python tests/bench/python_verify.py > target/python-verify.jsonl
.venv/bin/python tests/bench/ratios.py target/python-verify.jsonl target/criterion \
  ${baseline:+target/criterion-baseline "$baseline"}
