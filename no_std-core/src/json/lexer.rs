//! The one tokenizer: a bounded pull parser that validates as it goes (integers only, no
//! duplicate keys, no lone surrogates, valid UTF-8, depth bound) and, when a [`Canon`] is
//! switched on, writes the canonical form of what it reads, so signatures are checked over the
//! bytes received without a canonical copy ever being held.

use super::source::Source;
use super::{Discard, Sink, StrOut};
use crate::error::fault::{Fault, Result};
use crate::error::{Error, ErrorKind};
use crate::hashes::Sha256;
use crate::limits::{MAX_DEPTH, MAX_KEY_STACK};
use core::cmp::Ordering;

/// What the tokenizer does with canonical output and key order.
pub(crate) trait Canon {
    /// Whether canonical bytes are being produced now.
    fn on(&self) -> bool;
    /// Canonical bytes.
    fn out(&mut self, bytes: &[u8]);
    /// A container opened at `depth`.
    fn open(&mut self, _depth: usize) {}
    /// An object key starts at `depth`.
    fn key_begin(&mut self, _depth: usize) {}
    /// Decoded bytes of the key being read.
    fn key_push(&mut self, _bytes: &[u8]) {}
    /// The key is complete; `first` when it is the object's first. A located fault is at the
    /// key's opening quote.
    fn key_end(&mut self, _depth: usize, _first: bool) -> Result<()> {
        Ok(())
    }
    /// Where canonical output can also be hashed (streaming mode: key IDs), `None` in general
    /// mode, which re-reads the value's bytes instead.
    fn tap(&mut self) -> Option<&mut Option<Sha256>> {
        None
    }
    /// Whether object keys are required in canonical order (streaming mode): members then
    /// arrive in a known order.
    fn sorted(&self) -> bool {
        false
    }
}

/// Canonical output borrowed by the tokenizer (streaming builds it where it stays).
impl<K: Canon + ?Sized> Canon for &mut K {
    #[inline]
    fn on(&self) -> bool {
        (**self).on()
    }
    #[inline]
    fn out(&mut self, bytes: &[u8]) {
        (**self).out(bytes);
    }
    fn open(&mut self, depth: usize) {
        (**self).open(depth);
    }
    fn key_begin(&mut self, depth: usize) {
        (**self).key_begin(depth);
    }
    fn key_push(&mut self, bytes: &[u8]) {
        (**self).key_push(bytes);
    }
    fn key_end(&mut self, depth: usize, first: bool) -> Result<()> {
        (**self).key_end(depth, first)
    }
    fn tap(&mut self) -> Option<&mut Option<Sha256>> {
        (**self).tap()
    }
    fn sorted(&self) -> bool {
        (**self).sorted()
    }
}

/// Extraction only: no canonical output, any key order.
pub(crate) struct NoCanon;

impl Canon for NoCanon {
    fn on(&self) -> bool {
        false
    }
    fn out(&mut self, _: &[u8]) {}
}

/// The previous key of every open object, stacked in one buffer, to check canonical order.
/// A new key is compared with the previous one byte by byte as it arrives and overwrites it in
/// place: nothing is copied, and only the longest key per level is held.
pub(crate) struct KeyStack {
    buf: [u8; MAX_KEY_STACK],
    base: [u16; MAX_DEPTH + 2],
    end: [u16; MAX_DEPTH + 2],
    depth: usize,
    /// Bytes of the new key so far, and of the previous one at this level.
    len: usize,
    prev_len: usize,
    /// The new key against the previous one, on the bytes seen so far.
    order: Ordering,
    overflow: bool,
}

impl KeyStack {
    pub(crate) const fn new() -> Self {
        Self {
            buf: [0; MAX_KEY_STACK],
            base: [0; MAX_DEPTH + 2],
            end: [0; MAX_DEPTH + 2],
            depth: 0,
            len: 0,
            prev_len: 0,
            order: Ordering::Equal,
            overflow: false,
        }
    }

