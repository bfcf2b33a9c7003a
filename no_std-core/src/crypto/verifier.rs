//! Signature checks fed chunk by chunk with the canonical bytes of `signed`.

use super::{Key, KeyId, PublicKey};
use crate::error::fault::{Fault, Result};
use crate::error::{ErrorKind, Field};
use crate::json::lexer::{Canon, Lexer};
use crate::json::read::{list, members, record, MemberTable};
use crate::json::source::Source;
use crate::json::{Sink, Text};
use crate::limits::{MAX_ROLE_KEYS, MAX_SIGNATURE, MAX_SIGNATURES};
use crate::metadata::RoleKeys;

/// One signature from the envelope.
#[cfg(feature = "general")]
#[derive(Clone)]
pub(crate) struct Sig {
    keyid: KeyId,
    bytes: heapless::Vec<u8, MAX_SIGNATURE>,
}

/// The envelope's `signatures`, for key IDs that parse (others can match no key).
#[cfg(feature = "general")]
#[derive(Clone, Default)]
pub(crate) struct Signatures(heapless::Vec<Sig, MAX_SIGNATURES>);

/// Receives each signature as it is read: the tokenizer (to reach its sink), the key ID and
/// the signature's bytes.
pub(crate) type EachSignature<'e, S, K> =
    dyn FnMut(&mut Lexer<S, K>, KeyId, &[u8]) -> Result<()> + 'e;

#[cfg(feature = "general")]
impl Signatures {
    /// Reads the `signatures` array (general mode: checked later, against any authorities).
    pub(crate) fn parse<S: Source, K: Canon>(lx: &mut Lexer<S, K>) -> Result<Self> {
        let mut out = Self::default();
        each_signature(lx, &mut |_, keyid, sig| {
            let bytes = heapless::Vec::from_slice(sig)
                .map_err(|_| Fault::new(ErrorKind::Limit, Field::SignatureSig))?;
            out.0
                .push(Sig { keyid, bytes })
                .map_err(|_| Fault::new(ErrorKind::Limit, Field::Signatures))
        })?;
        Ok(out)
    }

    fn get(&self, keyid: &KeyId) -> Option<&Sig> {
        self.0.iter().find(|s| &s.keyid == keyid)
    }
}

const SIGNATURE: &MemberTable = members![
    ("keyid", Field::SignatureKeyid),
    ("sig", Field::SignatureSig),
];

/// Reads the `signatures` array, handing each signature to `each` as it comes (streaming
/// starts its check at once: the array is never held). Two signatures with one key ID are
/// refused, as python-tuf does.
#[inline(never)] // its temporaries off the frame that stays live while `signed` is read
pub(crate) fn each_signature<S: Source, K: Canon>(
    lx: &mut Lexer<S, K>,
    each: &mut EachSignature<'_, S, K>,
) -> Result<()> {
    let mut seen_ids: heapless::Vec<KeyId, MAX_SIGNATURES> = heapless::Vec::new();
    list(lx, Field::Signatures, &mut |lx| {
        let mut keyid = super::HexKeyId::default();
        let mut sig = Text::<{ MAX_SIGNATURE * 2 }>::default();
        record(lx, Field::Signatures, SIGNATURE, 0b11, &mut |lx, i| {
            if i == 0 {
                lx.string(&mut keyid)
            } else {
                lx.string(&mut sig.out())
            }
        })?;
        let Some(id) = keyid.id() else {
            return Ok(());
        };
        if seen_ids.contains(&id) {
            return Err(Fault::new(ErrorKind::BadValue, Field::SignatureKeyid));
        }
        // Copied as a slice: `push` here is a `memmove` (1.5 KiB of compiler-builtins) on a device.
        seen_ids
            .extend_from_slice(core::slice::from_ref(&id))
            .map_err(|_| Fault::new(ErrorKind::Limit, Field::Signatures))?;
        let Some(hex) = sig.get() else { return Ok(()) };
        let mut bytes = [0u8; MAX_SIGNATURE];
        let Some(bytes) = bytes.get_mut(..hex.len() / 2) else {
            return Ok(()); // longer than any signature the core verifies
        };
        if super::hex_decode(hex, bytes).is_none() {
            return Ok(()); // not a signature any key can have made
        }
        each(lx, id, bytes)
    })
}

#[allow(clippy::large_enum_variant)] // no heap to box into; one lives per signature check
enum Check {
    /// ed25519-compact: its incremental state hashes the message itself.
    #[cfg(not(feature = "salty"))]
    Ed25519(ed25519_compact::VerifyingState),
    /// salty: the message hash is shared ([`Hram`](super::ed25519::Hram)).
    #[cfg(feature = "salty")]
    Ed25519(usize),
    #[cfg(feature = "ecdsa")]
    EcdsaP256(
        p256::ecdsa::VerifyingKey,
        p256::ecdsa::Signature,
        sha2::Sha256,
    ),
    #[cfg(feature = "std")]
    RsaPss(
        alloc::boxed::Box<rsa::RsaPublicKey>,
        alloc::vec::Vec<u8>,
        sha2::Sha256,
    ),
}

