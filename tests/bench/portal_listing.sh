#!/usr/bin/env bash
# The portal's listing API (GET /api/v1/artifacts) at 1,000,000 artifacts, on SQLite (default)
# or PostgreSQL (--postgres: a fresh database on 127.0.0.1:5432): p50/p95 of the first page,
# the next page, searches and filters, against the 50 ms goal.
#   tests/bench/portal_listing.sh [--postgres] [ARTIFACTS]
set -euo pipefail
cd "$(dirname "$0")/../.."
state=()
if [ "${1:-}" = "--postgres" ]; then
  shift
  db="otuf_listing_bench"
  psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  state=(--state "postgres://postgres@127.0.0.1:5432/$db")
fi
cargo build --release -q -p otuf-repo
data=$(mktemp -d)
log=$(mktemp)
target/release/otuf-repo serve --dev --bins 16384 --listen 127.0.0.1:0 --data-dir "$data" "${state[@]}" 2> "$log" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$data" "$log"' EXIT
for _ in $(seq 600); do grep -q "listening on" "$log" && break; sleep 0.1; done
base=$(grep -o 'http://[0-9.:]*' "$log" | head -1)
python3 tests/bench/portal_listing.py "$base" "${1:-1000000}"
