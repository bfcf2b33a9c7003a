#!/usr/bin/env bash
# Client benchmark: otuf-agent vs python-tuf ngclient, refresh + one download against 100,000
# targets in 1,024 succinct bins on 127.0.0.1. Prints times, the ratio and the bytes fetched.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import tuf' 2>/dev/null; then
  python3 -m venv .venv && .venv/bin/pip install --quiet -r tests/python/requirements.txt
fi
cargo build --release -q -p otuf-agent -p otuf-tests --bin otuf-agent --bin otuf-serve
repo=target/bench-client-repo
[ -f $repo/info.json ] || .venv/bin/python tests/bench/generate_large_repo.py $repo
.venv/bin/python tests/bench/client_compare.py target/release/otuf-agent target/release/otuf-serve $repo "$@"
