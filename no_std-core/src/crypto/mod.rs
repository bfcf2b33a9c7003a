//! Public keys, key IDs and signature verification over streamed canonical bytes.
//!
//! `ed25519` always; `ecdsa-sha2-nistp256` with feature `ecdsa`; `rsassa-pss-sha256` with `std`.
//! A key of any other type is kept as [`PublicKey::Unsupported`]: it is authorised but can never
//! produce a valid signature, so it cannot help reach a threshold.

#[cfg(any(feature = "ecdsa", feature = "std"))]
mod pem;
mod verifier;

pub(crate) use verifier::{verifier_threshold, Signatures, Verifiers};

use crate::error::{Error, ErrorKind, Result};
use crate::json::lexer::{Canon, Lexer};
use crate::json::source::Source;
use crate::json::Text;
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
}

/// A key with its ID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key {
    /// Its key ID.
    pub keyid: KeyId,
    /// Its public half.
    pub public: PublicKey,
}

/// The keys of a root or of a set of delegations.
pub type KeySet = heapless::Vec<Key, MAX_KEYS>;

/// Finds a key by ID.
pub(crate) fn find<'k>(keys: &'k [Key], keyid: &KeyId) -> Option<&'k Key> {
    keys.iter().find(|k| &k.keyid == keyid)
}

/// Decodes lower-case hex into `out`, which it must fill exactly.
pub(crate) fn hex_decode(hex: &[u8], out: &mut [u8]) -> Option<()> {
    if hex.len() != out.len() * 2 {
        return None;
    }
    for (o, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let d = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        *o = (d(*pair.first()?)? << 4) | d(*pair.get(1)?)?;
    }
    Some(())
}

/// Reads a 64-hex-digit key ID.
pub(crate) fn parse_keyid(hex: &[u8]) -> Option<KeyId> {
    let mut id = [0u8; 32];
    hex_decode(hex, &mut id).map(|()| id)
}

/// Longest `keyval.public` read: a 4096-bit RSA PEM is about 800 bytes.
const MAX_PUBLIC: usize = 1024;

/// A key object as read: the key, and the digest of its bare form when it has extension fields.
pub(crate) struct ParsedKey {
    /// The public key.
    pub public: PublicKey,
    /// SHA-256 of the canonical `{"keytype", "keyval": {"public"}, "scheme"}` alone, when the
    /// object carries other members (`x-rstuf-key-name`, ...): securesystemslib and RSTUF compute
    /// the key ID before adding them.
    pub bare_id: Option<KeyId>,
}

/// Reads a key object (`keytype`, `scheme`, `keyval.public`; other fields are ignored but, as
/// part of the object, covered by its key ID).
pub(crate) fn parse_key<S: Source, K: Canon>(lx: &mut Lexer<S, K>) -> Result<ParsedKey> {
    // Read in place: a public key text is up to a kilobyte, and moving it into an `Option`
    // would put a second copy on the stack.
    let mut keytype = Text::<32>::default();
    let mut scheme = Text::<32>::default();
    let mut public = Text::<MAX_PUBLIC>::default();
    let (mut seen, mut extra, mut keyval_extra) = ([false; 3], false, false);
    let mut name = Text::<16>::default();
    lx.begin_object().map_err(|e| e.in_field("keys"))?;
    while lx.next_member(&mut name)? {
        match name.get() {
            Some(b"keytype") => {
                keytype.clear();
                lx.string(&mut keytype)
                    .map_err(|e| e.in_field("keys.keytype"))?;
                seen[0] = true;
            }
            Some(b"scheme") => {
                scheme.clear();
                lx.string(&mut scheme)
                    .map_err(|e| e.in_field("keys.scheme"))?;
                seen[1] = true;
            }
            Some(b"keyval") => {
                lx.begin_object().map_err(|e| e.in_field("keys.keyval"))?;
                let mut field = Text::<16>::default();
                while lx.next_member(&mut field)? {
                    if field.is(b"public") {
                        public.clear();
                        lx.string(&mut public)
                            .map_err(|e| e.in_field("keys.keyval.public"))?;
                        seen[2] = true;
                    } else {
                        keyval_extra = true;
                        lx.skip()?;
                    }
                }
            }
            _ => {
                extra = true;
                lx.skip()?;
            }
        }
    }
    let missing = |f| Error::new(ErrorKind::MissingField, f);
    for (seen, field) in seen
        .iter()
        .zip(["keys.keytype", "keys.scheme", "keys.keyval.public"])
    {
        if !seen {
            return Err(missing(field));
        }
    }
    let bare_id = match (
        extra && !keyval_extra,
        keytype.get(),
        scheme.get(),
        public.get(),
    ) {
        (true, Some(k), Some(s), Some(p)) => Some(bare_key_id(k, s, p)),
        _ => None,
    };
    Ok(ParsedKey {
        public: decode_public(keytype.get(), scheme.get(), public.get())
            .unwrap_or(PublicKey::Unsupported),
        bare_id,
    })
}

/// SHA-256 of `{"keytype":..,"keyval":{"public":..},"scheme":..}` in canonical form.
fn bare_key_id(keytype: &[u8], scheme: &[u8], public: &[u8]) -> KeyId {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    let string = |h: &mut Sha256, s: &[u8]| {
        h.update(b"\"");
        // Canonical JSON escapes only `\` and `"`.
        for part in s.split_inclusive(|&b| b == b'"' || b == b'\\') {
            match part.split_last() {
                Some((&last, head)) if last == b'"' || last == b'\\' => {
                    h.update(head);
                    h.update([b'\\', last]);
                }
                _ => h.update(part),
            }
        }
        h.update(b"\"");
    };
    h.update(b"{\"keytype\":");
    string(&mut h, keytype);
    h.update(b",\"keyval\":{\"public\":");
    string(&mut h, public);
    h.update(b"},\"scheme\":");
    string(&mut h, scheme);
    h.update(b"}");
    h.finalize().into()
}

fn decode_public(
    keytype: Option<&[u8]>,
    scheme: Option<&[u8]>,
    public: Option<&[u8]>,
) -> Option<PublicKey> {
    let public = public?;
    match (keytype?, scheme?) {
        (b"ed25519", b"ed25519") => {
            let mut pk = [0u8; 32];
            hex_decode(public, &mut pk)?;
            Some(PublicKey::Ed25519(pk))
        }
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

impl PublicKey {
    /// Whether two keys are the same public key (a key is counted once towards a threshold
    /// even when listed under two key IDs).
    pub(crate) fn same_as(&self, other: &Self) -> bool {
        !matches!(self, Self::Unsupported) && self == other
    }
}
