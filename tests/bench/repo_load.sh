#!/usr/bin/env bash
# otuf-repo (release, SQLite + local folder, 256 bins) under RSTUF's load scenarios, driven by
# otuf-load (tests/src/bin/otuf-load.rs): each request polls its own task, so the figures are
# the service's, not a client's.
#   tests/bench/repo_load.sh [SCENARIO ...]     (100x2 50x50 1x5000; default all)
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -q -p otuf-repo -p otuf-tests --bin otuf-repo --bin otuf-load
data=$(mktemp -d)
log=$(mktemp)
target/release/otuf-repo serve --dev --listen 127.0.0.1:0 --data-dir "$data" 2> "$log" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$data" "$log"' EXIT
for _ in $(seq 100); do grep -q "listening on" "$log" && break; sleep 0.1; done
base=$(grep -o 'http://[0-9.:]*' "$log" | head -1)
target/release/otuf-load "$base" "$@"
