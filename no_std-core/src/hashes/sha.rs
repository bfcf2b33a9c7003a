//! SHA-256 and SHA-512 (FIPS 180-4) for every hash the core computes: files, key IDs, hash
//! bins, and ed25519's message hash. The block buffering is here; the compression is the
//! `sha2` crate's (with its CPU extensions on a host), or, with `opt-size`, a compact one
//! that keeps a 16-word message schedule instead of sha2's 64- and 80-word ones: on a
//! Cortex-M4 it takes 300 bytes of stack where sha2's takes 940, at any depth of a parse
//! (firmware-examples/README.md). Tests compare both with the sha2 crate on random input.

/// A hash being computed: a state, a partial block and the length so far.
#[derive(Clone)]
pub(crate) struct Hasher<C: Compress> {
    state: C::State,
    block: C::Block,
    /// Bytes hashed so far (the length in bits is `len * 8`, which may not wrap in `u64`
    /// before 2 EiB).
    len: u64,
}

/// One of the two compression functions, with its block and state types.
pub(crate) trait Compress {
    type State: Copy;
    type Block: Copy + AsRef<[u8]> + AsMut<[u8]>;
    const IV: Self::State;
    const EMPTY: Self::Block;
    /// Bytes of the final block that the length takes.
    const LENGTH_BYTES: usize;
    type Digest;
    fn compress(state: &mut Self::State, block: &Self::Block);
    fn digest(state: &Self::State) -> Self::Digest;
}

impl<C: Compress> Hasher<C> {
    pub(crate) fn new() -> Self {
        Self {
            state: C::IV,
            block: C::EMPTY,
            len: 0,
        }
    }

    pub(crate) fn update(&mut self, mut bytes: &[u8]) {
        let size = C::EMPTY.as_ref().len();
        while !bytes.is_empty() {
            let at = (self.len as usize) & (size - 1); // blocks are a power of two
            let n = (size - at).min(bytes.len());
            let (now, rest) = bytes.split_at(n);
            if let Some(dst) = self.block.as_mut().get_mut(at..at + n) {
                dst.copy_from_slice(now);
            }
            self.len += n as u64;
            bytes = rest;
            if at + n == size {
                C::compress(&mut self.state, &self.block);
            }
        }
    }

    /// The digest; the hasher starts again.
    pub(crate) fn finish(&mut self) -> C::Digest {
        let size = C::EMPTY.as_ref().len();
        let bits = self.len.wrapping_mul(8);
        let at = (self.len as usize) & (size - 1); // blocks are a power of two
        let block = self.block.as_mut();
        if let Some(b) = block.get_mut(at) {
            *b = 0x80;
        }
        block.iter_mut().skip(at + 1).for_each(|b| *b = 0);
        if at + 1 > size - C::LENGTH_BYTES {
            C::compress(&mut self.state, &self.block);
            self.block = C::EMPTY;
        }
        if let Some(len) = self.block.as_mut().get_mut(size - 8..) {
            len.copy_from_slice(&bits.to_be_bytes());
        }
        C::compress(&mut self.state, &self.block);
        let digest = C::digest(&self.state);
        self.reset();
        digest
    }

    /// Starts again, in place (no second hasher on the stack; the block's old bytes are never
    /// hashed: `update` overwrites them first and `finish` pads over them).
    pub(crate) fn reset(&mut self) {
        self.state = C::IV;
        self.len = 0;
    }
}

impl<C: Compress> Default for Hasher<C> {
    fn default() -> Self {
        Self::new()
    }
}

/// SHA-256.
#[derive(Clone, Copy)]
pub(crate) struct S256;
/// SHA-512.
#[derive(Clone, Copy)]
pub(crate) struct S512;

/// A SHA-256 being computed.
pub(crate) type Sha256 = Hasher<S256>;
/// A SHA-512 being computed.
pub(crate) type Sha512 = Hasher<S512>;

impl Compress for S256 {
    type State = [u32; 8];
    type Block = [u8; 64];
    type Digest = [u8; 32];
    const IV: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    const EMPTY: [u8; 64] = [0; 64];
    const LENGTH_BYTES: usize = 8;
    fn compress(state: &mut [u32; 8], block: &[u8; 64]) {
        compress256(state, block);
    }
    fn digest(state: &[u32; 8]) -> [u8; 32] {
        let mut d = [0u8; 32];
        for (out, word) in d.chunks_exact_mut(4).zip(state) {
            out.copy_from_slice(&word.to_be_bytes());
        }
        d
    }
}

