//! Public keys, key IDs and signature verification over streamed canonical bytes.
//!
//! `ed25519` always; `ecdsa-sha2-nistp256` with feature `ecdsa`; `rsassa-pss-sha256` with `std`.
//! A key of any other type is kept as [`PublicKey::Unsupported`]: it is authorised but can never
//! produce a valid signature, so it cannot help reach a threshold.

pub mod ed25519;
#[cfg(any(feature = "ecdsa", feature = "std"))]
mod pem;
mod verifier;

#[cfg(feature = "general")]
pub(crate) use verifier::Signatures;
pub(crate) use verifier::{each_signature, verifier_threshold, Verifiers};

use crate::error::fault::Result;
use crate::error::Field;
use crate::hashes::Sha256;
use crate::json::lexer::{Canon, Lexer};
use crate::json::read::{members, MemberTable, Object, OTHERS};
use crate::json::source::Source;
use crate::json::{StrOut, Text};
use crate::limits::MAX_KEYS;

/// A key ID: the SHA-256 of the canonical key object.
pub type KeyId = [u8; 32];

/// A public key the core can verify with.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublicKey {
    /// `ed25519` / `ed25519`.
    Ed25519([u8; 32]),
    /// `ecdsa` / `ecdsa-sha2-nistp256`, the SEC1 uncompressed point.
    #[cfg(feature = "ecdsa")]
    EcdsaP256(p256::ecdsa::VerifyingKey),
    /// `rsa` / `rsassa-pss-sha256`.
    #[cfg(feature = "std")]
    RsaPss(alloc::boxed::Box<rsa::RsaPublicKey>),
    /// A key type or scheme the core does not verify (or a malformed public key).
    Unsupported,
    /// A key ID a role lists and the key set does not: it authorises nothing that can sign.
    Absent,
}

/// A key with its ID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key {
    /// Its key ID.
    pub keyid: KeyId,
    /// Its public half.
    pub public: PublicKey,
}

/// The keys of a root or of a set of delegations, and the key IDs their roles name without a
/// key ([`PublicKey::Absent`]). Roles refer to them by position ([`RoleKeys`]).
///
/// [`RoleKeys`]: crate::metadata::RoleKeys
pub type KeySet = heapless::Vec<Key, MAX_KEYS>;

const _: () = assert!(MAX_KEYS <= 32, "roles name their keys by bits of a u32");

/// The position of `keyid` among `keys[from..]`.
pub(crate) fn position(keys: &[Key], from: usize, keyid: &KeyId) -> Option<usize> {
    let i = keys.get(from..)?.iter().position(|k| &k.keyid == keyid)?;
    Some(from + i)
}

/// Decodes lower-case hex into `out`, which it must fill exactly.
pub(crate) fn hex_decode(hex: &[u8], out: &mut [u8]) -> Option<()> {
    let mut into = HexInto::new(out);
    into.push(hex);
    into.filled().then_some(())
}

/// Reads a 64-hex-digit key ID.
#[cfg(test)]
pub(crate) fn parse_keyid(hex: &[u8]) -> Option<KeyId> {
    let mut id = [0u8; 32];
    hex_decode(hex, &mut id).map(|()| id)
}

/// A key ID decoded as its string arrives: 64 lower-case hex digits into 32 bytes, with no text
/// kept (half the stack of the text, and no second copy once decoded).
#[derive(Default)]
pub(crate) struct HexKeyId {
    id: KeyId,
    /// Hex digits seen (more than 64 is not a key ID).
    digits: usize,
    bad: bool,
}

impl HexKeyId {
    /// The key ID, when the string was one (by value: a copy out of a borrowed one is a
    /// `memmove` on a device).
    pub(crate) fn id(&self) -> Option<KeyId> {
        (!self.bad && self.digits == 64).then_some(self.id)
    }

    /// Empties it, for the next key.
    pub(crate) fn clear(&mut self) {
        *self = Self::default();
    }
}

impl StrOut for HexKeyId {
    fn push(&mut self, bytes: &[u8]) {
        push_hex(&mut self.id, &mut self.digits, &mut self.bad, bytes);
    }
}

/// Lower-case hex decoded as its string arrives into `out` (a hash in the structure that keeps
/// it: no text, no copy), which it must fill exactly.
pub(crate) struct HexInto<'o> {
    out: &'o mut [u8],
    digits: usize,
    bad: bool,
}

