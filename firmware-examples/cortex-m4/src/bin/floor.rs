//! The footprint floor: what any ed25519 TUF verifier carries whatever its parser, and no TUF.
//! One signature checked with the backend otuf-core uses on this target (salty's curve
//! arithmetic under otuf-core's SHA-512 and reduction mod L on a Cortex-M4; ed25519-compact,
//! incrementally as a streaming verifier must, on a Cortex-M0), and the
//! SHA-256 of the flash slot, read in 256-byte chunks; the same board support as the empty
//! firmware.
#![no_std]
#![no_main]

use otuf_cortex_m4::board;
use sha2::{Digest, Sha256};

/// RFC 8032, section 7.1, test 2: a one-byte message.
const PUBLIC_KEY: [u8; 32] = *b"\x3d\x40\x17\xc3\xe8\x43\x89\x5a\x92\xb7\x0a\xa7\x4d\x1b\x7e\xbc\
\x9c\x98\x2c\xcf\x2e\xc4\x96\x8c\xc0\xcd\x55\xf1\x2a\xf4\x66\x0c";
const SIGNATURE: [u8; 64] = *b"\x92\xa0\x09\xa9\xf0\xd4\xca\xb8\x72\x0e\x82\x0b\x5f\x64\x25\x40\
\xa2\xb2\x7b\x54\x16\x50\x3f\x8f\xb3\x76\x22\x23\xeb\xdb\x69\xda\x08\x5a\xc1\xe4\x3e\x15\x99\x6e\
\x45\x8f\x36\x13\xd0\xf1\x1d\x8c\x38\x7b\x2e\xae\xb4\x30\x2a\xee\xb0\x0d\x29\x16\x12\xbb\x0c\x00";
const MESSAGE: &[u8] = b"\x72";

#[cortex_m_rt::entry]
fn main() -> ! {
    let verified = check();
    // The check's own stack, before anything else runs.
    let check_stack = board::stack_high_water();
    let mut sha256 = Sha256::new();
    for chunk in board::slot().bytes().chunks(256) {
        sha256.update(chunk);
    }
    let digest = sha256.finalize();
    // The digest's first byte, printed the way the empty firmware prints its figures.
    board::say(&[
        "verdict: floor: signature ",
        if verified { "true" } else { "false" },
    ]);
    board::say(&[", slot sha256 byte 0: "]);
    board::say_number(u32::from(digest[0]));
    board::say(&["\nsignature check alone: "]);
    board::say_number(check_stack as u32);
    board::say(&[" bytes of stack\nstack high-water: "]);
    board::say_number(board::stack_high_water() as u32);
    board::say(&[" bytes\n"]);
    board::exit(verified)
}

/// The signature check, its inputs read through `black_box` so none is known to the compiler.
#[cfg(not(salty_device))]
fn check() -> bool {
    use ed25519_compact::{PublicKey, Signature};
    let key = PublicKey::new(core::hint::black_box(PUBLIC_KEY));
    let signature = Signature::new(core::hint::black_box(SIGNATURE));
    key.verify_incremental(&signature).is_ok_and(|mut state| {
        state.absorb(core::hint::black_box(MESSAGE));
        state.verify().is_ok()
    })
}

/// The signature check as otuf-core makes it from salty's curve arithmetic (its own SHA-512
/// and reduction mod L, salty's points and field).
#[cfg(salty_device)]
fn check() -> bool {
    otuf_core::crypto::ed25519::salty_backend::verify_message(
        &core::hint::black_box(PUBLIC_KEY),
        &core::hint::black_box(SIGNATURE),
        core::hint::black_box(MESSAGE),
    )
}