impl Compress for S512 {
    type State = [u64; 8];
    type Block = [u8; 128];
    type Digest = [u8; 64];
    const IV: [u64; 8] = IV512;
    const EMPTY: [u8; 128] = [0; 128];
    const LENGTH_BYTES: usize = 16;
    fn compress(state: &mut [u64; 8], block: &[u8; 128]) {
        compress512(state, block);
    }
    fn digest(state: &[u64; 8]) -> [u8; 64] {
        let mut d = [0u8; 64];
        for (out, word) in d.chunks_exact_mut(8).zip(state) {
            out.copy_from_slice(&word.to_be_bytes());
        }
        d
    }
}

/// SHA-512's initial state.
pub(crate) const IV512: [u64; 8] = [
    0x6a09e667f3bcc908,
    0xbb67ae8584caa73b,
    0x3c6ef372fe94f82b,
    0xa54ff53a5f1d36f1,
    0x510e527fade682d1,
    0x9b05688c2b3e6c1f,
    0x1f83d9abfb41bd6b,
    0x5be0cd19137e2179,
];

/// SHA-256's compression of one block.
#[cfg(not(feature = "opt-size"))]
pub(crate) fn compress256(state: &mut [u32; 8], block: &[u8; 64]) {
    sha2::compress256(state, core::slice::from_ref(block.into()));
}

/// SHA-512's compression of one block.
#[cfg(not(feature = "opt-size"))]
pub(crate) fn compress512(state: &mut [u64; 8], block: &[u8; 128]) {
    sha2::compress512(state, core::slice::from_ref(block.into()));
}

#[cfg(test)]
use compact::{compress256_compact, compress512_compact};
#[cfg(feature = "opt-size")]
pub(crate) use compact::{compress256_compact as compress256, compress512_compact as compress512};

/// The compact compressions: FIPS 180-4 §6.2.2 and §6.4.2 with the message schedule kept in
/// 16 words that roll (W[t] replaces W[t−16]).
#[cfg(any(feature = "opt-size", test))]
// Every index is masked to 0..16 or bounded by the round loop: none can be out of range.
#[allow(clippy::indexing_slicing)]
mod compact {
    /// The first 64 bits of the fractional parts of the cube roots of the first 80 primes. The
    /// first 64 constants' high halves are SHA-256's (the first 32 bits of the same numbers):
    /// one table in flash, not two.
    const K512: [u64; 80] = [
        0x428a2f98d728ae22,
        0x7137449123ef65cd,
        0xb5c0fbcfec4d3b2f,
        0xe9b5dba58189dbbc,
        0x3956c25bf348b538,
        0x59f111f1b605d019,
        0x923f82a4af194f9b,
        0xab1c5ed5da6d8118,
        0xd807aa98a3030242,
        0x12835b0145706fbe,
        0x243185be4ee4b28c,
        0x550c7dc3d5ffb4e2,
        0x72be5d74f27b896f,
        0x80deb1fe3b1696b1,
        0x9bdc06a725c71235,
        0xc19bf174cf692694,
        0xe49b69c19ef14ad2,
        0xefbe4786384f25e3,
        0x0fc19dc68b8cd5b5,
        0x240ca1cc77ac9c65,
        0x2de92c6f592b0275,
        0x4a7484aa6ea6e483,
        0x5cb0a9dcbd41fbd4,
        0x76f988da831153b5,
        0x983e5152ee66dfab,
        0xa831c66d2db43210,
        0xb00327c898fb213f,
        0xbf597fc7beef0ee4,
        0xc6e00bf33da88fc2,
        0xd5a79147930aa725,
        0x06ca6351e003826f,
        0x142929670a0e6e70,
        0x27b70a8546d22ffc,
        0x2e1b21385c26c926,
        0x4d2c6dfc5ac42aed,
        0x53380d139d95b3df,
        0x650a73548baf63de,
        0x766a0abb3c77b2a8,
        0x81c2c92e47edaee6,
        0x92722c851482353b,
        0xa2bfe8a14cf10364,
        0xa81a664bbc423001,
        0xc24b8b70d0f89791,
        0xc76c51a30654be30,
        0xd192e819d6ef5218,
        0xd69906245565a910,
        0xf40e35855771202a,
        0x106aa07032bbd1b8,
        0x19a4c116b8d2d0c8,
        0x1e376c085141ab53,
        0x2748774cdf8eeb99,
        0x34b0bcb5e19b48a8,
        0x391c0cb3c5c95a63,
        0x4ed8aa4ae3418acb,
        0x5b9cca4f7763e373,
        0x682e6ff3d6b2b8a3,
        0x748f82ee5defb2fc,
        0x78a5636f43172f60,
        0x84c87814a1f0ab72,
        0x8cc702081a6439ec,
        0x90befffa23631e28,
        0xa4506cebde82bde9,
        0xbef9a3f7b2c67915,
        0xc67178f2e372532b,
        0xca273eceea26619c,
        0xd186b8c721c0c207,
        0xeada7dd6cde0eb1e,
        0xf57d4f7fee6ed178,
        0x06f067aa72176fba,
        0x0a637dc5a2c898a6,
        0x113f9804bef90dae,
        0x1b710b35131c471b,
        0x28db77f523047d84,
        0x32caab7b40c72493,
        0x3c9ebe0a15c9bebc,
        0x431d67c49c100d4c,
        0x4cc5d4becb3e42b6,
        0x597f299cfc657e2a,
        0x5fcb6fab3ad6faec,
        0x6c44198c4a475817,
    ];

