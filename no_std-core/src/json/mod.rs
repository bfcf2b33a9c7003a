//! JSON, the TUF way: one bounded pull tokenizer over a byte [`source`], and canonical JSON
//! (securesystemslib's `encode_canonical`) produced on the fly into a [`Sink`].
//!
//! General mode reads from a slice ([`source::SliceSource`]); streaming mode from an
//! `embedded_io::Read` ([`source::ReadSource`]). Both share [`lexer::Lexer`].

pub(crate) mod canonical;
pub(crate) mod lexer;
pub(crate) mod source;

#[cfg(feature = "alloc")]
pub use canonical::canonicalize;
pub use canonical::canonicalize_into;

/// Receives canonical bytes (a hasher, a signature verifier, a buffer).
pub trait Sink {
    /// Appends bytes.
    fn write(&mut self, bytes: &[u8]);
}

impl Sink for sha2::Sha256 {
    fn write(&mut self, bytes: &[u8]) {
        sha2::Digest::update(self, bytes);
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

/// A decoded string of bounded length; `overflow` is set instead of failing when it does not fit
/// (an unknown long key is simply not one of ours).
#[derive(Clone, Default)]
pub(crate) struct Text<const N: usize> {
    pub(crate) buf: heapless::Vec<u8, N>,
    pub(crate) overflow: bool,
}

impl<const N: usize> Text<N> {
    pub(crate) fn clear(&mut self) {
        self.buf.clear();
        self.overflow = false;
    }

    /// The text, unless it overflowed.
    pub(crate) fn get(&self) -> Option<&[u8]> {
        (!self.overflow).then_some(self.buf.as_slice())
    }

    pub(crate) fn is(&self, s: &[u8]) -> bool {
        self.get() == Some(s)
    }
}

impl<const N: usize> StrOut for Text<N> {
    fn push(&mut self, bytes: &[u8]) {
        if self.overflow || self.buf.extend_from_slice(bytes).is_err() {
            self.overflow = true;
        }
    }
}
