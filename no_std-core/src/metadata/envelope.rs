//! The signed envelope `{"signatures": [...], "signed": {...}}` and its signature check, in
//! both modes.
//!
//! General mode reads the whole file once to extract `signed` (any member order), then feeds
//! the canonical form of `signed` to the verifiers. Streaming mode reads the file once: the
//! `signatures` come first in canonical order, so the verifiers are ready when `signed` starts
//! and consume its canonical bytes while the body is being extracted.

use super::{parse_signed, Body, Common, Members, MetaFile, RoleKeys};
#[cfg(feature = "general")]
use crate::crypto::Signatures;
use crate::crypto::{Key, KeyId, Verifiers};
use crate::error::fault::{Fault, Result};
use crate::error::{self, ErrorKind, Field};
use crate::hashes::Sha256;
#[cfg(feature = "general")]
use crate::json::canonical::emit_value;
use crate::json::lexer::{Canon, Canonical, Lexer};
#[cfg(feature = "general")]
use crate::json::read::record;
use crate::json::read::{members, MemberTable, Object};
#[cfg(feature = "general")]
use crate::json::source::SliceSource;
use crate::json::source::{ReadSource, Source};
use crate::json::Sink;
use crate::limits::MAX_ROLE_KEYS;

/// Who must have signed: a role's keys and threshold.
pub(crate) type Authority<'k> = (&'k [Key], &'k RoleKeys);

/// A file read in general mode, its signatures not yet checked.
#[cfg(feature = "general")]
pub(crate) struct General<'a> {
    buf: &'a [u8],
    signed_at: usize,
    /// `signed`'s keys all stand in canonical order, so its canonical form is one pass.
    sorted: bool,
    sigs: Signatures,
    pub(crate) common: Common,
}

#[cfg(feature = "general")]
impl<'a> General<'a> {
    /// Reads the envelope and, through `body`, the role's fields.
    pub(crate) fn parse(buf: &'a [u8], body: &mut GeneralBody<'_>) -> error::Result<Self> {
        // Extraction also notes whether `signed` is already in canonical key order.
        let mut lx = Lexer::new(SliceSource::new(buf), Canonical::check_order());
        let (mut sigs, mut signed_at, mut common) = (Signatures::default(), 0, Common::default());
        let mut sorted = false;
        record(&mut lx, Field::None, ENVELOPE, 0b11, &mut |lx, i| {
            if i == 0 {
                sigs = Signatures::parse(lx)?;
                return Ok(());
            }
            signed_at = lx.value_offset();
            lx.canon.unchecked = false;
            common = parse_signed(lx, body)?;
            sorted = !lx.canon.unchecked;
            Ok(())
        })
        .and_then(|_| lx.finish())
        .map_err(|f| lx.error(f))?;
        Ok(Self {
            buf,
            signed_at,
            sorted,
            sigs,
            common,
        })
    }

    /// Requires every authority's threshold over the canonical form of `signed`.
    pub(crate) fn verify(&self, authorities: &[Authority<'_>]) -> error::Result<()> {
        let valid = self.valid_signers(authorities)?;
        Ok(check_thresholds(authorities, &valid)?)
    }

    /// The key IDs, among the authorities' keys, whose signature over `signed` verifies.
    pub(crate) fn valid_signers(
        &self,
        authorities: &[Authority<'_>],
    ) -> error::Result<heapless::Vec<KeyId, MAX_ROLE_KEYS>> {
        let mut v = Verifiers::new();
        for (keys, role) in authorities {
            v.add_role(keys, role, &self.sigs)?;
        }
        if self.sorted {
            let mut lx = Lexer::new(
                SliceSource {
                    buf: self.buf,
                    pos: self.signed_at,
                },
                Canonical::emit(&mut v),
            );
            lx.skip().map_err(|f| lx.error(f))?;
        } else {
            emit_value(self.buf, self.signed_at, &mut v)?;
        }
        Ok(v.finish())
    }
}

fn check_thresholds(authorities: &[Authority<'_>], valid: &[KeyId]) -> Result<()> {
    for (keys, role) in authorities {
        if !crate::crypto::verifier_threshold(keys, role, valid) {
            return Err(Fault::new(ErrorKind::Threshold, Field::Signatures));
        }
    }
    Ok(())
}

/// What streaming a file established (small: the digests were checked where they were made).
pub(crate) struct Streamed {
    pub(crate) common: Common,
    /// Key IDs whose signature verified.
    pub(crate) valid: heapless::Vec<KeyId, MAX_ROLE_KEYS>,
    /// The whole file's SHA-256, when asked for.
    pub(crate) sha256: Option<[u8; 32]>,
}

/// What a streamed file is checked against besides its signatures.
#[derive(Clone, Copy, Default)]
pub(crate) struct Expect<'m> {
    /// Most bytes accepted.
    pub(crate) max_length: u64,
    /// The parent role's entry (length and hashes), if any.
    pub(crate) meta: Option<&'m MetaFile>,
    /// Also return the file's SHA-256.
    pub(crate) sha256: bool,
}

/// Reads and verifies a canonical-order file in one pass from `reader`, through `chunk`.
pub(crate) fn stream<R: embedded_io::Read, B: Body>(
    mut reader: R,
    chunk: &mut [u8],
    expect: Expect<'_>,
    body: &mut B,
    authority: Authority<'_>,
) -> error::Result<Streamed> {
    stream_from(&mut reader, chunk, expect, body, authority)
}

/// The fields a streamed role is read into, whatever the role.
pub(crate) type StreamBody<'b> =
    dyn for<'r, 's, 'c, 'v, 'k> Members<StreamSource<'r, 's>, StreamCanon<'c, 'v, 'k>> + 'b;

/// The streaming tokenizer's source and canonical output, borrowed: each is built where it
/// stays, on the frame of `stream_from`.
pub(crate) type StreamSource<'r, 's> = &'r mut ReadSource<'s>;
/// See [`StreamSource`].
pub(crate) type StreamCanon<'c, 'v, 'k> = &'c mut Canonical<'v, Verifiers<'k>>;

/// The fields a role read in general mode is read into, whatever the role.
#[cfg(feature = "general")]
pub(crate) type GeneralBody<'b> =
    dyn for<'s> Members<SliceSource<'s>, Canonical<'static, Sha256>> + 'b;

/// A role's body for either mode, through `dyn`: the code that loads a file exists once for
/// every role.
pub(crate) trait AnyBody {
    /// As read by streaming.
    fn streamed(&mut self) -> &mut StreamBody<'_>;
    /// As read in general mode.
    #[cfg(feature = "general")]
    fn general(&mut self) -> &mut GeneralBody<'_>;
}

impl<B: Body> AnyBody for B {
    fn streamed(&mut self) -> &mut StreamBody<'_> {
        self
    }
    #[cfg(feature = "general")]
    fn general(&mut self) -> &mut GeneralBody<'_> {
        self
    }
}