    #[inline(never)] // one small frame, whatever the caller's depth
    pub(crate) fn compress256_compact(state: &mut [u32; 8], block: &[u8; 64]) {
        let mut w = [0u32; 16];
        for (w, b) in w.iter_mut().zip(block.chunks_exact(4)) {
            *w = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = *state;
        for t in 0..64 {
            if t >= 16 {
                let w15 = w[(t + 1) & 15];
                let w2 = w[(t + 14) & 15];
                let s0 = w15.rotate_right(7) ^ w15.rotate_right(18) ^ (w15 >> 3);
                let s1 = w2.rotate_right(17) ^ w2.rotate_right(19) ^ (w2 >> 10);
                w[t & 15] = w[t & 15]
                    .wrapping_add(s0)
                    .wrapping_add(w[(t + 9) & 15])
                    .wrapping_add(s1);
            }
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = h
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add((K512[t] >> 32) as u32)
                .wrapping_add(w[t & 15]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            h = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (s, v) in state.iter_mut().zip([a, b, c, d, e, f, g, h]) {
            *s = s.wrapping_add(v);
        }
    }

    #[inline(never)] // one small frame, whatever the caller's depth
    pub(crate) fn compress512_compact(state: &mut [u64; 8], block: &[u8; 128]) {
        let mut w = [0u64; 16];
        for (w, b) in w.iter_mut().zip(block.chunks_exact(8)) {
            *w = u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
        }
        let mut v = *state;
        for t in 0..80 {
            if t >= 16 {
                let w15 = w[(t + 1) & 15];
                let w2 = w[(t + 14) & 15];
                let s0 = w15.rotate_right(1) ^ w15.rotate_right(8) ^ (w15 >> 7);
                let s1 = w2.rotate_right(19) ^ w2.rotate_right(61) ^ (w2 >> 6);
                w[t & 15] = w[t & 15]
                    .wrapping_add(s0)
                    .wrapping_add(w[(t + 9) & 15])
                    .wrapping_add(s1);
            }
            let [a, b, c, d, e, f, g, h] = v;
            let s1 = e.rotate_right(14) ^ e.rotate_right(18) ^ e.rotate_right(41);
            let ch = (e & f) ^ (!e & g);
            let t1 = h
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K512[t])
                .wrapping_add(w[t & 15]);
            let s0 = a.rotate_right(28) ^ a.rotate_right(34) ^ a.rotate_right(39);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            v = [
                t1.wrapping_add(s0.wrapping_add(maj)),
                a,
                b,
                c,
                d.wrapping_add(t1),
                e,
                f,
                g,
            ];
        }
        for (s, v) in state.iter_mut().zip(v) {
            *s = s.wrapping_add(v);
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use sha2::Digest;

    /// A deterministic byte stream (xorshift), so a failure can be replayed.
    fn bytes(seed: u64, n: usize) -> std::vec::Vec<u8> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    #[test]
    fn both_compressions_agree_with_the_sha2_crate() {
        for seed in 0..2000u64 {
            let block: [u8; 128] = bytes(seed, 128).try_into().unwrap();
            let (mut a, mut b) = (IV512, IV512);
            compress512_compact(&mut a, &block);
            sha2::compress512(&mut b, &[block.into()]);
            assert_eq!(a, b, "sha512 block {seed}");
            let half: [u8; 64] = block[..64].try_into().unwrap();
            let (mut a, mut b) = (S256::IV, S256::IV);
            compress256_compact(&mut a, &half);
            sha2::compress256(&mut b, &[half.into()]);
            assert_eq!(a, b, "sha256 block {seed}");
        }
    }

    #[test]
    fn digests_agree_with_the_sha2_crate_for_every_length_and_split() {
        for n in (0..300).chain([511, 512, 513, 1000, 4096]) {
            let data = bytes(n as u64 + 7, n);
            for split in [1, 3, 63, 64, 65, 127, 128, 129, 1000] {
                let (mut a, mut b) = (Sha256::new(), Sha512::new());
                for piece in data.chunks(split) {
                    a.update(piece);
                    b.update(piece);
                }
                assert_eq!(
                    a.finish()[..],
                    sha2::Sha256::digest(&data)[..],
                    "sha256 {n}/{split}"
                );
                assert_eq!(
                    b.finish()[..],
                    sha2::Sha512::digest(&data)[..],
                    "sha512 {n}/{split}"
                );
            }
        }
    }
}
