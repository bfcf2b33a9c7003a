//! otuf-core embedded in Cortex-M4 firmware, as an integrator would do it: the complete TUF
//! update check (root chain, timestamp, snapshot, the device's hash bin, the firmware image)
//! without a heap, over a flash slot that holds what a mirror served.
//!
//! ```text
//!   slot (ustar in flash) ──▶ transport (general: whole files | streaming: packets through a
//!                             chunk buffer) ──▶ otuf-core Client, Search, TargetVerifier
//!                                              ──▶ select (custom_str) ──▶ verdict
//! ```
#![no_std]

pub mod board;
pub mod check;
pub mod link;
pub mod select;
pub mod slot;

use check::{Name, Transport, Verdict, Why};
use select::Version;

/// The firmware that runs now (what the device reports as installed).
pub const INSTALLED: Version = Version(1, 0, 0);

/// The whole device program: reads the clock, runs the check through `transport`, reports
/// the verdict and the stack's high-water mark, and exits (success only for a verified image).
pub fn run_device(mode: &str, transport: &mut impl Transport) -> ! {
    let slot = board::slot();
    // The board's real-time clock, simulated: the slot carries the reference time.
    let Some(now) = slot
        .file("now")
        .and_then(seconds)
        .map(otuf_core::time::UnixTime)
    else {
        board::say(&["verdict: refused now: no clock reading in the slot\n"]);
        board::exit(false);
    };
    board::say(&["otuf-core ", mode, " mode: ", check::TARGET, " "]);
    say_version(INSTALLED);
    board::say(&[" on ", check::HARDWARE, "\n"]);
    let mut refresh_stack = 0;
    let mut file = Name::new();
    let result = check::run(
        transport,
        &slot,
        now,
        INSTALLED,
        &mut |what, file, length| {
            if what == "refreshed" {
                // Each phase's own high-water mark: the refresh's now, the search's at the end.
                refresh_stack = board::stack_high_water();
                board::repaint_stack();
            } else {
                board::say(&[what, " ", file, " ("]);
                board::say_number(length as u32);
                board::say(&[" bytes)\n"]);
            }
        },
        &mut file,
    );
    let ok = report(&result, &file);
    let search_stack = board::stack_high_water();
    let n = |n: usize| n as u32;
    board::say(&["stack high-water: "]);
    board::say_number(n(refresh_stack.max(search_stack)));
    board::say(&[" bytes (refresh "]);
    board::say_number(n(refresh_stack));
    board::say(&[", search and image "]);
    board::say_number(n(search_stack));
    board::say(&[")\n"]);
    board::exit(ok);
}

/// Seconds since the epoch, in ASCII digits (white space around them allowed).
fn seconds(text: &[u8]) -> Option<i64> {
    let digits = text.trim_ascii();
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    let n = digits.iter().try_fold(0u64, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0'))
    })?;
    i64::try_from(n).ok()
}

fn say_version(v: select::Version) {
    for (i, n) in [v.0, v.1, v.2].into_iter().enumerate() {
        if i > 0 {
            board::say(&["."]);
        }
        board::say_number(n);
    }
}

fn report(result: &Result<Verdict, Why>, file: &str) -> bool {
    board::say(&["verdict: "]);
    let ok = match result {
        Ok(Verdict::Install { version, length }) => {
            board::say(&["install ", check::TARGET, " "]);
            say_version(*version);
            board::say(&[" over "]);
            say_version(INSTALLED);
            board::say(&[" ("]);
            board::say_number(*length as u32);
            board::say(&[" bytes, length and sha256 verified)"]);
            true
        }
        Ok(Verdict::UpToDate(v)) => {
            board::say(&["up to date (the signed firmware is "]);
            say_version(*v);
            board::say(&[", not newer than "]);
            say_version(INSTALLED);
            board::say(&[")"]);
            true
        }
        Ok(Verdict::NoFirmware) => {
            board::say(&["no firmware for this device"]);
            true
        }
        Err(why) => {
            board::say(&["refused "]);
            why.print(file);
            false
        }
    };
    board::say(&["\n"]);
    ok
}

/// otuf-core never panics on any input; were anything else to, the verdict says so (its
/// message left out: formatting it would take flash for nothing).
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    board::say(&["verdict: panic\n"]);
    board::exit(false)
}
