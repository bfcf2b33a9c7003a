//! The flash slot an update arrives in: the files a mirror serves (`metadata/…`, `targets/…`)
//! and what the device persisted last time (`trusted/…`), as a ustar archive. Files are read in
//! place: a memory-mapped flash slot needs no copy.

/// A ustar archive in memory.
#[derive(Clone, Copy)]
pub struct Slot {
    bytes: &'static [u8],
}

const BLOCK: usize = 512;

impl Slot {
    /// The archive at the start of `bytes` (it ends with a zero block, or where `bytes` does).
    pub fn new(bytes: &'static [u8]) -> Self {
        Self { bytes }
    }

    /// The whole slot, archive and all.
    pub fn bytes(&self) -> &'static [u8] {
        self.bytes
    }

    /// The contents of the regular file `name`, if the slot holds it.
    pub fn file(&self, name: &str) -> Option<&'static [u8]> {
        let mut at = 0;
        while let Some(header) = self.bytes.get(at..at + BLOCK) {
            if header.iter().all(|&b| b == 0) {
                return None;
            }
            let size = octal(header.get(124..136)?)?;
            let data = at + BLOCK;
            let regular = matches!(header.get(156), Some(b'0' | 0));
            if regular
                && full_name(header).is_some_and(|(prefix, base)| matches(name, prefix, base))
            {
                return self.bytes.get(data..data + size);
            }
            at = data + size.div_ceil(BLOCK) * BLOCK;
        }
        None
    }
}

/// `prefix` and `name` fields, each up to its first NUL.
fn full_name(header: &[u8]) -> Option<(&[u8], &[u8])> {
    let field = |range: core::ops::Range<usize>| {
        let f = header.get(range)?;
        Some(f.split(|&b| b == 0).next().unwrap_or(f))
    };
    Some((field(345..500)?, field(0..100)?))
}

fn matches(name: &str, prefix: &[u8], base: &[u8]) -> bool {
    let name = name.as_bytes();
    if prefix.is_empty() {
        return name == base;
    }
    name.len() == prefix.len() + 1 + base.len()
        && name.starts_with(prefix)
        && name.get(prefix.len()) == Some(&b'/')
        && name.ends_with(base)
}

fn octal(field: &[u8]) -> Option<usize> {
    let mut n: usize = 0;
    for &b in field.iter().skip_while(|&&b| b == b' ') {
        match b {
            b'0'..=b'7' => n = n.checked_mul(8)?.checked_add(usize::from(b - b'0'))?,
            0 | b' ' => break,
            _ => return None,
        }
    }
    Some(n)
}