impl<'o> HexInto<'o> {
    pub(crate) fn new(out: &'o mut [u8]) -> Self {
        out.fill(0);
        Self {
            out,
            digits: 0,
            bad: false,
        }
    }

    /// Whether the string was exactly `out`'s bytes in hex.
    pub(crate) fn filled(&self) -> bool {
        !self.bad && self.digits == self.out.len() * 2
    }
}

impl StrOut for HexInto<'_> {
    fn push(&mut self, bytes: &[u8]) {
        push_hex(self.out, &mut self.digits, &mut self.bad, bytes);
    }
}

/// Decodes hex digits into `out` after the `digits` already there; `bad` once one is not a
/// lower-case hex digit or does not fit. A host takes pairs at a time (speed), a device a digit
/// at a time (220 B less code); a test requires the same bytes of both at every split.
fn push_hex(out: &mut [u8], digits: &mut usize, bad: &mut bool, bytes: &[u8]) {
    #[cfg(otuf_small)]
    push_hex_digits(out, digits, bad, bytes);
    #[cfg(not(otuf_small))]
    push_hex_pairs(out, digits, bad, bytes);
}

/// [`push_hex`] on a device: each digit shifts into its byte, so a byte is whole after its
/// second digit whatever it held, wherever the pieces split.
#[cfg(any(otuf_small, test))]
fn push_hex_digits(out: &mut [u8], digits: &mut usize, bad: &mut bool, bytes: &[u8]) {
    for &c in bytes {
        let n = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => 16,
        };
        match out.get_mut(*digits / 2) {
            Some(b) if n < 16 && !*bad => *b = (*b << 4) | n,
            _ => {
                *bad = true;
                return;
            }
        }
        *digits += 1;
    }
}

/// [`push_hex`] on a host: whole pairs at a time where it can (hashes and key IDs mostly
/// arrive as one run; 2.7% of the instructions verifying a hash bin).
#[cfg(any(not(otuf_small), test))]
fn push_hex_pairs(out: &mut [u8], digits: &mut usize, bad: &mut bool, mut bytes: &[u8]) {
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    if *bad || *digits + bytes.len() > out.len() * 2 {
        *bad = true;
        return;
    }
    // The second half of a pair begun in the previous piece.
    if *digits % 2 == 1 {
        let (Some((&c, rest)), Some(b)) = (bytes.split_first(), out.get_mut(*digits / 2)) else {
            return;
        };
        let Some(n) = digit(c) else {
            *bad = true;
            return;
        };
        *b = (*b << 4) | n;
        *digits += 1;
        bytes = rest;
    }
    let pairs = bytes.chunks_exact(2);
    let odd = pairs.remainder();
    for (b, pair) in out.iter_mut().skip(*digits / 2).zip(pairs) {
        let (Some(hi), Some(lo)) = (
            pair.first().and_then(|&c| digit(c)),
            pair.get(1).and_then(|&c| digit(c)),
        ) else {
            *bad = true;
            return;
        };
        *b = (hi << 4) | lo;
        *digits += 2;
    }
    if let (Some(&c), Some(b)) = (odd.first(), out.get_mut(*digits / 2)) {
        let Some(n) = digit(c) else {
            *bad = true;
            return;
        };
        *b = n;
        *digits += 1;
    }
}

/// Longest `keyval.public` kept. General mode keeps any key's (a 4096-bit RSA PEM is about 800
/// bytes), since members may come in any order and the bare key ID is computed afterwards.
/// Streaming mode hashes it as it arrives, so a device keeps only keys it can verify: an
/// ECDSA P-256 PEM (about 180 bytes) or an ed25519 key (64 hex digits).
const MAX_PUBLIC: usize = if cfg!(feature = "general") {
    1024
} else if cfg!(feature = "ecdsa") {
    256
} else {
    64
};

/// `keyval.public` as it is read: the first [`MAX_PUBLIC`] bytes, and the bare key ID's hash
/// fed with its canonical form when the members come in canonical order.
struct Public<'h> {
    kept: Text<MAX_PUBLIC>,
    /// Started in place when the members come in canonical order. Borrowed: a hasher made
    /// inside this struct is made in a temporary first, a second one on the stack.
    bare: &'h mut Sha256,
    hashing: bool,
}

