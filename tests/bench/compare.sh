#!/usr/bin/env bash
# otuf-core vs python-tuf verifying the same files (tests/fixtures/bench): a 16,384-bin
# snapshot and one hash bin, ed25519. Runs both, prints time, MB/s and the ratio.
#   tests/bench/compare.sh            (about two minutes; quiet machine recommended)
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import tuf' 2>/dev/null; then
  python3 -m venv .venv && .venv/bin/pip install --quiet -r tests/python/requirements.txt
fi
cargo bench -p otuf-core --features std --bench verify -- --warm-up-time 2 --measurement-time 5 >/dev/null
.venv/bin/python tests/bench/python_verify.py > target/python-verify.jsonl
.venv/bin/python tests/bench/ratios.py target/python-verify.jsonl target/criterion
