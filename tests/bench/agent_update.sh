#!/usr/bin/env bash
# One `otuf-agent update` installing a 64 MiB firmware (file installer) from otuf-repo on this
# machine (release builds): the agent's peak RSS and CPU time. Goal: under 16 MiB RSS (the
# image is streamed to staging and into place, never held in memory).
#   tests/bench/agent_update.sh [MIB]
set -euo pipefail
cd "$(dirname "$0")/../.."
mib=${1:-64}
cargo build --release -q -p otuf-repo -p otuf-agent
work=$(mktemp -d)
target/release/otuf-repo serve --dev --listen 127.0.0.1:0 --data-dir "$work/repo" 2> "$work/repo.log" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q "listening on" "$work/repo.log" && break; sleep 0.1; done
base=$(grep -o 'http://[0-9.:]*' "$work/repo.log" | head -1)
head -c $((mib * 1024 * 1024)) /dev/urandom > "$work/fw.bin"
target/release/otuf-repo publish "$work/fw.bin" --path firmware/bench-1.0.0.bin \
  --custom '{"version": "1.0.0", "hardware": "bench"}' --api-server "$base" 2>/dev/null
cat > "$work/agent.toml" <<TOML
state_dir = "state"
[repository]
root = "$work/repo/metadata/1.root.json"
mirrors = [{ metadata = "$base/metadata", targets = "$base/targets" }]
[device]
id = "bench-1"
hardware = "bench"
installed_version = "0.1.0"
[install]
method = "file"
path = "installed.bin"
TOML
target/release/otuf-agent --config "$work/agent.toml" init 2>/dev/null
python3 - "$work" "$mib" <<'PY'
import resource, subprocess, sys, time
work, mib = sys.argv[1], sys.argv[2]
t = time.perf_counter()
out = subprocess.run(["target/release/otuf-agent", "--config", f"{work}/agent.toml", "update"],
                     capture_output=True, text=True)
wall = time.perf_counter() - t
r = resource.getrusage(resource.RUSAGE_CHILDREN)
if out.returncode != 0:
    sys.exit(out.stdout + out.stderr)
print(out.stdout.strip())
print(f"one update cycle with a {mib} MiB firmware: peak RSS {r.ru_maxrss / 1024:.1f} MiB "
      f"(goal < 16 MiB), CPU {r.ru_utime:.2f} s user + {r.ru_stime:.2f} s system, {wall:.2f} s wall")
PY
cmp "$work/fw.bin" "$work/state/../installed.bin" && echo "installed image identical to the published one"