impl StrOut for Public<'_> {
    fn push(&mut self, bytes: &[u8]) {
        self.kept.out().push(bytes);
        if self.hashing {
            crate::json::escape_canonical(bytes, &mut |b| self.bare.update(b));
        }
    }
}

/// Feeds a whole canonical JSON string.
fn string(h: &mut Sha256, s: &[u8]) {
    h.update(b"\"");
    crate::json::escape_canonical(s, &mut |b| h.update(b));
    h.update(b"\"");
}

/// A key object as read: the key, and the digest of its bare form when it has extension fields.
pub(crate) struct ParsedKey {
    /// The public key.
    pub public: PublicKey,
    /// SHA-256 of the canonical `{"keytype", "keyval": {"public"}, "scheme"}` alone, when the
    /// object carries other members (`x-rstuf-key-name`, ...): securesystemslib and RSTUF compute
    /// the key ID before adding them.
    pub bare_id: Option<KeyId>,
}

impl Default for ParsedKey {
    fn default() -> Self {
        Self {
            public: PublicKey::Absent,
            bare_id: None,
        }
    }
}

const KEY: &MemberTable = members![
    ("keytype", Field::KeyType),
    ("keyval", Field::KeyVal),
    ("scheme", Field::KeyScheme),
];
const KEYVAL: &MemberTable = members![("public", Field::KeyPublic)];

/// Reads a key object (`keytype`, `scheme`, `keyval.public`; other fields are ignored but, as
/// part of the object, covered by its key ID).
pub(crate) fn parse_key<S: Source, K: Canon>(
    lx: &mut Lexer<S, K>,
    out: &mut ParsedKey,
) -> Result<()> {
    // Read in place: a public key text is up to a kilobyte, and moving it into an `Option`
    // would put a second copy on the stack; the result goes straight into the caller's `out`.
    let mut keytype = Text::<32>::default();
    let mut scheme = Text::<32>::default();
    let mut bare = Sha256::new();
    let mut public = Public {
        kept: Text::default(),
        bare: &mut bare,
        hashing: false,
    };
    // In canonical order keytype < keyval < scheme: the bare key ID is hashed as they come.
    let sorted = lx.canon.sorted();
    out.bare_id = None;
    let mut keyval_extra = false;
    // Loops, not `record` callbacks: this is the deepest read of all (a key in a key set in
    // `signed`), and each callback would add a frame under the hashing below it.
    let mut key = Object::begin(lx, Field::Keys, KEY)?;
    while let Some(i) = key.next(lx)? {
        match i {
            0 => key.value(lx.string(&mut keytype.out()))?,
            1 => {
                // Errors inside `keyval` name its member, else `keyval` (as nested records do).
                let mut keyval = key.value(Object::begin(lx, Field::KeyVal, KEYVAL))?;
                while key.value(keyval.next(lx))?.is_some() {
                    if let Some(k) = keytype.get().filter(|_| sorted) {
                        let h = &mut *public.bare;
                        h.reset();
                        h.update(b"{\"keytype\":");
                        string(h, k);
                        h.update(b",\"keyval\":{\"public\":\"");
                        public.hashing = true;
                    }
                    key.value(keyval.value(lx.string(&mut public)))?;
                    if public.hashing {
                        public.bare.update(b"\"");
                    }
                }
                keyval_extra = key.value(keyval.end(0b1))? & OTHERS != 0;
            }
            _ => {
                key.value(lx.string(&mut scheme.out()))?;
                if let (true, Some(s)) = (public.hashing, scheme.get()) {
                    let h = &mut *public.bare;
                    h.update(b"},\"scheme\":");
                    string(h, s);
                    h.update(b"}");
                    out.bare_id = Some(h.finish());
                }
                public.hashing = false;
            }
        }
    }
    let seen = key.end(0b111)?;
    if seen & OTHERS == 0 || keyval_extra {
        // No extension member (or one inside `keyval`): the key ID is the whole object's.
        out.bare_id = None;
    } else if out.bare_id.is_none() {
        // Members in any order (general mode): from what was kept.
        #[cfg(feature = "general")]
        if let (Some(k), Some(s), Some(p)) = (keytype.get(), scheme.get(), public.kept.get()) {
            out.bare_id = Some(bare_key_id(k, s, p));
        }
    }
    decode_public(
        &mut out.public,
        keytype.get(),
        scheme.get(),
        public.kept.get(),
    );
    Ok(())
}