/// [`stream`] past the reader's and the role's types: one copy in all.
pub(crate) fn stream_from(
    reader: &mut dyn crate::json::source::ReadChunk,
    chunk: &mut [u8],
    expect: Expect<'_>,
    body: &mut StreamBody<'_>,
    authority: Authority<'_>,
) -> error::Result<Streamed> {
    let mut verifiers = Verifiers::new();
    let (common, sha256) = read_stream(reader, chunk, expect, body, authority, &mut verifiers)?;
    // The tokenizer's frame is gone when the curve arithmetic runs.
    Ok(Streamed {
        common,
        valid: verifiers.finish(),
        sha256,
    })
}

/// [`stream_from`] for one authority, its threshold required here: only the role's common
/// fields leave this frame (no list of valid key IDs is copied into the caller's). Its two
/// opening lines repeat `stream_from`'s on purpose: one function taking a closure for the rest
/// measured 88 B more stack and 52 B more flash on a Cortex-M4.
pub(crate) fn stream_checked(
    reader: &mut dyn crate::json::source::ReadChunk,
    chunk: &mut [u8],
    expect: Expect<'_>,
    body: &mut StreamBody<'_>,
    authority: Authority<'_>,
) -> error::Result<Common> {
    let mut verifiers = Verifiers::new();
    let (common, _) = read_stream(reader, chunk, expect, body, authority, &mut verifiers)?;
    require_verified(authority, &mut verifiers)?;
    Ok(common)
}

/// The verifiers' verdicts against `authority`'s threshold. Out of line: the list of valid key
/// IDs is on the stack only while it is counted, not beside the verifiers while a file is read.
#[inline(never)]
fn require_verified(authority: Authority<'_>, verifiers: &mut Verifiers<'_>) -> Result<()> {
    require(authority, &verifiers.finish())
}

/// Reads the file through the tokenizer, feeding `verifiers`, and checks its length and
/// hashes. Out of line: the tokenizer and its source live only while it runs.
#[inline(never)]
fn read_stream<'k>(
    reader: &mut dyn crate::json::source::ReadChunk,
    chunk: &mut [u8],
    expect: Expect<'_>,
    body: &mut StreamBody<'_>,
    authority: Authority<'k>,
    verifiers: &mut Verifiers<'k>,
) -> error::Result<(Common, Option<[u8; 32]>)> {
    let max = expect
        .meta
        .and_then(|m| m.length)
        .map_or(expect.max_length, |l| l.min(expect.max_length));
    let mut src = ReadSource::new(reader, chunk, max);
    src.digests
        .start(expect.meta.map(|m| &m.hashes), expect.sha256);
    let mut canon = Canonical::strict(verifiers, false);
    let mut lx = Lexer::new(&mut src, &mut canon);
    let common = read_envelope(&mut lx, body, authority).map_err(|f| lx.error(f))?;
    if let Some(meta) = expect.meta {
        if meta.length.is_some_and(|l| l != src.total()) {
            return Err(error::Error::new(ErrorKind::MetaLength, Field::MetaLength));
        }
        if !meta.hashes.is_empty() && !meta.hashes.check(&mut src.digests) {
            return Err(error::Error::new(ErrorKind::MetaHash, Field::MetaHashes));
        }
    }
    let sha256 = src.digests.sha256.as_mut().map(|h| h.finish());
    Ok((common, sha256))
}

