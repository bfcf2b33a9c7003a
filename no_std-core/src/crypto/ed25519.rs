//! Ed25519 signatures (RFC 8032, §5.1.7) over a message that arrives in pieces, with one
//! verdict policy whichever crate does the curve arithmetic:
//!
//! - **ed25519-compact** (the default, for hosts): 64-bit field arithmetic, fast where
//!   multiplication is 64 bits wide; its incremental API hashes the message.
//! - **salty** (feature `salty`, for devices): 32-bit limbs, with Björn Haase's assembly on a
//!   Cortex-M4/M33. It checks whole messages only, so the core streams SHA-512(R ‖ A ‖ M) itself
//!   ([`Hram`]) and salty does the group equation. On a Cortex-M4 a check takes about a third of
//!   the flash and half of the stack of ed25519-compact's (firmware-examples/README.md).
//!
//! The policy is ed25519-compact's, and the adapter reproduces it step by step, so the two give
//! the same verdict on every input (`tests/ed25519_backends.rs` shows it):
//!
//! | input | verdict | why it is safe for TUF |
//! | --- | --- | --- |
//! | `S ≥ L` (non-canonical S) | refused | `S + L` would be a second valid signature for the same message: refused, a signature has one encoding |
//! | `A` or `R` not canonical (`y ≥ p`, or x = 0 with the sign bit set) | refused | one point, one encoding: no key or signature has aliases |
//! | `A` or `R` not a point | refused | |
//! | `A` or `R` of small order (in the 8-torsion) | refused | a small-order key verifies signatures on many messages; no honest key is one |
//! | otherwise | `[8](S·B − k·A − R) = 0`, k = SHA-512(R ‖ A ‖ M) mod L | the cofactored equation, as RFC 8032 allows: every honest signature passes, and a mixed-order A or R gains a forger nothing without the private key |
//!
//! A key ID in TUF names one key, and otuf refuses a key ID that is not the SHA-256 of its key
//! object, so none of these edge cases lets one signature count for two keys.

/// The group order L, little-endian.
const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// Whether the little-endian scalar `s` is below L.
#[cfg_attr(not(any(feature = "salty", test)), allow(dead_code))]
fn canonical_scalar(s: &[u8; 32]) -> bool {
    for (x, l) in s.iter().rev().zip(L.iter().rev()) {
        if x != l {
            return x < l;
        }
    }
    false // equal to L
}

/// `wide` (512 bits, little-endian) mod L, by binary long division, one bit at a time: about
/// 150 bytes of code where salty's Montgomery reduction takes 2.1 KiB of a device's flash, and
/// a check needs one reduction (k), so the 512 rounds cost nothing beside its two scalar
/// multiplications. Not constant-time: a verifier's inputs are public.
#[cfg_attr(not(any(feature = "salty", test)), allow(dead_code))]
fn reduce_wide(wide: &[u8; 64]) -> [u8; 32] {
    let mut l = [0u32; 8];
    for (limb, bytes) in l.iter_mut().zip(L.chunks_exact(4)) {
        *limb = bytes.iter().rev().fold(0, |v, &b| v << 8 | u32::from(b));
    }
    let mut r = [0u32; 8];
    for byte in wide.iter().rev() {
        for bit in (0..8).rev() {
            // r = 2r + bit. r < L < 2^253, so this fits in 256 bits.
            let mut carry = u32::from(byte >> bit & 1);
            for limb in r.iter_mut() {
                let top = *limb >> 31;
                *limb = *limb << 1 | carry;
                carry = top;
            }
            // r -= L unless that borrows (r < L): one pass compares and subtracts.
            let mut less = r;
            let mut borrow = false;
            for (x, &y) in less.iter_mut().zip(&l) {
                let (d, b1) = x.overflowing_sub(y);
                let (d, b2) = d.overflowing_sub(u32::from(borrow));
                *x = d;
                borrow = b1 | b2;
            }
            if !borrow {
                r = less;
            }
        }
    }
    let mut out = [0u8; 32];
    for (bytes, limb) in out.chunks_exact_mut(4).zip(r) {
        bytes.copy_from_slice(&limb.to_le_bytes());
    }
    out
}

/// ed25519-compact's check of a whole message (the host backend, and the reference).
pub fn compact_verify(public: &[u8; 32], sig: &[u8; 64], message: &[u8]) -> bool {
    let key = ed25519_compact::PublicKey::new(*public);
    key.verify(message, &ed25519_compact::Signature::new(*sig))
        .is_ok()
}

