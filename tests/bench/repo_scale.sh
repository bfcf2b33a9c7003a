#!/usr/bin/env bash
# otuf-repo (release) at scale: 1,000,000 artifacts in 16,384 succinct bins, then the latency of
# one more addition until it is published in signed metadata. Goal: under 50 ms.
#   tests/bench/repo_scale.sh [ARTIFACTS]
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -q -p otuf-repo
data=$(mktemp -d)
log=$(mktemp)
RUST_LOG=otuf_repo=debug target/release/otuf-repo serve --dev --bins 16384 --listen 127.0.0.1:0 --data-dir "$data" 2> "$log" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$data" "$log"' EXIT
for _ in $(seq 600); do grep -q "listening on" "$log" && break; sleep 0.1; done
base=$(grep -o 'http://[0-9.:]*' "$log" | head -1)
python3 tests/bench/repo_scale.py "$base" "${1:-1000000}"
echo "publications of the single additions (server side):"
grep "published .* file(s)" "$log" | tail -5 | sed 's/.*published/  published/'
