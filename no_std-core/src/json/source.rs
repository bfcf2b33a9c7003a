//! Where the tokenizer's bytes come from: a slice (general mode) or an `embedded_io::Read`
//! through a caller-owned chunk buffer (streaming mode), bounded in length and hashed as read.

use crate::error::{Error, ErrorKind, Field, Result};
use crate::hashes::Digests;

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
    pub(crate) digests: Digests,
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
            digests: Digests::default(),
        }
    }

    /// Total bytes read from the reader so far.
    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    #[inline(never)] // the slow path of every `peek`: one copy
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
                return Err(Error::new(ErrorKind::Misuse, Field::ChunkBuffer));
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
