//! Canonical JSON exactly as securesystemslib's `encode_canonical` writes it: no white space,
//! keys sorted by code point (UTF-8 byte order), only `\` and `"` escaped, integers only.
//!
//! Input that is already sorted (what python-tuf and otuf-repo write) is canonicalised in one
//! linear pass. Anything else is sorted without a heap: each object is scanned in batches of
//! the next [`BATCH`] smallest keys, so memory stays fixed however large the object.

use super::lexer::{Canonical, Kind, Lexer, NoCanon};
use super::source::SliceSource;
use super::{Discard, Sink};
use crate::error::{Error, ErrorKind, Result};
use core::cmp::Ordering;

/// Keys placed per scan of an unsorted object.
const BATCH: usize = 32;

/// Validates `json` (one value, nothing after it) and writes its canonical form to `sink`.
pub fn canonicalize_into<T: Sink + ?Sized>(json: &[u8], sink: &mut T) -> Result<()> {
    let mut lx = Lexer::new(SliceSource::new(json), NoCanon);
    lx.skip()
        .and_then(|()| lx.finish())
        .map_err(|f| lx.error(f))?;
    emit_value(json, 0, sink)
}

/// The canonical form of `json` (what the repository service signs).
#[cfg(feature = "alloc")]
pub fn canonicalize(json: &[u8]) -> Result<alloc::vec::Vec<u8>> {
    let mut out = alloc::vec::Vec::with_capacity(json.len());
    canonicalize_into(json, &mut out)?;
    Ok(out)
}

/// Writes the canonical form of the already validated value at `buf[start..]`. Its tokenizers
/// are its own (general mode only), so its errors carry their offsets.
pub(crate) fn emit_value<T: Sink + ?Sized>(buf: &[u8], start: usize, sink: &mut T) -> Result<()> {
    let mut check = Lexer::new(SliceSource { buf, pos: start }, Canonical::check_order());
    check.skip().map_err(|f| check.error(f))?;
    if check.canon.unchecked {
        emit_sorted(buf, start, sink).map(|_| ())
    } else {
        let mut lx = Lexer::new(SliceSource { buf, pos: start }, Canonical::emit(sink));
        lx.skip().map_err(|f| lx.error(f))
    }
}

/// One object member of an unsorted object: where its key string and its value start.
#[derive(Clone, Copy)]
struct Member {
    key: usize,
    value: usize,
}

/// Canonicalises by sorting (the value at `pos` was validated); returns the end offset.
fn emit_sorted<T: Sink + ?Sized>(buf: &[u8], pos: usize, sink: &mut T) -> Result<usize> {
    let mut lx = Lexer::new(SliceSource { buf, pos }, NoCanon);
    match lx.peek_kind().map_err(|f| lx.error(f))? {
        Kind::Object => {
            let start = lx.value_offset();
            sink.write(b"{");
            let mut lower: Option<usize> = None;
            let mut first = true;
            let end = loop {
                let mut batch: heapless::Vec<Member, BATCH> = heapless::Vec::new();
                let mut scan = Lexer::new(SliceSource { buf, pos: start }, NoCanon);
                scan.begin_object().map_err(|f| scan.error(f))?;
                loop {
                    if !scan.next_key(&mut Discard).map_err(|f| scan.error(f))? {
                        break;
                    }
                    let key = scan.key_at;
                    let value = scan.value_offset();
                    scan.skip().map_err(|f| scan.error(f))?;
                    if let Some(l) = lower {
                        if key == l {
                            continue; // the member emitted last
                        }
                        match cmp_keys(buf, key, l) {
                            Ordering::Greater => {}
                            Ordering::Equal => return Err(Error::at(ErrorKind::DuplicateKey, key)),
                            Ordering::Less => continue,
                        }
                    }
                    let mut dup = false;
                    let at = batch
                        .iter()
                        .position(|m| match cmp_keys(buf, key, m.key) {
                            Ordering::Less => true,
                            Ordering::Equal => {
                                dup = true;
                                true
                            }
                            Ordering::Greater => false,
                        })
                        .unwrap_or(batch.len());
                    if dup {
                        return Err(Error::at(ErrorKind::DuplicateKey, key));
                    }
                    if at < BATCH {
                        if batch.is_full() {
                            batch.pop();
                        }
                        // Cannot fail: one slot was just freed or there was room. Moved into
                        // place by swaps: `insert` is a `memmove` (1.5 KiB on a device).
                        let _ = batch.push(Member { key, value });
                        for i in (at + 1..batch.len()).rev() {
                            batch.swap(i, i - 1);
                        }
                    }
                }
                let Some(last) = batch.last().copied() else {
                    break scan.src.pos;
                };
                for m in &batch {
                    if !first {
                        sink.write(b",");
                    }
                    first = false;
                    let mut key =
                        Lexer::new(SliceSource { buf, pos: m.key }, Canonical::emit(&mut *sink));
                    key.string(&mut Discard).map_err(|f| key.error(f))?;
                    sink.write(b":");
                    emit_sorted(buf, m.value, sink)?;
                }
                lower = Some(last.key);
            };
            sink.write(b"}");
            Ok(end)
        }
        Kind::Array => {
            lx.begin_array().map_err(|f| lx.error(f))?;
            sink.write(b"[");
            let mut first = true;
            while lx.next_item().map_err(|f| lx.error(f))? {
                if !first {
                    sink.write(b",");
                }
                first = false;
                let at = lx.value_offset();
                emit_sorted(buf, at, sink)?;
                lx.skip().map_err(|f| lx.error(f))?;
            }
            sink.write(b"]");
            Ok(lx.src.pos)
        }
        _ => {
            let mut scalar = Lexer::new(SliceSource { buf, pos }, Canonical::emit(sink));
            scalar.skip().map_err(|f| scalar.error(f))?;
            Ok(scalar.src.pos)
        }
    }
}

