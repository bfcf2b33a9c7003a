//! The two ed25519 backends give the same verdict on the same input: ed25519-compact (hosts)
//! and salty under otuf-core's adapter (devices, feature `salty`). The policy and why each edge
//! case is safe for TUF: src/crypto/ed25519.rs. Inputs: RFC 8032's vectors, every ed25519
//! signature in the committed fixtures (and each one corrupted), 100,000 random signatures
//! (half valid, half mutated in one of nine ways), non-canonical S, and small-order, mixed-order
//! and non-canonical points.

use otuf_core::crypto::ed25519::{compact_verify, salty_backend};
use salty::{CompressedY, EdwardsPoint, Scalar};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Both backends' verdicts, which must agree.
fn verdict(public: &[u8; 32], sig: &[u8; 64], message: &[u8]) -> bool {
    let reference = compact_verify(public, sig, message);
    let device = salty_backend::verify_message(public, sig, message);
    assert_eq!(
        reference,
        device,
        "ed25519-compact says {reference}, salty says {device}: key {}, signature {}, message {}",
        hex(public),
        hex(sig),
        hex(message)
    );
    reference
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes of a hex string, if it is one.
fn decode_hex(s: &str) -> Option<Vec<u8>> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn unhex<const N: usize>(s: &str) -> [u8; N] {
    decode_hex(s).unwrap().try_into().unwrap()
}

fn sha512(parts: &[&[u8]]) -> [u8; 64] {
    use sha2::Digest;
    sha2::Sha512::digest(parts.concat()).into()
}

/// splitmix64: reproducible inputs without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        for b in out.iter_mut() {
            *b = self.next() as u8;
        }
        out
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The group order L, little-endian.
const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// `s + L` (little-endian; S < L, so it fits in 256 bits).
fn plus_l(s: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let v = u16::from(s[i]) + u16::from(L[i]) + carry;
        out[i] = v as u8;
        carry = v >> 8;
    }
    out
}

/// The eight points of order dividing 8, canonically encoded.
const SMALL_ORDER: [&str; 8] = [
    "0100000000000000000000000000000000000000000000000000000000000000", // order 1
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // order 2
    "0000000000000000000000000000000000000000000000000000000000000000", // order 4
    "0000000000000000000000000000000000000000000000000000000000000080", // order 4
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", // order 8
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85", // order 8
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", // order 8
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa", // order 8
];

/// Encodings that are not canonical: y ≥ p, or x = 0 with the sign bit set.
const NON_CANONICAL: [&str; 6] = [
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // y = p (≡ 0)
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // y = p + 1 (≡ 1)
    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // y = 2^255 - 1
    "0100000000000000000000000000000000000000000000000000000000000080", // y = 1, x = 0, sign set
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", // y = p - 1, x = 0, sign set
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", // y = p + 1, sign set
];

fn sign(seed: [u8; 32], message: &[u8]) -> ([u8; 32], [u8; 64]) {
    let pair = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(seed));
    (*pair.pk, *pair.sk.sign(message, None))
}

#[test]
fn rfc8032_vectors() {
    // RFC 8032 §7.1, tests 1, 2, 3 and SHA(abc): (secret, public, message, signature).
    let vectors = [
        (
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            "",
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        ),
        (
            "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            "72",
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
        ),
        (
            "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
            "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
            "af82",
            "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
        ),
        (
            "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
            "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
            "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704",
        ),
    ];
    for (secret, public, message, signature) in vectors {
        let (public, sig, message) = (
            unhex::<32>(public),
            unhex::<64>(signature),
            decode_hex(message).unwrap(),
        );
        // The vector is what ed25519-compact makes from the secret: it is read right.
        assert_eq!(sign(unhex(secret), &message), (public, sig));
        assert!(verdict(&public, &sig, &message), "RFC 8032 vector refused");
        let mut other = message.clone();
        other.push(0);
        assert!(!verdict(&public, &sig, &other));
    }
}

