//! General mode: each file is verified whole, read in place from the memory-mapped slot.
#![no_std]
#![no_main]

#[cortex_m_rt::entry]
fn main() -> ! {
    otuf_cortex_m4::run_device("general", &mut otuf_cortex_m4::check::Buffered)
}
