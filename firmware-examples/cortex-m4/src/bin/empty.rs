//! The footprint baseline: the same board support (semihosting, exit, stack measurement) and
//! no otuf-core.
#![no_std]
#![no_main]

use cortex_m_semihosting::hprintln;
use otuf_cortex_m4::board;

#[cortex_m_rt::entry]
fn main() -> ! {
    hprintln!("verdict: empty firmware");
    hprintln!("stack high-water: {} bytes", board::stack_high_water());
    board::exit(true)
}
