//! Signature checks fed chunk by chunk with the canonical bytes of `signed`.

use super::{find, Key, KeyId, PublicKey};
use crate::error::{Error, ErrorKind, Result};
use crate::json::lexer::{Canon, Lexer};
use crate::json::source::Source;
use crate::json::{Sink, Text};
use crate::limits::{MAX_ROLE_KEYS, MAX_SIGNATURE, MAX_SIGNATURES, VERIFY_BATCH};
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
                .map_err(|_| Error::new(ErrorKind::Limit, "signatures.sig"))?;
            out.0
                .push(Sig { keyid, bytes })
                .map_err(|_| Error::new(ErrorKind::Limit, "signatures"))
        })?;
        Ok(out)
    }

    fn get(&self, keyid: &KeyId) -> Option<&Sig> {
        self.0.iter().find(|s| &s.keyid == keyid)
    }
}

/// Reads the `signatures` array, handing each signature to `each` as it comes (streaming
/// starts its check at once: the array is never held). Two signatures with one key ID are
/// refused, as python-tuf does.
#[inline(never)] // its temporaries off the frame that stays live while `signed` is read
pub(crate) fn each_signature<S: Source, K: Canon>(
    lx: &mut Lexer<S, K>,
    each: &mut EachSignature<'_, S, K>,
) -> Result<()> {
    let field = "signatures";
    let mut seen_ids: heapless::Vec<KeyId, MAX_SIGNATURES> = heapless::Vec::new();
    lx.begin_array().map_err(|e| e.in_field(field))?;
    while lx.next_item()? {
        let mut keyid = Text::<64>::default();
        let mut sig = Text::<{ MAX_SIGNATURE * 2 }>::default();
        let (mut has_keyid, mut has_sig) = (false, false);
        let mut name = Text::<8>::default();
        lx.begin_object().map_err(|e| e.in_field(field))?;
        while lx.next_member(&mut name)? {
            match name.get() {
                Some(b"keyid") if !has_keyid => {
                    lx.string(&mut keyid)?;
                    has_keyid = true;
                }
                Some(b"sig") if !has_sig => {
                    lx.string(&mut sig)?;
                    has_sig = true;
                }
                Some(b"keyid" | b"sig") => {
                    return Err(Error::new(ErrorKind::DuplicateKey, "signatures"))
                }
                _ => lx.skip()?,
            }
        }
        if !has_keyid {
            return Err(Error::new(ErrorKind::MissingField, "signatures.keyid"));
        }
        if !has_sig {
            return Err(Error::new(ErrorKind::MissingField, "signatures.sig"));
        }
        let Some(id) = keyid.get().and_then(super::parse_keyid) else {
            continue;
        };
        if seen_ids.contains(&id) {
            return Err(Error::new(ErrorKind::BadValue, "signatures.keyid"));
        }
        seen_ids
            .push(id)
            .map_err(|_| Error::new(ErrorKind::Limit, "signatures"))?;
        let Some(hex) = sig.get() else { continue };
        let mut bytes = [0u8; MAX_SIGNATURE];
        let Some(bytes) = bytes.get_mut(..hex.len() / 2) else {
            continue; // longer than any signature the core verifies
        };
        if super::hex_decode(hex, bytes).is_none() {
            continue; // not a signature any key can have made
        }
        each(lx, id, bytes)?;
    }
    Ok(())
}

