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
/// (an unknown long key is simply not one of ours). `Text<N>` holds `N` bytes; its code is
/// that of the unsized [`TextOf<[u8]>`](TextOf), once for every `N` (a reader is handed
/// `&mut text.out()`: one `StrOut` for all capacities, not one per capacity).
pub(crate) type Text<const N: usize> = TextOf<[u8; N]>;

/// See [`Text`].
#[derive(Clone)]
pub(crate) struct TextOf<B: ?Sized> {
    len: usize,
    overflow: bool,
    buf: B,
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

impl<const N: usize> core::ops::Deref for Text<N> {
    type Target = TextOf<[u8]>;
    fn deref(&self) -> &TextOf<[u8]> {
        self
    }
}

impl<const N: usize> core::ops::DerefMut for Text<N> {
    fn deref_mut(&mut self) -> &mut TextOf<[u8]> {
        self
    }
}

impl TextOf<[u8]> {
    /// The text as a reader's output.
    pub(crate) fn out(&mut self) -> &mut Self {
        self
    }

    pub(crate) fn clear(&mut self) {
        self.len = 0;
        self.overflow = false;
    }

    /// The text, unless it overflowed.
    pub(crate) fn get(&self) -> Option<&[u8]> {
        if self.overflow {
            None
        } else {
            self.buf.get(..self.len)
        }
    }

    pub(crate) fn is(&self, s: &[u8]) -> bool {
        self.get() == Some(s)
    }

    /// The text as UTF-8 (it is: the tokenizer validated it), unless it overflowed.
    pub(crate) fn as_str(&self) -> Option<&str> {
        core::str::from_utf8(self.get()?).ok()
    }
}

impl StrOut for &mut TextOf<[u8]> {
    fn push(&mut self, bytes: &[u8]) {
        match self.buf.get_mut(self.len..self.len + bytes.len()) {
            Some(dst) if !self.overflow => {
                dst.copy_from_slice(bytes);
                self.len += bytes.len();
            }
            _ => self.overflow = true,
        }
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