    fn open(&mut self, depth: usize) {
        let below = depth
            .checked_sub(1)
            .and_then(|d| self.end.get(d))
            .copied()
            .unwrap_or(0);
        if let (Some(b), Some(e)) = (self.base.get_mut(depth), self.end.get_mut(depth)) {
            *b = below;
            *e = below;
        }
    }

    fn level(&self) -> (usize, usize) {
        let d = self.depth;
        (
            usize::from(self.base.get(d).copied().unwrap_or(0)),
            usize::from(self.end.get(d).copied().unwrap_or(0)),
        )
    }

    fn begin(&mut self, depth: usize) {
        self.depth = depth;
        let (base, end) = self.level();
        self.len = 0;
        self.prev_len = end.saturating_sub(base);
        self.order = Ordering::Equal;
        self.overflow = false;
    }

    fn push(&mut self, bytes: &[u8]) {
        let (base, _) = self.level();
        let at = base + self.len;
        let Some(dst) = self
            .buf
            .get_mut(at..at + bytes.len())
            .filter(|_| !self.overflow)
        else {
            self.overflow = true;
            return;
        };
        if self.order == Ordering::Equal {
            // Against the previous key's bytes at the same positions, before they are
            // overwritten; past its end the new key is the longer one.
            let overlap = self.prev_len.saturating_sub(self.len).min(bytes.len());
            self.order = match (bytes.get(..overlap), dst.get(..overlap)) {
                (Some(new), Some(prev)) => new.cmp(prev),
                _ => Ordering::Equal,
            };
            if self.order == Ordering::Equal && bytes.len() > overlap {
                self.order = Ordering::Greater;
            }
        }
        dst.copy_from_slice(bytes);
        self.len += bytes.len();
    }

    /// Checks the new key against the previous one and keeps it. `Ok(false)` on overflow.
    fn end(&mut self, first: bool) -> Result<bool> {
        let (base, _) = self.level();
        let d = self.depth;
        if self.overflow {
            // The previous key is partly overwritten: forget it (order is unchecked from here).
            if let Some(e) = self.end.get_mut(d) {
                *e = base as u16;
            }
            return Ok(false);
        }
        // The new key is the previous one from now on, whatever the verdict.
        if let Some(e) = self.end.get_mut(d) {
            *e = (base + self.len) as u16;
        }
        if first {
            return Ok(true);
        }
        match self.order.then(self.len.cmp(&self.prev_len)) {
            Ordering::Greater => Ok(true),
            Ordering::Equal => Err(Fault::located(ErrorKind::DuplicateKey)),
            Ordering::Less => Err(Fault::located(ErrorKind::NotCanonical)),
        }
    }
}

/// Canonical output into a sink, optionally checking that keys already come sorted.
pub(crate) struct Canonical<'s, T: Sink + ?Sized> {
    sink: Option<&'s mut T>,
    /// Emitting now (streaming switches this on for `signed` only).
    pub(crate) on: bool,
    order: Option<KeyStack>,
    /// Set when a key was too long to check (general mode falls back to sorting).
    pub(crate) unchecked: bool,
    /// Strict: order problems are errors (streaming); otherwise only noted.
    strict: bool,
    /// Also hashes canonical output (key IDs in streaming mode).
    pub(crate) tap: Option<Sha256>,
}

impl<'s, T: Sink + ?Sized> Canonical<'s, T> {
    /// The sink canonical bytes go to.
    pub(crate) fn sink(&mut self) -> Option<&mut T> {
        self.sink.as_deref_mut()
    }

    /// Writes canonical bytes to `sink`, trusting that the input is sorted.
    pub(crate) fn emit(sink: &'s mut T) -> Self {
        Self {
            sink: Some(sink),
            on: true,
            order: None,
            unchecked: false,
            strict: false,
            tap: None,
        }
    }
    /// Writes canonical bytes while requiring sorted keys (streaming mode).
    pub(crate) fn strict(sink: &'s mut T, on: bool) -> Self {
        Self {
            sink: Some(sink),
            on,
            order: Some(KeyStack::new()),
            unchecked: false,
            strict: true,
            tap: None,
        }
    }
}