/// SHA-256 of `{"keytype":..,"keyval":{"public":..},"scheme":..}` in canonical form.
#[cfg(any(feature = "general", test))]
fn bare_key_id(keytype: &[u8], scheme: &[u8], public: &[u8]) -> KeyId {
    let mut h = Sha256::new();
    h.update(b"{\"keytype\":");
    string(&mut h, keytype);
    h.update(b",\"keyval\":{\"public\":");
    string(&mut h, public);
    h.update(b"},\"scheme\":");
    string(&mut h, scheme);
    h.update(b"}");
    h.finish()
}

/// The public key into `out` (in place: an ed25519 key is decoded where it stays), or
/// [`PublicKey::Unsupported`].
fn decode_public(
    out: &mut PublicKey,
    keytype: Option<&[u8]>,
    scheme: Option<&[u8]>,
    public: Option<&[u8]>,
) {
    *out = PublicKey::Unsupported;
    let (Some(keytype), Some(scheme), Some(public)) = (keytype, scheme, public) else {
        return;
    };
    if keytype == b"ed25519" && scheme == b"ed25519" {
        *out = PublicKey::Ed25519([0; 32]);
        if let PublicKey::Ed25519(pk) = out {
            if hex_decode(public, pk).is_none() {
                *out = PublicKey::Unsupported;
            }
        }
        return;
    }
    if let Some(key) = decode_other(keytype, scheme, public) {
        *out = key;
    }
}

/// Keys other than ed25519 (ECDSA P-256 with `ecdsa`, RSA-PSS with `std`). Out of line: their
/// DER buffers are not in the frame that reads a key.
#[cfg_attr(not(any(feature = "ecdsa", feature = "std")), allow(unused_variables))]
#[inline(never)]
fn decode_other(keytype: &[u8], scheme: &[u8], public: &[u8]) -> Option<PublicKey> {
    match (keytype, scheme) {
        #[cfg(feature = "ecdsa")]
        (b"ecdsa" | b"ecdsa-sha2-nistp256", b"ecdsa-sha2-nistp256") => {
            use p256::pkcs8::DecodePublicKey;
            let mut der = [0u8; 128];
            let der = pem::decode(public, &mut der)?;
            p256::ecdsa::VerifyingKey::from_public_key_der(der)
                .ok()
                .map(PublicKey::EcdsaP256)
        }
        #[cfg(feature = "std")]
        (b"rsa", b"rsassa-pss-sha256") => {
            use rsa::pkcs8::DecodePublicKey;
            let mut der = [0u8; 1100];
            let der = pem::decode(public, &mut der)?;
            rsa::RsaPublicKey::from_public_key_der(der)
                .ok()
                .map(|k| PublicKey::RsaPss(alloc::boxed::Box::new(k)))
        }
        _ => None,
    }
}

/// An ECDSA P-256 key from its SEC1 point (a trust anchor's form); `None` without `ecdsa`.
#[cfg_attr(not(feature = "ecdsa"), allow(unused_variables))]
pub(crate) fn decode_sec1(point: &[u8]) -> Option<PublicKey> {
    #[cfg(feature = "ecdsa")]
    return p256::ecdsa::VerifyingKey::from_sec1_bytes(point)
        .ok()
        .map(PublicKey::EcdsaP256);
    #[cfg(not(feature = "ecdsa"))]
    None
}

