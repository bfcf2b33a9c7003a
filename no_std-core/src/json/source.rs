//! Where the tokenizer's bytes come from: a slice (general mode) or an `embedded_io::Read`
//! through a caller-owned chunk buffer (streaming mode), bounded in length and hashed as read.

use crate::error::{Error, ErrorKind, Result};
use sha2::{Digest, Sha256};

/// A byte source for the tokenizer.
pub(crate) trait Source {
    /// The next byte, without consuming it; `None` at the end.
    fn peek(&mut self) -> Result<Option<u8>>;
    /// Consumes the byte `peek` returned.
    fn bump(&mut self);
    /// Offset of the next byte in the whole input.
    fn offset(&self) -> usize;
    /// Consumes and returns the longest buffered run of bytes satisfying `f` (possibly empty,
    /// possibly shorter than the whole run: call again).
    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> Result<&[u8]>;
    /// The whole input, when it is addressable (general mode).
    #[cfg(feature = "general")]
    fn whole(&self) -> Option<&[u8]> {
        None
    }
}

/// A source borrowed by the tokenizer: a streaming source stays where it was built (a device's
/// frame holds no moved copy of its hash states).
impl<S: Source + ?Sized> Source for &mut S {
    #[inline]
    fn peek(&mut self) -> Result<Option<u8>> {
        (**self).peek()
    }
    #[inline]
    fn bump(&mut self) {
        (**self).bump();
    }
    #[inline]
    fn offset(&self) -> usize {
        (**self).offset()
    }
    #[inline]
    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> Result<&[u8]> {
        (**self).take_while(f)
    }
    #[cfg(feature = "general")]
    fn whole(&self) -> Option<&[u8]> {
        (**self).whole()
    }
}

/// General mode: the whole file is addressable.
#[derive(Clone, Copy)]
pub(crate) struct SliceSource<'a> {
    pub(crate) buf: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> SliceSource<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }
}

impl Source for SliceSource<'_> {
    #[cfg(feature = "general")]
    fn whole(&self) -> Option<&[u8]> {
        Some(self.buf)
    }
    #[inline]
    fn peek(&mut self) -> Result<Option<u8>> {
        Ok(self.buf.get(self.pos).copied())
    }
    #[inline]
    fn bump(&mut self) {
        self.pos += 1;
    }
    #[inline]
    fn offset(&self) -> usize {
        self.pos
    }
    #[inline]
    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> Result<&[u8]> {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        let n = rest.iter().position(|&b| !f(b)).unwrap_or(rest.len());
        self.pos += n;
        Ok(rest.get(..n).unwrap_or_default())
    }
}

/// Digests of a whole file, computed while it streams (for `meta` hash checks).
#[derive(Clone, Default)]
pub(crate) struct FileDigests {
    pub(crate) sha256: Option<Sha256>,
    pub(crate) sha512: Option<Sha512>,
    #[cfg(feature = "blake2b")]
    pub(crate) blake2b_256: Option<Blake2b256>,
}

/// SHA-512 of a whole file. With `opt-size`, ed25519-compact's own SHA-512, which signatures
/// need anyway, instead of a second implementation in flash.
#[derive(Clone)]
pub(crate) struct Sha512 {
    #[cfg(not(feature = "opt-size"))]
    h: sha2::Sha512,
    #[cfg(feature = "opt-size")]
    h: ed25519_compact::sha512::Hash,
    /// Bytes hashed. ed25519-compact counts bits in a `usize`, so on a 32-bit target a file
    /// past 512 MiB is never reported as matching.
    #[cfg(feature = "opt-size")]
    len: u64,
}

impl Sha512 {
    pub(crate) fn new() -> Self {
        Self {
            #[cfg(not(feature = "opt-size"))]
            h: sha2::Sha512::new(),
            #[cfg(feature = "opt-size")]
            h: ed25519_compact::sha512::Hash::new(),
            #[cfg(feature = "opt-size")]
            len: 0,
        }
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        #[cfg(feature = "opt-size")]
        {
            self.len = self.len.saturating_add(bytes.len() as u64);
        }
        self.h.update(bytes);
    }

    /// The digest, or `None` when it cannot be trusted.
    pub(crate) fn finish(&mut self) -> Option<[u8; 64]> {
        #[cfg(not(feature = "opt-size"))]
        return Some(self.h.finalize_reset().into());
        #[cfg(feature = "opt-size")]
        return (self.len <= (usize::MAX / 8) as u64).then(|| self.h.finalize());
    }
}