/// Every ed25519 key in the fixture repositories, by key ID (root keys and delegation keys).
fn collect_keys(doc: &serde_json::Value, keys: &mut HashMap<String, [u8; 32]>) {
    let signed = &doc["signed"];
    for map in [&signed["keys"], &signed["delegations"]["keys"]] {
        let Some(map) = map.as_object() else { continue };
        for (id, key) in map {
            let public = key["keyval"]["public"].as_str().unwrap_or("");
            if key["keytype"] == "ed25519" && public.len() == 64 {
                keys.insert(id.clone(), unhex(public));
            }
        }
    }
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

#[test]
fn every_fixture_signature() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
    let mut files = Vec::new();
    json_files(&root, &mut files);
    let docs: Vec<(PathBuf, serde_json::Value)> = files
        .into_iter()
        .filter_map(|p| {
            let v = serde_json::from_slice(&std::fs::read(&p).unwrap()).ok()?;
            Some((p, v))
        })
        .collect();
    let mut keys = HashMap::new();
    for (_, doc) in &docs {
        collect_keys(doc, &mut keys);
    }
    let (mut checked, mut valid) = (0, 0);
    for (path, doc) in &docs {
        let Some(signatures) = doc["signatures"].as_array() else {
            continue;
        };
        let Ok(message) = otuf_core::json::canonicalize(doc["signed"].to_string().as_bytes())
        else {
            continue; // not canonicalizable (a float fixture): no signature over it can verify
        };
        for s in signatures {
            let (Some(id), Some(sig)) = (s["keyid"].as_str(), s["sig"].as_str()) else {
                continue;
            };
            let sig = decode_hex(sig).and_then(|v| <[u8; 64]>::try_from(v).ok());
            let (Some(public), Some(sig)) = (keys.get(id), sig) else {
                continue;
            };
            checked += 1;
            if verdict(public, &sig, &message) {
                valid += 1;
            }
            // Corrupted, in R and in S, and over another message.
            for at in [3, 40] {
                let mut bad = sig;
                bad[at] ^= 0x10;
                assert!(!verdict(public, &bad, &message), "{}", path.display());
            }
            assert!(!verdict(public, &sig, &message[1..]));
        }
    }
    println!("{checked} fixture signatures, {valid} valid");
    assert!(
        checked > 500 && valid > 400,
        "{checked} checked, {valid} valid"
    );
}

/// One random case: valid (`kind` 0) or mutated in one of nine ways.
fn random_case(rng: &mut Rng) -> (u64, bool) {
    let seed = rng.bytes::<32>();
    let len = rng.below(300) as usize;
    let mut message: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
    let (mut public, mut sig) = sign(seed, &message);
    let kind = if rng.below(2) == 0 {
        0
    } else {
        1 + rng.below(9)
    };
    let bit = |rng: &mut Rng, n: u64| (rng.below(n) as usize, 1u8 << rng.below(8));
    match kind {
        0 => {}
        1 => {
            let (i, b) = bit(rng, 32); // R
            sig[i] ^= b;
        }
        2 => {
            let (i, b) = bit(rng, 32); // S
            sig[32 + i] ^= b;
        }
        3 => {
            let (i, b) = bit(rng, 32); // the key
            public[i] ^= b;
        }
        4 => {
            if message.is_empty() {
                message.push(0);
            } else {
                let (i, b) = bit(rng, message.len() as u64);
                message[i] ^= b;
            }
        }
        5 => {
            let s = plus_l(&sig[32..]); // non-canonical S, the same scalar
            sig[32..].copy_from_slice(&s);
        }
        6 => {
            let s: [u8; 32] = rng.bytes(); // any S, most of them ≥ L
            sig[32..].copy_from_slice(&s);
        }
        7 => {
            let p = SMALL_ORDER[rng.below(8) as usize]; // small-order R
            sig[..32].copy_from_slice(&unhex::<32>(p));
        }
        8 => public = unhex(SMALL_ORDER[rng.below(8) as usize]),
        _ => {
            let r: [u8; 32] = rng.bytes(); // R: random bytes, mostly not a point
            sig[..32].copy_from_slice(&r);
        }
    }
    (kind, verdict(&public, &sig, &message))
}

#[test]
fn random_valid_and_mutated_signatures() {
    const CASES: u64 = 100_000;
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
    let counts = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    let mut counts = [[0u64; 2]; 10];
                    for i in (t..CASES).step_by(threads as usize) {
                        let mut rng = Rng(i.wrapping_mul(0x2545_f491_4f6c_dd1d));
                        let (kind, ok) = random_case(&mut rng);
                        counts[kind as usize][usize::from(ok)] += 1;
                    }
                    counts
                })
            })
            .collect();
        let mut all = [[0u64; 2]; 10];
        for w in workers {
            for (a, c) in all.iter_mut().zip(w.join().unwrap()) {
                a[0] += c[0];
                a[1] += c[1];
            }
        }
        all
    });
    println!("(refused, accepted) by mutation: {counts:?}");
    assert_eq!(counts.iter().map(|c| c[0] + c[1]).sum::<u64>(), CASES);
    assert_eq!(counts[0][0], 0, "a valid signature refused");
    assert!(counts[0][1] > CASES / 3);
    // Each kind of mutation ran often, and none verified (with either backend).
    for (kind, c) in counts.iter().enumerate().skip(1) {
        assert!(c[0] > 1000, "mutation {kind} ran {} times", c[0] + c[1]);
        assert_eq!(c[1], 0, "mutation {kind} verified");
    }
}

