//! JSON, the TUF way: one bounded pull tokenizer over a byte [`source`], and canonical JSON
//! (securesystemslib's `encode_canonical`) produced on the fly into a [`Sink`].
//!
//! General mode reads from a slice ([`source::SliceSource`]); streaming mode from an
//! `embedded_io::Read` ([`source::ReadSource`]). Both share [`lexer::Lexer`], and the
//! metadata layer reads objects through [`read`]'s tables of members.

pub(crate) mod canonical;
pub(crate) mod lexer;
pub(crate) mod read;
pub(crate) mod source;

#[cfg(feature = "alloc")]
pub use canonical::canonicalize;
pub use canonical::canonicalize_into;

/// Receives canonical bytes (a hasher, a signature verifier, a buffer).
pub trait Sink {
    /// Appends bytes.
    fn write(&mut self, bytes: &[u8]);
}

impl Sink for crate::hashes::Sha256 {
    fn write(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

#[cfg(feature = "alloc")]
impl Sink for alloc::vec::Vec<u8> {
    fn write(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// Writes decoded string bytes in canonical form to `out`: only `\` and `"` escaped.
pub(crate) fn escape_canonical(mut bytes: &[u8], out: &mut impl FnMut(&[u8])) {
    while let Some(i) = bytes.iter().position(|&b| b == b'"' || b == b'\\') {
        let (run, rest) = bytes.split_at(i);
        out(run);
        out(b"\\");
        out(rest.get(..1).unwrap_or_default());
        bytes = rest.get(1..).unwrap_or_default();
    }
    out(bytes);
}

/// Receives the decoded bytes of a JSON string.
pub(crate) trait StrOut {
    fn push(&mut self, bytes: &[u8]);
}

/// Drops what it is given.
pub(crate) struct Discard;

impl StrOut for Discard {
    fn push(&mut self, _: &[u8]) {}
}

impl Sink for Discard {
    fn write(&mut self, _: &[u8]) {}
}

/// A decoded string of bounded length; `overflow` is set instead of failing when it does not fit
/// (an unknown long key is simply not one of ours). Its code is the same for every `N`.
#[derive(Clone)]
pub(crate) struct Text<const N: usize> {
    len: usize,
    overflow: bool,
    buf: [u8; N],
}

impl<const N: usize> Default for Text<N> {
    fn default() -> Self {
        Self {
            len: 0,
            overflow: false,
            buf: [0; N],
        }
    }
}

impl<const N: usize> Text<N> {
    pub(crate) fn clear(&mut self) {
        self.len = 0;
        self.overflow = false;
    }

    /// The text, unless it overflowed.
    pub(crate) fn get(&self) -> Option<&[u8]> {
        text_get(&self.buf, self.len, self.overflow)
    }

    pub(crate) fn is(&self, s: &[u8]) -> bool {
        self.get() == Some(s)
    }

    /// The text as UTF-8 (it is: the tokenizer validated it), unless it overflowed.
    pub(crate) fn as_str(&self) -> Option<&str> {
        core::str::from_utf8(self.get()?).ok()
    }
}

fn text_get(buf: &[u8], len: usize, overflow: bool) -> Option<&[u8]> {
    if overflow {
        None
    } else {
        buf.get(..len)
    }
}

fn text_push(buf: &mut [u8], len: &mut usize, overflow: &mut bool, bytes: &[u8]) {
    match buf.get_mut(*len..*len + bytes.len()) {
        Some(dst) if !*overflow => {
            dst.copy_from_slice(bytes);
            *len += bytes.len();
        }
        _ => *overflow = true,
    }
}

impl<const N: usize> StrOut for Text<N> {
    fn push(&mut self, bytes: &[u8]) {
        text_push(&mut self.buf, &mut self.len, &mut self.overflow, bytes);
    }
}

/// Compares a string with `want` as it arrives, keeping none of it (a target path is only
/// compared with the one searched for: no path-long buffer on the stack).
pub(crate) struct SameAs<'w> {
    want: &'w [u8],
    at: usize,
    same: bool,
}

impl<'w> SameAs<'w> {
    pub(crate) fn new(want: &'w [u8]) -> Self {
        Self {
            want,
            at: 0,
            same: true,
        }
    }

    /// Whether the string was `want`.
    pub(crate) fn is_same(&self) -> bool {
        self.same && self.at == self.want.len()
    }
}

impl StrOut for SameAs<'_> {
    fn push(&mut self, bytes: &[u8]) {
        match self.want.get(self.at..self.at + bytes.len()) {
            Some(w) if self.same && w == bytes => self.at += bytes.len(),
            _ => self.same = false,
        }
    }
}

/// A [`Text`] of any capacity, for readers that clear and reuse one (map keys).
pub(crate) trait TextBuf: StrOut {
    /// Empties it.
    fn clear(&mut self);
    /// Its bytes, unless they overflowed.
    fn get(&self) -> Option<&[u8]>;
}

impl<const N: usize> TextBuf for Text<N> {
    fn clear(&mut self) {
        Text::clear(self);
    }
    fn get(&self) -> Option<&[u8]> {
        Text::get(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_string_is_compared_as_it_arrives() {
        let same = |pieces: &[&str], want: &str| {
            let mut s = SameAs::new(want.as_bytes());
            pieces.iter().for_each(|p| s.push(p.as_bytes()));
            s.is_same()
        };
        assert!(same(&["firmware/", "a.bin"], "firmware/a.bin"));
        assert!(same(&[], ""));
        assert!(!same(&["firmware/", "a.bi"], "firmware/a.bin"));
        assert!(!same(&["firmware/a.bin", "x"], "firmware/a.bin"));
        assert!(!same(&["firmware/b", ".bin"], "firmware/a.bin"));
        // A mismatch stays one, whatever follows.
        assert!(!same(&["x", "irmware/a.bin"], "firmware/a.bin"));
    }
}
