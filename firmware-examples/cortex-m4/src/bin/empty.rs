//! The footprint baseline: the same board support (semihosting, exit, stack measurement) and
//! no otuf-core.
#![no_std]
#![no_main]

use otuf_cortex_m4::board;

#[cortex_m_rt::entry]
fn main() -> ! {
    board::say(&["verdict: empty firmware\nstack high-water: "]);
    board::say_number(board::stack_high_water() as u32);
    board::say(&[" bytes\n"]);
    board::exit(true)
}
