//! Where the tokenizer's bytes come from: a slice (general mode) or an `embedded_io::Read`
//! through a caller-owned chunk buffer (streaming mode), bounded in length and hashed as read.

use crate::error::{Error, ErrorKind, Field, Result};
use crate::hashes::Digests;

/// A byte source for the tokenizer. A read that fails ends the input there: `peek` then
/// returns `None` for good and `failed` says why, so the tokenizer's every step handles one
/// `Option` instead of a `Result` (code size on a device), and whatever error it reaches at that
/// point reports the failure instead ([`Lexer`](super::lexer::Lexer)'s `err_at`).
pub(crate) trait Source {
    /// The next byte, without consuming it; `None` at the end (or after a failed read).
    fn peek(&mut self) -> Option<u8>;
    /// Consumes the byte `peek` returned.
    fn bump(&mut self);
    /// Offset of the next byte in the whole input.
    fn offset(&self) -> usize;
    /// Consumes and returns the longest buffered run of bytes satisfying `f` (possibly empty,
    /// possibly shorter than the whole run: call again).
    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &[u8];
    /// The read failure that ended the input early, if one did.
    fn failed(&self) -> Option<Error> {
        None
    }
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
    fn peek(&mut self) -> Option<u8> {
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
    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &[u8] {
        (**self).take_while(f)
    }
    #[inline]
    fn failed(&self) -> Option<Error> {
        (**self).failed()
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
    fn peek(&mut self) -> Option<u8> {
        self.buf.get(self.pos).copied()
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
    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &[u8] {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        let n = rest.iter().position(|&b| !f(b)).unwrap_or(rest.len());
        self.pos += n;
        rest.get(..n).unwrap_or_default()
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
    /// Why the input ended early (the end of input then, for good).
    failure: Option<Error>,
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
            failure: None,
            digests: Digests::default(),
        }
    }

    /// Total bytes read from the reader so far.
    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    /// Reads the next chunk when the buffer is used up; a failure ends the input (nothing is
    /// left to serve: `read_chunk` fails before reading, or after emptying the buffer).
    #[inline(never)] // the slow path of every `peek`: one copy
    fn fill(&mut self) {
        if let Err(e) = self.read_chunk() {
            self.failure = Some(e);
            self.eof = true;
        }
    }

    fn read_chunk(&mut self) -> Result<()> {
        if self.start < self.end || self.eof {
            return Ok(());
        }
        if self.buf.is_empty() {
            return Err(Error::new(ErrorKind::Misuse, Field::ChunkBuffer));
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
            self.fill();
            if self.eof {
                return self.failure.map_or(Ok(()), Err);
            }
        }
    }
}

impl Source for ReadSource<'_> {
    #[inline]
    fn peek(&mut self) -> Option<u8> {
        if self.start == self.end {
            self.fill();
        }
        self.buf
            .get(self.start)
            .copied()
            .filter(|_| self.start < self.end)
    }
    #[inline]
    fn bump(&mut self) {
        self.start += 1;
    }
    #[inline]
    fn offset(&self) -> usize {
        self.consumed_before + self.start
    }
    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &[u8] {
        self.peek();
        let rest = self.buf.get(self.start..self.end).unwrap_or_default();
        let n = rest.iter().position(|&b| !f(b)).unwrap_or(rest.len());
        let from = self.start;
        self.start += n;
        self.buf.get(from..from + n).unwrap_or_default()
    }
    fn failed(&self) -> Option<Error> {
        self.failure
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::lexer::{Lexer, NoCanon};

    /// Serves `bytes` `step` at a time, then fails once `fail_at` bytes have been served.
    struct Failing<'a> {
        bytes: &'a [u8],
        at: usize,
        step: usize,
        fail_at: usize,
    }

    impl ReadChunk for Failing<'_> {
        fn read_chunk(&mut self, buf: &mut [u8]) -> core::result::Result<usize, ()> {
            if self.at >= self.fail_at {
                return Err(());
            }
            let n = self.step.min(buf.len()).min(self.fail_at - self.at);
            let piece = self.bytes.get(self.at..).unwrap_or_default();
            let n = n.min(piece.len());
            buf[..n].copy_from_slice(&piece[..n]);
            self.at += n;
            Ok(n)
        }
    }

    fn read(reader: &mut dyn ReadChunk, max_length: u64) -> Result<()> {
        let mut chunk = [0u8; 7];
        let mut src = ReadSource::new(reader, &mut chunk, max_length);
        let mut lx = Lexer::new(&mut src, NoCanon);
        lx.skip()
            .and_then(|()| lx.finish())
            .map_err(|f| lx.error(f))?;
        src.drain()
    }

    const DOC: &[u8] = br#"{"a":[1,"b\u00e9",true,null,{"c":-0}],"d":"\u00e9x"}  "#;

    #[test]
    fn a_read_that_fails_anywhere_is_that_failure_never_a_value_or_a_syntax_error() {
        for step in [1, 3, 7] {
            let whole = &mut Failing {
                bytes: DOC,
                at: 0,
                step,
                fail_at: usize::MAX,
            };
            assert_eq!(read(whole, 1000), Ok(()));
            for fail_at in 0..=DOC.len() {
                let mut r = Failing {
                    bytes: DOC,
                    at: 0,
                    step,
                    fail_at,
                };
                let e = read(&mut r, 1000).unwrap_err();
                assert_eq!(
                    e.kind(),
                    ErrorKind::Io,
                    "fails after {fail_at} bytes, {step} a read"
                );
            }
        }
    }

    #[test]
    fn input_over_the_length_bound_is_refused_as_such_wherever_it_ends() {
        for max in 0..DOC.len() as u64 {
            let mut r = Failing {
                bytes: DOC,
                at: 0,
                step: 3,
                fail_at: usize::MAX,
            };
            let e = read(&mut r, max).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::LengthExceeded, "{max} bytes allowed");
        }
    }
}
