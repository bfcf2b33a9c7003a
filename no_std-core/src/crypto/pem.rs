//! PEM to DER without a heap: the base64 body between the armour lines, decoded into a buffer.

/// Decodes the first PEM block of `pem` into `out`; returns the DER bytes.
pub(super) fn decode<'o>(pem: &[u8], out: &'o mut [u8]) -> Option<&'o [u8]> {
    let begin = find(pem, b"-----BEGIN ")?;
    let after_begin = begin + find(pem.get(begin + 11..)?, b"-----")? + 16;
    let body_len = find(pem.get(after_begin..)?, b"-----END ")?;
    let body = pem.get(after_begin..after_begin + body_len)?;
    let (mut acc, mut bits, mut n, mut pad) = (0u32, 0u32, 0usize, 0usize);
    for &c in body {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                pad += 1;
                continue;
            }
            b'\r' | b'\n' | b' ' | b'\t' => continue,
            _ => return None,
        };
        if pad > 0 {
            return None; // data after padding
        }
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            *out.get_mut(n)? = (acc >> bits) as u8;
            n += 1;
        }
    }
    out.get(..n)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
