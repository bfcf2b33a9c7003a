#!/usr/bin/env bash
# Instructions otuf-core executes per verification (callgrind), for the cases compare.sh times:
# the 16,384-bin snapshot and one hash bin, general and streaming mode. Unlike wall time on a
# shared 2-core machine (±15% between runs here), the count is the same on every run, so a
# change to the core is compared exactly.
#   tests/bench/instructions.sh                  this checkout's figures
#   tests/bench/instructions.sh --baseline REV   also REV's (built in a worktree under target/,
#                                                with this checkout's bench source), and the ratio
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v valgrind >/dev/null || { echo "valgrind is needed (Debian: apt-get install valgrind)" >&2; exit 1; }
baseline=""
if [ "${1:-}" = "--baseline" ]; then baseline="${2:?--baseline needs a commit}"; fi

# The bench binary of the tree in $1, built into target directory $2; prints its path.
build() {
  (cd "$1" && CARGO_TARGET_DIR="$2" cargo bench -p otuf-core --features std --bench verify \
      --no-run --message-format=json 2>/dev/null) |
    python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "verify" and m.get("executable"):
        print(m["executable"])'
}

here=$(build "$PWD" "$PWD/target")
if [ -n "$baseline" ]; then
  src="$PWD/target/baseline-src"
  git worktree remove --force "$src" 2>/dev/null || rm -rf "$src"
  git worktree add --quiet --detach "$src" "$baseline"
  # The same measurement on both sides: this checkout's bench source (it uses only the public
  # API, unchanged since before issue 15).
  cp no_std-core/benches/verify.rs "$src/no_std-core/benches/verify.rs"
  base=$(build "$src" "$PWD/target/baseline-build")
  git worktree remove --force "$src"
  [ -x "$base" ] || { echo "the bench at $baseline did not build" >&2; exit 1; }
fi
[ -x "$here" ] || { echo "the bench did not build" >&2; exit 1; }

# Instructions per iteration of one case: callgrind counts only inside `measured`; both builds
# read this checkout's fixture files.
count() {
  local exe=$1 case=$2 times=$3 out
  out=$(mktemp)
  OTUF_BENCH_FIXTURES="$PWD/tests/fixtures/bench" OTUF_BENCH_CASE=$case OTUF_BENCH_COUNT=$times \
    valgrind --tool=callgrind --toggle-collect='*measured*' --callgrind-out-file="$out" "$exe" \
    >/dev/null 2>&1 || { echo "$case failed under callgrind ($exe)" >&2; exit 1; }
  awk -v n="$times" '/^totals:/ {printf "%d", $2 / n}' "$out"
  rm -f "$out"
}

rows=""
for spec in snapshot-16384/general:3 snapshot-16384/streaming:3 bin-50/general:30 bin-50/streaming:30; do
  case=${spec%:*} times=${spec#*:}
  rows="$rows$case $(count "$here" "$case" "$times") $([ -z "$baseline" ] || count "$base" "$case" "$times")"$'\n'
done
python3 - "$baseline" "$rows" <<'PY'
import sys
base, rows = sys.argv[1], sys.argv[2]
head = f"{'case':26} {'instructions':>14}"
print(head + (f" {'at ' + base[:10]:>14} {'ratio':>8}" if base else ""))
for line in rows.splitlines():
    if not line.strip():
        continue
    case, now, *before = line.split()
    row = f"{case:26} {int(now):>14,}"
    if before:
        row += f" {int(before[0]):>14,} {int(now) / int(before[0]):7.3f}x"
    print(row)
PY
