#!/usr/bin/env python3
"""A large repository for the client benchmark: 100,000 targets in 1,024 TAP 15 succinct bins,
ed25519, consistent snapshots, compact canonical-order JSON (as otuf-repo writes it).

    .venv/bin/python tests/bench/generate_large_repo.py OUT_DIR [--targets N] [--bit-length B]

Writes OUT_DIR/metadata/{1.root.json, timestamp.json, 1.snapshot.json, 1.targets.json,
1.bins-XXX.json...}, OUT_DIR/trusted_root.json, and only the one target the benchmark
downloads under OUT_DIR/targets/ (OUT_DIR/info.json names it). Deterministic.
"""
import argparse
import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import (
    DelegatedRole, Delegations, Key, Metadata, MetaFile, Role, Root, Snapshot, SuccinctRoles,
    TargetFile, Targets, Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

EXPIRES = datetime(2030, 1, 1, tzinfo=timezone.utc)


def signer(seed: str) -> CryptoSigner:
    key = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(seed.encode()).digest())
    return CryptoSigner(key)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--targets", type=int, default=100_000)
    ap.add_argument("--bit-length", type=int, default=10)
    a = ap.parse_args()
    out = Path(a.out)
    (out / "metadata").mkdir(parents=True, exist_ok=True)
    ser = JSONSerializer(compact=True)
    signers = {r: signer(f"bench-{r}") for r in ("root", "timestamp", "snapshot", "targets", "bins")}
    keys = {r: s.public_key for r, s in signers.items()}

    root = Root(expires=EXPIRES, consistent_snapshot=True)
    for r in ("root", "timestamp", "snapshot", "targets"):
        root.add_key(keys[r], r)
    succinct = SuccinctRoles([keys["bins"].keyid], 1, a.bit_length, "bins")
    targets = Targets(expires=EXPIRES)
    targets.delegations = Delegations(keys={keys["bins"].keyid: keys["bins"]}, succinct_roles=succinct)

    bins: dict[str, Targets] = {name: Targets(expires=EXPIRES) for name in succinct.get_roles()}
    chosen = None
    for i in range(a.targets):
        path = f"firmware/line-{i % 97:02d}/device-{i:06d}.bin"
        data = f"firmware image {i}\n".encode() * 8
        bins[succinct.get_role_for_target(path)].targets[path] = TargetFile.from_data(path, data, ["sha256"])
        if i == a.targets // 2:
            chosen = (path, data)

    def write(md: Metadata, name: str, role: str) -> bytes:
        md.sign(signers[role])
        raw = md.to_bytes(ser)
        (out / "metadata" / name).write_bytes(raw)
        return raw

    snapshot = Snapshot(expires=EXPIRES)
    for name, t in bins.items():
        raw = write(Metadata(t), f"1.{name}.json", "bins")
        snapshot.meta[f"{name}.json"] = MetaFile(1, len(raw), {"sha256": hashlib.sha256(raw).hexdigest()})
    raw = write(Metadata(targets), "1.targets.json", "targets")
    snapshot.meta["targets.json"] = MetaFile(1, len(raw), {"sha256": hashlib.sha256(raw).hexdigest()})
    raw = write(Metadata(snapshot), "1.snapshot.json", "snapshot")
    ts = Timestamp(expires=EXPIRES, snapshot_meta=MetaFile(1, len(raw), {"sha256": hashlib.sha256(raw).hexdigest()}))
    write(Metadata(ts), "timestamp.json", "timestamp")
    raw = write(Metadata(root), "1.root.json", "root")
    (out / "trusted_root.json").write_bytes(raw)

    path, data = chosen
    digest = hashlib.sha256(data).hexdigest()
    dirname, base = path.rsplit("/", 1)
    (out / "targets" / dirname).mkdir(parents=True, exist_ok=True)
    (out / "targets" / dirname / f"{digest}.{base}").write_bytes(data)
    info = {"target": path, "bin": succinct.get_role_for_target(path), "targets": a.targets,
            "bins": succinct.number_of_bins}
    (out / "info.json").write_text(json.dumps(info, indent=1))
    print(json.dumps(info))


if __name__ == "__main__":
    main()
