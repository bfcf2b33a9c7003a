//! `meta` entries (METAFILES) and target file info (TARGETS), with the hashes they pin.

use crate::error::{Error, ErrorKind, Result};
use crate::json::lexer::{Canon, Lexer};
use crate::json::source::Source;
use crate::json::Text;
use crate::limits::MAX_CUSTOM;
use sha2::Digest;

/// The hashes listed for a file. An algorithm other than sha256, sha512 and blake2b-256 (with
/// the `blake2b` feature) cannot be checked, so a file listing one never matches (as in
/// python-tuf).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hashes {
    /// `sha256`.
    pub sha256: Option<[u8; 32]>,
    /// `sha512`.
    pub sha512: Option<[u8; 64]>,
    /// `blake2b-256` (RSTUF's CLI hashes artifacts with it).
    #[cfg(feature = "blake2b")]
    pub blake2b_256: Option<[u8; 32]>,
    /// Some other algorithm was listed.
    pub unsupported: bool,
}

impl Hashes {
    /// Reads a `hashes` object (non-empty, lower-case hex).
    pub(crate) fn parse<S: Source, K: Canon>(
        lx: &mut Lexer<S, K>,
        field: &'static str,
    ) -> Result<Self> {
        let mut h = Self::default();
        let mut algo = Text::<16>::default();
        let mut any = false;
        lx.begin_object().map_err(|e| e.in_field(field))?;
        while lx.next_member(&mut algo)? {
            any = true;
            let hex: Text<128> = lx.text().map_err(|e| e.in_field(field))?;
            let hex = hex.get().unwrap_or_default();
            let bad = Error::new(ErrorKind::BadValue, field);
            match algo.get() {
                Some(b"sha256") => {
                    let mut d = [0; 32];
                    crate::crypto::hex_decode(hex, &mut d).ok_or(bad)?;
                    h.sha256 = Some(d);
                }
                Some(b"sha512") => {
                    let mut d = [0; 64];
                    crate::crypto::hex_decode(hex, &mut d).ok_or(bad)?;
                    h.sha512 = Some(d);
                }
                #[cfg(feature = "blake2b")]
                Some(b"blake2b-256") => {
                    let mut d = [0; 32];
                    crate::crypto::hex_decode(hex, &mut d).ok_or(bad)?;
                    h.blake2b_256 = Some(d);
                }
                _ => h.unsupported = true,
            }
        }
        if !any {
            return Err(Error::new(ErrorKind::BadValue, field));
        }
        Ok(h)
    }

    pub(crate) fn is_empty(&self) -> bool {
        #[cfg(feature = "blake2b")]
        if self.blake2b_256.is_some() {
            return false;
        }
        self.sha256.is_none() && self.sha512.is_none() && !self.unsupported
    }

    /// Which of sha256, sha512 and blake2b-256 are listed.
    pub(crate) fn listed(&self) -> (bool, bool, bool) {
        #[cfg(feature = "blake2b")]
        let blake2b_256 = self.blake2b_256.is_some();
        #[cfg(not(feature = "blake2b"))]
        let blake2b_256 = false;
        (self.sha256.is_some(), self.sha512.is_some(), blake2b_256)
    }

    /// Digests to compute while a file streams in.
    pub(crate) fn digests(&self) -> crate::json::source::FileDigests {
        let mut d = crate::json::source::FileDigests::default();
        d.start(Some(self), false);
        d
    }

    /// Checks computed digests against these hashes (finalising them).
    pub(crate) fn check(&self, got: &mut crate::json::source::FileDigests) -> bool {
        if self.unsupported {
            return false;
        }
        let ok256 = match (self.sha256, got.sha256.as_mut()) {
            (Some(want), Some(h)) => h.finalize_reset()[..] == want[..],
            (Some(_), None) => false,
            (None, _) => true,
        };
        let ok512 = match (self.sha512, got.sha512.as_mut()) {
            (Some(want), Some(h)) => h.finish() == Some(want),
            (Some(_), None) => false,
            (None, _) => true,
        };
        #[cfg(feature = "blake2b")]
        let ok_blake = match (self.blake2b_256, got.blake2b_256.as_mut()) {
            (Some(want), Some(h)) => h.finalize_reset()[..] == want[..],
            (Some(_), None) => false,
            (None, _) => true,
        };
        #[cfg(not(feature = "blake2b"))]
        let ok_blake = true;
        ok256 && ok512 && ok_blake
    }

