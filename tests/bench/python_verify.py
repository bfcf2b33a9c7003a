#!/usr/bin/env python3
"""Time python-tuf verifying the benchmark repository in tests/fixtures/bench/.

    .venv/bin/python tests/bench/python_verify.py [--iterations N] [--bin-iterations M]

(re)generate the repository first with tests/fixtures/generate_bench.py.

Prints one JSON line per measurement:
  {"impl": "python-tuf", "case": ..., "path": ..., "bytes": ..., "iterations": ...,
   "seconds_per_iter": ..., "mb_per_s": ...}
cases:
  snapshot-16384              Metadata.from_bytes + Root.verify_delegate("snapshot")
  snapshot-16384-trusted-set  TrustedMetadataSet.update_snapshot (root+timestamp loaded
                              outside the timed region, fresh set per iteration)
  bin-<n>                     Metadata.from_bytes + Targets.verify_delegate(<bin role>)
  bin-<n>-trusted-set         TrustedMetadataSet.update_delegated_targets(<bin>, "targets")
  bin-<n>-ed25519-floor       the bin's one signature alone (OpenSSL), canonical bytes ready
Only reports; no assertions on speed. mb_per_s = bytes / seconds_per_iter / 1e6.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.dont_write_bytecode = True
from tuf.api.metadata import Metadata  # noqa: E402
from tuf.ngclient._internal.trusted_metadata_set import TrustedMetadataSet  # noqa: E402
from tuf.ngclient.config import EnvelopeType  # noqa: E402

BENCH = Path(__file__).resolve().parents[1] / "fixtures" / "bench"


def report(case, path, nbytes, iters, total):
    per = total / iters
    print(json.dumps({"impl": "python-tuf", "case": case, "path": path, "bytes": nbytes,
                      "iterations": iters, "seconds_per_iter": round(per, 9),
                      "mb_per_s": round(nbytes / per / 1e6, 3)}), flush=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--iterations", type=int, default=20, help="snapshot iterations")
    ap.add_argument("--bin-iterations", type=int, default=500)
    args = ap.parse_args()

    info = json.loads((BENCH / "info.json").read_text())
    now = datetime.fromtimestamp(info["now"], timezone.utc)
    raw = {n: (BENCH / n).read_bytes()
           for n in ("root.json", "timestamp.json", "snapshot.json", "targets.json",
                     "bin.json")}
    bin_role = info["bin_role"]
    nbin = len(info["bin_targets"])
    root = Metadata.from_bytes(raw["root.json"]).signed
    targets = Metadata.from_bytes(raw["targets.json"]).signed

    def fresh_set():
        ts = TrustedMetadataSet(raw["root.json"], EnvelopeType.METADATA)
        ts.reference_time = now
        ts.update_timestamp(raw["timestamp.json"])
        return ts

    # -- snapshot via Metadata API
    snap = raw["snapshot.json"]
    total = 0.0
    for _ in range(args.iterations):
        t0 = time.perf_counter()
        md = Metadata.from_bytes(snap)
        root.verify_delegate("snapshot", md.signed_bytes, md.signatures)
        total += time.perf_counter() - t0
    assert len(md.signed.meta) == info["number_of_bins"] + 1
    report("snapshot-16384", "Metadata.from_bytes+Root.verify_delegate", len(snap),
           args.iterations, total)

    # -- snapshot via TrustedMetadataSet
    total = 0.0
    for _ in range(args.iterations):
        tset = fresh_set()
        t0 = time.perf_counter()
        tset.update_snapshot(snap)
        total += time.perf_counter() - t0
    report("snapshot-16384-trusted-set", "TrustedMetadataSet.update_snapshot", len(snap),
           args.iterations, total)

    # -- bin via Metadata API
    binb = raw["bin.json"]
    total = 0.0
    for _ in range(args.bin_iterations):
        t0 = time.perf_counter()
        md = Metadata.from_bytes(binb)
        targets.verify_delegate(bin_role, md.signed_bytes, md.signatures)
        total += time.perf_counter() - t0
    assert len(md.signed.targets) == nbin
    report(f"bin-{nbin}", "Metadata.from_bytes+Targets.verify_delegate", len(binb),
           args.bin_iterations, total)

    # -- the floor under python-tuf's bin: its one ed25519 signature checked by
    #    pyca/cryptography (OpenSSL) over canonical bytes prepared in advance
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    sig = md.signatures[next(iter(md.signatures))]
    key = targets.delegations.keys[sig.keyid]
    pub = Ed25519PublicKey.from_public_bytes(bytes.fromhex(key.keyval["public"]))
    signed_bytes, raw_sig = md.signed_bytes, bytes.fromhex(sig.signature)
    total = 0.0
    for _ in range(args.bin_iterations):
        t0 = time.perf_counter()
        pub.verify(raw_sig, signed_bytes)
        total += time.perf_counter() - t0
    report(f"bin-{nbin}-ed25519-floor", "Ed25519PublicKey.verify (OpenSSL)", len(binb),
           args.bin_iterations, total)

    # -- bin via TrustedMetadataSet (snapshot + targets loaded once, outside timing)
    tset = fresh_set()
    tset.update_snapshot(snap)
    tset.update_targets(raw["targets.json"])
    total = 0.0
    for _ in range(args.bin_iterations):
        t0 = time.perf_counter()
        tset.update_delegated_targets(binb, bin_role, "targets")
        total += time.perf_counter() - t0
    report(f"bin-{nbin}-trusted-set", "TrustedMetadataSet.update_delegated_targets",
           len(binb), args.bin_iterations, total)
    return 0


if __name__ == "__main__":
    sys.exit(main())