/// salty's curve arithmetic under the policy above (the device backend).
#[cfg(feature = "salty")]
pub mod salty_backend {
    use super::{canonical_scalar, reduce_wide};
    use salty::{CompressedY, EdwardsPoint, Scalar};

    /// Whether `sig` verifies under `public` for the message whose SHA-512(R ‖ A ‖ M) is `hram`.
    pub fn verify(public: &[u8; 32], sig: &[u8; 64], hram: &[u8; 64]) -> bool {
        let (mut r, mut s) = ([0u8; 32], [0u8; 32]);
        r.copy_from_slice(sig.get(..32).unwrap_or(&[0; 32]));
        s.copy_from_slice(sig.get(32..).unwrap_or(&[0; 32]));
        if !canonical_scalar(&s) {
            return false;
        }
        let Some(a) = point(public) else {
            return false;
        };
        let Some(r_point) = point(&r) else {
            return false;
        };
        equation(&a, &r_point, &s, hram)
    }

    /// SHA-512(R ‖ A ‖ M) of a whole message, then [`verify`].
    pub fn verify_message(public: &[u8; 32], sig: &[u8; 64], message: &[u8]) -> bool {
        let mut h = crate::hashes::Sha512::new();
        h.update(sig.get(..32).unwrap_or_default());
        h.update(public);
        h.update(message);
        verify(public, sig, &h.finish())
    }

    // Each step of the arithmetic out of line: on a device the frames of salty's field
    // operations then nest instead of adding up in one caller.

    #[inline(never)]
    fn decode(bytes: &[u8; 32]) -> Option<EdwardsPoint> {
        CompressedY(*bytes).decompressed().ok()
    }

    #[inline(never)]
    fn encode(p: &EdwardsPoint) -> [u8; 32] {
        p.compressed().0
    }

    #[inline(never)]
    fn add(p: &EdwardsPoint, q: &EdwardsPoint) -> EdwardsPoint {
        p + q
    }

    #[inline(never)]
    fn times(s: &Scalar, p: &EdwardsPoint) -> EdwardsPoint {
        s * p
    }

    /// The point `bytes` encodes, when canonical and not of small order.
    #[inline(never)]
    fn point(bytes: &[u8; 32]) -> Option<EdwardsPoint> {
        let p = decode(bytes)?;
        // Decoding then encoding again gives the same bytes only for the canonical encoding
        // (y < p, no sign bit on x = 0).
        if encode(&p) != *bytes || small_order(&p) {
            return None;
        }
        Some(p)
    }

    /// Whether [8]P is the neutral element (P in the 8-torsion).
    #[inline(never)]
    fn small_order(p: &EdwardsPoint) -> bool {
        let mut q = add(p, p);
        q = add(&q, &q);
        q = add(&q, &q);
        encode(&q) == encode(&EdwardsPoint::neutral_element())
    }

    /// The cofactored equation `[8](S·B − k·A − R) = 0`.
    #[inline(never)]
    fn equation(a: &EdwardsPoint, r: &EdwardsPoint, s: &[u8; 32], hram: &[u8; 64]) -> bool {
        // One point lives here, the sum; each term is made and added in its own frame, so
        // their temporaries never add up on the stack.
        let mut sum = EdwardsPoint::neutral_element();
        base_times(&mut sum, s);
        minus_k_times(&mut sum, hram, a);
        minus(&mut sum, r);
        small_order(&sum)
    }

    /// `sum = S·B`.
    #[inline(never)]
    fn base_times(sum: &mut EdwardsPoint, s: &[u8; 32]) {
        *sum = times(&Scalar(*s), &EdwardsPoint::basepoint());
    }

    /// `sum -= k·A`, k = SHA-512(R ‖ A ‖ M) mod L.
    #[inline(never)]
    fn minus_k_times(sum: &mut EdwardsPoint, hram: &[u8; 64], a: &EdwardsPoint) {
        let term = times(&Scalar(reduce_wide(hram)), &-a);
        *sum = add(sum, &term);
    }

    /// `sum -= R`.
    #[inline(never)]
    fn minus(sum: &mut EdwardsPoint, r: &EdwardsPoint) {
        *sum = add(sum, &-r);
    }
}

