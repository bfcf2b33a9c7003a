//! `meta` entries (METAFILES) and target file info (TARGETS), with the hashes they pin.

use crate::error::fault::{Fault, Result};
use crate::error::{Error, ErrorKind, Field};
use crate::hashes::{Digests, Hashes};
use crate::json::lexer::{Canon, Lexer};
use crate::json::read::{members, record, MemberTable, Object};
use crate::json::source::Source;
use crate::json::Text;
use crate::limits::MAX_CUSTOM;

/// Reads a `hashes` object (non-empty, lower-case hex) into `h`, each hash decoded where it
/// stays. An algorithm the core cannot check makes the file unmatchable.
pub(crate) fn read_hashes<S: Source, K: Canon>(
    lx: &mut Lexer<S, K>,
    field: Field,
    mut keep: Option<&mut Hashes>,
) -> Result<()> {
    // A loop, not a `map` callback: a target's hashes are among the deepest reads.
    let named = |e: Fault| e.in_field(field);
    let (mut any, mut algo) = (false, Text::<16>::default());
    // Where a hash not kept is decoded (it is still checked).
    let mut scratch = [0u8; 64];
    lx.begin_object().map_err(named)?;
    loop {
        algo.clear();
        if !lx.next_key(&mut algo.out()).map_err(named)? {
            break;
        }
        any = true;
        // Where the digest goes: the kept hash's own place, else the scratch (its length).
        let h = keep.as_deref_mut();
        let (kept, len): (Option<&mut [u8]>, usize) = match algo.get() {
            Some(b"sha256") => (h.map(|h| &mut h.sha256.insert([0; 32])[..]), 32),
            Some(b"sha512") => (h.map(|h| &mut h.sha512.insert([0; 64])[..]), 64),
            #[cfg(feature = "blake2b")]
            Some(b"blake2b-256") => (h.map(|h| &mut h.blake2b_256.insert([0; 32])[..]), 32),
            _ => {
                if let Some(h) = h {
                    h.unsupported = true;
                }
                lx.string(&mut crate::json::Discard).map_err(named)?;
                continue;
            }
        };
        let slot = kept.unwrap_or_else(|| scratch.get_mut(..len).unwrap_or_default());
        let mut hex = crate::crypto::HexInto::new(slot);
        lx.string(&mut hex).map_err(named)?;
        if !hex.filled() {
            return Err(Fault::new(ErrorKind::BadValue, field));
        }
    }
    if !any {
        return Err(Fault::new(ErrorKind::BadValue, field));
    }
    Ok(())
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

const META_FILE: &MemberTable = members![
    ("hashes", Field::MetaHashes),
    ("length", Field::MetaLength),
    ("version", Field::MetaVersion),
];

impl MetaFile {
    pub(crate) fn parse<S: Source, K: Canon>(lx: &mut Lexer<S, K>) -> Result<Self> {
        let mut m = Self {
            version: 0,
            length: None,
            hashes: Hashes::default(),
        };
        record(lx, Field::Meta, META_FILE, 0b100, &mut |lx, i| {
            match i {
                0 => read_hashes(lx, Field::MetaHashes, Some(&mut m.hashes))?,
                1 => m.length = Some(lx.uint()?),
                _ => m.version = lx.uint()?,
            }
            Ok(())
        })?;
        if m.version == 0 {
            return Err(Fault::new(ErrorKind::BadValue, Field::MetaVersion));
        }
        Ok(m)
    }

    /// Checks a whole file against the listed length and hashes.
    #[cfg(feature = "general")]
    pub(crate) fn check_bytes(&self, data: &[u8]) -> Result<()> {
        if self.length.is_some_and(|l| l != data.len() as u64) {
            return Err(Fault::new(ErrorKind::MetaLength, Field::MetaLength));
        }
        if !self.hashes.is_empty() && !self.hashes.check_bytes(data) {
            return Err(Fault::new(ErrorKind::MetaHash, Field::MetaHashes));
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

/// Collects canonical bytes of a value into the buffer that keeps them, up to [`MAX_CUSTOM`].
pub(crate) struct CustomBuf<'b> {
    pub(crate) buf: &'b mut heapless::Vec<u8, MAX_CUSTOM>,
    pub(crate) overflow: bool,
}

impl crate::json::Sink for CustomBuf<'_> {
    fn write(&mut self, bytes: &[u8]) {
        if self.buf.extend_from_slice(bytes).is_err() {
            self.overflow = true;
        }
    }
}

impl TargetFile {
    /// The top-level string member `name` of `custom` (canonical JSON, as the core keeps it),
    /// as it stands between its quotes: what a device selects firmware by (`hardware`,
    /// `version`, `channel`), without a JSON parser of its own. `None` when there is no such
    /// string, or when it holds an escape (canonical JSON escapes only `"` and `\`).
    pub fn custom_str(&self, name: &str) -> Option<&str> {
        let custom = self.custom.as_deref()?;
        let mut rest = custom.strip_prefix(b"{")?;
        loop {
            let (key, after) = string(rest)?;
            let after = after.strip_prefix(b":")?;
            if key == name.as_bytes() {
                let (value, _) = string(after).filter(|(v, _)| !v.contains(&b'\\'))?;
                return core::str::from_utf8(value).ok();
            }
            rest = skip_value(after)?.strip_prefix(b",")?;
        }
    }
}

/// The string at the start of canonical JSON `s` (between its quotes, escapes as they are),
/// and what follows it.
fn string(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let body = s.strip_prefix(b"\"")?;
    let mut escaped = false;
    let end = body.iter().position(|&b| {
        let end = b == b'"' && !escaped;
        escaped = b == b'\\' && !escaped;
        end
    })?;
    Some((body.get(..end)?, body.get(end + 1..)?))
}

/// What follows the value at the start of canonical JSON `s`.
fn skip_value(mut rest: &[u8]) -> Option<&[u8]> {
    let mut depth = 0usize;
    loop {
        match *rest.first()? {
            b',' | b'}' | b']' if depth == 0 => return Some(rest),
            b'"' => {
                rest = string(rest)?.1;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth -= 1,
            _ => {}
        }
        rest = rest.get(1..)?;
    }
}

const TARGET_FILE: &MemberTable = members![
    ("custom", Field::TargetCustom),
    ("hashes", Field::TargetHashes),
    ("length", Field::TargetLength),
];

impl TargetFile {
    /// Reads a target's info, into `keep` when given (with `custom`: only the searched target
    /// needs it); otherwise it is only validated.
    /// Its hashes and `custom` are decoded where they stay. A loop, not a `record` callback: a
    /// target's hashes are among the deepest reads.
    pub(crate) fn read<S: Source, K: Canon>(
        lx: &mut Lexer<S, K>,
        mut keep: Option<&mut TargetFile>,
    ) -> Result<()> {
        let mut info = Object::begin(lx, Field::Targets, TARGET_FILE)?;
        while let Some(i) = info.next(lx)? {
            match (i, keep.as_deref_mut()) {
                (0, Some(t)) => {
                    let mut custom = CustomBuf {
                        buf: t.custom.insert(heapless::Vec::new()),
                        overflow: false,
                    };
                    info.value(crate::metadata::envelope::capture_canonical(
                        lx,
                        &mut custom,
                    ))?;
                    if custom.overflow {
                        return Err(Fault::new(ErrorKind::Limit, Field::TargetCustom));
                    }
                }
                (0, None) => info.value(lx.skip())?,
                (1, t) => {
                    let hashes = t.map(|t| &mut t.hashes);
                    info.value(read_hashes(lx, Field::TargetHashes, hashes))?;
                }
                (_, t) => {
                    let length = info.value(lx.uint())?;
                    if let Some(t) = t {
                        t.length = length;
                    }
                }
            }
        }
        info.end(0b110)?;
        Ok(())
    }
}

/// Checks a target file fed chunk by chunk: never more than its length, then its hashes.
pub struct TargetVerifier {
    length: u64,
    seen: u64,
    hashes: Hashes,
    digests: Digests,
}

impl TargetVerifier {
    /// Starts checking a download of `target`.
    pub fn new(target: &TargetFile) -> Self {
        Self {
            length: target.length,
            seen: 0,
            hashes: target.hashes.clone(),
            digests: {
                let mut d = Digests::default();
                d.start(Some(&target.hashes), false);
                d
            },
        }
    }

    /// Most bytes still acceptable.
    pub fn remaining(&self) -> u64 {
        self.length - self.seen
    }

    /// Feeds the next chunk; refuses any byte past the signed length.
    pub fn update(&mut self, chunk: &[u8]) -> crate::Result<()> {
        let n = chunk.len() as u64;
        if n > self.remaining() {
            return Err(
                Error::new(ErrorKind::TargetLength, Field::Length).in_role(crate::RoleKind::Target)
            );
        }
        self.seen += n;
        self.digests.update(chunk);
        Ok(())
    }

    /// Checks that the whole file arrived and that every listed hash matches.
    pub fn finish(mut self) -> crate::Result<()> {
        let role = crate::RoleKind::Target;
        if self.seen != self.length {
            return Err(Error::new(ErrorKind::TargetLength, Field::Length).in_role(role));
        }
        if !self.hashes.check(&mut self.digests) {
            return Err(Error::new(ErrorKind::TargetHash, Field::Hashes).in_role(role));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256, Sha512};

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
            blake2b_256: Some(crate::hashes::Blake2b256::digest(data).into()),
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
    fn custom_strings_are_found_at_the_top_level_only() {
        let mut t = target(b"x");
        let canonical = br#"{"a":{"hardware":"inner"},"b":[1,"x\"y",{}],"hardware":"plc-a","q":"x\"y","version":"1.2.0"}"#;
        t.custom = Some(heapless::Vec::from_slice(canonical).unwrap());
        assert_eq!(t.custom_str("hardware"), Some("plc-a"));
        assert_eq!(t.custom_str("version"), Some("1.2.0"));
        assert_eq!(t.custom_str("a"), None, "not a string");
        assert_eq!(t.custom_str("q"), None, "an escape");
        assert_eq!(t.custom_str("channel"), None);
        t.custom = Some(heapless::Vec::from_slice(b"{}").unwrap());
        assert_eq!(t.custom_str("hardware"), None);
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
