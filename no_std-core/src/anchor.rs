//! The trust anchor: a verified root as a device keeps it, in a compact binary form.
//!
//! A device is provisioned with its first root. Embedded as `root.json` it costs the JSON
//! (1.3 KiB for one root holder and one online key) and a check of its own signatures at every
//! boot, which proves nothing the firmware image does not (the root is exactly as trusted as
//! the code that embeds it). The anchor is that root after otuf-core has read and checked it on
//! the build host ([`write()`], from [`Root`]): its keys, the top-level roles' keys and
//! thresholds, `consistent_snapshot`, `version` and `expires` (208 bytes for two ed25519 keys).
//! [`Client::trust_anchor`](crate::client::Client::trust_anchor) starts the refresh from it,
//! and every later root is verified against it as TUF §5.3 says: a new root is still JSON,
//! signed by a threshold of the anchor's root keys and of its own.
//!
//! Layout (integers little-endian): `otuf-anchor1`, `version` u64, `expires` i64,
//! `consistent_snapshot` u8, the key count u8, each key (key ID 32 bytes, kind u8: 0 absent,
//! 1 unsupported, 2 ed25519 + 32 bytes, 3 ECDSA P-256 + the 65-byte SEC1 point), then root,
//! timestamp, snapshot and targets: key bits u32 (bit `i` is key `i`), threshold u64.

use crate::crypto::{Key, PublicKey};
use crate::error::{Error, ErrorKind, Field, Result};
use crate::json::Sink;
use crate::metadata::Root;
use crate::time::UnixTime;

const MAGIC: &[u8] = b"otuf-anchor1";
const ABSENT: u8 = 0;
const UNSUPPORTED: u8 = 1;
const ED25519: u8 = 2;
const ECDSA_P256: u8 = 3;

/// Writes `root`'s anchor to `out`. `root` is one otuf-core read and verified (as
/// [`TrustedSet::root`](crate::trusted::TrustedSet::root) holds it). A key of a kind a device
/// cannot verify with (RSA) is written as unsupported, as a device reading the JSON would
/// hold it.
pub fn write(root: &Root, out: &mut dyn Sink) {
    out.write(MAGIC);
    out.write(&root.common.version.to_le_bytes());
    out.write(&root.common.expires.0.to_le_bytes());
    out.write(&[u8::from(root.consistent_snapshot), root.keys.len() as u8]);
    for key in &root.keys {
        out.write(&key.keyid);
        match &key.public {
            PublicKey::Ed25519(pk) => {
                out.write(&[ED25519]);
                out.write(pk);
            }
            #[cfg(feature = "ecdsa")]
            PublicKey::EcdsaP256(pk) => {
                out.write(&[ECDSA_P256]);
                out.write(pk.to_encoded_point(false).as_bytes());
            }
            PublicKey::Absent => out.write(&[ABSENT]),
            _ => out.write(&[UNSUPPORTED]),
        }
    }
    for role in [&root.root, &root.timestamp, &root.snapshot, &root.targets] {
        out.write(&role.keys.to_le_bytes());
        out.write(&role.threshold.to_le_bytes());
    }
}

/// Reads an anchor into `root` (in place: a device's root is not copied through the stack).
/// Refused, naming the anchor, when it is not one this build can hold (its layout, more keys
/// than [`MAX_KEYS`](crate::limits::MAX_KEYS), a role naming a key it lacks, a zero threshold
/// or version).
#[inline(never)] // one copy, its frame only while it runs
pub(crate) fn read(anchor: &[u8], root: &mut Root) -> Result<()> {
    let mut r = Reader(anchor);
    let field = Field::TrustAnchor;
    let count = read_header(&mut r, root).ok_or(Error::new(ErrorKind::BadValue, field))?;
    root.keys.clear();
    if usize::from(count) > root.keys.capacity() {
        return Err(Error::new(ErrorKind::Limit, field));
    }
    read_rest(&mut r, root, count).ok_or(Error::new(ErrorKind::BadValue, field))
}

/// `version`, `expires` and `consistent_snapshot` into `root`; the key count.
fn read_header(r: &mut Reader<'_>, root: &mut Root) -> Option<u8> {
    if r.take(MAGIC.len())? != MAGIC {
        return None;
    }
    root.common.version = r.u64().filter(|&v| v > 0)?;
    root.common.expires = UnixTime(r.u64()? as i64);
    root.consistent_snapshot = r.byte()? != 0;
    r.byte()
}

/// The keys and the roles into `root`, and nothing after them.
fn read_rest(r: &mut Reader<'_>, root: &mut Root, count: u8) -> Option<()> {
    for _ in 0..count {
        let keyid = r.take(32)?.try_into().ok()?;
        let public = match r.byte()? {
            ABSENT => PublicKey::Absent,
            UNSUPPORTED => PublicKey::Unsupported,
            ED25519 => PublicKey::Ed25519(r.take(32)?.try_into().ok()?),
            // ECDSA P-256's SEC1 point (without `ecdsa` the key cannot verify).
            ECDSA_P256 => crate::crypto::decode_sec1(r.take(65)?).unwrap_or(PublicKey::Unsupported),
            _ => return None,
        };
        root.keys.push(Key { keyid, public }).ok()?;
    }
    let all = u32::MAX.checked_shl(u32::from(count)).unwrap_or(0);
    for role in [
        &mut root.root,
        &mut root.timestamp,
        &mut root.snapshot,
        &mut root.targets,
    ] {
        role.keys = u32::from_le_bytes(r.take(4)?.try_into().ok()?);
        role.threshold = r.u64().filter(|&t| t > 0)?;
        if role.keys & all != 0 {
            return None; // a key the anchor lacks
        }
    }
    r.0.is_empty().then_some(())
}