impl Canonical<'static, Sha256> {
    /// Only checks whether keys are sorted (general mode, before choosing how to emit).
    pub(crate) fn check_order() -> Self {
        Self {
            sink: None,
            on: false,
            order: Some(KeyStack::new()),
            unchecked: false,
            strict: false,
            tap: None,
        }
    }
}

impl<T: Sink + ?Sized> Canon for Canonical<'_, T> {
    #[inline]
    fn on(&self) -> bool {
        self.on
    }
    // One copy for every place the tokenizer emits on a device; inlined on a host (speed).
    #[cfg_attr(otuf_small, inline(never))]
    #[cfg_attr(not(otuf_small), inline)]
    fn out(&mut self, bytes: &[u8]) {
        if let Some(s) = &mut self.sink {
            s.write(bytes);
        }
        if let Some(h) = &mut self.tap {
            h.update(bytes);
        }
    }
    fn tap(&mut self) -> Option<&mut Option<Sha256>> {
        Some(&mut self.tap)
    }
    fn sorted(&self) -> bool {
        self.strict
    }
    fn open(&mut self, depth: usize) {
        if let Some(k) = &mut self.order {
            k.open(depth);
        }
    }
    fn key_begin(&mut self, depth: usize) {
        if let Some(k) = &mut self.order {
            k.begin(depth);
        }
    }
    fn key_push(&mut self, bytes: &[u8]) {
        if let Some(k) = &mut self.order {
            k.push(bytes);
        }
    }
    fn key_end(&mut self, _depth: usize, first: bool) -> Result<()> {
        let Some(k) = &mut self.order else {
            return Ok(());
        };
        match k.end(first) {
            Ok(true) => Ok(()),
            Ok(false) if self.strict => Err(Fault::located(ErrorKind::Limit)),
            Ok(false) => {
                self.unchecked = true;
                Ok(())
            }
            Err(e) if self.strict || e.kind() == ErrorKind::DuplicateKey => Err(e),
            Err(_) => {
                self.unchecked = true;
                Ok(())
            }
        }
    }
}

/// Encodes code point `cp` (not a surrogate, at most U+10FFFF: a `\\u` escape or a pair of
/// them) as UTF-8 into `out`; its length.
fn encode_utf8(cp: u32, out: &mut [u8; 4]) -> usize {
    let n = match cp {
        0..=0x7F => 1,
        0x80..=0x7FF => 2,
        0x800..=0xFFFF => 3,
        _ => 4,
    };
    let lead = [0, 0, 0xC0, 0xE0, 0xF0];
    let mut cp = cp;
    for i in (1..n).rev() {
        if let Some(b) = out.get_mut(i) {
            *b = 0x80 | (cp & 0x3F) as u8;
        }
        cp >>= 6;
    }
    out[0] = lead.get(n).copied().unwrap_or(0) | cp as u8;
    n
}

/// Feeds the key stack.
struct KeyOut<'a, K>(&'a mut K);

impl<K: Canon> StrOut for KeyOut<'_, K> {
    fn push(&mut self, bytes: &[u8]) {
        self.0.key_push(bytes);
    }
}

/// The kind of the next value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Object,
    Array,
    String,
    Number,
    Bool,
    Null,
}

/// One bit per nesting level (a device's nesting fits in 32 bits, and 64-bit words cost it
/// two registers per operation).
#[cfg(otuf_small)]
type Bits = u32;
#[cfg(not(otuf_small))]
type Bits = u64;
const _: () = assert!(MAX_DEPTH < Bits::BITS as usize);

/// The pull tokenizer.
pub(crate) struct Lexer<S, K> {
    pub(crate) src: S,
    pub(crate) canon: K,
    depth: usize,
    objects: Bits,
    first: Bits,
    /// Offset of the opening quote of the last key read.
    pub(crate) key_at: usize,
    /// Offset of the last located fault made here.
    fault_at: usize,
}

