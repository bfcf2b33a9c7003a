#!/usr/bin/env python3
"""Makes the repository state the Cortex-M4 example verifies, with otuf-repo itself.

    make_state.py OTUF_REPO_BINARY OUT_DIR

A bootstrap ceremony (ed25519 keys only: what the heap-free build accepts), then through
otuf-repo's REST API: a root rotation to v2 (a second root key, threshold 2, a new online key),
firmware 1.0.0 for `sensor-m4` published (the device installed it and kept that timestamp),
firmware 1.1.0 published. The device, which embeds root v1, must follow the chain to v2. OUT_DIR receives:

- `root.json` — root v1, which the firmware embeds as its trusted root;
- `good.tar` — the device's flash slot: `trusted/timestamp.json` (what it persisted last time)
  and what a mirror serves now, under `metadata/` and `targets/`, as a ustar archive;
- signed states the selection must not install: `other-hardware.tar` (the target now says
  `sensor-m7`) and `older-version.tar` (0.9.0, a downgrade);
- tampered slots, each to be refused: `bad-signature.tar` (one signature byte of the device's
  bin changed), `rolled-back-snapshot.tar` (a timestamp signed with the real online key that
  points at an older snapshot), `wrong-image-hash.tar` (one byte of the image changed);
Each slot also holds `now`, the generation time: the board's clock.
"""
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from securesystemslib.formats import encode_canonical
from securesystemslib.signer import CryptoSigner, SSlibKey
from tuf.api.metadata import Metadata, MetaFile, Root, Timestamp

TARGET = "firmware/sensor-m4.bin"
HARDWARE = "sensor-m4"

binary, out = Path(sys.argv[1]), Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
work = out / "repo"
keys = work / "keys"
keys.mkdir(parents=True, exist_ok=True)


def online_key(name: str):
    private = ed25519.Ed25519PrivateKey.generate()
    key = SSlibKey.from_crypto(private.public_key())
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    (keys / key.keyid).write_bytes(pem)
    key.unrecognized_fields["x-rstuf-key-name"] = name
    key.unrecognized_fields["x-rstuf-online-key-uri"] = f"fn:{key.keyid}"
    return CryptoSigner(private, key)


def holder(name: str) -> CryptoSigner:
    private = ed25519.Ed25519PrivateKey.generate()
    key = SSlibKey.from_crypto(private.public_key())
    key.unrecognized_fields["x-rstuf-key-name"] = name
    return CryptoSigner(private, key)


expires = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=365)


def root(version: int, holders, online: CryptoSigner, threshold: int) -> Metadata:
    md = Metadata(Root(version=version, expires=expires, consistent_snapshot=True))
    for role in ("root", "timestamp", "snapshot", "targets"):
        for k in list(md.signed.roles[role].keyids):
            md.signed.revoke_key(k, role)
    for h in holders:
        md.signed.add_key(h.public_key, "root")
    for role in ("timestamp", "snapshot", "targets"):
        md.signed.add_key(online.public_key, role)
    md.signed.roles["root"].threshold = threshold
    for h in holders:
        md.sign(h, append=True)
    return md


a, b = holder("A"), holder("B")
online_1, online_2 = online_key("online"), online_key("online-2")
root_1 = root(1, [a], online_1, 1)
# Root v2: a second holder and a new online key; signed by v1's threshold and its own.
root_2 = root(2, [a, b], online_2, 2)

service = subprocess.Popen(
    [binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", work / "data",
     "--online-key-dir", keys],
    stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    env={"NO_COLOR": "1", "RUST_LOG": "otuf_repo=info", "PATH": "/usr/bin:/bin"})
