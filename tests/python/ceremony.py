#!/usr/bin/env python3
"""Plays the offline side of a repository's life with securesystemslib, as RSTUF's CLI does:
a bootstrap ceremony (root v1, threshold 2, signed by one holder; the second signature is a
separate file for `rstuf admin send sign`), and a root rotation (root v2 with a new root key
and a new online key) with its signatures. Key IDs are computed before `x-rstuf-key-name` is
added, exactly as the CLI does.

    ceremony.py OUT_DIR BINS [--path-hash-prefixes]

writes OUT_DIR/keys/<keyid> (the online keys' private PEM files, named as `fn:<keyid>`),
bootstrap.json, sign-v1.json, update-v2.json, sign-v2-JJ.json and sign-v2-Kay.json.
"""
import json
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from securesystemslib.signer import CryptoSigner, SSlibKey
from tuf.api.metadata import Key, Metadata, Root

out, bins = Path(sys.argv[1]), int(sys.argv[2])
classic = "--path-hash-prefixes" in sys.argv[3:]
(out / "keys").mkdir(parents=True, exist_ok=True)


def holder(private, name: str) -> CryptoSigner:
    public = SSlibKey.from_crypto(private.public_key())
    public.unrecognized_fields["x-rstuf-key-name"] = name
    return CryptoSigner(private, public)


def online(private, name: str) -> Key:
    key = SSlibKey.from_crypto(private.public_key())
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    (out / "keys" / key.keyid).write_bytes(pem)
    key.unrecognized_fields["x-rstuf-key-name"] = name
    key.unrecognized_fields["x-rstuf-online-key-uri"] = f"fn:{key.keyid}"
    return key


jh = holder(ed25519.Ed25519PrivateKey.generate(), "JH")
jj = holder(ec.generate_private_key(ec.SECP256R1()), "JJ")
kay = holder(ed25519.Ed25519PrivateKey.generate(), "Kay")
online_v1 = online(rsa.generate_private_key(65537, 2048), "online")
online_v2 = online(ec.generate_private_key(ec.SECP256R1()), "online-2")
expires = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=365)


def root_with(version: int, holders, online_key: Key) -> Metadata:
    root = Metadata(Root(version=version, expires=expires, consistent_snapshot=True))
    for role in ("root", "timestamp", "snapshot", "targets"):
        for k in list(root.signed.roles[role].keyids):
            root.signed.revoke_key(k, role)
    for h in holders:
        root.signed.add_key(h.public_key, "root")
    for role in ("timestamp", "snapshot", "targets"):
        root.signed.add_key(online_key, role)
    root.signed.roles["root"].threshold = 2
    return root


def signature(md: Metadata, signer: CryptoSigner) -> dict:
    return {"role": "root", "signature": md.sign(signer, append=True).to_dict()}


def write(name: str, doc: dict):
    (out / name).write_text(json.dumps(doc, indent=1))


v1 = root_with(1, [jh, jj], online_v1)
v1.sign(jh)
write("sign-v1.json", signature(Metadata.from_dict(v1.to_dict()), jj))
bins_settings = {"expiration": 1, "number_of_delegated_bins": bins}
if classic:
    bins_settings["x-otuf-path-hash-prefixes"] = True
write("bootstrap.json", {
    "settings": {"roles": {"root": {"expiration": 365}, "timestamp": {"expiration": 1},
                           "snapshot": {"expiration": 1}, "targets": {"expiration": 365},
                           "bins": bins_settings, "delegations": None}},
    "metadata": {"root": v1.to_dict()},
    "timeout": 300,
})

# Root v2: JJ and Kay hold root (threshold 2), and a new online key. It needs 2 of v1's root
# keys (JH, JJ) and 2 of its own (JJ, Kay): JH signs now, JJ and Kay later.
v2 = root_with(2, [jj, kay], online_v2)
v2.sign(jh, append=True)
write("update-v2.json", {"metadata": {"root": v2.to_dict()}})
write("sign-v2-JJ.json", signature(Metadata.from_dict(v2.to_dict()), jj))
write("sign-v2-Kay.json", signature(Metadata.from_dict(v2.to_dict()), kay))
print(json.dumps({"online_v1": online_v1.keyid, "online_v2": online_v2.keyid}))