fn is_plain(b: u8) -> bool {
    (0x20..0x80).contains(&b) && b != b'"' && b != b'\\'
}

impl<S: Source, K: Canon> Lexer<S, K> {
    pub(crate) fn new(src: S, canon: K) -> Self {
        Self {
            src,
            canon,
            depth: 0,
            objects: 0,
            first: 0,
            key_at: 0,
            fault_at: 0,
        }
    }

    /// `fault` as an error, at the offset recorded for it: the owner of a tokenizer returns
    /// its readers' faults so.
    pub(crate) fn error(&self, fault: Fault) -> Error {
        fault.at(self.fault_at)
    }

    /// `error` (of the source, or of another tokenizer over the same input) as a fault here.
    pub(crate) fn adopt(&mut self, error: Error) -> Fault {
        self.fault_at = error.offset().map_or(0, |o| o as usize);
        Fault::of(error)
    }

    /// `kind` at byte `at`.
    fn fault(&mut self, kind: ErrorKind, at: usize) -> Fault {
        self.fault_at = at;
        Fault::located(kind)
    }

    fn err(&mut self, kind: ErrorKind) -> Fault {
        let at = self.src.offset();
        self.err_at(kind, at)
    }

    /// `kind` at byte `at`, unless the input ended in a failed read: then that failure, which
    /// is why the bytes there were not what they should be.
    fn err_at(&mut self, kind: ErrorKind, at: usize) -> Fault {
        match self.src.failed() {
            Some(failure) => self.adopt(failure),
            None => self.fault(kind, at),
        }
    }

    /// Canonical output, to the canon and to `extra` (a value being captured).
    #[inline]
    fn emit(&mut self, extra: &mut dyn Sink, bytes: &[u8]) {
        if self.canon.on() {
            self.canon.out(bytes);
            extra.write(bytes);
        }
    }

    fn ws(&mut self) -> Option<u8> {
        loop {
            match self.src.peek() {
                Some(b' ' | b'\t' | b'\n' | b'\r') => self.src.bump(),
                other => return other,
            }
        }
    }

    /// Offset of the next value (after white space).
    pub(crate) fn value_offset(&mut self) -> usize {
        self.ws();
        self.src.offset()
    }

    /// The kind of the next value, without consuming it.
    pub(crate) fn peek_kind(&mut self) -> Result<Kind> {
        match self.ws() {
            Some(b'{') => Ok(Kind::Object),
            Some(b'[') => Ok(Kind::Array),
            Some(b'"') => Ok(Kind::String),
            Some(b'-' | b'0'..=b'9') => Ok(Kind::Number),
            Some(b't' | b'f') => Ok(Kind::Bool),
            Some(b'n') => Ok(Kind::Null),
            _ => Err(self.err(ErrorKind::Syntax)),
        }
    }

    fn bit(&self) -> Bits {
        1 << (self.depth % Bits::BITS as usize)
    }

    #[cfg_attr(not(otuf_small), inline)] // every value passes here: a host inlines it
    fn open(&mut self, object: bool, extra: &mut dyn Sink) -> Result<()> {
        if self.depth >= MAX_DEPTH {
            return Err(self.err(ErrorKind::Depth));
        }
        self.src.bump();
        self.emit(extra, if object { b"{" } else { b"[" });
        self.depth += 1;
        let bit = self.bit();
        self.first |= bit;
        if object {
            self.objects |= bit;
        } else {
            self.objects &= !bit;
        }
        self.canon.open(self.depth);
        Ok(())
    }

    #[cfg_attr(not(otuf_small), inline)] // every value passes here: a host inlines it
    fn close(&mut self, extra: &mut dyn Sink) {
        self.src.bump();
        let object = self.objects & self.bit() != 0;
        self.emit(extra, if object { b"}" } else { b"]" });
        self.depth = self.depth.saturating_sub(1);
    }

    #[cfg_attr(not(otuf_small), inline)] // every value passes here: a host inlines it
    fn expect_kind(&mut self, kind: Kind) -> Result<()> {
        if self.peek_kind()? == kind {
            Ok(())
        } else {
            Err(self.err(ErrorKind::WrongType))
        }
    }

