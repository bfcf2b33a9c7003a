//! File hashes: the digests a parent role lists for a file (TUF's `HASHES`), and the running
//! digests of a file as it streams in. The JSON layer computes a streamed file's digests and
//! the metadata layer reads the lists, so both stand on this module.

mod sha;

#[cfg(feature = "blake2b")]
use blake2::Digest;
#[cfg(feature = "salty")]
pub(crate) use sha::{compress512, IV512};
pub(crate) use sha::{Sha256, Sha512};

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
    /// Whether no hash at all is listed.
    pub(crate) fn is_empty(&self) -> bool {
        #[cfg(feature = "blake2b")]
        if self.blake2b_256.is_some() {
            return false;
        }
        self.sha256.is_none() && self.sha512.is_none() && !self.unsupported
    }

    /// Checks computed digests against these hashes (finalising them).
    pub(crate) fn check(&self, got: &mut Digests) -> bool {
        if self.unsupported {
            return false;
        }
        let ok256 = match (&self.sha256, &mut got.sha256) {
            (Some(want), Some(h)) => h.finish() == *want,
            (Some(_), None) => false,
            (None, _) => true,
        };
        let ok512 = match (&self.sha512, &mut got.sha512) {
            (Some(want), Some(h)) => h.finish()[..] == want[..],
            (Some(_), None) => false,
            (None, _) => true,
        };
        #[cfg(feature = "blake2b")]
        let ok_blake = match (&self.blake2b_256, &mut got.blake2b_256) {
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
        let mut d = Digests::default();
        d.start(Some(self), false);
        d.update(data);
        self.check(&mut d)
    }
}

/// BLAKE2b with a 256-bit output (`blake2b-256`, what RSTUF's CLI hashes artifacts with).
#[cfg(feature = "blake2b")]
pub(crate) type Blake2b256 = blake2::Blake2b<blake2::digest::consts::U32>;

/// Digests of a whole file, computed while it streams (only those its parent lists).
#[derive(Clone, Default)]
pub(crate) struct Digests {
    pub(crate) sha256: Option<Sha256>,
    pub(crate) sha512: Option<Sha512>,
    #[cfg(feature = "blake2b")]
    pub(crate) blake2b_256: Option<Blake2b256>,
}

impl Digests {
    /// Starts the digests `hashes` lists, and SHA-256 when `sha256`, in place (a device's
    /// frame holds no second copy of the hash states).
    pub(crate) fn start(&mut self, hashes: Option<&Hashes>, sha256: bool) {
        if sha256 || hashes.is_some_and(|h| h.sha256.is_some()) {
            self.sha256 = Some(Sha256::new());
        }
        if hashes.is_some_and(|h| h.sha512.is_some()) {
            self.sha512 = Some(Sha512::new());
        }
        #[cfg(feature = "blake2b")]
        if hashes.is_some_and(|h| h.blake2b_256.is_some()) {
            self.blake2b_256 = Some(Blake2b256::new());
        }
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        if let Some(h) = &mut self.sha256 {
            h.update(bytes);
        }
        if let Some(h) = &mut self.sha512 {
            h.update(bytes);
        }
        #[cfg(feature = "blake2b")]
        if let Some(h) = &mut self.blake2b_256 {
            h.update(bytes);
        }
    }
}

/// The SHA-256 of `bytes`.
pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(bytes);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_hash_must_match_and_an_unknown_one_never_does() {
        let data = b"firmware image";
        let mut h = Hashes {
            sha256: Some(sha256(data)),
            sha512: Some(
                sha2::Digest::finalize(<sha2::Sha512 as sha2::Digest>::new_with_prefix(data))
                    .into(),
            ),
            ..Hashes::default()
        };
        let run = |h: &Hashes| {
            let mut d = Digests::default();
            d.start(Some(h), false);
            d.update(data);
            h.check(&mut d)
        };
        assert!(run(&h));
        h.sha512 = Some([0; 64]); // sha256 right, sha512 wrong: refused
        assert!(!run(&h));
        let unknown = Hashes {
            unsupported: true,
            ..Hashes::default()
        };
        assert!(!run(&unknown));
    }
}