impl Check {
    #[cfg_attr(
        all(feature = "salty", not(feature = "ecdsa")),
        allow(unused_variables)
    )]
    fn absorb(&mut self, bytes: &[u8]) {
        match self {
            #[cfg(not(feature = "salty"))]
            Self::Ed25519(st) => st.absorb(bytes),
            #[cfg(feature = "salty")]
            Self::Ed25519(_) => {}
            #[cfg(feature = "ecdsa")]
            Self::EcdsaP256(_, _, h) => sha2::Digest::update(h, bytes),
            #[cfg(feature = "std")]
            Self::RsaPss(_, _, h) => sha2::Digest::update(h, bytes),
        }
    }

    /// The verdict of a check that hashes the message itself.
    fn verify(&mut self) -> bool {
        match self {
            #[cfg(not(feature = "salty"))]
            Self::Ed25519(st) => st.verify().is_ok(),
            #[cfg(feature = "salty")]
            Self::Ed25519(_) => false, // decided by `Hram`
            #[cfg(feature = "ecdsa")]
            Self::EcdsaP256(vk, sig, h) => {
                use p256::ecdsa::signature::hazmat::PrehashVerifier;
                let digest = sha2::Digest::finalize_reset(h);
                let sig = *sig;
                // Accept high-S signatures, as the reference (pyca/cryptography) does.
                let sig = sig.normalize_s().unwrap_or(sig);
                vk.verify_prehash(&digest, &sig).is_ok()
            }
            #[cfg(feature = "std")]
            Self::RsaPss(k, sig, h) => {
                let digest = sha2::Digest::finalize_reset(h);
                use rsa::traits::{PublicKeyParts, SignatureScheme};
                // securesystemslib verifies with any salt length (PSS.AUTO); signers use the
                // digest length (current) or the maximum (older releases).
                let max_salt = k.size().saturating_sub(32 + 2);
                [32, max_salt, 0].into_iter().any(|salt| {
                    rsa::Pss::new_with_salt::<sha2::Sha256>(salt)
                        .verify(k, &digest, sig)
                        .is_ok()
                })
            }
        }
    }
}

/// Verifiers for every authorised key that signed, fed together; they refer to the keys of the
/// authorities they were started with (`'k`).
pub(crate) struct Verifiers<'k> {
    /// Each with the authority's key ID (borrowed: the key IDs are the authority's).
    checks: heapless::Vec<(&'k KeyId, Check), MAX_ROLE_KEYS>,
    /// With `salty`, ed25519 checks share one SHA-512 block; the others are fed from it too.
    #[cfg(feature = "salty")]
    ed25519: heapless::Vec<super::ed25519::Ed25519<'k>, MAX_ROLE_KEYS>,
    #[cfg(feature = "salty")]
    hram: super::ed25519::Hram,
    /// Without `salty`, canonical bytes gathered before they are fed to every check at once.
    #[cfg(not(feature = "salty"))]
    buf: [u8; crate::limits::VERIFY_BATCH],
    #[cfg(not(feature = "salty"))]
    len: usize,
    #[cfg(not(feature = "salty"))]
    keys: core::marker::PhantomData<&'k [Key]>,
}

impl<'k> Verifiers<'k> {
    pub(crate) fn new() -> Self {
        Self {
            checks: heapless::Vec::new(),
            #[cfg(feature = "salty")]
            ed25519: heapless::Vec::new(),
            #[cfg(feature = "salty")]
            hram: super::ed25519::Hram::new(),
            #[cfg(not(feature = "salty"))]
            buf: [0; crate::limits::VERIFY_BATCH],
            #[cfg(not(feature = "salty"))]
            len: 0,
            #[cfg(not(feature = "salty"))]
            keys: core::marker::PhantomData,
        }
    }

    /// Starts the check of one signature, when `keyid` is one of `role`'s keys (each once).
    #[inline(never)] // a check state is built on its frame, not on the one that stays live
    pub(crate) fn start(
        &mut self,
        keys: &'k [Key],
        role: &RoleKeys,
        keyid: &KeyId,
        sig: &[u8],
    ) -> Result<()> {
        if self.checks.iter().any(|(id, _)| *id == keyid) {
            return Ok(());
        }
        let Some(key) = role.find(keys, keyid).and_then(|i| keys.get(i)) else {
            return Ok(());
        };
        let check = match &key.public {
            PublicKey::Ed25519(pk) => {
                let Ok(sig) = <&[u8; 64]>::try_from(sig) else {
                    return Ok(());
                };
                #[cfg(not(feature = "salty"))]
                let check = match ed25519_compact::PublicKey::new(*pk)
                    .verify_incremental(&ed25519_compact::Signature::new(*sig))
                {
                    Ok(st) => Check::Ed25519(st),
                    Err(_) => return Ok(()),
                };
                #[cfg(feature = "salty")]
                let check = {
                    let at = self.ed25519.len();
                    self.ed25519
                        .push(super::ed25519::Ed25519::new(pk, sig))
                        .map_err(|_| Fault::new(ErrorKind::Limit, Field::Signatures))?;
                    Check::Ed25519(at)
                };
                check
            }
            #[cfg(feature = "ecdsa")]
            PublicKey::EcdsaP256(vk) => {
                let Ok(sig) = p256::ecdsa::Signature::from_der(sig)
                    .or_else(|_| p256::ecdsa::Signature::from_slice(sig))
                else {
                    return Ok(());
                };
                Check::EcdsaP256(*vk, sig, sha2::Digest::new())
            }
            #[cfg(feature = "std")]
            PublicKey::RsaPss(k) => Check::RsaPss(k.clone(), sig.to_vec(), sha2::Digest::new()),
            PublicKey::Unsupported | PublicKey::Absent => return Ok(()),
        };
        self.checks
            .push((&key.keyid, check))
            .map_err(|_| Fault::new(ErrorKind::Limit, Field::Signatures))
    }