    /// Consumes `{`.
    pub(crate) fn begin_object(&mut self) -> Result<()> {
        self.expect_kind(Kind::Object)?;
        self.open(true, &mut Discard)
    }

    /// Consumes `[`.
    pub(crate) fn begin_array(&mut self) -> Result<()> {
        self.expect_kind(Kind::Array)?;
        self.open(false, &mut Discard)
    }

    /// Reads the next member's key into `out` and the `:` after it; `false` at the end of the
    /// object (which is then consumed).
    pub(crate) fn next_key(&mut self, out: &mut dyn StrOut) -> Result<bool> {
        self.next_key_into(out, &mut Discard)
    }

    fn next_key_into(&mut self, out: &mut dyn StrOut, extra: &mut dyn Sink) -> Result<bool> {
        let bit = self.bit();
        let first = self.first & bit != 0;
        match self.ws() {
            Some(b'}') => {
                self.close(extra);
                return Ok(false);
            }
            Some(b'"') if first => {}
            Some(b',') if !first => {
                self.src.bump();
                self.emit(extra, b",");
                if self.ws() != Some(b'"') {
                    return Err(self.err(ErrorKind::Syntax));
                }
            }
            _ => return Err(self.err(ErrorKind::Syntax)),
        }
        self.first &= !bit;
        let at = self.src.offset();
        self.key_at = at;
        self.canon.key_begin(self.depth);
        self.decode_string(out, true, extra)?;
        if let Err(f) = self.canon.key_end(self.depth, first) {
            return Err(self.fault(f.kind(), at));
        }
        if self.ws() != Some(b':') {
            return Err(self.err(ErrorKind::Syntax));
        }
        self.src.bump();
        self.emit(extra, b":");
        Ok(true)
    }

    /// Moves to the next array element; `false` at the end of the array (then consumed).
    pub(crate) fn next_item(&mut self) -> Result<bool> {
        self.next_item_into(&mut Discard)
    }

    fn next_item_into(&mut self, extra: &mut dyn Sink) -> Result<bool> {
        let bit = self.bit();
        let first = self.first & bit != 0;
        match self.ws() {
            Some(b']') => {
                self.close(extra);
                Ok(false)
            }
            Some(b',') if !first => {
                self.src.bump();
                self.emit(extra, b",");
                Ok(true)
            }
            Some(_) if first => {
                self.first &= !bit;
                Ok(true)
            }
            _ => Err(self.err(ErrorKind::Syntax)),
        }
    }

    /// Reads a string value, decoded, into `out`.
    pub(crate) fn string(&mut self, out: &mut dyn StrOut) -> Result<()> {
        self.expect_kind(Kind::String)?;
        self.decode_string(out, false, &mut Discard)
    }

    fn decode_string(
        &mut self,
        out: &mut dyn StrOut,
        key: bool,
        extra: &mut dyn Sink,
    ) -> Result<()> {
        self.src.bump(); // the opening quote
        let on = self.canon.on();
        self.emit(extra, b"\"");
        loop {
            // Fast path: a run of plain ASCII.
            let run = self.src.take_while(is_plain);
            if !run.is_empty() {
                out.push(run);
                if on {
                    self.canon.out(run);
                    extra.write(run);
                }
                if key {
                    self.canon.key_push(run);
                }
                continue;
            }
            let at = self.src.offset();
            let Some(b) = self.src.peek() else {
                return Err(self.err(ErrorKind::Syntax));
            };
            self.src.bump();
            let mut tmp = [0u8; 4];
            let decoded: &[u8] = match b {
                b'"' => break,
                b'\\' => {
                    let n = self.escape(&mut tmp, at)?;
                    tmp.get(..n).unwrap_or_default()
                }
                0x00..=0x1f => return Err(self.fault(ErrorKind::Syntax, at)),
                0x80..=0xff => {
                    let n = self.utf8(b, &mut tmp, at)?;
                    tmp.get(..n).unwrap_or_default()
                }
                _ => {
                    tmp[0] = b;
                    tmp.get(..1).unwrap_or_default()
                }
            };
            out.push(decoded);
            if on {
                super::escape_canonical(decoded, &mut |b| {
                    self.canon.out(b);
                    extra.write(b);
                });
            }
            if key {
                KeyOut(&mut self.canon).push(decoded);
            }
        }
        self.emit(extra, b"\"");
        Ok(())
    }