/// SHA-512(R ‖ A ‖ M) of several signatures at once, as the message streams by. R ‖ A is
/// exactly half a block, so every hash meets the message at the same offset and one block
/// buffer serves them all: each signature keeps only its eight state words.
#[cfg(feature = "salty")]
pub(crate) struct Hram {
    /// The current block: the message's bytes, after 64 reserved for R ‖ A in the first one.
    block: [u8; 128],
    len: usize,
    /// Whole blocks hashed so far.
    blocks: u64,
}

/// One signature's share of [`Hram`]: its key (the authority's, not a copy), its signature and
/// its hash state.
#[cfg(feature = "salty")]
#[derive(Clone)]
pub(crate) struct Ed25519<'k> {
    pub(crate) public: &'k [u8; 32],
    pub(crate) sig: [u8; 64],
    state: [u64; 8],
}

#[cfg(feature = "salty")]
impl<'k> Ed25519<'k> {
    pub(crate) fn new(public: &'k [u8; 32], sig: &[u8; 64]) -> Self {
        Self {
            public,
            sig: *sig,
            state: crate::hashes::IV512,
        }
    }

    fn compress(&mut self, block: &mut [u8; 128], first: bool) {
        if first {
            // The first block starts with R ‖ A, which differ from signature to signature.
            if let (Some(r), Some(a)) = (block.get_mut(..32), self.sig.get(..32)) {
                r.copy_from_slice(a);
            }
            if let Some(a) = block.get_mut(32..64) {
                a.copy_from_slice(self.public);
            }
        }
        crate::hashes::compress512(&mut self.state, block);
    }
}

#[cfg(feature = "salty")]
impl Hram {
    pub(crate) const fn new() -> Self {
        Self {
            block: [0; 128],
            len: 64,
            blocks: 0,
        }
    }