#[allow(clippy::large_enum_variant)] // no heap to box into; one lives per signature check
enum Check {
    Ed25519(ed25519_compact::VerifyingState),
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
    fn new(key: &PublicKey, sig: &[u8]) -> Option<Self> {
        match key {
            PublicKey::Ed25519(pk) => {
                let sig = ed25519_compact::Signature::from_slice(sig).ok()?;
                ed25519_compact::PublicKey::new(*pk)
                    .verify_incremental(&sig)
                    .ok()
                    .map(Self::Ed25519)
            }
            #[cfg(feature = "ecdsa")]
            PublicKey::EcdsaP256(vk) => {
                let sig = p256::ecdsa::Signature::from_der(sig)
                    .or_else(|_| p256::ecdsa::Signature::from_slice(sig))
                    .ok()?;
                Some(Self::EcdsaP256(*vk, sig, sha2::Digest::new()))
            }
            #[cfg(feature = "std")]
            PublicKey::RsaPss(k) => {
                Some(Self::RsaPss(k.clone(), sig.to_vec(), sha2::Digest::new()))
            }
            PublicKey::Unsupported => None,
        }
    }

    fn absorb(&mut self, bytes: &[u8]) {
        match self {
            Self::Ed25519(st) => st.absorb(bytes),
            #[cfg(feature = "ecdsa")]
            Self::EcdsaP256(_, _, h) => sha2::Digest::update(h, bytes),
            #[cfg(feature = "std")]
            Self::RsaPss(_, _, h) => sha2::Digest::update(h, bytes),
        }
    }

    fn verify(&mut self) -> bool {
        match self {
            Self::Ed25519(st) => st.verify().is_ok(),
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

/// Verifiers for every authorised key that signed, fed together.
pub(crate) struct Verifiers {
    checks: heapless::Vec<(KeyId, Check), MAX_ROLE_KEYS>,
    buf: [u8; VERIFY_BATCH],
    len: usize,
}

impl Verifiers {
    pub(crate) fn new() -> Self {
        Self {
            checks: heapless::Vec::new(),
            buf: [0; VERIFY_BATCH],
            len: 0,
        }
    }

    /// Starts the check of one signature, when `keyid` is one of `role`'s keys (each once).
    #[inline(never)] // a check state is built on its frame, not on the one that stays live
    pub(crate) fn start(
        &mut self,
        keys: &[Key],
        role: &RoleKeys,
        keyid: &KeyId,
        sig: &[u8],
    ) -> Result<()> {
        if !role.keyids.contains(keyid) || self.checks.iter().any(|(id, _)| id == keyid) {
            return Ok(());
        }
        let Some(key) = find(keys, keyid) else {
            return Ok(());
        };
        if let Some(check) = Check::new(&key.public, sig) {
            self.checks
                .push((*keyid, check))
                .map_err(|_| Error::new(ErrorKind::Limit, "signatures"))?;
        }
        Ok(())
    }

    /// Starts a check for each of `role`'s keys that has a signature (each key ID once), in
    /// the role's order.
    #[cfg(feature = "general")]
    pub(crate) fn add_role(
        &mut self,
        keys: &[Key],
        role: &RoleKeys,
        sigs: &Signatures,
    ) -> Result<()> {
        for keyid in &role.keyids {
            if let Some(sig) = sigs.get(keyid) {
                self.start(keys, role, keyid, &sig.bytes)?;
            }
        }
        Ok(())
    }

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
        self.flush();
        let mut ok = heapless::Vec::new();
        for (id, c) in &mut self.checks {
            if c.verify() {
                let _ = ok.push(*id); // same capacity as `checks`
            }
        }
        ok
    }
}

impl Sink for Verifiers {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
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

/// Whether `valid` signatures by distinct keys reach `role`'s threshold.
pub(crate) fn verifier_threshold(keys: &[Key], role: &RoleKeys, valid: &[KeyId]) -> bool {
    let mut counted: heapless::Vec<&PublicKey, MAX_ROLE_KEYS> = heapless::Vec::new();
    for keyid in role.keyids.iter().filter(|id| valid.contains(id)) {
        let Some(key) = find(keys, keyid) else {
            continue;
        };
        if counted.iter().any(|k| k.same_as(&key.public)) {
            continue;
        }
        let _ = counted.push(&key.public); // role.keyids has the same capacity
    }
    counted.len() as u64 >= role.threshold
}