/// The anchor's bytes, read front to back.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }

    fn byte(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::metadata::RoleKeys;
    use std::vec::Vec;

    /// The anchor's bytes, written.
    fn bytes_of(root: &Root) -> Vec<u8> {
        struct Bytes(Vec<u8>);
        impl Sink for Bytes {
            fn write(&mut self, bytes: &[u8]) {
                self.0.extend_from_slice(bytes);
            }
        }
        let mut out = Bytes(Vec::new());
        write(root, &mut out);
        out.0
    }

    fn sample() -> Root {
        let mut root = Root::default();
        root.common.version = 7;
        root.common.expires = UnixTime(1_900_000_000);
        root.consistent_snapshot = true;
        for (i, public) in [PublicKey::Ed25519([9; 32]), PublicKey::Absent]
            .into_iter()
            .enumerate()
        {
            let keyid = [i as u8 + 1; 32];
            root.keys.push(Key { keyid, public }).unwrap();
        }
        let role = |keys, threshold| RoleKeys { keys, threshold };
        (root.root, root.timestamp) = (role(0b01, 1), role(0b10, 1));
        (root.snapshot, root.targets) = (role(0b11, 2), role(0b01, 1));
        root
    }

    #[test]
    fn an_anchor_reads_back_as_the_root_it_was_written_from() {
        let bytes = bytes_of(&sample());
        let mut back = Root::default();
        read(&bytes, &mut back).unwrap();
        assert_eq!(back, sample());
    }

    #[test]
    fn a_damaged_anchor_is_refused_naming_it() {
        let bytes = bytes_of(&sample());
        let refused = |bytes: &[u8]| {
            let e = read(bytes, &mut Root::default()).unwrap_err();
            assert_eq!(e.field(), "trust anchor");
            e.kind()
        };
        // Every truncation, and a byte too many.
        for n in 0..bytes.len() {
            assert_eq!(refused(&bytes[..n]), ErrorKind::BadValue, "{n} bytes");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(refused(&longer), ErrorKind::BadValue);
        // Another layout, a zero version, a role naming a key the anchor lacks, no threshold.
        let mut other = bytes.clone();
        other[11] = b'2';
        assert_eq!(refused(&other), ErrorKind::BadValue);
        let changed = |change: fn(&mut Root)| {
            let mut root = sample();
            change(&mut root);
            bytes_of(&root)
        };
        for change in [
            (|r: &mut Root| r.common.version = 0) as fn(&mut Root),
            |r| r.targets.keys = 0b100,
            |r| r.snapshot.threshold = 0,
        ] {
            assert_eq!(refused(&changed(change)), ErrorKind::BadValue);
        }
        // More keys than the build holds.
        let mut b = changed(|r| r.keys.clear());
        let count = MAGIC.len() + 17;
        b[count] = crate::limits::MAX_KEYS as u8 + 1;
        let key = [[0u8; 32].as_slice(), &[ABSENT]].concat();
        let at = count + 1;
        for _ in 0..=crate::limits::MAX_KEYS {
            b.splice(at..at, key.iter().copied());
        }
        assert_eq!(refused(&b), ErrorKind::Limit);
    }

    /// `root` as its anchor holds it: an RSA key (no device verifies with one) is unsupported.
    fn held(root: &Root) -> Root {
        #[cfg_attr(not(feature = "std"), allow(unused_mut))]
        let mut root = root.clone();
        #[cfg(feature = "std")]
        for key in &mut root.keys {
            if matches!(key.public, PublicKey::RsaPss(_)) {
                key.public = PublicKey::Unsupported;
            }
        }
        root
    }

    #[test]
    fn every_fixture_root_is_the_same_trusted_root_from_its_anchor() {
        use crate::client::Client;
        use crate::limits::Limits;
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/repos");
        let mut cases = 0;
        for case in std::fs::read_dir(dir).unwrap() {
            let name = case.unwrap().file_name().into_string().unwrap();
            let json = crate::fixture(&name, "trusted_root.json");
            let mut from_json = Client::untrusted(UnixTime(0), Limits::default());
            if from_json.trust_root(&json).is_err() {
                continue; // a case about a bad trusted root
            }
            let bytes = bytes_of(from_json.trusted().root());
            let mut from_anchor = Client::untrusted(UnixTime(0), Limits::default());
            from_anchor.trust_anchor(&bytes).unwrap();
            assert_eq!(
                from_anchor.trusted().root(),
                &held(from_json.trusted().root()),
                "{name}"
            );
            assert_eq!(from_anchor.next(), from_json.next(), "{name}");
            cases += 1;
        }
        assert!(cases > 50, "{cases} fixture roots");
    }
}