#[test]
fn non_canonical_s_is_refused() {
    let (public, sig) = sign([5; 32], b"release 1.2.0");
    assert!(verdict(&public, &sig, b"release 1.2.0"));
    let mut high = sig;
    high[32..].copy_from_slice(&plus_l(&sig[32..]));
    assert!(!verdict(&public, &high, b"release 1.2.0"));
    // S = L exactly, and S = 2^256 - 1.
    for s in [L, [0xff; 32]] {
        let mut bad = sig;
        bad[32..].copy_from_slice(&s);
        assert!(!verdict(&public, &bad, b"release 1.2.0"));
    }
}

#[test]
fn small_order_and_non_canonical_points_are_refused() {
    let message = b"firmware/sensor-m4.bin";
    let (public, sig) = sign([9; 32], message);
    for p in SMALL_ORDER.iter().chain(NON_CANONICAL.iter()) {
        let p = unhex::<32>(p);
        // As the key, as R, and both: S = 0 makes [8](S·B − k·A − R) vanish for small-order
        // A and R whatever the message, the forgery a small-order key would allow.
        let mut r = sig;
        r[..32].copy_from_slice(&p);
        let mut zero = [0u8; 64];
        zero[..32].copy_from_slice(&p);
        assert!(!verdict(&p, &sig, message), "key {}", hex(&p));
        assert!(!verdict(&public, &r, message), "R {}", hex(&p));
        assert!(!verdict(&p, &zero, message), "key and R {}, S = 0", hex(&p));
    }
}

/// A key and signature over `message` made by hand from `seed` (RFC 8032 §5.1.6), with a
/// point of order 8 added to A and/or R when asked.
fn crafted(
    seed: [u8; 32],
    a_torsion: bool,
    r_torsion: bool,
    message: &[u8],
) -> ([u8; 32], [u8; 64]) {
    let secret = salty::SecretKey::from(&seed);
    let a = salty::PublicKey::from(&secret);
    let a_scalar = {
        // The clamped secret scalar, as RFC 8032 §5.1.5 expands the seed.
        let h = sha512(&[&seed]);
        let mut s = [0u8; 32];
        s.copy_from_slice(&h[..32]);
        s[0] &= 248;
        s[31] &= 127;
        s[31] |= 64;
        Scalar(s)
    };
    let torsion = CompressedY(unhex(SMALL_ORDER[4])).decompressed().unwrap();
    let base = EdwardsPoint::basepoint();
    let mut big_a = &a_scalar * &base;
    assert_eq!(big_a.compressed().0, a.compressed.0);
    if a_torsion {
        big_a = &big_a + &torsion;
    }
    let r = Scalar::from_u512_le(&sha512(&[&secret.nonce, message]));
    let mut big_r = &r * &base;
    if r_torsion {
        big_r = &big_r + &torsion;
    }
    let (a_enc, r_enc) = (big_a.compressed().0, big_r.compressed().0);
    let k = Scalar::from_u512_le(&sha512(&[&r_enc, &a_enc, message]));
    let s = &r + &(&k * &a_scalar);
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&r_enc);
    sig[32..].copy_from_slice(&s.to_bytes());
    (a_enc, sig)
}

#[test]
fn mixed_order_points_follow_the_cofactored_equation() {
    let message = b"targets.json";
    // No torsion: an ordinary signature, made by hand the way RFC 8032 does.
    let (public, sig) = crafted([3; 32], false, false, message);
    assert_eq!((public, sig), sign([3; 32], message));
    assert!(verdict(&public, &sig, message));
    // A torsion component in R or A: S·B − k·A − R is then a point of order 8, which the
    // cofactored equation ([8]·) clears. Both backends accept it; only the holder of the
    // private key can make it, so it gains a forger nothing.
    for (a_t, r_t) in [(false, true), (true, false), (true, true)] {
        let (public, sig) = crafted([3; 32], a_t, r_t, message);
        assert!(
            verdict(&public, &sig, message),
            "torsion in A {a_t}, in R {r_t}"
        );
    }
}