impl PublicKey {
    /// Whether two keys are the same public key (a key is counted once towards a threshold
    /// even when listed under two key IDs).
    pub(crate) fn same_as(&self, other: &Self) -> bool {
        !matches!(self, Self::Unsupported | Self::Absent) && self == other
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::lexer::{Canonical, NoCanon};
    use crate::json::source::SliceSource;
    extern crate std;
    use std::{format, string::String};

    type PushHex = fn(&mut [u8], &mut usize, &mut bool, &[u8]);

    /// `text` pushed in the given pieces into 3 bytes by `push` (as `HexInto` does): the bytes
    /// when it filled them.
    fn hex_by(push: PushHex, text: &[u8], cuts: &[usize]) -> Option<[u8; 3]> {
        let (mut out, mut digits, mut bad) = ([0xAA; 3], 0, false);
        let mut from = 0;
        for &cut in cuts.iter().chain([&text.len()]) {
            let cut = cut.clamp(from, text.len());
            push(&mut out, &mut digits, &mut bad, &text[from..cut]);
            from = cut;
        }
        (!bad && digits == 6).then_some(out)
    }

    /// Both variants of `push_hex`, which must agree.
    fn hex_in_pieces(text: &[u8], cuts: &[usize]) -> Option<[u8; 3]> {
        let pairs = hex_by(push_hex_pairs, text, cuts);
        assert_eq!(
            pairs,
            hex_by(push_hex_digits, text, cuts),
            "{text:?} cut at {cuts:?}"
        );
        pairs
    }

    #[test]
    fn hex_decodes_wherever_its_pieces_split_and_refuses_anything_else() {
        for a in 0..=6 {
            for b in a..=6 {
                assert_eq!(hex_in_pieces(b"0fa19c", &[a, b]), Some([0x0f, 0xa1, 0x9c]));
            }
        }
        for bad in [
            &b"0fa19"[..],
            b"0fa19c0",
            b"0FA19C",
            b"0fa19g",
            b"0f a19c",
            b"",
        ] {
            assert_eq!(hex_in_pieces(bad, &[1]), None, "{bad:?}");
        }
    }

    fn bare_id_of(json: &str, sorted: bool) -> Option<KeyId> {
        let src = SliceSource::new(json.as_bytes());
        let mut key = ParsedKey::default();
        if sorted {
            let mut sink = Sha256::new();
            let mut lx = Lexer::new(src, Canonical::strict(&mut sink, true));
            parse_key(&mut lx, &mut key).unwrap();
        } else {
            parse_key(&mut Lexer::new(src, NoCanon), &mut key).unwrap();
        }
        key.bare_id
    }

    #[test]
    fn key_ids_are_decoded_as_they_arrive() {
        let hex = "00ff1e6d983da31111f2db69aac14a56d72af565e51919f4d1dfc97ff06a156c";
        for split in [0, 1, 31, 63, 64] {
            let mut id = HexKeyId::default();
            let (a, b) = hex.split_at(split);
            id.push(a.as_bytes());
            id.push(b.as_bytes());
            assert_eq!(id.id(), parse_keyid(hex.as_bytes()));
            assert!(id.id().is_some());
        }
        for not_an_id in [
            &hex[..62],
            "",
            "00FF1e6d983da31111f2db69aac14a56d72af565e51919f4d1dfc97ff06a156c",
        ] {
            let mut id = HexKeyId::default();
            id.push(not_an_id.as_bytes());
            assert_eq!(id.id(), None, "{not_an_id}");
        }
        let mut digest = [0u8; 4];
        let mut into = HexInto::new(&mut digest);
        into.push(b"00ff");
        into.push(b"1e6d");
        assert!(into.filled());
        assert_eq!(digest, [0x00, 0xff, 0x1e, 0x6d]);
        for not_four_bytes in ["00ff1e6", "00ff1e6d00", "00FF1e6d"] {
            let mut into = HexInto::new(&mut digest);
            into.push(not_four_bytes.as_bytes());
            assert!(!into.filled(), "{not_four_bytes}");
        }
        let mut long = HexKeyId::default();
        long.push(hex.as_bytes());
        long.push(b"0");
        assert_eq!(long.id(), None);
    }

    #[test]
    fn bare_key_ids_are_the_same_streamed_or_not_whatever_the_key_length() {
        // A key with an extension member has its ID computed on the bare form; a PEM longer
        // than any key a device keeps is hashed as it streams.
        for public in [String::from("ab12"), "Q\"\\".repeat(700)] {
            let escaped = public.replace('\\', "\\\\").replace('"', "\\\"");
            let json = format!(
                r#"{{"keytype":"rsa","keyval":{{"public":"{escaped}"}},"scheme":"rsassa-pss-sha256","x-rstuf-key-name":"root 1"}}"#
            );
            let want = bare_key_id(b"rsa", b"rsassa-pss-sha256", public.as_bytes());
            assert_eq!(bare_id_of(&json, true), Some(want), "streamed");
            // Members in any order come only in general mode, which holds them instead.
            if cfg!(feature = "general") && public.len() <= MAX_PUBLIC {
                assert_eq!(bare_id_of(&json, false), Some(want), "held");
            }
        }
        // No extension member: the key ID is the hash of the whole object, no bare form.
        let plain = r#"{"keytype":"ed25519","keyval":{"public":"00"},"scheme":"ed25519"}"#;
        assert_eq!(bare_id_of(plain, true), None);
    }
}