    fn next_byte(&mut self) -> Result<u8> {
        let Some(b) = self.src.peek() else {
            return Err(self.err(ErrorKind::Syntax));
        };
        self.src.bump();
        Ok(b)
    }

    fn hex4(&mut self, at: usize) -> Result<u32> {
        let mut v = 0u32;
        for _ in 0..4 {
            let c = self.next_byte()?;
            let Some(d) = (c as char).to_digit(16) else {
                return Err(self.fault(ErrorKind::Syntax, at));
            };
            v = (v << 4) | d;
        }
        Ok(v)
    }

    /// Decodes the escape after a backslash into UTF-8; returns its length.
    #[inline(never)]
    fn escape(&mut self, tmp: &mut [u8; 4], at: usize) -> Result<usize> {
        let c = match self.next_byte()? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = self.hex4(at)?;
                let cp = match hi {
                    0xD800..=0xDBFF => {
                        if self.src.peek() != Some(b'\\') {
                            return Err(self.err_at(ErrorKind::Surrogate, at));
                        }
                        self.src.bump();
                        if self.next_byte()? != b'u' {
                            return Err(self.fault(ErrorKind::Surrogate, at));
                        }
                        let lo = self.hex4(at)?;
                        if !(0xDC00..=0xDFFF).contains(&lo) {
                            return Err(self.fault(ErrorKind::Surrogate, at));
                        }
                        0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                    }
                    0xDC00..=0xDFFF => return Err(self.fault(ErrorKind::Surrogate, at)),
                    _ => hi,
                };
                return Ok(encode_utf8(cp, tmp));
            }
            _ => return Err(self.fault(ErrorKind::Syntax, at)),
        };
        tmp[0] = c as u8;
        Ok(1)
    }

    /// Validates one multi-byte UTF-8 sequence starting with `lead`.
    #[inline(never)]
    fn utf8(&mut self, lead: u8, tmp: &mut [u8; 4], at: usize) -> Result<usize> {
        let (n, lo, hi) = match lead {
            0xC2..=0xDF => (2, 0x80, 0xBF),
            0xE0 => (3, 0xA0, 0xBF),
            0xE1..=0xEC | 0xEE..=0xEF => (3, 0x80, 0xBF),
            0xED => (3, 0x80, 0x9F), // no encoded surrogates
            0xF0 => (4, 0x90, 0xBF),
            0xF1..=0xF3 => (4, 0x80, 0xBF),
            0xF4 => (4, 0x80, 0x8F),
            _ => return Err(self.fault(ErrorKind::Utf8, at)),
        };
        tmp[0] = lead;
        for i in 1..n {
            let Some(c) = self.src.peek() else {
                return Err(self.err_at(ErrorKind::Utf8, at));
            };
            let (l, h) = if i == 1 { (lo, hi) } else { (0x80, 0xBF) };
            if c < l || c > h {
                return Err(self.fault(ErrorKind::Utf8, at));
            }
            self.src.bump();
            if let Some(slot) = tmp.get_mut(i) {
                *slot = c;
            }
        }
        Ok(n)
    }

    /// Reads an integer; fractions and exponents are `Float`. Its value when it is one of
    /// `u64` (not negative, not too large).
    fn integer_into(&mut self, extra: &mut dyn Sink) -> Result<Option<u64>> {
        self.expect_kind(Kind::Number)?;
        let negative = self.src.peek() == Some(b'-');
        if negative {
            self.src.bump();
        }
        let at = self.src.offset();
        let zero = match self.src.peek() {
            Some(b'0') => true,
            Some(b'1'..=b'9') => false,
            _ => return Err(self.err_at(ErrorKind::Syntax, at)),
        };
        if negative && !zero {
            self.emit(extra, b"-"); // "-0" is 0 in canonical form
        }
        // A negative integer is never one of `u64`'s; zero is a value of its own.
        let (mut value, mut fits, mut digits) = (0u64, !negative || zero, 0usize);
        loop {
            let run = self.src.take_while(|b| b.is_ascii_digit());
            if run.is_empty() {
                break;
            }
            digits += run.len();
            for &d in run {
                // u64::MAX is 18446744073709551615.
                const TENTH: u64 = u64::MAX / 10;
                let d = d - b'0';
                fits &= value < TENTH || value == TENTH && d <= 5;
                value = value.wrapping_mul(10).wrapping_add(u64::from(d));
            }
            if self.canon.on() {
                self.canon.out(run);
                extra.write(run);
            }
        }
        if zero && digits > 1 {
            return Err(self.fault(ErrorKind::Syntax, at + 1)); // a leading zero
        }
        if matches!(self.src.peek(), Some(b'.' | b'e' | b'E')) {
            return Err(self.fault(ErrorKind::Float, at));
        }
        Ok(fits.then_some(value))
    }

    /// Reads a non-negative integer that fits in `u64`.
    pub(crate) fn uint(&mut self) -> Result<u64> {
        let at = self.value_offset();
        match self.integer_into(&mut Discard)? {
            Some(v) => Ok(v),
            None => Err(self.fault(ErrorKind::BadValue, at)),
        }
    }

    fn literal(&mut self, word: &'static [u8], extra: &mut dyn Sink) -> Result<()> {
        for &w in word {
            if self.next_byte()? != w {
                return Err(self.err(ErrorKind::Syntax));
            }
        }
        self.emit(extra, word);
        Ok(())
    }

    /// Reads `true` or `false`.
    pub(crate) fn boolean(&mut self) -> Result<bool> {
        self.boolean_into(&mut Discard)
    }

    fn boolean_into(&mut self, extra: &mut dyn Sink) -> Result<bool> {
        match self.ws() {
            Some(b't') => self.literal(b"true", extra).map(|()| true),
            Some(b'f') => self.literal(b"false", extra).map(|()| false),
            _ => Err(self.err(ErrorKind::WrongType)),
        }
    }

    /// Skips (validates, and emits when on) one whole value, without recursion.
    pub(crate) fn skip(&mut self) -> Result<()> {
        self.skip_into(&mut Discard)
    }

    /// [`skip`](Self::skip), also writing the value's canonical form to `extra` when output is
    /// on (streaming mode keeps a target's `custom` so).
    pub(crate) fn skip_into(&mut self, extra: &mut dyn Sink) -> Result<()> {
        let base = self.depth;
        loop {
            match self.peek_kind()? {
                Kind::Object => self.open(true, extra)?,
                Kind::Array => self.open(false, extra)?,
                Kind::String => self.decode_string(&mut Discard, false, extra)?,
                Kind::Number => {
                    self.integer_into(extra)?;
                }
                Kind::Bool => {
                    self.boolean_into(extra)?;
                }
                Kind::Null => self.literal(b"null", extra)?,
            }
            // Find the next value to read, closing finished containers.
            loop {
                if self.depth <= base {
                    return Ok(());
                }
                let more = if self.objects & self.bit() != 0 {
                    self.next_key_into(&mut Discard, extra)?
                } else {
                    self.next_item_into(extra)?
                };
                if more {
                    break;
                }
            }
        }
    }

    /// Requires the end of input after the top-level value.
    pub(crate) fn finish(&mut self) -> Result<()> {
        match self.ws() {
            None => match self.src.failed() {
                Some(failure) => Err(self.adopt(failure)),
                None => Ok(()),
            },
            Some(_) => Err(self.err(ErrorKind::Trailing)),
        }
    }
}