/// Compares two validated JSON strings (offsets of their opening quotes) by decoded code points.
fn cmp_keys(buf: &[u8], a: usize, b: usize) -> Ordering {
    Decoded::new(buf, a).cmp(Decoded::new(buf, b))
}

/// The decoded UTF-8 bytes of a validated JSON string.
struct Decoded<'a> {
    buf: &'a [u8],
    pos: usize,
    pending: [u8; 4],
    next: usize,
    len: usize,
}

impl<'a> Decoded<'a> {
    fn new(buf: &'a [u8], quote: usize) -> Self {
        Self {
            buf,
            pos: quote + 1,
            pending: [0; 4],
            next: 0,
            len: 0,
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let s = self.buf.get(self.pos..self.pos + 4)?;
        self.pos += 4;
        u32::from_str_radix(core::str::from_utf8(s).ok()?, 16).ok()
    }
}

impl Iterator for Decoded<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        if self.next < self.len {
            self.next += 1;
            return self.pending.get(self.next - 1).copied();
        }
        let b = *self.buf.get(self.pos)?;
        self.pos += 1;
        match b {
            b'"' => None,
            b'\\' => {
                let e = *self.buf.get(self.pos)?;
                self.pos += 1;
                let c = match e {
                    b'b' => '\u{8}',
                    b'f' => '\u{c}',
                    b'n' => '\n',
                    b'r' => '\r',
                    b't' => '\t',
                    b'u' => {
                        let hi = self.hex4()?;
                        let cp = if (0xD800..0xDC00).contains(&hi) {
                            self.pos += 2; // the validated `\u` of the low surrogate
                            0x10000
                                + ((hi - 0xD800) << 10)
                                + (self.hex4()?.wrapping_sub(0xDC00) & 0x3FF)
                        } else {
                            hi
                        };
                        char::from_u32(cp)?
                    }
                    other => char::from(other),
                };
                self.len = c.encode_utf8(&mut self.pending).len();
                self.next = 1;
                self.pending.first().copied()
            }
            _ => Some(b),
        }
    }
}

#[cfg(test)]
#[cfg(feature = "alloc")]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    fn canon(s: &str) -> Result<Vec<u8>> {
        canonicalize(s.as_bytes())
    }

    #[test]
    fn sorted_and_unsorted_agree() {
        assert_eq!(
            canon(r#"{"b":1,"a":[true,null,"x\"y\\z"]}"#).unwrap(),
            br#"{"a":[true,null,"x\"y\\z"],"b":1}"#
        );
        assert_eq!(canon(" { \"a\" : -0 } ").unwrap(), br#"{"a":0}"#);
        assert_eq!(
            canon(r#"{"\u00e9":"\n","e":"\/"}"#).unwrap(),
            "{\"e\":\"/\",\"é\":\"\n\"}".as_bytes()
        );
    }

    #[test]
    fn large_unsorted_object_sorts_in_batches() {
        let mut doc = std::string::String::from("{");
        for i in (0..500).rev() {
            doc.push_str(&std::format!("\"k{i:04}\":{i},"));
        }
        doc.pop();
        doc.push('}');
        let out = canon(&doc).unwrap();
        let mut want = std::string::String::from("{");
        for i in 0..500 {
            want.push_str(&std::format!("\"k{i:04}\":{i},"));
        }
        want.pop();
        want.push('}');
        assert_eq!(std::string::String::from_utf8(out).unwrap(), want);
    }

    #[test]
    fn duplicates_found_in_either_path_at_the_second_key() {
        // Sorted input: the order check finds it; unsorted: the sort's scan does.
        for (doc, at) in [(r#"{"a":1,"a":2}"#, 7), (r#"{"b":1,"a":1,"\u0062":2}"#, 13)] {
            let e = canon(doc).unwrap_err();
            assert_eq!(
                (e.kind(), e.offset()),
                (ErrorKind::DuplicateKey, Some(at)),
                "{doc}"
            );
        }
    }

    #[test]
    fn malformed_json_is_refused_at_the_byte_that_breaks_it() {
        for (doc, kind, at) in [
            ("{\"a\":1.5}", ErrorKind::Float, 5),
            ("{\"a\":01}", ErrorKind::Syntax, 6),
            ("[1,2,]", ErrorKind::Syntax, 5),
            ("[\"\\ud800x\"]", ErrorKind::Surrogate, 2),
            ("[\"ab\\q\"]", ErrorKind::Syntax, 4),
            ("[\"a\u{1}\"]", ErrorKind::Syntax, 3),
            ("{\"a\":true} x", ErrorKind::Trailing, 11),
            ("{\"a\":[1,{\"b\":\"c", ErrorKind::Syntax, 15),
        ] {
            let e = canon(doc).unwrap_err();
            assert_eq!((e.kind(), e.offset()), (kind, Some(at)), "{doc}");
        }
        let mut bad_utf8 = br#"["ab"]"#.to_vec();
        bad_utf8[3] = 0xff;
        let e = canonicalize(&bad_utf8).unwrap_err();
        assert_eq!((e.kind(), e.offset()), (ErrorKind::Utf8, Some(3)));
    }
}