    /// Checks a whole buffer against these hashes.
    #[cfg(feature = "general")]
    pub(crate) fn check_bytes(&self, data: &[u8]) -> bool {
        let mut d = self.digests();
        d.update(data);
        self.check(&mut d)
    }
}

/// A `meta` entry: the version of a metadata file and, optionally, its length and hashes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetaFile {
    /// `version`.
    pub version: u64,
    /// `length`, when listed.
    pub length: Option<u64>,
    /// `hashes`, when listed.
    pub hashes: Hashes,
}

impl MetaFile {
    pub(crate) fn parse<S: Source, K: Canon>(lx: &mut Lexer<S, K>) -> Result<Self> {
        let (mut version, mut length, mut hashes) = (None, None, None);
        let mut key = Text::<16>::default();
        lx.begin_object().map_err(|e| e.in_field("meta"))?;
        while lx.next_member(&mut key)? {
            match key.get() {
                Some(b"version") => {
                    version = Some(lx.uint().map_err(|e| e.in_field("meta.version"))?)
                }
                Some(b"length") => length = Some(lx.uint().map_err(|e| e.in_field("meta.length"))?),
                Some(b"hashes") => hashes = Some(Hashes::parse(lx, "meta.hashes")?),
                _ => lx.skip()?,
            }
        }
        let version = version.ok_or(Error::new(ErrorKind::MissingField, "meta.version"))?;
        if version == 0 {
            return Err(Error::new(ErrorKind::BadValue, "meta.version"));
        }
        Ok(Self {
            version,
            length,
            hashes: hashes.unwrap_or_default(),
        })
    }

    /// Checks a whole file against the listed length and hashes.
    #[cfg(feature = "general")]
    pub(crate) fn check_bytes(&self, data: &[u8]) -> Result<()> {
        if self.length.is_some_and(|l| l != data.len() as u64) {
            return Err(Error::new(ErrorKind::MetaLength, "meta.length"));
        }
        if !self.hashes.is_empty() && !self.hashes.check_bytes(data) {
            return Err(Error::new(ErrorKind::MetaHash, "meta.hashes"));
        }
        Ok(())
    }
}

/// What a targets role says of one target file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TargetFile {
    /// Exact length in bytes.
    pub length: u64,
    /// Its hashes (at least one).
    pub hashes: Hashes,
    /// Canonical JSON of `custom`, when present (otuf reads `version`, `hardware`, `channel`).
    pub custom: Option<heapless::Vec<u8, MAX_CUSTOM>>,
}

/// Collects canonical bytes of a value, up to [`MAX_CUSTOM`].
#[derive(Default)]
pub(crate) struct CustomBuf {
    pub(crate) buf: heapless::Vec<u8, MAX_CUSTOM>,
    pub(crate) overflow: bool,
}

impl crate::json::Sink for CustomBuf {
    fn write(&mut self, bytes: &[u8]) {
        if self.buf.extend_from_slice(bytes).is_err() {
            self.overflow = true;
        }
    }
}

impl TargetFile {
    /// Reads a target's info, into `keep` when given (with `custom`: only the searched target
    /// needs it); otherwise it is only validated.
    pub(crate) fn read<S: Source, K: Canon>(
        lx: &mut Lexer<S, K>,
        mut keep: Option<&mut TargetFile>,
    ) -> Result<()> {
        let (mut length, mut hashes) = (None, None);
        let mut key = Text::<16>::default();
        lx.begin_object().map_err(|e| e.in_field("targets"))?;
        while lx.next_member(&mut key)? {
            match (key.get(), keep.as_deref_mut()) {
                (Some(b"length"), _) => {
                    length = Some(lx.uint().map_err(|e| e.in_field("targets.length"))?)
                }
                (Some(b"hashes"), _) => hashes = Some(Hashes::parse(lx, "targets.hashes")?),
                (Some(b"custom"), Some(t)) => {
                    let mut buf = CustomBuf::default();
                    crate::metadata::envelope::capture_canonical(lx, &mut buf)?;
                    if buf.overflow {
                        return Err(Error::new(ErrorKind::Limit, "targets.custom"));
                    }
                    t.custom = Some(buf.buf);
                }
                _ => lx.skip()?,
            }
        }
        let length = length.ok_or(Error::new(ErrorKind::MissingField, "targets.length"))?;
        let hashes = hashes.ok_or(Error::new(ErrorKind::MissingField, "targets.hashes"))?;
        if let Some(t) = keep {
            t.length = length;
            t.hashes = hashes;
        }
        Ok(())
    }
}