    /// Starts a check for each of `role`'s keys that has a signature (each key ID once), in
    /// the role's order.
    #[cfg(feature = "general")]
    pub(crate) fn add_role(
        &mut self,
        keys: &'k [Key],
        role: &RoleKeys,
        sigs: &Signatures,
    ) -> Result<()> {
        for keyid in role.keyids(keys) {
            if let Some(sig) = sigs.get(keyid) {
                self.start(keys, role, keyid, &sig.bytes)?;
            }
        }
        Ok(())
    }

    #[cfg(not(feature = "salty"))]
    fn flush(&mut self) {
        let data = self.buf.get(..self.len).unwrap_or_default();
        for (_, c) in &mut self.checks {
            c.absorb(data);
        }
        self.len = 0;
    }

    /// Key IDs whose signature verified.
    // Out of line and in place: on a device its frame (the curve arithmetic) must not add to
    // every caller's, nor hold a second copy of the verifiers.
    #[inline(never)]
    pub(crate) fn finish(&mut self) -> heapless::Vec<KeyId, MAX_ROLE_KEYS> {
        let mut ok = heapless::Vec::new();
        #[cfg(not(feature = "salty"))]
        self.flush();
        #[cfg(feature = "salty")]
        let ed25519 = self.ed25519_verdicts();
        for (id, c) in &mut self.checks {
            let verdict = match c {
                #[cfg(feature = "salty")]
                Check::Ed25519(i) => ed25519 & (1 << *i) != 0,
                #[allow(unreachable_patterns)]
                other => other.verify(),
            };
            if verdict {
                let _ = ok.push(**id); // same capacity as `checks`
            }
        }
        ok
    }

    /// The verdicts of the ed25519 checks, as bits in the order they were started; the other
    /// checks get the rest of the message.
    #[cfg(feature = "salty")]
    #[inline(never)]
    fn ed25519_verdicts(&mut self) -> u32 {
        let (checks, mut valid) = (&mut self.checks, 0);
        self.hram.finish(
            &mut self.ed25519,
            &mut |m| checks.iter_mut().for_each(|(_, c)| c.absorb(m)),
            &mut |e, i, hram| {
                if super::ed25519::salty_backend::verify(e.public, &e.sig, &hram) {
                    valid |= 1 << i;
                }
            },
        );
        valid
    }
}
impl Sink for Verifiers<'_> {
    // One copy for every place the tokenizer emits canonical bytes on a device; inlined on a
    // host, where the byte copy into the batch is most of the cost of verifying a large file.
    #[cfg_attr(otuf_small, inline(never))]
    #[cfg_attr(not(otuf_small), inline)]
    fn write(&mut self, bytes: &[u8]) {
        #[cfg(feature = "salty")]
        {
            let checks = &mut self.checks;
            self.hram.update(bytes, &mut self.ed25519, &mut |m| {
                checks.iter_mut().for_each(|(_, c)| c.absorb(m));
            });
        }
        #[cfg(not(feature = "salty"))]
        {
            if self.len + bytes.len() > self.buf.len() {
                self.flush();
            }
            if let Some(dst) = self.buf.get_mut(self.len..self.len + bytes.len()) {
                dst.copy_from_slice(bytes);
                self.len += bytes.len();
            } else {
                for (_, c) in &mut self.checks {
                    c.absorb(bytes);
                }
            }
        }
    }
}

/// Whether `valid` signatures by distinct keys reach `role`'s threshold.
pub(crate) fn verifier_threshold(keys: &[Key], role: &RoleKeys, valid: &[KeyId]) -> bool {
    let mut counted: heapless::Vec<&PublicKey, MAX_ROLE_KEYS> = heapless::Vec::new();
    for (i, key) in keys.iter().enumerate() {
        if role.keys & (1 << i) == 0 || !valid.contains(&key.keyid) {
            continue;
        }
        if counted.iter().any(|k| k.same_as(&key.public)) {
            continue;
        }
        let _ = counted.push(&key.public); // a role has at most as many keys
    }
    counted.len() as u64 >= role.threshold
}