try:
    for line in service.stderr:
        if "listening on " in line:
            base = line.split("listening on ")[1].strip()
            break
    else:
        sys.exit("otuf-repo exited before listening")

    def call(path: str, body: bytes, headers=None) -> dict:
        req = urllib.request.Request(base + path, data=body, method="POST",
                                     headers={"content-type": "application/json",
                                              **(headers or {})})
        with urllib.request.urlopen(req) as reply:
            task = json.load(reply)["data"]["task_id"]
        for _ in range(1000):
            with urllib.request.urlopen(f"{base}/api/v1/task/?task_id={task}") as reply:
                state = json.load(reply)["data"]
            if state["state"] in ("SUCCESS", "FAILURE", "ERRORED"):
                if state["state"] != "SUCCESS" or state["result"].get("status") is False:
                    sys.exit(f"{path}: {state}")
                return state
            time.sleep(0.02)
        sys.exit(f"{path}: task {task} never finished")

    def publish(version: str, image: bytes, hardware: str = HARDWARE):
        custom = json.dumps({"version": version, "hardware": hardware})
        call(f"/api/v1/artifacts/upload/{TARGET}", image, {"x-otuf-custom": custom})

    metadata = work / "data" / "metadata"

    def image_name(image: bytes) -> str:
        """Where a mirror serves the image (consistent snapshots: `<dir>/<sha256>.<name>`)."""
        return f"targets/firmware/{hashlib.sha256(image).hexdigest()}.sensor-m4.bin"

    def served_now(image: bytes) -> dict:
        """What a mirror serves now for the device, and what the device persisted."""
        timestamp = Metadata.from_bytes((metadata / "timestamp.json").read_bytes())
        snapshot_version = timestamp.signed.snapshot_meta.version
        snapshot = json.loads((metadata / f"{snapshot_version}.snapshot.json").read_bytes())
        targets_version = snapshot["signed"]["meta"]["targets.json"]["version"]
        targets = json.loads((metadata / f"{targets_version}.targets.json").read_bytes())
        succinct = targets["signed"]["delegations"]["succinct_roles"]
        bits = succinct["bit_length"]
        number = int.from_bytes(hashlib.sha256(TARGET.encode()).digest()[:4], "big") >> (32 - bits)
        bin_role = f"{succinct['name_prefix']}-{number:0{len(f'{(1 << bits) - 1:x}')}x}"
        bin_file = f"{snapshot['signed']['meta'][bin_role + '.json']['version']}.{bin_role}.json"
        files = {
            "now": str(int(time.time())).encode(),
            "trusted/timestamp.json": installed_timestamp,
            "metadata/2.root.json": (metadata / "2.root.json").read_bytes(),
            "metadata/timestamp.json": (metadata / "timestamp.json").read_bytes(),
            f"metadata/{snapshot_version}.snapshot.json":
                (metadata / f"{snapshot_version}.snapshot.json").read_bytes(),
            f"metadata/{targets_version}.targets.json":
                (metadata / f"{targets_version}.targets.json").read_bytes(),
            f"metadata/{bin_file}": (metadata / bin_file).read_bytes(),
            image_name(image): image,
        }
        return files, bin_file

    settings = {"roles": {"root": {"expiration": 365}, "timestamp": {"expiration": 1},
                          "snapshot": {"expiration": 1}, "targets": {"expiration": 365},
                          "bins": {"expiration": 30, "number_of_delegated_bins": 16}}}
    call("/api/v1/bootstrap/", json.dumps(
        {"settings": settings, "metadata": {"root": root_1.to_dict()}, "timeout": 300}).encode())
    call("/api/v1/metadata/", json.dumps({"metadata": {"root": root_2.to_dict()}}).encode())
    publish("1.0.0", b"sensor-m4 firmware 1.0.0\n" * 1000)
    # What the device persisted when it installed 1.0.0: its rollback baseline.
    installed_timestamp = (metadata / "timestamp.json").read_bytes()
    image = b"".join(hashlib.sha256(b"1.1.0 %d" % i).digest() for i in range(1536))  # 48 KiB
    publish("1.1.0", image)
    served, bin_file = served_now(image)
    image_file = image_name(image)
    # Signed, and still not for this device: the selection must refuse or skip them.
    other = b"sensor-m7 firmware 1.2.0\n" * 100
    publish("1.2.0", other, hardware="sensor-m7")
    other_hardware, _ = served_now(other)
    older = b"sensor-m4 firmware 0.9.0\n" * 100
    publish("0.9.0", older)
    older_version, _ = served_now(older)
finally:
    service.kill()
    service.wait()

(out / "root.json").write_bytes((metadata / "1.root.json").read_bytes())


def slot(name: str, files: dict):
    with tarfile.open(out / f"{name}.tar", "w", format=tarfile.USTAR_FORMAT) as tar:
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size, info.mtime = len(data), 0
            tar.addfile(info, io.BytesIO(data))


def variant(changes: dict) -> dict:
    files = dict(served)
    files.update(changes)
    return files


slot("good", served)
slot("other-hardware", other_hardware)
slot("older-version", older_version)

bad = json.loads(served[f"metadata/{bin_file}"])
sig = bad["signatures"][0]["sig"]
bad["signatures"][0]["sig"] = ("1" if sig[0] != "1" else "2") + sig[1:]
slot("bad-signature", variant({f"metadata/{bin_file}": encode_canonical(bad).encode()}))

# The online key's holder signs a newer timestamp that points at the snapshot before the one
# the device last trusted: only the device's memory of that snapshot version stops it.
trusted = Metadata[Timestamp].from_bytes(installed_timestamp)
old_version = trusted.signed.snapshot_meta.version - 1
old_snapshot = (metadata / f"{old_version}.snapshot.json").read_bytes()
forged = Metadata[Timestamp].from_bytes(served["metadata/timestamp.json"])
forged.signed.version += 1
forged.signed.snapshot_meta = MetaFile(version=old_version, length=len(old_snapshot))
forged.signatures.clear()
forged.sign(online_2)
slot("rolled-back-snapshot", variant({
    "metadata/timestamp.json": encode_canonical(forged.to_dict()).encode(),
    f"metadata/{old_version}.snapshot.json": old_snapshot,
}))

wrong = bytearray(image)
wrong[len(wrong) // 2] ^= 0x01
slot("wrong-image-hash", variant({image_file: bytes(wrong)}))
print(json.dumps({"bin": bin_file, "image": image_file}))