/// Checks a target file fed chunk by chunk: never more than its length, then its hashes.
pub struct TargetVerifier {
    length: u64,
    seen: u64,
    hashes: Hashes,
    digests: crate::json::source::FileDigests,
}

impl TargetVerifier {
    /// Starts checking a download of `target`.
    pub fn new(target: &TargetFile) -> Self {
        Self {
            length: target.length,
            seen: 0,
            hashes: target.hashes.clone(),
            digests: target.hashes.digests(),
        }
    }

    /// Most bytes still acceptable.
    pub fn remaining(&self) -> u64 {
        self.length - self.seen
    }

    /// Feeds the next chunk; refuses any byte past the signed length.
    pub fn update(&mut self, chunk: &[u8]) -> Result<()> {
        let n = chunk.len() as u64;
        if n > self.remaining() {
            return Err(
                Error::new(ErrorKind::TargetLength, "length").in_role(crate::RoleKind::Target)
            );
        }
        self.seen += n;
        self.digests.update(chunk);
        Ok(())
    }

    /// Checks that the whole file arrived and that every listed hash matches.
    pub fn finish(mut self) -> Result<()> {
        let role = crate::RoleKind::Target;
        if self.seen != self.length {
            return Err(Error::new(ErrorKind::TargetLength, "length").in_role(role));
        }
        if !self.hashes.check(&mut self.digests) {
            return Err(Error::new(ErrorKind::TargetHash, "hashes").in_role(role));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Sha256, Sha512};

    fn target(data: &[u8]) -> TargetFile {
        let hashes = Hashes {
            sha256: Some(Sha256::digest(data).into()),
            sha512: Some(Sha512::digest(data).into()),
            ..Hashes::default()
        };
        TargetFile {
            length: data.len() as u64,
            hashes,
            custom: None,
        }
    }

    #[test]
    fn target_verifier_bounds_length_and_checks_every_hash() {
        let t = target(b"firmware image");
        let mut v = TargetVerifier::new(&t);
        v.update(b"firmware ").unwrap();
        v.update(b"image").unwrap();
        assert_eq!(v.remaining(), 0);
        assert_eq!(v.update(b"!").unwrap_err().kind(), ErrorKind::TargetLength);
        v.finish().unwrap();

        let mut short = TargetVerifier::new(&t);
        short.update(b"firmware").unwrap();
        assert_eq!(short.finish().unwrap_err().kind(), ErrorKind::TargetLength);

        let mut wrong = TargetVerifier::new(&t);
        wrong.update(b"firmware IMAGE").unwrap();
        assert_eq!(wrong.finish().unwrap_err().kind(), ErrorKind::TargetHash);

        let mut t2 = t.clone();
        t2.hashes.sha512 = Some([0; 64]); // sha256 right, sha512 wrong: still refused
        let mut v2 = TargetVerifier::new(&t2);
        v2.update(b"firmware image").unwrap();
        assert_eq!(v2.finish().unwrap_err().kind(), ErrorKind::TargetHash);
    }

    #[test]
    #[cfg(feature = "blake2b")]
    fn blake2b_256_is_checked_too() {
        let data = b"gateway image";
        let mut t = target(data);
        t.hashes = Hashes {
            blake2b_256: Some(crate::json::source::Blake2b256::digest(data).into()),
            ..Hashes::default()
        };
        let mut ok = TargetVerifier::new(&t);
        ok.update(data).unwrap();
        ok.finish().unwrap();
        let mut bad = TargetVerifier::new(&t);
        bad.update(b"gateway imagE").unwrap();
        assert_eq!(bad.finish().unwrap_err().kind(), ErrorKind::TargetHash);
    }

    #[test]
    fn an_unknown_hash_algorithm_never_matches() {
        let mut t = target(b"x");
        t.hashes.unsupported = true;
        let mut v = TargetVerifier::new(&t);
        v.update(b"x").unwrap();
        assert_eq!(v.finish().unwrap_err().kind(), ErrorKind::TargetHash);
    }
}