/// BLAKE2b with a 256-bit output (`blake2b-256`, what RSTUF's CLI hashes artifacts with).
#[cfg(feature = "blake2b")]
pub(crate) type Blake2b256 = blake2::Blake2b<blake2::digest::consts::U32>;

impl FileDigests {
    /// Starts the digests `hashes` lists, and SHA-256 when `sha256`, in place (a device's
    /// frame holds no second copy of the hash states).
    pub(crate) fn start(&mut self, hashes: Option<&crate::metadata::Hashes>, sha256: bool) {
        let listed = hashes
            .map(crate::metadata::Hashes::listed)
            .unwrap_or_default();
        if listed.0 || sha256 {
            self.sha256 = Some(Sha256::new());
        }
        if listed.1 {
            self.sha512 = Some(Sha512::new());
        }
        #[cfg(feature = "blake2b")]
        if listed.2 {
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

/// A reader behind a pointer: every streaming parse shares one copy of the tokenizer, whatever
/// the caller's reader type (code size on a device; one indirect call per chunk).
pub(crate) trait ReadChunk {
    fn read_chunk(&mut self, buf: &mut [u8]) -> core::result::Result<usize, ()>;
}

impl<R: embedded_io::Read> ReadChunk for R {
    fn read_chunk(&mut self, buf: &mut [u8]) -> core::result::Result<usize, ()> {
        self.read(buf).map_err(|_| ())
    }
}

/// Streaming mode: reads chunks into a caller buffer, never more than `max_length` bytes in all.
pub(crate) struct ReadSource<'b> {
    reader: &'b mut dyn ReadChunk,
    buf: &'b mut [u8],
    start: usize,
    end: usize,
    consumed_before: usize,
    total: u64,
    max_length: u64,
    eof: bool,
    pub(crate) digests: FileDigests,
}

impl<'b> ReadSource<'b> {
    /// A source computing no digests yet (`digests.start` sets them up in place).
    pub(crate) fn new(reader: &'b mut dyn ReadChunk, buf: &'b mut [u8], max_length: u64) -> Self {
        Self {
            reader,
            buf,
            start: 0,
            end: 0,
            consumed_before: 0,
            total: 0,
            max_length,
            eof: false,
            digests: FileDigests::default(),
        }
    }

    /// Total bytes read from the reader so far.
    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    fn fill(&mut self) -> Result<()> {
        if self.start < self.end || self.eof {
            return Ok(());
        }
        self.consumed_before += self.end;
        self.start = 0;
        self.end = 0;
        let n = self
            .reader
            .read_chunk(self.buf)
            .map_err(|_| Error::at(ErrorKind::Io, self.consumed_before))?;
        if n == 0 {
            self.eof = true;
            return Ok(());
        }
        let chunk = self
            .buf
            .get(..n)
            .ok_or(Error::at(ErrorKind::Io, self.consumed_before))?;
        self.total += n as u64;
        if self.total > self.max_length {
            return Err(Error::at(ErrorKind::LengthExceeded, self.consumed_before));
        }
        self.digests.update(chunk);
        self.end = n;
        Ok(())
    }

    /// Reads the rest of the input (after the JSON value) so the length and hashes cover all of it.
    pub(crate) fn drain(&mut self) -> Result<()> {
        loop {
            self.start = self.end;
            self.fill()?;
            if self.eof {
                return Ok(());
            }
        }
    }
}

impl Source for ReadSource<'_> {
    #[inline]
    fn peek(&mut self) -> Result<Option<u8>> {
        if self.start == self.end {
            if self.buf.is_empty() {
                return Err(Error::new(ErrorKind::Misuse, "chunk buffer is empty"));
            }
            self.fill()?;
        }
        Ok(self
            .buf
            .get(self.start)
            .copied()
            .filter(|_| self.start < self.end))
    }
    #[inline]
    fn bump(&mut self) {
        self.start += 1;
    }
    #[inline]
    fn offset(&self) -> usize {
        self.consumed_before + self.start
    }
    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> Result<&[u8]> {
        self.peek()?;
        let rest = self.buf.get(self.start..self.end).unwrap_or_default();
        let n = rest.iter().position(|&b| !f(b)).unwrap_or(rest.len());
        let from = self.start;
        self.start += n;
        Ok(self.buf.get(from..from + n).unwrap_or_default())
    }
}