const ENVELOPE: &MemberTable =
    members![("signatures", Field::Signatures), ("signed", Field::Signed),];

/// The envelope's members, in one pass: the signatures start the checks, which then consume
/// the canonical bytes of `signed` while the body is read; then the rest of the input.
fn read_envelope<'k>(
    lx: &mut Lexer<StreamSource<'_, '_>, StreamCanon<'_, '_, 'k>>,
    body: &mut StreamBody<'_>,
    authority: Authority<'k>,
) -> Result<Common> {
    let mut common = Common::default();
    let (keys, role) = authority;
    let mut envelope = Object::begin(lx, Field::None, ENVELOPE)?;
    while let Some(i) = envelope.next(lx)? {
        if i == 0 {
            // Each check starts as its signature is read: the array is never held.
            envelope.value(crate::crypto::each_signature(lx, &mut |lx, keyid, sig| {
                lx.canon
                    .sink()
                    .ok_or(Fault::new(ErrorKind::Misuse, Field::None))?
                    .start(keys, role, &keyid, sig)
            }))?;
            continue;
        }
        lx.canon.on = true;
        common = envelope.value(parse_signed(lx, body))?;
        lx.canon.on = false;
    }
    envelope.end(0b11)?;
    lx.finish()?;
    lx.src.drain().map_err(|e| lx.adopt(e))?;
    Ok(common)
}

/// Requires `authority`'s threshold among the key IDs a stream verified.
pub(crate) fn require(authority: Authority<'_>, valid: &[KeyId]) -> Result<()> {
    check_thresholds(&[authority], valid)
}

/// Reads one value and returns the SHA-256 of its canonical form (a key ID), whatever the mode.
pub(crate) fn hash_canonical<S: Source, K: Canon, T>(
    lx: &mut Lexer<S, K>,
    read: impl FnOnce(&mut Lexer<S, K>) -> Result<T>,
) -> Result<(T, [u8; 32])> {
    let start = lx.value_offset();
    // Only a tokenizer producing canonical output (streaming) can be tapped; general mode
    // canonicalises the value's bytes again instead.
    let tapped = lx.canon.on() && lx.canon.tap().map(start_tap).is_some();
    let value = read(lx)?;
    if tapped {
        // Finished in place (taking the hasher out would copy it onto this frame).
        let mut tap = lx.canon.tap();
        let digest = tap.as_mut().and_then(|t| t.as_mut()).map(Sha256::finish);
        if let Some(t) = tap {
            *t = None;
        }
        return digest
            .map(|d| (value, d))
            .ok_or(Fault::new(ErrorKind::Misuse, Field::None));
    }
    #[cfg(feature = "general")]
    {
        let buf = lx
            .src
            .whole()
            .ok_or(Fault::new(ErrorKind::Misuse, Field::GeneralNotBuilt))?;
        let digest = hash_value(buf, start).map_err(|e| lx.adopt(e))?;
        Ok((value, digest))
    }
    #[cfg(not(feature = "general"))]
    {
        let _ = (start, value);
        Err(Fault::new(ErrorKind::Misuse, Field::GeneralNotBuilt))
    }
}

/// The SHA-256 of the canonical form of the value at `start` of `buf`. Out of line: its
/// tokenizer is not in the frame of the reader that asked (a key's reading is beside it, not
/// on top of it).
#[cfg(feature = "general")]
#[inline(never)]
fn hash_value(buf: &[u8], start: usize) -> error::Result<[u8; 32]> {
    let mut h = Sha256::new();
    emit_value(buf, start, &mut h)?;
    Ok(h.finish())
}

/// Starts the tokenizer's tap. Out of line: the new hasher is made in a temporary first, which
/// must not sit in the frame of a key being read.
#[inline(never)]
fn start_tap(tap: &mut Option<Sha256>) {
    *tap = Some(Sha256::new());
}

/// Reads one value and writes its canonical form to `sink`, whatever the mode.
pub(crate) fn capture_canonical<S: Source, K: Canon>(
    lx: &mut Lexer<S, K>,
    sink: &mut dyn Sink,
) -> Result<()> {
    #[cfg(feature = "general")]
    if !lx.canon.on() {
        // General mode: the value's bytes again, canonicalised.
        let start = lx.value_offset();
        lx.skip()?;
        let buf = lx
            .src
            .whole()
            .ok_or(Fault::new(ErrorKind::Misuse, Field::GeneralNotBuilt))?;
        return emit_value(buf, start, sink).map_err(|e| lx.adopt(e));
    }
    // Streaming: the tokenizer's canonical output, copied.
    if !lx.canon.on() {
        return Err(Fault::new(ErrorKind::Misuse, Field::GeneralNotBuilt));
    }
    lx.skip_into(sink)
}