    /// Appends message bytes; `full` runs when a block is complete, with the block's message
    /// bytes (for checks that hash only M) and the block itself.
    pub(crate) fn update(
        &mut self,
        mut bytes: &[u8],
        checks: &mut [Ed25519<'_>],
        full: &mut dyn FnMut(&[u8]),
    ) {
        while !bytes.is_empty() {
            let room = self.block.len() - self.len;
            let n = room.min(bytes.len());
            let (now, rest) = bytes.split_at(n);
            if let Some(dst) = self.block.get_mut(self.len..self.len + n) {
                dst.copy_from_slice(now);
            }
            self.len += n;
            bytes = rest;
            if self.len == self.block.len() {
                self.flush(checks, full);
            }
        }
    }

    fn message_start(&self) -> usize {
        if self.blocks == 0 {
            64
        } else {
            0
        }
    }

    fn flush(&mut self, checks: &mut [Ed25519<'_>], full: &mut dyn FnMut(&[u8])) {
        full(
            self.block
                .get(self.message_start()..self.len)
                .unwrap_or_default(),
        );
        for c in checks.iter_mut() {
            c.compress(&mut self.block, self.blocks == 0);
        }
        self.blocks += 1;
        self.len = 0;
    }

    /// Ends the message: its remaining bytes go to `rest`, and each check's digest to `done`.
    pub(crate) fn finish(
        &mut self,
        checks: &mut [Ed25519<'_>],
        rest: &mut dyn FnMut(&[u8]),
        done: &mut dyn FnMut(&Ed25519<'_>, usize, [u8; 64]),
    ) {
        rest(
            self.block
                .get(self.message_start()..self.len)
                .unwrap_or_default(),
        );
        let bits = (self.blocks * 128 + self.len as u64) * 8;
        let first = self.blocks == 0;
        let at = self.len;
        if let Some(b) = self.block.get_mut(at) {
            *b = 0x80;
        }
        self.block.iter_mut().skip(at + 1).for_each(|b| *b = 0);
        let two = at + 1 > 112;
        for c in checks.iter_mut() {
            if two {
                c.compress(&mut self.block, first);
            }
        }
        if two {
            self.block.fill(0);
        }
        if let Some(len) = self.block.get_mut(120..) {
            len.copy_from_slice(&bits.to_be_bytes());
        }
        for (i, c) in checks.iter_mut().enumerate() {
            c.compress(&mut self.block, first && !two);
            let mut digest = [0u8; 64];
            for (out, word) in digest.chunks_exact_mut(8).zip(c.state) {
                out.copy_from_slice(&word.to_be_bytes());
            }
            done(c, i, digest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_below_l_are_canonical() {
        assert!(!canonical_scalar(&L));
        let mut below = L;
        below[0] -= 1;
        assert!(canonical_scalar(&below));
        let mut above = L;
        above[31] += 1;
        assert!(!canonical_scalar(&above));
        assert!(canonical_scalar(&[0; 32]));
    }

    /// `a + b`, little-endian, 512 bits (wrapping).
    fn add(a: &[u8; 64], b: &[u8; 64]) -> [u8; 64] {
        let mut out = [0u8; 64];
        let mut carry = 0u16;
        for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
            let sum = u16::from(*x) + u16::from(*y) + carry;
            *o = sum as u8;
            carry = sum >> 8;
        }
        out
    }

    fn wide(bytes: &[u8]) -> [u8; 64] {
        let mut w = [0u8; 64];
        w[..bytes.len()].copy_from_slice(bytes);
        w
    }

    #[test]
    fn wide_reduction_gives_the_residue_mod_l() {
        let l = wide(&L);
        let mut below = L;
        below[0] -= 1; // L - 1
        for r in [[0u8; 32], [1; 32].map(|b: u8| b & 0x0f), below] {
            // r, r + L, r + 2L, ... r + 16L all reduce to r (r < L).
            let mut x = wide(&r);
            for _ in 0..16 {
                assert_eq!(reduce_wide(&x), r);
                x = add(&x, &l);
            }
        }
        // (2^512 - 1) mod L, little-endian, as Python computes it:
        // ((2**512 - 1) % L).to_bytes(32, "little").hex(), L = 2**252 + 277423177773723535358519
        // 37790883648493.
        let expected = "000f9c44e31106a447938568a71b0ed065bef517d273ecce3d9a307c1b419903";
        let mut top = [0u8; 32];
        assert!(super::super::hex_decode(expected.as_bytes(), &mut top).is_some());
        assert_eq!(reduce_wide(&[0xff; 64]), top);
    }

    /// salty's own reduction (Montgomery, the one `reduce_wide` replaces) gives the same
    /// scalar on edge cases and 100,000 pseudo-random 512-bit inputs.
    #[cfg(feature = "salty")]
    #[test]
    fn wide_reduction_matches_saltys() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        let mut cases = std::vec![[0u8; 64], [0xff; 64], wide(&L)];
        for _ in 0..100_000 {
            let mut w = [0u8; 64];
            for chunk in w.chunks_exact_mut(8) {
                chunk.copy_from_slice(&next().to_le_bytes());
            }
            cases.push(w);
        }
        for w in cases {
            assert_eq!(
                reduce_wide(&w),
                salty::Scalar::from_u512_le(&w).0,
                "{w:02x?}"
            );
        }
    }

    #[cfg(feature = "salty")]
    #[test]
    fn the_shared_block_hash_is_sha512_of_r_a_m_for_every_length() {
        extern crate std;
        use sha2::Digest;
        let keys = [[7u8; 32], [9u8; 32]];
        let sigs = [[1u8; 64], [2u8; 64]];
        let message: std::vec::Vec<u8> = (0..600u32).map(|i| (i * 7) as u8).collect();
        for n in [0, 1, 47, 48, 63, 64, 65, 111, 112, 127, 128, 129, 300, 600] {
            for piece in [1, 5, 128, 1000] {
                let mut checks = [
                    Ed25519::new(&keys[0], &sigs[0]),
                    Ed25519::new(&keys[1], &sigs[1]),
                ];
                let mut h = Hram::new();
                let mut seen = std::vec::Vec::new();
                for chunk in message[..n].chunks(piece) {
                    h.update(chunk, &mut checks, &mut |m| seen.extend_from_slice(m));
                }
                let mut got = std::vec::Vec::new();
                h.finish(
                    &mut checks,
                    &mut |m| seen.extend_from_slice(m),
                    &mut |_, _, d| got.push(d),
                );
                assert_eq!(seen, &message[..n], "the message bytes, once each");
                for (i, d) in got.iter().enumerate() {
                    let mut want = sha2::Sha512::new();
                    want.update(&sigs[i][..32]);
                    want.update(keys[i]);
                    want.update(&message[..n]);
                    assert_eq!(d[..], want.finalize()[..], "length {n}, pieces of {piece}");
                }
            }
        }
    }
}
