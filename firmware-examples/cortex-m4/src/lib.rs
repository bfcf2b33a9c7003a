//! otuf-core embedded in Cortex-M4 firmware, as an integrator would do it: the complete TUF
//! update check (root chain, timestamp, snapshot, the device's hash bin, the firmware image)
//! without a heap, over a flash slot that holds what a mirror served.
//!
//! ```text
//!   slot (ustar in flash) ──▶ transport (general: whole files | streaming: packets through a
//!                             chunk buffer) ──▶ otuf-core Client, Search, TargetVerifier
//!                                              ──▶ select (custom via serde-json-core) ──▶ verdict
//! ```
#![no_std]
// No heap to box a refusal into; one is built only on the way out.
#![allow(clippy::result_large_err)]

pub mod board;
pub mod check;
pub mod link;
pub mod select;
pub mod slot;

use check::{Refusal, Transport, Verdict};
use cortex_m_semihosting::hprintln;
use select::Version;

/// The firmware that runs now (what the device reports as installed).
pub const INSTALLED: Version = Version(1, 0, 0);

/// The whole device program: reads the clock, runs the check through `transport`, reports
/// the verdict and the stack's high-water mark, and exits (success only for a verified image).
pub fn run_device(mode: &str, transport: &mut impl Transport) -> ! {
    let slot = board::slot();
    // The board's real-time clock, simulated: the slot carries the reference time.
    let now = slot
        .file("now")
        .and_then(|b| core::str::from_utf8(b).ok())
        .and_then(|s| s.trim_ascii().parse().ok())
        .map(otuf_core::time::UnixTime);
    let Some(now) = now else {
        hprintln!("verdict: refused now: no clock reading in the slot");
        board::exit(false);
    };
    hprintln!(
        "otuf-core {} mode: {} {} on {}",
        mode,
        check::TARGET,
        INSTALLED,
        check::HARDWARE
    );
    let mut refresh_stack = 0;
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
                hprintln!("{} {} ({} bytes)", what, file, length as usize);
            }
        },
    );
    let ok = report(&result);
    let search_stack = board::stack_high_water();
    // otuf-core's state, as laid out on this target (footprint.py reports it).
    use otuf_core::footprint as state;
    hprintln!(
        "state: client {} bytes, search {}, delegations being read {}, streaming verification {} (tokenizer {}, signature checks {})",
        state::CLIENT,
        state::SEARCH,
        state::MATCHES,
        state::STREAM_LEXER + state::VERIFIERS,
        state::STREAM_LEXER,
        state::VERIFIERS
    );
    hprintln!(
        "stack high-water: {} bytes (refresh {}, search and image {})",
        refresh_stack.max(search_stack),
        refresh_stack,
        search_stack
    );
    board::exit(ok);
}

fn report(result: &Result<Verdict, Refusal>) -> bool {
    match result {
        Ok(Verdict::Install { version, length }) => {
            hprintln!(
                "verdict: install {} {} over {} ({} bytes, length and sha256 verified)",
                check::TARGET,
                version,
                INSTALLED,
                *length as usize
            );
            true
        }
        Ok(Verdict::UpToDate(v)) => {
            hprintln!(
                "verdict: up to date (the signed firmware is {}, not newer than {})",
                v,
                INSTALLED
            );
            true
        }
        Ok(Verdict::NoFirmware) => {
            hprintln!("verdict: no firmware for this device");
            true
        }
        Err(refusal) => {
            hprintln!("verdict: refused {}", refusal);
            false
        }
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    hprintln!("verdict: panic: {}", info);
    board::exit(false)
}
