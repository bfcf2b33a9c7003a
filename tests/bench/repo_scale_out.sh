#!/usr/bin/env bash
# otuf-repo (release) scaled out: one and three `serve` processes on one PostgreSQL database
# (127.0.0.1:5432) and one S3 endpoint (s3s-fs on a local folder), 256 bins, under RSTUF's 100x2 and 50x50 scenarios (otuf-load
# spreads the requests over the processes); then a bulk import of ARTIFACTS (default
# 1,000,000) into 16,384 bins through POST /api/v1/artifacts/import, timed from the request to
# the publishing task's success (RSTUF: 55 minutes on an 8-core laptop; goal: under 5).
#   tests/bench/repo_scale_out.sh [ARTIFACTS]
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -q -p otuf-repo -p otuf-tests --bin otuf-repo --bin otuf-load
artifacts=${1:-1000000}
work=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
# The S3 endpoint: s3s-fs (an S3-protocol server in Rust, from crates.io, installed here once);
# the tests use moto's, which is too slow for thousands of objects a second.
[ -x target/tools/bin/s3s-fs ] ||
  cargo install -q s3s-fs --version 0.14.1 --features binary --root target/tools --locked
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret
s3_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/s3/otuf-bench"
target/tools/bin/s3s-fs --host 127.0.0.1 --port "$s3_port" --access-key bench \
  --secret-key bench-secret "$work/s3" > "$work/s3.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$s3_port/" && break; sleep 0.1; done

# serve N DATABASE BINS: N processes on a new database and prefix; their base URLs in $bases.
serve() {
  local n=$1 db=$2 bins=$3
  bases=""
  psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" postgres
  for i in $(seq "$n"); do
    local log="$work/$db-$i.log"
    RUST_LOG=otuf_repo=debug target/release/otuf-repo serve --dev --bins "$bins" --listen 127.0.0.1:0 \
      --data-dir "$work/$db-$i" --online-key-dir "$work/$db-keys" \
      --state "postgres://postgres@127.0.0.1:5432/$db" \
      --storage "s3://otuf-bench/$db?endpoint=http://127.0.0.1:$s3_port&allow_http=true&region=us-east-1" \
      > /dev/null 2> "$log" &
    pids+=($!)
    for _ in $(seq 600); do grep -q "listening on" "$log" && break; sleep 0.1; done
    bases="$bases${bases:+,}$(grep -o 'http://[0-9.:]*' "$log" | head -1)"
  done
}

for n in 1 3; do
  echo "== $n process(es), PostgreSQL + S3, 256 bins"
  serve "$n" "otuf_bench_$n" 256
  target/release/otuf-load "$bases" 100x2 50x50
  echo "  server side, the last publications (first process):"
  grep "published .* file(s)" "$work/otuf_bench_$n-1.log" | tail -2 | sed 's/.*published/    published/'
done

echo "== bulk import: $artifacts artifacts into 16,384 bins, one process, PostgreSQL + S3"
serve 1 otuf_bench_import 16384
base=$bases
.venv/bin/python - "$artifacts" > "$work/import.csv" <<'PY'
import sys
out = sys.stdout
out.write("path;size;hash-type;hash\n")
for i in range(int(sys.argv[1])):
    out.write(f"import/{i // 1000}/{i}.bin;{1000 + i};sha256;{i:064x}\n")
PY
start=$(date +%s.%N)
task=$(curl -s --fail-with-body -X POST -H 'content-type: text/csv' --data-binary @"$work/import.csv" \
  "$base/api/v1/artifacts/import" | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["data"]["task_id"])')
accepted=$(date +%s.%N)
while :; do
  state=$(curl -s "$base/api/v1/task/?task_id=$task" | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["data"]["state"])')
  [ "$state" = SUCCESS ] && break
  sleep 1
done
done_at=$(date +%s.%N)
python3 - "$start" "$accepted" "$done_at" "$artifacts" <<'PY'
import sys
start, accepted, done, n = map(float, sys.argv[1:])
total = done - start
print(f"imported {int(n):,} artifacts: accepted (checked and stored) in {accepted - start:.1f} s, "
      f"published in {total:.1f} s = {total / 60:.2f} min "
      f"(RSTUF 55 min: {55 * 60 / total:.0f}x; goal under 5 min)")
PY
grep "published .* file(s)" "$work/otuf_bench_import-1.log" | tail -1 | sed 's/.*published/  publication: published/' || true
