#!/usr/bin/env python3
"""Prints otuf-core (criterion estimates) beside python-tuf (python_verify.py output).

    ratios.py PYTHON_JSONL CRITERION_DIR [BASELINE_CRITERION_DIR BASELINE_NAME]

With a baseline (compare.sh --baseline), each otuf-core figure is also shown against the same
benchmark of the baseline commit, measured in the same run.
"""
import json
import sys
from pathlib import Path

py = {}
for line in Path(sys.argv[1]).read_text().splitlines():
    r = json.loads(line)
    py[r["case"]] = r
crit = Path(sys.argv[2])
base = Path(sys.argv[3]) if len(sys.argv) > 4 else None


def mean_seconds(root: Path, group: str, case: str) -> float:
    est = json.loads((root / group / case / "new" / "estimates.json").read_text())
    return est["mean"]["point_estimate"] / 1e9


# python-tuf's trusted-set path is the like-for-like one: it also checks the parent's hashes
# and versions; the plain from_bytes + verify_delegate figure is shown too.
rows = [("snapshot-16384", "snapshot-16384-trusted-set", "snapshot-16384"),
        ("bin-50", "bin-50-trusted-set", "bin-50")]
print(f"{'file':16} {'otuf mode':10} {'otuf':>10} {'MB/s':>8} {'python-tuf':>11} {'MB/s':>7} {'ratio':>7} {'vs parse+verify':>16}")
for group, py_set, py_plain in rows:
    p, q = py[py_set], py[py_plain]
    for mode in ("general", "streaming"):
        secs = mean_seconds(crit, group, mode)
        mbs = p["bytes"] / secs / 1e6
        print(f"{group:16} {mode:10} {secs*1e3:8.3f}ms {mbs:8.1f} {p['seconds_per_iter']*1e3:9.3f}ms "
              f"{p['mb_per_s']:7.2f} {p['seconds_per_iter']/secs:6.1f}x {q['seconds_per_iter']/secs:15.1f}x")

# One signature per bin puts a floor under every verifier: the time of that signature check
# alone. No implementation can beat python-tuf by more than python-tuf's time over that floor.
floor = json.loads((crit / "bin-50" / "ed25519-floor" / "new" / "estimates.json").read_text())
floor_s = floor["mean"]["point_estimate"] / 1e9
py_floor = py["bin-50-ed25519-floor"]["seconds_per_iter"]
py_bin = py["bin-50-trusted-set"]["seconds_per_iter"]
print(f"\nbin-50 floor: one ed25519 verification alone takes {floor_s * 1e6:.1f} us in otuf-core "
      f"(ed25519-compact), {py_floor * 1e6:.1f} us in OpenSSL (pyca/cryptography).")
print(f"  python-tuf's whole bin takes {py_bin * 1e6:.1f} us: no verifier of this bin can be more than "
      f"{py_bin / floor_s:.1f}x faster than python-tuf with ed25519-compact's verification, "
      f"or {py_bin / py_floor:.1f}x with OpenSSL's.")

if base is not None:
    # The same benchmarks at the baseline commit: > 1.00x means faster now.
    print(f"\notuf-core now against {sys.argv[4]} (same run, same machine):")
    print(f"{'file':16} {'otuf mode':10} {'before':>10} {'after':>10} {'speed-up':>9}")
    for group, _, _ in rows:
        for mode in ("general", "streaming"):
            before, after = mean_seconds(base, group, mode), mean_seconds(crit, group, mode)
            print(f"{group:16} {mode:10} {before*1e3:8.3f}ms {after*1e3:8.3f}ms {before/after:8.2f}x")
